#!/usr/bin/env bash
# TLSRPT (RFC 8460) end to end, in the test world, through real Exims: for
# each variant (4.96 4.98 4.100 with the lookup module; stock-split and
# stock-single: Debian's exim4 and configuration, split and single-file,
# through ${dlfunc}; see tests/e2e/lib.sh) messages with known TLS
# outcomes go to world domains that publish _smtp._tls
# records (tests/world/README.md, "TLSRPT"); then "mtasts tlsrpt send --day
# TODAY" reports them, by mail through the same Exim (which DKIM-signs for
# submitter.test) to the reports receiver and by HTTPS POST to the world's
# collector. Every report must arrive exactly once per destination (a second
# send sends nothing), be valid against tlsrpt-report.schema.json (RFC 8460
# section 4), hold exactly the sessions made, and for mail carry the RFC's
# headers, MIME structure and a DKIM signature python3-dkim verifies; a
# POST answered 503 is retried; domains with a malformed record or none get
# no report.
#
#   tests/world/run-in-world bash tests/tlsrpt/test-tlsrpt-world.sh [VARIANT...]
#
# Ends with "tlsrpt-world: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/../e2e/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
if [ $# -gt 0 ]; then VARIANTS=("$@"); else read -r -a VARIANTS <<<"${TLSRPT_VARIANTS:-4.96 4.98 4.100 stock-split stock-single}"; fi
for f in "$HELPER" "$DLFUNC"; do [ -e "$f" ] || { echo "missing $f: run make all modules"; exit 2; }; done
PY=/usr/bin/python3   # Debian's, with python3-jsonschema and python3-dkim
HERE=$ROOT/tests/tlsrpt
CHECK=("$PY" "$HERE/check-reports.py" --schema "$HERE/tlsrpt-report.schema.json" --sending-ip "$WORLD_HOST_IP")
SUBMITTER=submitter.test
DAY=$(date -u +%F)

work=$(mktemp -d /var/tmp/mtasts-tlsrpt.XXXXXX); chmod 755 "$work"
RUN=$(printf '%04x' $((RANDOM)))
unmount_modules() { local v; for v in "${VARIANTS[@]}"; do case $v in 4.*)   # private_module's
    while mountpoint -q "$(exim_prefix "$v")/lookups"; do umount "$(exim_prefix "$v")/lookups" || break; done ;; esac; done; }
trap 'unmount_modules; rm -rf "$work"' EXIT

# The sender under test signs its mail for the submitter domain with the
# world's DKIM key (published as mail._domainkey.submitter.test), through
# the DKIM_* macros that Debian's remote_smtp and the snippets' mtasts_smtp
# take; the rest of the test settings are tests/e2e/lib.sh's.
eval "$(declare -f test_macros | sed '1s/^test_macros/e2e_test_macros/')"
test_macros() {
    e2e_test_macros
    cat <<EOF
DKIM_DOMAIN = $SUBMITTER
DKIM_SELECTOR = mail
DKIM_PRIVATE_KEY = $WORLD_DKIM_DIR/mail.key
EOF
}

