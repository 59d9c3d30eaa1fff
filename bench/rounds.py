"""Rounds: a point's samples come from several rounds separated in time; pool those that agree.

A sweep measures every point once per round, with the other points in between (``runner``). A
transient host stall (a page-cache flush, a neighbour VM, a pool still spinning from the previous
point) then hits one round of a point, not all of them: the rounds disagree, the point is measured
again in an extra round at the end, and the median pools the rounds that agree. Without rounds the
same stall yields a tight interval around a wrong number.

Two rounds *agree* when their 95% intervals overlap, or the gap between them is within
``AGREE_TOL`` of the larger median (a 1% shift between two very tight intervals is real but
too small to be worth a re-measurement). ``pool`` keeps the largest set of pairwise agreeing
rounds if it holds 2+ rounds and a majority of them; otherwise the point is ``unstable``.

The interval describes the host, not one burst. Two bursts a minute apart on a busy host differ
by more than either burst's own order-statistic interval admits, so the pooled point's 95% interval
also carries the spread of its round medians: a t interval of the mean log round median, whose
variance pools the point's own rounds with ``PRIOR_ROUNDS`` rounds' worth of the spread the other
points of its series showed in the same sweep (two or three rounds alone say little about a
spread). The order-statistic interval and that term add in quadrature on a log scale.

A stall can also last through every round of one point. Along a d_model curve (one series, all
else fixed) a point more than ``TREND_TOL`` off the log-log line through its neighbours
(``off_trend``) gets the extra round too; still off after it, it is marked ``noisy`` with the
factor, so a kernel cliff that is real stays visible but never passes as a plain ``ok``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from bench.measure import attach_span
from bench.status import with_reason
from bench.timing import (
    CONFIDENCE,
    MIN_SAMPLES,
    MIN_SPAN_S,
    NOISY_REL_CI,
    Measurement,
    median_ci,
)

AGREE_TOL = 0.02
MIN_ROUNDS = 2
TREND_TOL = 1.5
SPAN_ULP = 1e-9  # rounds stopped exactly at their floor share sum to it up to rounding
PRIOR_ROUNDS = 3  # weight, in rounds, of the series' round-to-round spread in a point's own

Spread = tuple[float, int]  # sum of squared log deviations of round medians, degrees of freedom


def agree(a: Measurement, b: Measurement) -> bool:
    gap = max(a.ci_low_s, b.ci_low_s) - min(a.ci_high_s, b.ci_high_s)
    return bool(gap <= AGREE_TOL * max(a.median_s, b.median_s))


def agreeing_group(rounds: list[Measurement]) -> list[int]:
    """Indices of the largest set of pairwise agreeing rounds. Ties go to the set with more
    samples, then the lower median (a stall only ever adds time)."""
    best: tuple[int, int, float] | None = None
    pick: list[int] = []
    for size in range(len(rounds), 0, -1):
        for combo in itertools.combinations(range(len(rounds)), size):
            if all(agree(rounds[i], rounds[j]) for i, j in itertools.combinations(combo, 2)):
                n = sum(rounds[i].n for i in combo)
                med = float(np.median([s for i in combo for s in rounds[i].samples]))
                key = (size, n, -med)
                if best is None or key > best:
                    best, pick = key, list(combo)
        if pick:
            return pick
    return pick


def round_floor(rounds: int) -> tuple[int, float]:
    """The stopping rule's floor for one of ``rounds`` rounds, ``(min_samples, min_span_s)``.

    A stable point pools a majority of its rounds (``keep``), so a round must carry the floor's
    share of the smallest majority, not of every round: with ``MIN_SPAN_S / rounds`` a fast
    step whose 6 rounds each stop at their floor falls short of it as soon as one round is
    dropped, and a well-sampled point reads ``budget-short``."""
    least_kept = max(MIN_ROUNDS, rounds // 2 + 1) if rounds >= MIN_ROUNDS else max(rounds, 1)
    return math.ceil(MIN_SAMPLES / least_kept), MIN_SPAN_S / least_kept


def needs_extra_round(rounds: list[Measurement]) -> bool:
    """Measured in 2+ rounds that do not all agree: one more round, at the end of the sweep."""
    return len(rounds) >= MIN_ROUNDS and len(agreeing_group(rounds)) < len(rounds)


@dataclass
class Pooled:
    m: Measurement
    status: str  # a bench.status value
    kept: list[int]  # indices of the rounds pooled into the median
    total: int  # rounds measured

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept)


def spread(rounds: list[Measurement]) -> Spread:
    """The round-to-round spread of one point's rounds (log medians)."""
    x = np.log([r.median_s for r in rounds])
    return float(np.sum((x - x.mean()) ** 2)), len(x) - 1


