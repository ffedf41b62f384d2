/*
 * view.h -- the xbuf.View object, shared by view_object.c (life, attributes,
 * methods, buffer export) and view_subscript.c (indexing, slicing,
 * assignment, iteration).
 *
 * Ownership: a View holds one reference to an xbuf_mview.  Views derived
 * from it (slices, fields, casts...) hold mviews of the same family, so the
 * exporter sees one export however many Views there are -- the library's
 * rule (include/xbuf/mview.h).  `obj` is what memoryview.obj shows: the
 * object the first View of the family was made from.
 */
#ifndef XBUF_PY_VIEW_H
#define XBUF_PY_VIEW_H

#include "glue.h"

typedef struct {
    PyObject_HEAD
    xbuf_mview *mview;
    PyObject *obj;
    xbuf_format *format; /* the items' format (xbuf_view_format), parsed on first use */
    Py_hash_t hash;      /* -1 until computed */
    PyObject *weakreflist;
} ViewObject;

#define View_Check(op) Py_IS_TYPE(op, &XbufView_Type)

/* The layout, or NULL with ValueError when the View was released. */
const xbuf_view *xbufpy_view_layout(ViewObject *self);

/* The items' type (parsed once), or NULL with an exception: ValueError
 * for a malformed format, BufferError when the format describes more bytes
 * than an item has (reading it would leave the item). */
const xbuf_type *xbufpy_view_type(ViewObject *self);

/* A new View of `m` (the reference is stolen) derived from `parent`, or
 * NULL with an exception when rc < 0 (err describes it; m is then NULL). */
PyObject *xbufpy_view_derived(ViewObject *parent, int rc, xbuf_mview *m, const xbuf_error *err);

/* A new View of `m` (the reference is stolen; NULL on failure, m freed)
 * whose `obj` is `obj`. */
PyObject *xbufpy_view_new(xbuf_mview *m, PyObject *obj);

/* DLPack (dlpack_glue.c). */
PyObject *xbufpy_view_dlpack(ViewObject *self, PyObject *args, PyObject *kwargs);
PyObject *xbufpy_view_dlpack_device(ViewObject *self, PyObject *unused);

/* Arrow (arrow_glue.c). */
PyObject *xbufpy_view_arrow_schema(ViewObject *self, PyObject *unused);
PyObject *xbufpy_view_arrow_array(ViewObject *self, PyObject *args, PyObject *kwargs);

/* NumPy's array interface (array_interface.c). */
PyObject *xbufpy_view_array_interface(ViewObject *self, void *closure);

/* The value of the item at `item` (of the View's type). */
PyObject *xbufpy_view_item(ViewObject *self, const char *item);

extern PyMappingMethods xbufpy_view_as_mapping;
extern PySequenceMethods xbufpy_view_as_sequence;
extern PyTypeObject XbufViewIter_Type;
PyObject *xbufpy_view_iter(PyObject *self);

#endif /* XBUF_PY_VIEW_H */
