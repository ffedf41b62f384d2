/*
 * copy_kernels.c -- the loops that move items.
 *
 * Preconditions common to every kernel: the pointers address valid memory
 * for every item the strides reach, source and destination do not overlap
 * (overlapping copies go through a temporary first), and n, rows, cols are
 * positive.  Items are moved with memcpy of a constant size, which the
 * compiler turns into single loads and stores: no alignment is assumed and
 * no type is punned.
 *
 * Transposes use SSE2 (part of every x86-64) register transposes of 16x16,
 * 4x4 and 2x2 blocks of 1-, 4- and 8-byte items inside cache-sized tiles;
 * other item sizes and other machines use the same tiles with scalar moves.
 * On CPUs with AVX-512BW, byte transposes and the large (streaming)
 * transposes of 4- and 8-byte items go to transpose_avx512.c instead.
 */
#include <string.h>
#include <stdlib.h>

#include "copy_internal.h"

#if defined(__SSE2__)
#  include <emmintrin.h>
#  define XBUF_HAVE_SSE2 1
#endif

/* ---- 1-d: strided runs ------------------------------------------------ */

#define STRIDED_LOOP(bytes)                                  \
    for (ptrdiff_t i = 0; i < n; i++, d += ds, s += ss)     \
        memcpy(d, s, bytes)

#if XBUF_HAVE_SSE2
/* A 16-byte store; streaming ones need p on a 16-byte boundary. */
static inline void store_16(char *p, __m128i v, bool streaming)
{
    if (streaming)
        _mm_stream_si128((__m128i *)p, v);
    else
        _mm_storeu_si128((__m128i *)p, v);
}

/* Every other byte: keep the low byte of each 16-bit pair and pack. */
static ptrdiff_t gather_every_other_byte(char *d, const char *s, ptrdiff_t n, bool streaming)
{
    const __m128i low = _mm_set1_epi16(0x00ff);
    ptrdiff_t i = 0;
    /* '<' rather than '<=': the last load's second byte of a pair would lie
     * past the last item. */
    for (; i + 16 < n; i += 16) {
        __m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i *)(s + 2 * i)), low);
        __m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(s + 2 * i + 16)), low);
        store_16(d + i, _mm_packus_epi16(a, b), streaming);
    }
    return i;
}

/* Every other 16-bit item: gather the even lanes of two vectors. */
static ptrdiff_t gather_every_other_short(char *d, const char *s, ptrdiff_t n, bool streaming)
{
    ptrdiff_t i = 0;
    for (; i + 8 < n; i += 8) { /* '<': as for bytes */
        __m128i a = _mm_loadu_si128((const __m128i *)(s + 4 * i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 4 * i + 16));
        /* Sign-extend the even lanes to 32 bits, then pack with signed
         * saturation: exact, since every value fits. */
        a = _mm_srai_epi32(_mm_slli_epi32(a, 16), 16);
        b = _mm_srai_epi32(_mm_slli_epi32(b, 16), 16);
        store_16(d + 2 * i, _mm_packs_epi32(a, b), streaming);
    }
    return i;
}

/* Every other 4-byte item: the even lanes of two vectors (a shuffle moves
 * bits, it does no arithmetic: every pattern, NaNs included, survives). */
static ptrdiff_t gather_every_other_word(char *d, const char *s, ptrdiff_t n, bool streaming)
{
    ptrdiff_t i = 0;
    for (; i + 4 < n; i += 4) { /* '<': as for bytes */
        __m128 a = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(s + 8 * i)));
        __m128 b = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(s + 8 * i + 16)));
        __m128 even = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        store_16(d + 4 * i, _mm_castps_si128(even), streaming);
    }
    return i;
}

/* Every other 8-byte item: the low halves of two vectors. */
static ptrdiff_t gather_every_other_quad(char *d, const char *s, ptrdiff_t n, bool streaming)
{
    ptrdiff_t i = 0;
    for (; i + 2 < n; i += 2) { /* '<': as for bytes */
        __m128i a = _mm_loadu_si128((const __m128i *)(s + 16 * i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16 * i + 16));
        store_16(d + 8 * i, _mm_unpacklo_epi64(a, b), streaming);
    }
    return i;
}
#endif

