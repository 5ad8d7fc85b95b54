/*
 * mtasts_lookup.c - the Exim lookup-module adapter: ${lookup mtasts{domain}}.
 *
 * Compiled against one configured Exim build tree (make EXIM_SRC=...), as
 * Exim's own dynamic lookups are: the lookup_info layout differs between
 * Exim 4.96-4.98 (magic 0x4c4d4935), 4.99 (same magic, acq_num added) and
 * 4.100 (magic 0x4c4d4936, options/variables added). Designated initialisers
 * keep one source for all of them; a runtime guard refuses to answer when the
 * module is loaded by an Exim other than the one it was built for.
 *
 * The file is named mtasts_lookup.so: Exim <= 4.98 dlopens every *.so in
 * LOOKUP_MODULE_DIR at every start, Exim >= 4.99 opens <type>_lookup.so on
 * demand; one name satisfies both. It exports exactly one lookup type.
 */
#include "exim.h"
#include "version.h"

#include "answer.h"
#include "common.h"
#include "tlsrpt_event.h"

#include <lmdb.h>

#include "lmdb_lazy.h"

#define MTASTS_LOOKUP_NAME "mtasts"

/* Exim 4.100 (lookup ABI 0x4c4d4936) dropped log_write's selector argument. */
#if LOOKUP_MODULE_INFO_MAGIC >= 0x4c4d4936
# define MTASTS_LOG(flags, ...) log_write((flags), __VA_ARGS__)
#else
# define MTASTS_LOG(flags, ...) log_write(0, (flags), __VA_ARGS__)
#endif
/* Exim 4.100 names debug channels by string (DEBUG(lookup)); before, by
 * bit macros (DEBUG(D_lookup)). */
#if LOOKUP_MODULE_INFO_MAGIC >= 0x4c4d4936
# define MTASTS_DEBUG DEBUG(lookup)
#else
# define MTASTS_DEBUG DEBUG(D_lookup)
#endif

/* A queue runner (exim -q...) and the daemon (exim -bd) fork a delivery
 * process per message, and each of those would load liblmdb at its first
 * lookup (lmdb_lazy.c): callgrind, 4.96: ~80k instructions, and 9 page
 * faults and 5 system calls more, per message. These two load it once,
 * before they fork; every other process (exim -be, -bt, a reception) still
 * loads it only if it looks something up. Exim <= 4.98 loads the module at
 * every start; glibc hands the constructors of an object it loads (argc,
 * argv, envp), the process's own arguments. */
__attribute__((constructor))
static void preload_lmdb_where_deliveries_fork(int argc, char **argv, char **envp)
{
    (void)envp;
    for (int i = 1; argv && i < argc && argv[i]; i++)
        if (argv[i][0] == '-' && (argv[i][1] == 'q' || strncmp(argv[i], "-bd", 3) == 0)) {
            mtasts_lmdb_preload();
            return;
        }
}

/* Set once per process: 1 when the running Exim is the one we were built for,
 * -1 when it is not (then every open fails), 0 before the first check. */
static int exim_matches;

/* runtime_guard - compare the loading Exim's version with ours, once */
static BOOL runtime_guard(uschar **errmsg)
{
    if (exim_matches == 0) {
        const char *running = (const char *)version_string;
        size_t n = strlen(EXIM_VERSION_STR);

        /* version_string is "<version>\0<<eximversion>>"-style: compare the
         * leading version only. */
        exim_matches = (running && strncmp(running, EXIM_VERSION_STR, n) == 0
                        && (running[n] == '\0' || running[n] == ' '))
                       ? 1 : -1;
        if (exim_matches < 0)
            MTASTS_LOG(LOG_MAIN | LOG_PANIC,
                      "mtasts: lookup module built for Exim %s but loaded by "
                      "Exim %s: refusing to answer (rebuild the module)",
                      EXIM_VERSION_STR, running ? running : "(unknown)");
    }
    if (exim_matches < 0) {
        *errmsg = string_sprintf("mtasts: module built for Exim %s, running %s",
                                 EXIM_VERSION_STR, version_string);
        return FALSE;
    }
    return TRUE;
}

