/*
 * preload_store.c - the MTA-STS preload list in the policy store
 * (contract: preload.h).
 *
 * .nf
 * KEYS (all below 0x20, so no domain foreach, stats or eviction sees them)
 *     "\3preload:<domain>"   one entry (ENTRY FORM below)
 *     "\3preload:\1meta"     the list's meta (META FORM below); a domain
 *                            key never starts with \1, so it sorts first
 * ENTRY FORM (text; every length and number checked on decode)
 *     "P1 <mode 0-2> <max_age> <taken_at> <expires_at> <id or ->\n"
 *     then one "<pattern>\n" per mx pattern (at most MTASTS_POLICY_MX_MAX),
 *     rebuilt with mtasts_policy_build_preload().
 * META FORM
 *     "M1 <generated_at> <imported_at> <expires_at> <entries>\n"
 *     "<format>\n<version>\n<source>\n" (printable ASCII, bounded)
 * .fi
 */
#include "preload.h"
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX MTASTS_PRELOAD_KEY_PREFIX
#define PREFIX_LEN (sizeof PREFIX - 1)
#define META_SUFFIX "\001meta"
#define META_KEY_TEXT PREFIX META_SUFFIX
#define KEY_MAX (PREFIX_LEN + MTASTS_DOMAIN_MAX + 1)
#define PATTERN_MAX (MTASTS_DOMAIN_MAX + 2)     /* "*." + a domain */
#define META_MAX (128 + MTASTS_PRELOAD_FORMAT_MAX + MTASTS_PRELOAD_VERSION_MAX \
                  + MTASTS_PRELOAD_SOURCE_MAX)

