#!/usr/bin/env bash
# `make test`: the whole suite on a fresh or warm machine. Formatting, clippy and ShellCheck
# (scripts/lint.sh), then unit and integration tests on SQLite
# and PostgreSQL, then the end-to-end suite in Chromium (JavaScript on and off) against the
# built server. Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$REPO_ROOT/scripts/postgres.sh"
source "$REPO_ROOT/scripts/sshd.sh"
source "$REPO_ROOT/scripts/s3.sh"
cd "$REPO_ROOT"
started=$(date +%s)

"$REPO_ROOT/scripts/setup.sh" all
source "$REPO_ROOT/scripts/env.sh"  # again: the venv (and LIBTORCH) may be new
"$REPO_ROOT/scripts/build.sh" all
"$REPO_ROOT/scripts/lint.sh" check

SERVER_PID=""
SMTP_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  # aiosmtpd ends with 143 on SIGTERM: not a failure of the suite.
  [ -n "$SMTP_PID" ] && kill "$SMTP_PID" 2>/dev/null && { wait "$SMTP_PID" 2>/dev/null || true; }
  stop_test_postgres
  stop_test_pgvector
  stop_test_sshd
  stop_test_s3
  [ -n "${E2E_DATA:-}" ] && rm -rf "$E2E_DATA"
  return 0
}
trap cleanup EXIT
start_test_postgres
start_test_pgvector
start_test_sshd
start_test_s3
export INSECTID_TEST_MODEL_DIR="$INSECTID_DEFAULT_BUNDLE"
export INSECTID_TEST_INT8_MODEL_DIR="$INSECTID_DEFAULT_BUNDLE-int8"
export INSECTID_TEST_PYTHON="$INSECTID_VENV/bin/python"
export INSECTID_TEST_TOOLS_PYTHON="$INSECTID_CACHE/test-tools-venv/bin/python"

# A small free-space reserve: the suite must pass on a machine with little disk left
# (the reserve's own tests set theirs).
export INSECTID_MIN_FREE_MB="${INSECTID_MIN_FREE_MB:-64}"
log "cargo test (SQLite and PostgreSQL)"
# Many engines share two cores in the test binaries: idle OpenMP threads must not spin there.
OMP_WAIT_POLICY=passive cargo test --workspace

log "end-to-end tests in Chromium"
E2E_DATA=$(mktemp -d /tmp/insectid-e2e.XXXXXX)
port=3999
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
export E2E_ADMIN_PASSWORD="e2e-admin-pass-9931"
# A real insect photo from the shared dataset beside the clone when there is one.
E2E_PHOTO="$REPO_ROOT/../shared/datasets/rp11/val/Curculionidae/RP00003.jpg"
[ -f "$E2E_PHOTO" ] || E2E_PHOTO="$INSECTID_DEFAULT_BUNDLE/fixtures/rgb.png"
export E2E_PHOTO
# The default bundle under another version, as an administrator would upload one.
E2E_BUNDLE_ZIP="$E2E_DATA/bundle-1.0.1-e2e.zip"
"$INSECTID_VENV/bin/python" - "$INSECTID_DEFAULT_BUNDLE" "$E2E_BUNDLE_ZIP" <<'PY'
import json, pathlib, sys, zipfile
src, out = pathlib.Path(sys.argv[1]), sys.argv[2]
manifest = json.loads((src / "manifest.json").read_text())
manifest["version"] = "1.0.1-e2e"
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    z.writestr("bundle/manifest.json", json.dumps(manifest))
    for name in manifest["files"].values():
        if name:
            z.write(src / name, f"bundle/{name}")
