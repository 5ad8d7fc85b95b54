/*
 * idn.h - internationalised domain names: U-labels to A-labels (IDNA2008).
 *
 * .nf
 * SYNOPSIS
 *     mtasts_status mtasts_idn_to_ascii(const char *in, char *out, size_t outsize,
 *                                       mtasts_err *err);
 * DESCRIPTION
 *     RFC 8461 works on A-labels (policy patterns are A-labels, 3.2), while
 *     an SMTPUTF8 message's recipient domain ($domain) or an administrator's
 *     argument may be UTF-8. mtasts_idn_to_ascii() copies a pure ASCII name
 *     unchanged (the caller normalises and checks it as before) and
 *     converts a name holding any non-ASCII byte with libidn2: IDNA2008
 *     with UTS #46 non-transitional mapping and NFC, as libcurl does (so
 *     "Bücher.example." becomes "xn--bcher-kva.example"; one trailing dot
 *     is dropped first).
 *
 *     libidn2 is opened with dlopen() at the first non-ASCII name only:
 *     the Exim adapters run in every Exim process, and ASCII names (nearly
 *     all) never load it.
 *
 *     Returns MTASTS_OK; MTASTS_NOT_FOUND when an ASCII name does not fit
 *     out ("not a domain name (too long)"); MTASTS_INVALID when a non-ASCII
 *     name cannot be converted (err names it, escaped, with libidn2's
 *     reason); MTASTS_SYSERR when libidn2 cannot be loaded. A name that
 *     cannot be converted gets no policy: callers log it.
 * .fi
 */
#ifndef MTASTS_IDN_H
#define MTASTS_IDN_H

#include "common.h"

mtasts_status mtasts_idn_to_ascii(const char *in, char *out, size_t outsize, mtasts_err *err);

#endif
