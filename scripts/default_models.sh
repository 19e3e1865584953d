#!/usr/bin/env bash
# The ImageNet bundles `make model` can build (EfficientNet-Lite0, Lite1, Lite2), side by side on
# the shared RP11 val photos with the release server's own evaluation and forward benchmark:
# top-1/top-5 where an RP11 family has ImageNet labels, each verdict's share and precision, and
# the forward rate at batch 1 and 4. The README's table comes from here.
# Usage: scripts/default_models.sh [lite0 lite1 lite2]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
[ $# -eq 0 ] && set -- lite0 lite1 lite2
val="$REPO_ROOT/../shared/datasets/rp11/val"
[ -d "$val" ] || { echo "needs the shared RP11 photos at $val" >&2; exit 1; }
for variant in "$@"; do
  if [ "$variant" = lite0 ]; then scripts/setup.sh model; else scripts/setup.sh "model-$variant"; fi
done
log "building the server (release)"
cargo build --release --quiet -p server --bin insectid
insectid="$CARGO_TARGET_DIR/release/insectid"
work=$(mktemp -d /tmp/insectid-default-models.XXXXXX)
trap 'rm -rf "$work"' EXIT
export INSECTID_DATA_DIR="$work/data" INSECTID_LOG=warn
for variant in "$@"; do
  bundle="$INSECTID_CACHE/models/efficientnet-$variant-imagenet"
  log "efficientnet-$variant on rp11/val"
  "$insectid" --model-dir "$bundle" eval "$val" --out "$work/$variant" | sed -n '2p;/^verdict/,/^report/p' |
    grep -v "^report, "
  INSECTID_INFERENCE_THREADS=$(nproc) "$insectid" --model-dir "$bundle" bench-forward --batches 1,4 --seconds 5 |
    grep "^batch"
done
