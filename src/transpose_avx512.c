/*
 * transpose_avx512.c -- transposes of 1-, 4- and 8-byte items in tiles of
 * whole cache lines, with AVX-512BW.
 *
 * The library is compiled for baseline x86-64; these functions are compiled
 * for AVX-512BW with a target attribute and run only after
 * xbuf_avx512bw_usable() has asked the CPU (and the OS, which must save the
 * 512-bit registers).  Other machines keep the SSE2 tiles of copy_kernels.c.
 *
 * Why: the SSE2 byte tiles were bound by arithmetic (a 16x16 block is 64
 * shuffles for 256 bytes, with half its registers spilled), and every
 * staged tile waits for its source lines before it can start.  Here a tile
 * is 64 / itemsize source row segments of one line each: every line is
 * loaded once, whole, straight into a register; the shuffles work on 64
 * bytes at a time (the byte tile runs four 16x16 transposes side by side,
 * one per 128-bit lane); and the tile leaves as whole destination lines,
 * which streaming stores write without reading them first.  Copying the
 * source lines into a packed buffer first (as the SSE2 path does) measured
 * slower here: 1.7 against 1.2 ms for a 4096^2 byte transpose in one run.
 */
#include "copy_internal.h"

#if XBUF_HAVE_AVX512_KERNELS

#include <immintrin.h>
#include <stdint.h>

#define AVX512BW __attribute__((target("avx512f,avx512bw")))

bool xbuf_avx512bw_usable(void)
{
    /* GCC's and Clang's checks include the OS's XSAVE support (XCR0). */
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

/* Sixteen 16x16 byte transposes in place, one per 128-bit lane position:
 * on entry lane g of r[i] holds row i of block g, on return lane g of r[j]
 * holds row j of block g transposed.  Four rounds of interleaving, each
 * doubling the width of the units already in transposed order. */
AVX512BW static inline __attribute__((always_inline)) void transpose_lanes(__m512i r[16])
{
    __m512i a[16], b[16];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        a[k] = _mm512_unpacklo_epi8(r[2 * k], r[2 * k + 1]);
        a[k + 8] = _mm512_unpackhi_epi8(r[2 * k], r[2 * k + 1]);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            b[8 * h + k] = _mm512_unpacklo_epi16(a[8 * h + 2 * k], a[8 * h + 2 * k + 1]);
            b[8 * h + k + 4] = _mm512_unpackhi_epi16(a[8 * h + 2 * k], a[8 * h + 2 * k + 1]);
        }
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        const __m512i *q = &b[4 * g];
        __m512i top01 = _mm512_unpacklo_epi32(q[0], q[1]);
        __m512i top23 = _mm512_unpackhi_epi32(q[0], q[1]);
        __m512i bot01 = _mm512_unpacklo_epi32(q[2], q[3]);
        __m512i bot23 = _mm512_unpackhi_epi32(q[2], q[3]);
        r[4 * g] = _mm512_unpacklo_epi64(top01, bot01);
        r[4 * g + 1] = _mm512_unpackhi_epi64(top01, bot01);
        r[4 * g + 2] = _mm512_unpacklo_epi64(top23, bot23);
        r[4 * g + 3] = _mm512_unpackhi_epi64(top23, bot23);
    }
}

/* A 4x4 transpose of 128-bit lanes: lane k of x[l] becomes lane l of x[k]. */
AVX512BW static inline __attribute__((always_inline)) void transpose_lanes_4x4(__m512i x[4])
{
    __m512i v0 = _mm512_shuffle_i64x2(x[0], x[1], 0x44); /* x0.0 x0.1 x1.0 x1.1 */
    __m512i v1 = _mm512_shuffle_i64x2(x[0], x[1], 0xEE); /* x0.2 x0.3 x1.2 x1.3 */
    __m512i v2 = _mm512_shuffle_i64x2(x[2], x[3], 0x44);
    __m512i v3 = _mm512_shuffle_i64x2(x[2], x[3], 0xEE);
    x[0] = _mm512_shuffle_i64x2(v0, v2, 0x88); /* lanes 0 of x0..x3 */
    x[1] = _mm512_shuffle_i64x2(v0, v2, 0xDD); /* lanes 1 */
    x[2] = _mm512_shuffle_i64x2(v1, v3, 0x88); /* lanes 2 */
    x[3] = _mm512_shuffle_i64x2(v1, v3, 0xDD); /* lanes 3 */
}

AVX512BW static inline __attribute__((always_inline)) void store_line(char *p, __m512i v,
                                                                      bool streaming)
{
    if (streaming)
        _mm512_stream_si512((__m512i *)p, v);
    else
        _mm512_storeu_si512(p, v);
}

/* One 64x64 tile: source row segments s + i*ss (64 bytes each) become
 * destination row segments d + j*ds.  Four passes of 16 source rows; each
 * pass fills one 16-byte column of the packed `out` (L1-resident), which
 * then leaves in whole lines. */
