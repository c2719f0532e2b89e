#!/usr/bin/env bash
# The items app in Postgres schema mode, directly and through PgBouncer in
# transaction mode, in the same run: requests per second, p50 and p99.
#
#   bench/pgbouncer.sh                 # both frameworks, 15 s per run, 64 connections
#   DURATION=30 bench/pgbouncer.sh
#
# 100 tenants (t0001…t0100, 20 items each) are provisioned through the admin
# API; wrk drives `GET /items` with the Host header rotating over them. The
# PgBouncer instance is the bench's own (scripts/pgbouncer.sh with its own
# directory), with default_pool_size equal to the app's pool (10), so both
# runs have the same number of server connections. Release builds only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
TENANTS=100
ITEMS=20
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="tenancy_pgbouncer_bench_$$"
DB_URL="${PG_URL%/*}/$DB"
TOKEN="bench-token"
BOUNCER_DIR=/tmp/tenancy-pgbouncer-bench

fail() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
command -v wrk >/dev/null || fail "wrk is required (Debian/Ubuntu: apt-get install wrk)"
command -v curl >/dev/null || fail "curl is required"
command -v psql >/dev/null || fail "psql (the PostgreSQL client) is required"

echo "==> building release binaries"
cargo build --release -q -p tenancy-examples --bins
BIN=target/release

echo "==> PgBouncer (transaction mode, default_pool_size = 10)"
BOUNCER_PORT=$(TENANCY_PGBOUNCER_DIR=$BOUNCER_DIR TENANCY_PGBOUNCER_POOL_SIZE=10 scripts/pgbouncer.sh)
BOUNCER_URL="postgres://postgres@127.0.0.1:${BOUNCER_PORT}/$DB"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    TENANCY_PGBOUNCER_DIR=$BOUNCER_DIR scripts/pgbouncer.sh stop
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

start() {
    local binary=$1 log
    shift
    log=$(mktemp)
    env "$@" TENANCY_LISTEN=127.0.0.1:0 RUST_LOG=warn "$binary" >"$log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 1 100); do
        ADDR=$(grep -o 'listening on http://[^ ]*' "$log" | head -n1 | sed 's|listening on http://||' || true)
        [ -n "$ADDR" ] && return 0
        kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; fail "server exited"; }
        sleep 0.1
    done
    cat "$log" >&2
    fail "server did not start"
}

stop() {
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "%s", v } }'
}

measure() {
    local out rps p50 p99
    out=$(TENANTS=$TENANTS wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/rotate.lua "http://$ADDR/items")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then echo "$out" >&2; fail "errors during the run"; fi
    echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

psql "$PG_URL" -qc "CREATE DATABASE \"$DB\"" >/dev/null
echo "==> provisioning $TENANTS tenants with $ITEMS items each (schema mode)"
start "$BIN/items-axum" TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION=schema TENANCY_SEED=0 TENANCY_ADMIN_TOKEN="$TOKEN"
for i in $(seq 1 "$TENANTS"); do printf 't%04d\n' "$i"; done |
    xargs -P 8 -I{} curl -fsS -o /dev/null -H "Host: localhost" -H "Authorization: Bearer $TOKEN" \
        -H "Content-Type: application/json" -d '{"id":"{}","name":"Tenant {}"}' "http://$ADDR/admin/tenants"
for i in $(seq 1 "$TENANTS"); do for j in $(seq 1 "$ITEMS"); do printf 't%04d %d\n' "$i" "$j"; done; done |
    xargs -P 8 -L 1 sh -c 'curl -fsS -o /dev/null -H "Host: $0.localhost" -H "Content-Type: application/json" \
        -d "{\"name\":\"$0 item $1\",\"capacity\":$1}" "http://'"$ADDR"'/items"'
stop

printf '\n%-8s %-10s %12s %10s %10s\n' framework path req/s p50_ms p99_ms
for framework in axum actix; do
    start "$BIN/items-$framework" TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION=schema TENANCY_SEED=0
    read -r d_rps d_p50 d_p99 < <(measure)
    stop
    start "$BIN/items-$framework" TENANCY_DATABASE_URL="$BOUNCER_URL" TENANCY_DIRECT_DATABASE_URL="$DB_URL" \
        TENANCY_ISOLATION=schema TENANCY_SEED=0
    read -r p_rps p_p50 p_p99 < <(measure)
    stop
    printf '%-8s %-10s %12s %10s %10s\n' "$framework" direct "$d_rps" "$d_p50" "$d_p99"
    printf '%-8s %-10s %12s %10s %10s\n' "$framework" pgbouncer "$p_rps" "$p_p50" "$p_p99"
    awk -v p="$p_rps" -v d="$d_rps" -v f="$framework" 'BEGIN { printf "%-8s ratio      %12.3f  (pgbouncer / direct)\n", f, p / d }'
done
