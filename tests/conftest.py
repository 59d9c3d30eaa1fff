"""Shared fixtures: configs the parity tests run at, and seeded batches."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench.model import PRESETS, ModelConfig

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences the Vulkan loader on headless hosts

# A shape that is a multiple of nothing: odd head count, prime sequence length, batch 3.
AWKWARD = ModelConfig(d_model=48, n_layer=2, n_head=3, seq_len=37, batch=3)
PARITY_CONFIGS = {"micro": PRESETS["micro"], "tiny": PRESETS["tiny"], "awkward": AWKWARD}


def make_batch(config: ModelConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random byte batch (tokens, targets), each [batch, seq_len]."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, config.vocab, (config.batch, config.seq_len))
    targets = rng.integers(0, config.vocab, (config.batch, config.seq_len))
    return tokens, targets


@pytest.fixture(params=list(PARITY_CONFIGS), ids=list(PARITY_CONFIGS))
def parity_config(request) -> ModelConfig:
    return PARITY_CONFIGS[request.param]
