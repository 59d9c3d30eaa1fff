"""Why a host-bound GPU step flips between a fast and a slow state for seconds at a time while
the GPU's clock stays at its maximum (drift_probe.py): per 0.25 s bin, the step's median, the CPU
the main thread ran on, the host's steal time (a VM's vCPU waiting for its physical core) and
this process's CPU use, unpinned and with the main thread pinned to one core.

    python results/h200/s5/host_probe.py PRESET SECONDS
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from bench.measure import prepare_step
from bench.model import PRESETS


def cpu_of_thread() -> int:
    with open("/proc/thread-self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])


def steal_ticks() -> int:
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def sentinel() -> float:
    """A fixed pure-Python workload's best time of 5 (us): the host core's own speed."""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        x = 0
        for i in range(2000):
            x += i * i
        best = min(best, time.perf_counter() - t)
    return best * 1e6


def run(step, seconds: float, label: str) -> list[float]:
    hz = os.sysconf("SC_CLK_TCK")
    t_start = time.perf_counter()
    out = []
    while time.perf_counter() - t_start < seconds:
        b0, s0, c0, cpus = time.perf_counter(), steal_ticks(), time.process_time(), set()
        d, sen = [], []
        while time.perf_counter() - b0 < 0.25:
            t = time.perf_counter()
            step()
            d.append(time.perf_counter() - t)
            cpus.add(cpu_of_thread())
            if len(d) % 8 == 1:
                sen.append(sentinel())
        wall = time.perf_counter() - b0
        out.append(float(np.median(d)))
        print(f"{label:10s} {time.perf_counter() - t_start:5.2f}s step {np.median(d) * 1e3:.3f} ms "
              f"sentinel {np.median(sen):.1f} us cpus {sorted(cpus)} "
              f"steal {(steal_ticks() - s0) / hz / wall:.2f} cores "
              f"proc {(time.process_time() - c0) / wall:.2f} cores", flush=True)
    return out


def main() -> None:
    preset, seconds = sys.argv[1], float(sys.argv[2])
    b, tok, tgt = prepare_step("gpu", PRESETS[preset], {"matmul": "auto", "attention": "fa2"})
    b.train_step(tok, tgt)
    b.settle_device()

    def step():
        return b.train_step(tok, tgt)

    every = os.sched_getaffinity(0)
    summary = {}
    lo, hi = sorted(every)[len(every) // 4], sorted(every)[3 * len(every) // 4]
    for label, cpus in [("free", every), (f"pin{lo}", {lo}), ("free", every), (f"pin{hi}", {hi}),
                        (f"pin{lo}", {lo})]:
        os.sched_setaffinity(threading_id(), cpus)
        summary.setdefault(label, []).extend(run(step, seconds, label))
    os.sched_setaffinity(threading_id(), every)
    for label, v in summary.items():
        v = np.array(v) * 1e3
        print(f"{label}: bins {len(v)}, median {np.median(v):.3f} ms, "
              f"p10 {np.percentile(v, 10):.3f}, p90 {np.percentile(v, 90):.3f}, "
              f"max/min {v.max() / v.min():.2f}")


def threading_id() -> int:
    """The main thread's kernel id: sched_setaffinity(tid) pins only that thread."""
    return __import__("threading").get_native_id()


if __name__ == "__main__":
    main()
