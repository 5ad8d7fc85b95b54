/*
 * spawn.h - run the network helper from inside an Exim process, bounded.
 *
 * mtasts_spawn_capture() runs argv[0] (an absolute path) with stdin and
 * stderr on /dev/null, no other descriptor (everything above 2 is closed
 * in the child), default signal dispositions and an empty signal mask
 * (Exim blocks or catches SIGALRM, SIGCHLD, SIGPIPE), and a minimal
 * environment; it collects at most outsize-1 bytes of stdout (NUL-terminated)
 * and waits at most timeout_ms in all, then kills the child with SIGKILL.
 * Returns MTASTS_OK when the child exited (its status in *exit_code, -1 when
 * it could not be known because the caller ignores SIGCHLD), MTASTS_TEMPFAIL
 * on timeout, MTASTS_SYSERR when it could not be started.
 */
#ifndef MTASTS_SPAWN_H
#define MTASTS_SPAWN_H

#include "common.h"

mtasts_status mtasts_spawn_capture(char *const argv[], unsigned timeout_ms, char *out,
                                   size_t outsize, size_t *outlen, int *exit_code,
                                   mtasts_err *err);

#endif
