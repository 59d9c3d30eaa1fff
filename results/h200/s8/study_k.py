"""Session 8: shorter k-tiles for the blocked rows (the staging now lets fewer quads than
invocations load: the first ones do), raced against the registry's rows at the step's shapes
(``bench.matmul_study``, these rows added for this process only, parity first).

``python3 results/h200/s8/study_k.py OUT_DIR``. Call 2 found the warp-tile kernel at k-tiles of 4
(``w128k4``) ahead of k-tiles of 8 on the wide mid-K products; these rows ask the same of the
blocked tiles that the short-K and small-grid shapes pick, with their v4 and via-tn twins.
"""

from __future__ import annotations

import sys

from bench import matmul_study
from kernels import registry

BLOCKED = {
    "b128k4": dict(BM=128, BN=128, BK=4),
    "b128t84k8": dict(BM=128, BN=128, BK=8, TN=4),
    "b128t84k4": dict(BM=128, BN=128, BK=4, TN=4),
    "b64k8": dict(BM=64, BN=64, BK=8, TM=4, TN=4),
    "b64k4": dict(BM=64, BN=64, BK=4, TM=4, TN=4),
    "b128x64k4": dict(BM=128, BN=64, BK=4),
    "b64x128k4": dict(BM=64, BN=128, BK=4),
}
V4 = ("b128k4", "b128t84k8", "b64k8", "b128x64k4", "b64x128k4")
VIA_TN = ("b128k4", "b128t84k8")


def add_rows() -> list[str]:
    names = []
    for name, tile in BLOCKED.items():
        row = registry._blocked(name, f"session 8 study: {tile}", **tile)
        rows = [row]
        if name in V4:
            rows.append(registry._v4(row))
        if name in VIA_TN:
            rows.append(registry._via_tn(row))
        for r in rows:
            registry.MATMULS[r.name] = r
            names.append(r.name)
    w = registry._v4(registry.MATMULS["w128k4"])
    registry.MATMULS[w.name] = w
    return [*names, w.name]


def main(argv: list[str]) -> int:
    new = add_rows()
    tunable = [n for n, r in registry.MATMULS.items() if r.tune]
    return matmul_study.main(argv[0], variants=tuple(tunable), new=tuple(new), parity=True,
                             steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
