"""Kernel variants (issue 4) on the software adapter: every matmul variant x form, fa2 forward and
backward, end-to-end parity for every matmul x attention pair, and fa2's O(T) memory.

Outputs are NaN-poisoned before each dispatch (``run_kernel``), so an unwritten element fails.
Shapes are small (lavapipe is ~1000x slower than a GPU) but cross the 64/128 tile edges, and the
vec4 shapes are chosen so that its vectorised path (not its fallback) is what runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from gpu_fixtures import fits, requires_adapter
from helpers import ref_probe_fma

from backends import BackendError, get_backend
from backends import reference as R
from bench.model import ModelConfig, init_params
from kernels import registry

pytestmark = requires_adapter

RNG = np.random.default_rng(4321)
# Every variant of the registry (tiled16: test_gpu_kernels); a new row is picked up here.
VARIANTS = [v for v in sorted(registry.MATMULS) if v != "tiled16"]
# (M, K, N): odd, single row/column, K = 1, and tiles overhanging 64 and 128 on every side.
ODD_SHAPES = [(37, 23, 29), (1, 50, 17), (33, 1, 65), (150, 7, 131)]
# Multiples of 4 on every axis, so the vec4 loads run wherever a form has them (tn's A, nn's and
# tn's B) and the v4 rows' stores run (N % 4 == 0; on the odd shapes above they run as their
# scalar twins).
VEC_SHAPES = [(132, 12, 68), (4, 4, 8), (140, 44, 136)]


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def operands(form, M, K, N):
    a = rand(K, M) if form == "tn" else rand(M, K)
    b = rand(N, K) if form == "nt" else rand(K, N)
    return a, b


def product(a, b, form):
    A = a.T if form == "tn" else a
    B = b.T if form == "nt" else b
    return A.astype(np.float64) @ B.astype(np.float64)


# ---------------------------------------------------------------- matmul
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("form", ["nn", "nt", "tn"])
def test_matmul_variant_shapes(variant, form):
    from backends.gpu import run_matmul

    if not fits(variant):
        with pytest.raises(BackendError, match="bytes of workgroup memory"):
            run_matmul(*operands(form, 4, 4, 4), form, variant)
        pytest.skip(f"{variant}: workgroup memory over this adapter's limit (refusal checked)")
    for M, K, N in ODD_SHAPES + VEC_SHAPES:
        a, b = operands(form, M, K, N)
        got = run_matmul(a, b, form, variant)["c"]
        np.testing.assert_allclose(got, product(a, b, form), rtol=1e-4, atol=1e-4,
                                   err_msg=f"{variant} {form} M,K,N={M},{K},{N}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_matmul_variant_epilogues(variant):
    """Each epilogue through each variant's own kernel, on a vec4-friendly shape (the v4 rows'
    vec4 stores, store_c4: N % 4 == 0) and on one with N % 4 != 0 (scalar stores)."""
    from backends.gpu import run_matmul

    if not fits(variant):
        pytest.skip(f"{variant}: workgroup memory over this adapter's limit")
    cases = [("nn", "add"), ("nn", "gelu"), ("nt", "gelu_bwd"), ("tn", "accumulate")]
    for (M, K, N), (form, epilogue) in itertools.product([(132, 12, 68), (37, 9, 30)], cases):
        a, b = operands(form, M, K, N)
        acc = product(a, b, form)
        r = rand(M, N)
        c = rand(M, N)
        got = run_matmul(a, b, form, variant, epilogue, r=r, c=c if epilogue == "accumulate"
                         else None)
        want = {"add": acc + r, "gelu": R.gelu_fwd(acc)[0],
                "gelu_bwd": R.gelu_bwd(acc, r.astype(np.float64)), "accumulate": c + acc}
        np.testing.assert_allclose(got["c"], want[epilogue], rtol=1e-4, atol=1e-4,
                                   err_msg=f"{variant} {form} {epilogue} M,K,N={M},{K},{N}")
        if epilogue == "gelu":
            np.testing.assert_allclose(got["aux"], acc, rtol=1e-4, atol=1e-4)


def test_vec4_rule_sets_the_constant():
    """The tile kernels load vec4 exactly where the m- / n-contiguous operands allow it (K
    never matters: K-contiguous operands load as scalars); a v4 row stores vec4 exactly where
    N % 4 == 0 and is its scalar twin elsewhere, split or not."""
    from kernels import matmul_plan

    def vec(form, M, N, K):
        return matmul_plan.plan_matmul("b128", form, M, N, K).constants["VEC"]

    for M, K, N in VEC_SHAPES:
        for form in ("nn", "nt", "tn"):
            assert vec(form, M, N, K) == 1
    assert vec("nn", 8, 8, 6) == 1 and vec("nn", 8, 6, 8) == 0
    assert vec("tn", 6, 8, 8) == 0 and vec("tn", 8, 6, 8) == 0 and vec("tn", 8, 8, 7) == 1
    assert vec("nt", 6, 7, 9) == 1
    for M, K, N in ODD_SHAPES + VEC_SHAPES + [(6, 8, 8), (8, 6, 7)]:
        for form in ("nn", "nt", "tn"):
            for variant, splits in [("b128v4", None), ("b64v4", 2), ("b128", None)]:
                plan = matmul_plan.plan_matmul(variant, form, M, N, K, splits=splits)
                vec4_out = variant.endswith("v4") and N % 4 == 0
                assert plan.kernel == ("matmul_blocked_v4" if vec4_out else "matmul_blocked")
                assert plan.ran == (variant if vec4_out else variant.removesuffix("v4"))


def test_v4_kernel_writes_c_through_vec4_bindings_only():
    """matmul_blocked_v4 binds the output side as vec4 (c4, r4, aux4 at the scalar kernel's
    binding numbers) and no scalar view of it, and so binds no more buffers than its twin."""
    from kernels import wgsl

    v4 = {b.index: b.name for b in wgsl.bindings(wgsl.source("matmul_blocked_v4"))}
    scalar = {b.index: b.name for b in wgsl.bindings(wgsl.source("matmul_blocked"))}
    assert {v4[i] for i in (3, 4, 5)} == {"c4", "r4", "aux4"}
    assert {scalar[i] for i in (3, 4, 5)} == {"c", "r", "aux"}
    assert not {"c", "r", "aux"} & set(v4.values()) and len(v4) == len(scalar)


def test_blocked_rows_read_their_tile_and_memory():
    """Tile sizes are written once (the row's constants); the grid and the workgroup memory
    follow from them."""
    from kernels import wgsl

    v = registry.matmul_variant("b64t8")
    assert v.tile == (64, 64)
    k = registry.kernel(v.kernel)
    consts = {**k.constants, **v.constants}
    assert k.grid({**consts, "M": 300, "N": 130, "K": 5}) == (3, 5, 1)
    assert k.grid({**consts, "SPLITS": 4, "M": 64, "N": 64, "K": 5}) == (1, 1, 4)
    # two buffers of BK = 4 k-rows of (BM/4 + 1) and (BN/4 + 1) vec4
    assert wgsl.kernel_workgroup_bytes(v.kernel, consts) == 2 * 4 * (17 + 17) * 16
    assert wgsl.kernel_workgroup_bytes("matmul_blocked") == 2 * 8 * (33 + 33) * 16  # b128
    for name in {r.kernel for r in registry.MATMULS.values() if r.kernel}:
        # the registry's defaults are the WGSL's own (the row lists the names it may set)
        defaults = wgsl.override_values(wgsl.source(name))
        assert {n: defaults[n] for n in registry.kernel(name).constants} == \
            registry.kernel(name).constants, name


def test_unrolled_k_loops_follow_the_form_they_run():
    """UK (k-rows per pass of a tile core's loop, written out in the source) may differ by the
    form a call runs: b128t84's rows write the whole k-tile out on the tn path only, their via-tn
    twins run every form on it; every row's UK divides its k-tile, and one that does not (or
    exceeds what the core's source writes out) is refused."""
    from kernels import matmul_plan

    def uk(name, form):
        return matmul_plan.plan_matmul(name, form, 300, 260, 500).constants["UK"]

    assert [uk("b128t84", f) for f in ("nn", "nt", "tn")] == [1, 1, 16]
    assert [uk("b128t84o", f) for f in ("nn", "nt", "tn")] == [8, 8, 16]
    assert [uk("b128t84otr", f) for f in ("nn", "nt", "tn")] == [16, 16, 16]
    assert matmul_plan.plan_matmul("b128t84otr", "nt", 300, 260, 500).transposes == ("a", "b")
    for name, row in registry.MATMULS.items():
        if "UK" not in registry.kernel(row.kernel or "matmul_tiled16").constants:
            continue
        for form in ("nn", "nt", "tn"):
            c = {**registry.kernel(row.kernel).constants,
                 **matmul_plan.plan_matmul(name, form, 300, 260, 500).constants}
            assert c["BK"] % c["UK"] == 0 and c["UK"] in (1, 2, 4, 8, 16), (name, form)
            assert c["UK"] <= registry.UNROLL_MOST, (name, form)
    with pytest.raises(registry.VariantError, match="UK = 16"):
        registry._blocked("bad", "", BK=8, UK=16)
    with pytest.raises(registry.VariantError, match="UK = 16"):
        registry._warptile("bad", "", BM=128, BN=128, BK=8, UK=16)
    with pytest.raises(registry.VariantError, match="UK = 3"):
        registry._blocked("bad", "", BK=12, UK=3)
    # per-form constants pass the same check (rows built by replace() included)
    w64 = registry.matmul_variant("w64")
    with pytest.raises(registry.VariantError, match=r"\(tn\): UK = 16"):
        registry.check_matmul_row(replace(w64, form_constants={"tn": {"UK": 16}}))
    with pytest.raises(registry.VariantError, match="unknown form"):
        registry.check_matmul_row(replace(w64, form_constants={"NN": {"UK": 2}}))
    with pytest.raises(registry.VariantError, match="no override constant"):
        registry.check_matmul_row(replace(w64, form_constants={"nt": {"TM": 4}}))
    with pytest.raises(registry.VariantError, match="UK = 8"):
        registry._with(registry.matmul_variant("b64t8"), UK=8)  # BK = 4
    # a via-tn twin keeps only the tn form's constants: it runs every call on the tn path
    assert registry.matmul_variant("b128t84otr").form_constants == {}


def test_staged_write_rows_fit_their_tile_buffer():
    """The staged write (kernel matmul_blocked_os) reuses the A tile buffer for a slab of BM/TM
    rows of 4 planes of BN/4 + 8 floats, in a kernel built without runtime checks: a row whose
    slab would overrun the buffer is refused, one that fits gets the staged kernel."""
    from kernels import wgsl

    with pytest.raises(registry.VariantError, match="does not fit"):
        registry._os(registry.matmul_variant("b128"))  # 16 x 160 floats > 2 x 8 x 33 vec4
    for name in ("b128t84o", "b128x64o", "b64o"):
        v = registry.matmul_variant(name)
        assert v.kernel == "matmul_blocked_os", name
        consts = {**registry.kernel(v.kernel).constants, **v.constants}
        # the sizes as the kernel's own WGSL declares them, not the registry's formula
        o = wgsl.override_values(wgsl.source(v.kernel), consts)
        assert o["WY"] * 4 * o["PL"] <= 2 * o["BK"] * o["SA"] * 4, name  # floats
        # the staged kernel asks for no more workgroup memory than the direct one
        assert wgsl.kernel_workgroup_bytes(v.kernel, consts) == \
            wgsl.kernel_workgroup_bytes("matmul_blocked", consts), name


# ---------------------------------------------------------------- fa2 kernels
def run_attention(variant, B, T, H, hd, constants=None, seed=None):
    """Random inputs through ``backends.gpu.run_attention`` (forward, then the backward kernels
    in order, like the step); returns qkv, dout, the forward's outputs by name, dqkv.

    ``constants`` (override constants) go to the backward kernels, replacing derived ones;
    ``seed`` draws the inputs from a fresh generator instead of the module's."""
    from backends.gpu import run_attention as run

    C = H * hd
    rng = RNG if seed is None else np.random.default_rng(seed)
    qkv, dout = (rng.standard_normal(s).astype(np.float32) for s in ((B, T, 3 * C), (B, T, C)))
    out, saved, dqkv = run(variant, qkv, dout, B, H, constants)
    return qkv, dout, {"out": out, **saved}, dqkv


# T not a multiple of the 64 / 32 / 16-row blocks or the 16-row tiles, shorter than one tile
# (1, 13), exactly one 64-row block (64); head_dim over every lane count G = 1, 2, 4 with every
# chunk count per lane, a partial last chunk (5, 33, 113) and lanes with unequal shares (40, 72,
# 100, 113).
@pytest.mark.parametrize("B,T,H,hd", [(2, 13, 3, 5), (1, 37, 2, 16), (2, 33, 1, 33),
                                      (1, 20, 2, 72), (1, 17, 1, 128), (1, 41, 2, 100),
                                      (1, 1, 2, 4), (2, 64, 2, 40), (1, 70, 2, 24),
                                      (1, 45, 1, 113), (1, 35, 1, 112), (1, 50, 1, 64)])
@pytest.mark.parametrize("layout", ["derived", "fewest lanes", "vec4 staging", "prefetch",
                                    "prefetch, more lanes", "subgroup lanes", "two rows",
                                    "two rows, subgroup lanes"])
def test_fa2_kernels(B, T, H, hd, layout):
    """Derived constants (at these short shapes: more lanes per row, one tile per stage), the
    layout of long sequences (fewest lanes G, two tiles staged, one score group at a time), the
    chunk staging (PF = 1: vec4 loads where head_dim % 4 == 0, scalar otherwise; PF = 2: the
    next block fetched into registers while the current one is computed), the lanes added by
    subgroup shuffles (SG = 1: the kernels' subgroup twins, one score group at a time at any G)
    and two resident rows per invocation (RR = 2, the fewest lanes that hold <= 16 dims each)."""
    consts = None
    if layout != "derived":
        consts = {"G": registry.fa2_lanes(hd), "ST": registry.fa2_tiles(hd), "IL": 1,
                  "PF": {"vec4 staging": 1, "prefetch": 2}.get(layout, 0)}
    if layout == "prefetch, more lanes":
        consts = {"G": 4, "ST": 1, "IL": 0, "PF": 2}
    if "subgroup" in layout:
        _need_subgroup()
        consts = {**consts, "SG": 1, "PF": 1}
    if layout.startswith("two rows"):
        if hd > 64:
            pytest.skip("RR = 2 holds at most 16 dims per lane (G <= 4): head_dim <= 64")
        lanes = next(g for g in registry.FA2_LANES if 16 * g >= hd)
        consts = {**consts, "G": lanes, "RR": 2}
    qkv, dout, fwd, dqkv = run_attention("fa2", B, T, H, hd, consts)
    out, cache = R.attention_fwd(qkv.astype(np.float64), H)
    np.testing.assert_allclose(fwd["out"], out.reshape(B * T, -1), rtol=2e-5, atol=2e-5)
    q, k = (qkv.astype(np.float64).reshape(B, T, 3, H, hd)[:, :, i].transpose(0, 2, 1, 3)
            for i in (0, 1))
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + np.triu(np.full((T, T), -np.inf), 1)
    lse = np.log(np.exp(s - s.max(-1, keepdims=True)).sum(-1)) + s.max(-1)
    np.testing.assert_allclose(fwd["lse"], lse.reshape(-1), rtol=1e-5, atol=1e-5)
    want = R.attention_bwd(dout.astype(np.float64), cache).reshape(B * T, -1)
    np.testing.assert_allclose(dqkv, want, rtol=1e-4, atol=1e-5)


def _need_subgroup():
    from backends.gpu.device import get_device

    if "subgroup" not in get_device().features:
        pytest.skip("this adapter lacks the subgroup feature (the fa2 subgroup twins need it)")


def test_fa2_subgroup_twins_and_two_rows_same_bits():
    """The lanes added by shuffles (SG = 1) or through workgroup memory (SG = 0) make the same
    sums in the same order, and a second resident row (RR = 2) reads the same tile chunks in the
    same order as one row per invocation: all four combinations give the same bits."""
    _need_subgroup()
    base = {"G": 4, "ST": 1, "IL": 1, "PF": 1}
    *_, fwd, want = run_attention("fa2", 2, 45, 2, 40, {**base, "RR": 1, "SG": 0}, seed=5)
    for rr, sg in ((1, 1), (2, 0), (2, 1)):
        *_, other_fwd, other = run_attention("fa2", 2, 45, 2, 40, {**base, "RR": rr, "SG": sg},
                                             seed=5)
        np.testing.assert_array_equal(want, other)
        np.testing.assert_array_equal(fwd["out"], other_fwd["out"])
        np.testing.assert_array_equal(fwd["lse"], other_fwd["lse"])


@pytest.mark.parametrize("hd", [24, 40])
def test_fa2_default_two_rows_at_many_workgroups(hd):
    """With the subgroup feature and at least FA2_RR_MIN_GROUPS workgroups (here many heads of
    a short sequence) the derived layout is two rows per invocation over twice the fewest lanes,
    lanes added by shuffles; it matches the float64 reference and, bit for bit, the same lanes
    with one row per invocation through workgroup memory."""
    _need_subgroup()
    B, T, H = 32, 37, 32
    u = {"B": B, "H": H, "T": T, "hd": hd, "subgroup": True}
    got = registry.resolve_constants("attn_fa2_bwd_kv", u, None)
    assert (got["G"], got["RR"], got["SG"]) == (2 * registry.fa2_lanes(hd), 2, 1), got
    fewest = registry.resolve_constants("attn_fa2_bwd_kv", {**u, "subgroup": False}, None)
    assert (fewest["RR"], fewest["SG"]) == (1, 0), fewest
    qkv, dout, fwd, dqkv = run_attention("fa2", B, T, H, hd, seed=9)
    *_, plain = run_attention("fa2", B, T, H, hd, {"G": got["G"], "RR": 1, "SG": 0}, seed=9)
    np.testing.assert_array_equal(dqkv, plain)
    out, cache = R.attention_fwd(qkv.astype(np.float64), H)
    np.testing.assert_allclose(fwd["out"], out.reshape(B * T, -1), rtol=2e-5, atol=2e-5)
    want = R.attention_bwd(dout.astype(np.float64), cache).reshape(B * T, -1)
    np.testing.assert_allclose(dqkv, want, rtol=1e-4, atol=1e-5)


def test_fa2_small_grid_spreads_rows_with_subgroup():
    """With `subgroup`, head_dim 17..32 and fewer than FA2_RR_MIN_GROUPS workgroups (huge's
    attention: 384 at G = 1), rows go over two lanes added by shuffles, one row per invocation;
    below FA2_MIN_GROUPS still over four (medium); hd 33..64 and the devices without the feature
    keep their layouts."""
    derive = registry.KERNELS["attn_fa2_bwd_kv"].derive
    huge = {"B": 8, "H": 12, "T": 256, "hd": 32, "subgroup": True}
    got = derive(huge)
    assert (got["G"], got["RR"], got["SG"], got["ST"], got["PF"]) == (2, 1, 1, 2, 2), got
    assert math.prod(registry.KERNELS["attn_fa2_bwd_kv"].grid({**huge, **got})) == 768
    medium = derive({**huge, "H": 4, "T": 128})
    assert (medium["G"], medium["RR"], medium["SG"], medium["ST"]) == (4, 1, 1, 1), medium
    assert derive({**huge, "hd": 64})["SG"] == 0
    assert (derive({**huge, "subgroup": False})["G"], derive({**huge, "subgroup": False})["SG"]) \
        == (1, 0)
    assert derive({**huge, "T": 1024})["RR"] == 2  # 1536 workgroups at G = 1: two rows


def test_fa2_subgroup_refused_without_the_feature():
    """SG = 1 on a device without `subgroup` is refused naming the feature; RR = 2 where a lane
    would hold more than 16 dims, and an SG or RR out of range, are refused by name."""
    from types import SimpleNamespace

    from backends.gpu.pipelines import Pipelines

    bare = Pipelines(SimpleNamespace(features=frozenset(), limits={}, device=None))
    with pytest.raises(BackendError, match=r"attn_fa2_fwd_sg needs feature\(s\) \['subgroup'\]"):
        bare.get("attn_fa2_fwd", {"HD": 32, "G": 1, "SG": 1})
    with pytest.raises(registry.VariantError, match="resident rows RR=2"):
        registry.check_attention_constants("fa2", 64, {"G": 2, "RR": 2})
    for bad in ({"SG": 2}, {"RR": 3}):
        with pytest.raises(registry.VariantError, match=next(iter(bad))):
            registry.check_attention_constants("fa2", 32, bad)


def test_fa2_lanes_per_row_and_determinism():
    """G (lanes per row, override) follows head_dim, and grows where a short sequence leaves few
    workgroups; more lanes than needed only split the same dot products over more invocations
    (added across lanes in a fixed order): same result to rounding. ST and IL only reorder the
    work, not the sums. No atomics: a rerun gives the same bits."""
    long = {"B": 8, "H": 16, "T": 512}  # enough rows for FA2_MIN_GROUPS workgroups at G = 1
    assert [registry.KERNELS["attn_fa2_bwd_kv"].derive({**long, "hd": hd})["G"]
            for hd in (1, 32, 33, 64, 65, 128)] == [1, 1, 2, 2, 4, 4]
    # staging: prefetch into registers at G = 1, vec4 chunks without prefetch above
    assert [registry.KERNELS["attn_fa2_bwd_kv"].derive({**long, "hd": hd})["PF"]
            for hd in (32, 64)] == [2, 1]
    short = {"B": 8, "H": 4, "T": 128}  # 64 workgroups at G = 1: rows spread over 4 lanes
    assert [registry.KERNELS[k].derive({**short, "hd": hd})["G"]
            for k in ("attn_fa2_fwd", "attn_fa2_bwd_q") for hd in (32, 64)] == [4, 2, 4, 2]
    for hd, lanes, tiles in ((32, 1, 8), (64, 2, 4), (64, 4, 4), (100, 4, 2)):
        with pytest.raises(registry.VariantError, match="staged tiles"):
            registry.check_attention_constants("fa2", hd, {"G": lanes, "ST": tiles})
    assert registry.fa2_lanes(20, 4) == 4
    for hd, lanes in ((129, None), (40, 1), (20, 3)):
        with pytest.raises(registry.VariantError, match="head_dim"):
            registry.fa2_lanes(hd, lanes)
    *_, derived = run_attention("fa2", 1, 40, 2, 20, seed=7)  # G = 4: a short sequence
    *_, again = run_attention("fa2", 1, 40, 2, 20, {"G": 4}, seed=7)
    np.testing.assert_array_equal(derived, again)
    # G = 1 with every staging depth, one score group at a time or four: the same sums in the
    # same order, so the same bits; against G = 4 (lanes added across) the same to rounding
    qkv, _, fwd, narrow = run_attention("fa2", 1, 40, 2, 20, {"G": 1, "ST": 1, "IL": 0}, seed=7)
    for st, il in ((2, 1), (4, 0), (4, 1)):
        *_, other = run_attention("fa2", 1, 40, 2, 20, {"G": 1, "ST": st, "IL": il}, seed=7)
        np.testing.assert_array_equal(narrow, other)
    for pf in (1, 2):  # chunk staging, with and without prefetch: the same tiles, the same bits
        *_, other = run_attention("fa2", 1, 40, 2, 20, {"G": 1, "ST": 2, "IL": 1, "PF": pf}, seed=7)
        np.testing.assert_array_equal(narrow, other)
    np.testing.assert_allclose(derived, narrow, rtol=1e-6, atol=1e-6)
    out, _ = R.attention_fwd(qkv.astype(np.float64), 2)
    np.testing.assert_allclose(fwd["out"], out.reshape(40, -1), rtol=2e-5, atol=2e-5)


# ---------------------------------------------------------------- the step
AWKWARD = ModelConfig(d_model=36, n_layer=1, n_head=3, seq_len=19, batch=3)  # hd 12, N = 57
ODD_D = ModelConfig(d_model=30, n_layer=1, n_head=3, seq_len=11, batch=2)  # K = 30: vec4 falls back


@pytest.fixture(scope="module")
def reference_grads():
    out = {}
    for cfg in (AWKWARD, ODD_D):
        ref = get_backend("reference", cfg)
        ref.load_params(init_params(cfg, 3))
        rng = np.random.default_rng(1)
        batch = tuple(rng.integers(0, cfg.vocab, (cfg.batch, cfg.seq_len)) for _ in range(2))
        out[cfg] = (batch, *ref.loss_and_grads(*batch))
    return out


@pytest.mark.parametrize("attention", sorted(registry.ATTENTIONS))
@pytest.mark.parametrize("matmul", sorted(registry.MATMULS))
def test_step_parity_every_combination(matmul, attention, reference_grads):
    if not fits(matmul):
        pytest.skip(f"{matmul}: workgroup memory over this adapter's limit")
    cfg = ODD_D if attention == "fa2" and matmul in ("b128", "b64") else AWKWARD
    batch, want_loss, want = reference_grads[cfg]
    b = get_backend("gpu", cfg, matmul=matmul, attention=attention)
    try:
        b.load_params(init_params(cfg, 3))
        loss, grads = b.loss_and_grads(*batch)
        d = b.describe()
    finally:
        b.close()
    assert d["matmul"] == matmul and d["attention"] == attention
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for name, g in want.items():
        err = np.abs(grads[name] - g).max() / (np.abs(g).max() + 1e-12)
        assert err < 1e-4, f"{matmul}/{attention} {name}: relative error {err:.2e}"
    assert d["matmul_fallbacks"] == []


def _largest_buffer(config, attention):
    b = get_backend("gpu", config, attention=attention)
    try:
        return max(buf.size // 4 for buf in b.pool.buffers.values())
    finally:
        b.close()


def test_fa2_allocates_no_t_squared_buffer():
    cfg = ModelConfig(d_model=32, n_layer=1, n_head=4, seq_len=96, batch=1)
    bhtt = cfg.batch * cfg.n_head * cfg.seq_len**2
    assert _largest_buffer(cfg, "naive") >= bhtt  # the check can see a T^2 buffer
    assert _largest_buffer(cfg, "fa2") < bhtt


def test_fa2_refuses_head_dim_over_128():
    cfg = ModelConfig(d_model=258, n_layer=1, n_head=2, seq_len=8, batch=1)
    with pytest.raises(BackendError, match=r"'fa2' supports head_dim <= 128.*head_dim 129"):
        get_backend("gpu", cfg, attention="fa2")


def test_unknown_variant_lists_the_new_ones():
    with pytest.raises(BackendError, match=", ".join(sorted(registry.MATMULS))):
        get_backend("gpu", AWKWARD, matmul="blocked2x2")
    with pytest.raises(BackendError, match="fa2, naive"):
        get_backend("gpu", AWKWARD, attention="fa3")


# ---------------------------------------------------------------- micro-benchmarks
def test_peak_probes():
    from backends.gpu import run_kernel

    n, iters = 1000, 9
    got = run_kernel("probe_fma", {}, {"out": (n,)}, {"n": n, "iters": iters, "mul": 0.75,
                                                       "add": 0.25})
    np.testing.assert_allclose(got["out"], ref_probe_fma(n, iters, 0.75, 0.25), rtol=1e-5)
    src = rand(4 * 300)
    got = run_kernel("probe_copy", {"src": src}, {"dst": (4 * 300,)}, {"n4": 300})
    np.testing.assert_array_equal(got["dst"], src)


def test_kernel_bench_gates_then_times(monkeypatch):
    from backends.gpu.microbench import MicroBench
    from backends.host import is_software
    from bench import kernel_bench

    real = MicroBench.check_matmul
    monkeypatch.setattr(MicroBench, "check_matmul", lambda self, v: (False, "broken on purpose")
                        if v == "b64" else real(self, v))
    monkeypatch.setattr(kernel_bench, "ATTENTION_SHAPE", {"B": 1, "H": 2, "hd": 8})
    rows = kernel_bench.run_kernels(sizes=[24], seqs=[12], matmuls=["b64", "b128"],
                                    attentions=["fa2"], forms=["tn"], budget_s=0.05)
    by_kind = {(r["kind"], r["variant"]): r for r in rows}
    assert by_kind[("matmul", "b64")]["status"] == "failed: broken on purpose"
    assert "seconds" not in by_kind[("matmul", "b64")]  # never timed
    for key in [("peak_fma", "probe_fma"), ("peak_copy", "probe_copy"), ("matmul", "b128"),
                ("attention", "fa2")]:
        r = by_kind[key]
        assert r["status"] == "ok" and r["seconds"] > 0, key
        assert r["software"] is is_software(r), key  # flagged exactly when a rasteriser ran
    assert by_kind[("matmul", "b128")]["share_of_peak"] > 0
    assert by_kind[("matmul", "b128")]["profile_s"] > 0  # the per-dispatch profile beside it
    fa2 = by_kind[("attention", "fa2")]
    assert min(fa2["fwd_s"], fa2["dq_s"], fa2["dkv_s"]) > 0  # the split by kernel (timestamps)
    assert "vendor_s" not in fa2 or fa2["vs_vendor"] > 0  # SDPA only where torch sees CUDA
    assert by_kind[("peak_copy", "probe_copy")]["gbps"] > 0
    with pytest.raises(BackendError, match="seq_len <= 1024"):
        MicroBench().attention("naive", B=1, H=1, T=2048, hd=8)


def test_fa2_gpu_and_cpu_train_side_by_side():
    """50 AdamW steps of fa2 on the GPU and on the CPU from one init stay within 1% loss."""
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=4, seq_len=16, batch=8)
    params = init_params(cfg, 7)
    gpu = get_backend("gpu", cfg, attention="fa2")
    cpu = get_backend("cpu", cfg, attention="fa2", threads=1)
    gpu.load_params(params)
    cpu.load_params(params)
    rng = np.random.default_rng(100)
    for step in range(50):
        tokens, targets = (rng.integers(0, cfg.vocab, (cfg.batch, cfg.seq_len)) for _ in (0, 1))
        a, b = gpu.train_step(tokens, targets), cpu.train_step(tokens, targets)
        assert abs(a - b) <= 0.01 * abs(b), f"step {step}: gpu {a} cpu {b}"


def test_trusted_kernels_build_without_runtime_checks():
    """The rows marked ``trusted`` get wgpu-native's unchecked module (a wgpu upgrade that drops
    the entry point would fall back silently and slow every matmul: caught here)."""
    from backends.gpu.device import get_device
    from backends.gpu.trusted import create_module
    from kernels import wgsl

    dev = get_device()
    trusted = [n for n, k in registry.KERNELS.items() if k.trusted]
    assert "matmul_blocked" in trusted
    for name in trusted:
        _, unchecked = create_module(dev.device, name, wgsl.source(name), True)
        assert unchecked, name
    assert create_module(dev.device, "x", wgsl.source("matmul_tiled16"), False)[1] is False


def test_case_times_one_pass_and_profiles_per_dispatch():
    """``run`` times the batch as one pass; ``profile`` times each dispatch's own pass and splits
    by kernel, its parts adding up to what it returns (a split-K repetition is two dispatches)."""
    from backends.gpu.microbench import MicroBench

    mb = MicroBench()
    if not mb.timestamps:
        pytest.skip("adapter without timestamp-query: both fall back to wall time")
    case = mb.matmul("b64", "tn", 40, 24, 300, repeats=3, splits=2)
    try:
        assert case.split == {}  # nothing profiled yet
        first = case.run()
        assert first > 0 and case.split == {}
        busy = case.profile()
        labels = {d.label for d in case.graph.dispatches}
        assert len(labels) == 2 and set(case.split) == labels
        assert math.isclose(sum(case.split.values()), busy, rel_tol=1e-9)
        assert case.run() > 0  # the query set serves both ways in turn
    finally:
        case.close()
