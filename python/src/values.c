/*
 * values.c -- one item of a format as a Python object, and back.
 *
 * Every leaf goes through the library's scalar codec (xbuf_scalar_read_* /
 * xbuf_scalar_write_*), so byte orders, unaligned addresses, half floats,
 * long doubles and bit fields are decoded in one place; this file only maps
 * codec values to and from Python objects and walks structs and arrays.
 *
 * The rules follow memoryview's item assignment and struct.pack, except
 * where those two disagree or do not reach:
 *
 *   - 'f' (and Zf): a finite value too large becomes infinity, as
 *     memoryview stores it (struct.pack raises OverflowError instead).  'e'
 *     (and Ze) overflow at 65520, where silent infinity would surprise:
 *     ValueError, as struct raises (memoryview on 3.11 has no 'e').
 *     'd' and 'g' hold every Python float, so the question never arises.
 *   - 's' and 'x:name:' take bytes-like values of at most `count` bytes,
 *     NUL-padded; a longer value is a ValueError (struct silently truncates,
 *     which loses data without a word).  'p' likewise takes at most count-1
 *     bytes; its length byte is min(n, 255) and unpack clamps it to count-1,
 *     as struct does ('0p' unpacks to b'', where struct fails).
 *   - 'P' '&' 'X' are addresses: like memoryview (PyLong_AsVoidPtr), any
 *     int (not other objects with __index__) from -2**63 to 2**64-1, a
 *     negative one stored as its two's complement; they unpack as unsigned.
 *   - 'c' takes bytes of length 1, not bytearray, as struct and memoryview.
 *   - 'O' unpacks to the object (a new reference; None for NULL) but cannot
 *     be packed: the memory's owner manages those references, and a pointer
 *     stored from here would own none (the object could die under it) while
 *     the reference the old pointer held would never be dropped.  The one
 *     exception is writing back the very object already stored (None for
 *     NULL), which changes no byte, so `v[i] = v[i]` works for structs with
 *     object members.
 *   - 'g' unpacks to a Python float, rounded from the long double.
 *   - Bit fields wider than the codec's 64 bits are read and written in
 *     32-bit slices, each one a bit-field leaf the codec handles.
 *
 * Errors keep memoryview's wording ("memoryview: invalid type for format
 * 'B'") for plain scalars; structural and length errors add what was
 * expected after a colon.  Exceptions other than TypeError, ValueError and
 * OverflowError raised by a value's own __index__ / __float__ propagate
 * unchanged, as in memoryview.
 */
#include "glue.h"

#include <string.h>

/* ---- errors --------------------------------------------------------------- */

/* Who is packing (for messages). */
typedef struct pack_ctx {
    const char *what;   /* "memoryview", "Format.pack", or NULL */
    const char *format; /* the format text the caller shows, or NULL */
} pack_ctx;

/* Raise `exc` ("invalid type" for TypeError, else "invalid value") with the
 * caller's prefix and format, and `detail` when there is one. */
static int invalid(const pack_ctx *c, PyObject *exc, const char *detail)
{
    PyErr_Format(exc, "%s%sinvalid %s%s%s%s%s%s", c->what ? c->what : "", c->what ? ": " : "",
                 exc == PyExc_TypeError ? "type" : "value",
                 c->format ? " for format '" : "", c->format ? c->format : "",
                 c->format ? "'" : "", detail ? ": " : "", detail ? detail : "");
    return -1;
}

/* As memoryview does: a failed conversion by the value's own methods becomes
 * our TypeError / ValueError, anything else propagates. */
static int conversion_failed(const pack_ctx *c)
{
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        return invalid(c, PyExc_TypeError, NULL);
    }
    if (PyErr_ExceptionMatches(PyExc_ValueError) ||
        PyErr_ExceptionMatches(PyExc_OverflowError)) {
        PyErr_Clear();
        return invalid(c, PyExc_ValueError, NULL);
    }
    return -1;
}

