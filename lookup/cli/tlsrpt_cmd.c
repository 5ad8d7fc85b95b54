/*
 * tlsrpt_cmd.c - mtasts tlsrpt send|read|show (SMTP TLS Reporting, RFC
 * 8460). show is tlsrpt_show_cmd.c; the reports themselves are built in
 * lookup/tlsrpt/report.c and submitted by lookup/tlsrpt/submit.c.
 *
 * send: for each day (the one of --day, else yesterday and the days before
 * it back to tlsrpt_give_up, whose unsent reports are retried), one report
 * per policy domain with aggregates that publishes a valid _smtp._tls
 * record, to each of its rua destinations once (tlsrpt_sent.h); then the
 * outcomes older than tlsrpt_retention days are deleted.
 */
#include "cli_util.h"
#include "dns.h"
#include "domain.h"
#include "report.h"
#include "report_read.h"
#include "store.h"
#include "submit.h"
#include "tlsrpt_sent.h"
#include "tlsrpt_store.h"
#include "tlsrpt_txt.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY_SECONDS 86400
/* sendmail normally answers at once; a hung one is killed after this. */
#define SENDMAIL_TIMEOUT_S 120
/* in-run HTTPS retries: 1, 2, 4 ... s, never more than this apart */
#define POST_BACKOFF_MAX_S 60

static const char tlsrpt_usage[] =
    "usage: mtasts tlsrpt send [--day YYYY-MM-DD] [--dry-run] [--quiet]\n"
    "       mtasts tlsrpt read FILE|-\n"
    "       mtasts tlsrpt show [--day YYYY-MM-DD] [DOMAIN]\n"
    "send and show take --store DIR, --config FILE, --options 'key=value ...'.\n";

static const char send_usage[] =
    "usage: mtasts tlsrpt send [--day YYYY-MM-DD] [--dry-run] [--quiet]\n"
    "                          [--store DIR] [--config FILE] [--options 'k=v ...']\n"
    "Send the TLSRPT reports (RFC 8460) of a UTC day: by default yesterday's,\n"
    "and those of the tlsrpt_give_up days before it that are not sent yet.\n"
    "--dry-run prints the reports and their destinations; sends and marks nothing.\n"
    "Exit 0 all sent (or nothing to send), 1 some not sent yet or given up,\n"
    "2 usage, 3 trouble.\n";

static const char read_usage[] =
    "usage: mtasts tlsrpt read FILE|-\n"
    "Print a received TLSRPT report (JSON, or gzip-compressed JSON) as a summary.\n"
    "Exit 0 a valid report, 1 not a valid report, 2 usage, 3 cannot read FILE.\n";

typedef struct send_ctx {
    mtasts_options *o;
    mtasts_store *s;
    mtasts_dns *dns;
    bool dry_run, quiet;
    char submitter[MTASTS_DOMAIN_MAX + 1];
    const char *organization, *contact, *sender;
    int64_t now;
    char today[11];
    unsigned failed;        /* destinations not sent (retry later, given up) */
} send_ctx;

/* the aggregates of one day, as policy entries grouped by domain */
typedef struct collect_ctx {
    json_t *by_domain;
    bool nomem;
} collect_ctx;

static bool collect(void *ctx, const mtasts_tlsrpt_aggregate *a)
{
    collect_ctx *c = ctx;
    json_t *list, *e;
    mtasts_err err = {{0}};

    /* A name that is no DNS domain has no _smtp._tls record to report to
     * (and may not even be UTF-8, which JSON keys must be). */
    if (mtasts_domain_check(a->policy_domain, &err) != MTASTS_OK)
        return true;
    list = json_object_get(c->by_domain, a->policy_domain);
    if (!list && (!(list = json_array()) ||
                  json_object_set_new(c->by_domain, a->policy_domain, list) != 0))
        goto nomem;
    if (!(e = tlsrpt_policy_entry(a, NULL)) || json_array_append_new(list, e) != 0)
        goto nomem;
    return true;
nomem:
    c->nomem = true;
    return false;
}

/* A tlsa policy recorded without its TLSA records: those of its MX hosts
 * now (DANE keys rarely change within a day; a host without any gives no
 * line). Decision documented in mtasts(8). */
