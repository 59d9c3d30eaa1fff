"""The timing engine: one function with a time budget, and the one result type every output reads.

``time_fn(fn, budget_s)`` warms up (so pipeline compilation, buffer allocation and first-touch
stay out of the numbers), then repeats ``fn`` until the 95% bootstrap confidence interval of the
median lies within +-2% of the median or the budget is spent. It keeps every raw sample.

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

TARGET_REL_CI = 0.02  # stop once both CI ends are within 2% of the median
NOISY_REL_STD = 0.10  # pyperf warns when the std dev exceeds 10% of the mean; so do we
NOISY_REL_CI = 0.10  # ... or when the CI is still wider than +-10% when the budget ends
N_BOOT = 1000


@dataclass
class Measurement:
    """One measured point: median with a 95% CI, raw samples, and the device/host split.

    ``device_s`` is the backend's own view of its compute time (GPU timestamps, CPU per-op timers)
    and ``overhead_s = median_s - device_s``; both are ``None`` when the backend cannot profile.
    """

    median_s: float
    ci_low_s: float
    ci_high_s: float
    samples: list[float]
    noisy: bool
    converged: bool  # the CI reached the target before the budget ran out
    warmup_runs: int = 0
    warmup_s: float = 0.0
    device_s: float | None = None
    overhead_s: float | None = None
    per_op_s: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def rel_ci(self) -> float:
        """Half-width of the CI relative to the median (the larger side)."""
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
            self.noisy = True
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_median_ci(
    samples: Any, conf: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap CI of the median of ``samples``."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no samples")
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    meds = np.median(x[idx], axis=1)
    alpha = (1.0 - conf) / 2.0
    lo, hi = np.quantile(meds, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def summarize(samples: Any, *, target_rel_ci: float = TARGET_REL_CI, seed: int = 0) -> Measurement:
    """A Measurement from raw samples (seconds): median, bootstrap CI, noisy flag."""
    x = np.asarray(samples, dtype=np.float64)
    med = float(np.median(x))
    lo, hi = bootstrap_median_ci(x, seed=seed)
    rel_ci = max(med - lo, hi - med) / med if med > 0 else math.inf
    rel_std = float(np.std(x, ddof=1) / np.mean(x)) if x.size > 1 and np.mean(x) > 0 else 0.0
    return Measurement(
        median_s=med,
        ci_low_s=lo,
        ci_high_s=hi,
        samples=[float(v) for v in x],
        noisy=bool(rel_std > NOISY_REL_STD or rel_ci > NOISY_REL_CI),
        converged=bool(x.size >= 3 and rel_ci <= target_rel_ci),
    )


def time_fn(
    fn: Callable[[], Any],
    budget_s: float = 2.0,
    *,
    warmup_frac: float = 0.2,
    min_samples: int = 5,
    max_samples: int = 10_000,
    target_rel_ci: float = TARGET_REL_CI,
    clock: Callable[[], float] = time.perf_counter,
    seed: int = 0,
) -> Measurement:
    """Time ``fn()`` within roughly ``budget_s`` seconds (warm-up included).

    Warm-up: the first call (compilation, allocation) plus further calls for ``warmup_frac`` of
    the budget, none of them recorded. Then ``fn`` is repeated until the 95% CI of the median is
    within ``target_rel_ci`` of it, the budget is spent, or ``max_samples`` is reached; at least
    ``min_samples`` are always taken (3 when the first call alone outlasts the budget), so a step
    slower than the budget still gets a median and a CI: the budget is then exceeded.
    """
    if budget_s <= 0:
        raise ValueError(f"budget must be positive, got {budget_s}")
    start = clock()
    fn()  # compile / allocate / first-touch
    if clock() - start > budget_s:  # one step costs more than the whole budget (a software
        min_samples = min(min_samples, 3)  # adapter, say): 3 is the least a median + CI needs
    warm_runs = 1
    while clock() - start < warmup_frac * budget_s and warm_runs < 1000:
        fn()
        warm_runs += 1
    if warm_runs == 1:  # one more so a lazily built second-call path is warm too
        fn()
        warm_runs += 1
    warm_s = clock() - start

    samples: list[float] = []
    next_check = min_samples
    result: Measurement | None = None
    while True:
        t0 = clock()
        fn()
        samples.append(clock() - t0)
        n = len(samples)
        spent = clock() - start
        if n >= next_check or n >= max_samples or (spent >= budget_s and n >= min_samples):
            # Checking the CI costs a bootstrap; do it on a geometric schedule, not every sample.
            result = summarize(samples, target_rel_ci=target_rel_ci, seed=seed)
            next_check = max(n + 1, int(n * 1.2))
            if result.converged or spent >= budget_s or n >= max_samples:
                break
    result.warmup_runs = warm_runs
    result.warmup_s = warm_s
    return result
