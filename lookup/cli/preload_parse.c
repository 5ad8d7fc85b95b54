/*
 * preload_parse.c - the STARTTLS-Everywhere policy list and this project's
 * preload format, parsed strictly with jansson (contract: preload_parse.h).
 */
#include "preload_parse.h"
#include "domain.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRELOAD_TIME_MAX 253402300799LL    /* 9999-12-31T23:59:59Z */

/* ------------------------------------------------------------------ */
/* Times                                                                */

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool preload_parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, zh = 0, zm = 0, sign = 0;
    struct tm tm = {0};
    time_t t;

    if (strlen(s) < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo)
        || s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't')
        || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':'
        || !digits(s + 17, 2, &sec))
        return false;
    s += 19;
    if (*s == '.') {                    /* a fraction of a second: dropped */
        size_t n = strspn(s + 1, "0123456789");

        if (n == 0 || n > 9)
            return false;
        s += 1 + n;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s == '+' ? 1 : -1;
        if (!digits(s + 1, 2, &zh))
            return false;
        s += 3;
        if (*s == ':')
            s++;
        if (!digits(s, 2, &zm))
            return false;
        s += 2;
        if (zh > 23 || zm > 59)
            return false;
    }
    if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse such dates. */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return false;
    *out = (int64_t)t - sign * (zh * 3600 + zm * 60);
    return true;
}

void preload_format_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        strcpy(buf, "1970-01-01T00:00:00Z");
}

/* ------------------------------------------------------------------ */
/* The list being built                                                 */

void preload_list_free(preload_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->domains[i]);
        mtasts_preload_entry_free(&l->entries[i]);
    }
    free(l->domains);
    free(l->entries);
    memset(l, 0, sizeof *l);
}

mtasts_status preload_list_add(preload_list *l, const char *domain,
                               const mtasts_preload_entry *e, mtasts_err *err)
{
    mtasts_preload_entry copy = *e;

    if ((l->n & (l->n - 1)) == 0) {     /* 0, 1, 2, 4 ...: grow to twice */
        size_t cap = l->n ? l->n * 2 : 1;
        char **d = realloc(l->domains, cap * sizeof *d);

        if (d)
            l->domains = d;
        mtasts_preload_entry *en = d ? realloc(l->entries, cap * sizeof *en) : NULL;

        if (!en) {
            mtasts_errf(err, "preload: out of memory");
            return MTASTS_SYSERR;
        }
        l->entries = en;
    }
    if (mtasts_policy_copy(&copy.policy, &e->policy, err) != MTASTS_OK)
        return MTASTS_SYSERR;
    if (!(l->domains[l->n] = strdup(domain))) {
        mtasts_policy_free(&copy.policy);
        mtasts_errf(err, "preload: out of memory");
        return MTASTS_SYSERR;
    }
    l->entries[l->n++] = copy;
    return MTASTS_OK;
}

/* ------------------------------------------------------------------ */
/* Field helpers: each error names the field's path                     */

/* only_keys - every key of obj is one of the NULL-terminated names */
static bool only_keys(json_t *obj, const char *path, const char *const *names,
                      mtasts_err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        size_t i;

        for (i = 0; names[i] && strcmp(names[i], key) != 0; i++)
            ;
        if (!names[i]) {
            mtasts_errf(err, "%s%s%s: unknown field", path, *path ? "." : "", key);
            return false;
        }
    }
    return true;
}

static bool get_time(json_t *obj, const char *path, const char *key, bool int_ok,
                     int64_t *out, mtasts_err *err)
{
    json_t *v = json_object_get(obj, key);

    if (!v) {
        mtasts_errf(err, "%s%s%s: missing", path, *path ? "." : "", key);
        return false;
    }
    /* Unix seconds up to the end of year 9999, as the text form allows. */
    if (int_ok && json_is_integer(v) && json_integer_value(v) >= 0
        && json_integer_value(v) <= PRELOAD_TIME_MAX) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_string(v) && preload_parse_time(json_string_value(v), out))
        return true;
    mtasts_errf(err, "%s%s%s: not a time (%s)", path, *path ? "." : "", key,
                int_ok ? "YYYY-MM-DDThh:mm:ss[Z|+hh:mm] or Unix seconds"
                       : "YYYY-MM-DDThh:mm:ssZ");
    return false;
}