static void tlsa_at_report_time(send_ctx *sc, json_t *entries)
{
    size_t i, j;
    json_t *e, *host;

    json_array_foreach(entries, i, e) {
        json_t *pol = json_object_get(e, "policy"), *lines;

        if (strcmp(json_string_value(json_object_get(pol, "policy-type")), "tlsa") != 0 ||
            json_object_get(pol, "policy-string") || !(lines = json_array()))
            continue;
        json_array_foreach(json_object_get(pol, "mx-host"), j, host) {
            mtasts_err err = {{0}};
            char *text = NULL, *p;

            if (mtasts_dns_tlsa_text(sc->dns, json_string_value(host), &text, &err) !=
                MTASTS_OK)
                continue;
            for (p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
                json_array_append_new(lines, json_string(p));
            free(text);
        }
        if (json_array_size(lines) > 0)
            json_object_set_new(pol, "policy-string", lines);
        else
            json_decref(lines);
    }
}

static const char *mark_name(mtasts_tlsrpt_sent_state s)
{
    switch (s) {
    case MTASTS_SENT_DONE: return "already sent";
    case MTASTS_SENT_GAVE_UP: return "given up earlier";
    case MTASTS_SENT_SENDING: return "being sent by another process";
    default: return "skipped";
    }
}

/* days between the UTC days a and b (b - a) */
static long day_diff(const char *a, const char *b)
{
    int64_t sa, ea, sb, eb;

    if (!tlsrpt_day_range(a, &sa, &ea) || !tlsrpt_day_range(b, &sb, &eb))
        return 0;
    return (long)((sb - sa) / DAY_SECONDS);
}

/* POST with in-run retries: backoff 1, 2, 4 ... s while tlsrpt_retry_time
 * allows (5.4: retry with backoff for a bounded time) */
static mtasts_status post_with_retries(send_ctx *sc, const char *url, const unsigned char *gz,
                                       size_t gzlen, mtasts_err *err)
{
    tlsrpt_post_config pc = {
        .ca_file = sc->o->ca_file[0] ? sc->o->ca_file : NULL,
        .ca_path = sc->o->ca_path[0] ? sc->o->ca_path : NULL,
        .proxy = sc->o->proxy,
        .connect_timeout_ms = sc->o->connect_timeout,
        .timeout_ms = sc->o->tlsrpt_post_timeout,
        .allow_private = sc->o->allow_private_policy_host,
    };
    time_t start = time(NULL);
    unsigned delay = 1;
    mtasts_status st;
    long status;

    for (;;) {
        mtasts_err_clear(err);
        st = tlsrpt_post(&pc, url, gz, gzlen, &status, err);
        if (st == MTASTS_OK)
            return st;
        if (time(NULL) - start + (time_t)delay > (time_t)sc->o->tlsrpt_retry_time)
            return st;
        if (!sc->quiet)
            printf("retry  %s in %u s: %s\n", url, delay, err->msg);
        fflush(stdout);
        sleep(delay);
        delay = delay * 2 > POST_BACKOFF_MAX_S ? POST_BACKOFF_MAX_S : delay * 2;
    }
}

/* one report to one destination, at most once */
static void send_one(send_ctx *sc, const char *day, const char *domain,
                     const mtasts_tlsrpt_uri *u, json_t *entries)
{
    tlsrpt_meta meta = { sc->organization, sc->contact, sc->submitter, day };
    char id[TLSRPT_ID_LEN + 1], *text = NULL, *mail = NULL;
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    json_t *report;
    mtasts_tlsrpt_mark mark;
    mtasts_err err = {{0}};
    mtasts_status st;
    mtasts_tlsrpt_sent_state end;

    tlsrpt_report_id(sc->submitter, day, domain, u->uri, id);
    report = tlsrpt_report_new(&meta, id, json_deep_copy(entries));
    if (!report || !(text = sc->dry_run ? json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                                         : tlsrpt_report_text(report))) {
        cli_error("%s %s: out of memory", day, domain);
        sc->failed++;
        goto out;
    }
    if (sc->dry_run) {
        printf("# %s %s -> %s (report-id %s)\n%s\n", day, domain, u->uri, id, text);
        goto out;
    }
    st = mtasts_tlsrpt_sent_claim(sc->s, day, domain, u->uri, sc->now, &mark, &err);
    if (st == MTASTS_NOT_FOUND) {
        if (!sc->quiet)
            printf("skip   %s %s -> %s: %s\n", day, domain, u->uri, mark_name(mark.prior));
        goto out;
    }
    if (st != MTASTS_OK) {
        cli_error("%s %s -> %s: %s", day, domain, u->uri, err.msg);
        sc->failed++;
        goto out;
    }
    if (mark.prior == MTASTS_SENT_SENDING && !sc->quiet)
        printf("resend %s %s -> %s: an earlier run stopped while sending it (same "
               "report-id %s)\n", day, domain, u->uri, id);
    if ((st = tlsrpt_gzip(text, strlen(text), &gz, &gzlen, &err)) == MTASTS_OK) {
        if (u->scheme == MTASTS_TLSRPT_MAILTO) {
            tlsrpt_mail m = { sc->sender, u->addr, domain, sc->submitter, day, id, sc->now };

            if (!(mail = tlsrpt_mime(&m, gz, gzlen))) {
                mtasts_errf(&err, "out of memory");
                st = MTASTS_SYSERR;
            } else {
                st = tlsrpt_sendmail(sc->o->tlsrpt_sendmail, sc->sender, mail,
                                     SENDMAIL_TIMEOUT_S, &err);
            }
        } else {
            st = post_with_retries(sc, u->uri, gz, gzlen, &err);
        }
    }
    if (st == MTASTS_OK) {
        end = MTASTS_SENT_DONE;
        if (!sc->quiet)
            printf("sent   %s %s -> %s (report-id %s)\n", day, domain, u->uri, id);
    } else {
        sc->failed++;
        /* 5.4: give up after a bounded time; the last run that may still
         * retry this day gives up, with a log line. */
        end = day_diff(day, sc->today) >= (long)sc->o->tlsrpt_give_up ? MTASTS_SENT_GAVE_UP
                                                                        : MTASTS_SENT_RETRY;
        cli_error("tlsrpt: %s %s -> %s: %s; %s", day, domain, u->uri, err.msg,
                  end == MTASTS_SENT_GAVE_UP ? "giving up" : "a later run retries");
    }
    mtasts_err_clear(&err);
    if (mtasts_tlsrpt_sent_finish(sc->s, day, domain, u->uri, end, time(NULL), &err) !=
        MTASTS_OK) {
        cli_error("%s %s -> %s: %s", day, domain, u->uri, err.msg);
        sc->failed++;
    }
out:
    free(mail);
    free(gz);
    free(text);
    json_decref(report);
}

/* every report of one day; false on trouble (store, memory) */
static bool send_day(send_ctx *sc, const char *day)
{
    collect_ctx c = { json_object(), false };
    mtasts_err err = {{0}};
    const char *domain;
    json_t *entries;

    if (!c.by_domain)
        return false;
    if (mtasts_tlsrpt_foreach(sc->s, day, collect, &c, &err) != MTASTS_OK || c.nomem) {
        cli_error("store: %s", c.nomem ? "out of memory" : err.msg);
        json_decref(c.by_domain);
        return false;
    }
    json_object_foreach(c.by_domain, domain, entries) {
        mtasts_tlsrpt_rua rua;
        mtasts_status st;

        mtasts_err_clear(&err);
        st = mtasts_dns_tlsrpt(sc->dns, domain, &rua, &err);
        if (st == MTASTS_NOT_FOUND || st == MTASTS_INVALID) {
            /* 3: the domain does not implement TLSRPT (its owner's
             * business, not the reporter's: not even --quiet's mail) */
            if (!sc->quiet)
                printf("none   %s %s: %s\n", day, domain,
                       st == MTASTS_INVALID ? err.msg : "no TLSRPT record");
            continue;
        }
        if (st != MTASTS_OK) {
            cli_error("tlsrpt: %s %s: %s; a later run retries", day, domain, err.msg);
            sc->failed++;
            continue;
        }
        tlsa_at_report_time(sc, entries);
        for (size_t i = 0; i < rua.n; i++)
            send_one(sc, day, domain, &rua.uri[i], entries);
    }
    json_decref(c.by_domain);
    return true;
}

/* the submitter domain: tlsrpt_submitter, else this host's name */
static bool find_submitter(const mtasts_options *o, char out[MTASTS_DOMAIN_MAX + 1])
{
    mtasts_err err = {{0}};
    char host[MTASTS_DOMAIN_MAX + 1] = "";

    if (o->tlsrpt_submitter[0]) {
        mtasts_strlcpy(host, o->tlsrpt_submitter, sizeof host);
    } else if (gethostname(host, sizeof host - 1) == 0 && !strchr(host, '.')) {
        struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *ai = NULL;

        if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname)
            mtasts_strlcpy(host, ai->ai_canonname, sizeof host);
        if (ai)
            freeaddrinfo(ai);
    }
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    if (!strchr(host, '.') || mtasts_domain_check(host, &err) != MTASTS_OK) {
        cli_error("tlsrpt: no submitter domain (this host's name \"%s\" is none): set "
                  "tlsrpt_submitter", host);
        return false;
    }
    memcpy(out, host, strlen(host) + 1);
    return true;
}

