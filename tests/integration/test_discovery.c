/*
 * test_discovery.c - DNS discovery, DANE awareness and HTTPS fetch against
 * the test world (tests/world). Run inside it:
 *
 *     tests/world/run-in-world build/tests/test_discovery
 *
 * Each row: the hostile or broken behaviour, what it is, the outcome
 * asserted (status and a substring of the reason).
 *
 *  #  behaviour                          domain / setup              outcome
 *  -- ---------------------------------- --------------------------- ---------------------------------------
 *  TXT (mtasts_dns_sts_id, RFC 8461 3.1)
 *  1  no _mta-sts name                   nopolicy.test               NOT_FOUND "NXDOMAIN"
 *  2  domain does not exist              no-such-domain.test         NOT_FOUND "NXDOMAIN"
 *  3  _mta-sts exists, no TXT            world-ctl rr (A record)     NOT_FOUND "NODATA"
 *  4  lame delegation                    servfail.test               TEMPFAIL  "SERVFAIL"
 *  5  DNSSEC bogus (bad DS)              bogus-dnssec.test           TEMPFAIL  "SERVFAIL (DNSSEC validation failed)"
 *  6  two STSv1 records                  two-records.test            INVALID   "multiple STSv1 records"
 *  7  id of 33 characters                id-too-long.test            INVALID   "id"
 *  8  only v=STSv2                       not-sts.test                NOT_FOUND "no v=STSv1 record"
 *  9  unrelated TXT next to STSv1        other-txt.test              OK        id other1
 * 10  one record, two strings            multistring.test            OK        id multi1
 * 11  _mta-sts is a CNAME                cname.test                  OK        id cname1
 * 12  resolver returns only the CNAME    cname.test via NSD (no RD)  OK        id cname1
 * 13  silent resolver                    nameservers=$WORLD_SILENT_DNS, 500 ms x 2
 *                                                                    TEMPFAIL  "timeout after 2 tries", < 3 s
 * 14  ... again on the same handle       (ldns must not blacklist)   TEMPFAIL  "timeout after 2 tries"
 * 15  resolver REFUSED                   nameservers=$WORLD_LAME_DNS TEMPFAIL  "REFUSED"
 * 16  IP literal as domain               192.0.2.1                   INVALID   "IP literal"
 * 17  domain with a port                 enforce.test:443            INVALID   ":port"
 *  HTTPS (mtasts_fetch_policy, RFC 8461 3.3)
 * 18  302 redirect                       redirect.test               FETCH_FAILED "redirect not allowed (302)"
 * 19  404                                http404.test                FETCH_FAILED "HTTP 404"
 * 20  500                                http500.test                FETCH_FAILED "HTTP 500"
 * 21  Content-Length 70000               oversize.test               FETCH_FAILED "body exceeds 65536 bytes (Content-Length 70000)"
 * 22  chunked 200 KiB, no length         chunked-oversize.test       FETCH_FAILED "body exceeds 65536 bytes"
 * 23  1 byte every 2 s                   slow.test, total 3000 ms    FETCH_FAILED "timeout after 3000 ms", < 6 s
 * 24  text/html                          content-type.test           FETCH_FAILED "content-type text/html"
 * 25  expired certificate                https-expired.test          FETCH_FAILED "TLS: certificate has expired"
 * 26  certificate for another name       https-wrongname.test        FETCH_FAILED "TLS: certificate does not match the host name"
 * 27  self-signed certificate            https-selfsigned.test       FETCH_FAILED "TLS: self"
 * 28  TLS, then close                    https-close.test            FETCH_FAILED "connection closed without a response"
 * 29  nothing listens                    https-down.test             FETCH_FAILED "connection refused"
 * 30  no mta-sts host                    no-mtasts-host.test         FETCH_FAILED "cannot resolve host name"
 * 31  CA file that does not exist        enforce.test, ca_file=/nonexistent  FETCH_FAILED "TLS: cannot use the CA file"
 * 32  trust only a foreign CA            enforce.test, ca_file=a public root FETCH_FAILED "TLS: unable to get local issuer certificate"
 * 33  proxy in the environment           https_proxy=... set         OK (ignored)
 * 34  configured proxy is down           proxy=http://127.0.0.1:9    FETCH_FAILED "proxy: connection refused"
 * 35  IP literal as domain               [127.0.1.1]                 INVALID   "IP literal"
 * 35a CA-signed, name only in subject CN https-cnonly.test (no SAN)    FETCH_FAILED "does not match the host name"
 * 35b Content-Type with ESC, 8-bit, CR, LF content-type-hostile.test FETCH_FAILED, the reason escaped
 * 35c trust: 25-27, 32, 35a and a good one, with the default (hashed /etc/ssl/certs) and with
 *     ca_file=the bundle: the same outcome; with the bundle emptied the default still verifies;
 *     a hashed ca_path with only a foreign root   FETCH_FAILED "unable to get local issuer certificate"
 * 35d policy host on 127/8, allow_private unset  enforce.test       FETCH_FAILED "non-public address", no request
 * 35e /etc/hosts and resolv.conf say otherwise enforce.test, nameservers=$WORLD_RESOLVER
 *                                                                    OK from 127.0.1.1 (the configured resolver)
 * 35f configured resolver is silent       enforce.test, nameservers=$WORLD_SILENT_DNS
 *                                                                    FETCH_FAILED "cannot resolve host name (A: timeout"
 *     and the good cases: enforce.test (200, text/plain), charset.test
 *     (text/plain; charset=utf-8), chunked.test (chunked), ca_file=$WORLD_CA,
 *     a fetch in a forked child (handle re-created), handle reuse.
 *  DANE (mtasts_dns_dane, RFC 7672 2.2, RFC 8461 2)
 * 36  signed, TLSA 3 1 1                 dane.test                   OK ALL, mx_secure, tlsa_secure
 * 37  signed, TLSA not matching the key  dane-fail.test              OK ALL (DANE applies and will fail:
 *                                                                    MTA-STS must not override it)
 * 38  unsigned                           enforce.test                OK NONE, not mx_secure
 * 39  unsigned, two MX                   enforce-twomx.test          OK NONE, 2 hosts in preference order
 * 40  bogus                              bogus-dnssec.test           TEMPFAIL "DNSSEC validation failed"
 * 41  lame                               servfail.test               TEMPFAIL "SERVFAIL"
 * 42  domain does not exist              no-such-domain.test         NOT_FOUND "NXDOMAIN"
 * 43  silent resolver                    nameservers=$WORLD_SILENT_DNS TEMPFAIL "timeout after"
 * 44  signed MX: DANE host + plain host  dane-fail.test (world-ctl)  OK SOME
 * 45  unsigned MX -> signed DANE host    enforce-twomx.test (w-ctl)  OK NONE (TLSA seen, not counted)
 * 46  Null MX (RFC 7505)                 testing.test (world-ctl)    OK NONE, null_mx, no hosts
 * 47  no MX (implicit MX), signed        dane.test (world-ctl)       OK NONE, implicit_mx, no address
 */
