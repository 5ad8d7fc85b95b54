/*
 * address.h - may the policy fetch connect to this address?
 *
 * mtasts_address_public() takes an IPv4 or IPv6 address in text form and
 * says whether it is a public unicast address. Not public (so refused for
 * the policy host unless allow_private_policy_host is set): unspecified,
 * loopback, private (RFC 1918, IPv6 ULA fc00::/7), shared (100.64/10),
 * link-local (169.254/16, fe80::/10), site-local (fec0::/10), multicast,
 * broadcast and reserved (0/8, 240/4), documentation and benchmarking
 * ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 198.18/15, 2001:db8::/32),
 * IETF protocol assignments (192.0.0/24), discard-only (100::/64), and an
 * IPv4 address inside IPv6 (mapped ::ffff:0:0/96, compatible ::/96, NAT64
 * 64:ff9b::/96) is judged as that IPv4 address. Text that is not an
 * address is not public. Pure: no I/O.
 */
#ifndef MTASTS_ADDRESS_H
#define MTASTS_ADDRESS_H

#include "common.h"

bool mtasts_address_public(const char *text);

#endif
