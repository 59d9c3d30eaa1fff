"""asv: one full training step per preset x backend/variant, and its overhead/math split.

``time_step`` is asv's own timing of the synchronised step (the loss readback ends it); the
``track_*`` values come from the harness's timing engine (``bench.measure_step``), which also
profiles the step (GPU timestamps, CPU per-op timers) for the measured split. That measurement is
taken once per point and asv run, by whichever ``track_*`` runs first, and read by the other two.

Each benchmark has its own ``setup`` (a function attribute, which asv runs after the class's), so
a ``track_*`` process never builds the backend ``time_step`` needs, and ``time_step`` never
measures. The class ``setup`` only decides whether the point can run (cached, cheap).
"""

from bench.model import step_flops
from bench.suites import (
    TRAIN_PRESETS,
    point_measurement,
    ready_point,
    train_point,
    train_series,
)

TRACK_BUDGET_S = 1.0


def _measured(preset, series):
    return point_measurement(preset, series, TRACK_BUDGET_S)


class TrainStep:
    params = (TRAIN_PRESETS, train_series())
    param_names = ("preset", "series")
    timeout = 300

    # asv timing. asv (asv_runner >= 0.3) re-runs setup and teardown before every sample when a
    # benchmark has setup hooks; ``ready_point`` therefore hands back the same warm backend each
    # time (the CLI too times one backend's repeated steps), and there is no teardown.
    # * number = 1: one step per sample. A step is >= ~1 ms, far above the timer's resolution,
    #   and number > 1 would make asv re-run setup between the calls anyway.
    # * rounds = 3: three processes per point, with the other points in between, pooled. A
    #   host-bound step's speed moves in episodes of a second or more (the host's, not the
    #   process's: results/h200/s5), so one burst describes one episode; the CLI's rounds
    #   sample several for the same reason, and asv must too for the two to agree.
    # * warmup_time 0.2 s per round: the setup has already run the first (compiling, allocating)
    #   step and settled the GPU, so this covers the second-call paths and the clock's ramp.
    # * repeat (5, 200, 0.5): at least 5 samples per round (15 per point, over the CLI's 10),
    #   at most 200, and no new sample once 0.5 s of a round's sampling is spent.
    number = 1
    warmup_time = 0.2
    repeat = (5, 200, 0.5)
    rounds = 3

    def setup(self, preset, series):
        train_point(preset, series)  # NotImplementedError: asv skips this combination

    def time_step(self, preset, series):
        b, tokens, targets = ready_point(preset, series)  # cached: a dict lookup
        b.train_step(tokens, targets)

    time_step.setup = ready_point

    def track_overhead_ms(self, preset, series):
        s = _measured(preset, series)["overhead_s"]
        return float("nan") if s is None else s * 1e3

    track_overhead_ms.setup = _measured
    track_overhead_ms.unit = "ms"

    def track_math_ms(self, preset, series):
        s = _measured(preset, series)["device_s"]
        return float("nan") if s is None else s * 1e3

    track_math_ms.setup = _measured
    track_math_ms.unit = "ms"

    def track_gflops(self, preset, series):
        config = train_point(preset, series)[2]
        return step_flops(config) / _measured(preset, series)["median_s"] / 1e9

    track_gflops.setup = _measured
    track_gflops.unit = "GFLOP/s"
