/*
 * xbuf/format.h -- layer 2: the PEP 3118 format language.
 *
 * A format string says what one item of a view holds.  xbuf implements all
 * of PEP 3118's language, not only the part Python's struct module knows:
 *
 *   byte order / size / alignment   @ = < > ! ^  (anywhere an item may start;
 *                                   in force until the next one, also across
 *                                   a struct's closing brace, as NumPy reads it)
 *   struct codes                    x c b B ? h H i I l L q Q n N e f d s p P
 *   PEP 3118 additions              t (bits)  g (long double)  u (UCS-2)
 *                                   w (UCS-4)  O (object)  Ze Zf Zd Zg (complex)
 *                                   &type (pointer)  T{...} (struct)
 *                                   (k1,k2,...)type (sub-array)  :name: (field
 *                                   name)  X{args->result} (function pointer)
 *   repeat counts                   3i is three ints (one field, shape (3,));
 *                                   10s is one 10-byte string (also p u w);
 *                                   4x is four padding bytes; 5t is 5 bits;
 *                                   0i is allowed, as in struct (size 0, but
 *                                   still aligned: struct's '0l' idiom)
 *   whitespace                      ignored between items
 *
 * Layout (docs/format.md has the full rules):
 *   - '@' (the default): native sizes, each item at its natural alignment;
 *     '^': native sizes, no alignment; '= < > !': standard sizes (struct's),
 *     no alignment.  n N P O & X always have the native pointer size.
 *   - A top-level list of items is laid out as struct.calcsize does: no
 *     padding after the last item.  Inside T{...} the C ABI applies to the
 *     members placed under '@'.
 *   - Whether an item is placed aligned depends on the mode in force after
 *     it: for T{...} the mode at its closing brace, which also decides
 *     whether the struct is padded to its alignment (NumPy's reading).
 *   - Consecutive bit fields share bytes, numbered from the least
 *     significant bit of the lowest byte; the run ends at the next item
 *     that is not a bit field, and occupies ceil(bits / 8) bytes.
 *
 * The result of parsing is an immutable, reference-counted xbuf_format
 * holding a tree of xbuf_type nodes.  Nodes are plain structs the caller may
 * read; they live as long as their format.  A format may be shared between
 * threads freely.
 */
#ifndef XBUF_FORMAT_H
#define XBUF_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest nesting of T{...}, X{...}, & and sub-arrays the parser accepts
 * (it recurses, so the bound protects the stack). */
#define XBUF_FORMAT_MAX_DEPTH 64

/* What a type node is. */
typedef enum xbuf_kind {
    XBUF_KIND_INT = 1,   /* b h i l q n: signed integer */
    XBUF_KIND_UINT,      /* B H I L Q N: unsigned integer */
    XBUF_KIND_BOOL,      /* ?: one byte, 0 or 1 */
    XBUF_KIND_FLOAT,     /* e f d g: IEEE half, single, double; g is long double */
    XBUF_KIND_COMPLEX,   /* Ze Zf Zd Zg: two floats, real then imaginary */
    XBUF_KIND_CHAR,      /* c: one byte */
    XBUF_KIND_BYTES,     /* s: a fixed-length byte string (length = count) */
    XBUF_KIND_PASCAL,    /* p: a Pascal string: length byte, then bytes */
    XBUF_KIND_UCS2,      /* u: count UCS-2 code units */
    XBUF_KIND_UCS4,      /* w: count UCS-4 code units */
    XBUF_KIND_BITS,      /* t: count bits, starting bit_offset bits into the item */
    XBUF_KIND_OBJECT,    /* O: a pointer to an object (PyObject * in Python) */
    XBUF_KIND_VOIDP,     /* P: void * */
    XBUF_KIND_POINTER,   /* &: a pointer to `target` */
    XBUF_KIND_FUNCTION,  /* X{...}: a function pointer; fields are the arguments,
                            target the result (NULL when none is given) */
    XBUF_KIND_VOID,      /* x with a name: count opaque bytes (NumPy's V) */
    XBUF_KIND_STRUCT,    /* T{...} or a top-level list of several items */
    XBUF_KIND_ARRAY      /* (k1,...)base or a repeat count: ndim, shape, base */
} xbuf_kind;

