/*
 * resolve_cmd.c - "mtasts resolve": DNS + HTTPS + RFC 8461 5.1 for one
 * domain, with the store's single-flight lease. The Exim adapters run it as
 * their helper (--exim) and read its stdout:
 *
 *     status: ok | not-found
 *     outcome: <resolve outcome>
 *     reason: <why, may be empty>
 *     <empty line>
 *     <the record, as record.h encodes it>
 */
#include "answer.h"
#include "cli.h"
#include "dns.h"
#include "domain.h"
#include "idn.h"
#include "fetch.h"
#include "mx_match.h"
#include "store.h"
#include "tlsrpt_helper.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* TLSRPT: policy fetch failures count as sessions only when a delivery
 * asked (the adapters' helper run, mtasts resolve), not for mtasts query
 * or refresh. */
static bool record_policy_failures;

/* Below this a fetch cannot finish a TLS handshake; not worth starting. */
#define MIN_FETCH_MS 100

bool cli_settings(const char *config, const char *opts, mtasts_options *o)
{
    mtasts_err err = {{0}};
    mtasts_status st;

    mtasts_options_init(o);
    st = mtasts_options_load(o, config ? config : MTASTS_CONFIG_DEFAULT, &err);
    if (st > MTASTS_NOT_FOUND || (st == MTASTS_NOT_FOUND && config)) {
        fprintf(stderr, "mtasts: %s\n", err.msg[0] ? err.msg : "configuration file not found");
        return false;
    }
    if (mtasts_options_parse(o, opts, &err) != MTASTS_OK) {
        fprintf(stderr, "mtasts: %s\n", err.msg);
        return false;
    }
    return true;
}

/* The network operations for mtasts_resolve(). */
typedef struct net_ctx {
    const mtasts_options *o;
    mtasts_dns *dns;
    bool verbose;
    struct timespec start;  /* the budget runs from here */
    unsigned budget_ms;     /* mtasts_options_helper_budget_ms() */
    const char *tlsrpt_result;  /* a failed fetch's RFC 8460 result type */
    char tlsrpt_reason[MTASTS_REASON_MAX];
} net_ctx;

static double ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ms left of the helper's budget, 0 when it is spent */
static unsigned budget_left(const net_ctx *n)
{
    double left = (double)n->budget_ms - ms_since(&n->start);

    return left > 0 ? (unsigned)left : 0;
}

static unsigned at_most(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

static mtasts_status net_txt(void *ctx, const char *domain, char id[MTASTS_ID_MAX + 1],
                             mtasts_err *err)
{
    net_ctx *n = ctx;
    struct timespec t0;
    mtasts_status st;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = mtasts_dns_sts_id(n->dns, domain, id, err);
    if (n->verbose)
        fprintf(stderr, "txt:   _mta-sts.%s: %s%s%s (%.1f ms)\n", domain, mtasts_status_name(st),
                st == MTASTS_OK ? " id=" : err->msg[0] ? ": " : "",
                st == MTASTS_OK ? id : err->msg, ms_since(&t0));
    return st;
}

static mtasts_status net_fetch(void *ctx, const char *domain, mtasts_policy *out,
                               mtasts_err *err)
{
    net_ctx *n = ctx;
    mtasts_fetch_config fc = {
        .ca_file = n->o->ca_file[0] ? n->o->ca_file : NULL,
        .ca_path = n->o->ca_path[0] ? n->o->ca_path : NULL,
        .connect_timeout_ms = at_most(n->o->connect_timeout, budget_left(n)),
        .total_timeout_ms = at_most(n->o->fetch_timeout, budget_left(n)),
        .proxy = n->o->proxy[0] ? n->o->proxy : NULL,
        .dns = n->dns,
        .allow_private = n->o->allow_private_policy_host,
    };
    mtasts_fetch_info info;
    char *body = NULL;
    size_t len = 0;
    mtasts_status st;

    /* Out of time: the adapter would kill us before the fetch ends. */
    if (fc.total_timeout_ms < MIN_FETCH_MS) {
        mtasts_errf(err, "no time left for the fetch (helper budget %u ms)", n->budget_ms);
        return MTASTS_TEMPFAIL;
    }
    st = mtasts_fetch_policy(&fc, domain, &body, &len, &info, err);
    if (n->verbose)
        fprintf(stderr, "fetch: %s: %s%s%s (HTTP %ld, %zu bytes, dns %.1f connect %.1f tls %.1f "
                "first byte %.1f total %.1f ms)\n", info.url, mtasts_status_name(st),
                err->msg[0] ? ": " : "", err->msg, info.http_status, info.bytes, info.dns_ms,
                info.connect_ms, info.tls_ms, info.first_byte_ms, info.total_ms);
    if (st != MTASTS_OK) {
        n->tlsrpt_result = tlsrpt_fetch_result(st, info.fail, MTASTS_OK);
        mtasts_strlcpy(n->tlsrpt_reason, err->msg, sizeof n->tlsrpt_reason);
        return st;
    }
    st = mtasts_policy_parse(body, len, out, err);
    if (n->verbose)
        fprintf(stderr, "parse: %s%s%s\n", mtasts_status_name(st), err->msg[0] ? ": " : "",
                err->msg);
    n->tlsrpt_result = tlsrpt_fetch_result(MTASTS_OK, info.fail, st);
    mtasts_strlcpy(n->tlsrpt_reason, err->msg, sizeof n->tlsrpt_reason);
    mtasts_fetch_free(&body);
    return st;
}

/* store_record - write r back (the policy is stored as soon as it is
 * known: a DANE probe after it must not be able to lose it) */
static void store_record(mtasts_store *s, const char *domain, mtasts_record *r, bool force,
                         int64_t now, bool verbose)
{
    mtasts_err err = {{0}};

    if (!s || mtasts_store_readonly(s))
        return;
    /* Only a lookup counts as use (eviction forgets unused domains); a
     * forced resolve is the refresher's or an administrator's. */
    if (!force)
        r->last_used = now;
    if (mtasts_store_put(s, domain, r, &err) != MTASTS_OK && verbose)
        fprintf(stderr, "store: %s\n", err.msg);
}

/* probe_dane - RFC 8461 2: do the MX hosts have authenticated TLSA
 * records? Within what is left of the budget; a probe that fails or runs
 * out of time leaves dane unknown (""), never a stale "all". */
static void probe_dane(net_ctx *n, const char *domain, mtasts_record *r, bool verbose)
{
    mtasts_dane_info di;
    mtasts_err derr = {{0}};

    r->dane[0] = '\0';
    if (budget_left(n) == 0)
        mtasts_errf(&derr, "no time left (helper budget %u ms)", n->budget_ms);
    else if (mtasts_dns_dane(n->dns, domain, &di, &derr) == MTASTS_OK)
        mtasts_strlcpy(r->dane, mtasts_dane_summary_name(di.summary), sizeof r->dane);
    if (verbose)
        fprintf(stderr, "dane:  %s%s%s\n", r->dane[0] ? r->dane : "unknown",
                derr.msg[0] ? ": " : "", derr.msg);
}

mtasts_status cli_resolve_domain(const mtasts_options *o, const char *domain,
                                 bool force, unsigned refetch_within, bool verbose,
                                 mtasts_record *r, mtasts_resolve_result *res)
{
    mtasts_store_config sc = { .path = o->store, .create = true,
                               .map_max = (size_t)o->map_max << 10 };
    mtasts_resolve_config rc = { .txt_recheck_interval = o->recheck, .force_check = force,
                                 .max_age_floor = o->max_age_floor,
                                 .refetch_within = refetch_within };
    mtasts_dns_config dc = {
        .resolv_conf = o->resolv_conf[0] ? o->resolv_conf : NULL,
        .nameservers = o->nameservers[0] ? o->nameservers : NULL,
        .timeout_ms = o->dns_timeout, .retries = o->dns_tries,
    };
    net_ctx net = { .o = o, .verbose = verbose, .budget_ms = mtasts_options_helper_budget_ms(o) };
    mtasts_resolve_ops ops = { net_txt, net_fetch, &net };
    mtasts_store *s = NULL;
    mtasts_err err = {{0}};
    bool leased = false;
    pid_t holder;
    mtasts_status st;
    int64_t now = (int64_t)time(NULL);

    clock_gettime(CLOCK_MONOTONIC, &net.start);
    memset(res, 0, sizeof *res);
    mtasts_record_init(r);
    if (mtasts_store_open(&sc, &s, &err) != MTASTS_OK) {
        if (verbose)
            fprintf(stderr, "store: %s: unusable, resolving without it: %s\n", o->store, err.msg);
    } else if (mtasts_store_get(s, domain, r, &err) != MTASTS_OK) {
        mtasts_record_init(r);
    }

    if (s && !mtasts_store_readonly(s)) {
        /* Single flight: one process per domain does the network work. */
        if (mtasts_store_lease_acquire(s, domain, now, o->timeout, &holder, &err) == MTASTS_OK) {
            leased = true;
            /* Someone may have finished while we started: look again. */
            mtasts_record_free(r);
            if (mtasts_store_get(s, domain, r, &err) != MTASTS_OK)
                mtasts_record_init(r);
        } else if (holder > 0) {
            if (verbose)
                fprintf(stderr, "store: pid %ld is resolving %s, waiting up to %u s\n",
                        (long)holder, domain, o->wait);
            if (mtasts_wait_for_fetch(s, domain, at_most(o->wait, budget_left(&net) / 1000),
                                      r)) {
                res->outcome = MTASTS_OUTCOME_CACHED;
                st = mtasts_record_usable(r, (int64_t)time(NULL)) ? MTASTS_OK : MTASTS_NOT_FOUND;
                goto out;
            }
        }
    }

    if (mtasts_dns_open(&dc, &net.dns, &err) != MTASTS_OK) {
        snprintf(res->reason, sizeof res->reason, "DNS: %s", err.msg);
        res->outcome = mtasts_record_usable(r, now) ? MTASTS_OUTCOME_KEPT
                                                    : MTASTS_OUTCOME_DNS_TEMPFAIL;
        st = mtasts_record_usable(r, now) ? MTASTS_OK : MTASTS_NOT_FOUND;
        goto out;
    }
    /* One deadline for all DNS of this run, DANE included. */
    mtasts_dns_set_budget(net.dns, budget_left(&net) ? budget_left(&net) : 1);
    st = mtasts_resolve(r, domain, now, &rc, &ops, res);
    if (res->record_changed)
        store_record(s, domain, r, force, now, verbose);
    if (record_policy_failures && net.tlsrpt_result)
        tlsrpt_record_policy_failure(s, o, domain, r, net.tlsrpt_result, net.tlsrpt_reason);

    /* DANE whenever a policy applies and DNS was asked anyway. */
    if (st == MTASTS_OK && o->dane && res->txt_queried) {
        char before[sizeof r->dane];

        mtasts_strlcpy(before, r->dane, sizeof before);
        probe_dane(&net, domain, r, verbose);
        if (strcmp(before, r->dane) != 0) {
            res->record_changed = true;
            store_record(s, domain, r, force, now, verbose);
        }
    }

out:
    if (leased)
        mtasts_store_lease_release(s, domain, &err);
    mtasts_dns_close(&net.dns);
    mtasts_fetch_cleanup();
    mtasts_store_close(&s);
    return st;
}

int cmd_resolve(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "exim", no_argument, NULL, 'e' },
        { "options", required_argument, NULL, 'o' },
        { "config", required_argument, NULL, 'c' },
        { "force", no_argument, NULL, 'f' },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    const char *opts = NULL, *config = NULL;
    bool force = false, verbose = false;
    char domain[MTASTS_DOMAIN_MAX + 2], buf[MTASTS_RECORD_MAX];
    mtasts_options o;
    mtasts_record r;
    mtasts_resolve_result res;
    mtasts_err err = {{0}};
    mtasts_status st;
    size_t len = 0;
    int c;

    while ((c = getopt_long(argc, argv, "fv", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': break; /* machine-readable output is the only output */
        case 'o': opts = optarg; break;
        case 'c': config = optarg; break;
        case 'f': force = true; break;
        case 'v': verbose = true; break;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: mtasts resolve [--force] [--verbose] [--config FILE] "
                "[--options 'k=v ...'] DOMAIN\n");
        return EXIT_USAGE;
    }
    if (!cli_settings(config, opts, &o))
        return EXIT_TROUBLE;
    if (!cli_drop_privileges(&o, &err)) {
        /* Never on as root. The adapter logs the reason and answers "no
         * policy"; the header has no record after it, so it cannot be
         * taken for an answer. */
        fprintf(stderr, "mtasts: %s\n", err.msg);
        printf("status: trouble\nreason: %s\n", err.msg);
        return EXIT_TROUBLE;
    }
    if (mtasts_idn_to_ascii(argv[optind], domain, sizeof domain, &err) != MTASTS_OK) {
        fprintf(stderr, "mtasts: invalid domain: %s\n", err.msg);
        return EXIT_USAGE;
    }
    mtasts_host_normalize(domain);
    if (mtasts_domain_check(domain, &err) != MTASTS_OK) {
        fprintf(stderr, "mtasts: %s\n", err.msg);
        return EXIT_USAGE;
    }
    record_policy_failures = true;
    st = cli_resolve_domain(&o, domain, force, 0, verbose, &r, &res);
    if (mtasts_record_encode(&r, buf, sizeof buf, &len, &err) != MTASTS_OK) {
        fprintf(stderr, "mtasts: %s\n", err.msg);
        mtasts_record_free(&r);
        return EXIT_TROUBLE;
    }
    /* The header is text (the reason made printable, so it cannot end the
     * header early); the record after the empty line is binary. */
    for (char *c = res.reason; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    /* A fetch skipped for backoff is "backoff" also when a cached policy
     * stays in force: the adapter logs a failure once, when it happens. */
    printf("status: %s\noutcome: %s\nreason: %s\n\n",
           st == MTASTS_OK ? "ok" : "not-found",
           mtasts_outcome_name(res.backoff ? MTASTS_OUTCOME_BACKOFF : res.outcome), res.reason);
    fwrite(buf, 1, len, stdout);
    mtasts_record_free(&r);
    return st == MTASTS_OK ? EXIT_POLICY : EXIT_NO_POLICY;
}
