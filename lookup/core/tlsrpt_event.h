/*
 * tlsrpt_event.h - record Exim's transport events as TLSRPT outcomes.
 *
 * .nf
 * SYNOPSIS
 *     bool mtasts_tlsrpt_is_event(const char *query);
 *     void mtasts_tlsrpt_event(const char *query, const char *opts,
 *                              const mtasts_hooks *hooks);
 * DESCRIPTION
 *     Both Exim adapters hand the transport's event_action text here
 *     (${lookup mtasts{tlsrpt ...}}, ${dlfunc{...}{mtasts_tlsrpt}{tlsrpt
 *     ...}}). The query is "tlsrpt" followed by space-separated key=value
 *     words, the last one "data=" taking the rest of the text:
 *
 *       ev      $event_name
 *       dom     $domain (the policy domain)
 *       host    $host, the MX host name
 *       ip      $host_address
 *       src     $sending_ip_address
 *       errno   $event_defer_errno
 *       cv      $tls_out_certificate_verified
 *       dane    $tls_out_dane
 *       cipher  $tls_out_cipher
 *       na      tls:cert only: the certificate's notafter (unix time)
 *       san     tls:cert only: its DNS names, ';'-separated
 *       data    $event_data
 *
 *     One outcome per TLS session: smtp:ehlo after STARTTLS (success, or a
 *     failure in testing mode), smtp:ehlo without STARTTLS on offer
 *     (starttls-not-supported), dane:fail (its $event_data is the result
 *     type), msg:host:defer for a TLS failure (errno -37/-38; classified by
 *     tlsrpt_classify.h with the certificate tls:cert showed). A session
 *     already recorded (dane:fail, then msg:host:defer for the same host)
 *     is not counted twice; a reused connection has no EHLO and is not
 *     counted again. Other events are ignored.
 *
 *     The policy: tlsa when DANE was used or failed (Exim does not show
 *     the TLSA records and the transport does no DNS, so the policy string
 *     stays empty); sts when the store holds a usable testing or enforce
 *     policy for dom (its lines and mx patterns); no-policy-found
 *     otherwise.
 *
 *     Recording never fails the caller: errors are logged through hooks
 *     once per process and otherwise ignored. The option tlsrpt_record=no
 *     (or disabled=yes) turns it off.
 * .fi
 */
#ifndef MTASTS_TLSRPT_EVENT_H
#define MTASTS_TLSRPT_EVENT_H

#include "answer.h"

#define MTASTS_TLSRPT_QUERY_PREFIX "tlsrpt "

/* Is query a recording (not a domain: a domain has no space)? */
bool mtasts_tlsrpt_is_event(const char *query);
void mtasts_tlsrpt_event(const char *query, const char *opts, const mtasts_hooks *hooks);

/* The RFC 8460 policy-string of an sts policy ("version: STSv1\nmode:
 * ...\nmx: ...\nmax_age: ...") and its mx patterns, '\n'-separated
 * (cut at the buffer sizes). */
struct mtasts_policy;
void mtasts_tlsrpt_policy_text(const struct mtasts_policy *p, char *policy, size_t psize,
                               char *mx, size_t msize);

#endif
