"""Fits, ratios and crossovers on synthetic data with known answers."""

import numpy as np
import pytest

from bench.fit import crossover, fit_overhead, speedup, verdict


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
    assert r.ci_low < 2.0 < r.ci_high or r.ci_low <= r.value <= r.ci_high
    assert r.ci_high - r.ci_low < 0.2


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
                    "ci_low_s": med, "ci_high_s": med, "status": "ok", "noisy": "false"})


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
    key = ("gpu[matmul=a]", "cpu", (4, 128, 8, 32))
    assert run.crossover_d_model(key) == pytest.approx(128.0)
    variant = [sp for sp in run.speedups() if sp.baseline == "gpu[matmul=a]"]
    assert [sp.ratio.value for sp in variant] == pytest.approx([2.0] * 4)
    text = report(run)
    assert "crossover at 128" in text and "| gpu[matmul=b] | gpu[matmul=a] |" in text
    assert run.fits()["gpu[matmul=a]"].a == pytest.approx(0.020, rel=1e-6)