static int cmd_tlsrpt_send(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "day", required_argument, NULL, 'd' },
        { "dry-run", no_argument, NULL, 'n' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        CLI_SETTINGS_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    cli_settings_args sa = {0};
    const char *day = NULL;
    send_ctx sc = {0};
    mtasts_options o;
    mtasts_store_config stc = {0};
    mtasts_err err = {{0}};
    char contact[MTASTS_PATH_MAX + 16], sender[MTASTS_PATH_MAX + 40], d[11];
    int64_t s0, e0;
    unsigned give_up;
    int c, rc = EXIT_TROUBLE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "nqh", longopts, NULL)) != -1) {
        if (cli_settings_opt(c, optarg, &sa))
            continue;
        switch (c) {
        case 'd':
            if (!tlsrpt_day_range(optarg, &s0, &e0)) {
                cli_error("--day: \"%s\" is not a day YYYY-MM-DD", optarg);
                return EXIT_USAGE;
            }
            day = optarg;
            break;
        case 'n': sc.dry_run = true; break;
        case 'q': sc.quiet = true; break;
        case 'h': return cli_usage(send_usage, true);
        default: return cli_usage(send_usage, false);
        }
    }
    if (optind != argc)
        return cli_usage(send_usage, false);
    if (!cli_load_settings(&sa, &o) || !cli_unprivileged(&o))
        return EXIT_TROUBLE;
    if (!o.tlsrpt_send && !sc.dry_run) {
        if (!sc.quiet)
            printf("tlsrpt_send is no: no report sent\n");
        return EXIT_POLICY;
    }
    if (!find_submitter(&o, sc.submitter))
        return EXIT_TROUBLE;
    snprintf(contact, sizeof contact, "postmaster@%s", sc.submitter);
    snprintf(sender, sizeof sender, "noreply-smtp-tls-reporting@%s", sc.submitter);
    sc.o = &o;
    sc.organization = o.tlsrpt_organization[0] ? o.tlsrpt_organization : sc.submitter;
    sc.contact = o.tlsrpt_contact[0] ? o.tlsrpt_contact : contact;
    sc.sender = o.tlsrpt_sender[0] ? o.tlsrpt_sender : sender;
    sc.now = (int64_t)time(NULL);
    if (!mtasts_tlsrpt_day_of(sc.now, sc.today))
        return EXIT_TROUBLE;
    /* Retried days must still have their outcomes. */
    give_up = o.tlsrpt_give_up < o.tlsrpt_retention ? o.tlsrpt_give_up : o.tlsrpt_retention - 1;

    stc.path = o.store;
    {
        mtasts_dns_config dc = {
            .resolv_conf = o.resolv_conf[0] ? o.resolv_conf : NULL,
            .nameservers = o.nameservers[0] ? o.nameservers : NULL,
            .timeout_ms = o.dns_timeout, .retries = o.dns_tries,
        };

        if (mtasts_dns_open(&dc, &sc.dns, &err) != MTASTS_OK) {
            cli_error("DNS: %s", err.msg);
            return EXIT_TROUBLE;
        }
    }
    if (mtasts_store_open(&stc, &sc.s, &err) != MTASTS_OK) {
        cli_error("store %s: %s", o.store, err.msg);
        goto out;
    }
    mtasts_tlsrpt_set_map_max((size_t)o.tlsrpt_map_max << 10);
    if (!sc.dry_run) {
        bool moved = false;

        /* A damaged outcomes file would stop recording for good: move it
         * aside (its outcomes are lost) and start a new one. */
        mtasts_err_clear(&err);
        if (mtasts_tlsrpt_recover(sc.s, &moved, &err) != MTASTS_OK)
            cli_error("tlsrpt: %s", err.msg);
        else if (moved)
            cli_error("tlsrpt: %s", err.msg);
    }
    if (day) {
        if (!send_day(&sc, day))
            goto out;
    } else {
        /* the oldest day first: yesterday is the last */
        for (unsigned k = give_up > 1 ? give_up : 1; k >= 1; k--) {
            if (!mtasts_tlsrpt_day_of(sc.now - (int64_t)k * DAY_SECONDS, d) ||
                !send_day(&sc, d))
                goto out;
        }
    }
    if (!sc.dry_run) {
        mtasts_err_clear(&err);
        if (!mtasts_tlsrpt_day_of(sc.now - (int64_t)o.tlsrpt_retention * DAY_SECONDS, d) ||
            mtasts_tlsrpt_expire(sc.s, d, &err) != MTASTS_OK) {
            cli_error("tlsrpt: deleting outcomes before %s: %s", d, err.msg);
            goto out;
        }
    }
    rc = sc.failed ? EXIT_NO_POLICY : EXIT_POLICY;
