#!/usr/bin/env bash
# Senders for bench.py's delivery section (issue 17), configured exactly as
# tests/e2e/lib.sh configures the e2e suite's: for each Exim VARIANT (4.96:
# the test build with the lookup module; stock-split: Debian's exim4 and its
# own split configuration, with ${dlfunc}) three arms, "default" (Debian's
# configuration without the snippets, NOSNIP=1), "snippets" (as shipped: no
# testing report, no TLSRPT recording) and "record" (the snippets with
# MTASTS_TLSRPT_RECORD defined: TLSRPT recording, issue 12's benchmark).
#
#   delivery-setup.sh TOP VARIANT...   (inside the test world, as root)
#
# Prints one line per arm: "VARIANT ARM EXIM CONF DIR" (DIR holds spool,
# log and store). E2E_BUILD must hold mtasts, mtasts_dlfunc.so and
# exim-4.96/mtasts_lookup.so.
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/../e2e/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world" >&2; exit 2; }
top=$1; shift
# RECHECK, NOSNIP, SNIP, SPLIT, E2E_SWITCHES: read by setup_variant (tests/e2e/lib.sh)
# shellcheck disable=SC2034
RECHECK=86400   # no TXT recheck (helper run) during the measured runs
for variant in "$@"; do
    # shellcheck disable=SC2034
    for arm in default snippets record; do
        work=$top/$arm; mkdir -p "$work" && chmod 755 "$work" || exit 1
        if [ "$arm" = default ]; then NOSNIP=1; else NOSNIP=; fi
        # record: the snippets with TLSRPT recording (issue 12's benchmark)
        if [ "$arm" = record ]; then E2E_SWITCHES='MTASTS_TLSRPT_RECORD = yes'
        else E2E_SWITCHES=; fi
        SNIP=$ROOT/exim-config-snippets SPLIT=$SNIP/debian-split/conf.d
        if ! setup_variant "$variant" >"$work/setup-$variant.log" 2>&1; then
            cat "$work/setup-$variant.log" >&2; exit 1
        fi
        echo "$variant $arm $EXIM $CONF $D"
    done
done
