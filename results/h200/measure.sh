#!/usr/bin/env bash
# The one device call behind results/h200/: every measurement of the H200 figures in the README,
# run from the repository root on the lent machine (after `source .gl/enter.sh`), writing under $1.
#   kernels        : matmul at the mega/behemoth step shapes + 4096^3 beside cuBLAS; attention
#                    (fa2) at the issue shapes beside SDPA; auto tuned cold (--retune)
#   presets-a, -b  : two identical sweeps micro..huge (GPU naive/fa2, CPU backend, torch CPU,
#                    CUDA, CUDA graph; 3 rounds per point), back to back: the agreement check
#   big            : mega, behemoth training steps (GPU fa2, torch CUDA eager and graph)
#   base-079b1fe   : the same GPU steps with the code before this work (.wt/base), same call
#   handoff        : a GPU point alone and after CPU points (bench.handoff)
# Everything lands under $1 (tar it: the device returns at most 8 files).
# SMALL=1 shrinks every step to lavapipe-sized presets (a local dry run of the commands).
set -uo pipefail
out=${1:?usage: measure.sh OUTDIR}
mkdir -p "$out/res"
export GPT_CURVES_TUNE_CACHE=${GPT_CURVES_TUNE_CACHE:-$out/tune-cache.json}
if [ "${SMALL:-0}" = 1 ]; then
  P=micro,tiny; BIG=micro; SH=micro,2x2x40x8; SZ=64; KP=micro; T=2; B=0.2; REQ=""; BASEP=micro
  HG=micro
else
  P=micro,tiny,small,medium,large,xl,huge; BIG=mega,behemoth; SH=medium,huge,mega,behemoth,4x8x1024x64
  SZ=4096; KP=mega,behemoth; T=16; B=0.45; REQ=--require-gpu; BASEP=tiny,medium,xl,huge,mega,behemoth
  HG=medium
fi
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
step kernels 130 python3 -m bench kernels --presets $KP --sizes $SZ --matmul auto,b128 \
  --attention fa2 --attention-shapes $SH --budget 0.3 --retune --out "$out/res/kernels"
for run in a b; do
  step presets-$run 200 python3 -m bench sweep --backends cpu,gpu,torch,torch-cuda,torch-cuda-graph \
    --presets $P --attention naive,fa2 --threads $T --budget $B --rounds 3 $REQ --out "$out/res" \
    --run-id h200-presets-$run --no-plots
done
step big 50 python3 -m bench sweep --backends gpu,torch-cuda,torch-cuda-graph --presets $BIG \
  --attention fa2 --budget 1.5 $REQ --out "$out/res" --run-id h200-big --no-plots
if [ -d .wt/base ]; then
  (cd .wt/base && export PYTHONPATH=/tmp/site:$PWD && step base 50 python3 -m bench sweep --backends gpu \
    --presets $BASEP --attention fa2 --budget 1 $REQ --out "$out/res" --run-id h200-base-079b1fe \
    --no-plots)
fi
step handoff 70 python3 -m bench.handoff --gpu-preset $HG --attention fa2 --cpu cpu \
  --cpu-preset ${P##*,} --threads $T --load 2 --steps 5 --budget 0.5
cat "$out/steps.txt"
for f in "$out"/res/*/h200-presets-a.csv "$out"/res/*/h200-big.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch|cpu)" | head -40
done
python3 - "$out" <<'PY'
import csv, glob, sys
for p in glob.glob(sys.argv[1] + "/res/kernels/*.csv"):
    for r in csv.DictReader(open(p)):
        if r["kind"] in ("matmul", "attention") and r["status"] == "ok":
            print(r["kind"], r["variant"], r.get("preset", ""), r["form"], r["M"], r["N"], r["K"],
                  r["B"], r["H"], r["T"], r["hd"], "ms=%.3f" % (1e3 * float(r["seconds"])),
                  "vs_cublas=" + (r["share_of_vendor"] or "-")[:5], "vs_sdpa=" + (r["vs_vendor"] or "-")[:5])
PY
