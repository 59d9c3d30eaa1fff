#!/usr/bin/env bash
# The second device call behind results/h200/ (run right after measure.sh, same machine when warm):
#   dmodel         : --sweep d_model=64:1024:64, CPU backend and GPU fa2: every point on its
#                    neighbours' trend or marked (issue 14), and the fitted fixed overhead a (13)
#   dmodel-base    : the same GPU sweep with the code before this work (.wt/base): a before
#   cuts           : the GPU step's wall, span and gap per piece cut at tiny..xl (time_marks.py)
#   gpu-alone      : GPU points in a sweep of their own, beside the same points of presets-b
#                    (measured after CPU points): the hand-off check (issue 14)
#   asv            : asv's TrainStep.time_step at small..xl for cpu/fa2, gpu/auto/{naive,fa2},
#                    compared with the CLI rows of the same call (asv_vs_cli.py)
# Writes under $1. SMALL=1 shrinks it to lavapipe sizes.
set -uo pipefail
out=${1:?usage: measure2.sh OUTDIR}
mkdir -p "$out/res"
export GPT_CURVES_TUNE_CACHE=${GPT_CURVES_TUNE_CACHE:-$out/tune-cache.json}
if [ "${SMALL:-0}" = 1 ]; then
  D=16:48:16; REQ=""; AP="micro"; T=2; PR=micro; GA=micro,tiny; TMP=micro,tiny
else
  D=64:1024:64; REQ=--require-gpu; AP="small|medium|large|xl"; T=16; PR=small,medium,large,xl
  GA=tiny,medium,xl; TMP=tiny,small,medium,large,xl
fi
step() {
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" >> "$out/steps.txt"
}
TIME_MARKS_PRESETS=$TMP TIME_MARKS_CUTS=4/1/spin,4/2/spin,6/2/spin/taper,5/2/spin/taper,8/1/spin \
  TIME_MARKS_CUTS_SHORT=4/1/spin,6/2/spin/taper step cuts 120 \
  python3 results/h200-overhead/time_marks.py "$out/cuts.jsonl"
step gpu-alone 40 python3 -m bench sweep --backends gpu --presets $GA --attention naive,fa2 \
  --budget 0.45 --rounds 3 $REQ --out "$out/res" --run-id h200-gpu-alone --no-plots
step dmodel 150 python3 -m bench sweep --backends cpu,gpu --attention fa2 --threads $T \
  --sweep d_model=$D --budget 0.5 $REQ --out "$out/res" --run-id h200-dmodel --no-plots
if [ -d .wt/base ]; then
  (cd .wt/base && export PYTHONPATH=/tmp/site:$PWD && step dmodel-base 70 python3 -m bench sweep \
    --backends gpu --attention fa2 --sweep d_model=$D --budget 0.5 $REQ --out "$out/res" \
    --run-id h200-dmodel-base-079b1fe --no-plots)
fi
step asv-cli 60 python3 -m bench sweep --backends cpu,gpu --attention naive,fa2 --threads $T \
  --presets $PR --budget 0.5 $REQ --out "$out/res" --run-id h200-asv-cli --no-plots
M=$(python3 -m bench asv-machine)
C=${GPT_CURVES_COMMIT:-HEAD}
git cat-file -e "$C^{commit}" 2>/dev/null || C=$(git rev-parse HEAD)  # asv needs it in this .git
echo "asv commit hash: $C (code: ${GPT_CURVES_COMMIT:-HEAD})" >> "$out/steps.txt"
step asv 200 asv run --python=same --machine "$M" --set-commit-hash "$C" \
  -b "TrainStep\.time_step\('($AP)', '(cpu/fa2|gpu/auto/naive|gpu/auto/fa2)'"
mkdir -p "$out/asv" && cp -r results/asv/"$M" "$out/asv/" 2>/dev/null
cat "$out/steps.txt"
for f in "$out"/res/*/h200-dmodel*.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|cpu)|overhead|fit" | head -40
done
python3 results/h200-overhead/time_marks.py --table "$out/cuts.jsonl" | cut -c1-110
a=$(ls "$out"/asv/*/*.json 2>/dev/null | grep -v machine.json | head -1)
[ -n "$a" ] && python3 results/h200/asv_vs_cli.py "$a" "$out"/res/*/h200-asv-cli.csv | head -30
