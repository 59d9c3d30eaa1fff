"""WGSL kernels (one file each, shared pieces under include/) and their registry (pure data:
importable without wgpu)."""

from kernels.registry import (
    ATTENTIONS,
    EPILOGUES,
    KERNELS,
    MATMULS,
    VariantError,
    attention_variant,
    kernel,
    matmul_variant,
    variants,
)
from kernels.wgsl import source

__all__ = [
    "ATTENTIONS",
    "EPILOGUES",
    "KERNELS",
    "MATMULS",
    "VariantError",
    "attention_variant",
    "kernel",
    "matmul_variant",
    "source",
    "variants",
]
