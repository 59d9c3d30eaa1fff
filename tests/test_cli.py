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


def test_unwritable_out(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, _, err = run_cli(capsys, "sweep", "--backends", "reference", "--presets", "micro",
                         "--out", str(blocker / "sub"), *QUICK)
    assert_one_line_error(rc, err, "cannot create output directory")


@pytest.mark.parametrize("describe, needle", [
    ({"adapter": "llvmpipe (LLVM 15)", "software": True}, "only a software adapter"),
    (None, "no usable adapter"),
])
def test_require_gpu(capsys, monkeypatch, tmp_path, describe, needle):
    monkeypatch.setattr(cli, "_gpu_describe", lambda: describe)
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
