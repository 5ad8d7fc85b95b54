/*
 * cli_util.c - helpers shared by the admin subcommands; see cli_util.h.
 */
#define _GNU_SOURCE /* getresuid, getresgid */
#include "cli_util.h"
#include "domain.h"
#include "idn.h"
#include "mx_match.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("mtasts: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage(const char *text, bool help)
{
    fputs(text, help ? stdout : stderr);
    return help ? EXIT_POLICY : EXIT_USAGE;
}

bool cli_settings_opt(int c, const char *arg, cli_settings_args *a)
{
    switch (c) {
    case CLI_OPT_CONFIG: a->config = arg; return true;
    case CLI_OPT_OPTIONS: a->options = arg; return true;
    case CLI_OPT_STORE: a->store = arg; return true;
    }
    return false;
}

bool cli_load_settings(const cli_settings_args *a, mtasts_options *o)
{
    if (!cli_settings(a->config, a->options, o))
        return false;
    if (a->store) {
        /* Not through "store=": a directory name may hold spaces. */
        if (strlen(a->store) >= sizeof o->store) {
            cli_error("--store: path too long");
            return false;
        }
        mtasts_strlcpy(o->store, a->store, sizeof o->store);
    }
    return true;
}

bool cli_drop_privileges(const mtasts_options *o, mtasts_err *err)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    int rc;

    if (getresuid(&ru, &eu, &su) != 0) {
        mtasts_errf(err, "getresuid: %s", strerror(errno));
        return false;
    }
    /* Nothing to give up (an administrator or the Exim user ran us). */
    if (ru != 0 && eu != 0 && su != 0)
        return true;
    /* The user comes from the configuration, never from the store
     * directory: whoever can write there must not choose our identity. */
    rc = getpwnam_r(o->user, &pw, buf, sizeof buf, &found);
    if (!found) {
        mtasts_errf(err, "cannot drop privileges: user \"%s\": %s", o->user,
                    rc ? strerror(rc) : "no such user");
        return false;
    }
    if (pw.pw_uid == 0 || pw.pw_gid == 0) {
        mtasts_errf(err, "cannot drop privileges: user \"%s\" has uid or gid 0", o->user);
        return false;
    }
    /* Groups first (that needs root), then the gid, then the uid; no
     * supplementary group (the primary one is the gid). */
    if (setgroups(0, NULL) != 0 || setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0
        || setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) {
        mtasts_errf(err, "cannot drop privileges to %s: %s", o->user, strerror(errno));
        return false;
    }
    /* Trust the kernel's answer, not the calls' return values. */
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0
        || ru != pw.pw_uid || eu != pw.pw_uid || su != pw.pw_uid
        || rg != pw.pw_gid || eg != pw.pw_gid || sg != pw.pw_gid
        || getgroups(0, NULL) != 0 || setresuid(0, 0, 0) == 0) {
        mtasts_errf(err, "cannot drop privileges to %s: still privileged after the switch",
                    o->user);
        return false;
    }
    return true;
}

mtasts_status cli_open_store(const mtasts_options *o, mtasts_store **s)
{
    mtasts_store_config sc = {.path = o->store, .map_max = (size_t)o->map_max << 10};
    mtasts_err err = {{0}};
    mtasts_status st = mtasts_store_open(&sc, s, &err);

    if (st != MTASTS_OK && st != MTASTS_NOT_FOUND)
        cli_error("store %s: %s", o->store, err.msg);
    return st;
}

bool cli_unprivileged(const mtasts_options *o)
{
    mtasts_err err = {{0}};

    if (cli_drop_privileges(o, &err))
        return true;
    cli_error("%s", err.msg);
    return false;
}

