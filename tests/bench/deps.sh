#!/usr/bin/env bash
# Debian packages for the benchmark (make bench) only; make check never
# needs them. Idempotent: installs only what is missing. Run as root.
#   postfix-mta-sts-resolver  the comparison daemon (mta-sts-daemon) and
#                             its one-shot client (mta-sts-query);
#   python3-uvloop            its recommended event loop (Recommends:)
#   lmdb-utils, time          mdb_stat; GNU time
#   valgrind                  callgrind instruction counts (section 7)
#   linux-perf                optional, not required: CPU times come from
#                             getrusage() in tests/bench/lib.py
set -euo pipefail

BENCH_PKGS=(postfix-mta-sts-resolver python3-uvloop lmdb-utils time valgrind)

# One installer for the project: tests/deps.sh (no host daemons started).
exec bash "$(dirname "$0")/../deps.sh" "${BENCH_PKGS[@]}"
