/*
 * tlsrpt_event.c - Exim's transport events as TLSRPT outcomes
 * (tlsrpt_event.h). Runs in Exim's delivery processes: no network, one
 * read and one short write transaction per recorded session.
 */
#include "tlsrpt_event.h"
#include "tlsrpt_classify.h"
#include "tlsrpt_store.h"
#include "mx_match.h"
#include "options.h"
#include "record.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exim's errno values for TLS trouble (macros.h, 4.96 to 4.100). */
#define ERRNO_TLSFAILURE (-37)
#define ERRNO_TLSREQUIRED (-38)
#define EVENT_DATA_MAX 512

typedef struct event {
    const char *ev, *dom, *host, *ip, *src, *cv, *dane, *cipher, *san, *data;
    long errno_;
    int64_t not_after;
} event;

/* The current session of this process (a delivery process talks to one
 * host at a time): its host, whether its outcome is recorded, and the
 * certificate tls:cert showed. */
static struct {
    char ip[64];
    bool recorded;
    mtasts_tlsrpt_cert cert;
    bool error_logged;
} sess;

bool mtasts_tlsrpt_is_event(const char *query)
{
    return query && strncmp(query, MTASTS_TLSRPT_QUERY_PREFIX,
                            sizeof MTASTS_TLSRPT_QUERY_PREFIX - 1) == 0;
}

/* parse - split the query (a writable copy) into e */
static bool parse(char *q, event *e)
{
    char *p = q + sizeof MTASTS_TLSRPT_QUERY_PREFIX - 1;
    bool seen_errno = false, seen_na = false;

    memset(e, 0, sizeof *e);
    while (*p) {
        char *key = p, *eq = strchr(p, '='), *end;

        if (!eq)
            return false;
        *eq = '\0';
        if (!strcmp(key, "data")) {
            e->data = eq + 1;
            break;
        }
        end = strchr(eq + 1, ' ');
        if (end)
            *end = '\0';
        /* The first of a key wins: a value the remote end controls (a
         * certificate's names in san=) must not override dom=, ev=, ip=. */
#define F(name, field) else if (!strcmp(key, name)) { if (!e->field) e->field = eq + 1; }
        if (0) {}
        F("ev", ev) F("dom", dom) F("host", host) F("ip", ip) F("src", src) F("cv", cv)
        F("dane", dane) F("cipher", cipher) F("san", san)
        else if (!strcmp(key, "errno") && !seen_errno) {
            e->errno_ = strtol(eq + 1, NULL, 10);
            seen_errno = true;
        } else if (!strcmp(key, "na") && !seen_na) {
            e->not_after = strtoll(eq + 1, NULL, 10);
            seen_na = true;
        }
#undef F
        if (!end)
            break;
        p = end + 1;
    }
    return e->ev != NULL;
}

static bool empty(const char *s) { return !s || !*s; }

/* offers_starttls - the EHLO response lists STARTTLS as an extension: Exim's
 * own test (transports/smtp.c, "\n250[\s-]STARTTLS(\s|$)"), so the word in
 * the greeting line or inside another line, which a server that strips
 * STARTTLS can send, does not hide the downgrade. */
static bool offers_starttls(const char *ehlo)
{
    static const char ws[] = " \t\n\v\f\r";

    for (const char *p = ehlo; p && (p = strstr(p, "\n250")); p += 4) {
        const char *k = p + 5;

        if ((p[4] == '-' || (p[4] && strchr(ws, p[4]))) && !strncmp(k, "STARTTLS", 8)
            && (!k[8] || strchr(ws, k[8])))
            return true;
    }
    return false;
}

static bool same_host(const event *e) { return e->ip && !strcmp(sess.ip, e->ip); }

static void log_once(const mtasts_hooks *h, const char *fmt, const char *a, const char *b)
{
    char msg[512], ea[256], eb[256];

    if (sess.error_logged || !h || !h->log)
        return;
    sess.error_logged = true;
    /* the event text's fields (dom=) reach Exim's log escaped */
    snprintf(msg, sizeof msg, fmt, mtasts_escape(a, ea, sizeof ea),
             mtasts_escape(b, eb, sizeof eb));
    h->log(h->ctx, MTASTS_LOG_MAIN, msg);
}

