"""asv integration: the suites pass ``asv check``, and a smoke run feeds ``asv-curves``.

asv runs in a subprocess with HOME pointed at a temporary folder (its machine file lives there)
and a copy of asv.conf.json whose results go to a temporary folder, so the repository is untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("asv")


def _asv_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    conf = json.loads((REPO / "asv.conf.json").read_text())
    conf.update(
        repo=str(REPO),
        benchmark_dir=str(REPO / "benchmarks"),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
        env_dir=str(tmp_path / "env"),
    )
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": "/tmp"}
    # asv starts benchmarks without PYTHONPATH: name this checkout, so its suites import this
    # tree's bench and not another install's (a worktree next to an editable install, say)
    env["ASV_PYTHONPATH"] = str(REPO)
    return env, path


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_asv_check(tmp_path):
    env, conf = _asv_env(tmp_path)
    r = _run([sys.executable, "-m", "asv", "check", "--python=same", "--config", str(conf)], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No problems found" in r.stdout + r.stderr


def test_smoke_run_then_curves(tmp_path):
    env, conf = _asv_env(tmp_path)
    r = _run([sys.executable, "-m", "bench", "asv-machine"], env)
    assert r.returncode == 0, r.stderr
    machine = r.stdout.strip()
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())
    assert "GPU:" in saved[machine]["cpu"]  # the adapter is recorded with every result

    commit = _run(["git", "rev-parse", "HEAD"], env).stdout.strip()
    points = [
        r"TrainStep.time_step\('micro', 'cpu/naive'\)",
        r"TrainStep.time_step\('small', 'cpu/naive'\)",
    ]
    args = [sys.executable, "-m", "asv", "run", "--python=same", "--quick", "--config", str(conf),
            "--machine", machine, "--set-commit-hash", commit]  # fmt: skip
    for p in points:
        args += ["-b", p]
    r = _run(args, env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = [p for p in (tmp_path / "results" / machine).glob("*.json") if p.name != "machine.json"]
    assert files, "asv wrote no result file"

    out = tmp_path / "curves"
    r = _run([sys.executable, "-m", "bench", "asv-curves", str(tmp_path / "results"), "--out",
              str(out)], env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_asv_curves_without_results_is_a_clear_error(tmp_path):
    env, _ = _asv_env(tmp_path)
    r = _run([sys.executable, "-m", "bench", "asv-curves", str(tmp_path / "none")], env)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "no asv results folder" in r.stderr


def _result_file(benchmarks: dict) -> dict:
    """A minimal asv result file: {benchmark: (params, values)} in asv's column layout."""
    columns = ["result", "params"]
    return {
        "commit_hash": "0123456789ab", "date": 1, "result_columns": columns,
        "params": {"cpu": "Test CPU | GPU: Test GPU (DiscreteGPU, Vulkan)"},
        "results": {b: [vals, params] for b, (params, vals) in benchmarks.items()},
    }


def test_asv_curves_draws_kernel_variants_and_skips_what_did_not_run(tmp_path):
    from bench.asv_tools import asv_curves

    machine = tmp_path / "results" / "box-test-gpu"
    machine.mkdir(parents=True)
    sizes, variants, forms = ["256", "1024"], ["'tiled16'", "'vec4'"], ["'nn'", "'tn'"]
    rates = [100.0 * (i + 1) for i in range(8)]
    rates[3] = None  # a skipped point (failed parity): drawn without it, not as zero
    result = _result_file({
        "kernels.Matmul.track_gflops": ([sizes, variants, forms], rates),
        "kernels.Attention.time_fwd_bwd": ([["128", "256"], ["'naive'", "'fa2'"]],
                                           [1e-3, 5e-4, 4e-3, 1.5e-3]),
    })  # fmt: skip
    (machine / "0123abcd-env.json").write_text(json.dumps(result))
    files = asv_curves(tmp_path / "results", tmp_path / "curves")
    names = sorted(p.name for p in files)
    assert names == ["box-test-gpu-kernels.png", "box-test-gpu-kernels.svg"]  # no TrainStep plot
    svg = (tmp_path / "curves" / "box-test-gpu-kernels.svg").read_text()
    for text in ("Matmul, form nn", "Matmul, form tn", "Attention forward + backward", "Test GPU"):
        assert text in svg


