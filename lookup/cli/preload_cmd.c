/*
 * preload_cmd.c - mtasts preload build|import|list|show|remove|clear|stats.
 */
#include "cli.h"

#include <stdio.h>

int cmd_preload(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "mtasts preload: not implemented yet\n");
    return EXIT_TROUBLE;
}
