#!/usr/bin/env bash
# Self-test of the test world: run as  tests/world/run-in-world tests/world/selftest.sh
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed".
# The checks' "bash -c '...' _ ARGS" are expanded by the inner shell, on purpose.
# shellcheck disable=SC2016
set -euo pipefail

[ -n "${WORLD_DIR:-}" ] || { echo "selftest: run me inside tests/world/run-in-world" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CTL="$HERE/world-ctl"
FIX="$HERE/fixtures/domains"
T=$(mktemp -d "$WORLD_DIR/selftest.XXXXXX")
pass=0 fail=0

ok()    { echo "ok - $1"; pass=$((pass + 1)); }
notok() { echo "not ok - $1"; fail=$((fail + 1)); [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /' | head -n 15; }
# check DESC COMMAND...: passes when COMMAND succeeds; shows its output if not.
check() {
    local desc=$1 out; shift
    if out=$("$@" 2>&1); then ok "$desc"; else notok "$desc" "$out"; fi
}
has() { grep -q -- "$2" <<<"$1"; }           # has TEXT REGEX
hdr_flags() { grep -m1 '^;; flags:' <<<"$1"; }  # dig's flags line
q() { dig +dnssec +time=3 +tries=1 "$@" 2>&1 || true; }
status_of() { grep -o 'status: [A-Z]*' <<<"$1" | head -n1 | cut -d' ' -f2; }

# ---------------------------------------------------------------- DNS
r=$(q @"$WORLD_RESOLVER" _mta-sts.dane.test TXT)
check "signed zone: _mta-sts.dane.test TXT answered with AD" \
    bash -c 'grep -q "^;; flags:.* ad" <<<"$1" && grep -q "v=STSv1; id=dane1" <<<"$1"' _ "$r"
r=$(q @"$WORLD_RESOLVER" _25._tcp.mx.dane.test TLSA)
check "signed zone: TLSA of mx.dane.test answered with AD" \
    bash -c 'grep -q "^;; flags:.* ad" <<<"$1" && grep -q "TLSA.3 1 1" <<<"$1"' _ "$r"
r=$(q _mta-sts.enforce.test TXT)   # through /etc/resolv.conf
check "unsigned zone (via resolv.conf): answer without AD" \
    bash -c '! grep -q "^;; flags:.* ad" <<<"$1" && grep -q "v=STSv1; id=enforce1" <<<"$1"' _ "$r"
check "glibc getaddrinfo (AI_ADDRCONFIG too) resolves mx1.enforce.test" \
    bash -c '[ "$(getent ahostsv4 mx1.enforce.test | head -n1 | cut -d" " -f1)" = "$WORLD_RECEIVER_GOOD" ]'
r=$(q _mta-sts.bogus-dnssec.test TXT)
check "bogus-dnssec.test: SERVFAIL" test "$(status_of "$r")" = SERVFAIL
r=$(q +cd _mta-sts.bogus-dnssec.test TXT)
check "bogus-dnssec.test: data is there with +cd (so it is validation that fails)" \
    has "$r" 'v=STSv1; id=bogus1'
r=$(q _mta-sts.servfail.test TXT)
check "servfail.test (lame delegation): SERVFAIL" test "$(status_of "$r")" = SERVFAIL
r=$(q @"$WORLD_AUTH_DNS" +norec _mta-sts.enforce.test TXT)
check "NSD answers authoritatively on $WORLD_AUTH_DNS" \
    bash -c 'grep -q "^;; flags:.* aa" <<<"$1" && grep -q "id=enforce1" <<<"$1"' _ "$r"
start=$(date +%s%N)
r=$(dig +time=1 +tries=1 @"$WORLD_SILENT_DNS" enforce.test SOA 2>&1) && rc=0 || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "silent DNS on $WORLD_SILENT_DNS never answers (UDP)" \
    bash -c '[ "$1" -ne 0 ] && [ "$2" -ge 900 ]' _ "$rc" "$ms"
r=$(dig +tcp +time=1 +tries=1 @"$WORLD_SILENT_DNS" enforce.test SOA 2>&1) && rc=0 || rc=$?
check "silent DNS never answers (TCP)" test "$rc" -ne 0
r=$(q @"$WORLD_RESOLVER" mx.slow-dane.test A)
check "slow-dane.test: mx A answered with AD" \
    bash -c 'grep -q "^;; flags:.* ad" <<<"$1" && grep -q "A.$2" <<<"$1"' _ "$r" "$WORLD_RECEIVER_GOOD"
r=$(dig +time=2 +tries=1 @"$WORLD_RESOLVER" _25._tcp.mx.slow-dane.test TLSA 2>&1) && rc=0 || rc=$?
check "slow-dane.test: its TLSA name (behind the silent server) gets no answer" test "$rc" -ne 0
r=$(q _mta-sts.two-records.test TXT)
check "two-records.test: two v=STSv1 TXT records" \
    test "$(grep -c 'TXT.*"v=STSv1' <<<"$r")" = 2
r=$(q +short _mta-sts.multistring.test TXT)
check "multistring.test: one TXT of two character-strings" \
    test "$r" = '"v=STSv1; id=" "multi1;"'
r=$(q _mta-sts.cname.test TXT)
check "cname.test: CNAME to _mta-sts.target.cname-target.test with its TXT" \
    bash -c 'grep -q "CNAME.*_mta-sts.target.cname-target.test" <<<"$1" && grep -q "id=cname1" <<<"$1"' _ "$r"
r=$(q +short _mta-sts.id-too-long.test TXT)
id=$(sed -n 's/.*id=\([A-Za-z0-9]*\).*/\1/p' <<<"$r")
check "id-too-long.test: id of 33 characters" test "${#id}" = 33
r=$(q +short _mta-sts.other-txt.test TXT)
check "other-txt.test: one unrelated + one STSv1 TXT" \
    bash -c '[ "$(wc -l <<<"$1")" = 2 ] && grep -q "id=other1" <<<"$1"' _ "$r"
check "not-sts.test: only v=STSv2" test "$(q +short _mta-sts.not-sts.test TXT)" = '"v=STSv2; id=x"'
check "nopolicy.test: no _mta-sts record (NXDOMAIN)" \
    test "$(status_of "$(q _mta-sts.nopolicy.test TXT)")" = NXDOMAIN
# The preload fixtures (tests/preload): an absence that proves nothing, and one that does.
r=$(q @"$WORLD_RESOLVER" _mta-sts.preload-stripped.test TXT)
check "preload-stripped.test: no _mta-sts (NXDOMAIN), not authenticated (no AD)" \
    bash -c '[ "$(grep -o "status: [A-Z]*" <<<"$1")" = "status: NXDOMAIN" ] && ! grep -q "^;; flags:.* ad" <<<"$1"' _ "$r"
r=$(q @"$WORLD_RESOLVER" _mta-sts.preload-proven.test TXT)
check "preload-proven.test: no _mta-sts (NXDOMAIN), DNSSEC-authenticated (AD)" \
    bash -c '[ "$(grep -o "status: [A-Z]*" <<<"$1")" = "status: NXDOMAIN" ] && grep -q "^;; flags:.* ad" <<<"$1"' _ "$r"
check "preload-servfail.test: _mta-sts TXT SERVFAIL, its MX answered" \
    bash -c '[ "$(grep -o "status: [A-Z]*" <<<"$1")" = "status: SERVFAIL" ] && [ "$(dig +short preload-servfail.test MX)" = "10 mx.preload-servfail.test." ]' \
    _ "$(q @"$WORLD_RESOLVER" _mta-sts.preload-servfail.test TXT)"
check "no-mtasts-host.test: mta-sts name is NXDOMAIN" \
    test "$(status_of "$(q mta-sts.no-mtasts-host.test A)")" = NXDOMAIN
check "enforce-twomx.test: MX 10 expired + MX 20 good receiver" \
    bash -c '[ "$(dig +short enforce-twomx.test MX | sort | tr "\n" " ")" = "10 mx1.enforce-twomx.test. 20 mx2.enforce-twomx.test. " ] &&
             [ "$(dig +short mx1.enforce-twomx.test)" = "$WORLD_RECEIVER_EXPIRED" ] &&
             [ "$(dig +short mx2.enforce-twomx.test)" = "$WORLD_RECEIVER_GOOD" ]'

# ---------------------------------------------------------------- HTTPS
url() { echo "https://mta-sts.$1/.well-known/mta-sts.txt"; }
body=$(curl -sS --max-time 5 "$(url enforce.test)" 2>&1) || true
check "curl with the default system trust gets enforce.test's policy" \
    test "$body" = "$(cat "$FIX/enforce.test/policy")"
body=$(curl -sS --max-time 5 --cacert "$WORLD_CA" "$(url enforce.test)" 2>&1) || true
check "curl --cacert \$WORLD_CA gets the same policy" \
    test "$body" = "$(cat "$FIX/enforce.test/policy")"
check "the system bundle still holds the distribution's CAs too" \
    test "$(grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt)" -gt 1
for p in expired wrongname selfsigned; do
    out=$(curl -sS --max-time 5 -o /dev/null "$(url https-$p.test)" 2>&1) && rc=0 || rc=$?
    check "https-$p.test fails verification (curl $rc)" \
        bash -c '[ "$1" = 60 ] || [ "$1" = 51 ] || [ "$1" = 35 ]' _ "$rc"
done
check "the world CA is in the hashed directory (openssl verify -CApath /etc/ssl/certs)" \
    openssl verify -CApath /etc/ssl/certs "$WORLD_DIR/certs/https-good.crt"
check "https-cnonly.test: CA-signed, valid, subject CN only (no subjectAltName)" \
    bash -c 'openssl verify -CApath /etc/ssl/certs "$1" >/dev/null &&
             ! openssl x509 -noout -ext subjectAltName -in "$1" | grep -q DNS: &&
             openssl x509 -noout -subject -in "$1" | grep -q "CN = mta-sts.https-cnonly.test"' \
    _ "$WORLD_DIR/certs/https-cnonly.crt"
check "content-type-hostile.test: ESC, 8-bit bytes and a bare CR in the Content-Type" \
    bash -c 'curl -sS --max-time 5 -D - -o /dev/null "$1" | grep -a "^Content-Type:" |
             od -An -tx1 | tr -d " \n" | grep -q "1b5b324a.*ff9b0d"' \
    _ "$(url content-type-hostile.test)"
check "https-expired.test is served when not verifying (curl -k)" \
    bash -c 'curl -sSk --max-time 5 "$1" | grep -q "mode: enforce"' _ "$(url https-expired.test)"
check "openssl s_client (system trust) rejects the expired HTTPS cert" \
    bash -c '! openssl s_client -connect "$WORLD_HTTPS_IP:443" -servername mta-sts.https-expired.test -verify_return_error </dev/null >/dev/null 2>&1'
hdrs() { curl -sS --max-time "${2:-5}" -D - -o "$T/body" "$(url "$1")" 2>&1 || true; }
h=$(hdrs redirect.test)
check "redirect.test: 302 with a Location" \
    bash -c 'grep -q "^HTTP/1.1 302" <<<"$1" && grep -qi "^Location: https://mta-sts.enforce.test/" <<<"$1"' _ "$h"
check "http404.test: 404" has "$(hdrs http404.test)" '^HTTP/1.1 404'
check "http500.test: 500" has "$(hdrs http500.test)" '^HTTP/1.1 500'
h=$(hdrs oversize.test)
check "oversize.test: Content-Length 70000 and 70000 bytes" \
    bash -c 'grep -qi "^Content-Length: 70000" <<<"$1" && [ "$(stat -c %s "$2")" = 70000 ] && head -n1 "$2" | grep -q "version: STSv1"' _ "$h" "$T/body"
h=$(hdrs chunked-oversize.test)
check "chunked-oversize.test: chunked, no Content-Length, 200 KiB" \
    bash -c 'grep -qi "^Transfer-Encoding: chunked" <<<"$1" && ! grep -qi "^Content-Length" <<<"$1" && [ "$(stat -c %s "$2")" = 204800 ]' _ "$h" "$T/body"
h=$(hdrs chunked.test)
check "chunked.test: chunked, body is the policy" \
    bash -c 'grep -qi "^Transfer-Encoding: chunked" <<<"$1" && cmp -s "$2" "$3"' _ "$h" "$T/body" "$FIX/chunked.test/policy"
check "charset.test: text/plain; charset=utf-8" has "$(hdrs charset.test)" '^Content-Type: text/plain; charset=utf-8'
check "content-type.test: text/html" has "$(hdrs content-type.test)" '^Content-Type: text/html'
h=$(hdrs crlf.test)
check "crlf.test: policy with CRLF line ends" \
    bash -c '[ "$(tr -cd "\r" < "$1" | wc -c)" = 4 ]' _ "$T/body"
start=$(date +%s)
out=$(curl -sS --max-time 3 -D - -o /dev/null "$(url slow.test)" 2>&1) && rc=0 || rc=$?
check "slow.test: headers, then the body trickles (curl times out: $rc)" \
    bash -c '[ "$1" = 28 ] && grep -q "^HTTP/1.1 200" <<<"$2"' _ "$rc" "$out"
slow_does_not_block() {
    curl -sS --max-time 3 "$(url slow.test)" >/dev/null 2>&1 &
    local pid=$! r=0
    sleep 0.3
    curl -sS --max-time 2 "$(url charset.test)" | grep -q "mode: enforce" || r=1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return "$r"
}
check "a slow client does not block the server" slow_does_not_block
out=$(curl -sS --max-time 5 "$(url https-close.test)" 2>&1) && rc=0 || rc=$?
check "https-close.test: TLS then closed without a response (curl $rc)" test "$rc" = 52
out=$(curl -sS --max-time 5 "$(url https-down.test)" 2>&1) && rc=0 || rc=$?
check "https-down.test: mta-sts host at 127.0.1.2, connection refused (curl $rc)" \
    bash -c '[ "$1" = 7 ] && [ "$(dig +short mta-sts.https-down.test)" = 127.0.1.2 ]' _ "$rc"
check "request log: 2 requests for mta-sts.enforce.test so far" \
    test "$("$CTL" https-count enforce.test)" = 2
check "request log line format: time sni host path status" \
    bash -c 'grep -Eq "^[0-9]+ mta-sts.redirect.test mta-sts.redirect.test /.well-known/mta-sts.txt 302$" "$WORLD_HTTPS_LOG"'
check "https-close.test logged with status close" \
    bash -c 'grep -q " mta-sts.https-close.test /.well-known/mta-sts.txt close$" "$WORLD_HTTPS_LOG"'

# ---------------------------------------------------------------- SMTP
swk() { swaks --silent 1 --timeout 10 --from selftest@world.test "$@" 2>&1; }
newest() { "$CTL" mail "$1" | tail -n1; }
if out=$(swk --to x@enforce.test --server "$WORLD_RECEIVER_GOOD" --tls --tls-sni mx1.enforce.test); then
    ok "swaks --tls to the good receiver"
else
    notok "swaks --tls to the good receiver" "$out"
fi
if "$CTL" wait-mail good 1 10; then
    m=$(newest good)
    check "message in good's Maildir with X-World-Receiver" grep -q '^X-World-Receiver: good$' "$m"
    check "X-World-TLS shows cipher, version and SNI" \
        grep -Eq '^X-World-TLS: cipher=TLS1\.[23]:[^ ]+ version=TLS1\.[23] sni=mx1\.enforce\.test$' "$m"
else
    notok "message in good's Maildir"
fi
vfy() {  # receiver-ip name: PKIX-verify the receiver's STARTTLS cert with the system trust
    openssl s_client -starttls smtp -connect "$1:25" -servername "$2" -verify_hostname "$2" \
        -verify_return_error </dev/null >/dev/null 2>&1
}
check "good receiver's cert verifies for mx1.enforce.test (system trust)" vfy "$WORLD_RECEIVER_GOOD" mx1.enforce.test
check "good2 receiver's cert verifies for unlisted.enforce-unlisted.test" vfy "$WORLD_RECEIVER_GOOD2" unlisted.enforce-unlisted.test
fails() { ! "$@"; }
check "expired receiver's cert fails verification" fails vfy "$WORLD_RECEIVER_EXPIRED" mx.enforce-expired.test
check "wrongname receiver's cert fails verification" fails vfy "$WORLD_RECEIVER_WRONGNAME" mx.enforce-wrongname.test
check "selfsigned receiver's cert fails verification" fails vfy "$WORLD_RECEIVER_SELFSIGNED" mx.enforce-selfsigned.test
check "expired receiver's cert is otherwise fine (verifies with -attime a week ago)" \
    openssl s_client -starttls smtp -connect "$WORLD_RECEIVER_EXPIRED:25" -verify_hostname mx.enforce-expired.test \
        -attime "$(( $(date +%s) - 7 * 86400 ))" -verify_return_error </dev/null
out=$(swaks --timeout 10 --server "$WORLD_RECEIVER_NOSTARTTLS" --quit-after EHLO 2>&1) || true
check "nostarttls receiver does not offer STARTTLS" \
    bash -c 'grep -q "^<-  250 HELP" <<<"$1" && ! grep -q "^<-  250.STARTTLS" <<<"$1"' _ "$out"
out=$(swk --to x@enforce-nostarttls.test --server "$WORLD_RECEIVER_NOSTARTTLS") && rc=0 || rc=$?
if [ "$rc" = 0 ] && "$CTL" wait-mail nostarttls 1 10; then
    check "cleartext message: X-World-TLS empty" grep -Eq '^X-World-TLS: ?$' "$(newest nostarttls)"
else
    notok "cleartext delivery to nostarttls" "$out"
fi
spki() {  # receiver-ip: sha256 of the served certificate's public key
    openssl s_client -starttls smtp -connect "$1:25" </dev/null 2>/dev/null |
        openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}
good_spki=$(spki "$WORLD_RECEIVER_GOOD")
check "dane.test: TLSA 3 1 1 matches the good receiver's key" \
    test "$(dig +short _25._tcp.mx.dane.test TLSA | tr -d ' ' | tr A-F a-f)" = "311$good_spki"
check "dane-fail.test: TLSA does not match its MX's key" \
    bash -c 't=$(dig +short _25._tcp.mx.dane-fail.test TLSA | tr -d " " | tr A-F a-f); [ -n "$t" ] && [ "$t" != "311$1" ]' _ "$good_spki"

# A sending stock Exim, as the module's tests will use one: MX lookups through
# the resolver, PKIX verification with the default "system" trust (GnuTLS
# reads the bind-mounted bundle), DANE from AD-flagged TLSA answers.
S="$T/sender"
mkdir -p "$S/spool" "$S/log" && chown -R Debian-exim:Debian-exim "$S" && chmod 755 "$T"
cat > "$S/exim.conf" <<EXIMCONF
primary_hostname = sender.world
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = $S/spool
log_file_path = $S/log/%slog
keep_environment =
dns_dnssec_ok = 1
begin routers
dnslookup:
  driver = dnslookup
  transport = smtp
  dnssec_request_domains = *
begin transports
smtp:
  driver = smtp
  hosts_require_tls = *
  tls_verify_hosts = *
  tls_verify_certificates = system
  tls_verify_cert_hostnames = *
  hosts_try_dane = *
  hosts_require_dane = \${if match_domain{\$domain}{dane.test:dane-fail.test}{*}{}}
begin retry
*  *  F,1h,1h
EXIMCONF
chmod 644 "$S/exim.conf"
"$CTL" exim-trust "$S/exim.conf"
for d in enforce.test enforce-expired.test dane.test dane-fail.test; do
    printf 'Subject: selftest to %s\n\nhello\n' "$d" |
        /usr/sbin/exim4 -C "$S/exim.conf" -odf -f s@sender.world "x@$d" 2>&1 || true
done
log=$(cat "$S/log/mainlog" 2>/dev/null || true)
check "sender Exim: enforce.test delivered, cert verified by system trust (CV=yes)" \
    has "$log" "=> x@enforce.test R=dnslookup T=smtp H=mx1.enforce.test \[$WORLD_RECEIVER_GOOD\] X=TLS1.*CV=yes"
check "sender Exim: enforce-expired.test deferred, certificate verification failed" \
    has "$log" '== x@enforce-expired.test .*certificate verification failed'
check "sender Exim: dane.test delivered with DANE (CV=dane)" \
    has "$log" '=> x@dane.test .*CV=dane'
check "sender Exim: dane-fail.test deferred, DANE mismatch" \
    has "$log" '== x@dane-fail.test .*certificate verification failed'
check "sender Exim kept root privilege (world-ctl exim-trust)" \
    bash -c '! grep -q "lost privilege" "$1"' _ "$S/log/mainlog"

# ---------------------------------------------------------------- world-ctl
check "world-ctl txt: new id visible at once" \
    bash -c '"$1" txt idchange.test "v=STSv1; id=idchange2" && [ "$(dig +short _mta-sts.idchange.test TXT)" = "\"v=STSv1; id=idchange2\"" ]' _ "$CTL"
check "world-ctl txt --delete: NXDOMAIN at once" \
    bash -c '"$1" txt idchange.test --delete && dig _mta-sts.idchange.test TXT | grep -q "status: NXDOMAIN"' _ "$CTL"
check "world-ctl txt on a signed zone: re-signed, still AD" \
    bash -c '"$1" txt dane.test "v=STSv1; id=dane2" && r=$(dig +dnssec _mta-sts.dane.test TXT) && grep -q "^;; flags:.* ad" <<<"$r" && grep -q "id=dane2" <<<"$r"' _ "$CTL"
printf 'version: STSv1\nmode: testing\nmx: mx.idchange.test\nmax_age: 600\n' > "$T/p"
check "world-ctl policy + https: served at the next request" \
    bash -c '"$1" policy idchange.test "$2" && "$1" https idchange.test ok-charset &&
             curl -sS -D - "https://mta-sts.idchange.test/.well-known/mta-sts.txt" | grep -q "charset=utf-8" &&
             curl -sS "https://mta-sts.idchange.test/.well-known/mta-sts.txt" | grep -q "mode: testing"' _ "$CTL" "$T/p"
check "world-ctl https status 404" \
    bash -c '"$1" https idchange.test status 404 && [ "$(curl -s -o /dev/null -w "%{http_code}" https://mta-sts.idchange.test/.well-known/mta-sts.txt)" = 404 ]' _ "$CTL"
check "world-ctl https-count counts idchange.test's 3 requests" test "$("$CTL" https-count idchange.test)" = 3

# ---------------------------------------------------------------- TLSRPT
check "enforce.test publishes _smtp._tls with a mailto: rua" \
    test "$(dig +short _smtp._tls.enforce.test TXT)" = '"v=TLSRPTv1; rua=mailto:tlsrpt@reports.test"'
check "none.test publishes a malformed _smtp._tls (no ';' after the version)" \
    test "$(dig +short _smtp._tls.none.test TXT)" = '"v=TLSRPTv1 rua=mailto:tlsrpt@reports.test"'
check "reports.test's MX is the reports receiver" \
    test "$(dig +short "$(dig +short reports.test MX | cut -d' ' -f2)")" = "$WORLD_RECEIVER_REPORTS"
if out=$(swk --to tlsrpt@reports.test --server mx.reports.test --tls --tls-verify --tls-sni mx.reports.test) &&
    "$CTL" wait-mail reports 1 10; then
    check "the reports receiver keeps a message for tlsrpt@reports.test" \
        grep -qx 'Envelope-to: tlsrpt@reports.test' "$(newest reports)"
else
    notok "the reports receiver keeps a message for tlsrpt@reports.test" "$out"
fi
# DKIM: the public key in DNS is the one of the key file the test Exims sign with.
dkim_p=$(dig +short mail._domainkey.submitter.test TXT | tr -d '" ' | sed -n 's/.*;p=//p')
check "submitter.test: the DKIM record (s=tlsrpt) holds \$WORLD_DKIM_DIR/mail.key's public key" \
    bash -c '[ -n "$1" ] && [ "$1" = "$(openssl pkey -in "$2" -pubout -outform DER | base64 -w0)" ] &&
             dig +short mail._domainkey.submitter.test TXT | tr -d "\" " | grep -q "s=tlsrpt;"' _ "$dkim_p" "$WORLD_DKIM_DIR/mail.key"
check "the DKIM key is readable by the Exim user, not by others" \
    bash -c '[ "$(stat -c %a:%G "$1")" = 640:Debian-exim ]' _ "$WORLD_DKIM_DIR/mail.key"
post() {  # PATH: POST a small body to the collector, print the status
    curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/tlsrpt+gzip' \
        --data-binary "@$T/post" "https://collector.test$1" 2>&1 || true
}
printf 'body\0\1\2' > "$T/post"
check "collector: POST with the system trust gets 200" test "$(post /tlsrpt/a)" = 200
check "collector: kept the body and the headers" \
    bash -c 'cmp -s "$1/posts/000001.body" "$2" && grep -qi "^Content-Type: application/tlsrpt+gzip" "$1/posts/000001.head" &&
             head -n1 "$1/posts/000001.head" | grep -q "^POST /tlsrpt/a HTTP/1.1"' _ "$WORLD_COLLECTOR_DIR" "$T/post"
"$CTL" collector-fail 2 && got=$(post /b)$(post /b)$(post /b) || got="collector-fail failed"
check "collector: world-ctl collector-fail 2 gives 503, 503, then 200" test "$got" = 503503200
check "collector: world-ctl collector-log has every request with its status" \
    bash -c '[ "$("$1" collector-log | cut -d" " -f3-5 | tr "\n" ,)" = "POST /tlsrpt/a 200,POST /b 503,POST /b 503,POST /b 200," ]' _ "$CTL"

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
