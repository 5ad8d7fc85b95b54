/*
 * store_env.c - opening the store's LMDB environment (store_internal.h).
 *
 * .nf
 * ENVIRONMENT
 *     One unnamed LMDB database in <dir>/data.mdb (+ lock.mdb), opened
 *     MDB_NOTLS | MDB_NOMETASYNC:
 *     - MDB_NOTLS: Exim has no threads; a reader slot then belongs to the
 *       transaction object rather than to a thread-specific key.
 *     - MDB_NOMETASYNC: data pages are fsync()ed at commit, the meta page is
 *       not. An OS crash or power loss may undo the last commit, but LMDB
 *       keeps the store consistent; losing one cache update is harmless and
 *       saves one fsync per write.
 *     The TLSRPT outcomes' sibling, <dir>/tlsrpt.mdb + tlsrpt.mdb-lock
 *     (MDB_NOSUBDIR, MDB_NOSYNC; tlsrpt_store.c), is opened by the same
 *     code (store_open_file()): all below applies to its two files too.
 *     A data file shorter than its last committed page (truncated) is
 *     refused: LMDB would map past its end and the first read there would
 *     kill the process with SIGBUS.
 *
 * WHO OPENS THE FILES (see also docs/architecture.md, Trust boundaries)
 *     The store directory belongs to the Exim user, who can plant anything
 *     in it (and, owning its parent on Debian, replace the directory), while
 *     routers run as root. mdb_env_open() opens lock.mdb O_RDWR|O_CREAT
 *     even with MDB_RDONLY, and data.mdb O_RDWR|O_CREAT without it, both by
 *     name and following symbolic links; LMDB offers no way to hand it
 *     descriptors. A root process therefore never opens them as root:
 *     1. The directory is opened O_DIRECTORY|O_NOFOLLOW (a symbolic link
 *        there is refused) and fstat()ed: its owner and group are the
 *        store's identity.
 *     2. A root process switches its effective uid, gid and supplementary
 *        groups to that identity, and back after mdb_env_open(); the
 *        kernel then checks every open, create and truncate as if the
 *        owner did it, whatever was planted or swapped in between. Files
 *        it creates belong to the owner, 0660: nothing to chown. For a
 *        directory of group root it takes the owner's primary group
 *        instead (refused if that is root too); it refuses a directory
 *        that belongs to root but others may write. A root-owned directory
 *        nobody else can write needs no switch (nobody can plant there).
 *        If the real or saved uid is not 0, the switch could not be
 *        undone: the store is refused.
 *     3. data.mdb and lock.mdb, when present, are checked with fstatat()
 *        relative to the directory descriptor, without following links:
 *        regular files with one link, and for a root process owned by the
 *        directory's owner; anything else (symbolic link, hard link, FIFO,
 *        directory, ...) makes the store unusable with a message saying
 *        which. The checks give a clear reason; safety comes from 2.
 *     4. LMDB gets "/proc/self/fd/<dirfd>" as the directory, so it opens
 *        the files in the directory that was checked, not in whatever the
 *        path names by then (a process without /proc falls back to the
 *        path, except a root process that did not switch: refused).
 *     When data.mdb exists but is not writable by this identity
 *     (faccessat(AT_EACCESS)), or mdb_env_open() says EACCES/EROFS, the
 *     store opens MDB_RDONLY: gets work, writes return TEMPFAIL. lock.mdb
 *     must still be writable (LMDB records readers in it; reading without
 *     locks while others write is unsafe), except on a read-only file
 *     system, where LMDB itself skips the lock file.
 *     A store opened read_first (the Exim adapters) opens an existing
 *     data.mdb MDB_RDONLY even when writable, and store_writable() reopens
 *     it read-write for the first write of the environment's life.
 *
 * FORK
 *     LMDB forbids using an environment across fork(). Every call compares
 *     getpid() with the pid recorded at open; in a child the inherited
 *     environment is closed and the store reopened. mdb_env_close() is safe
 *     in the child from LMDB 0.9.23 on (ITS#8844): it clears only reader
 *     slots of getpid() (the child has none), munmap()s and close()s its own
 *     copies (fcntl locks belong to the parent process and are not affected
 *     by the child closing descriptors). With an older library the handle is
 *     leaked instead: their close cleared slots of the opener's pid.
 * .fi
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* faccessat, fstatat, strdup */
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE         /* setgroups, getresuid */
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* getresuid */
#endif
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Identity                                                             */

