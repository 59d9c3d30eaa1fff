"""The float32 NumPy backend against the float64 reference, and its user-facing errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AWKWARD, assert_adam_params_close, assert_grads_close, make_batch

from backends import BackendError, cpu_kernels, get_backend
from bench.model import PRESETS, OptimConfig, init_params


# float32 through a few layers: relative error ~1e-6 on typical entries; 1e-4 leaves room for
# accumulation order without hiding a wrong formula (those show as errors of order 1).
@pytest.mark.parametrize("threads", [1, 2])
def test_loss_and_grads_match_reference(parity_config, threads):
    params = init_params(parity_config, seed=1)
    tokens, targets = make_batch(parity_config, seed=2)
    ref = get_backend("reference", parity_config)
    ref.load_params(params)
    cpu = get_backend("cpu", parity_config, threads=threads)
    cpu.load_params(params)
    loss_r, grads_r = ref.loss_and_grads(tokens, targets)
    loss_c, grads_c = cpu.loss_and_grads(tokens, targets)
    assert abs(loss_c - loss_r) < 1e-5 * abs(loss_r)
    assert_grads_close(grads_c, grads_r)
    # loss_and_grads does not update the parameters
    assert all(np.array_equal(cpu.get_params()[n], params[n]) for n in params)


def test_adamw_trajectory_matches_reference():
    cfg = AWKWARD
    params = init_params(cfg, seed=3)
    opt = OptimConfig(lr=3e-3)  # larger than default so the parameters move visibly
    ref = get_backend("reference", cfg, optim=opt)
    cpu = get_backend("cpu", cfg, optim=opt)
    ref.load_params(params)
    cpu.load_params(params)
    for step in range(5):
        tokens, targets = make_batch(cfg, seed=10 + step)
        lr_, lc = ref.train_step(tokens, targets), cpu.train_step(tokens, targets)
        assert abs(lr_ - lc) < 1e-5 * lr_, f"step {step}"
    pr, pc = ref.get_params(), cpu.get_params()
    for n in params:
        moved = np.abs(pr[n] - params[n]).max()
        assert moved > 1e-3, f"{n} did not move"
        assert_adam_params_close(pc[n], pr[n], opt.lr, n)


def test_overfit_gate_one_batch():
    """On one fixed batch the loss falls from ~ln(256) = 5.5 to near zero (memorisation)."""
    cfg = PRESETS["micro"]
    cpu = get_backend("cpu", cfg, optim=OptimConfig(lr=1e-2, weight_decay=0.0))
    cpu.load_params(init_params(cfg, seed=0))
    tokens, targets = make_batch(cfg, seed=0)
    losses = [cpu.train_step(tokens, targets) for _ in range(300)]
    assert 5.3 < losses[0] < 5.8
    assert losses[-1] < 0.05, f"final loss {losses[-1]:.3f}"


def test_determinism_same_threads():
    cfg = PRESETS["tiny"]
    runs = []
    for _ in range(2):
        b = get_backend("cpu", cfg, threads=2)
        b.load_params(init_params(cfg, seed=4))
        for s in range(3):
            b.train_step(*make_batch(cfg, seed=s))
        runs.append(b.get_params())
    assert all(np.array_equal(runs[0][n], runs[1][n]) for n in runs[0])


def test_describe_reports_cpu_and_threads():
    d = get_backend("cpu", PRESETS["micro"], threads=1).describe()
    assert d["threads"] == 1 and d["cores"] >= 1
    assert d["cpu"]
    assert "openblas" in d["blas"].lower() or "mkl" in d["blas"].lower()


@pytest.mark.parametrize(
    "tokens, match",
    [
        (np.zeros((8, 16), np.float32), "integer array"),
        (np.zeros((8, 15), np.int64), r"shape \[batch, seq_len\] = \[8, 16\]"),
        (np.full((8, 16), 256), r"ids must be in 0..255"),
        (np.full((8, 16), -1), r"ids must be in 0..255"),
    ],
)
def test_bad_batches(tokens, match):
    cfg = PRESETS["micro"]
    b = get_backend("cpu", cfg)
    b.load_params(init_params(cfg))
    with pytest.raises(BackendError, match=match):
        b.train_step(tokens, np.zeros((8, 16), np.int64))


def test_bad_params():
    cfg = PRESETS["micro"]
    b = get_backend("cpu", cfg)
    p = init_params(cfg)
    with pytest.raises(BackendError, match="missing parameter.*lnf.g"):
        b.load_params({n: a for n, a in p.items() if n != "lnf.g"})
    with pytest.raises(BackendError, match=r"h0.mlp.fc must have shape \[16, 64\]"):
        b.load_params({**p, "h0.mlp.fc": np.zeros((16, 63), np.float32)})
    with pytest.raises(BackendError, match="unknown parameter.*extra"):
        b.load_params({**p, "extra": np.zeros(3)})
    with pytest.raises(BackendError, match="no parameters loaded"):
        b.train_step(*make_batch(cfg))


def test_bad_backend_and_options():
    cfg = PRESETS["micro"]
    with pytest.raises(BackendError, match="unknown backend 'tpu'.*cpu"):
        get_backend("tpu", cfg)
    with pytest.raises(BackendError, match="unknown option.*'thread'.*threads"):
        get_backend("cpu", cfg, thread=2)
    with pytest.raises(BackendError, match="threads must be a positive int"):
        get_backend("cpu", cfg, threads=0)
    with pytest.raises(BackendError, match="exceeds the .* threads Numba started with"):
        get_backend("cpu", cfg, threads=10_000)


def test_fast_exp_matches_numpy():
    """The vectorisable float32 exp behind GELU and every softmax: a few ulp, 0 far below."""
    x = np.linspace(-120.0, 88.0, 400_001, dtype=np.float32)
    got = np.empty_like(x)
    cpu_kernels.exp_array(x, got)
    want = np.exp(x.astype(np.float64))
    live = x > -87.0
    assert np.max(np.abs(got[live] - want[live]) / want[live]) < 4e-7
    assert np.all(got[~live] == 0.0)
    neg_inf = np.array([-np.inf], np.float32)
    cpu_kernels.exp_array(neg_inf, neg_inf)
    assert neg_inf[0] == 0.0


def test_results_do_not_depend_on_thread_count():
    """The compiled ops split rows, never a reduction, across threads (LayerNorm's dg/db use a
    fixed number of chunks), so only the BLAS could make 1 and 2 threads differ: tightly close."""
    cfg = PRESETS["tiny"]
    grads = []
    for threads in (1, 2):
        b = get_backend("cpu", cfg, threads=threads, attention="fa2")
        b.load_params(init_params(cfg, seed=5))
        grads.append(b.loss_and_grads(*make_batch(cfg, seed=1))[1])
    for n in grads[0]:
        np.testing.assert_allclose(grads[0][n], grads[1][n], rtol=1e-4, atol=1e-6, err_msg=n)


@pytest.mark.parametrize("attention", ["naive", "fa2"])
def test_attention_variants_match_reference(attention):
    """Both CPU attention variants, at a seq_len that is not a multiple of the fa2 block."""
    cfg = AWKWARD.replace(seq_len=150, d_model=24)  # 150 = 2 full 64-blocks + a ragged 22
    params = init_params(cfg, seed=8)
    tokens, targets = make_batch(cfg, seed=9)
    ref = get_backend("reference", cfg)
    ref.load_params(params)
    cpu = get_backend("cpu", cfg, attention=attention, threads=2)
    cpu.load_params(params)
    loss_r, grads_r = ref.loss_and_grads(tokens, targets)
    loss_c, grads_c = cpu.loss_and_grads(tokens, targets)
    assert abs(loss_c - loss_r) < 1e-5 * loss_r
    assert_grads_close(grads_c, grads_r)


def test_fa2_holds_no_score_matrix():
    """Over a whole step, fa2 keeps O(T) per group for the backward (one LSE per row); naive
    keeps P (G, T, T). The workspace holds every array the step keeps, and a second step
    allocates nothing new."""
    cfg = PRESETS["tiny"]
    G, T = cfg.batch * cfg.n_head, cfg.seq_len
    tokens, targets = make_batch(cfg, 0)
    shapes = {}
    for variant in ("naive", "fa2"):
        b = get_backend("cpu", cfg, attention=variant)
        b.load_params(init_params(cfg))
        b.train_step(tokens, targets)
        bufs = dict(b.ws._bufs)
        b.train_step(tokens, targets)
        assert all(b.ws._bufs[n] is a for n, a in bufs.items()) and len(b.ws._bufs) == len(bufs)
        shapes[variant] = list(b.ws.shapes().values())
    assert (G, T, T) in shapes["naive"]
    assert all(s[-2:] != (T, T) for s in shapes["fa2"]), shapes["fa2"]
    assert (G, T) in shapes["fa2"], shapes["fa2"]
    with pytest.raises(BackendError, match="unknown CPU attention variant 'flash'.*naive, fa2"):
        get_backend("cpu", cfg, attention="flash")
