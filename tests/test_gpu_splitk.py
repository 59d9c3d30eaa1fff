"""Split-K matmul and the ``auto`` matmul variant on the software adapter.

Split-K: every form on awkward shapes with forced slice counts (including slices that fall past
K and compute zeros), every epilogue through the reduce, NaN-poisoned outputs and scratch
(``run_matmul``), and two runs bitwise equal (the reduce adds the slices in a fixed order).
``auto``: its per-call choices follow the registry rule, and a full training step with split
weight gradients matches the reference and counts the extra dispatches.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_fixtures import requires_adapter
from helpers import ref_matmul

from backends import get_backend
from bench.model import ModelConfig, init_params
from kernels import matmul_plan, matmul_rules, registry, wgsl

pytestmark = requires_adapter

RNG = np.random.default_rng(777)
# (M, K, N, splits): odd sizes, tiles overhanging 64, K not a multiple of 16 or of the slices,
# slices past K (K = 17 in 5 slices of 16; K = 33 in 4), a rule-chosen split (None), and N % 4 ==
# 0 with M odd (a v4 row's partial tiles stored as vec4; every other shape stores scalars).
SPLIT_SHAPES = [(37, 300, 29, 3), (5, 17, 130, 5), (65, 33, 3, 4), (70, 520, 33, None),
                (1, 200, 1, 2), (37, 150, 68, 3)]


def operands(form, M, K, N):
    a = RNG.standard_normal((K, M) if form == "tn" else (M, K)).astype(np.float32)
    b = RNG.standard_normal((N, K) if form == "nt" else (K, N)).astype(np.float32)
    return a, b


# the split-K rule's row, and each direct row of the other tile kernels (matmul_warptile,
# matmul_blocked_v4 with its vec4 partial stores, matmul_blocked_os with its partial tiles
# written through workgroup memory) that fits
SPLIT_ROWS = ["splitk", *(v.name for v in registry.MATMULS.values()
                          if v.kernel in ("matmul_warptile", "matmul_blocked_v4",
                                          "matmul_blocked_os")
                          and not v.via_tn)]


@pytest.mark.parametrize("variant", SPLIT_ROWS)
@pytest.mark.parametrize("form", ["nn", "nt", "tn"])
def test_splitk_shapes_and_determinism(form, variant):
    from gpu_fixtures import fits

    from backends.gpu import run_matmul

    if not fits(variant):
        pytest.skip(f"{variant}: workgroup memory over this adapter's limit")
    for M, K, N, S in SPLIT_SHAPES:
        if S is None and variant != "splitk":
            S = 2  # only the splitk row has a split rule of its own
        if S is None and form != "tn":
            continue  # the rule splits weight gradients (tn) only
        a, b = operands(form, M, K, N)
        plan = matmul_plan.plan_matmul(variant, form, M, N, K, splits=S)
        assert plan.splits > 1 and plan.constants["SPLITS"] == plan.splits, plan
        got = run_matmul(a, b, form, variant, splits=S)["c"]
        np.testing.assert_allclose(got, ref_matmul(a, b, form, "store")["c"], rtol=1e-4,
                                   atol=1e-4, err_msg=f"{variant} {form} M,K,N,S={M},{K},{N},{S}")
        again = run_matmul(a, b, form, variant, splits=S)["c"]
        assert np.array_equal(got.view(np.uint32), again.view(np.uint32)), (form, M, K, N, S)


@pytest.mark.parametrize("form", ["nn", "nt", "tn"])
def test_vec4_reduce_adds_the_slices_as_the_scalar_reduce(form, monkeypatch):
    """At N % 4 == 0 the split-K reduce runs as its vec4 twin, elsewhere as the scalar kernel;
    the twin adds each element's slices in the same order, so the sums are bitwise the same."""
    from backends.gpu import run_matmul

    for N in (68, 29):
        plan = matmul_plan.plan_matmul("splitk", form, 37, N, 150, splits=3)
        want = matmul_rules.SPLITK_REDUCE_V4 if N % 4 == 0 else matmul_rules.SPLITK_REDUCE
        assert plan.reduce == want, (N, plan)
    assert matmul_plan.plan_matmul("b64v4", form, 37, 68, 150).reduce is None  # one pass
    names = {b.name for b in wgsl.bindings(wgsl.source(matmul_rules.SPLITK_REDUCE_V4))}
    assert {"part4", "c4", "r4", "aux4"} <= names and not {"part", "c", "r", "aux"} & names
    for variant in ("splitk", "b64v4"):
        a, b = operands(form, 37, 150, 68)
        vec4 = run_matmul(a, b, form, variant, splits=3)["c"]
        with monkeypatch.context() as m:
            # the planner's own name only: b64v4's row still accepts N % 4 == 0 (registry's name)
            m.setattr(matmul_plan, "vec4_store_ok", lambda N: False)
            assert matmul_plan.plan_matmul(variant, form, 37, 68, 150, splits=3).reduce \
                == matmul_rules.SPLITK_REDUCE
            scalar = run_matmul(a, b, form, variant, splits=3)["c"]
        np.testing.assert_allclose(vec4, ref_matmul(a, b, form, "store")["c"], rtol=1e-4,
                                   atol=1e-4, err_msg=f"{variant} {form}")
        assert np.array_equal(vec4.view(np.uint32), scalar.view(np.uint32)), (variant, form)
        with monkeypatch.context() as m:  # its 3 workgroups folded into (2, 2): one overhangs
            m.setattr(registry, "MAX_GROUPS", 2)
            folded = run_matmul(a, b, form, variant, splits=3)["c"]
        assert np.array_equal(vec4.view(np.uint32), folded.view(np.uint32)), (variant, form)


