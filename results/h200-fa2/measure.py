"""The fa2 measurement on the lent GPU (one device call): parity, kernels beside SDPA, old vs new.

    python results/h200-fa2/measure.py OUT_DIR [OLD_TREE]

Role "new" (default): fa2 parity at awkward shapes on this adapter (every candidate layout of
CANDIDATES that fits the shape, outputs NaN-poisoned, against the float64 reference, plus a
bitwise rerun), then ``bench.kernel_bench.run_kernels`` over the issue's attention shapes (fa2
with its defaults and with each candidate's override constants, SDPA beside each), then (unless
FA2_NO_STEPS) the mega and behemoth training steps. With OLD_TREE, the same kernel shapes (and
steps) are timed again from that checkout (role "old", in a subprocess importing only APIs both
trees have). Rows go to OUT_DIR; a short table is printed.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

SHAPES = [(8, 4, 128, 32), (8, 12, 256, 32), (8, 16, 512, 32), (8, 24, 512, 32), (4, 8, 1024, 64),
          (4, 8, 2048, 64)]
STEPS = () if os.environ.get("FA2_NO_STEPS") else ("mega", "behemoth")
PARITY = [(2, 37, 3, 12), (1, 19, 1, 72), (1, 130, 2, 40), (2, 300, 3, 33), (1, 1000, 2, 64),
          (1, 515, 1, 128), (3, 77, 2, 5), (1, 1, 2, 4)]  # (B, T, H, hd)
# candidate layouts (label -> override constants for every fa2 kernel, over the derived ones;
# the default is "fa2"); round 4: lane sums by subgroup shuffles (SG = 1, with which IL = 1 also
# applies at G > 1), two resident rows per invocation (RR = 2, at G = 4 for hd 64 or G = 2 for
# hd 32), and the prefetch (PF = 2) or all score groups at once (IL = 0) with them
CANDIDATES = {"fa2:SG": {"SG": 1}, "fa2:SG:IL0": {"SG": 1, "IL": 0},
              "fa2:SG:PF2": {"SG": 1, "PF": 2}, "fa2:RR2G4": {"RR": 2, "G": 4},
              "fa2:RR2G4:SG": {"RR": 2, "G": 4, "SG": 1},
              "fa2:RR2G4:SG:IL0": {"RR": 2, "G": 4, "SG": 1, "IL": 0},
              "fa2:RR2G4:SG:PF2": {"RR": 2, "G": 4, "SG": 1, "PF": 2},
              "fa2:RR2G2:SG": {"RR": 2, "G": 2, "SG": 1},
              "fa2:RR2G2:SG:PF2": {"RR": 2, "G": 2, "SG": 1, "PF": 2},
              # round 5: small grids (huge: 384 workgroups at G = 1): rows over more lanes
              "fa2:G2": {"G": 2}, "fa2:G4": {"G": 4}, "fa2:G2:SG": {"G": 2, "SG": 1},
              "fa2:G4:SG": {"G": 4, "SG": 1}, "fa2:G2:SG:PF2": {"G": 2, "SG": 1, "PF": 2},
              "fa2:G2:SG:ST1": {"G": 2, "SG": 1, "ST": 1}}
if os.environ.get("FA2_CANDIDATES"):  # "label,label" (without "fa2:") instead of all
    CANDIDATES = {k: v for k, v in CANDIDATES.items()
                  if k[4:] in os.environ["FA2_CANDIDATES"].split(",")}
if os.environ.get("FA2_SHAPES"):  # "B,H,T,hd;..." instead of SHAPES
    SHAPES = [tuple(int(x) for x in s.split(",")) for s in os.environ["FA2_SHAPES"].split(";")]
if os.environ.get("FA2_SMOKE"):  # a dry run of this script on the software adapter
    SHAPES, STEPS, PARITY = [(1, 2, 20, 8)], ("micro",), [(1, 19, 1, 40)]


def steps(budget: float) -> list[dict]:
    import numpy as np

    from backends import get_backend
    from bench.model import PRESETS, init_params
    from bench.timing import time_fn

    out = []
    for name in STEPS:
        cfg = PRESETS[name]
        b = get_backend("gpu", cfg, matmul="auto", attention="fa2")
        b.load_params(init_params(cfg, 0))
        rng = np.random.default_rng(0)
        tok, tgt = (rng.integers(0, cfg.vocab, (cfg.batch, cfg.seq_len)) for _ in (0, 1))
        m = time_fn(lambda b=b, tok=tok, tgt=tgt: b.train_step(tok, tgt), budget)
        out.append({"kind": "step", "preset": name, "seconds": m.median_s, "samples": m.n,
                    "ci_low_s": m.ci_low_s, "ci_high_s": m.ci_high_s})
    return out


def old_role(out_dir: Path) -> None:
    from backends.gpu.microbench import MicroBench
    from bench.kernel_bench import time_case

    mb = MicroBench()
    rows = []
    for B, H, T, hd in SHAPES:
        case = mb.attention("fa2", B=B, H=H, T=T, hd=hd, repeats=2)
        try:
            m, how, _ = time_case(case, 0.25)
        finally:
            case.close()
        rows.append({"kind": "attention", "variant": "fa2-old", "B": B, "H": H, "T": T, "hd": hd,
                     "seconds": m.median_s, "timing": how, "samples": m.n})
    print(json.dumps(rows + steps(1.5)))


def parity() -> list[str]:
    import numpy as np

    from backends import reference as R
    from backends.gpu import run_attention
    from kernels import registry

    lines = []
    for B, T, H, hd in PARITY:
        C = H * hd
        rng = np.random.default_rng(T + hd)
        qkv = rng.standard_normal((B * T, 3 * C)).astype(np.float32)
        dout = rng.standard_normal((B * T, C)).astype(np.float32)
        ref_out, cache = R.attention_fwd(qkv.reshape(B, T, 3 * C).astype(np.float64), H)
        want = R.attention_bwd(dout.reshape(B, T, C).astype(np.float64), cache)
        for label, consts in {"fa2": {}, **CANDIDATES}.items():
            try:
                registry.check_attention_constants("fa2", hd, consts)
            except registry.VariantError:
                continue
            out, _, dqkv = run_attention("fa2", qkv, dout, B, H, consts)
            errs = []
            for got, ref in ((out, ref_out), (dqkv, want)):
                ref = ref.reshape(got.shape)
                errs.append(float(np.max(np.abs(got - ref)) / max(1.0, np.abs(ref).max())))
            _, _, again = run_attention("fa2", qkv, dout, B, H, consts)
            same = bool(np.array_equal(dqkv, again))
            ok = all(np.isfinite(e) and e < 1e-4 for e in errs) and same
            lines.append(f"parity B,T,H,hd={B},{T},{H},{hd} {label}: out {errs[0]:.2g} dqkv "
                         f"{errs[1]:.2g} rerun-identical {same} -> {'ok' if ok else 'FAIL'}")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("FA2_ROLE") == "old":
        old_role(out)
        return
    from backends.gpu.device import get_device
    from bench import kernel_bench as kb

    print("adapter:", get_device().info(), flush=True)
    (out / "parity.txt").write_text("\n".join(parity()) + "\n")
    rows = kb.run_kernels(matmuls=[], attentions=["fa2"], attention_shapes=SHAPES,
                          attention_constants=CANDIDATES, budget_s=0.25,
                          progress=lambda line: print(line, flush=True))
    kb.write_csv(rows, out)
    new_steps = steps(1.5)
    old = []
    if len(sys.argv) > 2:
        env = {**os.environ, "FA2_ROLE": "old",
               "PYTHONPATH": f"/tmp/site:{Path(sys.argv[2]).resolve()}"}
        res = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(out)],
                             cwd=sys.argv[2], env=env, capture_output=True, text=True)
        (out / "old.log").write_text(res.stdout + res.stderr)
        if res.returncode == 0:
            old = json.loads(res.stdout.strip().splitlines()[-1])
    with (out / "old-and-steps.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["kind", "variant", "preset", "B", "H", "T", "hd",
                                          "seconds", "ci_low_s", "ci_high_s", "timing",
                                          "samples"], extrasaction="ignore")
        w.writeheader()
        w.writerows([{**r, "variant": r.get("variant", "fa2-new")} for r in new_steps] + old)
    print(kb.attention_table(rows))
    olds = {(r["B"], r["H"], r["T"], r["hd"]): r["seconds"] for r in old if r["kind"] != "step"}
    for r in rows:
        key = (r.get("B"), r.get("H"), r.get("T"), r.get("hd"))
        if r.get("variant") == "fa2" and key in olds and r.get("seconds"):
            print(f"old fa2 {key}: {1e3 * olds[key]:.3f} ms -> new {1e3 * r['seconds']:.3f} ms")
    for r in new_steps:
        print(f"step {r['preset']} new: {1e3 * r['seconds']:.2f} ms")
    for r in old:
        if r["kind"] == "step":
            print(f"step {r['preset']} old: {1e3 * r['seconds']:.2f} ms")


if __name__ == "__main__":
    main()
