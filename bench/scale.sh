#!/usr/bin/env bash
# Scale benchmark: the items app (axum) as tenants grow, in schema mode and in
# shared mode (row-level security), each next to a PostgreSQL floor measured
# in the same run.
#
#   bench/scale.sh                                    # 100, 1,000, 10,000 tenants, both modes (~8 min on 2 cores)
#   TENANT_COUNTS="100 1000" DURATION=5 bench/scale.sh   # a quick end-to-end check
#   MODES=schema TENANT_COUNTS=10000 bench/scale.sh
#
# Settings (environment): TENANT_COUNTS (default "100 1000 10000"), MODES
# ("schema shared"), DURATION (15 s per measured run), WARMUP (5 s),
# CONNECTIONS (64), THREADS (2), FLOOR_CLIENTS (10), CREATE_CONCURRENCY (8),
# MIGRATE_CONCURRENCY (8), EXTRA_TENANTS (200), WRK_TIMEOUT (10s: a slower
# answer is a wrk timeout, which fails the run), QUIET_IDLE (85) and
# QUIET_WAIT (300; 0: do not wait), SKIP_BUILD=1 to use the release binaries
# already built in ${CARGO_TARGET_DIR:-target}/release.
# The app's pool is its fixed 10 connections (`items::POOL_SIZE`; the app
# reads no pool-size setting). The app's own settings pass through the
# environment, e.g. TENANCY_SCHEMA_AFFINITY (default 10) and
# TENANCY_CONNECTION_LIFETIME (seconds; default 0, sqlx's 30 minutes).
#
# For each mode and tenant count, on a fresh database:
#   1. creates tenants t00001… through the library (`scale-tenants create`,
#      the manager the app builds for the mode) and reports tenants/s;
#   2. seeds 20 items per tenant with SQL (schema mode: one INSERT per
#      tenant, since one transaction over 10,000 tables runs out of lock
#      slots; shared mode: one INSERT keyed by each tenant's shared key), then
#      VACUUM ANALYZE and CHECKPOINT so that neither autovacuum nor a
#      checkpoint lands in the measurement;
#   3. starts the release items-axum, warms it with wrk for WARMUP s, then
#      drives `GET /items` with wrk for DURATION s, the Host header rotating
#      over all tenants (bench/rotate.lua, TENANT_WIDTH=5): req/s, p99 and
#      the slowest answer.
#      Every 2 s from the first second to 2 s before the end it samples the
#      app's PostgreSQL connections (client backends of the database), and
#      reports each sum's peak: their count, the sum
#      of VmRSS (which counts the shared buffers a backend touched) and of
#      private memory (Private_Clean + Private_Dirty of smaps_rollup: what
#      the backends own), and the app's own VmRSS. With a connection
#      lifetime set, connections opened during the measurement count as
#      "others" in other_cpu%;
#   4. the floor: pgbench, FLOOR_CLIENTS clients, random tenant, the app's
#      per-request SQL for the mode without the app (see "floors" in the
#      output for the exact statements; floor2 is the variant the other
#      protocol allows);
#   5. schema mode at the largest count only, after the measurements: the
#      wall time of migrate-all over every tenant with one new migration
#      (`ALTER TABLE items ADD COLUMN note text`, through the library), then
#      the creation rate of EXTRA_TENANTS more tenants at that size;
#   6. drops the database.
# The machine may be shared: before each measurement the script waits until
# the machine is at least QUIET_IDLE % idle (for at most QUIET_WAIT s), and it
# reports the share of the CPU that anything else used during each
# measurement (other_cpu%, floor_other%): a high value marks a disturbed row.
# It prints one table, per-mode ratios to the smallest count (the app's,
# the floor's, and the app's ÷ the floor's: below 1 means the app loses more
# than PostgreSQL itself as tenants grow), the migrate-all and creation lines,
# the machine and the time each phase took. Any wrk socket error or non-2xx
# answer, pgbench failure or failed tenant stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."

