#!/usr/bin/env bash
# `tenancy migrate` over 1,000 schema-mode tenants: the wall time of the
# whole command, process start included, for a release that adds one
# column to every tenant, against the same command when nothing is pending
# (the baseline: start, connect, list, read every schema's history).
#
#   bench/cli-migrate.sh                       # 1,000 tenants, 3 releases (~2 min)
#   TENANTS=200 RUNS=5 SKIP_BUILD=1 bench/cli-migrate.sh
#
# Settings (environment): TENANTS (1000), RUNS (3: each run is a new
# migration, `ALTER TABLE items ADD COLUMN cN text`, then one no-op run),
# CONCURRENCY (unset: the command's default), SKIP_BUILD=1 to use the
# release binary already built in ${CARGO_TARGET_DIR:-target}/release.
# Needs psql. Works in a fresh database it drops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

TENANTS="${TENANTS:-1000}"
RUNS="${RUNS:-3}"
PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="tenancy_cli_migrate_$$"
WORK=$(mktemp -d)

# shellcheck source=bench/lib.sh
source bench/lib.sh
need psql postgresql-client
need bc bc

BIN="${CARGO_TARGET_DIR:-target}/release"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -q -p tenancy-cli
fi
TENANCY="$BIN/tenancy"
[ -x "$TENANCY" ] || fail "$TENANCY is missing: build it (cargo build --release -p tenancy-cli)"

cleanup() {
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
export TENANCY_DATABASE_URL="${PG_URL%/*}/$DB" TENANCY_ISOLATION=schema TENANCY_MIGRATIONS="$WORK/migrations"
mkdir -p "$TENANCY_MIGRATIONS"
echo 'CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);' \
    > "$TENANCY_MIGRATIONS/1_items.sql"

echo "creating $TENANTS tenants (one \`tenancy tenants create\` each)..."
started=$(date +%s.%N)
for n in $(seq -w 1 "$TENANTS"); do
    "$TENANCY" tenants create "t$n" >/dev/null
done
printf 'created in %.1f s\n' "$(echo "$(date +%s.%N) - $started" | bc)"

# Seconds of one `tenancy --json migrate`, checking what it reports.
timed_migrate() {
    local expect_migrated=$1 started report
    started=$(date +%s.%N)
    report=$("$TENANCY" --json migrate ${CONCURRENCY:+--concurrency "$CONCURRENCY"})
    echo "$(date +%s.%N) - $started" | bc
    grep -q "\"migrated\": $expect_migrated," <<<"$report" || fail "unexpected report: $report"
    grep -q '"failed": 0,' <<<"$report" || fail "a tenant failed: $report"
}

printf '\n%-8s %12s %12s %8s\n' run "migrate (s)" "no-op (s)" ratio
for run in $(seq 1 "$RUNS"); do
    version=$((run + 1))
    echo "ALTER TABLE items ADD COLUMN c$version text;" > "$TENANCY_MIGRATIONS/${version}_c$version.sql"
    migrate=$(timed_migrate "$TENANTS")
    noop=$(timed_migrate 0)
    printf '%-8s %12.2f %12.2f %7.1fx\n' "$run" "$migrate" "$noop" "$(echo "$migrate / $noop" | bc -l)"
done
