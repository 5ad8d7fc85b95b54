/*
 * bench_common.h - shared by the benchmark programs (make bench only).
 *
 * Synthetic domains: domain i is "<8 hex of a hash of i>-<i>.example"
 * (e.g. "9e3779b1-1.example", 18-25 bytes), so key order in the B-tree is
 * unrelated to the order of insertion, as in a store filled by lookups.
 * Its record is what a fetched policy with two mx patterns looks like in
 * the store: mtasts_record_encode() of mode enforce, "mx<n>.<domain>" and
 * "*.mx.<domain>", an id, times, dane=none.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include "record.h"
#include "policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint32_t bench_mix32(uint32_t x)
{
    x ^= x >> 16; x *= 0x7feb352dU;
    x ^= x >> 15; x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline void bench_domain(char *buf, size_t size, unsigned i)
{
    snprintf(buf, size, "%08x-%u.example", bench_mix32(i + 0x9e3779b1U), i);
}

/* bench_record - the record of synthetic domain i, usable from now on for
 * a day (next TXT check in recheck seconds) */
static inline void bench_record(mtasts_record *r, unsigned i, int64_t now, unsigned recheck)
{
    char d[64], body[512];
    int n;
    mtasts_err err = {{0}};

    bench_domain(d, sizeof d, i);
    n = snprintf(body, sizeof body,
                 "version: STSv1\nmode: enforce\nmax_age: 604800\n"
                 "mx: mx%u.%s\nmx: *.mx.%s\n", i % 3 + 1, d, d);
    mtasts_record_init(r);
    if (mtasts_policy_parse(body, (size_t)n, &r->policy, &err) != MTASTS_OK) {
        fprintf(stderr, "bench: bad synthetic policy: %s\n", err.msg);
        exit(2);
    }
    snprintf(r->id, sizeof r->id, "20250101T%06u", i % 1000000);
    r->source = MTASTS_SOURCE_FETCHED;
    r->fetched_at = now - 60;
    r->expires_at = now - 60 + 604800;
    r->txt_checked_at = now - 60;
    r->next_check_at = now - 60 + recheck;
    r->last_used = now;
    mtasts_strlcpy(r->dane, "none", sizeof r->dane);
}

static inline double bench_now(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: the random key sequence (fixed seed: reproducible) */
static inline uint64_t bench_rand(uint64_t *s)
{
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#endif
