/*
 * domain.h - is this a policy domain? (pure: usable inside Exim)
 *
 * mtasts_domain_check() accepts a domain as given by the caller (A-labels,
 * i.e. IDNA already applied; lower-case not required): 1-253 characters,
 * LDH labels of 1-63 characters not beginning or ending with "-", no
 * leading, trailing or double dot, no IP literal (bracketed, or an
 * all-numeric last label), no ":port". MTASTS_OK, or MTASTS_INVALID with the
 * reason in err ("invalid domain \"...\": ..."). RFC 8461 applies to domain
 * names only: the adapters answer "no policy" for anything else.
 */
#ifndef MTASTS_DOMAIN_H
#define MTASTS_DOMAIN_H

#include "common.h"

mtasts_status mtasts_domain_check(const char *domain, mtasts_err *err);

/* At most 64 characters of s for a message, non-printables as '?' and a
 * '~' when cut: domains come from mail and end up in logs. */
const char *mtasts_printable(const char *s, char buf[72]);

#endif
