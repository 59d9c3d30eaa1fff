#!/usr/bin/env bash
# Session 12, call 5: study_lanes.py (b128t84's rows with 8 x 4 lane blocks, b128k16 with UK:
# a + b K fits, then the tuner's timing at six step shapes, parity first, cuBLAS beside).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 330 python3 results/h200/s12/study_lanes.py $OUT/lanes > $OUT/lanes.log 2>&1
echo "lanes rc=$?"
tar czf $OUT/call5.tgz -C $OUT lanes && rm -rf $OUT/lanes
grep -E "^parity" $OUT/lanes.log
sed -n '/^| variant | form | M x N | per/,/^$/p' $OUT/lanes.log
grep -E "^\| (nn|nt|tn) " $OUT/lanes.log
