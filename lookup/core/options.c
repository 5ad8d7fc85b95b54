/*
 * options.c - settings from defaults, a configuration file and lookup or
 * CLI options; one table describes every key.
 */
#include "options.h"
#include "store.h"
#include "resolve.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this much of the adapter's timeout is kept back from the helper. */
#define HELPER_MARGIN_MS 5000

/* OPT_TEXT: free text (spaces allowed from the configuration file), not
 * formatted for the helper. */
typedef enum { OPT_PATH, OPT_UINT, OPT_BOOL, OPT_TEXT } opt_kind;

typedef struct opt_def {
    const char *name;
    opt_kind kind;
    size_t offset;
    unsigned min, max;   /* OPT_UINT bounds */
} opt_def;

#define PATH(n) { #n, OPT_PATH, offsetof(mtasts_options, n), 0, 0 }
#define UINT(n, lo, hi) { #n, OPT_UINT, offsetof(mtasts_options, n), lo, hi }
static const opt_def opt_table[] = {
    PATH(store), PATH(helper), PATH(user),
    UINT(timeout, 1, 600), UINT(wait, 0, 120), UINT(recheck, 1, 86400 * 7),
    UINT(max_age_floor, 0, 86400),
    PATH(resolv_conf), PATH(nameservers),
    UINT(dns_timeout, 100, 60000), UINT(dns_tries, 1, 10),
    PATH(ca_file), PATH(ca_path),
    UINT(connect_timeout, 100, 60000), UINT(fetch_timeout, 100, 60000),
    PATH(proxy),
    { "dane", OPT_BOOL, offsetof(mtasts_options, dane), 0, 0 },
    { "allow_private_policy_host", OPT_BOOL,
      offsetof(mtasts_options, allow_private_policy_host), 0, 0 },
    UINT(map_max, 0, 64u << 20),   /* 0: default */
    /* The emergency off switch (admin guide, "Rolling back"). */
    { "disabled", OPT_BOOL, offsetof(mtasts_options, disabled), 0, 0 },
    /* TLSRPT recording (tlsrpt_event.c): Exim's TLS outcomes to the store. */
    { "tlsrpt_record", OPT_BOOL, offsetof(mtasts_options, tlsrpt_record), 0, 0 },
    UINT(tlsrpt_map_max, 0, 64u << 20),    /* 0: default */
    /* Obsolete (outcomes have their own file, synced once a minute):
     * accepted so that configurations that set it keep working. */
    { "tlsrpt_nosync", OPT_BOOL, offsetof(mtasts_options, tlsrpt_nosync), 0, 0 },
    /* TLSRPT reports (mtasts tlsrpt send). */
    { "tlsrpt_organization", OPT_TEXT, offsetof(mtasts_options, tlsrpt_organization), 0, 0 },
    { "tlsrpt_contact", OPT_TEXT, offsetof(mtasts_options, tlsrpt_contact), 0, 0 },
    { "tlsrpt_submitter", OPT_TEXT, offsetof(mtasts_options, tlsrpt_submitter), 0, 0 },
    { "tlsrpt_sender", OPT_TEXT, offsetof(mtasts_options, tlsrpt_sender), 0, 0 },
    { "tlsrpt_sendmail", OPT_TEXT, offsetof(mtasts_options, tlsrpt_sendmail), 0, 0 },
    { "tlsrpt_send", OPT_BOOL, offsetof(mtasts_options, tlsrpt_send), 0, 0 },
    /* at most MTASTS_TLSRPT_KEEP_DAYS_MAX: the store keeps no more anyway */
    { "tlsrpt_retention", OPT_UINT, offsetof(mtasts_options, tlsrpt_retention), 1, 31 },
    { "tlsrpt_give_up", OPT_UINT, offsetof(mtasts_options, tlsrpt_give_up), 0, 30 },
    { "tlsrpt_retry_time", OPT_UINT, offsetof(mtasts_options, tlsrpt_retry_time), 0, 3600 },
    { "tlsrpt_post_timeout", OPT_UINT, offsetof(mtasts_options, tlsrpt_post_timeout), 1000,
      300000 },
    /* The preload list's configured source (mtasts preload import). */
    PATH(preload_source), PATH(preload_keyring),
};
#undef PATH
#undef UINT

