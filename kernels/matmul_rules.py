"""The shape rules of the matmul planner: the split-K factor and the ``auto`` fallback rule.

No table here, only arithmetic on (form, M, N, K), so that the registry's rows can name these
rules and ``kernels.matmul_plan`` can apply them without an import cycle.
"""

from __future__ import annotations

from math import ceil

# Split-K (weight gradients A^T @ B: M, N = d_model..4*d_model, K = B*T): a 64x64-tile grid of a
# few workgroups each walking all of K leaves most of a big GPU idle, so K is cut into SPLITS
# slices, each a workgroup per tile, and a reduce kernel adds the slices in a fixed order.
# The extra dispatch costs host encode time (~10 us on the H100 host, issue 3), so it is only
# used where one tile grid is small and K long.
SPLITK_TILE = 64
SPLITK_MAX_TILES = 64  # a grid of more 64x64 tiles keeps a GPU busy without splitting
SPLITK_GROUPS = 256  # aim for about this many workgroups (two per SM of a 132-SM GPU)
SPLITK_MIN_CHUNK = 128  # k per slice: 8 k-tiles of 16, so the per-slice prologue/store stays small
SPLITK_MAX_SPLITS = 16
SPLITK_REDUCE = "matmul_splitk_reduce"


def splitk_splits(form: str, M: int, N: int, K: int) -> int:
    """K slices for one call: a power of two, 1 (no split) unless the tile grid is small."""
    tiles = ceil(M / SPLITK_TILE) * ceil(N / SPLITK_TILE)
    if form != "tn" or tiles > SPLITK_MAX_TILES:
        return 1
    s = 1
    while (2 * s <= SPLITK_MAX_SPLITS and tiles * 2 * s <= SPLITK_GROUPS
           and K >= 2 * s * SPLITK_MIN_CHUNK):
        s *= 2
    return s


# The ``auto`` rule. Measured on the H100 (results/kernels/, results/<machine>/h100-presets.*):
# the 128x128-tile kernels win once their grid has ~96 tiles; blocked4x4 wins below that; plain
# tiled16 (16x more, smaller workgroups) only on tiny grids with short K; split-K for the
# weight gradients whose grid is small and K long.
AUTO_BIG_TILES = 96  # ceil(M/128) * ceil(N/128) at and above which vec4 (or blocked8x8) runs
AUTO_TINY_TILES = 24  # ceil(M/64) * ceil(N/64) below which tiled16 runs (when not split)


def auto_matmul(form: str, M: int, N: int, K: int) -> str:
    """The variant ``auto`` runs for one call (the rule is written here once)."""
    if ceil(M / 128) * ceil(N / 128) >= AUTO_BIG_TILES:
        return "vec4"  # off its vec4 shape rule it falls back to blocked8x8
    if splitk_splits(form, M, N, K) > 1:
        return "splitk"
    if ceil(M / 64) * ceil(N / 64) < AUTO_TINY_TILES:
        return "tiled16"
    return "blocked4x4"
