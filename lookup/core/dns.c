/*
 * dns.c - "_mta-sts" TXT discovery (RFC 8461 3.1) and DANE awareness
 * (RFC 7672 2.2) through ldns. Interface and rules: dns.h.
 */
#include "dns.h"
#include "domain.h"
#include "tlsrpt_txt.h"
#include "txt_record.h"

#include <ldns/ldns.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ldns >= 1.7 has ldns_resolver_prepare_query_pkt(); 1.8 fixed the TCP
 * fallback path used on truncation. Debian 12 ships 1.8.3. */
#if !defined(LDNS_REVISION) || LDNS_REVISION < ((1 << 16) | (8 << 8) | 0)
#error "ldns >= 1.8.0 required"
#endif

struct mtasts_dns {
    ldns_resolver *res;
    unsigned timeout_ms;
    unsigned tries;
    double deadline_ms;   /* now_ms() clock; 0: none (mtasts_dns_set_budget) */
};

/* Answer of one question after CNAMEs were followed. */
typedef struct dns_result {
    ldns_rr_list *rrs; /* RRs of the asked type at the chain's end (owned) */
    bool secure;       /* every reply on the way carried AD */
    bool nxdomain;     /* with MTASTS_NOT_FOUND: NXDOMAIN rather than NODATA */
} dns_result;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* "<name>" or "<name> <TYPE>" (no trailing dot) for messages. */
static void q_label(char *buf, size_t size, const ldns_rdf *name,
                    ldns_rr_type t, bool show_type)
{
    char *s = ldns_rdf2str(name);
    size_t n = s ? strlen(s) : 0;
    const ldns_rr_descriptor *desc = ldns_rr_descript((uint16_t)t);

    if (n > 1 && s[n - 1] == '.')
        s[--n] = '\0';
    if (show_type)
        snprintf(buf, size, "%s %s", s ? s : "?",
                 desc && desc->_name ? desc->_name : "?");
    else
        snprintf(buf, size, "%s", s ? s : "?");
    free(s);
}

static const char *rcode_name(ldns_pkt_rcode rc)
{
    ldns_lookup_table *e = ldns_lookup_by_id(ldns_rcodes, (int)rc);

    return e && e->name ? e->name : "unknown rcode";
}

/* Send one question; a reply with any rcode is MTASTS_OK. */
static mtasts_status dns_send(mtasts_dns *d, const ldns_rdf *name,
                              ldns_rr_type t, bool cd, const char *label,
                              ldns_pkt **out, mtasts_err *err)
{
    ldns_pkt *q = NULL, *a = NULL;
    ldns_rr_list *qs;
    ldns_status s;
    size_t i, nns = ldns_resolver_nameserver_count(d->res);
    double t0, elapsed;
    unsigned try_ms = d->timeout_ms;
    struct timeval tv;

    *out = NULL;
    if (d->deadline_ms > 0) {
        /* Every try of every nameserver must end by the deadline. */
        double per_try = (d->deadline_ms - now_ms()) / (double)(d->tries * (nns ? nns : 1));

        if (per_try < 1) {
            mtasts_errf(err, "%s: no time left", label);
            return MTASTS_TEMPFAIL;
        }
        if (per_try < try_ms)
            try_ms = (unsigned)per_try;
    }
    tv.tv_sec = try_ms / 1000;
    tv.tv_usec = (try_ms % 1000) * 1000;
    ldns_resolver_set_timeout(d->res, tv);
    /* ldns marks a nameserver that timed out as unreachable for the rest
     * of the resolver's life; a handle reused for the whole process must
     * give every query all its nameservers again. */
    for (i = 0; i < nns; i++)
        ldns_resolver_set_nameserver_rtt(d->res, i, LDNS_RESOLV_RTT_MIN);
    s = ldns_resolver_prepare_query_pkt(&q, d->res, name, t,
                                        LDNS_RR_CLASS_IN,
                                        LDNS_RD | (cd ? LDNS_CD : 0));
    if (s != LDNS_STATUS_OK) {
        mtasts_errf(err, "%s: cannot build query: %s", label,
                    ldns_get_errorstr_by_id(s));
        return MTASTS_SYSERR;
    }
    /* RFC 6840 5.7: AD in a query asks for AD in the reply (the DO bit
     * was set by prepare_query_pkt because the resolver has dnssec on). */
    ldns_pkt_set_ad(q, true);
    t0 = now_ms();
    s = ldns_resolver_send_pkt(&a, d->res, q);
    elapsed = now_ms() - t0;
    if (s != LDNS_STATUS_OK || !a) {
        ldns_pkt_free(q);
        ldns_pkt_free(a);
        if (s == LDNS_STATUS_MEM_ERR) {
            mtasts_errf(err, "%s: out of memory", label);
            return MTASTS_SYSERR;
        }
        /* ldns reports a timeout as a network error; the clock tells. */
        if (elapsed >= 0.9 * try_ms)
            mtasts_errf(err, "%s: timeout after %zu %s (%u ms each)", label,
                        (size_t)d->tries * nns,
                        d->tries * nns == 1 ? "try" : "tries", try_ms);
        else
            mtasts_errf(err, "%s: network error (%s)", label,
                        ldns_get_errorstr_by_id(s));
        return MTASTS_TEMPFAIL;
    }
    /* ldns does not match replies to queries: a stray or spoofed reply
     * must not be taken for the answer. */
    qs = ldns_pkt_question(a);
    if (ldns_pkt_id(a) != ldns_pkt_id(q) || !ldns_pkt_qr(a) ||
        (qs && ldns_rr_list_rr_count(qs) > 0 &&
         (ldns_rr_get_type(ldns_rr_list_rr(qs, 0)) != t ||
          ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(qs, 0)), name)))) {
        ldns_pkt_free(q);
        ldns_pkt_free(a);
        mtasts_errf(err, "%s: reply does not match the query", label);
        return MTASTS_TEMPFAIL;
    }
    ldns_pkt_free(q);
    *out = a;
    return MTASTS_OK;
}

