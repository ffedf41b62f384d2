/*
 * copy_kernels_wide.c -- kernels for x86-64 vector units wider than the
 * baseline: AVX-512 (F, BW, VBMI) transposes of 1-, 4- and 8-byte items,
 * and AVX2 copies of packed runs.
 *
 * The library is compiled for baseline x86-64; these functions are compiled
 * for their unit with a target attribute and run only after
 * xbuf_avx512_usable() / xbuf_avx2_usable() has asked the CPU (and the OS,
 * which must save the wide registers).  Other machines keep the SSE2
 * kernels of copy_kernels.c.
 *
 * Transposes.  The SSE2 byte tiles were bound by arithmetic (a 16x16 block
 * is 64 shuffles for 256 bytes, with half its registers spilled), and every
 * staged tile waits for its source lines before it can start.  Here a tile
 * is 64 / itemsize source row segments of one line each: every line is
 * loaded once, whole, straight into a register; the shuffles work on 64
 * bytes at a time; and the tile leaves as whole destination lines, which
 * streaming stores write without reading them first.  What was measured on
 * the way (4096^2 bytes, ms, in one run each):
 *   - source lines copied to a packed buffer first: 1.7 against 1.2;
 *   - four 16x16 byte transposes side by side in the 128-bit lanes, their
 *     16-byte pieces gathered in a buffer: 1.0 (320 stores a tile);
 *   - units of 8 bytes transposed, then each 8x8 block by one byte
 *     permutation (VBMI), below: 0.85 (128 stores a tile), within 10 % of
 *     the same walk that only loads and stores the lines (0.77-0.80).
 *
 * Packed runs.  Copies made of many runs (PIL rows, slices of rows) call
 * the run copy once per row: see copy_run in copy_kernels.c for why not
 * memcpy.  32-byte moves beat its 16-byte ones by ~10 %; 64-byte moves
 * measured slower than either (16 MiB of 4 KiB rows: 0.81-0.85x one
 * memcpy of the whole, against 1.04-1.10x).
 */
#include "copy_internal.h"

#if XBUF_HAVE_WIDE_KERNELS

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi")))
#define AVX2 __attribute__((target("avx2")))

enum { NO_AVX512 = 1, NO_AVX2 = 2 };

/* Whether the comma-separated `list` holds `word`. */
static bool list_has(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

/* The features XBUF_DISABLE_CPU_FEATURES names ("avx512", "avx2"), read
 * once: the tests run the baseline kernels on machines that have the wide
 * ones, as NumPy's NPY_DISABLE_CPU_FEATURES does.  Threads that race here
 * all compute and store the same value. */
static int disabled_features(void)
{
    static int cached = -1;
    int features = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (features < 0) {
        const char *list = getenv("XBUF_DISABLE_CPU_FEATURES");
        features = 0;
        if (list != NULL && list_has(list, "avx512"))
            features |= NO_AVX512;
        if (list != NULL && list_has(list, "avx2"))
            features |= NO_AVX2;
        __atomic_store_n(&cached, features, __ATOMIC_RELAXED);
    }
    return features;
}

/* GCC's and Clang's checks include the OS's XSAVE support (XCR0). */
bool xbuf_avx512_usable(void)
{
    return !(disabled_features() & NO_AVX512) && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
}

bool xbuf_avx2_usable(void)
{
    return !(disabled_features() & NO_AVX2) && __builtin_cpu_supports("avx2");
}

/* ---- packed runs --------------------------------------------------------- */

AVX2 void xbuf_copy_run_avx2(char *d, const char *s, ptrdiff_t bytes)
{
    ptrdiff_t i = 0;
    for (; i + 128 <= bytes; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(s + i + 96));
        _mm256_storeu_si256((__m256i *)(d + i), a);
        _mm256_storeu_si256((__m256i *)(d + i + 32), b);
        _mm256_storeu_si256((__m256i *)(d + i + 64), c);
        _mm256_storeu_si256((__m256i *)(d + i + 96), e);
    }
    for (; i + 32 <= bytes; i += 32)
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_loadu_si256((const __m256i *)(s + i)));
    memcpy(d + i, s + i, (size_t)(bytes - i));
}

