"""The issue's matmul table for session 13, ratios to three decimals: call 3 (main's final code)
beside call 2 (the same kernels before the k-loop's fold) and session 12's call 6 (split-K's best
at the long-K weight gradients), from their ``bench kernels`` CSVs.

    python3 results/h200/s13/table.py > results/h200/s13/table.md
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rows(pattern: str) -> dict[tuple, dict]:
    (path,) = sorted(HERE.parent.glob(pattern))
    out = {}
    for r in csv.DictReader(open(path)):
        if r["kind"] == "matmul" and r["variant"] == "auto" and r["status"] == "ok":
            out[(r["preset"] or "square", r["form"], r["M"], r["N"], r["K"])] = r
    return out


def main() -> None:
    now = rows("s13/call3/D/res/kernels/kernels-*.csv")
    call2 = rows("s13/call2/D/res/kernels/kernels-*.csv")
    s12 = rows("s12/call6/D/res/kernels/kernels-*.csv")
    print("| preset | form M x N x K | cuBLAS TFLOP/s | auto TFLOP/s | auto ran | auto / cuBLAS "
          "| call 2 | call 2 ran | session 12 |")
    print("|---|---|---:|---:|---|---:|---:|---|---:|")
    ratios = []
    for key, r in now.items():
        preset, form, M, N, K = key
        ratio = float(r["share_of_vendor"])
        ratios.append(ratio)
        c2, b = call2.get(key), s12.get(key)
        print(f"| {preset} | {form} {M}x{N}x{K} | {float(r['vendor_gflops']) / 1e3:.1f} "
              f"| {float(r['gflops']) / 1e3:.1f} | {r['ran']} | {ratio:.3f} "
              f"| {float(c2['share_of_vendor']):.3f} | {c2['ran']} "
              f"| {float(b['share_of_vendor']):.3f} |")
    steps = sorted(ratios[3:])
    print(f"\nStep shapes: {len(steps)}, {steps[0]:.3f}-{steps[-1]:.3f}, median "
          f"{steps[len(steps) // 2]:.3f}, {sum(x >= 0.8 for x in steps)} at 0.8 or better.")


if __name__ == "__main__":
    main()
