#!/usr/bin/env bash
# Session 13, call 2: stream-K in `auto` (b128t84skv4 and b128t84osk timed at G = W and 2W, W
# measured by the tuner's wave probe). First the probe alone (waves.py), then session 12's call 4
# on this code: cold tuning of mega then behemoth into an empty plan cache, `bench kernels` at both
# steps' shapes and 4096^3 beside cuBLAS, the two steps beside torch eager and CUDA graph.
# Run after `source .gl/enter.sh`; writes $OUT.
out=$OUT/D
mkdir -p "$out/res"
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
step waves 60 python3 results/h200/s13/waves.py
export GPT_CURVES_TUNE_CACHE=$out/tune.json
step tune-cold-mega 200 python3 results/h200/tune_times.py mega
step tune-cold-behemoth 100 python3 results/h200/tune_times.py behemoth
step kernels 120 python3 -m bench kernels --presets mega,behemoth --sizes 4096 --matmul auto \
  --attention fa2 --attention-shapes mega --budget 0.3 --out "$out/res/kernels"
step big 90 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph \
  --presets mega,behemoth --attention fa2 --budget 1.0 --require-gpu --out "$out/res" \
  --run-id h200-s13-big --no-plots
tar czf $OUT/D.tgz -C $OUT D
grep -E "W =" "$out/waves.log"
python3 results/h200/s4/table.py "$out"/res/kernels/*.csv 2>&1 | tail -34
for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-100; done
for f in "$out"/res/*/h200-s13-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
