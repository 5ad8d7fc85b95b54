#!/usr/bin/env bash
# Issue 4: the store and the Exim interfaces, through real Exims in the test
# world: ${lookup mtasts{...}} on the 4.96, 4.98 and 4.100 builds and
# ${dlfunc} on stock Debian exim4. RFC 8461 5.1 scenarios, concurrency,
# SIGKILL recovery, a helper killed or timed out while a policy is cached,
# a read-only store, a map small enough to evict, and valgrind.
# Set-up steps (world-ctl, mounts, store directories) are checked: a failed
# one is a "not ok" naming it (tests/exim/lib.sh step).
# Run inside the world: tests/world/run-in-world bash tests/exim/test-lookup.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lookup-lib.sh"   # new_store, opts, lookup, field
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
work=$(mktemp -d /var/tmp/mtasts-lookup.XXXXXX); chmod 755 "$work"
trap 'umount -q "$work"/ro-store 2>/dev/null; rm -rf "$work"' EXIT
conf=$(exim_conf "$work")
HELPER=$ROOT/build/mtasts
DLFUNC=$ROOT/build/mtasts_dlfunc.so
VARIANT=     # 4.96 | 4.98 | 4.100 | stock
STORE=

count() { world-ctl https-count "$1"; }

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
    [ "$VARIANT" = stock ] || step install_module "$VARIANT"
    scenarios
done

# The remaining checks use 4.96 (the <=4.98 loader) and stock Debian.
VARIANT=4.96
exim96=$(exim_prefix 4.96)/bin/exim

# Herd: 50 Exim processes at once, cold then warm: one fetch in all, one
# answer, and every process got it (the benchmark's herd, as a check).
HERD=50
herd() {  # herd DOMAIN -> prints distinct answers (the field daily=yes aside),
          # answers with the policy, bytes of stderr, answers with daily=yes
    local d=$1 i
    rm -f "$work"/herd.*
    for i in $(seq 1 $HERD); do
        "$exim96" -C "$conf" -be "\${lookup mtasts,$(opts){$d}{\$value}{NOPOLICY}}" \
            >"$work/herd.$i.out" 2>"$work/herd.$i.err" &
    done
    wait
    sed 's/ daily=yes$//' "$work"/herd.*.out | sort -u | wc -l
    grep -l 'mode=enforce' "$work"/herd.*.out | wc -l
    text_of "$work"/herd.*.err | wc -c
    grep -l ' daily=yes$' "$work"/herd.*.out | wc -l
}
new_store herd
c=$(count chunked.test)
read -r -d '' distinct withpolicy errs daily < <(herd chunked.test; printf '\0')
check_eq "herd cold: $HERD processes, one answer" "$distinct" 1
# the fetcher's answer brings a policy new to the store: daily=yes there
# only (the routers' once-a-day checks run once, not in every process)
check_eq "herd cold: one answer with daily=yes" "$daily" 1
check_eq "herd cold: every process answered the policy" "$withpolicy" "$HERD"
check_eq "herd cold: no error output" "$errs" 0
check_eq "herd cold: exactly one HTTPS fetch" "$(count chunked.test)" "$((c + 1))"
read -r -d '' distinct withpolicy errs daily < <(herd chunked.test; printf '\0')
check_eq "herd warm: one answer, all with the policy, no error, no daily" \
    "$distinct $withpolicy $errs $daily" "1 $HERD 0 0"
check_eq "herd warm: no fetch" "$(count chunked.test)" "$((c + 1))"

# SIGKILL of the fetching helper: the waiting processes recover.
new_store kill
slowopts="fetch_timeout=20000"
start=$SECONDS
"$exim96" -C "$conf" -be "\${lookup mtasts,$(opts $slowopts){slow.test}{\$value}{NOPOLICY}}" >"$work/kill.a" 2>"$work/kill.a.err" &
for _ in $(seq 1 100); do pgrep -f "resolve.*slow.test" >/dev/null && break; sleep 0.05; done
hpid=$(pgrep -f "resolve.*slow.test" | head -1)
# the other two must find the helper's lease taken (else they fetch too)
for _ in $(seq 1 100); do
    [ -n "$(python3 "$ROOT/tests/exim/store-tool.py" lease "$STORE" slow.test 2>/dev/null)" ] && break
    sleep 0.05
done
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


