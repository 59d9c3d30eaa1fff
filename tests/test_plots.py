"""A tiny real sweep through the CLI produces non-empty plots, a report, and resumable files."""

from pathlib import Path

import pytest

from bench import cli
from bench.results import load_rows
from bench.status import BY_NAME, is_timed, status_word


def test_tiny_real_sweep_plots_and_report(capsys, tmp_path):
    rc = cli.main([
        "sweep", "--backends", "reference,cpu", "--presets", "micro",
        "--sweep", "d_model=16,32", "--fix", "n_layer=1,seq_len=8,batch=2",
        "--budget", "0.03", "--out", str(tmp_path), "--run-id", "t1",
    ])
    out, err = capsys.readouterr()
    assert rc == 0, err
    (csv_path,) = tmp_path.glob("*/t1.csv")
    rows = load_rows(csv_path)
    assert len(rows) == 6
    # 0.03 s cannot meet the stopping rule's floor: timed rows, honestly not "ok"
    assert all(status_word(r["status"]) in BY_NAME for r in rows)
    assert any(is_timed(r["status"]) for r in rows)
    assert "# Run t1" in out and "## Modelled split" in out
    plots = Path(str(csv_path)[:-4] + "-plots")
    pngs = sorted(plots.glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    assert (plots / "step_time.png").exists() and (plots / "step_time.svg").exists()
    assert csv_path.with_suffix(".json").exists()

    # plot and report commands on the same file
    assert cli.main(["plot", str(csv_path), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "step_time.png").stat().st_size > 1000
    assert cli.main(["report", str(csv_path)]) == 0
    assert "| series |" in capsys.readouterr().out

    # resuming a finished run measures nothing and keeps every row once
    assert cli.main(["sweep", "--resume", "t1", "--out", str(tmp_path), "--no-plots"]) == 0
    assert len(load_rows(csv_path)) == 6


def test_software_adapter_is_flagged_in_plots(tmp_path):
    """Synthetic rows from a software adapter: its legend and title say so."""
    import csv

    from bench.analysis import Run
    from bench.plots import SOFT, plot_run
    from bench.results import COLUMNS

    p = tmp_path / "soft.csv"
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for backend, med, soft in (("cpu", 0.010, ""), ("gpu", 0.050, "true")):
            for d, k in ((96, 1.0), (128, 1.5)):
                w.writerow({c: "" for c in COLUMNS} | {
                    "run_id": "soft", "backend": backend, "d_model": d, "n_layer": 4,
                    "n_head": d // 32, "seq_len": 128, "batch": 8, "step_flops": int(1e9 * k),
                    "samples": 1, "median_s": med * k, "ci_low_s": med * k * 0.98,
                    "ci_high_s": med * k * 1.02, "status": "ok", "rounds": 2,
                    "adapter": "llvmpipe" if soft else "", "software": soft})
    files = plot_run(Run.load(p), tmp_path / "plots")
    svg = (tmp_path / "plots" / "speedup_vs_d_model.svg").read_text()
    assert files and SOFT in svg


# ---------------------------------------------------------------- readability, seen from the figure
def _write_run(tmp_path, points, name="syn"):
    """A run from (backend, variant dict, d_model, preset, median_s, device_s, per_op, software)
    tuples: a CSV row each, and a samples record where there is a profile."""
    import csv
    import json

    from bench.results import COLUMNS, row_key

    p = tmp_path / f"{name}.csv"
    with open(p, "w", newline="") as fh, open(tmp_path / f"{name}.samples.jsonl", "w") as sf:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for backend, opts, d, preset, med, dev, per_op, soft in points:
            row = {c: "" for c in COLUMNS} | {
                "run_id": name, "backend": backend, "matmul": opts.get("matmul", ""),
                "attention": opts.get("attention", ""), "preset": preset, "d_model": d,
                "n_layer": 4, "n_head": d // 32, "seq_len": 128, "batch": 8,
                "step_flops": d * d * 1000, "samples": 5, "median_s": med,
                "ci_low_s": med * 0.98, "ci_high_s": med * 1.02, "status": "ok",
                "rounds": 2, "adapter": "llvmpipe" if soft else "",
                "software": "true" if soft else "",
                "device_s": "" if dev is None else dev,
                "overhead_s": "" if dev is None else med - dev}
            w.writerow(row)
            if per_op:
                key = list(row_key({k: str(v) for k, v in row.items()}))
                sf.write(json.dumps({"key": key, "samples": [med] * 5, "per_op_s": per_op}) + "\n")
    from bench.analysis import Run

    return Run.load(p)


@pytest.fixture
def figures(monkeypatch):
    """Figures the plot functions would save, kept open for inspection."""
    import bench.plots as plots

    kept = {}

    def keep(fig, out, name):
        fig.canvas.draw()
        kept[name] = fig
        return []

    monkeypatch.setattr(plots, "save_figure", keep)
    yield kept
    for fig in kept.values():
        plots.plt.close(fig)


def _inside(fig):
    """Every title and label box lies inside the figure (nothing cut off at an edge)."""
    r = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    texts = [fig._suptitle] if fig._suptitle else []
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
    for t in texts:
        if t.get_text():
            b = t.get_window_extent(r)
            assert b.x0 >= -1 and b.y0 >= -1 and b.x1 <= W + 1 and b.y1 <= H + 1, t.get_text()


def test_kernel_share_groups_small_kernels_with_distinct_colours(tmp_path, figures):
    import numpy as np
    from matplotlib.colors import to_hex

    from bench.plots import MAX_NAMED, plot_kernel_share

    big = {"matmul_vec4:nn": 0.3, "matmul_vec4:nt": 0.25, "attn_naive_fwd": 0.2}
    small = {f"tiny_kernel_{i}": 0.002 for i in range(21)}  # 24 kernels in all
    cpu = {"matmul": 0.5, "attention": 0.3, "layernorm": 0.1, "adamw": 0.05, "gelu": 0.05}
    run = _write_run(tmp_path, [
        ("gpu", {"matmul": "vec4", "attention": "naive"}, 256, "xl", 1.0, 0.8,
         big | small, False),
        ("cpu", {}, 256, "xl", 2.0, 1.0, cpu, False)])
    plot_kernel_share(run, tmp_path)
    fig = figures["kernel_share"]
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "other" in labels and len(labels) <= MAX_NAMED + 1
    assert not any(lab.startswith("tiny_kernel") for lab in labels)
    assert "matmul:nn" in labels and "attn_fwd" in labels  # the variant is the series' label
    colours = [to_hex(h.get_facecolor()) for h in legend.legend_handles]
    assert len(set(colours)) == len(colours), dict(zip(labels, colours, strict=True))
    # every legend entry colours its bars, and the big segments carry their names
    ax = fig.axes[0]
    by_label = {}
    for bars in ax.containers:
        for patch in bars:
            by_label.setdefault(bars.get_label(), set()).add(to_hex(patch.get_facecolor()))
    assert set(by_label) == set(labels)
    assert all(by_label[lab] == {c} for lab, c in zip(labels, colours, strict=True))
    seg_text = " ".join(t.get_text() for t in ax.texts)
    assert "matmul:nn" in seg_text and "attention" in seg_text
    shares = sorted(p.get_width() for p in ax.patches)
    assert np.isclose(sum(shares), 2.0)  # two bars, each stacked to 1
    _inside(fig)


def test_speedup_by_point_legend_matches_bars_on_a_log_axis(tmp_path, figures):
    from matplotlib.colors import to_hex

    from bench.plots import plot_speedup_points

    pts = []
    for preset, d, cpu_t in (("micro", 16, 0.001), ("tiny", 64, 0.01)):
        pts.append(("cpu", {}, d, preset, cpu_t, None, None, False))
        pts.append(("gpu", {}, d, preset, cpu_t * 50, None, None, True))  # 0.02x: software
    run = _write_run(tmp_path, pts)
    plot_speedup_points(run, tmp_path)
    fig = figures["speedup_by_point"]
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylim()[0] < 0.02 < 1.0 < ax.get_ylim()[1]
    bars = {to_hex(p.get_facecolor()) for p in ax.patches}
    handles = ax.get_legend().legend_handles
    assert {to_hex(h.get_facecolor()) for h in handles} == bars
    assert all(h.get_hatch() == "//" for h in handles)  # the software series is marked as such
    assert "software adapter" in ax.get_legend().get_texts()[0].get_text()
    # bars start at 1x: a 0.02x bar reaches down from 1 to 0.02
    assert all(abs(p.get_y() - 1.0) < 1e-9 and p.get_height() < 0 for p in ax.patches)
    _inside(fig)


def test_overhead_vs_math_follows_the_curve_axis(tmp_path, figures):
    from bench.plots import plot_overhead_vs_math

    ds = [64, 96, 128, 160, 192, 224, 256, 288]
    pts = [("cpu", {}, d, "", 0.001 * d, 0.0008 * d, None, False) for d in ds]
    pts += [("gpu", {"matmul": "vec4"}, d, "", 0.002 + 1e-5 * d, 1e-5 * d, None, False)
            for d in ds]
    pts += [("cpu", {}, 16, "micro", 0.0005, 0.0004, None, False)]  # on no curve
    plot_overhead_vs_math(_write_run(tmp_path, pts), tmp_path)
    fig = figures["overhead_vs_math"]
    curve_axes = [ax for ax in fig.axes if ax.lines]
    assert len(curve_axes) == 2  # one per series, not 17 bars
    for ax in curve_axes:
        assert "d_model" in ax.get_xlabel()
        assert all(list(ln.get_xdata()) == ds for ln in ax.lines[:2])
    bar_axes = [ax for ax in fig.axes if ax.patches]
    assert len(bar_axes) == 1 and len(bar_axes[0].patches) == 2  # micro: math + overhead
    _inside(fig)


def test_speedup_title_mentions_a_crossover_only_when_there_is_one(tmp_path, figures):
    from bench.plots import plot_speedup_curves

    ds = [96, 128, 192, 256]
    pts = [("cpu", {}, d, "", 0.01 * d, None, None, False) for d in ds]
    pts += [("gpu", {}, d, "", 0.002 * d, None, None, False) for d in ds]  # 5x everywhere
    plot_speedup_curves(_write_run(tmp_path, pts, "nocross"), tmp_path)
    title = figures["speedup_vs_d_model"].axes[0].get_title()
    assert "95% CI" in title and "crossover" not in title
    pts = [("cpu", {}, d, "", 0.01 * d, None, None, False) for d in ds]
    pts += [("gpu", {}, d, "", 0.01 * 160 * (d / 160) ** 0.2, None, None, False) for d in ds]
    plot_speedup_curves(_write_run(tmp_path, pts, "cross"), tmp_path)
    assert "dotted: crossover" in figures["speedup_vs_d_model"].axes[0].get_title()
