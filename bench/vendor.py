"""The vendor peers of the kernel micro-benchmarks, on the same GPU in the same run.

cuBLAS SGEMM through ``torch.matmul`` (the three forms of the step: ``nn`` A @ B, ``nt`` A @ B^T,
``tn`` A^T @ B, the transposes as views, as cuBLAS takes them) and PyTorch's
``scaled_dot_product_attention`` (causal multi-head attention forward + backward on q, k, v of
shape (B, H, T, head_dim)): float32 with TF32 off, like the WGSL kernels' FMA arithmetic, timed
with CUDA events around batches of back-to-back calls after a warm-up. Autograd here is the
vendor's, a baseline in a benchmark only; the product has none.

torch is imported lazily: without torch, or without a CUDA device, every answer is None and the
rows carry no vendor figure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.timing import summarize

ROUNDS = 7  # event-timed batches; the median per repetition is reported


def cuda_torch() -> Any | None:
    """torch, when it is importable and sees a CUDA device; else None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 FMA, like the WGSL kernels
    torch.backends.cudnn.allow_tf32 = False
    return torch


def available() -> bool:
    return cuda_torch() is not None


def device_name() -> str | None:
    torch = cuda_torch()
    return torch.cuda.get_device_name() if torch is not None else None


def event_seconds(torch: Any, fn: Callable[[], Any], repeats: int, rounds: int = ROUNDS,
                  warmup: int = 1) -> list[float]:
    """Seconds per call of ``fn`` in each of ``rounds`` CUDA-event-timed batches of ``repeats``
    (after ``warmup`` calls: kernel selection, allocator)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end) * 1e-3 / repeats)
    return out


def matmul_seconds(form: str, M: int, N: int, K: int, repeats: int = 20,
                   rounds: int = 5) -> float | None:
    """Median seconds of one cuBLAS call C[M, N] = op(A) @ op(B) in ``form``; None without CUDA."""
    torch = cuda_torch()
    if torch is None:
        return None
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn((K, M) if form == "tn" else (M, K), device=dev, generator=g)
    b = torch.randn((N, K) if form == "nt" else (K, N), device=dev, generator=g)
    A = a.t() if form == "tn" else a
    B = b.t() if form == "nt" else b
    out = torch.empty((M, N), device=dev)
    times = sorted(event_seconds(torch, lambda: torch.matmul(A, B, out=out), repeats, rounds,
                                 warmup=3))
    return times[len(times) // 2]


def sdpa_seconds(B: int, H: int, T: int, hd: int, repeats: int = 10) -> dict[str, Any] | None:
    """Median seconds of one SDPA forward + backward and of the forward alone (CUDA events).

    Returns {"seconds", "ci_low_s", "ci_high_s", "fwd_s", "vendor"} or None without torch+CUDA.
    """
    torch = cuda_torch()
    if torch is None:
        return None
    import torch.nn.functional as F

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

    m = summarize(event_seconds(torch, both, repeats))
    with torch.no_grad():
        fwd = summarize(event_seconds(torch, forward, repeats))
    return {"seconds": m.median_s, "ci_low_s": m.ci_low_s, "ci_high_s": m.ci_high_s,
            "fwd_s": fwd.median_s,
            "vendor": f"torch {torch.__version__} SDPA on {torch.cuda.get_device_name(dev)}"}
