#!/usr/bin/env bash
# Session 11, call 6: main's final code (b128t84o's staged write with scalar planes, as call 5's
# b128t84p): cold tuning of the mega step into an empty plan cache, then `bench kernels` at the
# mega step shapes from that cache beside cuBLAS (the device time left covered mega only).
# Run after `source .gl/enter.sh`; writes $OUT.
mkdir -p $OUT/C
export GPT_CURVES_TUNE_CACHE=$OUT/C/tune.json
timeout 130 python3 results/h200/tune_times.py mega > $OUT/C/tune-cold-mega.log 2>&1
echo "tune rc=$?"
timeout 40 python3 -m bench kernels --presets mega --sizes 256 --matmul auto --attention fa2 \
  --attention-shapes mega --budget 0.3 --out $OUT/C/kernels > $OUT/C/kernels.log 2>&1
echo "kernels rc=$?"
tail -1 $OUT/C/tune-cold-mega.log | cut -c1-120
python3 results/h200/s4/table.py $OUT/C/kernels/*.csv results/h200/s11/call2/B/res/kernels/*.csv | grep -v "^| square"
tar czf $OUT/C.tgz -C $OUT C && rm -rf $OUT/C
