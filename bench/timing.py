"""The timing engine: one function with a time budget, and the one result type every output reads.

``time_fn(fn, budget_s)`` warms up (so pipeline compilation, buffer allocation and first-touch
stay out of the numbers), then repeats ``fn``. It stops when the 95% interval of the median lies
within +-2% of the median, but only once a floor is met (``min_samples`` samples spread over at
least ``min_span_s`` seconds: a burst of fast samples must not stop a point before a host hiccup
had a chance to show), or when the budget is spent. It keeps every raw sample.

The interval of the median comes from order statistics (distribution-free, exact, and costing
nothing), not from a bootstrap: the ranks ``j`` and ``n + 1 - j`` whose sample values bracket
the true median with probability ``P(j <= Binom(n, 1/2) < n + 1 - j) >= 95%``. Below 6 samples
no pair of ranks reaches 95%; the interval is then ``[min, max]`` and ``coverage`` says how much
it holds. One sample has no interval at all.

``fn`` must return only when its work is complete: for a GPU step that is the loss readback,
which a real training loop needs anyway, so the wall time covers encode -> submit -> completion.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import binom

TARGET_REL_CI = 0.02  # the interval rule: stop once both ends are within 2% of the median
NOISY_REL_CI = 0.05  # a point whose 95% CI is wider than +-5% is "noisy" (bench.status)
CONFIDENCE = 0.95
MIN_SAMPLES = 10  # the floor: samples before the interval rule may stop a point ...
MIN_SPAN_S = 0.1  # ... and seconds they must span (first sample's start to last one's end)
HARD_MIN_SAMPLES = 3  # taken even when the budget is spent: the least a median + interval needs
MAX_WARMUP_FRAC = 0.5  # warm-up may stretch to half the budget while steps still get faster ...
SETTLE_REL = 0.05  # ... by more than 5% from one triple of steps to the next
MAX_WARMUP_RUNS = 1000


@dataclass
class Measurement:
    """One measured point: median with a 95% CI, raw samples, and the device/host split.

    ``device_s`` is the backend's own view of its compute time (GPU timestamps, CPU per-op timers)
    and ``overhead_s = median_s - device_s``; both are ``None`` when the backend cannot profile.
    ``floor_met``: the stopping rule's floor (samples and span) was reached; ``coverage``: the
    confidence the interval actually holds (below 0.95 with fewer than 6 samples).
    """

    median_s: float
    ci_low_s: float
    ci_high_s: float
    samples: list[float]
    noisy: bool
    converged: bool  # the floor was met and the CI reached the target before the budget ran out
    warmup_runs: int = 0
    warmup_s: float = 0.0
    device_s: float | None = None
    overhead_s: float | None = None
    per_op_s: dict[str, float] | None = None
    span_s: float = 0.0
    floor_met: bool = True
    coverage: float = CONFIDENCE
    profile_exceeds_wall: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def rel_ci(self) -> float:
        """Half-width of the CI relative to the median (the larger side)."""
        if not self.median_s > 0:
            return math.inf
        return max(self.median_s - self.ci_low_s, self.ci_high_s - self.median_s) / self.median_s

    def with_split(self, per_op_s: dict[str, float] | None) -> Measurement:
        """Attach a per-op profile: device time is its sum, overhead the rest of the median.

        The profiled steps are other steps than the timed ones; on a noisy host their sum can
        exceed the timed median. A negative overhead would be a wrong number, so it is left
        unknown (None) and the measurement marked noisy."""
        if not per_op_s:
            return self
        self.per_op_s = dict(per_op_s)
        self.device_s = float(sum(per_op_s.values()))
        rest = self.median_s - self.device_s
        self.overhead_s = rest if rest >= 0 else None
        if rest < 0:
            self.noisy = self.profile_exceeds_wall = True
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_ci(samples: Any, conf: float = CONFIDENCE) -> tuple[float, float, float]:
    """Order-statistic interval of the median: ``(low, high, coverage)``.

    The narrowest symmetric pair of order statistics whose coverage reaches ``conf``; with too
    few samples for that, ``[min, max]`` and its smaller coverage (0 for one sample)."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        raise ValueError("no samples")
    if n == 1:
        return float(x[0]), float(x[0]), 0.0
    # coverage of [x_(j), x_(n+1-j)] (1-based) = 1 - 2 P(B <= j - 1), B ~ Binom(n, 1/2)
    cdf = binom.cdf(np.arange(n), n, 0.5)
    cover = 1.0 - 2.0 * cdf[: (n + 1) // 2]  # index j-1 for j = 1 .. ceil(n/2)
    ok = np.nonzero(cover >= conf)[0]
    j = int(ok[-1]) + 1 if ok.size else 1
    return float(x[j - 1]), float(x[n - j]), float(max(cover[j - 1], 0.0))


def summarize(
    samples: Any,
    *,
    target_rel_ci: float = TARGET_REL_CI,
    span_s: float | None = None,
    min_samples: int = MIN_SAMPLES,
    min_span_s: float = MIN_SPAN_S,
) -> Measurement:
    """A Measurement from raw samples (seconds): median, order-statistic CI, noisy flag, and
    whether the floor (``min_samples`` over ``min_span_s``; the span defaults to the samples'
    sum, i.e. back to back) is met."""
    x = np.asarray(samples, dtype=np.float64)
    med = float(np.median(x))
    lo, hi, cover = median_ci(x)
    span = float(x.sum()) if span_s is None else float(span_s)
    rel_ci = max(med - lo, hi - med) / med if med > 0 else math.inf
    floor = bool(x.size >= min_samples and span >= min_span_s)
    return Measurement(
        median_s=med,
        ci_low_s=lo,
        ci_high_s=hi,
        samples=[float(v) for v in x],
        noisy=bool(rel_ci > NOISY_REL_CI or cover < CONFIDENCE),
        converged=bool(floor and cover >= CONFIDENCE and rel_ci <= target_rel_ci),
        span_s=span,
        floor_met=floor,
        coverage=cover,
    )


def warm_runs_left(warm: list[float], elapsed_s: float, budget_s: float,
                   warmup_frac: float) -> bool:
    """Whether warm-up goes on: always for one more call after the first (a lazily built
    second-call path), then for ``warmup_frac`` of the budget, and beyond it, up to
    ``MAX_WARMUP_FRAC``, while steps are still getting faster (the last 3 more than
    ``SETTLE_REL`` faster than the 3 before, or fewer than 6 to tell): a device whose clocks
    are still ramping up after idling, or pools and caches still settling after the previous
    point, stay out of the samples."""
    if not warm:
        return True
    if len(warm) >= MAX_WARMUP_RUNS or elapsed_s >= MAX_WARMUP_FRAC * budget_s:
        return False
    if elapsed_s < warmup_frac * budget_s:
        return True
    if len(warm) < 6:  # too few to tell whether they still get faster
        return True
    return float(np.median(warm[-3:])) < (1 - SETTLE_REL) * float(np.median(warm[-6:-3]))


def time_fn(
    fn: Callable[[], Any],
    budget_s: float = 2.0,
    *,
    warmup_frac: float = 0.2,
    min_samples: int = MIN_SAMPLES,
    min_span_s: float = MIN_SPAN_S,
    max_samples: int = 10_000,
    target_rel_ci: float = TARGET_REL_CI,
    clock: Callable[[], float] = time.perf_counter,
    settle: Callable[[], Any] | None = None,
) -> Measurement:
    """Time ``fn()`` within roughly ``budget_s`` seconds (warm-up included).

    Warm-up: the first call (compilation, allocation) plus further calls for ``warmup_frac`` of
    the budget, longer while steps still get faster (``warm_runs_left``), none of them
    recorded. Then ``fn`` is repeated until the interval rule stops it (floor met and the 95% CI
    within ``target_rel_ci``), the budget is spent, or ``max_samples`` is reached.
    ``HARD_MIN_SAMPLES`` are always taken, so a step slower than the budget still gets a median
    (the budget is then exceeded and ``floor_met`` is False).
    ``settle`` (a backend's ``settle_device``) runs after the first call, whose compilation
    leaves the device idle, and before the warm-up; its time is not the budget's, and what it
    returns lands in ``extra["settle"]``.
    """
    if budget_s <= 0:
        raise ValueError(f"budget must be positive, got {budget_s}")
    start = clock()
    fn()  # compile / allocate / first-touch
    settled = None
    if settle is not None:
        t = clock()
        settled = settle()
        start += clock() - t
    warm: list[float] = []  # warm-up durations after the first call
    while warm_runs_left(warm, clock() - start, budget_s, warmup_frac):
        t0 = clock()
        fn()
        warm.append(clock() - t0)
    warm_runs = 1 + len(warm)
    warm_s = clock() - start

    samples: list[float] = []
    next_check = min_samples  # the interval is checked on a geometric schedule, not every sample
    first = clock()
    while True:
        t0 = clock()
        fn()
        t1 = clock()
        samples.append(t1 - t0)
        n = len(samples)
        spent = t1 - start
        if n >= max_samples or (spent >= budget_s and n >= HARD_MIN_SAMPLES):
            break
        if n >= next_check and t1 - first >= min_span_s:
            next_check = max(n + 1, int(n * 1.1))
            lo, hi, cover = median_ci(samples)
            med = float(np.median(samples))
            if cover >= CONFIDENCE and max(med - lo, hi - med) <= target_rel_ci * med:
                break
    result = summarize(samples, target_rel_ci=target_rel_ci, span_s=clock() - first,
                       min_samples=min_samples, min_span_s=min_span_s)
    result.warmup_runs = warm_runs
    result.warmup_s = warm_s
    if settled is not None:
        result.extra["settle"] = settled
    return result
