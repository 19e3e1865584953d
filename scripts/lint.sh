#!/usr/bin/env bash
# The code's habits, checked the same way by `make lint`, `make test` and so CI:
# rustfmt (rustfmt.toml), clippy with every warning an error (the workspace's [lints]), and
# the scripts through ShellCheck. `scripts/lint.sh fmt` applies the formatting instead.
# Usage: scripts/lint.sh [check|fmt]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

shell_scripts() {
  printf '%s\n' scripts/*.sh .ci/run
}

case "${1:-check}" in
  fmt)
    cargo fmt --all
    ;;
  check)
    log "rustfmt --check"
    cargo fmt --all -- --check || {
      echo "the tree is not formatted: run make fmt" >&2
      exit 1
    }
    log "clippy (warnings are errors)"
    cargo clippy --workspace --all-targets --locked -- -D warnings
    log "shellcheck"
    shell_scripts | xargs shellcheck --external-sources --source-path=scripts
    ;;
  *)
    echo "usage: $0 [check|fmt]" >&2
    exit 2
    ;;
esac
