"""The timing engine: warm-up stays out of the samples, the floor and the CI stop the loop, a
budget caps it, and the median's interval comes from order statistics."""

import numpy as np
import pytest
from scipy.stats import binom

from bench.timing import (
    HARD_MIN_SAMPLES,
    MIN_SAMPLES,
    MIN_SPAN_S,
    Measurement,
    median_ci,
    summarize,
    time_fn,
)


class FakeClock:
    """A clock that only the timed function advances: durations are exact and tests are instant."""

    def __init__(self, durations):
        self.t = 0.0
        self.durations = iter(durations)

    def __call__(self):
        return self.t

    def step(self):
        self.t += next(self.durations)


def test_warmup_is_not_sampled_and_steady_state_stops_at_the_floor():
    clock = FakeClock([5.0] + [0.020] * 10_000)  # a slow first call (compilation), then steady
    m = time_fn(clock.step, budget_s=100.0, clock=clock)
    assert m.warmup_runs >= 2
    assert max(m.samples) == pytest.approx(0.020)
    assert m.median_s == pytest.approx(0.020)
    assert m.converged and not m.noisy and m.floor_met
    assert m.n == MIN_SAMPLES  # 10 x 20 ms spans the 0.1 s floor: no wasted repeats


def test_floor_keeps_a_fast_tight_point_sampling_for_the_minimum_span():
    """1 ms steps with a perfectly tight CI after 10 samples may not stop before 0.1 s."""
    clock = FakeClock([0.001] * 100_000)
    m = time_fn(clock.step, budget_s=100.0, clock=clock)
    assert m.converged
    assert m.span_s >= MIN_SPAN_S
    assert m.n >= int(MIN_SPAN_S / 0.001)


def test_budget_caps_a_noisy_function_and_flags_it():
    rng = np.random.default_rng(0)
    durations = np.abs(rng.normal(0.01, 0.005, 100_000)) + 1e-4
    clock = FakeClock(durations)
    m = time_fn(clock.step, budget_s=1.0, clock=clock, target_rel_ci=0.001)
    assert clock.t == pytest.approx(1.0, abs=0.1)  # stopped near the budget (warm-up included)
    assert not m.converged
    assert m.ci_low_s <= m.median_s <= m.ci_high_s


def test_slow_step_gets_the_hard_minimum_and_misses_the_floor():
    clock = FakeClock([1.0] * 100)
    m = time_fn(clock.step, budget_s=0.1, clock=clock)
    assert m.n == HARD_MIN_SAMPLES
    assert not m.floor_met and not m.converged
    assert m.coverage < 0.95  # 3 samples cannot hold a 95% interval of the median


@pytest.mark.parametrize("n, lo, hi", [(10, 2, 9), (20, 6, 15), (100, 40, 61)])
def test_median_ci_uses_the_textbook_order_statistics(n, lo, hi):
    """1-based ranks of the distribution-free 95% interval of the median (Conover's table)."""
    x = np.arange(1.0, n + 1.0)[::-1]  # unsorted input on purpose
    got_lo, got_hi, cover = median_ci(x)
    assert (got_lo, got_hi) == (lo, hi)
    assert cover == pytest.approx(1 - 2 * binom.cdf(lo - 1, n, 0.5))
    assert cover >= 0.95


def test_median_ci_covers_the_true_median_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    true_median = np.log(2.0)  # of Exp(1): a skewed distribution, as step times are
    hits = sum(lo <= true_median <= hi for lo, hi, _ in
               (median_ci(rng.exponential(1.0, 25)) for _ in range(2000)))
    assert 0.94 <= hits / 2000 <= 0.99


def test_median_ci_with_too_few_samples_says_so():
    assert median_ci([3.0]) == (3.0, 3.0, 0.0)
    lo, hi, cover = median_ci([1.0, 5.0, 2.0, 4.0, 3.0])
    assert (lo, hi) == (1.0, 5.0) and cover == pytest.approx(1 - 2 / 32)
    assert summarize([0.01, 0.02, 0.03]).noisy  # an interval under 95%: never a clean point


def test_real_clock_smoke():
    m = time_fn(lambda: sum(range(1000)), budget_s=0.05, min_span_s=0.01)
    assert m.n >= HARD_MIN_SAMPLES and m.median_s > 0


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
    m = summarize([0.010] * 12).with_split({"matmul": 0.009, "attention": 0.003})
    assert m.device_s == pytest.approx(0.012)
    assert m.overhead_s is None and m.noisy and m.profile_exceeds_wall


def test_bad_budget():
    with pytest.raises(ValueError):
        time_fn(lambda: None, budget_s=0)


def _round(center, n=12, spread=0.002, seed=0):
    rng = np.random.default_rng(seed)
    return summarize(center * (1 + rng.uniform(-spread, spread, n)), min_samples=5,
                     min_span_s=0.0)


def test_agreeing_rounds_pool_into_an_ok_point_whose_interval_covers_both():
    from bench.rounds import pool

    a, b = _round(0.0100, seed=1), _round(0.0101, seed=2)  # 1% apart, within tolerance
    p = pool([a, b], prior=(10 * 0.004**2, 10))  # the series' other points drift 0.4%
    assert p.status == "ok" and p.kept == [0, 1] and p.dropped == 0
    assert p.m.n == a.n + b.n
    assert p.m.ci_low_s <= a.median_s and p.m.ci_high_s >= b.median_s


