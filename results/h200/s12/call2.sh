#!/usr/bin/env bash
# Session 12, call 2: study_unroll.py's a + b K fits (call 1's rows again, then the b128t84 UK
# twins in nn / nt and the staged write), then the study: every tunable row plus the TUNED UK
# twins at the mega and behemoth step shapes (cold plan cache, parity first). Run after
# `source .gl/enter.sh`; writes $OUT.
timeout 120 python3 results/h200/s12/study_unroll.py $OUT/unroll fit > $OUT/fit.log 2>&1
echo "fit rc=$?"
timeout 420 python3 results/h200/s12/study_unroll.py $OUT/unroll study > $OUT/study.log 2>&1
echo "study rc=$?"
tar czf $OUT/call2.tgz -C $OUT unroll && rm -rf $OUT/unroll
sed -n '/^| variant | form | M x N | per/,$p' $OUT/fit.log
grep -E "parity .*(FAIL|mismatch|error|not run)" $OUT/study.log | head
grep -E "^autotune" $OUT/study.log
tar xzf $OUT/call2.tgz -C /tmp unroll/new-vs-old.md; cut -d"|" -f2-8 /tmp/unroll/new-vs-old.md 2>/dev/null | head -40