def test_asv_curves_draws_a_lone_attention_suite(tmp_path):
    """Results of ``asv run -b Attention`` alone: one panel, no matmul panels."""
    from bench.asv_tools import asv_curves

    machine = tmp_path / "results" / "box-test-gpu"
    machine.mkdir(parents=True)
    result = _result_file({
        "kernels.Attention.time_fwd_bwd": ([["128", "256"], ["'naive'", "'fa2'"]],
                                           [1e-3, 5e-4, 4e-3, 1.5e-3]),
    })  # fmt: skip
    (machine / "0123abcd-env.json").write_text(json.dumps(result))
    asv_curves(tmp_path / "results", tmp_path / "curves")
    svg = (tmp_path / "curves" / "box-test-gpu-kernels.svg").read_text()
    assert "Attention forward + backward" in svg and "Matmul" not in svg


# ---------------------------------------------------------------- the per-run cache (bench.suites)
# These run in-process: "a new benchmark process" is simulated by clearing the in-process memo, so
# only the files on disk carry a value from one "process" to the next.


@pytest.fixture
def run_cache(tmp_path, monkeypatch):
    from bench import suites

    monkeypatch.setattr(suites, "CACHE_ROOT", tmp_path / "cache")
    monkeypatch.setattr(suites, "under_asv", lambda: True)
    suites.run_key.cache_clear()
    suites._memo.clear()
    yield suites
    suites.run_key.cache_clear()
    suites._memo.clear()
    suites._ready.clear()


def _new_process(suites):
    suites._memo.clear()
    suites.run_key.cache_clear()


def test_run_cache_reads_back_a_verdict_for_the_same_run(run_cache):
    suites, calls = run_cache, []
    key = ("cpu", [("attention", "naive")], "")

    def compute():
        calls.append(1)
        return "failed parity: grad wte rel err 1"

    assert suites.run_cached("parity", key, compute) == "failed parity: grad wte rel err 1"
    _new_process(suites)
    assert suites.run_cached("parity", key, compute) == "failed parity: grad wte rel err 1"
    assert len(calls) == 1
    assert suites.run_cached("parity", ("cpu", [], ""), lambda: None) is None  # another key
    _new_process(suites)
    assert suites.run_cached("parity", ("cpu", [], ""), compute) is None  # None is a value too
    assert len(calls) == 1


def test_run_cache_misses_after_a_source_change_or_in_another_run(run_cache, monkeypatch):
    suites, calls = run_cache, []
    key = ("gpu", [], "adapter / driver")

    def compute():
        calls.append(1)
        return None

    suites.run_cached("parity", key, compute)
    monkeypatch.setattr(suites, "source_digest", lambda: "0123456789ab")  # the code was edited
    _new_process(suites)
    suites.run_cached("parity", key, compute)
    assert len(calls) == 2
    monkeypatch.setattr(suites.os, "getppid", lambda: 999_999_999)  # another asv process
    _new_process(suites)
    suites.run_cached("parity", key, compute)
    assert len(calls) == 3


def _trio(suites, preset="micro", series="cpu/naive"):
    """Run the three track_* benchmarks as asv does: each in its own (simulated) process,
    class setup, then the benchmark's own setup, then its body."""
    from benchmarks.train_step import TrainStep

    out = {}
    for name in ("track_gflops", "track_math_ms", "track_overhead_ms"):
        _new_process(suites)
        bench = TrainStep()
        bench.setup(preset, series)
        fn = getattr(bench, name)
        fn.setup(preset, series)
        out[name] = fn(preset, series)
    return out


def test_track_trio_measures_once_per_point(run_cache, monkeypatch):
    from types import SimpleNamespace

    from bench.model import get_preset, step_flops

    suites, calls = run_cache, []

    def fake_measure(backend, config, options, budget_s, **kw):
        calls.append((backend, config, options))
        return SimpleNamespace(median_s=0.004, overhead_s=0.001, device_s=0.003)

    monkeypatch.setattr(suites, "check_parity", lambda backend, options: (True, "ok"))
    monkeypatch.setattr(suites, "measure_step", fake_measure)
    out = _trio(suites)
    assert len(calls) == 1 and calls[0][0] == "cpu" and calls[0][2] == {"attention": "naive"}
    assert out["track_overhead_ms"] == pytest.approx(1.0)
    assert out["track_math_ms"] == pytest.approx(3.0)
    assert out["track_gflops"] == pytest.approx(step_flops(get_preset("micro")) / 0.004 / 1e9)
    _trio(suites, "tiny")  # another point measures once more
    assert len(calls) == 2


def test_track_trio_skips_a_refused_point_after_one_try(run_cache, monkeypatch):
    from backends.base import BackendError

    suites, calls = run_cache, []

    def refuse(*a, **kw):
        calls.append(1)
        raise BackendError("config needs a 9 GiB buffer")

    monkeypatch.setattr(suites, "check_parity", lambda backend, options: (True, "ok"))
    monkeypatch.setattr(suites, "measure_step", refuse)
    for _ in range(3):
        _new_process(suites)
        with pytest.raises(NotImplementedError, match="9 GiB"):
            suites.point_measurement("micro", "cpu/naive")
    assert len(calls) == 1


