"""The results store: ``<out>/<machine>/<run-id>.csv`` plus sidecars, written as points finish.

* ``<run-id>.csv``: one tidy row per point (``COLUMNS``), appended and flushed (and fsynced) the
  moment the point finishes, so an interrupted sweep keeps every finished row.
* ``<run-id>.samples.jsonl``: per round of a point, its raw samples (a record with ``round``),
  written the moment the round finishes; per finished row, the pooled samples, the rounds kept
  and the per-op profile (same flush rule).
* ``<run-id>.json``: the environment, command line, the sweep declaration (what ``--resume``
  continues), parity results and, at the end, the fits. Rewritten atomically.

Resume: the rows already in the CSV are the points done (untimed ones included), and the round
records of the points not yet done are the rounds done, so a resumed sweep continues mid-round and
repeats or loses no sample; a torn last line (killed mid-write) of either file is dropped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.model import step_flops
from bench.status import is_timed, is_trusted, status_word
from bench.sweep import Point
from bench.timing import Measurement

COLUMNS = (
    "run_id", "backend", "matmul", "attention", "threads", "preset", "d_model", "n_layer",
    "n_head", "seq_len", "batch", "step_flops", "samples", "median_s", "ci_low_s", "ci_high_s",
    "device_s", "overhead_s", "status", "rounds", "rounds_dropped", "adapter", "adapter_type",
    "software",
)
# The columns before rounds: such a file loads, its rows mapped onto today's statuses.
LEGACY_COLUMNS = COLUMNS[:19] + ("noisy",) + COLUMNS[21:]
KEY_COLUMNS = (
    "backend", "matmul", "attention", "threads", "preset",
    "d_model", "n_layer", "n_head", "seq_len", "batch",
)
FLOAT_COLUMNS = ("median_s", "ci_low_s", "ci_high_s", "device_s", "overhead_s")
INT_COLUMNS = (
    "d_model", "n_layer", "n_head", "seq_len", "batch", "step_flops", "samples", "rounds",
    "rounds_dropped",
)


class ResultsError(ValueError):
    """A results file that is missing, unreadable or not ours. Message is one clear line."""


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(c, "")) for c in KEY_COLUMNS)


def make_row(
    run_id: str,
    point: Point,
    m: Measurement | None,
    status: str,
    describe: dict[str, Any] | None = None,
    *,
    rounds: int = 0,
    rounds_dropped: int = 0,
) -> dict[str, Any]:
    """A CSV row for ``point``; ``m`` is None for an untimed point. ``status`` is a
    ``bench.status`` value; ``rounds`` the rounds pooled into the median, ``rounds_dropped`` those
    left out because they disagreed with the others. A CI from one sample is no interval: empty."""
    d = describe or {}
    c = point.config

    def f(v: float | None) -> str:
        return "" if v is None else f"{v:.9g}"

    return {
        "run_id": run_id,
        "backend": point.backend,
        "matmul": point.matmul,
        "attention": point.attention,
        "threads": "" if point.threads is None else point.threads,
        "preset": point.preset,
        "d_model": c.d_model, "n_layer": c.n_layer, "n_head": c.n_head,
        "seq_len": c.seq_len, "batch": c.batch,
        "step_flops": step_flops(c),
        "samples": m.n if m else 0,
        "median_s": f(m.median_s if m else None),
        "ci_low_s": f(m.ci_low_s if m and m.n > 1 else None),
        "ci_high_s": f(m.ci_high_s if m and m.n > 1 else None),
        "device_s": f(m.device_s if m else None),
        "overhead_s": f(m.overhead_s if m else None),
        "status": status,
        "rounds": rounds if m else 0,
        "rounds_dropped": rounds_dropped if m else 0,
        "adapter": _one_line(d.get("adapter", "")),
        "adapter_type": _one_line(d.get("adapter_type", "")),
        "software": str(bool(d.get("software", False))).lower() if "software" in d else "",
    }


def _one_line(v: Any) -> str:
    return " ".join(str(v).split())


class RunStore:
    """Append-only writer for one run; use ``RunStore.create`` or ``RunStore.resume``."""

    def __init__(self, csv_path: Path) -> None:
        self.csv_path = Path(csv_path)
        self.run_id = self.csv_path.stem
        self.json_path = self.csv_path.with_suffix(".json")
        self.samples_path = self.csv_path.with_name(self.run_id + ".samples.jsonl")
        self.done: set[tuple[str, ...]] = set()
        self.rounds: dict[tuple[str, ...], dict[int, dict[str, Any]]] = {}
        self.meta: dict[str, Any] = {}

    @classmethod
    def create(cls, directory: Path, run_id: str, meta: dict[str, Any]) -> RunStore:
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ResultsError(
                f"cannot create output directory {directory}: {e.strerror}"
            ) from None
        store = cls(directory / f"{run_id}.csv")
        if store.csv_path.exists():
            raise ResultsError(f"run {run_id} already exists in {directory}; use --resume {run_id}")
        try:
            with open(store.csv_path, "w", newline="") as fh:
                csv.DictWriter(fh, COLUMNS).writeheader()
        except OSError as e:
            raise ResultsError(f"cannot write to {directory}: {e.strerror}") from None
        store.meta = dict(meta, run_id=run_id)
        store.write_meta()
        return store

    @classmethod
    def resume(cls, csv_path: Path) -> RunStore:
        store = cls(csv_path)
        rows = store.repair()
        store.done = {row_key(r) for r in rows}
        store.meta = load_meta(store.csv_path)
        for rec in _repair_jsonl(store.samples_path):
            if "round" in rec and tuple(rec.get("key", [])) not in store.done:
                store.rounds.setdefault(tuple(rec["key"]), {})[int(rec["round"])] = rec
        return store

    def repair(self) -> list[dict[str, str]]:
        """Drop a torn trailing line (no newline, or wrong field count); return the good rows."""
        text = _read(self.csv_path)
        lines = text.splitlines(keepends=True)
        if not lines or lines[0].rstrip("\r\n").split(",") != list(COLUMNS):
            raise ResultsError(f"{self.csv_path} is not a bench results CSV (header differs)")
        good = [lines[0]]
        for line in lines[1:]:
            fields = next(csv.reader([line]), [])
            if line.endswith("\n") and len(fields) == len(COLUMNS):
                good.append(line)
        if len(good) != len(lines):
            with open(self.csv_path, "w", newline="") as fh:
                fh.writelines(good)
                fh.flush()
                os.fsync(fh.fileno())
        return list(csv.DictReader(io.StringIO("".join(good))))

    def append(self, row: dict[str, Any], raw: dict[str, Any] | None = None) -> None:
        """Write one finished row (and its raw samples) and force it to disk."""
        with open(self.csv_path, "a", newline="") as fh:
            csv.DictWriter(fh, COLUMNS).writerow(row)
            fh.flush()
            os.fsync(fh.fileno())
        if raw is not None:
            with open(self.samples_path, "a") as fh:
                fh.write(json.dumps({"key": list(row_key(row)), **raw}) + "\n")
                fh.flush()
        self.done.add(row_key(row))

    def append_round(self, point: Point, index: int, record: dict[str, Any]) -> None:
        """Write one finished round of ``point`` (its raw samples) and force it to disk."""
        rec = {"key": list(point.key()), "round": index, **record}
        with open(self.samples_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.rounds.setdefault(point.key(), {})[index] = rec

    def is_done(self, point: Point) -> bool:
        return point.key() in self.done

    def write_meta(self) -> None:
        tmp = self.json_path.with_suffix(".json.tmp")
        with open(tmp, "w") as fh:
            json.dump(self.meta, fh, indent=2, default=str)
        os.replace(tmp, self.json_path)


def _read(path: Path) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise ResultsError(f"no such results file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"cannot read {path}: {e}") from None


def load_rows(csv_path: Path, torn: list[int] | None = None) -> list[dict[str, Any]]:
    """Rows of a results CSV with numbers parsed (empty -> None) and booleans as bool.

    A row with the wrong number of fields (cut mid-way by a kill) is left out, and its line number
    appended to ``torn`` when given, so a caller can say what it skipped. A cell that should be a
    number and is not is a ResultsError naming the line and column: the file was edited or is
    not ours, and guessing would put a wrong number in a report.
    A file from before rounds (``LEGACY_COLUMNS``) loads too: its timed rows were measured in one
    burst, so they become ``budget-short`` (``bench.status``), never ``ok``.
    """
    text = _read(csv_path)
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    legacy = header == list(LEGACY_COLUMNS)
    if header != list(COLUMNS) and not legacy:
        raise ResultsError(f"{csv_path} is not a bench results CSV (header differs)")
    rows = []
    for r in reader:
        if None in r or any(v is None for v in r.values()):
            if torn is not None:
                torn.append(reader.line_num)
            continue
        row: dict[str, Any] = dict(r)
        if legacy:
            row.update(_from_legacy(row))
            del row["noisy"]
            r = dict(row)
        try:
            for c in FLOAT_COLUMNS:
                row[c] = _number(float, r, c, None)
            for c in INT_COLUMNS:
                row[c] = _number(int, r, c, 0)
            row["threads"] = _number(int, r, "threads", None)
        except ValueError as e:
            raise ResultsError(f"{csv_path}, line {reader.line_num}: {e}") from None
        row["software"] = r["software"] == "true"
        rows.append(row)
    return rows


def _number(kind: type, r: dict[str, str], column: str, empty: Any) -> Any:
    text = r[column]
    if not text:
        return empty
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"column {column} holds {text[:40]!r}, not {what}") from None


def _from_legacy(row: dict[str, str]) -> dict[str, str]:
    word = status_word(row["status"])
    _, sep, reason = row["status"].partition(":")
    if word == "ok":
        status = "budget-short: measured in one round, before rounds existed" + (
            " (flagged noisy then)" if row.get("noisy") == "true" else "")
    else:  # "skipped: x" -> "unsupported: x", "failed parity: y" -> "failed-parity: y"
        status = word + (f": {reason.strip()}" if sep else "")
    return {"status": status, "rounds": "1" if row["median_s"] else "0", "rounds_dropped": "0"}


def load_meta(csv_path: Path) -> dict[str, Any]:
    p = Path(csv_path).with_suffix(".json")
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ResultsError(f"cannot read {p}: {e}") from None


def samples_path(csv_path: Path) -> Path:
    return Path(csv_path).with_name(Path(csv_path).stem + ".samples.jsonl")


def load_samples(csv_path: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    """Pooled raw samples and profiles of finished rows, by row key (the last record wins).
    Empty when the sidecar is missing: then no interval can be derived from samples."""
    p = samples_path(csv_path)
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # torn last line
        if "round" not in rec:
            out[tuple(rec.get("key", []))] = rec
    return out


def _repair_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a samples file, after cutting a torn last line (no newline) from it, so
    that the next append starts on a line of its own."""
    if not path.exists():
        return []
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        with open(path, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _finite(r: dict[str, Any]) -> bool:
    return r["median_s"] is not None and math.isfinite(r["median_s"])


def ok_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose value the harness stands behind (``bench.status``: ok or noisy), finite."""
    return [r for r in rows if is_trusted(r["status"]) and _finite(r)]


def timed_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with a median, trusted or not (unstable, budget-short)."""
    return [r for r in rows if is_timed(r["status"]) and _finite(r)]
