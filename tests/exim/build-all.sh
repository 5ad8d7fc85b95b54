#!/usr/bin/env bash
# Build (or reuse from cache) every Exim release the module is tested against.
# stdout: one install prefix per line, in order 4.96 4.98 4.100.
set -euo pipefail
here=$(dirname "$0")
# Sequential: each build already uses both cores (make -j2).
for v in 4.96 4.98 4.100; do
    "$here/build-exim.sh" "$v"
done
