"""The statuses a result row can carry: each defined once here, read by the CSV, the report's
legend and the plots' markers.

A row's ``status`` column holds one of these words, optionally followed by ``": reason"``
(``failed-parity: grad wte rel err 0.5``). Only ``ok`` and ``noisy`` values are *trusted*: fits,
speedup crossovers and d_model curves use them and leave the others out (saying so). A value the
harness cannot stand behind is never plain ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.host_speed import MOVED_REL


@dataclass(frozen=True)
class Status:
    name: str
    meaning: str  # one sentence, shown in the report's legend
    timed: bool  # the row has a median
    trusted: bool  # fits and crossovers may use it
    marker: str  # matplotlib marker for the plots


STATUSES: tuple[Status, ...] = (
    Status("ok", "2+ rounds, separated in time, agree; the 95% CI of the pooled median (the "
           "round-to-round drift included) is within +-5% of it", True, True, "o"),
    Status("noisy", "rounds agree, but the 95% CI (drift included) is wider than +-5%, the "
           "per-op profile exceeds the wall time, or the point stays more than 1.5x off its "
           "d_model neighbours' trend after an extra round: the median stands, read it with "
           "the reason",
           True, True, "s"),
    Status("unstable", "rounds disagree beyond their CIs even after an extra round (host drift "
           "or a stall): the median pools every round and the CI spans the rounds' medians; the "
           "reason adds when the host core's own speed (a pure-Python sentinel read beside each "
           f"round) moved {100 * MOVED_REL:.0f}% or more with the step between them",
           True, False, "X"),
    Status("budget-short", "the budget allowed fewer than 2 rounds, the minimum samples or the "
           "minimum sampling span: a rough figure with no stopping rule behind it", True, False,
           "v"),
    Status("failed-parity", "gradients differ from the float64 reference: never timed", False,
           False, ""),
    Status("unsupported", "the backend, variant or size cannot run here (missing runtime, no "
           "adapter, a software adapter above tiny): never timed", False, False, ""),
    Status("error", "the backend raised while being timed: no value", False, False, ""),
)
BY_NAME = {s.name: s for s in STATUSES}


def status_word(text: str | None) -> str:
    """The status word of a CSV ``status`` value (``"failed-parity: ..."`` -> ``failed-parity``).

    Rows written before this status set existed are mapped onto it: ``skipped`` ->
    ``unsupported``, ``failed parity`` -> ``failed-parity``, ``failed`` -> ``error``."""
    word = (text or "").split(":", 1)[0].strip()
    legacy = {"skipped": "unsupported", "failed parity": "failed-parity", "failed": "error"}
    return legacy.get(word, word)


def with_reason(word: str, reason: str = "") -> str:
    """A ``status`` column value; ``word`` must be one of ``STATUSES``."""
    if word not in BY_NAME:
        raise ValueError(f"unknown status {word!r}")
    return f"{word}: {reason}" if reason else word


def is_trusted(text: str | None) -> bool:
    s = BY_NAME.get(status_word(text))
    return bool(s and s.trusted)


def is_timed(text: str | None) -> bool:
    s = BY_NAME.get(status_word(text))
    return bool(s and s.timed)


def legend_lines() -> list[str]:
    """The report's legend: one markdown bullet per status."""
    return [f"- `{s.name}`: {s.meaning}." for s in STATUSES]
