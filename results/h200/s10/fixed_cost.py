"""Session 10: where the narrow grids' time goes — a fixed cost per dispatch or the k-loop.

Session 9's via-tn timings put ``b128t84``'s tn tile path at 42.3 / 69.5 / 230.0 us for
4096 x 512 x K, K = 256 / 512 / 2048: a line of about 1.7 us per k-tile of 16 plus about 15 us
that does not grow with K. cuBLAS at the same shapes fits about 3 us plus its k-loop. This script
measures that line directly, and how the intercept depends on the way a dispatch is timed:

- ``per_dispatch``: the harness's way (``Case.run``): one compute pass per dispatch with
  beginning / end-of-pass timestamps, the per-rep sum of (end - begin);
- ``one_pass``: the same ``R`` dispatches in one compute pass (wgpu puts its barriers between them),
  timestamps only at that pass's beginning and end, divided by ``R`` — what cuBLAS's CUDA events
  around ``R`` back-to-back calls measure;
- ``gaps``: from the per-dispatch stamps, begin(i+1) - end(i) (negative: the next pass's beginning
  stamp was written before the previous pass's end stamp, so the intervals overlap);
- cuBLAS (``bench.vendor``) at the same shape.

Second part (``--steps CANDIDATES_CSV``): at each mega / behemoth step shape, the fastest
registry row of an earlier study's candidates (what ``auto`` picks, without a cold tune) timed both
ways, cuBLAS beside; ``step-shapes.csv`` and a table of ours / cuBLAS by each method.

``python3 results/h200/s10/fixed_cost.py OUT_DIR [--steps CANDIDATES_CSV]``: writes
``fixed-cost.csv`` and prints, per (variant, form), the least-squares line seconds = a + b * K of
each method.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import wgpu

from backends.gpu.microbench import MicroBench, settle
from bench import vendor
from bench.environment import git_commit

REPS = 10  # dispatches per command buffer
RUNS = 5  # command buffers per method; the median is kept
KS = (16, 64, 256, 512, 1024, 2048)
ROWS = (  # (variant, form, M, N)
    ("b128t84", "nn", 4096, 512),
    ("b128t84", "tn", 4096, 512),
    ("b128t84", "nt", 4096, 512),
    ("b128t84v4", "nn", 4096, 512),
    ("w128k4", "tn", 4096, 512),
    ("b64v4", "nn", 4096, 512),
    ("b128t84", "tn", 4096, 4096),
    ("w128k4", "tn", 4096, 4096),
)


def per_dispatch(case) -> tuple[float, list[float]]:
    """``Case.profile``'s seconds per rep (median of RUNS; ``Case.run`` at 6e809e1, call 2) and the
    last run's begin(i+1) - end(i)."""
    secs = sorted(case.profile() for _ in range(RUNS))
    n = 2 * len(case.graph.dispatches)
    case._read.map_sync(wgpu.MapMode.READ, 0, 8 * n)
    t = np.frombuffer(case._read.read_mapped(0, 8 * n), np.uint64).astype(np.int64)
    case._read.unmap()
    gaps = [(t[2 * i + 2] - t[2 * i + 1]) * 1e-9 for i in range(len(t) // 2 - 1)]
    return secs[len(secs) // 2], gaps


def time_both(mb: MicroBench, variant: str, form: str, M: int, N: int, K: int, splits: int
              ) -> tuple[float, list[float], float, float | None]:
    """(per-dispatch seconds, gaps, one-pass seconds, cuBLAS seconds) per call at one shape."""
    case = mb.matmul(variant, form, M, N, K, repeats=REPS, splits=splits)
    try:
        case.run()  # touch the buffers
        pd, gaps = per_dispatch(case)
        runs = sorted(case.run() for _ in range(RUNS))  # one pass (at 6e809e1: its own copy)
        op = runs[len(runs) // 2]
    finally:
        case.close()
    return pd, gaps, op, vendor.matmul_seconds(form, M, N, K)


def fit(ks: list[int], secs: list[float]) -> tuple[float, float]:
    b, a = np.polyfit(np.asarray(ks, float), np.asarray(secs, float), 1)
    return float(a), float(b)


def best_registry_rows(path: str) -> list[tuple[str, str, int, int, int, str, int]]:
    """(preset, form, M, N, K, variant, splits) of the fastest registry row per step shape."""
    from kernels import registry

    best: dict[tuple, tuple[float, str]] = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["preset"] == "cube" or r["candidate"].split()[0] not in registry.MATMULS:
                continue
            key = (r["preset"], r["form"], int(r["M"]), int(r["N"]), int(r["K"]))
            if key not in best or float(r["seconds"]) < best[key][0]:
                best[key] = (float(r["seconds"]), r["candidate"])
    out = []
    for key, (_, cand) in best.items():
        splits = int(cand.split("split")[1]) if "split" in cand else 1
        out.append((*key, cand.split()[0], splits))
    return out


def steps(mb: MicroBench, path: str, out_dir: Path, info: dict) -> None:
    rows = []
    for preset, form, M, N, K, variant, splits in best_registry_rows(path):
        pd, gaps, op, cub = time_both(mb, variant, form, M, N, K, splits)
        rows.append(dict(preset=preset, form=form, M=M, N=N, K=K, variant=variant,
                         splits=splits, per_dispatch_s=pd, one_pass_s=op, cublas_s=cub,
                         gap_median_s=float(np.median(gaps)) if gaps else "",
                         adapter=info["adapter"], driver=info["driver"],
                         git_commit=git_commit()))
    with (out_dir / "step-shapes.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\n| preset | form M x N x K | ran | cuBLAS us | per-dispatch us | one-pass us "
          "| cuBLAS / per-dispatch | cuBLAS / one-pass |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        cub = r["cublas_s"] or float("nan")
        ran = r["variant"] + (f" split{r['splits']}" if r["splits"] > 1 else "")
        print(f"| {r['preset']} | {r['form']} {r['M']}x{r['N']}x{r['K']} | {ran} "
              f"| {cub * 1e6:.1f} | {r['per_dispatch_s'] * 1e6:.1f} | {r['one_pass_s'] * 1e6:.1f} "
              f"| {cub / r['per_dispatch_s']:.2f} | {cub / r['one_pass_s']:.2f} |", flush=True)


def main(out: str, steps_from: str | None = None) -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    settle()
    mb = MicroBench()
    info = mb.describe()
    print("adapter:", info["adapter"], "|", info["driver"], "| cuda:", vendor.device_name())
    rows = []
    for variant, form, M, N in ROWS:
        for K in KS:
            pd, gaps, op, cub = time_both(mb, variant, form, M, N, K, 1)
            rows.append(dict(variant=variant, form=form, M=M, N=N, K=K, per_dispatch_s=pd,
                             one_pass_s=op, cublas_s=cub, gap_min_s=min(gaps),
                             gap_median_s=float(np.median(gaps)), gap_max_s=max(gaps),
                             adapter=info["adapter"], driver=info["driver"],
                             git_commit=git_commit()))
            print(f"{variant:10s} {form} {M}x{N}x{K:<5d} per-dispatch {pd * 1e6:8.1f} us  "
                  f"one-pass {op * 1e6:8.1f} us  cuBLAS {cub * 1e6 if cub else float('nan'):8.1f}"
                  f" us  gaps {min(gaps) * 1e6:+.1f}..{max(gaps) * 1e6:+.1f} us", flush=True)
    with (out_dir / "fixed-cost.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\n| variant | form | M x N | per-dispatch a us | b us/k16 | one-pass a us | b us/k16 "
          "| cuBLAS a us | b us/k16 |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for variant, form, M, N in ROWS:
        rs = [r for r in rows if (r["variant"], r["form"], r["M"], r["N"]) == (variant, form, M, N)]
        ks = [r["K"] for r in rs]
        cells = []
        for key in ("per_dispatch_s", "one_pass_s", "cublas_s"):
            if any(r[key] is None for r in rs):
                cells += ["", ""]
                continue
            a, b = fit(ks, [r[key] for r in rs])
            cells += [f"{a * 1e6:.1f}", f"{b * 16e6:.3f}"]
        print(f"| {variant} | {form} | {M}x{N} | " + " | ".join(cells) + " |")
    if steps_from:
        steps(mb, steps_from, out_dir, info)
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[0], args[2] if args[1:2] == ["--steps"] else None))
