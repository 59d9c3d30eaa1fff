"""Run a declared sweep into a results store in rounds, one slot at a time, with a progress line.

Per series (backend + variant) the runner first checks parity against the reference on an odd
shape; a series that fails is recorded ``failed-parity: ...`` at every point and never timed. A
backend that cannot be created (missing runtime, no adapter, unsupported size) is recorded
``unsupported: <reason>``. A software adapter (llvmpipe, SwiftShader, WARP) runs only up to
``tiny``. Timed points are measured in rounds (``bench.rounds``), each slot from a quiet host
(``bench.handoff``); statuses are ``bench.status``'s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from backends import backend_options
from backends.base import BackendError
from bench.handoff import Limits, busy_cores, quiesce
from bench.host_speed import host_note, sentinel_us
from bench.measure import attach_span, check_parity, measure_step
from bench.model import ConfigError, get_preset
from bench.results import RunStore, make_row
from bench.rounds import (
    Pooled,
    Spread,
    keep,
    needs_extra_round,
    off_trend,
    pool,
    pooled_spread,
    round_floor,
    spread,
    without,
)
from bench.status import is_trusted, status_word, with_reason
from bench.sweep import ALIASES, SOFTWARE_MAX_PRESET, Point, Sweep, expand
from bench.timing import MIN_SAMPLES, MIN_SPAN_S, Measurement, summarize
from bench.workers import Workers

ROUNDS = 2  # rounds per point (plus one extra for a point whose rounds disagree)


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
    rounds: int = ROUNDS,
    settle: Callable[[], dict[str, Any]] | None = None,
    isolate: bool = False,
    host_probe: Callable[[], float] = sentinel_us,
) -> list[Point]:
    """Measure every point of ``sweep`` not yet in ``store`` in ``rounds`` rounds; return the
    points finished now.

    Schedule (see ``bench.rounds``): round after round, configs in order, and inside a config
    its series side by side, so both sides of a ratio see the same host. Each slot gets
    ``budget_s / rounds`` and starts from a quiet host (``settle``, by default
    ``bench.handoff.quiesce``). Points whose rounds disagree, or that sit off their d_model
    neighbours' trend, get one extra round after the last.
    ``measure(name, config, options, budget_s, profile=..., min_samples=..., min_span_s=...)``
    returns a Measurement; the per-op profile is taken in the first round only. ``isolate``
    measures each backend in its own worker process (``bench.workers``). ``host_probe``
    (``bench.host_speed.sentinel_us``) reads the host core's speed before and after each slot;
    an unstable point's reason says when it moved between the point's rounds.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not isolate:
        return _run(sweep, store, budget_s, progress, measure, parity, rounds, settle, None,
                    host_probe)
    workers = Workers()
    try:
        return _run(sweep, store, budget_s, progress, workers.measure, parity, rounds, settle,
                    workers, host_probe)
    finally:
        workers.close()


