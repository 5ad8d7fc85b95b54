/*
 * test_tlsrpt_report.c - TLSRPT reports (RFC 8460 4, 5.3) from a real
 * store: the JSON's structure and counts, gzip round trip, report id and
 * file name, the MIME message, and the exactly-once sent marks including a
 * crash between submitting and marking.
 */
#include "report.h"
#include "submit.h"
#include "options.h"
#include "report_read.h"
#include "tlsrpt_sent.h"
#include "tlsrpt_store.h"
#include "unit.h"
#include "store_tmp.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define DAY1 1764720000         /* 2025-12-03 00:00:00 UTC */
#define DAY_TEXT "2025-12-03"

static char dir[64];

static mtasts_store *open_store(void)
{
    return open_tmp_store(dir);
}

static void record(mtasts_store *s, const char *domain, mtasts_tlsrpt_policy_type type,
                   const char *pstr, const char *mx, const char *host, const char *result,
                   const char *code)
{
    mtasts_tlsrpt_outcome o = {
        .when = DAY1 + 3600, .policy_domain = domain, .type = type, .policy_string = pstr,
        .mx_patterns = mx, .mx_host = host, .receiving_ip = "192.0.2.25",
        .sending_ip = "198.51.100.1", .result_type = result, .failure_reason_code = code,
    };
    mtasts_err err = {{0}};

    if (mtasts_tlsrpt_record(s, &o, &err) != MTASTS_OK) {
        printf("FAIL record %s: %s\n", domain, err.msg);
        exit(1);
    }
}

typedef struct collected {
    json_t *sts, *tlsa, *none;
} collected;

static bool collect(void *ctx, const mtasts_tlsrpt_aggregate *a)
{
    collected *c = ctx;
    json_t **slot = a->type == MTASTS_TLSRPT_STS ? &c->sts
                  : a->type == MTASTS_TLSRPT_TLSA ? &c->tlsa : &c->none;

    *slot = tlsrpt_policy_entry(a, a->type == MTASTS_TLSRPT_TLSA ? "3 1 1 AABB\n2 0 1 CCDD"
                                                                  : NULL);
    return true;
}

static const char *jget(const json_t *o, const char *path)
{
    static char buf[256];
    const json_t *v = o;
    char copy[256], *p, *save = NULL;

    snprintf(copy, sizeof copy, "%s", path);
    for (p = strtok_r(copy, ".", &save); p && v; p = strtok_r(NULL, ".", &save))
        v = (*p >= '0' && *p <= '9') ? json_array_get(v, (size_t)atoi(p)) : json_object_get(v, p);
    if (!v)
        return "(missing)";
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_array(v)) {
        snprintf(buf, sizeof buf, "array:%zu", json_array_size(v));
        return buf;
    }
    return "(other)";
}

static char *report_text;