/* After a SERVFAIL from a validating resolver: does the same question
 * with CD (checking disabled, RFC 4035 3.2.2) get an answer? Then the
 * SERVFAIL was a DNSSEC validation failure ("bogus"), not a lame or dead
 * server. */
static bool dns_is_bogus(mtasts_dns *d, const ldns_rdf *name, ldns_rr_type t)
{
    ldns_pkt *a = NULL;
    mtasts_err scratch = {{0}};
    bool bogus = false;

    if (dns_send(d, name, t, true, "", &a, &scratch) == MTASTS_OK) {
        bogus = ldns_pkt_get_rcode(a) == LDNS_RCODE_NOERROR ||
                ldns_pkt_get_rcode(a) == LDNS_RCODE_NXDOMAIN;
        ldns_pkt_free(a);
    }
    return bogus;
}

/* Ask (qname0, t), follow CNAMEs (RFC 1034 3.6.2; RFC 8461 3.1 allows
 * "_mta-sts" to be one) and keep the RRs of type t owned by the chain's
 * last name. OK (r->rrs set), NOT_FOUND (NXDOMAIN or NODATA), TEMPFAIL or
 * SYSERR; err is set for TEMPFAIL and SYSERR only. */
static mtasts_status dns_lookup(mtasts_dns *d, const ldns_rdf *qname0,
                                ldns_rr_type t, bool show_type, dns_result *r,
                                mtasts_err *err)
{
    char label[300];
    ldns_rdf *name = ldns_rdf_clone(qname0);
    ldns_pkt *pkt = NULL;
    ldns_rr_list *ans;
    ldns_pkt_rcode rc;
    mtasts_status st;
    unsigned links = 0;
    size_t i;
    bool moved;

    r->rrs = NULL;
    r->secure = true;
    r->nxdomain = false;
    q_label(label, sizeof label, qname0, t, show_type);
    if (!name) {
        mtasts_errf(err, "%s: out of memory", label);
        return MTASTS_SYSERR;
    }
    for (;;) {
        st = dns_send(d, name, t, false, label, &pkt, err);
        if (st != MTASTS_OK)
            break;
        rc = ldns_pkt_get_rcode(pkt);
        if (!ldns_pkt_ad(pkt))
            r->secure = false;
        if (rc == LDNS_RCODE_SERVFAIL) {
            mtasts_errf(err, "%s: SERVFAIL%s", label,
                        dns_is_bogus(d, name, t)
                            ? " (DNSSEC validation failed)" : "");
            st = MTASTS_TEMPFAIL;
            break;
        }
        if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
            mtasts_errf(err, "%s: %s", label, rcode_name(rc));
            st = MTASTS_TEMPFAIL;
            break;
        }
        /* Walk the chain the resolver put in the answer section. */
        ans = ldns_pkt_answer(pkt);
        moved = false;
        for (i = 0; ans && i < ldns_rr_list_rr_count(ans); i++) {
            ldns_rr *rr = ldns_rr_list_rr(ans, i);
            ldns_rdf *target;

            if (t == LDNS_RR_TYPE_CNAME ||
                ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME ||
                ldns_dname_compare(ldns_rr_owner(rr), name) != 0 ||
                ldns_rr_rd_count(rr) < 1)
                continue;
            if (++links > MTASTS_DNS_CNAME_MAX) {
                mtasts_errf(err, "%s: CNAME chain longer than %d links", label,
                            MTASTS_DNS_CNAME_MAX);
                st = MTASTS_TEMPFAIL;
                goto out;
            }
            target = ldns_rdf_clone(ldns_rr_rdf(rr, 0));
            if (!target) {
                mtasts_errf(err, "%s: out of memory", label);
                st = MTASTS_SYSERR;
                goto out;
            }
            ldns_rdf_deep_free(name);
            name = target;
            moved = true;
            i = (size_t)-1; /* rescan: RRs need not be in chain order */
        }
        r->rrs = ldns_pkt_rr_list_by_name_and_type(pkt, name, t,
                                                   LDNS_SECTION_ANSWER);
        if (r->rrs && ldns_rr_list_rr_count(r->rrs) > 0) {
            st = MTASTS_OK;
            break;
        }
        ldns_rr_list_deep_free(r->rrs);
        r->rrs = NULL;
        if (rc == LDNS_RCODE_NXDOMAIN) {
            r->nxdomain = true;
            st = MTASTS_NOT_FOUND;
            break;
        }
        if (!moved) {
            st = MTASTS_NOT_FOUND; /* NODATA (RFC 2308 2.2) */
            break;
        }
        /* Only the chain came back: ask for its last target ourselves. */
        ldns_pkt_free(pkt);
        pkt = NULL;
    }
