/*
 * resolve.c - RFC 8461 section 5.1 (policy application control flow) and
 * section 3.3's fetch backoff, over a cached record. See resolve.h.
 */
#include "resolve.h"
#include "preload.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *mtasts_outcome_name(mtasts_outcome o)
{
    static const char *const names[] = {
        [MTASTS_OUTCOME_CACHED] = "cached",
        [MTASTS_OUTCOME_CONFIRMED] = "confirmed",
        [MTASTS_OUTCOME_FETCHED] = "fetched",
        [MTASTS_OUTCOME_KEPT] = "kept",
        [MTASTS_OUTCOME_NO_POLICY] = "no-policy",
        [MTASTS_OUTCOME_FAILED] = "fetch-failed",
        [MTASTS_OUTCOME_BACKOFF] = "backoff",
        [MTASTS_OUTCOME_DNS_TEMPFAIL] = "dns-tempfail",
        [MTASTS_OUTCOME_PRELOAD] = "preload",
        [MTASTS_OUTCOME_PRELOAD_IGNORED] = "preload-ignored",
    };
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "unknown";
}

static unsigned recheck_interval(const mtasts_resolve_config *cfg)
{
    return cfg->txt_recheck_interval ? cfg->txt_recheck_interval
                                     : MTASTS_TXT_RECHECK_DEFAULT;
}

static int64_t backoff_min(const mtasts_resolve_config *cfg)
{
    return cfg->backoff_min > MTASTS_FETCH_BACKOFF_MIN ? cfg->backoff_min
                                                       : MTASTS_FETCH_BACKOFF_MIN;
}

bool mtasts_resolve_cache_answers(const mtasts_record *r, int64_t now,
                                  const mtasts_resolve_config *cfg)
{
    if (cfg->force_check || (r->id[0] && !mtasts_record_usable(r, now)))
        return false;
    /* The second test catches a clock that went back (or a record written
     * with a longer interval): recheck rather than trust it for long. */
    return now < r->next_check_at
        && r->next_check_at - now <= (int64_t)recheck_interval(cfg);
}

/* checked - a TXT answer was had now: trust it until the next check */
static void checked(mtasts_record *r, int64_t now, int64_t interval,
                    mtasts_resolve_result *res)
{
    r->txt_checked_at = now;
    r->next_check_at = now + interval;
    res->record_changed = true;
}

/* finish - set the outcome and reason; return OK when a policy applies */
static mtasts_status finish(mtasts_resolve_result *res, const mtasts_record *r,
                            int64_t now, mtasts_outcome o, const char *reason)
{
    res->outcome = o;
    mtasts_strlcpy(res->reason, reason ? reason : "", sizeof res->reason);
    return mtasts_record_usable(r, now) ? MTASTS_OK : MTASTS_NOT_FOUND;
}

/* no_new_policy - trouble: an unexpired cache stays in force (5.1) */
static mtasts_status no_new_policy(mtasts_resolve_result *res, const mtasts_record *r,
                                   int64_t now, mtasts_outcome without_cache,
                                   const char *reason)
{
    return finish(res, r, now,
                  mtasts_record_usable(r, now) ? MTASTS_OUTCOME_KEPT : without_cache,
                  reason);
}

static int64_t backoff_seconds(const mtasts_resolve_config *cfg, uint32_t failures)
{
    int64_t lo = backoff_min(cfg);
    int64_t hi = cfg->backoff_max ? cfg->backoff_max : MTASTS_BACKOFF_MAX_DEFAULT;
    int64_t b = lo;

    for (uint32_t i = 1; i < failures && b < hi; i++)
        b *= 2;
    return b < hi ? b : (hi > lo ? hi : lo);
}

/* in_backoff - 3.3: a failed id is not refetched before its backoff ends */
static bool in_backoff(const mtasts_record *r, const char *id, int64_t now)
{
    return strcmp(id, r->backoff_id) == 0 && now < r->backoff_until;
}

/* follow_backoff - the next network attempt is due when the backoff ends,
 * not a whole recheck interval later (negative caching must not outlast
 * the 3.3 schedule). */
static void follow_backoff(mtasts_record *r)
{
    if (r->backoff_until > 0 && r->next_check_at > r->backoff_until)
        r->next_check_at = r->backoff_until;
}

/* refetch_due_without_txt - 10.2: the TXT lookup failed but a policy is
 * cached: is it time to fetch the policy file anyway, so that whoever can
 * block _mta-sts cannot make the policy lapse? The refresher asks within
 * its window; a lookup once half the policy's lifetime is over. A policy
 * in mode none protects nothing and may lapse (8.3). */
