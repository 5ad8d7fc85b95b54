/*
 * tlsrpt_store.h - TLS session outcomes for SMTP TLS Reporting (RFC 8460),
 * kept in the shared store.
 *
 * .nf
 * SYNOPSIS
 *     #include "tlsrpt_store.h"
 *
 *     mtasts_status mtasts_tlsrpt_record(mtasts_store *s,
 *                                        const mtasts_tlsrpt_outcome *o,
 *                                        mtasts_err *err);
 *     mtasts_status mtasts_tlsrpt_foreach(mtasts_store *s, const char *day,
 *                                         mtasts_tlsrpt_visit_fn fn, void *ctx,
 *                                         mtasts_err *err);
 *     mtasts_status mtasts_tlsrpt_expire(mtasts_store *s, const char *before_day,
 *                                        mtasts_err *err);
 * DESCRIPTION
 *     This header is the contract between the recorder (Exim's event_action
 *     and the helper write outcomes) and the reporter (mtasts tlsrpt send /
 *     show read them). Outcomes live in an LMDB environment of their own
 *     next to the policy store (MTASTS_TLSRPT_FILE in its directory,
 *     opened on first use through the policy store's handle s, as safely
 *     as the policy store; tlsrpt_store.c), under keys that start with
 *     MTASTS_TLSRPT_KEY_PREFIX, one aggregate per (UTC day, policy
 *     domain, policy type, policy): session counts and a bounded set of
 *     failure-detail rows with counts. The reporter's sent marks stay in
 *     the policy store (tlsrpt_sent.h).
 *
 *     Recording is one short write transaction; it never blocks for long
 *     and its failure is only reported (the caller logs it once and the
 *     delivery goes on). Day strings are "YYYY-MM-DD" (UTC).
 * .fi
 */
#ifndef MTASTS_TLSRPT_STORE_H
#define MTASTS_TLSRPT_STORE_H

#include "common.h"
#include "store.h"

/* Key prefixes: outcomes (in the sibling), and the reporter's "sent"
 * marks (exactly-once delivery; in the policy store). */
#define MTASTS_TLSRPT_KEY_PREFIX "\002tlsrpt:"
#define MTASTS_TLSRPT_SENT_PREFIX "\002tlsrpt-sent:"

/* Failure-detail rows kept per aggregate; further distinct rows are folded
 * into the counts of the least frequent one's result type (RFC 8460 lets a
 * reporter omit details; the summary counts stay exact). */
#define MTASTS_TLSRPT_DETAILS_MAX 32

/* Aggregates created per UTC day at most (a flood of distinct domains must
 * not fill the store: 0.3 to 1 KiB each). Outcomes that would need another
 * aggregate are only counted, as that day's overflow. */
#define MTASTS_TLSRPT_AGGREGATES_MAX 10000
/* A backstop for a reporter that never runs: the first record of a day
 * deletes what is older than this many days (the reporter's retention,
 * mtasts_tlsrpt_expire(), is normally shorter). With the bound above the
 * outcomes use at most some 300 MB of their file. */
#define MTASTS_TLSRPT_KEEP_DAYS_MAX 31
/* Tests: a smaller bound for this process (0: the default). */
void mtasts_tlsrpt_set_aggregates_max(unsigned n);

/* The outcomes' own LMDB environment, a sibling of the policy store in
 * its directory: <store>/tlsrpt.mdb and <store>/tlsrpt.mdb-lock. */
#define MTASTS_TLSRPT_FILE "tlsrpt.mdb"
#define MTASTS_TLSRPT_MAP_INITIAL ((size_t)1 << 20)
/* Its size ceiling (option tlsrpt_map_max): room for the bound above,
 * 10,000 aggregates of up to 1 KiB a day for 31 days, and LMDB's overhead. */
#define MTASTS_TLSRPT_MAP_MAX ((size_t)512 << 20)
/* Recordings commit without a sync; one of them syncs the file when the
 * last sync (by any process) is this many seconds old. */
#define MTASTS_TLSRPT_SYNC_INTERVAL 60
/* The sibling's size ceiling for this process (0: the default). */
void mtasts_tlsrpt_set_map_max(size_t bytes);

/* Write the sibling's committed outcomes to disk, if this process has it
 * open for writing (the reporter and the helper, after they wrote). */
mtasts_status mtasts_tlsrpt_sync(mtasts_store *s, mtasts_err *err);

/* The reporter's repair: open the sibling (creating it) and read all of
 * it; a damaged one (LMDB says invalid or corrupted, truncated, unknown
 * schema) is renamed to tlsrpt.mdb.broken-<UTC time> (its lock file to
 * tlsrpt.mdb-lock.broken-<time>) as the store's owner and a new one is
 * created: its outcomes are lost. *moved tells whether that happened (err
 * then says why). */