typedef struct saved_ids {
    bool active;
    uid_t euid;
    gid_t egid;
    int ngroups;
    gid_t *groups;
} saved_ids;

/* ids_restore - back to the saved effective ids and groups */
static bool ids_restore(saved_ids *sv)
{
    bool ok = true;

    if (!sv->active)
        return true;
    ok = seteuid(sv->euid) == 0 && setegid(sv->egid) == 0
         && setgroups((size_t)sv->ngroups, sv->groups) == 0
         && geteuid() == sv->euid && getegid() == sv->egid;
    free(sv->groups);
    sv->groups = NULL;
    sv->active = false;
    return ok;
}

/* ids_become - effective uid/gid and groups of the store's owner */
static bool ids_become(uid_t uid, gid_t gid, saved_ids *sv, mtasts_err *err)
{
    uid_t ruid, euid, suid;
    int n;

    memset(sv, 0, sizeof *sv);
    if (getresuid(&ruid, &euid, &suid) != 0 || (ruid != 0 && suid != 0)) {
        mtasts_errf(err, "effective uid 0 could not be regained after a switch");
        return false;
    }
    sv->euid = geteuid();
    sv->egid = getegid();
    n = getgroups(0, NULL);
    if (n < 0 || !(sv->groups = malloc(((size_t)n + 1) * sizeof *sv->groups))
        || (sv->ngroups = getgroups(n, sv->groups)) < 0) {
        free(sv->groups);
        mtasts_errf(err, "cannot save the supplementary groups: %s", strerror(errno));
        return false;
    }
    sv->active = true;
    if (setgroups(1, &gid) != 0 || setegid(gid) != 0 || seteuid(uid) != 0
        || geteuid() != uid || getegid() != gid) {
        mtasts_errf(err, "cannot switch to uid %ld gid %ld: %s", (long)uid, (long)gid,
                    strerror(errno));
        ids_restore(sv);
        return false;
    }
    return true;
}

/* owner_group - the primary group of uid, 0 when unknown */
static gid_t owner_group(uid_t uid)
{
    struct passwd pw, *found = NULL;
    char buf[4096];

    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found)
        return 0;
    return found->pw_gid;
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */

/* check_file - data.mdb or lock.mdb as found in the directory: absent
 * (*present false) or a regular file with one link (owned by the
 * directory's owner for a root process); false with err set otherwise */
static bool check_file(int dfd, const char *name, const struct stat *dir, bool as_root,
                       bool *present, mtasts_err *err)
{
    struct stat st;

    *present = false;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return true;
        mtasts_errf(err, "%s: %s", name, strerror(errno));
        return false;
    }
    *present = true;
    if (S_ISLNK(st.st_mode))
        mtasts_errf(err, "%s is a symbolic link (refused)", name);
    else if (!S_ISREG(st.st_mode))
        mtasts_errf(err, "%s is not a regular file (refused)", name);
    else if (st.st_nlink != 1)
        mtasts_errf(err, "%s has %ld hard links (refused)", name, (long)st.st_nlink);
    else if (as_root && st.st_uid != dir->st_uid)
        mtasts_errf(err, "%s belongs to uid %ld, not to the directory's owner %ld (refused)",
                    name, (long)st.st_uid, (long)dir->st_uid);
    else
        return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Schema                                                               */

typedef struct schema_ctx {
    char value[16];             /* the meta value, truncated, NUL-terminated */
} schema_ctx;

/* schema_read - read the meta record (a copy: the map is gone after txn) */
static int schema_read(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    schema_ctx *sc = ctx;
    MDB_val k = {sizeof META_KEY - 1, META_KEY}, v;
    MDB_stat st;
    int rc;

    if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0)
        return rc;
    rc = mdb_get(txn, s->dbi, &k, &v);
    if (rc == MDB_NOTFOUND && mdb_stat(txn, s->dbi, &st) == 0 && st.ms_entries > 0)
        return MDB_INCOMPATIBLE;        /* records, but no schema: not ours */
    if (rc == 0)
        snprintf(sc->value, sizeof sc->value, "%.*s",
                 (int)(v.mv_size < 15 ? v.mv_size : 15), (const char *)v.mv_data);
    return rc;
}

