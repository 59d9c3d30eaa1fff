#!/usr/bin/env bash
# Session 7, call 4: every candidate auto times (the scalar-store rows and their v4 twins, which
# store each output quad as one vec4) at the mega / behemoth step shapes and 4096^3
# (bench.matmul_study, cold plan cache, parity first), a table of the best v4 twin beside the best
# of the others, then the mega / behemoth steps beside torch from that plan cache. Run after
# `source .gl/enter.sh`; writes $OUT.
V=$(python3 -c "from kernels import registry; print(','.join(n for n, v in registry.MATMULS.items() if v.tune))")
N=$(python3 -c "from kernels import registry; print(','.join(n for n in registry.MATMULS if n.endswith('v4')))")
timeout 330 python3 -m bench.matmul_study $OUT/study mega,behemoth 4096 --variants $V --new $N \
  --parity --no-steps --no-checked > $OUT/study.log 2>&1
echo "study rc=$?"
export GPT_CURVES_TUNE_CACHE=$OUT/study/matmul-plans.json
timeout 100 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets mega,behemoth \
  --attention fa2 --budget 1.0 --require-gpu --out $OUT/res --run-id h200-s7-big --no-plots \
  > $OUT/big.log 2>&1
echo "big rc=$?"
grep -E "parity .*(FAIL|mismatch|error)" $OUT/study.log | head
sed -n '/^| preset | form MxNxK | cuBLAS | pick/,$p' $OUT/study.log | head -36
cat $OUT/study/new-vs-old.md 2>/dev/null
for f in $OUT/res/*/h200-s7-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