static bool get_mode(json_t *v, const char *path, mtasts_mode *mode, mtasts_err *err)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;

    if (s && !strcmp(s, "enforce"))
        *mode = MTASTS_MODE_ENFORCE;
    else if (s && !strcmp(s, "testing"))
        *mode = MTASTS_MODE_TESTING;
    else {
        mtasts_errf(err, "%s.mode: not \"enforce\" or \"testing\"", path);
        return false;
    }
    return true;
}

/* get_mx - the array at obj[key]: patterns checked by the core (eff: the
 * EFF forms "name" and ".suffix"; else RFC 8461 "name" and "*.suffix") */
static mtasts_status get_mx(json_t *obj, const char *path, const char *key, bool eff,
                            mtasts_mode mode, uint32_t max_age, mtasts_policy *out,
                            mtasts_err *err)
{
    json_t *arr = json_object_get(obj, key), *v;
    const char *mx[MTASTS_POLICY_MX_MAX];
    size_t lens[MTASTS_POLICY_MX_MAX], i, n;
    mtasts_err why = {{0}};
    mtasts_status st;

    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0) {
        mtasts_errf(err, "%s.%s: %s", path, key,
                    arr ? "not a non-empty array of names" : "missing");
        return MTASTS_INVALID;
    }
    if (n > MTASTS_POLICY_MX_MAX) {
        mtasts_errf(err, "%s.%s: more than %d names", path, key, MTASTS_POLICY_MX_MAX);
        return MTASTS_INVALID;
    }
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            mtasts_errf(err, "%s.%s[%zu]: not a string", path, key, i);
            return MTASTS_INVALID;
        }
        mx[i] = json_string_value(v);
        lens[i] = json_string_length(v);
        if (eff ? memchr(mx[i], '*', lens[i]) != NULL : (lens[i] && mx[i][0] == '.')) {
            mtasts_errf(err, "%s.%s[%zu]: \"%s\" is not %s", path, key, i, mx[i],
                        eff ? "an EFF list name (name or .suffix)"
                            : "an RFC 8461 mx pattern (name or *.suffix)");
            return MTASTS_INVALID;
        }
    }
    st = eff ? mtasts_policy_build_preload(out, mode, max_age, mx, lens, n, &why)
             : mtasts_policy_build(out, mode, max_age, mx, lens, n, &why);
    if (st == MTASTS_INVALID) {
        /* "policy: mx N: reason" -> the field's path */
        const char *r = strstr(why.msg, ": ");

        r = r ? strstr(r + 2, ": ") : NULL;
        mtasts_errf(err, "%s.%s: %s", path, key, r ? r + 2 : why.msg);
    } else if (st != MTASTS_OK) {
        mtasts_errf(err, "%s", why.msg);
    }
    return st;
}

/* check_domain - normalise (lower case, no trailing dot) and check one key */
static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

