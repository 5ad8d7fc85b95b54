#!/usr/bin/env bash
# Issue 10, items 4-6: the network helper as a root Exim runs it.
#  - it never works as root: whatever the store directory looks like, it
#    becomes the configured user (Uid/Gid/Groups in /proc while it runs),
#    and refuses to run when it cannot;
#  - it inherits no descriptor but its pipe (Exim holds a root-only lsearch
#    file open while it spawns the helper);
#  - one deadline below the adapter's timeout: a domain whose TLSA answers
#    never come is stored as soon as its policy is fetched, answered within
#    the timeout, and not looked up again; a timed-out DANE probe is
#    dane=unknown, never a stale "all".
# Run inside the world: tests/world/run-in-world bash tests/exim/test-helper-safety.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
work=$(mktemp -d /var/tmp/mtasts-helper.XXXXXX) && chmod 755 "$work" || exit 2
modules=$(exim_prefix 4.96)/lookups
trap 'umount -q "$modules"; rm -rf "$work"' EXIT
conf=$(exim_conf "$work")
HELPER=$ROOT/build/mtasts
exim96=$(exim_prefix 4.96)/bin/exim
# This build's module, in a module directory of this world's own (a bind
# mount in its mount namespace): other test runs install theirs meanwhile.
mkdir "$work/lookups" && cp -a "$modules/." "$work/lookups/" &&
    install -m 0644 "$ROOT/build/exim-4.96/mtasts_lookup.so" "$work/lookups/" &&
    mount --bind "$work/lookups" "$modules" || { echo "helper-safety: 0 passed, 1 failed"; exit 1; }
EXIM_UID=$(id -u Debian-exim) EXIM_GID=$(id -g Debian-exim)
field() { sed -nE "s/.*(^| )$1=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$2"; }
now_ms() { date +%s%3N; }

# A root-only file that the lookups below keep open through lsearch.
secret=$work/secret
printf 'k: v\n' >"$secret" && chmod 600 "$secret" || exit 2

# lookup_bg STORE OPTS DOMAIN OUT: a root Exim lookup in the background
# (the lsearch of $secret first, so Exim holds it open when it spawns).
lookup_bg() {
    "$exim96" -C "$conf" -be \
        "\${lookup{k}lsearch{$secret}}:\${lookup mtasts,store=$1,helper=$HELPER,$2{$3}{\$value}{NOPOLICY}}" \
        >"$4" 2>"$4.err" &
}
# helper_pid PATTERN: the pid of the running helper whose command line
# matches (waits up to 5 s for it), or nothing
helper_pid() {
    local i p
    for i in $(seq 1 100); do
        p=$(pgrep -n -f "$1") && { echo "$p"; return; }
        sleep 0.05
    done
}
# ids PID: "uid-list / gid-list / groups" from /proc/PID/status
ids() {
    awk '/^Uid:/ {u=$2" "$3" "$4" "$5} /^Gid:/ {g=$2" "$3" "$4" "$5}
         /^Groups:/ {$1=""; gr=$0} END {print u" / "g" /"gr}' "/proc/$1/status"
}
# check_ids_of NAME PATTERN: the running process whose command line matches
# PATTERN works as Debian-exim only
check_ids_of() {
    local h; h=$(helper_pid "$2")
    if [ -z "$h" ]; then not_ok "$1: no process found"; return; fi
    sleep 0.3
    check_eq "$1 runs as Debian-exim only" "$(ids "$h")" "$WANT_IDS"
}
WANT_IDS="$EXIM_UID $EXIM_UID $EXIM_UID $EXIM_UID / $EXIM_GID $EXIM_GID $EXIM_GID $EXIM_GID /"

# ---------------------------------------------------------------- item 4
# Each store directory state, through a root Exim and run directly by root.
# slow.test sends its policy one byte every 2 s: the helper stays in the
# fetch long enough to be looked at.
# store_dir STATE DIR: make DIR a store directory in that state
store_dir() {
    case $1 in
        normal) mkdir "$2" && chown Debian-exim:Debian-exim "$2" && chmod 770 "$2" ;;
        missing) true ;;
        root) mkdir "$2" && chmod 755 "$2" ;;
        link) mkdir "$2.target" && chown Debian-exim:Debian-exim "$2.target" && ln -s "$2.target" "$2" ;;
        link-root) mkdir "$2.target" && ln -s "$2.target" "$2" ;;
    esac || { echo "cannot make a $1 store"; exit 2; }
}
for state in normal missing root link link-root; do
    S=$work/store-$state
    store_dir "$state" "$S"
    lookup_bg "$S" "fetch_timeout=3000" slow.test "$work/drop-$state"
    h=$(helper_pid "mtasts resolve --exim .*slow\.test")
    if [ -n "$h" ]; then
        sleep 0.3   # past the start (the switch happens before any work)
        check_eq "store $state: helper of a root Exim runs as Debian-exim only" "$(ids "$h")" "$WANT_IDS"
    else
        not_ok "store $state: no helper process found under the root Exim"
    fi
    wait
    check_eq "store $state: the Exim lookup answered (slow.test: no policy)" \
        "$(cat "$work/drop-$state")" "v:NOPOLICY"

    # A store of its own: slow.test is in backoff in the one above.
    S=$work/store-$state-direct
    store_dir "$state" "$S"
    "$HELPER" resolve --options "store=$S fetch_timeout=3000" slow.test >"$work/direct-$state" 2>&1 &
    check_ids_of "store $state: helper run by root" "mtasts resolve --options store=$S "
    wait
