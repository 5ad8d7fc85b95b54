/*
 * fuzz_tlsrpt_read.c - libFuzzer target for "mtasts tlsrpt read": a
 * received TLSRPT report (RFC 8460 4), JSON or gzip. Invariants: an
 * accepted report prints a summary, a refused one says why and prints
 * nothing; the summary carries no control character but the newline.
 */
#include "report_read.h"

#include <stdlib.h>
#include <string.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[256], *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    bool ok;

    if (!out)
        return 0;
    ok = tlsrpt_read_report(data, size, out, err, sizeof err);
    fclose(out);
    CHECK_OR_TRAP(ok ? err[0] == '\0' && len > 0 : err[0] != '\0' && len == 0);
    for (size_t i = 0; i < len; i++)
        CHECK_OR_TRAP(buf[i] == '\n' || ((unsigned char)buf[i] >= 0x20 &&
                                         (unsigned char)buf[i] < 0x7f));
    free(buf);
    return 0;
}
