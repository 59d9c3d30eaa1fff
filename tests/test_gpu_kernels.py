"""Every WGSL kernel against NumPy (float64 reference ops) on awkward shapes.

``run_kernel`` fills every output with NaN before the dispatch, so an element a kernel fails to
write fails the comparison. Shapes are non-square and not multiples of any tile or workgroup.
The ``ref_*`` names are the references the registry rows point at.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest
from gpu_fixtures import requires_adapter
from helpers import ref_matmul, ref_probe_fma  # noqa: F401 (registry rows name them)

from backends import BackendError, get_backend
from backends import reference as R
from bench.model import PRESETS, OptimConfig
from kernels import registry, wgsl

pytestmark = requires_adapter

RNG = np.random.default_rng(1234)
TOL = dict(rtol=2e-5, atol=2e-5)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def gpu():
    from backends.gpu import run_kernel, run_matmul

    return run_kernel, run_matmul


# ---------------------------------------------------------------- references
def ref_layernorm_fwd(x, g, b):
    y, (xhat, rstd, _) = R.layernorm_fwd(x.astype(np.float64), g, b)
    mean = x.astype(np.float64).mean(-1)
    return y, np.stack([mean, rstd[:, 0]], axis=1)


def ref_embed_ln_fwd(wte, wpe, tokens, g, b):
    x = ref_embed_fwd(wte, wpe, tokens).reshape(-1, wte.shape[1])
    return x, *ref_layernorm_fwd(x, g, b)


def ref_layernorm_bwd(dy, x, g, b):
    _, cache = R.layernorm_fwd(x.astype(np.float64), g.astype(np.float64), b)
    return R.layernorm_bwd(dy.astype(np.float64), cache)


def ref_embed_fwd(wte, wpe, tokens):
    return R.embedding_fwd(wte, wpe, tokens)


def ref_embed_bwd(dx, tokens, vocab, T):
    return R.embedding_bwd(dx.astype(np.float64), tokens, vocab, T)


def ref_attention_fwd(qkv, n_head):
    return R.attention_fwd(qkv.astype(np.float64), n_head)


def ref_attention_bwd(dout, qkv, n_head):
    _, cache = R.attention_fwd(qkv.astype(np.float64), n_head)
    return R.attention_bwd(dout.astype(np.float64), cache)


def ref_xent(logits, targets):
    flat = logits.astype(np.float64)
    m = flat.max(-1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(flat - m).sum(-1))
    losses = lse - flat[np.arange(len(targets)), targets]
    _, cache = R.cross_entropy_fwd(flat, targets)
    return losses, R.cross_entropy_bwd(cache)


def ref_loss_reduce(losses):
    return losses.astype(np.float64).mean()


def ref_adamw(p, g, m, v, step, opt):
    p, m, v = (x.astype(np.float64) for x in (p, m, v))
    R.adamw_update(p, g.astype(np.float64), m, v, step, opt)
    return p, m, v


def ref_probe_copy(src):
    return src


def ref_transpose(src):
    return src.T


# ---------------------------------------------------------------- registry
def test_registry_rows_are_consistent():
    for name, k in registry.KERNELS.items():
        src = wgsl.source(name)
        head = (registry.KERNEL_DIR / k.file).read_text().splitlines()[0]
        assert head.startswith(f"// {k.file} - "), f"{k.file} lacks its header comment"
        assert set(k.constants) <= wgsl.overrides(src), name
        assert set(k.optional) <= {b.name for b in wgsl.bindings(src)}, name
        assert k.reference in globals(), f"{name}: reference {k.reference} not defined"
        assert wgsl.bindings(src)[0].kind == "uniform", name
    for v in registry.MATMULS.values():
        assert bool(v.kernel) == (v.choose is None), v.name
        if v.kernel:
            for f, form in registry.FORMS.items():
                registry.check_constants(v.kernel, {**form, **v.constants,
                                                    **v.form_constants.get(f, {})})
    for name, k in registry.KERNELS.items():  # a row's hand figure never undercounts the WGSL
        if k.workgroup_bytes:
            assert k.workgroup_bytes >= wgsl.kernel_workgroup_bytes(name), name
    for v in registry.ATTENTIONS.values():
        for k in (v.forward, *v.backward):
            registry.kernel(k)


# An override declared after a workgroup array sized by an override expression and used only in
# a function: naga 29 (wgpu 0.32) aborts the process on this module as written.
_NAGA_ABORTS = """
override A: u32 = 4u;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
var<workgroup> buf: array<f32, A * 2u>;
override B: u32 = 1u;
fn f(i: u32) -> f32 { if (B != 0u) { return buf[i]; } return 0.0; }
@compute @workgroup_size(8) fn main(@builtin(local_invocation_index) t: u32) {
    buf[t] = f32(t);
    workgroupBarrier();
    out[t] = f(t);
}
"""


def test_assembled_kernels_declare_overrides_first():
    """Every kernel's assembled WGSL declares all its overrides before any workgroup array, and
    hoisting keeps each declaration and the order among them."""
    for name in registry.KERNELS:
        src = wgsl.source(name)
        if "var<workgroup>" in src:
            body = src[src.index("var<workgroup>"):]
            assert not re.search(r"^override\s", body, re.M), name
    hoisted = wgsl.hoist_overrides(_NAGA_ABORTS)
    assert hoisted.splitlines()[:2] == ["override A: u32 = 4u;", "override B: u32 = 1u;"]
    assert wgsl.overrides(hoisted) == {"A", "B"} and hoisted.count("override") == 2


def test_hoisted_module_builds_where_naga_would_abort():
    """The hoisted form of the module above builds a pipeline (in a child process: naga's panic
    would abort pytest itself)."""
    code = (
        "import sys, wgpu\n"
        "dev = wgpu.gpu.request_adapter_sync().request_device_sync()\n"
        "m = dev.create_shader_module(code=sys.stdin.read())\n"
        "dev.create_compute_pipeline(layout='auto', compute={'module': m, 'entry_point': 'main',"
        " 'constants': {'B': 1}})\n"
        "print('built')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], input=wgsl.hoist_overrides(_NAGA_ABORTS),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "built" in run.stdout, run.stderr[-2000:]


def test_unknown_constant_and_variant_are_refused():
    with pytest.raises(registry.VariantError, match="TRANS_A"):
        registry.check_constants("matmul_tiled16", {"TRANSA": 1})
    with pytest.raises(BackendError, match="known: .*tiled16"):
        get_backend("gpu", PRESETS["micro"], matmul="tiled99")
    with pytest.raises(BackendError, match="known: .*naive"):
        get_backend("gpu", PRESETS["micro"], attention="flash9")


def test_registry_imports_without_wgpu():
    import subprocess
    import sys

    code = ("import sys; sys.modules['wgpu'] = None; import kernels; "
            "print(kernels.variants()['matmul'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "tiled16" in out.stdout


# ---------------------------------------------------------------- matmul
SHAPES = [(37, 23, 29), (1, 50, 17), (33, 1, 65), (70, 130, 3)]  # (M, K, N)


@pytest.mark.parametrize("variant", sorted(registry.MATMULS))
@pytest.mark.parametrize("form", ["nn", "nt", "tn"])
@pytest.mark.parametrize("epilogue", list(registry.EPILOGUES))
def test_matmul(variant, form, epilogue):
    from gpu_fixtures import fits

    if not fits(variant):
        pytest.skip(f"{variant}: workgroup memory over this adapter's limit")
    _, run_matmul = gpu()
    shapes = SHAPES if epilogue == "store" else SHAPES[:1]
    for M, K, N in shapes:
        a = rand(K, M) if form == "tn" else rand(M, K)
        b = rand(N, K) if form == "nt" else rand(K, N)
        r = rand(M, N) if epilogue in ("add", "gelu_bwd") else None
        c = rand(M, N) if epilogue == "accumulate" else None
        got = run_matmul(a, b, form, variant, epilogue, r=r, c=c)
        want = ref_matmul(a, b, form, epilogue, r=r, c=c)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-4,
                                       err_msg=f"{variant} {form} {epilogue} {M}x{K}x{N} {key}")


# (R, C): scalar both sides (a single element, odd sizes), vec4 reads only (C % 4 == 0), vec4
# writes only (R % 4 == 0), vec4 both; blocks overhanging either edge, whole blocks, several
# blocks per axis with partial vec4 rows at the edges
TRANSPOSE_SHAPES = [(1, 1), (37, 23), (33, 65), (5, 130), (37, 24), (1, 68), (36, 23), (68, 1),
                    (64, 96), (4, 4), (132, 200), (200, 76)]


@pytest.mark.parametrize("R,C", TRANSPOSE_SHAPES)
def test_matmul_transpose(R, C):
    """The via-tn rows' operand transpose with the vec4 sides its row derives from R and C:
    every element of dst written (NaN-poisoned) and nothing past it."""
    run_kernel, _ = gpu()
    src = rand(R, C)
    got = run_kernel("matmul_transpose", {"src": src}, {"dst": (C + 1, R)}, {"R": R, "C": C})
    np.testing.assert_array_equal(got["dst"][:C], ref_transpose(src))
    assert np.isnan(got["dst"][C]).all()


@pytest.mark.parametrize("vec_in,vec_out", [(0, 0), (1, 0), (0, 1)])
def test_matmul_transpose_scalar_sides(vec_in, vec_out):
    """Each side's scalar path on an aligned shape (where the row would derive vec4 both ways),
    so the scalar loads and stores are checked on interior blocks too, not only at edges."""
    run_kernel, _ = gpu()
    R, C = 132, 200
    src = rand(R, C)
    got = run_kernel("matmul_transpose", {"src": src}, {"dst": (C + 1, R)}, {"R": R, "C": C},
                     constants={"VEC_IN": vec_in, "VEC_OUT": vec_out})
    np.testing.assert_array_equal(got["dst"][:C], ref_transpose(src))
    assert np.isnan(got["dst"][C]).all()


def test_matmul_transpose_derives_vec4_per_side():
    """vec4 only on a side whose rows hold whole vec4s: reads need C % 4 == 0, writes R % 4 == 0."""
    derive = registry.kernel("matmul_transpose").derive
    assert derive({"R": 36, "C": 23}) == {"VEC_IN": 0, "VEC_OUT": 1}
    assert derive({"R": 37, "C": 24}) == {"VEC_IN": 1, "VEC_OUT": 0}
    assert derive({"R": 4096, "C": 768}) == {"VEC_IN": 1, "VEC_OUT": 1}


# ---------------------------------------------------------------- layernorm
@pytest.mark.parametrize("C", [48, 130])
def test_layernorm(C):
    run_kernel, _ = gpu()
    rows = 37
    x, g, b, dy = rand(rows, C) + 0.5, rand(C) + 1.0, rand(C), rand(rows, C)
    out = run_kernel("layernorm_fwd", {"x": x, "g": g, "bias": b},
                     {"y": (rows, C), "stats": (rows, 2)}, {"rows": rows, "C": C, "eps": 1e-5})
    y, stats = ref_layernorm_fwd(x, g, b)
    np.testing.assert_allclose(out["y"], y, **TOL)
    np.testing.assert_allclose(out["stats"], stats, rtol=1e-4, atol=1e-5)
    dx, dg, db = ref_layernorm_bwd(dy, x, g, b)
    base = {"x": x, "stats": out["stats"], "g": g, "dy": dy}
    vals = {"rows": rows, "C": C}
    grads = {"dg": (C,), "db": (C,)}
    got = run_kernel("layernorm_bwd", base, {"dx": (rows, C), **grads}, vals, {"ACCUMULATE": 0})
    np.testing.assert_allclose(got["dx"], dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["dg"], dg, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["db"], db, rtol=1e-4, atol=1e-4)
    prior = rand(rows, C)
    got = run_kernel("layernorm_bwd", base, {"dx": prior, **grads}, vals, {"ACCUMULATE": 1})
    np.testing.assert_allclose(got["dx"], prior + dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["dg"], dg, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- embedding
def test_embedding():
    run_kernel, _ = gpu()
    B, T, C, V = 3, 7, 10, 256
    tokens = RNG.integers(0, 5, (B, T))  # few distinct ids: many repeats to accumulate
    tokens[0, 0] = 255
    wte, wpe, g, b = rand(V, C), rand(T, C), rand(C) + 1.0, rand(C)
    out = run_kernel("embed_ln_fwd", {"tokens": tokens, "wte": wte, "wpe": wpe, "g": g, "bias": b},
                     {"x": (B * T, C), "y": (B * T, C), "stats": (B * T, 2)},
                     {"rows": B * T, "T": T, "C": C, "eps": 1e-5})
    x, y, _ = ref_embed_ln_fwd(wte, wpe, tokens, g, b)
    np.testing.assert_allclose(out["x"], x, **TOL)
    np.testing.assert_allclose(out["y"], y, rtol=1e-4, atol=1e-4)
    from backends.gpu.step import Batch

    batch = Batch(B * T, V)
    packed = batch.pack(tokens, tokens)
    o = batch.offsets
    dx, prior = rand(B, T, C), rand(V, C)
    got = run_kernel("embed_bwd", {"dx": dx, "order": packed[o["order"]:o["order"] + B * T],
                                   "offsets": packed[o["offsets"]:o["offsets"] + V + 1]},
                     {"dwte": prior, "dwpe": (T, C)}, {"V": V, "T": T, "B": B, "C": C})
    dwte, dwpe = ref_embed_bwd(dx, tokens, V, T)
    np.testing.assert_allclose(got["dwte"], prior + dwte, **TOL)
    np.testing.assert_allclose(got["dwpe"], dwpe, **TOL)


# ---------------------------------------------------------------- attention
@pytest.mark.parametrize("variant", sorted(registry.ATTENTIONS))
def test_attention(variant):
    run_kernel, _ = gpu()
    av = registry.attention_variant(variant)
    B, T, H, hd = 2, 13, 3, 5
    C = H * hd
    qkv, dout = rand(B, T, 3 * C), rand(B, T, C)
    vals = {"B": B, "T": T, "H": H, "hd": hd, "C": C, "scale": 1 / math.sqrt(hd)}
    dims = {"B": B, "H": H, "T": T, "D": hd, "C": C}
    saved = {n: (int(np.prod([dims[ch] for ch in e])),) for n, e in av.saved.items()}
    fwd = run_kernel(av.forward, {"qkv": qkv}, {"out": (B * T, C), **saved}, vals)
    out, _ = ref_attention_fwd(qkv, H)
    np.testing.assert_allclose(fwd["out"], out.reshape(B * T, C), **TOL)
    dqkv = ref_attention_bwd(dout, qkv, H).reshape(B * T, 3 * C)
    scratch = {n: np.zeros(int(np.prod([dims[ch] for ch in e])), np.float32)
               for n, e in av.scratch.items()}
    state = {"qkv": qkv, "out": fwd["out"], "dout": dout,
             **{n: fwd[n] for n in av.saved}, **scratch}
    result = np.full((B * T, 3 * C), np.nan, np.float32)
    for k in av.backward:
        names = {b.name for b in wgsl.bindings(wgsl.source(k))}
        outs = {n: state[n] for n in names if n in scratch}
        outs["dqkv"] = result if "dqkv" in names else None
        outs = {n: v for n, v in outs.items() if v is not None}
        ins = {n: state[n] for n in names if n in state and n not in outs}
        got = run_kernel(k, ins, outs, vals)
        state.update({n: got[n] for n in scratch if n in got})
        result = got.get("dqkv", result)
    np.testing.assert_allclose(result, dqkv, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- loss and optimiser
def test_xent_and_loss_reduce():
    run_kernel, _ = gpu()
    rows, V = 70, 256
    logits, targets = rand(rows, V, scale=3.0), RNG.integers(0, V, rows)
    got = run_kernel("xent", {"targets": targets}, {"logits": logits, "losses": (rows,)},
                     {"rows": rows, "V": V, "inv_rows": 1 / rows})
    losses, dlogits = ref_xent(logits, targets)
    np.testing.assert_allclose(got["losses"], losses, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["logits"], dlogits, rtol=1e-4, atol=1e-7)
    red = run_kernel("loss_reduce", {"losses": losses.astype(np.float32)}, {"loss": (1,)},
                     {"rows": rows, "inv_rows": 1 / rows})
    np.testing.assert_allclose(red["loss"][0], ref_loss_reduce(losses), rtol=1e-6)


def test_adamw():
    run_kernel, _ = gpu()
    n, step = 1001, 3
    opt = OptimConfig(lr=1e-2, weight_decay=0.1)
    p, g, m, v = rand(n), rand(n), rand(n, scale=0.1), np.abs(rand(n, scale=0.1))
    bc1, bc2 = 1 - opt.beta1**step, 1 - opt.beta2**step
    vals = {"n": n, "lr": opt.lr, "beta1": opt.beta1, "beta2": opt.beta2, "eps": opt.eps,
            "weight_decay": opt.weight_decay, "step_size": opt.lr / bc1, "sqrt_bc2": bc2**0.5}
    got = run_kernel("adamw", {"grads": g}, {"params": p, "m": m, "v": v}, vals)
    wp, wm, wv = ref_adamw(p, g, m, v, step, opt)
    np.testing.assert_allclose(got["params"], wp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["m"], wm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["v"], wv, rtol=1e-5, atol=1e-7)
