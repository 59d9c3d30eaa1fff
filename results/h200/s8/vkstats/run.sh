#!/usr/bin/env bash
# Driver statistics of the pre-generated SPIR-V in spv/ (make_spv.py), on the device machine.
# Usage (from the project root): OUT=/some/dir bash results/h200/s8/vkstats/run.sh
# Writes $OUT/vkstats/stats.json (wgpu's robustness features on, as the product runs) and
# $OUT/vkstats/norobust/stats.json (robustness off), with long disassembly texts beside them,
# and prints both tables.
set -u
cd "$(dirname "$0")/../../../.."
: "${OUT:?set OUT}"
HERE=results/h200/s8/vkstats
if ! python3 -c 'import vulkan' 2>/dev/null; then
    # shellcheck disable=SC1091
    source .gl/enter.sh || { echo "run.sh: .gl/enter.sh failed"; exit 1; }
fi
mkdir -p "$OUT/vkstats/norobust"
rc=0
echo "== robustness as wgpu enables it =="
python3 "$HERE/vkstats.py" "$HERE/spv" "$OUT/vkstats/stats.json" "$@" || rc=$?
echo "== robustness off =="
python3 "$HERE/vkstats.py" "$HERE/spv" "$OUT/vkstats/norobust/stats.json" --robust none "$@" \
    || rc=$?
exit $rc
