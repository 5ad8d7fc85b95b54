/*
 * record.c - the per-domain store record and its text encoding.
 *
 * The encoding is compact binary; see record.h.
 */
#include "record.h"

#include <string.h>

const char *mtasts_source_name(mtasts_source s)
{
    switch (s) {
    case MTASTS_SOURCE_NONE: return "none";
    case MTASTS_SOURCE_FETCHED: return "fetched";
    case MTASTS_SOURCE_PRELOAD: return "preload";
    }
    return "unknown";
}

void mtasts_record_init(mtasts_record *r)
{
    memset(r, 0, sizeof *r);
    r->policy.mode = MTASTS_MODE_NONE;
}

void mtasts_record_free(mtasts_record *r)
{
    if (!r)
        return;
    mtasts_policy_free(&r->policy);
}

mtasts_status mtasts_record_copy(mtasts_record *dst, const mtasts_record *src,
                                 mtasts_err *err)
{
    mtasts_policy p;
    mtasts_status st = mtasts_policy_copy(&p, &src->policy, err);

    if (st != MTASTS_OK)
        return st;
    *dst = *src;
    dst->policy = p;
    return MTASTS_OK;
}

bool mtasts_record_usable(const mtasts_record *r, int64_t now)
{
    /* RFC 8461 5.1: a policy may be used until fetched_at + max_age. A
     * max_age of 0 makes the policy good for the lookup that fetched it. */
    return r->id[0] != '\0' && now <= r->expires_at;
}

void mtasts_record_set_error(mtasts_record *r, const char *reason)
{
    size_t i;

    /* The reason is a policy extension value when encoded: printable ASCII
     * only, no line break. */
    for (i = 0; reason && reason[i] && i < MTASTS_REASON_MAX; i++)
        r->last_error[i] = (reason[i] >= 0x20 && reason[i] < 0x7f) ? reason[i] : '?';
    r->last_error[i] = '\0';
    while (i > 0 && r->last_error[i - 1] == ' ')
        r->last_error[--i] = '\0';
}

/* Layout of an encoded record (see record.h). */
#define REC_MAGIC 0x53                  /* 'S' */
#define REC_FIXED 62                    /* bytes before the strings */

static const char *const dane_names[] = { "", "none", "some", "all" };