#define _GNU_SOURCE /* unshare */
#include "dns.h"
#include "fetch.h"
#include "unit.h"

#include <dirent.h>
#include <netdb.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && *v ? v : dflt;
}

/* Put back what a case changed, so that the world is left as found. */
static void world_restore(const char *cmd)
{
    char line[300];

    snprintf(line, sizeof line, "%s >/dev/null", cmd);
    CHECK(system(line) == 0, "restore: %s", cmd);
}

/* ---- TXT ---------------------------------------------------------------- */

static void check_txt(mtasts_dns *dns, const char *domain, mtasts_status want,
                      const char *want_id, const char *why)
{
    char id[MTASTS_ID_MAX + 1];
    mtasts_err err = {{0}};
    mtasts_status st = mtasts_dns_sts_id(dns, domain, id, &err);

    printf("txt   %-24s %-10s %s%s%s\n", domain, mtasts_status_name(st),
           st == MTASTS_OK ? "id=" : "", st == MTASTS_OK ? id : "", err.msg);
    CHECK(st == want, "TXT %s: got %s, want %s (%s)", domain,
          mtasts_status_name(st), mtasts_status_name(want), err.msg);
    if (want_id)
        CHECK_STR(id, want_id, domain);
    else
        CHECK_STR(id, "", "no id unless OK");
    if (why)
        CHECK(strstr(err.msg, why) != NULL, "TXT %s: reason \"%s\", want \"%s\"",
              domain, err.msg, why);
}

static const struct {
    const char *domain;
    mtasts_status want;
    const char *id, *why;
} txt_cases[] = {
    { "enforce.test", MTASTS_OK, "enforce1", NULL },
    { "testing.test", MTASTS_OK, "testing1", NULL },
    { "nopolicy.test", MTASTS_NOT_FOUND, NULL, "_mta-sts.nopolicy.test: NXDOMAIN" },
    { "no-such-domain.test", MTASTS_NOT_FOUND, NULL, "NXDOMAIN" },
    { "servfail.test", MTASTS_TEMPFAIL, NULL, "_mta-sts.servfail.test: SERVFAIL" },
    { "bogus-dnssec.test", MTASTS_TEMPFAIL, NULL,
      "SERVFAIL (DNSSEC validation failed)" },
    { "two-records.test", MTASTS_INVALID, NULL, "multiple STSv1 records" },
    { "id-too-long.test", MTASTS_INVALID, NULL, "id" },
    { "not-sts.test", MTASTS_NOT_FOUND, NULL, "no v=STSv1 record among 1 TXT record" },
    { "other-txt.test", MTASTS_OK, "other1", NULL },
    { "multistring.test", MTASTS_OK, "multi1", NULL },
    { "cname.test", MTASTS_OK, "cname1", NULL },
    { "dane.test", MTASTS_OK, "dane1", NULL },
    { "192.0.2.1", MTASTS_INVALID, NULL, "IP literal" },
    { "enforce.test:443", MTASTS_INVALID, NULL, ":port" },
    { "-bad.test", MTASTS_INVALID, NULL, "begins or ends" },
};

