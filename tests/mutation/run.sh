#!/usr/bin/env bash
# Mutation check: break each claimed behaviour on purpose, in a scratch copy
# of the tree, and show that the suite which claims it notices.
#
#   bash tests/mutation/run.sh [NAME...]      (root; default: every mutation)
#
# For each row of tests/mutation/mutations.txt: copy a built base, apply the
# edit, rebuild (make all modules unit), run the named suite of make check
# and require (1) a failing tally and (2) a "not ok" line matching the row's
# regex that the unmutated tree does not fail (so a check broken before the
# mutation, or a mere consistency check, does not count as catching it).
# Each suite also runs once unmutated (the baseline). Prints one line per
# mutation and a table; exit status 1 if any mutation went unnoticed or could
# not be applied.
#
# Not part of make check (it rebuilds and runs a suite per mutation: about
# 2-3 minutes each). The e2e suite runs only the variants in
# MUTATION_E2E_VARIANTS (default "4.100 stock-split"; set to "" for all five).
# Mutated lookup modules never reach the shared test-Exim module directories:
# inside the world, tests/exim/private-modules.sh bind-mounts private copies over them.
# Logs stay in MUTATION_DIR (default build/mutation).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TABLE=$ROOT/tests/mutation/mutations.txt
OUT=${MUTATION_DIR:-$ROOT/build/mutation}
E2E_VARIANTS_MUT=${MUTATION_E2E_VARIANTS-"4.100 stock-split"}
[ "$(id -u)" = 0 ] || { echo "run as root (the world and the Exim tests need it)"; exit 2; }
mkdir -p "$OUT"
scratch=$(mktemp -d /var/tmp/mtasts-mutation.XXXXXX); chmod 755 "$scratch"
trap 'rm -rf "$scratch"' EXIT

# suite_cmd SUITE: the command make check runs for SUITE (tests/run-all.sh)
suite_cmd() {
    local world="tests/world/run-in-world bash tests/exim/private-modules.sh"
    case $1 in
        exim-lookup)  echo "$world bash tests/exim/test-lookup.sh" ;;
        exim-modules) echo "$world bash tests/exim/test-modules.sh" ;;
        e2e)          echo "env E2E_VARIANTS='$E2E_VARIANTS_MUT' $world bash tests/e2e/test-delivery.sh" ;;
        e2e-retry)    echo "$world bash tests/e2e/test-retry.sh" ;;
        cli)          echo "bash tests/cli/test-cli.sh" ;;
        cli-world)    echo "tests/world/run-in-world bash tests/cli/test-cli-world.sh" ;;
        install)      echo "bash tests/install/test-install.sh" ;;
        unit-*)       echo "build/tests/${1#unit-}" ;;
        *) return 1 ;;
    esac
}

# run_suite DIR SUITE LOG: run SUITE in the tree DIR; prints the tally line
run_suite() {
    local dir=$1 suite=$2 log=$3 cmd
    cmd=$(suite_cmd "$suite") || { echo "unknown suite $suite" >"$log"; return; }
    (cd "$dir" && eval "$cmd") >"$log" 2>&1
    grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1
}
failed_of() { sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$1"; }

# apply DIR FILE EDIT: the mutation; fails when it changes nothing
apply() {
    local dir=$1 file=$2 edit=$3
    [ -e "$dir/$file" ] || { echo "no such file: $file"; return 1; }
    if [ "$edit" = DELETE ]; then rm -f "$dir/$file"; return; fi
    cp "$dir/$file" "$scratch/before"
    perl -0pi -e "$edit" "$dir/$file" || return 1
    if cmp -s "$scratch/before" "$dir/$file"; then echo "the edit matched nothing in $file"; return 1; fi
    case $file in exim-config-snippets/debian-split/*)
        bash "$dir/tests/e2e/make-single-file.sh" >/dev/null ;;
    esac
}

# The base: this tree (uncommitted changes included), built.
echo "# base copy in $scratch/base"
mkdir "$scratch/base"
tar -C "$ROOT" --exclude=./.git --exclude=./build/mutation -cf - . | tar -C "$scratch/base" -xf -
if ! make -s -C "$scratch/base" all modules unit >"$OUT/base-build.log" 2>&1; then
    echo "the unmutated tree does not build: $OUT/base-build.log"; exit 2
fi

rows=()
while IFS= read -r line; do
    case $line in '#'*|'') continue ;; esac
    rows+=("$line")
done <"$TABLE"

declare -A baseline_done
results=() bad=0
for row in "${rows[@]}"; do
    # Fields are separated by " | " (a bare | belongs to the regexes).
    IFS=$'\x1f' read -r name suite check file edit < <(awk -F ' [|] ' -v OFS=$'\x1f' '{ $1 = $1; print }' <<<"$row")
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$name"; then continue; fi

    if [ -z "${baseline_done[$suite]:-}" ]; then
        t=$(run_suite "$scratch/base" "$suite" "$OUT/baseline-$suite.log")
        grep -E '^not ok' "$OUT/baseline-$suite.log" >"$OUT/baseline-$suite.notok" || true
        echo "# baseline $suite: ${t:-no tally}"
        baseline_done[$suite]=1
    fi

    rm -rf "$scratch/mut"; cp -a "$scratch/base" "$scratch/mut"
    if ! msg=$(apply "$scratch/mut" "$file" "$edit"); then
        results+=("$name|$suite|NOT APPLIED|$msg"); bad=$((bad + 1)); echo "NOT APPLIED $name: $msg"; continue
    fi
    if ! make -s -C "$scratch/mut" all modules unit >"$OUT/$name.build.log" 2>&1; then
        results+=("$name|$suite|BUILD FAILED|$OUT/$name.build.log"); bad=$((bad + 1))
        echo "BUILD FAILED $name"; continue
    fi
    t=$(run_suite "$scratch/mut" "$suite" "$OUT/$name.log")
    # the matching "not ok" lines that the baseline does not have
    hits=$(grep -E '^not ok' "$OUT/$name.log" | grep -E -- "$check" |
           grep -vxF -f "$OUT/baseline-$suite.notok" | head -3)
    f=$(failed_of "$t")
    if [ -n "$hits" ] && { [ -z "$t" ] || [ "${f:-0}" -gt 0 ]; }; then
        verdict=CAUGHT
    else
        verdict=MISSED; bad=$((bad + 1))
    fi
    first=$(head -1 <<<"$hits" | cut -c1-110)
    results+=("$name|$suite|$verdict|${t:-no tally}; ${first:-no matching failure}")
    echo "$verdict $name ($suite: ${t:-no tally})"
done

echo
printf '%-32s %-12s %-12s %s\n' mutation suite result "tally; first matching failure"
for r in "${results[@]}"; do
    IFS='|' read -r name suite verdict detail <<<"$r"
    printf '%-32s %-12s %-12s %s\n' "$name" "$suite" "$verdict" "$detail"
done
echo "mutation: $(( ${#results[@]} - bad )) caught, $bad not"
[ "$bad" = 0 ]
