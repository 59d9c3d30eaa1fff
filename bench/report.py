"""A markdown report of one run: per-point medians and split, fits, speedups and crossovers."""

from __future__ import annotations

from bench.analysis import Run, fmt_ms, point_label, series


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
        "| series | point | step FLOPs | median ms | 95% CI ms | n | math ms (measured) "
        "| overhead ms (measured) | GFLOP/s | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in run.rows:
        ok = r["status"] == "ok" and r["median_s"] is not None
        ci = f"{fmt_ms(r['ci_low_s'])}-{fmt_ms(r['ci_high_s'])}" if ok else "-"
        gf = f"{r['step_flops'] / r['median_s'] / 1e9:.3g}" if ok and r["median_s"] > 0 else "-"
        status = r["status"] + (" (noisy)" if r["noisy"] else "")
        lines.append(
            f"| {series(r)} | {point_label(r)} | {r['step_flops']:.3g} | {fmt_ms(r['median_s'])} "
            f"| {ci} | {r['samples']} | {fmt_ms(r['device_s'])} | {fmt_ms(r['overhead_s'])} "
            f"| {gf} | {status} |"
        )

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
            thr = (
                f"{1e-9 / f.b:.3g} [{_inv(b_hi)}-{_inv(b_lo)}]" if f.b > 0 else "n/a (b <= 0)"
            )
            lines.append(
                f"| {s} | {f.a * 1e3:.3g} [{f.a_ci[0] * 1e3:.3g}, {f.a_ci[1] * 1e3:.3g}] | {thr} "
                f"| {f.r2:.3f} | {f.n} | {run.split_agreement(s, f)} |"
            )
        lines += [
            "",
            "Agreement rule: the mean measured overhead (wall minus the backend's own device/op "
            "time) lies in the fit's CI for `a`, or within 25% of it (0.1 ms floor).",
        ]
    else:
        lines.append("(needs two or more timed points with different FLOP counts per series)")

    sps = run.speedups()
    lines += ["", "## Speedups (both sides measured in this run)", ""]
    if sps:
        lines += ["| series | vs | point | d_model | speedup | 95% CI |",
                  "|---|---|---|---:|---:|---:|"]
        for sp in sps:
            tag = " (software)" if sp.candidate in soft else ""
            lines.append(
                f"| {sp.candidate}{tag} | {sp.baseline} | {point_label(sp.row)} "
                f"| {sp.row['d_model']} "
                f"| {sp.ratio.value:.3g}x | {sp.ratio.ci_low:.3g}-{sp.ratio.ci_high:.3g} |"
            )
        cross = run.crossovers()
        lines += ["", "## Crossover along d_model curves", ""]
        if cross:
            for (cand, base, fam), text in cross.items():
                L, T, B, hd = fam
                lines.append(f"- {cand} vs {base} (n_layer {L}, seq_len {T}, batch {B}, "
                             f"head_dim {hd}): {text}")
        else:
            lines.append("(no d_model curve: needs 2+ points that differ only in d_model)")
    else:
        lines.append("(needs two series measured at the same config)")

    bad = [r for r in run.rows if r["status"] != "ok"]
    if bad:
        lines += ["", f"{len(bad)} point(s) not timed (see status column)."]
    return "\n".join(lines) + "\n"


def _inv(b: float) -> str:
    return f"{1e-9 / b:.3g}" if b > 0 else "inf"
