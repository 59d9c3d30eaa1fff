"""Run one registry kernel on NumPy arrays: the kernel-level test API.

``run_kernel("layernorm_fwd", inputs={"x": x, "g": g, "bias": b}, outputs={"y": (N, C),
"stats": (N, 2)}, values={"rows": N, "C": C, "eps": 1e-5})`` uploads the inputs, fills every
output with NaN (so an element the kernel fails to write shows up), dispatches once with the
grid from the registry row, and returns the outputs as float32 (u32 for integer inputs).
An output given as an array instead of a shape starts from that array (for accumulating kernels).
"""

from __future__ import annotations

import numpy as np

from backends.base import BackendError
from backends.gpu.buffers import BufferPool
from backends.gpu.device import get_device
from backends.gpu.graph import Graph
from backends.gpu.matmul import MatmulScratch, record_matmul
from backends.gpu.pipelines import pipelines_for
from kernels import matmul_plan, registry, wgsl


def run_kernel(
    name: str,
    inputs: dict,
    outputs: dict,
    values: dict,
    constants: dict | None = None,
    adapter: str | None = None,
) -> dict[str, np.ndarray]:
    dev = get_device(adapter)
    pool = BufferPool(dev.device)
    try:
        views = {}
        for key, arr in inputs.items():
            arr = np.asarray(arr)
            arr = arr.astype(np.uint32 if arr.dtype.kind in "iu" else np.float32)
            views[key] = pool.upload(f"in.{key}", arr.ravel())
        shapes = {}
        for key, spec in outputs.items():
            if isinstance(spec, np.ndarray):
                init = spec.astype(np.float32)
            else:
                init = np.full(spec, np.nan, np.float32)
            shapes[key] = init.shape
            views[key] = pool.upload(f"out.{key}", init.ravel())
        dummies = {"read": pool.floats("dummy_read", 4), "read_write": pool.floats("dummy_rw", 4)}
        g = Graph(pipelines_for(dev), dummies, f"test.{name}")
        d = g.add(name, views, values, constants=constants)
        extra = set(views) - {b.name for b in d.compiled.bindings}
        if extra:
            raise BackendError(f"kernel {name} has no binding(s) {sorted(extra)}")
        g.finalize()
        enc = dev.device.create_command_encoder()
        g.encode(enc)
        dev.device.queue.submit([enc.finish()])
        result = {}
        for key, shape in shapes.items():
            raw = dev.device.queue.read_buffer(views[key].buffer)
            n = int(np.prod(shape))
            result[key] = np.frombuffer(raw, np.float32)[:n].reshape(shape).copy()
        return result
    finally:
        for buf in pool.buffers.values():
            buf.destroy()


def run_matmul(
    a: np.ndarray,
    b: np.ndarray,
    form: str = "nn",
    variant: str = "tiled16",
    epilogue: str = "store",
    r: np.ndarray | None = None,
    c: np.ndarray | None = None,
    splits: int | None = None,
    adapter: str | None = None,
) -> dict[str, np.ndarray]:
    """One matmul of ``variant`` in ``form`` ("nn", "nt", "tn") with ``epilogue``.

    Shapes as stored: nn a [M,K] b [K,N]; nt a [M,K] b [N,K]; tn a [K,M] b [K,N]. Returns
    {"c": [M,N]} (and "aux" for the gelu epilogue). ``c`` seeds the output (accumulate).
    The call runs as the step would run it (``matmul_plan.plan_matmul``: auto's choice, fallbacks,
    split-K, via-tn transposes); ``splits`` forces the split-K factor. Outputs and every matmul
    scratch start NaN.
    """
    M, K = (a.shape[1], a.shape[0]) if form == "tn" else a.shape
    N = b.shape[0] if form == "nt" else b.shape[1]
    plan = matmul_plan.plan_matmul(variant, form, M, N, K, splits=splits)
    dev = get_device(adapter)
    pool = BufferPool(dev.device)
    try:
        views = {"a": pool.upload("in.a", np.asarray(a, np.float32).ravel()),
                 "b": pool.upload("in.b", np.asarray(b, np.float32).ravel())}
        if r is not None:
            views["r"] = pool.upload("in.r", np.asarray(r, np.float32).ravel())
        outs = {"c": c.astype(np.float32) if c is not None else np.full((M, N), np.nan,
                                                                          np.float32)}
        if epilogue == "gelu":
            outs["aux"] = np.full((M, N), np.nan, np.float32)
        for key, init in outs.items():
            views[key] = pool.upload(f"out.{key}", init.ravel())
        dummies = {"read": pool.floats("dummy_read", 4), "read_write": pool.floats("dummy_rw", 4)}
        g = Graph(pipelines_for(dev), dummies, f"test.matmul.{variant}")
        scratch = MatmulScratch()
        record_matmul(g, plan, form, views, M, N, K, epilogue, scratch)
        for role, view in scratch.allocate(pool).items():
            dev.device.queue.write_buffer(view.buffer, 0,
                                          np.full(scratch.floats[role], np.nan, np.float32))
        g.finalize()
        enc = dev.device.create_command_encoder()
        g.encode(enc)
        dev.device.queue.submit([enc.finish()])
        result = {}
        for key in outs:
            raw = dev.device.queue.read_buffer(views[key].buffer)
            result[key] = np.frombuffer(raw, np.float32)[: M * N].reshape(M, N).copy()
        return result
    finally:
        for buf in pool.buffers.values():
            buf.destroy()


def run_attention(
    variant: str,
    qkv: np.ndarray,
    dout: np.ndarray,
    B: int,
    H: int,
    constants: dict | None = None,
    adapter: str | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """One attention ``variant``'s forward, then its backward kernels in order as the step
    records them, on host arrays: qkv [B*T, 3C], dout [B*T, C] (any shape of that size).

    Returns (out [B*T, C], the saved buffers by name, dqkv [B*T, 3C]). Scratch buffers and dqkv
    start as NaN, so a kernel that leaves part of what it owns unwritten shows up. ``constants``
    (override constants) go to every kernel of the variant, replacing the derived ones."""
    av = registry.attention_variant(variant)
    C = dout.shape[-1]
    T = dout.size // (B * C)
    hd = C // H
    registry.check_attention_constants(variant, hd, constants)
    vals = {"B": B, "T": T, "H": H, "hd": hd, "C": C, "scale": 1.0 / float(np.sqrt(hd))}
    dims = {"B": B, "H": H, "T": T, "D": hd, "C": C}
    size = {n: int(np.prod([dims[ch] for ch in e])) for n, e in {**av.saved, **av.scratch}.items()}
    fwd = run_kernel(av.forward, {"qkv": qkv},
                     {"out": (B * T, C), **{n: (size[n],) for n in av.saved}}, vals,
                     constants, adapter)
    state = {"qkv": qkv, "out": fwd["out"], "dout": dout, **{n: fwd[n] for n in av.saved}}
    state.update({n: np.full(size[n], np.nan, np.float32) for n in av.scratch})
    dqkv = np.full((B * T, 3 * C), np.nan, np.float32)
    for k in av.backward:
        names = {b.name for b in wgsl.bindings(wgsl.source(k))}
        outs = {n: state[n] for n in names if n in av.scratch}
        if "dqkv" in names:
            outs["dqkv"] = dqkv
        ins = {n: state[n] for n in names if n in state and n not in outs}
        got = run_kernel(k, ins, outs, vals, constants, adapter)
        state.update({n: got[n] for n in av.scratch if n in got})
        dqkv = got.get("dqkv", dqkv)
    return fwd["out"], {n: fwd[n] for n in av.saved}, dqkv
