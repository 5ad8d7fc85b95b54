/*
 * store_tmp.h - a store directory of its own for a unit test: mkdir_tmp()
 * makes one under /tmp (a rotating set of 32 names, so a test may hold
 * several), rm_tmp() removes it with the files in it (the store's, the
 * TLSRPT sibling's and what a test left there), and
 * open_tmp_store() opens (creates) a store there or ends the test.
 */
#ifndef MTASTS_STORE_TMP_H
#define MTASTS_STORE_TMP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline char *mkdir_tmp(void)
{
    static char dirs[32][64];
    static int n;
    char *d = dirs[n++ % 32];

    strcpy(d, "/tmp/mtasts-store-XXXXXX");
    if (!mkdtemp(d)) {
        perror("mkdtemp");
        exit(2);
    }
    return d;
}

static inline void rm_tmp(const char *dir)
{
    char p[512];
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

#ifdef MTASTS_STORE_H
static inline mtasts_store *open_tmp_store(const char *dir)
{
    mtasts_store_config cfg = { .path = dir, .create = true };
    mtasts_store *s = NULL;
    mtasts_err err = {{0}};

    if (mtasts_store_open(&cfg, &s, &err) != MTASTS_OK) {
        printf("FAIL open %s: %s\n", dir, err.msg);
        exit(1);
    }
    return s;
}
#endif

#endif