def test_failed_parity_is_a_skip_with_its_reason(run_cache, monkeypatch):
    from benchmarks.train_step import TrainStep

    suites = run_cache
    monkeypatch.setattr(suites, "check_parity", lambda backend, options: (False, "grad wte 0.5"))
    with pytest.raises(NotImplementedError, match="failed parity: grad wte 0.5"):
        TrainStep().setup("micro", "cpu/fa2")


def test_time_step_setup_hands_back_one_warm_backend(run_cache, monkeypatch):
    suites = run_cache
    monkeypatch.setattr(suites, "check_parity", lambda backend, options: (True, "ok"))
    first = suites.ready_point("micro", "cpu/naive")
    assert suites.ready_point("micro", "cpu/naive") is first  # asv re-runs setup per sample
    assert first[0].step == 1  # the first (compiling, allocating) step is already done


def test_kernel_case_setup_hands_back_one_warm_case(run_cache):
    suites = run_cache
    if suites.gpu_adapter() is None:
        pytest.skip("no GPU adapter")
    first = suites.kernel_case("matmul", "tiled16", 64, "nn")
    assert suites.kernel_case("matmul", "tiled16", 64, "nn") is first  # asv re-runs setup


def test_gpu_adapter_is_the_backend_choice_without_building_one():
    from bench.measure import prepare_step
    from bench.model import get_preset
    from bench.suites import gpu_adapter

    info = gpu_adapter()
    if info is None:
        pytest.skip("no GPU adapter")
    b = prepare_step("gpu", get_preset("micro"))[0]
    try:
        d = b.describe()
    finally:
        b.close()
    for k in ("adapter", "vendor", "adapter_type", "backend", "driver", "software"):
        assert info[k] == d[k], k


def test_without_wgpu_every_gpu_point_is_skipped_saying_so(tmp_path):
    """asv runs benchmarks without PYTHONPATH; where that hides wgpu, the skip says so (not "no
    GPU adapter"), and Speedup skips in setup (asv: n/a, NaN) instead of failing (null)."""
    env, conf = _asv_env(tmp_path)
    blocker = tmp_path / "blocker" / "wgpu"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("wgpu hidden by the test")\n')
    # the checkout itself goes on ASV_PYTHONPATH too: benchmarks must import this tree's bench
    env["ASV_PYTHONPATH"] = os.pathsep.join([str(blocker.parent), env["ASV_PYTHONPATH"]])
    machine = _run([sys.executable, "-m", "bench", "asv-machine"], env).stdout.strip()
    commit = _run(["git", "rev-parse", "HEAD"], env).stdout.strip()
    r = _run([sys.executable, "-m", "asv", "run", "--python=same", "--quick", "-e", "--config",
              str(conf), "--machine", machine, "--set-commit-hash", commit,
              "-b", r"TrainStep.time_step\('micro', 'gpu/tiled16/naive'\)",
              "-b", r"Speedup.track_gpu_vs_cpu\('tiny'\)"], env, timeout=600)  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "wgpu is not importable: ImportError: wgpu hidden by the test" in out
    assert "ASV_PYTHONPATH" in out and "no GPU adapter" not in out
    (result,) = [p for p in (tmp_path / "results" / machine).glob("*.json")
                 if p.name != "machine.json"]
    data = json.loads(result.read_text())
    for name in ("speedup.Speedup.track_gpu_vs_cpu", "train_step.TrainStep.time_step"):
        values = data["results"][name][0]
        assert values and all(v != v for v in values), (name, values)  # NaN: skipped, not failed


def _train_result(commit: str, date: int, gpu: str, times: dict[tuple[str, str], float]) -> dict:
    presets = sorted({p for p, _ in times})
    series = sorted({s for _, s in times})
    vals = [times.get((p, s)) for p in presets for s in series]
    result = _result_file({"train_step.TrainStep.time_step": (
        [[f"'{p}'" for p in presets], [f"'{s}'" for s in series]], vals)})
    result.update(commit_hash=commit, date=date)
    result["params"]["cpu"] = f"Test CPU | GPU: {gpu} (DiscreteGPU, Vulkan)"
    return result


