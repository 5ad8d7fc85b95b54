/*
 * bench_cached.c - the in-process cost of a warm lookup (make bench).
 *
 *   bench_cached cached OPTS BATCHES COUNT DOMAIN...
 *       Interleaved batches of COUNT lookups each (order rotated every
 *       round), one line per batch:  <method> <wall ns/lookup> <cpu ns/lookup>
 *         answer  mtasts_answer(): the whole lookup as the Exim adapters do
 *                 it (store read, record decode, 5.1 check, result text)
 *         get     mtasts_store_get(): read transaction + record decode
 *         raw     the floor: mdb_txn_begin(RDONLY) + mdb_get + mdb_txn_abort
 *                 on the same store, nothing else
 *       OPTS are the lookup options (store=DIR,...). DOMAIN is a name, or
 *       "synthetic:N" for domains 0..N-1 of bench_common.h picked at random.
 *       Every domain must already have a usable record (a warm store):
 *       a lookup that is not answered from it is an error.
 *
 *   bench_cached procs OPTS P M DOMAIN...
 *       P processes, released at once, each doing M mtasts_answer()
 *       lookups (random picks among the domains); prints
 *       "procs <P> <M> <wall s> <lookups/s> <children's CPU ns/lookup>".
 *
 * Not a test: nothing here asserts a time.
 */
#include "answer.h"
#include "bench_common.h"
#include "common.h"
#include "store.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAME_SIZE 64

static char (*names)[NAME_SIZE];   /* the domain set */
static size_t nnames;
static bool randomize;             /* synthetic sets: random picks */

static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "bench_cached: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    exit(2);
}

static void load_domains(int argc, char **argv)
{
    if (argc == 1 && strncmp(argv[0], "synthetic:", 10) == 0) {
        nnames = strtoul(argv[0] + 10, NULL, 10);
        if (!nnames)
            die("bad %s", argv[0]);
        names = calloc(nnames, NAME_SIZE);
        for (size_t i = 0; i < nnames; i++)
            bench_domain(names[i], NAME_SIZE, (unsigned)i);
        randomize = true;
        return;
    }
    nnames = (size_t)argc;
    if (!nnames)
        die("%s", "no domains");
    names = calloc(nnames, NAME_SIZE);
    for (size_t i = 0; i < nnames; i++)
        mtasts_strlcpy(names[i], argv[i], NAME_SIZE);
}

/* keys - the COUNT domains of one batch, picked before the clock starts */
static const char **pick(size_t count, uint64_t *seed)
{
    const char **k = malloc(count * sizeof *k);

    for (size_t i = 0; i < count; i++)
        k[i] = names[randomize ? bench_rand(seed) % nnames : i % nnames];
    return k;
}

static char out[MTASTS_ANSWER_MAX];

static void answer_one(const char *opts, const char *d)
{
    mtasts_err err = {{0}};
    unsigned ttl;

    if (mtasts_answer(d, opts, NULL, out, sizeof out, &ttl, &err) != MTASTS_OK)
        die("lookup failed (is the store warm?): %s", err.msg);
}

/* The store directory named by the store= option. */
static void store_dir(const char *opts, char *dir, size_t size)
{
    const char *p = strstr(opts, "store=");
    size_t n;

    if (!p)
        die("%s", "OPTS need store=DIR");
    p += 6;
    n = strcspn(p, ", \t");
    if (n >= size)
        die("%s", "store path too long");
    memcpy(dir, p, n);
    dir[n] = '\0';
}

enum { M_ANSWER, M_GET, M_RAW, M_N };
static const char *const mnames[M_N] = { "answer", "get", "raw" };

