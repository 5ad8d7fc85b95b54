/*
 * store.c - the shared LMDB policy store (contract: store.h).
 *
 * .nf
 * ENVIRONMENT
 *     One unnamed LMDB database in <dir>/data.mdb (+ lock.mdb), opened
 *     MDB_NOTLS | MDB_NOMETASYNC:
 *     - MDB_NOTLS: Exim has no threads; a reader slot then belongs to the
 *       transaction object rather than to a thread-specific key.
 *     - MDB_NOMETASYNC: data pages are fsync()ed at commit, the meta page is
 *       not. An OS crash or power loss may undo the last commit, but LMDB
 *       keeps the store consistent; losing one cache update is harmless and
 *       saves one fsync per write.
 *     Each call runs in one short transaction and keeps none afterwards.
 *     Read transactions are begun and aborted rather than reset/renewed:
 *     a reset transaction keeps its reader slot between calls, a child
 *     could not free it (aborting it there clears the parent's slot in the
 *     shared lock file), and renew saves only 0.1-0.25 us of a 2.6-4.6 us
 *     lookup at 1k-100k records (store_stress bench; decode dominates).
 *
 * KEYS
 *     "<domain>"          lower-case domain (bytes 0x21-0x7e, no trailing dot):
 *                         mtasts_record_encode() text.
 *     "\1schema"          the schema number, "1" (MTASTS_STORE_SCHEMA).
 *     "\1lease:<domain>"  "<pid> <expiry>" (decimal): single-flight lease.
 *     A domain never starts with \1, so domain records are exactly the keys
 *     from "!" (0x21) on; foreach, stats and eviction start there.
 *
 * FILES AND OWNERSHIP
 *     Routers run as root, transports as Debian-exim; both must write.
 *     Files are created with the umask relaxed so they come out 0660, and
 *     a root process lchown()s data.mdb and lock.mdb to the owner and group
 *     of the store directory when they differ (lchown: never follows a
 *     link planted in a directory the Exim user can write). Symbolic links
 *     or other non-regular files in their place are refused.
 *     When data.mdb exists but is not writable by this process (access(2)
 *     with the effective ids), or mdb_env_open() says EACCES/EROFS, the
 *     store opens MDB_RDONLY: gets work, writes return TEMPFAIL. lock.mdb
 *     must still be writable (LMDB records readers in it; reading without
 *     locks while others write is unsafe), except on a read-only file
 *     system, where LMDB itself skips the lock file.
 *
 * FORK
 *     LMDB forbids using an environment across fork(). Every call compares
 *     getpid() with the pid recorded at open; in a child the inherited
 *     environment is closed and the store reopened. mdb_env_close() is safe
 *     in the child from LMDB 0.9.23 on (ITS#8844): it clears only reader
 *     slots of getpid() (the child has none), munmap()s and close()s its own
 *     copies (fcntl locks belong to the parent process and are not affected
 *     by the child closing descriptors). With an older library the handle is
 *     leaked instead: their close cleared slots of the opener's pid.
 *
 * MAP SIZE AND EVICTION (after Postfix slmdb_recover())
 *     MDB_MAP_FULL doubles the map up to map_max and retries.
 *     MDB_MAP_RESIZED (another process grew it): mdb_env_set_mapsize(0).
 *     MDB_READERS_FULL: one mdb_reader_check() and one retry, then TEMPFAIL.
 *     At map_max records are evicted. LMDB copies every page it modifies,
 *     so even a delete needs free pages, and deleting scattered records
 *     frees none (a leaf page is only merged below 25% fill). So eviction
 *     (1) starts before the map is exhausted: a put at map_max first checks
 *     that the free pages (map - pages in use, from mdb_stat() of both
 *     trees: O(1)) are at least map_max/16 (min 16 pages), else evicts
 *     (a margin: pages freed by the last commit are reusable only after the
 *     next one, and readers pin pages); and
 *     (2) deletes runs of consecutive keys, ~4 leaf pages each, which frees
 *     whole pages. The runs chosen are those whose most recently used
 *     record (last_used, then expires_at) is oldest, about 10% of the
 *     records per round: a record used recently protects its run.
 *     MDB_MAP_FULL at map_max also evicts. Expired leases go at the same
 *     time. Retries are bounded (TXN_ATTEMPTS); recoveries go to notify.
 *
 * LEASES
 *     acquire: one write transaction; the lease is taken when absent,
 *     expired (now >= expiry), ours, or held by a pid that no longer exists
 *     (kill(pid, 0) fails with ESRCH; an unreaped zombie still counts as
 *     alive). release deletes only a lease held by getpid() (OK), else
 *     leaves it (NOT_FOUND). A read-only store cannot record leases:
 *     acquire returns TEMPFAIL with *holder 0 (fetch without single-flight).
 * .fi
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* faccessat, lchown, strdup, kill */
#endif
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

struct mtasts_store {
    MDB_env *env;
    MDB_dbi dbi;
    pid_t pid;                  /* process that opened env */
    bool readonly;
    bool reopen;                /* env had a fatal error: reopen on next call */
    bool busy;                  /* inside foreach: no nested calls */
    bool evicting;              /* inside evict(): no nested eviction */
    bool evict_tried;           /* this call already evicted preemptively */
    unsigned evictions;         /* evictions after MDB_MAP_FULL in this call */
    bool create;
    size_t psize, mapsize, map_initial, map_max, reserve_pages;
    char *path;
    void (*notify)(void *ctx, const char *msg);
    void *notify_ctx;
};

