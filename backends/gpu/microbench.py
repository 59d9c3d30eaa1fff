"""Kernel micro-benchmarks on one device: the GPU side of ``bench/kernel_bench.py``.

A ``Case`` is a ready batch of ``repeats`` identical repetitions (a matmul dispatch; attention's
forward + backward dispatches; a peak probe) recorded in ONE command buffer, buffers allocated and
bind groups built up front. ``Case.run()`` encodes, submits and waits for it, and returns the
device seconds per repetition when the adapter has ``timestamp-query``, else ``None`` (the caller
then divides its wall time by ``repeats``). Its dispatches run back to back in ONE compute pass
(wgpu's barriers between them), timestamps at that pass's beginning and end: the way the step runs
them, and the way cuBLAS is timed (CUDA events around back-to-back calls, ``bench.vendor``).
``Case.profile()`` instead gives every dispatch a timed pass of its own and sums by kernel
(``split``): for shares only, since each such pass adds its beginning and end to the dispatch's
interval (results/h200/s10/README.md). No timing loop lives
here: the harness drives ``run`` with ``bench.timing.time_fn``.

Parity gates: ``check_matmul`` / ``check_attention`` run a variant on random awkward shapes on
this adapter against NumPy (float64); the harness times a variant only after its gate passed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import wgpu

from backends import clocks
from backends import reference as R
from backends.base import BackendError
from backends.gpu import native
from backends.gpu.buffers import BufferPool, View
from backends.gpu.device import adapter_info, choose_adapter, get_device
from backends.gpu.graph import Graph, Piece, per_kernel_seconds
from backends.gpu.matmul import MatmulScratch, record_matmul
from backends.gpu.pipelines import pipelines_for
from backends.gpu.testing import run_attention, run_matmul
from kernels import matmul_plan, registry

MAX_QUERIES = 4096  # wgpu's cap on one query set: 2 per timed dispatch
_READBACK = wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST

# Awkward parity shapes: odd sizes, K = 1, tiles overhanging 64/128, vec4-aligned ones, and a
# long-K one that split-K (splitk, auto) runs split in the tn form.
MATMUL_CHECK_SHAPES = ((37, 23, 29), (1, 50, 17), (150, 7, 131), (132, 12, 68), (70, 520, 33))
# (B, T, H, hd): fa2's lanes per row G = 1, 4, 2, the last crossing a block of 64 / G rows
ATTENTION_CHECK_SHAPES = ((2, 37, 3, 12), (1, 19, 1, 72), (1, 130, 2, 40))


@dataclass
class Case:
    """``repeats`` repetitions of ``dispatches_per_rep`` dispatches in one command buffer."""

    name: str
    graph: Graph
    pool: BufferPool
    repeats: int
    flops: float = 0.0  # per repetition
    bytes: float = 0.0  # per repetition (memory traffic the kernel must do at least)
    info: dict[str, Any] = field(default_factory=dict)
    split: dict[str, float] = field(default_factory=dict)  # last profile's seconds per rep by label
    _qs: Any = None  # 2 queries per dispatch (profile); run uses the first two
    _resolve: Any = None
    _read: Any = None
    _piece: Any = None  # every dispatch as one pass, made on the first timed run

    def run(self) -> float | None:
        """Device seconds per repetition, every dispatch in one timed pass (None: no timestamps,
        the caller times the wall)."""
        dev = self.graph.pipelines.dev.device
        enc = dev.create_command_encoder(label=self.name)
        if self._qs is None:
            self.graph.encode(enc)
            dev.queue.submit([enc.finish()])
            dev.queue.on_submitted_work_done_sync()
            return None
        if self._piece is None:
            ds = self.graph.dispatches
            self._piece = Piece(ds, native.program(ds))
        self.graph.encode_piece(enc, self._piece, timestamp_writes={
            "query_set": self._qs, "beginning_of_pass_write_index": 0,
            "end_of_pass_write_index": 1})
        ticks = self._ticks(enc, 2)
        return max(int(ticks[1] - ticks[0]), 0) * 1e-9 / self.repeats

    def profile(self) -> float | None:
        """One timed pass per dispatch: fills ``split`` (seconds per repetition by dispatch
        label) and returns their sum per repetition; None without timestamps. Each pass's own
        beginning and end are inside its interval, so use it for shares, ``run`` for time."""
        if self._qs is None:
            return None
        dev = self.graph.pipelines.dev.device
        enc = dev.create_command_encoder(label=self.name)
        self.graph.encode(enc, query_set=self._qs)
        ticks = self._ticks(enc, 2 * len(self.graph.dispatches))
        labels = [d.label for d in self.graph.dispatches]
        self.split = {k: v / self.repeats for k, v in per_kernel_seconds(labels, ticks).items()}
        busy = np.maximum(ticks[1::2] - ticks[0::2], 0).sum() * 1e-9
        return float(busy) / self.repeats

    def _ticks(self, enc, n: int) -> np.ndarray:
        """Submit ``enc`` with its first ``n`` timestamps resolved; wait and read them."""
        dev = self.graph.pipelines.dev.device
        enc.resolve_query_set(self._qs, 0, n, self._resolve, 0)
        enc.copy_buffer_to_buffer(self._resolve, 0, self._read, 0, 8 * n)
        dev.queue.submit([enc.finish()])
        self._read.map_sync(wgpu.MapMode.READ, 0, 8 * n)
        ticks = np.frombuffer(self._read.read_mapped(0, 8 * n), np.uint64).astype(np.int64)
        self._read.unmap()
        return ticks

    def close(self) -> None:
        for buf in self.pool.buffers.values():
            buf.destroy()
        self.pool.buffers.clear()



# long-K shapes of the split gate: N odd (scalar partial stores) and N % 4 == 0 with M odd (a v4
# row's vec4 partial stores; at the odd N it runs as its scalar twin)
SPLIT_CHECK_SHAPES = (MATMUL_CHECK_SHAPES[-1], (71, 520, 36))


def split_cases(splits: int) -> list:
    """Each form on each long-K split check shape through ``splits`` K slices."""
    return [(form, shape, splits) for form in ("nn", "nt", "tn") for shape in SPLIT_CHECK_SHAPES]


def stream_k_cases(groups: int, bm: int, bn: int, bk: int) -> list:
    """Each form through ``groups`` stream-K workgroups on three grids of BM x BN tiles, their
    last row and column cut: 3 x 2 tiles with N odd, then N % 4 == 0 with M odd (as in
    SPLIT_CHECK_SHAPES), and 5 x 1. Each grid's K (not a multiple of BK) gives its T tiles about
    2.5 k-tiles per workgroup, the fewest at or above that whose runs end inside a tile (not
    possible where G divides T: then the other grids cut them), so that runs start and end inside
    tiles and cross from one tile into the next, as at the step's shapes."""
    out = []
    for M, N in ((2 * bm + 7, bn + 9), (2 * bm + 5, bn + 12), (4 * bm + 7, bn - 3)):
        tiles = -(-M // bm) * -(-N // bn)
        kt = base = max(2, -(-5 * groups // (2 * tiles)))
        while groups > 1 and -(-tiles * kt // groups) % kt == 0 and kt < base + groups:
            kt += 1
        if -(-tiles * kt // groups) % kt == 0:
            kt = base
        out += [(form, (M, kt * bk - 3, N), groups) for form in ("nn", "nt", "tn")]
    return out


class MicroBench:
    """Builds cases and parity gates on one adapter (timestamps requested where offered)."""

    def __init__(self, adapter: str | None = None) -> None:
        self.adapter = adapter
        self.dev = get_device(adapter, want_timestamps=True)
        self.timestamps = "timestamp-query" in self.dev.features
        self.pipelines = pipelines_for(self.dev)
        self._host: dict[tuple[int, int], np.ndarray] = {}

    def describe(self) -> dict[str, Any]:
        return {**self.dev.info(), "timing": "timestamps" if self.timestamps else "wall"}

    # building blocks -----------------------------------------------------------------------
    def _start(self, name: str) -> tuple[BufferPool, Graph]:
        pool = BufferPool(self.dev.device)
        dummies = {"read": pool.floats("dummy_read", 4), "read_write": pool.floats("dummy_rw", 4)}
        return pool, Graph(self.pipelines, dummies, name)

    def _random(self, pool: BufferPool, name: str, n: int, seed: int) -> View:
        key = (n, seed)  # the autotuner builds many cases of one shape: draw the inputs once
        if key not in self._host:
            if len(self._host) > 8:
                self._host.clear()
            self._host[key] = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
        return pool.upload(name, self._host[key])

    def _finish(self, name, pool, graph, repeats, **kw) -> Case:
        graph.finalize()
        case = Case(name, graph, pool, repeats, **kw)
        n = 2 * len(graph.dispatches)
        if self.timestamps:
            if n > MAX_QUERIES:
                raise BackendError(f"{name}: {n} timestamp queries exceed {MAX_QUERIES}")
            device = self.dev.device
            case._qs = device.create_query_set(label=f"{name}.ts", type="timestamp", count=n)
            usage = wgpu.BufferUsage.QUERY_RESOLVE | wgpu.BufferUsage.COPY_SRC
            case._resolve = device.create_buffer(label=f"{name}.ts", size=8 * n, usage=usage)
            case._read = device.create_buffer(label=f"{name}.ts_read", size=8 * n,
                                              usage=_READBACK)
        return case

    # cases ---------------------------------------------------------------------------------
    def matmul(self, variant: str | registry.MatmulVariant, form: str, M: int, N: int, K: int,
               repeats: int = 10, splits: int | None = None) -> Case:
        """C[M,N] = op(A) @ op(B) in ``form``, plain store epilogue (``splits`` forces split-K;
        a variant row, e.g. ``auto`` with the autotuner's ``choose``, may stand for a name)."""
        plan = matmul_plan.plan_matmul(variant, form, M, N, K, splits=splits)
        name = f"matmul.{plan.variant}.{form}.{M}x{N}x{K}"
        pool, g = self._start(name)
        views = {
            "a": self._random(pool, "a", M * K, 1),
            "b": self._random(pool, "b", K * N, 2),
            "c": pool.floats("c", M * N),
        }
        scratch = MatmulScratch()
        for _ in range(repeats):  # a split-K repetition is its two dispatches
            record_matmul(g, plan, form, views, M, N, K, scratch=scratch)
        scratch.allocate(pool)
        ran = plan.label
        return self._finish(name, pool, g, repeats, flops=2.0 * M * N * K,
                            bytes=4.0 * (M * K + K * N + M * N),
                            info={"ran": ran, "fallback": bool(plan.fallbacks)})

    def attention(self, variant: str, B: int, H: int, T: int, hd: int, repeats: int = 3,
                  constants: dict[str, int] | None = None) -> Case:
        """Forward then backward of causal attention on [B*T, 3C] qkv, as the step runs them
        (``constants``: override constants for every kernel, replacing the derived ones)."""
        av = registry.attention_variant(variant)
        try:
            registry.check_attention_constants(variant, hd, constants)
        except registry.VariantError as e:
            raise BackendError(str(e)) from None
        if hd > av.max_head_dim or T > av.max_seq_len:
            raise BackendError(f"attention {variant!r} supports head_dim <= {av.max_head_dim} "
                               f"and seq_len <= {av.max_seq_len}; asked hd {hd}, T {T}")
        C = H * hd
        name = f"attention.{variant}.B{B}H{H}T{T}hd{hd}"
        pool, g = self._start(name)
        dims = {"B": B, "H": H, "T": T, "D": hd, "C": C}
        views = {
            "qkv": self._random(pool, "qkv", B * T * 3 * C, 1),
            "dout": self._random(pool, "dout", B * T * C, 2),
            "out": pool.floats("out", B * T * C),
            "dqkv": pool.floats("dqkv", B * T * 3 * C),
        }
        for n, e in {**av.saved, **av.scratch}.items():
            views[n] = pool.floats(n, math.prod(dims[ch] for ch in e))
        vals = {"B": B, "T": T, "H": H, "hd": hd, "C": C, "scale": 1.0 / math.sqrt(hd)}
        for _ in range(repeats):
            for k in (av.forward, *av.backward):
                g.add(k, views, vals, constants=constants)
        # causal: half of each T x T product; forward 2 products, backward 5 (recomputed P
        # included for fa2, 4 for naive): nominal work, for a rate only.
        products = 7 if variant == "fa2" else 6
        return self._finish(name, pool, g, repeats, flops=products * B * H * T * T * hd,
                            bytes=4.0 * B * T * 9 * C, info={"ran": variant, "fallback": False,
                                  "kernels": (av.forward, *av.backward)})

    def fma_probe(self, repeats: int = 5) -> Case:
        """Peak FMA throughput: 64 FLOPs per invocation per iteration."""
        n, iters = (256 * 64, 64) if self.dev.software else (256 * 8192, 2048)
        pool, g = self._start("probe_fma")
        out = pool.floats("out", n)
        for _ in range(repeats):
            g.add("probe_fma", {"out": out}, {"n": n, "iters": iters, "mul": 0.5, "add": 0.5})
        return self._finish("probe_fma", pool, g, repeats, flops=64.0 * n * iters)

    def copy_probe(self, repeats: int = 5, nbytes: int | None = None) -> Case:
        """Peak copy bandwidth: read + write of ``nbytes`` (256 MiB on a GPU)."""
        nbytes = nbytes or ((4 << 20) if self.dev.software else (256 << 20))
        limit = self.dev.limits.get("max-storage-buffer-binding-size", 1 << 27)
        n4 = min(nbytes, limit) // 16
        pool, g = self._start("probe_copy")
        src = pool.floats("src", 4 * n4)
        dst = pool.floats("dst", 4 * n4)
        for _ in range(repeats):
            g.add("probe_copy", {"src": src, "dst": dst}, {"n4": n4})
        return self._finish("probe_copy", pool, g, repeats, bytes=32.0 * n4)

    # parity gates --------------------------------------------------------------------------
    def check_matmul(self, variant: str, seed: int = 0,
                     splits: int | None = None) -> tuple[bool, str]:
        """Every form on MATMUL_CHECK_SHAPES vs NumPy, outputs NaN-poisoned first; with
        ``splits``, each form once more on the long-K shape through that split-K path."""
        cases = [(form, shape, None) for form in ("nn", "nt", "tn") for shape in
                 MATMUL_CHECK_SHAPES]
        if splits:
            cases += split_cases(splits)
        return self.check_matmul_cases(variant, cases, seed)

    def check_matmul_cases(self, variant: str, cases: list, seed: int = 0) -> tuple[bool, str]:
        """``cases`` of (form, (M, K, N), split factor or None) vs NumPy in float64, outputs
        (and split-K scratch) NaN-poisoned by ``run_matmul``; the first failure is the message."""
        rng = np.random.default_rng(seed)
        worst = 0.0
        for form, (M, K, N), split in cases:
            a = rng.standard_normal((K, M) if form == "tn" else (M, K)).astype(np.float32)
            b = rng.standard_normal((N, K) if form == "nt" else (K, N)).astype(np.float32)
            got = run_matmul(a, b, form, variant, splits=split, adapter=self.adapter)["c"]
            A = a.T if form == "tn" else a
            Bm = b.T if form == "nt" else b
            want = A.astype(np.float64) @ Bm.astype(np.float64)
            err = float(np.max(np.abs(got - want)) / max(1.0, np.abs(want).max()))
            if not np.isfinite(err) or err > 1e-4:
                stream_k = registry.matmul_variant(variant).stream_k
                factor = matmul_plan.factor_label(stream_k, split) if split else ""
                how = f" {factor}" if factor else ""
                return False, f"{form}{how} M,K,N={M},{K},{N}: max rel err {err:.2g}"
            worst = max(worst, err)
        return True, f"ok (worst rel err {worst:.1g})"

    def check_attention(self, variant: str, seed: int = 0,
                        constants: dict[str, int] | None = None) -> tuple[bool, str]:
        """Forward and backward on ATTENTION_CHECK_SHAPES vs the float64 reference (with
        ``constants`` overriding the kernels' derived ones; shapes they do not fit are skipped,
        at least one must remain)."""
        rng = np.random.default_rng(seed)
        worst = 0.0
        fit = []
        for B, T, H, hd in ATTENTION_CHECK_SHAPES:
            try:
                registry.check_attention_constants(variant, hd, constants)
                fit.append((B, T, H, hd))
            except registry.VariantError:
                continue
        if not fit:
            return False, f"constants {constants} fit none of the check shapes"
        for B, T, H, hd in fit:
            C = H * hd
            qkv = rng.standard_normal((B * T, 3 * C)).astype(np.float32)
            dout = rng.standard_normal((B * T, C)).astype(np.float32)
            got_out, _, dqkv = run_attention(variant, qkv, dout, B, H, constants, self.adapter)
            out, cache = R.attention_fwd(qkv.reshape(B, T, 3 * C).astype(np.float64), H)
            want = R.attention_bwd(dout.reshape(B, T, C).astype(np.float64), cache)
            for name, got, ref in (("out", got_out, out), ("dqkv", dqkv, want)):
                ref = ref.reshape(got.shape)
                err = float(np.max(np.abs(got - ref)) / max(1.0, np.abs(ref).max()))
                if not np.isfinite(err) or err > 1e-4:
                    return False, f"{name} at B,T,H,hd={B},{T},{H},{hd}: max rel err {err:.2g}"
                worst = max(worst, err)
        return True, f"ok (worst rel err {worst:.1g})"


def settle(adapter: str | None = None) -> dict[str, Any] | None:
    """Bring the adapter's GPU to its working clocks with the FMA probe, one dispatch per run
    (``backends.clocks.settle``); None on a software adapter, which has no clocks to raise."""
    if adapter_info(choose_adapter(adapter))["software"]:
        return None  # decided before MicroBench asks for a device of its own
    mb = MicroBench(adapter)
    case = mb.fma_probe(repeats=1)

    def run() -> float:
        t0 = time.perf_counter()
        busy = case.run()
        return busy if busy is not None else time.perf_counter() - t0

    try:
        return clocks.settle(run, f"wgpu fma_probe {mb.dev.info()['adapter']}")
    finally:
        case.close()
