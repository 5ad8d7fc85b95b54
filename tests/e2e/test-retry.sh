#!/usr/bin/env bash
# Retry timeout: an enforce domain whose delivery keeps failing ends as
# Exim's own retry rules say, no earlier. The sender of tests/e2e/lib.sh
# gets a short retry rule (F,RETRY_CUTOFF s,1s instead of F,2h,15m) and
# three messages fail over and over:
#   tls     enforce-expired.test: the policy's MX has an expired certificate
#           (transport defer from the enforce transport)
#   nomx    idchange.test with a policy naming no MX of the domain (the
#           mtasts_enforce_defer router's :defer:)
#   control nopolicy.test (no MTA-STS) with its MX refusing connections:
#           what Exim does on its own
# Before the cutoff every attempt, forced ones included, defers: no bounce.
# After it the next attempt fails the address with Exim's retry-timeout
# message and a bounce, for the MTA-STS paths and the control alike (see
# docs/exim-configuration.md, "Retry timeouts").
#
#   tests/world/run-in-world bash tests/e2e/test-retry.sh [VARIANT...]
#
# Ends with "e2e-retry: N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
if [ $# -gt 0 ]; then VARIANTS=("$@"); else VARIANTS=(4.100 stock-split); fi
for f in "$HELPER" "$DLFUNC"; do [ -e "$f" ] || { echo "missing $f: run make all modules"; exit 2; }; done
work=$(mktemp -d /var/tmp/mtasts-retry.XXXXXX); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
RUN=$(printf '%04x' $((RANDOM)))
RETRY_CUTOFF=6   # seconds

# short_retry: replace the rules of the configuration's retry section
short_retry() {
    awk -v rule="*  *  F,${RETRY_CUTOFF}s,1s" '
        /^begin / { inr = ($0 == "begin retry"); print; if (inr) print rule; next }
        inr && !/^[ \t]*(#|$)/ { next }
        { print }' "$CONF" >"$CONF.new" && cat "$CONF.new" >"$CONF" && rm -f "$CONF.new"
}

# The world: idchange.test's policy lists no MX it has; nopolicy.test's MX
# is an address where nothing listens.
setup_world() {
    printf 'version: STSv1\nmode: enforce\nmx: nomatch.idchange.test\nmax_age: 86400\n' |
        world-ctl policy idchange.test - >/dev/null
    world-ctl txt idchange.test "v=STSv1; id=retry$RUN" >/dev/null
    world-ctl rr nopolicy.test mx A 127.0.1.2 >/dev/null
}

# attempt RCPT: a forced delivery attempt of RCPT's message (-M ignores retry times)
attempt() { local id; id=$(queue_id "$1"); [ -n "$id" ] && x -M "$id" 2>/dev/null; }
queued() { x -bpr | awk -v r="$1" '$1==r' | wc -l; }
bounces() { grep -c ' <= <> ' "$D/log/mainlog"; }

run_tests() {
    local t=${V//./}-$RUN p r start
    local -A rcpt=([tls]="tls-$t@enforce-expired.test" [nomx]="nomx-$t@idchange.test"
                   [control]="control-$t@nopolicy.test")
    local -A why=([tls]="R=mtasts_enforce T=mtasts_[a-z_]*smtp defer"
                  [nomx]="R=mtasts_enforce_defer defer.*: MTA-STS policy retry$RUN of idchange.test: no usable MX host matches"
                  [control]="T=remote_smtp defer .*Connection refused")
    fresh
    for p in tls nomx control; do send "${rcpt[$p]}"; done
    start=$SECONDS   # the last first failure is at most this old
    for p in tls nomx control; do
        check_grep "$V: $p: first attempt deferred" "== ${rcpt[$p]} .*${why[$p]}" "$(mainlog)"
        check_eq "$V: $p: queued" "$(queued "${rcpt[$p]}")" 1
    done
    check_eq "$V: no bounce after the first attempts" "$(bounces)" 0

    # Before the cutoff: a forced retry defers again, nothing bounces.
    sleep 1
    for p in tls nomx control; do attempt "${rcpt[$p]}"; done
    if [ $((SECONDS - start)) -lt "$RETRY_CUTOFF" ]; then
        for p in tls nomx control; do
            check_eq "$V: $p: still queued before the cutoff" "$(queued "${rcpt[$p]}")" 1
        done
        check_eq "$V: no bounce before the cutoff" "$(bounces)" 0
    else
        not_ok "$V: the attempts before the cutoff took too long ($((SECONDS - start)) s)"
    fi

    # Past the cutoff: the next attempt times the address out, as Exim's
    # retry rules say, for the MTA-STS paths and for the control.
    sleep $((RETRY_CUTOFF + 2 - (SECONDS - start)))
    for p in tls nomx control; do attempt "${rcpt[$p]}"; done
    for _ in $(seq 1 50); do [ "$(bounces)" -ge 3 ] && break; sleep 0.1; done   # bounces are made by a child
    for p in tls nomx control; do
        check_grep "$V: $p: failed after the cutoff: retry timeout exceeded" \
            "\*\* ${rcpt[$p]}( .*)?: retry timeout exceeded" "$(mainlog)"
        check_eq "$V: $p: no longer queued" "$(queued "${rcpt[$p]}")" 0
    done
    check_eq "$V: one bounce per message, after the cutoff" "$(bounces)" 3
    check_eq "$V: panic log clean" "$(text_of "$D/log/paniclog" | grep -v 'lost privilege for using -C')" ""
}

setup_world
for variant in "${VARIANTS[@]}"; do
    echo "# ---- $variant"
    if setup_variant "$variant"; then
        step short_retry
        if [ "$V" != "${V#stock}" ]; then world-ctl exim-trust "$CONF"; fi
        check_grep "$V: the short retry rule is in force" "F,${RETRY_CUTOFF}s,1s" \
            "$(x -brt "x@enforce-expired.test" 2>&1)"
        run_tests
    fi
done
tally e2e-retry