def pooled_spread(spreads: list[Spread]) -> Spread:
    """Several points' spreads as one (a pooled variance: sums of squares and dfs add)."""
    return sum(s for s, _ in spreads), sum(d for _, d in spreads)


def without(total: Spread, part: Spread) -> Spread:
    """``total`` with ``part`` (one of the spreads pooled into it) taken out again."""
    return total[0] - part[0], total[1] - part[1]


def keep(rounds: list[Measurement]) -> tuple[list[int], bool]:
    """The rounds a point pools and whether it is stable: the agreeing group when it holds 2+
    rounds and a majority (or there is a single round), else every round (unstable)."""
    group = agreeing_group(rounds)
    stable = len(rounds) < MIN_ROUNDS or (len(group) >= MIN_ROUNDS and 2 * len(group) > len(rounds))
    return (group if stable else list(range(len(rounds)))), stable


def drift_halfwidth(rounds: list[Measurement], prior: Spread | None) -> float:
    """Half-width, in log units, of the 95% t interval of the mean log round median: the host's
    round-to-round drift as it bears on this point (0 when nothing estimates it)."""
    ss, df = spread(rounds)
    if prior is not None and prior[1] > 0:
        ss += PRIOR_ROUNDS * prior[0] / prior[1]
        df += PRIOR_ROUNDS
    if df < 1:
        return 0.0
    return float(student_t.ppf(0.5 + CONFIDENCE / 2, df) * np.sqrt(ss / df / len(rounds)))


def pool(rounds: list[Measurement], prior: Spread | None = None) -> Pooled:
    """One Measurement and a status from a point's rounds (see the module doc).

    The interval of an agreeing pool is the order-statistic CI of the pooled samples and the
    round-to-round drift (``drift_halfwidth``, with ``prior`` the spread of the series' other
    points) added in quadrature on a log scale, and never narrower than the kept rounds' medians.
    An unstable point pools every round and its interval spans the rounds' medians.
    """
    if not rounds:
        raise ValueError("no rounds")
    kept, stable = keep(rounds)
    chosen = [rounds[i] for i in kept]
    samples = [s for r in chosen for s in r.samples]
    med = float(np.median(samples))
    lo, hi, cover = median_ci(samples)
    if stable and med > 0 and lo > 0:
        h = drift_halfwidth(chosen, prior)
        lo = med * float(np.exp(-np.hypot(np.log(med / lo), h)))
        hi = med * float(np.exp(np.hypot(np.log(hi / med), h)))
    meds = [r.median_s for r in chosen]
    lo, hi = min([lo, *meds]), max([hi, *meds])
    span = sum(r.span_s for r in chosen)
    rel_ci = max(med - lo, hi - med) / med if med > 0 else float("inf")
    split = [r for r in chosen if r.per_op_s]
    m = Measurement(
        median_s=med, ci_low_s=lo, ci_high_s=hi, samples=samples,
        noisy=bool(rel_ci > NOISY_REL_CI or cover < CONFIDENCE),
        converged=all(r.converged for r in chosen),
        warmup_runs=sum(r.warmup_runs for r in chosen),
        warmup_s=sum(r.warmup_s for r in chosen),
        span_s=span,
        floor_met=bool(len(samples) >= MIN_SAMPLES and span >= MIN_SPAN_S * (1 - SPAN_ULP)),
        coverage=cover,
        extra=dict(chosen[0].extra),
    )
    spans = [r.extra.get("span_samples") for r in chosen]
    if all(spans):  # the step's own device span: the split of every GPU row
        attach_span(m, [s for sp in spans for s in sp], split[0].per_op_s if split else None)
    elif split:
        m.with_split(split[0].per_op_s)
    m.profile_exceeds_wall = m.profile_exceeds_wall or any(
        r.profile_exceeds_wall for r in chosen)
    m.noisy = m.noisy or m.profile_exceeds_wall
    if not stable:
        meds_all = ", ".join(f"{r.median_s * 1e3:.3g}" for r in rounds)
        status = with_reason("unstable", f"round medians {meds_all} ms disagree")
    elif len(rounds) < MIN_ROUNDS or not m.floor_met:
        status = with_reason("budget-short", _short_reason(len(rounds), m))
    elif m.noisy:
        why = ("per-op profile exceeds the wall median" if m.profile_exceeds_wall
               else f"95% CI +-{rel_ci * 100:.0f}%")
        status = with_reason("noisy", why)
    else:
        status = "ok"
    return Pooled(m, status, kept, len(rounds))


