/*
 * tlsrpt_store.c - TLS session outcomes in their own LMDB environment next
 * to the policy store (contract: tlsrpt_store.h).
 *
 * .nf
 * FILES
 *     <store>/tlsrpt.mdb and <store>/tlsrpt.mdb-lock (MDB_NOSUBDIR), a
 *     sibling of the policy store's data.mdb/lock.mdb. It is opened by
 *     store_open_file(), exactly as the policy store is (directory by
 *     descriptor without following links, a root process as the
 *     directory's owner, files checked: regular, one link, the owner's),
 *     the first time this process records or reads outcomes: never by a
 *     lookup. A recorder creates it; readers do not. Its size ceiling is
 *     its own (tlsrpt_map_max, MTASTS_TLSRPT_MAP_MAX): a flood of outcomes
 *     fills it, never the policy store; at the ceiling recording fails
 *     (logged once per process) until the reporter expires old days.
 *
 * KEYS (all below 0x20)
 *     "\1schema"           "tlsrpt1"
 *     "\1synced"           unix time of the last sync (any process)
 *     "\2tlsrpt:<day> <domain> <type> <hash>"   one aggregate; <type> is
 *                         the policy type's number, <hash> 16 hex digits of
 *                         FNV-1a over policy string and mx patterns (the
 *                         policy itself may exceed LMDB's 511-byte keys)
 *     "\2tlsrpt-day:<day>"  "<aggregates> <overflow>": aggregates created
 *                         that day, and sessions not recorded because the
 *                         day already had MTASTS_TLSRPT_AGGREGATES_MAX
 *
 *     The first aggregate of a day also deletes every day older than
 *     MTASTS_TLSRPT_KEEP_DAYS_MAX (once a day, in that transaction).
 *     The reporter's marks "\2tlsrpt-sent:<day>..." stay in the policy
 *     store (tlsrpt_sent.c): they make a report go out exactly once, so
 *     they get its durable commits, and a damaged sibling moved aside
 *     cannot make a report go out twice. mtasts_tlsrpt_expire() deletes
 *     old marks there, and the outcome keys an earlier layout kept there.
 *
 * VALUES
 *     "T1" then netstrings ("<len>:<bytes>"): successes, failures, policy
 *     string, mx patterns, number of detail rows, then per row result
 *     type, sending ip, mx host, receiving ip, reason code, additional
 *     information, count. Every length is checked on decoding. An update
 *     decodes into slices of the stored value and encodes without a
 *     malloc or printf per field.
 *
 * COST AND DURABILITY
 *     A record is one write transaction on the sibling: a get and a put
 *     of one aggregate (and of the day's counter when the aggregate is
 *     new), committed with MDB_NOSYNC: no fdatasync, the pages go to the
 *     page cache. The sync is amortised over all processes: a record
 *     that finds "\1synced" older than MTASTS_TLSRPT_SYNC_INTERVAL (60 s)
 *     updates it and calls mdb_env_sync() after its commit; the reporter
 *     (tlsrpt send, after its expiry) and the helper (after it recorded)
 *     sync too. An OS crash or power loss can therefore lose about the
 *     last minute of counters and, on a file system that does not keep
 *     write order, damage the sibling; a process crash loses nothing.
 *     The policy store is another file and keeps its own durability.
 *     Measured (tests/bench/tlsrpt-micro.py, 500 sessions in one
 *     exim -be, world's disk): 10 us CPU per successful session, 20-24
 *     us when every session adds a failure row to a full aggregate
 *     (4.96 module and stock exim4 via dlfunc alike); before, with a
 *     sync per commit in the policy store, 99-134 us.
 *
 * DAMAGE
 *     A sibling LMDB calls invalid or corrupted, one shorter than its
 *     last page (truncated: reading it would be a SIGBUS), or of another
 *     schema makes recording fail with a message saying so (the event
 *     code logs it once per process; the delivery goes on), and this
 *     process does not try again for OUTCOMES_RETRY seconds. The policy
 *     store is not affected. mtasts_tlsrpt_recover() (tlsrpt send) reads
 *     the whole sibling and, if it is damaged, renames tlsrpt.mdb-lock and
 *     tlsrpt.mdb to "<name>.broken-<UTC time>" as the directory's owner
 *     and creates a new one: its outcomes are lost, nothing else.
 *     Processes that still have the old pair open keep using it (renames
 *     change no open file) until they end.
 * .fi
 */
