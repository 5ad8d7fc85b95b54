/*
 * idn.c - U-labels to A-labels with libidn2, loaded on first use; see idn.h.
 */
#include "idn.h"

#include <dlfcn.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDN2_SONAME "libidn2.so.0"
/* Longer UTF-8 input is no domain (253 octets once converted). */
#define IDN_INPUT_MAX 1024

typedef int (*to_ascii_fn)(const char *, char **, int);
typedef const char *(*strerror_fn)(int);
typedef void (*free_fn)(void *);

static struct {
    bool tried;
    to_ascii_fn to_ascii;
    strerror_fn strerror;
    free_fn free;
} idn2;

static bool idn2_load(void)
{
    if (!idn2.tried) {
        void *h = dlopen(IDN2_SONAME, RTLD_NOW | RTLD_LOCAL);

        idn2.tried = true;
        if (h) {
            *(void **)&idn2.to_ascii = dlsym(h, "idn2_to_ascii_8z");
            *(void **)&idn2.strerror = dlsym(h, "idn2_strerror");
            *(void **)&idn2.free = dlsym(h, "idn2_free");
        }
    }
    return idn2.to_ascii != NULL;
}

/* escaped - up to 64 bytes of s for a message, bytes outside printable
 * ASCII as \xNN: the name comes from mail and goes to logs. */
static const char *escaped(const char *s, char buf[300])
{
    size_t i, o = 0;

    for (i = 0; s[i] && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c > 0x20 && c < 0x7f && c != '\\' && c != '"')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
    }
    if (s[i])
        buf[o++] = '~';
    buf[o] = '\0';
    return buf;
}

mtasts_status mtasts_idn_to_ascii(const char *in, char *out, size_t outsize, mtasts_err *err)
{
    char name[IDN_INPUT_MAX + 1], show[300], *ace = NULL;
    size_t len = strlen(in), i;
    int rc;

    for (i = 0; i < len && (unsigned char)in[i] < 0x80; i++)
        ;
    if (i == len) {
        if (mtasts_strlcpy(out, in, outsize) >= outsize) {
            mtasts_errf(err, "not a domain name (too long)");
            return MTASTS_NOT_FOUND;
        }
        return MTASTS_OK;
    }
    if (len > IDN_INPUT_MAX) {
        mtasts_errf(err, "IDN \"%s\": longer than %d bytes", escaped(in, show), IDN_INPUT_MAX);
        return MTASTS_INVALID;
    }
    if (!idn2_load()) {
        mtasts_errf(err, "IDN \"%s\": %s cannot be loaded", escaped(in, show), IDN2_SONAME);
        return MTASTS_SYSERR;
    }
    memcpy(name, in, len + 1);
    if (len > 1 && name[len - 1] == '.')
        name[len - 1] = '\0';
    rc = idn2.to_ascii(name, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK || !ace || mtasts_strlcpy(out, ace, outsize) >= outsize) {
        mtasts_errf(err, "IDN \"%s\" cannot be converted to A-labels: %s", escaped(in, show),
                    rc != IDN2_OK ? (idn2.strerror ? idn2.strerror(rc) : "libidn2 error")
                                  : "too long");
        if (ace)
            (idn2.free ? idn2.free : free)(ace);
        return MTASTS_INVALID;
    }
    (idn2.free ? idn2.free : free)(ace);
    return MTASTS_OK;
}
