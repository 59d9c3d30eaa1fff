"""How a host-bound GPU step's time moves over seconds after the device settle, after idling
and after CPU load, with the SM clock beside it (nvidia-smi, when present). One process.

    python results/h200/s5/drift_probe.py PRESET OUT_PREFIX [CPU_LOAD_PRESET]

Writes OUT_PREFIX.steps.csv (phase, t since phase start, step seconds) and OUT_PREFIX.clocks.csv
(nvidia-smi samples), prints per-phase medians over 0.25 s bins.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np

from bench.measure import prepare_step
from bench.model import PRESETS
from bench.timing import time_fn


def run_for(step, seconds: float, phase: str, rows: list) -> None:
    t_start = time.perf_counter()
    while (now := time.perf_counter()) - t_start < seconds:
        step()
        rows.append((phase, now - t_start, time.perf_counter() - now))


def main() -> None:
    preset, prefix = sys.argv[1], sys.argv[2]
    load = sys.argv[3] if len(sys.argv) > 3 else "huge"
    smi = None
    if shutil.which("nvidia-smi"):
        smi = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=timestamp,clocks.sm,clocks.mem,utilization.gpu,power.draw",
             "--format=csv,noheader", "-lms", "50"], stdout=open(prefix + ".clocks.csv", "w"))
    b, tok, tgt = prepare_step("gpu", PRESETS[preset], {"matmul": "auto", "attention": "fa2"})
    b.train_step(tok, tgt)
    cpu, ctok, ctgt = prepare_step("cpu", PRESETS[load], {"attention": "fa2",
                                                          "threads": os.cpu_count()})
    cpu.train_step(ctok, ctgt)

    def step():
        return b.train_step(tok, tgt)

    rows: list = []
    marks = []
    for phase, before in [("settle", "settle"), ("idle2", "idle"), ("idle2+settle", "idle+settle"),
                          ("cpu2", "cpu"), ("cpu2+settle", "cpu+settle")]:
        if "idle" in before:
            time.sleep(2.0)
        if "cpu" in before:
            end = time.perf_counter() + 2.0
            while time.perf_counter() < end:
                cpu.train_step(ctok, ctgt)
        if "settle" in before:
            b.settle_device()
        marks.append((phase, time.time()))
        run_for(step, 5.0, phase, rows)
    # the CLI's way (rounds of 0.225 s after CPU load) against asv's (settle, 0.4 s warm, 1.5 s)
    cli = []
    for _ in range(4):
        end = time.perf_counter() + 0.5
        while time.perf_counter() < end:
            cpu.train_step(ctok, ctgt)
        m = time_fn(step, 0.225, settle=b.settle_device)
        cli.append((m.median_s, m.n, m.warmup_runs))
    b.settle_device()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.4:
        step()
    asv = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        s = time.perf_counter()
        step()
        asv.append(time.perf_counter() - s)
    if smi:
        smi.terminate()
    with open(prefix + ".steps.csv", "w") as f:
        f.write("phase,t_s,step_s\n")
        for p, t, d in rows:
            f.write(f"{p},{t:.5f},{d:.6f}\n")
        for ph, wall in marks:
            f.write(f"mark:{ph},{wall:.3f},0\n")
    print(f"preset {preset}: step ms, median per 0.25 s bin after each phase start")
    for phase in dict.fromkeys(p for p, _, _ in rows):
        t = np.array([r[1] for r in rows if r[0] == phase])
        d = np.array([r[2] for r in rows if r[0] == phase])
        bins = [np.median(d[(t >= a) & (t < a + 0.25)]) * 1e3 for a in np.arange(0, 5, 0.25)
                if ((t >= a) & (t < a + 0.25)).any()]
        print(f"{phase:14s}", " ".join(f"{x:.2f}" for x in bins))
    print("cli-style rounds (median ms, n, warm):",
          [(round(m * 1e3, 3), n, w) for m, n, w in cli])
    half = len(asv) // 2
    print(f"asv-style: median {np.median(asv) * 1e3:.3f} ms over {len(asv)}; first/second half "
          f"{np.median(asv[:half]) * 1e3:.3f} / {np.median(asv[half:]) * 1e3:.3f}")


if __name__ == "__main__":
    main()
