"""What a Vulkan driver compiled our SPIR-V kernels to, via VK_KHR_pipeline_executable_properties.

Usage::

    python3 vkstats.py SPV_DIR OUT_JSON [--device SUBSTRING] [--robust {wgpu,none}]

For each module in ``SPV_DIR/manifest.json`` (or every ``*.spv`` there, without a manifest) it
creates a compute pipeline with VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR and
..._CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR, then records per pipeline executable its name,
description and subgroup size, every statistic the driver reports (register count, spills,
shared memory, instruction counts: whatever it offers) and each internal representation
(disassembly; texts over ``--inline-limit`` characters go to ``<stem>.<n>.txt`` beside
OUT_JSON). A short table of the register / spill / local / shared / instruction statistics is
printed at the end.

``--robust wgpu`` (default) enables what wgpu enables on its devices (robustBufferAccess, and
robustBufferAccess2 where VK_EXT_robustness2 is there), since drivers may compile bounds checks
for it; ``--robust none`` shows the kernels without them.

Uses the ``vulkan`` package's cffi ABI-mode binding (no compiler needed) and its ``ffi``/``lib``
directly for the extension's queries. Exits 2 when the device lacks the extension.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spvinfo  # noqa: E402

EXT_EXEC = b"VK_KHR_pipeline_executable_properties"
EXT_ROBUST2 = b"VK_EXT_robustness2"
TABLE_KEYS = re.compile(r"regist|spill|local|shared|instruction|scratch|stack|private|binary",
                        re.I)
FORMATS = {0: "bool32", 1: "int64", 2: "uint64", 3: "float64"}
DEVICE_TYPES = {0: "other", 1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}

# values from vulkan_core.h (kept here so the script reads without the package's names)
ST_APP_INFO, ST_INSTANCE_CI, ST_DEVICE_QUEUE_CI, ST_DEVICE_CI = 0, 1, 2, 3
ST_SHADER_MODULE_CI, ST_DSL_CI, ST_PIPELINE_LAYOUT_CI = 16, 32, 30
ST_PIPELINE_STAGE_CI, ST_COMPUTE_PIPELINE_CI = 18, 29
ST_FEATURES2, ST_PROPERTIES2, ST_DRIVER_PROPS = 1000059000, 1000059001, 1000196000
ST_EXEC_FEATURES, ST_PIPELINE_INFO_KHR = 1000269000, 1000269001
ST_EXEC_PROPS, ST_EXEC_INFO = 1000269002, 1000269003
ST_EXEC_STAT, ST_EXEC_IR = 1000269004, 1000269005
ST_ROBUST2_FEATURES = 1000286000
STAGE_COMPUTE, QUEUE_COMPUTE = 0x20, 0x2
DESC_UNIFORM, DESC_STORAGE = 6, 7
CAPTURE_FLAGS = 0x40 | 0x80  # CAPTURE_STATISTICS_BIT_KHR | CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR
VK_SUCCESS, VK_INCOMPLETE = 0, 5


class VkError(RuntimeError):
    """A Vulkan call returned an error code."""


def _load() -> tuple[Any, Any]:
    try:
        import vulkan  # noqa: PLC0415
    except (ImportError, OSError) as e:
        print(f"vkstats: cannot load the vulkan binding or libvulkan.so.1: {e}")
        sys.exit(2)
    return vulkan.ffi, vulkan.lib


ffi, lib = _load()


def check(result: int, what: str) -> int:
    """Raise on a Vulkan error code; pass VK_SUCCESS and VK_INCOMPLETE."""
    if result not in (VK_SUCCESS, VK_INCOMPLETE):
        raise VkError(f"{what} failed: VkResult {result}")
    return result


def cstr(chars: Any) -> str:
    """A fixed char array as str."""
    return ffi.string(chars).decode("utf-8", "replace")


def version(v: int) -> str:
    """A packed Vulkan version as major.minor.patch."""
    return f"{v >> 22 & 0x7F}.{v >> 12 & 0x3FF}.{v & 0xFFF}"


def create_instance() -> Any:
    """A Vulkan 1.2 instance (no layers, no extensions)."""
    app = ffi.new("VkApplicationInfo*", {"sType": ST_APP_INFO, "apiVersion": (1 << 22) | (2 << 12)})
    name = ffi.new("char[]", b"vkstats")
    app.pApplicationName = name
    ci = ffi.new("VkInstanceCreateInfo*", {"sType": ST_INSTANCE_CI, "pApplicationInfo": app})
    inst = ffi.new("VkInstance*")
    check(lib.vkCreateInstance(ci, ffi.NULL, inst), "vkCreateInstance")
    return inst[0]


def physical_devices(inst: Any) -> list[Any]:
    """All physical devices of ``inst``."""
    n = ffi.new("uint32_t*")
    check(lib.vkEnumeratePhysicalDevices(inst, n, ffi.NULL), "vkEnumeratePhysicalDevices")
    arr = ffi.new("VkPhysicalDevice[]", n[0])
    check(lib.vkEnumeratePhysicalDevices(inst, n, arr), "vkEnumeratePhysicalDevices")
    return [arr[i] for i in range(n[0])]


def device_info(pd: Any) -> dict[str, Any]:
    """Name, type, API and driver versions, driver name/info of a physical device."""
    drv = ffi.new("VkPhysicalDeviceDriverProperties*", {"sType": ST_DRIVER_PROPS})
    p2 = ffi.new("VkPhysicalDeviceProperties2*", {"sType": ST_PROPERTIES2, "pNext": drv})
    lib.vkGetPhysicalDeviceProperties2(pd, p2)
    p = p2.properties
    return {
        "name": cstr(p.deviceName),
        "type": DEVICE_TYPES.get(p.deviceType, str(p.deviceType)),
        "vendor_id": f"0x{p.vendorID:04x}",
        "device_id": f"0x{p.deviceID:04x}",
        "api_version": version(p.apiVersion),
        "driver_version_raw": p.driverVersion,
        "driver_name": cstr(drv.driverName),
        "driver_info": cstr(drv.driverInfo),
        "max_compute_shared_memory": p.limits.maxComputeSharedMemorySize,
    }


def extensions(pd: Any) -> set[bytes]:
    """Names of the device extensions ``pd`` supports."""
    n = ffi.new("uint32_t*")
    check(lib.vkEnumerateDeviceExtensionProperties(pd, ffi.NULL, n, ffi.NULL), "extensions")
    arr = ffi.new("VkExtensionProperties[]", n[0])
    check(lib.vkEnumerateDeviceExtensionProperties(pd, ffi.NULL, n, arr), "extensions")
    return {ffi.string(arr[i].extensionName) for i in range(n[0])}


def pick_device(inst: Any, want: str | None) -> Any:
    """The first device whose name contains ``want``; else a discrete GPU, else the first."""
    pds = physical_devices(inst)
    if not pds:
        print("vkstats: no Vulkan physical device found")
        sys.exit(2)
    infos = [device_info(pd) for pd in pds]
    for info in infos:
        print(f"  device: {info['name']} ({info['type']}, {info['driver_name']} "
              f"{info['driver_info']})")
    if want:
        hits = [pd for pd, i in zip(pds, infos, strict=True) if want.lower() in i["name"].lower()]
        if not hits:
            print(f"vkstats: no Vulkan device name contains {want!r}")
            sys.exit(2)
        return hits[0]
    discrete = [pd for pd, i in zip(pds, infos, strict=True) if i["type"] == "discrete"]
    return (discrete or pds)[0]


def create_device(pd: Any, robust: str) -> tuple[Any, dict[str, Any]]:
    """A logical device with the extension and ``pipelineExecutableInfo`` enabled, one compute
    queue, and (``robust == "wgpu"``) the robustness features wgpu enables where supported."""
    exts = extensions(pd)
    if EXT_EXEC not in exts:
        print(f"vkstats: {device_info(pd)['name']} does not support {EXT_EXEC.decode()}")
        sys.exit(2)
    exec_f = ffi.new("VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR*",
                     {"sType": ST_EXEC_FEATURES})
    rob2 = ffi.new("VkPhysicalDeviceRobustness2FeaturesEXT*", {"sType": ST_ROBUST2_FEATURES})
    has_r2 = EXT_ROBUST2 in exts
    if has_r2:
        exec_f.pNext = rob2
    feats = ffi.new("VkPhysicalDeviceFeatures2*", {"sType": ST_FEATURES2, "pNext": exec_f})
    lib.vkGetPhysicalDeviceFeatures2(pd, feats)
    if not exec_f.pipelineExecutableInfo:
        print(f"vkstats: {device_info(pd)['name']} lacks feature pipelineExecutableInfo")
        sys.exit(2)
    supported = {"robustBufferAccess": bool(feats.features.robustBufferAccess),
                 "robustBufferAccess2": bool(has_r2 and rob2.robustBufferAccess2)}
    # enable only what we want: start from zeroed features
    en_exec = ffi.new("VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR*",
                      {"sType": ST_EXEC_FEATURES, "pipelineExecutableInfo": 1})
    en_feats = ffi.new("VkPhysicalDeviceFeatures2*", {"sType": ST_FEATURES2, "pNext": en_exec})
    en_r2 = ffi.new("VkPhysicalDeviceRobustness2FeaturesEXT*", {"sType": ST_ROBUST2_FEATURES})
    names = [EXT_EXEC]
    enabled = {"robustBufferAccess": False, "robustBufferAccess2": False}
    if robust == "wgpu":
        if supported["robustBufferAccess"]:
            en_feats.features.robustBufferAccess = 1
            enabled["robustBufferAccess"] = True
        if supported["robustBufferAccess2"]:
            en_r2.robustBufferAccess2 = 1
            en_exec.pNext = en_r2
            names.append(EXT_ROBUST2)
            enabled["robustBufferAccess2"] = True
    n = ffi.new("uint32_t*")
    lib.vkGetPhysicalDeviceQueueFamilyProperties(pd, n, ffi.NULL)
    qf = ffi.new("VkQueueFamilyProperties[]", n[0])
    lib.vkGetPhysicalDeviceQueueFamilyProperties(pd, n, qf)
    family = next(i for i in range(n[0]) if qf[i].queueFlags & QUEUE_COMPUTE)
    prio = ffi.new("float*", 1.0)
    qci = ffi.new("VkDeviceQueueCreateInfo*", {"sType": ST_DEVICE_QUEUE_CI,
                                               "queueFamilyIndex": family, "queueCount": 1,
                                               "pQueuePriorities": prio})
    cnames = [ffi.new("char[]", s) for s in names]
    pnames = ffi.new("char*[]", cnames)
    dci = ffi.new("VkDeviceCreateInfo*", {
        "sType": ST_DEVICE_CI, "pNext": en_feats, "queueCreateInfoCount": 1,
        "pQueueCreateInfos": qci, "enabledExtensionCount": len(names),
        "ppEnabledExtensionNames": pnames})
    dev = ffi.new("VkDevice*")
    check(lib.vkCreateDevice(pd, dci, ffi.NULL, dev), "vkCreateDevice")
    return dev[0], {"supported": supported, "enabled": enabled}


class Executables:
    """The extension's three queries for one device."""

    def __init__(self, dev: Any) -> None:
        self.dev = dev

        def fn(name: str) -> Any:
            p = lib.vkGetDeviceProcAddr(dev, name.encode())
            if p == ffi.NULL:
                raise VkError(f"{name} not found")
            return ffi.cast(f"PFN_{name}", p)

        self.props_fn = fn("vkGetPipelineExecutablePropertiesKHR")
        self.stats_fn = fn("vkGetPipelineExecutableStatisticsKHR")
        self.irs_fn = fn("vkGetPipelineExecutableInternalRepresentationsKHR")

    def properties(self, pipeline: Any) -> list[dict[str, Any]]:
        """Name, description, stages and subgroup size of each executable of ``pipeline``."""
        info = ffi.new("VkPipelineInfoKHR*", {"sType": ST_PIPELINE_INFO_KHR, "pipeline": pipeline})
        n = ffi.new("uint32_t*")
        check(self.props_fn(self.dev, info, n, ffi.NULL), "executable properties")
        arr = ffi.new("VkPipelineExecutablePropertiesKHR[]", n[0])
        for i in range(n[0]):
            arr[i].sType = ST_EXEC_PROPS
        check(self.props_fn(self.dev, info, n, arr), "executable properties")
        return [{"index": i, "name": cstr(arr[i].name), "description": cstr(arr[i].description),
                 "stages": int(arr[i].stages), "subgroup_size": int(arr[i].subgroupSize)}
                for i in range(n[0])]

    def _info(self, pipeline: Any, index: int) -> Any:
        return ffi.new("VkPipelineExecutableInfoKHR*", {"sType": ST_EXEC_INFO,
                                                         "pipeline": pipeline,
                                                         "executableIndex": index})

    def statistics(self, pipeline: Any, index: int) -> list[dict[str, Any]]:
        """Every statistic of executable ``index``: name, description, format, value."""
        info = self._info(pipeline, index)
        n = ffi.new("uint32_t*")
        check(self.stats_fn(self.dev, info, n, ffi.NULL), "statistics")
        arr = ffi.new("VkPipelineExecutableStatisticKHR[]", n[0])
        for i in range(n[0]):
            arr[i].sType = ST_EXEC_STAT
        check(self.stats_fn(self.dev, info, n, arr), "statistics")
        out = []
        for i in range(n[0]):
            s = arr[i]
            fmt = FORMATS.get(s.format, str(s.format))
            value = {"bool32": lambda v: bool(v.b32), "int64": lambda v: int(v.i64),
                     "uint64": lambda v: int(v.u64), "float64": lambda v: float(v.f64)}
            out.append({"name": cstr(s.name), "description": cstr(s.description),
                        "format": fmt, "value": value.get(fmt, lambda v: None)(s.value)})
        return out

    def representations(self, pipeline: Any, index: int) -> list[dict[str, Any]]:
        """Each internal representation of executable ``index``: name, description, text or
        bytes."""
        info = self._info(pipeline, index)
        n = ffi.new("uint32_t*")
        check(self.irs_fn(self.dev, info, n, ffi.NULL), "internal representations")
        if n[0] == 0:
            return []
        arr = ffi.new("VkPipelineExecutableInternalRepresentationKHR[]", n[0])
        for i in range(n[0]):
            arr[i].sType = ST_EXEC_IR
        check(self.irs_fn(self.dev, info, n, arr), "internal representations (sizes)")
        bufs = []
        for i in range(n[0]):
            buf = ffi.new("char[]", max(int(arr[i].dataSize), 1))
            bufs.append(buf)
            arr[i].pData = buf
        check(self.irs_fn(self.dev, info, n, arr), "internal representations (data)")
        out = []
        for i in range(n[0]):
            raw = bytes(ffi.buffer(bufs[i], int(arr[i].dataSize)))
            out.append({"name": cstr(arr[i].name), "description": cstr(arr[i].description),
                        "is_text": bool(arr[i].isText), "data": raw})
        return out


