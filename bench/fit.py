"""The modelled split and the curves: ``step_time = a + b * flops`` fits, speedup ratios, crossover.

* ``fit_overhead``: ordinary least squares across a sweep's points of one series. ``a`` is the
  fixed per-step overhead (s), ``b`` the seconds per FLOP (``1/b`` = achieved FLOP/s). The CI
  comes from a bootstrap that redraws each point's median from its own raw samples (measurement
  noise) and, with 4+ points, also resamples the points (model misfit). Without raw samples the
  measurement noise is unknown, and so is the CI (NaN), never a zero-width interval.
* ``speedup``: ``median(baseline) / median(candidate)`` for two sample sets measured in the same
  run, with a bootstrap CI (each side resampled independently): the ratio of two bursts.
* ``row_ratio``: the same ratio for two result rows, its interval from the rows' own 95%
  intervals (log scale, in quadrature). A row's interval carries the host's round-to-round drift
  (``bench.rounds``), which resampling one burst's samples cannot see; reports use this one.
* ``crossover``: where a speedup curve crosses 1, interpolated linearly between neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

N_BOOT = 1000


@dataclass
class Fit:
    a: float  # fixed overhead per step, seconds
    b: float  # seconds per FLOP
    a_ci: tuple[float, float]
    b_ci: tuple[float, float]
    r2: float
    n: int

    @property
    def flops_per_s(self) -> float:
        return 1.0 / self.b if self.b > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flops_per_s": self.flops_per_s}


def _lstsq(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    A = np.stack([np.ones_like(x), x], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    return float(a), float(b)


def fit_overhead(
    flops: Sequence[float],
    medians: Sequence[float],
    samples: Sequence[Sequence[float]] | None = None,
    *,
    intervals: Sequence[tuple[float, float]] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Fit:
    """Least-squares ``median = a + b * flops`` with a 95% bootstrap CI on ``a`` and ``b``.

    Each bootstrap draw redraws every median: from its raw ``samples``, or, given the rows'
    95% ``intervals`` (which carry the host's round-to-round drift), log-normally with the
    interval's half-width as 1.96 sigma. With neither, the medians' own uncertainty is unknown
    and so is the CI (NaN)."""
    x = np.asarray(flops, dtype=np.float64)
    y = np.asarray(medians, dtype=np.float64)
    if x.size < 2 or np.unique(x).size < 2:
        raise ValueError("a fit needs at least two distinct FLOP counts")
    scale = x.max()  # fit in scaled units: lstsq on 1e12-sized x is ill-conditioned
    a, bs = _lstsq(x / scale, y)
    pred = a + bs * x / scale
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0

    if samples is None and intervals is None:
        nan = (float("nan"), float("nan"))
        return Fit(a, bs / scale, nan, nan, r2, int(x.size))
    rng = np.random.default_rng(seed)
    raw = [np.asarray(s, dtype=np.float64) for s in samples] if samples is not None else None
    if intervals is not None:
        sigma = np.array([np.log(hi / lo) / (2 * 1.96) for lo, hi in intervals])
    boots = []
    for _ in range(n_boot):
        if raw is not None:
            yb = np.array([np.median(s[rng.integers(0, s.size, s.size)]) if s.size else m
                           for s, m in zip(raw, y, strict=True)])
        else:
            yb = y * np.exp(rng.normal(0.0, sigma))
        idx = np.arange(x.size)
        if x.size >= 4:
            idx = rng.integers(0, x.size, x.size)
            if np.unique(x[idx]).size < 2:
                continue
        boots.append(_lstsq(x[idx] / scale, yb[idx]))
    if boots:
        arr = np.array(boots)
        a_lo, a_hi = np.quantile(arr[:, 0], [0.025, 0.975])
        b_lo, b_hi = np.quantile(arr[:, 1] / scale, [0.025, 0.975])
    else:
        a_lo = a_hi = a
        b_lo = b_hi = bs / scale
    a_ci = (float(a_lo), float(a_hi))
    return Fit(a, bs / scale, a_ci, (float(b_lo), float(b_hi)), r2, int(x.size))


@dataclass
class Ratio:
    value: float
    ci_low: float  # NaN: unknown (no raw samples to derive it from)
    ci_high: float

    @property
    def ci_known(self) -> bool:
        return bool(np.isfinite(self.ci_low) and np.isfinite(self.ci_high))


def speedup(
    baseline: Sequence[float], candidate: Sequence[float], *, n_boot: int = N_BOOT, seed: int = 0
) -> Ratio:
    """How many times faster ``candidate`` is than ``baseline``: median(baseline)/median(cand)."""
    xb = np.asarray(baseline, dtype=np.float64)
    xc = np.asarray(candidate, dtype=np.float64)
    if xb.size == 0 or xc.size == 0:
        raise ValueError("speedup needs samples on both sides")
    value = float(np.median(xb) / np.median(xc))
    rng = np.random.default_rng(seed)
    mb = np.median(xb[rng.integers(0, xb.size, (n_boot, xb.size))], axis=1)
    mc = np.median(xc[rng.integers(0, xc.size, (n_boot, xc.size))], axis=1)
    lo, hi = np.quantile(mb / mc, [0.025, 0.975])
    return Ratio(value, float(lo), float(hi))


Interval = tuple[float, float, float]  # median, 95% low, 95% high (seconds)


def row_ratio(baseline: Interval, candidate: Interval) -> Ratio:
    """``baseline / candidate`` medians, with the interval of a ratio of two independent
    estimates: each side's log half-width (low side with high side) added in quadrature."""
    mb, lb, hb = baseline
    mc, lc, hc = candidate
    value = mb / mc
    down = np.hypot(np.log(mb / lb), np.log(hc / mc))
    up = np.hypot(np.log(hb / mb), np.log(mc / lc))
    return Ratio(float(value), float(value * np.exp(-down)), float(value * np.exp(up)))


def crossover(xs: Sequence[float], ratios: Sequence[float], level: float = 1.0) -> float | None:
    """First x where ``ratios`` crosses ``level`` from below (candidate starts to win), linearly
    interpolated; ``None`` if it never does. Points are sorted by x first.

    If the candidate already wins at the smallest x there is no crossover inside the range:
    ``None`` too (the report says "wins everywhere" / "never wins" from the ratios themselves).
    """
    order = np.argsort(np.asarray(xs, dtype=np.float64))
    x = np.asarray(xs, dtype=np.float64)[order]
    r = np.asarray(ratios, dtype=np.float64)[order]
    for i in range(len(x) - 1):
        r0, r1 = r[i] - level, r[i + 1] - level
        if r0 < 0 <= r1:
            if r1 == r0:
                return float(x[i + 1])
            return float(x[i] + (x[i + 1] - x[i]) * (-r0) / (r1 - r0))
    return None


def verdict(ratios: Sequence[float], xs: Sequence[float], level: float = 1.0) -> str:
    """One phrase for a speedup curve: crossover at x, wins everywhere, or never wins."""
    r = np.asarray(ratios, dtype=np.float64)
    if r.size == 0:
        return "no points"
    c = crossover(xs, ratios, level)
    if c is not None:
        return f"crossover at {c:.0f}"
    if np.all(r >= level):
        return "faster at every point"
    if np.all(r < level):
        return "slower at every point"
    return "no single crossover"
