"""``python -m bench compare RUN_A.csv RUN_B.csv [...]``: the same series from different runs.

A run measures its series on one machine at one commit; comparing two runs answers "does this
variant win on that GPU too?" and "what did this commit change here?". Runs are matched by
*series at a config* (``gpu[matmul=vec4]`` at d_model 256, L4, T128, B8): the first run is the
baseline, every other run is set against it point by point, with

* both step times and their 95% intervals,
* the ratio ``baseline time / other time`` (>1: the other run is faster) with a 95% interval
  from both rows' intervals (``Run.ratio``, as within a run; unknown without raw samples),
* a figure: step time against step FLOPs, one colour per series and one line style per run (the
  machine in the legend), and the ratios underneath on a log axis around 1x.

The two sides were measured at different times on different hosts: a ratio says how the two
measurements compare, not that the hosts were idle alike; each run's own noisy flags still apply.
Where both runs read the host sentinel (``bench.host_speed``) and its medians differ by
``MOVED_REL`` or more, the comparison says so: on the lent H200 two identical sweeps a minute
apart differed by more than that (results/h200/s6), and so did their host-bound points, whatever
the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis import Run, config_key, fmt_ms, point_label, series
from bench.fit import Ratio
from bench.host_speed import MOVED_REL, moved
from bench.status import is_trusted, status_word

STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")


class CompareError(ValueError):
    """Runs that cannot be compared (no series in common). Message is one clear line."""


@dataclass
class Pair:
    """One series at one config, measured in the baseline run and in another run."""

    series: str
    base: dict[str, Any]
    other: dict[str, Any]
    ratio: Ratio  # baseline time / other time


def run_name(run: Run) -> str:
    """The machine a run was measured on (its results folder), as the legend shows it."""
    return str(run.meta.get("machine") or run.path.parent.name or run.path.stem)


def labels(runs: list[Run]) -> list[str]:
    """A name per run: the machine, with the run id where one machine appears twice."""
    names = [run_name(r) for r in runs]
    return [f"{n}/{r.path.stem}" if names.count(n) > 1 else n
            for n, r in zip(names, runs, strict=True)]


def _index(run: Run) -> dict[tuple, dict[str, Any]]:
    """Every timed row by (series, config); rows the harness does not stand behind (unstable,
    budget-short) are compared too, and carry their status into the table."""
    return {(series(r), config_key(r)): r for r in run.timed}


def pairs(base: Run, other: Run) -> list[Pair]:
    """Every timed series-at-config both runs hold, in the baseline's row order."""
    theirs = _index(other)
    out = []
    for key, row in _index(base).items():
        o = theirs.get(key)
        if o is not None:
            out.append(Pair(key[0], row, o, base.ratio(row, o, other)))
    order = {s: i for i, s in enumerate(dict.fromkeys(p.series for p in out))}
    return sorted(out, key=lambda p: (order[p.series], p.base["step_flops"]))


def compare_runs(runs: list[Run], out: Path | None = None) -> tuple[str, list[Path]]:
    """The markdown comparison of ``runs`` (the first is the baseline) and, with ``out``, the
    figure files; CompareError when some run shares no series with the baseline."""
    names = labels(runs)
    base = runs[0]
    table = [(name, run, pairs(base, run)) for name, run in zip(names[1:], runs[1:], strict=True)]
    empty = [name for name, _, ps in table if not ps]
    if empty:
        mine = sorted({series(r) for r in base.timed})
        raise CompareError(
            f"{', '.join(empty)} share(s) no series at any config with {names[0]} "
            f"({', '.join(mine[:4]) or 'no timed rows'}{' ...' if len(mine) > 4 else ''}): "
            "nothing to compare")
    text = markdown(names, runs, table)
    files = plot_compare(names, runs, table, out) if out is not None else []
    return text, files


def markdown(names: list[str], runs: list[Run], table: list) -> str:
    lines = [f"# Comparison: {' vs '.join(names)}", ""]
    for name, run in zip(names, runs, strict=True):
        commit = run.meta.get("environment", {}).get("git_commit", "") or "?"
        soft = " **(software adapter - not a GPU)**" if run.software_series() else ""
        host = run.host_speed()
        speed = f"; host sentinel median {host[1]:.3g} us" if host else ""
        lines.append(f"- **{name}** ({run.path.stem}, commit {commit[:12]}): "
                     f"{run.device_title() or 'device unknown'}{soft}{speed}")
    a = names[0]
    for name, run, ps in table:
        lines += ["", f"## {name} against {a}", ""]
        warn = host_warning(runs[0], run, a, name)
        if warn:
            lines += [warn, ""]
        lines += [f"ratio = {a} time / {name} time (>1: {name} is faster), 95% CI from both "
                  "runs' samples", "",
                  f"| series | point | {a} ms [95% CI] | {name} ms [95% CI] | ratio [95% CI] |",
                  "|---|---|---:|---:|---:|"]
        for p in ps:
            ci = (f"[{p.ratio.ci_low:.3g}, {p.ratio.ci_high:.3g}]" if p.ratio.ci_known
                  else "[CI unknown: no raw samples]")
            lines.append(f"| {p.series} | {point_label(p.base)} | {_ms(p.base)} | {_ms(p.other)} "
                         f"| {p.ratio.value:.3g}x {ci} |")
        only_a = len(runs[0].timed) - len(ps)
        only_b = len(run.timed) - len(ps)
        if only_a or only_b:
            lines += ["", f"({only_a} timed point(s) only in {a}, {only_b} only in {name}: "
                      "not compared)"]
    return "\n".join(lines) + "\n"


