#!/usr/bin/env bash
# Idempotent set-up of everything the build and tests need, on a fresh Debian machine with
# access to the package registries only. Each step checks first and does nothing when done.
# Usage: scripts/setup.sh [system|system-test|python|wasm|node|node-test|s3-test|model|model-lite0|model-lite1|model-lite2|model-int8|build|all]...
set -euo pipefail
source "$(dirname "$0")/env.sh"

TORCH_VERSION=$(sed -n "s/^torch==//p" "$REPO_ROOT/scripts/requirements.txt")
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' "$REPO_ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')

apt_install() {
  if [ $# -gt 0 ]; then
    log "installing Debian packages: $*"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  fi
}

# What building and running the portal needs.
system() {
  local want=()
  command -v cc >/dev/null || want+=(build-essential)
  command -v pkg-config >/dev/null || want+=(pkg-config)
  command -v npm >/dev/null || want+=(nodejs npm)
  command -v python3 >/dev/null || want+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || want+=(python3-venv)
  command -v curl >/dev/null || want+=(curl ca-certificates)
  apt_install "${want[@]}"
  if ! command -v cargo >/dev/null; then
    log "installing Rust (rustup, stable)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
}

# What the test suite needs on top: a browser, a database server, an SSH server.
system_test() {
  local want=()
  command -v chromium >/dev/null || want+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
  command -v pg_isready >/dev/null || want+=(postgresql-client)
  [ -x /usr/sbin/sshd ] || want+=(openssh-server)
  command -v shellcheck >/dev/null || want+=(shellcheck)
  # deploy/insectid.service is checked with systemd-analyze verify; deploy/nginx.conf.example
  # is run by the proxy test (its own nginx on loopback ports).
  command -v systemd-analyze >/dev/null || want+=(systemd)
  local new_nginx=false
  [ -x /usr/sbin/nginx ] || { want+=(nginx); new_nginx=true; }
  apt_install "${want[@]}"
  # Debian starts the packaged nginx on port 80 where systemd runs: the tests need none of it.
  if $new_nginx && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  # rustup's minimal profile leaves out the formatter and the linter that make test runs.
  local component
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
}

python_env() {
  # Keyed on the requirements' content, so a changed list updates the venv in place.
  local stamp
  stamp="$INSECTID_VENV/.insectid-requirements-$(sha256sum "$REPO_ROOT/scripts/requirements.txt" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  log "setting up the Python venv with torch==$TORCH_VERSION (about 4.7 GB, several minutes the first time)"
  [ -x "$INSECTID_VENV/bin/python" ] || python3 -m venv "$INSECTID_VENV"
  "$INSECTID_VENV/bin/pip" install -q --upgrade pip
  # The full wheel set: Python's torch cannot import without its CUDA libraries, even on a CPU.
  "$INSECTID_VENV/bin/pip" install -q -r "$REPO_ROOT/scripts/requirements.txt"
  rm -f "$INSECTID_VENV"/.insectid-*
  touch "$stamp"
}

wasm_tools() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$("$INSECTID_TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
    # No --locked: its own lock pins a crate version the registry no longer serves.
    cargo install -q wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --root "$INSECTID_TOOLS" --force
  fi
}

node_tools() {
  local dir
  for dir in "$@"; do
    if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      log "npm ci in ${dir#"$REPO_ROOT"/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
}

# An S3-compatible server for the file-store tests: moto's standalone server (it speaks the S3
# protocol with signatures over HTTP, in memory), in a venv of its own.
s3_test() {
  local version stamp
  version=$(sed -n 's/^moto\[server\]==//p' "$REPO_ROOT/scripts/requirements-s3-test.txt")
  stamp="$INSECTID_CACHE/s3-venv/.insectid-moto-$version"
  [ -f "$stamp" ] && return 0
  log "installing moto $version (an S3-compatible test server) into $INSECTID_CACHE/s3-venv"
  python3 -m venv "$INSECTID_CACHE/s3-venv"
  "$INSECTID_CACHE/s3-venv/bin/pip" install -q -r "$REPO_ROOT/scripts/requirements-s3-test.txt"
  touch "$stamp"
}

# Servers and checkers the tests use (an SMTP server, an OpenAPI validator), in a venv of
# their own; keyed on the list's content. The tests find it through INSECTID_TEST_TOOLS_PYTHON.
test_tools() {
  local stamp
  stamp="$INSECTID_CACHE/test-tools-venv/.insectid-$(sha256sum "$REPO_ROOT/scripts/requirements-test-tools.txt" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  log "installing the test tools (aiosmtpd, openapi-spec-validator) into $INSECTID_CACHE/test-tools-venv"
  rm -rf "$INSECTID_CACHE/test-tools-venv"
  python3 -m venv "$INSECTID_CACHE/test-tools-venv"
  "$INSECTID_CACHE/test-tools-venv/bin/pip" install -q -r "$REPO_ROOT/scripts/requirements-test-tools.txt"
  touch "$stamp"
}

# shellcheck disable=SC2120 # the variant is optional: `model` alone is the default bundle
# `model lite1` (or lite2) builds that variant beside the default, for INSECTID_MODEL_DIR.
model() {
  local variant="${1:-lite0}" out="$INSECTID_DEFAULT_BUNDLE" source_sha
  [ "$variant" = lite0 ] || out="$INSECTID_CACHE/models/efficientnet-$variant-imagenet"
  # The bundle is rebuilt when the scripts that make it change (by content, not by date).
  source_sha=$(cat "$REPO_ROOT"/scripts/{export_default_model.py,bundle_parts.py,imagenet_taxonomy.py,reference_preprocess.py,requirements.txt} | sha256sum | cut -c1-16)
  if [ -f "$out/model.pt" ] && [ "$(cat "$out/.source-sha" 2>/dev/null)" = "$source_sha" ]; then
    return 0
  fi
  python_env
  log "exporting the $variant ImageNet bundle to $out"
  local tmp="$out.tmp.$$"
  rm -rf "$tmp"
  "$INSECTID_VENV/bin/python" "$REPO_ROOT/scripts/export_default_model.py" "$tmp" --variant "$variant"
  echo "$source_sha" >"$tmp/.source-sha"
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  mv "$tmp" "$out"
}

# The default bundle's int8 variant, for the tests and the benchmark (make run serves fp32).
# Calibrated on rp11's train photos when the shared dataset is beside the clone, else on the
# bundle's own fixtures (enough for the tests, not for accuracy: see README "int8 bundles").
model_int8() {
  local out="$INSECTID_DEFAULT_BUNDLE-int8" photos="$REPO_ROOT/../shared/datasets/rp11/train" source_sha
  [ -d "$photos" ] || photos="$INSECTID_DEFAULT_BUNDLE/fixtures"
  photos=$(cd "$photos" && pwd -P)  # the same photos by the same name from any clone
  model
  source_sha=$( (cat "$INSECTID_DEFAULT_BUNDLE/.source-sha" "$REPO_ROOT/scripts/export_int8.py"; echo "$photos") | sha256sum | cut -c1-16)
  if [ -f "$out/manifest.json" ] && [ "$(cat "$out/.source-sha" 2>/dev/null)" = "$source_sha" ]; then
    return 0
  fi
  log "exporting the int8 variant of the default bundle to $out (calibration: $photos)"
  local tmp="$out.tmp.$$"
  rm -rf "$tmp"
  "$INSECTID_VENV/bin/python" "$REPO_ROOT/scripts/export_int8.py" "$INSECTID_DEFAULT_BUNDLE" "$tmp" --calibration "$photos" --count 512
  echo "$source_sha" >"$tmp/.source-sha"
  rm -rf "$out"
  mv "$tmp" "$out"
}

[ $# -eq 0 ] && set -- all
for step in "$@"; do
  case "$step" in
    system) system ;;
    system-test) system_test ;;
    python) python_env ;;
    wasm) wasm_tools ;;
    node) node_tools "$REPO_ROOT" ;;
    node-test) node_tools "$REPO_ROOT/end2end" ;;
    model) model ;;
    model-lite0 | model-lite1 | model-lite2) model "${step#model-}" ;;
    model-int8) model_int8 ;;
    s3-test) s3_test ;;
    test-tools) test_tools ;;
    build) system; python_env; wasm_tools; node_tools "$REPO_ROOT"; model ;;
    all) system; system_test; python_env; wasm_tools; node_tools "$REPO_ROOT" "$REPO_ROOT/end2end"; s3_test; test_tools; model; model_int8 ;;
    *) echo "unknown step: $step" >&2; exit 2 ;;
  esac
done
