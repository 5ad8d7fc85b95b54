#!/usr/bin/env bash
# The admin guide's Debian split walkthrough, run as written, on the stock
# exim4 with its own default configuration (update-exim4.conf, internet
# mode), then rolled back in the documented order; mail must flow throughout:
#   tests/world/run-in-world bash tests/install/test-walkthrough.sh
# The shell blocks marked <!-- walkthrough:NAME --> in docs/admin-guide.md
# are run unchanged, except the example domain of the verify block. Everything
# they write lands in overlays of /usr, /etc/exim4, /etc/cron.d and Exim's
# /var directories, in a mount namespace of this test's own; systemctl is a
# stand-in that records its arguments (the world has no systemd; deliveries
# here run exim4 -odi, which reads the configuration afresh).
# Ends with "walkthrough: N passed, N failed"; exit status 1 on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
pass=0 fail=0
ok()  { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; fail=$((fail + 1)); }
finish() { echo "walkthrough: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
GUIDE=docs/admin-guide.md

if [ -z "${WORLD_DIR:-}" ]; then
    nok "must run inside the test world: tests/world/run-in-world bash $0"; finish
fi
# A mount namespace of our own: the overlays never reach the world's servers.
if [ "${_WALKTHROUGH_NS:-}" != 1 ]; then
    exec env _WALKTHROUGH_NS=1 unshare --mount --propagation private bash "$0" "$@"
fi

T=$(mktemp -d /var/tmp/mtasts-walk.XXXXXX); chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
# overlay DIR: DIR becomes writable; the writes stay in $T
overlay() {
    local n; n=$(tr / _ <<<"$1")
    # The overlay's root takes the upper directory's owner and mode.
    mkdir -p "$T/ov/$n/up" "$T/ov/$n/work" &&
        chown --reference="$1" "$T/ov/$n/up" && chmod --reference="$1" "$T/ov/$n/up" &&
        mount -t overlay overlay -o "lowerdir=$1,upperdir=$T/ov/$n/up,workdir=$T/ov/$n/work" "$1"
}
for d in /usr /etc/exim4 /etc/cron.d /var/lib/exim4 /var/spool/exim4 /var/log/exim4; do
    overlay "$d" || { nok "overlay over $d"; finish; }
done
ok "set-up: overlays over /usr, /etc/exim4, /etc/cron.d and Exim's /var directories"

# systemctl stand-in: the world has no systemd.
mkdir -p "$T/bin"
cat >"$T/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$T/systemctl.log"
EOF
chmod 755 "$T/bin/systemctl"

# The host's Debian configuration, made an internet-mode split one; the
# test world's needs (its 127/8 addresses, our source address) as macros.
# shellcheck disable=SC2016
sed -i -e "s/^dc_eximconfig_configtype=.*/dc_eximconfig_configtype='internet'/" \
       -e "s/^dc_use_split_config=.*/dc_use_split_config='true'/" \
       -e "s/^dc_other_hostnames=.*/dc_other_hostnames='sender.world'/" \
       /etc/exim4/update-exim4.conf.conf &&
cat >/etc/exim4/conf.d/main/000_localmacros <<EOF &&
MAIN_HARDCODE_PRIMARY_HOSTNAME = sender.world
ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS = <; 0.0.0.0
MTASTS_IGNORE_TARGET_HOSTS = 0.0.0.0
REMOTE_SMTP_INTERFACE = $WORLD_HOST_IP
EOF
update-exim4.conf >"$T/out" 2>&1 && [ -z "$(exim4 -bP router_list | grep mtasts)" ] \
    && ok "set-up: stock exim4, internet mode, split configuration, no mtasts router yet" \
    || { nok "set-up: update-exim4.conf" "$(cat "$T/out")"; finish; }

# block NAME: the shell lines of the guide's block NAME
block() {
    awk -v m="<!-- walkthrough:$1 -->" '
        $0 == m { on = 1; next }
        on == 1 && /^```sh$/ { on = 2; next }
        on == 2 && /^```$/ { exit }
        on == 2 { print }' "$GUIDE"
}
# run_block NAME [SED]: run it (bash -e) from the repository root; $out, $rc
run_block() {
    local text; text=$(block "$1" | sed "${2:-}")
    if [ -z "$text" ]; then out="no block walkthrough:$1 in $GUIDE"; rc=99; return; fi
    out=$(cd "$ROOT" && PATH="$T/bin:$PATH" bash -e -c "$text" 2>&1); rc=$?
}
step() {  # step NAME BLOCK [SED]: run a block, ok when it exits 0
    run_block "$2" "${3:-}"
    [ "$rc" = 0 ] && ok "$1" || nok "$1" "exit $rc" "$(tail -15 <<<"$out")"
}

MAINLOG=/var/log/exim4/mainlog
mailfile() { grep -lx "Envelope-to: $1" "$WORLD_DIR"/smtp/*/Maildir/new/* 2>/dev/null; }
receiver_of() {  # RCPT: the receiver that got it (waits up to 5 s)
    local _
    for _ in $(seq 50); do [ -n "$(mailfile "$1")" ] && break; sleep 0.1; done
    mailfile "$1" | sed -E 's|.*/smtp/([^/]+)/Maildir/.*|\1|' | sort -u | paste -sd' '
}
send() {  # send DOMAIN: one message to a new recipient there; prints it
    local r="walk$RANDOM$RANDOM@$1"
    printf 'Subject: walkthrough %s\n\nhello\n' "$r" | exim4 -odi -f sender@sender.world "$r" >>"$T/send.log" 2>&1
    echo "$r"
}
logline() { grep -F " $1" "$MAINLOG" | grep -E ' (=>|==|\*\*) ' | tail -1; }
queued() { exim4 -bpr 2>/dev/null | grep -c "^ *$1\$"; }

# ------------------------------------------------------------ install
step "guide: configuration type" configtype
grep -q "dc_eximconfig_configtype='internet'" <<<"$out" && grep -q "dc_use_split_config='true'" <<<"$out" \
    && ok "configuration type: internet, split" || nok "configuration type: internet, split" "$out"
step "guide: build and install (make build-deps, make, make install, the store)" build
for f in /usr/lib/exim4/mtasts_dlfunc.so /usr/lib/exim-mtasts/mtasts /usr/sbin/mtasts; do
    [ -e "$f" ] && ok "installed: $f" || nok "installed: $f"
done
[ "$(stat -c %U "/var/spool/exim4/db/mtasts" 2>/dev/null)" = Debian-exim ] \
    && ok "the store directory belongs to Debian-exim" || nok "the store directory belongs to Debian-exim"
step "guide: snippets into conf.d, update-exim4.conf, restart" enable-split
grep -qx "restart exim4" "$T/systemctl.log" 2>/dev/null && ok "the restart is systemctl restart exim4" \
    || nok "the restart is systemctl restart exim4" "$(cat "$T/systemctl.log" 2>/dev/null)"

# ------------------------------------------------------------ verify
step "guide: verify (router list, exim4 -bt, the policy, mtasts query)" verify 's/^D=.*/D=enforce.test/'
grep -qx mtasts_enforce <<<"$out" && grep -qx mtasts_policy <<<"$out" \
    && ok "verify: exim4 -bP router_list shows the mtasts routers" || nok "verify: router list" "$out"
grep -q "router = mtasts_enforce, transport = mtasts_enforce_smtp" <<<"$out" \
    && ok "verify: exim4 -bt routes enforce.test through mtasts_enforce" || nok "verify: exim4 -bt" "$out"
grep -qx enforce <<<"$out" && ok "verify: the dlfunc says mode enforce" || nok "verify: the dlfunc says mode enforce" "$out"
grep -qE '^mode: +enforce$' <<<"$out" && ok "verify: mtasts query finds the enforce policy" || nok "verify: mtasts query" "$out"
grep -qE '^DOMAIN +MODE' <<<"$out" && grep -qE '^enforce\.test +enforce ' <<<"$out" \
    && ok "verify: mtasts cache list has a header and enforce.test" || nok "verify: mtasts cache list" "$out"
run_block verify 's/^D=.*/D=nopolicy.test/'
grep -qx "no policy" <<<"$out" && ok "verify: a domain without policy shows \"no policy\"" \
    || nok "verify: a domain without policy shows \"no policy\"" "$out"

# ------------------------------------------------------------ deliver
r=$(send enforce.test)
[ "$(receiver_of "$r")" = good ] && logline "$r" | grep -q "R=mtasts_enforce T=mtasts_enforce_smtp" \
    && ok "deliver: enforce.test through mtasts_enforce to good" || nok "deliver: enforce.test" "$(logline "$r")"
held=$(send enforce-expired.test)
logline "$held" | grep -q " == .*R=mtasts_enforce" && [ "$(queued "$held")" = 1 ] \
    && ok "deliver: enforce-expired.test is held (deferred, queued)" || nok "deliver: enforce-expired.test held" "$(logline "$held")"

# ------------------------------------------------------------ roll back
if out=$(make -s uninstall 2>&1); then
    nok "make uninstall refuses while the live configuration uses the objects" "$out"
else
    grep -q "config.autogenerated still uses exim-mtasts" <<<"$out" && [ -e /usr/lib/exim4/mtasts_dlfunc.so ] \
        && ok "make uninstall refuses while the live configuration uses the objects" \
        || nok "make uninstall refuses: says why, removes nothing" "$out"
fi

step "guide: the off switch" off
: >"$MAINLOG"
# A new message to the held domain: routed as without a policy. Its MX host
# has a retry record from the held message's failure, so it waits for the
# retry time like the held one, or for exim4 -qff.
r=$(send enforce-expired.test)
logline "$r" | grep -qE " (=>|==) .*R=dnslookup T=remote_smtp" \
    && ok "off switch: enforce-expired.test is routed as without a policy (dnslookup, remote_smtp)" \
    || nok "off switch: enforce-expired.test is routed as without a policy" "$(logline "$r")"
c=$(grep -c 'mtasts: disabled (option disabled=yes)' "$MAINLOG")
[ "$c" = 1 ] && ok "off switch: one log line for the delivery" || nok "off switch: one log line for the delivery" "$c lines" "$(cat "$MAINLOG")"
exim4 -qff >/dev/null 2>&1
[ "$(receiver_of "$r")" = expired ] && [ "$(queued "$r")" = 0 ] \
    && ok "off switch: it is delivered (exim4 -qff), unverified, to the MX the policy refused" \
    || nok "off switch: it is delivered" "$(logline "$r")"
[ "$(receiver_of "$held")" = expired ] && [ "$(queued "$held")" = 0 ] \
    && ok "off switch: the held message goes out at the next attempt (exim4 -qff)" \
    || nok "off switch: the held message goes out" "$(logline "$held")"

step "guide: take the configuration out" disable-split
[ -z "$(exim4 -bP router_list | grep mtasts)" ] && ok "no mtasts router left" || nok "no mtasts router left"
# As on a host where systemd runs (SYSTEMD_RUN_DIR: a directory that exists),
# with the stand-in systemctl: make uninstall disables the timer.
: >"$T/systemctl.log"
SYSTEMD_RUN_DIR=$T/bin step "guide: make uninstall, the store, the settings" uninstall
grep -qx "disable --now mtasts-refresh.timer" "$T/systemctl.log" && grep -qx "daemon-reload" "$T/systemctl.log" \
    && ok "make uninstall on a systemd host: systemctl disable --now mtasts-refresh.timer, daemon-reload" \
    || nok "make uninstall on a systemd host disables the timer" "$(cat "$T/systemctl.log")"
left=$(ls -d /usr/lib/exim4/mtasts_dlfunc.so /usr/lib/exim-mtasts /usr/sbin/mtasts /usr/share/exim-mtasts \
          /etc/cron.d/exim-mtasts /lib/systemd/system/mtasts-refresh.timer /var/spool/exim4/db/mtasts \
          /etc/exim4/mtasts.conf 2>/dev/null)
[ -z "$left" ] && ok "uninstalled: nothing of exim-mtasts left" || nok "uninstalled: nothing left" "$left"

: >"$MAINLOG"
for d in enforce.test nopolicy.test; do
    r=$(send "$d")
    [ "$(receiver_of "$r")" = good ] && logline "$r" | grep -q " => .*R=dnslookup" \
        && ok "after roll-back: mail to $d flows (dnslookup)" || nok "after roll-back: mail to $d flows" "$(logline "$r")"
done
! grep -qi 'mtasts\|dlopen' "$MAINLOG" && [ ! -s /var/log/exim4/paniclog ] \
    && ok "after roll-back: no mtasts or dlopen message, empty panic log" \
    || nok "after roll-back: clean logs" "$(grep -i 'mtasts\|dlopen' "$MAINLOG")" "$(cat /var/log/exim4/paniclog 2>/dev/null)"
[ "$fail" = 0 ] || sed "s/^/#   exim4: /" "$T/send.log"; finish
