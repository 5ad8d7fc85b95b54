/*
 * test_preload_store.c - the preload list in the policy store (preload.h):
 * entry encoding, atomic replace, get/lookup/remove/clear/foreach/meta,
 * expiry, separation from domain records (foreach, stats, eviction), and
 * the EFF ".suffix" mx kind (policy.h, mx_match.h).
 */
#include "mx_match.h"
#include "policy.h"
#include "preload.h"
#include "store.h"
#include "store_tmp.h"
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

static mtasts_store *open_store(const char *dir, size_t map_max)
{
    mtasts_store_config cfg = {.path = dir, .create = true, .map_initial = 64 << 10,
                               .map_max = map_max};
    mtasts_store *s = NULL;
    mtasts_err err = {{0}};

    if (mtasts_store_open(&cfg, &s, &err) != MTASTS_OK) {
        printf("cannot open store %s: %s\n", dir, err.msg);
        exit(2);
    }
    return s;
}

/* make_entry - an entry with the given patterns (suffix kind allowed) */
static void make_entry(mtasts_preload_entry *e, mtasts_mode mode, const char *id,
                       const char *const *mx, size_t n, int64_t taken, int64_t expires)
{
    size_t lens[8];
    mtasts_err err = {{0}};

    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(mx[i]);
    if (mtasts_policy_build_preload(&e->policy, mode, 86400, mx, lens, n, &err) != MTASTS_OK) {
        printf("bad test entry: %s\n", err.msg);
        exit(2);
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    e->taken_at = taken;
    e->expires_at = expires;
}

static void test_suffix_kind(void)
{
    static const char *const mx[] = {".example.org", "*.mx.example.net", "mx.example.com"};
    size_t lens[] = {12, 16, 14};
    mtasts_policy p;
    mtasts_err err = {{0}};
    char rx[256];

    CHECK_INT(mtasts_policy_build_preload(&p, MTASTS_MODE_ENFORCE, 60, mx, lens, 3, &err),
              MTASTS_OK, err.msg);
    CHECK_INT(mtasts_mx_match_policy(&p, "a.example.org"), 0, "one label below .suffix");
    CHECK_INT(mtasts_mx_match_policy(&p, "a.b.c.example.org"), 0, "any depth below .suffix");
    CHECK_INT(mtasts_mx_match_policy(&p, "example.org"), -1, ".suffix never the name itself");
    CHECK_INT(mtasts_mx_match_policy(&p, "xexample.org"), -1, ".suffix is label-aligned");
    CHECK_INT(mtasts_mx_match_policy(&p, "a.b.mx.example.net"), -1, "*. stays one label");
    CHECK_INT(mtasts_mx_exim_regexes(&p, rx, sizeof rx), MTASTS_OK, "regexes");
    CHECK_STR(rx, "^.+[.]example[.]org$ : ^[^.]+[.]mx[.]example[.]net$ : "
                  "^mx[.]example[.]com$", "Exim regexes");
    mtasts_policy_free(&p);
    /* A fetched policy never holds the kind: the RFC 8461 parser and the
     * record builder refuse it. */
    CHECK_INT(mtasts_policy_build(&p, MTASTS_MODE_ENFORCE, 60, mx, lens, 1, &err),
              MTASTS_INVALID, "policy_build refuses .suffix");
    CHECK_INT(mtasts_policy_parse("version: STSv1\nmode: enforce\nmx: .example.org\n"
                                  "max_age: 60\n", 57, &p, &err),
              MTASTS_INVALID, "policy file refuses .suffix");
    {
        static const char *const bad[] = {".", "..x", ".-x"};

        for (size_t i = 0; i < 3; i++) {
            size_t l = strlen(bad[i]);

            mtasts_err_clear(&err);
            CHECK(mtasts_policy_build_preload(&p, MTASTS_MODE_ENFORCE, 60, &bad[i], &l, 1, &err)
                  == MTASTS_INVALID, "refused: \"%s\"", bad[i]);
        }
    }
}

static void test_encoding(void)
{
    static const char *const mx[] = {"mx1.example.com", ".example.net"};
    mtasts_preload_entry e, d;
    mtasts_err err = {{0}};
    char buf[MTASTS_PRELOAD_ENTRY_MAX];
    size_t len, cut, ok = 0;

    make_entry(&e, MTASTS_MODE_TESTING, "id2026", mx, 2, 1700000000, 1800000000);
    CHECK_INT(mtasts_preload_entry_encode(&e, buf, sizeof buf, &len, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_preload_entry_decode(buf, len, &d, &err), MTASTS_OK, err.msg);
    CHECK_INT(d.policy.mode, MTASTS_MODE_TESTING, "mode");
    CHECK_INT(d.policy.max_age, 86400, "max_age");
    CHECK_INT(d.policy.n_mx, 2, "n_mx");
    CHECK_STR(d.policy.mx[1], ".example.net", "suffix kind kept");
    CHECK_STR(d.id, "id2026", "id");
    CHECK_INT(d.taken_at, 1700000000, "taken_at");
    CHECK_INT(d.expires_at, 1800000000, "expires_at");
    mtasts_preload_entry_free(&d);
    /* Every truncation fails cleanly or decodes a shorter valid entry. */
    for (cut = 0; cut < len; cut++) {
        if (mtasts_preload_entry_decode(buf, cut, &d, NULL) == MTASTS_OK) {
            ok++;
            CHECK(d.policy.n_mx < 2, "a cut entry lost patterns (cut %zu)", cut);
            mtasts_preload_entry_free(&d);
        }
    }
    CHECK_INT(ok, 1, "only the cut after the first pattern line decodes");
    {
        static const char *const bad[] = {
            "P2 2 60 1 2 x\nmx.example\n",       /* unknown version */
            "P1 3 60 1 2 x\nmx.example\n",       /* mode out of range */
            "P1 2 99999999999 1 2 x\nmx.example\n", /* max_age above the cap */
            "P1 2 60 1 2 x-y\nmx.example\n",     /* id not alphanumeric */
            "P1 2 60 1 2 123456789012345678901234567890123\nmx.example\n", /* 33 */
            "P1 2 60 1 2 x\nmx..example\n",      /* bad pattern */
            "P1 2 60 1 2 x\n\n",                 /* empty pattern line */
            "P1 2 60 1 x\nmx.example\n",         /* a field missing */
            "P1 2 60 1 2 x\nmx.example",         /* unterminated */
            "P1 2 60 1 2 x\n",                   /* enforce without mx */
            "P1 2 60 1 2 \nmx.example\n",        /* empty id */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            CHECK(mtasts_preload_entry_decode(bad[i], strlen(bad[i]), &d, NULL) != MTASTS_OK,
                  "refused: %s", bad[i]);
    }
    CHECK_INT(mtasts_preload_entry_encode(&e, buf, 20, &len, &err), MTASTS_INVALID,
              "small buffer refused");
    mtasts_preload_entry_free(&e);
}

typedef struct seen {
    char names[8][64];
    size_t n;
} seen;

static bool collect(void *ctx, const char *domain, const mtasts_preload_entry *e)
{
    seen *s = ctx;

    (void)e;
    if (s->n < 8)
        snprintf(s->names[s->n], sizeof s->names[0], "%s", domain);
    s->n++;
    return true;
}

static bool count_domain(void *ctx, const char *domain, const mtasts_record *r)
{
    (void)domain; (void)r;
    ++*(size_t *)ctx;
    return true;
}

static void test_replace(void)
{
    static const char *const mx[] = {"mx.example.com"};
    char *dir = mkdir_tmp();
    mtasts_store *s = open_store(dir, 0);
    const char *first[] = {"b.example", "A.Example."}, *second[] = {"c.example"};
    const char *dup[] = {"d.example", "D.example"};
    mtasts_preload_entry e[2], g;
    mtasts_preload_meta m = {.format = "eff", .version = "0.1", .source = "/x/list.json",
                             .generated_at = 1700000000, .expires_at = 1900000000};
    mtasts_store_stats st;
    mtasts_record r;
    mtasts_err err = {{0}};
    seen sn = {0};
    size_t domains = 0, skipped = 9;

    make_entry(&e[0], MTASTS_MODE_ENFORCE, "", mx, 1, 1700000000, 1900000000);
    make_entry(&e[1], MTASTS_MODE_TESTING, "x1", mx, 1, 1700000000, 1750000000);
    CHECK_INT(mtasts_preload_meta_get(s, &m, &err), MTASTS_NOT_FOUND, "no list yet");
    m = (mtasts_preload_meta){.format = "eff", .version = "0.1", .source = "/x/list.json",
                              .generated_at = 1700000000, .expires_at = 1900000000};
    CHECK_INT(mtasts_preload_replace(s, &m, first, e, 2, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_preload_get(s, "a.example", 1700000001, &g, &err), MTASTS_OK,
              "normalised key found");
    CHECK_INT(g.policy.mode, MTASTS_MODE_TESTING, "a.example's entry");
    mtasts_preload_entry_free(&g);
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_preload_get(s, "a.example", 1760000000, &g, &err), MTASTS_NOT_FOUND,
              "expired entry not found");
    CHECK(strstr(err.msg, "expired") != NULL, "err says expired: %s", err.msg);
    CHECK_INT(mtasts_preload_lookup(s, "a.example", &g, &err), MTASTS_OK,
              "lookup shows expired entries");
    mtasts_preload_entry_free(&g);
    CHECK_INT(mtasts_preload_get(s, "z.example", 1700000001, &g, &err), MTASTS_NOT_FOUND,
              "unlisted");
    CHECK_INT(mtasts_preload_meta_get(s, &m, &err), MTASTS_OK, "meta");
    CHECK_STR(m.format, "eff", "meta format");
    CHECK_STR(m.source, "/x/list.json", "meta source");
    CHECK_INT(m.entries, 2, "meta entries");
    CHECK_INT(m.expires_at, 1900000000, "meta expires");
    CHECK_INT(mtasts_preload_foreach(s, collect, &sn, &skipped, &err), MTASTS_OK, "foreach");
    CHECK_INT(sn.n, 2, "foreach sees the entries, not the meta");
    CHECK_STR(sn.names[0], "a.example", "foreach in key order");
    CHECK_INT(skipped, 0, "nothing skipped");

    /* Domain records and preload entries do not see each other. */
    mtasts_record_init(&r);
    CHECK_INT(mtasts_store_put(s, "b.example", &r, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_store_foreach(s, count_domain, &domains, &err), MTASTS_OK, "foreach");
    CHECK_INT(domains, 1, "domain foreach sees no preload key");
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
    CHECK_INT(st.entries, 1, "domain stats count no preload key");

    /* A failed import (a domain twice) leaves the old list whole. */
    CHECK_INT(mtasts_preload_replace(s, &m, dup, e, 2, &err), MTASTS_INVALID, "duplicate");
    CHECK_INT(mtasts_preload_get(s, "b.example", 1700000001, &g, &err), MTASTS_OK,
              "old list kept after a failed import");
    mtasts_preload_entry_free(&g);
    CHECK_INT(mtasts_preload_get(s, "d.example", 1700000001, &g, &err), MTASTS_NOT_FOUND,
              "nothing of the failed list");

    /* The next import replaces the whole list. */
    m.entries = 0;
    mtasts_strlcpy(m.format, "mtasts", sizeof m.format);
    CHECK_INT(mtasts_preload_replace(s, &m, second, e, 1, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_preload_get(s, "b.example", 1700000001, &g, &err), MTASTS_NOT_FOUND,
              "old entry gone");
    CHECK_INT(mtasts_preload_get(s, "c.example", 1700000001, &g, &err), MTASTS_OK, "new");
    mtasts_preload_entry_free(&g);
    CHECK_INT(mtasts_preload_meta_get(s, &m, &err), MTASTS_OK, "meta");
    CHECK_INT(m.entries, 1, "meta follows the new list");
    CHECK_INT(mtasts_store_get(s, "b.example", &r, &err), MTASTS_OK, "domain record kept");
    mtasts_record_free(&r);

    CHECK_INT(mtasts_preload_remove(s, "c.example", &err), MTASTS_OK, "remove");
    CHECK_INT(mtasts_preload_remove(s, "c.example", &err), MTASTS_NOT_FOUND, "removed");
    CHECK_INT(mtasts_preload_replace(s, &m, first, e, 2, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_preload_clear(s, &err), MTASTS_OK, "clear");
    sn.n = 0;
    CHECK_INT(mtasts_preload_foreach(s, collect, &sn, NULL, &err), MTASTS_OK, "foreach");
    CHECK_INT(sn.n, 0, "cleared");
    CHECK_INT(mtasts_preload_meta_get(s, &m, &err), MTASTS_NOT_FOUND, "meta cleared");
    CHECK_INT(mtasts_store_get(s, "b.example", &r, &err), MTASTS_OK, "clear keeps domains");
    mtasts_record_free(&r);
    mtasts_preload_entry_free(&e[0]);
    mtasts_preload_entry_free(&e[1]);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

/* Filling a small map until it evicts never drops a preload entry. */
static void test_eviction_spares_list(void)
{
    static const char *const mx[] = {"mx.example.com"};
    char *dir = mkdir_tmp(), names[40][32], name[64];
    const char *domains[40];
    mtasts_store *s = open_store(dir, 256 << 10);
    mtasts_preload_entry e[40];
    mtasts_preload_meta m = {.format = "mtasts", .expires_at = 1900000000};
    mtasts_store_stats st;
    mtasts_policy p;
    mtasts_err err = {{0}};
    seen sn = {0};
    size_t i, before = 0;
    const char *body = "version: STSv1\nmode: enforce\nmx: mx1.example.net\nmax_age: 604800\n";

    for (i = 0; i < 40; i++) {
        /* Names that sort among the domain records if prefixes were lost. */
        snprintf(names[i], sizeof names[i], "d%02zu.example", i);
        domains[i] = names[i];
        make_entry(&e[i], MTASTS_MODE_ENFORCE, "", mx, 1, 1700000000, 1900000000);
    }
    CHECK_INT(mtasts_preload_replace(s, &m, domains, e, 40, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_policy_parse(body, strlen(body), &p, &err), MTASTS_OK, err.msg);
    for (i = 0; i < 5000; i++) {
        mtasts_record r;

        mtasts_record_init(&r);
        r.policy = p;
        snprintf(r.id, sizeof r.id, "id%zu", i);
        r.fetched_at = r.last_used = 1700000000 + (int64_t)i;
        r.expires_at = r.fetched_at + 604800;
        snprintf(name, sizeof name, "d%08zx.example", i * 2654435761u);
        mtasts_store_put(s, name, &r, &err);
        if (i == 100) {
            CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
            before = st.entries;
        }
    }
    mtasts_policy_free(&p);
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
    CHECK(before == 101 && st.entries < 5000, "records were evicted: %zu of 5000 kept "
          "(%zu at 101)", st.entries, before);
    CHECK_INT(mtasts_preload_foreach(s, collect, &sn, NULL, &err), MTASTS_OK, "foreach");
    CHECK_INT(sn.n, 40, "every preload entry survives eviction");
    for (i = 0; i < 40; i++)
        mtasts_preload_entry_free(&e[i]);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

int main(void)
{
    test_suffix_kind();
    test_encoding();
    test_replace();
    test_eviction_spares_list();
    return UNIT_DONE("preload_store");
}
