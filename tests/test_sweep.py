"""Sweep declarations, the CSV schema, rounds (a planted stall is caught, marked and re-measured),
resume (an interrupted sweep loses or repeats no sample), and statuses through CSV, report and
plots."""

import csv
import json

import numpy as np
import pytest

from backends.base import BackendError
from bench.model import ConfigError, ModelConfig
from bench.results import COLUMNS, RunStore, load_rows
from bench.runner import Progress, run_sweep
from bench.sweep import Point, Sweep, expand, head_count, parse_assignments, parse_values
from bench.timing import summarize, time_fn

EXPECTED_COLUMNS = (
    "run_id backend matmul attention threads preset d_model n_layer n_head seq_len batch "
    "step_flops samples median_s ci_low_s ci_high_s device_s overhead_s status rounds "
    "rounds_dropped adapter adapter_type software"
).split()


def test_csv_schema_is_the_issues():
    assert list(COLUMNS) == EXPECTED_COLUMNS


@pytest.mark.parametrize(
    "text, values",
    [("64:256:64", [64, 128, 192, 256]), ("1,2,4", [1, 2, 4]), ("8:10", [8, 9, 10]), ("7", [7])],
)
def test_parse_values(text, values):
    assert parse_values("d_model", text) == values


@pytest.mark.parametrize("text", ["64:32:8", "a:b", "1:2:3:4", "", "0,1", "64:128:0", "1.5"])
def test_parse_values_rejects(text):
    with pytest.raises(ConfigError):
        parse_values("d_model", text)


def test_parse_assignments():
    assert parse_assignments("n_layer=4,seq_len=128,batch=8", "fix") == {
        "n_layer": [4], "seq_len": [128], "batch": [8]}
    assert parse_assignments("d_model=64:128:64;seq_len=16,32", "sweep") == {
        "d_model": [64, 128], "seq_len": [16, 32]}
    for bad, what in [("width=3", "fix"), ("n_layer", "fix"), ("n_layer=1:4", "fix"),
                      ("d_model=1;d_model=2", "sweep")]:
        with pytest.raises(ConfigError):
            parse_assignments(bad, what)


def test_free_d_model_axis_keeps_head_dim_32():
    assert [head_count(d) for d in (64, 96, 256, 1024)] == [2, 3, 8, 32]
    assert head_count(48) == 2  # no multiple of 32: the head_dim closest to 32 (24)
    sweep = Sweep(["cpu"], axes={"d_model": [64, 128]}, fix={"n_layer": 2})
    cfgs = [cp.config for cp in sweep.configs()]
    assert cfgs == [ModelConfig(64, 2, 2, 128, 8), ModelConfig(128, 2, 4, 128, 8)]
    with pytest.raises(ConfigError):  # fixed n_head that does not divide d_model
        Sweep(["cpu"], axes={"d_model": [64, 100]}, fix={"n_head": 8}).configs()


def test_expand_crosses_variants_only_where_accepted():
    sweep = Sweep(["cpu", "gpu"], presets=["micro"], matmul=["a", "b"], threads=[1, 2],
                  only_presets={"gpu": ["micro"]})
    pts = expand(sweep, {"cpu": ["threads"], "gpu": ["matmul", "attention"]})
    assert sorted(p.series() for p in pts) == [
        "cpu[threads=1]", "cpu[threads=2]", "gpu[matmul=a]", "gpu[matmul=b]"]
    assert len({p.key() for p in pts}) == len(pts)


MICRO2 = "d_model=16,32"
FIX = {"n_layer": 1, "seq_len": 8, "batch": 2, "n_head": 2}


QUIET = {"settle": lambda: {"quiet": True},  # no hand-off wait in tests with fake measures
         "host_probe": lambda: 100.0}  # and a host whose core speed never moves
NULL = open("/dev/null", "w")  # noqa: SIM115 - a sink for progress lines, for the whole module


def _samples(config, slot):
    """12 distinct samples of one slot, around 1 ms per unit of d_model."""
    return [0.001 * config.d_model * (1 + 0.001 * ((i * 7 + slot) % 12)) for i in range(12)]


