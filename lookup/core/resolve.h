/*
 * resolve.h - the RFC 8461 section 5.1 decision flow over a cached record.
 *
 * .nf
 * SYNOPSIS
 *     #include "resolve.h"
 *
 *     bool mtasts_resolve_cache_answers(const mtasts_record *r, int64_t now,
 *                                       const mtasts_resolve_config *cfg);
 *     mtasts_status mtasts_resolve(mtasts_record *r, const char *domain,
 *                                  int64_t now, const mtasts_resolve_config *cfg,
 *                                  const mtasts_resolve_ops *ops,
 *                                  mtasts_resolve_result *res);
 * DESCRIPTION
 *     mtasts_resolve_cache_answers() is the hot path: true when r answers
 *     alone, with no network at all: before r->next_check_at, r holds an
 *     unexpired policy (apply it) or no policy (negative caching: none was
 *     advertised at the last TXT lookup). An expired policy never answers.
 *     next_check_at is set txt_recheck_interval after a TXT answer, and
 *     backoff_min after a DNS failure.
 *
 *     mtasts_resolve() applies 5.1 to r, in place, using ops for the TXT
 *     lookup and the HTTPS fetch (dns.c and fetch.c in production; the unit
 *     tests pass their own). It returns MTASTS_OK when r now holds the
 *     policy to apply, MTASTS_NOT_FOUND when no policy applies; res says
 *     what happened and why, and whether r changed (write it back).
 *
 *       TXT id unchanged, cache unexpired     keep the cache (checked now)
 *       TXT id new, or cache expired/missing  fetch; success replaces it
 *       fetch fails, cache unexpired          keep the cache: never downgrade
 *       fetch fails, no usable cache          no policy, reason kept
 *       no TXT / invalid TXT / DNS tempfail   keep an unexpired cache, else
 *                                             no policy (5.1: a missing
 *                                             record does not end a policy)
 *       ... and the cache is due for refresh  fetch the policy file anyway
 *                                             (10.2): success extends it,
 *                                             failure keeps it
 *       after a failed fetch of id X          no refetch of X before
 *                                             backoff_until (3.3: >= 5 min);
 *                                             next_check_at is then no later
 *                                             than backoff_until, so the next
 *                                             attempt follows the backoff
 *
 *     A cached policy expires at fetched_at + max(max_age,
 *     cfg->max_age_floor). cfg->refetch_within > 0 (the proactive
 *     refresher) refetches an unchanged id whose policy expires within
 *     that many seconds, to extend it (10.2). When the TXT lookup fails
 *     (NXDOMAIN, invalid, SERVFAIL, timeout) a cached policy other than
 *     mode none is fetched anyway when it expires within refetch_within,
 *     or, for a lookup (refetch_within 0), once half its lifetime is over:
 *     blocking _mta-sts alone must not let an enforce policy lapse.
 *
 *     Preload list (issue 13; preload.h): a record whose policy came from
 *     the list (source preload) answers from the cache like any other
 *     until next_check_at, but mtasts_resolve() never treats it as a
 *     cached policy: it is dropped before discovery, so it is never kept,
 *     confirmed or refetched, and a fetched policy simply replaces it.
 *     After mtasts_resolve() returned NOT_FOUND with an outcome for which
 *     mtasts_resolve_preload_due() is true (no usable policy because the
 *     TXT lookup or the fetch failed: absent, invalid, SERVFAIL, timeout,
 *     fetch error, 3.3 backoff), the caller looks the domain up on the
 *     list and calls mtasts_resolve_preload() with the unexpired entry:
 *
 *       TXT denial DNSSEC-authenticated  entry ignored (the domain's own
 *                                        word), PRELOAD_IGNORED, NOT_FOUND
 *       otherwise                        r holds the entry's policy, source
 *                                        preload, expiring with the entry,
 *                                        next_check_at unchanged (the
 *                                        normal recheck and backoff
 *                                        schedule); PRELOAD, OK
 *
 *     mtasts_resolve_preload_expired() records an entry (or list) that
 *     has expired: PRELOAD_IGNORED with the reason, for the log.
 * .fi
 */
#ifndef MTASTS_RESOLVE_H
#define MTASTS_RESOLVE_H

#include "common.h"
#include "policy.h"
#include "record.h"

