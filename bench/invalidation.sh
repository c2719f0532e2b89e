#!/usr/bin/env bash
# Invalidation delay: how long after one items-axum process deactivates (or
# activates) a tenant a second process on the same registry answers
# accordingly, on PostgreSQL (LISTEN/NOTIFY), MariaDB and SQLite (the
# registry's change log, polled every 250 ms). The app's cache lifetime is
# 60 s, so the delay is the propagation channel's alone.
#
#   bench/invalidation.sh                 # every backend, 20 changes each (~1 min)
#   BACKENDS=sqlite ROUNDS=50 bench/invalidation.sh
#
# Settings (environment): BACKENDS (default "postgres mariadb sqlite"),
# ROUNDS (20; each round deactivates, then activates: two samples),
# SKIP_BUILD=1 to use the release binary already built in
# ${CARGO_TARGET_DIR:-target}/release. Needs curl, psql and the mariadb client.
#
# For each backend, on a fresh registry: starts process A (which seeds acme)
# and process B, has B cache acme, then ROUNDS times: POST
# /admin/tenants/acme/deactivate to A and, from the moment A has answered,
# asks B for GET /items (Host acme.localhost) until it answers 403; then the
# same with activate until 200, each after a random pause of up to 300 ms.
# Each sample is that time, so it includes one curl round trip (a few ms).
# Prints median, 90th percentile and maximum.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS="${BACKENDS:-postgres mariadb sqlite}"
ROUNDS="${ROUNDS:-20}"
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
MYSQL_URL="${TENANCY_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
TOKEN="bench-token"
DB="tenancy_invalidation_$$"
WORK=$(mktemp -d)

# shellcheck source=bench/lib.sh
source bench/lib.sh
need curl curl
need psql postgresql-client
need mariadb mariadb-client

BIN="${CARGO_TARGET_DIR:-target}/release"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -q -p tenancy-examples --bin items-axum
fi
[ -x "$BIN/items-axum" ] || fail "$BIN/items-axum is missing (build it, or unset SKIP_BUILD)"

cleanup() {
    cleanup_servers
    # The registry database and the tenant databases named after it.
    local db
    for db in $(mariadb -h 127.0.0.1 -u root -N -e \
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '${DB}%'" 2>/dev/null); do
        mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS \`$db\`" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# status ADDR: the status of GET /items for acme at ADDR.
status() {
    curl -s -o /dev/null -w '%{http_code}' -H 'Host: acme.localhost' "http://$1/items"
}

# change ACTION EXPECTED: ACTION through A, then the ms until B answers EXPECTED.
change() {
    local code started
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Host: localhost' \
        -H "Authorization: Bearer $TOKEN" "http://$ADDR_A/admin/tenants/acme/$1")
    [ "$code" = 200 ] || fail "$1 through process A answered $code"
    started=$(now_ms)
    while [ "$(status "$ADDR_B")" != "$2" ]; do
        [ $(($(now_ms) - started)) -lt 10000 ] || fail "process B did not answer $2 within 10 s after $1"
    done
    echo $(($(now_ms) - started))
}

# pause: sleeps a random 0–300 ms, so that changes do not fall at the same
# point of the poll interval every time (a round starts right after process
# B saw the last change, i.e. right after one of its polls).
pause() { sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", r / 32768 * 0.3 }')"; }

# summary FILE: "median p90 max" of the numbers in FILE.
summary() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        printf "%d %d %d", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.999)], v[NR] }'
}

declare -A RESULT
for backend in $BACKENDS; do
    case "$backend" in
        postgres)
            psql "$PG_URL" -qc "CREATE DATABASE \"$DB\"" >/dev/null
            url="${PG_URL%/*}/$DB" ;;
        mariadb)
            mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE \`$DB\`"
            url="${MYSQL_URL%/}/$DB" ;;
        sqlite)
            mkdir -p "$WORK/sqlite"
            url="sqlite://$WORK/sqlite/registry.db" ;;
        *) fail "unknown backend $backend (postgres, mariadb, sqlite)" ;;
    esac
    echo "==> $backend: two processes on $url"
    settings=(TENANCY_DATABASE_URL="$url" TENANCY_ADMIN_TOKEN="$TOKEN")
    start "$BIN/items-axum" "${settings[@]}" TENANCY_SEED=1
    ADDR_A=$ADDR
    PID_A=$PID
    start "$BIN/items-axum" "${settings[@]}" TENANCY_SEED=0
    ADDR_B=$ADDR
    PID_B=$PID
    [ "$(status "$ADDR_B")" = 200 ] || fail "process B does not serve acme"
    samples="$WORK/samples-$backend"
    : >"$samples"
    for _ in $(seq 1 "$ROUNDS"); do
        pause
        change deactivate 403 >>"$samples"
        pause
        change activate 200 >>"$samples"
    done
    RESULT[$backend]=$(summary "$samples")
    echo "    $(wc -l <"$samples") changes: median, p90, max ms: ${RESULT[$backend]}"
    PID=$PID_B stop
    PID=$PID_A stop
done

echo
echo "invalidation delay (ms from process A's answer to process B's first answer that shows the change; $((ROUNDS * 2)) changes each)"
printf '%-9s %8s %8s %8s\n' backend median p90 max
for backend in $BACKENDS; do
    read -r median p90 max <<<"${RESULT[$backend]}"
    printf '%-9s %8s %8s %8s\n' "$backend" "$median" "$p90" "$max"
done
