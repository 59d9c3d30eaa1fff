"""Ratios of one row to another per shape from a study's candidates CSV (each row's best split
factor): ``python3 results/h200/s11/pairs.py CSV > pairs.md``; rows in PAIRS (new, old)."""

from __future__ import annotations

import csv
import sys
from collections import defaultdict

PAIRS = [("b128t84g", "b128t84"), ("b128g", "b128"), ("w128k4g", "w128k4"),
         ("b128t84gv4", "b128t84v4"), ("b128gv4", "b128v4"), ("b128t84g", "b128t84tr"),
         ("b128g", "b128tr"), ("w128k4g", "w128k4tr"), ("b128t84o", "b128t84"),
         ("b128t84go", "b128t84g"), ("b128o", "b128"), ("b64x128o", "b64x128")]


def main(path: str) -> None:
    best: dict[tuple, dict[str, float]] = defaultdict(dict)
    for r in csv.DictReader(open(path)):
        shape = (r["preset"], f"{r['form']} {r['M']}x{r['N']}x{r['K']}")
        row = r["candidate"].split()[0]
        best[shape][row] = max(best[shape].get(row, 0.0), float(r["tflops"]))
    print("| preset | form MxNxK | " + " | ".join(f"{n} / {o}" for n, o in PAIRS) + " |")
    print("|---|---|" + "---:|" * len(PAIRS))
    for (preset, shape), rows in best.items():
        cells = [f"{rows[n] / rows[o]:.2f}" if n in rows and o in rows else "-" for n, o in PAIRS]
        print(f"| {preset} | {shape} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
