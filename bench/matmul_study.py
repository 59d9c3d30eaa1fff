"""``python -m bench.matmul_study OUT_DIR``: every matmul candidate at the step's own shapes.

For the matmuls of the ``mega`` and ``behemoth`` steps and 4096^3 in the three forms: the parity
gate of every tunable variant on this adapter, then the autotuner's timing of every candidate
(variant x split-K factor, GPU timestamps) from a cold cache, cuBLAS (``bench.vendor``) at
the same shape, the warm-cache start, and the two steps' time with the tuned ``auto`` against the
rule. Writes ``matmul-candidates.csv``, ``matmul-tuning.json`` and ``steps.csv`` into OUT_DIR and
prints a table (TFLOP/s; ours / cuBLAS for the pick).

Options (after OUT_DIR [PRESETS [CUBE]]), to fit a short device call or compare two sets of rows:
``--variants a,b,..`` times only these tunable rows (the others are not candidates, nor gated,
nor used by the steps' ``auto``); ``--new a,b,..`` adds a table of the best of these rows beside
the best of the other candidates (written as ``new-vs-old.md``); ``--warm S`` keeps the GPU busy
S seconds first (beyond the settle the tuner runs before every shape); ``--parity`` checks every
candidate row on a larger awkward shape in each form, one pass and split 4, vs NumPy (and split 4
bitwise repeatable); ``--no-steps`` and ``--no-checked`` skip the step timings and the
trusted-vs-checked b128 comparison.
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


def main(out: str, presets: tuple[str, ...] = ("mega", "behemoth"), cube: int = 4096,
         variants: tuple[str, ...] = (), new: tuple[str, ...] = (), warm: float = 0.0,
         parity: bool = False, steps_too: bool = True, checked_too: bool = True) -> int:
    from dataclasses import replace

    from backends import get_backend
    from backends.gpu.autotune import MatmulTuner
    from kernels import registry

    if variants:
        unknown = set(variants) - {n for n, r in registry.MATMULS.items() if r.tune}
        if unknown:
            raise SystemExit(f"--variants: no tunable row(s) {sorted(unknown)}")
        for n, row in list(registry.MATMULS.items()):
            if row.tune and n not in variants:
                registry.MATMULS[n] = replace(row, tune=False)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / "matmul-plans.json"
    cache.unlink(missing_ok=True)
    tuner = MatmulTuner(mode="retune", path=cache)
    info = tuner.mb.describe()
    print("adapter:", info["adapter"], "|", info["driver"], "| cuda:", vendor.device_name())
    if warm:
        t0 = time.perf_counter()
        tuner.warm_up(warm)
        print(f"warm-up: FMA probe for {time.perf_counter() - t0:.1f} s", flush=True)
    if parity:
        for v, row in sorted(registry.MATMULS.items()):
            if row.tune:
                print(f"parity {v} (large awkward shapes, split 1 and 4): {_parity(tuner, v)}",
                      flush=True)
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
    print("| preset | form MxNxK | cuBLAS | pick | pick/cuBLAS | tune |")
    print("\n".join(table), flush=True)
    if new:
        versus = _new_vs_old(rows, set(new))
        (out_dir / "new-vs-old.md").write_text(versus + "\n")
        print(versus, flush=True)
    fma = tuner.mb.fma_probe()
    peak = fma.flops / min(fma.run() for _ in range(5)) / 1e12
    fma.close()
    checked = _checked_vs_trusted(tuner, cube) if checked_too else {}
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
    for preset in presets if steps_too else ():
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
    if steps:
        _write(out_dir / "steps.csv", steps)
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


# (M, K, N): over two 128-tiles on every side, no multiple of 4 in the first (scalar loads), the
# vec4 path in the second, K long enough for split 4 to leave partial slices
PARITY_SHAPES = ((301, 517, 263), (388, 1036, 260))


def _parity(tuner, variant: str) -> str:
    """``variant`` in each form on PARITY_SHAPES vs NumPy, one pass and split 4 (when the row
    splits), outputs NaN-poisoned; split 4 run twice must be bitwise equal."""
    import numpy as np

    from backends.base import BackendError
    from backends.gpu.testing import run_matmul
    from kernels import registry

    row = registry.MATMULS[variant]
    cases = [(form, shape, s) for form in ("nn", "nt", "tn") for shape in PARITY_SHAPES
             for s in ((None, 4) if row.split else (None,))]
    try:
        ok, msg = tuner.mb.check_matmul_cases(variant, cases, seed=7)
    except BackendError as e:  # over this device's limits: the gate refuses it too
        return f"not run here ({e})"
    if not ok or not row.split:
        return msg if ok else "FAILED " + msg
    rng = np.random.default_rng(8)
    M, K, N = PARITY_SHAPES[0]
    for form in ("nn", "nt", "tn"):
        a = rng.standard_normal((K, M) if form == "tn" else (M, K)).astype(np.float32)
        b = rng.standard_normal((N, K) if form == "nt" else (K, N)).astype(np.float32)
        one, two = (run_matmul(a, b, form, variant, splits=4, adapter=tuner.adapter)["c"]
                    for _ in range(2))
        if not np.array_equal(one.view(np.uint32), two.view(np.uint32)):
            return f"FAILED {form} split4 differs run to run"
    return msg + ", split4 bitwise repeatable"


def _new_vs_old(rows: list[dict], new: set[str]) -> str:
    """Markdown: per shape, cuBLAS, the best candidate of the rows in ``new`` and of the others."""
    out = ["| preset | form MxNxK | cuBLAS | best old | best new | new / cuBLAS | new / old |",
           "|---|---|---:|---:|---:|---:|---:|"]
    shapes: dict[tuple, list[dict]] = {}
    for r in rows:
        shapes.setdefault((r["preset"], r["form"], r["M"], r["N"], r["K"]), []).append(r)
    for (preset, form, M, N, K), rs in shapes.items():
        fresh = [r for r in rs if r["candidate"].split()[0] in new]
        old = [r for r in rs if r["candidate"].split()[0] not in new]
        bn = max(fresh, key=lambda r: r["tflops"], default=None)
        bo = max(old, key=lambda r: r["tflops"], default=None)
        cub = rs[0]["cublas_tflops"]

        def cell(r):
            return f"{r['tflops']:.1f} {r['candidate']}" if r else "-"

        ratio = f"{bn['tflops'] / cub:.2f}" if bn and cub else "-"
        gain = f"{bn['tflops'] / bo['tflops']:.2f}" if bn and bo else "-"
        out.append(f"| {preset} | {form} {M}x{N}x{K} | {cub:.1f} | {cell(bo)} | {cell(bn)} | "
                   f"{ratio} | {gain} |" if cub else
                   f"| {preset} | {form} {M}x{N}x{K} | - | {cell(bo)} | {cell(bn)} | - | {gain} |")
    return "\n".join(out)


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
            case.profile()
            case.profile()
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
    from backends.gpu.autotune import candidate_label

    return candidate_label(best["variant"], best["splits"] or 1)


def _cli(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.matmul_study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="?", default="results/h200-matmul")
    p.add_argument("presets", nargs="?", default="mega,behemoth")
    p.add_argument("cube", nargs="?", type=int, default=4096)
    p.add_argument("--variants", default="", help="comma-separated tunable rows to time")
    p.add_argument("--new", default="", help="comma-separated rows for the new-vs-old table")
    p.add_argument("--warm", type=float, default=0.0, help="seconds of GPU warm-up first")
    p.add_argument("--parity", action="store_true", help="larger-shape parity check first")
    p.add_argument("--no-steps", action="store_true")
    p.add_argument("--no-checked", action="store_true")
    a = p.parse_args(argv)

    def names(s: str) -> tuple[str, ...]:
        return tuple(x for x in s.split(",") if x)

    return main(a.out, names(a.presets), a.cube, names(a.variants), names(a.new), a.warm,
                a.parity, not a.no_steps, not a.no_checked)


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
