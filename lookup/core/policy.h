/*
 * policy.h - the MTA-STS policy body (RFC 8461 section 3.2).
 *
 * .nf
 * SYNOPSIS
 *     #include "policy.h"
 *
 *     mtasts_status mtasts_policy_parse(const char *buf, size_t len,
 *                                       mtasts_policy *out, mtasts_err *err);
 *     mtasts_status mtasts_policy_copy(mtasts_policy *dst,
 *                                      const mtasts_policy *src,
 *                                      mtasts_err *err);
 *     void mtasts_policy_free(mtasts_policy *p);
 *     mtasts_status mtasts_policy_build(mtasts_policy *out, mtasts_mode mode,
 *                                       uint32_t max_age, const char *const *mx,
 *                                       const size_t *lens, size_t n,
 *                                       mtasts_err *err);
 * DESCRIPTION
 *     Pure functions: no I/O, no global state, nothing printed.
 *
 *     mtasts_policy_parse() parses the body fetched from
 *     https://mta-sts.<domain>/.well-known/mta-sts.txt. *out is written
 *     unconditionally (so free a previous policy first); on MTASTS_OK it
 *     owns memory that mtasts_policy_free() releases, on any other status
 *     it is empty (mx NULL) and need not be freed. Returns MTASTS_OK,
 *     MTASTS_INVALID (err: "line N: <field>: <reason>" or "policy: ..."),
 *     or MTASTS_SYSERR (out of memory).
 *
 *     mtasts_policy_copy() makes a deep copy (dst as for parse).
 *
 *     mtasts_policy_free() releases the patterns and resets *p to an empty
 *     policy; it is idempotent and accepts NULL.
 *
 *     Layout: mx is a single allocation holding the n_mx pointers followed
 *     by the NUL-terminated patterns, so one free() releases everything
 *     and a copy is one malloc + pointer fix-up. Patterns are stored
 *     lower-case, without a trailing dot, as "name" or "*.suffix", using
 *     only [a-z0-9.-] after the optional "*.": mx_match.h relies on this.
 *
 * GRAMMAR (RFC 8461 3.2, RFC 7405: %s"" is case-sensitive)
 *     sts-policy-record    = sts-policy-field *WSP
 *                            *(sts-policy-term sts-policy-field *WSP)
 *                            [sts-policy-term]
 *     sts-policy-term      = LF / CRLF
 *     sts-policy-field-delim = ":" *WSP
 *     version: %s"STSv1"    mode: %s"testing" / %s"enforce" / %s"none"
 *     max_age: 1*10(DIGIT)  mx: ["*."] Domain   (Domain: RFC 5321 4.1.2)
 *     sts-policy-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *     sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar)
 *                            sts-policy-vchar]
 *     sts-policy-vchar     = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
 *
 * DECISIONS (where the RFC is silent, ambiguous or the ABNF is strict)
 *     - Field order is free; version need not come first (the ABNF allows
 *       any order). version, mode and max_age are required ("If any field
 *       is not specified, the policy SHALL be treated as invalid").
 *     - Duplicated version/mode/max_age: the first wins, later ones are
 *       ignored (3.2: "all entries except for the first SHALL be
 *       ignored") but must still be well-formed fields. A first value that
 *       is invalid makes the policy invalid, whatever follows.
 *     - Keys are case-sensitive: "Mode: enforce" is an unknown extension
 *       field (ignored), so the policy then lacks its mode.
 *     - mode "none" needs no mx (8.3: removing MTA-STS); enforce and
 *       testing need at least one. mx lines under "none" are still checked.
 *     - max_age: 1-10 digits (the ABNF), leading zeros allowed; values
 *       above MTASTS_MAX_AGE_CAP are capped to it. The text says "maximum
 *       value of 31557600", which 10 digits exceed; erratum 7282 (status
 *       Reported) proposes 1*8DIGIT instead. Capping honours both without
 *       turning a long-lived policy into no policy. 0 is kept.
 *     - mx: RFC 5321 LDH labels of 1-63 characters, at most 253
 *       characters in all; matched case-insensitively so stored lower-case;
 *       one trailing dot (absolute name) is accepted and removed. "*"
 *       only as the whole left-most label. IDNs must be A-labels (3.2).
 *     - Liberal beyond the ABNF, because rejecting a policy means "no
 *       policy" (fail-open) while these forms have one obvious meaning:
 *       blank lines (empty or only WSP) are ignored; WSP at the start of a
 *       line and before the ":" is ignored; trailing WSP is trimmed.
 *     - Fields not defined (any name but version, mode, max_age, mx, the
 *       keys being case-sensitive) are ignored whatever their value holds
 *       (3.2: "SHALL be ignored"): HTAB, control characters, ill-formed
 *       UTF-8, any length. Their name must still be an
 *       sts-policy-ext-name, or the line is no field.
 *     - Strict: a line without ":" is an error; in a known field a CR not
 *       followed by LF, a NUL or another control character (HTAB apart) is
 *       an error, and so is non-ASCII; a repeated version/mode/max_age
 *       (ignored) must still be a well-formed extension field.
 *     - Limits: the body is at most MTASTS_POLICY_MAX_BYTES (common.h), the
 *       only limit on lines and mx lines; a repeated mx pattern is stored
 *       once, and more than MTASTS_POLICY_MX_MAX different ones make the
 *       policy invalid. Memory is bounded by the body's size.
 * .fi
 */
#ifndef MTASTS_POLICY_H
#define MTASTS_POLICY_H

#include "common.h"

/* Different mx patterns kept (repeats are stored once, so any number of
 * mx lines fits the body's limit). Real policies list a handful; 255 is
 * what a stored record holds (record.h: a one-byte count), and bounds the
 * per-delivery matching loop and the Exim host list (255 * ~510 bytes at
 * worst, see answer.h). */
#define MTASTS_POLICY_MX_MAX 255

typedef struct mtasts_policy {
    mtasts_mode mode;
    uint32_t max_age;   /* seconds, <= MTASTS_MAX_AGE_CAP */
    size_t n_mx;        /* number of patterns (0 allowed for mode none) */
    char **mx;          /* n_mx patterns; one block, see above; or NULL */
} mtasts_policy;

mtasts_status mtasts_policy_parse(const char *buf, size_t len,
                                  mtasts_policy *out, mtasts_err *err);
mtasts_status mtasts_policy_copy(mtasts_policy *dst, const mtasts_policy *src,
                                 mtasts_err *err);
void mtasts_policy_free(mtasts_policy *p);
/* Build a policy from its parts (the store's record decoder): each mx[i]
 * (lens[i] bytes) must pass the parser's mx rule; stored as the parser
 * stores it. MTASTS_OK, MTASTS_INVALID or MTASTS_SYSERR; *out as for parse. */
mtasts_status mtasts_policy_build(mtasts_policy *out, mtasts_mode mode, uint32_t max_age,
                                  const char *const *mx, const size_t *lens, size_t n,
                                  mtasts_err *err);
/* The same for a preload list entry (preload.h): also accepts ".suffix",
 * the STARTTLS-Everywhere list's pattern kind, stored as ".suffix" and
 * matched by mx_match.h as any name below suffix, at any depth. A fetched
 * policy never holds one: only the preload decoder calls this. */
mtasts_status mtasts_policy_build_preload(mtasts_policy *out, mtasts_mode mode,
                                          uint32_t max_age, const char *const *mx,
                                          const size_t *lens, size_t n, mtasts_err *err);

#endif
