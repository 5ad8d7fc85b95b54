#!/usr/bin/env bash
# The MTA-STS preload list at first contact (issue 13 items 4 and 5), end
# to end: real messages through a sending Exim configured with the
# exim-config-snippets (tests/e2e/lib.sh variants: the lookup module of a
# test Exim, and Debian's exim4 through ${dlfunc}), lists imported with
# "mtasts preload import", the test world's DNS (signed and unsigned),
# HTTPS and receivers (fixtures preload-*.test, see tests/world/README.md).
#
#   tests/world/run-in-world bash tests/preload/test-preload-world.sh [VARIANT...]
#
# (default: 4.96 4.98 4.100 stock-split; or PRELOAD_VARIANTS="...").
# Ends with "preload-world: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/../e2e/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
if [ $# -gt 0 ]; then VARIANTS=("$@"); else read -r -a VARIANTS <<<"${PRELOAD_VARIANTS:-4.96 4.98 4.100 stock-split}"; fi
for f in "$HELPER" "$DLFUNC"; do [ -e "$f" ] || { echo "missing $f: run make all modules"; exit 2; }; done

work=$(mktemp -d /var/tmp/mtasts-preload.XXXXXX); chmod 755 "$work"
RUN=$(printf '%04x' $((RANDOM)))   # in recipients: a kept world's Maildirs stay unambiguous
unmount_modules() { local v; for v in "${VARIANTS[@]}"; do case $v in 4.*)   # private_module's
    while mountpoint -q "$(exim_prefix "$v")/lookups"; do umount "$(exim_prefix "$v")/lookups" || break; done ;; esac; done; }
PUBLISHED=''   # set while preload-stripped.test publishes a policy
trap '[ -z "$PUBLISHED" ] || restore_stripped >/dev/null 2>&1; unmount_modules; rm -rf "$work"' EXIT

