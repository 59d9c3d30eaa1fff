#!/usr/bin/env bash
# Session 8, call 2: the FMA probe, product (trusted) vs checked build; then study_extra.py (every
# tunable row plus the session's extra tile shapes, cold plan cache, parity first).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 60 python3 results/h200/s8/probe.py > $OUT/probe.log 2>&1
echo "probe rc=$?"
timeout 420 python3 results/h200/s8/study_extra.py $OUT/extra > $OUT/extra.log 2>&1
echo "extra rc=$?"
cat $OUT/probe.log | grep -v "^settle"
grep -E "parity .*(FAIL|mismatch|error)" $OUT/extra.log | head
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/extra.log | head -36
cat $OUT/extra/new-vs-old.md 2>/dev/null