/* A codec write failed: out of range is the value's fault, anything else
 * (an inconsistent or unsupported type) the library's. */
static int write_failed(const pack_ctx *c, int rc, const xbuf_error *err)
{
    if (rc == XBUF_ERANGE)
        return invalid(c, PyExc_ValueError, NULL);
    return xbufpy_raise_int(err);
}

/* ---- unpacking: leaves ---------------------------------------------------- */

static PyObject *unpack_int(const xbuf_type *t, const char *item)
{
    xbuf_error err;
    if (t->kind == XBUF_KIND_INT || t->kind == XBUF_KIND_BOOL) {
        int64_t v = 0;
        if (xbuf_scalar_read_int(t, item, &v, &err) < 0)
            return xbufpy_raise(&err);
        return t->kind == XBUF_KIND_BOOL ? PyBool_FromLong(v != 0) : PyLong_FromLongLong(v);
    }
    uint64_t u;
    if (xbuf_scalar_read_uint(t, item, &u, &err) < 0)
        return xbufpy_raise(&err);
    return PyLong_FromUnsignedLongLong(u);
}

/* Python floats are doubles: a 'g' value is rounded to the nearest one. */
static PyObject *unpack_float(const xbuf_type *t, const char *item)
{
    xbuf_error err;
    long double v;
    if (xbuf_scalar_read_float(t, item, &v, &err) < 0)
        return xbufpy_raise(&err);
    return PyFloat_FromDouble((double)v);
}

static PyObject *unpack_complex(const xbuf_type *t, const char *item)
{
    xbuf_error err;
    long double re, im;
    if (xbuf_scalar_read_complex(t, item, &re, &im, &err) < 0)
        return xbufpy_raise(&err);
    return PyComplex_FromDoubles((double)re, (double)im);
}

/* struct's reading: the length byte, clamped to the room there is. */
static PyObject *unpack_pascal(const xbuf_type *t, const char *item)
{
    if (t->count == 0)
        return PyBytes_FromStringAndSize("", 0);
    Py_ssize_t n = (unsigned char)item[0];
    if (n >= t->count)
        n = t->count - 1;
    return PyBytes_FromStringAndSize(item + 1, n);
}

/* A UCS string keeps all its units, NULs included; a UCS-4 unit beyond
 * U+10FFFF cannot be a str character. */
static PyObject *unpack_ucs(const xbuf_type *t, const char *item)
{
    Py_UCS4 *units = PyMem_New(Py_UCS4, (size_t)(t->count > 0 ? t->count : 1));
    if (units == NULL)
        return PyErr_NoMemory();
    xbuf_error err;
    for (ptrdiff_t i = 0; i < t->count; i++) {
        uint32_t u;
        if (xbuf_scalar_read_unit(t, item, i, &u, &err) < 0) {
            PyMem_Free(units);
            return xbufpy_raise(&err);
        }
        if (u > 0x10FFFF) {
            PyMem_Free(units);
            char message[80];
            snprintf(message, sizeof message, "UCS-4 unit 0x%08lx at index %zd is not a code point",
                     (unsigned long)u, (Py_ssize_t)i);
            PyErr_SetString(PyExc_ValueError, message);
            return NULL;
        }
        units[i] = u;
    }
    PyObject *s = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, units, t->count);
    PyMem_Free(units);
    return s;
}

/* Width of the slices wide bit fields are cut into. */
#define BITS_SLICE 32

/* Slice `k` of a bit field: a bit-field leaf the codec can handle, 4k
 * bytes further on (32k bits, with the same bit offset in the byte). */
static xbuf_type bits_slice(const xbuf_type *t, ptrdiff_t k)
{
    xbuf_type s = *t;
    ptrdiff_t rest = t->count - k * BITS_SLICE;
    s.count = rest < BITS_SLICE ? rest : BITS_SLICE;
    s.itemsize = (s.bit_offset + s.count + 7) / 8;
    return s;
}

