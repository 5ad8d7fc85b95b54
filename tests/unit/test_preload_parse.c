/*
 * test_preload_parse.c - the two preload list formats (lookup/cli/
 * preload_parse.c): table tests of accepted and refused lists, with the
 * error naming the line or the field, the EFF translation (aliases, the
 * ".suffix" kind, modes, expiry) and a write/parse round trip.
 */
#include "mx_match.h"
#include "preload_parse.h"
#include "unit.h"

#include <stdlib.h>

#define EFF_HEAD "{\"timestamp\": \"2026-12-01T00:00:00+00:00\", \"expires\": 1924992000, "
#define MT_HEAD "{\"format\": \"mtasts-preload\", \"version\": 1, " \
                "\"generated\": \"2026-12-01T00:00:00Z\", \"expires\": \"2027-01-01T00:00:00Z\", "
#define MT_ENTRY "{\"mode\": \"enforce\", \"mx\": [\"mx.a.example\"], \"id\": \"abc\", " \
                 "\"max_age\": 604800, \"taken\": \"2026-12-02T00:00:00Z\"}"

static const struct bad_case {
    preload_format f;
    const char *json, *want;    /* want: a part of the error */
} bad[] = {
    { PRELOAD_FORMAT_EFF, "{\n\"policies\": {,}}", "line 2, column" },
    { PRELOAD_FORMAT_EFF, "[]", "not a JSON object" },
    { PRELOAD_FORMAT_EFF, "{\"timestamp\": 1, \"policies\": {}}", "expires: missing" },
    { PRELOAD_FORMAT_EFF, "{\"timestamp\": 1, \"expires\": \"soon\", \"policies\": {}}",
      "expires: not a time" },
    { PRELOAD_FORMAT_EFF, "{\"timestamp\": 1, \"expires\": 253402300800, \"policies\": {}}",
      "expires: not a time" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {}, \"extra\": 1}", "extra: unknown field" },
    /* remote text that import and stats print: no terminal escapes */
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"version\": \"1\\u001b[2J\", \"policies\": {}}",
      "version: not a string" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": []}", "policies: not an object" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mxs\": []}}}",
      "policies.a.example.mxs: not a non-empty array" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mxs\": [\"*.a.example\"]}}}",
      "policies.a.example.mxs[0]: \"*.a.example\" is not an EFF list name" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mxs\": [\"x..y\"]}}}",
      "policies.a.example.mxs: empty label" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mode\": \"none\", "
      "\"mxs\": [\"x.y\"]}}}", "policies.a.example.mode: not \"enforce\" or \"testing\"" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"policy-alias\": \"g\"}}}",
      "policies.a.example.policy-alias: not the name" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"pin\": \"p\", "
      "\"mxs\": [\"x.y\"]}}}", "pinning is not supported" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mxs\": [\"x.y\"], "
      "\"colour\": 1}}}", "policies.a.example.colour: unknown field" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a..example\": {\"mxs\": [\"x.y\"]}}}",
      "policies.a..example" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mxs\": [\"x.y\"]}, "
      "\"A.example\": {\"mxs\": [\"x.y\"]}}}", "policies.a.example: listed twice" },
    { PRELOAD_FORMAT_EFF, EFF_HEAD "\"policies\": {\"a.example\": {\"mxs\": [\"x.y\"]}, "
      "\"a.example\": {\"mxs\": [\"x.y\"]}}}", "duplicate object key" },
    { PRELOAD_FORMAT_EFF, "{\"timestamp\": 1924992000, \"expires\": 1924992000, "
      "\"policies\": {}}", "expires: not after" },
    { PRELOAD_FORMAT_MTASTS, "{\"format\": \"other\"}", "format: not \"mtasts-preload\"" },
    { PRELOAD_FORMAT_MTASTS, "{\"format\": \"mtasts-preload\", \"version\": 2}",
      "version: unsupported" },
    { PRELOAD_FORMAT_MTASTS, MT_HEAD "\"domains\": {\"a.example\": {\"mode\": \"enforce\"}}}",
      "domains.a.example.id: missing" },
    { PRELOAD_FORMAT_MTASTS, MT_HEAD "\"domains\": {\"a.example\": {\"mode\": \"enforce\", "
      "\"mx\": [\".a.example\"], \"id\": \"abc\", \"max_age\": 1, \"taken\": "
      "\"2026-12-02T00:00:00Z\"}}}", "domains.a.example.mx[0]: \".a.example\" is not an RFC 8461" },
    { PRELOAD_FORMAT_MTASTS, MT_HEAD "\"domains\": {\"a.example\": {\"mode\": \"enforce\", "
      "\"mx\": [\"mx.a\"], \"id\": \"a-b\", \"max_age\": 1, \"taken\": "
      "\"2026-12-02T00:00:00Z\"}}}", "domains.a.example.id: not 1-32" },
    { PRELOAD_FORMAT_MTASTS, MT_HEAD "\"domains\": {\"a.example\": {\"mode\": \"enforce\", "
      "\"mx\": [\"mx.a\"], \"id\": \"ab\", \"max_age\": 31557601, \"taken\": "
      "\"2026-12-02T00:00:00Z\"}}}", "domains.a.example.max_age" },
    { PRELOAD_FORMAT_MTASTS, MT_HEAD "\"domains\": {\"a.example\": {\"mode\": \"enforce\", "
      "\"mx\": [\"mx.a\"], \"id\": \"ab\", \"max_age\": 1, \"taken\": "
      "\"2026-02-30T00:00:00Z\"}}}", "domains.a.example.taken: not a time" },
    { PRELOAD_FORMAT_MTASTS, MT_HEAD "\"domains\": {\"a.example\": " MT_ENTRY "}, \"x\": 1}",
      "x: unknown field" },
    { PRELOAD_FORMAT_MTASTS, "{\"format\": \"mtasts-preload\", \"version\": 1, "
      "\"generated\": 1, \"expires\": \"2027-01-01T00:00:00Z\", \"domains\": {}}",
      "generated: not a time (YYYY-MM-DDThh:mm:ssZ)" },
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        preload_list l;
        mtasts_err err = {{0}};
        mtasts_status st = preload_parse(bad[i].json, strlen(bad[i].json), bad[i].f, &l, &err);

        CHECK(st == MTASTS_INVALID && strstr(err.msg, bad[i].want),
              "case %zu: status %d, error \"%s\", want \"%s\"", i, st, err.msg, bad[i].want);
        CHECK(l.n == 0 && !l.domains && !l.entries, "case %zu: empty list on error", i);
    }
}

