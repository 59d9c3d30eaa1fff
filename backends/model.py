"""The model every backend trains: configuration, parameter layout, init, optimiser and FLOP count.

This module is the contract between the harness and the backends, and it lives under ``backends``
so that a backend can import it without importing the harness (layers run one way: ``bench`` ->
``backends`` -> ``kernels``). It holds no maths of the forward or backward pass (that lives in each
backend); it says *what* is computed and how big it is. The presets are the harness's
(``bench.model``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

VOCAB = 256  # byte-level: every backend assumes token ids in 0..255
LN_EPS = 1e-5  # LayerNorm's epsilon, as torch's default
# GELU, tanh form: 0.5 x (1 + tanh(GELU_C (x + GELU_A x^3))). The WGSL kernels carry the same two
# numbers in kernels/include/common.wgsl (kernels cannot import this module).
GELU_C = 0.7978845608028654  # sqrt(2 / pi)
GELU_A = 0.044715


class ConfigError(ValueError):
    """A user-facing configuration mistake (bad size, unknown preset). Message is one clear line."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the byte-level GPT and of one training batch."""

    d_model: int
    n_layer: int
    n_head: int
    seq_len: int
    batch: int
    vocab: int = VOCAB

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ConfigError(f"{f.name} must be an int, got {v!r}")
            if v <= 0:
                raise ConfigError(f"{f.name} must be positive, got {v}")
        if self.vocab != VOCAB:
            raise ConfigError(f"vocab must be {VOCAB} (byte-level model), got {self.vocab}")
        if self.d_model % self.n_head:
            raise ConfigError(
                f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def tokens(self) -> int:
        """Tokens per step, B*T."""
        return self.batch * self.seq_len

    def replace(self, **changes: int) -> ModelConfig:
        """A copy with some fields changed; unknown field names are rejected."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(names)}")
        return dataclasses.replace(self, **changes)

    def label(self) -> str:
        """Readable id for tables, plots and asv parameter names (``config_label``)."""
        return config_label(self.d_model, self.n_layer, self.n_head, self.seq_len, self.batch)


def config_label(d_model: int, n_layer: int, n_head: int, seq_len: int, batch: int) -> str:
    """The one label of a model config's dims, e.g. ``L4_d128_H4_T128_B8``: every dimension
    that tells two configs apart, depth first as asv parameter ids read. A plain function of the
    dims, so rows read back from a results file are labelled without building a config."""
    return f"L{n_layer}_d{d_model}_H{n_head}_T{seq_len}_B{batch}"


@dataclass(frozen=True)
class OptimConfig:
    """AdamW hyper-parameters, matching ``torch.optim.AdamW`` (decoupled decay, bias correction)."""

    lr: float = 3e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.01  # applied to every parameter, LayerNorm and embeddings included


def param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes in canonical order (the order of flat parameter buffers)."""
    d, v, t = config.d_model, config.vocab, config.seq_len
    shapes: dict[str, tuple[int, ...]] = {"wte": (v, d), "wpe": (t, d)}
    for i in range(config.n_layer):
        p = f"h{i}."
        shapes[p + "ln1.g"] = (d,)
        shapes[p + "ln1.b"] = (d,)
        shapes[p + "attn.qkv"] = (d, 3 * d)  # columns Q|K|V, heads contiguous inside each
        shapes[p + "attn.proj"] = (d, d)
        shapes[p + "ln2.g"] = (d,)
        shapes[p + "ln2.b"] = (d,)
        shapes[p + "mlp.fc"] = (d, 4 * d)
        shapes[p + "mlp.proj"] = (4 * d, d)
    shapes["lnf.g"] = (d,)
    shapes["lnf.b"] = (d,)
    return shapes


def n_params(config: ModelConfig) -> int:
    return sum(int(np.prod(s)) for s in param_shapes(config).values())


def init_params(config: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights N(0, 0.02), LayerNorm gain 1 and bias 0, drawn in canonical order from one rng."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for name, shape in param_shapes(config).items():
        if name.endswith(".g"):
            params[name] = np.ones(shape, np.float32)
        elif name.endswith(".b"):
            params[name] = np.zeros(shape, np.float32)
        else:
            params[name] = (rng.standard_normal(shape) * 0.02).astype(np.float32)
    return params


# Elementwise costs, in FLOPs per element. They are rough by nature (a tanh or an exp is not one
# FLOP on any hardware) but fixed, so that throughput figures are comparable across runs.
_LN_FWD, _LN_BWD = 8, 12  # mean, var, normalise, scale+shift / the three reductions and the combine
_GELU_FWD, _GELU_BWD = 12, 20  # cubic, tanh, products / derivative of the tanh form
_SOFTMAX_FWD, _SOFTMAX_BWD = 5, 4  # max, exp, sum, divide / dot and subtract-multiply
_ADAMW = 12  # two moment updates, bias corrections, sqrt, divide, decay, step


def step_flops(config: ModelConfig) -> int:
    """Floating-point operations of one training step: forward + backward + AdamW.

    A matmul ``[M,K] @ [K,N]`` counts ``2*M*K*N``; its backward computes two such products (the
    input gradient and the weight gradient), so a linear layer costs 3x its forward. Attention's
    ``Q K^T`` and ``P V`` are counted over the full T x T score matrix, as the naive kernel computes
    it (FlashAttention skips the masked half, which then shows as higher achieved FLOP/s).
    Elementwise ops use the per-element constants above; embeddings and residual adds are counted
    as one FLOP per element. The count depends only on the config, never on the backend.
    """
    B, T, d, L, V = config.batch, config.seq_len, config.d_model, config.n_layer, config.vocab
    H, hd = config.n_head, config.head_dim
    N = B * T
    mm = 0  # forward matmul FLOPs
    ew = 0  # forward + backward elementwise FLOPs
    per_layer_mm = 2 * N * d * (3 * d) + 2 * N * d * d + 2 * N * d * (4 * d) * 2
    attn_mm = 2 * (2 * B * H * T * T * hd)  # Q K^T and P V
    mm += L * (per_layer_mm + attn_mm)
    mm += 2 * N * d * V  # tied unembedding
    ew += L * (
        2 * N * d * (_LN_FWD + _LN_BWD)  # ln1, ln2
        + B * H * T * T * (_SOFTMAX_FWD + _SOFTMAX_BWD + 2)  # softmax + scale and mask
        + N * 4 * d * (_GELU_FWD + _GELU_BWD)
        + 2 * N * d * 2  # two residual adds, forward and backward
    )
    ew += N * d * (_LN_FWD + _LN_BWD)  # lnf
    ew += N * V * (_SOFTMAX_FWD + _SOFTMAX_BWD) + N  # cross-entropy
    ew += 2 * N * d  # embedding gather and its scatter-add
    return 3 * mm + ew + _ADAMW * n_params(config)