/* A bit field wider than 64 bits, slice by slice, most significant first. */
static PyObject *unpack_wide_bits(const xbuf_type *t, const char *item)
{
    PyObject *value = PyLong_FromLong(0), *shift = PyLong_FromLong(BITS_SLICE);
    if (value == NULL || shift == NULL)
        goto fail;
    for (ptrdiff_t k = (t->count - 1) / BITS_SLICE; k >= 0; k--) {
        xbuf_type s = bits_slice(t, k);
        xbuf_error err;
        uint64_t u = 0;
        if (xbuf_scalar_read_uint(&s, item + k * (BITS_SLICE / 8), &u, &err) < 0) {
            xbufpy_raise(&err);
            goto fail;
        }
        PyObject *part = PyLong_FromUnsignedLongLong(u);
        PyObject *shifted = part ? PyNumber_Lshift(value, shift) : NULL;
        Py_SETREF(value, shifted ? PyNumber_Or(shifted, part) : NULL);
        Py_XDECREF(shifted);
        Py_XDECREF(part);
        if (value == NULL)
            goto fail;
    }
    Py_DECREF(shift);
    return value;
fail:
    Py_XDECREF(value);
    Py_XDECREF(shift);
    return NULL;
}

static PyObject *unpack_pointer(const xbuf_type *t, const char *item)
{
    xbuf_error err;
    uintptr_t p;
    if (xbuf_scalar_read_pointer(t, item, &p, &err) < 0)
        return xbufpy_raise(&err);
    if (t->kind != XBUF_KIND_OBJECT)
        return PyLong_FromUnsignedLongLong((unsigned long long)p);
    if (p == 0)
        Py_RETURN_NONE;
    return Py_NewRef((PyObject *)p);
}

/* ---- unpacking: structs and arrays ---------------------------------------- */

static PyObject *unpack_any(const xbuf_type *t, const char *item);

/* A top-level list of items with one member ("5t", "ix", "i:name:") holds
 * one value, not a record: it reads and writes as that member. */
static bool single_item_list(const xbuf_type *t)
{
    return t->kind == XBUF_KIND_STRUCT && !t->braces && t->nfields == 1;
}

/* Members only: padding is not a field of the tree at all. */
static PyObject *unpack_struct(const xbuf_type *t, const char *item)
{
    if (single_item_list(t))
        return unpack_any(t->fields[0].type, item + t->fields[0].offset);
    PyObject *tuple = PyTuple_New(t->nfields);
    if (tuple == NULL)
        return NULL;
    for (ptrdiff_t i = 0; i < t->nfields; i++) {
        PyObject *v = unpack_any(t->fields[i].type, item + t->fields[i].offset);
        if (v == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i, v);
    }
    return tuple;
}

/* Bytes between consecutive indices of dimension `dim` (C order). */
static ptrdiff_t array_stride(const xbuf_type *t, int dim)
{
    ptrdiff_t stride = t->base->itemsize;
    for (int d = t->ndim - 1; d > dim; d--)
        stride *= t->shape[d]; /* cannot overflow: the whole array's size fits */
    return stride;
}

