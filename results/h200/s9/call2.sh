#!/usr/bin/env bash
# Session 9, call 2 (the final code: sliced K removed again, ROW_MARGIN in the tuner): session 7's
# part A (cold tuning of mega, then behemoth, then `bench kernels` at their step shapes and 4096
# from that plan cache, cuBLAS and the share of the FMA probe per row), then the mega / behemoth
# steps beside torch from the same cache. Run after `source .gl/enter.sh`; writes $OUT.
MM=auto bash results/h200/s7/session7.sh A $OUT/A > $OUT/A.log 2>&1
echo "A rc=$?"
export GPT_CURVES_TUNE_CACHE=$OUT/A/tune.json
timeout 170 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets mega,behemoth \
  --attention fa2 --budget 1.0 --require-gpu --out $OUT/res --run-id h200-s9-big --no-plots \
  > $OUT/big.log 2>&1
echo "big rc=$?"
tail -45 $OUT/A.log
for f in $OUT/res/*/h200-s9-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
tar czf $OUT/A.tgz -C $OUT A res && rm -rf $OUT/A $OUT/res