def test_the_interval_carries_the_drift_between_rounds_not_just_one_burst():
    """Two very tight rounds 1.5% apart: the order-statistic interval of the pooled samples is
    about +-0.7%, but a third burst on this host would land anywhere the rounds' spread allows,
    so the interval is the t interval of the mean round median (1 df alone: +-9%); the series'
    other points, whose rounds drifted 3%, lend it PRIOR_ROUNDS more degrees of freedom."""
    from scipy.stats import t

    from bench.rounds import PRIOR_ROUNDS, drift_halfwidth, pool

    a, b = _round(0.0100, spread=1e-4, seed=1), _round(0.01015, spread=1e-4, seed=2)
    alone = pool([a, b])
    h = t.ppf(0.975, 1) * np.log(1.015) / 2  # sd of two log medians = |diff| / sqrt 2
    assert drift_halfwidth([a, b], None) == pytest.approx(h, rel=0.01)
    assert alone.m.rel_ci == pytest.approx(np.expm1(h), rel=0.05)
    assert alone.status.startswith("noisy: 95% CI +-")
    series = (20 * 0.03**2, 20)  # 20 other rounds' worth of 3% drift
    shared = pool([a, b], prior=series)
    ss = (np.log(1.015) ** 2 / 2 + PRIOR_ROUNDS * 0.03**2) / (1 + PRIOR_ROUNDS)
    assert drift_halfwidth([a, b], series) == pytest.approx(
        t.ppf(0.975, 1 + PRIOR_ROUNDS) * np.sqrt(ss / 2), rel=0.01)
    assert 0.03 < shared.m.rel_ci < alone.m.rel_ci
    quiet = pool([a, b], prior=(20 * 0.001**2, 20))
    assert quiet.m.rel_ci < 0.03 and quiet.status == "ok"


def test_a_stalled_round_is_dropped_once_an_extra_round_sides_with_the_other():
    from bench.rounds import needs_extra_round, pool

    good, stalled = _round(0.010, seed=1), _round(0.020, seed=2)
    assert needs_extra_round([good, stalled])
    p = pool([good, stalled, _round(0.010, seed=3)])
    assert p.kept == [0, 2] and p.dropped == 1 and p.total == 3
    assert p.status == "ok"
    assert p.m.median_s == pytest.approx(0.010, rel=0.01)
    assert max(p.m.samples) < 0.0105  # no stalled sample in the pooled median


def test_rounds_that_never_agree_are_unstable_with_an_interval_spanning_them():
    from bench.rounds import pool

    rounds = [_round(c, seed=i) for i, c in enumerate((0.010, 0.015, 0.022))]
    p = pool(rounds)
    assert p.status.startswith("unstable: ")
    assert p.m.ci_low_s <= rounds[0].median_s and p.m.ci_high_s >= rounds[2].median_s


def test_one_round_or_too_few_samples_is_budget_short():
    from bench.rounds import pool

    assert pool([_round(0.01)]).status.startswith("budget-short: 1 round")
    few = [summarize([0.01, 0.0101, 0.0099]) for _ in range(2)]
    assert pool(few).status.startswith("budget-short: ")


@pytest.mark.parametrize("curve, flagged", [
    ([(16, .016), (32, .032), (48, .12), (64, .064)], {2}),  # interior outlier, ends untouched
    ([(768, 15.0), (832, 16.1), (896, 34.0), (960, 18.1), (1024, 19.0)], {2}),
    ([(64, 1.), (128, 2.), (192, 3.), (256, 9.)], {3}),  # an end: its neighbours stay clean
    ([(64, 1.), (128, 2.), (192, 3.), (256, 4.1)], set()),
    ([(64, 1.), (128, 1.4), (192, 3.)], set()),  # 1.4x off: inside the tolerance
    ([(64, 1.), (128, 2.)], set()),  # two points: no trend to be off
])
def test_off_trend_flags_the_outlier_not_its_neighbours(curve, flagged):
    from bench.rounds import TREND_TOL, off_trend

    got = off_trend(curve)
    assert set(got) == flagged
    assert all(f > TREND_TOL or f < 1 / TREND_TOL for f in got.values())


def test_warmup_stretches_while_steps_still_get_faster():
    """A device ramping its clocks up after idling: 40 steps from 40 ms down to 10 ms. The
    warm-up (20% of 3 s) ends mid-ramp, but goes on while steps get faster, so no ramp step
    lands in the samples."""
    ramp = list(np.linspace(0.040, 0.010, 40))
    clock = FakeClock([0.05] + ramp + [0.010] * 10_000)
    m = time_fn(clock.step, budget_s=3.0, clock=clock)
    assert m.warmup_s > 0.2 * 3.0  # stretched beyond the plain warm-up share ...
    assert m.warmup_s <= 0.5 * 3.0 + 0.05  # ... but not beyond half the budget
    assert max(m.samples) < 0.0115 and m.median_s == pytest.approx(0.010)


def test_warmup_never_takes_more_than_half_the_budget():
    clock = FakeClock([0.05] + list(0.05 * 0.97 ** np.arange(100_000)))  # 3% faster each step
    m = time_fn(clock.step, budget_s=1.0, clock=clock)
    assert m.warmup_s == pytest.approx(0.5, abs=0.06)
    assert m.n >= HARD_MIN_SAMPLES
