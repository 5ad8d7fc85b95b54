/*
 * policy.c - parse an MTA-STS policy body (RFC 8461 section 3.2).
 * The interface and the decisions taken where the RFC is silent are
 * documented in policy.h.
 *
 * The body is scanned twice with the same code: the first pass validates
 * and counts the mx patterns and their bytes, the second copies them into
 * one exactly sized block. Nothing is allocated for an invalid policy.
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

/* sts-policy-ext-name: at most 32 characters. */
#define POLICY_NAME_MAX 32
/* DNS (RFC 1035 2.3.4): a label is at most 63 octets. */
#define POLICY_LABEL_MAX 63
/* How much of an offending value an error message quotes. */
#define POLICY_QUOTE_MAX 40

/* Modes by name: one table (3.2: sts-policy-mode-value). */
static const struct {
    const char *name;
    mtasts_mode mode;
} policy_modes[] = {
    {"enforce", MTASTS_MODE_ENFORCE},
    {"testing", MTASTS_MODE_TESTING},
    {"none", MTASTS_MODE_NONE},
};

/* State of one scan; mx/next are set only in the copying pass. */
struct policy_scan {
    bool have_version, have_mode, have_max_age;
    mtasts_mode mode;
    uint32_t max_age;
    size_t n_mx;        /* distinct patterns (copying pass); mx lines (first) */
    size_t mx_bytes;    /* pattern bytes, NULs included */
    char **mx;
    char *next;
};

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

static bool is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char to_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* policy_quote - a printable, truncated copy of s for an error message. */
static const char *policy_quote(char *dst, size_t dstsz, const char *s,
                                size_t n)
{
    size_t i, o = 0;

    for (i = 0; i < n && o + 4 < dstsz; i++) {
        unsigned char c = (unsigned char)s[i];

        dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        if (i + 1 == POLICY_QUOTE_MAX && n > POLICY_QUOTE_MAX) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
    }
    dst[o] = '\0';
    return dst;
}

/* utf8_len - length of the well-formed UTF-8 sequence (RFC 3629 section 4:
 * UTF8-2 / UTF8-3 / UTF8-4) at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0)
            lo = 0xa0;                  /* no overlong forms */
        else if (s[0] == 0xed)
            hi = 0x9f;                  /* no surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0)
            lo = 0x90;
        else if (s[0] == 0xf4)
            hi = 0x8f;                  /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* ext_value_ok - sts-policy-ext-value: visible ASCII or UTF-8, SP inside.
 * The caller has already trimmed WSP at both ends. */
static bool ext_value_ok(const char *v, size_t n)
{
    size_t i = 0;

    if (n == 0)
        return false;
    while (i < n) {
        unsigned char c = (unsigned char)v[i];

        if (c >= 0x20 && c <= 0x7e)
            i++;
        else if (c >= 0x80) {
            size_t l = utf8_len((const unsigned char *)v + i, n - i);

            if (l == 0)
                return false;
            i += l;
        } else
            return false;               /* HTAB and CTLs */
    }
    return true;
}

/* mx_check - validate sts-policy-mx-value = ["*."] Domain (with suffix_ok,
 * also the preload list's "." Domain) and return NULL, or the reason it is
 * invalid. *stored is the length of the pattern as stored (without a
 * trailing dot). */
static const char *mx_check_kind(const char *v, size_t n, bool suffix_ok, size_t *stored)
{
    size_t i, label = 0, start = 0;

    if (n >= 2 && v[0] == '*' && v[1] == '.')
        start = 2;
    else if (suffix_ok && n >= 1 && v[0] == '.')
        start = 1;
    if (n > start && v[n - 1] == '.')
        n--;                            /* an absolute name: accepted */
    if (n == start)
        return start ? "\"*.\" without a domain" : "empty";
    if (n > MTASTS_DOMAIN_MAX)
        return "longer than 253 characters";
    for (i = start; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)v[i] : '.';

        if (c == '.') {
            if (label == 0)
                return "empty label";
            if (v[i - 1] == '-')
                return "label ends with '-'";
            label = 0;
        } else if (is_alnum(c) || c == '-') {
            if (label == 0 && c == '-')
                return "label starts with '-'";
            if (++label > POLICY_LABEL_MAX)
                return "label longer than 63 characters";
        } else if (c == '*')
            return "'*' is allowed only as the whole left-most label";
        else
            return "invalid character (A-labels only)";
    }
    *stored = n;
    return NULL;
}

