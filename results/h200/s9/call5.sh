#!/usr/bin/env bash
# Session 9, call 5: study_t84.py (the rows auto picks on the narrow grids, plus
# 8x4 / 4x8-output tiles of 128x64, 64x128, 64x64 with v4 / via-tn twins; cold plan cache, parity
# first). Run after `source .gl/enter.sh`; writes $OUT.
timeout 150 python3 results/h200/s9/study_t84.py $OUT/t84 > $OUT/t84.log 2>&1
echo "t84 rc=$?"
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/t84.log | head
grep -E "^autotune" $OUT/t84.log
cat $OUT/t84/new-vs-old.md 2>/dev/null | cut -d'|' -f2-8 | head -40
