/*
 * source.c -- any Python object with a buffer, as an xbuf exporter.
 *
 * Two kinds of objects export memory in Python: those with the C-level
 * buffer protocol (tp_as_buffer), and, by PEP 688, classes defining
 * __buffer__(flags) -> memoryview and __release_buffer__(view).  Python
 * 3.12 connects the second kind to the first itself; on 3.11 nothing does,
 * so this file calls the methods.
 *
 * Each export holds its Py_buffer in a small heap block (view->internal):
 * the xbuf view is moved into a view object's family and outlives the stack
 * frame that asked for it.
 */
#include "glue.h"

#include <string.h>

typedef struct source_buffer {
    Py_buffer buffer;
    PyObject *owner;      /* PEP 688: the object whose __release_buffer__ is due */
    PyObject *pep688_view; /* PEP 688: the memoryview __buffer__ returned */
    Py_ssize_t *completed; /* shape and strides filled in (xbufpy_source.complete) */
    size_t completed_size;
} source_buffer;

int xbufpy_has_buffer(PyObject *object) {
    if (PyObject_CheckBuffer(object))
        return 1;
    return PyObject_HasAttrString((PyObject *)Py_TYPE(object), "__buffer__");
}

/* Call owner.__release_buffer__(view) without disturbing an exception in
 * flight: a release that raises is reported as unraisable, as CPython does
 * for errors in finalizers. */
static void release_pep688(PyObject *owner, PyObject *view) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject *result = PyObject_CallMethod(owner, "__release_buffer__", "O", view);
    if (result == NULL)
        PyErr_WriteUnraisable(owner);
    Py_XDECREF(result);
    PyErr_Restore(type, value, traceback);
}

static void source_release(xbuf_view *view) {
    source_buffer *sb = view->internal;
    PyGILState_STATE gil = PyGILState_Ensure(); /* a DLPack or Arrow consumer may let go anywhere */
    PyBuffer_Release(&sb->buffer);
    if (sb->completed != NULL)
        xbuf_free(sb->completed, sb->completed_size);
    if (sb->owner != NULL) {
        release_pep688(sb->owner, sb->pep688_view);
        Py_DECREF(sb->pep688_view);
        Py_DECREF(sb->owner);
    }
    PyMem_Free(sb);
    PyGILState_Release(gil);
}

/* PEP 688 on 3.11: __buffer__(flags) must return a memoryview. */
static int get_pep688(PyObject *object, source_buffer *sb, int flags) {
    PyObject *view = PyObject_CallMethod(object, "__buffer__", "i", flags);
    if (view == NULL)
        return -1;
    if (!PyMemoryView_Check(view)) {
        PyErr_Format(PyExc_TypeError, "__buffer__ returned non-memoryview object '%.200s'",
                     Py_TYPE(view)->tp_name);
        Py_DECREF(view);
        return -1;
    }
    if (PyObject_GetBuffer(view, &sb->buffer, flags) < 0) {
        release_pep688(object, view);
        Py_DECREF(view);
        return -1;
    }
    Py_INCREF(object);
    sb->owner = object;
    sb->pep688_view = view;
    return 0;
}

/* What memoryview fills in for an exporter that left out shape or strides
 * (Objects/memoryobject.c: init_shape_strides). */
static int complete(source_buffer *sb, xbuf_error *err) {
    Py_buffer *b = &sb->buffer;
    if (b->ndim <= 0 || b->strides != NULL || b->itemsize <= 0 || b->ndim > XBUF_MAX_NDIM ||
        (b->shape == NULL && b->ndim != 1))
        return 0; /* nothing to do, or nothing memoryview would do: the check decides */
    sb->completed_size = 2 * (size_t)b->ndim * sizeof(Py_ssize_t);
    sb->completed = xbuf_malloc(sb->completed_size);
    if (sb->completed == NULL)
        return xbuf_error_set(err, XBUF_ENOMEM, "out of memory");
    Py_ssize_t *shape = sb->completed, *strides = sb->completed + b->ndim;
    if (b->shape != NULL)
        memcpy(shape, b->shape, (size_t)b->ndim * sizeof *shape);
    else
        shape[0] = b->len / b->itemsize;
    if (xbuf_strides_fill(b->ndim, shape, b->itemsize, 'C', strides, err) < 0)
        return -1;
    b->shape = shape;
    b->strides = strides;
    return 0;
}

static int source_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err) {
    PyObject *object = ((xbufpy_source *)self)->object;
    source_buffer *sb = PyMem_Calloc(1, sizeof *sb);
    if (sb == NULL)
        return xbuf_error_set(err, XBUF_ENOMEM, "out of memory");
    int rc = PyObject_CheckBuffer(object) ? PyObject_GetBuffer(object, &sb->buffer, flags)
                                           : get_pep688(object, sb, flags);
    if (rc < 0) {
        PyMem_Free(sb);
        if (PyErr_Occurred())
            return xbuf_error_set(err, XBUF_EREQUEST, "the exporter raised");
        return xbuf_error_set(err, XBUF_EEXPORTER,
                              "%.200s's getbuffer failed without setting an exception",
                              Py_TYPE(object)->tp_name);
    }
    const Py_buffer *b = &sb->buffer;
    rc = ((xbufpy_source *)self)->complete && XBUF_WANTS(flags, XBUF_ND) ? complete(sb, err) : 0;
    if (rc < 0) {
        xbuf_view failed = {.internal = sb};
        source_release(&failed);
        return rc;
    }
    *view = (xbuf_view){
        .buf = b->buf, .obj = object, .len = b->len, .itemsize = b->itemsize,
        .readonly = b->readonly, .ndim = b->ndim, .format = b->format,
        .shape = b->shape, .strides = b->strides, .suboffsets = b->suboffsets,
        .internal = sb, .release = source_release,
    };
    return 0;
}

void xbufpy_source_init(xbufpy_source *source, PyObject *object) {
    source->base.get = source_get;
    source->object = object;
    source->complete = false;
}

int xbufpy_source_get(PyObject *object, xbuf_view *view, int flags) {
    if (!xbufpy_has_buffer(object)) {
        PyErr_Format(PyExc_TypeError, "a bytes-like object is required, not '%.200s'",
                     Py_TYPE(object)->tp_name);
        return -1;
    }
    xbufpy_source source;
    xbufpy_source_init(&source, object);
    source.complete = true;
    xbuf_error err;
    if (xbuf_get(&source.base, view, flags, &err) < 0)
        return xbufpy_raise_int(&err);
    return 0;
}
