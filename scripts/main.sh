#!/usr/bin/env bash
# The main job: a quick sweep (CPU threads vs the GPU backend, on whatever adapter is here) that
# writes a results table and speedup plots under results/<machine>/ and prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
python -m bench sweep --quick "$@"
