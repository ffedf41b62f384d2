/*
 * xbuf/mview.h -- layer 4: the view object.
 *
 * An xbuf_mview is the "memory_view" of the seed discussion: a reference-
 * counted object that holds one export of an exporter and describes some
 * of its memory -- its own copies of shape, strides, suboffsets and format,
 * so the exporter may change its metadata afterwards (only its memory must
 * stay put while the export is held).
 *
 * Ownership.  Every derivation (slice, index, field, cast, permute)
 * returns a new mview that shares the first one's export: however long the
 * chain, the exporter sees exactly one export, given back when the last
 * mview of the family is released or freed.  Each mview starts with one
 * reference; xbuf_mview_unref drops one, and the last frees it.
 * xbuf_mview_release gives an mview's share of the export back early (like
 * memoryview.release()): it fails with XBUF_EBUSY while views exported from
 * this mview are held, and afterwards every operation on it fails with
 * XBUF_ERELEASED (unref still frees it).
 *
 * Threads.  Reference counts and export counts are atomic; an mview's
 * layout never changes after creation, so any number of threads may derive
 * from, read through and export one mview at once.  Release, like any
 * end-of-life operation, must not race with other use of the same mview.
 *
 * Errors.  Every function returns 0 or a negative XBUF_E* code and takes an
 * optional xbuf_error.  On error *out is set to NULL and nothing is leaked;
 * no export is lost or released twice.
 */
#ifndef XBUF_MVIEW_H
#define XBUF_MVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xbuf_mview xbuf_mview;

/* ---- life cycle ------------------------------------------------------ */

/* Ask `exporter` for a view with `flags` (xbuf_get checks it) and wrap it.
 * Errors: those of xbuf_get; XBUF_ENOMEM (the export is given back). */
XBUF_API int xbuf_mview_from_exporter(xbuf_exporter *exporter, int flags, xbuf_mview **out,
                                      xbuf_error *err);

/* Wrap a view the caller holds (from xbuf_get or an exporter): on success
 * the mview owns it (it is moved out of *view, which is left zeroed) and
 * releases it when the family is done.  XBUF_EINVAL for a malformed view
 * (then *view is untouched and still the caller's). */
XBUF_API int xbuf_mview_from_view(xbuf_view *view, xbuf_mview **out, xbuf_error *err);

/* One more reference (returns `m`; NULL-safe).  Works on released mviews. */
XBUF_API xbuf_mview *xbuf_mview_retain(xbuf_mview *m);

/* One reference fewer; the last frees the mview (and, if it was the last of
 * its family holding the export, releases the export).  NULL-safe.
 * Dropping a reference to an mview with exported views still held keeps it
 * alive: each exported view holds a reference of its own. */
XBUF_API void xbuf_mview_unref(xbuf_mview *m);

/* Give this mview's share of the export back now.  XBUF_EBUSY ("N views
 * exported from this view are held") while views exported from it are
 * held; releasing twice is harmless (0). */
XBUF_API int xbuf_mview_release(xbuf_mview *m, xbuf_error *err);

/* Whether xbuf_mview_release has run (false for NULL). */
XBUF_API bool xbuf_mview_is_released(const xbuf_mview *m);

/* ---- what it describes ------------------------------------------------- */

/* The mview's layout as a view struct: buf, len, itemsize, readonly, ndim,
 * format (never NULL: "B" when the exporter gave none), shape and strides
 * (never NULL when ndim > 0), suboffsets (NULL when none).  Borrowed: valid
 * while the mview is referenced and not released; do not release it.  NULL
 * for NULL or a released mview. */
XBUF_API const xbuf_view *xbuf_mview_view(const xbuf_mview *m);

/* ---- derivations: each gives a new mview sharing the export ------------- */

/* A Python-style slice: XBUF_SLICE_NONE for an omitted start or stop;
 * negative start/stop count from the end; step may be negative, not 0. */
#define XBUF_SLICE_NONE PTRDIFF_MIN

typedef struct xbuf_slice {
    ptrdiff_t start, stop, step;
} xbuf_slice;

/* Resolve a slice against an extent, as PySlice_AdjustIndices does:
 * *start and *stop become in-range positions for `step`, and *length the
 * number of items selected.  XBUF_EINVAL for step 0 or NULL arguments. */
XBUF_API int xbuf_slice_resolve(const xbuf_slice *slice, ptrdiff_t extent, ptrdiff_t *start,
                                ptrdiff_t *stop, ptrdiff_t *length, xbuf_error *err);

/* Slice the first `count` dimensions (count <= ndim; dimension i by
 * slices[i]); later dimensions are kept whole.  Views with suboffsets are
 * sliced too: a slice of a dimension after an indirect one moves that
 * indirect dimension's suboffset instead of buf.  XBUF_EINVAL for a step
 * of 0, count > ndim or a 0-d view (nothing to slice); XBUF_EUNSUPPORTED
 * when that suboffset would become negative (a negative one means "no
 * indirection": no suboffset can say the items start before their
 * pointer). */
XBUF_API int xbuf_mview_slice(const xbuf_mview *m, const xbuf_slice *slices, int count,
                              xbuf_mview **out, xbuf_error *err);

