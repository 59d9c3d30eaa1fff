"""The vendor baseline for matmuls: cuBLAS SGEMM through ``torch.matmul`` on the same GPU.

float32 with TF32 off (``torch.backends.cuda.matmul.allow_tf32 = False``), timed with CUDA events
around a batch of calls after a warm-up, in the three forms of the step (``nn`` A @ B, ``nt``
A @ B^T, ``tn`` A^T @ B, the transposes as views, as cuBLAS takes them). torch is imported only
when asked; without torch or without CUDA every answer is ``None``.
"""

from __future__ import annotations

from typing import Any


def _torch() -> Any | None:
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def available() -> bool:
    return _torch() is not None


def device_name() -> str | None:
    torch = _torch()
    return torch.cuda.get_device_name() if torch is not None else None


def matmul_seconds(form: str, M: int, N: int, K: int, repeats: int = 20,
                   rounds: int = 5) -> float | None:
    """Median seconds of one cuBLAS call C[M, N] = op(A) @ op(B) in ``form``; None without CUDA."""
    torch = _torch()
    if torch is None:
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn((K, M) if form == "tn" else (M, K), device=dev, generator=g)
    b = torch.randn((N, K) if form == "nt" else (K, N), device=dev, generator=g)
    A = a.t() if form == "tn" else a
    B = b.t() if form == "nt" else b
    out = torch.empty((M, N), device=dev)
    for _ in range(3):
        torch.matmul(A, B, out=out)
    torch.cuda.synchronize()
    times = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            torch.matmul(A, B, out=out)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3 / repeats)
    times.sort()
    return times[len(times) // 2]
