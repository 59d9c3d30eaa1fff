"""The matmul autotuner's decisions on the software adapter: cached plans gated in this process,
no gated-out fallback, one decision per process, a corrupt or shared cache file, a gate per split
factor, and a key that names the backend type and the kernels' constants."""

from __future__ import annotations

import dataclasses
import json

import pytest
from gpu_fixtures import requires_adapter

from backends.base import BackendError
from backends.gpu import autotune
from backends.gpu.autotune import MatmulTuner
from kernels import matmul_rules, registry

pytestmark = requires_adapter

SHAPE = ("nn", 64, 64, 64)
LABEL = "nn 64x64x64"


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test starts as a new process would: no plans, gates or retunes decided yet."""
    monkeypatch.setattr(autotune, "_PLANS", {})
    monkeypatch.setattr(autotune, "_GATES", {})
    monkeypatch.setattr(autotune, "_RETUNED", set())
    monkeypatch.setattr(autotune, "_WAVES", {})
    monkeypatch.setattr(MatmulTuner, "warm_up", lambda self, seconds=0.5: None)


def fixed_tune(calls, variant="tiled16", splits=1):
    def tune(self, form, M, N, K):
        calls.append((form, M, N, K))
        return {"variant": variant, "splits": splits, "seconds": 1e-3, "timed": {variant: 1e-3}}
    return tune


def test_cached_plan_is_gated_in_this_process(tmp_path, monkeypatch):
    path = tmp_path / "plans.json"
    key = MatmulTuner(mode="on", path=path).key
    path.write_text(json.dumps({key: {LABEL: {"variant": "b64", "splits": 1}}}))
    autotune._PLANS.clear()
    autotune._GATES[key] = {"b64": (False, "forced failure")}
    calls = []
    monkeypatch.setattr(MatmulTuner, "tune", fixed_tune(calls))
    t = MatmulTuner(mode="on", path=path)
    assert t.choose(*SHAPE) == ("tiled16", 1)
    assert calls == [SHAPE] and t.describe()["sources"] == {LABEL: "measured"}


def test_all_gated_out_falls_back_to_a_passing_row_or_raises(tmp_path):
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    gates = autotune._GATES[t.key]
    for name, row in registry.MATMULS.items():
        if row.choose is None:
            gates[name] = (False, f"{name} forced failure")
    gates["splitk"] = (True, "ok")
    rule = matmul_rules.auto_matmul(*SHAPE)[0]
    assert rule != "splitk"
    assert t.choose(*SHAPE)[0] == "splitk"  # not the rule's gated-out pick
    gates["splitk"] = (False, "forced failure")
    with pytest.raises(BackendError, match="no matmul variant passed the parity gate"):
        t.choose("nt", 40, 24, 64)


@pytest.mark.parametrize("mode", ["retune", "unwritable"])
def test_one_process_decides_once(tmp_path, monkeypatch, mode):
    """Backends built one per measuring round share the process's plans: one measurement."""
    path = tmp_path / "plans.json"
    if mode == "unwritable":
        path.mkdir()  # neither readable nor writable as a file
    calls = []
    monkeypatch.setattr(MatmulTuner, "tune", fixed_tune(calls))
    picks = [MatmulTuner(mode="retune" if mode == "retune" else "on", path=path).choose(*SHAPE)
             for _ in range(3)]
    assert calls == [SHAPE] and picks == [("tiled16", 1)] * 3


@pytest.mark.parametrize("content", [
    "[]", "{KEY: \"abc\"}", "{KEY: {\"nn 64x64x64\": {}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"nosuch\", \"splits\": 1}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"auto\", \"splits\": 1}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"b64\", \"splits\": 0}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"tiled16\", \"splits\": 4}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"b64\", \"splits\": \"2\"}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"b64\", \"splits\": 32}}}",
    "{KEY: {\"nn 64x64x64\": {\"variant\": \"b64\", \"splits\": 5}}}",
])
def test_corrupt_cache_counts_as_empty(tmp_path, monkeypatch, content):
    path = tmp_path / "plans.json"
    key = MatmulTuner(mode="on", path=path).key
    autotune._PLANS.clear()
    path.write_text(content.replace("KEY", json.dumps(key)))
    calls = []
    monkeypatch.setattr(MatmulTuner, "tune", fixed_tune(calls, "b64"))
    t = MatmulTuner(mode="on", path=path)
    assert t.choose(*SHAPE) == ("b64", 1) and calls == [SHAPE]
    assert json.loads(path.read_text())[key][LABEL]["variant"] == "b64"  # rewritten


