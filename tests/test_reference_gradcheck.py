"""Finite-difference checks of every hand-derived backward op of the float64 reference.

Each op is checked through a random linear functional L = sum(out * R), so every output element
contributes to the gradient; a 4-point central stencil in float64 agrees to ~1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from backends import reference as ref
from bench.model import ModelConfig, init_params, param_shapes

RTOL, ATOL = 1e-6, 1e-9


def numgrad(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Gradient of scalar f() with respect to x by the 4-point central stencil (error O(h^4)).

    The higher-order stencil lets h be large enough that the loss's round-off stays ~1e-12,
    while the truncation error stays far below the tolerance even where the loss curves hard.
    """
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        vals = []
        for step in (2 * h, h, -h, -2 * h):
            x[i] = old + step
            vals.append(f())
        x[i] = old
        g[i] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * h)
    return g


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_layernorm(rng):
    x = rng.standard_normal((2, 3, 7))
    g, b = rng.standard_normal(7), rng.standard_normal(7)
    R = rng.standard_normal((2, 3, 7))

    def f():
        return float((ref.layernorm_fwd(x, g, b)[0] * R).sum())

    dx, dg, db = ref.layernorm_bwd(R, ref.layernorm_fwd(x, g, b)[1])
    for ana, arr in ((dx, x), (dg, g), (db, b)):
        np.testing.assert_allclose(ana, numgrad(f, arr), rtol=RTOL, atol=ATOL)


def test_linear(rng):
    x, w = rng.standard_normal((2, 5, 4)), rng.standard_normal((4, 6))
    R = rng.standard_normal((2, 5, 6))

    def f():
        return float((ref.linear_fwd(x, w)[0] * R).sum())

    dx, dw = ref.linear_bwd(R, ref.linear_fwd(x, w)[1])
    np.testing.assert_allclose(dx, numgrad(f, x), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dw, numgrad(f, w), rtol=RTOL, atol=ATOL)


def test_gelu(rng):
    x = rng.standard_normal((3, 11)) * 2
    R = rng.standard_normal((3, 11))

    def f():
        return float((ref.gelu_fwd(x)[0] * R).sum())

    np.testing.assert_allclose(ref.gelu_bwd(R, x), numgrad(f, x), rtol=RTOL, atol=ATOL)


def test_gelu_matches_tanh_formula():
    x = np.linspace(-4, 4, 9)
    want = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(ref.gelu_fwd(x)[0], want, rtol=1e-12)


def test_attention(rng):
    B, T, H, hd = 2, 5, 3, 2
    qkv = rng.standard_normal((B, T, 3 * H * hd))
    R = rng.standard_normal((B, T, H * hd))

    def f():
        return float((ref.attention_fwd(qkv, H)[0] * R).sum())

    out, cache = ref.attention_fwd(qkv, H)
    np.testing.assert_allclose(ref.attention_bwd(R, cache), numgrad(f, qkv), rtol=RTOL, atol=ATOL)


def test_attention_is_causal(rng):
    """Changing a later token's K/V must not change an earlier position's output."""
    qkv = rng.standard_normal((1, 6, 3 * 4))
    out1, _ = ref.attention_fwd(qkv, 2)
    qkv2 = qkv.copy()
    qkv2[0, 4:, 4:] += 1.0  # perturb K and V of positions 4, 5
    out2, _ = ref.attention_fwd(qkv2, 2)
    np.testing.assert_allclose(out1[0, :4], out2[0, :4], rtol=0, atol=0)
    assert not np.allclose(out1[0, 4:], out2[0, 4:])


def test_cross_entropy(rng):
    logits = rng.standard_normal((2, 3, 7))
    targets = rng.integers(0, 7, (2, 3))

    def f():
        return ref.cross_entropy_fwd(logits, targets)[0]

    loss, cache = ref.cross_entropy_fwd(logits, targets)
    np.testing.assert_allclose(
        ref.cross_entropy_bwd(cache), numgrad(f, logits), rtol=RTOL, atol=ATOL
    )
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = -np.log(np.take_along_axis(p, targets[..., None], -1)).mean()
    assert loss == pytest.approx(want, rel=1e-12)


def test_embedding(rng):
    V, T, d = 5, 4, 3
    wte, wpe = rng.standard_normal((V, d)), rng.standard_normal((T + 2, d))
    tokens = np.array([[1, 1, 4, 0], [3, 1, 1, 2]])  # repeated ids exercise the scatter-add
    R = rng.standard_normal((2, T, d))

    def f():
        return float((ref.embedding_fwd(wte, wpe, tokens) * R).sum())

    dwte, dwpe = ref.embedding_bwd(R, tokens, V, T + 2)
    np.testing.assert_allclose(dwte, numgrad(f, wte), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dwpe, numgrad(f, wpe), rtol=RTOL, atol=ATOL)


def test_whole_model():
    """Every parameter's gradient of the full GPT loss, at a tiny awkward config."""
    cfg = ModelConfig(d_model=6, n_layer=2, n_head=2, seq_len=5, batch=2)
    rng = np.random.default_rng(7)
    params = {n: a.astype(np.float64) for n, a in init_params(cfg, seed=3).items()}
    # Non-trivial LayerNorm parameters and larger weights so no gradient is near zero by accident.
    for n in params:
        params[n] = params[n] + rng.standard_normal(params[n].shape) * 0.3
    tokens = rng.integers(0, 256, (2, 5))
    targets = rng.integers(0, 256, (2, 5))
    _, grads = ref.model_loss_and_grads(params, tokens, targets, cfg)
    assert list(grads) == list(param_shapes(cfg))
    for name in params:
        p = params[name]
        if name == "wte":  # only rows that are read or targeted carry signal; check those
            rows = np.unique(np.concatenate([tokens.ravel(), targets.ravel(), [0, 17]]))
            sub = p[rows]

            def f(p=p, rows=rows, sub=sub):
                p[rows] = sub
                return ref.model_loss_and_grads(params, tokens, targets, cfg)[0]

            num = numgrad(f, sub)
            p[rows] = sub  # numgrad restored sub, but p still holds its last perturbed copy
            np.testing.assert_allclose(grads[name][rows], num, rtol=1e-6, atol=1e-9, err_msg=name)
            continue

        def f():
            return ref.model_loss_and_grads(params, tokens, targets, cfg)[0]

        np.testing.assert_allclose(grads[name], numgrad(f, p), rtol=1e-6, atol=1e-9, err_msg=name)
