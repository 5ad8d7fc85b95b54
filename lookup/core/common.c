/*
 * common.c - status and mode names, the first-error-wins error buffer.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

const char *mtasts_status_name(mtasts_status st)
{
    switch (st) {
    case MTASTS_OK: return "ok";
    case MTASTS_NOT_FOUND: return "not-found";
    case MTASTS_TEMPFAIL: return "tempfail";
    case MTASTS_INVALID: return "invalid";
    case MTASTS_FETCH_FAILED: return "fetch-failed";
    case MTASTS_SYSERR: return "system-error";
    }
    return "unknown";
}

const char *mtasts_mode_name(mtasts_mode mode)
{
    switch (mode) {
    case MTASTS_MODE_NONE: return "none";
    case MTASTS_MODE_TESTING: return "testing";
    case MTASTS_MODE_ENFORCE: return "enforce";
    }
    return "unknown";
}

void mtasts_err_clear(mtasts_err *err)
{
    if (err)
        err->msg[0] = '\0';
}

void mtasts_errf(mtasts_err *err, const char *fmt, ...)
{
    va_list ap;

    if (!err || err->msg[0])
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

size_t mtasts_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}
