/*
 * preload_cmd.c - mtasts preload build|import|list|show|remove|clear|stats:
 * the MTA-STS preload list (preload.h; formats in docs/preload-format.md).
 */
#include "cli_util.h"
#include "preload_parse.h"
#include "preload_source.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char preload_usage[] =
    "usage: mtasts preload build [-o OUT] [--valid DAYS] DOMAIN... | --from FILE\n"
    "           fetch each domain's live policy, write the list (this project's format)\n"
    "       mtasts preload import [--format eff|mtasts] [--verify KEYRING]\n"
    "                             [--signature SIG] [--allow-older] [FILE|URL]\n"
    "           replace the stored list (default: the preload_source option;\n"
    "           --verify: detached OpenPGP signature SIG, default FILE.sig/URL.sig,\n"
    "           checked with gpgv; default keyring: the preload_keyring option;\n"
    "           a list older than the stored one is refused without --allow-older)\n"
    "       mtasts preload list [--json] | show [--json] DOMAIN | remove DOMAIN\n"
    "       mtasts preload clear | stats [--json]\n"
    "options: --store DIR, --config FILE, --options 'key=value ...'\n"
    "Exit 0 ok, 1 list refused / DOMAIN not listed / a domain without a valid policy\n"
    "(build), 2 usage, 3 store or system trouble.\n";

#define DEFAULT_VALID_DAYS 7
#define MAX_VALID_DAYS 365

typedef struct preload_args {
    const char *out, *from, *format, *keyring, *signature;
    unsigned long valid_days;
    bool json, allow_older;
} preload_args;

/* ------------------------------------------------------------------ */
/* Printing                                                             */

static void print_mx_text(const mtasts_policy *p)
{
    for (size_t i = 0; i < p->n_mx; i++)
        printf("%s%s", i ? " " : "", p->mx[i]);
}

static void print_entry(const char *domain, const mtasts_preload_entry *e, int64_t now,
                        bool json)
{
    char a[32], b[32];

    if (json) {
        fputs("{\"domain\":", stdout);
        json_str(stdout, domain);
        printf(",\"mode\":\"%s\",\"mx\":", mtasts_mode_name(e->policy.mode));
        json_mx(stdout, &e->policy);
        fputs(",\"id\":", stdout);
        json_str_or_null(stdout, e->id);
        printf(",\"max_age\":%lu,\"taken_at\":%lld,\"expires_at\":%lld,\"expired\":%s}",
               (unsigned long)e->policy.max_age, (long long)e->taken_at,
               (long long)e->expires_at, now > e->expires_at ? "true" : "false");
        return;
    }
    printf("domain:     %s\nmode:       %s\nmx:         ", domain,
           mtasts_mode_name(e->policy.mode));
    print_mx_text(&e->policy);
    printf("\nid:         %s\nmax_age:    %lu\ntaken:      %s\nexpires:    %s%s\n",
           e->id[0] ? e->id : "-", (unsigned long)e->policy.max_age, cli_time(e->taken_at, a),
           cli_time(e->expires_at, b), now > e->expires_at ? " (expired: ignored)" : "");
}

typedef struct list_ctx {
    bool json;
    size_t n;
    int64_t now;
    size_t by_mode[3], expired;
} list_ctx;

static bool list_one(void *ctx, const char *domain, const mtasts_preload_entry *e)
{
    list_ctx *l = ctx;
    char b[32];

    if (l->json) {
        fputs(l->n ? "," : "", stdout);
        print_entry(domain, e, l->now, true);
    } else {
        if (!l->n)
            printf("%-30s %-7s %-8s %s\n", "DOMAIN", "MODE", "EXPIRES", "MX");
        printf("%-30s %-7s %-8s ", domain, mtasts_mode_name(e->policy.mode),
               l->now > e->expires_at ? "expired" : cli_duration(e->expires_at - l->now, b));
        print_mx_text(&e->policy);
        putchar('\n');
    }
    l->n++;
    return true;
}

static bool count_one(void *ctx, const char *domain, const mtasts_preload_entry *e)
{
    list_ctx *l = ctx;

    (void)domain;
    l->n++;
    if ((unsigned)e->policy.mode < 3)
        l->by_mode[e->policy.mode]++;
    if (l->now > e->expires_at)
        l->expired++;
    return true;
}

