# shellcheck shell=bash
# Sourced by the Makefile's scripts: where caches and tools live, and the build environment.
# Everything heavy lives outside the clone, under INSECTID_CACHE, so fresh clones reuse it.
: "${INSECTID_CACHE:=$HOME/.cache/insectid}"
export INSECTID_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$INSECTID_CACHE/target}"
export INSECTID_VENV="$INSECTID_CACHE/venv"
export INSECTID_TOOLS="$INSECTID_CACHE/tools"
export INSECTID_SITE_ROOT="${INSECTID_SITE_ROOT:-$CARGO_TARGET_DIR/site}"
export PATH="$INSECTID_TOOLS/bin:$HOME/.cargo/bin:$PATH"
# torch-sys finds libtorch in the venv's torch package; no Python is needed at build time.
torch_dir=$(find "$INSECTID_VENV"/lib -mindepth 3 -maxdepth 3 -path '*/python3*/site-packages/torch' -type d 2>/dev/null | head -n 1 || true)
if [ -n "$torch_dir" ]; then
  export LIBTORCH="$torch_dir" LIBTORCH_CXX11_ABI=1
fi
unset torch_dir
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
# The model bundle tests and `make run` use unless told otherwise.
export INSECTID_DEFAULT_BUNDLE="$INSECTID_CACHE/models/efficientnet-lite0-imagenet"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