static void test_report(void)
{
    mtasts_store *s = open_store();
    collected c = {0};
    mtasts_err err = {{0}};
    tlsrpt_meta m = { "Example Org", "tlsrpt@sender.example", "sender.example", DAY_TEXT };
    char id[TLSRPT_ID_LEN + 1], rerr[256];
    json_t *pols, *r;
    FILE *devnull;

    for (int i = 0; i < 3; i++)
        record(s, "sts.example", MTASTS_TLSRPT_STS,
               "version: STSv1\nmode: enforce\nmx: mx.sts.example\nmax_age: 86400",
               "mx.sts.example", "mx.sts.example", NULL, NULL);
    for (int i = 0; i < 2; i++)
        record(s, "sts.example", MTASTS_TLSRPT_STS,
               "version: STSv1\nmode: enforce\nmx: mx.sts.example\nmax_age: 86400",
               "mx.sts.example", "mx.sts.example", "certificate-expired", "X509_V_ERR_CERT_HAS_EXPIRED");
    record(s, "dane.example", MTASTS_TLSRPT_TLSA, NULL, NULL, "mx.dane.example", "tlsa-invalid",
           NULL);
    record(s, "plain.example", MTASTS_TLSRPT_NO_POLICY, NULL, NULL, "mx.plain.example", NULL,
           NULL);
    CHECK_INT(mtasts_tlsrpt_foreach(s, DAY_TEXT, collect, &c, &err), MTASTS_OK, "foreach");
    mtasts_store_close(&s);
    CHECK(c.sts && c.tlsa && c.none, "three policy entries built");
    if (!c.sts || !c.tlsa || !c.none)
        return;

    /* 4.3: the policy and its counts */
    CHECK_STR(jget(c.sts, "policy.policy-type"), "sts", "sts policy-type");
    CHECK_STR(jget(c.sts, "policy.policy-string"), "array:4", "sts policy-string lines");
    CHECK_STR(jget(c.sts, "policy.policy-string.1"), "mode: enforce", "sts policy-string[1]");
    CHECK_STR(jget(c.sts, "policy.policy-domain"), "sts.example", "policy-domain");
    CHECK_STR(jget(c.sts, "policy.mx-host.0"), "mx.sts.example", "mx-host");
    CHECK_STR(jget(c.sts, "summary.total-successful-session-count"), "3", "successes");
    CHECK_STR(jget(c.sts, "summary.total-failure-session-count"), "2", "failures");
    CHECK_STR(jget(c.sts, "failure-details"), "array:1", "one detail row");
    CHECK_STR(jget(c.sts, "failure-details.0.result-type"), "certificate-expired", "result-type");
    CHECK_STR(jget(c.sts, "failure-details.0.failed-session-count"), "2", "failed-session-count");
    CHECK_STR(jget(c.sts, "failure-details.0.sending-mta-ip"), "198.51.100.1", "sending-mta-ip");
    CHECK_STR(jget(c.sts, "failure-details.0.receiving-ip"), "192.0.2.25", "receiving-ip");
    CHECK_STR(jget(c.sts, "failure-details.0.receiving-mx-hostname"), "mx.sts.example",
              "receiving-mx-hostname");
    CHECK_STR(jget(c.sts, "failure-details.0.failure-reason-code"), "X509_V_ERR_CERT_HAS_EXPIRED",
              "failure-reason-code");
    CHECK_STR(jget(c.sts, "failure-details.0.additional-information"), "(missing)",
              "empty fields are left out");
    /* tlsa without recorded records: the fallback; mx-host from the rows */
    CHECK_STR(jget(c.tlsa, "policy.policy-type"), "tlsa", "tlsa policy-type");
    CHECK_STR(jget(c.tlsa, "policy.policy-string.1"), "2 0 1 CCDD", "tlsa fallback records");
    CHECK_STR(jget(c.tlsa, "policy.mx-host.0"), "mx.dane.example", "tlsa mx-host from rows");
    CHECK_STR(jget(c.none, "policy.policy-type"), "no-policy-found", "no-policy-found");
    CHECK_STR(jget(c.none, "policy.policy-string"), "(missing)", "no-policy-found: no string");
    CHECK_STR(jget(c.none, "failure-details"), "(missing)", "no failures: no details array");

    /* 4.4: the report */
    tlsrpt_report_id("sender.example", DAY_TEXT, "sts.example", "mailto:a@sts.example", id);
    pols = json_array();
    json_array_append_new(pols, c.sts);
    json_decref(c.tlsa);
    json_decref(c.none);
    r = tlsrpt_report_new(&m, id, pols);
    CHECK(r != NULL, "report built");
    if (!r)
        return;
    CHECK_STR(jget(r, "organization-name"), "Example Org", "organization-name");
    CHECK_STR(jget(r, "date-range.start-datetime"), "2025-12-03T00:00:00Z", "start-datetime");
    CHECK_STR(jget(r, "date-range.end-datetime"), "2025-12-03T23:59:59Z", "end-datetime");
    CHECK_STR(jget(r, "contact-info"), "tlsrpt@sender.example", "contact-info");
    CHECK_STR(jget(r, "report-id"), id, "report-id");
    CHECK_STR(jget(r, "policies"), "array:1", "policies");
    report_text = tlsrpt_report_text(r);
    json_decref(r);
    /* the strict reader accepts what the builder writes */
    devnull = fopen("/dev/null", "w");
    CHECK(report_text && tlsrpt_read_report((unsigned char *)report_text, strlen(report_text),
                                            devnull, rerr, sizeof rerr),
          "reader accepts the report: %s", rerr);
    fclose(devnull);
}

