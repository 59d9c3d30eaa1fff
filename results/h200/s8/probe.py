"""Session 8: the FMA probe as the product builds it (trusted since this session) beside the same
WGSL built with naga's runtime checks, three interleaved rounds, after the settle.

``python3 results/h200/s8/probe.py`` (after ``source .gl/enter.sh``); prints TFLOP/s per build
and round.
"""

from __future__ import annotations

from dataclasses import replace
from statistics import median

from backends.gpu.microbench import MicroBench, settle
from kernels import registry


def main() -> None:
    print("settle:", settle())
    mb = MicroBench()
    print("adapter:", mb.describe()["adapter"], mb.describe()["driver"])
    registry.KERNELS["probe_fma_checked"] = replace(registry.KERNELS["probe_fma"],
                                                    name="probe_fma_checked", trusted=False)
    cases = {"product (fma_probe)": mb.fma_probe(repeats=3)}
    pool, g = mb._start("probe_fma_checked")
    out = pool.floats("out", 256 * 8192)
    for _ in range(3):
        g.add("probe_fma_checked", {"out": out},
              {"n": 256 * 8192, "iters": 2048, "mul": 0.5, "add": 0.5})
    cases["checked build"] = mb._finish("probe_fma_checked", pool, g, 3,
                                        flops=64.0 * 256 * 8192 * 2048)
    for r in range(3):
        for name, case in cases.items():
            sec = median(case.run() for _ in range(5))
            print(f"round {r} {name}: {case.flops / sec / 1e12:.1f} TFLOP/s", flush=True)


if __name__ == "__main__":
    main()
