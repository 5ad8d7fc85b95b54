/*
 * test_options.c - settings: defaults, key=value words, the configuration
 * file, and the round trip through the string handed to the helper.
 */
#include "options.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    mtasts_options o, back;
    mtasts_err err = {{0}};
    char buf[2048], path[] = "/tmp/mtasts-opt-XXXXXX";
    FILE *f;
    int fd;

    mtasts_options_init(&o);
    CHECK_STR(o.store, "/var/spool/exim4/db/mtasts", "default store");
    CHECK_INT(o.fetch_timeout, 30000, "default fetch timeout");
    CHECK(o.dane, "default dane on");
    CHECK_STR(o.user, "Debian-exim", "default helper user: Exim's");

    /* The helper's budget stays below the adapter's timeout. */
    static const struct { unsigned timeout, budget_ms; } budgets[] = {
        { 75, 70000 }, { 25, 20000 }, { 10, 8000 }, { 1, 800 }, { 600, 595000 },
    };
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        o.timeout = budgets[i].timeout;
        unsigned got = mtasts_options_helper_budget_ms(&o);

        CHECK(got == budgets[i].budget_ms, "helper budget for timeout=%u: %u ms",
              budgets[i].timeout, got);
    }
    mtasts_options_init(&o);
    CHECK(!o.allow_private_policy_host, "default: non-public policy hosts refused");
    CHECK_INT(mtasts_options_parse(&o, "allow_private_policy_host=yes", &err), MTASTS_OK,
              "allow_private_policy_host");
    CHECK(o.allow_private_policy_host, "allow_private_policy_host=yes");
    CHECK(mtasts_options_format(&o, buf, sizeof buf) > 0 &&
              strstr(buf, "allow_private_policy_host=yes"), "handed to the helper: %s", buf);
    mtasts_options_init(&o);

    CHECK_INT(mtasts_options_parse(&o, "store=/tmp/s,timeout=20 dane=no\trecheck=5", &err),
              MTASTS_OK, "parse commas, spaces, tabs");
    CHECK_STR(o.store, "/tmp/s", "store set");
    CHECK_INT(o.timeout, 20, "timeout set");
    CHECK_INT(o.recheck, 5, "recheck set");
    CHECK(!o.dane, "dane off");
    CHECK_INT(mtasts_options_parse(&o, "", &err), MTASTS_OK, "empty is fine");
    CHECK_INT(mtasts_options_parse(&o, NULL, &err), MTASTS_OK, "NULL is fine");

    static const struct { const char *text, *why; } bad[] = {
        { "nosuch=1", "unknown option" },
        { "timeout=0", "not a number from 1" },
        { "timeout=601", "not a number" },
        { "timeout=-5", "not a number" },
        { "timeout=12x", "not a number" },
        { "timeout=", "not a number" },
        { "fetch_timeout=60001", "not a number" },
        { "dane=maybe", "not yes or no" },
        { "store", "not key=value" },
        { "=x", "not key=value" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mtasts_err e = {{0}};
        CHECK_INT(mtasts_options_parse(&o, bad[i].text, &e), MTASTS_INVALID, bad[i].text);
        CHECK(strstr(e.msg, bad[i].why) != NULL, "%s: reason \"%s\"", bad[i].text, e.msg);
    }

    /* The off switch: off by default, "disabled=yes" turns every lookup off. */
    mtasts_options_init(&o);
    CHECK(!o.disabled, "disabled: no by default");
    CHECK_INT(mtasts_options_parse(&o, "disabled=yes", &err), MTASTS_OK, "disabled=yes parses");
    CHECK(o.disabled, "disabled=yes sets the off switch");

    /* Round trip: what the adapters hand to the helper parses back equal. */
    mtasts_options_init(&o);
    mtasts_options_parse(&o, "store=/a helper=/b/mtasts ca_file=/c.pem nameservers=127.0.0.53,"
                         "map_max=128 user=mail", &err);
    CHECK_STR(o.nameservers, "127.0.0.53", "a comma ends a value");
    CHECK_STR(o.user, "mail", "user set");
    mtasts_options_format(&o, buf, sizeof buf);
    mtasts_options_init(&back);
    CHECK_INT(mtasts_options_parse(&back, buf, &err), MTASTS_OK, "format parses back");
    CHECK(memcmp(&o, &back, sizeof o) == 0, "format round trip is exact: %s", buf);

    /* Configuration file: comments, blanks, spaces around '='. */
    fd = mkstemp(path);
    f = fdopen(fd, "w");
    fprintf(f, "# exim-mtasts\n\nstore = /var/x   \n  timeout=40 # inline comment\n");
    fclose(f);
    mtasts_options_init(&o);
    CHECK_INT(mtasts_options_load(&o, path, &err), MTASTS_OK, "config file loads");
    CHECK_STR(o.store, "/var/x", "config: store");
    CHECK_INT(o.timeout, 40, "config: timeout");
    f = fopen(path, "w");
    fprintf(f, "store = /ok\nbogus line\n");
    fclose(f);
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_options_load(&o, path, &err), MTASTS_INVALID, "config: bad line");
    CHECK(strstr(err.msg, ":2:") != NULL, "config: error names the line: %s", err.msg);
    unlink(path);
    CHECK_INT(mtasts_options_load(&o, path, &err), MTASTS_NOT_FOUND, "config: missing file");
    mtasts_err_clear(&err);
    CHECK_INT(mtasts_options_parse(&o, "store=/a,b", &err), MTASTS_INVALID,
              "unknown key after comma");
    return UNIT_DONE("options");
}
