#!/usr/bin/env bash
# Session 11, call 2: main with the K-contiguous staging and b128t84o: session 7's part B (cold
# tuning of mega, then behemoth, `bench kernels` at their step shapes and 4096 from that plan
# cache beside cuBLAS, then the mega / behemoth steps beside torch). Run after
# `source .gl/enter.sh`; writes $OUT.
MM=auto bash results/h200/s7/session7.sh B $OUT/B > $OUT/B.log 2>&1
echo "B rc=$?"
tail -60 $OUT/B.log
tar czf $OUT/B.tgz -C $OUT B && rm -rf $OUT/B
