/*
 * test_tlsrpt_event.c - transport events to TLSRPT outcomes
 * (tlsrpt_event.h): one outcome per session whatever the event sequence
 * Exim raises (the sequences are those seen from real Exims in the test
 * world), the policy type from the store, bad event texts ignored, and the
 * tlsrpt_record=no switch.
 */
#include "options.h"
#include "store.h"
#include "tlsrpt_event.h"
#include "tlsrpt_store.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char dir[64], opts[128];
static int logged;

static void count_log(void *ctx, mtasts_log_level level, const char *msg)
{
    (void)ctx;
    if (level != MTASTS_LOG_DEBUG)
        logged++;
    (void)msg;
}

static void ev(const char *text)
{
    mtasts_hooks h = { count_log, NULL, false };

    mtasts_tlsrpt_event(text, opts, &h);
}

typedef struct sum {
    char line[1024];
    int aggregates;
} sum;

static bool collect(void *ctx, const mtasts_tlsrpt_aggregate *a)
{
    sum *s = ctx;
    size_t n = strlen(s->line);

    s->aggregates++;
    n += (size_t)snprintf(s->line + n, sizeof s->line - n, "%s%s %s ok=%llu fail=%llu",
                          n ? "; " : "", a->policy_domain, mtasts_tlsrpt_policy_type_name(a->type),
                          (unsigned long long)a->successes, (unsigned long long)a->failures);
    for (size_t i = 0; i < a->n_details; i++)
        n += (size_t)snprintf(s->line + n, sizeof s->line - n, " %s=%llu", a->details[i].result_type,
                              (unsigned long long)a->details[i].count);
    return true;
}

/* recorded - every aggregate of today as one line */
static const char *recorded(void)
{
    static sum s;
    mtasts_store_config cfg = { .path = dir };
    mtasts_store *st = NULL;
    mtasts_err err = {{0}};
    char day[11];

    memset(&s, 0, sizeof s);
    mtasts_tlsrpt_day_of((int64_t)time(NULL), day);
    if (mtasts_store_open(&cfg, &st, &err) != MTASTS_OK)
        return "store not open";
    mtasts_tlsrpt_foreach(st, day, collect, &s, &err);
    mtasts_store_close(&st);
    return s.line;
}

#define EHLO_TLS "250-x Hello\n250-STARTTLS\n250 HELP"
#define EHLO_CLEAR "250-x Hello\n250-SIZE 1\n250 HELP"

