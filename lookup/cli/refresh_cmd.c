/*
 * refresh_cmd.c - "mtasts refresh": proactive policy refresh (RFC 8461
 * 10.2), meant for a daily timer. Every stored policy that expires within
 * the window, or whose TXT id check is due, is resolved again with the
 * helper's own flow (backoff and single flight included), so that mail
 * rarely waits for a fetch and policies do not lapse between deliveries.
 *
 * Concurrency: up to --jobs children take the next domain from a counter in
 * shared memory (a slow domain never holds up a fixed share of the others)
 * and send one fixed-size result per domain up a pipe; writes of at most
 * PIPE_BUF bytes are atomic, so results never interleave. Each child opens
 * its own store, DNS and HTTPS handles (cli_resolve_domain does): an LMDB
 * environment must not cross fork().
 */
#include "cli_util.h"
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REFRESH_WITHIN_DEFAULT 86400
#define REFRESH_JOBS_DEFAULT 4
#define REFRESH_JOBS_MAX 64

typedef enum { R_PENDING, R_REFRESHED, R_UNCHANGED, R_FAILED, R_SKIPPED } refresh_result;
static const char *const result_names[] = { "pending", "refreshed", "unchanged", "failed",
                                            "skipped" };

typedef struct refresh_msg {
    size_t idx;
    int outcome;
    bool mode_none;     /* the policy in force is mode none */
    char reason[MTASTS_REASON_MAX + 1];
} refresh_msg;
_Static_assert(sizeof(refresh_msg) <= PIPE_BUF, "result messages must be atomic pipe writes");

typedef struct refresh_list {
    char **domains;
    size_t n, cap, not_due;
    int64_t now;
    unsigned within;
    bool nomem;
} refresh_list;

/* due - RFC 8461 10.2: a policy about to expire, or one whose id should
 * be checked again. Domains without a policy are left to the lookups. */
static bool collect_due(void *ctx, const char *domain, const mtasts_record *r)
{
    refresh_list *l = ctx;

    if (!r->id[0] || (r->expires_at - l->now > (int64_t)l->within && l->now < r->next_check_at)) {
        l->not_due++;
        return true;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **d = realloc(l->domains, cap * sizeof *d);

        if (!d)
            goto nomem;
        l->domains = d;
        l->cap = cap;
    }
    if (!(l->domains[l->n] = strdup(domain)))
        goto nomem;
    l->n++;
    return true;
nomem:
    l->nomem = true;
    return false;
}

static void free_list(refresh_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->domains[i]);
    free(l->domains);
    l->domains = NULL;
    l->n = 0;
}

static refresh_result classify(mtasts_outcome o, bool mode_none)
{
    /* 8.3: a domain leaving MTA-STS publishes mode none, then removes its
     * TXT record and policy host: trouble refreshing it is no failure. */
    if (mode_none && (o == MTASTS_OUTCOME_KEPT || o == MTASTS_OUTCOME_FAILED))
        return R_UNCHANGED;
    switch (o) {
    case MTASTS_OUTCOME_FETCHED:
    case MTASTS_OUTCOME_NO_POLICY:      /* withdrawn and expired: now stored as such */
        return R_REFRESHED;
    case MTASTS_OUTCOME_CONFIRMED:
    case MTASTS_OUTCOME_CACHED:         /* another process refreshed it meanwhile */
        return R_UNCHANGED;
    case MTASTS_OUTCOME_BACKOFF:        /* 3.3: not refetched yet, on purpose */
        return R_SKIPPED;
    default:
        return R_FAILED;
    }
}

