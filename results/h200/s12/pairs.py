"""Ratios of one row to another per shape from a study's candidates CSV (each row's best split
factor): ``python3 results/h200/s12/pairs.py CSV NEW:OLD ... > pairs.md``."""

from __future__ import annotations

import csv
import sys
from collections import defaultdict


def main(path: str, pairs: list[tuple[str, str]]) -> None:
    best: dict[tuple, dict[str, float]] = defaultdict(dict)
    for r in csv.DictReader(open(path)):
        shape = (r["preset"], f"{r['form']} {r['M']}x{r['N']}x{r['K']}")
        row = r["candidate"].split()[0]
        best[shape][row] = max(best[shape].get(row, 0.0), float(r["tflops"]))
    print("| preset | form MxNxK | " + " | ".join(f"{n} / {o}" for n, o in pairs) + " |")
    print("|---|---|" + "---:|" * len(pairs))
    for (preset, shape), rows in best.items():
        cells = [f"{rows[n] / rows[o]:.2f}" if n in rows and o in rows else "-" for n, o in pairs]
        print(f"| {preset} | {shape} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1], [tuple(p.split(":")) for p in sys.argv[2:]])
