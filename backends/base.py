"""The one interface every backend implements, and the input checks they all share.

Backends are driven by the harness only through this interface, so a new backend (another GPU
API, a compiled CPU path) plugs into every sweep, plot and asv suite without touching ``bench``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from backends.model import ModelConfig, OptimConfig, param_shapes


class BackendError(ValueError):
    """A user-facing backend mistake (bad option, input or adapter), in one clear line."""


class Backend(ABC):
    """Trains the model of ``bench.model`` on one device.

    Subclasses take ``config`` and ``optim`` plus their own keyword-only options; ``get_backend``
    rejects options a subclass does not declare.
    """

    name: str = "?"

    def __init__(self, config: ModelConfig, *, optim: OptimConfig | None = None) -> None:
        if not isinstance(config, ModelConfig):
            raise BackendError(
                f"config must be a bench.model.ModelConfig, got {type(config).__name__}"
            )
        self.config = config
        self.optim = optim if optim is not None else OptimConfig()

    @abstractmethod
    def load_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy parameters in (and reset the optimiser state: a new starting point)."""

    @abstractmethod
    def loss_and_grads(
        self, tokens: np.ndarray, targets: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy and the gradient of every parameter; parameters are not updated."""

    @abstractmethod
    def train_step(self, tokens: np.ndarray, targets: np.ndarray) -> float:
        """Forward, backward and one AdamW update; returns the loss (before the update)."""

    @abstractmethod
    def get_params(self) -> dict[str, np.ndarray]:
        """Copy parameters out as float32 arrays."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Where this backend runs: device/adapter, driver, threads, kernel variants."""

    def profile_step(self, tokens: np.ndarray, targets: np.ndarray) -> dict[str, float] | None:
        """Run one training step with per-op timers; return ``{op_or_kernel: seconds}``.

        The sum is the step's compute ("math") time as the backend itself sees it: GPU timestamp
        queries on the GPU, per-op wall timers on the CPU. ``None`` when the backend cannot
        measure it (e.g. an adapter without timestamp queries); the harness then reports only the
        modelled split.
        """
        return None

    def settle_device(self) -> dict[str, Any] | None:
        """Bring the backend's accelerator to its working clocks (``backends.clocks``) right
        before timing; return what it did, or None where there is nothing to settle (a CPU, a
        software adapter). The harness calls it after the first step, so the compilation's idle
        time is behind it."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op unless a backend holds devices
        """Release device resources early (optional; garbage collection does it too)."""


def require_loaded(loaded: bool) -> None:
    """The one error every backend gives for a step or read-out before ``load_params``."""
    if not loaded:
        raise BackendError("no parameters loaded: call load_params(init_params(config)) first")


def check_batch(config: ModelConfig, tokens: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch: integer arrays of shape [batch, seq_len] with ids in 0..vocab-1."""
    out = []
    for what, arr in (("tokens", tokens), ("targets", targets)):
        a = np.asarray(arr)
        if a.dtype.kind not in "iu":
            raise BackendError(f"{what} must be an integer array, got dtype {a.dtype}")
        want = (config.batch, config.seq_len)
        if a.shape != want:
            raise BackendError(
                f"{what} must have shape [batch, seq_len] = {list(want)}, got {list(a.shape)}"
            )
        if a.size and (a.min() < 0 or a.max() >= config.vocab):
            raise BackendError(
                f"{what} ids must be in 0..{config.vocab - 1}, got range {a.min()}..{a.max()}"
            )
        out.append(a.astype(np.int64, copy=False))
    return out[0], out[1]


def check_params(config: ModelConfig, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate a parameter dict against the config: exact names, exact shapes, finite values."""
    shapes = param_shapes(config)
    if not isinstance(params, dict):
        raise BackendError(f"params must be a dict name -> array, got {type(params).__name__}")
    missing = [n for n in shapes if n not in params]
    extra = sorted(n for n in params if n not in shapes)
    if missing:
        raise BackendError(f"missing parameter(s): {', '.join(missing)}")
    if extra:
        raise BackendError(f"unknown parameter(s): {', '.join(extra)}")
    checked = {}
    for name, shape in shapes.items():
        a = np.asarray(params[name])
        if a.shape != shape:
            raise BackendError(
                f"parameter {name} must have shape {list(shape)}, got {list(a.shape)}"
            )
        if not np.all(np.isfinite(a)):
            raise BackendError(f"parameter {name} has non-finite values")
        checked[name] = a
    return checked
