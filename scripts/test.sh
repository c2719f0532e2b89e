#!/usr/bin/env bash
# The whole test suite, as CI runs it: databases, formatting, lints, docs, tests.
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

step "cargo test (whole workspace, all features)"
cargo test --workspace --all-features "$@"

step "all checks passed"
