#!/usr/bin/env bash
# Session 10, call 4: the mega / behemoth steps beside torch from call 3's plan cache (main's
# one-pass timing). Run after `source .gl/enter.sh`; writes $OUT.
export GPT_CURVES_TUNE_CACHE=$OUT/tune.json
cp results/h200/s10/call3/A/tune.json "$GPT_CURVES_TUNE_CACHE"
timeout 200 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets mega,behemoth \
  --attention fa2 --budget 1.0 --require-gpu --out $OUT/res --run-id h200-s10-big --no-plots \
  > $OUT/big.log 2>&1
echo "big rc=$?"
for f in $OUT/res/*/h200-s10-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
tar czf $OUT/res.tgz -C $OUT res && rm -rf $OUT/res
