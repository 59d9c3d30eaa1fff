"""Session 6: what the rounds of two identical sweeps say about ratio agreement, from the round
records alone (so a sweep cut short by its time limit still counts).

Usage: python results/h200/s6/rounds_study.py A.samples.jsonl B.samples.jsonl [MAX_ROUNDS]

For every same-run ratio the report draws (each series against the CPU baseline, against the
first series of its backend, and each GPU series against the torch peer) at every config both
sweeps measured: does sweep B's ratio lie within 5% of A's, for two estimators:
  pooled  - the ratio of the medians of every round's samples (what a row's median pools);
  paired  - the median of per-round ratios (both sides of a ratio sit in adjacent slots of one
            round, so a host episode that spans the round cancels out of it).
Also: the spread of the per-round log ratios (how much one round's ratio moves), the rounds that
spread implies for 90% agreement within 5%, and the host sentinel's per-round readings.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict

import numpy as np


def load(path: str, max_rounds: int | None) -> dict[tuple[str, ...], dict[int, dict]]:
    out: dict[tuple[str, ...], dict[int, dict]] = defaultdict(dict)
    with open(path) as fh:
        for line in fh:
            rec = json.loads(line)
            if "round" in rec and (max_rounds is None or rec["round"] < max_rounds):
                out[tuple(rec["key"])][rec["round"]] = rec
    return out


def pairs(keys: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(candidate, baseline) series as ``bench.analysis.Run.pairs`` forms them."""
    names = list(dict.fromkeys(k[:4] for k in keys))
    base = next(s for s in names if s[0] == "cpu")
    first: dict[str, tuple[str, ...]] = {}
    for s in names:
        first.setdefault(s[0], s)
    out = []
    for s in names:
        if s[0] != base[0]:
            out.append((s, base))
        if s != first[s[0]]:
            out.append((s, first[s[0]]))
    peer = next((s for s in names if s[0].startswith("torch")), None)
    out += [(s, peer) for s in names if s[0] == "gpu" and peer is not None]
    return list(dict.fromkeys(out))


def ratios(run: dict, cand: tuple[str, ...], base: tuple[str, ...]) -> tuple[float, list[float]]:
    rc, rb = run[cand], run[base]
    pooled = (np.median([x for r in rb.values() for x in r["samples"]])
              / np.median([x for r in rc.values() for x in r["samples"]]))
    per_round = [float(np.median(rb[i]["samples"]) / np.median(rc[i]["samples"]))
                 for i in sorted(set(rc) & set(rb))]
    return float(pooled), per_round


def main(a_path: str, b_path: str, max_rounds: int | None = None) -> None:
    a, b = load(a_path, max_rounds), load(b_path, max_rounds)
    keys = [k for k in a if k in b]
    configs = list(dict.fromkeys(k[4:] for k in keys))
    hits = {"pooled": 0, "paired": 0}
    sds, n = [], 0
    for cand, base in pairs(keys):
        for c in configs:
            if not all(s + c in run for s in (cand, base) for run in (a, b)):
                continue
            (pa, ra), (pb, rb) = ratios(a, cand + c, base + c), ratios(b, cand + c, base + c)
            n += 1
            hits["pooled"] += abs(pb / pa - 1) <= 0.05
            hits["paired"] += abs(np.median(rb) / np.median(ra) - 1) <= 0.05
            sds += [float(np.std(np.log(ra), ddof=1)), float(np.std(np.log(rb), ddof=1))]
    rounds = [len(r) for r in a.values()]
    sd = float(np.median(sds))
    # two sweeps' mean log ratios differ with sd sd*sqrt(2/R); 90% within log(1.05) needs
    # 1.645 * sd * sqrt(2/R) <= log(1.05)
    need = math.ceil(2 * (1.645 * sd / math.log(1.05)) ** 2)
    print(f"# {a_path.rsplit('/', 1)[-1]} vs {b_path.rsplit('/', 1)[-1]}\n")
    print(f"- rounds per point: {min(rounds)}-{max(rounds)} (extra rounds included)")
    print(f"- ratios at configs both measured: {n}; B within 5% of A: pooled medians "
          f"{hits['pooled']} ({100 * hits['pooled'] / n:.0f}%), paired per-round medians "
          f"{hits['paired']} ({100 * hits['paired'] / n:.0f}%)")
    print(f"- one round's ratio: median sd of the log per-round ratios {sd:.3f}; 90% of ratios "
          f"within 5% would take about {need} rounds per point at that spread")
    for name, run in (("A", a), ("B", b)):
        host = [min(r["host_us"]) for rs in run.values() for r in rs.values() if r.get("host_us")]
        if host:
            q = np.percentile(host, [5, 25, 50, 75, 95])
            print(f"- host sentinel in {name} ({len(host)} rounds), 5/25/50/75/95th percentile: "
                  + " / ".join(f"{v:.0f}" for v in q) + " us")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
