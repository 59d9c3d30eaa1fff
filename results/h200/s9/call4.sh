#!/usr/bin/env bash
# Session 9, call 4: study_wl.py (every tunable row plus the blocked rows with warps as 8 x 4 lane
# blocks; cold plan cache, parity first), then the driver's statistics of the carried SPIR-V
# (results/h200/s8/vkstats/spv, made by make_spv.py --study results/h200/s9/study_wl.py --rows
# b128t84:nn,b128t84l:nn,b128:tn,b128l:tn,b64v4:nn,b64lv4:nn,b128x64v4:nn,b128x64lv4:nn).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 470 python3 results/h200/s9/study_wl.py $OUT/wl > $OUT/wl.log 2>&1
echo "wl rc=$?"
OUT=$OUT timeout 45 bash results/h200/s8/vkstats/run.sh > $OUT/vkstats.log 2>&1
echo "vkstats rc=$?"
tar czf $OUT/vkstats.tgz -C $OUT vkstats && rm -rf $OUT/vkstats
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/wl.log | head
grep -E "^autotune" $OUT/wl.log
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/wl.log | cut -d'|' -f1-7 | head -36
cat $OUT/wl/new-vs-old.md 2>/dev/null | head -40
sed -n '1,/== robustness off/p' $OUT/vkstats.log | tail -11
