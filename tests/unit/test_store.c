/*
 * test_store.c - scenario tests for the shared LMDB store (store.h): record
 * round trips, schema refusal, read-only use by the Exim user, fork(),
 * map growth and eviction, another process growing the map, stale reader
 * slots, leases, file modes and owners. Each test works in its own mkdtemp
 * directory under /tmp and removes it. Tests that need root and the
 * Debian-exim user say SKIP without them.
 */
#include "store.h"
#include "store_tmp.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

typedef struct notes {
    int count;
    char all[4096];             /* every message, one per line */
} notes;

static void note(void *ctx, const char *msg)
{
    notes *n = ctx;
    size_t len = strlen(n->all);

    n->count++;
    snprintf(n->all + len, sizeof n->all - len, "%s\n", msg);
}

static mtasts_status open_at(const char *dir, bool create, notes *n, mtasts_store **s,
                             mtasts_err *err)
{
    mtasts_store_config cfg = {.path = dir, .create = create,
                               .notify = n ? note : NULL, .notify_ctx = n};

    mtasts_err_clear(err);
    return mtasts_store_open(&cfg, s, err);
}

/* make_record - a record with the policy text body (NULL: none) */
static void make_record(mtasts_record *r, const char *id, const char *body, int64_t t)
{
    mtasts_err err = {{0}};

    mtasts_record_init(r);
    if (body) {
        if (mtasts_policy_parse(body, strlen(body), &r->policy, &err) != MTASTS_OK) {
            printf("bad test policy: %s\n", err.msg);
            exit(2);
        }
        snprintf(r->id, sizeof r->id, "%s", id);
        r->source = MTASTS_SOURCE_FETCHED;
        r->fetched_at = t;
        r->expires_at = t + r->policy.max_age;
        r->txt_checked_at = t;
    }
    r->last_used = t;
}

static void check_same(const mtasts_record *g, const mtasts_record *w, const char *what)
{
    size_t i;

    CHECK_STR(g->id, w->id, what);
    CHECK_INT(g->policy.mode, w->policy.mode, what);
    CHECK_INT(g->policy.max_age, w->policy.max_age, what);
    CHECK_INT(g->policy.n_mx, w->policy.n_mx, what);
    for (i = 0; i < g->policy.n_mx && i < w->policy.n_mx; i++)
        CHECK_STR(g->policy.mx[i], w->policy.mx[i], what);
    CHECK_INT(g->source, w->source, what);
    CHECK_INT(g->fetched_at, w->fetched_at, what);
    CHECK_INT(g->expires_at, w->expires_at, what);
    CHECK_INT(g->txt_checked_at, w->txt_checked_at, what);
    CHECK_INT(g->last_used, w->last_used, what);
    CHECK_INT(g->failures, w->failures, what);
    CHECK_INT(g->backoff_until, w->backoff_until, what);
    CHECK_STR(g->backoff_id, w->backoff_id, what);
    CHECK_STR(g->last_error, w->last_error, what);
}

/* raw_put - write key/value with the plain LMDB API (store not open in
 * this process: LMDB forbids opening an environment twice) */
static void raw_put(const char *dir, const char *key, size_t klen, const char *val)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)key}, v = {strlen(val), (void *)val};
    int rc;

    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_open(env, dir, 0, 0660))
        || (rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &dbi))
        || (rc = mdb_put(txn, dbi, &k, &v, 0)) || (rc = mdb_txn_commit(txn))) {
        printf("raw_put: %s\n", mdb_strerror(rc));
        exit(2);
    }
    mdb_env_close(env);
}

/* in_child - run fn in a forked child; returns its failure count (exit code) */
static int in_child(int (*fn)(void *), void *arg)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        unit_failed = 0;
        int f = fn(arg);

        fflush(stdout);
        _exit(f > 100 ? 100 : f);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 99;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 98;
}

static bool become(const struct passwd *pw)
{
    return setgroups(0, NULL) == 0 && setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0;
}

/* become_group_member - uid nobody in the Exim user's group: a reader that
 * does not own the store (root acts as the owner, see store_env.c) */
static bool become_group_member(const struct passwd *pw)
{
    return setgroups(0, NULL) == 0 && setgid(pw->pw_gid) == 0 && setuid(65534) == 0;
}

/* ------------------------------------------------------------------ */
/* Round trips                                                          */

static const struct rt_case {
    const char *rule;
    const char *domain, *key;   /* as passed; as stored (NULL: same) */
    const char *id, *body;      /* body NULL: no policy cached */
    uint32_t failures;
    int64_t backoff_until;
    const char *backoff_id, *last_error;
} rt_cases[] = {
    {"enforce policy with three mx", "example.com", NULL, "20240101T00",
     "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
     "mx: backupmx.example.com\nmax_age: 604800\n", 0, 0, "", ""},
    {"testing policy, one mx", "testing.example", NULL, "abc123",
     "version: STSv1\nmode: testing\nmx: mx.testing.example\nmax_age: 86400\n", 0, 0, "", ""},
    {"mode none without mx", "none.example", NULL, "gone1",
     "version: STSv1\nmode: none\nmax_age: 1\n", 0, 0, "", ""},
    {"no policy, backoff only (RFC 8461 3.3)", "backoff.example", NULL, "", NULL,
     3, 1700000300, "id20", "HTTPS fetch failed: connection refused"},
    {"policy and failure state together", "both.example", NULL, "v2",
     "version: STSv1\nmode: enforce\nmx: mx1.both.example\nmax_age: 31557600\n",
     1, 1700000600, "v3", "certificate verify failed"},
    {"key is lower-cased, trailing dot dropped", "MiXeD.Example.ORG.", "mixed.example.org",
     "x", "version: STSv1\nmode: enforce\nmx: mx.mixed.example.org\nmax_age: 5\n", 0, 0,
     "", ""},
    {"64 mx patterns of 200 bytes (large value, overflow pages)", "big.example", NULL,
     "big", NULL, 0, 0, "", ""},
};

/* big_body - a policy near MTASTS_RECORD_MAX */
static const char *big_body(void)
{
    static char body[MTASTS_RECORD_MAX];
    size_t n = (size_t)sprintf(body, "version: STSv1\nmode: enforce\nmax_age: 600\n");
    int i;

    for (i = 0; i < MTASTS_POLICY_MX_MAX; i++)
        n += (size_t)sprintf(body + n, "mx: m%02d.%060d.%060d.%060d.example\n", i, 0, 0, 0);
    return body;
}

