/*
 * tlsrpt_txt.h - the "_smtp._tls" TXT record of SMTP TLS Reporting
 * (RFC 8460 section 3).
 *
 * .nf
 * SYNOPSIS
 *     #include "tlsrpt_txt.h"
 *
 *     mtasts_status mtasts_tlsrpt_txt_parse(const char *rec, size_t len,
 *                                           mtasts_tlsrpt_rua *out,
 *                                           mtasts_err *err);
 *     mtasts_status mtasts_tlsrpt_txt_select(const char *const *records,
 *                                            const size_t *lens, size_t n,
 *                                            mtasts_tlsrpt_rua *out,
 *                                            mtasts_err *err);
 * DESCRIPTION
 *     Pure functions: no I/O, no global state, nothing printed. Records
 *     are the joined character-strings of one TXT RR (3: "concatenated
 *     without adding spaces"; mtasts_dns_tlsrpt() joins them).
 *
 *     mtasts_tlsrpt_txt_parse() checks one record and returns
 *       MTASTS_OK        a valid TLSRPTv1 record with at least one usable
 *                        rua URI (out->uri[0..n-1])
 *       MTASTS_NOT_FOUND not a TLSRPTv1 record (does not begin with
 *                        "v=TLSRPTv1;"): discarded, no error
 *       MTASTS_INVALID   a TLSRPTv1 record that violates the grammar, or
 *                        has no usable rua URI; err says why.
 *     mtasts_tlsrpt_txt_select() applies 3 to a whole RRset: records that
 *     are not TLSRPTv1 are discarded; exactly one must be left (none:
 *     NOT_FOUND; several: INVALID, "multiple TLSRPTv1 records"). 3: with
 *     anything but one valid record the domain "does not implement TLSRPT".
 *
 * GRAMMAR (RFC 8460 3; %s"" is case-sensitive)
 *     tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field)
 *                        [field-delim]
 *     field-delim      = *WSP ";" *WSP
 *     tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
 *     tlsrpt-version   = %s"v=TLSRPTv1"
 *     tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *     tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
 *     tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *     tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * DECISIONS (where the RFC is silent)
 *     - As for "_mta-sts", the text decides what is a TLSRPTv1 record:
 *       "v=TLSRPTv1 ;..." and a bare "v=TLSRPTv1" are discarded.
 *     - rua is required (3: "Field is required"); a second rua field makes
 *       the record invalid (which list would the owner mean?).
 *     - A URI is any run of visible ASCII but ",", ";" (commas inside a
 *       URI must be %-encoded, 3). Schemes (case-insensitive):
 *       "mailto:" takes one address local@domain (local part: atext and
 *       dots; %XX decoded first; no "?hfields": the address goes into a
 *       To: header, so nothing but an address is let through); "https://"
 *       takes a host (a valid domain, optionally ":port") and an optional
 *       path. A malformed mailto/https URI makes the record invalid; a URI
 *       of another scheme is skipped (out->skipped counts it: a superset
 *       of the specification, 3), and a record left with no usable URI is
 *       invalid. At most MTASTS_TLSRPT_RUA_MAX URIs are kept, in order;
 *       further ones are counted in out->skipped, and a URI is kept once.
 *     - Unknown extension fields are checked against the grammar and
 *       ignored (3: "unknown fields SHALL be ignored").
 * .fi
 */
#ifndef MTASTS_TLSRPT_TXT_H
#define MTASTS_TLSRPT_TXT_H

#include "common.h"

#include <stddef.h>

/* Joined records longer than this are invalid (the RFC sets no limit; a
 * record with a few URIs fits easily). */
#define MTASTS_TLSRPT_TXT_MAX 2048
/* rua destinations kept per domain: each costs a submission per day. */
#define MTASTS_TLSRPT_RUA_MAX 8
#define MTASTS_TLSRPT_URI_MAX 512

typedef enum mtasts_tlsrpt_scheme {
    MTASTS_TLSRPT_MAILTO = 1,
    MTASTS_TLSRPT_HTTPS = 2,
} mtasts_tlsrpt_scheme;

typedef struct mtasts_tlsrpt_uri {
    mtasts_tlsrpt_scheme scheme;
    /* as published; for mailto the address alone (decoded, no scheme) is
     * in addr */
    char uri[MTASTS_TLSRPT_URI_MAX];
    char addr[MTASTS_TLSRPT_URI_MAX];
} mtasts_tlsrpt_uri;

typedef struct mtasts_tlsrpt_rua {
    size_t n;
    size_t skipped;     /* other schemes, and URIs past the limit */
    mtasts_tlsrpt_uri uri[MTASTS_TLSRPT_RUA_MAX];
} mtasts_tlsrpt_rua;

mtasts_status mtasts_tlsrpt_txt_parse(const char *rec, size_t len, mtasts_tlsrpt_rua *out,
                                      mtasts_err *err);
mtasts_status mtasts_tlsrpt_txt_select(const char *const *records, const size_t *lens,
                                       size_t n, mtasts_tlsrpt_rua *out, mtasts_err *err);

#endif