static bool check_domain(const char *key, const char *where, char out[MTASTS_DOMAIN_MAX + 2],
                         mtasts_err *err)
{
    size_t n = strlen(key), i;
    mtasts_err why = {{0}};

    if (n == 0 || n > MTASTS_DOMAIN_MAX + 1) {
        mtasts_errf(err, "%s: domain \"%s\": empty or too long", where, key);
        return false;
    }
    for (i = 0; i < n; i++)
        out[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    out[n] = '\0';
    if (out[n - 1] == '.')
        out[n - 1] = '\0';
    if (mtasts_domain_check(out, &why) != MTASTS_OK) {
        mtasts_errf(err, "%s.%s: %s", where, key, why.msg);
        return false;
    }
    return true;
}

/* add_entry - add one entry (the list copies it; e is freed) */
static mtasts_status add_entry(preload_list *l, const char *domain, mtasts_preload_entry *e,
                               mtasts_err *err)
{
    mtasts_status st = preload_list_add(l, domain, e, err);

    mtasts_preload_entry_free(e);
    return st;
}

static int cmp_domain(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* no_twice - refuse a domain listed twice: two keys that normalise alike
 * ("A.example", "a.example."; jansson already refuses identical keys).
 * Sorted copies of the names: O(n log n) for lists of 10^5 domains. */
static mtasts_status no_twice(const preload_list *l, const char *where, mtasts_err *err)
{
    char **sorted;
    mtasts_status st = MTASTS_OK;

    if (l->n < 2)
        return MTASTS_OK;
    if (!(sorted = malloc(l->n * sizeof *sorted))) {
        mtasts_errf(err, "preload: out of memory");
        return MTASTS_SYSERR;
    }
    memcpy(sorted, l->domains, l->n * sizeof *sorted);
    qsort(sorted, l->n, sizeof *sorted, cmp_domain);
    for (size_t i = 1; i < l->n && st == MTASTS_OK; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            mtasts_errf(err, "%s.%s: listed twice", where, sorted[i]);
            st = MTASTS_INVALID;
        }
    free(sorted);
    return st;
}

/* ------------------------------------------------------------------ */
/* The STARTTLS-Everywhere policy list                                  */

static const char *const eff_top_keys[] = {
    "timestamp", "expires", "version", "author", "policy-aliases", "policies", "pinsets", NULL,
};
/* "pin" is refused below: pinning is not done here, and dropping a pin
 * would silently widen the entry. */
static const char *const eff_policy_keys[] = {
    "mode", "mxs", "policy-alias", "mta-sts", "report", "pin", NULL,
};

/* eff_policy - one policy object (an alias or a domain's) into e */
static mtasts_status eff_policy(json_t *pol, const char *path, uint32_t max_age,
                                mtasts_preload_entry *e, mtasts_err *err)
{
    json_t *mode = json_object_get(pol, "mode"), *v;
    mtasts_mode m = MTASTS_MODE_TESTING;     /* RULES.md: "Default: testing" */

    if (!json_is_object(pol)) {
        mtasts_errf(err, "%s: not an object", path);
        return MTASTS_INVALID;
    }
    if (!only_keys(pol, path, eff_policy_keys, err))
        return MTASTS_INVALID;
    if (json_object_get(pol, "pin")) {
        mtasts_errf(err, "%s.pin: certificate pinning is not supported", path);
        return MTASTS_INVALID;
    }
    if ((v = json_object_get(pol, "mta-sts")) && !json_is_boolean(v)) {
        mtasts_errf(err, "%s.mta-sts: not true or false", path);
        return MTASTS_INVALID;
    }
    if ((v = json_object_get(pol, "report")) && !json_is_array(v)) {
        mtasts_errf(err, "%s.report: not an array", path);
        return MTASTS_INVALID;
    }
    if (mode && !get_mode(mode, path, &m, err))
        return MTASTS_INVALID;
    return get_mx(pol, path, "mxs", true, m, max_age, &e->policy, err);
}

static mtasts_status parse_eff(json_t *root, preload_list *l, mtasts_err *err)
{
    json_t *aliases = json_object_get(root, "policy-aliases"), *policies, *pol, *v;
    const char *key;
    uint32_t max_age;
    int64_t span;

    if (!only_keys(root, "", eff_top_keys, err)
        || !get_time(root, "", "timestamp", true, &l->meta.generated_at, err)
        || !get_time(root, "", "expires", true, &l->meta.expires_at, err))
        return MTASTS_INVALID;
    if ((v = json_object_get(root, "version"))) {
        /* printed by import and stats: printable ASCII only */
        if (!json_is_string(v) || json_string_length(v) >= sizeof l->meta.version
            || !printable(json_string_value(v), json_string_length(v))) {
            mtasts_errf(err, "version: not a string of at most %zu printable characters",
                        sizeof l->meta.version - 1);
            return MTASTS_INVALID;
        }
        mtasts_strlcpy(l->meta.version, json_string_value(v), sizeof l->meta.version);
    }
    if ((v = json_object_get(root, "author")) && !json_is_string(v)) {
        mtasts_errf(err, "author: not a string");
        return MTASTS_INVALID;
    }
    if ((v = json_object_get(root, "pinsets")) && !json_is_object(v)) {
        mtasts_errf(err, "pinsets: not an object");
        return MTASTS_INVALID;
    }
    if (aliases && !json_is_object(aliases)) {
        mtasts_errf(err, "policy-aliases: not an object");
        return MTASTS_INVALID;
    }
    policies = json_object_get(root, "policies");
    if (!json_is_object(policies)) {
        mtasts_errf(err, "policies: %s", policies ? "not an object" : "missing");
        return MTASTS_INVALID;
    }
    /* The list has no max_age: its entries are good for the list's life. */
    span = l->meta.expires_at - l->meta.generated_at;
    max_age = span <= 0 ? 0 : span > MTASTS_MAX_AGE_CAP ? MTASTS_MAX_AGE_CAP : (uint32_t)span;
    json_object_foreach(policies, key, pol) {
        char domain[MTASTS_DOMAIN_MAX + 2], path[MTASTS_DOMAIN_MAX + 64];
        mtasts_preload_entry e = {0};
        json_t *alias;
        mtasts_status st;

        if (!check_domain(key, "policies", domain, err))
            return MTASTS_INVALID;
        snprintf(path, sizeof path, "policies.%s", key);
        if (!json_is_object(pol)) {
            mtasts_errf(err, "%s: not an object", path);
            return MTASTS_INVALID;
        }
        if ((alias = json_object_get(pol, "policy-alias"))) {
            /* RULES.md: "If set, other fields are ignored." */
            json_t *target = json_is_string(alias) && aliases
                           ? json_object_get(aliases, json_string_value(alias)) : NULL;

            if (!target) {
                mtasts_errf(err, "%s.policy-alias: not the name of a policy-aliases entry",
                            path);
                return MTASTS_INVALID;
            }
            snprintf(path, sizeof path, "policy-aliases.%s", json_string_value(alias));
            if (json_object_get(target, "policy-alias")) {
                mtasts_errf(err, "%s.policy-alias: an alias cannot refer to another", path);
                return MTASTS_INVALID;
            }
            pol = target;
        }
        if ((st = eff_policy(pol, path, max_age, &e, err)) != MTASTS_OK)
            return st;
        e.taken_at = l->meta.generated_at;
        e.expires_at = l->meta.expires_at;
        if ((st = add_entry(l, domain, &e, err)) != MTASTS_OK)
            return st;
    }
    return no_twice(l, "policies", err);
}

/* ------------------------------------------------------------------ */
/* This project's format                                                */

static const char *const mtasts_top_keys[] = {
    "format", "version", "generated", "expires", "domains", NULL,
};
static const char *const mtasts_entry_keys[] = {
    "mode", "mx", "id", "max_age", "taken", NULL,
};

static mtasts_status mtasts_entry(json_t *obj, const char *path, int64_t list_expires,
                                  mtasts_preload_entry *e, mtasts_err *err)
{
    json_t *id = json_object_get(obj, "id"), *age = json_object_get(obj, "max_age");
    mtasts_mode mode;
    json_int_t a;
    size_t i, n;

    if (!json_is_object(obj)) {
        mtasts_errf(err, "%s: not an object", path);
        return MTASTS_INVALID;
    }
    if (!only_keys(obj, path, mtasts_entry_keys, err)
        || !get_mode(json_object_get(obj, "mode"), path, &mode, err))
        return MTASTS_INVALID;
    if (!json_is_string(id) || (n = json_string_length(id)) == 0 || n > MTASTS_ID_MAX) {
        mtasts_errf(err, "%s.id: %s", path, id ? "not 1-32 letters and digits" : "missing");
        return MTASTS_INVALID;
    }
    for (i = 0; i < n; i++) {
        char c = json_string_value(id)[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            mtasts_errf(err, "%s.id: not 1-32 letters and digits", path);
            return MTASTS_INVALID;
        }
    }
    if (!json_is_integer(age) || (a = json_integer_value(age)) < 0
        || a > MTASTS_MAX_AGE_CAP) {
        mtasts_errf(err, "%s.max_age: %s", path,
                    age ? "not an integer from 0 to 31557600" : "missing");
        return MTASTS_INVALID;
    }
    if (!get_time(obj, path, "taken", false, &e->taken_at, err))
        return MTASTS_INVALID;
    memcpy(e->id, json_string_value(id), n + 1);
    e->expires_at = e->taken_at + a < list_expires ? e->taken_at + a : list_expires;
    return get_mx(obj, path, "mx", false, mode, (uint32_t)a, &e->policy, err);
}

static mtasts_status parse_mtasts(json_t *root, preload_list *l, mtasts_err *err)
{
    json_t *fmt = json_object_get(root, "format"), *ver = json_object_get(root, "version");
    json_t *domains, *obj;
    const char *key;

    if (!only_keys(root, "", mtasts_top_keys, err))
        return MTASTS_INVALID;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), PRELOAD_FORMAT_NAME) != 0) {
        mtasts_errf(err, "format: not \"%s\"", PRELOAD_FORMAT_NAME);
        return MTASTS_INVALID;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != PRELOAD_FORMAT_VERSION) {
        mtasts_errf(err, "version: %s (this program reads version %d)",
                    ver ? "unsupported" : "missing", PRELOAD_FORMAT_VERSION);
        return MTASTS_INVALID;
    }
    snprintf(l->meta.version, sizeof l->meta.version, "%d", PRELOAD_FORMAT_VERSION);
    if (!get_time(root, "", "generated", false, &l->meta.generated_at, err)
        || !get_time(root, "", "expires", false, &l->meta.expires_at, err))
        return MTASTS_INVALID;
    domains = json_object_get(root, "domains");
    if (!json_is_object(domains)) {
        mtasts_errf(err, "domains: %s", domains ? "not an object" : "missing");
        return MTASTS_INVALID;
    }
    json_object_foreach(domains, key, obj) {
        char domain[MTASTS_DOMAIN_MAX + 2], path[MTASTS_DOMAIN_MAX + 16];
        mtasts_preload_entry e = {0};
        mtasts_status st;

        if (!check_domain(key, "domains", domain, err))
            return MTASTS_INVALID;
        snprintf(path, sizeof path, "domains.%s", key);
        if ((st = mtasts_entry(obj, path, l->meta.expires_at, &e, err)) != MTASTS_OK)
            return st;
        if ((st = add_entry(l, domain, &e, err)) != MTASTS_OK)
            return st;
    }
    return no_twice(l, "domains", err);
}

