/*
 * resolve_script.h - scripted DNS and HTTPS for mtasts_resolve() (the
 * resolve_ops of the unit tests; the real ones are exercised in the test
 * world). Included by one test file each: the functions are static.
 */
#ifndef MTASTS_RESOLVE_SCRIPT_H
#define MTASTS_RESOLVE_SCRIPT_H

#include "resolve.h"

#include <stdio.h>
#include <string.h>

typedef struct script {
    mtasts_status txt;       /* what the TXT lookup answers */
    const char *id;
    mtasts_status fetch;     /* what the fetch answers */
    const char *policy;      /* body parsed on fetch OK */
    int txt_calls, fetch_calls;
} script;

static mtasts_status fake_txt(void *ctx, const char *domain, char id[MTASTS_ID_MAX + 1],
                              mtasts_err *err)
{
    script *s = ctx;
    (void)domain;
    s->txt_calls++;
    snprintf(id, MTASTS_ID_MAX + 1, "%s", s->txt == MTASTS_OK ? s->id : "");
    if (s->txt != MTASTS_OK)
        mtasts_errf(err, "scripted txt %s", mtasts_status_name(s->txt));
    return s->txt;
}

static mtasts_status fake_fetch(void *ctx, const char *domain, mtasts_policy *out,
                                mtasts_err *err)
{
    script *s = ctx;
    (void)domain;
    s->fetch_calls++;
    if (s->fetch != MTASTS_OK) {
        mtasts_errf(err, "HTTP 404");
        return s->fetch;
    }
    return mtasts_policy_parse(s->policy, strlen(s->policy), out, err);
}

#endif
