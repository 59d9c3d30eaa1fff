"""Session 9: blocked tiles of 8x4 / 4x8 outputs on half or a quarter of b128t84's tile, so the
4096 x 256..768 grids get two to four independent workgroups per multiprocessor instead of one
b128t84 workgroup of 16 warps (whose barrier every warp of the multiprocessor then waits at).
Session 4 measured 128x64 / 64x128 tiles of 8x4 / 4x8 outputs before the vec4 output stores and
the trusted builds existed, and dropped them.

``python3 results/h200/s9/study_t84.py OUT_DIR``: ``bench.matmul_study`` over the rows `auto`
picks on those grids plus these rows (added for this process only), parity first, at the mega and
behemoth step shapes and a token 256^3 "cube" (the device time left did not cover 4096^3).
"""

from __future__ import annotations

import sys

from bench import matmul_study
from kernels import registry

TILES = {
    "b128x64t84": dict(BM=128, BN=64, BK=16, TN=4),  # 256 invocations
    "b64x128t48": dict(BM=64, BN=128, BK=16, TM=4),  # 256 invocations
    "b64t84": dict(BM=64, BN=64, BK=16, TN=4),  # 128 invocations
}
TR = ("b128x64t84", "b64x128t48")
OLD = ("b128t84", "b128t84v4", "b128t84tr", "b64v4", "b128x64v4", "b64x128")


def add_rows() -> list[str]:
    names = []
    for name, tile in TILES.items():
        row = registry._blocked(name, f"session 9 study: {tile}", **tile)
        rows = [row, registry._v4(row)] + ([registry._via_tn(row)] if name in TR else [])
        for r in rows:
            registry.MATMULS[r.name] = r
            names.append(r.name)
    return names


def main(argv: list[str]) -> int:
    new = add_rows()
    return matmul_study.main(argv[0], cube=256, variants=(*OLD, *new), new=tuple(new),
                             parity=True, steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