static void test_ids(void)
{
    char a[TLSRPT_ID_LEN + 1], b[TLSRPT_ID_LEN + 1], c[TLSRPT_ID_LEN + 1], f[512];

    tlsrpt_report_id("s.example", DAY_TEXT, "d.example", "mailto:x@d.example", a);
    tlsrpt_report_id("s.example", DAY_TEXT, "d.example", "mailto:x@d.example", b);
    tlsrpt_report_id("s.example", DAY_TEXT, "d.example", "https://r.d.example/", c);
    CHECK_STR(a, b, "report-id stable for retries");
    CHECK(strcmp(a, c) != 0, "report-id differs per destination");
    CHECK_INT(strlen(a), 36, "UUID length");
    CHECK(a[14] == '5' && strchr("89ab", a[19]), "UUID version 5 layout: %s", a);
    tlsrpt_filename("s.example", "d.example", DAY_TEXT, a, f, sizeof f);
    CHECK(strncmp(f, "s.example!d.example!1764720000!1764806399!", 42) == 0 &&
          strlen(f) == 42 + 32 + 8 && !strcmp(f + strlen(f) - 8, ".json.gz"),
          "5.3 file name: %s", f);
    CHECK(!tlsrpt_day_range("2025-02-30", &(int64_t){0}, &(int64_t){0}), "no 30 February");
}

static void test_gzip_and_mime(void)
{
    unsigned char *gz = NULL, raw[8192];
    size_t gzlen = 0, outlen = 0;
    char *out = NULL, err[256] = "", *mail, *p, *q, b64[16384];
    mtasts_err e = {{0}};
    tlsrpt_mail m = { "noreply@sender.example", "tlsrpt@sts.example", "sts.example",
                      "sender.example", DAY_TEXT, "0b0e6a5e-1d1c-5f00-8a00-000000000001", DAY1 };
    size_t n = 0;
    int dec;

    if (!report_text)
        return;
    CHECK_INT(tlsrpt_gzip(report_text, strlen(report_text), &gz, &gzlen, &e), MTASTS_OK, "gzip");
    CHECK(gzlen > 18 && gz[0] == 0x1f && gz[1] == 0x8b, "gzip magic");
    CHECK(tlsrpt_gunzip(gz, gzlen, 1 << 20, &out, &outlen, err, sizeof err), "gunzip: %s", err);
    CHECK(out && outlen == strlen(report_text) && !memcmp(out, report_text, outlen),
          "gzip round trip");
    free(out);
    err[0] = '\0';
    CHECK(!tlsrpt_gunzip(gz, gzlen, 10, &out, &outlen, err, sizeof err) && strstr(err, "more than"),
          "gunzip bound: %s", err);
    err[0] = '\0';
    CHECK(!tlsrpt_gunzip(gz, gzlen - 5, 1 << 20, &out, &outlen, err, sizeof err),
          "truncated gzip refused");

    /* 5.3: the mail */
    mail = tlsrpt_mime(&m, gz, gzlen);
    CHECK(mail != NULL, "MIME built");
    if (!mail) {
        free(gz);
        return;
    }
    CHECK(strstr(mail, "\nSubject: Report Domain: sts.example Submitter: sender.example "
                       "Report-ID: <0b0e6a5e-1d1c-5f00-8a00-000000000001>\n") != NULL,
          "Subject of 5.3");
    CHECK(strstr(mail, "\nTLS-Report-Domain: sts.example\n") != NULL, "TLS-Report-Domain");
    CHECK(strstr(mail, "\nTLS-Report-Submitter: sender.example\n") != NULL,
          "TLS-Report-Submitter");
    CHECK(!strncmp(mail, "From: noreply@sender.example\nTo: tlsrpt@sts.example\n", 51),
          "From and To");
    CHECK(strstr(mail, "Content-Type: multipart/report; report-type=\"tlsrpt\";") != NULL,
          "multipart/report; report-type=tlsrpt");
    CHECK(strstr(mail, "Content-Type: text/plain") != NULL, "text/plain part");
    CHECK(strstr(mail, "\nContent-Type: application/tlsrpt+gzip\n") != NULL, "gzip part");
    CHECK(strstr(mail, "filename=\"sender.example!sts.example!1764720000!1764806399!"
                       "0b0e6a5e1d1c5f008a00000000000001.json.gz\"") != NULL,
          "filename of 5.3");
    /* the attachment decodes to the report */
    p = strstr(mail, "filename=");
    p = p ? strstr(p, "\n\n") : NULL;
    q = p ? strstr(p + 2, "\n--tlsrpt-") : NULL;
    for (p = p ? p + 2 : NULL; p && p < q && n < sizeof b64 - 1; p++)
        if (*p != '\n')
            b64[n++] = *p;
    b64[n] = '\0';
    dec = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n);
    while (n > 0 && b64[n - 1] == '=') {       /* DecodeBlock counts padding */
        dec--;
        n--;
    }
    CHECK(dec == (int)gzlen && !memcmp(raw, gz, gzlen), "base64 part is the gzip report");
    CHECK(strstr(mail, "\n--tlsrpt-0b0e6a5e-1d1c-5f00-8a00-000000000001--\n") != NULL,
          "closing boundary");
    free(mail);
    free(gz);
}

