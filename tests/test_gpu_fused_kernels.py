"""The step's fused and re-shaped small kernels against NumPy, outputs NaN-poisoned (run_kernel).

embed_ln_fwd (the embedding and the first LayerNorm in one dispatch) and layernorm_bwd (the input
gradient and the gain/bias gradients in one dispatch, 4 rows or 64 row lanes by 4 columns per
workgroup) on awkward shapes: C below, across and not a multiple of the 64-wide row loop or the
4-column group, rows not a multiple of 4, and enough rows that every row lane loops more than once.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_fixtures import requires_adapter

from backends import reference as R

pytestmark = requires_adapter

RNG = np.random.default_rng(2024)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("B, T, C", [(3, 7, 10), (2, 37, 130), (1, 5, 64)])
def test_embed_ln_fwd(B, T, C):
    from backends.gpu import run_kernel

    V = 256
    tokens = RNG.integers(0, V, (B, T))
    wte, wpe, g, b = rand(V, C), rand(T, C), rand(C) + 1.0, rand(C)
    out = run_kernel(
        "embed_ln_fwd",
        {"tokens": tokens, "wte": wte, "wpe": wpe, "g": g, "bias": b},
        {"x": (B * T, C), "y": (B * T, C), "stats": (B * T, 2)},
        {"rows": B * T, "T": T, "C": C, "eps": 1e-5},
    )
    x = R.embedding_fwd(wte, wpe, tokens).reshape(B * T, C)
    np.testing.assert_allclose(out["x"], x, rtol=1e-6, atol=1e-6)
    y, (_, rstd, _) = R.layernorm_fwd(x.astype(np.float64), g, b)
    np.testing.assert_allclose(out["y"], y, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["stats"][:, 0], x.astype(np.float64).mean(-1), atol=1e-5)
    np.testing.assert_allclose(out["stats"][:, 1], rstd[:, 0], rtol=1e-4)


@pytest.mark.parametrize("rows, C", [(37, 3), (300, 130), (129, 64), (1, 5)])
def test_layernorm_bwd_many_rows(rows, C):
    from backends.gpu import run_kernel

    x, g, b, dy = rand(rows, C) + 0.5, rand(C) + 1.0, rand(C), rand(rows, C)
    _, cache = R.layernorm_fwd(x.astype(np.float64), g.astype(np.float64), b)
    mean = x.astype(np.float64).mean(-1)
    stats = np.stack([mean, cache[1][:, 0]], axis=1).astype(np.float32)
    dx, dg, db = R.layernorm_bwd(dy.astype(np.float64), cache)
    prior = rand(rows, C)
    got = run_kernel("layernorm_bwd", {"x": x, "stats": stats, "g": g, "dy": dy},
                     {"dx": prior, "dg": (C,), "db": (C,)}, {"rows": rows, "C": C})
    np.testing.assert_allclose(got["dx"], prior + dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["dg"], dg, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["db"], db, rtol=1e-4, atol=1e-4)
