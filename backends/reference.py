"""Float64 NumPy oracle: forward, hand-derived backward and AdamW, op by op.

Every other backend is tested against this one, so it is written for the reader, not for speed:
each op is a pair of functions ``<op>_fwd`` (returns output and a cache) and ``<op>_bwd`` (takes
the upstream gradient and the cache), and the model is those ops chained in the order of
DESIGN.md. The finite-difference tests check each pair on its own, then the whole model.
"""

from __future__ import annotations

import math
import platform
from typing import Any

import numpy as np

from backends.base import Backend, check_batch, check_params, require_loaded
from backends.model import GELU_A, GELU_C, LN_EPS, ModelConfig, OptimConfig, param_shapes


# ---------------------------------------------------------------- embedding
def embedding_fwd(wte: np.ndarray, wpe: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """x[b, t] = wte[tokens[b, t]] + wpe[t]."""
    T = tokens.shape[1]
    return wte[tokens] + wpe[None, :T]  # (B, T, d)


def embedding_bwd(
    dx: np.ndarray, tokens: np.ndarray, vocab: int, max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the table rows each token read (a scatter-add) and of the positions."""
    d = dx.shape[-1]
    dwte = np.zeros((vocab, d), dx.dtype)
    np.add.at(dwte, tokens.reshape(-1), dx.reshape(-1, d))
    dwpe = np.zeros((max_len, d), dx.dtype)
    dwpe[: dx.shape[1]] = dx.sum(axis=0)
    return dwte, dwpe


# ---------------------------------------------------------------- layernorm
def layernorm_fwd(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """y = (x - mean) / sqrt(var + eps) * g + b over the last axis (biased variance)."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + LN_EPS)
    xhat = (x - mu) * rstd
    return xhat * g + b, (xhat, rstd, g)


def layernorm_bwd(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), with dxhat = dy * g."""
    xhat, rstd, g = cache
    axes = tuple(range(dy.ndim - 1))
    dg = (dy * xhat).sum(axis=axes)
    db = dy.sum(axis=axes)
    dxhat = dy * g
    dx = rstd * (
        dxhat
        - dxhat.mean(axis=-1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
    )
    return dx, dg, db


# ---------------------------------------------------------------- linear (no bias)
def linear_fwd(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, tuple]:
    """y = x @ W with W stored [in, out]."""
    return x @ w, (x, w)


def linear_bwd(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray]:
    """dx = dy @ W^T, dW = x^T @ dy summed over every leading axis."""
    x, w = cache
    dx = dy @ w.T
    dw = x.reshape(-1, x.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])
    return dx, dw


# ---------------------------------------------------------------- GELU (tanh form)
def gelu_fwd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0.5 x (1 + tanh(c (x + GELU_A x^3))), c = sqrt(2/pi)."""
    return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + GELU_A * x**3))), x


