/*
 * answer.c - the lookup both Exim adapters perform: store first, then the
 * network helper, never a downgrade of a cached policy. See answer.h.
 */
#include "answer.h"
#include "record.h"
#include "domain.h"
#include "idn.h"
#include "mx_match.h"
#include "options.h"
#include "resolve.h"
#include "spawn.h"
#include "store.h"

#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A record's last_used is rewritten at most this often (a write per
 * lookup would cost more than the lookup). */
#define LAST_USED_GRANULARITY 3600
/* Poll interval while another process fetches (ms). */
#define HERD_POLL_MS 25

/* Per-process state: the configuration file's settings and the store.
 * The store outlives every call and reports recoveries later (after
 * fork(), when another process grew the map, when it evicts), so what it
 * calls back is kept here, never on a caller's stack: hooks is a copy of
 * the current call's hooks, refreshed by every mtasts_answer(). */
static struct {
    bool loaded;
    mtasts_options base;
    char base_error[256];
    mtasts_store *store;
    char store_path[MTASTS_PATH_MAX];
    bool store_failed_logged;
    bool disabled_logged;
    mtasts_hooks hooks;         /* log NULL: no hooks */
} proc;

static void say(const mtasts_hooks *h, mtasts_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const mtasts_hooks *h, mtasts_log_level lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!h || !h->log || (lvl == MTASTS_LOG_DEBUG && !h->debug))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->log(h->ctx, lvl, msg);
}

/* store_notify - the store's notices, through the current call's hooks */
static void store_notify(void *ctx, const char *msg)
{
    (void)ctx;
    say(&proc.hooks, MTASTS_LOG_DEBUG, "mtasts: store: %s", msg);
}

/* settings - defaults + configuration file (once per process) + opts */
static mtasts_status settings(const char *opts, mtasts_options *o, mtasts_err *err)
{
    if (!proc.loaded) {
        mtasts_err e = {{0}};

        mtasts_options_init(&proc.base);
        if (mtasts_options_load(&proc.base, MTASTS_CONFIG_DEFAULT, &e) > MTASTS_NOT_FOUND)
            mtasts_strlcpy(proc.base_error, e.msg, sizeof proc.base_error);
        proc.loaded = true;
    }
    if (proc.base_error[0]) {
        mtasts_errf(err, "%s", proc.base_error);
        return MTASTS_INVALID;
    }
    *o = proc.base;
    return mtasts_options_parse(o, opts, err);
}

/* store_for - the process's store handle for o->store, or NULL */
static mtasts_store *store_for(const mtasts_options *o, const mtasts_hooks *h)
{
    /* read_first: a lookup writes only a record's last_used, once an hour */
    mtasts_store_config cfg = { .path = o->store, .create = true, .read_first = true,
                                .map_max = (size_t)o->map_max << 10,
                                .notify = store_notify, .notify_ctx = NULL };
    mtasts_err err = {{0}};

    if (proc.store && strcmp(proc.store_path, o->store) == 0)
        return proc.store;
    mtasts_store_close(&proc.store);
    if (mtasts_store_open(&cfg, &proc.store, &err) != MTASTS_OK) {
        /* Answer from the network instead; say so once per process. */
        if (!proc.store_failed_logged)
            say(h, MTASTS_LOG_MAIN, "mtasts: store %s unusable, answering without it: %s",
                o->store, err.msg);
        proc.store_failed_logged = true;
        return NULL;
    }
    mtasts_strlcpy(proc.store_path, o->store, sizeof proc.store_path);
    if (mtasts_store_readonly(proc.store) && !proc.store_failed_logged) {
        say(h, MTASTS_LOG_MAIN, "mtasts: store %s is read-only for uid %ld: "
            "policies are used but not cached", o->store, (long)getuid());
        proc.store_failed_logged = true;
    }
    return proc.store;
}

mtasts_status mtasts_answer_context(const char *opts, const mtasts_hooks *hooks,
                                    mtasts_options *o, mtasts_store **s, mtasts_err *err)
{
    if (hooks)
        proc.hooks = *hooks;
    else
        memset(&proc.hooks, 0, sizeof proc.hooks);
    *s = NULL;
    if (settings(opts, o, err) != MTASTS_OK)
        return MTASTS_INVALID;
    if (!o->disabled)
        *s = store_for(o, hooks);
    return MTASTS_OK;
}