def make_pipeline(dev: Any, code: bytes, entry: str) -> tuple[Any, list[Any]]:
    """A compute pipeline for ``code`` with capture flags, its layout read from the SPIR-V;
    the pipeline and the objects to destroy after it."""
    info = spvinfo.read(code)
    if info.entry_points and entry not in info.entry_points:
        raise VkError(f"entry point {entry!r} not in module ({info.entry_points})")
    keep: list[Any] = []
    n_sets = max((b.set for b in info.bindings), default=-1) + 1
    set_layouts = ffi.new("VkDescriptorSetLayout[]", max(n_sets, 1))
    for s in range(n_sets):
        bs = [b for b in info.bindings if b.set == s]
        arr = ffi.new("VkDescriptorSetLayoutBinding[]", max(len(bs), 1))
        for i, b in enumerate(bs):
            arr[i].binding = b.binding
            arr[i].descriptorType = DESC_STORAGE if b.kind == "storage" else DESC_UNIFORM
            arr[i].descriptorCount = 1
            arr[i].stageFlags = STAGE_COMPUTE
        ci = ffi.new("VkDescriptorSetLayoutCreateInfo*", {"sType": ST_DSL_CI,
                                                          "bindingCount": len(bs),
                                                          "pBindings": arr})
        check(lib.vkCreateDescriptorSetLayout(dev, ci, ffi.NULL, set_layouts + s), "set layout")
        keep.append(("dsl", set_layouts[s]))
    plci = ffi.new("VkPipelineLayoutCreateInfo*", {"sType": ST_PIPELINE_LAYOUT_CI,
                                                   "setLayoutCount": n_sets,
                                                   "pSetLayouts": set_layouts})
    layout = ffi.new("VkPipelineLayout*")
    check(lib.vkCreatePipelineLayout(dev, plci, ffi.NULL, layout), "pipeline layout")
    keep.append(("layout", layout[0]))
    words = ffi.new("uint32_t[]", len(code) // 4)
    ffi.memmove(words, code, len(code) // 4 * 4)
    smci = ffi.new("VkShaderModuleCreateInfo*", {"sType": ST_SHADER_MODULE_CI,
                                                 "codeSize": len(code) // 4 * 4, "pCode": words})
    module = ffi.new("VkShaderModule*")
    check(lib.vkCreateShaderModule(dev, smci, ffi.NULL, module), "vkCreateShaderModule")
    keep.append(("module", module[0]))
    name = ffi.new("char[]", entry.encode())
    cpci = ffi.new("VkComputePipelineCreateInfo*", {
        "sType": ST_COMPUTE_PIPELINE_CI, "flags": CAPTURE_FLAGS, "layout": layout[0],
        "stage": {"sType": ST_PIPELINE_STAGE_CI, "stage": STAGE_COMPUTE, "module": module[0],
                  "pName": name}})
    pipe = ffi.new("VkPipeline*")
    check(lib.vkCreateComputePipelines(dev, ffi.NULL, 1, cpci, ffi.NULL, pipe),
          "vkCreateComputePipelines")
    return pipe[0], keep


def destroy(dev: Any, pipeline: Any, keep: list[Any]) -> None:
    """Destroy a pipeline and its module and layouts."""
    if pipeline is not None:
        lib.vkDestroyPipeline(dev, pipeline, ffi.NULL)
    for kind, h in reversed(keep):
        {"dsl": lib.vkDestroyDescriptorSetLayout, "layout": lib.vkDestroyPipelineLayout,
         "module": lib.vkDestroyShaderModule}[kind](dev, h, ffi.NULL)


def load_manifest(spv_dir: Path) -> list[dict[str, Any]]:
    """The manifest's entries, or one entry per ``*.spv`` file where there is no manifest."""
    m = spv_dir / "manifest.json"
    if m.exists():
        return json.loads(m.read_text())["entries"]
    return [{"file": p.name, "variant": p.stem, "form": "", "entry_point": "main"}
            for p in sorted(spv_dir.glob("*.spv"))]


def run_entry(ex: Executables, dev: Any, spv_dir: Path, out_dir: Path, e: dict[str, Any],
              inline_limit: int) -> dict[str, Any]:
    """Create the pipeline of one manifest entry and collect what the driver says about it."""
    rec = {k: e.get(k) for k in ("file", "variant", "form", "kernel", "constants",
                                 "entry_point", "workgroup_size")}
    stem = Path(e["file"]).stem
    pipeline, keep = None, []
    try:
        pipeline, keep = make_pipeline(dev, (spv_dir / e["file"]).read_bytes(),
                                       e.get("entry_point") or "main")
        exes = ex.properties(pipeline)
        n_ir = 0
        for x in exes:
            x["statistics"] = ex.statistics(pipeline, x["index"])
            irs = []
            for ir in ex.representations(pipeline, x["index"]):
                data = ir.pop("data")
                if ir["is_text"]:
                    text = data.split(b"\0", 1)[0].decode("utf-8", "replace")
                    ir["chars"] = len(text)
                    if len(text) > inline_limit:
                        path = out_dir / f"{stem}.{n_ir}.txt"
                        path.write_text(text)
                        ir["file"] = path.name
                    else:
                        ir["text"] = text
                else:
                    path = out_dir / f"{stem}.{n_ir}.bin"
                    path.write_bytes(data)
                    ir["file"], ir["bytes"] = path.name, len(data)
                n_ir += 1
                irs.append(ir)
            x["internal_representations"] = irs
        rec["executables"] = exes
    except (VkError, OSError, ValueError) as err:
        rec["error"] = str(err)
    finally:
        destroy(dev, pipeline, keep)
    return rec


def table(records: list[dict[str, Any]]) -> str:
    """variant, form and the statistics whose names mention registers, spills, local, shared
    memory or instructions (one row per executable)."""
    cols: list[str] = []
    rows = []
    for r in records:
        for x in r.get("executables", []) or [{}]:
            vals = {}
            for s in x.get("statistics", []):
                if TABLE_KEYS.search(s["name"]):
                    vals[s["name"]] = s["value"]
                    if s["name"] not in cols:
                        cols.append(s["name"])
            name = r["variant"] + (f"[{x['index']}]" if len(r.get("executables", [])) > 1 else "")
            rows.append((name, r.get("form") or "", x.get("subgroup_size", ""), vals,
                         r.get("error", "")))
    head = ["variant", "form", "subgroup", *cols]
    lines = [head]
    for name, form, sg, vals, err in rows:
        lines.append([name, form, str(sg), *(str(vals.get(c, "")) for c in cols)]
                     + ([f"ERROR {err}"] if err else []))
    width = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(width[i]) if i < len(width) else c
                               for i, c in enumerate(line)).rstrip() for line in lines)


def main() -> int:
    """Parse arguments, query the driver for every module, write OUT_JSON, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spv_dir", type=Path)
    ap.add_argument("out_json", type=Path)
    ap.add_argument("--device", help="substring of the device name (default: a discrete GPU)")
    ap.add_argument("--robust", choices=["wgpu", "none"], default="wgpu",
                    help="robustness features to enable (default: what wgpu enables)")
    ap.add_argument("--inline-limit", type=int, default=2000,
                    help="internal representations longer than this go to files")
    args = ap.parse_args()
    out_dir = args.out_json.resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = load_manifest(args.spv_dir)
    inst = create_instance()
    pd = pick_device(inst, args.device)
    dinfo = device_info(pd)
    print(f"vkstats: using {dinfo['name']} ({dinfo['driver_name']} {dinfo['driver_info']}, "
          f"Vulkan {dinfo['api_version']})")
    dev, robustness = create_device(pd, args.robust)
    print(f"vkstats: robustness {robustness['enabled']}")
    ex = Executables(dev)
    records = []
    for e in entries:
        rec = run_entry(ex, dev, args.spv_dir, out_dir, e, args.inline_limit)
        records.append(rec)
        nstat = sum(len(x["statistics"]) for x in rec.get("executables", []))
        nir = sum(len(x["internal_representations"]) for x in rec.get("executables", []))
        err = f" ERROR {rec['error']}" if "error" in rec else ""
        print(f"  {e['file']}: {len(rec.get('executables', []))} executable(s), {nstat} "
              f"statistics, {nir} representation(s){err}")
    result = {"device": dinfo, "robustness": robustness, "spv_dir": str(args.spv_dir),
              "entries": records}
    args.out_json.write_text(json.dumps(result, indent=1))
    lib.vkDestroyDevice(dev, ffi.NULL)
    lib.vkDestroyInstance(inst, ffi.NULL)
    print(table(records))
    print(f"vkstats: wrote {args.out_json}")
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
