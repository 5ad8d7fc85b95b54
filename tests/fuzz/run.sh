#!/usr/bin/env bash
# Run every libFuzzer target in DIR for SECONDS each, seeded from the
# committed corpus (tests/fuzz/corpus/<target>/, read-only); new inputs go to
# a scratch dir. Prints the exec count per target and a tally line.
set -uo pipefail
dir=${1:?usage: run.sh FUZZ_BIN_DIR SECONDS}; secs=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin"); target=${name#fuzz_}
    scratch=$(mktemp -d); artifacts=$(mktemp -d)
    out=$("$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$artifacts/" \
          "$scratch" "$here/corpus/$target" 2>&1); rc=$?
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' <<<"$out" | grep -oE '[0-9]+$')
    if [ $rc = 0 ]; then
        echo "ok - $name: ${runs:-?} executions in ${secs}s, no crash"; pass=$((pass + 1))
    else
        echo "not ok - $name: exit $rc"; grep -E 'ERROR|SUMMARY|Test unit written' <<<"$out" | head -5
        mkdir -p "$here/../../build/fuzz-crashes" && cp -r "$artifacts"/. "$here/../../build/fuzz-crashes/" 2>/dev/null
        fail=$((fail + 1))
    fi
    rm -rf "$scratch" "$artifacts"
done
echo "fuzz: $pass passed, $fail failed"
[ $fail = 0 ]
