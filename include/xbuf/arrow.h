/*
 * xbuf/arrow.h -- layer 5: views to and from the Arrow C data interface.
 *
 * The Arrow C data interface (https://arrow.apache.org/docs/format/
 * CDataInterface.html) hands a column of data from one component to another
 * as two plain structs: an ArrowSchema saying what the items are and an
 * ArrowArray saying where they lie.  This header carries the spec's own
 * definitions of both, under the spec's own include guard, so that they
 * coexist with every other copy (nanoarrow's, Arrow C++'s abi.h, ...).
 * docs/arrow.md has the mapping table.
 *
 * Export (mview -> ArrowSchema + ArrowArray).
 *   - Items become Arrow values one for one: b B h H i I l L q Q n N of 1, 2,
 *     4 or 8 bytes -> int8 .. uint64 (c C s S i I l L); e f d -> float16,
 *     float32, float64 (e f g); 's' of n bytes, 'c' and named padding ('x'
 *     with a name) -> fixed-size binary w:n; records (T{...} or several
 *     items) -> fixed-size binary w:itemsize, or on request a struct (+s)
 *     with one child per field.
 *   - The first dimension is the array's length; every further dimension,
 *     and the shape of a sub-array item ("(2,3)i"), becomes a fixed-size
 *     list level (+w:n, one per dimension) or, on request, one level of the
 *     arrow.fixed_shape_tensor extension type.  A 0-d view becomes an array
 *     of length 1.
 *   - Nothing is copied unless something must be: the array's data buffer
 *     is the view's memory.  Copies are made only for the struct-of-arrays
 *     form (each field gathered into a buffer of its own) and, when the
 *     caller allows them, for bools (Arrow's are bit-packed), non-native
 *     byte orders and non-contiguous views.
 *   - Never: pointers, objects, long double, complex, UCS-2/4, Pascal
 *     strings, bit fields, function pointers; PIL-style (indirect) views.
 *
 * Import (ArrowSchema + ArrowArray -> read-only mview).
 *   Primitive fixed-width arrays, fixed-size binary (w:n -> "ns") and
 *   fixed-size lists of those (+w:n -> one more dimension, nested lists ->
 *   more), and the arrow.fixed_shape_tensor extension (-> its shape, its
 *   permutation applied as strides) become a view of the array's memory,
 *   without a copy.  Refused, each with a message saying why: nulls (a view
 *   has no validity bitmap), non-zero offsets, dictionaries, bit-packed
 *   booleans, and every type with offsets or several columns (strings,
 *   binary, lists, structs, unions, maps, ...).
 *
 * Ownership and release, as the spec rules them:
 *   - Exported structs belong to the caller, who calls each base struct's
 *     release once when done (never a child's).  A release frees what the
 *     struct owns, releases its children that are still live, and sets
 *     `release` to NULL.  Every node owns its own memory, so a child moved
 *     out (copied, then the original's `release` set to NULL -- see
 *     xbuf_arrow_array_move) lives on after its parent is released.
 *   - An exported array whose data is the view's memory holds one export of
 *     the mview (xbuf_mview_exports counts it and xbuf_mview_release fails
 *     with XBUF_EBUSY) until the node that points at the memory is
 *     released.  An array made only of copies holds none: the export is
 *     given back before xbuf_arrow_export returns.  The schema never holds
 *     one.
 *   - An imported mview owns the ArrowArray (moved into it: the caller's
 *     struct is marked released) and calls its release exactly once, when
 *     the last mview derived from it lets go.  The schema is only read:
 *     it stays the caller's, to release whenever it likes.
 *
 * Threads.  Release callbacks may run on any thread; distinct nodes of one
 * exported tree may be released concurrently.
 */
#ifndef XBUF_ARROW_H
#define XBUF_ARROW_H

#include <stdbool.h>
#include <stdint.h>

#include "base.h"
#include "mview.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the Arrow C data interface, exactly as the specification gives it ---- */

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    /* Array type description */
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;

    /* Release callback */
    void (*release)(struct ArrowSchema *);
    /* Opaque producer-specific data */
    void *private_data;
};

struct ArrowArray {
    /* Array data description */
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;