mtasts_status mtasts_tlsrpt_recover(mtasts_store *s, bool *moved, mtasts_err *err);

/* The UTC day "YYYY-MM-DD" of a unix time; false if it has none. */
bool mtasts_tlsrpt_day_of(int64_t when, char day[static 11]);

typedef enum mtasts_tlsrpt_policy_type {
    MTASTS_TLSRPT_NO_POLICY = 0,    /* "no-policy-found" */
    MTASTS_TLSRPT_STS = 1,          /* "sts" */
    MTASTS_TLSRPT_TLSA = 2,         /* "tlsa" */
} mtasts_tlsrpt_policy_type;

/* The RFC 8460 name of a policy type. */
const char *mtasts_tlsrpt_policy_type_name(mtasts_tlsrpt_policy_type t);

/* One TLS session attempt (or one policy-side failure from the helper). */
typedef struct mtasts_tlsrpt_outcome {
    int64_t when;                   /* unix time; the UTC day is taken from it */
    const char *policy_domain;      /* the recipient (policy) domain */
    mtasts_tlsrpt_policy_type type;
    /* sts: the policy's lines, '\n'-separated ("version: STSv1",
     * "mode: enforce", "mx: ...", "max_age: ..."); tlsa: the TLSA records
     * in presentation form, '\n'-separated; NULL for no-policy-found. */
    const char *policy_string;
    /* sts: the mx patterns, '\n'-separated (the report's mx-host); NULL
     * otherwise. */
    const char *mx_patterns;
    const char *mx_host;            /* receiving-mx-hostname, or NULL */
    const char *receiving_ip;       /* or NULL */
    const char *sending_ip;         /* or NULL */
    /* NULL for a successful session; otherwise an RFC 8460 section 4.3
     * result type ("starttls-not-supported", "certificate-host-mismatch",
     * "certificate-expired", "certificate-not-trusted",
     * "validation-failure", "tlsa-invalid", "dnssec-invalid",
     * "dane-required", "sts-policy-fetch-error", "sts-policy-invalid",
     * "sts-webpki-invalid"). */
    const char *result_type;
    const char *failure_reason_code;    /* or NULL */
    const char *additional_info;        /* or NULL */
} mtasts_tlsrpt_outcome;

/* OK; TEMPFAIL when the store cannot be written or the day's aggregate
 * bound was reached (the outcome is then counted as overflow); INVALID for
 * an outcome without a domain, day or known policy type. */
mtasts_status mtasts_tlsrpt_record(mtasts_store *s, const mtasts_tlsrpt_outcome *o,
                                   mtasts_err *err);

/* One failure-detail row of an aggregate (RFC 8460 4.3). */
typedef struct mtasts_tlsrpt_detail {
    const char *result_type;
    const char *sending_ip;             /* "" when unknown */
    const char *receiving_mx_hostname;  /* "" when unknown */
    const char *receiving_ip;           /* "" when unknown */
    const char *failure_reason_code;    /* "" when none */
    const char *additional_info;        /* "" when none */
    uint64_t count;
} mtasts_tlsrpt_detail;

/* One aggregate: a policy as applied to one domain on one day. */
typedef struct mtasts_tlsrpt_aggregate {
    const char *day;                    /* "YYYY-MM-DD" */
    const char *policy_domain;
    mtasts_tlsrpt_policy_type type;
    const char *policy_string;          /* as recorded ('\n'-separated), or "" */
    const char *mx_patterns;            /* as recorded ('\n'-separated), or "" */
    uint64_t successes, failures;
    size_t n_details;
    const mtasts_tlsrpt_detail *details;
} mtasts_tlsrpt_aggregate;

/* Visit the aggregates of day (NULL: every day) in key order (grouped by
 * day, then policy domain); stop early when fn returns false. a is valid
 * only during the call; other store calls from fn are refused. */
typedef bool (*mtasts_tlsrpt_visit_fn)(void *ctx, const mtasts_tlsrpt_aggregate *a);
mtasts_status mtasts_tlsrpt_foreach(mtasts_store *s, const char *day,
                                    mtasts_tlsrpt_visit_fn fn, void *ctx, mtasts_err *err);

/* The aggregates created on day and the sessions of day not recorded
 * because MTASTS_TLSRPT_AGGREGATES_MAX was reached (both 0 for a day
 * without records). */
mtasts_status mtasts_tlsrpt_day_stats(mtasts_store *s, const char *day, uint64_t *aggregates,
                                      uint64_t *overflow, mtasts_err *err);

/* Delete the aggregates, day counters and sent marks of days before
 * before_day (sent-mark keys start with the day after their prefix), and
 * any outcome an earlier layout kept in the policy store; then sync the
 * sibling. */
mtasts_status mtasts_tlsrpt_expire(mtasts_store *s, const char *before_day, mtasts_err *err);

#endif
