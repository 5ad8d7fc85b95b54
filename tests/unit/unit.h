/*
 * unit.h - a minimal table-test harness: CHECK reports "got ..., want ..."
 * lines for failures and UNIT_DONE prints "<suite>: N passed, N failed".
 */
#ifndef MTASTS_UNIT_H
#define MTASTS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            unit_passed++;                                                 \
        } else {                                                           \
            unit_failed++;                                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

#define CHECK_STR(got, want, what)                                         \
    do {                                                                   \
        const char *g_ = (got), *w_ = (want);                              \
        CHECK(g_ && w_ && strcmp(g_, w_) == 0, "%s: got \"%s\", want \"%s\"", \
              (what), g_ ? g_ : "(null)", w_ ? w_ : "(null)");             \
    } while (0)

#define CHECK_INT(got, want, what)                                         \
    do {                                                                   \
        long long g_ = (long long)(got), w_ = (long long)(want);           \
        CHECK(g_ == w_, "%s: got %lld, want %lld", (what), g_, w_);        \
    } while (0)

#define UNIT_DONE(suite)                                                   \
    (printf("%s: %d passed, %d failed\n", (suite), unit_passed, unit_failed), \
     unit_failed ? 1 : 0)

#endif
