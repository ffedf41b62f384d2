/*
 * arrow_glue.c -- the Arrow PyCapsule interface over the library's Arrow
 * bridge (include/xbuf/arrow.h): View.__arrow_c_schema__,
 * View.__arrow_c_array__, xbuf.to_arrow and xbuf.from_arrow.
 *
 * Capsules follow the interface: "arrow_schema" and "arrow_array" hold
 * heap-allocated structs; a consumer moves the struct out (marking it
 * released), and the capsule's destructor releases whatever is still
 * there, then frees the struct.
 */
#include "view.h"

#include <string.h>

static void schema_capsule_gone(PyObject *capsule) {
    struct ArrowSchema *schema = PyCapsule_GetPointer(capsule, "arrow_schema");
    if (schema == NULL) {
        PyErr_WriteUnraisable(capsule);
        return;
    }
    if (schema->release != NULL)
        schema->release(schema);
    PyMem_Free(schema);
}

static void array_capsule_gone(PyObject *capsule) {
    struct ArrowArray *array = PyCapsule_GetPointer(capsule, "arrow_array");
    if (array == NULL) {
        PyErr_WriteUnraisable(capsule);
        return;
    }
    if (array->release != NULL)
        array->release(array);
    PyMem_Free(array);
}

/* The library's refusals (what Arrow cannot hold) as ValueError, what
 * pyarrow raises for data it cannot represent. */
static void *refuse(const xbuf_error *err) {
    if (err->code == XBUF_EUNSUPPORTED) {
        PyErr_SetString(PyExc_ValueError, err->message);
        return NULL;
    }
    return xbufpy_raise(err);
}

/* Schema and array of the view, each in its capsule; `array_out` may be
 * NULL when only the schema is wanted. */
static int export_capsules(ViewObject *self, const xbuf_arrow_options *options,
                           PyObject **schema_out, PyObject **array_out) {
    *schema_out = NULL;
    if (array_out != NULL)
        *array_out = NULL;
    if (xbufpy_view_layout(self) == NULL)
        return -1;
    struct ArrowSchema *schema = PyMem_Calloc(1, sizeof *schema);
    struct ArrowArray *array = PyMem_Calloc(1, sizeof *array);
    xbuf_error err;
    if (schema == NULL || array == NULL) {
        PyMem_Free(schema);
        PyMem_Free(array);
        PyErr_NoMemory();
        return -1;
    }
    if (xbuf_arrow_export(self->mview, options, schema, array, &err) < 0) {
        PyMem_Free(schema);
        PyMem_Free(array);
        refuse(&err);
        return -1;
    }
    if (array_out == NULL) { /* the schema alone: the data goes back now */
        array->release(array);
        PyMem_Free(array);
        array = NULL;
    }
    *schema_out = PyCapsule_New(schema, "arrow_schema", schema_capsule_gone);
    if (*schema_out == NULL) {
        schema->release(schema);
        PyMem_Free(schema);
    }
    if (array != NULL) {
        *array_out = PyCapsule_New(array, "arrow_array", array_capsule_gone);
        if (*array_out == NULL) {
            array->release(array);
            PyMem_Free(array);
        }
    }
    if (*schema_out == NULL || (array_out != NULL && *array_out == NULL)) {
        Py_CLEAR(*schema_out);
        if (array_out != NULL)
            Py_CLEAR(*array_out);
        return -1;
    }
    return 0;
}

static PyObject *capsule_pair(ViewObject *self, const xbuf_arrow_options *options) {
    PyObject *schema, *array;
    if (export_capsules(self, options, &schema, &array) < 0)
        return NULL;
    PyObject *pair = PyTuple_Pack(2, schema, array);
    Py_DECREF(schema);
    Py_DECREF(array);
    return pair;
}

PyObject *xbufpy_view_arrow_schema(ViewObject *self, PyObject *unused) {
    (void)unused;
    PyObject *schema;
    return export_capsules(self, NULL, &schema, NULL) < 0 ? NULL : schema;
}

/* requested_schema may be ignored, the interface says: the view's memory
 * decides the type. */
PyObject *xbufpy_view_arrow_array(ViewObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"requested_schema", NULL};
    PyObject *requested = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:__arrow_c_array__", keywords, &requested))
        return NULL;
    return capsule_pair(self, NULL);
}

