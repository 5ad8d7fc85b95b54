/*
 * tlsrpt_classify.h - Exim's TLS failure texts as RFC 8460 (4.3) result types.
 *
 * .nf
 * SYNOPSIS
 *     const char *mtasts_tlsrpt_classify(const char *text,
 *                                        const mtasts_tlsrpt_cert *cert,
 *                                        const char *host, int64_t now);
 * DESCRIPTION
 *     Pure; no I/O. text is Exim's reason for a failed TLS session
 *     ($event_data of msg:host:defer). Neither OpenSSL's nor GnuTLS's text
 *     in Exim says why a certificate failed ("certificate verify failed",
 *     "certificate invalid"), so the recorder also keeps what the tls:cert
 *     event showed of the server's certificate (cert, NULL if none): an
 *     expired certificate or one whose DNS names do not cover host give
 *     their result type; other verification failures (self-signed, unknown
 *     issuer) are "certificate-not-trusted". The texts' own words win when they
 *     are specific (OpenSSL verify strings, GnuTLS's). Anything else is
 *     "validation-failure", the RFC's catch-all. Returns a static string.
 * .fi
 */
#ifndef MTASTS_TLSRPT_CLASSIFY_H
#define MTASTS_TLSRPT_CLASSIFY_H

#include "common.h"

/* The server certificate (depth 0) as Exim's tls:cert event shows it. */
typedef struct mtasts_tlsrpt_cert {
    bool seen;
    int64_t not_before, not_after;  /* unix time; 0: unknown */
    char names[1024];               /* subjectAltName DNS names, ';'-separated */
} mtasts_tlsrpt_cert;

const char *mtasts_tlsrpt_classify(const char *text, const mtasts_tlsrpt_cert *cert,
                                   const char *host, int64_t now);

/* Does any of names (';'-separated, "DNS=" prefixes allowed) cover host
 * (RFC 6125: exact, or "*." matching one left-most label)? */
bool mtasts_tlsrpt_names_cover(const char *names, const char *host);

#endif
