/*
 * record.c - the per-domain store record and its text encoding.
 *
 * The encoding is "key: value" lines; its policy part is a policy file, so
 * decoding reuses mtasts_policy_parse(), to which the record's own keys
 * (names with a '_' or unknown ones) are ignored extension fields.
 */
#include "record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

/* appendf - append to buf at *len, failing once the buffer is full */
static bool appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= size)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size - *len)
        return false;
    *len += (size_t)n;
    return true;
}

mtasts_status mtasts_record_encode(const mtasts_record *r, char *buf, size_t size,
                                   size_t *len, mtasts_err *err)
{
    size_t n = 0, i;
    bool ok;

    ok = appendf(buf, size, &n,
                 "record_v: %d\nsource: %s\nfetched_at: %" PRId64
                 "\nexpires_at: %" PRId64 "\ntxt_checked_at: %" PRId64
                 "\nnext_check_at: %" PRId64 "\nlast_used: %" PRId64 "\nfailures: %" PRIu32
                 "\nbackoff_until: %" PRId64 "\n",
                 MTASTS_RECORD_VERSION, mtasts_source_name(r->source),
                 r->fetched_at, r->expires_at, r->txt_checked_at, r->next_check_at,
                 r->last_used,
                 r->failures, r->backoff_until);
    if (ok && r->backoff_id[0])
        ok = appendf(buf, size, &n, "backoff_id: %s\n", r->backoff_id);
    if (ok && r->dane[0])
        ok = appendf(buf, size, &n, "dane: %s\n", r->dane);
    if (ok && r->last_error[0])
        ok = appendf(buf, size, &n, "last_error: %s\n", r->last_error);
    if (ok && r->id[0]) {
        ok = appendf(buf, size, &n, "policy_id: %s\nversion: STSv1\nmode: %s\nmax_age: %" PRIu32 "\n",
                     r->id, mtasts_mode_name(r->policy.mode), r->policy.max_age);
        for (i = 0; ok && i < r->policy.n_mx; i++)
            ok = appendf(buf, size, &n, "mx: %s\n", r->policy.mx[i]);
    }
    if (!ok) {
        mtasts_errf(err, "record: encoding exceeds %zu bytes", size);
        return MTASTS_INVALID;
    }
    *len = n;
    return MTASTS_OK;
}

/* parse_i64 - a decimal (optionally negative) integer filling the value */
static bool parse_i64(const char *v, size_t len, int64_t *out)
{
    char tmp[24], *end;
    long long x;

    if (len == 0 || len >= sizeof tmp)
        return false;
    memcpy(tmp, v, len);
    tmp[len] = '\0';
    x = strtoll(tmp, &end, 10);
    if (*end != '\0')
        return false;
    *out = x;
    return true;
}

/* copy_field - copy a bounded string value */
static bool copy_field(char *dst, size_t dstsize, const char *v, size_t len)
{
    if (len >= dstsize)
        return false;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return true;
}

mtasts_status mtasts_record_decode(const char *buf, size_t len, mtasts_record *r,
                                   mtasts_err *err)
{
    const char *p = buf, *end = buf + len;
    int64_t num = 0, version = -1;
    bool ok = true;
    unsigned line = 0;

    mtasts_record_init(r);
    while (ok && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon, *v;
        size_t klen, vlen;

        if (!eol)
            eol = end;
        line++;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon + 1 >= eol || colon[1] != ' ') {
            ok = false;
            break;
        }
        klen = (size_t)(colon - p);
        v = colon + 2;
        vlen = (size_t)(eol - v);
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(p, s, klen) == 0)
        if (KEY("record_v")) {
            ok = parse_i64(v, vlen, &version);
            if (ok && version != MTASTS_RECORD_VERSION) {
                mtasts_errf(err, "record: format version %" PRId64 " unknown (this is %d)",
                            version, MTASTS_RECORD_VERSION);
                return MTASTS_INVALID;
            }
        } else if (line == 1) {
            ok = false; /* the version must come first: never misread */
        } else if (KEY("source")) {
            r->source = vlen == 7 && !memcmp(v, "fetched", 7) ? MTASTS_SOURCE_FETCHED
                      : vlen == 7 && !memcmp(v, "preload", 7) ? MTASTS_SOURCE_PRELOAD
                      : MTASTS_SOURCE_NONE;
        } else if (KEY("fetched_at")) {
            ok = parse_i64(v, vlen, &r->fetched_at);
        } else if (KEY("expires_at")) {
            ok = parse_i64(v, vlen, &r->expires_at);
        } else if (KEY("txt_checked_at")) {
            ok = parse_i64(v, vlen, &r->txt_checked_at);
        } else if (KEY("next_check_at")) {
            ok = parse_i64(v, vlen, &r->next_check_at);
        } else if (KEY("last_used")) {
            ok = parse_i64(v, vlen, &r->last_used);
        } else if (KEY("backoff_until")) {
            ok = parse_i64(v, vlen, &r->backoff_until);
        } else if (KEY("failures")) {
            ok = parse_i64(v, vlen, &num) && num >= 0 && num <= UINT32_MAX;
            r->failures = (uint32_t)num;
        } else if (KEY("backoff_id")) {
            ok = copy_field(r->backoff_id, sizeof r->backoff_id, v, vlen);
        } else if (KEY("last_error")) {
            ok = copy_field(r->last_error, sizeof r->last_error, v, vlen);
        } else if (KEY("dane")) {
            ok = copy_field(r->dane, sizeof r->dane, v, vlen);
        } else if (KEY("policy_id")) {
            ok = copy_field(r->id, sizeof r->id, v, vlen);
        }
#undef KEY
        p = eol + 1;
    }
    if (!ok || version < 0) {
        mtasts_errf(err, "record: malformed at line %u", line);
        return MTASTS_INVALID;
    }
    if (r->id[0]) {
        mtasts_err perr = {{0}};

        if (mtasts_policy_parse(buf, len, &r->policy, &perr) != MTASTS_OK) {
            mtasts_errf(err, "record: bad policy part: %s", perr.msg);
            r->id[0] = '\0';
            return MTASTS_INVALID;
        }
    }
    return MTASTS_OK;
}