int store_schema_write(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    MDB_val k = {sizeof META_KEY - 1, META_KEY};
    MDB_val v = {strlen(s->schema), (void *)s->schema};
    int rc = mdb_put(txn, s->dbi, &k, &v, MDB_NOOVERWRITE);

    (void)ctx;
    return rc == MDB_KEYEXIST ? TXN_ABORT : rc;  /* another process was first */
}

/* check_schema - refuse a store of another schema; initialise a new one */
static mtasts_status check_schema(mtasts_store *s, mtasts_err *err)
{
    char want[16];
    schema_ctx sc;
    int rc = store_run_txn(s, MDB_RDONLY, schema_read, &sc), tries;

    for (tries = 0; rc == MDB_NOTFOUND && !s->readonly && tries < 2; tries++) {
        rc = store_run_txn(s, 0, store_schema_write, NULL);
        if (rc == 0 || rc == TXN_ABORT)
            rc = store_run_txn(s, MDB_RDONLY, schema_read, &sc);
    }
    if (rc == MDB_NOTFOUND && s->readonly)
        return MTASTS_OK;               /* empty and not ours to initialise */
    if (rc == MDB_INCOMPATIBLE) {
        mtasts_errf(err, "store: %s has records but no schema record", s->label);
        s->broken = true;
        return MTASTS_SYSERR;
    }
    if (rc != 0)
        return store_fail(s, err, "reading the schema of", rc);
    snprintf(want, sizeof want, "%s", s->schema);
    if (strcmp(sc.value, want) != 0) {
        mtasts_errf(err, "store: %s: store schema %s unknown (expected %s)", s->label,
                    sc.value, want);
        s->broken = true;
        return MTASTS_SYSERR;
    }
    return MTASTS_OK;
}

/* ------------------------------------------------------------------ */
/* Open and fork handling                                               */

void store_forget_env(mtasts_store *s)
{
    int major, minor, patch;

    if (!s->env)
        return;
    mdb_version(&major, &minor, &patch);
    if (s->pid == getpid()
        || MDB_VERINT(major, minor, patch) >= MDB_VERINT(0, 9, 23))
        mdb_env_close(s->env);
    /* else: an inherited handle of an old LMDB is leaked on purpose. */
    s->env = NULL;
}

void store_file_names(const mtasts_store *s, char data[STORE_FILE_MAX],
                      char lock[STORE_FILE_MAX + 8])
{
    snprintf(data, STORE_FILE_MAX, "%s", s->file ? s->file : "data.mdb");
    snprintf(lock, STORE_FILE_MAX + 8, "%s%s", s->file ? s->file : "lock.mdb",
             s->file ? "-lock" : "");
}

bool store_rc_broken(int rc)
{
    return rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
           || rc == MDB_VERSION_MISMATCH || rc == MDB_INCOMPATIBLE || rc == MDB_BAD_TXN;
}

/* size_check - a data file shorter than its last page (truncated) would
 * make the first read of a missing page a SIGBUS in the caller: refuse it */
static bool size_check(mtasts_store *s, mtasts_err *err)
{
    MDB_envinfo info;
    MDB_stat ms;
    struct stat st;
    int fd;

    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0
        || mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0)
        return true;    /* nothing to compare: LMDB's own checks stand */
    if ((uint64_t)st.st_size >= ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize)
        return true;
    mtasts_errf(err, "%s is truncated (%lld bytes, its pages need %llu)",
                s->file ? s->file : "data.mdb", (long long)st.st_size,
                (unsigned long long)(info.me_last_pgno + 1) * ms.ms_psize);
    return false;
}

/* open_files - the checks and mdb_env_open() under the identity chosen by
 * open_env(); s->readonly set. Returns an LMDB/errno code, or -1 with err
 * set for a refused file. */
