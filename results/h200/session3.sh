#!/usr/bin/env bash
# The device calls of session 3 (the GPU settle, fa2 at small grids, the warp-tile matmul rows),
# run from the repository root on the lent machine after `source .gl/enter.sh`:
#   bash results/h200/session3.sh A OUT   kernels beside cuBLAS / SDPA (auto tuned cold),
#                                        presets-a, presets-b (the agreement check), asv-cli + asv
#   bash results/h200/session3.sh B OUT   d_model sweep (CPU and GPU interleaved), mega/behemoth
#                                        steps beside torch CUDA, auto's tuning time cold / warm,
#                                        GPU points alone, the hand-off probe
# SMALL=1 shrinks every step to lavapipe-sized presets (a local dry run of the commands).
set -uo pipefail
part=${1:?usage: session3.sh A|B OUTDIR}
out=${2:?usage: session3.sh A|B OUTDIR}
mkdir -p "$out/res"
export GPT_CURVES_TUNE_CACHE=${GPT_CURVES_TUNE_CACHE:-$out/tune-cache.json}
if [ "${SMALL:-0}" = 1 ]; then
  P=micro,tiny; BIG=micro; SH=micro,2x2x40x8; SZ=64; KP=micro; T=2; B=0.2; REQ=""; AP=micro
  PR=micro; D=16:48:16; GA=micro,tiny; HG=micro; L=6
else
  P=micro,tiny,small,medium,large,xl,huge; BIG=mega,behemoth
  SH=medium,huge,mega,behemoth,4x8x1024x64,4x8x2048x64; SZ=4096; KP=mega,behemoth; T=16
  B=0.45; REQ=--require-gpu; AP="small|medium|large|xl"; PR=small,medium,large,xl
  D=64:1024:64; GA=tiny,medium,xl; HG=medium; L=1
fi
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$(( $2 * L )); shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
if [ "$part" = A ]; then
  step kernels 150 python3 -m bench kernels --presets $KP --sizes $SZ --matmul auto,b128 \
    --attention fa2 --attention-shapes $SH --budget 0.3 --retune --out "$out/res/kernels"
  for run in a b; do
    step presets-$run 180 python3 -m bench sweep --backends cpu,gpu,torch,torch-cuda,torch-cuda-graph \
      --presets $P --attention naive,fa2 --threads $T --budget $B --rounds 3 $REQ --out "$out/res" \
      --run-id h200-presets-$run --no-plots
  done
  step asv-cli 60 python3 -m bench sweep --backends cpu,gpu --attention naive,fa2 --threads $T \
    --presets $PR --budget 0.5 $REQ --out "$out/res" --run-id h200-asv-cli --no-plots
  M=$(python3 -m bench asv-machine)
  C=${GPT_CURVES_COMMIT:-HEAD}
  git cat-file -e "$C^{commit}" 2>/dev/null || C=$(git rev-parse HEAD)  # asv needs it in this .git
  echo "asv commit hash: $C (code: ${GPT_CURVES_COMMIT:-HEAD})" >> "$out/steps.txt"
  step asv 120 asv run --python=same --machine "$M" --set-commit-hash "$C" \
    -b "TrainStep\.time_step\('($AP)', '(cpu/fa2|gpu/auto/naive|gpu/auto/fa2)'"
  mkdir -p "$out/asv" && cp -r results/asv/"$M" "$out/asv/" 2>/dev/null
  cat "$out/steps.txt"
  python3 results/h200/agreement.py "$out"/res/*/h200-presets-a.csv "$out"/res/*/h200-presets-b.csv \
    > "$out/agreement.md" 2>&1; head -3 "$out/agreement.md"
  a=$(ls "$out"/asv/*/*.json 2>/dev/null | grep -v machine.json | head -1)
  [ -n "$a" ] && python3 results/h200/asv_vs_cli.py "$a" "$out"/res/*/h200-asv-cli.csv \
    "$out"/res/*/h200-presets-a.csv "$out"/res/*/h200-presets-b.csv > "$out/asv-vs-cli.md" 2>&1
  grep -E "^## " "$out/asv-vs-cli.md"
  python3 - "$out" <<'PY'
import csv, glob, sys
for p in glob.glob(sys.argv[1] + "/res/kernels/*.csv"):
    for r in csv.DictReader(open(p)):
        if r["kind"] in ("matmul", "attention") and r["status"] == "ok" and r["variant"] != "b128":
            print(r["kind"][:4], r["variant"], r.get("preset", ""), r["form"], r["M"], r["N"],
                  r["K"], r["B"], r["H"], r["T"], r["hd"], "ms=%.3f" % (1e3 * float(r["seconds"])),
                  "cublas=" + (r["share_of_vendor"] or "-")[:4], "sdpa=" + (r["vs_vendor"] or "-")[:4])
PY
else
  step dmodel 280 python3 -m bench sweep --backends cpu,gpu --attention fa2 --threads $T \
    --sweep d_model=$D --budget 0.5 $REQ --out "$out/res" --run-id h200-dmodel --no-plots
  step big 60 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets $BIG \
    --attention fa2 --budget 1.5 $REQ --out "$out/res" --run-id h200-big --no-plots
  for p in ${BIG//,/ }; do
    GPT_CURVES_TUNE_CACHE=$out/tune-cold-$p.json step tune-cold-$p 60 python3 results/h200/tune_times.py $p
    GPT_CURVES_TUNE_CACHE=$out/tune-cold-$p.json step tune-warm-$p 40 python3 results/h200/tune_times.py $p
  done
  step gpu-alone 40 python3 -m bench sweep --backends gpu --presets $GA --attention naive,fa2 \
    --budget 0.45 --rounds 3 $REQ --out "$out/res" --run-id h200-gpu-alone --no-plots
  step handoff 70 python3 -m bench.handoff --gpu-preset $HG --attention fa2 --cpu cpu \
    --cpu-preset huge --threads $T --load 2 --steps 5 --budget 0.5
  cat "$out/steps.txt"
  for f in "$out"/res/*/h200-dmodel.csv "$out"/res/*/h200-big.csv; do
    [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch|cpu)|overhead|fit" | head -44
  done
  for f in "$out"/tune-*.log; do echo "$f"; tail -1 "$f" | cut -c1-150; done
  tail -12 "$out/handoff.log"
fi
