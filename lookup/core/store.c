/*
 * store.c - the shared LMDB policy store (contract: store.h): records,
 * transactions, map growth. Opening, eviction and leases are in
 * store_env.c, store_evict.c and store_lease.c (store_internal.h).
 *
 * .nf
 * TRANSACTIONS
 *     Each call runs in one short transaction and keeps none afterwards.
 *     Read transactions are begun and aborted rather than reset/renewed:
 *     a reset transaction keeps its reader slot between calls, a child
 *     could not free it (aborting it there clears the parent's slot in the
 *     shared lock file), and renew saves only 0.1-0.25 us of a 2.6-4.6 us
 *     lookup at 1k-100k records (store_stress bench; decode dominates).
 *
 * KEYS
 *     "<domain>"          lower-case domain (bytes 0x21-0x7e, no trailing dot):
 *                         mtasts_record_encode() bytes.
 *     "\1schema"          the schema number, "1" (MTASTS_STORE_SCHEMA).
 *     "\1lease:<domain>"  "<pid> <expiry>" (decimal): single-flight lease.
 *     "\2tlsrpt..."       TLSRPT outcomes (tlsrpt_store.c); "\3preload:..."
 *                         preload lists. A flush keeps all but leases.
 *     A domain never starts with \1, so domain records are exactly the keys
 *     from "!" (0x21) on; foreach, stats and eviction start there.
 *
 * MAP SIZE (after Postfix slmdb_recover())
 *     MDB_MAP_FULL doubles the map up to map_max and retries.
 *     MDB_MAP_RESIZED (another process grew it): mdb_env_set_mapsize(0).
 *     MDB_READERS_FULL: one mdb_reader_check() and one retry, then TEMPFAIL.
 *     At map_max records are evicted (store_evict.c). Eviction
 *     starts before the map is exhausted: a put at map_max first checks
 *     that the free pages (map - pages in use, from mdb_stat() of both
 *     trees: O(1)) are at least map_max/16 (min 16 pages), else evicts
 *     (a margin: pages freed by the last commit are reusable only after the
 *     next one, and readers pin pages). MDB_MAP_FULL at map_max also
 *     evicts. Retries are bounded (TXN_ATTEMPTS); recoveries go to notify.
 * .fi
 */
#include "store_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_notifyf(mtasts_store *s, const char *fmt, ...)
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
mtasts_status store_fail(mtasts_store *s, mtasts_err *err, const char *what, int rc)
{
    if (rc == MDB_PANIC || rc == MDB_CORRUPTED)
        s->reopen = true;
    mtasts_errf(err, "store: %s %s: %s", what, s->label,
                rc == TXN_EVICT ? "map full" : mdb_strerror(rc));
    return status_of(rc);
}

/* domain_key - validate and normalise a domain into buf ("Example.COM." ->
 * "example.com"); false if it cannot be a domain key */
bool store_domain_key(const char *domain, char *buf, MDB_val *k)
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
bool store_parse_i64(const char *p, const char *end, const char **next, int64_t *out)
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

/* ------------------------------------------------------------------ */
/* Map size and transactions                                            */

void store_update_mapsize(mtasts_store *s)
{
    MDB_envinfo info;

    if (mdb_env_info(s->env, &info) == 0)
        s->mapsize = info.me_mapsize;
}

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
            store_update_mapsize(s);
            store_notifyf(s, "store: map of %s grown to %zu KiB", s->label, s->mapsize >> 10);
            return true;
        }
        /* No domain records to evict in a sibling (TLSRPT outcomes): full
         * is full, without scanning it for nothing at every call. */
        if (s->file)
            return false;
        /* At map_max: evict, at most 3 rounds per call. Nothing to evict
         * with pages free means readers still pin the freed pages (LMDB
         * reuses a page only once no snapshot can see it): yield to them
         * and retry, a bounded number of times, without sleeping. */
        if (s->evicting || s->evictions++ >= 3)
            return false;
        if (store_evict(s) == 0)
            sched_yield();
        return true;
    case TXN_EVICT:
        if (s->evicting)
            return false;
        s->evict_tried = true;
        store_evict(s);
        return true;    /* retry the put even if nothing could go */
    case MDB_MAP_RESIZED:
        if (mdb_env_set_mapsize(s->env, 0) != 0)
            return false;
        store_update_mapsize(s);
        store_notifyf(s, "store: map of %s resized by another process to %zu KiB", s->label,
                s->mapsize >> 10);
        return true;
    case MDB_READERS_FULL:
        if (*readers_checked)
            return false;
        *readers_checked = true;
        if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
            store_notifyf(s, "store: cleared %d stale reader slot(s) of %s", dead, s->label);
        return true;
    }
    return false;
}