/* Gathers of every other small item into a packed destination: the common
 * "every other column" slice, where a scalar loop of 1-byte moves would
 * run far below memory speed.  Returns how many items it copied (the
 * caller does the rest).  Streaming stores start at the destination's
 * first 16-byte boundary; the items before it are copied one by one. */
static ptrdiff_t gather_pairs(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t n,
                              ptrdiff_t itemsize, bool streaming)
{
#if XBUF_HAVE_SSE2
    if (ds != itemsize || ss != 2 * itemsize ||
        (itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8))
        return 0;
    ptrdiff_t head = 0;
    if (streaming) {
        ptrdiff_t bytes = (ptrdiff_t)((16 - (uintptr_t)d % 16) % 16);
        streaming = bytes % itemsize == 0 && bytes / itemsize < n;
        head = streaming ? bytes / itemsize : 0;
        for (ptrdiff_t i = 0; i < head; i++)
            memcpy(d + i * itemsize, s + 2 * i * itemsize, (size_t)itemsize);
    }
    d += head * itemsize;
    s += 2 * head * itemsize;
    n -= head;
    if (itemsize == 1)
        return head + gather_every_other_byte(d, s, n, streaming);
    if (itemsize == 2)
        return head + gather_every_other_short(d, s, n, streaming);
    if (itemsize == 4)
        return head + gather_every_other_word(d, s, n, streaming);
    return head + gather_every_other_quad(d, s, n, streaming);
#else
    (void)d, (void)ds, (void)s, (void)ss, (void)n, (void)itemsize, (void)streaming;
    return 0;
#endif
}

void xbuf_copy_strided(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t n,
                       ptrdiff_t itemsize, bool streaming)
{
    if (ds == itemsize && ss == itemsize) {
        memcpy(d, s, (size_t)(n * itemsize));
        return;
    }
    ptrdiff_t done = gather_pairs(d, ds, s, ss, n, itemsize, streaming);
    d += done * ds;
    s += done * ss;
    n -= done;
    switch (itemsize) {
    case 1: STRIDED_LOOP(1); break;
    case 2: STRIDED_LOOP(2); break;
    case 4: STRIDED_LOOP(4); break;
    case 8: STRIDED_LOOP(8); break;
    case 16: STRIDED_LOOP(16); break;
    default: STRIDED_LOOP((size_t)itemsize); break;
    }
}

/* ---- 1-d: packed runs --------------------------------------------------- */

/* Shorter runs are not worth a loop's head and tail: memcpy. */
enum { PACKED_LOOP_BYTES = 256 };

#if XBUF_HAVE_SSE2
/* A packed run of at least 16 bytes written with streaming stores from its
 * first 16-byte boundary on. */
static void stream_run(char *d, const char *s, ptrdiff_t bytes)
{
    ptrdiff_t head = (ptrdiff_t)((16 - (uintptr_t)d % 16) % 16), i = head;
    memcpy(d, s, (size_t)head);
    for (; i + 64 <= bytes; i += 64)
        for (int k = 0; k < 64; k += 16)
            _mm_stream_si128((__m128i *)(d + i + k), _mm_loadu_si128((const __m128i *)(s + i + k)));
    memcpy(d + i, s + i, (size_t)(bytes - i));
}

/* memcpy(d, s, bytes) with 16-byte moves: a run per row of a large copy
 * costs glibc's memcpy ~35 ns more per 4 KiB row on the machine we measure
 * on (16 MiB of 4 KiB rows: 0.66-0.83x one memcpy of the whole; this loop
 * 0.89-0.98x; 32-byte moves, when the CPU has them, 1.04-1.10x). */
static void copy_run(char *d, const char *s, ptrdiff_t bytes)
{
    ptrdiff_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));
        _mm_storeu_si128((__m128i *)(d + i), a);
        _mm_storeu_si128((__m128i *)(d + i + 16), b);
        _mm_storeu_si128((__m128i *)(d + i + 32), c);
        _mm_storeu_si128((__m128i *)(d + i + 48), e);
    }
    memcpy(d + i, s + i, (size_t)(bytes - i));
}
#endif

