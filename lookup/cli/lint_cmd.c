/*
 * lint_cmd.c - "mtasts lint-policy" and "mtasts lint-txt": check what a
 * domain owner is about to publish, with the very parsers senders use.
 *
 * The core parsers stop at the first error. To report more than one, the
 * policy linter removes the offending line and parses again, so every error
 * is the core's own verdict on the file as a sender would see it (first-wins
 * duplicates included) and no second grammar exists. A TXT RRset is checked
 * record by record with mtasts_txt_parse() and then as a whole with
 * mtasts_txt_select().
 */
#include "cli_util.h"
#include "txt_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any real file; bounds the parse-again loop on garbage. */
#define LINT_MAX_ERRORS 50

typedef struct lint_error {
    size_t where;            /* policy: line (0: the whole policy);
                                TXT: record (0: the whole RRset) */
    char reason[sizeof ((mtasts_err *)0)->msg];
} lint_error;

typedef struct lint_errors {
    size_t n;
    bool truncated;
    lint_error e[LINT_MAX_ERRORS];
} lint_errors;

static void add_error(lint_errors *l, size_t where, const char *reason)
{
    if (l->n == LINT_MAX_ERRORS) {
        l->truncated = true;
        return;
    }
    l->e[l->n].where = where;
    mtasts_strlcpy(l->e[l->n].reason, reason, sizeof l->e[l->n].reason);
    l->n++;
}

/* print_errors_json - "errors":[{"<key>":N|null,"reason":"..."}, ...] */
static void print_errors_json(const lint_errors *l, const char *key)
{
    printf("\"errors\":[");
    for (size_t i = 0; i < l->n; i++) {
        printf("%s{\"%s\":", i ? "," : "", key);
        if (l->e[i].where)
            printf("%zu", l->e[i].where);
        else
            printf("null");
        printf(",\"reason\":");
        json_str(stdout, l->e[i].reason);
        printf("}");
    }
    if (l->truncated)
        printf("%s{\"%s\":null,\"reason\":\"too many errors, stopped\"}", l->n ? "," : "", key);
    printf("]");
}

/* read_input - FILE or "-" (stdin), at most max bytes (one more than the
 * core accepts is enough to have it say "too long"). */
