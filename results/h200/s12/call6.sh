#!/usr/bin/env bash
# Session 12, call 6: main's final code (call 5's lane-block override gone, lane_xy kept as the one
# (tx, ty) mapping): loop_fit.py's a + b K fits of b128t84's builds, then call4.sh's whole run
# (cold tuning of mega then behemoth, bench kernels at both steps' shapes and 4096^3, the steps
# beside torch). Run after `source .gl/enter.sh`; writes $OUT.
mkdir -p $OUT/D
timeout 60 python3 results/h200/s12/loop_fit.py $OUT/D/fit > $OUT/D/fit.log 2>&1
echo "fit rc=$?"
sed -n '/^| variant | form | M x N | per/,$p' $OUT/D/fit.log
bash results/h200/s12/call4.sh
