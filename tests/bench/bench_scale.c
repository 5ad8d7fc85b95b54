/*
 * bench_scale.c - stores of many domains (make bench).
 *
 *   bench_scale fill DIR N put|raw
 *       Fill an empty store DIR with synthetic domains 0..N-1 (see
 *       bench_common.h), in index order (random key order).
 *         put  mtasts_store_put() per record: one write transaction (and
 *              its fsync) per record, as the helper writes.
 *         raw  the same bytes (mtasts_record_encode()), written through the
 *              LMDB API in one transaction per 10k records, MDB_NOSYNC with
 *              one mdb_env_sync() at the end: a fill of 1M records in
 *              seconds instead of one fsync per record. The bulk fill leaves
 *              free pages behind (copy-on-write); compact with mdb_copy -c.
 *       The store is created by mtasts_store_open() first (schema record,
 *       flags, file modes), so the result is an ordinary store.
 *       Prints "fill <N> <mode> <seconds> <records/s> <avg key bytes>
 *       <avg value bytes>".
 *
 *   bench_scale lookup BATCHES COUNT DIR:N...
 *       Interleaved batches (store order and method order rotated every
 *       round) of COUNT lookups of random synthetic domains; one line per
 *       batch: "<N> <method> <wall ns/lookup> <cpu ns/lookup>", method raw
 *       (txn_begin + mdb_get + abort), get (mtasts_store_get) or answer
 *       (mtasts_answer with store=DIR).
 *
 * Not a test: nothing here asserts a time.
 */
#include "answer.h"
#include "bench_common.h"
#include "store.h"

#include <lmdb.h>
#include <unistd.h>

#define BATCH 10000
/* Map for a bulk fill: copy-on-write of 10k random inserts per transaction
 * leaves up to one old copy of the tree as free pages until compaction, so
 * 1M records need more than the store's 1 GiB ceiling while filling. */
#define FILL_MAP ((size_t)4 << 30)
#define NAME_SIZE 64

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_scale: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(2);
}