static unsigned dane_code(const char *name)
{
    for (unsigned i = 1; i < sizeof dane_names / sizeof dane_names[0]; i++)
        if (!strcmp(name, dane_names[i]))
            return i;
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_i64(unsigned char *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)((uint64_t)v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int64_t get_i64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* put_str - a length byte and the bytes; false when it does not fit */
static bool put_str(unsigned char *buf, size_t size, size_t *n, const char *s)
{
    size_t len = strlen(s);

    if (len > 255 || *n + 1 + len > size)
        return false;
    buf[(*n)++] = (unsigned char)len;
    memcpy(buf + *n, s, len);
    *n += len;
    return true;
}

mtasts_status mtasts_record_encode(const mtasts_record *r, char *out, size_t size,
                                   size_t *len, mtasts_err *err)
{
    unsigned char *b = (unsigned char *)out;
    const int64_t times[6] = { r->fetched_at, r->expires_at, r->txt_checked_at,
                               r->next_check_at, r->last_used, r->backoff_until };
    size_t n = REC_FIXED, n_mx = r->id[0] ? r->policy.n_mx : 0;
    bool ok = size >= REC_FIXED && n_mx <= MTASTS_POLICY_MX_MAX;

    if (ok) {
        b[0] = REC_MAGIC;
        b[1] = MTASTS_RECORD_VERSION;
        b[2] = (unsigned char)(r->id[0] ? r->policy.mode : MTASTS_MODE_NONE);
        b[3] = (unsigned char)r->source;
        b[4] = (unsigned char)dane_code(r->dane);
        b[5] = (unsigned char)n_mx;
        put_u32(b + 6, r->id[0] ? r->policy.max_age : 0);
        put_u32(b + 10, r->failures);
        for (int i = 0; i < 6; i++)
            put_i64(b + 14 + 8 * i, times[i]);
        ok = put_str(b, size, &n, r->id) && put_str(b, size, &n, r->backoff_id)
             && put_str(b, size, &n, r->last_error);
    }
    for (size_t i = 0; ok && i < n_mx; i++)
        ok = put_str(b, size, &n, r->policy.mx[i]);
    if (!ok) {
        mtasts_errf(err, "record: encoding exceeds %zu bytes", size);
        return MTASTS_INVALID;
    }
    *len = n;
    return MTASTS_OK;
}

/* get_str - a length-prefixed string into dst (dstsize incl. NUL) */
static bool get_str(const unsigned char *b, size_t len, size_t *n, char *dst, size_t dstsize)
{
    size_t l;

    if (*n >= len || (l = b[*n]) >= dstsize || *n + 1 + l > len)
        return false;
    memcpy(dst, b + *n + 1, l);
    dst[l] = '\0';
    *n += 1 + l;
    return strlen(dst) == l;        /* no NUL inside */
}

static bool alnum_id(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* A count byte within the policy limit (the limit may reach the byte's range). */
static bool mx_count_ok(unsigned n)
{
    return n <= MTASTS_POLICY_MX_MAX;
}

/* decode_head - the fixed fields and the three strings (id, backoff id,
 * last error) into r; *n: where the mx patterns start. The policy's mode
 * and max_age are set, its patterns are not. */
static bool decode_head(const unsigned char *b, size_t len, mtasts_record *r, size_t *n,
                        mtasts_err *err)
{
    int64_t *times[6] = { &r->fetched_at, &r->expires_at, &r->txt_checked_at,
                          &r->next_check_at, &r->last_used, &r->backoff_until };

    mtasts_record_init(r);
    *n = REC_FIXED;
    if (len < 2 || b[0] != REC_MAGIC) {
        mtasts_errf(err, "record: not a record");
        return false;
    }
    if (b[1] != MTASTS_RECORD_VERSION) {
        mtasts_errf(err, "record: format version %u unknown (this is %d)", b[1],
                    MTASTS_RECORD_VERSION);
        return false;
    }
    if (len < REC_FIXED || b[2] > MTASTS_MODE_ENFORCE || b[3] > MTASTS_SOURCE_PRELOAD
        || b[4] >= sizeof dane_names / sizeof dane_names[0] || !mx_count_ok(b[5]))
        goto malformed;
    r->source = (mtasts_source)b[3];
    mtasts_strlcpy(r->dane, dane_names[b[4]], sizeof r->dane);
    r->failures = get_u32(b + 10);
    for (int i = 0; i < 6; i++)
        *times[i] = get_i64(b + 14 + 8 * i);
    if (!get_str(b, len, n, r->id, sizeof r->id) || !alnum_id(r->id)
        || !get_str(b, len, n, r->backoff_id, sizeof r->backoff_id)
        || !alnum_id(r->backoff_id)
        || !get_str(b, len, n, r->last_error, sizeof r->last_error))
        goto malformed;
    if (r->id[0]) {
        r->policy.mode = (mtasts_mode)b[2];
        r->policy.max_age = get_u32(b + 6);
    }
    return true;
malformed:
    mtasts_errf(err, "record: malformed (%zu bytes)", len);
    mtasts_record_init(r);
    return false;
}

mtasts_status mtasts_record_decode_head(const char *buf, size_t len, mtasts_record *r,
                                        mtasts_err *err)
{
    size_t n;

    return decode_head((const unsigned char *)buf, len, r, &n, err) ? MTASTS_OK
                                                                     : MTASTS_INVALID;
}

mtasts_status mtasts_record_decode(const char *buf, size_t len, mtasts_record *r,
                                   mtasts_err *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    const char *mx[MTASTS_POLICY_MX_MAX];
    size_t lens[MTASTS_POLICY_MX_MAX], n, n_mx;
    mtasts_err perr = {{0}};
    mtasts_mode mode;
    uint32_t max_age;
    bool ok = true;

    if (!decode_head(b, len, r, &n, err))
        return MTASTS_INVALID;
    n_mx = b[5];
    mode = (mtasts_mode)b[2];
    max_age = get_u32(b + 6);
    r->policy.mode = MTASTS_MODE_NONE;      /* set by mtasts_policy_build() */
    r->policy.max_age = 0;
    for (size_t i = 0; i < n_mx; i++) {
        if (n >= len || n + 1 + b[n] > len) {
            ok = false;
            break;
        }
        lens[i] = b[n];
        mx[i] = (const char *)b + n + 1;
        n += 1 + lens[i];
    }
    if (!ok || n != len) {
        mtasts_errf(err, "record: malformed (%zu bytes)", len);
        mtasts_record_init(r);
        return MTASTS_INVALID;
    }
    /* A preload list entry may hold the EFF list's ".suffix" kind. */
    if (r->id[0] && (r->source == MTASTS_SOURCE_PRELOAD ? mtasts_policy_build_preload
                                                        : mtasts_policy_build)(
                        &r->policy, mode, max_age, mx, lens, n_mx, &perr) != MTASTS_OK) {
        mtasts_errf(err, "record: bad policy part: %s", perr.msg);
        mtasts_record_init(r);
        return MTASTS_INVALID;
    }
    return MTASTS_OK;
}

int mtasts_record_keep_class(const mtasts_record *r, int64_t now)
{
    if (!mtasts_record_usable(r, now))
        return MTASTS_KEEP_UNUSABLE;
    return r->policy.mode == MTASTS_MODE_ENFORCE ? MTASTS_KEEP_ENFORCE : MTASTS_KEEP_LIVE;
}