static void notifyf(mtasts_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void notifyf(mtasts_store *s, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (!s->notify)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->notify(s->notify_ctx, msg);
}

/* status_of - the mtasts status for an LMDB or errno code */
static mtasts_status status_of(int rc)
{
    switch (rc) {
    case 0: return MTASTS_OK;
    case MDB_NOTFOUND: return MTASTS_NOT_FOUND;
    case MDB_MAP_FULL: case MDB_MAP_RESIZED: case MDB_READERS_FULL:
    case MDB_TXN_FULL: case MDB_BAD_RSLOT: case TXN_EVICT:
    case EAGAIN: case EBUSY: case EACCES: case EPERM: case EROFS: case ENOSPC:
    case EINTR:
        return MTASTS_TEMPFAIL;
    }
    return MTASTS_SYSERR;
}

/* fail - record an LMDB failure; returns its status */
static mtasts_status fail(mtasts_store *s, mtasts_err *err, const char *what, int rc)
{
    if (rc == MDB_PANIC || rc == MDB_CORRUPTED)
        s->reopen = true;
    mtasts_errf(err, "store: %s %s: %s", what, s->path,
                rc == TXN_EVICT ? "map full" : mdb_strerror(rc));
    return status_of(rc);
}

/* domain_key - validate and normalise a domain into buf ("Example.COM." ->
 * "example.com"); false if it cannot be a domain key */
static bool domain_key(const char *domain, char *buf, MDB_val *k)
{
    size_t n = domain ? strlen(domain) : 0, i;

    if (n > 0 && domain[n - 1] == '.')
        n--;
    if (n == 0 || n > MTASTS_DOMAIN_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)domain[i];

        if (c <= 0x20 || c >= 0x7f)
            return false;
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[n] = '\0';
    k->mv_data = buf;
    k->mv_size = n;
    return true;
}

static bool is_domain_key(const MDB_val *k)
{
    return k->mv_size > 0 && ((const unsigned char *)k->mv_data)[0] > 0x20;
}

/* parse_i64 - a decimal integer at p (optional '-'), up to end or a space */
static bool parse_i64(const char *p, const char *end, const char **next, int64_t *out)
{
    bool neg = p < end && *p == '-';
    int64_t v = 0;
    const char *start;

    p += neg;
    start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 18)
        v = v * 10 + (*p++ - '0');
    if (p == start || (p < end && *p != ' ' && *p != '\n'))
        return false;
    *out = neg ? -v : v;
    if (next)
        *next = p;
    return true;
}

/* rec_time - the value of the "key: N" line of an encoded record, 0 if
 * absent (eviction reads only these, without a full decode) */
static int64_t rec_time(const MDB_val *v, const char *key)
{
    const char *p = v->mv_data, *end = p + v->mv_size;
    size_t kl = strlen(key);
    int64_t t;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));

        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > kl && memcmp(p, key, kl) == 0)
            return parse_i64(p + kl, eol, NULL, &t) ? t : 0;
        p = eol + 1;
    }
    return 0;
}

/* lease_parse - "<pid> <expiry>" */
static bool lease_parse(const MDB_val *v, pid_t *pid, int64_t *expiry)
{
    const char *p = v->mv_data, *end = p + v->mv_size;
    int64_t x;

    if (!parse_i64(p, end, &p, &x) || x <= 0 || x > INT32_MAX || p >= end)
        return false;
    *pid = (pid_t)x;
    return parse_i64(p + 1, end, NULL, expiry);
}

/* alive - does pid exist? (EPERM: it does, under another uid) */
static bool alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* ------------------------------------------------------------------ */
/* Map size and transactions                                            */

static void update_mapsize(mtasts_store *s)
{
    MDB_envinfo info;

    if (mdb_env_info(s->env, &info) == 0)
        s->mapsize = info.me_mapsize;
}

static size_t evict(mtasts_store *s);

/* recover - handle a recoverable failure (no transaction active);
 * true: retry */
static bool recover(mtasts_store *s, int rc, bool *readers_checked)
{
    int dead = 0;

    switch (rc) {
    case MDB_MAP_FULL:
        if (s->mapsize < s->map_max) {
            size_t size = s->mapsize * 2;

            if (size > s->map_max || size < s->mapsize)
                size = s->map_max;
            if (mdb_env_set_mapsize(s->env, size) != 0)
                return false;
            update_mapsize(s);
            notifyf(s, "store: map of %s grown to %zu KiB", s->path, s->mapsize >> 10);
            return true;
        }
        /* At map_max: evict, at most 3 rounds per call. Nothing to evict
         * with pages free means readers still pin the freed pages (LMDB
         * reuses a page only once no snapshot can see it): yield to them
         * and retry, a bounded number of times, without sleeping. */
        if (s->evicting || s->evictions++ >= 3)
            return false;
        if (evict(s) == 0)
            sched_yield();
        return true;
    case TXN_EVICT:
        if (s->evicting)
            return false;
        s->evict_tried = true;
        evict(s);
        return true;    /* retry the put even if nothing could go */
    case MDB_MAP_RESIZED:
        if (mdb_env_set_mapsize(s->env, 0) != 0)
            return false;
        update_mapsize(s);
        notifyf(s, "store: map of %s resized by another process to %zu KiB", s->path,
                s->mapsize >> 10);
        return true;
    case MDB_READERS_FULL:
        if (*readers_checked)
            return false;
        *readers_checked = true;
        if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
            notifyf(s, "store: cleared %d stale reader slot(s) of %s", dead, s->path);
        return true;
    }
    return false;
}