def _run(sweep: Sweep, store: RunStore, budget_s: float, progress: Progress | None,
         measure: Callable[..., Any], parity: Callable[..., tuple[bool, str]], rounds: int,
         settle: Callable[[], dict[str, Any]] | None, workers: Workers | None,
         host_probe: Callable[[], float]) -> list[Point]:
    if settle is None:
        limits = Limits()
        busy = workers.busy_cores if workers is not None else busy_cores
        settle = lambda: quiesce(limits, busy=busy)  # noqa: E731
    unavailable: dict[str, str] = {}
    accepts = accepted_options(sweep.backends, unavailable)
    points = expand(sweep, accepts)
    todo = [p for p in points if not store.is_done(p)]
    series_state: dict[str, tuple[str, dict[str, Any]]] = {}  # series -> (status, describe)
    parity_log = store.meta.setdefault("parity", {})
    timed: list[Point] = []
    for point in todo:
        s = point.series()
        if s not in series_state:
            if point.backend in unavailable:
                series_state[s] = (with_reason("unsupported", unavailable[point.backend]), {})
            else:
                series_state[s] = _check_series(point, parity)
            parity_log[s] = series_state[s][0]
            store.write_meta()
        status, describe = series_state[s]
        if status == "ok" and describe.get("software") and _too_big_for_software(point):
            adapter = describe.get("adapter", "?")
            status = with_reason(
                "unsupported", f"software adapter ({adapter}) above {SOFTWARE_MAX_PRESET}")
        if status == "ok":
            timed.append(point)
        else:
            store.append(make_row(store.run_id, point, None, status, describe))

    progress = progress or Progress(0)
    progress.total = sum(r not in store.rounds.get(p.key(), {}) for p in timed
                         for r in range(rounds))
    slot = _Slot(store, budget_s / rounds, rounds, measure, settle, progress, series_state,
                 host_probe)
    by_config: dict[tuple[str, ...], list[Point]] = {}
    for point in timed:  # expand() is backend-major; a round is config-major
        by_config.setdefault(point.key()[4:], []).append(point)
    order = [p for group in by_config.values() for p in group]
    for r in range(rounds):
        for point in order:
            if not store.is_done(point) and r not in store.rounds.get(point.key(), {}):
                slot.run(point, r)
    regular = {p.key(): [_measurement(rec) for i, rec in sorted(store.rounds[p.key()].items())
                         if i < rounds]
               for p in order if not store.is_done(p) and store.rounds.get(p.key())}
    trend = _off_trend(order, {k: pool(v).m.median_s for k, v in regular.items()})
    extra = [p for p in order if p.key() in regular and (
        rounds in store.rounds[p.key()]  # measured before an interruption
        or needs_extra_round(regular[p.key()]) or p.key() in trend)]
    progress.total += len(extra)
    for point in extra:
        if rounds not in store.rounds.get(point.key(), {}):
            slot.run(point, rounds)
    measured = {p.key(): [_measurement(rec) for _, rec in sorted(store.rounds[p.key()].items())]
                for p in order if store.rounds.get(p.key())}
    priors = _priors(order, measured)
    final = {p.key(): pool(measured[p.key()], priors.get(p.key()))
             for p in order if not store.is_done(p) and p.key() in measured}
    trend = _off_trend(order, {k: v.m.median_s for k, v in final.items()})
    for point in order:
        if point.key() in final:
            slot.finish(point, final[point.key()], trend.get(point.key()))
    return todo


def _priors(points: list[Point], measured: dict[tuple[str, ...], list[Measurement]]
            ) -> dict[tuple[str, ...], Spread]:
    """Each point's prior for its drift term (``bench.rounds.pool``): the round-to-round spread
    of the other stable points of its series in this sweep, or of every other point when its
    series has no other; points without any get none."""
    own: dict[tuple[str, ...], Spread] = {}
    for key, rounds in measured.items():
        kept, stable = keep(rounds)
        if stable and len(kept) > 1:
            own[key] = spread([rounds[i] for i in kept])
    series = {p.key(): p.series() for p in points}
    by_series: dict[str, Spread] = {}
    for key, sp in own.items():
        by_series[series[key]] = pooled_spread([by_series.get(series[key], (0.0, 0)), sp])
    everyone = pooled_spread(list(own.values()))
    out: dict[tuple[str, ...], Spread] = {}
    for key in measured:
        mine = own.get(key, (0.0, 0))
        same = without(by_series.get(series[key], (0.0, 0)), mine)
        if same[1] == 0:
            same = without(everyone, mine)
        if same[1] > 0:
            out[key] = same
    return out