static void *mtasts_open(const uschar *filename, uschar **errmsg)
{
    (void)filename;
    if (!runtime_guard(errmsg))
        return NULL;
    return (void *)1; /* query-style: per-process state lives in the core */
}

/* exim_log - the core's messages go through Exim's own channels only */
static void exim_log(void *ctx, mtasts_log_level level, const char *msg)
{
    (void)ctx;
    switch (level) {
    case MTASTS_LOG_DEBUG:
        MTASTS_DEBUG debug_printf_indent("%s\n", msg);
        break;
    case MTASTS_LOG_MAIN:
        MTASTS_LOG(LOG_MAIN, "%s", msg);
        break;
    case MTASTS_LOG_PANIC:
        MTASTS_LOG(LOG_MAIN | LOG_PANIC, "%s", msg);
        break;
    }
}

/* A failed lookup ("no policy") may be cached this long by Exim; the store
 * keeps its own negative cache, so this only saves repeated reads. */
#define NEGATIVE_CACHE_SECONDS 300

static int mtasts_find(void *handle, const uschar *filename, const uschar *query,
                       int length, uschar **result, uschar **errmsg,
                       uint *do_cache, const uschar *opts)
{
    /* Static: Exim processes are single-threaded, and the buffer is large. */
    static char out[MTASTS_ANSWER_MAX];
    mtasts_hooks hooks = { exim_log, NULL, false };
    mtasts_err err = {{0}};
    unsigned ttl = 0;
    mtasts_status st;

    (void)handle; (void)filename; (void)length;
    MTASTS_DEBUG hooks.debug = true;
    /* ${lookup mtasts{tlsrpt ...}} from the transport's event_action:
     * record, answer "", and never let Exim cache it (each call counts). */
    if (mtasts_tlsrpt_is_event((const char *)query)) {
        mtasts_tlsrpt_event((const char *)query, (const char *)opts, &hooks);
        *result = string_copy(US"");
        *do_cache = 0;
        return OK;
    }
    MTASTS_DEBUG debug_printf_indent("mtasts: query \"%s\"%s%s\n", query,
                                     opts ? " options " : "", opts ? (const char *)opts : "");
    st = mtasts_answer((const char *)query, (const char *)opts, &hooks, out, sizeof out,
                       &ttl, &err);
    switch (st) {
    case MTASTS_OK:
        /* Copied from untainted memory, so the result is untainted: it is
         * validated by the core and used in host lists. */
        *result = string_copy(US out);
        *do_cache = ttl;
        return OK;
    case MTASTS_NOT_FOUND:
        *errmsg = string_sprintf("mtasts: %s", err.msg);
        MTASTS_DEBUG debug_printf_indent("%s\n", *errmsg);
        *do_cache = NEGATIVE_CACHE_SECONDS;
        return FAIL;
    default:
        /* Only configuration trouble (bad options) defers. */
        *errmsg = string_sprintf("mtasts: %s", err.msg);
        MTASTS_LOG(LOG_MAIN | LOG_PANIC, "mtasts: lookup deferred: %s", err.msg);
        return DEFER;
    }
}

static gstring *mtasts_version_report(gstring *g)
{
    return string_fmt_append(g, "Library version: mtasts: %s (built for Exim %s), %s\n",
                             MTASTS_VERSION, EXIM_VERSION_STR, mdb_version(NULL, NULL, NULL));
}

static lookup_info mtasts_lookup_info = {
    .name = US MTASTS_LOOKUP_NAME,
    .type = lookup_querystyle,
    .open = mtasts_open,
    .check = NULL,
    .find = mtasts_find,
    .close = NULL,
    .tidy = NULL,
    /* No quoting function: Exim only checks a query's taint when .quote is
     * set, and $domain is tainted. The module validates the domain itself. */
    .quote = NULL,
    .version_report = mtasts_version_report,
};

static lookup_info *mtasts_lookup_list[] = { &mtasts_lookup_info };

MTASTS_API lookup_module_info _lookup_module_info = {
    LOOKUP_MODULE_INFO_MAGIC, mtasts_lookup_list, 1
};
