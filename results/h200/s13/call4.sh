#!/usr/bin/env bash
# Session 13, call 4: gates.py on the code after the review (the stream-K gate at every G on
# grids whose runs cross tiles), and the two behemoth weight gradients tuned again beside cuBLAS.
# Run after `source .gl/enter.sh`; writes $OUT.
mkdir -p $OUT/D
timeout 240 python3 results/h200/s13/gates.py $OUT/D/gates > $OUT/D/gates.log 2>&1
echo "gates rc=$?"
tar czf $OUT/call4.tgz -C $OUT D
grep -E "^(gate|tune)" $OUT/D/gates.log
