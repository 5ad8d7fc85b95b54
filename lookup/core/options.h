/*
 * options.h - settings shared by the Exim adapters, the helper and the CLI.
 *
 * .nf
 * SYNOPSIS
 *     void mtasts_options_init(mtasts_options *o);
 *     mtasts_status mtasts_options_parse(mtasts_options *o, const char *text,
 *                                        mtasts_err *err);
 *     mtasts_status mtasts_options_load(mtasts_options *o, const char *path,
 *                                       mtasts_err *err);
 *     size_t mtasts_options_format(const mtasts_options *o, char *buf, size_t size);
 *     unsigned mtasts_options_helper_budget_ms(const mtasts_options *o);
 * DESCRIPTION
 *     Settings come, later ones overriding earlier ones, from the defaults,
 *     the configuration file (MTASTS_CONFIG_DEFAULT when it exists, or the
 *     file named by a "config=" option), and the options of a lookup
 *     (${lookup mtasts,store=/x timeout=20 {$domain}}) or of the CLI.
 *
 *     mtasts_options_parse() reads "key=value" words separated by spaces,
 *     tabs or commas. mtasts_options_load() reads a file of "key = value"
 *     lines ('#' starts a comment); a missing file is MTASTS_NOT_FOUND.
 *     An unknown key or a bad value is MTASTS_INVALID, naming it.
 *     mtasts_options_format() writes every setting back as parse reads it
 *     (how the adapters hand their settings to the helper).
 *
 *     key              default                      meaning
 *     store            /var/spool/exim4/db/mtasts   LMDB store directory
 *     helper           /usr/lib/exim-mtasts/mtasts  the helper (CLI) binary
 *     user             Debian-exim                  the helper's user when
 *                                                   started as root
 *     timeout          75                           s, helper run at most
 *     wait             10                           s, wait for another
 *                                                   process's fetch
 *     recheck          3600                         s, TXT id trusted for
 *     max_age_floor    3600                         s, least cache lifetime
 *                                                   of a fetched policy
 *     resolv_conf      /etc/resolv.conf
 *     nameservers      (from resolv_conf)           ip[,ip...]
 *     dns_timeout      5000                         ms per try
 *     dns_tries        2
 *     ca_file, ca_path (/etc/ssl/certs, hashed)     PKIX trust for HTTPS
 *     connect_timeout  10000                        ms
 *     fetch_timeout    30000                        ms, whole fetch (<= 60000)
 *     proxy            (none; environment ignored)
 *     dane             yes                          look for DANE (TLSA)
 *     allow_private_policy_host  no                  fetch policies from
 *                                                   loopback, private, link-
 *                                                   local ... addresses
 *     map_max          1048576                      KiB, store size ceiling
 *     disabled         no                           the emergency off switch:
 *                                                   yes makes every lookup
 *                                                   answer "no policy"
 *     tlsrpt_record    yes                          record TLS session
 *                                                   outcomes (RFC 8460)
 *     tlsrpt_map_max   524288                       KiB, size ceiling of
 *                                                   the outcomes' file
 *                                                   (tlsrpt_store.h)
 *     tlsrpt_nosync    (ignored)                    obsolete: outcomes are
 *                                                   never synced per session
 *   TLSRPT reports (mtasts tlsrpt send; exim-mtasts(5)):
 *     tlsrpt_organization  (tlsrpt_submitter)       organization-name
 *     tlsrpt_contact   (mailto:postmaster@SUBMITTER) contact-info
 *     tlsrpt_submitter (the host's domain name)     submitter domain
 *     tlsrpt_sender    noreply-smtp-tls-reporting@SUBMITTER
 *     tlsrpt_sendmail  /usr/sbin/sendmail
 *     tlsrpt_send      yes                          no: send nothing
 *     tlsrpt_retention 7                            days of outcomes kept
 *     tlsrpt_give_up   3                            days a failed report is
 *                                                   retried by later runs
 *     tlsrpt_retry_time 120                         s of HTTPS retries in a run
 *     tlsrpt_post_timeout 30000                     ms per HTTPS POST
 *     The tlsrpt_organization and tlsrpt_contact texts may hold spaces in
 *     the configuration file; mtasts_options_format() leaves the tlsrpt_
 *     settings out (the helper does not need them).
 *     preload_source   (none)                       file or https URL that
 *                                                   "mtasts preload import"
 *                                                   reads by default
 *     preload_keyring  (none)                       OpenPGP keyring: import
 *                                                   then requires a good
 *                                                   detached signature
 * .fi
 */