def test_save_merges_with_other_writers(tmp_path, monkeypatch):
    path = tmp_path / "plans.json"
    monkeypatch.setattr(MatmulTuner, "tune", fixed_tune([]))
    t = MatmulTuner(mode="on", path=path)
    other = {"variant": "b128", "splits": 1, "seconds": 1e-3, "timed": {}}
    path.write_text(json.dumps({t.key: {"tn 8x8x8": other}}))  # another process, meanwhile
    t.choose(*SHAPE)
    assert set(json.loads(path.read_text())[t.key]) == {"tn 8x8x8", LABEL}
    assert [p.name for p in tmp_path.iterdir()] == ["plans.json"]


def test_each_split_factor_is_gated(tmp_path, monkeypatch):
    """Every (variant, splits) that tuning times passed a gate at that split factor, and a
    kernel wrong only at one factor is gated out at that factor alone."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    gates = autotune._GATES[t.key]
    for name in registry.MATMULS:
        gates[name] = (True, "ok")
    for (v, s), want in [(("b64t8", 2), True), (("b64t8", 4), False)]:
        gates[(v, s)] = (want, "forced")
    cands = t.candidates("tn", 16, 48, 300)
    assert ("b64t8", 1) in cands and ("b64t8", 2) in cands and ("b64t8", 4) not in cands
    assert all(s == 1 or (v, s) in gates for v, s in cands)

    from backends.gpu import microbench

    real = microbench.run_matmul

    def wrong_at_four(a, b, form, variant, splits=None, **kw):
        out = real(a, b, form, variant, splits=splits, **kw)
        if splits == 4:
            out["c"] = out["c"] + 1.0
        return out

    monkeypatch.setattr(microbench, "run_matmul", wrong_at_four)  # the gate's comparisons
    assert t.gate("b64", 2)[0]
    ok, msg = t.gate("b64", 4)
    assert not ok and "split4" in msg


def test_via_tn_rows_are_candidates_of_nn_and_nt_only(tmp_path):
    """A via-tn row is timed for nn and nt (transposes included); for tn it is its base row's
    kernel and constants, so it is not timed twice."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    gates = autotune._GATES[t.key]
    for name in registry.MATMULS:
        gates[name] = (True, "ok")
    for form in ("nn", "nt"):
        assert ("b128tr", 1) in t.candidates(form, 256, 256, 64), form
    cands = t.candidates("tn", 256, 256, 64)
    assert ("b128", 1) in cands and ("b128tr", 1) not in cands


def test_v4_rows_are_candidates_where_n_holds_whole_vec4_only(tmp_path):
    """A v4 row is timed where N % 4 == 0; elsewhere it falls back to its scalar twin, whose
    kernel and constants are already a candidate, so it is not timed twice."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    gates = autotune._GATES[t.key]
    for name in registry.MATMULS:
        gates[name] = (True, "ok")
    for form in ("nn", "nt", "tn"):
        assert ("b128v4", 1) in t.candidates(form, 256, 256, 64), form
        cands = t.candidates(form, 256, 258, 64)
        assert ("b128", 1) in cands and ("b128v4", 1) not in cands, form


def test_key_names_backend_type_and_kernel_constants(monkeypatch):
    info = {"adapter": "x", "driver": "d", "wgpu_version": "0"}
    assert (autotune.device_key({**info, "backend": "Vulkan"})
            != autotune.device_key({**info, "backend": "D3D12"}))
    before = autotune.kernel_digest()
    consts = registry.kernel("matmul_blocked").constants
    monkeypatch.setitem(consts, "BK", consts.get("BK", 16) + 8)
    assert autotune.kernel_digest() != before


def test_race_interleaves_rounds_and_keeps_medians():
    """A stall during one candidate's turn does not decide: every round runs each runner once,
    the start rotating, and the median over rounds is kept (a runner that reads nothing is inf)."""
    order = []

    def runner(name, times):
        it = iter(times)

        def run():
            order.append(name)
            return next(it)
        return run

    got = autotune.race_medians({"a": runner("a", [1.0, 9.0, 1.1, 1.0, 1.2]),
                         "b": runner("b", [1.05, 1.05, 1.06, 1.04, 1.05]),
                         "c": runner("c", [None, 0.0, None, 0.0, None])}, rounds=5)
    assert got == {"a": 1.1, "b": 1.05, "c": float("inf")}
    assert order[:6] == ["a", "b", "c", "b", "c", "a"] and len(order) == 15


def test_tune_races_the_finalists(tmp_path, monkeypatch):
    """The first timings only shortlist: the pick is the finalist with the lowest raced median,
    and a candidate over ``FINAL_MARGIN`` times the fastest first timing does not race."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    cands = [("b64", 1), ("b128", 1), ("tiled16", 1)]
    monkeypatch.setattr(MatmulTuner, "candidates", lambda self, *a: cands)
    first = {"b64": 1.0, "b128": 1.1, "tiled16": 5.0}
    monkeypatch.setattr(MatmulTuner, "time", lambda self, v, s, *a, **k: first[v])
    raced = []

    def race(self, finalists, *shape):
        raced.append(list(finalists))
        return {"b64": 1.2, "b128": 1.0}

    monkeypatch.setattr(MatmulTuner, "race", race)
    plan = t.tune(*SHAPE)
    assert raced == [[("b64", 1), ("b128", 1)]]
    assert (plan["variant"], plan["seconds"]) == ("b128", 1.0)
    assert plan["timed"] == first and plan["raced"] == {"b64": 1.2, "b128": 1.0}


