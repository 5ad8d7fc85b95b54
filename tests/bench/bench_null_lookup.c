/*
 * bench_null_lookup.c - an empty Exim lookup module (make bench, section 3).
 *
 * The per-process load overhead of mtasts_lookup.so is split into its parts
 * by measuring, besides "no module" and the real module, this module (what
 * any extra module costs an Exim that dlopens every module at start), and
 * the same module built with a DT_NEEDED on liblmdb (what loading LMDB adds).
 * Compiled against the Exim tree as the real module is (run.sh).
 */
#include "exim.h"

static void *null_open(const uschar *filename, uschar **errmsg)
{
    (void)filename; (void)errmsg;
    return (void *)1;
}

static int null_find(void *handle, const uschar *filename, const uschar *query, int length,
                     uschar **result, uschar **errmsg, uint *do_cache, const uschar *opts)
{
    (void)handle; (void)filename; (void)length; (void)errmsg; (void)do_cache; (void)opts;
    *result = string_copy(query);
    return OK;
}

static lookup_info null_lookup_info = {
    .name = US BENCH_NULL_NAME,
    .type = lookup_querystyle,
    .open = null_open,
    .find = null_find,
};

static lookup_info *null_lookup_list[] = { &null_lookup_info };

__attribute__((visibility("default")))
lookup_module_info _lookup_module_info = { LOOKUP_MODULE_INFO_MAGIC, null_lookup_list, 1 };
