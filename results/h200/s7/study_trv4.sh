#!/usr/bin/env bash
# Session 7, call 6: the via-tn rows' v4 twins (b128trv4, b128t84trv4) beside b128tr, b128t84tr at
# the mega / behemoth step shapes and 4096^3 (bench.matmul_study, cold plan cache, parity first,
# only these four rows timed). Run after `source .gl/enter.sh`; writes $OUT.
timeout 240 python3 -m bench.matmul_study $OUT/study mega,behemoth 4096 \
  --variants b128tr,b128t84tr,b128trv4,b128t84trv4 --new b128trv4,b128t84trv4 \
  --parity --no-steps --no-checked > $OUT/study.log 2>&1
echo "study rc=$?"
grep -E "parity .*(FAIL|mismatch|error)" $OUT/study.log | head
cat $OUT/study/new-vs-old.md 2>/dev/null || tail -30 $OUT/study.log
