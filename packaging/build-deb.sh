#!/usr/bin/env bash
# make deb: the Debian package exim4-mtasts for each release, from the same
# packaging files (packaging/debian), into build/deb/RELEASE/.
#   bookworm  natively when the host is Debian 12, else in its chroot
#   trixie    in a trixie chroot made by tests/deb/chroot.sh (cached)
# Each build runs dpkg-buildpackage -us -uc -b on a copy of the project
# (the top-level layout, packaging/debian as debian/) and lintian on the
# .changes and its .debs: any error or warning fails the build.
#
#   packaging/build-deb.sh [--bump SUFFIX] [--out DIR] [RELEASE...]
# --bump SUFFIX adds a changelog entry for version VERSION+SUFFIX (the
# upgrade test's "next" version); --out DIR writes DIR/RELEASE instead.
# Root (the chroot, build dependencies). Prints each output directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bump='' out=$ROOT/build/deb
while [ $# -gt 0 ]; do
    case $1 in
        --bump) bump=$2; shift 2 ;;
        --out) out=$(realpath -m "$2"); shift 2 ;;
        -*) echo "usage: $0 [--bump SUFFIX] [--out DIR] [RELEASE...]" >&2; exit 2 ;;
        *) break ;;
    esac
done
RELEASES=("$@")
[ ${#RELEASES[@]} -gt 0 ] || read -r -a RELEASES <<<"${DEB_RELEASES:-bookworm trixie}"
log() { echo "deb: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
bash "$ROOT/tests/deb/deps.sh"

host_codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

# tree DIR: the project's top-level layout with packaging/debian as debian/
tree() {
    local t=$1
    rm -rf "$t"; mkdir -p "$t"
    tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude=./packaging --exclude=./tests \
        -cf - . | tar -C "$t" -xf -
    cp -a "$ROOT/packaging/debian" "$t/debian"
    if [ -n "$bump" ]; then
        local name ver entry
        name=$(dpkg-parsechangelog -l "$t/debian/changelog" -S Source)
        ver=$(dpkg-parsechangelog -l "$t/debian/changelog" -S Version)
        entry="$name ($ver$bump) unstable; urgency=medium

  * Rebuild with a newer version for the upgrade test (tests/deb).

 -- $(dpkg-parsechangelog -l "$t/debian/changelog" -S Maintainer)  $(date -R)
"
        printf '%s\n' "$entry" | cat - "$ROOT/packaging/debian/changelog" > "$t/debian/changelog"
    fi
}

# build RELEASE: dpkg-buildpackage and lintian, natively or in the chroot
build() {
    local rel=$1 work=$ROOT/build/deb-work/$1 dest=$out/$1 t0=$SECONDS
    tree "$work/src"
    rm -f "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo
    local steps='cd "$1/src" && dpkg-buildpackage -us -uc -b >"$1/build.log" 2>&1 ||
                   { tail -n 40 "$1/build.log" >&2; exit 1; }
                 cd "$1" && lintian --fail-on error,warning --info ./*.changes >"$1/lintian.log" 2>&1;
                 rc=$?; cat "$1/lintian.log" >&2; exit $rc'
    if [ "$rel" = "$host_codename" ]; then
        log "$rel: building natively"
        if ! (cd "$work/src" && dpkg-checkbuilddeps); then
            log "$rel: install the build dependencies above (tests/deps.sh)"; return 1
        fi
        sh -c "$steps" _ "$work" || { log "$rel: FAILED (logs in $work)"; return 1; }
    else
        local chroot
        chroot=$(bash "$ROOT/tests/deb/chroot.sh" "$rel")
        log "$rel: building in $chroot"
        # A private mount namespace: the build tree appears at /mnt and
        # /tmp is a fresh tmpfs; the cached chroot itself is not written.
        unshare --mount --propagation private sh -c '
            set -e
            mount --bind "$1" "$2/mnt"
            mount -t tmpfs tmpfs "$2/tmp"
            mount -t proc proc "$2/proc"
            exec chroot "$2" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LC_ALL=C.UTF-8 \
                sh -c "$3" _ /mnt' _ "$work" "$chroot" "$steps" ||
            { log "$rel: FAILED (logs in $work)"; return 1; }
    fi
    rm -rf "$dest"; mkdir -p "$dest"
    cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$dest/"
    log "$rel: $(cd "$dest" && echo *.deb) in $((SECONDS - t0)) s"
    echo "$dest"
}

rc=0
for rel in "${RELEASES[@]}"; do
    case $rel in bookworm|trixie) ;; *) log "unknown release $rel"; exit 2 ;; esac
    build "$rel" || rc=1
done
exit $rc
