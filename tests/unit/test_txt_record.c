/*
 * test_txt_record.c - table tests for the "_mta-sts" TXT record
 * (RFC 8461 section 3.1): parsing one record, joining character-strings,
 * selecting from an RRset. Each row names the rule it checks.
 */
#include "txt_record.h"
#include "unit.h"

#define ID32 "0123456789abcdefghijABCDEFGHIJ01"
#define NAME33 "a23456789012345678901234567890123"

static const struct parse_case {
    const char *rule;
    const char *in;
    int len;                    /* -1: strlen(in) */
    mtasts_status want;
    const char *id;             /* expected id ("" unless OK) */
    const char *err;            /* substring of the error, or NULL */
} parse_cases[] = {
    {"3.1 example record", "v=STSv1; id=20160831085700Z;", -1,
     MTASTS_OK, "20160831085700Z", NULL},
    {"3.1 [sts-field-delim] at the end is optional",
     "v=STSv1; id=20160831085700Z", -1, MTASTS_OK, "20160831085700Z", NULL},
    {"3.1 sts-field-delim: *WSP may be empty", "v=STSv1;id=abc", -1,
     MTASTS_OK, "abc", NULL},
    {"3.1 text: a record not beginning with \"v=STSv1;\" is discarded",
     "v=STSv1 ; id=abc", -1, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 text: ... also with HTAB", "v=STSv1\t;id=abc", -1, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 sts-field-delim: WSP before a later ';'", "v=STSv1; id=abc ; x=1", -1,
     MTASTS_OK, "abc", NULL},
    {"3.1 WSP is SP or HTAB", "v=STSv1;\tid=abc\t;\t", -1, MTASTS_OK, "abc",
     NULL},
    {"3.1 trailing ';' then WSP", "v=STSv1; id=abc; ", -1, MTASTS_OK, "abc",
     NULL},
    {"3.1 WSP only around ';': trailing WSP without ';' is invalid",
     "v=STSv1; id=abc  ", -1, MTASTS_INVALID, "", "after whitespace"},
    {"3.1 WSP only around ';': trailing HTAB without ';' is invalid",
     "v=STSv1; id=abc; x=y\t", -1, MTASTS_INVALID, "", "after whitespace"},
    {"3.1 sts-id: 32 characters is the maximum", "v=STSv1; id=" ID32, -1,
     MTASTS_OK, ID32, NULL},
    {"3.1 sts-id: 33 characters is too long", "v=STSv1; id=" ID32 "x", -1,
     MTASTS_INVALID, "", "id: not 1-32"},
    {"3.1 sts-id: ALPHA / DIGIT only, no '-'", "v=STSv1; id=2024-01-01", -1,
     MTASTS_INVALID, "", "id: not 1-32"},
    {"3.1 sts-id: ALPHA / DIGIT only, no '_'", "v=STSv1; id=a_b", -1,
     MTASTS_INVALID, "", "id: not 1-32"},
    {"3.1 sts-id: 1* means an empty id is invalid", "v=STSv1; id=", -1,
     MTASTS_INVALID, "", "empty value"},
    {"3.1 sts-id required: nothing after v=STSv1;", "v=STSv1;", -1,
     MTASTS_INVALID, "", "missing id"},
    {"3.1 text: bare v=STSv1 does not begin with \"v=STSv1;\": discarded",
     "v=STSv1", -1, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 sts-id required: only an extension", "v=STSv1; foo=bar", -1,
     MTASTS_INVALID, "", "missing id"},
    {"3.1 %s\"id=\" is case-sensitive: ID= is an extension",
     "v=STSv1; ID=abc", -1, MTASTS_INVALID, "", "missing id"},
    {"3.1 sts-extension is ignored, any order", "v=STSv1; a.b_c-d=x!y~z; "
     "id=abc", -1, MTASTS_OK, "abc", NULL},
    {"3.1 sts-ext-name: 32 characters", "v=STSv1; id=abc; "
     "a2345678901234567890123456789012=1", -1, MTASTS_OK, "abc", NULL},
    {"3.1 sts-ext-name: 33 characters is too long", "v=STSv1; id=abc; "
     NAME33 "=1", -1, MTASTS_INVALID, "", "longer than 32"},
    {"3.1 sts-ext-name starts with ALPHA / DIGIT", "v=STSv1; id=abc; -x=1",
     -1, MTASTS_INVALID, "", "expected a field name"},
    {"3.1 sts-ext-value excludes '='", "v=STSv1; id=abc; ext=a=b", -1,
     MTASTS_INVALID, "", "unexpected '='"},
    {"3.1 sts-ext-value excludes SP", "v=STSv1; id=abc; ext=a b", -1,
     MTASTS_INVALID, "", "unexpected 'b'"},
    {"3.1 sts-ext-value: 1* means empty is invalid", "v=STSv1; id=abc; x=",
     -1, MTASTS_INVALID, "", "empty value"},
    {"3.1 sts-extension needs '='", "v=STSv1; id=abc; flag", -1,
     MTASTS_INVALID, "", "no '='"},
    {"3.1 sts-field-delim is ';', not SP", "v=STSv1; id=abc x=1", -1,
     MTASTS_INVALID, "", "expected ';'"},
    {"3.1 text: \"v=STSv1 id=abc\" does not begin with \"v=STSv1;\"", "v=STSv1 id=abc", -1,
     MTASTS_NOT_FOUND, "", NULL},
    {"3.1 an empty field (';;') is not an sts-field", "v=STSv1; id=abc;;", -1,
     MTASTS_INVALID, "", "expected a field name"},
    {"3.2 duplicate field: the first id wins", "v=STSv1; id=first; "
     "id=second", -1, MTASTS_OK, "first", NULL},
    {"decision: a duplicate id must still be well formed",
     "v=STSv1; id=first; id=bad-one", -1, MTASTS_INVALID, "",
     "id: not 1-32"},
    {"3.1 US-ASCII: a NUL byte is invalid", "v=STSv1; id=ab\0c", 15,
     MTASTS_INVALID, "", "invalid byte 0x00"},
    {"3.1 US-ASCII: non-ASCII is invalid", "v=STSv1; id=abc; x=caf\xc3\xa9",
     -1, MTASTS_INVALID, "", "invalid byte 0xc3"},
    {"3.1 control characters are invalid", "v=STSv1; id=abc\r\n", -1,
     MTASTS_INVALID, "", "invalid byte 0x0d"},
    {"3.1 record must begin with sts-version: v=STSv10 is another version",
     "v=STSv10; id=abc", -1, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 %s\"v=STSv1\" is case-sensitive", "V=STSv1; id=abc", -1,
     MTASTS_NOT_FOUND, "", NULL},
    {"3.1 %s\"v=STSv1\" is case-sensitive (value)", "v=stsv1; id=abc", -1,
     MTASTS_NOT_FOUND, "", NULL},
    {"3.1 must begin with sts-version: no leading WSP", " v=STSv1; id=abc",
     -1, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 must begin with sts-version: v= not first", "id=abc; v=STSv1", -1,
     MTASTS_NOT_FOUND, "", NULL},
    {"3.1 other TXT records are discarded", "v=spf1 -all", -1,
     MTASTS_NOT_FOUND, "", NULL},
    {"3.1 an empty record is discarded", "", -1, MTASTS_NOT_FOUND, "", NULL},
};

