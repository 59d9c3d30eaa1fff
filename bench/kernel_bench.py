"""Kernel micro-benchmarks: matmul GFLOP/s vs size per variant and form, attention forward+backward
time vs seq_len per variant, and the device's own peaks (an FMA-throughput probe in GFLOP/s, a
copy-bandwidth probe in GB/s) so each kernel is also reported as a share of the measured peak (and
of a vendor library's figure when one is given).

Timing is ``bench.timing.time_fn`` around ``Case.run`` of ``backends.gpu.microbench``: one call =
one command buffer of ``repeats`` repetitions run back to back in one compute pass. With timestamp
queries the row's seconds are that pass's device time per repetition (the wall median per
repetition is kept beside it), as cuBLAS's are CUDA-event time around back-to-back calls; without,
the wall time of submit + wait divided by ``repeats``. ``profile_s`` is the same batch with a timed
pass per dispatch (``Case.profile``), the sum per repetition: it also counts each pass's own
beginning and end, so it reads above ``seconds``; the split by kernel comes from it.

Attention rows are (B, H, T, head_dim) shapes: ``ATTENTION_SHAPE`` along ``seqs`` by default, or
any list (``attention_shape`` reads "BxHxTxHD" or a preset name: that preset's attention). Each
row carries its time split by kernel (forward, dQ, dK/dV, from timestamps) and, when torch with
CUDA is importable, PyTorch SDPA's time for the same shape in the same run
(``bench.vendor``) and ours / SDPA.

Parity gate: each variant is checked against NumPy on random awkward shapes on this adapter in
this run first; a variant that fails gets one row with ``status = failed: ...`` and is never timed.
A shape a variant refuses (naive attention beyond its seq_len) gets ``status = unsupported: ...``.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from backends.base import BackendError
from bench.environment import cpu_model, git_commit
from bench.model import PRESETS
from bench.timing import Measurement, summarize, time_fn
from kernels import registry

DEFAULT_SIZES = (1024, 2048, 4096)
DEFAULT_SEQ = (128, 256, 512, 1024, 2048)
FORMS = ("nn", "nt", "tn")
ATTENTION_SHAPE = {"B": 4, "H": 8, "hd": 64}  # d_model 512; T varies
TARGET_WORK = 2e10  # FLOPs per command buffer to aim for (a few ms on a big GPU)

FIELDS = (
    "kind", "variant", "ran", "preset", "form", "M", "N", "K", "B", "H", "T", "hd", "status",
    "timing", "repeats", "seconds", "ci_low_s", "ci_high_s", "samples", "wall_s", "profile_s",
    "gflops", "gbps",
    "share_of_peak", "vendor_gflops", "share_of_vendor", "fwd_s", "dq_s", "dkv_s", "vendor_s",
    "vendor_fwd_s", "vs_vendor", "vendor", "constants", "adapter", "adapter_type", "backend",
    "driver", "software", "wgpu_version", "cpu", "git_commit",
)


def attention_shape(text: str) -> tuple[int, int, int, int]:
    """(B, H, T, head_dim) from "BxHxTxHD" or a preset name (that preset's attention)."""
    if text in PRESETS:
        c = PRESETS[text]
        return (c.batch, c.n_head, c.seq_len, c.head_dim)
    parts = text.lower().split("x")
    if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"attention shape {text!r}: expected BxHxTxHD (e.g. 8x16x512x32) or a "
                         f"preset name ({', '.join(PRESETS)})")
    B, H, T, hd = (int(p) for p in parts)
    return (B, H, T, hd)