def _fake_measure(calls, fail_at=None):
    def measure(backend, config, options, budget, **kw):
        calls.append((backend, config.preset if hasattr(config, "preset") else "",
                      config.d_model, kw.get("profile")))
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt  # the user hits Ctrl-C mid-round
        return summarize(_samples(config, len(calls)), min_samples=kw["min_samples"],
                         min_span_s=kw["min_span_s"])
    return measure


def test_resume_mid_round_loses_no_sample_and_repeats_none(tmp_path):
    sweep = Sweep(["reference"], presets=["micro"], axes={"d_model": [16, 32, 48]}, fix=FIX)
    store = RunStore.create(tmp_path, "run1", {"sweep": sweep.to_dict()})
    calls: list = []
    with pytest.raises(KeyboardInterrupt):  # 4 points x 2 rounds; stop at round 2's 2nd slot
        run_sweep(sweep, store, 0.01, progress=Progress(0, NULL),
                  measure=_fake_measure(calls, fail_at=6), **QUIET)
    assert load_rows(store.csv_path) == []  # no point has all its rounds yet
    # torn half-lines from a kill mid-write must not break the resume
    with open(store.csv_path, "a") as fh:
        fh.write("run1,reference,,,,,16")
    with open(store.samples_path, "a") as fh:
        fh.write('{"key": ["reference"], "round": 1, "samp')
    resumed = RunStore.resume(store.csv_path)
    assert sum(len(v) for v in resumed.rounds.values()) == 5  # 4 of round 1, 1 of round 2
    calls2: list = []
    run_sweep(Sweep.from_dict(resumed.meta["sweep"]), resumed, 0.01,
              progress=Progress(0, NULL), measure=_fake_measure(calls2), **QUIET)
    assert len(calls2) == 3  # the interrupted slot and the two after it, nothing else
    assert all(profile is False for *_, profile in calls2)  # round 2: the profile was round 1's
    rows = load_rows(store.csv_path)
    keys = [(r["preset"], r["d_model"]) for r in rows]
    assert sorted(keys) == [("", 16), ("", 32), ("", 48), ("micro", 16)]
    assert all(r["status"] == "ok" and r["samples"] == 24 and r["rounds"] == 2 for r in rows)
    records = [json.loads(line) for line in store.samples_path.read_text().splitlines()]
    slots = [(tuple(r["key"]), r["round"]) for r in records if "round" in r]
    assert len(slots) == len(set(slots)) == 8  # every (point, round) once
    final = {tuple(r["key"]): r for r in records if "round" not in r}
    for r in records:
        if "round" in r:  # each round's samples are in its point's pooled samples, once
            assert final[tuple(r["key"])]["rounds"][r["round"]] == r["samples"]
    with open(store.csv_path) as fh:
        assert next(csv.reader(fh)) == EXPECTED_COLUMNS


def test_planted_stall_is_caught_marked_and_remeasured(tmp_path):
    """One round of one point runs on a stalled host (every step 2x, through the real timing
    engine on a fake clock): the rounds disagree, the point gets an extra round after all the
    others, and its median pools the two clean rounds."""
    from tests.test_timing import FakeClock

    sweep = Sweep(["reference"], axes={"d_model": [16, 32, 48]}, fix=FIX)
    store = RunStore.create(tmp_path, "stall", {"sweep": sweep.to_dict()})
    calls: list = []

    def measure(backend, config, options, budget, **kw):
        calls.append(config.d_model)
        stalled = config.d_model == 32 and calls.count(32) == 2  # round 2 of d_model 32
        step = 0.001 * config.d_model * (2.0 if stalled else 1.0)
        rng = np.random.default_rng(len(calls))
        clock = FakeClock(step * (1 + rng.uniform(0, 0.004, 100_000)))
        return time_fn(clock.step, budget, clock=clock, **{k: kw[k] for k in
                                                           ("min_samples", "min_span_s")})

    run_sweep(sweep, store, 2.0, progress=Progress(0, NULL), measure=measure, **QUIET)
    assert calls == [16, 32, 48, 16, 32, 48, 32]  # the extra round comes after every other slot
    rows = {r["d_model"]: r for r in load_rows(store.csv_path)}
    stall = rows[32]
    assert (stall["rounds"], stall["rounds_dropped"]) == (2, 1)
    assert stall["status"] == "ok"
    assert stall["median_s"] == pytest.approx(0.032, rel=0.01)
    assert stall["ci_high_s"] < 0.033  # the stalled round's 64 ms is in no interval
    assert all((rows[d]["rounds"], rows[d]["rounds_dropped"]) == (2, 0) for d in (16, 48))
    from bench.analysis import Run
    from bench.report import report

    assert "| 2 (+1 dropped) |" in report(Run.load(store.csv_path))


