/*
 * cli.h - the mtasts command: shared pieces of its subcommands.
 * Only the CLI prints and exits; the core never does.
 */
#ifndef MTASTS_CLI_H
#define MTASTS_CLI_H

#include "common.h"
#include "options.h"
#include "record.h"
#include "resolve.h"

/* Documented exit codes. */
enum {
    EXIT_POLICY = 0,      /* success; for resolve/query: a policy applies */
    EXIT_NO_POLICY = 1,   /* no policy / invalid input (linters) / no match */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_TROUBLE = 3,     /* configuration, store or system error */
};

/* Settings: defaults, config file (--config or the default if present),
 * then --options. Prints the error and returns false on failure. */
bool cli_settings(const char *config, const char *opts, mtasts_options *o);

/* The network side of resolution for one domain, as the helper and the
 * query command do it. Fills r (from the store when there is one) and res;
 * returns OK when a policy applies, NOT_FOUND when none does. verbose
 * prints each step with its timing to stderr. */
mtasts_status cli_resolve_domain(const mtasts_options *o, const char *domain,
                                 bool force, unsigned refetch_within, bool verbose,
                                 mtasts_record *r, mtasts_resolve_result *res);

/* Started as root (any of the real, effective or saved uids 0): become
 * o->user (its uid and gid, no supplementary group) for good, before any
 * store, DNS, HTTPS or parsing work, and check with getresuid/getresgid that
 * no id is left behind. A no-op for any other caller. false (err says why)
 * when the user is unknown, is root, or the switch failed: the caller must
 * then stop (EXIT_TROUBLE), never carry on as root. */
bool cli_drop_privileges(const mtasts_options *o, mtasts_err *err);

int cmd_resolve(int argc, char **argv);
/* mtasts tlsrpt send|read|show (tlsrpt_cmd.c); show is tlsrpt_show_cmd.c */
int cmd_tlsrpt(int argc, char **argv);
int cmd_tlsrpt_show(int argc, char **argv);
/* mtasts preload ... (preload_cmd.c) */
int cmd_preload(int argc, char **argv);

#endif
