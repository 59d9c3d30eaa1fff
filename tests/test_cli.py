"""Every CLI error path: one line on stderr, exit code 2, no traceback; --help everywhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cli

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    try:
        rc = cli.main(list(argv))
    except SystemExit as e:  # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, needle):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert needle.lower() in lines[0].lower(), lines[0]


QUICK = ["--budget", "0.01", "--no-plots"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["sweep", "--presets", "nano"], "unknown preset 'nano'"),
        (["sweep", "--backends", "cuda"], "unknown backend 'cuda'"),
        (["sweep", "--sweep", "d_model=64:32:8"], "start <= stop"),
        (["sweep", "--sweep", "d_model=abc"], "malformed axis"),
        (["sweep", "--sweep", "width=64"], "unknown axis 'width'"),
        (["sweep", "--sweep", "d_model=64", "--fix", "d_model=64"], "both swept and fixed"),
        (["sweep", "--fix", "n_layer"], "malformed --fix"),
        (["sweep", "--sweep", "d_model=100", "--fix", "n_head=8"], "divisible"),
        (["sweep", "--attention", "flash9"], "unknown attention variant"),
        (["sweep", "--threads", "two"], "--threads"),
        (["sweep", "--budget", "-1"], "--budget"),
        (["sweep", "--budget", "abc"], "invalid float"),
        (["sweep", "--resume", "nope"], "no run 'nope'"),
        (["sweep", "--frobnicate"], "unrecognized arguments"),
        (["plot", "missing.csv"], "no such results file"),
        (["report", "missing.csv"], "no such results file"),
        (["kernels", "--sizes", "0"], "positive integers"),
        (["kernels", "--seq", "-5"], "positive integers"),
        (["kernels", "--budget", "0"], "--budget must be positive"),
        (["teleport"], "invalid choice"),
        ([], "required"),
    ],
)
def test_error_paths(capsys, tmp_path, argv, needle):
    rc, _, err = run_cli(capsys, *argv, *(["--out", str(tmp_path)] if argv[:1] == ["sweep"] and
                                          "--resume" in argv else []))
    assert_one_line_error(rc, err, needle)


def test_report_on_a_file_that_is_not_ours(capsys, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    rc, _, err = run_cli(capsys, "report", str(bad))
    assert_one_line_error(rc, err, "not a bench results csv")


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unwritable_out(capsys, tmp_path, where):
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = str(blocker / "sub") if where == "under-a-file" else "/proc/x"
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference", "--presets", "micro",
                         "--out", out, *QUICK)
    assert_one_line_error(rc, err, f"--out {out} is not writable")


@pytest.mark.parametrize("describe, needle", [
    ({"adapter": "llvmpipe (LLVM 15)", "software": True}, "only a software adapter"),
    (None, "no usable adapter"),
])
def test_require_gpu(capsys, monkeypatch, tmp_path, describe, needle):
    import bench.api

    monkeypatch.setattr(bench.api, "gpu_describe", lambda: describe)
    rc, _, err = run_cli(capsys, "sweep", "--require-gpu", "--backends", "reference",
                         "--presets", "micro", "--out", str(tmp_path), *QUICK)
    assert_one_line_error(rc, err, needle)


@pytest.mark.parametrize("sub", [[], ["devices"], ["sweep"], ["plot"], ["report"]])
def test_help_everywhere(capsys, sub):
    rc, out, _ = run_cli(capsys, *sub, "--help")
    assert rc == 0 and "usage:" in out


def test_module_entry_point_error_and_help():
    env = {**os.environ, "XDG_RUNTIME_DIR": "/tmp"}
    r = subprocess.run([sys.executable, "-m", "bench", "sweep", "--presets", "nano"], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and "sweep" in r.stdout


def test_devices_runs(capsys):
    rc, out, _ = run_cli(capsys, "devices")
    assert rc == 0 and "CPU:" in out


# ---------------------------------------------------------------- results files a user hands in
def _tiny_run(capsys, tmp_path, run_id="t1", *extra):
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference", "--presets", "micro",
                         "--out", str(tmp_path), "--run-id", run_id, *QUICK, *extra)
    assert rc == 0, err
    (path,) = tmp_path.glob(f"*/{run_id}.csv")
    return path, err


def test_bad_numeric_cell_is_one_line_naming_line_and_column(capsys, tmp_path):
    path, _ = _tiny_run(capsys, tmp_path)
    head, row = path.read_text().splitlines()[:2]
    cells = row.split(",")
    cells[head.split(",").index("median_s")] = "notanumber"
    path.write_text(head + "\n" + ",".join(cells) + "\n")
    for cmd in ("report", "plot"):
        rc, _, err = run_cli(capsys, cmd, str(path))
        assert_one_line_error(rc, err, "line 2: column median_s holds 'notanumber'")


def test_header_only_csv_is_refused(capsys, tmp_path):
    path, _ = _tiny_run(capsys, tmp_path)
    path.write_text(path.read_text().splitlines()[0] + "\n")
    for cmd in ("report", "plot"):
        rc, _, err = run_cli(capsys, cmd, str(path))
        assert_one_line_error(rc, err, "holds no rows")


def test_truncated_row_is_reported(capsys, tmp_path):
    path, _ = _tiny_run(capsys, tmp_path)
    text = path.read_text()
    path.write_text(text + text.splitlines()[1][:25] + "\n")  # a row cut mid-way
    rc, out, err = run_cli(capsys, "report", str(path))
    assert rc == 0 and "# Run t1" in out
    assert "left out 1 incomplete row(s) (line 3)" in err


# ---------------------------------------------------------------- run ids
def test_report_and_plot_take_a_run_id(capsys, tmp_path):
    _tiny_run(capsys, tmp_path, "byid")
    rc, out, err = run_cli(capsys, "report", "byid", "--results", str(tmp_path))
    assert rc == 0 and "# Run byid" in out, err
    rc, out, err = run_cli(capsys, "plot", "byid", "--results", str(tmp_path), "--out",
                           str(tmp_path / "p"))
    assert rc == 0 and (tmp_path / "p" / "step_time.png").exists(), err
    rc, _, err = run_cli(capsys, "report", "nosuchrun", "--results", str(tmp_path))
    assert_one_line_error(rc, err, "no run 'nosuchrun'")


def test_no_plots_says_where_the_csv_went(capsys, tmp_path):
    path, err = _tiny_run(capsys, tmp_path, "where")
    assert f"wrote {path}" in err


@pytest.mark.parametrize("run_id", ["../escaped", "../../etc/evil", "a/b", "..", ".hidden"])
def test_run_id_must_be_a_plain_name(capsys, tmp_path, run_id):
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference", "--presets", "micro",
                         "--out", str(tmp_path / "res"), "--run-id", run_id, *QUICK)
    assert_one_line_error(rc, err, f"--run-id {run_id!r} is not a plain run name")
    assert not (tmp_path / "res").exists() and not (tmp_path / "escaped.csv").exists()


@pytest.mark.parametrize("resume", ["../x", "../../etc/evil"])
def test_resume_with_an_escaping_id(capsys, tmp_path, resume):
    rc, _, err = run_cli(capsys, "sweep", "--resume", resume, "--out", str(tmp_path))
    assert_one_line_error(rc, err, "neither a run id nor a .csv path")


def test_rounds_are_the_runs_own_and_a_resume_keeps_them(capsys, tmp_path):
    import json

    from bench.results import load_rows

    path, _ = _tiny_run(capsys, tmp_path, "r3", "--rounds", "3")
    (row,) = load_rows(path)
    assert row["rounds"] + row["rounds_dropped"] >= 3
    assert json.loads(path.with_suffix(".json").read_text())["rounds"] == 3
    rc, _, err = run_cli(capsys, "sweep", "--resume", "r3", "--out", str(tmp_path), "--rounds", "2")
    assert_one_line_error(rc, err, "--rounds cannot be combined")
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference", "--presets", "micro",
                         "--out", str(tmp_path), "--rounds", "1", *QUICK)
    assert_one_line_error(rc, err, "--rounds must be at least 2")


@pytest.mark.parametrize("extra, flag", [
    (["--presets", "tiny"], "--presets"),
    (["--backends", "cpu"], "--backends"),
    (["--sweep", "d_model=32,64"], "--sweep"),
    (["--run-id", "other"], "--run-id"),
])
def test_resume_refuses_a_new_sweep_declaration(capsys, tmp_path, extra, flag):
    _tiny_run(capsys, tmp_path, "r1")
    rc, _, err = run_cli(capsys, "sweep", "--resume", "r1", "--out", str(tmp_path), *extra)
    assert_one_line_error(rc, err, f"{flag} cannot be combined")


def test_interrupt_names_the_run_to_resume(capsys, tmp_path, monkeypatch):
    import bench.runner

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.runner, "run_sweep", interrupted)
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference", "--presets", "micro",
                         "--out", str(tmp_path), "--run-id", "cut", *QUICK)
    assert rc == 130
    assert f"--resume cut --out {tmp_path}" in err and "RUN" not in err


@pytest.mark.parametrize("flag, value", [
    ("--backends", "cpu,cpu"), ("--presets", "micro,tiny,micro"), ("--threads", "1,1"),
])
def test_repeated_values_are_refused(capsys, tmp_path, flag, value):
    rc, _, err = run_cli(capsys, "sweep", flag, value, "--out", str(tmp_path), *QUICK)
    assert_one_line_error(rc, err, f"{flag} names")


def test_budget_warning_comes_before_measuring(capsys, tmp_path, monkeypatch):
    """A CPU step at behemoth cannot fit 5 steps in 0.2 s: said before any point runs."""
    import bench.environment
    import bench.runner

    measured = []
    monkeypatch.setattr(bench.environment, "cpu_peak_flops", lambda: 1e11)
    monkeypatch.setattr(bench.runner, "run_sweep", lambda *a, **kw: measured.append(1))
    monkeypatch.setattr(cli, "finish", lambda *a, **kw: None)
    rc, _, err = run_cli(capsys, "sweep", "--backends", "cpu", "--presets", "micro,behemoth",
                         "--budget", "0.2", "--out", str(tmp_path), "--no-plots", "--run-id", "b1")
    assert rc == 0 and measured
    (line,) = [x for x in err.splitlines() if x.startswith("warning: --budget 0.2 s")]
    assert "1 config(s)" in line and "behemoth" in line and "micro" not in line
    rc, _, err = run_cli(capsys, "sweep", "--backends", "cpu", "--presets", "micro",
                         "--budget", "0.2", "--out", str(tmp_path), "--no-plots", "--run-id", "b2")
    assert rc == 0 and "warning" not in err, err


def test_cli_gives_the_vulkan_loader_a_runtime_dir(tmp_path):
    """Without XDG_RUNTIME_DIR the loader complains on every GPU command: the CLI sets one."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    code = ("import os; from bench import cli; cli.main(['report', 'missing.csv']); "
            "d = os.environ['XDG_RUNTIME_DIR']; s = os.stat(d); "
            "print(d, oct(s.st_mode & 0o777), s.st_uid == os.getuid())")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    path, mode, mine = r.stdout.split()
    assert Path(path).is_dir() and mode == "0o700" and mine == "True"
    r = subprocess.run([sys.executable, "-m", "bench", "devices"], cwd=ROOT, capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0 and "XDG_RUNTIME_DIR" not in r.stderr, r.stderr


def test_plot_to_an_unwritable_out(capsys, tmp_path):
    path, _ = _tiny_run(capsys, tmp_path, "pw")
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, _, err = run_cli(capsys, "plot", str(path), "--out", str(blocker / "sub"))
    assert_one_line_error(rc, err, f"--out {blocker / 'sub'} is not writable")
