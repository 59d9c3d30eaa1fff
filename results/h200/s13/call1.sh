#!/usr/bin/env bash
# Session 13, call 1: stream-K's first measurement (study_streamk.py: the three b128t84 sk rows at
# G = 66..528 beside auto's tuned pick and cuBLAS at six tn step shapes, parity gates first), then
# session 12's loop fits on main's head (the code after 3b12067 was never run on the device).
# Run after `source .gl/enter.sh`; writes $OUT.
mkdir -p $OUT/D
timeout 400 python3 results/h200/s13/study_streamk.py $OUT/D/sk > $OUT/D/sk.log 2>&1
echo "study rc=$?"
timeout 60 python3 results/h200/s12/loop_fit.py $OUT/D/fit > $OUT/D/fit.log 2>&1
echo "fit rc=$?"
tar czf $OUT/call1.tgz -C $OUT D
sed -n '/^| variant | form | M x N | per/,$p' $OUT/D/fit.log
grep -v "^parity.*: ok" $OUT/D/sk.log | tail -30
