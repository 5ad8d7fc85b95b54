#!/usr/bin/env bash
# make install / make uninstall into a staging directory: every file with its
# mode, the symlink, paths that follow PREFIX, and nothing left behind.
#   bash tests/install/test-install.sh
# Ends with "install: N passed, N failed"; exit status 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
pass=0 fail=0
ok()  { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "failed: $*"; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# mode_is FILE MODE - a regular file (not a link) with exactly that mode
mode_is() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(stat -c %a "$1")" = "$2" ]; }
# installed DIR - every file and link under DIR, relative, sorted
installed() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | sort); }

# ------------------------------------------ PREFIX=/usr, with a module dir
D=$tmp/root
VARS=(DESTDIR="$D" PREFIX=/usr LOOKUP_MODULE_DIR=/usr/lib/exim4/lookups)
if ! $MAKE -s install "${VARS[@]}" >"$tmp/log" 2>&1; then
    nok "make install" "$(tail -20 "$tmp/log")"
    echo "install: $pass passed, $fail failed"; exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr LOOKUP_MODULE_DIR=/usr/lib/exim4/lookups"

expect=(/usr/lib/exim-mtasts/mtasts /usr/sbin/mtasts /usr/lib/exim4/mtasts_dlfunc.so
        /usr/lib/exim4/lookups/mtasts_lookup.so /lib/systemd/system/mtasts-refresh.service
        /lib/systemd/system/mtasts-refresh.timer /lib/systemd/system/mtasts-tlsrpt.service
        /lib/systemd/system/mtasts-tlsrpt.timer /etc/cron.d/exim-mtasts)
for m in docs/man/*.[58]; do
    [ -e "$m" ] && expect+=("/usr/share/man/man${m##*.}/$(basename "$m")")
done
while IFS= read -r f; do
    expect+=("/usr/share/exim-mtasts/snippets/${f#exim-config-snippets/}")
done < <(find exim-config-snippets -type f 2>/dev/null)
want=$(printf '%s\n' "${expect[@]}" | sort)
got=$(installed "$D")
[ "$got" = "$want" ] && ok "exactly the expected files (${#expect[@]})" \
    || nok "exactly the expected files" "$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
# The same, against the list written out by hand (not from wildcards).
listed=$(grep -v '^#' tests/install/expected-files.txt | grep . | sort)
[ -n "$listed" ] && [ "$got" = "$listed" ] && ok "exactly the files of tests/install/expected-files.txt" \
    || nok "exactly the files of tests/install/expected-files.txt" "$(diff <(echo "$listed") <(echo "$got") | grep '^[<>]')"

check "helper: 0755, the build's binary" mode_is "$D/usr/lib/exim-mtasts/mtasts" 755
check "helper: same content as build/mtasts" cmp -s build/mtasts "$D/usr/lib/exim-mtasts/mtasts"
# The adapters run the helper at MTASTS_HELPER_DEFAULT, compiled in from PREFIX.
check "helper: at the path compiled into the dlfunc object" \
    grep -qa '/usr/lib/exim-mtasts/mtasts' "$D/usr/lib/exim4/mtasts_dlfunc.so"
check "sbin/mtasts: a relative symlink to the helper" \
    test "$(readlink "$D/usr/sbin/mtasts")" = ../lib/exim-mtasts/mtasts
check "sbin/mtasts: resolves inside DESTDIR and runs" \
    sh -c "'$D/usr/sbin/mtasts' --version | grep -q '^mtasts '"
check "dlfunc object: 0644" mode_is "$D/usr/lib/exim4/mtasts_dlfunc.so" 644
check "dlfunc object: the build's" cmp -s build/mtasts_dlfunc.so "$D/usr/lib/exim4/mtasts_dlfunc.so"
check "lookup module: 0644 in LOOKUP_MODULE_DIR" mode_is "$D/usr/lib/exim4/lookups/mtasts_lookup.so" 644
for f in "${expect[@]}"; do
    case $f in /usr/share/*|/lib/systemd/*|/etc/cron.d/*)
        check "$f: 0644" mode_is "$D$f" 644 ;;
    esac
done
check "man page installed as it is" cmp -s docs/man/mtasts.8 "$D/usr/share/man/man8/mtasts.8"

svc=$D/lib/systemd/system/mtasts-refresh.service
tmr=$D/lib/systemd/system/mtasts-refresh.timer
cron=$D/etc/cron.d/exim-mtasts
check "service: runs mtasts refresh as Debian-exim" \
    sh -c "grep -q '^ExecStart=/usr/lib/exim-mtasts/mtasts refresh' '$svc' && grep -q '^User=Debian-exim' '$svc'"
check "service: hardened" sh -c "grep -q '^ProtectSystem=strict' '$svc' && grep -q '^NoNewPrivileges=yes' '$svc' && grep -q '^ReadWritePaths=' '$svc'"
check "timer: daily with RandomizedDelaySec" \
    sh -c "grep -q '^OnCalendar=daily' '$tmr' && grep -q '^RandomizedDelaySec=' '$tmr' && grep -q '^WantedBy=timers.target' '$tmr'"
if command -v systemd-analyze >/dev/null; then
    # The helper is not at its real path in a staging tree: that one complaint aside.
    v=$(systemd-analyze verify --man=no "$svc" "$tmr" 2>&1 | grep -v 'is not executable')
    [ -z "$v" ] && ok "systemd-analyze verify: no complaint" || nok "systemd-analyze verify: no complaint" "$v"
else
    nok "systemd-analyze verify" "systemd-analyze missing (tests/deps.sh installs systemd)"
fi
check "cron: a daily job as Debian-exim running mtasts refresh" \
    sh -c "grep -Eq '^[0-9]+ [0-9]+ \* \* \* Debian-exim .*/usr/lib/exim-mtasts/mtasts refresh' '$cron'"
