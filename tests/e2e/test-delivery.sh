#!/usr/bin/env bash
# End-to-end: real messages through a sending Exim configured with the
# exim-config-snippets, to the test world's receivers, for each variant of
# tests/e2e/lib.sh (4.96 4.98 4.100 with the lookup module, stock-split,
# stock-single and stock-smarthost: Debian's exim4 and configuration through
# ${dlfunc}).
# Each test starts from an empty queue and retry database and checks the
# receiver's Maildir, the sender's log and queue, and that no bounce exists.
#
#   tests/world/run-in-world bash tests/e2e/test-delivery.sh [VARIANT...]
#
# (or E2E_VARIANTS="4.96 stock-split"; E2E_BUILD=DIR for another build
# directory than build/). Ends with "e2e: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
if [ $# -gt 0 ]; then VARIANTS=("$@"); else read -r -a VARIANTS <<<"${E2E_VARIANTS:-4.96 4.98 4.100 stock-split stock-single stock-smarthost}"; fi
for f in "$HELPER" "$DLFUNC"; do [ -e "$f" ] || { echo "missing $f: run make all modules"; exit 2; }; done

work=$(mktemp -d /var/tmp/mtasts-e2e.XXXXXX); chmod 755 "$work"
RUN=$(printf '%04x' $((RANDOM)))   # in recipients: a kept world's Maildirs stay unambiguous
unmount_modules() { local v; for v in "${VARIANTS[@]}"; do case $v in 4.*)   # private_module's
    while mountpoint -q "$(exim_prefix "$v")/lookups"; do umount "$(exim_prefix "$v")/lookups" || break; done ;; esac; done; }
trap '[ -f "$work/resolv.conf" ] && cat "$work/resolv.conf" >/etc/resolv.conf; unmount_modules; rm -rf "$work"' EXIT

# ------------------------------------------------------------ the snippets
# The single-file parts are generated from the split files: check they are
# up to date (a stale copy would be tested by nothing).
bash "$ROOT/tests/e2e/make-single-file.sh" "$work/single" >/dev/null
for v in lookup dlfunc; do
    if cmp -s "$work/single/exim4.conf.mtasts-$v" "$SNIP/single-file/exim4.conf.mtasts-$v"; then
        ok "single-file/exim4.conf.mtasts-$v is up to date with the split files"
    else
        not_ok "single-file/exim4.conf.mtasts-$v differs from the split files: run tests/e2e/make-single-file.sh"
    fi
done
# Every setting of the snippets appears in docs/exim-configuration.md (but
# the options copied from Debian's remote_smtp and the long address list).
missing=$(for f in "$SPLIT"/*/*; do
    grep -v '^#\|^$\|^\.\(ifdef\|ifndef\|endif\)\|debug_print\|REMOTE_SMTP\|DKIM\|TLS_DH\|IGNORE_SMTP\|message_linelength\|^MTASTS_IGNORE_TARGET_HOSTS =' "$f" |
        sed 's/^ *//' | while IFS= read -r l; do
            grep -qF -- "$l" "$ROOT/docs/exim-configuration.md" || echo "$(basename "$f"): $l"
        done
done)
check_eq "every snippet line is in docs/exim-configuration.md" "$missing" ""
# update-exim4.conf ignores conf.d files with other characters (e.g. a dot).
check_eq "split files: the conf.d file names are valid for update-exim4.conf" \
    "$(find "$SPLIT" -type f -printf '%f\n' | grep -cv '^[[:alnum:]_-]*$')" 0