/* Select `index` of dimension `dim`, removing the dimension.  Negative
 * indices count from the end.  Indexing an indirect dimension that is not
 * the first builds a new pointer table (one pointer per combination of the
 * earlier indices), owned by the family: its pointers are what that
 * dimension's table held, so no single strided layout of the existing
 * memory could describe the result.  XBUF_EUNSUPPORTED where indexing a
 * dimension after an indirect one would make its suboffset negative (see
 * xbuf_mview_slice).  XBUF_ERANGE outside the extent;
 * XBUF_EINVAL for a dim outside 0..ndim-1; XBUF_EEXPORTER for a NULL
 * pointer met on the way; XBUF_ENOMEM. */
XBUF_API int xbuf_mview_index(const xbuf_mview *m, int dim, ptrdiff_t index, xbuf_mview **out,
                              xbuf_error *err);

/* The address of the item at `indices` (ndim of them, negative counting
 * from the end), following suboffsets.  XBUF_ERANGE outside the shape. */
XBUF_API int xbuf_mview_pointer(const xbuf_mview *m, const ptrdiff_t *indices, void **out,
                                xbuf_error *err);

/* Reorder dimensions: new dimension i is old dimension axes[i] (axes is a
 * permutation of 0..ndim-1, else XBUF_EINVAL).  A view with suboffsets
 * cannot be permuted (XBUF_EUNSUPPORTED): the pointers must be followed in
 * dimension order. */
XBUF_API int xbuf_mview_permute(const xbuf_mview *m, const int *axes, xbuf_mview **out,
                                xbuf_error *err);

/* A new mview of the same layout (memoryview(memoryview)), read-only when
 * `readonly` is true (memoryview.toreadonly) -- a view can be made
 * read-only, never writable.  Its release is its own: releasing `m` leaves
 * it working. */
XBUF_API int xbuf_mview_copy(const xbuf_mview *m, bool readonly, xbuf_mview **out,
                             xbuf_error *err);

/* Reverse the dimensions (permute with axes ndim-1, ..., 0). */
XBUF_API int xbuf_mview_transpose(const xbuf_mview *m, xbuf_mview **out, xbuf_error *err);

/* A view of one field of each record: `path` names it, dotted through
 * nested structs ("c.d").  The result's format is the field's (printed
 * canonically); a sub-array field becomes extra trailing dimensions.
 * XBUF_EFORMAT for an unparseable format, XBUF_ETYPE when the items are not
 * records, XBUF_ERANGE for no such field. */
XBUF_API int xbuf_mview_field(const xbuf_mview *m, const char *path, xbuf_mview **out,
                              xbuf_error *err);

/*
 * Reinterpret the memory with another format and shape:
 *  - a C-contiguous view (any ndim) becomes a C-contiguous view of `shape`
 *    (ndim extents; NULL shape: 1-d) with the same number of bytes; an
 *    F-contiguous view likewise becomes an F-contiguous one;
 *  - any other view without suboffsets whose last dimension is packed
 *    (stride == itemsize, or at most one item) keeps its other dimensions,
 *    and its last one is
 *    re-cut into items of the new size, which must divide the bytes of
 *    that dimension (shape must be NULL);
 * Every refusal (XBUF_ETYPE) names its reason: sizes that do not match,
 * a last dimension that is not packed, suboffsets.  XBUF_EFORMAT for an
 * unparseable format.
 */
XBUF_API int xbuf_mview_cast(const xbuf_mview *m, const char *format, int ndim,
                             const ptrdiff_t *shape, xbuf_mview **out, xbuf_error *err);

/* ---- the mview as an exporter ----------------------------------------- */

/*
 * The exporter that serves this mview's layout to xbuf_get, with
 * memoryview's rules: no C/F/any-contiguous request the layout does not
 * satisfy, no request without STRIDES for a non-C-contiguous view, no
 * request without INDIRECT for a view with suboffsets, no WRITABLE request
 * for a read-only view, no FORMAT request without ND (all XBUF_EREQUEST);
 * a released mview refuses with
 * XBUF_ERELEASED.  Each exported view holds a reference to the mview and
 * counts as an export of it.  Borrowed; never NULL for a non-NULL mview.
 */
XBUF_API xbuf_exporter *xbuf_mview_exporter(xbuf_mview *m);

/* Views exported from this mview and not yet released (0 for NULL). */
XBUF_API ptrdiff_t xbuf_mview_exports(const xbuf_mview *m);

/* ---- walking the items -------------------------------------------------- */

/* An iterator over the items of an mview in C order.  Put it on the stack;
 * it borrows the mview, which must stay referenced while it is used. */
typedef struct xbuf_iter {
    const xbuf_view *view;
    ptrdiff_t index[XBUF_MAX_NDIM];
    ptrdiff_t remaining;
} xbuf_iter;

/* Start at the first item.  XBUF_EINVAL for NULL, XBUF_ERELEASED. */
XBUF_API int xbuf_iter_init(xbuf_iter *it, const xbuf_mview *m, xbuf_error *err);

/* The next item's address in *item; false when there are no more. */
XBUF_API bool xbuf_iter_next(xbuf_iter *it, void **item);

/* The rest of the current row (the innermost dimension) at once: *count
 * items from *first, *stride bytes apart -- so a loop over the items pays
 * one call per row, not per item.  Where the innermost dimension is
 * indirect (its items are not evenly spaced), or the view is 0-d, a row is
 * one item.  May be mixed with xbuf_iter_next.  false when there are no
 * more items (or for NULL arguments). */
XBUF_API bool xbuf_iter_next_row(xbuf_iter *it, char **first, ptrdiff_t *count,
                                 ptrdiff_t *stride);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_MVIEW_H */
