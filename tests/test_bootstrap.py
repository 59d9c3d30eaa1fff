"""``source scripts/bootstrap.sh`` in a user's terminal: the venv lands on PATH and nothing else
of the shell changes (no ``cd``, no ``set -euo pipefail`` left on, a failure does not exit).

The script runs in a copy of the repository's skeleton whose venv is already "installed" (the
stamp file the script checks) and whose python answers the adapter probe, so nothing is built.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _skeleton(tmp_path: Path, probe_ok: bool = True) -> Path:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "bootstrap.sh", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root)
    digest = hashlib.sha1((root / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / f".installed-{digest}").touch()
    py = venv / "bin" / "python"
    py.write_text(f"#!/bin/sh\nexit {0 if probe_ok else 1}\n")
    py.chmod(0o755)
    return root


SHOW = 'echo "pwd=$PWD"; echo "opts=$-"; set -o | grep pipefail; echo "path0=${PATH%%:*}"'


def _source(root: Path, cwd: Path, after: str = SHOW) -> subprocess.CompletedProcess:
    script = f"source {root}/scripts/bootstrap.sh; echo rc=$?; {after}"
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha1sum") is None,
                    reason="needs bash and sha1sum")
def test_sourcing_keeps_the_shell_as_it_was(tmp_path):
    root = _skeleton(tmp_path)
    home = tmp_path / "elsewhere"
    home.mkdir()
    r = _source(root, home)
    assert "rc=0" in r.stdout, r.stderr
    assert f"pwd={home}" in r.stdout  # no cd
    opts = r.stdout.split("opts=")[1].split()[0]
    assert "e" not in opts and "u" not in opts  # no set -e / set -u left on
    assert "pipefail" in r.stdout and "off" in r.stdout.split("pipefail")[1].split()[0]
    assert f"path0={root}/.venv/bin" in r.stdout
    assert "_gpt_curves" not in _source(root, home, "set | grep -c _gpt_curves || true").stdout


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha1sum") is None,
                    reason="needs bash and sha1sum")
def test_a_failed_setup_returns_instead_of_closing_the_shell(tmp_path):
    root = _skeleton(tmp_path)
    (root / "pyproject.toml").unlink()  # the setup fails at its first step
    r = _source(root, tmp_path, 'echo "still here"')
    assert "rc=0" not in r.stdout and "bootstrap failed" in r.stderr
    assert "still here" in r.stdout  # the shell went on after the failed source


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sha1sum") is None,
                    reason="needs bash and sha1sum")
def test_a_failed_driver_install_is_not_a_failed_setup(tmp_path):
    """No native adapter and apt-get failing (no network, no root): the setup says so and still
    succeeds, since the GPU backend runs on any other adapter wgpu finds (or skips)."""
    root = _skeleton(tmp_path, probe_ok=False)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, body in (("apt-get", "exit 100"), ("sudo", 'exec "$@"')):
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    r = subprocess.run(["bash", "-c", f'PATH="{stubs}:$PATH"; source {root}/scripts/bootstrap.sh; '
                        "echo rc=$?"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "rc=0" in r.stdout, r.stderr
    assert "could not install mesa-vulkan-drivers" in r.stderr
    assert "still no Vulkan adapter" in r.stderr