def _off_trend(points: list[Point], medians: dict[tuple[str, ...], float]
               ) -> dict[tuple[str, ...], float]:
    """Points more than ``TREND_TOL`` off their d_model neighbours (``bench.rounds.off_trend``),
    per series and family (everything but d_model fixed, head_dim included)."""
    curves: dict[tuple[Any, ...], list[Point]] = {}
    for p in points:
        if p.key() in medians:
            c = p.config
            fam = (p.series(), c.n_layer, c.seq_len, c.batch, c.d_model // c.n_head)
            curves.setdefault(fam, []).append(p)
    out: dict[tuple[str, ...], float] = {}
    for pts in curves.values():
        by_d = {p.config.d_model: p for p in pts}  # a preset and a free point at one d_model
        pts = list(by_d.values())
        flagged = off_trend([(p.config.d_model, medians[p.key()]) for p in pts])
        out.update({pts[i].key(): f for i, f in flagged.items()})
    return out


class _Slot:
    """Measures one (point, round) slot into the store, and turns a point's rounds into a row."""

    def __init__(self, store: RunStore, budget_s: float, rounds: int, measure: Callable[..., Any],
                 settle: Callable[[], dict[str, Any]], progress: Progress,
                 series_state: dict[str, tuple[str, dict[str, Any]]],
                 host_probe: Callable[[], float]) -> None:
        self.store, self.budget_s, self.rounds = store, budget_s, rounds
        self.measure, self.settle, self.progress = measure, settle, progress
        self.series_state, self.host_probe = series_state, host_probe
        self.min_samples, self.min_span_s = round_floor(rounds)

    def run(self, point: Point, r: int) -> None:
        s = point.series()
        hand = self.settle()
        before = self.host_probe()
        try:
            name, options = point.target()
            m = self.measure(name, point.config, options, self.budget_s, profile=(r == 0),
                             min_samples=self.min_samples, min_span_s=self.min_span_s)
        except (BackendError, ConfigError) as e:
            return self._untimed(point, with_reason("unsupported", _line(e)))
        except Exception as e:  # a backend bug costs its point, not the sweep
            return self._untimed(point, with_reason("error", f"{type(e).__name__}: {_line(e)}"))
        host_us = [before, self.host_probe()]
        describe = m.extra.get("describe", self.series_state.get(s, ("", {}))[1])
        self.store.append_round(point, r, {
            "samples": m.samples, "span_s": m.span_s, "warmup_runs": m.warmup_runs,
            "warmup_s": m.warmup_s, "converged": m.converged, "per_op_s": m.per_op_s,
            "step_spans": m.extra.get("span_samples"),  # the split of a GPU row (attach_span)
            "describe": describe, "settle": hand, "device_settle": m.extra.get("settle"),
            "min_samples": self.min_samples, "min_span_s": self.min_span_s,
            "host_us": host_us,
        })
        tag = f"round {r + 1}/{self.rounds}" if r < self.rounds else "extra round"
        self.progress.update(f"{s} {point.label()} {tag}: {m.median_s * 1e3:.3g} ms "
                             f"(+-{m.rel_ci * 100:.1f}%)"[:140])

    def _untimed(self, point: Point, status: str) -> None:
        self.store.append(make_row(self.store.run_id, point, None, status))
        self.progress.update(f"{point.series()} {point.label()}: {status}"[:140])

    def finish(self, point: Point, pooled: Pooled, trend: float | None = None) -> None:
        """Write the row of ``point`` from its pooled rounds; ``trend``: its factor off the
        d_model neighbours' trend, which makes a trusted status ``noisy``."""
        recs = self.store.rounds[point.key()]
        order = sorted(recs)
        m = pooled.m
        status = pooled.status
        if trend is not None and is_trusted(status):
            status = with_reason("noisy", f"{trend:.2g}x off its d_model neighbours' trend "
                                 f"in {pooled.total} rounds")
        host_us = [recs[i].get("host_us") for i in order]
        if status_word(status) == "unstable" and (note := host_note(
                host_us, [float(np.median(recs[i]["samples"])) for i in order])):
            status = f"{status}; {note}"
        describe = recs[order[0]].get("describe") or {}
        row = make_row(self.store.run_id, point, m, status, describe,
                       rounds=len(pooled.kept), rounds_dropped=pooled.dropped)
        self.store.append(row, {
            "samples": m.samples, "per_op_s": m.per_op_s, "describe": describe,
            "warmup_runs": m.warmup_runs, "converged": m.converged,
            "rounds": [recs[i]["samples"] for i in order], "kept": [order[i] for i in pooled.kept],
            "settle": [recs[i].get("settle") for i in order],
            "host_us": host_us,
        })


def _measurement(rec: dict[str, Any]) -> Measurement:
    """A round's Measurement rebuilt from its record: a resumed sweep decides as a fresh one."""
    m = summarize(rec["samples"], span_s=rec.get("span_s"),
                  min_samples=rec.get("min_samples", MIN_SAMPLES),
                  min_span_s=rec.get("min_span_s", MIN_SPAN_S))
    m.warmup_runs, m.warmup_s = rec.get("warmup_runs", 0), rec.get("warmup_s", 0.0)
    m.converged = m.converged and bool(rec.get("converged", True))
    m.extra["describe"] = rec.get("describe") or {}
    spans = rec.get("step_spans")
    if spans and len(spans) == len(rec["samples"]):
        attach_span(m, spans, rec.get("per_op_s"))
        return m
    return m.with_split(rec.get("per_op_s"))


def _check_series(point: Point, parity: Callable[..., tuple[bool, str]]) -> tuple[str, dict]:
    """'ok' or 'skipped: ...' / 'failed parity: ...', and the backend's describe() at parity."""
    if point.backend == "reference":
        return "ok", {}
    try:
        ok, msg = parity(*point.target())
    except (BackendError, ConfigError) as e:
        return with_reason("unsupported", _line(e)), {}
    except Exception as e:
        return with_reason("failed-parity", f"{type(e).__name__}: {_line(e)}"), {}
    if not ok:
        return with_reason("failed-parity", _line(msg)), {}
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
