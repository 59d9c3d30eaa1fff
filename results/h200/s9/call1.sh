#!/usr/bin/env bash
# Session 9, call 1: study_extra.py (every tunable row, w128s2 / w128s2tr among them, plus the
# sliced-K study rows; cold plan cache, parity first, the tuner's races as the product runs them,
# ROW_MARGIN included), then the driver's statistics of the carried SPIR-V
# (results/h200/s8/vkstats/spv, made by make_spv.py --study results/h200/s9/study_extra.py --rows
# w128:tn,w128k4:tn,w128s2:tn,w128s2:nn,w128s2k16:tn,w128x64s2:tn,w64x128s2:tn,w64s2:tn,b128t84:nn).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 440 python3 results/h200/s9/study_extra.py $OUT/extra > $OUT/extra.log 2>&1
echo "extra rc=$?"
OUT=$OUT timeout 60 bash results/h200/s8/vkstats/run.sh > $OUT/vkstats.log 2>&1
echo "vkstats rc=$?"
tar czf $OUT/vkstats.tgz -C $OUT vkstats && rm -rf $OUT/vkstats
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/extra.log | head
grep -E "^autotune" $OUT/extra.log
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/extra.log | cut -d'|' -f1-7 | head -36
cat $OUT/extra/new-vs-old.md 2>/dev/null | head -40
sed -n '1,/== robustness off/p' $OUT/vkstats.log | tail -14
