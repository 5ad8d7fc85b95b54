/*
 * store_lease.c - single-flight leases (store.h, store_internal.h).
 *
 * .nf
 * KEY AND VALUE
 *     "\1lease:<domain>"  "<pid> <expiry>" (decimal).
 *
 * RULES
 *     acquire: one write transaction; the lease is taken when absent,
 *     expired (now >= expiry), ours, or held by a pid that no longer exists
 *     (kill(pid, 0) fails with ESRCH; an unreaped zombie still counts as
 *     alive). release deletes only a lease held by getpid() (OK), else
 *     leaves it (NOT_FOUND). A read-only store cannot record leases:
 *     acquire returns TEMPFAIL with *holder 0 (fetch without single-flight).
 *     Eviction drops expired leases (store_evict.c).
 * .fi
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* kill */
#endif
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool store_lease_parse(const MDB_val *v, pid_t *pid, int64_t *expiry)
{
    const char *p = v->mv_data, *end = p + v->mv_size;
    int64_t x;

    if (!store_parse_i64(p, end, &p, &x) || x <= 0 || x > INT32_MAX || p >= end)
        return false;
    *pid = (pid_t)x;
    return store_parse_i64(p + 1, end, NULL, expiry);
}

/* alive - does pid exist? (EPERM: it does, under another uid) */
static bool alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

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
    if (!store_domain_key(domain, l->kbuf + LEASE_PREFIX_LEN, &dk))
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
    if (rc == 0 && store_lease_parse(&v, &pid, &expiry) && l->now < expiry && alive(pid))
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
    mtasts_status st = write ? store_writable(s, err) : store_ready(s, err);

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
    rc = store_run_txn(s, 0, acquire_fn, &l);
    if (rc == TXN_ABORT) {
        *holder = l.holder;
        return MTASTS_TEMPFAIL;
    }
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "writing a lease to", rc);
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
    if (!store_lease_parse(&v, &pid, &expiry) || pid != getpid())
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
    rc = store_run_txn(s, 0, release_fn, &l);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc == 0 ? MTASTS_OK : MTASTS_NOT_FOUND;
    return store_fail(s, err, "releasing a lease in", rc);
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
    if ((rc = store_run_txn(s, MDB_RDONLY, check_fn, &l)) != 0)
        return store_fail(s, err, "reading a lease from", rc);
    *holder = l.holder;
    return l.holder ? MTASTS_OK : MTASTS_NOT_FOUND;
}
