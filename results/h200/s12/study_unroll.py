"""Session 12: the tile cores' k-loop unrolled in the WGSL source (override UK) instead of left
to the driver.

The driver's binary sizes (results/h200/s11/call3/vkstats.log) are too small for the v4 builds of
``b128`` (8192 bytes, 512 instructions of 16 bytes, against 512 FMAs in a fully unrolled k-tile of
8) and ``b128t84`` (9472 bytes against 512 FMAs and 48 loads per k-tile of 16) to hold a fully
unrolled k-loop, while the plain builds' sizes allow one. If the driver rolls the loop in some
builds and not others, that would explain why the v4 and ``o`` builds run the same loop source
8-16% slower. With UK = BK the source holds the k-tile written out, so the driver has no loop to
roll.

``python3 results/h200/s12/study_unroll.py OUT_DIR [fit|study|both]``: ``fit`` runs session 10's
a + b K fits (``results/h200/s10/fixed_cost.py``) on FIT_ROWS; ``study`` runs
``bench.matmul_study`` (parity first, cold plan cache) over every tunable row plus the rows
``add_rows`` registers, at the mega and behemoth step shapes and a token 256^3 cube.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from bench import matmul_study
from kernels import registry

FIT_ROWS = (  # (variant, form, M, N): call 1's first ten, call 2's after them
    ("b128t84", "tn", 4096, 512),
    ("b128t84u16", "tn", 4096, 512),
    ("b128t84u16", "nn", 4096, 512),
    ("b128t84u4", "tn", 4096, 512),
    ("b128t84u16v4", "tn", 4096, 512),
    ("b128t84u16o", "tn", 4096, 512),
    ("b128", "tn", 4096, 512),
    ("b128u8", "tn", 4096, 512),
    ("b128u8v4", "tn", 4096, 512),
    ("w128k4u4", "tn", 4096, 512),
    ("b128t84", "nn", 4096, 512),
    ("b128t84o", "tn", 4096, 512),
    ("b128t84o", "nn", 4096, 512),
    ("b128t84u16o", "nn", 4096, 512),
    ("b128t84u16o", "nt", 4096, 512),
    ("b128t84u8o", "tn", 4096, 512),
    ("b128t84u8o", "nn", 4096, 512),
    ("b128t84u8", "nn", 4096, 512),
    ("b128t84u2", "nn", 4096, 512),
    ("b128t84u2o", "nn", 4096, 512),
    ("w128k4", "tn", 4096, 512),
    ("b128t84u16o", "tn", 4096, 4096),
    ("b128t84", "tn", 4096, 4096),
)
# call 1's fits: UK = 16 keeps b128t84's tn loop (1.53 us per k-tile) and lets the staged write
# keep it too (b128t84o's loop ran 1.76-1.85 in session 11); the other UK twins ran their loops
# slower (b128u8, w128k4u4, b128t84u4, b128t84u16 nn), so call 2 times only the b128t84 ones
TUNED = ("b128t84u16", "b128t84u16o", "b128t84u8o", "b128t84u16tr", "b128t84u16otr",
         "b128t84u8", "b128t84u2o")


def add_rows() -> list[str]:
    """Register the UK twins of the rows ``auto`` picks (the TUNED ones as ``auto`` candidates);
    return their names."""
    R = registry
    m = R.MATMULS
    t84 = R._blocked("b128t84u16", m["b128t84"].notes + ", UK = 16", BM=128, BN=128, BK=16,
                     TN=4, UK=16)
    b128 = R._blocked("b128u8", m["b128"].notes + ", UK = 8", BM=128, BN=128, BK=8, UK=8)
    t84u8 = R._blocked("b128t84u8", m["b128t84"].notes + ", UK = 8", BM=128, BN=128, BK=16,
                       TN=4, UK=8)
    t84u2 = R._blocked("b128t84u2", m["b128t84"].notes + ", UK = 2", BM=128, BN=128, BK=16,
                       TN=4, UK=2)
    rows = [
        t84,
        R._blocked("b128t84u4", m["b128t84"].notes + ", UK = 4", BM=128, BN=128, BK=16, TN=4,
                   UK=4),
        R._v4(t84),
        R._os(t84),
        R._via_tn(t84),
        R._via_tn(R._os(t84)),
        t84u8,
        R._os(t84u8),
        t84u2,
        R._os(t84u2),
        b128,
        R._v4(b128),
        R._via_tn(b128),
        R._blocked("b128x64u8", m["b128x64"].notes + ", UK = 8", BM=128, BN=64, BK=8, UK=8),
        R._blocked("b64x128u8", m["b64x128"].notes + ", UK = 8", BM=64, BN=128, BK=8, UK=8),
        R._warptile("w128k4u4", m["w128k4"].notes + ", UK = 4", BM=128, BN=128, BK=4, UK=4),
        R._warptile("w128u8", m["w128"].notes + ", UK = 8", BM=128, BN=128, BK=8, UK=8),
    ]
    rows.append(R._via_tn(rows[-2]))
    for row in rows:
        m[row.name] = replace(row, tune=row.name in TUNED)
    return [row.name for row in rows]


def main(argv: list[str]) -> int:
    add_rows()
    what = argv[1] if len(argv) > 1 else "both"
    if what in ("fit", "both"):
        path = Path(__file__).resolve().parents[1] / "s10" / "fixed_cost.py"
        spec = importlib.util.spec_from_file_location("fixed_cost", path)
        fixed_cost = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fixed_cost)
        fixed_cost.ROWS = FIT_ROWS
        fixed_cost.main(str(Path(argv[0]) / "fit"))
    if what in ("study", "both"):
        return matmul_study.main(argv[0], cube=256, new=TUNED, parity=True,
                                 steps_too=False, checked_too=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