static void test_eff(void)
{
    static const char list[] =
        "{\n"
        "  \"timestamp\": \"2026-12-01T00:00:00.123456789Z\",\n"
        "  \"expires\": \"2026-12-15T02:00:00+02:00\",\n"
        "  \"version\": \"0.1\",\n"
        "  \"author\": \"test\",\n"
        "  \"pinsets\": {},\n"
        "  \"policy-aliases\": {\"g\": {\"mode\": \"enforce\", \"mxs\": [\".mail.g.example\"],"
        " \"report\": []}},\n"
        "  \"policies\": {\n"
        "    \"Example.COM\": {\"mode\": \"testing\", \"mta-sts\": true,"
        " \"mxs\": [\"MX.example.com\", \".example.org\"]},\n"
        "    \"g.example\": {\"policy-alias\": \"g\", \"mode\": \"testing\"},\n"
        "    \"d.example\": {\"mxs\": [\"mx.d.example\"]}\n"
        "  }\n"
        "}\n";
    preload_list l;
    mtasts_err err = {{0}};
    int64_t ts = 1796083200, exp = 1797292800;      /* 2026-12-01, 2026-12-15 00:00Z */

    CHECK_INT(preload_parse(list, sizeof list - 1, PRELOAD_FORMAT_AUTO, &l, &err), MTASTS_OK,
              err.msg);
    CHECK_STR(l.meta.format, "eff", "auto-detected EFF");
    CHECK_STR(l.meta.version, "0.1", "version");
    CHECK_INT(l.meta.generated_at, ts, "timestamp (fraction dropped)");
    CHECK_INT(l.meta.expires_at, exp, "expires (zone applied)");
    CHECK_INT(l.n, 3, "three domains");
    if (l.n == 3) {
        CHECK_STR(l.domains[0], "example.com", "domain lower-cased");
        CHECK_INT(l.entries[0].policy.mode, MTASTS_MODE_TESTING, "testing");
        CHECK_STR(l.entries[0].policy.mx[0], "mx.example.com", "exact name");
        CHECK_STR(l.entries[0].policy.mx[1], ".example.org", "suffix kept as suffix");
        CHECK_INT(mtasts_mx_match_policy(&l.entries[0].policy, "a.b.example.org"), 1,
                  "suffix matches any depth");
        CHECK_INT(l.entries[0].expires_at, exp, "entry expiry: the list's");
        CHECK_INT(l.entries[0].policy.max_age, exp - ts, "max_age: the list's life");
        CHECK_STR(l.entries[0].id, "", "no id in an EFF list");
        CHECK_STR(l.domains[1], "g.example", "alias user");
        CHECK_INT(l.entries[1].policy.mode, MTASTS_MODE_ENFORCE,
                  "alias wins over the domain's own fields");
        CHECK_STR(l.entries[1].policy.mx[0], ".mail.g.example", "alias mxs");
        CHECK_INT(l.entries[2].policy.mode, MTASTS_MODE_TESTING, "mode defaults to testing");
    }
    preload_list_free(&l);
}

