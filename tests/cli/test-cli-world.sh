#!/usr/bin/env bash
# The mtasts command's network and store subcommands (query, cache, refresh)
# against the test world, each on a store of its own:
#   tests/world/run-in-world bash tests/cli/test-cli-world.sh
# Ends with "cli-world: N passed, N failed"; exit status 1 on any failure.
# One test waits a few seconds for a TXT recheck to fall due.
set -uo pipefail
cd "$(dirname "$0")/../.."
M=${MTASTS:-build/mtasts}
PY=${PYTHON:-python3}
[ -x "$M" ] || make -s cli >/dev/null || { echo "cli-world: 0 passed, 1 failed"; exit 1; }
if [ -z "${WORLD_DIR:-}" ]; then
    echo "not ok - must run inside the test world: tests/world/run-in-world bash $0"
    echo "cli-world: 0 passed, 1 failed"; exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source tests/cli/lib.sh
# Run as root, the store commands work as the Exim user (the "user" setting):
# the store must be theirs and reachable.
chmod 755 "$tmp"
S=$tmp/store
mkdir "$S" && chown Debian-exim: "$S"
ST=(--store "$S")

# ------------------------------------------------------------------- query
t "query: enforce.test fetched, exit 0" 0 --out "^mode: +enforce$" \
    --err "^fetch: https://mta-sts\.enforce\.test/.* ok \(HTTP 200" -- query "${ST[@]}" enforce.test
grep -qE '^txt: +_mta-sts\.enforce\.test: ok id=enforce1 \([0-9.]+ ms\)' <<<"$err" \
    && grep -q '^parse: ok' <<<"$err" && grep -qE '^total: enforce\.test, outcome fetched \([0-9.]+ ms\)' <<<"$err" \
    && ok "query: each step with its timing on stderr" || nok "query: each step with its timing on stderr" "$err"
grep -qE '^mx: +mx1\.enforce\.test \*\.mx\.enforce\.test$' <<<"$out" && grep -qE '^expires: .*\(in 23h59m|\(in 1d0h' <<<"$out" \
    && grep -qE '^outcome: +fetched$' <<<"$out" && grep -qE '^source: +fetched$' <<<"$out" \
    && ok "query: policy on stdout (mx, expires, outcome, source)" || nok "query: policy on stdout" "$out"
tj "query --json: exact fields, answered from the store" 0 \
    'set(d) == {"domain","policy","outcome","reason","mode","max_age","id","mx","source","fetched_at","expires_at","txt_checked_at","next_check_at","last_used","failures","backoff_until","backoff_id","dane","last_error"} and d["domain"] == "enforce.test" and d["policy"] is True and d["outcome"] == "cached" and d["mode"] == "enforce" and d["max_age"] == 86400 and d["id"] == "enforce1" and d["mx"] == ["mx1.enforce.test", "*.mx.enforce.test"] and d["expires_at"] - d["fetched_at"] == 86400 and d["source"] == "fetched" and d["dane"] == "none" and d["failures"] == 0 and d["last_error"] is None' \
    -- query --json "${ST[@]}" Enforce.Test.
t "query --force: TXT checked, id unchanged, no fetch" 0 --out "^outcome: +confirmed$" -- query --force "${ST[@]}" enforce.test
grep -q '^fetch:' <<<"$err" && nok "query --force: no HTTPS fetch" "$err" || ok "query --force: no HTTPS fetch"
tj "query: testing.test" 0 'd["mode"] == "testing" and d["id"] == "testing1"' -- query --json "${ST[@]}" testing.test
t "query: none.test (mode none) exits 0" 0 --out "^mode: +none$" -- query "${ST[@]}" none.test
tj "query: nopolicy.test: no policy, exit 1" 1 \
    'd["policy"] is False and d["outcome"] == "no-policy" and d["mode"] is None and d["max_age"] is None and d["id"] is None and d["mx"] == []' \
    -- query --json "${ST[@]}" nopolicy.test
