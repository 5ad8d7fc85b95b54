/*
 * fetch.c - HTTPS policy fetch (RFC 8461 3.3) through libcurl.
 * Interface, rules and thread/process assumptions: fetch.h.
 */
#include "fetch.h"
#include "address.h"
#include "dns.h"
#include "domain.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* CURLOPT_PROTOCOLS_STR / CURLOPT_REDIR_PROTOCOLS_STR appeared in 7.85.0;
 * the older bitmask options are deprecated. Debian 12 ships 7.88.1. */
#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl >= 7.85.0 required (CURLOPT_PROTOCOLS_STR)"
#endif

#ifndef MTASTS_VERSION
#define MTASTS_VERSION "0.0.0"
#endif

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;
static CURL *handle;      /* one per process, see fetch.h */
static pid_t handle_pid;

static void global_init(void)
{
    /* SSL only: CURL_GLOBAL_WIN32 means nothing here. */
    init_rc = curl_global_init(CURL_GLOBAL_SSL);
}

/* CURLOPT_SSL_CTX_FUNCTION: OpenSSL checks the host name during the
 * handshake, against subjectAltName DNS names only. libcurl's own check
 * after the handshake falls back to the subject CN when a certificate has
 * no DNS name; this one fails first. host: the policy host. */
static CURLcode ssl_ctx_cb(CURL *c, void *ssl_ctx, void *host)
{
    X509_VERIFY_PARAM *p = SSL_CTX_get0_param(ssl_ctx);

    (void)c;
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                           X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(p, host, 0) != 1)
        return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

/* CURLOPT_RESOLVER_START_FUNCTION: the policy host's addresses were
 * handed over (CURLOPT_RESOLVE); any other name lookup is refused. */
static int no_resolving(void *resolver_state, void *reserved, void *userdata)
{
    (void)resolver_state;
    (void)reserved;
    (void)userdata;
    return 1;
}

/* The receiving end of a transfer. */
typedef struct body {
    CURL *curl;
    char *buf;
    size_t len, cap;
    bool checked;     /* status and type looked at (first body bytes) */
    bool too_big;
    bool bad_status;
    bool bad_type;
    bool nomem;
    long long declared; /* Content-Length of the last response, -1: none */
} body;

bool mtasts_fetch_content_type_ok(const char *ct)
{
    static const char want[] = "text/plain";

    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    ct += strspn(ct, " \t");
    return *ct == '\0' || *ct == ';';
}

mtasts_status mtasts_fetch_url(const char *domain, char *buf, size_t size,
                               mtasts_err *err)
{
    static const char host_prefix[] = "mta-sts.";
    mtasts_status st;
    int n;

    if (buf && size)
        buf[0] = '\0';
    st = mtasts_domain_check(domain, err);
    if (st != MTASTS_OK)
        return st;
    if (sizeof host_prefix - 1 + strlen(domain) > MTASTS_DOMAIN_MAX) {
        mtasts_errf(err, "mta-sts.%.64s...: host name longer than %d "
                    "characters", domain, MTASTS_DOMAIN_MAX);
        return MTASTS_INVALID;
    }
    n = snprintf(buf, size, "https://%s%s/.well-known/mta-sts.txt",
                 host_prefix, domain);
    if (!buf || n < 0 || (size_t)n >= size) {
        if (buf && size)
            buf[0] = '\0';
        mtasts_errf(err, "policy URL buffer too small");
        return MTASTS_SYSERR;
    }
    return MTASTS_OK;
}

void mtasts_fetch_tls_reason(const char *msg, char *buf, size_t size)
{
    static const char cert_problem[] = "SSL certificate problem: ";

    if (!msg || !*msg)
        snprintf(buf, size, "TLS: certificate verification failed");
    else if (strstr(msg, "host name") || strstr(msg, "hostname mismatch"))
        /* libcurl's check after the handshake, or OpenSSL's during it
         * (ssl_ctx_cb): one reason for both. */
        snprintf(buf, size, "TLS: certificate does not match the host name");
    else if (strncmp(msg, cert_problem, sizeof cert_problem - 1) == 0)
        snprintf(buf, size, "TLS: %s", msg + sizeof cert_problem - 1);
    else
        snprintf(buf, size, "TLS: %s",
                 strncmp(msg, "SSL: ", 5) == 0 ? msg + 5 : msg);
}

