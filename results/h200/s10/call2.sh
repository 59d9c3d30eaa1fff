#!/usr/bin/env bash
# Session 10, call 2: fixed_cost.py (per-dispatch vs one-pass timing of b128t84 / w128k4 / b64v4
# over K at 4096 x 512 and 4096 x 4096, cuBLAS beside). Run after `source .gl/enter.sh`; writes $OUT.
timeout 300 python3 results/h200/s10/fixed_cost.py $OUT/fc > $OUT/fc.log 2>&1
echo "fc rc=$?"
cat $OUT/fc.log