tj "query: http404.test: fetch failed, exit 1" 1 \
    'd["outcome"] == "fetch-failed" and "HTTP 404" in d["reason"] and d["failures"] == 1 and d["backoff_id"] == "http4041"' \
    -- query --json "${ST[@]}" http404.test
tj "query --force: http404.test honours the fetch backoff" 1 'd["outcome"] == "backoff"' \
    -- query --json --force "${ST[@]}" http404.test
tj "query: two-records.test: no policy" 1 'd["outcome"] == "no-policy" and "multiple" in d["reason"]' \
    -- query --json --store "$tmp/other" two-records.test
t "query: works without a usable store" 0 --out "^mode: +enforce$" --err "store: .*unusable" \
    -- query --store /proc/no/store enforce.test
t "query: --options and --config are read" 3 --err "unknown option" -- query --options 'bogus=1' enforce.test

# ------------------------------------------------------------------- cache
run "$M" cache list "${ST[@]}"
[ "$(head -1 <<<"$out" | tr -s ' ')" = "DOMAIN MODE ID EXPIRES FAILURES LAST ERROR" ] \
    && ok "cache list: a header line" || nok "cache list: a header line" "$(head -1 <<<"$out")"
out=$(tail -n +2 <<<"$out")
want='enforce.test enforce enforce1 1d0h 0 -|http404.test - - - 1 policy fetch for id http4041 failed: mta-sts.http404.test: HTTP 404|none.test none none1 1d0h 0 -|nopolicy.test - - - 0 -|testing.test testing testing1 1d0h 0 -'
got=$(tr -s ' ' <<<"$out" | sed 's/ 23h59m / 1d0h /' | paste -sd'|')
[ "$rc" = 0 ] && [ "$got" = "$want" ] && ok "cache list: one line per domain, in order" \
    || nok "cache list: one line per domain, in order" "exit $rc" "got:  $got" "want: $want"
tj "cache list --json: an array of records" 0 \
    '[r["domain"] for r in d] == ["enforce.test","http404.test","none.test","nopolicy.test","testing.test"] and d[0]["mode"] == "enforce" and "outcome" not in d[0] and d[1]["policy"] is False and d[1]["failures"] == 1' \
    -- cache list --json "${ST[@]}"
t "cache show: every field" 0 --out "^id: +enforce1$" -- cache show "${ST[@]}" enforce.test
grep -qE '^next check: ' <<<"$out" && grep -qE '^dane: +none$' <<<"$out" && ok "cache show: times and dane" \
    || nok "cache show: times and dane" "$out"
tj "cache show --json" 0 'd["domain"] == "enforce.test" and d["id"] == "enforce1" and d["policy"] is True and "outcome" not in d' \
    -- cache show --json "${ST[@]}" enforce.test
t "cache show: a domain not stored: exit 1" 1 --err "not in the store" -- cache show "${ST[@]}" unknown.test
t "cache show: bad domain: exit 2" 2 --err "invalid domain" -- cache show "${ST[@]}" 'a..b'
t "cache stats" 0 --out "^entries: +5$" -- cache stats "${ST[@]}"
tj "cache stats --json: counts, sizes, ages" 0 \
    'd["entries"] == 5 and d["with_policy"] == 3 and d["without_policy"] == 2 and d["by_mode"] == {"enforce":1,"testing":1,"none":1} and d["expired"] == 0 and d["failing"] == 1 and d["map_size"] > 0 and 0 < d["used_bytes"] <= d["map_size"] and d["readers_max"] > 0 and 0 <= d["newest_fetch_age"] <= d["oldest_fetch_age"] < 120' \
    -- cache stats --json "${ST[@]}"
t "cache flush DOMAIN" 0 --out "^flushed enforce\.test$" -- cache flush "${ST[@]}" enforce.test
t "cache flush DOMAIN: it is gone" 1 -- cache show "${ST[@]}" enforce.test
t "cache flush DOMAIN: not stored: exit 1" 1 --err "not in the store" -- cache flush "${ST[@]}" enforce.test
t "cache flush: every domain" 0 --out "^flushed every domain$" -- cache flush "${ST[@]}"
t "cache list: empty after flush" 0 --out "^store $S: empty$" -- cache list "${ST[@]}"
tj "cache stats --json: empty store" 0 'd["entries"] == 0 and d["oldest_fetch_age"] is None and d["newest_fetch_age"] is None' \
    -- cache stats --json "${ST[@]}"