static void test_round_trip(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s;
    mtasts_err err;
    size_t i;

    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
    for (i = 0; i < sizeof rt_cases / sizeof rt_cases[0]; i++) {
        const struct rt_case *c = &rt_cases[i];
        const char *body = c->body ? c->body : strcmp(c->id, "big") == 0 ? big_body() : NULL;
        mtasts_record w, g;

        make_record(&w, c->id, body, 1700000000 + (int64_t)i);
        w.failures = c->failures;
        w.backoff_until = c->backoff_until;
        snprintf(w.backoff_id, sizeof w.backoff_id, "%s", c->backoff_id);
        mtasts_record_set_error(&w, c->last_error);
        mtasts_err_clear(&err);
        CHECK_INT(mtasts_store_put(s, c->domain, &w, &err), MTASTS_OK, c->rule);
        CHECK_INT(mtasts_store_get(s, c->key ? c->key : c->domain, &g, &err), MTASTS_OK,
                  c->rule);
        check_same(&g, &w, c->rule);
        mtasts_record_free(&g);
        mtasts_record_free(&w);
    }
    /* Overwrite, delete, absent keys, invalid keys. */
    {
        mtasts_record w, g;
        char long_name[300];

        make_record(&w, "new", "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 9\n", 5);
        CHECK_INT(mtasts_store_put(s, "example.com", &w, &err), MTASTS_OK, "overwrite");
        CHECK_INT(mtasts_store_get(s, "EXAMPLE.com", &g, &err), MTASTS_OK, "get overwritten");
        check_same(&g, &w, "overwritten record");
        mtasts_record_free(&g);
        CHECK_INT(mtasts_store_delete(s, "example.com", &err), MTASTS_OK, "delete");
        CHECK_INT(mtasts_store_get(s, "example.com", &g, &err), MTASTS_NOT_FOUND,
                  "get after delete");
        CHECK_INT(mtasts_store_delete(s, "example.com", &err), MTASTS_NOT_FOUND,
                  "delete absent");
        CHECK_INT(mtasts_store_get(s, "absent.example", &g, &err), MTASTS_NOT_FOUND, "absent");
        memset(long_name, 'a', 254);
        long_name[254] = '\0';
        CHECK_INT(mtasts_store_get(s, long_name, &g, &err), MTASTS_INVALID, "254 bytes");
        CHECK_INT(mtasts_store_put(s, "", &w, &err), MTASTS_INVALID, "empty key");
        CHECK_INT(mtasts_store_put(s, "a b.example", &w, &err), MTASTS_INVALID, "space");
        CHECK_INT(mtasts_store_put(s, "\001schema", &w, &err), MTASTS_INVALID, "meta key");
        CHECK_INT(mtasts_store_put(s, ".", &w, &err), MTASTS_INVALID, "root");
        mtasts_record_free(&w);
    }
    mtasts_store_close(&s);
    CHECK(s == NULL, "close sets the handle to NULL");
    rm_tmp(dir);
}

typedef struct visit {
    int n, stop_after;
    char seen[512];
} visit;

static bool visit_fn(void *ctx, const char *domain, const mtasts_record *r)
{
    visit *v = ctx;

    (void)r;
    snprintf(v->seen + strlen(v->seen), sizeof v->seen - strlen(v->seen), "%s,", domain);
    return ++v->n != v->stop_after;
}

