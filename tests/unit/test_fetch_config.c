/*
 * test_fetch_config.c - the pure parts of discovery: domain checking,
 * policy URL, Content-Type rule, TLS reasons, public addresses, resolver
 * configuration.
 * No network: every case is rejected or prepared before any I/O.
 */
#include "address.h"
#include "dns.h"
#include "fetch.h"
#include "unit.h"

static const struct {
    const char *domain;
    mtasts_status want;
    const char *why; /* substring of the error, NULL for OK */
} domains[] = {
    { "example.com", MTASTS_OK, NULL },
    { "EXAMPLE.Com", MTASTS_OK, NULL },
    { "a-b.c0.test", MTASTS_OK, NULL },
    { "xn--bcher-kva.example", MTASTS_OK, NULL },
    { "localhost", MTASTS_OK, NULL },
    { "1example.com", MTASTS_OK, NULL },
    { "example.123a", MTASTS_OK, NULL },
    { "", MTASTS_INVALID, "empty" },
    { ".example.com", MTASTS_INVALID, "leading dot" },
    { "example.com.", MTASTS_INVALID, "trailing dot" },
    { "example..com", MTASTS_INVALID, "empty label" },
    { ".", MTASTS_INVALID, "leading dot" },
    { "192.0.2.1", MTASTS_INVALID, "IP literal" },
    { "[192.0.2.1]", MTASTS_INVALID, "IP literal" },
    { "2001:db8::1", MTASTS_INVALID, "IP literal" },
    { "[IPv6:2001:db8::1]", MTASTS_INVALID, "IP literal" },
    { "1.2.3.04", MTASTS_INVALID, "all-numeric" },
    { "example.com:443", MTASTS_INVALID, ":port" },
    { "exa mple.com", MTASTS_INVALID, "not a letter" },
    { "exa_mple.com", MTASTS_INVALID, "not a letter" },
    { "example.com/x", MTASTS_INVALID, "not a letter" },
    { "user@example.com", MTASTS_INVALID, "not a letter" },
    { "b\xc3\xbc" "cher.example", MTASTS_INVALID, "not a letter" },
    { "ex\\.ample.com", MTASTS_INVALID, "not a letter" },
    { "-example.com", MTASTS_INVALID, "begins or ends" },
    { "example-.com", MTASTS_INVALID, "begins or ends" },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
      MTASTS_INVALID, "longer than 63" },
};

static const struct {
    const char *ct;
    bool want;
} types[] = {
    { "text/plain", true },
    { "TEXT/PLAIN", true },
    { "Text/Plain; charset=utf-8", true },
    { "text/plain;charset=us-ascii", true },
    { "text/plain ; format=flowed", true },
    { " text/plain", true },
    { "text/html", false },
    { "text/plainx", false },
    { "text/plain-ish", false },
    { "text/", false },
    { "application/octet-stream", false },
    { "", false },
    { NULL, false },
};

static const struct {
    const char *curl_msg, *want;
} tls[] = {
    { "SSL certificate problem: certificate has expired",
      "TLS: certificate has expired" },
    { "SSL certificate problem: self-signed certificate",
      "TLS: self-signed certificate" },
    { "SSL certificate problem: unable to get local issuer certificate",
      "TLS: unable to get local issuer certificate" },
    { "SSL: no alternative certificate subject name matches target host "
      "name 'mta-sts.x.test'", "TLS: certificate does not match the host name" },
    { "SSL: certificate subject name 'a' does not match target host name 'b'",
      "TLS: certificate does not match the host name" },
    /* OpenSSL's own host check (ssl_ctx_cb), as libcurl reports it. */
    { "SSL certificate problem: hostname mismatch",
      "TLS: certificate does not match the host name" },
    { "", "TLS: certificate verification failed" },
};