static void test_txt(void)
{
    mtasts_dns *dns = NULL, *silent = NULL;
    mtasts_dns_config cfg = { 0 };
    mtasts_err err = {{0}};
    char ns[128];
    size_t i;
    double t0, dt;

    CHECK_INT(mtasts_dns_open(NULL, &dns, &err), MTASTS_OK, "open (resolv.conf)");
    if (!dns) {
        printf("cannot open resolver: %s\n", err.msg);
        return;
    }
    for (i = 0; i < sizeof txt_cases / sizeof txt_cases[0]; i++)
        check_txt(dns, txt_cases[i].domain, txt_cases[i].want, txt_cases[i].id,
                  txt_cases[i].why);

    /* NODATA: give _mta-sts.nopolicy.test an A record, no TXT. */
    if (system("world-ctl rr nopolicy.test _mta-sts A 192.0.2.7 >/dev/null") == 0)
        check_txt(dns, "nopolicy.test", MTASTS_NOT_FOUND, NULL,
                  "_mta-sts.nopolicy.test: no TXT record (NODATA)");
    else
        CHECK(0, "world-ctl rr failed: NODATA case not run");
    world_restore("world-ctl rr nopolicy.test _mta-sts A --delete");
    mtasts_dns_close(&dns);

    /* An authoritative server without recursion returns only the CNAME
     * (the target is another zone): the target must be asked for. */
    snprintf(ns, sizeof ns, "%s", env_or("WORLD_AUTH_DNS", "127.0.0.2"));
    cfg.nameservers = ns;
    CHECK_INT(mtasts_dns_open(&cfg, &dns, &err), MTASTS_OK, "open (NSD)");
    if (dns) {
        check_txt(dns, "cname.test", MTASTS_OK, "cname1", NULL);
        mtasts_dns_close(&dns);
    }

    /* A resolver that never answers: bounded TEMPFAIL, twice on one handle
     * (ldns would otherwise mark the server dead and fail at once with
     * "no nameservers"). */
    snprintf(ns, sizeof ns, "%s", env_or("WORLD_SILENT_DNS", "127.0.0.54"));
    cfg.nameservers = ns;
    cfg.timeout_ms = 500;
    cfg.retries = 2;
    CHECK_INT(mtasts_dns_open(&cfg, &silent, &err), MTASTS_OK, "open (silent)");
    if (silent) {
        for (i = 0; i < 2; i++) {
            t0 = now_s();
            check_txt(silent, "enforce.test", MTASTS_TEMPFAIL, NULL,
                      "_mta-sts.enforce.test: timeout after 2 tries (500 ms each)");
            dt = now_s() - t0;
            CHECK(dt < 3.0, "silent DNS: %.2f s, want < 3 s", dt);
        }
        mtasts_dns_close(&silent);
    }

    /* A server that refuses. */
    snprintf(ns, sizeof ns, "%s", env_or("WORLD_LAME_DNS", "127.0.0.55"));
    cfg.nameservers = ns;
    cfg.timeout_ms = 2000;
    CHECK_INT(mtasts_dns_open(&cfg, &dns, &err), MTASTS_OK, "open (lame)");
    if (dns) {
        check_txt(dns, "servfail.test", MTASTS_TEMPFAIL, NULL, "REFUSED");
        mtasts_dns_close(&dns);
    }
}

/* ---- HTTPS -------------------------------------------------------------- */

static void check_fetch(const mtasts_fetch_config *cfg, const char *domain,
                        mtasts_status want, const char *why,
                        const char *body_has, mtasts_fetch_info *info_out)
{
    char *body = NULL;
    size_t len = 0;
    mtasts_fetch_info info;
    mtasts_err err = {{0}};
    mtasts_status st;

    st = mtasts_fetch_policy(cfg, domain, &body, &len, &info, &err);
    printf("fetch %-24s %-12s http=%ld type=\"%s\" bytes=%zu total=%.0fms "
           "(dns %.0f, connect %.0f, tls %.0f, first byte %.0f) %s\n",
           domain, mtasts_status_name(st), info.http_status, info.content_type,
           info.bytes, info.total_ms, info.dns_ms, info.connect_ms, info.tls_ms,
           info.first_byte_ms, err.msg);
    CHECK(st == want, "fetch %s: got %s, want %s (%s)", domain,
          mtasts_status_name(st), mtasts_status_name(want), err.msg);
    for (const char *p = err.msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
            CHECK(0, "fetch %s: byte 0x%02x in the reason", domain, (unsigned char)*p);
            break;
        }
    if (why)
        CHECK(strstr(err.msg, why) != NULL,
              "fetch %s: reason \"%s\", want \"%s\"", domain, err.msg, why);
    if (st == MTASTS_OK) {
        CHECK(body && strlen(body) == len, "fetch %s: NUL-terminated body",
              domain);
        CHECK(info.http_status == 200, "fetch %s: status %ld", domain,
              info.http_status);
        CHECK(info.fail == MTASTS_FETCH_ERR_NONE, "fetch %s: fail kind %d",
              domain, (int)info.fail);
        if (body_has)
            CHECK(body && strstr(body, body_has), "fetch %s: body lacks \"%s\"",
                  domain, body_has);
    } else {
        CHECK(body == NULL && len == 0, "fetch %s: no body on failure", domain);
        if (want == MTASTS_FETCH_FAILED)
            CHECK(info.fail != MTASTS_FETCH_ERR_NONE,
                  "fetch %s: failure kind set", domain);
    }
    mtasts_fetch_free(&body);
    CHECK(body == NULL, "fetch_free NULLs");
    if (info_out)
        *info_out = info;
}