#include "tlsrpt_store.h"
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY_PREFIX "\002tlsrpt-day:"
#define SYNCED_KEY "\001synced"        /* unix time of the last sync */
#define OUTCOMES_SCHEMA "tlsrpt1"
#define OUTCOMES_RETRY 60
#define DAY_LEN 10                      /* YYYY-MM-DD */
#define VALUE_MAGIC "T1"
/* Bounds of the strings of a detail row (longer ones are cut). */
#define FIELD_MAX 255
#define INFO_MAX 512

static unsigned aggregates_max = MTASTS_TLSRPT_AGGREGATES_MAX;
static size_t outcomes_map_max = MTASTS_TLSRPT_MAP_MAX;

void mtasts_tlsrpt_set_map_max(size_t bytes)
{
    outcomes_map_max = bytes ? bytes : MTASTS_TLSRPT_MAP_MAX;
}

/* ------------------------------------------------------------------ */
/* The sibling environment                                              */

/* outcomes - the sibling of policy store s, opened (created when write)
 * on first use. MTASTS_NOT_FOUND: none yet (and !write). A failed open is
 * not retried for OUTCOMES_RETRY seconds (a delivery process must not pay
 * for a broken file at every session). */
static mtasts_status outcomes(mtasts_store *s, bool write, mtasts_store **out,
                              mtasts_err *err)
{
    mtasts_store_config cfg;
    mtasts_status st;
    bool broken = false;
    int64_t now = (int64_t)time(NULL);

    *out = NULL;
    if (!s) {
        mtasts_errf(err, "store: not open");
        return MTASTS_SYSERR;
    }
    if (s->outcomes) {
        s->outcomes->create |= write;
        st = write ? store_writable(s->outcomes, err) : store_ready(s->outcomes, err);
        if (st == MTASTS_OK)
            *out = s->outcomes;
        else if (!s->outcomes->env) {
            /* a reopen (after fork() or an LMDB error) failed: as a first
             * open that failed, not tried again at every call */
            s->outcomes_broken = s->outcomes->broken;
            mtasts_store_close(&s->outcomes);
            s->outcomes_retry = now + OUTCOMES_RETRY;
        }
        return st;
    }
    if (now < s->outcomes_retry) {
        mtasts_errf(err, "tlsrpt: %s/%s unusable (see the first error of this process)",
                    s->path, MTASTS_TLSRPT_FILE);
        return MTASTS_TEMPFAIL;
    }
    cfg = (mtasts_store_config){ .path = s->path, .map_initial = MTASTS_TLSRPT_MAP_INITIAL,
                                 .map_max = outcomes_map_max, .create = write,
                                 .notify = s->notify, .notify_ctx = s->notify_ctx };
    st = store_open_file(&cfg, MTASTS_TLSRPT_FILE, MDB_NOSYNC, OUTCOMES_SCHEMA, &s->outcomes,
                         &broken, err);
    if (st == MTASTS_NOT_FOUND && !write)
        return st;
    s->outcomes_broken = broken;
    if (st != MTASTS_OK) {
        s->outcomes_retry = now + OUTCOMES_RETRY;
        if (broken) {
            mtasts_err first = *err;

            mtasts_err_clear(err);
            mtasts_errf(err, "%s (damaged; \"mtasts tlsrpt send\" moves it aside)",
                        first.msg);
        }
        return st == MTASTS_NOT_FOUND ? MTASTS_SYSERR : st;
    }
    if (write && s->outcomes->readonly) {
        mtasts_errf(err, "store: %s is read-only for uid %ld", s->outcomes->label,
                    (long)geteuid());
        return MTASTS_TEMPFAIL;
    }
    *out = s->outcomes;
    return MTASTS_OK;
}

/* outcomes_fail - a failed transaction on the sibling: a damaged file
 * is remembered (the reporter moves it aside) */
static mtasts_status outcomes_fail(mtasts_store *o, mtasts_err *err, const char *what, int rc)
{
    if (store_rc_broken(rc))
        o->broken = true;
    return store_fail(o, err, what, rc);
}

mtasts_status mtasts_tlsrpt_sync(mtasts_store *s, mtasts_err *err)
{
    int rc;

    if (!s || !s->outcomes || !s->outcomes->env || s->outcomes->pid != getpid()
        || s->outcomes->readonly)
        return MTASTS_OK;
    if ((rc = mdb_env_sync(s->outcomes->env, 1)) != 0) {
        mtasts_errf(err, "store: syncing %s: %s", s->outcomes->label, mdb_strerror(rc));
        return MTASTS_SYSERR;
    }
    return MTASTS_OK;
}

