#!/usr/bin/env bash
# mtasts tlsrpt send and read (RFC 8460 reports) against the test world:
#   tests/world/run-in-world bash tests/tlsrpt/test-report.sh
# Outcomes come from the helper itself (a policy fetch failing with HTTP 404
# is recorded as sts-policy-fetch-error against http404.test); the domain's
# _smtp._tls record is set here with world-ctl. Mail goes to a stand-in
# sendmail that keeps each message; HTTPS goes to tests/tlsrpt/post-collector.py
# with a world-CA certificate. Ends with "tlsrpt-report: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
M=${MTASTS:-build/mtasts}
PY=${PYTHON:-python3}
[ -x "$M" ] || make -s cli >/dev/null || { echo "tlsrpt-report: 0 passed, 1 failed"; exit 1; }
if [ -z "${WORLD_DIR:-}" ]; then
    echo "not ok - must run inside the test world: tests/world/run-in-world bash $0"
    echo "tlsrpt-report: 0 passed, 1 failed"; exit 1
fi
tmp=$(mktemp -d)
collector=
trap '[ -n "$collector" ] && kill "$collector" 2>/dev/null; rm -rf "$tmp"' EXIT
source tests/cli/lib.sh
setup() { "$@" && return 0; nok "set-up step: $*" "exit $?"; echo "tlsrpt-report: $pass passed, $fail failed"; exit 1; }

# As root, send works as the Exim user: the store and the outputs are theirs.
chmod 755 "$tmp"
S=$tmp/store
setup mkdir "$S" "$tmp/mail" "$tmp/post"
setup chown Debian-exim: "$S" "$tmp/mail" "$tmp/post"
ST=(--store "$S")
DAY=$(date -u +%F)
D=http404.test
OPTS="tlsrpt_submitter=sender.test tlsrpt_sender=noreply@sender.test tlsrpt_sendmail=$tmp/sendmail"

# A stand-in for sendmail -t -oi: keeps its arguments and the message.
cat > "$tmp/sendmail" <<EOS
#!/bin/sh
n=\$(ls "$tmp/mail" | grep -c '\.eml\$')
echo "\$*" > "$tmp/mail/\$((n + 1)).args"
cat > "$tmp/mail/\$((n + 1)).eml"
EOS
setup chmod 755 "$tmp/sendmail"

# An HTTPS collector with a world-CA certificate for collector.$D.
setup world-ctl rr $D collector A 127.0.3.1
setup openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=collector.$D" \
    -keyout "$tmp/c.key" -out "$tmp/c.csr" 2>/dev/null
printf 'subjectAltName=DNS:collector.%s\n' "$D" > "$tmp/c.ext"
setup openssl x509 -req -in "$tmp/c.csr" -CA "$WORLD_DIR/ca/ca.crt" -CAkey "$WORLD_DIR/ca/ca.key" \
    -CAcreateserial -CAserial "$tmp/c.srl" -days 2 -extfile "$tmp/c.ext" -out "$tmp/c.crt" 2>/dev/null
start_collector() {   # STATUSES
    [ -n "$collector" ] && { kill "$collector"; wait "$collector" 2>/dev/null; }
    rm -f "$tmp/post/"*
    "$PY" tests/tlsrpt/post-collector.py 127.0.3.1 8443 "$tmp/c.crt" "$tmp/c.key" "$tmp/post" "$1" &
    collector=$!
    for _ in $(seq 50); do [ -f "$tmp/post/ready" ] && return 0; sleep 0.1; done
    nok "set-up step: the collector starts"; return 1
}
posts() { [ -f "$tmp/post/log" ] && wc -l < "$tmp/post/log" || echo 0; }
mails() { ls "$tmp/mail" | grep -c '\.eml$'; }