def test_each_rows_fastest_candidate_within_row_margin_races_too(tmp_path, monkeypatch):
    """Beyond ``FINAL_MARGIN``, a row's fastest candidate still races when within ``ROW_MARGIN``
    of the fastest first timing (one disturbed first timing cannot cut a whole row): only that
    one of the row's candidates, and no row past the margin."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    cands = [("b128", 2), ("b64", 1), ("b64", 2), ("b128", 1), ("tiled16", 1)]
    monkeypatch.setattr(MatmulTuner, "candidates", lambda self, *a: cands)
    first = {"b128 split2": 1.0, "b64": 1.6, "b64 split2": 1.7, "b128": 1.9, "tiled16": 2.5}
    monkeypatch.setattr(MatmulTuner, "time",
                        lambda self, v, s, *a, **k: first[v + (f" split{s}" if s > 1 else "")])
    raced = []

    def race(self, finalists, *shape):
        raced.append(list(finalists))
        return {"b128 split2": 1.1, "b64": 0.9}

    monkeypatch.setattr(MatmulTuner, "race", race)
    plan = t.tune("tn", 64, 64, 4096)
    assert raced == [[("b128", 2), ("b64", 1)]]
    assert (plan["variant"], plan["splits"], plan["seconds"]) == ("b64", 1, 0.9)


def test_at_most_finalists_race_and_a_race_without_readings_leaves_the_first_timings(
        tmp_path, monkeypatch):
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    monkeypatch.setattr(autotune, "FINALISTS", 4)
    cands = [("b64", s) for s in (1, 2, 3, 4, 6, 8)]
    monkeypatch.setattr(MatmulTuner, "candidates", lambda self, *a: cands)
    first = {1: 1.06, 2: 1.05, 3: 1.04, 4: 1.03, 6: 1.02, 8: 1.01}
    monkeypatch.setattr(MatmulTuner, "time", lambda self, v, s, *a, **k: first[s])
    raced = []

    def race(self, finalists, *shape):
        raced.append(list(finalists))
        return {f"b64 split{s}": float("inf") for _, s in finalists}

    monkeypatch.setattr(MatmulTuner, "race", race)
    plan = t.tune("tn", 64, 64, 4096)
    assert raced == [[("b64", 8), ("b64", 6), ("b64", 4), ("b64", 3)]]
    assert (plan["splits"], plan["seconds"]) == (8, 1.01)


def test_race_settles_the_gpu_after_building_its_cases(tmp_path, monkeypatch):
    """The race's cases are built (uploads: the GPU idles), then the GPU is settled once, then
    the rounds run: each finalist gets a finite median."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    events = []
    real = t.mb.matmul

    def matmul(*a, **k):
        events.append("build")
        return real(*a, **k)

    monkeypatch.setattr(t.mb, "matmul", matmul)
    monkeypatch.setattr(MatmulTuner, "warm_up", lambda self, seconds=0.0: events.append("settle"))
    got = t.race([("b64", 1), ("tiled16", 1)], "nn", 40, 24, 33, [1e-4, 1e-4], rounds=2)
    assert list(got) == ["b64", "tiled16"] and all(0 < v < 1 for v in got.values())
    assert events == ["build"] * 2 + ["settle"]


