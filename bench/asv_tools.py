"""asv glue: a machine name that includes the GPU, and curves drawn from asv's results.

asv's ``machine.json`` has no GPU field, so two GPUs in one host would merge under one machine.
``asv_machine`` registers a name that includes the adapter and writes the adapter into the
machine's ``cpu`` description, which asv copies into every result file.

asv's web UI plots one benchmark against commits; ``asv_curves`` instead reads the results of
every machine in the results folder (each machine's newest commit, or the commits asked for) and
draws what this project is about: step time and GPU-vs-CPU speedup against d_model, one colour per
backend/variant series, and (where the kernel suites ran) matmul GFLOP/s against size and
attention fwd+bwd time against seq_len, one colour per kernel variant. One figure per machine, and
where several machines (or commits) are drawn, one more that overlays them: one line style per
machine, so the same series on two GPUs sits side by side.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.environment import cpu_model, device_title, machine_name
from bench.model import D_MODEL_CURVE_PRESETS, get_preset


class AsvError(ValueError):
    """A user-facing problem with asv results (missing folder, no usable results)."""


def pick_adapter() -> dict[str, Any] | None:
    """The adapter the GPU backend would use, by the backend's own rule ($WGPU_ADAPTER, then
    adapter type): the machine name must name the GPU the results were measured on."""
    from bench.suites import gpu_adapter

    return gpu_adapter()


def asv_machine(dry_run: bool = False) -> tuple[str, dict[str, str]]:
    """Register this host + adapter in asv's machine file; returns (machine name, its fields).

    Written through asv's own ``MachineCollection`` rather than ``asv machine --yes``, which fails
    when the chosen name equals the host name (asv 0.6.6).
    """
    from asv.machine import Machine, MachineCollection

    a = pick_adapter() or {}
    adapter = a.get("adapter") or ""
    software = bool(a.get("software"))
    name = machine_name(adapter, software)
    kind = f"{a.get('adapter_type', '?')}, {a.get('backend', '?')}"
    gpu = f"{adapter} ({kind})" if adapter else "none"
    if software:
        gpu += " software adapter - not a GPU"
    info = {**Machine.get_defaults(), "machine": name, "cpu": f"{cpu_model()} | GPU: {gpu}"}
    if not dry_run:
        MachineCollection.save(name, info)
    return name, info


@dataclass
class Entry:
    """One asv result file drawn: which machine and commit measured it."""

    machine: str
    result: dict[str, Any]

    @property
    def commit(self) -> str:
        return str(self.result.get("commit_hash") or "?")[:8]


def _results(machine_dir: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(machine_dir.glob("*.json")):
        if p.name == "machine.json":
            continue
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise AsvError(f"cannot read asv result {p}: {e}") from None
        if isinstance(data, dict) and "results" in data:
            out.append(data)
    return out


def _newest_results(machine_dir: Path) -> list[dict[str, Any]]:
    """The result files of a machine's newest commit (one per environment)."""
    data = _results(machine_dir)
    if not data:
        return []
    newest = max(d.get("date") or 0 for d in data)
    return [d for d in data if (d.get("date") or 0) == newest]


def select_results(
    root: Path, machines: list[str] | None = None, commits: list[str] | None = None
) -> list[Entry]:
    """The result files to draw: every machine folder (or those named), each machine's newest
    commit (or every result whose commit starts with one of ``commits``). Unknown names, or a
    selection that matches nothing, are an AsvError naming what there is."""
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    if machines:
        unknown = [m for m in machines if m not in found]
        if unknown:
            raise AsvError(f"no machine {', '.join(unknown)} under {root} (there: "
                           f"{', '.join(found) or 'none'})")
        found = [m for m in found if m in machines]
    entries = []
    for m in found:
        if commits:
            picked = [d for d in _results(root / m)
                      if any(str(d.get("commit_hash", "")).startswith(c) for c in commits)]
            picked.sort(key=lambda d: d.get("date") or 0)
        else:
            picked = _newest_results(root / m)
        entries += [Entry(m, d) for d in picked]
    if commits and not entries:
        raise AsvError(f"no results of commit(s) {', '.join(commits)} under {root} for "
                       f"{', '.join(found) or 'no machine'}")
    return entries


def result_table(result: dict[str, Any], benchmark: str) -> dict[tuple[str, ...], float]:
    """{param tuple: value} for one benchmark of an asv result file (None results dropped)."""
    columns = result["result_columns"]
    row = result["results"].get(benchmark)
    if row is None:
        return {}
    entry = dict(zip(columns, row, strict=False))
    values = entry.get("result") or []
    params = entry.get("params") or []
    combos = list(itertools.product(*params)) if params else [()]
    out = {}
    for combo, v in zip(combos, values, strict=False):
        if v is not None and v == v:  # skip failed/skipped (None) and NaN
            out[tuple(str(p).strip("'") for p in combo)] = float(v)
    return out


