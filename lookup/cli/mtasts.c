/*
 * mtasts.c - the mtasts command: dispatch to one function per subcommand.
 */
#include "cli.h"
#include "cli_util.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    { "resolve", cmd_resolve, "resolve DOMAIN now (the Exim adapters' helper)" },
    { "query", cmd_query, "resolve DOMAIN now, showing each step and the policy" },
    { "cache", cmd_cache, "list, show, flush or count what the store holds" },
    { "refresh", cmd_refresh, "refresh stored policies before they expire (for a timer)" },
    { "lint-policy", cmd_lint_policy, "check a policy file before publishing it" },
    { "lint-txt", cmd_lint_txt, "check the _mta-sts TXT records before publishing them" },
    { "match", cmd_match, "does an MX host name match these policy mx patterns?" },
    { "generate", cmd_generate, "write a policy file and its DNS records" },
    { "tlsrpt", cmd_tlsrpt, "TLS reporting (RFC 8460): send, show, read reports" },
    { "preload", cmd_preload, "the MTA-STS preload list: build, import, list, show" },
};

static int usage(FILE *f)
{
    fprintf(f, "usage: mtasts COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n\"mtasts COMMAND --help\" describes each command; see mtasts(8).\n");
    fprintf(f, "\nexit codes: 0 ok/policy, 1 no policy/invalid/no match, 2 usage, 3 trouble\n");
    return f == stdout ? EXIT_POLICY : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    if (!strcmp(argv[1], "--version")) {
        printf("mtasts %s\n", MTASTS_VERSION);
        return EXIT_POLICY;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mtasts: unknown command \"%s\"\n", argv[1]);
    return usage(stderr);
}
