/*
 * xbuf/copy.h -- layer 3: moving and comparing the items of views.
 *
 * Every function here works on views as the protocol describes them (any
 * strides: negative, zero, not multiples of the itemsize; suboffsets on
 * either side) and validates everything before it writes a byte: an error
 * never leaves a half-written destination.  Source and destination may
 * overlap; the result is as if the source had been copied to a temporary
 * first (like memmove).
 *
 * The engine merges dimensions that are contiguous with each other, drops
 * extent-1 dimensions, orders loops so the innermost has the smallest
 * stride, copies contiguous runs with memcpy, picks kernels specialised for
 * item sizes 1, 2, 4, 8 and 16, and copies transposes in cache-sized tiles.
 * It never allocates or calls back per item.  What it allocates, always
 * before anything is written (XBUF_ENOMEM when that fails): a temporary of
 * the source's size for overlapping operands; the parsed formats and a
 * temporary of the destination's size for value conversions; the parsed
 * formats (and their leaf lists) for comparisons; one item for xbuf_fill of
 * items over 64 bytes.
 *
 * Views are read-only inputs here (const xbuf_view *): the functions never
 * release or modify the structs, only the memory a destination view
 * describes.
 */
#ifndef XBUF_COPY_H
#define XBUF_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"
#include "format.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Copy the items of `src` into `dst`, byte for byte.  Both views must have
 * the same ndim and extents (a view without shape is 1-d of len / itemsize
 * items) and the same itemsize; formats are not compared (use
 * xbuf_copy_convert to convert values).
 * Errors (nothing written): XBUF_EINVAL for NULL views, malformed views
 * (see xbuf_view_check) or different shapes; XBUF_ETYPE for different
 * itemsizes; XBUF_EREADONLY when dst is read-only; XBUF_ENOMEM when an
 * overlapping copy cannot get its temporary buffer.
 */
XBUF_API int xbuf_copy(const xbuf_view *dst, const xbuf_view *src, xbuf_error *err);

/*
 * Copy the items of `src` into `len` bytes at `dst`, laid out contiguously
 * in `order`: 'C' (row-major), 'F' (column-major) or 'A' (F when src is
 * F-contiguous and not C-contiguous, else C) -- PyBuffer_ToContiguous.
 * XBUF_EINVAL when len is not src->len, for NULL arguments, a malformed
 * view or another order; XBUF_ENOMEM as for xbuf_copy.
 */
XBUF_API int xbuf_copy_to_contiguous(void *dst, ptrdiff_t len, const xbuf_view *src, char order,
                                     xbuf_error *err);

/* The reverse: fill the items of `dst` from `len` contiguous bytes at `src`
 * in `order` (PyBuffer_FromContiguous).  Errors as above, plus
 * XBUF_EREADONLY. */
XBUF_API int xbuf_copy_from_contiguous(const xbuf_view *dst, const void *src, ptrdiff_t len,
                                       char order, xbuf_error *err);

/* Set every item of `dst` to the itemsize bytes at `item` (which may lie
 * inside dst's memory: it is read once, first).  Errors as xbuf_copy. */
XBUF_API int xbuf_fill(const xbuf_view *dst, const void *item, xbuf_error *err);

/* What a conversion does with a value the destination cannot hold. */
typedef enum xbuf_overflow {
    XBUF_OVERFLOW_ERROR = 0, /* fail with XBUF_ERANGE, before writing anything */
    XBUF_OVERFLOW_WRAP = 1   /* integers keep their low bits; floats become inf */
} xbuf_overflow;

/*
 * Copy the values of `src` into `dst`, converting between numeric formats
 * (integers of any width and signedness, bool, half/float/double/long
 * double, complex) and byte orders.  Both formats must be single leaves
 * (one value per item, e.g. "<i", ">d", "Zf"); NULL formats mean "B".
 * Integer -> float rounds to nearest; float -> integer requires an integral
 * value in range (else XBUF_ERANGE, or with WRAP, truncation toward zero
 * and wrapping into the destination's width -- but NaN, infinities and
 * values beyond 64 bits are XBUF_ERANGE even with WRAP); complex -> real
 * requires a zero imaginary part.  With
 * XBUF_OVERFLOW_ERROR every value is checked before the first is written.
 * Errors: those of xbuf_copy, XBUF_EFORMAT for an unparseable format,
 * XBUF_EUNSUPPORTED for formats that are not single numeric leaves,
 * XBUF_ERANGE.  Formats holding the same values in the same bytes ("d"
 * and "<d" on a little-endian host) take the plain copy path, bit for bit;
 * formats that differ only in byte order take a byte-swapping kernel.
 */
XBUF_API int xbuf_copy_convert(const xbuf_view *dst, const xbuf_view *src,
                               xbuf_overflow on_overflow, xbuf_error *err);

/*
 * Compare two views element-wise by value, as memoryview's == does and
 * beyond it: same shape required (different shapes are simply unequal),
 * formats decoded on both sides -- '<i', '>i' and 'q' holding the same
 * numbers are equal; NaN is not equal to NaN; +0 equals -0; records compare
 * field by field (their leaves in order) and padding is ignored; bytes,
 * chars ('c' is a one-byte string: b'a' is not 97) and strings compare by
 * their bytes; addresses (P & X) are unsigned numbers, equal to integers
 * of the same value; objects (O) compare by address, only with objects.
 * Every value compares as Python reads it, so views are equal exactly when
 * their tolist() are (NaN aside).  memcmp is used only
 * where it is exact (same format, no floats, no padding).
 * Views whose values nest differently -- a record against a number, "ii"
 * (a record) against "2i" (an array), a one-member record against its
 * member -- are unequal, not an error; a list of one item ("5t", "ix")
 * is that item.
 * *equal receives the answer.  Errors: XBUF_EINVAL for NULL arguments or
 * malformed views; XBUF_EFORMAT for an unparseable format; XBUF_ENOMEM.
 */
XBUF_API int xbuf_equal(const xbuf_view *a, const xbuf_view *b, bool *equal, xbuf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_COPY_H */