void xbuf_copy_packed_run(char *d, const char *s, ptrdiff_t bytes, bool streaming)
{
#if XBUF_HAVE_SSE2
    if (bytes >= PACKED_LOOP_BYTES) {
        if (streaming)
            stream_run(d, s, bytes);
#if XBUF_HAVE_WIDE_KERNELS
        else if (xbuf_avx2_usable())
            xbuf_copy_run_avx2(d, s, bytes);
#endif
        else
            copy_run(d, s, bytes);
        return;
    }
#endif
    (void)streaming;
    memcpy(d, s, (size_t)bytes);
}

void xbuf_streaming_fence(void)
{
#if XBUF_HAVE_SSE2
    _mm_sfence(); /* streaming stores are weakly ordered */
#endif
}

/* ---- 1-d: byte-swapping runs ------------------------------------------ */

static void swap_generic(char *d, const char *s, ptrdiff_t itemsize)
{
    for (ptrdiff_t i = 0; i < itemsize; i++)
        d[i] = s[itemsize - 1 - i];
}

/* One byte-reversing loop per width: load, swap in a register, store. */
#define SWAPPED_LOOP(type, bswap)                           \
    for (ptrdiff_t i = 0; i < n; i++, d += ds, s += ss) {  \
        type v;                                             \
        memcpy(&v, s, sizeof v);                            \
        v = bswap(v);                                       \
        memcpy(d, &v, sizeof v);                            \
    }

void xbuf_copy_swapped(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t n,
                       ptrdiff_t itemsize)
{
    switch (itemsize) {
    case 2: SWAPPED_LOOP(uint16_t, __builtin_bswap16); break;
    case 4: SWAPPED_LOOP(uint32_t, __builtin_bswap32); break;
    case 8: SWAPPED_LOOP(uint64_t, __builtin_bswap64); break;
    default:
        for (ptrdiff_t i = 0; i < n; i++, d += ds, s += ss)
            swap_generic(d, s, itemsize);
        break;
    }
}

/* ---- 2-d: transposes --------------------------------------------------- */

static void transpose_scalar(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                             ptrdiff_t cols, ptrdiff_t itemsize)
{
    for (ptrdiff_t r = 0; r < rows; r++)
        xbuf_copy_strided(d + r * ds, itemsize, s + r * itemsize, ss, cols, itemsize, false);
}

#if XBUF_HAVE_SSE2

/* One 16x16 block of bytes: four rounds of interleaving, each doubling the
 * width of the units that are already in transposed order. */
