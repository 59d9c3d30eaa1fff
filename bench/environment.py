"""Machine facts every run records: CPU, cores, BLAS, library versions, git commit, adapters.

Nothing here imports wgpu unless adapters are asked for, so the CPU path stays light.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from backends.host import cpu_model, is_software

__all__ = ["cpu_model", "is_software"]  # re-exported: the harness names both from here

REPO = Path(__file__).resolve().parent.parent


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the BLAS/OpenMP pools numpy loaded (library, version, threads)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "user_api", "version", "num_threads", "threading_layer", "architecture")
    return [{k: v for k, v in d.items() if k in keep} for d in threadpool_info()]


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def source_digest() -> str:
    """SHA-1 (12 hex) over the measuring code: bench/, backends/, kernels/ and pyproject.toml."""
    import hashlib

    h = hashlib.sha1()
    files = [REPO / "pyproject.toml"]
    for d in ("bench", "backends", "kernels"):
        files += sorted(p for p in (REPO / d).rglob("*") if p.suffix in (".py", ".wgsl"))
    for p in files:
        if p.is_file():
            h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def git_commit() -> str:
    """HEAD's hash, with ``-dirty`` when tracked files differ from it.

    Outside a git checkout (a copy of the tree on a lent GPU machine, say) a row must still say
    which code measured it: then it is ``source-<digest>`` of the measuring code instead. Whoever
    copies a clean checkout elsewhere can name its commit in ``$GPT_CURVES_COMMIT``, which wins
    (a copy may carry a stale ``.git`` whose HEAD is not the code being run).
    """
    named = os.environ.get("GPT_CURVES_COMMIT", "").strip()
    if named:
        return named
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=REPO, capture_output=True,
            text=True, timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"source-{source_digest()}"
    sha = head.stdout.strip()
    if head.returncode != 0 or not sha:
        return f"source-{source_digest()}"
    return sha + ("-dirty" if dirty else "")


def adapters() -> list[dict[str, Any]]:
    """Every wgpu adapter: name, vendor, type, backend, driver and the software flag.

    Returns ``[]`` when wgpu is not installed; an enumeration failure becomes one entry with
    ``error``.
    """
    try:
        import wgpu
    except ImportError:
        return []
    try:
        found = wgpu.gpu.enumerate_adapters_sync()
    except Exception as e:  # no driver at all is a fact, not a crash
        return [{"error": f"{type(e).__name__}: {e}"}]
    out = []
    for a in found:
        info = dict(a.info)
        d = {
            "adapter": info.get("device", ""),
            "vendor": info.get("vendor", ""),
            "adapter_type": info.get("adapter_type", ""),
            "backend": info.get("backend_type", ""),
            "driver": info.get("description", ""),
        }
        d["software"] = is_software(d)
        out.append(d)
    return out


def cpu_peak_flops(seconds: float = 0.3, n: int = 512) -> float:
    """Achieved float32 FLOP/s of a square NumPy matmul: the CPU's practical peak on this BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up
    best = float("inf")
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def environment(measure_peak: bool = False) -> dict[str, Any]:
    """Facts about this machine and checkout (the JSON sidecar's ``environment``)."""
    env: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "blas": blas_info(),
        "numpy": np.__version__,
        "wgpu": version("wgpu"),
        "torch": version("torch"),
        "git_commit": git_commit(),
    }
    if measure_peak:
        env["cpu_peak_flops"] = cpu_peak_flops()
    return env


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "unknown"


def machine_name(adapter: str = "", software: bool = False) -> str:
    """Directory name for results: host, CPU and core count, plus the GPU adapter when a real one
    is in use. Two GPUs in one host must never share a results directory, and neither may two
    machines whose virtual hosts share a generic name (cloud VMs are often all called "vm")."""
    cpu = re.sub(r"\b(r|tm|cpu|processor)\b", "", slug(cpu_model()).replace("-", " ")).split()
    name = f"{slug(socket.gethostname())}-{'-'.join(cpu)[:24].strip('-')}-{os.cpu_count() or 1}c"
    if adapter and not software:
        name += "-" + slug(adapter)
    return name


def device_title(cpu: str, adapter: str = "", software: bool = False) -> str:
    """The device line of plot titles and reports."""
    parts = [f"CPU: {cpu}"] if cpu else []
    if adapter:
        parts.append(
            f"adapter: {adapter} (software adapter - not a GPU)" if software else f"GPU: {adapter}"
        )
    return "; ".join(parts)
