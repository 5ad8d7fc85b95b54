#!/usr/bin/env bash
# The Debian package exim4-mtasts, for each release (make check):
#   - builds it (packaging/build-deb.sh: dpkg-buildpackage + lintian, no
#     error or warning) and a second version with a bumped changelog;
#   - in a throw-away overlay of the release's cached chroot
#     (tests/deb/chroot.sh), inside the test world's namespaces (its DNS,
#     HTTPS and SMTP receivers; nothing of the host's /usr, /etc or dpkg
#     database is touched), with Debian's exim4-daemon-heavy configured as
#     an administrator would (split configuration, internet):
#     apt-get install ./the.deb; Exim's routing unchanged; the package's
#     autopkgtests (debian/tests); MTASTS_ENABLE + update-exim4.conf and
#     Exim's daemon: enforce.test over verified TLS to its listed MX, the
#     unlisted MX not used, an expired certificate defers; mtasts query as
#     root and as Debian-exim; the upgrade keeps the store and the
#     administrator's conffile changes; apt-get remove restores Debian's
#     mail flow; apt-get purge leaves nothing behind.
#
#   bash tests/deb/test-deb.sh [RELEASE...]     (default: bookworm trixie)
# Root. Ends with "deb: N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../exim/lib.sh"   # ok, not_ok, check_eq, check_grep, tally, ROOT
UPGRADE_SUFFIX=+upgradetest1

