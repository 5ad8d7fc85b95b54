/*
 * test_resolve.c - RFC 8461 5.1 decision flow and 3.3 backoff, with scripted
 * DNS and HTTPS answers (the real ones are exercised in the test world).
 */
#include "resolve.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

typedef struct script {
    mtasts_status txt;       /* what the TXT lookup answers */
    const char *id;
    mtasts_status fetch;     /* what the fetch answers */
    const char *policy;      /* body parsed on fetch OK */
    int txt_calls, fetch_calls;
} script;

static mtasts_status fake_txt(void *ctx, const char *domain, char id[MTASTS_ID_MAX + 1],
                              mtasts_err *err)
{
    script *s = ctx;
    (void)domain;
    s->txt_calls++;
    snprintf(id, MTASTS_ID_MAX + 1, "%s", s->txt == MTASTS_OK ? s->id : "");
    if (s->txt != MTASTS_OK)
        mtasts_errf(err, "scripted txt %s", mtasts_status_name(s->txt));
    return s->txt;
}

static mtasts_status fake_fetch(void *ctx, const char *domain, mtasts_policy *out,
                                mtasts_err *err)
{
    script *s = ctx;
    (void)domain;
    s->fetch_calls++;
    if (s->fetch != MTASTS_OK) {
        mtasts_errf(err, "HTTP 404");
        return s->fetch;
    }
    return mtasts_policy_parse(s->policy, strlen(s->policy), out, err);
}

static const char *ENFORCE =
    "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n";
static const char *TESTING =
    "version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 600\n";

static script sc;
static mtasts_resolve_ops ops = { fake_txt, fake_fetch, &sc };
static mtasts_resolve_config cfg = { .txt_recheck_interval = 3600 };
static mtasts_resolve_result last;   /* the latest step's result */

/* step - run one resolve at time now and check status, outcome, calls */
static void step(const char *what, mtasts_record *r, int64_t now, mtasts_status want_st,
                 mtasts_outcome want_o, int want_txt, int want_fetch)
{
    mtasts_resolve_result res;
    int t0 = sc.txt_calls, f0 = sc.fetch_calls;
    mtasts_status st = mtasts_resolve(r, "example.com", now, &cfg, &ops, &res);
    char buf[128];

    last = res;
    snprintf(buf, sizeof buf, "%s: status", what);
    CHECK_INT(st, want_st, buf);
    snprintf(buf, sizeof buf, "%s: outcome", what);
    CHECK_STR(mtasts_outcome_name(res.outcome), mtasts_outcome_name(want_o), buf);
    snprintf(buf, sizeof buf, "%s: TXT lookups", what);
    CHECK_INT(sc.txt_calls - t0, want_txt, buf);
    snprintf(buf, sizeof buf, "%s: fetches", what);
    CHECK_INT(sc.fetch_calls - f0, want_fetch, buf);
}

