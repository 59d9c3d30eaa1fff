"""The GPU backend (WGSL kernels through wgpu) and a kernel-level test API."""

from backends.gpu.backend import GpuBackend
from backends.gpu.testing import run_attention, run_kernel, run_matmul

__all__ = ["GpuBackend", "run_attention", "run_kernel", "run_matmul"]
