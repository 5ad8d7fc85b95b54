/*
 * test_preload_apply.c - where a preload list entry applies (issue 13
 * items 4): the helper's decision after the RFC 8461 5.1 flow, with
 * scripted DNS and HTTPS answers (the real ones, and real Exims, are in
 * tests/preload/test-preload-world.sh).
 */
#include "preload.h"
#include "record.h"
#include "resolve.h"
#include "resolve_script.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

/* The list's snapshot: enforce, old MX host. The domain's live policy:
 * enforce, new MX host. */
static const char *LISTED =
    "version: STSv1\nmode: enforce\nmx: old.example.com\nmax_age: 604800\n";
static const char *LIVE =
    "version: STSv1\nmode: enforce\nmx: new.example.com\nmax_age: 86400\n";

static script sc;
static mtasts_resolve_ops ops = { fake_txt, fake_fetch, &sc };
static mtasts_resolve_config cfg = { .txt_recheck_interval = 3600,
                                      .max_age_floor = MTASTS_MAX_AGE_FLOOR };
static const int64_t T = 2000000000;

/* helper_run - what "mtasts resolve" does: the 5.1 flow, then the list
 * (entry NULL: the domain is not on it) */
static mtasts_status helper_run(mtasts_record *r, int64_t now, const mtasts_preload_entry *e,
                                bool denial_authentic, mtasts_resolve_result *res)
{
    mtasts_status st = mtasts_resolve(r, "example.com", now, &cfg, &ops, res);

    if (st == MTASTS_NOT_FOUND && e && mtasts_resolve_preload_due(res))
        st = mtasts_resolve_preload(r, e, now, denial_authentic, res);
    return st;
}

static void entry(mtasts_preload_entry *e, const char *id, int64_t expires_at)
{
    mtasts_err err = {{0}};

    memset(e, 0, sizeof *e);
    CHECK_INT(mtasts_policy_parse(LISTED, strlen(LISTED), &e->policy, &err), MTASTS_OK,
              "set-up: the entry's policy parses");
    snprintf(e->id, sizeof e->id, "%s", id);
    e->taken_at = T - 86400;
    e->expires_at = expires_at;
}

/* check_preload - r answers the list's policy until `until` */
static void check_preload(const char *what, const mtasts_record *r, mtasts_status st,
                          const mtasts_resolve_result *res, int64_t until)
{
    char buf[160];

    snprintf(buf, sizeof buf, "%s: a policy applies", what);
    CHECK_INT(st, MTASTS_OK, buf);
    snprintf(buf, sizeof buf, "%s: outcome", what);
    CHECK_STR(mtasts_outcome_name(res->outcome), "preload", buf);
    snprintf(buf, sizeof buf, "%s: source", what);
    CHECK_STR(mtasts_source_name(r->source), mtasts_source_name(MTASTS_SOURCE_PRELOAD), buf);
    snprintf(buf, sizeof buf, "%s: the list's mx", what);
    CHECK(r->policy.n_mx == 1 && strcmp(r->policy.mx[0], "old.example.com") == 0,
          "%s (%zu patterns)", buf, r->policy.n_mx);
    snprintf(buf, sizeof buf, "%s: expires with the entry", what);
    CHECK_INT(r->expires_at, until, buf);
    CHECK(res->record_changed, "%s: record changed (stored)", what);
    CHECK(strncmp(res->reason, "preload list entry applies (mode enforce", 40) == 0,
          "%s: reason says so: %s", what, res->reason);
}

