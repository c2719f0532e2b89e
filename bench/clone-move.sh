#!/usr/bin/env bash
# Clone and move times: `tenancy tenants clone` and `tenancy tenants move`
# (whole commands, process start included) for a tenant holding ROWS rows,
# against `tenancy tenants create` of an empty tenant measured in the same
# run (the baseline: start, connect, make and migrate storage).
#
#   bench/clone-move.sh                      # 100,000 rows (~1 min)
#   ROWS=1000000 SKIP_BUILD=1 bench/clone-move.sh
#
# Cases: schema mode (clone), database mode on PostgreSQL (clone, and a move
# from 127.0.0.1:5432 to the second cluster, TENANCY_TEST_PG2_URL, default
# port 5433), database mode on SQLite (clone, and a move between two
# directories). Settings (environment): ROWS (100000), RUNS (3: each run
# clones and moves a fresh tenant), SKIP_BUILD=1 to use the release binary
# already built in ${CARGO_TARGET_DIR:-target}/release. Needs psql, sqlite3
# and bc.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${ROWS:-100000}"
RUNS="${RUNS:-3}"
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG2_URL="${TENANCY_TEST_PG2_URL:-postgres://postgres@127.0.0.1:5433/postgres}"
DB="tenancy_clone_move_$$"
WORK=$(mktemp -d)

# shellcheck source=bench/lib.sh
source bench/lib.sh
need psql postgresql-client
need sqlite3 sqlite3
need bc bc

BIN="${CARGO_TARGET_DIR:-target}/release"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -q -p tenancy-cli
fi
TENANCY="$BIN/tenancy"
[ -x "$TENANCY" ] || fail "$TENANCY is missing: build it (cargo build --release -p tenancy-cli)"

cleanup() {
    for url in "$PG_URL" "$PG2_URL"; do
        for name in $(psql "$url" -Atc "SELECT datname FROM pg_database WHERE datname LIKE '${DB}%'" 2>/dev/null); do
            psql "$url" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/pg" "$WORK/sqlite"
echo 'CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, price_cents bigint NOT NULL);' \
    > "$WORK/pg/1_items.sql"
echo 'CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, price_cents INTEGER NOT NULL);' \
    > "$WORK/sqlite/1_items.sql"
psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
psql "$PG_URL" -qc "CREATE DATABASE ${DB}pg" >/dev/null
REGISTRY="${PG_URL%/*}/$DB"
PG_REGISTRY="${PG_URL%/*}/${DB}pg"

# Seconds of a command (its output discarded; a failure stops the run).
seconds() {
    local started
    started=$(date +%s.%N)
    "$@" >/dev/null || fail "failed: $*"
    echo "$(date +%s.%N) - $started" | bc
}

# tenancy in one of the three setups: schema | pg | sqlite.
tenancy() {
    local setup=$1
    shift
    case "$setup" in
        schema) TENANCY_DATABASE_URL="$REGISTRY" TENANCY_ISOLATION=schema TENANCY_MIGRATIONS="$WORK/pg" "$TENANCY" "$@" ;;
        pg) TENANCY_DATABASE_URL="$PG_REGISTRY" TENANCY_ISOLATION=database TENANCY_MIGRATIONS="$WORK/pg" \
                "$TENANCY" --server "second=${PG2_URL%/*}/${DB}pg_{tenant}" "$@" ;;
        sqlite) TENANCY_DATABASE_URL="sqlite://$WORK/registry.db" TENANCY_ISOLATION=database TENANCY_MIGRATIONS="$WORK/sqlite" \
                "$TENANCY" --server "second=sqlite://$WORK/second/{tenant}.db" "$@" ;;
    esac
}

# Fills tenant $2's items with ROWS rows, in setup $1 (its storage as
# `tenants show` reports it: a schema, `server/database`, `server/file`).
fill() {
    local setup=$1 id=$2 location rows="INSERT INTO items (name, price_cents) SELECT 'item ' || n, n FROM generate_series(1, $ROWS) AS n"
    location=$(tenancy "$setup" --json tenants show "$id" | sed -n 's/.*"location": "\(.*\)".*/\1/p')
    [ -n "$location" ] || fail "no location for $id"
    case "$setup" in
        schema) psql "$REGISTRY" -qc "SET search_path = \"$location\"; $rows" >/dev/null ;;
        pg) psql "${PG_URL%/*}/${location#*/}" -qc "$rows" >/dev/null ;;
        sqlite) sqlite3 "$WORK/tenants/${location#*/}.db" \
                "WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < $ROWS) INSERT INTO items (name, price_cents) SELECT 'item ' || n, n FROM n" ;;
    esac
}

printf '%s rows per tenant, %s runs\n\n' "$ROWS" "$RUNS"
printf '%-22s %10s %10s %10s\n' case "time (s)" "create (s)" ratio
for run in $(seq 1 "$RUNS"); do
    for setup in schema pg sqlite; do
        create=$(seconds tenancy "$setup" tenants create "r${run}empty")
        tenancy "$setup" tenants create "r${run}source" >/dev/null
        fill "$setup" "r${run}source"
        clone=$(seconds tenancy "$setup" tenants clone "r${run}source" "r${run}copy")
        printf '%-22s %10.2f %10.2f %9.1fx\n' "$setup clone" "$clone" "$create" "$(echo "$clone / $create" | bc -l)"
        if [ "$setup" != schema ]; then
            move=$(seconds tenancy "$setup" tenants move "r${run}source" --to second --drain 0)
            printf '%-22s %10.2f %10.2f %9.1fx\n' "$setup move" "$move" "$create" "$(echo "$move / $create" | bc -l)"
        fi
    done
done
