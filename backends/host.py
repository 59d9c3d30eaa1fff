"""Facts about the machine a backend runs on, needed by backends and harness alike.

They live under ``backends`` so that the backends can name their device without importing the
harness; ``bench.environment`` builds the full environment record on top of them.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

# Software rasterisers that some drivers do not report with adapter type CPU.
SOFTWARE_NAMES = ("llvmpipe", "lavapipe", "swiftshader", "warp", "softpipe", "microsoft basic")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                timeout=5,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def is_software(info: dict[str, Any]) -> bool:
    """A software rasteriser: adapter type CPU, or a known software implementation by name."""
    if str(info.get("adapter_type", "")).lower() == "cpu":
        return True
    text = " ".join(
        str(info.get(k, "")) for k in ("adapter", "device", "vendor", "description", "driver")
    )
    return any(n in text.lower() for n in SOFTWARE_NAMES)