static int cmd_fill(const char *dir, unsigned n, bool put)
{
    mtasts_store_config cfg = { .path = dir, .create = true };
    mtasts_store *s;
    mtasts_err err = {{0}};
    int64_t now = (int64_t)time(NULL);
    double t0 = bench_now(CLOCK_MONOTONIC), t;
    unsigned long long kbytes = 0, vbytes = 0;
    static char vbuf[MTASTS_RECORD_MAX];
    char key[NAME_SIZE];
    size_t len;

    if (mtasts_store_open(&cfg, &s, &err) != MTASTS_OK)
        die("store open", err.msg);
    if (put) {
        for (unsigned i = 0; i < n; i++) {
            mtasts_record r;

            bench_record(&r, i, now, 86400);
            bench_domain(key, sizeof key, i);
            if (mtasts_record_encode(&r, vbuf, sizeof vbuf, &len, &err) != MTASTS_OK
                || mtasts_store_put(s, key, &r, &err) != MTASTS_OK)
                die("put", err.msg);
            kbytes += strlen(key);
            vbytes += len;
            mtasts_record_free(&r);
        }
        mtasts_store_close(&s);
    } else {
        MDB_env *env;
        MDB_txn *txn = NULL;
        MDB_dbi dbi;
        int rc;

        mtasts_store_close(&s);
        if (mdb_env_create(&env) || mdb_env_set_maxreaders(env, MTASTS_STORE_MAX_READERS)
            || mdb_env_set_mapsize(env, FILL_MAP)
            || mdb_env_open(env, dir, MDB_NOTLS | MDB_NOSYNC, 0660))
            die("raw open", dir);
        for (unsigned i = 0; i < n; i++) {
            mtasts_record r;
            MDB_val k, v;

            if (!txn) {
                if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0
                    || (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
                    die("raw txn", mdb_strerror(rc));
            }
            bench_record(&r, i, now, 86400);
            bench_domain(key, sizeof key, i);
            if (mtasts_record_encode(&r, vbuf, sizeof vbuf, &len, &err) != MTASTS_OK)
                die("encode", err.msg);
            k.mv_data = key;
            k.mv_size = strlen(key);
            v.mv_data = vbuf;
            v.mv_size = len;
            if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
                die("raw put", mdb_strerror(rc));
            kbytes += k.mv_size;
            vbytes += len;
            mtasts_record_free(&r);
            if ((i + 1) % BATCH == 0 || i + 1 == n) {
                if ((rc = mdb_txn_commit(txn)) != 0)
                    die("raw commit", mdb_strerror(rc));
                txn = NULL;
            }
        }
        mdb_env_sync(env, 1);
        mdb_env_close(env);
    }
    t = bench_now(CLOCK_MONOTONIC) - t0;
    printf("fill %u %s %.3f %.0f %.1f %.1f\n", n, put ? "put" : "raw", t, n / t,
           (double)kbytes / n, (double)vbytes / n);
    return 0;
}

typedef struct sstore {
    char dir[512], opts[600];
    unsigned n;
    MDB_env *env;
    MDB_dbi dbi;
    mtasts_store *st;
} sstore;

enum { M_RAW, M_GET, M_ANSWER, M_N };
static const char *const mnames[M_N] = { "raw", "get", "answer" };

static int cmd_lookup(unsigned batches, size_t count, int nst, char **specs)
{
    sstore *ss = calloc((size_t)nst, sizeof *ss);
    char (*keys)[NAME_SIZE] = malloc(count * NAME_SIZE);
    static char out[MTASTS_ANSWER_MAX];
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    mtasts_err err = {{0}};

    for (int i = 0; i < nst; i++) {
        char *colon = strrchr(specs[i], ':');
        mtasts_store_config cfg = { 0 };
        MDB_txn *txn;

        if (!colon)
            die("DIR:N expected", specs[i]);
        *colon = '\0';
        snprintf(ss[i].dir, sizeof ss[i].dir, "%s", specs[i]);
        snprintf(ss[i].opts, sizeof ss[i].opts, "store=%s,recheck=86400", ss[i].dir);
        ss[i].n = (unsigned)strtoul(colon + 1, NULL, 10);
        if (mdb_env_create(&ss[i].env) || mdb_env_set_maxreaders(ss[i].env, 1022)
            || mdb_env_open(ss[i].env, ss[i].dir, MDB_RDONLY | MDB_NOTLS, 0660)
            || mdb_txn_begin(ss[i].env, NULL, MDB_RDONLY, &txn)
            || mdb_dbi_open(txn, NULL, 0, &ss[i].dbi))
            die("raw open", ss[i].dir);
        mdb_txn_abort(txn);
        cfg.path = ss[i].dir;
        if (mtasts_store_open(&cfg, &ss[i].st, &err) != MTASTS_OK)
            die("store open", err.msg);
    }
    for (unsigned b = 0; b < batches; b++) {
        for (int si = 0; si < nst; si++) {
            sstore *s = &ss[(si + (int)b) % nst];

            for (unsigned j = 0; j < M_N; j++) {
                unsigned m = (b + j) % M_N;
                double w0, c0, w, c;

                for (size_t i = 0; i < count; i++)
                    bench_domain(keys[i], NAME_SIZE, (unsigned)(bench_rand(&seed) % s->n));
                if (m == M_ANSWER) {   /* (re)open the process's store: untimed */
                    unsigned ttl;

                    if (mtasts_answer(keys[0], s->opts, NULL, out, sizeof out, &ttl, &err)
                        != MTASTS_OK)
                        die("answer", err.msg);
                }
                w0 = bench_now(CLOCK_MONOTONIC);
                c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
                for (size_t i = 0; i < count; i++) {
                    if (m == M_RAW) {
                        MDB_txn *txn;
                        MDB_val k = { strlen(keys[i]), keys[i] }, v;

                        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)
                            || mdb_get(txn, s->dbi, &k, &v))
                            die("raw get", keys[i]);
                        mdb_txn_abort(txn);
                    } else if (m == M_GET) {
                        mtasts_record r;

                        if (mtasts_store_get(s->st, keys[i], &r, &err) != MTASTS_OK)
                            die("store get", err.msg);
                        mtasts_record_free(&r);
                    } else {
                        unsigned ttl;

                        if (mtasts_answer(keys[i], s->opts, NULL, out, sizeof out, &ttl, &err)
                            != MTASTS_OK)
                            die("answer", err.msg);
                    }
                }
                c = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
                w = bench_now(CLOCK_MONOTONIC) - w0;
                printf("%u %s %.1f %.1f\n", s->n, mnames[m], w * 1e9 / (double)count,
                       c * 1e9 / (double)count);
                fflush(stdout);
            }
        }
    }
    for (int i = 0; i < nst; i++) {
        mtasts_store_close(&ss[i].st);
        mdb_env_close(ss[i].env);
    }
    free(keys);
    free(ss);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "fill") == 0)
        return cmd_fill(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
                        strcmp(argv[4], "put") == 0);
    if (argc >= 5 && strcmp(argv[1], "lookup") == 0)
        return cmd_lookup((unsigned)strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
                          argc - 4, argv + 4);
    fprintf(stderr, "usage: bench_scale fill DIR N put|raw | lookup BATCHES COUNT DIR:N...\n");
    return 2;
}
