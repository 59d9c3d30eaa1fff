"""A sweep is data: which configs (presets or free axes), crossed with backends and variants.

Free axes: ``d_model``, ``seq_len``, ``batch``, ``n_layer``, ``n_head`` (model dimensions) and
``threads`` (a backend option). An axis spec is ``name=start:stop:step`` (stop inclusive) or
``name=v1,v2,...``; several axes are crossed. Dimensions neither swept nor fixed take the values
of the small..xl presets (n_layer 4, seq_len 128, batch 8, d_model 128).

n_head on a free d_model axis, when ``--fix`` gives none: the divisor of d_model whose head_dim is
closest to 32 (exactly 32 for every multiple of 32), so the curve changes d_model and nothing
else, like the small..xl presets.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from backends import BACKENDS
from backends import variants as backend_variants
from bench.model import PRESETS, ConfigError, ModelConfig, config_label, get_preset

# Backend names a sweep accepts besides the registered ones: a registered backend with options.
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "torch-cuda": ("torch", {"device": "cuda"}),
    "torch-cuda-graph": ("torch", {"device": "cuda", "graph": True}),
}

MODEL_AXES = ("d_model", "n_layer", "n_head", "seq_len", "batch")
AXES = MODEL_AXES + ("threads",)
BASE = {"d_model": 128, "n_layer": 4, "seq_len": 128, "batch": 8}  # the small..xl family
HEAD_DIM = 32
MAX_POINTS = 10_000

DEFAULT_PRESETS = ("micro", "tiny", "small", "medium", "large", "xl")
QUICK_CPU_PRESETS = ("micro", "tiny", "small", "medium")
QUICK_GPU_PRESETS = ("micro", "tiny")  # the only sizes a software adapter is asked to run
SOFTWARE_MAX_PRESET = "tiny"  # above this a software adapter's GPU point is skipped


def parse_values(name: str, text: str) -> list[int]:
    """``64:1024:64`` (inclusive) or ``1,2,4`` -> ints; a malformed spec raises ConfigError."""
    text = text.strip()
    try:
        parts = [int(p) for p in text.split(":")] if ":" in text else []
        values = [] if parts else [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ConfigError(
            f"malformed axis {name}={text!r}; expected start:stop:step or v1,v2,..."
        ) from None
    if parts:
        if len(parts) == 2:
            parts.append(1)
        if len(parts) != 3:
            raise ConfigError(f"malformed axis {name}={text!r}; expected start:stop:step")
        start, stop, step = parts
        if step <= 0 or stop < start:
            raise ConfigError(f"axis {name}={text}: need start <= stop and a positive step")
        values = list(range(start, stop + 1, step))
    if not values:
        raise ConfigError(f"axis {name} has no values")
    if any(v <= 0 for v in values):
        raise ConfigError(f"axis {name} values must be positive, got {values}")
    return values


def parse_assignments(text: str, what: str) -> dict[str, list[int]]:
    """``d_model=64:1024:64`` / ``n_layer=4,seq_len=128`` -> {name: values}.

    For ``--fix`` (one value each) commas separate assignments; for ``--sweep`` a comma list is
    the values of one axis, and several axes are separated by ``;`` or given as repeated options.
    """
    out: dict[str, list[int]] = {}
    if what == "fix":
        items = [i for i in text.split(",") if i.strip()]
    else:
        items = [i for i in text.split(";") if i.strip()]
    if not items:
        raise ConfigError(f"empty --{what} spec")
    for item in items:
        if "=" not in item:
            raise ConfigError(f"malformed --{what} item {item!r}; expected name=value")
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in AXES:
            raise ConfigError(f"unknown axis {name!r} in --{what}; known: {', '.join(AXES)}")
        if name in out:
            raise ConfigError(f"axis {name} given twice in --{what}")
        vals = parse_values(name, value)
        if what == "fix" and len(vals) != 1:
            raise ConfigError(f"--fix {name} needs one value, got {value!r}")
        out[name] = vals
    return out


# The options a series id names, in its order (a row's columns of the same names).
SERIES_OPTIONS = ("matmul", "attention", "threads")


def series_id(backend: str, options: Mapping[str, Any]) -> str:
    """The one id of a series (a backend with its swept options), in results, reports, plots and
    progress lines: ``gpu[matmul=tiled16,attention=fa2]``, ``cpu[threads=2]``, plain ``cpu``.
    Empty and None options are left out, so a row read back from the CSV gives the same id as
    the point that wrote it."""
    opts = [f"{k}={options[k]}" for k in SERIES_OPTIONS if options.get(k) not in ("", None)]
    return f"{backend}[{','.join(opts)}]" if opts else backend


def point_label(preset: str, config: ModelConfig | Mapping[str, Any]) -> str:
    """The one label of a point's config: its preset name, else ``config_label`` of its dims."""
    if preset:
        return preset
    if isinstance(config, ModelConfig):
        return config.label()
    return config_label(**{k: config[k] for k in MODEL_AXES})


