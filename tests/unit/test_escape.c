/*
 * test_escape.c - remote text reaches the logs escaped: mtasts_escape()
 * and every reason written by mtasts_errf() (issue 10 item 8).
 */
#include "common.h"
#include "unit.h"

static const struct {
    const char *in, *want;
} cases[] = {
    { "text/plain", "text/plain" },
    { "", "" },
    { "a\rb\nc", "a\\x0db\\x0ac" },
    { "\x1b[2J", "\\x1b[2J" },
    { "caf\xc3\xa9 \xff\x80", "caf\\xc3\\xa9 \\xff\\x80" },
    { "tab\there\x7f", "tab\\x09here\\x7f" },
    /* Escaped text stays as it is: a reason quoting a reason is not
     * escaped twice. */
    { "a\\x0db", "a\\x0db" },
};

int main(void)
{
    char buf[32], small[8], big[600];
    mtasts_err err = {{0}};
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(mtasts_escape(cases[i].in, buf, sizeof buf) == buf, "returns buf");
        CHECK_STR(buf, cases[i].want, cases[i].want);
    }
    /* Cut at a whole character, "..." added, the size kept. */
    CHECK_STR(mtasts_escape("abcdefgh", small, sizeof small), "abcd...", "cut");
    CHECK_STR(mtasts_escape("abcdefg", small, sizeof small), "abcdefg", "fits exactly");
    CHECK_STR(mtasts_escape("ab\x1b" "cdef", small, sizeof small), "ab...", "no half escape");
    CHECK_STR(mtasts_escape("abc\x1b", small, sizeof small), "abc\\x1b", "an escape fits exactly");
    CHECK_STR(mtasts_escape("abcd\x1b", small, sizeof small), "abcd...", "last escape too long");
    CHECK_STR(mtasts_escape("\x01", small, sizeof small), "\\x01", "one escape");

    /* Every reason: a Content-Type with CR, LF, ESC and 8-bit bytes. */
    mtasts_errf(&err, "mta-sts.x.test: content-type %s",
                "text/\x1b[2Jhtml\r\nX-Injected: 1\xc3\xa9\xff");
    CHECK_STR(err.msg, "mta-sts.x.test: content-type text/\\x1b[2Jhtml\\x0d\\x0a"
              "X-Injected: 1\\xc3\\xa9\\xff", "escaped reason");
    /* Long remote text is capped: the reason fits its buffer, whole. */
    memset(big, '\xff', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mtasts_err_clear(&err);
    mtasts_errf(&err, "policy line \"%s\"", big);
    CHECK(strlen(err.msg) < sizeof err.msg && strlen(err.msg) > sizeof err.msg - 8,
          "capped: %zu bytes", strlen(err.msg));
    CHECK(strcmp(err.msg + strlen(err.msg) - 3, "...") == 0, "ends in ...: %s", err.msg);
    for (i = 0; err.msg[i]; i++)
        if ((unsigned char)err.msg[i] < 0x20 || (unsigned char)err.msg[i] >= 0x7f)
            break;
    CHECK(err.msg[i] == '\0', "only printable ASCII (byte %zu)", i);
    return UNIT_DONE("escape");
}
