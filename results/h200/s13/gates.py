"""Session 13, call 4: the stream-K gate as reviewed after call 3 (every G, 1 included, on grids
where the workgroups' runs cross tiles) for the two tuned stream-K rows at G = 1, W, 2W on this
device, then ``auto``'s tuning of the two behemoth weight gradients that were under 0.8 beside
cuBLAS, on the code as it now stands.

``python3 results/h200/s13/gates.py OUT_DIR``: prints each gate and each tuned plan.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from backends.gpu.autotune import MatmulTuner
from bench import vendor

ROWS = ("b128t84skv4", "b128t84osk")
SHAPES = (("tn", 3072, 768, 4096), ("tn", 768, 3072, 4096))


def main(out: str) -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tuner = MatmulTuner(mode="retune", path=out_dir / "plans.json")
    failed = 0
    for v in ROWS:
        w = tuner.waves(v)
        for g in (1, w, 2 * w):
            t0 = time.perf_counter()
            ok, msg = tuner.gate(v, g)
            failed += not ok
            print(f"gate {v} sk{g}: {'ok' if ok else 'FAILED'} {msg} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
    for form, M, N, K in SHAPES:
        t0 = time.perf_counter()
        best = tuner.tune(form, M, N, K)
        vend = vendor.matmul_seconds(form, M, N, K) or float("nan")
        print(f"tune {form} {M}x{N}x{K}: {best['variant']} splits {best['splits']} "
              f"{best['seconds'] * 1e6:.1f} us, cuBLAS {vend * 1e6:.1f} us, ours / cuBLAS "
              f"{vend / best['seconds']:.3f} ({time.perf_counter() - t0:.1f} s)", flush=True)
    (out_dir / "describe.json").write_text(json.dumps(tuner.describe(), indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
