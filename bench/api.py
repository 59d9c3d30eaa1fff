"""The harness as a library: ``bench.run(sweep) -> Run`` measures a declared sweep and yields its
CSV, JSON sidecar, plots and report in one call, as triton's ``perf_report`` does. The CLI's
``sweep`` command is a shell over the same steps (``start``, ``measure``, ``finish``), which it
calls one by one to print its warnings and handle an interrupt in between.

    sweep = bench.declare(backends=["cpu"], axes={"seq_len": [64, 128, 256]},
                          attention=["naive", "fa2"])
    run = bench.run(sweep, out="results", budget_s=1.0)
    print(run.report())          # markdown: points, fits, speedups, crossovers along seq_len
    run.csv_path, run.json_path, run.plot_files
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.analysis import Run
from bench.model import ConfigError
from bench.results import ResultsError, RunStore
from bench.rounds import MIN_ROUNDS
from bench.sweep import Sweep

DEFAULT_BUDGET_S = 2.0
# The fewest steps the timing engine runs per point (first call, one warm-up, three samples):
# what the up-front budget check multiplies a step's lower bound by.
MIN_STEPS = 5
# Backends that run on the host CPU: a step there cannot beat the CPU's measured matmul peak.
CPU_BACKENDS = ("cpu", "reference", "torch")


def run(
    sweep: Sweep,
    out: str | Path = "results",
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    run_id: str | None = None,
    plots: bool = True,
    require_gpu: bool = False,
    progress: Any = None,
    rounds: int | None = None,
) -> Run:
    """Measure ``sweep`` into ``out/<machine>/<run_id>.csv`` (and its ``.json`` and
    ``.samples.jsonl``), fit, draw the plots (unless ``plots`` is False) and return the loaded
    ``Run``. ``budget_s``: seconds per point, warm-up included, shared by its ``rounds``
    (default 2; more rounds average more of the host's drift into each median). A mistake (no
    usable GPU with ``require_gpu``, an unwritable ``out``, a run id that exists, fewer than 2
    rounds) raises ConfigError before anything is measured."""
    store = start(sweep, out, budget_s=budget_s, run_id=run_id, require_gpu=require_gpu,
                  rounds=rounds)
    measure(sweep, store, budget_s, progress)
    return finish(store, plots=plots)


def start(
    sweep: Sweep,
    out: str | Path = "results",
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    run_id: str | None = None,
    require_gpu: bool = False,
    stamp: str = "",
    command: list[str] | None = None,
    rounds: int | None = None,
) -> RunStore:
    """Create the run's store under ``out/<machine>/`` with the sweep's declaration, its rounds
    per point and where it is measured. ``run_id`` defaults to a timestamp (plus ``stamp``)."""
    from bench.environment import cpu_peak_flops, environment, machine_name
    from bench.runner import ROUNDS

    if not budget_s > 0:
        raise ConfigError(f"the budget must be a positive number of seconds, got {budget_s}")
    rounds = ROUNDS if rounds is None else rounds
    if rounds < MIN_ROUNDS:
        raise ConfigError(f"--rounds must be at least {MIN_ROUNDS} (rounds separated in time are "
                          f"what shows the host's drift), got {rounds}")
    out = Path(out)
    check_writable(out)
    peak = cpu_peak_flops()
    for line in budget_warnings(sweep, budget_s, peak):
        print(line, file=sys.stderr)
    gpu = gpu_describe() if ("gpu" in sweep.backends or require_gpu) else None
    if require_gpu:
        if gpu is None:
            raise ConfigError("--require-gpu: the gpu backend found no usable adapter")
        if gpu.get("software"):
            raise ConfigError(f"--require-gpu: only a software adapter "
                              f"({gpu.get('adapter', '?')}) is available")
    machine = machine_name(str((gpu or {}).get("adapter", "")), bool((gpu or {}).get("software")))
    meta = {"command": command or ["bench.run"], "machine": machine, "sweep": sweep.to_dict(),
            "budget_s": budget_s, "rounds": rounds,
            "environment": {**environment(), "cpu_peak_flops": peak, "gpu": gpu}}
    try:
        return RunStore.create(out / machine, run_id or time.strftime("%Y%m%d-%H%M%S") + stamp,
                               meta)
    except ResultsError as e:
        raise ConfigError(str(e)) from None


def resume(csv_path: str | Path, budget_s: float | None = None) -> tuple[Sweep, RunStore, float]:
    """Reopen a run to continue its own sweep: (sweep, store, budget per point)."""
    try:
        store = RunStore.resume(Path(csv_path))
    except ResultsError as e:
        raise ConfigError(str(e)) from None
    if "sweep" not in store.meta:
        raise ConfigError(f"{store.json_path} has no sweep declaration to resume")
    sweep = Sweep.from_dict(store.meta["sweep"])
    budget = budget_s or store.meta.get("budget_s", DEFAULT_BUDGET_S)
    peak = store.meta.get("environment", {}).get("cpu_peak_flops")
    for line in budget_warnings(sweep, budget, peak):
        print(line, file=sys.stderr)
    return sweep, store, budget


def measure(sweep: Sweep, store: RunStore, budget_s: float, progress: Any = None) -> None:
    """Measure every point of ``sweep`` the store does not hold yet (``bench.runner``), in the
    run's own number of rounds (a resumed run keeps the one it started with)."""
    from bench import runner

    runner.run_sweep(sweep, store, budget_s, progress=progress or runner.Progress(0),
                     rounds=int(store.meta.get("rounds", runner.ROUNDS)))


