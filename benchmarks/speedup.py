"""asv: GPU vs CPU step-time ratio per preset, both measured in the same process.

Skips are decided in ``setup`` (as in every suite): asv shows a skip raised there as n/a, one
raised in the benchmark body as a failure.
"""

from bench.model import get_preset
from bench.suites import SPEEDUP_PRESETS, speedup_point, speedup_ratio


class Speedup:
    params = (SPEEDUP_PRESETS,)
    param_names = ("preset",)
    timeout = 300

    def setup(self, preset):
        self.config = get_preset(preset)
        speedup_point(self.config)  # NotImplementedError: asv skips this preset

    def track_gpu_vs_cpu(self, preset):
        return speedup_ratio(self.config)

    track_gpu_vs_cpu.unit = "x (CPU time / GPU time)"