# ------------------------------------------------------------ outcomes
# The helper records the failed fetch (HTTP 404) against the policy domain
# when a delivery asked (mtasts resolve, as the adapters run it; mtasts query
# records nothing since b256246).
"$M" resolve --options "store=$S" $D >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" = 1 ] && ok "set-up: a delivery's helper run for $D fails the fetch" \
    || nok "set-up: a delivery's helper run for $D fails the fetch" "exit $rc, want 1" "$(cat "$tmp/err")"

# ------------------------------------------------------------ no or bad record
t "send: no _smtp._tls record: nothing sent, exit 0" 0 --out "^none +$DAY $D: no TLSRPT record" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS"
setup world-ctl rr $D _smtp._tls TXT 'v=TLSRPTv1; rua=reports'
setup world-ctl flush $D
t "send: malformed record: nothing sent, exit 0, says why" 0 --out "^none +$DAY $D: .*rua \"reports\": not a URI" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS"
[ "$(mails)" = 0 ] && ok "send: no mail without a valid record" || nok "send: no mail without a valid record"
t "send --quiet: a malformed record is no news for cron" 0 --out '^$' --err '^$' \
    -- tlsrpt send --quiet --day "$DAY" "${ST[@]}" --options "$OPTS"

# ------------------------------------------------------------ default day
# Without --day: yesterday (and the tlsrpt_give_up days before), never the
# day still under way.
t "send: by default not today's outcomes (the day is not over)" 0 --out '^$' \
    -- tlsrpt send "${ST[@]}" --options "$OPTS"

# ------------------------------------------------------------ dry run
MAILTO="mailto:tlsrpt@reports.$D"
URL="https://collector.$D:8443/v1/tlsrpt"
setup world-ctl rr $D _smtp._tls TXT "v=TLSRPTv1; rua=$MAILTO,$URL"
setup world-ctl flush $D
setup start_collector 503,200
run "$M" tlsrpt send --dry-run --day "$DAY" "${ST[@]}" --options "$OPTS"
if [ "$rc" = 0 ] && "$PY" - "$out" "$DAY" "$D" "$MAILTO" "$URL" <<'EOP'
import json, sys
out, day, dom, mailto, url = sys.argv[1:]
blocks, cur = [], None
for line in out.splitlines():
    if line.startswith("# "):
        cur = [line, []]; blocks.append(cur)
    else:
        cur[1].append(line)
assert [b[0].split()[4] for b in blocks] == [mailto, url], [b[0] for b in blocks]
for head, body in blocks:
    r = json.loads("\n".join(body))
    assert r["date-range"] == {"start-datetime": day + "T00:00:00Z", "end-datetime": day + "T23:59:59Z"}, r["date-range"]
    assert r["organization-name"] == "sender.test" and r["contact-info"] == "postmaster@sender.test"
    assert head.endswith("(report-id %s)" % r["report-id"]), head
    [p] = r["policies"]
    assert p["policy"]["policy-type"] == "sts" and p["policy"]["policy-domain"] == dom, p
    assert p["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": 1}, p["summary"]
    [d] = p["failure-details"]
    assert d["result-type"] == "sts-policy-fetch-error" and d["failed-session-count"] == 1, d
    assert "HTTP 404" in d.get("additional-information", "") + d.get("failure-reason-code", ""), d
EOP
then ok "send --dry-run: one RFC 8460 report per destination, the recorded failure"
else nok "send --dry-run: one RFC 8460 report per destination" "exit $rc" "${out:0:600}" "${err:0:300}"; fi
[ "$(mails)" = 0 ] && [ "$(posts)" = 0 ] && ok "send --dry-run: sends nothing" \
    || nok "send --dry-run: sends nothing" "mails $(mails) posts $(posts)"
t "send --dry-run: marks nothing (the real run sends)" 0 --out "^# $DAY $D -> $MAILTO" \
    -- tlsrpt send --dry-run --day "$DAY" "${ST[@]}" --options "$OPTS"

