"""Session 13, call 1 (written in session 12, not run there): the stream-K rows at the tn step
where split-K stops short of 0.8 of cuBLAS, beside ``auto``'s pick and cuBLAS.

Session 12's call 6 left tn 3072x768x4096 and 768x3072x4096 at 0.795 of cuBLAS: every split-K
candidate takes 515-520 us, where the k-loop alone would take 427 us on 132 multiprocessors; the
rest is each workgroup's fixed cost over 9 waves and the partial tiles. Under stream-K (the
``sk`` rows, kernels/matmul_blocked.wgsl) G workgroups share the tiles' k-tiles in equal runs, so
G = 132 or 264 runs one or two waves, each workgroup's fixed cost paid once or twice; each tile a
workgroup touches is still a partial tile through the scratch and the reduce.

``python3 results/h200/s13/study_streamk.py OUT_DIR``: the parity gate of each (row, G) (every
form on the awkward shapes and the long-K check shape, outputs NaN-poisoned), then per shape the
tuner's timing of each (row, G) and ``auto``'s own tuning (the registry's candidates), cuBLAS
beside; writes ``streamk.csv`` and prints a table.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from backends.gpu.autotune import MatmulTuner
from bench import vendor
from kernels import matmul_plan

ROWS = ("b128t84osk", "b128t84sk", "b128t84skv4")
GROUPS = (66, 132, 144, 198, 264, 396, 528)
SHAPES = (("tn", 3072, 768, 4096), ("tn", 768, 3072, 4096), ("tn", 768, 768, 4096),
          ("tn", 768, 2304, 4096), ("tn", 2048, 512, 4096), ("tn", 512, 1536, 4096))


def main(out: str) -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tuner = MatmulTuner(mode="retune", path=out_dir / "plans.json")
    ok = {(v, g): tuner.gate(v, g) for v in ROWS for g in GROUPS}
    for (v, g), (passed, msg) in ok.items():
        print(f"parity {v} sk{g}: {'ok' if passed else 'FAILED'} {msg}", flush=True)
    rows = []
    for form, M, N, K in SHAPES:
        vend = vendor.matmul_seconds(form, M, N, K) or float("nan")  # nan: no CUDA here
        best = tuner.tune(form, M, N, K)
        cells = [f"auto {best['variant']} split{best['splits']} {vend / best['seconds']:.3f}"]
        rows.append({"form": form, "M": M, "N": N, "K": K, "candidate": "auto " + best["variant"]
                     + f" split{best['splits']}", "seconds": best["seconds"], "cublas_s": vend})
        for v in ROWS:
            for g in GROUPS:
                if not ok[(v, g)][0]:
                    continue
                sec = tuner.time(v, g, form, M, N, K)
                slots = matmul_plan.plan_matmul(v, form, M, N, K, splits=g).splits
                rows.append({"form": form, "M": M, "N": N, "K": K, "candidate": f"{v} sk{g}",
                             "seconds": sec, "cublas_s": vend})
                cells.append(f"{v} sk{g} ({slots} slots) {vend / sec:.3f}")
        print(f"| {form} {M}x{N}x{K} | " + " | ".join(cells) + " |", flush=True)
        with open(out_dir / "streamk.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