typedef int (*txn_fn)(mtasts_store *s, MDB_txn *txn, void *ctx);

/* run_txn - run fn in a read (MDB_RDONLY) or write transaction,
 * recovering and retrying; returns 0, MDB_NOTFOUND, TXN_ABORT (fn's
 * outcome is in ctx) or the failure */
static int run_txn(mtasts_store *s, unsigned flags, txn_fn fn, void *ctx)
{
    bool readers_checked = false;
    int rc = 0, attempt;

    for (attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
        MDB_txn *txn;

        rc = mdb_txn_begin(s->env, NULL, flags, &txn);
        if (rc == 0) {
            rc = fn(s, txn, ctx);
            if (rc == 0 && !(flags & MDB_RDONLY))
                rc = mdb_txn_commit(txn);   /* frees txn, also on failure */
            else
                mdb_txn_abort(txn);
        }
        if (rc == 0 || rc == MDB_NOTFOUND || rc == TXN_ABORT)
            return rc;
        if (!recover(s, rc, &readers_checked))
            return rc;
    }
    return rc;
}

/* free_pages - pages of the map not in use (free list or never used) */
static size_t free_pages(mtasts_store *s, MDB_txn *txn)
{
    MDB_stat m, f;
    size_t used, pages = s->mapsize / s->psize;

    if (mdb_stat(txn, s->dbi, &m) != 0 || mdb_stat(txn, 0 /* free DB */, &f) != 0)
        return pages;
    used = m.ms_branch_pages + m.ms_leaf_pages + m.ms_overflow_pages + f.ms_branch_pages
         + f.ms_leaf_pages + f.ms_overflow_pages + 2 /* meta pages */;
    return used < pages ? pages - used : 0;
}

/* pool_low - at map_max, are fewer than reserve_pages pages free? */
static bool pool_low(mtasts_store *s, MDB_txn *txn)
{
    return s->mapsize >= s->map_max && !s->evict_tried && !s->evicting
        && free_pages(s, txn) < s->reserve_pages;
}

/* ------------------------------------------------------------------ */
/* Eviction                                                             */

typedef struct run_score {
    int64_t used, expires;      /* of the run's most recently used record */
} run_score;

static int score_cmp(const run_score *a, const run_score *b)
{
    if (a->used != b->used)
        return a->used < b->used ? -1 : 1;
    return a->expires < b->expires ? -1 : a->expires > b->expires;
}

static int score_qsort(const void *a, const void *b)
{
    return score_cmp(a, b);
}

typedef struct evict_ctx {
    size_t run_len, nruns, cap;
    run_score *scores;
    run_score limit;            /* runs scoring below go, ties while ties > 0 */
    size_t ties, batch_runs, deleted, leases;
    size_t free_at_scan;        /* free pages seen by pass 1 */
    size_t pend_deleted, pend_ties, pend_leases;
    char resume[MTASTS_DOMAIN_MAX + 1], next[MTASTS_DOMAIN_MAX + 1];
    bool done, pend_done;
} evict_ctx;

static void score_add(run_score *sc, const MDB_val *v)
{
    run_score r = {rec_time(v, "last_used: "), rec_time(v, "expires_at: ")};

    if (score_cmp(&r, sc) > 0)
        *sc = r;
}