static int open_files(mtasts_store *s, int dfd, const struct stat *dir, bool as_root,
                      bool switched, mtasts_err *err)
{
    char pinned[64 + STORE_FILE_MAX], fallback[4096], dname[STORE_FILE_MAX],
         lname[STORE_FILE_MAX + 8];
    const char *where = pinned;
    bool data, lock, fresh;
    int rc = 0, tries;

    store_file_names(s, dname, lname);
    if (!check_file(dfd, dname, dir, as_root, &data, err)
        || !check_file(dfd, lname, dir, as_root, &lock, err))
        return -1;
    if (!data && !s->create)
        return ENOENT;
    fresh = !data;
    snprintf(pinned, sizeof pinned, "/proc/self/fd/%d", dfd);
    if (access(pinned, X_OK) != 0) {
        if (as_root && !switched) {
            mtasts_errf(err, "cannot pin the directory (is /proc mounted?): %s",
                        strerror(errno));
            return -1;
        }
        where = s->path;
    }
    if (s->file) {  /* MDB_NOSUBDIR: LMDB gets the data file's name */
        snprintf(fallback, sizeof fallback, "%s/%s", where, s->file);
        where = fallback;
    }
    /* Effective ids: a transport runs as the Exim user. */
    s->readonly = !fresh && faccessat(dfd, dname, W_OK, AT_EACCESS) != 0;
    s->rdonly_chosen = !fresh && !s->readonly && !s->file && !s->want_write
                       && s->read_first;
    s->readonly = s->readonly || s->rdonly_chosen;
    for (tries = 0; tries < 2; tries++) {
        mode_t mask;

        if ((rc = mdb_env_create(&s->env)) != 0)
            break;
        mdb_env_set_maxreaders(s->env, MTASTS_STORE_MAX_READERS);
        if (fresh)
            mdb_env_set_mapsize(s->env, s->map_initial);
        /* else: the size recorded in the store, grown by others maybe */
        mask = umask(0);
        umask(mask & ~(mode_t)0660);    /* files come out exactly 0660 */
        rc = mdb_env_open(s->env, where,
                          MDB_NOTLS | MDB_NOMETASYNC | s->env_flags
                          | (s->file ? MDB_NOSUBDIR : 0) | (s->readonly ? MDB_RDONLY : 0),
                          0660);
        umask(mask);
        if (rc == 0)
            break;
        mdb_env_close(s->env);          /* required after a failed open */
        s->env = NULL;
        if (s->readonly || fresh || (rc != EACCES && rc != EROFS))
            break;
        s->readonly = true;             /* e.g. a read-only file system */
        s->rdonly_chosen = false;
    }
    return rc;
}

/* A directory entered by a process: its descriptor and stat, and the
 * effective ids switched to its owner when the process is root (see WHO
 * OPENS THE FILES). */
typedef struct store_dir {
    int fd;
    struct stat st;
    bool as_root, switched;
    saved_ids ids;
} store_dir;

/* dir_enter - open path (never through a symbolic link) and, as root,
 * become its owner; MTASTS_OK or an error with err set */
static mtasts_status dir_enter(const char *path, store_dir *d, mtasts_err *err)
{
    mtasts_err why = {{0}};

    memset(d, 0, sizeof *d);
    d->as_root = geteuid() == 0;
    d->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d->fd < 0) {
        int e = errno;
        struct stat l;

        if (e == ELOOP || (e == ENOTDIR && lstat(path, &l) == 0 && S_ISLNK(l.st_mode)))
            mtasts_errf(err, "store: %s: a symbolic link, not a directory (refused)", path);
        else
            mtasts_errf(err, "store: %s: %s", path, strerror(e));
        return e == ENOENT ? MTASTS_NOT_FOUND : MTASTS_SYSERR;
    }
    if (fstat(d->fd, &d->st) != 0) {
        mtasts_errf(err, "store: %s: %s", path, strerror(errno));
        goto fail;
    }
    if (d->as_root && d->st.st_uid == 0 && (d->st.st_mode & (S_IWGRP | S_IWOTH))) {
        mtasts_errf(err, "store: %s belongs to root but others may write to it (refused;"
                    " make it owned by the Exim user)", path);
        goto fail;
    }
    if (d->as_root && d->st.st_uid != 0) {
        gid_t gid = d->st.st_gid;

        /* Group root would keep root's group rights: the owner's own
         * group then (the files stay usable by the owner). */
        if (gid == 0 && (gid = owner_group(d->st.st_uid)) == 0) {
            mtasts_errf(err, "store: %s: group root, and its owner has no other group"
                        " (refused; give it the Exim user's group)", path);
            goto fail;
        }
        if (!ids_become(d->st.st_uid, gid, &d->ids, &why)) {
            mtasts_errf(err, "store: %s: %s", path, why.msg);
            goto fail;
        }
        d->switched = true;
    }
    return MTASTS_OK;
