/*
 * xbuf/protocol.h -- layer 1: the view struct, request flags, exporters,
 * get/release, export accounting and layout utilities.
 *
 * The protocol in one paragraph.  An *exporter* owns some memory.  A
 * *consumer* asks it for a *view* with xbuf_get(), passing request flags that
 * say what the consumer can handle (strides?  indirection?  must it be
 * writable or contiguous?).  The exporter fills an xbuf_view describing the
 * memory -- pointer, item size, format, shape, strides, suboffsets -- or
 * refuses with XBUF_EREQUEST.  xbuf_get() checks the answer against the
 * request before handing it over.  When the consumer is done it calls
 * xbuf_release(), which calls the exporter's release hook exactly once.  While
 * views are held, an exporter must not move or free its memory: it counts its
 * exports with an xbuf_exports counter and refuses to resize (XBUF_EBUSY)
 * while the count is not zero.
 *
 * Ownership.  Everything a view points at (buf, format, shape, strides,
 * suboffsets) belongs to the exporter and stays valid and unchanged until the
 * view is released.  The consumer owns the xbuf_view struct itself (usually
 * on its stack) and must release every view it got.  Views are plain structs:
 * to hand one to someone else use xbuf_view_move(), never a struct copy
 * followed by two releases.
 *
 * Threads.  An exporter's get and release hooks may be called from any
 * thread; the ones in examples/ are safe to call concurrently.  A single
 * xbuf_view must not be released from two threads at once.
 */
#ifndef XBUF_PROTOCOL_H
#define XBUF_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest ndim a view may have (CPython's PyBUF_MAX_NDIM). */
#define XBUF_MAX_NDIM 64

/* ---- request flags: the same names and values as CPython's PyBUF_* ---- */

#define XBUF_SIMPLE 0
#define XBUF_WRITABLE 0x0001
#define XBUF_FORMAT 0x0004
#define XBUF_ND 0x0008
#define XBUF_STRIDES (0x0010 | XBUF_ND)
#define XBUF_C_CONTIGUOUS (0x0020 | XBUF_STRIDES)
#define XBUF_F_CONTIGUOUS (0x0040 | XBUF_STRIDES)
#define XBUF_ANY_CONTIGUOUS (0x0080 | XBUF_STRIDES)
#define XBUF_INDIRECT (0x0100 | XBUF_STRIDES)

#define XBUF_CONTIG (XBUF_ND | XBUF_WRITABLE)
#define XBUF_CONTIG_RO (XBUF_ND)
#define XBUF_STRIDED (XBUF_STRIDES | XBUF_WRITABLE)
#define XBUF_STRIDED_RO (XBUF_STRIDES)
#define XBUF_RECORDS (XBUF_STRIDES | XBUF_WRITABLE | XBUF_FORMAT)
#define XBUF_RECORDS_RO (XBUF_STRIDES | XBUF_FORMAT)
#define XBUF_FULL (XBUF_INDIRECT | XBUF_WRITABLE | XBUF_FORMAT)
#define XBUF_FULL_RO (XBUF_INDIRECT | XBUF_FORMAT)

/* Every bit a request may contain. */
#define XBUF_FLAGS_ALL (XBUF_FULL | XBUF_C_CONTIGUOUS | XBUF_F_CONTIGUOUS | XBUF_ANY_CONTIGUOUS)

/* True when `flags` asks for everything `what` (one of the constants above)
 * stands for, e.g. XBUF_WANTS(flags, XBUF_C_CONTIGUOUS). */
#define XBUF_WANTS(flags, what) (((flags) & (what)) == (what))

/* ---- the view ------------------------------------------------------- */