static const struct {
    const char *domain;
    mtasts_status want;
    const char *why, *body_has;
    mtasts_fetch_fail kind;
} fetch_cases[] = {
    { "enforce.test", MTASTS_OK, NULL, "mode: enforce", MTASTS_FETCH_ERR_NONE },
    { "testing.test", MTASTS_OK, NULL, "mode: testing", MTASTS_FETCH_ERR_NONE },
    { "charset.test", MTASTS_OK, NULL, "mx: mx.charset.test", MTASTS_FETCH_ERR_NONE },
    { "chunked.test", MTASTS_OK, NULL, "max_age: 86400", MTASTS_FETCH_ERR_NONE },
    { "redirect.test", MTASTS_FETCH_FAILED,
      "mta-sts.redirect.test: redirect not allowed (302)", NULL,
      MTASTS_FETCH_ERR_HTTP_STATUS },
    { "http404.test", MTASTS_FETCH_FAILED, "mta-sts.http404.test: HTTP 404", NULL,
      MTASTS_FETCH_ERR_HTTP_STATUS },
    { "http500.test", MTASTS_FETCH_FAILED, "HTTP 500", NULL,
      MTASTS_FETCH_ERR_HTTP_STATUS },
    { "oversize.test", MTASTS_FETCH_FAILED,
      "body exceeds 65536 bytes (Content-Length 70000)", NULL,
      MTASTS_FETCH_ERR_TOO_BIG },
    { "chunked-oversize.test", MTASTS_FETCH_FAILED, "body exceeds 65536 bytes",
      NULL, MTASTS_FETCH_ERR_TOO_BIG },
    { "content-type.test", MTASTS_FETCH_FAILED, "content-type text/html", NULL,
      MTASTS_FETCH_ERR_CONTENT_TYPE },
    { "https-expired.test", MTASTS_FETCH_FAILED, "TLS: certificate has expired",
      NULL, MTASTS_FETCH_ERR_CERT },
    { "https-wrongname.test", MTASTS_FETCH_FAILED,
      "TLS: certificate does not match the host name", NULL,
      MTASTS_FETCH_ERR_CERT },
    { "https-selfsigned.test", MTASTS_FETCH_FAILED, "TLS: self", NULL,
      MTASTS_FETCH_ERR_CERT },
    { "https-close.test", MTASTS_FETCH_FAILED,
      "connection closed without a response", NULL, MTASTS_FETCH_ERR_PROTOCOL },
    { "https-down.test", MTASTS_FETCH_FAILED, "mta-sts.https-down.test: "
      "connection refused", NULL, MTASTS_FETCH_ERR_CONNECT },
    { "no-mtasts-host.test", MTASTS_FETCH_FAILED, "cannot resolve host name",
      NULL, MTASTS_FETCH_ERR_RESOLVE },
    { "https-cnonly.test", MTASTS_FETCH_FAILED,
      "mta-sts.https-cnonly.test: TLS: certificate does not match the host name", NULL,
      MTASTS_FETCH_ERR_CERT },
    { "content-type-hostile.test", MTASTS_FETCH_FAILED,
      "content-type text/\\x1b[2Jhtml\\xc3\\xa9\\xff\\x9b", NULL,
      MTASTS_FETCH_ERR_CONTENT_TYPE },
    { "[127.0.1.1]", MTASTS_INVALID, "IP literal", NULL, MTASTS_FETCH_ERR_NONE },
    { "enforce.test.", MTASTS_INVALID, "trailing dot", NULL, MTASTS_FETCH_ERR_NONE },
};

/* One public root (ca-certificates), which did not sign the world's
 * certificates. */
static const char *other_ca(void)
{
    static char path[512];
    DIR *dir = opendir("/usr/share/ca-certificates/mozilla");
    struct dirent *e;

    path[0] = '\0';
    while (dir && (e = readdir(dir)) != NULL)
        if (strstr(e->d_name, ".crt")) {
            snprintf(path, sizeof path, "/usr/share/ca-certificates/mozilla/%s",
                     e->d_name);
            break;
        }
    if (dir)
        closedir(dir);
    return path[0] ? path : NULL;
}

/* Run check() in a child with its own mount namespace in which each
 * binds[i][0] is bind-mounted over binds[i][1]: the system's files say
 * something else there, the world is left alone. */
static void in_child_with(const char *const binds[][2], size_t n, void (*check)(void),
                          const char *what)
{
    pid_t pid;
    int wst = 0;
    size_t i;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        unit_passed = unit_failed = 0;
        CHECK(unshare(CLONE_NEWNS) == 0 &&
                  mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0,
              "%s: private mount namespace", what);
        for (i = 0; i < n && !unit_failed; i++)
            CHECK(mount(binds[i][0], binds[i][1], "none", MS_BIND, NULL) == 0,
                  "%s: bind %s over %s", what, binds[i][0], binds[i][1]);
        if (!unit_failed)
            check();
        mtasts_fetch_cleanup();
        fflush(stdout);
        _exit(unit_failed ? 1 : 0);
    }
    CHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) &&
              WEXITSTATUS(wst) == 0, "%s (child status %d)", what, wst);
}

/* A file with this text, for a bind mount; its path is in path. */
static bool temp_file(char path[64], const char *text)
{
    int fd;

    snprintf(path, 64, "/tmp/test_discovery.XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return false;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return false;
    }
    return close(fd) == 0;
}

