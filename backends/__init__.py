"""Backends behind one interface (``backends.base.Backend``), created by name.

Heavy imports (wgpu, torch) happen only when that backend is asked for, so the CPU path works on a
machine with neither.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from backends.base import Backend, BackendError
from backends.model import ModelConfig

# name -> (module, class). The GPU backend and the torch peer import their runtimes lazily.
_REGISTRY: dict[str, tuple[str, str]] = {
    "reference": ("backends.reference", "ReferenceBackend"),
    "cpu": ("backends.cpu", "CpuBackend"),
    "gpu": ("backends.gpu", "GpuBackend"),
    "torch": ("backends.torch_peer", "TorchBackend"),
}

BACKENDS: tuple[str, ...] = tuple(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``; an unknown name lists the known ones."""
    if name not in _REGISTRY:
        raise BackendError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    module, cls = _REGISTRY[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise BackendError(f"backend {name!r} is unavailable: {e}") from None
    return getattr(mod, cls)


def backend_options(name: str) -> list[str]:
    """Keyword options the backend accepts (besides ``config``)."""
    sig = inspect.signature(backend_class(name).__init__)
    return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]


# name -> where that backend's selectable variants are listed, per option. Read without creating a
# backend, and for the GPU without importing wgpu (the kernel registry is plain data).
_VARIANTS: dict[str, tuple[str, str]] = {
    "cpu": ("backends.cpu", "VARIANTS"),
    "gpu": ("kernels.registry", "variants"),
}


def variants(name: str) -> dict[str, list[str]]:
    """Variant names backend ``name`` accepts, per option (``{"attention": ["fa2", "naive"]}``);
    empty for a backend without variants. An unknown name raises BackendError; a backend whose
    listing cannot be imported raises BackendError saying why."""
    if name not in _REGISTRY:
        raise BackendError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    if name not in _VARIANTS:
        return {}
    module, attr = _VARIANTS[name]
    try:
        found = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise BackendError(f"backend {name!r} is unavailable: {e}") from None
    table = found() if callable(found) else found
    return {option: sorted(names) for option, names in table.items()}


def get_backend(name: str, config: ModelConfig, **options: Any) -> Backend:
    """Create backend ``name`` for ``config``; unknown options are rejected, naming valid ones."""
    cls = backend_class(name)
    valid = backend_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise BackendError(
            f"backend {name!r} got unknown option(s) {unknown}; valid options: {', '.join(valid)}"
        )
    return cls(config, **options)


__all__ = [
    "BACKENDS", "Backend", "BackendError", "backend_class", "backend_options", "get_backend",
    "variants",
]
