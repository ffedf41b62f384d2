/*
 * array_interface.c -- View.__array_interface__: NumPy's array interface
 * (version 3), so NumPy keeps record dtypes and strided layouts without a
 * copy even where it cannot read a PEP 3118 format itself.
 *
 * The names of the leaves are the library's (xbuf_numpy_typestr); this
 * file lays them out as the interface's "descr": a list of (name, type)
 * or (name, type, shape) with explicit ('', '|V<n>') padding, nested lists
 * for nested records.  A sub-array item ('(2,3)i') becomes two more
 * dimensions of the array, as NumPy does with sub-array dtypes.
 */
#include "view.h"

static PyObject *typestr_of(const xbuf_type *t) {
    char text[XBUF_NUMPY_TYPESTR_SIZE];
    xbuf_error err;
    if (xbuf_numpy_typestr(t, text, sizeof text, &err) < 0) {
        PyErr_Format(PyExc_TypeError, "NumPy cannot hold this view's items: %s", err.message);
        return NULL;
    }
    return PyUnicode_FromString(text);
}

static PyObject *descr_of(const xbuf_type *t, ptrdiff_t itemsize);

static int append_padding(PyObject *list, ptrdiff_t bytes) {
    if (bytes <= 0)
        return 0;
    PyObject *entry = Py_BuildValue("(sN)", "", PyUnicode_FromFormat("|V%zd", bytes));
    int rc = entry == NULL ? -1 : PyList_Append(list, entry);
    Py_XDECREF(entry);
    return rc;
}

/* (name, type) or (name, type, shape) for one member, which has `room`
 * bytes before the next member or the end of the item: a nested record's
 * trailing padding is cut to it (NumPy's packed one-item exports describe
 * records longer than their items), so the descr never outgrows the item. */
static PyObject *member_entry(const xbuf_field *f, ptrdiff_t index, ptrdiff_t room) {
    PyObject *name = f->name != NULL ? PyUnicode_FromString(f->name)
                                     : PyUnicode_FromFormat("f%zd", index);
    const xbuf_type *t = f->type, *element = t->kind == XBUF_KIND_ARRAY ? t->base : t;
    ptrdiff_t size = t == element && element->itemsize > room ? room : element->itemsize;
    PyObject *type = element->kind == XBUF_KIND_STRUCT ? descr_of(element, size)
                                                       : typestr_of(element);
    PyObject *shape = NULL;
    if (t->kind == XBUF_KIND_ARRAY) {
        shape = PyTuple_New(t->ndim);
        for (int i = 0; shape != NULL && i < t->ndim; i++)
            PyTuple_SET_ITEM(shape, i, PyLong_FromSsize_t(t->shape[i]));
    }
    PyObject *entry = NULL;
    if (name != NULL && type != NULL && (shape != NULL || t->kind != XBUF_KIND_ARRAY))
        entry = shape != NULL ? PyTuple_Pack(3, name, type, shape) : PyTuple_Pack(2, name, type);
    Py_XDECREF(name);
    Py_XDECREF(type);
    Py_XDECREF(shape);
    return entry;
}

/* A record's descr: members in order, the gaps between them and up to
 * `itemsize` as padding (NumPy's own exports write it so). */
static PyObject *descr_of(const xbuf_type *t, ptrdiff_t itemsize) {
    PyObject *list = PyList_New(0);
    ptrdiff_t at = 0;
    for (ptrdiff_t i = 0; list != NULL && i < t->nfields; i++) {
        const xbuf_field *f = &t->fields[i];
        if (f->type->kind == XBUF_KIND_BITS || f->offset < at) {
            PyErr_SetString(PyExc_TypeError,
                            "NumPy cannot hold this view's items: bit fields share bytes");
            Py_CLEAR(list);
            break;
        }
        ptrdiff_t next = i + 1 < t->nfields ? t->fields[i + 1].offset : itemsize;
        PyObject *entry = append_padding(list, f->offset - at) < 0
                              ? NULL
                              : member_entry(f, i, next - f->offset);
        if (entry == NULL || PyList_Append(list, entry) < 0)
            Py_CLEAR(list);
        Py_XDECREF(entry);
        at = f->offset + (f->type->itemsize < next - f->offset ? f->type->itemsize
                                                               : next - f->offset);
    }
    if (list != NULL && append_padding(list, itemsize - at) < 0)
        Py_CLEAR(list);
    return list;
}

/* shape and strides, with a sub-array item's dimensions appended. */
static int layout_of(const xbuf_view *v, const xbuf_type *t, PyObject **shape,
                     PyObject **strides) {
    int extra = t->kind == XBUF_KIND_ARRAY ? t->ndim : 0;
    *shape = PyTuple_New(v->ndim + extra);
    *strides = PyTuple_New(v->ndim + extra);
    if (*shape == NULL || *strides == NULL)
        return -1;
    for (int i = 0; i < v->ndim; i++) {
        PyTuple_SET_ITEM(*shape, i, PyLong_FromSsize_t(v->shape[i]));
        PyTuple_SET_ITEM(*strides, i, PyLong_FromSsize_t(v->strides[i]));
    }
    ptrdiff_t step = extra > 0 ? t->base->itemsize : 0;
    for (int i = extra - 1; i >= 0; i--) {
        PyTuple_SET_ITEM(*shape, v->ndim + i, PyLong_FromSsize_t(t->shape[i]));
        PyTuple_SET_ITEM(*strides, v->ndim + i, PyLong_FromSsize_t(step));
        step *= t->shape[i];
    }
    return 0;
}

PyObject *xbufpy_view_array_interface(ViewObject *self, void *closure) {
    (void)closure;
    const xbuf_type *t = xbufpy_view_type(self);
    if (t == NULL)
        return NULL;
    const xbuf_view *v = xbuf_mview_view(self->mview);
    if (v->suboffsets != NULL) { /* AttributeError: hasattr() says no, NumPy looks elsewhere */
        PyErr_SetString(PyExc_AttributeError,
                        "NumPy cannot hold PIL-style memory (suboffsets) without a copy: "
                        "pass view.tobytes(), or a View of a copy, to NumPy instead");
        return NULL;
    }
    const xbuf_type *element = t->kind == XBUF_KIND_ARRAY ? t->base : t;
    PyObject *shape = NULL, *strides = NULL, *typestr = NULL, *descr = NULL, *result = NULL;
    if (layout_of(v, t, &shape, &strides) < 0)
        goto done;
    if (element->kind == XBUF_KIND_STRUCT) { /* the exporter's itemsize may add padding */
        ptrdiff_t size = element == t ? v->itemsize : element->itemsize;
        typestr = PyUnicode_FromFormat("|V%zd", size);
        descr = descr_of(element, size);
    } else {
        typestr = typestr_of(element);
        descr = typestr == NULL ? NULL : Py_BuildValue("[(sO)]", "", typestr);
    }
    if (typestr != NULL && descr != NULL)
        result = Py_BuildValue("{sisOsOsOsOs(NO)}", "version", 3, "shape", shape, "strides",
                               strides, "typestr", typestr, "descr", descr, "data",
                               PyLong_FromVoidPtr(v->buf), v->readonly ? Py_True : Py_False);
done:
    Py_XDECREF(shape);
    Py_XDECREF(strides);
    Py_XDECREF(typestr);
    Py_XDECREF(descr);
    return result;
}
