/*
 * test_resolve.c - RFC 8461 5.1 decision flow and 3.3 backoff, with scripted
 * DNS and HTTPS answers (the real ones are exercised in the test world).
 */
#include "resolve.h"
#include "resolve_script.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

static const char *ENFORCE =
    "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n";
static const char *TESTING =
    "version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 600\n";

static script sc;
static mtasts_resolve_ops ops = { fake_txt, fake_fetch, &sc };
static mtasts_resolve_config cfg = { .txt_recheck_interval = 3600,
                                      .max_age_floor = MTASTS_MAX_AGE_FLOOR };
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

    /* Expiry (max_age 600, cached for the 3600 s floor): an expired policy
     * is dropped, never used. */
    CHECK_INT(r.expires_at, T + 14100 + 3600, "max_age 600: cached for the floor");
    sc.txt = MTASTS_NOT_FOUND;
    step("expired, TXT gone", &r, T + 14100 + 3601, MTASTS_NOT_FOUND,
         MTASTS_OUTCOME_NO_POLICY, 1, 0);
    CHECK_STR(r.id, "", "expired: policy dropped");
    /* Negative caching: no policy is answered from the record, no network. */
    step("negative cache", &r, T + 14100 + 3700, MTASTS_NOT_FOUND,
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

    /* max_age 0: cached for the floor (resolve.h), not refetched for every
     * delivery; max_age itself is kept as published. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "z", MTASTS_OK,
                   "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 0\n", 0, 0 };
    step("max_age 0", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_INT(r.expires_at, T + MTASTS_MAX_AGE_FLOOR, "max_age 0: expires after the floor");
    CHECK_INT(r.policy.max_age, 0, "max_age 0: published value kept");
    step("max_age 0, next lookup", &r, T + 1, MTASTS_OK, MTASTS_OUTCOME_CACHED, 0, 0);
    step("max_age 0, after the floor", &r, T + MTASTS_MAX_AGE_FLOOR + 1, MTASTS_OK,
         MTASTS_OUTCOME_FETCHED, 1, 1);
    /* The floor is an option: 0 honours max_age 0 literally. */
    cfg.max_age_floor = 0;
    step("max_age 0, no floor", &r, T + 2 * MTASTS_MAX_AGE_FLOOR + 2, MTASTS_OK,
         MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_INT(r.expires_at, T + 2 * MTASTS_MAX_AGE_FLOOR + 2, "no floor: expires at once");
    step("max_age 0, no floor, next lookup", &r, T + 2 * MTASTS_MAX_AGE_FLOOR + 3, MTASTS_OK,
         MTASTS_OUTCOME_FETCHED, 1, 1);
    cfg.max_age_floor = MTASTS_MAX_AGE_FLOOR;
    mtasts_record_free(&r);

    /* 3.3 backoff drives the next attempt: after a failed first-contact
     * fetch the record's next check is the end of the backoff, not a whole
     * recheck interval later (the store's times). */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "b1", MTASTS_FETCH_FAILED, NULL, 0, 0 };
    step("backoff: first contact fails", &r, T, MTASTS_NOT_FOUND, MTASTS_OUTCOME_FAILED, 1, 1);
    CHECK_INT(r.backoff_until, T + 300, "backoff: 300 s");
    CHECK_INT(r.next_check_at, T + 300, "backoff: next check when the backoff ends");
    step("backoff: before its end, cached no-policy", &r, T + 299, MTASTS_NOT_FOUND,
         MTASTS_OUTCOME_CACHED, 0, 0);
    step("backoff: at its end, tried again", &r, T + 300, MTASTS_NOT_FOUND,
         MTASTS_OUTCOME_FAILED, 1, 1);
    CHECK_INT(r.backoff_until, T + 300 + 600, "backoff: doubled");
    CHECK_INT(r.next_check_at, T + 300 + 600, "backoff: next check follows it");
    sc.fetch = MTASTS_OK; sc.policy = ENFORCE;
    step("backoff: recovered after it", &r, T + 900, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_INT(r.next_check_at, T + 900 + 3600, "recovered: normal recheck interval");
    mtasts_record_free(&r);
    /* A backoff longer than the recheck interval does not stretch the check. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "b2", MTASTS_FETCH_FAILED, NULL, 0, 0 };
    cfg.backoff_min = 7200;
    step("long backoff", &r, T, MTASTS_NOT_FOUND, MTASTS_OUTCOME_FAILED, 1, 1);
    CHECK_INT(r.next_check_at, T + 3600, "long backoff: next check after the interval");
    step("long backoff: TXT rechecked, fetch skipped", &r, T + 3600, MTASTS_NOT_FOUND,
         MTASTS_OUTCOME_BACKOFF, 1, 0);
    CHECK_INT(r.next_check_at, T + 7200, "long backoff: then its end");
    cfg.backoff_min = 0;
    mtasts_record_free(&r);

    /* 10.2 under attack: the TXT lookup fails (blocked, NXDOMAIN, SERVFAIL)
     * while a policy is cached: the refresher fetches the policy anyway. */
    {
        static const mtasts_status txt_trouble[] = { MTASTS_TEMPFAIL, MTASTS_NOT_FOUND,
                                                     MTASTS_INVALID };
        for (size_t i = 0; i < sizeof txt_trouble / sizeof txt_trouble[0]; i++) {
            char what[96];

            mtasts_record_init(&r);
            sc = (script){ MTASTS_OK, "a1", MTASTS_OK, ENFORCE, 0, 0 };
            step("TXT blocked: first fetch", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
            sc.txt = txt_trouble[i];
            cfg.force_check = true; cfg.refetch_within = 86400;
            snprintf(what, sizeof what, "TXT %s + HTTPS fine: refreshed",
                     mtasts_status_name(txt_trouble[i]));
            step(what, &r, T + 3600, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
            CHECK_INT(r.expires_at, T + 3600 + 86400, "TXT blocked: expiry extended");
            CHECK_STR(r.id, "a1", "TXT blocked: cached id kept");
            CHECK(strstr(last.reason, "scripted txt") != NULL,
                  "TXT blocked: the TXT trouble is the reason (%s)", last.reason);
            /* Now HTTPS is blocked too: kept until expiry, then gone. */
            sc.fetch = MTASTS_FETCH_FAILED;
            step("TXT + HTTPS blocked: kept", &r, T + 7200, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 1);
            CHECK_INT(r.expires_at, T + 3600 + 86400, "both blocked: expiry unchanged");
            CHECK_STR(r.backoff_id, "a1", "both blocked: backoff on the cached id");
            CHECK(strstr(r.last_error, "HTTP 404") && strstr(r.last_error, "scripted txt"),
                  "both blocked: both reasons kept (%s)", r.last_error);
            step("both blocked: backoff", &r, T + 7300, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 0);
            CHECK(last.backoff, "both blocked: the refetch follows the backoff");
            step("both blocked: still kept before expiry", &r, T + 3600 + 86399, MTASTS_OK,
                 MTASTS_OUTCOME_KEPT, 1, 1);
            step("both blocked: gone after expiry", &r, T + 3600 + 86401, MTASTS_NOT_FOUND,
                 txt_trouble[i] == MTASTS_TEMPFAIL ? MTASTS_OUTCOME_DNS_TEMPFAIL
                                                   : MTASTS_OUTCOME_NO_POLICY, 1, 0);
            CHECK_STR(r.id, "", "both blocked: policy dropped at expiry");
            cfg.force_check = false; cfg.refetch_within = 0;
            mtasts_record_free(&r);
        }
    }
    /* A lookup (no refresher) refetches once half the lifetime is over. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "h1", MTASTS_OK, ENFORCE, 0, 0 };
    step("lookup: fetch", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    sc.txt = MTASTS_TEMPFAIL;
    step("lookup: TXT fails early in the lifetime", &r, T + 3600, MTASTS_OK,
         MTASTS_OUTCOME_KEPT, 1, 0);
    step("lookup: TXT fails past half the lifetime", &r, T + 43200, MTASTS_OK,
         MTASTS_OUTCOME_FETCHED, 1, 1);
    CHECK_INT(r.expires_at, T + 43200 + 86400, "lookup: expiry extended");
    mtasts_record_free(&r);
    /* Mode none (8.3 removal) is not fetched when its TXT is gone. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "n1", MTASTS_OK,
                   "version: STSv1\nmode: none\nmax_age: 86400\n", 0, 0 };
    step("none: fetch", &r, T, MTASTS_OK, MTASTS_OUTCOME_FETCHED, 1, 1);
    sc.txt = MTASTS_NOT_FOUND;
    cfg.force_check = true; cfg.refetch_within = 86400;
    step("none: TXT removed, not fetched", &r, T + 3600, MTASTS_OK, MTASTS_OUTCOME_KEPT, 1, 0);
    cfg.force_check = false; cfg.refetch_within = 0;
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