static int walk_fn(mtasts_store *o, MDB_txn *txn, void *ctx)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    (void)ctx;
    if ((rc = mdb_cursor_open(txn, o->dbi, &c)) != 0)
        return rc;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
        ;
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* walk_all - read every record of o: 0, or the LMDB error that says it is
 * damaged (a failed write transaction of this process said so already) */
static int walk_all(mtasts_store *o)
{
    int rc = store_run_txn(o, MDB_RDONLY, walk_fn, NULL);

    return o->broken ? MDB_CORRUPTED : store_rc_broken(rc) ? rc : 0;
}

mtasts_status mtasts_tlsrpt_recover(mtasts_store *s, bool *moved, mtasts_err *err)
{
    mtasts_store *o;
    mtasts_err why = {{0}};
    mtasts_status st;
    char suffix[32];
    time_t now = time(NULL);
    struct tm tm;

    *moved = false;
    if (!s) {
        mtasts_errf(err, "store: not open");
        return MTASTS_SYSERR;
    }
    s->outcomes_retry = 0;
    st = outcomes(s, true, &o, &why);
    if (st == MTASTS_OK && walk_all(o) == 0)
        return MTASTS_OK;
    if (st != MTASTS_OK && !s->outcomes_broken) {
        mtasts_errf(err, "%s", why.msg);
        return st;
    }
    if (st == MTASTS_OK)
        mtasts_errf(&why, "%s is damaged", o->label);
    mtasts_store_close(&s->outcomes);
    if (!gmtime_r(&now, &tm) || !strftime(suffix, sizeof suffix, "broken-%Y%m%dT%H%M%S", &tm))
        snprintf(suffix, sizeof suffix, "broken");
    if ((st = store_move_aside(s->path, MTASTS_TLSRPT_FILE, suffix, err)) != MTASTS_OK)
        return st;
    *moved = true;
    mtasts_errf(err, "%s; moved aside as %s.%s", why.msg, MTASTS_TLSRPT_FILE, suffix);
    s->outcomes_retry = 0;
    {
        mtasts_err again = {{0}};

        if ((st = outcomes(s, true, &o, &again)) != MTASTS_OK) {
            mtasts_err_clear(err);
            mtasts_errf(err, "%s; moved aside, but a new one: %s", why.msg, again.msg);
        }
    }
    return st;
}

void mtasts_tlsrpt_set_aggregates_max(unsigned n)
{
    aggregates_max = n ? n : MTASTS_TLSRPT_AGGREGATES_MAX;
}

const char *mtasts_tlsrpt_policy_type_name(mtasts_tlsrpt_policy_type t)
{
    switch (t) {
    case MTASTS_TLSRPT_STS: return "sts";
    case MTASTS_TLSRPT_TLSA: return "tlsa";
    default: return "no-policy-found";
    }
}

bool mtasts_tlsrpt_day_of(int64_t when, char day[static DAY_LEN + 1])
{
    time_t t = (time_t)when;
    struct tm tm;

    if (!gmtime_r(&t, &tm))
        return false;
    return strftime(day, DAY_LEN + 1, "%Y-%m-%d", &tm) == DAY_LEN;
}

/* ------------------------------------------------------------------ */
/* Aggregate values                                                     */

/* A string of an aggregate: a slice of the stored value (valid until the
 * transaction writes), of the outcome being recorded, or of scratch. */
typedef struct slice {
    const char *p;
    size_t n;
} slice;

typedef struct detail {
    slice f[6];         /* result type, sending ip, mx host, receiving ip,
                           reason code, additional info */
    uint64_t count;
} detail;

typedef struct aggregate {
    uint64_t successes, failures;
    slice policy, mx;
    size_t n;
    detail d[MTASTS_TLSRPT_DETAILS_MAX];
} aggregate;

static bool slice_eq(slice a, slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* cut - s (NULL: "") as at most max bytes, control characters replaced
 * (the text ends up in reports and logs), in scratch at *used */
static slice cut(const char *s, size_t max, char *scratch, size_t *used)
{
    size_t n = s ? strnlen(s, max) : 0;
    slice r = { scratch + *used, n };

    for (size_t i = 0; i < n; i++)
        scratch[*used + i] = (unsigned char)s[i] < 0x20 && s[i] != '\n' ? ' ' : s[i];
    *used += n;
    return r;
}

/* buffer for encoding */
typedef struct buf {
    char *p;
    size_t len, cap;
    bool failed;
} buf;

static bool reserve(buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->len + more > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + more;
        char *p = realloc(b->p, cap);

        if (!p) {
            b->failed = true;
            return false;
        }
        b->p = p;
        b->cap = cap;
    }
    return true;
}

