/*
 * report.h - TLSRPT aggregate reports (RFC 8460 sections 4 and 5): the
 * JSON report built from the store's aggregates, its gzip form, its report
 * id and file name, and the MIME message that carries it by mail.
 *
 * Linked into the mtasts command only (jansson, zlib, OpenSSL): never into
 * Exim. Nothing here does I/O; send_cmd (tlsrpt_cmd.c) submits.
 */
#ifndef MTASTS_TLSRPT_REPORT_H
#define MTASTS_TLSRPT_REPORT_H

#include "common.h"
#include "tlsrpt_store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" */
#define TLSRPT_ID_LEN 36

/* Who reports, and for which day. */
typedef struct tlsrpt_meta {
    const char *organization;   /* organization-name */
    const char *contact;        /* contact-info */
    const char *submitter;      /* submitter domain (5.3) */
    const char *day;            /* "YYYY-MM-DD", UTC */
} tlsrpt_meta;

/* The start and end of a UTC day as unix times (end: 23:59:59, as RFC
 * 8460's example). false for a malformed day. */
bool tlsrpt_day_range(const char *day, int64_t *start, int64_t *end);

/* A report id stable for (submitter, day, domain, destination): a
 * name-based UUID (RFC 4122 version 5 layout, SHA-1 of those four), so
 * that a report sent again after a crash carries the same id (4.4: the
 * receiver can deduplicate). */
void tlsrpt_report_id(const char *submitter, const char *day, const char *domain,
                      const char *uri, char out[TLSRPT_ID_LEN + 1]);

/* One policy entry (4.3) of an aggregate. For a tlsa aggregate without
 * recorded TLSA records, tlsa_fallback (the MX hosts' TLSA RRs looked up
 * at report time, '\n'-separated, or NULL) becomes its policy-string.
 * NULL on out of memory. */
json_t *tlsrpt_policy_entry(const mtasts_tlsrpt_aggregate *a, const char *tlsa_fallback);

/* The whole report (4.4) for one policy domain: policies is an array of
 * tlsrpt_policy_entry() results (the reference is stolen). NULL on out of
 * memory. */
json_t *tlsrpt_report_new(const tlsrpt_meta *m, const char *report_id, json_t *policies);

/* json_dumps of a report, compact; malloc()ed. */
char *tlsrpt_report_text(const json_t *report);

/* gzip (RFC 1952) of data into a malloc()ed *out. */
mtasts_status tlsrpt_gzip(const void *data, size_t len, unsigned char **out, size_t *outlen,
                          mtasts_err *err);

/* 5.3: "submitter!policy-domain!begin-timestamp!end-timestamp!unique-id.json.gz";
 * unique-id is the report id without its dashes. */
void tlsrpt_filename(const char *submitter, const char *domain, const char *day,
                     const char *report_id, char *out, size_t size);

/* The mail (5.3) for one mailto: destination, as sendmail -t reads it
 * (LF line ends): From, To, Subject "Report Domain: D Submitter: S
 * Report-ID: <id>", TLS-Report-Domain, TLS-Report-Submitter,
 * multipart/report; report-type="tlsrpt" with a text/plain part and the
 * application/tlsrpt+gzip part (base64) named by tlsrpt_filename().
 * date is the Date: header's time. malloc()ed; NULL on out of memory. */
typedef struct tlsrpt_mail {
    const char *from;           /* tlsrpt_sender */
    const char *to;             /* the mailto: address */
    const char *domain;         /* policy domain */
    const char *submitter;
    const char *day;
    const char *report_id;
    int64_t date;
} tlsrpt_mail;
char *tlsrpt_mime(const tlsrpt_mail *m, const unsigned char *gz, size_t gzlen);

#endif
