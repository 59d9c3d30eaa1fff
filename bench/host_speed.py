"""The host core's own speed, read beside every round of a sweep.

On the lent H200's VM (results/h200/s5, ``host_probe.py``) a host-bound GPU step flips between
a fast and a slow state for seconds at a time, with the GPU's SM clock at its maximum, no steal
time, the main thread on one core (pinned or not) and nothing else running. A fixed pure-Python
loop timed beside it slows down with it, by more than the step does: the host core itself runs
slower in those episodes. Nothing in this process causes or can undo that, but a point whose
rounds disagree can say whether the host's speed moved between them, so a reader knows the
disagreement is the machine's and not the kernel's. ``sentinel_us`` is that loop; the sweep
reads it before and after each round (about 1 ms) and keeps the readings with the round.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

SENTINEL_LOOP = 2000  # iterations: ~0.1 ms on a server core, far above the timer's resolution
SENTINEL_REPEATS = 5  # best of: a single reading can catch a preemption
MOVED_REL = 0.15  # a spread of round readings at and above which the host counts as moved


def sentinel_us() -> float:
    """Best of ``SENTINEL_REPEATS`` timings (microseconds) of a fixed pure-Python loop: the
    speed of the core this thread runs on, as the interpreter sees it."""
    best = float("inf")
    for _ in range(SENTINEL_REPEATS):
        t0 = time.perf_counter()
        x = 0
        for i in range(SENTINEL_LOOP):
            x += i * i
        best = min(best, time.perf_counter() - t0)
    return best * 1e6


def round_speeds(readings: Sequence[Sequence[float] | None]) -> list[float]:
    """One figure per round that has readings: the mean of its before/after sentinels."""
    return [float(np.mean(r)) for r in readings if r]


def host_note(readings: Sequence[Sequence[float] | None], moved_rel: float = MOVED_REL
              ) -> str | None:
    """The reason's addition for a point whose rounds disagree: how far the host core's speed
    moved between its rounds, or None when fewer than 2 rounds have readings or it moved less
    than ``moved_rel``."""
    speeds = round_speeds(readings)
    if len(speeds) < 2:
        return None
    lo, hi = min(speeds), max(speeds)
    if lo <= 0 or hi / lo - 1 < moved_rel:
        return None
    return (f"the host core's own speed moved {100 * (hi / lo - 1):.0f}% between its rounds "
            f"(pure-Python sentinel {lo:.3g}-{hi:.3g} us)")
