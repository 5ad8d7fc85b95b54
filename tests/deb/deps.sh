#!/usr/bin/env bash
# Install what `make deb` and tests/deb need: the package's build
# dependencies (debian/control; bookworm's package is built on the host),
# debhelper and dpkg-dev to build, lintian to check, mmdebstrap to make the
# release chroots. Idempotent: installs only missing packages. Root.
set -euo pipefail

DEB_PKGS=(debhelper dpkg-dev lintian mmdebstrap debian-archive-keyring fakeroot
          build-essential pkg-config libssl-dev libcurl4-openssl-dev libldns-dev
          liblmdb-dev exim4-dev libjansson-dev zlib1g-dev)

missing=()
for p in "${DEB_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deb-deps: must run as root (apt-get install); missing: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "deb-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