static bool refetch_due_without_txt(const mtasts_record *r, int64_t now,
                                    const mtasts_resolve_config *cfg)
{
    int64_t window = cfg->refetch_within ? (int64_t)cfg->refetch_within
                                         : (r->expires_at - r->fetched_at) / 2;

    return mtasts_record_usable(r, now) && r->policy.mode != MTASTS_MODE_NONE
        && r->expires_at - now <= window;
}

/* fetch - fetch and parse the policy file for TXT id `id` (the id just
 * published, or the cached one when the TXT lookup failed); apply 3.3's
 * backoff and 5.1's never-downgrade. `why` says why a failed TXT lookup
 * did not stop us, or is NULL. */
static mtasts_status fetch(mtasts_record *r, const char *domain, const char *id,
                           int64_t now, const mtasts_resolve_config *cfg,
                           const mtasts_resolve_ops *ops, mtasts_resolve_result *res,
                           const char *why)
{
    mtasts_err err = {{0}};
    mtasts_policy fresh;
    mtasts_status st;
    char reason[sizeof err.msg * 2 + 64]; /* truncated where stored */

    if (in_backoff(r, id, now)) {
        res->backoff = true;
        follow_backoff(r);
        return no_new_policy(res, r, now, MTASTS_OUTCOME_BACKOFF,
                             r->last_error[0] ? r->last_error : "fetch backoff");
    }

    res->fetched = true;
    res->record_changed = true;
    st = ops->fetch(ops->ctx, domain, &fresh, &err);
    if (st != MTASTS_OK) {
        snprintf(reason, sizeof reason, "policy fetch for id %s failed: %s%s%s", id,
                 err.msg[0] ? err.msg : mtasts_status_name(st), why ? "; " : "",
                 why ? why : "");
        r->failures = strcmp(id, r->backoff_id) == 0 ? r->failures + 1 : 1;
        snprintf(r->backoff_id, sizeof r->backoff_id, "%s", id);
        r->backoff_until = now + backoff_seconds(cfg, r->failures);
        follow_backoff(r);
        mtasts_record_set_error(r, reason);
        return no_new_policy(res, r, now, MTASTS_OUTCOME_FAILED, reason);
    }

    mtasts_policy_free(&r->policy);
    r->policy = fresh;
    if (r->id != id)
        snprintf(r->id, sizeof r->id, "%s", id);
    r->source = MTASTS_SOURCE_FETCHED;
    r->fetched_at = now;
    /* A documented floor on the cache lifetime (resolve.h): max_age 0
     * must not make every delivery fetch. */
    r->expires_at = now + (int64_t)(fresh.max_age > cfg->max_age_floor
                                    ? fresh.max_age : cfg->max_age_floor);
    r->failures = 0;
    r->backoff_until = 0;
    r->backoff_id[0] = '\0';
    r->last_error[0] = '\0';
    return finish(res, r, now, MTASTS_OUTCOME_FETCHED, why);
}

mtasts_status mtasts_resolve(mtasts_record *r, const char *domain, int64_t now,
                             const mtasts_resolve_config *cfg,
                             const mtasts_resolve_ops *ops,
                             mtasts_resolve_result *res)
{
    char id[MTASTS_ID_MAX + 1] = "";
    mtasts_err err = {{0}};
    mtasts_status st;
    bool usable = mtasts_record_usable(r, now);

    memset(res, 0, sizeof *res);
    if (mtasts_resolve_cache_answers(r, now, cfg))
        return finish(res, r, now, MTASTS_OUTCOME_CACHED, NULL);
    if (r->id[0] && (!usable || r->source == MTASTS_SOURCE_PRELOAD)) {
        /* 5.1: an expired policy is gone; the failure state stays. A
         * preload entry is no cached policy: it never keeps or confirms
         * anything, and is decided anew after discovery. */
        mtasts_policy_free(&r->policy);
        r->id[0] = '\0';
        r->source = MTASTS_SOURCE_NONE;
        res->record_changed = true;
        usable = false;
    }

    res->txt_queried = true;
    st = ops->txt_id(ops->ctx, domain, id, &err);
    if (st != MTASTS_OK) {
        bool absent = st == MTASTS_NOT_FOUND || st == MTASTS_INVALID;
        char why[sizeof err.msg + 16];

        /* Try DNS again sooner after trouble than after a real answer. */
        checked(r, now, absent ? recheck_interval(cfg) : backoff_min(cfg), res);
        snprintf(why, sizeof why, "%s", err.msg[0] ? err.msg
                 : absent ? "no MTA-STS TXT record" : "TXT lookup failed");
        if (refetch_due_without_txt(r, now, cfg))
            return fetch(r, domain, r->id, now, cfg, ops, res, why);
        return no_new_policy(res, r, now, absent ? MTASTS_OUTCOME_NO_POLICY
                                                 : MTASTS_OUTCOME_DNS_TEMPFAIL, why);
    }
    checked(r, now, recheck_interval(cfg), res);

    if (usable && strcmp(id, r->id) == 0
        && !(cfg->refetch_within && r->expires_at - now <= (int64_t)cfg->refetch_within))
        return finish(res, r, now, MTASTS_OUTCOME_CONFIRMED, NULL);
    return fetch(r, domain, id, now, cfg, ops, res, NULL);
}

