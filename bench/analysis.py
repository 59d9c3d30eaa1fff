"""From result rows to what reports and plots show: series, fits, speedups, d_model curves.

A *series* is one backend with one variant (``gpu[matmul=tiled16]``, ``cpu[threads=2]``).
Speedups are taken, from points of the same run at the same config, for three kinds of pair:
every other backend's series vs the first CPU series (else the first series); each further
variant of a backend vs that backend's first series; each GPU series vs the first torch peer
series (``torch``, ``torch-cuda``...). A *d_model curve* is a set
of points that differ in d_model only (same n_layer, seq_len, batch and head_dim): presets such
as micro/tiny/huge that change several dimensions at once never share a curve with others.

Statuses (``bench.status``): fits, d_model curves and crossovers use trusted rows only (ok,
noisy); the per-point speedup table also shows pairs with an untrusted side, flagged, and
``left_out`` says what the fits did not use. Intervals derived from raw samples (ratios, fits)
are unknown (NaN) when the run's ``.samples.jsonl`` is missing: never zero-width.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fit import Fit, Ratio, crossover, fit_overhead, speedup, verdict
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


def series(row: dict[str, Any]) -> str:
    keys = ("matmul", "attention", "threads")
    opts = [f"{k}={row[k]}" for k in keys if row.get(k) not in ("", None)]
    return f"{row['backend']}[{','.join(opts)}]" if opts else row["backend"]


def config_key(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[k] for k in ("d_model", "n_layer", "n_head", "seq_len", "batch"))


def family(row: dict[str, Any]) -> tuple[int, ...]:
    """What a d_model curve holds fixed."""
    return (row["n_layer"], row["seq_len"], row["batch"], row["d_model"] // row["n_head"])


def point_label(row: dict[str, Any]) -> str:
    return row["preset"] or f"d{row['d_model']}_L{row['n_layer']}_T{row['seq_len']}_B{row['batch']}"


@dataclass
class SpeedupPoint:
    candidate: str
    baseline: str
    row: dict[str, Any]  # the candidate's row
    ratio: Ratio
    trusted: bool = True  # both sides have a trusted status


@dataclass
class Run:
    """A loaded run: rows, raw samples, metadata, and what is derived from them."""

    path: Path
    rows: list[dict[str, Any]]
    samples: dict[tuple[str, ...], dict[str, Any]]
    meta: dict[str, Any]

    @classmethod
    def load(cls, csv_path: str | Path) -> Run:
        p = Path(csv_path)
        return cls(p, load_rows(p), load_samples(p), load_meta(p))

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
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.ok if trusted else self.timed:
            out[series(r)].append(r)
        return dict(out)

    def fits(self) -> dict[str, Fit]:
        """The modelled split per series, from trusted rows (needs two distinct FLOP counts)."""
        out = {}
        for s, rows in self.by_series().items():
            raw = [self.raw(r) for r in rows]
            try:
                out[s] = fit_overhead(
                    [r["step_flops"] for r in rows], [r["median_s"] for r in rows],
                    None if any(x is None for x in raw) else raw,
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
        by = self.by_series(trusted=False)
        trusted = {id(r) for r in self.ok}
        out = []
        for cand, base in self.pairs():
            base_rows = {config_key(r): r for r in by.get(base, [])}
            for r in by.get(cand, []):
                b = base_rows.get(config_key(r))
                if b is None:
                    continue
                rb, rc = self.raw(b), self.raw(r)
                if rb is None or rc is None:
                    nan = float("nan")
                    ratio = Ratio(b["median_s"] / r["median_s"], nan, nan)
                else:
                    ratio = speedup(rb, rc)
                out.append(SpeedupPoint(cand, base, r, ratio,
                                        id(r) in trusted and id(b) in trusted))
        return out

    def d_model_curves(self) -> dict[tuple[str, str, tuple[int, ...]], list[SpeedupPoint]]:
        """Speedup points grouped into d_model curves (2+ distinct d_model, one family), keyed
        by (candidate, baseline, family)."""
        groups: dict[tuple[str, str, tuple[int, ...]], list[SpeedupPoint]] = defaultdict(list)
        for sp in self.speedups():
            if not sp.trusted:
                continue
            groups[(sp.candidate, sp.baseline, family(sp.row))].append(sp)
        return {
            k: sorted(v, key=lambda sp: sp.row["d_model"])
            for k, v in groups.items()
            if len({sp.row["d_model"] for sp in v}) >= 2
        }

    def crossovers(self) -> dict[tuple[str, str, tuple[int, ...]], str]:
        out = {}
        for key, pts in self.d_model_curves().items():
            xs = [sp.row["d_model"] for sp in pts]
            out[key] = verdict([sp.ratio.value for sp in pts], xs)
        return out

    def crossover_d_model(self, key: tuple[str, str, tuple[int, ...]]) -> float | None:
        pts = self.d_model_curves()[key]
        return crossover([sp.row["d_model"] for sp in pts], [sp.ratio.value for sp in pts])

    def software_series(self) -> set[str]:
        return {series(r) for r in self.rows if r.get("software")}

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