static void test_foreach_stats_flush(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s;
    mtasts_store_stats st;
    mtasts_record w, g;
    mtasts_err err;
    visit v = {0, 0, ""};
    pid_t holder;

    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
    make_record(&w, "", NULL, 7);
    CHECK_INT(mtasts_store_put(s, "c.example", &w, &err), MTASTS_OK, "put c");
    CHECK_INT(mtasts_store_put(s, "a.example", &w, &err), MTASTS_OK, "put a");
    CHECK_INT(mtasts_store_put(s, "b.example", &w, &err), MTASTS_OK, "put b");
    CHECK_INT(mtasts_store_lease_acquire(s, "a.example", 100, 60, &holder, &err), MTASTS_OK,
              "lease");
    mtasts_store_close(&s);
    raw_put(dir, "bad.example", 11, "garbage");         /* does not decode */

    CHECK_INT(open_at(dir, false, NULL, &s, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_store_get(s, "bad.example", &g, &err), MTASTS_INVALID,
              "undecodable record");
    CHECK_INT(mtasts_store_foreach(s, visit_fn, &v, &err), MTASTS_OK, "foreach");
    CHECK_STR(v.seen, "a.example,b.example,c.example,", "foreach: key order, meta, "
              "lease and undecodable records skipped");
    v = (visit){0, 2, ""};
    CHECK_INT(mtasts_store_foreach(s, visit_fn, &v, &err), MTASTS_OK, "foreach stop");
    CHECK_STR(v.seen, "a.example,b.example,", "foreach stops when fn returns false");
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
    CHECK_INT(st.entries, 4, "entries: domain records only (with the undecodable one)");
    CHECK_INT(st.map_size, MTASTS_STORE_MAP_INITIAL, "map size");
    CHECK(st.used_bytes > 0 && st.used_bytes < st.map_size, "used_bytes %zu", st.used_bytes);
    CHECK_INT(st.readers_max, MTASTS_STORE_MAX_READERS, "readers_max");

    CHECK_INT(mtasts_store_flush(s, &err), MTASTS_OK, "flush");
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
    CHECK_INT(st.entries, 0, "entries after flush");
    CHECK_INT(mtasts_store_lease_check(s, "a.example", 100, &holder, &err), MTASTS_NOT_FOUND,
              "leases flushed too");
    CHECK_INT(mtasts_store_put(s, "d.example", &w, &err), MTASTS_OK, "put after flush");
    mtasts_store_close(&s);
    CHECK_INT(open_at(dir, false, NULL, &s, &err), MTASTS_OK, "reopen: meta kept");
    CHECK_INT(mtasts_store_get(s, "d.example", &g, &err), MTASTS_OK, "record after reopen");
    mtasts_record_free(&g);
    mtasts_store_close(&s);
    mtasts_record_free(&w);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* Open: missing store, schema                                          */

static void test_open_and_schema(void)
{
    char *dir = mkdir_tmp(), *dir2 = mkdir_tmp(), missing[128];
    mtasts_store *s;
    mtasts_err err;
    mtasts_status st;

    snprintf(missing, sizeof missing, "%s/none", dir);
    CHECK_INT(open_at(missing, true, NULL, &s, &err), MTASTS_NOT_FOUND, "missing directory");
    CHECK(s == NULL, "no handle on failure");
    CHECK_INT(open_at(dir, false, NULL, &s, &err), MTASTS_NOT_FOUND,
              "create false, no files");
    CHECK(strstr(err.msg, "store: ") == err.msg, "error prefix: %s", err.msg);

    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
    mtasts_store_close(&s);
    raw_put(dir, "\001schema", 7, "2");
    st = open_at(dir, false, NULL, &s, &err);
    CHECK_INT(st, MTASTS_SYSERR, "another schema is refused");
    CHECK(strstr(err.msg, "store schema 2 unknown (expected 1)") != NULL, "message: %s",
          err.msg);
    CHECK(s == NULL, "no handle on schema mismatch");

    raw_put(dir2, "x.example", 9, "record_v: 1\n");     /* records, no meta */
    CHECK_INT(open_at(dir2, true, NULL, &s, &err), MTASTS_SYSERR, "records without schema");
    CHECK(strstr(err.msg, "no schema record") != NULL, "message: %s", err.msg);
    rm_tmp(dir);
    rm_tmp(dir2);
}

/* ------------------------------------------------------------------ */
/* File modes and owner; read-only use by the Exim user                 */

static void test_modes_owner(void)
{
    struct passwd *pw = exim_user();
    char *dir, p[256];
    const char *files[] = {"data.mdb", "lock.mdb"};
    mtasts_store *s;
    mtasts_err err;
    struct stat st;
    mode_t old;
    int i;

    if (!pw) {
        printf("SKIP modes/owner: needs root and the Debian-exim user\n");
        return;
    }
    dir = mkdir_tmp();
    CHECK_INT(chown(dir, pw->pw_uid, pw->pw_gid), 0, "chown dir");
    chmod(dir, 0770);
    old = umask(077);           /* a strict umask must not leak into the modes */
    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
    umask(old);
    for (i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        CHECK_INT(stat(p, &st), 0, p);
        CHECK_INT(st.st_mode & 07777, 0660, files[i]);
        CHECK_INT(st.st_uid, pw->pw_uid, files[i]);
        CHECK_INT(st.st_gid, pw->pw_gid, files[i]);
    }
    mtasts_store_close(&s);
    rm_tmp(dir);
}

typedef struct ro_arg {
    const char *dir;
    struct passwd *pw;
    int to_parent, from_parent;         /* pipe ends */
} ro_arg;

static int ro_child(void *p)
{
    ro_arg *a = p;
    mtasts_store *s;
    mtasts_record r, g;
    mtasts_err err;
    notes n = {0, ""};
    pid_t holder;
    char c;

    CHECK(become_group_member(a->pw), "setuid nobody, group Debian-exim");
    CHECK_INT(open_at(a->dir, true, &n, &s, &err), MTASTS_OK, err.msg);
    if (!s)
        return unit_failed;
    CHECK(mtasts_store_readonly(s), "opened read-only");
    CHECK(strstr(n.all, "read-only") != NULL, "notified: %s", n.all);
    CHECK_INT(mtasts_store_get(s, "ro.example", &g, &err), MTASTS_OK, "get works");
    mtasts_record_free(&g);
    make_record(&r, "", NULL, 1);
    CHECK_INT(mtasts_store_put(s, "ro.example", &r, &err), MTASTS_TEMPFAIL, "put");
    CHECK(strstr(err.msg, "read-only") != NULL, "put error: %s", err.msg);
    CHECK_INT(mtasts_store_delete(s, "ro.example", &err), MTASTS_TEMPFAIL, "delete");
    CHECK_INT(mtasts_store_lease_acquire(s, "ro.example", 1, 1, &holder, &err),
              MTASTS_TEMPFAIL, "lease on a read-only store");
    CHECK_INT(holder, 0, "no holder");
    /* A writer (root) commits while this reader has the store open. */
    CHECK_INT(write(a->to_parent, "r", 1), 1, "signal");
    CHECK_INT(read(a->from_parent, &c, 1), 1, "wait");
    CHECK_INT(mtasts_store_get(s, "later.example", &g, &err), MTASTS_OK,
              "sees the writer's commit");
    mtasts_record_free(&g);
    mtasts_store_close(&s);
    return unit_failed;
}

static int ro_locked_child(void *p)
{
    ro_arg *a = p;
    mtasts_store *s;
    mtasts_err err;

    CHECK(become_group_member(a->pw), "setuid nobody, group Debian-exim");
    CHECK_INT(open_at(a->dir, true, NULL, &s, &err), MTASTS_SYSERR,
              "lock.mdb not writable: cannot open");
    CHECK(strstr(err.msg, "Permission denied") != NULL, "message: %s", err.msg);
    return unit_failed;
}

static void test_readonly(void)
{
    struct passwd *pw = exim_user();
    char *dir, p[256];
    mtasts_store *s;
    mtasts_record r;
    mtasts_err err;
    int up[2], down[2], status;
    pid_t pid;
    char c;

    if (!pw) {
        printf("SKIP read-only: needs root and the Debian-exim user\n");
        return;
    }
    dir = mkdir_tmp();
    chown(dir, pw->pw_uid, pw->pw_gid);
    chmod(dir, 0750);
    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
    make_record(&r, "", NULL, 1);
    CHECK_INT(mtasts_store_put(s, "ro.example", &r, &err), MTASTS_OK, "put as root");
    mtasts_store_close(&s);
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    chmod(p, 0640);

    /* data.mdb read-only for a group member, lock.mdb writable. */
    CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        ro_arg a = {dir, pw, up[1], down[0]};

        unit_failed = 0;
        status = ro_child(&a);
        fflush(stdout);
        _exit(status > 100 ? 100 : status);
    }
    CHECK_INT(read(up[0], &c, 1), 1, "child ready");
    CHECK_INT(open_at(dir, false, NULL, &s, &err), MTASTS_OK, "root opens it writable");
    CHECK(!mtasts_store_readonly(s), "root: not read-only");
    CHECK_INT(mtasts_store_put(s, "later.example", &r, &err), MTASTS_OK, "root writes");
    mtasts_store_close(&s);
    CHECK_INT(write(down[1], "w", 1), 1, "release child");
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "read-only child: status %d", status);
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);

    /* A root process acts as the directory's owner (store_env.c): a data.mdb
     * its owner may not write is read-only for root too. */
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    chmod(p, 0440);
    CHECK_INT(open_at(dir, false, NULL, &s, &err), MTASTS_OK, err.msg);
    CHECK(mtasts_store_readonly(s), "root: read-only when the owner cannot write");
    mtasts_store_close(&s);
    {
        mtasts_store_config cfg = {.path = dir, .read_first = true};

        CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
        CHECK(mtasts_store_readonly(s), "read_first: read-only when the owner cannot write");
        CHECK_INT(mtasts_store_put(s, "rf.example", &r, &err), MTASTS_TEMPFAIL,
                  "read_first: no put when the owner cannot write");
        mtasts_store_close(&s);
    }
    chmod(p, 0640);

    /* lock.mdb not writable either: LMDB cannot record the reader; open fails. */
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    chmod(p, 0640);
    {
        ro_arg a = {dir, pw, -1, -1};

        CHECK_INT(in_child(ro_locked_child, &a), 0, "both files 0640");
    }
    mtasts_record_free(&r);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* fork()                                                                */

static mtasts_store *fork_store;

static int fork_grandchild(void *p)
{
    mtasts_record g;
    mtasts_err err = {{0}};

    (void)p;
    CHECK_INT(mtasts_store_get(fork_store, "child.example", &g, &err), MTASTS_OK,
              "grandchild get");
    mtasts_record_free(&g);
    return unit_failed;
}

