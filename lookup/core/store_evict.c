/*
 * store_evict.c - eviction when the map is at map_max (store_internal.h).
 *
 * .nf
 * WHY RUNS
 *     LMDB copies every page it modifies, so even a delete needs free
 *     pages, and deleting scattered records frees none (a leaf page is only
 *     merged below 25% fill). So eviction deletes runs of consecutive keys,
 *     ~4 leaf pages each, which frees whole pages (after Postfix
 *     slmdb_recover()).
 *
 * WHICH RUNS
 *     Each record is scored by the record decoder's fields (one decoder:
 *     mtasts_record_decode_head()): first what keeping it is worth
 *     (mtasts_record_keep_class(): no usable policy < live testing/none
 *     policy < live enforce policy), then its last use, then its expiry.
 *     A run scores as its best record, and the lowest-scoring ~10% of the
 *     runs go per round. So records without a usable policy (negative
 *     entries, expired policies) go before live policies, and live enforce
 *     policies last, each group least recently used first: spam to many
 *     random domains cannot push out the enforce policies that close the
 *     first-contact downgrade window. An undecodable record scores lowest.
 *     Expired leases go at the same time.
 * .fi
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct run_score {
    int keep;                   /* mtasts_record_keep_class() */
    int64_t used, expires;
} run_score;

static int score_cmp(const run_score *a, const run_score *b)
{
    if (a->keep != b->keep)
        return a->keep < b->keep ? -1 : 1;
    if (a->used != b->used)
        return a->used < b->used ? -1 : 1;
    return a->expires < b->expires ? -1 : a->expires > b->expires;
}

static int score_qsort(const void *a, const void *b)
{
    return score_cmp(a, b);
}

static const run_score score_min = {MTASTS_KEEP_UNUSABLE, INT64_MIN, INT64_MIN};

typedef struct evict_ctx {
    int64_t now;
    size_t run_len, nruns, cap;
    run_score *scores;
    run_score limit;            /* runs scoring below go, ties while ties > 0 */
    size_t ties, batch_runs, deleted, leases;
    size_t free_at_scan;        /* free pages seen by pass 1 */
    size_t pend_deleted, pend_ties, pend_leases;
    char resume[MTASTS_DOMAIN_MAX + 1], next[MTASTS_DOMAIN_MAX + 1];
    bool done, pend_done;
} evict_ctx;

/* score_add - raise the run's score sc to the record v's, if higher */
static void score_add(run_score *sc, const MDB_val *v, int64_t now)
{
    mtasts_record r;
    run_score rs = score_min;

    if (mtasts_record_decode_head(v->mv_data, v->mv_size, &r, NULL) == MTASTS_OK)
        rs = (run_score){mtasts_record_keep_class(&r, now), r.last_used, r.expires_at};
    if (score_cmp(&rs, sc) > 0)
        *sc = rs;
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
    e->free_at_scan = store_free_pages(s, txn);
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
            e->scores[e->nruns++] = score_min;
        }
        score_add(&e->scores[e->nruns - 1], &v, e->now);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* drop_expired_leases - delete leases whose expiry has passed */
static int drop_expired_leases(mtasts_store *s, MDB_txn *txn, int64_t now, size_t *count)
{
    MDB_cursor *c;
    MDB_val k = {LEASE_PREFIX_LEN, LEASE_PREFIX}, v;
    int64_t expiry;
    pid_t pid;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < LEASE_PREFIX_LEN || memcmp(k.mv_data, LEASE_PREFIX, LEASE_PREFIX_LEN))
            break;
        if (!store_lease_parse(&v, &pid, &expiry) || expiry <= now) {
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
    if (e->deleted == 0 && store_free_pages(s, txn) >= e->free_at_scan + s->reserve_pages) {
        e->pend_done = true;    /* another process evicted since pass 1 */
        return 0;
    }
    if (e->deleted == 0 && (rc = drop_expired_leases(s, txn, e->now, &e->pend_leases)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && runs < e->batch_runs) {
        char first[MTASTS_DOMAIN_MAX + 1];
        run_score sc = score_min;
        MDB_val fk;

        if (k.mv_size > MTASTS_DOMAIN_MAX) {
            rc = MDB_NOTFOUND;  /* not a key of ours: stop here */
            break;
        }
        memcpy(first, k.mv_data, k.mv_size);
        fk = (MDB_val){k.mv_size, first};
        for (n = 0; rc == 0 && n < e->run_len; n++) {
            score_add(&sc, &v, e->now);
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

size_t store_evict(mtasts_store *s)
{
    evict_ctx e;
    size_t m, i, entries;
    int rc;

    memset(&e, 0, sizeof e);
    e.now = (int64_t)time(NULL);
    s->evicting = true;
    rc = store_run_txn(s, MDB_RDONLY, scan_runs, &e);
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
                if ((rc = store_run_txn(s, 0, delete_runs, &e)) != 0)
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
        store_notifyf(s, "store: map of %s full at %zu KiB: evicted %zu of ~%zu records"
                      " (least valuable, least recently used runs), %zu expired leases%s%s",
                      s->label, s->mapsize >> 10, e.deleted, entries, e.leases,
                      rc ? ", stopped: " : "", rc ? mdb_strerror(rc) : "");
    return e.deleted;
}
