#!/usr/bin/env bash
# The headline figure of in-app fine-tuning, reproducible with one command: imports the shared
# RP11 photos into a fresh data folder, fine-tunes the default model on them with the current
# recipe (the release build, as a production server runs it), then evaluates the new bundle on
# rp11/val with the server's own evaluation. Prints the fine-tune's val figures and time, and the
# evaluation's top-1 with its 95 % interval and each verdict's share and precision.
# Usage: [BASE=lite0|lite1|lite2] scripts/quality.sh [FINETUNE_ARGS...]
#   e.g. scripts/quality.sh --views 4 --mirror; BASE=lite2 scripts/quality.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
rp11="$REPO_ROOT/../shared/datasets/rp11"
if [ ! -d "$rp11/train" ] || [ ! -d "$rp11/val" ]; then
  echo "needs the shared RP11 photos at $rp11" >&2
  exit 1
fi
base=${BASE:-lite0}
scripts/setup.sh "model-$base"
base_dir="$INSECTID_CACHE/models/efficientnet-$base-imagenet"
log "building the server (release)"
cargo build --release --quiet -p server --bin insectid
insectid="$CARGO_TARGET_DIR/release/insectid"
work=$(mktemp -d /tmp/insectid-quality.XXXXXX)
trap 'rm -rf "$work"' EXIT
export INSECTID_DATA_DIR="$work/data" INSECTID_LOG=warn
run() { "$insectid" --model-dir "$base_dir" "$@"; }

log "importing rp11 (train and val splits as they are)"
run dataset import "$rp11" --name rp11 | tail -n 2
log "fine-tuning: insectid finetune rp11 $*"
started=$(date +%s)
run finetune rp11 "$@" | tee "$work/finetune.log"
seconds=$(($(date +%s) - started))
bundle=$(sed -n 's/^installed .* at \(.*\) (inactive.*/\1/p' "$work/finetune.log")
[ -d "$bundle" ] || { echo "the fine-tune did not say where it installed the bundle" >&2; exit 1; }

# A copy answering from the photo alone, to show what averaging with the mirror buys and costs
# (its temperature was fitted for the averaged logits: compare top-1 and speed, not calibration).
variants=("$bundle")
if grep -q '"test_time": "flip"' "$bundle/manifest.json"; then
  cp -r "$bundle" "$work/photo-alone"
  "$INSECTID_VENV/bin/python" - "$work/photo-alone/manifest.json" <<'PY'
import json, sys
path = sys.argv[1]
manifest = json.load(open(path))
del manifest["test_time"]
json.dump(manifest, open(path, "w"), indent=1)
PY
  variants+=("$work/photo-alone")
fi
for variant in "${variants[@]}"; do
  what="as installed (test-time $(sed -n 's/.*"test_time": "\(.*\)".*/\1/p' "$variant/manifest.json"))"
  [ "$what" = "as installed (test-time )" ] && what="as installed (the photo alone)"
  [ "$variant" = "$bundle" ] || what="the same bundle, the photo alone"
  log "evaluating $what on rp11/val"
  "$insectid" --model-dir "$variant" eval "$rp11/val" --out "$work/eval" | grep -v "^report, "
  INSECTID_INFERENCE_THREADS=$(nproc) "$insectid" --model-dir "$variant" bench-forward --batches 1,4 --seconds 3 |
    grep "^batch"
done
echo
echo "recipe: efficientnet-$base, finetune rp11 $* | whole fine-tune ${seconds} s on $(nproc) cores ($(uname -m))"
