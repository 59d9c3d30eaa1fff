"""Shared fixtures: the parity configs as a parametrised fixture (helpers live in helpers.py)."""

from __future__ import annotations

import os

import pytest
from helpers import PARITY_CONFIGS

from bench.model import ModelConfig

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences the Vulkan loader on headless hosts


@pytest.fixture(params=list(PARITY_CONFIGS), ids=list(PARITY_CONFIGS))
def parity_config(request) -> ModelConfig:
    return PARITY_CONFIGS[request.param]