static void test_parse(void)
{
    size_t i;

    for (i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        size_t len = c->len < 0 ? strlen(c->in) : (size_t)c->len;
        char id[MTASTS_ID_MAX + 1] = "junk";
        mtasts_err err = {""};
        mtasts_status st = mtasts_txt_parse(c->in, len, id, &err);

        CHECK_STR(mtasts_status_name(st), mtasts_status_name(c->want),
                  c->rule);
        CHECK_STR(id, c->id, c->rule);
        if (c->err)
            CHECK(strstr(err.msg, c->err) != NULL,
                  "%s: error \"%s\" lacks \"%s\"", c->rule, err.msg, c->err);
        else
            CHECK_STR(err.msg, "", c->rule);
    }
}

/* Limit: records longer than MTASTS_TXT_MAX are rejected. */
static void test_parse_long(void)
{
    char rec[MTASTS_TXT_MAX + 2];
    char id[MTASTS_ID_MAX + 1];
    mtasts_err err = {""};
    size_t n;

    n = (size_t)snprintf(rec, sizeof rec, "v=STSv1; id=abc; x=");
    memset(rec + n, 'y', sizeof rec - 1 - n);
    rec[sizeof rec - 1] = '\0';
    CHECK_INT(mtasts_txt_parse(rec, MTASTS_TXT_MAX, id, &err), MTASTS_OK,
              "limit: MTASTS_TXT_MAX characters accepted");
    CHECK_INT(mtasts_txt_parse(rec, MTASTS_TXT_MAX + 1, id, &err),
              MTASTS_INVALID, "limit: MTASTS_TXT_MAX + 1 rejected");
    CHECK(strstr(err.msg, "longer than") != NULL, "limit: error \"%s\"",
          err.msg);
}

