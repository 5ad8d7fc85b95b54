/*
 * query_cmd.c - "mtasts query DOMAIN": resolve now, as the helper would,
 * showing every step with its timing on stderr and the result on stdout.
 */
#include "cli_util.h"

#include <time.h>

static const char query_usage[] =
    "usage: mtasts query [--force] [--json] [--store DIR] [--config FILE]\n"
    "                    [--options 'key=value ...'] DOMAIN\n"
    "Resolve DOMAIN's MTA-STS policy now (from the store when it answers,\n"
    "else DNS and HTTPS) and update the store; steps and timings on stderr.\n"
    "--force checks the TXT record even when the store could answer.\n"
    "Exit 0 a policy applies, 1 none, 2 usage, 3 trouble.\n";

int cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "force", no_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        CLI_SETTINGS_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    cli_settings_args sa = {0};
    char domain[MTASTS_DOMAIN_MAX + 2];
    bool force = false, json = false;
    mtasts_options o;
    mtasts_record r;
    mtasts_resolve_result res;
    mtasts_status st;
    struct timespec t0, t1;
    int c;

    while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        if (cli_settings_opt(c, optarg, &sa))
            continue;
        switch (c) {
        case 'f': force = true; break;
        case 'j': json = true; break;
        case 'h': return cli_usage(query_usage, true);
        default: return cli_usage(query_usage, false);
        }
    }
    if (optind != argc - 1)
        return cli_usage(query_usage, false);
    if (!cli_domain_arg(argv[optind], domain))
        return EXIT_USAGE;
    /* Network-facing parsing never as root (see resolve). */
    if (!cli_load_settings(&sa, &o) || !cli_unprivileged(&o))
        return EXIT_TROUBLE;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = cli_resolve_domain(&o, domain, force, 0, true, &r, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "total: %s, outcome %s (%.1f ms)\n", domain,
            mtasts_outcome_name(res.outcome),
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    cli_print_record(domain, &r, st == MTASTS_OK, &res, json);
    mtasts_record_free(&r);
    return st == MTASTS_OK ? EXIT_POLICY : EXIT_NO_POLICY;
}
