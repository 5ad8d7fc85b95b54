#!/usr/bin/env bash
# make demo: MTA-STS in Exim, shown in the local test world in a few seconds.
# Builds what it needs, starts the world, asks the lookup about a few
# domains, sends one message to each through an Exim 4.96 set up with
# exim-config-snippets, and shows where each message went and why.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --inside ]; then
    cd "$ROOT"
    echo "Building a test Exim 4.96, the module and the helper (cached after the first time)..."
    # The Exim tree first: the lookup module is compiled against it.
    bash tests/exim/build-exim.sh 4.96 >/dev/null
    make -s all "build/exim-4.96/mtasts_lookup.so"
    echo "Starting the test world (DNS with DNSSEC, HTTPS policy servers, SMTP receivers)..."
    exec tests/world/run-in-world bash "$ROOT/tests/demo.sh" --inside
fi

# ------------------------------------------------------------ inside the world
set +e
source "$ROOT/tests/exim/lib.sh"
source "$ROOT/tests/e2e/lib.sh"
work=$(mktemp -d /var/tmp/mtasts-demo.XXXXXX); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
setup_variant 4.96 >/dev/null || { echo "could not set up the sending Exim"; exit 1; }

B=$'\e[1m' G=$'\e[32m' Y=$'\e[33m' R=$'\e[31m' N=$'\e[0m'
[ -t 1 ] || B='' G='' Y='' R='' N=''
DOMAINS=(enforce.test testing.test nopolicy.test enforce-unlisted.test enforce-expired.test dane.test)

echo
echo "${B}1. What the lookup says${N}   (exim -be '\${lookup mtasts{DOMAIN}}', first lookup fetches over HTTPS)"
for d in "${DOMAINS[@]}"; do
    p=$(x -be "\${lookup mtasts,$(opts){$d}{\$value}{}}" 2>/dev/null)
    if [ -z "$p" ]; then
        printf '   %-22s %s\n' "$d" "no policy (the lookup fails: mail goes out as usual)"
    else
        f() { sed -nE "s/.*(^| )$1=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$p" | tr -d '"'; }
        printf '   %-22s mode=%-8s id=%-9s dane=%-5s mx: %s\n' "$d" "$(f mode)" "$(f id)" "$(f dane)" "$(f mx | sed 's/ : /, /g')"
    fi
done

echo
echo "${B}2. One message to each domain${N}   (Exim 4.96 + module + exim-config-snippets)"
fresh
for d in "${DOMAINS[@]}"; do
    r=demo-$RANDOM@$d
    send "$r"
    line=$(mainlog | grep -E " (=>|==|\*\*) $r " | tail -1)
    router=$(sed -nE 's/.* R=([^ ]+).*/\1/p' <<<"$line")
    host=$(sed -nE 's/.* H=([^ ]+ \[[^]]+\]).*/\1/p' <<<"$line")
    cv=$(grep -oE 'CV=[a-z]+' <<<"$line")
    case $line in
        *" => "*)
            rcv=$(receivers_of "$r")
            what="${G}delivered${N} to receiver ${B}$rcv${N} via $host"
            case $cv in
                CV=yes)  what="$what, TLS, certificate verified" ;;
                CV=dane) what="$what, TLS, DANE-verified" ;;
                CV=no)   what="$what, TLS, ${Y}certificate not verified${N}" ;;
            esac ;;
        *" == "*) what="${Y}deferred${N}, kept in the queue (no bounce): $(sed -E 's/.*: //; s/error:[0-9A-F]+:SSL routines:://' <<<"$line")" ;;
        *)        what="${R}failed${N}: $line" ;;
    esac
    printf '   %-22s %s\n' "$d" "$what"
    case $router in
        mtasts_enforce) why="policy enforce: only MX hosts listed in the policy, verified TLS required" ;;
        mtasts_testing) why="policy testing: delivered as usual, what enforce would refuse is logged" ;;
        dnslookup)      why="no MTA-STS policy: the usual dnslookup router" ;;
        *)              why="" ;;
    esac
    [ "$cv" = CV=dane ] && why="$why; the MX has DNSSEC-signed TLSA records: DANE decides"
    printf '   %-22s why: %s (router %s)\n' "" "$why" "$router"
    case $d in
        testing.test)
            t=$(mainlog | grep -o 'MTA-STS testing: .*' | tail -1)
            [ -n "$t" ] && printf '   %-22s log: %s\n' "" "$t" ;;
        enforce-unlisted.test)
            n=$(grep -lx "Envelope-to: $r" "$WORLD_DIR"/smtp/good2/Maildir/new/* 2>/dev/null | wc -l)
            printf '   %-22s MX 10 unlisted.enforce-unlisted.test (receiver good2) is not in the policy: skipped%s\n' \
                "" "$([ "$n" = 0 ] && echo ", good2 got nothing")" ;;
        enforce-expired.test)
            t=$(mainlog | grep -o 'SSL verify error: .*' | tail -1)
            [ -n "$t" ] && printf '   %-22s log: %s\n' "" "$t" ;;
    esac
done

echo
echo "${B}3. The sender's log${N}   (deliveries => , deferrals == , MTA-STS testing reports)"
mainlog | grep -E ' (=>|==) demo-|MTA-STS' | cut -d' ' -f4- | sed -E 's/ (C|DN)="[^"]*"//g; s/^/   /'
echo
echo "${B}Still queued${N} (exim -bp): $(x -bpr | awk '/^ *[0-9]+[smhd] /{getline; print $1}' | tr '\n' ' ')"
echo
echo "Configuration: exim-config-snippets/, explained in docs/exim-configuration.md."
