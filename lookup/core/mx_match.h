/*
 * mx_match.h - MX host validation against a policy (RFC 8461 section 4.1).
 *
 * .nf
 * SYNOPSIS
 *     #include "mx_match.h"
 *
 *     void mtasts_host_normalize(char *host);
 *     bool mtasts_mx_pattern_match(const char *host, const char *pattern);
 *     int mtasts_mx_match_policy(const mtasts_policy *p, const char *host);
 *     size_t mtasts_mx_exim_regexes_size(const mtasts_policy *p);
 *     mtasts_status mtasts_mx_exim_regexes(const mtasts_policy *p,
 *                                          char *buf, size_t buflen);
 * DESCRIPTION
 *     Pure functions: no I/O, no global state, nothing printed.
 *
 *     4.1: "the wildcard character "*" may only be used to match the
 *     entire left-most label in the presented identifier. Thus the mx
 *     pattern "*.example.com" matches "mail.example.com" but not
 *     "example.com" or "foo.bar.example.com"". Patterns and host names
 *     are A-labels (3.2); converting a U-label MX name is the caller's job.
 *
 *     mtasts_host_normalize() lower-cases ASCII letters in place and
 *     removes one trailing dot.
 *
 *     mtasts_mx_pattern_match() is the matching rule itself. Input
 *     contract: both strings are normalised (lower-case ASCII, no trailing
 *     dot) A-labels, the pattern as stored by mtasts_policy_parse(). An
 *     exact pattern matches the identical name; "*.suffix" matches
 *     "label.suffix" for exactly one non-empty label, never "suffix" itself
 *     nor a deeper name. ".suffix" (only in preload entries, policy.h: the
 *     STARTTLS-Everywhere list's own meaning) matches any name ending in
 *     ".suffix", at any depth, never "suffix" itself; as a regex it is
 *     ^.+[.]suffix$.
 *
 *     mtasts_mx_match_policy() returns the index of the first pattern of p
 *     that host matches, or -1. It normalises a copy of host and returns
 *     -1 for a host that is not a plausible host name: empty, longer than
 *     253 characters, an empty label, or a character other than letters,
 *     digits, "-" and "." (so "*" or "_" in an MX name never fills the
 *     wildcard label).
 *
 *     mtasts_mx_exim_regexes() writes p's patterns as an Exim host list of
 *     anchored regular expressions, one per pattern, separated by " : ",
 *     e.g.  ^mx1[.]example[.]com$ : ^[^.]+[.]example[.]net$
 *     Dots are bracketed and the wildcard label is [^.]+ (Exim's own
 *     "*.suffix" host-list item matches any depth, which is wrong here).
 *     Exim matches "^" host-list items caselessly against the MX name.
 *     A policy without patterns gives "". Returns MTASTS_OK, or
 *     MTASTS_INVALID if buf is too small (buf is then "" when buflen > 0)
 *     or a pattern holds anything but [A-Za-z0-9.-] after an optional
 *     "*." (so no Exim list separator ":" can ever appear).
 *     mtasts_mx_exim_regexes_size() gives the buffer size needed,
 *     terminating NUL included, or 0 for such an invalid pattern.
 *
 * EXIM QUOTING
 *     The text is raw PCRE holding "$" but no backslash (a dot is written
 *     "[.]"), so ${extract} of a quoted value returns it unchanged. Returned
 *     as the value of an expansion item (${lookup mtasts...}, ${dlfunc...})
 *     it is not expanded again and may be used as is, e.g. in
 *     ignore_target_hosts. Placed by hand inside configuration that Exim
 *     expands, it must be protected as \N...\N.
 * .fi
 */
#ifndef MTASTS_MX_MATCH_H
#define MTASTS_MX_MATCH_H

#include "policy.h"

void mtasts_host_normalize(char *host);
bool mtasts_mx_pattern_match(const char *host, const char *pattern);
int mtasts_mx_match_policy(const mtasts_policy *p, const char *host);
size_t mtasts_mx_exim_regexes_size(const mtasts_policy *p);
mtasts_status mtasts_mx_exim_regexes(const mtasts_policy *p, char *buf,
                                     size_t buflen);

#endif
