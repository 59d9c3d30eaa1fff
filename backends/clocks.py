"""Bring an accelerator to its working clocks before anything on it is timed.

A GPU that has idled for half a second or more (while CPU points ran, while pipelines compiled,
between asv's benchmark processes) drops its SM clock; its next steps run several times slower
for a fraction of a second, and at a load that does not saturate it (a training step with host
gaps between its pieces) it can stay measurably slower for seconds more. Saturating it until a
fixed probe runs at full speed brings it to its fast state at once (the study:
``results/h200-clocks``). ``settle`` is that loop, for any probe: the GPU backend passes its FMA
probe, the torch peer a CUDA matmul.

When to stop: once a probe run is within ``SETTLE_REL`` of the fastest run of that probe seen in
this process (the device's full speed, learnt by the first settle), after at least ``MIN_RUNS``
runs; the first settle of a process, which has no such figure yet, goes on for at least
``FIRST_MIN_S`` and until ``MIN_RUNS`` runs in a row agree within ``SETTLE_REL``. Never longer
than ``max_s``; a settle that hit it says so (``settled`` False).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SETTLE_REL = 0.03  # a run within 3% of the device's full speed counts as settled
MIN_RUNS = 3
FIRST_MIN_S = 0.5  # the first settle of a process: at least this long (no full speed known yet)
MAX_S = 2.0

_FASTEST: dict[str, float] = {}  # probe key -> fastest run seen in this process (seconds)


def settle(run: Callable[[], float], key: str, max_s: float = MAX_S,
           clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Run ``run()`` (one probe run; returns its duration in seconds, device or wall) back to
    back until the device is at full speed (module docstring) or ``max_s`` has passed.

    Returns what it did: ``seconds`` spent, ``runs``, the last and the fastest run's ``ms``,
    ``first`` (no full speed known before) and ``settled``. ``key`` names the probe and device:
    full speed is remembered per key."""
    start = clock()
    known = _FASTEST.get(key)
    times: list[float] = []
    settled = False
    while True:
        times.append(run())
        _FASTEST[key] = min(_FASTEST.get(key, times[-1]), times[-1])
        spent = clock() - start
        if len(times) >= MIN_RUNS:
            if known is not None:
                settled = times[-1] <= (1 + SETTLE_REL) * _FASTEST[key]
            else:
                last = times[-MIN_RUNS:]
                settled = spent >= FIRST_MIN_S and max(last) <= (1 + SETTLE_REL) * min(last)
        if settled or spent >= max_s:
            break
    return {"seconds": round(clock() - start, 4), "runs": len(times),
            "last_ms": round(times[-1] * 1e3, 4), "fastest_ms": round(_FASTEST[key] * 1e3, 4),
            "first": known is None, "settled": settled}
