"""Clean hand-offs between points: each point starts from a quiet host, whatever ran before it.

What the previous point can leave behind in this process:

* **Spinning worker pools.** The CPU backend runs each op as a parallel region of Numba's pool
  (the OpenMP layer: libgomp), and torch on the CPU uses its own OpenMP pool. When a region ends,
  libgomp's workers keep spinning (about 300,000 spins, a few ms, with OMP_WAIT_POLICY unset)
  before they sleep; OpenBLAS's idle workers poll for up to 2^28 cycles (~0.1 s). At 16 threads
  that is 15+ cores busy for a while after the last CPU step, and the next point's first samples
  (a GPU step is one host thread encoding ~100 dispatches, plus the driver's threads) compete
  with them, on a VM with their hyperthread siblings and the hypervisor too.
* **Thread limits.** The CPU backend holds every BLAS at one thread for its steps (its GEMMs run
  inside Numba's pool) and leaves it there: a later NumPy-based point would run single-threaded.
* **Garbage.** The previous backend's buffers, freed whenever the collector gets to them: inside
  the next point's samples, unless collected first.

``quiesce`` undoes all three before a point: it collects garbage, restores the thread limits
taken when the sweep started, and waits (up to ``MAX_WAIT_S``) until this process uses less than
``QUIET_CORES`` cores while its main thread sleeps, i.e. until the pools are parked. A residue
that outlives that (the host's clock or power budget after an all-core load, a neighbour VM) is
not in this process; ``probe`` tells the two apart on a real machine:

    python -m bench.handoff --gpu-preset medium --attention fa2 --cpu cpu,torch \\
        --cpu-preset huge --threads 16

times one warm GPU step alone; after as many seconds idle as a load lasts (the device's own
clocks after idling); after CPU-backend and torch-CPU steps with no hand-off (and 2 s later),
after them and ``quiesce``, after them run in a child process that has exited; and alone again.
It prints one table.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

QUIET_CORES = 0.2  # busy cores (all threads of this process) below which it counts as quiet
WINDOW_S = 0.005  # one observation window
QUIET_WINDOWS = 2  # consecutive quiet windows needed
MAX_WAIT_S = 0.5  # pools park within ~0.1 s; a thread busy past this is not a pool


class Limits:
    """The thread limits of every BLAS/OpenMP library loaded when the sweep started."""

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController

        self._libs = [(lib, lib.num_threads) for lib in ThreadpoolController().lib_controllers]

    def restore(self) -> None:
        for lib, n in self._libs:
            if lib.num_threads != n:
                lib.set_num_threads(n)


def busy_cores(window_s: float = WINDOW_S) -> float:
    """Cores this process keeps busy (CPU time of all its threads per wall second) while the
    calling thread sleeps for ``window_s``."""
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(window_s)
    return (time.process_time() - c0) / max(time.perf_counter() - w0, 1e-9)


def quiesce(
    limits: Limits | None = None,
    max_wait_s: float = MAX_WAIT_S,
    busy: Callable[[], float] = busy_cores,
) -> dict[str, Any]:
    """Collect garbage, restore ``limits``, then wait until the process is quiet; returns
    ``{"waited_s", "quiet", "busy_cores"}`` (quiet False: still busy ``max_wait_s`` after the
    collection; ``waited_s`` includes the collection). ``busy`` observes one window."""
    t0 = time.perf_counter()
    gc.collect()
    if limits is not None:
        limits.restore()
    t1 = time.perf_counter()  # the wait is counted from here: collecting can take a while
    quiet_run, cores = 0, 0.0
    while quiet_run < QUIET_WINDOWS:
        cores = busy()
        quiet_run = quiet_run + 1 if cores < QUIET_CORES else 0
        if time.perf_counter() - t1 >= max_wait_s:
            break
    return {"waited_s": time.perf_counter() - t0, "quiet": quiet_run >= QUIET_WINDOWS,
            "busy_cores": cores}


# ----------------------------------------------------------------------------- probe
def _load(backend: str, preset: str, options: dict[str, Any]) -> Callable[[], float]:
    from bench.measure import prepare_step
    from bench.model import get_preset

    b, tokens, targets = prepare_step(backend, get_preset(preset), options)
    b.train_step(tokens, targets)  # compile / allocate outside any timed phase

    def step() -> float:
        return b.train_step(tokens, targets)

    step.settle = b.settle_device  # type: ignore[attr-defined]
    return step


def _spin(step: Callable[[], float], seconds: float) -> int:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        step()
        n += 1
    return n


def _child_load(backend: str, preset: str, options: dict[str, Any], seconds: float,
                ready: Any) -> None:
    step = _load(backend, preset, options)
    ready.set()
    _spin(step, seconds)


def _times(step: Callable[[], float], steps: int, budget_s: float) -> tuple[list[float], float]:
    """The first ``steps`` steps as they come (what the load left behind, device clocks
    included), then the median of a point measured as a sweep measures it (the device settled,
    warm-up, samples)."""
    from bench.timing import time_fn

    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out, time_fn(step, budget_s, settle=getattr(step, "settle", None)).median_s


def probe(
    gpu: str = "gpu",
    gpu_preset: str = "medium",
    gpu_options: dict[str, Any] | None = None,
    cpu: str | list[str] = "cpu",
    cpu_preset: str = "huge",
    cpu_options: dict[str, Any] | None = None,
    load_s: float = 3.0,
    steps: int = 5,
    later_s: float = 2.0,
    budget_s: float = 0.5,
    out: Callable[[str], None] = print,
) -> dict[str, dict[str, float]]:
    """Time the ``gpu`` point alone, after ``load_s`` seconds idle, and after ``load_s`` seconds
    of steps of each ``cpu`` backend several ways (see the module doc); returns ``{phase:
    {"first5_ms", "median_ms", "vs_alone"}}`` and prints a table. Every backend is created and
    warmed once, before any timed phase; the same warm ``gpu`` instance is timed throughout.

    The idle phase separates the two suspects: if the GPU point is slow after the host merely
    slept as long as a CPU load lasts, the device (its clocks after idling), not the CPU side,
    is what the next point inherits."""
    loads = [cpu] if isinstance(cpu, str) else list(cpu)
    gpu_options = dict(gpu_options or {})
    cpu_options = dict(cpu_options or {})
    limits = Limits()
    g = _load(gpu, gpu_preset, gpu_options)
    steps_of = {name: _load(name, cpu_preset, cpu_options) for name in loads}
    res: dict[str, tuple[list[float], float]] = {}
    waits: list[str] = []
    quiesce(limits)
    res["alone"] = _times(g, steps, budget_s)
    time.sleep(load_s)
    res[f"after {load_s:g} s idle"] = _times(g, steps, budget_s)
    ctx = multiprocessing.get_context("spawn")
    for name, c in steps_of.items():
        _spin(c, load_s)
        res[f"after {name}, no hand-off"] = _times(g, steps, budget_s)
        time.sleep(later_s)
        res[f"  ... {later_s:g} s after {name}"] = _times(g, steps, budget_s)
        _spin(c, load_s)
        h = quiesce(limits)
        waits.append(f"{name}: quiesce waited {h['waited_s'] * 1e3:.0f} ms (quiet {h['quiet']})")
        res[f"after {name}, quiesce"] = _times(g, steps, budget_s)
        ready = ctx.Event()
        child = ctx.Process(target=_child_load,
                            args=(name, cpu_preset, cpu_options, load_s, ready), daemon=True)
        child.start()
        while not ready.wait(timeout=0.5) and child.is_alive():
            pass  # a child that dies before its load is ready must not hold the probe up
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"the {name} load in a child process failed (exit code "
                               f"{child.exitcode})")
        res[f"after {name} in a child process"] = _times(g, steps, budget_s)
        quiesce(limits)
    res["alone again"] = _times(g, steps, budget_s)
    base = res["alone"][1]
    table = {
        k: {"first_ms": float(np.median(first)) * 1e3, "median_ms": med * 1e3,
            "vs_alone": med / base}
        for k, (first, med) in res.items()
    }
    from bench.model import get_preset

    out(f"hand-off probe: {gpu} {gpu_preset} {gpu_options}; loads {load_s:g} s of "
        f"{', '.join(loads)} at {cpu_preset} (d_model {get_preset(cpu_preset).d_model}) "
        f"{cpu_options}; per phase the first {steps} steps, then a point of {budget_s:g} s "
        f"timed as a sweep times it; {'; '.join(waits)}")
    out(f"| phase | first {steps} steps, median ms | point median ms | point / alone |")
    out("|---|---:|---:|---:|")
    for k, v in table.items():
        out(f"| {k} | {v['first_ms']:.3g} | {v['median_ms']:.3g} | {v['vs_alone']:.2f} |")
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.handoff", description=probe.__doc__)
    p.add_argument("--gpu", default="gpu", help="the backend measured (default gpu)")
    p.add_argument("--gpu-preset", default="medium")
    p.add_argument("--attention", default="fa2", help="attention variant of --gpu ('' none)")
    p.add_argument("--cpu", default="cpu,torch",
                   help="comma list of backends that load the host (default cpu,torch)")
    p.add_argument("--cpu-preset", default="huge")
    p.add_argument("--threads", type=int, default=None, help="threads of --cpu (default all)")
    p.add_argument("--load", type=float, default=3.0, help="seconds of --cpu steps per phase")
    p.add_argument("--steps", type=int, default=5,
                   help="--gpu steps timed as they come right after each load (default 5)")
    p.add_argument("--budget", type=float, default=0.5,
                   help="seconds of the --gpu point timed after them as a sweep times it")
    a = p.parse_args(argv)
    try:
        probe(a.gpu, a.gpu_preset, {"attention": a.attention} if a.attention else {},
              [c for c in a.cpu.split(",") if c],
              a.cpu_preset, {} if a.threads is None else {"threads": a.threads}, a.load,
              a.steps, budget_s=a.budget)
    except Exception as e:  # noqa: BLE001 - a probe that cannot run says why in one line
        print(f"python -m bench.handoff: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
