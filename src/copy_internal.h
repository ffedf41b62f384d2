/*
 * copy_internal.h -- the plan that layer 3's copy, convert and compare
 * engines share, and the kernels they run.
 *
 * A plan describes a walk over two views of the same shape ("side" 0 and
 * 1: destination and source, or the two operands of a comparison) after
 * simplification: extent-1 dimensions dropped, dimensions whose strides are
 * both negative flipped, loops ordered by stride, and dimensions that are
 * contiguous with each other merged.  Dimensions with suboffsets are never
 * reordered or merged: the pointer they load must be followed in order.
 */
#ifndef XBUF_COPY_INTERNAL_H
#define XBUF_COPY_INTERNAL_H

#include "internal.h"

typedef struct xbuf_dim {
    ptrdiff_t extent;
    ptrdiff_t stride[2];
    ptrdiff_t suboffset[2]; /* < 0: no indirection in this dimension */
} xbuf_dim;

typedef struct xbuf_plan {
    int ndim;
    bool empty;    /* some extent is 0: nothing to visit */
    bool indirect; /* some dimension has a suboffset >= 0 */
    ptrdiff_t itemsize[2];
    char *base[2];
    xbuf_dim dims[XBUF_MAX_NDIM];
} xbuf_plan;

/*
 * Build a plan over two well-formed views.  XBUF_EINVAL (with a message
 * naming the first difference) when their shapes differ or a view is
 * malformed.  `sort` allows reordering loops (a comparison that stops at
 * the first difference does not care; a copy does).
 */
XBUF_HIDDEN int xbuf_plan_build(xbuf_plan *plan, const xbuf_view *a, const xbuf_view *b,
                                bool sort, xbuf_error *err);

/* XBUF_EINVAL (with xbuf_view_check's message) for a malformed operand;
 * XBUF_EEXPORTER for a NULL pointer in its tables (xbuf_check_pointers). */
XBUF_HIDDEN int xbuf_check_operand(const xbuf_view *v, xbuf_error *err);

/* What runs on the innermost `kernel_ndim` (0, 1 or 2) dimensions of a
 * plan, with both sides' pointers to their first item.  Non-zero stops the
 * walk and is returned by xbuf_plan_run. */
typedef int (*xbuf_block_fn)(const xbuf_plan *plan, int first_dim, char *p0, char *p1,
                             void *context);

/* How many trailing dimensions have no suboffsets on either side (at most
 * `most`): the dimensions a block function may loop over itself. */
XBUF_HIDDEN int xbuf_plan_direct_tail(const xbuf_plan *plan, int most);

/* Walk the outer plan->ndim - kernel_ndim dimensions (following
 * suboffsets) and call `block` for each block of the inner ones. */
XBUF_HIDDEN int xbuf_plan_run(const xbuf_plan *plan, int kernel_ndim, xbuf_block_fn block,
                              void *context);

/* ---- shared by copy.c, convert.c and compare.c ------------------------ */

/* Whether writing `a` may change what `b` holds (conservative for two
 * indirect views). */
XBUF_HIDDEN bool xbuf_views_overlap(const xbuf_view *a, const xbuf_view *b);

/* *packed: a writable, C-contiguous view of `memory` with like's shape,
 * itemsize and format; `implied` holds the extent of a shapeless view. */
XBUF_HIDDEN void xbuf_packed_like(xbuf_view *packed, const xbuf_view *like, void *memory,
                                  ptrdiff_t *implied);

/* A packed temporary shaped like `like` (like->len bytes from the xbuf
 * allocator; XBUF_ENOMEM naming `purpose` when it fails), and its release. */
XBUF_HIDDEN int xbuf_temporary_like(xbuf_view *packed, const xbuf_view *like, ptrdiff_t *implied,
                                    const char *purpose, xbuf_error *err);
XBUF_HIDDEN void xbuf_temporary_free(xbuf_view *packed);

/* ---- kernels (copy_kernels.c) ---------------------------------------- */

