/*
 * submit.h - hand a TLSRPT report to its destination (RFC 8460 5.3, 5.4).
 *
 * tlsrpt_post(): one HTTPS POST of the gzip report with Content-Type
 * application/tlsrpt+gzip through libcurl: https only, PKIX-verified
 * (cfg's CA file/directory, else the system's), no redirects (a 3xx is a
 * failure), no proxy unless configured (the environment is ignored),
 * bounded by cfg->timeout_ms; only to public addresses (address.h) unless
 * cfg->allow_private or a proxy is set. MTASTS_OK on a 2xx answer (*status holds
 * it); MTASTS_TEMPFAIL for any other answer or failure, with the reason in
 * err ("HTTP 503", libcurl's message; the caller names the URL and retries
 * with backoff, 5.4).
 *
 * tlsrpt_sendmail(): run "SENDMAIL -t -oi [-f SENDER]" (no shell) with
 * the message on its standard input and wait at most timeout_s for it;
 * the child inherits no descriptor but stdin (the pipe), stdout and
 * stderr. MTASTS_OK when it exits 0 (the local MTA took the message and
 * will DKIM-sign and deliver it); MTASTS_TEMPFAIL otherwise.
 */
#ifndef MTASTS_TLSRPT_SUBMIT_H
#define MTASTS_TLSRPT_SUBMIT_H

#include "common.h"

typedef struct tlsrpt_post_config {
    const char *ca_file, *ca_path;  /* NULL: the system's trust */
    const char *proxy;              /* NULL or "": none */
    unsigned connect_timeout_ms;
    unsigned timeout_ms;
    /* connect to non-public addresses too (allow_private_policy_host):
     * by default a rua cannot point the reporter at an internal network */
    bool allow_private;
} tlsrpt_post_config;

mtasts_status tlsrpt_post(const tlsrpt_post_config *cfg, const char *url, const void *body,
                          size_t len, long *status, mtasts_err *err);
mtasts_status tlsrpt_sendmail(const char *sendmail, const char *sender, const char *msg,
                              unsigned timeout_s, mtasts_err *err);

#endif
