/*
 * view_subscript.c -- v[key], v[key] = value, len(v) and iteration.
 *
 * A key is resolved into library derivations: every slice of the key is
 * applied in one xbuf_mview_slice, then every integer, last dimension first
 * (so the dimension numbers of the earlier ones stay valid), by
 * xbuf_mview_index.  A key with one integer per dimension names an item
 * and gives its value, as memoryview and NumPy do; anything else gives a
 * View -- including the N-d cases memoryview refuses.
 */
#include "view.h"

/* A key, taken apart: one entry per dimension of the view. */
typedef struct parsed_key {
    xbuf_slice slices[XBUF_MAX_NDIM];
    ptrdiff_t index[XBUF_MAX_NDIM];
    bool is_index[XBUF_MAX_NDIM];
    int indices;   /* how many entries are integers */
    bool sliced;   /* some slice is not the whole dimension */
    bool ellipsis; /* NumPy: a key with '...' always gives a view */
} parsed_key;

static const xbuf_slice whole = {XBUF_SLICE_NONE, XBUF_SLICE_NONE, 1};

static PyObject *invalid_key(void) {
    PyErr_SetString(PyExc_TypeError, "xbuf.View: invalid slice key");
    return NULL;
}

static int read_slice(PyObject *item, xbuf_slice *out) {
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(item, &start, &stop, &step) < 0)
        return -1;
    /* PySlice_Unpack writes extremes for omitted bounds, which resolve to
     * the same positions as omitted ones -- except that PY_SSIZE_T_MIN is
     * also XBUF_SLICE_NONE: a given bound clamped to it must stay "before
     * everything", which PY_SSIZE_T_MIN + 1 also is. */
    PySliceObject *slice = (PySliceObject *)item;
    if (start == PY_SSIZE_T_MIN && slice->start != Py_None)
        start++;
    if (stop == PY_SSIZE_T_MIN && slice->stop != Py_None)
        stop++;
    *out = (xbuf_slice){start, stop, step};
    return 0;
}

/* One entry of a key at dimension *dim; Ellipsis stretches over the
 * dimensions the rest of the key leaves. */
static int read_entry(PyObject *item, parsed_key *k, int *dim, int ndim, Py_ssize_t left) {
    if (item == Py_Ellipsis) {
        *dim = ndim - (int)left;
        k->ellipsis = true;
        return 0;
    }
    if (PySlice_Check(item)) {
        if (read_slice(item, &k->slices[*dim]) < 0)
            return -1;
        xbuf_slice s = k->slices[*dim];
        k->sliced |= !(s.step == 1 && s.start == 0 && s.stop == PY_SSIZE_T_MAX);
    } else if (PyIndex_Check(item)) {
        k->index[*dim] = PyNumber_AsSsize_t(item, PyExc_IndexError);
        if (k->index[*dim] == -1 && PyErr_Occurred())
            return -1;
        k->is_index[*dim] = true;
        k->indices++;
    } else {
        invalid_key();
        return -1;
    }
    (*dim)++;
    return 0;
}

static int read_key(PyObject *obj, int ndim, parsed_key *k) {
    *k = (parsed_key){.indices = 0, .sliced = false, .ellipsis = false};
    for (int i = 0; i < ndim; i++)
        k->slices[i] = whole;
    if (!PyTuple_Check(obj)) {
        int dim = 0;
        return read_entry(obj, k, &dim, ndim, 0);
    }
    Py_ssize_t n = PyTuple_GET_SIZE(obj), ellipses = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        ellipses += PyTuple_GET_ITEM(obj, i) == Py_Ellipsis;
    if (ellipses > 1) {
        PyErr_SetString(PyExc_IndexError, "a key can only have a single ellipsis ('...')");
        return -1;
    }
    if (n - ellipses > ndim) {
        PyErr_Format(PyExc_TypeError, "cannot index %d-dimension view with %zd-element tuple",
                     ndim, n);
        return -1;
    }
    int dim = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (read_entry(PyTuple_GET_ITEM(obj, i), k, &dim, ndim, n - 1 - i) < 0)
            return -1;
    return 0;
}

/* The mview a key selects (a new reference). */
static xbuf_mview *select_view(ViewObject *self, const parsed_key *k, int ndim) {
    xbuf_error err;
    xbuf_mview *current, *next;
    if (!k->sliced && k->indices == 0) { /* v[:]: a new view, released on its own */
        if (xbuf_mview_copy(self->mview, false, &current, &err) < 0)
            return xbufpy_raise(&err);
        return current;
    }
    current = xbuf_mview_retain(self->mview);
    if (k->sliced) {
        int rc = xbuf_mview_slice(current, k->slices, ndim, &next, &err);
        xbuf_mview_unref(current);
        if (rc < 0)
            return xbufpy_raise(&err);
        current = next;
    }
    for (int dim = ndim - 1; dim >= 0; dim--) {
        if (!k->is_index[dim])
            continue;
        int rc = xbuf_mview_index(current, dim, k->index[dim], &next, &err);
        xbuf_mview_unref(current);
        if (rc < 0)
            return xbufpy_raise(&err);
        current = next;
    }
    return current;
}