static void test_sent_marks(void)
{
    mtasts_store *s = open_store();
    mtasts_tlsrpt_mark mk;
    mtasts_err err = {{0}};
    const char *u = "https://r.sts.example/v1";
    int pfd[2], gofd[2];
    pid_t kid;
    char c;

    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "sts.example", u, DAY1, &mk, &err),
              MTASTS_OK, "first claim");
    CHECK_INT(mk.prior, MTASTS_SENT_NONE, "first claim: no prior mark");
    CHECK_INT(mtasts_tlsrpt_sent_finish(s, DAY_TEXT, "sts.example", u, MTASTS_SENT_DONE, DAY1,
                                        &err), MTASTS_OK, "finish done");
    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "sts.example", u, DAY1, &mk, &err),
              MTASTS_NOT_FOUND, "sent once: a re-run does not send again");
    CHECK_INT(mk.prior, MTASTS_SENT_DONE, "re-run sees done");
    /* another destination of the same domain and day is independent */
    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "sts.example", "mailto:a@sts.example", DAY1,
                                       &mk, &err), MTASTS_OK, "other destination");
    CHECK_INT(mtasts_tlsrpt_sent_finish(s, DAY_TEXT, "sts.example", "mailto:a@sts.example",
                                        MTASTS_SENT_RETRY, DAY1, &err), MTASTS_OK, "retry");
    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "sts.example", "mailto:a@sts.example",
                                       DAY1 + 60, &mk, &err), MTASTS_OK, "retried later");
    CHECK_INT(mk.attempts, 2, "attempts counted");
    CHECK_INT(mk.first, DAY1, "first attempt kept");
    CHECK_INT(mtasts_tlsrpt_sent_finish(s, DAY_TEXT, "sts.example", "mailto:a@sts.example",
                                        MTASTS_SENT_GAVE_UP, DAY1, &err), MTASTS_OK, "give up");
    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "sts.example", "mailto:a@sts.example",
                                       DAY1, &mk, &err), MTASTS_NOT_FOUND, "given up: not sent");

    /* A run that claimed and is still sending: another run keeps off. A
     * run that crashed after submitting, before marking: sent again. */
    mtasts_store_close(&s);
    if (pipe(pfd) != 0 || pipe(gofd) != 0) {
        CHECK(0, "pipe");
        return;
    }
    if ((kid = fork()) == 0) {
        mtasts_store *ks = open_store();
        mtasts_tlsrpt_mark km;
        mtasts_err ke = {{0}};

        mtasts_tlsrpt_sent_claim(ks, DAY_TEXT, "crash.example", u, DAY1, &km, &ke);
        if (write(pfd[1], "c", 1) != 1 || read(gofd[0], &c, 1) != 1)
            _exit(3);
        mtasts_store_close(&ks);
        _exit(0);       /* "crash": no finish */
    }
    s = open_store();
    CHECK(read(pfd[0], &c, 1) == 1, "child claimed");
    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "crash.example", u, DAY1, &mk, &err),
              MTASTS_NOT_FOUND, "claimed by a live run: not sent twice at once");
    CHECK_INT(mk.prior, MTASTS_SENT_SENDING, "live claim seen");
    CHECK_INT(mk.pid, kid, "live claimer's pid");
    CHECK(write(gofd[1], "g", 1) == 1, "release child");
    waitpid(kid, NULL, 0);
    CHECK_INT(mtasts_tlsrpt_sent_claim(s, DAY_TEXT, "crash.example", u, DAY1, &mk, &err),
              MTASTS_OK, "crashed run's claim: sent again");
    CHECK_INT(mk.prior, MTASTS_SENT_SENDING, "resend knows it is one");
    CHECK_INT(mk.attempts, 2, "second attempt");

    /* retention deletes the marks with the outcomes */
    CHECK_INT(mtasts_tlsrpt_expire(s, "2025-12-04", &err), MTASTS_OK, "expire");
    CHECK_INT(mtasts_tlsrpt_sent_get(s, DAY_TEXT, "sts.example", u, &mk, &err), MTASTS_OK, "get");
    CHECK_INT(mk.prior, MTASTS_SENT_NONE, "marks expired with their day");
    mtasts_store_close(&s);
    close(pfd[0]);
    close(pfd[1]);
    close(gofd[0]);
    close(gofd[1]);
}

