/*
 * store_internal.h - what the parts of the store share (not an API; see
 * store.h). The store is split by concern:
 *
 *     store.c        records: get, put, delete, flush, foreach, stats;
 *                    transactions, map growth and the recoveries
 *     store_env.c    opening the environment: the directory, file checks,
 *                    whose identity creates files, schema, fork
 *     store_evict.c  eviction when the map is at map_max
 *     store_lease.c  single-flight leases
 */
#ifndef MTASTS_STORE_INTERNAL_H
#define MTASTS_STORE_INTERNAL_H

#include "store.h"

#include <lmdb.h>
#include <stdarg.h>

#define META_KEY "\001schema"
#define LEASE_PREFIX "\001lease:"
#define LEASE_PREFIX_LEN (sizeof LEASE_PREFIX - 1)
#define FIRST_DOMAIN_KEY "!"            /* smallest byte a domain key may start with */
/* Growth from 64 KiB to 1 GiB is 14 doublings; add evictions and resizes. */
#define TXN_ATTEMPTS 40
/* Results of a transaction body besides LMDB codes (which are > 0 errno
 * values or in -30799..-30780). */
#define TXN_ABORT (-1)  /* body decided: abort, outcome in its context */
#define TXN_EVICT (-2)  /* body found the map nearly full: evict first */

/* The policy store's schema (meta record value). */
#define MTASTS_STORE_SCHEMA_TEXT MTASTS_STR(MTASTS_STORE_SCHEMA)
#define MTASTS_STR(x) MTASTS_STR_(x)
#define MTASTS_STR_(x) #x
/* Longest file name of an environment opened with store_open_file(). */
#define STORE_FILE_MAX 64

struct mtasts_store {
    MDB_env *env;
    MDB_dbi dbi;
    pid_t pid;                  /* process that opened env */
    bool readonly;              /* env is MDB_RDONLY */
    bool rdonly_chosen;         /* ... though the files are writable: the
                                   first write reopens it (read_first) */
    bool read_first;
    bool want_write;            /* this open is for a write: read-write */
    bool reopen;                /* env had a fatal error: reopen on next call */
    bool busy;                  /* inside foreach: no nested calls */
    bool evicting;              /* inside evict(): no nested eviction */
    bool evict_tried;           /* this call already evicted preemptively */
    unsigned evictions;         /* evictions after MDB_MAP_FULL in this call */
    bool create;
    size_t psize, mapsize, map_initial, map_max, reserve_pages;
    char *path;                 /* the directory */
    char *label;                /* for messages: path, or path/file */
    /* NULL: the policy store, <path>/data.mdb + lock.mdb. Else an
     * environment of its own in one file, <path>/<file> + <file>-lock
     * (MDB_NOSUBDIR): the TLSRPT outcomes (tlsrpt_store.c). */
    const char *file;
    unsigned env_flags;         /* more mdb_env_open() flags (MDB_NOSYNC) */
    const char *schema;         /* the meta record's value */
    bool broken;                /* the last open failed on a damaged file */
    /* The policy store's TLSRPT sibling, opened on first use by
     * tlsrpt_store.c (never by lookups); closed with the store. */
    mtasts_store *outcomes;
    int64_t outcomes_retry;
    bool outcomes_broken;       /* ... because it is damaged */     /* after a failed open: not before this time */
    void (*notify)(void *ctx, const char *msg);
    void *notify_ctx;
};

typedef int (*txn_fn)(mtasts_store *s, MDB_txn *txn, void *ctx);

/* store.c */
void store_notifyf(mtasts_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
mtasts_status store_fail(mtasts_store *s, mtasts_err *err, const char *what, int rc);
bool store_domain_key(const char *domain, char *buf, MDB_val *k);
bool store_parse_i64(const char *p, const char *end, const char **next, int64_t *out);
/* run fn in a read (MDB_RDONLY) or write transaction, recovering and
 * retrying; returns 0, MDB_NOTFOUND, TXN_ABORT (fn's outcome is in ctx)
 * or the failure */
int store_run_txn(mtasts_store *s, unsigned flags, txn_fn fn, void *ctx);
size_t store_free_pages(mtasts_store *s, MDB_txn *txn);
void store_update_mapsize(mtasts_store *s);

/* store_env.c */
mtasts_status store_open_env(mtasts_store *s, mtasts_err *err);
void store_forget_env(mtasts_store *s);
/* the store usable by this process (reopened after fork() or a fatal LMDB
 * error); writable also refuses a read-only store */
mtasts_status store_ready(mtasts_store *s, mtasts_err *err);
mtasts_status store_writable(mtasts_store *s, mtasts_err *err);
int store_schema_write(mtasts_store *s, MDB_txn *txn, void *ctx);
/* open the environment of file (NULL: the policy store) in cfg->path, as
 * safely as the policy store (same checks, same identity switch);
 * *broken (may be NULL) tells a failure on a damaged file */
mtasts_status store_open_file(const mtasts_store_config *cfg, const char *file,
                              unsigned env_flags, const char *schema, mtasts_store **out,
                              bool *broken, mtasts_err *err);
/* the data and lock file names of s */
void store_file_names(const mtasts_store *s, char data[STORE_FILE_MAX],
                      char lock[STORE_FILE_MAX + 8]);
/* an LMDB code that means a damaged environment */
bool store_rc_broken(int rc);
/* rename <path>/<file> and its lock file to "<name>.<suffix>", as the
 * directory's owner (a broken TLSRPT sibling; never the policy store) */
mtasts_status store_move_aside(const char *path, const char *file, const char *suffix,
                               mtasts_err *err);

/* store_evict.c: delete about 10% of the domain records; returns how many */
size_t store_evict(mtasts_store *s);

/* store_lease.c */
bool store_lease_parse(const MDB_val *v, pid_t *pid, int64_t *expiry);

#endif
