"""The harness as a library: the README's ``bench.run`` example runs as written; curves,
speedups and crossovers follow the sweep's declared axis (seq_len, threads), not d_model; what a
Run derives is computed once; one series id and one point label; the backends' variant surface."""

import csv
import json
import re
from pathlib import Path

import pytest

from bench.results import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## The harness as a library"


def library_example() -> str:
    """The python block of the README's library section."""
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"no '{SECTION}' section in README.md"
    section = text.split(SECTION, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_library_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(library_example(), "README library example", "exec"), scope)
    run = scope["run"]
    (csv_path,) = tmp_path.glob("results/*/*.csv")
    assert run.csv_path == Path("results") / csv_path.parent.name / csv_path.name
    assert run.json_path.exists() and json.loads(run.json_path.read_text())["sweep"]["axes"] == {
        "seq_len": [16, 32, 64]}
    assert run.plot_files and all(p.exists() and p.stat().st_size > 1000 for p in run.plot_files)
    assert {r["seq_len"] for r in run.rows} == {16, 32, 64}
    assert {r["attention"] for r in run.rows} == {"naive", "fa2"}
    out = capsys.readouterr().out
    assert "# Run " in out and "## Crossover along seq_len curves" in out
    assert "d_model curves" not in out  # the declared axis, not a hard-coded one


def _write(tmp_path, name, rows, sweep=None):
    """A results CSV of ok rows (each a dict over the defaults below), and a JSON sidecar
    declaring ``sweep`` when given."""
    p = tmp_path / f"{name}.csv"
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for r in rows:
            med = r["median_s"]
            w.writerow({c: "" for c in COLUMNS} | {
                "run_id": name, "d_model": 128, "n_layer": 4, "n_head": 4, "seq_len": 128,
                "batch": 8, "step_flops": 10**9, "samples": 10, "ci_low_s": med * 0.99,
                "ci_high_s": med * 1.01, "status": "ok", "rounds": 2, "rounds_dropped": 0} | r)
    if sweep is not None:
        p.with_suffix(".json").write_text(json.dumps({"sweep": sweep.to_dict()}))
    from bench.analysis import Run

    return Run.load(p)


SEQ = [64, 128, 256, 512, 1024]


def _seq_len_rows():
    """naive grows as T^2, fa2 as T with a larger constant: fa2 wins from T = 256 on."""
    rows = []
    for t in SEQ:
        rows.append({"backend": "gpu", "attention": "naive", "seq_len": t,
                     "median_s": 1e-3 + 1e-8 * t * t})
        rows.append({"backend": "gpu", "attention": "fa2", "seq_len": t,
                     "median_s": 1e-3 + 2.56e-6 * t})
    return rows


@pytest.mark.parametrize("declared", [True, False])
def test_seq_len_sweep_reports_and_draws_its_crossover(tmp_path, monkeypatch, declared):
    from bench import plots
    from bench.sweep import Sweep

    sweep = Sweep(["gpu"], axes={"seq_len": SEQ}, attention=["naive", "fa2"])
    run = _write(tmp_path, "seq", _seq_len_rows(), sweep if declared else None)
    if declared:
        assert run.x_axes() == ["seq_len"]
    (curve,) = run.curves()
    assert (curve.axis, curve.candidate, curve.baseline) == (
        "seq_len", "gpu[attention=fa2]", "gpu[attention=naive]")
    assert curve.xs == SEQ
    assert curve.crossover() == pytest.approx(256.0)
    text = run.report()
    assert "## Crossover along seq_len curves" in text
    assert ("- gpu[attention=fa2] vs gpu[attention=naive] (d_model 128, n_layer 4, batch 8, "
            "n_head 4): crossover at 256") in text
    assert "along d_model" not in text
    if declared:  # the speedup table names the declared axis' value of each point
        assert "| series | vs | point | seq_len | speedup | 95% CI |" in text
        assert "| gpu[attention=fa2] | gpu[attention=naive] | L4_d128_H4_T512_B8 | 512 |" in text

    drawn = {}

    def keep(fig, out, name):
        fig.canvas.draw()
        drawn[name] = fig
        return [Path(out) / f"{name}.png"]

    monkeypatch.setattr(plots, "save_figure", keep)
    plots.plot_run(run, tmp_path / "plots")
    assert "speedup_vs_d_model" not in drawn
    ax = drawn["speedup_vs_seq_len"].axes[0]
    assert ax.get_xlabel() == "seq_len"
    assert "Speedup along seq_len" in ax.get_title() and "dotted: crossover" in ax.get_title()
    (ratio_line,) = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert list(ratio_line.get_xdata()) == SEQ
    (vline,) = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    assert vline.get_xdata()[0] == pytest.approx(256.0)
    assert any(t.get_text() == "crossover seq_len=256" for t in ax.texts)
    for fig in drawn.values():
        plots.plt.close(fig)