void mtasts_options_init(mtasts_options *o)
{
    memset(o, 0, sizeof *o);
    mtasts_strlcpy(o->store, MTASTS_STORE_DEFAULT_PATH, sizeof o->store);
    mtasts_strlcpy(o->helper, MTASTS_HELPER_DEFAULT, sizeof o->helper);
    mtasts_strlcpy(o->user, MTASTS_USER_DEFAULT, sizeof o->user);
    /* The helper's worst case: two DNS tries of 5 s for TXT and for DANE,
     * plus a 30 s fetch, plus margin; Exim waits for it while routing. */
    o->timeout = 75;
    o->wait = 10;
    o->recheck = 3600;
    o->max_age_floor = MTASTS_MAX_AGE_FLOOR;
    o->dns_timeout = 5000;
    o->dns_tries = 2;
    o->connect_timeout = 10000;
    o->fetch_timeout = 30000;
    o->dane = true;
    o->tlsrpt_record = true;
    mtasts_strlcpy(o->tlsrpt_sendmail, "/usr/sbin/sendmail", sizeof o->tlsrpt_sendmail);
    o->tlsrpt_send = true;
    o->tlsrpt_retention = 7;
    o->tlsrpt_give_up = 3;
    o->tlsrpt_retry_time = 120;
    o->tlsrpt_post_timeout = 30000;
}

/* set_one - apply key=value (lengths given: the text is not NUL-split) */
static mtasts_status set_one(mtasts_options *o, const char *key, size_t klen,
                             const char *val, size_t vlen, mtasts_err *err)
{
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
        const opt_def *d = &opt_table[i];
        char *field = (char *)o + d->offset;
        char tmp[MTASTS_PATH_MAX], *end;
        unsigned long n;

        if (strlen(d->name) != klen || memcmp(d->name, key, klen) != 0)
            continue;
        if (vlen >= sizeof tmp) {
            mtasts_errf(err, "option %s: value too long", d->name);
            return MTASTS_INVALID;
        }
        memcpy(tmp, val, vlen);
        tmp[vlen] = '\0';
        switch (d->kind) {
        case OPT_PATH:
            /* Options travel to the helper as one space-separated string. */
            if (strpbrk(tmp, " \t,")) {
                mtasts_errf(err, "option %s: no spaces or commas allowed", d->name);
                return MTASTS_INVALID;
            }
            memcpy(field, tmp, vlen + 1);
            return MTASTS_OK;
        case OPT_TEXT:
            /* It reaches reports and mail headers: no control characters. */
            for (size_t j = 0; j < vlen; j++)
                if ((unsigned char)tmp[j] < 0x20 || (unsigned char)tmp[j] == 0x7f) {
                    mtasts_errf(err, "option %s: control character in value", d->name);
                    return MTASTS_INVALID;
                }
            memcpy(field, tmp, vlen + 1);
            return MTASTS_OK;
        case OPT_BOOL:
            if (!strcmp(tmp, "yes") || !strcmp(tmp, "true") || !strcmp(tmp, "1"))
                *(bool *)field = true;
            else if (!strcmp(tmp, "no") || !strcmp(tmp, "false") || !strcmp(tmp, "0"))
                *(bool *)field = false;
            else
                break;
            return MTASTS_OK;
        case OPT_UINT:
            errno = 0;
            n = strtoul(tmp, &end, 10);
            if (vlen == 0 || *end || errno || tmp[0] == '-' || n < d->min || n > d->max) {
                mtasts_errf(err, "option %s: \"%s\" is not a number from %u to %u",
                            d->name, tmp, d->min, d->max);
                return MTASTS_INVALID;
            }
            *(unsigned *)field = (unsigned)n;
            return MTASTS_OK;
        }
        mtasts_errf(err, "option %s: \"%s\" is not yes or no", d->name, tmp);
        return MTASTS_INVALID;
    }
    mtasts_errf(err, "unknown option \"%.*s\"", (int)klen, key);
    return MTASTS_INVALID;
}