static PyObject *unpack_dim(const xbuf_type *t, const char *item, int dim)
{
    ptrdiff_t n = t->shape[dim], stride = array_stride(t, dim);
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (ptrdiff_t i = 0; i < n; i++) {
        const char *at = item + i * stride;
        PyObject *v = dim + 1 < t->ndim ? unpack_dim(t, at, dim + 1) : unpack_any(t->base, at);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *unpack_any(const xbuf_type *t, const char *item)
{
    switch (t->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
    case XBUF_KIND_BOOL:
        return unpack_int(t, item);
    case XBUF_KIND_BITS:
        return t->count > 64 ? unpack_wide_bits(t, item) : unpack_int(t, item);
    case XBUF_KIND_FLOAT:
        return unpack_float(t, item);
    case XBUF_KIND_COMPLEX:
        return unpack_complex(t, item);
    case XBUF_KIND_CHAR:
    case XBUF_KIND_BYTES:
    case XBUF_KIND_VOID:
        return PyBytes_FromStringAndSize(item, t->itemsize);
    case XBUF_KIND_PASCAL:
        return unpack_pascal(t, item);
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4:
        return unpack_ucs(t, item);
    case XBUF_KIND_OBJECT:
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION:
        return unpack_pointer(t, item);
    case XBUF_KIND_STRUCT:
        return unpack_struct(t, item);
    case XBUF_KIND_ARRAY:
        return unpack_dim(t, item, 0);
    }
    return PyErr_Format(PyExc_SystemError, "xbuf: unknown type kind %d", (int)t->kind);
}

PyObject *xbufpy_unpack(const xbuf_type *type, const char *item)
{
    if (type == NULL || (item == NULL && type->itemsize > 0)) {
        PyErr_SetString(PyExc_SystemError, "xbufpy_unpack: NULL type or item");
        return NULL;
    }
    return unpack_any(type, item);
}

static int object_leaf(const xbuf_leaf *leaf, void *unused)
{
    (void)unused;
    return leaf->type->kind == XBUF_KIND_OBJECT;
}

bool xbufpy_holds_objects(const xbuf_type *type)
{
    return xbuf_type_walk(type, object_leaf, NULL, NULL) != 0;
}

/* ---- rows: one type, many items ------------------------------------------- */

/* memoryview's tolist reads native items with plain loads in a loop; so do
 * these, one loop per type.  memcpy because items need not be aligned. */
#define NATIVE_ROW(name, ctype, convert)                                                   \
    static int name(const xbuf_type *t, const char *item, ptrdiff_t count, ptrdiff_t stride, \
                    PyObject *list, Py_ssize_t at)                                         \
    {                                                                                      \
        (void)t;                                                                           \
        for (ptrdiff_t i = 0; i < count; i++) { /* no step past the last item */           \
            ctype v;                                                                       \
            memcpy(&v, item + i * stride, sizeof v);                                       \
            PyObject *value = convert;                                                     \
            if (value == NULL)                                                             \
                return -1;                                                                 \
            PyList_SET_ITEM(list, at + i, value);                                          \
        }                                                                                  \
        return 0;                                                                          \
    }

NATIVE_ROW(row_i8, int8_t, PyLong_FromLong(v))
NATIVE_ROW(row_u8, uint8_t, PyLong_FromLong(v))
NATIVE_ROW(row_i16, int16_t, PyLong_FromLong(v))
NATIVE_ROW(row_u16, uint16_t, PyLong_FromLong(v))
NATIVE_ROW(row_i32, int32_t, PyLong_FromLong(v))
NATIVE_ROW(row_u32, uint32_t, PyLong_FromUnsignedLong(v))
NATIVE_ROW(row_i64, int64_t, PyLong_FromLongLong(v))
NATIVE_ROW(row_u64, uint64_t, PyLong_FromUnsignedLongLong(v))
NATIVE_ROW(row_f32, float, PyFloat_FromDouble(v))
NATIVE_ROW(row_f64, double, PyFloat_FromDouble(v))
NATIVE_ROW(row_bool, uint8_t, PyBool_FromLong(v != 0))
NATIVE_ROW(row_char, char, PyBytes_FromStringAndSize(&v, 1))

static int row_any(const xbuf_type *t, const char *item, ptrdiff_t count, ptrdiff_t stride,
                   PyObject *list, Py_ssize_t at)
{
    for (ptrdiff_t i = 0; i < count; i++) {
        PyObject *value = unpack_any(t, item + i * stride);
        if (value == NULL)
            return -1;
        PyList_SET_ITEM(list, at + i, value);
    }
    return 0;
}

static xbufpy_row_reader integer_row(bool is_signed, ptrdiff_t size)
{
    switch (size) {
    case 1: return is_signed ? row_i8 : row_u8;
    case 2: return is_signed ? row_i16 : row_u16;
    case 4: return is_signed ? row_i32 : row_u32;
    case 8: return is_signed ? row_i64 : row_u64;
    default: return row_any;
    }
}

xbufpy_row_reader xbufpy_row_reader_for(const xbuf_type *t)
{
    bool native = t->itemsize == 1 || t->byteorder == (PY_BIG_ENDIAN ? XBUF_BIG : XBUF_LITTLE);
    if (!native)
        return row_any;
    switch (t->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
        return integer_row(t->kind == XBUF_KIND_INT, t->itemsize);
    case XBUF_KIND_BOOL:
        return t->itemsize == 1 ? row_bool : row_any;
    case XBUF_KIND_CHAR:
        return row_char;
    case XBUF_KIND_FLOAT:
        return t->code == 'f' && t->itemsize == 4   ? row_f32
               : t->code == 'd' && t->itemsize == 8 ? row_f64
                                                    : row_any;
    default:
        return row_any;
    }
}

/* ---- packing: Python values as C values ----------------------------------- */

/* An integer (anything with __index__) as int64_t; too large is a ValueError. */
static int as_int64(const pack_ctx *c, PyObject *value, int64_t *out)
{
    PyObject *index = PyNumber_Index(value);
    if (index == NULL)
        return conversion_failed(c);
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (v == -1 && PyErr_Occurred())
        return conversion_failed(c);
    if (overflow != 0)
        return invalid(c, PyExc_ValueError, NULL);
    *out = (int64_t)v;
    return 0;
}

/* Whether an int is negative: 1, 0, or -1 with an exception set. */
static int is_negative(PyObject *index)
{
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL)
        return -1;
    int negative = PyObject_RichCompareBool(index, zero, Py_LT);
    Py_DECREF(zero);
    return negative;
}

/* An integer as uint64_t; negative or too large is a ValueError. */
static int as_uint64(const pack_ctx *c, PyObject *value, uint64_t *out)
{
    PyObject *index = PyNumber_Index(value);
    if (index == NULL)
        return conversion_failed(c);
    int negative = is_negative(index);
    unsigned long long v = negative == 0 ? PyLong_AsUnsignedLongLong(index) : 0;
    Py_DECREF(index);
    if (negative < 0 || (v == (unsigned long long)-1 && PyErr_Occurred()))
        return conversion_failed(c);
    if (negative)
        return invalid(c, PyExc_ValueError, NULL);
    *out = (uint64_t)v;
    return 0;
}

/* A bytes-like value (not str) with at most `room` bytes; the buffer is
 * held on success and must be released. */
static int get_bytes(const pack_ctx *c, PyObject *value, Py_ssize_t room, Py_buffer *buf)
{
    if (PyUnicode_Check(value) || PyObject_GetBuffer(value, buf, PyBUF_SIMPLE) < 0) {
        /* "not a bytes-like object" becomes ours; an exporter's own error
         * (BufferError, MemoryError...) is the better message. */
        if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_TypeError))
            return -1;
        PyErr_Clear();
        char detail[80];
        snprintf(detail, sizeof detail, "expected a bytes-like object, not '%.40s'",
                 Py_TYPE(value)->tp_name);
        return invalid(c, PyExc_TypeError, detail);
    }
    if (buf->len > room) {
        char detail[96];
        snprintf(detail, sizeof detail, "%zd bytes do not fit in %zd", buf->len, room);
        PyBuffer_Release(buf);
        return invalid(c, PyExc_ValueError, detail);
    }
    return 0;
}

