"""The vendor peer of the attention micro-benchmark: PyTorch's scaled_dot_product_attention.

Same work as one attention variant's case in ``bench.kernel_bench``: causal multi-head attention
forward + backward in float32 on q, k, v of shape (B, H, T, head_dim), TF32 off, timed with CUDA
events around ``repeats`` back-to-back repetitions on the same GPU in the same run. Autograd here
is the vendor's, a baseline in a benchmark only; the product has none.

torch is imported lazily: without torch, or without a CUDA device, ``sdpa_seconds`` returns None
and the rows carry no vendor figure.
"""

from __future__ import annotations

from typing import Any

from bench.timing import summarize

ROUNDS = 7  # event-timed batches; the median per repetition is reported


def cuda_torch() -> Any | None:
    """torch, when it is importable and sees a CUDA device; else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def sdpa_seconds(B: int, H: int, T: int, hd: int, repeats: int = 10) -> dict[str, Any] | None:
    """Median seconds of one SDPA forward + backward and of the forward alone (CUDA events).

    Returns {"seconds", "ci_low_s", "ci_high_s", "fwd_s", "vendor"} or None without torch+CUDA.
    """
    torch = cuda_torch()
    if torch is None:
        return None
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 FMA, like the WGSL kernels
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(0)
    q, k, v = (torch.randn(B, H, T, hd, device=dev, generator=gen, dtype=torch.float32)
               .requires_grad_() for _ in range(3))
    dout = torch.randn(B, H, T, hd, device=dev, generator=gen, dtype=torch.float32)

    def forward():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def both():
        q.grad = k.grad = v.grad = None
        forward().backward(dout)

    def timed(fn) -> list[float]:
        fn()  # warm-up: kernel selection, allocator
        torch.cuda.synchronize()
        out = []
        for _ in range(ROUNDS):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeats):
                fn()
            end.record()
            end.synchronize()
            out.append(start.elapsed_time(end) * 1e-3 / repeats)
        return out

    m = summarize(timed(both))
    with torch.no_grad():
        fwd = summarize(timed(forward))
    return {"seconds": m.median_s, "ci_low_s": m.ci_low_s, "ci_high_s": m.ci_high_s,
            "fwd_s": fwd.median_s,
            "vendor": f"torch {torch.__version__} SDPA on {torch.cuda.get_device_name(dev)}"}
