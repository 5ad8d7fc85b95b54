/*
 * domain.c - policy domain syntax check; see domain.h.
 */
#include "domain.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

const char *mtasts_printable(const char *s, char buf[72])
{
    size_t i;

    for (i = 0; s[i] && i < 64; i++)
        buf[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i])
        buf[i++] = '~';
    buf[i] = '\0';
    return buf;
}

static bool is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-';
}

mtasts_status mtasts_domain_check(const char *domain, mtasts_err *err)
{
    const char *why = NULL, *p, *label;
    char show[72];
    unsigned char a6[16];
    size_t len, llen;
    bool numeric = true;

    if (!domain || !*domain) {
        mtasts_errf(err, "invalid domain: empty");
        return MTASTS_INVALID;
    }
    len = strlen(domain);
    if (len > MTASTS_DOMAIN_MAX)
        why = "longer than 253 characters";
    else if (domain[0] == '[' || inet_pton(AF_INET6, domain, a6) == 1 ||
             inet_pton(AF_INET, domain, a6) == 1)
        why = "IP literal";
    else if (strchr(domain, ':'))
        why = "\":port\" not allowed";
    else if (domain[0] == '.')
        why = "leading dot";
    else if (domain[len - 1] == '.')
        why = "trailing dot";
    for (p = label = domain; !why; p++) {
        if (*p == '.' || *p == '\0') {
            llen = (size_t)(p - label);
            if (llen == 0)
                why = "empty label";
            else if (llen > 63)
                why = "label longer than 63 characters";
            else if (label[0] == '-' || p[-1] == '-')
                why = "label begins or ends with \"-\"";
            if (*p == '\0')
                break;
            label = p + 1;
            numeric = true;
        } else if (!is_ldh(*p)) {
            why = "not a letter, digit, \"-\" or \".\"";
        } else if (*p < '0' || *p > '9') {
            numeric = false;
        }
    }
    /* RFC 3696 2: a top-level label is never all-numeric; "1.2.3.04"
     * and the like are addresses, not domains. */
    if (!why && numeric)
        why = "all-numeric top-level label";
    if (why) {
        mtasts_errf(err, "invalid domain \"%s\": %s", mtasts_printable(domain, show),
                    why);
        return MTASTS_INVALID;
    }
    return MTASTS_OK;
}