/* Copies whose output reaches these sizes write it with streaming
 * (non-temporal) stores: not reading each destination line before writing
 * it saves a third of the traffic, but the output then goes to memory
 * instead of staying in the caches.  Transposes and gathers gain from
 * 8 MiB on: byte transposes (16 MiB) take half the time streamed, every
 * other byte (8 MiB) 0.68-0.82x memcpy streamed, 0.45-0.49x not.  Packed
 * runs (copies made of many runs) only once the output is larger than the
 * L3 (16 MiB of PIL rows: 0.83x memcpy cached, 0.76-0.82x streamed; 64 MiB:
 * 0.97-1.01x cached, 1.14-1.32x streamed).  A single packed run is left to
 * memcpy, which has its own threshold. */
enum { XBUF_STREAMING_BYTES = 8 << 20, XBUF_STREAMING_RUNS_BYTES = 32 << 20 };

/* n items of `itemsize` bytes from s (stepping ss) to d (stepping ds).
 * `streaming`: the copy's output reaches XBUF_STREAMING_BYTES; gathers of
 * every other item into a packed destination use streaming stores (the
 * caller fences with xbuf_streaming_fence once the copy is done). */
XBUF_HIDDEN void xbuf_copy_strided(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                   ptrdiff_t n, ptrdiff_t itemsize, bool streaming);

/* One packed run of `bytes` in a copy made of many runs (a single run is
 * memcpy's).  `streaming`: the copy's output reaches
 * XBUF_STREAMING_RUNS_BYTES; the run is written with streaming stores and
 * the caller fences with xbuf_streaming_fence once the copy is done. */
XBUF_HIDDEN void xbuf_copy_packed_run(char *d, const char *s, ptrdiff_t bytes, bool streaming);

/* Orders the streaming stores before what follows. */
XBUF_HIDDEN void xbuf_streaming_fence(void);

/* D[r][c] = S[c][r] for r < rows, c < cols: S's rows are `ss` bytes apart
 * and contiguous along r; D's rows are `ds` bytes apart and contiguous along
 * c -- a transpose, copied in cache-sized tiles. */
XBUF_HIDDEN void xbuf_copy_transposed(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                      ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize);

/* As xbuf_copy_strided, reversing the bytes of each item (itemsize 2, 4, 8
 * or any other, and 16-byte complex halves are the caller's business). */
XBUF_HIDDEN void xbuf_copy_swapped(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                   ptrdiff_t n, ptrdiff_t itemsize);

/* ---- kernels for wider vector units (copy_kernels_wide.c) ------------ */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define XBUF_HAVE_WIDE_KERNELS 1
#else
#  define XBUF_HAVE_WIDE_KERNELS 0
#endif

#if XBUF_HAVE_WIDE_KERNELS
/* Whether this CPU and OS run AVX-512F, -BW and -VBMI code; AVX2 code. */
XBUF_HIDDEN bool xbuf_avx512_usable(void);
XBUF_HIDDEN bool xbuf_avx2_usable(void);

/* memcpy(d, s, bytes) with 32-byte moves, when xbuf_avx2_usable(). */
XBUF_HIDDEN void xbuf_copy_run_avx2(char *d, const char *s, ptrdiff_t bytes);

/* As xbuf_copy_transposed for items of 1, 4 or 8 bytes, when
 * xbuf_avx512_usable(), in tiles of `edge` = 64 / itemsize items square,
 * for the first cols / edge * edge columns (the caller copies the rest):
 * tiles start at row first_row (where the source's lines start) and
 * rows - first_row and cols are at least `edge`.  `streaming` writes with
 * non-temporal stores; then ds and d are multiples of 64. */
XBUF_HIDDEN void xbuf_transpose_avx512(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                       ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize,
                                       ptrdiff_t first_row, bool streaming);

/* The columns of the same transpose that xbuf_transpose_avx512 left on
 * either side of its tiles, when the destination's rows follow each other
 * (ds == cols * itemsize, a multiple of 64) and it starts `head` items
 * (0 < head < edge) before a line: the last items of each row and the first
 * of the next share a line, written whole.  rows > edge.  `streaming`: as
 * above. */
XBUF_HIDDEN void xbuf_transpose_seams_avx512(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                                             ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t itemsize,
                                             ptrdiff_t head, bool streaming);
#endif

#endif /* XBUF_COPY_INTERNAL_H */
