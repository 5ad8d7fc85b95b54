/*
 * store_stress.c - concurrency stress and benchmark for the LMDB store.
 *
 *     store_stress [seconds [processes]]   (default 2 s, 32 processes)
 *         Processes fork()ed from one that has the store open (half use
 *         the inherited handle, half open their own) do random get, put,
 *         delete and lease calls on 1000 domains; any error or a record
 *         that does not decode is a failure. Run twice: with the default
 *         map, and with a 256 KiB map_max (1000 records need ~450 KiB) so that
 *         growth and eviction race.
 *     store_stress bench [dir]
 *         Cost of a cached lookup (mtasts_store_get) with 1k and 100k
 *         records, of its parts (getpid, begin/abort vs reset/renew, decode),
 *         and bytes per record on disk. dir defaults to /dev/shm (no fsync
 *         cost while filling), else /tmp.
 *
 * Not a test_* file: the unit suite does not run it; make targets may.
 */
#include "store.h"
#include "store_tmp.h"
#include "unit.h"

#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DOMAINS 1000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void domain_name(char *buf, size_t size, unsigned i)
{
    snprintf(buf, size, "d%08x.example", i * 2654435761u);
}

/* make_record - a typical cached policy: two or three mx, an id, times */
static void make_record(mtasts_record *r, unsigned seed, int64_t t)
{
    char body[512];
    unsigned nmx = 1 + seed % 3, i;
    size_t n = (size_t)snprintf(body, sizeof body,
                                "version: STSv1\nmode: enforce\nmax_age: 604800\n");
    mtasts_err err = {{0}};

    for (i = 0; i < nmx; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "mx: mx%u.d%08x.example\n", i,
                              seed * 2654435761u);
    mtasts_record_init(r);
    if (mtasts_policy_parse(body, n, &r->policy, &err) != MTASTS_OK) {
        printf("bad policy: %s\n", err.msg);
        exit(2);
    }
    snprintf(r->id, sizeof r->id, "20240%06u", seed % 1000000);
    r->source = MTASTS_SOURCE_FETCHED;
    r->fetched_at = t;
    r->expires_at = t + 604800;
    r->txt_checked_at = t;
    r->last_used = t;
}

/* ------------------------------------------------------------------ */
/* Stress                                                               */

typedef struct counts {
    unsigned long ops, errors, notes;
} counts;

static void note(void *ctx, const char *msg)
{
    (void)msg;
    ((counts *)ctx)->notes++;
}

/* worker - random calls until the deadline; returns the error count */
static unsigned long worker(mtasts_store *s, unsigned id, double deadline, counts *c)
{
    unsigned seed = id * 7919u + 1;

    while (now_s() < deadline) {
        char name[64];
        unsigned op, k;
        mtasts_record r;
        mtasts_err err = {{0}};
        mtasts_status st;
        pid_t holder;

        seed = seed * 1103515245u + 12345u;
        op = (seed >> 16) % 100;
        k = (seed >> 4) % DOMAINS;
        domain_name(name, sizeof name, k);
        if (op < 70) {
            st = mtasts_store_get(s, name, &r, &err);
            if (st == MTASTS_OK && (strcmp(r.id, "") == 0 || r.policy.n_mx == 0))
                st = MTASTS_INVALID;            /* every record written has both */
            mtasts_record_free(&r);
            if (st != MTASTS_OK && st != MTASTS_NOT_FOUND) {
                if (c->errors++ < 3)
                    printf("get %s: %s: %s\n", name, mtasts_status_name(st), err.msg);
            }
        } else if (op < 95) {
            make_record(&r, k, (int64_t)time(NULL));
            st = mtasts_store_put(s, name, &r, &err);
            mtasts_record_free(&r);
            if (st != MTASTS_OK && c->errors++ < 3)
                printf("put %s: %s: %s\n", name, mtasts_status_name(st), err.msg);
        } else if (op < 97) {
            st = mtasts_store_delete(s, name, &err);
            if (st != MTASTS_OK && st != MTASTS_NOT_FOUND && c->errors++ < 3)
                printf("delete %s: %s\n", name, err.msg);
        } else {
            st = mtasts_store_lease_acquire(s, name, (int64_t)time(NULL), 5, &holder, &err);
            if (st == MTASTS_OK)
                st = mtasts_store_lease_release(s, name, &err);
            else if (st == MTASTS_TEMPFAIL && holder > 0)
                st = MTASTS_OK;                 /* held by another: fine */
            if (st != MTASTS_OK && c->errors++ < 3)
                printf("lease %s: %s\n", name, err.msg);
        }
        c->ops++;
    }
    return c->errors;
}