TENANT_COUNTS="${TENANT_COUNTS:-100 1000 10000}"
MODES="${MODES:-schema shared}"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
FLOOR_CLIENTS="${FLOOR_CLIENTS:-10}"
CREATE_CONCURRENCY="${CREATE_CONCURRENCY:-8}"
MIGRATE_CONCURRENCY="${MIGRATE_CONCURRENCY:-8}"
EXTRA_TENANTS="${EXTRA_TENANTS:-200}"
QUIET_IDLE="${QUIET_IDLE:-85}"
QUIET_WAIT="${QUIET_WAIT:-300}"
# An answer slower than this is a wrk timeout (a socket error: the run
# fails); slower answers below it show in max_ms.
export WRK_TIMEOUT="${WRK_TIMEOUT:-10s}"
export MEASURE_MAX=1
ITEMS=20
# Tenant ids are t00001…: five digits, room for 99,999 tenants.
export TENANT_WIDTH=5
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB_PREFIX="tenancy_scale_$$"
DB="${DB_PREFIX}_none"
DB_URL="${PG_URL%/*}/$DB"

source bench/lib.sh

for mode in $MODES; do
    case $mode in schema | shared) ;; *) fail "MODES: unknown mode $mode (schema, shared)" ;; esac
done
for n in $TENANT_COUNTS; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || fail "TENANT_COUNTS: $n is not a positive number"
    [ $((n + EXTRA_TENANTS)) -lt $((10 ** TENANT_WIDTH)) ] || fail "TENANT_COUNTS: $n tenants do not fit ids of $TENANT_WIDTH digits"
done
[ "$DURATION" -ge 5 ] || fail "DURATION must be at least 5 s (memory is sampled 2 s before the end)"
SMALLEST=$(tr ' ' '\n' <<<"$TENANT_COUNTS" | grep . | sort -n | head -n1)
LARGEST=$(tr ' ' '\n' <<<"$TENANT_COUNTS" | grep . | sort -n | tail -n1)

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "wrk is not installed; installing Debian's package"
        apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)
    fi
    command -v wrk >/dev/null || fail "wrk is required (Debian/Ubuntu: apt-get install wrk)"
fi
need curl curl
need psql postgresql-client
need pgbench postgresql-client
pg_isready -q -h 127.0.0.1 -p 5432 || fail "PostgreSQL is not reachable on 127.0.0.1:5432"

BIN="${CARGO_TARGET_DIR:-target}/release"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "==> building release binaries"
    cargo build --release -q -p tenancy-examples --bins
fi
for binary in items-axum scale-tenants; do
    [ -x "$BIN/$binary" ] || fail "$BIN/$binary is missing (build it, or unset SKIP_BUILD)"
done

