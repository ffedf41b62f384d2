/*
 * view_object.c -- xbuf.View: memoryview's interface over the library's
 * view object (xbuf_mview), and everything memoryview refuses.
 *
 * Where memoryview has an answer, View gives the same one with the same
 * exception type; messages name "xbuf.View" where memoryview names itself.
 * Every decision about layouts (slicing, casting, contiguity, copying,
 * comparing) is the library's; this file converts arguments and results.
 */
#include "view.h" /* Python.h first: it sets the feature macros */

#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

static PyObject *raise_released(void) {
    PyErr_SetString(PyExc_ValueError, "operation forbidden on released xbuf.View object");
    return NULL;
}

const xbuf_view *xbufpy_view_layout(ViewObject *self) {
    const xbuf_view *v = xbuf_mview_view(self->mview);
    if (v == NULL)
        raise_released();
    return v;
}

/* Stops the walk at a leaf that ends past *limit. */
static int leaf_past(const xbuf_leaf *leaf, void *limit) {
    return leaf->offset + leaf->type->itemsize > *(ptrdiff_t *)limit;
}

const xbuf_type *xbufpy_view_type(ViewObject *self) {
    const xbuf_view *v = xbufpy_view_layout(self);
    if (v == NULL)
        return NULL;
    if (self->format == NULL) {
        xbuf_error err;
        if (xbuf_view_format(v, &self->format, &err) < 0)
            return xbufpy_raise(&err);
    }
    const xbuf_type *type = xbuf_format_type(self->format);
    /* A format longer than the item is fine while only padding sticks out
     * (NumPy's one-item packed records say 'T{h:b:}' for 3 bytes). */
    ptrdiff_t limit = v->itemsize;
    if (type->itemsize > v->itemsize && xbuf_type_walk(type, leaf_past, &limit, NULL) != 0) {
        PyErr_Format(PyExc_BufferError,
                     "format '%s' describes %zd bytes per item, but the exporter's items are "
                     "%zd bytes",
                     v->format, type->itemsize, v->itemsize);
        return NULL;
    }
    return type;
}

PyObject *xbufpy_view_item(ViewObject *self, const char *item) {
    const xbuf_type *type = xbufpy_view_type(self);
    return type == NULL ? NULL : xbufpy_unpack(type, item);
}

/* ---- creation ------------------------------------------------------------ */

static PyObject *view_wrap(xbuf_mview *m, PyObject *obj, xbuf_format *format) {
    ViewObject *self = PyObject_New(ViewObject, &XbufView_Type);
    if (self == NULL) {
        xbuf_mview_unref(m);
        return NULL;
    }
    self->mview = m;
    self->obj = Py_NewRef(obj);
    self->format = xbuf_format_retain(format);
    self->hash = -1;
    self->weakreflist = NULL;
    return (PyObject *)self;
}

PyObject *xbufpy_view_new(xbuf_mview *m, PyObject *obj) {
    return view_wrap(m, obj, NULL);
}

PyObject *xbufpy_view_derived(ViewObject *parent, int rc, xbuf_mview *m, const xbuf_error *err) {
    if (rc < 0)
        return xbufpy_raise(err);
    /* The parsed format carries over when the text did not change. */
    const xbuf_view *before = xbuf_mview_view(parent->mview), *after = xbuf_mview_view(m);
    xbuf_format *format = NULL;
    if (parent->format != NULL && before != NULL && strcmp(before->format, after->format) == 0 &&
        before->itemsize == after->itemsize)
        format = parent->format;
    return view_wrap(m, parent->obj, format);
}

static PyObject *view_from_object(PyObject *object) {
    if (!xbufpy_has_buffer(object))
        return PyErr_Format(PyExc_TypeError,
                            "xbuf.View: a bytes-like object is required, not '%.200s'",
                            Py_TYPE(object)->tp_name);
    xbufpy_source source;
    xbufpy_source_init(&source, object);
    source.complete = true; /* accept what memoryview accepts (ctypes gives no strides) */
    xbuf_mview *m;
    xbuf_error err;
    if (xbuf_mview_from_exporter(&source.base, XBUF_FULL_RO, &m, &err) < 0)
        return xbufpy_raise(&err);
    return view_wrap(m, object, NULL);
}