static void block_16x16_bytes(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss)
{
    __m128i r[16], a[16], b[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm_loadu_si128((const __m128i *)(s + i * ss));
    for (int k = 0; k < 8; k++) { /* rows 2k, 2k+1: columns 0-7, then 8-15 */
        a[k] = _mm_unpacklo_epi8(r[2 * k], r[2 * k + 1]);
        a[k + 8] = _mm_unpackhi_epi8(r[2 * k], r[2 * k + 1]);
    }
    for (int h = 0; h < 2; h++) /* rows 4k..4k+3, in column groups of 4 */
        for (int k = 0; k < 4; k++) {
            b[8 * h + k] = _mm_unpacklo_epi16(a[8 * h + 2 * k], a[8 * h + 2 * k + 1]);
            b[8 * h + k + 4] = _mm_unpackhi_epi16(a[8 * h + 2 * k], a[8 * h + 2 * k + 1]);
        }
    /* b[4g + q]: rows 4q..4q+3 of columns 4g..4g+3 (g = 0..3) */
    for (int g = 0; g < 4; g++) {
        const __m128i *q = &b[4 * g];
        __m128i top01 = _mm_unpacklo_epi32(q[0], q[1]), top23 = _mm_unpackhi_epi32(q[0], q[1]);
        __m128i bot01 = _mm_unpacklo_epi32(q[2], q[3]), bot23 = _mm_unpackhi_epi32(q[2], q[3]);
        _mm_storeu_si128((__m128i *)(d + (4 * g) * ds), _mm_unpacklo_epi64(top01, bot01));
        _mm_storeu_si128((__m128i *)(d + (4 * g + 1) * ds), _mm_unpackhi_epi64(top01, bot01));
        _mm_storeu_si128((__m128i *)(d + (4 * g + 2) * ds), _mm_unpacklo_epi64(top23, bot23));
        _mm_storeu_si128((__m128i *)(d + (4 * g + 3) * ds), _mm_unpackhi_epi64(top23, bot23));
    }
}

/* One 4x4 block of 4-byte items. */
static void block_4x4_words(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss)
{
    __m128i r0 = _mm_loadu_si128((const __m128i *)s);
    __m128i r1 = _mm_loadu_si128((const __m128i *)(s + ss));
    __m128i r2 = _mm_loadu_si128((const __m128i *)(s + 2 * ss));
    __m128i r3 = _mm_loadu_si128((const __m128i *)(s + 3 * ss));
    __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
    __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
    _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi64(t0, t1));
    _mm_storeu_si128((__m128i *)(d + ds), _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128((__m128i *)(d + 2 * ds), _mm_unpacklo_epi64(t2, t3));
    _mm_storeu_si128((__m128i *)(d + 3 * ds), _mm_unpackhi_epi64(t2, t3));
}

/* One 2x2 block of 8-byte items. */
static void block_2x2_quads(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss)
{
    __m128i r0 = _mm_loadu_si128((const __m128i *)s);
    __m128i r1 = _mm_loadu_si128((const __m128i *)(s + ss));
    _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi64(r0, r1));
    _mm_storeu_si128((__m128i *)(d + ds), _mm_unpackhi_epi64(r0, r1));
}

/* A tile whose sides are multiples of the block edge, in register blocks;
 * one loop per block kind so that the block is inlined. */
#define TRANSPOSE_BLOCKS(block, edge)                                                      \
    for (ptrdiff_t c = 0; c < cols; c += (edge))                                          \
        for (ptrdiff_t r = 0; r < rows; r += (edge))                                      \
            block(d + r * ds + c * itemsize, ds, s + c * ss + r * itemsize, ss)

static void transpose_blocks(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                             ptrdiff_t cols, ptrdiff_t itemsize)
{
    if (itemsize == 1)
        TRANSPOSE_BLOCKS(block_16x16_bytes, 16);
    else if (itemsize == 4)
        TRANSPOSE_BLOCKS(block_4x4_words, 4);
    else
        TRANSPOSE_BLOCKS(block_2x2_quads, 2);
}
#endif

/* One tile: register blocks where they fit, scalar moves for the edges. */
static void transpose_tile(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                           ptrdiff_t cols, ptrdiff_t itemsize)
{
#if XBUF_HAVE_SSE2
    int edge = itemsize == 1 ? 16 : itemsize == 4 ? 4 : itemsize == 8 ? 2 : 0;
    if (edge > 0) {
        ptrdiff_t full_rows = rows / edge * edge, full_cols = cols / edge * edge;
        transpose_blocks(d, ds, s, ss, full_rows, full_cols, itemsize);
        if (full_cols < cols)
            transpose_scalar(d + full_cols * itemsize, ds, s + full_cols * ss, ss, full_rows,
                             cols - full_cols, itemsize);
        if (full_rows < rows)
            transpose_scalar(d + full_rows * ds, ds, s + full_rows * itemsize, ss,
                             rows - full_rows, cols, itemsize);
        return;
    }
#endif
    transpose_scalar(d, ds, s, ss, rows, cols, itemsize);
}

/* Tiles are staged through two small packed buffers: TILE_BYTES per side.
 * Rows of a large array are often a power of two apart, so the rows of a
 * tile all map to the same few cache sets; touching them item by item (as
 * a register-blocked transpose straight between the arrays does) evicts
 * them before their lines are used up.  Copying whole row segments in,
 * transposing between the two buffers (which cannot conflict: they are
 * packed), and copying whole row segments out touches each array line
 * once, in a burst. */
enum { TILE_BYTES = 16384 };

