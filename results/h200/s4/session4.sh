#!/usr/bin/env bash
# The device calls of session 4 (auto's tuner races its finalists; more split factors), run from
# the repository root on the lent machine after `source .gl/enter.sh`:
#   bash results/h200/s4/session4.sh A|B|C|D OUT
# A (ac82bff): kernels first (auto tuned cold in that process), then tune-*, plans-ab, big.
# B (07dea10: the race after a settle; split factors 5, 24, 32) and C (the final code: B without
#   5, 24, 32): tune-*, plans-ab, then kernels reading the plans tune-* wrote (the table of the
#   steps' own plans), then big.
# D (C plus the rows b64x128, b128x64): tune-cold-*, plans-ab, kernels (no warm runs, no big).
# kernels: the mega/behemoth step matmuls and 4096^3 beside cuBLAS;
# tune-*: auto's tuning time for each step, cold then warm (own cache: tune-after.json);
# plans-ab: the steps under session 3's plans vs this tuner's, interleaved in one process;
# big: mega/behemoth GPU fa2 beside torch CUDA eager and CUDA graph.
# SMALL=1 shrinks it to lavapipe-sized presets (a local dry run of the commands).
set -uo pipefail
part=${1:?usage: session4.sh A|B|C|D OUTDIR}
out=${2:?usage: session4.sh A|B|C|D OUTDIR}
mkdir -p "$out/res"
if [ "${SMALL:-0}" = 1 ]; then
  KP=micro; SZ=64; AS=micro; BIG=micro; L=6; REQ=""; export GPT_CURVES_TUNE=on
else
  KP=mega,behemoth; SZ=4096; AS=mega,behemoth; BIG=mega,behemoth; L=1; REQ=--require-gpu
fi
step() {  # name, seconds, command...: one measurement, its log kept, its time printed
  local name=$1 limit=$(( $2 * L )); shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "== $name: rc=$? in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}
kernels() {  # cache, extra flags
  GPT_CURVES_TUNE_CACHE=$1 step kernels 90 python3 -m bench kernels --presets $KP --sizes $SZ \
    --matmul auto,b128 --attention fa2 --attention-shapes $AS --budget 0.3 "${@:2}" \
    --out "$out/res/kernels"
}
[ "$part" = A ] && kernels "$out/tune-kernels.json" --retune
for p in ${BIG//,/ }; do
  GPT_CURVES_TUNE_CACHE=$out/tune-after.json step tune-cold-$p 120 python3 results/h200/tune_times.py $p
  [ "$part" = D ] ||
    GPT_CURVES_TUNE_CACHE=$out/tune-after.json step tune-warm-$p 40 python3 results/h200/tune_times.py $p
done
[ "${SMALL:-0}" = 1 ] || step plans-ab 90 python3 results/h200/s4/plans_ab.py "$out/tune-after.json" "$out" $BIG
[ "$part" = A ] || kernels "$out/tune-after.json"
[ "$part" = D ] || GPT_CURVES_TUNE_CACHE=$out/tune-after.json step big 150 python3 -m bench sweep \
  --backends gpu,torch-cuda,torch-cuda-graph --presets $BIG --attention fa2 --budget 1.0 $REQ \
  --out "$out/res" --run-id h200-s4-big-$part --no-plots
cat "$out/steps.txt"
python3 - "$out" <<'PY'
import csv, glob, json, sys
out = sys.argv[1]
for p in glob.glob(out + "/res/kernels/*.csv"):
    for r in csv.DictReader(open(p)):
        if r["kind"] == "matmul" and r["status"] == "ok" and r["variant"] == "auto":
            print(r.get("preset", "") or "square", r["form"], f'{r["M"]}x{r["N"]}x{r["K"]}',
                  r["ran"], "tf=%.1f" % (float(r["gflops"]) / 1e3),
                  "cublas=" + (r["share_of_vendor"] or "-")[:4])
for p in sorted(glob.glob(out + "/tune-*.log")):
    for line in open(p):
        if line.startswith("{"):
            d = json.loads(line)
            print(p.rsplit("/", 1)[1], "tuning_s", d["tuning_s"], "first", d["build_and_first_step_s"],
                  "step_ms", d["step_ms"])
for p in sorted(glob.glob(out + "/tune-*.json")):
    for plans in json.load(open(p)).values():
        r = [min(v["raced"].values()) / min(v["timed"].values()) for v in plans.values()
             if v.get("raced")]
        print(p.rsplit("/", 1)[1], "raced/first over", len(r), "shapes: max %.2f, over 1.1: %d"
              % (max(r, default=0), sum(x > 1.1 for x in r)))
for line in open(out + "/plans-ab.log") if glob.glob(out + "/plans-ab.log") else []:
    if '"ratio"' in line:
        print(line.strip())
PY
for f in "$out"/res/*/h200-s4-big-$part.csv; do
  [ -f "$f" ] && python3 -m bench report "$f" | grep -E "^\| (gpu|torch)" | head -12
done