static void print_stats(const mtasts_preload_meta *m, bool have_list, const list_ctx *c,
                        size_t skipped, bool json)
{
    char a[32], b[32], d[32];

    if (json) {
        printf("{\"list\":%s,\"format\":", have_list ? "true" : "false");
        json_str_or_null(stdout, have_list ? m->format : NULL);
        fputs(",\"version\":", stdout);
        json_str_or_null(stdout, have_list ? m->version : NULL);
        fputs(",\"source\":", stdout);
        json_str_or_null(stdout, have_list ? m->source : NULL);
        printf(",\"generated_at\":%lld,\"imported_at\":%lld,\"expires_at\":%lld,"
               "\"list_expired\":%s,\"entries\":%zu,\"by_mode\":{\"enforce\":%zu,"
               "\"testing\":%zu},\"expired\":%zu,\"undecodable\":%zu}\n",
               (long long)m->generated_at, (long long)m->imported_at,
               (long long)m->expires_at,
               have_list && c->now > m->expires_at ? "true" : "false", c->n,
               c->by_mode[MTASTS_MODE_ENFORCE], c->by_mode[MTASTS_MODE_TESTING], c->expired,
               skipped);
        return;
    }
    if (!have_list) {
        printf("no preload list imported\n");
    } else {
        printf("list:        %s format%s%s, from %s\n", m->format, m->version[0] ? " version " : "",
               m->version, m->source[0] ? m->source : "-");
        printf("generated:   %s\nimported:    %s\nexpires:     %s%s\n", cli_time(m->generated_at, a),
               cli_time(m->imported_at, b), cli_time(m->expires_at, d),
               c->now > m->expires_at ? " (expired: the list is ignored)" : "");
    }
    printf("entries:     %zu (enforce %zu, testing %zu; expired %zu)\n", c->n,
           c->by_mode[MTASTS_MODE_ENFORCE], c->by_mode[MTASTS_MODE_TESTING], c->expired);
    if (skipped)
        printf("undecodable: %zu (ignored)\n", skipped);
}

/* ------------------------------------------------------------------ */
/* list, show, remove, clear, stats                                     */

static int store_error(const char *what, mtasts_status st, const mtasts_err *err)
{
    cli_error("%s: %s", what, err->msg[0] ? err->msg : mtasts_status_name(st));
    return EXIT_TROUBLE;
}

static int admin_run(mtasts_store *s, const char *sub, const char *domain, bool json)
{
    list_ctx l = {.json = json, .now = (int64_t)time(NULL)};
    mtasts_err err = {{0}};
    mtasts_status st;

    if (!strcmp(sub, "list")) {
        fputs(json ? "[" : "", stdout);
        st = mtasts_preload_foreach(s, list_one, &l, NULL, &err);
        fputs(json ? "]\n" : "", stdout);
        if (st == MTASTS_OK && !json && !l.n)
            printf("preload list: empty\n");
    } else if (!strcmp(sub, "show")) {
        mtasts_preload_entry e;

        st = mtasts_preload_lookup(s, domain, &e, &err);
        if (st == MTASTS_OK) {
            print_entry(domain, &e, l.now, json);
            fputs(json ? "\n" : "", stdout);
            mtasts_preload_entry_free(&e);
        }
    } else if (!strcmp(sub, "remove")) {
        st = mtasts_preload_remove(s, domain, &err);
        if (st == MTASTS_OK)
            printf("removed %s from the preload list\n", domain);
    } else if (!strcmp(sub, "clear")) {
        st = mtasts_preload_clear(s, &err);
        if (st == MTASTS_OK)
            printf("preload list cleared\n");
    } else {
        mtasts_preload_meta m;
        size_t skipped = 0;
        mtasts_status ms = mtasts_preload_meta_get(s, &m, &err);

        if (ms != MTASTS_OK && ms != MTASTS_NOT_FOUND)
            return store_error("store", ms, &err);
        st = mtasts_preload_foreach(s, count_one, &l, &skipped, &err);
        if (st == MTASTS_OK)
            print_stats(&m, ms == MTASTS_OK, &l, skipped, json);
    }
    if (st == MTASTS_NOT_FOUND && domain) {
        cli_error("%s: not on the preload list", domain);
        return EXIT_NO_POLICY;
    }
    return st == MTASTS_OK ? EXIT_POLICY : store_error("store", st, &err);
}

