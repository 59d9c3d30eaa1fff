"""Time the GPU step (fa2, default matmul) per preset and piece count: wall, device span, gap.

Run from a tree's root: ``python time_pieces.py OUT.jsonl [--ab]``. In a tree whose GPU backend has
no ``pieces`` option (before the step was cut into pieces) it times one configuration per preset,
wall only. Each configuration is warmed up, then timed step by step in rounds that visit every
configuration of a preset in turn, so a drift of the host shows up in every column alike.
``--ab`` adds, at tiny and medium with 4 pieces, the step with wgpu-py's encode loop instead of
the raw replay. (The rows of a86d44d also have "wait=poll-thread": that commit polled the device
on the calling thread, and the variant without it is what the backend does since.)
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

# $TIME_PIECES_PRESETS (comma-separated) narrows the list, e.g. to micro for a smoke run
PRESET_NAMES = tuple(
    os.environ.get("TIME_PIECES_PRESETS", "tiny,small,medium,large,xl,huge").split(",")
)
PIECES = (1, 2, 4, 8)
ROUNDS = 3
ROUND_S = 0.25  # seconds of timed steps per configuration and round


def wgpu_py_encode(self, encoder, piece, timestamp_writes=None):
    """The encode loop through wgpu-py's wrapped calls (for the A/B only)."""
    if timestamp_writes is None:
        cp = encoder.begin_compute_pass(label=self.name)
    else:
        cp = encoder.begin_compute_pass(label=self.name, timestamp_writes=timestamp_writes)
    last = None
    for d in piece.dispatches:
        if d.compiled.pipeline is not last:
            cp.set_pipeline(d.compiled.pipeline)
            last = d.compiled.pipeline
        cp.set_bind_group(0, d.bind_group)
        cp.dispatch_workgroups(*d.grid)
    cp.end()


def patches(variant: str):
    """(apply, undo) for an A/B variant of the new tree."""
    if variant == "default":
        return (lambda: None), (lambda: None)
    from backends.gpu.graph import Graph

    if variant == "encode=wgpu-py":
        real = Graph.encode_piece
        return (lambda: setattr(Graph, "encode_piece", wgpu_py_encode),
                lambda: setattr(Graph, "encode_piece", real))
    raise ValueError(variant)


def main() -> None:
    out_path = sys.argv[1]
    ab = "--ab" in sys.argv
    new = "pieces" in backend_options("gpu")
    rows = []
    for preset in PRESET_NAMES:
        config = PRESETS[preset]
        tokens, targets = make_batch(config)
        configs = []  # (label dict, backend)
        variants = [(k, "default") for k in PIECES] if new else [(None, "default")]
        if new and ab and preset in ("tiny", "medium", "micro"):
            variants += [(4, "encode=wgpu-py")]
        for k, variant in variants:
            opts = {"attention": "fa2", "timestamps": True}
            if k is not None:
                opts["pieces"] = k
            b = get_backend("gpu", config, **opts)
            apply, undo = patches(variant)
            apply()
            first = [b.train_step(tokens, targets) for _ in range(3)]  # compile, first touch
            t0 = time.perf_counter()
            for _ in range(5):
                b.train_step(tokens, targets)
            est = (time.perf_counter() - t0) / 5
            undo()
            d = b.describe()
            configs.append(({
                "preset": preset, "pieces": k, "variant": variant,
                "dispatches": d["dispatches_per_step"],
                "command_buffers": d.get("command_buffers_per_step", 1),
                "first_losses": first, "adapter": d["adapter"], "driver": d["driver"],
                "matmul": d["matmul"], "attention": d["attention"],
            }, b, variant, max(10, int(ROUND_S / est))))
        walls = {i: [] for i in range(len(configs))}
        spans = {i: [] for i in range(len(configs))}
        for _ in range(ROUNDS):
            for i, (_, b, variant, steps) in enumerate(configs):
                apply, undo = patches(variant)
                apply()
                for _ in range(steps):
                    t0 = time.perf_counter()
                    b.train_step(tokens, targets)
                    walls[i].append(time.perf_counter() - t0)
                    spans[i].append(getattr(b, "last_span_s", None))
                undo()
        for i, (label, b, _, _) in enumerate(configs):
            w = np.asarray(walls[i])
            s = spans[i]
            row = dict(label, wall_ms=float(np.median(w)) * 1e3, samples_s=walls[i])
            if all(x is not None for x in s):
                sp = np.asarray(s, dtype=np.float64)
                row.update(span_ms=float(np.median(sp)) * 1e3,
                           gap_ms=float(np.median(w - sp)) * 1e3, spans_s=list(map(float, sp)))
            rows.append(row)
            print(f"{preset:7s} pieces={label['pieces']} {label['variant']:17s} "
                  f"disp={label['dispatches']:4d} wall={row['wall_ms']:7.3f} "
                  f"span={row.get('span_ms', float('nan')):7.3f} "
                  f"gap={row.get('gap_ms', float('nan')):6.3f} n={len(w)}", flush=True)
            b.close()
    with open(out_path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
