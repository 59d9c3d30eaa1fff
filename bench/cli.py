"""``python -m bench devices|sweep|plot|report|compare|...``: the command line of the harness.

Every user mistake (unknown preset/backend/variant, malformed spec, unwritable --out,
--require-gpu without a hardware adapter, a missing or malformed results file, a run id that is
not a plain name) ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from backends import BACKENDS
from backends.base import BackendError
from bench.asv_tools import AsvError, asv_curves, asv_machine
from bench.model import PRESETS, ConfigError
from bench.sweep import ALIASES

QUICK_BUDGET_S = 0.6
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


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
        dest="command", parser_class=Parser,
        metavar="{devices,sweep,plot,report,compare,asv-machine,asv-curves,kernels}",
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
    s.add_argument("--rounds", type=int, default=None,
                   help="rounds per point, separated in time, sharing its budget (default 2; "
                   "more average more of the host's drift into each median)")
    s.add_argument("--out", default="results", help="results root (default results/)")
    s.add_argument("--quick", action="store_true",
                   help="a few small presets on the CPU backends and the GPU at micro/tiny; "
                   "under 5 minutes on a laptop")
    s.add_argument("--require-gpu", action="store_true",
                   help="fail (exit 2) unless a hardware GPU adapter is used")
    s.add_argument("--resume", metavar="RUN", help="continue RUN (a run id or its .csv path) "
                   "with its own sweep; only --budget, --out and --no-plots combine with it")
    s.add_argument("--run-id", help="name the run: letters, digits, '.', '_', '-' "
                   "(default: a timestamp)")
    s.add_argument("--no-plots", action="store_true", help="skip the plots")

    pl = sub.add_parser("plot", help="draw the plots of a run (PNG and SVG)")
    pl.add_argument("run", metavar="RUN", help="a run's .csv path, or its run id")
    pl.add_argument("--out", help="directory for the plots (default: next to RUN.csv)")
    pl.add_argument("--results", default="results", help="where run ids are looked up "
                    "(default results/)")

    r = sub.add_parser("report", help="print a markdown report of a run")
    r.add_argument("run", metavar="RUN", help="a run's .csv path, or its run id")
    r.add_argument("--results", default="results", help="where run ids are looked up "
                   "(default results/)")

    c = sub.add_parser("compare", help="the same series from runs on different machines or "
                       "commits side by side: table, ratios and overlaid curves",
                       description="Compare runs point by point: step time with both 95%% "
                       "intervals, the ratio with its interval (first run's time / other's: >1, "
                       "the other run is faster), "
                       "curves overlaid with the machine in the legend; a markdown table on "
                       "stdout.")
    c.add_argument("runs", nargs="+", metavar="RUN", help="two or more runs (.csv paths or run "
                   "ids); the first is the baseline of the ratios")
    c.add_argument("--out", help="directory for the plots (default: no plots)")
    c.add_argument("--results", default="results", help="where run ids are looked up "
                   "(default results/)")

    sub.add_parser("asv-machine", help="register this host + GPU adapter as an asv machine "
                   "(asv's machine.json has no GPU field) and print its name")
    ac = sub.add_parser("asv-curves", help="draw step time and speedup vs d_model from asv results")
    ac.add_argument("results", nargs="?", default="results/asv", help="asv results_dir")
    ac.add_argument("--out", help="directory for the plots (default: results/asv-curves)")
    ac.add_argument("--machines", help="comma list of machine names to draw (default: all)")
    ac.add_argument("--commits", help="comma list of commit hash prefixes to draw (default: "
                    "each machine's newest)")
    k = sub.add_parser("kernels", help="kernel micro-benchmarks (matmul GFLOP/s, attention time, "
                       "FMA and copy peaks) into DIR/kernels-<time>.csv")
    k.add_argument("--sizes", help="comma list of square matmul sizes (default 1024,2048,4096)")
    k.add_argument("--seq", help="comma list of attention seq_len (default 128,...,2048)")
    k.add_argument("--matmul", help="comma list of matmul variants (default all)")
    k.add_argument("--attention", help="comma list of attention variants (default all)")
    k.add_argument("--attention-shapes", help="comma list of attention shapes BxHxTxHD or preset "
                   "names (that preset's attention), e.g. mega,behemoth,4x8x1024x64 (replaces "
                   "--seq); SDPA is timed beside each when torch sees CUDA")
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
    ensure_runtime_dir()
    try:
        return {"devices": cmd_devices, "sweep": cmd_sweep, "plot": cmd_plot,
                "report": cmd_report, "compare": cmd_compare, "asv-machine": cmd_asv_machine,
                "asv-curves": cmd_asv_curves, "kernels": cmd_kernels}[args.command](args)
    except (UsageError, ConfigError, BackendError, AsvError) as e:
        print(f"python -m bench {args.command}: error: {_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m bench report RUN | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0


def ensure_runtime_dir() -> None:
    """Give the Vulkan loader an ``XDG_RUNTIME_DIR`` when the session has none (a container, ssh
    without a login session, a cron job): without one, Mesa's window-system code prints
    "XDG_RUNTIME_DIR is invalid or not set" on every adapter enumeration. A private folder
    of our own under the temp dir, as a login session's would be (mode 0700)."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current):
        return
    path = Path(tempfile.gettempdir()) / f"gpt-curves-runtime-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return  # the loader's warning is noise, not an error: never fail a command over it
    os.environ["XDG_RUNTIME_DIR"] = str(path)


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
def build_sweep(args: argparse.Namespace) -> Any:
    """The command line's sweep options, split and parsed, declared through ``bench.declare``
    (which checks names and fills in the defaults)."""
    from bench.sweep import declare, parse_assignments

    backends, presets = _csv_list(args.backends), _csv_list(args.presets)
    matmul, attention = _csv_list(args.matmul), _csv_list(args.attention)
    for flag, values in (("--backends", backends), ("--presets", presets), ("--matmul", matmul),
                         ("--attention", attention), ("--threads", _csv_list(args.threads))):
        _no_repeats(flag, values)
    axes: dict[str, list[int]] = {}
    for spec in args.sweep:
        for k, v in parse_assignments(spec, "sweep").items():
            if k in axes:
                raise UsageError(f"axis {k} given twice in --sweep")
            axes[k] = v
    fix = {k: v[0] for k, v in parse_assignments(args.fix, "fix").items()} if args.fix else {}
    threads = []
    for t in _csv_list(args.threads):
        if not t.isdigit() or int(t) <= 0:
            raise UsageError(f"--threads needs positive integers, got {t!r}")
        threads.append(int(t))
    return declare(backends, presets, axes, fix, matmul, attention, threads, quick=args.quick)


