/*
 * test_tlsrpt_store.c - TLSRPT outcomes in the store (tlsrpt_store.h):
 * aggregation per (day, domain, policy), detail-row bounding, the per-day
 * aggregate bound under a flood, expiry, a cache flush keeping them, forked
 * concurrent writers, use across fork(), and that domain iteration, stats
 * and eviction do not see them.
 */
#include "store.h"
#include "tlsrpt_store.h"
#include "unit.h"
#include "store_tmp.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define DAY1 1764720000         /* 2025-12-03 00:00:00 UTC */
#define DAY0 (DAY1 - 86400)     /* 2025-12-02 */

static mtasts_store *open_at(const char *dir)
{
    return open_tmp_store(dir);
}

static mtasts_tlsrpt_outcome sts(const char *domain, int64_t when, const char *result)
{
    return (mtasts_tlsrpt_outcome){
        .when = when, .policy_domain = domain, .type = MTASTS_TLSRPT_STS,
        .policy_string = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400",
        .mx_patterns = "mx.example.com", .mx_host = "mx.example.com",
        .receiving_ip = "192.0.2.1", .sending_ip = "198.51.100.1", .result_type = result,
        .failure_reason_code = result ? "X509_V_ERR" : NULL,
        .additional_info = result ? "certificate has expired" : NULL };
}

/* What a walk saw: every aggregate flattened to one line. */
typedef struct seen {
    int n;
    char lines[64][512];
    uint64_t detail_sum, details;
} seen;

static bool collect(void *ctx, const mtasts_tlsrpt_aggregate *a)
{
    seen *w = ctx;

    if (w->n < 64)
        snprintf(w->lines[w->n], sizeof w->lines[0], "%s %s %s ok=%llu fail=%llu rows=%zu mx=%s",
                 a->day, a->policy_domain, mtasts_tlsrpt_policy_type_name(a->type),
                 (unsigned long long)a->successes, (unsigned long long)a->failures,
                 a->n_details, a->mx_patterns);
    w->n++;
    w->details += a->n_details;
    for (size_t i = 0; i < a->n_details; i++)
        w->detail_sum += a->details[i].count;
    return true;
}

static seen walk(mtasts_store *s, const char *day)
{
    seen w;
    mtasts_err err = {{0}};

    memset(&w, 0, sizeof w);
    CHECK(mtasts_tlsrpt_foreach(s, day, collect, &w, &err) == MTASTS_OK, "foreach: %s", err.msg);
    return w;
}

static void rec(mtasts_store *s, mtasts_tlsrpt_outcome o)
{
    mtasts_err err = {{0}};

    CHECK(mtasts_tlsrpt_record(s, &o, &err) == MTASTS_OK, "record %s: %s", o.policy_domain,
          err.msg);
}

static void test_aggregation(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_at(dir);
    mtasts_tlsrpt_outcome np = { .when = DAY1 + 5, .policy_domain = "Plain.Example.",
                                 .type = MTASTS_TLSRPT_NO_POLICY,
                                 .result_type = "starttls-not-supported" };
    char day[11];
    seen w;

    CHECK(mtasts_tlsrpt_day_of(DAY1 + 86399, day) && !strcmp(day, "2025-12-03"), "day %s", day);
    for (int i = 0; i < 3; i++)
        rec(s, sts("example.com", DAY1 + i, NULL));
    rec(s, sts("example.com", DAY1 + 10, "certificate-expired"));
    rec(s, sts("example.com", DAY1 + 11, "certificate-expired"));
    rec(s, sts("example.com", DAY0 + 11, "certificate-expired"));
    rec(s, np);
    w = walk(s, "2025-12-03");
    CHECK_INT(w.n, 2, "aggregates of the day");
    CHECK_STR(w.lines[0], "2025-12-03 example.com sts ok=3 fail=2 rows=1 mx=mx.example.com",
              "sts aggregate");
    CHECK_STR(w.lines[1], "2025-12-03 plain.example no-policy-found ok=0 fail=1 rows=1 mx=",
              "no-policy aggregate (domain normalised)");
    CHECK_INT(w.detail_sum, 3, "detail counts");
    w = walk(s, NULL);
    CHECK_INT(w.n, 3, "aggregates of every day");
    CHECK_STR(w.lines[0], "2025-12-02 example.com sts ok=0 fail=1 rows=1 mx=mx.example.com",
              "grouped by day first");
    /* Another policy of the same domain is its own aggregate. */
    {
        mtasts_tlsrpt_outcome o = sts("example.com", DAY1, NULL);

        o.mx_patterns = "*.example.com";
        rec(s, o);
        CHECK_INT(walk(s, "2025-12-03").n, 3, "a changed policy starts an aggregate");
    }
    /* Domain iteration and stats do not see outcomes. */
    {
        mtasts_store_stats st;
        mtasts_err err = {{0}};

        CHECK(mtasts_store_stats_get(s, &st, &err) == MTASTS_OK, "stats: %s", err.msg);
        CHECK_INT(st.entries, 0, "domain entries besides outcomes");
    }
    mtasts_store_close(&s);
    rm_tmp(dir);
}

