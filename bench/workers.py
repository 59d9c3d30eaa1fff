"""Each backend measured in its own long-lived worker process, as pyperf spreads a benchmark
over worker processes: a point's steps then run in a process where no other backend ever ran,
so nothing another backend leaves in a process (parked or spinning pools, thread limits,
allocator state, a thread that wants the GIL) can reach them.

What is left between processes is the host itself: an idle worker's pools still spin for a while
after its point, on the same cores. ``Workers.busy_cores`` therefore counts the CPU time of every
worker as well as this process's, and ``bench.handoff.quiesce(busy=workers.busy_cores)`` waits
for all of them.

``run_sweep(..., isolate=True)`` uses one worker per backend and device (``cpu``, ``reference``,
``gpu``, ``torch`` on the CPU, ``torch`` on CUDA), started at its first point and kept for the
sweep. A worker that dies (a driver crash) costs its point an ``error`` row; the next point of
that backend starts a fresh one.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from typing import Any

from bench.handoff import WINDOW_S
from bench.model import ModelConfig
from bench.timing import Measurement


def _serve(conn: Any) -> None:
    """A worker's loop: measure what it is sent, send back the Measurement or the exception."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from bench.measure import measure_step

    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        name, config, options, budget_s, kw = msg
        try:
            result: Any = measure_step(name, ModelConfig(**config), options, budget_s, **kw)
        except Exception as e:  # noqa: BLE001 - sent back and raised in the parent
            result = e
        try:
            conn.send(result)
        except Exception as e:  # noqa: BLE001 - an exception that does not pickle
            conn.send(RuntimeError(f"{type(e).__name__}: {e}"))


def _cpu_ticks(pid: int) -> float | None:
    """utime + stime of process ``pid`` in seconds (Linux /proc), None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

WORKER_TIMEOUT_S = 120.0  # the least a worker may take for one point before it counts as hung


class Workers:
    """One worker process per backend and device; ``measure`` has ``measure_step``'s signature."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[tuple[str, str], tuple[Any, Any]] = {}

    @staticmethod
    def group(name: str, options: dict[str, Any]) -> tuple[str, str]:
        return name, str(options.get("device", ""))

    def measure(self, name: str, config: ModelConfig, options: dict[str, Any],
                budget_s: float, **kw: Any) -> Measurement:
        key = self.group(name, options)
        if key not in self._procs:
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(target=_serve, args=(child,), daemon=True,
                                     name=f"bench-worker-{name}")
            proc.start()
            child.close()
            self._procs[key] = (proc, parent)
        proc, conn = self._procs[key]
        try:
            conn.send((name, dataclasses.asdict(config), options, budget_s, kw))
            # a point takes about its budget; a worker silent far past it hangs (a driver stuck
            # in a kernel, say): it is killed and the point fails, instead of the whole sweep
            if not conn.poll(max(WORKER_TIMEOUT_S, 20 * budget_s)):
                proc.kill()
                self._drop(key)
                raise RuntimeError(f"the {name} worker process gave no answer within "
                                   f"{max(WORKER_TIMEOUT_S, 20 * budget_s):g} s and was killed")
            result = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._drop(key)
            raise RuntimeError(f"the {name} worker process died (exit code "
                               f"{proc.exitcode})") from None
        if isinstance(result, BaseException):
            raise result
        return result

    def busy_cores(self, window_s: float = 4 * WINDOW_S) -> float:
        """Cores kept busy by this process and every worker while this thread sleeps (a longer
        window than ``bench.handoff``'s: /proc counts other processes' CPU in 10 ms ticks)."""
        pids = [p.pid for p, _ in self._procs.values() if p.is_alive()]
        c0 = time.process_time() + sum(t for t in map(_cpu_ticks, pids) if t is not None)
        w0 = time.perf_counter()
        time.sleep(window_s)
        c1 = time.process_time() + sum(t for t in map(_cpu_ticks, pids) if t is not None)
        return (c1 - c0) / max(time.perf_counter() - w0, 1e-9)

    def _drop(self, key: tuple[str, str]) -> None:
        proc, conn = self._procs.pop(key)
        conn.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()

    def close(self) -> None:
        for key in list(self._procs):
            proc, conn = self._procs[key]
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._drop(key)
