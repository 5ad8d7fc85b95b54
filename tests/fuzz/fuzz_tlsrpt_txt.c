/*
 * fuzz_tlsrpt_txt.c - libFuzzer target for the "_smtp._tls" TXT record
 * (RFC 8460 section 3): the input as one record, and split at LF into an
 * RRset. Invariants are checked with __builtin_trap().
 */
#include "tlsrpt_txt.h"

#include <string.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)
#define RRSET_MAX 8

static void check_result(mtasts_status st, const mtasts_tlsrpt_rua *r, const mtasts_err *err)
{
    CHECK_OR_TRAP(st == MTASTS_OK || st == MTASTS_NOT_FOUND || st == MTASTS_INVALID);
    CHECK_OR_TRAP((st == MTASTS_INVALID) == (err->msg[0] != '\0'));
    if (st != MTASTS_OK)
        return;
    CHECK_OR_TRAP(r->n >= 1 && r->n <= MTASTS_TLSRPT_RUA_MAX);
    for (size_t i = 0; i < r->n; i++) {
        const mtasts_tlsrpt_uri *u = &r->uri[i];

        CHECK_OR_TRAP(u->scheme == MTASTS_TLSRPT_MAILTO || u->scheme == MTASTS_TLSRPT_HTTPS);
        /* nothing that could end or fold a mail header or a command line */
        for (const char *p = u->uri; *p; p++)
            CHECK_OR_TRAP(*p > 0x20 && *p < 0x7f && *p != ',' && *p != ';');
        if (u->scheme == MTASTS_TLSRPT_MAILTO) {
            CHECK_OR_TRAP(strchr(u->addr, '@') != NULL);
            for (const char *p = u->addr; *p; p++)
                CHECK_OR_TRAP(*p > 0x20 && *p < 0x7f && *p != '<' && *p != '>' &&
                              *p != '"' && *p != '\\' && *p != ',');
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char buf[4096];
    const char *recs[RRSET_MAX];
    size_t lens[RRSET_MAX], n = 0, start = 0;
    mtasts_tlsrpt_rua r;
    mtasts_err err = {{0}};
    mtasts_status st;

    if (size >= sizeof buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    st = mtasts_tlsrpt_txt_parse(buf, size, &r, &err);
    check_result(st, &r, &err);

    for (size_t i = 0; i <= size && n < RRSET_MAX; i++)
        if (i == size || buf[i] == '\n') {
            recs[n] = buf + start;
            lens[n++] = i - start;
            start = i + 1;
        }
    mtasts_err_clear(&err);
    st = mtasts_tlsrpt_txt_select(recs, lens, n, &r, &err);
    check_result(st, &r, &err);
    return 0;
}