/* decimal - v in decimal at the end of out[24]; returns where it starts */
static char *decimal(uint64_t v, char out[24])
{
    char *p = out + 24;

    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

/* put_bytes - one netstring "<len>:<bytes>" */
static void put_bytes(buf *b, const char *s, size_t n)
{
    char num[24], *h = decimal(n, num);
    size_t hl = (size_t)(num + 24 - h);

    if (!reserve(b, hl + 1 + n))
        return;
    memcpy(b->p + b->len, h, hl);
    b->p[b->len + hl] = ':';
    if (n)
        memcpy(b->p + b->len + hl + 1, s, n);
    b->len += hl + 1 + n;
}

static void put_slice(buf *b, slice s)
{
    put_bytes(b, s.p, s.n);
}

static void put_u64(buf *b, uint64_t v)
{
    char num[24], *d = decimal(v, num);

    put_bytes(b, d, (size_t)(num + 24 - d));
}

static bool agg_encode(const aggregate *a, buf *b)
{
    b->len = 0;
    if (!reserve(b, 2))
        return false;
    memcpy(b->p, VALUE_MAGIC, 2);
    b->len = 2;
    put_u64(b, a->successes);
    put_u64(b, a->failures);
    put_slice(b, a->policy);
    put_slice(b, a->mx);
    put_u64(b, a->n);
    for (size_t i = 0; i < a->n; i++) {
        for (int j = 0; j < 6; j++)
            put_slice(b, a->d[i].f[j]);
        put_u64(b, a->d[i].count);
    }
    return !b->failed;
}

/* get_field - the next netstring of [*p, end) */
static bool get_field(const char **p, const char *end, slice *s)
{
    size_t len = 0;
    const char *q = *p;

    while (q < end && *q >= '0' && *q <= '9' && q - *p < 10)
        len = len * 10 + (size_t)(*q++ - '0');
    if (q == *p || q >= end || *q != ':' || (size_t)(end - q - 1) < len)
        return false;
    s->p = q + 1;
    s->n = len;
    *p = q + 1 + len;
    return true;
}

static bool get_str(const char **p, const char *end, slice *out)
{
    return get_field(p, end, out) && !memchr(out->p, '\0', out->n);
}

static bool get_u64(const char **p, const char *end, uint64_t *v)
{
    slice s;
    int64_t x;

    if (!get_field(p, end, &s) || s.n == 0 || s.n > 18
        || !store_parse_i64(s.p, s.p + s.n, NULL, &x) || x < 0)
        return false;
    *v = (uint64_t)x;
    return true;
}

/* agg_decode - a's strings are slices of v */
static bool agg_decode(const char *v, size_t len, aggregate *a)
{
    const char *p = v, *end = v + len;
    uint64_t n;

    memset(a, 0, sizeof *a);
    if (len < 2 || memcmp(v, VALUE_MAGIC, 2) != 0)
        return false;
    p += 2;
    if (!get_u64(&p, end, &a->successes) || !get_u64(&p, end, &a->failures)
        || !get_str(&p, end, &a->policy) || !get_str(&p, end, &a->mx)
        || !get_u64(&p, end, &n) || n > MTASTS_TLSRPT_DETAILS_MAX)
        return false;
    for (; a->n < n; a->n++) {
        detail *d = &a->d[a->n];

        for (int j = 0; j < 6; j++)
            if (!get_str(&p, end, &d->f[j]))
                return false;
        if (!get_u64(&p, end, &d->count))
            return false;
    }
    return p == end;
}

/* Scratch for the strings of a new detail row. */
#define ROW_SCRATCH (5 * FIELD_MAX + INFO_MAX)

/* agg_add - count outcome o into a (bounded detail rows); a new row's
 * strings go to scratch[ROW_SCRATCH] */
static void agg_add(aggregate *a, const mtasts_tlsrpt_outcome *o, char *scratch)
{
    const char *f[6] = { o->result_type, o->sending_ip, o->mx_host, o->receiving_ip,
                         o->failure_reason_code, o->additional_info };
    size_t i, least = SIZE_MAX, same = SIZE_MAX, used = 0;
    detail row;

    if (!o->result_type) {
        a->successes++;
        return;
    }
    a->failures++;
    for (int j = 0; j < 6; j++)
        row.f[j] = cut(f[j], j == 5 ? INFO_MAX : FIELD_MAX, scratch, &used);
    for (i = 0; i < a->n; i++) {
        int j;

        for (j = 0; j < 6 && slice_eq(a->d[i].f[j], row.f[j]); j++)
            ;
        if (j == 6) {
            a->d[i].count++;
            return;
        }
        if (slice_eq(a->d[i].f[0], row.f[0])
            && (same == SIZE_MAX || a->d[i].count < a->d[same].count))
            same = i;
    }
    if (a->n == MTASTS_TLSRPT_DETAILS_MAX) {
        /* Full. Fold into the least frequent row of the same result type,
         * so that the rows' counts per result type stay exact... */
        if (same != SIZE_MAX) {
            a->d[same].count++;
            return;
        }
        /* ...or, a new result type: merge the least frequent row of a type
         * that has several rows into its type's next least frequent row
         * (there is one: there are fewer result types than rows). */
        for (i = 0; i < a->n; i++) {
            size_t k, other = SIZE_MAX;

            for (k = 0; k < a->n; k++)
                if (k != i && slice_eq(a->d[k].f[0], a->d[i].f[0])
                    && (other == SIZE_MAX || a->d[k].count < a->d[other].count))
                    other = k;
            if (other != SIZE_MAX && (least == SIZE_MAX || a->d[i].count < a->d[least].count))
                least = i;
        }
        if (least == SIZE_MAX)
            return;             /* cannot happen; the summary stays exact */
        for (i = 0, same = SIZE_MAX; i < a->n; i++)
            if (i != least && slice_eq(a->d[i].f[0], a->d[least].f[0])
                && (same == SIZE_MAX || a->d[i].count < a->d[same].count))
                same = i;
        a->d[same].count += a->d[least].count;
        a->d[least] = a->d[--a->n];
    }
    row.count = 1;
    a->d[a->n++] = row;
}

/* ------------------------------------------------------------------ */
/* Recording                                                            */

/* policy_hash - FNV-1a 64 over the policy and its mx patterns */
static uint64_t policy_hash(const char *policy, const char *mx)
{
    uint64_t h = 0xcbf29ce484222325u;
    const char *parts[2] = { policy ? policy : "", mx ? mx : "" };

    for (int i = 0; i < 2; i++) {
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3u;
        h = (h ^ 0xff) * 0x100000001b3u;    /* separator */
    }
    return h;
}

/* Days before this sort after every day: all records of the prefixes. */
#define ALL_DAYS "\177\177\177\177\177\177\177\177\177\177"

typedef struct expire_ctx {
    const char *before;             /* delete days before this one */
    const char *const *prefixes;    /* of these key prefixes */
    size_t n;
} expire_ctx;

static const char *const outcome_prefixes[] = { MTASTS_TLSRPT_KEY_PREFIX, DAY_PREFIX };
static const char *const sent_prefixes[] = { MTASTS_TLSRPT_SENT_PREFIX };

static int expire_fn(mtasts_store *s, MDB_txn *txn, void *ctx);

typedef struct rec_ctx {
    const mtasts_tlsrpt_outcome *o;
    char key[sizeof MTASTS_TLSRPT_KEY_PREFIX + DAY_LEN + MTASTS_DOMAIN_MAX + 24];
    char daykey[sizeof DAY_PREFIX + DAY_LEN];
    char oldest_kept[DAY_LEN + 1];  /* the backstop's first day kept */
    size_t keylen;
    buf b;
    bool overflow;
    int64_t now;
    bool sync;                      /* the commit is to be synced */
    char row[ROW_SCRATCH];          /* a new detail row's strings */
    char *policy;                   /* a new aggregate's policy and mx */
} rec_ctx;

/* due_sync - is the last sync of the sibling (by any process) older than
 * MTASTS_TLSRPT_SYNC_INTERVAL? Then note this one (the caller syncs after
 * the commit). */
static int due_sync(mtasts_store *s, MDB_txn *txn, rec_ctx *c)
{
    char val[24];
    MDB_val k = { sizeof SYNCED_KEY - 1, SYNCED_KEY }, v;
    int64_t last = 0;
    int rc = mdb_get(txn, s->dbi, &k, &v);

    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0)
        store_parse_i64(v.mv_data, (const char *)v.mv_data + v.mv_size, NULL, &last);
    c->sync = c->now - last >= MTASTS_TLSRPT_SYNC_INTERVAL || last > c->now;
    if (!c->sync)
        return 0;
    v.mv_data = val;
    v.mv_size = (size_t)snprintf(val, sizeof val, "%" PRId64, c->now);
    return mdb_put(txn, s->dbi, &k, &v, 0);
}

