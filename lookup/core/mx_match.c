/*
 * mx_match.c - match MX host names against policy patterns (RFC 8461
 * section 4.1) and render the patterns for Exim. See mx_match.h.
 */
#include "mx_match.h"

#include <limits.h>
#include <string.h>

#define REGEX_WILDCARD "[^.]+[.]"       /* one whole non-empty label */
/* A literal dot as a bracket expression, not "\\.": the text then holds
 * no backslash, which Exim's ${extract} and string expansion would eat. */
#define REGEX_DOT "[.]"
#define REGEX_ANY_DEPTH ".+"            /* ".suffix": one label or more */
#define REGEX_SEP " : "                 /* Exim list separator */

void mtasts_host_normalize(char *host)
{
    size_t n = 0;

    if (!host)
        return;
    for (; host[n]; n++)
        if (host[n] >= 'A' && host[n] <= 'Z')
            host[n] = (char)(host[n] - 'A' + 'a');
    if (n && host[n - 1] == '.')
        host[n - 1] = '\0';
}

/* mtasts_mx_pattern_match - caller guarantees that both inputs are
 * normalised A-labels (lower case, no trailing dot); cf. Postfix's
 * match_sts_mx_host_pattern(). */
bool mtasts_mx_pattern_match(const char *host, const char *pattern)
{
    const char *dot;

    if (!host || !pattern)
        return false;
    if (pattern[0] == '*' && pattern[1] == '.') {
        if (pattern[2] == '\0')
            return false;
        dot = strchr(host, '.');
        return dot && dot != host && strcmp(dot + 1, pattern + 2) == 0;
    }
    if (pattern[0] == '.') {
        /* The preload list's suffix kind (policy.h): any depth below it. */
        size_t h = strlen(host), p = strlen(pattern);

        return p > 1 && h > p && strcmp(host + h - p, pattern) == 0;
    }
    return strcmp(host, pattern) == 0;
}

/* host_plausible - a normalised host name of LDH labels (see header). */
static bool host_plausible(const char *h)
{
    size_t i, label = 0;

    for (i = 0; h[i]; i++) {
        char c = h[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                   || c == '-')
            label++;
        else
            return false;
    }
    return i > 0 && i <= MTASTS_DOMAIN_MAX && label > 0;
}

int mtasts_mx_match_policy(const mtasts_policy *p, const char *host)
{
    char h[MTASTS_DOMAIN_MAX + 2];      /* 253 + a trailing dot + NUL */
    size_t i, n;

    if (!p || !host || (p->n_mx && !p->mx))
        return -1;
    n = strnlen(host, sizeof h);
    if (n == sizeof h)
        return -1;
    memcpy(h, host, n + 1);
    mtasts_host_normalize(h);
    if (!host_plausible(h))
        return -1;
    for (i = 0; i < p->n_mx && i < INT_MAX; i++)
        if (mtasts_mx_pattern_match(h, p->mx[i]))
            return (int)i;
    return -1;
}

/* regex_len - bytes needed for one pattern as a regex (no NUL), 0 if the
 * pattern holds characters that must not reach an Exim list. */
static size_t regex_len(const char *pat)
{
    size_t n = 2;                       /* "^" and "$" */
    const char *s = pat;

    if (!pat)
        return 0;
    if (s[0] == '*' && s[1] == '.') {
        n += sizeof REGEX_WILDCARD - 1;
        s += 2;
    } else if (s[0] == '.') {
        if (!s[1])
            return 0;
        n += sizeof REGEX_ANY_DEPTH - 1;
    }
    if (!*s)
        return 0;
    for (; *s; s++) {
        char c = *s;

        if (c == '.')
            n += sizeof REGEX_DOT - 1;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '-')
            n++;
        else
            return 0;
    }
    return n;
}

size_t mtasts_mx_exim_regexes_size(const mtasts_policy *p)
{
    size_t i, n = 1;                    /* the NUL */

    if (!p || (p->n_mx && !p->mx))
        return 0;
    for (i = 0; i < p->n_mx; i++) {
        size_t r = regex_len(p->mx[i]);

        if (r == 0)
            return 0;
        n += r + (i ? sizeof REGEX_SEP - 1 : 0);
    }
    return n;
}

mtasts_status mtasts_mx_exim_regexes(const mtasts_policy *p, char *buf,
                                     size_t buflen)
{
    size_t i, need = mtasts_mx_exim_regexes_size(p);
    char *o = buf;

    if (buf && buflen)
        buf[0] = '\0';
    if (need == 0 || !buf || buflen < need)
        return MTASTS_INVALID;
    for (i = 0; i < p->n_mx; i++) {
        const char *s = p->mx[i];

        if (i) {
            memcpy(o, REGEX_SEP, sizeof REGEX_SEP - 1);
            o += sizeof REGEX_SEP - 1;
        }
        *o++ = '^';
        if (s[0] == '*' && s[1] == '.') {
            memcpy(o, REGEX_WILDCARD, sizeof REGEX_WILDCARD - 1);
            o += sizeof REGEX_WILDCARD - 1;
            s += 2;
        } else if (s[0] == '.') {
            memcpy(o, REGEX_ANY_DEPTH, sizeof REGEX_ANY_DEPTH - 1);
            o += sizeof REGEX_ANY_DEPTH - 1;
        }
        for (; *s; s++) {
            if (*s == '.') {
                memcpy(o, REGEX_DOT, sizeof REGEX_DOT - 1);
                o += sizeof REGEX_DOT - 1;
            } else {
                *o++ = *s;
            }
        }
        *o++ = '$';
    }
    *o = '\0';
    return MTASTS_OK;
}
