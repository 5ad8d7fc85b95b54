#!/usr/bin/env bash
# Debian packages for the benchmark (make bench) only; make check never
# needs them. Idempotent: installs only what is missing. Run as root.
#   postfix-mta-sts-resolver  the comparison daemon (mta-sts-daemon) and
#                             its one-shot client (mta-sts-query);
#   python3-uvloop            its recommended event loop (Recommends:)
#   lmdb-utils, time          mdb_stat; GNU time
#   linux-perf                optional, not required: CPU times come from
#                             getrusage() in tests/bench/lib.py
set -euo pipefail

BENCH_PKGS=(postfix-mta-sts-resolver python3-uvloop lmdb-utils time)

missing=()
for p in "${BENCH_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "bench deps: all present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "bench deps: must run as root (apt-get install); missing: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package ships a service; it must not start on the host (the bench
# starts its own daemon inside the test world).
POLICY=/usr/sbin/policy-rc.d
policy_added=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"; chmod 755 "$POLICY"; policy_added=1
fi
trap '[ $policy_added = 1 ] && rm -f "$POLICY"' EXIT
echo "bench deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bench deps: done"