static int day_counts(mtasts_store *s, MDB_txn *txn, const char *daykey, uint64_t *aggs,
                      uint64_t *overflow)
{
    MDB_val k = { strlen(daykey), (void *)daykey }, v;
    int64_t a = 0, o = 0;
    const char *next;
    int rc = mdb_get(txn, s->dbi, &k, &v);

    *aggs = *overflow = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (store_parse_i64(v.mv_data, (const char *)v.mv_data + v.mv_size, &next, &a)
        && next < (const char *)v.mv_data + v.mv_size
        && store_parse_i64(next + 1, (const char *)v.mv_data + v.mv_size, NULL, &o)
        && a >= 0 && o >= 0) {
        *aggs = (uint64_t)a;
        *overflow = (uint64_t)o;
    }
    return 0;
}

static int put_day_counts(mtasts_store *s, MDB_txn *txn, const char *daykey, uint64_t aggs,
                          uint64_t overflow)
{
    char val[48];
    MDB_val k = { strlen(daykey), (void *)daykey }, v = { 0, val };

    v.mv_size = (size_t)snprintf(val, sizeof val, "%" PRIu64 " %" PRIu64, aggs, overflow);
    return mdb_put(txn, s->dbi, &k, &v, 0);
}

static int record_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    rec_ctx *c = ctx;
    MDB_val k = { c->keylen, c->key }, v;
    aggregate a;
    int rc;

    c->overflow = false;
    /* before the get: a put may move the pages a got value points into */
    if ((rc = due_sync(s, txn, c)) != 0)
        return rc;
    rc = mdb_get(txn, s->dbi, &k, &v);
    if (rc == 0 && !agg_decode(v.mv_data, v.mv_size, &a))
        rc = MDB_NOTFOUND;      /* unreadable: start it again */
    if (rc == MDB_NOTFOUND) {
        uint64_t aggs, overflow;
        size_t used = 0, max = MTASTS_RECORD_MAX;

        if ((rc = day_counts(s, txn, c->daykey, &aggs, &overflow)) != 0)
            return rc;
        /* The day's first aggregate: drop days past the backstop. */
        if (aggs == 0 && overflow == 0) {
            expire_ctx e = { c->oldest_kept, outcome_prefixes, 2 };

            if ((rc = expire_fn(s, txn, &e)) != 0)
                return rc;
        }
        if (aggs >= aggregates_max) {
            c->overflow = true;
            return put_day_counts(s, txn, c->daykey, aggs, overflow + 1);
        }
        if ((rc = put_day_counts(s, txn, c->daykey, aggs + 1, overflow)) != 0)
            return rc;
        memset(&a, 0, sizeof a);
        if (c->o->type != MTASTS_TLSRPT_NO_POLICY) {
            const char *pol = c->o->policy_string, *mx = c->o->mx_patterns;

            if (!c->policy && !(c->policy = malloc(2 * max)))
                return ENOMEM;
            a.policy = cut(pol, max, c->policy, &used);
            a.mx = cut(mx, max, c->policy, &used);
        }
    } else if (rc) {
        return rc;
    }
    agg_add(&a, c->o, c->row);
    if (!agg_encode(&a, &c->b))
        return ENOMEM;
    v.mv_size = c->b.len;
    v.mv_data = c->b.p;
    return mdb_put(txn, s->dbi, &k, &v, 0);
}

