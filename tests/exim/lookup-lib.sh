# shellcheck shell=bash
# Lookup tests (test-lookup.sh, test-rfc-lookup.sh): they set work, HELPER,
# VARIANT, conf, STOCK_EXIM and DLFUNC.
# new_store NAME: a fresh store directory owned by the Exim user, in STORE
new_store() {
    STORE=$work/store-$1
    step mkdir -p "$STORE"; step chown Debian-exim:Debian-exim "$STORE"; step chmod 770 "$STORE"
}
opts() { echo "store=$STORE,helper=$HELPER,recheck=1,wait=15${1:+,$1}"; }

# lookup DOMAIN [EXTRA_OPTS]: the answer, or NOPOLICY; stderr to $work/err
lookup() {
    local d=$1 o; o=$(opts "${2:-}")
    if [ "$VARIANT" = stock ]; then
        local r; r=$("$STOCK_EXIM" -C "$conf" -be "x\${dlfunc{$DLFUNC}{mtasts_policy}{$d}{$o}}" 2>"$work/err")
        r=${r#x}; echo "${r:-NOPOLICY}"
    else
        "$(exim_prefix "$VARIANT")/bin/exim" -C "$conf" \
            -be "\${lookup mtasts,$o{$d}{\$value}{NOPOLICY}}" 2>"$work/err"
    fi
}
field() { sed -nE "s/.*(^| )$1=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$2"; }