/* worker - a child: resolve domains until the shared counter runs out */
static void worker(const mtasts_options *o, const refresh_list *l, atomic_size_t *next,
                   unsigned within, unsigned jitter, int out)
{
    size_t i;

    srandom((unsigned)getpid() ^ (unsigned)time(NULL));
    while ((i = atomic_fetch_add(next, 1)) < l->n) {
        refresh_msg m = { .idx = i };
        mtasts_record r;
        mtasts_resolve_result res;

        if (jitter) {
            /* Spread the requests of many hosts run by the same clock. */
            long ms = random() % ((long)jitter * 1000);
            struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

            nanosleep(&ts, NULL);
        }
        cli_resolve_domain(o, l->domains[i], true, within, false, &r, &res);
        m.outcome = (int)res.outcome;
        m.mode_none = r.id[0] && r.policy.mode == MTASTS_MODE_NONE;
        /* A fetch skipped for backoff is a skip on purpose, not a failure
         * of this run, also when a cached policy stays in force ("kept"). */
        if (res.backoff)
            m.outcome = (int)MTASTS_OUTCOME_BACKOFF;
        mtasts_strlcpy(m.reason, res.reason, sizeof m.reason);
        mtasts_record_free(&r);
        if (write(out, &m, sizeof m) != (ssize_t)sizeof m)
            break;
    }
}

/* read_msg - one whole message, or false at the end of the pipe */
static bool read_msg(int fd, refresh_msg *m)
{
    size_t got = 0;

    while (got < sizeof *m) {
        ssize_t n = read(fd, (char *)m + got, sizeof *m - got);

        if (n == 0 || (n < 0 && errno != EINTR))
            return false;
        if (n > 0)
            got += (size_t)n;
    }
    return true;
}

static const char refresh_usage[] =
    "usage: mtasts refresh [--within SECONDS] [--jobs N] [--jitter SECONDS]\n"
    "                      [--quiet] [--json] [--store DIR] [--config FILE]\n"
    "                      [--options 'key=value ...']\n"
    "Refresh every stored policy that expires within --within seconds (default\n"
    "86400) or whose TXT check is due, --jobs at a time (default 4), after a\n"
    "random pause of up to --jitter seconds (default 0) before each domain.\n"
    "Exit 0 all fine, 1 some failed, 2 usage, 3 trouble.\n";

