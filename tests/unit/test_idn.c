/*
 * test_idn.c - U-labels to A-labels (idn.h): ASCII passes untouched, UTF-8
 * is converted with libidn2 (IDNA2008, UTS #46 non-transitional), and what
 * cannot be converted is refused with an escaped reason.
 */
#include "idn.h"
#include "unit.h"

static void conv(const char *in, mtasts_status want_st, const char *want_out, const char *why)
{
    char out[MTASTS_DOMAIN_MAX + 2];
    mtasts_err err = {{0}};
    mtasts_status st = mtasts_idn_to_ascii(in, out, sizeof out, &err);

    CHECK(st == want_st, "%s: status %s, want %s (%s)", why, mtasts_status_name(st),
          mtasts_status_name(want_st), err.msg);
    if (st == MTASTS_OK && want_out)
        CHECK_STR(out, want_out, why);
    if (st != MTASTS_OK)
        CHECK(err.msg[0] != '\0', "%s: a reason", why);
}

int main(void)
{
    char big[1200];
    mtasts_err err = {{0}};
    char out[MTASTS_DOMAIN_MAX + 2];

    conv("Example.COM.", MTASTS_OK, "Example.COM.", "ASCII copied as given");
    conv("[127.0.0.1]", MTASTS_OK, "[127.0.0.1]", "ASCII non-domain left to the caller");
    conv("b\xc3\xbc" "cher.test", MTASTS_OK, "xn--bcher-kva.test", "U-label to A-label");
    conv("B\xc3\x9c" "CHER.Test.", MTASTS_OK, "xn--bcher-kva.test",
         "capitals mapped, trailing dot dropped (UTS #46)");
    conv("mx.b\xc3\xbc" "cher.test", MTASTS_OK, "mx.xn--bcher-kva.test", "mixed labels");
    conv("\xe4\xbe\x8b\xe3\x81\x88.test", MTASTS_OK, "xn--r8jz45g.test", "CJK label");
    conv("fa\xc3\x9f.de", MTASTS_OK, "xn--fa-hia.de", "sharp s non-transitional (IDNA2008)");
    conv("b\xff" "cher.test", MTASTS_INVALID, NULL, "invalid UTF-8 refused");
    conv("\xe2\x98\x83\xe2\x80\x8d.test", MTASTS_INVALID, NULL, "ZWJ without context refused");

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    conv(big, MTASTS_NOT_FOUND, NULL, "ASCII too long");
    big[0] = '\xc3';
    big[1] = '\xbc';
    conv(big, MTASTS_INVALID, NULL, "UTF-8 too long");

    /* The reason names the input escaped: it comes from mail, goes to logs. */
    mtasts_idn_to_ascii("b\xff\n.test", out, sizeof out, &err);
    CHECK(strstr(err.msg, "b\\xff\\x0a.test") != NULL, "escaped in the reason: %s", err.msg);
    return UNIT_DONE("idn");
}
