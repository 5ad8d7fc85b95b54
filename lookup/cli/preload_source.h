/*
 * preload_source.h - reading a preload list (file or https URL) and checking
 * its detached OpenPGP signature with gpgv (CLI side: libcurl).
 */
#ifndef MTASTS_PRELOAD_SOURCE_H
#define MTASTS_PRELOAD_SOURCE_H

#include "options.h"

/* A whole list download, and its signature's, at most this long. */
#define PRELOAD_FETCH_TIMEOUT_MS 60000
#define PRELOAD_SIG_MAX_BYTES (64u << 10)
#define PRELOAD_KEYRING_MAX_BYTES (4u << 20)

typedef struct preload_blob {
    char *data;     /* NUL-terminated (not counted in len) */
    size_t len;
} preload_blob;

void preload_blob_free(preload_blob *b);
/* "scheme://...": a URL (only https:// is fetched), else a file name. */
bool preload_is_url(const char *src);
/* src into b, at most max bytes: a file, or an https URL fetched with
 * PKIX validation (o's ca_file/ca_path), no redirect, o's proxy only,
 * PRELOAD_FETCH_TIMEOUT_MS in all. false with err set on failure. */
bool preload_read(const char *src, const mtasts_options *o, size_t max, preload_blob *b,
                  mtasts_err *err);
bool preload_read_local(const char *path, size_t max, preload_blob *b, mtasts_err *err);
/* gpgv over copies of the three in a private temporary directory (no
 * shell, no inherited descriptor, bounded time): OK for a good signature
 * by a key of keyring (a binary OpenPGP keyring, as gpg --export writes),
 * INVALID (err says why) for anything else, SYSERR when gpgv cannot run. */
mtasts_status preload_verify(const preload_blob *list, const preload_blob *sig,
                             const preload_blob *keyring, mtasts_err *err);

#endif
