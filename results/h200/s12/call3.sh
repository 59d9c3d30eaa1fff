#!/usr/bin/env bash
# Session 12, call 3: study_splits.py (tn step shapes, b128t84u16o and the 128x64 8x4 tile at
# split factors 2..16 with 7, 9, 10, 11 added and up to 2048 workgroups; parity gates; cuBLAS).
# Run after `source .gl/enter.sh`; writes $OUT.
timeout 420 python3 results/h200/s12/study_splits.py $OUT/splits > $OUT/splits.log 2>&1
echo "splits rc=$?"
tar czf $OUT/call3.tgz -C $OUT splits && rm -rf $OUT/splits
cat $OUT/splits.log | grep -v "^adapter" | tail -20