# the common checks of a delivered message
check_delivered() {  # NAME RCPT RECEIVER LOG_REGEX
    local name=$1 rcpt=$2 rcv=$3 re=$4
    check_grep "$V: $name: received (log)" "<= $SENDER " "$(mainlog)"
    check_grep "$V: $name: delivered (log)" "=> $rcpt $re" "$(mainlog)"
    check_eq "$V: $name: received by $rcv" "$(receivers_of "$rcpt")" "$rcv"
    check_eq "$V: $name: nothing left in the queue" "$(x -bpc)" 0
}
check_tls_received() {  # NAME RCPT SNI
    local tls; tls=$(header_of "$2" X-World-TLS)
    check_grep "$V: $1: received over TLS with SNI $3" "^cipher=TLS[^ ]+ version=TLS[^ ]+ sni=$3\$" "$tls"
}
# the common checks of a deferred message: still queued, never bounced
check_deferred() {  # NAME RCPT LOG_REGEX
    local name=$1 rcpt=$2 re=$3
    check_grep "$V: $name: received (log)" "<= $SENDER " "$(mainlog)"
    check_grep "$V: $name: deferred (log)" "== $rcpt $re" "$(mainlog)"
    check_eq "$V: $name: still queued" "$(x -bpr | awk -v r="$rcpt" '$1==r' | wc -l)" 1
    check_no_bounce "$name"
    check_eq "$V: $name: no receiver got it" "$(receivers_of "$rcpt" 3)" ""
}
check_no_bounce() {
    if grep -q ' <= <> ' "$D/log/mainlog" || x -bp | grep -q '<>'; then
        not_ok "$V: $1: a bounce was generated"
    else
        ok "$V: $1: no bounce"
    fi
}
# retry_still_deferred NAME RCPT: a forced retry (-M) defers again
retry_still_deferred() {
    cat "$D/log/mainlog" >>"$D/all.log"; : >"$D/log/mainlog"
    x -M "$(queue_id "$2")" 2>/dev/null
    check_grep "$V: $1: forced retry deferred again" "== $2 " "$(mainlog)"
    check_eq "$V: $1: still queued after the retry" "$(x -bpr | awk -v r="$2" '$1==r' | wc -l)" 1
    check_no_bounce "$1 (retry)"
}

# World changes, undone by restore_world (only what was changed).
IDC=$ROOT/tests/world/fixtures/domains/idchange.test
DFC=$ROOT/tests/world/fixtures/domains/dane-fail.test
CHANGED=" idchange.test nopolicy.test dane.test dane-fail.test "   # unknown at the start
set_mx() { local d=$1; shift; world-ctl rr "$d" @ MX "$@" >/dev/null; CHANGED="$CHANGED $d "; }
set_policy() {  # DOMAIN ID MODE MX_PATTERN...
    local d=$1 id=$2 mode=$3; shift 3
    { printf 'version: STSv1\nmode: %s\n' "$mode"; printf 'mx: %s\n' "$@"; printf 'max_age: 86400\n'; } |
        world-ctl policy "$d" - >/dev/null
    world-ctl txt "$d" "v=STSv1; id=$id" >/dev/null
    CHANGED="$CHANGED $d "
}
# tlsa311 RECEIVER: the TLSA 3 1 1 data of a receiver's key (as the fixture's @TLSA311:r@)
tlsa311() {
    openssl x509 -in "$WORLD_DIR/certs/rcv-$1.crt" -pubkey -noout |
        openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}
restore_world() {
    case $CHANGED in *" idchange.test "*)
        world-ctl policy idchange.test "$IDC/policy" >/dev/null
        world-ctl https idchange.test ok >/dev/null
        world-ctl rr idchange.test @ MX "10 mx" >/dev/null
        world-ctl txt idchange.test 'v=STSv1; id=idchange1' >/dev/null ;;
    esac
    case $CHANGED in *" nopolicy.test "*) world-ctl rr nopolicy.test @ MX "10 mx" >/dev/null ;; esac
    case $CHANGED in *" dane.test "*)
        world-ctl rr dane.test _25._tcp.mx TLSA "3 1 1 $(tlsa311 good)" >/dev/null ;;
    esac
    case $CHANGED in *" dane-fail.test "*)
        world-ctl policy dane-fail.test "$DFC/policy" >/dev/null
        world-ctl rr dane-fail.test @ MX "10 mx" >/dev/null
        world-ctl txt dane-fail.test 'v=STSv1; id=danefail1' >/dev/null ;;
    esac
    CHANGED=" "
}
# forget DOMAIN: drop it from the store, so that the next delivery fetches
# the policy now published (instead of waiting for the TXT recheck).
# (exit 1: it was not there, which is as good; anything else fails the test)
forget() {
    local rc=0
    "$HELPER" cache flush --store "$D/store" "$1" >/dev/null 2>&1 || rc=$?
    [ "$rc" -le 1 ] || not_ok "$V: set-up step: forget $1 (mtasts cache flush exit $rc)"
}
# idchange_policy ID MODE MX_PATTERN...: a new policy for idchange.test,
# in force for the next delivery
idchange_policy() { set_policy idchange.test "$@"; forget idchange.test; }

CERTFAIL='certificate verif(y|ication) failed|certificate.*(expired|not trusted|invalid)|verify error'

