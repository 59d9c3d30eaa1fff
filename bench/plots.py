"""Plots of one run (matplotlib, Agg backend, PNG and SVG), every title naming the device.

* ``speedup_vs_<axis>``: each speedup pair along the curves of each x axis the sweep declared
  (``speedup_vs_d_model``, ``speedup_vs_seq_len``, ``speedup_vs_threads``...), CI band,
  crossover marked.
* ``speedup_by_point``: the same ratios per point (presets that are on no curve).
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

# Committed figures must not change when redrawn from the same data: a fixed salt for the SVG
# element ids, and no date in the SVG metadata (PNG metadata carries no date).
matplotlib.rcParams["svg.hashsalt"] = "gpt-curves"

from bench.analysis import Run, family_text, line, point_label, series  # noqa: E402
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


def _wrap(text: str, width: int) -> str:
    """Break a long series label at its commas, so titles and tick labels stay in the figure."""
    import textwrap

    return "\n".join(textwrap.wrap(text.replace(",", ", "), width)) or text


def _suptitle(fig: Any, run: Run, what: str, series_shown: set[str]) -> None:
    """A figure-wide title (inside the figure: constrained layout makes room for it)."""
    t = f"{what}\n{_wrap(run.device_title(), 110)}"
    if series_shown & run.software_series():
        t += f"\n[{SOFT}]"
    fig.suptitle(t, fontsize=9)


def save_figure(fig: Any, out: Path, name: str) -> list[Path]:
    """Write ``fig`` as PNG and SVG under ``out`` and close it; returns the two paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for ext in ("png", "svg"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=100, metadata={"Date": None} if ext == "svg" else None)
        files.append(p)
    plt.close(fig)
    return files


def plot_speedup_curves(run: Run, out: Path) -> list[Path]:
    """One figure per x axis with curves: ``speedup_vs_<axis>``."""
    files: list[Path] = []
    for axis in run.x_axes():
        files += plot_speedup_along(run, axis, out)
    return files


def plot_speedup_along(run: Run, axis: str, out: Path) -> list[Path]:
    curves = run.curves(axis)
    if not curves:
        return []
    fig, ax = plt.subplots(layout="constrained", figsize=(7.5, 4.5 + 0.18 * len(curves)))
    shown = set()
    crossed = False
    for c in curves:
        xs = c.xs
        label = f"{_label(run, c.candidate)} vs {c.baseline} ({family_text(c.family, short=True)})"
        drawn = ax.plot(xs, c.ratios, marker="o", label=label)[0]
        ax.fill_between(xs, [sp.ratio.ci_low for sp in c.points],
                        [sp.ratio.ci_high for sp in c.points], color=drawn.get_color(), alpha=0.2)
        at = c.crossover()
        if at is not None:
            crossed = True
            ax.axvline(at, color=drawn.get_color(), ls=":")
            ax.annotate(f"crossover {axis}={at:.0f}", (at, 1.0), xytext=(5, 10),
                        textcoords="offset points", fontsize=8, color=drawn.get_color())
        shown |= {series(sp.row) for sp in c.points}
    ax.axhline(1.0, color="gray", lw=1)
    _plain_log(ax)  # ratios of 0.05 and 50 both readable, 1x in the middle
    ax.set_xlabel(axis)
    ax.set_ylabel("speedup (x, log; >1: the series is faster than its baseline)", fontsize=8)
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    what = f"Speedup along {axis} (95% CI" + ("; dotted: crossover)" if crossed else ")")
    _title(ax, run, what, shown)
    return save_figure(fig, out, f"speedup_vs_{axis}")


