"""Run a declared sweep into a results store, one point at a time, with a progress line.

Per series (backend + variant) the runner first checks parity against the reference on an odd
shape; a series that fails is recorded ``failed parity: ...`` at every point and never timed. A
backend that cannot be created (missing runtime, no adapter, unsupported size) is recorded
``skipped: <reason>``. A software adapter (llvmpipe, SwiftShader, WARP) runs only up to ``tiny``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from backends import backend_options
from backends.base import BackendError
from bench.measure import check_parity, measure_step
from bench.model import ConfigError, get_preset
from bench.results import RunStore, make_row
from bench.sweep import ALIASES, SOFTWARE_MAX_PRESET, Point, Sweep, expand


def accepted_options(
    backends: list[str], unavailable: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Option names per backend; a backend that cannot even be loaded accepts none, and the
    reason lands in ``unavailable``."""
    out: dict[str, list[str]] = {}
    for b in backends:
        try:
            out[b] = backend_options(ALIASES.get(b, (b,))[0])
        except Exception as e:  # ImportError inside, a half-written module, ...
            out[b] = []
            if unavailable is not None:
                unavailable[b] = _line(e) if isinstance(e, BackendError) else (
                    f"backend {b!r} is unavailable: {type(e).__name__}: {_line(e)}"
                )
    return out


class Progress:
    """A plain-text progress bar on stderr (redrawn in place on a terminal, one line per point
    otherwise)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, text: str) -> None:
        self.done += 1
        width = 24
        fill = int(width * self.done / max(self.total, 1))
        el = time.monotonic() - self.start
        line = f"[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} {el:5.0f}s  {text}"
        if self.tty:
            self.stream.write("\r\033[K" + line[:150])
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _too_big_for_software(point: Point) -> bool:
    limit = get_preset(SOFTWARE_MAX_PRESET).d_model
    return point.config.d_model > limit or point.config.seq_len > get_preset(
        SOFTWARE_MAX_PRESET
    ).seq_len


def run_sweep(
    sweep: Sweep,
    store: RunStore,
    budget_s: float,
    *,
    progress: Progress | None = None,
    measure: Callable[..., Any] = measure_step,
    parity: Callable[..., tuple[bool, str]] = check_parity,
) -> list[Point]:
    """Measure every point of ``sweep`` not yet in ``store``; return the points measured now."""
    unavailable: dict[str, str] = {}
    accepts = accepted_options(sweep.backends, unavailable)
    points = expand(sweep, accepts)
    todo = [p for p in points if not store.is_done(p)]
    progress = progress or Progress(len(todo))
    progress.total = len(todo)
    series_state: dict[str, tuple[str, dict[str, Any]]] = {}  # series -> (status, describe)
    parity_log = store.meta.setdefault("parity", {})
    for point in todo:
        s = point.series()
        if s not in series_state:
            if point.backend in unavailable:
                series_state[s] = (f"skipped: {unavailable[point.backend]}", {})
            else:
                series_state[s] = _check_series(point, parity)
            parity_log[s] = series_state[s][0]
            store.write_meta()
        status, describe = series_state[s]
        m = None
        if status == "ok" and describe.get("software") and _too_big_for_software(point):
            adapter = describe.get("adapter", "?")
            status = f"skipped: software adapter ({adapter}) above {SOFTWARE_MAX_PRESET}"
        if status == "ok":
            try:
                name, options = point.target()
                m = measure(name, point.config, options, budget_s)
                describe = m.extra.get("describe", describe)
            except (BackendError, ConfigError) as e:
                status = f"skipped: {_line(e)}"
            except Exception as e:  # a backend bug costs its point, not the sweep
                status = f"failed: {type(e).__name__}: {_line(e)}"
        row = make_row(store.run_id, point, m, status, describe)
        raw = None
        if m is not None:
            raw = {"samples": m.samples, "per_op_s": m.per_op_s, "describe": describe,
                   "warmup_runs": m.warmup_runs, "converged": m.converged}
        store.append(row, raw)
        if m is not None:
            text = f"{s} {point.label()}: {m.median_s * 1e3:.3g} ms (+-{m.rel_ci * 100:.1f}%)"
        else:
            text = f"{s} {point.label()}: {status}"
        progress.update(text[:140])
    return todo


def _check_series(point: Point, parity: Callable[..., tuple[bool, str]]) -> tuple[str, dict]:
    """'ok' or 'skipped: ...' / 'failed parity: ...', and the backend's describe() at parity."""
    if point.backend == "reference":
        return "ok", {}
    try:
        ok, msg = parity(*point.target())
    except (BackendError, ConfigError) as e:
        return f"skipped: {_line(e)}", {}
    except Exception as e:
        return f"failed parity: {type(e).__name__}: {_line(e)}", {}
    if not ok:
        return f"failed parity: {_line(msg)}", {}
    return "ok", _describe_of(point)


def _describe_of(point: Point) -> dict[str, Any]:
    """describe() of a micro instance: lets the runner see a software adapter before timing."""
    from bench.measure import _safe_describe, prepare_step

    try:
        name, options = point.target()
        b, _, _ = prepare_step(name, get_preset("micro"), options)
    except Exception:
        return {}
    try:
        return _safe_describe(b)
    finally:
        b.close()


def _line(e: object) -> str:
    return " ".join(str(e).split())[:300]
