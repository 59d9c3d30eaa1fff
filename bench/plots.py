"""Plots of one run (matplotlib, Agg backend, PNG and SVG), every title naming the device.

* ``speedup_vs_d_model``: each speedup pair along d_model curves, CI band, crossover marked.
* ``speedup_by_point``: the same ratios per point (presets that are not on a d_model curve).
* ``overhead_vs_math``: stacked measured overhead and math time per series and point.
* ``step_time``: median step time vs step FLOPs per series/variant, CI error bars (variants).
* ``kernel_share``: per-kernel/op share of a step at each series' largest profiled point.
* ``achieved_flops``: FLOP/s vs step FLOPs per series, against the measured CPU matmul peak.

A software adapter's series carry "software adapter - not a GPU" in the legend and title.
Each status (``bench.status``) has its own marker; points the harness does not stand behind
(unstable, budget-short) are drawn unconnected, in the step-time plot, and hatched in the
per-point speedups, with a legend saying which marker means what.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.analysis import Run, point_label, series  # noqa: E402
from bench.status import BY_NAME, status_word  # noqa: E402

SOFT = "software adapter - not a GPU"


def _marker(row: dict[str, Any]) -> str:
    s = BY_NAME.get(status_word(row["status"]))
    return s.marker if s and s.marker else "o"


def _status_legend(ax: Any, words: set[str]) -> list[Any]:
    """Gray proxy handles, one per status shown, for a legend of the markers."""
    return [ax.plot([], [], ls="none", marker=BY_NAME[w].marker, color="gray",
                    label=f"status {w}")[0] for w in sorted(words) if w in BY_NAME]


def _label(run: Run, s: str) -> str:
    return f"{s} ({SOFT})" if s in run.software_series() else s


def _title(ax: Any, run: Run, what: str, series_shown: set[str]) -> None:
    t = f"{what}\n{run.device_title()}"
    if series_shown & run.software_series():
        t += f"\n[{SOFT}]"
    ax.set_title(t, fontsize=9)


def save_figure(fig: Any, out: Path, name: str) -> list[Path]:
    """Write ``fig`` as PNG and SVG under ``out`` and close it; returns the two paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for ext in ("png", "svg"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=100)
        files.append(p)
    plt.close(fig)
    return files


def plot_speedup_curves(run: Run, out: Path) -> list[Path]:
    curves = run.d_model_curves()
    if not curves:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(7, 4.5))
    shown = set()
    for (cand, base, fam), pts in curves.items():
        xs = [sp.row["d_model"] for sp in pts]
        L, T, B, hd = fam
        line = ax.plot(xs, [sp.ratio.value for sp in pts], marker="o",
                       label=f"{_label(run, cand)} vs {base} (L{L} T{T} B{B} hd{hd})")[0]
        ax.fill_between(xs, [sp.ratio.ci_low for sp in pts], [sp.ratio.ci_high for sp in pts],
                        color=line.get_color(), alpha=0.2)
        c = run.crossover_d_model((cand, base, fam))
        if c is not None:
            ax.axvline(c, color=line.get_color(), ls=":")
            ax.annotate(f"crossover d={c:.0f}", (c, 1.0), xytext=(5, 10),
                        textcoords="offset points", fontsize=8, color=line.get_color())
        shown.add(cand)
    ax.axhline(1.0, color="gray", lw=1)
    ax.set_xlabel("d_model")
    ax.set_ylabel("speedup (x, >1: the series is faster than its baseline)")
    ax.legend(fontsize=7)
    _title(ax, run, "Speedup along d_model (95% CI; dotted: crossover)", shown)
    return save_figure(fig, out, "speedup_vs_d_model")