/* The kind's name in lower case, as xbuf.Format.kind and the `xbuf format`
 * tool show it: "int", "uint", "bool", "float", "complex", "char",
 * "bytes", "pascal", "ucs2", "ucs4", "bits", "object", "voidp", "pointer",
 * "function", "void", "struct", "array"; "unknown" for other values. */
XBUF_API const char *xbuf_kind_name(xbuf_kind kind);

/* Byte orders of a leaf. */
#define XBUF_LITTLE '<'
#define XBUF_BIG '>'
#define XBUF_NO_ORDER '|' /* structs, arrays, bytes, one-byte items */

struct xbuf_type;

/* A member of a struct (or an argument of a function). */
typedef struct xbuf_field {
    const char *name;              /* NULL when the format gives none */
    ptrdiff_t offset;              /* bytes from the start of the struct */
    const struct xbuf_type *type;
    bool aligned;                  /* placed at the type's alignment ('@' in force after it)
                                      (false when that alignment is 1) */
} xbuf_field;

/* A node of a parsed format.  Read-only; owned by its xbuf_format. */
typedef struct xbuf_type {
    xbuf_kind kind;
    char code;            /* the format character: 'i', 'd', 's', 'T', '(' for an
                             array, 'X', '&'; for complex the float's code ('d'
                             for Zd) */
    char byteorder;       /* XBUF_LITTLE, XBUF_BIG or XBUF_NO_ORDER */
    bool native_size;     /* the size is the native one: under '@' or '^', and
                             always for n N P O & X g (no standard size);
                             false for bit fields */
    bool braces;          /* STRUCT: written T{...} (false: a top-level item list) */
    ptrdiff_t itemsize;   /* bytes one item occupies */
    ptrdiff_t alignment;  /* 1 unless placed under '@' (or containing such items) */
    ptrdiff_t count;      /* BYTES PASCAL UCS2 UCS4: code units; BITS: bit width;
                             otherwise 1 */
    int bit_offset;       /* BITS: first bit, 0..7, within the first byte */
    /* STRUCT and FUNCTION: the members / arguments, in order */
    ptrdiff_t nfields;
    const xbuf_field *fields;
    /* ARRAY: ndim extents (each >= 0) of `base`, in C order */
    int ndim;
    const ptrdiff_t *shape;
    const struct xbuf_type *base;
    /* POINTER: what it points to; FUNCTION: the result, or NULL */
    const struct xbuf_type *target;
} xbuf_type;

/* A parsed format: reference-counted, immutable, thread-safe to share. */
typedef struct xbuf_format xbuf_format;

/*
 * Parse the NUL-terminated `format` (NULL or "" is an error: "B" is what a
 * NULL view format means, and the caller decides that) into *out, with a
 * reference count of 1.  On error *out is NULL and *err holds the code, a
 * message saying what was expected, and the byte position:
 *   XBUF_EINVAL    NULL format or out;
 *   XBUF_EFORMAT   anything malformed: unknown code, unbalanced braces or
 *                  parentheses, a name never closed, an empty or duplicate
 *                  field name, an empty shape, a count where none may stand,
 *                  nesting deeper than XBUF_FORMAT_MAX_DEPTH;
 *   XBUF_EOVERFLOW a count, shape or size that does not fit in ptrdiff_t;
 *   XBUF_ENOMEM.
 */
XBUF_API int xbuf_format_parse(const char *format, xbuf_format **out, xbuf_error *err);

/* The same for `length` bytes that need not be NUL-terminated (a NUL inside
 * them is an error). */
XBUF_API int xbuf_format_parse_n(const char *format, size_t length, xbuf_format **out,
                                 xbuf_error *err);

