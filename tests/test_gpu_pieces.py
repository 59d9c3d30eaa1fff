"""The step cut into pieces (several command buffers) and its device span, on the software adapter.

A piece boundary must change nothing: the same kernels run in the same order, so losses and
parameters are bit-identical to the one-piece step for every matmul x attention pair (whose
one-piece parity against the reference is tests/test_gpu_variants.py's), whatever the piece sizes,
wherever the per-step writes fall between the pieces and however the readback is waited for. The
span is two timestamps around the step's passes; the harness's overhead is wall minus that span.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from gpu_fixtures import fits, requires_adapter

from backends import BackendError, get_backend
from backends.gpu.backend import MARKS, WAIT_HARDWARE, WAIT_SOFTWARE
from backends.gpu.graph import split_even, split_growing
from bench.measure import measure_step
from bench.model import PRESETS, ModelConfig, init_params
from kernels import registry

pytestmark = requires_adapter

MICRO = PRESETS["micro"]
# Odd everything; two layers so a piece boundary falls inside a layer and between layers.
ODD = ModelConfig(d_model=40, n_layer=2, n_head=2, seq_len=13, batch=3)


def batch(config: ModelConfig, seed: int):
    rng = np.random.default_rng(seed)
    shape = (config.batch, config.seq_len)
    return rng.integers(0, config.vocab, shape), rng.integers(0, config.vocab, shape)


def run(config, steps: int, **options):
    gpu = get_backend("gpu", config, **options)
    gpu.load_params(init_params(config, 11))
    losses = [gpu.train_step(*batch(config, s)) for s in range(steps)]
    grads_loss, grads = gpu.loss_and_grads(*batch(config, 99))
    return losses, grads_loss, grads, gpu.get_params()


@pytest.mark.parametrize("n, pieces", [(1, 1), (10, 3), (10, 1), (7, 7), (5, 9), (112, 4)])
def test_split_even(n, pieces):
    bounds = split_even(n, pieces)
    assert len(bounds) == min(n, pieces)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [b - a for a, b in bounds]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes)  # the first piece is never the larger one


@pytest.mark.parametrize(
    "n, pieces, growth", [(112, 4, 2.0), (112, 3, 3.0), (31, 4, 2.0), (5, 4, 3.0), (7, 7, 2.0),
                          (112, 6, 1.5), (10, 3, 1.0)]
)
def test_split_growing(n, pieces, growth):
    bounds = split_growing(n, pieces, growth)
    assert len(bounds) == min(n, pieces)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [b - a for a, b in bounds]
    assert min(sizes) >= 1 and sizes == sorted(sizes)
    if growth == 1.0:
        assert bounds == split_even(n, pieces)
    elif n >= 4 * pieces:  # room to grow: the first piece is shorter than an even cut's
        assert sizes[0] < n // pieces and sizes[-1] > -(-n // pieces)


@pytest.mark.parametrize("n, pieces, growth", [(114, 6, 2.0), (114, 5, 2.0), (31, 4, 3.0),
                                               (6, 6, 2.0), (102, 2, 2.0)])
def test_split_tapered_is_short_at_both_ends(n, pieces, growth):
    bounds = split_growing(n, pieces, growth, taper=True)
    assert len(bounds) == min(n, pieces)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [b - a for a, b in bounds]
    assert min(sizes) >= 1
    assert all(abs(a - b) <= 1 for a, b in zip(sizes, sizes[::-1], strict=True))  # symmetric
    half = sizes[: (len(sizes) + 1) // 2]
    assert all(a <= b + 1 for a, b in zip(half, half[1:], strict=False))  # grows to the middle
    if n >= 4 * pieces and pieces >= 3:
        assert sizes[0] < n // pieces and sizes[-1] < n // pieces
    if pieces == 2:  # nothing to taper: two halves
        assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("attention", sorted(registry.ATTENTIONS))
@pytest.mark.parametrize("matmul", sorted(registry.MATMULS))
def test_pieces_change_nothing(matmul, attention):
    """Two training steps (new batch each, so the per-step upload is ordered before every piece)
    and a gradients-only step: identical for 1, 2 and 5 pieces, for one per dispatch, for pieces
    growing in size, and with the readback waited for on the calling thread."""
    if not fits(matmul):
        pytest.skip(f"{matmul}'s workgroup tiles exceed this adapter's workgroup memory")
    want = run(ODD, 2, matmul=matmul, attention=attention, pieces=1)
    for cut in (
        {"pieces": 2},
        {"pieces": 5},
        {"pieces": 10_000},
        {"pieces": 4, "piece_growth": 3.0, "piece_taper": True, "wait": "block"},
        {"pieces": 3, "piece_growth": 2.0, "wait": "spin"},
    ):
        got = run(ODD, 2, matmul=matmul, attention=attention, **cut)
        assert got[0] == want[0] and got[1] == want[1], cut
        for name in want[2]:
            np.testing.assert_array_equal(got[2][name], want[2][name], err_msg=f"grad {name} {cut}")
            np.testing.assert_array_equal(got[3][name], want[3][name], err_msg=f"param {name}")


@pytest.mark.parametrize("wait", ["thread", "block"])
def test_adamw_terms_written_ahead_follow_the_step(wait):
    """AdamW's terms go up one step ahead: a reset (``load_params``), a gradients-only step and
    a profiled step in between must still leave each training step its own step's terms, so the
    parameters equal those of a fresh backend running the same steps."""
    params = init_params(ODD, 4)
    opts = {"pieces": 3, "piece_growth": 2.0, "wait": wait, "timestamps": True}
    fresh = get_backend("gpu", ODD, **opts)
    fresh.load_params(params)
    fresh_losses = [fresh.train_step(*batch(ODD, s)) for s in range(3)]
    gpu = get_backend("gpu", ODD, **opts)
    for s in range(4):  # moves the step (and the terms written ahead) past where the others start
        gpu.train_step(*batch(ODD, 50 + s))
    gpu.load_params(params)
    losses = [gpu.train_step(*batch(ODD, 0))]
    gpu.loss_and_grads(*batch(ODD, 77))
    if gpu.profile_step(*batch(ODD, 1)) is not None:  # a training step, one pass per kernel
        losses.append(fresh_losses[1])
    else:
        losses.append(gpu.train_step(*batch(ODD, 1)))
    losses.append(gpu.train_step(*batch(ODD, 2)))
    assert losses == fresh_losses
    want, got = fresh.get_params(), gpu.get_params()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_marks_follow_the_step():
    gpu = get_backend("gpu", MICRO, pieces=3, marks=True, wait="spin")
    assert gpu.last_marks_s is None
    t0 = time.perf_counter()
    gpu.train_step(*batch(MICRO, 0))
    wall = time.perf_counter() - t0
    marks = gpu.last_marks_s
    assert list(marks) == list(MARKS) and marks["enter"] == 0
    values = list(marks.values())
    assert values == sorted(values) and values[-1] <= wall


@pytest.mark.parametrize(
    "option", [{"wait": "poll"}, {"piece_growth": 0.5}, {"piece_growth": True},
               {"piece_taper": 1},
               {"piece_growth": "2"}, {"piece_growth": 100}]
)
def test_bad_cut_or_wait_is_refused(option):
    with pytest.raises(BackendError, match=next(iter(option))):
        get_backend("gpu", MICRO, **option)


@pytest.mark.parametrize("pieces", [1, 3])
def test_step_span_lies_inside_the_step(pieces):
    gpu = get_backend("gpu", MICRO, timestamps=True, pieces=pieces)
    if gpu.describe()["timestamps"] != "on":
        pytest.skip("adapter without timestamp-query")
    assert gpu.describe()["step_span"] == "on"
    gpu.load_params(init_params(MICRO, 0))
    tokens, targets = batch(MICRO, 0)
    for _ in range(3):
        t0 = time.perf_counter()
        gpu.train_step(tokens, targets)
        wall = time.perf_counter() - t0
        assert 0 < gpu.last_span_s <= wall
    # a per-kernel profile is a different (profiled) step; it leaves the span alone
    span = gpu.last_span_s
    assert gpu.profile_step(tokens, targets)
    assert gpu.last_span_s == span


def test_no_span_without_timestamps():
    gpu = get_backend("gpu", MICRO)
    gpu.train_step(*batch(MICRO, 0))
    assert gpu.last_span_s is None
    assert gpu.describe()["step_span"] == "off"


def test_measured_overhead_is_wall_minus_span():
    """measure_step times the GPU with its span on: the split comes from the timed steps
    themselves (never negative), the per-kernel profile only gives shares."""
    m = measure_step("gpu", MICRO, {"pieces": 2}, budget_s=0.5)
    if m.extra.get("split_from") != "step span":
        pytest.skip("adapter without timestamp-query")
    spans = m.extra["span_samples"]
    assert len(spans) == m.n
    assert m.device_s == pytest.approx(float(np.median(spans)))
    assert m.overhead_s is not None and m.overhead_s >= 0
    assert m.overhead_s == pytest.approx(m.median_s - m.device_s)
    assert m.per_op_s and "adamw" in m.per_op_s
    assert m.extra["describe"]["command_buffers_per_step"] == 2


def test_default_wait_follows_the_adapter_type():
    gpu = get_backend("gpu", MICRO)
    want = WAIT_SOFTWARE if gpu.dev.software else WAIT_HARDWARE
    assert gpu.wait == want and gpu.describe()["wait"] == want


@pytest.mark.parametrize("wait", ["block", "spin"])
def test_calling_thread_waits_leave_the_poll_thread_idle(monkeypatch, wait):
    """Only one thread polls for a step: with the caller polling, wgpu-py's poll thread is never
    asked to (polling from both made steps wait far longer on a discrete GPU)."""
    gpu = get_backend("gpu", MICRO, wait=wait, timestamps=True)
    gpu.train_step(*batch(MICRO, 0))
    asked = []
    poller = gpu.dev.device._poller
    real = poller.get_token
    monkeypatch.setattr(poller, "get_token", lambda: (asked.append(1), real())[1])
    gpu.train_step(*batch(MICRO, 1))
    gpu.loss_and_grads(*batch(MICRO, 2))
    assert asked == [1]  # the gradients' own read (wgpu-py's read_buffer), not the step's