def plot_speedup_points(run: Run, out: Path) -> list[Path]:
    sps = run.speedups()
    if not sps:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(max(6, 0.6 * len(sps) + 2), 4.5))
    labels = [f"{sp.candidate} vs {sp.baseline}\n{point_label(sp.row)}" for sp in sps]
    vals = [sp.ratio.value for sp in sps]
    err = [[v - sp.ratio.ci_low if sp.ratio.ci_known else 0.0
            for v, sp in zip(vals, sps, strict=True)],
           [sp.ratio.ci_high - v if sp.ratio.ci_known else 0.0
            for v, sp in zip(vals, sps, strict=True)]]
    soft = run.software_series()
    colors = ["tab:gray" if sp.candidate in soft else "tab:blue" for sp in sps]
    bars = ax.bar(range(len(sps)), vals, yerr=err, color=colors, capsize=3)
    for bar, sp in zip(bars, sps, strict=True):
        if not sp.trusted:
            bar.set_hatch("//")
    if not all(sp.trusted for sp in sps):
        ax.bar([], [], color="white", edgecolor="black", hatch="//",
               label="hatched: a side is unstable or budget-short")
        ax.legend(fontsize=7)
    ax.axhline(1.0, color="black", lw=1)
    ax.set_xticks(range(len(sps)), labels, fontsize=7, rotation=45, ha="right")
    ax.set_ylabel("speedup (x; no error bar: CI unknown, no raw samples)"
                  if not all(sp.ratio.ci_known for sp in sps) else "speedup (x)")
    if soft & {sp.candidate for sp in sps}:
        ax.bar([], [], color="tab:gray", label=f"gray: {SOFT}")
        ax.legend(fontsize=7)
    _title(ax, run, "Speedup per point (95% CI)", {sp.candidate for sp in sps})
    return save_figure(fig, out, "speedup_by_point")


def plot_overhead_vs_math(run: Run, out: Path) -> list[Path]:
    """Shares of each step (stacked to 1) so points of very different sizes compare; the median
    step time is written above each bar. A profile longer than the wall median (noise) is clipped
    and marked with a '*'."""
    rows = [r for r in run.ok if r["device_s"] is not None]
    if not rows:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(max(6, 0.6 * len(rows) + 2), 4.5))
    x = list(range(len(rows)))
    math_share = [min(r["device_s"] / r["median_s"], 1.0) for r in rows]
    ax.bar(x, math_share, label="math (measured device / op time)", color="tab:orange")
    ax.bar(x, [1 - m for m in math_share], bottom=math_share,
           label="fixed overhead (wall - device)", color="tab:blue")
    for i, r in enumerate(rows):
        star = "*" if r["device_s"] > r["median_s"] else ""
        ax.text(i, 1.01, f"{r['median_s'] * 1e3:.3g} ms{star}", ha="center", fontsize=7)
    ax.set_xticks(x, [f"{_label(run, series(r))}\n{point_label(r)}" for r in rows],
                  fontsize=6, rotation=45, ha="right")
    ax.set_ylabel("share of the median step")
    ax.set_ylim(0, 1.12)
    ax.legend(fontsize=7, loc="lower left")
    _title(ax, run, "Fixed overhead vs math cost per step (measured; * profile > wall: noisy)",
           {series(r) for r in rows})
    return save_figure(fig, out, "overhead_vs_math")


