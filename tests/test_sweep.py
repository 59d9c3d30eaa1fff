"""Sweep declarations, the CSV schema, and resume: an interrupted sweep loses or repeats no row."""

import csv

import pytest

from backends.base import BackendError
from bench.model import ConfigError, ModelConfig
from bench.results import COLUMNS, RunStore, load_rows
from bench.runner import Progress, run_sweep
from bench.sweep import Point, Sweep, expand, head_count, parse_assignments, parse_values
from bench.timing import summarize

EXPECTED_COLUMNS = (
    "run_id backend matmul attention threads preset d_model n_layer n_head seq_len batch "
    "step_flops samples median_s ci_low_s ci_high_s device_s overhead_s status noisy adapter "
    "adapter_type software"
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


def _fake_measure(calls, fail_at=None):
    def measure(backend, config, options, budget):
        calls.append((backend, config.d_model))
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt  # the user hits Ctrl-C mid-sweep
        return summarize([0.001 * config.d_model, 0.0011 * config.d_model, 0.001 * config.d_model])
    return measure


def test_resume_after_interrupt_loses_no_row_and_repeats_none(tmp_path):
    sweep = Sweep(["reference"], presets=["micro"], axes={"d_model": [16, 32, 48]}, fix=FIX)
    store = RunStore.create(tmp_path, "run1", {"sweep": sweep.to_dict()})
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, store, 0.01, progress=Progress(0, open("/dev/null", "w")),
                  measure=_fake_measure(calls, fail_at=3))
    assert len(load_rows(store.csv_path)) == 2  # the two finished points survived
    # a torn half-line from a kill mid-write must not break the resume
    with open(store.csv_path, "a") as fh:
        fh.write("run1,reference,,,,,16")
    resumed = RunStore.resume(store.csv_path)
    sweep2 = Sweep.from_dict(resumed.meta["sweep"])
    calls2: list = []
    run_sweep(sweep2, resumed, 0.01, progress=Progress(0, open("/dev/null", "w")),
              measure=_fake_measure(calls2))
    rows = load_rows(store.csv_path)
    keys = [(r["preset"], r["d_model"]) for r in rows]
    assert sorted(keys) == [("", 16), ("", 32), ("", 48), ("micro", 16)]
    assert len(calls2) == 2  # only the two missing points were measured
    assert all(r["status"] == "ok" and r["samples"] == 3 for r in rows)
    with open(store.csv_path) as fh:
        assert next(csv.reader(fh)) == EXPECTED_COLUMNS


def test_failed_parity_and_creation_errors_are_rows_not_tracebacks(tmp_path):
    sweep = Sweep(["cpu", "reference"], presets=["micro"])
    store = RunStore.create(tmp_path, "run2", {})

    def parity(backend, options):
        if backend == "cpu":
            return False, "grad wte rel err 0.5"
        return True, "ok"

    def measure(backend, config, options, budget):
        raise BackendError("no CUDA device")

    run_sweep(sweep, store, 0.01, progress=Progress(0, open("/dev/null", "w")),
              measure=measure, parity=parity)
    rows = {r["backend"]: r for r in load_rows(store.csv_path)}
    assert rows["cpu"]["status"] == "failed parity: grad wte rel err 0.5"
    assert rows["reference"]["status"] == "skipped: no CUDA device"
    assert rows["cpu"]["median_s"] is None and rows["reference"]["samples"] == 0


def test_real_reference_point(tmp_path):
    """One real step measurement through the whole store (reference backend, micro)."""
    store = RunStore.create(tmp_path, "run3", {})
    run_sweep(Sweep(["reference"], presets=["micro"]), store, 0.05,
              progress=Progress(0, open("/dev/null", "w")))
    (row,) = load_rows(store.csv_path)
    assert row["status"] == "ok" and row["samples"] >= 5 and row["median_s"] > 0
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
