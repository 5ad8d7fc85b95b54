/*
 * match_cmd.c - "mtasts match HOST PATTERN...": the RFC 8461 4.1 rule as
 * senders apply it, for checking a policy's mx lines against real MX names.
 * It answers as the matcher does in delivery: an invalid pattern never
 * matches (the others still count), a host that is no host name matches
 * nothing; U-labels in either are converted to A-labels first.
 */
#include "cli_util.h"
#include "domain.h"
#include "idn.h"
#include "mx_match.h"

#include <stdlib.h>
#include <string.h>

static const char match_usage[] =
    "usage: mtasts match [--json] HOST PATTERN...\n"
    "Does the MX host name HOST match one of the policy mx PATTERNs (RFC 8461\n"
    "4.1: \"*.\" covers exactly one left-most label)? Prints the first matching\n"
    "pattern. An invalid pattern never matches (warned about on stderr), nor\n"
    "does an invalid host. Exit 0 match, 1 no match, 2 usage, 3 trouble.\n";

/* pattern_ascii - PATTERN with U-labels as A-labels (after "*." if any);
 * a malloc'd string, or NULL with err set */
static char *pattern_ascii(const char *pat, mtasts_err *err)
{
    bool wild = strncmp(pat, "*.", 2) == 0;
    char ace[MTASTS_DOMAIN_MAX + 2], *out;
    mtasts_status st = mtasts_idn_to_ascii(pat + (wild ? 2 : 0), ace, sizeof ace, err);

    if (st == MTASTS_NOT_FOUND) {
        mtasts_err_clear(err);
        mtasts_errf(err, "mx: longer than 253 characters");
    }
    if (st != MTASTS_OK)
        return NULL;
    if (!(out = malloc(strlen(ace) + 3))) {
        mtasts_errf(err, "out of memory");
        return NULL;
    }
    snprintf(out, strlen(ace) + 3, "%s%s", wild ? "*." : "", ace);
    return out;
}

/* host_is_name - whether the matcher takes host for an MX host name at all
 * (it then matches itself as an exact pattern) */
static bool host_is_name(char *host)
{
    char *self_pattern[] = { host };
    mtasts_policy self = { .n_mx = 1, .mx = self_pattern };

    return mtasts_mx_match_policy(&self, host) == 0;
}

int cmd_match(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char host[MTASTS_DOMAIN_MAX + 2] = "", **valid = NULL, show[72];
    mtasts_policy p = {0};
    mtasts_err err = {{0}};
    bool json = false, host_ok;
    size_t n_valid = 0, npat, bad;
    int c, i = -1, rc = EXIT_TROUBLE;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return cli_usage(match_usage, true);
        default: return cli_usage(match_usage, false);
        }
    }
    if (argc - optind < 2)
        return cli_usage(match_usage, false);
    npat = (size_t)(argc - optind - 1);

    host_ok = mtasts_idn_to_ascii(argv[optind], host, sizeof host, &err) == MTASTS_OK;
    if (!host_ok)
        cli_error("host \"%s\": %s: no match", mtasts_printable(argv[optind], show),
                  err.msg[0] ? err.msg : "not a host name");
    mtasts_host_normalize(host);

    /* Each pattern on its own, so that a bad one does not hide the others. */
    if (!(valid = calloc(npat, sizeof *valid)))
        goto out;
    for (size_t k = 0; k < npat; k++) {
        const char *arg = argv[optind + 1 + k];
        char *pat;
        mtasts_policy one;

        mtasts_err_clear(&err);
        if (!(pat = pattern_ascii(arg, &err))
            || cli_parse_patterns(&pat, 1, &one, &bad, &err) != MTASTS_OK) {
            cli_error("pattern \"%s\": %s: it never matches", mtasts_printable(arg, show), err.msg);
            free(pat);
            continue;
        }
        mtasts_policy_free(&one);
        valid[n_valid++] = pat;
    }
    mtasts_err_clear(&err);
    if (n_valid && cli_parse_patterns(valid, n_valid, &p, &bad, &err) != MTASTS_OK) {
        cli_error("%s", err.msg);
        goto out;
    }
    if (host_ok && !host_is_name(host)) {
        cli_error("host \"%s\": not a host name: no match", mtasts_printable(argv[optind], show));
        host_ok = false;
    }
    if (host_ok)
        i = mtasts_mx_match_policy(&p, host);
    if (json) {
        printf("{\"host\":");
        json_str(stdout, host[0] ? host : argv[optind]);
        printf(",\"match\":%s,\"pattern\":", i >= 0 ? "true" : "false");
        json_str_or_null(stdout, i >= 0 ? p.mx[i] : NULL);
        printf("}\n");
    } else if (i >= 0) {
        printf("%s\n", p.mx[i]);
    }
    rc = i >= 0 ? EXIT_POLICY : EXIT_NO_POLICY;
out:
    for (size_t k = 0; k < n_valid; k++)
        free(valid[k]);
    free(valid);
    mtasts_policy_free(&p);
    return rc;
}
