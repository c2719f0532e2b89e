#!/usr/bin/env bash
# Starts (or reuses) the test suite's own PgBouncer in front of the test
# PostgreSQL, in transaction pooling mode, and prints its port.
#
#   scripts/pgbouncer.sh            # start if needed; print the port
#   scripts/pgbouncer.sh stop
#
# TENANCY_PGBOUNCER_DIR (default /tmp/tenancy-pgbouncer) and
# TENANCY_PGBOUNCER_POOL_SIZE (default 2, the test suite's) allow a second
# instance, e.g. for bench/pgbouncer.sh.
#
# Settings: pool_mode = transaction, default_pool_size = 2,
# ignore_startup_parameters = extra_float_digits; every database name is
# forwarded to 127.0.0.1:5432 (a tenant database per test must be reachable),
# and max_client_conn is raised so that parallel tests are not refused.
# Needs Debian's `pgbouncer` package (1.18 or later).
set -euo pipefail

DIR="${TENANCY_PGBOUNCER_DIR:-/tmp/tenancy-pgbouncer}"
UPSTREAM_PORT="${TENANCY_PGBOUNCER_UPSTREAM_PORT:-5432}"
POOL_SIZE="${TENANCY_PGBOUNCER_POOL_SIZE:-2}"
BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"

running() {
    [ -f "$DIR/pgbouncer.pid" ] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null \
        && [ -f "$DIR/port" ] \
        && psql "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres" -Atc 'select 1' >/dev/null 2>&1
}

if [ "${1:-}" = stop ]; then
    if [ -f "$DIR/pgbouncer.pid" ]; then kill "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null || true; fi
    exit 0
fi

if running; then cat "$DIR/port"; exit 0; fi

[ -x "$BIN" ] || { echo "pgbouncer is not installed; install Debian's 'pgbouncer' package (apt-get install pgbouncer)" >&2; exit 1; }

# A free port, picked by the kernel.
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$DIR"
cat >"$DIR/userlist.txt" <<USERS
"postgres" ""
"root" ""
USERS
cat >"$DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=${UPSTREAM_PORT}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PORT}
unix_socket_dir =
auth_type = trust
auth_file = ${DIR}/userlist.txt
pool_mode = transaction
default_pool_size = ${POOL_SIZE}
ignore_startup_parameters = extra_float_digits
max_client_conn = 2000
admin_users = postgres
logfile = ${DIR}/pgbouncer.log
pidfile = ${DIR}/pgbouncer.pid
INI
# PgBouncer refuses to run as root. The daemon must not inherit our open
# files beyond stdio (e.g. a lock a caller holds around the test run).
close_extra_fds() {
    local fd
    for fd in $(ls /proc/$$/fd); do
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
}
close_extra_fds
if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$DIR"
    runuser -u postgres -- "$BIN" -d "$DIR/pgbouncer.ini"
else
    "$BIN" -d "$DIR/pgbouncer.ini"
fi
echo "$PORT" >"$DIR/port"
for _ in $(seq 1 30); do
    if running; then cat "$DIR/port"; exit 0; fi
    sleep 0.5
done
echo "PgBouncer did not come up on 127.0.0.1:${PORT} (see $DIR/pgbouncer.log)" >&2
exit 1