bool mtasts_resolve_preload_due(const mtasts_resolve_result *res)
{
    switch (res->outcome) {
    case MTASTS_OUTCOME_NO_POLICY:
    case MTASTS_OUTCOME_FAILED:
    case MTASTS_OUTCOME_BACKOFF:
    case MTASTS_OUTCOME_DNS_TEMPFAIL:
        return true;
    default:
        return false;
    }
}

/* preload_outcome - the outcome, and what the list did before why the
 * discovery failed (the reason is bounded: the preload part comes first) */
static void preload_outcome(mtasts_resolve_result *res, mtasts_outcome o, const char *what)
{
    char reason[sizeof res->reason];

    snprintf(reason, sizeof reason, "%s%s%s", what, res->reason[0] ? ": " : "", res->reason);
    mtasts_strlcpy(res->reason, reason, sizeof res->reason);
    res->outcome = o;
}

void mtasts_resolve_preload_expired(mtasts_resolve_result *res, const char *why)
{
    char what[128];

    snprintf(what, sizeof what, "preload list entry ignored (%s)", why);
    preload_outcome(res, MTASTS_OUTCOME_PRELOAD_IGNORED, what);
}

static bool id_ok(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || ((s[n] | 0x20) >= 'a' && (s[n] | 0x20) <= 'z')))
            return false;
    return n > 0 && n <= MTASTS_ID_MAX;
}

mtasts_status mtasts_resolve_preload(mtasts_record *r, const mtasts_preload_entry *e,
                                     int64_t now, bool txt_denial_authentic,
                                     mtasts_resolve_result *res)
{
    mtasts_policy p;
    mtasts_err err = {{0}};
    char what[128], until[32];
    time_t t = (time_t)e->expires_at;
    struct tm tm;

    /* Only an authenticated "no" is the domain's own word; an unsigned
     * absence, a SERVFAIL or a failed fetch is what the attacker the list
     * guards against can produce. */
    if (txt_denial_authentic) {
        preload_outcome(res, MTASTS_OUTCOME_PRELOAD_IGNORED, "preload list entry ignored "
                        "(DNSSEC-authenticated denial of the MTA-STS record)");
        return MTASTS_NOT_FOUND;
    }
    if (e->expires_at < now) {
        mtasts_resolve_preload_expired(res, "expired");
        return MTASTS_NOT_FOUND;
    }
    if (mtasts_policy_copy(&p, &e->policy, &err) != MTASTS_OK) {
        snprintf(what, sizeof what, "preload list entry unusable (%s)", err.msg);
        preload_outcome(res, MTASTS_OUTCOME_PRELOAD_IGNORED, what);
        return MTASTS_NOT_FOUND;
    }
    mtasts_policy_free(&r->policy);
    r->policy = p;
    mtasts_strlcpy(r->id, id_ok(e->id) ? e->id : "preload", sizeof r->id);
    r->source = MTASTS_SOURCE_PRELOAD;
    r->fetched_at = e->taken_at > 0 && e->taken_at <= now ? e->taken_at : now;
    /* Never beyond the entry: its expiry ends the answer, and the TXT
     * recheck or fetch backoff (next_check_at, left as 5.1 set it) ends
     * it sooner, so discovery is retried on the normal schedule. */
    r->expires_at = e->expires_at;
    res->record_changed = true;
    if (!gmtime_r(&t, &tm) || !strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(until, sizeof until, "%lld", (long long)e->expires_at);
    snprintf(what, sizeof what, "preload list entry applies (mode %s, until %s)",
             mtasts_mode_name(p.mode), until);
    preload_outcome(res, MTASTS_OUTCOME_PRELOAD, what);
    return MTASTS_OK;
}
