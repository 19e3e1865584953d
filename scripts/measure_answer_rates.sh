#!/usr/bin/env bash
# How often each kind of headline (confident, rolled up, best guess, "some arthropod", no
# insect) is right for the shipped bundles, measured with the server's own evaluation
# (`insectid eval`) on the shared RP11 val photos and on photos without insects taken from
# PyPI wheels (scikit-image's and matplotlib's sample data). Writes
# src/services/measured_answer_rates.json, which the result page quotes until a portal
# evaluates the model itself. Usage: scripts/measure_answer_rates.sh [BUNDLE_DIR...]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
[ $# -eq 0 ] && set -- "$INSECTID_DEFAULT_BUNDLE" "$INSECTID_DEFAULT_BUNDLE-int8"
positives="$REPO_ROOT/../shared/datasets/rp11/val"
[ -d "$positives" ] || { echo "needs the shared RP11 photos at $positives" >&2; exit 1; }
wheels="$INSECTID_CACHE/negative-wheels"
if [ ! -d "$wheels" ]; then
  log "downloading scikit-image and matplotlib wheels for their sample photos"
  "$INSECTID_VENV/bin/pip" download --quiet --no-deps --only-binary=:all: -d "$wheels.tmp" \
    scikit-image==0.25.2 matplotlib==3.10.3
  mv "$wheels.tmp" "$wheels"
fi
work=$(mktemp -d /tmp/insectid-rates.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A class folder named "no insect": the evaluation counts only "no insect" as right there.
"$INSECTID_VENV/bin/python" - "$wheels" "$work/negatives/no insect" <<'PY'
import os, sys
sys.path.insert(0, "scripts")
from measure_thresholds import negatives
out = sys.argv[2]
os.makedirs(out)
for name, img in negatives(sys.argv[1]):
    img.convert("RGB").save(os.path.join(out, name.replace("/", "_") + ".png"))
print(f"{len(os.listdir(out))} photos without insects")
PY
scripts/build.sh server >/dev/null
for bundle in "$@"; do
  for set in positives negatives; do
    dir=$positives
    [ "$set" = negatives ] && dir="$work/negatives"
    log "evaluating $(basename "$bundle") on $set"
    INSECTID_DATA_DIR="$work/data" "$CARGO_TARGET_DIR/debug/insectid" --model-dir "$bundle" \
      eval "$dir" --out "$work/$(basename "$bundle")-$set" >/dev/null
  done
done
"$INSECTID_VENV/bin/python" - "$work" src/services/measured_answer_rates.json "$@" <<'PY'
import json, os, sys
work, target, bundles = sys.argv[1], sys.argv[2], sys.argv[3:]
entries = json.load(open(target)) if os.path.exists(target) else []
for bundle in bundles:
    name = os.path.basename(bundle)
    reports = [json.load(open(os.path.join(work, f"{name}-{s}", "report.json"))) for s in ("positives", "negatives")]
    tally = {}
    for r in reports:
        for h in r["headlines"]:
            t = tally.setdefault(h["kind"], [0, 0])
            t[0] += h["answers"]
            t[1] += h["right"]
    kinds = ["confident", "rolled_up", "best_guess", "arthropod", "no_insect"]
    headlines = [{"kind": k, "answers": tally[k][0], "right": tally[k][1]} for k in kinds if k in tally]
    pos, neg = reports[0]["images"], reports[1]["images"]
    entry = {
        "model_name": reports[0]["model_name"],
        "model_version": reports[0]["model_version"],
        "measured_on": f"{pos} RP11 val photos and {neg} photos without insects",
        "headlines": headlines,
    }
    entries = [e for e in entries if (e["model_name"], e["model_version"]) != (entry["model_name"], entry["model_version"])]
    entries.append(entry)
    print(f"\n{entry['model_name']} {entry['model_version']} on {entry['measured_on']} (top-1 on RP11 val {reports[0]['top1'] * 100:.2f} %)")
    print("  headline      answers   right")
    for h in headlines:
        print(f"  {h['kind']:<12} {h['answers']:>7}   {h['right'] / h['answers'] * 100:5.1f} %")
with open(target, "w") as f:
    json.dump(entries, f, indent=1)
    f.write("\n")
print(f"\nwrote {target}")
PY
