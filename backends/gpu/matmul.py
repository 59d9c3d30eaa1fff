"""Recording one matmul call into a graph, as ``kernels.matmul_plan.plan_matmul`` says it runs.

A one-pass plan is one dispatch. A split-K plan is two: the partial kernel writes its SPLITS
partial tiles into a scratch buffer [SPLITS, M, N], then the reduce kernel adds them in a fixed
order and applies the epilogue. The scratch is shared by every split call of a graph (they run one
after another): ``SplitScratch`` collects the calls while the graph is recorded and is allocated,
at the size of the largest, before the graph is finalized (bind groups are made then).
"""

from __future__ import annotations

from backends.gpu.buffers import BufferPool, View
from backends.gpu.graph import Dispatch, Graph
from kernels import matmul_plan, registry


class SplitScratch:
    """The split-K scratch of one graph: users recorded first, one buffer allocated after."""

    def __init__(self, name: str = "splitk_scratch") -> None:
        self.name = name
        self.floats = 0
        self._users: list[tuple[Dispatch, str, int]] = []  # (dispatch, binding, floats)
        self.view: View | None = None

    def use(self, d: Dispatch, binding: str, floats: int) -> None:
        self.floats = max(self.floats, floats)
        self._users.append((d, binding, floats))

    def allocate(self, pool: BufferPool) -> View | None:
        """Allocate (if any call needs it) and bind into every recorded user's views."""
        if not self._users:
            return None
        self.view = pool.floats(self.name, self.floats)
        for d, binding, floats in self._users:
            d.views[binding] = View(self.view.buffer, 0, 4 * floats)
        return self.view


def record_matmul(
    graph: Graph,
    plan: matmul_plan.MatmulPlan,
    form: str,
    views: dict[str, View],
    M: int,
    N: int,
    K: int,
    epilogue: str = "store",
    scratch: SplitScratch | None = None,
) -> list[Dispatch]:
    """Add the dispatch(es) of ``plan`` computing C = epilogue(op(A) @ op(B)) to ``graph``.

    ``views`` holds a, b, c and, as the epilogue needs, r and aux. Labels are ``kernel:form``.
    """
    dims = {"M": M, "N": N, "K": K}
    epi = {"EPILOGUE": registry.EPILOGUES[epilogue]}
    if plan.splits == 1:
        return [graph.add(plan.kernel, views, dims, constants={**plan.constants, **epi},
                          label=f"{plan.kernel}:{form}")]
    if scratch is None:
        raise ValueError("a split-K matmul needs a SplitScratch")
    S = {"SPLITS": plan.splits}
    part = graph.add(plan.kernel, {"a": views["a"], "b": views["b"]}, dims,
                     constants=plan.constants, label=f"{plan.kernel}:{form}")
    scratch.use(part, "c", plan.splits * M * N)
    rest = {k: v for k, v in views.items() if k not in ("a", "b")}
    red = graph.add(plan.reduce, rest, dims, constants={**S, **epi},
                    label=f"{plan.reduce}:{form}")
    scratch.use(red, "part", plan.splits * M * N)
    return [part, red]
