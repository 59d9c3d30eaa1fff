"""asv integration: the suites pass ``asv check``, and a smoke run feeds ``asv-curves``.

asv runs in a subprocess with HOME pointed at a temporary folder (its machine file lives there)
and a copy of asv.conf.json whose results go to a temporary folder, so the repository is untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("asv")


def _asv_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    conf = json.loads((REPO / "asv.conf.json").read_text())
    conf.update(
        repo=str(REPO),
        benchmark_dir=str(REPO / "benchmarks"),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
        env_dir=str(tmp_path / "env"),
    )
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": "/tmp"}
    return env, path


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_asv_check(tmp_path):
    env, conf = _asv_env(tmp_path)
    r = _run([sys.executable, "-m", "asv", "check", "--python=same", "--config", str(conf)], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No problems found" in r.stdout + r.stderr


def test_smoke_run_then_curves(tmp_path):
    env, conf = _asv_env(tmp_path)
    r = _run([sys.executable, "-m", "bench", "asv-machine"], env)
    assert r.returncode == 0, r.stderr
    machine = r.stdout.strip()
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())
    assert "GPU:" in saved[machine]["cpu"]  # the adapter is recorded with every result

    commit = _run(["git", "rev-parse", "HEAD"], env).stdout.strip()
    points = [
        r"TrainStep.time_step\('micro', 'cpu/naive'\)",
        r"TrainStep.time_step\('small', 'cpu/naive'\)",
    ]
    args = [sys.executable, "-m", "asv", "run", "--python=same", "--quick", "--config", str(conf),
            "--machine", machine, "--set-commit-hash", commit]  # fmt: skip
    for p in points:
        args += ["-b", p]
    r = _run(args, env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = [p for p in (tmp_path / "results" / machine).glob("*.json") if p.name != "machine.json"]
    assert files, "asv wrote no result file"

    out = tmp_path / "curves"
    r = _run([sys.executable, "-m", "bench", "asv-curves", str(tmp_path / "results"), "--out",
              str(out)], env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_asv_curves_without_results_is_a_clear_error(tmp_path):
    env, _ = _asv_env(tmp_path)
    r = _run([sys.executable, "-m", "bench", "asv-curves", str(tmp_path / "none")], env)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "no asv results folder" in r.stderr
