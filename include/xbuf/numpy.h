/*
 * xbuf/numpy.h -- layer 5: formats in the words of NumPy's array interface.
 *
 * NumPy describes an item with a "typestr" (NumPy's array interface,
 * version 3): a byte order ('<' little, '>' big, '|' not applicable), a
 * kind letter and a size in bytes -- "<i4", ">f8", "|b1", "<c16", "|S10",
 * "<U3", "|V8", "|O".  Records are lists of such entries (the interface's
 * "descr"), which a caller builds from the struct's fields and these
 * typestrs; sub-arrays carry their shape beside the element's typestr.
 */
#ifndef XBUF_NUMPY_H
#define XBUF_NUMPY_H

#include <stddef.h>

#include "base.h"
#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for any typestr xbuf writes, with its NUL. */
#define XBUF_NUMPY_TYPESTR_SIZE 32

/*
 * Write the typestr of one leaf `type` (or a list of one item, "5t",
 * "4x:raw:") into buf (capacity `size`, NUL-terminated):
 *   INT UINT (any size NumPy has: 1 2 4 8)   "<i4" ">u2" "|i1"
 *   BOOL                                     "|b1"
 *   FLOAT e f d g                            "<f2" "<f4" "<f8" "<f16" (g: the
 *                                            native long double's storage size)
 *   COMPLEX Ze Zf Zd Zg                      "<c8" "<c16" "<c32" (Ze: none in NumPy)
 *   CHAR, BYTES s                            "|S1", "|S<count>"
 *   VOID (named x)                           "|V<count>"
 *   UCS4 w                                   "<U<count>"
 *   OBJECT O                                 "|O"
 *   VOIDP P, POINTER &, FUNCTION X           "<u8" (an address is an unsigned integer)
 * Errors: XBUF_EINVAL for NULL arguments or a STRUCT or ARRAY (not a
 * leaf: describe its members); XBUF_EUNSUPPORTED for what NumPy has no type
 * for (bit fields, Pascal strings, UCS-2 strings, 'Ze', integers of other
 * sizes), with the reason; XBUF_ERANGE when buf is too small.
 */
XBUF_API int xbuf_numpy_typestr(const xbuf_type *type, char *buf, size_t size, xbuf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_NUMPY_H */
