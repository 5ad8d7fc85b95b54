/*
 * fetch.h - HTTPS policy fetch (RFC 8461 3.3) through libcurl.
 *
 * .nf
 * SYNOPSIS
 *     #include "fetch.h"
 *
 *     mtasts_status mtasts_fetch_policy(const mtasts_fetch_config *cfg,
 *                                       const char *domain,
 *                                       char **body_out, size_t *len_out,
 *                                       mtasts_fetch_info *info,
 *                                       mtasts_err *err);
 *     void mtasts_fetch_free(char **body);
 *     void mtasts_fetch_cleanup(void);
 *     const char *mtasts_fetch_version(void);
 *
 *     mtasts_status mtasts_fetch_url(const char *domain, char *buf,
 *                                    size_t size, mtasts_err *err);
 *     bool mtasts_fetch_content_type_ok(const char *content_type);
 *
 * DESCRIPTION
 *     mtasts_fetch_policy() GETs https://mta-sts.<domain>/.well-known/
 *     mta-sts.txt and returns the body (malloc'd, NUL-terminated, the NUL
 *     not counted in *len_out; free it with mtasts_fetch_free()). The
 *     domain must pass mtasts_domain_check() (dns.h). cfg may be NULL.
 *     info may be NULL; if given it is always filled as far as the
 *     transfer got (status, content type, bytes, timing, failure kind).
 *
 *     The rules (RFC 8461 3.3 unless noted):
 *     - PKIX validation of the certificate for mta-sts.<domain>, SNI
 *       sent; TLS 1.2 or later. The name is matched against the
 *       subjectAltName DNS names only, never the subject CN (3.3 matches
 *       DNS-IDs; RFC 9525 drops CN-IDs): OpenSSL checks the host during
 *       the handshake with X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, set
 *       through CURLOPT_SSL_CTX_FUNCTION (a libcurl without OpenSSL is
 *       refused: MTASTS_SYSERR). Trust: if cfg->ca_file or cfg->ca_path is
 *       set, exactly those (the other default is dropped, so a private CA
 *       does not add to the public ones by accident); else the hashed
 *       directory MTASTS_FETCH_CA_PATH_DEFAULT when it exists (OpenSSL
 *       reads only the issuer it needs, not the whole bundle), else
 *       libcurl's default bundle.
 *     - The policy host is resolved through cfg->dns (ldns, the
 *       configured nameservers), never the system resolver: libcurl gets
 *       the addresses (CURLOPT_RESOLVE) and may not resolve by itself.
 *       Unless cfg->allow_private, non-public addresses (address.h) are
 *       dropped, and a host with no public address is refused
 *       (MTASTS_FETCH_ERR_ADDRESS) before any connection. With a proxy
 *       the proxy resolves and connects; neither applies.
 *     - https only, also for redirects; redirects are never followed and
 *       any 3xx fails ("redirect not allowed (302)"); only 200 counts.
 *     - Content-Type must be text/plain (3.2: media type compared case-
 *       insensitively, parameters such as charset ignored); a missing
 *       Content-Type fails.
 *     - The body is capped at MTASTS_POLICY_MAX_BYTES (65536 bytes are
 *       accepted, one more is not), both for a declared Content-Length
 *       and while streaming (chunked bodies are cut at once).
 *     - No HTTP cache: nothing is stored, and "Cache-Control: no-cache"
 *       asks intermediaries (a configured proxy) not to answer from
 *       theirs. HTTP/1.1, "Accept-Encoding: identity", User-Agent
 *       "exim-mtasts/<version>".
 *     - Timeouts: cfg->connect_timeout_ms (0: 10000) and
 *       cfg->total_timeout_ms (0: 30000, capped at 60000: 3.3 says a
 *       fetch should time out within a minute; the policy host's DNS
 *       lookup counts against it).
 *     - No proxy unless cfg->proxy is set; the environment (http_proxy,
 *       https_proxy, ALL_PROXY) is ignored.
 *     - No signals (CURLOPT_NOSIGNAL): Exim uses SIGALRM.
 *     - Reasons are escaped (mtasts_errf); remote text in them (the
 *       Content-Type) is cut short.
 *
 *     Returns MTASTS_OK, MTASTS_INVALID (invalid domain: no request is
 *     made), MTASTS_SYSERR (out of memory, libcurl cannot initialise), or
 *     MTASTS_FETCH_FAILED for every failure of the fetch itself, with a
 *     precise reason in err ("TLS: certificate has expired", "HTTP 404",
 *     "redirect not allowed (302)", "content-type text/html", "body
 *     exceeds 65536 bytes", "timeout after 3000 ms", "connection refused",
 *     ...), prefixed by the URL's host. info->fail classifies it (for
 *     TLSRPT, RFC 8460 4.3: sts-webpki-invalid is MTASTS_FETCH_ERR_CERT).
 *
 * THREADS, PROCESSES
 *     curl_global_init() runs once per process, lazily, under pthread_once
 *     (so it is safe even if threads race for the first fetch). One CURL
 *     easy handle is kept per process and reset before each use: fetches
 *     must therefore not run concurrently in several threads (Exim
 *     processes are single-threaded). Connections are never kept after a
 *     transfer, so nothing is shared with a child after fork(); a child
 *     creates its own handle (the pid is checked). mtasts_fetch_cleanup()
 *     frees the handle (e.g. in a lookup's tidy function); curl's global
 *     state is left initialised, as libcurl advises for libraries.
 * .fi
 */
