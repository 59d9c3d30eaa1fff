"""Session 9: the blocked tile rows with their warps as 8 x 4 blocks of invocations (the lanes
include include/matmul_lanes_blocks.wgsl in place of matmul_lanes_rows.wgsl), raced against the
registry's rows at the step's shapes (``bench.matmul_study`` with these rows added for this
process only, parity first).

``python3 results/h200/s9/study_wl.py OUT_DIR``: each blocked row (and its v4 / via-tn twins
where the registry has them) once more on the kernels ``matmul_blocked_l`` / ``matmul_blocked_l_v4``
(registered here), named with an ``l`` after the tile
(``b128t84l``, ``b128t84lv4``, ``b128t84ltr``). With ``WL = 0`` a warp of b128t84 (a workgroup row
of 32 invocations) reads per k two A vec4 at one address each and 32 distinct B vec4 (four
wavefronts by the shared-memory rule of 128 bytes per wavefront); as an 8 x 4 block it reads 4
and 8 distinct vec4, one wavefront apiece: half the shared-memory traffic per FMA.
It runs at 37674b3, the commit that moved the blocked core's lane mapping into the lanes includes;
that change was reverted after this study (call 4: the lane blocks ran at 0.93-1.01 of the best
other candidate, results/h200/s9/README.md).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from bench import matmul_study
from kernels import registry

BASES = ("b128", "b128t84", "b64", "b128x64", "b64x128")
BLOCKS = "include/matmul_lanes_blocks.wgsl"


def add_kernels() -> None:
    """matmul_blocked_l and matmul_blocked_l_v4: the blocked kernels with the 8 x 4 lane blocks."""
    for name in ("matmul_blocked", "matmul_blocked_v4"):
        k = registry.KERNELS[name]
        includes = tuple(BLOCKS if f == registry._LANES_ROWS else f for f in k.includes)
        new = name.replace("blocked", "blocked_l")
        registry.KERNELS[new] = replace(k, name=new, includes=includes)


def add_rows() -> list[str]:
    add_kernels()
    names = []
    for base in BASES:
        b = registry.MATMULS[base]
        c = {**registry._BLOCKED_CONSTANTS, **b.constants}
        assert (c["BN"] // c["TN"]) % 8 == 0 and (c["BM"] // c["TM"]) % 4 == 0, base
        tw = replace(b, name=f"{base}l", kernel="matmul_blocked_l",
                     notes=f"session 9 study: {base} with warps as 8 x 4 lane blocks")
        rows = [tw]
        if f"{base}v4" in registry.MATMULS:
            rows.append(registry._v4(tw))
        if f"{base}tr" in registry.MATMULS:
            rows.append(registry._via_tn(tw))
        for r in rows:
            registry.MATMULS[r.name] = r
            names.append(r.name)
    return names


def main(argv: list[str]) -> int:
    new = add_rows()
    tunable = [n for n, r in registry.MATMULS.items() if r.tune]
    return matmul_study.main(argv[0], variants=tuple(tunable), new=tuple(new), parity=True,
                             steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