def _no_repeats(flag: str, values: list[str]) -> None:
    """A value named twice would measure the same series twice under one key (and then resume
    and the speedup pairs could not tell the rows apart): refuse it."""
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise UsageError(f"{flag} names {v!r} twice")
        seen.add(v)


def _check_run_id(run_id: str, flag: str) -> str:
    """A run id names files inside one machine folder: a plain name, never a path."""
    if not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise UsageError(f"{flag} {run_id!r} is not a plain run name (letters, digits, '.', '_', "
                         "'-'; no '/' or '..'); give a path to a .csv instead where one is taken")
    return run_id


def _is_path(run: str) -> bool:
    return run.endswith(".csv") or "/" in run or os.sep in run


def _find_run(out: Path, run: str) -> Path:
    """RUN given as a .csv path (used as is) or as a run id (looked up in ``out/*/``)."""
    p = Path(run)
    if _is_path(run):
        if p.suffix != ".csv":
            raise UsageError(f"{run!r} is neither a run id nor a .csv path")
        if not p.exists():
            raise UsageError(f"no such results file: {p}")
        return p
    _check_run_id(run, "run")
    hits = sorted(out.glob(f"*/{run}.csv"))
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UsageError(f"no run {run!r} under {out}/ (give the run id or its .csv path)")
    raise UsageError(f"run {run!r} is ambiguous under {out}/: {', '.join(map(str, hits))}")


# Options that declare a sweep: a resumed run continues its own declaration, so these conflict.
SWEEP_OPTIONS = ("backends", "presets", "sweep", "fix", "matmul", "attention", "threads", "rounds",
                 "quick", "require_gpu", "run_id")


def _resume_conflicts(args: argparse.Namespace) -> None:
    given = [o for o in SWEEP_OPTIONS if getattr(args, o)]
    if given:
        flags = ", ".join("--" + o.replace("_", "-") for o in given)
        raise UsageError(f"--resume continues the run's own sweep; {flags} cannot be combined "
                         "with it (start a new run instead)")


def cmd_sweep(args: argparse.Namespace) -> int:
    from bench import api

    if args.budget is not None and not args.budget > 0:
        raise UsageError(f"--budget must be a positive number of seconds, got {args.budget}")
    budget = args.budget or (QUICK_BUDGET_S if args.quick else api.DEFAULT_BUDGET_S)
    out = Path(args.out)
    if args.resume:
        _resume_conflicts(args)
        sweep, store, budget = api.resume(_find_run(out, args.resume), args.budget)
        print(f"resuming {store.run_id}: {len(store.done)} point(s) already done",
              file=sys.stderr)
    else:
        if args.run_id is not None:
            _check_run_id(args.run_id, "--run-id")
        sweep = build_sweep(args)
        store = api.start(sweep, out, budget_s=budget, run_id=args.run_id,
                          require_gpu=args.require_gpu, stamp="-quick" if args.quick else "",
                          command=["python", "-m", "bench", *sys.argv[1:]], rounds=args.rounds)
    try:
        api.measure(sweep, store, budget)
    except KeyboardInterrupt:
        again = f" --out {out}" if args.out != "results" else ""
        print(f"\ninterrupted; finished rows are saved in {store.csv_path} (continue with: "
              f"python -m bench sweep --resume {store.run_id}{again})", file=sys.stderr)
        return 130
    finish(store, plots=not args.no_plots)
    return 0


