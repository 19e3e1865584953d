#!/usr/bin/env bash
# `make run`: set up what is missing, build, and serve the portal on http://127.0.0.1:3000
# with SQLite and the default model under ./data. Extra arguments go to `insectid`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$REPO_ROOT/scripts/setup.sh" build
source "$REPO_ROOT/scripts/env.sh"  # again: the venv (and LIBTORCH) may be new
"$REPO_ROOT/scripts/build.sh" all
cd "$REPO_ROOT"
data="${INSECTID_DATA_DIR:-data}"
bundle="$data/models/efficientnet-lite0-imagenet"
# The default bundle under ./data follows the one the scripts export (refreshed when they change).
if [ -z "${INSECTID_MODEL_DIR:-}" ] && [ "$(cat "$bundle/.source-sha" 2>/dev/null)" != "$(cat "$INSECTID_DEFAULT_BUNDLE/.source-sha")" ]; then
  mkdir -p "$data/models"
  rm -rf "$bundle.new" && cp -R "$INSECTID_DEFAULT_BUNDLE" "$bundle.new"
  rm -rf "$bundle" && mv "$bundle.new" "$bundle"
fi
exec "$CARGO_TARGET_DIR/debug/insectid" --data-dir "$data" --site-root "$INSECTID_SITE_ROOT" "$@"