static const struct join_case {
    const char *rule;
    const char *rdata;
    size_t rdlen;
    size_t outsize;
    mtasts_status want;
    const char *out;
} join_cases[] = {
    {"3.1 one string", "\x0fv=STSv1; id=abc", 16, 64, MTASTS_OK,
     "v=STSv1; id=abc"},
    {"3.1 strings concatenated without adding spaces",
     "\x08v=STSv1;\x07 id=abc", 17, 64, MTASTS_OK, "v=STSv1; id=abc"},
    {"3.1 split inside a field", "\x0bv=STSv1; id\x04=abc", 17, 64,
     MTASTS_OK, "v=STSv1; id=abc"},
    {"RFC 1035 empty character-strings", "\x00\x07v=STSv1\x00", 10, 64,
     MTASTS_OK, "v=STSv1"},
    {"RFC 1035 length octet overruns RDATA", "\x10v=STSv1", 8, 64,
     MTASTS_INVALID, ""},
    {"buffer too small", "\x0fv=STSv1; id=abc", 16, 15, MTASTS_INVALID, ""},
    {"buffer exactly large enough", "\x0fv=STSv1; id=abc", 16, 16,
     MTASTS_OK, "v=STSv1; id=abc"},
};

static void test_join(void)
{
    size_t i;

    for (i = 0; i < sizeof join_cases / sizeof join_cases[0]; i++) {
        const struct join_case *c = &join_cases[i];
        char out[64] = "junk";
        size_t outlen = 99;
        mtasts_err err = {""};
        mtasts_status st = mtasts_txt_join((const unsigned char *)c->rdata,
                                           c->rdlen, out, c->outsize,
                                           &outlen, &err);

        CHECK_STR(mtasts_status_name(st), mtasts_status_name(c->want),
                  c->rule);
        CHECK_STR(out, c->out, c->rule);
        CHECK_INT(outlen, strlen(c->out), c->rule);
    }

    /* Joined strings feed the parser (3.1: "MUST be treated as if those
     * strings are concatenated"). */
    {
        char out[MTASTS_TXT_MAX + 1], id[MTASTS_ID_MAX + 1];
        unsigned char big[5 * 256];
        size_t outlen = 0, i2;
        mtasts_err err = {""};

        CHECK_INT(mtasts_txt_join((const unsigned char *)
                                  "\x08v=STSv1;\x07 id=abc", 17, out,
                                  sizeof out, &outlen, &err), MTASTS_OK,
                  "3.1 join then parse: join");
        CHECK_INT(mtasts_txt_parse(out, outlen, id, &err), MTASTS_OK,
                  "3.1 join then parse: parse");
        CHECK_STR(id, "abc", "3.1 join then parse: id");

        /* Five strings of 255 octets exceed MTASTS_TXT_MAX. */
        for (i2 = 0; i2 < 5; i2++) {
            big[i2 * 256] = 255;
            memset(big + i2 * 256 + 1, 'x', 255);
        }
        CHECK_INT(mtasts_txt_join(big, sizeof big, out, sizeof out, &outlen,
                                  &err), MTASTS_INVALID,
                  "limit: joined record longer than MTASTS_TXT_MAX");
        CHECK(strstr(err.msg, "longer than") != NULL, "limit: error \"%s\"",
              err.msg);
    }
}