def finish(store: Any, plots: bool = True) -> None:
    """``bench.api.finish`` (fits, plots), then where the files are and the report on stdout."""
    from bench import api

    run = api.finish(store, plots=plots)
    if plots:
        print(f"wrote {store.csv_path} and {len(run.plot_files)} plot file(s) in "
              f"{run.plot_dir}", file=sys.stderr)
    else:
        print(f"wrote {store.csv_path} (plots: python -m bench plot {store.run_id})",
              file=sys.stderr)
    print(run.report())


# ------------------------------------------------------------------------- plot / report
def _load(run: str, results: str = "results") -> Any:
    """A run by path or id, refused when it holds no rows; rows cut mid-way (an interrupted
    write) are left out with one line saying so."""
    from bench.analysis import Run
    from bench.results import ResultsError, load_rows

    path = _find_run(Path(results), run)
    torn: list[int] = []
    try:
        rows = load_rows(path, torn)
        if not rows:
            raise UsageError(f"{path} holds no rows (only a header{', and torn lines' * bool(torn)}"
                             "): nothing to show")
        loaded = Run.load(path)
    except ResultsError as e:
        raise UsageError(str(e)) from None
    if torn:
        lines = ", ".join(map(str, torn[:5])) + (" ..." if len(torn) > 5 else "")
        print(f"warning: {path}: left out {len(torn)} incomplete row(s) (line {lines}): "
              "cut mid-way, as an interrupted write leaves them", file=sys.stderr)
    return loaded


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.plots import plot_run

    run = _load(args.run, args.results)
    out = Path(args.out) if args.out else run.path.with_name(run.path.stem + "-plots")
    try:
        files = plot_run(run, out)
    except OSError as e:
        raise UsageError(f"--out {out} is not writable ({e.strerror or e})") from None
    for f in files:
        print(f)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import report

    print(report(_load(args.run, args.results)))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import CompareError, compare_runs

    if len(args.runs) < 2:
        raise UsageError("compare needs two or more runs")
    runs = [_load(r, args.results) for r in args.runs]
    try:
        text, files = compare_runs(runs, Path(args.out) if args.out else None)
    except CompareError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"--out {args.out} is not writable ({e.strerror or e})") from None
    print(text)
    for f in files:
        print(f"wrote {f}", file=sys.stderr)
    return 0


def cmd_asv_machine(args: argparse.Namespace) -> int:
    name, info = asv_machine()
    print(name)
    print(f"registered asv machine {name!r} ({info['cpu']}); run: asv run --machine {name}",
          file=sys.stderr)
    return 0


def cmd_asv_curves(args: argparse.Namespace) -> int:
    for path in asv_curves(args.results, args.out, machines=_csv_list(args.machines) or None,
                           commits=_csv_list(args.commits) or None):
        print(path)
    return 0


def cmd_kernels(args: argparse.Namespace) -> int:
    from bench.kernel_bench import (
        DEFAULT_SEQ,
        DEFAULT_SIZES,
        attention_shape,
        attention_table,
        plot_attention,
        plot_matmuls,
        run_kernels,
        write_csv,
    )
    from kernels.registry import VariantError

    try:
        sizes = [int(v) for v in _csv_list(args.sizes)] or list(DEFAULT_SIZES)
        seqs = [int(v) for v in _csv_list(args.seq)] or list(DEFAULT_SEQ)
    except ValueError as e:
        raise UsageError(f"--sizes/--seq take comma lists of integers: {e}") from None
    if min(sizes + seqs) <= 0:
        raise UsageError(f"--sizes/--seq take positive integers, got {min(sizes + seqs)}")
    if not args.budget > 0:
        raise UsageError(f"--budget must be positive, got {args.budget:g}")
    presets = _csv_list(args.presets)
    for p in presets:
        if p not in PRESETS:
            raise UsageError(f"unknown preset {p!r}; known presets: {', '.join(PRESETS)}")
    try:
        shapes = [attention_shape(v) for v in _csv_list(args.attention_shapes)] or None
    except ValueError as e:
        raise UsageError(f"--attention-shapes: {e}") from None
    try:
        rows = run_kernels(sizes, seqs, _csv_list(args.matmul) or None,
                           _csv_list(args.attention) or None, budget_s=args.budget,
                           adapter=args.adapter, vendor_gflops=args.vendor_gflops,
                           progress=lambda line: print(line, file=sys.stderr),
                           attention_shapes=shapes, presets=presets, vendor=not args.no_vendor,
                           tune="retune" if args.retune else None)
    except VariantError as e:
        raise UsageError(str(e)) from None
    path = write_csv(rows, args.out)
    if any(r.get("kind") == "attention" for r in rows):
        print(attention_table(rows))
        for p in plot_attention(rows, args.out):
            print(p)
    plot_matmuls(rows, args.out, path.stem + "-matmul")
    print(path)
    return 0
