"""Session 9: sliced-K warp tiles (``KG = 2``) the registry does not hold, raced against its rows
(``w128s2`` / ``w128s2tr`` among them) at the step's shapes: ``bench.matmul_study`` with these
rows added for this process only, parity first.

``python3 results/h200/s9/study_extra.py OUT_DIR``: the warp-tile kernel with two k-groups at
128 x 64, 64 x 128 and 64 x 64 (more warps per workgroup on the narrow grids where 128 x 128
tiles leave multiprocessors idle) with their via-tn twins, and at 128 x 128 with k-tiles of 16.
It runs at e9a5e02, the commit that added ``KG`` to matmul_warptile.wgsl and the two rows; both
were removed after this study (call 1: sliced K lost at every shape, results/h200/s9/README.md).
"""

from __future__ import annotations

import sys

from bench import matmul_study
from kernels import registry

EXTRA = {
    "w128x64s2": dict(BM=128, BN=64, BK=8, KG=2),
    "w64x128s2": dict(BM=64, BN=128, BK=8, KG=2),
    "w64s2": dict(BM=64, BN=64, BK=8, KG=2),
}
NO_TWIN = {"w128s2k16": dict(BM=128, BN=128, BK=16, KG=2)}


def add_rows() -> list[str]:
    names = []
    for name, tile in {**EXTRA, **NO_TWIN}.items():
        row = registry._warptile(name, f"session 9 study: warp-tiled {tile}", **tile)
        registry.MATMULS[name] = row
        names.append(name)
        if name in EXTRA:
            tr = registry._via_tn(row)
            registry.MATMULS[tr.name] = tr
            names.append(tr.name)
    return names


def main(argv: list[str]) -> int:
    new = add_rows() + ["w128s2", "w128s2tr"]
    tunable = [n for n, r in registry.MATMULS.items() if r.tune]
    return matmul_study.main(argv[0], variants=tuple(tunable), new=tuple(new), parity=True,
                             steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
