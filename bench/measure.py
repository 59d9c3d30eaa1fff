"""Measure one training step of one backend: the calls the CLI sweep and the asv suites share.

``prepare_step`` builds a ready backend (parameters loaded) and a fixed random batch;
``measure_step`` times its ``train_step`` with the timing engine and attaches the measured
device/host split: on a backend that reports the device span of each step (the GPU with
timestamps), the split is the median span of the timed steps themselves and the overhead is wall
minus span; elsewhere it is the sum of ``profile_step``'s per-op times. ``check_parity``
compares a backend's gradients with the float64 reference on an awkward (non-square,
non-multiple-of-tile) shape before any timing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends import backend_options, get_backend
from backends.base import Backend, BackendError
from bench.model import ModelConfig, init_params
from bench.timing import Measurement, time_fn

PROFILE_RUNS = 3  # profile_step calls after one warm-up; each op's median is kept
SLOW_STEP_S = 1.0  # above this a step is profiled once after the warm-up, not PROFILE_RUNS times

# Odd sizes on purpose: no dimension is a multiple of a 4/8/16 tile, nothing is square.
PARITY_CONFIGS = (
    ModelConfig(d_model=40, n_layer=2, n_head=2, seq_len=13, batch=3),
    ModelConfig(d_model=16, n_layer=1, n_head=4, seq_len=16, batch=8),  # micro, if odd is refused
)
PARITY_RTOL = 2e-3  # relative L2 error per gradient allowed for a float32 backend


def make_batch(config: ModelConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random batch: tokens and targets, int32 [batch, seq_len] in 0..255."""
    rng = np.random.default_rng(seed + 1)  # not the init stream
    shape = (config.batch, config.seq_len)
    tokens = rng.integers(0, config.vocab, size=shape, dtype=np.int32)
    targets = rng.integers(0, config.vocab, size=shape, dtype=np.int32)
    return tokens, targets


def prepare_step(
    backend: str, config: ModelConfig, options: dict[str, Any] | None = None, seed: int = 0
) -> tuple[Backend, np.ndarray, np.ndarray]:
    """A backend with ``init_params(config, seed)`` loaded, and its fixed batch.

    Raises ``BackendError`` (unknown backend/option, no adapter, unsupported size).
    """
    b = get_backend(backend, config, **(options or {}))
    b.load_params(init_params(config, seed))
    tokens, targets = make_batch(config, seed)
    return b, tokens, targets


def profile_split(
    b: Backend, tokens: np.ndarray, targets: np.ndarray, runs: int = PROFILE_RUNS
) -> dict[str, float] | None:
    """Per-op seconds of one step, the median of ``runs`` profiled steps after a warm-up; None
    if the backend cannot profile."""
    if b.profile_step(tokens, targets) is None:
        return None
    profiles = [b.profile_step(tokens, targets) or {} for _ in range(runs)]
    ops = sorted({k for r in profiles for k in r})
    return {op: float(np.median([r.get(op, 0.0) for r in profiles])) for op in ops}