def gelu_bwd(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.tanh(GELU_C * (x + GELU_A * x**3))
    dt = (1.0 - t * t) * GELU_C * (1.0 + 3 * GELU_A * x * x)
    return dy * (0.5 * (1.0 + t) + 0.5 * x * dt)


# ---------------------------------------------------------------- causal self-attention
def attention_fwd(qkv: np.ndarray, n_head: int) -> tuple[np.ndarray, tuple]:
    """Causal multi-head attention on a packed [B, T, 3d] projection (Q|K|V, heads contiguous).

    For each batch element and head: S = Q K^T / sqrt(hd), masked above the diagonal,
    P = softmax(S), O = P V. Heads are merged back to [B, T, d].
    """
    B, T, three_d = qkv.shape
    d = three_d // 3
    hd = d // n_head
    scale = 1.0 / math.sqrt(hd)
    mask = np.triu(np.ones((T, T), bool), k=1)
    out = np.zeros((B, T, d), qkv.dtype)
    probs = np.zeros((B, n_head, T, T), qkv.dtype)
    for b in range(B):
        for h in range(n_head):
            q = qkv[b, :, h * hd : (h + 1) * hd]
            k = qkv[b, :, d + h * hd : d + (h + 1) * hd]
            v = qkv[b, :, 2 * d + h * hd : 2 * d + (h + 1) * hd]
            s = (q @ k.T) * scale
            s[mask] = -np.inf
            p = np.exp(s - s.max(axis=-1, keepdims=True))
            p /= p.sum(axis=-1, keepdims=True)
            probs[b, h] = p
            out[b, :, h * hd : (h + 1) * hd] = p @ v
    return out, (qkv, probs, n_head)


def attention_bwd(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dV = P^T dO; dP = dO V^T; dS = P * (dP - rowsum(dP * P)); dQ = dS K s; dK = dS^T Q s."""
    qkv, probs, n_head = cache
    B, T, three_d = qkv.shape
    d = three_d // 3
    hd = d // n_head
    scale = 1.0 / math.sqrt(hd)
    dqkv = np.zeros_like(qkv)
    for b in range(B):
        for h in range(n_head):
            cq = slice(h * hd, (h + 1) * hd)
            ck = slice(d + h * hd, d + (h + 1) * hd)
            cv = slice(2 * d + h * hd, 2 * d + (h + 1) * hd)
            q, k, v = qkv[b, :, cq], qkv[b, :, ck], qkv[b, :, cv]
            p = probs[b, h]
            do = dout[b, :, cq]
            dqkv[b, :, cv] = p.T @ do
            dp = do @ v.T
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))  # masked entries have p = 0
            dqkv[b, :, cq] = ds @ k * scale
            dqkv[b, :, ck] = ds.T @ q * scale
    return dqkv


# ---------------------------------------------------------------- softmax cross-entropy
def cross_entropy_fwd(logits: np.ndarray, targets: np.ndarray) -> tuple[float, tuple]:
    """Mean over all positions of logsumexp(logits) - logits[target]."""
    flat = logits.reshape(-1, logits.shape[-1])
    t = targets.reshape(-1)
    m = flat.max(axis=-1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(flat - m).sum(axis=-1))
    loss = float((lse - flat[np.arange(len(t)), t]).mean())
    return loss, (flat, lse, t, logits.shape)


def cross_entropy_bwd(cache: tuple) -> np.ndarray:
    """d loss / d logits = (softmax - onehot(target)) / N."""
    flat, lse, t, shape = cache
    n = len(t)
    d = np.exp(flat - lse[:, None])
    d[np.arange(n), t] -= 1.0
    return (d / n).reshape(shape)


# ---------------------------------------------------------------- AdamW
def adamw_update(
    p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, step: int, opt: OptimConfig
) -> None:
    """One torch.optim.AdamW step in place: decoupled decay, then the bias-corrected Adam step."""
    p *= 1.0 - opt.lr * opt.weight_decay
    m *= opt.beta1
    m += (1.0 - opt.beta1) * g
    v *= opt.beta2
    v += (1.0 - opt.beta2) * g * g
    bc1 = 1.0 - opt.beta1**step
    bc2 = 1.0 - opt.beta2**step
    p -= (opt.lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + opt.eps)


# ---------------------------------------------------------------- the model
def model_loss_and_grads(
    params: dict[str, np.ndarray], tokens: np.ndarray, targets: np.ndarray, config: ModelConfig
) -> tuple[float, dict[str, np.ndarray]]:
    """Forward through the whole GPT, then backward through the same ops in reverse order."""
    L = config.n_layer
    x = embedding_fwd(params["wte"], params["wpe"], tokens)  # (B, T, d)
    caches = []
    for i in range(L):
        p = f"h{i}."
        a, c_ln1 = layernorm_fwd(x, params[p + "ln1.g"], params[p + "ln1.b"])
        qkv, c_qkv = linear_fwd(a, params[p + "attn.qkv"])  # (B, T, 3d)
        att, c_att = attention_fwd(qkv, config.n_head)  # (B, T, d)
        y, c_proj = linear_fwd(att, params[p + "attn.proj"])
        x = x + y
        a2, c_ln2 = layernorm_fwd(x, params[p + "ln2.g"], params[p + "ln2.b"])
        h, c_fc = linear_fwd(a2, params[p + "mlp.fc"])  # (B, T, 4d)
        gact, c_gelu = gelu_fwd(h)
        y2, c_mproj = linear_fwd(gact, params[p + "mlp.proj"])
        x = x + y2
        caches.append((c_ln1, c_qkv, c_att, c_proj, c_ln2, c_fc, c_gelu, c_mproj))
    xf, c_lnf = layernorm_fwd(x, params["lnf.g"], params["lnf.b"])
    logits, c_head = linear_fwd(xf, params["wte"].T)  # tied unembedding, (B, T, V)
    loss, c_ce = cross_entropy_fwd(logits, targets)

    grads: dict[str, np.ndarray] = {}
    dlogits = cross_entropy_bwd(c_ce)
    dxf, dwte_t = linear_bwd(dlogits, c_head)
    dwte_head = dwte_t.T
    dx, grads["lnf.g"], grads["lnf.b"] = layernorm_bwd(dxf, c_lnf)
    for i in reversed(range(L)):
        p = f"h{i}."
        c_ln1, c_qkv, c_att, c_proj, c_ln2, c_fc, c_gelu, c_mproj = caches[i]
        dg, grads[p + "mlp.proj"] = linear_bwd(dx, c_mproj)
        dh = gelu_bwd(dg, c_gelu)
        da2, grads[p + "mlp.fc"] = linear_bwd(dh, c_fc)
        dres, grads[p + "ln2.g"], grads[p + "ln2.b"] = layernorm_bwd(da2, c_ln2)
        dx = dx + dres
        datt, grads[p + "attn.proj"] = linear_bwd(dx, c_proj)
        dqkv = attention_bwd(datt, c_att)
        da, grads[p + "attn.qkv"] = linear_bwd(dqkv, c_qkv)
        dres, grads[p + "ln1.g"], grads[p + "ln1.b"] = layernorm_bwd(da, c_ln1)
        dx = dx + dres
    dwte_emb, grads["wpe"] = embedding_bwd(dx, tokens, config.vocab, config.seq_len)
    grads["wte"] = dwte_emb + dwte_head
    return loss, {n: grads[n] for n in param_shapes(config)}


class ReferenceBackend(Backend):
    """The float64 oracle behind the common interface (slow by design; tests and small runs)."""

    name = "reference"

    def __init__(self, config: ModelConfig, *, optim: OptimConfig | None = None) -> None:
        super().__init__(config, optim=optim)
        self.params: dict[str, np.ndarray] = {}
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.step = 0

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        self.params = {
            n: np.array(a, np.float64) for n, a in check_params(self.config, params).items()
        }
        self.m = {n: np.zeros_like(a) for n, a in self.params.items()}
        self.v = {n: np.zeros_like(a) for n, a in self.params.items()}
        self.step = 0

    def _require_params(self) -> None:
        require_loaded(bool(self.params))

    def loss_and_grads(self, tokens, targets):  # type: ignore[override]
        self._require_params()
        tok, tgt = check_batch(self.config, tokens, targets)
        return model_loss_and_grads(self.params, tok, tgt, self.config)

    def train_step(self, tokens, targets) -> float:  # type: ignore[override]
        loss, grads = self.loss_and_grads(tokens, targets)
        self.step += 1
        for n, p in self.params.items():
            adamw_update(p, grads[n], self.m[n], self.v[n], self.step, self.optim)
        return loss

    def get_params(self) -> dict[str, np.ndarray]:
        self._require_params()
        return {n: a.astype(np.float32) for n, a in self.params.items()}

    def describe(self) -> dict[str, Any]:
        return {"backend": "reference", "dtype": "float64", "device": platform.processor() or "cpu"}
