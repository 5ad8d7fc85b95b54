#!/usr/bin/env bash
# Build a real upstream Exim with lookup-module support, cached across runs.
# Usage: build-exim.sh VERSION   (4.96 | 4.98 | 4.100)
# stdout: the install prefix only; stderr: progress lines.
# Needs tests/deps.sh run once as root (build deps + deb-src entries).
set -euo pipefail

VERSION=${1:-}
case "$VERSION" in
    4.96|4.98|4.100) ;;
    *) echo "usage: $0 4.96|4.98|4.100" >&2; exit 2 ;;
esac
# Absolute: the prefix is compiled into the binary (module dir, spool, ...).
PREFIX=$(realpath -m "${MTASTS_CACHE:-/var/cache/exim-mtasts}/exim-$VERSION")
BUILD_LOG=$PREFIX/build.log
STAMP=$PREFIX/.stamp

log()  { echo "build-exim $VERSION: $*" >&2; }
started=
fail() { log "FAILED: $*"; if [ -n "$started" ]; then tail -n 40 "$BUILD_LOG" >&2; fi; exit 1; }

# Newest Debian source version of this upstream release; the Debian revision
# changes with security updates, so it is never hard-coded.
debver=
for v in $(apt-cache showsrc --only-source exim4 2>/dev/null | awk '/^Version:/ {print $2}'); do
    up=${v#*:}; up=${up%-*}
    [[ $up == "$VERSION" || $up == "$VERSION".* ]] || continue
    if [ -z "$debver" ] || dpkg --compare-versions "$v" gt "$debver"; then debver=$v; fi
done
[ -n "$debver" ] || fail "no exim4 source for $VERSION in apt (run tests/deps.sh as root)"
upstream=${debver#*:}; upstream=${upstream%-*}
ORIG=exim4_$upstream.orig.tar.xz

# Written by hand rather than from EDITME so that all three releases get the
# same feature set. Modules need CFLAGS_DYNAMIC and the exim binary must export
# its symbols (-rdynamic) for modules to link against at dlopen() time.
# TESTDB=2 builds Exim's own testdb as a module: a known-good reference module.
# Event, DKIM, PRDR, OCSP stay at their defaults (on): no DISABLE_* here.
makefile="BIN_DIRECTORY=$PREFIX/bin
CONFIGURE_FILE=$PREFIX/configure
EXIM_USER=ref:Debian-exim
SPOOL_DIRECTORY=$PREFIX/spool
LOG_FILE_PATH=$PREFIX/log/%slog
FIXED_NEVER_USERS=root
ROUTER_ACCEPT=yes
ROUTER_DNSLOOKUP=yes
ROUTER_MANUALROUTE=yes
ROUTER_REDIRECT=yes
TRANSPORT_APPENDFILE=yes
TRANSPORT_PIPE=yes
TRANSPORT_SMTP=yes
SUPPORT_MAILDIR=yes
LOOKUP_LSEARCH=yes
LOOKUP_DNSDB=yes
LOOKUP_TESTDB=2
LOOKUP_MODULE_DIR=$PREFIX/lookups
CFLAGS_DYNAMIC=-shared -rdynamic -fPIC
EXTRALIBS_EXIM=-ldl -rdynamic
USE_OPENSSL=yes
USE_OPENSSL_PC=openssl
SUPPORT_DANE=yes
PCRE2_CONFIG=yes
EXPAND_DLFUNC=yes
HEADERS_CHARSET=\"ISO-8859-1\"
"
inputs="$ORIG $(printf '%s' "$makefile" | sha256sum | cut -c1-16) $(sha256sum < "$0" | cut -c1-16)"

# Exim re-executes itself as the Exim user (continued deliveries -MC, the
# sendmail interface's -t after giving up root), so that user must reach
# $PREFIX/bin. A cache made by mktemp -d is mode 700: give it search
# permission for all (x only: nothing in it becomes listable or writable);
# stop here if a directory above it blocks the way.
cache_dir=$(dirname "$PREFIX")
searchable() { [ "$(( 0$(stat -c %a "$1") & 1 ))" = 1 ]; }
mkdir -p "$cache_dir"
if ! searchable "$cache_dir"; then
    chmod a+x "$cache_dir"
    log "gave $cache_dir search permission for all (a+x): the Exim user runs $PREFIX/bin/exim"
fi
d=$(dirname "$cache_dir")
while [ "$d" != / ]; do
    searchable "$d" || fail "$d is not searchable by others (mode $(stat -c %a "$d")): the Exim user could not run $PREFIX/bin/exim; put MTASTS_CACHE where others can traverse"
    d=$(dirname "$d")
done
mkdir -p "$PREFIX"
# Serialise concurrent callers (e.g. make -j) on the same version.
exec 9>"$PREFIX/.lock"
flock 9

if [ -x "$PREFIX/bin/exim" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$inputs" ]; then
    echo "$PREFIX"
    exit 0
fi
rm -f "$STAMP"   # an interrupted build must not look complete
: > "$BUILD_LOG"
started=$SECONDS

# apt-get exits non-zero on trixie/sid when the debian.tar.xz 404s even though
# the upstream tarball (all we use) arrived, so judge by the tarball itself.
DL=$PREFIX/download
mkdir -p "$DL"
if ! xz -t "$DL/$ORIG" 2>/dev/null; then
    log "downloading exim4=$debver"
    rm -f "$DL/$ORIG"
    (cd "$DL" && apt-get source --download-only "exim4=$debver") >>"$BUILD_LOG" 2>&1 || true
    xz -t "$DL/$ORIG" 2>/dev/null || fail "could not download a valid $ORIG"
fi

log "unpacking $ORIG"
rm -rf "$PREFIX/src"
mkdir -p "$PREFIX/src"
tar -xJf "$DL/$ORIG" -C "$PREFIX/src" --strip-components=1
cd "$PREFIX/src"
# Upstream tarball, not Debian's patched tree: Debian builds with
# -fvisibility=hidden, which hides the symbols modules need.
# Exim bug 2899: 4.96 does not compile with LOOKUP_MODULE_DIR (NUL for NULL).
if grep -q 'len, NUL)' src/drtables.c; then
    sed -i 's/len, NUL)/len, NULL)/' src/drtables.c
fi
printf '%s' "$makefile" > Local/Makefile

log "compiling (log: $BUILD_LOG)"
# MFLAGS= stops Exim re-passing -j2 to each sub-make (one jobserver, 2 jobs).
make -j2 MFLAGS= >>"$BUILD_LOG" 2>&1 || fail "make"
build=$(echo build-*/)
build=${build%/}
[ -x "$build/exim" ] || fail "no exim binary in $PREFIX/src/$build"

# Copy instead of make install: exim_install wants a system layout, setuid
# bits and does not install lookup modules anyway.
mkdir -p "$PREFIX/bin" "$PREFIX/lookups" "$PREFIX/spool" "$PREFIX/log"
for b in exim exim_dumpdb exim_tidydb exim_fixdb exim_dbmbuild; do
    if [ -x "$build/$b" ]; then install -m 0755 "$build/$b" "$PREFIX/bin/$b"; fi
done
# 4.100 loads <name>_lookup.so on demand and names them so in dynmodules/;
# older releases load every *.so in the dir at start-up, named <name>.so.
if [ -d "$build/dynmodules" ]; then
    install -m 0644 "$build"/dynmodules/*_lookup.so "$PREFIX/lookups/"
else
    install -m 0644 "$build"/lookups/*.so "$PREFIX/lookups/"
fi
# Writing LOOKUP_MODULE_DIR is as good as replacing the binary (EDITME), so
# only root may. Exim drops to Debian-exim to work in its spool and log.
chown root:root "$PREFIX/lookups"; chmod 0755 "$PREFIX/lookups"
chown Debian-exim:Debian-exim "$PREFIX/spool" "$PREFIX/log"
chmod 0750 "$PREFIX/spool" "$PREFIX/log"
# Any valid config will do: the tests pass their own with -C.
cat > "$PREFIX/configure" <<'EOF'
primary_hostname = exim-mtasts.invalid
keep_environment =
EOF

echo "$inputs" > "$STAMP"
log "built $upstream in $((SECONDS - started)) s"
echo "$PREFIX"