static int admin(const mtasts_options *o, const char *sub, const char *domain, bool json)
{
    mtasts_store *s = NULL;
    int rc;

    switch (cli_open_store(o, &s)) {
    case MTASTS_OK:
        break;
    case MTASTS_NOT_FOUND:
        if (domain) {
            cli_error("%s: not on the preload list (store %s is empty)", domain, o->store);
            return EXIT_NO_POLICY;
        }
        if (!strcmp(sub, "stats")) {
            mtasts_preload_meta m = {0};
            list_ctx l = {.now = (int64_t)time(NULL)};

            print_stats(&m, false, &l, 0, json);
        } else {
            fputs(json && !strcmp(sub, "list") ? "[]\n" : "preload list: empty\n", stdout);
        }
        return EXIT_POLICY;
    default:
        return EXIT_TROUBLE;
    }
    rc = admin_run(s, sub, domain, json);
    mtasts_store_close(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* import                                                               */

/* older_than_stored - INVALID (err says why) when the stored list was
 * generated after m: replaying an older list, even a validly signed one,
 * could drop domains the current list protects (RULES.md of the EFF list:
 * the timestamp only increases). OK otherwise, also without a stored list. */
static mtasts_status older_than_stored(mtasts_store *s, const mtasts_preload_meta *m,
                                       mtasts_err *err)
{
    mtasts_preload_meta cur;
    mtasts_err why = {{0}};
    char a[32], b[32];
    mtasts_status st = mtasts_preload_meta_get(s, &cur, &why);

    /* No list, or none that can be read: nothing to compare with. */
    if (st == MTASTS_NOT_FOUND || st == MTASTS_INVALID)
        return MTASTS_OK;
    if (st != MTASTS_OK) {
        mtasts_errf(err, "%s", why.msg);
        return st;
    }
    if (m->generated_at < cur.generated_at) {
        mtasts_errf(err, "the list was generated at %s, before the stored one (%s); "
                    "--allow-older imports it anyway", cli_time(m->generated_at, a),
                    cli_time(cur.generated_at, b));
        return MTASTS_INVALID;
    }
    return MTASTS_OK;
}

static int import(const mtasts_options *o, const preload_args *a, const char *src)
{
    preload_blob list = {0}, sig = {0}, keyring = {0};
    char sigsrc[MTASTS_PRELOAD_SOURCE_MAX + 8];
    const char *keyfile = a->keyring ? a->keyring : o->preload_keyring[0] ? o->preload_keyring
                                                                           : NULL;
    preload_format fmt = PRELOAD_FORMAT_AUTO;
    mtasts_store_config sc = {.path = o->store, .create = true,
                              .map_max = (size_t)o->map_max << 10};
    mtasts_store *s = NULL;
    preload_list l;
    mtasts_err err = {{0}};
    int64_t now = (int64_t)time(NULL);
    int rc = EXIT_TROUBLE;
    mtasts_status st;

    if (a->format && !strcmp(a->format, "eff"))
        fmt = PRELOAD_FORMAT_EFF;
    else if (a->format && !strcmp(a->format, "mtasts"))
        fmt = PRELOAD_FORMAT_MTASTS;
    else if (a->format && strcmp(a->format, "auto") != 0)
        return cli_usage(preload_usage, false);
    if (strlen(src) >= MTASTS_PRELOAD_SOURCE_MAX) {
        cli_error("import: source name too long");
        return EXIT_USAGE;
    }
    snprintf(sigsrc, sizeof sigsrc, "%s.sig", src);
    if (a->signature)
        mtasts_strlcpy(sigsrc, a->signature, sizeof sigsrc);

    /* Local files are read first, with the caller's rights (a root-only
     * keyring or list stays readable); then privileges go, before any
     * network, signature or parsing work. */
    if ((!preload_is_url(src) && !preload_read_local(src, PRELOAD_LIST_MAX_BYTES, &list, &err))
        || (keyfile && !preload_is_url(sigsrc)
            && !preload_read_local(sigsrc, PRELOAD_SIG_MAX_BYTES, &sig, &err))
        || (keyfile && !preload_read_local(keyfile, PRELOAD_KEYRING_MAX_BYTES, &keyring, &err))) {
        /* A missing signature refuses the import like a bad one. */
        cli_error("import refused: %s", err.msg);
        rc = EXIT_NO_POLICY;
        goto out;
    }
    if (!cli_unprivileged(o))
        goto out;
    if ((preload_is_url(src) && !preload_read(src, o, PRELOAD_LIST_MAX_BYTES, &list, &err))
        || (keyfile && preload_is_url(sigsrc)
            && !preload_read(sigsrc, o, PRELOAD_SIG_MAX_BYTES, &sig, &err))) {
        cli_error("import refused: %s", err.msg);
        rc = EXIT_NO_POLICY;
        goto out;
    }
    if (keyfile) {
        st = preload_verify(&list, &sig, &keyring, &err);
        if (st != MTASTS_OK) {
            cli_error("import refused: %s: %s", sigsrc, err.msg);
            rc = st == MTASTS_INVALID ? EXIT_NO_POLICY : EXIT_TROUBLE;
            goto out;
        }
    }
    st = preload_parse(list.data, list.len, fmt, &l, &err);
    if (st != MTASTS_OK) {
        cli_error("import refused: %s: %s", src, err.msg);
        rc = st == MTASTS_INVALID ? EXIT_NO_POLICY : EXIT_TROUBLE;
        goto out;
    }
    if (now >= l.meta.expires_at) {
        char t[32];

        cli_error("import refused: %s: the list expired at %s", src,
                  cli_time(l.meta.expires_at, t));
        preload_list_free(&l);
        rc = EXIT_NO_POLICY;
        goto out;
    }
    l.meta.imported_at = now;
    mtasts_strlcpy(l.meta.source, src, sizeof l.meta.source);
    if ((st = mtasts_store_open(&sc, &s, &err)) == MTASTS_OK && !a->allow_older
        && (st = older_than_stored(s, &l.meta, &err)) == MTASTS_INVALID) {
        cli_error("import refused: %s: %s", src, err.msg);
        rc = EXIT_NO_POLICY;
        goto close;
    }
    if (st == MTASTS_OK)
        st = mtasts_preload_replace(s, &l.meta, (const char *const *)l.domains, l.entries,
                                    l.n, &err);
    if (st == MTASTS_OK) {
        printf("imported %zu domains (%s format%s%s) from %s%s\n", l.n, l.meta.format,
               l.meta.version[0] ? " version " : "", l.meta.version, src,
               keyfile ? ", signature good" : "");
        rc = EXIT_POLICY;
    } else {
        cli_error("import failed, the previous list is kept: %s", err.msg);
        rc = st == MTASTS_INVALID ? EXIT_NO_POLICY : EXIT_TROUBLE;
    }
close:
    mtasts_store_close(&s);
    preload_list_free(&l);
out:
    preload_blob_free(&list);
    preload_blob_free(&sig);
    preload_blob_free(&keyring);
    return rc;
}

/* ------------------------------------------------------------------ */
/* build                                                                */

/* domains_from - one domain per line of path ('#' comments, blank lines) */
static bool domains_from(const char *path, preload_blob *b, char ***out, size_t *n)
{
    mtasts_err err = {{0}};
    char *line, *save = NULL;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (!preload_read_local(path, PRELOAD_LIST_MAX_BYTES, b, &err)) {
        cli_error("--from: %s", err.msg);
        return false;
    }
    for (line = strtok_r(b->data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#'), *end;

        if (hash)
            *hash = '\0';
        line += strspn(line, " \t\r");
        for (end = line + strlen(line); end > line && strchr(" \t\r", end[-1]); end--)
            ;
        *end = '\0';
        if (!*line)
            continue;
        if (*n == cap) {
            char **d = realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof *d);

            if (!d) {
                cli_error("--from: out of memory");
                return false;
            }
            *out = d;
        }
        (*out)[(*n)++] = line;
    }
    return true;
}

static int build(const mtasts_options *o, const preload_args *a, char **names, size_t count)
{
    preload_list l = {0};
    size_t failed = 0, i;
    int64_t now = (int64_t)time(NULL);
    FILE *f = stdout;
    bool ok;

    l.meta.generated_at = now;
    l.meta.expires_at = now + (int64_t)a->valid_days * 86400;
    for (i = 0; i < count; i++) {
        char domain[MTASTS_DOMAIN_MAX + 2];
        mtasts_resolve_result res;
        mtasts_preload_entry e = {0};
        mtasts_record r;
        mtasts_err err = {{0}};
        mtasts_status st;

        if (!cli_domain_arg(names[i], domain)) {
            failed++;
            continue;
        }
        /* The normal engine, TXT checked now: the entry is what the domain
         * publishes today. */
        st = cli_resolve_domain(o, domain, true, 0, false, &r, &res);
        if (st != MTASTS_OK || !r.id[0] || r.policy.mode == MTASTS_MODE_NONE) {
            cli_error("%s: no valid policy (%s%s%s): left out", domain,
                      st == MTASTS_OK ? "mode none" : mtasts_outcome_name(res.outcome),
                      res.reason[0] ? ": " : "", res.reason);
            failed++;
            mtasts_record_free(&r);
            continue;
        }
        e.policy = r.policy;    /* borrowed: preload_list_add copies it */
        memcpy(e.id, r.id, sizeof e.id);
        e.taken_at = r.fetched_at ? r.fetched_at : now;
        e.expires_at = e.taken_at + e.policy.max_age < l.meta.expires_at
                     ? e.taken_at + e.policy.max_age : l.meta.expires_at;
        st = preload_list_add(&l, domain, &e, &err);
        mtasts_record_free(&r);
        if (st != MTASTS_OK) {
            cli_error("%s", err.msg);
            preload_list_free(&l);
            return EXIT_TROUBLE;
        }
    }
    if (a->out && !(f = fopen(a->out, "w"))) {
        cli_error("%s: %s", a->out, strerror(errno));
        preload_list_free(&l);
        return EXIT_TROUBLE;
    }
    ok = preload_write_mtasts(f, &l);
    if (f != stdout)
        ok = fclose(f) == 0 && ok;
    else
        ok = fflush(f) == 0 && ok;
    if (!ok)
        cli_error("%s: write error", a->out ? a->out : "stdout");
    if (failed)
        cli_error("%zu of %zu domains without a valid policy (left out of the list)", failed,
                  count);
    else
        fprintf(stderr, "mtasts: %zu domains, each with a valid policy\n", l.n);
    preload_list_free(&l);
    return !ok ? EXIT_TROUBLE : failed ? EXIT_NO_POLICY : EXIT_POLICY;
}

/* ------------------------------------------------------------------ */

int cmd_preload(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "output", required_argument, NULL, 'o' },
        { "from", required_argument, NULL, 'f' },
        { "valid", required_argument, NULL, 'v' },
        { "format", required_argument, NULL, 'F' },
        { "verify", required_argument, NULL, 'V' },
        { "signature", required_argument, NULL, 'S' },
        { "allow-older", no_argument, NULL, 'A' },
        CLI_SETTINGS_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    preload_args a = {.valid_days = DEFAULT_VALID_DAYS};
    cli_settings_args sa = {0};
    char domain[MTASTS_DOMAIN_MAX + 2];
    mtasts_options o;
    const char *sub;
    int c, nargs;

    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (cli_settings_opt(c, optarg, &sa))
            continue;
        switch (c) {
        case 'j': a.json = true; break;
        case 'o': a.out = optarg; break;
        case 'f': a.from = optarg; break;
        case 'F': a.format = optarg; break;
        case 'V': a.keyring = optarg; break;
        case 'S': a.signature = optarg; break;
        case 'A': a.allow_older = true; break;
        case 'v':
            if (!cli_parse_uint(optarg, MAX_VALID_DAYS, &a.valid_days) || !a.valid_days) {
                cli_error("--valid: 1 to %d days", MAX_VALID_DAYS);
                return EXIT_USAGE;
            }
            break;
        case 'h': return cli_usage(preload_usage, true);
        default: return cli_usage(preload_usage, false);
        }
    }
    if (optind >= argc)
        return cli_usage(preload_usage, false);
    sub = argv[optind];
    nargs = argc - optind - 1;
    if (!cli_load_settings(&sa, &o))
        return EXIT_TROUBLE;

    if (!strcmp(sub, "build")) {
        preload_blob from = {0};
        char **names = argv + optind + 1;
        size_t count = (size_t)nargs;
        int rc;

        if ((a.from != NULL) == (nargs > 0))
            return cli_usage(preload_usage, false);
        if (a.from && !domains_from(a.from, &from, &names, &count)) {
            free(names);
            preload_blob_free(&from);
            return EXIT_USAGE;
        }
        /* Network work: never as root (the policy store is written too). */
        rc = cli_unprivileged(&o) ? build(&o, &a, names, count) : EXIT_TROUBLE;
        if (a.from)
            free(names);
        preload_blob_free(&from);
        return rc;
    }
    if (!strcmp(sub, "import")) {
        const char *src = nargs == 1 ? argv[optind + 1] : o.preload_source;

        if (nargs > 1 || !src[0]) {
            if (!src[0])
                cli_error("import: no FILE or URL, and no preload_source option");
            return cli_usage(preload_usage, false);
        }
        return import(&o, &a, src);
    }
    if (!strcmp(sub, "show") || !strcmp(sub, "remove")) {
        if (nargs != 1)
            return cli_usage(preload_usage, false);
        if (!cli_domain_arg(argv[optind + 1], domain))
            return EXIT_USAGE;
    } else if (strcmp(sub, "list") && strcmp(sub, "clear") && strcmp(sub, "stats")) {
        cli_error("preload: unknown subcommand \"%s\"", sub);
        return cli_usage(preload_usage, false);
    } else if (nargs != 0) {
        return cli_usage(preload_usage, false);
    }
    if (!cli_unprivileged(&o))
        return EXIT_TROUBLE;
    return admin(&o, sub, nargs ? domain : NULL, a.json);
}