/* The address of the item a key of one integer per dimension names. */
static char *item_address(ViewObject *self, const parsed_key *k) {
    void *item;
    xbuf_error err;
    if (xbuf_mview_pointer(self->mview, k->index, &item, &err) < 0)
        return xbufpy_raise(&err);
    return item;
}

/* A 0-d view takes () for its item and ... for itself. */
static bool zero_dim_item_key(PyObject *obj) {
    return PyTuple_Check(obj) && PyTuple_GET_SIZE(obj) == 0;
}

static PyObject *view_subscript(ViewObject *self, PyObject *obj) {
    const xbuf_view *v = xbufpy_view_layout(self);
    if (v == NULL)
        return NULL;
    if (obj == Py_Ellipsis)
        return Py_NewRef(self);
    if (v->ndim == 0) {
        if (zero_dim_item_key(obj))
            return xbufpy_view_item(self, v->buf);
        PyErr_SetString(PyExc_TypeError, "invalid indexing of 0-dim memory");
        return NULL;
    }
    parsed_key k;
    if (read_key(obj, v->ndim, &k) < 0)
        return NULL;
    if (k.indices == v->ndim && !k.ellipsis) {
        char *item = item_address(self, &k);
        return item == NULL ? NULL : xbufpy_view_item(self, item);
    }
    xbuf_mview *m = select_view(self, &k, v->ndim);
    if (m == NULL)
        return NULL;
    return xbufpy_view_derived(self, 0, m, NULL);
}

/* ---- assignment -------------------------------------------------------------- */

static int different_structures(void) {
    PyErr_SetString(PyExc_ValueError,
                    "xbuf.View assignment: lvalue and rvalue have different structures");
    return -1;
}

static bool same_shape(const xbuf_view *a, const xbuf_view *b) {
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

/* Copy `src` into `dst`: byte for byte when their items have the same
 * layout, else converting values (memoryview refuses that; NumPy does it). */
static int assign_from_view(const xbuf_view *dst, const xbuf_view *src) {
    xbuf_view shaped = *src;
    ptrdiff_t extent, zeros[XBUF_MAX_NDIM] = {0};
    if (src->ndim == 1 && src->shape == NULL) { /* a SIMPLE-style answer */
        extent = src->len / src->itemsize;
        shaped.shape = &extent;
    } else if (src->ndim == 0 && dst->ndim > 0) {
        /* One item for all, as NumPy broadcasts a 0-d value: the copy
         * engine reads a source with zero strides over and over. */
        shaped.ndim = dst->ndim;
        shaped.shape = dst->shape;
        shaped.strides = zeros;
        shaped.len = dst->len / dst->itemsize * src->itemsize;
    }
    if (!same_shape(dst, &shaped))
        return different_structures();
    xbuf_format *a = NULL, *b = NULL;
    xbuf_error err;
    int rc = xbuf_view_format(dst, &a, &err);
    if (rc == 0)
        rc = xbuf_view_format(src, &b, &err);
    if (rc == 0 && dst->itemsize == src->itemsize &&
        xbuf_type_layout_compatible(xbuf_format_type(a), xbuf_format_type(b)))
        rc = xbuf_copy(dst, &shaped, &err);
    else if (rc == 0)
        rc = xbuf_copy_convert(dst, &shaped, XBUF_OVERFLOW_ERROR, &err);
    xbuf_format_release(a);
    xbuf_format_release(b);
    if (rc == XBUF_EUNSUPPORTED)
        return different_structures();
    if (rc == XBUF_ERANGE) {
        PyErr_Format(PyExc_ValueError, "xbuf.View assignment: %s", err.message);
        return -1;
    }
    return rc < 0 ? xbufpy_raise_int(&err) : 0;
}

/* Every item of `dst` set to one value, as NumPy's a[...] = x does. */
static int assign_scalar(ViewObject *self, const xbuf_view *dst, PyObject *value) {
    const xbuf_type *type = xbufpy_view_type(self);
    if (type == NULL)
        return -1;
    char *item = PyMem_Calloc(1, (size_t)dst->itemsize);
    if (item == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    xbuf_error err;
    int rc = xbufpy_pack(type, item, value, "xbuf.View", dst->format);
    if (rc == 0 && xbuf_fill(dst, item, &err) < 0)
        rc = xbufpy_raise_int(&err);
    PyMem_Free(item);
    return rc;
}

static int assign_view(ViewObject *self, xbuf_mview *target, PyObject *value) {
    const xbuf_view *dst = xbuf_mview_view(target);
    if (!xbufpy_has_buffer(value))
        return assign_scalar(self, dst, value);
    if (View_Check(value)) {
        const xbuf_view *src = xbufpy_view_layout((ViewObject *)value);
        return src == NULL ? -1 : assign_from_view(dst, src);
    }
    xbuf_view src;
    if (xbufpy_source_get(value, &src, XBUF_FULL_RO) < 0)
        return -1;
    int rc = assign_from_view(dst, &src);
    xbuf_release(&src);
    return rc;
}

static int assign_item(ViewObject *self, char *item, PyObject *value) {
    const xbuf_type *type = xbufpy_view_type(self);
    if (type == NULL || item == NULL)
        return -1;
    return xbufpy_pack(type, item, value, "xbuf.View", xbuf_mview_view(self->mview)->format);
}

static int view_ass_subscript(ViewObject *self, PyObject *obj, PyObject *value) {
    const xbuf_view *v = xbufpy_view_layout(self);
    if (v == NULL)
        return -1;
    if (v->readonly) {
        PyErr_SetString(PyExc_TypeError, "cannot modify read-only memory");
        return -1;
    }
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "cannot delete memory");
        return -1;
    }
    if (v->ndim == 0 && (zero_dim_item_key(obj) || obj == Py_Ellipsis))
        return assign_item(self, v->buf, value);
    if (v->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "invalid indexing of 0-dim memory");
        return -1;
    }
    parsed_key k;
    if (read_key(obj, v->ndim, &k) < 0)
        return -1;
    if (k.indices == v->ndim && !k.ellipsis) /* with "...", a 0-d view: NumPy's rule */
        return assign_item(self, item_address(self, &k), value);
    xbuf_mview *target = select_view(self, &k, v->ndim);
    if (target == NULL)
        return -1;
    int rc = assign_view(self, target, value);
    xbuf_mview_unref(target);
    return rc;
}

