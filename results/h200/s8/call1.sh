#!/usr/bin/env bash
# Session 8, call 1: floor.py (each side's cost per matmul call read three ways, the FMA probe
# with and without naga's checks, the split-K reduce scalar vs vec4), then bench.matmul_study over
# every tunable row with the warp-tile v4 twins as the new rows (cold plan cache, parity first).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 200 python3 results/h200/s8/floor.py $OUT/floor > $OUT/floor.log 2>&1
echo "floor rc=$?"
V=$(python3 -c "from kernels import registry; print(','.join(n for n, v in registry.MATMULS.items() if v.tune))")
timeout 330 python3 -m bench.matmul_study $OUT/study mega,behemoth 4096 --variants $V \
  --new w128v4,w128trv4 --parity --no-steps --no-checked > $OUT/study.log 2>&1
echo "study rc=$?"
grep -v "^|" $OUT/floor.log | tail -8
sed -n '/^| form MxNxK | candidate/,$p' $OUT/floor.log
grep -E "parity .*(FAIL|mismatch|error)" $OUT/study.log | head
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/study.log | head -36
cat $OUT/study/new-vs-old.md 2>/dev/null
