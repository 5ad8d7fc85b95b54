#!/usr/bin/env bash
# The administrator's side outside the package (issue 15):
#   - make on a host without an Exim source tree builds the CLI and the
#     dlfunc object and exits 0, saying what it skipped; without exim4-dev
#     the CLI alone;
#   - tests/deps.sh (make deps / build-deps) never signals a process: a decoy
#     exim4 process survives it, with apt, dpkg and the init system replaced
#     by stand-ins that record what they are asked; build mode asks for build
#     packages only; removals are refused; a daemon its install started is
#     stopped through the init system;
#   - a decoy exim4 process outside the test world survives a world run;
#   - make uninstall refuses while a live configuration uses the objects,
#     disables the timer, keeps an edited cron file.
#   bash tests/install/test-admin.sh      (root; runs tests/world/run-in-world)
# Ends with "admin: N passed, N failed"; exit status 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
pass=0 fail=0
ok()  { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; fail=$((fail + 1)); }
tmp=$(mktemp -d /var/tmp/mtasts-admin.XXXXXX)
decoy_pid=''
cleanup() {
    # Only our own decoy, by pid, and only while it is still our program.
    [ -n "$decoy_pid" ] && [ "$(readlink "/proc/$decoy_pid/exe" 2>/dev/null)" = "$tmp/decoy/exim4" ] \
        && kill "$decoy_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT

# A copy of sleep named exim4: its process name is exim4, as pkill -x exim4
# or killall exim4 would match.
start_decoy() {
    mkdir -p "$tmp/decoy" && cp "$(command -v sleep)" "$tmp/decoy/exim4" || return 1
    setsid "$tmp/decoy/exim4" 600 </dev/null >/dev/null 2>&1 &
    decoy_pid=$!
    sleep 0.1
    [ "$(cat "/proc/$decoy_pid/comm" 2>/dev/null)" = exim4 ]
}
decoy_alive() { [ "$(readlink "/proc/$decoy_pid/exe" 2>/dev/null)" = "$tmp/decoy/exim4" ]; }

# ------------------------------------------- make without an Exim source tree
B=$tmp/build
mkdir -p "$tmp/empty-cache"
out=$($MAKE -s BUILD="$B" EXIM_SRC=/nonexistent MTASTS_CACHE="$tmp/empty-cache" 2>&1); rc=$?
[ "$rc" = 0 ] && ok "make with EXIM_SRC=/nonexistent and an empty MTASTS_CACHE: exit 0" \
    || nok "make without an Exim source tree: exit 0" "exit $rc" "$(tail -5 <<<"$out")"
[ -x "$B/mtasts" ] && [ -f "$B/mtasts_dlfunc.so" ] && ok "make without an Exim tree: the CLI and the dlfunc object are built" \
    || nok "make without an Exim tree: the CLI and the dlfunc object are built" "$(ls "$B" 2>&1)"
[ ! -e "$B/mtasts_lookup.so" ] && grep -q "skipped mtasts_lookup.so: EXIM_SRC=/nonexistent" <<<"$out" \
    && ok "make without an Exim tree: says in one line that it skipped the lookup module" \
    || nok "make without an Exim tree: says it skipped the lookup module" "$out"
out=$($MAKE -s BUILD="$B" MTASTS_CACHE="$tmp/empty-cache" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "skipped mtasts_lookup.so" <<<"$out" \
    && ok "make with the default EXIM_SRC under an empty MTASTS_CACHE: exit 0, module skipped" \
    || nok "make with the default EXIM_SRC under an empty MTASTS_CACHE" "exit $rc" "$out"

# ------------------------------------------- a test Exim the Exim user can run
# Exim re-executes itself as the Exim user (-MC, -t), so build-exim.sh gives
# a mode-700 cache (mktemp -d) search permission, and refuses a cache below
# a directory others cannot traverse before it downloads anything.
out=$(MTASTS_CACHE="$tmp/below-700/cache" bash tests/exim/build-exim.sh 4.96 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "$tmp is not searchable by others" <<<"$out" && [ ! -e "$tmp/below-700/cache/exim-4.96" ] \
    && ok "build-exim.sh: a cache below a mode-700 directory is refused, nothing downloaded" \
    || nok "build-exim.sh: a cache below a mode-700 directory is refused" "exit $rc" "$out"
c700=$(mktemp -d /var/tmp/mtasts-cache700.XXXXXX)
touch "$c700/exim-4.96"     # a file where the prefix goes: stops the build right after the check
out=$(MTASTS_CACHE="$c700" bash tests/exim/build-exim.sh 4.96 2>&1); rc=$?
[ "$rc" != 0 ] && [ "$(stat -c %a "$c700")" = 711 ] && grep -q "gave $c700 search permission" <<<"$out" \
    && ok "build-exim.sh: a mode-700 cache gets search permission (711), nothing more" \
    || nok "build-exim.sh: a mode-700 cache gets search permission" "exit $rc, mode $(stat -c %a "$c700")" "$out"
rm -rf "$c700"
rm -f "$B/mtasts_dlfunc.so"
out=$($MAKE -s BUILD="$B" EXIM_SRC=/nonexistent EXIM4_DEV_INCLUDE=/nonexistent 2>&1); rc=$?
[ "$rc" = 0 ] && [ ! -e "$B/mtasts_dlfunc.so" ] && grep -q "skipped mtasts_dlfunc.so: no /nonexistent/local_scan.h" <<<"$out" \
    && ok "make without exim4-dev headers: exit 0, the CLI only, says why" \
    || nok "make without exim4-dev headers: exit 0, the CLI only, says why" "exit $rc" "$out"
out=$($MAKE -s install DESTDIR="$tmp/nodev" BUILD="$B" EXIM_SRC=/nonexistent EXIM4_DEV_INCLUDE=/nonexistent 2>&1); rc=$?
[ "$rc" = 0 ] && [ -x "$tmp/nodev/usr/lib/exim-mtasts/mtasts" ] && [ ! -e "$tmp/nodev/usr/lib/exim4/mtasts_dlfunc.so" ] \
    && ok "make install without exim4-dev headers: the rest is installed, no dlfunc object" \
    || nok "make install without exim4-dev headers" "exit $rc" "$out"
out=$($MAKE -s module BUILD="$B" EXIM_SRC=/nonexistent 2>&1) \
    && nok "make module without an Exim tree still fails" "$out" \
    || ok "make module without an Exim tree still fails (asked for explicitly)"

# ------------------------------------------------------------ deps.sh
# Stand-ins: dpkg-query reports every package installed except $FAKE_MISSING;
# apt-get, service and systemctl log their arguments; apt-get -s reports the
# removals in $FAKE_REMOVALS; service NAME status is "running" once the
# stand-in apt-get installed a package in $FAKE_STARTS.
F=$tmp/fakebin
mkdir -p "$F"
cat >"$F/dpkg-query" <<'EOF'
#!/bin/sh
p=$(eval echo \${$#}); echo "$p" >>"$FAKE_LOG.dpkg"
case " $FAKE_MISSING " in *" $p "*) exit 1 ;; esac
printf 'install ok installed'
EOF
cat >"$F/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
case " $* " in
    *" -s "*) for p in $FAKE_REMOVALS; do echo "Remv $p [1.0]"; done ;;
    *" install "*) for p in $FAKE_STARTS; do touch "$FAKE_LOG.started.$p"; done ;;
esac
exit 0
EOF
cat >"$F/service" <<'EOF'
#!/bin/sh
echo "service $*" >>"$FAKE_LOG"
[ "$2" = status ] && { [ -e "$FAKE_LOG.started.$1" ]; exit; }
exit 0
EOF
cat >"$F/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>"$FAKE_LOG"
case $* in *is-active*) for a; do u=$a; done; [ -e "$FAKE_LOG.started.$u" ]; exit ;; esac
exit 0
EOF
# pkill and killall by name would reach every process of that name on the
# machine, other tests' worlds included: stand-ins that record the call and
# signal our decoy alone (so that the decoy check sees what the real one did).
for k in pkill killall; do
    printf '#!/bin/sh\necho "%s $*" >>"$FAKE_LOG"\ncase " $* " in *" exim4 "*) kill "$FAKE_DECOY" 2>/dev/null ;; esac\nexit 0\n' \
        "$k" >"$F/$k"
done
chmod 755 "$F"/*
export FAKE_LOG=$tmp/fake.log
# deps RUN-NAME ARGS...: deps.sh with the stand-ins; $out, $rc
deps() {
    rm -f "$FAKE_LOG"*
    out=$(PATH="$F:$PATH" bash tests/deps.sh "$@" 2>&1); rc=$?
}

if ! start_decoy; then
    nok "decoy exim4 process started"
else
    ok "decoy exim4 process started outside the test world (pid $decoy_pid)"
    export FAKE_DECOY=$decoy_pid
    # The host's own policy-rc.d (here: one that allows starts) is kept; the
    # exim4 service that "started" with the install is stopped by the init system.
    printf '#!/bin/sh\nexit 0\n' >"$tmp/host-policy-rc.d"
    FAKE_MISSING="exim4-daemon-heavy nsd unbound" FAKE_STARTS="exim4" FAKE_REMOVALS='' \
        MTASTS_POLICY_RC_D="$tmp/host-policy-rc.d" deps test
    [ "$rc" = 0 ] && grep -q "install .*exim4-daemon-heavy nsd unbound" "$FAKE_LOG" \
        && ok "deps.sh test: installs the missing test packages (stand-in apt-get)" \
        || nok "deps.sh test: installs the missing packages" "exit $rc" "$out" "$(cat "$FAKE_LOG" 2>/dev/null)"
    decoy_alive && ! grep -Eq "^(pkill|killall) " "$FAKE_LOG" \
        && ok "deps.sh: no pkill/killall, the decoy exim4 process survived" \
        || nok "deps.sh: no pkill/killall, the decoy exim4 process survived" "$(grep -E "^(pkill|killall) " "$FAKE_LOG")"
    grep -Eq "^(service exim4 stop|systemctl stop exim4)$" "$FAKE_LOG" && ! grep -Eq "(nsd|unbound) stop" "$FAKE_LOG" \
        && ok "deps.sh: the exim4 service its install started is stopped through the init system, nothing else" \
        || nok "deps.sh: stops only the service its install started, through the init system" "$(cat "$FAKE_LOG")"
    grep -qx 'exit 0' "$tmp/host-policy-rc.d" && ok "deps.sh: the host's own policy-rc.d is left as it was" \
        || nok "deps.sh: the host's own policy-rc.d is left as it was"

    # No policy-rc.d on the host: deps.sh adds one for the install and removes it.
    mkdir -p "$tmp/none"
    FAKE_MISSING="exim4-daemon-heavy" FAKE_STARTS='' FAKE_REMOVALS='' \
        MTASTS_POLICY_RC_D="$tmp/none/policy-rc.d" deps test
    [ "$rc" = 0 ] && [ ! -e "$tmp/none/policy-rc.d" ] && ! grep -q " stop" "$FAKE_LOG" \
        && ok "deps.sh: its own policy-rc.d keeps daemons from starting, and is removed after" \
        || nok "deps.sh: its own policy-rc.d" "exit $rc" "$out" "$(cat "$FAKE_LOG")"
    decoy_alive && ok "deps.sh (own policy-rc.d): the decoy survived" || nok "deps.sh (own policy-rc.d): the decoy survived"

    FAKE_MISSING="exim4-daemon-heavy" FAKE_STARTS='' FAKE_REMOVALS="postfix" \
        MTASTS_POLICY_RC_D="$tmp/host-policy-rc.d" deps test
    [ "$rc" != 0 ] && grep -q "would remove: postfix" <<<"$out" && ! grep -q "apt-get install -y" "$FAKE_LOG" \
        && ok "deps.sh: refuses when the install would remove a package (another MTA)" \
        || nok "deps.sh: refuses removals" "exit $rc" "$out" "$(cat "$FAKE_LOG")"

    FAKE_MISSING="exim4-dev nsd" FAKE_STARTS='' FAKE_REMOVALS='' \
        MTASTS_POLICY_RC_D="$tmp/host-policy-rc.d" deps build
    asked=$(sort -u "$FAKE_LOG.dpkg" 2>/dev/null | paste -sd' ')
    [ "$rc" = 0 ] && grep -q "install .*exim4-dev" "$FAKE_LOG" && ! grep -qw nsd <<<"$asked" \
        && ! grep -qw exim4-daemon-heavy <<<"$asked" && ! grep -q "deb-src" <<<"$out" \
        && ok "deps.sh build: build packages only ($asked), no apt sources" \
        || nok "deps.sh build: build packages only" "exit $rc" "asked: $asked" "$out"

    # ---------------------------------------------------- a world run
    if tests/world/run-in-world true >"$tmp/world.log" 2>&1; then
        ok "set-up: a test world ran (its own exim4 receivers started and stopped)"
    else
        nok "set-up: a test world ran" "$(tail -5 "$tmp/world.log")"
    fi
    decoy_alive && ok "world run: the decoy exim4 process outside the world survived" \
        || nok "world run: the decoy exim4 process outside the world survived"
fi

# ------------------------------------------------------------ make uninstall
D=$tmp/root
if ! $MAKE -s install DESTDIR="$D" >"$tmp/log" 2>&1; then
    nok "set-up: make install DESTDIR" "$(tail -5 "$tmp/log")"
else
    printf 'MTASTS_DLFUNC = /usr/lib/exim4/mtasts_dlfunc.so\n.include %s/live-routers\n' "$tmp" >"$tmp/live.conf"
    printf 'begin routers\nx:\n  driver = redirect\n  address_data = ${lookup mtasts{$domain}}\n' >"$tmp/live-routers"
    out=$($MAKE -s uninstall DESTDIR="$D" EXIM_LIVE_CONFIG="$tmp/live.conf" 2>&1) && rc=0 || rc=$?
    [ "$rc" != 0 ] && [ -f "$D/usr/lib/exim4/mtasts_dlfunc.so" ] && grep -q "still uses exim-mtasts" <<<"$out" \
        && grep -q "live.conf:1:MTASTS_DLFUNC" <<<"$out" && grep -q "live-routers:4:" <<<"$out" \
        && ok "make uninstall: refuses while the live configuration (and what it .includes) uses the objects" \
        || nok "make uninstall: refuses while the live configuration uses the objects" "exit $rc" "$out"
    sed -i 's/^/# /' "$tmp/live.conf" "$tmp/live-routers"
    mkdir -p "$D/etc/systemd/system/timers.target.wants"
    ln -s /lib/systemd/system/mtasts-refresh.timer "$D/etc/systemd/system/timers.target.wants/"
    echo "# my change" >>"$D/etc/cron.d/exim-mtasts"
    out=$($MAKE -s uninstall DESTDIR="$D" EXIM_LIVE_CONFIG="$tmp/live.conf" 2>&1); rc=$?
    [ "$rc" = 0 ] && [ ! -e "$D/usr/lib/exim4/mtasts_dlfunc.so" ] \
        && ok "make uninstall: goes ahead once the configuration no longer uses them (comments aside)" \
        || nok "make uninstall: goes ahead once the configuration is clean" "exit $rc" "$out"
    [ ! -L "$D/etc/systemd/system/timers.target.wants/mtasts-refresh.timer" ] \
        && ok "make uninstall: disables the timer" || nok "make uninstall: disables the timer" "$out"
    [ -f "$D/etc/cron.d/exim-mtasts" ] && grep -q "kept .*exim-mtasts: edited" <<<"$out" \
        && ok "make uninstall: keeps an edited cron file and says so" || nok "make uninstall: keeps an edited cron file" "$out"
    $MAKE -s install DESTDIR="$D" >/dev/null 2>&1 && $MAKE -s uninstall DESTDIR="$D" >/dev/null 2>&1
    [ ! -e "$D/etc/cron.d/exim-mtasts" ] && ok "make uninstall: removes the cron file it installed" \
        || nok "make uninstall: removes the cron file it installed"
    printf 'MTASTS_DLFUNC = /usr/lib/exim4/mtasts_dlfunc.so\n' >"$tmp/live.conf"
    $MAKE -s install DESTDIR="$D" >/dev/null 2>&1
    out=$($MAKE -s uninstall DESTDIR="$D" EXIM_LIVE_CONFIG="$tmp/live.conf" FORCE=1 2>&1); rc=$?
    [ "$rc" = 0 ] && [ ! -e "$D/usr/lib/exim4/mtasts_dlfunc.so" ] && grep -q "WARNING: FORCE=1" <<<"$out" \
        && ok "make uninstall FORCE=1: removes anyway, with a warning" || nok "make uninstall FORCE=1" "exit $rc" "$out"
fi

echo "admin: $pass passed, $fail failed"
[ "$fail" = 0 ]
