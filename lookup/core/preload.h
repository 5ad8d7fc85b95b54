/*
 * preload.h - the MTA-STS preload list: first-contact protection.
 *
 * .nf
 * SYNOPSIS
 *     #include "preload.h"
 *
 *     mtasts_status mtasts_preload_get(mtasts_store *s, const char *domain,
 *                                      int64_t now, mtasts_preload_entry *e,
 *                                      mtasts_err *err);
 * DESCRIPTION
 *     This header is the contract between the list side (parsers of the
 *     STARTTLS-Everywhere JSON and of this project's preload format,
 *     "mtasts preload import|build|list|show|remove|clear|stats") and the
 *     lookup side (resolve/answer: an entry applies only when there is no
 *     cached policy and discovery or fetch fails at first contact).
 *
 *     The imported list lives in the policy store's LMDB environment under
 *     keys that start with MTASTS_PRELOAD_KEY_PREFIX (bytes below 0x20: no
 *     domain key, eviction scan or foreach sees them): one key per domain
 *     and one list-meta key (source, version, imported_at, expires_at). An
 *     import replaces the whole list in one write transaction.
 * .fi
 */
#ifndef MTASTS_PRELOAD_H
#define MTASTS_PRELOAD_H

#include "common.h"
#include "policy.h"
#include "store.h"

#define MTASTS_PRELOAD_KEY_PREFIX "\003preload:"

typedef struct mtasts_preload_entry {
    mtasts_policy policy;       /* mode and mx patterns (RFC 8461 form) */
    char id[MTASTS_ID_MAX + 1]; /* the snapshot's policy id, or "" (EFF list) */
    int64_t taken_at;           /* when the snapshot was taken (0: unknown) */
    int64_t expires_at;         /* the entry's expiry: min(list expiry, entry's) */
} mtasts_preload_entry;

void mtasts_preload_entry_free(mtasts_preload_entry *e);

/* The write and admin side (preload_store.c; used by "mtasts preload").
 * Entries are stored as a versioned text form whose every length is
 * checked on decode; patterns are rebuilt with mtasts_policy_build_preload(),
 * so a stored entry obeys the parser's rules (plus the EFF list's ".suffix"
 * kind, see policy.h). */
#define MTASTS_PRELOAD_FORMAT_MAX 16
#define MTASTS_PRELOAD_VERSION_MAX 32
#define MTASTS_PRELOAD_SOURCE_MAX 512

typedef struct mtasts_preload_meta {
    char format[MTASTS_PRELOAD_FORMAT_MAX];   /* "eff" or "mtasts" */
    char version[MTASTS_PRELOAD_VERSION_MAX]; /* the list's own version field */
    char source[MTASTS_PRELOAD_SOURCE_MAX];   /* file or URL imported from */
    int64_t generated_at;   /* the list's timestamp/generated (0: unknown) */
    int64_t imported_at;
    int64_t expires_at;     /* the list's expiry */
    size_t entries;         /* domains imported */
} mtasts_preload_meta;

/* Replace the whole list (every preload key, the meta key) with domains[i]
 * -> entries[i], in one write transaction: readers see the old list or the
 * new one, never a mix; a failure leaves the old list. Domains are
 * normalised like store keys (lower case, no trailing dot); a repeated
 * domain is MTASTS_INVALID. */
mtasts_status mtasts_preload_replace(mtasts_store *s, const mtasts_preload_meta *meta,
                                     const char *const *domains,
                                     const mtasts_preload_entry *entries, size_t n,
                                     mtasts_err *err);
/* OK, or NOT_FOUND when the domain is not on the list. */
mtasts_status mtasts_preload_remove(mtasts_store *s, const char *domain, mtasts_err *err);
/* Remove every preload key (entries and meta); OK also when there were none. */
mtasts_status mtasts_preload_clear(mtasts_store *s, mtasts_err *err);
/* OK (meta filled) or NOT_FOUND (no list imported). */
mtasts_status mtasts_preload_meta_get(mtasts_store *s, mtasts_preload_meta *meta,
                                      mtasts_err *err);
/* The stored entry whatever its expiry (for "preload show"): OK, NOT_FOUND. */
mtasts_status mtasts_preload_lookup(mtasts_store *s, const char *domain,
                                    mtasts_preload_entry *e, mtasts_err *err);
/* Visit every entry in domain order, expired ones too; stop when fn returns
 * false. e is valid only during the call; undecodable entries are skipped
 * (counted in *skipped when not NULL); no other store call from inside fn. */
typedef bool (*mtasts_preload_visit_fn)(void *ctx, const char *domain,
                                        const mtasts_preload_entry *e);
mtasts_status mtasts_preload_foreach(mtasts_store *s, mtasts_preload_visit_fn fn, void *ctx,
                                     size_t *skipped, mtasts_err *err);

/* The stored form of one entry (exposed for the unit and fuzz tests).
 * encode: OK or INVALID (buffer too small / bad entry); decode: OK (e
 * filled, free it), INVALID or SYSERR. */
#define MTASTS_PRELOAD_ENTRY_MAX (64 + MTASTS_ID_MAX + MTASTS_POLICY_MX_MAX * 256)
mtasts_status mtasts_preload_entry_encode(const mtasts_preload_entry *e, char *buf,
                                          size_t size, size_t *len, mtasts_err *err);
mtasts_status mtasts_preload_entry_decode(const void *buf, size_t len,
                                          mtasts_preload_entry *e, mtasts_err *err);

/* OK: e filled (free with mtasts_preload_entry_free); NOT_FOUND: domain is
 * not on the list, or its entry (or the whole list) has expired at now, in
 * which case err says "expired" (the caller logs it once); TEMPFAIL: store
 * trouble (treat as not listed). */
mtasts_status mtasts_preload_get(mtasts_store *s, const char *domain, int64_t now,
                                 mtasts_preload_entry *e, mtasts_err *err);

#endif