bool cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_domain_arg(const char *arg, char out[MTASTS_DOMAIN_MAX + 2])
{
    mtasts_err err = {{0}};
    mtasts_status st = mtasts_idn_to_ascii(arg, out, MTASTS_DOMAIN_MAX + 2, &err);

    if (st != MTASTS_OK) {
        if (st == MTASTS_NOT_FOUND)
            cli_error("invalid domain: longer than %d characters", MTASTS_DOMAIN_MAX);
        else
            cli_error("invalid domain: %s", err.msg);
        return false;
    }
    mtasts_host_normalize(out);
    if (mtasts_domain_check(out, &err) != MTASTS_OK) {
        cli_error("%s", err.msg);
        return false;
    }
    return true;
}

mtasts_status cli_parse_patterns(char *const *pats, size_t n, mtasts_policy *out,
                                 size_t *bad, mtasts_err *err)
{
    static const char head[] = "version: STSv1\nmode: testing\nmax_age: 0\n";
    const size_t head_lines = 3;
    size_t len = sizeof head - 1, i;
    mtasts_err perr = {{0}};
    mtasts_status st;
    char *text, *o, *rest;
    unsigned long line;

    *out = (mtasts_policy){0};
    *bad = 0;
    for (i = 0; i < n; i++) {
        /* A line break would smuggle another field into the policy. */
        if (pats[i][strcspn(pats[i], "\r\n")]) {
            *bad = i;
            mtasts_errf(err, "mx: invalid character (A-labels only)");
            return MTASTS_INVALID;
        }
        len += 5 + strlen(pats[i]);
    }
    if (!(o = text = malloc(len + 1))) {
        mtasts_errf(err, "out of memory");
        return MTASTS_SYSERR;
    }
    o += sprintf(o, "%s", head);
    for (i = 0; i < n; i++)
        o += sprintf(o, "mx: %s\n", pats[i]);
    st = mtasts_policy_parse(text, len, out, &perr);
    free(text);
    if (st == MTASTS_INVALID && strncmp(perr.msg, "line ", 5) == 0
        && (line = strtoul(perr.msg + 5, &rest, 10)) > head_lines && line <= head_lines + n
        && strncmp(rest, ": ", 2) == 0) {
        *bad = line - head_lines - 1;
        mtasts_errf(err, "%s", rest + 2);
    } else if (st != MTASTS_OK) {
        mtasts_errf(err, "%s", perr.msg);
    }
    return st;
}

/* utf8_seq - length of the well-formed UTF-8 sequence at s (RFC 3629 4),
 * or 0: no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)     /* also stops at the NUL */
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

void json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    fputc('"', f);
    while (*p) {
        size_t n;

        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p++, f);
        } else if (*p == '\n') {
            fputs("\\n", f);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(f, "\\u%04x", *p++);
        } else if (*p < 0x80) {
            fputc(*p++, f);
        } else if ((n = utf8_seq(p)) > 0) {
            fwrite(p, 1, n, f);
            p += n;
        } else {
            fputs("\\ufffd", f);
            p++;
        }
    }
    fputc('"', f);
}

void json_str_or_null(FILE *f, const char *s)
{
    if (s && *s)
        json_str(f, s);
    else
        fputs("null", f);
}

void json_mx(FILE *f, const mtasts_policy *p)
{
    fputc('[', f);
    for (size_t i = 0; i < p->n_mx; i++) {
        if (i)
            fputc(',', f);
        json_str(f, p->mx[i]);
    }
    fputc(']', f);
}

const char *cli_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || !gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%SZ", &tm))
        return "-";
    return buf;
}

