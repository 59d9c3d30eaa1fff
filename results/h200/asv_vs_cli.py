"""asv's ``TrainStep.time_step`` against the CLI's median at the same points, from one device call.

Usage: python results/h200/asv_vs_cli.py ASV_RESULT.json RUN.csv [RUN.csv ...] > asv-vs-cli.md
Every (preset, series) both timed: asv's value (its median of one process's samples), each CLI
run's median and 95% interval, the ratio asv / CLI, and whether it is within 5% and inside the
CLI's interval.
"""

from __future__ import annotations

import json
import sys

from bench.analysis import Run
from bench.asv_tools import result_table


def cli_series(row: dict) -> str | None:
    if row["backend"] == "cpu":
        return f"cpu/{row['attention']}"
    if row["backend"] == "gpu":
        return f"gpu/{row['matmul'] or 'auto'}/{row['attention']}"
    return None


def main(asv_path: str, *csvs: str) -> None:
    asv = result_table(json.load(open(asv_path)), "train_step.TrainStep.time_step")
    print(f"# asv `TrainStep.time_step` vs the CLI ({asv_path.split('/')[-1]})\n")
    for path in csvs:
        run = Run.load(path)
        rows = []
        for r in run.timed:
            s = cli_series(r)
            if s is None or (r["preset"], s) not in asv:
                continue
            a = asv[(r["preset"], s)]
            rows.append((r, s, a, a / r["median_s"],
                         r["ci_low_s"] is not None and r["ci_low_s"] <= a <= r["ci_high_s"]))
        within = sum(abs(x[3] - 1) <= 0.05 for x in rows)
        inside = sum(x[4] for x in rows)
        print(f"## against {run.path}: {len(rows)} shared points, within 5%: {within}, "
              f"asv inside the CLI's 95% interval: {inside}\n")
        print("| preset | series | asv ms | CLI ms [95% CI] | asv / CLI | CLI status |")
        print("|---|---|---:|---:|---:|---|")
        for r, s, a, ratio, _ in rows:
            ci = (f"[{r['ci_low_s'] * 1e3:.3g}, {r['ci_high_s'] * 1e3:.3g}]"
                  if r["ci_low_s"] is not None else "[unknown]")
            print(f"| {r['preset']} | {s} | {a * 1e3:.3g} | {r['median_s'] * 1e3:.3g} {ci} | "
                  f"{ratio:.3f} | {r['status'].split(':')[0]} |")
        print()


if __name__ == "__main__":
    main(*sys.argv[1:])