void mtasts_preload_entry_free(mtasts_preload_entry *e)
{
    if (e)
        mtasts_policy_free(&e->policy);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

mtasts_status mtasts_preload_entry_encode(const mtasts_preload_entry *e, char *buf,
                                          size_t size, size_t *len, mtasts_err *err)
{
    size_t n, i;
    int w;

    for (i = 0; e->id[i]; i++)
        if (!is_id_char(e->id[i]) || i >= MTASTS_ID_MAX) {
            mtasts_errf(err, "preload: entry id is not 1-32 letters and digits");
            return MTASTS_INVALID;
        }
    if ((unsigned)e->policy.mode > MTASTS_MODE_ENFORCE
        || e->policy.n_mx > MTASTS_POLICY_MX_MAX || (e->policy.n_mx && !e->policy.mx)) {
        mtasts_errf(err, "preload: entry mode or mx out of range");
        return MTASTS_INVALID;
    }
    w = snprintf(buf, size, "P1 %d %lu %lld %lld %s\n", (int)e->policy.mode,
                 (unsigned long)e->policy.max_age, (long long)e->taken_at,
                 (long long)e->expires_at, e->id[0] ? e->id : "-");
    if (w < 0 || (size_t)w >= size)
        goto small;
    n = (size_t)w;
    for (i = 0; i < e->policy.n_mx; i++) {
        size_t m = strlen(e->policy.mx[i]);

        if (m == 0 || m > PATTERN_MAX || memchr(e->policy.mx[i], '\n', m)) {
            mtasts_errf(err, "preload: entry mx pattern out of range");
            return MTASTS_INVALID;
        }
        if (n + m + 1 >= size)
            goto small;
        memcpy(buf + n, e->policy.mx[i], m);
        n += m;
        buf[n++] = '\n';
    }
    *len = n;
    return MTASTS_OK;
small:
    mtasts_errf(err, "preload: entry too large to encode");
    return MTASTS_INVALID;
}

/* next_line - the line at *p (without its "\n") or NULL if none ends there */
static const char *next_line(const char **p, const char *end, size_t *n)
{
    const char *start = *p, *nl = memchr(start, '\n', (size_t)(end - start));

    if (!nl)
        return NULL;
    *n = (size_t)(nl - start);
    *p = nl + 1;
    return start;
}

/* parse_num - one space-separated decimal field in [lo, hi] */
static bool parse_num(const char **p, const char *end, int64_t lo, int64_t hi, int64_t *out)
{
    const char *next;

    if (*p >= end || !store_parse_i64(*p, end, &next, out) || *out < lo || *out > hi)
        return false;
    *p = next < end && *next == ' ' ? next + 1 : next;
    return true;
}

mtasts_status mtasts_preload_entry_decode(const void *data, size_t len,
                                          mtasts_preload_entry *e, mtasts_err *err)
{
    const char *p = data, *end = p + len, *line, *q, *mx[MTASTS_POLICY_MX_MAX];
    size_t lens[MTASTS_POLICY_MX_MAX], n, idlen, count = 0;
    int64_t mode, max_age;

    memset(e, 0, sizeof *e);
    if (!(line = next_line(&p, end, &n)) || n < 3 || memcmp(line, "P1 ", 3) != 0)
        goto bad;
    q = line + 3;
    end = line + n;     /* the header line only, for the numbers */
    if (!parse_num(&q, end, 0, MTASTS_MODE_ENFORCE, &mode)
        || !parse_num(&q, end, 0, MTASTS_MAX_AGE_CAP, &max_age)
        || !parse_num(&q, end, INT64_MIN / 2, INT64_MAX / 2, &e->taken_at)
        || !parse_num(&q, end, INT64_MIN / 2, INT64_MAX / 2, &e->expires_at))
        goto bad;
    idlen = (size_t)(end - q);
    if (idlen == 0 || idlen > MTASTS_ID_MAX)
        goto bad;
    if (!(idlen == 1 && *q == '-')) {
        for (size_t i = 0; i < idlen; i++)
            if (!is_id_char(q[i]))
                goto bad;
        memcpy(e->id, q, idlen);
        e->id[idlen] = '\0';
    }
    end = (const char *)data + len;
    while (p < end) {
        if (!(line = next_line(&p, end, &n)) || n == 0 || n > PATTERN_MAX
            || count == MTASTS_POLICY_MX_MAX)
            goto bad;
        mx[count] = line;
        lens[count++] = n;
    }
    return mtasts_policy_build_preload(&e->policy, (mtasts_mode)mode, (uint32_t)max_age,
                                       mx, lens, count, err);
bad:
    memset(e, 0, sizeof *e);
    mtasts_errf(err, "preload: stored entry does not decode");
    return MTASTS_INVALID;
}

/* printable - copy s into dst (size bytes) as printable ASCII ('?' else) */
static void printable(char *dst, size_t size, const char *s)
{
    size_t i;

    for (i = 0; s && s[i] && i + 1 < size; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    dst[i] = '\0';
}

static size_t meta_encode(const mtasts_preload_meta *m, char *buf, size_t size)
{
    char f[MTASTS_PRELOAD_FORMAT_MAX], v[MTASTS_PRELOAD_VERSION_MAX],
        s[MTASTS_PRELOAD_SOURCE_MAX];
    int w;

    printable(f, sizeof f, m->format);
    printable(v, sizeof v, m->version);
    printable(s, sizeof s, m->source);
    w = snprintf(buf, size, "M1 %lld %lld %lld %zu\n%s\n%s\n%s\n",
                 (long long)m->generated_at, (long long)m->imported_at,
                 (long long)m->expires_at, m->entries, f, v, s);
    return w > 0 && (size_t)w < size ? (size_t)w : 0;
}

/* meta_string - the next line into dst (size bytes, NUL included) */
static bool meta_string(const char **p, const char *end, char *dst, size_t size)
{
    size_t n;
    const char *line = next_line(p, end, &n);

    if (!line || n >= size)
        return false;
    memcpy(dst, line, n);
    dst[n] = '\0';
    return true;
}

static bool meta_decode(const char *data, size_t len, mtasts_preload_meta *m)
{
    const char *p = data, *end = data + len, *line, *q;
    int64_t entries;
    size_t n;

    memset(m, 0, sizeof *m);
    if (!(line = next_line(&p, end, &n)) || n < 3 || memcmp(line, "M1 ", 3) != 0)
        return false;
    q = line + 3;
    if (!parse_num(&q, line + n, INT64_MIN / 2, INT64_MAX / 2, &m->generated_at)
        || !parse_num(&q, line + n, INT64_MIN / 2, INT64_MAX / 2, &m->imported_at)
        || !parse_num(&q, line + n, INT64_MIN / 2, INT64_MAX / 2, &m->expires_at)
        || !parse_num(&q, line + n, 0, INT64_MAX / 2, &entries) || q != line + n)
        return false;
    m->entries = (size_t)entries;
    return meta_string(&p, end, m->format, sizeof m->format)
        && meta_string(&p, end, m->version, sizeof m->version)
        && meta_string(&p, end, m->source, sizeof m->source) && p == end;
}

/* ------------------------------------------------------------------ */
/* Keys and transactions                                                */

/* entry_key - "\3preload:<normalised domain>" into buf (KEY_MAX + 1) */
static bool entry_key(const char *domain, char *buf, MDB_val *k)
{
    MDB_val dk;

    if (!store_domain_key(domain, buf + PREFIX_LEN, &dk))
        return false;
    memcpy(buf, PREFIX, PREFIX_LEN);
    k->mv_data = buf;
    k->mv_size = PREFIX_LEN + dk.mv_size;
    return true;
}

static bool is_preload_key(const MDB_val *k)
{
    return k->mv_size >= PREFIX_LEN && memcmp(k->mv_data, PREFIX, PREFIX_LEN) == 0;
}

static bool is_meta_key(const MDB_val *k)
{
    return k->mv_size == sizeof META_KEY_TEXT - 1
        && memcmp(k->mv_data, META_KEY_TEXT, k->mv_size) == 0;
}

/* drop_all - delete every preload key */
static int drop_all(mtasts_store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k = {PREFIX_LEN, (void *)PREFIX}, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && is_preload_key(&k);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

typedef struct replace_ctx {
    size_t n;
    MDB_val *keys, *vals;
    MDB_val meta;
} replace_ctx;

static int replace_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    replace_ctx *r = ctx;
    MDB_val mk = {sizeof META_KEY_TEXT - 1, (void *)META_KEY_TEXT};
    int rc;

    if ((rc = drop_all(s, txn)) != 0)
        return rc;
    for (size_t i = 0; i < r->n; i++)
        if ((rc = mdb_put(txn, s->dbi, &r->keys[i], &r->vals[i], MDB_NOOVERWRITE)) != 0)
            return rc;
    return mdb_put(txn, s->dbi, &mk, &r->meta, 0);
}

mtasts_status mtasts_preload_replace(mtasts_store *s, const mtasts_preload_meta *meta,
                                     const char *const *domains,
                                     const mtasts_preload_entry *entries, size_t n,
                                     mtasts_err *err)
{
    replace_ctx r = {.n = n};
    char metabuf[META_MAX], *keybuf = NULL, *valbuf = NULL;
    mtasts_preload_meta m = *meta;
    mtasts_status st;
    size_t i, used = 0, cap = 0;
    int rc;

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    m.entries = n;
    r.meta.mv_size = meta_encode(&m, metabuf, sizeof metabuf);
    r.meta.mv_data = metabuf;
    /* Everything is encoded before the transaction, which may run twice. */
    r.keys = calloc(n ? n : 1, sizeof *r.keys);
    r.vals = calloc(n ? n : 1, sizeof *r.vals);
    keybuf = malloc(n ? n * (KEY_MAX + 1) : 1);
    for (i = 0; i < n; i++)
        cap += 64 + MTASTS_ID_MAX + entries[i].policy.n_mx * (PATTERN_MAX + 1);
    valbuf = malloc(cap ? cap : 1);
    if (!r.keys || !r.vals || !keybuf || !valbuf) {
        mtasts_errf(err, "preload: out of memory");
        st = MTASTS_SYSERR;
        goto out;
    }
    st = MTASTS_INVALID;
    if (r.meta.mv_size == 0) {
        mtasts_errf(err, "preload: list meta does not encode");
        goto out;
    }
    for (i = 0; i < n; i++) {
        size_t len;

        if (!entry_key(domains[i], keybuf + i * (KEY_MAX + 1), &r.keys[i])) {
            mtasts_errf(err, "preload: entry %zu: invalid domain", i + 1);
            goto out;
        }
        if (mtasts_preload_entry_encode(&entries[i], valbuf + used, cap - used, &len, err)
            != MTASTS_OK)
            goto out;
        r.vals[i] = (MDB_val){len, valbuf + used};
        used += len;
    }
    rc = store_run_txn(s, 0, replace_fn, &r);
    if (rc == MDB_KEYEXIST) {
        mtasts_errf(err, "preload: a domain is listed twice");
        st = MTASTS_INVALID;
    } else {
        st = rc == 0 ? MTASTS_OK : store_fail(s, err, "writing the preload list to", rc);
    }
out:
    free(r.keys);
    free(r.vals);
    free(keybuf);
    free(valbuf);
    return st;
}

typedef struct key_ctx {
    MDB_val key;
    mtasts_preload_entry *e;
    mtasts_preload_meta *meta;
    mtasts_status st;
    mtasts_err *err;
} key_ctx;

static int del_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    return mdb_del(txn, s->dbi, &((key_ctx *)ctx)->key, NULL);
}

mtasts_status mtasts_preload_remove(mtasts_store *s, const char *domain, mtasts_err *err)
{
    char buf[KEY_MAX + 1];
    key_ctx c = {.err = err};
    mtasts_status st;
    int rc;

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    if (!entry_key(domain, buf, &c.key)) {
        mtasts_errf(err, "preload: invalid domain");
        return MTASTS_INVALID;
    }
    rc = store_run_txn(s, 0, del_fn, &c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc == 0 ? MTASTS_OK : MTASTS_NOT_FOUND;
    return store_fail(s, err, "deleting from", rc);
}

static int clear_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    return drop_all(s, txn);
}

mtasts_status mtasts_preload_clear(mtasts_store *s, mtasts_err *err)
{
    mtasts_status st;
    int rc;

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(s, 0, clear_fn, NULL);
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "clearing the preload list in", rc);
}

