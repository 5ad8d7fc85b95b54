/*
 * tlsrpt_txt.c - parse and select the "_smtp._tls" TXT record (RFC 8460
 * section 3). Interface and decisions: tlsrpt_txt.h.
 */
#include "tlsrpt_txt.h"
#include "domain.h"

#include <string.h>
#include <strings.h>

static const char tlsrpt_version[] = "v=TLSRPTv1";
#define VERSION_LEN (sizeof tlsrpt_version - 1)
#define EXT_NAME_MAX 32

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* tlsrpt-ext-value: visible ASCII but ";" and "=" */
static bool is_value_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

/* a URI character: visible ASCII but the list's "," and the field's ";" */
static bool is_uri_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ',' && c != ';';
}

/* RFC 5322 atext, and "." between atoms */
static bool is_local_char(unsigned char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_tlsrpt_v1(const char *rec, size_t len)
{
    return rec && len > VERSION_LEN && memcmp(rec, tlsrpt_version, VERSION_LEN) == 0 &&
           rec[VERSION_LEN] == ';';
}

static mtasts_status unexpected(const char *rec, size_t pos, const char *want, mtasts_err *err)
{
    unsigned char c = (unsigned char)rec[pos];

    if (c > 0x20 && c < 0x7f)
        mtasts_errf(err, "TLSRPT record: unexpected '%c' at offset %zu, expected %s", c, pos,
                    want);
    else
        mtasts_errf(err, "TLSRPT record: invalid byte 0x%02x at offset %zu, expected %s", c,
                    pos, want);
    return MTASTS_INVALID;
}

/* mailto: one address local@domain, %XX decoded into addr */
static bool mailto_addr(const char *s, size_t len, char *addr, size_t size)
{
    size_t i, o = 0;
    char *at;
    mtasts_err e = {{0}};

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= size)
            return false;
        addr[o++] = (char)c;
    }
    addr[o] = '\0';
    at = strchr(addr, '@');
    if (!at || at == addr || strchr(at + 1, '@') || at[-1] == '.' || addr[0] == '.' ||
        strstr(addr, ".."))
        return false;
    for (const char *p = addr; p < at; p++)
        if (!is_local_char((unsigned char)*p) || *p == '?')
            return false;
    return mtasts_domain_check(at + 1, &e) == MTASTS_OK;
}

/* https://host[:port][/path]: host a valid domain name */
static bool https_ok(const char *s, size_t len)
{
    const char *h = s + 8, *end = s + len, *he, *pe;
    char host[MTASTS_DOMAIN_MAX + 1];
    mtasts_err e = {{0}};

    he = h;
    while (he < end && *he != ':' && *he != '/' && *he != '?' && *he != '#')
        he++;
    if (he == h || (size_t)(he - h) > MTASTS_DOMAIN_MAX)
        return false;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    if (mtasts_domain_check(host, &e) != MTASTS_OK)
        return false;
    if (he < end && *he == ':') {
        unsigned long port = 0;

        for (pe = he + 1; pe < end && *pe >= '0' && *pe <= '9' && pe - he <= 5; pe++)
            port = port * 10 + (unsigned long)(*pe - '0');
        if (pe == he + 1 || port == 0 || port > 65535)
            return false;
        he = pe;
    }
    return he == end || *he == '/' || *he == '?';
}

/* one rua URI at rec[start..end) */
static mtasts_status add_uri(const char *rec, size_t start, size_t end,
                             mtasts_tlsrpt_rua *out, mtasts_err *err)
{
    const char *u = rec + start;
    size_t len = end - start;
    mtasts_tlsrpt_uri *d;

    if (len >= MTASTS_TLSRPT_URI_MAX) {
        mtasts_errf(err, "TLSRPT record: rua URI at offset %zu longer than %d characters",
                    start, MTASTS_TLSRPT_URI_MAX - 1);
        return MTASTS_INVALID;
    }
    if (out->n == MTASTS_TLSRPT_RUA_MAX) {
        out->skipped++;
        return MTASTS_OK;
    }
    d = &out->uri[out->n];
    memset(d, 0, sizeof *d);
    memcpy(d->uri, u, len);
    if (len > 7 && !strncasecmp(u, "mailto:", 7)) {
        if (!mailto_addr(u + 7, len - 7, d->addr, sizeof d->addr)) {
            mtasts_errf(err, "TLSRPT record: rua \"%s\": not mailto:local@domain", d->uri);
            return MTASTS_INVALID;
        }
        d->scheme = MTASTS_TLSRPT_MAILTO;
    } else if (len > 8 && !strncasecmp(u, "https://", 8)) {
        if (!https_ok(u, len)) {
            mtasts_errf(err, "TLSRPT record: rua \"%s\": not https://host[:port][/path]",
                        d->uri);
            return MTASTS_INVALID;
        }
        d->scheme = MTASTS_TLSRPT_HTTPS;
    } else {
        for (size_t i = 0; i < len; i++)
            if (u[i] == ':')
                goto other_scheme;
        mtasts_errf(err, "TLSRPT record: rua \"%s\": not a URI", d->uri);
        return MTASTS_INVALID;
    other_scheme:
        out->skipped++;
        return MTASTS_OK;
    }
    for (size_t i = 0; i < out->n; i++)
        if (!strcmp(out->uri[i].uri, d->uri))
            return MTASTS_OK;   /* listed twice: sent once */
    out->n++;
    return MTASTS_OK;
}

