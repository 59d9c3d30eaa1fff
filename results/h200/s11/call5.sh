#!/usr/bin/env bash
# Session 11, call 5: study_opl.py (b128t84p: the staged write with scalar slab stores; a + b K
# fits, then every tunable row at the step shapes, cold plan cache, parity first). Run after
# `source .gl/enter.sh`; writes $OUT.
timeout 330 python3 results/h200/s11/study_opl.py $OUT/opl > $OUT/opl.log 2>&1
echo "opl rc=$?"
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/opl.log | head
sed -n '/^| variant | form | M x N/,/^$/p' $OUT/opl.log
grep -E "^autotune" $OUT/opl.log
cut -d'|' -f2-8 $OUT/opl/new-vs-old.md 2>/dev/null | head -40
tar czf $OUT/opl.tgz -C $OUT opl && rm -rf $OUT/opl