WORK=$(mktemp -d)
cleanup() {
    cleanup_servers
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
# since START: seconds elapsed, one decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# field KEY LINE: the value of KEY=value in LINE.
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# pg_memory: "connections rss_kib private_kib pss_kib" of the client
# backends of $DB (the sampling session excluded). PSS shares each shared
# page (shared_buffers) among the processes mapping it; the RSS sum counts it
# once per backend.
pg_memory() {
    local pids pid rss private pss conns=0 rss_sum=0 private_sum=0 pss_sum=0
    pids=$(psql "$DB_URL" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
        AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
    for pid in $pids; do
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
        private=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
        pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
        [ -n "$rss" ] || continue
        conns=$((conns + 1))
        rss_sum=$((rss_sum + rss))
        private_sum=$((private_sum + private))
        pss_sum=$((pss_sum + ${pss:-0}))
    done
    echo "$conns $rss_sum $private_sum $pss_sum"
}

# pg_memory_peak SECONDS: pg_memory every 2 s for SECONDS, each sum's
# largest value (the connection count of the largest RSS). One sample could
# miss the peak when connections are recycled (TENANCY_CONNECTION_LIFETIME).
pg_memory_peak() {
    local end=$((SECONDS + $1)) c r p s peak_c=0 peak_r=0 peak_p=0 peak_s=0
    while [ "$SECONDS" -lt "$end" ]; do
        read -r c r p s < <(pg_memory)
        if [ "$r" -gt "$peak_r" ]; then peak_r=$r; peak_c=$c; fi
        if [ "$p" -gt "$peak_p" ]; then peak_p=$p; fi
        if [ "$s" -gt "$peak_s" ]; then peak_s=$s; fi
        sleep 2
    done
    echo "$peak_c $peak_r $peak_p $peak_s"
}

# The machine is shared: before each measurement the script waits (at most
# QUIET_WAIT s) until it is at least QUIET_IDLE % idle, and it reports the
# CPU that anything else used during each measurement.

# busy_idle: "busy idle" jiffies of the whole machine so far.
busy_idle() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# idle_percent SECONDS: how idle the machine is over the next SECONDS.
idle_percent() {
    local b0 i0 b1 i1
    read -r b0 i0 < <(busy_idle)
    sleep "$1"
    read -r b1 i1 < <(busy_idle)
    echo $(((i1 - i0) * 100 / (b1 - b0 + i1 - i0 + 1)))
}

# wait_quiet: waits until the machine is quiet; prints the seconds waited.
wait_quiet() {
    local waited=0 idle
    while :; do
        idle=$(idle_percent 3)
        [ "$idle" -ge "$QUIET_IDLE" ] && break
        if [ "$waited" -ge "$QUIET_WAIT" ]; then
            echo "    warning: the machine is still busy (${idle}% idle) after ${QUIET_WAIT}s; measuring anyway" >&2
            break
        fi
        [ "$waited" -eq 0 ] && echo "    the machine is busy (${idle}% idle): waiting (at most ${QUIET_WAIT}s)" >&2
        sleep 2
        waited=$((waited + 5))
    done
    echo "$waited"
}

# our_pids [APP_PID]: the processes a measurement consists of: the app, wrk,
# pgbench and the client backends of $DB.
our_pids() {
    [ -z "${1:-}" ] || echo "$1"
    pgrep -x wrk || true
    pgrep -x pgbench || true
    psql "$DB_URL" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
        AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
}

# cpu_of PIDS...: their CPU time so far, in jiffies (0 for one that is gone).
cpu_of() {
    local pid t sum=0
    for pid in "$@"; do
        t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || t=0
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

# other_cpu SECONDS [APP_PID]: the share (%) of the machine's CPU used over
# the next SECONDS by anything but our_pids (kernel soft interrupts and
# PostgreSQL's background processes included).
other_cpu() {
    local pids b0 b1 o0 o1
    pids=$(our_pids "${2:-}")
    # shellcheck disable=SC2086 # one pid per word
    o0=$(cpu_of $pids)
    read -r b0 _ < <(busy_idle)
    sleep "$1"
    # shellcheck disable=SC2086
    o1=$(cpu_of $pids)
    read -r b1 _ < <(busy_idle)
    awk -v b=$((b1 - b0)) -v o=$((o1 - o0)) -v s="$1" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
        'BEGIN { v = (b - o) / (s * hz * n) * 100; if (v < 0) v = 0; printf "%.0f", v }'
}

# scale_tenants ARGS...: runs the binary on $DB for $mode; prints its result line.
scale_tenants() {
    env TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION="$mode" RUST_LOG=warn "$BIN/scale-tenants" "$@"
}

# floor SCRIPT PROTOCOL: pgbench tps of SCRIPT on $DB; fails on any error.
# Writes the CPU share others used meanwhile to $WORK/floor_other.
floor() {
    local out watcher
    (
        sleep 1
        other_cpu $((DURATION - 2)) >"$WORK/floor_other"
        pg_memory >"$WORK/floor_memory"
    ) &
    watcher=$!
    out=$(pgbench -n -M "$2" -c "$FLOOR_CLIENTS" -j 2 -T "$DURATION" -f "$1" "$DB_URL" 2>&1) ||
        { echo "$out" >&2; fail "pgbench failed ($1)"; }
    grep -q "number of failed transactions: 0 " <<<"$out" || { echo "$out" >&2; fail "pgbench: failed transactions ($1)"; }
    wait "$watcher" || fail "measuring the CPU of others failed"
    awk '/^tps = / { print $3 }' <<<"$out"
}

# The floor scripts of $mode for $n tenants: $WORK/floor.sql (the floor) and
# $WORK/floor2.sql (the variant), and their protocols.
write_floors() {
    local n=$1 digits="" ref="" i
    # pgbench has no string functions: in simple mode :dI are spliced into
    # the text, one digit each, to spell the zero-padded number.
    for i in $(seq 1 "$TENANT_WIDTH"); do
        digits+="\\set d$i (:t / $((10 ** (TENANT_WIDTH - i)))) % 10"$'\n'
        ref+=":d$i"
    done
    local scope="pg_catalog.set_config('role', 'tenancy_tenant', true), pg_catalog.set_config('search_path', 'pg_catalog, \"public\", pg_temp', true)"
    case $mode in
        schema)
            # The app's statement: schema-qualified, on the pool, no transaction.
            FLOOR_PROTOCOL=simple
            cat >"$WORK/floor.sql" <<EOF
\set t random(1, $n)
${digits}SELECT id, name, capacity FROM "tenant_t$ref".items ORDER BY id;
EOF
            # What the app sends behind a transaction pooler: a scoped transaction.
            FLOOR2_PROTOCOL=prepared
            cat >"$WORK/floor2.sql" <<EOF
\set t random(1, $n)
BEGIN;
SELECT set_config('search_path', 'tenant_t' || lpad(:t::text, $TENANT_WIDTH, '0'), true);
SELECT id, name, capacity FROM items ORDER BY id;
COMMIT;
EOF
            ;;
        shared)
            # The app's statements, prepared: its one-query BEGIN + scope
            # cannot be prepared, so BEGIN goes apart (one more round trip).
            # The key is read from the registry in the same statement, before
            # the role switch.
            FLOOR_PROTOCOL=prepared
            cat >"$WORK/floor.sql" <<EOF
\set t random(1, $n)
BEGIN;
SELECT pg_catalog.set_config('tenancy.tenant', (SELECT storage_location FROM tenancy.tenants WHERE id = 't' || lpad(:t::text, $TENANT_WIDTH, '0')), true), $scope;
SELECT id, name, capacity FROM items ORDER BY id;
COMMIT;
EOF
            # The app's round trips exactly (BEGIN and scope in one query),
            # in the simple protocol (the select is planned every time).
            FLOOR2_PROTOCOL=simple
            cat >"$WORK/floor2.sql" <<EOF
\set t random(1, $n)
${digits}BEGIN \; SELECT pg_catalog.set_config('tenancy.tenant', (SELECT storage_location FROM tenancy.tenants WHERE id = 't$ref'), true), $scope;
SELECT id, name, capacity FROM items ORDER BY id;
COMMIT;
EOF
            ;;
    esac
}

# seed N: ITEMS items per tenant.
seed() {
    local n=$1
    case $mode in
        schema)
            awk -v n="$n" -v items="$ITEMS" -v w="$TENANT_WIDTH" -v q="'" 'BEGIN {
                for (i = 1; i <= n; i++) {
                    id = sprintf("t%0" w "d", i)
                    printf "INSERT INTO \"tenant_%s\".items (name, capacity) SELECT %s%s item %s || g, g * 10 FROM generate_series(1, %d) g;\n",
                        id, q, id, q, items
                } }' >"$WORK/seed.sql"
            psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$WORK/seed.sql" >/dev/null
            ;;
        shared)
            psql "$DB_URL" -q -v ON_ERROR_STOP=1 -c "INSERT INTO public.items (tenant_id, name, capacity)
                SELECT t.storage_location, t.id || ' item ' || g, g * 10
                FROM tenancy.tenants t CROSS JOIN generate_series(1, $ITEMS) g ORDER BY t.id, g" >/dev/null
            ;;
    esac
}

