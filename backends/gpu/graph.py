"""A recorded list of dispatches (a step graph) and how it is encoded.

Building a graph compiles pipelines, packs every dispatch's uniform into one arena buffer and
creates every bind group once. Encoding a step is then only set_pipeline / set_bind_group /
dispatch per entry (replayed by direct wgpu-native calls, ``backends.gpu.native``), inside one
compute pass per piece (wgpu inserts the barriers between dispatches), or one pass per dispatch
with timestamp writes when profiling. ``pieces`` cuts a dispatch list into consecutive pieces, each
encoded into its own command buffer, so the device runs the first while the host encodes the next;
with a ``growth`` above 1 each piece is that many times the one before, so the first is short (the
device starts sooner) and the later, longer ones are encoded while the device runs the earlier;
``taper`` makes the last pieces shrink again, so little is left to run after the last submit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import wgpu

from backends.base import BackendError
from backends.gpu import native
from backends.gpu.buffers import View
from backends.gpu.pipelines import Compiled, Pipelines
from kernels import registry


@dataclass
class Dispatch:
    label: str  # name the timings are summed by (kernel, plus the form for matmuls)
    compiled: Compiled
    views: dict[str, View]
    grid: tuple[int, int, int]
    uniform_at: int
    uniform_size: int
    bind_group: object = None


@dataclass
class Piece:
    """Consecutive dispatches encoded as one compute pass of one command buffer."""

    dispatches: list[Dispatch]
    program: native.Program
    label: str = ""


def split_even(n: int, pieces: int) -> list[tuple[int, int]]:
    """``[start, end)`` bounds of ``min(pieces, n)`` consecutive slices of ``n`` whose sizes differ
    by at most one (the earlier slices are the smaller ones, so the device starts sooner)."""
    k = max(1, min(int(pieces), n))
    small, extra = divmod(n, k)
    bounds, start = [], 0
    for i in range(k):
        end = start + small + (1 if i >= k - extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def split_growing(n: int, pieces: int, growth: float, taper: bool = False) -> list[tuple[int, int]]:
    """``[start, end)`` bounds of ``min(pieces, n)`` consecutive, non-empty slices of ``n`` whose
    sizes grow about ``growth``-fold from one to the next (``growth`` 1: ``split_even``); with
    ``taper`` they grow to the middle and shrink again, so the last piece is short too (when the
    host encodes slower than the device runs, the loss then arrives one short piece after the
    last submit)."""
    k = max(1, min(int(pieces), n))
    if growth == 1.0 or k == 1:
        return split_even(n, k)
    weights = [growth ** (min(i, k - 1 - i) if taper else i) for i in range(k)]
    total = sum(weights)
    ends, acc = [], 0.0
    for w in weights[:-1]:
        acc += w
        ends.append(round(n * acc / total))
    bounds, start = [], 0
    for i, end in enumerate([*ends, n]):
        # every slice keeps at least one dispatch and leaves one for each slice after it
        end = n if i == k - 1 else min(max(end, start + 1), n - (k - 1 - i))
        bounds.append((start, end))
        start = end
    return bounds


class Graph:
    """Dispatches in order; ``finalize`` makes the uniform arena and the bind groups."""

    def __init__(self, pipelines: Pipelines, dummies: dict[str, View], name: str) -> None:
        self.pipelines = pipelines
        self.dummies = dummies
        self.name = name
        self.dispatches: list[Dispatch] = []
        self._arena = bytearray()
        self._blobs: dict[bytes, int] = {}
        self.uniform_buffer = None
        dev = pipelines.dev
        self._ualign = dev.limits.get("min-uniform-buffer-offset-alignment", 256)
        self._max_groups = dev.limits.get("max-compute-workgroups-per-dimension", 65535)

    def add(
        self,
        kernel: str,
        views: dict[str, View],
        values: dict,
        constants=None,
        label: str | None = None,
        shared_uniform: bool = True,
    ) -> Dispatch:
        """Record one dispatch of registry kernel ``kernel``; ``values`` fill its uniform/grid."""
        derive = registry.KERNELS[kernel].derive if kernel in registry.KERNELS else None
        if derive is not None:  # constants fixed by the call's shape (registry.Kernel.derive)
            sub = "subgroup" in self.pipelines.dev.features
            constants = registry.resolve_constants(kernel, {**values, "subgroup": sub}, constants)
        c = self.pipelines.get(kernel, constants)
        blob = c.pack_uniform(values) if c.fields else b"\0" * 16
        if shared_uniform and blob in self._blobs:
            at = self._blobs[blob]
        else:
            at = len(self._arena)
            self._arena += blob + b"\0" * (-(len(blob)) % self._ualign)
            if shared_uniform:
                self._blobs[blob] = at
        # the grid is a function of the uniform's fields and the override constants (SPLITS)
        grid = tuple(int(g) for g in c.kernel.grid({**c.constants, **values}))
        if max(grid) > self._max_groups:
            raise BackendError(
                f"{label or kernel}: grid {grid} exceeds the device limit "
                f"max-compute-workgroups-per-dimension = {self._max_groups}"
            )
        d = Dispatch(label or kernel, c, views, grid, at, len(blob))
        self.dispatches.append(d)
        return d

    def finalize(self) -> None:
        dev = self.pipelines.dev.device
        arena = bytes(self._arena) or b"\0" * 16
        self.uniform_buffer = dev.create_buffer(
            label=f"{self.name}.uniforms",
            size=len(arena),
            usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST,
        )
        dev.queue.write_buffer(self.uniform_buffer, 0, arena)
        for d in self.dispatches:
            views = dict(d.views)
            uni = [b.name for b in d.compiled.bindings if b.kind == "uniform"]
            for name in uni:
                views[name] = View(self.uniform_buffer, d.uniform_at, d.uniform_size)
            d.bind_group = self.pipelines.bind(d.compiled, views, self.dummies, d.label)

    def write_uniform(self, d: Dispatch, values: dict) -> None:
        """Rewrite one dispatch's uniform (e.g. AdamW's step-dependent terms) before a submit."""
        blob = d.compiled.pack_uniform(values)
        self.pipelines.dev.device.queue.write_buffer(self.uniform_buffer, d.uniform_at, blob)

    def pieces(
        self, dispatches: list[Dispatch], pieces: int, growth: float = 1.0, taper: bool = False
    ) -> list[Piece]:
        """``dispatches`` cut into ``pieces`` consecutive pieces (fewer if there are fewer
        dispatches) growing ``growth``-fold (to the middle only, with ``taper``), each with its
        replay program made once."""
        bounds = split_growing(len(dispatches), pieces, growth, taper)
        n = len(bounds)
        return [
            Piece(dispatches[a:b], native.program(dispatches[a:b]), f"{self.name}[{i}/{n}]")
            for i, (a, b) in enumerate(bounds)
        ]

    def encode_piece(self, encoder, piece: Piece, timestamp_writes: dict | None = None) -> None:
        """One compute pass running ``piece``; ``timestamp_writes`` as in ``begin_compute_pass``."""
        if timestamp_writes is None:
            cp = encoder.begin_compute_pass(label=self.name)
        else:
            cp = encoder.begin_compute_pass(label=self.name, timestamp_writes=timestamp_writes)
        native.replay(cp, piece.program)
        cp.end()

    def encode(self, encoder, dispatches: list[Dispatch] | None = None, query_set=None) -> None:
        """Encode ``dispatches`` (default all): one pass, or one timed pass each."""
        ds = self.dispatches if dispatches is None else dispatches
        if query_set is None:
            self.encode_piece(encoder, Piece(ds, native.program(ds)))
            return
        for i, d in enumerate(ds):
            cp = encoder.begin_compute_pass(
                label=d.label,
                timestamp_writes={
                    "query_set": query_set,
                    "beginning_of_pass_write_index": 2 * i,
                    "end_of_pass_write_index": 2 * i + 1,
                },
            )
            cp.set_pipeline(d.compiled.pipeline)
            cp.set_bind_group(0, d.bind_group)
            cp.dispatch_workgroups(*d.grid)
            cp.end()


def per_kernel_seconds(labels: list[str], stamps: np.ndarray) -> dict[str, float]:
    """Sum (end - begin) per label; ``stamps`` are begin/end pairs in nanoseconds."""
    out: dict[str, float] = {}
    ticks = stamps.astype(np.int64).reshape(-1, 2)
    for label, (t0, t1) in zip(labels, ticks, strict=True):
        out[label] = out.get(label, 0.0) + max(int(t1 - t0), 0) * 1e-9
    return out