static int fork_child(void *p)
{
    mtasts_record r, g;
    mtasts_err err = {{0}};
    pid_t holder;

    (void)p;
    CHECK_INT(mtasts_store_get(fork_store, "parent.example", &g, &err), MTASTS_OK,
              "child get");
    mtasts_record_free(&g);
    make_record(&r, "c1", "version: STSv1\nmode: enforce\nmx: mx.child.example\nmax_age: 60\n",
                2);
    CHECK_INT(mtasts_store_put(fork_store, "child.example", &r, &err), MTASTS_OK,
              "child put");
    CHECK_INT(mtasts_store_lease_acquire(fork_store, "child.example", 10, 60, &holder, &err),
              MTASTS_OK, "child lease");
    CHECK_INT(mtasts_store_lease_release(fork_store, "child.example", &err), MTASTS_OK,
              "child release");
    CHECK_INT(in_child(fork_grandchild, NULL), 0, "grandchild");
    mtasts_record_free(&r);
    /* No close: a child of Exim may just exit. */
    return unit_failed;
}

/* data_fds - descriptors of this process open on dir/data.mdb, and how
 * many of them are open for writing (/proc/self/fdinfo "flags") */
static int data_fds(const char *dir, int *writable)
{
    char want[4096], link[4096], path[64], line[128];
    int fd, n = 0;

    snprintf(want, sizeof want, "%s/data.mdb", dir);
    *writable = 0;
    for (fd = 0; fd < 1024; fd++) {
        ssize_t len;
        FILE *f;

        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if ((len = readlink(path, link, sizeof link - 1)) < 0)
            continue;
        link[len] = '\0';
        if (strcmp(link, want) != 0)
            continue;
        n++;
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        if (!(f = fopen(path, "r")))
            continue;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "flags:", 6) && (strtol(line + 6, NULL, 8) & O_ACCMODE) != O_RDONLY)
                (*writable)++;
        fclose(f);
    }
    return n;
}

static const char *fork_dir;

/* A store opened read_first (the Exim adapters: their processes nearly
 * always only read) holds data.mdb read-only, in a child too, and is not
 * "read-only" to its users: the first write reopens it read-write. */
static int fork_child_read_first(void *p)
{
    mtasts_store *s = p;
    mtasts_record r, g;
    mtasts_err err = {{0}};
    int w;

    CHECK_INT(mtasts_store_get(s, "parent.example", &g, &err), MTASTS_OK,
              "read_first child: get");
    mtasts_record_free(&g);
    CHECK_INT(data_fds(fork_dir, &w), 1, "read_first child: data.mdb open once");
    CHECK_INT(w, 0, "read_first child: data.mdb read-only after a get");
    CHECK(!mtasts_store_readonly(s), "read_first child: the store is not read-only to its users");
    make_record(&r, "r1", "version: STSv1\nmode: enforce\nmx: mx.ro.example\nmax_age: 60\n", 2);
    CHECK_INT(mtasts_store_put(s, "rf.example", &r, &err), MTASTS_OK, "read_first child: put");
    mtasts_record_free(&r);
    CHECK_INT(data_fds(fork_dir, &w), 2, "read_first child: LMDB's two descriptors after the put");
    CHECK_INT(w, 2, "read_first child: both writable");
    CHECK_INT(mtasts_store_get(s, "rf.example", &g, &err), MTASTS_OK,
              "read_first child: get after the put");
    CHECK_STR(g.id, "r1", "read_first child: the put's record");
    mtasts_record_free(&g);
    return unit_failed;
}

static void test_read_first(void)
{
    char *dir = mkdir_tmp();
    mtasts_store_config cfg = {.path = dir, .create = true, .read_first = true};
    mtasts_store *s = NULL;
    mtasts_record r, g;
    mtasts_err err;
    int w;

    /* A new store is created writable, read_first or not. */
    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    make_record(&r, "p1", "version: STSv1\nmode: testing\nmx: mx.parent.example\nmax_age: 60\n",
                1);
    CHECK_INT(mtasts_store_put(s, "parent.example", &r, &err), MTASTS_OK, "put, new store");
    mtasts_record_free(&r);
    mtasts_store_close(&s);

    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_store_get(s, "parent.example", &g, &err), MTASTS_OK, "read_first: get");
    mtasts_record_free(&g);
    CHECK_INT(data_fds(dir, &w), 1, "read_first: data.mdb open once");
    CHECK_INT(w, 0, "read_first: data.mdb open read-only");
    fork_dir = dir;
    CHECK_INT(in_child(fork_child_read_first, s), 0, "read_first: a child reads, then writes");
    CHECK_INT(data_fds(dir, &w), 1, "read_first: the parent's handle is still read-only");
    CHECK_INT(w, 0, "read_first: ... and open read-only");
    CHECK_INT(mtasts_store_get(s, "rf.example", &g, &err), MTASTS_OK,
              "read_first: the parent reads the child's record");
    mtasts_record_free(&g);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

