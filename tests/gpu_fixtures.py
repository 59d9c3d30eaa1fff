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