/* May the policy fetch connect there (allow_private_policy_host=no)? */
static const struct {
    const char *addr;
    bool public_;
} addrs[] = {
    { "192.0.1.1", true }, { "8.8.8.8", true }, { "1.1.1.1", true },
    { "172.15.255.255", true }, { "172.32.0.1", true }, { "100.63.255.255", true },
    { "100.128.0.1", true }, { "223.255.255.255", true }, { "169.253.1.1", true },
    { "2001:4860:4860::8888", true }, { "2a00:1450::1", true },
    { "::ffff:8.8.8.8", true }, { "64:ff9b::808:808", true }, { "2001:db9::1", true },
    { "127.0.0.1", false }, { "127.0.1.1", false }, { "0.0.0.0", false },
    { "0.1.2.3", false }, { "10.1.2.3", false }, { "172.16.0.1", false },
    { "172.31.255.255", false }, { "192.168.1.1", false }, { "169.254.169.254", false },
    { "100.64.0.1", false }, { "192.0.0.8", false }, { "192.0.2.1", false },
    { "198.18.0.1", false }, { "198.51.100.1", false }, { "203.0.113.1", false },
    { "224.0.0.1", false }, { "239.255.255.250", false }, { "240.0.0.1", false },
    { "255.255.255.255", false },
    { "::", false }, { "::1", false }, { "fe80::1", false }, { "febf::1", false },
    { "fec0::1", false }, { "fc00::1", false }, { "fd12:3456::1", false },
    { "ff02::1", false }, { "2001:db8::1", false }, { "100::1", false },
    { "::ffff:127.0.0.1", false }, { "::ffff:10.0.0.1", false }, { "::127.0.0.1", false },
    { "64:ff9b::7f00:1", false }, { "::ffff:169.254.169.254", false },
    { "", false }, { "localhost", false }, { "127.1", false }, { "1.2.3.4.5", false },
    { "[::1]", false },
};