int main(void)
{
    mtasts_record r;
    const int64_t T = 1000000;

    /* 5.1: first contact, policy advertised -> fetched and applied. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "id1", MTASTS_OK, ENFORCE, 0, 0 };
    step("first contact", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_STR(r.id, "id1", "first contact: id stored");
    CHECK_INT(r.expires_at, T + 86400, "5.1: expires at fetch + max_age");

    /* Hot path: within the recheck interval, no network. */
    step("fresh cache", &r, T + 10, MTASTS_OK, MTASTS_OUTCOME_CACHED, 0, 0);
    CHECK(mtasts_resolve_cache_answers(&r, T + 3599, &cfg), "cache answers before recheck");
    CHECK(!mtasts_resolve_cache_answers(&r, T + 3600, &cfg), "recheck due after interval");

    /* 5.1: same id after the interval -> confirmed, no fetch. */
    step("same id", &r, T + 4000, MTASTS_OK, MTASTS_OUTCOME_CONFIRMED, 1, 0);

    /* 5.1: TXT removed while cached -> keep the cached policy. */
    sc.txt = MTASTS_NOT_FOUND;
    step("TXT removed", &r, T + 8000, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 0);
    CHECK_INT(r.policy.mode, MTASTS_MODE_ENFORCE, "TXT removed: still enforce");

    /* DNS SERVFAIL with a cache -> keep; rechecked after the backoff minimum. */
    sc.txt = MTASTS_TEMPFAIL;
    step("TXT SERVFAIL", &r, T + 12000, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 0);
    CHECK_INT(r.next_check_at, T + 12000 + 300, "tempfail: next DNS check in 300 s");

    /* New id, fetch fails -> never downgrade: keep enforce, back off 3.3. */
    sc.txt = MTASTS_OK; sc.id = "id2"; sc.fetch = MTASTS_FETCH_FAILED;
    step("new id, fetch fails", &r, T + 13000, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 1);
    CHECK_STR(r.id, "id1", "fetch fails: old id kept");
    CHECK_STR(r.backoff_id, "id2", "fetch fails: backoff on the new id");
    CHECK_INT(r.backoff_until, T + 13000 + 300, "3.3: backoff at least 5 minutes");
    CHECK(strstr(r.last_error, "HTTP 404") != NULL, "fetch fails: reason kept (%s)", r.last_error);

    /* Within the backoff: no refetch of id2 even when forced to check. */
    cfg.force_check = true;
    step("backoff", &r, T + 13100, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 0);
    CHECK(last.backoff, "backoff with a cache: reported as backoff");
    /* Second failure doubles the backoff. */
    step("retry after backoff", &r, T + 13400, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 1);
    CHECK(!last.backoff, "after the backoff: a fetch, not backoff");
    CHECK_INT(r.failures, 2, "second failure counted");
    CHECK_INT(r.backoff_until, T + 13400 + 600, "backoff doubles");
    /* The server recovers: new policy replaces the old one. */
    sc.fetch = MTASTS_OK; sc.policy = TESTING;
    step("recovered", &r, T + 14100, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_STR(r.id, "id2", "recovered: new id");
    CHECK_INT(r.policy.mode, MTASTS_MODE_TESTING, "recovered: new mode");
    CHECK_INT(r.failures, 0, "recovered: failures reset");
    cfg.force_check = false;

    /* Expiry (max_age 600): an expired policy is dropped, never used. */
    sc.txt = MTASTS_NOT_FOUND;
    step("expired, TXT gone", &r, T + 14100 + 601, MTASTS_NOT_FOUND,
         MTASTS_OUTCOME_NO_POLICY, 1, 0);
    CHECK_STR(r.id, "", "expired: policy dropped");
    /* Negative caching: no policy is answered from the record, no network. */
    step("negative cache", &r, T + 14100 + 700, MTASTS_NOT_FOUND,
         MTASTS_OUTCOME_CACHED, 0, 0);
    mtasts_record_free(&r);

    /* No cache and the fetch fails -> no policy with the reason. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "id9", MTASTS_FETCH_FAILED, NULL, 0, 0 };
    step("no cache, fetch fails", &r, T, MTASTS_NOT_FOUND, MTASTS_OUTCOME_FAILED, 1, 1);
    /* Recheck after the interval: same id still in backoff -> no fetch. */
    cfg.force_check = true;
    step("no cache, backoff", &r, T + 100, MTASTS_NOT_FOUND, MTASTS_OUTCOME_BACKOFF, 1, 0);
    CHECK(last.backoff, "backoff without a cache: reported as backoff");
    cfg.force_check = false;
    mtasts_record_free(&r);

    /* No cache and DNS tempfail -> distinct outcome, no policy. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_TEMPFAIL, NULL, MTASTS_OK, ENFORCE, 0, 0 };
    step("no cache, SERVFAIL", &r, T, MTASTS_NOT_FOUND, MTASTS_OUTCOME_DNS_TEMPFAIL, 1, 0);
    /* Invalid TXT (e.g. two records) with no cache -> no policy. */
    sc.txt = MTASTS_INVALID;
    cfg.force_check = true;
    step("invalid TXT", &r, T + 1, MTASTS_NOT_FOUND, MTASTS_OUTCOME_NO_POLICY, 1, 0);
    cfg.force_check = false;
    mtasts_record_free(&r);

    /* max_age 0: good for the answer that fetched it only. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "z", MTASTS_OK,
                   "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 0\n", 0, 0 };
    step("max_age 0", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    step("max_age 0, next lookup", &r, T + 1, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    mtasts_record_free(&r);

    /* 10.2: proactive refresh refetches an unchanged id near expiry. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "p", MTASTS_OK, ENFORCE, 0, 0 };
    step("refresh: fetch", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    cfg.force_check = true; cfg.refetch_within = 3600;
    step("refresh: far from expiry", &r, T + 1000, MTASTS_OK, MTASTS_OUTCOME_CONFIRMED, 1, 0);
    step("refresh: near expiry", &r, T + 86400 - 100, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_INT(r.expires_at, T + 86400 - 100 + 86400, "refresh: expiry extended");
    cfg.force_check = false; cfg.refetch_within = 0;
    mtasts_record_free(&r);

    return UNIT_DONE("resolve");
}
