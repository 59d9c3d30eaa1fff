"""``auto`` by measurement: for each (form, M, N, K) of a step, time every candidate on this device.

Candidates are the registry's ``tune`` variants (the via-tn rows included: the transposes are
dispatches of the timed command buffer, so they are paid for), each at the split-K factors worth
trying for the shape (``matmul_rules.split_candidates``), that passed the parity gate on this
adapter (every form on awkward shapes, NaN-poisoned outputs, and each split factor timed on a
long-K shape). Each is timed with GPU timestamps (one command buffer of a few repetitions, after
a first run that touches the buffers, and after a settle of the GPU wherever building the case
and that run idled it: pipelines compiled on a cold driver cache, large uploads); a candidate
whose first call is over twice the best so far is dropped there. The few fastest, and each row's
fastest candidate within twice the best, then race:
their command buffers run interleaved, round after round, and the lowest median over the rounds
is kept, so a clock dip or a stall during one candidate's turn cannot decide the plan (timed one
after the other, candidates within a few percent of each other swapped places from one process
to the next). Plans are cached on disk in one JSON file, under a key made of the adapter, its
backend type, driver, wgpu version and a digest of the matmul kernels' sources and constants, the
split factors and the race's parameters, so a second process starts at once and a changed kernel,
driver or tuning method re-tunes by itself. Where the device has no timestamp queries, or is a
software adapter, or tuning is off, ``auto`` keeps the rule of ``kernels.matmul_rules``. A plan
from the cache runs only once its (variant, splits) passed this process's gate. Plans and gate
results are kept per process (the harness builds a backend per measuring round, and pooled rounds
must run one kernel), so ``retune`` measures again once per process.

Modes (``GpuBackend(tune=...)`` or ``$GPT_CURVES_TUNE``): ``auto`` (measure on a hardware adapter
with timestamps, else the rule), ``on`` (measure wherever timestamps exist, software included),
``retune`` (measure again, ignoring the cache), ``off`` (the rule). The cache file is
``$GPT_CURVES_TUNE_CACHE`` or ``~/.cache/gpt-curves/matmul-plans.json``.

Stream-K rows (``MatmulVariant.stream_k``) are timed at G = W and 2W workgroups, where W is how
many of the row's workgroups this device runs at once: WebGPU does not report a multiprocessor
count, so the tuner measures W once per row and process (``waves``: the row's partial kernel on
grids of G one-tile workgroups, where the time steps up once G passes W). A stream-K plan's
``splits`` is its G.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from math import isqrt
from pathlib import Path
from typing import Any

import numpy as np

from backends.base import BackendError
from kernels import matmul_plan, matmul_rules, registry, wgsl

ENV_MODE = "GPT_CURVES_TUNE"
ENV_CACHE = "GPT_CURVES_TUNE_CACHE"
MODES = ("auto", "on", "retune", "off")
TARGET_SECONDS = 2e-3  # device time per timed command buffer to aim for
# Candidates that race (interleaved rounds) after the first timing. A first timing is one
# command buffer right after the candidate's pipelines were built, and can read 20% slow; with
# 15+ candidates per shape a cut at 4 left out of a race the candidate that won it in another
# process on the H200.
# Racing costs only device time (the pipelines exist by then).
FINALISTS = 8
FINAL_MARGIN = 1.3  # ... when within this factor of the fastest first timing
# ... and, beside them, each row's fastest candidate within this factor: one disturbed first
# timing must not cut a whole row (on the H200 a fresh machine's first timings of nt 4096x256x768
# read slow for every candidate but one, which cut b64v4, another machine's pick, from the race
# and left a slower pick: results/h200/s8/README.md)
ROW_MARGIN = 2.0
RACE_ROUNDS = 7
# How a candidate is timed (part of the cache key's digest, so plans timed otherwise are retuned):
# "one-pass" = Case.run, a command buffer of back-to-back dispatches in one timed pass. Until
# session 10 each dispatch had a timed pass of its own, whose own start and end add to every
# dispatch (results/h200/s10/README.md) and so held split-K and via-tn candidates (2-4 dispatches
# per call) back against one-dispatch rows.
TIMING = "one-pass"
# Building a candidate's case (its pipelines are compiled there, on a cold driver cache for
# hundreds of ms) and its first run taking longer than this left the GPU idle: it is settled again
# before the timed runs, or the candidate reads at a dropped clock and is cut from the shortlist
# (on the H200 the first tuning process on a fresh machine lost tn 256x512x4096's fastest
# candidate so, twice: 0.60 of cuBLAS where a later process's pick reads 0.70)
IDLE_S = 0.05
# The wave probe of a stream-K row: G workgroups of one BM x BN tile and WAVE_K / BK k-tiles each
# (a grid of G tiles, no tile shared), timed at G = 1, 2, 4, ... then bisected; W is the largest G
# whose partial kernel takes at most WAVE_STEP times G = 1's (past W a second wave doubles it).
# On the H200 a G a little over W ran at little more than half the speed of G = W, and G = 2W
# was close behind W (results/h200/s13/README.md), so the candidates are SK_WAVES x W.
WAVE_K = 256
WAVE_MAX = 1024  # W is at most this (a prime G's grid, 1 x G tiles, fits 128 MiB bindings)
WAVE_STEP = 1.5  # the time ratio past which a second wave started
WAVE_REPS = 3
SK_WAVES = (1, 2)

# One process decides once, whatever the number of tuners: plans by (cache file, device key), gate
# results by device key then (variant, splits or None for the variant's own), keys retuned.
_PLANS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
_GATES: dict[str, dict[tuple[str, int | None], tuple[bool, str]]] = {}
_RETUNED: set[tuple[str, str]] = set()
_WAVES: dict[str, dict[str, int | None]] = {}  # device key -> stream-K row -> W (None: no probe)


def cache_path() -> Path:
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gpt-curves" / "matmul-plans.json"


def kernel_digest() -> str:
    """A digest of every matmul kernel's assembled WGSL, the candidates' rows and how the tuner
    chooses among them."""
    h = hashlib.sha256()
    names = sorted({v.kernel for v in registry.MATMULS.values() if v.kernel})
    for name in [*names, matmul_rules.SPLITK_REDUCE, matmul_rules.SPLITK_REDUCE_V4,
                 matmul_rules.TRANSPOSE]:
        h.update(wgsl.source(name).encode())
        h.update(f"{sorted(registry.kernel(name).constants.items())}".encode())
    for v in sorted(registry.MATMULS.values(), key=lambda v: v.name):
        if v.tune:
            h.update(f"{v.name}{sorted(v.constants.items())}{v.split}{v.via_tn}{v.stream_k}"
                     f"{sorted((f, sorted(c.items())) for f, c in v.form_constants.items())}"
                     .encode())
    # how candidates are chosen: a plan another method picked is measured again
    h.update(f"{matmul_rules.SPLIT_FACTORS}{matmul_rules.SPLIT_MIN_KTILES}"
             f"{matmul_rules.SPLIT_MAX_GROUPS}{matmul_rules.SPLIT_MAX_SCRATCH}{FINALISTS}"
             f"{FINAL_MARGIN}{ROW_MARGIN}{RACE_ROUNDS}{TIMING}"
             f"{WAVE_K}{WAVE_MAX}{WAVE_STEP}{WAVE_REPS}{SK_WAVES}".encode())
    return h.hexdigest()[:16]


def device_key(info: dict[str, Any]) -> str:
    """adapter | backend | driver | wgpu version | kernel digest: a plan is valid for exactly
    this (one adapter reached through Vulkan or D3D12 runs different compiled kernels)."""
    return " | ".join([str(info.get("adapter")), str(info.get("backend")),
                       str(info.get("driver")), str(info.get("wgpu_version")), kernel_digest()])


def _valid_plan(plan: Any) -> bool:
    """A cached plan names a concrete registry row and a split factor that row can run; a
    stream-K row must be one ``auto`` times, and its factor is its G (1 .. MAX_GROUPS)."""
    if not isinstance(plan, dict):
        return False
    v = registry.MATMULS.get(plan.get("variant")) if isinstance(plan.get("variant"), str) else None
    s = plan.get("splits")
    if v is None or v.choose is not None or not v.kernel:
        return False
    if not isinstance(s, int) or isinstance(s, bool) or s < 1:
        return False
    if v.stream_k:
        return v.tune and s <= registry.MAX_GROUPS
    return s == 1 or (v.split and s in matmul_rules.SPLIT_FACTORS)


def _repeats(once: float) -> int:
    """Calls per timed command buffer: about ``TARGET_SECONDS`` of device time, 1..20."""
    return max(1, min(20, int(TARGET_SECONDS / max(once, 1e-6))))


def candidate_label(variant: str, splits: int) -> str:
    """A candidate's name in the plan cache's timings: ``row``, ``row splitS``, ``row skG``."""
    return matmul_plan.run_label(variant, registry.matmul_variant(variant).stream_k, splits)


def _bk(v: registry.MatmulVariant) -> int:
    """Row ``v``'s k-tile depth (BK)."""
    return {**registry.kernel(v.kernel).constants, **v.constants}.get("BK", 16)