# ------------------------------------------------------------ the tests
run_tests() {
    local t=${V//./}-$RUN   # local-part tag: unique per variant and run
    local r

    # enforce, good MX: delivered over TLS, certificate verified.
    fresh; r=enforce-$t@enforce.test; send "$r"
    check_delivered "enforce.test" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx1.enforce.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_tls_received "enforce.test" "$r" mx1.enforce.test
    check_eq "$V: enforce.test: policy looked up (mode, id)" \
        "$(lookup enforce.test mode) $(lookup enforce.test id)" "enforce enforce1"

    # Issue 17: the snippets add one smtp transport (mtasts_smtp), and make
    # Debian's unused remote_smtp_smarthost load its CA bundle only when it
    # connects: a queue run preloads the bundle for remote_smtp and
    # mtasts_smtp only, as many as Debian's configuration without them.
    fresh
    printf 'Subject: preload\n\nhi\n' | x -odq -f "$SENDER" "preload-$t@nopolicy.test"
    check_eq "$V: a queue run preloads the CA bundle for remote_smtp and mtasts_smtp only" \
        "$(x -d+tls -qf 2>&1 | sed -nE "s/.*TLS: preloading CA bundle for transport ['\"]?([a-z_]+).*/\1/p" | sort | tr '\n' ' ')" \
        "mtasts_smtp remote_smtp "

    # enforce, certificate failures: deferred, kept, not bounced; a forced
    # retry defers again.
    local d rcv
    for d in expired wrongname selfsigned; do
        fresh; r=$d-$t@enforce-$d.test; send "$r"
        check_deferred "enforce-$d.test" "$r" \
            "R=mtasts_enforce T=mtasts_smtp defer( \(-37\))? H=mx.enforce-$d.test \[[0-9.]+\]: TLS session: .*($CERTFAIL)"
        [ $d = expired ] && retry_still_deferred "enforce-$d.test" "$r"
    done

    # "TLS-Required: No" (RFC 8689 section 5): the recipient's TLS policies
    # do not stop the message. enforce-expired.test (its MX certificate has
    # expired; deferred above without the header) and dane-fail.test (DANE
    # fails; deferred below without it): delivered, over TLS, and logged.
    fresh; r=tlsreqno-$t@enforce-expired.test; HEADER='TLS-Required: No' send "$r"
    check_delivered "TLS-Required: No, expired certificate" "$r" expired \
        "R=mtasts_tls_not_required T=mtasts_smtp H=mx.enforce-expired.test \[[0-9.]+\] X=TLS[^ ]+ CV=no"
    check_grep "$V: TLS-Required: No: logged" \
        'MTA-STS: enforce-expired.test policy [^ ]+ \(enforce\) not applied to message [^ ]+: it has "TLS-Required: No"' "$(mainlog)"
    fresh; r=tlsreqnodane-$t@dane-fail.test; HEADER='tls-required:   NO ' send "$r"
    check_delivered "TLS-Required: No, DANE fails" "$r" good \
        "R=mtasts_tls_not_required T=mtasts_smtp H=mx.dane-fail.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    # switched off (MTASTS_HONOUR_TLS_REQUIRED_NO = no): the policy applies
    local conf0=$CONF
    CONF=$D/exim-tlsreq.conf
    sed '/^MTASTS_OPTIONS = /a MTASTS_HONOUR_TLS_REQUIRED_NO = no' "$conf0" >"$CONF"; chmod 644 "$CONF"
    [ "$V" = "${V#stock}" ] || world-ctl exim-trust "$CONF"
    fresh; r=tlsreqoff-$t@enforce-expired.test; HEADER='TLS-Required: No' send "$r"
    check_deferred "TLS-Required: No, not honoured" "$r" \
        "R=mtasts_enforce T=mtasts_smtp defer( \(-37\))? H=mx.enforce-expired.test \[[0-9.]+\]: TLS session: .*($CERTFAIL)"
    CONF=$conf0

    # enforce, no STARTTLS: deferred, never sent in clear.
    fresh; r=nostarttls-$t@enforce-nostarttls.test; send "$r"
    check_deferred "enforce-nostarttls.test" "$r" \
        "R=mtasts_enforce T=mtasts_smtp defer( \(-38\))? H=mx.enforce-nostarttls.test \[127.0.2.6\]: a TLS session is required"

    # enforce, MX 10 expired certificate, MX 20 good: delivered through 20.
    fresh; r=twomx-$t@enforce-twomx.test; DEBUG=-d+transport send "$r"
    check_delivered "enforce-twomx.test" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx2.enforce-twomx.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_grep "$V: enforce-twomx.test: MX 10 (expired) was tried first" \
        "Connecting to mx1.enforce-twomx.test \[127.0.2.3\]" "$(cat "$D/debug")"
    check_eq "$V: enforce-twomx.test: the expired receiver got nothing" \
        "$(receivers_of "$r" | grep -c expired)" 0

    # enforce, MX 10 not in the policy: never contacted.
    fresh; r=unlisted-$t@enforce-unlisted.test; DEBUG=-d+host_lookup+transport+lookup send "$r"
    check_delivered "enforce-unlisted.test" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=listed.enforce-unlisted.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_grep "$V: enforce-unlisted.test: the router ignored the unlisted MX" \
        "ignored host unlisted.enforce-unlisted.test \[127.0.2.2\]" "$(cat "$D/debug")"
    check_eq "$V: enforce-unlisted.test: no connection to the unlisted MX" \
        "$(grep -c 'Connecting to .*127\.0\.2\.2' "$D/debug")" 0
    check_eq "$V: enforce-unlisted.test: no delivery attempt to it in the log" \
        "$(mainlog | grep -c '127\.0\.2\.2')" 0
    # ... but the main log says that the policy excludes it, once per
    # domain and policy id (a second message: no second line)
    check_grep "$V: enforce-unlisted.test: the first message looks the MX names up for the log" \
        "mxh=enforce-unlisted.test" "$(cat "$D/debug")"
    r=unlisted2-$t@enforce-unlisted.test; DEBUG=-d+lookup send "$r"
    check_eq "$V: enforce-unlisted.test: second message delivered" "$(receivers_of "$r")" good
    # (the check and its DNS query run for the first message of the day only)
    check_eq "$V: enforce-unlisted.test: no MX lookup for the log line of the second message" \
        "$(grep -c 'mxh=enforce-unlisted.test' "$D/debug")" 0
    check_eq "$V: enforce-unlisted.test: the skipped MX host logged once" \
        "$(mainlog | grep -c 'MTA-STS: enforce-unlisted.test policy unlisted1: MX host unlisted.enforce-unlisted.test matches no mx pattern (listed.enforce-unlisted.test), not used$')" 1

    # testing, expired certificate: delivered, and the log says why
    # enforce would have refused.
    fresh; r=testing-$t@testing.test; send "$r"
    check_delivered "testing.test" "$r" expired \
        "R=mtasts_testing T=mtasts_smtp H=mx.testing.test \[127.0.2.3\] X=TLS[^ ]+ CV=no"
    check_tls_received "testing.test" "$r" mx.testing.test
    check_grep "$V: testing.test: the would-have-refused line" \
        "MTA-STS testing: testing.test policy testing1: enforce would have refused H=mx.testing.test \[127.0.2.3\]: certificate not verified\$" "$(mainlog)"

    # Issue 17: as shipped (this configuration without the two switches
    # lib.sh adds), the testing report and TLSRPT recording are off, so
    # mtasts_smtp has no event_action: Exim then never copies certificates
    # for tls:cert events. The same testing delivery: no report line, no
    # recorded session.
    local shipped=$D/exim-shipped.conf recorded
    conf0=$CONF
    shipped_conf "$shipped" || not_ok "$V: writing $shipped"
    check_eq "$V: the test configuration switches both reports on" \
        "$(grep -cxE 'MTASTS_(TESTING_REPORT|TLSRPT_RECORD) = yes' "$CONF") $(grep -cE '^MTASTS_(TESTING_REPORT|TLSRPT_RECORD) *=' "$shipped")" "2 0"
    check_grep "$V: with the switches, mtasts_smtp has an event_action" \
        '^event_action = .' "$(x -bP transport mtasts_smtp)"
    check_eq "$V: as shipped, mtasts_smtp has no event_action, not even an empty one" \
        "$(transport_event_lines "$shipped" mtasts_smtp)" 0
    recorded=$("$HELPER" tlsrpt show --store "$D/store" testing.test 2>&1)
    CONF=$shipped
    fresh; r=testing-shipped-$t@testing.test; send "$r"
    check_delivered "testing.test, snippets as shipped" "$r" expired \
        "R=mtasts_testing T=mtasts_smtp H=mx.testing.test \[127.0.2.3\] X=TLS[^ ]+ CV=no"
    check_eq "$V: as shipped: no would-have-refused line" "$(mainlog | grep -c 'MTA-STS testing')" 0
    check_eq "$V: as shipped: no TLS session recorded" \
        "$("$HELPER" tlsrpt show --store "$D/store" testing.test 2>&1)" "$recorded"
    CONF=$conf0

    # no policy, and mode none: the normal router and transport.
    for d in nopolicy none; do
        fresh; r=$d-$t@$d.test; send "$r"
        check_delivered "$d.test" "$r" good "R=dnslookup T=remote_smtp H=mx.$d.test \[127.0.2.1\] X=TLS"
        check_eq "$V: $d.test: no MTA-STS log line" "$(mainlog | grep -c 'MTA-STS')" 0
    done

    # DANE: Exim's DANE decides.
    fresh; r=dane-$t@dane.test; send "$r"
    check_delivered "dane.test" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.dane.test \[127.0.2.1\] X=TLS[^ ]+ CV=dane"
    check_eq "$V: dane.test: the lookup reports dane=all" "$(lookup dane.test dane)" all
    check_eq "$V: dane.test: Exim sees DNSSEC: no trust-ad hint in the log" "$(mainlog | grep -c 'trust-ad')" 0
    fresh; r=danefail-$t@dane-fail.test; send "$r"
    check_eq "$V: dane-fail.test: MTA-STS alone would pass (enforce, dane=all, mx listed)" \
        "$(lookup dane-fail.test mode) $(lookup dane-fail.test dane) $(lookup dane-fail.test mx)" \
        "enforce all mx.dane-fail.test"
    check_deferred "dane-fail.test" "$r" "R=mtasts_enforce T=mtasts_smtp defer( \(-37\))? H=mx.dane-fail.test \[127.0.2.1\]"

    # dane=all, and the TLSA record has just gone (the store, fetched just
    # before with recheck=3600, still says dane=all): the host gets the MTA-STS
    # checks instead of DANE. Delivered, verified; never a bounce (as
    # hosts_require_dane would make it: "DANE error: tlsa lookup FAIL").
    local conf1=$CONF
    CONF=$D/exim-recheck.conf
    sed 's/recheck=1,/recheck=3600,/' "$conf1" >"$CONF"; chmod 644 "$CONF"
    [ "$V" = "${V#stock}" ] || world-ctl exim-trust "$CONF"
    fresh; r=stale-$t@dane.test
    forget dane.test
    check_eq "$V: dane.test, TLSA gone: the store said dane=all" "$(RECHECK=3600 lookup dane.test dane)" all
    world-ctl rr dane.test _25._tcp.mx TLSA --delete >/dev/null; CHANGED="$CHANGED dane.test "
    send "$r"
    check_delivered "dane.test, TLSA gone" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.dane.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_no_bounce "dane.test, TLSA gone"
    CONF=$conf1
    restore_world

    # A resolver that does not pass the AD bit on (no "options trust-ad"):
    # Exim sees no DNSSEC, so it cannot do DANE. The mail is not held: it
    # is delivered under the MTA-STS rules (MX filter, PKIX-verified TLS),
    # also for dane-fail.test (whose TLSA record is wrong, but Exim cannot
    # know it). The log says once that Exim's resolver hides DNSSEC.
    cp /etc/resolv.conf "$work/resolv.conf"
    sed 's/trust-ad//' "$work/resolv.conf" >/etc/resolv.conf   # the world's own copy
    # (the check runs when the lookup says daily=yes: the first answer of a
    # day, or a policy new to the store, as both are here)
    forget dane.test; forget dane-fail.test
    fresh; r=noad-$t@dane.test; send "$r"
    local r2=noad2-$t@dane.test r3=noadfail-$t@dane-fail.test
    DEBUG=-d+lookup send "$r2"; local dbg2; dbg2=$(cat "$D/debug"); send "$r3"
    cat "$work/resolv.conf" >/etc/resolv.conf
    # the check (an MX query) runs for the first message of the day (or of
    # a new policy) only
    check_eq "$V: resolver without AD: no MX query for the check of the 2nd message" \
        "$(grep -c 'dnssec_lax,mx=dane.test' <<<"$dbg2")" 0
    check_delivered "dane.test, resolver without AD" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.dane.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_delivered "dane.test, resolver without AD, 2nd message" "$r2" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.dane.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_delivered "dane-fail.test, resolver without AD" "$r3" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.dane-fail.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_no_bounce "resolver without AD"
    check_eq "$V: resolver without AD: logged once per domain" \
        "$(mainlog | grep -c 'MTA-STS: dane.test has DNSSEC-validated TLSA records (dane=all), but Exim.s resolver does not report its MX records as DNSSEC-validated, so Exim cannot use DANE for it: if /etc/resolv.conf lacks "options trust-ad", add it') $(mainlog | grep -c 'MTA-STS: dane-fail.test has DNSSEC-validated')" "1 1"

    # A new policy id: the new policy applies (recheck=1). The new policy
    # names only an MX (added to idchange.test's MX set) that leads to the
    # good2 receiver.
    restore_world
    fresh; r=idc1-$t@idchange.test; send "$r"
    check_delivered "idchange.test policy 1" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.idchange.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    set_mx idchange.test "10 mx" "20 unlisted.enforce-unlisted.test."
    set_policy idchange.test idchange1 enforce unlisted.enforce-unlisted.test   # same id
    sleep 1.1   # the id is rechecked: unchanged, so the stored policy stays
    fresh; r=idc2-$t@idchange.test; send "$r"
    check_delivered "idchange.test new policy, same id: the cached policy still applies" "$r" good \
        "R=mtasts_enforce T=mtasts_smtp H=mx.idchange.test \[127.0.2.1\]"
    world-ctl txt idchange.test "v=STSv1; id=idchange2${t//-/}" >/dev/null
    sleep 1.1   # the new id is seen at the next recheck
    fresh; r=idc3-$t@idchange.test; send "$r"
    check_delivered "idchange.test new id: the new policy applies" "$r" good2 \
        "R=mtasts_enforce T=mtasts_smtp H=unlisted.enforce-unlisted.test \[127.0.2.2\] X=TLS[^ ]+ CV=yes"
    check_eq "$V: idchange.test new id: the lookup has it" "$(lookup idchange.test id)" "idchange2${t//-/}"

    # enforce, no MX matches the policy: the defer router, no bounce.
    idchange_policy "nomatch${t//-/}" enforce nothing.idchange.test
    fresh; r=nomatch-$t@idchange.test; send "$r"
    check_deferred "enforce, no MX matches" "$r" \
        "R=mtasts_enforce_defer defer( \(-[0-9]+\))?: MTA-STS policy nomatch${t//-/} of idchange.test: no usable MX host matches nothing.idchange.test"

    # testing, good MX: no report, also for messages sent over a connection
    # passed on from an earlier delivery (-qqff).
    idchange_policy "testok${t//-/}" testing mx.idchange.test
    fresh
    local i
    for i in 1 2 3; do printf 'Subject: t %s\n\nhi\n' "$i" | x -odq -f "$SENDER" "testok$i-$t@idchange.test"; done
    x -qqff 2>/dev/null
    for i in $(seq 1 100); do [ "$(x -bpc)" = 0 ] && break; sleep 0.1; done
    check_eq "$V: testing, good MX: 3 messages delivered" \
        "$(mainlog | grep -cE '=> testok[0-9]-[^ ]*@idchange.test R=mtasts_testing T=mtasts_smtp H=mx.idchange.test')" 3
    check_eq "$V: testing, good MX: no would-have-refused line" "$(mainlog | grep -c 'MTA-STS testing')" 0

    # testing, MX not in the policy (TLS fine): delivered, logged.
    idchange_policy "testmx${t//-/}" testing other.idchange.test
    fresh; r=testmx-$t@idchange.test; send "$r"
    check_delivered "testing, MX not in the policy" "$r" good \
        "R=mtasts_testing T=mtasts_smtp H=mx.idchange.test \[127.0.2.1\] X=TLS[^ ]+ CV=yes"
    check_grep "$V: testing, MX not in the policy: logged" \
        "MTA-STS testing: idchange.test policy testmx${t//-/}: enforce would have refused H=mx.idchange.test \[127.0.2.1\]: MX host not in the policy\$" "$(mainlog)"

    # testing, MX not in the policy and no STARTTLS: delivered in clear,
    # both reasons logged.
    set_mx idchange.test "10 mx.enforce-nostarttls.test."
    idchange_policy "testing${t//-/}" testing mx.idchange.test
    fresh; r=testing2-$t@idchange.test; send "$r"
    check_delivered "testing, unlisted MX without TLS" "$r" nostarttls \
        "R=mtasts_testing T=mtasts_smtp H=mx.enforce-nostarttls.test \[127.0.2.6\]"
    check_eq "$V: testing, unlisted MX without TLS: received in clear" "$(header_of "$r" X-World-TLS)" ""
    check_grep "$V: testing, unlisted MX without TLS: both reasons logged" \
        "MTA-STS testing: idchange.test policy testing${t//-/}: enforce would have refused H=mx.enforce-nostarttls.test \[127.0.2.6\]: MX host not in the policy, no TLS\$" "$(mainlog)"
    restore_world

    # dane=some: dane-fail.test gets a second MX without TLSA (good2's
    # unlisted.enforce-unlisted.test, PKIX-valid) in a new policy. The
    # DANE host fails DANE and is not used; the other is used under
    # MTA-STS rules (PKIX and name).
    set_mx dane-fail.test "10 mx" "20 unlisted.enforce-unlisted.test."
    set_policy dane-fail.test "some${t//-/}" enforce mx.dane-fail.test unlisted.enforce-unlisted.test
    forget dane-fail.test
    fresh; r=some-$t@dane-fail.test; send "$r"
    check_eq "$V: dane=some: the lookup says so" "$(lookup dane-fail.test dane)" some
    check_delivered "dane=some" "$r" good2 \
        "R=mtasts_enforce T=mtasts_smtp H=unlisted.enforce-unlisted.test \[127.0.2.2\] X=TLS[^ ]+ CV=yes"
    check_grep "$V: dane=some: the DANE host failed DANE and was not used" \
        "DANE attempt failed.*mx.dane-fail.test \[127.0.2.1\]" "$(mainlog)"
    restore_world

    # Connection reuse. idchange.test (enforce), nopolicy.test (no policy)
    # and dane-fail.test (testing) share enforce.test's MX host: queued
    # messages for all four go out in a two-stage queue run (-qqff), which
    # passes open connections on. Rules: a connection is reused only within
    # one transport (remote_smtp or mtasts_smtp) and to the same host; a
    # connection opened for a testing message (maybe unverified) is never
    # passed on, so it cannot carry an enforce message. Each receiving
    # connection is the receiver's process, the middle part of its id.
    set_mx idchange.test "10 mx1.enforce.test."
    set_mx nopolicy.test "10 mx1.enforce.test."
    set_mx dane-fail.test "10 mx1.enforce.test."
    set_policy dane-fail.test "reusetest${t//-/}" testing mx1.enforce.test
    forget dane-fail.test
    idchange_policy "shared${t//-/}" enforce mx1.enforce.test
    fresh
    local dom
    for i in 1 2; do
        for dom in dane-fail.test enforce.test nopolicy.test idchange.test; do
            printf 'Subject: reuse %s\n\nhi\n' "$i" | x -odq -f "$SENDER" "reuse$i-$t@$dom"
        done
    done
    printf 'Subject: reuse both\n\nhi\n' | x -odq -f "$SENDER" "reuse3-$t@enforce.test" "reuse3-$t@nopolicy.test"
    x -qqff 2>/dev/null
    for i in $(seq 1 100); do [ "$(x -bpc)" = 0 ] && break; sleep 0.1; done
    sleep 0.3
    local deliveries conns mixed cont
    deliveries=$(mainlog | grep -E '(=>|->) reuse')
    check_eq "$V: reuse: all 10 deliveries made" "$(wc -l <<<"$deliveries")" 10
    # "TRANSPORT CONNECTION" per delivery
    conns=$(sed -nE 's/.* T=([^ ]+) .*id=[^-]+-([^-]+)-.*/\1 \2/p' <<<"$deliveries")
    mixed=$(sort -u <<<"$conns" | awk '{print $2}' | sort | uniq -d | wc -l)
    check_eq "$V: reuse: no connection carried two transports" "$mixed" 0
    # "ROUTER CONNECTION" in log order: no enforce delivery on a connection
    # that carried a testing delivery before
    check_eq "$V: reuse: no testing connection carried an enforce message" \
        "$(sed -nE 's/.* R=([^ ]+) .*id=[^-]+-([^-]+)-.*/\1 \2/p' <<<"$deliveries" |
           awk '$1=="mtasts_testing"{t[$2]=1} $1=="mtasts_enforce" && t[$2]{print}')" ""
    check_eq "$V: reuse: domains routed by their own policy" \
        "$(grep -c 'reuse[0-9]-[^ ]*@nopolicy.test R=dnslookup T=remote_smtp' <<<"$deliveries") $(grep -c '@idchange.test R=mtasts_enforce T=mtasts_smtp' <<<"$deliveries") $(grep -c '@dane-fail.test R=mtasts_testing T=mtasts_smtp' <<<"$deliveries")" "3 2 2"
    cont=$(grep -E 'R=mtasts_enforce T=mtasts_smtp H=mx1.enforce.test \[127.0.2.1\]\*' <<<"$deliveries")
    if [ -n "$cont" ]; then
        ok "$V: reuse: a verified enforce connection was passed on to the next message ($(wc -l <<<"$cont") continued)"
        case $V in
            4.96|4.98|stock*) echo "# $V: on a continued connection Exim logs $(grep -oE 'CV=[a-z]+' <<<"$cont" | sort -u | tr '\n' ' ')(the -MC process is not told the first check's result)" ;;
            *) check_eq "$V: reuse: continued connections log CV=yes" "$(grep -oE 'CV=[a-z]+' <<<"$cont" | sort -u)" "CV=yes" ;;
        esac
    else
        not_ok "$V: reuse: no continued connection in: $deliveries"
    fi
    restore_world

    # Verification (-bv here; verify = recipient in ACLs) skips the MTA-STS
    # routers (no_verify): no policy fetch while a client waits.
    local c out
    c=$(world-ctl https-count charset.test)
    out=$(x -bv "verify-$t@charset.test" 2>&1)
    check_grep "$V: verification: address verified" "verify-$t@charset.test verified" "$out"
    check_eq "$V: verification: no policy fetched" "$(world-ctl https-count charset.test)" "$c"

    # A configuration error (bad lookup option) defers the address: never
    # bounced, never delivered without the policy.
    out=$(x -DMTASTS_OPTIONS=nonsense=1 -bt "bad-$t@enforce.test" 2>&1)
    check_grep "$V: bad option: routing defers" \
        "bad-$t@enforce.test cannot be resolved at this time: .*mtasts_policy router.*unknown option" "$out"

    # Nothing unexpected in the panic log (the test builds log their -C
    # privilege drop for -MC re-execs, see send()).
    fresh
    # (text_of: a log that cannot be read is not a clean one)
    check_eq "$V: panic log clean" "$(text_of "$D/all-panic.log" | grep -v 'lost privilege for using -C')" ""
    check_eq "$V: no taint complaint in the logs" "$(text_of "$D/all.log" "$D/all-panic.log" | grep -ci 'taint\|^(cannot read')" 0
}

