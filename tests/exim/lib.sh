# Shared helpers for the Exim tests (sourced). Test Exims come from
# tests/exim/build-exim.sh (cache MTASTS_CACHE); modules from make modules.
MTASTS_CACHE=${MTASTS_CACHE:-/var/cache/exim-mtasts}
EXIM_VERSIONS=(4.96 4.98 4.100)
STOCK_EXIM=/usr/sbin/exim4
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

t_pass=0 t_fail=0
ok()     { echo "ok - $*"; t_pass=$((t_pass + 1)); }
not_ok() { echo "not ok - $*"; t_fail=$((t_fail + 1)); }
# check DESC GOT WANT
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi; }
# check_grep DESC PATTERN TEXT
check_grep() { if grep -qE -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1: no /$2/ in: $(head -c 600 <<<"$3")"; fi; }
# A set-up step that fails fails the test, by name. Failures go to a file
# as well, so that one inside $(...) (a subshell) still counts at tally.
SETUP_FAILURES=$(mktemp "${TMPDIR:-/tmp}/mtasts-setup.XXXXXX")
# step CMD...: run a set-up command; its failure is a "not ok"
step() {
    "$@" && return 0
    local rc=$?
    echo "set-up step failed (exit $rc): $*" | tee -a "$SETUP_FAILURES" >&2
    return $rc
}
# Every world-ctl call of a test is a set-up step (a failed DNS change would
# leave the world as it was and make the check after it vacuous).
world-ctl() { step command world-ctl "$@"; }
# text_of FILE...: the files' contents; a file that cannot be read yields a
# line saying so, so that an expected-empty check over it fails
text_of() { local f; for f; do cat -- "$f" 2>/dev/null || echo "(cannot read $f)"; done; }
tally() {
    local l
    while IFS= read -r l; do not_ok "$l"; done <"$SETUP_FAILURES"
    rm -f "$SETUP_FAILURES"
    echo "$1: $t_pass passed, $t_fail failed"; [ $t_fail = 0 ]
}

exim_prefix() { echo "$MTASTS_CACHE/exim-$1"; }

# install_module VERSION [SO]: put the module built for VERSION (or SO) into
# that Exim's module directory.
install_module() {
    local so=${2:-$ROOT/build/exim-$1/mtasts_lookup.so}
    install -m 0644 "$so" "$(exim_prefix "$1")/lookups/mtasts_lookup.so"
}

# exim_conf DIR: a minimal configuration for -be tests, with its own spool/log.
exim_conf() {
    local d=$1
    mkdir -p "$d/spool" "$d/log"; chown -R Debian-exim "$d"
    cat >"$d/configure" <<EOC
spool_directory = $d/spool
log_file_path = $d/log/%slog
EOC
    echo "$d/configure"
}
