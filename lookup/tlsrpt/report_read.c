/*
 * report_read.c - check and summarise a received TLSRPT report; contract:
 * report_read.h.
 */
#include "report_read.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void seterr(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (!err || !size || err[0])
        return;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

bool tlsrpt_gunzip(const unsigned char *data, size_t len, size_t max, char **out,
                   size_t *outlen, char *err, size_t errsize)
{
    z_stream z;
    size_t cap = len * 4 + 1024, used = 0;
    char *buf;
    int rc;

    *out = NULL;
    *outlen = 0;
    if (cap > max + 1)
        cap = max + 1;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        seterr(err, errsize, "gzip: cannot initialise zlib");
        return false;
    }
    if (!(buf = malloc(cap + 1))) {
        inflateEnd(&z);
        seterr(err, errsize, "gzip: out of memory");
        return false;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    for (;;) {
        if (used == cap) {
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb;

            if (ncap == cap) {
                seterr(err, errsize, "gzip: more than %zu bytes once decompressed", max);
                goto fail;
            }
            if (!(nb = realloc(buf, ncap + 1))) {
                seterr(err, errsize, "gzip: out of memory");
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        z.next_out = (Bytef *)buf + used;
        z.avail_out = (uInt)(cap - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            seterr(err, errsize, "gzip: truncated");
            goto fail;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            seterr(err, errsize, "gzip: %s", z.msg ? z.msg : "corrupt data");
            goto fail;
        }
    }
    if (used > max) {
        seterr(err, errsize, "gzip: more than %zu bytes once decompressed", max);
        goto fail;
    }
    if (z.avail_in != 0) {
        seterr(err, errsize, "gzip: %u bytes of trailing data", z.avail_in);
        goto fail;
    }
    inflateEnd(&z);
    buf[used] = '\0';
    *out = buf;
    *outlen = used;
    return true;
fail:
    inflateEnd(&z);
    free(buf);
    return false;
}

/* print remote text: printable ASCII as is, the rest as \xHH */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
}

typedef struct rctx {
    char *err;
    size_t errsize;
    long long ok, failed;   /* the summaries' totals, checked for overflow */
} rctx;

/* member key of o with the given type; NULL (and the error) if missing or
 * of another type and required */
static json_t *member(rctx *c, const json_t *o, const char *path, const char *key,
                      json_type type, bool required)
{
    json_t *v = json_object_get(o, key);

    if (!v) {
        if (required)
            seterr(c->err, c->errsize, "%s: \"%s\" missing", path, key);
        return NULL;
    }
    if (json_typeof(v) != type) {
        seterr(c->err, c->errsize, "%s.%s: wrong type", path, key);
        return NULL;
    }
    return v;
}

/* count_ok - a count not negative; added to *total if given, which must
 * not overflow (the summary prints the totals) */
static bool count_ok(rctx *c, const json_t *v, const char *path, long long *total)
{
    if (!v)
        return false;
    if (json_integer_value(v) < 0) {
        seterr(c->err, c->errsize, "%s: negative count", path);
        return false;
    }
    if (total && __builtin_add_overflow(*total, (long long)json_integer_value(v), total)) {
        seterr(c->err, c->errsize, "%s: session counts add up to more than %lld", path,
               (long long)INT64_MAX);
        return false;
    }
    return true;
}

static bool strings_ok(rctx *c, const json_t *a, const char *path)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
        if (!json_is_string(v)) {
            seterr(c->err, c->errsize, "%s[%zu]: not a string", path, i);
            return false;
        }
    return true;
}

/* check the whole report; print nothing */
static bool check(rctx *c, const json_t *r)
{
    json_t *range, *pols, *p;
    size_t i;
    char path[64];

    if (!json_is_object(r)) {
        seterr(c->err, c->errsize, "report: not a JSON object");
        return false;
    }
    if (!member(c, r, "report", "organization-name", JSON_STRING, true) ||
        !(range = member(c, r, "report", "date-range", JSON_OBJECT, true)) ||
        !member(c, range, "report.date-range", "start-datetime", JSON_STRING, true) ||
        !member(c, range, "report.date-range", "end-datetime", JSON_STRING, true) ||
        !member(c, r, "report", "contact-info", JSON_STRING, true) ||
        !member(c, r, "report", "report-id", JSON_STRING, true) ||
        !(pols = member(c, r, "report", "policies", JSON_ARRAY, true)))
        return false;
    json_array_foreach(pols, i, p) {
        json_t *pol, *sum, *v, *details, *d;
        const char *type;
        size_t j;

        snprintf(path, sizeof path, "policies[%zu]", i);
        if (!json_is_object(p)) {
            seterr(c->err, c->errsize, "%s: not an object", path);
            return false;
        }
        if (!(pol = member(c, p, path, "policy", JSON_OBJECT, true)) ||
            !(v = member(c, pol, path, "policy-type", JSON_STRING, true)) ||
            !member(c, pol, path, "policy-domain", JSON_STRING, true))
            return false;
        type = json_string_value(v);
        if (strcmp(type, "sts") && strcmp(type, "tlsa") && strcmp(type, "no-policy-found")) {
            seterr(c->err, c->errsize, "%s.policy: unknown policy-type", path);
            return false;
        }
        if ((v = json_object_get(pol, "policy-string")) &&
            (!member(c, pol, path, "policy-string", JSON_ARRAY, true) ||
             !strings_ok(c, v, "policy-string")))
            return false;
        if ((v = json_object_get(pol, "mx-host")) &&
            (!member(c, pol, path, "mx-host", JSON_ARRAY, true) || !strings_ok(c, v, "mx-host")))
            return false;
        if (!(sum = member(c, p, path, "summary", JSON_OBJECT, true)) ||
            !count_ok(c, member(c, sum, path, "total-successful-session-count", JSON_INTEGER,
                                true), path, &c->ok) ||
            !count_ok(c, member(c, sum, path, "total-failure-session-count", JSON_INTEGER,
                                true), path, &c->failed))
            return false;
        if (!json_object_get(p, "failure-details"))
            continue;
        if (!(details = member(c, p, path, "failure-details", JSON_ARRAY, true)))
            return false;
        json_array_foreach(details, j, d) {
            static const char *const opt[] = { "sending-mta-ip", "receiving-mx-hostname",
                                               "receiving-mx-helo", "receiving-ip",
                                               "additional-information",
                                               "failure-reason-code" };
            char dpath[96];

            snprintf(dpath, sizeof dpath, "%s.failure-details[%zu]", path, j);
            if (!json_is_object(d)) {
                seterr(c->err, c->errsize, "%s: not an object", dpath);
                return false;
            }
            if (!(v = member(c, d, dpath, "result-type", JSON_STRING, true)) ||
                !count_ok(c, member(c, d, dpath, "failed-session-count", JSON_INTEGER, true),
                          dpath, NULL))
                return false;
            for (size_t k = 0; k < sizeof opt / sizeof *opt; k++)
                if (json_object_get(d, opt[k]) &&
                    !member(c, d, dpath, opt[k], JSON_STRING, true))
                    return false;
        }
    }
    return true;
}