static Py_ssize_t view_length(ViewObject *self) {
    const xbuf_view *v = xbufpy_view_layout(self);
    if (v == NULL)
        return -1;
    return v->ndim == 0 ? 1 : v->shape[0]; /* memoryview counts a 0-d view as one item */
}

/* For reversed() and other sequence users; negative indices arrive already
 * wrapped by Python. */
static PyObject *view_item(ViewObject *self, Py_ssize_t index) {
    PyObject *key = PyLong_FromSsize_t(index);
    if (key == NULL)
        return NULL;
    PyObject *item = view_subscript(self, key);
    Py_DECREF(key);
    return item;
}

PyMappingMethods xbufpy_view_as_mapping = {
    (lenfunc)view_length,
    (binaryfunc)view_subscript,
    (objobjargproc)view_ass_subscript,
};

PySequenceMethods xbufpy_view_as_sequence = {
    .sq_length = (lenfunc)view_length,
    .sq_item = (ssizeargfunc)view_item,
};

/* ---- iteration --------------------------------------------------------------- */

/* Yields v[0], v[1], ...: values of a 1-d view, sub-views of an N-d one. */
typedef struct {
    PyObject_HEAD
    ViewObject *view;
    Py_ssize_t next;
} ViewIterObject;

PyObject *xbufpy_view_iter(PyObject *self) {
    const xbuf_view *v = xbufpy_view_layout((ViewObject *)self);
    if (v == NULL)
        return NULL;
    if (v->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "invalid indexing of 0-dim memory");
        return NULL;
    }
    ViewIterObject *it = PyObject_New(ViewIterObject, &XbufViewIter_Type);
    if (it == NULL)
        return NULL;
    it->view = (ViewObject *)Py_NewRef(self);
    it->next = 0;
    return (PyObject *)it;
}

static PyObject *iter_next(ViewIterObject *it) {
    const xbuf_view *v = xbufpy_view_layout(it->view);
    if (v == NULL || it->next >= v->shape[0])
        return NULL; /* the ValueError of a released view, or StopIteration */
    return view_item(it->view, it->next++);
}

static void iter_dealloc(ViewIterObject *it) {
    Py_DECREF(it->view);
    PyObject_Free(it);
}

PyTypeObject XbufViewIter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "xbuf.ViewIterator",
    .tp_basicsize = sizeof(ViewIterObject),
    .tp_dealloc = (destructor)iter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)iter_next,
};