static int read_input(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char *buf;
    size_t n = 0, r;

    if (!f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    buf = malloc(max + 1);
    if (!buf) {
        cli_error("out of memory");
        if (f != stdin)
            fclose(f);
        return EXIT_TROUBLE;
    }
    while (n < max && (r = fread(buf + n, 1, max - n, f)) > 0)
        n += r;
    if (ferror(f)) {
        cli_error("%s: read error", path);
        free(buf);
        if (f != stdin)
            fclose(f);
        return EXIT_TROUBLE;
    }
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return EXIT_POLICY;
}

/* erase_line - empty line no (1-based) of buf, keeping its terminator so
 * that later lines keep their numbers. false if there is nothing to erase. */
static bool erase_line(char *buf, size_t *len, size_t no)
{
    size_t start = 0, end;

    for (size_t l = 1; l < no; l++) {
        char *lf = memchr(buf + start, '\n', *len - start);

        if (!lf)
            return false;
        start = (size_t)(lf - buf) + 1;
    }
    end = start;
    while (end < *len && buf[end] != '\n')
        end++;
    if (end == start)
        return false;
    memmove(buf + start, buf + end, *len - end);
    *len -= end - start;
    return true;
}

/* ends_with_word - does msg end with " word"? */
static bool ends_with_word(const char *msg, const char *word, size_t wlen)
{
    size_t n = strlen(msg);

    return n > wlen && msg[n - wlen - 1] == ' ' && memcmp(msg + n - wlen, word, wlen) == 0;
}

/* lint_policy_buf - all errors of the policy in buf (modified), and the
 * parsed policy in *p when it is valid. */
static mtasts_status lint_policy_buf(char *buf, size_t len, mtasts_policy *p,
                                     lint_errors *errs)
{
    /* Fields of erased lines: "policy: missing mode" after a bad mode line
     * only repeats it. (policy.h documents the messages' form.) */
    char erased[LINT_MAX_ERRORS][16];
    size_t n_erased = 0;

    for (;;) {
        mtasts_err err = {{0}};
        mtasts_status st = mtasts_policy_parse(buf, len, p, &err);
        char *rest;
        unsigned long line;

        if (st == MTASTS_OK) {
            if (errs->n == 0)
                return MTASTS_OK;
            mtasts_policy_free(p);    /* valid only with its bad lines gone */
            return MTASTS_INVALID;
        }
        if (st != MTASTS_INVALID) {
            add_error(errs, 0, err.msg);
            return st;
        }
        /* "line N: <field>: <reason>" or "policy: <reason>" */
        if (strncmp(err.msg, "line ", 5) == 0 && (line = strtoul(err.msg + 5, &rest, 10)) > 0
            && strncmp(rest, ": ", 2) == 0) {
            size_t flen = strcspn(rest + 2, ":");

            add_error(errs, line, rest + 2);
            if (flen < sizeof erased[0] && n_erased < LINT_MAX_ERRORS) {
                memcpy(erased[n_erased], rest + 2, flen);
                erased[n_erased++][flen] = '\0';
            }
            if (!errs->truncated && erase_line(buf, &len, line))
                continue;
            return MTASTS_INVALID;
        }
        for (size_t i = 0; i < n_erased; i++)
            if (ends_with_word(err.msg, erased[i], strlen(erased[i])))
                return MTASTS_INVALID;
        add_error(errs, 0, err.msg);
        return MTASTS_INVALID;
    }
}

static const char lint_policy_usage[] =
    "usage: mtasts lint-policy [--json] FILE|-\n"
    "Check an MTA-STS policy file (RFC 8461 3.2) as senders parse it; reports\n"
    "every error with its line. Exit 0 valid, 1 invalid, 2 usage error.\n";

int cmd_lint_policy(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    lint_errors errs = {0};
    mtasts_policy p = {0};
    const char *name;
    char *buf;
    size_t len;
    int c, rc;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return cli_usage(lint_policy_usage, true);
        default: return cli_usage(lint_policy_usage, false);
        }
    }
    if (optind != argc - 1)
        return cli_usage(lint_policy_usage, false);
    name = strcmp(argv[optind], "-") ? argv[optind] : "<stdin>";
    rc = read_input(argv[optind], MTASTS_POLICY_MAX_BYTES + 1, &buf, &len);
    if (rc != EXIT_POLICY)
        return rc;
    if (lint_policy_buf(buf, len, &p, &errs) == MTASTS_SYSERR) {
        cli_error("%s", errs.e[0].reason);
        free(buf);
        return EXIT_TROUBLE;
    }
    free(buf);

    if (json) {
        bool ok = errs.n == 0;

        printf("{\"valid\":%s,\"mode\":", ok ? "true" : "false");
        json_str_or_null(stdout, ok ? mtasts_mode_name(p.mode) : NULL);
        printf(",\"mx\":");
        json_mx(stdout, &p);
        if (ok)
            printf(",\"max_age\":%lu,", (unsigned long)p.max_age);
        else
            printf(",\"max_age\":null,");
        print_errors_json(&errs, "line");
        printf("}\n");
    } else if (errs.n == 0) {
        printf("%s: valid: mode %s, max_age %lu", name, mtasts_mode_name(p.mode),
               (unsigned long)p.max_age);
        for (size_t i = 0; i < p.n_mx; i++)
            printf("%s%s", i ? " " : ", mx ", p.mx[i]);
        printf("\n");
    } else {
        for (size_t i = 0; i < errs.n; i++) {
            if (errs.e[i].where)
                printf("%s:%zu: %s\n", name, errs.e[i].where, errs.e[i].reason);
            else
                printf("%s: %s\n", name, errs.e[i].reason);
        }
        printf("%s: invalid (%zu error%s%s)\n", name, errs.n, errs.n == 1 ? "" : "s",
               errs.truncated ? ", stopped" : "");
    }
    rc = errs.n ? EXIT_NO_POLICY : EXIT_POLICY;
    mtasts_policy_free(&p);
    return rc;
}

/* decode_txt - one record argument to the joined TXT text. An argument
 * that starts (after blanks or "(") with a double quote is zone-file
 * presentation (RFC 1035 5.1): quoted character-strings of at most 255
 * octets with \X and \DDD escapes, joined without separators as 3.1 says;
 * a line break is allowed only inside parentheses, as in a zone file (one
 * record per argument). Anything else is the text itself. out holds at
 * least strlen(arg) + 1 bytes. NULL, or why it is malformed. */