/* A tile is `along` items along the source rows (the destination's
 * rows) by `across` source rows; `along` * itemsize is the length of the
 * source row segments, which runs of whole lines keep streaming. */
typedef struct tile_shape {
    ptrdiff_t along, across;
} tile_shape;

static tile_shape tile_for(ptrdiff_t itemsize)
{
    if (itemsize == 1)
        return (tile_shape){256, 64};
    if (itemsize <= 4)
        return (tile_shape){64, 64};
    if (itemsize <= 16)
        return (tile_shape){32, 32};
    if (itemsize <= 64)
        return (tile_shape){16, 16};
    return (tile_shape){0, 0};
}

/* Row segments in and out; a constant length (a full tile's row) lets the
 * compiler inline each memcpy as a few vector moves. */
#define COPY_ROWS(dst, dpitch, src, spitch, count, bytes)          \
    for (ptrdiff_t i_ = 0; i_ < (count); i_++)                     \
        memcpy((dst) + i_ * (dpitch), (src) + i_ * (spitch), (bytes))

static void copy_rows(char *d, ptrdiff_t dp, const char *s, ptrdiff_t sp, ptrdiff_t count,
                      ptrdiff_t bytes)
{
    switch (bytes) {
    case 64: COPY_ROWS(d, dp, s, sp, count, 64); break;
    case 128: COPY_ROWS(d, dp, s, sp, count, 128); break;
    case 256: COPY_ROWS(d, dp, s, sp, count, 256); break;
    default: COPY_ROWS(d, dp, s, sp, count, (size_t)bytes); break;
    }
}

#if XBUF_HAVE_SSE2
/* Whole row segments written with streaming stores: a large transpose's
 * output is not read again soon, and skipping the read-for-ownership of
 * every destination line saves a third of the memory traffic. */
static bool stream_rows(char *d, ptrdiff_t dp, const char *s, ptrdiff_t sp, ptrdiff_t count,
                        ptrdiff_t bytes)
{
    if (bytes % 16 != 0 || ((uintptr_t)d | (uintptr_t)dp) % 16 != 0)
        return false;
    for (ptrdiff_t i = 0; i < count; i++)
        for (ptrdiff_t k = 0; k < bytes; k += 16)
            _mm_stream_si128((__m128i *)(d + i * dp + k),
                             _mm_load_si128((const __m128i *)(s + i * sp + k)));
    return true;
}
#endif

static void transpose_staged(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                             ptrdiff_t cols, ptrdiff_t itemsize, tile_shape tile, bool streaming)
{
    _Alignas(64) char in[TILE_BYTES], out[TILE_BYTES];
    ptrdiff_t in_pitch = tile.along * itemsize, out_pitch = tile.across * itemsize;
    copy_rows(in, in_pitch, s, ss, cols, rows * itemsize);
    transpose_tile(out, out_pitch, in, in_pitch, rows, cols, itemsize);
#if XBUF_HAVE_SSE2
    if (streaming && stream_rows(d, ds, out, out_pitch, rows, cols * itemsize))
        return;
#else
    (void)streaming;
#endif
    copy_rows(d, ds, out, out_pitch, rows, cols * itemsize);
}

/* Ask for the next tile's source row segments while this one is copied:
 * a tile reads from as many rows as it is wide, more streams than the
 * hardware prefetcher follows. */
static void prefetch_rows(const char *s, ptrdiff_t ss, ptrdiff_t count, ptrdiff_t bytes)
{
    for (ptrdiff_t i = 0; i < count; i++)
        for (ptrdiff_t k = 0; k < bytes; k += 64)
            __builtin_prefetch(s + i * ss + k);
}

/* Tiles staged through packed buffers, source rows outermost: each tile
 * continues the source row segments the previous one read, which the
 * hardware prefetcher follows. */
