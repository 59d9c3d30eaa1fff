"""GPU buffers: named allocations made once per config, views into them, the flat parameter layout.

A ``View`` is (buffer, byte offset, byte size): what a storage binding points at. Parameters,
gradients and the two Adam moments are each ONE flat buffer in the canonical order of
``bench.model.param_shapes``; each tensor starts at a multiple of ``ALIGN`` floats (256 bytes, the
largest storage-offset alignment WebGPU allows a device to ask for), and the padding stays zero
(zero gradient, zero moments: AdamW leaves it at zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import wgpu

ALIGN = 64  # floats: 256 bytes

STORAGE = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST


def aligned(n: int, align: int = ALIGN) -> int:
    return -(-n // align) * align


@dataclass(frozen=True)
class View:
    """A byte range of one buffer, as bound to one binding."""

    buffer: object
    offset: int
    size: int

    @property
    def label(self) -> str:
        return getattr(self.buffer, "label", "?")


class FlatLayout:
    """Offsets (in floats) of named tensors packed in order, each aligned to ``ALIGN`` floats."""

    def __init__(self, shapes: dict[str, tuple[int, ...]]) -> None:
        self.shapes = dict(shapes)
        self.offsets: dict[str, int] = {}
        pos = 0
        for name, shape in shapes.items():
            self.offsets[name] = pos
            pos = aligned(pos + int(np.prod(shape)))
        self.total = max(pos, ALIGN)

    def size(self, name: str) -> int:
        return int(np.prod(self.shapes[name]))

    def pack(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        flat = np.zeros(self.total, np.float32)
        for name, off in self.offsets.items():
            flat[off : off + self.size(name)] = np.asarray(arrays[name], np.float32).ravel()
        return flat

    def unpack(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        return {
            name: flat[off : off + self.size(name)].reshape(self.shapes[name]).copy()
            for name, off in self.offsets.items()
        }


class BufferPool:
    """Allocates every buffer a backend needs, each once, each labelled."""

    def __init__(self, device) -> None:
        self.device = device
        self.buffers: dict[str, object] = {}

    def alloc(self, name: str, nbytes: int, usage=STORAGE) -> View:
        if name in self.buffers:
            raise KeyError(f"buffer {name} allocated twice")
        nbytes = max(16, -(-int(nbytes) // 16) * 16)
        buf = self.device.create_buffer(label=name, size=nbytes, usage=usage)
        self.buffers[name] = buf
        return View(buf, 0, nbytes)

    def floats(self, name: str, n: int) -> View:
        return self.alloc(name, 4 * n)

    def upload(self, name: str, data: np.ndarray) -> View:
        data = np.ascontiguousarray(data)
        view = self.alloc(name, data.nbytes)
        self.device.queue.write_buffer(view.buffer, 0, data)
        return view

    def total_bytes(self) -> int:
        return sum(b.size for b in self.buffers.values())
