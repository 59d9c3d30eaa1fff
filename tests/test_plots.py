"""A tiny real sweep through the CLI produces non-empty plots, a report, and resumable files."""

from pathlib import Path

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
