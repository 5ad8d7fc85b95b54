#!/usr/bin/env bash
# What the snippets' transports cost a queue run (issue 17): for each Exim
# variant and configuration arm, one message is queued and delivered by a
# forced queue run (exim -qf), and
#   - strace counts the opens of the CA bundle (Exim loads it once per smtp
#     transport at the start of a queue run, tls_client_creds_reload);
#   - the CPU time of the queue run (its own and its children's, wait4) is
#     taken over ROUNDS rounds, the arms interleaved in each round.
# Arms: base (Debian's configuration, or the test builds' small one, without
# the snippets), old (the snippets of git revision OLD_REV), new (the
# snippets of this tree). Not part of make check: a measurement.
#
#   tests/world/run-in-world bash tests/e2e/measure-startup.sh [VARIANT...]
#   (ROUNDS=30, OLD_REV=ba6e502, default variants: 4.96 stock-split)
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
command -v strace >/dev/null || { echo "needs strace (apt-get install strace)"; exit 2; }
if [ $# -gt 0 ]; then VARIANTS=("$@"); else VARIANTS=(4.96 stock-split); fi
ROUNDS=${ROUNDS:-30} OLD_REV=${OLD_REV:-ba6e502}

top=$(mktemp -d /var/tmp/mtasts-measure.XXXXXX); chmod 755 "$top"
# setup_variant bind-mounts a private module directory per arm (lib.sh)
unmount_modules() { local v; for v in "${VARIANTS[@]}"; do case $v in 4.*)
    while mountpoint -q "$(exim_prefix "$v")/lookups"; do umount "$(exim_prefix "$v")/lookups" || break; done ;; esac; done; }
trap 'unmount_modules; rm -rf "$top"' EXIT
old_snip=$top/old-snippets
mkdir -p "$old_snip"
git -C "$ROOT" archive "$OLD_REV" exim-config-snippets | tar -x -C "$old_snip" || exit 1
NEW_SNIP=$SNIP
RECHECK=3600   # no TXT recheck (helper run) in the measured runs

# arm_setup VARIANT ARM: a configured sender in $top/ARM-VARIANT; prints its
# "EXIM CONF" (setup_variant's globals do not survive the subshell)
arm_setup() {
    local variant=$1 arm=$2
    work=$top/$arm-$variant; mkdir -p "$work"; chmod 755 "$work"
    case $arm in
        base) SNIP=$NEW_SNIP NOSNIP=1 ;;
        old)  SNIP=$old_snip/exim-config-snippets NOSNIP= ;;
        new)  SNIP=$NEW_SNIP NOSNIP= ;;
    esac
    SPLIT=$SNIP/debian-split/conf.d
    setup_variant "$variant" >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; return 1; }
    echo "$EXIM $CONF"
}

# qrun EXIM CONF RCPT: queue one message for RCPT, then time "exim -qf"
# (CPU of the run and its children, ms); prints "cpu_ms"
qrun() {
    local exim=$1 conf=$2 rcpt=$3
    printf 'Subject: measure\n\nhi\n' | "$exim" -C "$conf" -odq -f "$SENDER" "$rcpt" || return 1
    python3 - "$exim" "$conf" <<'PY'
import os, sys, subprocess
p = subprocess.Popen([sys.argv[1], "-C", sys.argv[2], "-qf"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print("%.2f" % ((ru.ru_utime + ru.ru_stime) * 1000))
PY
}

# ca_opens EXIM CONF RCPT: opens of the CA bundle in a one-message queue run
# (after an untraced one that leaves the policy in the store: the helper's
# first-contact fetch would count too)
ca_opens() {
    local exim=$1 conf=$2 rcpt=$3 out=$top/strace.out
    qrun "$exim" "$conf" "warm-$rcpt" >/dev/null || return 1
    printf 'Subject: measure\n\nhi\n' | "$exim" -C "$conf" -odq -f "$SENDER" "$rcpt" || return 1
    strace -f -qq -e trace=openat -o "$out" "$exim" -C "$conf" -qf >/dev/null 2>&1
    grep -E 'ca-certificates\.crt|/ssl/cert\.pem' "$out" | grep -vc ENOENT
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A EX CF
for variant in "${VARIANTS[@]}"; do
    for arm in base old new; do
        set -- $(arm_setup "$variant" "$arm") || exit 1
        EX[$arm]=$1 CF[$arm]=$2
    done
    for dest in nopolicy enforce; do
        echo "## $variant, one message to $dest.test"
        for arm in base old new; do
            echo "$arm: CA bundle opened $(ca_opens "${EX[$arm]}" "${CF[$arm]}" "m-$arm@$dest.test") times in the queue run"
        done
        for arm in base old new; do : >"$top/$arm.cpu"; done
        for ((i = 0; i < ROUNDS; i++)); do
            for arm in base old new; do
                qrun "${EX[$arm]}" "${CF[$arm]}" "m$i-$arm@$dest.test" >>"$top/$arm.cpu"
            done
        done
        b=$(median <"$top/base.cpu")
        for arm in base old new; do
            m=$(median <"$top/$arm.cpu")
            echo "$arm: queue-run CPU median $m ms over $ROUNDS runs ($(awk -v m="$m" -v b="$b" 'BEGIN{printf "%.2f", m/b}')x base)"
        done
    done
done