mtasts_status mtasts_tlsrpt_record(mtasts_store *s, const mtasts_tlsrpt_outcome *o,
                                   mtasts_err *err)
{
    char day[DAY_LEN + 1], dom[MTASTS_DOMAIN_MAX + 1];
    MDB_val dk;
    rec_ctx c = { .o = o };
    mtasts_store *os;
    mtasts_status st;
    int rc, n;

    if (!store_domain_key(o->policy_domain, dom, &dk) || !mtasts_tlsrpt_day_of(o->when, day)
        || !mtasts_tlsrpt_day_of(o->when - 86400 * MTASTS_TLSRPT_KEEP_DAYS_MAX, c.oldest_kept)
        || (unsigned)o->type > MTASTS_TLSRPT_TLSA) {
        mtasts_errf(err, "tlsrpt: invalid outcome (domain, time or policy type)");
        return MTASTS_INVALID;
    }
    if ((st = outcomes(s, true, &os, err)) != MTASTS_OK)
        return st;
    n = snprintf(c.key, sizeof c.key, "%s%s %s %d %016" PRIx64, MTASTS_TLSRPT_KEY_PREFIX, day,
                 dom, (int)o->type,
                 o->type == MTASTS_TLSRPT_NO_POLICY ? 0
                 : policy_hash(o->policy_string, o->mx_patterns));
    c.keylen = (size_t)n;
    c.now = (int64_t)time(NULL);
    snprintf(c.daykey, sizeof c.daykey, "%s%s", DAY_PREFIX, day);
    /* Committed without a sync (MDB_NOSYNC), synced once a minute: COST. */
    rc = store_run_txn(os, 0, record_fn, &c);
    free(c.b.p);
    free(c.policy);
    if (rc == 0 && c.sync && (rc = mdb_env_sync(os->env, 1)) != 0)
        return outcomes_fail(os, err, "syncing", rc);
    if (rc == 0 && c.overflow) {
        mtasts_errf(err, "tlsrpt: %s already has %u aggregates: session counted as overflow",
                    day, aggregates_max);
        return MTASTS_TEMPFAIL;
    }
    return rc == 0 ? MTASTS_OK : outcomes_fail(os, err, "recording a TLS outcome in", rc);
}

