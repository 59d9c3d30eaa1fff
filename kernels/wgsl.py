"""WGSL assembly and reflection: a kernel's source with its includes, and what it declares.

Bindings and uniform layouts are read from the assembled WGSL rather than written down in the
registry, so a bind-group layout can never disagree with its shader (a ``read`` buffer is never
bound read-write).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from kernels.registry import KERNEL_DIR, kernel


def source(name: str) -> str:
    """The WGSL of kernel ``name``: shared pieces, then the kernel file, with every ``override``
    declaration moved to the top (``hoist_overrides``)."""
    k = kernel(name)
    parts = [(KERNEL_DIR / f).read_text() for f in (*k.includes, k.file)]
    return hoist_overrides("\n".join(parts))


_OVERRIDE_LINE = re.compile(r"^override\s.*;.*$", re.M)


def hoist_overrides(wgsl: str) -> str:
    """``wgsl`` with its one-line module-scope ``override`` declarations first, in their order.

    WGSL's module scope has no order, but naga 29's override processing (wgpu 0.32) panics
    ("handlevec.rs:66", an aborted process, not an error) on some declaration orders. One that
    does: an override declared after a workgroup array sized by an override expression and used
    only in functions, not in an earlier override's initializer. The tile kernels' cores come
    after the staging that declares those arrays, so a core could not add such an override
    (results/h200/s9/README.md)."""
    lines = _OVERRIDE_LINE.findall(wgsl)
    if not lines:
        return wgsl
    rest = _OVERRIDE_LINE.sub("", wgsl)
    return "\n".join(lines) + "\n" + rest


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


_OVERRIDE = re.compile(r"\boverride\s+(\w+)\s*:\s*\w+\s*(?:=\s*([^;]+))?;")
_WORKGROUP = re.compile(r"var<workgroup>\s+\w+\s*:\s*([^;]+);")
_SCALAR_BYTES = {"f32": 4, "u32": 4, "i32": 4, "f16": 2}


def _eval(expr: str, names: dict[str, int]) -> int:
    """An integer WGSL constant expression of literals, names and + - * / ( )."""
    node = ast.parse(re.sub(r"(\d+)[ui]\b", r"\1", expr.strip()), mode="eval").body

    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.Name):
            return names[n.id]
        if isinstance(n, ast.BinOp):
            x, y = ev(n.left), ev(n.right)
            ops = {ast.Add: x + y, ast.Sub: x - y, ast.Mult: x * y}
            if isinstance(n.op, ast.Div):
                return x // y
            return ops[type(n.op)]
        raise ValueError(f"not a constant expression: {expr!r}")

    return ev(node)


def override_values(wgsl: str, constants: dict[str, int] | None = None) -> dict[str, int]:
    """Every ``override`` constant's value: ``constants`` where given, else its default (which may
    name other overrides, declared before or after it: WGSL's module scope has no order)."""
    given = dict(constants or {})
    overrides = _OVERRIDE.findall(wgsl)
    out: dict[str, int] = {n: int(v) for n, v in given.items()}
    todo = [(n, d) for n, d in overrides if n not in given and d]
    consts = _consts(wgsl)
    while todo:
        left = []
        for name, default in todo:
            try:
                out[name] = _eval(default, {**out, **consts})
            except KeyError:
                left.append((name, default))
        if len(left) == len(todo):
            raise ValueError(f"override defaults name undeclared constants: {left}")
        todo = left
    declared = {n for n, _ in overrides}
    return {n: v for n, v in out.items() if n in declared}


def _consts(wgsl: str) -> dict[str, int]:
    return {n: int(v) for n, v in re.findall(r"\bconst\s+(\w+)\s*:\s*\w+\s*=\s*(\d+)[ui]?\s*;",
                                             wgsl)}


def _type_bytes(typ: str, names: dict[str, int]) -> int:
    typ = typ.strip()
    if typ in _SCALAR_BYTES:
        return _SCALAR_BYTES[typ]
    m = re.fullmatch(r"vec(\d)<(\w+)>", typ)
    if m:
        return int(m.group(1)) * _SCALAR_BYTES[m.group(2)]
    m = re.fullmatch(r"array<(.+),\s*([^,<>]+)>", typ)
    if m:
        return _type_bytes(m.group(1), names) * _eval(m.group(2), names)
    raise ValueError(f"cannot size workgroup type {typ!r}")


def workgroup_bytes(wgsl: str, constants: dict[str, int] | None = None) -> int:
    """Bytes of workgroup memory ``wgsl`` declares with these override constants (read from the
    declarations, so it is never computed by hand)."""
    names = {**_consts(wgsl), **override_values(wgsl, constants), **(constants or {})}
    return sum(_type_bytes(t, names) for t in _WORKGROUP.findall(wgsl))


def kernel_workgroup_bytes(name: str, constants: dict[str, int] | None = None) -> int:
    """Workgroup memory of kernel ``name``: its own file and includes, plus the reduction scratch of
    ``include/common.wgsl`` only when they call its workgroup reductions (an unused workgroup
    variable is not allocated)."""
    k = kernel(name)
    common = "include/common.wgsl"
    own = "\n".join((KERNEL_DIR / f).read_text() for f in (*k.includes, k.file) if f != common)
    total = workgroup_bytes(own, override_values(source(name), constants))
    if common in k.includes and re.search(r"\bwg_(sum|max)\s*\(", own):
        total += workgroup_bytes((KERNEL_DIR / common).read_text())
    return total