# ------------------------------------------------------------ send
t "send: mail and HTTPS (503, retried, then 200), exit 0" 0 --out "^sent +$DAY $D -> $URL" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_retry_time=10"
grep -q "^retry  $URL in 1 s: .*HTTP 503" <<<"$out" && ok "send: the 503 is retried after 1 s" \
    || nok "send: the 503 is retried after 1 s" "$out"
[ "$(mails)" = 1 ] && [ "$(cat "$tmp/mail/1.args")" = "-t -oi -f noreply@sender.test" ] \
    && ok "send: one mail through sendmail -t -oi -f SENDER" || nok "send: one mail through sendmail -t -oi" "mails $(mails)" "$(cat "$tmp/mail/1.args" 2>&1)"
[ "$(posts)" = 2 ] && [ "$(cut -d' ' -f2- "$tmp/post/log" | tr '\n' '|')" = "503 /v1/tlsrpt application/tlsrpt+gzip $(stat -c %s "$tmp/post/1.body")|200 /v1/tlsrpt application/tlsrpt+gzip $(stat -c %s "$tmp/post/2.body")|" ] \
    && ok "send: POST with Content-Type application/tlsrpt+gzip, twice (503, 200)" \
    || nok "send: POST application/tlsrpt+gzip twice" "$(cat "$tmp/post/log" 2>&1)"

# The mail: RFC 8460 5.3 headers and MIME structure, the report inside.
if "$PY" - "$tmp/mail/1.eml" "$D" "$tmp/att.gz" <<'EOP'
import email, email.policy, gzip, json, re, sys
path, dom, att = sys.argv[1:]
m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
assert m["To"] == "tlsrpt@reports." + dom and m["From"] == "noreply@sender.test", (m["To"], m["From"])
assert m["TLS-Report-Domain"] == dom and m["TLS-Report-Submitter"] == "sender.test"
sub = re.fullmatch(r"Report Domain: (\S+) Submitter: (\S+) Report-ID: <(\S+)>", str(m["Subject"]))
assert sub and sub.group(1) == dom and sub.group(2) == "sender.test", m["Subject"]
assert m.get_content_type() == "multipart/report" and m.get_param("report-type") == "tlsrpt"
parts = list(m.iter_parts())
assert [p.get_content_type() for p in parts] == ["text/plain", "application/tlsrpt+gzip"]
fn = parts[1].get_filename()
assert re.fullmatch(r"sender\.test!%s!\d+!\d+!(\w+)\.json\.gz" % re.escape(dom), fn), fn
data = parts[1].get_content()
open(att, "wb").write(data)
r = json.loads(gzip.decompress(data))
assert r["report-id"] == sub.group(3), (r["report-id"], sub.group(3))
assert fn.split("!")[4].split(".")[0] == r["report-id"].replace("-", "")
EOP
then ok "send: the mail has the 5.3 headers, subject, multipart/report parts and file name"
else nok "send: the mail has the 5.3 headers and parts"; fi
t "read: the mailed .json.gz is a valid report" 0 --out "^ +1 x sts-policy-fetch-error" -- tlsrpt read "$tmp/att.gz"
"$PY" -c 'import gzip,json,sys; json.loads(gzip.decompress(open(sys.argv[1],"rb").read()))' "$tmp/post/2.body" \
    && ok "send: the POST body is the gzip report" || nok "send: the POST body is the gzip report"

# ------------------------------------------------------------ exactly once
t "send again: both destinations skipped as already sent, exit 0" 0 \
    --out "^skip +$DAY $D -> $URL: already sent" -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS"
grep -q "^skip   $DAY $D -> $MAILTO: already sent" <<<"$out" && [ "$(mails)" = 1 ] && [ "$(posts)" = 2 ] \
    && ok "send again: no second mail, no third POST" || nok "send again: nothing resent" "$out" "mails $(mails) posts $(posts)"

