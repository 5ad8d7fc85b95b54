# shellcheck shell=bash
# Shared by tests/e2e/test-delivery.sh and tests/demo.sh (sourced, after
# tests/exim/lib.sh, inside the test world): a sending Exim configured with
# the exim-config-snippets, in one of these variants:
#   4.96 4.98 4.100  a test build with the lookup module; a small config that
#                    .includes the split-configuration snippet files
#   stock-split      Debian's exim4 through ${dlfunc}; Debian's own split
#                    configuration (update-exim4.conf, configtype internet)
#                    with the snippet files dropped into conf.d
#   stock-single     the same, single-file configuration: the parts of
#                    single-file/exim4.conf.mtasts-dlfunc pasted into a copy
#                    of exim4.conf.template as its instructions say
#   stock-smarthost  the split configuration in configuration type smarthost
#                    (all mail to the smart host smarthost.test)
# setup_variant V needs $work (a directory Debian-exim can reach).
SNIP=$ROOT/exim-config-snippets
SPLIT=$SNIP/debian-split/conf.d
BUILD=${E2E_BUILD:-$ROOT/build}   # where make put mtasts, the dlfunc object and the modules
HELPER=$BUILD/mtasts
DLFUNC=$BUILD/mtasts_dlfunc.so
SENDER=sender@sender.world

# ------------------------------------------------------------ sender configs
V='' D='' EXIM='' CONF=''   # the variant, its directory, binary and configuration

RECHECK=1   # s; 1 for the idchange test (the store keeps the deadline it computed)
opts() { echo "store=$D/store,helper=$HELPER,recheck=$RECHECK,wait=15"; }
# The test settings every variant gets: its own store, the helper from the
# build, recheck=1 (the idchange test), and the world's 127/8 addresses
# allowed (Debian ignores 127.0.0.0/8 targets by default); the two reports
# that are off by default switched on (E2E_SWITCHES, set to "" for the
# snippets as shipped); E2E_EXTRA_MACROS: more lines.
E2E_SWITCHES_ON='MTASTS_TESTING_REPORT = yes
MTASTS_TLSRPT_RECORD = yes'
test_macros() {
    cat <<EOF
MTASTS_OPTIONS = $(opts)
MTASTS_IGNORE_TARGET_HOSTS = 0.0.0.0
REMOTE_SMTP_INTERFACE = $WORLD_HOST_IP
${E2E_SWITCHES-$E2E_SWITCHES_ON}
${E2E_EXTRA_MACROS:-}
EOF
}

# A small configuration for the test builds: the snippet files included
# as they are, plus a dnslookup router as in Debian's, for domains without
# a policy, and Debian's own smtp transports (remote_smtp and the unused
# remote_smtp_smarthost, as in Debian's configuration type internet).
conf_module() {
    cat >"$CONF" <<EOF
primary_hostname = sender.world
spool_directory = $D/spool
log_file_path = $D/log/%slog
keep_environment =
dns_dnssec_ok = 1
log_selector = +tls_certificate_verified +tls_peerdn +tls_sni
domainlist local_domains = @ : localhost : sender.world
domainlist relay_to_domains =
DCconfig_internet = 1
$(test_macros)
.include $SPLIT/main/05_mtasts-config_lookup

begin acl
.include $SPLIT/acl/60_mtasts-config_log

begin routers
.include $SPLIT/router/190_mtasts-config
dnslookup:
  driver = dnslookup
  domains = ! +local_domains
  transport = remote_smtp
  same_domain_copy_routing = yes
  ignore_target_hosts = 0.0.0.0
  no_more
local:
  driver = redirect
  data = :blackhole:

begin transports
.include $SPLIT/transport/40_mtasts-config
CONFDIR = /etc/exim4
.include /etc/exim4/conf.d/transport/30_exim4-config_remote_smtp
.include /etc/exim4/conf.d/transport/30_exim4-config_remote_smtp_smarthost

begin retry
*  *  F,2h,15m
EOF
    # NOSNIP=1: the same without the snippets (measure-startup.sh)
    [ -z "${NOSNIP:-}" ] || sed -i '/^\.include .*mtasts-config/d' "$CONF"
}