/*
 * A view of an exporter's memory: the same information as CPython's
 * Py_buffer, plus the exporter's release hook.
 *
 *   buf        address of the first item (the item at index 0,...,0); with
 *              negative strides other items lie below it.  May be NULL only
 *              when len == 0.
 *   obj        the exporter, as the exporter chose to identify itself.
 *   len        product(shape) * itemsize: the bytes the items occupy, not
 *              the span of memory a strided view touches.
 *   itemsize   bytes per item, > 0.
 *   readonly   non-zero when the memory must not be written.
 *   ndim       0 .. XBUF_MAX_NDIM.  0 is a single item (len == itemsize).
 *   format     the PEP 3118 format of one item, NUL-terminated; NULL means
 *              "B" (unsigned bytes).
 *   shape      ndim extents, each >= 0; NULL means 1-D with len / itemsize
 *              items (only for ndim <= 1, and only when ND was not asked).
 *   strides    ndim byte steps, any sign; NULL means C-contiguous.
 *   suboffsets NULL, or ndim entries: where suboffsets[i] >= 0, the address
 *              reached after stepping along dimension i holds a pointer, and
 *              the item lies at that pointer + suboffsets[i] (PIL's layout:
 *              each row allocated separately).  Negative entries mean "no
 *              indirection here".
 *   internal   free for the exporter's use.
 *   release    the exporter's release hook, or NULL when there is nothing to
 *              release.  Called once, by xbuf_release().
 */
typedef struct xbuf_view {
    void *buf;
    void *obj;
    ptrdiff_t len;
    ptrdiff_t itemsize;
    int readonly;
    int ndim;
    const char *format;
    ptrdiff_t *shape;
    ptrdiff_t *strides;
    ptrdiff_t *suboffsets;
    void *internal;
    void (*release)(struct xbuf_view *view);
} xbuf_view;

/* ---- the exporter interface ---------------------------------------- */

/*
 * An exporter is any struct that embeds an xbuf_exporter (usually as its
 * first member, so the hook can cast `self` back to the whole struct).
 *
 * get() fills *view for the request `flags`.  On success it returns 0 with
 * every field set as described above and view->release set to its release
 * hook (or NULL); it must have counted the export before returning.  When it
 * cannot serve the request it returns a negative code -- XBUF_EREQUEST for
 * "I cannot give you that", XBUF_EBUSY, XBUF_ENOMEM -- with a message in
 * *err (which may be NULL), and must leave *view as it found it (zeroed).
 * It never returns less than was asked: no strides when strides were asked,
 * a non-contiguous view when contiguity was asked, a read-only view when
 * WRITABLE was asked.  It may return more (strides nobody asked for are
 * fine if the view is C-contiguous, as the consumer will ignore them).
 */
typedef struct xbuf_exporter {
    int (*get)(struct xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err);
} xbuf_exporter;

/* ---- consumer calls -------------------------------------------------- */

/*
 * Ask `exporter` for a view satisfying `flags` and check the answer.
 *
 * On success returns 0 and *view holds a view the caller must release with
 * xbuf_release().  One repair is made: an answer without shape to a request
 * without ND that says ndim 0 but holds several items (NumPy answers so) is
 * given ndim 1, since such a consumer reads len bytes whatever ndim says.
 * On failure *view is zeroed (releasing it is harmless) and the code is
 * returned:
 *   XBUF_EINVAL     exporter, its get hook or view is NULL; unknown bits in
 *                   flags; a flag without the flags it implies (e.g. the
 *                   C_CONTIGUOUS bit without STRIDES).
 *   any code the exporter returned (typically XBUF_EREQUEST), with its message.
 *   XBUF_EEXPORTER  the exporter claimed success but its view breaks the
 *                   protocol or does not satisfy the request (see
 *                   xbuf_view_check); the view has already been released
 *                   back to the exporter; the message names the broken rule.
 */
XBUF_API int xbuf_get(xbuf_exporter *exporter, xbuf_view *view, int flags, xbuf_error *err);

/* Release a view obtained from xbuf_get (or filled by an exporter): calls
 * view->release once, then zeroes *view so that a second call -- or a call
 * on a zeroed or NULL view -- does nothing. */
XBUF_API void xbuf_release(xbuf_view *view);

/* Move a view: *dst receives it, *src is zeroed (so releasing src is
 * harmless).  Pointers into the view struct itself, which
 * xbuf_fill_info() creates, are re-pointed into *dst.  dst must not hold a
 * live view (it is overwritten).  NULL or identical arguments do nothing. */
XBUF_API void xbuf_view_move(xbuf_view *src, xbuf_view *dst);

