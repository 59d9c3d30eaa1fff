"""How one matmul call runs: the variant's choice, shape rule, fallback and split-K factor.

Decided here and only here: the GPU backend, the micro-benchmarks and the tests all call
``plan_matmul``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels.matmul_rules import SPLITK_REDUCE
from kernels.registry import VariantError, matmul_variant


@dataclass(frozen=True)
class MatmulPlan:
    """How one matmul call runs: the kernel(s), constants, and what decided it."""

    variant: str  # the variant asked for
    ran: str  # the variant that runs the call (after ``auto`` and fallbacks)
    kernel: str  # one-pass kernel, or the split-K partial kernel
    constants: dict[str, int]  # form constants (TRANS_A / TRANS_B), plus SPLITS when split
    splits: int = 1
    fallbacks: tuple[str, ...] = ()  # "vec4->blocked8x8", ...

    @property
    def reduce(self) -> str | None:
        return SPLITK_REDUCE if self.splits > 1 else None


def plan_matmul(
    name: str, form: str, M: int, N: int, K: int, splits: int | None = None
) -> MatmulPlan:
    """The plan of variant ``name`` for one call; ``splits`` forces the split-K factor (tests)."""
    v = matmul_variant(name)
    if v.choose is not None:
        v = matmul_variant(v.choose(form, M, N, K))
    fell = []
    while not v.accepts(form, M, N, K):
        if v.fallback is None:
            raise VariantError(f"matmul {v.name} cannot run {form} {M}x{N}x{K} and has no "
                               "fallback")
        fell.append(f"{v.name}->{v.fallback}")
        v = matmul_variant(v.fallback)
    if splits is None:
        splits = v.splits(form, M, N, K) if v.splits is not None else 1
    elif splits > 1 and v.splitk is None:
        raise VariantError(f"matmul {v.name} has no split-K kernel")
    kernel, consts = v.forms[form]
    if splits > 1:
        kernel, consts = v.splitk, {**consts, "SPLITS": int(splits)}
    return MatmulPlan(name, v.name, kernel, dict(consts), int(splits), tuple(fell))
