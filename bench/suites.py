"""What the asv suites in ``benchmarks/`` need from the harness: series, skip rules, ready steps.

asv runs every benchmark in a fresh process (``launch_method: spawn``) and calls ``setup`` per
parameter combination, and again before every timed sample; a ``NotImplementedError`` raised
there marks that combination skipped, with its message visible in ``asv run -e``. Everything here
turns harness knowledge (which variants exist, which adapter is present, whether a variant passed
parity) into such decisions, so the suites stay one call per benchmark body. What every process
of a run would otherwise redo (adapter, parity, a point's measurement) is shared through a
per-run cache on disk (``run_cached``); what a sample needs (a warm backend or kernel case) is
built once per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.base import Backend, BackendError
from bench.environment import is_software, source_digest
from bench.kernel_bench import time_case
from bench.measure import check_parity, measure_step, prepare_step
from bench.model import ModelConfig, get_preset
from bench.sweep import SOFTWARE_MAX_PRESET
from kernels.registry import variants

# Presets the TrainStep suite sweeps: the clean d_model curve (small..xl) plus the ends.
TRAIN_PRESETS = ["micro", "tiny", "small", "medium", "large", "xl", "huge", "mega"]
SPEEDUP_PRESETS = ["tiny", "small", "medium", "large", "xl", "huge"]
CPU_ATTENTION = ["naive", "fa2"]


def gpu_variants() -> tuple[list[str], list[str]]:
    """(matmul variants, attention variants) from the kernel registry."""
    v = variants()
    return v["matmul"], v["attention"]


def train_series() -> list[str]:
    """Readable series ids: ``cpu/naive``, ``gpu/tiled16/naive``, ... (asv shows them as is)."""
    matmuls, attentions = gpu_variants()
    cpu = [f"cpu/{a}" for a in CPU_ATTENTION]
    gpu = [f"gpu/{m}/{a}" for m in matmuls for a in attentions]
    return cpu + gpu


def parse_series(series: str) -> tuple[str, dict[str, Any]]:
    """``gpu/blocked8x8/fa2`` -> ("gpu", {"matmul": "blocked8x8", "attention": "fa2"})."""
    parts = series.split("/")
    if parts[0] == "cpu" and len(parts) == 2:
        return "cpu", {"attention": parts[1]}
    if parts[0] == "gpu" and len(parts) == 3:
        return "gpu", {"matmul": parts[1], "attention": parts[2]}
    raise ValueError(f"malformed series id {series!r}")


# ---------------------------------------------------------------- the per-run cache
# asv starts every benchmark x parameter combination in a fresh process, all children of the one
# ``asv run`` process. Facts that do not change during a run (the adapter, a series' parity
# verdict, a point's harness measurement) are worked out by the first process that needs them and
# left as small JSON files for the others, in a folder named after the run: the parent process
# (pid and start time, so a recycled pid is a different run) and a digest of the measuring code
# (``bench/``, ``backends/``, ``kernels/``), so an edit can never reuse a stale verdict.
CACHE_ROOT = Path(tempfile.gettempdir()) / "gpt-curves-asv"
_MISS = object()
_memo: dict[tuple[str, str, str], Any] = {}


def under_asv() -> bool:
    """True inside an asv benchmark process: asv's runner script imported ``asv_runner`` (with
    ``--python=same`` asv does not set its ``ASV=true`` environment variable)."""
    return "asv_runner" in sys.modules or os.environ.get("ASV") == "true"


def _parent_id() -> str:
    ppid = os.getppid()
    try:  # field 22 of /proc/<pid>/stat: start time in clock ticks since boot
        start = Path(f"/proc/{ppid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = ""
    return f"{ppid}.{start}" if start else str(ppid)


@functools.lru_cache(maxsize=1)
def run_key() -> str:
    """Which run this process belongs to: parent process, measuring code, and asv's commit."""
    parts = [_parent_id(), source_digest(), os.environ.get("ASV_COMMIT", "")[:12]]
    return "-".join(p for p in parts if p)


def _file(kind: str, key: tuple) -> Path:
    digest = hashlib.sha1(json.dumps([kind, *key], default=str).encode()).hexdigest()[:16]
    return CACHE_ROOT / run_key() / f"{kind}-{digest}.json"


def _read(path: Path, key: tuple) -> Any:
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return _MISS
    if entry.get("key") != json.loads(json.dumps(list(key), default=str)):
        return _MISS  # a hash collision, however unlikely, must not hand back another point
    return entry.get("value")