static const char *sval(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

static void print_list(FILE *out, const json_t *a)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v) {
        fputs(i ? ", " : "", out);
        put_text(out, json_string_value(v));
    }
}

static void print(FILE *out, const json_t *r)
{
    const json_t *range = json_object_get(r, "date-range"), *pols = json_object_get(r, "policies");
    json_t *p;
    size_t i;
    long long ok = 0, failed = 0;

    fputs("report ", out);
    put_text(out, sval(r, "report-id"));
    fputs("\n  from:    ", out);
    put_text(out, sval(r, "organization-name"));
    fputs(" (contact: ", out);
    put_text(out, sval(r, "contact-info"));
    fputs(")\n  period:  ", out);
    put_text(out, sval(range, "start-datetime"));
    fputs(" to ", out);
    put_text(out, sval(range, "end-datetime"));
    fputs("\n", out);
    json_array_foreach(pols, i, p) {
        const json_t *pol = json_object_get(p, "policy"), *sum = json_object_get(p, "summary"),
                     *details = json_object_get(p, "failure-details"), *d, *v;
        long long s = json_integer_value(json_object_get(sum, "total-successful-session-count"));
        long long f = json_integer_value(json_object_get(sum, "total-failure-session-count"));
        size_t j;

        ok += s;
        failed += f;
        fputs("policy   ", out);
        put_text(out, sval(pol, "policy-type"));
        fputs(" for ", out);
        put_text(out, sval(pol, "policy-domain"));
        if ((v = json_object_get(pol, "mx-host")) && json_array_size(v)) {
            fputs(" (mx: ", out);
            print_list(out, v);
            fputs(")", out);
        }
        fprintf(out, "\n  sessions: %lld successful, %lld failed\n", s, f);
        if ((v = json_object_get(pol, "policy-string")) && json_array_size(v)) {
            fputs("  policy:  ", out);
            print_list(out, v);
            fputs("\n", out);
        }
        json_array_foreach(details, j, d) {
            const char *mx = sval(d, "receiving-mx-hostname"), *ip = sval(d, "receiving-ip");

            fprintf(out, "  %8lld x ", (long long)json_integer_value(
                                            json_object_get(d, "failed-session-count")));
            put_text(out, sval(d, "result-type"));
            if (*mx || *ip) {
                fputs(" at ", out);
                put_text(out, *mx ? mx : ip);
                if (*mx && *ip) {
                    fputs(" [", out);
                    put_text(out, ip);
                    fputs("]", out);
                }
            }
            if (*sval(d, "sending-mta-ip")) {
                fputs(" from ", out);
                put_text(out, sval(d, "sending-mta-ip"));
            }
            if (*sval(d, "failure-reason-code")) {
                fputs(": ", out);
                put_text(out, sval(d, "failure-reason-code"));
            }
            if (*sval(d, "additional-information")) {
                fputs(" (", out);
                put_text(out, sval(d, "additional-information"));
                fputs(")", out);
            }
            fputs("\n", out);
        }
    }
    fprintf(out, "total    %lld successful, %lld failed sessions in %zu polic%s\n", ok, failed,
            json_array_size(pols), json_array_size(pols) == 1 ? "y" : "ies");
}

bool tlsrpt_read_report(const unsigned char *data, size_t len, FILE *out, char *err,
                        size_t errsize)
{
    char *text = NULL;
    size_t tlen = len;
    json_t *r;
    json_error_t je;
    rctx c = { err, errsize, 0, 0 };
    bool ok;

    if (err && errsize)
        err[0] = '\0';
    if (len > TLSRPT_READ_MAX_INPUT) {
        seterr(err, errsize, "input: more than %u bytes", TLSRPT_READ_MAX_INPUT);
        return false;
    }
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (!tlsrpt_gunzip(data, len, TLSRPT_READ_MAX_JSON, &text, &tlen, err, errsize))
            return false;
        data = (const unsigned char *)text;
    }
    /* JSON_REJECT_DUPLICATES: a report with two report-ids is no report */
    r = json_loadb((const char *)data, tlen, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!r) {
        seterr(err, errsize, "JSON: line %d column %d: %s", je.line, je.column, je.text);
        return false;
    }
    if ((ok = check(&c, r)))
        print(out, r);
    json_decref(r);
    return ok;
}
