/*
 * common.h - types and limits shared by every part of the exim-mtasts core.
 *
 * The core library (lookup/core) includes no Exim header: the Exim adapters
 * (lookup/exim-lookup, lookup/exim-dlfunc) and the CLI (lookup/cli) translate.
 * Functions never print; they return a status and, where useful, write one
 * line into a caller-supplied error buffer (first error wins, cf. Curl_failf).
 */
#ifndef MTASTS_COMMON_H
#define MTASTS_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Symbols of the core are hidden in the shared objects; only the adapters'
 * entry points are exported (see Makefile: -fvisibility=hidden). */
#define MTASTS_API __attribute__((visibility("default")))

/* Outcome of any operation that talks to the outside world. Three outcomes
 * are kept all the way up (found / authoritative absence / temporary
 * trouble) so a transient error never becomes a silent "no policy". */
typedef enum mtasts_status {
    MTASTS_OK = 0,          /* found / done */
    MTASTS_NOT_FOUND = 1,   /* authoritative absence: no policy advertised */
    MTASTS_TEMPFAIL = 2,    /* temporary: SERVFAIL, timeout, store busy */
    MTASTS_INVALID = 3,     /* input violates the RFC (bad TXT, bad policy) */
    MTASTS_FETCH_FAILED = 4,/* HTTPS policy fetch failed (any reason) */
    MTASTS_SYSERR = 5,      /* out of memory, library failure */
} mtasts_status;

const char *mtasts_status_name(mtasts_status st);

/* RFC 8461 section 5: policy modes. */
typedef enum mtasts_mode {
    MTASTS_MODE_NONE = 0,
    MTASTS_MODE_TESTING = 1,
    MTASTS_MODE_ENFORCE = 2,
} mtasts_mode;

const char *mtasts_mode_name(mtasts_mode mode);

/* Limits, each with its reason. */
/* RFC 8461 3.1: id is 1*32(ALPHA / DIGIT). */
#define MTASTS_ID_MAX 32
/* RFC 1035: a domain name is at most 253 characters in text form. */
#define MTASTS_DOMAIN_MAX 253
/* RFC 8461 3.3: senders may limit the policy body; 64 KiB is the RFC's
 * suggested ceiling. */
#define MTASTS_POLICY_MAX_BYTES 65536
/* RFC 8461 3.2 (and erratum 7282): max_age is at most 31557600 s (one
 * year); larger values are capped, and up to 10 digits are accepted. */
#define MTASTS_MAX_AGE_CAP 31557600u
/* RFC 8461 3.3: do not refetch a failed policy id more often than this. */
#define MTASTS_FETCH_BACKOFF_MIN 300

/* One-line error buffer: first error wins. */
typedef struct mtasts_err {
    char msg[256];
} mtasts_err;

/* Set err's message unless one is already set (err may be NULL). The
 * message is escaped with mtasts_escape(): reasons carry remote text (TXT
 * records, HTTP headers, policy lines) to Exim's logs, so every one is made
 * safe here, at the one place they are all written. */
void mtasts_errf(mtasts_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copy s into buf (size >= 4) for a log line: printable ASCII and space
 * stay, every other byte (controls, DEL, 8-bit) becomes "\xHH". Text that
 * does not fit is cut at a whole character and ends in "...". Escaped text
 * escapes to itself. Returns buf. */
char *mtasts_escape(const char *s, char *buf, size_t size);
void mtasts_err_clear(mtasts_err *err);

/* Copy src into dst of size bytes, truncating; returns strlen(src). */
size_t mtasts_strlcpy(char *dst, const char *src, size_t size);

#endif
