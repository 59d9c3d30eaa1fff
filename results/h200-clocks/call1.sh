#!/usr/bin/env bash
# Exploration call (session 3): the GPU's recovery after idling (clocks.py) and fa2's layouts
# at the huge and medium attention shapes beside SDPA (round 5 of results/h200-fa2/measure.py).
set -uo pipefail
OUT=${1:?OUT}
python results/h200-clocks/clocks.py "$OUT/clocks" > "$OUT/clocks.log" 2>&1
tail -15 "$OUT/clocks.log"
FA2_NO_STEPS=1 FA2_SHAPES="8,12,256,32;8,4,128,32;8,16,512,32" \
  timeout 200 python results/h200-fa2/measure.py "$OUT/fa2" > "$OUT/fa2.log" 2>&1
grep -v "^parity" "$OUT/fa2.log" | tail -40
grep -c "ok$" "$OUT/fa2/parity.txt"; grep FAIL "$OUT/fa2/parity.txt"
tar -czf "$OUT/all.tgz" -C "$OUT" clocks fa2 && rm -rf "$OUT/clocks" "$OUT/fa2"
