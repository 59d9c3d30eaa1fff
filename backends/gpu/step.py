"""The training step of the GPT as a graph of registry kernels over pooled buffers.

Shapes: N = B*T rows, C = d_model, V = vocab. Activations kept for the backward, per layer l:
X[2l] (block input), H1 (ln1 out), S1 (ln1 mean/rstd), QKV [N,3C], attention's saved buffers,
ATT [N,C], X[2l+1], H2, S2, U (fc pre-activation) [N,4C], G (gelu) [N,4C]; X[2L] feeds lnf.
The backward keeps the residual stream's gradient in one buffer DX: each LayerNorm backward adds
its branch's input gradient into it. Every weight gradient is *stored* by the one matmul that
makes it (each weight is used once), except wte (tied): the unembedding stores it and the
embedding backward adds to it. So no gradient zeroing pass is needed; grads start zeroed.

Dispatches per step with naive attention: 4 + 7L forward (the embedding and the first ln1 are
one kernel), 4 + 12L backward (each LayerNorm backward is one kernel), 1 AdamW = 9 + 19L
(L = n_layer): 28 at micro, 85 at medium;
plus one per matmul the plan runs as split-K (the reduce), e.g. the 1 + 4L weight gradients at
medium with matmul "splitk" or "auto", and one per operand a via-tn plan transposes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backends.base import BackendError
from backends.gpu.buffers import ALIGN, BufferPool, FlatLayout, View, aligned
from backends.gpu.graph import Dispatch, Graph
from backends.gpu.matmul import MatmulScratch, record_matmul
from backends.gpu.pipelines import Pipelines
from backends.model import LN_EPS, ModelConfig, param_shapes
from kernels import matmul_plan, registry


def size_of(expr: str, config: ModelConfig) -> int:
    """Elements of a buffer described by letters: B, H, T, D (head_dim), C (d_model)."""
    dims = {
        "B": config.batch,
        "H": config.n_head,
        "T": config.seq_len,
        "D": config.head_dim,
        "C": config.d_model,
    }
    return int(np.prod([dims[ch] for ch in expr]))


def activation_sizes(config: ModelConfig, attention: registry.AttentionVariant) -> dict[str, int]:
    """Floats of every activation/scratch buffer the step allocates (for the limit checks)."""
    B, T, C, L, V = config.batch, config.seq_len, config.d_model, config.n_layer, config.vocab
    N = B * T
    sizes = {f"X{i}": N * C for i in range(2 * L + 1)}
    for li in range(L):
        sizes.update(
            {
                f"h{li}.H1": N * C,
                f"h{li}.S1": 2 * N,
                f"h{li}.QKV": 3 * N * C,
                f"h{li}.ATT": N * C,
                f"h{li}.H2": N * C,
                f"h{li}.S2": 2 * N,
                f"h{li}.U": 4 * N * C,
                f"h{li}.G": 4 * N * C,
            }
        )
        for name, expr in attention.saved.items():
            sizes[f"h{li}.{name}"] = size_of(expr, config)
    sizes.update(
        {
            "HF": N * C,
            "SF": 2 * N,
            "LOGITS": N * V,
            "LOSSES": N,
            "LOSS": 4,
            "DX": N * C,
            "DH": N * C,
            "DU": 4 * N * C,
            "DATT": N * C,
            "DQKV": 3 * N * C,
        }
    )
    for name, expr in attention.scratch.items():
        sizes[name] = size_of(expr, config)
    return sizes


@dataclass
class Batch:
    """Layout of the per-step u32 upload: tokens, targets, order, offsets (aligned sections)."""

    n: int
    vocab: int
    offsets: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def __post_init__(self) -> None:
        pos = 0
        for name, size in (
            ("tokens", self.n),
            ("targets", self.n),
            ("order", self.n),
            ("offsets", self.vocab + 1),
        ):
            self.offsets[name] = pos
            pos = aligned(pos + size, ALIGN)
        self.total = pos

    def pack(self, tokens: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The whole upload: ``pack_head`` then ``pack_tail``."""
        return np.concatenate([self.pack_head(tokens, targets), self.pack_tail(tokens)])

    @property
    def tail_at(self) -> int:
        """Where the tail (order, offsets: read only by the embedding backward) starts, in u32."""
        return self.offsets["order"]

    def pack_head(self, tokens: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Tokens and targets as u32 (the part of the upload the forward reads)."""
        data = np.zeros(self.tail_at, np.uint32)
        o = self.offsets
        data[o["tokens"] : o["tokens"] + self.n] = tokens.reshape(-1)
        data[o["targets"] : o["targets"] + self.n] = targets.reshape(-1)
        return data

    def pack_tail(self, tokens: np.ndarray) -> np.ndarray:
        """The positions grouped by token (a stable sort) and each token's first index in them."""
        tok = tokens.reshape(-1)
        data = np.zeros(self.total - self.tail_at, np.uint32)
        o = {k: v - self.tail_at for k, v in self.offsets.items() if v >= self.tail_at}
        # ids are < vocab (checked by check_batch): as u16, numpy's stable sort is a radix sort
        data[o["order"] : o["order"] + self.n] = np.argsort(tok.astype(np.uint16), kind="stable")
        counts = np.bincount(tok, minlength=self.vocab)
        data[o["offsets"] + 1 : o["offsets"] + self.vocab + 1] = np.cumsum(counts)
        return data

    def view(self, buffer_view: View, name: str) -> View:
        size = self.n if name != "offsets" else self.vocab + 1
        return View(buffer_view.buffer, 4 * self.offsets[name], 4 * size)


class StepGraph:
    """Buffers and dispatches of one training step for ``config``."""

    def __init__(
        self,
        config: ModelConfig,
        pool: BufferPool,
        pipelines: Pipelines,
        matmul: registry.MatmulVariant,
        attention: registry.AttentionVariant,
        dummies: dict[str, View],
    ) -> None:
        self.config = config
        self.matmul_variant = matmul
        self.attention = attention
        self.layout = FlatLayout(param_shapes(config))
        n = self.layout.total
        self.params = pool.floats("params", n)
        self.grads = pool.floats("grads", n)
        self.m = pool.floats("adam_m", n)
        self.v = pool.floats("adam_v", n)
        self.batch = Batch(config.tokens, config.vocab)
        self.batch_buf = pool.alloc("batch", 4 * self.batch.total)
        self.act = {
            name: pool.floats(name, size)
            for name, size in activation_sizes(config, attention).items()
        }
        self.graph = Graph(pipelines, dummies, f"step.{config.label()}")
        self.fallbacks: list[str] = []  # matmul calls a variant's shape rule sent elsewhere
        self.choices: dict[str, str] = {}  # "form MxNxK" -> the variant (and split) that runs it
        self.scratch = MatmulScratch()
        self._build()
        self.scratch.allocate(pool)
        self.graph.finalize()

    # views ---------------------------------------------------------------------------------
    def P(self, name: str) -> View:
        return View(self.params.buffer, 4 * self.layout.offsets[name], 4 * self.layout.size(name))

    def G(self, name: str) -> View:
        return View(self.grads.buffer, 4 * self.layout.offsets[name], 4 * self.layout.size(name))

    def B(self, name: str) -> View:
        return self.batch.view(self.batch_buf, name)

    # recording helpers ---------------------------------------------------------------------
    def mm(
        self,
        form: str,
        a: View,
        b: View,
        c: View,
        M: int,
        N: int,
        K: int,
        epilogue: str = "store",
        r: View | None = None,
        aux: View | None = None,
    ) -> None:
        try:
            plan = matmul_plan.plan_matmul(self.matmul_variant, form, M, N, K)
        except registry.VariantError as e:
            raise BackendError(str(e)) from None
        shape = f"{form} {M}x{N}x{K}"
        for f in plan.fallbacks:
            self.fallbacks.append(f"{f} {shape}")
        self.choices[shape] = plan.label
        views = {"a": a, "b": b, "c": c}
        if r is not None:
            views["r"] = r
        if aux is not None:
            views["aux"] = aux
        record_matmul(self.graph, plan, form, views, M, N, K, epilogue, self.scratch)

    def ln_fwd(self, x: View, pre: str, y: View, stats: View) -> None:
        c = self.config
        self.graph.add(
            "layernorm_fwd",
            {"x": x, "g": self.P(pre + ".g"), "bias": self.P(pre + ".b"), "y": y, "stats": stats},
            {"rows": c.tokens, "C": c.d_model, "eps": LN_EPS},
        )

    def ln_bwd(self, x: View, stats: View, pre: str, dy: View, accumulate: bool) -> None:
        """dx (into DX) and the gain and bias gradients, in one dispatch."""
        c = self.config
        self.graph.add(
            "layernorm_bwd",
            {
                "x": x,
                "stats": stats,
                "g": self.P(pre + ".g"),
                "dy": dy,
                "dx": self.act["DX"],
                "dg": self.G(pre + ".g"),
                "db": self.G(pre + ".b"),
            },
            {"rows": c.tokens, "C": c.d_model},
            constants={"ACCUMULATE": int(accumulate)},
        )

    # the step ------------------------------------------------------------------------------
    def _build(self) -> None:
        cfg, A, g = self.config, self.act, self.graph
        N, C, V, L = cfg.tokens, cfg.d_model, cfg.vocab, cfg.n_layer
        attn_vals = {
            "B": cfg.batch,
            "T": cfg.seq_len,
            "H": cfg.n_head,
            "hd": cfg.head_dim,
            "C": C,
            "scale": 1.0 / float(np.sqrt(cfg.head_dim)),
        }
        X = [A[f"X{i}"] for i in range(2 * L + 1)]

        g.add(  # the embedding, fused with the first block's ln1
            "embed_ln_fwd",
            {
                "tokens": self.B("tokens"),
                "wte": self.P("wte"),
                "wpe": self.P("wpe"),
                "x": X[0],
                "g": self.P("h0.ln1.g"),
                "bias": self.P("h0.ln1.b"),
                "y": A["h0.H1"],
                "stats": A["h0.S1"],
            },
            {"rows": N, "T": cfg.seq_len, "C": C, "eps": LN_EPS},
        )
        for li in range(L):
            p, h = f"h{li}.", lambda s, li=li: A[f"h{li}.{s}"]
            if li > 0:
                self.ln_fwd(X[2 * li], p + "ln1", h("H1"), h("S1"))
            self.mm("nn", h("H1"), self.P(p + "attn.qkv"), h("QKV"), N, 3 * C, C)
            views = {"qkv": h("QKV"), "out": h("ATT")}
            views.update({name: h(name) for name in self.attention.saved})
            g.add(self.attention.forward, views, attn_vals)
            self.mm(
                "nn",
                h("ATT"),
                self.P(p + "attn.proj"),
                X[2 * li + 1],
                N,
                C,
                C,
                epilogue="add",
                r=X[2 * li],
            )
            self.ln_fwd(X[2 * li + 1], p + "ln2", h("H2"), h("S2"))
            self.mm(
                "nn",
                h("H2"),
                self.P(p + "mlp.fc"),
                h("G"),
                N,
                4 * C,
                C,
                epilogue="gelu",
                aux=h("U"),
            )
            self.mm(
                "nn",
                h("G"),
                self.P(p + "mlp.proj"),
                X[2 * li + 2],
                N,
                C,
                4 * C,
                epilogue="add",
                r=X[2 * li + 1],
            )
        self.ln_fwd(X[2 * L], "lnf", A["HF"], A["SF"])
        self.mm("nt", A["HF"], self.P("wte"), A["LOGITS"], N, V, C)
        g.add(
            "xent",
            {"targets": self.B("targets"), "logits": A["LOGITS"], "losses": A["LOSSES"]},
            {"rows": N, "V": V, "inv_rows": 1.0 / N},
        )
        g.add(
            "loss_reduce",
            {"losses": A["LOSSES"], "loss": A["LOSS"]},
            {"rows": N, "inv_rows": 1.0 / N},
        )

        # backward: LOGITS now holds dlogits
        self.mm("nn", A["LOGITS"], self.P("wte"), A["DH"], N, C, V)
        self.mm("tn", A["LOGITS"], A["HF"], self.G("wte"), V, C, N)
        self.ln_bwd(X[2 * L], A["SF"], "lnf", A["DH"], accumulate=False)
        for li in reversed(range(L)):
            p, h = f"h{li}.", lambda s, li=li: A[f"h{li}.{s}"]
            self.mm("tn", h("G"), A["DX"], self.G(p + "mlp.proj"), 4 * C, C, N)
            self.mm(
                "nt",
                A["DX"],
                self.P(p + "mlp.proj"),
                A["DU"],
                N,
                4 * C,
                C,
                epilogue="gelu_bwd",
                r=h("U"),
            )
            self.mm("tn", h("H2"), A["DU"], self.G(p + "mlp.fc"), C, 4 * C, N)
            self.mm("nt", A["DU"], self.P(p + "mlp.fc"), A["DH"], N, C, 4 * C)
            self.ln_bwd(X[2 * li + 1], h("S2"), p + "ln2", A["DH"], accumulate=True)
            self.mm("tn", h("ATT"), A["DX"], self.G(p + "attn.proj"), C, C, N)
            self.mm("nt", A["DX"], self.P(p + "attn.proj"), A["DATT"], N, C, C)
            views = {"qkv": h("QKV"), "out": h("ATT"), "dout": A["DATT"], "dqkv": A["DQKV"]}
            views.update({name: h(name) for name in self.attention.saved})
            views.update({name: A[name] for name in self.attention.scratch})
            for k in self.attention.backward:
                g.add(k, views, attn_vals)
            self.mm("tn", h("H1"), A["DQKV"], self.G(p + "attn.qkv"), C, 3 * C, N)
            self.mm("nt", A["DQKV"], self.P(p + "attn.qkv"), A["DH"], N, C, 3 * C)
            self.ln_bwd(X[2 * li], h("S1"), p + "ln1", A["DH"], accumulate=True)
        g.add(
            "embed_bwd",
            {
                "dx": A["DX"],
                "order": self.B("order"),
                "offsets": self.B("offsets"),
                "dwte": self.G("wte"),
                "dwpe": self.G("wpe"),
            },
            {"V": V, "T": cfg.seq_len, "B": cfg.batch, "C": C},
        )
        self.n_grad_dispatches = len(g.dispatches)
        self.adamw: Dispatch = g.add(
            "adamw",
            {"params": self.params, "grads": self.grads, "m": self.m, "v": self.v},
            self.adam_values(1, 3e-4, 0.9, 0.999, 1e-8, 0.01),
            shared_uniform=False,
        )

    def adam_values(
        self, step: int, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float
    ) -> dict:
        """AdamW's uniform for ``step`` (1-based); bias corrections in float64 as torch does."""
        bc1 = 1.0 - beta1**step
        bc2 = 1.0 - beta2**step
        return {
            "n": self.layout.total,
            "lr": lr,
            "beta1": beta1,
            "beta2": beta2,
            "eps": eps,
            "weight_decay": weight_decay,
            "step_size": lr / bc1,
            "sqrt_bc2": np.sqrt(bc2),
        }

    def reads_batch_tail(self, d: Dispatch) -> bool:
        """Whether ``d`` reads the batch's tail (``Batch.pack_tail``)."""
        tail = (self.B("order"), self.B("offsets"))
        return any(v in tail for v in d.views.values())

    @property
    def grad_dispatches(self) -> list[Dispatch]:
        return self.graph.dispatches[: self.n_grad_dispatches]