def _two_machines(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    curve = {(p, s): t * k for p, t in (("small", 0.01), ("medium", 0.02), ("large", 0.04))
             for s, k in (("cpu/naive", 1.0), ("gpu/tiled16/naive", 0.25))}
    for machine, gpu, commits in (("box-a-gpu-one", "GPU One", ("aaaa1111", "aaaa2222")),
                                  ("box-b-gpu-two", "GPU Two", ("bbbb1111",))):
        (root / machine).mkdir(parents=True)
        for i, c in enumerate(commits):
            res = _train_result(c + "0" * 32, i + 1, gpu, curve)
            (root / machine / f"{c}-env.json").write_text(json.dumps(res))
    return root


def test_asv_curves_overlays_every_machine(tmp_path):
    from bench.asv_tools import asv_curves

    root = _two_machines(tmp_path)
    files = asv_curves(root, tmp_path / "curves")
    names = {p.name for p in files}
    assert {"box-a-gpu-one-train-step.svg", "box-b-gpu-two-train-step.svg",
            "machines-train-step.svg"} <= names
    svg = (tmp_path / "curves" / "machines-train-step.svg").read_text()
    for text in ("box-a-gpu-one", "box-b-gpu-two", "GPU One", "GPU Two", "aaaa2222"):
        assert text in svg, text  # each machine named, at its newest commit
    assert "aaaa1111" not in svg
    # series by colour, machines by line style: two legends, titled so
    assert "<!-- series -->" in svg and "<!-- machine -->" in svg


def test_asv_curves_selects_machines_and_commits(tmp_path):
    from bench.asv_tools import AsvError, asv_curves

    root = _two_machines(tmp_path)
    files = asv_curves(root, tmp_path / "one", machines=["box-a-gpu-one"],
                       commits=["aaaa1111", "aaaa2222"])
    assert {p.name for p in files} == {"box-a-gpu-one-train-step.png",
                                       "box-a-gpu-one-train-step.svg"}
    svg = (tmp_path / "one" / "box-a-gpu-one-train-step.svg").read_text()
    assert "box-a-gpu-one @ aaaa1111" in svg and "box-a-gpu-one @ aaaa2222" in svg
    with pytest.raises(AsvError, match="no machine nope"):
        asv_curves(root, tmp_path / "x", machines=["nope"])
    with pytest.raises(AsvError, match="no results of commit"):
        asv_curves(root, tmp_path / "x", commits=["ffff"])


def test_asv_curves_cli_selection_and_stable_output(tmp_path):
    env, _ = _asv_env(tmp_path)
    root = _two_machines(tmp_path)
    outs = []
    for run in ("a", "b"):
        out = tmp_path / f"curves-{run}"
        r = _run([sys.executable, "-m", "bench", "asv-curves", str(root), "--out", str(out),
                  "--machines", "box-b-gpu-two"], env)
        assert r.returncode == 0, r.stderr
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == ["box-b-gpu-two-train-step.png", "box-b-gpu-two-train-step.svg"]
    for n in names:  # redrawn from the same results, the files are byte for byte the same
        assert (outs[0] / n).read_bytes() == (outs[1] / n).read_bytes(), n
    r = _run([sys.executable, "-m", "bench", "asv-curves", str(root), "--machines", "nope"], env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no machine nope" in r.stderr


def test_asv_curves_with_one_preset_labels_its_axis(tmp_path):
    from bench.asv_tools import asv_curves

    root = tmp_path / "results"
    (root / "box").mkdir(parents=True)
    res = _train_result("c" * 40, 1, "GPU One", {("micro", "cpu/naive"): 0.004,
                                                 ("micro", "gpu/tiled16/naive"): 0.02})
    (root / "box" / "r.json").write_text(json.dumps(res))
    asv_curves(root, tmp_path / "c")
    svg = (tmp_path / "c" / "box-train-step.svg").read_text()
    assert "one point: no curve" in svg and "micro" in svg
    assert "0.04" not in svg  # not matplotlib's default window around a lone x of 0


@pytest.mark.parametrize("software", [False, True])
def test_asv_machine_name_carries_a_hardware_gpu_only(monkeypatch, software):
    """The README's rule: a hardware GPU is in the machine name; a software adapter is not (its
    numbers are no GPU's), and either way the adapter is in the machine's cpu field."""
    from bench import asv_tools
    from bench.environment import machine_name

    adapter = "llvmpipe (LLVM 15)" if software else "NVIDIA H200"
    monkeypatch.setattr(asv_tools, "pick_adapter", lambda: {
        "adapter": adapter, "software": software, "adapter_type": "CPU" if software else
        "DiscreteGPU", "backend": "Vulkan"})
    name, info = asv_tools.asv_machine(dry_run=True)
    assert name == machine_name(adapter, software)
    assert name.endswith("nvidia-h200") != software
    assert f"GPU: {adapter}" in info["cpu"]
    assert ("software adapter - not a GPU" in info["cpu"]) == software