int main(void)
{
    mtasts_preload_entry e, eff;
    mtasts_record r, copy;
    mtasts_resolve_result res;
    mtasts_err err = {{0}};
    mtasts_status st;
    char buf[MTASTS_RECORD_MAX];
    size_t len;
    int64_t until = T + 30 * 86400;

    entry(&e, "snap1", until);
    entry(&eff, "", until);

    /* First contact, TXT stripped (no AD): the entry applies. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_NOT_FOUND, "", MTASTS_OK, LIVE, 0, 0 };
    st = helper_run(&r, T, &e, false, &res);
    check_preload("stripped TXT", &r, st, &res, until);
    CHECK(strstr(res.reason, "scripted txt not-found") != NULL,
          "stripped TXT: the discovery failure is in the reason: %s", res.reason);
    CHECK_STR(r.id, "snap1", "stripped TXT: the snapshot's id");
    CHECK_INT(r.next_check_at, T + 3600, "stripped TXT: rechecked on the TXT schedule");
    /* The hot path answers it until the recheck, then the helper runs. */
    CHECK(mtasts_resolve_cache_answers(&r, T + 3599, &cfg), "preload answers from the store");
    CHECK(!mtasts_resolve_cache_answers(&r, T + 3600, &cfg), "... until the recheck is due");
    /* It survives the store (the record's encoding). */
    CHECK_INT(mtasts_record_encode(&r, buf, sizeof buf, &len, &err), MTASTS_OK, "encode");
    CHECK_INT(mtasts_record_decode(buf, len, &copy, &err), MTASTS_OK, "decode");
    CHECK_INT(copy.source, MTASTS_SOURCE_PRELOAD, "decoded: source preload");
    mtasts_record_free(&copy);

    /* Discovery again, the domain now publishes (id new): the live policy
     * replaces the entry's. */
    sc = (script){ MTASTS_OK, "live1", MTASTS_OK, LIVE, 0, 0 };
    st = helper_run(&r, T + 3600, &e, false, &res);
    CHECK_INT(st, MTASTS_OK, "published: a policy applies");
    CHECK_STR(mtasts_outcome_name(res.outcome), "fetched", "published: fetched");
    CHECK_INT(r.source, MTASTS_SOURCE_FETCHED, "published: source fetched");
    CHECK_STR(r.policy.mx[0], "new.example.com", "published: the new MX host");

    /* A fetched, unexpired policy wins whatever fails later: kept. */
    sc = (script){ MTASTS_TEMPFAIL, "", MTASTS_OK, LIVE, 0, 0 };
    st = helper_run(&r, T + 8000, &e, false, &res);
    CHECK_STR(mtasts_outcome_name(res.outcome), "kept", "fetched policy kept, list unused");
    CHECK_STR(r.policy.mx[0], "new.example.com", "kept: the live policy's MX host");
    CHECK(!mtasts_resolve_preload_due(&res), "a kept policy: the list is not asked");
    mtasts_record_free(&r);

    /* An attacker's SERVFAIL at first contact: the entry applies, and the
     * next DNS attempt comes after the backoff minimum. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_TEMPFAIL, "", MTASTS_OK, LIVE, 0, 0 };
    st = helper_run(&r, T, &e, false, &res);
    check_preload("SERVFAIL", &r, st, &res, until);
    CHECK_INT(r.next_check_at, T + 300, "SERVFAIL: rechecked after 300 s");
    mtasts_record_free(&r);

    /* The TXT record is there, the HTTPS fetch is blocked: the entry
     * applies; 3.3's backoff sets when discovery is tried again. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "live1", MTASTS_FETCH_FAILED, LIVE, 0, 0 };
    st = helper_run(&r, T, &e, false, &res);
    check_preload("fetch blocked", &r, st, &res, until);
    CHECK_INT(r.next_check_at, r.backoff_until, "fetch blocked: retried when the backoff ends");
    CHECK_STR(r.backoff_id, "live1", "fetch blocked: backoff on the published id");
    /* Within the backoff (helper forced): backoff, the entry again. */
    cfg.force_check = true;
    st = helper_run(&r, T + 10, &e, false, &res);
    CHECK_STR(mtasts_outcome_name(res.outcome), "preload", "in backoff: the entry again");
    CHECK(res.backoff, "in backoff: no fetch");
    /* The fetch still fails after the backoff, even for an entry whose id
     * equals the published one: never "kept" or "confirmed" as cached. */
    mtasts_preload_entry_free(&e);
    entry(&e, "live1", until);
    st = helper_run(&r, T + 400, &e, false, &res);
    CHECK_STR(mtasts_outcome_name(res.outcome), "preload", "same id, fetch fails: entry, not kept");
    sc.fetch = MTASTS_OK;
    st = helper_run(&r, T + 2000, &e, false, &res);
    CHECK_STR(mtasts_outcome_name(res.outcome), "fetched",
              "same id as the entry: fetched, not confirmed");
    CHECK_INT(r.source, MTASTS_SOURCE_FETCHED, "same id: source fetched");
    cfg.force_check = false;
    mtasts_record_free(&r);
    mtasts_preload_entry_free(&e);
    entry(&e, "snap1", until);

    /* DNSSEC-authenticated denial: the domain's own word, entry ignored. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_NOT_FOUND, "", MTASTS_OK, LIVE, 0, 0 };
    st = helper_run(&r, T, &e, true, &res);
    CHECK_INT(st, MTASTS_NOT_FOUND, "authenticated denial: no policy");
    CHECK_STR(mtasts_outcome_name(res.outcome), "preload-ignored", "authenticated denial: outcome");
    CHECK(strstr(res.reason, "DNSSEC-authenticated denial") != NULL,
          "authenticated denial: reason says so: %s", res.reason);
    CHECK(r.id[0] == '\0', "authenticated denial: no policy stored");
    mtasts_record_free(&r);

    /* The entry expires: the stored answer ends with it (not at the
     * recheck), and an expired entry is never applied. */
    mtasts_record_init(&r);
    mtasts_preload_entry_free(&e);
    entry(&e, "snap1", T + 60);
    sc = (script){ MTASTS_NOT_FOUND, "", MTASTS_OK, LIVE, 0, 0 };
    st = helper_run(&r, T, &e, false, &res);
    check_preload("short entry", &r, st, &res, T + 60);
    CHECK(!mtasts_record_usable(&r, T + 61), "short entry: unusable after its expiry");
    CHECK(!mtasts_resolve_cache_answers(&r, T + 61, &cfg), "short entry: helper runs after it");
    st = helper_run(&r, T + 61, &e, false, &res);
    CHECK_INT(st, MTASTS_NOT_FOUND, "expired entry: no policy");
    CHECK_STR(mtasts_outcome_name(res.outcome), "preload-ignored", "expired entry: said so");
    CHECK(r.id[0] == '\0', "expired entry: the stored entry's policy is gone");
    mtasts_record_free(&r);

    /* The list side reports an expired entry or list: said for the log. */
    memset(&res, 0, sizeof res);
    res.outcome = MTASTS_OUTCOME_NO_POLICY;
    mtasts_strlcpy(res.reason, "_mta-sts.example.com: NXDOMAIN", sizeof res.reason);
    mtasts_resolve_preload_expired(&res, "preload list expired");
    CHECK_STR(mtasts_outcome_name(res.outcome), "preload-ignored", "expired list: outcome");
    CHECK_STR(res.reason, "preload list entry ignored (preload list expired): "
              "_mta-sts.example.com: NXDOMAIN", "expired list: reason");

    /* An EFF entry has no id: the record still gets a valid one; its
     * ".suffix" pattern survives the store (and only a preload record may
     * hold one). */
    {
        const char *suffix[] = { ".example.net" };
        size_t slen[] = { 12 };

        mtasts_policy_free(&eff.policy);
        CHECK_INT(mtasts_policy_build_preload(&eff.policy, MTASTS_MODE_ENFORCE, 0, suffix,
                                              slen, 1, &err), MTASTS_OK, "set-up: EFF entry");
    }
    mtasts_record_init(&r);
    st = helper_run(&r, T, &eff, false, &res);
    CHECK_STR(mtasts_outcome_name(res.outcome), "preload", "EFF entry: applies");
    CHECK_STR(r.id, "preload", "EFF entry: id");
    CHECK_INT(mtasts_record_encode(&r, buf, sizeof buf, &len, &err), MTASTS_OK, "EFF: encode");
    CHECK_INT(mtasts_record_decode(buf, len, &copy, &err), MTASTS_OK, "EFF: decode");
    CHECK(copy.policy.n_mx == 1 && strcmp(copy.policy.mx[0], ".example.net") == 0,
          "EFF: the .suffix pattern decoded");
    mtasts_record_free(&copy);
    /* The same bytes claiming source fetched: refused (a fetched policy
     * never holds ".suffix"). */
    buf[3] = MTASTS_SOURCE_FETCHED;
    CHECK_INT(mtasts_record_decode(buf, len, &copy, &err), MTASTS_INVALID,
              "EFF pattern in a fetched record: refused");
    mtasts_record_free(&r);

    /* A fetched mode none policy is the domain's word too: the list is
     * not asked. */
    mtasts_record_init(&r);
    sc = (script){ MTASTS_OK, "none1", MTASTS_OK,
                   "version: STSv1\nmode: none\nmax_age: 86400\n", 0, 0 };
    st = helper_run(&r, T, &e, false, &res);
    CHECK_STR(mtasts_outcome_name(res.outcome), "fetched", "mode none fetched: list unused");
    CHECK_INT(r.policy.mode, MTASTS_MODE_NONE, "mode none fetched: mode none");
    mtasts_record_free(&r);

    mtasts_preload_entry_free(&e);
    mtasts_preload_entry_free(&eff);
    return UNIT_DONE("test_preload_apply");
}