def step_matmuls(config) -> list[tuple[str, int, int, int]]:
    """The distinct matmul calls (form, M, N, K) of one training step of ``config``, in the
    order the GPU step records them (forward nn, unembedding nt, then backward nn/tn/nt)."""
    N, C, V = config.tokens, config.d_model, config.vocab
    calls = [("nn", N, 3 * C, C), ("nn", N, C, C), ("nn", N, 4 * C, C), ("nn", N, C, 4 * C),
             ("nt", N, V, C), ("nn", N, C, V), ("tn", V, C, N),
             ("tn", 4 * C, C, N), ("nt", N, 4 * C, C), ("tn", C, 4 * C, N), ("nt", N, C, 4 * C),
             ("tn", C, C, N), ("nt", N, C, C), ("tn", C, 3 * C, N), ("nt", N, C, 3 * C)]
    return list(dict.fromkeys(calls))


def time_case(case, budget_s: float, settle: Callable[[], Any] | None = None
              ) -> tuple[Measurement, str, float]:
    """(per-repetition measurement, "timestamps" | "wall", wall median per repetition);
    ``settle`` (``microbench.settle``) brings the GPU to its clocks after the first run."""
    device: list[float | None] = []
    m = time_fn(lambda: device.append(case.run()), budget_s, settle=settle)
    wall = m.median_s / case.repeats
    if device and device[-1] is not None:
        return summarize(device[-m.n:]), "timestamps", wall
    return summarize([s / case.repeats for s in m.samples]), "wall", wall


def _repeats(flops: float, cap: int = 50) -> int:
    return max(2, min(cap, int(TARGET_WORK / max(flops, 1.0))))