def wave_grid(groups: int) -> tuple[int, int]:
    """(tiles down, tiles across) of the wave probe's grid of ``groups`` tiles: the most nearly
    square factorisation, so its operands stay small."""
    down = max(d for d in range(1, isqrt(groups) + 1) if groups % d == 0)
    return down, groups // down


def concurrent_groups(ratio: Callable[[int], float], most: int, step: float) -> int:
    """The largest G <= ``most`` with ratio(G) <= ``step``, found by doubling then bisecting, so
    ``ratio`` must not fall as G grows: a grid of G equal workgroups' time over one workgroup's,
    about 1 while they all run at once and a wave more past that."""
    def fits(g: int) -> bool:
        return ratio(g) <= step

    lo, g = 1, 2
    while g <= most and fits(g):
        lo, g = g, 2 * g
    hi = min(g, most + 1)  # fits(lo); hi does not fit, or is past the cap
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def race_medians(runs: dict[str, Any], rounds: int) -> dict[str, float]:
    """Median of each runner's seconds over ``rounds`` rounds; each round calls every runner
    once, starting one further along each time, so each runner takes every position in turn.
    A runner with no positive reading gets inf."""
    names = list(runs)
    got: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for i in range(len(names)):
            n = names[(r + i) % len(names)]
            t = runs[n]()
            if t is not None and t > 0:
                got[n].append(t)
    return {n: float(np.median(v)) if v else float("inf") for n, v in got.items()}