VIA_TN = [v.name for v in registry.MATMULS.values() if v.via_tn]


@pytest.mark.parametrize("form", ["nn", "nt"])
def test_via_tn_split_shapes_and_determinism(form):
    """A via-tn row split over K: transposes, partial tiles and reduce in one call, bitwise
    repeatable, on shapes whose slices fall past K."""
    from gpu_fixtures import fits

    from backends.gpu import run_matmul

    rows = [v for v in VIA_TN if fits(v)]
    assert rows, "no via-tn row fits this adapter"
    for v in rows:
        for M, K, N, S in SPLIT_SHAPES:
            a, b = operands(form, M, K, N)
            plan = matmul_plan.plan_matmul(v, form, M, N, K, splits=S or 2)
            assert plan.splits > 1 and plan.transposes, plan
            got = run_matmul(a, b, form, v, splits=S or 2)["c"]
            np.testing.assert_allclose(got, ref_matmul(a, b, form, "store")["c"], rtol=1e-4,
                                       atol=1e-4, err_msg=f"{v} {form} M,K,N,S={M},{K},{N},{S}")
            again = run_matmul(a, b, form, v, splits=S or 2)["c"]
            assert np.array_equal(got.view(np.uint32), again.view(np.uint32)), (v, form, M, K, N)


def test_via_tn_plan_runs_the_tn_form():
    """nn transposes A, nt A and B, tn nothing; all then run the tn constants (vec4 by tn's
    rule: M and N multiples of 4, whatever K is)."""
    for form, want in [("nn", ("a",)), ("nt", ("a", "b")), ("tn", ())]:
        plan = matmul_plan.plan_matmul("b128tr", form, 8, 12, 7)
        assert plan.transposes == want, form
        assert plan.constants["TRANS_A"] == 1 and plan.constants.get("TRANS_B", 0) == 0, form
        assert plan.constants["VEC"] == 1, form
        assert plan.constants == {**matmul_plan.plan_matmul("b128", "tn", 8, 12, 7).constants}
    assert matmul_plan.plan_matmul("b128", "nn", 8, 12, 7).transposes == ()


# the stream-K rows that fit a 32 KiB adapter: the direct scalar, vec4 and staged writes
SK_ROWS = ["b64sk", "b64skv4", "b64osk"]
# (M, K, N, G): one workgroup for everything, runs cut inside tiles (G not dividing T * KT), more
# workgroups than k-tiles (idle ones), a tile cut in many runs, K under one k-tile
SK_SHAPES = [(37, 300, 29, 1), (130, 200, 70, 7), (70, 520, 33, 5), (65, 33, 131, 1000),
             (37, 150, 68, 3), (129, 90, 66, None), (5, 10, 130, 4)]


