#!/usr/bin/env bash
# Test the test world from outside: run selftest.sh in it, then check what
# only an outsider can see: no server of the world outlives it, the state dir
# goes away, exit statuses and signals pass through.
# Prints "ok - ..." / "not ok - ..." and ends with "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN="$HERE/run-in-world"
tmp=$(mktemp -d)
chmod 755 "$tmp"   # the receivers run as Debian-exim and must reach their dirs
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()    { echo "ok - $1"; pass=$((pass + 1)); }
notok() { echo "not ok - $1"; fail=$((fail + 1)); }

# Every server of a world names its state dir on its command line (other
# worlds, e.g. other engineers' test runs, may be running at the same time).
leftovers() {  # state dir: processes of that world
    pgrep -af -- "$1" || true
}

# 1. The self-test, inside a world kept in $tmp/w so we can look for its processes.
rc=0
"$RUN" --keep-dir "$tmp/w" "$HERE/selftest.sh" > "$tmp/selftest.out" 2>&1 || rc=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/selftest.out" || true
pass=$((pass + $(grep -c '^ok - ' "$tmp/selftest.out" || true)))
fail=$((fail + $(grep -c '^not ok - ' "$tmp/selftest.out" || true)))
if [ "$rc" = 0 ]; then ok "selftest exited 0"; else notok "selftest exited $rc"; fi

left=$(leftovers "$tmp/w")
if [ -z "$left" ]; then ok "no process of the world is left"; else notok "processes left: $left"; fi

# 2. Without --keep-dir the state dir is removed; the exit status is COMMAND's.
mkdir "$tmp/t"
rc=0
# ($WORLD_DIR: expanded inside the world)
# shellcheck disable=SC2016
TMPDIR="$tmp/t" "$RUN" sh -c 'test -s "$WORLD_DIR/env" && exit 7' || rc=$?
if [ "$rc" = 7 ]; then ok "COMMAND's exit status (7) is returned"; else notok "exit status $rc, want 7"; fi
if [ -z "$(ls -A "$tmp/t")" ]; then ok "temporary state dir removed"; else notok "left in TMPDIR: $(ls "$tmp/t")"; fi

# 3. A signal to run-in-world ends the whole world at once.
"$RUN" --keep-dir "$tmp/k" sh -c "touch '$tmp/up'; sleep 60" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$tmp/up" ] && break; sleep 0.1; done
rc=0
if [ -e "$tmp/up" ]; then
    # Control: while it runs, the check does see the world's servers.
    n=$(leftovers "$tmp/k" | grep -c -E 'nsd|unbound|exim4|https_server|dns-stub' || true)
    if [ "$n" -ge 10 ]; then ok "a running world's servers are visible ($n)"; else notok "only $n servers visible"; fi
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    # The kernel kills the pid namespace's members when its init dies, but
    # not synchronously with our wait: give them a bounded moment.
    for _ in $(seq 30); do left=$(leftovers "$tmp/k"); [ -z "$left" ] && break; sleep 0.1; done
    if [ "$rc" = 143 ] && [ -z "$left" ]; then
        ok "SIGTERM ends the world (status 143, nothing left)"
    else
        notok "after SIGTERM: status $rc, left: $left"
    fi
else
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    notok "world for the signal test did not start"
fi

# 4. Refusals: not root -> exit 2 with a message.
# (a copy, in a dir that nobody can reach whatever the checkout's permissions)
nr=$(mktemp -d) && chmod 755 "$nr" && cp "$RUN" "$nr/" && trap 'rm -rf "$tmp" "$nr"' EXIT
rc=0; err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$nr/run-in-world" true 2>&1) || rc=$?
if [ "$rc" = 2 ] && grep -q 'must run as root' <<<"$err"; then
    ok "refuses to run as non-root (exit 2)"
else
    notok "non-root: status $rc, message: $err"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