static PyObject *view_of(PyObject *object) {
    if (!View_Check(object))
        return view_from_object(object);
    ViewObject *other = (ViewObject *)object;
    xbuf_mview *m;
    xbuf_error err;
    int rc = xbuf_mview_copy(other->mview, false, &m, &err);
    return xbufpy_view_derived(other, rc, m, &err);
}

static PyObject *view_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)type;
    static char *keywords[] = {"object", NULL};
    PyObject *object;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:View", keywords, &object))
        return NULL;
    return view_of(object);
}

/* View(x) is called often on small objects: skip the argument tuple. */
static PyObject *view_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames) {
    (void)type;
    Py_ssize_t given = PyVectorcall_NARGS(nargsf) + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (given != 1)
        return PyErr_Format(PyExc_TypeError, "View() takes exactly one argument (%zd given)",
                            given);
    if (kwnames != NULL &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "object") != 0)
        return PyErr_Format(PyExc_TypeError, "View() got an unexpected keyword argument '%S'",
                            PyTuple_GET_ITEM(kwnames, 0));
    return view_of(args[0]);
}

static void view_dealloc(ViewObject *self) {
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    xbuf_mview_unref(self->mview);
    xbuf_format_release(self->format);
    Py_DECREF(self->obj);
    PyObject_Free(self);
}

/* ---- attributes ---------------------------------------------------------- */

static PyObject *tuple_of(int n, const ptrdiff_t *values) {
    PyObject *tuple = PyTuple_New(n);
    for (int i = 0; tuple != NULL && i < n; i++) {
        PyObject *item = PyLong_FromSsize_t(values[i]);
        if (item == NULL)
            Py_CLEAR(tuple);
        else
            PyTuple_SET_ITEM(tuple, i, item);
    }
    return tuple;
}

#define LAYOUT_OR_RETURN(self, v)                                       \
    const xbuf_view *v = xbufpy_view_layout((ViewObject *)(self));      \
    if (v == NULL)                                                      \
        return NULL

static PyObject *get_obj(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return Py_NewRef(self->obj);
}

static PyObject *get_nbytes(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return PyLong_FromSsize_t(v->len);
}

static PyObject *get_readonly(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return PyBool_FromLong(v->readonly);
}

static PyObject *get_itemsize(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return PyLong_FromSsize_t(v->itemsize);
}

static PyObject *get_format(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return PyUnicode_FromString(v->format);
}

static PyObject *get_ndim(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return PyLong_FromLong(v->ndim);
}

static PyObject *get_shape(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return tuple_of(v->ndim, v->shape);
}

static PyObject *get_strides(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return tuple_of(v->ndim, v->strides);
}

static PyObject *get_suboffsets(ViewObject *self, void *closure) {
    (void)closure;
    LAYOUT_OR_RETURN(self, v);
    return v->suboffsets == NULL ? PyTuple_New(0) : tuple_of(v->ndim, v->suboffsets);
}

static PyObject *contiguity(ViewObject *self, char order) {
    LAYOUT_OR_RETURN(self, v);
    /* memoryview's own 1-d rule (init_flags) has no exception for an empty
     * view, where the library (like PyBuffer_IsContiguous) has one. */
    if (v->ndim == 1 && v->suboffsets == NULL && v->shape[0] == 0)
        return PyBool_FromLong(v->strides[0] == v->itemsize);
    return PyBool_FromLong(xbuf_view_is_contiguous(v, order));
}

static PyObject *get_c_contiguous(ViewObject *self, void *closure) {
    (void)closure;
    return contiguity(self, 'C');
}

static PyObject *get_f_contiguous(ViewObject *self, void *closure) {
    (void)closure;
    return contiguity(self, 'F');
}

static PyObject *get_contiguous(ViewObject *self, void *closure) {
    (void)closure;
    return contiguity(self, 'A');
}

static PyObject *view_transpose_all(ViewObject *self) {
    xbuf_mview *m;
    xbuf_error err;
    int rc = xbuf_mview_transpose(self->mview, &m, &err);
    return xbufpy_view_derived(self, rc, m, &err);
}

static PyObject *get_T(ViewObject *self, void *closure) {
    (void)closure;
    return view_transpose_all(self);
}

