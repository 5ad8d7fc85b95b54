#!/usr/bin/env bash
# isolate.sh COMMAND...: run COMMAND (inside tests/world/run-in-world) with
# private copies of the test Exims' module directories bind-mounted over the
# shared ones, so that modules a test installs (e.g. mutated ones) are seen
# only inside this world's mount namespace.
set -euo pipefail
[ -n "${WORLD_DIR:-}" ] || { echo "isolate.sh: run inside tests/world/run-in-world" >&2; exit 2; }
cache=${MTASTS_CACHE:-/var/cache/exim-mtasts}
for d in "$cache"/exim-*/lookups; do
    [ -d "$d" ] || continue
    priv=$(mktemp -d "$WORLD_DIR/lookups.XXXXXX"); chmod 755 "$priv"
    cp -a "$d/." "$priv/"
    mount --bind "$priv" "$d"
done
exec "$@"