def asv_curves(
    results_dir: str | Path = "results/asv",
    out: str | Path | None = None,
    machines: list[str] | None = None,
    commits: list[str] | None = None,
) -> list[Path]:
    """Plot step time and speedup vs d_model (and the kernel suites) per machine, and all the
    selected machines overlaid when there are several; returns the files written."""
    root = Path(results_dir)
    if not root.is_dir():
        raise AsvError(f"no asv results folder {root} (run `asv run` first)")
    entries = select_results(root, machines, commits)
    out_dir = Path(out) if out else root.parent / "asv-curves"
    written: list[Path] = []
    by_machine: dict[str, list[Entry]] = {}
    for e in entries:
        by_machine.setdefault(e.machine, []).append(e)
    groups = [(m, es) for m, es in by_machine.items()]
    if len(by_machine) > 1:
        groups.append(("machines", entries))
    for name, group in groups:
        written += _plot_train_step(group, name, out_dir)
        written += _plot_kernels(group, name, out_dir)
    if not written:
        raise AsvError(f"no TrainStep.time_step or kernel results under {root}")
    return written


def _device_of(result: dict[str, Any]) -> tuple[str, bool]:
    """(device line for a plot title, whether the GPU is a software adapter) of a result file."""
    cpu_desc = result.get("params", {}).get("cpu", "")
    cpu, _, gpu = cpu_desc.partition(" | GPU: ")
    software = "software adapter" in gpu
    return device_title(cpu, gpu.replace(" software adapter - not a GPU", ""), software), software


STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")


def _labels(group: list[Entry]) -> list[str]:
    """A legend name per entry: the machine, with the commit where one machine shows twice."""
    count: dict[str, int] = {}
    for e in group:
        count[e.machine] = count.get(e.machine, 0) + 1
    return [f"{e.machine} @ {e.commit}" if count[e.machine] > 1 else e.machine for e in group]


def _suptitle(fig: Any, what: str, name: str, group: list[Entry]) -> None:
    if len(group) == 1:
        e = group[0]
        text = (f"{what}, machine {e.machine}, commit {e.commit}\n"
                f"{_device_of(e.result)[0]}")
    else:
        lines = [f"{lab} ({STYLES[i % len(STYLES)]}): commit {e.commit}; "
                 f"{_device_of(e.result)[0]}" for i, (e, lab) in
                 enumerate(zip(group, _labels(group), strict=True))]
        text = f"{what}, {len(group)} runs ({name})\n" + "\n".join(lines)
    fig.suptitle(text, fontsize=8)


def _legends(fig: Any, colours: dict[str, Any], group: list[Entry]) -> None:
    """Under the panels, one legend for the colour of each series (the same in every panel);
    where several runs are overlaid, one more on the right for each machine's line style. Outside
    the axes, so no legend hides a line."""
    from matplotlib.lines import Line2D

    if colours:
        fig.legend([Line2D([], [], color=c, lw=2, marker="o") for c in colours.values()],
                   list(colours), fontsize=7, loc="outside lower center",
                   ncol=min(7, len(colours)), title="series", title_fontsize=7)
    if len(group) > 1:
        fig.legend([Line2D([], [], color="black", ls=STYLES[i % len(STYLES)],
                           marker=MARKERS[i % len(MARKERS)]) for i in range(len(group))],
                   _labels(group), fontsize=7, loc="outside right upper", title="machine",
                   title_fontsize=7, handlelength=4)


def _plot_kernels(group: list[Entry], name: str, out_dir: Path) -> list[Path]:
    """Matmul GFLOP/s vs size (a panel per form) and attention fwd+bwd time vs seq_len, a panel
    for each that ran on any entry of ``group``."""
    from bench.plots import _plain_log, plt, save_figure

    rates = [result_table(e.result, "kernels.Matmul.track_gflops") for e in group]
    attn = [result_table(e.result, "kernels.Attention.time_fwd_bwd") for e in group]
    forms = sorted({k[2] for r in rates for k in r})
    has_attn = any(attn)
    panels = len(forms) + has_attn
    if not panels:
        return []
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels + 2.0 * (len(group) > 1),
                                                 5.2 + 0.25 * len(group)),
                             squeeze=False, layout="constrained")
    axes = list(axes[0])
    palette = plt.get_cmap("tab10").colors
    variants = sorted({k[1] for r in rates + attn for k in r})
    color = {v: palette[i % len(palette)] for i, v in enumerate(variants)}
    for j, (rate, att) in enumerate(zip(rates, attn, strict=True)):
        style = dict(ls=STYLES[j % len(STYLES)], marker=MARKERS[j % len(MARKERS)])
        for ax, form in zip(axes, forms, strict=False):
            for v in variants:
                pts = sorted((int(k[0]), r) for k, r in rate.items() if k[1] == v and k[2] == form)
                if pts:
                    ax.plot(*zip(*pts, strict=True), color=color[v], label=v, **style)
        if has_attn:
            for v in variants:
                pts = sorted((int(k[0]), t * 1e3) for k, t in att.items() if k[1] == v)
                if pts:
                    axes[-1].plot(*zip(*pts, strict=True), color=color[v], label=v, **style)
    for ax, form in zip(axes, forms, strict=False):
        ax.set(xlabel="size n (n x n x n matmul)", ylabel="GFLOP/s", title=f"Matmul, form {form}")
        ax.set_xscale("log", base=2)
    if has_attn:
        axes[-1].set(xlabel="seq_len T (B 4, H 8, head_dim 64)",
                     ylabel="fwd+bwd time (ms, asv median)", title="Attention forward + backward")
        _plain_log(axes[-1])
        axes[-1].set_xscale("log", base=2)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    _legends(fig, color, group)
    _suptitle(fig, "asv kernel results", name, group)
    return save_figure(fig, out_dir, f"{name}-kernels")


