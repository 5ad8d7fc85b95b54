/*
 * report.c - build TLSRPT reports (RFC 8460 4, 5.3); contract: report.h.
 */
#include "report.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

bool tlsrpt_day_range(const char *day, int64_t *start, int64_t *end)
{
    struct tm tm = {0};
    char back[11];
    time_t t;

    if (!day || strlen(day) != 10 ||
        sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    /* 2026-02-31 normalises to another day: not a day. */
    if (t == (time_t)-1 || !strftime(back, sizeof back, "%Y-%m-%d", gmtime_r(&t, &tm)) ||
        strcmp(back, day) != 0)
        return false;
    *start = (int64_t)t;
    *end = (int64_t)t + 86399;
    return true;
}

void tlsrpt_report_id(const char *submitter, const char *day, const char *domain,
                      const char *uri, char out[TLSRPT_ID_LEN + 1])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    const char *parts[] = { submitter, day, domain, uri };

    memset(md, 0, sizeof md);
    if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL)) {
        for (size_t i = 0; i < 4; i++)
            EVP_DigestUpdate(c, parts[i] ? parts[i] : "", strlen(parts[i] ? parts[i] : "") + 1);
        EVP_DigestFinal_ex(c, md, NULL);
    }
    EVP_MD_CTX_free(c);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);    /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);    /* RFC 4122 variant */
    snprintf(out, TLSRPT_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
             md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11],
             md[12], md[13], md[14], md[15]);
}

/* A JSON string of s; bytes that are not UTF-8 become '?' (recorded
 * texts come from remote servers; jansson refuses invalid UTF-8). */
static json_t *jstr(const char *s)
{
    json_t *j;
    char *copy;
    size_t i, n;

    if (!s)
        s = "";
    if ((j = json_string(s)))
        return j;
    n = strlen(s);
    if (!(copy = malloc(n + 1)))
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        copy[i] = (char)(c < 0x80 ? c : '?');
    }
    copy[n] = '\0';
    j = json_string(copy);
    free(copy);
    return j;
}

/* '\n'-separated text as an array of its non-empty lines */
static json_t *lines_array(const char *text)
{
    json_t *a = json_array();
    const char *p = text ? text : "";

    if (!a)
        return NULL;
    while (*p) {
        size_t n = strcspn(p, "\n");

        if (n > 0) {
            char *line = strndup(p, n);

            if (!line || json_array_append_new(a, jstr(line)) != 0) {
                free(line);
                json_decref(a);
                return NULL;
            }
            free(line);
        }
        p += n;
        if (*p)
            p++;
    }
    return a;
}

static int set_str(json_t *o, const char *key, const char *val)
{
    return val && *val ? json_object_set_new(o, key, jstr(val)) : 0;
}

json_t *tlsrpt_policy_entry(const mtasts_tlsrpt_aggregate *a, const char *tlsa_fallback)
{
    json_t *entry = json_object(), *pol = json_object(), *sum = json_object(),
           *details = json_array(), *mx = NULL;
    const char *pstr = a->policy_string;
    int bad = 0;

    if (!entry || !pol || !sum || !details)
        goto fail;
    bad |= json_object_set_new(pol, "policy-type",
                               json_string(mtasts_tlsrpt_policy_type_name(a->type)));
    if (a->type == MTASTS_TLSRPT_TLSA && (!pstr || !*pstr))
        pstr = tlsa_fallback;
    if (a->type != MTASTS_TLSRPT_NO_POLICY && pstr && *pstr)
        bad |= json_object_set_new(pol, "policy-string", lines_array(pstr));
    bad |= json_object_set_new(pol, "policy-domain", jstr(a->policy_domain));
    if (a->mx_patterns && *a->mx_patterns) {
        mx = lines_array(a->mx_patterns);
    } else if (a->type == MTASTS_TLSRPT_TLSA) {
        /* DANE: the MX hosts the sessions went to */
        mx = json_array();
        for (size_t i = 0; mx && i < a->n_details; i++) {
            const char *h = a->details[i].receiving_mx_hostname;
            size_t j;

            for (j = 0; h && *h && j < json_array_size(mx); j++)
                if (!strcmp(json_string_value(json_array_get(mx, j)), h))
                    break;
            if (h && *h && j == json_array_size(mx))
                bad |= json_array_append_new(mx, jstr(h));
        }
    }
    if (mx && json_array_size(mx) > 0)
        bad |= json_object_set_new(pol, "mx-host", mx);
    else
        json_decref(mx);
    bad |= json_object_set_new(sum, "total-successful-session-count",
                               json_integer((json_int_t)a->successes));
    bad |= json_object_set_new(sum, "total-failure-session-count",
                               json_integer((json_int_t)a->failures));
    for (size_t i = 0; i < a->n_details; i++) {
        const mtasts_tlsrpt_detail *d = &a->details[i];
        json_t *row = json_object();

        if (!row)
            goto fail;
        bad |= set_str(row, "result-type", d->result_type);
        bad |= set_str(row, "sending-mta-ip", d->sending_ip);
        bad |= set_str(row, "receiving-mx-hostname", d->receiving_mx_hostname);
        bad |= set_str(row, "receiving-ip", d->receiving_ip);
        bad |= json_object_set_new(row, "failed-session-count", json_integer((json_int_t)d->count));
        bad |= set_str(row, "additional-information", d->additional_info);
        bad |= set_str(row, "failure-reason-code", d->failure_reason_code);
        bad |= json_array_append_new(details, row);
    }
    bad |= json_object_set_new(entry, "policy", pol);
    bad |= json_object_set_new(entry, "summary", sum);
    if (json_array_size(details) > 0)
        bad |= json_object_set_new(entry, "failure-details", details);
    else
        json_decref(details);
    if (bad) {
        json_decref(entry);
        return NULL;
    }
    return entry;
fail:
    json_decref(entry);
    json_decref(pol);
    json_decref(sum);
    json_decref(details);
    return NULL;
}

