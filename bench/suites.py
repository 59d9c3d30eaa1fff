"""What the asv suites in ``benchmarks/`` need from the harness: series, skip rules, ready steps.

asv runs every benchmark in a fresh process (``launch_method: spawn``) and calls ``setup`` per
parameter combination; a ``NotImplementedError`` raised there marks that combination skipped, with
its message visible in ``asv run -e``. Everything here turns harness knowledge (which variants
exist, which adapter is present, whether a variant passed parity) into such decisions, so the
suites stay one call per benchmark body.
"""

from __future__ import annotations

import functools
from typing import Any

from backends.base import Backend, BackendError
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


@functools.lru_cache(maxsize=1)
def gpu_adapter() -> dict[str, Any] | None:
    """``describe()`` of the GPU backend at micro, or None with no usable adapter."""
    try:
        b = prepare_step("gpu", get_preset("micro"))[0]
    except BackendError:
        return None
    try:
        return b.describe()
    finally:
        b.close()


@functools.cache
def _parity(backend: str, options: tuple[tuple[str, Any], ...]) -> tuple[bool, str]:
    return check_parity(backend, dict(options))


def skip_reason(backend: str, options: dict[str, Any], config: ModelConfig) -> str | None:
    """Why this point cannot be measured here, or None. Checks parity once per process."""
    if backend == "gpu":
        info = gpu_adapter()
        if info is None:
            return "no GPU adapter (install a Vulkan driver, or mesa-vulkan-drivers for lavapipe)"
        limit = get_preset(SOFTWARE_MAX_PRESET)
        if info.get("software") and (
            config.d_model > limit.d_model or config.seq_len > limit.seq_len
        ):
            return f"software adapter {info.get('adapter')}: only up to {SOFTWARE_MAX_PRESET}"
    try:
        ok, msg = _parity(backend, tuple(sorted(options.items())))
    except BackendError as e:
        return f"unavailable: {e}"
    return None if ok else f"failed parity: {msg}"


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


def speedup_ratio(config: ModelConfig, budget_s: float = 1.0) -> float:
    """CPU median / GPU median at ``config`` (default variants), measured back to back here."""
    for backend in ("gpu", "cpu"):
        reason = skip_reason(backend, {}, config)
        if reason is not None:
            raise NotImplementedError(reason)
    gpu = measure_step("gpu", config, {}, budget_s, profile=False)
    cpu = measure_step("cpu", config, {}, budget_s, profile=False)
    return cpu.median_s / gpu.median_s


@functools.lru_cache(maxsize=1)
def micro_bench() -> Any:
    """One ``MicroBench`` per process (it owns the device), or NotImplementedError without one."""
    if gpu_adapter() is None:
        raise NotImplementedError("no GPU adapter for kernel micro-benchmarks")
    from backends.gpu.microbench import MicroBench

    return MicroBench()


@functools.cache
def _kernel_parity(kind: str, variant: str) -> tuple[bool, str]:
    mb = micro_bench()
    return mb.check_matmul(variant) if kind == "matmul" else mb.check_attention(variant)


def kernel_case(kind: str, variant: str, size: int, form: str = "nn") -> Any:
    """A ready micro-benchmark case: a square ``size``^3 matmul in ``form``, or attention at
    seq_len ``size`` (B 4, H 8, head_dim 64); skipped on a software adapter beyond small sizes,
    when the variant failed its parity gate, or when it refuses the shape."""
    mb = micro_bench()
    if (gpu_adapter() or {}).get("software") and size > (256 if kind == "matmul" else 128):
        raise NotImplementedError("software adapter: kernel sizes above 256 (matmul) / 128 (T)")
    ok, msg = _kernel_parity(kind, variant)
    if not ok:
        raise NotImplementedError(f"failed parity: {msg}")
    try:
        if kind == "matmul":
            return mb.matmul(variant, form, size, size, size, repeats=1)
        return mb.attention(variant, 4, 8, size, 64, repeats=1)
    except BackendError as e:
        raise NotImplementedError(str(e)) from None


def kernel_rate(case: Any, budget_s: float = 0.5) -> float:
    """GFLOP/s of a micro-benchmark case (GPU timestamps where offered, else wall time)."""
    m, _, _ = time_case(case, budget_s)
    return case.flops / m.median_s / 1e9