PY
export E2E_BUNDLE_ZIP
# A tiny labelled dataset (three rice-pest families as patterned colour photos, class folders
# with train and val splits), for the fine-tune → evaluate → activate test.
E2E_DATASET_ZIP="$E2E_DATA/e2e-pests.zip"
python3 - "$E2E_DATASET_ZIP" <<'PY'
import random, struct, sys, zipfile, zlib
def png(w, h, pixel):
    rows = b"".join(b"\0" + bytes(c for x in range(w) for c in pixel(x, y)) for y in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
families = {"Crambidae": (200, 60, 40), "Delphacidae": (40, 170, 60), "Curculionidae": (50, 70, 200)}
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for k, (family, (r, g, b)) in enumerate(families.items()):
        for split, count in (("train", 6), ("val", 3)):
            for i in range(count):
                rnd = random.Random(k * 100 + i + (50 if split == "val" else 0))
                stripe, phase, light = 4 + 3 * k, rnd.randint(0, 20), rnd.randint(-30, 30)
                def pixel(x, y):
                    on = ((x + y * k + phase) // stripe) % 2
                    n = rnd.randint(-25, 25) + light
                    return tuple(max(0, min(255, c + n - 60 * on)) for c in (r, g, b))
                z.writestr(f"pests/{split}/{family}/{family.lower()}-{split}-{i}.png", png(96, 96, pixel))
PY
export E2E_DATASET_ZIP
# The terminal's preset hosts: the throw-away sshd by key and by password, and the same host
# under a wrong pinned fingerprint (which must be refused).
cat >"$E2E_DATA/ssh-presets.json" <<JSON
[
  {"name": "test-key", "host": "127.0.0.1", "port": $INSECTID_TEST_SSH_PORT, "user": "$INSECTID_TEST_SSH_USER",
   "auth": {"kind": "key", "path": "$INSECTID_TEST_SSH_KEY"}},
  {"name": "test-password", "host": "127.0.0.1", "port": $INSECTID_TEST_SSH_PORT, "user": "$INSECTID_TEST_SSH_USER",
   "auth": {"kind": "password"}},
  {"name": "test-wrong-key", "host": "127.0.0.1", "port": $INSECTID_TEST_SSH_PORT, "user": "$INSECTID_TEST_SSH_USER",
   "auth": {"kind": "key", "path": "$INSECTID_TEST_SSH_KEY"}, "fingerprint": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
]
JSON
# A mail relay (aiosmtpd into a maildir) for pest-alert e-mail, rounds every minute.
smtp_port=2525
while (echo >"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null; do smtp_port=$((smtp_port + 1)); done
"$INSECTID_TEST_TOOLS_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" \
  -c aiosmtpd.handlers.Mailbox "$E2E_DATA/mail" >"$E2E_DATA/smtp.log" 2>&1 &
SMTP_PID=$!
export E2E_MAILDIR="$E2E_DATA/mail"
# The end-to-end suite signs in and uploads far more often than one person would: the
# per-address limits are off for it (server/tests/abuse.rs tests them at their defaults).
INSECTID_SMTP_URL="smtp://127.0.0.1:$smtp_port" INSECTID_MAIL_FROM="Insect Identifier <alerts@e2e.test>" \
INSECTID_ALERT_MAIL_MINUTES=1 INSECTID_PUBLIC_URL="http://127.0.0.1:$port" \
INSECTID_SIGN_INS_PER_MINUTE=0 INSECTID_UPLOADS_PER_MINUTE=0 \
INSECTID_SSH_PRESETS="$E2E_DATA/ssh-presets.json" INSECTID_ADMIN_USERNAME=admin INSECTID_ADMIN_PASSWORD="$E2E_ADMIN_PASSWORD" \
"$CARGO_TARGET_DIR/debug/insectid" --bind "127.0.0.1:$port" --data-dir "$E2E_DATA" \
  --model-dir "$INSECTID_DEFAULT_BUNDLE" --site-root "$INSECTID_SITE_ROOT" >"$E2E_DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$E2E_DATA/server.log"; exit 1; }
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || {
  tail -n 50 "$E2E_DATA/server.log"
  echo "the end-to-end server did not answer /healthz in 60 s" >&2
  exit 1
}
# The report is kept so that a failure's summary can be printed last, below the server's log:
# CI shows only the end of the output.
(cd end2end && E2E_BASE_URL="http://127.0.0.1:$port" npx playwright test) 2>&1 | tee "$E2E_DATA/playwright.log" || {
  echo "--- server log ---"; tail -n 40 "$E2E_DATA/server.log"
  echo "--- end-to-end failures ---"
  grep -E "^ +[0-9]+\) |Error:|Expected|Received|Timeout|waiting for|failed|flaky|passed" "$E2E_DATA/playwright.log" | tail -n 60
  exit 1
}
if grep -q " flaky" "$E2E_DATA/playwright.log"; then
  echo "--- end-to-end tests that passed only when run again ---" >&2
  grep -A8 " flaky" "$E2E_DATA/playwright.log" >&2
fi
# The pressure spec's two subscribers (JavaScript on and off) confirmed their addresses for
# alert e-mail: the server's rounds (every minute) mailed each of them an alert.
mailed=0
for _ in $(seq 1 75); do
  mailed=$(grep -ls "^Subject: Pest alert" "$E2E_DATA"/mail/new/* 2>/dev/null | xargs -r grep -ls "^To: pp.*@e2e.test" | wc -l || true)
  [ "$mailed" -ge 2 ] && break
  sleep 1
done
if [ "$mailed" -lt 2 ]; then
  echo "pest alert e-mail: $mailed of 2 subscribers were mailed" >&2
  grep -i "alert e-mail" "$E2E_DATA/server.log" | tail -n 5 >&2
  exit 1
fi
# No page may arrive without the renderer's policy header (leptos_axum's file handler used to
# take it from a page rendered alongside a file download: one or two pages per run).
lost=$(grep -c "a page without the renderer's policy header" "$E2E_DATA/server.log" || true)
if [ "$lost" != 0 ]; then
  echo "pages without the policy header: $lost" >&2
  grep "a page without the renderer's policy header" "$E2E_DATA/server.log" | tail -n 5 >&2
  exit 1
fi
log "all tests passed in $(( $(date +%s) - started )) s"
