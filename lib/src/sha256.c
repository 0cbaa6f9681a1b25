/* sha256.c — SHA-256 (FIPS 180-4) for source provenance and the library content checksum. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "sm_internal.h"

#if defined(SM_HAVE_SHANI)
#include <cpuid.h>
#include <pthread.h>
#endif

/* FIPS 180-4 section 4.2.2: first 32 bits of the fractional parts of the cube roots
 * of the first 64 primes. */
static const uint32_t k_round[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u,
    0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u,
    0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au,
    0x5b9cca4fu, 0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static inline uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

/* One 64-byte block (FIPS 180-4 section 6.2.2). */
static void compress(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (unsigned t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (unsigned t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (unsigned t = 0; t < 64; t++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      k_round[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

/* Whole blocks: with the SHA extensions when the CPU has them (about 8x faster,
 * which is most of the time it takes to open a large library), else portable C. */
#if defined(SM_HAVE_SHANI)
static bool use_shani;
static pthread_once_t shani_once = PTHREAD_ONCE_INIT;

static void detect_shani(void)
{
    unsigned a, b, c, d;
    /* CPUID leaf 7, EBX bit 29: SHA; the SSE4.1 and SSSE3 the code also uses come
     * with every CPU that has it. */
    use_shani = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
                __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
    const char *env = getenv("SPECMATCH_SHA256");
    if (env && strcmp(env, "portable") == 0)
        use_shani = false;
}
#endif

static void compress_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
#if defined(SM_HAVE_SHANI)
    pthread_once(&shani_once, detect_shani);
    if (use_shani) {
        sm_sha256_blocks_shani_(h, p, nblocks, k_round);
        return;
    }
#endif
    for (size_t i = 0; i < nblocks; i++)
        compress(h, p + 64 * i);
}

const char *sm_sha256_impl_(void)
{
#if defined(SM_HAVE_SHANI)
    pthread_once(&shani_once, detect_shani);
    if (use_shani)
        return "sha-ni";
#endif
    return "portable";
}

void sm_sha256_init_(sm_sha256 *c)
{
    /* FIPS 180-4 section 5.3.3. */
    static const uint32_t h0[8] = {
        0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
        0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
    };
    memcpy(c->h, h0, sizeof h0);
    c->nbytes = 0;
    c->nbuf = 0;
}

void sm_sha256_update_(sm_sha256 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->nbytes += n;
    if (c->nbuf > 0) {
        size_t take = 64 - c->nbuf;
        if (take > n)
            take = n;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        n -= take;
        if (c->nbuf < 64)
            return;
        compress_blocks(c->h, c->buf, 1);
        c->nbuf = 0;
    }
    /* Whole blocks straight from the caller's buffer: no copy. */
    if (n >= 64) {
        compress_blocks(c->h, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    if (n > 0) {
        memcpy(c->buf, p, n);
        c->nbuf = n;
    }
}

void sm_sha256_final_(sm_sha256 *c, uint8_t out[32])
{
    uint64_t bits = c->nbytes * 8u;
    /* Padding (section 5.1.1): 0x80, zeros up to 56 mod 64, then the bit length. */
    c->buf[c->nbuf++] = 0x80;
    if (c->nbuf > 56) {
        memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
        compress(c->h, c->buf);
        c->nbuf = 0;
    }
    memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
    for (unsigned i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(c->h, c->buf);

    for (unsigned i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
    /* Leave no message-derived state behind in the caller's context. */
    memset(c, 0, sizeof *c);
}

void sm_hex_(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

sm_status sm_sha256_file(const char *path, char hex[65], sm_error *err)
{
    sm_status st = SM_OK;
    FILE *fp = NULL;
    sm_sha256 ctx;
    uint8_t digest[32];

    if (path == NULL || hex == NULL)
        return sm_seterr_(err, SM_ERR_ARG, path, 0, "sm_sha256_file: NULL argument");
    /* A checksum of standard input could not be reproduced later: provenance needs a file. */
    if (strcmp(path, "-") == 0)
        return sm_seterr_(err, SM_ERR_ARG, path, 0,
                          "cannot checksum standard input: give a file name");

    fp = fopen(path, "rb");
    if (fp == NULL) {
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }

    sm_sha256_init_(&ctx);
    uint8_t buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0)
        sm_sha256_update_(&ctx, buf, got);
    if (ferror(fp)) {
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    sm_sha256_final_(&ctx, digest);
    sm_hex_(digest, sizeof digest, hex);

out:
    if (fp != NULL)
        fclose(fp);
    return st;
}