@pytest.mark.parametrize("build_s, settles", [(0.0, 0), (0.2, 1)])
def test_an_idle_gpu_is_settled_before_a_candidate_is_timed(tmp_path, monkeypatch, build_s,
                                                            settles):
    """Building a candidate's case (its pipelines compile there) plus its first run taking over
    ``IDLE_S`` settles the GPU before the candidate is timed; a quick one is timed at once."""
    import time as _time

    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    t.time("b64", 1, "nn", 40, 24, 33)  # compiled and cached: building again is quick
    real = t.mb.matmul

    def matmul(*a, **k):
        _time.sleep(build_s)  # a compile on a cold driver cache
        return real(*a, **k)

    settled = []
    monkeypatch.setattr(t.mb, "matmul", matmul)
    monkeypatch.setattr(autotune, "IDLE_S", 0.1 if build_s else 10.0)
    monkeypatch.setattr(MatmulTuner, "warm_up", lambda self, seconds=0.0: settled.append(1))
    assert 0 < t.time("b64", 1, "nn", 40, 24, 33) < 1
    assert len(settled) == settles


def test_a_split_pipeline_the_device_refuses_fails_its_gate(tmp_path, monkeypatch):
    """The base row passed; at one split factor the pipeline cache refuses the kernel (as it
    refuses one over the device's workgroup memory): that factor fails its gate with the
    reason, the tuning goes on, and the other factors stay candidates."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    gates = autotune._GATES[t.key]
    gates["b64"] = (True, "ok")
    real = t.mb.check_matmul_cases

    def refuse_at_four(variant, cases, seed=0):
        if seed == 4:
            raise BackendError("kernel matmul_blocked needs 99999 bytes of workgroup memory")
        return real(variant, cases, seed=seed)

    monkeypatch.setattr(t.mb, "check_matmul_cases", refuse_at_four)
    ok, msg = t.gate("b64", 4)
    assert not ok and msg.startswith("unsupported at split4") and "99999 bytes" in msg
    assert t.gate("b64", 2)[0]


@pytest.mark.parametrize("wave", [1, 2, 7, 132, 133, 264, 1000, 1024])
def test_concurrent_groups_finds_the_first_wave(wave):
    """The doubling-then-bisecting search returns the last G before the time steps up, wherever
    the step lies (a power of two, between two, the cap), and asks for few G."""
    asked = []

    def ratio(g):
        asked.append(g)
        return 1.0 + 0.2 * (g / wave) if g <= wave else 2.0  # a little slower as the wave fills

    assert autotune.concurrent_groups(ratio, most=1024, step=1.5) == wave
    assert len(asked) <= 2 * 11


def test_concurrent_groups_stops_at_its_cap():
    assert autotune.concurrent_groups(lambda g: 1.0, most=300, step=1.5) == 300
    assert autotune.concurrent_groups(lambda g: 3.0, most=300, step=1.5) == 1
    assert autotune.concurrent_groups(lambda g: 1.0 if g < 40 else float("inf"), most=300,
                                      step=1.5) == 39  # a grid that cannot be built: past W


@pytest.mark.parametrize("groups, grid", [(1, (1, 1)), (7, (1, 7)), (12, (3, 4)), (132, (11, 12)),
                                          (1021, (1, 1021)), (1024, (32, 32))])
def test_wave_grid_is_the_squarest_factorisation(groups, grid):
    assert autotune.wave_grid(groups) == grid


def _with_tuned_b64sk(monkeypatch, path):
    """A tuner where b64sk is a ``tune`` row (the b128t84 stream-K rows need 33 KiB of workgroup
    memory), every row's gate passed at every factor, and W = 5 workgroups at once."""
    monkeypatch.setitem(registry.MATMULS, "b64sk",
                        dataclasses.replace(registry.matmul_variant("b64sk"), tune=True))
    t = MatmulTuner(mode="on", path=path)  # its key's digest names the tune rows
    gates = autotune._GATES[t.key]
    for name in registry.MATMULS:
        gates[name] = (True, "ok")
    monkeypatch.setattr(MatmulTuner, "_check_split", lambda self, v, s: (True, "ok"))
    monkeypatch.setitem(autotune._WAVES.setdefault(t.key, {}), "b64sk", 5)
    return t


def test_stream_k_rows_are_candidates_at_one_and_two_waves(tmp_path, monkeypatch):
    """A stream-K ``tune`` row is timed at G = W and 2W, where every workgroup gets a k-tile and
    the plan can run: a 64x64 grid of one tile and four k-tiles has work for 4 workgroups only."""
    t = _with_tuned_b64sk(monkeypatch, tmp_path / "plans.json")
    for form in ("nn", "nt", "tn"):
        cands = t.candidates(form, 256, 192, 640)
        assert ("b64sk", 5) in cands and ("b64sk", 10) in cands, form
        assert not [c for c in t.candidates(form, 64, 64, 64) if c[0] == "b64sk"], form
    assert ("b64sk", 5) in t.candidates("tn", 64, 64, 80)  # 5 k-tiles: 5 workgroups, not 10
    assert ("b64sk", 10) not in t.candidates("tn", 64, 64, 80)
    autotune._WAVES[t.key]["b64sk"] = None  # no probe: no stream-K candidate
    assert not [c for c in t.candidates("tn", 256, 192, 640) if c[0] == "b64sk"]


