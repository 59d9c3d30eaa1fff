# Sourced by scripts/main.sh and scripts/test.sh, or by hand (`source scripts/bootstrap.sh`) to get
# the project's venv into a terminal: makes .venv with the project and its test tools, makes sure
# wgpu finds a Vulkan adapter (Debian's lavapipe where there is no GPU), and puts .venv/bin first
# on PATH. Idempotent and quick on a second run: the venv is rebuilt only when pyproject.toml
# changes.
#
# Sourcing leaves the caller's shell as it was, but for PATH, VIRTUAL_ENV and XDG_RUNTIME_DIR: the
# work runs in a subshell (its own directory, `set -euo pipefail`), so neither a `cd` nor strict
# mode leaks into an interactive terminal, and a failure returns non-zero instead of closing it.

_gpt_curves_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

(
set -euo pipefail
cd "$_gpt_curves_root"
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

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"  # the Vulkan loader warns without one
# an adapter of a native compute API (Vulkan; Metal, D3D12 elsewhere). Mesa's OpenGL llvmpipe,
# which wgpu also finds on a bare Debian host, compiles the WGSL through GLSL instead of the SPIR-V
# a GPU runs, and does not count: such a host gets lavapipe
adapter_probe='import wgpu, sys; sys.exit(not any(a.info.get("backend_type") in ("Vulkan", "Metal", "D3D12") for a in wgpu.gpu.enumerate_adapters_sync()))'
if ! "$VENV/bin/python" -c "$adapter_probe" >/dev/null 2>&1; then
  echo "== no Vulkan adapter found: installing Debian's mesa-vulkan-drivers (lavapipe, a software adapter)" >&2
  # not fatal: without it the GPU backend still runs on any adapter wgpu finds (OpenGL llvmpipe)
  { as_root apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq mesa-vulkan-drivers >/dev/null; } ||
    echo "== could not install mesa-vulkan-drivers" >&2
  "$VENV/bin/python" -c "$adapter_probe" >/dev/null 2>&1 ||
    echo "== still no Vulkan adapter: GPU tests and points run on another adapter wgpu finds" \
      "(OpenGL), or are skipped where there is none" >&2
fi
)
_gpt_curves_rc=$?

if [ "$_gpt_curves_rc" = 0 ]; then
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
  export VIRTUAL_ENV="$_gpt_curves_root/.venv"
  case ":$PATH:" in
    *":$VIRTUAL_ENV/bin:"*) ;;
    *) export PATH="$VIRTUAL_ENV/bin:$PATH" ;;
  esac
else
  echo "== bootstrap failed (exit $_gpt_curves_rc); the shell is unchanged" >&2
fi
unset _gpt_curves_root
# The status is the setup's: a caller with `set -e` (main.sh, test.sh) stops on a failed setup.
eval "unset _gpt_curves_rc; return $_gpt_curves_rc"
