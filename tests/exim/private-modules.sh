#!/usr/bin/env bash
# private-modules.sh COMMAND...: run COMMAND (inside tests/world/run-in-world) with
# private copies of the test Exims' module directories bind-mounted over the
# shared ones, so that modules a test installs (e.g. mutated ones) are seen
# only inside this world's mount namespace. make check and the mutation check run
# the world suites through it: tests on a shared machine do not see each
# other's modules.
set -euo pipefail
[ -n "${WORLD_DIR:-}" ] || { echo "private-modules.sh: run inside tests/world/run-in-world" >&2; exit 2; }
cache=${MTASTS_CACHE:-/var/cache/exim-mtasts}
for d in "$cache"/exim-*/lookups; do
    [ -d "$d" ] || continue
    priv=$(mktemp -d "$WORLD_DIR/lookups.XXXXXX"); chmod 755 "$priv"
    cp -a "$d/." "$priv/"
    mount --bind "$priv" "$d"
done
exec "$@"