static PyGetSetDef view_getset[] = {
    {"obj", (getter)get_obj, NULL, "The object the memory was exported by.", NULL},
    {"nbytes", (getter)get_nbytes, NULL,
     "Bytes the items occupy: product(shape) * itemsize (what tobytes() returns).", NULL},
    {"readonly", (getter)get_readonly, NULL, "Whether the memory is read-only.", NULL},
    {"itemsize", (getter)get_itemsize, NULL, "Bytes per item.", NULL},
    {"format", (getter)get_format, NULL, "The PEP 3118 format of one item.", NULL},
    {"ndim", (getter)get_ndim, NULL, "Number of dimensions.", NULL},
    {"shape", (getter)get_shape, NULL, "Extents, one per dimension.", NULL},
    {"strides", (getter)get_strides, NULL, "Byte steps, one per dimension.", NULL},
    {"suboffsets", (getter)get_suboffsets, NULL,
     "PIL-style suboffsets, one per dimension; () when there are none.", NULL},
    {"c_contiguous", (getter)get_c_contiguous, NULL, "Whether the memory is C-contiguous.",
     NULL},
    {"f_contiguous", (getter)get_f_contiguous, NULL, "Whether the memory is Fortran-contiguous.",
     NULL},
    {"contiguous", (getter)get_contiguous, NULL,
     "Whether the memory is C- or Fortran-contiguous.", NULL},
    {"T", (getter)get_T, NULL, "The view with its dimensions reversed.", NULL},
    {"__array_interface__", (getter)xbufpy_view_array_interface, NULL,
     "NumPy's array interface (version 3): shape, strides, typestr, descr, data.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- methods --------------------------------------------------------------- */

static int order_of(PyObject *order, char *out) {
    if (order == NULL || order == Py_None) {
        *out = 'C';
        return 0;
    }
    const char *text = PyUnicode_Check(order) ? PyUnicode_AsUTF8(order) : NULL;
    if (text != NULL && text[0] != '\0' && text[1] == '\0' && strchr("CFA", text[0])) {
        *out = text[0];
        return 0;
    }
    if (text == NULL && PyErr_Occurred())
        return -1;
    if (text == NULL) {
        PyErr_Format(PyExc_TypeError, "tobytes() argument 'order' must be str or None, not %.200s",
                     Py_TYPE(order)->tp_name);
        return -1;
    }
    PyErr_SetString(PyExc_ValueError, "order must be 'C', 'F' or 'A'");
    return -1;
}

/* A large new bytes object is fresh memory from mmap: every 4 KiB page
 * faults on first write, which costs more than the copy itself.  Asking for
 * transparent huge pages (as NumPy does for its arrays) cuts the faults by
 * 512; the kernel ignores the advice where THP is off. */
static void advise_huge_pages(char *data, Py_ssize_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)1 << 21;
    if (size < (Py_ssize_t)(4 * huge))
        return;
    uintptr_t start = ((uintptr_t)data + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)data + (uintptr_t)size) & ~(huge - 1);
    (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)data;
    (void)size;
#endif
}

static PyObject *bytes_in_order(ViewObject *self, char order) {
    LAYOUT_OR_RETURN(self, v);
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, v->len);
    if (bytes == NULL)
        return NULL;
    advise_huge_pages(PyBytes_AS_STRING(bytes), v->len);
    xbuf_error err;
    if (xbuf_copy_to_contiguous(PyBytes_AS_STRING(bytes), v->len, v, order, &err) < 0) {
        Py_DECREF(bytes);
        return xbufpy_raise(&err);
    }
    return bytes;
}

static PyObject *view_tobytes(ViewObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"order", NULL};
    PyObject *order_arg = NULL;
    char order;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:tobytes", keywords, &order_arg) ||
        order_of(order_arg, &order) < 0)
        return NULL;
    return bytes_in_order(self, order);
}

/* memoryview.hex is bytes.hex of tobytes(): forward the arguments to it. */
static PyObject *view_hex(ViewObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *bytes = bytes_in_order(self, 'C');
    if (bytes == NULL)
        return NULL;
    PyObject *hex = PyObject_GetAttrString(bytes, "hex");
    PyObject *result = hex == NULL ? NULL : PyObject_Call(hex, args, kwargs);
    Py_XDECREF(hex);
    Py_DECREF(bytes);
    return result;
}

/* The items of one row (the innermost dimension), from the library's
 * iterator, into `list` from position `at`. */
static Py_ssize_t fill_row(PyObject *list, Py_ssize_t at, xbuf_iter *it, const xbuf_type *type,
                           xbufpy_row_reader read) {
    char *item;
    ptrdiff_t count, stride;
    if (!xbuf_iter_next_row(it, &item, &count, &stride)) {
        PyErr_SetString(PyExc_SystemError, "xbuf.View.tolist: the iterator ended early");
        return -1;
    }
    return read(type, item, count, stride, list, at) < 0 ? -1 : count;
}