out:
    mtasts_store_close(&sc.s);
    mtasts_dns_close(&sc.dns);
    return rc;
}

static int cmd_tlsrpt_read(int argc, char **argv)
{
    unsigned char *buf;
    size_t len = 0, cap = TLSRPT_READ_MAX_INPUT + 1;
    char err[256], esc[300];
    cli_settings_args sa = {0};
    mtasts_options o;
    FILE *f;
    bool ok;

    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return cli_usage(read_usage, true);
    if (argc != 2)
        return cli_usage(read_usage, false);
    f = strcmp(argv[1], "-") ? fopen(argv[1], "rb") : stdin;
    if (!f) {
        cli_error("%s: %s", argv[1], strerror(errno));
        return EXIT_TROUBLE;
    }
    if (!(buf = malloc(cap))) {
        cli_error("out of memory");
        if (f != stdin)
            fclose(f);
        return EXIT_TROUBLE;
    }
    /* one more byte than allowed: the reader then says "too big" */
    while (len < cap) {
        size_t n = fread(buf + len, 1, cap - len, f);

        if (n == 0)
            break;
        len += n;
    }
    if (ferror(f)) {
        cli_error("%s: read error", argv[1]);
        free(buf);
        if (f != stdin)
            fclose(f);
        return EXIT_TROUBLE;
    }
    if (f != stdin)
        fclose(f);
    /* The report came from the network: read with the caller's rights (a
     * root-only file stays readable), parsed without them. */
    if (!cli_load_settings(&sa, &o) || !cli_unprivileged(&o)) {
        free(buf);
        return EXIT_TROUBLE;
    }
    ok = tlsrpt_read_report(buf, len, stdout, err, sizeof err);
    free(buf);
    if (!ok) {
        cli_error("%s: not a valid TLSRPT report: %s", argv[1], mtasts_escape(err, esc, sizeof esc));
        return EXIT_NO_POLICY;
    }
    return EXIT_POLICY;
}

int cmd_tlsrpt(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "show"))
        return cmd_tlsrpt_show(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "send"))
        return cmd_tlsrpt_send(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "read"))
        return cmd_tlsrpt_read(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return cli_usage(tlsrpt_usage, true);
    return cli_usage(tlsrpt_usage, false);
}
