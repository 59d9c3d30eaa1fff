"""The model contract: configs, presets, parameter layout, init and the FLOP count."""

from __future__ import annotations

import numpy as np
import pytest

from bench.model import (
    D_MODEL_CURVE_PRESETS,
    PRESETS,
    ConfigError,
    ModelConfig,
    get_preset,
    init_params,
    n_params,
    param_shapes,
    step_flops,
)


def test_presets_table():
    assert list(PRESETS) == [
        "micro", "tiny", "small", "medium", "large", "xl", "huge", "mega", "behemoth",
    ]  # fmt: skip
    assert PRESETS["medium"] == ModelConfig(128, 4, 4, 128, 8)
    assert PRESETS["behemoth"] == ModelConfig(768, 12, 24, 512, 8)
    curve = [PRESETS[n] for n in D_MODEL_CURVE_PRESETS]
    assert {(c.n_layer, c.seq_len, c.batch, c.head_dim) for c in curve} == {(4, 128, 8, 32)}


def test_unknown_preset_lists_known():
    with pytest.raises(ConfigError, match="unknown preset 'gigantic'.*micro.*behemoth"):
        get_preset("gigantic")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(d_model=50, n_layer=1, n_head=4, seq_len=8, batch=1), "divisible by n_head"),
        (dict(d_model=16, n_layer=0, n_head=4, seq_len=8, batch=1), "n_layer must be positive"),
        (dict(d_model=16, n_layer=1, n_head=4, seq_len=8, batch=1, vocab=512), "vocab must be 256"),
        (dict(d_model=16.0, n_layer=1, n_head=4, seq_len=8, batch=1), "d_model must be an int"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**kwargs)


def test_replace_rejects_unknown_fields():
    assert PRESETS["tiny"].replace(d_model=128).d_model == 128
    with pytest.raises(ConfigError, match="unknown config field"):
        PRESETS["tiny"].replace(dmodel=128)


def test_init_params_layout_and_statistics():
    cfg = PRESETS["small"]
    p = init_params(cfg, seed=5)
    assert list(p) == list(param_shapes(cfg))
    assert all(a.dtype == np.float32 for a in p.values())
    assert p["h0.attn.qkv"].shape == (96, 288) and p["h3.mlp.proj"].shape == (384, 96)
    assert np.all(p["h1.ln2.g"] == 1) and np.all(p["lnf.b"] == 0)
    w = np.concatenate([p["wte"].ravel(), p["h2.mlp.fc"].ravel()])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 5e-4
    again = init_params(cfg, seed=5)
    assert all(np.array_equal(p[n], again[n]) for n in p)
    assert not np.array_equal(p["wte"], init_params(cfg, seed=6)["wte"])
    assert n_params(cfg) == sum(a.size for a in p.values())


def test_step_flops_is_dominated_by_matmuls_and_scales_with_width():
    cfg = PRESETS["medium"]
    f = step_flops(cfg)
    N, d = cfg.tokens, cfg.d_model
    linear_fwd = cfg.n_layer * 2 * N * d * 12 * d + 2 * N * d * cfg.vocab
    assert 3 * linear_fwd < f < 3 * linear_fwd * 1.5
    ratio = step_flops(cfg.replace(d_model=256, n_head=8)) / f
    assert 2.5 < ratio < 4.0  # quadratic in d for the linears, linear for attention and vocab
