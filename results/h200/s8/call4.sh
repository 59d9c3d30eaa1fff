#!/usr/bin/env bash
# Session 8, call 4 (the final code): bench.matmul_study over every tunable row (cold plan cache,
# parity first; the FMA probe as the product builds it, trusted), then the mega / behemoth steps
# beside torch from that plan cache. Run after `source .gl/enter.sh`; writes $OUT.
timeout 300 python3 -m bench.matmul_study $OUT/study mega,behemoth 4096 --parity --no-steps \
  --no-checked > $OUT/study.log 2>&1
echo "study rc=$?"
export GPT_CURVES_TUNE_CACHE=$OUT/study/matmul-plans.json
timeout 150 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets mega,behemoth \
  --attention fa2 --budget 1.0 --require-gpu --out $OUT/res --run-id h200-s8-big --no-plots \
  > $OUT/big.log 2>&1
echo "big rc=$?"
grep -E "parity .*(FAIL|mismatch|error)" $OUT/study.log | head
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/study.log | head -40
for f in $OUT/res/*/h200-s8-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