def head_count(d_model: int) -> int:
    """n_head whose head_dim is closest to 32 (ties -> the larger head_dim)."""
    divisors = [h for h in range(1, d_model + 1) if d_model % h == 0]
    return min(divisors, key=lambda h: (abs(d_model // h - HEAD_DIM), h))


@dataclass(frozen=True)
class ConfigPoint:
    """One model config of a sweep; ``preset`` is empty for a free-axis point."""

    preset: str
    config: ModelConfig
    threads: int | None = None


@dataclass
class Sweep:
    """A declared sweep. ``points()`` expands it into (backend, variant, config) points."""

    backends: list[str]
    presets: list[str] = field(default_factory=list)
    axes: dict[str, list[int]] = field(default_factory=dict)
    fix: dict[str, int] = field(default_factory=dict)
    matmul: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    # backend -> presets it runs at (``--quick`` restricts the GPU to micro/tiny); empty = all
    only_presets: dict[str, list[str]] = field(default_factory=dict)

    def configs(self) -> list[ConfigPoint]:
        """Presets first, then the cross product of the free model axes. Without presets, a
        sweep of ``threads`` alone (or of nothing but ``fix``) runs at one config: the base
        dims overlaid with ``fix``."""
        out = [ConfigPoint(p, get_preset(p)) for p in self.presets]
        model_axes = {k: v for k, v in self.axes.items() if k in MODEL_AXES}
        if model_axes or ((self.fix or self.axes) and not self.presets):
            names = list(model_axes)
            for combo in itertools.product(*(model_axes[n] for n in names)):
                swept = dict(zip(names, combo, strict=True))
                dims: dict[str, int] = {**BASE, **self.fix, **swept}
                if "n_head" not in dims:
                    dims["n_head"] = head_count(dims["d_model"])
                out.append(ConfigPoint("", ModelConfig(**dims)))
        if not out:
            raise ConfigError("nothing to sweep: give --presets and/or --sweep")
        return out

    def thread_values(self) -> list[int | None]:
        vals = list(self.threads) or list(self.axes.get("threads", []))
        return vals or [None]

    def x_axes(self) -> list[str]:
        """The axes curves are drawn along, in declaration order: each swept axis, and d_model
        where presets are swept (only presets that differ in d_model alone share a curve)."""
        out = list(self.axes)
        if (self.presets or not out) and "d_model" not in out:
            out.append("d_model")
        if self.threads and "threads" not in out:
            out.append("threads")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sweep:
        return cls(**d)


@dataclass(frozen=True)
class Point:
    """One row of a sweep: a backend with its options at one config."""

    backend: str
    preset: str
    config: ModelConfig
    matmul: str = ""
    attention: str = ""
    threads: int | None = None

    def target(self) -> tuple[str, dict[str, Any]]:
        """The registered backend name and every option to create it with."""
        name, fixed = ALIASES.get(self.backend, (self.backend, {}))
        return name, {**fixed, **self.options()}

    def options(self) -> dict[str, Any]:
        """The swept options (variants, threads); an alias's own options are in ``target``."""
        o: dict[str, Any] = {}
        if self.matmul:
            o["matmul"] = self.matmul
        if self.attention:
            o["attention"] = self.attention
        if self.threads is not None:
            o["threads"] = self.threads
        return o

    def key(self) -> tuple[str, ...]:
        """Identity of the point in a results file (what --resume compares)."""
        c = self.config
        return tuple(
            str(v)
            for v in (
                self.backend, self.matmul, self.attention,
                "" if self.threads is None else self.threads, self.preset,
                c.d_model, c.n_layer, c.n_head, c.seq_len, c.batch,
            )
        )

    def series(self) -> str:
        """Backend plus variant, e.g. ``gpu[matmul=tiled16,attention=fa2]`` (``series_id``)."""
        return series_id(self.backend, self.options())

    def label(self) -> str:
        return point_label(self.preset, self.config)


def expand(sweep: Sweep, accepts: dict[str, list[str]]) -> list[Point]:
    """All points of ``sweep``. ``accepts[backend]`` lists that backend's option names: a variant
    list is crossed only with backends that take that option (the CPU has no matmul variants)."""
    points: list[Point] = []
    for backend in sweep.backends:
        opts = accepts.get(backend, accepts.get(ALIASES.get(backend, (backend,))[0], []))
        mms = sweep.matmul if "matmul" in opts and sweep.matmul else [""]
        atts = sweep.attention if "attention" in opts and sweep.attention else [""]
        ths = sweep.thread_values() if "threads" in opts else [None]
        only = sweep.only_presets.get(backend)
        for cp in sweep.configs():
            if only is not None and cp.preset not in only:
                continue
            for mm, att, th in itertools.product(mms, atts, ths):
                points.append(Point(backend, cp.preset, cp.config, mm, att, th))
    if len(points) > MAX_POINTS:
        raise ConfigError(f"sweep has {len(points)} points (> {MAX_POINTS}); narrow it")
    return points


def declare(
    backends: Sequence[str] = (),
    presets: Sequence[str] = (),
    axes: Mapping[str, Sequence[int]] | None = None,
    fix: Mapping[str, int] | None = None,
    matmul: Sequence[str] = (),
    attention: Sequence[str] = (),
    threads: Sequence[int] = (),
    quick: bool = False,
) -> Sweep:
    """A checked ``Sweep``: names looked up (backends, presets, variants), nothing given twice,
    the defaults of the CLI filled in, and every config built once, so a mistake is one
    ConfigError before anything is measured.

    Defaults: backends cpu,gpu; presets micro..xl when no axis is swept. ``quick``: the CPU
    backends (and torch where importable) at micro..medium, the GPU at micro and tiny only."""
    backends, presets = list(backends), list(presets)
    axes = {k: list(v) for k, v in (axes or {}).items()}
    fix = dict(fix or {})
    if quick:
        backends = backends or ["cpu"] + (
            ["torch"] if importlib.util.find_spec("torch") else []
        ) + ["gpu"]
        presets = presets or ([] if axes else list(QUICK_CPU_PRESETS))
    backends = backends or ["cpu", "gpu"]
    for what, values in (("backends", backends), ("presets", presets), ("matmul", matmul),
                         ("attention", attention), ("threads", threads)):
        repeated = next((v for i, v in enumerate(values) if v in list(values)[:i]), None)
        if repeated is not None:
            raise ConfigError(f"--{what} names {repeated!r} twice")
    known = list(BACKENDS) + list(ALIASES)
    for b in backends:
        if b not in known:
            raise ConfigError(f"unknown backend {b!r}; known backends: {', '.join(known)}")
    for p in presets:
        if p not in PRESETS:
            raise ConfigError(f"unknown preset {p!r}; known presets: {', '.join(PRESETS)}")
    for name in axes:
        if name not in AXES:
            raise ConfigError(f"unknown axis {name!r}; known: {', '.join(AXES)}")
    clash = sorted(set(fix) & set(axes))
    if clash:
        raise ConfigError(f"axis {clash[0]} is both swept and fixed")
    if not presets and not axes:
        presets = list(DEFAULT_PRESETS)
    if any(not isinstance(t, int) or isinstance(t, bool) or t <= 0 for t in threads):
        raise ConfigError(f"--threads needs positive integers, got {list(threads)}")
    _check_variants("matmul", matmul)
    _check_variants("attention", attention)
    only: dict[str, list[str]] = {}
    if quick and "gpu" in backends:
        only["gpu"] = [p for p in presets if p in QUICK_GPU_PRESETS]
    sweep = Sweep(backends, presets, axes, fix, list(matmul), list(attention), list(threads),
                  only)
    sweep.configs()  # validates every config now
    return sweep


def known_variants(option: str) -> set[str] | None:
    """Every variant name some backend lists for ``option`` (``backends.variants``); None when no
    backend's listing could be read (then creating the backend judges each name)."""
    found: set[str] | None = None
    for name in BACKENDS:
        try:
            table = backend_variants(name)
        except Exception:  # a backend that cannot load lists nothing; creating it says why
            continue
        if option in table:
            found = (found or set()) | set(table[option])
    return found


def _check_variants(option: str, names: Sequence[str]) -> None:
    if not names:
        return
    known = known_variants(option)
    bad = [n for n in names if known is not None and n not in known]
    if bad:
        raise ConfigError(f"unknown {option} variant(s) {bad}; known: {', '.join(sorted(known))}")
