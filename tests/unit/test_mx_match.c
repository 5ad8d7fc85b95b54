/*
 * test_mx_match.c - table tests for MX host validation (RFC 8461
 * section 4.1) and its Exim rendering. Each row names the rule it checks.
 * The Exim regexes are cross-checked with POSIX EREs (REG_ICASE, as Exim
 * matches host-list regexes caselessly): ^, $, [^.]+ and \. mean the same
 * in PCRE and ERE.
 */
#include "mx_match.h"
#include "unit.h"

#include <regex.h>

static const struct pattern_case {
    const char *rule;
    const char *host;           /* normalised */
    const char *pattern;        /* as stored by mtasts_policy_parse() */
    bool want;
} pattern_cases[] = {
    {"4.1 exact name matches", "mail.example.com", "mail.example.com", true},
    {"4.1 exact name: other name", "mail.example.org", "mail.example.com",
     false},
    {"4.1 exact name: no implicit subdomain", "a.mail.example.com",
     "mail.example.com", false},
    {"4.1 exact name: no parent", "example.com", "mail.example.com", false},
    {"4.1 \"*.example.com\" matches \"mail.example.com\"", "mail.example.com",
     "*.example.com", true},
    {"4.1 wildcard never matches the apex", "example.com", "*.example.com",
     false},
    {"4.1 wildcard: not \"foo.bar.example.com\" (two labels deep)",
     "foo.bar.example.com", "*.example.com", false},
    {"4.1 wildcard is a whole label, not a string suffix",
     "mailexample.com", "*.example.com", false},
    {"4.1 wildcard suffix compared label-wise", "mail.evil-example.com",
     "*.example.com", false},
    {"4.1 wildcard label must be non-empty", ".example.com",
     "*.example.com", false},
    {"4.1 pattern \"*.\" has no suffix: matches nothing", "a.", "*.", false},
    {"4.1 pattern \"*\" alone is no wildcard", "mail.example.com", "*",
     false},
    {"4.1 one label only: *.mx.microsoft vs x.h-v1.mx.microsoft",
     "x.h-v1.mx.microsoft", "*.mx.microsoft", false},
    {"4.1 one label: h-v1.mx.microsoft matches *.mx.microsoft",
     "h-v1.mx.microsoft", "*.mx.microsoft", true},
    {"3.2 IDN A-label exact", "xn--bcher-kva.example",
     "xn--bcher-kva.example", true},
    {"3.2 IDN A-label in the wildcard label", "xn--mnchen-3ya.example.com",
     "*.example.com", true},
    {"3.2 IDN A-label in the suffix", "mx.xn--bcher-kva.example",
     "*.xn--bcher-kva.example", true},
    {"4.1 contract: single-label name", "localhost", "localhost", true},
    {"4.1 contract: NULL host", NULL, "*.example.com", false},
};

static void test_pattern(void)
{
    size_t i;

    for (i = 0; i < sizeof pattern_cases / sizeof pattern_cases[0]; i++) {
        const struct pattern_case *c = &pattern_cases[i];

        CHECK_INT(mtasts_mx_pattern_match(c->host, c->pattern), c->want,
                  c->rule);
    }
}

static const struct norm_case {
    const char *rule;
    const char *in, *out;
} norm_cases[] = {
    {"4.1 lower-case ASCII", "MX1.Example.COM", "mx1.example.com"},
    {"4.1 strip one trailing dot", "mx1.example.com.", "mx1.example.com"},
    {"4.1 strip only one trailing dot", "a..", "a."},
    {"4.1 root dot alone", ".", ""},
    {"4.1 empty", "", ""},
    {"4.1 non-ASCII bytes untouched", "\xc3\x9c.example", "\xc3\x9c.example"},
};

static void test_normalize(void)
{
    size_t i;

    for (i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        char buf[64];

        snprintf(buf, sizeof buf, "%s", norm_cases[i].in);
        mtasts_host_normalize(buf);
        CHECK_STR(buf, norm_cases[i].out, norm_cases[i].rule);
    }
    mtasts_host_normalize(NULL);
}

static const char example_policy[] =
    "version: STSv1\nmode: enforce\nmx: mail.example.com\n"
    "mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";
static const char example_regexes[] =
    "^mail[.]example[.]com$ : ^[^.]+[.]example[.]net$ : "
    "^backupmx[.]example[.]com$";

#define LONG63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij" \
               "abc"

static const struct host_case {
    const char *rule;
    const char *host;           /* as it might come from DNS */
    int want;                   /* index into the example policy, or -1 */
} host_cases[] = {
    {"4.1 exact, first pattern", "mail.example.com", 0},
    {"4.1 exact, third pattern", "backupmx.example.com", 2},
    {"4.1 wildcard pattern", "mx7.example.net", 1},
    {"4.1 case-insensitive (RFC 6125): uppercase MX name",
     "MAIL.Example.COM", 0},
    {"4.1 uppercase under the wildcard", "MX7.EXAMPLE.NET", 1},
    {"4.1 absolute MX name: trailing dot", "mail.example.com.", 0},
    {"4.1 wildcard and trailing dot", "a.example.net.", 1},
    {"4.1 wildcard never matches the apex", "example.net", -1},
    {"4.1 wildcard: two labels deep", "a.b.example.net", -1},
    {"4.1 no pattern matches", "mail.example.org", -1},
    {"4.1 empty host", "", -1},
    {"4.1 root only", ".", -1},
    {"4.1 two trailing dots: one stripped, then an empty label",
     "mail.example.com..", -1},
    {"4.1 empty label", "a..example.net", -1},
    {"4.1 '*' in an MX name does not fill the wildcard", "*.example.net", -1},
    {"4.1 '_' in an MX name does not fill the wildcard", "a_b.example.net",
     -1},
    {"4.1 U-label MX name must be converted first", "b\xc3\xbc.example.net",
     -1},
    {"RFC 1035: a name over 253 characters", LONG63 "." LONG63 "." LONG63
     "." LONG63 ".example.net", -1},
};