/* ---- xbuf.to_arrow: the same with the library's options --------------------- */

static int choose(PyObject *value, const char *what, const char *first, const char *second,
                  int *out) {
    const char *text = value == NULL ? first : PyUnicode_Check(value) ? PyUnicode_AsUTF8(value)
                                                                        : NULL;
    if (text != NULL && (strcmp(text, first) == 0 || strcmp(text, second) == 0)) {
        *out = strcmp(text, second) == 0;
        return 0;
    }
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%s must be '%s' or '%s', not %R", what, first, second,
                     value);
    return -1;
}

static PyObject *to_arrow(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"view", "nd", "records", "copy", NULL};
    PyObject *view, *nd = NULL, *records = NULL;
    int copy = 0, tensor, as_struct;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|$OOp:to_arrow", keywords, &XbufView_Type,
                                     &view, &nd, &records, &copy) ||
        choose(nd, "nd", "list", "tensor", &tensor) < 0 ||
        choose(records, "records", "binary", "struct", &as_struct) < 0)
        return NULL;
    xbuf_arrow_options options = XBUF_ARROW_OPTIONS_INIT;
    options.nd = tensor ? XBUF_ARROW_ND_TENSOR : XBUF_ARROW_ND_FIXED_SIZE_LIST;
    options.records = as_struct ? XBUF_ARROW_RECORDS_STRUCT : XBUF_ARROW_RECORDS_BINARY;
    options.allow_copy = copy != 0;
    return capsule_pair((ViewObject *)view, &options);
}

/* ---- xbuf.from_arrow ------------------------------------------------------------ */

static xbuf_mview *import_pair(PyObject *pair) {
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "__arrow_c_array__ must return (schema, array) capsules");
        return NULL;
    }
    struct ArrowSchema *schema = PyCapsule_GetPointer(PyTuple_GET_ITEM(pair, 0), "arrow_schema");
    struct ArrowArray *array = schema == NULL ? NULL
                               : PyCapsule_GetPointer(PyTuple_GET_ITEM(pair, 1), "arrow_array");
    if (array == NULL)
        return NULL;
    if (schema->release == NULL || array->release == NULL) {
        PyErr_SetString(PyExc_ValueError, "the Arrow schema or array was already released");
        return NULL;
    }
    xbuf_mview *m;
    xbuf_error err;
    if (xbuf_arrow_import(schema, array, &m, &err) < 0)
        return refuse(&err);
    return m; /* the array moved into m; the schema's capsule still releases it */
}

static PyObject *from_arrow(PyObject *module, PyObject *obj) {
    (void)module;
    PyObject *pair = PyObject_CallMethod(obj, "__arrow_c_array__", NULL);
    if (pair == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%.200s is not an Arrow array (no __arrow_c_array__)",
                         Py_TYPE(obj)->tp_name);
        }
        return NULL;
    }
    xbuf_mview *m = import_pair(pair);
    Py_DECREF(pair);
    return m == NULL ? NULL : xbufpy_view_new(m, obj);
}

static PyMethodDef arrow_functions[] = {
    {"to_arrow", (PyCFunction)(void (*)(void))to_arrow, METH_VARARGS | METH_KEYWORDS,
     "to_arrow(view, *, nd='list', records='binary', copy=False) -> (schema, array)\n\n"
     "The view as Arrow PyCapsules: N-d views as nested fixed-size lists or the\n"
     "arrow.fixed_shape_tensor extension (nd='tensor'); records as fixed-size\n"
     "binary or, copied, a struct of arrays (records='struct'); copy=True also\n"
     "packs bools, swaps foreign byte orders and gathers strided views.\n"
     "pyarrow.Array._import_from_c_capsule(*pair) reads them."},
    {"from_arrow", from_arrow, METH_O,
     "from_arrow(obj) -> View\n\n"
     "A read-only View of an Arrow array (any object with __arrow_c_array__):\n"
     "fixed-width primitives, fixed-size lists and fixed_shape_tensor, without\n"
     "nulls, offsets or dictionaries; zero-copy."},
    {NULL, NULL, 0, NULL},
};

int xbufpy_arrow_ready(PyObject *module) {
    return PyModule_AddFunctions(module, arrow_functions);
}