# ------------------------------------------------------------ deliveries
# Each: RCPT_DOMAIN delivered|deferred. One delivery attempt each (fresh
# empties the retry hints), so one TLS session per domain, one policy fetch
# per policy-failure domain.
OUTCOMES=(
    "enforce.test delivered"              # sts, success
    "enforce-expired.test deferred"       # certificate-expired
    "enforce-wrongname.test deferred"     # certificate-host-mismatch
    "enforce-selfsigned.test deferred"    # certificate-not-trusted
    "enforce-nostarttls.test deferred"    # starttls-not-supported
    "dane-fail.test deferred"             # DANE: the TLSA record matches no key
    "http500.test delivered"              # sts-policy-fetch-error, then without a policy
    "bad-policy.test delivered"           # sts-policy-invalid, then without a policy
    "https-expired.test delivered"        # sts-webpki-invalid, then without a policy
    "testing.test delivered"              # testing policy: delivered, certificate-expired reported
    "none.test delivered"                 # malformed _smtp._tls: no report
    "enforce-twomx.test delivered"        # two _smtp._tls records: no report
    "nopolicy.test delivered"             # no _smtp._tls: no report
)
# The reports expected: "mail|post DOMAIN POLICY-SUMMARY" (check-reports.py's
# summary: per policy TYPE:S=successes,F=failures, then per failure-details
# row RESULT-TYPE=count@receiving-mx-hostname/receiving-ip).
G=$WORLD_RECEIVER_GOOD
EXPIRED="certificate-expired=1@mx.enforce-expired.test/$WORLD_RECEIVER_EXPIRED"
NOSTARTTLS="starttls-not-supported=1@mx.enforce-nostarttls.test/$WORLD_RECEIVER_NOSTARTTLS"
WRONGNAME="certificate-host-mismatch=1@mx.enforce-wrongname.test/$WORLD_RECEIVER_WRONGNAME"
SELFSIGNED="certificate-not-trusted=1@mx.enforce-selfsigned.test/$WORLD_RECEIVER_SELFSIGNED"
EXPECTED="\
mail dane-fail.test tlsa:S=0,F=1,validation-failure=1@mx.dane-fail.test/$G
mail enforce-selfsigned.test sts:S=0,F=1,$SELFSIGNED
mail enforce-wrongname.test sts:S=0,F=1,$WRONGNAME
mail enforce.test sts:S=1,F=0
mail http500.test no-policy-found:S=1,F=0 sts:S=0,F=1,sts-policy-fetch-error=1
mail https-expired.test no-policy-found:S=1,F=0 sts:S=0,F=1,sts-webpki-invalid=1
post bad-policy.test no-policy-found:S=1,F=0 sts:S=0,F=1,sts-policy-invalid=1
post dane-fail.test tlsa:S=0,F=1,validation-failure=1@mx.dane-fail.test/$G
post enforce-expired.test sts:S=0,F=1,$EXPIRED
post enforce-nostarttls.test sts:S=0,F=1,$NOSTARTTLS
post enforce-wrongname.test sts:S=0,F=1,$WRONGNAME
post testing.test sts:S=0,F=1,certificate-expired=1@mx.testing.test/$WORLD_RECEIVER_EXPIRED"
N_MAIL=$(grep -c '^mail ' <<<"$EXPECTED")
N_POST=$(grep -c '^post ' <<<"$EXPECTED")

