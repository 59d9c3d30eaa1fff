"""How one matmul call runs: the variant's choice, shape rule, fallback, vec4 loads, split-K.

Decided here and only here: the GPU backend, the micro-benchmarks, the autotuner and the tests all
call ``plan_matmul``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels.matmul_rules import (
    SPLIT_MAX_SCRATCH,
    SPLITK_REDUCE,
    SPLITK_REDUCE_V4,
    vec4_ok,
    vec4_store_ok,
)
from kernels.registry import FORMS, MAX_GROUPS, MatmulVariant, VariantError, kernel, matmul_variant

# The operands a via-tn row transposes per form: those the form stores k-contiguous.
_TRANSPOSED = {"nn": ("a",), "nt": ("a", "b"), "tn": ()}


@dataclass(frozen=True)
class MatmulPlan:
    """How one matmul call runs: the kernel(s), constants, and what decided it."""

    variant: str  # the variant asked for
    ran: str  # the variant that runs the call (after ``auto`` and fallbacks)
    kernel: str  # the one kernel, or the split-K partial kernel
    constants: dict[str, int]  # form and tile constants (TRANS_A, BM, VEC, SPLITS, ...)
    splits: int = 1
    fallbacks: tuple[str, ...] = ()  # "picky->tiled16", ...
    # operands transposed into scratch before the matmul, which then runs the tn form on them
    # (a via-tn row: "a" for nn, "a" and "b" for nt, none for tn)
    transposes: tuple[str, ...] = ()
    # the split-K reduce kernel (None in one pass): its vec4 twin where N % 4 == 0
    reduce: str | None = None
    # stream-K: the number of workgroups G (0: not stream-K; ``splits`` is then the slots)
    workgroups: int = 0

    @property
    def label(self) -> str:
        """What ran, as describe()["matmul_choices"] shows it: ``b128``, ``b64 split4``,
        ``b64sk sk9``."""
        return run_label(self.ran, bool(self.workgroups), self.workgroups or self.splits)


def factor_label(stream_k: bool, splits: int) -> str:
    """How a split factor reads in labels and messages: ``skG`` for a stream-K row's G,
    ``splitS`` for a split-K factor above 1, else nothing."""
    if stream_k:
        return f"sk{splits}"
    return f"split{splits}" if splits > 1 else ""


def run_label(variant: str, stream_k: bool, splits: int) -> str:
    """``variant`` with its split factor: ``b128``, ``b64 split4``, ``b64sk sk9``."""
    factor = factor_label(stream_k, splits)
    return f"{variant} {factor}" if factor else variant


def stream_k_slots(M: int, N: int, K: int, bm: int, bn: int, bk: int, groups: int) -> int:
    """The most workgroups any BM x BN tile's run of k-tiles spans when ``groups`` workgroups
    share the T * KT k-tiles in equal runs of P = ceil(T * KT / groups) (matmul_blocked's
    stream_k): the slots of the scratch [slots, M, N]."""
    tiles = -(-M // bm) * -(-N // bn)
    kt = -(-K // bk)
    per = -(-tiles * kt // groups)
    return max(((t + 1) * kt - 1) // per - t * kt // per + 1 for t in range(tiles))


def plan_matmul(
    name: str | MatmulVariant, form: str, M: int, N: int, K: int, splits: int | None = None
) -> MatmulPlan:
    """The plan of variant ``name`` (or a variant row) for one call; ``splits`` forces the
    split-K factor (tests, the autotuner's candidates), or for a stream-K row the number of
    workgroups G (default 2T + 1 for T tiles)."""
    v = matmul_variant(name) if isinstance(name, str) else name
    asked = v.name
    if v.choose is not None:
        chosen, chosen_splits = v.choose(form, M, N, K)
        v = matmul_variant(chosen)
        splits = chosen_splits if splits is None else splits
    fell = []
    while not v.accepts(form, M, N, K):
        if v.fallback is None:
            raise VariantError(f"matmul {v.name} cannot run {form} {M}x{N}x{K} and has no "
                               "fallback")
        fell.append(f"{v.name}->{v.fallback}")
        v = matmul_variant(v.fallback)
    transposes = _TRANSPOSED[form] if v.via_tn else ()
    runs = "tn" if v.via_tn else form
    consts = {**FORMS[runs], **v.constants, **v.form_constants.get(runs, {})}
    declared = kernel(v.kernel).constants
    groups = 0
    if v.stream_k:
        tile = {**declared, **consts}  # the tiling the kernel runs, per-form constants included
        groups = int(splits) if splits is not None else \
            2 * -(-M // tile["BM"]) * -(-N // tile["BN"]) + 1
        splits = _stream_k_checked(v.name, M, N, K, tile, groups)
        consts["SKG"] = groups
        consts["SPLITS"] = max(2, splits)  # SPLITS >= 2 sends the stores to the scratch
    elif splits is None:
        splits = v.splits(form, M, N, K) if v.splits is not None else 1
    elif splits > 1 and not v.split:
        raise VariantError(f"matmul {v.name} has no split-K path")
    if "VEC" in declared:
        consts["VEC"] = int(vec4_ok(runs, M, N, K))
    if splits > 1 and not groups:
        consts["SPLITS"] = int(splits)
    reduce = None
    if splits > 1 or groups:
        reduce = SPLITK_REDUCE_V4 if vec4_store_ok(N) else SPLITK_REDUCE
        reduce += "_sk" if groups else ""
    return MatmulPlan(asked, v.name, v.kernel, consts, int(splits), tuple(fell), transposes,
                      reduce, groups)


def _stream_k_checked(name: str, M: int, N: int, K: int, tile: dict[str, int],
                      groups: int) -> int:
    """The scratch slots of a stream-K call of row ``name`` with ``groups`` workgroups, or a
    VariantError where it cannot run: an empty product, fewer than one or more than 65535
    workgroups (one grid dimension), or a scratch over ``SPLIT_MAX_SCRATCH``."""
    if min(M, N, K) < 1:
        raise VariantError(f"matmul {name}: stream-K needs M, N, K >= 1; got {M}x{N}x{K}")
    if not 1 <= groups <= MAX_GROUPS:
        raise VariantError(f"matmul {name}: stream-K runs 1..{MAX_GROUPS} workgroups; got "
                           f"{groups}")
    slots = stream_k_slots(M, N, K, tile["BM"], tile["BN"], tile["BK"], groups)
    if 4 * slots * M * N > SPLIT_MAX_SCRATCH:
        raise VariantError(f"matmul {name}: {groups} workgroups need {slots} partial tiles per "
                           f"output, a scratch over {SPLIT_MAX_SCRATCH >> 20} MiB")
    return slots