struct xbuf_view;

/*
 * Parse the format of a view (NULL means "B") as its items hold it: as
 * written, unless (1) that layout does not fill view->itemsize, (2) the
 * format is written as ctypes writes them -- a '<' or '>' before every
 * leaf, no padding, no '@', '=', '^' or '!' -- and (3) the C layout of the
 * same fields (every byte order character read as '@' for sizes and
 * alignment, byte orders kept; 'u' as the C compiler's wchar_t, which is
 * what ctypes means by it) does fill it: then that one.  ctypes
 * exports such formats (cpython #76961: '<q' for an 8-byte c_long is fine,
 * 'T{<b:a:<i:b:}' for an 8-byte struct is not).  Condition (2) keeps
 * NumPy's formats, which may leave trailing padding unwritten, as written;
 * a NumPy record whose every leaf is non-native and which has unwritten
 * trailing padding looks exactly like a ctypes struct and is read as one.
 * A format that fits neither reading is returned as written; the caller
 * decides whether the difference matters.  Errors as xbuf_format_parse;
 * XBUF_EINVAL for a NULL view.
 */
XBUF_API int xbuf_view_format(const struct xbuf_view *view, xbuf_format **out, xbuf_error *err);

/* Take another reference (returns `format`; NULL-safe).  Atomic. */
XBUF_API xbuf_format *xbuf_format_retain(xbuf_format *format);

/* Drop a reference; the last one frees the tree.  NULL-safe.  Atomic. */
XBUF_API void xbuf_format_release(xbuf_format *format);

/* The root type of a format (never NULL for a parsed format; NULL for NULL). */
XBUF_API const xbuf_type *xbuf_format_type(const xbuf_format *format);

/* The size and alignment one item of `format` has, without keeping a tree.
 * Either output may be NULL.  Errors as xbuf_format_parse. */
XBUF_API int xbuf_format_size(const char *format, ptrdiff_t *itemsize, ptrdiff_t *alignment,
                              xbuf_error *err);

/*
 * Print `type` canonically into buf (capacity `size`, NUL-terminated):
 * every byte order explicit ('@', '^', '<' or '>', never '=' or '!'),
 * padding written as 'x', names kept; xbuf_format_parse of the result gives
 * a type equal to `type`.  *length (may be NULL) receives the full length
 * without the NUL.  XBUF_EINVAL for NULL type, or NULL buf with size > 0;
 * XBUF_ERANGE when the text does not fit (buf then holds a truncated,
 * NUL-terminated prefix when size > 0, and *length the size needed).
 */
XBUF_API int xbuf_type_print(const xbuf_type *type, char *buf, size_t size, size_t *length,
                             xbuf_error *err);

/* Same types and same field names (equal trees).  NULL equals only NULL. */
XBUF_API bool xbuf_type_equal(const xbuf_type *a, const xbuf_type *b);

/* Same bytes: the same itemsize and the same leaves (kind, size, byte order,
 * count) at the same offsets, names and grouping ignored ("3i" is layout-
 * compatible with "iii").  NULL is compatible only with NULL. */
XBUF_API bool xbuf_type_layout_compatible(const xbuf_type *a, const xbuf_type *b);

/*
 * Find a field by name, or by a dotted path through nested structs ("c.d").
 * On success *field points at the xbuf_field (borrowed from the format) and
 * *offset (may be NULL) receives its offset from the start of `type`.
 * XBUF_EINVAL for NULL arguments; XBUF_ETYPE when `type` (or a step of the
 * path) is not a struct; XBUF_ERANGE when no field has that name (the
 * message names the missing step).
 */
XBUF_API int xbuf_type_field(const xbuf_type *type, const char *path, const xbuf_field **field,
                             ptrdiff_t *offset, xbuf_error *err);

/* ---- walking the leaves --------------------------------------------- */

