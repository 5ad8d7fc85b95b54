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

/* OK: e filled (free with mtasts_preload_entry_free); NOT_FOUND: domain is
 * not on the list, or its entry (or the whole list) has expired at now, in
 * which case err says "expired" (the caller logs it once); TEMPFAIL: store
 * trouble (treat as not listed). */
mtasts_status mtasts_preload_get(mtasts_store *s, const char *domain, int64_t now,
                                 mtasts_preload_entry *e, mtasts_err *err);

#endif