/* ---- packing: leaves ------------------------------------------------------- */

static int pack_integer(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    xbuf_error err;
    int rc;
    if (t->kind == XBUF_KIND_INT) {
        int64_t v = 0;
        if (as_int64(c, value, &v) < 0)
            return -1;
        rc = xbuf_scalar_write_int(t, item, v, false, &err);
    } else {
        uint64_t u = 0;
        if (as_uint64(c, value, &u) < 0)
            return -1;
        rc = xbuf_scalar_write_uint(t, item, u, false, &err);
    }
    return rc < 0 ? write_failed(c, rc, &err) : 0;
}

/* Any object, by its truth value (struct's and memoryview's rule). */
static int pack_bool(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    int truth = PyObject_IsTrue(value);
    if (truth < 0)
        return -1;
    xbuf_error err;
    int rc = xbuf_scalar_write_int(t, item, truth, false, &err);
    return rc < 0 ? write_failed(c, rc, &err) : 0;
}

/* bytes or bytearray of length 1, as struct and memoryview take for 'c'. */
static int pack_char(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    const char *data;
    Py_ssize_t n;
    if (!PyBytes_Check(value))
        return invalid(c, PyExc_TypeError, NULL);
    data = PyBytes_AS_STRING(value);
    n = PyBytes_GET_SIZE(value);
    if (n != 1)
        return invalid(c, PyExc_ValueError, NULL);
    xbuf_error err;
    int rc = xbuf_scalar_write_uint(t, item, (unsigned char)data[0], false, &err);
    return rc < 0 ? write_failed(c, rc, &err) : 0;
}