static void test_details_bounded(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_at(dir);
    seen w;

    /* 40 distinct rows of one type, then one row of another type. */
    for (int i = 0; i < 40; i++) {
        char ip[32];
        mtasts_tlsrpt_outcome o = sts("example.com", DAY1, "certificate-expired");

        snprintf(ip, sizeof ip, "192.0.2.%d", i);
        o.receiving_ip = ip;
        rec(s, o);
        if (i % 2)
            rec(s, o);  /* the odd ones twice */
    }
    rec(s, sts("example.com", DAY1, "certificate-host-mismatch"));
    w = walk(s, "2025-12-03");
    CHECK_INT(w.n, 1, "one aggregate");
    CHECK_INT(w.details, MTASTS_TLSRPT_DETAILS_MAX, "detail rows bounded");
    CHECK_INT(w.detail_sum, 61, "rows' counts still sum to the failures");
    CHECK_STR(w.lines[0], "2025-12-03 example.com sts ok=0 fail=61 rows=32 mx=mx.example.com",
              "summary exact");
    mtasts_store_close(&s);
    rm_tmp(dir);
}

static void test_flood_bound(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_at(dir);
    mtasts_err err = {{0}};
    uint64_t aggs, overflow;
    int refused = 0;

    mtasts_tlsrpt_set_aggregates_max(50);
    for (int i = 0; i < 80; i++) {
        char dom[64];
        mtasts_tlsrpt_outcome o = sts(dom, DAY1, NULL);

        snprintf(dom, sizeof dom, "flood%d.example", i);
        refused += mtasts_tlsrpt_record(s, &o, &err) == MTASTS_TEMPFAIL;
    }
    rec(s, sts("flood1.example", DAY1, NULL));     /* existing aggregates still count */
    CHECK_INT(refused, 30, "outcomes beyond the bound refused");
    CHECK_INT(walk(s, "2025-12-03").n, 50, "aggregates bounded");
    CHECK(mtasts_tlsrpt_day_stats(s, "2025-12-03", &aggs, &overflow, &err) == MTASTS_OK,
          "day stats: %s", err.msg);
    CHECK_INT(aggs, 50, "day's aggregates");
    CHECK_INT(overflow, 30, "day's overflow");
    rec(s, sts("flood79.example", DAY1 + 86400, NULL));  /* a new day starts again */
    CHECK_INT(walk(s, "2025-12-04").n, 1, "next day");
    mtasts_tlsrpt_set_aggregates_max(0);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

static void test_expire_and_flush(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_at(dir);
    mtasts_err err = {{0}};
    mtasts_record r;
    uint64_t aggs, overflow;
    pid_t holder;

    rec(s, sts("example.com", DAY0, NULL));
    rec(s, sts("example.com", DAY1, NULL));
    rec(s, sts("example.org", DAY1, "certificate-expired"));
    /* A policy record and a lease: the flush removes those only. */
    mtasts_record_init(&r);
    strcpy(r.id, "");
    CHECK(mtasts_store_put(s, "cached.example", &r, &err) == MTASTS_OK, "put: %s", err.msg);
    CHECK(mtasts_store_lease_acquire(s, "cached.example", DAY1, 60, &holder, &err) == MTASTS_OK,
          "lease: %s", err.msg);
    CHECK(mtasts_store_flush(s, &err) == MTASTS_OK, "flush: %s", err.msg);
    CHECK(mtasts_store_get(s, "cached.example", &r, &err) == MTASTS_NOT_FOUND, "flushed record");
    CHECK(mtasts_store_lease_check(s, "cached.example", DAY1, &holder, &err) == MTASTS_NOT_FOUND,
          "flushed lease");
    CHECK_INT(walk(s, NULL).n, 3, "outcomes survive a flush");
    CHECK(mtasts_tlsrpt_expire(s, "2025-12-03", &err) == MTASTS_OK, "expire: %s", err.msg);
    CHECK_INT(walk(s, NULL).n, 2, "older day expired");
    CHECK_INT(walk(s, "2025-12-03").n, 2, "that day kept");
    CHECK(mtasts_tlsrpt_day_stats(s, "2025-12-02", &aggs, &overflow, &err) == MTASTS_OK
          && aggs == 0, "expired day counter: %llu", (unsigned long long)aggs);
    CHECK(mtasts_tlsrpt_expire(s, "2025-12-2", &err) == MTASTS_INVALID, "bad day refused");
    /* The backstop: a new day's first record drops days older than the bound. */
    rec(s, sts("example.com", DAY1 + 86400 * MTASTS_TLSRPT_KEEP_DAYS_MAX, NULL));
    CHECK_INT(walk(s, NULL).n, 3, "the bound's last day kept");
    rec(s, sts("example.com", DAY1 + 86400 * (MTASTS_TLSRPT_KEEP_DAYS_MAX + 1), NULL));
    CHECK_INT(walk(s, NULL).n, 2, "days past the bound dropped by a new day");
    mtasts_store_close(&s);
    rm_tmp(dir);
}

static void note(void *ctx, const char *msg)
{
    if (strstr(msg, "evicted"))
        ++*(int *)ctx;
}

/* Eviction at map_max frees domain records, never outcomes; stats count
 * domain records only. */
static void test_eviction_spares_outcomes(void)
{
    char *dir = mkdir_tmp(), name[64];
    int evictions = 0, fails = 0;
    mtasts_store_config cfg = { .path = dir, .create = true, .map_initial = 64 << 10,
                                .map_max = 256 << 10, .notify = note, .notify_ctx = &evictions };
    mtasts_store *s = NULL;
    mtasts_store_stats st;
    mtasts_err err = {{0}};
    mtasts_record r;

    CHECK(mtasts_store_open(&cfg, &s, &err) == MTASTS_OK, "open: %s", err.msg);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "o%02d.example", i);
        rec(s, sts(name, DAY1, i % 2 ? "certificate-expired" : NULL));
    }
    static const char policy[] = "version: STSv1\nmode: enforce\nmx: mx.example.net\n"
                                 "max_age: 86400\n";

    for (unsigned i = 0; i < 4000 && !evictions; i++) {
        mtasts_record_init(&r);
        fails += mtasts_policy_parse(policy, sizeof policy - 1, &r.policy, &err) != MTASTS_OK;
        snprintf(r.id, sizeof r.id, "id%u", i);
        r.fetched_at = r.last_used = 1700000000 + i;
        r.expires_at = r.fetched_at + 86400;
        snprintf(name, sizeof name, "d%08x.example", i * 2654435761u);
        fails += mtasts_store_put(s, name, &r, &err) != MTASTS_OK;
        mtasts_record_free(&r);
    }
    CHECK(evictions > 0, "the map filled up and evicted");
    CHECK_INT(fails, 0, "puts");
    CHECK_INT(walk(s, "2025-12-03").n, 20, "every outcome survives eviction");
    CHECK(mtasts_store_stats_get(s, &st, &err) == MTASTS_OK && st.entries > 0
          && st.entries < 4000, "stats count domains only: %zu", st.entries);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

