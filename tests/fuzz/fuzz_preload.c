/*
 * fuzz_preload.c - libFuzzer target for the preload list: both list
 * formats (lookup/cli/preload_parse.c) and the store's entry decoder
 * (lookup/core/preload_store.c). The first byte picks the parser (0: EFF,
 * 1: mtasts, 2: auto, 3: stored entry); the rest is its input. Invariants
 * (any violation is a __builtin_trap()): a parsed list has unique,
 * well-formed domains and entries that encode and decode to the same
 * entry; a list written in the mtasts format parses again to as many
 * entries; a decoded entry re-encodes to the input it came from.
 */
#include "mx_match.h"
#include "preload_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)

static char buf[MTASTS_PRELOAD_ENTRY_MAX];

static void entry_round_trip(const mtasts_preload_entry *e)
{
    mtasts_preload_entry d;
    size_t len;

    CHECK_OR_TRAP(mtasts_preload_entry_encode(e, buf, sizeof buf, &len, NULL) == MTASTS_OK);
    CHECK_OR_TRAP(mtasts_preload_entry_decode(buf, len, &d, NULL) == MTASTS_OK);
    CHECK_OR_TRAP(d.policy.mode == e->policy.mode && d.policy.n_mx == e->policy.n_mx
                  && d.expires_at == e->expires_at && !strcmp(d.id, e->id));
    for (size_t i = 0; i < d.policy.n_mx; i++)
        CHECK_OR_TRAP(!strcmp(d.policy.mx[i], e->policy.mx[i]));
    CHECK_OR_TRAP(mtasts_mx_exim_regexes_size(&d.policy) > 0);
    mtasts_preload_entry_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    preload_list l, again;
    char *text = NULL;
    size_t tsize = 0;
    FILE *f;

    if (size < 1)
        return 0;
    if (data[0] % 4 == 3) {
        mtasts_preload_entry e;
        size_t len;

        if (mtasts_preload_entry_decode(data + 1, size - 1, &e, NULL) == MTASTS_OK) {
            CHECK_OR_TRAP(mtasts_preload_entry_encode(&e, buf, sizeof buf, &len, NULL)
                          == MTASTS_OK);
            entry_round_trip(&e);
            mtasts_preload_entry_free(&e);
        }
        return 0;
    }
    if (preload_parse((const char *)data + 1, size - 1, (preload_format)(data[0] % 4 == 0
                      ? PRELOAD_FORMAT_EFF : data[0] % 4 == 1 ? PRELOAD_FORMAT_MTASTS
                      : PRELOAD_FORMAT_AUTO), &l, NULL) != MTASTS_OK) {
        CHECK_OR_TRAP(l.n == 0 && !l.domains);
        return 0;
    }
    CHECK_OR_TRAP(l.meta.expires_at > l.meta.generated_at);
    for (size_t i = 0; i < l.n; i++) {
        CHECK_OR_TRAP(l.domains[i][0] && strlen(l.domains[i]) <= MTASTS_DOMAIN_MAX);
        for (size_t j = 0; j < i; j++)
            CHECK_OR_TRAP(strcmp(l.domains[i], l.domains[j]) != 0);
        CHECK_OR_TRAP(l.entries[i].expires_at <= l.meta.expires_at);
        entry_round_trip(&l.entries[i]);
    }
    /* mtasts-format lists survive writing (EFF ".suffix" patterns are not
     * RFC 8461 patterns, so EFF lists are not rewritten in that format). */
    if (!strcmp(l.meta.format, "mtasts") && (f = open_memstream(&text, &tsize))) {
        CHECK_OR_TRAP(preload_write_mtasts(f, &l));
        fclose(f);
        CHECK_OR_TRAP(preload_parse(text, tsize, PRELOAD_FORMAT_MTASTS, &again, NULL)
                      == MTASTS_OK);
        CHECK_OR_TRAP(again.n == l.n);
        preload_list_free(&again);
        free(text);
    }
    preload_list_free(&l);
    return 0;
}