/* Look at status and Content-Type once headers are in: no body of a
 * refused response is read. */
static bool response_acceptable(body *b)
{
    long status = 0;
    char *ct = NULL;

    curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(b->curl, CURLINFO_CONTENT_TYPE, &ct);
    b->bad_status = status != 200;
    b->bad_type = !b->bad_status && !mtasts_fetch_content_type_ok(ct);
    return !b->bad_status && !b->bad_type;
}

/* CURLOPT_WRITEFUNCTION: collect the body, cut it at the cap while
 * streaming (a chunked body has no length to check up front). Returning
 * less than given makes libcurl stop with CURLE_WRITE_ERROR. */
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body *b = userdata;
    size_t n = size * nmemb, want;
    char *nb;

    if (!b->checked) {
        b->checked = true;
        if (!response_acceptable(b))
            return 0;
    }
    if (n > MTASTS_POLICY_MAX_BYTES - b->len) {
        b->too_big = true;
        b->len += n; /* for the report only */
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        want = b->cap ? b->cap * 2 : 4096;
        while (want < b->len + n + 1)
            want *= 2;
        if (want > MTASTS_POLICY_MAX_BYTES + 1)
            want = MTASTS_POLICY_MAX_BYTES + 1;
        nb = realloc(b->buf, want);
        if (!nb) {
            b->nomem = true;
            return 0;
        }
        b->buf = nb;
        b->cap = want;
    }
    memcpy(b->buf + b->len, ptr, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

/* CURLOPT_HEADERFUNCTION: remember the declared Content-Length for the
 * report (libcurl does not expose it once CURLOPT_MAXFILESIZE_LARGE has
 * stopped the transfer). The line is not NUL-terminated. */
static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    static const char cl[] = "content-length:";
    body *b = userdata;
    size_t n = size * nitems, i = sizeof cl - 1;
    long long v = 0;

    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        b->declared = -1; /* a new response (e.g. after 100 Continue) */
    } else if (n > i && strncasecmp(buf, cl, i) == 0) {
        while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        for (; i < n && buf[i] >= '0' && buf[i] <= '9' && v < 1000000000000LL;
             i++)
            v = v * 10 + (buf[i] - '0');
        b->declared = v;
    }
    return n;
}

static double info_ms(CURL *c, CURLINFO what)
{
    curl_off_t us = 0;

    if (curl_easy_getinfo(c, what, &us) != CURLE_OK)
        return 0;
    return (double)us / 1000.0;
}

static void fill_info(CURL *c, const body *b, mtasts_fetch_info *info)
{
    char *s = NULL;

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &info->http_status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s)
        mtasts_escape(s, info->content_type, sizeof info->content_type);
    s = NULL;
    if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &s) == CURLE_OK && s)
        snprintf(info->remote_ip, sizeof info->remote_ip, "%s", s);
    info->bytes = b->len;
    info->dns_ms = info_ms(c, CURLINFO_NAMELOOKUP_TIME_T);
    info->connect_ms = info_ms(c, CURLINFO_CONNECT_TIME_T);
    info->tls_ms = info_ms(c, CURLINFO_APPCONNECT_TIME_T);
    info->first_byte_ms = info_ms(c, CURLINFO_STARTTRANSFER_TIME_T);
    info->total_ms = info_ms(c, CURLINFO_TOTAL_TIME_T);
}

/* The per-process handle: created lazily, re-created in a forked child
 * (the parent's is freed there; it holds no connection, see
 * CURLOPT_FORBID_REUSE), reset before each use. */
static CURL *get_handle(void)
{
    if (handle && handle_pid != getpid()) {
        curl_easy_cleanup(handle);
        handle = NULL;
    }
    if (!handle) {
        handle = curl_easy_init();
        handle_pid = getpid();
    } else {
        curl_easy_reset(handle);
    }
    return handle;
}

