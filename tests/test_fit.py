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