/* Nested lists in C order. */
static PyObject *nested_list(const xbuf_view *v, const xbuf_type *type, xbufpy_row_reader read,
                             xbuf_iter *it, int dim) {
    Py_ssize_t n = v->shape[dim];
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n;) {
        if (dim + 1 == v->ndim) {
            Py_ssize_t filled = fill_row(list, i, it, type, read);
            if (filled < 0)
                goto failed;
            i += filled;
            continue;
        }
        PyObject *inner = nested_list(v, type, read, it, dim + 1);
        if (inner == NULL)
            goto failed;
        PyList_SET_ITEM(list, i++, inner);
    }
    return list;
failed:
    Py_DECREF(list); /* the unfilled slots are NULL, which list dealloc skips */
    return NULL;
}

static PyObject *view_tolist(ViewObject *self, PyObject *unused) {
    (void)unused;
    const xbuf_type *type = xbufpy_view_type(self);
    if (type == NULL)
        return NULL;
    const xbuf_view *v = xbuf_mview_view(self->mview);
    if (v->ndim == 0)
        return xbufpy_unpack(type, v->buf);
    xbuf_iter it;
    xbuf_error err;
    if (xbuf_iter_init(&it, self->mview, &err) < 0)
        return xbufpy_raise(&err);
    return nested_list(v, type, xbufpy_row_reader_for(type), &it, 0);
}

static PyObject *view_toreadonly(ViewObject *self, PyObject *unused) {
    (void)unused;
    xbuf_mview *m;
    xbuf_error err;
    int rc = xbuf_mview_copy(self->mview, true, &m, &err);
    return xbufpy_view_derived(self, rc, m, &err);
}

static PyObject *view_release(ViewObject *self, PyObject *unused) {
    (void)unused;
    xbuf_error err;
    if (xbuf_mview_release(self->mview, &err) < 0)
        return xbufpy_raise(&err);
    xbuf_format_release(self->format);
    self->format = NULL;
    Py_RETURN_NONE;
}

static PyObject *view_enter(ViewObject *self, PyObject *unused) {
    (void)unused;
    LAYOUT_OR_RETURN(self, v);
    return Py_NewRef(self);
}

static PyObject *view_exit(ViewObject *self, PyObject *args) {
    (void)args;
    return view_release(self, NULL);
}

/* memoryview.cast's argument rules: shape a list or tuple of at most 64
 * positive ints. */
static int cast_ndim(PyObject *shape) {
    if (!PyList_Check(shape) && !PyTuple_Check(shape)) {
        PyErr_SetString(PyExc_TypeError, "shape must be a list or a tuple");
        return -1;
    }
    if (PySequence_Fast_GET_SIZE(shape) > XBUF_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "xbuf.View: number of dimensions must not exceed %d",
                     XBUF_MAX_NDIM);
        return -1;
    }
    return 0;
}

/* memoryview's copy_shape: the product of the extents and the itemsize
 * must fit, else ValueError. */
static int cast_shape(PyObject *shape, ptrdiff_t itemsize, int *ndim, ptrdiff_t *extents) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(shape);
    Py_ssize_t product = itemsize;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(shape, i);
        if (!PyLong_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "xbuf.View.cast(): elements of shape must be integers");
            return -1;
        }
        extents[i] = PyLong_AsSsize_t(item);
        if (extents[i] == -1 && PyErr_Occurred())
            return -1; /* OverflowError, as memoryview raises it */
        if (extents[i] <= 0) {
            PyErr_SetString(PyExc_ValueError,
                            "xbuf.View.cast(): elements of shape must be integers > 0");
            return -1;
        }
        if (extents[i] > PY_SSIZE_T_MAX / product) { /* memoryview's error, before the library's */
            PyErr_SetString(PyExc_ValueError, "xbuf.View.cast(): product(shape) > SSIZE_MAX");
            return -1;
        }
        product *= extents[i];
    }
    *ndim = (int)n;
    return 0;
}

/* Bytes become object pointers ('O') only if they were object pointers:
 * anything else would hand Python addresses that are no references. */