static void test_fork(void)
{
    char *dir = mkdir_tmp();
    mtasts_record r, g;
    mtasts_store_stats st;
    mtasts_err err;
    int i;

    CHECK_INT(open_at(dir, true, NULL, &fork_store, &err), MTASTS_OK, err.msg);
    make_record(&r, "p1", "version: STSv1\nmode: testing\nmx: mx.parent.example\nmax_age: 60\n",
                1);
    CHECK_INT(mtasts_store_put(fork_store, "parent.example", &r, &err), MTASTS_OK, "put");
    for (i = 0; i < 3; i++)
        CHECK_INT(in_child(fork_child, NULL), 0, "child uses the parent's handle");
    CHECK_INT(mtasts_store_get(fork_store, "child.example", &g, &err), MTASTS_OK,
              "parent sees the child's record");
    CHECK_STR(g.id, "c1", "child's record");
    mtasts_record_free(&g);
    CHECK_INT(mtasts_store_put(fork_store, "after.example", &r, &err), MTASTS_OK,
              "parent put after the children");
    CHECK_INT(mtasts_store_get(fork_store, "parent.example", &g, &err), MTASTS_OK,
              "parent get after the children");
    mtasts_record_free(&g);
    CHECK_INT(mtasts_store_stats_get(fork_store, &st, &err), MTASTS_OK, "stats");
    CHECK_INT(st.readers_used, 0, "no reader slot held between calls, nor left by children");
    mtasts_store_close(&fork_store);
    mtasts_record_free(&r);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* Map growth, eviction, resizing by another process, stale readers     */

static void domain_name(char *buf, size_t size, unsigned i)
{
    /* Scrambled, so that key order says nothing about age. */
    snprintf(buf, size, "d%08x.example", i * 2654435761u);
}

static void test_tiny_map(void)
{
    char *dir = mkdir_tmp(), name[64], p[256];
    mtasts_store_config cfg = {.path = dir, .create = true, .map_initial = 64 << 10,
                               .map_max = 256 << 10, .notify = note};
    notes n = {0, ""};
    mtasts_store *s;
    mtasts_store_stats st;
    mtasts_record r, g;
    mtasts_err err = {{0}};
    struct stat fst;
    unsigned i, fails = 0, recent = 0, old = 0, total = 5000;

    cfg.notify_ctx = &n;
    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    for (i = 0; i < total; i++) {
        make_record(&r, "id1", "version: STSv1\nmode: enforce\nmx: mx1.example.net\n"
                    "mx: *.mx.example.org\nmax_age: 604800\n", 1700000000 + i);
        domain_name(name, sizeof name, i);
        mtasts_err_clear(&err);
        if (mtasts_store_put(s, name, &r, &err) != MTASTS_OK && fails++ < 3)
            printf("put %u: %s\n", i, err.msg);
        if (i % 10 == 0) {      /* one domain in constant use */
            r.last_used = 1700000000 + i;
            if (mtasts_store_put(s, "hot.example", &r, &err) != MTASTS_OK)
                fails++;
        }
        mtasts_record_free(&r);
    }
    CHECK_INT(fails, 0, "every put succeeds");
    CHECK(strstr(n.all, "grown to 128 KiB") && strstr(n.all, "grown to 256 KiB"),
          "growth notified: %.300s", n.all);
    CHECK(strstr(n.all, "evicted") != NULL, "eviction notified");
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
    CHECK(st.map_size <= 256 << 10, "map within map_max: %zu", st.map_size);
    CHECK(st.entries > 200, "still holds many records: %zu", st.entries);
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    CHECK(stat(p, &fst) == 0 && fst.st_size <= 256 << 10, "data.mdb size %ld",
          (long)fst.st_size);
    for (i = 0; i < 200; i++) {
        domain_name(name, sizeof name, i);
        old += mtasts_store_get(s, name, &g, &err) == MTASTS_OK;
        mtasts_record_free(&g);
        domain_name(name, sizeof name, total - 1 - i);
        recent += mtasts_store_get(s, name, &g, &err) == MTASTS_OK;
        mtasts_record_free(&g);
    }
    /* Eviction removes runs of neighbouring keys whose newest record is
     * oldest (deleting scattered single records would free no page): with
     * keys unrelated to age it prefers old records without being exact. */
    CHECK(recent >= 3 * old, "old records go first: %u of the oldest 200 remain, "
          "%u of the newest 200", old, recent);
    CHECK(recent >= 100, "many of the newest 200 remain: %u", recent);
    CHECK_INT(mtasts_store_get(s, "hot.example", &g, &err), MTASTS_OK,
              "a record in constant use survives");
    mtasts_record_free(&g);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

typedef struct grow_arg {
    const char *dir;
    unsigned n;
} grow_arg;

static int grow_child(void *p)
{
    grow_arg *a = p;
    mtasts_store_config cfg = {.path = a->dir, .map_initial = 64 << 10, .map_max = 64 << 20};
    mtasts_store *s;
    mtasts_record r;
    mtasts_err err = {{0}};
    char name[64];
    unsigned i;

    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    make_record(&r, "g", "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 60\n", 3);
    for (i = 0; s && i < a->n; i++) {
        domain_name(name, sizeof name, i);
        if (mtasts_store_put(s, name, &r, &err) != MTASTS_OK) {
            CHECK(0, "child put: %s", err.msg);
            break;
        }
    }
    mtasts_record_free(&r);
    mtasts_store_close(&s);
    return unit_failed;
}

static void test_resized_by_other(void)
{
    char *dir = mkdir_tmp(), name[64];
    mtasts_store_config cfg = {.path = dir, .create = true, .map_initial = 64 << 10,
                               .map_max = 64 << 20, .notify = note};
    notes n = {0, ""};
    grow_arg a = {dir, 3000};
    mtasts_store *s;
    mtasts_store_stats st;
    mtasts_record r, g;
    mtasts_err err = {{0}};

    cfg.notify_ctx = &n;
    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    make_record(&r, "", NULL, 1);
    CHECK_INT(mtasts_store_put(s, "first.example", &r, &err), MTASTS_OK, "put");
    CHECK_INT(in_child(grow_child, &a), 0, "another process grows the map");
    domain_name(name, sizeof name, a.n - 1);
    CHECK_INT(mtasts_store_get(s, name, &g, &err), MTASTS_OK, err.msg);
    mtasts_record_free(&g);
    CHECK(strstr(n.all, "resized by another process") != NULL, "notified: %s", n.all);
    CHECK_INT(mtasts_store_put(s, "second.example", &r, &err), MTASTS_OK, "put after resize");
    CHECK_INT(mtasts_store_stats_get(s, &st, &err), MTASTS_OK, "stats");
    CHECK_INT(st.entries, a.n + 2, "entries");
    CHECK(st.map_size > 64 << 10, "map adopted: %zu", st.map_size);
    mtasts_record_free(&r);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

static int stale_reader_child(void *p)
{
    MDB_env *env;
    MDB_txn *txn;

    if (mdb_env_create(&env) || mdb_env_set_maxreaders(env, MTASTS_STORE_MAX_READERS)
        || mdb_env_open(env, p, MDB_NOTLS, 0660) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
        return 1;
    raise(SIGKILL);             /* dies holding a reader slot */
    return 1;
}

static void test_stale_readers(void)
{
    char *dir = mkdir_tmp(), c;
    notes n = {0, ""};
    mtasts_store *s;
    mtasts_err err;
    int up[2], down[2], status;
    pid_t keeper;

    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
    mtasts_store_close(&s);
    /* The first process to open the environment resets the reader table,
     * so another process keeps it open meanwhile, as Exim processes do. */
    CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes");
    fflush(stdout);
    if ((keeper = fork()) == 0) {
        mtasts_store *ks;
        mtasts_err kerr;

        if (open_at(dir, false, NULL, &ks, &kerr) != MTASTS_OK || write(up[1], "k", 1) != 1
            || read(down[0], &c, 1) != 1)
            _exit(1);
        mtasts_store_close(&ks);
        _exit(0);
    }
    CHECK_INT(read(up[0], &c, 1), 1, "keeper has the store open");
    CHECK_INT(in_child(stale_reader_child, dir), 98, "child killed inside a read txn");
    CHECK_INT(open_at(dir, false, &n, &s, &err), MTASTS_OK, err.msg);
    CHECK(strstr(n.all, "cleared 1 stale reader") != NULL, "notified: %s", n.all);
    mtasts_store_close(&s);
    CHECK_INT(write(down[1], "x", 1), 1, "release keeper");
    CHECK(waitpid(keeper, &status, 0) == keeper && WIFEXITED(status)
          && WEXITSTATUS(status) == 0, "keeper status %d", status);
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);
    rm_tmp(dir);
}

/* readers_full - a live process holds every reader slot: TEMPFAIL; once
 * it is killed, one mdb_reader_check() recovers */
static void test_readers_full(void)
{
    char *dir = mkdir_tmp(), c = 0;
    notes n = {0, ""};
    mtasts_store *s;
    mtasts_record r, g;
    mtasts_err err;
    int up[2], status;
    pid_t hog;

    CHECK_INT(open_at(dir, true, &n, &s, &err), MTASTS_OK, err.msg);
    make_record(&r, "", NULL, 1);
    CHECK_INT(mtasts_store_put(s, "r.example", &r, &err), MTASTS_OK, "put");
    CHECK(pipe(up) == 0, "pipe");
    fflush(stdout);
    if ((hog = fork()) == 0) {
        MDB_env *env;
        MDB_txn *txn;
        int i = 0;

        /* Its own environment (the inherited one is left alone). */
        if (mdb_env_create(&env) || mdb_env_open(env, dir, MDB_NOTLS, 0660))
            _exit(1);
        while (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0)
            i++;
        c = i == MTASTS_STORE_MAX_READERS ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    CHECK(read(up[0], &c, 1) == 1 && c == 'y', "child holds all %d slots",
          MTASTS_STORE_MAX_READERS);
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_store_get(s, "r.example", &g, &err), MTASTS_TEMPFAIL,
              "readers full, holder alive");
    CHECK(strstr(err.msg, "MDB_READERS_FULL") != NULL, "message: %s", err.msg);
    CHECK_INT(mtasts_store_put(s, "w.example", &r, &err), MTASTS_OK,
              "writers need no reader slot");
    kill(hog, SIGKILL);
    waitpid(hog, &status, 0);
    CHECK_INT(mtasts_store_get(s, "r.example", &g, &err), MTASTS_OK,
              "recovered by mdb_reader_check");
    mtasts_record_free(&g);
    CHECK(strstr(n.all, "cleared 1022 stale reader") != NULL, "notified: %s", n.all);
    close(up[0]);
    close(up[1]);
    mtasts_record_free(&r);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* Leases                                                               */

static mtasts_store *lease_store;
static int lease_pipe[2];
static int64_t lease_now;
static unsigned lease_ttl;

/* lease_holder_child - take the lease, tell the parent, wait to be killed */
static pid_t lease_holder_child(void)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        mtasts_err err = {{0}};
        pid_t h;
        char ok = mtasts_store_lease_acquire(lease_store, "lease.example", lease_now,
                                             lease_ttl, &h, &err) == MTASTS_OK ? 'y' : 'n';

        if (write(lease_pipe[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    return pid;
}

static void test_lease(void)
{
    char *dir = mkdir_tmp(), c = 0;
    mtasts_err err;
    pid_t child, holder, self = getpid();
    int status;

    CHECK_INT(open_at(dir, true, NULL, &lease_store, &err), MTASTS_OK, err.msg);
    CHECK_INT(pipe(lease_pipe), 0, "pipe");

    /* acquire, refresh by the same process, release */
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "lease.example", 1000, 60, &holder, &err),
              MTASTS_OK, "acquire");
    CHECK_INT(holder, 0, "holder unset when acquired");
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "Lease.Example", 1001, 60, &holder, &err),
              MTASTS_OK, "the holder may re-acquire (refresh)");
    CHECK_INT(mtasts_store_lease_check(lease_store, "lease.example", 1002, &holder, &err),
              MTASTS_OK, "check");
    CHECK_INT(holder, self, "holder is us");
    CHECK_INT(mtasts_store_lease_release(lease_store, "lease.example", &err), MTASTS_OK,
              "release");
    CHECK_INT(mtasts_store_lease_check(lease_store, "lease.example", 1002, &holder, &err),
              MTASTS_NOT_FOUND, "released");
    CHECK_INT(mtasts_store_lease_release(lease_store, "lease.example", &err), MTASTS_NOT_FOUND,
              "release when not held");

    /* another live process holds it; SIGKILL frees it */
    lease_now = 1000;
    lease_ttl = 600;
    child = lease_holder_child();
    CHECK(read(lease_pipe[0], &c, 1) == 1 && c == 'y', "child acquired");
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "lease.example", 1001, 60, &holder, &err),
              MTASTS_TEMPFAIL, "held by another process");
    CHECK_INT(holder, child, "holder pid");
    CHECK_INT(mtasts_store_lease_check(lease_store, "lease.example", 1001, &holder, &err),
              MTASTS_OK, "check sees the holder");
    CHECK_INT(holder, child, "check holder pid");
    CHECK_INT(mtasts_store_lease_release(lease_store, "lease.example", &err), MTASTS_NOT_FOUND,
              "release of another's lease does nothing");
    CHECK_INT(mtasts_store_lease_check(lease_store, "lease.example", 1001, &holder, &err),
              MTASTS_OK, "still held");
    kill(child, SIGKILL);
    waitpid(child, &status, 0);         /* an unreaped zombie would still count */
    CHECK_INT(mtasts_store_lease_check(lease_store, "lease.example", 1001, &holder, &err),
              MTASTS_NOT_FOUND, "dead holder: no live lease");
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "lease.example", 1001, 60, &holder, &err),
              MTASTS_OK, "acquire after the holder was killed");
    CHECK_INT(mtasts_store_lease_release(lease_store, "lease.example", &err), MTASTS_OK,
              "release");

    /* a live holder whose lease expired */
    lease_now = 2000;
    lease_ttl = 10;
    child = lease_holder_child();
    CHECK(read(lease_pipe[0], &c, 1) == 1 && c == 'y', "child acquired");
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "lease.example", 2009, 60, &holder, &err),
              MTASTS_TEMPFAIL, "not yet expired");
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "lease.example", 2010, 60, &holder, &err),
              MTASTS_OK, "expired lease is taken over");
    CHECK_INT(mtasts_store_lease_check(lease_store, "lease.example", 2011, &holder, &err),
              MTASTS_OK, "check");
    CHECK_INT(holder, self, "we hold it now");
    kill(child, SIGKILL);
    waitpid(child, &status, 0);

    /* leases of other domains are independent */
    CHECK_INT(mtasts_store_lease_acquire(lease_store, "other.example", 2011, 60, &holder, &err),
              MTASTS_OK, "other domain");
    CHECK_INT(mtasts_store_lease_check(lease_store, "third.example", 2011, &holder, &err),
              MTASTS_NOT_FOUND, "no lease");
    close(lease_pipe[0]);
    close(lease_pipe[1]);
    mtasts_store_close(&lease_store);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* Planted files: a root process never writes through them (issue 10.1) */

