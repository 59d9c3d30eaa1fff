#!/usr/bin/env bash
# Session 10, call 2: fixed_cost.py (per-dispatch vs one-pass timing of b128t84 / w128k4 / b64v4
# over K at 4096 x 512 and 4096 x 4096, cuBLAS beside; then the step shapes' best registry rows of
# call 1 timed both ways). Run after `source .gl/enter.sh`; writes $OUT.
timeout 400 python3 results/h200/s10/fixed_cost.py $OUT/fc --steps results/h200/s10/call1/t84/matmul-candidates.csv > $OUT/fc.log 2>&1
echo "fc rc=$?"
cat $OUT/fc.log
