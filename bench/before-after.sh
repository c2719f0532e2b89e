#!/usr/bin/env bash
# The adapters' hot path before and after a change, measured in one run on
# the same machine: the middleware overhead benches (criterion, in process)
# and the load benchmark (wrk over HTTP), for an earlier revision and for the
# working tree, one after the other.
#
#   bench/before-after.sh REV            # e.g. bench/before-after.sh 6eec5e2
#   LOAD=0 bench/before-after.sh REV     # only the overhead benches
#
# The earlier revision is checked out in a temporary worktree and built with
# its own target directory (release builds for both); it is kept for a
# rerun (remove it with `git worktree remove --force DIR`). Its bench/load.sh is
# the one of that revision (it may lack the by-hand baseline).
set -euo pipefail
cd "$(dirname "$0")/.."

REV="${1:?usage: bench/before-after.sh REV}"
LOAD="${LOAD:-1}"
BEFORE_DIR="${BEFORE_DIR:-/tmp/tenancy-before-$(git rev-parse --short "$REV")}"
BEFORE_TARGET="$BEFORE_DIR/target" # the earlier bench/load.sh expects ./target

if [ ! -d "$BEFORE_DIR" ]; then
    git worktree add --detach "$BEFORE_DIR" "$REV" >/dev/null
fi
[ "$(git -C "$BEFORE_DIR" rev-parse HEAD)" = "$(git rev-parse "$REV^{commit}")" ] \
    || { echo "$BEFORE_DIR is not at $REV; remove it (git worktree remove --force $BEFORE_DIR)" >&2; exit 1; }

# The paired line of each overhead bench ("paired: …"), for a checkout.
overhead() {
    local dir=$1 target=$2 adapter log
    for adapter in tenancy-axum tenancy-actix; do
        log=$(mktemp)
        (cd "$dir" && CARGO_TARGET_DIR="$target" cargo bench -q -p "$adapter" --bench overhead -- --noplot 2>"$log") \
            | grep -Ei 'paired|time:' | sed "s/^/$adapter: /" \
            || { echo "the overhead bench of $adapter failed in $dir; its errors: $log" >&2; exit 1; }
        rm -f "$log"
    done
}

echo "==> middleware overhead, before ($REV)"
overhead "$BEFORE_DIR" "$BEFORE_TARGET"
echo "==> middleware overhead, after (working tree)"
overhead "$PWD" "${CARGO_TARGET_DIR:-$PWD/target}"

if [ "$LOAD" = 1 ]; then
    echo "==> load, before ($REV)"
    (cd "$BEFORE_DIR" && env -u CARGO_TARGET_DIR bench/load.sh)
    echo "==> load, after (working tree)"
    bench/load.sh
fi
