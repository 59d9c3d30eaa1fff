"""The host core's own speed, read beside every round of a sweep.

On the lent H200's VM (results/h200/s5, ``host_probe.py``) a host-bound GPU step flips between
a fast and a slow state for seconds at a time, with the GPU's SM clock at its maximum, no steal
time, the main thread on one core (pinned or not) and nothing else running. A fixed pure-Python
loop timed beside it slows down with it, by more than the step does: the host core itself runs
slower in those episodes. Nothing in this process causes or can undo that, but a point whose
rounds disagree can say whether the host's speed moved with them, so a reader knows the
disagreement is the machine's and not the kernel's. ``sentinel_us`` is that loop; the sweep
reads it before and after each round (a few of its short repeats) and keeps both readings with
the round. A round's figure is the faster of the two: a reading can only be slowed by
preemption or a cold cache, never sped up.

Under ``run_sweep(..., isolate=True)`` the sentinel runs in the sweep's own process while the
step runs in a worker, possibly on another core: it then reads the host's episodes, which on
the H200 came on every core alike, not the worker's core as such.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

SENTINEL_LOOP = 2000  # iterations: well above the timer's resolution, short beside a round
SENTINEL_REPEATS = 7  # best of: a single reading can catch a preemption
# How far (relative) the host's round figures must move, in the step's direction, before a row
# or a report says so: above the scatter of a steady but busy small VM's figures (the hand-off's
# sleeps before a round leave the core cool), well below the moves of the H200's slow episodes
# (results/h200/s5/F/host-probe.log).
MOVED_REL = 0.25


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


def moved(fast_us: float, slow_us: float) -> float:
    """How much slower (relative) the host read at ``slow_us`` than at ``fast_us``; the rows'
    notes, the report and ``bench compare`` speak when it reaches ``MOVED_REL``."""
    return slow_us / fast_us - 1 if fast_us > 0 else 0.0


def round_speeds(readings: Sequence[Sequence[float] | None]) -> list[float | None]:
    """One figure per round, aligned with ``readings``: the faster of its before/after
    sentinels, or None for a round without readings (written before the sentinel existed)."""
    return [float(min(r)) if r else None for r in readings]


def host_note(readings: Sequence[Sequence[float] | None], step_medians: Sequence[float],
              moved_rel: float = MOVED_REL) -> str | None:
    """The reason's addition for a point whose rounds disagree, or None: the sentinel of the
    round whose step was slowest read at least ``moved_rel`` slower than that of the round whose
    step was fastest (the host moved, and in the step's direction). Rounds without readings are
    left out; fewer than two with readings give None."""
    speeds = round_speeds(readings)
    pairs = [(m, s) for m, s in zip(step_medians, speeds, strict=True) if s is not None]
    if len(pairs) < 2:
        return None
    fast, slow = min(pairs)[1], max(pairs)[1]
    rel = moved(fast, slow)
    if rel < moved_rel:
        return None
    return (f"the host core's own speed moved {100 * rel:.0f}% with the step "
            f"between its rounds (pure-Python sentinel {fast:.3g} us in its fastest round, "
            f"{slow:.3g} us in its slowest)")
