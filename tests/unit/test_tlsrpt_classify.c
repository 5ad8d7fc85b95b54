/*
 * test_tlsrpt_classify.c - Exim's TLS failure texts as RFC 8460 result
 * types (tlsrpt_classify.h). The texts are $event_data of msg:host:defer
 * captured from real deliveries in the test world (Exim 4.96/4.98/4.100
 * with OpenSSL 3, Debian's exim4 4.96 with GnuTLS), plus OpenSSL's and
 * GnuTLS's own verification strings, which other builds may show.
 */
#include "tlsrpt_classify.h"
#include "unit.h"

#include <stdio.h>

#define NOW 1764720000
#define OPENSSL_VERIFY "TLS session: (SSL_connect): error:0A000086:SSL routines::certificate verify failed"

static mtasts_tlsrpt_cert cert(int64_t not_after, const char *names)
{
    mtasts_tlsrpt_cert c = { .seen = true, .not_after = not_after };

    snprintf(c.names, sizeof c.names, "%s", names);
    return c;
}

int main(void)
{
    mtasts_tlsrpt_cert expired = cert(NOW - 86400, "DNS=mx.enforce-expired.test");
    mtasts_tlsrpt_cert wrongname = cert(NOW + 86400, "DNS=mx.bad-policy.test");
    mtasts_tlsrpt_cert good_name = cert(NOW + 86400, "DNS=mx.enforce-selfsigned.test");
    mtasts_tlsrpt_cert wildcard = cert(NOW + 86400, "DNS=other.test;DNS=*.mx.enforce.test");
    const struct {
        const char *text;
        const mtasts_tlsrpt_cert *cert;
        const char *host, *want;
    } cases[] = {
        /* captured, OpenSSL builds */
        { OPENSSL_VERIFY, &expired, "mx.enforce-expired.test", "certificate-expired" },
        { OPENSSL_VERIFY, &wrongname, "mx.enforce-wrongname.test", "certificate-host-mismatch" },
        { OPENSSL_VERIFY, &good_name, "mx.enforce-selfsigned.test", "certificate-not-trusted" },
        { OPENSSL_VERIFY, NULL, "mx.enforce-expired.test", "certificate-not-trusted" },
        { "a TLS session is required, but the server did not offer TLS support", NULL,
          "mx.enforce-nostarttls.test", "starttls-not-supported" },
        /* captured, Debian's exim4 (GnuTLS) */
        { "TLS session: (certificate verification failed): certificate invalid", &expired,
          "mx.enforce-expired.test", "certificate-expired" },
        { "TLS session: (certificate verification failed)", &wrongname,
          "mx.enforce-wrongname.test", "certificate-host-mismatch" },
        { "TLS session: (certificate verification failed): certificate invalid", &good_name,
          "mx.enforce-selfsigned.test", "certificate-not-trusted" },
        { "TLS session: (certificate verification failed): Verification failed. The certificate differs. ",
          NULL, "mx.dane-fail.test", "certificate-not-trusted" },
        /* Exim's DANE texts (smtp.c) */
        { "DANE error: tlsa lookup DEFER", NULL, "mx.x.test", "dnssec-invalid" },
        { "DANE error: mx.dane.test lookup not DNSSEC", NULL, "mx.dane.test", "dnssec-invalid" },
        /* the libraries' own words win over the certificate */
        { "TLS session: (SSL_connect): certificate has expired", &good_name, "mx.x.test",
          "certificate-expired" },
        { "SSL verify error: depth=0 error=Hostname mismatch", NULL, "mx.x.test",
          "certificate-host-mismatch" },
        { "error=self-signed certificate", NULL, "mx.x.test", "certificate-not-trusted" },
        { "The certificate is NOT trusted. The certificate issuer is unknown.", NULL, "mx",
          "certificate-not-trusted" },
        { "The name in the certificate does not match the expected.", NULL, "mx",
          "certificate-host-mismatch" },
        /* a wildcard name covers one label only */
        { OPENSSL_VERIFY, &wildcard, "a.mx.enforce.test", "certificate-not-trusted" },
        { OPENSSL_VERIFY, &wildcard, "a.b.mx.enforce.test", "certificate-host-mismatch" },
        { OPENSSL_VERIFY, &wildcard, "mx.enforce.test", "certificate-host-mismatch" },
        /* anything else */
        { "TLS session: (SSL_connect): Connection reset by peer", NULL, "mx", "validation-failure" },
        { "a TLS session is required, but an attempt to start TLS failed", NULL, "mx",
          "validation-failure" },
        { "", NULL, "mx", "validation-failure" },
        { NULL, NULL, NULL, "validation-failure" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_STR(mtasts_tlsrpt_classify(cases[i].text, cases[i].cert, cases[i].host, NOW),
                  cases[i].want, cases[i].text ? cases[i].text : "(null)");
    CHECK(mtasts_tlsrpt_names_cover("DNS=MX.Example.COM", "mx.example.com."), "case, dot");
    CHECK(!mtasts_tlsrpt_names_cover("", "mx.example.com"), "no names");
    CHECK(!mtasts_tlsrpt_names_cover("*.", "x."), "bare wildcard");
    return UNIT_DONE("tlsrpt_classify");
}
