#!/usr/bin/env bash
# GPU benchmark, one run (on a machine without a GPU it runs the same steps on the CPU, fp32
# only, to show the script works):
#  1. PyTorch alone (scripts/bench/gpu_forward.py): forward rate in fp32 and fp16 at batch
#     1...256, the CPU decoding rate, and a decode-batch-forward pipeline at saturation;
#  2. the Rust server built with INSECTID_CUDA=1: `insectid bench-forward` in fp32 and fp16
#     (INSECTID_HALF=1) at the same batch sizes, then POST /api/v1/identify at saturation with
#     the engine's batch limit chosen by device (128 on a GPU), against the goal of 2,000
#     identifications/s on one H200.
# Usage: scripts/gpu-bench.sh   (BENCH_SECONDS=20, BENCH_CLIENTS=256 on a GPU / 16 on a CPU,
#                                BENCH_OUT=bench-results/gpu)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/setup.sh" python model
source "$REPO_ROOT/scripts/env.sh"
command -v wrk >/dev/null || as_root apt-get install -y -q --no-install-recommends wrk

out="${BENCH_OUT:-$REPO_ROOT/bench-results/gpu}"
seconds="${BENCH_SECONDS:-20}"
mkdir -p "$out"
work=$(mktemp -d /tmp/insectid-gpu-bench.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if "$INSECTID_VENV/bin/python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  device=cuda batches=1,2,4,8,16,32,64,128,256 clients="${BENCH_CLIENTS:-256}"
else
  device=cpu batches=1,2,4,8,16 clients="${BENCH_CLIENTS:-16}"
  log "no CUDA device here: running the same steps on the CPU (fp32 only)"
fi

log "PyTorch alone on $device"
"$INSECTID_VENV/bin/python" scripts/bench/gpu_forward.py --json "$out/python.json" | tee "$out/python.txt"

log "building the release server with libtorch_cuda linked (INSECTID_CUDA=1)"
INSECTID_CUDA=1 cargo build --release -p server --bin insectid
bin="$CARGO_TARGET_DIR/release/insectid"
common=(--model-dir "$INSECTID_DEFAULT_BUNDLE" --device "$device" --log warn)

log "forward-pass rate of the Rust engine, fp32"
"$bin" bench-forward "${common[@]}" --batches "$batches" --seconds 3 --json | tee "$out/rust-forward-fp32.json"
half=()
if [ "$device" = cuda ]; then
  log "forward-pass rate of the Rust engine, fp16"
  "$bin" bench-forward "${common[@]}" --half --batches "$batches" --seconds 3 --json | tee "$out/rust-forward-fp16.json"
  half=(--half)
fi

photos_dir="$REPO_ROOT/../shared/datasets/rp11/val"
[ -d "$photos_dir" ] || photos_dir="$INSECTID_DEFAULT_BUNDLE/fixtures"
find "$photos_dir" -type f \( -iname '*.jpg' -o -iname '*.png' \) | sort | head -n 300 >"$work/photos.txt"

log "end to end: $clients clients for ${seconds}s"
"$bin" --bind 127.0.0.1:3911 --data-dir "$work/data" "${common[@]}" "${half[@]}" \
  --site-root "$INSECTID_SITE_ROOT" --queue 4096 --uploads-per-minute 0 &
server=$!
for _ in $(seq 1 240); do curl -fs http://127.0.0.1:3911/healthz >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs http://127.0.0.1:3911/healthz >/dev/null || { echo "the server did not start in 2 minutes" >&2; exit 1; }
curl -fs http://127.0.0.1:3911/api/v1/model | tee "$out/model.json"; echo
threads=$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 ))
wrk -t "$threads" -c "$clients" -d 3s --timeout 10s -s scripts/bench/identify.lua http://127.0.0.1:3911 -- "$work/photos.txt" >/dev/null
wrk -t "$threads" -c "$clients" -d "${seconds}s" --timeout 10s -s scripts/bench/identify.lua \
  http://127.0.0.1:3911 -- "$work/photos.txt" | tee "$work/e2e.txt"
sed -n 's/^RESULT //p' "$work/e2e.txt" >"$out/rust-e2e.json"

python3 - "$out" "$device" <<'PY'
import json, os, sys
out, device = sys.argv[1], sys.argv[2]
e2e = json.load(open(os.path.join(out, "rust-e2e.json")))
rate = e2e["requests"] / e2e["seconds"]
for name in ("rust-forward-fp32.json", "rust-forward-fp16.json"):
    path = os.path.join(out, name)
    if os.path.exists(path):
        rows = json.load(open(path))["batches"]
        best = max(rows, key=lambda r: r["images_per_second"])
        print(f"{name[:-5]}: best {best['images_per_second']:.0f} images/s at batch {best['batch']}")
print(f"end to end on {device}: {rate:.0f} identifications/s, p50 {e2e['p50_ms']:.1f} ms, p99 {e2e['p99_ms']:.1f} ms, "
      f"{e2e['errors']} errors")
if device == "cuda":
    print(f"{'PASS' if rate >= 2000 else 'MISS'}  >= 2,000 identifications/s end to end on the GPU: {rate:.0f}")
PY
