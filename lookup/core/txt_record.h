/*
 * txt_record.h - the "_mta-sts" TXT record (RFC 8461 section 3.1).
 *
 * .nf
 * SYNOPSIS
 *     #include "txt_record.h"
 *
 *     mtasts_status mtasts_txt_join(const unsigned char *rdata, size_t rdlen,
 *                                   char *out, size_t outsize, size_t *outlen,
 *                                   mtasts_err *err);
 *     mtasts_status mtasts_txt_parse(const char *rec, size_t len,
 *                                    char id_out[MTASTS_ID_MAX + 1],
 *                                    mtasts_err *err);
 *     mtasts_status mtasts_txt_select(const char *const *records,
 *                                     const size_t *lens, size_t n,
 *                                     char id_out[MTASTS_ID_MAX + 1],
 *                                     mtasts_err *err);
 * DESCRIPTION
 *     Pure functions: no I/O, no global state, nothing printed.
 *
 *     mtasts_txt_join() turns the wire RDATA of one TXT RR (a sequence of
 *     <length octet><octets> character-strings) into one NUL-terminated
 *     string, the strings "concatenated without adding spaces" (3.1).
 *     With ldns, RDATA is the concatenation of the RR's LDNS_RDF_TYPE_STR
 *     rdfs' data (each already starts with its length octet). Returns
 *     MTASTS_INVALID on malformed RDATA (a length running past rdlen), on
 *     a joined text longer than MTASTS_TXT_MAX, or if out is too small;
 *     out is then "". A NUL octet inside a string is copied as is (the
 *     length is returned in *outlen); mtasts_txt_parse() rejects it.
 *
 *     mtasts_txt_parse() checks one joined record. It returns
 *       MTASTS_OK        a valid STSv1 record; id_out holds the id.
 *       MTASTS_NOT_FOUND the record is not an STSv1 record (does not begin
 *                        with "v=STSv1;"): it is to be discarded, this is
 *                        no error. Thus "v=STSv10; ..." is another
 *                        version, and "v=STSv1" or "v=STSv1 ;" none.
 *       MTASTS_INVALID   an STSv1 record that violates the ABNF, or is
 *                        longer than MTASTS_TXT_MAX; err says why.
 *     id_out is "" unless MTASTS_OK.
 *
 *     mtasts_txt_select() applies 3.1 to a whole RRset: records that are
 *     not STSv1 are discarded; if exactly one is left it is parsed
 *     (MTASTS_OK or MTASTS_INVALID); none left is MTASTS_NOT_FOUND; more
 *     than one is MTASTS_INVALID ("multiple STSv1 records"). Per 3.1, both
 *     INVALID and NOT_FOUND mean "the recipient domain does not have an
 *     available MTA-STS Policy" (a cached policy stays usable, 5.1); the
 *     caller may log INVALID differently.
 *
 * GRAMMAR (RFC 8461 3.1, RFC 7405: %s"" is case-sensitive)
 *     sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *                       [sts-field-delim]
 *     sts-field       = sts-id / sts-extension
 *     sts-field-delim = *WSP ";" *WSP
 *     sts-version     = %s"v=STSv1"
 *     sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *     sts-extension   = sts-ext-name "=" sts-ext-value
 *     sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *     sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * DECISIONS (where the RFC is silent or ambiguous)
 *     - STSv1 detection: 3.1 says records "that do not begin with
 *       "v=STSv1;"" are discarded; the ABNF's sts-field-delim would allow
 *       WSP before that ";" (erratum 6285), the text does not. The text
 *       decides which records are STSv1 at all: "v=STSv1 ; id=x" and
 *       "v=STSv1" alone are discarded, not parsed.
 *     - A field named "id" (case-sensitive) must carry a valid id: the ABNF
 *       would let "id=a-b" pass as an extension and then fail for lack of
 *       an sts-id; we say "id: not 1-32 letters/digits" instead. "ID=x" is
 *       an extension, so a record with only "ID=x" lacks its id.
 *     - Duplicate id: the first wins, later ones are ignored (3.2, last
 *       paragraph: "If any non-repeated field ... is duplicated, all
 *       entries except for the first SHALL be ignored", a paragraph that
 *       covers "TXT records and policy files"); each must still be well
 *       formed.
 *     - WSP only where the ABNF has it, around a ";" (sts-field-delim):
 *       trailing WSP after the last field without a ";" is invalid.
 *     - Empty fields (";;") are invalid, as the ABNF says.
 * .fi
 */
#ifndef MTASTS_TXT_RECORD_H
#define MTASTS_TXT_RECORD_H

#include "common.h"

/* A record longer than this is rejected. The RFC sets no limit; a valid
 * record is "v=STSv1; id=" plus at most 32 characters plus optional
 * extensions, so 1024 leaves ample room for extensions while keeping the
 * join buffer on the stack. (A TXT RR may carry up to 65535 octets.) */
#define MTASTS_TXT_MAX 1024

mtasts_status mtasts_txt_join(const unsigned char *rdata, size_t rdlen,
                              char *out, size_t outsize, size_t *outlen,
                              mtasts_err *err);
mtasts_status mtasts_txt_parse(const char *rec, size_t len,
                               char id_out[MTASTS_ID_MAX + 1],
                               mtasts_err *err);
mtasts_status mtasts_txt_select(const char *const *records,
                                const size_t *lens, size_t n,
                                char id_out[MTASTS_ID_MAX + 1],
                                mtasts_err *err);

#endif
