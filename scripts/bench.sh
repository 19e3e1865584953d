#!/usr/bin/env bash
# Identification benchmark, all in one run on this machine (loopback only, bounded in time):
#  1. the model's own forward-pass rate at each batch size (the ceiling), fp32 and int8;
#  2. POST /api/v1/identify on the release server with the fp32 and the int8 bundle:
#     throughput, p50/p99 at 1, 4 and 16 clients, on real photos (BENCH_PHOTOS, default
#     ../shared/datasets/rp11/val), the server's peak memory, and where a request's time goes
#     (the stage histograms of /metrics, read before and after the 16-client run) and where
#     the machine's CPU goes meanwhile (per server thread, the load generator, idle);
#  3. the same load against the reference Python server (aiohttp + PyTorch, same TorchScript
#     files, same preprocessing) with each bundle, and the ratios against the targets.
# Usage: scripts/bench.sh   (BENCH_SECONDS=20 per run, BENCH_OUT=bench-results)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/setup.sh" python model model-int8
source "$REPO_ROOT/scripts/env.sh"
command -v wrk >/dev/null || as_root apt-get install -y -q --no-install-recommends wrk

seconds="${BENCH_SECONDS:-20}"
photos_dir="${BENCH_PHOTOS:-$REPO_ROOT/../shared/datasets/rp11/val}"
out="${BENCH_OUT:-$REPO_ROOT/bench-results}"
fp32="$INSECTID_DEFAULT_BUNDLE" int8="$INSECTID_DEFAULT_BUNDLE-int8"
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
"$bin" bench-forward --model-dir "$fp32" --batches 1,2,4,8 --seconds 8 --json --log warn | tee "$out/forward.json"
"$bin" bench-forward --model-dir "$int8" --batches 1,2,4,8 --seconds 8 --json --log warn | tee "$out/forward-int8.json"

wait_up() {
  for _ in $(seq 1 240); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "server on port $1 did not start" >&2; return 1
}

memory() { # name pid when: resident and peak resident memory, in kB
  local rss peak
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$2/status")
  peak=$(awk '/^VmHWM/ {print $2}' "/proc/$2/status")
  printf '{"rss_kb": %d, "peak_kb": %d}\n' "$rss" "$peak" >"$out/$1-memory-$3.json"
}

load() { # name port pid
  local c t
  memory "$1" "$3" idle
  wrk -t 2 -c 4 -d 3s --timeout 10s -s scripts/bench/identify.lua "http://127.0.0.1:$2" -- "$work/photos.txt" >/dev/null
  for c in 1 4 16; do
    t=$(( c < 2 ? c : 2 ))
    [ "$c" = 16 ] && { curl -fs "http://127.0.0.1:$2/metrics" >"$out/$1-metrics-before.txt" || true;
      python3 scripts/bench/cpu.py "$3" "$out/$1-cpu-before.json" || true; }
    log "$1: $c clients for ${seconds}s"
    wrk -t "$t" -c "$c" -d "${seconds}s" --timeout 10s -s scripts/bench/identify.lua \
      "http://127.0.0.1:$2" -- "$work/photos.txt" | tee "$work/$1-$c.txt" | grep -E "RESULT|Requests/sec"
    sed -n 's/^RESULT //p' "$work/$1-$c.txt" >"$out/$1-$c.json"
    [ "$c" = 16 ] && { python3 scripts/bench/cpu.py "$3" "$out/$1-cpu-after.json" || true; }
  done
  curl -fs "http://127.0.0.1:$2/metrics" >"$out/$1-metrics-after.txt" || true
  memory "$1" "$3" loaded
}

rust_server() { # name port bundle
  "$bin" --bind "127.0.0.1:$2" --data-dir "$work/data-$1" --model-dir "$3" \
    --site-root "$INSECTID_SITE_ROOT" --log warn --queue 256 --uploads-per-minute 0 &
  pids+=($!)
  wait_up "$2"
  load "$1" "$2" "${pids[-1]}"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

python_server() { # name port bundle
  "$INSECTID_VENV/bin/python" scripts/bench/python_server.py "$3" "$2" &
  pids+=($!)
  wait_up "$2"
  load "$1" "$2" "${pids[-1]}"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

rust_server rust 3901 "$fp32"
rust_server rust-int8 3903 "$int8"
python_server python 3902 "$fp32"
python_server python-int8 3904 "$int8"

python3 scripts/bench/report.py "$out" | tee "$out/report.txt"