static const char *decode_txt(const char *arg, char *out, size_t *outlen)
{
    const char *p = arg + strspn(arg, " \t\r\n(");
    size_t o = 0;
    int depth = 0;
    bool newline = false;

    if (*p != '"') {
        *outlen = strlen(arg);
        memcpy(out, arg, *outlen + 1);
        return NULL;
    }
    for (p = arg;;) {
        size_t n = 0;

        for (; *p && strchr(" \t\r\n()", *p); p++) {
            depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
            if (depth < 0)
                return "unbalanced parentheses";
            newline |= *p == '\n' && depth == 0;
        }
        if (!*p)
            break;
        if (newline)
            return "line break outside parentheses (give one record per argument)";
        if (*p++ != '"')
            return "text outside double quotes";
        for (; *p != '"'; n++) {
            unsigned char c = (unsigned char)*p++;

            if (!c)
                return "unterminated quoted string";
            if (c == '\\') {
                if (p[0] >= '0' && p[0] <= '9') {
                    if (p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9'
                        || (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0') > 255)
                        return "bad \\DDD escape (three digits, at most 255)";
                    c = (unsigned char)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
                    p += 3;
                } else if (*p) {
                    c = (unsigned char)*p++;
                } else {
                    return "backslash at the end";
                }
            }
            if (n == 255)
                return "character-string longer than 255 octets (split it)";
            out[o++] = (char)c;
        }
        p++;
    }
    if (depth)
        return "unbalanced parentheses";
    out[o] = '\0';
    *outlen = o;
    return NULL;
}

/* print_txt - a record as it would look in a zone file */
static void print_txt(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            printf("\\%03u", c);
        else
            putchar(c);
    }
    putchar('"');
}

static const char lint_txt_usage[] =
    "usage: mtasts lint-txt [--json] RECORD...\n"
    "Check the TXT RRset of _mta-sts.<domain> (RFC 8461 3.1), one argument per\n"
    "record, each in zone-file form (\"v=STSv1; \" \"id=1\") or as plain text.\n"
    "Exit 0 valid, 1 invalid, 2 usage error.\n";

int cmd_lint_txt(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false, decoded = true;
    lint_errors errs = {0};
    char id[MTASTS_ID_MAX + 1] = "", **recs;
    size_t n, *lens, stsv1 = 0;
    mtasts_err err = {{0}};
    mtasts_status st = MTASTS_INVALID;
    int c, rc = EXIT_TROUBLE;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return cli_usage(lint_txt_usage, true);
        default: return cli_usage(lint_txt_usage, false);
        }
    }
    if (optind >= argc)
        return cli_usage(lint_txt_usage, false);
    n = (size_t)(argc - optind);
    recs = calloc(n, sizeof *recs);
    lens = calloc(n, sizeof *lens);
    if (!recs || !lens)
        goto nomem;

    for (size_t i = 0; i < n; i++) {
        const char *why;
        char id1[MTASTS_ID_MAX + 1];
        mtasts_err e1 = {{0}};

        if (!(recs[i] = malloc(strlen(argv[optind + i]) + 1)))
            goto nomem;
        if ((why = decode_txt(argv[optind + i], recs[i], &lens[i]))) {
            add_error(&errs, i + 1, why);
            decoded = false;
            continue;
        }
        switch (mtasts_txt_parse(recs[i], lens[i], id1, &e1)) {
        case MTASTS_NOT_FOUND:
            if (!json) {
                printf("record %zu: ", i + 1);
                print_txt(recs[i], lens[i]);
                printf(": not v=STSv1, ignored\n");
            }
            break;
        case MTASTS_OK:
            stsv1++;
            if (!json) {
                printf("record %zu: ", i + 1);
                print_txt(recs[i], lens[i]);
                printf(": STSv1, id %s\n", id1);
            }
            break;
        default:
            stsv1++;
            add_error(&errs, i + 1, e1.msg);
            break;
        }
    }
    /* The verdict is mtasts_txt_select()'s, on the records that decode. */
    if (decoded) {
        st = mtasts_txt_select((const char *const *)recs, lens, n, id, &err);
        if (st == MTASTS_NOT_FOUND)
            add_error(&errs, 0, "no v=STSv1 record: no policy is advertised");
        else if (st != MTASTS_OK && stsv1 > 1)
            add_error(&errs, 0, err.msg);    /* "multiple STSv1 records" */
    }
    if (st != MTASTS_OK)
        id[0] = '\0';

    if (json) {
        printf("{\"valid\":%s,\"id\":", st == MTASTS_OK ? "true" : "false");
        json_str_or_null(stdout, id);
        printf(",");
        print_errors_json(&errs, "record");
        printf("}\n");
    } else {
        for (size_t i = 0; i < errs.n; i++) {
            if (errs.e[i].where)
                printf("record %zu: %s\n", errs.e[i].where, errs.e[i].reason);
            else
                printf("%s\n", errs.e[i].reason);
        }
        if (st == MTASTS_OK)
            printf("valid: id %s\n", id);
        else
            printf("invalid (%zu error%s)\n", errs.n, errs.n == 1 ? "" : "s");
    }
    rc = st == MTASTS_OK ? EXIT_POLICY : EXIT_NO_POLICY;
    goto out;
nomem:
    cli_error("out of memory");
out:
    for (size_t i = 0; recs && i < n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    return rc;
}
