#!/usr/bin/env bash
# Load benchmark of the items app against a baseline without tenancy.
#
#   bench/load.sh                 # both frameworks, 15 s per run, 64 connections
#   DURATION=30 ROUNDS=2 bench/load.sh
#
# It provisions 100 tenants (t0001…t0100, 20 items each) in Postgres schema
# mode through the app's admin API, then drives `GET /items` with wrk, the Host
# header rotating over all tenants, against three servers of each framework:
#   tenancy   the items app (the library's layer, extractor and SchemaPool);
#   by-hand   the same 100 schemas served without the library: per request the
#             handler picks `tenant_<label>` from the Host and runs BEGIN,
#             set_config('search_path', …, true), the select, COMMIT itself
#             (items-baseline-* with BASELINE_BY_HOST=1);
#   1-schema  the same endpoint on one schema, no tenancy at all.
# tenancy ÷ by-hand compares the library's path (directly: one schema-qualified
# statement) with that hand-written one (goal ≥ 0.95); it is not the layer's
# own cost, which the overhead benches measure. tenancy ÷
# 1-schema adds what Postgres pays for serving 100 schemas. It prints requests
# per second, p50 and p99 latency, and both ratios. Release builds only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-1}"
TENANTS=100
ITEMS=20
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="tenancy_load_$$"
DB_URL="${PG_URL%/*}/$DB"
TOKEN="bench-token"

source bench/lib.sh

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "wrk is not installed; installing Debian's package"
        apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)
    fi
    command -v wrk >/dev/null || fail "wrk is required (Debian/Ubuntu: apt-get install wrk)"
fi
command -v curl >/dev/null || fail "curl is required"
command -v psql >/dev/null || fail "psql (the PostgreSQL client) is required"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    sleep 2
    pg_isready -q -h 127.0.0.1 -p 5432 || fail "PostgreSQL is not reachable on 127.0.0.1:5432"
fi

echo "==> building release binaries"
cargo build --release -q -p tenancy-examples --bins
BIN="${CARGO_TARGET_DIR:-target}/release"

trap cleanup_servers EXIT

provision "$TENANTS" "$ITEMS"
# The baseline's single schema: the same table definition and rows as one tenant.
psql "$DB_URL" -qc "CREATE SCHEMA baseline; CREATE TABLE baseline.items (LIKE tenant_t0001.items INCLUDING ALL);
    INSERT INTO baseline.items (name, capacity) SELECT name, capacity FROM tenant_t0001.items ORDER BY id" >/dev/null

printf '\n%-8s %-9s %12s %10s %10s\n' framework variant req/s p50_ms p99_ms
for round in $(seq 1 "$ROUNDS"); do
    for framework in axum actix; do
        start "$BIN/items-$framework" TENANCY_DATABASE_URL="$DB_URL${APP_URL_QUERY:-}" TENANCY_ISOLATION=schema TENANCY_SEED=0
        read -r t_rps t_p50 t_p99 < <(measure rotate.lua)
        stop
        start "$BIN/items-baseline-$framework" TENANCY_DATABASE_URL="$DB_URL" BASELINE_BY_HOST=1
        read -r h_rps h_p50 h_p99 < <(measure rotate.lua)
        stop
        start "$BIN/items-baseline-$framework" TENANCY_DATABASE_URL="$DB_URL" BASELINE_SCHEMA=baseline
        read -r b_rps b_p50 b_p99 < <(measure plain.lua)
        stop
        printf '%-8s %-9s %12s %10s %10s\n' "$framework" tenancy "$t_rps" "$t_p50" "$t_p99"
        printf '%-8s %-9s %12s %10s %10s\n' "$framework" by-hand "$h_rps" "$h_p50" "$h_p99"
        printf '%-8s %-9s %12s %10s %10s\n' "$framework" 1-schema "$b_rps" "$b_p50" "$b_p99"
        awk -v t="$t_rps" -v h="$h_rps" -v b="$b_rps" -v f="$framework" 'BEGIN {
            printf "%-8s ratio     tenancy/by-hand %.3f (goal >= 0.95), tenancy/1-schema %.3f\n", f, t / h, t / b }'
    done
done
