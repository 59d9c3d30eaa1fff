"""How the H200's speed recovers after idling, and what brings it back fastest (one device call).

    python results/h200-clocks/clocks.py OUT_DIR

Phases, in one process on one GPU backend (`medium`, fa2, timestamps on): `cold` (steps from the
first one, for COLD_S seconds: a fresh machine), then for each idle gap a sleep followed by
STEPS_S seconds of steps, then after a 3 s gap each pre-load (the FMA probe run back to back for
some seconds) followed by steps. Every step's start, wall time and device span go to
steps.jsonl; nvidia-smi (when present) logs SM clock, pstate, power every 50 ms to smi.csv.
Prints per phase the medians of wall / span in windows after the load starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLD_S = float(os.environ.get("CLOCKS_COLD_S", 30))
STEPS_S = float(os.environ.get("CLOCKS_STEPS_S", 2.0))
IDLES = [float(x) for x in os.environ.get("CLOCKS_IDLES", "0.25,0.5,1,2,4").split(",")]
PRELOADS = [float(x) for x in os.environ.get("CLOCKS_PRELOADS", "0.1,0.3,1").split(",")]
WINDOWS = [(0, 0.05), (0.05, 0.15), (0.15, 0.3), (0.3, 0.6), (0.6, 1.0), (1.0, 2.0)]


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    smi = None
    if shutil.which("nvidia-smi"):
        smi = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=timestamp,clocks.sm,clocks.mem,pstate,power.draw,"
             "utilization.gpu", "--format=csv,noheader", "-lms", "50"],
            stdout=open(out / "smi.csv", "w"), stderr=subprocess.STDOUT)
    from backends import get_backend
    from backends.gpu.microbench import MicroBench
    from bench.measure import make_batch
    from bench.model import PRESETS, init_params

    cfg = PRESETS["medium"]
    b = get_backend("gpu", cfg, attention="fa2", timestamps=True)
    print("adapter:", b.describe().get("adapter"), flush=True)
    b.load_params(init_params(cfg, 0))
    tok, tgt = make_batch(cfg)
    probe = MicroBench().fma_probe()
    rec = open(out / "steps.jsonl", "w")
    summary = []

    def steps(phase: str, seconds: float) -> None:
        t_start = time.perf_counter()
        rows = []
        while time.perf_counter() - t_start < seconds:
            t0 = time.perf_counter()
            b.train_step(tok, tgt)
            t1 = time.perf_counter()
            rows.append((t0 - t_start, t1 - t0, b.last_span_s))
        rec.write(json.dumps({"phase": phase, "unix_start": time.time() - seconds,
                              "steps": rows}) + "\n")
        rec.flush()
        line = {"phase": phase, "n": len(rows)}
        for lo, hi in WINDOWS:
            w = [r for r in rows if lo <= r[0] < hi]
            if w:
                line[f"{lo}-{hi}"] = (1e3 * float(np.median([r[1] for r in w])),
                                      1e3 * float(np.median([r[2] or 0 for r in w])))
        summary.append(line)
        print(json.dumps(line), flush=True)

    def preload(seconds: float) -> int:
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            probe.run()
            n += 1
        return n

    steps("cold", COLD_S)
    for idle in IDLES:
        time.sleep(idle)
        steps(f"idle {idle:g} s", STEPS_S)
    for pre in PRELOADS:
        time.sleep(3.0)
        n = preload(pre)
        steps(f"idle 3 s, fma probe {pre:g} s ({n} runs)", STEPS_S)
    time.sleep(3.0)
    t0 = time.perf_counter()
    times = []
    while time.perf_counter() - t0 < 1.5:  # the probe itself after idling: its own ramp
        s = time.perf_counter()
        probe.run()
        times.append((s - t0, time.perf_counter() - s))
    rec.write(json.dumps({"phase": "probe after 3 s idle", "steps": times}) + "\n")
    print("probe after idle (t, ms):", [(round(t, 3), round(d * 1e3, 2)) for t, d in times[:12]],
          "... last", [round(d * 1e3, 2) for _, d in times[-3:]], flush=True)
    probe.close()
    b.close()
    rec.close()
    if smi:
        smi.terminate()
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    hdr = "| phase | n | " + " | ".join(f"{lo}-{hi} s wall/span ms" for lo, hi in WINDOWS) + " |"
    print(hdr)
    for line in summary:
        cells = [f"{line[k][0]:.2f}/{line[k][1]:.2f}" if k in line else "-"
                 for k in (f"{lo}-{hi}" for lo, hi in WINDOWS)]
        print(f"| {line['phase']} | {line['n']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