mtasts_status preload_parse(const char *buf, size_t len, preload_format f,
                            preload_list *out, mtasts_err *err)
{
    json_error_t je;
    json_t *root;
    mtasts_status st;

    memset(out, 0, sizeof *out);
    if (len > PRELOAD_LIST_MAX_BYTES) {
        mtasts_errf(err, "list larger than %u bytes", PRELOAD_LIST_MAX_BYTES);
        return MTASTS_INVALID;
    }
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        mtasts_errf(err, "line %d, column %d: %s", je.line, je.column, je.text);
        return MTASTS_INVALID;
    }
    if (!json_is_object(root)) {
        mtasts_errf(err, "line 1: the list is not a JSON object");
        json_decref(root);
        return MTASTS_INVALID;
    }
    if (f == PRELOAD_FORMAT_AUTO)
        f = json_object_get(root, "format") ? PRELOAD_FORMAT_MTASTS : PRELOAD_FORMAT_EFF;
    mtasts_strlcpy(out->meta.format, f == PRELOAD_FORMAT_EFF ? "eff" : "mtasts",
                   sizeof out->meta.format);
    st = f == PRELOAD_FORMAT_EFF ? parse_eff(root, out, err) : parse_mtasts(root, out, err);
    json_decref(root);
    if (st == MTASTS_OK && out->meta.expires_at <= out->meta.generated_at) {
        mtasts_errf(err, "expires: not after the list's %s",
                    f == PRELOAD_FORMAT_EFF ? "timestamp" : "generated time");
        st = MTASTS_INVALID;
    }
    if (st != MTASTS_OK) {
        preload_list_free(out);
        return st;
    }
    out->meta.entries = out->n;
    return MTASTS_OK;
}

