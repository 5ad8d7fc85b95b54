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
    char raw[4 * sizeof err->msg];
    va_list ap;

    if (!err || err->msg[0])
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    mtasts_escape(raw, err->msg, sizeof err->msg);
}

char *mtasts_escape(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, total = 0, reserve;
    const char *p;

    for (p = s; *p; p++)
        total += (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? 1 : 4;
    /* When cut, o + 3 < size always holds: "..." fits. */
    reserve = total < size ? 0 : 3;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        size_t need = c >= 0x20 && c < 0x7f ? 1 : 4;

        if (o + need + reserve >= size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 1) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    buf[o] = '\0';
    return buf;
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