static void test_policy_match(void)
{
    mtasts_policy p;
    mtasts_err err = {""};
    regex_t re;
    size_t i;
    char list[512];
    int rc;

    CHECK_INT(mtasts_policy_parse(example_policy, sizeof example_policy - 1,
                                  &p, &err), MTASTS_OK, "example policy");
    CHECK_INT(mtasts_mx_exim_regexes(&p, list, sizeof list), MTASTS_OK,
              "example regexes");
    CHECK_STR(list, example_regexes, "Exim host list of anchored regexes");

    /* The regexes, joined with "|" into one ERE, must agree with the
     * matcher on every host. */
    {
        char ere[512];
        size_t o = 0;
        const char *s;

        for (s = list; *s; s++) {
            if (s[0] == ' ' && s[1] == ':' && s[2] == ' ') {
                ere[o++] = '|';
                s += 2;
            } else
                ere[o++] = *s;
        }
        ere[o] = '\0';
        rc = regcomp(&re, ere, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        CHECK_INT(rc, 0, "regexes compile as EREs");
    }
    for (i = 0; i < sizeof host_cases / sizeof host_cases[0]; i++) {
        const struct host_case *c = &host_cases[i];
        char h[300];
        size_t n;

        CHECK_INT(mtasts_mx_match_policy(&p, c->host), c->want, c->rule);
        /* Exim sees the MX name without its trailing dot. */
        n = (size_t)snprintf(h, sizeof h, "%s", c->host);
        if (n && h[n - 1] == '.')
            h[n - 1] = '\0';
        if (rc == 0 && !strchr(h, '*') && !strchr(h, '_')
            && !strstr(h, "..") && strlen(h) <= 253 && !strchr(h, '\xc3'))
            CHECK_INT(regexec(&re, h, 0, NULL, 0) == 0, c->want >= 0,
                      c->rule);
    }
    if (rc == 0)
        regfree(&re);
    CHECK_INT(mtasts_mx_match_policy(NULL, "a.example.net"), -1,
              "no policy");
    CHECK_INT(mtasts_mx_match_policy(&p, NULL), -1, "no host");
    mtasts_policy_free(&p);
    CHECK_INT(mtasts_mx_match_policy(&p, "mail.example.com"), -1,
              "empty policy matches nothing");
}

static void test_exim_regexes(void)
{
    static char colon[] = "a:b.example", dollar[] = "a$.example",
                empty_wild[] = "*.", mixed[] = "MX.Example.com";
    static char *odd_colon[] = {colon}, *odd_dollar[] = {dollar},
                *odd_empty_wild[] = {empty_wild}, *upper[] = {mixed};
    mtasts_policy p, odd = {MTASTS_MODE_ENFORCE, 1, 1, odd_colon};
    mtasts_err err = {""};
    char buf[512];
    size_t need;

    mtasts_policy_parse(example_policy, sizeof example_policy - 1, &p, &err);
    need = mtasts_mx_exim_regexes_size(&p);
    CHECK_INT(need, sizeof example_regexes, "size includes the NUL");
    CHECK_INT(mtasts_mx_exim_regexes(&p, buf, need), MTASTS_OK,
              "exactly large enough");
    CHECK_STR(buf, example_regexes, "exactly large enough: text");
    CHECK_INT(mtasts_mx_exim_regexes(&p, buf, need - 1), MTASTS_INVALID,
              "one byte short");
    CHECK_STR(buf, "", "one byte short: buffer emptied");
    CHECK_INT(mtasts_mx_exim_regexes(&p, NULL, 0), MTASTS_INVALID,
              "no buffer");
    CHECK(strstr(buf, "\\N") == NULL, "never contains \\N");
    mtasts_policy_free(&p);

    /* mode none without mx: an empty list. */
    mtasts_policy_parse("version: STSv1\nmode: none\nmax_age: 1\n", 37, &p,
                        &err);
    CHECK_INT(mtasts_mx_exim_regexes(&p, buf, sizeof buf), MTASTS_OK,
              "3.2 mode none, no mx: empty list");
    CHECK_STR(buf, "", "3.2 mode none, no mx: empty list text");
    mtasts_policy_free(&p);

    /* Hand-built policies: nothing special to Exim can get through. */
    CHECK_INT(mtasts_mx_exim_regexes(&odd, buf, sizeof buf), MTASTS_INVALID,
              "Exim list: ':' refused");
    odd.mx = odd_dollar;
    CHECK_INT(mtasts_mx_exim_regexes(&odd, buf, sizeof buf), MTASTS_INVALID,
              "Exim expansion: '$' refused");
    odd.mx = odd_empty_wild;
    CHECK_INT(mtasts_mx_exim_regexes_size(&odd), 0, "\"*.\" refused");
    odd.mx = upper;
    CHECK_INT(mtasts_mx_exim_regexes(&odd, buf, sizeof buf), MTASTS_OK,
              "upper case passes (Exim matches caselessly)");
    CHECK_STR(buf, "^MX[.]Example[.]com$", "upper case text");
    CHECK_INT(mtasts_mx_exim_regexes(NULL, buf, sizeof buf), MTASTS_INVALID,
              "NULL policy");
}

int main(void)
{
    test_pattern();
    test_normalize();
    test_policy_match();
    test_exim_regexes();
    return UNIT_DONE("mx_match");
}