def host_warning(base: Run, other: Run, a: str, b: str) -> str | None:
    """A line when the two runs' host cores ran at speeds ``MOVED_REL`` or more apart (the
    sentinel's medians over each sweep), else None (also when either run has no readings)."""
    ha, hb = base.host_speed(), other.host_speed()
    if not ha or not hb:
        return None
    rel = moved(min(ha[1], hb[1]), max(ha[1], hb[1]))
    if rel < MOVED_REL:
        return None
    slower = a if ha[1] > hb[1] else b
    return (f"**The host core ran {100 * rel:.0f}% slower in {slower}** (host "
            f"sentinel median {ha[1]:.3g} us in {a}, {hb[1]:.3g} us in {b}): points whose step "
            "waits on the host (small GPU steps, CPU backends) differ by part of that whatever "
            "the code; compare such points within one run, or rerun both on a steady host.")


def _ms(row: dict[str, Any]) -> str:
    """The median with its interval, and the status word where the harness does not stand
    behind the value (so a budget-short point is never read as a trusted one)."""
    word = "" if is_trusted(row["status"]) else f" ({status_word(row['status'])})"
    return (f"{fmt_ms(row['median_s'])} [{fmt_ms(row['ci_low_s'])}, {fmt_ms(row['ci_high_s'])}]"
            f"{word}")


def plot_compare(names: list[str], runs: list[Run], table: list, out: Path) -> list[Path]:
    """Step time vs step FLOPs of the shared series, overlaid (colour: series, line style:
    run), and the ratios against the baseline underneath."""
    from matplotlib.lines import Line2D

    from bench.plots import _plain_log, _wrap, distinct_colours, plt, save_figure

    shared = list(dict.fromkeys(p.series for _, _, ps in table for p in ps))
    colour = dict(zip(shared, distinct_colours(len(shared)), strict=True))
    fig, (ax_t, ax_r) = plt.subplots(2, 1, layout="constrained", sharex=True,
                                     figsize=(8, 8 + 0.2 * len(runs)),
                                     gridspec_kw={"height_ratios": [3, 2]})
    per_run: list[dict[str, list[dict[str, Any]]]] = [{} for _ in runs]
    for j, (_name, _run, ps) in enumerate(table, start=1):
        for p in ps:
            per_run[0].setdefault(p.series, {})[id(p.base)] = p.base
            per_run[j].setdefault(p.series, {})[id(p.other)] = p.other
    for j, by_series in enumerate(per_run):
        style = dict(ls=STYLES[j % len(STYLES)], marker=MARKERS[j % len(MARKERS)])
        for s, rows in by_series.items():
            rs = sorted(rows.values(), key=lambda r: r["step_flops"])
            xs = [r["step_flops"] for r in rs]
            ys = [r["median_s"] * 1e3 for r in rs]
            err = [[(r["median_s"] - r["ci_low_s"]) * 1e3 for r in rs],
                   [(r["ci_high_s"] - r["median_s"]) * 1e3 for r in rs]]
            ax_t.errorbar(xs, ys, yerr=err, color=colour[s], capsize=2, **style)
    for j, (_name, _run, ps) in enumerate(table, start=1):
        style = dict(ls=STYLES[j % len(STYLES)], marker=MARKERS[j % len(MARKERS)])
        for s in shared:
            mine = sorted((p for p in ps if p.series == s), key=lambda p: p.base["step_flops"])
            if not mine:
                continue
            xs = [p.base["step_flops"] for p in mine]
            ax_r.plot(xs, [p.ratio.value for p in mine], color=colour[s], **style)
            ax_r.fill_between(xs, [p.ratio.ci_low for p in mine],
                              [p.ratio.ci_high for p in mine], color=colour[s], alpha=0.15)
    ax_r.axhline(1.0, color="gray", lw=1)
    ax_t.set_xscale("log")
    _plain_log(ax_t)
    _plain_log(ax_r)
    ax_t.set_ylabel("median step time (ms, 95% CI)")
    ax_r.set_ylabel(f"{names[0]} time / other time\n(x, log; >1: the other is faster)",
                    fontsize=8)
    ax_r.set_xlabel("step FLOPs")
    for ax in (ax_t, ax_r):
        ax.grid(which="both", alpha=0.3)
    first = ax_t.legend([Line2D([], [], color=colour[s], lw=2) for s in shared],
                        [_wrap(s, 50) for s in shared], fontsize=7, title="series",
                        title_fontsize=7, loc="upper left")
    ax_t.add_artist(first)
    ax_t.legend([Line2D([], [], color="black", ls=STYLES[j % len(STYLES)],
                        marker=MARKERS[j % len(MARKERS)]) for j in range(len(runs))],
                [_wrap(n, 50) for n in names], fontsize=7, title="machine (run)",
                title_fontsize=7, loc="lower right", handlelength=4)
    devices = "\n".join(f"{n}: {_wrap(r.device_title() or 'device unknown', 100)}"
                        + (" [software adapter - not a GPU]" if r.software_series() else "")
                        for n, r in zip(names, runs, strict=True))
    fig.suptitle(f"Same series, {len(runs)} runs (baseline {names[0]})\n{devices}", fontsize=8)
    return save_figure(fig, Path(out), "compare")
