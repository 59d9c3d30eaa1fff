"""Recording one matmul call into a graph, as ``kernels.matmul_plan.plan_matmul`` says it runs.

A one-pass plan is one dispatch. A split-K plan is two: the partial kernel writes its SPLITS
partial tiles into a scratch buffer [SPLITS, M, N], then the reduce kernel adds them in a fixed
order and applies the epilogue (a stream-K plan likewise, its partial tiles in SPLITS slots).
A via-tn plan first transposes the operand(s) its form reads along k into scratch ([K, M] for A,
[K, N] for B) and runs the tn form on those. Each scratch role is one buffer shared by every call
of a graph (they run one after another): ``MatmulScratch`` collects the calls while the graph is
recorded and allocates each role, at the size of its largest user, before the graph is finalized
(bind groups are made then).
"""

from __future__ import annotations

from backends.gpu.buffers import BufferPool, View
from backends.gpu.graph import Dispatch, Graph
from kernels import matmul_plan, matmul_rules, registry

ROLES = ("split", "a_t", "b_t")  # split-K partial tiles; transposed A; transposed B


class MatmulScratch:
    """The matmul scratch of one graph, per role: users recorded first, buffers allocated after."""

    def __init__(self, name: str = "matmul_scratch") -> None:
        self.name = name
        self.floats: dict[str, int] = {}  # role -> floats of its largest user
        self._users: list[tuple[str, Dispatch, str, int]] = []  # (role, dispatch, binding, floats)
        self.views: dict[str, View] = {}

    def use(self, role: str, d: Dispatch, binding: str, floats: int) -> None:
        if role not in ROLES:
            raise ValueError(f"matmul scratch role {role!r} unknown; known: {', '.join(ROLES)}")
        self.floats[role] = max(self.floats.get(role, 0), floats)
        self._users.append((role, d, binding, floats))

    def allocate(self, pool: BufferPool) -> dict[str, View]:
        """Allocate each role some call needs and bind it into every recorded user's views."""
        for role, floats in self.floats.items():
            self.views[role] = pool.floats(f"{self.name}.{role}", floats)
        for role, d, binding, floats in self._users:
            # whole vec4s: a kernel's vec4 alias of the view needs at least one (the buffer,
            # rounded up to 16 bytes at allocation, holds that)
            d.views[binding] = View(self.views[role].buffer, 0, 16 * -(-floats // 4))
        return self.views


def record_matmul(
    graph: Graph,
    plan: matmul_plan.MatmulPlan,
    form: str,
    views: dict[str, View],
    M: int,
    N: int,
    K: int,
    epilogue: str = "store",
    scratch: MatmulScratch | None = None,
) -> list[Dispatch]:
    """Add the dispatch(es) of ``plan`` computing C = epilogue(op(A) @ op(B)) to ``graph``.

    ``views`` holds a, b, c and, as the epilogue needs, r and aux. Labels are ``kernel:form``.
    """
    if (plan.splits > 1 or plan.workgroups or plan.transposes) and scratch is None:
        raise ValueError("a split-K, stream-K or via-tn matmul needs a MatmulScratch")
    dims = {"M": M, "N": N, "K": K}
    epi = {"EPILOGUE": registry.EPILOGUES[epilogue]}
    out: list[Dispatch] = []
    ab = {"a": views["a"], "b": views["b"]}
    for operand in plan.transposes:  # stored [M, K] (a) / [N, K] (b), wanted [K, M] / [K, N]
        rows = M if operand == "a" else N
        t = graph.add(matmul_rules.TRANSPOSE, {"src": views[operand]}, {"R": rows, "C": K},
                      label=f"{matmul_rules.TRANSPOSE}:{form}")
        scratch.use(f"{operand}_t", t, "dst", rows * K)
        out.append(t)
    if plan.splits == 1 and not plan.workgroups:
        d = graph.add(plan.kernel, {**views, **ab}, dims, constants={**plan.constants, **epi},
                      label=f"{plan.kernel}:{form}")
        parts = [d]
    else:
        part = graph.add(plan.kernel, dict(ab), dims, constants=plan.constants,
                         label=f"{plan.kernel}:{form}")
        scratch.use("split", part, "c", plan.splits * M * N)
        rest = {k: v for k, v in views.items() if k not in ("a", "b")}
        tile = {}
        if plan.workgroups:  # the reduce finds each element's slots from the partial's tiling
            full = {**registry.kernel(plan.kernel).constants, **plan.constants}
            tile = {k: full[k] for k in ("SKG", "BM", "BN", "BK")}
        red = graph.add(plan.reduce, rest, dims,
                        constants={"SPLITS": plan.splits, **tile, **epi},
                        label=f"{plan.reduce}:{form}")
        scratch.use("split", red, "part", plan.splits * M * N)
        parts = [part, red]
    for operand in plan.transposes:
        rows = M if operand == "a" else N
        scratch.use(f"{operand}_t", parts[0], operand, rows * K)
    return out + parts
