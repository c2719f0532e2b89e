#!/usr/bin/env bash
# Known tenants' traffic with and without a flood of unknown tenants, in the
# same run, against the items app in Postgres schema mode.
#
#   bench/flood.sh                      # both frameworks, 15 s per run
#   DURATION=30 bench/flood.sh
#
# 100 tenants (t0001…t0100, 20 items each) are provisioned through the admin
# API. Known traffic: wrk with bench/rotate.lua (GET /items, Host rotating
# over the 100 tenants), 32 connections. Flood: a second wrk with
# bench/flood.lua at full speed, 32 connections, every request naming a new
# unknown tenant (random subdomain, random custom-domain host, random path
# id). The script prints req/s, p50, p99 and errors of the known traffic
# alone, then under the flood, and the p99 ratio. Release builds only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15}"
KNOWN_CONNECTIONS="${KNOWN_CONNECTIONS:-32}"
FLOOD_CONNECTIONS="${FLOOD_CONNECTIONS:-32}"
TENANTS=100
ITEMS=20
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="tenancy_flood_$$"
DB_URL="${PG_URL%/*}/$DB"
TOKEN="bench-token"

source bench/lib.sh
need wrk wrk; need curl curl; need psql postgresql-client
BENCH_LOG=error

echo "==> building release binaries"
cargo build --release -q -p tenancy-examples --bins
BIN="${CARGO_TARGET_DIR:-target}/release"

trap cleanup_servers EXIT

# Known traffic; prints "rps p50_ms p99_ms errors".
known() {
    local out rps p50 p99 errors
    out=$(TENANTS=$TENANTS wrk -t1 -c"$KNOWN_CONNECTIONS" -d"${DURATION}s" --latency -s bench/rotate.lua "http://$ADDR/items" 2>&1)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    errors=$((${errors:-0} + $(grep -c "unexpected status" <<<"$out" || true)))
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") $errors"
}

provision "$TENANTS" "$ITEMS"

printf '\n%-8s %-12s %10s %10s %10s %8s\n' framework traffic req/s p50_ms p99_ms errors
for framework in axum actix; do
    start "$BIN/items-$framework" TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION=schema TENANCY_SEED=0
    read -r q_rps q_p50 q_p99 q_err < <(known)
    flood_log=$(mktemp)
    wrk -t1 -c"$FLOOD_CONNECTIONS" -d"$((DURATION + 2))s" -s bench/flood.lua "http://$ADDR/items" >"$flood_log" 2>&1 &
    FLOOD=$!
    sleep 1
    read -r f_rps f_p50 f_p99 f_err < <(known)
    wait "$FLOOD" || true
    stop
    flood_rps=$(awk '/Requests\/sec/ {print $2}' "$flood_log")
    flood_errors=$(grep -o 'flood: [0-9]* requests, [0-9]* server errors' "$flood_log" || echo "flood: ? requests, ? server errors")
    printf '%-8s %-12s %10s %10s %10s %8s\n' "$framework" known-alone "$q_rps" "$q_p50" "$q_p99" "$q_err"
    printf '%-8s %-12s %10s %10s %10s %8s\n' "$framework" known+flood "$f_rps" "$f_p50" "$f_p99" "$f_err"
    printf '%-8s %-12s %10s   (%s)\n' "$framework" flood "$flood_rps" "$flood_errors"
    awk -v a="$q_p99" -v b="$f_p99" -v f="$framework" 'BEGIN { printf "%-8s p99 ratio    %10.2f  (target <= 2)\n", f, b / a }'
done
