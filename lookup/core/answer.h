/*
 * answer.h - the whole lookup, as both Exim adapters perform it.
 *
 * .nf
 * SYNOPSIS
 *     mtasts_status mtasts_answer(const char *query, const char *opts,
 *                                 const mtasts_hooks *hooks,
 *                                 char *out, size_t outsize, unsigned *ttl,
 *                                 mtasts_err *err);
 * DESCRIPTION
 *     query is a recipient domain (as in $domain). The answer comes from
 *     the shared store when it can (no network); otherwise the helper
 *     ("<helper> resolve") does DNS and HTTPS, updates the store and hands
 *     back the record, waited for at most the "timeout" option. While
 *     another process fetches the same domain (its lease is live), the
 *     caller waits up to "wait" seconds for that result instead.
 *
 *     Returns MTASTS_OK with the result text in out (see
 *     mtasts_answer_format) and *ttl the seconds the caller may cache it;
 *     MTASTS_NOT_FOUND when no policy applies (err says why: none
 *     advertised, fetch failed, not a domain, ...); MTASTS_INVALID for bad
 *     options (a configuration error: the adapters DEFER). Network trouble
 *     is never an error here: RFC 8461 makes it "no policy", and a cached
 *     policy stays in force whatever fails.
 *
 *     Per process, the configuration file is read once and the store is
 *     opened once (reopened after fork). hooks is copied into process
 *     state on each call (the store reports through it during later
 *     calls); hooks->ctx must be valid for the duration of each call.
 * .fi
 */
#ifndef MTASTS_ANSWER_H
#define MTASTS_ANSWER_H

#include "common.h"

/* No record.h here: the dlfunc adapter exports a function named
 * mtasts_policy, which is also the core's policy type. */
struct mtasts_record;

/* Level of a message for the adapter's log. */
typedef enum mtasts_log_level {
    MTASTS_LOG_DEBUG = 0,   /* Exim: debug_printf under -d+lookup */
    MTASTS_LOG_MAIN = 1,    /* Exim: main log */
    MTASTS_LOG_PANIC = 2,   /* Exim: panic log (configuration trouble) */
} mtasts_log_level;

typedef struct mtasts_hooks {
    void (*log)(void *ctx, mtasts_log_level level, const char *msg);
    void *ctx;
    bool debug;     /* MTASTS_LOG_DEBUG messages wanted (not even formatted
                       otherwise: the hot path stays cheap) */
} mtasts_hooks;

/* Longest result text: the mx and mx_regex lists of a full policy
 * (MTASTS_POLICY_MX_MAX = 255 patterns of up to 253 characters: 65280
 * bytes, and their regexes, up to 510 bytes each: 130050). */
#define MTASTS_ANSWER_MAX 196608

mtasts_status mtasts_answer(const char *query, const char *opts, const mtasts_hooks *hooks,
                            char *out, size_t outsize, unsigned *ttl, mtasts_err *err);

/* The process's settings (defaults, configuration file, opts) and store
 * (*s NULL when it cannot be opened: already logged once) for the other
 * entry points of the adapters (tlsrpt_event.h). hooks as for
 * mtasts_answer. MTASTS_INVALID for bad options. */
struct mtasts_options;
struct mtasts_store;
mtasts_status mtasts_answer_context(const char *opts, const mtasts_hooks *hooks,
                                    struct mtasts_options *o, struct mtasts_store **s,
                                    mtasts_err *err);

/* While another process holds domain's lease (it is fetching), wait up to
 * wait_s seconds for its result. r receives the stored record once the
 * lease is released or a TXT check newer than the wait is stored; returns
 * true when that record is the fresh result, false when the holder let go
 * without one (it died) or the time ran out. */
struct mtasts_store;
bool mtasts_wait_for_fetch(struct mtasts_store *s, const char *domain, unsigned wait_s,
                           struct mtasts_record *r);

/* The result text for a record holding a policy:
 *   mode=enforce max_age=604800 id=20190429T010101 source=fetched
 *   expires=1764604800 dane=none mx="mx1.example.com : *.example.net"
 *   mx_regex="^mx1[.]example[.]com$ : ^[^.]+[.]example[.]net$"
 * Values hold no quote or backslash, so ${extract{mx}{...}} returns them as
 * they are. */
mtasts_status mtasts_answer_format(const struct mtasts_record *r, char *out, size_t outsize,
                                   mtasts_err *err);

#endif
