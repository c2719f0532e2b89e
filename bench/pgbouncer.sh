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

source bench/lib.sh
need wrk wrk; need curl curl; need psql postgresql-client

echo "==> building release binaries"
cargo build --release -q -p tenancy-examples --bins
BIN="${CARGO_TARGET_DIR:-target}/release"

echo "==> PgBouncer (transaction mode, default_pool_size = 10)"
BOUNCER_PORT=$(TENANCY_PGBOUNCER_DIR=$BOUNCER_DIR TENANCY_PGBOUNCER_POOL_SIZE=10 scripts/pgbouncer.sh)
BOUNCER_URL="postgres://postgres@127.0.0.1:${BOUNCER_PORT}/$DB"

cleanup() {
    cleanup_servers
    TENANCY_PGBOUNCER_DIR=$BOUNCER_DIR scripts/pgbouncer.sh stop
}
trap cleanup EXIT

provision "$TENANTS" "$ITEMS"

printf '\n%-8s %-10s %12s %10s %10s\n' framework path req/s p50_ms p99_ms
for framework in axum actix; do
    start "$BIN/items-$framework" TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION=schema TENANCY_SEED=0
    read -r d_rps d_p50 d_p99 < <(measure rotate.lua)
    stop
    start "$BIN/items-$framework" TENANCY_DATABASE_URL="$BOUNCER_URL" TENANCY_DIRECT_DATABASE_URL="$DB_URL" \
        TENANCY_ISOLATION=schema TENANCY_SEED=0
    read -r p_rps p_p50 p_p99 < <(measure rotate.lua)
    stop
    printf '%-8s %-10s %12s %10s %10s\n' "$framework" direct "$d_rps" "$d_p50" "$d_p99"
    printf '%-8s %-10s %12s %10s %10s\n' "$framework" pgbouncer "$p_rps" "$p_p50" "$p_p99"
    awk -v p="$p_rps" -v d="$d_rps" -v f="$framework" 'BEGIN { printf "%-8s ratio      %12.3f  (pgbouncer / direct)\n", f, p / d }'
done
