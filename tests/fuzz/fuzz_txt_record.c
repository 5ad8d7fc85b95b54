/*
 * fuzz_txt_record.c - libFuzzer target for the "_mta-sts" TXT record
 * (RFC 8461 section 3.1). The input is used three ways: as one record, as
 * wire RDATA to join, and split at LF into an RRset. Invariants are
 * checked with __builtin_trap().
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilookup/core \
 *     tests/fuzz/fuzz_txt_record.c lookup/core/txt_record.c \
 *     lookup/core/common.c -o /tmp/fuzz_txt_record
 */
#include "txt_record.h"

#include <stdio.h>
#include <string.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)
#define RRSET_MAX 8

/* check_result - invariants of any parse or select outcome. */
static void check_result(mtasts_status st, const char *id,
                         const mtasts_err *err)
{
    size_t i, n = strlen(id);

    CHECK_OR_TRAP(st == MTASTS_OK || st == MTASTS_NOT_FOUND
                  || st == MTASTS_INVALID);
    CHECK_OR_TRAP(strlen(err->msg) < sizeof err->msg);
    if (st != MTASTS_OK) {
        CHECK_OR_TRAP(n == 0);
        /* Discarding a record is not an error; INVALID always says why. */
        CHECK_OR_TRAP((st == MTASTS_INVALID) == (err->msg[0] != '\0'));
        return;
    }
    CHECK_OR_TRAP(err->msg[0] == '\0');
    CHECK_OR_TRAP(n >= 1 && n <= MTASTS_ID_MAX);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];

        CHECK_OR_TRAP((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                      || (c >= 'A' && c <= 'Z'));
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char id[MTASTS_ID_MAX + 1], id2[MTASTS_ID_MAX + 1];
    char joined[MTASTS_TXT_MAX + 1], canon[64];
    const char *recs[RRSET_MAX];
    size_t lens[RRSET_MAX], n = 0, i, start = 0, jlen = 0;
    mtasts_err err = {""};
    mtasts_status st;

    /* 1. One record. A valid one re-parses from its canonical form. */
    st = mtasts_txt_parse((const char *)data, size, id, &err);
    check_result(st, id, &err);
    if (st == MTASTS_OK) {
        int cn = snprintf(canon, sizeof canon, "v=STSv1; id=%s", id);

        err.msg[0] = '\0';
        CHECK_OR_TRAP(mtasts_txt_parse(canon, (size_t)cn, id2, &err)
                      == MTASTS_OK);
        CHECK_OR_TRAP(strcmp(id, id2) == 0);
        /* A single valid record is selected as is. */
        recs[0] = (const char *)data;
        lens[0] = size;
        CHECK_OR_TRAP(mtasts_txt_select(recs, lens, 1, id2, &err)
                      == MTASTS_OK && strcmp(id, id2) == 0);
    }

    /* 2. Wire RDATA: join, then parse the result. */
    err.msg[0] = '\0';
    st = mtasts_txt_join(data, size, joined, sizeof joined, &jlen, &err);
    CHECK_OR_TRAP(st == MTASTS_OK || st == MTASTS_INVALID);
    CHECK_OR_TRAP(jlen <= MTASTS_TXT_MAX && jlen < size + 1);
    CHECK_OR_TRAP(joined[jlen] == '\0');
    if (st == MTASTS_OK) {
        err.msg[0] = '\0';
        st = mtasts_txt_parse(joined, jlen, id, &err);
        check_result(st, id, &err);
    }

    /* 3. An RRset: records separated by LF. */
    for (i = 0; i <= size && n < RRSET_MAX; i++)
        if (i == size || data[i] == '\n') {
            recs[n] = (const char *)data + start;
            lens[n++] = i - start;
            start = i + 1;
        }
    err.msg[0] = '\0';
    st = mtasts_txt_select(recs, lens, n, id, &err);
    check_result(st, id, &err);
    return 0;
}