/* Writers in several processes at once, and a handle used across fork(). */
static void test_concurrency(void)
{
    enum { WRITERS = 4, EACH = 100 };
    char *dir = mkdir_tmp();
    mtasts_store *s = open_at(dir);
    int ok = 0, status;
    seen w;

    rec(s, sts("example.com", DAY1, NULL));     /* opened and used before fork */
    for (int i = 0; i < WRITERS; i++) {
        pid_t pid = fork();

        if (pid == 0) {
            mtasts_err err = {{0}};
            int bad = 0;

            for (int j = 0; j < EACH; j++) {
                mtasts_tlsrpt_outcome o = sts("example.com", DAY1 + j,
                                              j % 4 ? NULL : "certificate-expired");

                bad += mtasts_tlsrpt_record(s, &o, &err) != MTASTS_OK;
            }
            mtasts_store_close(&s);
            _exit(bad ? 1 : 0);
        }
        CHECK(pid > 0, "fork");
    }
    while (wait(&status) > 0)
        ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK_INT(ok, WRITERS, "writers without error");
    w = walk(s, "2025-12-03");
    CHECK_STR(w.lines[0], "2025-12-03 example.com sts ok=301 fail=100 rows=1 mx=mx.example.com",
              "no update lost");
    mtasts_store_close(&s);
    rm_tmp(dir);
}

int main(void)
{
    test_aggregation();
    test_details_bounded();
    test_flood_bound();
    test_expire_and_flush();
    test_concurrency();
    test_eviction_spares_outcomes();
    return UNIT_DONE("tlsrpt_store");
}