def measure_step(
    backend: str,
    config: ModelConfig,
    options: dict[str, Any] | None = None,
    budget_s: float = 2.0,
    *,
    seed: int = 0,
    profile: bool = True,
    **timing: Any,
) -> Measurement:
    """Time ``backend.train_step`` at ``config`` within ``budget_s``; attach the measured split.

    The step returns the loss as a Python float, so a GPU step is timed to completion (readback).
    A backend with the option ``timestamps`` is always timed with it on: each step then leaves its
    device span in ``last_span_s`` (two timestamps, cheap enough to keep while timing), and
    ``device_s`` is the median span of the timed steps, ``overhead_s`` the median wall time minus
    it. With ``profile``, its per-kernel profile (one pass per kernel, slower than the step) runs
    afterwards, for shares by kernel only (``per_op_s``). ``describe()`` of the timed instance
    lands in ``Measurement.extra["describe"]``. After the first step the backend settles its
    device (``settle_device``: a GPU brought to its working clocks; its record in
    ``extra["settle"]``).
    ``timing`` (``min_samples``, ``min_span_s``: the stopping rule's floor) goes to ``time_fn``.
    """
    options = dict(options or {})
    if "timestamps" in _opts(backend):
        # every round the same set-up: the span is on whether or not this round also profiles
        options.setdefault("timestamps", True)
    b, tokens, targets = prepare_step(backend, config, options, seed)
    spans: list[float | None] = []

    def step() -> None:
        b.train_step(tokens, targets)
        spans.append(getattr(b, "last_span_s", None))

    try:
        m = time_fn(step, budget_s, settle=b.settle_device, **timing)
        m.extra["describe"] = _safe_describe(b)
        per_op = profile_split(b, tokens, targets, _runs(m)) if profile else None
        timed = spans[-m.n :]
        if timed and all(s is not None for s in timed):
            attach_span(m, timed, per_op)
        else:
            m.with_split(per_op)
            if per_op:
                m.extra["split_from"] = "per-op profile"
    finally:
        b.close()
    return m


def attach_span(m: Measurement, spans: list[float], per_op_s: dict[str, float] | None) -> None:
    """The measured split from the timed steps' own device spans (``spans[i]`` belongs to
    ``m.samples[i]``): ``device_s`` is their median, ``overhead_s`` the median wall time minus it.

    Each span lies inside its step's wall time, so the overhead is never negative unless the two
    clocks disagree; then it is left unknown and the point marked noisy, as for a profile.
    """
    m.device_s = float(np.median(spans))
    rest = m.median_s - m.device_s
    m.overhead_s = rest if rest >= 0 else None
    m.noisy = bool(m.noisy or rest < 0)
    m.per_op_s = dict(per_op_s) if per_op_s else None
    m.extra["split_from"] = "step span"
    m.extra["span_samples"] = [float(s) for s in spans]


def check_parity(backend: str, options: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Gradients of ``backend`` vs the float64 reference on an awkward shape, same init and batch.

    Returns ``(passed, message)``. Raises ``BackendError`` when the backend cannot be created at
    any parity shape, or when the reference itself is unavailable.
    """
    last: BackendError | None = None
    for config in PARITY_CONFIGS:
        try:
            b, tokens, targets = prepare_step(backend, config, options)
        except BackendError as e:
            last = e
            continue
        try:
            loss, grads = b.loss_and_grads(tokens, targets)
        finally:
            b.close()
        ref, _, _ = prepare_step("reference", config)
        ref_loss, ref_grads = ref.loss_and_grads(tokens, targets)
        if not np.isfinite(loss) or abs(loss - ref_loss) > 1e-4 * max(1.0, abs(ref_loss)):
            return False, f"loss {loss:.6g} vs reference {ref_loss:.6g} at {config.label()}"
        worst, where = 0.0, ""
        for name, g in ref_grads.items():
            got = np.asarray(grads.get(name, np.full_like(g, np.nan)), np.float64)
            err = np.linalg.norm(got - g) / max(np.linalg.norm(g), 1e-12)
            if not np.isfinite(err) or err > worst:
                worst, where = (np.inf if not np.isfinite(err) else err), name
        if worst > PARITY_RTOL:
            return False, f"grad {where} rel err {worst:.2g} > {PARITY_RTOL} at {config.label()}"
        return True, f"ok at {config.label()} (worst grad rel err {worst:.1g})"
    assert last is not None
    raise last


def _runs(m: Measurement) -> int:
    return 1 if m.median_s > SLOW_STEP_S else PROFILE_RUNS


def _opts(backend: str) -> list[str]:
    try:
        return backend_options(backend)
    except BackendError:
        return []


def _safe_describe(b: Backend) -> dict[str, Any]:
    try:
        d = b.describe()
        return dict(d) if isinstance(d, dict) else {"describe": repr(d)}
    except Exception as e:  # a describe() bug must not lose a measured point
        return {"describe_error": f"{type(e).__name__}: {e}"}
