#!/usr/bin/env bash
# The test suite: lint, then pytest (GPU tests run on whatever adapter wgpu finds; lavapipe here).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
ruff check .
python -m pytest -q "$@"