def test_two_sweeps_on_a_drifting_host_cover_each_other(tmp_path):
    """A host whose speed drifts from one round to the next (log-normal, 2%) while each burst
    is tight (0.1%): two identical sweeps of 8 points. Each burst's own order-statistic interval
    would almost never hold the other sweep's median; the rows' intervals, which carry the
    series' round-to-round drift, hold it on most points."""
    from bench.timing import median_ci

    sweep = Sweep(["reference"], axes={"d_model": [16 * i for i in range(1, 9)]}, fix=FIX)
    rows, bursts = {}, {}
    for run in (0, 1):
        store = RunStore.create(tmp_path, f"drift{run}", {})
        rng = np.random.default_rng(run)

        def measure(backend, config, options, budget, rng=rng, **kw):
            med = 0.001 * config.d_model * np.exp(rng.normal(0, 0.02))
            return summarize(med * (1 + rng.uniform(-1e-3, 1e-3, 30)),
                             min_samples=kw["min_samples"], min_span_s=kw["min_span_s"])

        run_sweep(sweep, store, 1.0, progress=Progress(0, NULL), measure=measure, **QUIET)
        rows[run] = {r["d_model"]: r for r in load_rows(store.csv_path)}
        bursts[run] = {tuple(r["key"])[5]: median_ci(r["samples"])[:2] for r in
                       map(json.loads, store.samples_path.read_text().splitlines())
                       if r.get("round") == 0}

    def covers(lo, hi, x):
        return lo <= x <= hi

    both = [covers(rows[0][d]["ci_low_s"], rows[0][d]["ci_high_s"], rows[1][d]["median_s"])
            and covers(rows[1][d]["ci_low_s"], rows[1][d]["ci_high_s"], rows[0][d]["median_s"])
            for d in rows[0]]
    burst = [covers(*bursts[0][str(d)], rows[1][d]["median_s"]) for d in rows[0]]
    assert sum(both) >= 6 and sum(burst) <= 2


def test_rounds_that_keep_disagreeing_make_an_unstable_row(tmp_path):
    sweep = Sweep(["reference"], axes={"d_model": [16]}, fix=FIX)
    store = RunStore.create(tmp_path, "drift", {})
    calls: list = []

    def measure(backend, config, options, budget, **kw):  # the host drifts 40% per round
        calls.append(1)
        return summarize([0.01 * 1.4 ** len(calls) * (1 + 0.001 * i) for i in range(12)],
                         min_samples=kw["min_samples"], min_span_s=kw["min_span_s"])

    run_sweep(sweep, store, 1.0, progress=Progress(0, NULL), measure=measure, **QUIET)
    (row,) = load_rows(store.csv_path)
    assert len(calls) == 3 and row["rounds"] == 3
    assert row["status"].startswith("unstable: ")
    # the interval spans the first and the last round medians (+0.55% for the sample spread)
    assert row["ci_low_s"] <= 0.014 * 1.006 and row["ci_high_s"] >= 0.01 * 1.4 ** 3


