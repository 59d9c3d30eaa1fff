"""Adapter choice, device creation and the adapter's self-description.

Preference: discrete GPU > integrated GPU > anything else > software (adapter type CPU); within a
type, Vulkan/Metal/D3D12 before OpenGL. ``adapter=`` (a substring of the adapter's name) or the
environment variable WGPU_ADAPTER picks one explicitly. One device per (adapter, features) is
shared by every backend in the process, so pipelines compile once per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import wgpu

from backends.base import BackendError
from backends.host import is_software

ENV_ADAPTER = "WGPU_ADAPTER"
_TYPE_RANK = {"DiscreteGPU": 0, "IntegratedGPU": 1, "VirtualGPU": 2, "Unknown": 3, "CPU": 4}
_BACKEND_RANK = {"Vulkan": 0, "Metal": 0, "D3D12": 0, "OpenGL": 1, "GL": 1}
# Limits raised to what the adapter offers (the WebGPU defaults are far below a real GPU's).
_RAISED_LIMITS = (
    "max-storage-buffer-binding-size",
    "max-buffer-size",
    "max-compute-workgroup-storage-size",
    "max-storage-buffers-per-shader-stage",
    "max-compute-invocations-per-workgroup",
    "max-compute-workgroup-size-x",
    "max-compute-workgroup-size-y",
)

_adapters: list | None = None
_devices: dict[tuple, Device] = {}


def _name(adapter) -> str:
    info = adapter.info
    return info.get("device") or info.get("description") or "?"


def _all_adapters() -> list:
    global _adapters
    if _adapters is None:
        _adapters = list(wgpu.gpu.enumerate_adapters_sync())
    return _adapters


def choose_adapter(name: str | None = None):
    """The adapter to use: by name substring (argument, then $WGPU_ADAPTER), else the best type."""
    adapters = _all_adapters()
    if not adapters:
        raise BackendError(
            "no WebGPU adapter found: install a GPU driver with Vulkan/Metal/D3D12 support, or the "
            "software Vulkan adapter (Debian/Ubuntu: apt install mesa-vulkan-drivers)"
        )
    wanted = name if name is not None else os.environ.get(ENV_ADAPTER) or None
    if wanted is not None:
        hits = [a for a in adapters if wanted.lower() in _name(a).lower()]
        if not hits:
            known = "; ".join(f"{_name(a)} ({a.info.get('backend_type')})" for a in adapters)
            where = "adapter=" if name is not None else f"${ENV_ADAPTER}="
            raise BackendError(f"no adapter matches {where}{wanted!r}; available: {known}")
        adapters = hits

    def rank(a) -> tuple[int, int]:
        info = a.info
        return (
            _TYPE_RANK.get(info.get("adapter_type"), 3),
            _BACKEND_RANK.get(info.get("backend_type"), 2),
        )

    return min(adapters, key=rank)


@dataclass
class Device:
    """A wgpu device with what the backend needs to know about it."""

    adapter: Any
    device: Any
    features: frozenset[str]
    limits: dict[str, int]

    @property
    def software(self) -> bool:
        return adapter_info(self.adapter)["software"]

    def info(self) -> dict[str, Any]:
        return adapter_info(self.adapter)


def adapter_info(adapter: Any) -> dict[str, Any]:
    """What names an adapter in results: name, vendor, type, backend, driver, software flag."""
    info = adapter.info
    out = {
        "adapter": _name(adapter),
        "vendor": info.get("vendor") or f"0x{info.get('vendor_id', 0):04x}",
        "adapter_type": info.get("adapter_type"),
        "backend": info.get("backend_type"),
        "driver": info.get("description") or "",
        "wgpu_version": wgpu.__version__,
    }
    out["software"] = is_software(out)  # the one rule, shared with the harness's adapter list
    return out


def get_device(adapter_name: str | None = None, want_timestamps: bool = False) -> Device:
    """The shared device for the chosen adapter (created on first use)."""
    adapter = choose_adapter(adapter_name)
    feats = set()
    if want_timestamps and "timestamp-query" in adapter.features:
        feats.add("timestamp-query")
    if "subgroup" in adapter.features:  # kernels' subgroup twins (registry.compiled_row)
        feats.add("subgroup")
    key = (id(adapter), frozenset(feats))
    if key not in _devices:
        limits = {k: adapter.limits[k] for k in _RAISED_LIMITS if k in adapter.limits}
        dev = adapter.request_device_sync(
            label="gpt-curves", required_features=sorted(feats), required_limits=limits
        )
        _devices[key] = Device(adapter, dev, frozenset(feats), dict(dev.limits))
    return _devices[key]
