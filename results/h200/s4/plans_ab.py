"""The training step under two matmul plans in one process: session 3's tuned choices (rebuilt
into a plan cache under this device's key; the kernels are unchanged since) against the plans of
``AFTER`` (a cache the new tuner wrote), rounds interleaved so both see the same GPU. One JSON
line per (preset, plan, round), then a summary line per preset.

    python results/h200/s4/plans_ab.py AFTER_CACHE OUTDIR mega,behemoth
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

from backends.gpu.autotune import device_key
from backends.gpu.device import adapter_info, choose_adapter
from bench.measure import measure_step, prepare_step
from bench.model import PRESETS

S3 = Path(__file__).resolve().parent.parent / "s3"
ROUNDS = 3
BUDGET_S = 1.0


def before_cache(path: Path, presets: list[str]) -> None:
    """Session 3's choices ("b128 split8", "b64") as plans under this device's key."""
    # the key without a tuner: a tuner made before the file exists keeps no plans for the process
    key = device_key(adapter_info(choose_adapter(None)))
    plans = {}
    for p in presets:
        choices = json.loads((S3 / f"tune-cold-{p}.json").read_text())["choices"]
        for shape, choice in choices.items():
            v, _, s = choice.partition(" split")
            plans[shape] = {"variant": v, "splits": int(s or 1), "seconds": None, "timed": {}}
    path.write_text(json.dumps({key: plans}))


def step_ms(preset: str, cache: Path) -> tuple[float, dict]:
    os.environ["GPT_CURVES_TUNE_CACHE"] = str(cache)
    opts = {"matmul": "auto", "attention": "fa2"}
    b, tok, tgt = prepare_step("gpu", PRESETS[preset], opts)
    b.train_step(tok, tgt)
    d = b.describe()
    b.close()
    m = measure_step("gpu", PRESETS[preset], opts, BUDGET_S, profile=False)
    return m.median_s * 1e3, {"sources": sorted(set(d["matmul_tuning"]["sources"].values())),
                              "choices": d.get("matmul_choices")}


def main() -> None:
    after, out, presets = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
    before = out / "plans-s3.json"
    before_cache(before, presets)
    for p in presets:
        got: dict[str, list[float]] = {"s3": [], "s4": []}
        for r in range(ROUNDS):
            for name, cache in (("s3", before), ("s4", after))[:: 1 if r % 2 == 0 else -1]:
                ms, d = step_ms(p, cache)
                got[name].append(ms)
                print(json.dumps({"preset": p, "plan": name, "round": r, "step_ms": round(ms, 3),
                                  **d}), flush=True)
        a, b = statistics.median(got["s3"]), statistics.median(got["s4"])
        print(json.dumps({"preset": p, "s3_plan_ms": round(a, 3), "s4_plan_ms": round(b, 3),
                          "ratio": round(b / a, 4)}), flush=True)


if __name__ == "__main__":
    main()