# ------------------------------------------------------------ crash
# A run killed after sendmail took the report, before it was marked sent:
# the next run sends it again, with the same report-id (the receiver can
# deduplicate). The stand-in sendmail keeps the message, then kills the
# mtasts run that started it (its parent, started by this test).
cat > "$tmp/sendmail-crash" <<EOS
#!/bin/sh
cat > "$tmp/mail/crash.eml"
kill -9 \$PPID
EOS
setup chmod 755 "$tmp/sendmail-crash"
CRASH="mailto:crash@reports.$D"
setup world-ctl rr $D _smtp._tls TXT "v=TLSRPTv1; rua=$CRASH"
setup world-ctl flush $D
run "$M" tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_sendmail=$tmp/sendmail-crash"
[ "$rc" = 137 ] && [ -s "$tmp/mail/crash.eml" ] && ok "crash: the run died after submitting (set-up)" \
    || nok "crash: the run died after submitting (set-up)" "exit $rc" "$out" "$err"
t "crash: the next run sends it again and says so" 0 \
    --out "^resend $DAY $D -> $CRASH: an earlier run stopped while sending it" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS"
subject() { sed -n 's/^Subject: //p' "$1"; }
last=$(ls "$tmp/mail"/*.eml | grep -v crash | sort -V | tail -1)
[ "$(subject "$tmp/mail/crash.eml")" = "$(subject "$last")" ] && grep -q "Report-ID: <" "$tmp/mail/crash.eml" \
    && ok "crash: the resent report has the same report-id" \
    || nok "crash: the resent report has the same report-id" "$(subject "$tmp/mail/crash.eml")" "$(subject "$last")"
t "crash: and then it is sent" 0 --out "^skip +$DAY $D -> $CRASH: already sent" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS"

# ------------------------------------------------------------ retry, give up
URL2="https://collector.$D:8443/down"
setup world-ctl rr $D _smtp._tls TXT "v=TLSRPTv1; rua=$MAILTO,$URL,$URL2"
setup world-ctl flush $D
setup start_collector 503
t "send: a collector that keeps failing: exit 1, a later run retries" 1 \
    --err "$URL2: HTTP 503; a later run retries" -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_retry_time=0"
t "send: past tlsrpt_give_up: one more try, then given up with a log line" 1 \
    --err "$URL2: HTTP 503; giving up" -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_retry_time=0 tlsrpt_give_up=0"
t "send: a given-up report is not tried again" 0 --out "^skip +$DAY $D -> $URL2: given up earlier" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_retry_time=0"
[ "$(posts)" = 2 ] && ok "send: two POSTs to the failing collector in all" || nok "send: two POSTs in all" "$(posts)"

# ------------------------------------------------------------ private addresses
# The world allows them (allow_private_policy_host = yes in mtasts.conf); by
# default a rua cannot point the reporter into its own network.
URL3="https://collector.$D:8443/private"
setup world-ctl rr $D _smtp._tls TXT "v=TLSRPTv1; rua=$URL3"
setup world-ctl flush $D
t "send: a collector on a non-public address is refused by default" 1 \
    --err "$URL3: refused: non-public address 127\.0\.3\.1 \(allow_private_policy_host\); a later run" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_retry_time=0 allow_private_policy_host=no"
[ "$(posts)" = 2 ] && ok "send: nothing reached the private collector" || nok "send: nothing reached the private collector" "$(posts)"

# ------------------------------------------------------------ switches, usage
t "send: tlsrpt_send=no sends nothing" 0 --out "tlsrpt_send is no" \
    -- tlsrpt send --day "$DAY" "${ST[@]}" --options "$OPTS tlsrpt_send=no"
t "send: --day must be a day" 2 --err "not a day" -- tlsrpt send --day 2025-02-30 "${ST[@]}"
t "send: unknown argument" 2 --err "usage" -- tlsrpt send extra "${ST[@]}"
t "tlsrpt: no subcommand" 2 --err "usage: mtasts tlsrpt send" -- tlsrpt

# ------------------------------------------------------------ read
C=tests/fuzz/corpus/tlsrpt_read
t "read: RFC 8460's example (JSON)" 0 --out "^policy +sts for company-y\.example \(mx: \*\.mail\.company-y\.example\)$" \
    -- tlsrpt read $C/rfc-example.json
grep -qE "^ +200 x starttls-not-supported at mx2\.mail\.company-y\.example \[203\.0\.113\.56\]" <<<"$out" \
    && grep -q "^total    5326 successful, 303 failed sessions in 1 policy$" <<<"$out" \
    && ok "read: failure rows and totals" || nok "read: failure rows and totals" "$out"
t "read: gzip from stdin" 0 --out "^report 5065427c-23d3-47ca-b6e0-946ea0e8c4be$" --in $C/rfc-example.json.gz -- tlsrpt read -
t "read: a duplicate key is refused" 1 --out '^$' --err "not a valid TLSRPT report: JSON: .*duplicate" \
    -- tlsrpt read $C/duplicate-key.json
t "read: a missing field is named" 1 --err 'policies\[0\]: "summary" missing' --in <(printf '%s' \
    '{"organization-name":"x","date-range":{"start-datetime":"a","end-datetime":"b"},"contact-info":"c","report-id":"r","policies":[{"policy":{"policy-type":"sts","policy-domain":"d"}}]}') \
    -- tlsrpt read -
t "read: remote text is printed escaped" 0 --out '^  from:    x\\x1b\[2J' -- tlsrpt read $C/escape.json
t "read: truncated gzip" 1 --err "gzip" --in <(head -c 100 $C/rfc-example.json.gz) -- tlsrpt read -
t "read: session counts whose total overflows are refused" 1 --out '^$' \
    --err "policies\[1\]: session counts add up to more than 9223372036854775807" \
    -- tlsrpt read $C/counts-overflow.json
t "read: no such file" 3 --err "No such file" -- tlsrpt read "$tmp/none.json"

# A received report is network input: read as root (the file is root's
# alone), parsed as the Exim user. Its summary is longer than a pipe holds,
# so the reader blocks writing it, after the parse, while its uid is looked at.
setup "$PY" -c '
import json, sys
d = [{"result-type": "certificate-expired", "receiving-mx-hostname": "mx%d.example" % i,
      "failed-session-count": 1} for i in range(1500)]
json.dump({"organization-name": "x", "contact-info": "a@b", "report-id": "r1",
           "date-range": {"start-datetime": "2026-01-01T00:00:00Z",
                          "end-datetime": "2026-01-01T23:59:59Z"},
           "policies": [{"policy": {"policy-type": "no-policy-found", "policy-domain": "a.example"},
                         "summary": {"total-successful-session-count": 0,
                                     "total-failure-session-count": 1500},
                         "failure-details": d}]}, open(sys.argv[1], "w"))' "$tmp/big.json"
setup chmod 600 "$tmp/big.json"
setup mkfifo "$tmp/read.fifo"
( exec "$M" tlsrpt read "$tmp/big.json" > "$tmp/read.fifo" ) & reader=$!
exec 3< "$tmp/read.fifo"
uid=0
for _ in $(seq 50); do
    uid=$(awk '/^Uid:/ { print $3 }' "/proc/$reader/status" 2>/dev/null)
    [ -n "$uid" ] && [ "$uid" != 0 ] && break
    sleep 0.1
done
lines=$(wc -l <&3); exec 3<&-
wait "$reader"; rc=$?
[ "$rc" = 0 ] && [ "$lines" -gt 1500 ] && [ "$uid" = "$(id -u Debian-exim)" ] \
    && ok "read: a root-only report is parsed as the Exim user" \
    || nok "read: a root-only report is parsed as the Exim user" "exit $rc, $lines lines, uid ${uid:-gone}"

echo "tlsrpt-report: $pass passed, $fail failed"
[ "$fail" = 0 ]