const char *cli_duration(int64_t secs, char buf[32])
{
    const char *sign = secs < 0 ? "-" : "";
    uint64_t s = secs < 0 ? (uint64_t)0 - (uint64_t)secs : (uint64_t)secs;

    /* Two units are enough to read at a glance. */
    if (s >= 86400)
        snprintf(buf, 32, "%s%llud%lluh", sign, (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, 32, "%s%lluh%llum", sign, (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, 32, "%s%llum%llus", sign, (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(buf, 32, "%s%llus", sign, (unsigned long long)s);
    return buf;
}

/* when - a time with how far from now it is, for people */
static const char *when(int64_t t, int64_t now, char buf[80])
{
    char a[32], b[32];

    if (t == 0)
        return "-";
    snprintf(buf, 80, "%s (%s%s%s)", cli_time(t, a), t > now ? "in " : "",
             cli_duration(t > now ? t - now : now - t, b), t > now ? "" : " ago");
    return buf;
}

void cli_print_record(const char *domain, const mtasts_record *r, int applies,
                      const mtasts_resolve_result *res, bool json)
{
    int64_t now = (int64_t)time(NULL);
    bool has = r->id[0] != '\0';
    char b[80];

    if (applies < 0)
        applies = mtasts_record_usable(r, now);
    if (json) {
        printf("{\"domain\":");
        json_str(stdout, domain);
        printf(",\"policy\":%s", applies ? "true" : "false");
        if (res) {
            printf(",\"outcome\":\"%s\",\"reason\":", mtasts_outcome_name(res->outcome));
            json_str(stdout, res->reason);
        }
        printf(",\"mode\":");
        json_str_or_null(stdout, has ? mtasts_mode_name(r->policy.mode) : NULL);
        if (has)
            printf(",\"max_age\":%lu", (unsigned long)r->policy.max_age);
        else
            printf(",\"max_age\":null");
        printf(",\"id\":");
        json_str_or_null(stdout, r->id);
        printf(",\"mx\":");
        json_mx(stdout, &r->policy);
        printf(",\"source\":\"%s\",\"fetched_at\":%lld,\"expires_at\":%lld,"
               "\"txt_checked_at\":%lld,\"next_check_at\":%lld,\"last_used\":%lld,"
               "\"failures\":%lu,\"backoff_until\":%lld,\"backoff_id\":",
               mtasts_source_name(r->source), (long long)r->fetched_at,
               (long long)r->expires_at, (long long)r->txt_checked_at,
               (long long)r->next_check_at, (long long)r->last_used,
               (unsigned long)r->failures, (long long)r->backoff_until);
        json_str_or_null(stdout, r->backoff_id);
        printf(",\"dane\":");
        json_str_or_null(stdout, r->dane);
        printf(",\"last_error\":");
        json_str_or_null(stdout, r->last_error);
        printf("}\n");
        return;
    }
    printf("domain:        %s\n", domain);
    printf("policy:        %s\n", applies ? "applies" : "none");
    if (res) {
        printf("outcome:       %s\n", mtasts_outcome_name(res->outcome));
        if (res->reason[0])
            printf("reason:        %s\n", res->reason);
    }
    if (has) {
        printf("mode:          %s\n", mtasts_mode_name(r->policy.mode));
        printf("max_age:       %lu\n", (unsigned long)r->policy.max_age);
        printf("id:            %s\n", r->id);
        printf("mx:           ");
        for (size_t i = 0; i < r->policy.n_mx; i++)
            printf(" %s", r->policy.mx[i]);
        printf("\n");
        printf("source:        %s\n", mtasts_source_name(r->source));
        printf("fetched:       %s\n", when(r->fetched_at, now, b));
        printf("expires:       %s\n", when(r->expires_at, now, b));
    } else {
        printf("mode:          -\n");
    }
    printf("dane:          %s\n", r->dane[0] ? r->dane : "-");
    printf("txt checked:   %s\n", when(r->txt_checked_at, now, b));
    printf("next check:    %s\n", when(r->next_check_at, now, b));
    printf("last used:     %s\n", when(r->last_used, now, b));
    printf("failures:      %lu\n", (unsigned long)r->failures);
    if (r->backoff_id[0])
        printf("backoff:       id %s until %s\n", r->backoff_id, when(r->backoff_until, now, b));
    if (r->last_error[0])
        printf("last error:    %s\n", r->last_error);
}
