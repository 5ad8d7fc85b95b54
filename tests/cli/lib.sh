# Helpers of the CLI test scripts (sourced): ok/nok lines, and t/tj, which
# run $M with arguments and check its exit code, output and JSON.
# The caller sets M (the mtasts binary), PY (python3) and tmp (a directory).
pass=0 fail=0

ok()  { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; fail=$((fail + 1)); }

# world-ctl calls are set-up steps: a failed one is a "not ok" naming it.
# (Inside $(...) the count is lost, so there the failure is said on stderr
# and the empty output must make the caller's check fail.)
world-ctl() {
    command world-ctl "$@" && return 0
    local rc=$?
    if [ "$BASH_SUBSHELL" = 0 ]; then nok "set-up step: world-ctl $*" "exit $rc"
    else echo "not ok - set-up step: world-ctl $* (exit $rc)" >&2; fi
    return $rc
}

# run CMD... - $out, $err, $rc of one run of the command
run() { out=$("$@" 2>"$tmp/err"); rc=$?; err=$(cat "$tmp/err"); }

# t NAME RC [--out REGEX] [--err REGEX] [--in FILE] -- ARGS... : run mtasts
# with ARGS and check the exit code and (extended) regexes on the outputs.
# A regex matches if any line does; '^$' means the output is empty (any
# blank line would match it as a regex).
t() {
    local name=$1 want=$2 ore="" ere="" in=/dev/null
    shift 2
    while [ "$1" != -- ]; do
        case $1 in
            --out) ore=$2 ;; --err) ere=$2 ;; --in) in=$2 ;;
        esac
        shift 2
    done
    shift
    run "$M" "$@" <"$in"
    if [ "$rc" != "$want" ]; then
        nok "$name" "exit $rc, want $want" "stdout: ${out:0:300}" "stderr: ${err:0:300}"
    elif [ "$ore" = '^$' ] && [ -n "$out" ]; then
        nok "$name" "stdout is not empty" "stdout: ${out:0:400}"
    elif [ -n "$ore" ] && [ "$ore" != '^$' ] && ! grep -Eq -- "$ore" <<<"$out"; then
        nok "$name" "stdout does not match /$ore/" "stdout: ${out:0:400}"
    elif [ "$ere" = '^$' ] && [ -n "$err" ]; then
        nok "$name" "stderr is not empty" "stderr: ${err:0:400}"
    elif [ -n "$ere" ] && [ "$ere" != '^$' ] && ! grep -Eq -- "$ere" <<<"$err"; then
        nok "$name" "stderr does not match /$ere/" "stderr: ${err:0:400}"
    else
        ok "$name"
    fi
}

# tj NAME RC PYTHON-EXPR [--in FILE] -- ARGS... : the JSON on stdout, as d,
# must make the expression true.
tj() {
    local name=$1 want=$2 expr=$3 in=/dev/null
    shift 3
    [ "$1" = --in ] && { in=$2; shift 2; }
    shift
    run "$M" "$@" <"$in"
    if [ "$rc" != "$want" ]; then
        nok "$name" "exit $rc, want $want" "stdout: ${out:0:300}" "stderr: ${err:0:300}"
    elif ! "$PY" -c 'import json,sys; d=json.loads(sys.argv[2]); sys.exit(0 if eval(sys.argv[1]) else 1)' \
            "$expr" "$out" 2>"$tmp/pyerr"; then
        nok "$name" "JSON check failed: $expr" "stdout: ${out:0:400}" "$(cat "$tmp/pyerr")"
    else
        ok "$name"
    fi
}