static bool count_fn(void *ctx, const char *domain, const mtasts_record *r)
{
    (void)domain;
    (void)r;
    ++*(size_t *)ctx;
    return true;
}

static void stress(double seconds, unsigned procs, size_t map_max)
{
    char dir[] = "/tmp/mtasts-stress-XXXXXX";
    mtasts_store_config cfg = {.path = dir, .create = true, .map_max = map_max,
                               .map_initial = map_max ? 64 << 10 : 0, .notify = note};
    mtasts_store *s;
    mtasts_store_stats st;
    mtasts_err err = {{0}};
    counts total = {0, 0, 0};
    double deadline;
    size_t decoded = 0;
    unsigned i;
    int pipes[2];

    if (!mkdtemp(dir) || pipe(pipes) != 0)
        exit(2);
    cfg.notify_ctx = &total;
    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    if (!s)
        return;
    deadline = now_s() + seconds;
    fflush(stdout);
    for (i = 0; i < procs; i++) {
        if (fork() == 0) {
            counts c = {0, 0, 0};
            mtasts_store *mine = s;

            if (i % 2) {        /* half open their own handle */
                mtasts_store_config own = cfg;

                own.notify_ctx = &c;
                mine = NULL;
                if (mtasts_store_open(&own, &mine, &err) != MTASTS_OK) {
                    printf("open: %s\n", err.msg);
                    c.errors++;
                }
            } else {
                cfg.notify_ctx = &c;    /* the inherited handle's ctx is a copy */
            }
            if (mine)
                worker(mine, i, deadline, &c);
            if (write(pipes[1], &c, sizeof c) != sizeof c)
                _exit(3);
            fflush(stdout);
            _exit(c.errors ? 1 : 0);
        }
    }
    for (i = 0; i < procs; i++) {
        counts c;
        int status;

        if (read(pipes[0], &c, sizeof c) == sizeof c) {
            total.ops += c.ops;
            total.errors += c.errors;
            total.notes += c.notes;
        }
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            total.errors++;
    }
    CHECK_INT(total.errors, 0, "errors");
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_store_foreach(s, count_fn, &decoded, &err), MTASTS_OK, err.msg);
    CHECK_INT(decoded, st.entries, "every record decodes");
    printf("stress: %u processes, %.1f s, map_max %zu KiB: %lu calls (%.0f/s), "
           "%zu records, map %zu KiB, %lu recoveries notified, readers in use %u\n",
           procs, seconds, (map_max ? map_max : MTASTS_STORE_MAP_MAX) >> 10, total.ops,
           total.ops / seconds, st.entries, st.map_size >> 10, total.notes, st.readers_used);
    mtasts_store_close(&s);
    close(pipes[0]);
    close(pipes[1]);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* Benchmark                                                            */

