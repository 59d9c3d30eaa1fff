"""From result rows to what reports and plots show: series, fits, speedups, curves.

A *series* is one backend with one variant (``gpu[matmul=tiled16]``, ``cpu[threads=2]``; the id
is ``bench.sweep.series_id``). Speedups are taken, from points of the same run at the same
config, for three kinds of pair: every other backend's series vs the first CPU series (else the
first series); each further variant of a backend vs that backend's first series; each GPU series
vs the first torch peer series (``torch``, ``torch-cuda``...).

A *curve* lies along one of the run's x axes, the axes its sweep declared (``Sweep.x_axes``;
d_model for presets): the speedup points of one pair that differ in that axis only. Along
d_model the head_dim is what stays fixed (n_head grows with d_model), so presets such as
micro/tiny/huge that change several dimensions at once never share a curve with others. Along an
axis that is a backend option (``threads``), a curve's line is the series without that option:
``cpu`` vs ``cpu[threads=1]`` along threads is the CPU backend's scaling.

Everything derived (fits, pairs, speedups, curves) is computed once per ``Run`` and kept: the
report and every plot read the same objects.

Statuses (``bench.status``): fits, d_model curves and crossovers use trusted rows only (ok,
noisy); the per-point speedup table also shows pairs with an untrusted side, flagged, and
``left_out`` says what the fits did not use. Intervals derived from raw samples (ratios, fits)
are unknown (NaN) when the run's ``.samples.jsonl`` is missing: never zero-width.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench.fit import Fit, Ratio, crossover, fit_overhead, row_ratio, verdict
from bench.host_speed import round_speeds
from bench.results import (
    load_meta,
    load_rows,
    load_samples,
    ok_rows,
    row_key,
    samples_path,
    timed_rows,
)
from bench.status import status_word
from bench.sweep import AXES, MODEL_AXES, SERIES_OPTIONS, Sweep, series_id
from bench.sweep import point_label as _point_label

T = TypeVar("T")

# Every axis a curve can lie along, in the order an undeclared run (one without its sweep in the
# JSON sidecar) looks for curves.
CURVE_AXES = ("d_model",) + tuple(a for a in AXES if a != "d_model")
# Short names of fixed dims, for legends: ``L4 T128 B8 hd32``.
SHORT = {"d_model": "d", "n_layer": "L", "n_head": "H", "seq_len": "T", "batch": "B",
         "head_dim": "hd", "threads": "threads="}


def series(row: dict[str, Any]) -> str:
    """The row's series id (``bench.sweep.series_id``)."""
    return series_id(row["backend"], row)


def point_label(row: dict[str, Any]) -> str:
    """The row's point label (``bench.sweep.point_label``): preset, else the config's dims."""
    return _point_label(row["preset"], row)


def line(row: dict[str, Any], axis: str) -> str:
    """The series a row draws along ``axis``: its series id without the axis when the axis is a
    backend option (``cpu[threads=4]`` along threads is on the ``cpu`` line)."""
    return series_id(row["backend"], {k: row.get(k) for k in SERIES_OPTIONS if k != axis})


def config_key(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[k] for k in MODEL_AXES)


def family(row: dict[str, Any], axis: str = "d_model") -> tuple[tuple[str, Any], ...]:
    """What a curve along ``axis`` holds fixed, as (dim, value) pairs: every other dim, with
    head_dim for n_head along d_model (n_head grows with d_model there) and d_model fixed along
    n_head. Threads only where the row has a count."""
    dims: dict[str, Any] = {"n_layer": row["n_layer"], "seq_len": row["seq_len"],
                            "batch": row["batch"]}
    if axis == "d_model":
        dims["head_dim"] = row["d_model"] // max(row["n_head"], 1)
    else:
        dims = {"d_model": row["d_model"], **dims}
        if axis != "n_head":
            dims["n_head"] = row["n_head"]
    dims["threads"] = row.get("threads")
    return tuple((k, v) for k, v in dims.items() if k != axis and v not in ("", None))