static const char *mx_check(const char *v, size_t n, size_t *stored)
{
    return mx_check_kind(v, n, false, stored);
}

/* policy_field - one non-blank line: key, value and line number. */
static mtasts_status policy_field(struct policy_scan *st, const char *key,
                                  size_t klen, const char *val, size_t vlen,
                                  size_t lineno, mtasts_err *err)
{
    char q[POLICY_QUOTE_MAX + 8];
    size_t i;

#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
    if (KEY_IS("mx")) {
        size_t n = 0;
        const char *why = mx_check(val, vlen, &n);

        if (why) {
            mtasts_errf(err, "line %zu: mx: %s: \"%s\"", lineno, why,
                        policy_quote(q, sizeof q, val, vlen));
            return MTASTS_INVALID;
        }
        if (!st->mx) {
            /* Counting pass: an upper bound (duplicates included). */
            st->n_mx++;
            st->mx_bytes += n + 1;
            return MTASTS_OK;
        }
        /* Copying pass: lower-case, trailing dot dropped (4.1 matching is
         * case-insensitive, per RFC 6125); a pattern already listed is
         * stored once, so any number of mx lines fits the 64 KiB file. */
        for (i = 0; i < n; i++)
            st->next[i] = (char)to_lower((unsigned char)val[i]);
        st->next[n] = '\0';
        for (i = 0; i < st->n_mx && strcmp(st->mx[i], st->next) != 0; i++)
            ;
        if (i < st->n_mx)
            return MTASTS_OK;
        if (st->n_mx == MTASTS_POLICY_MX_MAX) {
            mtasts_errf(err, "line %zu: mx: more than %d different patterns", lineno,
                        MTASTS_POLICY_MX_MAX);
            return MTASTS_INVALID;
        }
        st->mx[st->n_mx++] = st->next;
        st->next += n + 1;
        return MTASTS_OK;
    }

    /* Every other field, known or not, is at least an extension field, and
     * a duplicate of a non-repeated field is ignored (3.2). */
    if (!ext_value_ok(val, vlen)) {
        mtasts_errf(err, "line %zu: %.*s: %s", lineno, (int)klen, key,
                    vlen ? "invalid character in value" : "empty value");
        return MTASTS_INVALID;
    }
    if (KEY_IS("version") && !st->have_version) {
        if (vlen != 5 || memcmp(val, "STSv1", 5) != 0) {
            mtasts_errf(err, "line %zu: version: not STSv1: \"%s\"", lineno,
                        policy_quote(q, sizeof q, val, vlen));
            return MTASTS_INVALID;
        }
        st->have_version = true;
    } else if (KEY_IS("mode") && !st->have_mode) {
        for (i = 0; i < sizeof policy_modes / sizeof policy_modes[0]; i++)
            if (strlen(policy_modes[i].name) == vlen
                && memcmp(policy_modes[i].name, val, vlen) == 0)
                break;
        if (i == sizeof policy_modes / sizeof policy_modes[0]) {
            mtasts_errf(err, "line %zu: mode: not enforce, testing or none: "
                        "\"%s\"", lineno, policy_quote(q, sizeof q, val, vlen));
            return MTASTS_INVALID;
        }
        st->mode = policy_modes[i].mode;
        st->have_mode = true;
    } else if (KEY_IS("max_age") && !st->have_max_age) {
        uint64_t v = 0;

        /* 1*10(DIGIT): 9999999999 fits in 64 bits. */
        for (i = 0; i < vlen && i < 10 && val[i] >= '0' && val[i] <= '9';
             i++)
            v = v * 10 + (uint64_t)(val[i] - '0');
        if (i < vlen) {
            mtasts_errf(err, "line %zu: max_age: not 1-10 digits: \"%s\"",
                        lineno, policy_quote(q, sizeof q, val, vlen));
            return MTASTS_INVALID;
        }
        st->max_age = v > MTASTS_MAX_AGE_CAP ? MTASTS_MAX_AGE_CAP
                                             : (uint32_t)v;
        st->have_max_age = true;
    }
#undef KEY_IS
    return MTASTS_OK;
}

/* is_known_field - one of the fields 3.2 defines (keys are case-sensitive) */
static bool is_known_field(const char *key, size_t klen)
{
    static const char *const known[] = { "version", "mode", "max_age", "mx" };

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == klen && memcmp(known[i], key, klen) == 0)
            return true;
    return false;
}

