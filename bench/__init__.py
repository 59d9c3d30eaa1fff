"""The harness: model contract, timing engine, sweeps, fits, results, plots and the CLI.

The measuring entry points are re-exported lazily (``backends`` imports ``bench.model``, so an
eager import here would be circular):

* ``bench.measure_step(backend, config, options=None, budget_s=2.0) -> Measurement``
* ``bench.prepare_step(backend, config, options=None, seed=0) -> (backend, tokens, targets)``
* ``bench.time_fn(fn, budget_s) -> Measurement`` and ``bench.Measurement``
* ``bench.check_parity(backend, options=None) -> (passed, message)``
* ``bench.fit_overhead(flops, medians, samples=None) -> Fit`` and ``bench.speedup(base, cand)``
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "measure_step": "bench.measure",
    "prepare_step": "bench.measure",
    "check_parity": "bench.measure",
    "make_batch": "bench.measure",
    "profile_split": "bench.measure",
    "time_fn": "bench.timing",
    "Measurement": "bench.timing",
    "fit_overhead": "bench.fit",
    "speedup": "bench.fit",
    "crossover": "bench.fit",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