def family_text(fam: tuple[tuple[str, Any], ...], short: bool = False) -> str:
    """``n_layer 4, seq_len 128, batch 8, head_dim 32``, or ``L4 T128 B8 hd32`` when short."""
    if short:
        return " ".join(f"{SHORT.get(k, k)}{v}" for k, v in fam)
    return ", ".join(f"{k} {v}" for k, v in fam)


@dataclass
class SpeedupPoint:
    candidate: str
    baseline: str
    row: dict[str, Any]  # the candidate's row
    ratio: Ratio
    trusted: bool = True  # both sides have a trusted status


@dataclass
class Curve:
    """One pair's speedup points along ``axis``, sorted along it (2+ distinct values)."""

    axis: str
    candidate: str  # the candidate's line (``line``): its series, less the axis if an option
    baseline: str
    family: tuple[tuple[str, Any], ...]
    points: list[SpeedupPoint]

    @property
    def key(self) -> tuple[str, str, str, tuple[tuple[str, Any], ...]]:
        return (self.axis, self.candidate, self.baseline, self.family)

    @property
    def xs(self) -> list[Any]:
        return [sp.row[self.axis] for sp in self.points]

    @property
    def ratios(self) -> list[float]:
        return [sp.ratio.value for sp in self.points]

    def crossover(self) -> float | None:
        """Where the candidate starts to win along the axis (``bench.fit.crossover``)."""
        return crossover(self.xs, self.ratios)

    def verdict(self) -> str:
        return verdict(self.ratios, self.xs)


