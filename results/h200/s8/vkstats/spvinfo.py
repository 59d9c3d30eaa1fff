"""A tiny SPIR-V reader: entry points, workgroup size and descriptor bindings of a compute module.

Enough to build a pipeline layout for a naga-made module without any reflection library.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field

MAGIC = 0x07230203

# opcodes
OP_ENTRY_POINT, OP_EXECUTION_MODE, OP_DECORATE = 15, 16, 71
OP_TYPE_ARRAY, OP_TYPE_RUNTIME_ARRAY, OP_TYPE_POINTER, OP_VARIABLE = 28, 29, 32, 59
# decorations, execution modes, storage classes
DEC_BUFFER_BLOCK, DEC_BINDING, DEC_DESCRIPTOR_SET = 3, 33, 34
MODE_LOCAL_SIZE = 17
SC_UNIFORM, SC_STORAGE_BUFFER = 2, 12


@dataclass
class SpvBinding:
    """One buffer resource: descriptor set, binding and kind ("uniform" or "storage")."""

    set: int
    binding: int
    kind: str


@dataclass
class SpvInfo:
    """What a compute pipeline needs from a module, plus a few facts worth recording."""

    version: str
    entry_points: list[str] = field(default_factory=list)
    workgroup_size: list[int] | None = None
    bindings: list[SpvBinding] = field(default_factory=list)
    words: int = 0

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def _string(words: tuple[int, ...]) -> str:
    raw = b"".join(struct.pack("<I", w) for w in words)
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def read(code: bytes) -> SpvInfo:
    """Parse a SPIR-V binary (little-endian words, as naga writes it)."""
    n = len(code) // 4
    words = struct.unpack(f"<{n}I", code[: n * 4])
    if not words or words[0] != MAGIC:
        raise ValueError("not a SPIR-V module (bad magic)")
    ver = words[1]
    info = SpvInfo(version=f"{(ver >> 16) & 0xFF}.{(ver >> 8) & 0xFF}", words=n)
    sets: dict[int, int] = {}
    binds: dict[int, int] = {}
    buffer_block: set[int] = set()
    pointee: dict[int, int] = {}
    element: dict[int, int] = {}
    variables: dict[int, tuple[int, int]] = {}  # id -> (storage class, pointer type)
    i = 5
    while i < n:
        count, op = words[i] >> 16, words[i] & 0xFFFF
        if count == 0:
            raise ValueError(f"malformed instruction at word {i}")
        a = words[i + 1 : i + count]
        if op == OP_ENTRY_POINT:
            info.entry_points.append(_string(a[2:]))
        elif op == OP_EXECUTION_MODE and a[1] == MODE_LOCAL_SIZE:
            info.workgroup_size = list(a[2:5])
        elif op == OP_DECORATE:
            if a[1] == DEC_DESCRIPTOR_SET:
                sets[a[0]] = a[2]
            elif a[1] == DEC_BINDING:
                binds[a[0]] = a[2]
            elif a[1] == DEC_BUFFER_BLOCK:
                buffer_block.add(a[0])
        elif op == OP_TYPE_POINTER:
            pointee[a[0]] = a[2]
        elif op in (OP_TYPE_ARRAY, OP_TYPE_RUNTIME_ARRAY):
            element[a[0]] = a[1]
        elif op == OP_VARIABLE:
            variables[a[1]] = (a[2], a[0])
        i += count
    for vid, (sc, ptr) in variables.items():
        if vid not in binds or sc not in (SC_UNIFORM, SC_STORAGE_BUFFER):
            continue
        t = pointee.get(ptr, -1)
        while t in element:  # binding arrays: look at the block type
            t = element[t]
        storage = sc == SC_STORAGE_BUFFER or t in buffer_block
        info.bindings.append(SpvBinding(sets.get(vid, 0), binds[vid],
                                        "storage" if storage else "uniform"))
    info.bindings.sort(key=lambda b: (b.set, b.binding))
    return info
