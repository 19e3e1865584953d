#!/usr/bin/env bash
# Measures fine-tuning on a GPU host, one run: the server built with libtorch_cuda linked
# (INSECTID_CUDA=1), then scripts/quality.sh once per recipe: the CPU's default (the last 3
# blocks on cached activations), the most blocks a backbone export splits off (6), then the
# last 8 blocks trained on photos augmented per batch, each pass through the whole backbone
# (`--unfreeze 8`, the GPU's way). Each prints rp11/val top-1 with its 95 % interval and the
# whole job's time; a summary of every recipe's lines to quote (and of any that failed, or ran
# on the CPU after all) comes at the end.
# Usage: [BASE=lite0|lite1|lite2] [HOLD_OUT=P] scripts/gpu-finetune.sh [RECIPE...]
#   (each RECIPE one quoted string of finetune arguments, e.g. "--unfreeze 6 --unfreeze-epochs 20")
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
[ $# -eq 0 ] && set -- "" "--unfreeze 6" "--unfreeze 8"
for recipe in "$@"; do
  if [ -n "$recipe" ] && [[ $recipe != --* ]]; then
    echo "each recipe is one quoted string of finetune options, such as \"--unfreeze 6\", not '$recipe'" >&2
    exit 1
  fi
done
"$REPO_ROOT/scripts/setup.sh" python
if ! "$INSECTID_VENV/bin/python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  echo "no CUDA device here: on a CPU, scripts/quality.sh is the fine-tune to run" >&2
  exit 1
fi
export INSECTID_CUDA=1
work=$(mktemp -d /tmp/insectid-gpu-finetune.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
for recipe in "$@"; do
  log "recipe: finetune rp11 $recipe"
  echo "== finetune rp11 $recipe" >>"$work/summary"
  read -ra options <<<"$recipe"
  if ! scripts/quality.sh "${options[@]}" | tee "$work/run.log"; then
    echo "FAILED (its output is above)" >>"$work/summary"
    failed=1
  fi
  # The device and the way the blocks trained, then the figures.
  grep -E "^(head trained|the activations of|best val top-1|val top-1 .* mirror|top-1 |recipe:)" "$work/run.log" \
    >>"$work/summary" || true
  if grep -q "^head trained.* on cpu$" "$work/run.log"; then
    echo "RAN ON THE CPU: the CUDA build did not reach the GPU (is libtorch_cuda in the venv?)" >>"$work/summary"
    failed=1
  fi
done
echo
cat "$work/summary"
exit "$failed"