# check_tenant ID: the app answers ID's items, all ITEMS of them.
check_tenant() {
    local body count
    body=$(curl -fsS -H "Host: $1.localhost" "http://$ADDR/items") || fail "GET /items of $1 failed"
    count=$(grep -o '"id"' <<<"$body" | wc -l)
    [ "$count" -eq "$ITEMS" ] || fail "$1 has $count items, not $ITEMS: $body"
}

declare -A CREATE RPS P99 MAX FLOOR FLOOR2 CONNS RSS PRIVATE PSS FLOOR_RSS FLOOR_PRIVATE APP_RSS APP_OTHER FLOOR_OTHER TIMES
EXTRA_LINES=()

echo "==> scale benchmark: TENANCY_SCHEMA_AFFINITY=${TENANCY_SCHEMA_AFFINITY:-10}, TENANCY_CONNECTION_LIFETIME=${TENANCY_CONNECTION_LIFETIME:-0}; modes $MODES; tenants $TENANT_COUNTS; ${DURATION}s runs (${WARMUP}s warm-up), $CONNECTIONS connections, $THREADS wrk threads; floor $FLOOR_CLIENTS clients"
run_started=$(now)
for mode in $MODES; do
    for n in $TENANT_COUNTS; do
        k="$mode/$n"
        DB="${DB_PREFIX}_${mode}_$n"
        DB_URL="${PG_URL%/*}/$DB"
        psql "$PG_URL" -qc "CREATE DATABASE \"$DB\"" >/dev/null

        echo "==> [$k] creating $n tenants (concurrency $CREATE_CONCURRENCY)"
        t=$(now)
        out=$(scale_tenants create --tenants "$n" --width "$TENANT_WIDTH" --concurrency "$CREATE_CONCURRENCY") ||
            fail "creating tenants failed: $out"
        CREATE[$k]=$(field per_second "$out")
        TIMES[$k]="create $(since "$t")s"
        echo "    $out"

        echo "==> [$k] seeding $ITEMS items per tenant, VACUUM ANALYZE, CHECKPOINT"
        t=$(now)
        seed "$n"
        TIMES[$k]+=", seed $(since "$t")s"
        t=$(now)
        psql "$DB_URL" -q -v ON_ERROR_STOP=1 -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
        TIMES[$k]+=", vacuum $(since "$t")s"

        echo "==> [$k] items-axum: ${WARMUP}s warm-up, ${DURATION}s measured"
        TIMES[$k]+=", quiet wait $(wait_quiet)s"
        t=$(now)
        start "$BIN/items-axum" TENANCY_DATABASE_URL="$DB_URL" TENANCY_ISOLATION="$mode" TENANCY_SEED=0
        TIMES[$k]+=", app start $(since "$t")s"
        t=$(now)
        check_tenant "$(printf "t%0${TENANT_WIDTH}d" 1)"
        check_tenant "$(printf "t%0${TENANT_WIDTH}d" "$n")"
        TENANTS=$n
        warm=$(DURATION=$WARMUP measure rotate.lua)
        (
            sleep 1
            other_cpu $((DURATION - 3)) "$PID" >"$WORK/app_other"
            awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" >"$WORK/app_rss"
        ) &
        sampler=$!
        ( sleep 1; pg_memory_peak $((DURATION - 3)) >"$WORK/memory" ) &
        memory_sampler=$!
        result=$(measure rotate.lua)
        wait "$sampler" || fail "sampling CPU failed"
        wait "$memory_sampler" || fail "sampling memory failed"
        read -r "RPS[$k]" _ "P99[$k]" "MAX[$k]" <<<"$result"
        APP_OTHER[$k]=$(cat "$WORK/app_other")
        read -r "CONNS[$k]" rss private pss <"$WORK/memory"
        RSS[$k]=$(mib "$rss")
        PRIVATE[$k]=$(mib "$private")
        PSS[$k]=$(mib "$pss")
        APP_RSS[$k]=$(mib "$(cat "$WORK/app_rss")")
        stop
        TIMES[$k]+=", app $(since "$t")s"
        echo "    warm-up $(cut -d' ' -f1 <<<"$warm") req/s; measured ${RPS[$k]} req/s, p99 ${P99[$k]} ms, max ${MAX[$k]} ms; ${CONNS[$k]} PG connections: RSS ${RSS[$k]} MiB, private ${PRIVATE[$k]} MiB; app RSS ${APP_RSS[$k]} MiB; others used ${APP_OTHER[$k]}% CPU"

        echo "==> [$k] floor: pgbench, $FLOOR_CLIENTS clients"
        TIMES[$k]+=", quiet wait $(wait_quiet)s"
        t=$(now)
        write_floors "$n"
        FLOOR[$k]=$(floor "$WORK/floor.sql" "$FLOOR_PROTOCOL")
        FLOOR_OTHER[$k]=$(cat "$WORK/floor_other")
        FLOOR2[$k]=$(floor "$WORK/floor2.sql" "$FLOOR2_PROTOCOL")
        read -r _ rss private pss <"$WORK/floor_memory"
        FLOOR_RSS[$k]=$(mib "$rss")
        FLOOR_PRIVATE[$k]=$(mib "$private")
        TIMES[$k]+=", floors $(since "$t")s"
        echo "    floor ${FLOOR[$k]} tps ($FLOOR_PROTOCOL; others used ${FLOOR_OTHER[$k]}% CPU), floor2 ${FLOOR2[$k]} tps ($FLOOR2_PROTOCOL; others $(cat "$WORK/floor_other")%)"
        cp "$WORK/floor.sql" "$WORK/floor-$mode.sql"
        cp "$WORK/floor2.sql" "$WORK/floor2-$mode.sql"
        eval "FLOOR_PROTOCOL_$mode=$FLOOR_PROTOCOL FLOOR2_PROTOCOL_$mode=$FLOOR2_PROTOCOL"

        if [ "$mode" = schema ] && [ "$n" = "$LARGEST" ]; then
            echo "==> [$k] migrate-all: one new migration (ALTER TABLE items ADD COLUMN note text), concurrency $MIGRATE_CONCURRENCY"
            t=$(now)
            out=$(scale_tenants migrate-all --concurrency "$MIGRATE_CONCURRENCY") || fail "migrate-all failed: $out"
            TIMES[$k]+=", migrate-all $(since "$t")s"
            echo "    $out"
            EXTRA_LINES+=("schema: migrate-all of $(field tenants "$out") tenants (one nullable column): $(field seconds "$out") s wall, $(field migrated "$out") migrated, $(field failed "$out") failed, $(field per_second "$out") tenants/s, concurrency $MIGRATE_CONCURRENCY")
            echo "==> [$k] creating $EXTRA_TENANTS more tenants at $n"
            t=$(now)
            out=$(scale_tenants create --tenants "$EXTRA_TENANTS" --start $((n + 1)) --width "$TENANT_WIDTH" \
                --concurrency "$CREATE_CONCURRENCY" --with-note-column) || fail "creating tenants failed: $out"
            TIMES[$k]+=", create +$EXTRA_TENANTS $(since "$t")s"
            echo "    $out"
            EXTRA_LINES+=("schema: creating $EXTRA_TENANTS tenants with $n existing: $(field per_second "$out") tenants/s (vs ${CREATE[$k]} tenants/s while creating the first $n), concurrency $CREATE_CONCURRENCY")
        fi

        t=$(now)
        psql "$PG_URL" -qc "DROP DATABASE \"$DB\" WITH (FORCE)" >/dev/null
        TIMES[$k]+=", drop $(since "$t")s"
        DB="${DB_PREFIX}_none"
    done
