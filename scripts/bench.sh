#!/usr/bin/env bash
# Identification benchmark, all in one run on this machine (loopback only, bounded in time):
#  1. the model's own forward-pass rate at each batch size (the ceiling);
#  2. POST /api/v1/identify on the release server: throughput, p50/p99 at 1, 4 and 16 clients,
#     on real photos (BENCH_PHOTOS, default ../shared/datasets/rp11/val);
#  3. the same load against the reference Python server (aiohttp + PyTorch, same TorchScript
#     file, same preprocessing), and the ratios against the targets.
# Usage: scripts/bench.sh   (BENCH_SECONDS=20 per run, BENCH_OUT=bench-results)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/setup.sh" python model
source "$REPO_ROOT/scripts/env.sh"
command -v wrk >/dev/null || apt_install_wrk=1
if [ "${apt_install_wrk:-0}" = 1 ]; then as_root apt-get install -y -q --no-install-recommends wrk; fi

seconds="${BENCH_SECONDS:-20}"
photos_dir="${BENCH_PHOTOS:-$REPO_ROOT/../shared/datasets/rp11/val}"
out="${BENCH_OUT:-$REPO_ROOT/bench-results}"
mkdir -p "$out"
work=$(mktemp -d /tmp/insectid-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

find "$photos_dir" -type f -iname '*.jpg' | sort | head -n 300 >"$work/photos.txt"
[ -s "$work/photos.txt" ] || { echo "no JPEG photos under $photos_dir" >&2; exit 1; }

log "building the release server"
cargo build --release -p server --bin insectid
bin="$CARGO_TARGET_DIR/release/insectid"

log "forward-pass rate"
"$bin" bench-forward --model-dir "$INSECTID_DEFAULT_BUNDLE" --batches 1,2,4,8 --seconds 8 --json --log warn | tee "$out/forward.json"

wait_up() {
  for _ in $(seq 1 240); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "server on port $1 did not start" >&2; return 1
}

load() { # name port
  local c t
  wrk -t 2 -c 4 -d 3s --timeout 10s -s scripts/bench/identify.lua "http://127.0.0.1:$2" -- "$work/photos.txt" >/dev/null
  for c in 1 4 16; do
    t=$(( c < 2 ? c : 2 ))
    log "$1: $c clients for ${seconds}s"
    wrk -t "$t" -c "$c" -d "${seconds}s" --timeout 10s -s scripts/bench/identify.lua \
      "http://127.0.0.1:$2" -- "$work/photos.txt" | tee "$work/$1-$c.txt" | grep -E "RESULT|Requests/sec"
    sed -n 's/^RESULT //p' "$work/$1-$c.txt" >"$out/$1-$c.json"
  done
}

"$bin" --bind 127.0.0.1:3901 --data-dir "$work/data" --model-dir "$INSECTID_DEFAULT_BUNDLE" \
  --site-root "$INSECTID_SITE_ROOT" --log warn --queue 256 --uploads-per-minute 0 &
pids+=($!)
wait_up 3901
load rust 3901
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

"$INSECTID_VENV/bin/python" scripts/bench/python_server.py "$INSECTID_DEFAULT_BUNDLE" 3902 &
pids+=($!)
wait_up 3902
load python 3902

python3 scripts/bench/report.py "$out" | tee "$out/report.txt"
