#!/usr/bin/env bash
# Session 11, call 3: study_narrow.py (narrow tiles with the new staging, v4 / o twins, beside the
# rows auto picks; cold plan cache, parity first), then the driver's statistics of the carried
# SPIR-V (results/h200/s8/vkstats/spv, made by make_spv.py --rows b128t84:tn,b128t84o:tn,
# b128t84v4:tn,b128:tn,b128o:tn,b128v4:tn,b128t84:nn,w128k4:tn). Run after `source .gl/enter.sh`;
# writes $OUT.
timeout 420 python3 results/h200/s11/study_narrow.py $OUT/narrow > $OUT/narrow.log 2>&1
echo "narrow rc=$?"
OUT=$OUT timeout 45 bash results/h200/s8/vkstats/run.sh > $OUT/vkstats.log 2>&1
echo "vkstats rc=$?"
tar czf $OUT/narrow.tgz -C $OUT narrow vkstats && rm -rf $OUT/narrow $OUT/vkstats
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/narrow.log | head
grep -E "^autotune" $OUT/narrow.log
tar xzf $OUT/narrow.tgz -C /tmp narrow/new-vs-old.md; cut -d"|" -f2-8 /tmp/narrow/new-vs-old.md 2>/dev/null | head -40
sed -n '1,/== robustness off/p' $OUT/vkstats.log | tail -12
