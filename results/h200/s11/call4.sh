#!/usr/bin/env bash
# Session 11, call 4: loop_fit.py (a + b K fits of the rows calls 1-3 changed, session 10's
# fixed_cost.py method). Run after `source .gl/enter.sh`; writes $OUT.
timeout 300 python3 results/h200/s11/loop_fit.py $OUT/fit > $OUT/fit.log 2>&1
echo "fit rc=$?"
sed -n '/^| variant/,$p' $OUT/fit.log
