"""The harness: presets, timing engine, sweeps, fits, results, plots and the CLI.

The measuring entry points:

* ``bench.measure_step(backend, config, options=None, budget_s=2.0) -> Measurement``
* ``bench.prepare_step(backend, config, options=None, seed=0) -> (backend, tokens, targets)``
* ``bench.time_fn(fn, budget_s) -> Measurement`` and ``bench.Measurement``
* ``bench.check_parity(backend, options=None) -> (passed, message)``
* ``bench.fit_overhead(flops, medians, samples=None) -> Fit`` and ``bench.speedup(base, cand)``

The model contract they measure lives in ``backends.model`` (re-exported with the presets by
``bench.model``), so the backends never import the harness.
"""

from __future__ import annotations

from bench.fit import crossover, fit_overhead, speedup
from bench.measure import check_parity, make_batch, measure_step, prepare_step, profile_split
from bench.timing import Measurement, time_fn

__all__ = [
    "Measurement", "check_parity", "crossover", "fit_overhead", "make_batch", "measure_step",
    "prepare_step", "profile_split", "speedup", "time_fn",
]
