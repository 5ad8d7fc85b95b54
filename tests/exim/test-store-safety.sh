#!/usr/bin/env bash
# Issue 10, items 1 and 2: the store seen from a real root Exim process.
# - The Exim user owns the store directory and plants files in it (symbolic
#   links for lock.mdb and data.mdb to existing and missing targets, a hard
#   link to a root-owned file, a FIFO, a directory, the store directory a
#   symbolic link); a root Exim lookup then leaves the target byte for byte
#   unchanged (a missing one uncreated), still answers from the network,
#   and logs one line saying why.
# - One Exim process triggers the store's notices (stale reader slots
#   cleared, eviction, map resized by another process, read-only) from
#   lookups at different expansion depths, with debug output on: every
#   notice reaches Exim, and Exim does not crash (before the fix, the store
#   called back through a returned stack frame: SIGILL/SIGSEGV).
# Run inside the world: tests/world/run-in-world bash tests/exim/test-store-safety.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world"; exit 2; }
VERSION=4.100
EXIM=$(exim_prefix $VERSION)/bin/exim
HELPER=$ROOT/build/mtasts
MODULE=$ROOT/build/exim-$VERSION/mtasts_lookup.so
TOOL=$ROOT/tests/exim/store-tool.py
work=$(mktemp -d /var/tmp/mtasts-safety.XXXXXX) || exit 1
chmod 755 "$work"
MODDIR=$(exim_prefix $VERSION)/lookups
# Our module in a private copy of the test Exim's module directory, mounted
# over it in the world's own mount namespace: others may reinstall theirs
# into the shared directory meanwhile.
cleanup() { umount -q "$MODDIR" 2>/dev/null; umount -q "$work/ro" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/lookups" && { [ ! -d "$MODDIR" ] || cp -a "$MODDIR"/. "$work/lookups/"; } \
    && install -m 0644 "$MODULE" "$work/lookups/mtasts_lookup.so" \
    && mount --bind "$work/lookups" "$MODDIR" || { echo "cannot set up the module directory"; exit 1; }
conf=$(exim_conf "$work") || exit 1
STORE=

as_exim() { runuser -u Debian-exim -- "$@"; }
new_store() {
    STORE=$work/$1
    mkdir "$STORE" && chown Debian-exim:Debian-exim "$STORE" && chmod 770 "$STORE" \
        || { not_ok "set up $STORE"; return 1; }
}
opts() { echo "store=$STORE,helper=$HELPER,recheck=${RECHECK:-1},wait=15${1:+,$1}"; }
# lookups DOMAIN...: one Exim process (root) looks each domain up; answers
# one per line; Exim's stderr in $work/err
lookups() {
    local d
    for d in "$@"; do echo "\${lookup mtasts,$(opts){$d}{\$value}{NOPOLICY}}"; done \
        | timeout 120 "$EXIM" -C "$conf" -be 2>"$work/err"
}
field() { sed -nE "s/.*(^| )$1=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$2"; }
sum() { if [ -e "$1" ]; then stat -c '%u:%g:%a:%s' "$1"; sha256sum <"$1"; else echo absent; fi; }

# --- Planted files ---------------------------------------------------------
rootdir=$work/root-only
mkdir -m 0711 "$rootdir" && printf 'root only: must not change\n' >"$rootdir/secret" \
    && chmod 600 "$rootdir/secret" || { not_ok "set up the root-only target"; tally store-safety; exit 1; }

# planted NAME KIND WHAT REASON: plant, look up twice as root, check
planted() {
    local name=$1 kind=$2 what=$3 reason=$4 target before r n
    new_store "p-$name-$kind" || return
    case $kind in
    symlink)  target=$rootdir/secret;  as_exim ln -s "$target" "$STORE/$name" ;;
    dangling) target=$rootdir/created; as_exim ln -s "$target" "$STORE/$name" ;;
    # fs.protected_hardlinks keeps the Exim user from linking a file it
    # cannot write; root plants it, as on a system without that protection.
    hardlink) target=$rootdir/secret;  ln "$target" "$STORE/$name" ;;
    fifo)     target=$rootdir/secret;  as_exim mkfifo -m 660 "$STORE/$name" ;;
    dir)      target=$rootdir/secret;  as_exim mkdir -m 770 "$STORE/$name" ;;
    esac || { not_ok "$what: planted"; return; }
    before=$(sum "$target")
    r=$(lookups enforce.test testing.test)
    check_eq "$what: target unchanged" "$(sum "$target")" "$before"
    check_eq "$what: answered from the network" \
        "$(field mode "$(sed -n 1p <<<"$r")") $(field mode "$(sed -n 2p <<<"$r")")" "enforce testing"
    n=$(grep -cE "store .* unusable.*$reason" "$work/err")
    check_eq "$what: one log line says why ($reason)" "$n" 1
    [ "$n" = 1 ] || sed 's/^/#   /' "$work/err" | head -5
    [ "$kind" = hardlink ] && rm -f "$STORE/$name"
}

