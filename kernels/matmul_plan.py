"""How one matmul call runs: the variant's choice, shape rule, fallback, vec4 loads, split-K.

Decided here and only here: the GPU backend, the micro-benchmarks, the autotuner and the tests all
call ``plan_matmul``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels.matmul_rules import SPLITK_REDUCE, SPLITK_REDUCE_V4, vec4_ok, vec4_store_ok
from kernels.registry import FORMS, MatmulVariant, VariantError, kernel, matmul_variant

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
        if self.workgroups:
            return f"{self.ran} sk{self.workgroups}"
        return self.ran + (f" split{self.splits}" if self.splits > 1 else "")


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
    split-K factor (tests, the autotuner's candidates)."""
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
    groups = 0
    if v.stream_k and K > 0:
        tiles = _tiles(v, M, N)
        groups = int(splits) if splits is not None else 2 * tiles + 1
        if groups < 1:
            raise VariantError(f"matmul {v.name}: stream-K needs one workgroup or more")
        bk = {**kernel(v.kernel).constants, **v.constants}["BK"]
        bm, bn = v.tile
        splits = stream_k_slots(M, N, K, bm, bn, bk, groups)
    elif splits is None or v.stream_k:
        splits = v.splits(form, M, N, K) if v.splits is not None else 1
    elif splits > 1 and not v.split:
        raise VariantError(f"matmul {v.name} has no split-K path")
    transposes = _TRANSPOSED[form] if v.via_tn else ()
    runs = "tn" if v.via_tn else form
    consts = {**FORMS[runs], **v.constants, **v.form_constants.get(runs, {})}
    declared = kernel(v.kernel).constants
    if "VEC" in declared:
        consts["VEC"] = int(vec4_ok(runs, M, N, K))
    if groups:  # SPLITS >= 2 sends the partial kernel's stores to the scratch
        consts["SKG"] = groups
        consts["SPLITS"] = max(2, splits)
    if splits > 1:
        consts["SPLITS"] = int(splits)
    reduce = None
    if splits > 1 or groups:
        reduce = SPLITK_REDUCE_V4 if vec4_store_ok(N) else SPLITK_REDUCE
        reduce += "_sk" if groups else ""
    return MatmulPlan(asked, v.name, v.kernel, consts, int(splits), tuple(fell), transposes,
                      reduce, groups)


def _tiles(v: MatmulVariant, M: int, N: int) -> int:
    bm, bn = v.tile
    return -(-M // bm) * -(-N // bn)
