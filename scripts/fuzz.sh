#!/usr/bin/env bash
# Runs each fuzz target (scripts/fuzz) for a bounded time: FUZZ_SECONDS each (default 60), or
# only the targets named as arguments. Needs rustup's nightly toolchain; installs cargo-fuzz
# into the cache once. Crashes are written to scripts/fuzz/artifacts/TARGET/ and the run fails;
# turn each into a regression test next to the code it found wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
CACHE="$HOME/.cache/insectid"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(preprocess multipart manifest dataset_lists archive)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! [ -x "$CACHE/cargo-fuzz/bin/cargo-fuzz" ]; then
  log "installing cargo-fuzz into $CACHE/cargo-fuzz (once)"
  cargo install cargo-fuzz --locked --root "$CACHE/cargo-fuzz"
fi
export PATH="$CACHE/cargo-fuzz/bin:$PATH"
export CARGO_TARGET_DIR="$CACHE/fuzz-target"

# Seeds: real photos, upload bodies, the default manifest, a list, an archive.
CORPUS="$CACHE/fuzz-corpus"
mkdir -p "$CORPUS"/{preprocess,multipart,manifest,dataset_lists,archive}
cp -n "$INSECTID_DEFAULT_BUNDLE"/fixtures/*.png "$CORPUS/preprocess/" 2>/dev/null || true
cp -n "$INSECTID_DEFAULT_BUNDLE/manifest.json" "$CORPUS/manifest/" 2>/dev/null || true
# A body with a photo and top_k (first byte: chunk size), and one with a wrong field.
printf '\x07--fuzzboundary\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--fuzzboundary\r\nContent-Disposition: form-data; name="top_k"\r\n\r\n3\r\n--fuzzboundary--\r\n' >"$CORPUS/multipart/seed"
printf '\x01--fuzzboundary\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--fuzzboundary--\r\n' >"$CORPUS/multipart/seed-field"
printf '1 rice leaf roller\n2 weevil\n\0images/a.jpg 0\nimages/../b.jpg 1\n' >"$CORPUS/dataset_lists/seed"
[ -f "$CORPUS/archive/seed.zip" ] || python3 -c "
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('set/train/weevil/a.txt', 'x'); z.writestr('../escape.txt', 'x')
" "$CORPUS/archive/seed.zip"

failed=0
for target in "${TARGETS[@]}"; do
  log "fuzzing $target for ${SECONDS_EACH}s"
  # No sanitizer: the code is safe Rust (libtorch is not instrumented); what we hunt for are
  # panics, hangs and runaway memory, which libFuzzer reports on its own.
  if ! cargo +nightly fuzz run --fuzz-dir scripts/fuzz --sanitizer none "$target" "$CORPUS/$target" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -timeout=20 -max_len=262144; then
    echo "FUZZ FINDING in $target: see scripts/fuzz/artifacts/$target/" >&2
    failed=1
  fi
done
exit $failed
