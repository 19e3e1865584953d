#!/usr/bin/env bash
# The load plan (goose scenarios in scripts/load) against a release build on PostgreSQL,
# loopback only, bounded in time, then a report:
#  1. ssr        anonymous species pages back to back (LOAD_SSR_SECONDS, 30): SSR throughput;
#  2. probe      the mixed plan (browse, sign in/out, identify + feedback, label) unthrottled
#                (LOAD_PROBE_SECONDS, 20): each person as fast as they can, so the quick pages
#                dominate the mix;
#  3. saturation the same plan paced at the probe's rate (LOAD_SATURATION_SECONDS, 60):
#                requests are handed out in turn, so the mix is the one step 4 runs, and what it
#                reaches is the portal's capacity for that mix;
#  4. mixed      the plan at 80 % of that capacity (LOAD_MIXED_SECONDS, 600), with the
#                saturation run's mix: each scenario in its own process, paced at 80 % of
#                the rate it reached at saturation.
# Writes LOAD_OUT (default load-results)/report.md, each run's summary JSON and goose's own
# HTML report; exits 1 when a target is missed (LOAD_SSR_TARGET requests/s, default 5000;
# zero errors in the mixed run). Photos: LOAD_PHOTOS (default ../shared/datasets/rp11/val/*).
# Simulated people: LOAD_SSR_USERS (24) for step 1, LOAD_USERS (80) for the others: enough that
# the pace, not people waiting on answers, sets the rate.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$REPO_ROOT/scripts/postgres.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/setup.sh" system system-test python model
source "$REPO_ROOT/scripts/env.sh"

out=$(realpath -m "${LOAD_OUT:-$REPO_ROOT/load-results}")
ssr_seconds="${LOAD_SSR_SECONDS:-30}"
probe_seconds="${LOAD_PROBE_SECONDS:-20}"
saturation_seconds="${LOAD_SATURATION_SECONDS:-60}"
mixed_seconds="${LOAD_MIXED_SECONDS:-600}"
ssr_target="${LOAD_SSR_TARGET:-5000}"
mkdir -p "$out"
work=$(mktemp -d /tmp/insectid-load.XXXXXX)
SERVER_PID=""
DB_NAME="insectid_load_$$"
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "${ADMIN_URL:-}" ] && psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1
  stop_test_postgres
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

# Photos: a flat folder of JPEGs (the dataset keeps them in class folders).
photos_src="${LOAD_PHOTOS:-$REPO_ROOT/../shared/datasets/rp11/val}"
mkdir -p "$work/photos"
# Listed to a file first: `head` closing the pipe early would stop the script (pipefail).
find "$photos_src" -type f -iname '*.jpg' 2>/dev/null | sort >"$work/photo-list.txt" || true
while read -r f; do
  ln -s "$f" "$work/photos/$(echo "$f" | sha1sum | cut -c1-12).jpg"
done < <(head -n 200 "$work/photo-list.txt")
if [ -z "$(ls "$work/photos")" ]; then
  # No dataset beside the clone: the model's own fixture photos, as JPEG.
  "$INSECTID_VENV/bin/python" -c "
import sys, pathlib
from PIL import Image
for p in sorted(pathlib.Path(sys.argv[1]).glob('*.png')):
    Image.open(p).convert('RGB').save(pathlib.Path(sys.argv[2]) / (p.stem + '.jpg'), quality=90)
" "$INSECTID_DEFAULT_BUNDLE/fixtures" "$work/photos"
fi

log "building the release server and the load generator"
cargo build --release -p server --bin insectid
CARGO_TARGET_DIR="$INSECTID_CACHE/load-target" cargo build --release --locked --manifest-path scripts/load/Cargo.toml
bin="$CARGO_TARGET_DIR/release/insectid"
goose="$INSECTID_CACHE/load-target/release/insectid-load"

start_test_postgres
ADMIN_URL="$INSECTID_TEST_DATABASE_URL"
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null
db_url="${ADMIN_URL%/*}/$DB_NAME"

port=3950
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
base="http://127.0.0.1:$port"
admin_password="load-admin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')-Kx"
# Every virtual user comes from 127.0.0.1: the per-address limits would measure themselves.
INSECTID_SIGN_INS_PER_MINUTE=0 INSECTID_UPLOADS_PER_MINUTE=0 \
INSECTID_ADMIN_USERNAME=admin INSECTID_ADMIN_PASSWORD="$admin_password" \
  "$bin" --bind "127.0.0.1:$port" --database-url "$db_url" --data-dir "$work/data" \
  --model-dir "$INSECTID_DEFAULT_BUNDLE" --site-root "$INSECTID_SITE_ROOT" --log warn \
  >"$work/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 240); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "$base/readyz" >/dev/null || { cat "$work/server.log" >&2; echo "the server did not become ready" >&2; exit 1; }

log "accounts and a labelling queue"
python3 scripts/load/prepare.py "$base" "$admin_password" "$work/photos" "$work/accounts.txt"

{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "release build $(git rev-parse --short HEAD 2>/dev/null || echo '?'), PostgreSQL $(psql -Atc 'show server_version' "$ADMIN_URL"),"
  echo "server and load generator on the same machine over loopback; $(find "$work/photos" -maxdepth 1 -type f | wc -l) photos."
} >"$out/context.txt"

attack() { # name scenarios users seconds rate (requests/s, empty: unpaced) [extra goose flags]
  local name=$1 scenarios=$2 users=$3 seconds=$4 rate=$5
  shift 5
  log "load run '$name': $scenarios, $users users, ${seconds}s, ${rate:-unpaced} requests/s $*"
  LOAD_PHOTOS="$work/photos" LOAD_ACCOUNTS="$work/accounts.txt" LOAD_SUMMARY="$out/$name.json" LOAD_RATE="$rate" \
    "$goose" --host "$base" --scenarios "$scenarios" --users "$users" --increase-rate "$users" \
    --run-time "${seconds}s" --timeout 30 --no-telnet --no-websocket --quiet \
    --report-file "$out/$name.html" "$@" 2>&1 | tail -n 3
}

attack ssr ssr "${LOAD_SSR_USERS:-24}" "$ssr_seconds" ""
rate() { python3 -c "import json,sys; print(max(1, int(json.load(open(sys.argv[1]))['requests_per_second'] * float(sys.argv[2]))))" "$1" "$2"; }
attack probe browse,account,identify,label "${LOAD_USERS:-80}" "$probe_seconds" ""
attack saturation browse,account,identify,label "${LOAD_USERS:-80}" "$saturation_seconds" "$(rate "$out/probe.json" 1)"
# The 80 % run keeps the saturation run's mix: one process per scenario, with the same people,
# paced at 80 % of the rate that scenario reached (report.py plan says why).
python3 scripts/load/report.py plan "$out/saturation.json" 0.8 >"$out/mixed-plan.txt"
pids=()
while read -r scenario users rate; do
  attack "mixed-$scenario" "$scenario" "$users" "$mixed_seconds" "$rate" &
  pids+=($!)
done <"$out/mixed-plan.txt"
for pid in "${pids[@]}"; do wait "$pid"; done
python3 scripts/load/report.py merge "$out" mixed "$out/mixed-plan.txt"
# Colour codes off: the report quotes these lines.
sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | grep -E "ERROR|panicked" >"$out/server-errors.txt" || true

python3 scripts/load/report.py "$out" "$ssr_target"