@dataclass
class Run:
    """A loaded run: rows, raw samples, metadata, and what is derived from them (computed once,
    on first use, and kept). ``plot_files`` lists the plots drawn by ``bench.run`` / ``plot``."""

    path: Path
    rows: list[dict[str, Any]]
    samples: dict[tuple[str, ...], dict[str, Any]]
    meta: dict[str, Any]
    plot_files: list[Path] = field(default_factory=list)
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, csv_path: str | Path) -> Run:
        p = Path(csv_path)
        return cls(p, load_rows(p), load_samples(p), load_meta(p))

    def _once(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` the first time ``key`` is asked for, the kept value after."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    @property
    def csv_path(self) -> Path:
        return self.path

    @property
    def json_path(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def plot_dir(self) -> Path:
        """Where plots go by default: ``<run>-plots`` next to the CSV."""
        return self.path.with_name(self.path.stem + "-plots")

    def report(self) -> str:
        """The markdown report (``bench.report``)."""
        from bench.report import report

        return report(self)

    def plot(self, out: str | Path | None = None) -> list[Path]:
        """Draw every plot the run has data for (``bench.plots``) into ``out`` (default
        ``plot_dir``); the files are also kept in ``plot_files``."""
        from bench.plots import plot_run

        self.plot_files = plot_run(self, Path(out) if out is not None else self.plot_dir)
        return self.plot_files

    def x_axes(self) -> list[str]:
        """The axes curves lie along: those the sweep declared (``Sweep.x_axes``), else, for a
        run without its declaration, every axis in ``CURVE_AXES`` order."""
        return list(self._once("x_axes", self._x_axes))

    def _x_axes(self) -> list[str]:
        decl = self.meta.get("sweep")
        if isinstance(decl, dict):
            try:
                return Sweep.from_dict(decl).x_axes()
            except (TypeError, ValueError):
                pass
        return list(CURVE_AXES)

    @property
    def ok(self) -> list[dict[str, Any]]:
        """Rows with a trusted status (ok, noisy)."""
        return ok_rows(self.rows)

    @property
    def timed(self) -> list[dict[str, Any]]:
        """Every row with a median, trusted or not."""
        return timed_rows(self.rows)

    def raw(self, row: dict[str, Any]) -> list[float] | None:
        """The row's raw samples; None when they are not on disk (intervals then unknown)."""
        rec = self.samples.get(row_key({k: "" if v is None else v for k, v in row.items()}))
        return list(rec["samples"]) if rec and rec.get("samples") else None

    def interval(self, row: dict[str, Any]) -> tuple[float, float, float] | None:
        """``(median, low, high)`` of a row whose interval stands (its raw samples are on disk
        and it has one); None otherwise."""
        if self.raw(row) is None or row["ci_low_s"] is None or row["ci_high_s"] is None:
            return None
        return row["median_s"], row["ci_low_s"], row["ci_high_s"]

    def ratio(self, base: dict[str, Any], cand: dict[str, Any], other: Run | None = None
              ) -> Ratio:
        """How many times faster ``cand`` (a row of ``other``, default this run) is than
        ``base``, with an interval from both rows' intervals; unknown (NaN) unless both stand."""
        ib, ic = self.interval(base), (other or self).interval(cand)
        if ib is None or ic is None:
            nan = float("nan")
            return Ratio(base["median_s"] / cand["median_s"], nan, nan)
        return row_ratio(ib, ic)

    def missing_samples(self) -> str | None:
        """Why sample-derived intervals are unknown, or None when every timed row has samples."""
        lacking = [r for r in self.timed if self.raw(r) is None]
        if not lacking:
            return None
        if not self.samples:
            return f"{samples_path(self.path).name} is missing"
        return f"{len(lacking)} timed row(s) have no record in {samples_path(self.path).name}"

    def busy_starts(self) -> int:
        """Rounds that started on a process still busy after the hand-off gave up waiting."""
        return sum(1 for rec in self.samples.values() for h in rec.get("settle") or []
                   if isinstance(h, dict) and h.get("quiet") is False)

    def host_speed(self) -> tuple[int, float, float, float] | None:
        """The host core's speed over the sweep, one figure per round (``bench.host_speed``):
        (rounds, median, 5th and 95th percentile, in us), or None when no round recorded one
        (runs from before the sentinel)."""
        vals = [v for rec in self.samples.values()
                for v in round_speeds(rec.get("host_us") or []) if v is not None and v > 0]
        if not vals:
            return None
        lo, med, hi = np.percentile(vals, [5, 50, 95])
        return len(vals), float(med), float(lo), float(hi)

    def left_out(self) -> dict[str, list[str]]:
        """Per series, the statuses of its timed rows that fits and curves leave out."""
        trusted = {id(r) for r in self.ok}
        out: dict[str, list[str]] = defaultdict(list)
        for r in self.timed:
            if id(r) not in trusted:
                out[series(r)].append(status_word(r["status"]))
        return dict(out)

    def per_op(self, row: dict[str, Any]) -> dict[str, float] | None:
        rec = self.samples.get(row_key({k: "" if v is None else v for k, v in row.items()}))
        return rec.get("per_op_s") if rec else None

    def series_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.timed:
            seen.setdefault(series(r), None)
        return list(seen)

    def baseline(self) -> str | None:
        names = self.series_names()
        cpu = [s for s in names if s.split("[")[0] == "cpu"]
        return (cpu or names or [None])[0]

    def by_series(self, trusted: bool = True) -> dict[str, list[dict[str, Any]]]:
        return self._once(("by_series", trusted), lambda: self._by_series(trusted))

    def _by_series(self, trusted: bool) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.ok if trusted else self.timed:
            out[series(r)].append(r)
        return dict(out)

    def fits(self) -> dict[str, Fit]:
        """The modelled split per series, from trusted rows (needs two distinct FLOP counts)."""
        return self._once("fits", self._fits)

    def _fits(self) -> dict[str, Fit]:
        out = {}
        for s, rows in self.by_series().items():
            iv = [self.interval(r) for r in rows]
            try:
                out[s] = fit_overhead(
                    [r["step_flops"] for r in rows], [r["median_s"] for r in rows],
                    intervals=None if any(x is None for x in iv) else [x[1:] for x in iv],
                )
            except ValueError:
                continue
        return out

    def pairs(self) -> list[tuple[str, str]]:
        """(candidate, baseline) series pairs, in the order described in the module doc."""
        names = self.series_names()
        base = self.baseline()
        out: list[tuple[str, str]] = []
        first_of: dict[str, str] = {}
        for s in names:
            first_of.setdefault(_backend(s), s)
        for s in names:
            if base is not None and _backend(s) != _backend(base):
                out.append((s, base))
            if s != first_of[_backend(s)]:
                out.append((s, first_of[_backend(s)]))
        peer = next((s for s in names if _backend(s).startswith("torch")), None)
        if peer is not None and peer != base:
            out += [(s, peer) for s in names if _backend(s) == "gpu"]
        return list(dict.fromkeys(out))

    def speedups(self) -> list[SpeedupPoint]:
        """Every pair of ``pairs()`` at each config both series timed; ``trusted`` says whether
        both sides are. The CI is unknown (NaN) when either side has no raw samples."""
        return self._once("speedups", self._speedups)

    def _speedups(self) -> list[SpeedupPoint]:
        by = self.by_series(trusted=False)
        trusted = {id(r) for r in self.ok}
        out = []
        for cand, base in self.pairs():
            base_rows = {config_key(r): r for r in by.get(base, [])}
            for r in by.get(cand, []):
                b = base_rows.get(config_key(r))
                if b is None:
                    continue
                ratio = self.ratio(b, r)
                out.append(SpeedupPoint(cand, base, r, ratio,
                                        id(r) in trusted and id(b) in trusted))
        return out

    def curves(self, axis: str | None = None) -> list[Curve]:
        """Trusted speedup points grouped into curves along each of ``x_axes()`` (or along
        ``axis`` only): one curve per candidate line, baseline and family, where 2+ distinct
        values of the axis were measured."""
        every = self._once("curves", self._curves)
        return [c for c in every if axis is None or c.axis == axis]

    def _curves(self) -> list[Curve]:
        out: list[Curve] = []
        for axis in self.x_axes():
            groups: dict[tuple[Any, ...], list[SpeedupPoint]] = defaultdict(list)
            for sp in self.speedups():
                if sp.trusted and sp.row.get(axis) not in ("", None):
                    groups[(line(sp.row, axis), sp.baseline, family(sp.row, axis))].append(sp)
            for (cand, base, fam), pts in groups.items():
                if len({sp.row[axis] for sp in pts}) >= 2:
                    out.append(Curve(axis, cand, base, fam,
                                     sorted(pts, key=lambda sp: sp.row[axis])))
        return out

    def crossovers(self, axis: str | None = None) -> dict[tuple[Any, ...], str]:
        """Each curve's verdict (crossover at x, faster/slower everywhere), by ``Curve.key``."""
        return {c.key: c.verdict() for c in self.curves(axis)}

    def software_series(self) -> set[str]:
        return self._once("software", lambda: {series(r) for r in self.rows if r.get("software")})

    def device_title(self) -> str:
        from bench.environment import device_title

        env = self.meta.get("environment", {})
        gpu = [r for r in self.rows if r.get("adapter")]
        adapter = gpu[0]["adapter"] if gpu else ""
        software = bool(gpu and gpu[0].get("software"))
        return device_title(env.get("cpu", ""), adapter, software)

    def split_agreement(self, s: str, fit: Fit) -> str:
        """Do the measured overheads (wall - device time) agree with the fitted intercept ``a``?

        Agree = the mean measured overhead lies inside a's 95% CI, or within 25% of ``a`` (or
        within 0.1 ms, below which both are noise). Otherwise they disagree, and the report says
        which is larger.
        """
        ovh = [r["overhead_s"] for r in self.by_series().get(s, []) if r["overhead_s"] is not None]
        if not ovh:
            return "no measured split"
        m = sum(ovh) / len(ovh)
        lo, hi = fit.a_ci
        tol = max(0.25 * max(abs(fit.a), abs(m)), 1e-4)
        if lo <= m <= hi or abs(m - fit.a) <= tol:
            return f"agree (measured {m * 1e3:.3g} ms)"
        side = "higher" if m > fit.a else "lower"
        return f"disagree: measured {m * 1e3:.3g} ms is {side}"


def _backend(s: str) -> str:
    return s.split("[")[0]


def fmt_ms(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 1e3:.3g}"
