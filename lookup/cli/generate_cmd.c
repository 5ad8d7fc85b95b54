/*
 * generate_cmd.c - "mtasts generate": what a domain owner publishes for
 * MTA-STS (the policy file, the _mta-sts TXT record with a fresh id,
 * optionally the TLSRPT record), checked with the senders' parsers first.
 */
#include "cli_util.h"
#include "txt_record.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The CLI default: one week, the low end of RFC 8461 3.2's "weeks or
 * greater"; long enough to ride out an attack at refresh time. */
#define GENERATE_MAX_AGE_DEFAULT 604800

static const char generate_usage[] =
    "usage: mtasts generate --mode enforce|testing|none [--mx PATTERN]...\n"
    "                       [--max-age SECONDS] [--rua URI]... [--domain DOMAIN] [--json]\n"
    "Print an MTA-STS policy file, its _mta-sts TXT record with a new id, the\n"
    "_smtp._tls TLSRPT record when --rua is given, and how to publish them.\n"
    "--max-age defaults to 604800 (one week), at most 31557600.\n";

/* rua_ok - RFC 8460 3: "mailto:" or "https:" URIs; in a TXT field a ";"
 * or a "," ends the URI and must be %-encoded, and there are no blanks. */
static bool rua_ok(const char *uri)
{
    if (strncmp(uri, "mailto:", 7) == 0) {
        const char *at = strchr(uri + 7, '@');

        if (!at || at == uri + 7 || !at[1])
            return false;
    } else if (strncmp(uri, "https://", 8) != 0 || !uri[8]) {
        return false;
    }
    for (const char *p = uri; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == ';' || *p == ',' || *p == '"' || *p == '\\')
            return false;
    return true;
}

/* print_quoted - a TXT value in zone-file form: character-strings hold at
 * most 255 octets, so a long value is split (DNS joins them again). The
 * values here hold no quote or backslash. */
static void print_quoted(const char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < len || i == 0; i += 255)
        printf("%s\"%.*s\"", i ? " " : "", (int)(len - i < 255 ? len - i : 255), s + i);
}

