"""Session 11, call 3: the narrow tiles that sessions 4, 9 and 10 dropped, measured again now that
nn / nt stage their K-contiguous operands as tn does (call 1: the blocked rows 1.02-1.38x faster
in nn / nt), with the tile written through workgroup memory as a third twin (call 1: b128t84o up
to 1.16x b128t84 at K <= 768). Their nn / nt losses were measured on the old staging.

- ``b128x64t84``: 128x64 tile, 256 invocations with 8x4 outputs, k-tiles of 16
- ``b64x128t48``: 64x128 tile, 256 invocations with 4x8 outputs, k-tiles of 16
- ``b64t84``: 64x64 tile, 128 invocations with 8x4 outputs, k-tiles of 16
each with its v4 and o twins, plus o twins of b128x64 and b64; beside the rows ``auto`` picks on
the narrow grids and the tn weight gradients (call 2).

``python3 results/h200/s11/study_narrow.py OUT_DIR``: ``bench.matmul_study`` over those rows
(added for this process only), parity first, at the mega and behemoth step shapes and a token
256^3 cube.
It ran at 10df350 (call 3), when the `o` rows staged a vec4 slab. Main's staged write now uses
scalar planes, whose slab does not fit `b64x128t48`'s A tile buffer, so at later commits this
script is a record, not a runnable study.
"""

from __future__ import annotations

import sys

from bench import matmul_study
from kernels import registry

TILES = {
    "b128x64t84": dict(BM=128, BN=64, BK=16, TN=4),
    "b64x128t48": dict(BM=64, BN=128, BK=16, TM=4),
    "b64t84": dict(BM=64, BN=64, BK=16, TN=4),
}
OLD = ("b128t84", "b128t84o", "b128t84v4", "b128t84tr", "b128", "b128tr", "b128v4", "b64v4",
       "b128x64", "b128x64v4", "b64x128", "b64x128v4", "w128", "w128k4", "w128k4tr")


def add_rows() -> list[str]:
    R = registry
    rows = []
    for name, tile in TILES.items():
        row = R._blocked(name, f"session 11 study: {tile}", **tile)
        rows += [row, R._v4(row), R._os(row)]
    rows += [R._os(R.MATMULS["b128x64"]), R._os(R.MATMULS["b64"])]
    for r in rows:
        R.MATMULS[r.name] = r
    return [r.name for r in rows]


def main(argv: list[str]) -> int:
    new = add_rows()
    return matmul_study.main(argv[0], cube=256, variants=(*OLD, *new), new=tuple(new),
                             parity=True, steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
