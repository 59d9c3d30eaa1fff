"""Shared helpers of the GPU tests: skip when no WebGPU adapter exists at all.

On CI and dev machines without a GPU the software Vulkan adapter (lavapipe, from
mesa-vulkan-drivers) is present, so these tests run there; they are sized for it (~1000x slower
than a GPU): small and awkward shapes only.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences the Vulkan loader on headless hosts

wgpu = pytest.importorskip("wgpu")


def _has_adapter() -> bool:
    from backends.gpu.device import _all_adapters

    try:
        return bool(_all_adapters())
    except Exception:
        return False


requires_adapter = pytest.mark.skipif(
    not _has_adapter(), reason="no WebGPU adapter (install mesa-vulkan-drivers for lavapipe)"
)


def fits(variant):
    """Whether the variant's workgroup memory fits this adapter (the software adapter's 32 KiB
    does not hold b128k16's double-buffered tiles); the pipeline cache refuses it otherwise."""
    from backends.gpu.device import get_device
    from kernels import registry, wgsl

    v = registry.matmul_variant(variant)
    if not v.kernel:
        return True
    limit = get_device().limits.get("max-compute-workgroup-storage-size", 16384)
    consts = {**registry.kernel(v.kernel).constants, **v.constants}
    return wgsl.kernel_workgroup_bytes(v.kernel, consts) <= limit
