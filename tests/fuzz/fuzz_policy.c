/*
 * fuzz_policy.c - libFuzzer target for the policy parser (RFC 8461
 * section 3.2) and what is built on it (section 4.1 matching, the Exim
 * host list). After a successful parse it checks the invariants and
 * round-trips: the policy, written back as text, parses to the same
 * policy; a copy is identical. Any violation is a __builtin_trap().
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilookup/core \
 *     tests/fuzz/fuzz_policy.c lookup/core/policy.c lookup/core/mx_match.c \
 *     lookup/core/common.c -o /tmp/fuzz_policy
 */
#include "mx_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_OR_TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Room for MTASTS_POLICY_MX_MAX patterns of 253 characters, rendered. */
#define TEXT_MAX (MTASTS_POLICY_MX_MAX * 280 + 128)

static bool same_policy(const mtasts_policy *a, const mtasts_policy *b)
{
    size_t i;

    if (a->mode != b->mode || a->max_age != b->max_age || a->n_mx != b->n_mx)
        return false;
    for (i = 0; i < a->n_mx; i++)
        if (strcmp(a->mx[i], b->mx[i]) != 0)
            return false;
    return true;
}

/* check_pattern - a stored pattern: lower-case LDH, no trailing dot, at
 * most 253 characters, "*" only as a whole left-most label. */
static void check_pattern(const mtasts_policy *p, size_t i)
{
    const char *pat = p->mx[i], *s = pat;
    char host[MTASTS_DOMAIN_MAX + 8];
    size_t n = strlen(pat);
    int idx;

    CHECK_OR_TRAP(n >= 1 && n <= MTASTS_DOMAIN_MAX);
    CHECK_OR_TRAP(pat[n - 1] != '.' && pat[0] != '.');
    if (s[0] == '*' && s[1] == '.')
        s += 2;
    CHECK_OR_TRAP(*s != '\0');
    for (; *s; s++)
        CHECK_OR_TRAP((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
                      || *s == '-' || (*s == '.' && s[1] != '.'));

    if (pat[0] != '*') {
        /* An exact pattern matches itself, in any case, with a dot. */
        CHECK_OR_TRAP(mtasts_mx_pattern_match(pat, pat));
        idx = mtasts_mx_match_policy(p, pat);
        CHECK_OR_TRAP(idx >= 0 && (size_t)idx <= i);
        snprintf(host, sizeof host, "%s.", pat);
        for (s = host; *s; s++)
            if (*s >= 'a' && *s <= 'z')
                host[s - host] = (char)(*s - 'a' + 'A');
        CHECK_OR_TRAP(mtasts_mx_match_policy(p, host) == idx);
    } else {
        /* A wildcard matches one label more, never its own suffix
         * (unless another pattern lists that). */
        CHECK_OR_TRAP(!mtasts_mx_pattern_match(pat + 2, pat));
        if (n < MTASTS_DOMAIN_MAX) {
            snprintf(host, sizeof host, "x%s", pat + 1);
            CHECK_OR_TRAP(mtasts_mx_pattern_match(host, pat));
            idx = mtasts_mx_match_policy(p, host);
            CHECK_OR_TRAP(idx >= 0 && (size_t)idx <= i);
        }
        if (n + 2 <= MTASTS_DOMAIN_MAX) {
            snprintf(host, sizeof host, "x.y%s", pat + 1);
            CHECK_OR_TRAP(!mtasts_mx_pattern_match(host, pat));
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char text[TEXT_MAX], list[TEXT_MAX];
    mtasts_policy p, q;
    mtasts_err err = {""};
    mtasts_status st;
    size_t i, o, need;

    st = mtasts_policy_parse((const char *)data, size, &p, &err);
    CHECK_OR_TRAP(st == MTASTS_OK || st == MTASTS_INVALID);
    if (st != MTASTS_OK) {
        CHECK_OR_TRAP(p.mx == NULL && p.n_mx == 0 && err.msg[0] != '\0');
        return 0;
    }

    /* Invariants of a parsed policy. */
    CHECK_OR_TRAP(err.msg[0] == '\0');
    CHECK_OR_TRAP(p.mode == MTASTS_MODE_NONE || p.mode == MTASTS_MODE_TESTING
                  || p.mode == MTASTS_MODE_ENFORCE);
    CHECK_OR_TRAP(p.max_age <= MTASTS_MAX_AGE_CAP);
    CHECK_OR_TRAP(p.n_mx <= MTASTS_POLICY_MX_MAX);
    CHECK_OR_TRAP(p.mode == MTASTS_MODE_NONE || p.n_mx >= 1);
    CHECK_OR_TRAP((p.n_mx == 0) == (p.mx == NULL));
    for (i = 0; i < p.n_mx; i++)
        check_pattern(&p, i);

    /* The Exim form is produced without error, at the announced size. */
    need = mtasts_mx_exim_regexes_size(&p);
    CHECK_OR_TRAP(need >= 1 && need <= sizeof list);
    CHECK_OR_TRAP(mtasts_mx_exim_regexes(&p, list, sizeof list) == MTASTS_OK);
    CHECK_OR_TRAP(strlen(list) + 1 == need);
    CHECK_OR_TRAP(mtasts_mx_exim_regexes(&p, list, need - 1)
                  == MTASTS_INVALID);
    mtasts_mx_exim_regexes(&p, list, need);
    for (i = 0; list[i]; i++)       /* ":" only in " : " separators */
        CHECK_OR_TRAP(list[i] != ':'
                      || (i > 0 && list[i - 1] == ' ' && list[i + 1] == ' '));

    /* Round trip through text. */
    o = (size_t)snprintf(text, sizeof text, "version: STSv1\nmode: %s\n"
                         "max_age: %u\n", mtasts_mode_name(p.mode),
                         (unsigned)p.max_age);
    for (i = 0; i < p.n_mx; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "mx: %s\n", p.mx[i]);
    CHECK_OR_TRAP(o < sizeof text);
    CHECK_OR_TRAP(mtasts_policy_parse(text, o, &q, &err) == MTASTS_OK);
    CHECK_OR_TRAP(same_policy(&p, &q));
    mtasts_policy_free(&q);

    /* Deep copy. */
    CHECK_OR_TRAP(mtasts_policy_copy(&q, &p, &err) == MTASTS_OK);
    CHECK_OR_TRAP(same_policy(&p, &q));
    CHECK_OR_TRAP(q.n_mx == 0 || q.mx != p.mx);
    mtasts_policy_free(&q);

    mtasts_policy_free(&p);
    mtasts_policy_free(&p);
    CHECK_OR_TRAP(p.mx == NULL && p.n_mx == 0);
    return 0;
}