def plot_step_time(run: Run, out: Path) -> list[Path]:
    by = run.by_series()
    if not run.timed:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(7, 4.5))
    words: set[str] = set()
    untrusted = run.by_series(trusted=False)
    for s, rows in by.items():
        rows = sorted(rows, key=lambda r: r["step_flops"])
        xs = [r["step_flops"] for r in rows]
        ys = [r["median_s"] * 1e3 for r in rows]
        err = [[(r["median_s"] - (r["ci_low_s"] or r["median_s"])) * 1e3 for r in rows],
               [((r["ci_high_s"] or r["median_s"]) - r["median_s"]) * 1e3 for r in rows]]
        line = ax.errorbar(xs, ys, yerr=err, capsize=3, label=_label(run, s),
                           ls="--" if s in run.software_series() else "-")[0]
        trusted_ids = {id(r) for r in rows}
        for r in untrusted.get(s, rows):
            ax.plot(r["step_flops"], r["median_s"] * 1e3, ls="none", marker=_marker(r),
                    color=line.get_color(), mfc="none" if id(r) not in trusted_ids else None)
            words.add(status_word(r["status"]))
    for s in set(untrusted) - set(by):  # a series with no trusted point at all
        for r in untrusted[s]:
            ax.plot(r["step_flops"], r["median_s"] * 1e3, ls="none", marker=_marker(r),
                    mfc="none", label=None)
            words.add(status_word(r["status"]))
    _status_legend(ax, words)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step FLOPs")
    ax.set_ylabel("median step time (ms, 95% CI)")
    ax.legend(fontsize=7)
    _title(ax, run, "Step time per backend / kernel variant (hollow: unstable or budget-short)",
           set(by) | {series(r) for r in run.timed})
    return save_figure(fig, out, "step_time")


def plot_kernel_share(run: Run, out: Path) -> list[Path]:
    picks = []
    for _s, rows in run.by_series().items():
        prof = [(r, run.per_op(r)) for r in rows if run.per_op(r)]
        if prof:
            picks.append(max(prof, key=lambda rp: rp[0]["step_flops"]))
    if not picks:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(8, 2.0 + 0.6 * len(picks)))
    cmap = plt.get_cmap("tab20")
    all_ops: dict[str, int] = {}
    for i, (_r, prof) in enumerate(picks):
        total = sum(prof.values()) or 1.0
        left = 0.0
        for op, sec in sorted(prof.items(), key=lambda kv: -kv[1]):
            idx = all_ops.setdefault(op, len(all_ops))
            ax.barh(i, sec / total, left=left, color=cmap(idx % 20), label=op)
            left += sec / total
    ax.set_yticks(range(len(picks)),
                  [f"{_label(run, series(r))} {point_label(r)}" for r, _ in picks], fontsize=7)
    ax.set_xlabel("share of measured device / op time")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    fig.legend(uniq.values(), uniq.keys(), fontsize=6, ncol=6, loc="outside lower center")
    _title(ax, run, "Per-kernel share of a step (largest profiled point)",
           {series(r) for r, _ in picks})
    return save_figure(fig, out, "kernel_share")


def plot_achieved_flops(run: Run, out: Path) -> list[Path]:
    by = run.by_series()
    if not by:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(7, 4.5))
    for s, rows in by.items():
        rows = sorted(rows, key=lambda r: r["step_flops"])
        ax.plot([r["step_flops"] for r in rows],
                [r["step_flops"] / r["median_s"] / 1e9 for r in rows], marker="o",
                label=_label(run, s), ls="--" if s in run.software_series() else "-")
    peak = run.meta.get("environment", {}).get("cpu_peak_flops")
    if peak:
        ax.axhline(peak / 1e9, color="gray", ls=":",
                   label="CPU peak (NumPy 512^3 matmul, measured)")
    gpu = run.meta.get("environment", {}).get("gpu") or {}
    if gpu.get("peak_flops"):
        ax.axhline(gpu["peak_flops"] / 1e9, color="black", ls=":", label="GPU peak (measured)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step FLOPs")
    ax.set_ylabel("achieved GFLOP/s")
    ax.legend(fontsize=7)
    _title(ax, run, "Achieved FLOP/s per step", set(by))
    return save_figure(fig, out, "achieved_flops")


PLOTS = (plot_speedup_curves, plot_speedup_points, plot_overhead_vs_math, plot_step_time,
         plot_kernel_share, plot_achieved_flops)


def plot_run(run: Run, out: Path) -> list[Path]:
    """Draw every plot the run has data for into ``out``; returns the files written."""
    out = Path(out)
    files: list[Path] = []
    for fn in PLOTS:
        files += fn(run, out)
    return files

