"""asv glue: a machine name that includes the GPU, and curves drawn from asv's results.

asv's ``machine.json`` has no GPU field, so two GPUs in one host would merge under one machine.
``asv_machine`` registers a name that includes the adapter and writes the adapter into the
machine's ``cpu`` description, which asv copies into every result file.

asv's web UI plots one benchmark against commits; ``asv_curves`` instead reads the newest result
of each machine and draws what this project is about: step time and GPU-vs-CPU speedup against
d_model, one line per backend/variant series, and (where the kernel suites ran) matmul GFLOP/s
against size and attention fwd+bwd time against seq_len, one line per kernel variant.
"""

from __future__ import annotations

import itertools
import json
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


def _newest_results(machine_dir: Path) -> list[dict[str, Any]]:
    """The result files of a machine's newest commit (one per environment)."""
    files = [p for p in machine_dir.glob("*.json") if p.name != "machine.json"]
    if not files:
        return []
    data = [json.loads(p.read_text()) for p in files]
    newest = max(d.get("date") or 0 for d in data)
    return [d for d in data if (d.get("date") or 0) == newest]


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


def asv_curves(results_dir: str | Path = "results/asv", out: str | Path | None = None) -> list:
    """Plot step time and speedup vs d_model per machine from asv results; returns the files."""
    root = Path(results_dir)
    if not root.is_dir():
        raise AsvError(f"no asv results folder {root} (run `asv run` first)")
    out_dir = Path(out) if out else root.parent / "asv-curves"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for machine_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for result in _newest_results(machine_dir):
            written += _plot_machine(result, machine_dir.name, out_dir)
            written += _plot_kernels(result, machine_dir.name, out_dir)
    if not written:
        raise AsvError(f"no TrainStep.time_step or kernel results under {root}")
    return written


def _device_of(result: dict[str, Any]) -> tuple[str, bool]:
    """(device line for a plot title, whether the GPU is a software adapter) of a result file."""
    cpu_desc = result.get("params", {}).get("cpu", "")
    cpu, _, gpu = cpu_desc.partition(" | GPU: ")
    software = "software adapter" in gpu
    return device_title(cpu, gpu.replace(" software adapter - not a GPU", ""), software), software


def _plot_kernels(result: dict[str, Any], machine: str, out_dir: Path) -> list[Path]:
    """Matmul GFLOP/s vs size (a panel per form) and attention fwd+bwd time vs seq_len, a panel
    for each that ran."""
    from bench.plots import plt, save_figure

    rates = result_table(result, "kernels.Matmul.track_gflops")
    attn = result_table(result, "kernels.Attention.time_fwd_bwd")
    forms = sorted({k[2] for k in rates})
    panels = len(forms) + bool(attn)
    if not panels:
        return []
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.2), squeeze=False)
    axes = list(axes[0])
    palette = plt.get_cmap("tab10").colors
    variants = sorted({k[1] for k in rates} | {k[1] for k in attn})
    color = {v: palette[i % len(palette)] for i, v in enumerate(variants)}
    for ax, form in zip(axes, forms, strict=False):
        for v in sorted({k[1] for k in rates}):
            pts = sorted((int(k[0]), r) for k, r in rates.items() if k[1] == v and k[2] == form)
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", color=color[v], label=v)
        ax.set(xlabel="size n (n x n x n matmul)", ylabel="GFLOP/s", title=f"Matmul, form {form}")
        ax.set_xscale("log", base=2)
    if attn:
        ax = axes[-1]
        for v in sorted({k[1] for k in attn}):
            pts = sorted((int(k[0]), t * 1e3) for k, t in attn.items() if k[1] == v)
            ax.plot(*zip(*pts, strict=True), marker="o", color=color[v], label=v)
        ax.set(xlabel="seq_len T (B 4, H 8, head_dim 64)", ylabel="fwd+bwd time (ms, asv median)",
               yscale="log", title="Attention forward + backward")  # fmt: skip
        ax.set_xscale("log", base=2)
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"asv kernel results, machine {machine}, commit "
                 f"{result.get('commit_hash', '?')[:8]}\n{_device_of(result)[0]}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, f"{machine}-kernels")


def _plot_machine(result: dict[str, Any], machine: str, out_dir: Path) -> list[Path]:
    from bench.plots import plt, save_figure  # matplotlib (Agg) only when drawing

    times = result_table(result, "train_step.TrainStep.time_step")
    if not times:
        return []
    title_dev, software = _device_of(result)
    curve = [p for p in D_MODEL_CURVE_PRESETS if any(k[0] == p for k in times)]
    if not curve:  # only presets that change several dimensions: no d_model curve to draw
        curve = sorted({k[0] for k in times}, key=lambda p: get_preset(p).d_model)
        x_label = "preset (several dimensions change: not a d_model curve)"
        xs_of = {p: i for i, p in enumerate(curve)}
    else:
        x_label = "d_model (n_layer 4, seq_len 128, batch 8, head_dim 32)"
        xs_of = {p: get_preset(p).d_model for p in curve}
    series = sorted({k[1] for k in times})
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(13, 5))
    base = "cpu/naive"
    palette = plt.get_cmap("tab20").colors  # 14+ series: tab10's C0..C9 would repeat colours
    for i, s in enumerate(series):
        color = palette[i % len(palette)]  # one colour per series in both panels
        style = "--" if s.startswith("cpu") else "-"  # CPU series dashed, GPU solid
        pts = [(xs_of[p], times[(p, s)]) for p in curve if (p, s) in times]
        if not pts:
            continue
        label = s + (" (software adapter - not a GPU)" if software and s.startswith("gpu") else "")
        ax_t.plot(*zip(*pts, strict=True), marker="o", ls=style, color=color, label=label)
        ratio = [(xs_of[p], times[(p, base)] / times[(p, s)]) for p in curve
                 if (p, s) in times and (p, base) in times]  # fmt: skip
        if ratio and s != base:
            ax_s.plot(*zip(*ratio, strict=True), marker="o", ls=style, color=color, label=label)
    ax_t.set(xlabel=x_label, ylabel="step time (s, asv median)", yscale="log",
             title="Training step time")  # fmt: skip
    ax_s.axhline(1.0, color="grey", lw=1, ls="--")
    ax_s.set(xlabel=x_label, ylabel=f"speedup vs {base} (x)", yscale="log",
             title=f"Speedup over {base}")  # fmt: skip
    for ax in (ax_t, ax_s):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"asv results, machine {machine}, commit {result.get('commit_hash', '?')[:8]}\n"
                 f"{title_dev}", fontsize=9)  # fmt: skip
    fig.tight_layout()
    files = save_figure(fig, out_dir, f"{machine}-train-step")
    return files
