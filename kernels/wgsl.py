"""WGSL assembly and reflection: a kernel's source with its includes, and what it declares.

Bindings and uniform layouts are read from the assembled WGSL rather than written down in the
registry, so a bind-group layout can never disagree with its shader (a ``read`` buffer is never
bound read-write).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kernels.registry import KERNEL_DIR, kernel


def source(name: str) -> str:
    """The WGSL of kernel ``name``: shared pieces, then the kernel file."""
    k = kernel(name)
    parts = [(KERNEL_DIR / f).read_text() for f in (*k.includes, k.file)]
    return "\n".join(parts)


_BINDING = re.compile(
    r"@group\(0\)\s*@binding\((\d+)\)\s*var<(uniform|storage)(?:\s*,\s*(read_write|read))?>"
    r"\s*(\w+)\s*:\s*([\w<>]+)"
)
_STRUCT = re.compile(r"struct\s+(\w+)\s*\{([^}]*)\}")
_FIELD = re.compile(r"(\w+)\s*:\s*(u32|f32|i32)\s*,?")


@dataclass(frozen=True)
class Binding:
    index: int
    name: str
    kind: str  # "uniform", "read" or "read_write"
    type: str


def bindings(wgsl: str) -> list[Binding]:
    """The group-0 bindings declared in ``wgsl``, in binding order (the one source of layouts)."""
    out = []
    for idx, space, access, name, typ in _BINDING.findall(wgsl):
        kind = "uniform" if space == "uniform" else (access or "read")
        out.append(Binding(int(idx), name, kind, typ))
    return sorted(out, key=lambda b: b.index)


def uniform_fields(wgsl: str) -> list[tuple[str, str]]:
    """Fields (name, scalar type) of the struct bound as the uniform; 4 bytes each, in order."""
    uni = [b for b in bindings(wgsl) if b.kind == "uniform"]
    if not uni:
        return []
    structs = {m.group(1): m.group(2) for m in _STRUCT.finditer(wgsl)}
    return _FIELD.findall(structs[uni[0].type])


def overrides(wgsl: str) -> set[str]:
    """Names of the ``override`` constants declared in ``wgsl``."""
    return set(re.findall(r"\boverride\s+(\w+)\s*:", wgsl))
