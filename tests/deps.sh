#!/usr/bin/env bash
# Install what exim-mtasts needs, on Debian 12 (bookworm). Run as root.
#   bash tests/deps.sh build        the build packages only (make build-deps)
#   bash tests/deps.sh [test] [PKG...]  build + test packages, deb-src entries
#                                   for the test Exims (make deps, check, demo);
#                                   extra PKGs too (tests/bench/deps.sh)
# Idempotent: installs only missing packages. Never signals a process: package
# installs start no daemon (policy-rc.d), and a daemon that an existing
# policy-rc.d let start is stopped through the init system, only if this run
# installed its package. Refuses when apt would remove a package (installing
# exim4 replaces another MTA), unless MTASTS_DEPS_ALLOW_REMOVALS=1.
set -euo pipefail

mode=test
case ${1:-} in
    build) mode=build; shift ;;
    test) shift ;;
esac

# What make (all), make install and the dlfunc object need.
BUILD_PKGS=(build-essential pkg-config libssl-dev libcurl4-openssl-dev libldns-dev liblmdb-dev
            libidn2-dev exim4-dev libjansson-dev zlib1g-dev)
# make check / make demo: the test Exims' build dependencies (PCRE2, Berkeley
# DB), a real Exim (stock Debian, for ${dlfunc}), DNS servers, DNS
# tools, openssl CLI for the test CA, Python for the HTTPS test servers,
# clang/libFuzzer, valgrind, iproute2 for the namespace; libnet-ssleay-perl
# lets swaks speak STARTTLS.
TEST_PKGS=(libpcre2-dev libdb5.3-dev lmdb-utils
           exim4-daemon-heavy nsd unbound ldnsutils bind9-dnsutils openssl
           ca-certificates curl python3 clang libclang-rt-14-dev valgrind iproute2
           util-linux procps psmisc xz-utils dpkg-dev swaks man-db systemd libnet-ssleay-perl)
# TLSRPT end-to-end tests (tests/tlsrpt): the report JSON schema and the
# reports' DKIM signatures.
TEST_PKGS+=(python3-jsonschema python3-dkim strace)
# Signed preload lists: gpgv checks them, gpg makes the tests' throwaway key.
TEST_PKGS+=(gpg gpgv)
# Packages whose install may start a system daemon, and the daemon's service.
declare -A DAEMON_OF=([exim4-daemon-heavy]=exim4 [nsd]=nsd [unbound]=unbound)

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "deps: must run as root (apt-get install); missing: $*" >&2
        exit 1
    fi
}

want=("${BUILD_PKGS[@]}")
[ $mode = build ] || want+=("${TEST_PKGS[@]}" "$@")
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

need_update=0
if [ $mode = test ]; then
    # The test suite builds Exim 4.96, 4.98 and 4.100 from Debian's exim4
    # sources (apt-get source exim4 from bookworm, trixie, sid): deb-src
    # entries only, which never change what binary packages get installed.
    SRC_LIST=/etc/apt/sources.list.d/exim-mtasts-src.sources
    want_src="Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    if [ ! -f "$SRC_LIST" ] || [ "$(cat "$SRC_LIST")" != "$want_src" ]; then
        need_root "deb-src entries"
        echo "deps: the tests build their Exims from Debian's exim4 sources: adding deb-src"
        echo "deps:   entries for bookworm, trixie and sid in $SRC_LIST (test-only; delete it when done)"
        printf '%s\n' "$want_src" > "$SRC_LIST"
        need_update=1
    fi
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_update = 0 ]; then
    echo "deps: all present ($mode)"
    exit 0
fi
need_root "${missing[@]}"

export DEBIAN_FRONTEND=noninteractive
# Package installs must not start system daemons: the tests run their own
# copies inside a private network namespace.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"; chmod 755 "$POLICY"; policy_added=1
fi
trap '[ $policy_added = 1 ] && rm -f "$POLICY"' EXIT

apt-get update -qq
[ ${#missing[@]} -gt 0 ] || { echo "deps: done"; exit 0; }

# (A failing simulation is left to the real install to report.)
removals=$( (apt-get install -s --no-install-recommends "${missing[@]}" 2>/dev/null || true) |
           sed -n 's/^Remv \([^ ]*\).*/\1/p')
if [ -n "$removals" ] && [ "${MTASTS_DEPS_ALLOW_REMOVALS:-}" != 1 ]; then
    echo "deps: installing ${missing[*]} would remove: $(echo $removals)" >&2
    echo "deps: refusing (is this a live mail host? the test suite belongs on a test machine);" >&2
    echo "deps: MTASTS_DEPS_ALLOW_REMOVALS=1 to go ahead" >&2
    exit 1
fi

# Services already running before the install are the host's: never touched.
running_before=()
service_running() {
    if [ -d /run/systemd/system ]; then systemctl -q is-active "$1" 2>/dev/null
    else service "$1" status >/dev/null 2>&1; fi
}
for p in "${missing[@]}"; do
    svc=${DAEMON_OF[$p]:-}
    [ -n "$svc" ] && service_running "$svc" && running_before+=("$svc")
done

echo "deps: installing ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# With our policy-rc.d no daemon started. With the host's own one, a daemon
# package this run installed may have started its service: stop that one
# through the init system (no signal to any process by name).
if [ $policy_added = 0 ]; then
    for p in "${missing[@]}"; do
        svc=${DAEMON_OF[$p]:-}
        [ -n "$svc" ] || continue
        [[ " ${running_before[*]} " == *" $svc "* ]] && continue
        if service_running "$svc"; then
            echo "deps: the $p install started the $svc service; stopping it (service $svc stop)"
            if [ -d /run/systemd/system ]; then systemctl stop "$svc" || true
            else service "$svc" stop >/dev/null 2>&1 || true; fi
        fi
    done
fi
echo "deps: done"
