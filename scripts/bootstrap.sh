# Sourced by scripts/main.sh and scripts/test.sh: makes .venv with the project and its test tools,
# and makes sure wgpu finds a Vulkan adapter (Debian's lavapipe where there is no GPU).
# Idempotent and quick on a second run: the venv is rebuilt only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"  # the Vulkan loader warns without one
PY="${PYTHON:-python3}"
VENV=.venv
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"

# pip, minus the noise of this host's unused local index folders; pip's own exit status is kept.
pip_q() { "$VENV/bin/pip" install -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; } >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root to run: $*" >&2; return 1; fi; }

if [ ! -f "$stamp" ]; then
  echo "== setting up $VENV (python: $($PY --version 2>&1))" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  pip_q --upgrade pip
  pip_q -e '.[test]'
  "$VENV/bin/python" -c "import bench, backends, wgpu, numpy" >/dev/null
  # torch is only the optional peer backend and the independent test oracle; the CPU build is
  # enough. Pinned so pip never pulls a multi-GB CUDA build in as a "newer" release.
  pip_q 'torch==2.13.0' ||
    echo "== torch unavailable: the torch peer backend and oracle tests will be skipped" >&2
  touch "$stamp"
fi

adapter_probe='import wgpu, sys; a = wgpu.gpu.request_adapter_sync(power_preference="high-performance"); sys.exit(a is None)'
if ! "$VENV/bin/python" -c "$adapter_probe" >/dev/null 2>&1; then
  echo "== no Vulkan adapter found: installing Debian's mesa-vulkan-drivers (lavapipe, a software adapter)" >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  "$VENV/bin/python" -c "$adapter_probe" >/dev/null 2>&1 ||
    echo "== still no Vulkan adapter: GPU backend tests and points will be skipped" >&2
fi
export PATH="$PWD/$VENV/bin:$PATH"