# Debian's configuration (configtype internet; smarthost when SMARTHOST
# names the smart host) built by update-exim4.conf from a copy of
# /etc/exim4 with the snippets added: split (conf.d files) or single-file
# (the parts pasted into exim4.conf.template).
conf_debian() {
    local split=$1 etc=$D/etc
    mkdir -p "$etc"
    cp -a /etc/exim4/conf.d /etc/exim4/exim4.conf.template "$etc/"
    cat >"$etc/update-exim4.conf.conf" <<EOF
dc_eximconfig_configtype='$([ -n "${SMARTHOST:-}" ] && echo smarthost || echo internet)'
dc_other_hostnames='sender.world'
dc_local_interfaces='127.0.0.1'
dc_readhost=''
dc_relay_domains=''
dc_minimaldns='false'
dc_relay_nets=''
dc_smarthost='${SMARTHOST:-}'
CFILEMODE='644'
dc_use_split_config='$split'
dc_hide_mailname=''
dc_mailname_in_oh='true'
dc_localdelivery='mail_spool'
EOF
    local macros
    macros="MAIN_HARDCODE_PRIMARY_HOSTNAME = sender.world
SPOOLDIR = $D/spool
MTASTS_DLFUNC = $DLFUNC
ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS = <; 0.0.0.0
$(test_macros)"
    if [ -n "${NOSNIP:-}" ]; then   # Debian's configuration alone (measure-startup.sh)
        echo "$macros" >"$etc/conf.d/main/000_localmacros"
    elif [ "$split" = true ]; then
        echo "$macros" >"$etc/conf.d/main/000_localmacros"
        cp "$SPLIT/main/05_mtasts-config_dlfunc" "$etc/conf.d/main/"
        cp "$SPLIT/acl/60_mtasts-config_log" "$etc/conf.d/acl/"
        cp "$SPLIT/router/190_mtasts-config" "$etc/conf.d/router/"
        cp "$SPLIT/transport/40_mtasts-config" "$etc/conf.d/transport/"
    else
        local parts=$SNIP/single-file/exim4.conf.mtasts-dlfunc t=$etc/exim4.conf.template
        get_part() { sed -n "/^#### PART $1 of 4/,/^#### END OF PART $1\$/p" "$parts"; }
        { echo "$macros"; get_part 1; } >"$etc/exim4.conf.localmacros"
        get_part 2 >"$D/part2"; get_part 3 >"$D/part3"; get_part 4 >"$D/part4"
        awk -v p2="$D/part2" -v p3="$D/part3" -v p4="$D/part4" '
            function put(f,  l) { while ((getline l < f) > 0) print l; close(f) }
            /^begin routers$/ && !d2 { put(p2); d2 = 1 }
            /^### router\/200_exim4-config_primary$/ && !d3 { put(p3); d3 = 1 }
            { print }
            /^begin transports$/ && !d4 { put(p4); d4 = 1 }' "$t" >"$t.new" && mv "$t.new" "$t"
    fi
    # update-exim4.conf -d reads DIR/exim4.conf.localmacros only if
    # /etc/exim4/exim4.conf.localmacros exists (it tests the fixed path).
    # The world's /etc/exim4 is its own copy.
    if [ "$split" = false ] && [ ! -e /etc/exim4/exim4.conf.localmacros ]; then
        mountpoint -q /etc/exim4 && : >/etc/exim4/exim4.conf.localmacros
    fi
    if ! update-exim4.conf -d "$etc" -o "$CONF" 2>"$D/update.err"; then
        not_ok "$V: update-exim4.conf failed: $(cat "$D/update.err")"; return 1
    fi
    # log_file_path has no Debian macro: the first line of the main section.
    sed -i "1i log_file_path = $D/log/%slog" "$CONF"
    chown root:root "$CONF"; chmod 644 "$CONF"
    world-ctl exim-trust "$CONF"
}

# private_module V: this build's module in a private copy of the test
# Exim's module directory, bind-mounted over it in the world's own mount
# namespace: other worktrees share /var/cache/exim-mtasts and may install
# their module there at any time (seen: a module from another tree passing
# the helper an option it does not know, "exited 3 without an answer").
private_module() {
    local dir lk=$work/lookups-$1
    dir=$(exim_prefix "$1")/lookups
    # outside the world (its mounts are private) the shared directory it is
    [ -n "${WORLD_DIR:-}" ] || { install_module "$1" "$BUILD/exim-$1/mtasts_lookup.so"; return; }
    if [ ! -d "$lk" ]; then
        mkdir -p "$lk" && cp -a "$dir/." "$lk/" &&
            install -m 0644 "$BUILD/exim-$1/mtasts_lookup.so" "$lk/mtasts_lookup.so" &&
            chmod 755 "$lk" || return 1
    fi
    mount --bind "$lk" "$dir"
}

setup_variant() {
    V=$1 D=${work:?}/$1 CONF=$work/$1/exim.conf
    # Exim reads its configuration (and may run the helper) as the Exim
    # user, and a checkout may sit where that user cannot reach (CI clones
    # into a mode-700 directory): use copies under $work.
    if [ ! -d "$work/snippets" ]; then
        cp -r "$SNIP" "$work/snippets" && chmod -R a+rX "$work/snippets"
        install -m 0755 "$BUILD/mtasts" "$work/mtasts"
        install -m 0644 "$BUILD/mtasts_dlfunc.so" "$work/mtasts_dlfunc.so"
    fi
    SPLIT=$work/snippets/debian-split/conf.d HELPER=$work/mtasts DLFUNC=$work/mtasts_dlfunc.so
    mkdir -p "$D/spool" "$D/log" "$D/store"
    chown -R Debian-exim:Debian-exim "$D/spool" "$D/log" "$D/store"
    chmod 770 "$D/store"
    case $V in
        4.*)          private_module "$V" || return 1; EXIM=$(exim_prefix "$V")/bin/exim; conf_module ;;
        stock-split)  EXIM=$STOCK_EXIM; conf_debian true ;;
        stock-single) EXIM=$STOCK_EXIM; conf_debian false ;;
        stock-smarthost) EXIM=$STOCK_EXIM; SMARTHOST=smarthost.test conf_debian true ;;
        *) echo "unknown variant $V"; return 1 ;;
    esac
    local err
    if err=$("$EXIM" -C "$CONF" -bV 2>&1 >/dev/null) && [ -z "$err" ]; then
        ok "$V: the configuration with the snippets is valid"
    else
        not_ok "$V: configuration error: $err"; return 1
    fi
}