int main(void)
{
    mtasts_store_config cfg = { .create = true };
    mtasts_store *st = NULL;
    mtasts_err err = {{0}};
    mtasts_record r;
    int64_t now = (int64_t)time(NULL);

    strcpy(dir, "/tmp/mtasts-tlsrpt-ev-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    snprintf(opts, sizeof opts, "store=%s", dir);

    /* A success: EHLO, tls:cert, EHLO after STARTTLS; no policy stored. */
    ev("tlsrpt ev=smtp:ehlo dom=a.test host=mx.a.test ip=192.0.2.1 src=198.51.100.1 errno=0 "
       "cv=0 dane=no cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=tls:cert dom=a.test host=mx.a.test ip=192.0.2.1 na=1 san=DNS=mx.a.test data=0");
    ev("tlsrpt ev=smtp:ehlo dom=a.test host=mx.a.test ip=192.0.2.1 cv=1 dane=no "
       "cipher=TLS1.3:X:256 data=" EHLO_CLEAR);
    CHECK_STR(recorded(), "a.test no-policy-found ok=1 fail=0", "one success");

    /* dane:fail then msg:host:defer of the same session: one failure. */
    ev("tlsrpt ev=smtp:ehlo dom=b.test host=mx.b.test ip=192.0.2.2 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=dane:fail dom=b.test host=mx.b.test ip=192.0.2.2 cipher= data=validation-failure");
    ev("tlsrpt ev=msg:host:defer dom=b.test host=mx.b.test ip=192.0.2.2 errno=-37 cipher= "
       "data=TLS session: (SSL_connect): error:0A000086:SSL routines::certificate verify failed");
    CHECK_STR(recorded(), "a.test no-policy-found ok=1 fail=0; b.test tlsa ok=0 fail=1 "
              "validation-failure=1", "dane:fail counted once");

    /* No STARTTLS, then the defer (-38): one starttls-not-supported. */
    ev("tlsrpt ev=smtp:ehlo dom=c.test host=mx.c.test ip=192.0.2.3 cipher= data=" EHLO_CLEAR);
    ev("tlsrpt ev=msg:host:defer dom=c.test host=mx.c.test ip=192.0.2.3 errno=-38 cipher= "
       "data=a TLS session is required, but the server did not offer TLS support");
    /* A failed handshake, the failing certificate expired (OpenSSL). */
    ev("tlsrpt ev=smtp:ehlo dom=d.test host=mx.d.test ip=192.0.2.4 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=msg:host:defer dom=d.test host=mx.d.test ip=192.0.2.4 errno=-37 cipher= "
       "na=1000 san=DNS=mx.d.test; data=TLS session: (SSL_connect): certificate verify failed");
    /* Not TLS trouble (errno 0, a refused recipient): nothing. */
    ev("tlsrpt ev=smtp:ehlo dom=e.test host=mx.e.test ip=192.0.2.5 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=msg:host:defer dom=e.test host=mx.e.test ip=192.0.2.5 errno=0 data=451 later");
    /* Events that are not ours, and broken texts: nothing, no crash. */
    ev("tlsrpt ev=tcp:close dom=e.test");
    ev("tlsrpt garbage");
    ev("tlsrpt ");
    ev("tlsrpt ev=smtp:ehlo data=x");       /* no domain: not recorded, not logged */
    CHECK_STR(recorded(), "a.test no-policy-found ok=1 fail=0; b.test tlsa ok=0 fail=1 "
              "validation-failure=1; c.test no-policy-found ok=0 fail=1 starttls-not-supported=1; "
              "d.test no-policy-found ok=0 fail=1 certificate-expired=1",
              "one outcome per session");

    /* An sts policy in the store: type sts; unverified in testing mode is a failure. */
    cfg.path = dir;
    mtasts_record_init(&r);
    {
        static const char text[] = "version: STSv1\nmode: testing\nmx: mx.f.test\nmax_age: 86400\n";

        CHECK(mtasts_policy_parse(text, sizeof text - 1, &r.policy, &err) == MTASTS_OK,
              "policy: %s", err.msg);
    }
    strcpy(r.id, "f1");
    r.fetched_at = now;
    r.expires_at = now + 86400;
    r.source = MTASTS_SOURCE_FETCHED;
    CHECK(mtasts_store_open(&cfg, &st, &err) == MTASTS_OK
          && mtasts_store_put(st, "f.test", &r, &err) == MTASTS_OK, "put: %s", err.msg);
    mtasts_store_close(&st);
    mtasts_record_free(&r);
    ev("tlsrpt ev=smtp:ehlo dom=f.test host=mx.f.test ip=192.0.2.6 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=tls:cert dom=f.test host=mx.f.test ip=192.0.2.6 na=1000 san=DNS=mx.f.test; data=0");
    ev("tlsrpt ev=smtp:ehlo dom=f.test host=mx.f.test ip=192.0.2.6 cv=0 dane=no cipher=T data=" EHLO_CLEAR);
    CHECK(strstr(recorded(), "f.test sts ok=0 fail=1 certificate-expired=1") != NULL,
          "testing policy, expired: %s", recorded());
    /* verified, but the MX host is not in the (testing) policy */
    ev("tlsrpt ev=smtp:ehlo dom=f.test host=other.test ip=192.0.2.8 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=smtp:ehlo dom=f.test host=other.test ip=192.0.2.8 cv=1 dane=no cipher=T data=" EHLO_CLEAR);
    CHECK(strstr(recorded(), "f.test sts ok=0 fail=2 certificate-expired=1 validation-failure=1")
          != NULL, "testing policy, MX not listed: %s", recorded());
    /* verified and listed: a success */
    ev("tlsrpt ev=smtp:ehlo dom=f.test host=mx.f.test ip=192.0.2.6 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=smtp:ehlo dom=f.test host=mx.f.test ip=192.0.2.6 cv=1 dane=no cipher=T data=" EHLO_CLEAR);
    CHECK(strstr(recorded(), "f.test sts ok=1 fail=2") != NULL, "testing policy, ok: %s",
          recorded());

    /* A hostile server's certificate names (san=) cannot override the
     * fields before them: the outcome stays with h.test and its session. */
    ev("tlsrpt ev=smtp:ehlo dom=h.test host=mx.h.test ip=192.0.2.9 cipher= data=" EHLO_TLS);
    ev("tlsrpt ev=msg:host:defer dom=h.test host=mx.h.test ip=192.0.2.9 errno=-37 cipher= "
       "na=1000 san=DNS=mx.h.test dom=victim.test ev=smtp:ehlo ip=203.0.113.9 errno=0; "
       "data=TLS session: (SSL_connect): certificate verify failed");
    CHECK(strstr(recorded(), "victim.test") == NULL, "san= injected dom=: %s", recorded());
    CHECK(strstr(recorded(), "h.test no-policy-found ok=0 fail=1 certificate-expired=1") != NULL,
          "san= injection, outcome of h.test: %s", recorded());

    /* STARTTLS in the greeting or inside a line is no STARTTLS extension
     * (Exim does not try TLS): a server that strips STARTTLS cannot hide
     * the clear session from the report by saying the word. */
    ev("tlsrpt ev=smtp:ehlo dom=i.test host=mx.i.test ip=192.0.2.10 cipher= "
       "data=250-x Hello STARTTLS\n250-XSTARTTLS\n250-STARTTLSX\n250 HELP STARTTLS");
    CHECK(strstr(recorded(), "i.test no-policy-found ok=0 fail=1 starttls-not-supported=1") != NULL,
          "STARTTLS only as a word: %s", recorded());
    /* "250 STARTTLS" as the last line is the extension: TLS comes next. */
    ev("tlsrpt ev=smtp:ehlo dom=j.test host=mx.j.test ip=192.0.2.11 cipher= "
       "data=250-x Hello\n250 STARTTLS");
    CHECK(strstr(recorded(), "j.test") == NULL, "250 STARTTLS: %s", recorded());

    /* tlsrpt_record=no: nothing more. */
    snprintf(opts, sizeof opts, "store=%s tlsrpt_record=no", dir);
    ev("tlsrpt ev=smtp:ehlo dom=g.test host=mx.g.test ip=192.0.2.7 cipher= data=" EHLO_CLEAR);
    CHECK(strstr(recorded(), "g.test") == NULL, "tlsrpt_record=no");
    CHECK_INT(logged, 1, "log lines (the unusable event text, once)");

    snprintf(opts, sizeof opts, "%s/data.mdb", dir);
    unlink(opts);
    snprintf(opts, sizeof opts, "%s/lock.mdb", dir);
    unlink(opts);
    rmdir(dir);
    return UNIT_DONE("tlsrpt_event");
}