AVX512BW static void transpose_tile_64x64_bytes(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                       bool streaming)
{
    _Alignas(64) char out[64 * 64];
#pragma GCC unroll 1
    for (int p = 0; p < 4; p++) {
        __m512i r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = _mm512_loadu_si512(s + (16 * p + i) * ss);
        transpose_lanes(r);
        /* lane g of r[j] is destination row 16g + j, bytes 16p..16p+15 */
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            char *col = out + j * 64 + 16 * p;
            _mm_store_si128((__m128i *)col, _mm512_castsi512_si128(r[j]));
            _mm_store_si128((__m128i *)(col + 16 * 64), _mm512_extracti32x4_epi32(r[j], 1));
            _mm_store_si128((__m128i *)(col + 32 * 64), _mm512_extracti32x4_epi32(r[j], 2));
            _mm_store_si128((__m128i *)(col + 48 * 64), _mm512_extracti32x4_epi32(r[j], 3));
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < 64; j++)
        store_line(d + j * ds, _mm512_load_si512(out + j * 64), streaming);
}

/* One 16x16 tile of 4-byte items, 16 source lines to 16 destination lines.
 * Per lane, 4x4 transposes of rows 4k..4k+3 (two rounds of interleaving)
 * leave u[k][m] lane l = column 4l + m of those rows; destination row
 * 4l + m gathers lane l of u[0..3][m]: a transpose of lanes. */
AVX512BW static void transpose_tile_16x16_words(char *d, ptrdiff_t ds, const char *s,
                                                ptrdiff_t ss, bool streaming)
{
    __m512i u[4][4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512i r0 = _mm512_loadu_si512(s + (4 * k) * ss);
        __m512i r1 = _mm512_loadu_si512(s + (4 * k + 1) * ss);
        __m512i r2 = _mm512_loadu_si512(s + (4 * k + 2) * ss);
        __m512i r3 = _mm512_loadu_si512(s + (4 * k + 3) * ss);
        __m512i t0 = _mm512_unpacklo_epi32(r0, r1), t1 = _mm512_unpacklo_epi32(r2, r3);
        __m512i t2 = _mm512_unpackhi_epi32(r0, r1), t3 = _mm512_unpackhi_epi32(r2, r3);
        u[0][k] = _mm512_unpacklo_epi64(t0, t1);
        u[1][k] = _mm512_unpackhi_epi64(t0, t1);
        u[2][k] = _mm512_unpacklo_epi64(t2, t3);
        u[3][k] = _mm512_unpackhi_epi64(t2, t3);
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
        transpose_lanes_4x4(u[m]);
#pragma GCC unroll 4
        for (int l = 0; l < 4; l++)
            store_line(d + (4 * l + m) * ds, u[m][l], streaming);
    }
}

/* One 8x8 tile of 8-byte items: interleaving rows 2k and 2k+1 leaves the
 * even and odd columns of that pair, lane l holding columns 2l and 2l+1;
 * a transpose of lanes gathers each destination row. */
AVX512BW static void transpose_tile_8x8_quads(char *d, ptrdiff_t ds, const char *s,
                                              ptrdiff_t ss, bool streaming)
{
    __m512i even[4], odd[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512i r0 = _mm512_loadu_si512(s + (2 * k) * ss);
        __m512i r1 = _mm512_loadu_si512(s + (2 * k + 1) * ss);
        even[k] = _mm512_unpacklo_epi64(r0, r1);
        odd[k] = _mm512_unpackhi_epi64(r0, r1);
    }
    transpose_lanes_4x4(even);
    transpose_lanes_4x4(odd);
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
        store_line(d + (2 * l) * ds, even[l], streaming);
        store_line(d + (2 * l + 1) * ds, odd[l], streaming);
    }
}

/* One tile of `itemsize`-byte items, 64 / itemsize square. */
AVX512BW static inline __attribute__((always_inline)) void transpose_tile(
    char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t itemsize, bool streaming)
{
    if (itemsize == 1)
        transpose_tile_64x64_bytes(d, ds, s, ss, streaming);
    else if (itemsize == 4)
        transpose_tile_16x16_words(d, ds, s, ss, streaming);
    else
        transpose_tile_8x8_quads(d, ds, s, ss, streaming);
}

/* Tiles are walked in blocks of BLOCK_COLS source rows by BLOCK_ROWS items
 * along them (destination rows).  Inside a block, each group of source rows
 * is read along its BLOCK_ROWS items (1 to 8 consecutive lines per row,
 * which the prefetcher follows) while the block's destination rows advance
 * one line each.  On 4096^2 and 8192^2 arrays of 1-, 4- and 8-byte items
 * this measured best of the orders tried: tiles along destination rows
 * (0.37, 0.45, 0.31 of memcpy at 4096^2), along source rows (0.31, 0.43,
 * 0.47) and other block sizes; see docs/performance.md. */
enum { BLOCK_ROWS = 64, BLOCK_COLS = 512 };

AVX512BW void xbuf_transpose_avx512(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                    ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize,
                                    bool streaming)
{
    ptrdiff_t edge = 64 / itemsize;
    for (ptrdiff_t c0 = 0; c0 < cols; c0 += BLOCK_COLS) {
        ptrdiff_t c1 = cols - c0 < BLOCK_COLS ? cols : c0 + BLOCK_COLS;
        for (ptrdiff_t r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
            ptrdiff_t r1 = rows - r0 < BLOCK_ROWS ? rows : r0 + BLOCK_ROWS;
            for (ptrdiff_t c = c0; c < c1; c += edge)
                for (ptrdiff_t r = r0; r < r1; r += edge)
                    transpose_tile(d + r * ds + c * itemsize, ds, s + c * ss + r * itemsize, ss,
                                   itemsize, streaming);
        }
    }
    if (streaming)
        _mm_sfence(); /* streaming stores are weakly ordered */
}

#endif /* XBUF_HAVE_AVX512_KERNELS */
