"""Session 8: tile shapes the registry does not hold yet, raced against its rows at the step's
shapes (``bench.matmul_study`` with these rows added for this process only, parity first).

``python3 results/h200/s8/study_extra.py OUT_DIR [--rows a,b,..]``: the warp-tile kernel at
128 x 64 and 64 x 128 (two and four 64 x 64 warp tiles fewer per workgroup, so narrow grids get
more workgroups per multiprocessor) and their via-tn twins, at 256 x 128, and at k-tiles of 4;
the blocked 128 x 64 / 64 x 128 rows at k-tiles of 16.
"""

from __future__ import annotations

import sys

from bench import matmul_study
from kernels import registry

EXTRA = {
    "w128x64": dict(BM=128, BN=64, BK=8),
    "w64x128": dict(BM=64, BN=128, BK=8),
    "w256x128": dict(BM=256, BN=128, BK=8),
    "w128k4": dict(BM=128, BN=128, BK=4),
}
BLOCKED = {
    "b128x64k16": dict(BM=128, BN=64, BK=16),
    "b64x128k16": dict(BM=64, BN=128, BK=16),
}


def add_rows() -> list[str]:
    names = []
    for name, tile in EXTRA.items():
        row = registry._warptile(name, f"session 8 study: warp-tiled {tile}", **tile)
        registry.MATMULS[name] = row
        tr = registry._via_tn(row)
        registry.MATMULS[tr.name] = tr
        names += [name, tr.name]
    for name, tile in BLOCKED.items():
        registry.MATMULS[name] = registry._blocked(name, f"session 8 study: {tile}", **tile)
        names.append(name)
    return names


def main(argv: list[str]) -> int:
    new = add_rows()
    tunable = [n for n, r in registry.MATMULS.items() if r.tune]
    return matmul_study.main(argv[0], variants=tuple(tunable), new=tuple(new), parity=True,
                             steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
