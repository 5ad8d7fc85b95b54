/*
 * txt_record.c - parse and select the "_mta-sts" TXT record
 * (RFC 8461 section 3.1). The interface and the decisions taken where the
 * RFC is silent are documented in txt_record.h.
 */
#include "txt_record.h"

#include <string.h>

static const char sts_version[] = "v=STSv1";
#define STS_VERSION_LEN (sizeof sts_version - 1)
/* sts-ext-name = (ALPHA / DIGIT) *31(...): at most 32 characters. */
#define STS_NAME_MAX 32

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

static bool is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* sts-ext-name after its first character. */
static bool is_name_char(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible ASCII but ";" "=". */
static bool is_value_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

/* txt_is_stsv1 - 3.1: "Records that do not begin with "v=STSv1;" are
 * discarded" (see txt_record.h) */
static bool txt_is_stsv1(const char *rec, size_t len)
{
    return rec && len > STS_VERSION_LEN && memcmp(rec, sts_version, STS_VERSION_LEN) == 0
        && rec[STS_VERSION_LEN] == ';';
}

/* txt_unexpected - report the character at rec[pos], printable or not. */
static mtasts_status txt_unexpected(const char *rec, size_t pos,
                                    const char *want, mtasts_err *err)
{
    unsigned char c = (unsigned char)rec[pos];

    if (c > 0x20 && c < 0x7f)
        mtasts_errf(err, "TXT record: unexpected '%c' at offset %zu, "
                    "expected %s", c, pos, want);
    else
        mtasts_errf(err, "TXT record: invalid byte 0x%02x at offset %zu, "
                    "expected %s", c, pos, want);
    return MTASTS_INVALID;
}

mtasts_status mtasts_txt_join(const unsigned char *rdata, size_t rdlen,
                              char *out, size_t outsize, size_t *outlen,
                              mtasts_err *err)
{
    size_t i = 0, o = 0;

    if (outlen)
        *outlen = 0;
    if (!out || outsize == 0 || (!rdata && rdlen)) {
        mtasts_errf(err, "TXT record: no buffer");
        return MTASTS_INVALID;
    }
    out[0] = '\0';
    while (i < rdlen) {
        size_t n = rdata[i++];  /* RFC 1035 3.3: <length octet><octets> */

        if (n > rdlen - i) {
            mtasts_errf(err, "TXT record: malformed RDATA (string of %zu "
                        "octets at offset %zu overruns %zu)", n, i - 1, rdlen);
            out[0] = '\0';
            return MTASTS_INVALID;
        }
        if (o + n > MTASTS_TXT_MAX || o + n >= outsize) {
            mtasts_errf(err, "TXT record: longer than %d characters",
                        o + n > MTASTS_TXT_MAX ? MTASTS_TXT_MAX
                                               : (int)(outsize - 1));
            out[0] = '\0';
            return MTASTS_INVALID;
        }
        memcpy(out + o, rdata + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return MTASTS_OK;
}

mtasts_status mtasts_txt_parse(const char *rec, size_t len,
                               char id_out[MTASTS_ID_MAX + 1],
                               mtasts_err *err)
{
    size_t p = STS_VERSION_LEN, nfields = 0;
    bool have_id = false;
    char id[MTASTS_ID_MAX + 1] = "";    /* copied out only on success */

    if (id_out)
        id_out[0] = '\0';
    if (!txt_is_stsv1(rec, len))
        return MTASTS_NOT_FOUND;        /* discarded, not an error (3.1) */
    if (len > MTASTS_TXT_MAX) {
        mtasts_errf(err, "TXT record: longer than %d characters",
                    MTASTS_TXT_MAX);
        return MTASTS_INVALID;
    }

    for (;;) {
        size_t name, name_len, val, val_len;

        /* sts-field-delim = *WSP ";" *WSP, or the end of the record;
         * WSP only around a ";". */
        size_t wsp = p;

        while (p < len && is_wsp((unsigned char)rec[p]))
            p++;
        if (p == len && p > wsp)
            return txt_unexpected(rec, wsp, "';' after whitespace", err);
        if (p == len)
            break;
        if (rec[p] != ';')
            return txt_unexpected(rec, p, "';'", err);
        p++;
        while (p < len && is_wsp((unsigned char)rec[p]))
            p++;
        if (p == len)
            break;                      /* [sts-field-delim] at the end */

        /* sts-field = sts-id / sts-extension: name "=" value */
        name = p;
        if (!is_alnum((unsigned char)rec[p]))
            return txt_unexpected(rec, p, "a field name", err);
        while (p < len && is_name_char((unsigned char)rec[p]))
            p++;
        name_len = p - name;
        if (name_len > STS_NAME_MAX) {
            mtasts_errf(err, "TXT record: field name at offset %zu longer "
                        "than %d characters", name, STS_NAME_MAX);
            return MTASTS_INVALID;
        }
        if (p == len) {
            mtasts_errf(err, "TXT record: field at offset %zu has no '='",
                        name);
            return MTASTS_INVALID;
        }
        if (rec[p] != '=')
            return txt_unexpected(rec, p, "'='", err);
        val = ++p;
        while (p < len && is_value_char((unsigned char)rec[p]))
            p++;
        val_len = p - val;
        if (val_len == 0) {
            mtasts_errf(err, "TXT record: field \"%.*s\" has an empty value",
                        (int)name_len, rec + name);
            return MTASTS_INVALID;
        }
        nfields++;

        /* sts-id = %s"id=" 1*32(ALPHA / DIGIT); first one wins. */
        if (name_len == 2 && memcmp(rec + name, "id", 2) == 0) {
            size_t i;

            for (i = 0; i < val_len && is_alnum((unsigned char)rec[val + i]);
                 i++)
                ;
            if (i < val_len || val_len > MTASTS_ID_MAX) {
                mtasts_errf(err, "TXT record: id: not 1-%d letters/digits",
                            MTASTS_ID_MAX);
                return MTASTS_INVALID;
            }
            if (!have_id) {
                memcpy(id, rec + val, val_len);
                id[val_len] = '\0';
            }
            have_id = true;
        }
        /* Other fields are extensions: ignored (3.2, last paragraph). */
    }

    if (!have_id) {
        mtasts_errf(err, nfields ? "TXT record: missing id"
                                 : "TXT record: no field after v=STSv1 "
                                   "(missing id)");
        return MTASTS_INVALID;
    }
    if (id_out)
        memcpy(id_out, id, strlen(id) + 1);
    return MTASTS_OK;
}

mtasts_status mtasts_txt_select(const char *const *records,
                                const size_t *lens, size_t n,
                                char id_out[MTASTS_ID_MAX + 1],
                                mtasts_err *err)
{
    size_t i, found = 0, which = 0;

    if (id_out)
        id_out[0] = '\0';
    if (n && (!records || !lens)) {
        mtasts_errf(err, "TXT record: no records");
        return MTASTS_INVALID;
    }
    for (i = 0; i < n; i++)
        if (txt_is_stsv1(records[i], records[i] ? lens[i] : 0)) {
            if (found++ == 0)
                which = i;
        }
    if (found == 0)
        return MTASTS_NOT_FOUND;        /* no policy advertised (3.1) */
    if (found > 1) {
        /* 3.1: "If the number of resulting records is not one ... senders
         * MUST assume the recipient domain does not have an available
         * MTA-STS Policy". */
        mtasts_errf(err, "TXT record: multiple STSv1 records (%zu)", found);
        return MTASTS_INVALID;
    }
    return mtasts_txt_parse(records[which], lens[which], id_out, err);
}