# A helper that dies (SIGKILL) or runs out of time (the adapter's timeout=)
# while an enforce policy is cached: the lookup answers the cached policy,
# the stored record stays, and the next lookups fetch again exactly when the
# record's backoff allows (none recorded: at once; recorded: not before it).
stored() { "$HELPER" cache show --json --store "$STORE" "$1"; }
json_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$2" "$1"; }
# next_lookup_on_schedule KIND N: one more lookup of idchange.test with a
# failing server; a fetch happens iff the stored backoff does not forbid it
next_lookup_on_schedule() {
    local kind=$1 n=$2 rec now until bid id want c r
    rec=$(stored idchange.test)
    now=$(date +%s); until=$(json_field backoff_until "$rec"); bid=$(json_field backoff_id "$rec")
    if [ "$bid" = "idchange${kind}1" ] && [ "$now" -lt "$until" ]; then want=0; else want=1; fi
    c=$(count idchange.test)
    r=$(lookup idchange.test)
    check_eq "$kind with a cache: lookup $n still answers the cached enforce policy" \
        "$(field mode "$r") $(field id "$r")" "enforce idchange1"
    check_eq "$kind with a cache: lookup $n fetches $want time(s) ($([ $want = 0 ] && echo "in the recorded backoff" || echo "no backoff for this id"))" \
        "$(count idchange.test)" "$((c + want))"
}
cached_helper_failure() {
    local kind=$1 r c hpid rec
    new_store "cached-$kind"
    restore_idchange
    r=$(lookup idchange.test)
    check_eq "$kind with a cache: enforce policy cached first" "$(field mode "$r") $(field id "$r")" "enforce idchange1"
    # A new id and a server that trickles: the helper is stuck fetching.
    world-ctl https idchange.test slow >/dev/null
    world-ctl txt idchange.test "v=STSv1; id=idchange${kind}1" >/dev/null
    sleep 1.2
    c=$(count idchange.test)
    case $kind in
        kill)
            lookup idchange.test "fetch_timeout=20000" >"$work/cached.out" &
            hpid=
            for _ in $(seq 1 100); do
                hpid=$(pgrep -f "resolve.*idchange.test" | head -1); [ -n "$hpid" ] && break; sleep 0.05
            done
            # Kill it once its request reached the server (mid-fetch).
            for _ in $(seq 1 100); do [ "$(count idchange.test)" -gt "$c" ] && break; sleep 0.05; done
            if [ -n "$hpid" ]; then kill -9 "$hpid"; else not_ok "kill with a cache: no helper process found"; fi
            wait ;;
        timeout)
            lookup idchange.test "fetch_timeout=20000,timeout=2" >"$work/cached.out" ;;
    esac
    r=$(cat "$work/cached.out")
    check_eq "$kind with a cache: the lookup answers the cached enforce policy" \
        "$(field mode "$r") $(field id "$r")" "enforce idchange1"
    check_eq "$kind with a cache: the helper had started the fetch" "$(count idchange.test)" "$((c + 1))"
    [ "$kind" = kill ] && check_grep "kill with a cache: logged as kept" \
        "idchange.test: .*(exited|signal|killed).*\(cached policy kept\)" "$(cat "$work/err")"
    rec=$(stored idchange.test)
    check_eq "$kind with a cache: the stored record is still the enforce policy" \
        "$(json_field mode "$rec") $(json_field id "$rec")" "enforce idchange1"
    # From now on fetches fail at once (HTTP 500): the first one is allowed
    # unless the failed attempt recorded a backoff, the next one is not.
    world-ctl https idchange.test status 500 >/dev/null
    sleep 1.2
    next_lookup_on_schedule "$kind" 2
    sleep 1.2
    next_lookup_on_schedule "$kind" 3
    restore_idchange
}
cached_helper_failure kill
cached_helper_failure timeout

# Read-only store (a read-only bind mount: root ignores modes, not ro
# mounts). A cached policy is answered from the store: zero HTTPS requests
# even though the TXT id changed and the server fails (recheck=3600: the
# TXT check is not due), so neither a fetch nor "no policy" can stand in.
new_store ro
restore_idchange
check_eq "read-only store: idchange.test cached first" "$(field id "$(lookup idchange.test recheck=3600)")" idchange1
step mkdir -p "$work/ro-store"
step mount --bind "$STORE" "$work/ro-store" && step mount -o remount,bind,ro "$work/ro-store"
STORE=$work/ro-store
world-ctl txt idchange.test 'v=STSv1; id=idchangero1' >/dev/null
world-ctl https idchange.test status 500 >/dev/null
c=$(count idchange.test)
# One Exim process, three lookups: the read-only store is said once.
r=$("$exim96" -C "$conf" -be "\${lookup mtasts,$(opts recheck=3600){idchange.test}{\$value}{NOPOLICY}}" \
    "\${lookup mtasts,$(opts recheck=3600){idchange.test}{\$value}{NOPOLICY}}" \
    "\${lookup mtasts,$(opts){none.test}{\$value}{NOPOLICY}}" 2>"$work/err")
check_eq "read-only store: cached policy answered (twice)" \
    "$(sed -n 1,2p <<<"$r" | while read -r l; do field id "$l"; done | tr '\n' ' ')" "idchange1 idchange1 "
