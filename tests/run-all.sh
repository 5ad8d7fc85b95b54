#!/usr/bin/env bash
# The whole test suite (make check). Each suite prints lines and one tally
# line "<suite>: N passed, N failed"; a suite that dies without a tally counts
# as one failure. Ends with a per-suite table, in which the unit tests re-run
# under ASan and valgrind are counted as re-runs of the same assertions, not
# as checks of their own, and the grand total "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
LOG_DIR=build/test-logs
mkdir -p "$LOG_DIR"
total_pass=0 total_fail=0
TABLE=()   # "name passed failed" per suite, in order

# run_suite NAME COMMAND... - run one suite, show its output, add its tally
run_suite() {
    local name=$1; shift
    local log="$LOG_DIR/$name.log" rc tally p f
    echo "== $name"
    "$@" >"$log" 2>&1; rc=$?
    grep -E '^(FAIL|not ok)' "$log" | head -40
    tally=$(grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -z "$tally" ]; then
        echo "   $name: no tally (exit $rc); last lines:"; tail -15 "$log" | sed 's/^/   | /'
        total_fail=$((total_fail + 1)); TABLE+=("$name 0 1"); return
    fi
    p=$(sed -E 's/^([^:]*: )?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$tally")
    f=$(sed -E 's/^([^:]*: )?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$tally")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "   $name: exit $rc despite 0 failures"; f=1
    fi
    echo "   $tally"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    TABLE+=("$name $p $f")
}

# rerun_of NAME: the suite NAME re-runs (same assertions under a sanitizer),
# or nothing
rerun_of() {
    case $1 in
        asan-*|valgrind-*) echo "unit-${1#*-}" ;;
        *-valgrind) echo "${1%-valgrind}" ;;
    esac
}

# summary_table: each suite's checks, which are re-runs, and the totals of
# distinct assertions and re-runs
summary_table() {
    local row name p f of distinct=0 reruns=0
    echo
    printf '%-28s %7s %7s  %s\n' suite passed failed "re-run of"
    for row in "${TABLE[@]}"; do
        read -r name p f <<<"$row"
        of=$(rerun_of "$name")
        printf '%-28s %7s %7s  %s\n' "$name" "$p" "$f" "${of:--}"
        if [ -n "$of" ]; then reruns=$((reruns + p + f)); else distinct=$((distinct + p + f)); fi
    done
    echo "distinct assertions: $distinct; re-runs of them under ASan/valgrind: $reruns"
}

# A decoy exim4 process outside the test world (make check starts it before
# make deps): the decoy suite at the end checks that nothing killed it.
bash tests/install/decoy.sh start

# Build steps are suites too: a build failure must show as a failure.
build_step() { "$@" && echo "build: 1 passed, 0 failed" || echo "build: 0 passed, 1 failed"; }

run_suite exim-builds     build_step bash tests/exim/build-all.sh
run_suite build           build_step $MAKE -s all modules unit fuzz-build
run_suite build-asan      build_step $MAKE -s unit BUILD=build/asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
for t in build/tests/test_* build/tests/store_stress; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    case $n in test_discovery) continue ;; esac   # needs the world: below
    run_suite "unit-$n" "$t"
    run_suite "asan-$n" "build/asan/tests/$n"
    run_suite "valgrind-$n" valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
        --error-exitcode=99 "$t"
done
run_suite fuzz-short      bash tests/fuzz/run.sh build/fuzz "${FUZZ_SHORT_SECONDS:-20}"
run_suite world-selftest  bash tests/world/test-world.sh
# Inside the world the test Exims get private module directories: suites
# that install modules never touch the shared ones (a shared test machine).
WORLD="tests/world/run-in-world bash tests/exim/private-modules.sh"
run_suite exim-modules    $WORLD bash tests/exim/test-modules.sh
run_suite discovery       $WORLD build/tests/test_discovery
run_suite discovery-valgrind $WORLD valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 build/tests/test_discovery
run_suite exim-lookup     $WORLD bash tests/exim/test-lookup.sh
run_suite exim-rfc-lookup $WORLD bash tests/exim/test-rfc-lookup.sh
run_suite helper-safety   $WORLD bash tests/exim/test-helper-safety.sh
run_suite exim-store-safety $WORLD bash tests/exim/test-store-safety.sh
# Suites of later issues join as they land.
[ -f tests/cli/test-cli.sh ]       && run_suite cli        bash tests/cli/test-cli.sh
[ -f tests/cli/test-cli-world.sh ] && run_suite cli-world  $WORLD bash tests/cli/test-cli-world.sh
run_suite rfc-world       $WORLD bash tests/cli/test-rfc-world.sh
[ -f tests/install/test-install.sh ] && run_suite install  bash tests/install/test-install.sh
[ -f tests/e2e/test-delivery.sh ]  && run_suite e2e        $WORLD bash tests/e2e/test-delivery.sh
run_suite e2e-retry       $WORLD bash tests/e2e/test-retry.sh
run_suite tlsrpt-record   $WORLD bash tests/tlsrpt/test-record.sh
run_suite admin           bash tests/install/test-admin.sh
run_suite walkthrough     $WORLD bash tests/install/test-walkthrough.sh
run_suite offswitch       $WORLD bash tests/install/test-offswitch.sh
# The Debian package in bookworm and trixie chroots; it enters the world itself.
[ -f tests/deb/test-deb.sh ]       && run_suite deb        bash tests/deb/test-deb.sh
run_suite decoy           bash tests/install/decoy.sh check

summary_table
echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
