/*
 * tlsrpt_helper.c - policy fetch and parse failures as TLSRPT outcomes
 * (tlsrpt_helper.h).
 */
#include "tlsrpt_helper.h"
#include "tlsrpt_event.h"
#include "tlsrpt_store.h"

#include <time.h>

const char *tlsrpt_fetch_result(mtasts_status fetch_st, mtasts_fetch_fail fail,
                                mtasts_status parse_st)
{
    if (fetch_st != MTASTS_OK)
        return fail == MTASTS_FETCH_ERR_CERT ? "sts-webpki-invalid" : "sts-policy-fetch-error";
    return parse_st != MTASTS_OK ? "sts-policy-invalid" : NULL;
}

void tlsrpt_record_policy_failure(mtasts_store *s, const mtasts_options *o,
                                  const char *domain, const mtasts_record *r,
                                  const char *result, const char *reason)
{
    static char policy[MTASTS_RECORD_MAX], mx[MTASTS_RECORD_MAX];
    int64_t now = (int64_t)time(NULL);
    mtasts_tlsrpt_outcome out = { .when = now, .policy_domain = domain,
                                  .type = MTASTS_TLSRPT_STS, .result_type = result,
                                  .failure_reason_code = reason };
    mtasts_err err = {{0}};

    if (!s || !result || o->disabled || !o->tlsrpt_record)
        return;
    if (r && mtasts_record_usable(r, now)) {
        mtasts_tlsrpt_policy_text(&r->policy, policy, sizeof policy, mx, sizeof mx);
        out.policy_string = policy;
        out.mx_patterns = mx;
    }
    mtasts_tlsrpt_set_map_max((size_t)o->tlsrpt_map_max << 10);
    /* The helper records rarely: its outcome goes to disk at once. */
    if (mtasts_tlsrpt_record(s, &out, &err) == MTASTS_OK)
        mtasts_tlsrpt_sync(s, &err);
}
