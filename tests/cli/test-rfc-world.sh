#!/usr/bin/env bash
# Issue 11 through the mtasts command in the test world, on stores of its own:
# the 3.3 backoff drives the next attempt (store times); a proactive refresh
# whose TXT lookup fails fetches the policy anyway (10.2), keeps it while
# HTTPS fails too and lets it go at expiry; max_age 0 is cached for the
# floor; mode none is no refresh failure.
#   tests/world/run-in-world bash tests/cli/test-rfc-world.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
M=${MTASTS:-build/mtasts}
PY=${PYTHON:-python3}
[ -x "$M" ] || make -s cli >/dev/null || { echo "rfc-world: 0 passed, 1 failed"; exit 1; }
if [ -z "${WORLD_DIR:-}" ]; then
    echo "not ok - must run inside the test world: tests/world/run-in-world bash $0"
    echo "rfc-world: 0 passed, 1 failed"; exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The CLI drops to the Exim user: its stores must be reachable and its own.
chmod 755 "$tmp"
mkstore() { mkdir "$1" && chown Debian-exim: "$1" || nok "store directory $1"; }
source tests/cli/lib.sh
FIX=tests/world/fixtures/domains
ctl() { world-ctl "$@" >/dev/null || nok "world-ctl $*"; }

# ------------------------------------------------------------ 3.3 backoff
S=$tmp/backoff; mkstore "$S"
tj "backoff: first-contact fetch fails: next check when the backoff ends" 1 \
    'd["outcome"] == "fetch-failed" and d["backoff_until"] - d["txt_checked_at"] == 300 and d["next_check_at"] == d["backoff_until"]' \
    -- query --json --store "$S" http404.test
tj "backoff: the store holds the same times" 0 \
    'd["next_check_at"] == d["backoff_until"] and d["failures"] == 1' -- cache show --json --store "$S" http404.test

# ------------------------------------------- 10.2: refresh when TXT fails
S=$tmp/refresh; mkstore "$S"
ctl txt idchange.test 'v=STSv1; id=idchange1'
ctl policy idchange.test "$FIX/idchange.test/policy"
ctl https idchange.test ok
tj "refresh: idchange.test cached" 0 'd["id"] == "idchange1" and d["mode"] == "enforce"' \
    -- query --json --store "$S" idchange.test
exp0=$("$M" cache show --json --store "$S" idchange.test | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["expires_at"])')
ctl txt idchange.test --delete
sleep 1.1
c=$(world-ctl https-count idchange.test)
tj "refresh: TXT gone + HTTPS fine: the policy is fetched anyway" 0 \
    'd["refreshed"] == 1 and d["failed"] == 0 and [(x["result"], x["outcome"]) for x in d["domains"]] == [("refreshed", "fetched")]' \
    -- refresh --json --store "$S"
[ "$(world-ctl https-count idchange.test)" = $((c + 1)) ] && ok "refresh: one HTTPS request" \
    || nok "refresh: one HTTPS request" "$c -> $(world-ctl https-count idchange.test)"
tj "refresh: expiry extended, id kept" 0 "d[\"expires_at\"] > $exp0 and d[\"id\"] == \"idchange1\"" \
    -- cache show --json --store "$S" idchange.test

# Both blocked: kept until expiry, then gone. A 4 s policy (max_age_floor=0
# so that max_age is honoured as published).
printf 'version: STSv1\nmode: enforce\nmx: mx.idchange.test\nmax_age: 4\n' | world-ctl policy idchange.test - >/dev/null
ctl txt idchange.test 'v=STSv1; id=short1'
S=$tmp/short; mkstore "$S"
O=(--store "$S" --options max_age_floor=0)
tj "both blocked: a 4 s policy cached" 0 'd["id"] == "short1" and d["expires_at"] - d["fetched_at"] == 4' \
    -- query --json "${O[@]}" idchange.test
ctl txt idchange.test --delete
ctl https idchange.test status 500
t "both blocked: refresh fails, exit 1" 1 \
    --out '^idchange\.test: failed \(kept\): policy fetch for id short1 failed: .*HTTP 500; _mta-sts\.idchange\.test: NXDOMAIN' \
    -- refresh --quiet "${O[@]}"
tj "both blocked: a lookup still applies the policy" 0 \
    'd["policy"] is True and d["mode"] == "enforce" and d["id"] == "short1"' -- query --json "${O[@]}" idchange.test
sleep 4.5
tj "both blocked: gone after expiry" 1 'd["policy"] is False and d["id"] is None' \
    -- query --json --force "${O[@]}" idchange.test
ctl txt idchange.test 'v=STSv1; id=idchange1'
ctl policy idchange.test "$FIX/idchange.test/policy"
ctl https idchange.test ok

# --------------------------------------------------- the max_age floor
S=$tmp/floor; mkstore "$S"
printf 'version: STSv1\nmode: enforce\nmx: mx.idchange.test\nmax_age: 0\n' | world-ctl policy idchange.test - >/dev/null
ctl txt idchange.test 'v=STSv1; id=zero1'
tj "floor: max_age 0 is cached for an hour" 0 \
    'd["max_age"] == 0 and d["expires_at"] - d["fetched_at"] == 3600' -- query --json --store "$S" idchange.test
c=$(world-ctl https-count idchange.test)
for _ in 1 2 3; do "$M" query --store "$S" idchange.test >/dev/null 2>&1; done
[ "$(world-ctl https-count idchange.test)" = "$c" ] && ok "floor: three more lookups, no fetch" \
    || nok "floor: three more lookups, no fetch" "$c -> $(world-ctl https-count idchange.test)"
ctl txt idchange.test 'v=STSv1; id=idchange1'
ctl policy idchange.test "$FIX/idchange.test/policy"

# ----------------------------------------- 8.3: mode none is no failure
S=$tmp/none; mkstore "$S"
tj "none: none.test cached" 0 'd["mode"] == "none"' -- query --json --store "$S" none.test
ctl txt none.test --delete
ctl https none.test status 404
t "none: TXT and policy removed: refresh --quiet is silent, exit 0" 0 --out '^$' -- refresh --quiet --store "$S"
tj "none: counted as unchanged, not failed" 0 'd["failed"] == 0 and d["unchanged"] == 1' \
    -- refresh --json --store "$S"
ctl txt none.test 'v=STSv1; id=none1'
ctl https none.test ok

# ------------------------- mtasts(8): resolve's output, as documented
S=$tmp/resolve; mkstore "$S"
"$M" resolve --options "store=$S" enforce.test >"$tmp/resolve.out" 2>"$tmp/err"; rc=$?
if [ "$rc" = 0 ] && "$PY" - "$tmp/resolve.out" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
head, sep, rec = b.partition(b"\n\n")
lines = head.decode().split("\n")
assert sep and lines[0] == "status: ok" and lines[1] == "outcome: fetched", lines
assert lines[2].startswith("reason: ") and len(lines) == 3, lines
assert rec[:1] == b"S" and b"mx1.enforce.test" in rec, rec[:16]
PY
then ok "resolve: text header, empty line, binary record (mtasts(8))"
else nok "resolve: text header, empty line, binary record (mtasts(8))" "exit $rc" "$(head -c 200 "$tmp/resolve.out" | od -c | head -5)"
fi

echo "rfc-world: $pass passed, $fail failed"
[ "$fail" = 0 ]