done
total=$(since "$run_started")

echo
echo "machine: $(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;" \
    "$(psql "$PG_URL" -Atc "SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers') || ', max_connections ' || current_setting('max_connections')")"
echo "app: items-axum (release), pool of 10 connections (fixed: items::POOL_SIZE); wrk $THREADS threads, $CONNECTIONS connections, ${DURATION}s after ${WARMUP}s warm-up; pgbench $FLOOR_CLIENTS clients, -j 2, ${DURATION}s"
echo
FORMAT='%-7s %8s %9s %9s %8s %10s %9s %11s %15s %11s %12s %9s %11s %15s %19s %11s %13s\n'
# shellcheck disable=SC2059 # the format is the table's
printf "$FORMAT" mode tenants create/s req/s p99_ms floor_tps pg_conns pg_rss_MiB pg_private_MiB pg_pss_MiB \
    app_rss_MiB max_ms floor2_tps floor2_rss_MiB floor2_private_MiB other_cpu% floor_other%
for mode in $MODES; do
    for n in $TENANT_COUNTS; do
        k="$mode/$n"
        # shellcheck disable=SC2059
        printf "$FORMAT" "$mode" "$n" "${CREATE[$k]}" "$(printf %.0f "${RPS[$k]}")" "${P99[$k]}" \
            "$(printf %.0f "${FLOOR[$k]}")" "${CONNS[$k]}" "${RSS[$k]}" "${PRIVATE[$k]}" "${PSS[$k]}" "${APP_RSS[$k]}" \
            "${MAX[$k]}" "$(printf %.0f "${FLOOR2[$k]}")" "${FLOOR_RSS[$k]}" "${FLOOR_PRIVATE[$k]}" "${APP_OTHER[$k]}" "${FLOOR_OTHER[$k]}"
    done