mtasts_status mtasts_options_parse(mtasts_options *o, const char *text, mtasts_err *err)
{
    const char *p = text ? text : "";

    for (;;) {
        const char *w, *eq;
        size_t wlen;

        p += strspn(p, " \t,");
        if (!*p)
            return MTASTS_OK;
        w = p;
        wlen = strcspn(p, " \t,");
        p += wlen;
        eq = memchr(w, '=', wlen);
        if (!eq || eq == w) {
            mtasts_errf(err, "option \"%.*s\": not key=value", (int)wlen, w);
            return MTASTS_INVALID;
        }
        if (set_one(o, w, (size_t)(eq - w), eq + 1, wlen - (size_t)(eq - w) - 1, err)
            != MTASTS_OK)
            return MTASTS_INVALID;
    }
}

mtasts_status mtasts_options_load(mtasts_options *o, const char *path, mtasts_err *err)
{
    FILE *f = fopen(path, "r");
    char line[MTASTS_PATH_MAX + 64];
    unsigned lineno = 0;
    mtasts_status st = MTASTS_OK;

    if (!f) {
        if (errno == ENOENT)
            return MTASTS_NOT_FOUND;
        mtasts_errf(err, "%s: %s", path, strerror(errno));
        return MTASTS_SYSERR;
    }
    while (st == MTASTS_OK && fgets(line, sizeof line, f)) {
        char *k = line, *eq, *v, *e;
        mtasts_err lerr = {{0}};

        lineno++;
        line[strcspn(line, "#\n")] = '\0';
        k += strspn(k, " \t");
        if (!*k)
            continue;
        eq = strchr(k, '=');
        if (!eq) {
            mtasts_errf(err, "%s:%u: not key = value", path, lineno);
            st = MTASTS_INVALID;
            break;
        }
        for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        v = eq + 1 + strspn(eq + 1, " \t");
        for (char *t = v + strlen(v); t > v && (t[-1] == ' ' || t[-1] == '\t'); t--)
            t[-1] = '\0';
        st = set_one(o, k, (size_t)(e - k), v, strlen(v), &lerr);
        if (st != MTASTS_OK)
            mtasts_errf(err, "%s:%u: %s", path, lineno, lerr.msg);
    }
    fclose(f);
    return st;
}

size_t mtasts_options_format(const mtasts_options *o, char *buf, size_t size)
{
    size_t n = 0;

    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++) {
        const opt_def *d = &opt_table[i];
        const char *field = (const char *)o + d->offset;
        int w = 0;

        if (n >= size)
            break;
        switch (d->kind) {
        case OPT_TEXT:
            break;
        case OPT_PATH:
            if (*field)
                w = snprintf(buf + n, size - n, "%s%s=%s", n ? " " : "", d->name, field);
            break;
        case OPT_UINT:
            w = snprintf(buf + n, size - n, "%s%s=%u", n ? " " : "", d->name,
                         *(const unsigned *)field);
            break;
        case OPT_BOOL:
            w = snprintf(buf + n, size - n, "%s%s=%s", n ? " " : "", d->name,
                         *(const bool *)field ? "yes" : "no");
            break;
        }
        if (w > 0)
            n += (size_t)w;
    }
    return n < size ? n : size;
}

unsigned mtasts_options_helper_budget_ms(const mtasts_options *o)
{
    unsigned t = o->timeout * 1000u;

    /* A margin for starting, storing and printing (and the kernel's
     * scheduling on a loaded host) before the adapter's SIGKILL. */
    return t - (t / 5 < HELPER_MARGIN_MS ? t / 5 : HELPER_MARGIN_MS);
}
