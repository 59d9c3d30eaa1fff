"""Session 12, call 3: split factors that fill the H200's waves, for the tn products still under
0.8 of cuBLAS in call 2 (behemoth tn 3072x768x4096 / 768x3072x4096 at 0.79, 768x768x4096 at
0.75).

``b128t84u16o`` runs one 512-invocation workgroup per multiprocessor, so a grid of T tiles split
S ways runs in ceil(T * S / 132) waves on the H200's 132 multiprocessors. The tuner's factors
(2, 3, 4, 6, 8, 12, 16, at most 1024 workgroups) leave the last wave part-empty at these shapes:
144 tiles x 6 = 6.5 waves, 36 x 3 = 0.8. Here the factors 7, 9, 10 and 11 are added and the cap
raised to 2048 workgroups (144 x 8 = 8.7 waves, 36 x 11 = 3.0); the narrow tile
``b128x64t84u16o`` (256 invocations, two workgroups per multiprocessor) is timed beside.

``python3 results/h200/s12/study_splits.py OUT_DIR``: parity gates of every (row, factor) the
tuner times, then each tn step shape's candidates (the tuner's timing) beside cuBLAS; writes
``splits.csv``.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from backends.gpu.autotune import MatmulTuner
from bench import vendor
from bench.kernel_bench import step_matmuls
from bench.model import PRESETS
from kernels import matmul_rules, registry

FACTORS = (2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 16)
ROWS = ("b128t84u16o", "b128x64t84u16o", "b128x64t84u16")


def add_rows() -> None:
    """study_unroll's rows, and the narrow 128 x 64 tile with 8 x 4 outputs at UK = 16."""
    path = Path(__file__).resolve().parent / "study_unroll.py"
    spec = importlib.util.spec_from_file_location("study_unroll", path)
    unroll = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(unroll)
    unroll.add_rows()
    R = registry
    narrow = R._blocked("b128x64t84u16", "128x64 tile, 256 invocations with 8x4 outputs, "
                        "k-tiles of 16, UK = 16", BM=128, BN=64, BK=16, TN=4, UK=16)
    for row in (narrow, R._os(narrow)):
        R.MATMULS[row.name] = row
    for name, row in list(R.MATMULS.items()):
        R.MATMULS[name] = replace(row, tune=name in ROWS)


def main(out: str) -> int:
    add_rows()
    matmul_rules.SPLIT_FACTORS = FACTORS
    base = matmul_rules.split_candidates
    matmul_rules.split_candidates = lambda *a, **k: base(*a, **{**k, "max_groups": 2048})
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tuner = MatmulTuner(mode="retune", path=out_dir / "plans.json")
    shapes = []
    for preset in ("mega", "behemoth"):
        shapes += [(preset, *s) for s in step_matmuls(PRESETS[preset]) if s[0] == "tn"]
    rows = []
    for preset, form, M, N, K in shapes:
        best = tuner.tune(form, M, N, K)
        vend = vendor.matmul_seconds(form, M, N, K)
        flops = 2.0 * M * N * K
        for cand, sec in sorted(best["timed"].items(), key=lambda kv: kv[1]):
            rows.append({"preset": preset, "form": form, "M": M, "N": N, "K": K,
                         "candidate": cand, "seconds": sec, "tflops": flops / sec / 1e12,
                         "cublas_s": vend, "vs_cublas": vend / sec if vend else ""})
        top = sorted(best["timed"].items(), key=lambda kv: kv[1])[:4]
        print(f"| {preset} | tn {M}x{N}x{K} | " + " | ".join(
            f"{c} {vend / s:.3f}" for c, s in top) + " |", flush=True)
        with open(out_dir / "splits.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    gates = {k: v for k, v in tuner._gate.items() if not v[0]}
    print("gates failed:", gates or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
