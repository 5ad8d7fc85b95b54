/*
 * test_tlsrpt_txt.c - table tests of the "_smtp._tls" TXT record parser
 * (RFC 8460 section 3; decisions in tlsrpt_txt.h).
 */
#include "tlsrpt_txt.h"
#include "unit.h"

typedef struct {
    const char *rec;
    mtasts_status want;
    size_t n;               /* URIs kept */
    const char *first;      /* uri[0] (mailto: its addr) */
    size_t skipped;
} parse_case;

static const parse_case parse_cases[] = {
    /* RFC 8460 3.3's examples */
    { "v=TLSRPTv1; rua=mailto:reports@example.com", MTASTS_OK, 1, "reports@example.com", 0 },
    { "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", MTASTS_OK, 1,
      "https://reporting.example.com/v1/tlsrpt", 0 },
    { "v=TLSRPTv1;rua=mailto:a@example.com,https://r.example.com", MTASTS_OK, 2,
      "a@example.com", 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com \t,\t https://r.example.com:8443/x", MTASTS_OK, 2,
      "a@example.com", 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com;", MTASTS_OK, 1, "a@example.com", 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com ; ", MTASTS_OK, 1, "a@example.com", 0 },
    { "v=TLSRPTv1; ext=1; rua=mailto:a@example.com; x_y.z-w=v!", MTASTS_OK, 1,
      "a@example.com", 0 },
    { "v=TLSRPTv1; rua=MAILTO:tls%2Brpt@Example.COM", MTASTS_OK, 1, "tls+rpt@Example.COM", 0 },
    { "v=TLSRPTv1; rua=ftp://x.example.com,mailto:a@example.com", MTASTS_OK, 1,
      "a@example.com", 1 },
    { "v=TLSRPTv1; rua=mailto:a@example.com,mailto:a@example.com", MTASTS_OK, 1,
      "a@example.com", 0 },
    { "v=TLSRPTv1; rua=mailto:a@x.test,mailto:b@x.test,mailto:c@x.test,mailto:d@x.test,"
      "mailto:e@x.test,mailto:f@x.test,mailto:g@x.test,mailto:h@x.test,mailto:i@x.test",
      MTASTS_OK, 8, "a@x.test", 1 },
    /* not TLSRPTv1: discarded */
    { "v=TLSRPTv1", MTASTS_NOT_FOUND, 0, NULL, 0 },
    { "v=TLSRPTv1 ; rua=mailto:a@example.com", MTASTS_NOT_FOUND, 0, NULL, 0 },
    { "v=TLSRPTv10; rua=mailto:a@example.com", MTASTS_NOT_FOUND, 0, NULL, 0 },
    { "v=tlsrptv1; rua=mailto:a@example.com", MTASTS_NOT_FOUND, 0, NULL, 0 },
    { " v=TLSRPTv1; rua=mailto:a@example.com", MTASTS_NOT_FOUND, 0, NULL, 0 },
    { "", MTASTS_NOT_FOUND, 0, NULL, 0 },
    /* invalid */
    { "v=TLSRPTv1;", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; ext=1", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; RUA=mailto:a@example.com", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com ", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com;;", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", MTASTS_INVALID, 0,
      NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com,", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com mailto:b@example.com", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:noatsign", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@b@example.com", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com?subject=x", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a%0d%0aBcc:x@example.com", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@-bad-.example", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=https://", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=https://user@host.example/", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=https://r.example.com:99999/", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=https://192.0.2.1/", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=ftp://x.example.com", MTASTS_INVALID, 0, NULL, 1 },
    { "v=TLSRPTv1; rua=reports", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; ext", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; ext=", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; _x=1", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; x=a=b", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; "
      "abcdefghijabcdefghijabcdefghijabc=1", MTASTS_INVALID, 0, NULL, 0 },
    { "v=TLSRPTv1; rua=mailto:a@example.com; x=\x01", MTASTS_INVALID, 0, NULL, 0 },
};

static void test_parse(void)
{
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const parse_case *c = &parse_cases[i];
        mtasts_tlsrpt_rua r;
        mtasts_err err = {{0}};
        mtasts_status st = mtasts_tlsrpt_txt_parse(c->rec, strlen(c->rec), &r, &err);
        char what[160];

        snprintf(what, sizeof what, "parse \"%s\"", c->rec);
        CHECK(st == c->want, "%s: got %s (%s), want %s", what, mtasts_status_name(st),
              err.msg, mtasts_status_name(c->want));
        CHECK((st == MTASTS_INVALID) == (err.msg[0] != '\0'), "%s: reason \"%s\"", what,
              err.msg);
        if (st != MTASTS_OK)
            continue;
        CHECK_INT(r.n, c->n, what);
        CHECK_INT(r.skipped, c->skipped, what);
        CHECK_STR(r.uri[0].scheme == MTASTS_TLSRPT_MAILTO ? r.uri[0].addr : r.uri[0].uri,
                  c->first, what);
    }
}

static void test_schemes(void)
{
    mtasts_tlsrpt_rua r;
    mtasts_err err = {{0}};
    const char *rec = "v=TLSRPTv1; rua=https://r.example.com/a,mailto:x@example.com";

    CHECK_INT(mtasts_tlsrpt_txt_parse(rec, strlen(rec), &r, &err), MTASTS_OK, "two schemes");
    CHECK_INT(r.uri[0].scheme, MTASTS_TLSRPT_HTTPS, "first is https");
    CHECK_INT(r.uri[1].scheme, MTASTS_TLSRPT_MAILTO, "second is mailto");
    CHECK_STR(r.uri[1].uri, "mailto:x@example.com", "mailto URI kept as published");
}

static void test_select(void)
{
    const char *one[] = { "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com", "x" };
    const char *two[] = { "v=TLSRPTv1; rua=mailto:a@example.com",
                          "v=TLSRPTv1; rua=mailto:b@example.com" };
    const char *none[] = { "v=spf1 -all", "v=TLSRPTv1 ; rua=mailto:a@example.com" };
    const char *bad[] = { "v=spf1 -all", "v=TLSRPTv1; rua=nothing" };
    size_t lens[3];
    mtasts_tlsrpt_rua r;
    mtasts_err err = {{0}};

#define LENS(a) for (size_t i_ = 0; i_ < sizeof a / sizeof a[0]; i_++) lens[i_] = strlen(a[i_])
    LENS(one);
    CHECK_INT(mtasts_tlsrpt_txt_select(one, lens, 3, &r, &err), MTASTS_OK, "one TLSRPTv1");
    CHECK_STR(r.uri[0].addr, "a@example.com", "selected record");
    LENS(two);
    CHECK_INT(mtasts_tlsrpt_txt_select(two, lens, 2, &r, &err), MTASTS_INVALID, "two TLSRPTv1");
    CHECK(strstr(err.msg, "multiple") != NULL, "reason: %s", err.msg);
    mtasts_err_clear(&err);
    LENS(none);
    CHECK_INT(mtasts_tlsrpt_txt_select(none, lens, 2, &r, &err), MTASTS_NOT_FOUND, "none");
    CHECK_INT(r.n, 0, "none: no URI");
    LENS(bad);
    CHECK_INT(mtasts_tlsrpt_txt_select(bad, lens, 2, &r, &err), MTASTS_INVALID, "malformed");
    CHECK_INT(mtasts_tlsrpt_txt_select(NULL, NULL, 0, &r, &err), MTASTS_NOT_FOUND, "empty");
#undef LENS
}

int main(void)
{
    test_parse();
    test_schemes();
    test_select();
    return UNIT_DONE("tlsrpt_txt");
}