deliver_all() {
    local line d want r
    for line in "${OUTCOMES[@]}"; do
        read -r d want <<<"$line"
        fresh; r=rpt-${V//./}-$RUN@$d
        send "$r"
        if [ "$want" = delivered ]; then
            check_grep "$V: $d: delivered" "=> $r " "$(mainlog)"
        else
            check_grep "$V: $d: deferred" "== $r " "$(mainlog)"
        fi
    done
    fresh
    # The deferred messages stay queued: drop them, so that the queue runs
    # below deliver only the reports.
    local ids; ids=$(x -bpr | awk '/^ *[0-9]+[smhd] /{print $3}')
    # shellcheck disable=SC2086  # one argument per id
    [ -z "$ids" ] || step x -Mrm $ids >/dev/null
    # what was recorded, for whoever reads a failure
    local shown
    shown=$("$HELPER" tlsrpt show --store "$D/store" 2>&1)
    printf '%s\n' "$shown" | sed 's/^/# recorded: /'
    # The domains that must get no report did have sessions to report: the
    # "no report" checks below are not vacuous.
    for d in none.test enforce-twomx.test nopolicy.test; do
        check_grep "$V: $d: sessions recorded (a report would have content)" "^$DAY $d policy=[a-z-]+ sessions=[1-9]" "$shown"
    done
}

# ------------------------------------------------------------ reports
reports_mail() { world-ctl mail reports; }                     # all, oldest first
posts_ok() { awk '$5 == 200 {print $1}' "$WORLD_COLLECTOR_DIR/requests.log"; }
posts_all() { awk '{print $1}' "$WORLD_COLLECTOR_DIR/requests.log"; }
after() { tail -n +"$(( $1 + 1 ))"; }                          # lines after the first N

# The reporter's settings (exim-mtasts(5), tlsrpt_*): submitted through
# this variant's Exim (queueing only, a queue run below delivers). The
# organization name, which has spaces, comes from a configuration file
# (the world's /etc/exim4/mtasts.conf plus it), the rest from --options.
ORGANIZATION="exim-mtasts test world"
tlsrpt_options() {
    echo "tlsrpt_submitter=$SUBMITTER tlsrpt_sender=tlsrpt-noreply@$SUBMITTER" \
         "tlsrpt_contact=postmaster@$SUBMITTER tlsrpt_sendmail=$D/sendmail"
}
tlsrpt_config() {
    { cat /etc/exim4/mtasts.conf && echo "tlsrpt_organization = $ORGANIZATION"; } >"$D/mtasts.conf" &&
        chmod 644 "$D/mtasts.conf"
}

# tlsrpt_send: one "mtasts tlsrpt send --day TODAY" for this variant's
# store, submitting mail through this variant's Exim (queued: -odq), then a
# queue run delivers it.
tlsrpt_send() {
    local rc=0
    "$HELPER" tlsrpt send --day "$DAY" --store "$D/store" --config "$D/mtasts.conf" \
        --options "$(tlsrpt_options)" \
        >"$D/send.out" 2>"$D/send.err" || rc=$?
    check_eq "$V: mtasts tlsrpt send --day $DAY: exit status$([ "$rc" = 0 ] || echo " ($(grep -v 'lost privilege' "$D/send.err" | head -c 300))")" "$rc" 0
    step x -qff >/dev/null 2>&1
}

# Domains without a policy leave through Debian's remote_smtp, which has no
# macro for event_action: docs/exim-configuration.md ("TLSRPT") has the
# administrator add "event_action = MTASTS_TLSRPT_EVENT", inside
# ".ifdef MTASTS_TLSRPT_RECORD", after its "driver = smtp". Done here the
# same way: in a copy of the transport file that the module variants'
# configuration includes, or in the configuration
# update-exim4.conf made for stock exim4.
record_remote_smtp() {
    local inc=/etc/exim4/conf.d/transport/30_exim4-config_remote_smtp file=$CONF
    if grep -qx "\.include $inc" "$CONF"; then
        file=$D/30_exim4-config_remote_smtp
        step cp "$inc" "$file" || return 1
        step sed -i "s|^\.include $inc\$|.include $file|" "$CONF" || return 1
    fi
    # (mtasts_smtp has the same line, under .ifdef MTASTS_TLSRPT_RECORD)
    local before
    before=$(grep -c '^  event_action = MTASTS_TLSRPT_EVENT$' "$file")
    awk '{ print } /^remote_smtp:/ { t = 1 }
         t && /^[ \t]*driver = smtp[ \t]*$/ { print ".ifdef MTASTS_TLSRPT_RECORD"
             print "  event_action = MTASTS_TLSRPT_EVENT"; print ".endif"; t = 0 }' \
        "$file" >"$file.new" && mv "$file.new" "$file" && chmod 644 "$file"
    check_eq "$V: set-up: remote_smtp records TLS outcomes (event_action added once)" \
        "$(grep -c '^  event_action = MTASTS_TLSRPT_EVENT$' "$file")" "$((before + 1))"
    local err
    err=$("$EXIM" -C "$CONF" -bV 2>&1 >/dev/null)
    check_eq "$V: set-up: the configuration with remote_smtp's event_action is valid" "$err" ""
}

run_tests() {
    record_remote_smtp || return
    # sendmail for the reporter: this variant's Exim, queueing only
    printf '#!/bin/sh\nexec %s -C %s -odq "$@"\n' "$EXIM" "$CONF" >"$D/sendmail"
    step chmod 755 "$D/sendmail"
    step tlsrpt_config
    check_the_checker
    deliver_all

    local m0 p0 pa0 mails posts out
    m0=$(reports_mail | wc -l); p0=$(posts_ok | wc -l); pa0=$(posts_all | wc -l)
    # The collector refuses the first POST with 503: it must be retried.
    step world-ctl collector-fail 1
    tlsrpt_send
    step world-ctl wait-mail reports $((m0 + N_MAIL)) 30
    sleep 1   # a duplicate would come right behind
    mails=$(reports_mail | after "$m0")
    posts=$(posts_ok | after "$p0")
    check_eq "$V: $N_MAIL reports by mail" "$(grep -c . <<<"$mails")" "$N_MAIL"
    check_eq "$V: $N_POST reports by HTTPS answered 200" "$(grep -c . <<<"$posts")" "$N_POST"
    local first503
    first503=$(after "$pa0" <"$WORLD_COLLECTOR_DIR/requests.log" | head -n1)
    check_grep "$V: the first POST got the 503 asked for" '^[0-9]+ [0-9]+ POST /tlsrpt/[^ ]+ 503 ' "$first503"
    check_eq "$V: the POST refused with 503 was retried and then accepted" \
        "$(after "$pa0" <"$WORLD_COLLECTOR_DIR/requests.log" | awk -v p="$(cut -d' ' -f4 <<<"$first503")" '$4 == p {print $5}' | tr '\n' ' ')" \
        "503 200 "

    local saved=$D/received
    rm -rf "$saved" && mkdir "$saved"
    out=$(
        # shellcheck disable=SC2086  # file names and request numbers: no spaces
        [ -z "$mails" ] || "${CHECK[@]}" --submitter "$SUBMITTER" --day "$DAY" --save-dir "$saved" mail $mails
        # shellcheck disable=SC2086
        [ -z "$posts" ] || "${CHECK[@]}" --submitter "$SUBMITTER" --day "$DAY" --save-dir "$saved" post $posts
    )
    local l
    while IFS= read -r l; do
        case $l in
            "ok - "*) ok "$V: ${l#ok - }" ;;
            "not ok - "*) not_ok "$V: ${l#not ok - }" ;;
        esac
    done <<<"$out"
    check_eq "$V: the reports hold exactly the sessions made, one per domain and destination" \
        "$(sed -n 's/^report //p' <<<"$out" | sort)" "$EXPECTED"
    # What a receiving domain does with them: mtasts tlsrpt read prints each.
    local gz rd rc n_read=0
    for gz in "$saved"/*.json.gz; do
        [ -e "$gz" ] || continue
        n_read=$((n_read + 1))
        rd=$("$HELPER" tlsrpt read "$gz" 2>&1) && rc=0 || rc=$?
        check_grep "$V: mtasts tlsrpt read $(basename "$gz"): exit 0 and a summary of the report" \
            "^0 report [^ ]+\$" "$rc $(head -n1 <<<"$rd")"
    done
    check_eq "$V: mtasts tlsrpt read: every report read" "$n_read" "$((N_MAIL + N_POST))"
    check_eq "$V: every report names the organization and contact configured" \
        "$(sed -n 's/^reporter //p' <<<"$out" | sort -u)" "$ORGANIZATION|postmaster@$SUBMITTER"
    check_eq "$V: every report has its own report-id" \
        "$(sed -n 's/^report-id //p' <<<"$out" | sort | uniq -d)" ""
    check_eq "$V: no report for a malformed record (none.test), two records (enforce-twomx.test) or none (nopolicy.test)" \
        "$(grep -cE '^report [a-z]+ (none|enforce-twomx|nopolicy)\.test ' <<<"$out")" 0

    # Again: everything was sent; nothing goes out twice.
    m0=$(reports_mail | wc -l); pa0=$(posts_all | wc -l)
    tlsrpt_send
    sleep 2   # what a queue run would still hand to the receiver
    check_eq "$V: a second send mails nothing" "$(reports_mail | wc -l)" "$m0"
    check_eq "$V: a second send posts nothing" "$(posts_all | wc -l)" "$pa0"
    check_eq "$V: nothing left in the queue" "$(x -bpc)" 0
    # (The test builds have no TRUSTED_CONFIG_LIST: their Exim, run with -C
    # as sendmail by the reporter, which runs as the Exim user, says it lost
    # privilege. A real installation's sendmail has no -C.)
    check_eq "$V: panic log clean" \
        "$(cat "$D/all-panic.log" "$D/log/paniclog" 2>/dev/null | grep -v ' exim user lost privilege for using -C option$')" ""
}

# The checker's self-check, with this variant's Exim: a report made as the
# RFC says (sample-report.py), submitted and signed like the reporter's,
# passes every check; damaged copies of it (a signed header changed, a
# missing header, another day) are refused. So the checks can pass and can fail.
check_the_checker() {
    local m0 f out bad=$D/bad.eml
    m0=$(reports_mail | wc -l)
    "$PY" "$HERE/sample-report.py" "$SUBMITTER" enforce.test "$DAY" tlsrpt@reports.test >"$D/sample.eml" ||
        { not_ok "$V: sample-report.py failed"; return; }
    step "$D/sendmail" -t -oi <"$D/sample.eml"
    step x -qff >/dev/null 2>&1
    step world-ctl wait-mail reports $((m0 + 1)) 30
    f=$(reports_mail | after "$m0" | head -n1)
    [ -n "$f" ] || { not_ok "$V: checker self-check: the sample report did not arrive"; return; }
    out=$("${CHECK[@]}" --submitter "$SUBMITTER" --day "$DAY" mail "$f")
    check_eq "$V: checker self-check: the sample report passes every check ($(grep -m3 '^not ok' <<<"$out" | tr '\n' ' '))" \
        "$(grep -c '^not ok' <<<"$out") $(grep -c '^ok' <<<"$out")" "0 $(grep -c '^ok' <<<"$out")"
    check_eq "$V: checker self-check: its summary" "$(sed -n 's/^report //p' <<<"$out")" \
        "mail enforce.test sts:S=2,F=1,certificate-expired=1@mx.enforce.test/127.0.2.3"
    # (Exim signs Subject by default, not the TLS-Report-* headers)
    sed '0,/^Subject: Report Domain:/s//Subject: Report domain:/' "$f" >"$bad"
    out=$("${CHECK[@]}" --submitter "$SUBMITTER" --day "$DAY" mail "$bad")
    check_grep "$V: checker self-check: a changed signed header fails DKIM" \
        '^not ok - .*DKIM signature verifies' "$out"
    sed '0,/^TLS-Report-Submitter:/s//TLS-Report-Submitter-X:/' "$f" >"$bad"
    out=$("${CHECK[@]}" --submitter "$SUBMITTER" --day "$DAY" mail "$bad")
    check_grep "$V: checker self-check: a report without TLS-Report-Submitter is refused" \
        '^not ok - .*TLS-Report-Submitter is' "$out"
    out=$("${CHECK[@]}" --submitter "$SUBMITTER" --day 2001-01-01 mail "$f")
    check_grep "$V: checker self-check: a report of another day is refused" '^not ok - .*date-range' "$out"
}

for variant in "${VARIANTS[@]}"; do
    t0=$SECONDS
    echo "# ---- $variant"
    setup_variant "$variant" && run_tests
    echo "# $variant: $((SECONDS - t0)) s"
done
# The reports are of the day the deliveries were made on.
check_eq "the run stayed within the UTC day $DAY (else run it again)" "$(date -u +%F)" "$DAY"
tally tlsrpt-world