mtasts_status mtasts_answer_format(const mtasts_record *r, char *out, size_t outsize,
                                   mtasts_err *err)
{
    char mx[MTASTS_RECORD_MAX], rx[MTASTS_RECORD_MAX * 2];
    size_t n = 0;
    int w;

    mx[0] = '\0';
    for (size_t i = 0; i < r->policy.n_mx && n < sizeof mx; i++)
        n += (size_t)snprintf(mx + n, sizeof mx - n, "%s%s", i ? " : " : "", r->policy.mx[i]);
    if (n >= sizeof mx || mtasts_mx_exim_regexes(&r->policy, rx, sizeof rx) != MTASTS_OK) {
        mtasts_errf(err, "policy too large to format");
        return MTASTS_SYSERR;
    }
    w = snprintf(out, outsize,
                 "mode=%s max_age=%" PRIu32 " id=%s source=%s expires=%" PRId64
                 " dane=%s mx=\"%s\" mx_regex=\"%s\"",
                 mtasts_mode_name(r->policy.mode), r->policy.max_age, r->id,
                 mtasts_source_name(r->source), r->expires_at,
                 r->dane[0] ? r->dane : "unknown", mx, rx);
    if (w < 0 || (size_t)w >= outsize) {
        mtasts_errf(err, "result longer than %zu bytes", outsize);
        return MTASTS_SYSERR;
    }
    return MTASTS_OK;
}

/* other_day - is then on an earlier UTC day than now (or unset)? */
static bool other_day(int64_t then, int64_t now)
{
    return then <= 0 || then / 86400 != now / 86400;
}

/* add_daily - the answer's "daily=yes": the first answer of this policy
 * on this UTC day in this store (or a policy new to it). The snippets run
 * their once-a-day checks (an MX query, a log line) only then, instead of
 * asking a hints database for every message. Two processes racing at
 * midnight may both see it: "about once a day". */
static mtasts_status add_daily(char *out, size_t outsize, mtasts_err *err)
{
    size_t n = strlen(out);

    if (outsize - n <= sizeof " daily=yes" - 1) {
        mtasts_errf(err, "result longer than %zu bytes", outsize);
        return MTASTS_SYSERR;
    }
    memcpy(out + n, " daily=yes", sizeof " daily=yes");
    return MTASTS_OK;
}

/* from_record - the answer a record gives at now */
static mtasts_status from_record(const mtasts_record *r, int64_t now, const char *why,
                                 char *out, size_t outsize, unsigned *ttl, mtasts_err *err)
{
    int64_t left;

    if (!mtasts_record_usable(r, now)) {
        mtasts_errf(err, "no policy: %s", why && *why ? why
                    : r->last_error[0] ? r->last_error : "none advertised");
        return MTASTS_NOT_FOUND;
    }
    /* Exim may cache the answer until the record must be looked at again. */
    left = (r->next_check_at > now ? r->next_check_at : now) - now;
    if (r->expires_at - now < left)
        left = r->expires_at - now;
    *ttl = left > 0 ? (unsigned)left : 0;
    return mtasts_answer_format(r, out, outsize, err);
}

/* run_helper - "<helper> resolve --options ... DOMAIN"; fills r, and
 * trouble with the reason (a failed fetch, kept policy or not) */
static mtasts_status run_helper(const mtasts_options *o, const char *domain,
                                mtasts_record *r, char *reason, size_t reasonsize,
                                bool *trouble, bool *fetched, const mtasts_hooks *h)
{
    char optbuf[2048], out[MTASTS_RECORD_MAX + 1024];
    char *argv[] = { (char *)o->helper, "resolve", "--exim", "--options", optbuf,
                     (char *)domain, NULL };
    mtasts_err err = {{0}};
    size_t len;
    int code;
    mtasts_status st;
    const char *body, *rl, *rl_end;

    mtasts_options_format(o, optbuf, sizeof optbuf);
    say(h, MTASTS_LOG_DEBUG, "mtasts: running %s resolve %s", o->helper, domain);
    st = mtasts_spawn_capture(argv, o->timeout * 1000u, out, sizeof out, &len, &code, &err);
    if (st != MTASTS_OK) {
        snprintf(reason, reasonsize, "helper: %s", err.msg);
        return st;
    }
    /* Output: "status: ...\nreason: ...\n\n" then the record. */
    body = strstr(out, "\n\n");
    rl = strstr(out, "\nreason: ");
    rl_end = rl ? strchr(rl + 9, '\n') : NULL;
    if (strncmp(out, "status: ", 8) != 0 || !body) {
        /* A helper that refused to work (it could not give up root) says why. */
        snprintf(reason, reasonsize, "helper %s exited %d without an answer%s%.*s", o->helper,
                 code, rl_end ? ": " : "", rl_end ? (int)(rl_end - rl - 9) : 0,
                 rl_end ? rl + 9 : "");
        return MTASTS_TEMPFAIL;
    }
    /* ... or a preload list entry applied or set aside (said once per
     * helper run, as a failure is). */
    *trouble = strstr(out, "\noutcome: kept\n") || strstr(out, "\noutcome: fetch-failed\n")
        || strstr(out, "\noutcome: preload\n") || strstr(out, "\noutcome: preload-ignored\n");
    *fetched = strstr(out, "\noutcome: fetched\n") != NULL;
    if (rl_end && rl < body)
        snprintf(reason, reasonsize, "%.*s", (int)(rl_end - rl - 9), rl + 9);
    mtasts_record_free(r);
    if (mtasts_record_decode(body + 2, len - (size_t)(body + 2 - out), r, &err) != MTASTS_OK) {
        snprintf(reason, reasonsize, "helper answer unreadable: %s", err.msg);
        return MTASTS_TEMPFAIL;
    }
    return MTASTS_OK;
}