#ifndef MTASTS_FETCH_H
#define MTASTS_FETCH_H

#include "common.h"

#define MTASTS_FETCH_CONNECT_TIMEOUT_MS_DEFAULT 10000
#define MTASTS_FETCH_TOTAL_TIMEOUT_MS_DEFAULT 30000
/* RFC 8461 3.3: fetches "SHOULD" time out after at most one minute. */
#define MTASTS_FETCH_TOTAL_TIMEOUT_MS_MAX 60000
/* "https://mta-sts." + 245-character domain + "/.well-known/mta-sts.txt" */
#define MTASTS_FETCH_URL_MAX 300

/* The system's hashed CA directory (OpenSSL CApath, update-ca-certificates
 * keeps it): the default trust when it exists. */
#define MTASTS_FETCH_CA_PATH_DEFAULT "/etc/ssl/certs"

struct mtasts_dns;

typedef struct mtasts_fetch_config {
    const char *ca_file;
    const char *ca_path;         /* both NULL: the system's trust */
    unsigned connect_timeout_ms; /* default 10000 */
    unsigned total_timeout_ms;   /* default 30000, never above 60000 */
    const char *proxy;           /* NULL: no proxy at all, ignore env */
    struct mtasts_dns *dns;      /* resolves the policy host; NULL: one
                                    opened for the call from resolv.conf */
    bool allow_private;          /* connect to non-public addresses */
} mtasts_fetch_config;

/* What went wrong, for reports (RFC 8460 4.3 result types). */
typedef enum mtasts_fetch_fail {
    MTASTS_FETCH_ERR_NONE = 0,
    MTASTS_FETCH_ERR_RESOLVE,      /* mta-sts.<domain> did not resolve */
    MTASTS_FETCH_ERR_CONNECT,      /* refused, unreachable */
    MTASTS_FETCH_ERR_CERT,         /* PKIX validation (sts-webpki-invalid) */
    MTASTS_FETCH_ERR_TLS,          /* handshake or other TLS failure */
    MTASTS_FETCH_ERR_TIMEOUT,
    MTASTS_FETCH_ERR_HTTP_STATUS,  /* not 200 (3xx: redirect) */
    MTASTS_FETCH_ERR_CONTENT_TYPE,
    MTASTS_FETCH_ERR_TOO_BIG,
    MTASTS_FETCH_ERR_PROTOCOL,     /* closed early, bad HTTP, other */
    MTASTS_FETCH_ERR_ADDRESS,      /* only non-public addresses: refused */
} mtasts_fetch_fail;

typedef struct mtasts_fetch_info {
    char url[MTASTS_FETCH_URL_MAX];
    long http_status;        /* 0: no response */
    char content_type[128];  /* as received (escaped), "" if none */
    size_t bytes;            /* body bytes received (with the chunk that
                                crossed the cap, if it was crossed) */
    char remote_ip[64];      /* address connected to, "" if none */
    /* Milliseconds from the start, as libcurl measures them: name lookup
     * done, TCP connected, TLS handshake done, first byte, all done. */
    double dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms;
    mtasts_fetch_fail fail;
} mtasts_fetch_info;

mtasts_status mtasts_fetch_policy(const mtasts_fetch_config *cfg,
                                  const char *domain, char **body_out,
                                  size_t *len_out, mtasts_fetch_info *info,
                                  mtasts_err *err);

/* Free a body from mtasts_fetch_policy() and NULL the pointer. */
void mtasts_fetch_free(char **body);

/* Release the per-process CURL handle (it is re-created when needed). */
void mtasts_fetch_cleanup(void);

/* "libcurl/<runtime> (built with <compile-time>) <TLS library>/<ver>". */
const char *mtasts_fetch_version(void);

/* Pure helpers, exposed for the unit tests. */

/* The policy URL for domain (checked with mtasts_domain_check()). */
mtasts_status mtasts_fetch_url(const char *domain, char *buf, size_t size,
                               mtasts_err *err);

/* RFC 8461 3.2: is the Content-Type header value "text/plain", in any
 * case, optionally followed by parameters? NULL or "" is not. */
bool mtasts_fetch_content_type_ok(const char *content_type);

/* Our reason for a TLS verification message of libcurl/OpenSSL: "SSL
 * certificate problem: certificate has expired" -> "TLS: certificate has
 * expired". Writes into buf. */
void mtasts_fetch_tls_reason(const char *curl_msg, char *buf, size_t size);

#endif