/* policy_line - split one line (terminator removed) into key and value. */
static mtasts_status policy_line(struct policy_scan *st, const char *s,
                                 size_t n, size_t lineno, mtasts_err *err)
{
    size_t i, b = 0, e = n, colon, ke;

    while (b < e && is_wsp((unsigned char)s[b]))
        b++;
    while (e > b && is_wsp((unsigned char)s[e - 1]))
        e--;
    if (b == e)
        return MTASTS_OK;               /* blank line: tolerated */

    for (colon = b; colon < e && s[colon] != ':'; colon++)
        ;
    if (colon == e) {
        mtasts_errf(err, "line %zu: not a \"key: value\" field", lineno);
        return MTASTS_INVALID;
    }
    for (ke = colon; ke > b && is_wsp((unsigned char)s[ke - 1]); ke--)
        ;
    /* sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-"
     * / "."); the known names are of this form too. */
    if (ke == b || ke - b > POLICY_NAME_MAX
        || !is_alnum((unsigned char)s[b])) {
        mtasts_errf(err, "line %zu: invalid field name", lineno);
        return MTASTS_INVALID;
    }
    for (i = b + 1; i < ke; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!is_alnum(c) && c != '_' && c != '-' && c != '.') {
            mtasts_errf(err, "line %zu: invalid field name", lineno);
            return MTASTS_INVALID;
        }
    }
    /* 3.2: "fields not defined SHALL be ignored", whatever their value. */
    if (!is_known_field(s + b, ke - b))
        return MTASTS_OK;
    for (i = colon + 1; i < e; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            mtasts_errf(err, "line %zu: invalid byte 0x%02x", lineno, c);
            return MTASTS_INVALID;
        }
    }
    for (i = colon + 1; i < e && is_wsp((unsigned char)s[i]); i++)
        ;                               /* sts-policy-field-delim */
    return policy_field(st, s + b, ke - b, s + i, e - i, lineno, err);
}

/* policy_scan - run over all lines; LF or CRLF ends a line (3.2:
 * sts-policy-term), the last line may lack one. */
static mtasts_status policy_scan(struct policy_scan *st, const char *buf,
                                 size_t len, mtasts_err *err)
{
    size_t pos = 0, lineno = 0;

    while (pos < len) {
        const char *lf = memchr(buf + pos, '\n', len - pos);
        size_t eol = lf ? (size_t)(lf - buf) : len;
        size_t next = lf ? eol + 1 : len;
        mtasts_status rc;

        lineno++;
        if (lf && eol > pos && buf[eol - 1] == '\r')
            eol--;
        rc = policy_line(st, buf + pos, eol - pos, lineno, err);
        if (rc != MTASTS_OK)
            return rc;
        pos = next;
    }
    return MTASTS_OK;
}

void mtasts_policy_free(mtasts_policy *p)
{
    if (!p)
        return;
    free(p->mx);
    p->mx = NULL;
    p->n_mx = 0;
    p->mode = MTASTS_MODE_NONE;
    p->max_age = 0;
}

mtasts_status mtasts_policy_parse(const char *buf, size_t len,
                                  mtasts_policy *out, mtasts_err *err)
{
    struct policy_scan st = {0};
    mtasts_status rc;
    char **block;

    if (!out) {
        mtasts_errf(err, "policy: no output");
        return MTASTS_INVALID;
    }
    *out = (mtasts_policy){0};
    if (!buf || len == 0) {
        mtasts_errf(err, "policy: empty");
        return MTASTS_INVALID;
    }
    if (len > MTASTS_POLICY_MAX_BYTES) {
        mtasts_errf(err, "policy: longer than %d bytes",
                    MTASTS_POLICY_MAX_BYTES);
        return MTASTS_INVALID;
    }
    rc = policy_scan(&st, buf, len, err);
    if (rc != MTASTS_OK)
        return rc;
    if (!st.have_version || !st.have_mode || !st.have_max_age) {
        mtasts_errf(err, "policy: missing %s", !st.have_version ? "version"
                    : !st.have_mode ? "mode" : "max_age");
        return MTASTS_INVALID;
    }
    if (st.mode != MTASTS_MODE_NONE && st.n_mx == 0) {
        mtasts_errf(err, "policy: mode %s requires at least one mx",
                    mtasts_mode_name(st.mode));
        return MTASTS_INVALID;
    }

    if (st.n_mx) {
        /* Sized for every mx line: at most the body's size again, freed
         * below when duplicates made it much too large. */
        size_t lines = st.n_mx;

        block = malloc(lines * sizeof *block + st.mx_bytes);
        if (!block) {
            mtasts_errf(err, "policy: out of memory");
            return MTASTS_SYSERR;
        }
        st = (struct policy_scan){.mx = block,
                                  .next = (char *)(block + lines)};
        rc = policy_scan(&st, buf, len, err);   /* fails only on the count */
        if (rc != MTASTS_OK) {
            free(block);
            return rc;
        }
        out->mx = block;
        out->n_mx = st.n_mx;
        if (st.n_mx < lines) {
            mtasts_policy p = *out;

            rc = mtasts_policy_copy(out, &p, err);
            free(block);
            if (rc != MTASTS_OK)
                return rc;
        }
    }
    out->mode = st.mode;
    out->max_age = st.max_age;
    return MTASTS_OK;
}

