/*
 * fuzz_tlsrpt_classify.c - libFuzzer target for the TLSRPT failure
 * classifier (tlsrpt_classify.h), whose input is Exim's text about a
 * failed TLS session (it quotes the remote server) and the server
 * certificate's DNS names. Input: "<names>\n<host>\n<text>". Invariant:
 * the answer is always one of RFC 8460's result types.
 */
#include "tlsrpt_classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char *const types[] = {
        "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
        "certificate-not-trusted", "validation-failure", "dnssec-invalid" };
    char *buf = malloc(size + 1), *host, *text;
    mtasts_tlsrpt_cert cert = { .seen = true, .not_after = 1000 };
    const char *got;
    bool known = false;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    host = strchr(buf, '\n');
    host = host ? (*host = '\0', host + 1) : buf + size;
    text = strchr(host, '\n');
    text = text ? (*text = '\0', text + 1) : host + strlen(host);
    snprintf(cert.names, sizeof cert.names, "%s", buf);
    for (int round = 0; round < 2; round++) {
        got = mtasts_tlsrpt_classify(text, round ? &cert : NULL, host, 2000);
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            known |= !strcmp(got, types[i]);
        CHECK_OR_TRAP(known);
    }
    (void)mtasts_tlsrpt_names_cover(buf, host);
    free(buf);
    return 0;
}
