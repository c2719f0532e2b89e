#!/usr/bin/env bash
# The whole test suite, as CI runs it: databases, formatting, lints, docs,
# packaging, tests, and each crate feature alone.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p CRATE   # extra arguments go to `cargo test`
#
# It needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and
# MariaDB/MySQL on 127.0.0.1:3306 (user root, empty password). It starts local
# servers when they are installed but stopped, and fails with a plain message
# when one cannot be reached. It also starts its own second PostgreSQL (port
# 5433) and its own PgBouncer (transaction pooling, installed from Debian's
# package when missing). Database tests are never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

export TENANCY_TEST_PG_URL="${TENANCY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TENANCY_TEST_MYSQL_URL="${TENANCY_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# Waits up to $2 seconds for the command "$1" to succeed.
wait_for() {
    local check="$1" seconds="$2"
    for _ in $(seq 1 "$seconds"); do
        if eval "$check" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 && psql "$TENANCY_TEST_PG_URL" -Atc 'select 1' >/dev/null; }
mysql_up() { mysqladmin --protocol=TCP -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

step "PostgreSQL on 127.0.0.1:5432"
# `script` (util-linux) gives the CLI's progress-bar test a terminal.
command -v script >/dev/null \
    || fail "'script' is not installed; install Debian's 'bsdutils' package (tenancy-cli's progress-bar test runs under it)."
command -v psql >/dev/null && command -v pg_isready >/dev/null \
    || fail "the PostgreSQL client (psql, pg_isready) is not installed; install the 'postgresql' package (version 15 or later)."
if ! pg_up; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "not running; starting the local cluster"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        wait_for pg_up 30 || fail "PostgreSQL did not come up on 127.0.0.1:5432 (see /var/log/postgresql)."
    else
        fail "PostgreSQL is not reachable at $TENANCY_TEST_PG_URL and no local cluster is installed (package 'postgresql')."
    fi
fi
psql "$TENANCY_TEST_PG_URL" -Atc 'select version()'

step "MariaDB/MySQL on 127.0.0.1:3306"
command -v mysqladmin >/dev/null \
    || fail "the MariaDB client (mysqladmin) is not installed; install the 'mariadb-server' package."
if ! mysql_up; then
    if [ -x /usr/sbin/mariadbd ]; then
        echo "not running; starting the local server"
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
        wait_for mysql_up 30 || fail "MariaDB did not come up on 127.0.0.1:3306."
    else
        fail "MariaDB/MySQL is not reachable on 127.0.0.1:3306 and no local server is installed (package 'mariadb-server')."
    fi
fi
mysqladmin --protocol=TCP -h 127.0.0.1 -P 3306 -u root version | grep -i '^server version' || true

# ---- second PostgreSQL server (database-per-tenant tests on several servers) ----
# A throw-away cluster from the local PostgreSQL binaries, trust auth, on its
# own port; reused when it is already running. Tests read TENANCY_TEST_PG2_URL
# and fail (never skip) when it is unreachable.
PG2_PORT="${TENANCY_TEST_PG2_PORT:-5433}"
export TENANCY_TEST_PG2_URL="${TENANCY_TEST_PG2_URL:-postgres://postgres@127.0.0.1:${PG2_PORT}/postgres}"
PG2_DATA="${TENANCY_TEST_PG2_DATA:-/tmp/tenancy-pg2-${PG2_PORT}}"
PG2_BIN="${TENANCY_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
pg2_up() { pg_isready -q -h 127.0.0.1 -p "$PG2_PORT" && psql "$TENANCY_TEST_PG2_URL" -Atc 'select 1' >/dev/null; }
# initdb and pg_ctl refuse to run as root: run them as the `postgres` OS user then.
as_pg_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

step "second PostgreSQL on 127.0.0.1:${PG2_PORT} (data in ${PG2_DATA})"
if ! pg2_up; then
    [ -x "$PG2_BIN/initdb" ] && [ -x "$PG2_BIN/pg_ctl" ] \
        || fail "initdb/pg_ctl not found (looked in '${PG2_BIN}'); install the 'postgresql' package or set TENANCY_PG_BIN."
    if [ ! -f "$PG2_DATA/PG_VERSION" ]; then
        echo "creating a cluster in $PG2_DATA"
        mkdir -p "$PG2_DATA"
        if [ "$(id -u)" = 0 ]; then chown postgres: "$PG2_DATA"; fi
        chmod 700 "$PG2_DATA"
        as_pg_owner "$PG2_BIN/initdb" -D "$PG2_DATA" -U postgres --auth=trust -E UTF8 >"$PG2_DATA.initdb.log" 2>&1 \
            || fail "initdb failed; see $PG2_DATA.initdb.log"
    fi
    echo "starting it"
    # In a subshell that closes every inherited file beyond stdio first: the
    # server would otherwise keep a caller's lock (e.g. `flock … test.sh`) for ever.
    # shellcheck disable=SC2046
    ( for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
      as_pg_owner "$PG2_BIN/pg_ctl" -D "$PG2_DATA" -l "$PG2_DATA/server.log" -w -t 30 \
        -o "-p $PG2_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG2_DATA -c max_connections=100 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null ) || true
    wait_for pg2_up 30 || fail "the second PostgreSQL did not come up on 127.0.0.1:${PG2_PORT} (see $PG2_DATA/server.log)."
fi
psql "$TENANCY_TEST_PG2_URL" -Atc 'select version()'
# ---- end of the second PostgreSQL server ----

# ---- PgBouncer in transaction pooling mode, in front of 127.0.0.1:5432 ----
# Debian's `pgbouncer` package, installed when missing (as root), never skipped.
step "PgBouncer (transaction pooling) in front of 127.0.0.1:5432"
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's pgbouncer package"
        DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer >/tmp/tenancy-apt-pgbouncer.log 2>&1 \
            || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer >>/tmp/tenancy-apt-pgbouncer.log 2>&1; } \
            || fail "installing pgbouncer failed (see /tmp/tenancy-apt-pgbouncer.log); install Debian's 'pgbouncer' package."
    else
        fail "pgbouncer is not installed; install Debian's 'pgbouncer' package (apt-get install pgbouncer)."
    fi
fi
PGBOUNCER_PORT="$(scripts/pgbouncer.sh)" || fail "PgBouncer did not start (see /tmp/tenancy-pgbouncer/pgbouncer.log)."
export TENANCY_TEST_PGBOUNCER_URL="${TENANCY_TEST_PGBOUNCER_URL:-postgres://postgres@127.0.0.1:${PGBOUNCER_PORT}/postgres}"
pgbouncer --version | head -n1
echo "listening on 127.0.0.1:${PGBOUNCER_PORT}"
# ---- end of PgBouncer ----

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, warnings denied)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo doc (broken links and missing docs denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

# ---- packaging ----
# Every published crate must package: `cargo publish` refuses a crate whose
# readme is missing or whose files lie outside it. The unpublished crates
# (`publish = false`: tenancy-examples, tenancy-testkit) are excluded by name;
# the adapters' path-only dev-dependency on tenancy-testkit is left out of
# their packages by cargo. `--workspace` packages the crates together, so
# that their dependencies on each other (path + version, not on crates.io yet)
# resolve to the local copies; `--no-verify` skips building each package again
# from its tarball (the steps here build and test the same sources). CI runs
# on a clean clone; a local run with uncommitted changes packages them as they
# are (`--allow-dirty`) instead of failing.
step "cargo package (every published crate, file lists checked)"
package_flags=(--workspace --exclude tenancy-examples --exclude tenancy-testkit)
if [ -n "$(git status --porcelain 2>/dev/null || true)" ]; then
    echo "uncommitted changes: packaging them as they are (--allow-dirty)"
    package_flags+=(--allow-dirty)
fi
cargo package "${package_flags[@]}" --no-verify \
    || fail "cargo package failed (see above): a crate could not be published as it is."
# A package holds its manifest, README and the Rust sources of src/, tests/ and
# benches/; anything else (data, logs, editor files, databases) is junk.
package_files="$(cargo package "${package_flags[@]}" --list)" \
    || fail "cargo package --list failed (see above)."
package_junk="$(grep -Ev '^(\.cargo_vcs_info\.json|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|README\.md|(src|tests|benches)/.+\.rs)$' <<<"$package_files" || true)"
[ -z "$package_junk" ] \
    || fail "the packages would contain files this check does not expect (delete them, exclude them in the crate's Cargo.toml, or allow them here if they belong):
$package_junk"
[ "$(grep -cx 'Cargo.toml' <<<"$package_files")" = "$(grep -cx 'README.md' <<<"$package_files")" ] \
    || fail "a package has no README.md (set readme = \"README.md\" in its Cargo.toml)."
echo "$(grep -cx 'Cargo.toml' <<<"$package_files") crates packaged, $(wc -l <<<"$package_files") files, none unexpected"
# ---- end of packaging ----

step "cargo test (whole workspace, all features)"
cargo test --workspace --all-features "$@"

# ---- each feature alone ----
# A user enables one feature at a time (tenancy-sqlx with only `mysql`,
# tenancy-core without `testing`), while the run above enables all of them at once,
# which hides code that needs a feature it does not declare. For every feature
# a user may pick alone, and for no features at all:
#   - `cargo check --lib`: the library alone, without the features its
#     dev-dependencies switch on (the adapters' tests enable `testing` of
#     tenancy-core);
#   - `cargo check --all-targets`: the library, its tests, benches and
#     examples compile with exactly that feature;
#   - `cargo test --lib` and `cargo test --doc`: its unit tests and doc
#     examples pass (a doc example needing another feature fails here).
# The integration tests are compiled but not run again: they ran above, with
# every feature, against the same databases; running them once per feature
# would multiply the suite's time. A plain loop rather than `cargo hack
# --each-feature`: it needs no tool installed first (cargo-hack builds from
# source in CI), and the check below keeps it complete: a feature added to a
# manifest but not to this list fails the run.
step "each feature alone: check all targets, unit and doc tests"
FEATURE_SETS=(
    "tenancy-core:"
    "tenancy-core:serde"
    "tenancy-core:testing"
    "tenancy-sqlx:"
    "tenancy-sqlx:postgres"
    "tenancy-sqlx:mysql"
    "tenancy-sqlx:sqlite"
    "tenancy-sqlx:testing"
    "tenancy-axum:"
    "tenancy-actix:"
    "tenancy-cli:"
)
# The features of a crate's manifest (its folder is named after it), but `default`.
declared_features() {
    awk '/^\[/ { in_features = ($0 == "[features]"); next }
         in_features && /^[A-Za-z0-9_-]+[[:space:]]*=/ {
             sub(/[[:space:]]*=.*/, ""); if ($0 != "default") print
         }' "$1/Cargo.toml"
}
for crate in tenancy-core tenancy-sqlx tenancy-axum tenancy-actix tenancy-cli; do
    for feature in $(declared_features "$crate"); do
        [[ " ${FEATURE_SETS[*]} " == *" $crate:$feature "* ]] \
            || fail "feature '$feature' of $crate is not in FEATURE_SETS of scripts/test.sh; add it."
    done
done
feature_failures=()
for set in "${FEATURE_SETS[@]}"; do
    crate="${set%%:*}" feature="${set#*:}"
    selection=(-p "$crate" --no-default-features)
    if [ -n "$feature" ]; then selection+=(--features "$feature"); fi
    printf '\n--- %s, %s\n' "$crate" "${feature:-no features}"
    for command in "check --lib" "check --all-targets" "test --lib" "test --doc"; do
        # shellcheck disable=SC2086 # $command is two words on purpose
        cargo $command "${selection[@]}" \
            || feature_failures+=("$crate ${feature:-(no features)}: cargo $command")
    done
done
if [ "${#feature_failures[@]}" -gt 0 ]; then
    printf '  %s\n' "${feature_failures[@]}" >&2
    fail "${#feature_failures[@]} command(s) failed with a single feature (listed above)."
fi
# ---- end of each feature alone ----

step "all checks passed"
