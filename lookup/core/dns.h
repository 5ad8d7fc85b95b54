/*
 * dns.h - DNS for MTA-STS discovery and DANE awareness, through ldns.
 *
 * .nf
 * SYNOPSIS
 *     #include "dns.h"
 *
 *     mtasts_status mtasts_dns_open(const mtasts_dns_config *cfg,
 *                                   mtasts_dns **out, mtasts_err *err);
 *     void mtasts_dns_close(mtasts_dns **dns);
void mtasts_dns_set_budget(mtasts_dns *dns, unsigned budget_ms);
 *     void mtasts_dns_set_budget(mtasts_dns *dns, unsigned budget_ms);
 *     mtasts_status mtasts_dns_sts_id(mtasts_dns *dns, const char *domain,
 *                                     char id_out[MTASTS_ID_MAX + 1],
 *                                     mtasts_err *err);
 *     mtasts_status mtasts_dns_sts_lookup(mtasts_dns *dns, const char *domain,
 *                                         char id_out[MTASTS_ID_MAX + 1],
 *                                         bool *authentic, mtasts_err *err);
 *     mtasts_status mtasts_dns_dane(mtasts_dns *dns, const char *domain,
 *                                   mtasts_dane_info *out, mtasts_err *err);
 *     mtasts_status mtasts_dns_host_addrs(mtasts_dns *dns, const char *host,
 *                                         mtasts_host_addrs *out,
 *                                         mtasts_err *err);
 *     const char *mtasts_dane_summary_name(mtasts_dane_summary s);
 *     const char *mtasts_dns_version(void);
 *
 * DESCRIPTION
 *     All DNS goes through ldns to a recursive (normally validating)
 *     resolver: queries carry RD, the EDNS0 DO bit and the AD bit (RFC 6840
 *     5.7: AD in a query asks for AD in the reply). A truncated UDP reply
 *     is retried over TCP (ldns "fallback"). Nothing is printed.
 *
 *     mtasts_dns_open() creates a resolver handle; create it once per
 *     process and reuse it (one query at a time: not for concurrent use by
 *     several threads). cfg may be NULL (all defaults). cfg->nameservers
 *     ("ip[,ip...]", IPv4 or IPv6) overrides cfg->resolv_conf (NULL:
 *     /etc/resolv.conf). cfg->timeout_ms is per try (0: 5000, capped at
 *     MTASTS_DNS_TIMEOUT_MS_MAX); cfg->retries is the number of tries per
 *     nameserver (0: 2, capped at MTASTS_DNS_TRIES_MAX). The worst case of
 *     one query is timeout_ms * retries * (number of nameservers).
 *     mtasts_dns_close() frees the handle and NULLs *dns. A handle may be
 *     used in a child after fork() (it keeps no sockets open between
 *     queries).
 *
 *     mtasts_dns_set_budget() gives every later query of the handle one
 *     deadline, budget_ms from now (0: none): a query shortens its tries to
 *     end by then, and past it fails at once (MTASTS_TEMPFAIL, "no time
 *     left"). The helper uses it to stay within the adapter's timeout.
 *
 *     mtasts_dns_sts_id() looks up "_mta-sts.<domain>" TXT (RFC 8461 3.1),
 *     joins each record's character-strings without separators and hands
 *     the RRset to mtasts_txt_select(). CNAMEs are followed (the answer's
 *     chain first; if the resolver returned only the chain, the last
 *     target is queried), at most MTASTS_DNS_CNAME_MAX links. Returns
 *       MTASTS_OK        id_out holds the policy id
 *       MTASTS_NOT_FOUND NXDOMAIN, NODATA, or no STSv1 record: no policy
 *       MTASTS_INVALID   several STSv1 records or a malformed one (3.1:
 *                        also "no available policy", but worth logging);
 *                        or an invalid domain
 *       MTASTS_TEMPFAIL  SERVFAIL (with "DNSSEC validation failed" when a
 *                        CD query shows the data is there but bogus),
 *                        REFUSED or another rcode, timeout, network error
 *       MTASTS_SYSERR    out of memory, ldns failure
 *     err always says why (e.g. "_mta-sts.x.test: SERVFAIL",
 *     "_mta-sts.x.test: timeout after 2 tries (5000 ms each)").
 *
 *     mtasts_dns_sts_lookup() is the same lookup, and also sets
 *     *authentic when every reply on the way (CNAMEs included) carried AD
 *     and the answer was a real one (OK, NOT_FOUND, INVALID): with
 *     NOT_FOUND that is a DNSSEC-authenticated denial (NXDOMAIN, NODATA,
 *     or an RRset with no STSv1 record), which no on-path attacker can
 *     forge; err then ends in "(DNSSEC-authenticated)" for NXDOMAIN and
 *     NODATA. The preload list (preload.h) yields to such a denial only.
 *
 *     mtasts_dns_dane() tells whether DANE (RFC 7672) protects the domain's
 *     MX hosts, so that MTA-STS does not override DANE (RFC 8461 2). It
 *     fills *out and returns
 *       MTASTS_OK        *out is complete; out->summary is the answer
 *       MTASTS_NOT_FOUND the domain does not exist (NXDOMAIN)
 *       MTASTS_TEMPFAIL  a lookup on the way failed (SERVFAIL, bogus,
 *                        timeout): the decision cannot be made (7672
 *                        2.1.1: such a failure must not be mistaken for
 *                        "no DANE"); err names the query
 *       MTASTS_INVALID   invalid domain; MTASTS_SYSERR as above.
 *
 * RFC 7672 RULES APPLIED BY mtasts_dns_dane()
 *     - MX RRset (2.2.1): SERVFAIL, bogus or timeout -> TEMPFAIL. NXDOMAIN
 *       -> NOT_FOUND. NODATA -> the domain itself is the one host
 *       ("implicit MX", RFC 5321 5.1; 7672 2.2.1). A Null MX (RFC 7505:
 *       one MX with target ".") -> OK, null_mx, summary NONE.
 *       out->mx_secure records whether the MX RRset (or the authenticated
 *       NODATA for an implicit MX) carried AD.
 *     - Hosts are examined in preference order, at most
 *       MTASTS_DANE_MAX_HOSTS of them (out->truncated if there are more).
 *     - Address records (2.2.2): A, then AAAA if there is no A. A host
 *       without address records is unusable and so not DANE. TLSA is only
 *       looked up when the address records are secure (AD); with insecure
 *       address records DANE does not apply to the host.
 *     - TLSA (2.2.2, 3.1): "_25._tcp.<host>" (CNAMEs in the answer are
 *       followed; the TLSA base domain is the MX host name as listed, the
 *       2.2.3 CNAME-expanded base domain is not tried). tlsa_secure means
 *       AD and at least one TLSA RR; tlsa_usable counts records usable for
 *       SMTP (usage DANE-TA(2)/DANE-EE(3), selector 0/1, matching type
 *       0/1/2; 3.1.3: if none is usable, TLS stays mandatory but is
 *       unauthenticated, so the host is not counted as DANE-protected).
 *       SERVFAIL/bogus/timeout on a TLSA lookup -> TEMPFAIL (2.2: the
 *       host may be DANE-protected and failing; MTA-STS must not decide).
 *     - Insecure MX RRset: 2.2.1 lets a client still use DANE for MX hosts
 *       with secure TLSA records (opportunistically), and hosts[] reports
 *       them (tlsa_secure). But an attacker who forges the insecure MX
 *       RRset can point it at a host of his own that has valid TLSA
 *       records; DANE would then authenticate the wrong host, which is
 *       exactly what MTA-STS's MX patterns guard against. So host.dane
 *       (and the summary) requires a secure MX RRset: with an insecure MX
 *       RRset the summary is NONE and MTA-STS applies in full.
 *     - Summary: ALL when every examined host is DANE-protected, none is
 *       left out (not truncated) and there is at least one host; NONE when
 *       none is; SOME otherwise.
 * .fi
 */