done
echo "(pg_*: the app's PostgreSQL connections; pg_pss_MiB counts shared buffers once, pg_rss_MiB once per"
echo " connection; floor2_rss_MiB / floor2_private_MiB: the same of the floor2 client's connections, for comparison;"
echo " max_ms: the slowest answer; floor2_tps: the other floor, below; other_cpu% / floor_other%: the share"
echo " of the machine's CPU used by anything but the app, wrk, pgbench and the benchmark database's backends"
echo " during the app's and the floor's measurement: soft interrupts and PostgreSQL's background work, or"
echo " another user of this shared machine when it is high)"
echo
echo "ratios to $SMALLEST tenants (app = req/s ÷ req/s at $SMALLEST; floor = tps ÷ tps at $SMALLEST; app/floor below 1: the app loses more than PostgreSQL)"
for mode in $MODES; do
    base="$mode/$SMALLEST"
    for n in $TENANT_COUNTS; do
        k="$mode/$n"
        awk -v m="$mode" -v n="$n" -v r="${RPS[$k]}" -v r0="${RPS[$base]}" -v f="${FLOOR[$k]}" -v f0="${FLOOR[$base]}" 'BEGIN {
            printf "%-7s %8s  app %.3f  floor %.3f  app/floor %.3f", m, n, r / r0, f / f0, (r / r0) / (f / f0) }'
        awk -v rss="${RSS[$k]}" -v rss0="${RSS[$base]}" -v p="${PRIVATE[$k]}" -v p0="${PRIVATE[$base]}" \
            -v pss="${PSS[$k]}" -v pss0="${PSS[$base]}" 'BEGIN {
            printf "  PG memory: rss %.2fx  private %.2fx  pss %.2fx", rss / rss0, p / p0, pss / pss0 }'
        awk -v rss="${FLOOR_RSS[$k]}" -v rss0="${FLOOR_RSS[$base]}" -v p="${FLOOR_PRIVATE[$k]}" -v p0="${FLOOR_PRIVATE[$base]}" 'BEGIN {
            printf "  floor2 PG memory: rss %.2fx  private %.2fx\n", rss / rss0, p / p0 }'
    done
done
if [ ${#EXTRA_LINES[@]} -gt 0 ]; then
    echo
    printf '%s\n' "${EXTRA_LINES[@]}"
fi
echo
echo "floors (the pgbench scripts, as run at the last tenant count of each mode):"
for mode in $MODES; do
    protocol_var="FLOOR_PROTOCOL_$mode"
    protocol2_var="FLOOR2_PROTOCOL_$mode"
    echo "  $mode floor (-M ${!protocol_var}):"
    sed 's/^/      /' "$WORK/floor-$mode.sql"
    echo "  $mode floor2 (-M ${!protocol2_var}):"
    sed 's/^/      /' "$WORK/floor2-$mode.sql"
done
echo
echo "phases (seconds):"
for mode in $MODES; do
    for n in $TENANT_COUNTS; do
        echo "  $mode $n: ${TIMES[$mode/$n]}"
    done
done
echo "total: ${total}s"