check_eq "read-only store: cached policy answered with no HTTPS request" "$(count idchange.test)" "$c"
check_eq "read-only store: uncached domain answered from the network" "$(field mode "$(sed -n 3p <<<"$r")")" none
check_eq "read-only store: said once per process" "$(grep -c "store .* is read-only" "$work/err")" 1
# ... and by the module itself: the helper (which could also read the
# store) is not run for it.
dbg=$("$exim96" -C "$conf" -d+lookup -be "\${lookup mtasts,$(opts recheck=3600){idchange.test}{\$value}{NOPOLICY}}" 2>&1)
check_grep "read-only store: the module answered from the store" 'mtasts: idchange.test: answered from the store' "$dbg"
check_eq "read-only store: the helper was not run" "$(grep -c 'mtasts: running .* resolve' <<<"$dbg")" 0
restore_idchange
step umount "$work/ro-store"
# A store directory that does not exist: answers from the network.
STORE=$work/does-not-exist
check_eq "missing store dir: answered from the network" "$(field mode "$(lookup testing.test)")" testing

# A map that fills: map_max=128 KiB holds some 300 records. A live enforce
# policy first, then 700 domains without a policy, looked up in reverse
# name order (the most recently used are the alphabetically first). The
# map must evict, every lookup must still answer, and eviction must follow
# use: recently used records stay, long-unused ones go, and records without
# a policy go before a live enforce policy.
new_store tiny
MAP="map_max=128"
N=700
check_eq "tiny map: enforce.test cached first" "$(field id "$(lookup enforce.test "$MAP")")" enforce1
fails=0 first_fail=
for i in $(seq $N -1 1); do
    d=$(printf 'n%04d.nopolicy.test' "$i")
    r=$(lookup "$d" "$MAP")
    if [ "$r" != NOPOLICY ] || [ -s "$work/err" ]; then
        fails=$((fails + 1)); : "${first_fail:=$d: $r $(head -c 300 "$work/err")}"
    fi
done
check_eq "tiny map: every lookup answered (no policy) without error" "$fails${first_fail:+ (first: $first_fail)}" 0
kept=$("$HELPER" cache list --store "$STORE" | awk '{print $1}')
n_kept=$(grep -c . <<<"$kept")
if [ "$n_kept" -gt 10 ] && [ "$n_kept" -lt $((N + 1)) ]; then
    ok "tiny map: records were evicted ($n_kept of $((N + 1)) kept)"
else
    not_ok "tiny map: no eviction or an empty store ($n_kept of $((N + 1)) kept)"
fi
check_grep "tiny map: the live enforce policy survived" '^enforce\.test$' "$kept"
lost_recent=$(for i in $(seq 1 100); do printf 'n%04d.nopolicy.test\n' "$i"; done | grep -vxF -f <(echo "$kept") | wc -l)
check_eq "tiny map: the 100 most recently used records survived" "$lost_recent" 0
lost_old=$(for i in $(seq $((N - 99)) $N); do printf 'n%04d.nopolicy.test\n' "$i"; done | grep -vxF -f <(echo "$kept") | wc -l)
if [ "$lost_old" -gt 0 ]; then ok "tiny map: long-unused records were evicted ($lost_old of the 100 oldest)"
else not_ok "tiny map: none of the 100 least recently used records was evicted"; fi
c=$(count enforce.test)
check_eq "tiny map: enforce.test still answered" "$(field id "$(lookup enforce.test "$MAP")")" enforce1
check_eq "tiny map: enforce.test answered from the store" "$(count enforce.test)" "$c"

# Valgrind: no leak that grows with the number of lookups. A run whose
# output cannot be read is a failure, not a zero. The lookups are answered
# from the store (recheck=3600) and differ in an option that does not
# matter here (wait=), so that Exim's own lookup cache cannot answer them:
# the module really runs N times.
new_store vg
lookup enforce.test recheck=3600 >/dev/null
c=$(count enforce.test)
vg() {  # vg N: definitely-lost bytes for N warm lookups in one process, or "unreadable: ..."
    local e=() i out log
    # One -be argument per lookup (Exim limits the length of each argument).
    for i in $(seq 1 "$1"); do e+=("\${lookup mtasts,$(opts "recheck=3600,wait=$i"){enforce.test}{\$value}{NOPOLICY}}"); done
    log=$work/vg.$1
    out=$(valgrind --leak-check=full --show-leak-kinds=definite --log-file="$log" \
        "$exim96" -C "$conf" -be "${e[@]}" 2>"$log.err")
    if [ "$(grep -o 'mode=enforce' <<<"$out" | wc -l)" != "$1" ]; then
        echo "unreadable: $1 lookups did not all answer under valgrind: $(head -c 300 <<<"$out") $(head -c 300 "$log.err")"; return
    fi
    if grep -q 'All heap blocks were freed' "$log"; then echo 0; return; fi
    i=$(sed -nE 's/.*definitely lost: ([0-9,]+) bytes.*/\1/p' "$log" | tr -d , | head -1)
    echo "${i:-unreadable: no leak summary in the valgrind output}"
}
one=$(vg 1); many=$(vg 20)
check_grep "valgrind: 1 lookup measured" '^[0-9]+$' "$one"
check_grep "valgrind: 20 lookups measured" '^[0-9]+$' "$many"
check_eq "valgrind: definitely lost, 1 vs 20 lookups" "$many" "$one"
check_eq "valgrind: the lookups were answered from the store" "$(count enforce.test)" "$c"

tally exim-lookup
