"""Time the GPU step (fa2, default matmul) per preset and cut/wait: wall, span, gap, host marks.

Run from a tree's root: ``python time_marks.py OUT.jsonl``; ``python time_marks.py --table A.jsonl
B.jsonl ...`` prints the table of the rows. In a tree whose backend has no ``wait`` option (main
before the cut/wait change) it times the default step, and takes its marks by wrapping the queue's
writes and submits and the readback's map; in a tree with it, every cut/wait of ``CUTS`` with the
backend's own marks (``marks=True``). Walls and spans come from steps without marks: each
configuration is warmed up, then timed in rounds that visit every configuration of a preset in
turn; the marks come from a separate pass of ``MARK_STEPS`` steps per configuration.
``TIME_MARKS_CUTS`` (``pieces/growth/wait[/taper]``, comma-separated) replaces the cuts timed.
Marks are seconds after entering ``train_step``: written (the queue writes before the first submit
are done), encoded0 (the first command buffer is encoded), submitted0, submitted (the last),
mapped (the readback is mapped and read), return.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from backends import backend_options, get_backend
from bench.measure import make_batch
from bench.model import PRESETS

PRESET_NAMES = tuple(
    os.environ.get("TIME_MARKS_PRESETS", "tiny,small,medium,large,xl").split(",")
)
def _cuts(text: str) -> list[tuple]:
    """``"4/1/spin,6/2/spin/taper"`` -> [(4, 1.0, "spin", False), (6, 2.0, "spin", True)]."""
    out = []
    for c in text.split(","):
        p, g, w, *t = c.split("/")
        out.append((int(p), float(g), w, t == ["taper"]))
    return out


CUTS = _cuts(os.environ.get("TIME_MARKS_CUTS", "4/1/thread,4/1/block,4/1/spin,4/2/thread,"
                            "4/2/block,4/2/spin,3/3/spin,6/2/spin,8/1.5/spin,2/4/spin"))
# small and large (for the fit of the fixed overhead over small..xl) time these only
CUTS_SHORT = _cuts(os.environ.get("TIME_MARKS_CUTS_SHORT",
                                  "4/1/thread,4/2/block,4/2/spin,3/3/spin"))
SHORT_PRESETS = ("small", "large")
ROUNDS = 3
ROUND_S = float(os.environ.get("TIME_MARKS_ROUND_S", "0.12"))
MARK_STEPS = int(os.environ.get("TIME_MARKS_MARK_STEPS", "40"))
MARK_NAMES = ("written", "encoded0", "submitted0", "submitted", "mapped", "return")


def wrapped_marks(b, tokens, targets) -> dict[str, float]:
    """One step of a backend without marks, marked by wrapping its queue and readback."""
    queue, rb = b.dev.device.queue, b.readback
    stamps: list[tuple[str, float]] = []
    real_write, real_submit, real_map = queue.write_buffer, queue.submit, rb.map_sync

    def write(*a, **k):
        real_write(*a, **k)
        stamps.append(("write", time.perf_counter()))

    def submit(bufs):
        stamps.append(("submit_call", time.perf_counter()))
        real_submit(bufs)
        stamps.append(("submit", time.perf_counter()))

    def map_sync(*a, **k):
        out = real_map(*a, **k)
        stamps.append(("map", time.perf_counter()))
        return out

    queue.write_buffer, queue.submit, rb.map_sync = write, submit, map_sync
    try:
        t0 = time.perf_counter()
        b.train_step(tokens, targets)
        t1 = time.perf_counter()
    finally:
        del queue.write_buffer, queue.submit, rb.map_sync
    first = next(i for i, (k, _) in enumerate(stamps) if k == "submit_call")
    writes = [t for k, t in stamps[:first] if k == "write"]
    submits = [t for k, t in stamps if k == "submit"]
    m = {
        "written": (writes[-1] if writes else t0), "encoded0": stamps[first][1],
        "submitted0": submits[0], "submitted": submits[-1],
        "mapped": next(t for k, t in stamps if k == "map"), "return": t1,
    }
    return {k: v - t0 for k, v in m.items()}


def main(out_path: str) -> None:
    new = "wait" in backend_options("gpu")
    open(out_path, "w").close()
    for preset in PRESET_NAMES:
        config = PRESETS[preset]
        tokens, targets = make_batch(config)
        configs = []
        cuts = CUTS_SHORT if preset in SHORT_PRESETS else CUTS
        for cut in (cuts if new else [None]):
            opts = {"attention": "fa2", "timestamps": True}
            if cut is not None:
                opts.update(pieces=cut[0], piece_growth=cut[1], wait=cut[2])
                if cut[3]:
                    opts["piece_taper"] = True
            b = get_backend("gpu", config, **opts)
            first = [b.train_step(tokens, targets) for _ in range(3)]
            t0 = time.perf_counter()
            for _ in range(5):
                b.train_step(tokens, targets)
            est = (time.perf_counter() - t0) / 5
            d = b.describe()
            label = {
                "preset": preset, "tree": "new" if new else "main",
                "cut": "main default" if cut is None else
                f"{cut[0]}/{cut[1]:g}/{cut[2]}" + ("/taper" if cut[3] else ""),
                "dispatches": d["dispatches_per_step"],
                "command_buffers": d["command_buffers_per_step"],
                "piece_sizes": d.get("piece_sizes"), "first_losses": first,
                "adapter": d["adapter"], "driver": d["driver"],
                "matmul_choices": d["matmul_choices"],
            }
            configs.append((label, b, max(10, int(ROUND_S / est))))
        walls = [[] for _ in configs]
        spans = [[] for _ in configs]
        for _ in range(ROUNDS):
            for i, (_, b, steps) in enumerate(configs):
                for _ in range(steps):
                    t0 = time.perf_counter()
                    b.train_step(tokens, targets)
                    walls[i].append(time.perf_counter() - t0)
                    spans[i].append(b.last_span_s)
        for i, (label, b, _) in enumerate(configs):
            marks = []
            for _ in range(MARK_STEPS):
                if new:
                    b.marks = True
                    b.train_step(tokens, targets)
                    b.marks = False
                    marks.append(b.last_marks_s)
                else:
                    marks.append(wrapped_marks(b, tokens, targets))
            w, s = np.asarray(walls[i]), np.asarray(spans[i], np.float64)
            row = dict(
                label,
                wall_ms=float(np.median(w)) * 1e3, wall_p10_ms=float(np.percentile(w, 10)) * 1e3,
                span_ms=float(np.median(s)) * 1e3, gap_ms=float(np.median(w - s)) * 1e3,
                marks_ms={k: float(np.median([m[k] for m in marks])) * 1e3 for k in MARK_NAMES},
                samples_s=walls[i], spans_s=list(map(float, s)), n=len(w),
            )
            with open(out_path, "a") as f:  # row by row: a call cut short keeps what it had
                f.write(json.dumps(row) + "\n")
            print(line(row), flush=True)
            b.close()


def line(r: dict) -> str:
    m = r["marks_ms"]
    marks = " ".join(f"{m[k]:.3f}" for k in MARK_NAMES)
    return (f"| {r['preset']} | {r['cut']} | {r['dispatches']} | "
            f"{'/'.join(map(str, r['piece_sizes'] or [r['command_buffers']]))} | "
            f"{r['wall_ms']:.3f} | {r['span_ms']:.3f} | {r['gap_ms']:.3f} | {marks} |")


def table(paths: list[str]) -> None:
    """The rows, then per (tree, cut) timed at small..xl the fitted fixed overhead ``a``."""
    from backends.model import step_flops
    from bench.fit import fit_overhead

    print("| preset | cut (pieces/growth/wait) | disp | piece sizes | wall ms | span ms | gap ms "
          "| marks ms: written encoded0 submitted0 submitted mapped return |")
    curve: dict[tuple[str, str], list[dict]] = {}
    for p in paths:
        with open(p) as f:
            for r in map(json.loads, f):
                print(line(r))
                if r["preset"] in ("small", "medium", "large", "xl"):
                    curve.setdefault((r["tree"], r["cut"]), []).append(r)
    for (tree, cut), rs in curve.items():
        if len(rs) < 4:
            continue
        fit = fit_overhead([step_flops(PRESETS[r["preset"]]) for r in rs],
                           [r["wall_ms"] * 1e-3 for r in rs], [r["samples_s"] for r in rs])
        print(f"fit small..xl {tree} {cut}: a = {fit.a * 1e3:.2f} ms "
              f"[{fit.a_ci[0] * 1e3:.2f}, {fit.a_ci[1] * 1e3:.2f}], r2 {fit.r2:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "--table":
        table(sys.argv[2:])
    else:
        main(sys.argv[1])
