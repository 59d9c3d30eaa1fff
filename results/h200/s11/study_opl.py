"""Session 11, call 5: ``b128t84p``, the staged write with the slab written as scalars (OPL = 1 of
include/matmul_tile_out_staged.wgsl), beside every tunable row.

Call 4 fitted seconds = a + b K at 4096 x 512: ``b128t84o`` and ``b128t84v4`` cut the fixed part
from 13-26 us to about 5 us but run the k-loop 11-17% slower than ``b128t84``, with the same
register count and the same loop source. Both store each accumulator quad as one vec4 (to
workgroup memory, to C); ``b128t84`` stores scalars. If the driver ties the loop's registers to
those vec4 stores, ``b128t84p`` keeps the plain loop and the cheap write.

``python3 results/h200/s11/study_opl.py OUT_DIR``: the a + b K fits first (session 10's
fixed_cost.py), then ``bench.matmul_study`` over every tunable row plus ``b128t84p`` (parity
first) at the mega and behemoth step shapes and a token 256^3 cube.
It ran at ecda7da (call 5). Since 469d0d0 the plane slab is the staged write's only layout (no
``OPL``) and ``b128t84o`` is this ``b128t84p``, so at later commits this script is a record.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from bench import matmul_study
from kernels import registry

FIT_ROWS = (  # (variant, form, M, N)
    ("b128t84", "tn", 4096, 512),
    ("b128t84o", "tn", 4096, 512),
    ("b128t84p", "nn", 4096, 512),
    ("b128t84p", "tn", 4096, 512),
    ("b128t84p", "tn", 4096, 4096),
)


def add_rows() -> list[str]:
    R = registry
    base = R._os(R.MATMULS["b128t84"])
    row = replace(base, name="b128t84p", constants={**base.constants, "OPL": 1},
                  notes="b128t84o with the slab written as scalars (OPL = 1)")
    R.MATMULS[row.name] = row
    return [row.name]


def main(argv: list[str]) -> int:
    new = add_rows()
    path = Path(__file__).resolve().parents[1] / "s10" / "fixed_cost.py"
    spec = importlib.util.spec_from_file_location("fixed_cost", path)
    fixed_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed_cost)
    fixed_cost.ROWS = FIT_ROWS
    fixed_cost.main(str(Path(argv[0]) / "fit"))
    return matmul_study.main(argv[0], cube=256, new=tuple(new), parity=True, steps_too=False,
                             checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