# Smart host (RFC 8461 section 3.4), Debian's configuration type smarthost
# as update-exim4.conf generates it: the smart host's domain is the policy
# domain, and its enforce policy applies to the connection to it, whatever
# the recipient domain.
run_smarthost_tests() {
    local t=sh-$RUN r conf0=$CONF
    # no CA bundle load for the (unused) mtasts_smtp in a queue run
    fresh
    printf 'Subject: preload\n\nhi\n' | x -odq -f "$SENDER" "preload-$t@nopolicy.test"
    check_eq "$V: a queue run preloads the CA bundle for Debian's transports only" \
        "$(x -d+tls -qf 2>&1 | sed -nE "s/.*TLS: preloading CA bundle for transport ['\"]?([a-z_]+).*/\1/p" | sort | tr '\n' ' ')" \
        "remote_smtp remote_smtp_smarthost "
    fresh; r=sh-$t@nopolicy.test; send "$r"
    check_delivered "smart host smarthost.test (enforce)" "$r" good2 \
        "R=mtasts_smarthost T=remote_smtp_smarthost H=smarthost.test \[127.0.2.2\] X=TLS[^ ]+ CV=yes"
    check_eq "$V: the smart host's policy was looked up" "$(lookup smarthost.test mode) $(lookup smarthost.test id)" "enforce smarthost1"
    fresh; r=sh2-$t@testing.test; send "$r"
    check_delivered "smart host, recipient domain with its own policy" "$r" good2 \
        "R=mtasts_smarthost T=remote_smtp_smarthost H=smarthost.test \[127.0.2.2\] X=TLS[^ ]+ CV=yes"
    # The smart host's certificate has expired: deferred, not bounced.
    CONF=$D/exim-expired.conf
    if SMARTHOST=smarthost-expired.test conf_debian true; then
        fresh; r=shx-$t@nopolicy.test; send "$r"
        check_deferred "smart host with an expired certificate" "$r" \
            "R=mtasts_smarthost T=remote_smtp_smarthost defer( \(-37\))? H=smarthost-expired.test \[127.0.2.3\]: TLS session: .*($CERTFAIL)"
        retry_still_deferred "smart host with an expired certificate" "$r"
        # ... unless the message says "TLS-Required: No" (RFC 8689)
        fresh; r=shno-$t@nopolicy.test; HEADER='TLS-Required: No' send "$r"
        check_delivered "smart host with an expired certificate, TLS-Required: No" "$r" expired \
            "R=smarthost T=remote_smtp_smarthost H=smarthost-expired.test \[127.0.2.3\] X=TLS[^ ]+ CV=no"
    fi
    CONF=$conf0
    fresh
    check_eq "$V: panic log clean" "$(cat "$D/all-panic.log")" ""
}

restore_world
for variant in "${VARIANTS[@]}"; do
    t0=$SECONDS
    echo "# ---- $variant"
    if ! setup_variant "$variant"; then
        :
    elif [ "$variant" = stock-smarthost ]; then
        run_smarthost_tests
    else
        run_tests
    fi
    echo "# $variant: $((SECONDS - t0)) s"
done
restore_world
tally e2e
