#!/usr/bin/env bash
# The module is loaded and called by each test Exim through its own loader
# (4.96/4.98: every *.so at start; 4.100: <type>_lookup.so on demand), the
# runtime guard refuses a module built for another Exim, and stock Debian
# exim4 calls the dlfunc object.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
conf=$(exim_conf "$work")

for v in "${EXIM_VERSIONS[@]}"; do
    exim=$(exim_prefix "$v")/bin/exim
    ever=$("$exim" -C "$conf" -be '$version_number')
    install_module "$v"
    out=$("$exim" -C "$conf" -be '${lookup mtasts{example.com}}' 2>"$work/err")
    check_eq "exim $v: lookup answered by the module" "$out" "mtasts 0.1.0 (exim $ever)"
    check_eq "exim $v: nothing on stderr" "$(cat "$work/err")" ""
    dbg=$("$exim" -C "$conf" -d+lookup -be '${lookup mtasts{example.com}}' 2>&1)
    case $v in
        4.96|4.98) check_grep "exim $v: loaded at start from the module dir" \
                       'Loaded "mtasts_lookup.so" \(1 lookup types\)' "$dbg" ;;
        *)         check_grep "exim $v: loaded on demand" 'Loaded module "mtasts"' "$dbg" ;;
    esac
    check_grep "exim $v: find called with the query" 'mtasts: query "example.com"' "$dbg"
    out=$("$exim" -C "$conf" -be 'plain' 2>&1)
    check_eq "exim $v: a process not using the module prints nothing extra" "$out" "plain"
done

# The 4.96 module in 4.98 (same magic, other Exim): the guard refuses.
install_module 4.98 "$ROOT/build/exim-4.96/mtasts_lookup.so"
out=$("$(exim_prefix 4.98)/bin/exim" -C "$conf" -be '${lookup mtasts{example.com}}' 2>&1)
check_grep "guard: a 4.96 module in 4.98 refuses to answer" \
    'module built for Exim 4.96, running 4.98' "$out"
# -be processes send their log lines to stderr rather than the log files.
check_grep "guard: said through log_write (panic)" 'built for Exim 4.96 but loaded by Exim 4.98' \
    "$out $(cat "$work"/log/paniclog 2>/dev/null)"
install_module 4.98

# Stock Debian exim4 through ${dlfunc}.
out=$("$STOCK_EXIM" -C "$conf" -be '${dlfunc{'"$ROOT"'/build/mtasts_dlfunc.so}{mtasts_policy}{example.com}}' 2>&1)
check_eq "stock exim4: dlfunc called" "$out" "mtasts 0.1.0 (dlfunc, domain example.com)"

tally exim-modules