static int get_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    key_ctx *c = ctx;
    MDB_val v;
    int rc = mdb_get(txn, s->dbi, &c->key, &v);

    if (rc != 0)
        return rc;
    if (c->meta)
        c->st = meta_decode(v.mv_data, v.mv_size, c->meta) ? MTASTS_OK : MTASTS_INVALID;
    else
        c->st = mtasts_preload_entry_decode(v.mv_data, v.mv_size, c->e, c->err);
    return 0;
}

/* read_key - one entry (e) or the meta (meta) under c->key */
static mtasts_status read_key(mtasts_store *s, key_ctx *c, mtasts_err *err)
{
    mtasts_status st;
    int rc;

    if ((st = store_ready(s, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(s, MDB_RDONLY, get_fn, c);
    if (rc == 0)
        return c->st;
    return rc == MDB_NOTFOUND ? MTASTS_NOT_FOUND : store_fail(s, err, "reading", rc);
}

mtasts_status mtasts_preload_lookup(mtasts_store *s, const char *domain,
                                    mtasts_preload_entry *e, mtasts_err *err)
{
    char buf[KEY_MAX + 1];
    key_ctx c = {.e = e, .err = err};

    memset(e, 0, sizeof *e);
    if (!entry_key(domain, buf, &c.key)) {
        mtasts_errf(err, "preload: invalid domain");
        return MTASTS_INVALID;
    }
    return read_key(s, &c, err);
}

mtasts_status mtasts_preload_get(mtasts_store *s, const char *domain, int64_t now,
                                 mtasts_preload_entry *e, mtasts_err *err)
{
    mtasts_status st = mtasts_preload_lookup(s, domain, e, err);

    if (st == MTASTS_INVALID) {
        /* An entry that does not decode is as if absent (and said so). */
        return MTASTS_NOT_FOUND;
    }
    if (st != MTASTS_OK)
        return st == MTASTS_NOT_FOUND ? st : MTASTS_TEMPFAIL;
    if (now > e->expires_at) {
        mtasts_errf(err, "preload list entry for %s expired at %lld", domain,
                    (long long)e->expires_at);
        mtasts_preload_entry_free(e);
        return MTASTS_NOT_FOUND;
    }
    return MTASTS_OK;
}

mtasts_status mtasts_preload_meta_get(mtasts_store *s, mtasts_preload_meta *meta,
                                      mtasts_err *err)
{
    key_ctx c = {.key = {sizeof META_KEY_TEXT - 1, (void *)META_KEY_TEXT}, .meta = meta};
    mtasts_status st;

    memset(meta, 0, sizeof *meta);
    st = read_key(s, &c, err);
    if (st == MTASTS_INVALID)
        mtasts_errf(err, "preload: stored list meta does not decode");
    return st;
}

typedef struct each_ctx {
    mtasts_preload_visit_fn fn;
    void *ctx;
    size_t skipped;
} each_ctx;

static int each_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    each_ctx *e = ctx;
    MDB_cursor *c;
    MDB_val k = {PREFIX_LEN, (void *)PREFIX}, v;
    int rc;

    e->skipped = 0;     /* the transaction may run again */
    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && is_preload_key(&k);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char domain[MTASTS_DOMAIN_MAX + 1];
        size_t n = k.mv_size - PREFIX_LEN;
        mtasts_preload_entry pe;
        bool more;

        if (is_meta_key(&k))
            continue;
        if (n == 0 || n > MTASTS_DOMAIN_MAX
            || mtasts_preload_entry_decode(v.mv_data, v.mv_size, &pe, NULL) != MTASTS_OK) {
            e->skipped++;
            continue;
        }
        memcpy(domain, (const char *)k.mv_data + PREFIX_LEN, n);
        domain[n] = '\0';
        more = e->fn(e->ctx, domain, &pe);
        mtasts_preload_entry_free(&pe);
        if (!more)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

mtasts_status mtasts_preload_foreach(mtasts_store *s, mtasts_preload_visit_fn fn, void *ctx,
                                     size_t *skipped, mtasts_err *err)
{
    each_ctx e = {fn, ctx, 0};
    mtasts_status st;
    int rc;

    if ((st = store_ready(s, err)) != MTASTS_OK)
        return st;
    s->busy = true;
    rc = store_run_txn(s, MDB_RDONLY, each_fn, &e);
    s->busy = false;
    if (skipped)
        *skipped = e.skipped;
    return rc == 0 ? MTASTS_OK : store_fail(s, err, "reading", rc);
}