def _short_reason(n_rounds: int, m: Measurement) -> str:
    parts = []
    if n_rounds < MIN_ROUNDS:
        parts.append(f"{n_rounds} round")
    if m.n < MIN_SAMPLES:
        parts.append(f"{m.n} samples < {MIN_SAMPLES}")
    if m.span_s < MIN_SPAN_S * (1 - SPAN_ULP):
        parts.append(f"sampled {m.span_s:.2g}s < {MIN_SPAN_S}s")
    return ", ".join(parts)


def off_trend(curve: list[tuple[float, float]], tol: float = TREND_TOL) -> dict[int, float]:
    """Points of one d_model curve, ``[(d_model, median_s), ...]``, that no pair of nearby
    points explains: more than ``tol`` times above or below the log-log line through each pair
    of neighbours (one on each side, or the two nearest on either side). Returns
    ``{index: factor}``, factor = median / the nearest expectation.

    While some point is off, the one whose removal leaves the others most consistent is taken
    out (ties: an interior point before an end, whose expectation is only extrapolated), so one
    outlier does not drag its good neighbours off their own trend."""
    left = sorted(range(len(curve)), key=lambda i: curve[i][0])
    out: dict[int, float] = {}
    while len(left) >= 3 and _worst(curve, left) > np.log(tol):
        best: tuple[tuple[float, bool, float], int, float] | None = None
        for k, i in enumerate(left):
            rest = left[:k] + left[k + 1:]
            own = _factor(curve, left, k)
            key = (round(_worst(curve, rest), 6), k in (0, len(left) - 1), -abs(np.log(own)))
            if best is None or key < best[0]:
                best = (key, i, own)
        assert best is not None
        _, i, own = best
        if 1.0 / tol <= own <= tol:
            break
        out[i] = own
        left.remove(i)
    return out


def _worst(curve: list[tuple[float, float]], left: list[int]) -> float:
    if len(left) < 3:
        return 0.0
    return max(abs(float(np.log(_factor(curve, left, k)))) for k in range(len(left)))


def _factor(curve: list[tuple[float, float]], left: list[int], k: int) -> float:
    """The factor of point ``left[k]`` against its best-fitting pair of neighbours."""
    best = None
    for a, b in ((k - 1, k + 1), (k - 2, k - 1), (k + 1, k + 2)):
        if a < 0 or b >= len(left):
            continue
        (xa, ya), (xb, yb), (xk, yk) = (curve[left[j]] for j in (a, b, k))
        t = (np.log(xk) - np.log(xa)) / (np.log(xb) - np.log(xa))
        f = float(yk / np.exp(np.log(ya) + t * (np.log(yb) - np.log(ya))))
        if best is None or abs(np.log(f)) < abs(np.log(best)):
            best = f
    return 1.0 if best is None else best
