#!/usr/bin/env bash
# The module is loaded and called by each test Exim through its own loader
# (4.96/4.98: every *.so at start; 4.100: <type>_lookup.so on demand), the
# runtime guard refuses a module built for another Exim, and stock Debian
# exim4 calls the dlfunc object. Queries here need no network: an IP
# literal has no policy by definition (what lookups answer is
# tests/exim/test-lookup.sh's business).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /var/tmp/mtasts-mod.XXXXXX); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
conf=$(exim_conf "$work")
step mkdir "$work/store"; step chown Debian-exim "$work/store"
O="store=$work/store,helper=$ROOT/build/mtasts"

for v in "${EXIM_VERSIONS[@]}"; do
    exim=$(exim_prefix "$v")/bin/exim
    ever=$("$exim" -C "$conf" -be '$version_number')
    step install_module "$v"
    out=$("$exim" -C "$conf" -be "\${lookup mtasts,$O{[192.0.2.1]}{\$value}{NOPOLICY}}" 2>"$work/err")
    check_eq "exim $v: lookup answered by the module" "$out" "NOPOLICY"
    check_eq "exim $v: nothing on stderr" "$(cat "$work/err")" ""
    dbg=$("$exim" -C "$conf" -d+lookup -be "\${lookup mtasts,$O{[192.0.2.1]}}" 2>&1)
    case $v in
        4.96|4.98) check_grep "exim $v: loaded at start from the module dir" \
                       'Loaded "mtasts_lookup.so" \(1 lookup types\)' "$dbg" ;;
        *)         check_grep "exim $v: loaded on demand" 'Loaded module "mtasts"' "$dbg" ;;
    esac
    check_grep "exim $v: find called with the query" 'mtasts: query "\[192.0.2.1\]"' "$dbg"
    check_grep "exim $v: the reason is in the debug output" 'IP literal' "$dbg"
    # 4.100 loads on demand, after the startup report: no version line there.
    [ "$v" = 4.100 ] || check_grep "exim $v: version_report names module and Exim" \
        "Library version: mtasts: [0-9.]+ \\(built for Exim $ever\\)" "$dbg"
    out=$("$exim" -C "$conf" -be 'plain' 2>&1)
    check_eq "exim $v: a process not using the module prints nothing extra" "$out" "plain"
done

# Exim <= 4.98 loads every module into every process: the module must bring
# no library along (LMDB is opened at the first lookup, network libraries
# only ever in the helper).
# ldd must have run and listed libc: an ldd failure or a missing module
# would otherwise read as "no library".
if ldd_out=$(ldd "$ROOT/build/exim-4.96/mtasts_lookup.so" 2>&1) && grep -q 'libc\.so' <<<"$ldd_out"; then
    deps=$(awk '{print $1}' <<<"$ldd_out" | grep -vE '^(linux-vdso|libc\.so|/lib64/ld-linux)' | tr '\n' ' ')
    check_eq "the module links no library but libc" "$deps" ""
else
    not_ok "the module links no library but libc: ldd gave no list: $ldd_out"
fi
step install_module 4.96
# The loader's trace must be there (libc's init, Exim's answer), or "none
# of those libraries" would also be read from an empty trace.
trace=$(LD_DEBUG=libs "$(exim_prefix 4.96)/bin/exim" -C "$conf" -be plain 2>&1)
if grep -q 'calling init: .*libc\.so' <<<"$trace" && grep -qx plain <<<"$trace"; then
    check_eq "exim 4.96 -be without a lookup initialises no LMDB/curl/ldns" \
        "$(grep -oE 'calling init: [^ ]*' <<<"$trace" | grep -cE 'lmdb|curl|ldns')" 0
else
    not_ok "exim 4.96 -be without a lookup initialises no LMDB/curl/ldns: no loader trace: $(head -c 300 <<<"$trace")"
fi
loaded=$(LD_DEBUG=libs "$(exim_prefix 4.96)/bin/exim" -C "$conf" -be "\${lookup mtasts,$O{x.test}{\$value}{NOPOLICY}}" 2>&1 | grep -oE 'calling init: [^ ]*lmdb[^ ]*' | head -1)
check_grep "exim 4.96: the first lookup loads LMDB" 'liblmdb' "$loaded"
# A queue runner (and the daemon) loads it at start instead, once, before
# it forks a delivery process per message (the module's constructor reads
# the process's arguments); the -be process above without a lookup did not.
trace=$(LD_DEBUG=libs "$(exim_prefix 4.96)/bin/exim" -C "$conf" -qf 2>&1)
if grep -q 'calling init: .*libc\.so' <<<"$trace"; then
    check_grep "exim 4.96: a queue runner (-qf) loads LMDB at start" \
        'calling init: [^ ]*liblmdb' "$trace"
else
    not_ok "exim 4.96: a queue runner (-qf) loads LMDB at start: no loader trace: $(head -c 300 <<<"$trace")"
fi

# The 4.96 module in 4.98 (same magic, other Exim): the guard refuses.
step install_module 4.98 "$ROOT/build/exim-4.96/mtasts_lookup.so"
out=$("$(exim_prefix 4.98)/bin/exim" -C "$conf" -be "\${lookup mtasts,$O{example.com}}" 2>&1)
check_grep "guard: a 4.96 module in 4.98 refuses to answer" \
    'module built for Exim 4.96, running 4.98' "$out"
# -be processes send their log lines to stderr rather than the log files.
check_grep "guard: said through log_write (panic)" 'built for Exim 4.96 but loaded by Exim 4.98' \
    "$out $(cat "$work"/log/paniclog 2>/dev/null)"
step install_module 4.98

# Stock Debian exim4 through ${dlfunc}.
out=$("$STOCK_EXIM" -C "$conf" -be "x\${dlfunc{$ROOT/build/mtasts_dlfunc.so}{mtasts_policy}{[192.0.2.1]}{$O}}" 2>&1)
check_eq "stock exim4: dlfunc called, no policy is empty" "$out" "x"
out=$("$STOCK_EXIM" -C "$conf" -d+local_scan -be "\${dlfunc{$ROOT/build/mtasts_dlfunc.so}{mtasts_policy}{[192.0.2.1]}{$O}}" 2>&1)
check_grep "stock exim4: debug under -d+local_scan" 'IP literal' "$out"
out=$("$STOCK_EXIM" -C "$conf" -be "\${dlfunc{$ROOT/build/mtasts_dlfunc.so}{mtasts_policy}{x.test}{bogus=1}}" 2>&1)
check_grep "stock exim4: bad options defer with the reason" 'unknown option "bogus"' "$out"
out=$("$(exim_prefix 4.96)/bin/exim" -C "$conf" -be "\${lookup mtasts,bogus=1{x.test}}" 2>&1)
check_grep "exim 4.96: bad options defer with the reason" 'lookup of "x.test" gave DEFER: mtasts: unknown option "bogus"' "$out"

tally exim-modules