fail:
    close(d->fd);
    d->fd = -1;
    return MTASTS_SYSERR;
}

/* dir_leave - back to the process's own ids, directory closed; false
 * (err set) if the ids could not be restored */
static bool dir_leave(const char *path, store_dir *d, mtasts_err *err)
{
    bool ok = !d->switched || ids_restore(&d->ids);

    if (!ok)    /* Cannot happen with a saved uid of 0; say so rather than go on. */
        mtasts_errf(err, "store: %s: cannot switch back to uid %ld: %s", path,
                    (long)d->ids.euid, strerror(errno));
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    return ok;
}

mtasts_status store_open_env(mtasts_store *s, mtasts_err *err)
{
    mtasts_err why = {{0}};
    store_dir d;
    mtasts_status st;
    int rc, dead = 0;

    s->pid = getpid();
    s->reopen = false;
    s->broken = false;
    if ((st = dir_enter(s->path, &d, err)) != MTASTS_OK)
        return st;
    rc = open_files(s, d.fd, &d.st, d.as_root, d.switched, &why);
    if (rc == 0 && !size_check(s, &why))
        rc = -2;
    if (!dir_leave(s->path, &d, err)) {
        store_forget_env(s);
        return MTASTS_SYSERR;
    }
    if (rc != 0) {
        if (rc == -2)
            store_forget_env(s);
        if (rc == -1 || rc == -2)
            mtasts_errf(err, "store: %s: %s", s->label, why.msg);
        else if (rc == ENOENT && !s->env && why.msg[0] == '\0')
            mtasts_errf(err, "store: %s%s: %s", s->label, s->file ? "" : "/data.mdb",
                        strerror(ENOENT));
        else
            mtasts_errf(err, "store: cannot open %s%s: %s", s->label,
                        s->readonly ? " read-only" : "", mdb_strerror(rc));
        s->broken = rc == -2 || store_rc_broken(rc);
        return rc < 0 ? MTASTS_SYSERR
             : rc == ENOENT ? MTASTS_NOT_FOUND
             : rc == EAGAIN || rc == EBUSY || rc == EINTR ? MTASTS_TEMPFAIL : MTASTS_SYSERR;
    }
    if (s->readonly && !s->rdonly_chosen)
        store_notifyf(s, "store: %s opened read-only (not writable by uid %ld)",
                      s->label, (long)(d.switched ? d.st.st_uid : geteuid()));
    if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
        store_notifyf(s, "store: cleared %d stale reader slot(s) of %s", dead, s->label);
    {
        MDB_stat ms;

        mdb_env_stat(s->env, &ms);
        s->psize = ms.ms_psize;
    }
    store_update_mapsize(s);
    if (!s->readonly && s->mapsize < s->map_initial
        && mdb_env_set_mapsize(s->env, s->map_initial) == 0)
        store_update_mapsize(s);
    s->reserve_pages = s->map_max / s->psize / 16 < 16 ? 16 : s->map_max / s->psize / 16;
    {
        mtasts_status st2 = check_schema(s, err);

        if (st2 != MTASTS_OK) {
            store_forget_env(s);
            return st2;
        }
    }
    return MTASTS_OK;
}

mtasts_status store_ready(mtasts_store *s, mtasts_err *err)
{
    if (!s) {
        mtasts_errf(err, "store: not open");
        return MTASTS_SYSERR;
    }
    if (s->busy) {
        mtasts_errf(err, "store: called from inside mtasts_store_foreach()");
        return MTASTS_SYSERR;
    }
    s->evict_tried = false;
    s->evictions = 0;
    if (s->env && s->pid == getpid() && !s->reopen)
        return MTASTS_OK;
    store_forget_env(s);
    return store_open_env(s, err);
}

mtasts_status store_writable(mtasts_store *s, mtasts_err *err)
{
    mtasts_status st = store_ready(s, err);

    if (st == MTASTS_OK && s->readonly && s->rdonly_chosen) {
        /* read_first: the first write of this environment's life */
        store_forget_env(s);
        s->want_write = true;
        st = store_open_env(s, err);
        s->want_write = false;
    }
    if (st == MTASTS_OK && s->readonly) {
        mtasts_errf(err, "store: %s is read-only for uid %ld", s->label, (long)geteuid());
        return MTASTS_TEMPFAIL;
    }
    return st;
}