@pytest.mark.parametrize("host", ["with the step", "steady", "against the step"])
def test_an_unstable_point_says_whether_the_host_core_slowed_between_its_rounds(tmp_path, host):
    """The step slows 40% per round. Where the sentinel read beside each round slows with it
    (the host's episodes seen on the H200's VM), the unstable row's reason says the host moved
    and by how much; where the sentinel holds steady, or speeds up while the step slows, the
    reason says nothing about the host."""
    sweep = Sweep(["reference"], axes={"d_model": [16]}, fix=FIX)
    store = RunStore.create(tmp_path, "host", {})
    calls: list = []
    probes: list = []
    factor = {"with the step": 1.4, "steady": 1.0, "against the step": 1 / 1.4}[host]

    def measure(backend, config, options, budget, **kw):
        calls.append(1)
        return summarize([0.01 * 1.4 ** len(calls) * (1 + 0.001 * i) for i in range(12)],
                         min_samples=kw["min_samples"], min_span_s=kw["min_span_s"])

    def sentinel():  # before and after each round: 80 us in the first, then x factor per round
        probes.append(1)
        return 80.0 * factor ** ((len(probes) - 1) // 2)

    run_sweep(sweep, store, 1.0, progress=Progress(0, NULL), measure=measure,
              settle=QUIET["settle"], host_probe=sentinel)
    (row,) = load_rows(store.csv_path)
    assert len(probes) == 2 * len(calls) == 6
    assert row["status"].startswith("unstable: round medians ")
    if host == "with the step":
        assert row["status"].endswith(
            "; the host core's own speed moved 96% with the step between its rounds "
            "(pure-Python sentinel 80 us in its fastest round, 157 us in its slowest)")
    else:
        assert "host" not in row["status"]
    lines = store.samples_path.read_text().splitlines()
    (rec,) = [json.loads(line) for line in lines if "rounds" in json.loads(line)]
    assert len(rec["host_us"]) == 3 and all(len(h) == 2 for h in rec["host_us"])
    from bench.analysis import Run
    from bench.report import report

    text = report(Run.load(store.csv_path))
    assert "the faster of its readings before and after; 3 rounds)" in text
    assert ("The host's own speed moved during this sweep" in text) == (host != "steady")


def test_host_notes_take_each_rounds_faster_reading_and_need_two_rounds():
    from bench.host_speed import host_note

    assert host_note([[80.0, 80.0]], [0.01]) is None  # one round: nothing to compare
    assert host_note([[80.0, 80.0], None, [96.0, 99.0]], [0.01, 0.02, 0.03]) is None  # 20%
    assert host_note([[80.0, 200.0], [90.0, 90.0]], [0.01, 0.02]) is None  # after: preempted
    assert host_note([[80.0, 80.0], [100.0, 110.0]], [0.01, 0.02]).startswith(
        "the host core's own speed moved 25% with the step")


def test_a_run_without_sentinel_readings_reports_no_host_line(tmp_path):
    from bench.analysis import Run
    from bench.report import report

    sweep = Sweep(["reference"], axes={"d_model": [16]}, fix=FIX)
    store = RunStore.create(tmp_path, "old", {})
    run_sweep(sweep, store, 0.2, progress=Progress(0, NULL), measure=lambda *a, **kw: summarize(
        [0.01 * (1 + 0.001 * i) for i in range(12)], min_samples=kw["min_samples"],
        min_span_s=kw["min_span_s"]), settle=QUIET["settle"], host_probe=lambda: 0.0)
    assert "Host core speed" not in report(Run.load(store.csv_path))


def test_a_point_off_its_d_model_trend_in_every_round_is_remeasured_and_marked(tmp_path):
    """A stall (or a real cliff) that lasts through both rounds of d_model 96: the rounds agree,
    but the point sits 2.5x off its neighbours, so it gets an extra round and, still off, is
    marked noisy with the factor; its neighbours stay ok."""
    sweep = Sweep(["reference"], axes={"d_model": [32, 64, 96, 128]},
                  fix={"n_layer": 1, "seq_len": 8, "batch": 2})  # head_dim 32: one curve
    store = RunStore.create(tmp_path, "trend", {})
    calls: list = []

    def measure(backend, config, options, budget, **kw):
        calls.append(config.d_model)
        med = 0.001 * config.d_model * (2.5 if config.d_model == 96 else 1.0)
        return summarize([med * (1 + 0.001 * i) for i in range(12)],
                         min_samples=kw["min_samples"], min_span_s=kw["min_span_s"])

    run_sweep(sweep, store, 1.0, progress=Progress(0, NULL), measure=measure, **QUIET)
    assert calls == [32, 64, 96, 128] * 2 + [96]
    rows = {r["d_model"]: r for r in load_rows(store.csv_path)}
    assert rows[96]["status"] == "noisy: 2.5x off its d_model neighbours' trend in 3 rounds"
    assert rows[96]["rounds"] == 3
    assert all(rows[d]["status"] == "ok" for d in (32, 64, 128))


def test_each_slot_starts_after_a_hand_off(tmp_path):
    """settle() runs before every measured slot, and one config's series sit side by side."""
    sweep = Sweep(["reference", "cpu"], axes={"d_model": [16, 32]}, fix=FIX)
    store = RunStore.create(tmp_path, "hand", {})
    events: list = []

    def measure(backend, config, options, budget, **kw):
        events.append((backend, config.d_model))
        return summarize(_samples(config, 0), min_samples=5, min_span_s=0.0)

    run_sweep(sweep, store, 1.0, progress=Progress(0, NULL), measure=measure,
              parity=lambda b, o: (True, "ok"),
              settle=lambda: events.append("settle") or {"quiet": True})
    slots = [e for e in events if e != "settle"]
    assert events == [x for e in slots for x in ("settle", e)]
    assert slots[:4] == [("reference", 16), ("cpu", 16), ("reference", 32), ("cpu", 32)]
    assert slots[4:] == slots[:4]  # round 2 repeats the order


def test_a_round_started_on_a_busy_process_is_reported(tmp_path):
    from bench.analysis import Run
    from bench.report import report

    sweep = Sweep(["reference"], axes={"d_model": [16, 32]}, fix=FIX)
    store = RunStore.create(tmp_path, "busy", {})
    quiet = iter([True, False, True, True])
    run_sweep(sweep, store, 1.0, progress=Progress(0, NULL), measure=_fake_measure([]),
              settle=lambda: {"quiet": next(quiet)})
    assert "**1 round(s) started on a busy process:**" in report(Run.load(store.csv_path))


def test_failed_parity_and_creation_errors_are_rows_not_tracebacks(tmp_path):
    sweep = Sweep(["cpu", "reference"], presets=["micro"])
    store = RunStore.create(tmp_path, "run2", {})

    def parity(backend, options):
        if backend == "cpu":
            return False, "grad wte rel err 0.5"
        return True, "ok"

    def measure(backend, config, options, budget, **kw):
        raise BackendError("no CUDA device")

    run_sweep(sweep, store, 0.01, progress=Progress(0, NULL),
              measure=measure, parity=parity, **QUIET)
    rows = {r["backend"]: r for r in load_rows(store.csv_path)}
    assert rows["cpu"]["status"] == "failed-parity: grad wte rel err 0.5"
    assert rows["reference"]["status"] == "unsupported: no CUDA device"
    assert rows["cpu"]["median_s"] is None and rows["reference"]["samples"] == 0


def test_real_reference_point(tmp_path):
    """One real step measurement through the whole store (reference backend, micro)."""
    store = RunStore.create(tmp_path, "run3", {})
    run_sweep(Sweep(["reference"], presets=["micro"]), store, 1.0,
              progress=Progress(0, NULL))
    (row,) = load_rows(store.csv_path)
    assert row["status"].split(":")[0] in ("ok", "noisy", "unstable"), row["status"]
    assert row["samples"] >= 10 and row["median_s"] > 0 and row["rounds"] >= 2
    assert row["step_flops"] > 0 and row["d_model"] == 16


def test_point_key_matches_row_key(tmp_path):
    from bench.results import make_row, row_key
    p = Point("gpu", "", ModelConfig(64, 4, 2, 128, 8), matmul="tiled16", threads=None)
    assert row_key({k: str(v) for k, v in make_row("r", p, None, "skipped: x").items()}) == p.key()


def test_alias_backends_resolve_to_registered_ones_with_options():
    sweep = Sweep(["torch-cuda-graph"], presets=["micro"], threads=[2])
    (p,) = expand(sweep, {"torch-cuda-graph": ["device", "graph", "threads"]})
    assert p.backend == "torch-cuda-graph"
    assert p.target() == ("torch", {"device": "cuda", "graph": True, "threads": 2})


def test_git_commit_outside_git_names_the_source(tmp_path, monkeypatch):
    """A tree copied without .git (as on a lent GPU machine) records a source digest, never
    git's placeholder 'HEAD'; the digest changes when the measuring code changes."""
    import shutil

    from bench import environment

    for d in ("bench", "backends", "kernels"):
        shutil.copytree(environment.REPO / d, tmp_path / d)
    shutil.copy(environment.REPO / "pyproject.toml", tmp_path)
    monkeypatch.setattr(environment, "REPO", tmp_path)
    # git must not find a repository above tmp_path either
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    first = environment.git_commit()
    assert first.startswith("source-") and len(first) == len("source-") + 12
    (tmp_path / "kernels" / "adamw.wgsl").write_text("// changed\\n")
    assert environment.git_commit() != first


def test_a_file_from_before_rounds_loads_and_is_never_ok(tmp_path):
    from bench.results import LEGACY_COLUMNS

    p = tmp_path / "old.csv"
    base = {c: "" for c in LEGACY_COLUMNS} | {"run_id": "old", "backend": "cpu", "d_model": 16,
                                               "n_layer": 1, "n_head": 4, "seq_len": 16,
                                               "batch": 8, "step_flops": 1, "samples": 5}
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, LEGACY_COLUMNS)
        w.writeheader()
        w.writerow(base | {"median_s": 0.01, "status": "ok", "noisy": "true"})
        w.writerow(base | {"backend": "gpu", "samples": 0, "status": "skipped: no adapter"})
        w.writerow(base | {"backend": "x", "samples": 0, "status": "failed parity: grad 1"})
    a, b, c = load_rows(p)
    assert a["status"] == ("budget-short: measured in one round, before rounds existed "
                           "(flagged noisy then)")
    assert (a["rounds"], a["median_s"]) == (1, 0.01) and "noisy" not in a
    assert b["status"] == "unsupported: no adapter" and b["rounds"] == 0
    assert c["status"] == "failed-parity: grad 1"


