"""Shader modules without naga's runtime checks, for kernels whose indices are in range by design.

naga guards every array access (index clamping on storage and workgroup arrays) and bounds every
loop with an extra counter, unless a module is created "trusted" (wgpu-native's
``wgpuDeviceCreateShaderModuleTrusted``, not wrapped by wgpu-py). A registry row marks a kernel
``trusted`` only where every global access is guarded by the kernel's own shape tests and every
workgroup index is in range by construction; its parity tests (NaN-poisoned outputs on awkward
shapes) run through the same path. Where the entry point is missing, the checked module is used.
"""

from __future__ import annotations

from typing import Any

RUNTIME_CHECKS_NONE = 0  # WGPUShaderRuntimeChecks_None


def create_module(device: Any, label: str, code: str, trusted: bool) -> tuple[Any, bool]:
    """(shader module, whether it was created without runtime checks)."""
    if trusted:
        try:
            return _trusted(device, label, code), True
        except (ImportError, AttributeError):
            pass
    return device.create_shader_module(label=label, code=code), False


def _trusted(device: Any, label: str, code: str) -> Any:
    from wgpu.backends.wgpu_native import _api
    from wgpu.backends.wgpu_native._ffi import ffi, lib

    create = lib.wgpuDeviceCreateShaderModuleTrusted
    source = _api.new_struct_p("WGPUShaderSourceWGSL *", code=_api.to_c_string_view(code))
    source[0].chain.next = ffi.NULL
    source[0].chain.sType = lib.WGPUSType_ShaderSourceWGSL
    desc = _api.new_struct_p(
        "WGPUShaderModuleDescriptor *",
        nextInChain=ffi.cast("WGPUChainedStruct *", source),
        label=_api.to_c_string_view(label),
    )
    handle = create(device._internal, desc, RUNTIME_CHECKS_NONE)
    if handle == ffi.NULL:
        raise RuntimeError(f"shader module {label} could not be created")
    return _api.GPUShaderModule(label, handle, device)