static int cast_objects_check(ViewObject *self, const char *format) {
    xbuf_format *target;
    xbuf_error err;
    if (xbuf_format_parse(format, &target, &err) < 0) {
        xbufpy_raise(&err);
        return -1;
    }
    const xbuf_type *t = xbuf_format_type(target), *own = NULL;
    int rc = 0;
    if (xbufpy_holds_objects(t)) {
        own = xbufpy_view_type(self);
        rc = own == NULL ? -1 : 0;
    }
    if (own != NULL && !xbuf_type_layout_compatible(t, own)) {
        PyErr_SetString(PyExc_TypeError,
                        "xbuf.View: cannot cast to a format holding Python objects ('O') from "
                        "one that does not hold them at the same places");
        rc = -1;
    }
    xbuf_format_release(target);
    return rc;
}

static PyObject *view_cast(ViewObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"format", "shape", NULL};
    const char *format;
    PyObject *shape = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O:cast", keywords, &format, &shape))
        return NULL;
    /* memoryview's order of complaints: the number of dimensions, the
     * format, the length, then the shape's elements. */
    const xbuf_view *v = xbufpy_view_layout(self);
    if (v == NULL || (shape != NULL && cast_ndim(shape) < 0))
        return NULL;
    ptrdiff_t itemsize;
    xbuf_error err;
    if (xbuf_format_size(format, &itemsize, NULL, &err) < 0)
        return xbufpy_raise(&err);
    if (itemsize == 0 || v->len % itemsize != 0) {
        PyErr_SetString(PyExc_TypeError, "xbuf.View: length is not a multiple of itemsize");
        return NULL;
    }
    int ndim = 1;
    ptrdiff_t extents[XBUF_MAX_NDIM];
    if (shape != NULL && cast_shape(shape, itemsize, &ndim, extents) < 0)
        return NULL;
    if (cast_objects_check(self, format) < 0)
        return NULL;
    xbuf_mview *m;
    int rc = xbuf_mview_cast(self->mview, format, ndim, shape != NULL ? extents : NULL, &m, &err);
    return xbufpy_view_derived(self, rc, m, &err);
}

static PyObject *view_field(ViewObject *self, PyObject *path) {
    if (!PyUnicode_Check(path))
        return PyErr_Format(PyExc_TypeError, "field() argument must be str, not %.200s",
                            Py_TYPE(path)->tp_name);
    const char *text = PyUnicode_AsUTF8(path);
    if (text == NULL)
        return NULL;
    xbuf_mview *m;
    xbuf_error err;
    int rc = xbuf_mview_field(self->mview, text, &m, &err);
    if (rc == XBUF_ERANGE) { /* no such field: a lookup by name, as in a mapping */
        PyErr_SetString(PyExc_KeyError, err.message);
        return NULL;
    }
    return xbufpy_view_derived(self, rc, m, &err);
}

static PyObject *view_transpose(ViewObject *self, PyObject *args) {
    LAYOUT_OR_RETURN(self, v);
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n == 1 && (PyTuple_Check(PyTuple_GET_ITEM(args, 0)) ||
                   PyList_Check(PyTuple_GET_ITEM(args, 0))))
        args = PyTuple_GET_ITEM(args, 0); /* transpose((1, 0)) as NumPy allows */
    PyObject *axes_seq = PySequence_Fast(args, "axes must be a sequence of ints");
    if (axes_seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(axes_seq);
    if (n == 0) {
        Py_DECREF(axes_seq);
        return view_transpose_all(self);
    }
    int axes[XBUF_MAX_NDIM];
    if (n != v->ndim) {
        Py_DECREF(axes_seq);
        return PyErr_Format(PyExc_ValueError, "axes don't match view: %zd axes for %d dimensions",
                            n, v->ndim);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t axis = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(axes_seq, i),
                                             PyExc_IndexError);
        if (axis == -1 && PyErr_Occurred()) {
            Py_DECREF(axes_seq);
            return NULL;
        }
        axes[i] = (int)(axis < 0 ? axis + n : axis);
        if (axis < -n || axis >= n) /* the library would say "not a permutation" */
            axes[i] = -1;
    }
    Py_DECREF(axes_seq);
    xbuf_mview *m;
    xbuf_error err;
    int rc = xbuf_mview_permute(self->mview, axes, &m, &err);
    return xbufpy_view_derived(self, rc, m, &err);
}

