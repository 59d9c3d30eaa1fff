"""The timing engine: warm-up stays out of the samples, the CI stops the loop, a budget caps it."""

import numpy as np
import pytest

from bench.timing import Measurement, bootstrap_median_ci, summarize, time_fn


class FakeClock:
    """A clock that only the timed function advances: durations are exact and tests are instant."""

    def __init__(self, durations):
        self.t = 0.0
        self.durations = iter(durations)

    def __call__(self):
        return self.t

    def step(self):
        self.t += next(self.durations)


def test_warmup_is_not_sampled_and_steady_state_converges():
    clock = FakeClock([5.0] + [0.010] * 10_000)  # a slow first call (compilation), then steady
    m = time_fn(clock.step, budget_s=100.0, clock=clock, min_samples=5)
    assert m.warmup_runs >= 2
    assert max(m.samples) == pytest.approx(0.010)
    assert m.median_s == pytest.approx(0.010)
    assert m.converged and not m.noisy
    assert m.n == 5  # converged at the first check: no wasted repeats


def test_budget_caps_a_noisy_function_and_flags_it():
    rng = np.random.default_rng(0)
    durations = np.abs(rng.normal(0.01, 0.005, 100_000)) + 1e-4
    clock = FakeClock(durations)
    m = time_fn(clock.step, budget_s=1.0, clock=clock)
    assert clock.t == pytest.approx(1.0, abs=0.1)  # stopped near the budget (warm-up included)
    assert m.noisy
    assert m.ci_low_s <= m.median_s <= m.ci_high_s


def test_slow_step_still_gets_min_samples():
    clock = FakeClock([1.0] * 100)
    m = time_fn(clock.step, budget_s=0.1, clock=clock, min_samples=3)
    assert m.n == 3


def test_real_clock_smoke():
    m = time_fn(lambda: sum(range(1000)), budget_s=0.05)
    assert m.n >= 5 and m.median_s > 0


def test_bootstrap_ci_brackets_median_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.normal(1.0, 0.1, 20)
    big = rng.normal(1.0, 0.1, 2000)
    lo_s, hi_s = bootstrap_median_ci(small)
    lo_b, hi_b = bootstrap_median_ci(big)
    assert lo_s <= np.median(small) <= hi_s
    assert (hi_b - lo_b) < (hi_s - lo_s)


def test_split_and_serialisation():
    m = summarize([0.010, 0.011, 0.012])
    assert isinstance(m, Measurement)
    m.with_split({"matmul": 0.006, "attention": 0.002})
    assert m.device_s == pytest.approx(0.008)
    assert m.overhead_s == pytest.approx(0.003)
    d = m.to_dict()
    assert d["samples"] == [0.010, 0.011, 0.012] and d["per_op_s"]["matmul"] == 0.006
    assert summarize([0.01]).with_split(None).device_s is None


def test_split_never_reports_a_negative_overhead():
    """Profiled steps slower than the timed median: overhead unknown and the point noisy."""
    m = summarize([0.010, 0.010, 0.010]).with_split({"matmul": 0.009, "attention": 0.003})
    assert m.device_s == pytest.approx(0.012)
    assert m.overhead_s is None and m.noisy


def test_bad_budget():
    with pytest.raises(ValueError):
        time_fn(lambda: None, budget_s=0)