static int cmd_cached(int argc, char **argv)
{
    const char *opts;
    unsigned batches;
    size_t count;
    char dir[512];
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mtasts_store *st;
    mtasts_store_config scfg = { 0 };
    mtasts_err err = {{0}};
    uint64_t seed = 0x2545F4914F6CDD1DULL;

    if (argc < 4)
        die("%s", "usage: cached OPTS BATCHES COUNT DOMAIN...");
    opts = argv[0];
    batches = (unsigned)strtoul(argv[1], NULL, 10);
    count = strtoul(argv[2], NULL, 10);
    load_domains(argc - 3, argv + 3);
    store_dir(opts, dir, sizeof dir);

    /* The raw floor's own environment on the same files, read-only. */
    if (mdb_env_create(&env) || mdb_env_set_maxreaders(env, 1022)
        || mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0660))
        die("cannot open %s with LMDB", dir);
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
        die("cannot open the database in %s", dir);
    mdb_txn_abort(txn);
    /* The store handle for "get", as the core opens it. */
    scfg.path = dir;
    if (mtasts_store_open(&scfg, &st, &err) != MTASTS_OK)
        die("store: %s", err.msg);

    /* Warm up: every domain answers from the store; touch every page. */
    for (size_t i = 0; i < nnames && i < 100000; i++)
        answer_one(opts, names[i]);

    for (unsigned b = 0; b < batches; b++) {
        for (unsigned j = 0; j < M_N; j++) {
            unsigned m = (b + j) % M_N;
            const char **k = pick(count, &seed);
            double w0, c0, w, c;

            w0 = bench_now(CLOCK_MONOTONIC);
            c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
            for (size_t i = 0; i < count; i++) {
                if (m == M_ANSWER) {
                    answer_one(opts, k[i]);
                } else if (m == M_GET) {
                    mtasts_record r;

                    if (mtasts_store_get(st, k[i], &r, &err) != MTASTS_OK)
                        die("store_get: %s", err.msg);
                    mtasts_record_free(&r);
                } else {
                    MDB_val key = { strlen(k[i]), (void *)k[i] }, v;

                    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
                        die("%s", "mdb_txn_begin failed");
                    if (mdb_get(txn, dbi, &key, &v))
                        die("raw: %s not found", k[i]);
                    mdb_txn_abort(txn);
                }
            }
            c = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
            w = bench_now(CLOCK_MONOTONIC) - w0;
            printf("%s %.1f %.1f\n", mnames[m], w * 1e9 / (double)count,
                   c * 1e9 / (double)count);
            fflush(stdout);
            free(k);
        }
    }
    mtasts_store_close(&st);
    mdb_env_close(env);
    return 0;
}

static int cmd_procs(int argc, char **argv)
{
    const char *opts;
    unsigned p, fails = 0;
    size_t m;
    int gate[2], ready[2];
    double w0, w, cpu = 0;
    char c;

    if (argc < 4)
        die("%s", "usage: procs OPTS P M DOMAIN...");
    opts = argv[0];
    p = (unsigned)strtoul(argv[1], NULL, 10);
    m = strtoul(argv[2], NULL, 10);
    load_domains(argc - 3, argv + 3);
    if (pipe(gate) || pipe(ready))
        die("%s", "pipe failed");
    fflush(stdout);
    for (unsigned i = 0; i < p; i++) {
        pid_t pid = fork();

        if (pid < 0)
            die("%s", "fork failed");
        if (pid == 0) {
            uint64_t seed = 0x9E3779B97F4A7C15ULL * (i + 1);
            const char **k;

            close(gate[1]);
            close(ready[0]);
            k = pick(m, &seed);
            answer_one(opts, names[0]);        /* opens the store */
            if (write(ready[1], "r", 1) != 1)
                _exit(3);
            if (read(gate[0], &c, 1) != 0)     /* EOF: go */
                _exit(3);
            for (size_t j = 0; j < m; j++)
                answer_one(opts, k[j]);
            _exit(0);
        }
    }
    close(gate[0]);
    close(ready[1]);
    for (unsigned i = 0; i < p; i++)
        if (read(ready[0], &c, 1) != 1)
            die("%s", "a child died before the start");
    w0 = bench_now(CLOCK_MONOTONIC);
    close(gate[1]);
    for (unsigned i = 0; i < p; i++) {
        int status;
        struct rusage ru;

        if (wait4(-1, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fails++;
        cpu += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
             + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    w = bench_now(CLOCK_MONOTONIC) - w0;
    if (fails)
        die("%s", "a child failed");
    /* CPU includes each child's untimed set-up (one lookup, picking keys). */
    printf("procs %u %zu %.6f %.0f %.1f\n", p, m, w, (double)p * (double)m / w,
           cpu * 1e9 / ((double)p * (double)m));
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && strcmp(argv[1], "cached") == 0)
        return cmd_cached(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "procs") == 0)
        return cmd_procs(argc - 2, argv + 2);
    fprintf(stderr, "usage: bench_cached cached|procs ...\n");
    return 2;
}
