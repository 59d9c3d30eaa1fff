"""Hand-offs between points: a point starts once the process is quiet and thread limits are
back to what they were, whatever the previous point left running (CPU-only checks of the
mechanism; ``python -m bench.handoff`` measures the effect on a GPU machine)."""

import threading
import time

from threadpoolctl import ThreadpoolController

from bench.handoff import MAX_WAIT_S, QUIET_CORES, Limits, busy_cores, probe, quiesce


def _spinner(seconds):
    """A worker that busy-waits like an OpenMP/BLAS pool thread before it parks."""
    def spin():
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
    t = threading.Thread(target=spin, daemon=True)
    t.start()
    return t


def test_quiesce_waits_for_a_spinning_worker_to_park():
    t = _spinner(0.3)
    time.sleep(0.02)
    assert busy_cores(0.02) > QUIET_CORES  # the spin is visible in the process's CPU time
    h = quiesce(max_wait_s=3.0)  # generous: other tests' garbage may take a while to collect
    assert h["quiet"], h
    assert h["waited_s"] >= 0.2  # it did not start the next point on top of the spinner
    t.join()
    assert busy_cores(0.02) < QUIET_CORES


def test_quiesce_gives_up_on_a_worker_that_never_parks_and_says_so():
    t = _spinner(MAX_WAIT_S + 1.0)
    h = quiesce(max_wait_s=0.2)
    assert not h["quiet"] and h["busy_cores"] > QUIET_CORES
    assert h["waited_s"] >= 0.2
    t.join()


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
                  steps=5, later_s=0.05, out=lines.append)
    assert list(table) == ["alone", "after 0.2 s idle", "after cpu, no hand-off",
                           "  ... 0.05 s after cpu", "after cpu, quiesce",
                           "after cpu in a child process", "alone again"]
    assert all(v["median_ms"] > 0 and v["vs_alone"] > 0 for v in table.values())
    assert table["alone"]["vs_alone"] == 1.0
    assert lines[1] == "| phase | first 5 steps ms | median ms | median / alone |"
    assert len(lines) == 3 + len(table)
