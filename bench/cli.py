"""``python -m bench devices|sweep|plot|report``: the command line of the harness.

Every user mistake (unknown preset/backend/variant, malformed spec, unwritable --out,
--require-gpu without a hardware adapter, a missing results file) ends as one line on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from backends import BACKENDS
from backends.base import BackendError
from bench.asv_tools import AsvError, asv_curves, asv_machine
from bench.model import PRESETS, ConfigError
from bench.sweep import ALIASES

DEFAULT_PRESETS = ("micro", "tiny", "small", "medium", "large", "xl")
QUICK_BUDGET_S = 0.6


class UsageError(Exception):
    """A user mistake caught by the CLI itself."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _csv_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def build_parser() -> Parser:
    p = Parser(prog="python -m bench", description="Performance curves of the tiny-GPT backends.")
    sub = p.add_subparsers(
        dest="command", metavar="{devices,sweep,plot,report,asv-machine,asv-curves,kernels}",
        parser_class=Parser
    )
    sub.required = True

    d = sub.add_parser("devices", help="list GPU adapters (type, software flag), CPU and BLAS")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")

    s = sub.add_parser("sweep", help="measure a sweep into results/<machine>/<run>.csv",
                       description="Measure backends x variants x configs; write CSV, JSON, "
                       "plots and print a markdown report.")
    s.add_argument("--backends", help=f"comma list of {', '.join(BACKENDS + tuple(ALIASES))} "
                   "(default cpu,gpu; torch-cuda-graph = the whole step in a CUDA graph)")
    s.add_argument("--presets", help=f"comma list of {', '.join(PRESETS)}")
    s.add_argument("--sweep", action="append", default=[], metavar="AXIS=SPEC",
                   help="free axis, e.g. d_model=64:1024:64 (stop inclusive) or seq_len=64,128; "
                   "axes: d_model, n_layer, n_head, seq_len, batch, threads; repeat to cross")
    s.add_argument("--fix", metavar="NAME=V,...", help="fixed dims for --sweep, e.g. "
                   "n_layer=4,seq_len=128,batch=8 (default n_layer=4, seq_len=128, batch=8; "
                   "n_head keeps head_dim 32)")
    s.add_argument("--matmul", help="comma list of matmul variants (GPU backend)")
    s.add_argument("--attention", help="comma list of attention variants (naive, fa2)")
    s.add_argument("--threads", help="comma list of CPU thread counts")
    s.add_argument("--budget", type=float, default=None,
                   help="seconds per point, warm-up included (default 2; --quick 0.6)")
    s.add_argument("--out", default="results", help="results root (default results/)")
    s.add_argument("--quick", action="store_true",
                   help="a few small presets on the CPU backends and the GPU at micro/tiny; "
                   "under 5 minutes on a laptop")
    s.add_argument("--require-gpu", action="store_true",
                   help="fail (exit 2) unless a hardware GPU adapter is used")
    s.add_argument("--resume", metavar="RUN", help="continue RUN (a run id or its .csv path)")
    s.add_argument("--run-id", help="name the run (default: a timestamp)")
    s.add_argument("--no-plots", action="store_true", help="skip the plots")

    pl = sub.add_parser("plot", help="draw the plots of a run (PNG and SVG)")
    pl.add_argument("run", metavar="RUN.csv")
    pl.add_argument("--out", help="directory for the plots (default: next to RUN.csv)")

    r = sub.add_parser("report", help="print a markdown report of a run")
    r.add_argument("run", metavar="RUN.csv")

    sub.add_parser("asv-machine", help="register this host + GPU adapter as an asv machine "
                   "(asv's machine.json has no GPU field) and print its name")
    ac = sub.add_parser("asv-curves", help="draw step time and speedup vs d_model from asv results")
    ac.add_argument("results", nargs="?", default="results/asv", help="asv results_dir")
    ac.add_argument("--out", help="directory for the plots (default: results/asv-curves)")
    k = sub.add_parser("kernels", help="kernel micro-benchmarks (matmul GFLOP/s, attention time, "
                       "FMA and copy peaks) into DIR/kernels-<time>.csv")
    k.add_argument("--sizes", help="comma list of square matmul sizes (default 1024,2048,4096)")
    k.add_argument("--seq", help="comma list of attention seq_len (default 128,...,2048)")
    k.add_argument("--matmul", help="comma list of matmul variants (default all)")
    k.add_argument("--attention", help="comma list of attention variants (default all)")
    k.add_argument("--budget", type=float, default=1.0, help="seconds per timed point")
    k.add_argument("--presets", help="comma list of presets whose training-step matmuls are "
                   "measured besides the square sizes (e.g. mega,behemoth)")
    k.add_argument("--vendor-gflops", type=float, help="a vendor library's GFLOP/s to report "
                   "matmuls as a share of, where cuBLAS cannot be timed (no torch with CUDA)")
    k.add_argument("--no-vendor", action="store_true", help="do not time cuBLAS beside the "
                   "matmuls even where torch with CUDA is importable")
    k.add_argument("--retune", action="store_true", help="re-measure auto's matmul plans on "
                   "this device instead of reading the cache")
    k.add_argument("--adapter", help="adapter name substring")
    k.add_argument("--out", default="results/kernels", help="output directory")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"devices": cmd_devices, "sweep": cmd_sweep, "plot": cmd_plot,
                "report": cmd_report, "asv-machine": cmd_asv_machine,
                "asv-curves": cmd_asv_curves, "kernels": cmd_kernels}[args.command](args)
    except (UsageError, ConfigError, BackendError, AsvError) as e:
        print(f"python -m bench {args.command}: error: {_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished rows are saved (continue with --resume RUN)", file=sys.stderr)
        return 130


