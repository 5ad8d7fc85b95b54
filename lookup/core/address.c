/*
 * address.c - public and non-public IP addresses (address.h). The policy
 * host's name is the recipient domain's to choose: without this check a
 * mail domain could make the helper connect to the sender's own loopback
 * or internal network (server-side request forgery).
 */
#include "address.h"

#include <arpa/inet.h>
#include <string.h>

static bool in4(const unsigned char *a, unsigned a0, unsigned a1, unsigned a2,
                unsigned bits)
{
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    uint32_t net = (uint32_t)a0 << 24 | (uint32_t)a1 << 16 | (uint32_t)a2 << 8;
    uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;

    return (v & mask) == (net & mask);
}

static bool public4(const unsigned char *a)
{
    return !(in4(a, 0, 0, 0, 8)            /* "this network" */
             || in4(a, 10, 0, 0, 8)        /* RFC 1918 */
             || in4(a, 100, 64, 0, 10)     /* shared address space (CGN) */
             || in4(a, 127, 0, 0, 8)       /* loopback */
             || in4(a, 169, 254, 0, 16)    /* link-local */
             || in4(a, 172, 16, 0, 12)     /* RFC 1918 */
             || in4(a, 192, 0, 0, 24)      /* IETF protocol assignments */
             || in4(a, 192, 0, 2, 24)      /* TEST-NET-1 */
             || in4(a, 192, 168, 0, 16)    /* RFC 1918 */
             || in4(a, 198, 18, 0, 15)     /* benchmarking */
             || in4(a, 198, 51, 100, 24)   /* TEST-NET-2 */
             || in4(a, 203, 0, 113, 24)    /* TEST-NET-3 */
             || in4(a, 224, 0, 0, 3));     /* multicast, reserved, broadcast */
}

static bool public6(const unsigned char *a)
{
    static const unsigned char zero[12];
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
    static const unsigned char discard[8] = { 0x01, 0x00 };

    /* ::/96 (unspecified, loopback, IPv4-compatible), mapped, NAT64. */
    if (!memcmp(a, zero, 12) || !memcmp(a, mapped, 12) || !memcmp(a, nat64, 12))
        return public4(a + 12);
    return !((a[0] & 0xfe) == 0xfc                       /* ULA fc00::/7 */
             || (a[0] == 0xfe && (a[1] & 0x80) == 0x80)  /* fe80::/10, fec0::/10 */
             || a[0] == 0xff                             /* multicast */
             || (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* doc */
             || !memcmp(a, discard, 8));                 /* 100::/64 */
}

bool mtasts_address_public(const char *text)
{
    unsigned char a[16];

    if (!text)
        return false;
    if (inet_pton(AF_INET, text, a) == 1)
        return public4(a);
    if (inet_pton(AF_INET6, text, a) == 1)
        return public6(a);
    return false;
}