static PyMethodDef view_methods[] = {
    {"tobytes", (PyCFunction)(void (*)(void))view_tobytes, METH_VARARGS | METH_KEYWORDS,
     "tobytes(order='C') -> bytes\n\nThe items as bytes, laid out in order 'C', 'F' or 'A'."},
    {"hex", (PyCFunction)(void (*)(void))view_hex, METH_VARARGS | METH_KEYWORDS,
     "hex(sep=..., bytes_per_sep=1) -> str\n\nThe C-order bytes in hexadecimal, as bytes.hex."},
    {"tolist", (PyCFunction)view_tolist, METH_NOARGS,
     "tolist() -> list\n\nThe items as nested lists of Python values (records as tuples)."},
    {"toreadonly", (PyCFunction)view_toreadonly, METH_NOARGS,
     "toreadonly() -> View\n\nA read-only View of the same memory."},
    {"release", (PyCFunction)view_release, METH_NOARGS,
     "release()\n\nGive the export back now (BufferError while views of this one are held)."},
    {"cast", (PyCFunction)(void (*)(void))view_cast, METH_VARARGS | METH_KEYWORDS,
     "cast(format, shape=...) -> View\n\nThe memory as items of another format and shape.\n"
     "C- or F-contiguous views take any shape of the same size; other views\n"
     "whose last dimension is packed re-cut that dimension."},
    {"field", (PyCFunction)view_field, METH_O,
     "field(path) -> View\n\nA view of one field of each record ('name' or 'outer.inner')."},
    {"transpose", (PyCFunction)view_transpose, METH_VARARGS,
     "transpose(*axes) -> View\n\nDimensions reordered: new dimension i is old axes[i];\n"
     "no axes reverses them."},
    {"__dlpack__", (PyCFunction)(void (*)(void))xbufpy_view_dlpack,
     METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None)\n\n"
     "The memory as a DLPack capsule (the array API standard's protocol)."},
    {"__dlpack_device__", (PyCFunction)xbufpy_view_dlpack_device, METH_NOARGS,
     "__dlpack_device__() -> (1, 0): CPU memory."},
    {"__arrow_c_schema__", (PyCFunction)xbufpy_view_arrow_schema, METH_NOARGS,
     "__arrow_c_schema__() -> PyCapsule\n\nThe Arrow type of the view (PyCapsule interface)."},
    {"__arrow_c_array__", (PyCFunction)(void (*)(void))xbufpy_view_arrow_array,
     METH_VARARGS | METH_KEYWORDS,
     "__arrow_c_array__(requested_schema=None) -> (schema, array)\n\n"
     "The view as an Arrow array, zero-copy (PyCapsule interface; see xbuf.to_arrow)."},
    {"__enter__", (PyCFunction)view_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)view_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ---- comparison and hashing ----------------------------------------------- */

static int equal_views(const xbuf_view *a, const xbuf_view *b, bool *equal) {
    xbuf_error err;
    if (xbuf_equal(a, b, equal, &err) < 0)
        return xbufpy_raise_int(&err);
    return 0;
}

static PyObject *view_richcompare(PyObject *self, PyObject *other, int op) {
    if (op != Py_EQ && op != Py_NE)
        Py_RETURN_NOTIMPLEMENTED;
    bool equal = self == other; /* memoryview: a view equals itself, even released */
    const xbuf_view *a = xbuf_mview_view(((ViewObject *)self)->mview);
    /* A format that does not fit the items is the exporter's fault: the
     * BufferError tolist() raises for it, not the library's ValueError. */
    if (!equal && a != NULL && xbufpy_view_type((ViewObject *)self) == NULL)
        return NULL;
    if (!equal && a != NULL && View_Check(other)) {
        const xbuf_view *b = xbuf_mview_view(((ViewObject *)other)->mview);
        if (b != NULL && xbufpy_view_type((ViewObject *)other) == NULL)
            return NULL;
        if (b != NULL && equal_views(a, b, &equal) < 0)
            return NULL;
    } else if (!equal && a != NULL) {
        if (!xbufpy_has_buffer(other))
            Py_RETURN_NOTIMPLEMENTED;
        xbuf_view b;
        if (xbufpy_source_get(other, &b, XBUF_FULL_RO) < 0)
            return NULL;
        int rc = equal_views(a, &b, &equal);
        xbuf_release(&b);
        if (rc < 0)
            return NULL;
    }
    return PyBool_FromLong(equal == (op == Py_EQ));
}

