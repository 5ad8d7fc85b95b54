/*
 * preload_source.c - getting a preload list and checking its signature:
 * a local file, or an https URL (libcurl: PKIX, no redirect, bounded size
 * and time); a detached OpenPGP signature checked by Debian's gpgv.
 */
#include "preload_source.h"
#include "fetch.h"
#include "spawn.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GPGV_PATH "/usr/bin/gpgv"
#define GPGV_TIMEOUT_MS 30000

void preload_blob_free(preload_blob *b)
{
    if (b) {
        free(b->data);
        b->data = NULL;
        b->len = 0;
    }
}

bool preload_is_url(const char *src)
{
    return strstr(src, "://") != NULL;
}

static bool read_file(const char *path, size_t max, preload_blob *b, mtasts_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat sb;
    ssize_t r;

    memset(b, 0, sizeof *b);
    if (fd < 0) {
        mtasts_errf(err, "%s: %s", path, strerror(errno));
        return false;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > max) {
        mtasts_errf(err, "%s: not a regular file of at most %zu bytes", path, max);
        close(fd);
        return false;
    }
    if (!(b->data = malloc((size_t)sb.st_size + 1))) {
        mtasts_errf(err, "%s: out of memory", path);
        close(fd);
        return false;
    }
    /* Read up to max + 1 bytes: a file that grew meanwhile is refused. */
    while (b->len <= (size_t)sb.st_size
           && (r = read(fd, b->data + b->len, (size_t)sb.st_size + 1 - b->len)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            mtasts_errf(err, "%s: %s", path, strerror(errno));
            break;
        }
        b->len += (size_t)r;
    }
    close(fd);
    if (err && err->msg[0]) {
        preload_blob_free(b);
        return false;
    }
    if (b->len > (size_t)sb.st_size) {
        mtasts_errf(err, "%s: changed while being read", path);
        preload_blob_free(b);
        return false;
    }
    b->data[b->len] = '\0';
    return true;
}

typedef struct sink {
    preload_blob *b;
    size_t max;
    bool too_big;
} sink;

static size_t write_cb(char *p, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t add = size * n;
    char *d;

    if (add > s->max - s->b->len) {
        s->too_big = true;
        return 0;                       /* aborts the transfer */
    }
    if (!(d = realloc(s->b->data, s->b->len + add + 1)))
        return 0;
    s->b->data = d;
    memcpy(d + s->b->len, p, add);
    s->b->len += add;
    d[s->b->len] = '\0';
    return add;
}

static bool fetch_url(const char *url, const mtasts_options *o, size_t max, preload_blob *b,
                      mtasts_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    sink s = {b, max, false};
    struct stat sb;
    CURL *c;
    CURLcode rc;
    long code = 0;

    memset(b, 0, sizeof *b);
    if (strncmp(url, "https://", 8) != 0) {
        mtasts_errf(err, "%s: only https:// URLs are fetched", url);
        return false;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c = curl_easy_init())) {
        mtasts_errf(err, "%s: libcurl cannot start", url);
        return false;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (o->ca_file[0] || o->ca_path[0]) {
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file[0] ? o->ca_file : NULL);
        curl_easy_setopt(c, CURLOPT_CAPATH, o->ca_path[0] ? o->ca_path : NULL);
    } else if (stat(MTASTS_FETCH_CA_PATH_DEFAULT, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(c, CURLOPT_CAPATH, MTASTS_FETCH_CA_PATH_DEFAULT);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)PRELOAD_FETCH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, o->proxy[0] ? o->proxy : "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "exim-mtasts/" MTASTS_VERSION);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK && code == 200) {
        if (!b->data && !(b->data = calloc(1, 1))) {
            mtasts_errf(err, "%s: out of memory", url);
            return false;
        }
        return true;
    }
    if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        mtasts_errf(err, "%s: larger than %zu bytes", url, max);
    else if (rc == CURLE_OK)
        mtasts_errf(err, "%s: HTTP status %ld (redirects are not followed)", url, code);
    else
        mtasts_errf(err, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    preload_blob_free(b);
    return false;
}

