"""Session 12, call 5: b128t84's rows with their warps as 8 x 4 lane blocks (override LB = 1) on
the source-unrolled k-loop, and the 8 x 8-output 128 x 128 tile at k-tiles of 16 (b128k16) with
UK.

Session 9 tried the lane blocks on the driver-unrolled loop: a median 0.99 of each row, so the
blocked core was judged not bound by shared-memory wavefronts. The k-loop has changed since (UK =
16 on the tn path runs 1.03-1.10x), and b128t84's per-k shared-memory traffic (6 wavefronts of
128 bytes per warp for 32 FMAs per lane) is the one resource the lane blocks halve.

``python3 results/h200/s12/study_lanes.py OUT_DIR``: a + b K fits (session 10's
``fixed_cost.py``) of FIT_ROWS, then the tuner's timing of the ROWS (parity first) at SHAPES,
cuBLAS beside; writes ``lanes.csv`` and prints each shape's best per row.
It ran at 0efd448 (call 5). The ``LB`` override is gone since 3b12067, so at later commits this
script is a record.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from backends.gpu.autotune import MatmulTuner
from bench import matmul_study, vendor
from kernels import registry

FIT_ROWS = (  # (variant, form, M, N)
    ("b128t84", "tn", 4096, 512),
    ("b128t84l", "tn", 4096, 512),
    ("b128t84o", "tn", 4096, 512),
    ("b128t84lo", "tn", 4096, 512),
    ("b128t84v4", "tn", 4096, 512),
    ("b128t84lv4", "tn", 4096, 512),
    ("b128t84o", "nn", 4096, 512),
    ("b128t84lo", "nn", 4096, 512),
    ("b128k16", "tn", 4096, 512),
    ("b128k16u16", "tn", 4096, 512),
    ("b128k16u8", "tn", 4096, 512),
)
SHAPES = (("tn", 3072, 768, 4096), ("tn", 768, 768, 4096), ("tn", 2048, 512, 4096),
          ("nn", 4096, 2048, 512), ("nt", 4096, 512, 2048), ("nn", 4096, 512, 512))
ROWS = ("b128t84", "b128t84o", "b128t84v4", "b128t84otr", "b128t84l", "b128t84lo",
        "b128t84lv4", "b128t84lotr", "b128k16u16")


def add_rows() -> None:
    """The lane-block twins of b128t84's rows and b128k16's UK twins; only ROWS are tuned."""
    R = registry
    m = R.MATMULS
    t84 = m["b128t84"]  # its per-form UK carries over
    lb = replace(t84, name="b128t84l", constants={**t84.constants, "LB": 1},
                 notes="b128t84 with 8 x 4 lane blocks")
    lbo = replace(R._os(lb), form_constants={"nn": {"UK": 8}, "nt": {"UK": 8}})
    rows = [lb, lbo, R._via_tn(lbo), R._v4(lb)]
    for uk in (8, 16):
        rows.append(R._blocked(f"b128k16u{uk}", m["b128k16"].notes + f", UK = {uk}",
                               BM=128, BN=128, BK=16, UK=uk))
    for row in rows:
        m[row.name] = row
    for name, row in list(m.items()):
        m[name] = replace(row, tune=name in ROWS)


def main(out: str) -> int:
    add_rows()
    path = Path(__file__).resolve().parents[1] / "s10" / "fixed_cost.py"
    spec = importlib.util.spec_from_file_location("fixed_cost", path)
    fixed_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed_cost)
    fixed_cost.ROWS = FIT_ROWS
    fixed_cost.main(str(Path(out) / "fit"))
    out_dir = Path(out)
    tuner = MatmulTuner(mode="retune", path=out_dir / "plans.json")
    for v in ROWS:
        print(f"parity {v}: {matmul_study._parity(tuner, v)}", flush=True)
    rows = []
    for form, M, N, K in SHAPES:
        best = tuner.tune(form, M, N, K)
        vend = vendor.matmul_seconds(form, M, N, K)
        per_row: dict[str, tuple[float, str]] = {}
        for cand, sec in best["timed"].items():
            rows.append({"form": form, "M": M, "N": N, "K": K, "candidate": cand,
                         "seconds": sec, "cublas_s": vend})
            name = cand.split()[0]
            if name not in per_row or sec < per_row[name][0]:
                per_row[name] = (sec, cand)
        print(f"| {form} {M}x{N}x{K} | " + " | ".join(
            f"{c} {vend / s:.3f}" for s, c in sorted(per_row.values())) + " |", flush=True)
        with open(out_dir / "lanes.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