out:
    ldns_pkt_free(pkt);
    ldns_rdf_deep_free(name);
    if (st != MTASTS_OK) {
        ldns_rr_list_deep_free(r->rrs);
        r->rrs = NULL;
    }
    return st;
}

mtasts_status mtasts_dns_open(const mtasts_dns_config *cfg, mtasts_dns **out,
                              mtasts_err *err)
{
    mtasts_dns *d;
    ldns_resolver *res = NULL;
    ldns_status s;
    struct timeval tv;
    const char *path = cfg && cfg->resolv_conf ? cfg->resolv_conf
                                               : "/etc/resolv.conf";

    if (!out) {
        mtasts_errf(err, "DNS: no handle pointer");
        return MTASTS_SYSERR;
    }
    *out = NULL;
    if (cfg && cfg->nameservers && *cfg->nameservers) {
        const char *p = cfg->nameservers;

        res = ldns_resolver_new();
        if (!res) {
            mtasts_errf(err, "DNS: out of memory");
            return MTASTS_SYSERR;
        }
        while (*p) {
            char ip[INET6_ADDRSTRLEN + 1];
            size_t n = strcspn(p, ", \t");
            ldns_rdf *addr = NULL;

            if (n > 0 && n < sizeof ip) {
                memcpy(ip, p, n);
                ip[n] = '\0';
                addr = ldns_rdf_new_frm_str(strchr(ip, ':')
                                                ? LDNS_RDF_TYPE_AAAA
                                                : LDNS_RDF_TYPE_A, ip);
            }
            if (n > 0 && (!addr ||
                          ldns_resolver_nameserver_count(res) >=
                              MTASTS_DNS_SERVERS_MAX ||
                          ldns_resolver_push_nameserver(res, addr) !=
                              LDNS_STATUS_OK)) {
                char show[72];

                ldns_rdf_deep_free(addr);
                ldns_resolver_deep_free(res);
                mtasts_errf(err, "DNS: bad nameservers \"%s\" (up to %d IP "
                            "addresses, comma-separated)",
                            mtasts_printable(cfg->nameservers, show),
                            MTASTS_DNS_SERVERS_MAX);
                return MTASTS_INVALID;
            }
            ldns_rdf_deep_free(addr);
            p += n;
            p += strspn(p, ", \t");
        }
    } else {
        s = ldns_resolver_new_frm_file(&res, path);
        if (s != LDNS_STATUS_OK) {
            mtasts_errf(err, "DNS: cannot read %s: %s", path,
                        ldns_get_errorstr_by_id(s));
            return MTASTS_SYSERR;
        }
    }
    if (ldns_resolver_nameserver_count(res) == 0) {
        ldns_resolver_deep_free(res);
        mtasts_errf(err, "DNS: no nameserver in %s",
                    cfg && cfg->nameservers && *cfg->nameservers
                        ? "the nameservers setting" : path);
        return MTASTS_INVALID;
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        ldns_resolver_deep_free(res);
        mtasts_errf(err, "DNS: out of memory");
        return MTASTS_SYSERR;
    }
    d->timeout_ms = cfg && cfg->timeout_ms ? cfg->timeout_ms
                                           : MTASTS_DNS_TIMEOUT_MS_DEFAULT;
    if (d->timeout_ms > MTASTS_DNS_TIMEOUT_MS_MAX)
        d->timeout_ms = MTASTS_DNS_TIMEOUT_MS_MAX;
    d->tries = cfg && cfg->retries ? cfg->retries : MTASTS_DNS_TRIES_DEFAULT;
    if (d->tries > MTASTS_DNS_TRIES_MAX)
        d->tries = MTASTS_DNS_TRIES_MAX;
    tv.tv_sec = d->timeout_ms / 1000;
    tv.tv_usec = (d->timeout_ms % 1000) * 1000;
    ldns_resolver_set_timeout(res, tv);
    ldns_resolver_set_retry(res, (uint8_t)d->tries);
    ldns_resolver_set_retrans(res, 0);   /* no sleep between nameservers */
    ldns_resolver_set_random(res, false); /* keep the configured order */
    ldns_resolver_set_recursive(res, true);
    ldns_resolver_set_dnssec(res, true);  /* EDNS0 with DO */
    ldns_resolver_set_dnssec_cd(res, false);
    /* 1232: the DNS flag day 2020 EDNS buffer size, avoids fragmentation;
     * a truncated reply is retried over TCP (fallback). */
    ldns_resolver_set_edns_udp_size(res, 1232);
    ldns_resolver_set_fallback(res, true);
    ldns_resolver_set_usevc(res, false);
    ldns_resolver_set_igntc(res, false);
    ldns_resolver_set_fail(res, false);
    ldns_resolver_set_defnames(res, false); /* names are always absolute */
    ldns_resolver_set_dnsrch(res, false);
    d->res = res;
    *out = d;
    return MTASTS_OK;
}