# ------------------------------------------------------------ the lists
# Times in RFC 3339, relative to now.
at() { date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ; }
# This project's format (docs/preload-format.md): snapshots of each
# domain's policy. The list is stale for preload-moved.test (its MX host
# "old" is the one the domain has given up); preload-expiry.test's
# snapshot (taken 2 h ago, max_age 1 h) has expired.
mtasts_list() {  # EXPIRES_IN_SECONDS
    cat <<EOF
{
  "format": "mtasts-preload",
  "version": 1,
  "generated": "$(at -3600)",
  "expires": "$(at "$1")",
  "domains": {
    "preload-stripped.test": { "mode": "enforce", "mx": ["listed.preload-stripped.test"],
                               "id": "stripped1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-proven.test":   { "mode": "enforce", "mx": ["listed.preload-proven.test"],
                               "id": "proven1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-moved.test":    { "mode": "enforce", "mx": ["old.preload-moved.test"],
                               "id": "moved1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-servfail.test": { "mode": "enforce", "mx": ["listed.preload-servfail.test"],
                               "id": "servfail1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-testing.test":  { "mode": "testing", "mx": ["mx.preload-testing.test"],
                               "id": "testing1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-blocked.test":  { "mode": "enforce", "mx": ["listed.preload-blocked.test"],
                               "id": "blocked1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-dane.test":     { "mode": "enforce", "mx": ["mx.preload-dane.test"],
                               "id": "pdane1", "max_age": 604800, "taken": "$(at -3600)" },
    "preload-expiry.test":   { "mode": "enforce", "mx": ["listed.preload-expiry.test"],
                               "id": "expiry1", "max_age": 3600, "taken": "$(at -7200)" }
  }
}
EOF
}
# The STARTTLS-Everywhere policy list: ".preload-eff.test" is any name
# below preload-eff.test, at any depth (mx.sub.preload-eff.test). Newer
# than the list above (an import refuses an older list).
eff_list() {
    cat <<EOF
{
  "timestamp": "$(at -1800)",
  "expires": "$(at 86400)",
  "version": "0.1",
  "policy-aliases": {},
  "policies": {
    "preload-eff.test": { "mode": "enforce", "mxs": [".preload-eff.test"] }
  }
}
EOF
}
mtasts_list $((30 * 86400)) >"$work/list.json"
mtasts_list -60 >"$work/expired.json"      # expired a minute ago
eff_list >"$work/eff.json"
chmod 644 "$work"/*.json

# preload ARGS...: "mtasts preload ARGS" on this variant's store
preload() { "$HELPER" preload "$1" --store "$D/store" "${@:2}"; }

# the common checks of a delivered message
check_delivered() {  # NAME RCPT RECEIVER LOG_REGEX
    local name=$1 rcpt=$2 rcv=$3 re=$4
    check_grep "$V: $name: delivered (log)" "=> $rcpt $re" "$(mainlog)"
    check_eq "$V: $name: received by $rcv" "$(receivers_of "$rcpt")" "$rcv"
    check_eq "$V: $name: nothing left in the queue" "$(x -bpc)" 0
}
# the common checks of a deferred message: still queued, never bounced,
# never sent (in clear or otherwise)
check_deferred() {  # NAME RCPT LOG_REGEX
    local name=$1 rcpt=$2 re=$3
    check_grep "$V: $name: deferred (log)" "== $rcpt $re" "$(mainlog)"
    check_eq "$V: $name: still queued" "$(x -bpr | awk -v r="$rcpt" '$1==r' | wc -l)" 1
    if grep -q ' <= <> ' "$D/log/mainlog" || x -bp | grep -q '<>'; then
        not_ok "$V: $name: a bounce was generated"
    else
        ok "$V: $name: no bounce"
    fi
    check_eq "$V: $name: no receiver got it" "$(receivers_of "$rcpt" 3)" ""
    check_grep "$V: $name: the debug output shows the routing" "R: mtasts_enforce_defer for $rcpt" "$(cat "$D/debug")"
    check_eq "$V: $name: no SMTP connection at all" "$(grep -c "Connecting to" "$D/debug")" 0
}

# preload-stripped.test starts publishing a policy of its own (its MX
# host listed), and back to the fixture (nothing published)
publish_stripped() {
    PUBLISHED=1
    printf 'version: STSv1\nmode: enforce\nmx: mx.preload-stripped.test\nmax_age: 86400\n' |
        world-ctl policy preload-stripped.test - &&
        world-ctl https preload-stripped.test ok cert=good &&
        world-ctl rr preload-stripped.test mta-sts A "$WORLD_HTTPS_IP" &&
        world-ctl txt preload-stripped.test "v=STSv1; id=stripped2"
}
restore_stripped() {
    world-ctl txt preload-stripped.test --delete && world-ctl rr preload-stripped.test mta-sts A --delete &&
        world-ctl policy preload-stripped.test --delete && world-ctl https preload-stripped.test status 404 &&
        PUBLISHED=''
}

# ------------------------------------------------------------ the tests
run_tests() {
    local t=${V//./}-$RUN r
    step preload import --format mtasts "$work/list.json" >/dev/null

    # First contact to a preloaded enforce domain whose _mta-sts TXT the
    # attacker stripped (unsigned: nothing proves the absence); its MX host
    # has a valid certificate for its own name, but the list's policy does
    # not name it: deferred, never bounced, never sent, and logged.
    fresh; r=stripped-$t@preload-stripped.test; DEBUG=-d+route+transport send "$r"
    check_deferred "stripped TXT, preloaded" "$r" \
        "R=mtasts_enforce_defer defer( \(-[0-9]+\))?: MTA-STS policy stripped1 of preload-stripped.test: no usable MX host matches listed.preload-stripped.test"
    check_grep "$V: stripped TXT, preloaded: the reason is logged" \
        "mtasts: preload-stripped.test: preload list entry applies \(mode enforce, until [0-9TZ:-]+\): _mta-sts.preload-stripped.test: NXDOMAIN \(preload policy applied\)" \
        "$(mainlog)"
    check_eq "$V: stripped TXT, preloaded: the lookup answers the list's policy" \
        "$(lookup preload-stripped.test mode) $(lookup preload-stripped.test source) $(lookup preload-stripped.test mx)" \
        "enforce preload listed.preload-stripped.test"
    # A forced retry (after the recheck: the helper tries discovery again)
    # defers again.
    sleep 1.1
    cat "$D/log/mainlog" >>"$D/all.log"; : >"$D/log/mainlog"
    x -M "$(queue_id "$r")" 2>/dev/null
    check_grep "$V: stripped TXT, preloaded: a retry defers again" "== $r R=mtasts_enforce_defer" "$(mainlog)"
    check_eq "$V: stripped TXT, preloaded: still nothing received" "$(receivers_of "$r" 3)" ""
    # The domain publishes a policy of its own: the helper, which kept
    # trying discovery (recheck=1 here), fetches it, and it replaces the
    # list's: the queued message goes out to the host the policy names.
    publish_stripped >/dev/null
    sleep 1.1
    cat "$D/log/mainlog" >>"$D/all.log"; : >"$D/log/mainlog"
    x -M "$(queue_id "$r")" 2>/dev/null
    check_delivered "stripped TXT, then published" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.preload-stripped.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_eq "$V: stripped TXT, then published: the lookup answers the fetched policy" \
        "$(lookup preload-stripped.test source) $(lookup preload-stripped.test id)" "fetched stripped2"
    restore_stripped >/dev/null

    # The attacker makes the TXT lookup SERVFAIL instead: the same.
    fresh; r=servfail-$t@preload-servfail.test; DEBUG=-d+route+transport send "$r"
    check_deferred "TXT SERVFAIL, preloaded" "$r" \
        "R=mtasts_enforce_defer defer( \(-[0-9]+\))?: MTA-STS policy servfail1 of preload-servfail.test: no usable MX host matches listed.preload-servfail.test"
    check_grep "$V: TXT SERVFAIL, preloaded: the reason is logged" \
        "mtasts: preload-servfail.test: preload list entry applies \(mode enforce, until [0-9TZ:-]+\): _mta-sts.preload-servfail.test: SERVFAIL \(preload policy applied\)" \
        "$(mainlog)"

    # ... or blocks the HTTPS fetch (the TXT record is there): the same,
    # and the helper retries on the RFC 8461 3.3 backoff schedule.
    fresh; r=blocked-$t@preload-blocked.test; DEBUG=-d+route+transport send "$r"
    check_deferred "policy fetch blocked, preloaded" "$r" \
        "R=mtasts_enforce_defer defer( \(-[0-9]+\))?: MTA-STS policy blocked1 of preload-blocked.test: no usable MX host matches listed.preload-blocked.test"
    check_grep "$V: policy fetch blocked, preloaded: the reason is logged" \
        "mtasts: preload-blocked.test: preload list entry applies \(mode enforce, until [0-9TZ:-]+\): policy fetch for id blocked1 failed: .* \(preload policy applied\)" \
        "$(mainlog)"

    # DANE takes precedence over a preload answer as over a fetched policy:
    # the entry applies (fetch blocked), its answer says dane=all, Exim's
    # DANE authenticates the host.
    fresh; r=dane-$t@preload-dane.test; send "$r"
    check_delivered "DANE with a preload answer" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.preload-dane.test \[127.0.2.1\] X=TLS[^ ]+ CV=dane"
    check_eq "$V: DANE with a preload answer: the lookup says source=preload dane=all" \
        "$(lookup preload-dane.test source) $(lookup preload-dane.test dane)" "preload all"

    # A preloaded testing entry: delivered whatever TLS does, and reported
    # (the receiver's certificate has expired).
    fresh; r=testing-$t@preload-testing.test; send "$r"
    check_delivered "testing entry" "$r" expired \
        "R=mtasts_testing T=mtasts_smtp H=mx.preload-testing.test \[127.0.2.3\] X=TLS[^ ]+ CV=no"
    check_grep "$V: testing entry: the would-have-refused line" \
        "MTA-STS testing: preload-testing.test policy testing1: enforce would have refused H=mx.preload-testing.test \[127.0.2.3\]: certificate not verified\$" \
        "$(mainlog)"

    # The same kind of domain, not on the list: RFC 8461, no policy.
    fresh; r=unlisted-$t@nopolicy.test; send "$r"
    check_delivered "not on the list" "$r" good "R=dnslookup T=remote_smtp H=mx.nopolicy.test \[127.0.2.1\]"
    check_eq "$V: not on the list: no preload log line" "$(mainlog | grep -c 'preload')" 0

    # Preloaded with MX host "old"; the domain moved to "new" and publishes
    # a new policy: its own policy wins, "old" (good2) never gets the mail.
    fresh; r=moved-$t@preload-moved.test; send "$r"
    check_delivered "moved MX, new policy" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=new.preload-moved.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_eq "$V: moved MX, new policy: the lookup answers the fetched policy" \
        "$(lookup preload-moved.test source) $(lookup preload-moved.test id) $(lookup preload-moved.test mx)" \
        "fetched moved2 new.preload-moved.test"
    check_eq "$V: moved MX, new policy: no preload log line" "$(mainlog | grep -c 'preload list')" 0

    # The absence of _mta-sts is DNSSEC-proven: the domain's own word. The
    # entry is ignored (logged), the mail goes out as with no policy.
    fresh; r=proven-$t@preload-proven.test; send "$r"
    check_delivered "DNSSEC-proven absence" "$r" good "R=dnslookup T=remote_smtp H=mx.preload-proven.test \[127.0.2.1\]"
    check_grep "$V: DNSSEC-proven absence: the ignored entry is logged" \
        "mtasts: preload-proven.test: preload list entry ignored \(DNSSEC-authenticated denial of the MTA-STS record\): _mta-sts.preload-proven.test: NXDOMAIN \(DNSSEC-authenticated\) \(no policy\)" \
        "$(mainlog)"
    check_eq "$V: DNSSEC-proven absence: the lookup has no policy" "$(lookup preload-proven.test mode)" ""

    # An expired entry (in an unexpired list): ignored, logged.
    fresh; r=expiry-$t@preload-expiry.test; send "$r"
    check_delivered "expired entry" "$r" good "R=dnslookup T=remote_smtp H=mx.preload-expiry.test \[127.0.2.1\]"
    check_grep "$V: expired entry: the ignored entry is logged" \
        "mtasts: preload-expiry.test: preload list entry ignored \([^)]*expired[^)]*\): _mta-sts.preload-expiry.test: NXDOMAIN" \
        "$(mainlog)"

    # An expired list: the import is refused, the list in force stays.
    local out rc=0
    out=$(preload import --format mtasts "$work/expired.json" 2>&1) || rc=$?
    check_eq "$V: expired list: import refused (exit status not 0)" "$([ "$rc" -ne 0 ] && echo refused)" refused
    check_grep "$V: expired list: the refusal says why" "expired" "$out"
    check_grep "$V: expired list: the previous list stays in force" "stripped1" \
        "$(preload show preload-stripped.test 2>&1)"

    # An EFF-format list with a leading-dot mxs (it replaces the list):
    # mx.sub.preload-eff.test, two labels below, matches; enforce applies
    # (verified TLS), which without the list would be plain delivery.
    step preload import --format eff "$work/eff.json" >/dev/null
    fresh; r=eff-$t@preload-eff.test; send "$r"
    check_delivered "EFF list, .suffix mxs" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.sub.preload-eff.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_eq "$V: EFF list: the lookup answers the list's policy" \
        "$(lookup preload-eff.test mode) $(lookup preload-eff.test source) $(lookup preload-eff.test mx)" \
        "enforce preload .preload-eff.test"

    fresh
    check_eq "$V: panic log clean" "$(cat "$D/all-panic.log" 2>/dev/null)" ""
}

for variant in "${VARIANTS[@]}"; do
    t0=$SECONDS
    echo "# ---- $variant"
    setup_variant "$variant" && run_tests
    echo "# $variant: $((SECONDS - t0)) s"
done
tally preload-world
