/*
 * preload_parse.h - the two preload list formats (CLI side: jansson).
 *
 * .nf
 * SYNOPSIS
 *     mtasts_status preload_parse(const char *buf, size_t len, preload_format f,
 *                                 preload_list *out, mtasts_err *err);
 *     void preload_list_free(preload_list *l);
 *     bool preload_write_mtasts(FILE *f, const preload_list *l);
 * DESCRIPTION
 *     Pure parsers (no I/O): the STARTTLS-Everywhere policy list (EFF) and
 *     this project's format (docs/preload-format.md). Strict: a syntax error
 *     names its line and column, a bad field its path
 *     ("policies.example.com.mxs[1]: ..."). On MTASTS_OK *out owns memory
 *     that preload_list_free() releases; on any other status it is empty.
 *     MTASTS_INVALID (err says why) or MTASTS_SYSERR.
 *
 *     Translation (see docs/preload-format.md):
 *     - EFF "mxs": "mail.example.com" is an exact name; ".example.net" is the
 *       list's suffix kind, any depth below example.net (RULES.md), kept as
 *       that kind (policy.h, mx_match.h), never narrowed to "*.example.net".
 *     - EFF "mode": "testing" (deliver, report failures) and "enforce" map
 *       to the MTA-STS modes of the same names; policy-alias is resolved.
 *     - Entry expiry: EFF: the list's "expires"; mtasts: the earlier of the
 *       list's "expires" and the snapshot's "taken" + "max_age" (the domain
 *       never promised its policy for longer).
 * .fi
 */
#ifndef MTASTS_PRELOAD_PARSE_H
#define MTASTS_PRELOAD_PARSE_H

#include "preload.h"

#include <stdio.h>

/* The mtasts format's "format" value and the only "version" it has. */
#define PRELOAD_FORMAT_NAME "mtasts-preload"
#define PRELOAD_FORMAT_VERSION 1
/* A list is read whole into memory: bound it. */
#define PRELOAD_LIST_MAX_BYTES (64u << 20)

typedef enum preload_format {
    PRELOAD_FORMAT_AUTO = 0,   /* "policies" at the top: EFF; "format": mtasts */
    PRELOAD_FORMAT_EFF,
    PRELOAD_FORMAT_MTASTS,
} preload_format;

typedef struct preload_list {
    mtasts_preload_meta meta;  /* format, version, generated_at, expires_at */
    size_t n;
    char **domains;            /* lower case, no trailing dot, unique */
    mtasts_preload_entry *entries;
} preload_list;

mtasts_status preload_parse(const char *buf, size_t len, preload_format f,
                            preload_list *out, mtasts_err *err);
void preload_list_free(preload_list *l);

/* Append a copy of domain -> e (the list takes its own copy of e's policy). */
mtasts_status preload_list_add(preload_list *l, const char *domain,
                               const mtasts_preload_entry *e, mtasts_err *err);

/* Write l in this project's format (times as RFC 3339 UTC). false on a
 * write error. */
bool preload_write_mtasts(FILE *f, const preload_list *l);

/* "2026-12-03T10:00:00Z" <-> Unix seconds. The parser also takes a
 * fraction of a second and "+hh:mm"/"+hhmm"/"Z" zones (EFF timestamps). */
bool preload_parse_time(const char *s, int64_t *out);
void preload_format_time(int64_t t, char buf[32]);

#endif