/* ---- transposes ---------------------------------------------------------- */

/* A 4x4 transpose of 128-bit lanes: lane k of x[l] becomes lane l of x[k]. */
AVX512 static inline __attribute__((always_inline)) void transpose_lanes_4x4(__m512i x[4])
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

AVX512 static inline __attribute__((always_inline)) void store_line(char *p, __m512i v,
                                                                      bool streaming)
{
    if (streaming)
        _mm512_stream_si512((__m512i *)p, v);
    else
        _mm512_storeu_si512(p, v);
}

/* Where a tile's source row segments are: `pitch` bytes apart from `base`,
 * or listed in `table` (the seams between destination rows).  `next`, if
 * not NULL, is where the next tile's rows start, `pitch` apart: the byte
 * and 8-byte tiles ask for them once their own loads are done (the next
 * tile's lines are in other pages, where the hardware prefetcher does not
 * go; under load from other cores this took byte transposes from
 * 0.27-0.36 to 0.32-0.38 of memcpy, 8-byte ones from 0.71-0.87 to
 * 0.85-0.89; the 4-byte tile measured slower with it). */
typedef struct tile_rows {
    const char *base;
    ptrdiff_t pitch;
    const char *const *table;
    const char *next;
} tile_rows;

/* Ask for next tile's rows [first, first + count). */
AVX512 static inline __attribute__((always_inline)) void prefetch_rows(tile_rows src, int first,
                                                                      int count)
{
    if (src.next != NULL)
        for (int i = first; i < first + count; i++)
            _mm_prefetch(src.next + i * src.pitch, _MM_HINT_T0);
}

AVX512 static inline __attribute__((always_inline)) const char *tile_row(tile_rows src, int i)
{
    return src.table != NULL ? src.table[i] : src.base + i * src.pitch;
}

/* Eight rows of eight 8-byte units, r[0..7], to their transpose: out[i]
 * holds unit i of every row.  Interleaving rows 2k and 2k+1 leaves the
 * even and odd units of that pair, lane l holding units 2l and 2l+1; a
 * transpose of lanes gathers each output. */
AVX512 static inline __attribute__((always_inline)) void transpose_8x8_units(const __m512i r[8],
                                                                            __m512i out[8])
{
    __m512i even[4], odd[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        even[k] = _mm512_unpacklo_epi64(r[2 * k], r[2 * k + 1]);
        odd[k] = _mm512_unpackhi_epi64(r[2 * k], r[2 * k + 1]);
    }
    transpose_lanes_4x4(even);
    transpose_lanes_4x4(odd);
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
        out[2 * l] = even[l];
        out[2 * l + 1] = odd[l];
    }
}

/* One 64x64 tile of bytes as an 8x8 grid of 8x8 blocks: block (C, X) is
 * source rows 8C..8C+7, bytes 8X..8X+7, and lands transposed at destination
 * rows 8X..8X+7, bytes 8C..8C+7.  First, per group C of eight source rows,
 * a transpose of 8-byte units puts each block in one register (row j in
 * unit j) and one byte permutation transposes it; the 64 transposed blocks
 * wait in `blocks` (L1-resident, whole lines).  Then, per X, a transpose of
 * units assembles destination rows 8X..8X+7 from blocks (0..7, X), while
 * the next tile's lines are asked for. */
