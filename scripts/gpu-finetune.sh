#!/usr/bin/env bash
# The GPU step of the fine-tuning figures, one run: the server built with libtorch_cuda linked
# (INSECTID_CUDA=1), then scripts/quality.sh once per recipe, more of the backbone trained each
# time than a CPU affords: the CPU default (the last 3 blocks on cached activations), the most
# blocks a backbone export splits off (6), then blocks through the whole backbone on photos
# augmented per batch (`--unfreeze 8`, the GPU's way). Each prints rp11/val top-1 with its 95 %
# interval and the whole job's time; the lines to quote are collected at the end.
# Usage: [BASE=lite0|lite2] [HOLD_OUT=P] scripts/gpu-finetune.sh [RECIPE...]
#   (each RECIPE one quoted string of finetune arguments, e.g. "--unfreeze 6 --unfreeze-epochs 20")
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/setup.sh" python
if ! "$INSECTID_VENV/bin/python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  echo "no CUDA device here: on a CPU, scripts/quality.sh is the fine-tune to run" >&2
  exit 1
fi
[ $# -eq 0 ] && set -- "" "--unfreeze 6" "--unfreeze 8"
export INSECTID_CUDA=1
work=$(mktemp -d /tmp/insectid-gpu-finetune.XXXXXX)
trap 'rm -rf "$work"' EXIT
for recipe in "$@"; do
  log "recipe: finetune rp11 $recipe"
  # shellcheck disable=SC2086 # a recipe is several arguments on purpose
  scripts/quality.sh $recipe | tee "$work/run.log"
  grep -E "^(recipe:|best val top-1|top-1) " "$work/run.log" >>"$work/summary"
done
echo
cat "$work/summary"
