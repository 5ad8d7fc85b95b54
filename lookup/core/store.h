/*
 * store.h - the shared LMDB policy store.
 *
 * .nf
 * SYNOPSIS
 *     #include "store.h"
 *
 *     mtasts_status mtasts_store_open(const mtasts_store_config *cfg,
 *                                     mtasts_store **out, mtasts_err *err);
 *     void mtasts_store_close(mtasts_store **s);
 *     mtasts_status mtasts_store_get(mtasts_store *s, const char *domain,
 *                                    mtasts_record *r, mtasts_err *err);
 *     mtasts_status mtasts_store_put(mtasts_store *s, const char *domain,
 *                                    const mtasts_record *r, mtasts_err *err);
 *     ...
 * DESCRIPTION
 *     One LMDB environment (a directory holding data.mdb and lock.mdb)
 *     shared by every Exim process, the CLI and the refresher. Many
 *     short-lived processes, routers running as root and transports as
 *     the Exim user, read and write it:
 *
 *     - Opened lazily; a handle notices fork() (pid check) and reopens,
 *       because an LMDB environment must not be used across fork().
 *     - Each call is one short transaction; no transaction is ever held
 *       between calls (a killed process strands no reader slot for long,
 *       and writers are never blocked by readers). Stale reader slots are
 *       cleared with mdb_reader_check() at open.
 *     - The directory belongs to the Exim user (mode 0750 or 0770). A
 *       root process opens and creates the files with the effective ids
 *       of the directory's owner, never as root, so they come out 0660
 *       with the directory's owner and group and a file planted in the
 *       directory cannot make root write elsewhere. A symbolic link as
 *       the directory, or a data.mdb/lock.mdb that is not a regular file
 *       with one link, makes the store unusable (err says which; callers
 *       answer from the network). See store_env.c.
 *     - MDB_MAP_FULL grows the map geometrically up to map_max, then evicts
 *       runs of neighbouring records (deleting scattered single records
 *       would free no LMDB page): those without a usable policy first,
 *       live enforce policies last, least recently used first within
 *       each (store_evict.c). MDB_MAP_RESIZED adopts the new size. A put
 *       does not fail for lack of room, except a large record in a very
 *       small map (TEMPFAIL).
 *     - A meta record carries the schema version; an unknown schema is
 *       refused (MTASTS_SYSERR with a clear message), never misread.
 *     - An unwritable data.mdb opens read-only (writes then fail with
 *       MTASTS_TEMPFAIL; readers still work; lock.mdb must stay writable,
 *       or on a read-only mount); a missing or unreadable one fails to
 *       open, and callers answer from the network instead.
 *
 *     Keys are lower-case domain names (no trailing dot); values are
 *     mtasts_record_encode() bytes.
 *
 *     Single-flight (lease): when many processes miss the same domain at
 *     once, only the one that holds the domain's lease fetches; a lease
 *     records the holder's pid and an expiry, so a holder killed with
 *     SIGKILL is recovered from when its lease expires (or at once, when
 *     its pid no longer exists on this host).
 * .fi
 */
#ifndef MTASTS_STORE_H
#define MTASTS_STORE_H

#include "common.h"
#include "record.h"

#include <sys/types.h>

/* Debian's Exim spool keeps its hints databases in db/. */
#define MTASTS_STORE_DEFAULT_PATH "/var/spool/exim4/db/mtasts"
/* Initial map and ceiling: a record takes ~250 bytes on disk with LMDB's
 * overhead, so 1 GiB holds millions of domains. */
#define MTASTS_STORE_MAP_INITIAL (8u << 20)
#define MTASTS_STORE_MAP_MAX ((size_t)1 << 30)
/* Concurrent Exim processes reading at once. */
#define MTASTS_STORE_MAX_READERS 1022
/* Schema of the whole store (meta record); bump on incompatible change. */
#define MTASTS_STORE_SCHEMA 1

typedef struct mtasts_store mtasts_store;

typedef struct mtasts_store_config {
    const char *path;       /* directory; NULL: MTASTS_STORE_DEFAULT_PATH */
    size_t map_initial;     /* 0: MTASTS_STORE_MAP_INITIAL */
    size_t map_max;         /* 0: MTASTS_STORE_MAP_MAX */
    bool create;            /* create the directory's files if missing */
    /* Open an existing policy store read-only and reopen it read-write at
     * its first write (store_writable()). For the Exim adapters, whose
     * processes nearly always only read: a writable LMDB environment
     * allocates 3 MB of write buffers at every open (and a process that
     * closed one has glibc serve the next from its heap, zeroed page by
     * page). Read-only files make it read-only as before. */
    bool read_first;
    /* Called for recoveries worth a log line (map grown, entries evicted,
     * stale readers cleared, opened read-only); may be NULL. notify_ctx
     * must stay valid as long as the store: the store calls back long
     * after the call that opened it (after fork(), on eviction). */
    void (*notify)(void *ctx, const char *msg);
    void *notify_ctx;
} mtasts_store_config;

typedef struct mtasts_store_stats {
    size_t entries;          /* domain records */
    size_t map_size;         /* current map size, bytes */
    size_t used_bytes;       /* pages in use * page size */
    unsigned readers_max, readers_used;
} mtasts_store_stats;

mtasts_status mtasts_store_open(const mtasts_store_config *cfg, mtasts_store **out,
                                mtasts_err *err);
void mtasts_store_close(mtasts_store **s);
bool mtasts_store_readonly(const mtasts_store *s);

/* OK (r filled; free with mtasts_record_free), NOT_FOUND, TEMPFAIL, INVALID
 * (a record that does not decode: treat as absent). */
mtasts_status mtasts_store_get(mtasts_store *s, const char *domain, mtasts_record *r,
                               mtasts_err *err);
mtasts_status mtasts_store_put(mtasts_store *s, const char *domain,
                               const mtasts_record *r, mtasts_err *err);
mtasts_status mtasts_store_delete(mtasts_store *s, const char *domain, mtasts_err *err);
/* Remove every domain record (leases too); keeps the meta record and the
 * other non-domain data (TLSRPT outcomes, preload lists). */
mtasts_status mtasts_store_flush(mtasts_store *s, mtasts_err *err);

/* Visit every domain record in key order; stop early when fn returns false.
 * r is valid only during the call; undecodable records are skipped; other
 * store calls from inside fn are refused (MTASTS_SYSERR). */
typedef bool (*mtasts_store_visit_fn)(void *ctx, const char *domain,
                                      const mtasts_record *r);
mtasts_status mtasts_store_foreach(mtasts_store *s, mtasts_store_visit_fn fn, void *ctx,
                                   mtasts_err *err);
mtasts_status mtasts_store_stats_get(mtasts_store *s, mtasts_store_stats *st,
                                     mtasts_err *err);

/* Lease for single-flight fetching. acquire: OK when the caller now holds
 * the lease (ttl seconds from now), TEMPFAIL when another live holder
 * does (*holder set to its pid) or the store is read-only (*holder 0).
 * release: OK when it deleted the caller's lease, NOT_FOUND otherwise. */
mtasts_status mtasts_store_lease_acquire(mtasts_store *s, const char *domain,
                                         int64_t now, unsigned ttl, pid_t *holder,
                                         mtasts_err *err);
mtasts_status mtasts_store_lease_release(mtasts_store *s, const char *domain,
                                         mtasts_err *err);
/* OK when a live holder's lease exists (*holder set), NOT_FOUND otherwise. */
mtasts_status mtasts_store_lease_check(mtasts_store *s, const char *domain, int64_t now,
                                       pid_t *holder, mtasts_err *err);

#endif
