/*
 * record.h - what the store keeps per policy domain, and its serialisation.
 *
 * .nf
 * SYNOPSIS
 *     #include "record.h"
 *
 *     void mtasts_record_init(mtasts_record *r);
 *     void mtasts_record_free(mtasts_record *r);
 *     mtasts_status mtasts_record_copy(mtasts_record *dst, const mtasts_record *src,
 *                                      mtasts_err *err);
 *     mtasts_status mtasts_record_encode(const mtasts_record *r, char *buf,
 *                                        size_t size, size_t *len, mtasts_err *err);
 *     mtasts_status mtasts_record_decode(const char *buf, size_t len,
 *                                        mtasts_record *r, mtasts_err *err);
 *     mtasts_status mtasts_record_decode_head(const char *buf, size_t len,
 *                                             mtasts_record *r, mtasts_err *err);
 *     int mtasts_record_keep_class(const mtasts_record *r, int64_t now);
 * DESCRIPTION
 *     A record holds the cached policy (if any) with its id and times, and
 *     the fetch-failure state that RFC 8461 3.3 asks for (back off per id).
 *
 *     The encoding is compact binary (the store holds one per domain, read
 *     on every lookup): a magic byte and MTASTS_RECORD_VERSION, fixed-size
 *     fields little-endian, then length-prefixed strings (id, backoff id,
 *     last error, the mx patterns). A typical record is about 120 bytes.
 *     Decoding checks every length and value, and builds the policy with
 *     mtasts_policy_build(), so the mx patterns obey the parser's rules.
 *     A record of another version is refused (MTASTS_INVALID), never
 *     misread; the store then treats the domain as not cached.
 *     mtasts cache show prints records as text.
 * .fi
 */
#ifndef MTASTS_RECORD_H
#define MTASTS_RECORD_H

#include "common.h"
#include "policy.h"

#define MTASTS_RECORD_VERSION 2
/* Policy (<= 64 patterns of <= 253 bytes, see policy.h) plus metadata. */
#define MTASTS_RECORD_MAX (MTASTS_POLICY_MX_MAX * 262 + 1024)
/* Enough of a failure reason for logs and TLSRPT reports. */
#define MTASTS_REASON_MAX 200

typedef enum mtasts_source {
    MTASTS_SOURCE_NONE = 0,     /* no policy cached */
    MTASTS_SOURCE_FETCHED = 1,  /* fetched over HTTPS */
    MTASTS_SOURCE_PRELOAD = 2,  /* from a preload list (first contact) */
} mtasts_source;

typedef struct mtasts_record {
    /* The cached policy; valid when id[0] != '\0'. */
    char id[MTASTS_ID_MAX + 1];
    mtasts_policy policy;
    mtasts_source source;
    int64_t fetched_at;        /* unix time of the fetch */
    int64_t expires_at;        /* fetched_at + max_age (RFC 8461 5.1) */
    int64_t txt_checked_at;    /* last TXT lookup */
    int64_t next_check_at;     /* until then the record answers alone, also
                                  "no policy" (negative caching) */
    int64_t last_used;         /* last lookup, coarse (for eviction) */
    /* Failure state, kept also when no policy is cached. */
    uint32_t failures;         /* consecutive failed fetches */
    int64_t backoff_until;     /* no fetch for backoff_id before this */
    char backoff_id[MTASTS_ID_MAX + 1];
    char last_error[MTASTS_REASON_MAX + 1];
    /* DANE (RFC 7672) for the domain's MX hosts at the last TXT check:
     * "all", "some", "none", or "" when not looked up. */
    char dane[8];
} mtasts_record;

const char *mtasts_source_name(mtasts_source s);
void mtasts_record_init(mtasts_record *r);
void mtasts_record_free(mtasts_record *r);
mtasts_status mtasts_record_copy(mtasts_record *dst, const mtasts_record *src,
                                 mtasts_err *err);
/* True when r holds a policy that has not expired at now. */
bool mtasts_record_usable(const mtasts_record *r, int64_t now);
/* Copy reason into r->last_error, replacing what could break the encoding. */
void mtasts_record_set_error(mtasts_record *r, const char *reason);
mtasts_status mtasts_record_encode(const mtasts_record *r, char *buf, size_t size,
                                   size_t *len, mtasts_err *err);
mtasts_status mtasts_record_decode(const char *buf, size_t len, mtasts_record *r,
                                   mtasts_err *err);
/* The same decoder stopped before the mx patterns: the fixed fields, the
 * strings, and the policy's mode and max_age (no patterns, nothing to
 * free). For the store's eviction, which reads every record. */
mtasts_status mtasts_record_decode_head(const char *buf, size_t len, mtasts_record *r,
                                        mtasts_err *err);

/* What keeping a record is worth, for eviction (higher is kept longer):
 * a live enforce policy protects against a first-contact downgrade; a
 * live testing/none policy only saves a fetch; a record without a usable
 * policy (none cached, or expired) only saves a TXT lookup. */
enum { MTASTS_KEEP_UNUSABLE = 0, MTASTS_KEEP_LIVE = 1, MTASTS_KEEP_ENFORCE = 2 };
int mtasts_record_keep_class(const mtasts_record *r, int64_t now);

#endif