done
# query runs the same network code for an administrator.
store_dir root "$work/store-query"
"$HELPER" query --store "$work/store-query" --options "fetch_timeout=3000" slow.test >/dev/null 2>&1 &
check_ids_of "query run by root" "mtasts query --store $work/store-query"
wait
# The store the helper created after the switch belongs to Debian-exim.
check_eq "the helper created the store files as Debian-exim" \
    "$(stat -c %U "$work/store-normal/data.mdb" "$work/store-normal/lock.mdb" | sort -u)" Debian-exim

# No way to drop: refuse, do no network work, say why; the lookup answers
# "no policy" and logs the reason once.
for user in root no-such-user-mtasts; do
    c=$(world-ctl https-count enforce.test)
    "$HELPER" resolve --options "store=$work/store-normal user=$user" enforce.test >"$work/refuse.out" 2>"$work/refuse.err"
    rc=$?
    check_eq "user=$user: the helper refuses (exit 3)" "$rc" 3
    check_grep "user=$user: it says why on stdout, for the adapter" \
        "^status: trouble$" "$(cat "$work/refuse.out")"
    check_grep "user=$user: and on stderr" "cannot drop privileges" "$(cat "$work/refuse.err")"
    lookup_bg "$work/store-normal" "user=$user" enforce.test "$work/refuse-exim"
    wait
    check_eq "user=$user: the root Exim lookup answers no policy" "$(cat "$work/refuse-exim")" "v:NOPOLICY"
    check_eq "user=$user: one log line says why" \
        "$(grep -c "enforce.test: helper .* without an answer: cannot drop privileges" "$work/refuse-exim.err")" 1
    check_eq "user=$user: no HTTPS request was made" "$(world-ctl https-count enforce.test)" "$c"
done

# ---------------------------------------------------------------- item 5
# What the spawned process holds: a stand-in helper becomes "sleep", which
# opens nothing, and its descriptors are read from outside.
cat >"$work/fd-helper" <<EOF
#!/bin/sh
exec sleep 2.41
EOF
chmod 755 "$work/fd-helper" || exit 2
"$exim96" -C "$conf" -be \
    "\${lookup{k}lsearch{$secret}}:\${lookup mtasts,store=$work/store-normal,helper=$work/fd-helper{fd.test}{\$value}{NOPOLICY}}" \
    >"$work/fd.out" 2>/dev/null &
h=$(helper_pid "^sleep 2\.41\$")
if [ -n "$h" ]; then
    sleep 0.3   # past sleep's own start-up (locale files)
    check_eq "the spawned helper holds 0, 1, 2 and its pipe, nothing else" \
        "$(ls -l "/proc/$h/fd" | awk 'NR > 1 {print $(NF-2), $NF}' | sort -n |
           sed -E 's/pipe:\[[0-9]+\]/pipe/' | tr '\n' ' ')" "0 /dev/null 1 pipe 2 /dev/null "
else
    not_ok "fd: no stand-in helper found"
fi
wait
check_eq "Exim held the root-only lsearch file open" "$(cat "$work/fd.out")" "v:NOPOLICY"
# And the real helper, while it works: nothing of Exim's.
store_dir normal "$work/store-fd"
lookup_bg "$work/store-fd" "fetch_timeout=3000" slow.test "$work/fd-real"
h=$(helper_pid "mtasts resolve --exim .*slow\.test")
if [ -n "$h" ]; then
    sleep 0.3
    fds=$(ls -l "/proc/$h/fd" | awk 'NR > 1 {print $(NF-2), $NF}' | sort -n)
    check_eq "the real helper has no descriptor of Exim's files" \
        "$(grep -cE " ($secret|$work/(spool|log|configure).*)\$" <<<"$fds")" 0
    check_eq "the real helper's 0, 1, 2" "$(head -3 <<<"$fds" | sed -E 's/pipe:\[[0-9]+\]/pipe/' | tr '\n' ' ')" \
        "0 /dev/null 1 pipe 2 /dev/null "
