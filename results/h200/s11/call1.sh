#!/usr/bin/env bash
# Session 11, call 1: study_go.py (g / o staging rows beside the rows auto picks; cold plan
# cache, parity first). Run after `source .gl/enter.sh`; writes $OUT.
timeout 420 python3 results/h200/s11/study_go.py $OUT/go > $OUT/go.log 2>&1
echo "go rc=$?"
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/go.log | head
grep -E "^autotune" $OUT/go.log
cut -d'|' -f2-8 $OUT/go/new-vs-old.md 2>/dev/null | head -40
