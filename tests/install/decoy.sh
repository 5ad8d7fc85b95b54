#!/usr/bin/env bash
# A decoy "exim4" process outside the test world: make check starts it before
# anything else (make deps included) and checks at the end that it survived,
# so no set-up step or test signals a process it does not own.
#   bash tests/install/decoy.sh start   start one (keeps a live one)
#   bash tests/install/decoy.sh check   tally: still alive; then stops it
# The decoy is a copy of sleep named exim4 (its process name is exim4, as
# pkill -x exim4 or killall exim4 would match).
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=build/decoy
BIN=$DIR/exim4
PIDFILE=$DIR/pid

# ours PID: PID is still our decoy (not a recycled pid)
ours() { [ -n "$1" ] && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ]; }

case ${1:-} in
start)
    ours "$(cat "$PIDFILE" 2>/dev/null)" && exit 0
    mkdir -p "$DIR" && cp "$(command -v sleep)" "$BIN" || { echo "decoy: cannot copy sleep" >&2; exit 1; }
    setsid "$BIN" 14400 </dev/null >/dev/null 2>&1 &
    echo $! >"$PIDFILE"
    ;;
check)
    pid=$(cat "$PIDFILE" 2>/dev/null)
    if [ -z "$pid" ]; then
        echo "not ok - no decoy was started (tests/install/decoy.sh start)"
        echo "decoy: 0 passed, 1 failed"; exit 1
    fi
    if ours "$pid" && [ "$(cat "/proc/$pid/comm")" = exim4 ]; then
        echo "ok - the decoy exim4 process (pid $pid) outside the test world survived the whole run"
        kill "$pid"; rm -f "$PIDFILE"
        echo "decoy: 1 passed, 0 failed"
    else
        echo "not ok - the decoy exim4 process (pid $pid) outside the test world was killed during the run"
        rm -f "$PIDFILE"
        echo "decoy: 0 passed, 1 failed"; exit 1
    fi
    ;;
*) echo "usage: $0 start|check" >&2; exit 2 ;;
esac
