"""WGSL kernels and their registry (pure data: importable without wgpu)."""

from kernels.registry import (
    ATTENTIONS,
    EPILOGUES,
    KERNELS,
    MATMULS,
    VariantError,
    attention_variant,
    kernel,
    matmul_variant,
    source,
    variants,
)

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
