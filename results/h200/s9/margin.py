"""What the tuner's ROW_MARGIN costs: ``tune_times.py`` (a preset's cold tuning, its picks, the
step from them) with ``backends.gpu.autotune.ROW_MARGIN`` set for this process.

    GPT_CURVES_TUNE_CACHE=/tmp/x.json python results/h200/s9/margin.py PRESET MARGIN

The margin is in the plan digest, so each margin's plans need their own cache file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from backends.gpu import autotune

if __name__ == "__main__":
    autotune.ROW_MARGIN = float(sys.argv.pop(2))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tune_times

    tune_times.main()