int cmd_generate(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "mx", required_argument, NULL, 'm' },
        { "mode", required_argument, NULL, 'M' },
        { "max-age", required_argument, NULL, 'a' },
        { "rua", required_argument, NULL, 'r' },
        { "domain", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char **mx = calloc((size_t)argc, sizeof *mx);
    size_t n_mx = 0, bad, len, rua_len = 0;
    const char *mode_arg = NULL;
    unsigned long max_age = GENERATE_MAX_AGE_DEFAULT;
    char domain[MTASTS_DOMAIN_MAX + 2] = "", id[MTASTS_ID_MAX + 1], txt[64], id_back[MTASTS_ID_MAX + 1];
    char *rua = NULL, *policy = NULL, *tlsrpt = NULL, *o;
    const char *d, *dot;
    mtasts_policy pats = {0}, check = {0};
    mtasts_mode mode = MTASTS_MODE_NONE;
    mtasts_err err = {{0}};
    mtasts_status st;
    bool json = false;
    time_t now = time(NULL);
    struct tm tm;
    int c, rc = EXIT_USAGE;

    if (!mx) {
        cli_error("out of memory");
        return EXIT_TROUBLE;
    }
    /* argv strings outlive this function: the rua list needs their sizes. */
    for (int i = 1; i < argc; i++)
        rua_len += strlen(argv[i]) + 1;
    if (!(rua = calloc(1, rua_len + 1))) {
        free(mx);
        cli_error("out of memory");
        return EXIT_TROUBLE;
    }
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': mx[n_mx++] = optarg; break;
        case 'M': mode_arg = optarg; break;
        case 'a':
            if (!cli_parse_uint(optarg, MTASTS_MAX_AGE_CAP, &max_age)) {
                cli_error("--max-age: \"%s\" is not a number from 0 to %u", optarg,
                          MTASTS_MAX_AGE_CAP);
                goto out;
            }
            break;
        case 'r':
            if (!rua_ok(optarg)) {
                cli_error("--rua: \"%s\" is not a mailto: or https: URI (RFC 8460; %%-encode "
                          "\";\" and \",\")", optarg);
                goto out;
            }
            if (rua[0])
                strcat(rua, ",");
            strcat(rua, optarg);
            break;
        case 'd':
            if (!cli_domain_arg(optarg, domain))
                goto out;
            break;
        case 'j': json = true; break;
        case 'h': rc = cli_usage(generate_usage, true); goto out;
        default: rc = cli_usage(generate_usage, false); goto out;
        }
    }
    if (optind != argc || !mode_arg) {
        rc = cli_usage(generate_usage, false);
        goto out;
    }
    for (mode = MTASTS_MODE_NONE; mode <= MTASTS_MODE_ENFORCE; mode++)
        if (!strcmp(mode_arg, mtasts_mode_name(mode)))
            break;
    if (mode > MTASTS_MODE_ENFORCE) {
        cli_error("--mode: \"%s\" is not enforce, testing or none", mode_arg);
        goto out;
    }
    if (mode != MTASTS_MODE_NONE && n_mx == 0) {
        cli_error("--mode %s needs at least one --mx", mode_arg);
        goto out;
    }
    if (n_mx && (st = cli_parse_patterns(mx, n_mx, &pats, &bad, &err)) != MTASTS_OK) {
        cli_error("--mx \"%s\": %s", st == MTASTS_INVALID ? mx[bad] : "", err.msg);
        rc = st == MTASTS_INVALID ? EXIT_USAGE : EXIT_TROUBLE;
        goto out;
    }

    /* The policy, from the patterns as the parser stored them. */
    len = 64;
    for (size_t i = 0; i < pats.n_mx; i++)
        len += strlen(pats.mx[i]) + 5;
    rc = EXIT_TROUBLE;
    if (!(o = policy = malloc(len))) {
        cli_error("out of memory");
        goto out;
    }
    o += sprintf(o, "version: STSv1\nmode: %s\n", mtasts_mode_name(mode));
    for (size_t i = 0; i < pats.n_mx; i++)
        o += sprintf(o, "mx: %s\n", pats.mx[i]);
    sprintf(o, "max_age: %lu\n", max_age);
    /* RFC 8461 3.1: id is 1-32 letters and digits; a UTC timestamp grows
     * with every generation (the owner need not remember the last one). */
    gmtime_r(&now, &tm);
    strftime(id, sizeof id, "%Y%m%dT%H%M%S", &tm);
    snprintf(txt, sizeof txt, "v=STSv1; id=%s", id);

    /* What senders will see must parse, with what was asked for: anything
     * else is a bug here, not a user error. */
    if (mtasts_policy_parse(policy, strlen(policy), &check, &err) != MTASTS_OK
        || check.mode != mode || check.max_age != max_age || check.n_mx != pats.n_mx
        || mtasts_txt_parse(txt, strlen(txt), id_back, &err) != MTASTS_OK
        || strcmp(id_back, id) != 0) {
        cli_error("internal error: the generated records do not parse: %s", err.msg);
        goto out;
    }

    if (rua[0]) {
        if (!(tlsrpt = malloc(strlen(rua) + 32))) {
            cli_error("out of memory");
            goto out;
        }
        sprintf(tlsrpt, "v=TLSRPTv1; rua=%s", rua);
    }

    if (json) {
        char name[MTASTS_DOMAIN_MAX + 32];

        printf("{\"policy\":");
        json_str(stdout, policy);
        printf(",\"policy_url\":");
        snprintf(name, sizeof name, "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
        json_str_or_null(stdout, domain[0] ? name : NULL);
        printf(",\"id\":\"%s\",\"txt_name\":", id);
        snprintf(name, sizeof name, "_mta-sts%s%s.", domain[0] ? "." : "", domain);
        json_str(stdout, domain[0] ? name : "_mta-sts");
        printf(",\"txt\":");
        json_str(stdout, txt);
        printf(",\"tlsrpt_name\":");
        snprintf(name, sizeof name, "_smtp._tls%s%s.", domain[0] ? "." : "", domain);
        json_str_or_null(stdout, !rua[0] ? NULL : domain[0] ? name : "_smtp._tls");
        printf(",\"tlsrpt\":");
        json_str_or_null(stdout, tlsrpt);
        printf("}\n");
        rc = EXIT_POLICY;
        goto out;
    }

    d = domain[0] ? domain : "<domain>";
    dot = domain[0] ? "." : "";

    printf("# The policy file: publish at https://mta-sts.%s/.well-known/mta-sts.txt\n%s\n",
           d, policy);
    printf("# The MTA-STS TXT record:\n_mta-sts%s%s%s IN TXT ", dot, domain, dot);
    print_quoted(txt);
    printf("\n\n");
    if (tlsrpt) {
        printf("# The TLS reporting record (RFC 8460):\n_smtp._tls%s%s%s IN TXT ", dot, domain,
               dot);
        print_quoted(tlsrpt);
        printf("\n\n");
    }
    printf("# Publishing (RFC 8461):\n"
           "# - Serve the policy over HTTPS at mta-sts.%s with a certificate valid for\n"
           "#   that name from a public CA, as Content-Type text/plain, status 200, no\n"
           "#   redirect. Each MX host needs a valid certificate for its own name.\n"
           "# - Publish the policy file first, then the TXT record: senders fetch the\n"
           "#   policy only when they see a new id.\n"
           "# - The id must change on every change of the policy; run generate again\n"
           "#   for a new one (it is the UTC time of generation).\n", d);
    if (mode == MTASTS_MODE_NONE)
        printf("# - Mode none withdraws MTA-STS (8.3): give it a small max_age (e.g.\n"
               "#   --max-age 86400), keep it and its TXT record for at least the previous\n"
               "#   policy's max_age, then remove both.\n");
    else
        printf("# - To remove MTA-STS later (8.3): publish a policy with \"mode: none\", a\n"
               "#   small max_age and a new id, wait at least the old max_age, then remove\n"
               "#   the TXT record and the policy.\n");
    if (mode == MTASTS_MODE_ENFORCE && !rua[0])
        printf("# - Consider mode testing with TLS reports (--rua) before enforce.\n");
    if (max_age < GENERATE_MAX_AGE_DEFAULT && mode != MTASTS_MODE_NONE)
        printf("# - max_age is below a week; RFC 8461 3.2 expects weeks or more.\n");
    rc = EXIT_POLICY;
out:
    mtasts_policy_free(&pats);
    mtasts_policy_free(&check);
    free(policy);
    free(tlsrpt);
    free(rua);
    free(mx);
    return rc;
}
