"""``python -m bench.matmul_study OUT_DIR``: every matmul candidate at the step's own shapes.

For the matmuls of the ``mega`` and ``behemoth`` steps and 4096^3 in the three forms: the parity
gate of every tunable variant on this adapter, then the autotuner's timing of every candidate
(variant x split-K factor, GPU timestamps) from a cold cache, cuBLAS (``bench.vendor``) at
the same shape, the warm-cache start, and the two steps' time with the tuned ``auto`` against the
rule. Writes ``matmul-candidates.csv``, ``matmul-tuning.json`` and ``steps.csv`` into OUT_DIR and
prints a table (TFLOP/s; ours / cuBLAS for the pick).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from bench import vendor
from bench.environment import git_commit
from bench.kernel_bench import step_matmuls
from bench.model import PRESETS


def main(out: str, presets: tuple[str, ...] = ("mega", "behemoth"), cube: int = 4096) -> int:
    from backends import get_backend
    from backends.gpu.autotune import MatmulTuner
    from kernels import registry

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / "matmul-plans.json"
    cache.unlink(missing_ok=True)
    tuner = MatmulTuner(mode="retune", path=cache)
    info = tuner.mb.describe()
    print("adapter:", info["adapter"], "|", info["driver"], "| cuda:", vendor.device_name())
    gates = {v: tuner.gate(v) for v, row in sorted(registry.MATMULS.items()) if row.tune}
    for v, (ok, msg) in gates.items():
        print(f"parity {v}: {'ok' if ok else 'FAILED'} {msg}")
    shapes = []
    for preset in presets:
        shapes += [(preset, *s) for s in step_matmuls(PRESETS[preset])]
    shapes += [("cube", f, cube, cube, cube) for f in ("nn", "nt", "tn")]
    rows, table = [], []
    commit = git_commit()
    t_cold = 0.0
    for preset, form, M, N, K in shapes:
        t0 = time.perf_counter()
        best = tuner.tune(form, M, N, K)
        dt = time.perf_counter() - t0
        t_cold += dt
        tuner.plans[f"{form} {M}x{N}x{K}"] = best
        flops = 2.0 * M * N * K
        vend = vendor.matmul_seconds(form, M, N, K)
        for cand, sec in best["timed"].items():
            rows.append({"preset": preset, "form": form, "M": M, "N": N, "K": K,
                         "candidate": cand, "seconds": sec, "tflops": flops / sec / 1e12,
                         "cublas_s": vend, "cublas_tflops": flops / vend / 1e12 if vend else "",
                         "vs_cublas": vend / sec if vend else "", "picked": cand == _label(best),
                         "adapter": info["adapter"], "driver": info["driver"],
                         "git_commit": commit})
        _write(out_dir / "matmul-candidates.csv", rows)  # after every shape: a cut run keeps rows
        pick = flops / best["seconds"] / 1e12
        cub = flops / vend / 1e12 if vend else float("nan")
        table.append(f"| {preset} | {form} {M}x{N}x{K} | {cub:.1f} | {pick:.1f} "
                     f"({_label(best)}) | {pick / cub:.2f} | {dt:.1f} s |")
        cands = " ".join(f"{c}={flops / t / 1e12:.1f}" for c, t in best["timed"].items())
        print(table[-1], cands, flush=True)
    tuner._save()
    fma = tuner.mb.fma_probe()
    peak = fma.flops / min(fma.run() for _ in range(5)) / 1e12
    fma.close()
    checked = _checked_vs_trusted(tuner, cube)
    via = _via_tn_split(tuner, shapes)
    t0 = time.perf_counter()
    warm = MatmulTuner(mode="on", path=cache)
    for _, form, M, N, K in shapes:
        warm.choose(form, M, N, K)
    t_warm = time.perf_counter() - t0
    (out_dir / "matmul-tuning.json").write_text(json.dumps(
        {"cold_s": t_cold, "warm_s": t_warm, "gates": gates, "key": tuner.key,
         "fma_peak_tflops": peak, "b128_trusted_vs_checked_tflops": checked,
         "via_tn_seconds_by_kernel": via,
         "sources_warm": warm.sources}, indent=1))
    steps = []
    for preset in presets:
        for tune in ("off", "on"):
            cfg = PRESETS[preset]
            import os
            os.environ["GPT_CURVES_TUNE_CACHE"] = str(cache)
            t0 = time.perf_counter()
            b = get_backend("gpu", cfg, matmul="auto", attention="fa2", tune=tune)
            setup = time.perf_counter() - t0
            import numpy as np
            rng = np.random.default_rng(0)
            tok = rng.integers(0, cfg.vocab, (cfg.batch, cfg.seq_len))
            for _ in range(2):
                b.train_step(tok, tok)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                b.train_step(tok, tok)
                ts.append(time.perf_counter() - t0)
            steps.append({"preset": preset, "auto": "measured" if tune == "on" else "rule",
                          "setup_s": setup, "step_s": sorted(ts)[2],
                          "choices": json.dumps(b.describe()["matmul_choices"])})
            b.close()
    with (out_dir / "steps.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(steps[0]))
        w.writeheader()
        w.writerows(steps)
    print("| preset | form MxNxK | cuBLAS | pick | pick/cuBLAS | tune |")
    print("\n".join(table))
    print(f"autotune cold {t_cold:.1f} s, warm {t_warm:.3f} s; FMA probe peak {peak:.1f} TFLOP/s")
    for form, (trusted, plain) in checked.items():
        print(f"b128 {form} {cube}^3: trusted module {trusted:.1f} TFLOP/s, with naga's runtime "
              f"checks {plain:.1f}")
    for shape, split in via.items():
        print(f"via-tn {shape}: " + ", ".join(f"{k} {1e6 * t:.1f} us" for k, t in split.items()))
    for s in steps:
        print(f"step {s['preset']} auto={s['auto']}: {1e3 * s['step_s']:.1f} ms "
              f"(setup {s['setup_s']:.1f} s)")
    return 0


def _via_tn_split(tuner, shapes) -> dict[str, dict[str, float]]:
    """Device seconds per kernel (transposes apart from the matmul) of the best via-tn candidate
    of each nn / nt shape the tuner timed, to see what the transposes cost and what the tn path
    gains."""
    from kernels import registry

    out = {}
    for _, form, M, N, K in shapes:
        label = f"{form} {M}x{N}x{K}"
        timed = tuner.plans.get(label, {}).get("timed", {})
        via = {c: t for c, t in timed.items()
               if registry.MATMULS[c.split()[0]].via_tn and form != "tn"}
        if not via:
            continue
        cand = min(via, key=via.get)
        splits = int(cand.split("split")[1]) if "split" in cand else 1
        case = tuner.mb.matmul(cand.split()[0], form, M, N, K, repeats=5, splits=splits)
        try:
            case.run()
            case.run()
            out[f"{label} {cand}"] = dict(case.split)
        finally:
            case.close()
    return out


def _checked_vs_trusted(tuner, n: int) -> dict[str, tuple[float, float]]:
    """b128 at n^3 built as a trusted module and with naga's runtime checks, per form."""
    from dataclasses import replace

    from backends.gpu.pipelines import Pipelines
    from kernels import registry

    out = {}
    row = registry.KERNELS["matmul_blocked"]
    mb = tuner.mb
    own = mb.pipelines
    flops = 2.0 * n**3
    for form in ("nn", "tn"):
        trusted = flops / tuner.time("b128", 1, form, n, n, n) / 1e12
        registry.KERNELS["matmul_blocked"] = replace(row, trusted=False)
        mb.pipelines = Pipelines(mb.dev)
        try:
            plain = flops / tuner.time("b128", 1, form, n, n, n) / 1e12
        finally:
            registry.KERNELS["matmul_blocked"] = row
            mb.pipelines = own
        out[form] = (trusted, plain)
    return out


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _label(best: dict) -> str:
    return best["variant"] + (f" split{best['splits']}" if (best["splits"] or 1) > 1 else "")


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[0] if args else "results/h200-matmul",
                  tuple(args[1].split(",")) if len(args) > 1 else ("mega", "behemoth"),
                  int(args[2]) if len(args) > 2 else 4096))
