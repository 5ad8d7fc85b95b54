/*
 * test_policy_size.c - the largest policy the parser keeps
 * (MTASTS_POLICY_MX_MAX different patterns of 253 characters, as many dots
 * as possible) is stored (record.h) and answered (answer.h) whole.
 */
#include "answer.h"
#include "record.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    static char names[MTASTS_POLICY_MX_MAX][MTASTS_DOMAIN_MAX + 1], enc[MTASTS_RECORD_MAX],
        out[MTASTS_ANSWER_MAX];
    const char *mx[MTASTS_POLICY_MX_MAX];
    size_t lens[MTASTS_POLICY_MX_MAX], len = 0;
    mtasts_record r, back;
    mtasts_err err = {{0}};

    for (size_t i = 0; i < MTASTS_POLICY_MX_MAX; i++) {
        /* "*." + 124 one-letter labels + a 3-digit label: 253 characters,
         * each dot a "[.]" in the regex. */
        int n = snprintf(names[i], sizeof names[i], "*.");

        for (int l = 0; l < 124; l++)
            n += snprintf(names[i] + n, sizeof names[i] - (size_t)n, "a.");
        snprintf(names[i] + n, sizeof names[i] - (size_t)n, "%03zu", i);
        mx[i] = names[i];
        lens[i] = strlen(names[i]);
    }
    CHECK_INT(lens[0], MTASTS_DOMAIN_MAX, "pattern length");
    mtasts_record_init(&r);
    CHECK_INT(mtasts_policy_build(&r.policy, MTASTS_MODE_ENFORCE, 86400, mx, lens,
                                  MTASTS_POLICY_MX_MAX, &err), MTASTS_OK, err.msg);
    snprintf(r.id, sizeof r.id, "%s", "00000000000000000000000000000000");
    r.source = MTASTS_SOURCE_FETCHED;
    mtasts_record_set_error(&r, "");
    CHECK_INT(mtasts_record_encode(&r, enc, sizeof enc, &len, &err), MTASTS_OK,
              "the largest policy fits a stored record");
    CHECK_INT(mtasts_record_decode(enc, len, &back, &err), MTASTS_OK, "and decodes");
    CHECK_INT(back.policy.n_mx, MTASTS_POLICY_MX_MAX, "all patterns back");
    CHECK_INT(mtasts_answer_format(&r, out, sizeof out, &err), MTASTS_OK,
              "the largest policy fits an answer");
    CHECK(strlen(out) > 190000, "answer of %zu bytes", strlen(out));
    mtasts_record_free(&back);
    mtasts_record_free(&r);
    return UNIT_DONE("policy_size");
}
