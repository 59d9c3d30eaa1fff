#!/usr/bin/env bash
# Session 12, call 1: the driver's statistics (binary size, registers) of the carried SPIR-V
# (results/h200/s8/vkstats/spv, made by make_spv.py --study results/h200/s12/study_unroll.py
# --rows b128t84:tn,b128t84u16:tn,b128t84u4:tn,b128t84v4:tn,b128t84u16v4:tn,b128t84o:tn,
# b128t84u16o:tn,b128t84:nn,b128t84u16:nn,b128:tn,b128u8:tn,b128v4:tn,b128u8v4:tn,w128k4:tn,
# w128k4u4:tn,w128:tn,w128u8:tn), then study_unroll.py's a + b K fits. Run after
# `source .gl/enter.sh`; writes $OUT.
OUT=$OUT timeout 60 bash results/h200/s8/vkstats/run.sh > $OUT/vkstats.log 2>&1
echo "vkstats rc=$?"
timeout 330 python3 results/h200/s12/study_unroll.py $OUT/unroll fit > $OUT/fit.log 2>&1
echo "fit rc=$?"
tar czf $OUT/call1.tgz -C $OUT vkstats unroll && rm -rf $OUT/vkstats $OUT/unroll
sed -n '/^variant/,/^vkstats: wrote/p' $OUT/vkstats.log | head -20
sed -n '/^| variant/,$p' $OUT/fit.log
