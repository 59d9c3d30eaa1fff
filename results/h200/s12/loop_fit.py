"""Session 12, call 6: the k-loop and fixed cost of b128t84's builds on main's final code, by
session 10's method (``results/h200/s10/fixed_cost.py``: seconds = a + b K over K = 16..2048).

Call 5 read b128t84's tn loop at 1.40 us per k-tile (its staged-write and v4 builds 1.54 and
1.70), where calls 1-2 read 1.53 for the same UK = 16 row on code without ``lane_xy``; this
checks the plain build's loop on the code the final tables ran.

``python3 results/h200/s12/loop_fit.py OUT_DIR``: writes ``fixed-cost.csv`` and prints the fits.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROWS = (  # (variant, form, M, N)
    ("b128t84", "tn", 4096, 512),
    ("b128t84o", "tn", 4096, 512),
    ("b128t84v4", "tn", 4096, 512),
    ("b128t84", "nn", 4096, 512),
    ("b128t84o", "nn", 4096, 512),
)


def main(argv: list[str]) -> int:
    path = Path(__file__).resolve().parents[1] / "s10" / "fixed_cost.py"
    spec = importlib.util.spec_from_file_location("fixed_cost", path)
    fixed_cost = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed_cost)
    fixed_cost.ROWS = ROWS
    return fixed_cost.main(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
