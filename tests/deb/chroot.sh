#!/usr/bin/env bash
# A Debian RELEASE chroot made with mmdebstrap from Debian's packages,
# cached across runs like the Exim builds (tests/exim/build-exim.sh):
#   ${MTASTS_CACHE:-/var/cache/exim-mtasts}/chroot-RELEASE
# It holds what the package build needs (make deb builds trixie's package
# in it) plus lintian, and keeps apt's lists and the downloaded .debs of
# exim4-daemon-heavy: tests/deb installs the package in a throw-away overlay
# of it, inside the test world's namespaces, without network.
# The cached tree is never modified after it is made; users mount an
# overlay on top of it.
# Usage: chroot.sh RELEASE  (bookworm | trixie); stdout: the chroot directory.
set -euo pipefail

REL=${1:-}
case $REL in bookworm|trixie) ;; *) echo "usage: $0 bookworm|trixie" >&2; exit 2 ;; esac
CACHE=$(realpath -m "${MTASTS_CACHE:-/var/cache/exim-mtasts}")
DIR=$CACHE/chroot-$REL
STAMP=$CACHE/chroot-$REL.stamp
log() { echo "chroot $REL: $*" >&2; }

MIRROR=http://deb.debian.org/debian
# Build dependencies (debian/control) and the tools that run in the chroot.
PKGS=(build-essential debhelper pkg-config libssl-dev libcurl4-openssl-dev
      libldns-dev liblmdb-dev exim4-dev libjansson-dev zlib1g-dev lintian ca-certificates)
# Installed by the tests with apt, from these cached archives (with their
# Recommends, as apt installs them by default): Exim, and what our package
# recommends (gpgv, for signed preload lists).
DOWNLOAD=(exim4-daemon-heavy gpgv)
inputs="$REL ${PKGS[*]} / ${DOWNLOAD[*]} $(sha256sum < "$0" | cut -c1-16)"

mkdir -p "$CACHE"
exec 9>"$CACHE/chroot-$REL.lock"
flock 9
if [ -d "$DIR" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$inputs" ]; then
    echo "$DIR"; exit 0
fi
rm -f "$STAMP"
command -v mmdebstrap >/dev/null || { log "no mmdebstrap: run tests/deb/deps.sh"; exit 1; }
started=$SECONDS
tmp=$DIR.new
rm -rf "$tmp" "$DIR"
log "creating with mmdebstrap (log: $CACHE/chroot-$REL.log)"
# --skip=cleanup/apt: keep the lists and the downloaded archives.
# policy-rc.d: no package in the chroot ever starts a daemon by itself;
# the tests start Exim themselves.
if ! mmdebstrap --variant=apt --mode=root --skip=cleanup/apt \
        --include="$(IFS=,; echo "${PKGS[*]}")" \
        --customize-hook='printf "#!/bin/sh\nexit 101\n" > "$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d"' \
        --customize-hook="chroot \"\$1\" env -u APT_CONFIG apt-get install --download-only -y -q -o APT::Install-Recommends=true ${DOWNLOAD[*]}" \
        "$REL" "$tmp" \
        "deb $MIRROR $REL main" "deb $MIRROR $REL-updates main" \
        "deb http://deb.debian.org/debian-security $REL-security main" \
        >"$CACHE/chroot-$REL.log" 2>&1; then
    tail -n 30 "$CACHE/chroot-$REL.log" >&2
    rm -rf "$tmp"
    log "FAILED"; exit 1
fi
mv "$tmp" "$DIR"
echo "$inputs" > "$STAMP"
log "made in $((SECONDS - started)) s"
echo "$DIR"