def run_kernels(
    sizes: Sequence[int] = DEFAULT_SIZES,
    seqs: Sequence[int] = DEFAULT_SEQ,
    matmuls: Sequence[str] | None = None,
    attentions: Sequence[str] | None = None,
    forms: Sequence[str] = FORMS,
    budget_s: float = 1.0,
    adapter: str | None = None,
    vendor_gflops: float | None = None,
    progress: Callable[[str], None] = lambda line: None,
    attention_shapes: Sequence[tuple[int, int, int, int]] | None = None,
    attention_constants: dict[str, dict[str, int]] | None = None,
    presets: Sequence[str] = (),
    vendor: bool = True,
    tune: str | None = None,
) -> list[dict[str, Any]]:
    """All rows of one micro-benchmark run (peaks first, then matmul, then attention).

    Matmuls run at the square ``sizes`` in each of ``forms`` and at every matmul of the steps of
    ``presets`` (its own form); ``auto`` runs as the autotuner decides (``tune`` mode).
    Attention runs at ``attention_shapes``, (B, H, T, head_dim) per row (default:
    ``ATTENTION_SHAPE`` at ``seqs``); ``attention_constants`` adds rows of a variant with override
    constants, by a label ("fa2:G=2" -> {"G": 2}). With ``vendor`` and torch with CUDA
    importable, the vendor library is timed at each shape in the same run (cuBLAS:
    ``bench.vendor.matmul_seconds``, SDPA: ``bench.vendor.sdpa_seconds``) and each row carries
    ours / vendor; else the fixed ``vendor_gflops`` is the matmul reference.
    """
    from backends.gpu.microbench import MicroBench, settle  # wgpu only when asked for

    matmuls = list(matmuls) if matmuls is not None else sorted(registry.MATMULS)
    attentions = list(attentions) if attentions is not None else sorted(registry.ATTENTIONS)
    for name in matmuls:
        registry.matmul_variant(name)  # unknown names fail before anything runs
    for name in attentions:
        registry.attention_variant(name)
    mb = MicroBench(adapter)
    env = mb.describe()
    base = {k: env.get(k) for k in ("adapter", "adapter_type", "backend", "driver", "software",
                                    "wgpu_version")}
    base.update(cpu=cpu_model(), git_commit=git_commit())
    rows: list[dict[str, Any]] = []
    peak: dict[str, float] = {}  # the FMA probe's GFLOP/s, once measured

    def timed(case, row: dict[str, Any]) -> dict[str, Any]:
        try:
            m, how, wall = time_case(case, budget_s, lambda: settle(adapter))
            if how == "timestamps":
                row["profile_s"] = case.profile()
        finally:
            case.close()
        row.update(_split(case))
        row.update(status="ok", timing=how, repeats=case.repeats, seconds=m.median_s,
                   ci_low_s=m.ci_low_s, ci_high_s=m.ci_high_s, samples=m.n, wall_s=wall,
                   ran=case.info.get("ran", row.get("variant")))
        if case.flops:
            row["gflops"] = case.flops / m.median_s / 1e9
        if case.bytes and row["kind"] in ("peak_copy",):
            row["gbps"] = case.bytes / m.median_s / 1e9
        if row.get("gflops") and peak and row["kind"] != "peak_fma":
            row["share_of_peak"] = row["gflops"] / peak["gflops"]
            ref = row.get("vendor_gflops") or vendor_gflops  # per shape (cuBLAS), else fixed
            if ref:
                row["share_of_vendor"] = row["gflops"] / ref
        rows.append({**base, **row})
        progress(_summary(rows[-1]))
        return rows[-1]

    peak["gflops"] = timed(mb.fma_probe(), {"kind": "peak_fma", "variant": "probe_fma"})["gflops"]
    timed(mb.copy_probe(), {"kind": "peak_copy", "variant": "probe_copy"})

    shapes = [("", form, n, n, n) for form in forms for n in sizes]
    for preset in presets:
        shapes += [(preset, *call) for call in step_matmuls(PRESETS[preset])]
    cublas: dict[tuple, float | None] = {}
    for variant in matmuls:
        row_variant, tuner = _tuned(variant, adapter, tune)
        if tuner is None:
            ok, msg = mb.check_matmul(variant)
        else:  # gate what is timed: the tuner's (variant, splits) at each shape
            ok, msg = True, ""
            for _, form, M, N, K in shapes:
                ran, splits = tuner.choose(form, M, N, K)
                ok, msg = tuner.gate(ran, splits)
                if not ok:
                    msg = f"{ran} at {form} {M}x{N}x{K}: {msg}"
                    break
        if not ok:
            rows.append({**base, "kind": "matmul", "variant": variant, "status": f"failed: {msg}"})
            progress(_summary(rows[-1]))
            continue
        for preset, form, M, N, K in shapes:
            if (form, M, N, K) not in cublas:
                cublas[(form, M, N, K)] = _vendor(form, M, N, K) if vendor else None
            case = mb.matmul(row_variant, form, M, N, K, _repeats(2.0 * M * N * K))
            row = {"kind": "matmul", "variant": variant, "preset": preset, "form": form,
                   "M": M, "N": N, "K": K}
            if cublas[(form, M, N, K)]:
                row["vendor_gflops"] = cublas[(form, M, N, K)]
            timed(case, row)
    if attention_shapes is None:
        attention_shapes = [(ATTENTION_SHAPE["B"], ATTENTION_SHAPE["H"], T, ATTENTION_SHAPE["hd"])
                            for T in seqs]
    runs = [(v, v, None) for v in attentions]
    for label, consts in (attention_constants or {}).items():
        runs.append((label, label.split(":")[0], consts))
    peer = {}
    if vendor and attentions:
        from bench.vendor import sdpa_seconds

        peer = {s: sdpa_seconds(*s) for s in attention_shapes}
    for label, variant, consts in runs:
        ok, msg = mb.check_attention(variant, constants=consts)
        if not ok:
            rows.append({**base, "kind": "attention", "variant": label,
                         "status": f"failed: {msg}"})
            progress(_summary(rows[-1]))
            continue
        for B, H, T, hd in attention_shapes:
            row = {"kind": "attention", "variant": label, "B": B, "H": H, "T": T, "hd": hd,
                   "constants": consts or ""}
            try:
                case = mb.attention(variant, B=B, H=H, T=T, hd=hd, repeats=2, constants=consts)
            except BackendError as e:
                rows.append({**base, **row, "status": f"unsupported: {e}"})
                progress(_summary(rows[-1]))
                continue
            out = timed(case, row)
            sdpa = peer.get((B, H, T, hd))
            if sdpa:
                out.update(vendor_s=sdpa["seconds"], vendor_fwd_s=sdpa["fwd_s"],
                           vs_vendor=out["seconds"] / sdpa["seconds"], vendor=sdpa["vendor"])
    return rows


