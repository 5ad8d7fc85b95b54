#!/usr/bin/env bash
# Senders for bench.py's delivery section (issue 17), configured exactly as
# tests/e2e/lib.sh configures the e2e suite's: for each Exim VARIANT (4.96:
# the test build with the lookup module; stock-split: Debian's exim4 and its
# own split configuration, with ${dlfunc}) three arms, "default" (Debian's
# configuration without the snippets, NOSNIP=1), "snippets" (as shipped: no
# testing report, no TLSRPT recording) and "record" (the snippets with
# MTASTS_TLSRPT_RECORD defined: TLSRPT recording, issue 12's benchmark).
# "eventfloor": the snippets with an empty event_action on mtasts_smtp
# (MTASTS_TLSRPT_RECORD with an empty MTASTS_TLSRPT_EVENT): what any
# event_action costs, whatever it records. stock-split also gets "floor":
# the default configuration whose dnslookup router calls a ${dlfunc}
# object that does nothing and imports nothing (tests/bench/dlfunc_floor.c):
# what any ${dlfunc} costs a delivery process.
#
#   delivery-setup.sh TOP VARIANT...   (inside the test world, as root)
#
# Prints one line per arm: "VARIANT ARM EXIM CONF DIR" (DIR holds spool,
# log and store). E2E_BUILD must hold mtasts, mtasts_dlfunc.so,
# dlfunc_floor.so and exim-4.96/mtasts_lookup.so.
set -uo pipefail
source "$(dirname "$0")/../exim/lib.sh"
source "$(dirname "$0")/../e2e/lib.sh"
[ -n "${WORLD_DIR:-}" ] || { echo "run me inside tests/world/run-in-world" >&2; exit 2; }
top=$1; shift
# RECHECK, NOSNIP, SNIP, SPLIT, E2E_SWITCHES: read by setup_variant (tests/e2e/lib.sh)
# shellcheck disable=SC2034
RECHECK=86400   # no TXT recheck (helper run) during the measured runs
for variant in "$@"; do
    arms="default snippets record eventfloor"
    [ "$variant" = stock-split ] && arms="$arms floor"
    # shellcheck disable=SC2034
    for arm in $arms; do
        work=$top/$arm; mkdir -p "$work" && chmod 755 "$work" || exit 1
        case $arm in default|floor) NOSNIP=1 ;; *) NOSNIP= ;; esac
        # record: the snippets with TLSRPT recording (issue 12's benchmark)
        case $arm in
            record) E2E_SWITCHES='MTASTS_TLSRPT_RECORD = yes' ;;
            eventfloor) E2E_SWITCHES='MTASTS_TLSRPT_RECORD = yes
MTASTS_TLSRPT_EVENT =' ;;
            *) E2E_SWITCHES= ;;
        esac
        SNIP=$ROOT/exim-config-snippets SPLIT=$SNIP/debian-split/conf.d
        if ! setup_variant "$variant" >"$work/setup-$variant.log" 2>&1; then
            cat "$work/setup-$variant.log" >&2; exit 1
        fi
        if [ "$arm" = floor ]; then
            install -m 0644 "$E2E_BUILD/dlfunc_floor.so" "$work/dlfunc_floor.so" || exit 1
            # shellcheck disable=SC2016  # Exim's expansion, not the shell's
            sed -i '/^dnslookup:$/,/^  driver = dnslookup$/{/^  driver = dnslookup$/a\
  condition = ${if eq{${dlfunc{'"$work"'/dlfunc_floor.so}{floor_empty}{$domain}}}{}{yes}{no}}
}' "$CONF"
            grep -q dlfunc_floor "$CONF" || { echo "floor: no dnslookup router in $CONF" >&2; exit 1; }
        fi
        if [ "$arm" = eventfloor ]; then
            # set, and empty
            ev=$("$EXIM" -C "$CONF" -bP transport mtasts_smtp | grep '^event_action')
            { [ "$(transport_event_lines "$CONF" mtasts_smtp)" = 1 ] && [ "$ev" = "event_action = " ]; } ||
                { echo "eventfloor: mtasts_smtp has '$ev'" >&2; exit 1; }
        fi
        echo "$variant $arm $EXIM $CONF $D"
    done
done