else
    not_ok "fd: no helper process found"
fi
wait

# ---------------------------------------------------------------- item 6
# slow-dane.test: TXT, policy and A records answer at once; its TLSA name
# is delegated to the silent server, so the DANE probe never gets an answer
# (dns_timeout 5000 x 2 tries = 10 s per query). timeout=8: the helper's
# budget is 8 - 8/5 = 6.4 s.
S=$work/store-dane
mkdir "$S" && chown Debian-exim:Debian-exim "$S" || exit 2
cat >"$work/counting-helper" <<EOF
#!/bin/sh
echo "\$*" >>"$work/spawns"
exec "$HELPER" "\$@"
EOF
chmod 755 "$work/counting-helper" && : >"$work/spawns" || exit 2
dlookup() {  # dlookup DOMAIN OUT [OPTS]: timed root Exim lookup; ms in OUT.ms
    local t0; t0=$(now_ms)
    "$exim96" -C "$conf" -be \
        "\${lookup mtasts,store=$S,helper=$work/counting-helper,timeout=8,wait=8${3:+,$3}{$1}{\$value}{NOPOLICY}}" \
        >"$2" 2>"$2.err"
    echo $(( $(now_ms) - t0 )) >"$2.ms"
}
# Three deliveries at once: one helper; the others wait for its result.
for i in 1 2 3; do dlookup slow-dane.test "$work/sd.$i" & done
wait
for i in 1 2 3; do
    r=$(cat "$work/sd.$i")
    check_eq "slow DANE, lookup $i: the policy applies" "$(field mode "$r") $(field id "$r")" "enforce slowdane1"
    check_eq "slow DANE, lookup $i: dane unknown" "$(field dane "$r")" unknown
    ms=$(cat "$work/sd.$i.ms")
    if [ "$ms" -le 8000 ]; then ok "slow DANE, lookup $i: answered in $ms ms (<= timeout 8 s)"
    else not_ok "slow DANE, lookup $i: took $ms ms (> timeout 8 s)"; fi
done
check_eq "slow DANE: one policy fetch for the three lookups" "$(world-ctl https-count slow-dane.test)" 1
check_eq "slow DANE: nothing logged (no helper killed, no failure)" "$(cat "$work"/sd.*.err)" ""
r=$("$HELPER" cache show --json --store "$S" slow-dane.test)
check_grep "slow DANE: the policy is in the store" '"id":"slowdane1"' "$r"
check_grep "slow DANE: stored with dane unknown" '"dane":null' "$r"
n=$(wc -l <"$work/spawns")
dlookup slow-dane.test "$work/sd.again"
check_eq "slow DANE: the next lookup answers the policy" "$(field id "$(cat "$work/sd.again")")" slowdane1
check_eq "slow DANE: the next lookup spawns nothing" "$(wc -l <"$work/spawns")" "$n"
if [ "$(cat "$work/sd.again.ms")" -lt 2000 ]; then ok "slow DANE: the next lookup is quick"
else not_ok "slow DANE: the next lookup took $(cat "$work/sd.again.ms") ms"; fi

# A stored dane=all does not survive a probe that times out: dane.test's
# TLSA name moves behind the silent server.
dlookup dane.test "$work/da.1" recheck=1
check_eq "dane.test: dane=all at first" "$(field dane "$(cat "$work/da.1")")" all
world-ctl rr dane.test _25._tcp.mx TLSA --delete >/dev/null &&
    world-ctl rr dane.test _tcp.mx NS ns-silent.slow-dane.test. >/dev/null ||
    not_ok "world-ctl: cannot delegate dane.test's TLSA name"
sleep 1.2   # recheck=1: the TXT check falls due, and DANE is probed again
n=$(wc -l <"$work/spawns")
dlookup dane.test "$work/da.2" recheck=1
r=$(cat "$work/da.2")
check_eq "dane.test, TLSA timing out: the policy still applies" "$(field mode "$r") $(field id "$r")" "enforce dane1"
check_eq "dane.test, TLSA timing out: dane unknown, not all" "$(field dane "$r")" unknown
check_eq "dane.test, TLSA timing out: the helper ran" "$(wc -l <"$work/spawns")" "$((n + 1))"
if [ "$(cat "$work/da.2.ms")" -le 8000 ]; then ok "dane.test, TLSA timing out: answered in $(cat "$work/da.2.ms") ms"
else not_ok "dane.test, TLSA timing out: took $(cat "$work/da.2.ms") ms"; fi
check_grep "dane.test: the store says dane unknown" '"dane":null' \
    "$("$HELPER" cache show --json --store "$S" dane.test)"

tally helper-safety