bool mtasts_wait_for_fetch(mtasts_store *s, const char *domain, unsigned wait_s,
                           mtasts_record *r)
{
    int64_t since = (int64_t)time(NULL), deadline = since + wait_s;
    mtasts_record landed;
    bool have_landed = false;

    mtasts_record_init(&landed);
    while ((int64_t)time(NULL) < deadline) {
        mtasts_record fresh;
        mtasts_err err = {{0}};
        pid_t holder;
        bool done;

        poll(NULL, 0, HERD_POLL_MS);
        /* Done when the holder let go (result stored, or it died). */
        done = mtasts_store_lease_check(s, domain, (int64_t)time(NULL), &holder, &err)
               != MTASTS_OK;
        if (mtasts_store_get(s, domain, &fresh, &err) != MTASTS_OK) {
            if (done)
                break;  /* the holder died or stored nothing */
            continue;
        }
        if (done) {
            mtasts_record_free(&landed);
            mtasts_record_free(r);
            *r = fresh;
            return fresh.txt_checked_at >= since;
        }
        /* The holder stores the policy before its DANE probe and again
         * after it: keep waiting for the final record, so that every waiter
         * answers what the holder answers, but keep the first one for a
         * holder that outlasts our wait. */
        if (fresh.txt_checked_at >= since) {
            mtasts_record_free(&landed);
            landed = fresh;
            have_landed = true;
        } else {
            mtasts_record_free(&fresh);
        }
    }
    if (!have_landed)
        return false;
    mtasts_record_free(r);
    *r = landed;
    return true;
}