void mtasts_fetch_cleanup(void)
{
    if (handle)
        curl_easy_cleanup(handle);
    handle = NULL;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* The policy host's addresses through the configured resolver, as a
 * CURLOPT_RESOLVE entry "host:443:a,[b],...". Non-public ones are dropped
 * unless allowed. MTASTS_OK, or MTASTS_FETCH_FAILED / MTASTS_SYSERR with
 * *kind and err set. */
static mtasts_status policy_host_entry(const mtasts_fetch_config *cfg,
                                       const char *host, struct curl_slist **out,
                                       mtasts_fetch_fail *kind, mtasts_err *err)
{
    mtasts_dns *dns = cfg ? cfg->dns : NULL, *own = NULL;
    mtasts_host_addrs a;
    mtasts_err why = {{0}};
    mtasts_status st;
    char entry[MTASTS_DOMAIN_MAX + 16 + MTASTS_DNS_ADDRS_MAX * 50];
    const char *refused = NULL;
    size_t i, used = 0;
    int n;

    *out = NULL;
    if (!dns) {
        st = mtasts_dns_open(NULL, &own, &why);
        if (st != MTASTS_OK) {
            *kind = MTASTS_FETCH_ERR_RESOLVE;
            mtasts_errf(err, "%s: cannot resolve host name: %s", host, why.msg);
            return st == MTASTS_SYSERR ? MTASTS_SYSERR : MTASTS_FETCH_FAILED;
        }
        dns = own;
    }
    st = mtasts_dns_host_addrs(dns, host, &a, &why);
    mtasts_dns_close(&own);
    if (st == MTASTS_SYSERR) {
        mtasts_errf(err, "%s: %s", host, why.msg);
        return MTASTS_SYSERR;
    }
    if (st != MTASTS_OK) {
        const char *detail = why.msg;
        size_t hl = strlen(host);

        /* "mta-sts.x: NXDOMAIN" / "mta-sts.x A: SERVFAIL": the host once. */
        if (strncmp(detail, host, hl) == 0 && (detail[hl] == ':' || detail[hl] == ' '))
            detail += hl + strspn(detail + hl, ": ");
        *kind = MTASTS_FETCH_ERR_RESOLVE;
        mtasts_errf(err, "%s: cannot resolve host name (%s)", host, detail);
        return MTASTS_FETCH_FAILED;
    }
    n = snprintf(entry, sizeof entry, "%s:443:", host);
    for (i = 0; i < a.n && n > 0 && (size_t)n < sizeof entry; i++) {
        if (!(cfg && cfg->allow_private) && !mtasts_address_public(a.addr[i])) {
            if (!refused)
                refused = a.addr[i];
            continue;
        }
        n += snprintf(entry + n, sizeof entry - (size_t)n,
                      strchr(a.addr[i], ':') ? "%s[%s]" : "%s%s",
                      used++ ? "," : "", a.addr[i]);
    }
    if (used == 0) {
        *kind = MTASTS_FETCH_ERR_ADDRESS;
        mtasts_errf(err, "%s: refused: non-public address %s "
                    "(allow_private_policy_host)", host, refused ? refused : "?");
        return MTASTS_FETCH_FAILED;
    }
    *out = curl_slist_append(NULL, entry);
    if (!*out) {
        mtasts_errf(err, "%s: out of memory", host);
        return MTASTS_SYSERR;
    }
    return MTASTS_OK;
}

static void set_options(CURL *c, const mtasts_fetch_config *cfg,
                        const char *url, struct curl_slist *headers,
                        body *b, char *errbuf, unsigned connect_ms,
                        unsigned total_ms)
{
    struct stat sb;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    /* 3.3: HTTPS only, redirects are never followed (a 3xx fails). */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* 3.3: the certificate must be valid for mta-sts.<domain> (PKIX, RFC
     * 6125); libcurl sends SNI for host names. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg && (cfg->ca_file || cfg->ca_path)) {
        /* Exactly the configured trust: NULL drops libcurl's default for
         * the other one. */
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
        curl_easy_setopt(c, CURLOPT_CAPATH, cfg->ca_path);
    } else if (stat(MTASTS_FETCH_CA_PATH_DEFAULT, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        /* The hashed directory alone: OpenSSL then reads the one issuer it
         * needs instead of parsing the whole bundle (most of a cold
         * fetch's CPU time). */
        curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(c, CURLOPT_CAPATH, MTASTS_FETCH_CA_PATH_DEFAULT);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)total_ms);
    /* Exim uses SIGALRM: libcurl must not install signal handlers. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* "" disables proxies, including the environment's. */
    curl_easy_setopt(c, CURLOPT_PROXY,
                     cfg && cfg->proxy && *cfg->proxy ? cfg->proxy : "");
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "identity");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "exim-mtasts/" MTASTS_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    /* 3.3 suggests a 64 KiB cap: here for a declared Content-Length, in
     * write_cb for what streams in. */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)MTASTS_POLICY_MAX_BYTES);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    /* No connection outlives the transfer: nothing to share after fork(),
     * and every fetch is checked from scratch. */
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
}

