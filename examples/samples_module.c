/*
 * samples_module.c -- the sample buffer of samples.c (a C library that
 * knows nothing of Python) handed to Python: xbuf_example_samples.Samples.
 *
 * This is all a C library needs to write to be usable from Python, and
 * through xbuf.View from NumPy, PyTorch (DLPack) and pyarrow (Arrow)
 * without a copy: the buffer protocol's two slots, each a few lines on top
 * of the library's own exporter.  The exporter keeps its rules -- growing
 * the buffer is refused while any view, in any package, is held.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "samples.h"

typedef struct {
    PyObject_HEAD
    samples *buffer;
} SamplesObject;

static PyObject *raise_xbuf(const xbuf_error *err) {
    PyErr_SetString(err->code == XBUF_EBUSY || err->code == XBUF_EREQUEST ? PyExc_BufferError
                                                                          : PyExc_ValueError,
                    err->message);
    return NULL;
}

static PyObject *samples_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (!PyArg_ParseTuple(args, ":Samples") || (kwargs != NULL && PyDict_Size(kwargs) > 0)) {
        PyErr_SetString(PyExc_TypeError, "Samples() takes no arguments");
        return NULL;
    }
    SamplesObject *self = (SamplesObject *)type->tp_alloc(type, 0);
    xbuf_error err;
    if (self != NULL && samples_create(&self->buffer, &err) < 0) {
        Py_DECREF(self);
        return raise_xbuf(&err);
    }
    return (PyObject *)self;
}

static void samples_dealloc(SamplesObject *self) {
    /* No view can be held here: each holds a reference to self. */
    samples_destroy(self->buffer, NULL);
    Py_TYPE(self)->tp_free(self);
}

/* append(values): add samples, refused while views are held. */
static PyObject *samples_append_py(SamplesObject *self, PyObject *values) {
    PyObject *seq = PySequence_Fast(values, "append() takes a sequence of ints");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int16_t *data = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof *data);
    if (data == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if ((v == -1 && PyErr_Occurred()) || v < INT16_MIN || v > INT16_MAX) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_OverflowError, "a sample must fit in 16 bits");
            PyMem_Free(data);
            Py_DECREF(seq);
            return NULL;
        }
        data[i] = (int16_t)v;
    }
    xbuf_error err;
    int rc = samples_append(self->buffer, data, n, &err);
    PyMem_Free(data);
    Py_DECREF(seq);
    if (rc < 0)
        return raise_xbuf(&err);
    Py_RETURN_NONE;
}

/* The buffer protocol, by the library's exporter: it checks the request,
 * counts the export and fills the view; the Py_buffer takes its fields. */
static int samples_getbuffer(SamplesObject *self, Py_buffer *b, int flags) {
    xbuf_view *v = PyMem_Malloc(sizeof *v);
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    xbuf_error err;
    if (xbuf_get(&self->buffer->exporter, v, flags, &err) < 0) {
        PyMem_Free(v);
        raise_xbuf(&err);
        return -1;
    }
    *b = (Py_buffer){
        .buf = v->buf, .obj = Py_NewRef(self), .len = v->len, .itemsize = v->itemsize,
        .readonly = v->readonly, .ndim = v->ndim, .format = (char *)v->format,
        .shape = v->shape, .strides = v->strides, .suboffsets = v->suboffsets, .internal = v,
    };
    return 0;
}

static void samples_releasebuffer(SamplesObject *self, Py_buffer *b) {
    (void)self;
    xbuf_release(b->internal);
    PyMem_Free(b->internal);
}

static PyObject *samples_exports(SamplesObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSsize_t(xbuf_exports_count(&self->buffer->exports));
}

static PyBufferProcs samples_as_buffer = {
    (getbufferproc)samples_getbuffer,
    (releasebufferproc)samples_releasebuffer,
};

static PyMethodDef samples_methods[] = {
    {"append", (PyCFunction)samples_append_py, METH_O,
     "append(values)\n\nAdd 16-bit samples (BufferError while views are held)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef samples_getset[] = {
    {"exports", (getter)samples_exports, NULL, "Views held.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Samples_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "xbuf_example_samples.Samples",
    .tp_basicsize = sizeof(SamplesObject),
    .tp_dealloc = (destructor)samples_dealloc,
    .tp_as_buffer = &samples_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A growable buffer of 16-bit samples, exported by a C library through xbuf.",
    .tp_methods = samples_methods,
    .tp_getset = samples_getset,
    .tp_new = samples_new,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, .m_name = "xbuf_example_samples",
    .m_doc = "examples/samples.c, the C library, handed to Python.", .m_size = -1,
};

PyMODINIT_FUNC PyInit_xbuf_example_samples(void);
PyMODINIT_FUNC PyInit_xbuf_example_samples(void) {
    if (PyType_Ready(&Samples_Type) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddObjectRef(module, "Samples", (PyObject *)&Samples_Type) < 0)
        Py_CLEAR(module);
    return module;
}
