/*
 * mtasts_dlfunc.c - the ${dlfunc} adapter for Exims without a lookup module
 * directory, such as Debian's exim4-daemon-heavy:
 *
 *   ${dlfunc{/usr/lib/exim4/mtasts_dlfunc.so}{mtasts_policy}{$domain}}
 *   ${dlfunc{/usr/lib/exim4/mtasts_dlfunc.so}{mtasts_policy}{$domain}{store=/x}}
 *
 * and, from the transport's event_action (TLSRPT recording, tlsrpt_event.h):
 *
 *   ${dlfunc{/usr/lib/exim4/mtasts_dlfunc.so}{mtasts_tlsrpt}{tlsrpt ev=...}{OPTIONS}}
 *
 * It gives the same answer text as ${lookup mtasts{...}} from the same core,
 * and the empty string when no policy applies (a dlfunc has no "fail" branch
 * to choose, and a forced failure would fail the whole expansion). Bad
 * options DEFER. Debug output appears under -d+local_scan.
 *
 * Stock Debian's exim4 exports only the local_scan API (it is built with
 * -fvisibility=hidden), so this file is compiled against exim4-dev's
 * local_scan.h and touches nothing else of Exim's.
 */
#include <local_scan.h>

#include "answer.h"
#include "common.h"
#include "tlsrpt_event.h"

static void exim_log(void *ctx, mtasts_log_level level, const char *msg)
{
    (void)ctx;
    switch (level) {
    case MTASTS_LOG_DEBUG:
        if (debug_selector & D_local_scan)
            debug_printf("%s\n", msg);
        break;
    case MTASTS_LOG_MAIN:
        log_write(0, LOG_MAIN, "%s", msg);
        break;
    case MTASTS_LOG_PANIC:
        log_write(0, LOG_MAIN | LOG_PANIC, "%s", msg);
        break;
    }
}

MTASTS_API int mtasts_policy(uschar **yield, int argc, uschar *argv[])
{
    static char out[MTASTS_ANSWER_MAX];
    mtasts_hooks hooks = { exim_log, NULL, (debug_selector & D_local_scan) != 0 };
    mtasts_err err = {{0}};
    unsigned ttl;
    mtasts_status st;

    if (argc < 1 || argc > 2) {
        *yield = string_copy(US"mtasts_policy: arguments are DOMAIN [OPTIONS]");
        return ERROR;
    }
    st = mtasts_answer((const char *)argv[0], argc > 1 ? (const char *)argv[1] : NULL,
                       &hooks, out, sizeof out, &ttl, &err);
    if (st == MTASTS_OK) {
        *yield = string_copy(US out);
        return OK;
    }
    if (st == MTASTS_NOT_FOUND) {
        exim_log(NULL, MTASTS_LOG_DEBUG, err.msg);
        *yield = string_copy(US"");
        return OK;
    }
    *yield = string_sprintf("mtasts: %s", err.msg);
    return DEFER;
}

/* mtasts_tlsrpt - record a transport event; always "" and OK: recording
 * never changes a delivery (a tls:cert event refuses the certificate on a
 * non-empty result, and a failed expansion would be logged per event). */
MTASTS_API int mtasts_tlsrpt(uschar **yield, int argc, uschar *argv[])
{
    mtasts_hooks hooks = { exim_log, NULL, (debug_selector & D_local_scan) != 0 };

    if (argc >= 1 && argc <= 2 && mtasts_tlsrpt_is_event((const char *)argv[0]))
        mtasts_tlsrpt_event((const char *)argv[0], argc > 1 ? (const char *)argv[1] : NULL,
                            &hooks);
    else
        exim_log(NULL, MTASTS_LOG_DEBUG, "mtasts_tlsrpt: arguments are \"tlsrpt ...\" [OPTIONS]");
    *yield = string_copy(US"");
    return OK;
}
