/*
 * tlsrpt_cmd.c - mtasts tlsrpt send|read|show (SMTP TLS Reporting, RFC 8460).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_tlsrpt(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "show"))
        return cmd_tlsrpt_show(argc - 1, argv + 1);
    fprintf(stderr, "usage: mtasts tlsrpt show [DOMAIN]\n");
    return EXIT_USAGE;
}