bool preload_read(const char *src, const mtasts_options *o, size_t max, preload_blob *b,
                  mtasts_err *err)
{
    return preload_is_url(src) ? fetch_url(src, o, max, b, err) : read_file(src, max, b, err);
}

bool preload_read_local(const char *path, size_t max, preload_blob *b, mtasts_err *err)
{
    return read_file(path, max, b, err);
}

/* write_private - data into dir/name, created exclusively (mode 0600) */
static bool write_private(const char *dir, const char *name, const preload_blob *b,
                          char *path, size_t size, mtasts_err *err)
{
    size_t off = 0;
    int fd;

    snprintf(path, size, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        mtasts_errf(err, "%s: %s", path, strerror(errno));
        return false;
    }
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            mtasts_errf(err, "%s: %s", path, strerror(errno));
            close(fd);
            return false;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        mtasts_errf(err, "%s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

mtasts_status preload_verify(const preload_blob *list, const preload_blob *sig,
                             const preload_blob *keyring, mtasts_err *err)
{
    char dir[] = "/tmp/mtasts-preload-XXXXXX", lp[64], sp[64], kp[64], out[4096];
    char *argv[] = {GPGV_PATH, "--homedir", dir, "--status-fd", "1", "--keyring", kp,
                    "--", sp, lp, NULL};
    mtasts_status st = MTASTS_SYSERR;
    size_t outlen = 0;
    int code = -1;

    lp[0] = sp[0] = kp[0] = '\0';
    if (access(GPGV_PATH, X_OK) != 0) {
        mtasts_errf(err, "%s: not installed (apt-get install gpgv)", GPGV_PATH);
        return MTASTS_SYSERR;
    }
    /* gpgv reads files: copies in a private directory (ours, 0700), so no
     * one can swap them between the check and the parse. */
    if (!mkdtemp(dir)) {
        mtasts_errf(err, "mkdtemp: %s", strerror(errno));
        return MTASTS_SYSERR;
    }
    if (write_private(dir, "list", list, lp, sizeof lp, err)
        && write_private(dir, "list.sig", sig, sp, sizeof sp, err)
        && write_private(dir, "keyring.gpg", keyring, kp, sizeof kp, err)) {
        st = mtasts_spawn_capture(argv, GPGV_TIMEOUT_MS, out, sizeof out, &outlen, &code, err);
        if (st == MTASTS_OK) {
            /* Exit 0 and a VALIDSIG status line: a good signature made by a
             * key of the keyring. */
            if (code == 0 && strstr(out, "[GNUPG:] VALIDSIG ")) {
                st = MTASTS_OK;
            } else {
                const char *why = strstr(out, "[GNUPG:] BADSIG") ? "bad signature"
                                : strstr(out, "[GNUPG:] NO_PUBKEY") ? "signed by a key not in the keyring"
                                : strstr(out, "[GNUPG:] NODATA") ? "no signature data"
                                : "not a good signature";

                mtasts_errf(err, "signature check failed: %s (gpgv exit %d)", why, code);
                st = MTASTS_INVALID;
            }
        } else if (st == MTASTS_TEMPFAIL) {
            mtasts_errf(err, "gpgv took longer than %d ms", GPGV_TIMEOUT_MS);
        }
    }
    if (lp[0])
        unlink(lp);
    if (sp[0])
        unlink(sp);
    if (kp[0])
        unlink(kp);
    /* gpgv may leave its own files in its homedir. */
    {
        char tdb[64];

        snprintf(tdb, sizeof tdb, "%s/trustdb.gpg", dir);
        unlink(tdb);
    }
    if (rmdir(dir) != 0 && st == MTASTS_OK) {
        mtasts_errf(err, "%s: left behind: %s", dir, strerror(errno));
    }
    return st;
}