t "cache: a missing store is empty, and not created" 0 --out "empty" -- cache list --store "$tmp/missing"
[ -e "$tmp/missing" ] && nok "cache: no store left behind" || ok "cache: no store left behind"

# ----------------------------------------------------------------- refresh
for d in enforce.test testing.test none.test nopolicy.test http404.test; do
    "$M" query "${ST[@]}" "$d" >/dev/null 2>&1
done
tj "refresh --within 0: nothing due" 0 \
    'd == {"refreshed":0,"unchanged":0,"failed":0,"skipped":5,"domains":[]}' -- refresh --within 0 --json "${ST[@]}"
n0=$(world-ctl https-count enforce.test)
tj "refresh: policies expiring within a day are fetched again" 0 \
    'd["refreshed"] == 3 and d["failed"] == 0 and d["unchanged"] == 0 and d["skipped"] == 2 and sorted(x["domain"] for x in d["domains"]) == ["enforce.test","none.test","testing.test"] and all(x["result"] == "refreshed" and x["outcome"] == "fetched" for x in d["domains"])' \
    -- refresh --json "${ST[@]}"
n1=$(world-ctl https-count enforce.test)
[ "$n1" = $((n0 + 1)) ] && ok "refresh: one HTTPS request per due domain" || nok "refresh: one HTTPS request per due domain" "$n0 -> $n1"
t "refresh --jobs 1: text summary" 0 --out "^refresh: 3 refreshed, 0 unchanged, 0 failed, 2 skipped$" -- refresh --jobs 1 "${ST[@]}"
grep -qE '^enforce\.test: refreshed \(fetched\)$' <<<"$out" && ok "refresh: a line per refreshed domain" \
    || nok "refresh: a line per refreshed domain" "$out"
t "refresh --quiet: silent when all is fine" 0 --out '^$' -- refresh --quiet --jobs 3 "${ST[@]}"
start=$(date +%s)
t "refresh --jitter 1 --jobs 1" 0 --out "^refresh: 3 refreshed" -- refresh --jitter 1 --jobs 1 "${ST[@]}"
[ $(( $(date +%s) - start )) -le 5 ] && ok "refresh --jitter 1: at most a second per domain" \
    || nok "refresh --jitter 1: at most a second per domain" "took $(( $(date +%s) - start )) s"
run script -qec "$M refresh --store $S" /dev/null
grep -q 'refresh: 3/3' <<<"$out" && ok "refresh: progress on a terminal" || nok "refresh: progress on a terminal" "$out"

world-ctl https enforce.test status 500 >/dev/null
t "refresh --quiet: a failed fetch is printed and fails the run (exit 1)" 1 \
    --out "^enforce\.test: failed \(kept\): policy fetch for id enforce1 failed: .*HTTP 500$" \
    -- refresh --quiet "${ST[@]}"
grep -q "^refresh: 2 refreshed, 0 unchanged, 1 failed, 2 skipped$" <<<"$out" \
    && ok "refresh --quiet: the summary after a failure" || nok "refresh --quiet: the summary after a failure" "$out"
tj "refresh: the failed id is in backoff (3.3): skipped" 0 \
    '[(x["result"], x["outcome"]) for x in d["domains"] if x["domain"] == "enforce.test"] == [("skipped", "backoff")]' \
    -- refresh --json "${ST[@]}"
tj "refresh: the failed domain keeps its policy" 0 'd["mode"] == "enforce" and d["failures"] == 1' \
    -- cache show --json "${ST[@]}" enforce.test
