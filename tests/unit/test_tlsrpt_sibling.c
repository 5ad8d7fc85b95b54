/*
 * test_tlsrpt_sibling.c - the TLSRPT outcomes' own LMDB environment next to
 * the policy store (<store>/tlsrpt.mdb, tlsrpt_store.h): outcomes never in
 * the policy store's file, opened only by recording and reporting, synced
 * once a minute, a damaged sibling (garbled, truncated, foreign schema)
 * leaves the policy store working and is moved aside by the reporter's
 * repair, its own size ceiling, outcomes of the earlier layout deleted,
 * and as root: planted links never followed, files created as the
 * directory's owner.
 */
#include "store.h"
#include "tlsrpt_store.h"
#include "unit.h"
#include "store_tmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY1 1764720000         /* 2025-12-03 00:00:00 UTC */

static mtasts_tlsrpt_outcome outcome(const char *domain, int64_t when, const char *result)
{
    return (mtasts_tlsrpt_outcome){
        .when = when, .policy_domain = domain, .type = MTASTS_TLSRPT_STS,
        .policy_string = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400",
        .mx_patterns = "mx.example.com", .mx_host = "mx.example.com",
        .receiving_ip = "192.0.2.1", .sending_ip = "198.51.100.1", .result_type = result };
}

static mtasts_status rec(mtasts_store *s, const char *domain, int64_t when, mtasts_err *err)
{
    mtasts_tlsrpt_outcome o = outcome(domain, when, NULL);

    mtasts_err_clear(err);
    return mtasts_tlsrpt_record(s, &o, err);
}

static bool count_one(void *ctx, const mtasts_tlsrpt_aggregate *a)
{
    (void)a;
    ++*(int *)ctx;
    return true;
}