class MatmulTuner:
    """Chooses (variant, splits) per matmul call of one device, by measurement or by rule."""

    def __init__(self, adapter: str | None = None, mode: str | None = None,
                 path: Path | str | None = None) -> None:
        mode = mode or os.environ.get(ENV_MODE) or "auto"
        if mode not in MODES:
            raise BackendError(f"matmul tuning mode {mode!r} unknown; known: {', '.join(MODES)}")
        from backends.gpu.device import adapter_info, choose_adapter

        ad = choose_adapter(adapter)
        info = adapter_info(ad)
        self.adapter = adapter
        self._mb = None
        self.mode = mode
        self.path = Path(path) if path else cache_path()
        self.key = device_key(info)
        if mode == "off":
            self.why = "tuning off"
        elif "timestamp-query" not in ad.features:
            self.why = "adapter lacks timestamp-query"
        elif info["software"] and mode == "auto":
            self.why = "software adapter (its timings are not a GPU's)"
        else:
            self.why = ""
        self.measures = not self.why
        self.plans: dict[str, dict[str, Any]] = {}
        if self.measures:
            pk = (str(self.path), self.key)
            if mode == "retune" and pk not in _RETUNED:
                _RETUNED.add(pk)
                _PLANS[pk] = {}
            elif pk not in _PLANS:
                _PLANS[pk] = dict(self._load().get(self.key, {}))
            self.plans = _PLANS[pk]
        self.sources: dict[str, str] = {}  # shape -> "measured" | "cache" | "rule"
        self.tuning_s = 0.0
        self._gate = _GATES.setdefault(self.key, {})

    @property
    def mb(self):
        """The micro-benchmark device (created on the first measurement)."""
        if self._mb is None:
            from backends.gpu.microbench import MicroBench

            self._mb = MicroBench(self.adapter)
        return self._mb

    # the choice ---------------------------------------------------------------------------
    def choose(self, form: str, M: int, N: int, K: int) -> tuple[str, int | None]:
        shape = f"{form} {M}x{N}x{K}"
        if not self.measures:
            self.sources[shape] = "rule"
            return matmul_rules.auto_matmul(form, M, N, K)
        if shape in self.plans:
            p = self.plans[shape]
            if self.gate(p["variant"], p["splits"])[0]:
                self.sources.setdefault(shape, "cache")
                return p["variant"], p["splits"]
            del self.plans[shape]  # gated out here: measure again among those that pass
        t0 = time.perf_counter()
        best = self.tune(form, M, N, K)
        self.tuning_s += time.perf_counter() - t0
        self.plans[shape] = best
        self.sources[shape] = "measured"
        self._save()
        return best["variant"], best["splits"]

    def candidates(self, form: str, M: int, N: int, K: int) -> list[tuple[str, int]]:
        """(variant, splits) pairs to time: parity-passed ``tune`` variants that fit the device."""
        out: list[tuple[str, int]] = []
        seen: set[tuple] = set()
        for v in sorted(registry.MATMULS.values(), key=lambda v: v.name):
            if not v.tune or not self.gate(v.name)[0]:
                continue
            if v.stream_k:
                splits = self._stream_k_groups(v.name, form, M, N, K)
            elif v.split:
                splits = matmul_rules.split_candidates(M, N, K, *v.tile, _bk(v))
            else:
                splits = [1]
            for s in splits:
                plan = matmul_plan.plan_matmul(v.name, form, M, N, K, splits=s)
                full = {**registry.kernel(plan.kernel).constants, **plan.constants}
                same = (plan.kernel, tuple(sorted(full.items())), plan.transposes)
                if same not in seen and self.gate(v.name, s)[0]:  # same kernel: timed once
                    seen.add(same)
                    out.append((v.name, s))
        return out

    def _stream_k_groups(self, variant: str, form: str, M: int, N: int, K: int) -> list[int]:
        """A stream-K row's G candidates for one shape: SK_WAVES x W, each at most the shape's
        tile x k-tile iterations (no more workgroups than work) and with a plan that can run
        (scratch, grid)."""
        w = self.waves(variant)
        if w is None:
            return []
        v = registry.matmul_variant(variant)
        work = -(-M // v.tile[0]) * -(-N // v.tile[1]) * -(-K // _bk(v))
        out = []
        for g in (n * w for n in SK_WAVES):
            try:
                matmul_plan.plan_matmul(variant, form, M, N, K, splits=g)
            except registry.VariantError:
                continue
            if g <= work:
                out.append(g)
        return out

    def waves(self, variant: str) -> int | None:
        """W, the workgroups of stream-K row ``variant`` this device runs at once (measured once
        per process, on the tn form: nn / nt may build with another UK, taken to fit as many;
        None where the row fails its gate or its one-workgroup case cannot run)."""
        known = _WAVES.setdefault(self.key, {})
        if variant not in known:
            w = None
            if self.gate(variant)[0]:
                try:
                    one = self._wave_case(variant, 1)
                except BackendError:
                    one = None
                if one is not None:
                    try:
                        one[0].run()  # touch its buffers
                        w = concurrent_groups(lambda g: self._wave_ratio(variant, g, one),
                                              most=WAVE_MAX, step=WAVE_STEP)
                    finally:
                        one[0].close()
            known[variant] = w
        return known[variant]

    def _wave_case(self, variant: str, groups: int) -> tuple[Any, str]:
        """The wave probe's case at ``groups`` (a grid of that many tiles, one per workgroup,
        WAVE_K deep) and the label of its partial kernel's dispatches; a BackendError where an
        operand exceeds the device's storage binding limit."""
        v = registry.matmul_variant(variant)
        down, across = wave_grid(groups)
        M, N = v.tile[0] * down, v.tile[1] * across
        most = self.mb.dev.limits.get("max-storage-buffer-binding-size", 128 << 20)
        if 4 * WAVE_K * max(M, N) > most:
            raise BackendError(f"wave probe of {variant} at G = {groups}: a {WAVE_K} x "
                               f"{max(M, N)} operand exceeds the {most}-byte binding limit")
        plan = matmul_plan.plan_matmul(variant, "tn", M, N, WAVE_K, splits=groups)
        case = self.mb.matmul(variant, "tn", M, N, WAVE_K, repeats=4, splits=groups)
        return case, f"{plan.kernel}:tn"

    def _wave_ratio(self, variant: str, groups: int, one: tuple[Any, str]) -> float:
        """Median over WAVE_REPS rounds of the partial kernel's time at ``groups`` over its time
        at one workgroup, the two timed one after the other in each round (so both run at the
        same clock; the GPU is settled first if building the case idled it); inf where the
        grid cannot be built here (it counts as past W)."""
        t0 = time.perf_counter()
        try:
            case, label = self._wave_case(variant, groups)
        except BackendError:
            return float("inf")
        try:
            case.run()
            if time.perf_counter() - t0 > IDLE_S:
                self.warm_up()
            ratios = []
            for _ in range(WAVE_REPS):
                one[0].profile()
                case.profile()
                ratios.append(case.split[label] / max(one[0].split[one[1]], 1e-9))
        finally:
            case.close()
        return sorted(ratios)[len(ratios) // 2]

    def gate(self, variant: str, splits: int | None = None) -> tuple[bool, str]:
        """The parity gate of (variant, splits) on this adapter (once per process): the variant
        on every form and check shape, then at a split factor above 1 each form once more on a
        long-K shape through that factor; a variant whose workgroup memory or invocations exceed
        the device's limits does not run here at all."""
        stream_k = registry.matmul_variant(variant).stream_k
        if splits is not None and (splits > 1 or stream_k):  # a stream-K row's G: any G
            base = self.gate(variant)
            if base[0] and (variant, splits) not in self._gate:
                self._gate[(variant, splits)] = self._check_split(variant, splits)
            return self._gate[(variant, splits)] if base[0] else base
        return self._gate_variant(variant)

    def _check_split(self, variant: str, splits: int) -> tuple[bool, str]:
        """Each form on the long-K check shapes through ``splits`` slices (a stream-K row: on
        grids where its ``splits`` = G workgroups' runs cross tiles) vs NumPy (outputs and
        scratch NaN-poisoned). A split pipeline that the pipeline cache refuses for this device
        (workgroup memory, a feature) fails the gate instead of the tuning."""
        from backends.gpu.microbench import split_cases, stream_k_cases

        v = registry.matmul_variant(variant)
        cases = (stream_k_cases(splits, *v.tile, _bk(v)) if v.stream_k
                 else split_cases(splits))
        try:
            return self.mb.check_matmul_cases(variant, cases, seed=splits)
        except BackendError as e:
            return False, f"unsupported at {matmul_plan.factor_label(v.stream_k, splits)}: {e}"

    def _gate_variant(self, variant: str) -> tuple[bool, str]:
        if variant not in self._gate:
            v = registry.matmul_variant(variant)
            limits = self.mb.dev.limits
            limit = limits.get("max-compute-workgroup-storage-size", 16384)
            consts = {**registry.kernel(v.kernel).constants, **v.constants}
            need = wgsl.kernel_workgroup_bytes(v.kernel, consts)
            threads = wgsl.override_values(wgsl.source(v.kernel), consts).get("NT", 0)
            most = limits.get("max-compute-invocations-per-workgroup", 256)
            if need > limit:
                self._gate[variant] = (False, f"unsupported: needs {need} bytes of workgroup "
                                       f"memory, device limit {limit}")
            elif threads > most:
                self._gate[variant] = (False, f"unsupported: {threads} invocations per "
                                       f"workgroup, device limit {most}")
            else:
                self._gate[variant] = self.mb.check_matmul(variant)
        return self._gate[variant]

    def time(self, variant: str, splits: int, form: str, M: int, N: int, K: int,
             reps: int = 3, best: float = float("inf")) -> float:
        """Median device seconds of one call of (variant, splits), from GPU timestamps; a
        candidate whose single probe call is over twice ``best`` (the fastest so far) is not
        timed further (its probe time is returned)."""
        once = self._probe(variant, splits, form, M, N, K)
        if once > 2.0 * best:
            return once
        case = self.mb.matmul(variant, form, M, N, K, repeats=_repeats(once), splits=splits)
        try:
            runs = sorted(case.run() for _ in range(reps))
        finally:
            case.close()
        return runs[len(runs) // 2]

    def _probe(self, variant: str, splits: int, form: str, M: int, N: int, K: int) -> float:
        """Device seconds of one call, after a first run that touches the buffers (and a settle
        where building the case and that run took over ``IDLE_S``: the GPU idled meanwhile)."""
        t0 = time.perf_counter()
        probe = self.mb.matmul(variant, form, M, N, K, repeats=1, splits=splits)
        try:
            probe.run()
            if time.perf_counter() - t0 > IDLE_S:
                self.warm_up()
            return probe.run() or 1e-3
        finally:
            probe.close()

    def warm_up(self, seconds: float = 0.0) -> dict[str, Any] | None:
        """Bring the GPU to its working clocks right before a shape's candidates are timed
        (``microbench.settle``): gating and compiling leave it idle, and an idle GPU runs the
        first candidates at a fraction of its clock, so the choice would be noise. ``seconds``:
        keep the FMA probe busy at least that long first (a study's explicit warm-up)."""
        if seconds > 0:
            case = self.mb.fma_probe()
            try:
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < seconds:
                    case.run()
            finally:
                case.close()
        from backends.gpu.microbench import settle

        return settle(self.adapter)

    def tune(self, form: str, M: int, N: int, K: int) -> dict[str, Any]:
        cands = self.candidates(form, M, N, K)
        self.warm_up()
        if not cands:  # the rule's pick, else any concrete row, once it passed the gate here
            rule = matmul_rules.auto_matmul(form, M, N, K)[0]
            rows = sorted(n for n, r in registry.MATMULS.items()
                          if r.choose is None and r.kernel and not r.stream_k)
            why = []
            for v in [rule, *(n for n in rows if n != rule)]:
                s = matmul_plan.plan_matmul(v, form, M, N, K).splits
                ok, msg = self.gate(v, s)
                if ok:
                    return {"variant": v, "splits": s, "seconds": None, "timed": {}}
                why.append(f"{v}: {msg}")
            raise BackendError(f"no matmul variant passed the parity gate on this adapter for "
                               f"{form} {M}x{N}x{K} ({why[0]})")
        timed: dict[str, float] = {}
        for v, s in cands:
            best = min(timed.values(), default=float("inf"))
            timed[candidate_label(v, s)] = self.time(v, s, form, M, N, K, best=best)
        first = sorted(zip(timed.values(), cands, strict=True), key=lambda tc: tc[0])
        finalists = [c for t, c in first[:FINALISTS] if t <= FINAL_MARGIN * first[0][0]]
        rows = {v for v, _ in finalists}
        for t, (v, s) in first:
            if v not in rows and t <= ROW_MARGIN * first[0][0]:
                finalists.append((v, s))
                rows.add(v)
        once = [timed[candidate_label(*c)] for c in finalists]
        raced = self.race(finalists, form, M, N, K, once) if len(finalists) > 1 else {}
        best, (v, s) = first[0]
        if raced and min(raced.values()) < float("inf"):  # else the first timings decide
            best, (v, s) = min((raced[candidate_label(*c)], c) for c in finalists)
        return {"variant": v, "splits": s, "seconds": best, "timed": timed, "raced": raced}

    def race(self, finalists: list[tuple[str, int]], form: str, M: int, N: int, K: int,
             once: list[float], rounds: int = RACE_ROUNDS) -> dict[str, float]:
        """Median device seconds per call of each finalist over ``rounds`` interleaved rounds
        (labels in the finalists' order); ``once``: each finalist's first timing, which sets its
        calls per command buffer (no second probe)."""
        cases = {}
        try:
            for (v, s), t in zip(finalists, once, strict=True):
                cases[candidate_label(v, s)] = self.mb.matmul(v, form, M, N, K, repeats=_repeats(t),
                                                     splits=s)
            # building the cases (uploads) idles the GPU long enough to drop its clock, and the
            # rounds are too short to bring it back: on the H200, races run without this read
            # 1.2-3.5x the first timings on a third of the step shapes
            self.warm_up()
            return race_medians({k: c.run for k, c in cases.items()}, rounds)
        finally:
            for c in cases.values():
                c.close()

    # the cache ----------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The cache's valid plans; a corrupt file or entry counts as absent (and the next save
        rewrites the file without it)."""
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {key: {shape: p for shape, p in plans.items() if _valid_plan(p)}
                for key, plans in raw.items() if isinstance(plans, dict)}

    def _save(self) -> None:
        """Merge this key's plans into what is on disk now (another process may have added
        shapes since), written through a private temporary file and an atomic replace."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = self._load()
            data.setdefault(self.key, {}).update(self.plans)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps(data, indent=1, sort_keys=True))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass  # an unwritable cache only costs the next process a re-tune

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "measured": self.measures,
                               "tuning_s": round(self.tuning_s, 3),
                               "sources": dict(self.sources)}
        if self.measures:
            out.update(cache=str(self.path), key=self.key)
            waves = _WAVES.get(self.key)
            if waves:  # stream-K rows probed in this process: their W (None: no probe)
                out["waves"] = dict(waves)
        else:
            out["why_rule"] = self.why
        return out