/* 35e: /etc/hosts puts mta-sts.enforce.test where nothing listens and
 * /etc/resolv.conf names the silent server; the fetch must use the
 * configured resolver and get the world's policy from 127.0.1.1. */
static void fetch_via_configured_resolver(void)
{
    mtasts_dns_config dc = { 0 };
    mtasts_fetch_config cfg = { 0 };
    mtasts_fetch_info info;
    mtasts_err err = {{0}};
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char ip[INET_ADDRSTRLEN] = "";

    /* The system resolver really answers otherwise. */
    if (getaddrinfo("mta-sts.enforce.test", "443", &hints, &ai) == 0 && ai) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof ip);
        freeaddrinfo(ai);
    }
    CHECK_STR(ip, "127.0.1.2", "getaddrinfo(mta-sts.enforce.test) from /etc/hosts");
    dc.nameservers = env_or("WORLD_RESOLVER", "127.0.0.53");
    dc.timeout_ms = 1000;
    CHECK_INT(mtasts_dns_open(&dc, &cfg.dns, &err), MTASTS_OK, "open (configured)");
    cfg.allow_private = true;
    cfg.total_timeout_ms = 5000;
    check_fetch(&cfg, "enforce.test", MTASTS_OK, NULL, "mode: enforce", &info);
    CHECK_STR(info.remote_ip, env_or("WORLD_HTTPS_IP", "127.0.1.1"),
              "connected to the configured resolver's address");
    mtasts_dns_close(&cfg.dns);
}

/* 35c: the same verdict from the hashed directory (the default), the
 * bundle as ca_file, and the directory as ca_path. */
static const struct {
    const char *domain, *why;
} trust_cases[] = {
    { "enforce.test", NULL },
    { "https-expired.test", "TLS: certificate has expired" },
    { "https-wrongname.test", "TLS: certificate does not match the host name" },
    { "https-selfsigned.test", "TLS: self-signed certificate" },
    { "https-cnonly.test", "TLS: certificate does not match the host name" },
};

static void trust_matrix(void)
{
    static const struct { const char *file, *path, *name; } settings[] = {
        { NULL, NULL, "default" },
        { "/etc/ssl/certs/ca-certificates.crt", NULL, "ca_file=bundle" },
        { NULL, "/etc/ssl/certs", "ca_path=/etc/ssl/certs" },
    };
    mtasts_fetch_config cfg = { .allow_private = true, .total_timeout_ms = 5000 };
    mtasts_fetch_info info;
    size_t i, j;

    for (j = 0; j < sizeof settings / sizeof settings[0]; j++) {
        cfg.ca_file = settings[j].file;
        cfg.ca_path = settings[j].path;
        printf("trust: %s\n", settings[j].name);
        for (i = 0; i < sizeof trust_cases / sizeof trust_cases[0]; i++) {
            check_fetch(&cfg, trust_cases[i].domain,
                        trust_cases[i].why ? MTASTS_FETCH_FAILED : MTASTS_OK,
                        trust_cases[i].why, NULL, &info);
            CHECK_INT(info.fail, trust_cases[i].why ? MTASTS_FETCH_ERR_CERT
                                                    : MTASTS_FETCH_ERR_NONE,
                      trust_cases[i].domain);
        }
    }
}

/* 35c: with the bundle emptied, the default still verifies (it reads the
 * hashed directory only); the bundle as ca_file no longer does. */
static void trust_without_bundle(void)
{
    mtasts_fetch_config cfg = { .allow_private = true, .total_timeout_ms = 5000 };

    check_fetch(&cfg, "enforce.test", MTASTS_OK, NULL, "mode: enforce", NULL);
    check_fetch(&cfg, "https-selfsigned.test", MTASTS_FETCH_FAILED,
                "TLS: self-signed certificate", NULL, NULL);
    cfg.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED, NULL, NULL, NULL);
}

static long https_count(const char *domain)
{
    char cmd[128], line[32] = "";
    FILE *p;

    snprintf(cmd, sizeof cmd, "world-ctl https-count %s", domain);
    p = popen(cmd, "r");
    if (!p || !fgets(line, sizeof line, p))
        line[0] = '\0';
    if (p)
        pclose(p);
    return line[0] ? atol(line) : -1;
}

/* 35c: a hashed directory that holds one public root, not the world CA:
 * the world's certificates have an unknown issuer there, as with ca_file. */
static void trust_foreign_ca_path(void)
{
    mtasts_fetch_config cfg = { .allow_private = true, .total_timeout_ms = 5000 };
    mtasts_fetch_info info;
    char dir[] = "/tmp/test_discovery.capath.XXXXXX", cmd[1200];
    const char *foreign = other_ca();

    CHECK(foreign && mkdtemp(dir), "a CA directory with a foreign root");
    if (!foreign || !dir[0])
        return;
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/foreign.pem' && openssl rehash '%s'", foreign, dir, dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    cfg.ca_path = dir;
    check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED,
                "TLS: unable to get local issuer certificate", NULL, &info);
    CHECK_INT(info.fail, MTASTS_FETCH_ERR_CERT, "foreign CA path kind");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
}

