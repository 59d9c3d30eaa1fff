"""The device settle (backends.clocks) and where the harness calls it: fake probes, fake clocks."""

from __future__ import annotations

import pytest

from backends import clocks
from bench.timing import time_fn


class Probe:
    """A probe run whose durations are given; it advances its own clock by each one."""

    def __init__(self, durations):
        self.t = 0.0
        self.durations = list(durations)
        self.runs = 0

    def clock(self):
        return self.t

    def run(self):
        d = self.durations[min(self.runs, len(self.durations) - 1)]
        self.runs += 1
        self.t += d
        return d


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(clocks, "_FASTEST", {})


def test_first_settle_waits_out_the_ramp_then_later_ones_stop_at_full_speed():
    # an idle GPU: slow runs that speed up, then full speed (0.01 s a run)
    ramp = Probe([0.08, 0.06, 0.05, 0.05, 0.03, 0.02] + [0.01] * 1000)
    got = clocks.settle(ramp.run, "dev", clock=ramp.clock)
    assert got["first"] and got["settled"]
    assert ramp.t >= clocks.FIRST_MIN_S  # three equal fast runs are not enough that early
    assert got["fastest_ms"] == pytest.approx(10.0)
    assert ramp.t < clocks.FIRST_MIN_S + 3 * 0.01 + 1e-9  # but it stops soon after
    # a later settle knows full speed: three runs when the GPU is already there ...
    warm = Probe([0.0101] * 10)
    got = clocks.settle(warm.run, "dev", clock=warm.clock)
    assert (got["runs"], got["first"], got["settled"]) == (3, False, True)
    # ... and until it gets there after idling, even though runs agree with each other before
    idle = Probe([0.02] * 5 + [0.0102] * 10)
    got = clocks.settle(idle.run, "dev", clock=idle.clock)
    assert got["runs"] == 6 and got["settled"]


def test_a_device_that_never_settles_stops_at_max_s_and_says_so():
    jitter = Probe([0.01, 0.02] * 1000)  # never three runs within 3% of each other
    got = clocks.settle(jitter.run, "dev", max_s=0.5, clock=jitter.clock)
    assert not got["settled"] and 0.5 <= jitter.t < 0.53
    slow = Probe([0.01] * 3 + [0.05] * 1000)  # full speed known, then stuck slow
    clocks.settle(slow.run, "dev2", clock=slow.clock)
    slow.runs, slow.t = 3, 0.0
    got = clocks.settle(slow.run, "dev2", max_s=0.4, clock=slow.clock)
    assert not got["settled"] and got["last_ms"] == pytest.approx(50.0)


def test_time_fn_settles_after_the_first_call_outside_the_budget():
    t = [0.0]
    calls: list[str] = []

    def clock():
        return t[0]

    def fn():
        calls.append("step")
        t[0] += 0.01

    def settle():
        calls.append("settle")
        t[0] += 5.0  # far longer than the budget: it must not count
        return {"settled": True}

    m = time_fn(fn, budget_s=1.0, clock=clock, settle=settle)
    assert calls[:2] == ["step", "settle"] and calls.count("settle") == 1
    assert m.extra["settle"] == {"settled": True}
    # had the settle counted, the budget would be spent: HARD_MIN_SAMPLES, no warm-up
    assert m.n >= 10 and m.warmup_runs > 2 and t[0] - 5.0 < 1.05
    assert "settle" not in time_fn(fn, budget_s=0.1, clock=clock).extra


def test_a_cpu_backend_has_nothing_to_settle_and_measure_step_records_none():
    from bench.measure import measure_step
    from bench.model import ModelConfig

    m = measure_step("cpu", ModelConfig(d_model=16, n_layer=1, n_head=2, seq_len=8, batch=2),
                     budget_s=0.05, profile=False)
    assert "settle" not in m.extra


def test_gpu_settle_is_skipped_on_a_software_adapter_only():
    """microbench.settle decides by the adapter's type before asking for a device of its own."""
    from backends.gpu.device import adapter_info, choose_adapter
    from backends.gpu.microbench import settle

    try:
        software = adapter_info(choose_adapter(None))["software"]
    except Exception as e:  # no adapter at all
        pytest.skip(f"no WebGPU adapter: {e}")
    got = settle()
    assert (got is None) == software
    if got is not None:
        assert got["runs"] >= clocks.MIN_RUNS
