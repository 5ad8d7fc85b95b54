#!/usr/bin/env bash
# Install what exim-mtasts needs to build and test, on Debian 12 (bookworm).
# Idempotent: installs only missing packages. Run as root (make deps).
# Extra package names as arguments are installed too (tests/bench/deps.sh).
set -euo pipefail

BUILD_PKGS=(build-essential pkg-config libssl-dev libcurl4-openssl-dev libldns-dev
            liblmdb-dev lmdb-utils libpcre2-dev libdb5.3-dev libidn2-dev)
# Test world and tools: a real Exim (stock Debian, for ${dlfunc}), DNS servers,
# DNS tools, openssl CLI for the test CA, Python for the HTTPS test servers,
# clang/libFuzzer, valgrind, iproute2 for the namespace; libnet-ssleay-perl lets
# swaks speak STARTTLS.
TEST_PKGS=(exim4-daemon-heavy exim4-dev nsd unbound ldnsutils bind9-dnsutils openssl
           ca-certificates curl python3 clang libclang-rt-14-dev valgrind iproute2
           util-linux procps psmisc xz-utils dpkg-dev swaks man-db systemd libnet-ssleay-perl)

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "deps: must run as root (apt-get install); missing: $*" >&2
        exit 1
    fi
}

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Source entries for apt-get source exim4 (bookworm, trixie, sid). deb-src lines
# never change what binary packages get installed.
SRC_LIST=/etc/apt/sources.list.d/exim-mtasts-src.sources
want_src="Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
need_update=0
if [ ! -f "$SRC_LIST" ] || [ "$(cat "$SRC_LIST")" != "$want_src" ]; then
    need_root "deb-src entries"
    printf '%s\n' "$want_src" > "$SRC_LIST"
    need_update=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_update = 0 ]; then
    echo "deps: all present"
    exit 0
fi
need_root "${missing[@]}"

export DEBIAN_FRONTEND=noninteractive
# Installing exim4/nsd/unbound must not start system daemons on the host: the
# tests run their own copies inside a private network namespace.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"; chmod 755 "$POLICY"; policy_added=1
fi
trap '[ $policy_added = 1 ] && rm -f "$POLICY"' EXIT

apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Package scripts of nsd/unbound/exim4 may have started daemons where no
# policy-rc.d was honoured; stop them so they hold no ports.
for svc in exim4 nsd unbound; do
    pkill -x "$svc" 2>/dev/null || true
done
echo "deps: done"
