#!/usr/bin/env bash
# The device calls of session 7, run from the repository root on the lent machine after
# `source .gl/enter.sh` (GPT_CURVES_COMMIT set to the code measured):
#   bash results/h200/s7/session7.sh A OUT   auto's tuning into an empty plan cache for the mega
#                                           and behemoth steps (every candidate's timing lands in
#                                           the cache), then the matmul micro-benchmark at their
#                                           step shapes from that cache beside cuBLAS, with the
#                                           rows named in MM (default: auto and the sliced-K rows)
#   bash results/h200/s7/session7.sh B OUT   A, then the mega / behemoth steps beside torch
# SMALL=1 shrinks it to lavapipe-sized presets (a local dry run of the commands).
set -uo pipefail
part=${1:?usage: session7.sh A|B OUTDIR}
out=${2:?usage: session7.sh A|B OUTDIR}
mkdir -p "$out/res"
MM=${MM:-auto,w128s2,w128s2tr}
if [ "${SMALL:-0}" = 1 ]; then
  L=6; REQ=""; export GPT_CURVES_TUNE=on; KP=micro; SZ=64; BIG=micro
else
  L=1; REQ=--require-gpu; KP=mega,behemoth; SZ=4096; BIG=mega,behemoth
fi
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$(( $2 * L )); shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
export GPT_CURVES_TUNE_CACHE=$out/tune.json
for p in ${BIG//,/ }; do
  step tune-cold-$p 170 python3 results/h200/tune_times.py $p
done
step kernels 150 python3 -m bench kernels --presets $KP --sizes $SZ --matmul "$MM" \
  --attention fa2 --attention-shapes mega --budget 0.3 --out "$out/res/kernels"
if [ "$part" = B ]; then
  step big 100 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets $BIG \
    --attention fa2 --budget 1.0 $REQ --out "$out/res" --run-id h200-s7-big --no-plots
fi
cat "$out/steps.txt"
python3 results/h200/s4/table.py "$out"/res/kernels/*.csv 2>&1 | tail -34
for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-100; done
for f in "$out"/res/*/h200-s7-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
done