def plot_speedup_points(run: Run, out: Path) -> list[Path]:
    """Every ratio per point: a panel per baseline, the points along x, a bar per candidate
    series. The axis is logarithmic and bars start at 1x, so 0.02x and 50x are both visible and
    a bar's direction says who is faster."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sps = run.speedups()
    if not sps:
        return []
    soft = run.software_series()
    bases = list(dict.fromkeys(sp.baseline for sp in sps))
    widest = max(len({sp.candidate for sp in sps if sp.baseline == b}) *
                 len({point_label(sp.row) for sp in sps if sp.baseline == b}) for b in bases)
    fig, axes = plt.subplots(len(bases), 1, layout="constrained", squeeze=False,
                             figsize=(max(7.0, 0.16 * widest + 2.5), 1.0 + 3.2 * len(bases)))
    for ax, base in zip(axes[:, 0], bases, strict=True):
        mine = [sp for sp in sps if sp.baseline == base]
        cands = list(dict.fromkeys(sp.candidate for sp in mine))
        points = list(dict.fromkeys(point_label(sp.row) for sp in mine))
        colours = distinct_colours(len(cands))
        width = 0.8 / len(cands)
        for j, cand in enumerate(cands):
            at = {point_label(sp.row): sp for sp in mine if sp.candidate == cand}
            xs = [i + (j - (len(cands) - 1) / 2) * width for i, p in enumerate(points) if p in at]
            here = [at[p] for p in points if p in at]
            vals = [sp.ratio.value for sp in here]
            ax.bar(xs, [v - 1.0 for v in vals], bottom=1.0, width=width, color=colours[j],
                   hatch="//" if cand in soft else None, edgecolor="white", linewidth=0.3)
            known = [sp for sp in here if sp.ratio.ci_known]  # no raw samples: no error bar
            ax.errorbar([x for x, sp in zip(xs, here, strict=True) if sp.ratio.ci_known],
                        [sp.ratio.value for sp in known],
                        yerr=[[sp.ratio.value - sp.ratio.ci_low for sp in known],
                              [sp.ratio.ci_high - sp.ratio.value for sp in known]],
                        fmt="none", ecolor="black", elinewidth=0.7, capsize=1.5)
            for x, sp in zip(xs, here, strict=True):
                if not sp.trusted:  # a side is unstable or budget-short
                    ax.plot(x, sp.ratio.value, marker="x", color="red", ms=5)
        ax.axhline(1.0, color="black", lw=1)
        _plain_log(ax)
        ends = [v for sp in mine for v in ((sp.ratio.ci_low, sp.ratio.ci_high)
                                           if sp.ratio.ci_known else (sp.ratio.value,))]
        lo, hi = min([*ends, 1.0]), max([*ends, 1.0])
        ax.set_ylim(max(lo, 1e-6) / 1.6, hi * 1.6)
        ax.set_xticks(range(len(points)), points, fontsize=7)
        ax.set_ylabel(f"speedup vs {base}\n(x, log; >1: faster)", fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
        handles = [Patch(facecolor=c, hatch="//" if n in soft else None, edgecolor="white",
                         label=_label(run, n)) for n, c in zip(cands, colours, strict=True)]
        if not all(sp.trusted for sp in mine):
            handles.append(Line2D([], [], ls="none", marker="x", color="red",
                                  label="x: a side is unstable or budget-short"))
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _suptitle(fig, run, "Speedup per point (95% CI; hatched: software adapter)"
              if soft & {sp.candidate for sp in sps} else "Speedup per point (95% CI)",
              {sp.candidate for sp in sps})
    return save_figure(fig, out, "speedup_by_point")


# Dims that say which curve a row is on; n_head stands in as head_dim, so a d_model curve that
# keeps head_dim (and so changes n_head) is one curve.
CURVE_AXES = ("d_model", "seq_len", "batch", "n_layer", "threads")


def _curve_dims(row: dict[str, Any]) -> dict[str, Any]:
    return {"d_model": row["d_model"], "seq_len": row["seq_len"], "batch": row["batch"],
            "n_layer": row["n_layer"], "threads": row["threads"],
            "head_dim": row["d_model"] // max(row["n_head"], 1)}


def split_curves(rows: list[dict[str, Any]]) -> tuple[list[tuple[str, str, list[dict]]], list]:
    """(curves, loose rows): a curve is 3+ rows of one line that differ along one axis only
    (``CURVE_AXES``; a d_model curve keeps head_dim; along threads the line is the series less
    its thread count), as (line, axis, rows sorted along it); rows on no curve are loose. Each
    row lands on at most one curve, the longest first."""
    curves: list[tuple[str, str, list[dict]]] = []
    used: set[int] = set()
    candidates = []
    for axis in CURVE_AXES:
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            if r.get(axis) in ("", None):
                continue
            fixed = tuple(v for k, v in _curve_dims(r).items() if k != axis)
            groups.setdefault((line(r, axis), fixed), []).append(r)
        for (name, _), g in groups.items():
            if len({r[axis] for r in g}) >= 3:
                candidates.append((name, axis, g))
    for name, axis, g in sorted(candidates, key=lambda nag: -len(nag[2])):
        free = [r for r in g if id(r) not in used]
        if len({r[axis] for r in free}) >= 3:
            curves.append((name, axis, sorted(free, key=lambda r: r[axis])))
            used |= {id(r) for r in free}
    return curves, [r for r in rows if id(r) not in used]


def plot_overhead_vs_math(run: Run, out: Path) -> list[Path]:
    """Where a series' points form a curve: measured math and fixed overhead (ms, log) along the
    curve's axis, one panel per series, so one sees where the math overtakes the overhead.
    Points on no curve (presets that change several dims): shares of each step, stacked to 1, one
    bar per point. A profile longer than the wall median (noise) is clipped and marked '*'."""
    rows = [r for r in run.ok if r["device_s"] is not None]
    if not rows:
        return []
    curves, loose = split_curves(rows)
    cols = max(1, min(3, len(curves)))
    crow = -(-len(curves) // cols)
    loose_h = 0.8 + 0.16 * len(loose) if loose else 0.0
    fig = plt.figure(layout="constrained", figsize=(max(4.6 * cols, 9.0 if loose else 0.0),
                                                    3.6 * crow + loose_h + 0.8))
    grid = fig.add_gridspec(crow + bool(loose), cols,
                            height_ratios=[3.6] * crow + ([loose_h] if loose else []))
    flat = [fig.add_subplot(grid[i // cols, i % cols]) for i in range(len(curves))]
    for ax, (s, axis, pts) in zip(flat, curves, strict=True):
        xs = [r[axis] for r in pts]
        ax.plot(xs, [r["median_s"] * 1e3 for r in pts], color="black", marker=".", lw=1,
                label="step (median)")
        ax.plot(xs, [min(r["device_s"], r["median_s"]) * 1e3 for r in pts], color="tab:orange",
                marker="o", label="math (device / op time)")
        ovh = [(x, r["overhead_s"] * 1e3) for x, r in zip(xs, pts, strict=True)
               if r["overhead_s"] is not None and r["overhead_s"] > 0]
        if ovh:
            ax.plot(*zip(*ovh, strict=True), color="tab:blue", marker="s",
                    label="fixed overhead (wall - device)")
        _plain_log(ax)
        ax.set_xlabel(axis + ("" if axis != "d_model" else f" (L{pts[0]['n_layer']} "
                                                            f"T{pts[0]['seq_len']} "
                                                            f"B{pts[0]['batch']})"), fontsize=8)
        ax.set_ylabel("ms", fontsize=8)
        ax.set_title(_wrap(_label(run, s), 48), fontsize=8)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=6)
    if loose:
        ax = fig.add_subplot(grid[crow, :])
        x = list(range(len(loose)))
        share = [min(r["device_s"] / r["median_s"], 1.0) for r in loose]
        ax.barh(x, share, color="tab:orange", label="math (device / op time)")
        ax.barh(x, [1 - m for m in share], left=share, color="tab:blue",
                label="fixed overhead (wall - device)")
        for i, r in enumerate(loose):
            star = "*" if r["device_s"] > r["median_s"] else ""
            ax.text(1.01, i, f"{r['median_s'] * 1e3:.3g} ms{star}", va="center", fontsize=6)
        ax.set_yticks(x, [f"{_label(run, series(r))} {point_label(r)}" for r in loose],
                      fontsize=6)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.25)
        ax.set_xlabel("share of the median step", fontsize=8)
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                  frameon=False, title="points on no curve: shares of each step",
                  title_fontsize=8)
    _suptitle(fig, run, "Fixed overhead vs math cost per step (measured; * profile > wall: noisy)",
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


# Kernels under this share of every profiled step are drawn together as "other".
OTHER_SHARE = 0.04
MAX_NAMED = 9


def group_ops(profiles: list[dict[str, float]]) -> list[str]:
    """The kernels named in the share plot: those reaching ``OTHER_SHARE`` of some step, at most
    ``MAX_NAMED``, largest first; the rest become "other"."""
    best: dict[str, float] = {}
    for prof in profiles:
        total = sum(prof.values()) or 1.0
        for op, sec in prof.items():
            best[op] = max(best.get(op, 0.0), sec / total)
    big = sorted((op for op, sh in best.items() if sh >= OTHER_SHARE), key=lambda o: -best[o])
    return big[:MAX_NAMED]


def kernel_roles(row: dict[str, Any], prof: dict[str, float]) -> dict[str, float]:
    """The profile keyed by what each kernel does, the series' own variant names taken out
    (``matmul_blocked4x4:nn`` -> ``matmul:nn``, ``attn_naive_fwd`` -> ``attn_fwd``), so one colour
    means the same work in every bar; the series label names the variant."""
    out: dict[str, float] = {}
    for op, sec in prof.items():
        role = op
        for v in (row.get("matmul"), row.get("attention")):
            if v:
                role = role.replace(f"_{v}", "")
        out[role] = out.get(role, 0.0) + sec
    return out


def distinct_colours(n: int) -> list[Any]:
    """``n`` colours no two of which are alike: tab10 without its gray (kept for "other"), then
    Dark2 and Set1; past those, evenly spaced hues."""
    base = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]
    base += list(plt.get_cmap("Dark2").colors) + list(plt.get_cmap("Set1").colors)
    if n <= len(base):
        return base[:n]
    hsv = plt.get_cmap("hsv")
    return [hsv(i / n) for i in range(n)]


def plot_kernel_share(run: Run, out: Path) -> list[Path]:
    """Per-kernel share of each series' largest profiled step: the big kernels named and labelled
    on their segment, every small one summed into a gray "other"."""
    picks = []
    for _s, rows in run.by_series().items():
        prof = [(r, kernel_roles(r, run.per_op(r))) for r in rows if run.per_op(r)]
        if prof:
            picks.append(max(prof, key=lambda rp: rp[0]["step_flops"]))
    if not picks:
        return []
    named = group_ops([p for _, p in picks])
    colour = dict(zip(named, distinct_colours(len(named)), strict=True))
    colour["other"] = "lightgray"
    fig, ax = plt.subplots(layout="constrained", figsize=(9, 2.2 + 0.55 * len(picks)))
    for i, (_r, prof) in enumerate(picks):
        total = sum(prof.values()) or 1.0
        parts = [(op, prof[op] / total) for op in named if op in prof]
        parts.append(("other", sum(v for op, v in prof.items() if op not in named) / total))
        left = 0.0
        for op, share in parts:
            if share <= 0:
                continue
            ax.barh(i, share, left=left, color=colour[op], edgecolor="white", linewidth=0.5,
                    label=op)
            if share >= 0.07:  # label the segment itself where the name fits
                ax.text(left + share / 2, i, f"{op}\n{share:.0%}", ha="center", va="center",
                        fontsize=6, color=_ink(colour[op]))
            left += share
    ax.set_yticks(range(len(picks)),
                  [_wrap(f"{_label(run, series(r))} {point_label(r)}", 40) for r, _ in picks],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of measured device / op time")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    order = [op for op in [*named, "other"] if op in uniq]
    fig.legend([uniq[o] for o in order], order, fontsize=7, ncol=min(5, len(order)),
               loc="outside lower center",
               title=f"kernels under {OTHER_SHARE:.0%} of every step: other", title_fontsize=7)
    _suptitle(fig, run, "Per-kernel share of a step (largest profiled point)",
              {series(r) for r, _ in picks})
    return save_figure(fig, out, "kernel_share")


def _plain_log(ax: Any) -> None:
    """A log y axis labelled in plain numbers (0.05, 2, 300) at 1-2-5 steps, not 5x10^-2."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _ink(colour: Any) -> str:
    """Black or white text, whichever reads on ``colour``."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


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

