"""Compute pipelines built from registry rows, compiled once per (device, kernel, constants).

The bind-group layout of every pipeline is derived here, and only here, from the binding
declarations of the kernel's own WGSL (``kernels.wgsl.bindings``): a ``var<storage, read>``
becomes a read-only-storage entry, so a read buffer is never bound read-write. ``bind`` checks a
dispatch's views against that layout before wgpu sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import wgpu

from backends.base import BackendError
from backends.gpu.buffers import View
from backends.gpu.trusted import create_module
from kernels import registry, wgsl

_BTYPE = {
    "uniform": wgpu.BufferBindingType.uniform,
    "read": wgpu.BufferBindingType.read_only_storage,
    "read_write": wgpu.BufferBindingType.storage,
}


@dataclass
class Compiled:
    """A pipeline and what is needed to bind and launch it."""

    kernel: registry.Kernel
    constants: dict[str, int]
    pipeline: object
    layout: object
    bindings: list[wgsl.Binding]
    fields: list[tuple[str, str]]

    def pack_uniform(self, values: dict) -> bytes:
        """The uniform struct filled by field name from ``values`` (a superset is fine)."""
        missing = [n for n, _ in self.fields if n not in values]
        if missing:
            raise BackendError(f"kernel {self.kernel.name}: uniform field(s) {missing} not given")
        dtypes = {"u32": np.uint32, "i32": np.int32, "f32": np.float32}
        out = b"".join(np.array(values[n], dtypes[t]).tobytes() for n, t in self.fields)
        return out + b"\0" * (-len(out) % 16)


class Pipelines:
    """Cache of compiled kernels for one device."""

    def __init__(self, dev) -> None:
        self.dev = dev
        self._cache: dict[tuple, Compiled] = {}
        self._modules: dict[str, object] = {}

    def get(self, name: str, constants: dict[str, int] | None = None) -> Compiled:
        try:
            consts = registry.check_constants(name, constants or {})
        except registry.VariantError as e:
            raise BackendError(str(e)) from None
        key = (name, tuple(sorted(consts.items())))
        if key in self._cache:
            return self._cache[key]
        k = registry.kernel(name)
        row = registry.compiled_row(name, consts)  # the row itself or its subgroup twin
        missing = [f for f in row.features if f not in self.dev.features]
        if missing:
            raise BackendError(f"kernel {row.name} needs feature(s) {missing}, not on this device")
        limit = self.dev.limits.get("max-compute-workgroup-storage-size", 16384)
        need = wgsl.kernel_workgroup_bytes(row.name, consts)  # read from the WGSL declarations
        if need > limit:
            raise BackendError(
                f"kernel {row.name} needs {need} bytes of workgroup memory; "
                f"device limit max-compute-workgroup-storage-size is {limit}"
            )
        src = wgsl.source(row.name)
        device = self.dev.device
        if row.name not in self._modules:
            self._modules[row.name], _ = create_module(device, row.name, src, row.trusted)
        binds = wgsl.bindings(src)
        entries = [
            {
                "binding": b.index,
                "visibility": wgpu.ShaderStage.COMPUTE,
                "buffer": {"type": _BTYPE[b.kind]},
            }
            for b in binds
        ]
        label = f"{name}{dict(sorted(consts.items())) if consts else ''}"
        layout = device.create_bind_group_layout(label=label, entries=entries)
        pl_layout = device.create_pipeline_layout(label=label, bind_group_layouts=[layout])
        pipeline = device.create_compute_pipeline(
            label=label,
            layout=pl_layout,
            compute={
                "module": self._modules[row.name],
                "entry_point": k.entry,
                "constants": {n: float(v) for n, v in consts.items()},
            },
        )
        c = Compiled(k, consts, pipeline, layout, binds, wgsl.uniform_fields(src))
        self._cache[key] = c
        return c

    def bind(
        self,
        c: Compiled,
        views: dict[str, View],
        dummies: dict[str, View],
        label: str,
        strict: bool = False,
    ):
        """A bind group for ``c`` from views by binding name (extras ignored unless ``strict``)."""
        names = {b.name for b in c.bindings}
        if strict and set(views) - names:
            raise BackendError(
                f"{label}: kernel {c.kernel.name} has no binding(s) "
                f"{sorted(set(views) - names)}; it has {sorted(names)}"
            )
        entries, read_bufs, rw_bufs = [], {}, {}
        for b in c.bindings:
            v = views.get(b.name, views.get(c.kernel.aliases.get(b.name, "")))
            if v is None:
                if b.name not in c.kernel.optional:
                    raise BackendError(f"{label}: binding {b.name} of {c.kernel.name} not given")
                v = dummies[b.kind]
            (rw_bufs if b.kind == "read_write" else read_bufs)[id(v.buffer)] = (b.name, v.label)
            entries.append(
                {
                    "binding": b.index,
                    "resource": {"buffer": v.buffer, "offset": v.offset, "size": v.size},
                }
            )
        clash = set(read_bufs) & set(rw_bufs)
        if clash:
            i = clash.pop()
            raise BackendError(
                f"{label}: buffer {rw_bufs[i][1]} bound read-write as "
                f"{rw_bufs[i][0]} and read-only as {read_bufs[i][0]}"
            )
        return self.dev.device.create_bind_group(label=label, layout=c.layout, entries=entries)


_per_device: dict[int, Pipelines] = {}


def pipelines_for(dev) -> Pipelines:
    """The process-wide pipeline cache of ``dev``."""
    if id(dev) not in _per_device:
        _per_device[id(dev)] = Pipelines(dev)
    return _per_device[id(dev)]