mtasts_status mtasts_answer(const char *query, const char *opts, const mtasts_hooks *hooks,
                            char *out, size_t outsize, unsigned *ttl, mtasts_err *err)
{
    char domain[MTASTS_DOMAIN_MAX + 2], reason[MTASTS_REASON_MAX + 64] = "";
    mtasts_options o;
    mtasts_resolve_config rcfg = { 0 };
    mtasts_record r;
    mtasts_store *s;
    mtasts_err e = {{0}};
    mtasts_status st;
    int64_t now = (int64_t)time(NULL);
    pid_t holder;
    bool helper_daily = false;

    *ttl = 0;
    if (hooks)
        proc.hooks = *hooks;
    else
        memset(&proc.hooks, 0, sizeof proc.hooks);
    if (settings(opts, &o, err) != MTASTS_OK)
        return MTASTS_INVALID;
    /* The off switch: no store, no helper, no policy; said once per process. */
    if (o.disabled) {
        if (!proc.disabled_logged)
            say(hooks, MTASTS_LOG_MAIN, "mtasts: disabled (option disabled=yes): "
                "every domain has no policy");
        proc.disabled_logged = true;
        mtasts_errf(err, "no policy: exim-mtasts is disabled (disabled=yes)");
        return MTASTS_NOT_FOUND;
    }
    rcfg.txt_recheck_interval = o.recheck;
    rcfg.max_age_floor = o.max_age_floor;

    /* $domain may carry a trailing dot or capitals, or U-labels (SMTPUTF8:
     * looked up by their A-labels; one that cannot be converted is logged,
     * its mail goes out unprotected); IP literals and other non-domains
     * have no policy (RFC 8461 applies to domain names). */
    if ((st = mtasts_idn_to_ascii(query ? query : "", domain, sizeof domain, &e)) != MTASTS_OK) {
        if (st != MTASTS_NOT_FOUND)
            say(hooks, MTASTS_LOG_MAIN, "mtasts: %s: no policy", e.msg);
        mtasts_errf(err, "no policy: %s", e.msg);
        return MTASTS_NOT_FOUND;
    }
    mtasts_host_normalize(domain);
    if (mtasts_domain_check(domain, &e) != MTASTS_OK) {
        mtasts_errf(err, "no policy: %s", e.msg);
        return MTASTS_NOT_FOUND;
    }

    mtasts_record_init(&r);
    s = store_for(&o, hooks);
    if (s) {
        st = mtasts_store_get(s, domain, &r, &e);
        if (st == MTASTS_INVALID)
            say(hooks, MTASTS_LOG_MAIN, "mtasts: %s: unreadable store record ignored: %s",
                domain, e.msg);
        if (st != MTASTS_OK)
            mtasts_record_init(&r);
    }

    /* A policy stored while its fetcher still probes DANE (dane unknown,
     * lease held) is not the answer yet: wait for the fetcher below. */
    if (mtasts_resolve_cache_answers(&r, now, &rcfg)
        && !(s && r.id[0] && !r.dane[0]
             && mtasts_store_lease_check(s, domain, now, &holder, &e) == MTASTS_OK)) {
        bool daily = other_day(r.last_used, now);

        say(hooks, MTASTS_LOG_DEBUG, "mtasts: %s: answered from the store", domain);
        if (s && (daily || now - r.last_used >= LAST_USED_GRANULARITY)
            && !mtasts_store_readonly(s)) {
            r.last_used = now;
            /* daily only once the day is recorded: a store this process
             * cannot write would otherwise say it for every message */
            daily = mtasts_store_put(s, domain, &r, &e) == MTASTS_OK && daily;
        } else {
            daily = false;
        }
        st = from_record(&r, now, NULL, out, outsize, ttl, err);
        if (st == MTASTS_OK && daily)
            st = add_daily(out, outsize, err);
        mtasts_record_free(&r);
        return st;
    }

    if (s && mtasts_store_lease_check(s, domain, now, &holder, &e) == MTASTS_OK) {
        say(hooks, MTASTS_LOG_DEBUG, "mtasts: %s: pid %ld is fetching, waiting up to %us",
            domain, (long)holder, o.wait);
        if (!mtasts_wait_for_fetch(s, domain, o.wait, &r))
            snprintf(reason, sizeof reason, "policy being fetched by pid %ld", (long)holder);
    } else {
        mtasts_record fresh;
        bool trouble = false, fetched = false;

        mtasts_record_init(&fresh);
        if (run_helper(&o, domain, &fresh, reason, sizeof reason, &trouble, &fetched, hooks)
            == MTASTS_OK) {
            /* The helper applied RFC 8461 5.1 to the stored record, so its
             * record is the answer (a kept policy included). The helper
             * runs once per recheck or backoff period, so is this log.
             * A policy this helper run fetched, or a stored one first
             * used today: daily. (Not "no record when this process
             * looked": another process may have fetched it since.) */
            helper_daily = fetched || (r.id[0] && other_day(r.last_used, now));
            mtasts_record_free(&r);
            r = fresh;
            if (trouble && !(r.id[0] && r.policy.mode == MTASTS_MODE_NONE))
                say(hooks, MTASTS_LOG_MAIN, "mtasts: %s: %s (%s)", domain, reason,
                    !mtasts_record_usable(&r, now) ? "no policy"
                    : r.source == MTASTS_SOURCE_PRELOAD ? "preload policy applied"
                    : "cached policy kept");
        } else {
            mtasts_record_free(&fresh);
            say(hooks, MTASTS_LOG_MAIN, "mtasts: %s: %s%s", domain, reason,
                mtasts_record_usable(&r, now) ? " (cached policy kept)" : "");
        }
    }
    now = (int64_t)time(NULL);
    st = from_record(&r, now, reason, out, outsize, ttl, err);
    if (st == MTASTS_OK && helper_daily)
        st = add_daily(out, outsize, err);
    say(hooks, MTASTS_LOG_DEBUG, "mtasts: %s: %s", domain,
        st == MTASTS_OK ? out : err->msg);
    mtasts_record_free(&r);
    return st;
}
