#!/usr/bin/env bash
# Builds the site (hydrate WASM, JS glue, CSS, public assets) and the server binary, the way
# cargo-leptos would, without needing cargo-leptos. Both sides use the same (dev) profile:
# a release client under a dev server fails to hydrate; `release` builds both optimised.
# Usage: scripts/build.sh [site|server|all|release]...
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

# site [PROFILE [ROOT]]: the dev profile into $INSECTID_SITE_ROOT, or release into ROOT.
site() {
  local profile="${1:-dev}" root="${2:-$INSECTID_SITE_ROOT}" dir=debug level=-O1
  [ "$profile" = release ] && dir=release level=-O3
  local pkg="$root/pkg"
  log "building the hydrate WASM ($profile)"
  cargo build --profile "$profile" -p app --lib --target wasm32-unknown-unknown --features hydrate
  mkdir -p "$pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name insectid \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$dir/app.wasm"
  # Debian's binaryen 108 breaks this wasm-bindgen's output; npm's binaryen is current.
  "$REPO_ROOT/node_modules/.bin/wasm-opt" "$level" --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$pkg/insectid_bg.wasm" -o "$pkg/insectid_bg.wasm"
  "$REPO_ROOT/node_modules/.bin/sass" --no-source-map --style=compressed style/main.scss "$pkg/insectid.css"
  cp -R public/. "$root/"
  # The web terminal's xterm.js (npm, pinned in package-lock.json), served from the site itself.
  mkdir -p "$root/xterm"
  cp node_modules/@xterm/xterm/lib/xterm.js node_modules/@xterm/xterm/css/xterm.css \
    node_modules/@xterm/addon-fit/lib/addon-fit.js \
    "$root/xterm/"
}

# The optimised server and site, for production (deploy/, README "Running in production").
release() {
  local root="$CARGO_TARGET_DIR/release-site"
  site release "$root"
  log "building the server (release)"
  cargo build --release -p server --bin insectid
  log "built $CARGO_TARGET_DIR/release/insectid and the site in $root (INSECTID_SITE_ROOT)"
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
    release) release ;;
    *) echo "unknown step: $step" >&2; exit 2 ;;
  esac
done