static void test_fetch_security(void)
{
    mtasts_fetch_config cfg = { .total_timeout_ms = 5000 };
    mtasts_fetch_info info;
    char hosts[64], resolv[64], empty[64], line[128];
    long before;

    /* 35d: the default refuses the world's 127/8 policy host, before any
     * connection. */
    before = https_count("enforce.test");
    CHECK(before >= 0, "world-ctl https-count");
    check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED,
                "mta-sts.enforce.test: refused: non-public address 127.0.1.1", NULL, &info);
    CHECK_INT(info.fail, MTASTS_FETCH_ERR_ADDRESS, "non-public kind");
    CHECK_INT(https_count("enforce.test"), before, "no request to a refused address");

    trust_matrix();
    trust_foreign_ca_path();

    /* The policy host's lookup goes to the configured (here: silent)
     * resolver: a bounded DNS failure, not the system resolver's answer. */
    {
        mtasts_dns_config dc = { .nameservers = env_or("WORLD_SILENT_DNS", "127.0.0.54"),
                                 .timeout_ms = 300, .retries = 1 };
        mtasts_err err = {{0}};
        double t0 = now_s();

        CHECK_INT(mtasts_dns_open(&dc, &cfg.dns, &err), MTASTS_OK, "open (silent)");
        cfg.allow_private = true;
        check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED,
                    "mta-sts.enforce.test: cannot resolve host name (A: timeout after 1 try",
                    NULL, &info);
        CHECK_INT(info.fail, MTASTS_FETCH_ERR_RESOLVE, "silent resolver kind");
        CHECK(now_s() - t0 < 3.0, "silent resolver: bounded");
        mtasts_dns_close(&cfg.dns);
        cfg.allow_private = false;
    }

    snprintf(line, sizeof line, "127.0.0.1 localhost\n127.0.1.2 mta-sts.enforce.test\n");
    if (temp_file(hosts, line)) {
        snprintf(line, sizeof line, "nameserver %s\n", env_or("WORLD_SILENT_DNS", "127.0.0.54"));
        if (temp_file(resolv, line)) {
            const char *const binds[][2] = { { hosts, "/etc/hosts" },
                                             { resolv, "/etc/resolv.conf" } };

            in_child_with(binds, 2, fetch_via_configured_resolver,
                          "fetch through the configured resolver");
            unlink(resolv);
        } else {
            CHECK(0, "temp resolv.conf");
        }
        unlink(hosts);
    } else {
        CHECK(0, "temp hosts file");
    }
    if (temp_file(empty, "")) {
        const char *const binds[][2] = { { empty, "/etc/ssl/certs/ca-certificates.crt" } };

        in_child_with(binds, 1, trust_without_bundle, "default trust without the bundle");
        unlink(empty);
    } else {
        CHECK(0, "temp empty file");
    }
}

static void test_fetch(void)
{
    mtasts_fetch_config cfg = { 0 };
    mtasts_fetch_info info;
    size_t i;
    double t0, dt;
    pid_t pid;
    int wst = 0;

    cfg.connect_timeout_ms = 5000;
    cfg.total_timeout_ms = 10000;
    cfg.allow_private = true; /* the world is on 127/8 */
    for (i = 0; i < sizeof fetch_cases / sizeof fetch_cases[0]; i++) {
        t0 = now_s();
        check_fetch(&cfg, fetch_cases[i].domain, fetch_cases[i].want,
                    fetch_cases[i].why, fetch_cases[i].body_has, &info);
        dt = now_s() - t0;
        CHECK(info.fail == fetch_cases[i].kind, "fetch %s: kind %d, want %d",
              fetch_cases[i].domain, (int)info.fail, (int)fetch_cases[i].kind);
        /* Nothing here should wait for a timeout: the cap cuts the chunked
         * body as it streams, errors are immediate. */
        CHECK(dt < 5.0, "fetch %s took %.2f s", fetch_cases[i].domain, dt);
        if (strcmp(fetch_cases[i].domain, "chunked-oversize.test") == 0)
            CHECK(info.bytes < 80 * 1024, "chunked-oversize: read %zu bytes",
                  info.bytes);
        if (strcmp(fetch_cases[i].domain, "charset.test") == 0)
            CHECK_STR(info.content_type, "text/plain; charset=utf-8",
                      "charset content type");
    }

    /* A slow body hits the total timeout; only an upper bound is checked. */
    cfg.total_timeout_ms = 3000;
    t0 = now_s();
    check_fetch(&cfg, "slow.test", MTASTS_FETCH_FAILED,
                "mta-sts.slow.test: timeout after 3000 ms", NULL, &info);
    dt = now_s() - t0;
    CHECK(dt < 6.0, "slow.test: %.2f s, want < 6 s", dt);
    CHECK_INT(info.fail, MTASTS_FETCH_ERR_TIMEOUT, "slow.test kind");
    cfg.total_timeout_ms = 10000;

    /* Trust: the world CA given explicitly; a CA file that is not there;
     * a CA file without the world CA. */
    cfg.ca_file = getenv("WORLD_CA");
    CHECK(cfg.ca_file != NULL, "WORLD_CA set");
    if (cfg.ca_file)
        check_fetch(&cfg, "enforce.test", MTASTS_OK, NULL, "mode: enforce", NULL);
    cfg.ca_file = "/nonexistent/ca.pem";
    check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED,
                "TLS: cannot use the CA file or path", NULL, &info);
    CHECK_INT(info.fail, MTASTS_FETCH_ERR_TLS, "missing CA file kind");
    cfg.ca_file = other_ca();
    CHECK(cfg.ca_file != NULL, "a public CA certificate to trust instead");
    if (cfg.ca_file) {
        check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED,
                    "TLS: unable to get local issuer certificate", NULL, &info);
        CHECK_INT(info.fail, MTASTS_FETCH_ERR_CERT, "foreign CA kind");
    }
    cfg.ca_file = NULL;

    /* Proxies: the environment is ignored; a configured one is used. */
    setenv("https_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    check_fetch(&cfg, "enforce.test", MTASTS_OK, NULL, "mode: enforce", NULL);
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    cfg.proxy = "http://127.0.0.1:9";
    check_fetch(&cfg, "enforce.test", MTASTS_FETCH_FAILED,
                "proxy: connection refused", NULL, NULL);
    cfg.proxy = NULL;

    /* A forked child makes its own handle and fetches. */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char *body = NULL;
        size_t len;
        mtasts_err err = {{0}};
        mtasts_status st = mtasts_fetch_policy(&cfg, "enforce.test", &body,
                                               &len, NULL, &err);

        mtasts_fetch_free(&body);
        mtasts_fetch_cleanup();
        _exit(st == MTASTS_OK ? 0 : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) &&
              WEXITSTATUS(wst) == 0,
          "fetch in a forked child (status %d)", wst);
    /* And the parent's handle still works. */
    check_fetch(&cfg, "enforce.test", MTASTS_OK, NULL, "mx: mx1.enforce.test",
                NULL);
}

