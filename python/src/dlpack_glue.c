/*
 * dlpack_glue.c -- View.__dlpack__, View.__dlpack_device__ and
 * xbuf.from_dlpack: the Python array API standard's DLPack exchange over
 * the library's DLPack bridge (include/xbuf/dlpack.h).
 *
 * Capsules follow the standard: a producer hands out "dltensor_versioned"
 * (DLPack 1.x, asked for with max_version >= (1, 0)) or "dltensor" (the
 * legacy struct); a consumer that takes the tensor renames the capsule
 * "used_dltensor[_versioned]", and a capsule that was never consumed calls
 * the tensor's deleter when it is collected.
 */
#include "view.h"

#define VERSIONED "dltensor_versioned"
#define LEGACY "dltensor"
#define USED_VERSIONED "used_dltensor_versioned"
#define USED_LEGACY "used_dltensor"

/* A capsule's destructor may run with an exception set: keep it. */
static void delete_unconsumed(PyObject *capsule, const char *name, bool versioned) {
    if (!PyCapsule_IsValid(capsule, name))
        return; /* consumed: renamed "used_..." */
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    void *tensor = PyCapsule_GetPointer(capsule, name);
    if (tensor != NULL && versioned) {
        xbuf_dl_managed_tensor_versioned *t = tensor;
        if (t->deleter != NULL)
            t->deleter(t);
    } else if (tensor != NULL) {
        xbuf_dl_managed_tensor *t = tensor;
        if (t->deleter != NULL)
            t->deleter(t);
    }
    PyErr_Restore(type, value, traceback);
}

static void versioned_capsule_gone(PyObject *capsule) {
    delete_unconsumed(capsule, VERSIONED, true);
}

static void legacy_capsule_gone(PyObject *capsule) {
    delete_unconsumed(capsule, LEGACY, false);
}

/* The standard's BufferError for what cannot be exported as asked. */
static void *refuse(const xbuf_error *err) {
    if (err->code == XBUF_EUNSUPPORTED || err->code == XBUF_EREQUEST) {
        PyErr_SetString(PyExc_BufferError, err->message);
        return NULL;
    }
    return xbufpy_raise(err);
}

static int copy_policy(PyObject *copy, xbuf_dlpack_copy *out) {
    if (copy == NULL || copy == Py_None)
        *out = XBUF_DLPACK_COPY_IF_NEEDED;
    else if (copy == Py_True)
        *out = XBUF_DLPACK_COPY_ALWAYS;
    else if (copy == Py_False)
        *out = XBUF_DLPACK_COPY_NEVER;
    else {
        PyErr_Format(PyExc_TypeError, "copy must be None, True or False, not %.200s",
                     Py_TYPE(copy)->tp_name);
        return -1;
    }
    return 0;
}

/* dl_device: None or (kDLCPU, 0), the only memory a View holds. */
static int check_device(PyObject *device) {
    if (device == NULL || device == Py_None)
        return 0;
    long type = -1, id = -1;
    if (PyTuple_Check(device) && PyTuple_GET_SIZE(device) == 2) {
        type = PyLong_AsLong(PyTuple_GET_ITEM(device, 0));
        id = PyLong_AsLong(PyTuple_GET_ITEM(device, 1));
        if (PyErr_Occurred())
            return -1;
    }
    if (type == XBUF_DL_CPU && id == 0)
        return 0;
    PyErr_Format(PyExc_BufferError,
                 "an xbuf.View holds CPU memory: dl_device must be (%d, 0) or None, not %R",
                 XBUF_DL_CPU, device);
    return -1;
}

/* max_version None or below (1, 0) asks for the legacy struct. */
static int wants_versioned(PyObject *max_version, bool *out) {
    *out = false;
    if (max_version == NULL || max_version == Py_None)
        return 0;
    if (!PyTuple_Check(max_version) || PyTuple_GET_SIZE(max_version) != 2) {
        PyErr_SetString(PyExc_TypeError, "max_version must be a (major, minor) tuple or None");
        return -1;
    }
    long major = PyLong_AsLong(PyTuple_GET_ITEM(max_version, 0));
    if (major == -1 && PyErr_Occurred())
        return -1;
    *out = major >= 1;
    return 0;
}

PyObject *xbufpy_view_dlpack(ViewObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *stream = NULL, *max_version = NULL, *device = NULL, *copy = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO:__dlpack__", keywords, &stream,
                                     &max_version, &device, &copy))
        return NULL;
    if (stream != NULL && stream != Py_None) {
        PyErr_SetString(PyExc_BufferError,
                        "an xbuf.View holds CPU memory, which has no streams: stream must be None");
        return NULL;
    }
    xbuf_dlpack_copy policy;
    bool versioned;
    if (xbufpy_view_layout(self) == NULL || copy_policy(copy, &policy) < 0 ||
        check_device(device) < 0 || wants_versioned(max_version, &versioned) < 0)
        return NULL;
    xbuf_error err;
    PyObject *capsule;
    if (versioned) {
        xbuf_dl_managed_tensor_versioned *t;
        if (xbuf_dlpack_export(self->mview, policy, &t, &err) < 0)
            return refuse(&err);
        capsule = PyCapsule_New(t, VERSIONED, versioned_capsule_gone);
        if (capsule == NULL)
            t->deleter(t);
    } else {
        xbuf_dl_managed_tensor *t;
        if (xbuf_dlpack_export_legacy(self->mview, policy, &t, &err) < 0)
            return refuse(&err);
        capsule = PyCapsule_New(t, LEGACY, legacy_capsule_gone);
        if (capsule == NULL)
            t->deleter(t);
    }
    return capsule;
}

