"""Before timing on the device: GPU-vs-reference parity (fa2, default matmul) for 1 and 8 pieces,
then one harness measurement (``bench.measure_step``) at medium whose split is wall minus span.

Run from the tree's root: ``python check_and_harness.py OUT.json``.
"""

from __future__ import annotations

import json
import os
import sys

from bench.measure import check_parity, measure_step
from bench.model import PRESETS

PRESET = os.environ.get("HARNESS_PRESET", "medium")


def main() -> None:
    out = {"parity": {}}
    for pieces in (1, 8):
        ok, msg = check_parity("gpu", {"attention": "fa2", "pieces": pieces})
        out["parity"][str(pieces)] = [ok, msg]
        print(f"parity fa2 pieces={pieces}: {ok} {msg}", flush=True)
        if not ok:
            raise SystemExit(1)
    m = measure_step("gpu", PRESETS[PRESET], {"attention": "fa2"}, budget_s=1.5)
    out["harness"] = {
        "preset": PRESET, "median_s": m.median_s, "device_s": m.device_s,
        "overhead_s": m.overhead_s, "split_from": m.extra.get("split_from"), "n": m.n,
        "noisy": m.noisy, "per_op_sum_s": sum((m.per_op_s or {}).values()),
        "command_buffers": m.extra["describe"].get("command_buffers_per_step"),
        "dispatches": m.extra["describe"].get("dispatches_per_step"),
    }
    print("harness", json.dumps(out["harness"]), flush=True)
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