/* ------------------------------------------------------------------ */
/* Writing this project's format                                        */

bool preload_write_mtasts(FILE *f, const preload_list *l)
{
    json_t *root = json_object(), *domains = json_object();
    char t[32];
    bool ok = root && domains;

    if (ok) {
        json_object_set_new(root, "format", json_string(PRELOAD_FORMAT_NAME));
        json_object_set_new(root, "version", json_integer(PRELOAD_FORMAT_VERSION));
        preload_format_time(l->meta.generated_at, t);
        json_object_set_new(root, "generated", json_string(t));
        preload_format_time(l->meta.expires_at, t);
        json_object_set_new(root, "expires", json_string(t));
    }
    for (size_t i = 0; ok && i < l->n; i++) {
        const mtasts_preload_entry *e = &l->entries[i];
        json_t *d = json_object(), *mx = json_array();

        ok = d && mx;
        for (size_t j = 0; ok && j < e->policy.n_mx; j++)
            ok = json_array_append_new(mx, json_string(e->policy.mx[j])) == 0;
        if (ok) {
            preload_format_time(e->taken_at, t);
            ok = json_object_set_new(d, "mode", json_string(mtasts_mode_name(e->policy.mode))) == 0
              && json_object_set_new(d, "mx", mx) == 0
              && json_object_set_new(d, "id", json_string(e->id)) == 0
              && json_object_set_new(d, "max_age", json_integer(e->policy.max_age)) == 0
              && json_object_set_new(d, "taken", json_string(t)) == 0;
            mx = NULL;
        }
        json_decref(mx);
        if (ok)
            ok = json_object_set_new(domains, l->domains[i], d) == 0;  /* takes d */
        else
            json_decref(d);
    }
    if (ok) {
        ok = json_object_set_new(root, "domains", domains) == 0;
        domains = NULL;
    }
    ok = ok && json_dumpf(root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF;
    json_decref(domains);
    json_decref(root);
    return ok;
}