def _write(path: Path, key: tuple, value: Any) -> None:
    """Atomically: a reader sees the old state or the whole new file, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({"key": list(key), "value": value}, f, default=str)
        os.replace(tmp, path)
    except OSError:  # an unwritable temp folder costs repeated work, not the run
        pass


def run_cached(kind: str, key: tuple, compute: Callable[[], Any], disk: bool = True) -> Any:
    """``compute()``'s JSON-able value for ``key``, computed once per process and, with ``disk``,
    once per run (see ``run_key``)."""
    memo_key = (run_key(), kind, json.dumps(list(key), default=str))
    if memo_key in _memo:
        return _memo[memo_key]
    path = _file(kind, key) if disk else None
    value = _read(path, key) if path is not None else _MISS
    if value is _MISS:
        value = compute()
        if path is not None:
            _write(path, key, value)
    _memo[memo_key] = value
    return value


# ---------------------------------------------------------------- skip decisions
# asv starts benchmark processes without PYTHONPATH (it passes ASV_PYTHONPATH on instead): an
# install that finds wgpu through PYTHONPATH then cannot import it there although the CLI can.
ASV_HINT = "; asv runs benchmarks without PYTHONPATH: set ASV_PYTHONPATH where wgpu needs it"


def _probe_adapter() -> dict[str, Any]:
    """The chosen adapter's fields, or ``{"unavailable": why}``: a missing module and a missing
    driver are different fixes, so the reason says which it is."""
    hint = ASV_HINT if under_asv() else ""
    try:
        import wgpu  # noqa: F401
    except Exception as e:  # ImportError, or a broken install failing inside its own import
        return {"unavailable": f"wgpu is not importable: {type(e).__name__}: {e}{hint}"}
    try:
        from backends.gpu.device import adapter_info, choose_adapter
    except Exception as e:
        return {"unavailable": f"the GPU backend is not importable: {type(e).__name__}: {e}"}
    try:
        adapter = choose_adapter()  # the backend's own choice ($WGPU_ADAPTER, then best type)
    except BackendError as e:
        return {"unavailable": f"no GPU adapter ({e}; install a Vulkan driver, or "
                               "mesa-vulkan-drivers for lavapipe)"}
    d = adapter_info(adapter)  # the fields of the backend's describe() that name the adapter
    d["software"] = is_software(d)
    return d


def _adapter_probe() -> dict[str, Any]:
    key = (os.environ.get("WGPU_ADAPTER", ""),)
    return run_cached("adapter", key, _probe_adapter, disk=under_asv())


def gpu_adapter() -> dict[str, Any] | None:
    """The adapter the GPU backend would pick (name, vendor, type, backend, driver, software),
    or None without a usable one (``gpu_unavailable`` says why). Enumerates adapters only: no
    device, no pipelines. Shared by the processes of an asv run."""
    info = _adapter_probe()
    return None if "unavailable" in info else info


def gpu_unavailable() -> str | None:
    """Why there is no usable adapter here (wgpu not importable, no driver), or None."""
    return _adapter_probe().get("unavailable")


def _adapter_key(backend: str) -> str:
    info = gpu_adapter() if backend == "gpu" else None
    return f"{info.get('adapter')} / {info.get('driver')}" if info else ""


def _parity_verdict(backend: str, options: dict[str, Any]) -> str | None:
    """None if ``backend`` with ``options`` passes parity, else why not (as the CLI runner)."""
    try:
        ok, msg = check_parity(backend, options)
    except BackendError as e:
        return f"unavailable: {e}"
    except Exception as e:  # a backend bug costs its series, not the run
        return f"failed parity: {type(e).__name__}: {e}"
    return None if ok else f"failed parity: {msg}"


def skip_reason(backend: str, options: dict[str, Any], config: ModelConfig) -> str | None:
    """Why this point cannot be measured here, or None. Parity runs once per asv run."""
    if backend == "gpu":
        info = gpu_adapter()
        if info is None:
            return gpu_unavailable()
        limit = get_preset(SOFTWARE_MAX_PRESET)
        if info.get("software") and (
            config.d_model > limit.d_model or config.seq_len > limit.seq_len
        ):
            return f"software adapter {info.get('adapter')}: only up to {SOFTWARE_MAX_PRESET}"
    key = (backend, sorted(options.items()), _adapter_key(backend))
    return run_cached("parity", key, lambda: _parity_verdict(backend, options))


def ready_step(
    backend: str, options: dict[str, Any], config: ModelConfig
) -> tuple[Backend, Any, Any]:
    """A backend with parameters loaded and its batch, or NotImplementedError (asv's skip)."""
    reason = skip_reason(backend, options, config)
    if reason is not None:
        raise NotImplementedError(reason)
    try:
        return prepare_step(backend, config, options)
    except BackendError as e:
        raise NotImplementedError(str(e)) from None


# ---------------------------------------------------------------- TrainStep points
def train_point(preset: str, series: str) -> tuple[str, dict[str, Any], ModelConfig]:
    """(backend, options, config) of a TrainStep point, or NotImplementedError (asv's skip)."""
    backend, options = parse_series(series)
    config = get_preset(preset)
    reason = skip_reason(backend, options, config)
    if reason is not None:
        raise NotImplementedError(reason)
    return backend, options, config


_ready: dict[tuple[str, str], tuple[Backend, Any, Any]] = {}


def ready_point(preset: str, series: str) -> tuple[Backend, Any, Any]:
    """The ready step of a point, built once per process and stepped once (first-call work:
    compilation, allocation, first touch), or NotImplementedError. asv re-runs ``setup`` before
    every sample, so this must hand back the same warm backend each time, never a fresh one: a
    fresh backend per sample would time a cold first step, which the CLI's warm-up leaves out."""
    key = (preset, series)
    if key not in _ready:
        for old in _ready.values():  # one point per process under asv; free any other
            old[0].close()
        _ready.clear()
        backend, options, config = train_point(preset, series)
        b, tokens, targets = ready_step(backend, options, config)
        b.train_step(tokens, targets)
        b.settle_device()  # the GPU idled while asv started this process and compiled
        _ready[key] = (b, tokens, targets)
    return _ready[key]


def _measure_point(backend: str, options: dict[str, Any], config: ModelConfig, budget_s: float):
    try:
        m = measure_step(backend, config, options, budget_s)
    except BackendError as e:  # the backend refuses this shape: a skip, like prepare_step's
        return {"skip": str(e)}
    return {"median_s": m.median_s, "overhead_s": m.overhead_s, "device_s": m.device_s}


def point_measurement(preset: str, series: str, budget_s: float = 1.0) -> dict[str, Any]:
    """The harness's measurement of a point (``median_s``, ``overhead_s``, ``device_s``: the
    latter two None without a profile), taken once per asv run and shared by the ``track_*``
    benchmarks; NotImplementedError where the point cannot run."""
    backend, options, config = train_point(preset, series)
    key = (preset, series, budget_s, _adapter_key(backend))
    m = run_cached(
        "step", key, lambda: _measure_point(backend, options, config, budget_s), disk=under_asv()
    )
    if "skip" in m:
        raise NotImplementedError(m["skip"])
    return m


def speedup_point(config: ModelConfig) -> None:
    """NotImplementedError (asv's skip) where the GPU-vs-CPU ratio cannot be taken at
    ``config``; called from the suite's ``setup``, since asv records a skip raised inside a
    benchmark body as a failure."""
    for backend in ("gpu", "cpu"):
        reason = skip_reason(backend, {}, config)
        if reason is not None:
            raise NotImplementedError(reason)


def speedup_ratio(config: ModelConfig, budget_s: float = 1.0) -> float:
    """CPU median / GPU median at ``config`` (default variants), measured back to back here."""
    gpu = measure_step("gpu", config, {}, budget_s, profile=False)
    cpu = measure_step("cpu", config, {}, budget_s, profile=False)
    return cpu.median_s / gpu.median_s


@functools.lru_cache(maxsize=1)
def micro_bench() -> Any:
    """One ``MicroBench`` per process (it owns the device), or NotImplementedError without one."""
    if gpu_adapter() is None:
        raise NotImplementedError(gpu_unavailable())
    from backends.gpu.microbench import MicroBench

    return MicroBench()


def _kernel_verdict(kind: str, variant: str) -> str | None:
    mb = micro_bench()
    try:
        ok, msg = mb.check_matmul(variant) if kind == "matmul" else mb.check_attention(variant)
    except BackendError as e:
        return f"unavailable: {e}"
    return None if ok else f"failed parity: {msg}"


_cases: dict[tuple, Any] = {}


def kernel_case(kind: str, variant: str, size: int, form: str = "nn") -> Any:
    """A ready micro-benchmark case: a square ``size``^3 matmul in ``form``, or attention at
    seq_len ``size`` (B 4, H 8, head_dim 64); skipped on a software adapter beyond small sizes,
    when the variant failed its parity gate (checked once per asv run), or when it refuses the
    shape. Built once per process and run once: asv re-runs ``setup`` before every sample, and
    each sample must time the same warm case, not a freshly allocated one."""
    key = (kind, variant, size, form)
    if key in _cases:
        return _cases[key]
    info = gpu_adapter()
    if info is None:
        raise NotImplementedError(gpu_unavailable())
    if info.get("software") and size > (256 if kind == "matmul" else 128):
        raise NotImplementedError("software adapter: kernel sizes above 256 (matmul) / 128 (T)")
    parity_key = (kind, variant, _adapter_key("gpu"))
    reason = run_cached("kernel-parity", parity_key, lambda: _kernel_verdict(kind, variant))
    if reason is not None:
        raise NotImplementedError(reason)
    for old in _cases.values():  # one case per process under asv; free any other
        old.close()
    _cases.clear()
    mb = micro_bench()
    try:
        if kind == "matmul":
            case = mb.matmul(variant, form, size, size, size, repeats=1)
        else:
            case = mb.attention(variant, 4, 8, size, 64, repeats=1)
    except BackendError as e:
        raise NotImplementedError(str(e)) from None
    case.run()
    _cases[key] = case
    return case


def kernel_rate(case: Any, budget_s: float = 0.5) -> float:
    """GFLOP/s of a micro-benchmark case (GPU timestamps where offered, else wall time)."""
    m, _, _ = time_case(case, budget_s)
    return case.flops / m.median_s / 1e9
