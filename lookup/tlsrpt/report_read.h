/*
 * report_read.h - read a received TLSRPT report (RFC 8460 section 4), for
 * "mtasts tlsrpt read": JSON or gzip-compressed JSON, from a stranger.
 *
 * tlsrpt_read_report() checks the structure strictly (every field the RFC
 * requires, with its JSON type; counts non-negative integers; policy-type
 * one of sts, tlsa, no-policy-found; unknown fields and result types are
 * accepted, as 4 lets reports grow) and prints a human summary to out. Text from the report is
 * printed escaped (controls and non-ASCII as \xHH), so a report cannot
 * drive the terminal. false with a message in err (the first problem,
 * with its JSON path) when it is not a valid report; nothing is printed
 * then. Input is bounded: TLSRPT_READ_MAX_INPUT bytes as given,
 * TLSRPT_READ_MAX_JSON once decompressed.
 *
 * tlsrpt_gunzip() inflates one gzip member into a malloc()ed buffer
 * (NUL-terminated), refusing more than max bytes of output.
 *
 * Self-contained (jansson, zlib, libc) so that the fuzz target links it
 * alone.
 */
#ifndef MTASTS_TLSRPT_REPORT_READ_H
#define MTASTS_TLSRPT_REPORT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define TLSRPT_READ_MAX_INPUT (8u << 20)
#define TLSRPT_READ_MAX_JSON (32u << 20)

bool tlsrpt_gunzip(const unsigned char *data, size_t len, size_t max, char **out,
                   size_t *outlen, char *err, size_t errsize);
bool tlsrpt_read_report(const unsigned char *data, size_t len, FILE *out, char *err,
                        size_t errsize);

#endif
