"""Session 13, call 2: the tuner's wave probe of each stream-K ``tune`` row on this device, every
G it asked with its time ratio to one workgroup, and how long the probe took.

``python3 results/h200/s13/waves.py``: prints one line per probed G, then W and seconds per row.
"""

from __future__ import annotations

import time

from backends.gpu.autotune import MatmulTuner
from kernels import registry


def main() -> None:
    tuner = MatmulTuner(mode="retune", path="/tmp/waves-plans.json")
    real = tuner._wave_ratio

    def logged(variant, groups, one):
        r = real(variant, groups, one)
        print(f"{variant} G={groups} ratio={r:.3f}", flush=True)
        return r

    tuner._wave_ratio = logged
    for v in sorted(n for n, r in registry.MATMULS.items() if r.stream_k and r.tune):
        tuner.gate(v)  # the parity gate outside the probe's time
        t0 = time.perf_counter()
        w = tuner.waves(v)
        print(f"{v}: W = {w} in {time.perf_counter() - t0:.2f} s", flush=True)


if __name__ == "__main__":
    main()