/* Too large for 'e' is an error; for 'f' it is infinity (see the top). */
static bool float_wraps(const xbuf_type *t)
{
    return t->code != 'e';
}

static int pack_float(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    double v = PyFloat_AsDouble(value);
    if (v == -1.0 && PyErr_Occurred())
        return conversion_failed(c);
    xbuf_error err;
    int rc = xbuf_scalar_write_float(t, item, v, float_wraps(t), &err);
    return rc < 0 ? write_failed(c, rc, &err) : 0;
}

/* complex, float, int, or anything with __complex__ / __float__ / __index__. */
static int pack_complex(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    Py_complex v = PyComplex_AsCComplex(value);
    if (v.real == -1.0 && PyErr_Occurred())
        return conversion_failed(c);
    xbuf_error err;
    int rc = xbuf_scalar_write_complex(t, item, v.real, v.imag, float_wraps(t), &err);
    return rc < 0 ? write_failed(c, rc, &err) : 0;
}

/* 's' and named 'x': at most itemsize bytes, the rest NUL. */
static int pack_bytes(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    Py_buffer buf;
    if (get_bytes(c, value, t->itemsize, &buf) < 0)
        return -1;
    memcpy(item, buf.buf, (size_t)buf.len);
    memset(item + buf.len, 0, (size_t)(t->itemsize - buf.len));
    PyBuffer_Release(&buf);
    return 0;
}

/* 'p': a length byte (at most 255, as struct writes it), the bytes, NULs. */
static int pack_pascal(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    Py_buffer buf;
    if (get_bytes(c, value, t->count > 0 ? t->count - 1 : 0, &buf) < 0)
        return -1;
    if (t->count > 0) {
        item[0] = (char)(unsigned char)(buf.len < 255 ? buf.len : 255);
        memcpy(item + 1, buf.buf, (size_t)buf.len);
        memset(item + 1 + buf.len, 0, (size_t)(t->count - 1 - buf.len));
    }
    PyBuffer_Release(&buf);
    return 0;
}

/* 'u' / 'w': a str of at most count code points, the rest NUL units. */
static int pack_ucs(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    if (!PyUnicode_Check(value))
        return invalid(c, PyExc_TypeError, "expected a str");
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    if (n > t->count) {
        char detail[96];
        snprintf(detail, sizeof detail, "%zd code points do not fit in %zd", n, t->count);
        return invalid(c, PyExc_ValueError, detail);
    }
    for (ptrdiff_t i = 0; i < t->count; i++) {
        Py_UCS4 u = i < n ? PyUnicode_READ_CHAR(value, i) : 0;
        xbuf_error err;
        int rc = xbuf_scalar_write_unit(t, item, i, u, &err);
        if (rc == XBUF_ERANGE) {
            char detail[96];
            snprintf(detail, sizeof detail, "U+%04lX at index %zd does not fit in UCS-2",
                     (unsigned long)u, (Py_ssize_t)i);
            return invalid(c, PyExc_ValueError, detail);
        }
        if (rc < 0)
            return xbufpy_raise_int(&err);
    }
    return 0;
}

