/*
 * store_tmp.h - a store directory of its own for a unit test: mkdir_tmp()
 * makes one under /tmp (a rotating set of 32 names, so a test may hold
 * several), rm_tmp() removes it with the files in it (the store's, the
 * TLSRPT sibling's and what a test left there), and
 * open_tmp_store() opens (creates) a store there or ends the test;
 * exim_user() and slurp() serve the root-safety tests.
 */
#ifndef MTASTS_STORE_TMP_H
#define MTASTS_STORE_TMP_H

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <sys/stat.h>
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

/* exim_user - the Debian-exim user when this test runs as root (tests of
 * what a root process does in the Exim user's directory), else NULL */
static inline struct passwd *exim_user(void)
{
    static struct passwd pw;
    struct passwd *p = getpwnam("Debian-exim");

    if (!p || geteuid() != 0)
        return NULL;
    pw = *p;
    return &pw;
}

/* slurp - the first bytes of path, "" if unreadable */
static inline const char *slurp(const char *path)
{
    static char buf[256];
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* root_file_intact - path is still root's, 0600, holding exactly content
 * (a planted link must not have made the store write there) */
static inline bool root_file_intact(const char *path, const char *content)
{
    struct stat st;

    return strcmp(slurp(path), content) == 0 && stat(path, &st) == 0 && st.st_uid == 0
           && (st.st_mode & 07777) == 0600 && st.st_size == (off_t)strlen(content);
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
