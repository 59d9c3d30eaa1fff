#!/usr/bin/env bash
# Session 10, call 3: main after a5690eb (kernel timing in one pass per batch): session 7's part A
# (cold tuning of mega, then behemoth, then `bench kernels` at their step shapes and 4096 from that
# plan cache, cuBLAS and the share of the FMA probe per row). Run after `source .gl/enter.sh`;
# writes $OUT.
MM=auto bash results/h200/s7/session7.sh A $OUT/A > $OUT/A.log 2>&1
echo "A rc=$?"
tail -45 $OUT/A.log
tar czf $OUT/A.tgz -C $OUT A && rm -rf $OUT/A