void mtasts_dns_close(mtasts_dns **dns)
{
    if (!dns || !*dns)
        return;
    ldns_resolver_deep_free((*dns)->res);
    free(*dns);
    *dns = NULL;
}

/* "<prefix><domain>." as a dname; the domain passed mtasts_domain_check. */
static ldns_rdf *make_name(const char *prefix, const char *domain,
                           mtasts_err *err)
{
    char buf[MTASTS_DOMAIN_MAX + 16];
    ldns_rdf *r = NULL;

    if (strlen(prefix) + strlen(domain) > MTASTS_DOMAIN_MAX) {
        mtasts_errf(err, "%s%.64s...: name longer than %d characters", prefix,
                    domain, MTASTS_DOMAIN_MAX);
        return NULL;
    }
    if (snprintf(buf, sizeof buf, "%s%s.", prefix, domain) >= (int)sizeof buf ||
        ldns_str2rdf_dname(&r, buf) != LDNS_STATUS_OK) {
        mtasts_errf(err, "%s: not a valid DNS name", buf);
        return NULL;
    }
    return r;
}

/* The TXT RRset at prefix+domain, each record's character-strings joined
 * without separators (RFC 8461 3.1, RFC 8460 3), for select(). Done here
 * rather than with mtasts_txt_join(), whose MTASTS_TXT_MAX limit would turn
 * a long unrelated TXT record (SPF, verification tokens) into an error
 * instead of letting the RFCs' rule discard it. NOT_FOUND (err says
 * NXDOMAIN or NODATA), TEMPFAIL, SYSERR as dns_lookup. */
