/*
 * internal.h -- helpers shared between xbuf's .c files; never installed.
 */
#ifndef XBUF_INTERNAL_H
#define XBUF_INTERNAL_H

#include "xbuf.h"
#include "platform.h"

/* Fail the current function with `code` and a formatted message when `cond`
 * holds: keeps every error path to one line (zstd's RETURN_ERROR_IF). */
#define RETURN_ERROR_IF(cond, err, code, ...)                 \
    do {                                                      \
        if (XBUF_UNLIKELY(cond))                              \
            return xbuf_error_set((err), (code), __VA_ARGS__); \
    } while (0)

/* Propagate a failing call's code; its message is already in *err. */
#define RETURN_IF_FAILED(expr)          \
    do {                                \
        int rc_ = (expr);               \
        if (XBUF_UNLIKELY(rc_ < 0))     \
            return rc_;                 \
    } while (0)

/* The host's byte order, XBUF_LITTLE or XBUF_BIG (platform.h already
 * requires GCC or Clang, which both define __BYTE_ORDER__). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#  define XBUF_NATIVE_ORDER XBUF_LITTLE
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#  define XBUF_NATIVE_ORDER XBUF_BIG
#else
#  error "xbuf: unknown host byte order"
#endif

/* Internal invariants (not caller misuse): checked in debug builds only. */
#ifdef XBUF_DEBUG
#  include <assert.h>
#  define XBUF_ASSERT(cond) assert(cond)
#else
#  define XBUF_ASSERT(cond) ((void)0)
#endif

/* Zero a view field by field.  memset of the 96-byte struct compiles to
 * `rep stos` at -O2, whose start-up cost alone is a third of a whole
 * get/release pair; plain stores are merged into a few vector moves. */
static inline void xbuf_view_clear(xbuf_view *view)
{
    view->buf = NULL;
    view->obj = NULL;
    view->len = 0;
    view->itemsize = 0;
    view->readonly = 0;
    view->ndim = 0;
    view->format = NULL;
    view->shape = NULL;
    view->strides = NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    view->release = NULL;
}

/* Validate the common (ndim, shape, itemsize) triple of the layout helpers. */
XBUF_HIDDEN int xbuf_check_shape(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize,
                                 xbuf_error *err);

/* The request a view answers by its own fields (what it carries was
 * "asked"), for checking a view that no request produced. */
XBUF_HIDDEN int xbuf_flags_carried(const xbuf_view *view);

/* The first dimension with a suboffset >= 0, or -1 when the view has no
 * indirection (no suboffsets, or only negative ones). */
XBUF_HIDDEN int xbuf_first_indirect(const xbuf_view *view);

/* Every pointer the items of a checked view are reached through is
 * non-NULL (XBUF_EEXPORTER otherwise): walks the pointer tables once, so
 * that an operation can refuse before it writes a byte.  Costs one load
 * per row, not per item, unless the last dimension is itself indirect. */
XBUF_HIDDEN int xbuf_check_pointers(const xbuf_view *view, xbuf_error *err);

/* The shape a view implies: its own, or 1-d of len / itemsize items (then
 * stored in *implied); NULL for a 0-d view. */
XBUF_HIDDEN const ptrdiff_t *xbuf_view_shape(const xbuf_view *view, ptrdiff_t *implied);

/* xbuf_view_is_contiguous for a view that already passed xbuf_view_check
 * (so its shape, strides and len are consistent); order is 'C', 'F' or 'A'. */
XBUF_HIDDEN bool xbuf_checked_view_is_contiguous(const xbuf_view *view, char order);

#endif /* XBUF_INTERNAL_H */