/*
 * Check a view against the protocol and against the request `flags`, as
 * xbuf_get() does for every answer.  Returns 0 when the view is well formed
 * and satisfies the request, XBUF_EINVAL for a NULL view or invalid flags,
 * and otherwise XBUF_EEXPORTER with a message naming the first broken rule:
 *   ndim outside 0..XBUF_MAX_NDIM; itemsize <= 0; len < 0; NULL buf with
 *   len > 0; an empty format; FORMAT asked but no format; WRITABLE asked but
 *   read-only; ND asked (or ndim > 1) but no shape; a negative extent;
 *   shape product * itemsize overflowing or differing from len; STRIDES asked
 *   but no strides; strides not asked and the view not C-contiguous; a byte
 *   span (shape and strides) that overflows ptrdiff_t; suboffsets without
 *   INDIRECT asked, or without strides; C, F or any contiguity asked and not
 *   given.
 * The check reads only the view's metadata, never its memory.
 */
XBUF_API int xbuf_view_check(const xbuf_view *view, int flags, xbuf_error *err);

/* Check `flags` alone: XBUF_EINVAL for unknown bits or a flag without the
 * flags it implies, else 0. */
XBUF_API int xbuf_flags_check(int flags, xbuf_error *err);

/* ---- exporter helpers ---------------------------------------------- */

/*
 * Fill *view as a 1-D view of `len` unsigned bytes at `buf`, honouring
 * `flags` (the PyBuffer_FillInfo equivalent).  format is "B" when FORMAT is
 * asked, else NULL; shape and strides are set when ND / STRIDES are asked
 * and then point into *view itself (use xbuf_view_move to move the view);
 * suboffsets, internal and release are NULL -- an exporter sets its own
 * release hook afterwards.
 * Errors (the view is left zeroed): XBUF_EINVAL for a NULL view, len < 0,
 * NULL buf with len > 0, or invalid flags; XBUF_EREQUEST when WRITABLE is
 * asked and `readonly` is non-zero.  Contiguity requests are always
 * satisfied (a 1-D byte view is C, F and any contiguous).
 */
XBUF_API int xbuf_fill_info(xbuf_view *view, void *obj, void *buf, ptrdiff_t len,
                            int readonly, int flags, xbuf_error *err);

/* ---- export accounting --------------------------------------------- */

/*
 * An atomic count of an exporter's live views.  Zero-initialise it
 * (XBUF_EXPORTS_INIT or xbuf_exports_init).  Treat the member as private.
 *
 * An exporter calls xbuf_exports_acquire() in its get hook and
 * xbuf_exports_release() in its release hook.  Before moving or freeing its
 * memory it calls xbuf_exports_begin_resize(), which fails with XBUF_EBUSY
 * ("cannot resize: N views are held") while views are held and otherwise
 * blocks new exports (they fail with XBUF_EBUSY) until
 * xbuf_exports_end_resize().  This makes "check, then reallocate" safe
 * against a consumer taking a view from another thread in between.
 */
typedef struct xbuf_exports {
    ptrdiff_t state_; /* >= 0: live exports; XBUF_EXPORTS_RESIZING: resizing */
} xbuf_exports;

#define XBUF_EXPORTS_INIT {0}
#define XBUF_EXPORTS_RESIZING (-1)

/* Set the count to zero.  NULL-safe. */
XBUF_API void xbuf_exports_init(xbuf_exports *exports);

/* Count one more export.  XBUF_EINVAL for NULL; XBUF_EBUSY while a resize
 * is in progress; XBUF_EOVERFLOW if the count would exceed PTRDIFF_MAX. */
XBUF_API int xbuf_exports_acquire(xbuf_exports *exports, xbuf_error *err);

/* Count one export fewer.  XBUF_EINVAL for NULL, or when no export is held
 * (a release without an acquire); the count is then left unchanged. */
XBUF_API int xbuf_exports_release(xbuf_exports *exports, xbuf_error *err);

/* The number of live exports (0 while resizing, or for NULL). */
XBUF_API ptrdiff_t xbuf_exports_count(const xbuf_exports *exports);

/* 0 when no view is held, else XBUF_EBUSY with "cannot resize: N views are
 * held" (XBUF_EINVAL for NULL).  A snapshot: use begin/end_resize when other
 * threads may take views meanwhile. */
