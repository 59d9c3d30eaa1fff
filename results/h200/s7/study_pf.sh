#!/usr/bin/env bash
# Session 7, call 2: every candidate of the rows auto picks and their PF = 2 twins at the mega /
# behemoth step shapes and 4096^3 (bench.matmul_study, cold plan cache, parity first), with a table
# of the best twin beside the best of the others. Run after `source .gl/enter.sh`; writes $OUT.
V=b128,b128t84,b64,b128x64,b64x128,b128tr,b128t84tr,w128,w128tr
N=b128p2,b128t84p2,b64p2,b128x64p2,b64x128p2,b128p2tr,b128t84p2tr,w128p2,w128p2tr
timeout 540 python3 -m bench.matmul_study $OUT/study mega,behemoth 4096 --variants $V,$N --new $N --parity --no-steps --no-checked > $OUT/study.log 2>&1
echo rc=$?
grep -E "parity .*(FAIL|mismatch|error)" $OUT/study.log | head
cat $OUT/study/new-vs-old.md 2>/dev/null || tail -40 $OUT/study.log