/* The server's Content-Type, escaped and cut short, in the reason. */
static void content_type_failure(const char *host, const char *ct, mtasts_err *err)
{
    char shown[80];

    if (ct)
        mtasts_errf(err, "%s: content-type %s", host, mtasts_escape(ct, shown, sizeof shown));
    else
        mtasts_errf(err, "%s: no content-type", host);
}

/* Reason and kind for a failed curl_easy_perform(). */
static mtasts_status perform_failure(CURL *c, CURLcode rc, const body *b,
                                     const char *host, const char *via,
                                     const char *errbuf,
                                     unsigned connect_ms, unsigned total_ms,
                                     mtasts_fetch_fail *kind, mtasts_err *err)
{
    long status = 0, oserr = 0;
    curl_off_t declared = -1, connected_us = 0;
    char why[200];
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (b->nomem || rc == CURLE_OUT_OF_MEMORY) {
        mtasts_errf(err, "%s: out of memory", host);
        return MTASTS_SYSERR;
    }
    if (b->bad_status) {
        *kind = MTASTS_FETCH_ERR_HTTP_STATUS;
        if (status >= 300 && status < 400)
            mtasts_errf(err, "%s: redirect not allowed (%ld)", host, status);
        else
            mtasts_errf(err, "%s: HTTP %ld", host, status);
        return MTASTS_FETCH_FAILED;
    }
    if (b->bad_type) {
        char *ct = NULL;

        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        *kind = MTASTS_FETCH_ERR_CONTENT_TYPE;
        content_type_failure(host, ct, err);
        return MTASTS_FETCH_FAILED;
    }
    if (b->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        *kind = MTASTS_FETCH_ERR_TOO_BIG;
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                              &declared) != CURLE_OK || declared < 0)
            declared = b->declared;
        if (declared > MTASTS_POLICY_MAX_BYTES)
            mtasts_errf(err, "%s: body exceeds %d bytes (Content-Length %lld)",
                        host, MTASTS_POLICY_MAX_BYTES, (long long)declared);
        else
            mtasts_errf(err, "%s: body exceeds %d bytes", host,
                        MTASTS_POLICY_MAX_BYTES);
        return MTASTS_FETCH_FAILED;
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        *kind = MTASTS_FETCH_ERR_TIMEOUT;
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected_us);
        if (connected_us == 0 && connect_ms < total_ms)
            mtasts_errf(err, "%s: connect timeout after %u ms", host,
                        connect_ms);
        else
            mtasts_errf(err, "%s: timeout after %u ms (%zu byte%s received)",
                        host, total_ms, b->len, b->len == 1 ? "" : "s");
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        *kind = MTASTS_FETCH_ERR_RESOLVE;
        mtasts_errf(err, "%s: cannot resolve host name", host);
        break;
    case CURLE_COULDNT_CONNECT:
        *kind = MTASTS_FETCH_ERR_CONNECT;
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
        if (oserr == ECONNREFUSED)
            mtasts_errf(err, "%s: %sconnection refused", host, via);
        else if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
            mtasts_errf(err, "%s: %s%s unreachable", host, via,
                        oserr == EHOSTUNREACH ? "host" : "network");
        else
            mtasts_errf(err, "%s: %scannot connect: %s", host, via, detail);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        *kind = MTASTS_FETCH_ERR_CERT;
        mtasts_fetch_tls_reason(detail, why, sizeof why);
        mtasts_errf(err, "%s: %s", host, why);
        break;
    case CURLE_SSL_CACERT_BADFILE:
        *kind = MTASTS_FETCH_ERR_TLS;
        mtasts_errf(err, "%s: TLS: cannot use the CA file or path: %s", host,
                    detail);
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        *kind = MTASTS_FETCH_ERR_TLS;
        mtasts_errf(err, "%s: TLS handshake failed: %s", host, detail);
        break;
    case CURLE_GOT_NOTHING:
        *kind = MTASTS_FETCH_ERR_PROTOCOL;
        mtasts_errf(err, "%s: connection closed without a response", host);
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        *kind = MTASTS_FETCH_ERR_PROTOCOL;
        mtasts_errf(err, "%s: connection failed: %s", host, detail);
        break;
    default:
        *kind = MTASTS_FETCH_ERR_PROTOCOL;
        mtasts_errf(err, "%s: %s", host, detail);
        break;
    }
    return MTASTS_FETCH_FAILED;
}