typedef mtasts_status (*txt_select_fn)(const char *const *recs, const size_t *lens,
                                       size_t n, void *ctx, mtasts_err *err);

static mtasts_status dns_txt_select(mtasts_dns *d, const char *prefix, const char *domain,
                                    txt_select_fn select, void *ctx, size_t *n_out,
                                    bool *authentic, mtasts_err *err)
{
    char label[MTASTS_DOMAIN_MAX + 16];
    ldns_rdf *qname;
    dns_result r;
    mtasts_status st;
    mtasts_err why = {{0}};
    char **recs = NULL;
    size_t *lens = NULL, n = 0, i, j;

    *n_out = 0;
    *authentic = false;
    if (!d) {
        mtasts_errf(err, "DNS: no resolver handle");
        return MTASTS_SYSERR;
    }
    st = mtasts_domain_check(domain, err);
    if (st != MTASTS_OK)
        return st;
    qname = make_name(prefix, domain, err);
    if (!qname)
        return MTASTS_INVALID;
    snprintf(label, sizeof label, "%s%s", prefix, domain);
    st = dns_lookup(d, qname, LDNS_RR_TYPE_TXT, false, &r, err);
    ldns_rdf_deep_free(qname);
    *authentic = (st == MTASTS_OK || st == MTASTS_NOT_FOUND) && r.secure;
    if (st == MTASTS_NOT_FOUND)
        mtasts_errf(err, "%s: %s%s", label,
                    r.nxdomain ? "NXDOMAIN" : "no TXT record (NODATA)",
                    r.secure ? " (DNSSEC-authenticated)" : "");
    if (st != MTASTS_OK)
        return st;

    n = ldns_rr_list_rr_count(r.rrs);
    recs = calloc(n, sizeof *recs);
    lens = calloc(n, sizeof *lens);
    if (!recs || !lens)
        goto nomem;
    for (i = 0; i < n; i++) {
        ldns_rr *rr = ldns_rr_list_rr(r.rrs, i);
        size_t total = 0, o = 0;

        /* Each LDNS_RDF_TYPE_STR rdf is one <length octet><octets>. */
        for (j = 0; j < ldns_rr_rd_count(rr); j++)
            total += ldns_rdf_size(ldns_rr_rdf(rr, j));
        recs[i] = malloc(total + 1);
        if (!recs[i])
            goto nomem;
        for (j = 0; j < ldns_rr_rd_count(rr); j++) {
            const ldns_rdf *f = ldns_rr_rdf(rr, j);
            const uint8_t *data = ldns_rdf_data(f);
            size_t size = ldns_rdf_size(f), len;

            if (size == 0)
                continue;
            len = data[0];
            if (len > size - 1)
                len = size - 1;
            memcpy(recs[i] + o, data + 1, len);
            o += len;
        }
        recs[i][o] = '\0';
        lens[i] = o;
    }
    *n_out = n;
    st = select((const char *const *)recs, lens, n, ctx, &why);
    if (st != MTASTS_OK && st != MTASTS_NOT_FOUND)
        mtasts_errf(err, "%s: %s", label, why.msg);
    goto done;
nomem:
    mtasts_errf(err, "%s: out of memory", label);
    st = MTASTS_SYSERR;
done:
    for (i = 0; recs && i < n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    ldns_rr_list_deep_free(r.rrs);
    return st;
}

static mtasts_status sts_select(const char *const *recs, const size_t *lens, size_t n,
                                void *ctx, mtasts_err *err)
{
    return mtasts_txt_select(recs, lens, n, ctx, err);
}

mtasts_status mtasts_dns_sts_id(mtasts_dns *d, const char *domain,
                                char id_out[MTASTS_ID_MAX + 1],
                                mtasts_err *err)
{
    bool authentic;

    return mtasts_dns_sts_lookup(d, domain, id_out, &authentic, err);
}

mtasts_status mtasts_dns_sts_lookup(mtasts_dns *d, const char *domain,
                                    char id_out[MTASTS_ID_MAX + 1],
                                    bool *authentic, mtasts_err *err)
{
    mtasts_status st;
    size_t n;

    *authentic = false;
    if (id_out)
        id_out[0] = '\0';
    if (!d || !id_out) {
        mtasts_errf(err, "DNS: no resolver handle");
        return MTASTS_SYSERR;
    }
    st = dns_txt_select(d, "_mta-sts.", domain, sts_select, id_out, &n, authentic, err);
    if (st == MTASTS_NOT_FOUND && n > 0)
        mtasts_errf(err, "_mta-sts.%s: no v=STSv1 record among %zu TXT record%s", domain,
                    n, n == 1 ? "" : "s");
    return st;
}

static mtasts_status tlsrpt_select(const char *const *recs, const size_t *lens, size_t n,
                                   void *ctx, mtasts_err *err)
{
    return mtasts_tlsrpt_txt_select(recs, lens, n, ctx, err);
}

mtasts_status mtasts_dns_tlsrpt(mtasts_dns *d, const char *domain, mtasts_tlsrpt_rua *out,
                                mtasts_err *err)
{
    mtasts_status st;
    size_t n;
    bool authentic;

    memset(out, 0, sizeof *out);
    st = dns_txt_select(d, "_smtp._tls.", domain, tlsrpt_select, out, &n, &authentic, err);
    if (st == MTASTS_NOT_FOUND && n > 0)
        mtasts_errf(err, "_smtp._tls.%s: no v=TLSRPTv1 record among %zu TXT record%s",
                    domain, n, n == 1 ? "" : "s");
    return st;
}

mtasts_status mtasts_dns_tlsa_text(mtasts_dns *d, const char *host, char **out,
                                   mtasts_err *err)
{
    ldns_rdf *qname;
    dns_result r;
    mtasts_status st;
    size_t i, j, used = 0, cap = 1;
    char *buf;

    *out = NULL;
    if (!d) {
        mtasts_errf(err, "DNS: no resolver handle");
        return MTASTS_SYSERR;
    }
    if ((st = mtasts_domain_check(host, err)) != MTASTS_OK)
        return st;
    if (!(qname = make_name("_25._tcp.", host, err)))
        return MTASTS_INVALID;
    st = dns_lookup(d, qname, LDNS_RR_TYPE_TLSA, true, &r, err);
    ldns_rdf_deep_free(qname);
    if (st == MTASTS_NOT_FOUND)
        mtasts_errf(err, "_25._tcp.%s: no TLSA record", host);
    if (st != MTASTS_OK)
        return st;
    if (!(buf = malloc(cap)))
        goto nomem;
    buf[0] = '\0';
    for (i = 0; i < ldns_rr_list_rr_count(r.rrs); i++) {
        ldns_rr *rr = ldns_rr_list_rr(r.rrs, i);

        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TLSA)
            continue;       /* a CNAME of the chain */
        for (j = 0; j < ldns_rr_rd_count(rr); j++) {
            char *f = ldns_rdf2str(ldns_rr_rdf(rr, j)), *nb;
            size_t flen = f ? strlen(f) : 0;

            if (!f || !(nb = realloc(buf, used + flen + 2))) {
                free(f);
                free(buf);
                goto nomem;
            }
            buf = nb;
            if (j > 0)
                buf[used++] = ' ';
            else if (used > 0)
                buf[used++] = '\n';
            memcpy(buf + used, f, flen);
            used += flen;
            buf[used] = '\0';
            free(f);
        }
    }
    ldns_rr_list_deep_free(r.rrs);
    *out = buf;
    return MTASTS_OK;
nomem:
    ldns_rr_list_deep_free(r.rrs);
    mtasts_errf(err, "_25._tcp.%s: out of memory", host);
    return MTASTS_SYSERR;
}

