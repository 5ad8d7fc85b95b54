/*
 * cli_util.h - helpers shared by the admin subcommands (everything but
 * resolve): messages, the common settings options, JSON and time output,
 * and the subcommands' entry points for the dispatch table in mtasts.c.
 */
#ifndef MTASTS_CLI_UTIL_H
#define MTASTS_CLI_UTIL_H

#include "cli.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>

/* "mtasts: ..." on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a command's usage text: to stdout for --help (returns EXIT_POLICY),
 * to stderr after a command-line error (returns EXIT_USAGE). */
int cli_usage(const char *text, bool help);

/* The settings options every store-using command takes:
 *   --config FILE  --options 'k=v ...'  --store DIR
 * CLI_SETTINGS_LONGOPTS goes into a getopt_long table; cli_settings_opt()
 * takes the matching option characters. */
#define CLI_OPT_CONFIG 0x101
#define CLI_OPT_OPTIONS 0x102
#define CLI_OPT_STORE 0x103
#define CLI_SETTINGS_LONGOPTS                                        \
    { "config", required_argument, NULL, CLI_OPT_CONFIG },           \
    { "options", required_argument, NULL, CLI_OPT_OPTIONS },         \
    { "store", required_argument, NULL, CLI_OPT_STORE }

typedef struct cli_settings_args {
    const char *config, *options, *store;
} cli_settings_args;

/* true when c was one of the settings options (and is now recorded). */
bool cli_settings_opt(int c, const char *arg, cli_settings_args *a);
/* cli_settings(), then --store on top; false (message printed) on error. */
bool cli_load_settings(const cli_settings_args *a, mtasts_options *o);

/* cli_drop_privileges(), printing the reason when it fails. Every command
 * that opens the store or the network calls it first (not the linters,
 * match and generate: they need no privilege and parse only their input). */
bool cli_unprivileged(const mtasts_options *o);
/* Open the existing store at o->store, never creating one (a mistyped
 * --store should not leave one). OK: *s is open; NOT_FOUND: there is no
 * store yet; anything else: the error is printed, exit EXIT_TROUBLE. */
mtasts_status cli_open_store(const mtasts_options *o, mtasts_store **s);

/* Parse a non-negative decimal number <= max; false if it is anything else. */
bool cli_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* Normalise a domain argument in place (lower case, no trailing dot) and
 * check it with the core; prints the reason and returns false if bad. */
bool cli_domain_arg(const char *arg, char out[MTASTS_DOMAIN_MAX + 2]);

/* MX patterns checked by the core parser: they are parsed as the mx lines
 * of a policy ("mx: PATTERN"), so no second pattern grammar exists. On
 * success *out holds them as stored (lower case, no trailing dot). On
 * MTASTS_INVALID *bad is the index of the first bad pattern and err says
 * why (without the policy's line number). */
mtasts_status cli_parse_patterns(char *const *pats, size_t n, mtasts_policy *out,
                                 size_t *bad, mtasts_err *err);

/* JSON: s as a quoted string. Valid UTF-8 passes through; control
 * characters are escaped; bytes that are not UTF-8 become U+FFFD, so the
 * output is always valid JSON whatever the input (policy files, TXT records
 * and error messages come from strangers). */
void json_str(FILE *f, const char *s);
/* A string or, when s is NULL or empty, null. */
void json_str_or_null(FILE *f, const char *s);
/* The record's mx patterns as a JSON array. */
void json_mx(FILE *f, const mtasts_policy *p);

/* Print a stored record: "key: value" lines, or one JSON object with the
 * record.h field names (times as Unix seconds, 0 for never). "policy" says
 * whether a policy applies: applies < 0 computes it from the record; res
 * (query) adds the resolution's outcome and reason. */
void cli_print_record(const char *domain, const mtasts_record *r, int applies,
                      const mtasts_resolve_result *res, bool json);

/* "2025-11-25 20:15:00Z" (UTC), or "-" for 0. */
const char *cli_time(int64_t t, char buf[32]);
/* A duration, e.g. "6d23h", "59m", "12s"; negative ones as "-3h". */
const char *cli_duration(int64_t secs, char buf[32]);

/* The subcommands. */
int cmd_query(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_refresh(int argc, char **argv);
int cmd_lint_policy(int argc, char **argv);
int cmd_lint_txt(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_generate(int argc, char **argv);

#endif
