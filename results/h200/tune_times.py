"""How long `auto`'s tuning takes for a preset's step: cold (empty cache) and warm (a second
process reading the cache), and the step with the tuned plan. One line of JSON per process.

    GPT_CURVES_TUNE_CACHE=/tmp/x.json python results/h200/tune_times.py PRESET
"""

from __future__ import annotations

import json
import sys
import time

from bench.measure import measure_step, prepare_step
from bench.model import PRESETS


def main() -> None:
    preset = sys.argv[1]
    t0 = time.perf_counter()
    b, tok, tgt = prepare_step("gpu", PRESETS[preset], {"matmul": "auto", "attention": "fa2"})
    b.train_step(tok, tgt)  # the first step builds the plan: every matmul shape chosen
    first = time.perf_counter() - t0
    tuning = b.describe()["matmul_tuning"]
    choices = b.describe().get("matmul_choices")
    b.close()
    m = measure_step("gpu", PRESETS[preset], {"matmul": "auto", "attention": "fa2"}, 1.5,
                     profile=False)
    print(json.dumps({"preset": preset, "build_and_first_step_s": round(first, 3),
                      "tuning_s": tuning["tuning_s"], "sources": tuning["sources"],
                      "choices": choices, "step_ms": round(m.median_s * 1e3, 3),
                      "ci_ms": [round(m.ci_low_s * 1e3, 3), round(m.ci_high_s * 1e3, 3)]}))


if __name__ == "__main__":
    main()
