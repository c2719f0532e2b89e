# Shared by the benchmark scripts: `source bench/lib.sh` from the repository
# root after setting PG_URL, DB, DB_URL and TOKEN.

fail() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# need COMMAND PACKAGE: fails with a message naming the package to install.
need() { command -v "$1" >/dev/null || fail "$1 is required (Debian/Ubuntu: apt-get install $2)"; }

PIDS=()

# start BINARY [VAR=value...]: starts BINARY with the given environment,
# waits for "listening on", sets ADDR and PID.
start() {
    local binary=$1 log
    shift
    log=$(mktemp)
    env "$@" TENANCY_LISTEN=127.0.0.1:0 RUST_LOG="${BENCH_LOG:-warn}" "$binary" >"$log" 2>&1 &
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

# stop: asks the server to shut down; kills it when it has not exited within
# STOP_WAIT seconds (default 10), so a hung shutdown cannot stall the run.
stop() {
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 $((${STOP_WAIT:-10} * 10))); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$PID" 2>/dev/null; then
        echo "warning: server $PID did not exit within ${STOP_WAIT:-10}s; killing it" >&2
        kill -KILL "$PID" 2>/dev/null || true
    fi
    wait "$PID" 2>/dev/null || true
}

# Kills every server still running and drops the benchmark database.
cleanup_servers() {
    for pid in "${PIDS[@]:-}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
}

# wrk prints latencies as 1.23ms / 456.00us / 1.02s.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "%s", v } }'
}

# provision TENANTS ITEMS: creates the benchmark database and, through the
# axum app's admin API in schema mode, tenants t0001… with ITEMS items each.
provision() {
    local tenants=$1 items=$2
    psql "$PG_URL" -qc "CREATE DATABASE \"$DB\"" >/dev/null
    echo "==> provisioning $tenants tenants with $items items each (schema mode)"
    start "${CARGO_TARGET_DIR:-target}/release/items-axum" TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION=schema TENANCY_SEED=0 TENANCY_ADMIN_TOKEN="$TOKEN"
    for i in $(seq 1 "$tenants"); do printf 't%04d\n' "$i"; done |
        xargs -P 8 -I{} curl -fsS -o /dev/null -H "Host: localhost" -H "Authorization: Bearer $TOKEN" \
            -H "Content-Type: application/json" -d '{"id":"{}","name":"Tenant {}"}' "http://$ADDR/admin/tenants"
    for i in $(seq 1 "$tenants"); do for j in $(seq 1 "$items"); do printf 't%04d %d\n' "$i" "$j"; done; done |
        xargs -P 8 -L 1 sh -c 'curl -fsS -o /dev/null -H "Host: $0.localhost" -H "Content-Type: application/json" \
            -d "{\"name\":\"$0 item $1\",\"capacity\":$1}" "http://'"$ADDR"'/items"'
    stop
}

# measure SCRIPT: runs wrk with bench/SCRIPT against $ADDR (THREADS,
# CONNECTIONS, DURATION, TENANTS); prints "rps p50_ms p99_ms", and the
# slowest request's "max_ms" after them when MEASURE_MAX=1; fails on
# errors: non-2xx answers and socket errors (connect, read, write, timeout),
# which wrk reports apart and which would otherwise pass for a fast run.
# WRK_TIMEOUT (e.g. 10s; wrk's default is 2s) is how slow an answer may be
# before wrk counts it as a timeout.
measure() {
    local script=$1 out
    out=$(TENANTS=$TENANTS wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" ${WRK_TIMEOUT:+--timeout "$WRK_TIMEOUT"} \
        --latency -s "bench/$script" "http://$ADDR/items")
    local rps p50 p99 max
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    max=$(awk '$1 == "Latency" {print $4; exit}' <<<"$out")
    if grep -qE "Non-2xx|Socket errors" <<<"$out"; then echo "$out" >&2; fail "errors during the run"; fi
    if [ "${MEASURE_MAX:-0}" = 1 ]; then
        echo "$rps $(to_ms "$p50") $(to_ms "$p99") $(to_ms "$max")"
    else
        echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
    fi
}
