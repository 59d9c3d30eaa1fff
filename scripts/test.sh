#!/usr/bin/env bash
# The test suite: lint, then pytest (GPU tests run on whatever adapter wgpu finds; lavapipe here).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
ruff check .
python -m pytest -q "$@"