def _line(e: object) -> str:
    return " ".join(str(e).split())


# ------------------------------------------------------------------------- devices
def cmd_devices(args: argparse.Namespace) -> int:
    from bench.environment import adapters, environment

    env = environment()
    ads = adapters()
    if args.json:
        print(json.dumps({"environment": env, "adapters": ads}, indent=2))
        return 0
    print(f"CPU: {env['cpu']} ({env['cores']} cores)")
    for b in env["blas"]:
        print(f"BLAS: {b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)")
    print(f"numpy {env['numpy']}, wgpu {env['wgpu'] or '-'}, torch {env['torch'] or '-'}")
    from backends import backend_class

    for name in BACKENDS:
        try:
            backend_class(name)
            state = "importable"
        except Exception as e:
            state = f"unavailable ({_line(e)[:120]})"
        print(f"backend {name}: {state}")
    if not ads:
        print("GPU adapters: none (wgpu missing or no driver)")
    for a in ads:
        if "error" in a:
            print(f"GPU adapters: enumeration failed: {a['error']}")
            continue
        flag = "  <- software adapter - not a GPU" if a["software"] else ""
        print(f"adapter: {a['adapter']} | type {a['adapter_type']} | {a['backend']} "
              f"| {a['driver']}{flag}")
    return 0


# ------------------------------------------------------------------------- sweep
def _gpu_describe() -> dict[str, Any] | None:
    """describe() of the GPU backend at micro, or None when it cannot be created."""
    from bench.measure import _safe_describe, prepare_step
    from bench.model import get_preset

    try:
        b, _, _ = prepare_step("gpu", get_preset("micro"))
    except Exception:
        return None
    try:
        return _safe_describe(b)
    finally:
        b.close()


def _check_variants(kind: str, names: list[str]) -> None:
    """Unknown variant names -> UsageError, when the kernel registry can say which exist."""
    known = _registry_variants(kind)
    bad = [n for n in names if known is not None and n not in known]
    if bad:
        raise UsageError(f"unknown {kind} variant(s) {bad}; known: {', '.join(sorted(known))}")


def _registry_variants(kind: str) -> set[str] | None:
    """Variant names the kernel registry knows (plus the CPU's attention variants); None when
    there is no registry to ask (then get_backend judges each name)."""
    try:
        reg = importlib.import_module("kernels.registry")
        table = reg.variants()
    except Exception:
        return None
    if not isinstance(table, dict) or kind not in table:
        return None
    extra = _cpu_attention() if kind == "attention" else set()
    return set(table[kind]) | extra


