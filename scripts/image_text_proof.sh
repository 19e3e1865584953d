#!/usr/bin/env bash
# The image–text path proved on real photos, with one command: trains a small CLIP-style model
# on RP11 with three families held out (scripts/train_image_text.py: the shipped backbone
# frozen, a text encoder learnt from scripts/rp11_descriptions.json), prints its zero-shot
# figures, then runs it as the installed model of a real server (the ignored test
# server/tests/image_text_proof.rs): identify API, the held-out families described on their
# species' pages, zero-shot answers and text search through the API.
# Usage: scripts/image_text_proof.sh [TRAIN_ARGS...]   e.g. --epochs 400 --seed 1
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
rp11="$REPO_ROOT/../shared/datasets/rp11"
if [ ! -d "$rp11/train" ] || [ ! -d "$rp11/val" ]; then
  echo "needs the shared RP11 photos at $rp11" >&2
  exit 1
fi
scripts/setup.sh model
work=$(mktemp -d /tmp/insectid-image-text-proof.XXXXXX)
trap 'rm -rf "$work"' EXIT
log "training the RP11 image–text model (backbone features cached in $INSECTID_CACHE/image-text-proof)"
(cd scripts && "$INSECTID_VENV/bin/python" train_image_text.py "$work/bundle" --rp11 "$rp11" \
  --features "$INSECTID_DEFAULT_BUNDLE/features.pt" --cache "$INSECTID_CACHE/image-text-proof" "$@")
log "serving it: describe the held-out families, identify through the API, search by text"
INSECTID_PROOF_BUNDLE="$work/bundle" INSECTID_PROOF_RP11="$rp11" OMP_WAIT_POLICY=passive \
  cargo test --quiet -p server --test image_text_proof -- --ignored --nocapture