static void transpose_tiled(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                            ptrdiff_t cols, ptrdiff_t itemsize, bool streaming)
{
    tile_shape tile = tile_for(itemsize);
    for (ptrdiff_t c = 0; c < cols; c += tile.across) {
        ptrdiff_t tc = cols - c < tile.across ? cols - c : tile.across;
        for (ptrdiff_t r = 0; r < rows; r += tile.along) {
            ptrdiff_t tr = rows - r < tile.along ? rows - r : tile.along;
            if (r + tile.along < rows)
                prefetch_rows(s + c * ss + (r + tile.along) * itemsize, ss, tc, tr * itemsize);
            transpose_staged(d + r * ds + c * itemsize, ds, s + c * ss + r * itemsize, ss, tr,
                             tc, itemsize, tile, streaming);
        }
    }
#if XBUF_HAVE_SSE2
    if (streaming)
        _mm_sfence(); /* streaming stores are weakly ordered */
#endif
}

#if XBUF_HAVE_WIDE_KERNELS
/* Items before p's next 64-byte line boundary when rows `pitch` bytes
 * apart all share p's alignment; 0 when no choice of first item lands on
 * one for every row. */
static ptrdiff_t items_to_line(const void *p, ptrdiff_t pitch, ptrdiff_t itemsize)
{
    ptrdiff_t bytes = (ptrdiff_t)((64 - (uintptr_t)p % 64) % 64);
    return pitch % 64 == 0 && bytes % itemsize == 0 ? bytes / itemsize : 0;
}
#endif

/* Transposes of 1-, 4- and 8-byte items on AVX-512 machines, in tiles of
 * whole cache lines.  The tiles start on line boundaries of both sides
 * where the pitches allow it: a source row segment that straddles two lines
 * costs two line fetches, and streaming stores must write whole, aligned
 * lines.  The columns left on either side go by whole lines too when the
 * destination's rows follow each other (the common C-ordered result),
 * else to the staged tiles.  False when the view is smaller than a tile or
 * the CPU has no AVX-512 (F, BW and VBMI): the caller does it all. */
static bool transpose_wide(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                           ptrdiff_t cols, ptrdiff_t itemsize, bool streaming)
{
#if XBUF_HAVE_WIDE_KERNELS
    if (itemsize != 1 && itemsize != 4 && itemsize != 8)
        return false;
    ptrdiff_t edge = 64 / itemsize, is = itemsize;
    ptrdiff_t r0 = items_to_line(s, ss, is), c0 = items_to_line(d, ds, is);
    if (rows - r0 < edge || cols - c0 < edge || !xbuf_avx512_usable())
        return false;
    ptrdiff_t c1 = c0 + (cols - c0) / edge * edge;
    bool whole_lines = ds % 64 == 0 && (uintptr_t)(d + c0 * is) % 64 == 0;
    xbuf_transpose_avx512(d + c0 * is, ds, s + c0 * ss, ss, rows, c1 - c0, is, r0,
                          streaming && whole_lines);
    if (c0 > 0 && ds == cols * is && rows > edge) {
        xbuf_transpose_seams_avx512(d, ds, s, ss, rows, cols, is, c0, streaming && whole_lines);
        return true;
    }
    if (c0 > 0)
        transpose_tiled(d, ds, s, ss, rows, c0, is, streaming);
    if (c1 < cols)
        transpose_tiled(d + c1 * is, ds, s + c1 * ss, ss, rows, cols - c1, is, streaming);
    return true;
#else
    (void)d, (void)ds, (void)s, (void)ss, (void)rows, (void)cols, (void)itemsize;
    (void)streaming;
    return false;
#endif
}

void xbuf_copy_transposed(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, ptrdiff_t rows,
                          ptrdiff_t cols, ptrdiff_t itemsize)
{
    if (tile_for(itemsize).along == 0) {
        transpose_scalar(d, ds, s, ss, rows, cols, itemsize);
        return;
    }
    /* Streaming pays off once the output is well beyond the caches. */
    bool streaming = rows * cols * itemsize >= XBUF_STREAMING_BYTES;
    /* The wide kernels write one line per destination row per tile: without
     * streaming stores, 4- and 8-byte items measured faster staged (each
     * destination line is then read for ownership once, in runs). */
    bool wide = itemsize == 1 || streaming;
    if (wide && transpose_wide(d, ds, s, ss, rows, cols, itemsize, streaming))
        return;
    transpose_tiled(d, ds, s, ss, rows, cols, itemsize, streaming);
}
