#!/usr/bin/env bash
# Session 13, call 3: main's final code (the k-loop's written-out passes folded into
# include/matmul_tile_io.wgsl's k_rows, shared by both tile cores) on a fresh machine: session
# 12's loop fits of b128t84's builds (against call 1's, to see whether the fold moved the loop),
# then call 2's run again (cold tuning of mega then behemoth, `bench kernels` at both steps' shapes
# and 4096^3 beside cuBLAS, the steps beside torch). Run after `source .gl/enter.sh`; writes $OUT.
out=$OUT/D
mkdir -p "$out/res"
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
step fit 60 python3 results/h200/s12/loop_fit.py "$out/fit"
export GPT_CURVES_TUNE_CACHE=$out/tune.json
step tune-cold-mega 200 python3 results/h200/tune_times.py mega
step tune-cold-behemoth 100 python3 results/h200/tune_times.py behemoth
step tune-warm-mega 60 python3 results/h200/tune_times.py mega
step kernels 120 python3 -m bench kernels --presets mega,behemoth --sizes 4096 --matmul auto \
  --attention fa2 --attention-shapes mega --budget 0.3 --out "$out/res/kernels"
step big 90 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph \
  --presets mega,behemoth --attention fa2 --budget 1.0 --require-gpu --out "$out/res" \
  --run-id h200-s13-final --no-plots
tar czf $OUT/D.tgz -C $OUT D
sed -n '/^| variant | form | M x N | per/,$p' "$out/fit.log"
python3 results/h200/s4/table.py "$out"/res/kernels/*.csv 2>&1 | tail -34
for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-120; done
for f in "$out"/res/*/h200-s13-final.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