def test_git_commit_named_by_the_copier_wins_over_a_stale_git(monkeypatch):
    """A copied tree may carry an old .git: $GPT_CURVES_COMMIT names the code actually run."""
    from bench import environment

    monkeypatch.delenv("GPT_CURVES_COMMIT", raising=False)
    assert environment.git_commit() != "0123abc"
    monkeypatch.setenv("GPT_CURVES_COMMIT", "0123abc")
    assert environment.git_commit() == "0123abc"


@pytest.mark.parametrize("rounds", [1, 2, 3, 6, 7])
def test_a_round_carries_the_floor_share_of_the_smallest_majority(rounds):
    """Every round stops at its own floor; a stable point keeps only a majority of its rounds
    (two of them when one more than half is fewer), and those alone must still meet the
    point's floor, or a well-sampled fast point reads budget-short after one dropped round."""
    from bench.rounds import MIN_ROUNDS, SPAN_ULP, round_floor
    from bench.timing import MIN_SAMPLES, MIN_SPAN_S

    n, span = round_floor(rounds)
    kept = rounds if rounds < MIN_ROUNDS else max(MIN_ROUNDS, rounds // 2 + 1)
    assert n * kept >= MIN_SAMPLES and sum([span] * kept) >= MIN_SPAN_S * (1 - SPAN_ULP)
    assert n <= MIN_SAMPLES and span <= MIN_SPAN_S  # never more than a one-round point needs


def test_a_point_with_dropped_rounds_still_meets_the_floor(tmp_path):
    """Six rounds, each stopping at its floor on a steady 1 ms step, two of them stalled 2x:
    the row pools the four agreeing rounds and is not budget-short."""
    from tests.test_timing import FakeClock

    sweep = Sweep(["reference"], axes={"d_model": [16]}, fix=FIX)
    store = RunStore.create(tmp_path, "floor", {})
    calls: list = []

    def measure(backend, config, options, budget, **kw):
        calls.append(1)
        step = 0.001 * (2.0 if len(calls) in (2, 5) else 1.0)
        rng = np.random.default_rng(len(calls))
        clock = FakeClock(step * (1 + rng.uniform(0, 0.002, 100_000)))
        return time_fn(clock.step, budget, clock=clock, **{k: kw[k] for k in
                                                           ("min_samples", "min_span_s")})

    run_sweep(sweep, store, 3.0, progress=Progress(0, NULL), measure=measure, rounds=6, **QUIET)
    (row,) = load_rows(store.csv_path)
    assert (row["rounds"], row["rounds_dropped"]) == (5, 2)
    assert not row["status"].startswith("budget-short"), row["status"]
