/*
 * glue.h -- what the files of the _xbuf extension share.
 *
 * The extension is glue: it turns CPython objects into xbuf views and xbuf
 * results into Python objects and exceptions.  Every algorithm (layouts,
 * copies, comparisons, slicing, format parsing, conformance rules) lives in
 * the C library.
 *
 * Conventions: functions named xbufpy_* follow CPython's: they return a new
 * reference or NULL, or 0 / -1, with a Python exception set on failure.
 * All of them must be called with the GIL held.
 */
#ifndef XBUF_PY_GLUE_H
#define XBUF_PY_GLUE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <xbuf.h>

/* ---- errors (errors.c) ------------------------------------------------ */

/* Raise the exception memoryview raises for the situation `err` describes
 * (DESIGN.md: EINVAL, EFORMAT, ERELEASED -> ValueError; ENOMEM ->
 * MemoryError; EREQUEST, EEXPORTER, EBUSY -> BufferError; EOVERFLOW ->
 * OverflowError; ERANGE -> IndexError; EUNSUPPORTED -> NotImplementedError;
 * ETYPE, EREADONLY -> TypeError), with err's message.  Does nothing when a
 * Python exception is already set (an exporter written in Python raised
 * it, and that is the better message).  Returns NULL / -1. */
void *xbufpy_raise(const xbuf_error *err); /* NULL, for any pointer-returning caller */
int xbufpy_raise_int(const xbuf_error *err);

/* The exception type for an XBUF_E* code (borrowed). */
PyObject *xbufpy_exception_for(int code);

/* ---- Python objects as exporters (source.c) --------------------------- */

/*
 * Get a view of any Python object with the buffer protocol, or with PEP
 * 688's __buffer__(flags) / __release_buffer__(view) methods (which Python
 * 3.11 does not call by itself).  On success *view holds an xbuf view whose
 * release hook gives the buffer back (PyBuffer_Release, or
 * __release_buffer__); view->obj is the Python object (borrowed by the view;
 * the Py_buffer inside holds the reference).  The answer is NOT yet checked
 * against the request: pass the exporter below to xbuf_get for that.
 * Returns 0, or -1 with TypeError ("a bytes-like object is required, not
 * 'int'") or the exporter's own exception set.
 */
typedef struct xbufpy_source {
    xbuf_exporter base; /* first: xbuf_get calls base.get */
    PyObject *object;   /* borrowed: the caller keeps it alive */
    /* Complete answers the way memoryview does before anyone checks them:
     * C strides for an exporter that gave a shape but no strides (ctypes
     * does, whatever was asked), the 1-d shape for one that gave none.
     * Off by default, so that xbuf.check sees answers as they are. */
    bool complete;
} xbufpy_source;

/* An exporter serving `object` (borrowed) to xbuf_get, `complete` off. */
void xbufpy_source_init(xbufpy_source *source, PyObject *object);

/* xbuf_get on a source that completes answers as memoryview does, with the
 * Python exception set on failure: the exporter's own exception when it
 * raised one, else the library's error.  Returns 0 or -1. */
int xbufpy_source_get(PyObject *object, xbuf_view *view, int flags);

/* Whether `object` offers a buffer at all (tp_as_buffer or __buffer__). */
int xbufpy_has_buffer(PyObject *object);

/* ---- values of items (values.c) --------------------------------------- */

/*
 * Unpack the item of `type` at `item` into a Python object:
 *   INT UINT -> int; BOOL -> bool; FLOAT (e f d g) -> float;
 *   COMPLEX -> complex; CHAR -> bytes of length 1; BYTES (s) and PASCAL (p)
 *   -> bytes (s: all count bytes, as struct does; p: the length byte's
 *   bytes, as struct does); UCS2 (u) / UCS4 (w) -> str of count code points
 *   (as written, NULs kept); BITS -> int; VOIDP POINTER FUNCTION -> int
 *   (the address); OBJECT (O) -> the object the pointer refers to (a new
 *   reference; None for NULL); VOID (named x) -> bytes;
 *   STRUCT -> tuple of its members' values (padding skipped, nested
 *   structs as nested tuples); ARRAY -> nested lists in C order (a 0-size
 *   array is an empty list).
 * Non-native byte orders are decoded.  Returns NULL with an exception set
 * on failure (MemoryError; ValueError for a UCS value that is not a code
 * point).
 */
PyObject *xbufpy_unpack(const xbuf_type *type, const char *item);

/* Whether items of `type` hold Python object pointers ('O' anywhere in
 * it): bytes that did not come from such items must never be read as one. */
bool xbufpy_holds_objects(const xbuf_type *type);

/* Unpack `count` items of `type`, `stride` bytes apart from `item`, into
 * list[at], list[at + 1], ... (slots still empty, as PyList_New leaves
 * them).  0, or -1 with an exception (the slots filled so far stay). */
typedef int (*xbufpy_row_reader)(const xbuf_type *type, const char *item, ptrdiff_t count,
                                 ptrdiff_t stride, PyObject *list, Py_ssize_t at);

/* The fastest row reader for `type`: plain loads in a loop for native-order
 * integers, bools, 'f', 'd' and 'c' (what memoryview's tolist reads
 * itself), xbufpy_unpack per item for everything else.  Same values as
 * xbufpy_unpack. */
xbufpy_row_reader xbufpy_row_reader_for(const xbuf_type *type);

/*
 * Pack `value` into the item of `type` at `item`, the reverse of
 * xbufpy_unpack, with struct's and memoryview's rules: integers accept
 * objects with __index__; floats accept anything PyFloat_AsDouble does
 * (too large for 'f': +-inf, as memoryview stores it; for 'e': ValueError); bool
 * accepts any object (its truth value); bytes fields take bytes-like
 * objects of at most count bytes (s: shorter values are NUL-padded, as
 * struct does); structs take a sequence of exactly nfields values; arrays
 * a nested sequence of the right shape.
 * All-or-nothing: the value is packed into a scratch copy first, so on
 * error the item is untouched.
 * Errors: TypeError "<what>: invalid type for format '<format>'"; 
 * ValueError "<what>: invalid value for format '<format>'" (out of range,
 * wrong length, wrong structure) -- `what` is e.g. "memoryview" or
 * "Format.pack" and `format` the format string the caller shows (the
 * view's); either may be NULL for a plain message.  Returns 0 or -1.
 */
int xbufpy_pack(const xbuf_type *type, char *item, PyObject *value, const char *what,
                const char *format);

/* ---- the types ---------------------------------------------------------- */

extern PyTypeObject XbufView_Type;     /* view_object.c */
extern PyTypeObject XbufFormat_Type;   /* format_object.c */
extern PyTypeObject XbufExporter_Type; /* exporter_object.c */

/* Each type file adds its type(s) and functions to the module; 0 or -1. */
int xbufpy_view_ready(PyObject *module);
int xbufpy_format_ready(PyObject *module);
int xbufpy_exporter_ready(PyObject *module);
int xbufpy_check_ready(PyObject *module);
int xbufpy_dlpack_ready(PyObject *module);
int xbufpy_arrow_ready(PyObject *module);

/* A parsed format for a Python str (ValueError naming the position and
 * what was expected, as xbuf.Format does).  New reference to the xbuf
 * format, or NULL. */
xbuf_format *xbufpy_format_parse(PyObject *text);

/* Wrap a parsed format (a reference is taken) as an xbuf.Format. */
PyObject *xbufpy_format_wrap(xbuf_format *format, const xbuf_type *type);

#endif /* XBUF_PY_GLUE_H */