/* scan_runs - pass 1: the score of each run of run_len consecutive records */
static int scan_runs(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    evict_ctx *e = ctx;
    MDB_cursor *c;
    MDB_stat st;
    MDB_val k = {1, FIRST_DOMAIN_KEY}, v;
    size_t n = 0;
    int rc;

    if ((rc = mdb_stat(txn, s->dbi, &st)) != 0 || (rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    /* ~4 leaf pages per run: deleting it frees about 3 whole pages. */
    e->run_len = 4 * st.ms_entries / (st.ms_leaf_pages ? st.ms_leaf_pages : 1);
    e->run_len = e->run_len < 4 ? 4 : e->run_len > 1024 ? 1024 : e->run_len;
    e->nruns = 0;
    e->free_at_scan = free_pages(s, txn);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (n++ % e->run_len == 0) {
            if (e->nruns == e->cap) {
                size_t cap = e->cap ? 2 * e->cap : 256;
                run_score *p = realloc(e->scores, cap * sizeof *p);

                if (!p) {
                    rc = ENOMEM;
                    break;
                }
                e->scores = p;
                e->cap = cap;
            }
            e->scores[e->nruns++] = (run_score){INT64_MIN, INT64_MIN};
        }
        score_add(&e->scores[e->nruns - 1], &v);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* drop_expired_leases - delete leases whose expiry has passed */
static int drop_expired_leases(mtasts_store *s, MDB_txn *txn, size_t *count)
{
    MDB_cursor *c;
    MDB_val k = {LEASE_PREFIX_LEN, LEASE_PREFIX}, v;
    int64_t now = (int64_t)time(NULL), expiry;
    pid_t pid;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < LEASE_PREFIX_LEN || memcmp(k.mv_data, LEASE_PREFIX, LEASE_PREFIX_LEN))
            break;
        if (!lease_parse(&v, &pid, &expiry) || expiry <= now) {
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
            ++*count;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* delete_runs - pass 2: from e->resume, delete up to batch_runs chosen runs */
static int delete_runs(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    evict_ctx *e = ctx;
    MDB_cursor *c;
    MDB_val k = {strlen(e->resume), e->resume}, v;
    size_t runs = 0, n, i;
    int rc;

    e->pend_deleted = e->pend_leases = 0;
    e->pend_ties = e->ties;
    e->pend_done = false;
    if (e->deleted == 0 && free_pages(s, txn) >= e->free_at_scan + s->reserve_pages) {
        e->pend_done = true;    /* another process evicted since pass 1 */
        return 0;
    }
    if (e->deleted == 0 && (rc = drop_expired_leases(s, txn, &e->pend_leases)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && runs < e->batch_runs) {
        char first[MTASTS_DOMAIN_MAX + 1];
        run_score sc = {INT64_MIN, INT64_MIN};
        MDB_val fk;

        if (k.mv_size > MTASTS_DOMAIN_MAX) {
            rc = MDB_NOTFOUND;  /* not a key of ours: stop here */
            break;
        }
        memcpy(first, k.mv_data, k.mv_size);
        fk = (MDB_val){k.mv_size, first};
        for (n = 0; rc == 0 && n < e->run_len; n++) {
            score_add(&sc, &v);
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (rc == 0 && k.mv_size <= MTASTS_DOMAIN_MAX) {
            memcpy(e->next, k.mv_data, k.mv_size);
            e->next[k.mv_size] = '\0';
        } else {
            e->next[0] = '\0';
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            break;
        {
            int cmp = score_cmp(&sc, &e->limit);

            if (cmp < 0 || (cmp == 0 && e->pend_ties > 0)) {
                if (cmp == 0)
                    e->pend_ties--;
                /* The run is exactly the n keys from first on. */
                for (i = 0; i < n; i++) {
                    MDB_val dk = fk;

                    if ((rc = mdb_cursor_get(c, &dk, &v, MDB_SET_RANGE)) != 0
                        || (rc = mdb_cursor_del(c, 0)) != 0)
                        break;
                }
                if (rc != 0)
                    break;
                e->pend_deleted += n;
                runs++;
            }
        }
        if (!e->next[0]) {
            rc = MDB_NOTFOUND;
            break;
        }
        k = (MDB_val){strlen(e->next), e->next};
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        e->pend_done = true;
        rc = 0;
    }
    return rc;          /* else e->next is where the next batch starts */
}

/* evict - delete about 10% of the domain records, the runs of consecutive
 * keys least recently used; returns the number deleted (leases apart) */
static size_t evict(mtasts_store *s)
{
    evict_ctx e;
    size_t m, i, entries;
    int rc;

    memset(&e, 0, sizeof e);
    s->evicting = true;
    rc = run_txn(s, MDB_RDONLY, scan_runs, &e);
    if (rc == 0 && e.nruns > 0) {
        run_score *sorted = malloc(e.nruns * sizeof *sorted);

        if (sorted) {
            memcpy(sorted, e.scores, e.nruns * sizeof *sorted);
            qsort(sorted, e.nruns, sizeof *sorted, score_qsort);
            m = (e.nruns + 9) / 10;
            e.limit = sorted[m - 1];
            for (i = 0; i < m && score_cmp(&sorted[i], &e.limit) < 0; i++)
                ;
            e.ties = m - i;
            free(sorted);
            /* Few runs per transaction: each needs only a few new pages. */
            e.batch_runs = s->reserve_pages / 16;
            strcpy(e.resume, FIRST_DOMAIN_KEY);
            while (!e.done) {
                if ((rc = run_txn(s, 0, delete_runs, &e)) != 0)
                    break;
                e.deleted += e.pend_deleted;
                e.leases += e.pend_leases;
                e.ties = e.pend_ties;
                e.done = e.pend_done || !e.next[0];
                strcpy(e.resume, e.next);
            }
        }
    }
    entries = e.nruns * e.run_len;
    free(e.scores);
    s->evicting = false;
    if (e.deleted || e.leases)
        notifyf(s, "store: map of %s full at %zu KiB: evicted %zu of ~%zu records"
                " (least recently used runs), %zu expired leases%s%s",
                s->path, s->mapsize >> 10, e.deleted, entries, e.leases,
                rc ? ", stopped: " : "", rc ? mdb_strerror(rc) : "");
    return e.deleted;
}

/* ------------------------------------------------------------------ */
/* Open and fork handling                                               */

/* forget_env - drop the environment, safely also in a forked child */
static void forget_env(mtasts_store *s)
{
    int major, minor, patch;

    if (!s->env)
        return;
    mdb_version(&major, &minor, &patch);
    if (s->pid == getpid()
        || MDB_VERINT(major, minor, patch) >= MDB_VERINT(0, 9, 23))
        mdb_env_close(s->env);
    /* else: an inherited handle of an old LMDB is leaked on purpose. */
    s->env = NULL;
}

typedef struct schema_ctx {
    char value[16];             /* the meta value, truncated, NUL-terminated */
} schema_ctx;

/* schema_read - read the meta record (a copy: the map is gone after txn) */
static int schema_read(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    schema_ctx *sc = ctx;
    MDB_val k = {sizeof META_KEY - 1, META_KEY}, v;
    MDB_stat st;
    int rc;

    if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0)
        return rc;
    rc = mdb_get(txn, s->dbi, &k, &v);
    if (rc == MDB_NOTFOUND && mdb_stat(txn, s->dbi, &st) == 0 && st.ms_entries > 0)
        return MDB_INCOMPATIBLE;        /* records, but no schema: not ours */
    if (rc == 0)
        snprintf(sc->value, sizeof sc->value, "%.*s",
                 (int)(v.mv_size < 15 ? v.mv_size : 15), (const char *)v.mv_data);
    return rc;
}

static int schema_write(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    char num[16];
    MDB_val k = {sizeof META_KEY - 1, META_KEY};
    MDB_val v = {(size_t)snprintf(num, sizeof num, "%d", MTASTS_STORE_SCHEMA), num};
    int rc = mdb_put(txn, s->dbi, &k, &v, MDB_NOOVERWRITE);

    (void)ctx;
    return rc == MDB_KEYEXIST ? TXN_ABORT : rc;  /* another process was first */
}

/* check_schema - refuse a store of another schema; initialise a new one */
static mtasts_status check_schema(mtasts_store *s, mtasts_err *err)
{
    char want[16];
    schema_ctx sc;
    int rc = run_txn(s, MDB_RDONLY, schema_read, &sc), tries;

    for (tries = 0; rc == MDB_NOTFOUND && !s->readonly && tries < 2; tries++) {
        rc = run_txn(s, 0, schema_write, NULL);
        if (rc == 0 || rc == TXN_ABORT)
            rc = run_txn(s, MDB_RDONLY, schema_read, &sc);
    }
    if (rc == MDB_NOTFOUND && s->readonly)
        return MTASTS_OK;               /* empty and not ours to initialise */
    if (rc == MDB_INCOMPATIBLE) {
        mtasts_errf(err, "store: %s has records but no schema record", s->path);
        return MTASTS_SYSERR;
    }
    if (rc != 0)
        return fail(s, err, "reading the schema of", rc);
    snprintf(want, sizeof want, "%d", MTASTS_STORE_SCHEMA);
    if (strcmp(sc.value, want) != 0) {
        mtasts_errf(err, "store: %s: store schema %s unknown (expected %d)", s->path,
                    sc.value, MTASTS_STORE_SCHEMA);
        return MTASTS_SYSERR;
    }
    return MTASTS_OK;
}

/* fix_owner - give a root-created file the directory's owner and group */
static void fix_owner(mtasts_store *s, const struct stat *dir, const char *file)
{
    struct stat st;

    if (lstat(file, &st) == 0 && S_ISREG(st.st_mode)
        && (st.st_uid != dir->st_uid || st.st_gid != dir->st_gid)
        && lchown(file, dir->st_uid, dir->st_gid) != 0)
        notifyf(s, "store: cannot chown %s: %s", file, strerror(errno));
}

/* open_env - (re)open the environment at s->path */
static mtasts_status open_env(mtasts_store *s, mtasts_err *err)
{
    char data[4096], lock[4096];
    struct stat dir, st;
    bool fresh = false;
    int rc = 0, dead = 0, tries;

    s->pid = getpid();
    s->reopen = false;
    if ((size_t)snprintf(data, sizeof data, "%s/data.mdb", s->path) >= sizeof data
        || (size_t)snprintf(lock, sizeof lock, "%s/lock.mdb", s->path) >= sizeof lock) {
        mtasts_errf(err, "store: path too long: %s", s->path);
        return MTASTS_SYSERR;
    }
    if (stat(s->path, &dir) != 0) {
        mtasts_errf(err, "store: %s: %s", s->path, strerror(errno));
        return errno == ENOENT ? MTASTS_NOT_FOUND : MTASTS_SYSERR;
    }
    if (!S_ISDIR(dir.st_mode)) {
        mtasts_errf(err, "store: %s: not a directory", s->path);
        return MTASTS_SYSERR;
    }
    if (lstat(data, &st) != 0) {
        if (errno != ENOENT || !s->create) {
            mtasts_errf(err, "store: %s: %s", data, strerror(errno));
            return errno == ENOENT ? MTASTS_NOT_FOUND : MTASTS_SYSERR;
        }
        fresh = true;
    } else if (!S_ISREG(st.st_mode) || (lstat(lock, &st) == 0 && !S_ISREG(st.st_mode))) {
        mtasts_errf(err, "store: %s: data.mdb or lock.mdb is not a regular file", s->path);
        return MTASTS_SYSERR;
    }
    /* Effective ids: a transport runs as the Exim user. */
    s->readonly = !fresh && faccessat(AT_FDCWD, data, W_OK, AT_EACCESS) != 0;
    for (tries = 0; tries < 2; tries++) {
        mode_t mask;

        if ((rc = mdb_env_create(&s->env)) != 0)
            break;
        mdb_env_set_maxreaders(s->env, MTASTS_STORE_MAX_READERS);
        if (fresh)
            mdb_env_set_mapsize(s->env, s->map_initial);
        /* else: the size recorded in the store, grown by others maybe */
        mask = umask(0);
        umask(mask & ~(mode_t)0660);    /* files come out exactly 0660 */
        rc = mdb_env_open(s->env, s->path,
                          MDB_NOTLS | MDB_NOMETASYNC | (s->readonly ? MDB_RDONLY : 0), 0660);
        umask(mask);
        if (rc == 0)
            break;
        mdb_env_close(s->env);          /* required after a failed open */
        s->env = NULL;
        if (s->readonly || fresh || (rc != EACCES && rc != EROFS))
            break;
        s->readonly = true;             /* e.g. a read-only file system */
    }
    if (rc != 0) {
        mtasts_errf(err, "store: cannot open %s%s: %s", s->path,
                    s->readonly ? " read-only" : "", mdb_strerror(rc));
        return rc == ENOENT ? MTASTS_NOT_FOUND
             : rc == EAGAIN || rc == EBUSY || rc == EINTR ? MTASTS_TEMPFAIL : MTASTS_SYSERR;
    }
    if (s->readonly)
        notifyf(s, "store: %s opened read-only (data.mdb not writable by uid %ld)",
                s->path, (long)geteuid());
    else if (geteuid() == 0) {
        fix_owner(s, &dir, data);
        fix_owner(s, &dir, lock);
    }
    if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
        notifyf(s, "store: cleared %d stale reader slot(s) of %s", dead, s->path);
    {
        MDB_stat ms;

        mdb_env_stat(s->env, &ms);
        s->psize = ms.ms_psize;
    }
    update_mapsize(s);
    if (!s->readonly && s->mapsize < s->map_initial
        && mdb_env_set_mapsize(s->env, s->map_initial) == 0)
        update_mapsize(s);
    s->reserve_pages = s->map_max / s->psize / 16 < 16 ? 16 : s->map_max / s->psize / 16;
    {
        mtasts_status st2 = check_schema(s, err);

        if (st2 != MTASTS_OK) {
            forget_env(s);
            return st2;
        }
    }
    return MTASTS_OK;
}

/* ready - the store is usable by this process: reopen after fork() or a
 * fatal LMDB error; refuse calls from inside foreach */
static mtasts_status ready(mtasts_store *s, mtasts_err *err)
{
    if (!s) {
        mtasts_errf(err, "store: not open");
        return MTASTS_SYSERR;
    }
    if (s->busy) {
        mtasts_errf(err, "store: called from inside mtasts_store_foreach()");
        return MTASTS_SYSERR;
    }
    s->evict_tried = false;
    s->evictions = 0;
    if (s->env && s->pid == getpid() && !s->reopen)
        return MTASTS_OK;
    forget_env(s);
    return open_env(s, err);
}

static mtasts_status writable(mtasts_store *s, mtasts_err *err)
{
    mtasts_status st = ready(s, err);

    if (st == MTASTS_OK && s->readonly) {
        mtasts_errf(err, "store: %s is read-only for uid %ld", s->path, (long)geteuid());
        return MTASTS_TEMPFAIL;
    }
    return st;
}

mtasts_status mtasts_store_open(const mtasts_store_config *cfg, mtasts_store **out,
                                mtasts_err *err)
{
    mtasts_store *s = calloc(1, sizeof *s);
    const char *path = cfg && cfg->path ? cfg->path : MTASTS_STORE_DEFAULT_PATH;
    mtasts_status st;

    *out = NULL;
    if (!s || !(s->path = strdup(path))) {
        free(s);
        mtasts_errf(err, "store: out of memory");
        return MTASTS_SYSERR;
    }
    s->map_initial = cfg && cfg->map_initial ? cfg->map_initial : MTASTS_STORE_MAP_INITIAL;
    s->map_max = cfg && cfg->map_max ? cfg->map_max : MTASTS_STORE_MAP_MAX;
    {
        /* LMDB wants page multiples; its page size is the OS page size. */
        long page = sysconf(_SC_PAGESIZE);
        size_t ps = page > 0 ? (size_t)page : 4096;

        s->map_initial = (s->map_initial + ps - 1) / ps * ps;
        s->map_max = s->map_max / ps * ps;
        /* A ceiling below the initial size is the size (16 pages at least). */
        if (s->map_max < 16 * ps)
            s->map_max = 16 * ps;
        if (s->map_max < s->map_initial)
            s->map_initial = s->map_max;
    }
    s->create = cfg && cfg->create;
    s->notify = cfg ? cfg->notify : NULL;
    s->notify_ctx = cfg ? cfg->notify_ctx : NULL;
    st = open_env(s, err);
    if (st != MTASTS_OK) {
        mtasts_store_close(&s);
        return st;
    }
    *out = s;
    return MTASTS_OK;
}

void mtasts_store_close(mtasts_store **sp)
{
    if (!sp || !*sp)
        return;
    forget_env(*sp);
    free((*sp)->path);
    free(*sp);
    *sp = NULL;
}

bool mtasts_store_readonly(const mtasts_store *s)
{
    return s && s->readonly;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */

typedef struct rec_ctx {
    MDB_val key;
    mtasts_record *r;           /* get */
    const char *buf;            /* put: the encoding */
    size_t len;
    mtasts_status st;
    mtasts_err *err;
} rec_ctx;

static int get_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    rec_ctx *c = ctx;
    MDB_val v;
    int rc = mdb_get(txn, s->dbi, &c->key, &v);

    if (rc == 0)
        c->st = mtasts_record_decode(v.mv_data, v.mv_size, c->r, c->err);
    return rc;
}

mtasts_status mtasts_store_get(mtasts_store *s, const char *domain, mtasts_record *r,
                               mtasts_err *err)
{
    char buf[MTASTS_DOMAIN_MAX + 1];
    rec_ctx c = {.r = r, .err = err};
    mtasts_status st;
    int rc;

    mtasts_record_init(r);
    if ((st = ready(s, err)) != MTASTS_OK)
        return st;
    if (!domain_key(domain, buf, &c.key)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    rc = run_txn(s, MDB_RDONLY, get_fn, &c);
    if (rc == 0)
        return c.st;
    return rc == MDB_NOTFOUND ? MTASTS_NOT_FOUND : fail(s, err, "reading", rc);
}

static int put_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    rec_ctx *c = ctx;
    MDB_val v = {c->len, (void *)c->buf};

    if (pool_low(s, txn))
        return TXN_EVICT;
    return mdb_put(txn, s->dbi, &c->key, &v, 0);
}

mtasts_status mtasts_store_put(mtasts_store *s, const char *domain,
                               const mtasts_record *r, mtasts_err *err)
{
    char kbuf[MTASTS_DOMAIN_MAX + 1], vbuf[MTASTS_RECORD_MAX];
    rec_ctx c = {.buf = vbuf};
    mtasts_status st;
    int rc;

    if ((st = writable(s, err)) != MTASTS_OK)
        return st;
    if (!domain_key(domain, kbuf, &c.key)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    if ((st = mtasts_record_encode(r, vbuf, sizeof vbuf, &c.len, err)) != MTASTS_OK)
        return st;
    rc = run_txn(s, 0, put_fn, &c);
    return rc == 0 ? MTASTS_OK : fail(s, err, "writing", rc);
}

static int del_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    return mdb_del(txn, s->dbi, &((rec_ctx *)ctx)->key, NULL);
}

mtasts_status mtasts_store_delete(mtasts_store *s, const char *domain, mtasts_err *err)
{
    char buf[MTASTS_DOMAIN_MAX + 1];
    rec_ctx c = {.err = err};
    mtasts_status st;
    int rc;

    if ((st = writable(s, err)) != MTASTS_OK)
        return st;
    if (!domain_key(domain, buf, &c.key)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    rc = run_txn(s, 0, del_fn, &c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc == 0 ? MTASTS_OK : MTASTS_NOT_FOUND;
    return fail(s, err, "deleting from", rc);
}

static int flush_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    int rc = mdb_drop(txn, s->dbi, 0);

    return rc ? rc : schema_write(s, txn, ctx);
}

mtasts_status mtasts_store_flush(mtasts_store *s, mtasts_err *err)
{
    mtasts_status st;
    int rc;

    if ((st = writable(s, err)) != MTASTS_OK)
        return st;
    rc = run_txn(s, 0, flush_fn, NULL);
    return rc == 0 ? MTASTS_OK : fail(s, err, "flushing", rc);
}

typedef struct each_ctx {
    mtasts_store_visit_fn fn;
    void *ctx;
} each_ctx;

static int each_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    each_ctx *e = ctx;
    MDB_cursor *c;
    MDB_val k = {1, FIRST_DOMAIN_KEY}, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char domain[MTASTS_DOMAIN_MAX + 1];
        mtasts_record r;
        bool more;

        if (k.mv_size > MTASTS_DOMAIN_MAX
            || mtasts_record_decode(v.mv_data, v.mv_size, &r, NULL) != MTASTS_OK)
            continue;           /* not decodable: as if absent */
        memcpy(domain, k.mv_data, k.mv_size);
        domain[k.mv_size] = '\0';
        more = e->fn(e->ctx, domain, &r);
        mtasts_record_free(&r);
        if (!more)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

mtasts_status mtasts_store_foreach(mtasts_store *s, mtasts_store_visit_fn fn, void *ctx,
                                   mtasts_err *err)
{
    each_ctx e = {fn, ctx};
    mtasts_status st;
    int rc;

    if ((st = ready(s, err)) != MTASTS_OK)
        return st;
    s->busy = true;     /* fn runs inside a read txn: no resize, no nesting */
    rc = run_txn(s, MDB_RDONLY, each_fn, &e);
    s->busy = false;
    return rc == 0 ? MTASTS_OK : fail(s, err, "reading", rc);
}

static int stats_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    mtasts_store_stats *st = ctx;
    MDB_stat m, f;
    MDB_cursor *c;
    MDB_val k, v;
    size_t other = 0;
    int rc;

    if ((rc = mdb_stat(txn, s->dbi, &m)) != 0 || (rc = mdb_stat(txn, 0, &f)) != 0
        || (rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    /* Non-domain keys (meta, leases) sort first. */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !is_domain_key(&k);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        other++;
    mdb_cursor_close(c);
    st->entries = m.ms_entries - other;
    st->used_bytes = (m.ms_branch_pages + m.ms_leaf_pages + m.ms_overflow_pages
                      + f.ms_branch_pages + f.ms_leaf_pages + f.ms_overflow_pages + 2)
                     * m.ms_psize;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* count_reader - mdb_reader_list() callback: one line per used slot */
static int count_reader(const char *line, void *ctx)
{
    line += strspn(line, " ");
    if (*line >= '0' && *line <= '9')
        ++*(unsigned *)ctx;
    return 0;
}

mtasts_status mtasts_store_stats_get(mtasts_store *s, mtasts_store_stats *st,
                                     mtasts_err *err)
{
    MDB_envinfo info;
    mtasts_status status;
    int rc;

    memset(st, 0, sizeof *st);
    if ((status = ready(s, err)) != MTASTS_OK)
        return status;
    if ((rc = run_txn(s, MDB_RDONLY, stats_fn, st)) != 0)
        return fail(s, err, "reading", rc);
    if ((rc = mdb_env_info(s->env, &info)) != 0)
        return fail(s, err, "reading", rc);
    st->map_size = info.me_mapsize;
    st->readers_max = info.me_maxreaders;
    mdb_reader_list(s->env, count_reader, &st->readers_used);
    return MTASTS_OK;
}

/* ------------------------------------------------------------------ */
/* Leases                                                               */

typedef struct lease_ctx {
    char kbuf[LEASE_PREFIX_LEN + MTASTS_DOMAIN_MAX + 1];
    MDB_val key;
    int64_t now;
    unsigned ttl;
    pid_t holder;
} lease_ctx;

static bool lease_key(const char *domain, lease_ctx *l)
{
    MDB_val dk;

    memcpy(l->kbuf, LEASE_PREFIX, LEASE_PREFIX_LEN);
    if (!domain_key(domain, l->kbuf + LEASE_PREFIX_LEN, &dk))
        return false;
    l->key = (MDB_val){LEASE_PREFIX_LEN + dk.mv_size, l->kbuf};
    return true;
}

/* lease_holder - the live holder of the lease read in txn, else 0 */
static int lease_holder(mtasts_store *s, MDB_txn *txn, lease_ctx *l, pid_t *holder)
{
    MDB_val v;
    int64_t expiry;
    pid_t pid;
    int rc = mdb_get(txn, s->dbi, &l->key, &v);

    *holder = 0;
    if (rc == 0 && lease_parse(&v, &pid, &expiry) && l->now < expiry && alive(pid))
        *holder = pid;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int acquire_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    lease_ctx *l = ctx;
    char buf[48];
    MDB_val v;
    int rc = lease_holder(s, txn, l, &l->holder);

    if (rc != 0)
        return rc;
    if (l->holder != 0 && l->holder != getpid())
        return TXN_ABORT;
    l->holder = getpid();
    v.mv_data = buf;
    v.mv_size = (size_t)snprintf(buf, sizeof buf, "%ld %" PRId64, (long)l->holder,
                                 l->now + (int64_t)l->ttl);
    return mdb_put(txn, s->dbi, &l->key, &v, 0);
}

/* lease_prepare - the store usable (writable when write) and l's key set */
static mtasts_status lease_prepare(mtasts_store *s, const char *domain, bool write,
                                   lease_ctx *l, mtasts_err *err)
{
    mtasts_status st = write ? writable(s, err) : ready(s, err);

    if (st != MTASTS_OK)
        return st;
    if (!lease_key(domain, l)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    return MTASTS_OK;
}

mtasts_status mtasts_store_lease_acquire(mtasts_store *s, const char *domain,
                                         int64_t now, unsigned ttl, pid_t *holder,
                                         mtasts_err *err)
{
    lease_ctx l = {.now = now, .ttl = ttl};
    mtasts_status st;
    int rc;

    *holder = 0;
    if ((st = lease_prepare(s, domain, true, &l, err)) != MTASTS_OK)
        return st;
    rc = run_txn(s, 0, acquire_fn, &l);
    if (rc == TXN_ABORT) {
        *holder = l.holder;
        return MTASTS_TEMPFAIL;
    }
    return rc == 0 ? MTASTS_OK : fail(s, err, "writing a lease to", rc);
}

static int release_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    lease_ctx *l = ctx;
    MDB_val v;
    int64_t expiry;
    pid_t pid;
    int rc = mdb_get(txn, s->dbi, &l->key, &v);

    if (rc != 0)
        return rc;
    if (!lease_parse(&v, &pid, &expiry) || pid != getpid())
        return MDB_NOTFOUND;            /* not ours: leave it */
    return mdb_del(txn, s->dbi, &l->key, NULL);
}

mtasts_status mtasts_store_lease_release(mtasts_store *s, const char *domain,
                                         mtasts_err *err)
{
    lease_ctx l = {.now = 0};
    mtasts_status st;
    int rc;

    if ((st = lease_prepare(s, domain, true, &l, err)) != MTASTS_OK)
        return st;
    rc = run_txn(s, 0, release_fn, &l);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc == 0 ? MTASTS_OK : MTASTS_NOT_FOUND;
    return fail(s, err, "releasing a lease in", rc);
}

static int check_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    lease_ctx *l = ctx;

    return lease_holder(s, txn, l, &l->holder);
}

mtasts_status mtasts_store_lease_check(mtasts_store *s, const char *domain, int64_t now,
                                       pid_t *holder, mtasts_err *err)
{
    lease_ctx l = {.now = now};
    mtasts_status st;
    int rc;

    *holder = 0;
    if ((st = lease_prepare(s, domain, false, &l, err)) != MTASTS_OK)
        return st;
    if ((rc = run_txn(s, MDB_RDONLY, check_fn, &l)) != 0)
        return fail(s, err, "reading a lease from", rc);
    *holder = l.holder;
    return l.holder ? MTASTS_OK : MTASTS_NOT_FOUND;
}