    /* Release callback */
    void (*release)(struct ArrowArray *);
    /* Opaque producer-specific data */
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* ---- export options ------------------------------------------------------ */

/* How dimensions after the first go out. */
typedef enum xbuf_arrow_nd {
    /* One fixed-size list level (+w:n, child "item") per dimension: a view
     * of shape (4, 2, 3) is fixed_size_list<fixed_size_list<T>[3]>[2] of
     * length 4. */
    XBUF_ARROW_ND_FIXED_SIZE_LIST = 0,
    /* The arrow.fixed_shape_tensor canonical extension: storage
     * fixed_size_list<T>[2*3] of length 4, and the schema's metadata
     * ARROW:extension:name = arrow.fixed_shape_tensor,
     * ARROW:extension:metadata = {"shape":[2,3]}. */
    XBUF_ARROW_ND_TENSOR = 1
} xbuf_arrow_nd;

/* How records (struct items) go out. */
typedef enum xbuf_arrow_records {
    /* Fixed-size binary w:itemsize: each record's bytes as they lie, no copy. */
    XBUF_ARROW_RECORDS_BINARY = 0,
    /* A struct (+s) with one child per field, named by the field's name (f0,
     * f1, ... by position for unnamed ones), each child a compact copy of
     * that field; nested records are split the same way, sub-array fields
     * follow `nd`, bool fields are bit-packed and non-native byte orders
     * swapped (the copy is being made anyway). */
    XBUF_ARROW_RECORDS_STRUCT = 1
} xbuf_arrow_records;

/* Zero-initialised options (or XBUF_ARROW_OPTIONS_INIT, or a NULL pointer)
 * are the defaults. */
typedef struct xbuf_arrow_options {
    xbuf_arrow_nd nd;
    xbuf_arrow_records records;
    /* Copy what Arrow cannot share as it lies -- a non-contiguous view
     * (gathered in C order), bools (bit-packed), non-native byte orders
     * (swapped) -- instead of refusing it.  The array then owns the copy and
     * holds no export. */
    bool allow_copy;
    /* The top-level schema's name; NULL means "". */
    const char *name;
} xbuf_arrow_options;

#define XBUF_ARROW_OPTIONS_INIT {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_BINARY, false, NULL}

/* ---- export and import ----------------------------------------------------- */

/*
 * Describe the items of `m` as an Arrow array: *schema_out receives the
 * type, *array_out the data (both must be allocated by the caller and hold
 * no live struct: they are overwritten).  `options` may be NULL.
 *
 * On success both structs are the caller's, to release once each (see the
 * ownership rules above).  Every node is flagged ARROW_FLAG_NULLABLE (Arrow's
 * default for a field; there are never nulls), null_count is 0, offset 0,
 * and validity buffers are NULL.
 *
 * On failure both structs are left zeroed (released: release == NULL),
 * nothing is leaked and the mview's export count is as before.  Errors:
 *   XBUF_EINVAL        NULL m, schema_out or array_out; an unknown option.
 *   XBUF_ERELEASED     m was released.
 *   XBUF_EUNSUPPORTED  naming the reason: a view with suboffsets; a view
 *                      that is not C-contiguous, a bool item or a
 *                      non-native byte order without allow_copy; an item
 *                      with no Arrow type (pointer, complex, ...); an
 *                      itemsize that differs from its format's size; more
 *                      than XBUF_MAX_NDIM dimensions with sub-arrays; a
 *                      list level (or tensor) holding more items than an
 *                      Arrow length can count.
 *   XBUF_EFORMAT       the view's format does not parse.
 *   XBUF_ENOMEM.
 */
XBUF_API int xbuf_arrow_export(xbuf_mview *m, const xbuf_arrow_options *options,
                               struct ArrowSchema *schema_out, struct ArrowArray *array_out,
                               xbuf_error *err);

/*
 * View an Arrow array: *out receives a new read-only mview (one reference)
 * of the array's memory, shaped (length, list sizes...) with the format the
 * mapping gives (c C s S i I l L e f g -> b B h H i I q Q e f d; w:n -> "ns").
 * `schema` describes `array` and is only read.
 *
 * On success the mview owns the array: *array is moved into it (the
 * caller's struct is marked released, release == NULL) and its release is
 * called once, when the last mview derived from *out lets go.  *schema is
 * untouched and stays the caller's.
 *
 * On failure *out is NULL and both structs are untouched: still the
 * caller's, still live.  Errors:
 *   XBUF_EINVAL        NULL arguments; a released schema or array; a
 *                      malformed struct: no format, a negative length, the
 *                      wrong n_buffers or n_children for its format, NULL
 *                      buffers or children, a NULL data buffer holding
 *                      data, a child shorter than its list needs, malformed
 *                      extension metadata.
 *   XBUF_EUNSUPPORTED  naming the reason: nulls (null_count > 0, or -1 with
 *                      unset validity bits), a non-zero offset, a
 *                      dictionary, a type that is not listed above, a zero-
 *                      width item (w:0), more than XBUF_MAX_NDIM dimensions.
 *   XBUF_EOVERFLOW     length times list sizes times item size does not fit
 *                      in ptrdiff_t.
 *   XBUF_ENOMEM.
 */
XBUF_API int xbuf_arrow_import(const struct ArrowSchema *schema, struct ArrowArray *array,
                               xbuf_mview **out, xbuf_error *err);

/* ---- moving structs (the spec's "move": bitwise copy, source released) ---- */

/* *dst receives the struct, *src is marked released (release = NULL).  dst
 * must not hold a live struct (it is overwritten).  NULL or identical
 * arguments do nothing.  This is also how a child is moved out of its
 * parent: move children[i] out, then release the parent. */
XBUF_API void xbuf_arrow_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst);
XBUF_API void xbuf_arrow_array_move(struct ArrowArray *src, struct ArrowArray *dst);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_ARROW_H */