# ------------------------------------------------------------ helpers
x() { "$EXIM" -C "$CONF" "$@"; }
# shipped_conf FILE: this configuration without the two switches
# test_macros adds (the snippets as shipped), trusted for stock exim4's -C
shipped_conf() {
    sed '/^MTASTS_TESTING_REPORT = yes$/d;/^MTASTS_TLSRPT_RECORD = yes$/d' "$CONF" >"$1" &&
        chmod 644 "$1" && { [ "$V" = "${V#stock}" ] || world-ctl exim-trust "$1"; }
}
# transport_event_lines CONF T: event_action lines of transport T in the
# configuration as Exim reads it (macros and .ifdef applied). -bP transport
# cannot tell an empty event_action, which still makes Exim copy every
# certificate of the chain, from none; -bP config can.
transport_event_lines() {
    "$EXIM" -C "$1" -bP config 2>/dev/null | awk -v t="$2:" '
        $1 == t { in_t = 1; next }
        in_t && /^ *[a-z_0-9]+:$/ { in_t = 0 }
        in_t && /^ *begin / { in_t = 0 }
        in_t && $1 == "event_action" { n++ }
        END { print n + 0 }'
}
mainlog() { cat "$D/log/mainlog" 2>/dev/null; }
# lookup DOMAIN FIELD: one field of the policy, as the routers see it
lookup() {
    local o e; o=$(opts)
    if [ "$V" = "${V#stock}" ]; then e="\${lookup mtasts,$o{$1}}"
    else e="\${dlfunc{$DLFUNC}{mtasts_policy}{$1}{$o}}"; fi
    x -be "\${extract{$2}{$e}}" 2>/dev/null
}

# fresh: empty queue, retry hints and logs, so every test stands alone
fresh() {
    local ids
    ids=$(x -bpr 2>/dev/null | awk '/^ *[0-9]+[smhd] /{print $3}')
    [ -z "$ids" ] || x -Mrm $ids >/dev/null 2>&1
    rm -f "$D"/spool/db/*
    cat "$D/log/mainlog" >>"$D/all.log" 2>/dev/null
    cat "$D/log/paniclog" >>"$D/all-panic.log" 2>/dev/null
    local f; for f in mainlog paniclog rejectlog; do : >"$D/log/$f"; done
    chown Debian-exim:Debian-exim "$D"/log/*
}

# queue_id RCPT: the id of the queued message for RCPT
queue_id() { x -bpr 2>/dev/null | awk -v r="$1" '/^ *[0-9]+[smhd] /{id=$3} $1==r{print id}' | tail -1; }

# send RCPT... : one message, delivered at once. Stock exim4 uses -odi (its
# -C file is trusted, so the delivery process keeps root). The test builds
# have no TRUSTED_CONFIG_LIST: -odi would re-exec the delivery as the Exim
# user ("exim user lost privilege"), so the message is queued and delivered
# by root with -M, as a queue runner would. DEBUG=-d+... adds debug output
# to $D/debug; HEADER='Name: value' adds a header line.
send() {
    local msg
    msg=$([ -z "${HEADER:-}" ] || printf '%s\n' "$HEADER"
          printf 'Subject: e2e %s %s\n\nhello from the e2e test' "$V" "$*")
    rm -f "$D/debug"
    if [ "$V" = "${V#stock}" ]; then
        printf '%s\n' "$msg" | x -odq -f "$SENDER" "$@"
        x ${DEBUG:-} -M "$(queue_id "$1")" 2>"$D/debug"
    else
        printf '%s\n' "$msg" | x ${DEBUG:-} -odi -f "$SENDER" "$@" 2>"$D/debug"
    fi
}

# receivers_of RCPT [TENTHS]: the receivers whose Maildir holds a message
# for RCPT, waiting up to TENTHS tenths of a second (default 50) for the
# first one. (Exim receivers store the message right after their 250.)
mailfile() { grep -lx "Envelope-to: $1" "$WORLD_DIR"/smtp/*/Maildir/new/* 2>/dev/null; }
receivers_of() {
    local _
    for _ in $(seq 1 $((${2:-50} * 2))); do
        [ -n "$(mailfile "$1")" ] && break
        sleep 0.05
    done
    mailfile "$1" | sed -E 's|.*/smtp/([^/]+)/Maildir/.*|\1|' | sort | tr '\n' ' ' | sed 's/ $//'
}
header_of() { grep -m1 "^$2:" "$(mailfile "$1" | head -1)" 2>/dev/null | sed "s/^$2: *//"; }