def _split(case) -> dict[str, float]:
    """An attention case's seconds per repetition by kernel: forward, dQ, dK/dV."""
    kernels = case.info.get("kernels")
    if not kernels or not case.split:
        return {}
    return {f: case.split.get(k, 0.0) for f, k in zip(("fwd_s", "dq_s", "dkv_s"), kernels,
                                                      strict=False)}


def attention_table(rows: list[dict[str, Any]]) -> str:
    """The attention rows as a markdown table: ours, split by kernel, SDPA, ratio, % of peak."""
    def ms(v: Any) -> str:
        return f"{1e3 * v:.3f}" if isinstance(v, float) else "-"

    lines = ["| variant | B, H, T, hd | ms | fwd | dQ | dK/dV | SDPA ms | ours / SDPA | "
             "% FMA peak |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    if any(r.get("software") for r in rows if r.get("kind") == "attention"):
        lines.insert(0, "software adapter: these times are not GPU numbers")
    for r in rows:
        if r.get("kind") != "attention":
            continue
        shape = ", ".join(str(r.get(k, "")) for k in ("B", "H", "T", "hd"))
        if r.get("status") != "ok":
            lines.append(f"| {r['variant']} | {shape} | {r.get('status')} | | | | | | |")
            continue
        ratio = f"{r['vs_vendor']:.2f}" if r.get("vs_vendor") else "-"
        share = f"{100 * r['share_of_peak']:.1f}" if r.get("share_of_peak") else "-"
        lines.append(f"| {r['variant']} | {shape} | {ms(r['seconds'])} | {ms(r.get('fwd_s'))} | "
                     f"{ms(r.get('dq_s'))} | {ms(r.get('dkv_s'))} | {ms(r.get('vendor_s'))} | "
                     f"{ratio} | {share} |")
    return "\n".join(lines)


def plot_attention(rows: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Bars of forward + backward time per attention shape: each variant and SDPA, each bar of
    ours labelled with ours / SDPA; nothing when there are no timed attention rows."""
    ok = [r for r in rows if r.get("kind") == "attention" and r.get("status") == "ok"]
    if not ok:
        return []
    from bench.plots import plt, save_figure

    shapes = list(dict.fromkeys((r["B"], r["H"], r["T"], r["hd"]) for r in ok))
    names = list(dict.fromkeys(r["variant"] for r in ok))
    vendor = {(r["B"], r["H"], r["T"], r["hd"]): r["vendor_s"] for r in ok if r.get("vendor_s")}
    bars = names + (["SDPA"] if vendor else [])
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(shapes)), 4.5))
    for b, name in enumerate(bars):
        for x, shape in enumerate(shapes):
            hit = [r for r in ok if r["variant"] == name
                   and (r["B"], r["H"], r["T"], r["hd"]) == shape]
            secs = vendor.get(shape) if name == "SDPA" else (hit[0]["seconds"] if hit else None)
            if secs is None:
                continue
            ax.bar(x + (b - (len(bars) - 1) / 2) * width, 1e3 * secs, width,
                   color=f"C{b}", label=name if x == 0 else None)
            if hit and hit[0].get("vs_vendor"):
                ax.annotate(f"{hit[0]['vs_vendor']:.2f}x", (x + (b - (len(bars) - 1) / 2) * width,
                            1e3 * secs), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(shapes)), [f"B{B} H{H}\nT{T} hd{hd}" for B, H, T, hd in shapes])
    ax.set_yscale("log")
    ax.set_ylabel("forward + backward, ms")
    soft = " (software adapter: not GPU numbers)" if ok[0].get("software") else ""
    ax.set_title(f"Attention on {ok[0].get('adapter')}{soft}\nbar labels: ours / SDPA", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return save_figure(fig, Path(out_dir), f"attention-{stamp}")


def _tuned(variant: str, adapter: str | None, tune: str | None):
    """``auto`` with the autotuner's choice on this device, and its tuner; any other variant as
    named, with None."""
    v = registry.matmul_variant(variant)
    if v.choose is None:
        return variant, None
    from dataclasses import replace

    from backends.gpu.autotune import MatmulTuner

    tuner = MatmulTuner(adapter, tune)
    return replace(v, choose=tuner.choose), tuner


def _vendor(form: str, M: int, N: int, K: int) -> float | None:
    """cuBLAS GFLOP/s at this shape, or None without torch and CUDA."""
    from bench import vendor

    seconds = vendor.matmul_seconds(form, M, N, K)
    return 2.0 * M * N * K / seconds / 1e9 if seconds else None


def _summary(row: dict[str, Any]) -> str:
    what = " ".join(str(row[k]) for k in ("kind", "variant", "form") if row.get(k))
    if row.get("M"):
        what += f" {row['M']}x{row['N']}x{row['K']}"
    if row.get("T"):
        what += f" B,H,T,hd={row['B']},{row['H']},{row['T']},{row['hd']}"
    if row.get("status") != "ok":
        return f"{what}: {row.get('status')}"
    rate = (f"{row['gflops']:.4g} GFLOP/s" if row.get("gflops") else "") + (
        f" {row['gbps']:.4g} GB/s" if row.get("gbps") else "")
    share = f" ({100 * row['share_of_peak']:.0f}% of FMA peak)" if row.get("share_of_peak") else ""
    if row.get("share_of_vendor"):
        share += f" ({row['share_of_vendor']:.2f} of cuBLAS)" if row.get("vendor_gflops") else (
            f" ({row['share_of_vendor']:.2f} of the vendor figure)")
    peer = f" = {row['vs_vendor']:.2f}x SDPA" if row.get("vs_vendor") else ""
    return f"{what}: {1e3 * row['seconds']:.3f} ms{peer} {rate}{share} [{row['timing']}]"


def write_csv(rows: list[dict[str, Any]], out_dir: str | Path) -> Path:
    """``out_dir/kernels-<UTC time>.csv`` with one row per measurement (or failure)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"kernels-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def plot_matmuls(rows: list[dict[str, Any]], out_dir: str | Path, name: str) -> list[Path]:
    """One bar group per matmul shape, one bar per variant: ours / vendor (cuBLAS) where the row
    has it, else the share of the measured FMA peak; a software adapter is named in the title."""
    from bench.plots import plt, save_figure

    mm = [r for r in rows if r.get("kind") == "matmul" and r.get("status") == "ok"]
    if not mm:
        return []
    vendor = any(r.get("share_of_vendor") for r in mm)
    key = "share_of_vendor" if vendor else "share_of_peak"
    shapes = list(dict.fromkeys(
        f"{r.get('preset') or 'square'} {r['form']} {r['M']}x{r['N']}x{r['K']}" for r in mm))
    variants = list(dict.fromkeys(r["variant"] for r in mm))
    fig, ax = plt.subplots(figsize=(max(8, 0.5 * len(shapes) * len(variants) ** 0.5), 5))
    width = 0.8 / len(variants)
    for j, v in enumerate(variants):
        vals = {f"{r.get('preset') or 'square'} {r['form']} {r['M']}x{r['N']}x{r['K']}":
                r.get(key) or 0.0 for r in mm if r["variant"] == v}
        ax.bar([i + j * width for i in range(len(shapes))], [vals.get(s, 0.0) for s in shapes],
               width, label=v)
    if vendor:
        ax.axhline(0.8, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(shapes))], shapes, rotation=70,
                  ha="right", fontsize=7)
    ax.set_ylabel("ours / cuBLAS" if vendor else "share of the measured FMA peak")
    soft = " (SOFTWARE ADAPTER: not GPU numbers)" if mm[0].get("software") else ""
    ax.set_title(f"matmul on {mm[0].get('adapter')}{soft}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, Path(out_dir), name)
