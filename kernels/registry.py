"""The kernel registry: every WGSL kernel and every selectable variant, as a table.

No wgpu import here: ``bench`` lists variants from this module on a machine without a GPU, and the
GPU backend turns a row into a pipeline. A row says which file and entry point, which shared WGSL
pieces are prepended, which ``override`` constants exist (names are checked here, because naga
ignores a misspelt one), the features it needs, its grid as a function of its own uniform fields,
its shape limits and the NumPy reference it is tested against.

Beside it: ``kernels.wgsl`` assembles a kernel's source and reads its bindings and uniform layout
from it; ``kernels.matmul_rules`` holds the shape rules the matmul rows name (split-K factor,
the ``auto`` rule) and ``kernels.matmul_plan`` applies them to one call.

Adding a variant = one WGSL file + one ``Kernel`` row + one ``MatmulVariant`` or
``AttentionVariant`` row. A matmul variant must implement the interface of
``include/matmul_common.wgsl`` (bindings of A, B, forms by TRANS_A/TRANS_B) and write C through an
output side: ``include/matmul_out.wgsl`` (C, R, AUX; epilogues by ``store_c``) or, for vec4
stores, ``include/matmul_store_vec4.wgsl``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from math import ceil, prod
from pathlib import Path

from kernels.matmul_rules import (
    SPLITK_REDUCE,
    SPLITK_REDUCE_V4,
    TRANSPOSE,
    auto_matmul,
    splitk_splits,
    vec4_store_ok,
)

KERNEL_DIR = Path(__file__).resolve().parent

MAX_GROUPS = 65535  # WebGPU's guaranteed maxComputeWorkgroupsPerDimension


class VariantError(ValueError):
    """Unknown kernel, variant or constant name; the message lists the known ones."""


def fold(groups: int) -> tuple[int, int, int]:
    """A 1-D launch of ``groups`` workgroups folded into (x, y) so no dimension exceeds 65535.

    Kernels launched this way compute ``wg_linear`` and ignore the few overhanging workgroups.
    """
    groups = max(1, int(groups))
    if groups <= MAX_GROUPS:
        return (groups, 1, 1)
    y = ceil(groups / MAX_GROUPS)
    return (ceil(groups / y), y, 1)


@dataclass(frozen=True)
class Kernel:
    """One WGSL kernel: a file with one entry point."""

    name: str
    file: str
    grid: Callable[[dict], tuple[int, int, int]]  # uniform fields -> workgroup counts
    reference: str  # the NumPy reference it is checked against (tests/test_gpu_kernels.py)
    entry: str = "main"
    includes: tuple[str, ...] = ("include/common.wgsl",)
    constants: dict[str, int] = field(default_factory=dict)  # override name -> default
    features: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # bindings a caller may leave unbound (a dummy is bound)
    # workgroup memory it declares; the pipeline cache reads the figure from the WGSL itself
    # (kernels.wgsl.workgroup_bytes, with the constants of the call), the row's is only checked
    workgroup_bytes: int = 0
    trusted: bool = False  # indices in range by design: built without naga's runtime checks
    # binding -> the binding whose view it shares (e.g. a vec4 view "a4" of the buffer bound as "a")
    aliases: dict[str, str] = field(default_factory=dict)
    # uniform fields -> override constants fixed by the call's shape (e.g. fa2's head_dim HD and
    # lanes per row G); a caller's explicit constants win. Applied by every dispatch (Graph.add).
    derive: Callable[[dict], dict[str, int]] | None = None


# The three forms a backward pass needs, as the constants of include/matmul_common.wgsl.
FORMS: dict[str, dict[str, int]] = {"nn": {}, "nt": {"TRANS_B": 1}, "tn": {"TRANS_A": 1}}


@dataclass(frozen=True)
class MatmulVariant:
    """A matmul variant: one kernel and its tile constants; the form sets TRANS_A / TRANS_B and
    picks the row's ``form_constants`` for that form.

    A variant of a kernel that declares ``VEC`` gets vec4 global loads wherever the call's shape
    allows them (``matmul_rules.vec4_ok``), and any ``split`` variant can run a call as split-K
    (the same kernel with ``SPLITS`` > 1, then ``SPLITK_REDUCE``, or its vec4 twin
    ``SPLITK_REDUCE_V4`` where N % 4 == 0, which applies the epilogue).
    """

    name: str
    kernel: str = ""
    constants: dict[str, int] = field(default_factory=dict)  # tile constants of the kernel
    notes: str = ""
    # Shape rule: (form, M, N, K) -> whether this variant runs that call; where it does not, the
    # step uses ``fallback`` for that call and records it (describe()["matmul_fallbacks"]).
    accepts: Callable[[str, int, int, int], bool] = lambda form, M, N, K: True
    fallback: str | None = None
    split: bool = False  # runs split-K when asked (forced ``splits``, ``splits`` rule, tuning)
    # (form, M, N, K) -> number of K slices the variant uses by itself (1: one pass)
    splits: Callable[[str, int, int, int], int] | None = None
    tune: bool = False  # a candidate of ``auto``'s measurement (backends/gpu/autotune.py)
    # (form, M, N, K) -> (variant, splits or None): the ``auto`` variant's choice per call
    choose: Callable[[str, int, int, int], tuple[str, int | None]] | None = None
    # Runs nn and nt on the tn form's tile path: the operand(s) read along k (nn: A; nt: A and
    # B) are first transposed into scratch by ``TRANSPOSE`` (one extra dispatch each); tn calls
    # run as the base row. Worth it only where the matmul outweighs the copies: ``auto`` times it.
    via_tn: bool = False
    # constants that differ by the form the kernel runs (after via_tn), e.g. {"nn": {"UK": 8}}:
    # the tile cores' best unrolling differs between the tn path and the K-contiguous staging
    form_constants: dict[str, dict[str, int]] = field(default_factory=dict)
    # Stream-K (matmul_blocked kernels only): ``splits`` is then the number of workgroups G that
    # share the tiles' k-tiles in equal runs (kernels/matmul_blocked.wgsl), partial tiles into a
    # scratch and the fixed-order reduce; never split-K
    stream_k: bool = False

    @property
    def tile(self) -> tuple[int, int]:
        """(rows, columns) of C per workgroup, read from the constants (0 for ``auto``)."""
        if not self.kernel:
            return (0, 0)
        c = {**kernel(self.kernel).constants, **self.constants}
        return (c.get("BM", c.get("TILE", 0)), c.get("BN", c.get("TILE", 0)))


@dataclass(frozen=True)
class AttentionVariant:
    """An attention variant: forward kernel, backward kernels (run in order), and its buffers.

    ``saved`` buffers live per layer from forward to backward; ``scratch`` buffers are shared by
    all layers' backward. Sizes are products of the letters B, H, T (and D for head_dim).
    Kernels bind by name from: qkv, out, dout, dqkv, and the saved/scratch names.
    """

    name: str
    forward: str
    backward: tuple[str, ...]
    saved: dict[str, str]
    scratch: dict[str, str]
    max_seq_len: int
    max_head_dim: int
    notes: str = ""


def _mm_grid(u: dict) -> tuple[int, int, int]:
    """matmul_tiled16: TILE x TILE outputs per workgroup (its override constant)."""
    return (ceil(u["N"] / u["TILE"]), ceil(u["M"] / u["TILE"]), 1)


def _blocked_grid(u: dict) -> tuple[int, int, int]:
    """matmul_blocked: its tile constants (BM, BN) and SPLITS come with the uniform's fields;
    its stream-K entry (SKG > 0) runs SKG workgroups."""
    if u.get("SKG"):
        return (u["SKG"], 1, 1)
    return (ceil(u["N"] / u["BN"]), ceil(u["M"] / u["BM"]), u["SPLITS"])


def _rows(u: dict) -> tuple[int, int, int]:
    return fold(u["rows"])


def _attn(u: dict) -> tuple[int, int, int]:
    return (u["T"], u["B"] * u["H"], 1)


_MATMUL_CONSTANTS = {"TRANS_A": 0, "TRANS_B": 0, "EPILOGUE": 0}
_MM_BASE = ("include/common.wgsl", "include/matmul_common.wgsl")  # A, B, forms: no output side
_MM_INCLUDES = (*_MM_BASE, "include/matmul_out.wgsl")  # + the scalar output side (C, R, AUX)
# the tile kernels: matmul_common, then an output side, the staging, a put4 and the core
_TILE_IO = "include/matmul_tile_io.wgsl"
_TILE_INCLUDES = (*_MM_INCLUDES, _TILE_IO)  # scalar output side; + put4 and the core
# the tile staging's constants (include/matmul_tile_io.wgsl, its k-loop's UK included; the
# warp-tile core adds none), then the blocked core's own
_TILE_CONSTANTS = {**_MATMUL_CONSTANTS, "BM": 128, "BN": 128, "BK": 8, "VEC": 0, "SPLITS": 1,
                   "UK": 1}
_TILE_ALIASES = {"a4": "a", "b4": "b"}  # the tile staging's vec4 views (VEC loads)
# include/matmul_store_vec4.wgsl's output bindings: vec4 views of the caller's c, r, aux
_OUT_V4_ALIASES = {"c4": "c", "r4": "r", "aux4": "aux"}
_TILE_V4_ALIASES = {**_TILE_ALIASES, **_OUT_V4_ALIASES}
_SCALAR_STORES = "include/matmul_store_scalar.wgsl"
_BLOCKED_CORE = "include/matmul_tile_core.wgsl"
_TILE_OUT = "include/matmul_tile_out.wgsl"  # write_tile: each invocation its own quads
_TILE_OUT_STAGED = "include/matmul_tile_out_staged.wgsl"  # through workgroup memory
_STREAM_K = "include/matmul_stream_k.wgsl"  # the stream-K schedule (entries main_sk)
_BLOCKED_CONSTANTS = {**_TILE_CONSTANTS, "TM": 8, "TN": 8}
_REDUCE_CONSTANTS = {**_MATMUL_CONSTANTS, "SPLITS": 2}  # the split-K reduce's (SPLITS slices)
# stream-K: each blocked kernel's twin on the file's entry main_sk
STREAM_K = {"matmul_blocked": "matmul_blocked_sk", "matmul_blocked_os": "matmul_blocked_os_sk",
            "matmul_blocked_v4": "matmul_blocked_sk_v4"}


FA2_LANES = (1, 2, 4)  # lanes per resident row an fa2 kernel accepts (override G)


def fa2_lanes(hd: int, lanes: int | None = None) -> int:
    """Lanes per resident row of the fa2 kernels: the fewest that keep a lane at <= 32 dims
    (8 vec4 chunks), or ``lanes`` when given and enough; anything else is a VariantError."""
    need = next((g for g in FA2_LANES if 32 * g >= hd), None)
    if need is None:
        raise VariantError(f"fa2 kernels support head_dim <= {32 * FA2_LANES[-1]}; got {hd}")
    if lanes is None:
        return need
    if lanes not in FA2_LANES or lanes < need:
        raise VariantError(f"fa2 lanes per row G={lanes} invalid at head_dim {hd}: "
                           f"choose one of {[g for g in FA2_LANES if g >= need]}")
    return lanes


def check_attention_constants(variant: str, hd: int, constants: dict[str, int] | None) -> None:
    """A VariantError unless ``constants`` (explicit override constants for every kernel of an
    attention variant) fit head_dim ``hd``: fa2's lanes per row G must cover the row."""
    av = attention_variant(variant)
    for name in (av.forward, *av.backward):
        check_constants(name, constants or {})
    if not constants or variant != "fa2":
        return
    lanes = fa2_lanes(hd, constants.get("G"))
    # a derived ST (at most fa2_tiles(hd)) fits every G that fa2_lanes accepts at this hd
    fa2_staged_tiles(hd, lanes, constants.get("ST", fa2_tiles(hd)))
    if constants.get("IL", 0) not in (0, 1):
        raise VariantError(f"fa2 override IL must be 0 or 1; got {constants['IL']}")
    if constants.get("PF", 0) not in (0, 1, 2):
        raise VariantError(f"fa2 override PF must be 0, 1 or 2; got {constants['PF']}")
    if constants.get("SG", 0) not in (0, 1):
        raise VariantError(f"fa2 override SG must be 0 or 1; got {constants['SG']}")
    fa2_rows(hd, lanes, constants.get("RR", 1))


