"""The attention part of ``python -m bench kernels`` without a GPU: shape parsing (a preset's
attention), the ours / SDPA table and plot, the per-kernel split, the vendor peer's absence
without CUDA, and the CLI's one-line refusal of a malformed shape."""

from __future__ import annotations

import pytest

from bench import cli, kernel_bench, vendor
from bench.model import PRESETS


def test_attention_shape_reads_presets_and_explicit_shapes():
    assert kernel_bench.attention_shape("mega") == (8, 16, 512, 32)
    c = PRESETS["behemoth"]
    assert kernel_bench.attention_shape("behemoth") == (c.batch, c.n_head, c.seq_len, c.head_dim)
    assert kernel_bench.attention_shape("4x8x1024x64") == (4, 8, 1024, 64)
    for bad in ("4x8x1024", "4x8x0x64", "gigantic", "4x8xTx64"):
        with pytest.raises(ValueError, match="BxHxTxHD"):
            kernel_bench.attention_shape(bad)


def _rows():
    base = {"kind": "attention", "B": 8, "H": 16, "T": 512, "hd": 32, "status": "ok",
            "adapter": "Test GPU", "software": False}
    return [
        {"kind": "peak_fma", "variant": "probe_fma", "status": "ok", "seconds": 1.0},
        {**base, "variant": "fa2", "seconds": 1.5e-3, "fwd_s": 3e-4, "dq_s": 4e-4,
         "dkv_s": 8e-4, "vendor_s": 6e-4, "vs_vendor": 2.5, "share_of_peak": 0.12},
        {**base, "variant": "naive", "seconds": 9e-3, "vendor_s": 6e-4, "vs_vendor": 15.0},
        {**base, "variant": "naive", "T": 4096, "status": "unsupported: seq_len <= 1024"},
    ]


def test_attention_table_carries_split_vendor_ratio_and_peak_share():
    table = kernel_bench.attention_table(_rows())
    lines = table.splitlines()
    assert len(lines) == 2 + 3  # header, rule, three attention rows (the peak row is left out)
    soft = [{**r, "software": True} for r in _rows()]
    assert kernel_bench.attention_table(soft).startswith("software adapter: ")
    assert "| fa2 | 8, 16, 512, 32 | 1.500 | 0.300 | 0.400 | 0.800 | 0.600 | 2.50 | 12.0 |" in lines
    assert "| naive | 8, 16, 512, 32 | 9.000 | - | - | - | 0.600 | 15.00 | - |" in lines
    assert "unsupported: seq_len <= 1024" in lines[-1]


def test_plot_attention_draws_ours_and_sdpa(tmp_path):
    paths = kernel_bench.plot_attention(_rows(), tmp_path)
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.exists() for p in paths)
    svg = paths[1].read_text()
    assert "SDPA" in svg and "2.50x" in svg and "Test GPU" in svg
    assert kernel_bench.plot_attention(_rows()[:1], tmp_path) == []


def test_split_names_forward_dq_and_dkv_by_position():
    class Case:
        info = {"kernels": ("attn_fa2_fwd", "attn_fa2_bwd_q", "attn_fa2_bwd_kv")}
        split = {"attn_fa2_fwd": 1.0, "attn_fa2_bwd_q": 2.0, "attn_fa2_bwd_kv": 3.0}

    assert kernel_bench._split(Case()) == {"fwd_s": 1.0, "dq_s": 2.0, "dkv_s": 3.0}
    Case.split = {}
    assert kernel_bench._split(Case()) == {}


def test_sdpa_is_absent_without_cuda(monkeypatch):
    monkeypatch.setattr(vendor, "cuda_torch", lambda: None)
    assert vendor.sdpa_seconds(1, 1, 8, 4) is None


def test_cli_refuses_a_malformed_attention_shape(capsys):
    rc = cli.main(["kernels", "--attention-shapes", "mega,8x16x512"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--attention-shapes" in err and "BxHxTxHD" in err
