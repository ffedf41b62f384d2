/*
 * fuzz_common.h -- what the fuzz targets share: reading structured values
 * out of libFuzzer's bytes, and the check that turns a broken promise into
 * a finding.
 *
 * The readers never fail: past the end of the input they return zeros, so
 * a short input is a valid (small) case rather than a rejected one, and
 * every mutation of the bytes still decodes to something.
 */
#ifndef XBUF_FUZZ_COMMON_H
#define XBUF_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_NAME
#  define FUZZ_NAME "fuzz"
#endif

/* A broken promise: say which, and abort so that libFuzzer keeps the input. */
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, FUZZ_NAME ": check failed at %s:%d: %s\n", __FILE__,         \
                    __LINE__, #cond);                                                    \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* The same, with the return code and message of the call that broke it. */
#define CHECK_RC(cond, rc, err)                                                          \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, FUZZ_NAME ": check failed at %s:%d: %s (rc %d: %s)\n",       \
                    __FILE__, __LINE__, #cond, (int)(rc), (err).message);                \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* With -DFUZZ_TRACE (fuzz/pick_seeds.py builds so) a target names what an
 * input exercised, one "@tag NAME" line per event on stdout, so that seeds
 * can be picked by scenario.  Compiled out otherwise. */
#ifdef FUZZ_TRACE
#  define TRACE(...) (printf("@tag "), printf(__VA_ARGS__), printf("\n"))
#else
#  define TRACE(...) ((void)0)
#endif

typedef struct fuzz_input {
    const uint8_t *p;
    size_t n;
} fuzz_input;

static inline uint8_t take_u8(fuzz_input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t take_u16(fuzz_input *in)
{
    uint16_t lo = take_u8(in);
    return (uint16_t)(lo | (uint16_t)take_u8(in) << 8);
}

static inline uint32_t take_u32(fuzz_input *in)
{
    uint32_t lo = take_u16(in);
    return lo | (uint32_t)take_u16(in) << 16;
}

static inline uint64_t take_u64(fuzz_input *in)
{
    uint64_t lo = take_u32(in);
    return lo | (uint64_t)take_u32(in) << 32;
}

static inline bool take_bool(fuzz_input *in)
{
    return take_u8(in) & 1;
}

/* Up to n bytes into dst, zeros for the rest; how many came from the input. */
static inline size_t take_bytes(fuzz_input *in, void *dst, size_t n)
{
    size_t k = n < in->n ? n : in->n;
    if (k > 0)
        memcpy(dst, in->p, k);
    memset((unsigned char *)dst + k, 0, n - k);
    in->p += k;
    in->n -= k;
    return k;
}

/* An element of a static array, chosen by the input. */
#define TAKE_ONE(in, array) ((array)[take_index((in), sizeof(array) / sizeof *(array))])

/* One of `count` things (count > 0). */
static inline size_t take_index(fuzz_input *in, size_t count)
{
    return take_u8(in) % count;
}

/* A cheap generator seeded from the input, for bulk bytes (memory contents,
 * pointer tables) that would otherwise eat the input the operations need. */
static inline uint64_t prng_next(uint64_t *state)
{
    uint64_t x = *state += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* 128-bit arithmetic for the models: products and sums of ptrdiff_t
 * values that cannot overflow it (GCC and Clang both have it). */
__extension__ typedef __int128 fuzz_i128;

static inline void *xmalloc(size_t size)
{
    void *p = malloc(size > 0 ? size : 1);
    CHECK(p != NULL);
    return p;
}

#endif /* XBUF_FUZZ_COMMON_H */
