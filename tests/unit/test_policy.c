/*
 * test_policy.c - table tests for the MTA-STS policy body (RFC 8461
 * section 3.2, erratum 7282). Each row names the rule it checks; mx lists
 * the expected stored patterns, comma-separated.
 */
#include "policy.h"
#include "unit.h"

#include <stdlib.h>

#define HDR "version: STSv1\n"
#define L63 "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" \
            "abcdefghij" "abc"

#define ENF MTASTS_MODE_ENFORCE
#define TST MTASTS_MODE_TESTING
#define NON MTASTS_MODE_NONE

static const struct policy_case {
    const char *rule;
    const char *in;
    int len;                    /* -1: strlen(in) */
    mtasts_status want;
    mtasts_mode mode;
    uint32_t max_age;
    const char *mx;             /* expected patterns, "a,b"; "" for none */
    const char *err;            /* substring of the error (INVALID rows) */
} cases[] = {
    /* Examples and line terminators */
    {"3.2 example policy", "version: STSv1\nmode: enforce\n"
     "mx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\n"
     "max_age: 604800\n", -1, MTASTS_OK, ENF, 604800,
     "mail.example.com,*.example.net,backupmx.example.com", NULL},
    {"3.2 sts-policy-term: CRLF", "version: STSv1\r\nmode: testing\r\n"
     "mx: mx.example.com\r\nmax_age: 86400\r\n", -1, MTASTS_OK, TST, 86400,
     "mx.example.com", NULL},
    {"3.2 [sts-policy-term]: last line without terminator",
     HDR "mode: enforce\nmx: mx.example.com\nmax_age: 86400", -1, MTASTS_OK,
     ENF, 86400, "mx.example.com", NULL},
    {"3.2 sts-policy-term: LF and CRLF mixed",
     "version: STSv1\r\nmode: enforce\nmx: mx.example.com\r\nmax_age: 1\n",
     -1, MTASTS_OK, ENF, 1, "mx.example.com", NULL},
    {"3.2 a CR not followed by LF is a control character",
     HDR "mode: none\rmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "line 2: invalid byte 0x0d"},

    /* sts-policy-field-delim = ":" *WSP, trailing *WSP */
    {"3.2 field-delim: several SP after ':'",
     HDR "mode:    testing\nmx:  mx.example.com\nmax_age:   5\n", -1,
     MTASTS_OK, TST, 5, "mx.example.com", NULL},
    {"3.2 field-delim: no WSP after ':'",
     "version:STSv1\nmode:enforce\nmx:mx.example.com\nmax_age:5\n", -1,
     MTASTS_OK, ENF, 5, "mx.example.com", NULL},
    {"3.2 field-delim: HTAB is WSP",
     "version:\tSTSv1\nmode:\tenforce\nmx:\t mx.example.com\nmax_age:\t5\n",
     -1, MTASTS_OK, ENF, 5, "mx.example.com", NULL},
    {"3.2 sts-policy-field *WSP: trailing WSP trimmed",
     HDR "mode: enforce \t\nmx: mx.example.com  \nmax_age: 5\t\n", -1,
     MTASTS_OK, ENF, 5, "mx.example.com", NULL},
    {"decision: blank and WSP-only lines tolerated",
     "\n\nversion: STSv1\n\n \t\nmode: none\r\n\r\nmax_age: 1\n\n", -1,
     MTASTS_OK, NON, 1, "", NULL},
    {"decision: leading WSP and WSP before ':' tolerated",
     "  version : STSv1\n\tmode\t: none\n max_age: 1\n", -1, MTASTS_OK, NON,
     1, "", NULL},
    {"3.2 a line that is not a field is invalid",
     HDR "mode: none\nmax_age: 1\nhello world\n", -1, MTASTS_INVALID, NON, 0,
     "", "line 4: not a \"key: value\" field"},
    {"3.2 an HTML body is not a policy", "<html><body>404</body></html>\n",
     -1, MTASTS_INVALID, NON, 0, "", "line 1: not a \"key: value\" field"},

    /* version */
    {"3.2 field order is free: version last",
     "mode: enforce\nmx: mx.example.com\nmax_age: 9\nversion: STSv1", -1,
     MTASTS_OK, ENF, 9, "mx.example.com", NULL},
    {"3.2 version required", "mode: enforce\nmx: mx.example.com\n"
     "max_age: 9\n", -1, MTASTS_INVALID, NON, 0, "", "missing version"},
    {"3.2 %s\"STSv1\": other versions invalid",
     "version: STSv2\nmode: none\nmax_age: 9\n", -1, MTASTS_INVALID, NON, 0,
     "", "line 1: version: not STSv1"},
    {"3.2 %s\"STSv1\" is case-sensitive", "version: stsv1\nmode: none\n"
     "max_age: 9\n", -1, MTASTS_INVALID, NON, 0, "", "version: not STSv1"},
    {"3.2 duplicate version: the first wins",
     HDR "version: STSv2\nmode: none\nmax_age: 9\n", -1, MTASTS_OK, NON, 9,
     "", NULL},

    /* mode */
    {"3.2 mode required", HDR "mx: mx.example.com\nmax_age: 9\n", -1,
     MTASTS_INVALID, NON, 0, "", "missing mode"},
    {"3.2 %s\"enforce\": mode is case-sensitive",
     HDR "mode: Enforce\nmx: mx.example.com\nmax_age: 9\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 2: mode: not enforce, testing or none"},
    {"3.2 unknown mode", HDR "mode: report\nmax_age: 9\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 2: mode: not enforce"},
    {"3.2 %s\"mode\": key is case-sensitive, Mode is an extension",
     HDR "Mode: enforce\nmx: mx.example.com\nmax_age: 9\n", -1,
     MTASTS_INVALID, NON, 0, "", "missing mode"},
    {"3.2 duplicate mode: the first wins",
     HDR "mode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 9\n", -1,
     MTASTS_OK, TST, 9, "mx.example.com", NULL},
    {"3.2 duplicate mode: an invalid first value is not skipped",
     HDR "mode: bogus\nmode: enforce\nmx: mx.example.com\nmax_age: 9\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 2: mode: not enforce"},
    {"3.2 empty mode value", HDR "mode:\nmax_age: 9\n", -1, MTASTS_INVALID,
     NON, 0, "", "line 2: mode: empty value"},
    {"3.2/8.3 mode none needs no mx", HDR "mode: none\nmax_age: 86400\n", -1,
     MTASTS_OK, NON, 86400, "", NULL},
    {"3.2 mode none: mx lines still parsed",
     HDR "mode: none\nmx: MX.example.com\nmax_age: 1\n", -1, MTASTS_OK, NON,
     1, "mx.example.com", NULL},
    {"3.2 mx required when mode is enforce", HDR "mode: enforce\n"
     "max_age: 9\n", -1, MTASTS_INVALID, NON, 0, "",
     "mode enforce requires at least one mx"},
    {"3.2 mx required when mode is testing", HDR "mode: testing\n"
     "max_age: 9\n", -1, MTASTS_INVALID, NON, 0, "",
     "mode testing requires at least one mx"},

    /* max_age */
    {"3.2 max_age required", HDR "mode: none\n", -1, MTASTS_INVALID, NON, 0,
     "", "missing max_age"},
    {"3.2 max_age 1*10DIGIT: 11 digits invalid",
     HDR "mode: none\nmx: a.example\nmax_age: 31557600000\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 4: max_age: not 1-10 digits"},
    {"erratum 7282: 10 digits accepted and capped",
     HDR "mode: none\nmax_age: 9999999999\n", -1, MTASTS_OK, NON, 31557600,
     "", NULL},
    {"3.2 max_age maximum 31557600 kept", HDR "mode: none\n"
     "max_age: 31557600\n", -1, MTASTS_OK, NON, 31557600, "", NULL},
    {"erratum 7282: 31557601 capped", HDR "mode: none\nmax_age: 31557601\n",
     -1, MTASTS_OK, NON, 31557600, "", NULL},
    {"3.2 max_age: leading zeros are DIGITs", HDR "mode: none\n"
     "max_age: 0000086400\n", -1, MTASTS_OK, NON, 86400, "", NULL},
    {"3.2 max_age: non-negative, 0 kept", HDR "mode: none\nmax_age: 0\n", -1,
     MTASTS_OK, NON, 0, "", NULL},
    {"3.2 max_age: no sign", HDR "mode: none\nmax_age: -1\n", -1,
     MTASTS_INVALID, NON, 0, "", "max_age: not 1-10 digits"},
    {"3.2 max_age: no '+'", HDR "mode: none\nmax_age: +5\n", -1,
     MTASTS_INVALID, NON, 0, "", "max_age: not 1-10 digits"},
    {"3.2 max_age: digits only", HDR "mode: none\nmax_age: 1 2\n", -1,
     MTASTS_INVALID, NON, 0, "", "max_age: not 1-10 digits"},
    {"3.2 duplicate max_age: the first wins",
     HDR "mode: none\nmax_age: 5\nmax_age: 99999999999\n", -1, MTASTS_OK,
     NON, 5, "", NULL},

    /* mx = ["*."] Domain (RFC 5321) */
    {"3.2 mx repeatable, order kept, a repeated pattern stored once",
     HDR "mode: enforce\nmx: b.example\nmx: a.example\nmx: B.example.\n"
     "max_age: 1\n", -1, MTASTS_OK, ENF, 1, "b.example,a.example",
     NULL},
    {"4.1 mx stored lower-case (case-insensitive match)",
     HDR "mode: enforce\nmx: MX1.Example.COM\nmx: *.EXAMPLE.net\n"
     "max_age: 1\n", -1, MTASTS_OK, ENF, 1, "mx1.example.com,*.example.net",
     NULL},
    {"decision: one trailing dot accepted and removed",
     HDR "mode: enforce\nmx: mx1.example.com.\nmx: *.example.net.\n"
     "max_age: 1\n", -1, MTASTS_OK, ENF, 1, "mx1.example.com,*.example.net",
     NULL},
    {"3.2 IDN mx is an A-label",
     HDR "mode: enforce\nmx: xn--bcher-kva.example\nmax_age: 1\n", -1,
     MTASTS_OK, ENF, 1, "xn--bcher-kva.example", NULL},
    {"RFC 5321 Domain: 63-character label",
     HDR "mode: enforce\nmx: " L63 ".example\nmax_age: 1\n", -1, MTASTS_OK,
     ENF, 1, L63 ".example", NULL},
    {"RFC 1035: 64-character label invalid",
     HDR "mode: enforce\nmx: x" L63 ".example\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 3: mx: label longer than 63"},
    {"3.2 IDN mx must not be a U-label (non-ASCII)",
     HDR "mode: enforce\nmx: b\xc3\xbc" "cher.example\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 3: mx: invalid character"},
    {"3.2 mx \"*.\" without a domain", HDR "mode: enforce\nmx: *.\n"
     "max_age: 1\n", -1, MTASTS_INVALID, NON, 0, "", "line 3: mx: \"*.\""},
    {"4.1 mx \"*\" alone is not a pattern", HDR "mode: enforce\nmx: *\n"
     "max_age: 1\n", -1, MTASTS_INVALID, NON, 0, "", "whole left-most label"},
    {"4.1 '*' only as the entire left-most label",
     HDR "mode: enforce\nmx: a*.example.com\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 3: mx: '*' is allowed only"},
    {"4.1 only one wildcard label", HDR "mode: enforce\n"
     "mx: *.*.example.com\nmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "'*' is allowed only"},
    {"RFC 5321 Domain: no empty label", HDR "mode: enforce\n"
     "mx: mx..example.com\nmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "mx: empty label"},
    {"RFC 5321 Domain: no leading dot", HDR "mode: enforce\n"
     "mx: .example.com\nmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "mx: empty label"},
    {"RFC 5321 Let-dig: no leading '-'", HDR "mode: enforce\n"
     "mx: -mx.example.com\nmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "starts with '-'"},
    {"RFC 5321 Ldh-str ends in Let-dig: no trailing '-'",
     HDR "mode: enforce\nmx: mx-.example.com\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "ends with '-'"},
    {"RFC 5321 Domain: no '_'", HDR "mode: enforce\nmx: mx_1.example.com\n"
     "max_age: 1\n", -1, MTASTS_INVALID, NON, 0, "", "invalid character"},
    {"3.2 each mx on its own line: no lists", HDR "mode: enforce\n"
     "mx: a.example, b.example\nmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "line 3: mx: invalid character"},
    {"3.2 empty mx", HDR "mode: enforce\nmx:\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 3: mx: empty"},

    /* Extensions, names, bytes */
    {"3.2 unknown fields SHALL be ignored",
     HDR "mode: none\nfoo_bar.baz-1: any: value; here=1\nmax_age: 1\n", -1,
     MTASTS_OK, NON, 1, "", NULL},
    {"3.2 sts-policy-ext-value may hold UTF-8",
     HDR "mode: none\ncomment: caf\xc3\xa9 \xe2\x82\xac\nmax_age: 1\n", -1,
     MTASTS_OK, NON, 1, "", NULL},
    /* 3.2: "fields not defined SHALL be ignored", whatever they hold. */
    {"3.2 unknown field: ill-formed UTF-8 ignored",
     HDR "mode: none\ncomment: caf\xc3(\nmax_age: 1\n", -1, MTASTS_OK,
     NON, 1, "", NULL},
    {"3.2 unknown field: overlong UTF-8 ignored",
     HDR "mode: none\ncomment: \xc0\xaf\nmax_age: 1\n", -1, MTASTS_OK,
     NON, 1, "", NULL},
    {"3.2 unknown field: HTAB inside ignored",
     HDR "mode: enforce\ncomment: a\tb\nmx: mx.example\nmax_age: 1\n", -1, MTASTS_OK,
     ENF, 1, "mx.example", NULL},
    {"3.2 unknown field: empty value ignored",
     HDR "mode: none\nx-note:\nmax_age: 1\n", -1, MTASTS_OK, NON, 1, "", NULL},
    {"3.2 unknown field: control characters ignored",
     HDR "mode: none\nx: a\x01\x7f\rb\nmax_age: 1\n", -1, MTASTS_OK, NON, 1, "", NULL},
    {"3.2 unknown field: a NUL ignored",
     HDR "mode: none\nx: a\0b\nmax_age: 1\n", 44, MTASTS_OK, NON, 1, "", NULL},
    {"3.2 known field: HTAB inside its value still invalid",
     HDR "mode: enforce\nmx: mx.example\nmax_age: 1\t0\n", -1, MTASTS_INVALID,
     NON, 0, "", "max_age: invalid character"},
    {"3.2 sts-policy-ext-name starts with ALPHA / DIGIT",
     HDR "mode: none\n_x: 1\nmax_age: 1\n", -1, MTASTS_INVALID, NON, 0, "",
     "line 3: invalid field name"},
    {"3.2 sts-policy-ext-name at most 32 characters",
     HDR "mode: none\na23456789012345678901234567890123: 1\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 3: invalid field name"},
    {"3.2 a non-ASCII key (UTF-8 BOM) is invalid",
     "\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n", -1,
     MTASTS_INVALID, NON, 0, "", "line 1: invalid field name"},
    {"3.2 a NUL byte is invalid", HDR "mode: none\0\nmax_age: 1\n", 37,
     MTASTS_INVALID, NON, 0, "", "line 2: invalid byte 0x00"},
    {"3.2 an empty body is invalid", "", -1, MTASTS_INVALID, NON, 0, "",
     "policy: empty"},
    {"3.2 only blank lines", "\n\r\n\n", -1, MTASTS_INVALID, NON, 0, "",
     "missing version"},
};

/* Compare p->mx with the comma-separated list want. */
static void check_mx(const mtasts_policy *p, const char *want,
                     const char *rule)
{
    char got[4096] = "";
    size_t i, o = 0;

    for (i = 0; i < p->n_mx; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", i ? "," : "",
                              p->mx[i]);
    CHECK_STR(got, want, rule);
}

static void test_table(void)
{
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct policy_case *c = &cases[i];
        size_t len = c->len < 0 ? strlen(c->in) : (size_t)c->len;
        mtasts_policy p = {MTASTS_MODE_ENFORCE, 77, 3, (char **)&p};
        mtasts_err err = {""};
        mtasts_status st = mtasts_policy_parse(c->in, len, &p, &err);

        CHECK_STR(mtasts_status_name(st), mtasts_status_name(c->want),
                  c->rule);
        CHECK_STR(mtasts_mode_name(p.mode), mtasts_mode_name(c->mode),
                  c->rule);
        CHECK_INT(p.max_age, c->max_age, c->rule);
        check_mx(&p, c->mx, c->rule);
        if (c->err)
            CHECK(strstr(err.msg, c->err) != NULL,
                  "%s: error \"%s\" lacks \"%s\"", c->rule, err.msg, c->err);
        else
            CHECK_STR(err.msg, "", c->rule);
        if (st != MTASTS_OK)
            CHECK(p.mx == NULL && p.n_mx == 0, "%s: failed parse left mx",
                  c->rule);
        mtasts_policy_free(&p);
    }
}

/* Limits: body size, line length, number of mx (policy.h, common.h). */
static void test_limits(void)
{
    size_t cap = MTASTS_POLICY_MAX_BYTES + 64, n, i;
    char *buf = malloc(cap);
    mtasts_policy p;
    mtasts_err err;

    if (!buf)
        abort();

    /* Body: exactly MTASTS_POLICY_MAX_BYTES is fine (blank-line padding),
     * one more byte is not (3.3: 64 KiB suggested maximum). */
    n = (size_t)snprintf(buf, cap, HDR "mode: none\nmax_age: 1\n");
    memset(buf + n, '\n', MTASTS_POLICY_MAX_BYTES - n);
    err.msg[0] = '\0';
    CHECK_INT(mtasts_policy_parse(buf, MTASTS_POLICY_MAX_BYTES, &p, &err),
              MTASTS_OK, "3.3 limit: body of MTASTS_POLICY_MAX_BYTES");
    mtasts_policy_free(&p);
    buf[MTASTS_POLICY_MAX_BYTES] = '\n';
    CHECK_INT(mtasts_policy_parse(buf, MTASTS_POLICY_MAX_BYTES + 1, &p, &err),
              MTASTS_INVALID, "3.3 limit: oversized body");
    CHECK(strstr(err.msg, "longer than 65536 bytes") != NULL,
          "3.3 limit: error \"%s\"", err.msg);

    /* Lines: no limit but the body's (3.2: unknown fields are ignored;
     * RFC 5322's 998 is not the policy's). An unknown field of 60000
     * characters, and a known one after it, are fine. */
    n = (size_t)snprintf(buf, cap, HDR "mode: enforce\nmax_age: 1\nx: ");
    memset(buf + n, 'y', 60000);
    n += 60000;
    n += (size_t)snprintf(buf + n, cap - n, "\r\nmx: after.example\n");
    err.msg[0] = '\0';
    CHECK(mtasts_policy_parse(buf, n, &p, &err) == MTASTS_OK,
          "a 60000-character unknown field is ignored (%s)", err.msg);
    CHECK_INT(p.n_mx, 1, "long line: the mx after it counts");
    mtasts_policy_free(&p);
    /* A known field's value is checked whatever its length. */
    n = (size_t)snprintf(buf, cap, HDR "mode: enforce\nmax_age: 1\nmx: ");
    memset(buf + n, 'a', 2000);
    n += 2000;
    CHECK_INT(mtasts_policy_parse(buf, n, &p, &err), MTASTS_INVALID,
              "a 2000-character mx is invalid");

    /* mx lines: any number within the body; repeated patterns are stored
     * once (4000 lines of two patterns: two). */
    n = (size_t)snprintf(buf, cap, HDR "mode: enforce\nmax_age: 1\n");
    for (i = 0; i < 4000; i++)
        n += (size_t)snprintf(buf + n, cap - n, "mx: mx%zu.example\n", i % 2);
    err.msg[0] = '\0';
    CHECK(mtasts_policy_parse(buf, n, &p, &err) == MTASTS_OK,
          "4000 mx lines within 64 KiB (%s)", err.msg);
    CHECK_INT(p.n_mx, 2, "4000 mx lines: two different patterns");
    mtasts_policy_free(&p);
    /* MTASTS_POLICY_MX_MAX different patterns (the store's limit) fine,
     * one more is not. */
    n = (size_t)snprintf(buf, cap, HDR "mode: enforce\nmax_age: 1\n");
    for (i = 0; i < MTASTS_POLICY_MX_MAX; i++)
        n += (size_t)snprintf(buf + n, cap - n, "mx: mx%zu.example.com\nmx: mx0.example.com\n", i);
    err.msg[0] = '\0';
    CHECK(mtasts_policy_parse(buf, n, &p, &err) == MTASTS_OK,
          "limit: MTASTS_POLICY_MX_MAX patterns (%s)", err.msg);
    CHECK_INT(p.n_mx, MTASTS_POLICY_MX_MAX, "limit: n_mx");
    CHECK(p.n_mx > 64, "more than 64 different patterns are accepted");
    CHECK_STR(p.n_mx == MTASTS_POLICY_MX_MAX ? p.mx[MTASTS_POLICY_MX_MAX - 1] : "",
              "mx254.example.com", "limit: last pattern");
    mtasts_policy_free(&p);
    n += (size_t)snprintf(buf + n, cap - n, "mx: one-too-many.example.com\n");
    CHECK_INT(mtasts_policy_parse(buf, n, &p, &err), MTASTS_INVALID,
              "limit: too many patterns");
    CHECK(strstr(err.msg, "more than 255 different patterns") != NULL,
          "mx limit: error \"%s\"", err.msg);

    /* mx: 253 characters in all is the RFC 1035 maximum. */
    n = (size_t)snprintf(buf, cap, HDR "mode: enforce\nmax_age: 1\nmx: ");
    n += (size_t)snprintf(buf + n, cap - n, L63 "." L63 "." L63 ".");
    memset(buf + n, 'z', 61);           /* 3 * 64 + 61 = 253 */
    n += 61;
    err.msg[0] = '\0';
    CHECK_INT(mtasts_policy_parse(buf, n, &p, &err), MTASTS_OK,
              "RFC 1035 limit: 253-character mx");
    mtasts_policy_free(&p);
    buf[n++] = 'x';
    CHECK_INT(mtasts_policy_parse(buf, n, &p, &err), MTASTS_INVALID,
              "RFC 1035 limit: 254-character mx");
    CHECK(strstr(err.msg, "longer than 253") != NULL,
          "mx length: error \"%s\"", err.msg);
    free(buf);
}

/* Ownership: free is idempotent, copy is deep. */
static void test_ownership(void)
{
    static const char body[] = HDR "mode: testing\nmx: a.example\n"
                               "mx: *.b.example\nmax_age: 3600\n";
    mtasts_policy p, q;
    mtasts_err err = {""};

    CHECK_INT(mtasts_policy_parse(body, sizeof body - 1, &p, &err),
              MTASTS_OK, "copy: parse");
    CHECK_INT(mtasts_policy_copy(&q, &p, &err), MTASTS_OK, "copy");
    mtasts_policy_free(&p);
    mtasts_policy_free(&p);
    CHECK(p.mx == NULL && p.n_mx == 0, "free resets the policy");
    CHECK_STR(mtasts_mode_name(q.mode), "testing", "copy: mode");
    CHECK_INT(q.max_age, 3600, "copy: max_age");
    check_mx(&q, "a.example,*.b.example", "copy: mx survive the original");
    CHECK_INT(mtasts_policy_copy(&p, &q, &err), MTASTS_OK, "copy back");
    mtasts_policy_free(&q);
    check_mx(&p, "a.example,*.b.example", "copy of a copy");
    mtasts_policy_free(&p);
    mtasts_policy_free(NULL);
    CHECK_INT(mtasts_policy_parse(body, sizeof body - 1, NULL, NULL),
              MTASTS_INVALID, "NULL output refused");
    CHECK_STR(err.msg, "", "no error so far");
}

int main(void)
{
    test_table();
    test_limits();
    test_ownership();
    return UNIT_DONE("policy");
}
