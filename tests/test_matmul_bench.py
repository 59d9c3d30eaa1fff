"""The matmul micro-benchmark at a step's own shapes, beside the vendor library.

``step_matmuls`` must list exactly the calls the GPU step records; ``run_kernels`` with presets
times each of them after the parity gate and, where a vendor figure exists for the shape, reports
ours / vendor per row; without CUDA the vendor baseline answers None instead of failing.
"""

from __future__ import annotations

import pytest
from gpu_fixtures import requires_adapter

from backends import get_backend
from bench import kernel_bench, vendor
from bench.cli import main
from bench.model import PRESETS


@requires_adapter
def test_step_matmuls_are_the_steps_calls():
    cfg = PRESETS["micro"]
    b = get_backend("gpu", cfg, matmul="b64")
    try:
        recorded = list(b.describe()["matmul_choices"])
    finally:
        b.close()
    assert recorded == [f"{f} {M}x{N}x{K}" for f, M, N, K in kernel_bench.step_matmuls(cfg)]


@requires_adapter
def test_kernel_bench_times_a_presets_matmuls_beside_the_vendor(monkeypatch, tmp_path):
    monkeypatch.setattr(kernel_bench, "_vendor", lambda form, M, N, K: 1e-3 * M)  # per shape
    rows = kernel_bench.run_kernels(sizes=[], seqs=[], matmuls=["b64", "auto"], attentions=[],
                                    budget_s=0.02, presets=["micro"])
    mm = [r for r in rows if r["kind"] == "matmul"]
    calls = kernel_bench.step_matmuls(PRESETS["micro"])
    assert len(mm) == 2 * len(calls)
    for r in mm:
        assert r["status"] == "ok" and r["preset"] == "micro", r
        assert r["vendor_gflops"] == pytest.approx(1e-3 * r["M"])
        assert r["share_of_vendor"] == pytest.approx(r["gflops"] / r["vendor_gflops"])
        assert r["share_of_peak"] > 0
    assert {(r["form"], r["M"], r["N"], r["K"]) for r in mm} == set(calls)
    files = kernel_bench.plot_matmuls(rows, tmp_path, "mm")
    assert [f.suffix for f in files] == [".png", ".svg"] and all(f.stat().st_size for f in files)


def test_vendor_matmul_is_none_without_cuda():
    if vendor.available():
        pytest.skip("CUDA present: the baseline is measured instead")
    assert vendor.matmul_seconds("nn", 8, 8, 8) is None


def test_kernels_cli_refuses_an_unknown_preset(capsys):
    assert main(["kernels", "--presets", "gigantic", "--out", "/nonexistent"]) == 2
    assert "unknown preset 'gigantic'" in capsys.readouterr().err


@requires_adapter
def test_kernel_bench_gates_the_auto_variant_it_times(monkeypatch, tmp_path):
    """``auto`` is gated at the tuner's (variant, splits) per shape, not at the rule's picks."""
    from backends.gpu import autotune

    monkeypatch.setenv("GPT_CURVES_TUNE_CACHE", str(tmp_path / "plans.json"))
    monkeypatch.setattr(autotune, "_PLANS", {})
    monkeypatch.setattr(autotune, "_GATES", {})
    chosen = []

    def choose(self, form, M, N, K):
        chosen.append((form, M, N, K))
        return "b128", 1

    monkeypatch.setattr(autotune.MatmulTuner, "choose", choose)
    monkeypatch.setattr(autotune.MatmulTuner, "gate",
                        lambda self, v, s=None: (v != "b128", f"{v} forced failure"))
    rows = kernel_bench.run_kernels(sizes=[24], seqs=[], forms=["nn"], matmuls=["auto"],
                                    attentions=[], budget_s=0.02, vendor=False)
    mm = [r for r in rows if r["kind"] == "matmul"]
    assert chosen and len(mm) == 1 and mm[0]["status"].startswith("failed: b128"), mm