def _cpu_attention() -> set[str]:
    try:
        return set(importlib.import_module("backends.cpu").ATTENTION_VARIANTS)
    except Exception:
        return set()


def build_sweep(args: argparse.Namespace) -> Any:
    from bench.sweep import QUICK_CPU_PRESETS, QUICK_GPU_PRESETS, Sweep, parse_assignments

    backends = _csv_list(args.backends)
    presets = _csv_list(args.presets)
    if args.quick:
        backends = backends or ["cpu"] + (
            ["torch"] if importlib.util.find_spec("torch") else []
        ) + ["gpu"]
        presets = presets or ([] if args.sweep else list(QUICK_CPU_PRESETS))
    backends = backends or ["cpu", "gpu"]
    known = list(BACKENDS) + list(ALIASES)
    for b in backends:
        if b not in known:
            raise UsageError(f"unknown backend {b!r}; known backends: {', '.join(known)}")
    for p in presets:
        if p not in PRESETS:
            raise UsageError(f"unknown preset {p!r}; known presets: {', '.join(PRESETS)}")
    axes: dict[str, list[int]] = {}
    for spec in args.sweep:
        for k, v in parse_assignments(spec, "sweep").items():
            if k in axes:
                raise UsageError(f"axis {k} given twice in --sweep")
            axes[k] = v
    fix = {k: v[0] for k, v in parse_assignments(args.fix, "fix").items()} if args.fix else {}
    clash = sorted(set(fix) & set(axes))
    if clash:
        raise UsageError(f"axis {clash[0]} is both swept and fixed")
    if not presets and not axes:
        presets = list(DEFAULT_PRESETS)
    threads = []
    for t in _csv_list(args.threads):
        if not t.isdigit() or int(t) <= 0:
            raise UsageError(f"--threads needs positive integers, got {t!r}")
        threads.append(int(t))
    matmul, attention = _csv_list(args.matmul), _csv_list(args.attention)
    _check_variants("matmul", matmul)
    _check_variants("attention", attention)
    only: dict[str, list[str]] = {}
    if args.quick and "gpu" in backends:
        only["gpu"] = [p for p in presets if p in QUICK_GPU_PRESETS]
    sweep = Sweep(backends, presets, axes, fix, matmul, attention, threads, only)
    sweep.configs()  # validates every config now (ConfigError -> exit 2)
    return sweep


def _find_run(out: Path, run: str) -> Path:
    p = Path(run)
    if p.suffix == ".csv" and p.exists():
        return p
    hits = sorted(out.glob(f"*/{run}.csv"))
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UsageError(f"no run {run!r} under {out}/ (give the run id or its .csv path)")
    raise UsageError(f"run {run!r} is ambiguous under {out}/: {', '.join(map(str, hits))}")


def cmd_sweep(args: argparse.Namespace) -> int:
    from bench.environment import environment, machine_name
    from bench.results import ResultsError, RunStore
    from bench.runner import Progress, run_sweep
    from bench.sweep import Sweep

    if args.budget is not None and not args.budget > 0:
        raise UsageError(f"--budget must be a positive number of seconds, got {args.budget}")
    budget = args.budget or (QUICK_BUDGET_S if args.quick else 2.0)
    out = Path(args.out)
    try:
        if args.resume:
            store = RunStore.resume(_find_run(out, args.resume))
            if "sweep" not in store.meta:
                raise UsageError(f"{store.json_path} has no sweep declaration to resume")
            sweep = Sweep.from_dict(store.meta["sweep"])
            budget = args.budget or store.meta.get("budget_s", budget)
            print(f"resuming {store.run_id}: {len(store.done)} point(s) already done",
                  file=sys.stderr)
        else:
            sweep = build_sweep(args)
            gpu = _gpu_describe() if ("gpu" in sweep.backends or args.require_gpu) else None
            if args.require_gpu:
                if gpu is None:
                    raise UsageError("--require-gpu: the gpu backend found no usable adapter")
                if gpu.get("software"):
                    raise UsageError(f"--require-gpu: only a software adapter "
                                     f"({gpu.get('adapter', '?')}) is available")
            machine = machine_name(str((gpu or {}).get("adapter", "")),
                                   bool((gpu or {}).get("software")))
            stamp = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
            run_id = args.run_id or stamp
            meta = {"command": ["python", "-m", "bench", *sys.argv[1:]], "machine": machine,
                    "sweep": sweep.to_dict(), "budget_s": budget,
                    "environment": {**environment(measure_peak=True), "gpu": gpu}}
            store = RunStore.create(out / machine, run_id, meta)
    except ResultsError as e:
        raise UsageError(str(e)) from None
    run_sweep(sweep, store, budget, progress=Progress(0))
    finish(store, plots=not args.no_plots)
    return 0


