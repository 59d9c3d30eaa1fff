"""Helpers shared by the test modules, which import this one and never each other.

Configs the parity tests run at, seeded batches, the float64 matmul reference of the WGSL kernels
and the tolerances by which a backend's gradients and AdamW steps count as matching.
"""

from __future__ import annotations

import numpy as np

from backends import reference as R
from bench.model import PRESETS, ModelConfig

# A shape that is a multiple of nothing: odd head count, prime sequence length, batch 3.
AWKWARD = ModelConfig(d_model=48, n_layer=2, n_head=3, seq_len=37, batch=3)
PARITY_CONFIGS = {"micro": PRESETS["micro"], "tiny": PRESETS["tiny"], "awkward": AWKWARD}


def make_batch(config: ModelConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random byte batch (tokens, targets), each [batch, seq_len]."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, config.vocab, (config.batch, config.seq_len))
    targets = rng.integers(0, config.vocab, (config.batch, config.seq_len))
    return tokens, targets


GRAD_RTOL = 2e-4


def assert_grads_close(got: dict, want: dict, rtol: float = GRAD_RTOL) -> None:
    assert list(got) == list(want)
    for name in want:
        scale = np.abs(want[name]).max() + 1e-12
        err = np.abs(got[name] - want[name]).max() / scale
        assert err < rtol, f"{name}: relative error {err:.2e}"


def assert_adam_params_close(got: np.ndarray, want: np.ndarray, lr: float, name: str) -> None:
    """Parameters after a few AdamW steps agree, judged as Adam's arithmetic allows.

    Adam's step is lr * m / sqrt(v): for an entry whose gradient is ~0, float32 round-off can flip
    its sign and move that one entry by up to 2 lr. So the bulk (99% of entries) must agree to
    1e-3 lr, which any wrong formula (decay, bias correction, betas) breaks by ~lr everywhere.
    """
    diff = np.abs(got - want).ravel()
    assert np.quantile(diff, 0.99) < 1e-3 * lr, f"{name}: bulk differs"
    assert diff.max() < 2.5 * lr, f"{name}: an entry differs by more than one sign flip"


def ref_matmul(a, b, form, epilogue, r=None, c=None):
    A = a.T if form == "tn" else a
    B = b.T if form == "nt" else b
    acc = A.astype(np.float64) @ B.astype(np.float64)
    if epilogue == "add":
        return {"c": acc + r}
    if epilogue == "gelu":
        return {"c": R.gelu_fwd(acc)[0], "aux": acc}
    if epilogue == "gelu_bwd":
        return {"c": R.gelu_bwd(acc, r.astype(np.float64))}
    if epilogue == "accumulate":
        return {"c": c + acc}
    return {"c": acc}


def ref_probe_fma(n, iters, mul, add):
    """The FMA peak probe's sums: 32 chains per row, each x = x * mul + add, iters times."""
    x = (np.arange(n) % 7).astype(np.float64)[:, None] + np.arange(32)[None, :]
    for _ in range(iters):
        x = x * mul + add
    return x.sum(1)
