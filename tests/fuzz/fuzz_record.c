/*
 * fuzz_record.c - the store record decoder on arbitrary bytes (a store file
 * may be damaged): never crash; whatever decodes re-encodes to the same
 * bytes and decodes again to the same record. The head decoder eviction
 * uses (and its keep class) agrees with the full decoder on every record
 * the full one accepts.
 */
#include "record.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char enc[MTASTS_RECORD_MAX], enc2[MTASTS_RECORD_MAX];
    mtasts_record r, r2;
    mtasts_err err = {{0}};
    size_t len = 0, len2 = 0;

    mtasts_record h;
    bool head_ok = mtasts_record_decode_head((const char *)data, size, &h, &err) == MTASTS_OK;
    int64_t now = size >= 8 ? (int64_t)data[0] << 32 | data[size - 1] : 0;

    if (mtasts_record_decode((const char *)data, size, &r, &err) != MTASTS_OK) {
        if (head_ok && (h.policy.n_mx != 0 || h.policy.mx != NULL))
            __builtin_trap();   /* the head decoder builds no patterns */
        return 0;
    }
    if (!head_ok || h.last_used != r.last_used || h.expires_at != r.expires_at
        || strcmp(h.id, r.id) != 0 || h.policy.mode != r.policy.mode
        || h.policy.max_age != r.policy.max_age
        || mtasts_record_keep_class(&h, now) != mtasts_record_keep_class(&r, now))
        __builtin_trap();
    if (mtasts_record_encode(&r, enc, sizeof enc, &len, &err) != MTASTS_OK)
        __builtin_trap();
    if (mtasts_record_decode(enc, len, &r2, &err) != MTASTS_OK)
        __builtin_trap();
    if (mtasts_record_encode(&r2, enc2, sizeof enc2, &len2, &err) != MTASTS_OK
        || len2 != len || memcmp(enc, enc2, len) != 0)
        __builtin_trap();
    if (r.id[0] && r.policy.mode != MTASTS_MODE_NONE && r.policy.n_mx == 0)
        __builtin_trap();
    mtasts_record_free(&r);
    mtasts_record_free(&r2);
    return 0;
}