#ifndef MTASTS_OPTIONS_H
#define MTASTS_OPTIONS_H

#include "common.h"

#define MTASTS_CONFIG_DEFAULT "/etc/exim4/mtasts.conf"
/* The build sets it from PREFIX (make install puts the helper there). */
#ifndef MTASTS_HELPER_DEFAULT
#define MTASTS_HELPER_DEFAULT "/usr/lib/exim-mtasts/mtasts"
#endif
/* The unprivileged user the helper (and every network or store command of
 * the CLI) becomes when started as root: Exim's user on Debian. */
#ifndef MTASTS_USER_DEFAULT
#define MTASTS_USER_DEFAULT "Debian-exim"
#endif
#define MTASTS_PATH_MAX 256

typedef struct mtasts_options {
    char store[MTASTS_PATH_MAX];
    char helper[MTASTS_PATH_MAX];
    char user[MTASTS_PATH_MAX];
    unsigned timeout;          /* s */
    unsigned wait;             /* s */
    unsigned recheck;          /* s */
    unsigned max_age_floor;    /* s, see resolve.h */
    char resolv_conf[MTASTS_PATH_MAX];
    char nameservers[MTASTS_PATH_MAX];
    unsigned dns_timeout;      /* ms */
    unsigned dns_tries;
    char ca_file[MTASTS_PATH_MAX];
    char ca_path[MTASTS_PATH_MAX];
    unsigned connect_timeout;  /* ms */
    unsigned fetch_timeout;    /* ms */
    char proxy[MTASTS_PATH_MAX];
    bool dane;
    bool allow_private_policy_host; /* fetch from non-public addresses */
    unsigned map_max;          /* KiB, 0: the store's default ceiling */
    bool disabled;             /* off switch: every lookup is "no policy" */
    bool tlsrpt_record;        /* record TLS outcomes for TLSRPT */
    unsigned tlsrpt_map_max;   /* KiB, 0: MTASTS_TLSRPT_MAP_MAX */
    bool tlsrpt_nosync;        /* obsolete, accepted and ignored */
    /* TLSRPT reports (mtasts tlsrpt send, RFC 8460); text settings may hold
     * spaces in the configuration file and are not handed to the helper. */
    char tlsrpt_organization[MTASTS_PATH_MAX];  /* organization-name */
    char tlsrpt_contact[MTASTS_PATH_MAX];       /* contact-info */
    char tlsrpt_submitter[MTASTS_PATH_MAX];     /* submitter domain */
    char tlsrpt_sender[MTASTS_PATH_MAX];        /* From: and envelope sender */
    char tlsrpt_sendmail[MTASTS_PATH_MAX];      /* the MTA's sendmail */
    bool tlsrpt_send;                           /* send reports at all */
    unsigned tlsrpt_retention;                  /* days of outcomes kept */
    unsigned tlsrpt_give_up;                    /* days a report is retried */
    unsigned tlsrpt_retry_time;                 /* s of retries in one run */
    unsigned tlsrpt_post_timeout;               /* ms per HTTPS POST */
    /* The preload list (mtasts preload import without arguments). */
    char preload_source[MTASTS_PATH_MAX];   /* file or https URL */
    char preload_keyring[MTASTS_PATH_MAX];  /* gpgv keyring: signature required */
} mtasts_options;

void mtasts_options_init(mtasts_options *o);
mtasts_status mtasts_options_parse(mtasts_options *o, const char *text, mtasts_err *err);
mtasts_status mtasts_options_load(mtasts_options *o, const char *path, mtasts_err *err);
size_t mtasts_options_format(const mtasts_options *o, char *buf, size_t size);
/* The helper's own deadline, in ms from its start: timeout less a margin of
 * a fifth of it, at most 5 s (75 s -> 70 s). The adapter kills the helper
 * at timeout; within the budget the helper has stored and printed its answer. */
unsigned mtasts_options_helper_budget_ms(const mtasts_options *o);

#endif
