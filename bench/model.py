"""The harness's side of the model: named presets over the contract in ``backends.model``.

The contract (``ModelConfig``, ``OptimConfig``, parameter shapes, init, the FLOP count) is
re-exported here so that ``from bench.model import ...`` keeps working for users of the harness.
"""

from __future__ import annotations

from backends.model import (
    VOCAB,
    ConfigError,
    ModelConfig,
    OptimConfig,
    config_label,
    init_params,
    n_params,
    param_shapes,
    step_flops,
)

__all__ = [
    "D_MODEL_CURVE_PRESETS", "PRESETS", "VOCAB", "ConfigError", "ModelConfig", "OptimConfig",
    "config_label", "get_preset", "init_params", "n_params", "param_shapes", "step_flops",
]

PRESETS: dict[str, ModelConfig] = {
    "micro": ModelConfig(d_model=16, n_layer=1, n_head=4, seq_len=16, batch=8),
    "tiny": ModelConfig(d_model=64, n_layer=4, n_head=2, seq_len=64, batch=8),
    # small..xl differ only in d_model (head_dim 32): a clean d_model curve.
    "small": ModelConfig(d_model=96, n_layer=4, n_head=3, seq_len=128, batch=8),
    "medium": ModelConfig(d_model=128, n_layer=4, n_head=4, seq_len=128, batch=8),
    "large": ModelConfig(d_model=192, n_layer=4, n_head=6, seq_len=128, batch=8),
    "xl": ModelConfig(d_model=256, n_layer=4, n_head=8, seq_len=128, batch=8),
    "huge": ModelConfig(d_model=384, n_layer=6, n_head=12, seq_len=256, batch=8),
    "mega": ModelConfig(d_model=512, n_layer=8, n_head=16, seq_len=512, batch=8),
    "behemoth": ModelConfig(d_model=768, n_layer=12, n_head=24, seq_len=512, batch=8),
}

# Presets that differ from each other only in d_model: the only ones drawn as a d_model curve.
D_MODEL_CURVE_PRESETS = ("small", "medium", "large", "xl")


def get_preset(name: str) -> ModelConfig:
    """The preset called ``name``; an unknown name lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None