def _x_axis(presets: set[str]) -> tuple[list[str], dict[str, float], str]:
    """(presets in order, x position of each, axis label): along d_model where the presets form
    the clean d_model family, else one slot per preset (several dimensions change)."""
    curve = [p for p in D_MODEL_CURVE_PRESETS if p in presets]
    if len(curve) > 1:
        return (curve, {p: get_preset(p).d_model for p in curve},
                "d_model (n_layer 4, seq_len 128, batch 8, head_dim 32)")
    order = sorted(presets, key=lambda p: get_preset(p).d_model)
    label = ("preset (several dimensions change: not a d_model curve)" if len(order) > 1
             else "preset (one point: no curve)")
    return order, {p: i for i, p in enumerate(order)}, label


def _plot_train_step(group: list[Entry], name: str, out_dir: Path) -> list[Path]:
    from bench.plots import _plain_log, plt, save_figure  # matplotlib (Agg) only when drawing

    tables = [result_table(e.result, "train_step.TrainStep.time_step") for e in group]
    if not any(tables):
        return []
    curve, xs_of, x_label = _x_axis({k[0] for t in tables for k in t})
    series = sorted({k[1] for t in tables for k in t})
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(13 + 2.0 * (len(group) > 1),
                                                    6 + 0.25 * len(group)), layout="constrained")
    base = "cpu/naive"
    palette = plt.get_cmap("tab20").colors  # 14+ series: tab10's C0..C9 would repeat colours
    color = {s: palette[i % len(palette)] for i, s in enumerate(series)}
    single = len(group) == 1
    for j, (e, times) in enumerate(zip(group, tables, strict=True)):
        software = _device_of(e.result)[1]
        for s in series:
            pts = [(xs_of[p], times[(p, s)] * 1e3) for p in curve if (p, s) in times]
            if not pts:
                continue
            if single:  # one run: CPU series dashed, GPU solid
                style = dict(ls="--" if s.startswith("cpu") else "-", marker="o")
            else:  # several runs: the line style is the machine's
                style = dict(ls=STYLES[j % len(STYLES)], marker=MARKERS[j % len(MARKERS)])
            label = s + (" (software adapter - not a GPU)"
                         if software and s.startswith("gpu") else "")
            ax_t.plot(*zip(*pts, strict=True), color=color[s], label=label, **style)
            ratio = [(xs_of[p], times[(p, base)] / times[(p, s)]) for p in curve
                     if (p, s) in times and (p, base) in times]  # fmt: skip
            if ratio and s != base:
                ax_s.plot(*zip(*ratio, strict=True), color=color[s], label=label, **style)
    ax_t.set(xlabel=x_label, ylabel="step time (ms, asv median)", title="Training step time")
    ax_s.axhline(1.0, color="grey", lw=1, ls="--")
    ax_s.set(xlabel=x_label, ylabel=f"speedup vs {base} (x)",
             title=f"Speedup over {base} (same machine)")  # fmt: skip
    if not ax_s.lines[1:]:
        ax_s.text(0.5, 0.5, f"no series measured next to {base}", transform=ax_s.transAxes,
                  ha="center", va="center", fontsize=9, color="grey")
    ticks = [xs_of[p] for p in curve]
    labels = [f"{p}\n(d{get_preset(p).d_model})" for p in curve]
    for ax in (ax_t, ax_s):
        _plain_log(ax)
        ax.set_xticks(ticks, labels, fontsize=7)
        if len(ticks) == 1:  # one preset: a readable window around its one position
            ax.set_xlim(ticks[0] - 1, ticks[0] + 1)
        ax.grid(alpha=0.3, which="both")
    soft = any(_device_of(e.result)[1] for e in group)
    _legends(fig, {s + (" (software adapter - not a GPU)" if soft and s.startswith("gpu") else ""):
                   c for s, c in color.items()}, group)
    _suptitle(fig, "asv results", name, group)
    return save_figure(fig, out_dir, f"{name}-train-step")
