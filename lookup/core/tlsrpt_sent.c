/*
 * tlsrpt_sent.c - the reporter's exactly-once marks (contract:
 * tlsrpt_sent.h).
 */
#include "tlsrpt_sent.h"
#include "tlsrpt_store.h"
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DAY_LEN 10
#define MARK_VALUE_MAX 700

typedef struct sent_ctx {
    char key[sizeof MTASTS_TLSRPT_SENT_PREFIX + DAY_LEN + MTASTS_DOMAIN_MAX + 24];
    MDB_val k;
    const char *uri;
    int64_t now;
    mtasts_tlsrpt_sent_state finish;    /* 0: claim */
    mtasts_tlsrpt_mark m;
    bool refused;
} sent_ctx;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static mtasts_status make_key(sent_ctx *c, const char *day, const char *domain,
                              const char *uri, mtasts_err *err)
{
    int n;

    if (!day || strlen(day) != DAY_LEN || !domain || !*domain ||
        strlen(domain) > MTASTS_DOMAIN_MAX || strchr(domain, ' ') || !uri || !*uri ||
        strlen(uri) > MARK_VALUE_MAX - 80) {
        mtasts_errf(err, "tlsrpt: bad sent mark (day, domain or URI)");
        return MTASTS_INVALID;
    }
    n = snprintf(c->key, sizeof c->key, "%s%s %s %016" PRIx64, MTASTS_TLSRPT_SENT_PREFIX, day,
                 domain, fnv1a(uri));
    c->k.mv_size = (size_t)n;
    c->k.mv_data = c->key;
    c->uri = uri;
    return MTASTS_OK;
}

/* decode a mark; false if it is not one (treated as none) */
static bool mark_parse(const MDB_val *v, mtasts_tlsrpt_mark *m)
{
    char buf[MARK_VALUE_MAX + 1], state;
    long long pid, first, last;
    unsigned attempts;

    if (v->mv_size > MARK_VALUE_MAX)
        return false;
    memcpy(buf, v->mv_data, v->mv_size);
    buf[v->mv_size] = '\0';
    if (sscanf(buf, "S1 %c %lld %lld %lld %u", &state, &pid, &first, &last, &attempts) != 5 ||
        !strchr("srdg", state))
        return false;
    m->prior = (mtasts_tlsrpt_sent_state)state;
    m->pid = (pid_t)pid;
    m->first = first;
    m->last = last;
    m->attempts = attempts;
    return true;
}

static int mark_put(mtasts_store *s, MDB_txn *txn, sent_ctx *c, char state)
{
    char buf[MARK_VALUE_MAX + 1];
    int n = snprintf(buf, sizeof buf, "S1 %c %lld %lld %lld %u %s", state, (long long)c->m.pid,
                     (long long)c->m.first, (long long)c->m.last, c->m.attempts, c->uri);
    MDB_val v = { (size_t)n, buf };

    return mdb_put(txn, s->dbi, &c->k, &v, 0);
}

/* a process that still runs (EPERM: it exists, as another user) */
static bool alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int sent_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    sent_ctx *c = ctx;
    MDB_val v;
    int rc = mdb_get(txn, s->dbi, &c->k, &v);
    mtasts_tlsrpt_mark found = { .prior = MTASTS_SENT_NONE };

    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && !mark_parse(&v, &found))
        found.prior = MTASTS_SENT_NONE;
    c->m = found;
    if (c->finish) {
        if (found.prior == MTASTS_SENT_NONE) {
            c->m.first = c->now;
            c->m.attempts = 1;
        }
        c->m.pid = getpid();
        c->m.last = c->now;
        return mark_put(s, txn, c, (char)c->finish);
    }
    c->refused = found.prior == MTASTS_SENT_DONE || found.prior == MTASTS_SENT_GAVE_UP ||
                 (found.prior == MTASTS_SENT_SENDING && found.pid != getpid() &&
                  alive(found.pid));
    if (c->refused)
        return TXN_ABORT;
    if (found.prior == MTASTS_SENT_NONE)
        c->m.first = c->now;
    c->m.pid = getpid();
    c->m.last = c->now;
    c->m.attempts = found.attempts + 1;
    return mark_put(s, txn, c, MTASTS_SENT_SENDING);
}

mtasts_status mtasts_tlsrpt_sent_claim(mtasts_store *s, const char *day, const char *domain,
                                       const char *uri, int64_t now, mtasts_tlsrpt_mark *m,
                                       mtasts_err *err)
{
    sent_ctx c = { .now = now };
    mtasts_status st;
    int rc;

    memset(m, 0, sizeof *m);
    if ((st = make_key(&c, day, domain, uri, err)) != MTASTS_OK ||
        (st = store_writable(s, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(s, 0, sent_fn, &c);
    *m = c.m;
    if (rc == TXN_ABORT)
        return MTASTS_NOT_FOUND;
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "writing a TLSRPT sent mark to", rc);
}

mtasts_status mtasts_tlsrpt_sent_finish(mtasts_store *s, const char *day, const char *domain,
                                        const char *uri, mtasts_tlsrpt_sent_state state,
                                        int64_t now, mtasts_err *err)
{
    sent_ctx c = { .now = now, .finish = state };
    mtasts_status st;
    int rc;

    if (state != MTASTS_SENT_DONE && state != MTASTS_SENT_RETRY && state != MTASTS_SENT_GAVE_UP) {
        mtasts_errf(err, "tlsrpt: bad sent state");
        return MTASTS_INVALID;
    }
    if ((st = make_key(&c, day, domain, uri, err)) != MTASTS_OK ||
        (st = store_writable(s, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(s, 0, sent_fn, &c);
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "writing a TLSRPT sent mark to", rc);
}

static int get_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    sent_ctx *c = ctx;
    MDB_val v;
    int rc = mdb_get(txn, s->dbi, &c->k, &v);

    if (rc == 0 && !mark_parse(&v, &c->m))
        memset(&c->m, 0, sizeof c->m);
    return rc;
}

mtasts_status mtasts_tlsrpt_sent_get(mtasts_store *s, const char *day, const char *domain,
                                     const char *uri, mtasts_tlsrpt_mark *m, mtasts_err *err)
{
    sent_ctx c = {0};
    mtasts_status st;
    int rc;

    memset(m, 0, sizeof *m);
    if ((st = make_key(&c, day, domain, uri, err)) != MTASTS_OK ||
        (st = store_ready(s, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(s, MDB_RDONLY, get_fn, &c);
    if (rc == MDB_NOTFOUND)
        return MTASTS_OK;
    *m = c.m;
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "reading", rc);
}