/* Name of a dname rdf, lower case, no trailing dot. */
static void dname_text(const ldns_rdf *name, char *buf, size_t size)
{
    char *s = ldns_rdf2str(name);
    size_t i, n = s ? strlen(s) : 0;

    if (n > 1 && s[n - 1] == '.')
        s[--n] = '\0';
    for (i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    snprintf(buf, size, "%s", s ? s : "");
    free(s);
}

/* RFC 7672 3.1: usable TLSA parameters for SMTP. */
static bool tlsa_usable(const ldns_rr *rr)
{
    uint8_t usage, selector, mtype;

    if (ldns_rr_rd_count(rr) < 4)
        return false;
    usage = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
    selector = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
    mtype = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
    /* DANE-TA(2) and DANE-EE(3) only (3.1.3: PKIX-TA/PKIX-EE are not
     * usable for SMTP); Cert(0)/SPKI(1); Full(0)/SHA2-256(1)/SHA2-512(2). */
    return (usage == 2 || usage == 3) && selector <= 1 && mtype <= 2;
}

/* Address and TLSA lookups for one MX host (RFC 7672 2.2.2). */
static mtasts_status dane_host(mtasts_dns *d, const ldns_rdf *host,
                               bool mx_secure, mtasts_dane_host *h,
                               mtasts_err *err)
{
    static const ldns_rr_type addr_types[] = { LDNS_RR_TYPE_A,
                                               LDNS_RR_TYPE_AAAA };
    dns_result r;
    mtasts_status st;
    ldns_rdf *tname;
    size_t i;

    for (i = 0; i < 2 && !h->addr_found; i++) {
        st = dns_lookup(d, host, addr_types[i], true, &r, err);
        if (st == MTASTS_OK) {
            h->addr_found = true;
            h->addr_secure = r.secure;
            ldns_rr_list_deep_free(r.rrs);
        } else if (st != MTASTS_NOT_FOUND) {
            return st;
        } else if (r.nxdomain) {
            break;
        }
    }
    /* 2.2.2: without secure address records DANE does not apply, and no
     * TLSA lookup is made. */
    if (!h->addr_found || !h->addr_secure)
        return MTASTS_OK;

    if (ldns_str2rdf_dname(&tname, "_25._tcp") != LDNS_STATUS_OK ||
        ldns_dname_cat(tname, host) != LDNS_STATUS_OK) {
        ldns_rdf_deep_free(tname);
        mtasts_errf(err, "_25._tcp.%s: cannot build name", h->name);
        return MTASTS_SYSERR;
    }
    st = dns_lookup(d, tname, LDNS_RR_TYPE_TLSA, true, &r, err);
    ldns_rdf_deep_free(tname);
    if (st == MTASTS_NOT_FOUND) {
        h->tlsa_looked = true;
        return MTASTS_OK;
    }
    if (st != MTASTS_OK)
        return st;
    h->tlsa_looked = true;
    h->tlsa_count = (unsigned)ldns_rr_list_rr_count(r.rrs);
    for (i = 0; i < h->tlsa_count; i++)
        if (tlsa_usable(ldns_rr_list_rr(r.rrs, i)))
            h->tlsa_usable++;
    h->tlsa_secure = r.secure && h->tlsa_count > 0;
    h->dane = mx_secure && h->tlsa_secure && h->tlsa_usable > 0;
    ldns_rr_list_deep_free(r.rrs);
    return MTASTS_OK;
}

mtasts_status mtasts_dns_dane(mtasts_dns *d, const char *domain,
                              mtasts_dane_info *out, mtasts_err *err)
{
    struct mx { unsigned pref; const ldns_rdf *name; } mx[MTASTS_DANE_MAX_HOSTS];
    ldns_rdf *qname;
    dns_result r = { NULL, false, false };
    mtasts_status st;
    size_t i, j, n = 0, protected_hosts = 0;

    if (!out || !d) {
        mtasts_errf(err, "DNS: no resolver handle");
        return MTASTS_SYSERR;
    }
    memset(out, 0, sizeof *out);
    st = mtasts_domain_check(domain, err);
    if (st != MTASTS_OK)
        return st;
    qname = make_name("", domain, err);
    if (!qname)
        return MTASTS_INVALID;
    st = dns_lookup(d, qname, LDNS_RR_TYPE_MX, true, &r, err);
    if (st == MTASTS_NOT_FOUND && r.nxdomain) {
        mtasts_errf(err, "%s MX: NXDOMAIN", domain);
        goto done;
    }
    if (st == MTASTS_NOT_FOUND) {
        /* NODATA: the domain itself is the host (RFC 5321 5.1). */
        out->implicit_mx = true;
        out->mx_secure = r.secure;
        mx[0].pref = 0;
        mx[0].name = qname;
        n = 1;
    } else if (st != MTASTS_OK) {
        goto done;
    } else {
        size_t count = ldns_rr_list_rr_count(r.rrs);

        out->mx_secure = r.secure;
        for (i = 0; i < count; i++) {
            ldns_rr *rr = ldns_rr_list_rr(r.rrs, i);
            struct mx m;

            if (ldns_rr_rd_count(rr) < 2)
                continue;
            m.pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
            m.name = ldns_rr_rdf(rr, 1);
            /* RFC 7505 Null MX: target "." (the root, one octet). */
            if (ldns_rdf_size(m.name) == 1) {
                if (count == 1)
                    out->null_mx = true;
                continue;
            }
            /* Insertion by preference; beyond the cap the worst go. */
            for (j = n; j > 0 && mx[j - 1].pref > m.pref; j--)
                if (j < MTASTS_DANE_MAX_HOSTS)
                    mx[j] = mx[j - 1];
            if (j < MTASTS_DANE_MAX_HOSTS)
                mx[j] = m;
            if (n < MTASTS_DANE_MAX_HOSTS)
                n++;
            else
                out->truncated = true;
        }
    }
    st = MTASTS_OK;
    for (i = 0; i < n; i++) {
        mtasts_dane_host *h = &out->hosts[i];

        dname_text(mx[i].name, h->name, sizeof h->name);
        h->preference = mx[i].pref;
        out->n_hosts = i + 1;
        st = dane_host(d, mx[i].name, out->mx_secure, h, err);
        if (st != MTASTS_OK)
            goto done;
        if (h->dane)
            protected_hosts++;
    }
    if (protected_hosts == 0)
        out->summary = MTASTS_DANE_NONE;
    else if (protected_hosts == n && !out->truncated)
        out->summary = MTASTS_DANE_ALL;
    else
        out->summary = MTASTS_DANE_SOME;
done:
    ldns_rr_list_deep_free(r.rrs);
    ldns_rdf_deep_free(qname);
    return st;
}

void mtasts_dns_set_budget(mtasts_dns *d, unsigned budget_ms)
{
    if (d)
        d->deadline_ms = budget_ms ? now_ms() + budget_ms : 0;
}

mtasts_status mtasts_dns_host_addrs(mtasts_dns *d, const char *host,
                                    mtasts_host_addrs *out, mtasts_err *err)
{
    static const ldns_rr_type types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
    mtasts_status st, worst = MTASTS_NOT_FOUND;
    mtasts_err why = {{0}};
    ldns_rdf *qname;
    dns_result r;
    size_t i, j;

    if (!out || !d) {
        mtasts_errf(err, "DNS: no resolver handle");
        return MTASTS_SYSERR;
    }
    out->n = 0;
    st = mtasts_domain_check(host, err);
    if (st != MTASTS_OK)
        return st;
    qname = make_name("", host, err);
    if (!qname)
        return MTASTS_INVALID;
    for (i = 0; i < 2; i++) {
        st = dns_lookup(d, qname, types[i], true, &r, &why);
        if (st == MTASTS_NOT_FOUND && r.nxdomain) {
            mtasts_errf(&why, "%s: NXDOMAIN", host);
            break;
        }
        if (st != MTASTS_OK && st != MTASTS_NOT_FOUND) {
            /* A resolver in trouble: do not wait for it twice. */
            worst = st;
            break;
        }
        if (st != MTASTS_OK)
            continue;
        for (j = 0; j < ldns_rr_list_rr_count(r.rrs) && out->n < MTASTS_DNS_ADDRS_MAX; j++) {
            ldns_rr *rr = ldns_rr_list_rr(r.rrs, j);
            char *s = ldns_rr_rd_count(rr) ? ldns_rdf2str(ldns_rr_rdf(rr, 0)) : NULL;

            if (s && strlen(s) < sizeof out->addr[0])
                memcpy(out->addr[out->n++], s, strlen(s) + 1);
            free(s);
        }
        ldns_rr_list_deep_free(r.rrs);
    }
    ldns_rdf_deep_free(qname);
    if (out->n > 0)
        return MTASTS_OK;
    if (worst == MTASTS_NOT_FOUND)
        mtasts_errf(&why, "%s: no A or AAAA record", host);
    mtasts_errf(err, "%s", why.msg);
    return worst;
}

const char *mtasts_dane_summary_name(mtasts_dane_summary s)
{
    switch (s) {
    case MTASTS_DANE_NONE: return "none";
    case MTASTS_DANE_SOME: return "some";
    case MTASTS_DANE_ALL: return "all";
    }
    return "unknown";
}

const char *mtasts_dns_version(void)
{
    static char buf[64];

    snprintf(buf, sizeof buf, "ldns %s (built with %s)", ldns_version(),
             LDNS_VERSION);
    return buf;
}
