#!/usr/bin/env bash
# Builds the site (hydrate WASM, JS glue, CSS, public assets) and the server binary, the way
# cargo-leptos would, without needing cargo-leptos. Both sides use the same (dev) profile:
# a release client under a dev server fails to hydrate.
# Usage: scripts/build.sh [site|server|all]...
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

site() {
  local pkg="$INSECTID_SITE_ROOT/pkg"
  log "building the hydrate WASM"
  cargo build -p app --lib --target wasm32-unknown-unknown --features hydrate
  mkdir -p "$pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name insectid \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/app.wasm"
  # Debian's binaryen 108 breaks this wasm-bindgen's output; npm's binaryen is current.
  "$REPO_ROOT/node_modules/.bin/wasm-opt" -O1 --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$pkg/insectid_bg.wasm" -o "$pkg/insectid_bg.wasm"
  "$REPO_ROOT/node_modules/.bin/sass" --no-source-map --style=compressed style/main.scss "$pkg/insectid.css"
  cp -R public/. "$INSECTID_SITE_ROOT/"
  # The web terminal's xterm.js (npm, pinned in package-lock.json), served from the site itself.
  mkdir -p "$INSECTID_SITE_ROOT/xterm"
  cp node_modules/@xterm/xterm/lib/xterm.js node_modules/@xterm/xterm/css/xterm.css \
    node_modules/@xterm/addon-fit/lib/addon-fit.js \
    "$INSECTID_SITE_ROOT/xterm/"
}

server() {
  log "building the server"
  cargo build -p server --bin insectid
}

[ $# -eq 0 ] && set -- all
for step in "$@"; do
  case "$step" in
    site) site ;;
    server) server ;;
    all) site; server ;;
    *) echo "unknown step: $step" >&2; exit 2 ;;
  esac
done
