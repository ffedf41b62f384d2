/*
 * numpy.c -- a leaf of a format as NumPy's array interface names it.
 *
 * NumPy's kinds and sizes are few and fixed; everything else is refused
 * with the reason, so a caller never hands NumPy a description that reads
 * the memory differently from xbuf.
 */
#include <stdio.h>

#include "format_internal.h"

static int unsupported(xbuf_error *err, const char *what)
{
    return xbuf_error_set(err, XBUF_EUNSUPPORTED, "NumPy has no type for %s", what);
}

/* '<' or '>' for a value whose bytes have an order, '|' otherwise. */
static char order_of(const xbuf_type *t, ptrdiff_t unit)
{
    return unit > 1 ? t->byteorder : '|';
}

/* Kind letter, order and size of a leaf, or a refusal. */
static int describe(const xbuf_type *t, char *kind, char *order, ptrdiff_t *size,
                    xbuf_error *err)
{
    *size = t->itemsize;
    switch (t->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
        if (t->itemsize != 1 && t->itemsize != 2 && t->itemsize != 4 && t->itemsize != 8)
            return unsupported(err, "integers of this size");
        *kind = t->kind == XBUF_KIND_INT ? 'i' : 'u';
        *order = order_of(t, t->itemsize);
        return XBUF_OK;
    case XBUF_KIND_BOOL:
        *kind = 'b';
        *order = '|';
        return t->itemsize == 1 ? XBUF_OK : unsupported(err, "booleans wider than a byte");
    case XBUF_KIND_FLOAT:
        *kind = 'f';
        *order = order_of(t, t->itemsize);
        return XBUF_OK;
    case XBUF_KIND_COMPLEX:
        if (t->code == 'e')
            return unsupported(err, "complex numbers of half floats ('Ze')");
        *kind = 'c';
        *order = order_of(t, t->itemsize / 2);
        return XBUF_OK;
    case XBUF_KIND_CHAR:
    case XBUF_KIND_BYTES:
        *kind = 'S';
        *order = '|';
        return XBUF_OK;
    case XBUF_KIND_VOID:
        *kind = 'V';
        *order = '|';
        return XBUF_OK;
    case XBUF_KIND_UCS4:
        *kind = 'U';
        *order = order_of(t, 4);
        *size = t->count; /* NumPy counts characters, not bytes */
        return XBUF_OK;
    case XBUF_KIND_OBJECT:
        *kind = 'O';
        *order = '|';
        *size = 0;
        return XBUF_OK;
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION:
        *kind = 'u';
        *order = order_of(t, t->itemsize);
        return XBUF_OK;
    case XBUF_KIND_BITS: return unsupported(err, "bit fields ('t')");
    case XBUF_KIND_PASCAL: return unsupported(err, "Pascal strings ('p')");
    case XBUF_KIND_UCS2: return unsupported(err, "UCS-2 strings ('u')");
    default:
        return xbuf_error_set(err, XBUF_EINVAL,
                              "a typestr describes one leaf; describe a struct or array by "
                              "its members");
    }
}

int xbuf_numpy_typestr(const xbuf_type *type, char *buf, size_t size, xbuf_error *err)
{
    RETURN_ERROR_IF(type == NULL || buf == NULL, err, XBUF_EINVAL, "NULL type or buffer");
    char kind = 0, order = 0;
    ptrdiff_t bytes = 0;
    RETURN_IF_FAILED(describe(xbuf_single_value(type), &kind, &order, &bytes, err));
    int n = kind == 'O' ? snprintf(buf, size, "|O")
                        : snprintf(buf, size, "%c%c%td", order, kind, bytes);
    RETURN_ERROR_IF(n < 0 || (size_t)n >= size, err, XBUF_ERANGE,
                    "the typestr needs %d bytes and a NUL, the buffer has %zu", n, size);
    return XBUF_OK;
}
