#!/usr/bin/env bash
# The device calls of session 6, run from the repository root on the lent machine after
# `source .gl/enter.sh` (GPT_CURVES_COMMIT set to the code measured):
#   bash results/h200/s6/session6.sh A OUT   a short warm-up sweep (fills the driver's and the
#                                           tuner's caches), then two identical sweeps small..xl
#                                           in 6 rounds, each round's host sentinel recorded
#   bash results/h200/s6/session6.sh B OUT   the same pair in 16 rounds, then asv time_step
#   bash results/h200/s6/session6.sh C OUT   auto's tuning cold / warm per preset (mega, behemoth),
#                                           the matmul micro-benchmark at their step shapes from
#                                           that cache beside cuBLAS, and the steps beside torch
# SMALL=1 shrinks it to lavapipe-sized presets (a local dry run of the commands).
set -uo pipefail
part=${1:?usage: session6.sh A|B|C OUTDIR}
out=${2:?usage: session6.sh A|B|C OUTDIR}
mkdir -p "$out/res"
if [ "${SMALL:-0}" = 1 ]; then
  L=6; REQ=""; T=2; PR=micro; AP=micro; BK=cpu,gpu; export GPT_CURVES_TUNE=on
  KP=micro; SZ=64; BIG=micro
else
  L=1; REQ=--require-gpu; T=16; PR=small,medium,large,xl; AP="small|medium|large|xl"
  BK=cpu,gpu,torch-cuda,torch-cuda-graph; KP=mega,behemoth; SZ=4096; BIG=mega,behemoth
fi
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$(( $2 * L )); shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
pair() {  # rounds, limit: two identical sweeps back to back, then their agreement
  for run in a b; do
    step r$1-$run $2 python3 -m bench sweep --backends $BK --presets $PR --attention naive,fa2 \
      --threads $T --budget 2.0 --rounds $1 $REQ --out "$out/res" --run-id h200-r$1-$run --no-plots
  done
  python3 results/h200/agreement.py "$out"/res/*/h200-r$1-a.csv "$out"/res/*/h200-r$1-b.csv \
    > "$out/agreement-r$1.md" 2>&1; sed -n 3,4p "$out/agreement-r$1.md"
}
if [ "$part" = C ]; then
  export GPT_CURVES_TUNE_CACHE=$out/tune-after.json
  for p in ${BIG//,/ }; do
    step tune-cold-$p 170 python3 results/h200/tune_times.py $p
    step tune-warm-$p 40 python3 results/h200/tune_times.py $p
  done
  step kernels 120 python3 -m bench kernels --presets $KP --sizes $SZ \
    --matmul auto,b128x64,b64x128 --attention fa2 --attention-shapes $KP --budget 0.3 \
    --out "$out/res/kernels"
  step big 100 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets $BIG \
    --attention fa2 --budget 1.0 $REQ --out "$out/res" --run-id h200-s6-big --no-plots
  cat "$out/steps.txt"
  python3 results/h200/s4/table.py "$out"/res/kernels/*.csv 2>&1 | tail -34
  for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-100; done
  for f in "$out"/res/*/h200-s6-big.csv; do
    [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
  done
elif [ "$part" = A ]; then
  step warm 100 python3 -m bench sweep --backends $BK --presets $PR --attention naive,fa2 \
    --threads $T --budget 0.2 $REQ --out "$out/res" --run-id h200-warm --no-plots
  pair 6 130
  cat "$out/steps.txt"
else
  pair 16 160
  M=$(python3 -m bench asv-machine)
  C=${GPT_CURVES_COMMIT:-HEAD}
  git cat-file -e "$C^{commit}" 2>/dev/null || C=$(git rev-parse HEAD)
  echo "asv commit hash: $C (code: ${GPT_CURVES_COMMIT:-HEAD})" >> "$out/steps.txt"
  step asv 200 asv run --python=same --machine "$M" --set-commit-hash "$C" \
    -b "TrainStep\.time_step\('($AP)', '(cpu/fa2|gpu/auto/naive|gpu/auto/fa2)'"
  mkdir -p "$out/asv" && cp -r results/asv/"$M" "$out/asv/" 2>/dev/null
  cat "$out/steps.txt"
fi
