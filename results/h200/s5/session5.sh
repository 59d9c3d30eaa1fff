#!/usr/bin/env bash
# The device calls of session 5, run from the repository root on the lent machine after
# `source .gl/enter.sh`:
#   bash results/h200/s5/session5.sh E OUT   drift probes (small, medium), auto's tuning cold/warm,
#                                           kernels beside cuBLAS from that cache, big
#   bash results/h200/s5/session5.sh F OUT   host probe (sentinel), two identical long-budget sweeps
#                                           small..xl, asv time_step in 3 rounds beside them
#   bash results/h200/s5/session5.sh H OUT   F's two long-budget sweeps alone (F's first one ran
#                                           past its limit on the fresh machine's cold caches)
#   bash results/h200/s5/session5.sh G OUT   the d_model sweep, hand-off probe
# SMALL=1 shrinks it to lavapipe-sized presets (a local dry run of the commands).
set -uo pipefail
part=${1:?usage: session5.sh E|F|G OUTDIR}
out=${2:?usage: session5.sh E|F|G OUTDIR}
mkdir -p "$out/res"
if [ "${SMALL:-0}" = 1 ]; then
  KP=micro; SZ=64; BIG=micro; L=6; REQ=""; PROBE=micro; LOAD=micro; T=2; B=0.2
  P=micro,tiny; PR=micro; AP=micro; D=16:48:16; HG=micro; export GPT_CURVES_TUNE=on
else
  KP=mega,behemoth; SZ=4096; BIG=mega,behemoth; L=1; REQ=--require-gpu; PROBE="small medium"
  LOAD=huge; T=16; B=0.45; P=micro,tiny,small,medium,large,xl,huge; PR=small,medium,large,xl
  AP="small|medium|large|xl"; D=64:1024:64; HG=medium
fi
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$(( $2 * L )); shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
if [ "$part" = E ]; then
  for p in $PROBE; do
    step probe-$p 90 python3 results/h200/s5/drift_probe.py $p "$out/probe-$p" $LOAD
  done
  for p in ${BIG//,/ }; do
    GPT_CURVES_TUNE_CACHE=$out/tune-after.json step tune-cold-$p 120 python3 results/h200/tune_times.py $p
    GPT_CURVES_TUNE_CACHE=$out/tune-after.json step tune-warm-$p 40 python3 results/h200/tune_times.py $p
  done
  GPT_CURVES_TUNE_CACHE=$out/tune-after.json step kernels 90 python3 -m bench kernels --presets $KP \
    --sizes $SZ --matmul auto,b128 --attention fa2 --attention-shapes $KP --budget 0.3 \
    --out "$out/res/kernels"
  GPT_CURVES_TUNE_CACHE=$out/tune-after.json step big 120 python3 -m bench sweep \
    --backends gpu,torch-cuda,torch-cuda-graph --presets $BIG --attention fa2 --budget 1.0 $REQ \
    --out "$out/res" --run-id h200-s5-big --no-plots
  cat "$out/steps.txt"
  for p in $PROBE; do tail -8 "$out/probe-$p.log"; done
  python3 results/h200/s4/table.py "$out"/res/kernels/*.csv 2>&1 | tail -34
  for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-120; done
  for f in "$out"/res/*/h200-s5-big.csv; do
    [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -8
  done
elif [ "$part" = F ]; then
  step host-probe 60 python3 results/h200/s5/host_probe.py $HG 4
  for run in a b; do
    step long-$run 120 python3 -m bench sweep --backends cpu,gpu,torch-cuda,torch-cuda-graph \
      --presets $PR --attention naive,fa2 --threads $T --budget 2.0 --rounds 6 $REQ --out "$out/res" \
      --run-id h200-long-$run --no-plots
  done
  M=$(python3 -m bench asv-machine)
  C=${GPT_CURVES_COMMIT:-HEAD}
  git cat-file -e "$C^{commit}" 2>/dev/null || C=$(git rev-parse HEAD)
  echo "asv commit hash: $C (code: ${GPT_CURVES_COMMIT:-HEAD})" >> "$out/steps.txt"
  step asv 170 asv run --python=same --machine "$M" --set-commit-hash "$C" \
    -b "TrainStep\.time_step\('($AP)', '(cpu/fa2|gpu/auto/naive|gpu/auto/fa2)'"
  mkdir -p "$out/asv" && cp -r results/asv/"$M" "$out/asv/" 2>/dev/null
  cat "$out/steps.txt"
  grep -E "^(free|pin)" "$out/host-probe.log" | awk '{print $1, $4, $7}' | paste -sd' ' | fold -w 400
  python3 results/h200/agreement.py "$out"/res/*/h200-long-a.csv "$out"/res/*/h200-long-b.csv \
    > "$out/agreement.md" 2>&1; head -5 "$out/agreement.md"
  a=$(ls "$out"/asv/*/*.json 2>/dev/null | grep -v machine.json | head -1)
  [ -n "$a" ] && python3 results/h200/asv_vs_cli.py "$a" "$out"/res/*/h200-long-a.csv \
    "$out"/res/*/h200-long-b.csv > "$out/asv-vs-cli.md" 2>&1
  grep -E "^## " "$out/asv-vs-cli.md"
elif [ "$part" = H ]; then
  for run in a b; do
    step long-$run $([ $run = a ] && echo 170 || echo 120) python3 -m bench sweep \
      --backends cpu,gpu,torch-cuda,torch-cuda-graph --presets $PR --attention naive,fa2 \
      --threads $T --budget 2.0 --rounds 6 $REQ --out "$out/res" --run-id h200-long-$run --no-plots
  done
  cat "$out/steps.txt"
  python3 results/h200/agreement.py "$out"/res/*/h200-long-a.csv "$out"/res/*/h200-long-b.csv \
    > "$out/agreement.md" 2>&1; head -5 "$out/agreement.md"
else
  step dmodel 300 python3 -m bench sweep --backends cpu,gpu --attention fa2 --threads $T \
    --sweep d_model=$D --budget 0.5 $REQ --out "$out/res" --run-id h200-dmodel --no-plots
  step handoff 70 python3 -m bench.handoff --gpu-preset $HG --attention fa2 --cpu cpu \
    --cpu-preset huge --threads $T --load 2 --steps 5 --budget 0.5
  cat "$out/steps.txt"
  for f in "$out"/res/*/h200-dmodel.csv; do
    [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|cpu)|fit" | head -40
  done
  tail -12 "$out/handoff.log"
fi
