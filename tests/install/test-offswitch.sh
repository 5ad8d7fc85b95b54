#!/usr/bin/env bash
# The emergency off switch ("disabled = yes" in /etc/exim4/mtasts.conf)
# through the lookup module in real Exims (4.96, 4.100: both lookup ABIs),
# configured with the snippets as tests/e2e/lib.sh does: an enforce domain
# whose MX fails the policy is held with the switch off, delivered as without
# a policy with it on (one log line), and held again once it is removed.
# (The dlfunc object on the stock exim4: tests/install/test-walkthrough.sh.)
#   tests/world/run-in-world bash tests/install/test-offswitch.sh [VERSION...]
# Ends with "offswitch: N passed, N failed"; exit status 1 on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${WORLD_DIR:-}" ]; then
    echo "not ok - run me inside tests/world/run-in-world"; echo "offswitch: 0 passed, 1 failed"; exit 1
fi
# A mount namespace of our own: /etc/exim4 and the test Exims' module
# directories (shared by every test on this machine) become private copies.
if [ "${_OFFSWITCH_NS:-}" != 1 ]; then
    exec env _OFFSWITCH_NS=1 unshare --mount --propagation private bash "$0" "$@"
fi
source "$HERE/../exim/lib.sh"
source "$HERE/../e2e/lib.sh"
VERSIONS=("${@:-4.96}")
[ $# -gt 0 ] || VERSIONS=(4.96 4.100)

work=$(mktemp -d /var/tmp/mtasts-off.XXXXXX); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
private_copy() {  # DIR: a private, writable copy of DIR, here only
    local c; c=$work/copy$(tr / _ <<<"$1")
    mkdir -p "$c" && cp -a "$1/." "$c/" && mount --bind "$c" "$1"
}
private_copy /etc/exim4 || { not_ok "set-up: private /etc/exim4"; tally offswitch; exit; }
# The world's own settings (if any) stay; the switch is one more line.
CONF_FILE=/etc/exim4/mtasts.conf
touch "$CONF_FILE" && cp "$CONF_FILE" "$work/mtasts.conf.orig"

for v in "${VERSIONS[@]}"; do
    [ -e "$BUILD/exim-$v/mtasts_lookup.so" ] || { not_ok "$v: no module (make modules)"; continue; }
    private_copy "$(exim_prefix "$v")/lookups" || { not_ok "$v: set-up: private module directory"; continue; }
    setup_variant "$v" || continue

    fresh
    r=held-$RANDOM@enforce-expired.test
    send "$r"
    check_grep "$v: switch off: enforce-expired.test is held by the policy" " == $r R=mtasts_enforce" "$(mainlog)"

    echo "disabled = yes" >>"$CONF_FILE"
    fresh
    r=off-$RANDOM@enforce-expired.test
    send "$r"
    check_grep "$v: switch on: routed as without a policy" " => $r R=dnslookup T=remote_smtp" "$(mainlog)"
    check_eq "$v: switch on: delivered to the MX the policy refuses" "$(receivers_of "$r")" expired
    check_eq "$v: switch on: one log line for the delivery" \
        "$(mainlog | grep -c 'mtasts: disabled (option disabled=yes): every domain has no policy')" 1
    check_eq "$v: switch on: exim -be says no policy" \
        "$(x -be "\${lookup mtasts,$(opts){enforce.test}{\$value}{no policy}}" 2>/dev/null)" "no policy"
    check_eq "$v: switch on: no panic log" "$(cat "$D/log/paniclog" 2>/dev/null)" ""

    cp "$work/mtasts.conf.orig" "$CONF_FILE"
    fresh
    r=back-$RANDOM@enforce-expired.test
    send "$r"
    check_grep "$v: switch removed: held by the policy again" " == $r R=mtasts_enforce" "$(mainlog)"
done
tally offswitch
