/*
 * cache_cmd.c - "mtasts cache list|show|flush|stats": look into the shared
 * policy store and clear it, through the store API only.
 */
#include "cli_util.h"
#include "store.h"

#include <string.h>
#include <time.h>

static const char cache_usage[] =
    "usage: mtasts cache list [--json]           a header, then one line per stored domain\n"
    "       mtasts cache show [--json] DOMAIN    everything stored for DOMAIN\n"
    "       mtasts cache flush [DOMAIN]          forget DOMAIN, or every domain\n"
    "       mtasts cache stats [--json]          counts, sizes and ages\n"
    "options: --store DIR, --config FILE, --options 'key=value ...'\n"
    "An empty store, or one not created yet, is \"empty\" (exit 0).\n"
    "Exit 0 ok, 1 DOMAIN not stored, 2 usage, 3 store trouble.\n";

/* The columns of "cache list", and its header line (not with --json). */
#define LIST_ROW "%-30s %-7s %-32s %-8s %3s %s\n"

typedef struct list_ctx {
    bool json;
    size_t n;
    int64_t now;
} list_ctx;

static bool list_one(void *ctx, const char *domain, const mtasts_record *r)
{
    list_ctx *l = ctx;
    char b[32];

    if (l->json) {
        fputs(l->n ? "," : "", stdout);
        cli_print_record(domain, r, -1, NULL, true);
    } else {
        const char *exp = !r->id[0] ? "-"
                        : r->expires_at < l->now ? "expired"
                        : cli_duration(r->expires_at - l->now, b);

        char failures[24];

        if (!l->n)
            printf(LIST_ROW, "DOMAIN", "MODE", "ID", "EXPIRES", "FAILURES", "LAST ERROR");
        snprintf(failures, sizeof failures, "%lu", (unsigned long)r->failures);
        printf(LIST_ROW, domain,
               r->id[0] ? mtasts_mode_name(r->policy.mode) : "-", r->id[0] ? r->id : "-", exp,
               failures, r->last_error[0] ? r->last_error : "-");
    }
    l->n++;
    return true;
}

typedef struct stats_ctx {
    size_t with_policy, without_policy, expired, failing, by_mode[3];
    int64_t oldest, newest, now;
} stats_ctx;

static bool stats_one(void *ctx, const char *domain, const mtasts_record *r)
{
    stats_ctx *s = ctx;

    (void)domain;
    if (r->failures)
        s->failing++;
    if (!r->id[0]) {
        s->without_policy++;
        return true;
    }
    s->with_policy++;
    if ((unsigned)r->policy.mode < 3)
        s->by_mode[r->policy.mode]++;
    if (!mtasts_record_usable(r, s->now))
        s->expired++;
    if (r->fetched_at && (!s->oldest || r->fetched_at < s->oldest))
        s->oldest = r->fetched_at;
    if (r->fetched_at > s->newest)
        s->newest = r->fetched_at;
    return true;
}

static void print_stats(const mtasts_store_stats *st, const stats_ctx *s, bool json)
{
    char a[32], b[32];

    if (json) {
        printf("{\"entries\":%zu,\"with_policy\":%zu,\"without_policy\":%zu,"
               "\"by_mode\":{\"enforce\":%zu,\"testing\":%zu,\"none\":%zu},"
               "\"expired\":%zu,\"failing\":%zu,\"map_size\":%zu,\"used_bytes\":%zu,"
               "\"readers_used\":%u,\"readers_max\":%u,",
               st->entries, s->with_policy, s->without_policy,
               s->by_mode[MTASTS_MODE_ENFORCE], s->by_mode[MTASTS_MODE_TESTING],
               s->by_mode[MTASTS_MODE_NONE], s->expired, s->failing, st->map_size,
               st->used_bytes, st->readers_used, st->readers_max);
        if (s->oldest)
            printf("\"oldest_fetch_age\":%lld,\"newest_fetch_age\":%lld}\n",
                   (long long)(s->now - s->oldest), (long long)(s->now - s->newest));
        else
            printf("\"oldest_fetch_age\":null,\"newest_fetch_age\":null}\n");
        return;
    }
    printf("entries:         %zu\n", st->entries);
    printf("with policy:     %zu (enforce %zu, testing %zu, none %zu; expired %zu)\n",
           s->with_policy, s->by_mode[MTASTS_MODE_ENFORCE], s->by_mode[MTASTS_MODE_TESTING],
           s->by_mode[MTASTS_MODE_NONE], s->expired);
    printf("without policy:  %zu\n", s->without_policy);
    printf("failing:         %zu\n", s->failing);
    printf("map size:        %zu bytes\n", st->map_size);
    printf("used:            %zu bytes\n", st->used_bytes);
    printf("readers:         %u of %u\n", st->readers_used, st->readers_max);
    printf("oldest fetch:    %s%s\n", s->oldest ? cli_duration(s->now - s->oldest, a) : "-",
           s->oldest ? " ago" : "");
    printf("newest fetch:    %s%s\n", s->newest ? cli_duration(s->now - s->newest, b) : "-",
           s->newest ? " ago" : "");
}