#ifndef MTASTS_DNS_H
#define MTASTS_DNS_H

#include "common.h"
#include "tlsrpt_txt.h"

/* Defaults and caps of mtasts_dns_config. */
#define MTASTS_DNS_TIMEOUT_MS_DEFAULT 5000
#define MTASTS_DNS_TIMEOUT_MS_MAX 60000 /* one try never longer than 1 min */
#define MTASTS_DNS_TRIES_DEFAULT 2
#define MTASTS_DNS_TRIES_MAX 10
/* At most this many nameservers from cfg->nameservers (resolv.conf holds
 * at most 3, glibc MAXNS). */
#define MTASTS_DNS_SERVERS_MAX 8
/* CNAME links followed for one question. Real chains are one or two
 * links long; the bound stops loops and amplification. */
#define MTASTS_DNS_CNAME_MAX 8
/* MX hosts examined by mtasts_dns_dane(): each costs up to three queries
 * (A, AAAA, TLSA), so the lookup stays bounded. */
#define MTASTS_DANE_MAX_HOSTS 8

typedef struct mtasts_dns_config {
    const char *resolv_conf; /* NULL: /etc/resolv.conf */
    const char *nameservers; /* optional "ip[,ip...]" overriding resolv_conf */
    unsigned timeout_ms;     /* per try, default 5000 */
    unsigned retries;        /* tries per nameserver, default 2 */
} mtasts_dns_config;

typedef struct mtasts_dns mtasts_dns;