json_t *tlsrpt_report_new(const tlsrpt_meta *m, const char *report_id, json_t *policies)
{
    json_t *r = json_object(), *range = json_object();
    char start[32], end[32];
    int64_t s, e;
    int bad = 0;
    struct tm tm;
    time_t t;

    if (!r || !range || !policies || !tlsrpt_day_range(m->day, &s, &e)) {
        json_decref(r);
        json_decref(range);
        json_decref(policies);
        return NULL;
    }
    t = (time_t)s;
    strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    t = (time_t)e;
    strftime(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    bad |= json_object_set_new(r, "organization-name", jstr(m->organization));
    bad |= json_object_set_new(range, "start-datetime", json_string(start));
    bad |= json_object_set_new(range, "end-datetime", json_string(end));
    bad |= json_object_set_new(r, "date-range", range);
    bad |= json_object_set_new(r, "contact-info", jstr(m->contact));
    bad |= json_object_set_new(r, "report-id", jstr(report_id));
    bad |= json_object_set_new(r, "policies", policies);
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

char *tlsrpt_report_text(const json_t *report)
{
    return json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

mtasts_status tlsrpt_gzip(const void *data, size_t len, unsigned char **out, size_t *outlen,
                          mtasts_err *err)
{
    z_stream z;
    uLong cap;
    unsigned char *buf;
    int rc;

    *out = NULL;
    *outlen = 0;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer, not zlib's */
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        mtasts_errf(err, "gzip: cannot initialise zlib");
        return MTASTS_SYSERR;
    }
    cap = deflateBound(&z, (uLong)len);
    if (!(buf = malloc(cap))) {
        deflateEnd(&z);
        mtasts_errf(err, "gzip: out of memory");
        return MTASTS_SYSERR;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        mtasts_errf(err, "gzip: compression failed (%d)", rc);
        return MTASTS_SYSERR;
    }
    *out = buf;
    *outlen = z.total_out;
    return MTASTS_OK;
}

void tlsrpt_filename(const char *submitter, const char *domain, const char *day,
                     const char *report_id, char *out, size_t size)
{
    char uid[TLSRPT_ID_LEN + 1];
    size_t n = 0;
    int64_t s = 0, e = 0;

    for (const char *p = report_id; *p && n < TLSRPT_ID_LEN; p++)
        if (*p != '-')
            uid[n++] = *p;
    uid[n] = '\0';
    tlsrpt_day_range(day, &s, &e);
    snprintf(out, size, "%s!%s!%lld!%lld!%s.json.gz", submitter, domain, (long long)s,
             (long long)e, uid);
}

/* base64 in lines of 76 characters (RFC 2045 6.8) */
static char *base64_lines(const unsigned char *data, size_t len)
{
    size_t lines = (len + 56) / 57, cap = lines * 78 + 1, o = 0;
    char *out = malloc(cap);

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 57) {
        size_t chunk = len - i < 57 ? len - i : 57;

        o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, data + i, (int)chunk);
        out[o++] = '\n';
    }
    out[o] = '\0';
    return out;
}

char *tlsrpt_mime(const tlsrpt_mail *m, const unsigned char *gz, size_t gzlen)
{
    char fname[1024], date[64], boundary[64], *b64, *msg = NULL;
    struct tm tm;
    time_t t = (time_t)m->date;
    size_t cap;
    int n;

    tlsrpt_filename(m->submitter, m->domain, m->day, m->report_id, fname, sizeof fname);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&t, &tm));
    snprintf(boundary, sizeof boundary, "tlsrpt-%.36s", m->report_id);
    if (!(b64 = base64_lines(gz, gzlen)))
        return NULL;
    cap = strlen(b64) + strlen(fname) + 4 * 1024 + 2 * strlen(m->from) + strlen(m->to) +
          3 * strlen(m->domain) + 4 * strlen(m->submitter);
    if ((msg = malloc(cap))) {
        n = snprintf(msg, cap,
                     "From: %s\n"
                     "To: %s\n"
                     "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\n"
                     "Date: %s\n"
                     "Message-ID: <%s@%s>\n"
                     "MIME-Version: 1.0\n"
                     "TLS-Report-Domain: %s\n"
                     "TLS-Report-Submitter: %s\n"
                     "Auto-Submitted: auto-generated\n"
                     "Content-Type: multipart/report; report-type=\"tlsrpt\";\n"
                     "\tboundary=\"%s\"\n"
                     "\n"
                     "This is a multipart message in MIME format.\n"
                     "\n"
                     "--%s\n"
                     "Content-Type: text/plain; charset=us-ascii\n"
                     "Content-Transfer-Encoding: 7bit\n"
                     "\n"
                     "This is an aggregate TLS report (RFC 8460) from %s\n"
                     "for the policy domain %s, UTC day %s.\n"
                     "\n"
                     "--%s\n"
                     "Content-Type: application/tlsrpt+gzip\n"
                     "Content-Transfer-Encoding: base64\n"
                     "Content-Disposition: attachment;\n"
                     "\tfilename=\"%s\"\n"
                     "\n"
                     "%s"
                     "\n"
                     "--%s--\n",
                     m->from, m->to, m->domain, m->submitter, m->report_id, date, m->report_id,
                     m->submitter, m->domain, m->submitter, boundary, boundary, m->submitter,
                     m->domain, m->day, boundary, fname, b64, boundary);
        if (n < 0 || (size_t)n >= cap) {
            free(msg);
            msg = NULL;
        }
    }
    free(b64);
    return msg;
}