static void test_mtasts_round_trip(void)
{
    static const char list[] = MT_HEAD "\"domains\": {\"a.example\": " MT_ENTRY ", "
        "\"b.example\": {\"mode\": \"testing\", \"mx\": [\"*.mx.b.example\", \"mx.b.example\"],"
        " \"id\": \"X9\", \"max_age\": 31557600, \"taken\": \"2026-12-02T00:00:00Z\"}}}";
    preload_list l, again;
    mtasts_err err = {{0}};
    char *text = NULL;
    size_t size = 0;
    FILE *f;

    CHECK_INT(preload_parse(list, sizeof list - 1, PRELOAD_FORMAT_AUTO, &l, &err), MTASTS_OK,
              err.msg);
    CHECK_STR(l.meta.format, "mtasts", "auto-detected mtasts");
    CHECK_INT(l.n, 2, "two domains");
    if (l.n != 2) {
        preload_list_free(&l);
        return;
    }
    /* a: taken + max_age comes first; b: the list's expiry does. */
    CHECK_INT(l.entries[0].expires_at, 1796169600 + 604800, "a expires with its max_age");
    CHECK_INT(l.entries[1].expires_at, 1798761600, "b expires with the list");
    CHECK_STR(l.entries[1].id, "X9", "id");
    f = open_memstream(&text, &size);
    CHECK(f && preload_write_mtasts(f, &l), "written");
    if (f)
        fclose(f);
    CHECK_INT(preload_parse(text, size, PRELOAD_FORMAT_MTASTS, &again, &err), MTASTS_OK,
              err.msg);
    CHECK_INT(again.n, 2, "round trip: two domains");
    if (again.n == 2) {
        CHECK_STR(again.domains[1], "b.example", "domain");
        CHECK_STR(again.entries[1].policy.mx[0], "*.mx.b.example", "pattern");
        CHECK_INT(again.entries[1].policy.mode, MTASTS_MODE_TESTING, "mode");
        CHECK_INT(again.entries[0].expires_at, l.entries[0].expires_at, "expiry");
        CHECK_INT(again.meta.generated_at, l.meta.generated_at, "generated");
    }
    preload_list_free(&again);
    preload_list_free(&l);
    free(text);
}

static void test_times(void)
{
    static const struct { const char *s; int64_t want; } good[] = {
        {"1970-01-01T00:00:00Z", 0}, {"2026-12-01T00:00:00+01:00", 1796079600},
        {"2026-12-01T00:00:00-0130", 1796088600}, {"2026-12-01t00:00:00z", 1796083200},
        {"2026-12-01T00:00:00", 1796083200},
    };
    static const char *const badt[] = {
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-12-01 00:00:00Z",
        "2026-12-01T00:00:00.Z", "2026-12-01T00:00:00+1", "1969-12-31T23:59:59Z", "",
    };
    int64_t t;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(preload_parse_time(good[i].s, &t), "parsed: %s", good[i].s);
        CHECK_INT(t, good[i].want, good[i].s);
    }
    for (size_t i = 0; i < sizeof badt / sizeof badt[0]; i++)
        CHECK(!preload_parse_time(badt[i], &t), "refused: \"%s\"", badt[i]);
}

int main(void)
{
    test_bad();
    test_eff();
    test_mtasts_round_trip();
    test_times();
    return UNIT_DONE("preload_parse");
}