mtasts_status store_open_file(const mtasts_store_config *cfg, const char *file,
                              unsigned env_flags, const char *schema, mtasts_store **out,
                              bool *broken, mtasts_err *err)
{
    mtasts_store *s = calloc(1, sizeof *s);
    const char *path = cfg && cfg->path ? cfg->path : MTASTS_STORE_DEFAULT_PATH;
    mtasts_status st;
    size_t n;

    *out = NULL;
    if (broken)
        *broken = false;
    if (!s || !(s->path = strdup(path))
        || !(s->label = malloc(strlen(path) + (file ? strlen(file) + 2 : 1)))) {
        if (s)
            free(s->path);
        free(s);
        mtasts_errf(err, "store: out of memory");
        return MTASTS_SYSERR;
    }
    /* "dir/" would make open() follow a symbolic link despite O_NOFOLLOW. */
    for (n = strlen(s->path); n > 1 && s->path[n - 1] == '/'; n--)
        s->path[n - 1] = '\0';
    sprintf(s->label, "%s%s%s", s->path, file ? "/" : "", file ? file : "");
    s->file = file;
    s->env_flags = env_flags;
    s->schema = schema;
    s->map_initial = cfg && cfg->map_initial ? cfg->map_initial : MTASTS_STORE_MAP_INITIAL;
    s->map_max = cfg && cfg->map_max ? cfg->map_max : MTASTS_STORE_MAP_MAX;
    {
        /* LMDB wants page multiples; its page size is the OS page size. */
        long page = sysconf(_SC_PAGESIZE);
        size_t ps = page > 0 ? (size_t)page : 4096;

        s->map_initial = (s->map_initial + ps - 1) / ps * ps;
        s->map_max = s->map_max / ps * ps;
        /* A ceiling below the initial size is the size (16 pages at least). */
        if (s->map_max < 16 * ps)
            s->map_max = 16 * ps;
        if (s->map_max < s->map_initial)
            s->map_initial = s->map_max;
    }
    s->create = cfg && cfg->create;
    s->read_first = cfg && cfg->read_first;
    s->notify = cfg ? cfg->notify : NULL;
    s->notify_ctx = cfg ? cfg->notify_ctx : NULL;
    st = store_open_env(s, err);
    if (st != MTASTS_OK) {
        if (broken)
            *broken = s->broken;
        mtasts_store_close(&s);
        return st;
    }
    *out = s;
    return MTASTS_OK;
}

mtasts_status mtasts_store_open(const mtasts_store_config *cfg, mtasts_store **out,
                                mtasts_err *err)
{
    return store_open_file(cfg, NULL, 0, MTASTS_STORE_SCHEMA_TEXT, out, NULL, err);
}

void mtasts_store_close(mtasts_store **sp)
{
    if (!sp || !*sp)
        return;
    mtasts_store_close(&(*sp)->outcomes);
    store_forget_env(*sp);
    free((*sp)->path);
    free((*sp)->label);
    free(*sp);
    *sp = NULL;
}

mtasts_status store_move_aside(const char *path, const char *file, const char *suffix,
                               mtasts_err *err)
{
    char data[STORE_FILE_MAX], lock[STORE_FILE_MAX + 8], to[2 * STORE_FILE_MAX + 64];
    mtasts_store names = { .file = file };
    store_dir d;
    mtasts_status st;
    bool ok;

    if ((st = dir_enter(path, &d, err)) != MTASTS_OK)
        return st;
    store_file_names(&names, data, lock);
    /* The lock file first: a process that opens in between then creates a
     * new lock file and fails on the broken data file; processes that have
     * the old pair open keep it (a rename changes no open file). */
    snprintf(to, sizeof to, "%s.%s", lock, suffix);
    ok = renameat(d.fd, lock, d.fd, to) == 0 || errno == ENOENT;
    snprintf(to, sizeof to, "%s.%s", data, suffix);
    ok = ok && (renameat(d.fd, data, d.fd, to) == 0 || errno == ENOENT);
    if (!ok)
        mtasts_errf(err, "store: %s: moving %s aside: %s", path, data, strerror(errno));
    if (!dir_leave(path, &d, err))
        return MTASTS_SYSERR;
    return ok ? MTASTS_OK : MTASTS_SYSERR;
}

bool mtasts_store_readonly(const mtasts_store *s)
{
    return s && s->readonly && !s->rdonly_chosen;
}