int store_run_txn(mtasts_store *s, unsigned flags, txn_fn fn, void *ctx)
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
size_t store_free_pages(mtasts_store *s, MDB_txn *txn)
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
        && store_free_pages(s, txn) < s->reserve_pages;
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
    if ((st = store_ready(s, err)) != MTASTS_OK)
        return st;
    if (!store_domain_key(domain, buf, &c.key)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    rc = store_run_txn(s, MDB_RDONLY, get_fn, &c);
    if (rc == 0)
        return c.st;
    return rc == MDB_NOTFOUND ? MTASTS_NOT_FOUND : store_fail(s, err, "reading", rc);
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

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    if (!store_domain_key(domain, kbuf, &c.key)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    if ((st = mtasts_record_encode(r, vbuf, sizeof vbuf, &c.len, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(s, 0, put_fn, &c);
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "writing", rc);
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

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    if (!store_domain_key(domain, buf, &c.key)) {
        mtasts_errf(err, "store: invalid domain key");
        return MTASTS_INVALID;
    }
    rc = store_run_txn(s, 0, del_fn, &c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc == 0 ? MTASTS_OK : MTASTS_NOT_FOUND;
    return store_fail(s, err, "deleting from", rc);
}

/* Keys deleted per flush transaction: a dirty-page list (LMDB's
 * MDB_TXN_FULL) holds far more, and readers are not held off for long. */
#define FLUSH_BATCH 8192

/* flush_fn - delete up to FLUSH_BATCH domain records and leases; keep the
 * other non-domain data (schema, TLSRPT outcomes, preload lists): a flush
 * of the policy cache must not lose a day's TLS reports. *ctx: true when
 * the batch was full (more may be left). */
static int flush_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    bool *more = ctx;
    MDB_cursor *c;
    MDB_val k, v;
    size_t n = 0;
    int rc;

    *more = false;
    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!is_domain_key(&k) && !(k.mv_size >= LEASE_PREFIX_LEN
                                    && memcmp(k.mv_data, LEASE_PREFIX, LEASE_PREFIX_LEN) == 0))
            continue;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        if (++n == FLUSH_BATCH) {
            *more = true;
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

mtasts_status mtasts_store_flush(mtasts_store *s, mtasts_err *err)
{
    mtasts_status st;
    bool more = true;
    int rc = 0;

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    while (more && rc == 0)
        rc = store_run_txn(s, 0, flush_fn, &more);
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "flushing", rc);
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

    if ((st = store_ready(s, err)) != MTASTS_OK)
        return st;
    s->busy = true;     /* fn runs inside a read txn: no resize, no nesting */
    rc = store_run_txn(s, MDB_RDONLY, each_fn, &e);
    s->busy = false;
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "reading", rc);
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
    if ((status = store_ready(s, err)) != MTASTS_OK)
        return status;
    if ((rc = store_run_txn(s, MDB_RDONLY, stats_fn, st)) != 0)
        return store_fail(s, err, "reading", rc);
    if ((rc = mdb_env_info(s->env, &info)) != 0)
        return store_fail(s, err, "reading", rc);
    st->map_size = info.me_mapsize;
    st->readers_max = info.me_maxreaders;
    mdb_reader_list(s->env, count_reader, &st->readers_used);
    return MTASTS_OK;
}

