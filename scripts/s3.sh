# shellcheck shell=bash
# Sourced by test.sh: an S3-compatible server for the file-store tests and the AWS_* settings
# that point the S3 backend at it; sets INSECTID_TEST_S3_URL. A caller that sets
# INSECTID_TEST_S3_URL (and its own AWS_* variables) brings its own bucket instead.

S3_PID=""

start_test_s3() {
  if [ -n "${INSECTID_TEST_S3_URL:-}" ]; then
    log "S3: using INSECTID_TEST_S3_URL"
    return 0
  fi
  local port=9300 log_file
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  log_file=$(mktemp /tmp/insectid-s3.XXXXXX)
  log "S3: starting a throw-away S3-compatible server (moto) on 127.0.0.1:$port"
  "$INSECTID_CACHE/s3-venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
  S3_PID=$!
  for _ in $(seq 1 120); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.25
  done
  curl -s -o /dev/null "http://127.0.0.1:$port/" || {
    cat "$log_file" >&2
    echo "the S3 test server did not answer in 30 s" >&2
    return 1
  }
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$port/insectid-test" || { cat "$log_file" >&2; return 1; }
  export AWS_ENDPOINT="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=insectid-test AWS_SECRET_ACCESS_KEY=insectid-test
  export INSECTID_TEST_S3_URL="s3://insectid-test"
}

stop_test_s3() {
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
  return 0
}
