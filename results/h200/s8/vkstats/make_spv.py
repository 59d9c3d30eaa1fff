"""Make the SPIR-V of our matmul kernels exactly as the product hands it to a Vulkan driver.

Usage (from the project root, on a machine with a Vulkan driver: lavapipe will do)::

    PYTHONPATH=. .venv/bin/python results/h200/s8/vkstats/make_spv.py OUT_DIR

naga-cli could not be installed here (crates.io is not reachable), so the SPIR-V comes from the
naga inside wgpu-native (the product's own compiler, naga 29.0.3 in wgpu-py 0.32): this script
builds ``capture_layer.c`` into a small Vulkan layer, enables it, and creates every pipeline
through the product's own path (``backends.gpu.pipelines.Pipelines``: trusted modules without
runtime checks, override constants resolved by wgpu). The layer saves each SPIR-V module the
driver receives; the one a pipeline used is copied to ``OUT_DIR/<variant>_<form>.spv``.

Also written: ``<variant>_<form>.wgsl`` (the kernel with every ``override`` turned into a
``const`` of the configuration's value, for an offline compiler such as naga-cli), and
``manifest.json`` (file, variant, form, kernel, constants, entry point, workgroup size, bindings,
and what the wgpu device enabled: extensions and robustness features, read by the layer).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
LAYER = "VK_LAYER_GPTCURVES_spirv_capture"
MIN_SHARED = 65536  # workgroup memory the layer makes the adapter report (lavapipe says 32768)

# (variant, form, M, N, K); kernels run with their defaults are listed in KERNELS
CONFIGS: list[tuple[str, str, int, int, int]] = [
    ("b128", "nn", 4096, 4096, 4096),
    ("b128v4", "nn", 4096, 4096, 4096),
    ("b128t84", "nn", 4096, 4096, 4096),
    ("b128t84v4", "nn", 4096, 4096, 4096),
    ("w128", "tn", 4096, 4096, 4096),
    ("w128v4", "tn", 4096, 4096, 4096),
    ("b64x128", "nn", 4096, 4096, 4096),
    ("b128x64", "nn", 4096, 4096, 4096),
    ("b64v4", "nn", 4096, 4096, 4096),
    # session 8's shorter k-tiles (w128k4 in the registry; the b* rows from ../study_k.py)
    ("w128k4", "tn", 4096, 4096, 4096),
    ("w128k4v4", "tn", 4096, 4096, 4096),
    ("b128k4", "nn", 4096, 4096, 4096),
    ("b128t84k8", "nn", 4096, 4096, 4096),
    ("b128t84k8v4", "nn", 4096, 4096, 4096),
    ("b64k8", "nn", 4096, 4096, 4096),
    ("b64k8v4", "nn", 4096, 4096, 4096),
    ("b128x64k4", "nn", 4096, 4096, 4096),
]
KERNELS: list[str] = ["probe_fma"]

_OVERRIDE = re.compile(r"\boverride\s+(\w+)\s*:\s*(\w+)\s*(?:=\s*([^;]+))?;")


def substitute_overrides(src: str, values: dict[str, int]) -> str:
    """``src`` with each ``override NAME: T = EXPR;`` made ``const NAME: T = VALUE;`` (the
    expression is kept where ``values`` has no NAME; ``u32``/``i32`` values get their suffix)."""

    def repl(m: re.Match) -> str:
        name, typ, expr = m.group(1), m.group(2), m.group(3)
        if name in values:
            v = values[name]
            expr = f"{v}u" if typ == "u32" else (f"{v}i" if typ == "i32" else f"{v}")
            if typ == "f32":
                expr = f"{float(v)}"
            elif typ == "bool":
                expr = "true" if v else "false"
        if expr is None:
            raise ValueError(f"override {name} has no default and no value")
        return f"const {name}: {typ} = {expr.strip()};"

    return _OVERRIDE.sub(repl, src)


def build_layer(tmp: Path) -> Path:
    """Compile the capture layer into ``tmp`` with its loader manifest; the layer folder."""
    lib = tmp / "libspirv_capture.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(HERE / "capture_layer.c")],
                   check=True)
    manifest = {
        "file_format_version": "1.1.2",
        "layer": {
            "name": LAYER,
            "type": "GLOBAL",
            "library_path": str(lib),
            "api_version": "1.3.0",
            "implementation_version": "1",
            "description": "saves the SPIR-V given to vkCreateShaderModule",
        },
    }
    (tmp / "spirv_capture.json").write_text(json.dumps(manifest, indent=1))
    return tmp


def _read_device_log(path: Path) -> dict:
    out: dict = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(" ")
        out[key] = rest.split() if key == "extensions" else int(rest)
    return out


def main() -> int:
    """Generate the SPIR-V files and manifest.json."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--rows", help="VARIANT:FORM,... at 4096^3 instead of CONFIGS (a later "
                    "session's rows)")
    ap.add_argument("--study", type=Path, action="append",
                    help="a study script whose add_rows() registers rows --rows names (repeat; "
                    "default ../study_k.py)")
    args = ap.parse_args()
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="spvcap_"))
    cap = tmp / "capture"
    cap.mkdir()
    build_layer(tmp)
    # the loader reads these when wgpu creates its instance, so set them before importing wgpu
    os.environ["VK_LAYER_PATH"] = str(tmp)
    os.environ["VK_INSTANCE_LAYERS"] = LAYER
    os.environ["SPV_CAPTURE_DIR"] = str(cap)
    os.environ["SPV_CAPTURE_MIN_SHARED"] = str(MIN_SHARED)
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    sys.path.insert(0, str(ROOT))
    import wgpu  # noqa: PLC0415

    from backends.gpu.device import adapter_info, get_device  # noqa: PLC0415
    from backends.gpu.pipelines import Pipelines  # noqa: PLC0415
    from kernels import matmul_plan, registry, wgsl  # noqa: PLC0415

    sys.path.insert(0, str(HERE))
    import spvinfo  # noqa: PLC0415

    for path in args.study or [HERE.parent / "study_k.py"]:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        study = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(study)
        study.add_rows()
    configs = CONFIGS
    if args.rows:
        configs = [(*r.split(":"), 4096, 4096, 4096) for r in args.rows.split(",")]

    dev = get_device()
    jobs: list[tuple[str, str, str, dict[str, int]]] = []
    for variant, form, m, n, k in configs:
        plan = matmul_plan.plan_matmul(variant, form, m, n, k)
        jobs.append((variant, form, plan.kernel, {**plan.constants, "EPILOGUE": 0}))
    jobs += [(name, "default", name, {}) for name in KERNELS]

    entries = []
    log = cap / "pipelines.log"
    for variant, form, kname, consts in jobs:
        seen = len(log.read_text().splitlines()) if log.exists() else 0
        compiled = Pipelines(dev).get(kname, consts)  # a fresh cache: its module is made now
        lines = log.read_text().splitlines()[seen:] if log.exists() else []
        if len(lines) != 1:
            raise RuntimeError(f"{variant}: expected one captured pipeline, got {lines}")
        _, mod_id, entry, spec = lines[0].split()
        stem = f"{variant}_{form}"
        shutil.copyfile(cap / f"{mod_id}.spv", out / f"{stem}.spv")
        info = spvinfo.read((out / f"{stem}.spv").read_bytes())
        row = registry.compiled_row(kname, compiled.constants)
        src = wgsl.source(row.name)
        (out / f"{stem}.wgsl").write_text(substitute_overrides(src, compiled.constants))
        entries.append({
            "file": f"{stem}.spv",
            "variant": variant,
            "form": form,
            "kernel": row.name,
            "trusted": bool(row.trusted),
            "constants": compiled.constants,
            "entry_point": entry,
            "specialization_constants": int(spec.split("=")[1]),
            "workgroup_size": info.workgroup_size,
            "spirv_version": info.version,
            "bindings": [b.__dict__ for b in info.bindings],
            "wgsl_bindings": [{"binding": b.index, "name": b.name, "kind": b.kind}
                              for b in wgsl.bindings(src)],
            "wgsl": f"{stem}.wgsl",
        })
        print(f"{stem:20s} {row.name:22s} wg={info.workgroup_size} spv {info.version} "
              f"{info.words * 4} bytes")
    manifest = {
        "generator": "wgpu-native naga via backends.gpu.pipelines (trusted modules), "
                     "captured by capture_layer.c",
        "wgpu_py": wgpu.__version__,
        "wgpu_native": ".".join(map(str, wgpu.backends.wgpu_native.lib_version_info)),
        "naga": "29.0.3 (in wgpu-native)",
        "captured_on": adapter_info(dev.adapter),
        "wgpu_device": _read_device_log(cap / "device.log"),
        "entries": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(entries)} modules -> {out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