planted lock.mdb symlink  "lock.mdb -> root-only file, no data.mdb" "lock.mdb is a symbolic link"
planted lock.mdb dangling "lock.mdb -> missing file, no data.mdb" "lock.mdb is a symbolic link"
planted data.mdb symlink  "data.mdb -> root-only file" "data.mdb is a symbolic link"
planted data.mdb dangling "data.mdb -> missing file" "data.mdb is a symbolic link"
planted lock.mdb hardlink "lock.mdb a hard link to a root-only file" "lock.mdb has 2 hard links"
planted data.mdb hardlink "data.mdb a hard link to a root-only file" "data.mdb has 2 hard links"
planted lock.mdb fifo     "lock.mdb a FIFO" "lock.mdb is not a regular file"
planted data.mdb fifo     "data.mdb a FIFO" "data.mdb is not a regular file"
planted lock.mdb dir      "lock.mdb a directory" "lock.mdb is not a regular file"
planted data.mdb dir      "data.mdb a directory" "data.mdb is not a regular file"

# The store directory itself a symbolic link (its parent belongs to the
# Exim user, as /var/spool/exim4/db does) to a root-only directory.
mkdir -m 0755 "$work/root-store" && mkdir "$work/parent" && chown Debian-exim "$work/parent" \
    && as_exim ln -s "$work/root-store" "$work/parent/store" || not_ok "set up the symlinked directory"
STORE=$work/parent/store
r=$(lookups enforce.test)
check_eq "symlinked store directory: nothing created in its target" "$(ls -A "$work/root-store")" ""
check_eq "symlinked store directory: answered from the network" "$(field mode "$r")" enforce
check_eq "symlinked store directory: one log line says why" \
    "$(grep -cE 'store .* unusable.*symbolic link' "$work/err")" 1

# A usable store still works for root, and its files belong to the Exim user.
new_store usable
r=$(lookups enforce.test enforce.test)
check_eq "usable store: answered" "$(field mode "$r" | sort -u)" enforce
check_eq "usable store: files belong to the Exim user, 0660" \
    "$(stat -c '%U:%G:%a' "$STORE/data.mdb" "$STORE/lock.mdb" | sort -u)" "Debian-exim:Debian-exim:660"
check_eq "usable store: nothing logged" "$(grep -c 'store' "$work/err")" 0

# --- Every store notice in one Exim process --------------------------------
# Store A: nearly full at its map_max (8 MiB), a stale reader slot, a
# record whose last use is old (the lookup rewrites it): cleared slot, then
# eviction. Store B: another process (${run}) grows its map between two
# lookups: resized. Store RO: read-only. (Map growth needs a write that
# does not fit, which LMDB's free list makes hard to arrange from outside
# for the one record Exim rewrites: test_store covers that notice.)
RECHECK=3600
tool() { python3 "$TOOL" "$@" >/dev/null || not_ok "store-tool $*"; }
new_store notice-a && STORE_A=$STORE
check_eq "notices: store A holds enforce.test" "$(field mode "$(lookups enforce.test)")" enforce
tool fill "$STORE_A" enforce.test 1000
tool age "$STORE_A" enforce.test 7200
python3 "$TOOL" hold "$STORE_A" "$work/held" & holder=$!
for i in $(seq 100); do [ -e "$work/held" ] && break; sleep 0.1; done
[ -e "$work/held" ] || not_ok "a process holds store A open"
{ python3 "$TOOL" stale-reader "$STORE_A"; rc=$?; } 2>/dev/null
check_eq "a killed process left a stale reader slot" "$rc" 137
new_store notice-b && STORE_B=$STORE
check_eq "notices: store B holds enforce.test and testing.test" \
    "$(field mode "$(lookups enforce.test testing.test)" | tr '\n' ' ')" "enforce testing "
mkdir "$work/ro" && mount --bind "$work/usable" "$work/ro" && mount -o remount,bind,ro "$work/ro" \
    || not_ok "read-only bind mount"
lk() { echo "\${lookup mtasts,store=$1,helper=$HELPER,recheck=3600${3:+,$3}{$2}{\$value}{NOPOLICY}}"; }
{
    lk "$STORE_A" enforce.test map_max=8192
    echo "\${if eq{x}{x}{$(lk "$STORE_B" enforce.test)}}"
    echo "\${run{/usr/bin/python3 $TOOL grow $STORE_B 12000000}{grown}{grow failed}}"
    echo "\${if eq{x}{x}{\${if eq{y}{y}{\${if eq{z}{z}{$(lk "$STORE_B" testing.test)}}}}}}"
    lk "$work/ro" enforce.test
} | timeout 120 "$EXIM" -C "$conf" -d+lookup -be >"$work/out" 2>"$work/err"
rc=$?
kill "$holder"; wait "$holder" 2>/dev/null
check_eq "notices: Exim exits normally" "$rc" 0
[ "$rc" = 0 ] || tail -25 "$work/err" | sed 's/^/#   /'
check_eq "notices: another process grew store B's map" "$(grep -cx "> grown" "$work/out")" 1
check_eq "notices: every lookup answered" "$(grep -c 'mode=enforce' "$work/out") $(grep -c 'mode=testing' "$work/out")" "3 1"
for notice in "cleared 1 stale reader slot" "map of $STORE_A full at 8192 KiB: evicted" \
              "map of $STORE_B resized by another process" \
              "$work/ro opened read-only"; do
    check_grep "notices: '$notice' reached Exim" "mtasts: store: store: $notice" "$(cat "$work/err")"
done
umount "$work/ro"

tally store-safety
