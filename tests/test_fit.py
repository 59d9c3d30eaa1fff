"""Fits, ratios and crossovers on synthetic data with known answers."""

import numpy as np
import pytest

from bench.fit import crossover, fit_overhead, row_ratio, speedup, verdict


def test_fit_recovers_known_overhead_and_throughput():
    a, b = 2e-3, 1.0 / 50e9  # 2 ms fixed, 50 GFLOP/s
    flops = np.array([1e8, 5e8, 1e9, 2e9, 4e9, 8e9])
    rng = np.random.default_rng(0)
    samples = [a + b * f + rng.normal(0, 2e-5, 30) for f in flops]
    medians = [float(np.median(s)) for s in samples]
    fit = fit_overhead(flops, medians, samples)
    assert fit.a == pytest.approx(a, rel=0.05)
    assert fit.b == pytest.approx(b, rel=0.01)
    assert fit.a_ci[0] <= a <= fit.a_ci[1]
    assert fit.b_ci[0] <= b <= fit.b_ci[1]
    assert fit.flops_per_s == pytest.approx(50e9, rel=0.01)
    assert fit.r2 > 0.999 and fit.n == 6


def test_fit_without_samples_and_exact_line():
    fit = fit_overhead([1e9, 2e9], [0.003, 0.005])
    assert fit.a == pytest.approx(0.001)
    assert fit.b == pytest.approx(2e-12)


def test_fit_needs_two_distinct_points():
    with pytest.raises(ValueError):
        fit_overhead([1e9, 1e9], [0.1, 0.2])


def test_speedup_ratio_and_ci():
    rng = np.random.default_rng(0)
    base = rng.normal(0.010, 0.0002, 50)
    cand = rng.normal(0.005, 0.0001, 50)
    r = speedup(base, cand)
    assert r.value == pytest.approx(2.0, rel=0.02)
    assert r.ci_low <= r.value <= r.ci_high
    assert r.ci_low < 2.0 < r.ci_high  # the true ratio
    assert r.ci_high - r.ci_low < 0.2


def test_row_ratio_adds_both_rows_log_halfwidths_in_quadrature():
    r = row_ratio((0.010, 0.0097, 0.0104), (0.005, 0.0049, 0.0052))
    assert r.value == pytest.approx(2.0)
    down = np.hypot(np.log(0.010 / 0.0097), np.log(0.0052 / 0.005))
    up = np.hypot(np.log(0.0104 / 0.010), np.log(0.005 / 0.0049))
    assert (r.ci_low, r.ci_high) == pytest.approx((2 * np.exp(-down), 2 * np.exp(up)))
    assert r.ci_high / r.ci_low > 0.0104 / 0.0097  # wider than either side alone


def test_fit_from_intervals_widens_with_them():
    a, b = 2e-3, 1.0 / 50e9
    flops = np.array([1e8, 5e8, 1e9, 2e9, 4e9, 8e9])
    y = a + b * flops
    tight = fit_overhead(flops, y, intervals=[(v * 0.995, v * 1.005) for v in y])
    loose = fit_overhead(flops, y, intervals=[(v * 0.9, v * 1.1) for v in y])
    assert tight.a_ci[0] <= a <= tight.a_ci[1] and loose.a_ci[0] <= a <= loose.a_ci[1]
    assert (loose.a_ci[1] - loose.a_ci[0]) > 5 * (tight.a_ci[1] - tight.a_ci[0])


def test_crossover_interpolates_and_sorts():
    assert crossover([256, 64, 128], [1.3, 0.5, 0.9]) == pytest.approx(160.0)
    assert crossover([64, 128], [1.2, 1.5]) is None  # wins everywhere: no crossing inside
    assert crossover([64, 128], [0.2, 0.5]) is None
    assert verdict([1.2, 1.5], [64, 128]) == "faster at every point"
    assert verdict([0.2, 0.5], [64, 128]) == "slower at every point"
    assert verdict([0.5, 1.5], [64, 128]) == "crossover at 96"