@pytest.mark.parametrize("variant", SK_ROWS)
@pytest.mark.parametrize("form", ["nn", "nt", "tn"])
def test_stream_k_shapes_and_determinism(form, variant):
    """Stream-K: G workgroups share the tiles' k-tiles in equal runs and store a partial tile
    per tile they touch (outputs and scratch NaN-poisoned); the reduce adds each tile's slots in
    a fixed order, so two runs are bitwise equal."""
    from backends.gpu import run_matmul

    for M, K, N, G in SK_SHAPES:
        a, b = operands(form, M, K, N)
        plan = matmul_plan.plan_matmul(variant, form, M, N, K, splits=G)
        assert plan.workgroups == (G or 2 * -(-M // 64) * -(-N // 64) + 1), plan
        assert plan.constants["SKG"] == plan.workgroups and plan.reduce, plan
        got = run_matmul(a, b, form, variant, splits=G)["c"]
        np.testing.assert_allclose(got, ref_matmul(a, b, form, "store")["c"], rtol=1e-4,
                                   atol=1e-4, err_msg=f"{variant} {form} M,K,N,G={M},{K},{N},{G}")
        again = run_matmul(a, b, form, variant, splits=G)["c"]
        assert np.array_equal(got.view(np.uint32), again.view(np.uint32)), (form, M, K, N, G)


def test_stream_k_slots_and_plan():
    """The slots of the stream-K scratch are the most workgroups one tile's run spans (checked
    against walking the runs); a row under stream-K never splits K, and only matmul_blocked's
    kernels run it."""
    from dataclasses import replace

    def walk(tiles, kt, groups):
        per = -(-tiles * kt // groups)
        spans = [set() for _ in range(tiles)]
        for it in range(tiles * kt):
            spans[it // kt].add(it // per)
        for t, gs in enumerate(spans):  # a tile's workgroups are consecutive from g0
            assert sorted(gs) == list(range(t * kt // per, t * kt // per + len(gs)))
        return max(len(gs) for gs in spans)

    for M, N, K, bm, bn, bk, G in [(3072, 768, 4096, 128, 128, 16, 132),
                                   (3072, 768, 4096, 128, 128, 16, 264),
                                   (768, 768, 4096, 128, 128, 16, 132),
                                   (37, 29, 300, 64, 64, 16, 7), (65, 131, 33, 64, 64, 16, 1000),
                                   (64, 64, 16, 64, 64, 16, 1)]:
        tiles, kt = -(-M // bm) * -(-N // bn), -(-K // bk)
        assert matmul_plan.stream_k_slots(M, N, K, bm, bn, bk, G) == walk(tiles, kt, G)
    plan = matmul_plan.plan_matmul("b128t84osk", "tn", 3072, 768, 4096, splits=264)
    assert (plan.workgroups, plan.splits, plan.label) == (264, 3, "b128t84osk sk264")
    assert plan.constants["UK"] == 16  # the base row's per-form constants carry over
    assert registry.kernel(plan.kernel).grid({**plan.constants, "M": 3072, "N": 768}) == \
        (264, 1, 1)
    with pytest.raises(registry.VariantError, match="stream-K runs on"):
        registry.check_matmul_row(replace(registry.matmul_variant("w64"), stream_k=True))
    with pytest.raises(registry.VariantError, match="stream-K runs on"):
        registry.check_matmul_row(replace(registry.matmul_variant("b64sk"), split=True))
    for M, N, K, G in [(0, 5, 5, None), (5, 5, 0, None), (37, 29, 300, 0),
                       (37, 29, 300, registry.MAX_GROUPS + 1)]:
        with pytest.raises(registry.VariantError, match="stream-K"):
            matmul_plan.plan_matmul("b64sk", "tn", M, N, K, splits=G)
    with pytest.raises(registry.VariantError, match="scratch over 128 MiB"):
        matmul_plan.plan_matmul("b64sk", "tn", 4096, 4096, 4096, splits=4096 * 4)


@pytest.mark.parametrize("epilogue", [e for e in registry.EPILOGUES if e != "store"])
def test_splitk_epilogues(epilogue):
    """The reduce applies each epilogue (the partial kernel never does), after partial tiles
    stored as scalars or, by a v4 row at N % 4 == 0, as vec4."""
    from backends.gpu import run_matmul

    form = "tn"
    for M, K, N in [(37, 70, 29), (37, 70, 36)]:
        a, b = operands(form, M, K, N)
        r = RNG.standard_normal((M, N)).astype(np.float32) if epilogue in ("add", "gelu_bwd") \
            else None
        c = RNG.standard_normal((M, N)).astype(np.float32) if epilogue == "accumulate" else None
        want = ref_matmul(a, b, form, epilogue, r=r, c=c)
        # (the stream-K rows at G = 3: one tile's five k-tiles in runs of 2, 2, 1, three slots)
        for variant in ("splitk", "w128", "b64v4", "b64sk", "b64skv4", "b64osk"):
            got = run_matmul(a, b, form, variant, epilogue, r=r, c=c, splits=3)
            for key in want:
                np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-4,
                                           err_msg=f"{variant} {key} M,K,N={M},{K},{N}")


def test_split_rule():
    s = matmul_rules.splitk_splits
    assert s("tn", 128, 128, 1024) == 8  # medium's attn.proj gradient: 4 tiles, K = B*T = 1024
    assert s("tn", 512, 2048, 4096) == 1  # mega's mlp.fc gradient: 256 tiles fill the device
    assert s("tn", 128, 128, 200) == 1  # K too short to cut into 128-long slices
    assert s("nt", 128, 128, 1024) == 1  # only weight gradients are split
    with pytest.raises(registry.VariantError, match="no split-K path"):
        matmul_plan.plan_matmul("tiled16", "tn", 8, 8, 512, splits=2)


def test_auto_choices_follow_the_rule():
    """Without measurement (software adapter, tuning off) ``auto`` runs the rule."""
    for form, M, N, K in [("nn", 4096, 4096, 512), ("tn", 128, 384, 1024),
                          ("nn", 1024, 384, 128), ("nt", 512, 64, 256)]:
        plan = matmul_plan.plan_matmul("auto", form, M, N, K)
        want, _ = matmul_rules.auto_matmul(form, M, N, K)
        assert plan.variant == "auto" and plan.ran == want, plan
    assert matmul_plan.plan_matmul("auto", "nn", 4096, 4096, 512).ran == "b128"
    assert matmul_plan.plan_matmul("auto", "tn", 128, 384, 1024).splits == 8
    assert matmul_plan.plan_matmul("auto", "nn", 1024, 384, 128).ran == "b64"
    assert matmul_plan.plan_matmul("auto", "nt", 512, 64, 256).ran == "tiled16"


def test_split_candidates():
    c = matmul_rules.split_candidates
    every = [1, 2, 3, 4, 6, 7, 8, 11, 12, 16]
    assert c(512, 1536, 4096, 128, 128, 8) == every  # 48 tiles, long K
    assert c(512, 1536, 512, 128, 128, 8) == every[:7]  # slices of 8+ k-tiles
    assert c(2048, 1024, 4096, 128, 128, 8) == every  # 128 tiles x 16: within 2048 groups
    assert c(4096, 1024, 4096, 128, 128, 8) == every[:7]  # 256 tiles: <= 2048 groups
    assert c(4096, 4096, 4096, 128, 128, 8) == [1, 2]
    assert c(8192, 4096, 4096, 128, 128, 8) == [1]  # 2048 tiles: no room to split
    # 1024 tiles of 128x256 x 2 fit 2048 groups, but their 256 MiB scratch passes 128 MiB
    assert c(4096, 8192, 4096, 128, 256, 8) == [1]
    assert c(64, 64, 200, 64, 64, 16) == [1]  # K too short for two 8-tile slices


def test_tuner_measures_caches_and_falls_back(tmp_path):
    """Tuning on the software adapter (forced: ``on``): every candidate passed parity, the pick
    is the fastest raced one, a second tuner starts from the cache; ``auto`` mode on a software
    adapter and ``off`` keep the rule; the cache key names adapter, driver, wgpu and kernels."""
    from backends.gpu.autotune import MatmulTuner

    path = tmp_path / "plans.json"
    t = MatmulTuner(mode="on", path=path)
    choice = t.choose("tn", 16, 48, 300)
    best = t.plans["tn 16x48x300"]
    assert best["timed"] and min((best["raced"] or best["timed"]).values()) == best["seconds"]
    assert set(best["raced"]) <= set(best["timed"])
    assert choice == (best["variant"], best["splits"])
    assert all(t.gate(v.split()[0])[0] for v in best["timed"])
    again = MatmulTuner(mode="on", path=path)
    assert again.choose("tn", 16, 48, 300) == choice
    assert again.describe()["sources"] == {"tn 16x48x300": "cache"}
    assert again.key == t.key and t.key.count(" | ") == 4
    retuned = MatmulTuner(mode="retune", path=path)
    assert retuned.plans == {}
    for mode in ("auto", "off"):
        rule = MatmulTuner(mode=mode, path=path)
        assert rule.choose("tn", 16, 48, 300) == matmul_rules.auto_matmul("tn", 16, 48, 300)
        assert rule.describe()["why_rule"]


def test_tuned_auto_step_matches_reference(tmp_path, monkeypatch):
    """A step whose ``auto`` choices were measured (software adapter, forced) matches the
    reference; describe() reports the tuning."""
    monkeypatch.setenv("GPT_CURVES_TUNE_CACHE", str(tmp_path / "plans.json"))
    cfg = ModelConfig(d_model=16, n_layer=1, n_head=2, seq_len=9, batch=2)
    ref = get_backend("reference", cfg)
    params = init_params(cfg, 1)
    ref.load_params(params)
    rng = np.random.default_rng(3)
    batch = tuple(rng.integers(0, cfg.vocab, (cfg.batch, cfg.seq_len)) for _ in range(2))
    want_loss, want = ref.loss_and_grads(*batch)
    b = get_backend("gpu", cfg, matmul="auto", tune="on")
    try:
        b.load_params(params)
        loss, grads = b.loss_and_grads(*batch)
        d = b.describe()
    finally:
        b.close()
    assert d["matmul_tuning"]["measured"] and set(d["matmul_tuning"]["sources"].values()) == {
        "measured"}
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for name, g in want.items():
        err = np.abs(grads[name] - g).max() / (np.abs(g).max() + 1e-12)
        assert err < 1e-4, f"tuned auto {name}: relative error {err:.2e}"


# B*T = 259 >= 2 * 128: the weight gradients are split in two; d_model 36, 3 heads of 12.
SPLIT_CFG = ModelConfig(d_model=36, n_layer=1, n_head=3, seq_len=37, batch=7)


@pytest.mark.parametrize("matmul,attention", [("auto", "fa2"), ("splitk", "naive")])
def test_step_with_split_weight_gradients(matmul, attention):
    ref = get_backend("reference", SPLIT_CFG)
    params = init_params(SPLIT_CFG, 5)
    ref.load_params(params)
    rng = np.random.default_rng(2)
    batch = tuple(rng.integers(0, SPLIT_CFG.vocab, (SPLIT_CFG.batch, SPLIT_CFG.seq_len))
                  for _ in range(2))
    want_loss, want = ref.loss_and_grads(*batch)
    b = get_backend("gpu", SPLIT_CFG, matmul=matmul, attention=attention)
    base = get_backend("gpu", SPLIT_CFG, matmul="b64", attention=attention)
    try:
        b.load_params(params)
        loss, grads = b.loss_and_grads(*batch)
        again = b.loss_and_grads(*batch)[1]
        d, d0 = b.describe(), base.describe()
    finally:
        b.close()
        base.close()
    split = {k: v for k, v in d["matmul_choices"].items() if " split" in v}
    assert sorted(k.split()[0] for k in split) == ["tn"] * 5, d["matmul_choices"]
    assert d["dispatches_per_step"] == d0["dispatches_per_step"] + len(split)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for name, g in want.items():
        err = np.abs(grads[name] - g).max() / (np.abs(g).max() + 1e-12)
        assert err < 1e-4, f"{matmul}/{attention} {name}: relative error {err:.2e}"
        assert np.array_equal(grads[name], again[name]), name  # deterministic run to run
