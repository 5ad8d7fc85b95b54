/*
 * match_cmd.c - "mtasts match HOST PATTERN...": the RFC 8461 4.1 rule as
 * senders apply it, for checking a policy's mx lines against real MX names.
 */
#include "cli_util.h"
#include "mx_match.h"

#include <string.h>

static const char match_usage[] =
    "usage: mtasts match [--json] HOST PATTERN...\n"
    "Does the MX host name HOST match one of the policy mx PATTERNs (RFC 8461\n"
    "4.1: \"*.\" covers exactly one left-most label)? Prints the first matching\n"
    "pattern. Exit 0 match, 1 no match, 2 invalid host or pattern.\n";

int cmd_match(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char host[MTASTS_DOMAIN_MAX + 2];
    mtasts_policy p;
    mtasts_err err = {{0}};
    mtasts_status st;
    bool json = false;
    size_t bad;
    int c, i;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return cli_usage(match_usage, true);
        default: return cli_usage(match_usage, false);
        }
    }
    if (argc - optind < 2)
        return cli_usage(match_usage, false);
    if (!cli_domain_arg(argv[optind], host))
        return EXIT_USAGE;
    st = cli_parse_patterns(argv + optind + 1, (size_t)(argc - optind - 1), &p, &bad, &err);
    if (st != MTASTS_OK) {
        if (st == MTASTS_INVALID)
            cli_error("pattern \"%s\": %s", argv[optind + 1 + bad], err.msg);
        else
            cli_error("%s", err.msg);
        return st == MTASTS_INVALID ? EXIT_USAGE : EXIT_TROUBLE;
    }
    i = mtasts_mx_match_policy(&p, host);
    if (json) {
        printf("{\"host\":");
        json_str(stdout, host);
        printf(",\"match\":%s,\"pattern\":", i >= 0 ? "true" : "false");
        json_str_or_null(stdout, i >= 0 ? p.mx[i] : NULL);
        printf("}\n");
    } else if (i >= 0) {
        printf("%s\n", p.mx[i]);
    }
    mtasts_policy_free(&p);
    return i >= 0 ? EXIT_POLICY : EXIT_NO_POLICY;
}