def finish(store: Any, plots: bool = True) -> None:
    """Fits into the JSON sidecar, plots next to the CSV, the report on stdout."""
    from bench.analysis import Run
    from bench.report import report

    run = Run.load(store.csv_path)
    store.meta["fits"] = {s: f.to_dict() for s, f in run.fits().items()}
    store.write_meta()
    if plots:
        from bench.plots import plot_run

        files = plot_run(run, store.csv_path.with_name(store.run_id + "-plots"))
        print(f"wrote {store.csv_path} and {len(files)} plot file(s) in "
              f"{store.csv_path.with_name(store.run_id + '-plots')}", file=sys.stderr)
    print(report(Run.load(store.csv_path)))


# ------------------------------------------------------------------------- plot / report
def _load(path: str) -> Any:
    from bench.analysis import Run
    from bench.results import ResultsError

    try:
        return Run.load(path)
    except ResultsError as e:
        raise UsageError(str(e)) from None


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.plots import plot_run

    run = _load(args.run)
    out = Path(args.out) if args.out else run.path.with_name(run.path.stem + "-plots")
    try:
        files = plot_run(run, out)
    except OSError as e:
        raise UsageError(f"cannot write plots to {out}: {e.strerror or e}") from None
    for f in files:
        print(f)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import report

    print(report(_load(args.run)))
    return 0


def cmd_asv_machine(args: argparse.Namespace) -> int:
    name, info = asv_machine()
    print(name)
    print(f"registered asv machine {name!r} ({info['cpu']}); run: asv run --machine {name}",
          file=sys.stderr)
    return 0


def cmd_asv_curves(args: argparse.Namespace) -> int:
    for path in asv_curves(args.results, args.out):
        print(path)
    return 0


def cmd_kernels(args: argparse.Namespace) -> int:
    from bench.kernel_bench import DEFAULT_SEQ, DEFAULT_SIZES, plot_matmuls, run_kernels, write_csv
    from kernels.registry import VariantError

    try:
        sizes = [int(v) for v in _csv_list(args.sizes)] or list(DEFAULT_SIZES)
        seqs = [int(v) for v in _csv_list(args.seq)] or list(DEFAULT_SEQ)
    except ValueError as e:
        raise UsageError(f"--sizes/--seq take comma lists of integers: {e}") from None
    presets = _csv_list(args.presets)
    for p in presets:
        if p not in PRESETS:
            raise UsageError(f"unknown preset {p!r}; known presets: {', '.join(PRESETS)}")
    try:
        rows = run_kernels(sizes, seqs, _csv_list(args.matmul) or None,
                           _csv_list(args.attention) or None, budget_s=args.budget,
                           adapter=args.adapter, vendor_gflops=args.vendor_gflops,
                           progress=lambda line: print(line, file=sys.stderr),
                           presets=presets, vendor=not args.no_vendor,
                           tune="retune" if args.retune else None)
    except VariantError as e:
        raise UsageError(str(e)) from None
    path = write_csv(rows, args.out)
    plot_matmuls(rows, args.out, path.stem + "-matmul")
    print(path)
    return 0