void mtasts_tlsrpt_policy_text(const mtasts_policy *p, char *policy, size_t psize, char *mx,
                        size_t msize)
{
    size_t n, m = 0;

    n = (size_t)snprintf(policy, psize, "version: STSv1\nmode: %s", mtasts_mode_name(p->mode));
    mx[0] = '\0';
    for (size_t i = 0; i < p->n_mx; i++) {
        if (n < psize)
            n += (size_t)snprintf(policy + n, psize - n, "\nmx: %s", p->mx[i]);
        if (m < msize)
            m += (size_t)snprintf(mx + m, msize - m, "%s%s", i ? "\n" : "", p->mx[i]);
    }
    if (n < psize)
        snprintf(policy + n, psize - n, "\nmax_age: %lu", (unsigned long)p->max_age);
}

/* record - one outcome for the session of e */
static void record(const event *e, mtasts_store *s, const mtasts_record *r, bool tlsa,
                   const char *result, const char *reason, const mtasts_hooks *h)
{
    static char policy[MTASTS_RECORD_MAX], mx[MTASTS_RECORD_MAX];
    mtasts_tlsrpt_outcome o = {
        .when = (int64_t)time(NULL), .policy_domain = e->dom,
        .type = MTASTS_TLSRPT_NO_POLICY, .mx_host = e->host, .receiving_ip = e->ip,
        .sending_ip = e->src, .result_type = result, .failure_reason_code = reason };
    mtasts_err err = {{0}};

    if (tlsa) {
        o.type = MTASTS_TLSRPT_TLSA;
    } else if (r) {
        mtasts_tlsrpt_policy_text(&r->policy, policy, sizeof policy, mx, sizeof mx);
        o.type = MTASTS_TLSRPT_STS;
        o.policy_string = policy;
        o.mx_patterns = mx;
    }
    if (mtasts_tlsrpt_record(s, &o, &err) != MTASTS_OK)
        log_once(h, "mtasts: TLSRPT outcome for %s not recorded (further errors of this "
                 "process are not logged): %s", e->dom, err.msg);
    if (e->ip)
        mtasts_strlcpy(sess.ip, e->ip, sizeof sess.ip);
    sess.recorded = true;
}

/* reason - Exim's text, bounded (it goes to reports as failure-reason-code) */
static const char *reason(const event *e, char *buf, size_t size)
{
    if (empty(e->data))
        return NULL;
    mtasts_strlcpy(buf, e->data, size);
    return buf;
}

static bool known_dane_result(const char *t)
{
    static const char *const types[] = { "dane-required", "dnssec-invalid", "tlsa-invalid",
                                         "validation-failure", "starttls-not-supported" };

    for (size_t i = 0; t && i < sizeof types / sizeof *types; i++)
        if (!strcmp(t, types[i]))
            return true;
    return false;
}

