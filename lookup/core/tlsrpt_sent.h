/*
 * tlsrpt_sent.h - the reporter's "sent" marks: each TLSRPT report goes to
 * each destination once per (day, policy domain, rua URI), also across
 * crashes and re-runs of mtasts tlsrpt send.
 *
 * .nf
 * SYNOPSIS
 *     mtasts_status mtasts_tlsrpt_sent_claim(mtasts_store *s, const char *day,
 *                                            const char *domain, const char *uri,
 *                                            int64_t now, mtasts_tlsrpt_mark *m,
 *                                            mtasts_err *err);
 *     mtasts_status mtasts_tlsrpt_sent_finish(mtasts_store *s, const char *day,
 *                                             const char *domain, const char *uri,
 *                                             mtasts_tlsrpt_sent_state state,
 *                                             int64_t now, mtasts_err *err);
 * DESCRIPTION
 *     Keys "\2tlsrpt-sent:<day> <domain> <16 hex of FNV-1a(uri)>" (the day
 *     first: mtasts_tlsrpt_expire() deletes them with the day's outcomes);
 *     values "S1 <state> <pid> <first> <last> <attempts> <uri>".
 *
 *     claim() looks at the mark in one write transaction and, unless the
 *     report is done, given up or being sent by another live process,
 *     writes SENDING with this pid and attempts + 1 before anything is
 *     submitted. m->prior is the state found (NONE for a first attempt).
 *     Returns OK (go ahead and submit), or NOT_FOUND (do not: m->prior is
 *     DONE, GAVE_UP, or SENDING by a live process, m->pid).
 *
 *     A SENDING mark of a dead process is what a crash between "submitted"
 *     and "marked" leaves behind: claim() lets it be sent again (at least
 *     once rather than at most once: a report lost is worse than a
 *     duplicate, and the resend carries the same report-id, so that the
 *     receiver can deduplicate, RFC 8460 4.4).
 *
 *     finish() records the outcome: DONE (2xx or sendmail accepted it),
 *     RETRY (a later run tries again) or GAVE_UP.
 * .fi
 */
#ifndef MTASTS_TLSRPT_SENT_H
#define MTASTS_TLSRPT_SENT_H

#include "common.h"
#include "store.h"

#include <sys/types.h>

typedef enum mtasts_tlsrpt_sent_state {
    MTASTS_SENT_NONE = 0,       /* never tried */
    MTASTS_SENT_SENDING = 's',  /* claimed: submission under way (or crashed) */
    MTASTS_SENT_RETRY = 'r',    /* failed; a later run tries again */
    MTASTS_SENT_DONE = 'd',
    MTASTS_SENT_GAVE_UP = 'g',
} mtasts_tlsrpt_sent_state;

typedef struct mtasts_tlsrpt_mark {
    mtasts_tlsrpt_sent_state prior; /* as found by claim() */
    pid_t pid;                      /* who claimed it last */
    int64_t first, last;            /* first and last attempt */
    unsigned attempts;              /* attempts so far, this one included */
} mtasts_tlsrpt_mark;

mtasts_status mtasts_tlsrpt_sent_claim(mtasts_store *s, const char *day, const char *domain,
                                       const char *uri, int64_t now, mtasts_tlsrpt_mark *m,
                                       mtasts_err *err);
mtasts_status mtasts_tlsrpt_sent_finish(mtasts_store *s, const char *day, const char *domain,
                                        const char *uri, mtasts_tlsrpt_sent_state state,
                                        int64_t now, mtasts_err *err);
/* The mark as it is (m->prior NONE when there is none); for tests and show. */
mtasts_status mtasts_tlsrpt_sent_get(mtasts_store *s, const char *day, const char *domain,
                                     const char *uri, mtasts_tlsrpt_mark *m, mtasts_err *err);

#endif