mtasts_status mtasts_policy_copy(mtasts_policy *dst, const mtasts_policy *src,
                                 mtasts_err *err)
{
    size_t i, bytes = 0;
    char **block, *next;

    if (!dst || !src || (src->n_mx && !src->mx)) {
        mtasts_errf(err, "policy: nothing to copy");
        return MTASTS_INVALID;
    }
    *dst = (mtasts_policy){.mode = src->mode, .max_age = src->max_age};
    if (src->n_mx == 0)
        return MTASTS_OK;
    for (i = 0; i < src->n_mx; i++)
        bytes += strlen(src->mx[i]) + 1;
    block = malloc(src->n_mx * sizeof *block + bytes);
    if (!block) {
        mtasts_errf(err, "policy: out of memory");
        return MTASTS_SYSERR;
    }
    next = (char *)(block + src->n_mx);
    for (i = 0; i < src->n_mx; i++) {
        size_t n = strlen(src->mx[i]) + 1;

        block[i] = memcpy(next, src->mx[i], n);
        next += n;
    }
    dst->mx = block;
    dst->n_mx = src->n_mx;
    return MTASTS_OK;
}

static mtasts_status policy_build(mtasts_policy *out, mtasts_mode mode, uint32_t max_age,
                                  const char *const *mx, const size_t *lens, size_t n,
                                  bool suffix_ok, mtasts_err *err)
{
    size_t i, bytes = 0, stored;
    char **block, *next;
    const char *why;

    *out = (mtasts_policy){0};
    if ((unsigned)mode > MTASTS_MODE_ENFORCE || max_age > MTASTS_MAX_AGE_CAP
        || n > MTASTS_POLICY_MX_MAX || (mode != MTASTS_MODE_NONE && n == 0)) {
        mtasts_errf(err, "policy: mode, max_age or mx count out of range");
        return MTASTS_INVALID;
    }
    for (i = 0; i < n; i++) {
        /* The parser's rule for an mx value, so a built policy is one the
         * parser would have produced. */
        if ((why = mx_check_kind(mx[i], lens[i], suffix_ok, &stored)) != NULL) {
            mtasts_errf(err, "policy: mx %zu: %s", i + 1, why);
            return MTASTS_INVALID;
        }
        bytes += stored + 1;
    }
    *out = (mtasts_policy){.mode = mode, .max_age = max_age};
    if (n == 0)
        return MTASTS_OK;
    block = malloc(n * sizeof *block + bytes);
    if (!block) {
        mtasts_errf(err, "policy: out of memory");
        return MTASTS_SYSERR;
    }
    next = (char *)(block + n);
    for (i = 0; i < n; i++) {
        mx_check_kind(mx[i], lens[i], suffix_ok, &stored);
        block[i] = next;
        for (size_t j = 0; j < stored; j++)
            *next++ = (char)to_lower((unsigned char)mx[i][j]);
        *next++ = '\0';
    }
    out->mx = block;
    out->n_mx = n;
    return MTASTS_OK;
}

mtasts_status mtasts_policy_build(mtasts_policy *out, mtasts_mode mode, uint32_t max_age,
                                  const char *const *mx, const size_t *lens, size_t n,
                                  mtasts_err *err)
{
    return policy_build(out, mode, max_age, mx, lens, n, false, err);
}

mtasts_status mtasts_policy_build_preload(mtasts_policy *out, mtasts_mode mode,
                                          uint32_t max_age, const char *const *mx,
                                          const size_t *lens, size_t n, mtasts_err *err)
{
    return policy_build(out, mode, max_age, mx, lens, n, true, err);
}
