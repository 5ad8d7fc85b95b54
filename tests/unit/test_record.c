/*
 * test_record.c - the store record's encoding: round trip, version refusal,
 * malformed input, reasons that could break the encoding.
 */
#include "record.h"
#include "unit.h"

#include <string.h>

int main(void)
{
    mtasts_record a, b;
    mtasts_err err = {{0}};
    char buf[MTASTS_RECORD_MAX + 1];
    size_t len = 0;
    const char *pol = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\n"
                      "max_age: 604800\n";

    mtasts_record_init(&a);
    CHECK_INT(mtasts_policy_parse(pol, strlen(pol), &a.policy, &err), MTASTS_OK, "policy");
    strcpy(a.id, "20261125T01");
    a.source = MTASTS_SOURCE_FETCHED;
    a.fetched_at = 1764000000; a.expires_at = 1764604800;
    a.txt_checked_at = 1764000100; a.next_check_at = 1764003700; a.last_used = 1764000200;
    strcpy(a.dane, "all");
    a.failures = 3; a.backoff_until = 1764000900; strcpy(a.backoff_id, "newid");
    mtasts_record_set_error(&a, "HTTP 404\nnext line\tand tab   ");
    CHECK_STR(a.last_error, "HTTP 404?next line?and tab", "reason: controls replaced, trimmed");

    CHECK_INT(mtasts_record_encode(&a, buf, sizeof buf, &len, &err), MTASTS_OK, "encode");
    CHECK_INT(mtasts_record_decode(buf, len, &b, &err), MTASTS_OK, "decode");
    CHECK_STR(b.id, a.id, "round trip: id");
    CHECK_INT(b.policy.mode, MTASTS_MODE_ENFORCE, "round trip: mode");
    CHECK_INT(b.policy.max_age, 604800, "round trip: max_age");
    CHECK_INT(b.policy.n_mx, 2, "round trip: mx count");
    CHECK_STR(b.policy.mx[1], "*.example.net", "round trip: wildcard mx");
    CHECK_INT(b.fetched_at, a.fetched_at, "round trip: fetched_at");
    CHECK_INT(b.expires_at, a.expires_at, "round trip: expires_at");
    CHECK_INT(b.next_check_at, a.next_check_at, "round trip: next_check_at");
    CHECK_INT(b.failures, 3, "round trip: failures");
    CHECK_STR(b.backoff_id, "newid", "round trip: backoff_id");
    CHECK_STR(b.last_error, a.last_error, "round trip: last_error");
    CHECK_INT(b.source, MTASTS_SOURCE_FETCHED, "round trip: source");
    CHECK_STR(b.dane, "all", "round trip: dane");
    CHECK(len < 160, "a two-pattern record encodes in under 160 bytes (%zu)", len);
    mtasts_record_free(&b);

    /* Failure state only, no policy. */
    mtasts_record_free(&a);
    a.id[0] = '\0';
    CHECK_INT(mtasts_record_encode(&a, buf, sizeof buf, &len, &err), MTASTS_OK, "encode, no policy");
    CHECK_INT(mtasts_record_decode(buf, len, &b, &err), MTASTS_OK, "decode, no policy");
    CHECK_STR(b.id, "", "no policy: id empty");
    CHECK(!mtasts_record_usable(&b, 0), "no policy: not usable");
    mtasts_record_free(&b);

    /* Another format version is refused, never misread. */
    mtasts_record_init(&a);
    strcpy(a.id, "x1");
    CHECK_INT(mtasts_policy_parse(pol, strlen(pol), &a.policy, &err), MTASTS_OK, "policy again");
    CHECK_INT(mtasts_record_encode(&a, buf, sizeof buf, &len, &err), MTASTS_OK, "encode again");
    buf[1] = 1;   /* the text format of version 1 */
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_record_decode(buf, len, &b, &err), MTASTS_INVALID, "version 1 refused");
    CHECK(strstr(err.msg, "version 1 unknown") != NULL, "version refusal says why: %s", err.msg);
    buf[1] = MTASTS_RECORD_VERSION;
    /* Every truncation is refused, and so is trailing garbage. */
    int truncated_ok = 0;
    for (size_t cut = 0; cut < len; cut++)
        truncated_ok += mtasts_record_decode(buf, cut, &b, &err) == MTASTS_OK;
    CHECK_INT(truncated_ok, 0, "no truncation of a record decodes");
    buf[len] = 'x';
    CHECK_INT(mtasts_record_decode(buf, len + 1, &b, &err), MTASTS_INVALID, "trailing byte");
    /* Values out of range are refused. */
    buf[2] = 7;
    CHECK_INT(mtasts_record_decode(buf, len, &b, &err), MTASTS_INVALID, "mode out of range");
    buf[2] = MTASTS_MODE_ENFORCE;
    CHECK_INT(mtasts_record_decode(buf, len, &b, &err), MTASTS_OK, "restored decodes");
    mtasts_record_free(&b);
    /* An mx pattern that the policy parser would refuse is refused. */
    char *star = memchr(buf, '*', len);
    CHECK(star != NULL, "wildcard pattern present");
    if (star) {
        star[1] = '*';
        mtasts_err_clear(&err);
        CHECK_INT(mtasts_record_decode(buf, len, &b, &err), MTASTS_INVALID, "bad mx pattern");
        CHECK(strstr(err.msg, "bad policy part") != NULL, "bad mx: %s", err.msg);
    }
    mtasts_record_free(&a);
    CHECK_INT(mtasts_record_decode("garbage", 7, &b, &err), MTASTS_INVALID, "garbage");
    CHECK_INT(mtasts_record_decode("", 0, &b, &err), MTASTS_INVALID, "empty");
    /* A buffer too small is an error, not a truncated record. */
    mtasts_record_init(&a);
    CHECK_INT(mtasts_record_encode(&a, buf, 20, &len, &err), MTASTS_INVALID, "small buffer");
    return UNIT_DONE("record");
}
