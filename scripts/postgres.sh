# shellcheck shell=bash
# Sourced by test.sh: provides a PostgreSQL server for the tests and sets
# INSECTID_TEST_DATABASE_URL. Order: the URL given by the caller; a server already answering on
# 127.0.0.1:5432 with trust auth; else a throw-away cluster started here and stopped on exit.

# Initialises and starts a throw-away cluster of the PostgreSQL in BIN, in DIR, on PORT (as the
# postgres user when run as root); sets the array named STOP to the command that stops it.
start_cluster() {
  local bin=$1 dir=$2 port=$3
  local -n stop_command=$4
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  # shellcheck disable=SC2034 # a nameref: this sets the caller's array
  stop_command=("${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop)
}

start_test_postgres() {
  if [ -n "${INSECTID_TEST_DATABASE_URL:-}" ]; then
    log "PostgreSQL: using INSECTID_TEST_DATABASE_URL"
    return 0
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 && psql -w -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    export INSECTID_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    log "PostgreSQL: using the server on 127.0.0.1:5432"
    return 0
  fi
  local bin port=55432
  # The newest installed version (an unmatched glob stays literal and fails the test below).
  bin=$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  [ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (scripts/setup.sh system-test)" >&2; return 1; }
  while pg_isready -q -h 127.0.0.1 -p "$port"; do port=$((port + 1)); done
  PG_TMP=$(mktemp -d /tmp/insectid-pg.XXXXXX)
  log "PostgreSQL: starting a throw-away server on 127.0.0.1:$port"
  start_cluster "$bin" "$PG_TMP" "$port" PG_STOP
  export INSECTID_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  if [ -n "${PG_TMP:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}

# A second, throw-away PostgreSQL with pgvector (pgserver's build, from the test-tools venv),
# for the text-search tests: sets INSECTID_TEST_PGVECTOR_URL. Its files are copied out of the
# venv so the postgres user can run them wherever the cache lives.
start_test_pgvector() {
  if [ -n "${INSECTID_TEST_PGVECTOR_URL:-}" ]; then
    log "pgvector: using INSECTID_TEST_PGVECTOR_URL"
    return 0
  fi
  local py="$INSECTID_CACHE/test-tools-venv/bin/python" site port=56432
  site=$("$py" -c 'import os, pgserver; print(os.path.dirname(os.path.dirname(pgserver.__file__)))' 2>/dev/null) ||
    { echo "pgserver is not installed (scripts/setup.sh test-tools)" >&2; return 1; }
  while pg_isready -q -h 127.0.0.1 -p "$port"; do port=$((port + 1)); done
  PGV_TMP=$(mktemp -d /tmp/insectid-pgvector.XXXXXX)
  # The binaries find their libraries at ../../../pgserver.libs: keep that layout.
  mkdir -p "$PGV_TMP/site/pgserver"
  cp -r "$site/pgserver/pginstall" "$PGV_TMP/site/pgserver/"
  cp -r "$site/pgserver.libs" "$PGV_TMP/site/"
  log "pgvector: starting a throw-away PostgreSQL with pgvector on 127.0.0.1:$port"
  start_cluster "$PGV_TMP/site/pgserver/pginstall/bin" "$PGV_TMP" "$port" PGV_STOP
  export INSECTID_TEST_PGVECTOR_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_pgvector() {
  if [ -n "${PGV_TMP:-}" ]; then
    "${PGV_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PGV_TMP"
  fi
}
