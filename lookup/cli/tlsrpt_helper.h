/*
 * tlsrpt_helper.h - the helper's part of TLSRPT recording (RFC 8460 4.3):
 * policy fetch and parse failures, recorded against the policy domain.
 *
 * .nf
 * SYNOPSIS
 *     const char *tlsrpt_fetch_result(mtasts_status fetch_st, mtasts_fetch_fail fail,
 *                                     mtasts_status parse_st);
 *     void tlsrpt_record_policy_failure(mtasts_store *s, const mtasts_options *o,
 *                                       const char *domain, const mtasts_record *r,
 *                                       const char *result, const char *reason);
 * DESCRIPTION
 *     tlsrpt_fetch_result() names the result type of a failed policy fetch
 *     (sts-webpki-invalid for a PKIX failure, sts-policy-fetch-error for
 *     any other failure of the fetch) or parse (sts-policy-invalid); NULL
 *     when both succeeded. tlsrpt_record_policy_failure() records it as a
 *     failed session of policy type sts (the policy string is the cached
 *     policy's, if one is still in force) unless the option
 *     tlsrpt_record is off or the store is unusable; errors are ignored
 *     (the helper's output is what the adapter reads).
 * .fi
 */
#ifndef MTASTS_TLSRPT_HELPER_H
#define MTASTS_TLSRPT_HELPER_H

#include "fetch.h"
#include "options.h"
#include "record.h"
#include "store.h"

const char *tlsrpt_fetch_result(mtasts_status fetch_st, mtasts_fetch_fail fail,
                                mtasts_status parse_st);
void tlsrpt_record_policy_failure(mtasts_store *s, const mtasts_options *o,
                                  const char *domain, const mtasts_record *r,
                                  const char *result, const char *reason);

#endif