typedef enum mtasts_dane_summary {
    MTASTS_DANE_NONE = 0, /* no MX host is DANE-protected */
    MTASTS_DANE_SOME = 1, /* some are, some are not */
    MTASTS_DANE_ALL = 2,  /* every MX host is */
} mtasts_dane_summary;

typedef struct mtasts_dane_host {
    char name[MTASTS_DOMAIN_MAX + 1]; /* lower case, no trailing dot */
    unsigned preference;
    bool addr_found;   /* A or AAAA records exist */
    bool addr_secure;  /* the address lookup carried AD */
    bool tlsa_looked;  /* TLSA was looked up (address records secure) */
    bool tlsa_secure;  /* AD and at least one TLSA RR */
    unsigned tlsa_count;  /* TLSA RRs in the answer */
    unsigned tlsa_usable; /* of which usable for SMTP (RFC 7672 3.1) */
    bool dane;         /* DANE-protected for the MTA-STS decision */
} mtasts_dane_host;

typedef struct mtasts_dane_info {
    bool mx_secure;   /* MX RRset (or NODATA for implicit MX) had AD */
    bool implicit_mx; /* no MX RRset: the domain itself is the host */
    bool null_mx;     /* RFC 7505 Null MX: the domain accepts no mail */
    bool truncated;   /* more MX hosts than MTASTS_DANE_MAX_HOSTS */
    size_t n_hosts;   /* entries used in hosts[] */
    mtasts_dane_host hosts[MTASTS_DANE_MAX_HOSTS];
    mtasts_dane_summary summary;
} mtasts_dane_info;

mtasts_status mtasts_dns_open(const mtasts_dns_config *cfg, mtasts_dns **out,
                              mtasts_err *err);
void mtasts_dns_close(mtasts_dns **dns);
void mtasts_dns_set_budget(mtasts_dns *dns, unsigned budget_ms);

mtasts_status mtasts_dns_sts_id(mtasts_dns *dns, const char *domain,
                                char id_out[MTASTS_ID_MAX + 1],
                                mtasts_err *err);

mtasts_status mtasts_dns_sts_lookup(mtasts_dns *dns, const char *domain,
                                    char id_out[MTASTS_ID_MAX + 1],
                                    bool *authentic, mtasts_err *err);

mtasts_status mtasts_dns_dane(mtasts_dns *dns, const char *domain,
                              mtasts_dane_info *out, mtasts_err *err);

/* Addresses of a host for a connection (the policy host, so that the
 * HTTPS fetch uses the same configured resolver as everything else):
 * A and AAAA records, CNAMEs followed, in text form, at most
 * MTASTS_DNS_ADDRS_MAX (IPv4 first). MTASTS_OK with n >= 1; NOT_FOUND
 * (NXDOMAIN, or neither A nor AAAA); TEMPFAIL (SERVFAIL, timeout ... of
 * the A lookup, then AAAA is not asked, so the worst case is one query's;
 * or of the AAAA lookup without A records); INVALID; SYSERR. err names
 * the query unless OK. */
#define MTASTS_DNS_ADDRS_MAX 16
typedef struct mtasts_host_addrs {
    size_t n;
    char addr[MTASTS_DNS_ADDRS_MAX][46]; /* INET6_ADDRSTRLEN */
} mtasts_host_addrs;

mtasts_status mtasts_dns_host_addrs(mtasts_dns *dns, const char *host,
                                    mtasts_host_addrs *out, mtasts_err *err);

/* mtasts_domain_check() moved to domain.h (pure, usable inside Exim). */
#include "domain.h"


const char *mtasts_dane_summary_name(mtasts_dane_summary s);

/* "ldns <runtime> (built with <compile-time>)", a static string. */
const char *mtasts_dns_version(void);

/* RFC 8460 3: the "_smtp._tls.<domain>" TXT RRset, joined and selected with
 * mtasts_tlsrpt_txt_select() (tlsrpt_txt.h): OK (out holds the rua URIs),
 * NOT_FOUND (none, or no TLSRPTv1 record), INVALID (several or a malformed
 * one; err says why), TEMPFAIL, SYSERR. CNAMEs followed as for
 * mtasts_dns_sts_id(). */
mtasts_status mtasts_dns_tlsrpt(mtasts_dns *dns, const char *domain, mtasts_tlsrpt_rua *out,
                                mtasts_err *err);

/* The TLSA RRset of "_25._tcp.<host>" in presentation form, one record's
 * RDATA per line ("3 1 1 ABCD..."), for TLSRPT's policy-string (RFC 8460
 * 4.4). *out is malloc()ed (the caller frees it). NOT_FOUND when there is
 * none; TEMPFAIL, INVALID, SYSERR as above. */
mtasts_status mtasts_dns_tlsa_text(mtasts_dns *dns, const char *host, char **out,
                                   mtasts_err *err);

#endif