void mtasts_tlsrpt_event(const char *query, const char *opts, const mtasts_hooks *hooks)
{
    char *q = strdup(query), why[EVENT_DATA_MAX];
    mtasts_options o;
    mtasts_store *s = NULL;
    mtasts_record r;
    mtasts_err err = {{0}};
    const mtasts_record *policy = NULL;
    int64_t now = (int64_t)time(NULL);
    event e;
    bool tls, tlsa;

    mtasts_record_init(&r);
    if (!q || !parse(q, &e)) {
        log_once(hooks, "mtasts: TLSRPT: unusable event text%s%s (check MTASTS_TLSRPT_EVENT)",
                 "", "");
        goto out;
    }
    /* No $domain: a transport run for several domains (multi_domain). */
    if (empty(e.dom)) {
        if (hooks && hooks->log && hooks->debug)
            hooks->log(hooks->ctx, MTASTS_LOG_DEBUG,
                       "mtasts: TLSRPT: no $domain (multi_domain transport): not recorded");
        goto out;
    }
    /* Events that record nothing need neither settings nor the store. */
    if (!strcmp(e.ev, "tls:cert")) {
        if (e.data && !strcmp(e.data, "0")) {
            memset(&sess.cert, 0, sizeof sess.cert);
            sess.cert.seen = true;
            sess.cert.not_after = e.not_after;
            mtasts_strlcpy(sess.cert.names, e.san ? e.san : "", sizeof sess.cert.names);
        }
        goto out;
    }
    tls = !empty(e.cipher);
    if (!strcmp(e.ev, "smtp:ehlo") && !tls) {
        /* The first EHLO of a session: a new session begins. */
        mtasts_strlcpy(sess.ip, e.ip ? e.ip : "", sizeof sess.ip);
        sess.recorded = false;
        memset(&sess.cert, 0, sizeof sess.cert);
        if (offers_starttls(e.data))
            goto out;           /* TLS comes next, or the session is in clear by choice */
    } else if (!strcmp(e.ev, "smtp:ehlo") || !strcmp(e.ev, "dane:fail")) {
        if (same_host(&e) && sess.recorded)
            goto out;
    } else if (!strcmp(e.ev, "msg:host:defer")) {
        bool skip = (e.errno_ != ERRNO_TLSFAILURE && e.errno_ != ERRNO_TLSREQUIRED)
                    || (same_host(&e) && sess.recorded);

        if (skip) {             /* the session is over either way */
            sess.ip[0] = '\0';
            sess.recorded = false;
            goto out;
        }
    } else {
        goto out;
    }

    /* This process (a transport's, forked after routing) only reads the
     * policy store, which the Exim adapters open read_first. */
    if (mtasts_answer_context(opts, hooks, &o, &s, &err) != MTASTS_OK) {
        log_once(hooks, "mtasts: TLSRPT: %s%s", err.msg, "");
        goto out;
    }
    if (o.disabled || !o.tlsrpt_record)
        goto out;
    mtasts_tlsrpt_set_map_max((size_t)o.tlsrpt_map_max << 10);
    if (!s) {
        log_once(hooks, "mtasts: TLSRPT outcome for %s not recorded: store %s unusable",
                 e.dom, o.store);
        goto out;
    }
    tlsa = !strcmp(e.ev, "dane:fail") || (e.dane && !strcmp(e.dane, "yes"));
    if (!tlsa && mtasts_store_get(s, e.dom, &r, &err) == MTASTS_OK
        && mtasts_record_usable(&r, now) && r.policy.mode != MTASTS_MODE_NONE)
        policy = &r;

    if (!strcmp(e.ev, "smtp:ehlo") && !tls) {
        record(&e, s, policy, tlsa, "starttls-not-supported", NULL, hooks);
    } else if (!strcmp(e.ev, "smtp:ehlo")) {
        /* TLS is up. Without a policy any TLS is a success; an sts policy
         * wants the certificate verified (testing mode gets here without). */
        const char *result = NULL;

        const char *why_not = NULL;

        if (policy && !tlsa && strcmp(e.cv ? e.cv : "", "1") != 0) {
            result = mtasts_tlsrpt_classify("certificate verification failed", &sess.cert,
                                            e.host, now);
            why_not = "certificate not verified";
        } else if (policy && !tlsa && mtasts_mx_match_policy(&policy->policy, e.host ? e.host : "") < 0) {
            result = "validation-failure";
            why_not = "MX host not in the policy";
        }
        record(&e, s, policy, tlsa, result, why_not, hooks);
    } else if (!strcmp(e.ev, "dane:fail")) {
        record(&e, s, NULL, true, known_dane_result(e.data) ? e.data : "validation-failure",
               NULL, hooks);
    } else {    /* msg:host:defer, a TLS failure not yet recorded */
        /* The failing certificate, if Exim kept it (OpenSSL raises no
         * tls:cert for a certificate that fails), else tls:cert's. */
        mtasts_tlsrpt_cert failed = { .seen = true, .not_after = e.not_after };
        const mtasts_tlsrpt_cert *cert = same_host(&e) && sess.cert.seen ? &sess.cert : NULL;

        if (e.not_after || !empty(e.san)) {
            mtasts_strlcpy(failed.names, e.san ? e.san : "", sizeof failed.names);
            cert = &failed;
        }
        record(&e, s, policy, false, mtasts_tlsrpt_classify(e.data, cert, e.host, now),
               reason(&e, why, sizeof why), hooks);
        sess.ip[0] = '\0';
        sess.recorded = false;
    }
out:
    mtasts_record_free(&r);
    free(q);
}
