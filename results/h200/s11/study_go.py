"""Session 11: two staging changes of the blocked tile kernel, beside the rows `auto` picks at the
step shapes still under 0.8 of cuBLAS (session 10, call 3).

- ``g`` rows (KG = 1): nn / nt stage their K-contiguous operands as four rows at one k (scalar
  loads, one vec4 store to workgroup memory) instead of one row's four k (one vec4 or four scalar
  loads, four scalar stores), the layout the tn form gets from its loads. Session 10 measured
  b128t84's k-loop at 1.92 / 2.09 us per k-tile of 16 in nn / nt against 1.66 in tn (4096 x 512).
- ``o`` rows (kernel matmul_blocked_os): the finished tile goes out through workgroup memory, so a
  warp stores whole 128-byte lines of a row of C instead of four floats in every 16 bytes of a
  512-byte span. Session 10 put most of the scalar kernels' fixed time on those stores (13 us at
  4096 x 512, 78 us at 4096 x 4096 for b128t84 tn, against cuBLAS's 8 / 28 us), while the vec4
  store twins, with about none, run a slower loop.

``python3 results/h200/s11/study_go.py OUT_DIR``: ``bench.matmul_study`` over those rows (added
for this process only), parity first, at the mega and behemoth step shapes and a token 256^3 cube.
It ran at 6fa0111 (call 1), where KG was an override constant; since then the K-contiguous staging
is the only one (every row is what the ``g`` rows were) and ``_kg`` is gone, so at later commits
this script is a record, not a runnable study. (Its `o` rows were the first staged write, a vec4
slab; main's writes scalar planes since 469d0d0.)
"""

from __future__ import annotations

import sys

from bench import matmul_study
from kernels import registry

OLD = ("b128t84", "b128t84tr", "b128t84v4", "b128", "b128tr", "b128v4", "b64x128", "w128k4",
       "w128k4tr", "b64v4", "b128x64v4")


def add_rows() -> list[str]:
    R = registry
    m = R.MATMULS
    rows = []
    for base in ("b128t84", "b128"):
        b = m[base]
        rows += [R._kg(b), R._os(b), R._os(R._kg(b)), R._v4(R._kg(b))]
    rows += [R._kg(m["w128k4"]), R._os(m["b64x128"])]
    for r in rows:
        m[r.name] = r
    return [r.name for r in rows]


def main(argv: list[str]) -> int:
    new = add_rows()
    return matmul_study.main(argv[0], cube=256, variants=(*OLD, *new), new=tuple(new),
                             parity=True, steps_too=False, checked_too=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