XBUF_API int xbuf_exports_check_resize(const xbuf_exports *exports, xbuf_error *err);

/* Enter the resizing state: fails with XBUF_EBUSY ("cannot resize: N views
 * are held", or "a resize is already in progress") unless the count is 0.
 * On success, acquire() fails until end_resize(). */
XBUF_API int xbuf_exports_begin_resize(xbuf_exports *exports, xbuf_error *err);

/* Leave the resizing state.  Does nothing unless a resize is in progress. */
XBUF_API void xbuf_exports_end_resize(xbuf_exports *exports);

/* ---- layout utilities ---------------------------------------------- */

/*
 * Contiguity, with CPython's rules: order 'C' (row-major), 'F' (column-
 * major) or 'A' (either).  A view with no items (some extent 0) is
 * contiguous in every order; a dimension of extent 1 may have any stride;
 * NULL strides mean C-contiguous.  Suboffsets: a view with any suboffset
 * >= 0 is never contiguous (its rows may be anywhere); suboffsets that are
 * all negative describe no indirection and are ignored.
 * Returns false for a NULL view, an invalid order, or a malformed view (one
 * xbuf_view_check rejects for the request its own fields answer).
 */
XBUF_API bool xbuf_view_is_contiguous(const xbuf_view *view, char order);

/* The same test on bare metadata: `strides` may be NULL (C-contiguous),
 * `shape` may be NULL only when ndim == 0.  No suboffsets. */
XBUF_API bool xbuf_is_contiguous(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                                 ptrdiff_t itemsize, char order);

/* Fill strides[0..ndim) for a contiguous array of `shape` in order 'C' or
 * 'F' (as CPython's PyBuffer_FillContiguousStrides: with a zero extent the
 * strides outside it are still the products of the extents inside it).
 * XBUF_EINVAL for NULL arrays (shape/strides may be NULL when ndim is 0),
 * ndim outside 0..XBUF_MAX_NDIM, itemsize <= 0, a negative extent or
 * another order; XBUF_EOVERFLOW when a stride or the total size overflows
 * ptrdiff_t.  strides is written only on success. */
XBUF_API int xbuf_strides_fill(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, char order,
                               ptrdiff_t *strides, xbuf_error *err);

/* The address of the item at `indices` (ndim entries; NULL allowed for a
 * 0-d view), following suboffsets (the PyBuffer_GetPointer equivalent).
 * XBUF_EINVAL for NULL arguments or a view with ndim > 1 and no shape (a
 * shapeless 1-d view has len / itemsize items);
 * XBUF_ERANGE when indices[i] is outside 0..shape[i]-1 (negative indices
 * are not wrapped).  *out is written only on success.  It reads the
 * pointers stored in an indirect view's memory, nothing else. */
XBUF_API int xbuf_view_pointer(const xbuf_view *view, const ptrdiff_t *indices, void **out,
                               xbuf_error *err);

/*
 * The byte range [*lo, *hi) relative to `buf` that an array of `shape` and
 * `strides` with items of `itemsize` bytes touches: lo <= 0 < hi for a
 * non-empty array, lo == hi == 0 when it holds no item.  NULL strides mean
 * C-contiguous.  XBUF_EINVAL for bad arguments (as xbuf_strides_fill),
 * XBUF_EOVERFLOW when the range does not fit in ptrdiff_t.
 */
XBUF_API int xbuf_extent(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                         ptrdiff_t itemsize, ptrdiff_t *lo, ptrdiff_t *hi, xbuf_error *err);

/* The byte range of the memory at view->buf the view addresses directly.
 * For a view without suboffsets that is every byte of every item.  For an
 * indirect view it is the table of pointers read by the dimensions up to and
 * including the first one with a suboffset >= 0 (what lies behind those
 * pointers is elsewhere).  Errors as xbuf_extent, XBUF_EINVAL for a NULL
 * view or a view with ndim > 1 and no shape. */
XBUF_API int xbuf_view_extent(const xbuf_view *view, ptrdiff_t *lo, ptrdiff_t *hi,
                              xbuf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_PROTOCOL_H */