def test_threads_sweep_draws_the_cpu_backends_scaling(tmp_path, monkeypatch):
    from bench import plots
    from bench.sweep import Sweep

    counts = [1, 2, 4, 8, 16]
    sweep = Sweep(["cpu"], axes={"threads": counts})
    assert [cp.config.label() for cp in sweep.configs()] == ["L4_d128_H4_T128_B8"]
    rows = [{"backend": "cpu", "threads": n, "median_s": 0.016 / min(n, 4),
             "device_s": 0.015 / min(n, 4), "overhead_s": 0.001 / min(n, 4)} for n in counts]
    run = _write(tmp_path, "thr", rows, sweep)
    (curve,) = run.curves("threads")
    assert (curve.candidate, curve.baseline) == ("cpu", "cpu[threads=1]")
    assert curve.xs == [2, 4, 8, 16]
    assert curve.ratios == pytest.approx([2.0, 4.0, 4.0, 4.0])
    assert curve.verdict() == "faster at every point"
    assert "## Crossover along threads curves" in run.report()

    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, out, name: drawn.setdefault(name, fig)
                        and [])
    plots.plot_run(run, tmp_path / "plots")
    assert drawn["speedup_vs_threads"].axes[0].get_xlabel() == "threads"
    (panel,) = [a for a in drawn["overhead_vs_math"].axes if a.lines]  # one cpu line, 5 counts
    assert panel.get_xlabel() == "threads" and list(panel.lines[0].get_xdata()) == counts
    for fig in drawn.values():
        plots.plt.close(fig)


def test_derived_results_are_computed_once(tmp_path, monkeypatch):
    import bench.analysis as analysis
    from bench import plots

    calls = {"speedup": 0, "fit": 0}
    real_speedup, real_fit = analysis.row_ratio, analysis.fit_overhead

    def counted_speedup(*a, **kw):
        calls["speedup"] += 1
        return real_speedup(*a, **kw)

    def counted_fit(*a, **kw):
        calls["fit"] += 1
        return real_fit(*a, **kw)

    monkeypatch.setattr(analysis, "row_ratio", counted_speedup)
    monkeypatch.setattr(analysis, "fit_overhead", counted_fit)
    run = _write(tmp_path, "seq", _seq_len_rows())
    for r in run.rows:  # raw samples and an interval for every row, so each ratio has one
        r["_samples"] = [r["median_s"]] * 5
        r["ci_low_s"], r["ci_high_s"] = 0.98 * r["median_s"], 1.02 * r["median_s"]
    monkeypatch.setattr(type(run), "raw", lambda self, row: row["_samples"])
    monkeypatch.setattr(plots, "save_figure", lambda fig, out, name: plots.plt.close(fig) or [])
    run.report()
    plots.plot_run(run, tmp_path / "plots")
    run.report()
    assert calls["speedup"] == len(run.speedups()) == len(SEQ)
    assert calls["fit"] == 2  # one per series
    assert run.speedups() is run.speedups() and run.curves() == run.curves()


def test_one_series_id_and_one_point_label(tmp_path):
    from bench.analysis import point_label, series
    from bench.model import ModelConfig
    from bench.results import load_rows, make_row
    from bench.sweep import Point

    cfg = ModelConfig(d_model=64, n_layer=2, n_head=2, seq_len=32, batch=4)
    points = [Point("gpu", "", cfg, "tiled16", "fa2"), Point("cpu", "tiny", cfg, threads=2),
              Point("reference", "", cfg)]
    p = tmp_path / "ids.csv"
    with open(p, "w", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for pt in points:
            w.writerow(make_row("ids", pt, None, "unsupported: test"))
    rows = load_rows(p)
    assert [series(r) for r in rows] == [pt.series() for pt in points] == [
        "gpu[matmul=tiled16,attention=fa2]", "cpu[threads=2]", "reference"]
    assert [point_label(r) for r in rows] == [pt.label() for pt in points] == [
        "L2_d64_H2_T32_B4", "tiny", "L2_d64_H2_T32_B4"]
    assert cfg.label() == "L2_d64_H2_T32_B4"


def test_backends_list_their_variants_through_one_surface():
    from backends import BackendError, variants
    from kernels.registry import variants as kernel_variants

    assert variants("cpu") == {"attention": ["fa2", "naive"]}
    assert variants("reference") == {} and variants("torch") == {}
    assert variants("gpu") == {k: sorted(v) for k, v in kernel_variants().items()}
    with pytest.raises(BackendError, match="unknown backend"):
        variants("tpu")
    cli = (ROOT / "bench" / "cli.py").read_text() + (ROOT / "bench" / "sweep.py").read_text()
    assert "ATTENTION_VARIANTS" not in cli and "importlib.import_module" not in cli