world-ctl https testing.test status 500 >/dev/null
tj "refresh --json: a failed fetch, the policy kept" 1 \
    '[(x["result"], x["outcome"]) for x in d["domains"] if x["domain"] == "testing.test"] == [("failed", "kept")] and d["failed"] == 1' \
    -- refresh --json "${ST[@]}"
world-ctl https testing.test ok >/dev/null
world-ctl https enforce.test ok >/dev/null

"$M" query "${ST[@]}" idchange.test >/dev/null 2>&1
world-ctl txt idchange.test 'v=STSv1; id=idchange2' >/dev/null
printf 'version: STSv1\nmode: testing\nmx: mx.idchange.test\nmax_age: 86400\n' | world-ctl policy idchange.test - >/dev/null
tj "refresh: a new TXT id brings the new policy" 0 \
    '[(x["result"], x["outcome"]) for x in d["domains"] if x["domain"] == "idchange.test"] == [("refreshed", "fetched")]' \
    -- refresh --json "${ST[@]}"
tj "refresh: the store holds the new policy" 0 'd["id"] == "idchange2" and d["mode"] == "testing"' \
    -- cache show --json "${ST[@]}" idchange.test

# A policy far from expiry is refreshed only when its TXT check is due: make
# the check due in 3 seconds (recheck=3), then wait for it.
S2=$tmp/store2
mkdir "$S2" && chown Debian-exim: "$S2"
"$M" query --store "$S2" --options recheck=3 maxage-big.test >/dev/null 2>&1
tj "refresh: a year-long policy is not due yet" 0 'd["skipped"] == 1 and d["domains"] == []' \
    -- refresh --json --store "$S2"
sleep 3.5
tj "refresh: TXT check due, id unchanged: unchanged, not fetched" 0 \
    'd["unchanged"] == 1 and d["domains"][0]["outcome"] == "confirmed"' -- refresh --json --store "$S2"
t "refresh: a missing store: exit 3" 3 --err "store" -- refresh --store "$tmp/missing"

# ------------------------------------------------------- fetch security
# The helper's "reason:" line is what the Exim adapters log: the server's
# Content-Type (ESC, 8-bit bytes) in it escaped, nothing but printable ASCII.
S3=$tmp/store3
mkdir "$S3"
"$M" resolve --options "store=$S3" content-type-hostile.test >"$tmp/resolve.out" 2>/dev/null
reason=$(LC_ALL=C grep -a '^reason:' "$tmp/resolve.out")
grep -qF 'mta-sts.content-type-hostile.test: content-type text/\x1b[2Jhtml\xc3\xa9\xff\x9b' <<<"$reason" \
    && ! LC_ALL=C grep -q '[^ -~]' <<<"$reason" \
    && ok "resolve: a hostile Content-Type reaches the reason escaped" \
    || nok "resolve: a hostile Content-Type reaches the reason escaped" "$(od -c <<<"$reason" | head -5)"
# Policy hosts on loopback/private addresses are refused by default (the
# world's mtasts.conf allows them; --config /dev/null leaves the default).
"$M" resolve --config /dev/null --options "store=$S3" enforce.test >"$tmp/resolve.out" 2>/dev/null
grep -aq '^reason: .*mta-sts.enforce.test: refused: non-public address 127.0.1.1' "$tmp/resolve.out" \
    && grep -aq '^status: not-found' "$tmp/resolve.out" \
    && ok "resolve: a policy host on 127/8 is refused by default" \
    || nok "resolve: a policy host on 127/8 is refused by default" "$(head -3 "$tmp/resolve.out")"
"$M" resolve --config /dev/null --options "store=$tmp/store4,allow_private_policy_host=yes" enforce.test \
    >"$tmp/resolve.out" 2>/dev/null
grep -aq '^status: ok' "$tmp/resolve.out" \
    && ok "resolve: allow_private_policy_host=yes fetches from 127/8" \
    || nok "resolve: allow_private_policy_host=yes fetches from 127/8" "$(head -3 "$tmp/resolve.out")"

echo "cli-world: $pass passed, $fail failed"
[ "$fail" = 0 ]
