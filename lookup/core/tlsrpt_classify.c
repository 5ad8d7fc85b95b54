/*
 * tlsrpt_classify.c - Exim's TLS failure texts as RFC 8460 result types
 * (tlsrpt_classify.h). The texts were captured from real deliveries in the
 * test world (tests/unit/test_tlsrpt_classify.c lists them).
 */
#include "tlsrpt_classify.h"

#include <string.h>
#include <strings.h>

/* has - a case-insensitive substring test */
static bool has(const char *text, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = text; *p; p++)
        if (strncasecmp(p, word, n) == 0)
            return true;
    return false;
}

bool mtasts_tlsrpt_names_cover(const char *names, const char *host)
{
    size_t hlen = strlen(host);
    const char *p = names;

    while (hlen && host[hlen - 1] == '.')
        hlen--;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n > 4 && strncasecmp(p, "DNS=", 4) == 0)
            p += 4, n -= 4;
        if (n == hlen && strncasecmp(p, host, n) == 0)
            return true;
        if (n > 2 && p[0] == '*' && p[1] == '.') {
            const char *dot = memchr(host, '.', hlen);

            if (dot && dot > host && (size_t)(host + hlen - dot) == n - 1
                && strncasecmp(dot, p + 1, n - 1) == 0)
                return true;
        }
        p += n;
        if (*p == ';')
            p++;
    }
    return false;
}

const char *mtasts_tlsrpt_classify(const char *text, const mtasts_tlsrpt_cert *cert,
                                   const char *host, int64_t now)
{
    if (!text)
        text = "";
    /* Exim's own words (smtp.c), both TLS libraries. */
    if (has(text, "did not offer TLS support"))
        return "starttls-not-supported";
    if (has(text, "DANE error") || has(text, "lookup not DNSSEC"))
        return "dnssec-invalid";
    /* Specific verification texts: OpenSSL's X509 verify strings and
     * GnuTLS's certificate status texts. */
    if (has(text, "certificate has expired") || has(text, "uses expired certificate")
        || has(text, "certificate expired"))
        return "certificate-expired";
    if (has(text, "hostname mismatch") || has(text, "does not match the expected")
        || has(text, "name in the certificate does not match"))
        return "certificate-host-mismatch";
    if (has(text, "self-signed certificate") || has(text, "self signed certificate")
        || has(text, "unable to get local issuer") || has(text, "issuer is unknown")
        || has(text, "not trusted") || has(text, "unable to verify the first certificate"))
        return "certificate-not-trusted";
    /* "certificate verify failed" (OpenSSL), "certificate verification
     * failed" (GnuTLS): the certificate seen at tls:cert says why. */
    if (has(text, "verify failed") || has(text, "verification failed")
        || has(text, "certificate invalid")) {
        if (cert && cert->seen) {
            if (cert->not_after && cert->not_after < now)
                return "certificate-expired";
            if (host && *host && cert->names[0] && !mtasts_tlsrpt_names_cover(cert->names, host))
                return "certificate-host-mismatch";
        }
        return "certificate-not-trusted";
    }
    return "validation-failure";
}