def test_a_stream_k_plan_is_cached_with_its_groups(tmp_path, monkeypatch):
    """A stream-K pick is saved with its G and runs from the cache in the next process; a cached
    stream-K plan of a row ``auto`` does not time counts as absent."""
    path = tmp_path / "plans.json"
    t = _with_tuned_b64sk(monkeypatch, path)
    calls = []
    monkeypatch.setattr(MatmulTuner, "tune", fixed_tune(calls, "b64sk", 10))
    assert t.choose(*SHAPE) == ("b64sk", 10)
    autotune._PLANS.clear()
    again = MatmulTuner(mode="on", path=path)
    assert again.choose(*SHAPE) == ("b64sk", 10)
    assert again.sources[LABEL] == "cache" and len(calls) == 1
    assert autotune._valid_plan({"variant": "b64sk", "splits": 10})
    assert not autotune._valid_plan({"variant": "b64skv4", "splits": 10})  # not a tune row
    assert not autotune._valid_plan({"variant": "b64sk", "splits": registry.MAX_GROUPS + 1})
    assert autotune.candidate_label("b64sk", 10) == "b64sk sk10"


def test_the_wave_probe_runs_on_this_adapter(tmp_path, monkeypatch):
    """The probe of a stream-K row builds and times its grids here: W is a count within the cap,
    measured once per process."""
    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    monkeypatch.setattr(autotune, "WAVE_MAX", 16)
    monkeypatch.setattr(autotune, "WAVE_REPS", 1)
    calls = []
    real = MatmulTuner._wave_ratio

    def counted(self, variant, groups, one):
        calls.append(groups)
        return real(self, variant, groups, one)

    monkeypatch.setattr(MatmulTuner, "_wave_ratio", counted)
    w = t.waves("b64sk")
    assert isinstance(w, int) and 1 <= w <= 16
    n = len(calls)
    assert n >= 1 and t.waves("b64sk") == w and len(calls) == n


@pytest.mark.parametrize("groups", [1, 2, 3, 5, 6, 132, 264])
def test_stream_k_gate_cases_cross_tiles(groups):
    """The stream-K gate's grids give the G workgroups runs that span two tiles and, for G > 1,
    runs that end inside a tile; every workgroup has work, K is not a multiple of BK, and N is
    both odd and a multiple of 4."""
    from backends.gpu.microbench import stream_k_cases

    cases = stream_k_cases(groups, 128, 128, 16)
    assert {f for f, _, _ in cases} == {"nn", "nt", "tn"} and {g for *_, g in cases} == {groups}
    crosses = inside = False
    for _, (M, K, N), _ in cases:
        tiles, kt = -(-M // 128) * -(-N // 128), -(-K // 16)
        assert tiles in (5, 6) and K % 16 and groups <= tiles * kt
        per = -(-tiles * kt // groups)
        runs = [(g * per, min((g + 1) * per, tiles * kt)) for g in range(groups)]
        crosses |= any(a // kt != (b - 1) // kt for a, b in runs if b > a)
        inside |= any(b % kt for a, b in runs if b > a)
    assert crosses and (inside or groups == 1)
    assert {N % 4 for _, (_, _, N), _ in cases} == {0, 1}


@pytest.mark.parametrize("groups", [1, 3])
def test_a_stream_k_row_is_gated_at_every_g(tmp_path, monkeypatch, groups):
    """A stream-K row's G is gated on the stream-K grids, G = 1 included (not the row's own
    default G): the row passes there, and a wrong result at that G fails the gate with the G
    named."""
    from backends.gpu import microbench

    t = MatmulTuner(mode="on", path=tmp_path / "plans.json")
    ok, msg = t.gate("b64skv4", groups)
    assert ok and msg.startswith("ok"), msg
    autotune._GATES[t.key]["b64sk"] = (True, "ok")
    seen = []
    real = microbench.run_matmul

    def wrong_at_g(a, b, form, variant, splits=None, **kw):
        seen.append(splits)
        out = real(a, b, form, variant, splits=splits, **kw)
        if splits == groups:
            out["c"] = out["c"] + 1.0
        return out

    monkeypatch.setattr(microbench, "run_matmul", wrong_at_g)
    ok, msg = t.gate("b64sk", groups)
    assert not ok and f"sk{groups}" in msg and seen == [groups]
