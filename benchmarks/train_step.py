"""asv: one full training step per preset x backend/variant, and its overhead/math split.

``time_step`` is asv's own timing of the synchronised step (the loss readback ends it); the
``track_*`` values come from the harness's timing engine (``bench.measure_step``), which also
profiles the step (GPU timestamps, CPU per-op timers) for the measured split.
"""

from bench import measure_step
from bench.model import get_preset, step_flops
from bench.suites import TRAIN_PRESETS, parse_series, ready_step, train_series

TRACK_BUDGET_S = 1.0


class TrainStep:
    params = (TRAIN_PRESETS, train_series())
    param_names = ("preset", "series")
    timeout = 300
    warmup_time = 0.5

    def setup(self, preset, series):
        self.config = get_preset(preset)
        self.backend, self.options = parse_series(series)
        self.b, self.tokens, self.targets = ready_step(self.backend, self.options, self.config)

    def teardown(self, preset, series):
        if hasattr(self, "b"):  # asv calls teardown after a skipping setup too
            self.b.close()

    def time_step(self, preset, series):
        self.b.train_step(self.tokens, self.targets)

    def _measure(self):
        return measure_step(self.backend, self.config, self.options, TRACK_BUDGET_S)

    def track_overhead_ms(self, preset, series):
        m = self._measure()
        return float("nan") if m.overhead_s is None else m.overhead_s * 1e3

    track_overhead_ms.unit = "ms"

    def track_math_ms(self, preset, series):
        m = self._measure()
        return float("nan") if m.device_s is None else m.device_s * 1e3

    track_math_ms.unit = "ms"

    def track_gflops(self, preset, series):
        return step_flops(self.config) / self._measure().median_s / 1e9

    track_gflops.unit = "GFLOP/s"