PyObject *xbufpy_view_dlpack_device(ViewObject *self, PyObject *unused) {
    (void)unused;
    if (xbufpy_view_layout(self) == NULL)
        return NULL;
    return Py_BuildValue("(ii)", XBUF_DL_CPU, 0);
}

/* ---- from_dlpack ------------------------------------------------------- */

/* Ask the producer for a capsule: DLPack 1.x first, and the call without
 * keywords for producers that predate them (then `copy` is ours to do). */
static PyObject *ask_producer(PyObject *x, PyObject *copy, bool *copy_done_by_producer) {
    PyObject *method = PyObject_GetAttrString(x, "__dlpack__");
    if (method == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%.200s does not support DLPack (no __dlpack__)",
                         Py_TYPE(x)->tp_name);
        }
        return NULL;
    }
    PyObject *kwargs = Py_BuildValue("{s(ii)sO}", "max_version", XBUF_DLPACK_MAJOR,
                                     XBUF_DLPACK_MINOR, "copy", copy);
    PyObject *empty = PyTuple_New(0);
    PyObject *capsule = kwargs && empty ? PyObject_Call(method, empty, kwargs) : NULL;
    *copy_done_by_producer = capsule != NULL;
    if (capsule == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear(); /* an older producer: no keywords */
        capsule = PyObject_CallNoArgs(method);
    }
    Py_XDECREF(kwargs);
    Py_XDECREF(empty);
    Py_DECREF(method);
    return capsule;
}

/* Take the tensor out of the capsule; on failure the capsule keeps it (and
 * its destructor will call the deleter). */
static xbuf_mview *consume(PyObject *capsule, bool *copied) {
    xbuf_mview *m = NULL;
    xbuf_error err;
    *copied = false;
    if (PyCapsule_IsValid(capsule, VERSIONED)) {
        xbuf_dl_managed_tensor_versioned *t = PyCapsule_GetPointer(capsule, VERSIONED);
        if (xbuf_dlpack_import(t, &m, &err) < 0)
            return refuse(&err);
        *copied = (t->flags & XBUF_DL_FLAG_IS_COPIED) != 0;
        PyCapsule_SetName(capsule, USED_VERSIONED);
    } else if (PyCapsule_IsValid(capsule, LEGACY)) {
        xbuf_dl_managed_tensor *t = PyCapsule_GetPointer(capsule, LEGACY);
        if (xbuf_dlpack_import_legacy(t, &m, &err) < 0)
            return refuse(&err);
        PyCapsule_SetName(capsule, USED_LEGACY);
    } else {
        PyErr_SetString(PyExc_TypeError,
                        "__dlpack__ did not return an unconsumed DLPack capsule "
                        "('" VERSIONED "' or '" LEGACY "')");
    }
    return m;
}

/* A View of a fresh C-contiguous copy of `view`'s items. */
static PyObject *fresh_copy(PyObject *view) {
    PyObject *bytes = PyObject_CallMethod(view, "tobytes", NULL);
    if (bytes == NULL)
        return NULL;
    PyObject *memory = PyByteArray_FromObject(bytes);
    Py_DECREF(bytes);
    if (memory == NULL)
        return NULL;
    PyObject *flat = PyObject_CallOneArg((PyObject *)&XbufView_Type, memory);
    Py_DECREF(memory);
    if (flat == NULL)
        return NULL;
    PyObject *format = PyObject_GetAttrString(view, "format");
    PyObject *shape = PyObject_GetAttrString(view, "shape");
    PyObject *result = format && shape ? PyObject_CallMethod(flat, "cast", "OO", format, shape)
                                       : NULL;
    Py_XDECREF(format);
    Py_XDECREF(shape);
    Py_DECREF(flat);
    return result;
}

static PyObject *from_dlpack(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"x", "device", "copy", NULL};
    PyObject *x, *device = NULL, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OO:from_dlpack", keywords, &x, &device,
                                     &copy))
        return NULL;
    xbuf_dlpack_copy policy;
    if (copy_policy(copy, &policy) < 0 || check_device(device) < 0)
        return NULL;
    bool asked_with_copy, copied;
    PyObject *capsule = ask_producer(x, copy, &asked_with_copy);
    if (capsule == NULL)
        return NULL;
    xbuf_mview *m = consume(capsule, &copied);
    Py_DECREF(capsule);
    if (m == NULL)
        return NULL;
    PyObject *view = xbufpy_view_new(m, x);
    if (view != NULL && policy == XBUF_DLPACK_COPY_ALWAYS && !(asked_with_copy && copied))
        Py_SETREF(view, fresh_copy(view));
    return view;
}

static PyMethodDef dlpack_functions[] = {
    {"from_dlpack", (PyCFunction)(void (*)(void))from_dlpack, METH_VARARGS | METH_KEYWORDS,
     "from_dlpack(x, /, *, device=None, copy=None) -> View\n\n"
     "A View of the memory of any object with __dlpack__ (NumPy, PyTorch, JAX...),\n"
     "zero-copy unless copy=True.  CPU memory only."},
    {NULL, NULL, 0, NULL},
};

int xbufpy_dlpack_ready(PyObject *module) {
    return PyModule_AddFunctions(module, dlpack_functions);
}
