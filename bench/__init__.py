"""The harness: presets, timing engine, sweeps, fits, results, plots and the CLI.

The library entry point, as triton's ``perf_report``: declare a sweep, measure it in one call,
get the CSV, JSON, plots and report (``bench.api``)::

    sweep = bench.declare(backends=["cpu"], axes={"seq_len": [64, 128]}, attention=["naive", "fa2"])
    run = bench.run(sweep, out="results", budget_s=1.0)   # -> bench.Run
    print(run.report()); run.plot_files; run.curves("seq_len")

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

from bench.analysis import Run
from bench.api import run
from bench.fit import crossover, fit_overhead, speedup
from bench.measure import check_parity, make_batch, measure_step, prepare_step, profile_split
from bench.sweep import Sweep, declare
from bench.timing import Measurement, time_fn

__all__ = [
    "Measurement", "Run", "Sweep", "check_parity", "crossover", "declare", "fit_overhead",
    "make_batch", "measure_step", "prepare_step", "profile_split", "run", "speedup", "time_fn",
]
