"""An independent oracle: PyTorch autograd + torch.optim.AdamW on the same parameters.

It shares no code with the NumPy backends (its backward is autograd's), so agreement here means
the hand-derived maths and the AdamW details (decoupled decay, bias correction) are right.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AWKWARD, assert_adam_params_close, assert_grads_close, make_batch

from backends import get_backend
from bench.model import PRESETS, OptimConfig, init_params

pytest.importorskip("torch")


@pytest.mark.parametrize("cfg", [PRESETS["micro"], AWKWARD], ids=["micro", "awkward"])
def test_torch_matches_cpu_loss_grads_and_updates(cfg):
    params = init_params(cfg, seed=11)
    opt = OptimConfig(lr=3e-3)
    torch_b = get_backend("torch", cfg, device="cpu", optim=opt)
    cpu_b = get_backend("cpu", cfg, optim=opt)
    ref_b = get_backend("reference", cfg, optim=opt)
    for b in (torch_b, cpu_b, ref_b):
        b.load_params(params)
    tokens, targets = make_batch(cfg, seed=5)
    lt, gt = torch_b.loss_and_grads(tokens, targets)
    lc, gc = cpu_b.loss_and_grads(tokens, targets)
    lr_, gr = ref_b.loss_and_grads(tokens, targets)
    assert abs(lt - lr_) < 1e-5 * lr_ and abs(lc - lr_) < 1e-5 * lr_
    assert_grads_close(gt, gr)
    assert_grads_close(gc, gt)
    for s in range(4):
        batch = make_batch(cfg, seed=20 + s)
        losses = [b.train_step(*batch) for b in (torch_b, cpu_b, ref_b)]
        assert max(losses) - min(losses) < 1e-5 * losses[2], f"step {s}: {losses}"
    pt, pc = torch_b.get_params(), cpu_b.get_params()
    for n in params:
        assert np.abs(pt[n] - params[n]).max() > 1e-3, f"{n} did not move"
        assert_adam_params_close(pc[n], pt[n], opt.lr, n)