int main(void)
{
    size_t i;
    char buf[MTASTS_FETCH_URL_MAX], name[300];
    mtasts_err err;
    mtasts_dns *dns = NULL;
    mtasts_status st;

    for (i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        mtasts_err_clear(&err);
        st = mtasts_domain_check(domains[i].domain, &err);
        CHECK(st == domains[i].want, "domain \"%s\": got %s, want %s (%s)",
              domains[i].domain, mtasts_status_name(st),
              mtasts_status_name(domains[i].want), err.msg);
        if (domains[i].why)
            CHECK(strstr(err.msg, domains[i].why) != NULL,
                  "domain \"%s\": reason \"%s\", want \"%s\"",
                  domains[i].domain, err.msg, domains[i].why);
        else
            CHECK_STR(err.msg, "", "no error for a valid domain");
    }
    /* Lengths: 253 is the maximum; the policy host adds "mta-sts.". */
    memset(name, 'a', sizeof name);
    for (i = 63; i < 253; i += 64)
        name[i] = '.';
    name[253] = '\0';
    CHECK_INT(mtasts_domain_check(name, NULL), MTASTS_OK, "253 characters");
    name[253] = 'a';
    name[254] = '\0';
    CHECK_INT(mtasts_domain_check(name, NULL), MTASTS_INVALID, "254 characters");
    name[245] = '\0';
    CHECK_INT(mtasts_fetch_url(name, buf, sizeof buf, NULL), MTASTS_OK,
              "URL for a 245-character domain");
    name[245] = 'a';
    name[246] = '\0';
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_fetch_url(name, buf, sizeof buf, &err), MTASTS_INVALID,
              "URL for a 246-character domain");
    CHECK(strstr(err.msg, "longer than 253") != NULL, "reason: %s", err.msg);

    CHECK_INT(mtasts_fetch_url("example.com", buf, sizeof buf, NULL),
              MTASTS_OK, "URL");
    CHECK_STR(buf, "https://mta-sts.example.com/.well-known/mta-sts.txt", "URL");
    CHECK_INT(mtasts_fetch_url("example.com", buf, 20, NULL), MTASTS_SYSERR,
              "URL buffer too small");
    CHECK_STR(buf, "", "URL buffer too small: empty");
    CHECK_INT(mtasts_fetch_url("example.com:8443", buf, sizeof buf, NULL),
              MTASTS_INVALID, "URL with a port");

    for (i = 0; i < sizeof types / sizeof types[0]; i++)
        CHECK(mtasts_fetch_content_type_ok(types[i].ct) == types[i].want,
              "content-type \"%s\": got %d, want %d",
              types[i].ct ? types[i].ct : "(null)", !types[i].want,
              types[i].want);

    for (i = 0; i < sizeof tls / sizeof tls[0]; i++) {
        mtasts_fetch_tls_reason(tls[i].curl_msg, name, sizeof name);
        CHECK_STR(name, tls[i].want, tls[i].curl_msg);
    }

    for (i = 0; i < sizeof addrs / sizeof addrs[0]; i++)
        CHECK(mtasts_address_public(addrs[i].addr) == addrs[i].public_,
              "address \"%s\": public %d, want %d", addrs[i].addr,
              !addrs[i].public_, addrs[i].public_);
    CHECK(!mtasts_address_public(NULL), "NULL address");

    /* Invalid input is refused before any I/O. */
    {
        char *body = (char *)"x";
        size_t len = 7;
        mtasts_fetch_info info;

        mtasts_err_clear(&err);
        st = mtasts_fetch_policy(NULL, "192.0.2.1", &body, &len, &info, &err);
        CHECK_INT(st, MTASTS_INVALID, "fetch of an IP literal");
        CHECK(body == NULL && len == 0, "no body on failure");
        CHECK(strstr(err.msg, "IP literal") != NULL, "reason: %s", err.msg);
        mtasts_fetch_free(&body);
        mtasts_fetch_free(NULL);
    }

    /* Resolver configuration. */
    {
        mtasts_dns_config cfg = { NULL, "127.0.0.1, ::1,192.0.2.53", 100, 1 };
        char id[MTASTS_ID_MAX + 1] = "junk";
        mtasts_dane_info dane;

        mtasts_err_clear(&err);
        CHECK_INT(mtasts_dns_open(&cfg, &dns, &err), MTASTS_OK, "nameservers");
        CHECK(dns != NULL, "handle: %s", err.msg);
        mtasts_err_clear(&err);
        st = mtasts_dns_sts_id(dns, "a..b", id, &err);
        CHECK_INT(st, MTASTS_INVALID, "sts_id of a bad domain");
        CHECK_STR(id, "", "id cleared");
        CHECK(strstr(err.msg, "empty label") != NULL, "reason: %s", err.msg);
        mtasts_err_clear(&err);
        CHECK_INT(mtasts_dns_dane(dns, "[1.2.3.4]", &dane, &err),
                  MTASTS_INVALID, "dane of an IP literal");
        {
            mtasts_host_addrs a;

            mtasts_err_clear(&err);
            CHECK_INT(mtasts_dns_host_addrs(dns, "mta-sts.[1.2.3.4]", &a, &err),
                      MTASTS_INVALID, "addresses of an invalid host");
            CHECK_INT(a.n, 0, "no addresses");
            CHECK_INT(mtasts_dns_host_addrs(NULL, "mta-sts.example.com", &a, NULL),
                      MTASTS_SYSERR, "addresses without a resolver");
        }
        mtasts_dns_close(&dns);
        CHECK(dns == NULL, "close NULLs the handle");
        mtasts_dns_close(&dns);
        mtasts_dns_close(NULL);

        cfg.nameservers = "127.0.0.1,not-an-ip";
        mtasts_err_clear(&err);
        CHECK_INT(mtasts_dns_open(&cfg, &dns, &err), MTASTS_INVALID,
                  "bad nameserver");
        CHECK(dns == NULL && strstr(err.msg, "not-an-ip"), "reason: %s",
              err.msg);

        cfg.nameservers = NULL;
        cfg.resolv_conf = "/nonexistent/resolv.conf";
        mtasts_err_clear(&err);
        CHECK_INT(mtasts_dns_open(&cfg, &dns, &err), MTASTS_SYSERR,
                  "missing resolv.conf");
        CHECK(strstr(err.msg, "/nonexistent/resolv.conf") != NULL,
              "reason: %s", err.msg);
    }

    CHECK_STR(mtasts_dane_summary_name(MTASTS_DANE_ALL), "all", "summary name");
    CHECK(strncmp(mtasts_fetch_version(), "libcurl/", 8) == 0, "version: %s",
          mtasts_fetch_version());
    CHECK(strncmp(mtasts_dns_version(), "ldns ", 5) == 0, "version: %s",
          mtasts_dns_version());
    return UNIT_DONE("fetch_config");
}