enum plant_kind { PLANT_SYMLINK, PLANT_DANGLING, PLANT_HARDLINK, PLANT_FIFO, PLANT_DIR };

typedef struct plant_arg {
    const struct passwd *pw;
    enum plant_kind kind;
    const char *path, *target;
} plant_arg;

/* plant_child - as the Exim user, put kind at path */
static int plant_child(void *p)
{
    plant_arg *a = p;

    if (!become(a->pw))
        return 1;
    switch (a->kind) {
    case PLANT_SYMLINK: case PLANT_DANGLING: return symlink(a->target, a->path) != 0;
    case PLANT_FIFO: return mkfifo(a->path, 0660) != 0;
    case PLANT_DIR: return mkdir(a->path, 0770) != 0;
    case PLANT_HARDLINK: break;
    }
    return 1;
}

static void test_planted(void)
{
    static const struct {
        const char *what, *name, *reason;
        enum plant_kind kind;
    } cases[] = {
        {"lock.mdb -> root file, no data.mdb", "lock.mdb", "symbolic link", PLANT_SYMLINK},
        {"lock.mdb -> missing file, no data.mdb", "lock.mdb", "symbolic link", PLANT_DANGLING},
        {"data.mdb -> root file", "data.mdb", "symbolic link", PLANT_SYMLINK},
        {"data.mdb -> missing file", "data.mdb", "symbolic link", PLANT_DANGLING},
        {"lock.mdb hard link to a root file", "lock.mdb", "hard links", PLANT_HARDLINK},
        {"data.mdb hard link to a root file", "data.mdb", "hard links", PLANT_HARDLINK},
        {"lock.mdb a FIFO", "lock.mdb", "not a regular file", PLANT_FIFO},
        {"data.mdb a FIFO", "data.mdb", "not a regular file", PLANT_FIFO},
        {"lock.mdb a directory", "lock.mdb", "not a regular file", PLANT_DIR},
        {"data.mdb a directory", "data.mdb", "not a regular file", PLANT_DIR},
    };
    const char *secret = "root only: must stay as it is\n";
    struct passwd *pw = exim_user();
    char target[256], missing[256], planted[256], link_path[256];
    mtasts_store *s;
    mtasts_err err;
    struct stat st;
    size_t i;

    if (!pw) {
        printf("SKIP planted files: needs root and the Debian-exim user\n");
        return;
    }
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *root_dir = mkdir_tmp(), *dir = mkdir_tmp();
        plant_arg a = {pw, cases[i].kind, planted, NULL};
        int fd;

        /* A root-only file, and a name nobody but root may create. */
        snprintf(target, sizeof target, "%s/secret", root_dir);
        snprintf(missing, sizeof missing, "%s/created", root_dir);
        fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0 && write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret),
              "%s: write the target", cases[i].what);
        close(fd);
        CHECK_INT(chown(dir, pw->pw_uid, pw->pw_gid), 0, "chown store dir");
        CHECK_INT(chmod(dir, 0770), 0, "chmod store dir");
        CHECK_INT(chmod(root_dir, 0711), 0, "chmod root dir");    /* reachable, not writable */
        snprintf(planted, sizeof planted, "%s/%s", dir, cases[i].name);
        a.target = cases[i].kind == PLANT_DANGLING ? missing : target;
        if (cases[i].kind == PLANT_HARDLINK)    /* protected_hardlinks stops the Exim user */
            CHECK_INT(link(target, planted), 0, "hard link planted");
        else
            CHECK_INT(in_child(plant_child, &a), 0, "planted as Debian-exim");

        CHECK(open_at(dir, true, NULL, &s, &err) != MTASTS_OK, "%s: refused", cases[i].what);
        mtasts_store_close(&s);
        CHECK(strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].reason),
              "%s: says why: %s", cases[i].what, err.msg);
        CHECK(root_file_intact(target, secret), "%s: target untouched: \"%s\"", cases[i].what,
              slurp(target));
        CHECK(lstat(missing, &st) != 0 && errno == ENOENT, "%s: nothing created",
              cases[i].what);

        unlink(planted);
        rmdir(planted);
        unlink(target);
        rmdir(root_dir);
        rm_tmp(dir);
    }

    /* The store directory itself a symbolic link to a root-only directory. */
    {
        char *parent = mkdir_tmp(), *root_dir = mkdir_tmp();
        plant_arg a = {pw, PLANT_SYMLINK, link_path, root_dir};

        CHECK_INT(chown(parent, pw->pw_uid, pw->pw_gid), 0, "chown parent");
        CHECK_INT(chmod(root_dir, 0755), 0, "chmod root dir");
        snprintf(link_path, sizeof link_path, "%s/store", parent);
        CHECK_INT(in_child(plant_child, &a), 0, "store dir symlink planted");
        CHECK(open_at(link_path, true, NULL, &s, &err) != MTASTS_OK, "symlinked dir refused");
        mtasts_store_close(&s);
        CHECK(strstr(err.msg, "symbolic link") != NULL, "says why: %s", err.msg);
        strcat(link_path, "//");        /* a trailing slash follows links */
        CHECK(open_at(link_path, true, NULL, &s, &err) != MTASTS_OK,
              "symlinked dir with a trailing slash refused");
        mtasts_store_close(&s);
        link_path[strlen(link_path) - 2] = '\0';
        snprintf(target, sizeof target, "%s/data.mdb", root_dir);
        CHECK(lstat(target, &st) != 0, "no data.mdb created as root in the link's target");
        snprintf(target, sizeof target, "%s/lock.mdb", root_dir);
        CHECK(lstat(target, &st) != 0, "no lock.mdb created as root in the link's target");
        unlink(link_path);
        rm_tmp(root_dir);
        rmdir(parent);
    }

    /* Directories a root process cannot safely act in as their owner. */
    {
        char *dir = mkdir_tmp();

        CHECK_INT(chown(dir, 0, pw->pw_gid), 0, "chown root:Debian-exim");
        CHECK_INT(chmod(dir, 0770), 0, "chmod 0770");
        CHECK(open_at(dir, true, NULL, &s, &err) != MTASTS_OK
              && strstr(err.msg, "others may write"), "root-owned, group-writable: %s",
              err.msg);
        mtasts_store_close(&s);
        snprintf(target, sizeof target, "%s/lock.mdb", dir);
        CHECK(lstat(target, &st) != 0, "nothing created there");
        /* Group root: the owner's own group instead of root's. */
        CHECK_INT(chown(dir, pw->pw_uid, 0), 0, "chown Debian-exim:root");
        CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);
        mtasts_store_close(&s);
        CHECK(lstat(target, &st) == 0 && st.st_uid == pw->pw_uid && st.st_gid == pw->pw_gid,
              "group root: files get the owner's group");
        rm_tmp(dir);
    }
}