def _write_run(path, series_medians):
    """A results CSV of ok rows {(backend, matmul): {d_model: median_s}}, L4 T128 B8 family."""
    import csv

    from bench.model import ModelConfig, step_flops
    from bench.results import COLUMNS

    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for (backend, mm), meds in series_medians.items():
            for d, med in meds.items():
                cfg = ModelConfig(d, 4, d // 32, 128, 8)
                w.writerow({c: "" for c in COLUMNS} | {
                    "run_id": "syn", "backend": backend, "matmul": mm, "d_model": d,
                    "n_layer": 4, "n_head": d // 32, "seq_len": 128, "batch": 8,
                    "step_flops": step_flops(cfg), "samples": 1, "median_s": med,
                    "ci_low_s": "", "ci_high_s": "", "status": "ok", "rounds": 2,
                    "rounds_dropped": 0})


def test_run_level_speedups_crossover_and_fit(tmp_path):
    from bench.analysis import Run
    from bench.report import report

    p = tmp_path / "syn.csv"
    _write_run(p, {
        ("cpu", ""): {96: 0.010, 128: 0.020, 192: 0.040, 256: 0.080},
        ("gpu", "a"): {96: 0.020, 128: 0.020, 192: 0.020, 256: 0.020},  # wins from 128 on
        ("gpu", "b"): {96: 0.010, 128: 0.010, 192: 0.010, 256: 0.010},  # 2x variant a
    })
    run = Run.load(p)
    assert ("gpu[matmul=a]", "cpu") in run.pairs()
    assert ("gpu[matmul=b]", "gpu[matmul=a]") in run.pairs()  # variant vs first variant
    (curve,) = [c for c in run.curves("d_model")
                if (c.candidate, c.baseline) == ("gpu[matmul=a]", "cpu")]
    assert curve.family == (("n_layer", 4), ("seq_len", 128), ("batch", 8), ("head_dim", 32))
    assert curve.crossover() == pytest.approx(128.0)
    variant = [sp for sp in run.speedups() if sp.baseline == "gpu[matmul=a]"]
    assert [sp.ratio.value for sp in variant] == pytest.approx([2.0] * 4)
    text = report(run)
    assert "crossover at 128" in text and "| gpu[matmul=b] | gpu[matmul=a] |" in text
    assert run.fits()["gpu[matmul=a]"].a == pytest.approx(0.020, rel=1e-6)


def _measured_run(tmp_path, statuses=None):
    """A run written by the runner (fake measurements with raw samples): cpu and gpu at d_model
    96..256; ``statuses`` overrides the status of some (backend, d_model) rows afterwards."""
    from bench.results import RunStore
    from bench.runner import Progress, run_sweep
    from bench.sweep import Sweep
    from bench.timing import summarize

    sweep = Sweep(["cpu", "reference"], axes={"d_model": [96, 128, 192, 256]},
                  fix={"n_layer": 1, "seq_len": 8, "batch": 2})
    store = RunStore.create(tmp_path, "m", {})

    def measure(backend, config, options, budget, **kw):
        base = 1e-4 * config.d_model if backend == "cpu" else 0.02
        return summarize([base * (1 + 0.002 * i) for i in range(12)], min_samples=5,
                         min_span_s=0.0)

    run_sweep(sweep, store, 1.0, progress=Progress(0, open("/dev/null", "w")), measure=measure,
              parity=lambda b, o: (True, "ok"), settle=lambda: {})
    return store.csv_path


def test_samples_less_csv_has_unknown_intervals_and_the_report_says_why(tmp_path):
    from bench.analysis import Run
    from bench.report import report

    p = _measured_run(tmp_path)
    run = Run.load(p)
    assert run.missing_samples() is None
    assert all(sp.ratio.ci_known and sp.ratio.ci_high > sp.ratio.ci_low for sp in run.speedups())
    assert all(np.isfinite(f.a_ci).all() for f in run.fits().values())

    p.with_name("m.samples.jsonl").unlink()  # the CSV copied without its sidecar
    run = Run.load(p)
    assert run.missing_samples() == "m.samples.jsonl is missing"
    sps = run.speedups()
    assert sps and not any(sp.ratio.ci_known for sp in sps)
    assert all(np.isnan(f.a_ci).all() and np.isnan(f.b_ci).all() for f in run.fits().values())
    text = report(run)
    assert "**Intervals marked unknown:** m.samples.jsonl is missing" in text
    assert "x | unknown |" in text and "[unknown]" in text


def test_statuses_round_trip_through_csv_report_and_plots(tmp_path, monkeypatch):
    import csv

    from bench import plots
    from bench.analysis import Run
    from bench.report import report
    from bench.results import load_rows
    from bench.status import BY_NAME, STATUSES

    p = _measured_run(tmp_path)
    rows = list(csv.DictReader(open(p)))
    set_to = {("cpu", "128"): "unstable: round medians 1, 2 ms disagree",
              ("cpu", "192"): "budget-short: 6 samples < 10",
              ("reference", "96"): "noisy: 95% CI +-7%"}
    for r in rows:
        r["status"] = set_to.get((r["backend"], r["d_model"]), r["status"])
    untimed = {"failed-parity": "grad wte rel err 0.5", "unsupported": "no adapter",
               "error": "RuntimeError: boom"}
    for i, (word, why) in enumerate(untimed.items()):
        rows.append({**rows[0], "backend": f"b{i}", "status": f"{word}: {why}", "median_s": "",
                     "ci_low_s": "", "ci_high_s": "", "samples": 0, "rounds": 0})
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, rows[0].keys())
        w.writeheader()
        w.writerows(rows)

    loaded = {(r["backend"], r["d_model"]): r["status"] for r in load_rows(p)}
    for key, status in set_to.items():
        assert loaded[(key[0], int(key[1]))] == status
    assert {s.split(":")[0] for s in loaded.values()} == {s.name for s in STATUSES}

    run = Run.load(p)
    text = report(run)
    for s in STATUSES:  # each defined once, in the legend
        assert text.count(f"- `{s.name}`: {s.meaning}.") == 1
    for status in set_to.values():
        assert f"| {status} |" in text
    assert "Left out of fits and crossovers: cpu: 2 (budget-short, unstable)." in text
    assert run.fits()["cpu"].n == 2  # 4 cpu points, 2 untrusted left out
    assert "(untrusted side: not in crossovers)" in text
    assert all(sp.trusted for c in run.curves() for sp in c.points)

    drawn: dict = {}

    def capture(fig, out, name):
        drawn[name] = {ln.get_marker() for ax in fig.axes for ln in ax.get_lines()}
        drawn[name + " labels"] = {t.get_text() for ax in fig.axes if ax.get_legend()
                                   for t in ax.get_legend().get_texts()}
        plots.plt.close(fig)
        return []

    monkeypatch.setattr(plots, "save_figure", capture)
    plots.plot_run(run, tmp_path / "plots")
    for word in ("ok", "noisy", "unstable", "budget-short"):
        assert BY_NAME[word].marker in drawn["step_time"], word
        assert f"status {word}" in drawn["step_time labels"], word