/* ------------------------------------------------------------------ */
/* Reading and expiry                                                   */

typedef struct each_ctx {
    const char *day;
    mtasts_tlsrpt_visit_fn fn;
    void *ctx;
} each_ctx;

/* key_parts - day, domain and type of an aggregate key */
static bool key_parts(const MDB_val *k, char *day, char *dom, int *type)
{
    const char *p = (const char *)k->mv_data + (sizeof MTASTS_TLSRPT_KEY_PREFIX - 1);
    const char *end = (const char *)k->mv_data + k->mv_size, *sp;

    if ((size_t)(end - p) < DAY_LEN + 6 || p[DAY_LEN] != ' ')
        return false;
    memcpy(day, p, DAY_LEN);
    day[DAY_LEN] = '\0';
    p += DAY_LEN + 1;
    sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp || sp == p || sp - p > MTASTS_DOMAIN_MAX || end - sp < 3 || sp[2] != ' '
        || sp[1] < '0' || sp[1] > '2')
        return false;
    memcpy(dom, p, (size_t)(sp - p));
    dom[sp - p] = '\0';
    *type = sp[1] - '0';
    return true;
}

static int each_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    each_ctx *e = ctx;
    char start[sizeof MTASTS_TLSRPT_KEY_PREFIX + DAY_LEN + 1];
    size_t startlen = (size_t)snprintf(start, sizeof start, "%s%s%s", MTASTS_TLSRPT_KEY_PREFIX,
                                       e->day ? e->day : "", e->day ? " " : "");
    MDB_val k = { startlen, start }, v;
    MDB_cursor *c;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char day[DAY_LEN + 1], dom[MTASTS_DOMAIN_MAX + 1], *text, *t;
        const char *f[MTASTS_TLSRPT_DETAILS_MAX][6], *pol, *mx;
        mtasts_tlsrpt_detail rows[MTASTS_TLSRPT_DETAILS_MAX];
        mtasts_tlsrpt_aggregate out;
        aggregate a;
        int type;
        bool more;

        if (k.mv_size < startlen || memcmp(k.mv_data, start, startlen) != 0)
            break;
        if (!key_parts(&k, day, dom, &type) || !agg_decode(v.mv_data, v.mv_size, &a))
            continue;           /* not readable: as if absent */
        /* the strings NUL-terminated: at most the value plus a NUL each */
        if (!(t = text = malloc(v.mv_size + 2 + 6 * MTASTS_TLSRPT_DETAILS_MAX))) {
            rc = ENOMEM;
            break;
        }
#define TEXT(sl, to) (to = t, (sl).n ? memcpy(t, (sl).p, (sl).n) : t, t += (sl).n, *t++ = '\0')
        TEXT(a.policy, pol);
        TEXT(a.mx, mx);
        for (size_t i = 0; i < a.n; i++) {
            for (int j = 0; j < 6; j++)
                TEXT(a.d[i].f[j], f[i][j]);
            rows[i] = (mtasts_tlsrpt_detail){ f[i][0], f[i][1], f[i][2], f[i][3], f[i][4],
                                              f[i][5], a.d[i].count };
        }
#undef TEXT
        out = (mtasts_tlsrpt_aggregate){ day, dom, (mtasts_tlsrpt_policy_type)type, pol, mx,
                                         a.successes, a.failures, a.n, rows };
        more = e->fn(e->ctx, &out);
        free(text);
        if (!more)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

