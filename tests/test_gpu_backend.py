"""The GPU backend end to end on the software adapter: parity, optimiser, overfit, errors, timing.

Sized for lavapipe (about 1000x slower than a GPU): micro and a small awkward config. A ``tiny``
side-by-side run is left out: at ~12 s per step on lavapipe, 50 steps do not fit the test budget.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_fixtures import requires_adapter

from backends import BackendError, get_backend
from bench.model import PRESETS, ModelConfig, OptimConfig, init_params

pytestmark = requires_adapter

MICRO = PRESETS["micro"]
# Odd head count, prime sequence length, batch 3, d_model not a multiple of 16 or 64.
AWKWARD = ModelConfig(d_model=48, n_layer=2, n_head=3, seq_len=37, batch=3)


def batch(config: ModelConfig, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (config.batch, config.seq_len)
    return rng.integers(0, config.vocab, shape), rng.integers(0, config.vocab, shape)


def pair(name: str, config: ModelConfig, seed: int = 0, optim: OptimConfig | None = None,
         **gpu_options):
    params = init_params(config, seed)
    a = get_backend("gpu", config, optim=optim, **gpu_options)
    b = get_backend(name, config, optim=optim)
    a.load_params(params)
    b.load_params(params)
    return a, b


@pytest.mark.parametrize("pieces", [1, 3])
@pytest.mark.parametrize("config", [MICRO, AWKWARD], ids=["micro", "awkward"])
def test_loss_and_grads_match_reference(config, pieces):
    gpu, ref = pair("reference", config, seed=3, pieces=pieces)
    tokens, targets = batch(config, 1)
    loss, grads = gpu.loss_and_grads(tokens, targets)
    want_loss, want = ref.loss_and_grads(tokens, targets)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert set(grads) == set(want)
    for name, g in want.items():
        assert grads[name].dtype == np.float32
        scale = np.abs(g).max() + 1e-12
        err = np.abs(grads[name] - g).max() / scale
        assert err < 1e-4, f"{name}: relative error {err:.2e}"
    # loss_and_grads does not update: a second call gives the same numbers
    loss2, grads2 = gpu.loss_and_grads(tokens, targets)
    assert loss2 == loss
    np.testing.assert_array_equal(grads2["wte"], grads["wte"])


@pytest.mark.parametrize("pieces", [1, 4])
def test_adamw_trajectory(pieces):
    """Four AdamW steps: the update matches torch's AdamW applied (in float64) to the GPU's own
    gradients, and the losses follow the reference. (Comparing parameters with the reference's
    directly is ill-conditioned: Adam turns float32 noise in tiny gradients into steps of ~lr.)"""
    from backends.reference import adamw_update

    opt = OptimConfig(lr=3e-3, weight_decay=0.1)
    gpu, ref = pair("reference", AWKWARD, seed=5, optim=opt, pieces=pieces)
    tokens, targets = batch(AWKWARD, 2)
    host = {k: v.astype(np.float64) for k, v in gpu.get_params().items()}
    m = {k: np.zeros_like(v) for k, v in host.items()}
    v = {k: np.zeros_like(x) for k, x in host.items()}
    for step in range(1, 5):
        _, grads = gpu.loss_and_grads(tokens, targets)
        for k in host:
            adamw_update(host[k], grads[k].astype(np.float64), m[k], v[k], step, opt)
        a, b = gpu.train_step(tokens, targets), ref.train_step(tokens, targets)
        assert a == pytest.approx(b, rel=1e-4), f"step {step}"
        got = gpu.get_params()
        for k in host:
            np.testing.assert_allclose(got[k], host[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # load_params resets the optimiser: the first step repeats exactly
    params = init_params(AWKWARD, 5)
    gpu.load_params(params)
    ref.load_params(params)
    assert gpu.train_step(tokens, targets) == pytest.approx(ref.train_step(tokens, targets),
                                                            rel=1e-5)


def test_overfit_one_batch():
    gpu = get_backend("gpu", MICRO, optim=OptimConfig(lr=1e-2))
    gpu.load_params(init_params(MICRO, 0))
    tokens, targets = batch(MICRO, 0)
    first = gpu.train_step(tokens, targets)
    assert 5.3 < first < 5.8
    for _ in range(200):
        loss = gpu.train_step(tokens, targets)
        if loss < 0.05:
            break
    assert loss < 0.05, f"loss still {loss:.3f} after 200 steps"


@pytest.mark.parametrize(("pieces", "tune"), [(1, "auto"), (4, "on")])
def test_gpu_and_cpu_train_side_by_side(pieces, tune, tmp_path, monkeypatch):
    """``auto`` by rule (the software adapter's default) and by measurement (forced), each with
    the step in one command buffer and in several."""
    monkeypatch.setenv("GPT_CURVES_TUNE_CACHE", str(tmp_path / "plans.json"))
    gpu, cpu = pair("cpu", MICRO, seed=7, pieces=pieces, tune=tune)
    assert gpu.describe()["matmul_tuning"]["measured"] == (tune == "on")
    for step in range(50):
        tokens, targets = batch(MICRO, 100 + step)
        a, b = gpu.train_step(tokens, targets), cpu.train_step(tokens, targets)
        assert abs(a - b) <= 0.01 * abs(b), f"step {step}: gpu {a} cpu {b}"


@pytest.mark.parametrize("pieces, want", [(1, 1), (4, 4), (1000, 9 + 19 * MICRO.n_layer)])
def test_submits_per_step_and_dispatch_count(monkeypatch, pieces, want):
    """One command buffer per piece, each submitted alone; more pieces than dispatches gives one
    dispatch per piece."""
    gpu = get_backend("gpu", MICRO, pieces=pieces)
    queue = gpu.dev.device.queue
    submitted = []
    real = queue.submit
    monkeypatch.setattr(queue, "submit", lambda bufs: (submitted.append(len(bufs)), real(bufs)))
    gpu.train_step(*batch(MICRO))
    assert submitted == [1] * want
    d = gpu.describe()
    assert d["command_buffers_per_step"] == want
    assert d["dispatches_per_step"] == 9 + 19 * MICRO.n_layer


@pytest.mark.parametrize("pieces", [0, -2, 1.5, True, "4"])
def test_bad_pieces_is_refused(pieces):
    with pytest.raises(BackendError, match="pieces"):
        get_backend("gpu", MICRO, pieces=pieces)


def test_describe_software_adapter():
    d = get_backend("gpu", MICRO).describe()
    for key in ("adapter", "vendor", "adapter_type", "backend", "driver", "wgpu_version",
                "software", "matmul", "attention", "dispatches_per_step", "timestamps"):
        assert key in d, key
    from backends.host import is_software
    from bench.environment import adapters

    assert d["software"] is is_software(d)  # adapter type CPU, or a rasteriser by name
    # describe() names the adapter the backend runs on: enumeration knows it, same type and flag
    same = [a for a in adapters() if a.get("adapter") == d["adapter"]]
    assert same and all((a["adapter_type"], a["software"]) == (d["adapter_type"], d["software"])
                        for a in same)


def test_profile_step():
    gpu = get_backend("gpu", MICRO, timestamps=True)
    off = get_backend("gpu", MICRO)
    assert off.profile_step(*batch(MICRO)) is None
    if gpu.describe()["timestamps"] != "on":
        assert gpu.profile_step(*batch(MICRO)) is None
        return
    before = gpu.get_params()["wte"]
    prof = gpu.profile_step(*batch(MICRO))
    assert "matmul_tiled16:nn" in prof and "adamw" in prof and "attn_naive_fwd" in prof
    assert all(v >= 0 for v in prof.values()) and sum(prof.values()) > 0
    assert not np.array_equal(gpu.get_params()["wte"], before)  # it was a training step


def test_bad_adapter_name():
    with pytest.raises(BackendError, match="no adapter matches"):
        get_backend("gpu", MICRO, adapter="no-such-gpu-xyz")


def test_adapter_env_var(monkeypatch):
    monkeypatch.setenv("WGPU_ADAPTER", "no-such-gpu-xyz")
    with pytest.raises(BackendError, match="WGPU_ADAPTER"):
        get_backend("gpu", MICRO)


@pytest.mark.parametrize("changes, limit", [
    (dict(d_model=1028, n_head=2), "head_dim"),
    (dict(seq_len=2048), "seq_len"),
    # probs [B,H,T,T] of 4.6 GB: over every device's binding limit (a u32 byte count)
    (dict(d_model=16, n_head=1, seq_len=1024, batch=1100), "max-storage-buffer"),
])
def test_oversized_config_is_refused(changes, limit):
    config = MICRO.replace(**changes)
    with pytest.raises(BackendError, match=limit):
        get_backend("gpu", config)


def test_bad_batch_is_refused():
    gpu = get_backend("gpu", MICRO)
    tokens, targets = batch(MICRO)
    with pytest.raises(BackendError):
        gpu.train_step(tokens[:, :-1], targets)


def test_matmul_shape_rule_falls_back_and_records(monkeypatch):
    """A variant whose shape rule refuses a call gets its fallback for that call, recorded."""
    from kernels import registry

    base = registry.MATMULS["tiled16"]
    picky = registry.MatmulVariant("picky", base.kernel,
                                   accepts=lambda form, M, N, K: K % 4 == 0, fallback="tiled16")
    monkeypatch.setitem(registry.MATMULS, "picky", picky)
    gpu = get_backend("gpu", MICRO, matmul="picky")
    fallbacks = gpu.describe()["matmul_fallbacks"]
    assert fallbacks == []  # micro: every K is a multiple of 4
    odd = MICRO.replace(batch=3, seq_len=7)  # K = B*T = 21 in the weight-gradient matmuls
    gpu = get_backend("gpu", odd, matmul="picky")
    assert any("picky->tiled16 tn" in f for f in gpu.describe()["matmul_fallbacks"])
    ref = get_backend("reference", odd)
    params = init_params(odd, 1)
    gpu.load_params(params)
    ref.load_params(params)
    tokens, targets = batch(odd)
    assert gpu.loss_and_grads(tokens, targets)[0] == pytest.approx(
        ref.loss_and_grads(tokens, targets)[0], rel=1e-5)
