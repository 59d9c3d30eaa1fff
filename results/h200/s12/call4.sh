#!/usr/bin/env bash
# Session 12, call 4: main's code with the UK rows (b128t84 / b128t84o / b128t84tr unrolled per
# path, b128t84otr new) and split factors 7 and 11 up to 2048 workgroups. Session 7's part B with
# this session's limits: cold tuning of the mega, then the behemoth step into an empty plan cache;
# `bench kernels` at both steps' shapes and 4096^3 from that cache beside cuBLAS; the two steps
# beside torch eager and CUDA graph. Run after `source .gl/enter.sh`; writes $OUT.
out=$OUT/D
mkdir -p "$out/res"
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
export GPT_CURVES_TUNE_CACHE=$out/tune.json
step tune-cold-mega 210 python3 results/h200/tune_times.py mega
step tune-cold-behemoth 100 python3 results/h200/tune_times.py behemoth
step kernels 140 python3 -m bench kernels --presets mega,behemoth --sizes 4096 --matmul auto \
  --attention fa2 --attention-shapes mega --budget 0.3 --out "$out/res/kernels"
step big 100 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph \
  --presets mega,behemoth --attention fa2 --budget 1.0 --require-gpu --out "$out/res" \
  --run-id h200-s12-big --no-plots
tar czf $OUT/D.tgz -C $OUT D
python3 results/h200/s4/table.py "$out"/res/kernels/*.csv 2>&1 | tail -34
for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-100; done
for f in "$out"/res/*/h200-s12-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
