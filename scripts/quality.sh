#!/usr/bin/env bash
# The headline figure of in-app fine-tuning, reproducible with one command: imports the shared
# RP11 photos into a fresh data folder, fine-tunes the default model on them with the current
# recipe (the release build, as a production server runs it), then evaluates the new bundle on
# rp11/val with the server's own evaluation. Prints the fine-tune's val figures and time, and the
# evaluation's top-1 with its 95 % interval and each verdict's share and precision.
# HOLD_OUT=P keeps rp11/val out of the fine-tune altogether: P % of each train family (a seeded
# draw) becomes the split the fine-tune stops early and calibrates on, so rp11/val is photos
# that chose nothing, and the evaluation on it says how unseen photos score.
# INPUT_SIZE=N fine-tunes and serves at N×N pixels instead of the base's own input size S (a
# copy of the base bundle whose manifest says N, cropping the same share of the photo): a larger
# input shows the backbone a small insect larger, at about (N/S)² the cost of every pass.
# Usage: [BASE=lite0|lite1|lite2] [HOLD_OUT=P] [INPUT_SIZE=N] [PROFILE=dev] scripts/quality.sh [FINETUNE_ARGS...]
#   e.g. scripts/quality.sh --views 4 --mirror; BASE=lite2 scripts/quality.sh; HOLD_OUT=15 scripts/quality.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
rp11="$REPO_ROOT/../shared/datasets/rp11"
if [ ! -d "$rp11/train" ] || [ ! -d "$rp11/val" ]; then
  echo "needs the shared RP11 photos at $rp11" >&2
  exit 1
fi
base=${BASE:-lite0}
held_out=${HOLD_OUT:-0}
if ! [[ $held_out =~ ^[0-9]+$ ]] || ((held_out >= 100)); then
  echo "HOLD_OUT is a whole percentage below 100, not '$held_out'" >&2
  exit 1
fi
held_out=$((10#$held_out))
input_size=${INPUT_SIZE:-}
if [ -n "$input_size" ] && { ! [[ $input_size =~ ^[0-9]+$ ]] || ((10#$input_size < 64 || 10#$input_size > 1024)); }; then
  echo "INPUT_SIZE is a whole number of pixels from 64 to 1024, not '$input_size'" >&2
  exit 1
fi
# PROFILE=dev runs the debug build instead (no release build to wait for; the torch work, nearly
# all of the time, is the same library either way, so its time is an upper bound).
profile=${PROFILE:-release}
case "$profile" in
  release) binary_dir=release ;;
  dev) binary_dir=debug ;;
  *) echo "PROFILE is release or dev, not '$profile'" >&2; exit 1 ;;
esac
scripts/setup.sh "model-$base"
base_dir="$INSECTID_CACHE/models/efficientnet-$base-imagenet"
log "building the server ($profile)"
cargo build --profile "$profile" --quiet -p server --bin insectid
insectid="$CARGO_TARGET_DIR/$binary_dir/insectid"
work=$(mktemp -d /tmp/insectid-quality.XXXXXX)
trap 'rm -rf "$work"' EXIT
export INSECTID_DATA_DIR="$work/data" INSECTID_LOG=warn
if [ -n "$input_size" ]; then
  input_size=$((10#$input_size))
  log "the base at $input_size×$input_size pixels (a copy of $base_dir)"
  cp -r "$base_dir" "$work/base"
  base_dir="$work/base"
  "$INSECTID_VENV/bin/python" - "$base_dir/manifest.json" "$input_size" <<'PY'
import json, sys
path, size = sys.argv[1], int(sys.argv[2])
manifest = json.load(open(path))
# The same share of the photo as the base crops (224 of 256: 0.875), shown at the new size.
manifest["resize_shorter"] = round(size * manifest["resize_shorter"] / manifest["input_size"])
manifest["input_size"] = size
json.dump(manifest, open(path, "w"), indent=1)
PY
fi
run() { "$insectid" --model-dir "$base_dir" "$@"; }

if ((held_out > 0)); then
  log "importing rp11's train alone, $held_out % of each family held out as the fine-tune's val"
  "$INSECTID_VENV/bin/python" - "$rp11/train" "$work/rp11-held-out" "$held_out" <<'PY'
import os, random, shutil, sys
train, out, share = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 100
for family in sorted(os.listdir(train)):
    photos = sorted(os.listdir(os.path.join(train, family)))
    held = set(random.Random(f"hold-out {family}").sample(photos, round(len(photos) * share)))
    for photo in photos:
        target = os.path.join(out, "val" if photo in held else "train", family)
        os.makedirs(target, exist_ok=True)
        source = os.path.join(train, family, photo)
        try:
            os.link(source, os.path.join(target, photo))
        except OSError:
            shutil.copyfile(source, os.path.join(target, photo))
print(f"held out {share:.0%} of {train}")
PY
  run dataset import "$work/rp11-held-out" --name rp11 | tail -n 2
else
  log "importing rp11 (train and val splits as they are)"
  run dataset import "$rp11" --name rp11 | tail -n 2
fi
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
echo "recipe: efficientnet-$base${input_size:+ at $input_size px}, finetune rp11 $* | whole fine-tune ${seconds} s on $(nproc) cores ($(uname -m)), $profile build"
if ((held_out > 0)); then
  echo "the fine-tune's val figures are on $held_out % of train held out; rp11/val was never seen"
fi