/* ---- DANE --------------------------------------------------------------- */

static void print_dane(const char *domain, mtasts_status st,
                       const mtasts_dane_info *d, const char *msg)
{
    size_t i;

    printf("dane  %-24s %-10s summary=%s mx_secure=%d implicit=%d null=%d %s\n",
           domain, mtasts_status_name(st), mtasts_dane_summary_name(d->summary),
           d->mx_secure, d->implicit_mx, d->null_mx, msg);
    for (i = 0; i < d->n_hosts; i++)
        printf("        %u %s addr=%d/%s tlsa=%u usable=%u secure=%d dane=%d\n",
               d->hosts[i].preference, d->hosts[i].name, d->hosts[i].addr_found,
               d->hosts[i].addr_secure ? "secure" : "insecure",
               d->hosts[i].tlsa_count, d->hosts[i].tlsa_usable,
               d->hosts[i].tlsa_secure, d->hosts[i].dane);
}

static mtasts_status run_dane(mtasts_dns *dns, const char *domain,
                              mtasts_dane_info *d, mtasts_err *err)
{
    mtasts_status st = mtasts_dns_dane(dns, domain, d, err);

    print_dane(domain, st, d, err->msg);
    return st;
}

static void test_dane(void)
{
    mtasts_dns *dns = NULL;
    mtasts_dns_config cfg = { 0 };
    mtasts_dane_info d;
    mtasts_err err = {{0}};
    mtasts_status st;
    char ns[64];
    double t0, dt;

    CHECK_INT(mtasts_dns_open(NULL, &dns, &err), MTASTS_OK, "open");
    if (!dns)
        return;

    st = run_dane(dns, "dane.test", &d, &err);
    CHECK_INT(st, MTASTS_OK, "dane.test status");
    CHECK_INT(d.summary, MTASTS_DANE_ALL, "dane.test summary");
    CHECK(d.mx_secure, "dane.test: MX RRset secure");
    CHECK_INT(d.n_hosts, 1, "dane.test hosts");
    CHECK_STR(d.hosts[0].name, "mx.dane.test", "dane.test host");
    CHECK(d.hosts[0].addr_secure && d.hosts[0].tlsa_secure &&
              d.hosts[0].tlsa_count == 1 && d.hosts[0].tlsa_usable == 1 &&
              d.hosts[0].dane,
          "dane.test: authenticated usable TLSA");

    mtasts_err_clear(&err);
    st = run_dane(dns, "dane-fail.test", &d, &err);
    CHECK_INT(st, MTASTS_OK, "dane-fail.test status");
    CHECK_INT(d.summary, MTASTS_DANE_ALL, "dane-fail.test summary");

    mtasts_err_clear(&err);
    st = run_dane(dns, "enforce.test", &d, &err);
    CHECK_INT(st, MTASTS_OK, "enforce.test status");
    CHECK_INT(d.summary, MTASTS_DANE_NONE, "enforce.test summary");
    CHECK(!d.mx_secure, "enforce.test: MX RRset insecure");
    CHECK(d.n_hosts == 1 && !d.hosts[0].tlsa_looked && !d.hosts[0].dane &&
              d.hosts[0].addr_found && !d.hosts[0].addr_secure,
          "enforce.test: insecure address, no TLSA lookup");

    mtasts_err_clear(&err);
    st = run_dane(dns, "enforce-twomx.test", &d, &err);
    CHECK_INT(st, MTASTS_OK, "enforce-twomx.test status");
    CHECK_INT(d.summary, MTASTS_DANE_NONE, "enforce-twomx.test summary");
    CHECK(d.n_hosts == 2 && d.hosts[0].preference == 10 &&
              d.hosts[1].preference == 20 &&
              strcmp(d.hosts[0].name, "mx1.enforce-twomx.test") == 0,
          "enforce-twomx.test: two hosts in preference order");

    mtasts_err_clear(&err);
    st = run_dane(dns, "bogus-dnssec.test", &d, &err);
    CHECK_INT(st, MTASTS_TEMPFAIL, "bogus-dnssec.test status");
    CHECK(strstr(err.msg, "bogus-dnssec.test MX: SERVFAIL (DNSSEC validation "
                          "failed)") != NULL, "reason: %s", err.msg);

    mtasts_err_clear(&err);
    st = run_dane(dns, "servfail.test", &d, &err);
    CHECK_INT(st, MTASTS_TEMPFAIL, "servfail.test status");
    CHECK(strstr(err.msg, "SERVFAIL") != NULL, "reason: %s", err.msg);

    mtasts_err_clear(&err);
    st = run_dane(dns, "no-such-domain.test", &d, &err);
    CHECK_INT(st, MTASTS_NOT_FOUND, "no-such-domain.test status");
    CHECK(strstr(err.msg, "NXDOMAIN") != NULL, "reason: %s", err.msg);

    /* Changed zones (world-ctl re-signs, reloads NSD, flushes unbound). */
    if (system("world-ctl rr dane-fail.test @ MX '10 mx.dane-fail.test.' "
               "'20 mx1.enforce.test.' >/dev/null") == 0) {
        mtasts_err_clear(&err);
        st = run_dane(dns, "dane-fail.test", &d, &err);
        CHECK_INT(st, MTASTS_OK, "mixed MX status");
        CHECK_INT(d.summary, MTASTS_DANE_SOME, "mixed MX: one host of two");
        CHECK(d.n_hosts == 2 && d.hosts[0].dane && !d.hosts[1].dane,
              "mixed MX: DANE on the signed host only");
    } else {
        CHECK(0, "world-ctl rr failed: mixed MX case not run");
    }
    world_restore("world-ctl rr dane-fail.test @ MX '10 mx.dane-fail.test.'");
    if (system("world-ctl rr enforce-twomx.test @ MX '10 mx.dane.test.' "
               ">/dev/null") == 0) {
        mtasts_err_clear(&err);
        st = run_dane(dns, "enforce-twomx.test", &d, &err);
        CHECK_INT(st, MTASTS_OK, "insecure MX to a DANE host status");
        CHECK_INT(d.summary, MTASTS_DANE_NONE,
                  "insecure MX to a DANE host: not DANE-protected");
        CHECK(!d.mx_secure && d.n_hosts == 1 && d.hosts[0].tlsa_secure &&
                  !d.hosts[0].dane,
              "insecure MX to a DANE host: TLSA seen, not counted");
    } else {
        CHECK(0, "world-ctl rr failed: insecure MX case not run");
    }
    world_restore("world-ctl rr enforce-twomx.test @ MX "
                  "'10 mx1.enforce-twomx.test.' '20 mx2.enforce-twomx.test.'");
    if (system("world-ctl rr testing.test @ MX '0 .' >/dev/null") == 0) {
        mtasts_err_clear(&err);
        st = run_dane(dns, "testing.test", &d, &err);
        CHECK_INT(st, MTASTS_OK, "null MX status");
        CHECK(d.null_mx && d.n_hosts == 0 && d.summary == MTASTS_DANE_NONE,
              "null MX: no hosts, NONE");
    } else {
        CHECK(0, "world-ctl rr failed: null MX case not run");
    }
    world_restore("world-ctl rr testing.test @ MX '10 mx.testing.test.'");
    if (system("world-ctl rr dane.test @ MX --delete >/dev/null") == 0) {
        mtasts_err_clear(&err);
        st = run_dane(dns, "dane.test", &d, &err);
        CHECK_INT(st, MTASTS_OK, "implicit MX status");
        CHECK(d.implicit_mx && d.mx_secure && d.n_hosts == 1 &&
                  strcmp(d.hosts[0].name, "dane.test") == 0 &&
                  !d.hosts[0].addr_found && d.summary == MTASTS_DANE_NONE,
              "implicit MX: the domain itself, no address, NONE");
    } else {
        CHECK(0, "world-ctl rr failed: implicit MX case not run");
    }
    world_restore("world-ctl rr dane.test @ MX '10 mx.dane.test.'");
    mtasts_dns_close(&dns);

    snprintf(ns, sizeof ns, "%s", env_or("WORLD_SILENT_DNS", "127.0.0.54"));
    cfg.nameservers = ns;
    cfg.timeout_ms = 300;
    cfg.retries = 1;
    CHECK_INT(mtasts_dns_open(&cfg, &dns, &err), MTASTS_OK, "open (silent)");
    if (dns) {
        mtasts_err_clear(&err);
        t0 = now_s();
        st = run_dane(dns, "dane.test", &d, &err);
        dt = now_s() - t0;
        CHECK_INT(st, MTASTS_TEMPFAIL, "silent DANE status");
        CHECK(strstr(err.msg, "dane.test MX: timeout after 1 try") != NULL,
              "reason: %s", err.msg);
        CHECK(dt < 2.0, "silent DANE: %.2f s", dt);
        mtasts_dns_close(&dns);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%s; %s\n", mtasts_dns_version(), mtasts_fetch_version());
    test_txt();
    test_fetch();
    test_fetch_security();
    test_dane();
    mtasts_fetch_cleanup();
    return UNIT_DONE("discovery");
}
