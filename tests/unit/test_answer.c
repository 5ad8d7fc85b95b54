/*
 * test_answer.c - mtasts_answer()'s per-process state (issue 10.2): the
 * store reports recoveries long after the call that opened it, so what it
 * calls back must not live on a caller's stack. A first lookup opens the
 * store with hooks in its own frame; after that frame is gone (and its
 * memory reused), a stale reader slot and a fork() make the store reopen
 * and report, inside a lookup made from a deeper frame with other hooks.
 * Under ASan this runs with detect_stack_use_after_return=1 (see below);
 * without ASan, the dead frame is overwritten so a call through it crashes.
 */
#include "answer.h"
#include "record.h"
#include "store.h"
#include "store_tmp.h"
#include "unit.h"

#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Picked up by ASan builds only (make check's build/asan). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_stack_use_after_return=1";
}

static char dir[64], opts[256];

typedef struct log_sink {
    const char *who;
    char all[4096];
} log_sink;

static log_sink first_sink = {"first", ""}, deep_sink = {"deep", ""};

static void sink_log(void *ctx, mtasts_log_level lvl, const char *msg)
{
    log_sink *k = ctx;
    size_t n = strlen(k->all);

    (void)lvl;
    snprintf(k->all + n, sizeof k->all - n, "%s\n", msg);
}

/* first_lookup - the hooks live in this frame only */
__attribute__((noinline)) static mtasts_status first_lookup(void)
{
    mtasts_hooks hooks = {sink_log, &first_sink, true};
    char out[MTASTS_ANSWER_MAX];
    unsigned ttl;
    mtasts_err err = {{0}};

    return mtasts_answer("cached.example", opts, &hooks, out, sizeof out, &ttl, &err);
}

/* clobber_stack - reuse the stack the first lookup's frame was on */
__attribute__((noinline)) static void clobber_stack(void)
{
    volatile unsigned char junk[16384];

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xa5;
}

__attribute__((noinline)) static mtasts_status deep_lookup(int depth, const mtasts_hooks *h)
{
    char out[MTASTS_ANSWER_MAX];
    unsigned ttl;
    mtasts_err err = {{0}};

    if (depth > 0)
        return deep_lookup(depth - 1, h);
    return mtasts_answer("cached.example", opts, h, out, sizeof out, &ttl, &err);
}

/* stale_reader - a process that dies holding a reader slot of the store */
static void stale_reader(void)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        MDB_env *env;
        MDB_txn *txn;

        if (mdb_env_create(&env) || mdb_env_set_maxreaders(env, MTASTS_STORE_MAX_READERS)
            || mdb_env_open(env, dir, MDB_NOTLS, 0660)
            || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
            _exit(1);
        raise(SIGKILL);
        _exit(1);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status),
          "stale reader child killed");
}

static void prepare_store(void)
{
    mtasts_store_config cfg = {.path = dir, .create = true};
    const char *body = "version: STSv1\nmode: enforce\nmx: mx.cached.example\nmax_age: 86400\n";
    int64_t now = (int64_t)time(NULL);
    mtasts_store *s;
    mtasts_record r;
    mtasts_err err = {{0}};

    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    mtasts_record_init(&r);
    CHECK_INT(mtasts_policy_parse(body, strlen(body), &r.policy, &err), MTASTS_OK, err.msg);
    strcpy(r.id, "c1");
    r.source = MTASTS_SOURCE_FETCHED;
    r.fetched_at = r.txt_checked_at = r.last_used = now;
    r.expires_at = now + 86400;
    r.next_check_at = now + 3000;
    CHECK_INT(mtasts_store_put(s, "cached.example", &r, &err), MTASTS_OK, err.msg);
    mtasts_record_free(&r);
    mtasts_store_close(&s);
}

/* daily_answers - "daily=yes" (the snippets' once-a-day checks) in the
 * first answer of a UTC day only: a record last used two days ago gives it
 * once, then not again; a record used today never. */
static void daily_answers(void)
{
    mtasts_store_config cfg = {.path = dir};
    const char *body = "version: STSv1\nmode: enforce\nmx: mx.daily.example\nmax_age: 86400\n";
    int64_t now = (int64_t)time(NULL);
    mtasts_store *s;
    mtasts_record r;
    mtasts_err err = {{0}};
    char out[MTASTS_ANSWER_MAX];
    unsigned ttl;

    CHECK_INT(mtasts_store_open(&cfg, &s, &err), MTASTS_OK, err.msg);
    mtasts_record_init(&r);
    CHECK_INT(mtasts_policy_parse(body, strlen(body), &r.policy, &err), MTASTS_OK, err.msg);
    strcpy(r.id, "d1");
    r.source = MTASTS_SOURCE_FETCHED;
    r.fetched_at = r.txt_checked_at = now;
    r.last_used = now - 2 * 86400;
    r.expires_at = now + 86400;
    r.next_check_at = now + 3000;
    CHECK_INT(mtasts_store_put(s, "daily.example", &r, &err), MTASTS_OK, err.msg);
    mtasts_record_free(&r);
    mtasts_store_close(&s);

    CHECK_INT(mtasts_answer("daily.example", opts, NULL, out, sizeof out, &ttl, &err),
              MTASTS_OK, err.msg);
    CHECK(strstr(out, " daily=yes") != NULL, "last used two days ago: daily=yes: %s", out);
    CHECK_INT(mtasts_answer("daily.example", opts, NULL, out, sizeof out, &ttl, &err),
              MTASTS_OK, err.msg);
    CHECK(!strstr(out, "daily="), "the second answer of the day: no daily: %s", out);
    CHECK_INT(mtasts_answer("cached.example", opts, NULL, out, sizeof out, &ttl, &err),
              MTASTS_OK, err.msg);
    CHECK(!strstr(out, "daily="), "last used today: no daily: %s", out);
}

/* in_forked_child - the lookup from a deeper frame after fork(), with a
 * stale reader slot to clear: 0 when the notice reached its own hooks */
static int in_forked_child(bool with_hooks)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        mtasts_hooks hooks = {sink_log, &deep_sink, true};
        mtasts_status st = deep_lookup(8, with_hooks ? &hooks : NULL);

        if (st != MTASTS_OK)
            _exit(3);
        if (with_hooks && !strstr(deep_sink.all, "cleared 1 stale reader slot"))
            _exit(4);
        if (strstr(first_sink.all, "stale reader"))
            _exit(5);           /* the dead frame's hooks were called */
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void)
{
    mtasts_hooks hooks = {sink_log, &deep_sink, true};

    setvbuf(stdout, NULL, _IOLBF, 0);
    strcpy(dir, "/tmp/mtasts-answer-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    snprintf(opts, sizeof opts, "store=%s,helper=/nonexistent/mtasts,recheck=3600", dir);
    prepare_store();

    CHECK_INT(first_lookup(), MTASTS_OK, "first lookup, from the store");
    CHECK(strstr(first_sink.all, "answered from the store") != NULL, "first hooks used: %s",
          first_sink.all);
    clobber_stack();

    stale_reader();
    CHECK_INT(in_forked_child(true), 0,
              "after fork(), a lookup from a deeper frame reports the cleared stale "
              "reader slot through its own hooks (3: lookup failed, 4: notice missing, "
              "5: sent to the first call's hooks, >128: killed by a signal)");
    stale_reader();
    CHECK_INT(in_forked_child(false), 0, "the same without hooks: nothing called");
    CHECK_INT(deep_lookup(3, &hooks), MTASTS_OK, "the parent still answers");
    daily_answers();

    rm_tmp(dir);
    return UNIT_DONE("answer");
}
