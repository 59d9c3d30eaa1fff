"""Before timing the cuts and waits on the device: they change no result there either.

1. fa2 (default matmul) against the float64 reference (``bench.measure.check_parity``) for three
   cut/wait combinations; 2. at ``medium``, two training steps and a gradients-only step are
   bit-identical for every cut/wait timed by time_marks.py and the one-piece, poll-thread step;
3. 50 steps of GPU (a growing cut, waited on the calling thread) beside the CPU backend at micro
   stay within 1% loss. Exits 1 on the first failure. Run from the tree's root:
   ``python check_cuts.py OUT.json``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from backends import get_backend
from bench.measure import check_parity
from bench.model import PRESETS, init_params

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from time_marks import CUTS  # noqa: E402  (the cuts timed, beside this script)


def batch(config, seed):
    rng = np.random.default_rng(seed)
    shape = (config.batch, config.seq_len)
    return rng.integers(0, config.vocab, shape), rng.integers(0, config.vocab, shape)


def run(config, **opts):
    b = get_backend("gpu", config, attention="fa2", **opts)
    b.load_params(init_params(config, 11))
    losses = [b.train_step(*batch(config, s)) for s in range(2)]
    gl, grads = b.loss_and_grads(*batch(config, 99))
    out = losses, gl, grads, b.get_params()
    b.close()
    return out


def fail(out, path, msg):
    out["failed"] = msg
    print("FAIL", msg, flush=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    raise SystemExit(1)


def main() -> None:
    path = sys.argv[1]
    out = {"parity": {}, "identical": {}, "side_by_side": None}
    for pieces, growth, wait in [(1, 1.0, "block"), (4, 2.0, "spin"), (3, 3.0, "thread")]:
        opts = {"attention": "fa2", "pieces": pieces, "piece_growth": growth, "wait": wait}
        ok, msg = check_parity("gpu", opts)
        out["parity"][f"{pieces}/{growth}/{wait}"] = [ok, msg]
        print(f"parity fa2 pieces={pieces} growth={growth} wait={wait}: {ok} {msg}", flush=True)
        if not ok:
            fail(out, path, msg)
    cfg = PRESETS["medium"]
    want = run(cfg, pieces=1, wait="thread")
    for pieces, growth, wait in CUTS:
        got = run(cfg, pieces=pieces, piece_growth=growth, wait=wait)
        same = got[0] == want[0] and got[1] == want[1] and all(
            np.array_equal(got[k][n], want[k][n]) for k in (2, 3) for n in want[2]
        )
        out["identical"][f"{pieces}/{growth}/{wait}"] = bool(same)
        if not same:
            fail(out, path, f"medium {pieces}/{growth}/{wait} differs from one piece")
    print(f"medium: {len(CUTS)} cuts bit-identical to one piece", flush=True)
    micro = PRESETS["micro"]
    gpu = get_backend("gpu", micro, attention="fa2", pieces=4, piece_growth=2.0, wait="spin")
    cpu = get_backend("cpu", micro, attention="fa2")
    for b in (gpu, cpu):
        b.load_params(init_params(micro, 7))
    worst = 0.0
    for step in range(50):
        tokens, targets = batch(micro, 100 + step)
        a, c = gpu.train_step(tokens, targets), cpu.train_step(tokens, targets)
        worst = max(worst, abs(a - c) / abs(c))
    out["side_by_side"] = {"steps": 50, "worst_rel": worst}
    print(f"micro 50 steps GPU vs CPU: worst rel loss diff {worst:.2g}", flush=True)
    if worst > 0.01:
        fail(out, path, f"GPU vs CPU worst rel loss diff {worst}")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
