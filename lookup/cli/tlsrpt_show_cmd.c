/*
 * tlsrpt_show_cmd.c - mtasts tlsrpt show [DOMAIN]: today's TLS session counts.
 */
#include "cli.h"

#include <stdio.h>

int cmd_tlsrpt_show(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mtasts tlsrpt show: not implemented yet\n");
    return EXIT_TROUBLE;
}
