#!/usr/bin/env bash
# Session 8, call 3: study_k.py (every tunable row, w128k4 / w128k4tr among them, plus the blocked
# rows at shorter k-tiles and their twins; cold plan cache, parity first), then the driver's
# statistics of the SPIR-V in results/h200/s8/vkstats/spv (carried; make_spv.py at this commit).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 450 python3 results/h200/s8/study_k.py $OUT/k > $OUT/k.log 2>&1
echo "k rc=$?"
OUT=$OUT timeout 60 bash results/h200/s8/vkstats/run.sh > $OUT/vkstats.log 2>&1
echo "vkstats rc=$?"
grep -E "parity .*(FAIL|mismatch|error)" $OUT/k.log | head
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/k.log | head -36
cat $OUT/k/new-vs-old.md 2>/dev/null
sed -n '1,/== robustness off/p' $OUT/vkstats.log | tail -25