# ------------------------------------------------------------ outside the world
if [ "${1:-}" != --in-world ]; then
    [ "$(id -u)" = 0 ] || { echo "deb: must run as root"; exit 2; }
    if [ $# -gt 0 ]; then RELEASES=("$@"); else read -r -a RELEASES <<<"${DEB_RELEASES:-bookworm trixie}"; fi
    if ! bash "$ROOT/tests/deb/deps.sh"; then not_ok "tests/deb/deps.sh"; tally deb; exit 1; fi
    ready=()
    for rel in "${RELEASES[@]}"; do
        t0=$SECONDS
        if ! chroot=$(bash "$ROOT/tests/deb/chroot.sh" "$rel"); then
            not_ok "$rel: the chroot could not be made"; continue
        fi
        ok "$rel: chroot $chroot ($((SECONDS - t0)) s)"
        t0=$SECONDS
        # DEB_TEST_REUSE=1 (while working on this file): the packages of
        # the previous run, no build and no build checks.
        if [ "${DEB_TEST_REUSE:-}" = 1 ]; then ready+=("$rel=$chroot"); continue; fi
        if bash "$ROOT/packaging/build-deb.sh" --out "$ROOT/build/deb" "$rel" >/dev/null; then
            ok "$rel: package built, lintian: no error or warning ($((SECONDS - t0)) s)"
        else
            not_ok "$rel: package build or lintian failed"; continue
        fi
        if bash "$ROOT/packaging/build-deb.sh" --bump "$UPGRADE_SUFFIX" --out "$ROOT/build/deb-upgrade" "$rel" >/dev/null; then
            ok "$rel: package with a bumped changelog built"
        else
            not_ok "$rel: package with a bumped changelog: build failed"; continue
        fi
        ready+=("$rel=$chroot")
    done
    [ ${#ready[@]} -gt 0 ] || { tally deb; exit 1; }
    T_PASS0=$t_pass T_FAIL0=$t_fail exec "$ROOT/tests/world/run-in-world" bash "$0" --in-world "${ready[@]}"
fi

# ------------------------------------------------------------ inside the world
shift
t_pass=${T_PASS0:-0} t_fail=${T_FAIL0:-0}
[ -n "${WORLD_DIR:-}" ] || { echo "deb: not inside the test world"; exit 2; }
work=$(mktemp -d /var/tmp/mtasts-deb.XXXXXX)
DPID=''
cleanup() {
    stop_daemon
    # The mounts belong to the world's mount namespace; unmount anyway so
    # that the work directory can go.
    grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$work"
}
trap cleanup EXIT

R=''   # the chroot (overlay) of the release under test
inr() {
    chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root \
        DEBIAN_FRONTEND=noninteractive "$@"
}
exim_ids() { awk -F: '$1=="Debian-exim"{print $3 ":" $4}' "$R/etc/passwd"; }
as_exim() {
    local ids; ids=$(exim_ids)
    chroot --userspec="$ids" --groups="${ids#*:}" "$R" /usr/bin/env -i \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/var/spool/exim4 "$@"
}
# No network in the world: everything apt needs is in the chroot's archive cache.
apt_in() { inr apt-get -y -q -o APT::Sandbox::User=root "$@" </dev/null; }

# setup_root RELEASE CHROOT: R = an overlay of CHROOT with the world's
# resolver, hosts and CA, a private /proc, /run and /tmp
setup_root() {
    local d=$work/$1
    mkdir -p "$d/upper" "$d/ovl" "$d/root"
    mount -t overlay overlay -o "lowerdir=$2,upperdir=$d/upper,workdir=$d/ovl" "$d/root" || return 1
    R=$d/root
    mount -t proc proc "$R/proc" && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts" &&
        mount -t tmpfs tmpfs "$R/run" && mount -t tmpfs -o mode=1777 tmpfs "$R/tmp" || return 1
    rm -f "$R/etc/resolv.conf"
    cp /etc/resolv.conf "$R/etc/resolv.conf" && cp /etc/hosts "$R/etc/hosts" &&
        cp "$WORLD_DIR/ca-bundle.crt" "$R/etc/ssl/certs/ca-certificates.crt" || return 1
    # The helper trusts the hashed directory by default (CApath): the world CA
    # gets its <subject hash>.0 link there too.
    local h
    h=$(openssl x509 -noout -subject_hash -in "$WORLD_DIR/ca/ca.crt") &&
        cp "$WORLD_DIR/ca/ca.crt" "$R/etc/ssl/certs/exim-mtasts-world-ca.pem" &&
        ln -sf exim-mtasts-world-ca.pem "$R/etc/ssl/certs/$h.0" || return 1
    echo sender.world > "$R/etc/mailname"
}

# The administrator's Exim: Debian's configuration, split files, internet
# delivery; the test world's addresses are 127/8 (Debian ignores those
# targets by default) and it sends from the world's host address.
configure_exim() {
    cat >"$R/etc/exim4/update-exim4.conf.conf" <<EOF
dc_eximconfig_configtype='internet'
dc_other_hostnames='sender.world'
dc_local_interfaces='$WORLD_HOST_IP'
dc_readhost=''
dc_relay_domains=''
dc_minimaldns='false'
dc_relay_nets='127.0.0.0/8'
dc_smarthost=''
CFILEMODE='644'
dc_use_split_config='true'
dc_hide_mailname=''
dc_mailname_in_oh='true'
dc_localdelivery='mail_spool'
EOF
    cat >"$R/etc/exim4/conf.d/main/000_localmacros" <<EOF
MAIN_HARDCODE_PRIMARY_HOSTNAME = sender.world
ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS = <; 0.0.0.0
REMOTE_SMTP_INTERFACE = $WORLD_HOST_IP
EOF
    inr update-exim4.conf
}

start_daemon() {
    chroot "$R" /usr/sbin/exim4 -bdf -q30m </dev/null >>"$work/daemon.out" 2>&1 &
    DPID=$!
    local _
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/$WORLD_HOST_IP/25") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop_daemon() {
    [ -n "$DPID" ] || return 0
    kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; DPID=''
}
restart_daemon() { stop_daemon; start_daemon; }

mainlog() { cat "$R/var/log/exim4/mainlog" 2>/dev/null; }
# send RCPT: one message over SMTP to the daemon; waits until the log says
# it was delivered (=>) or deferred (==) for RCPT
send() {
    swaks -4 --server "$WORLD_HOST_IP" --from "sender@sender.world" --to "$1" \
        --header "Subject: deb test $1" --body "hello from tests/deb" >"$work/swaks.out" 2>&1 ||
        { echo "swaks failed: $(tail -3 "$work/swaks.out")"; return 1; }
    local _
    for _ in $(seq 300); do
        mainlog | grep -qE " (=>|==) $1 " && return 0
        sleep 0.1
    done
    echo "no delivery attempt for $1 in the log"; return 1
}
mailfile() { grep -lx "Envelope-to: $1" "$WORLD_DIR"/smtp/*/Maildir/new/* 2>/dev/null; }
receivers_of() { mailfile "$1" | sed -E 's|.*/smtp/([^/]+)/Maildir/.*|\1|' | sort | tr '\n' ' ' | sed 's/ $//'; }
# routing RCPT: what exim -bt says, without the policy-dependent details
routing() { inr exim4 -bt "$1" 2>&1; }
queued() { inr exim4 -bpr | awk -v r="$1" '$1==r' | wc -l; }

# snapshot: the chroot's files (but logs, caches, dpkg's and apt's own
# state and the Exim hints databases other than those of the MTA-STS
# transports), users and groups
snapshot() {
    (cd "$R" && find . -xdev \( -path ./proc -o -path ./run -o -path ./tmp -o -path ./dev \
        -o -path ./var/log -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg/triggers \
        -o -path ./var/lib/dpkg/updates -o -path './var/lib/dpkg/status*' -o -path ./var/lib/dpkg/lock \
        -o -path './var/lib/dpkg/lock-*' -o -path ./var/lib/dpkg/available \
        -o -path ./var/spool/exim4/input -o -path ./var/spool/exim4/msglog \) -prune -o -print |
        grep -v '^\./var/spool/exim4/db/'
     for f in "$R"/var/spool/exim4/db/*mtasts*; do [ -e "$f" ] && echo "./var/spool/exim4/db/${f##*/}"; done) | sort
    echo "--- users"; cut -d: -f1,3,4 "$R/etc/passwd"; echo "--- groups"; cut -d: -f1,3,4 "$R/etc/group"
}

run_release() {
    local rel=$1 chroot=$2 old='' new='' f bt0 r before
    echo "# $rel"
    for f in "$ROOT/build/deb/$rel"/exim4-mtasts_*.deb; do [ -e "$f" ] && old=$f; done
    for f in "$ROOT/build/deb-upgrade/$rel"/exim4-mtasts_*"$UPGRADE_SUFFIX"_*.deb; do [ -e "$f" ] && new=$f; done
    if [ -z "$old" ] || [ -z "$new" ]; then not_ok "$rel: packages missing"; return; fi
    if ! setup_root "$rel" "$chroot"; then not_ok "$rel: overlay of $chroot"; return; fi
    if ! { mkdir -p "$R/tmp/debs" && cp "$old" "$new" "$R/tmp/debs/"; }; then not_ok "$rel: copy debs"; return; fi
    old=/tmp/debs/$(basename "$old") new=/tmp/debs/$(basename "$new")

    # Dependencies come from Debian (the chroot's apt lists and archives).
    check_grep "$rel: apt resolves the Depends from Debian (exim4-daemon-heavy)" \
        '^Inst exim4-daemon-heavy ' "$(inr apt-get install -s "$old" 2>&1)"
    # gpgv too (the package's Recommends): apt leaves what it pulled in
    # after a purge, and the purge check compares against this state.
    if ! apt_in install exim4-daemon-heavy gpgv >"$work/apt.log" 2>&1; then
        not_ok "$rel: installing Debian's exim4-daemon-heavy and gpgv: $(tail -5 "$work/apt.log")"; return
    fi
    if ! configure_exim; then not_ok "$rel: update-exim4.conf (Debian's configuration)"; return; fi
    ok "$rel: Debian's exim4-daemon-heavy installed and configured"
    before=$(snapshot); cp "$R/var/lib/exim4/config.autogenerated" "$work/config.before"
    bt0=$(routing "rcpt@enforce.test")
    check_grep "$rel: before: enforce.test routed by Debian's dnslookup" "router = dnslookup" "$bt0"

    # install
    if apt_in install "$old" >"$work/apt.log" 2>&1; then
        ok "$rel: apt-get install ./$(basename "$old")"
    else
        not_ok "$rel: apt-get install ./$(basename "$old"): $(tail -5 "$work/apt.log")"; return
    fi
    check_eq "$rel: the package is installed" "$(inr dpkg-query -W -f '${Status}' exim4-mtasts)" "install ok installed"
    check_eq "$rel: store directory owner and mode" \
        "$(inr stat -c '%U:%G %a' /var/spool/exim4/db/mtasts)" "Debian-exim:Debian-exim 750"
    check_eq "$rel: the refresh timer is enabled" \
        "$([ -L "$R/etc/systemd/system/timers.target.wants/mtasts-refresh.timer" ] && echo yes)" yes
    check_grep "$rel: postinst ran update-exim4.conf (snippets in the generated configuration)" \
        '^\.ifdef MTASTS_ENABLE' "$(cat "$R/var/lib/exim4/config.autogenerated")"
    check_eq "$rel: installed, not enabled: exim -bt of enforce.test unchanged" "$(routing "rcpt@enforce.test")" "$bt0"
    cp -a "$R/var/lib/exim4/config.autogenerated" "$work/config.installed"
    if inr /var/lib/dpkg/info/exim4-mtasts.postinst configure "$(dpkg-deb -f "$R$old" Version)" >"$work/postinst.log" 2>&1; then
        ok "$rel: postinst configure runs again (idempotent)"
    else
        not_ok "$rel: postinst configure again: $(tail -3 "$work/postinst.log")"
    fi
    check_eq "$rel: ... and changes nothing" "$(cmp -s "$work/config.installed" "$R/var/lib/exim4/config.autogenerated" && inr stat -c '%U %a' /var/spool/exim4/db/mtasts)" "Debian-exim 750"

    # With the single-file configuration, postinst leaves it alone.
    local uec=$R/etc/exim4/update-exim4.conf.conf gen=$R/var/lib/exim4/config.autogenerated
    sed -i "s/^dc_use_split_config=.*/dc_use_split_config='false'/" "$uec"
    touch -d @946684800 "$gen"
    inr /var/lib/dpkg/info/exim4-mtasts.postinst configure "$(dpkg-deb -f "$R$old" Version)" >/dev/null 2>&1
    check_eq "$rel: single-file configuration: postinst does not run update-exim4.conf" "$(stat -c %Y "$gen")" 946684800
    sed -i "s/^dc_use_split_config=.*/dc_use_split_config='true'/" "$uec"
    inr update-exim4.conf

    # the autopkgtests of debian/tests, against the installed package
    local t tests
    cp -r "$ROOT/packaging/debian/tests" "$R/tmp/autopkgtest"
    tests=$(sed -n 's/^Tests: *//p' "$ROOT/packaging/debian/tests/control")
    for t in $tests; do
        mkdir -p "$R/tmp/apt-$t"
        if inr env AUTOPKGTEST_TMP="/tmp/apt-$t" "/tmp/autopkgtest/$t" >"$work/autopkgtest-$t.log" 2>&1; then
            ok "$rel: autopkgtest $t"
        else
            not_ok "$rel: autopkgtest $t: $(tail -5 "$work/autopkgtest-$t.log")"
        fi
    done

    # Exim's daemon, not enabled: delivered as by Debian's configuration
    if ! start_daemon; then not_ok "$rel: Exim's daemon does not listen"; return; fi
    r=off-$rel-$RANDOM@enforce.test
    send "$r" && check_grep "$rel: not enabled: enforce.test delivered by dnslookup/remote_smtp" \
        "=> $r R=dnslookup T=remote_smtp " "$(mainlog)"

    # enable
    printf 'MTASTS_ENABLE = 1\nMTASTS_IGNORE_TARGET_HOSTS = 0.0.0.0\n' >>"$R/etc/exim4/conf.d/main/000_localmacros"
    # The world's policy hosts live on 127/8, refused by default (exim-mtasts(5)).
    echo 'allow_private_policy_host = yes' >"$R/etc/exim4/mtasts.conf"
    if inr update-exim4.conf && inr exim4 -bV >/dev/null && restart_daemon; then
        ok "$rel: enabled with MTASTS_ENABLE, update-exim4.conf, daemon restarted"
    else
        not_ok "$rel: enabling failed"; return
    fi
    check_grep "$rel: enabled: exim -bt routes enforce.test with mtasts_enforce" \
        "router = mtasts_enforce" "$(routing "rcpt@enforce.test")"
    r=on-$rel-$RANDOM@enforce.test
    send "$r" && check_grep "$rel: enforce.test delivered over verified TLS to its listed MX" \
        "=> $r R=mtasts_enforce T=mtasts_smtp H=mx1.enforce.test \[127.0.2.1\] .*X=TLS[^ ]+ CV=yes" "$(mainlog)"
    check_eq "$rel: enforce.test received by the good receiver" "$(receivers_of "$r")" good
    r=unl-$rel-$RANDOM@enforce-unlisted.test
    send "$r" && check_grep "$rel: enforce-unlisted.test delivered to the listed MX" \
        "=> $r R=mtasts_enforce T=mtasts_smtp H=listed.enforce-unlisted.test \[127.0.2.1\] .*CV=yes" "$(mainlog)"
    check_eq "$rel: enforce-unlisted.test: the unlisted MX (MX 10, receiver good2) got nothing" "$(receivers_of "$r")" good
    check_eq "$rel: enforce-unlisted.test: the router drops the unlisted MX" \
        "$(routing "x@enforce-unlisted.test" | grep -c 'unlisted.enforce-unlisted.test')" 0
    r=exp-$rel-$RANDOM@enforce-expired.test
    send "$r" && check_grep "$rel: enforce-expired.test deferred (expired certificate)" \
        "== $r R=mtasts_enforce T=mtasts_smtp defer" "$(mainlog)"
    check_eq "$rel: enforce-expired.test still queued" "$(queued "$r")" 1
    check_eq "$rel: enforce-expired.test not bounced" "$(mainlog | grep -c ' <= <> ')" 0
    check_grep "$rel: mtasts query as root" "enforce" "$(inr mtasts query enforce.test 2>&1)"
    check_grep "$rel: mtasts query as Debian-exim" "enforce" "$(as_exim /usr/sbin/mtasts query enforce.test 2>&1)"
    check_grep "$rel: the store holds enforce.test" "enforce\.test" "$(inr mtasts cache list 2>&1)"

    # the administrator's changes to conffiles, then the upgrade
    echo "# local change $rel" >>"$R/etc/exim4/conf.d/router/190_mtasts-config"
    sed -i 's/^17 4 /#17 4 /' "$R/etc/cron.d/exim-mtasts"
    if apt_in install "$new" >"$work/apt.log" 2>&1; then
        ok "$rel: upgrade with apt-get install ./$(basename "$new")"
    else
        not_ok "$rel: upgrade: $(tail -5 "$work/apt.log")"
    fi
    check_eq "$rel: upgraded version" "$(inr dpkg-query -W -f '${Version}' exim4-mtasts)" \
        "$(dpkg-deb -f "$R$new" Version)"
    check_eq "$rel: upgrade kept the router conffile change" \
        "$(tail -1 "$R/etc/exim4/conf.d/router/190_mtasts-config")" "# local change $rel"
    check_eq "$rel: upgrade kept the cron conffile change" "$(grep -c '^#17 4 ' "$R/etc/cron.d/exim-mtasts")" 1
    check_eq "$rel: upgrade left no .dpkg-* files" \
        "$(find "$R/etc/exim4" "$R/etc/cron.d" -name '*.dpkg-*' | wc -l)" 0
    check_grep "$rel: upgrade kept the store" "enforce\.test" "$(inr mtasts cache list 2>&1)"
    restart_daemon
    r=upg-$rel-$RANDOM@enforce.test
    send "$r" && check_grep "$rel: after the upgrade: enforce.test delivered by mtasts_enforce" \
        "=> $r R=mtasts_enforce T=mtasts_smtp H=mx1.enforce.test .*CV=yes" "$(mainlog)"

    # remove: the conffiles stay (MTASTS_ENABLE too), Debian's mail flow returns
    if apt_in remove exim4-mtasts >"$work/apt.log" 2>&1; then
        ok "$rel: apt-get remove"
    else
        not_ok "$rel: apt-get remove: $(tail -5 "$work/apt.log")"
    fi
    check_eq "$rel: removed, conffiles kept" "$(inr dpkg-query -W -f '${Status}' exim4-mtasts)" "deinstall ok config-files"
    check_eq "$rel: removed: exim -bt of enforce.test as before the install" "$(routing "rcpt@enforce.test")" "$bt0"
    check_eq "$rel: removed: the configuration is valid" "$(inr exim4 -bV >/dev/null 2>&1; echo $?)" 0
    r=rm-$rel-$RANDOM@enforce.test
    send "$r" && check_grep "$rel: removed: enforce.test delivered by dnslookup/remote_smtp" \
        "=> $r R=dnslookup T=remote_smtp " "$(mainlog)"
    stop_daemon
    check_eq "$rel: no panic log" "$(cat "$R/var/log/exim4/paniclog" 2>/dev/null)" ""

    # purge: nothing left but the administrator's own macros
    if apt_in purge exim4-mtasts >"$work/apt.log" 2>&1; then
        ok "$rel: apt-get purge"
    else
        not_ok "$rel: apt-get purge: $(tail -5 "$work/apt.log")"
    fi
    check_eq "$rel: purged: dpkg knows no exim4-mtasts" "$(inr dpkg-query -W -f '${Status}' exim4-mtasts 2>/dev/null)" ""
    # the macros the test added, then the file list and Exim's configuration
    sed -i '/^MTASTS_/d' "$R/etc/exim4/conf.d/main/000_localmacros"
    rm -f "$R/etc/exim4/mtasts.conf"
    inr update-exim4.conf
    check_eq "$rel: purged: no file, directory, user, group or timer left (against the list before the install)" \
        "$(diff <(echo "$before") <(snapshot) | grep '^[<>]')" ""
    check_eq "$rel: purged: Exim's generated configuration as before the install" \
        "$(cmp -s "$work/config.before" "$R/var/lib/exim4/config.autogenerated" && echo same)" same
    check_eq "$rel: purged: exim -bt of enforce.test as before the install" "$(routing "rcpt@enforce.test")" "$bt0"
}

for spec in "$@"; do
    t0=$SECONDS
    run_release "${spec%%=*}" "${spec#*=}"
    stop_daemon
    echo "# ${spec%%=*}: $((SECONDS - t0)) s"
done
tally deb
