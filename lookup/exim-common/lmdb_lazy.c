/*
 * lmdb_lazy.c - LMDB for the Exim adapters, loaded at the first lookup.
 *
 * Exim <= 4.98 dlopens every lookup module into every process, used or not.
 * Linked against liblmdb, the module would make each of those processes
 * load liblmdb and libpthread and relocate them (measured: +5% CPU of
 * `exim -be x`). Instead the adapters link these stand-ins, which open
 * liblmdb.so.0 when the store is first used and forward every call; the
 * CLI links the real library. Should the library be missing, every call
 * fails with ELIBACC, the store does not open, and lookups answer from the
 * network (logged once), as for any unusable store.
 */
#include <dlfcn.h>
#include <errno.h>
#include <lmdb.h>
#include <string.h>

#include "lmdb_lazy.h"

#define LMDB_SONAME "liblmdb.so.0"

/* RTLD_DEEPBIND: liblmdb is linked with BIND_NOW, so all of its ~70
 * references are bound when it loads, and each would be looked up through
 * the host's global scope first: stock exim4 has ~45 libraries there, and
 * a ${dlfunc} delivery process loads liblmdb anew (callgrind: 153k of the
 * 380k instructions a first lookup costs there). DEEPBIND looks them up
 * in liblmdb's own dependencies (libc) first. AddressSanitizer's runtime
 * refuses DEEPBIND (it must interpose malloc for every library), so the
 * sanitizer builds load it without. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LMDB_DEEPBIND 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define LMDB_DEEPBIND 0
#endif
#endif
#ifndef LMDB_DEEPBIND
#define LMDB_DEEPBIND RTLD_DEEPBIND
#endif

static void *lmdb_handle;
static int lmdb_failed;

/* load - the library's handle, loading it on first use (once: a failure
 * is not retried) */
static void *load(void)
{
    if (!lmdb_handle && !lmdb_failed) {
        lmdb_handle = dlopen(LMDB_SONAME, RTLD_NOW | RTLD_LOCAL | LMDB_DEEPBIND);
        lmdb_failed = lmdb_handle == NULL;
    }
    return lmdb_handle;
}

/* sym - the library's function, loading the library on first use */
static void *sym(const char *name)
{
    return load() ? dlsym(lmdb_handle, name) : NULL;
}

void mtasts_lmdb_preload(void)
{
    (void)load();
}

/* One forwarding function per LMDB call the store makes. */
#define FORWARD(ret, name, params, args, fail)                          \
    ret name params                                                     \
    {                                                                   \
        static ret (*fn) params;                                        \
        if (!fn)                                                        \
            *(void **)&fn = sym(#name);                                 \
        if (!fn)                                                        \
            return fail;                                                \
        return fn args;                                                 \
    }
#define FORWARD_VOID(name, params, args)                                \
    void name params                                                    \
    {                                                                   \
        static void (*fn) params;                                       \
        if (!fn)                                                        \
            *(void **)&fn = sym(#name);                                 \
        if (fn)                                                         \
            fn args;                                                    \
    }

FORWARD(int, mdb_env_create, (MDB_env **env), (env), ELIBACC)
FORWARD(int, mdb_env_open, (MDB_env *env, const char *path, unsigned int flags,
        mdb_mode_t mode), (env, path, flags, mode), ELIBACC)
FORWARD(int, mdb_env_stat, (MDB_env *env, MDB_stat *st), (env, st), ELIBACC)
FORWARD(int, mdb_env_info, (MDB_env *env, MDB_envinfo *st), (env, st), ELIBACC)
FORWARD_VOID(mdb_env_close, (MDB_env *env), (env))
FORWARD(int, mdb_env_set_mapsize, (MDB_env *env, size_t size), (env, size), ELIBACC)
FORWARD(int, mdb_env_set_flags, (MDB_env *env, unsigned int flags, int onoff),
        (env, flags, onoff), ELIBACC)
FORWARD(int, mdb_env_get_fd, (MDB_env *env, mdb_filehandle_t *fd), (env, fd), ELIBACC)
FORWARD(int, mdb_env_sync, (MDB_env *env, int force), (env, force), ELIBACC)
FORWARD(int, mdb_env_set_maxreaders, (MDB_env *env, unsigned int readers),
        (env, readers), ELIBACC)
FORWARD(int, mdb_txn_begin, (MDB_env *env, MDB_txn *parent, unsigned int flags,
        MDB_txn **txn), (env, parent, flags, txn), ELIBACC)
FORWARD(int, mdb_txn_commit, (MDB_txn *txn), (txn), ELIBACC)
FORWARD_VOID(mdb_txn_abort, (MDB_txn *txn), (txn))
FORWARD(int, mdb_dbi_open, (MDB_txn *txn, const char *name, unsigned int flags,
        MDB_dbi *dbi), (txn, name, flags, dbi), ELIBACC)
FORWARD(int, mdb_stat, (MDB_txn *txn, MDB_dbi dbi, MDB_stat *st), (txn, dbi, st), ELIBACC)
FORWARD(int, mdb_drop, (MDB_txn *txn, MDB_dbi dbi, int del), (txn, dbi, del), ELIBACC)
FORWARD(int, mdb_get, (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data),
        (txn, dbi, key, data), ELIBACC)
FORWARD(int, mdb_put, (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data,
        unsigned int flags), (txn, dbi, key, data, flags), ELIBACC)
FORWARD(int, mdb_del, (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data),
        (txn, dbi, key, data), ELIBACC)
FORWARD(int, mdb_cursor_open, (MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor),
        (txn, dbi, cursor), ELIBACC)
FORWARD_VOID(mdb_cursor_close, (MDB_cursor *cursor), (cursor))
FORWARD(int, mdb_cursor_get, (MDB_cursor *cursor, MDB_val *key, MDB_val *data,
        MDB_cursor_op op), (cursor, key, data, op), ELIBACC)
FORWARD(int, mdb_cursor_del, (MDB_cursor *cursor, unsigned int flags), (cursor, flags),
        ELIBACC)
FORWARD(int, mdb_reader_check, (MDB_env *env, int *dead), (env, dead), ELIBACC)
FORWARD(int, mdb_reader_list, (MDB_env *env, MDB_msg_func *func, void *ctx),
        (env, func, ctx), ELIBACC)

char *mdb_strerror(int err)
{
    static char *(*fn)(int);

    if (!fn)
        *(void **)&fn = sym("mdb_strerror");
    return fn ? fn(err) : strerror(err);
}

/* Reports do not load the library: only the store does. */
char *mdb_version(int *major, int *minor, int *patch)
{
    static char *(*fn)(int *, int *, int *);

    if (!fn && lmdb_handle)
        *(void **)&fn = dlsym(lmdb_handle, "mdb_version");
    if (fn)
        return fn(major, minor, patch);
    if (major)
        *major = *minor = *patch = 0;
    return (char *)"LMDB (" LMDB_SONAME ", loaded at first use)";
}