/* the report settings: texts with spaces from the file, never handed to
 * the helper, bounds checked */
static void test_options(void)
{
    mtasts_options o;
    mtasts_err err = {{0}};
    char path[128], buf[4096];
    FILE *f;

    mtasts_options_init(&o);
    CHECK_INT(o.tlsrpt_retention, 7, "retention default");
    CHECK_INT(o.tlsrpt_send, 1, "send default");
    CHECK_STR(o.tlsrpt_sendmail, "/usr/sbin/sendmail", "sendmail default");
    snprintf(path, sizeof path, "%s/mtasts.conf", dir);
    if (!(f = fopen(path, "w"))) {
        CHECK(0, "write %s", path);
        return;
    }
    fputs("tlsrpt_organization = Example Org Ltd\ntlsrpt_contact = mailto:tls@example.org\n"
          "tlsrpt_give_up = 5\n", f);
    fclose(f);
    CHECK_INT(mtasts_options_load(&o, path, &err), MTASTS_OK, "load");
    CHECK_STR(o.tlsrpt_organization, "Example Org Ltd", "organization with spaces");
    CHECK_STR(o.tlsrpt_contact, "mailto:tls@example.org", "contact");
    CHECK_INT(o.tlsrpt_give_up, 5, "give_up");
    mtasts_options_format(&o, buf, sizeof buf);
    CHECK(!strstr(buf, "tlsrpt_organization") && !strstr(buf, "tlsrpt_contact"),
          "texts not formatted for the helper: %s", buf);
    CHECK_INT(mtasts_options_parse(&o, "tlsrpt_retention=0", &err), MTASTS_INVALID,
              "retention 0 refused");
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_options_parse(&o, "tlsrpt_sender=a\rb@x", &err), MTASTS_INVALID,
              "control character refused (it would reach a mail header)");
    unlink(path);
}

/* sendmail: one deadline also for writing the message (a stand-in that
 * never reads a message larger than the pipe is killed in time) */
static void test_sendmail_bounded(void)
{
    static const char *const scripts[] = { "#!/bin/sh\ncat >/dev/null\n",
                                           "#!/bin/sh\nexec sleep 30\n" };
    size_t len = 512 * 1024;
    char path[128], *msg = malloc(len + 1);
    mtasts_err err = {{0}};

    if (!msg) {
        CHECK(false, "out of memory");
        return;
    }
    memset(msg, 'x', len);
    msg[len] = '\0';
    for (size_t i = 0; i < 2; i++) {
        FILE *f;
        time_t t0;
        mtasts_status st;

        snprintf(path, sizeof path, "%s/sendmail%zu", dir, i);
        CHECK((f = fopen(path, "w")) && fputs(scripts[i], f) >= 0 && fclose(f) == 0
              && chmod(path, 0700) == 0, "stand-in sendmail %zu", i);
        memset(&err, 0, sizeof err);
        t0 = time(NULL);
        st = tlsrpt_sendmail(path, NULL, msg, 2, &err);
        if (i == 0)
            CHECK(st == MTASTS_OK, "a sendmail that reads: %d %s", st, err.msg);
        else
            CHECK(st == MTASTS_TEMPFAIL && time(NULL) - t0 <= 4,
                  "a sendmail that never reads: status %d after %lld s (%s)", st,
                  (long long)(time(NULL) - t0), err.msg);
        unlink(path);
    }
    free(msg);
}

int main(void)
{
    char p[128];

    snprintf(dir, sizeof dir, "/tmp/mtasts-tlsrpt-report-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_report();
    test_ids();
    test_gzip_and_mime();
    test_sent_marks();
    test_options();
    test_sendmail_bounded();
    free(report_text);
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
    return UNIT_DONE("tlsrpt_report");
}
