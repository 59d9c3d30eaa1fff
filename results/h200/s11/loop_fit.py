"""Session 11, call 4: the k-loop and fixed cost of the rows call 1-3 changed, by session 10's
method (``results/h200/s10/fixed_cost.py``: seconds = a + b K fitted over K = 16..2048, timed as
one pass of back-to-back dispatches and as a timed pass per dispatch, cuBLAS beside).

Questions: does nn / nt's k-loop now run at the tn form's rate (call 1 measured whole products,
1.02-1.38x faster than on the old staging); does the ``o`` build of ``b128t84`` pay its long-K
loss in the loop's slope (b) and win its short-K gain in the intercept (a), as the v4 build did
in session 10?

``python3 results/h200/s11/loop_fit.py OUT_DIR``: writes ``fixed-cost.csv`` and prints the fits.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROWS = (  # (variant, form, M, N)
    ("b128t84", "nn", 4096, 512),
    ("b128t84", "nt", 4096, 512),
    ("b128t84", "tn", 4096, 512),
    ("b128t84o", "nn", 4096, 512),
    ("b128t84o", "tn", 4096, 512),
    ("b128t84v4", "tn", 4096, 512),
    ("b128", "nn", 4096, 512),
    ("b128", "tn", 4096, 512),
    ("b128t84", "tn", 4096, 4096),
    ("b128t84o", "tn", 4096, 4096),
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
