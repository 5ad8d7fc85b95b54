/*
 * spawn.c - see spawn.h.
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* glibc 2.34 added addclosefrom_np; Debian 12 has 2.36. Without it the
 * helper would inherit every descriptor Exim left open without
 * close-on-exec (lsearch files, hints database locks): refuse to build
 * rather than leak them. */
#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 34)
#error "posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34) required"
#endif

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* reap - wait for pid until deadline; kill it when the deadline passes.
 * The helper's stdout reaches EOF while it exits, usually just before it
 * can be reaped: wait on a pidfd (readable once pid has exited) rather
 * than a fixed sleep, which held every cold lookup's answer back by up to
 * 5 ms. Without pidfds (kernel < 5.3) poll waitpid every 5 ms. */
static bool reap(pid_t pid, int64_t deadline, int *exit_code)
{
    int pidfd = pidfd_open(pid, 0);   /* close-on-exec always */
    bool reaped = false;

    for (;;) {
        int wst;
        pid_t r = waitpid(pid, &wst, WNOHANG);

        if (r == pid) {
            *exit_code = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
            reaped = true;
            break;
        }
        if (r < 0 && errno == ECHILD) {   /* reaped for us (SIGCHLD ignored) */
            *exit_code = -1;
            reaped = true;
            break;
        }
        if (r < 0 && errno != EINTR)
            break;
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        if (pidfd >= 0) {
            struct pollfd p = { pidfd, POLLIN, 0 };

            poll(&p, 1, (int)(left < 1000 ? left : 1000));
        } else {
            poll(NULL, 0, 5);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return reaped;
}

mtasts_status mtasts_spawn_capture(char *const argv[], unsigned timeout_ms, char *out,
                                   size_t outsize, size_t *outlen, int *exit_code,
                                   mtasts_err *err)
{
    static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int pfd[2], rc;
    pid_t pid;
    size_t n = 0;
    int64_t deadline = now_ms() + timeout_ms;
    bool eof = false;

    *outlen = 0;
    *exit_code = -1;
    if (outsize)
        out[0] = '\0';
    if (pipe(pfd) != 0) {
        mtasts_errf(err, "pipe: %s", strerror(errno));
        return MTASTS_SYSERR;
    }
    /* Other children Exim forks must not inherit our pipe. */
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* The helper gets its pipe and nothing else of Exim's: Exim keeps
     * lookup files (possibly root-only) and hints locks open across forks
     * without close-on-exec. */
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[0]);
        close(pfd[1]);
        mtasts_errf(err, "cannot run %s: %s", argv[0], strerror(rc));
        return MTASTS_SYSERR;
    }
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        mtasts_errf(err, "cannot run %s: %s", argv[0], strerror(rc));
        return MTASTS_SYSERR;
    }

    while (!eof) {
        struct pollfd p = { pfd[0], POLLIN, 0 };
        int64_t left = deadline - now_ms();
        char sink[512];
        ssize_t r;

        if (left <= 0)
            break;
        rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        /* Keep draining past outsize so the child never blocks on a full
         * pipe; what does not fit is dropped (and makes the output invalid
         * to the caller's parser, which checks it). */
        if (n + 1 < outsize)
            r = read(pfd[0], out + n, outsize - 1 - n);
        else
            r = read(pfd[0], sink, sizeof sink);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            eof = true;
        else if (n + 1 < outsize)
            n += (size_t)r;
    }
    close(pfd[0]);
    if (outsize)
        out[n] = '\0';
    *outlen = n;
    if (!eof)
        kill(pid, SIGKILL);   /* out of time: reap() below collects it */
    if (!reap(pid, eof ? deadline : 0, exit_code) || !eof) {
        mtasts_errf(err, "%s: no answer within %u ms (killed)", argv[0], timeout_ms);
        return MTASTS_TEMPFAIL;
    }
    return MTASTS_OK;
}