mtasts_status mtasts_tlsrpt_foreach(mtasts_store *s, const char *day,
                                    mtasts_tlsrpt_visit_fn fn, void *ctx, mtasts_err *err)
{
    each_ctx e = { day, fn, ctx };
    mtasts_store *o;
    mtasts_status st;
    int rc;

    if (day && strlen(day) != DAY_LEN) {
        mtasts_errf(err, "tlsrpt: day \"%s\" is not YYYY-MM-DD", day);
        return MTASTS_INVALID;
    }
    if (s && s->busy) {
        mtasts_errf(err, "store: called from inside a foreach");
        return MTASTS_SYSERR;
    }
    if ((st = outcomes(s, false, &o, err)) == MTASTS_NOT_FOUND)
        return MTASTS_OK;       /* nothing recorded yet */
    if (st != MTASTS_OK)
        return st;
    s->busy = o->busy = true;
    rc = store_run_txn(o, MDB_RDONLY, each_fn, &e);
    s->busy = o->busy = false;
    return rc == 0 ? MTASTS_OK : outcomes_fail(o, err, "reading", rc);
}

static int day_stats_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    uint64_t *r = ctx;
    char key[sizeof DAY_PREFIX + DAY_LEN];

    snprintf(key, sizeof key, "%s%s", DAY_PREFIX, (const char *)(uintptr_t)r[2]);
    return day_counts(s, txn, key, &r[0], &r[1]);
}

mtasts_status mtasts_tlsrpt_day_stats(mtasts_store *s, const char *day, uint64_t *aggregates,
                                      uint64_t *overflow, mtasts_err *err)
{
    uint64_t r[3] = { 0, 0, (uint64_t)(uintptr_t)day };
    mtasts_store *o;
    mtasts_status st;
    int rc;

    *aggregates = *overflow = 0;
    if (!day || strlen(day) != DAY_LEN) {
        mtasts_errf(err, "tlsrpt: day is not YYYY-MM-DD");
        return MTASTS_INVALID;
    }
    if ((st = outcomes(s, false, &o, err)) == MTASTS_NOT_FOUND)
        return MTASTS_OK;
    if (st != MTASTS_OK)
        return st;
    rc = store_run_txn(o, MDB_RDONLY, day_stats_fn, r);
    if (rc)
        return outcomes_fail(o, err, "reading", rc);
    *aggregates = r[0];
    *overflow = r[1];
    return MTASTS_OK;
}

static int expire_fn(mtasts_store *s, MDB_txn *txn, void *ctx)
{
    const expire_ctx *e = ctx;
    MDB_cursor *c;
    int rc = 0;

    for (size_t i = 0; i < e->n && rc == 0; i++) {
        size_t plen = strlen(e->prefixes[i]);
        MDB_val k = { plen, (void *)e->prefixes[i] }, v;

        if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
            return rc;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            /* Keys of a prefix sort by day: stop at the first kept one. */
            if (k.mv_size < plen + DAY_LEN || memcmp(k.mv_data, e->prefixes[i], plen) != 0
                || memcmp((const char *)k.mv_data + plen, e->before, DAY_LEN) >= 0)
                break;
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

mtasts_status mtasts_tlsrpt_expire(mtasts_store *s, const char *before_day, mtasts_err *err)
{
    /* The sent marks of old days, and the outcomes an earlier layout kept
     * in the policy store (all of them: they are no longer read). */
    expire_ctx marks = { before_day, sent_prefixes, 1 };
    expire_ctx legacy = { ALL_DAYS, outcome_prefixes, 2 };
    expire_ctx old = { before_day, outcome_prefixes, 2 };
    mtasts_store *o;
    mtasts_status st;
    int rc;

    if ((st = store_writable(s, err)) != MTASTS_OK)
        return st;
    if (!before_day || strlen(before_day) != DAY_LEN) {
        mtasts_errf(err, "tlsrpt: day is not YYYY-MM-DD");
        return MTASTS_INVALID;
    }
    rc = store_run_txn(s, 0, expire_fn, &marks);
    if (rc == 0)
        rc = store_run_txn(s, 0, expire_fn, &legacy);
    if (rc)
        return store_fail(s, err, "expiring TLSRPT sent marks in", rc);
    if ((st = outcomes(s, true, &o, err)) != MTASTS_OK)
        return st;
    rc = store_run_txn(o, 0, expire_fn, &old);
    if (rc)
        return outcomes_fail(o, err, "expiring TLS outcomes in", rc);
    return mtasts_tlsrpt_sync(s, err);
}