/* Whether 0 <= v < 2**width: 1, 0, or -1 with an exception set. */
static int fits_bits(PyObject *v, ptrdiff_t width)
{
    int negative = is_negative(v);
    if (negative != 0)
        return negative < 0 ? -1 : 0;
    PyObject *bits = PyObject_CallMethod(v, "bit_length", NULL);
    if (bits == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(bits);
    Py_DECREF(bits);
    if (n == -1 && PyErr_Occurred())
        return -1;
    return n <= width;
}

/* A bit field wider than 64 bits: 0 <= value < 2**count, slice by slice. */
static int pack_wide_bits(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    PyObject *v = PyNumber_Index(value);
    if (v == NULL)
        return conversion_failed(c);
    int fits = fits_bits(v, t->count);
    if (fits <= 0) {
        Py_DECREF(v);
        return fits < 0 ? -1 : invalid(c, PyExc_ValueError, NULL);
    }
    for (ptrdiff_t k = 0; k * BITS_SLICE < t->count; k++) {
        xbuf_type s = bits_slice(t, k);
        /* The low 32 bits; the mask cannot fail on a non-negative int. */
        uint64_t u = (uint64_t)PyLong_AsUnsignedLongLongMask(v) & 0xFFFFFFFFu;
        PyObject *shift = PyLong_FromLong(BITS_SLICE);
        Py_SETREF(v, shift ? PyNumber_Rshift(v, shift) : NULL);
        Py_XDECREF(shift);
        if (v == NULL)
            return -1;
        xbuf_error err;
        int rc = xbuf_scalar_write_uint(&s, item + k * (BITS_SLICE / 8), u, false, &err);
        if (rc < 0) {
            Py_DECREF(v);
            return write_failed(c, rc, &err);
        }
    }
    Py_DECREF(v);
    return 0;
}

/* Addresses are unsigned and pointer-wide. */
static int pack_pointer(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    uint64_t u;
    int64_t i;
    if (!PyLong_Check(value)) /* memoryview (PyLong_AsVoidPtr) takes ints only */
        return invalid(c, PyExc_TypeError, NULL);
    PyObject *index = PyNumber_Index(value);
    if (index == NULL)
        return conversion_failed(c);
    int negative = is_negative(index);
    int rc = negative < 0 ? conversion_failed(c)
             : negative   ? as_int64(c, index, &i)
                          : as_uint64(c, index, &u);
    Py_DECREF(index);
    if (rc < 0)
        return -1;
    if (negative)
        u = (uint64_t)i;
    if (u > UINTPTR_MAX)
        return invalid(c, PyExc_ValueError, NULL);
    xbuf_error err;
    rc = xbuf_scalar_write_pointer(t, item, (uintptr_t)u, &err);
    return rc < 0 ? write_failed(c, rc, &err) : 0;
}

/* Only the object already there (see the top): nothing to write. */
static int pack_object(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    xbuf_error err;
    uintptr_t p;
    if (xbuf_scalar_read_pointer(t, item, &p, &err) < 0)
        return xbufpy_raise_int(&err);
    if (p == (uintptr_t)value || (p == 0 && value == Py_None))
        return 0;
    return invalid(c, PyExc_TypeError,
                   "object pointers ('O') cannot be written from Python: it would break "
                   "reference counting");
}

/* ---- packing: structs and arrays ------------------------------------------ */

static int pack_any(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value);

/* `value` as a fast sequence of exactly n items (str is no sequence here:
 * its characters are never what a struct or array means). */
static PyObject *exact_sequence(const pack_ctx *c, PyObject *value, Py_ssize_t n)
{
    char detail[96];
    if (PyUnicode_Check(value) || !PySequence_Check(value)) {
        snprintf(detail, sizeof detail, "expected a sequence of %zd values, not '%.40s'", n,
                 Py_TYPE(value)->tp_name);
        invalid(c, PyExc_TypeError, detail);
        return NULL;
    }
    PyObject *seq = PySequence_Fast(value, "expected a sequence");
    if (seq == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        snprintf(detail, sizeof detail, "expected a sequence of %zd values, got %zd", n,
                 PySequence_Fast_GET_SIZE(seq));
        Py_DECREF(seq);
        invalid(c, PyExc_ValueError, detail);
        return NULL;
    }
    return seq;
}

static int pack_struct(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    if (single_item_list(t))
        return pack_any(c, t->fields[0].type, item + t->fields[0].offset, value);
    PyObject *seq = exact_sequence(c, value, t->nfields);
    if (seq == NULL)
        return -1;
    for (ptrdiff_t i = 0; i < t->nfields; i++) {
        const xbuf_field *f = &t->fields[i];
        if (pack_any(c, f->type, item + f->offset, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static int pack_dim(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value, int dim)
{
    PyObject *seq = exact_sequence(c, value, t->shape[dim]);
    if (seq == NULL)
        return -1;
    ptrdiff_t stride = array_stride(t, dim);
    for (ptrdiff_t i = 0; i < t->shape[dim]; i++) {
        PyObject *v = PySequence_Fast_GET_ITEM(seq, i);
        char *at = item + i * stride;
        int rc = dim + 1 < t->ndim ? pack_dim(c, t, at, v, dim + 1) : pack_any(c, t->base, at, v);
        if (rc < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static int pack_any(const pack_ctx *c, const xbuf_type *t, char *item, PyObject *value)
{
    switch (t->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
        return pack_integer(c, t, item, value);
    case XBUF_KIND_BITS:
        return t->count > 64 ? pack_wide_bits(c, t, item, value)
                             : pack_integer(c, t, item, value);
    case XBUF_KIND_BOOL:
        return pack_bool(c, t, item, value);
    case XBUF_KIND_CHAR:
        return pack_char(c, t, item, value);
    case XBUF_KIND_FLOAT:
        return pack_float(c, t, item, value);
    case XBUF_KIND_COMPLEX:
        return pack_complex(c, t, item, value);
    case XBUF_KIND_BYTES:
    case XBUF_KIND_VOID:
        return pack_bytes(c, t, item, value);
    case XBUF_KIND_PASCAL:
        return pack_pascal(c, t, item, value);
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4:
        return pack_ucs(c, t, item, value);
    case XBUF_KIND_OBJECT:
        return pack_object(c, t, item, value);
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION:
        return pack_pointer(c, t, item, value);
    case XBUF_KIND_STRUCT:
        return pack_struct(c, t, item, value);
    case XBUF_KIND_ARRAY:
        return pack_dim(c, t, item, value, 0);
    }
    PyErr_Format(PyExc_SystemError, "xbuf: unknown type kind %d", (int)t->kind);
    return -1;
}

/* Items up to this size are packed in a scratch buffer on the stack. */
#define SCRATCH_STACK 256

/* All-or-nothing: pack into a copy of the item (so padding and the bits a
 * bit field shares keep their values), then copy it over in one go. */
int xbufpy_pack(const xbuf_type *type, char *item, PyObject *value, const char *what,
                const char *format)
{
    if (type == NULL || (item == NULL && type->itemsize > 0) || value == NULL) {
        PyErr_SetString(PyExc_SystemError, "xbufpy_pack: NULL type, item or value");
        return -1;
    }
    _Alignas(max_align_t) char stack[SCRATCH_STACK];
    size_t size = (size_t)type->itemsize;
    char *scratch = size <= sizeof stack ? stack : PyMem_Malloc(size);
    if (scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (size > 0)
        memcpy(scratch, item, size);
    pack_ctx c = {what, format};
    int rc = pack_any(&c, type, scratch, value);
    if (rc == 0 && size > 0)
        memcpy(item, scratch, size);
    if (scratch != stack)
        PyMem_Free(scratch);
    return rc;
}
