/*
 * fuzz_tlsrpt_event.c - libFuzzer target for the TLSRPT event text that
 * the transport's event_action hands to every Exim delivery process
 * (tlsrpt_event.h): "tlsrpt key=value ... data=<rest>", where a remote
 * server controls the EHLO and error text and the certificate names.
 * Input: event texts (without "tlsrpt "), separated by NUL bytes, run in
 * order into one store (a session spans several events). Invariants: no
 * crash or leak, and every log line is printable ASCII (remote text is
 * escaped).
 */
#include "options.h"
#include "store.h"
#include "tlsrpt_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)

static char opts[128], dir[] = "/tmp/mtasts-fuzz-event-XXXXXX";

/* the store goes with the process */
static void remove_store(void)
{
    char p[sizeof dir + 16];

    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static void check_log(void *ctx, mtasts_log_level level, const char *msg)
{
    (void)ctx;
    (void)level;
    for (const char *p = msg; *p; p++)
        CHECK_OR_TRAP((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    mtasts_store_config cfg = { .create = true };
    mtasts_store *s = NULL;
    mtasts_err err = {{0}};

    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    atexit(remove_store);
    cfg.path = dir;
    if (mtasts_store_open(&cfg, &s, &err) != MTASTS_OK)
        abort();
    mtasts_store_close(&s);
    snprintf(opts, sizeof opts, "store=%s tlsrpt_nosync=yes", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char prefix[] = MTASTS_TLSRPT_QUERY_PREFIX;
    mtasts_hooks hooks = { check_log, NULL, true };
    char *q = malloc(sizeof prefix + size);
    size_t at = 0;

    if (!q)
        return 0;
    while (at <= size) {
        const unsigned char *nul = memchr(data + at, 0, size - at);
        size_t n = nul ? (size_t)(nul - (data + at)) : size - at;

        memcpy(q, prefix, sizeof prefix - 1);
        memcpy(q + sizeof prefix - 1, data + at, n);
        q[sizeof prefix - 1 + n] = '\0';
        mtasts_tlsrpt_event(q, opts, &hooks);
        at += n + 1;
    }
    free(q);
    return 0;
}
