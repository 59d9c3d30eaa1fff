#!/usr/bin/env bash
# Session 9, call 3 (right after call 2, the driver's pipeline cache warm on the same machine, so
# compile time is out of both): the mega step's tuning into an empty plan cache with ROW_MARGIN
# 1.0 (the rule before 52850ae: no row-best entrants), then 2.0 (now), then 1.0 and 2.0 again;
# each line is tune_times.py's JSON. Run after `source .gl/enter.sh`; writes $OUT.
for m in 1.0 2.0 1.0 2.0; do
  rm -f $OUT/plans-$m.json
  GPT_CURVES_TUNE_CACHE=$OUT/plans-$m.json timeout 120 python3 results/h200/s9/margin.py mega $m \
    >> $OUT/margin.jsonl 2>> $OUT/margin.err
  echo "margin $m rc=$?"
done
python3 - "$OUT/margin.jsonl" <<'PY'
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    r = json.loads(line)
    print(["1.0", "2.0"][i % 2], r["tuning_s"], r["step_ms"], r["ci_ms"])
PY