static void bench_size(const char *base, unsigned n)
{
    char dir[256], p[300], (*names)[32] = malloc((size_t)n * 32);
    mtasts_store_config cfg = {.create = true};
    mtasts_store *s;
    mtasts_record r;
    mtasts_err err = {{0}};
    struct stat fst;
    unsigned i, iters = 1000000;
    double t0, t_get, t_pid, t_dec, t_begin, t_renew;
    char value[MTASTS_RECORD_MAX];
    size_t vlen = 0;
    volatile pid_t sink = 0;

    snprintf(dir, sizeof dir, "%s/mtasts-bench-XXXXXX", base);
    if (!names || !mkdtemp(dir))
        exit(2);
    cfg.path = dir;
    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    for (i = 0; i < n; i++) {
        domain_name(names[i], sizeof names[i], i);
        make_record(&r, i, 1700000000);
        if (mtasts_store_put(s, names[i], &r, &err) != MTASTS_OK)
            printf("put: %s\n", err.msg);
        if (i == 0)
            mtasts_record_encode(&r, value, sizeof value, &vlen, &err);
        mtasts_record_free(&r);
    }
    /* Whole cached lookup: pid check, key, read txn, get, decode. */
    t0 = now_s();
    for (i = 0; i < iters; i++) {
        if (mtasts_store_get(s, names[(i * 7919u) % n], &r, &err) != MTASTS_OK)
            printf("get failed: %s\n", err.msg);
        mtasts_record_free(&r);
    }
    t_get = (now_s() - t0) / iters * 1e9;
    mtasts_store_close(&s);

    t0 = now_s();
    for (i = 0; i < iters; i++)
        sink += getpid();
    t_pid = (now_s() - t0) / iters * 1e9;
    (void)sink;
    t0 = now_s();
    for (i = 0; i < iters; i++) {
        mtasts_record_decode(value, vlen, &r, NULL);
        mtasts_record_free(&r);
    }
    t_dec = (now_s() - t0) / iters * 1e9;

    /* Read txn alone: begin/get/abort against renew/get/reset (plain LMDB;
     * the store is closed: no environment opened twice in a process). */
    {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        MDB_val k, v;

        mdb_env_create(&env);
        mdb_env_set_maxreaders(env, MTASTS_STORE_MAX_READERS);
        mdb_env_open(env, dir, MDB_NOTLS | MDB_NOMETASYNC | MDB_RDONLY, 0660);
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        mdb_dbi_open(txn, NULL, 0, &dbi);
        mdb_txn_abort(txn);
        t0 = now_s();
        for (i = 0; i < iters; i++) {
            k = (MDB_val){strlen(names[(i * 7919u) % n]), names[(i * 7919u) % n]};
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
            mdb_get(txn, dbi, &k, &v);
            mdb_txn_abort(txn);
        }
        t_begin = (now_s() - t0) / iters * 1e9;
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        mdb_txn_reset(txn);
        t0 = now_s();
        for (i = 0; i < iters; i++) {
            k = (MDB_val){strlen(names[(i * 7919u) % n]), names[(i * 7919u) % n]};
            mdb_txn_renew(txn);
            mdb_get(txn, dbi, &k, &v);
            mdb_txn_reset(txn);
        }
        t_renew = (now_s() - t0) / iters * 1e9;
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    stat(p, &fst);
    printf("bench %u records: get %.0f ns/call; parts: getpid %.0f, decode %.0f, "
           "begin+get+abort %.0f vs renew+get+reset %.0f ns\n",
           n, t_get, t_pid, t_dec, t_begin, t_renew);
    printf("bench %u records: data.mdb %ld bytes (du %ld KiB) = %.0f bytes/record "
           "(encoded value %zu bytes, key %zu)\n", n, (long)fst.st_size,
           (long)fst.st_blocks / 2, (double)fst.st_blocks * 512 / n, vlen, strlen(names[0]));
    rm_tmp(dir);
    free(names);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        const char *base = argc > 2 ? argv[2] : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                              : "/tmp";

        bench_size(base, 1000);
        bench_size(base, 100000);
        return 0;
    }
    {
        double seconds = argc > 1 ? atof(argv[1]) : 2;
        unsigned procs = argc > 2 ? (unsigned)atoi(argv[2]) : 32;

        stress(seconds, procs, 0);
        stress(seconds, procs, 256 << 10);
    }
    return UNIT_DONE("store_stress");
}