check "cron: says only one of cron and timer should be active" grep -qi 'only one' "$cron"
check "cron: stands down while the timer is enabled" grep -q 'is-enabled mtasts-refresh.timer' "$cron"
check "cron: no bare % (cron would cut the line)" sh -c "! grep -v '^#' '$cron' | grep -q '%'"

$MAKE -s uninstall "${VARS[@]}" >"$tmp/log" 2>&1 && ok "make uninstall" || nok "make uninstall" "$(tail -5 "$tmp/log")"
left=$(installed "$D")
[ -z "$left" ] && ok "uninstall: no file left behind" || nok "uninstall: no file left behind" "$left"
check "uninstall: our directories are gone" \
    sh -c "[ ! -e '$D/usr/lib/exim-mtasts' ] && [ ! -e '$D/usr/share/exim-mtasts' ]"

# --------------------------------- PREFIX=/usr/local, no lookup module dir
D=$tmp/local
VARS=(DESTDIR="$D" PREFIX=/usr/local)
$MAKE -s install "${VARS[@]}" >"$tmp/log" 2>&1 && ok "make install PREFIX=/usr/local" \
    || nok "make install PREFIX=/usr/local" "$(tail -5 "$tmp/log")"
check "PREFIX=/usr/local: helper under the prefix" mode_is "$D/usr/local/lib/exim-mtasts/mtasts" 755
check "PREFIX=/usr/local: no lookup module without LOOKUP_MODULE_DIR" \
    sh -c "! find '$D' -name mtasts_lookup.so | grep -q ."
check "PREFIX=/usr/local: units and cron file name the helper there" \
    sh -c "grep -q '^ExecStart=/usr/local/lib/exim-mtasts/mtasts ' '$D/lib/systemd/system/mtasts-refresh.service' && grep -q '/usr/local/lib/exim-mtasts/mtasts refresh' '$D/etc/cron.d/exim-mtasts' && ! grep -q '/usr/lib/exim-mtasts' '$D/etc/cron.d/exim-mtasts'"
$MAKE -s uninstall "${VARS[@]}" >"$tmp/log" 2>&1
left=$(installed "$D")
[ -z "$left" ] && ok "PREFIX=/usr/local: uninstall leaves no file" || nok "PREFIX=/usr/local: uninstall leaves no file" "$left"

echo "install: $pass passed, $fail failed"
[ "$fail" = 0 ]