AVX512 static inline __attribute__((always_inline)) void transpose_tile_64x64_bytes(
    char *d, ptrdiff_t ds, tile_rows src, bool streaming)
{
    /* byte 8i + j of a transposed block is byte 8j + i of the block */
    const __m512i block_transpose = _mm512_set_epi8(
        63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21,
        13, 5, 60, 52, 44, 36, 28, 20, 12, 4, 59, 51, 43, 35, 27, 19, 11, 3, 58, 50, 42, 34, 26,
        18, 10, 2, 57, 49, 41, 33, 25, 17, 9, 1, 56, 48, 40, 32, 24, 16, 8, 0);
    __m512i blocks[64]; /* [X * 8 + C] */
#pragma GCC unroll 1
    for (int c = 0; c < 8; c++) {
        __m512i r[8], q[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            r[j] = _mm512_loadu_si512(tile_row(src, 8 * c + j));
        transpose_8x8_units(r, q);
#pragma GCC unroll 8
        for (int x = 0; x < 8; x++)
            blocks[x * 8 + c] = _mm512_permutexvar_epi8(block_transpose, q[x]);
    }
#pragma GCC unroll 1
    for (int x = 0; x < 8; x++) {
        __m512i rows[8];
        prefetch_rows(src, 8 * x, 8);
        transpose_8x8_units(&blocks[x * 8], rows);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            store_line(d + (8 * x + i) * ds, rows[i], streaming);
    }
}

/* One 16x16 tile of 4-byte items, 16 source lines to 16 destination lines.
 * Per lane, 4x4 transposes of rows 4k..4k+3 (two rounds of interleaving)
 * leave u[k][m] lane l = column 4l + m of those rows; destination row
 * 4l + m gathers lane l of u[0..3][m]: a transpose of lanes. */
AVX512 static inline __attribute__((always_inline)) void transpose_tile_16x16_words(
    char *d, ptrdiff_t ds, tile_rows src, bool streaming)
{
    __m512i u[4][4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512i r0 = _mm512_loadu_si512(tile_row(src, 4 * k));
        __m512i r1 = _mm512_loadu_si512(tile_row(src, 4 * k + 1));
        __m512i r2 = _mm512_loadu_si512(tile_row(src, 4 * k + 2));
        __m512i r3 = _mm512_loadu_si512(tile_row(src, 4 * k + 3));
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

/* One 8x8 tile of 8-byte items. */
AVX512 static inline __attribute__((always_inline)) void transpose_tile_8x8_quads(
    char *d, ptrdiff_t ds, tile_rows src, bool streaming)
{
    __m512i r[8], rows[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        r[j] = _mm512_loadu_si512(tile_row(src, j));
    prefetch_rows(src, 0, 8);
    transpose_8x8_units(r, rows);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        store_line(d + i * ds, rows[i], streaming);
}

/* One tile of `itemsize`-byte items, 64 / itemsize square. */
AVX512 static inline __attribute__((always_inline)) void transpose_tile(
    char *d, ptrdiff_t ds, tile_rows src, ptrdiff_t itemsize, bool streaming)
{
    if (itemsize == 1)
        transpose_tile_64x64_bytes(d, ds, src, streaming);
    else if (itemsize == 4)
        transpose_tile_16x16_words(d, ds, src, streaming);
    else
        transpose_tile_8x8_quads(d, ds, src, streaming);
}

/* The tile whose first destination item is row r, column c. */
AVX512 static void transpose_tile_at(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                     ptrdiff_t r, ptrdiff_t c, ptrdiff_t itemsize,
                                     bool streaming)
{
    tile_rows src = {s + c * ss + r * itemsize, ss, NULL, NULL};
    transpose_tile(d + r * ds + c * itemsize, ds, src, itemsize, streaming);
}

/* Tiles are walked in blocks of BLOCK_COLS source rows by BLOCK_ROWS items
 * along them (destination rows).  Inside a block, each group of source rows
 * is read along its BLOCK_ROWS items (1 to 8 consecutive lines per row,
 * which the prefetcher follows) while the block's destination rows advance
 * one line each.  On 4096^2 and 8192^2 arrays of 1-, 4- and 8-byte items
 * this measured best of the orders tried; walking whole destination rows
 * or whole source rows, or other block sizes, cost up to twice the time
 * (docs/performance.md). */
enum { BLOCK_ROWS = 64, BLOCK_COLS = 512 };

/* The body's tiles in the order they are done: blocks of BLOCK_COLS
 * source rows (c) by BLOCK_ROWS items (r); inside a block, c outer. */
typedef struct tile_walk {
    ptrdiff_t rows, cols, edge;
    ptrdiff_t r0, c0; /* the block */
    ptrdiff_t r, c;   /* the tile */
} tile_walk;

static bool tile_walk_advance(tile_walk *w)
{
    ptrdiff_t r1 = w->rows - w->r0 < BLOCK_ROWS ? w->rows : w->r0 + BLOCK_ROWS;
    ptrdiff_t c1 = w->cols - w->c0 < BLOCK_COLS ? w->cols : w->c0 + BLOCK_COLS;
    if ((w->r += w->edge) < r1)
        return true;
    w->r = w->r0;
    if ((w->c += w->edge) < c1)
        return true;
    if ((w->r0 += BLOCK_ROWS) < w->rows) {
        w->r = w->r0;
        w->c = w->c0;
        return true;
    }
    if ((w->c0 += BLOCK_COLS) < w->cols) {
        w->r0 = w->r = 0;
        w->c = w->c0;
        return true;
    }
    return false;
}

AVX512 static void transpose_body(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                  ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize,
                                  bool streaming)
{
    tile_walk tile = {rows, cols, 64 / itemsize, 0, 0, 0, 0};
    bool more = rows > 0 && cols > 0;
    while (more) {
        tile_walk next = tile;
        more = tile_walk_advance(&next);
        tile_rows src = {s + tile.c * ss + tile.r * itemsize, ss, NULL,
                         more ? s + next.c * ss + next.r * itemsize : NULL};
        transpose_tile(d + tile.r * ds + tile.c * itemsize, ds, src, itemsize, streaming);
        tile = next;
    }
}

AVX512 void xbuf_transpose_avx512(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                  ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize,
                                  ptrdiff_t first_row, bool streaming)
{
    ptrdiff_t edge = 64 / itemsize;
    ptrdiff_t end_row = first_row + (rows - first_row) / edge * edge;
    ptrdiff_t end_col = cols / edge * edge;
    transpose_body(d + first_row * ds, ds, s + first_row * itemsize, ss, end_row - first_row,
                   end_col, itemsize, streaming);
    /* The rows before and after the body: tiles flush with the first and
     * the last row, overlapping the body (a few items are written twice,
     * with the same values).  Their source segments straddle lines. */
    if (first_row > 0)
        for (ptrdiff_t c = 0; c < end_col; c += edge)
            transpose_tile_at(d, ds, s, ss, 0, c, itemsize, streaming);
    if (end_row < rows)
        for (ptrdiff_t c = 0; c < end_col; c += edge)
            transpose_tile_at(d, ds, s, ss, rows - edge, c, itemsize, streaming);
    if (streaming)
        _mm_sfence(); /* streaming stores are weakly ordered */
}

AVX512 void xbuf_transpose_seams_avx512(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                        ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize,
                                        ptrdiff_t head, bool streaming)
{
    ptrdiff_t edge = 64 / itemsize, tail = edge - head, seams = rows - 1;
    /* Seam y is the line at d + y*ds + (cols - tail)*itemsize: row y's last
     * `tail` items, then row y + 1's first `head` items.  A tile covers
     * `edge` seams; its source row i is column cols - tail + i of the
     * destination (source row cols - tail + i) for i < tail, then column
     * i - tail one destination row further on. */
    const char *table[64];
    for (ptrdiff_t y0 = 0; y0 < seams; y0 += edge) {
        ptrdiff_t y = seams - y0 < edge ? seams - edge : y0; /* the last tile overlaps */
        for (ptrdiff_t i = 0; i < tail; i++)
            table[i] = s + (cols - tail + i) * ss + y * itemsize;
        for (ptrdiff_t i = 0; i < head; i++)
            table[tail + i] = s + i * ss + (y + 1) * itemsize;
        tile_rows src = {NULL, 0, table, NULL};
        transpose_tile(d + y * ds + (cols - tail) * itemsize, ds, src, itemsize, streaming);
    }
    /* row 0's first items and the last row's last items */
    for (ptrdiff_t i = 0; i < head; i++)
        memcpy(d + i * itemsize, s + i * ss, (size_t)itemsize);
    for (ptrdiff_t i = cols - tail; i < cols; i++)
        memcpy(d + seams * ds + i * itemsize, s + i * ss + seams * itemsize, (size_t)itemsize);
    if (streaming)
        _mm_sfence();
}

#else
/* Nothing for other machines; ISO C wants a declaration in every file. */
typedef int xbuf_no_wide_kernels;
#endif /* XBUF_HAVE_WIDE_KERNELS */
