#!/usr/bin/env bash
# TLSRPT recording (issue 12 items 1, 2): real deliveries through a sending
# Exim configured with the exim-config-snippets (tests/e2e/lib.sh: 4.96,
# 4.98 and 4.100 with the lookup module, Debian's exim4 via ${dlfunc}) to
# the world's receivers of known outcome; then "mtasts tlsrpt show" must
# list exactly one session per delivery attempt with the right policy type
# and RFC 8460 result type. Also: policy fetch failures recorded by the
# helper, and an outcomes file (tlsrpt.mdb) the transport cannot write or
# that is damaged does not stop a delivery (one log line); tlsrpt send
# moves a damaged one aside.
#
#   tests/world/run-in-world bash tests/tlsrpt/test-record.sh [VARIANT...]
#
# Ends with "tlsrpt-record: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/../e2e/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
if [ $# -gt 0 ]; then VARIANTS=("$@"); else VARIANTS=(4.96 4.98 4.100 stock-split); fi
for f in "$HELPER" "$DLFUNC"; do [ -e "$f" ] || { echo "missing $f: run make all modules"; exit 2; }; done

work=$(mktemp -d /var/tmp/mtasts-tlsrpt.XXXXXX); chmod 755 "$work"
unmount_modules() { local v; for v in "${VARIANTS[@]}"; do case $v in 4.*)
    while mountpoint -q "$(exim_prefix "$v")/lookups"; do umount "$(exim_prefix "$v")/lookups" || break; done ;; esac; done; }
trap 'unmount_modules; rm -rf "$work"' EXIT
DAY=$(date -u +%F)
RUN=$(printf '%04x' $((RANDOM)))

# record_remote_smtp: Debian's remote_smtp (domains without a policy) gets
# the recording block too, as docs/exim-configuration.md tells admins to do.
REMOTE_SMTP_BLOCK='.ifdef MTASTS_TLSRPT_RECORD\n  event_action = MTASTS_TLSRPT_EVENT\n.endif'
record_remote_smtp() {
    local inc=/etc/exim4/conf.d/transport/30_exim4-config_remote_smtp
    if grep -qx "\.include $inc" "$CONF"; then
        sed "/^ *driver = smtp\$/a\\$REMOTE_SMTP_BLOCK" "$inc" >"$D/remote_smtp" &&
            sed -i "s|^\.include $inc\$|.include $D/remote_smtp|" "$CONF"
    else
        sed -i "/^remote_smtp:\$/,/^ *driver = smtp\$/{/^ *driver = smtp\$/a\\$REMOTE_SMTP_BLOCK
}" "$CONF"
    fi || { not_ok "$V: set-up step: event_action for remote_smtp"; return 1; }
    check_eq "$V: set-up: remote_smtp records too" \
        "$(x -bP transport remote_smtp 2>&1 | grep -c '^event_action = .*mtasts')" 1
    # Without the switches (as shipped: no TLSRPT recording, no testing
    # report) the block leaves remote_smtp no event_action at all, and
    # mtasts_smtp has none either (transport_event_lines, tests/e2e/lib.sh).
    local off=$D/exim-record-off.conf
    shipped_conf "$off" || { not_ok "$V: set-up step: $off"; return 1; }
    check_eq "$V: event_action lines of remote_smtp and mtasts_smtp: one each with the switches, none as shipped" \
        "$(transport_event_lines "$CONF" remote_smtp) $(transport_event_lines "$CONF" mtasts_smtp) $(transport_event_lines "$off" remote_smtp) $(transport_event_lines "$off" mtasts_smtp)" "1 1 0 0"
}

show() { "$HELPER" tlsrpt show --store "$D/store" --day "$DAY" "$@" 2>&1; }
# expect DOMAIN POLICY SESSIONS OK FAILED: the aggregate line of DOMAIN
expect() {
    check_grep "$V: $1: $2 sessions=$3 successful=$4 failed=$5" \
        "^$DAY $1 policy=$2 sessions=$3 successful=$4 failed=$5\$" "$(show "$1")"
    check_eq "$V: $1: one aggregate" "$(show "$1" | grep -c "^$DAY ")" 1
}
# expect_row DOMAIN RESULT COUNT MX IP: a failure-detail row
expect_row() {
    check_grep "$V: $1: row $2 count=$3" \
        "^  $2 count=$3 mx=$4 ip=$5 from=$WORLD_HOST_IP reason=" "$(show "$1")"
    check_eq "$V: $1: one detail row" "$(show "$1" | grep -c '^  [a-z-]* count=')" 1
}

