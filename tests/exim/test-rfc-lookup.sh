#!/usr/bin/env bash
# Issue 11, through real Exims in the test world: an internationalised
# recipient domain ($domain in UTF-8, as with SMTPUTF8) gets its policy; an
# unconvertible one is logged; a failed refresh of a kept policy and a
# policy that became invalid are logged once per id / backoff period, a
# policy in mode none is not. ${lookup mtasts} on 4.96, 4.98, 4.100 and
# ${dlfunc} on stock Debian exim4 (-be writes the main log to stderr).
# Run inside the world: tests/world/run-in-world bash tests/exim/test-rfc-lookup.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lookup-lib.sh"   # new_store, opts, lookup, field
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
work=$(mktemp -d /var/tmp/mtasts-rfc.XXXXXX); chmod 755 "$work"
mounted=()
trap 'for m in "${mounted[@]}"; do umount -q "$m"; done; rm -rf "$work"' EXIT
conf=$(exim_conf "$work")
HELPER=$ROOT/build/mtasts
DLFUNC=$ROOT/build/mtasts_dlfunc.so
VARIANT=
STORE=
FIX=$ROOT/tests/world/fixtures/domains

log_lines() { grep -c -- "$1" "$work/err"; }
ctl() { world-ctl "$@" >/dev/null || not_ok "world-ctl $*"; }

restore_idchange() {
    ctl txt idchange.test 'v=STSv1; id=idchange1'
    ctl policy idchange.test "$FIX/idchange.test/policy"
    ctl https idchange.test ok
}

idn() {
    local r c
    new_store "idn-$VARIANT"
    r=$(lookup 'bücher.test')
    check_eq "$VARIANT: UTF-8 domain: its policy (mode id)" "$(field mode "$r") $(field id "$r")" "enforce idn1"
    check_eq "$VARIANT: UTF-8 domain: mx patterns are A-labels" "$(field mx "$r")" '"mx.xn--bcher-kva.test"'
    check_eq "$VARIANT: UTF-8 domain: nothing logged" "$(cat "$work/err")" ""
    c=$(world-ctl https-count xn--bcher-kva.test)
    r=$(lookup 'BÜCHER.Test.')
    check_eq "$VARIANT: capitals and trailing dot: same policy" "$(field id "$r")" idn1
    check_eq "$VARIANT: ... from the store (A-label key), no fetch" "$(world-ctl https-count xn--bcher-kva.test)" "$c"
    check_eq "$VARIANT: the A-label domain: same policy" "$(field id "$(lookup xn--bcher-kva.test)")" idn1
    r=$(lookup $'b\xffcher.test')
    check_eq "$VARIANT: unconvertible UTF-8: no policy" "$r" NOPOLICY
    check_grep "$VARIANT: unconvertible UTF-8: logged, escaped" \
        'mtasts: IDN "b\\xffcher.test" cannot be converted to A-labels: .*no policy' "$(cat "$work/err")"
}

# The test Exims' module directory is shared by every checkout on this
# machine: this namespace gets a private copy holding this build's module.
private_module() {
    local dir; dir=$(exim_prefix "$1")/lookups
    mkdir -p "$work/lookups-$1" && cp -a "$dir/." "$work/lookups-$1/" \
        && install -m 0644 "$ROOT/build/exim-$1/mtasts_lookup.so" "$work/lookups-$1/mtasts_lookup.so" \
        && mount --bind "$work/lookups-$1" "$dir" && mounted+=("$dir") \
        || not_ok "$1: private module directory"
}
for VARIANT in "${EXIM_VERSIONS[@]}" stock; do
    [ "$VARIANT" = stock ] || private_module "$VARIANT"
    idn
done

# Logging (4.96 and stock): a failed refresh of a kept policy, with the
# helper's reason, once per id and backoff period.
logging() {
    local r
    new_store "log-$VARIANT"
    restore_idchange
    check_eq "$VARIANT: idchange.test cached" "$(field id "$(lookup idchange.test)")" idchange1
    ctl https idchange.test status 500
    ctl txt idchange.test 'v=STSv1; id=idchange2'
    sleep 1.2
    r=$(lookup idchange.test)
    check_eq "$VARIANT: failed refetch: policy kept" "$(field id "$r")" idchange1
    check_grep "$VARIANT: failed refetch: logged with the reason" \
        'mtasts: idchange\.test: policy fetch for id idchange2 failed: .*HTTP 500 \(cached policy kept\)' \
        "$(cat "$work/err")"
    check_eq "$VARIANT: ... one line" "$(log_lines 'mtasts: idchange.test')" 1
    sleep 1.2
    r=$(lookup idchange.test)
    check_eq "$VARIANT: within the backoff: kept" "$(field id "$r")" idchange1
    check_eq "$VARIANT: within the backoff: not logged again" "$(cat "$work/err")" ""

    # A policy that became invalid (new id, broken body).
    ctl https idchange.test ok
    printf 'version: STSv1\nmode: enforced\nmx: mx.idchange.test\nmax_age: 86400\n' \
        | world-ctl policy idchange.test - >/dev/null
    ctl txt idchange.test 'v=STSv1; id=idchange3'
    sleep 1.2
    r=$(lookup idchange.test)
    check_eq "$VARIANT: invalid new policy: old one kept" "$(field id "$r")" idchange1
    check_grep "$VARIANT: invalid new policy: logged with the parse error" \
        'mtasts: idchange\.test: policy fetch for id idchange3 failed: .*mode: not enforce, testing or none.*\(cached policy kept\)' \
        "$(cat "$work/err")"
    restore_idchange

    # First contact with a broken policy: logged as well (no policy).
    lookup http404.test >/dev/null
    check_grep "$VARIANT: first-contact fetch failure logged" \
        'mtasts: http404\.test: policy fetch for id http4041 failed: .*HTTP 404 \(no policy\)' "$(cat "$work/err")"

    # Mode none (8.3 removal): the TXT goes away; nothing to complain about.
    check_eq "$VARIANT: none.test cached" "$(field mode "$(lookup none.test)")" none
    ctl txt none.test --delete
    sleep 1.2
    r=$(lookup none.test)
    check_eq "$VARIANT: mode none, TXT removed: kept, nothing logged" "$(field mode "$r") $(cat "$work/err")" "none "
    ctl txt none.test 'v=STSv1; id=none1'
}
for VARIANT in 4.96 stock; do
    logging
done

tally exim-rfc-lookup