/* memoryview's rules: read-only, bytes-like formats, equal to hash(tobytes()). */
static Py_hash_t view_hash(ViewObject *self) {
    if (self->hash != -1)
        return self->hash;
    const xbuf_view *v = xbufpy_view_layout(self);
    if (v == NULL)
        return -1;
    if (!v->readonly) {
        PyErr_SetString(PyExc_ValueError, "cannot hash writable xbuf.View object");
        return -1;
    }
    const char *f = v->format[0] == '@' ? v->format + 1 : v->format;
    if (strcmp(f, "B") != 0 && strcmp(f, "b") != 0 && strcmp(f, "c") != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "xbuf.View: hashing is restricted to formats 'B', 'b' or 'c'");
        return -1;
    }
    if (PyObject_Hash(self->obj) == -1) /* memoryview: an unhashable exporter, an unhashable view */
        return -1;
    PyObject *bytes = bytes_in_order(self, 'C');
    if (bytes == NULL)
        return -1;
    self->hash = PyObject_Hash(bytes);
    Py_DECREF(bytes);
    return self->hash;
}

static PyObject *view_repr(ViewObject *self) {
    const xbuf_view *v = xbuf_mview_view(self->mview);
    if (v == NULL)
        return PyUnicode_FromFormat("<released xbuf.View at %p>", (void *)self);
    PyObject *shape = tuple_of(v->ndim, v->shape);
    if (shape == NULL)
        return NULL;
    PyObject *repr = PyUnicode_FromFormat("<xbuf.View format='%s' shape=%R at %p>", v->format,
                                          shape, (void *)self);
    Py_DECREF(shape);
    return repr;
}

/* ---- the buffer protocol --------------------------------------------------- */

/* Each Python export holds an xbuf view of the mview (which counts it and
 * keeps the mview alive), on the heap so that Py_buffer.internal can own it. */
static int view_getbuffer(ViewObject *self, Py_buffer *buffer, int flags) {
    if (xbufpy_view_layout(self) == NULL)
        return -1;
    /* A format that reads past the items is not passed on: its consumer
     * (memoryview, NumPy) would read memory nobody gave it. */
    if (XBUF_WANTS(flags, XBUF_FORMAT) && xbufpy_view_type(self) == NULL)
        return -1;
    xbuf_view *v = PyMem_Malloc(sizeof *v);
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    xbuf_error err;
    if (xbuf_get(xbuf_mview_exporter(self->mview), v, flags, &err) < 0) {
        PyMem_Free(v);
        return xbufpy_raise_int(&err);
    }
    *buffer = (Py_buffer){
        .buf = v->buf, .obj = Py_NewRef(self), .len = v->len, .itemsize = v->itemsize,
        .readonly = v->readonly, .ndim = v->ndim, .format = (char *)v->format,
        .shape = v->shape, .strides = v->strides, .suboffsets = v->suboffsets, .internal = v,
    };
    return 0;
}

static void view_releasebuffer(ViewObject *self, Py_buffer *buffer) {
    (void)self;
    xbuf_release(buffer->internal);
    PyMem_Free(buffer->internal);
}

static PyBufferProcs view_as_buffer = {
    (getbufferproc)view_getbuffer,
    (releasebufferproc)view_releasebuffer,
};

PyTypeObject XbufView_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "xbuf.View",
    .tp_basicsize = sizeof(ViewObject),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_repr = (reprfunc)view_repr,
    .tp_as_sequence = &xbufpy_view_as_sequence,
    .tp_as_mapping = &xbufpy_view_as_mapping,
    .tp_hash = (hashfunc)view_hash,
    .tp_as_buffer = &view_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_SEQUENCE,
    .tp_doc = "View(object)\n--\n\n"
              "A view of the memory of any object with a buffer: memoryview's interface,\n"
              "plus N-d slicing and indexing, every PEP 3118 format (records, byte orders,\n"
              "strings, complex numbers), field views, transposes and casts of strided\n"
              "views.",
    .tp_richcompare = view_richcompare,
    .tp_weaklistoffset = offsetof(ViewObject, weakreflist),
    .tp_iter = xbufpy_view_iter,
    .tp_methods = view_methods,
    .tp_getset = view_getset,
    .tp_new = view_new,
    .tp_vectorcall = view_vectorcall,
};

int xbufpy_view_ready(PyObject *module) {
    if (PyType_Ready(&XbufView_Type) < 0 || PyType_Ready(&XbufViewIter_Type) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "View", (PyObject *)&XbufView_Type);
}
