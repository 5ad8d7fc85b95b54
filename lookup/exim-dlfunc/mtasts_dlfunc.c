/*
 * mtasts_dlfunc.c - the ${dlfunc} adapter for Exims without a lookup module
 * directory, such as Debian's exim4-daemon-heavy:
 *
 *   ${dlfunc{/usr/lib/exim4/mtasts_dlfunc.so}{mtasts_policy}{$domain}}
 *
 * Stock Debian's exim4 exports only the local_scan API (it is built with
 * -fvisibility=hidden), so this file is compiled against exim4-dev's
 * local_scan.h and touches nothing else of Exim's.
 */
#include <local_scan.h>

#include "common.h"

MTASTS_API int mtasts_policy(uschar **yield, int argc, uschar *argv[])
{
    if (argc != 1) {
        *yield = string_copy(US"mtasts_policy: expects one argument, the domain");
        return ERROR;
    }
    *yield = string_sprintf("mtasts %s (dlfunc, domain %s)", MTASTS_VERSION, argv[0]);
    return OK;
}