int cmd_refresh(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "within", required_argument, NULL, 'w' },
        { "jobs", required_argument, NULL, 'J' },
        { "jitter", required_argument, NULL, 'r' },
        { "quiet", no_argument, NULL, 'q' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        CLI_SETTINGS_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    cli_settings_args sa = {0};
    unsigned long within = REFRESH_WITHIN_DEFAULT, jobs = REFRESH_JOBS_DEFAULT, jitter = 0;
    bool json = false, quiet = false, progress = isatty(2);
    refresh_list l = { .now = (int64_t)time(NULL) };
    size_t counts[5] = {0}, done = 0, nkids = 0;
    refresh_result *result = NULL;
    refresh_msg *msgs = NULL;
    atomic_size_t *next = MAP_FAILED;
    mtasts_store_config sc = {0};
    mtasts_store *s = NULL;
    mtasts_err err = {{0}};
    mtasts_options o;
    refresh_msg m;
    int c, fds[2] = { -1, -1 }, rc = EXIT_TROUBLE;

    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        if (cli_settings_opt(c, optarg, &sa))
            continue;
        switch (c) {
        case 'w':
            if (!cli_parse_uint(optarg, MTASTS_MAX_AGE_CAP, &within)) {
                cli_error("--within: \"%s\" is not a number from 0 to %u", optarg,
                          MTASTS_MAX_AGE_CAP);
                return EXIT_USAGE;
            }
            break;
        case 'J':
            if (!cli_parse_uint(optarg, REFRESH_JOBS_MAX, &jobs) || jobs == 0) {
                cli_error("--jobs: \"%s\" is not a number from 1 to %d", optarg,
                          REFRESH_JOBS_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            if (!cli_parse_uint(optarg, 3600, &jitter)) {
                cli_error("--jitter: \"%s\" is not a number from 0 to 3600", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q': quiet = true; break;
        case 'j': json = true; break;
        case 'h': return cli_usage(refresh_usage, true);
        default: return cli_usage(refresh_usage, false);
        }
    }
    if (optind != argc)
        return cli_usage(refresh_usage, false);
    /* Network-facing parsing never as root (see resolve). */
    if (!cli_load_settings(&sa, &o) || !cli_unprivileged(&o))
        return EXIT_TROUBLE;

    /* The list first, then the store closed again: children open their own. */
    l.within = (unsigned)within;
    sc.path = o.store;
    if (mtasts_store_open(&sc, &s, &err) != MTASTS_OK) {
        cli_error("store %s: %s", o.store, err.msg);
        return EXIT_TROUBLE;
    }
    if (mtasts_store_foreach(s, collect_due, &l, &err) != MTASTS_OK || l.nomem) {
        cli_error("store: %s", l.nomem ? "out of memory" : err.msg);
        mtasts_store_close(&s);
        goto out;
    }
    mtasts_store_close(&s);

    if (l.n) {
        result = calloc(l.n, sizeof *result);
        msgs = calloc(l.n, sizeof *msgs);
        next = mmap(NULL, sizeof *next, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (!result || !msgs || next == MAP_FAILED || pipe(fds) != 0) {
            cli_error("cannot start workers: %s", strerror(errno));
            goto out;
        }
        atomic_init(next, 0);
        fflush(stdout);
        fflush(stderr);     /* children must not write our buffers again */
        for (; nkids < jobs && nkids < l.n; nkids++) {
            pid_t pid = fork();

            if (pid < 0) {
                cli_error("fork: %s", strerror(errno));
                break;      /* the children already started do the work */
            }
            if (pid == 0) {
                /* _exit: the parent's stdio buffers and atexit handlers are
                 * not ours; what we inherited is freed so that a leak check
                 * of the children stays meaningful. */
                close(fds[0]);
                free(result);
                free(msgs);
                worker(&o, &l, next, (unsigned)within, (unsigned)jitter, fds[1]);
                free_list(&l);
                _exit(0);
            }
        }
        close(fds[1]);
        fds[1] = -1;
        while (nkids && read_msg(fds[0], &m)) {
            if (m.idx >= l.n || result[m.idx] != R_PENDING)
                continue;
            result[m.idx] = classify((mtasts_outcome)m.outcome, m.mode_none);
            msgs[m.idx] = m;
            done++;
            if (progress)
                fprintf(stderr, "\rrefresh: %zu/%zu %-50.50s", done, l.n, l.domains[m.idx]);
        }
        if (progress)
            fprintf(stderr, "\r%80s\r", "");
        while (wait(NULL) > 0 || errno == EINTR)
            ;
    }

    /* A domain without a result lost its worker (killed, or never forked). */
    for (size_t i = 0; i < l.n; i++) {
        if (result[i] == R_PENDING) {
            result[i] = R_FAILED;
            mtasts_strlcpy(msgs[i].reason, "not resolved: worker died", sizeof msgs[i].reason);
            msgs[i].outcome = -1;
        }
        counts[result[i]]++;
    }
    counts[R_SKIPPED] += l.not_due;

    if (json)
        printf("{\"refreshed\":%zu,\"unchanged\":%zu,\"failed\":%zu,\"skipped\":%zu,\"domains\":[",
               counts[R_REFRESHED], counts[R_UNCHANGED], counts[R_FAILED], counts[R_SKIPPED]);
    for (size_t i = 0; i < l.n; i++) {
        const char *outcome = msgs[i].outcome < 0 ? "none"
                            : mtasts_outcome_name((mtasts_outcome)msgs[i].outcome);

        if (json) {
            printf("%s{\"domain\":", i ? "," : "");
            json_str(stdout, l.domains[i]);
            printf(",\"result\":\"%s\",\"outcome\":\"%s\",\"reason\":", result_names[result[i]],
                   outcome);
            json_str(stdout, msgs[i].reason);
            printf("}");
        } else if (result[i] == R_FAILED || (!quiet && result[i] != R_UNCHANGED)) {
            printf("%s: %s (%s)%s%s\n", l.domains[i], result_names[result[i]], outcome,
                   msgs[i].reason[0] ? ": " : "", msgs[i].reason);
        }
    }
    if (json)
        printf("]}\n");
    else if (!quiet || counts[R_FAILED])
        printf("refresh: %zu refreshed, %zu unchanged, %zu failed, %zu skipped\n",
               counts[R_REFRESHED], counts[R_UNCHANGED], counts[R_FAILED], counts[R_SKIPPED]);
    rc = counts[R_FAILED] ? EXIT_NO_POLICY : EXIT_POLICY;
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (next != MAP_FAILED)
        munmap(next, sizeof *next);
    free_list(&l);
    free(result);
    free(msgs);
    return rc;
}