run_tests() {
    local t=${V//./}-$RUN d
    rm -rf "$D/store"/*
    fresh; send "ok-$t@enforce.test"
    expect enforce.test sts 1 1 0
    check_grep "$V: enforce.test: the policy's mx patterns" \
        "^  mx-host: mx1.enforce.test \*.mx.enforce.test\$" "$(show enforce.test)"
    # a second message: a new session, counted again
    fresh; send "ok2-$t@enforce.test"
    expect enforce.test sts 2 2 0

    fresh; send "x-$t@enforce-expired.test"
    expect enforce-expired.test sts 1 0 1
    expect_row enforce-expired.test certificate-expired 1 mx.enforce-expired.test 127.0.2.3
    fresh; send "x-$t@enforce-wrongname.test"
    expect enforce-wrongname.test sts 1 0 1
    expect_row enforce-wrongname.test certificate-host-mismatch 1 mx.enforce-wrongname.test 127.0.2.4
    fresh; send "x-$t@enforce-selfsigned.test"
    expect enforce-selfsigned.test sts 1 0 1
    expect_row enforce-selfsigned.test certificate-not-trusted 1 mx.enforce-selfsigned.test 127.0.2.5
    fresh; send "x-$t@enforce-nostarttls.test"
    expect enforce-nostarttls.test sts 1 0 1
    expect_row enforce-nostarttls.test starttls-not-supported 1 mx.enforce-nostarttls.test 127.0.2.6
    # a forced retry is another session
    x -M "$(queue_id "x-$t@enforce-nostarttls.test")" 2>/dev/null
    expect enforce-nostarttls.test sts 2 0 2

    fresh; send "x-$t@dane.test"
    expect dane.test tlsa 1 1 0
    fresh; send "x-$t@dane-fail.test"
    expect dane-fail.test tlsa 1 0 1
    expect_row dane-fail.test validation-failure 1 mx.dane-fail.test 127.0.2.1

    # testing mode: delivered, the expired certificate reported
    fresh; send "x-$t@testing.test"
    check_grep "$V: testing.test: delivered" "=> x-$t@testing.test " "$(mainlog)"
    expect testing.test sts 1 0 1
    expect_row testing.test certificate-expired 1 mx.testing.test 127.0.2.3

    fresh; send "x-$t@nopolicy.test"
    expect nopolicy.test no-policy-found 1 1 0

    # policy-side failures, recorded by the helper against the policy domain
    for d in https-expired:sts-webpki-invalid http404:sts-policy-fetch-error \
             bad-policy:sts-policy-invalid; do
        fresh; send "x-$t@${d%%:*}.test"
        check_grep "$V: ${d%%:*}.test: ${d#*:} recorded" \
            "^  ${d#*:} count=1 " "$(show "${d%%:*}.test")"
    done

    # ... but not when an administrator asks (mtasts query): no session
    "$HELPER" query --store "$D/store" --options "$(opts)" http500.test >/dev/null 2>&1
    check_eq "$V: mtasts query's failed fetch: not recorded" "$(show http500.test)" \
        "$DAY: no TLS sessions recorded for http500.test"

    # tlsrpt_record=no: nothing recorded; =yes (the control): recorded
    local q='tlsrpt ev=smtp:ehlo dom=enforce.test host=mx1.enforce.test ip=192.0.2.9 cipher=x cv=1 data='
    record_by_hand() {  # on stdin: Debian's exim4 limits -be arguments to 256 bytes
        if [ "$V" = "${V#stock}" ]; then echo "\${lookup mtasts,$(opts),tlsrpt_record=$1{$q}}"
        else echo "\${dlfunc{$DLFUNC}{mtasts_tlsrpt}{$q}{$(opts),tlsrpt_record=$1}}"; fi | x -be
    }
    check_eq "$V: event by hand (tlsrpt_record=no): returns \"\"" "$(record_by_hand no 2>&1 | sed 's/^> *//')" ""
    expect enforce.test sts 2 2 0
    check_eq "$V: event by hand (tlsrpt_record=yes): returns \"\"" "$(record_by_hand yes 2>&1 | sed 's/^> *//')" ""
    expect enforce.test sts 3 3 0

    # mtasts cache flush forgets policies, not the recorded outcomes
    "$HELPER" cache flush --store "$D/store" >/dev/null 2>&1 ||
        not_ok "$V: set-up step: mtasts cache flush"
    expect enforce.test sts 3 3 0
    check_eq "$V: flush: policies gone" "$("$HELPER" cache list --store "$D/store" 2>&1)" \
        "store $D/store: empty"

    # Sessions, not messages: three queued messages, one queue run; a
    # connection passed on to the next message (logged "]*") is no new session.
    local i deliveries cont
    for i in 1 2 3; do
        printf 'Subject: reuse %s\n\nhi\n' "$i" | x -odq -f "$SENDER" "reuse$i-$t@enforce.test" ||
            not_ok "$V: set-up step: queue message $i"
    done
    x -qqff 2>/dev/null
    for i in $(seq 1 100); do [ "$(x -bpc)" = 0 ] && break; sleep 0.1; done
    sleep 0.3
    deliveries=$(mainlog | grep -E "=> reuse[0-9]-$t@enforce.test ")
    cont=$(grep -c 'H=mx1.enforce.test \[127.0.2.1\]\*' <<<"$deliveries")
    check_eq "$V: reuse: 3 delivered" "$(grep -c . <<<"$deliveries")" 3
    if [ "$cont" -ge 1 ]; then
        ok "$V: reuse: $cont of them on a continued connection"
    else
        not_ok "$V: reuse: no continued connection (cannot tell sessions from messages): $deliveries"
    fi
    expect enforce.test sts $((3 + 3 - cont)) $((3 + 3 - cont)) 0

    # The outcomes live in their own file next to the policy store's,
    # created as the store's owner by the recording transport.
    check_eq "$V: outcomes in the sibling tlsrpt.mdb, the store owner's" \
        "$(stat -c '%U %a' "$D/store/tlsrpt.mdb" "$D/store/tlsrpt.mdb-lock" 2>&1 | sort -u)" \
        "Debian-exim 660"
    # A plain policy lookup (the routers' work) neither opens nor maps it.
    local tr=$D/lookup.strace o; o=$(opts)
    if if [ "$V" = "${V#stock}" ]; then echo "\${lookup mtasts,$o{enforce.test}}"
       else echo "\${dlfunc{$DLFUNC}{mtasts_policy}{enforce.test}{$o}}"; fi |
            strace -f -qq -e trace=openat,open,stat,newfstatat,mmap -o "$tr" \
            -- "$EXIM" -C "$CONF" -be >"$D/lookup.out" 2>&1; then
        check_grep "$V: traced policy lookup answers" "enforce" "$(cat "$D/lookup.out")"
        check_eq "$V: a policy lookup touches no tlsrpt.mdb" "$(grep -c 'tlsrpt\.mdb' "$tr")" 0
        check_grep "$V: ... (the trace sees the store's files)" "data\.mdb" "$(cat "$tr")"
    else
        not_ok "$V: set-up step: strace of a policy lookup: $(tail -3 "$D/lookup.out")"
    fi
    # An outcomes file the transport cannot write: delivered all the same,
    # one log line.
    fresh
    chmod 0440 "$D/store/tlsrpt.mdb"
    send "ro-$t@enforce.test"
    check_grep "$V: read-only outcomes: still delivered" "=> ro-$t@enforce.test " "$(mainlog)"
    check_eq "$V: read-only outcomes: one log line" \
        "$(grep -c 'TLSRPT outcome for enforce.test not recorded' "$D/log/mainlog")" 1
    chmod 0660 "$D/store/tlsrpt.mdb"
    # A damaged outcomes file (its meta pages garbled): delivered by the
    # MTA-STS route all the same (the policy store is another file), one
    # log line; tlsrpt send moves it aside and recording resumes.
    fresh
    if head -c 8192 /dev/urandom | dd of="$D/store/tlsrpt.mdb" conv=notrunc status=none; then
        send "bad-$t@enforce.test"
        check_grep "$V: damaged outcomes: delivered by the MTA-STS route" \
            "=> bad-$t@enforce.test .*R=[^ ]*mtasts" "$(mainlog)"
        check_eq "$V: damaged outcomes: one log line saying so" \
            "$(grep -c 'TLSRPT outcome for enforce.test not recorded.*damaged' "$D/log/mainlog")" 1
        d=$("$HELPER" tlsrpt send --store "$D/store" --day 2000-01-01 \
            --options "tlsrpt_submitter=sender.test" 2>&1)
        check_grep "$V: damaged outcomes: tlsrpt send moves them aside" \
            "tlsrpt\.mdb.*moved aside as tlsrpt\.mdb\.broken-" "$d"
        check_eq "$V: damaged outcomes: kept aside, the store owner's" \
            "$(stat -c '%U' "$D/store"/tlsrpt.mdb.broken-* "$D/store"/tlsrpt.mdb-lock.broken-* \
               2>&1 | sort -u)" "Debian-exim"
        fresh; send "again-$t@enforce.test"
        expect enforce.test sts 1 1 0
    else
        not_ok "$V: set-up step: garble tlsrpt.mdb"
    fi
    fresh
    check_eq "$V: panic log clean" "$(text_of "$D/all-panic.log" | grep -v 'lost privilege for using -C')" ""
    check_eq "$V: no taint complaint, no failed event_action expansion in the logs" \
        "$(text_of "$D/all.log" "$D/all-panic.log" | grep -ci 'taint\|event_action\|^(cannot read')" 0
}

for variant in "${VARIANTS[@]}"; do
    t0=$SECONDS
    echo "# ---- $variant"
    if setup_variant "$variant" && record_remote_smtp; then
        run_tests
    fi
    echo "# $variant: $((SECONDS - t0)) s"
done
tally tlsrpt-record