static int aggregates(mtasts_store *s)
{
    int n = 0;
    mtasts_err err = {{0}};

    CHECK(mtasts_tlsrpt_foreach(s, NULL, count_one, &n, &err) == MTASTS_OK, "foreach: %s",
          err.msg);
    return n;
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

/* names in dir that start with prefix */
static int names_with(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

/* is a file named name mapped into this process? */
static bool mapped(const char *name)
{
    char line[1024];
    FILE *f = fopen("/proc/self/maps", "r");
    bool found = false;

    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, name) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* ------------------------------------------------------------------ */
/* Raw LMDB access (the store closed): what is really in each file      */

typedef struct raw {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
} raw;

static bool raw_open(raw *r, const char *dir, bool sibling, bool write)
{
    char p[512];

    snprintf(p, sizeof p, "%s%s", dir, sibling ? "/" MTASTS_TLSRPT_FILE : "");
    memset(r, 0, sizeof *r);
    if (mdb_env_create(&r->env) || mdb_env_set_mapsize(r->env, 1u << 20)
        || mdb_env_open(r->env, p, (sibling ? MDB_NOSUBDIR : 0) | (write ? 0 : MDB_RDONLY),
                        0660)) {
        mdb_env_close(r->env);
        return false;
    }
    if (mdb_txn_begin(r->env, NULL, write ? 0 : MDB_RDONLY, &r->txn)
        || mdb_dbi_open(r->txn, NULL, 0, &r->dbi)) {
        mdb_env_close(r->env);
        return false;
    }
    return true;
}

static void raw_close(raw *r, bool commit)
{
    if (commit)
        CHECK_INT(mdb_txn_commit(r->txn), 0, "raw commit");
    else
        mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
}

/* keys of the file that start with prefix */
static int raw_count(const char *dir, bool sibling, const char *prefix)
{
    raw r;
    MDB_cursor *c;
    MDB_val k, v;
    int n = 0;

    if (!raw_open(&r, dir, sibling, false))
        return -1;
    mdb_cursor_open(r.txn, r.dbi, &c);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
        n += k.mv_size >= strlen(prefix) && !memcmp(k.mv_data, prefix, strlen(prefix));
    mdb_cursor_close(c);
    raw_close(&r, false);
    return n;
}

static int64_t raw_synced(const char *dir)
{
    raw r;
    MDB_val k = { sizeof "\001synced" - 1, "\001synced" }, v;
    char num[32] = "";

    if (!raw_open(&r, dir, true, false))
        return -1;
    if (mdb_get(r.txn, r.dbi, &k, &v) == 0 && v.mv_size < sizeof num)
        memcpy(num, v.mv_data, v.mv_size);
    raw_close(&r, false);
    return strtoll(num, NULL, 10);
}

static void raw_put(const char *dir, bool sibling, const char *key, const char *val)
{
    raw r;
    MDB_val k = { strlen(key), (void *)key }, v = { strlen(val), (void *)val };

    CHECK(raw_open(&r, dir, sibling, true), "raw open %s", dir);
    CHECK_INT(mdb_put(r.txn, r.dbi, &k, &v, 0), 0, "raw put");
    raw_close(&r, true);
}

/* ------------------------------------------------------------------ */

/* Outcomes go to tlsrpt.mdb, never to the policy store's data.mdb; the
 * sibling remembers its last sync. On the earlier layout (outcomes in
 * data.mdb, no tlsrpt.mdb) this fails. */
static void test_layout(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_tmp_store(dir);
    mtasts_err err = {{0}};
    int64_t now = (int64_t)time(NULL), synced;

    CHECK_INT(rec(s, "example.com", DAY1, &err), MTASTS_OK, err.msg);
    CHECK_INT(rec(s, "example.org", DAY1, &err), MTASTS_OK, err.msg);
    CHECK(exists(dir, "tlsrpt.mdb") && exists(dir, "tlsrpt.mdb-lock"), "sibling files made");
    CHECK_INT(aggregates(s), 2, "read back");
    mtasts_store_close(&s);
    CHECK_INT(raw_count(dir, false, "\002tlsrpt:"), 0, "no aggregate in data.mdb");
    CHECK_INT(raw_count(dir, false, "\002tlsrpt-day:"), 0, "no day counter in data.mdb");
    CHECK_INT(raw_count(dir, true, "\002tlsrpt:"), 2, "aggregates in tlsrpt.mdb");
    CHECK_INT(raw_count(dir, true, "\002tlsrpt-day:"), 1, "day counter in tlsrpt.mdb");
    synced = raw_synced(dir);
    CHECK(synced >= now && synced <= now + 5, "last sync noted: %lld (now %lld)",
          (long long)synced, (long long)now);
    /* A sync a minute: an older note is renewed by the next record. */
    raw_put(dir, true, "\001synced", "1000");
    s = open_tmp_store(dir);
    CHECK_INT(rec(s, "example.net", DAY1, &err), MTASTS_OK, err.msg);
    mtasts_store_close(&s);
    CHECK(raw_synced(dir) >= now, "an old sync renewed: %lld", (long long)raw_synced(dir));
    rm_tmp(dir);
}

/* Lookups never open the sibling; readers do not create it. */
static void test_lazy(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_tmp_store(dir);
    mtasts_err err = {{0}};
    mtasts_record r;
    uint64_t aggs = 9, overflow = 9;

    mtasts_record_init(&r);
    r.fetched_at = r.last_used = 1700000000;
    r.expires_at = r.fetched_at + 86400;
    CHECK_INT(mtasts_store_put(s, "cached.example", &r, &err), MTASTS_OK, err.msg);
    CHECK_INT(mtasts_store_get(s, "cached.example", &r, &err), MTASTS_OK, err.msg);
    mtasts_record_free(&r);
    CHECK(!exists(dir, "tlsrpt.mdb") && !exists(dir, "tlsrpt.mdb-lock"),
          "policy lookups make no sibling");
    CHECK(!mapped("tlsrpt.mdb"), "policy lookups map no sibling");
    CHECK_INT(aggregates(s), 0, "nothing recorded yet");
    CHECK(mtasts_tlsrpt_day_stats(s, "2025-12-03", &aggs, &overflow, &err) == MTASTS_OK
          && aggs == 0 && overflow == 0, "no day counts: %s", err.msg);
    CHECK(!exists(dir, "tlsrpt.mdb"), "readers make no sibling");
    CHECK_INT(rec(s, "example.com", DAY1, &err), MTASTS_OK, err.msg);
    CHECK(mapped("tlsrpt.mdb"), "a recorder maps it (the check above can see it)");
    mtasts_store_close(&s);
    CHECK(!mapped("tlsrpt.mdb"), "closed with the policy store");
    rm_tmp(dir);
}

typedef enum { GARBLE, TRUNCATE, SCHEMA } damage;

static void do_damage(const char *dir, damage how)
{
    char p[512], junk[8192];
    struct stat st;
    int fd;

    snprintf(p, sizeof p, "%s/%s", dir, MTASTS_TLSRPT_FILE);
    switch (how) {
    case GARBLE:        /* both meta pages */
        memset(junk, 0xa5, sizeof junk);
        fd = open(p, O_WRONLY);
        CHECK(fd >= 0 && pwrite(fd, junk, sizeof junk, 0) == (ssize_t)sizeof junk, "garble");
        close(fd);
        break;
    case TRUNCATE:
        CHECK(stat(p, &st) == 0 && st.st_size > 16 * 4096, "grown: %lld",
              (long long)st.st_size);
        CHECK_INT(truncate(p, st.st_size / 2), 0, "truncate");
        break;
    case SCHEMA:
        raw_put(dir, true, "\001schema", "tlsrpt99");
        break;
    }
}

/* A damaged sibling: recording fails (and does not retry at every
 * session), the policy store answers, tlsrpt send's repair moves the file
 * aside and recording works again. */
static void test_damaged(damage how, const char *what, const char *says)
{
    char *dir = mkdir_tmp(), name[64];
    mtasts_store *s = open_tmp_store(dir);
    mtasts_err err = {{0}};
    mtasts_record r;
    bool moved = false;
    int fails = 0;

    /* enough aggregates for a file of many pages (the truncation case) */
    for (int i = 0; i < (how == TRUNCATE ? 600 : 3); i++) {
        snprintf(name, sizeof name, "d%04d.example", i);
        fails += rec(s, name, DAY1, &err) != MTASTS_OK;
    }
    CHECK_INT(fails, 0, "recorded before the damage");
    mtasts_record_init(&r);
    r.fetched_at = r.last_used = 1700000000;
    r.expires_at = r.fetched_at + 86400;
    CHECK_INT(mtasts_store_put(s, "cached.example", &r, &err), MTASTS_OK, err.msg);
    mtasts_store_close(&s);
    do_damage(dir, how);

    s = open_tmp_store(dir);
    CHECK(rec(s, "example.com", DAY1, &err) != MTASTS_OK, "%s: record refused", what);
    CHECK(strstr(err.msg, says) && strstr(err.msg, "tlsrpt send"), "%s: says why: %s", what,
          err.msg);
    CHECK(rec(s, "example.com", DAY1, &err) == MTASTS_TEMPFAIL
          && strstr(err.msg, "unusable"), "%s: not retried at once: %s", what, err.msg);
    CHECK_INT(mtasts_store_get(s, "cached.example", &r, &err), MTASTS_OK, "policy store works");
    mtasts_record_free(&r);
    CHECK_INT(mtasts_store_put(s, "new.example", &r, &err), MTASTS_OK, "policy store writes");

    mtasts_err_clear(&err);
    CHECK_INT(mtasts_tlsrpt_recover(s, &moved, &err), MTASTS_OK, err.msg);
    CHECK(moved && strstr(err.msg, "moved aside"), "%s: moved aside: %s", what, err.msg);
    CHECK_INT(names_with(dir, "tlsrpt.mdb.broken-"), 1, "the damaged file kept aside");
    CHECK_INT(names_with(dir, "tlsrpt.mdb-lock.broken-"), 1, "with its lock file");
    CHECK_INT(rec(s, "example.com", DAY1, &err), MTASTS_OK, err.msg);
    CHECK_INT(aggregates(s), 1, "a new sibling");
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_tlsrpt_recover(s, &moved, &err), MTASTS_OK, err.msg);
    CHECK(!moved, "%s: a sound sibling stays", what);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

/* Outcomes of the earlier layout (in data.mdb) are deleted by the
 * reporter's expiry, whatever their day; sent marks stay in data.mdb. */
static void test_legacy_deleted(void)
{
    char *dir = mkdir_tmp();
    mtasts_store *s = open_tmp_store(dir);
    mtasts_err err = {{0}};

    mtasts_store_close(&s);
    raw_put(dir, false, "\002tlsrpt:2025-12-03 old.example 0 0000000000000000", "T1junk");
    raw_put(dir, false, "\002tlsrpt-day:2025-12-03", "1 0");
    raw_put(dir, false, "\002tlsrpt-sent:2025-12-03 old.example 0123456789abcdef",
            "S1 d 1 1 1 1 mailto:x@old.example");
    raw_put(dir, false, "\002tlsrpt-sent:2025-11-01 old.example 0123456789abcdef",
            "S1 d 1 1 1 1 mailto:x@old.example");
    s = open_tmp_store(dir);
    CHECK_INT(mtasts_tlsrpt_expire(s, "2025-12-01", &err), MTASTS_OK, err.msg);
    mtasts_store_close(&s);
    CHECK_INT(raw_count(dir, false, "\002tlsrpt:"), 0, "old layout's aggregate deleted");
    CHECK_INT(raw_count(dir, false, "\002tlsrpt-day:"), 0, "old layout's counter deleted");
    CHECK_INT(raw_count(dir, false, "\002tlsrpt-sent:"), 1, "recent sent mark kept, old gone");
    rm_tmp(dir);
}

/* The sibling's own ceiling: a flood fills it, not the policy store. */
static void test_ceiling(void)
{
    char *dir = mkdir_tmp(), name[64];
    mtasts_store *s = open_tmp_store(dir);
    mtasts_err err = {{0}};
    mtasts_record r;
    struct stat st;
    char p[512];
    int refused = 0, i;

    mtasts_tlsrpt_set_map_max(128 << 10);
    for (i = 0; i < 3000 && !refused; i++) {
        snprintf(name, sizeof name, "flood%05d.example", i);
        refused += rec(s, name, DAY1, &err) == MTASTS_TEMPFAIL;
    }
    CHECK(refused && i > 50, "the flood hit the ceiling after %d records: %s", i, err.msg);
    snprintf(p, sizeof p, "%s/%s", dir, MTASTS_TLSRPT_FILE);
    CHECK(stat(p, &st) == 0 && st.st_size <= 128 << 10, "file within it: %lld",
          (long long)st.st_size);
    mtasts_record_init(&r);
    r.fetched_at = r.last_used = 1700000000;
    r.expires_at = r.fetched_at + 86400;
    CHECK_INT(mtasts_store_put(s, "cached.example", &r, &err), MTASTS_OK, "policy store put");
    mtasts_tlsrpt_set_map_max(0);
    mtasts_store_close(&s);
    rm_tmp(dir);
}

/* As root: a planted symbolic or hard link named like the sibling's files
 * is never followed or written; the files come out as the directory's
 * owner's, also after a repair. */
static void test_root(void)
{
    static const char secret[] = "root's own\n";
    static const struct { const char *name, *what, *reason; bool hard; } cases[] = {
        { "tlsrpt.mdb", "symlink as tlsrpt.mdb", "symbolic link", false },
        { "tlsrpt.mdb-lock", "symlink as tlsrpt.mdb-lock", "symbolic link", false },
        { "tlsrpt.mdb", "hard link as tlsrpt.mdb", "hard links", true },
    };
    struct passwd *pw = exim_user();
    char target[512], planted[512], p[512];
    struct stat st;
    mtasts_err err = {{0}};
    bool moved;

    if (!pw) {
        printf("SKIP root safety: needs root and the Debian-exim user\n");
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *dir = mkdir_tmp(), *root_dir = mkdir_tmp();
        mtasts_store *s;
        int fd;

        CHECK_INT(chown(dir, pw->pw_uid, pw->pw_gid), 0, "chown store dir");
        CHECK_INT(chmod(dir, 0770), 0, "chmod store dir");
        CHECK_INT(chmod(root_dir, 0711), 0, "chmod root dir");
        s = open_tmp_store(dir);
        snprintf(target, sizeof target, "%s/secret", root_dir);
        fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0 && write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret),
              "write the target");
        close(fd);
        snprintf(planted, sizeof planted, "%s/%s", dir, cases[i].name);
        if (cases[i].hard)
            CHECK_INT(link(target, planted), 0, "hard link planted");
        else
            CHECK(symlink(target, planted) == 0
                  && lchown(planted, pw->pw_uid, pw->pw_gid) == 0, "symlink planted");
        CHECK(rec(s, "example.com", DAY1, &err) != MTASTS_OK, "%s: refused", cases[i].what);
        CHECK(strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].reason),
              "%s: says why: %s", cases[i].what, err.msg);
        CHECK(root_file_intact(target, secret), "%s: target untouched: \"%s\"", cases[i].what,
              slurp(target));
        CHECK_INT(names_with(root_dir, ""), 3, "nothing created next to the target");
        mtasts_store_close(&s);
        unlink(planted);
        unlink(target);
        rmdir(root_dir);
        rm_tmp(dir);
    }
    {
        char *dir = mkdir_tmp();
        static const char *const files[] = { "tlsrpt.mdb", "tlsrpt.mdb-lock" };
        mtasts_store *s;

        CHECK_INT(chown(dir, pw->pw_uid, pw->pw_gid), 0, "chown store dir");
        CHECK_INT(chmod(dir, 0770), 0, "chmod store dir");
        s = open_tmp_store(dir);
        CHECK_INT(rec(s, "example.com", DAY1, &err), MTASTS_OK, err.msg);
        for (int k = 0; k < 2; k++) {
            snprintf(p, sizeof p, "%s/%s", dir, files[k]);
            CHECK(stat(p, &st) == 0 && st.st_uid == pw->pw_uid && st.st_gid == pw->pw_gid
                  && (st.st_mode & 07777) == 0660, "%s: the owner's, 0660", files[k]);
        }
        mtasts_store_close(&s);
        do_damage(dir, GARBLE);
        s = open_tmp_store(dir);
        mtasts_err_clear(&err);
        CHECK(mtasts_tlsrpt_recover(s, &moved, &err) == MTASTS_OK && moved, "repair: %s",
              err.msg);
        for (int k = 0; k < 2; k++) {
            snprintf(p, sizeof p, "%s/%s", dir, files[k]);
            CHECK(stat(p, &st) == 0 && st.st_uid == pw->pw_uid && st.st_gid == pw->pw_gid,
                  "%s: made anew as the owner's", files[k]);
        }
        mtasts_store_close(&s);
        rm_tmp(dir);
    }
}

int main(void)
{
    test_layout();
    test_lazy();
    test_damaged(GARBLE, "garbled", "tlsrpt.mdb");
    test_damaged(TRUNCATE, "truncated", "truncated");
    test_damaged(SCHEMA, "foreign schema", "schema");
    test_legacy_deleted();
    test_ceiling();
    test_root();
    return UNIT_DONE("tlsrpt_sibling");
}
