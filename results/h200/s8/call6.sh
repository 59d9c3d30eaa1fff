#!/usr/bin/env bash
# Session 8, call 6: the tuner with each row's fastest candidate in the race (ROW_MARGIN), cold,
# on the behemoth step's shapes only (the device budget left): bench.matmul_study, no parity
# pass, no 4096^3 (cube 256). Run after `source .gl/enter.sh`; writes $OUT.
timeout 170 python3 -m bench.matmul_study $OUT/study behemoth 256 --no-steps --no-checked \
  > $OUT/study.log 2>&1
echo "study rc=$?"
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/study.log | head -20