/* ------------------------------------------------------------------ */
/* The check-then-open race (issue 10.1)                                */

typedef struct race_arg {
    const struct passwd *pw;
    const char *dir, *target;
} race_arg;

/* swapper - as the Exim user, swap lock.mdb between a regular file and a
 * symbolic link to the target, as fast as it can, until killed */
static int swapper(void *p)
{
    race_arg *a = p;
    char reg[256], sym[256], lock[256];

    if (!become(a->pw))
        return 1;
    snprintf(reg, sizeof reg, "%s/lock.reg", a->dir);
    snprintf(sym, sizeof sym, "%s/lock.sym", a->dir);
    snprintf(lock, sizeof lock, "%s/lock.mdb", a->dir);
    for (;;) {
        int fd = open(reg, O_WRONLY | O_CREAT | O_TRUNC, 0660);

        if (fd >= 0)
            close(fd);
        rename(reg, lock);
        unlink(sym);
        if (symlink(a->target, sym) == 0)
            rename(sym, lock);
    }
    return 0;
}

static void test_race(void)
{
    const char *secret = "root only: must stay as it is\n";
    struct passwd *pw = exim_user();
    char target[256], p[256];
    char *root_dir, *dir;
    mtasts_store *s;
    mtasts_err err;
    race_arg a;
    pid_t pid;
    time_t end;
    unsigned opens = 0, refused = 0;
    int fd, status;

    if (!pw) {
        printf("SKIP race: needs root and the Debian-exim user\n");
        return;
    }
    root_dir = mkdir_tmp();
    dir = mkdir_tmp();
    snprintf(target, sizeof target, "%s/secret", root_dir);
    fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret), "target");
    close(fd);
    CHECK_INT(chmod(root_dir, 0711), 0, "chmod root dir");
    CHECK_INT(chown(dir, pw->pw_uid, pw->pw_gid), 0, "chown store dir");
    CHECK_INT(chmod(dir, 0770), 0, "chmod store dir");
    CHECK_INT(open_at(dir, true, NULL, &s, &err), MTASTS_OK, err.msg);     /* data.mdb */
    mtasts_store_close(&s);

    a = (race_arg){pw, dir, target};
    fflush(stdout);
    pid = fork();
    if (pid == 0)
        _exit(swapper(&a));
    CHECK(pid > 0, "fork");
    /* Root opens (and LMDB initialises lock.mdb) while it changes under it. */
    for (end = time(NULL) + 2; time(NULL) < end; opens++) {
        if (open_at(dir, true, NULL, &s, &err) != MTASTS_OK)
            refused++;
        mtasts_store_close(&s);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    printf("# race: %u opens, %u refused or failed\n", opens, refused);
    CHECK(opens > 50, "raced often enough: %u opens", opens);
    CHECK_STR(slurp(target), secret, "target unchanged after the race");
    {
        struct stat st;

        CHECK(stat(target, &st) == 0 && st.st_uid == 0 && (st.st_mode & 07777) == 0600
              && st.st_size == (off_t)strlen(secret), "target owner/mode/size");
    }
    snprintf(p, sizeof p, "%s/lock.reg", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.sym", dir);
    unlink(p);
    unlink(target);
    rmdir(root_dir);
    rm_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* Eviction order (issue 10.3)                                          */

typedef struct evict_group {
    const char *prefix;
    unsigned n, kept;
} evict_group;

/* put_group - records from..g->n-1 of group g */
static void put_group(mtasts_store *s, evict_group *g, unsigned from, const char *id,
                      const char *body, int64_t fetched, int64_t used, unsigned *fails)
{
    mtasts_record r;
    mtasts_err err = {{0}};
    char name[64];
    unsigned i;

    for (i = from; i < g->n; i++) {
        make_record(&r, id, body, fetched);
        r.last_used = used;
        if (!body)
            r.next_check_at = used + 86400;     /* a negative entry */
        snprintf(name, sizeof name, "%s%04u.example", g->prefix, i);
        *fails += mtasts_store_put(s, name, &r, &err) != MTASTS_OK;
        mtasts_record_free(&r);
    }
}

static void count_group(mtasts_store *s, evict_group *g)
{
    mtasts_record r;
    mtasts_err err = {{0}};
    char name[64];
    unsigned i;

    g->kept = 0;
    for (i = 0; i < g->n; i++) {
        snprintf(name, sizeof name, "%s%04u.example", g->prefix, i);
        g->kept += mtasts_store_get(s, name, &r, &err) == MTASTS_OK;
        mtasts_record_free(&r);
    }
}

static void test_evict_order(void)
{
    const char *testing = "version: STSv1\nmode: testing\nmx: mx1.example.net\nmax_age: 604800\n";
    const char *enforce = "version: STSv1\nmode: enforce\nmx: mx1.example.net\nmax_age: 604800\n";
    char *dir = mkdir_tmp();
    mtasts_store_config cfg = {.path = dir, .create = true, .map_initial = 64 << 10,
                               .map_max = 256 << 10, .notify = note};
    notes n = {0, ""};
    int64_t now = (int64_t)time(NULL), day = 86400;
    /* Key order is the opposite of the order of value: evicting by key
     * (the old bug) takes the recently used records first. */
    evict_group recent = {"a-recent-", 150, 0}, enforced = {"b-enforce-", 150, 0},
                unused = {"c-unused-", 150, 0}, expired = {"x-expired-", 300, 0},
                negative = {"y-negative-", 300, 0}, fresh = {"m-fresh-", 0, 0};
    mtasts_store *s;
    mtasts_err err = {{0}};
    unsigned fails = 0;

    cfg.notify_ctx = &n;
    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    /* Live policies, fetched a day ago (max_age a week). */
    put_group(s, &recent, 0, "r1", testing, now - day, now, &fails);
    put_group(s, &enforced, 0, "e1", enforce, now - day, now - 30 * day, &fails);
    put_group(s, &unused, 0, "u1", testing, now - day, now - 30 * day, &fails);
    /* Expired: fetched 20 days ago with a week's max_age; used 10 days ago,
     * more recently than the enforce and unused groups. */
    put_group(s, &expired, 0, "x1", enforce, now - 20 * day, now - 10 * day, &fails);
    /* Negative entries (no policy), used 5 days ago. */
    put_group(s, &negative, 0, "", NULL, 0, now - 5 * day, &fails);
    CHECK_INT(fails, 0, "filling puts");
    CHECK(strstr(n.all, "evicted") == NULL, "no eviction while filling: %.300s", n.all);
    /* New live records until the map is past its limit, then some more. */
    while (fresh.n < 3000 && !strstr(n.all, "evicted")) {
        fresh.n++;
        put_group(s, &fresh, fresh.n - 1, "f1", testing, now, now, &fails);
    }
    fresh.n += 100;
    put_group(s, &fresh, fresh.n - 100, "f1", testing, now, now, &fails);
    CHECK_INT(fails, 0, "every put succeeds");
    CHECK(strstr(n.all, "evicted") != NULL, "evicted: %.300s", n.all);
    count_group(s, &recent);
    count_group(s, &enforced);
    count_group(s, &unused);
    count_group(s, &expired);
    count_group(s, &negative);
    count_group(s, &fresh);
    /* Exactly: every live policy survives, only records without a usable
     * policy went, and more of the least recently used (expired) ones. A
     * run (store_evict.c) straddling two groups scores as its better one,
     * so "first" holds per run, not per record. */
    CHECK_INT(recent.kept, recent.n, "recently used testing policies kept");
    CHECK_INT(enforced.kept, enforced.n, "long unused enforce policies kept");
    CHECK_INT(unused.kept, unused.n, "long unused testing policies kept");
    CHECK_INT(fresh.kept, fresh.n, "new records kept");
    CHECK(expired.kept < expired.n, "expired policies evicted: %u of %u kept",
          expired.kept, expired.n);
    CHECK(expired.n - expired.kept > negative.n - negative.kept,
          "expired (used 10 days ago) before negative (used 5 days ago): %u and %u evicted",
          expired.n - expired.kept, negative.n - negative.kept);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_round_trip();
    test_foreach_stats_flush();
    test_open_and_schema();
    test_modes_owner();
    test_readonly();
    test_fork();
    test_read_first();
    test_tiny_map();
    test_resized_by_other();
    test_stale_readers();
    test_readers_full();
    test_lease();
    test_planted();
    test_race();
    test_evict_order();
    return UNIT_DONE("store");
}
