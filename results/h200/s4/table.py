"""The matmul table of the session-4 note from kernel-benchmark CSVs: ``auto`` per step shape
beside cuBLAS, and what ``auto`` read in an earlier CSV (BEFORE: session 3's in the session-4
note) at the same shape.

    python results/h200/s4/table.py NOW.csv [BEFORE.csv]
"""

from __future__ import annotations

import csv
import sys


def rows(path: str) -> dict[tuple, dict]:
    out = {}
    for r in csv.DictReader(open(path)):
        if r["kind"] == "matmul" and r["variant"] == "auto" and r["status"] == "ok":
            out[(r["preset"] or "square", r["form"], r["M"], r["N"], r["K"])] = r
    return out


def main() -> None:
    now = rows(sys.argv[1])
    before = rows(sys.argv[2]) if len(sys.argv) > 2 else {}
    print("| preset | form M x N x K | cuBLAS TFLOP/s | auto TFLOP/s | auto ran | auto / cuBLAS "
          "| of FMA probe | before: auto / cuBLAS |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for (preset, form, M, N, K), r in now.items():
        b = before.get((preset, form, M, N, K))
        was = f"{float(b['share_of_vendor']):.2f}" if b and b["share_of_vendor"] else "-"
        print(f"| {preset} | {form} {M}x{N}x{K} | {float(r['vendor_gflops']) / 1e3:.1f} "
              f"| {float(r['gflops']) / 1e3:.1f} | {r['ran']} | {float(r['share_of_vendor']):.2f} "
              f"| {float(r['share_of_peak']):.2f} | {was} |")


if __name__ == "__main__":
    main()