/* Default minimum cache lifetime of a fetched policy, whatever its max_age (0
 * included; option max_age_floor): without it max_age 0 makes every delivery fetch over HTTPS.
 * One hour, as Stalwart (which caches max_age < 3600 for a day) and the
 * TXT recheck interval below: a new id is still seen within the hour. */
#define MTASTS_MAX_AGE_FLOOR 3600u
/* How long a confirmed TXT id is trusted before the next DNS check. */
#define MTASTS_TXT_RECHECK_DEFAULT 3600
/* Backoff after failed fetches: RFC 8461 3.3 minimum, doubling per failure
 * up to a ceiling that still lets a fixed server be seen within hours. */
#define MTASTS_BACKOFF_MAX_DEFAULT (6 * 3600)

typedef struct mtasts_resolve_config {
    unsigned txt_recheck_interval; /* 0: MTASTS_TXT_RECHECK_DEFAULT */
    unsigned max_age_floor;        /* least cache lifetime (s); callers pass
                                      MTASTS_MAX_AGE_FLOOR unless configured */
    unsigned backoff_min;          /* < 300 is raised to 300 */
    unsigned backoff_max;          /* 0: MTASTS_BACKOFF_MAX_DEFAULT */
    unsigned refetch_within;       /* proactive refresh window, 0: off */
    bool force_check;              /* skip the no-network shortcut */
} mtasts_resolve_config;

typedef struct mtasts_resolve_ops {
    /* OK + id, NOT_FOUND, INVALID, TEMPFAIL (see dns.h) */
    mtasts_status (*txt_id)(void *ctx, const char *domain,
                            char id[MTASTS_ID_MAX + 1], mtasts_err *err);
    /* OK + policy (fetched and parsed), or any failure status */
    mtasts_status (*fetch)(void *ctx, const char *domain, mtasts_policy *out,
                           mtasts_err *err);
    void *ctx;
} mtasts_resolve_ops;

typedef enum mtasts_outcome {
    MTASTS_OUTCOME_CACHED = 0,      /* fresh cache, no network */
    MTASTS_OUTCOME_CONFIRMED,       /* TXT id unchanged, cache kept */
    MTASTS_OUTCOME_FETCHED,         /* new policy fetched and stored */
    MTASTS_OUTCOME_KEPT,            /* trouble, unexpired cache kept */
    MTASTS_OUTCOME_NO_POLICY,       /* none advertised, none cached */
    MTASTS_OUTCOME_FAILED,          /* advertised, fetch failed, no cache */
    MTASTS_OUTCOME_BACKOFF,         /* fetch skipped (3.3), no cache */
    MTASTS_OUTCOME_DNS_TEMPFAIL,    /* TXT lookup failed, no cache */
    MTASTS_OUTCOME_PRELOAD,         /* one of the four above, and a preload
                                       entry stands in (mtasts_resolve_preload) */
    MTASTS_OUTCOME_PRELOAD_IGNORED, /* the same, but the entry is set aside:
                                       expired, or an authenticated denial */
} mtasts_outcome;

const char *mtasts_outcome_name(mtasts_outcome o);

typedef struct mtasts_resolve_result {
    mtasts_outcome outcome;
    bool record_changed;    /* r differs from what was passed in */
    bool txt_queried;
    bool fetched;           /* an HTTPS fetch was attempted */
    bool backoff;           /* a fetch was due but skipped (3.3 backoff) */
    char reason[MTASTS_REASON_MAX + 1];
} mtasts_resolve_result;

bool mtasts_resolve_cache_answers(const mtasts_record *r, int64_t now,
                                  const mtasts_resolve_config *cfg);
mtasts_status mtasts_resolve(mtasts_record *r, const char *domain, int64_t now,
                             const mtasts_resolve_config *cfg,
                             const mtasts_resolve_ops *ops,
                             mtasts_resolve_result *res);

struct mtasts_preload_entry;
bool mtasts_resolve_preload_due(const mtasts_resolve_result *res);
mtasts_status mtasts_resolve_preload(mtasts_record *r, const struct mtasts_preload_entry *e,
                                     int64_t now, bool txt_denial_authentic,
                                     mtasts_resolve_result *res);
void mtasts_resolve_preload_expired(mtasts_resolve_result *res, const char *why);

#endif