/* One leaf of an item, as the walker reports it. */
typedef struct xbuf_leaf {
    const xbuf_type *type; /* a leaf kind (never STRUCT or ARRAY) */
    ptrdiff_t offset;      /* from the start of the item */
    const char *path;      /* e.g. "c.d[1][0]" or "f1"; valid during the callback */
    int depth;             /* struct nesting depth, 0 at the top */
} xbuf_leaf;

/* Return 0 to go on, non-zero to stop the walk (xbuf_type_walk returns it). */
typedef int (*xbuf_leaf_visitor)(const xbuf_leaf *leaf, void *context);

/*
 * Visit every leaf of one item of `type` in memory order of its tree
 * (struct members in order, array elements in C order), with its path and
 * offset.  Unnamed struct members are named f0, f1, ... by position (as
 * NumPy does).  Returns 0, the visitor's first non-zero return, or
 * XBUF_EINVAL for NULL arguments / XBUF_ENOMEM.
 */
XBUF_API int xbuf_type_walk(const xbuf_type *type, xbuf_leaf_visitor visit, void *context,
                            xbuf_error *err);

/* ---- the scalar codec ----------------------------------------------- */

/*
 * Read and write one value of a leaf type at any address: unaligned, in
 * either byte order.  `type` must be a leaf of the right family, else
 * XBUF_ETYPE; NULL arguments are XBUF_EINVAL.
 *
 * Integers (INT UINT BOOL CHAR, and BITS):  through int64_t / uint64_t.
 * Writing a value the type cannot hold is XBUF_ERANGE (nothing written)
 * unless `wrap` is true, which keeps the low bits.
 */
XBUF_API int xbuf_scalar_read_int(const xbuf_type *type, const void *src, int64_t *out,
                                  xbuf_error *err);
XBUF_API int xbuf_scalar_read_uint(const xbuf_type *type, const void *src, uint64_t *out,
                                   xbuf_error *err);
XBUF_API int xbuf_scalar_write_int(const xbuf_type *type, void *dst, int64_t value, bool wrap,
                                   xbuf_error *err);
XBUF_API int xbuf_scalar_write_uint(const xbuf_type *type, void *dst, uint64_t value, bool wrap,
                                    xbuf_error *err);

/* Floats (FLOAT: e f d g) through long double, which holds every one of
 * them exactly.  Writing rounds to nearest; a finite value too large for
 * the type becomes infinity unless `wrap` is false, which makes it
 * XBUF_ERANGE (nothing written). */
XBUF_API int xbuf_scalar_read_float(const xbuf_type *type, const void *src, long double *out,
                                    xbuf_error *err);
XBUF_API int xbuf_scalar_write_float(const xbuf_type *type, void *dst, long double value,
                                     bool wrap, xbuf_error *err);

/* Complex (COMPLEX): real and imaginary parts, as for floats. */
XBUF_API int xbuf_scalar_read_complex(const xbuf_type *type, const void *src, long double *re,
                                      long double *im, xbuf_error *err);
XBUF_API int xbuf_scalar_write_complex(const xbuf_type *type, void *dst, long double re,
                                       long double im, bool wrap, xbuf_error *err);

/* Code unit `index` of a UCS2 / UCS4 string (XBUF_ERANGE past its count). */
XBUF_API int xbuf_scalar_read_unit(const xbuf_type *type, const void *src, ptrdiff_t index,
                                   uint32_t *out, xbuf_error *err);
XBUF_API int xbuf_scalar_write_unit(const xbuf_type *type, void *dst, ptrdiff_t index,
                                    uint32_t unit, xbuf_error *err);

/* Pointers (VOIDP OBJECT POINTER FUNCTION) as integers of pointer width. */
XBUF_API int xbuf_scalar_read_pointer(const xbuf_type *type, const void *src, uintptr_t *out,
                                      xbuf_error *err);
XBUF_API int xbuf_scalar_write_pointer(const xbuf_type *type, void *dst, uintptr_t value,
                                       xbuf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_FORMAT_H */