def fa2_rows(hd: int, lanes: int, rows: int) -> int:
    """``rows`` (RR: resident rows per invocation) if 1, or 2 where a lane's share of a row at
    head_dim ``hd`` and ``lanes`` per row is at most 4 vec4 chunks (the second row takes the
    upper half of each register set), else a VariantError."""
    chunks = ceil(ceil(hd / 4) / lanes)
    if rows == 1 or (rows == 2 and chunks <= 4):
        return rows
    raise VariantError(f"fa2 resident rows RR={rows} invalid at head_dim {hd}, G={lanes}: "
                       f"RR = 2 needs at most 16 dims per lane ({chunks * 4} here)")


def _fa2_grid(u: dict) -> tuple[int, int, int]:
    # 64 invocations per workgroup, RR * 64 / G resident rows; blocks on y, so that each kernel's
    # heaviest blocks (by causal work) go first for every head (see the kernels' headers)
    return (u["B"] * u["H"], ceil(u["T"] / (u.get("RR", 1) * 64 // u["G"])), 1)


def fa2_staged_tiles(hd: int, lanes: int, tiles: int) -> int:
    """``tiles`` (ST: 16-row tiles staged per barrier pair) if 1, 2 or 4 and the block fits the
    kernels' [512] vec4 tile buffers at head_dim ``hd`` and ``lanes`` per row, else a
    VariantError."""
    width = lanes * ceil(ceil(hd / 4) / lanes)  # CH: vec4 chunks per staged row
    fit = [s for s in (1, 2, 4) if s * width <= 32]
    if tiles not in fit:
        raise VariantError(f"fa2 staged tiles ST={tiles} invalid at head_dim {hd}, G={lanes}: "
                           f"choose one of {fit}")
    return tiles


def fa2_tiles(hd: int) -> int:
    """Tiles staged per barrier pair (ST) by the backward kernels: 2 wherever the [512] vec4 tile
    buffers hold two tiles for every lane count G valid at ``hd`` (hd <= 64), else 1. Measured on
    an H200: ST = 2 (with IL = 1) is the fastest backward layout at hd 32 and 64; the forward
    keeps ST = 1 at G = 1, where staging two tiles was slower."""
    return 2 if hd <= 64 else 1


FA2_MIN_GROUPS = 256  # workgroups below which fa2 spreads rows over more lanes (2 per unit)
# fewest-lane workgroups from which, with the device feature `subgroup`, fa2 at head_dim 17..64
# keeps two rows per invocation over more lanes (the range measured faster on an H200)
FA2_RR_MIN_GROUPS = 1024


def _fa2_shape(forward: bool) -> Callable[[dict], dict[str, int]]:
    """The derived override constants of an fa2 kernel: head_dim, lanes per row G, staged tiles
    ST, IL = 1 (at G = 1 the backward uses one group of four scores at a time) and the staging
    PF: vec4 chunks (1), with the next block prefetched into registers at G = 1 (2; measured on
    an H200 the fastest at hd 32, while at G = 2 the prefetch's registers cost more). Where the
    fewest lanes (G = 1, head_dim <= 32) leave fewer than FA2_MIN_GROUPS workgroups (short
    sequences, few heads), G is doubled (up to 4) and ST = 1: measured on an H200, more, smaller
    workgroups win there. Where the device has `subgroup` (``u["subgroup"]``, set per dispatch),
    head_dim is 17..64 and the fewest lanes give at least FA2_RR_MIN_GROUPS workgroups, G is
    doubled with two rows per invocation (RR = 2, the same grid) and the lanes add by shuffles
    (SG = 1): measured on an H200 the fastest layout at hd 32 and 64 in that range, in all three
    kernels. With `subgroup` at head_dim 17..32 and fewer workgroups (a short sequence, few
    heads: `huge`'s 384), each row goes over two lanes, one row per invocation (G = 2, SG = 1,
    twice the workgroups; still doubled up to G = 4 below FA2_MIN_GROUPS): measured on an H200
    the fastest layout there, ahead of one lane per row. Without the feature
    the workgroup-memory layouts above stay (no refusal)."""
    def derive(u: dict) -> dict[str, int]:
        hd = u["hd"]
        lanes = fa2_lanes(hd)
        tiles = 1 if forward and lanes == 1 else fa2_tiles(hd)
        out = {"HD": hd, "G": lanes, "ST": tiles, "IL": 1, "PF": 2 if lanes == 1 else 1,
               "RR": 1, "SG": 0}
        groups = prod(_fa2_grid({**u, "G": lanes}))
        if u.get("subgroup") and 16 < hd <= 64 and groups >= FA2_RR_MIN_GROUPS:
            # two rows of at most 16 dims per lane, the lanes added by subgroup shuffles
            return {**out, "G": 2 * lanes, "RR": 2, "SG": 1}
        if u.get("subgroup") and 16 < hd <= 32:
            # a small grid: each row over two lanes (twice the workgroups), added by shuffles
            out.update(G=2, SG=1)
        spread = lanes == 1
        while spread and out["G"] < 4 and prod(_fa2_grid({**u, **out})) < FA2_MIN_GROUPS:
            out.update(G=2 * out["G"], ST=1, PF=1)
        return out
    return derive


def _transpose_vec4(u: dict) -> dict[str, int]:
    """matmul_transpose's vec4 sides: src read as vec4 where its rows (C floats) hold whole vec4s,
    dst written as vec4 where its rows (R floats) do; each side falls back to scalars alone."""
    return {"VEC_IN": int(u["C"] % 4 == 0), "VEC_OUT": int(u["R"] % 4 == 0)}


def resolve_constants(name: str, u: dict, explicit: dict[str, int] | None) -> dict[str, int]:
    """The override constants of one dispatch of kernel ``name`` (which has a ``derive``) with
    uniform fields ``u`` (plus ``subgroup``: whether the device has the feature): the derived ones,
    replaced by the caller's ``explicit`` ones; a derived RR = 2 yields to explicit lanes per row
    it does not fit (RR = 1 then)."""
    k = kernel(name)
    out = {**k.derive(u), **(explicit or {})}
    if out.get("RR", 1) > 1 and "RR" not in (explicit or {}):
        try:
            fa2_rows(u["hd"], out["G"], out["RR"])
        except VariantError:
            out["RR"] = 1
    return out


_LN_ROW = ("include/common.wgsl", "include/layernorm_row.wgsl")
_NAIVE = ("include/common.wgsl", "include/attn_naive_params.wgsl")
_FA2_BASE = ("include/common.wgsl", "include/attn_fa2_common.wgsl")
_FA2 = (*_FA2_BASE, "include/attn_fa2_lanes_wg.wgsl")
_FA2_SG = (*_FA2_BASE, "include/attn_fa2_lanes_sg.wgsl")
_FA2_BWD = (*_FA2, "include/attn_fa2_bwd.wgsl")
_FA2_BWD_SG = (*_FA2_SG, "include/attn_fa2_bwd.wgsl")
_FA2_BYTES = 3 * 512 * 16  # tiles xt, yt [512] vec4, lane shares xch [8][64] vec4
_FA2_SG_BYTES = 2 * 512 * 16  # tiles only: the lanes add by subgroup shuffles
# head_dim, lanes per row, staged tiles, one score group at a time, staging (PF; these five
# derived per call: _fa2_shape), resident rows per invocation, lane sums by subgroup shuffles
# (SG = 1: the pipeline cache compiles the row's SUBGROUP_TWIN, which needs the device feature)
_FA2_CONSTANTS = {"HD": 128, "G": 4, "ST": 1, "IL": 0, "PF": 0, "RR": 1, "SG": 0}
SUBGROUP_TWIN = "_sg"  # suffix of the registry row compiled for a kernel's SG = 1
# vec4 views of the row sources, read by the vec4 staging (PF > 0) where head_dim % 4 == 0
_FA2_ALIASES = {"qkv4": "qkv", "dout4": "dout"}

_BLOCKED_KERNELS = (
    Kernel("matmul_blocked", "matmul_blocked.wgsl", _blocked_grid, "ref_matmul",
           includes=(*_TILE_INCLUDES, _SCALAR_STORES, _BLOCKED_CORE, _TILE_OUT, _STREAM_K),
           constants=_BLOCKED_CONSTANTS, optional=("r", "aux"), aliases=_TILE_ALIASES,
           trusted=True),
    # the same kernel writing its tile through workgroup memory: row-contiguous scalar stores
    # (the "o" rows), any N
    Kernel("matmul_blocked_os", "matmul_blocked.wgsl", _blocked_grid, "ref_matmul",
           includes=(*_TILE_INCLUDES, _SCALAR_STORES, _BLOCKED_CORE, _TILE_OUT_STAGED,
                     _STREAM_K),
           constants=_BLOCKED_CONSTANTS, optional=("r", "aux"), aliases=_TILE_ALIASES,
           trusted=True),
    # the same kernel with each output quad one vec4 store: N % 4 == 0 only (the v4 rows)
    Kernel("matmul_blocked_v4", "matmul_blocked.wgsl", _blocked_grid, "ref_matmul",
           includes=(*_MM_BASE, _TILE_IO, "include/matmul_store_vec4.wgsl", _BLOCKED_CORE,
                     _TILE_OUT, _STREAM_K),
           constants=_BLOCKED_CONSTANTS, optional=("r4", "aux4"), aliases=_TILE_V4_ALIASES,
           trusted=True),
)
_REDUCE_KERNELS = (
    Kernel(SPLITK_REDUCE, "matmul_splitk_reduce.wgsl",
           lambda u: fold(ceil(u["M"] * u["N"] / 256)), "ref_matmul",
           includes=(*_MM_INCLUDES, _STREAM_K), constants=_REDUCE_CONSTANTS,
           optional=("a", "b", "r", "aux"), trusted=True),
    Kernel(SPLITK_REDUCE_V4, "matmul_splitk_reduce_v4.wgsl",
           lambda u: fold(ceil(u["M"] * u["N"] / 1024)), "ref_matmul",
           includes=(*_MM_BASE, "include/matmul_store_vec4.wgsl", _STREAM_K),
           constants=_REDUCE_CONSTANTS, optional=("a", "b", "r4", "aux4"), trusted=True,
           aliases={"part4": "part", **_OUT_V4_ALIASES}),
)


def _on_stream_k(k: Kernel, name: str, **constants: int) -> Kernel:
    """Kernel ``k``'s twin on its file's stream-K entry ``main_sk``: the same includes and
    bindings, ``constants`` (the stream-K ones, at their WGSL defaults) added."""
    return replace(k, name=name, entry="main_sk", constants={**k.constants, **constants})


KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in [
        Kernel("matmul_tiled16", "matmul_tiled16.wgsl", _mm_grid, "ref_matmul",
               includes=_MM_INCLUDES, constants={**_MATMUL_CONSTANTS, "TILE": 16},
               optional=("r", "aux")),
        *_BLOCKED_KERNELS,
        # the three on stream-K (their file's entry main_sk: SKG workgroups share the tiles'
        # k-tiles)
        *(_on_stream_k(k, STREAM_K[k.name], SKG=0) for k in _BLOCKED_KERNELS),
        Kernel("matmul_warptile", "matmul_warptile.wgsl", _blocked_grid, "ref_matmul",
               includes=(*_TILE_INCLUDES, _SCALAR_STORES), constants=_TILE_CONSTANTS,
               optional=("r", "aux"), aliases=_TILE_ALIASES, trusted=True),
        *_REDUCE_KERNELS,
        # their stream-K entries, which add each element's tile slots (the partial's tiling)
        *(_on_stream_k(k, k.name + "_sk", SKG=0, BM=128, BN=128, BK=8) for k in _REDUCE_KERNELS),
        Kernel(TRANSPOSE, "matmul_transpose.wgsl",
               lambda u: (ceil(u["C"] / 64), ceil(u["R"] / 64), 1), "ref_transpose",
               includes=(), constants={"VEC_IN": 0, "VEC_OUT": 0}, workgroup_bytes=64 * 64 * 4,
               trusted=True, aliases={"src4": "src", "dst4": "dst"}, derive=_transpose_vec4),
        Kernel("layernorm_fwd", "layernorm_fwd.wgsl", _rows, "ref_layernorm_fwd",
               includes=_LN_ROW, workgroup_bytes=256),
        Kernel("embed_ln_fwd", "embed_ln_fwd.wgsl", _rows, "ref_embed_ln_fwd",
               includes=_LN_ROW, workgroup_bytes=256),
        Kernel("layernorm_bwd", "layernorm_bwd.wgsl",
               lambda u: fold(ceil(u["rows"] / 4) + ceil(u["C"] / 4)), "ref_layernorm_bwd",
               constants={"ACCUMULATE": 1}, workgroup_bytes=4 * 256 + 2 * 64 * 4 * 4 + 256),
        Kernel("embed_bwd", "embed_bwd.wgsl",
               lambda u: fold(ceil((u["V"] + u["T"]) * u["C"] / 256)), "ref_embed_bwd"),
        Kernel("attn_naive_fwd", "attn_naive_fwd.wgsl", _attn, "ref_attention_fwd",
               includes=_NAIVE, workgroup_bytes=4 * (1024 + 256 + 64)),
        Kernel("attn_naive_bwd_q", "attn_naive_bwd_q.wgsl", _attn, "ref_attention_bwd",
               includes=_NAIVE, workgroup_bytes=4 * (1024 + 256 + 64)),
        Kernel("attn_naive_bwd_kv", "attn_naive_bwd_kv.wgsl", _attn, "ref_attention_bwd",
               includes=_NAIVE),
        Kernel("attn_fa2_fwd", "attn_fa2_fwd.wgsl", _fa2_grid, "ref_attention_fwd",
               includes=_FA2, constants=_FA2_CONSTANTS, workgroup_bytes=_FA2_BYTES,
               aliases=_FA2_ALIASES, derive=_fa2_shape(forward=True)),
        Kernel("attn_fa2_bwd_q", "attn_fa2_bwd_q.wgsl", _fa2_grid, "ref_attention_bwd",
               includes=_FA2_BWD, constants=_FA2_CONSTANTS, workgroup_bytes=_FA2_BYTES,
               aliases=_FA2_ALIASES, derive=_fa2_shape(forward=False)),
        Kernel("attn_fa2_bwd_kv", "attn_fa2_bwd_kv.wgsl", _fa2_grid, "ref_attention_bwd",
               includes=_FA2_BWD, constants=_FA2_CONSTANTS, workgroup_bytes=_FA2_BYTES + 512,
               aliases=_FA2_ALIASES, derive=_fa2_shape(forward=False)),
        # the subgroup twins: the same files with the lanes added by shuffles (SG = 1 selects them)
        Kernel("attn_fa2_fwd_sg", "attn_fa2_fwd.wgsl", _fa2_grid, "ref_attention_fwd",
               includes=_FA2_SG, constants=_FA2_CONSTANTS, features=("subgroup",),
               workgroup_bytes=_FA2_SG_BYTES, aliases=_FA2_ALIASES),
        Kernel("attn_fa2_bwd_q_sg", "attn_fa2_bwd_q.wgsl", _fa2_grid, "ref_attention_bwd",
               includes=_FA2_BWD_SG, constants=_FA2_CONSTANTS, features=("subgroup",),
               workgroup_bytes=_FA2_SG_BYTES, aliases=_FA2_ALIASES),
        Kernel("attn_fa2_bwd_kv_sg", "attn_fa2_bwd_kv.wgsl", _fa2_grid, "ref_attention_bwd",
               includes=_FA2_BWD_SG, constants=_FA2_CONSTANTS, features=("subgroup",),
               workgroup_bytes=_FA2_SG_BYTES + 512, aliases=_FA2_ALIASES),
        Kernel("xent", "xent.wgsl", _rows, "ref_xent", workgroup_bytes=256),
        Kernel("loss_reduce", "loss_reduce.wgsl", lambda u: (1, 1, 1), "ref_loss_reduce",
               workgroup_bytes=256),
        Kernel("adamw", "adamw.wgsl", lambda u: fold(ceil(u["n"] / 256)), "ref_adamw"),
        # peak probes of the micro-benchmarks (backends/gpu/microbench.py), not model kernels
        # trusted: with naga's loop-bounding counter in its FMA loop the probe read well below
        # the rate of the matmuls it is the ceiling of (results/h200/s8/README.md)
        Kernel("probe_fma", "probe_fma.wgsl", lambda u: fold(ceil(u["n"] / 256)), "ref_probe_fma",
               trusted=True),
        Kernel("probe_copy", "probe_copy.wgsl", lambda u: fold(ceil(u["n4"] / 256)),
               "ref_probe_copy"),
    ]
}

# k-rows per pass (UK) that the tile staging's k_rows (include/matmul_tile_io.wgsl) writes out
UNROLL_MOST = 16


def check_matmul_row(v: MatmulVariant) -> None:
    """A VariantError unless every form of row ``v`` compiles to constants its kernel declares
    and, in the tile cores (built without runtime checks, where a UK that does not divide BK
    reads past the tile buffers and one above what the source writes out skips k-rows), a UK
    that is a power of two up to UNROLL_MOST dividing BK."""
    if not v.kernel:
        return
    if v.stream_k != (v.kernel in STREAM_K.values()) or (v.stream_k and (v.split or v.via_tn)):
        raise VariantError(f"{v.name}: stream-K runs on the matmul_blocked kernels, without "
                           "split-K or via-tn")
    unknown = sorted(set(v.form_constants) - set(FORMS))
    if unknown:
        raise VariantError(f"{v.name}: form_constants for unknown form(s) {unknown}")
    declared = KERNELS[v.kernel].constants  # (check_constants is defined below the rows)
    for form in FORMS:
        given = {**v.constants, **v.form_constants.get(form, {})}
        if set(given) - set(declared):
            raise VariantError(f"{v.name} ({form}): kernel {v.kernel} has no override "
                               f"constant(s) {sorted(set(given) - set(declared))}")
        c = {**declared, **given}
        if "UK" in c:
            if c["UK"] not in (1, 2, 4, 8, 16) or c["UK"] > UNROLL_MOST or c["BK"] % c["UK"]:
                raise VariantError(f"{v.name} ({form}): UK = {c['UK']} must be a power of two "
                                   f"<= {UNROLL_MOST} dividing BK = {c['BK']}")


def _with(base: MatmulVariant, **consts: int) -> MatmulVariant:
    """``base`` with some of its constants changed (checked as every row is)."""
    row = replace(base, constants={**base.constants, **consts})
    check_matmul_row(row)
    return row


def _blocked(name: str, notes: str, split: bool = True, tune: bool = True,
             **tile: int) -> MatmulVariant:
    row = MatmulVariant(name, "matmul_blocked", tile, notes, split=split, tune=tune)
    check_matmul_row(row)
    return row


def _warptile(name: str, notes: str, tune: bool = True, **tile: int) -> MatmulVariant:
    """A matmul_warptile row; its tile must fit the kernel's limits (see its header): 64 x 64
    warp tiles of 32 invocations, each k-tile staged in 1..4 quads of A and of B per invocation."""
    c = {**_TILE_CONSTANTS, **tile}
    bm, bn, bk = c["BM"], c["BN"], c["BK"]
    if bm not in (64, 128, 256) or bn not in (64, 128, 256) or bm * bn > 128 * 256 \
            or bk <= 0 or bk % 4 \
            or not (32 * bk % bn == 0 and 32 * bk % bm == 0 and 32 * bk // bn <= 4
                    and 32 * bk // bm <= 4):
        raise VariantError(f"matmul_warptile tile {bm}x{bn}, BK {bk} out of its limits")
    row = MatmulVariant(name, "matmul_warptile", tile, notes, split=True, tune=tune)
    check_matmul_row(row)
    return row


def _v4(base: MatmulVariant) -> MatmulVariant:
    """``base`` storing each finished output quad as one vec4 (its kernel's "_v4" twin, name +
    "v4"): for N % 4 == 0 only, other calls fall back to ``base``."""
    return replace(base, name=base.name + "v4", kernel=base.kernel + "_v4",
                   accepts=lambda form, M, N, K: vec4_store_ok(N), fallback=base.name,
                   notes=f"{base.name} with vec4 output stores (N % 4 == 0; else {base.name})")


def _os(base: MatmulVariant) -> MatmulVariant:
    """``base`` (a matmul_blocked row) writing its finished tile through workgroup memory
    (kernel matmul_blocked_os, name + "o"); the tile's slab of BM/TM rows, each 4 planes of
    BN/4 + 8 floats, must fit the A tile buffer of [2][BK][BM/4 + 1] vec4."""
    c = {**_BLOCKED_CONSTANTS, **base.constants}
    if c["BM"] // c["TM"] * (c["BN"] // 4 + 8) > 2 * c["BK"] * (c["BM"] // 4 + 1):
        raise VariantError(f"{base.name}: its output slab does not fit the A tile buffer")
    return replace(base, name=base.name + "o", kernel=base.kernel + "_os",
                   notes=f"{base.name} writing its tile through workgroup memory (consecutive "
                   "invocations store consecutive elements of a row)")


def _sk(base: MatmulVariant, tune: bool = False) -> MatmulVariant:
    """``base`` (a matmul_blocked row) under stream-K (name + "sk"); ``tune``: timed by ``auto``
    (at G = 1 and 2 device waves, backends/gpu/autotune.py)."""
    return replace(base, name=base.name + "sk", kernel=STREAM_K[base.kernel], stream_k=True,
                   split=False, tune=tune,
                   notes=f"{base.name} under stream-K: G workgroups (the forced split factor; "
                   "default 2T + 1 for T tiles) share the tiles' k-tiles in equal runs")


def _via_tn(base: MatmulVariant) -> MatmulVariant:
    """``base`` with nn / nt run through transposed operands on the tn path (name + "tr"; of
    ``base``'s per-form constants only the tn form's apply)."""
    tn = {"tn": base.form_constants["tn"]} if "tn" in base.form_constants else {}
    return replace(base, name=base.name + "tr", via_tn=True, form_constants=tn,
                   notes=f"{base.name} with nn / nt operands transposed into scratch first "
                   "(matmul_transpose), so every form runs the tn tile path")


_B128 = _blocked("b128", "128x128 tile, 256 invocations with 8x8 outputs, k-tiles of 8",
                 BM=128, BN=128, BK=8)
_B64 = _blocked("b64", "64x64 tile, 256 invocations with 4x4 outputs, k-tiles of 16",
                BM=64, BN=64, BK=16, TM=4, TN=4)
_B64T8 = _blocked("b64t8", "64x64 tile, 64 invocations with 8x8 outputs, k-tiles of 4",
                  BM=64, BN=64, BK=4)
# b128t84's k-loop written out in the source (UK): the whole k-tile on the tn path, where it ran
# ahead of the driver's own unrolling at every step shape on the H200; 8 k-rows per pass (the
# staged write) or the driver's choice on the K-contiguous staging of nn / nt, where 16 ran
# behind (results/h200/s12/README.md)
_B128T84 = replace(
    _blocked("b128t84", "128x128 tile, 512 invocations with 8x4 outputs, k-tiles of 16 (UK 16 on "
             "the tn path)", BM=128, BN=128, BK=16, TN=4, UK=16),
    form_constants={"nn": {"UK": 1}, "nt": {"UK": 1}})
_B128T84O = replace(_os(_B128T84), form_constants={"nn": {"UK": 8}, "nt": {"UK": 8}})
# untimed, for the parity tests (see the table below)
_B64O = replace(_os(_with(_B64, UK=16)), tune=False, form_constants={"nn": {"UK": 2}})
_B128X64 = _blocked("b128x64", "128x64 tile, 128 invocations with 8x8 outputs, k-tiles of 8: "
                    "twice b128's workgroups on grids with a narrow side", BM=128, BN=64, BK=8)
_B64X128 = _blocked("b64x128", "64x128 tile, 128 invocations with 8x8 outputs, k-tiles of 8",
                    BM=64, BN=128, BK=8)
_W128 = _warptile("w128", "warp-tiled 128x128 tile: 4 warps of 64x64, 128 invocations with 8x16 "
                  "outputs, k-tiles of 8", BM=128, BN=128, BK=8)
_W128K4 = _warptile("w128k4", "warp-tiled 128x128 tile: 4 warps of 64x64, 128 invocations with "
                    "8x16 outputs, k-tiles of 4 (half w128's prefetch registers)",
                    BM=128, BN=128, BK=4)
_W128K16 = _warptile("w128k16", "warp-tiled 128x128 tile: 4 warps of 64x64, 128 invocations with "
                     "8x16 outputs, k-tiles of 16", tune=False, BM=128, BN=128, BK=16)

MATMULS: dict[str, MatmulVariant] = {
    v.name: v
    for v in [
        MatmulVariant(
            "tiled16", "matmul_tiled16", tune=True,
            notes="baseline: 16x16 shared-memory tiles, one output per invocation, any shape",
        ),
        _B128,
        # never near the best candidate at a mega / behemoth step shape or 4096^3 on the H200
        # (results/h200/s7/README.md): not timed by ``auto`` (fewer pipelines to build and time
        # on a cold cache), selectable and under the parity tests
        _blocked("b128k16", "128x128 tile, 256 invocations with 8x8 outputs, k-tiles of 16",
                 tune=False, BM=128, BN=128, BK=16),
        _B64,
        _B64T8,
        _B128T84,
        _B128X64,
        _B64X128,
        *(_via_tn(v) for v in (_B128, _B128T84)),  # twins of b64, b64t8: picked nowhere (README)
        # the tile written through workgroup memory: picked on the H200 for the short-K narrow
        # nn / nt products and the split tn products (results/h200/s11/, s12/README.md)
        _B128T84O,
        # the staged write on the tn path for nn / nt too: ahead of every other row at most nn /
        # nt step shapes on the H200 (results/h200/s12/README.md)
        _via_tn(_B128T84O),
        # not timed by ``auto`` (the staged write slowed the 8x8-output tiles on the H200, and
        # b64's is within a few percent of b64v4: results/h200/s11/README.md); kept so the
        # staged write's 8 x 8 and 4 x 4 output paths stay under the parity tests on adapters
        # with 32 KiB of workgroup memory (b128t84o needs 33 KiB)
        # they also keep the source-unrolled k-loops (UK) of the blocked core under those tests,
        # with a per-form UK in b64o
        replace(_os(_with(_B128X64, UK=8)), tune=False),
        _B64O,
        # stream-K: b128t84's v4 and staged-write rows are timed by ``auto`` (at one device wave
        # the v4 row ran the long-K tn step shapes ahead of split-K's best and of the staged
        # write on the H200, the plain write behind both: results/h200/s13/README.md); b64's
        # three writes are not timed (parity on adapters with 32 KiB of workgroup memory)
        _sk(_B128T84O, tune=True),
        _sk(_B128T84),
        _v4(_sk(_B128T84, tune=True)),
        _sk(_B64),
        _v4(_sk(_B64)),
        _sk(_B64O),
        # v4 twins of the via-tn rows lost to b128tr / b128t84tr wherever those win, and to the
        # direct v4 rows elsewhere (results/h200/s7/study-trv4): none
        *(_v4(v) for v in (_B128, _B128T84, _B64, _B128X64, _B64X128)),
        _W128,
        _W128K16,  # not timed by ``auto``, as b128k16
        _via_tn(_W128),  # w128k16tr, measured with them, was picked nowhere
        _W128K4,
        _via_tn(_W128K4),
        # v4 twins of w128 / w128tr lost to the best candidate at every step shape and 4096^3
        # (results/h200/s8/README.md): none
        # picked nowhere on the H200 (results/h200-matmul-w): not timed by ``auto``, kept so the
        # kernel's 64- and 256-wide tile paths stay selectable and under the parity tests
        # (with the warp-tile core's source-unrolled k-loops, UK 8 and 2, under those tests)
        _warptile("w64", "warp-tiled 64x64 tile, one warp of 32 invocations with 8x16 outputs, "
                  "k-tiles of 8, UK 8", tune=False, BM=64, BN=64, BK=8, UK=8),
        _warptile("w128x256", "warp-tiled 128x256 tile: 8 warps of 64x64, 256 invocations with "
                  "8x16 outputs, k-tiles of 8, UK 2", tune=False, BM=128, BN=256, BK=8, UK=2),
        MatmulVariant(
            "splitk", "matmul_blocked", {"BM": 64, "BN": 64, "BK": 16, "TM": 4, "TN": 4},
            notes="b64, with the weight gradients (tn) of small tile grids and long K split "
            "over K (splitk_splits): partial tiles into a scratch [S, M, N], then a fixed-order "
            "reduce that applies the epilogue (deterministic, no atomics)",
            split=True, splits=splitk_splits,
        ),
        MatmulVariant(
            "auto",
            notes="per call, the fastest candidate (variant and split-K factor) measured on this "
            "device (backends/gpu/autotune.py, cached on disk); where it cannot measure, the rule "
            "of matmul_rules.auto_matmul; the choices are in describe()['matmul_choices']",
            choose=auto_matmul,
        ),
    ]
}

for _row in MATMULS.values():  # replace()d rows and their twins pass the same check
    check_matmul_row(_row)


ATTENTIONS: dict[str, AttentionVariant] = {
    v.name: v
    for v in [
        AttentionVariant(
            "naive",
            forward="attn_naive_fwd",
            backward=("attn_naive_bwd_q", "attn_naive_bwd_kv"),
            saved={"probs": "BHTT"},
            scratch={"dscores": "BHTT"},
            max_seq_len=1024,  # MAX_T: one score row in workgroup memory
            max_head_dim=256,  # MAX_HD: one q / dO row in workgroup memory
            notes="scores materialised [B,H,T,T]; one workgroup per query row",
        ),
        AttentionVariant(
            "fa2",
            forward="attn_fa2_fwd",
            backward=("attn_fa2_bwd_q", "attn_fa2_bwd_kv"),  # dQ also writes delta for dK/dV
            saved={"lse": "BHT"},
            scratch={"delta": "BHT"},
            max_seq_len=16 * MAX_GROUPS,  # ceil(T / 16) blocks of 64 / G >= 16 rows on grid y
            max_head_dim=32 * FA2_LANES[-1],  # MAX_HD: 4 lanes of 8 vec4 chunks per row
            notes="FlashAttention-2: every kernel keeps 64 / G rows per workgroup of 64 in "
            "registers (G = ceil(hd / 32) lanes per row, so one invocation per row at hd <= 32: "
            "dot products and softmax need no other invocation; more lanes where that leaves "
            "few workgroups) and streams the other side through workgroup memory as vec4 tiles "
            "of 16 rows read as broadcasts, ST tiles per 2 barriers (one more per tile when "
            "G > 1, none with the device's subgroup shuffles, which at long sequences and "
            "hd 17..64 also carry two rows per invocation over 2G lanes); forward with an online "
            "softmax, one log-sum-exp per query row; backward recomputes P from it: dQ "
            "(+ delta = rowsum(dO*O)) over key tiles, "
            "then dK/dV over query tiles; head_dim specialised by override constants; causal "
            "tiles above the diagonal skipped, heaviest blocks first; O(T) extra memory, "
            "no atomics",
        ),
    ]
}

# Matmul epilogues (EPILOGUE override constant), see include/matmul_common.wgsl and
# include/matmul_out.wgsl.
EPILOGUES: dict[str, int] = {"store": 0, "add": 1, "gelu": 2, "gelu_bwd": 3, "accumulate": 4}


def _lookup(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise VariantError(
            f"unknown {what} {name!r}; known: {', '.join(sorted(table))}"
        ) from None


def kernel(name: str) -> Kernel:
    return _lookup(KERNELS, name, "kernel")


def matmul_variant(name: str) -> MatmulVariant:
    return _lookup(MATMULS, name, "matmul variant")


def compiled_row(name: str, constants: dict[str, int]) -> Kernel:
    """The registry row whose WGSL a call of kernel ``name`` with ``constants`` compiles: its
    subgroup twin where the row has one and SG = 1, else the row itself."""
    twin = name + SUBGROUP_TWIN
    if constants.get("SG") == 1 and twin in KERNELS:
        return KERNELS[twin]
    return kernel(name)


def attention_variant(name: str) -> AttentionVariant:
    return _lookup(ATTENTIONS, name, "attention variant")


def variants() -> dict[str, list[str]]:
    """Selectable variants by kind, for ``bench`` listings."""
    return {"matmul": sorted(MATMULS), "attention": sorted(ATTENTIONS)}


def check_constants(name: str, constants: dict[str, int]) -> dict[str, int]:
    """Defaults overlaid with ``constants``; a name the kernel does not declare is rejected."""
    k = kernel(name)
    unknown = sorted(set(constants) - set(k.constants))
    if unknown:
        known = ", ".join(sorted(k.constants)) or "none"
        raise VariantError(f"kernel {name} has no override constant(s) {unknown}; known: {known}")
    return {**k.constants, **constants}