static const struct select_case {
    const char *rule;
    size_t n;
    const char *rec[3];
    mtasts_status want;
    const char *id;
    const char *err;
} select_cases[] = {
    {"3.1 exactly one STSv1 record", 1, {"v=STSv1; id=abc"}, MTASTS_OK,
     "abc", NULL},
    {"3.1 non-STS records are discarded", 3,
     {"v=spf1 -all", "v=STSv1; id=abc", "google-site-verification=x"},
     MTASTS_OK, "abc", NULL},
    {"3.1 v=STSv10 is discarded, not counted", 2,
     {"v=STSv10; id=new", "v=STSv1; id=old"}, MTASTS_OK, "old", NULL},
    {"3.1 number of records not one: two STSv1 records", 2,
     {"v=STSv1; id=a", "v=STSv1; id=b"}, MTASTS_INVALID, "",
     "multiple STSv1 records"},
    {"3.1 number of records not one: identical twins count", 2,
     {"v=STSv1; id=a", "v=STSv1; id=a"}, MTASTS_INVALID, "", "multiple"},
    {"3.1 two STSv1 records, one of them invalid", 2,
     {"v=STSv1; id=a", "v=STSv1;"}, MTASTS_INVALID, "", "multiple"},
    {"3.1 text: \"v=STSv1 ;...\" is no STSv1 record: the other one counts", 2,
     {"v=STSv1 ; id=b", "v=STSv1; id=a"}, MTASTS_OK, "a", NULL},
    {"3.1 number of records not one: zero left", 2,
     {"v=spf1 -all", "hello"}, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 empty RRset", 0, {NULL}, MTASTS_NOT_FOUND, "", NULL},
    {"3.1 resulting record syntactically invalid", 2,
     {"v=STSv1; id=a-b", "v=spf1 -all"}, MTASTS_INVALID, "", "id: not"},
};

static void test_select(void)
{
    size_t i, j;

    for (i = 0; i < sizeof select_cases / sizeof select_cases[0]; i++) {
        const struct select_case *c = &select_cases[i];
        size_t lens[3] = {0};
        char id[MTASTS_ID_MAX + 1] = "junk";
        mtasts_err err = {""};
        mtasts_status st;

        for (j = 0; j < c->n; j++)
            lens[j] = strlen(c->rec[j]);
        st = mtasts_txt_select(c->rec, lens, c->n, id, &err);
        CHECK_STR(mtasts_status_name(st), mtasts_status_name(c->want),
                  c->rule);
        CHECK_STR(id, c->id, c->rule);
        if (c->err)
            CHECK(strstr(err.msg, c->err) != NULL,
                  "%s: error \"%s\" lacks \"%s\"", c->rule, err.msg, c->err);
        else
            CHECK_STR(err.msg, "", c->rule);
    }
}

/* First error wins (common.h): a second failure keeps the first message. */
static void test_first_error_wins(void)
{
    char id[MTASTS_ID_MAX + 1];
    mtasts_err err = {""};

    mtasts_txt_parse("v=STSv1;", 8, id, &err);
    mtasts_txt_parse("v=STSv1; id=a-b", 15, id, &err);
    CHECK(strstr(err.msg, "missing id") != NULL, "first error wins: \"%s\"",
          err.msg);
    CHECK_INT(mtasts_txt_parse("v=STSv1; id=x", 13, NULL, NULL), MTASTS_OK,
              "NULL id_out and err are allowed");
}

int main(void)
{
    test_parse();
    test_parse_long();
    test_join();
    test_select();
    test_first_error_wins();
    return UNIT_DONE("txt_record");
}