/* empty_store - what each subcommand says when PATH holds no store yet (the
 * directory or its data.mdb missing: no policy was ever stored there) */
static int empty_store(const char *path, const char *sub, const char *domain, bool json)
{
    if (!strcmp(sub, "list")) {
        if (json)
            puts("[]");
        else
            printf("store %s: empty (no policy stored yet)\n", path);
        return EXIT_POLICY;
    }
    if (!strcmp(sub, "stats")) {
        mtasts_store_stats ss = { 0 };
        stats_ctx c = { .now = (int64_t)time(NULL) };

        if (!json)
            printf("store %s: empty (not created yet)\n", path);
        print_stats(&ss, &c, json);
        return EXIT_POLICY;
    }
    if (domain) {
        cli_error("%s: not in the store (store %s is empty)", domain, path);
        return EXIT_NO_POLICY;
    }
    printf("store %s: empty, nothing to flush\n", path);
    return EXIT_POLICY;
}

/* cache_run - one subcommand on the open store; returns the exit code */
static int cache_run(mtasts_store *s, const char *path, const char *sub, const char *domain,
                     bool json)
{
    mtasts_err err = {{0}};
    mtasts_status st;

    if (!strcmp(sub, "list")) {
        list_ctx l = { json, 0, (int64_t)time(NULL) };

        fputs(json ? "[" : "", stdout);
        st = mtasts_store_foreach(s, list_one, &l, &err);
        fputs(json ? "]\n" : "", stdout);
        if (st == MTASTS_OK && !json && !l.n)
            printf("store %s: empty\n", path);
    } else if (!strcmp(sub, "stats")) {
        stats_ctx c = { .now = (int64_t)time(NULL) };
        mtasts_store_stats ss;

        st = mtasts_store_stats_get(s, &ss, &err);
        if (st == MTASTS_OK)
            st = mtasts_store_foreach(s, stats_one, &c, &err);
        if (st == MTASTS_OK)
            print_stats(&ss, &c, json);
    } else if (!strcmp(sub, "show")) {
        mtasts_record r;

        st = mtasts_store_get(s, domain, &r, &err);
        if (st == MTASTS_OK) {
            cli_print_record(domain, &r, -1, NULL, json);
            mtasts_record_free(&r);
        }
    } else if (domain) {
        st = mtasts_store_delete(s, domain, &err);
        if (st == MTASTS_OK)
            printf("flushed %s\n", domain);
    } else {
        st = mtasts_store_flush(s, &err);
        if (st == MTASTS_OK)
            printf("flushed every domain\n");
    }
    if (st == MTASTS_NOT_FOUND && domain) {
        cli_error("%s: not in the store", domain);
        return EXIT_NO_POLICY;
    }
    if (st != MTASTS_OK) {
        cli_error("store: %s", err.msg[0] ? err.msg : mtasts_status_name(st));
        return EXIT_TROUBLE;
    }
    return EXIT_POLICY;
}

int cmd_cache(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        CLI_SETTINGS_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    static const struct { const char *name; int min_args, max_args; } subs[] = {
        { "list", 0, 0 }, { "show", 1, 1 }, { "flush", 0, 1 }, { "stats", 0, 0 },
    };
    cli_settings_args sa = {0};
    char domain[MTASTS_DOMAIN_MAX + 2];
    bool json = false;
    mtasts_options o;
    mtasts_store *s = NULL;
    const char *sub;
    size_t i;
    int c, nargs, rc;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (cli_settings_opt(c, optarg, &sa))
            continue;
        switch (c) {
        case 'j': json = true; break;
        case 'h': return cli_usage(cache_usage, true);
        default: return cli_usage(cache_usage, false);
        }
    }
    if (optind >= argc)
        return cli_usage(cache_usage, false);
    sub = argv[optind];
    nargs = argc - optind - 1;
    for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(sub, subs[i].name))
            break;
    if (i == sizeof subs / sizeof subs[0]) {
        cli_error("cache: unknown subcommand \"%s\"", sub);
        return cli_usage(cache_usage, false);
    }
    if (nargs < subs[i].min_args || nargs > subs[i].max_args)
        return cli_usage(cache_usage, false);
    if (nargs && !cli_domain_arg(argv[optind + 1], domain))
        return EXIT_USAGE;
    /* The store is the Exim user's: root gains nothing by reading it. */
    if (!cli_load_settings(&sa, &o) || !cli_unprivileged(&o))
        return EXIT_TROUBLE;

    switch (cli_open_store(&o, &s)) {
    case MTASTS_OK:
        break;
    case MTASTS_NOT_FOUND:
        return empty_store(o.store, sub, nargs ? domain : NULL, json);
    default:
        return EXIT_TROUBLE;
    }
    rc = cache_run(s, o.store, sub, nargs ? domain : NULL, json);
    mtasts_store_close(&s);
    return rc;
}
