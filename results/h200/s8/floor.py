"""Session 8: what one matmul dispatch costs besides its math, read three ways, beside cuBLAS.

``python3 results/h200/s8/floor.py OUT_DIR`` (after ``source .gl/enter.sh``). For each shape and
candidate, seconds per call from
  pass: the tuner's method, one compute pass per dispatch with timestamps at its begin and end;
  one:  all repetitions in one compute pass (wgpu's barriers between them), timestamps around it;
  wall: that pass submitted and waited for on the host clock;
and cuBLAS (torch.matmul, fp32, TF32 off) timed with CUDA events around 20 calls (``bench.vendor``,
what the study compares with) and as replays of a CUDA graph of 20 calls. K = 8 .. 2048 at
4096 x 512 gives each side's fixed cost per call (the intercept of time against K). Also: the FMA
probe built with and without naga's runtime checks, and the split-K reduce, scalar and vec4.
Writes floor.json and prints a table.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from statistics import median

import numpy as np
import wgpu

from backends.gpu import native
from backends.gpu.graph import Piece
from backends.gpu.microbench import MicroBench, settle
from bench import vendor
from kernels import matmul_plan, registry

RUNS = 7
TINY = "--tiny" in sys.argv  # a check of the script on a software adapter
SHAPES = [  # form, M, N, K, [(variant, splits)]
    *[("nn", 4096, 512, k, [("b128t84v4", None), ("b128", None), ("b64v4", None)])
      for k in (8, 64, 256, 512, 2048)],
    ("nn", 4096, 2048, 512, [("b128tr", None), ("b128", None), ("w128", None), ("w128v4", None),
                             ("w128trv4", None)]),
    ("nt", 4096, 256, 768, [("b64v4", None)]),
    ("tn", 768, 768, 4096, [("b128t84", 3)]),
    ("nn", 4096, 4096, 4096, [("w128tr", None), ("w128trv4", None)]),
]
REDUCE = [("tn", 3072, 768, 4096, "b128", 6), ("tn", 768, 768, 4096, "b128t84", 3)]
if TINY:
    SHAPES = [("nn", 64, 68, 40, [("b64v4", None)])]
    REDUCE = [("tn", 64, 68, 512, "splitk", 4)]


def one_pass(mb: MicroBench, case, wall: bool) -> float:
    """Median seconds per repetition with every dispatch in one pass: timestamps or wall."""
    dev = mb.dev.device
    qs = dev.create_query_set(type="timestamp", count=2)
    res = dev.create_buffer(size=16, usage=wgpu.BufferUsage.QUERY_RESOLVE
                            | wgpu.BufferUsage.COPY_SRC)
    rd = dev.create_buffer(size=16, usage=wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST)
    g = case.graph
    piece = Piece(g.dispatches, native.program(g.dispatches))
    out = []
    for _ in range(RUNS):
        enc = dev.create_command_encoder()
        t0 = time.perf_counter()
        if wall:  # waits by mapping a buffer the command buffer copies to after the pass
            g.encode_piece(enc, piece)
            enc.copy_buffer_to_buffer(res, 0, rd, 0, 16)
            dev.queue.submit([enc.finish()])
            rd.map_sync(wgpu.MapMode.READ, 0, 16)
            out.append((time.perf_counter() - t0) / case.repeats)
            rd.unmap()
            continue
        g.encode_piece(enc, piece, {"query_set": qs, "beginning_of_pass_write_index": 0,
                                    "end_of_pass_write_index": 1})
        enc.resolve_query_set(qs, 0, 2, res, 0)
        enc.copy_buffer_to_buffer(res, 0, rd, 0, 16)
        dev.queue.submit([enc.finish()])
        rd.map_sync(wgpu.MapMode.READ, 0, 16)
        t = np.frombuffer(rd.read_mapped(0, 16), np.uint64).astype(np.int64)
        rd.unmap()
        out.append(int(t[1] - t[0]) * 1e-9 / case.repeats)
    return median(out)


def cublas_graph(form: str, M: int, N: int, K: int, calls: int = 20) -> float | None:
    torch = vendor.cuda_torch()
    if torch is None:
        return None
    dev = torch.device("cuda")
    a = torch.randn((K, M) if form == "tn" else (M, K), device=dev)
    b = torch.randn((N, K) if form == "nt" else (K, N), device=dev)
    A = a.t() if form == "tn" else a
    B = b.t() if form == "nt" else b
    out = torch.empty((M, N), device=dev)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            torch.matmul(A, B, out=out)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            torch.matmul(A, B, out=out)
    return median(vendor.event_seconds(torch, graph.replay, 1, RUNS, warmup=2)) / calls


def _us(sec: float | None) -> str:
    return f"{sec * 1e6:.1f}" if sec else "-"


def timings(mb: MicroBench, case) -> dict[str, float]:
    per_pass = median(case.run() for _ in range(RUNS))
    return {"pass": per_pass, "one": one_pass(mb, case, False), "wall": one_pass(mb, case, True)}


def probe(mb: MicroBench, kname: str, n: int, iters: int, repeats: int):
    pool, g = mb._start(kname)
    out = pool.floats("out", n)
    for _ in range(repeats):
        g.add(kname, {"out": out}, {"n": n, "iters": iters, "mul": 0.5, "add": 0.5})
    return mb._finish(kname, pool, g, repeats, flops=64.0 * n * iters)


def main(out_dir: str) -> None:
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("settle:", settle())
    mb = MicroBench()
    info = mb.describe()
    print("adapter:", info["adapter"], "|", info["driver"], "| cuda:", vendor.device_name())
    row = registry.KERNELS["probe_fma"]
    for name, trusted in (("probe_fma_checked", False), ("probe_fma_trusted", True)):
        registry.KERNELS[name] = replace(row, name=name, trusted=trusted)
    rec: dict = {"adapter": info["adapter"], "driver": info["driver"], "probe": {}, "rows": [],
                 "reduce": {}}
    for name in ("probe_fma_checked", "probe_fma_trusted"):
        case = probe(mb, name, 256 * (64 if TINY else 8192), 64 if TINY else 2048, 3)
        sec = median(case.run() for _ in range(RUNS))
        rec["probe"][name] = case.flops / sec / 1e12
        case.close()
        tiny = probe(mb, name, 256, 1, 50)
        rec["probe"][name + "_floor_us"] = {k: v * 1e6 for k, v in timings(mb, tiny).items()}
        tiny.close()
        print(name, f"{rec['probe'][name]:.1f} TFLOP/s; one-workgroup dispatch us:",
              {k: round(v, 2) for k, v in rec["probe"][name + "_floor_us"].items()}, flush=True)
    table = ["| form MxNxK | candidate | pass us | one-pass us | wall us | cuBLAS events us "
             "| cuBLAS graph us | TFLOP/s (pass) | cuBLAS TFLOP/s (events) |"]
    for form, M, N, K, cands in SHAPES:
        flops = 2.0 * M * N * K
        ev = vendor.matmul_seconds(form, M, N, K)
        gr = cublas_graph(form, M, N, K)
        reps = 50 if K <= 512 else 20
        for variant, splits in cands:
            case = mb.matmul(variant, form, M, N, K, repeats=reps if flops < 4e10 else 5,
                             splits=splits)
            t = timings(mb, case)
            case.close()
            r = {"form": form, "M": M, "N": N, "K": K, "candidate": variant, "splits": splits,
                 **{k + "_s": v for k, v in t.items()}, "cublas_events_s": ev,
                 "cublas_graph_s": gr}
            rec["rows"].append(r)
            table.append(f"| {form} {M}x{N}x{K} | {variant}{f' split{splits}' if splits else ''}"
                         f" | {t['pass'] * 1e6:.1f} | {t['one'] * 1e6:.1f} | {t['wall'] * 1e6:.1f}"
                         f" | {_us(ev)} | {_us(gr)} | {flops / t['pass'] / 1e12:.1f}"
                         f" | {flops / ev / 1e12 if ev else float('nan'):.1f} |")
            print(table[-1], flush=True)
        (out / "floor.json").write_text(json.dumps(rec, indent=1))
    for form, M, N, K, variant, splits in REDUCE:
        for kind in ("vec4", "scalar"):
            if kind == "scalar":
                matmul_plan.vec4_store_ok = lambda N: False
            case = mb.matmul(variant, form, M, N, K, repeats=10, splits=splits)
            runs = []
            for _ in range(RUNS):
                case.run()
                runs.append(dict(case.split))
            case.close()
            labels = sorted(runs[0])
            rec["reduce"][f"{form} {M}x{N}x{K} {variant} split{splits} {kind}"] = {
                lab: median(r[lab] for r in runs) for lab in labels}
        matmul_plan.vec4_store_ok = registry.vec4_store_ok
    for k, v in rec["reduce"].items():
        print("reduce", k, {lab: round(s * 1e6, 1) for lab, s in v.items()})
    (out / "floor.json").write_text(json.dumps(rec, indent=1))
    print("\n".join(table))


if __name__ == "__main__":
    main(sys.argv[1])
