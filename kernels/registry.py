"""The kernel registry: every WGSL kernel and every selectable variant, as data.

No wgpu import here: ``bench`` lists variants from this module on a machine without a GPU, and the
GPU backend turns a row into a pipeline. A row says which file and entry point, which shared WGSL
pieces are prepended, which ``override`` constants exist (names are checked here, because naga
ignores a misspelt one), the features it needs, its grid as a function of its own uniform fields,
its shape limits and the NumPy reference it is tested against.

Bindings and uniform layouts are *not* written down here: ``bindings()`` and ``uniform_fields()``
read them from the assembled WGSL, so a bind-group layout can never disagree with its shader (a
``read`` buffer is never bound read-write).

Adding a variant (issue 4) = one WGSL file + one ``Kernel`` row + one ``MatmulVariant`` or
``AttentionVariant`` row. A matmul variant must implement the interface of
``matmul_common.wgsl`` (bindings, forms by TRANS_A/TRANS_B, epilogues by ``store_c``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from math import ceil
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent

MAX_GROUPS = 65535  # WebGPU's guaranteed maxComputeWorkgroupsPerDimension


class VariantError(ValueError):
    """Unknown kernel, variant or constant name; the message lists the known ones."""


def fold(groups: int) -> tuple[int, int, int]:
    """A 1-D launch of ``groups`` workgroups folded into (x, y) so no dimension exceeds 65535.

    Kernels launched this way compute ``wg_linear`` and ignore the few overhanging workgroups.
    """
    groups = max(1, int(groups))
    if groups <= MAX_GROUPS:
        return (groups, 1, 1)
    y = ceil(groups / MAX_GROUPS)
    return (ceil(groups / y), y, 1)


@dataclass(frozen=True)
class Kernel:
    """One WGSL kernel: a file with one entry point."""

    name: str
    file: str
    grid: Callable[[dict], tuple[int, int, int]]  # uniform fields -> workgroup counts
    reference: str  # the NumPy reference it is checked against (tests/test_gpu_kernels.py)
    entry: str = "main"
    includes: tuple[str, ...] = ("common.wgsl",)
    constants: dict[str, int] = field(default_factory=dict)  # override name -> default
    features: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()  # bindings a caller may leave unbound (a dummy is bound)
    workgroup_bytes: int = 0  # workgroup memory it declares (checked against the device limit)


@dataclass(frozen=True)
class MatmulVariant:
    """A matmul variant: for each form ("nn" A@B, "nt" A@B^T, "tn" A^T@B) a kernel + constants."""

    name: str
    forms: dict[str, tuple[str, dict[str, int]]]
    tile: tuple[int, int]  # (rows of C, columns of C) per workgroup
    notes: str = ""
    # Shape rule: (form, M, N, K) -> whether this variant runs that call; where it does not, the
    # step uses ``fallback`` for that call and records it (describe()["matmul_fallbacks"]).
    accepts: Callable[[str, int, int, int], bool] = lambda form, M, N, K: True
    fallback: str | None = None


@dataclass(frozen=True)
class AttentionVariant:
    """An attention variant: forward kernel, backward kernels (run in order), and its buffers.

    ``saved`` buffers live per layer from forward to backward; ``scratch`` buffers are shared by
    all layers' backward. Sizes are products of the letters B, H, T (and D for head_dim).
    Kernels bind by name from: qkv, out, dout, dqkv, and the saved/scratch names.
    """

    name: str
    forward: str
    backward: tuple[str, ...]
    saved: dict[str, str]
    scratch: dict[str, str]
    max_seq_len: int
    max_head_dim: int
    notes: str = ""


def _mm_grid(tile_m: int, tile_n: int) -> Callable[[dict], tuple[int, int, int]]:
    return lambda u: (ceil(u["N"] / tile_n), ceil(u["M"] / tile_m), 1)


def _rows(u: dict) -> tuple[int, int, int]:
    return fold(u["rows"])


def _attn(u: dict) -> tuple[int, int, int]:
    return (u["T"], u["B"] * u["H"], 1)


_MATMUL_CONSTANTS = {"TRANS_A": 0, "TRANS_B": 0, "EPILOGUE": 0}

KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in [
        Kernel("matmul_tiled16", "matmul_tiled16.wgsl", _mm_grid(16, 16), "ref_matmul",
               includes=("common.wgsl", "matmul_common.wgsl"), constants=_MATMUL_CONSTANTS,
               optional=("r", "aux"), workgroup_bytes=2 * 16 * 16 * 4),
        Kernel("layernorm_fwd", "layernorm_fwd.wgsl", _rows, "ref_layernorm_fwd",
               workgroup_bytes=256),
        Kernel("layernorm_bwd_dx", "layernorm_bwd_dx.wgsl", _rows, "ref_layernorm_bwd",
               constants={"ACCUMULATE": 1}, workgroup_bytes=256),
        Kernel("layernorm_bwd_dgdb", "layernorm_bwd_dgdb.wgsl",
               lambda u: (ceil(u["C"] / 16), 1, 1), "ref_layernorm_bwd",
               workgroup_bytes=2 * 16 * 16 * 4 + 256),
        Kernel("embed_fwd", "embed_fwd.wgsl", lambda u: fold(ceil(u["rows"] * u["C"] / 256)),
               "ref_embed_fwd"),
        Kernel("embed_bwd", "embed_bwd.wgsl",
               lambda u: fold(ceil((u["V"] + u["T"]) * u["C"] / 256)), "ref_embed_bwd"),
        Kernel("attn_naive_fwd", "attn_naive_fwd.wgsl", _attn, "ref_attention_fwd",
               workgroup_bytes=4 * (1024 + 256 + 64)),
        Kernel("attn_naive_bwd_q", "attn_naive_bwd_q.wgsl", _attn, "ref_attention_bwd",
               workgroup_bytes=4 * (1024 + 256 + 64)),
        Kernel("attn_naive_bwd_kv", "attn_naive_bwd_kv.wgsl", _attn, "ref_attention_bwd"),
        Kernel("xent", "xent.wgsl", _rows, "ref_xent", workgroup_bytes=256),
        Kernel("loss_reduce", "loss_reduce.wgsl", lambda u: (1, 1, 1), "ref_loss_reduce",
               workgroup_bytes=256),
        Kernel("adamw", "adamw.wgsl", lambda u: fold(ceil(u["n"] / 256)), "ref_adamw"),
    ]
}

MATMULS: dict[str, MatmulVariant] = {
    v.name: v
    for v in [
        MatmulVariant(
            "tiled16",
            forms={
                "nn": ("matmul_tiled16", {}),
                "nt": ("matmul_tiled16", {"TRANS_B": 1}),
                "tn": ("matmul_tiled16", {"TRANS_A": 1}),
            },
            tile=(16, 16),
            notes="baseline: 16x16 shared-memory tiles, one output per invocation, any shape",
        ),
    ]
}

ATTENTIONS: dict[str, AttentionVariant] = {
    v.name: v
    for v in [
        AttentionVariant(
            "naive",
            forward="attn_naive_fwd",
            backward=("attn_naive_bwd_q", "attn_naive_bwd_kv"),
            saved={"probs": "BHTT"},
            scratch={"dscores": "BHTT"},
            max_seq_len=1024,  # MAX_T: one score row in workgroup memory
            max_head_dim=256,  # MAX_HD: one q / dO row in workgroup memory
            notes="scores materialised [B,H,T,T]; one workgroup per query row",
        ),
    ]
}

# Matmul epilogues (EPILOGUE override constant), see matmul_common.wgsl.
EPILOGUES: dict[str, int] = {"store": 0, "add": 1, "gelu": 2, "gelu_bwd": 3, "accumulate": 4}


def _lookup(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise VariantError(
            f"unknown {what} {name!r}; known: {', '.join(sorted(table))}"
        ) from None


def kernel(name: str) -> Kernel:
    return _lookup(KERNELS, name, "kernel")


def matmul_variant(name: str) -> MatmulVariant:
    return _lookup(MATMULS, name, "matmul variant")


def attention_variant(name: str) -> AttentionVariant:
    return _lookup(ATTENTIONS, name, "attention variant")


def variants() -> dict[str, list[str]]:
    """Selectable variants by kind, for ``bench`` listings."""
    return {"matmul": sorted(MATMULS), "attention": sorted(ATTENTIONS)}


def source(name: str) -> str:
    """The WGSL of kernel ``name``: shared pieces, then the kernel file."""
    k = kernel(name)
    parts = [(KERNEL_DIR / f).read_text() for f in (*k.includes, k.file)]
    return "\n".join(parts)


def check_constants(name: str, constants: dict[str, int]) -> dict[str, int]:
    """Defaults overlaid with ``constants``; a name the kernel does not declare is rejected."""
    k = kernel(name)
    unknown = sorted(set(constants) - set(k.constants))
    if unknown:
        known = ", ".join(sorted(k.constants)) or "none"
        raise VariantError(f"kernel {name} has no override constant(s) {unknown}; known: {known}")
    return {**k.constants, **constants}


_BINDING = re.compile(
    r"@group\(0\)\s*@binding\((\d+)\)\s*var<(uniform|storage)(?:\s*,\s*(read_write|read))?>"
    r"\s*(\w+)\s*:\s*([\w<>]+)"
)
_STRUCT = re.compile(r"struct\s+(\w+)\s*\{([^}]*)\}")
_FIELD = re.compile(r"(\w+)\s*:\s*(u32|f32|i32)\s*,?")


@dataclass(frozen=True)
class Binding:
    index: int
    name: str
    kind: str  # "uniform", "read" or "read_write"
    type: str


def bindings(wgsl: str) -> list[Binding]:
    """The group-0 bindings declared in ``wgsl``, in binding order (the one source of layouts)."""
    out = []
    for idx, space, access, name, typ in _BINDING.findall(wgsl):
        kind = "uniform" if space == "uniform" else (access or "read")
        out.append(Binding(int(idx), name, kind, typ))
    return sorted(out, key=lambda b: b.index)


def uniform_fields(wgsl: str) -> list[tuple[str, str]]:
    """Fields (name, scalar type) of the struct bound as the uniform; 4 bytes each, in order."""
    uni = [b for b in bindings(wgsl) if b.kind == "uniform"]
    if not uni:
        return []
    structs = {m.group(1): m.group(2) for m in _STRUCT.finditer(wgsl)}
    return _FIELD.findall(structs[uni[0].type])


def overrides(wgsl: str) -> set[str]:
    """Names of the ``override`` constants declared in ``wgsl``."""
    return set(re.findall(r"\boverride\s+(\w+)\s*:", wgsl))