mtasts_status mtasts_fetch_policy(const mtasts_fetch_config *cfg,
                                  const char *domain, char **body_out,
                                  size_t *len_out, mtasts_fetch_info *info,
                                  mtasts_err *err)
{
    char url[MTASTS_FETCH_URL_MAX], host[MTASTS_DOMAIN_MAX + 1];
    char errbuf[CURL_ERROR_SIZE];
    mtasts_fetch_info scratch;
    mtasts_fetch_fail kind = MTASTS_FETCH_ERR_NONE;
    struct curl_slist *headers = NULL, *resolved = NULL;
    bool proxied = cfg && cfg->proxy && *cfg->proxy;
    double dns_ms = 0;
    body b;
    CURL *c;
    CURLcode rc;
    mtasts_status st;
    unsigned connect_ms, total_ms, curl_total_ms;
    long status = 0;
    char *ct = NULL;

    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    memset(&b, 0, sizeof b);
    if (body_out)
        *body_out = NULL;
    if (len_out)
        *len_out = 0;
    if (!body_out) {
        mtasts_errf(err, "fetch: no body pointer");
        return MTASTS_SYSERR;
    }
    st = mtasts_fetch_url(domain, url, sizeof url, err);
    if (st != MTASTS_OK)
        return st;
    snprintf(info->url, sizeof info->url, "%s", url);
    snprintf(host, sizeof host, "mta-sts.%s", domain);

    pthread_once(&init_once, global_init);
    if (init_rc != CURLE_OK) {
        mtasts_errf(err, "libcurl: global init failed: %s",
                    curl_easy_strerror(init_rc));
        return MTASTS_SYSERR;
    }
    c = get_handle();
    if (!c) {
        mtasts_errf(err, "libcurl: cannot create a handle");
        return MTASTS_SYSERR;
    }
    headers = curl_slist_append(NULL, "Cache-Control: no-cache");
    if (!headers) {
        mtasts_errf(err, "%s: out of memory", host);
        return MTASTS_SYSERR;
    }
    connect_ms = cfg && cfg->connect_timeout_ms
                     ? cfg->connect_timeout_ms
                     : MTASTS_FETCH_CONNECT_TIMEOUT_MS_DEFAULT;
    total_ms = cfg && cfg->total_timeout_ms
                   ? cfg->total_timeout_ms
                   : MTASTS_FETCH_TOTAL_TIMEOUT_MS_DEFAULT;
    if (total_ms > MTASTS_FETCH_TOTAL_TIMEOUT_MS_MAX)
        total_ms = MTASTS_FETCH_TOTAL_TIMEOUT_MS_MAX;
    if (connect_ms > total_ms)
        connect_ms = total_ms;

    if (curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, host) != CURLE_OK) {
        /* Without it the subject CN would count as a name: refuse. */
        curl_slist_free_all(headers);
        mtasts_errf(err, "libcurl: no OpenSSL context callback (%s): cannot "
                    "check the certificate's DNS names", mtasts_fetch_version());
        return MTASTS_SYSERR;
    }
    if (!proxied) {
        double t0 = now_ms();

        st = policy_host_entry(cfg, host, &resolved, &kind, err);
        dns_ms = now_ms() - t0;
        if (st != MTASTS_OK) {
            curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, NULL);
            curl_slist_free_all(headers);
            info->dns_ms = info->total_ms = dns_ms;
            info->fail = kind;
            return st;
        }
    }

    b.curl = c;
    b.declared = -1;
    errbuf[0] = '\0';
    /* The lookup counts against the total (3.3: within a minute). */
    curl_total_ms = dns_ms < total_ms - 1 ? total_ms - (unsigned)dns_ms : 1;
    set_options(c, cfg, url, headers, &b, errbuf,
                connect_ms < curl_total_ms ? connect_ms : curl_total_ms, curl_total_ms);
    if (resolved) {
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolved);
        curl_easy_setopt(c, CURLOPT_RESOLVER_START_FUNCTION, no_resolving);
    }
    rc = curl_easy_perform(c);
    fill_info(c, &b, info);
    if (resolved) {
        /* libcurl's times start after our lookup. */
        info->dns_ms += dns_ms;
        info->connect_ms += dns_ms;
        info->tls_ms += dns_ms;
        info->first_byte_ms += dns_ms;
        info->total_ms += dns_ms;
    }

    if (rc != CURLE_OK) {
        st = perform_failure(c, rc, &b, host,
                             cfg && cfg->proxy && *cfg->proxy ? "proxy: " : "",
                             errbuf, connect_ms, total_ms, &kind, err);
    } else {
        /* No body at all (e.g. a bare 302 or 204): check here. */
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        st = MTASTS_FETCH_FAILED;
        if (status >= 300 && status < 400) {
            kind = MTASTS_FETCH_ERR_HTTP_STATUS;
            mtasts_errf(err, "%s: redirect not allowed (%ld)", host, status);
        } else if (status != 200) {
            kind = MTASTS_FETCH_ERR_HTTP_STATUS;
            mtasts_errf(err, "%s: HTTP %ld", host, status);
        } else if (!mtasts_fetch_content_type_ok(ct)) {
            kind = MTASTS_FETCH_ERR_CONTENT_TYPE;
            content_type_failure(host, ct, err);
        } else {
            st = MTASTS_OK;
        }
    }
    /* Drop our pointers from the handle: they die with this call. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(c, CURLOPT_RESOLVE, NULL);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, NULL);
    curl_slist_free_all(headers);
    curl_slist_free_all(resolved);
    info->fail = kind;

    if (st != MTASTS_OK) {
        free(b.buf);
        return st;
    }
    if (!b.buf) {
        b.buf = malloc(1);
        if (!b.buf) {
            mtasts_errf(err, "%s: out of memory", host);
            return MTASTS_SYSERR;
        }
        b.buf[0] = '\0';
    }
    *body_out = b.buf;
    if (len_out)
        *len_out = b.len;
    return MTASTS_OK;
}

void mtasts_fetch_free(char **body)
{
    if (!body)
        return;
    free(*body);
    *body = NULL;
}

const char *mtasts_fetch_version(void)
{
    static char buf[160];
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    snprintf(buf, sizeof buf, "libcurl/%s (built with %s) %s",
             v && v->version ? v->version : "?", LIBCURL_VERSION,
             v && v->ssl_version ? v->ssl_version : "no TLS");
    return buf;
}
