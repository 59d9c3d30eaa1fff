"""Hand-offs between points: a point starts once the process is quiet and thread limits are
back to what they were, whatever the previous point left running (CPU-only checks of the
mechanism; ``python -m bench.handoff`` measures the effect on a GPU machine)."""

import os
import threading
import time

import pytest
from threadpoolctl import ThreadpoolController

from bench.handoff import QUIET_CORES, Limits, busy_cores, probe, quiesce


def test_quiesce_waits_until_the_process_has_been_quiet_for_two_windows():
    seen = iter([1.5, 0.9, 0.1, 0.8, 0.1, 0.05] + [5.0] * 100)  # pools spinning, then parked
    h = quiesce(busy=lambda: next(seen), max_wait_s=10.0)
    assert h["quiet"] and h["busy_cores"] == 0.05
    assert next(seen) == 5.0  # it stopped right after two quiet windows in a row


def test_quiesce_gives_up_on_a_worker_that_never_parks_and_says_so():
    def busy():
        time.sleep(0.01)
        return 3.0

    h = quiesce(busy=busy, max_wait_s=0.1)
    assert not h["quiet"] and h["busy_cores"] == 3.0
    assert 0.1 <= h["waited_s"] < 1.0


def test_quiesce_sees_a_real_spinning_thread():
    """A thread busy-waiting like an OpenMP/BLAS worker shows in this process's CPU time, and
    the process reads quiet again once it has parked. The worker spins until two windows have
    seen it (quiesce's garbage collection can outlast any fixed spin in a big test process)."""
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    t = threading.Thread(target=spin, daemon=True)
    t.start()
    seen: list = []

    def busy():
        seen.append(busy_cores())
        if len(seen) == 2:
            stop.set()  # the worker parks
        return seen[-1]

    h = quiesce(busy=busy, max_wait_s=3.0)
    t.join()
    assert h["quiet"]
    assert max(seen[:2]) > 0.05  # the spinner's CPU time was visible while it ran
    assert busy_cores(0.02) < QUIET_CORES


def test_cpu_backend_leaves_blas_at_one_thread_and_the_hand_off_restores_it():
    from bench.measure import prepare_step
    from bench.model import get_preset

    libs = ThreadpoolController().select(user_api="blas").lib_controllers
    original = [c.num_threads for c in libs]
    try:
        for c in libs:  # a known starting point, whatever earlier tests left behind
            c.set_num_threads(2)
        limits = Limits()
        b, tokens, targets = prepare_step("cpu", get_preset("micro"), {"threads": 2})
        try:
            b.train_step(tokens, targets)
        finally:
            b.close()
        assert [c.num_threads for c in libs] == [1] * len(libs)  # what the backend leaves
        assert quiesce(limits, max_wait_s=3.0)["quiet"]
        assert [c.num_threads for c in libs] == [2] * len(libs)
    finally:
        for c, n in zip(libs, original, strict=True):
            c.set_num_threads(n)


def test_probe_prints_every_phase():
    lines: list[str] = []
    table = probe("reference", "micro", {}, "cpu", "micro", {"threads": 2}, load_s=0.2,
                  steps=3, later_s=0.05, budget_s=0.05, out=lines.append)
    assert list(table) == ["alone", "after 0.2 s idle", "after cpu, no hand-off",
                           "  ... 0.05 s after cpu", "after cpu, quiesce",
                           "after cpu in a child process", "alone again"]
    assert all(v["median_ms"] > 0 and v["vs_alone"] > 0 for v in table.values())
    assert table["alone"]["vs_alone"] == 1.0
    assert all(v["first_ms"] > 0 for v in table.values())
    assert lines[1] == "| phase | first 3 steps, median ms | point median ms | point / alone |"
    assert len(lines) == 3 + len(table)


def test_workers_measure_in_their_own_process_and_survive_errors_and_deaths():
    from backends.base import BackendError
    from bench.model import get_preset
    from bench.workers import Workers

    w = Workers()
    try:
        m = w.measure("reference", get_preset("micro"), {}, 0.2, profile=False, min_samples=3,
                      min_span_s=0.0)
        assert m.n >= 3 and m.median_s > 0
        (proc, _), = w._procs.values()
        assert proc.is_alive() and proc.pid != os.getpid()
        with pytest.raises(BackendError, match="threads"):  # raised there, re-raised here
            w.measure("cpu", get_preset("micro"), {"threads": 0}, 0.1)
        assert len(w._procs) == 2  # one worker per backend
        proc.kill()
        proc.join()
        with pytest.raises(RuntimeError, match="reference worker process died"):
            w.measure("reference", get_preset("micro"), {}, 0.1)
        m = w.measure("reference", get_preset("micro"), {}, 0.1, profile=False)  # a fresh one
        assert m.n >= 3
        assert w.busy_cores() >= 0.0
    finally:
        w.close()
    assert not w._procs


def test_isolated_sweep_writes_the_same_rows(tmp_path):
    from bench.results import RunStore, load_rows
    from bench.runner import Progress, run_sweep
    from bench.sweep import Sweep

    store = RunStore.create(tmp_path, "iso", {})
    run_sweep(Sweep(["reference"], presets=["micro"]), store, 0.4,
              progress=Progress(0, open(os.devnull, "w")), isolate=True)
    (row,) = load_rows(store.csv_path)
    assert row["median_s"] > 0 and row["rounds"] >= 1 and row["samples"] >= 6
