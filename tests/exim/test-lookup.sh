#!/usr/bin/env bash
# Issue 4: the store and the Exim interfaces, through real Exims in the test
# world: ${lookup mtasts{...}} on the 4.96, 4.98 and 4.100 builds and
# ${dlfunc} on stock Debian exim4. RFC 8461 5.1 scenarios, concurrency,
# SIGKILL recovery, unwritable store, a tiny map, and valgrind.
# Run inside the world: tests/world/run-in-world bash tests/exim/test-lookup.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
work=$(mktemp -d /var/tmp/mtasts-lookup.XXXXXX); chmod 755 "$work"
trap 'umount -q "$work"/ro-store 2>/dev/null; rm -rf "$work"' EXIT
conf=$(exim_conf "$work")
HELPER=$ROOT/build/mtasts
DLFUNC=$ROOT/build/mtasts_dlfunc.so
VARIANT=     # 4.96 | 4.98 | 4.100 | stock
STORE=

new_store() { STORE=$work/store-$1; mkdir -p "$STORE"; chown Debian-exim:Debian-exim "$STORE"; chmod 770 "$STORE"; }
opts() { echo "store=$STORE,helper=$HELPER,recheck=1,wait=15${1:+,$1}"; }

# lookup DOMAIN [EXTRA_OPTS]: the answer, or NOPOLICY; stderr to $work/err
lookup() {
    local d=$1 o; o=$(opts "${2:-}")
    if [ "$VARIANT" = stock ]; then
        local r; r=$("$STOCK_EXIM" -C "$conf" -be "x\${dlfunc{$DLFUNC}{mtasts_policy}{$d}{$o}}" 2>"$work/err")
        r=${r#x}; echo "${r:-NOPOLICY}"
    else
        "$(exim_prefix "$VARIANT")/bin/exim" -C "$conf" \
            -be "\${lookup mtasts,$o{$d}{\$value}{NOPOLICY}}" 2>"$work/err"
    fi
}
count() { world-ctl https-count "$1"; }
field() { sed -nE "s/.*(^| )$1=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$2"; }

restore_idchange() {
    world-ctl txt idchange.test 'v=STSv1; id=idchange1' >/dev/null
    world-ctl policy idchange.test "$ROOT/tests/world/fixtures/domains/idchange.test/policy" >/dev/null
    world-ctl https idchange.test ok >/dev/null
}

scenarios() {
    local r c
    new_store "$VARIANT"
    r=$(lookup enforce.test)
    check_eq "$VARIANT: enforce.test mode" "$(field mode "$r")" enforce
    check_eq "$VARIANT: enforce.test mx" "$(field mx "$r")" '"mx1.enforce.test : *.mx.enforce.test"'
    check_eq "$VARIANT: enforce.test mx_regex" "$(field mx_regex "$r")" \
        '"^mx1[.]enforce[.]test$ : ^[^.]+[.]mx[.]enforce[.]test$"'
    check_eq "$VARIANT: enforce.test id" "$(field id "$r")" enforce1
    check_eq "$VARIANT: nothing on stderr" "$(cat "$work/err")" ""
    check_eq "$VARIANT: testing.test mode" "$(field mode "$(lookup testing.test)")" testing
    check_eq "$VARIANT: none.test mode" "$(field mode "$(lookup none.test)")" none
    check_eq "$VARIANT: nopolicy.test has no policy" "$(lookup nopolicy.test)" NOPOLICY
    check_eq "$VARIANT: http404.test (fetch fails) has no policy" "$(lookup http404.test)" NOPOLICY
    check_eq "$VARIANT: an IP literal has no policy" "$(lookup '[127.0.0.1]')" NOPOLICY

    # Warm: answered from the store, no HTTPS request.
    c=$(count enforce.test)
    r=$(lookup enforce.test)
    check_eq "$VARIANT: warm lookup same answer" "$(field id "$r")" enforce1
    check_eq "$VARIANT: warm lookup made no fetch" "$(count enforce.test)" "$c"

    # 5.1: new id -> refetch and the new policy applies.
    restore_idchange
    check_eq "$VARIANT: idchange first id" "$(field id "$(lookup idchange.test)")" idchange1
    printf 'version: STSv1\nmode: enforce\nmx: mx2.idchange.test\nmax_age: 86400\n' \
        | world-ctl policy idchange.test - >/dev/null
    world-ctl txt idchange.test 'v=STSv1; id=idchange2' >/dev/null
    sleep 1.2
    r=$(lookup idchange.test)
    check_eq "$VARIANT: id change -> refetch" "$(field id "$r")" idchange2
    check_eq "$VARIANT: id change -> new mx" "$(field mx "$r")" '"mx2.idchange.test"'

    # HTTPS down with a cache and a new id: the cached policy stays (never downgrade).
    world-ctl https idchange.test status 500 >/dev/null
    world-ctl txt idchange.test 'v=STSv1; id=idchange3' >/dev/null
    sleep 1.2
    c=$(count idchange.test)
    r=$(lookup idchange.test)
    check_eq "$VARIANT: HTTPS down with a cache -> still enforce" "$(field mode "$r") $(field id "$r")" "enforce idchange2"
    check_eq "$VARIANT: the failed refetch was tried once" "$(count idchange.test)" "$((c + 1))"
    # 3.3 backoff: the failed id is not refetched for every lookup.
    sleep 1.2
    lookup idchange.test >/dev/null
    check_eq "$VARIANT: backoff: no refetch of the failed id" "$(count idchange.test)" "$((c + 1))"

    # TXT removed while the cache is unexpired -> still enforce.
    world-ctl txt enforce.test --delete >/dev/null
    sleep 1.2
    r=$(lookup enforce.test)
    check_eq "$VARIANT: TXT removed, cache unexpired -> still enforce" "$(field mode "$r") $(field id "$r")" "enforce enforce1"
    world-ctl txt enforce.test 'v=STSv1; id=enforce1' >/dev/null

    # Expiry: max_age 2, then the TXT goes: no policy once expired.
    printf 'version: STSv1\nmode: enforce\nmx: mx.idchange.test\nmax_age: 2\n' \
        | world-ctl policy idchange.test - >/dev/null
    world-ctl https idchange.test ok >/dev/null
    world-ctl txt idchange.test 'v=STSv1; id=short1' >/dev/null
    sleep 1.2
    # max_age_floor=0: honour max_age 2 literally (the default floor is 1 h).
    check_eq "$VARIANT: short max_age policy fetched" "$(field id "$(lookup idchange.test max_age_floor=0)")" short1
    world-ctl txt idchange.test --delete >/dev/null
    # Times are whole seconds and a policy is good through fetched_at +
    # max_age: wait past max_age + 1.
    sleep 3.5
    check_eq "$VARIANT: expired and TXT gone -> no policy" "$(lookup idchange.test)" NOPOLICY
    restore_idchange
}

for VARIANT in "${EXIM_VERSIONS[@]}" stock; do
    [ "$VARIANT" = stock ] || install_module "$VARIANT"
    scenarios
done

# The remaining checks use 4.96 (the <=4.98 loader) and stock Debian.
VARIANT=4.96
exim96=$(exim_prefix 4.96)/bin/exim

# Herd: 32 Exim processes at once, cold then warm: one fetch in all.
herd() {  # herd DOMAIN -> prints distinct answers, count of non-empty stderr
    local d=$1 i
    for i in $(seq 1 32); do
        "$exim96" -C "$conf" -be "\${lookup mtasts,$(opts){$d}{\$value}{NOPOLICY}}" \
            >"$work/herd.$i.out" 2>"$work/herd.$i.err" &
    done
    wait
    sort -u "$work"/herd.*.out | wc -l
    cat "$work"/herd.*.err | wc -c
}
new_store herd
c=$(count chunked.test)
read -r -d '' distinct errs < <(herd chunked.test; printf '\0')
check_eq "herd cold: 32 processes, one answer" "$distinct" 1
check_eq "herd cold: no error output" "$errs" 0
check_grep "herd cold: the answer is the policy" 'mode=enforce' "$(cat "$work/herd.1.out")"
check_eq "herd cold: exactly one HTTPS fetch" "$(count chunked.test)" "$((c + 1))"
read -r -d '' distinct errs < <(herd chunked.test; printf '\0')
check_eq "herd warm: one answer, no error" "$distinct $errs" "1 0"
check_eq "herd warm: no fetch" "$(count chunked.test)" "$((c + 1))"

# SIGKILL of the fetching helper: the waiting processes recover.
new_store kill
slowopts="fetch_timeout=20000"
start=$SECONDS
"$exim96" -C "$conf" -be "\${lookup mtasts,$(opts $slowopts){slow.test}{\$value}{NOPOLICY}}" >"$work/kill.a" 2>"$work/kill.a.err" &
for _ in $(seq 1 100); do pgrep -f "resolve.*slow.test" >/dev/null && break; sleep 0.05; done
hpid=$(pgrep -f "resolve.*slow.test" | head -1)
"$exim96" -C "$conf" -be "\${lookup mtasts,$(opts $slowopts){slow.test}{\$value}{NOPOLICY}}" >"$work/kill.b" 2>/dev/null &
"$exim96" -C "$conf" -be "\${lookup mtasts,$(opts $slowopts){slow.test}{\$value}{NOPOLICY}}" >"$work/kill.c" 2>/dev/null &
sleep 1
if [ -n "$hpid" ]; then
    # Routers run as root; the helper does its network work as the store's owner.
    check_eq "helper run by root Exim works as the store owner" \
        "$(awk '/^Uid:/ {print $2}' "/proc/$hpid/status")" "$(id -u Debian-exim)"
    kill -9 "$hpid"; ok "SIGKILL: the fetching helper was found (pid $hpid)"
else
    not_ok "SIGKILL: no helper process found"
fi
wait
took=$((SECONDS - start))
check_eq "SIGKILL: all three lookups answered (no policy)" "$(cat "$work"/kill.a "$work"/kill.b "$work"/kill.c | sort -u)" NOPOLICY
check_grep "SIGKILL: the killed helper is logged (-be logs to stderr)" "exited 137" "$(cat "$work/kill.a.err")"
if [ "$took" -lt 10 ]; then ok "SIGKILL: waiters recovered in ${took}s (< wait=15s)"; else not_ok "SIGKILL: took ${took}s"; fi
t0=$SECONDS
lookup slow.test "fetch_timeout=1000" >/dev/null
if [ $((SECONDS - t0)) -lt 8 ]; then ok "SIGKILL: the dead lease does not block a new fetch"; else not_ok "SIGKILL: new fetch blocked $((SECONDS - t0))s"; fi

# Unwritable store: a read-only bind mount (root ignores modes, not ro mounts).
new_store ro
lookup enforce.test >/dev/null
mkdir -p "$work/ro-store"; mount --bind "$STORE" "$work/ro-store"; mount -o remount,bind,ro "$work/ro-store"
STORE=$work/ro-store
check_eq "read-only store: cached policy answered" "$(field id "$(lookup enforce.test)")" enforce1
check_eq "read-only store: uncached domain answered from the network" "$(field mode "$(lookup none.test)")" none
check_grep "read-only store: said once in the log" "store .* is read-only" "$(cat "$work/err")"
umount "$work/ro-store"
# A store directory that does not exist: answers from the network.
STORE=$work/does-not-exist
check_eq "missing store dir: answered from the network" "$(field mode "$(lookup testing.test)")" testing

# A tiny map (64 KiB ceiling) that fills: every lookup still answers.
new_store tiny
fails=0
for d in $(ls "$ROOT/tests/world/fixtures/domains"); do
    r=$(lookup "$d" "map_max=64")
    [ -s "$work/err" ] && fails=$((fails + 1))
done
check_eq "tiny map: every domain looked up without error" "$fails" 0
check_eq "tiny map: enforce.test still right" "$(field id "$(lookup enforce.test map_max=64)")" enforce1

# Valgrind: no leak that grows with the number of lookups.
new_store vg
lookup enforce.test >/dev/null
vg() {  # vg N: definitely-lost bytes for N warm lookups in one process
    local e="" i
    for i in $(seq 1 "$1"); do e="$e\${lookup mtasts,$(opts){enforce.test}{\$value}{NOPOLICY}}"; done
    valgrind --leak-check=full --show-leak-kinds=definite "$exim96" -C "$conf" -be "$e" 2>&1 >/dev/null \
        | sed -nE 's/.*definitely lost: ([0-9,]+) bytes.*/\1/p' | tr -d , | head -1
}
one=$(vg 1); many=$(vg 20)
check_eq "valgrind: definitely lost, 1 vs 20 lookups" "${many:-0}" "${one:-0}"

tally exim-lookup
