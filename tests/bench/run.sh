#!/usr/bin/env bash
# make bench: performance figures for exim-mtasts, written to docs/benchmarks.md.
# Not part of make check; nothing here asserts a time (targets are reported
# as met or missed). Root on Debian 12; about 30 minutes on 2 cores
# (section 7, delivery cost, about 25 of them; BENCH_DELIVERY_N and
# BENCH_DELIVERY_ROUNDS: messages per arm and rounds, default 200 and 7).
#
#   BENCH_QUICK=1      small counts (try the harness in a minute or two)
#   BENCH_SECTIONS     e.g. "1 7": only those sections (see tests/bench/bench.py)
#   BENCH_BUILD        build directory (default build/bench)
#   BENCH_DOC          report file (default docs/benchmarks.md)
#   BENCH_KEEP         results.json of an earlier run: the sections not in
#                      BENCH_SECTIONS are reported from it (marked as such)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench: must run as root (test world, packages)" >&2; exit 1; }
PY=/usr/bin/python3
B=${BENCH_BUILD:-build/bench}
DOC=${BENCH_DOC:-docs/benchmarks.md}
export BENCH_BUILD=$PWD/$B

echo "bench: dependencies"
bash tests/bench/deps.sh
bash tests/exim/build-exim.sh 4.96 >/dev/null

# Our own build directory: nothing else's build/ is touched or raced.
echo "bench: building into $B"
make -s BUILD="$B" "$B/libmtasts-core.a" "$B/mtasts" "$B/mtasts_dlfunc.so" \
    "$B/exim-4.96/mtasts_lookup.so"
CFLAGS_B=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror
          -Wno-format-truncation -O2 -g -Ilookup/core -Itests/bench)
for p in bench_cached bench_scale; do
    cc "${CFLAGS_B[@]}" -o "$B/$p" "tests/bench/$p.c" "$B/libmtasts-core.a" -llmdb
done
# Empty lookup modules for section 3, compiled as the real module is.
EXIM_BUILD_DIR=$(ls -d "${MTASTS_CACHE:-/var/cache/exim-mtasts}"/exim-4.96/src/build-* | head -1)
MOD_FLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2
           -fPIC -fvisibility=hidden -isystem "$EXIM_BUILD_DIR" -DDYNLOOKUP
           -D_FILE_OFFSET_BITS=64 -D_LARGEFILE_SOURCE -shared)
# section 7's floor arm: a ${dlfunc} object that imports nothing
cc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -nostdlib -o "$B/dlfunc_floor.so" \
    tests/bench/dlfunc_floor.c
cc "${MOD_FLAGS[@]}" -DBENCH_NULL_NAME='"benchnull"' -o "$B/bench_null_plain.so" \
    tests/bench/bench_null_lookup.c
cc "${MOD_FLAGS[@]}" -DBENCH_NULL_NAME='"benchnulllmdb"' -o "$B/bench_null_lmdb.so" \
    tests/bench/bench_null_lookup.c -Wl,--no-as-needed -llmdb

echo "bench: measuring inside the test world"
start=$SECONDS
rc=0
tests/world/run-in-world "$PY" tests/bench/bench.py measure "$B/results.json" || rc=$?
echo "bench: measured in $((SECONDS - start)) s"
[ -s "$B/results.json" ] || { echo "bench: no results" >&2; exit 1; }
"$PY" tests/bench/bench.py report "$B/results.json" "$DOC"
sed -n '/^## Machine/,/^## How to reproduce/p;/^## 1\./,$p' "$DOC" | grep -v '^## How to reproduce'
echo "bench: report written to $DOC (raw figures: $B/results.json)"
exit $rc