mtasts_status mtasts_tlsrpt_txt_parse(const char *rec, size_t len, mtasts_tlsrpt_rua *out,
                                      mtasts_err *err)
{
    size_t pos, fields = 0;
    bool have_rua = false;
    mtasts_status st;

    memset(out, 0, sizeof *out);
    if (!is_tlsrpt_v1(rec, len))
        return MTASTS_NOT_FOUND;
    if (len > MTASTS_TLSRPT_TXT_MAX) {
        mtasts_errf(err, "TLSRPT record: longer than %d characters", MTASTS_TLSRPT_TXT_MAX);
        return MTASTS_INVALID;
    }
    pos = VERSION_LEN;      /* at the ';' after the version */
    for (;;) {
        size_t name, nlen, vstart;

        /* field-delim: *WSP ";" *WSP, or the end */
        while (pos < len && is_wsp((unsigned char)rec[pos]))
            pos++;
        if (pos == len) {
            if (pos > 0 && is_wsp((unsigned char)rec[pos - 1]))
                return unexpected(rec, pos - 1, "\";\" or the end, not trailing whitespace", err);
            break;
        }
        if (rec[pos] != ';')
            return unexpected(rec, pos, "\";\"", err);
        pos++;
        while (pos < len && is_wsp((unsigned char)rec[pos]))
            pos++;
        if (pos == len)
            break;          /* [field-delim] at the end */

        name = pos;
        if (!is_alnum((unsigned char)rec[pos]))
            return unexpected(rec, pos, "a field name", err);
        while (pos < len && (is_alnum((unsigned char)rec[pos]) || rec[pos] == '_' ||
                             rec[pos] == '-' || rec[pos] == '.'))
            pos++;
        nlen = pos - name;
        if (nlen > EXT_NAME_MAX) {
            mtasts_errf(err, "TLSRPT record: field name at offset %zu longer than %d", name,
                        EXT_NAME_MAX);
            return MTASTS_INVALID;
        }
        if (pos == len || rec[pos] != '=')
            return pos == len ? (mtasts_errf(err, "TLSRPT record: field at offset %zu has "
                                             "no value", name), MTASTS_INVALID)
                              : unexpected(rec, pos, "\"=\"", err);
        pos++;
        fields++;
        if (nlen == 3 && !memcmp(rec + name, "rua", 3)) {
            if (have_rua) {
                mtasts_errf(err, "TLSRPT record: rua given twice");
                return MTASTS_INVALID;
            }
            have_rua = true;
            for (;;) {
                vstart = pos;
                while (pos < len && is_uri_char((unsigned char)rec[pos]))
                    pos++;
                if (pos == vstart)
                    return pos == len ? (mtasts_errf(err, "TLSRPT record: rua: URI missing "
                                                     "at the end"), MTASTS_INVALID)
                                      : unexpected(rec, pos, "a URI", err);
                if ((st = add_uri(rec, vstart, pos, out, err)) != MTASTS_OK)
                    return st;
                {
                    size_t p = pos;

                    while (p < len && is_wsp((unsigned char)rec[p]))
                        p++;
                    if (p < len && rec[p] == ',') {
                        pos = p + 1;
                        while (pos < len && is_wsp((unsigned char)rec[pos]))
                            pos++;
                        continue;
                    }
                }
                break;
            }
        } else {
            vstart = pos;
            while (pos < len && is_value_char((unsigned char)rec[pos]))
                pos++;
            if (pos == vstart)
                return pos == len ? (mtasts_errf(err, "TLSRPT record: field at offset %zu "
                                                 "has an empty value", name), MTASTS_INVALID)
                                  : unexpected(rec, pos, "a field value", err);
        }
    }
    if (!fields || !have_rua) {
        mtasts_errf(err, "TLSRPT record: no rua field");
        return MTASTS_INVALID;
    }
    if (out->n == 0) {
        mtasts_errf(err, "TLSRPT record: no mailto: or https: URI in rua");
        return MTASTS_INVALID;
    }
    return MTASTS_OK;
}

mtasts_status mtasts_tlsrpt_txt_select(const char *const *records, const size_t *lens,
                                       size_t n, mtasts_tlsrpt_rua *out, mtasts_err *err)
{
    size_t i, found = 0, which = 0;

    memset(out, 0, sizeof *out);
    for (i = 0; i < n; i++)
        if (is_tlsrpt_v1(records[i], lens[i])) {
            found++;
            which = i;
        }
    if (found == 0)
        return MTASTS_NOT_FOUND;
    if (found > 1) {
        mtasts_errf(err, "multiple TLSRPTv1 records (%zu)", found);
        return MTASTS_INVALID;
    }
    return mtasts_tlsrpt_txt_parse(records[which], lens[which], out, err);
}
