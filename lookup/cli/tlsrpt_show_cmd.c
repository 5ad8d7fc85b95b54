/*
 * tlsrpt_show_cmd.c - mtasts tlsrpt show [DOMAIN]: a day's TLS session
 * counts (RFC 8460 aggregates as recorded; tlsrpt_store.h), today's UTC
 * day unless --day says otherwise.
 */
#include "cli_util.h"
#include "store.h"
#include "tlsrpt_store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char show_usage[] =
    "usage: mtasts tlsrpt show [--day YYYY-MM-DD] [DOMAIN]\n"
    "  The TLS session outcomes recorded for a UTC day (default: today), per\n"
    "  policy domain and policy: one line of counts, then one line per\n"
    "  failure-detail row (most frequent first).\n"
    "options: --store DIR, --config FILE, --options 'key=value ...'\n"
    "Exit 0 ok (also when nothing is recorded), 2 usage, 3 store trouble.\n";

typedef struct show_ctx {
    const char *domain;         /* NULL: every domain */
    size_t n;
} show_ctx;

/* by_count - detail rows, most frequent first */
static int by_count(const void *a, const void *b)
{
    const mtasts_tlsrpt_detail *x = *(const mtasts_tlsrpt_detail *const *)a;
    const mtasts_tlsrpt_detail *y = *(const mtasts_tlsrpt_detail *const *)b;

    return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->result_type, y->result_type);
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static bool show_one(void *ctx, const mtasts_tlsrpt_aggregate *a)
{
    show_ctx *c = ctx;
    const mtasts_tlsrpt_detail *rows[MTASTS_TLSRPT_DETAILS_MAX];
    char esc[4][1024];

    if (c->domain && strcmp(c->domain, a->policy_domain) != 0)
        return true;
    c->n++;
    printf("%s %s policy=%s sessions=%llu successful=%llu failed=%llu\n", a->day,
           a->policy_domain, mtasts_tlsrpt_policy_type_name(a->type),
           (unsigned long long)(a->successes + a->failures),
           (unsigned long long)a->successes, (unsigned long long)a->failures);
    if (a->mx_patterns[0]) {
        printf("  mx-host:");
        for (const char *p = a->mx_patterns; *p;) {
            size_t n = strcspn(p, "\n");
            char one[MTASTS_DOMAIN_MAX + 1];

            snprintf(one, sizeof one, "%.*s", (int)n, p);
            mtasts_escape(one, esc[0], sizeof esc[0]);
            printf(" %s", esc[0]);
            p += n + (p[n] == '\n');
        }
        printf("\n");
    }
    for (size_t i = 0; i < a->n_details; i++)
        rows[i] = &a->details[i];
    qsort(rows, a->n_details, sizeof *rows, by_count);
    for (size_t i = 0; i < a->n_details; i++) {
        const mtasts_tlsrpt_detail *d = rows[i];

        mtasts_escape(or_dash(d->receiving_mx_hostname), esc[0], sizeof esc[0]);
        mtasts_escape(or_dash(d->receiving_ip), esc[1], sizeof esc[1]);
        mtasts_escape(or_dash(d->sending_ip), esc[2], sizeof esc[2]);
        mtasts_escape(or_dash(d->failure_reason_code), esc[3], sizeof esc[3]);
        printf("  %s count=%llu mx=%s ip=%s from=%s reason=%s\n", d->result_type,
               (unsigned long long)d->count, esc[0], esc[1], esc[2], esc[3]);
    }
    return true;
}

int cmd_tlsrpt_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "day", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        CLI_SETTINGS_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    cli_settings_args sa = {0};
    char domain[MTASTS_DOMAIN_MAX + 2], today[11];
    const char *day = NULL;
    show_ctx ctx = { 0 };
    mtasts_options o;
    mtasts_store *s = NULL;
    mtasts_err err = {{0}};
    uint64_t aggs, overflow;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (cli_settings_opt(c, optarg, &sa))
            continue;
        switch (c) {
        case 'd': day = optarg; break;
        case 'h': return cli_usage(show_usage, true);
        default: return cli_usage(show_usage, false);
        }
    }
    if (argc - optind > 1)
        return cli_usage(show_usage, false);
    if (optind < argc) {
        if (!cli_domain_arg(argv[optind], domain))
            return EXIT_USAGE;
        ctx.domain = domain;
    }
    if (!day) {
        mtasts_tlsrpt_day_of((int64_t)time(NULL), today);
        day = today;
    } else if (strlen(day) != 10 || day[4] != '-' || day[7] != '-') {
        cli_error("tlsrpt show: --day %s is not YYYY-MM-DD", day);
        return EXIT_USAGE;
    }
    if (!cli_load_settings(&sa, &o) || !cli_unprivileged(&o))
        return EXIT_TROUBLE;
    switch (cli_open_store(&o, &s)) {
    case MTASTS_OK:
        break;
    case MTASTS_NOT_FOUND:
        printf("store %s: empty (nothing recorded)\n", o.store);
        return EXIT_POLICY;
    default:
        return EXIT_TROUBLE;
    }
    if (mtasts_tlsrpt_foreach(s, day, show_one, &ctx, &err) != MTASTS_OK
        || mtasts_tlsrpt_day_stats(s, day, &aggs, &overflow, &err) != MTASTS_OK) {
        cli_error("store: %s", err.msg);
        mtasts_store_close(&s);
        return EXIT_TROUBLE;
    }
    mtasts_store_close(&s);
    if (!ctx.n)
        printf("%s: no TLS sessions recorded%s%s\n", day, ctx.domain ? " for " : "",
               ctx.domain ? ctx.domain : "");
    if (overflow)
        printf("%s: %llu session(s) not recorded: the day reached %u aggregates\n", day,
               (unsigned long long)overflow, MTASTS_TLSRPT_AGGREGATES_MAX);
    return EXIT_POLICY;
}
