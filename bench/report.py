"""A markdown report of one run: per-point medians and split, fits, speedups and crossovers,
and a legend of the statuses (``bench.status``) the rows carry."""

from __future__ import annotations

import math

from bench.analysis import Run, family_text, fmt_ms, point_label, series
from bench.host_speed import MOVED_REL, moved
from bench.status import is_timed, legend_lines


def report(run: Run) -> str:
    lines = [f"# Run {run.path.stem}", "", run.device_title() or "(device unknown)", ""]
    soft = run.software_series()
    if soft:
        lines += [
            f"**{', '.join(sorted(soft))}: software adapter - not a GPU.** "
            "Its numbers measure a CPU rasteriser, not GPU hardware.", "",
        ]

    lines += [
        "## Points", "",
        "| series | point | step FLOPs | median ms | 95% CI ms | n | rounds | math ms "
        "(measured) | overhead ms (measured) | GFLOP/s | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in run.rows:
        timed = is_timed(r["status"]) and r["median_s"] is not None
        ci = "-"
        if timed:
            ci = (f"{fmt_ms(r['ci_low_s'])}-{fmt_ms(r['ci_high_s'])}"
                  if r["ci_low_s"] is not None and r["ci_high_s"] is not None else "unknown")
        gf = f"{r['step_flops'] / r['median_s'] / 1e9:.3g}" if timed and r["median_s"] > 0 else "-"
        rounds = "-" if not timed else str(r["rounds"]) + (
            f" (+{r['rounds_dropped']} dropped)" if r["rounds_dropped"] else "")
        lines.append(
            f"| {series(r)} | {point_label(r)} | {r['step_flops']:.3g} | {fmt_ms(r['median_s'])} "
            f"| {ci} | {r['samples']} | {rounds} | {fmt_ms(r['device_s'])} "
            f"| {fmt_ms(r['overhead_s'])} | {gf} | {r['status']} |"
        )
    lines += ["", "Statuses (fits and crossovers use `ok` and `noisy` rows only):", "",
              *legend_lines(),
              "- rounds: the rounds pooled into the median; dropped: rounds left out because "
              "they disagreed with the others (a stall), each re-measured in an extra round."]
    busy = run.busy_starts()
    if busy:
        lines += ["", f"**{busy} round(s) started on a busy process:** some thread still used "
                  "CPU after the hand-off's wait (bench.handoff); rounds that disagree because "
                  "of it show as dropped or unstable."]
    host = run.host_speed()
    if host:
        n, med, lo, hi = host
        spread = moved(lo, hi)
        lines += ["", f"Host core speed over the sweep (a pure-Python sentinel beside each round, "
                  f"the faster of its readings before and after; {n} rounds): median "
                  f"{med:.3g} us, 5th-95th percentile {lo:.3g}-{hi:.3g} us "
                  f"({100 * spread:.0f}% apart)." + (
                      " **The host's own speed moved during this sweep**: points measured at "
                      "different times carry it, and two runs on this host differ by it; "
                      "ratios inside one config (adjacent slots of each round) carry it least."
                      if spread >= MOVED_REL else "")]
    why = run.missing_samples()
    if why:
        lines += ["", f"**Intervals marked unknown:** {why}, so the ratio and fit intervals "
                  "that come from raw samples cannot be computed (the per-point CIs above are "
                  "the ones recorded in the CSV)."]

    fits = run.fits()
    lines += ["", "## Modelled split: step_time = a + b * FLOPs", ""]
    if fits:
        lines += [
            "| series | a = fixed overhead ms [95% CI] | achieved GFLOP/s = 1/b [95% CI] | R^2 "
            "| points | measured vs modelled overhead |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for s, f in fits.items():
            b_lo, b_hi = f.b_ci
            b_ci = f"[{_inv(b_hi)}-{_inv(b_lo)}]" if math.isfinite(b_lo) else "[unknown]"
            thr = f"{1e-9 / f.b:.3g} {b_ci}" if f.b > 0 else "n/a (b <= 0)"
            a_ci = (f"[{f.a_ci[0] * 1e3:.3g}, {f.a_ci[1] * 1e3:.3g}]"
                    if math.isfinite(f.a_ci[0]) else "[unknown]")
            lines.append(
                f"| {s} | {f.a * 1e3:.3g} {a_ci} | {thr} "
                f"| {f.r2:.3f} | {f.n} | {run.split_agreement(s, f)} |"
            )
        lines += [
            "",
            "Agreement rule: the mean measured overhead (wall minus the backend's own device/op "
            "time) lies in the fit's CI for `a`, or within 25% of it (0.1 ms floor).",
        ]
    else:
        lines.append("(needs two or more trusted points with different FLOP counts per series)")
    left = run.left_out()
    if left:
        lines += ["", "Left out of fits and crossovers: " + "; ".join(
            f"{s}: {len(v)} ({', '.join(sorted(set(v)))})" for s, v in left.items()) + "."]

    sps = run.speedups()
    lines += ["", "## Speedups (both sides measured in this run)", ""]
    if sps:
        x = run.x_axes()[0]  # the sweep's first x axis (d_model for presets)
        lines += [f"| series | vs | point | {x} | speedup | 95% CI |",
                  "|---|---|---|---:|---:|---:|"]
        for sp in sps:
            tag = " (software)" if sp.candidate in soft else ""
            ci = (f"{sp.ratio.ci_low:.3g}-{sp.ratio.ci_high:.3g}" if sp.ratio.ci_known
                  else "unknown")
            flag = "" if sp.trusted else " (untrusted side: not in crossovers)"
            lines.append(
                f"| {sp.candidate}{tag} | {sp.baseline} | {point_label(sp.row)} "
                f"| {'-' if sp.row.get(x) in ('', None) else sp.row[x]} "
                f"| {sp.ratio.value:.3g}x{flag} | {ci} |"
            )
        axes = run.x_axes()
        curves = run.curves()
        for axis in axes:
            mine = [c for c in curves if c.axis == axis]
            if not mine and len(axes) > 1:
                continue
            lines += ["", f"## Crossover along {axis} curves", ""]
            for c in mine:
                lines.append(f"- {c.candidate} vs {c.baseline} ({family_text(c.family)}): "
                             f"{c.verdict()}")
            if not mine:
                lines.append(f"(no {axis} curve: needs 2+ points that differ only in {axis})")
        if not curves and len(axes) > 1:
            lines += ["", "## Crossovers", "", f"(no curve: needs 2+ points that differ only in "
                      f"one of {', '.join(axes)})"]
    else:
        lines.append("(needs two series measured at the same config)")

    bad = [r for r in run.rows if not is_timed(r["status"])]
    if bad:
        lines += ["", f"{len(bad)} point(s) not timed (see status column)."]
    return "\n".join(lines) + "\n"


def _inv(b: float) -> str:
    return f"{1e-9 / b:.3g}" if b > 0 else "inf"