def finish(store: RunStore, plots: bool = True) -> Run:
    """Fits into the JSON sidecar, plots next to the CSV (``Run.plot_dir``); the loaded Run."""
    loaded = Run.load(store.csv_path)
    store.meta["fits"] = {s: f.to_dict() for s, f in loaded.fits().items()}
    store.write_meta()
    if plots:
        loaded.plot()
    return loaded


def check_writable(out: Path) -> None:
    """Refuse an ``out`` the sweep could not write to, before anything is measured."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise ConfigError(f"--out {out} is not writable ({e.strerror or e})") from None


def gpu_describe() -> dict[str, Any] | None:
    """describe() of the GPU backend at micro, or None when it cannot be created."""
    from bench.measure import _safe_describe, prepare_step
    from bench.model import get_preset

    try:
        b, _, _ = prepare_step("gpu", get_preset("micro"))
    except Exception:
        return None
    try:
        return _safe_describe(b)
    finally:
        b.close()


def budget_warnings(sweep: Sweep, budget: float, peak_flops: float | None) -> list[str]:
    """Lines saying which points cannot keep to ``budget``: a point takes at least MIN_STEPS
    steps, and a step on the host CPU takes at least its FLOPs over the CPU's measured matmul
    peak. A lower bound only (GPU points, whose speed is unknown before measuring, are not
    judged), so every line it prints is certain to come true."""
    if not peak_flops or peak_flops <= 0:
        return []
    from bench.model import step_flops

    cpu = [b for b in sweep.backends if b in CPU_BACKENDS]
    if not cpu:
        return []
    over = []
    for cp in sweep.configs():
        least = MIN_STEPS * step_flops(cp.config) / peak_flops
        if least > budget:
            over.append((least, cp.preset or cp.config.label()))
    if not over:
        return []
    over.sort(reverse=True)
    worst, where = over[0]
    names = ", ".join(name for _, name in over[:6]) + (" ..." if len(over) > 6 else "")
    return [f"warning: --budget {budget:g} s is too small for {len(over)} config(s) on "
            f"{', '.join(cpu)} ({names}): a point takes at least {MIN_STEPS} steps, and at this "
            f"CPU's measured matmul peak ({peak_flops / 1e9:.3g} GFLOP/s) one at {where} takes "
            f">= {worst:.3g} s per point; those points will overrun the budget"]
