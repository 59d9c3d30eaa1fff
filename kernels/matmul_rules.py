"""The shape rules of the matmul planner: vec4 loads, the split-K factor and ``auto``'s fallback.

No table here, only arithmetic on (form, M, N, K), so that the registry's rows can name these
rules and ``kernels.matmul_plan`` can apply them without an import cycle. ``auto`` normally decides
by measurement on the device (backends/gpu/autotune.py); ``auto_matmul`` is what it does where it
cannot measure (no timestamp queries, a software adapter, tuning switched off).
"""

from __future__ import annotations

from math import ceil

SPLITK_REDUCE = "matmul_splitk_reduce"
SPLITK_REDUCE_V4 = "matmul_splitk_reduce_v4"  # its vec4 twin, for N % 4 == 0 (vec4_store_ok)
TRANSPOSE = "matmul_transpose"  # the operand transpose of the via-tn rows (registry.MatmulVariant)

# Split-K (weight gradients A^T @ B: M, N = d_model..4*d_model, K = B*T): a 64x64-tile grid of a
# few workgroups each walking all of K leaves most of a big GPU idle, so K is cut into SPLITS
# slices, each a workgroup per tile, and a reduce kernel adds the slices in a fixed order.
SPLITK_TILE = 64
SPLITK_MAX_TILES = 64  # a grid of more 64x64 tiles keeps a GPU busy without splitting
SPLITK_GROUPS = 256  # aim for about this many workgroups
SPLITK_MIN_CHUNK = 128  # k per slice, so the per-slice prologue and partial store stay small
SPLITK_MAX_SPLITS = 16


def vec4_ok(form: str, M: int, N: int, K: int) -> bool:
    """Whether the tile kernels' vec4 loads may run: they read the operands stored m- or
    n-contiguous (tn A, nn / tn B; include/matmul_tile_io.wgsl), whose rows must then hold whole
    vec4s (nn N; tn M, N multiples of 4; nt has none, K-contiguous operands load as scalars)."""
    contiguous = {"nn": (N,), "nt": (), "tn": (M, N)}[form]
    return all(n % 4 == 0 for n in contiguous)


def vec4_store_ok(N: int) -> bool:
    """Whether a tile kernel may store each finished output quad (4 consecutive columns from a
    multiple of 4) as one vec4: exactly when C's rows hold whole vec4s, N % 4 == 0, in every form
    (C is [M, N] row-major whatever the operands' layouts); the "v4" rows accept only such N."""
    return N % 4 == 0


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


# Split factors ``auto``'s measurement tries: not only powers of two (a grid of T tiles fills the
# device in waves, and T x 3, 6, 7 or 11 can end nearer a whole wave than T x 2 or 4: on the
# H200's 132 multiprocessors, with one 512-invocation workgroup each, 7 and 11 were ahead of every
# other factor at behemoth's 768 x 768 and 256 x 768 weight gradients). Each factor is a
# pipeline of its own per row and form (SPLITS is an override constant), compiled on a cold
# driver cache; 5, 9, 10, 24 and 32 were best nowhere or under 1% ahead where the H200 picked
# them, so they are not tried (results/h200/s4/, s12/README.md).
SPLIT_FACTORS = (2, 3, 4, 6, 7, 8, 11, 12, 16)
# workgroups of a split grid at the most (room for 144 128x128 tiles x 8..12 on the H200)
SPLIT_MAX_GROUPS = 2048
# the split-K scratch [S, M, N] in bytes at the most: WebGPU's default maximum storage-buffer
# binding (128 MiB), which a 128x256 tile at 2048 workgroups would pass
SPLIT_MAX_SCRATCH = 128 << 20


SPLIT_MIN_KTILES = 8  # k-tiles per slice at the least: short-K grids of few tiles split too


def split_candidates(M: int, N: int, K: int, bm: int, bn: int, bk: int,
                     max_groups: int = SPLIT_MAX_GROUPS) -> list[int]:
    """Split factors worth timing for a BM x BN tile: 1, and the ``SPLIT_FACTORS`` that keep
    each slice at least ``SPLIT_MIN_KTILES`` k-tiles long, the grid within ``max_groups``
    workgroups and the scratch within ``SPLIT_MAX_SCRATCH`` bytes."""
    tiles = ceil(M / bm) * ceil(N / bn)
    return [1, *(s for s in SPLIT_FACTORS
                 if tiles * s <= max_groups and K >= s * SPLIT_MIN_KTILES * bk
                 and s <= SPLITK_MAX_SPLITS and 4 * s * M * N <= SPLIT_MAX_SCRATCH)]


# Without measurement: 128x128 tiles once their grid has ~96 tiles; the 64x64 tile below that;
# plain tiled16 only on tiny grids with short K; split-K for the long-K weight gradients of small
# grids. (The thresholds are the ones the earlier measured rule used.)
AUTO_BIG_TILES = 96  # ceil(M/128) * ceil(N/128) at and above which b128 runs
AUTO_TINY_TILES = 24  # ceil(M/64) * ceil(N/64) below which tiled16 runs (when not split)


def auto_matmul(form: str, M: int, N: int, K: int) -> tuple[str, int | None]:
    """(variant, split factor or None for the variant's own) that ``auto`` runs by rule."""
    if ceil(M / 128) * ceil(N / 128) >= AUTO_BIG_TILES:
        return "b128", None
    if splitk_splits(form, M, N, K) > 1:
        return "splitk", None
    if ceil(M / 64) * ceil(N / 64) < AUTO_TINY_TILES:
        return "tiled16", None
    return "b64", None
