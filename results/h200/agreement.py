"""Issue 14's agreement check on two identical sweeps run back to back in one device call.

Usage: python results/h200/agreement.py RUN_A.csv RUN_B.csv > agreement.md
For each point timed in both: does each sweep's 95% interval cover the other's median, and is the
point marked (any status but ok) in either; for each same-run ratio of the report (every
candidate against every baseline at one config): do the two sweeps agree within 5%, and does
each sweep's ratio interval cover the other's ratio (or is a side untrusted).
"""

from __future__ import annotations

import sys

from bench.analysis import Run, point_label, series


def _ms(row: dict) -> str:
    return (f"{row['median_s'] * 1e3:.3g} [{row['ci_low_s'] * 1e3:.3g}, "
            f"{row['ci_high_s'] * 1e3:.3g}]")


def main(a_path: str, b_path: str) -> None:
    a, b = Run.load(a_path), Run.load(b_path)
    key = lambda r: (series(r), point_label(r))  # noqa: E731
    rows_b = {key(r): r for r in b.timed}
    pts = [(ra, rows_b[key(ra)]) for ra in a.timed if key(ra) in rows_b]
    covered = marked = 0
    lines = ["| series | point | A ms [95% CI] | B ms [95% CI] | B/A | covers | statuses |",
             "|---|---|---:|---:|---:|---|---|"]
    for ra, rb in pts:
        cov = (ra["ci_low_s"] <= rb["median_s"] <= ra["ci_high_s"]
               and rb["ci_low_s"] <= ra["median_s"] <= rb["ci_high_s"])
        mark = ra["status"].split(":")[0] != "ok" or rb["status"].split(":")[0] != "ok"
        covered += cov
        marked += (not cov) and mark
        lines.append(
            f"| {series(ra)} | {point_label(ra)} | {_ms(ra)} | {_ms(rb)} | "
            f"{rb['median_s'] / ra['median_s']:.3f} | {'yes' if cov else 'no'} | "
            f"{ra['status'].split(':')[0]} / {rb['status'].split(':')[0]} |")
    sa = {(s.candidate, s.baseline, point_label(s.row)): s for s in a.speedups()}
    sb = {(s.candidate, s.baseline, point_label(s.row)): s for s in b.speedups()}
    common = [k for k in sa if k in sb]
    within = sum(abs(sb[k].ratio.value / sa[k].ratio.value - 1) <= 0.05 for k in common)
    r_cov = [sa[k].ratio.ci_low <= sb[k].ratio.value <= sa[k].ratio.ci_high
             and sb[k].ratio.ci_low <= sa[k].ratio.value <= sb[k].ratio.ci_high for k in common]
    r_marked = sum((not c) and not (sa[k].trusted and sb[k].trusted)
                   for k, c in zip(common, r_cov, strict=True))
    print(f"# Two identical sweeps, back to back ({a.path.name} vs {b.path.name})\n")
    print(f"- points timed in both: {len(pts)}; each sweep's 95% interval covers the other's "
          f"median on {covered} ({100 * covered / len(pts):.0f}%); of the {len(pts) - covered} "
          f"that do not, {marked} are marked (not ok) in either sweep")
    print(f"- same-run ratios in both reports: {len(common)}; agreeing within 5%: {within} "
          f"({100 * within / len(common):.0f}%); each sweep's ratio interval covers the other's "
          f"ratio on {sum(r_cov)} ({100 * sum(r_cov) / len(common):.0f}%), and of the others "
          f"{r_marked} have an untrusted side in either sweep\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:3])
