/* module.c -- the _xbuf extension module: each type file adds its part. */
#include "glue.h"

static PyObject *calcsize(PyObject *module, PyObject *fmt) {
    (void)module;
    if (!PyUnicode_Check(fmt))
        return PyErr_Format(PyExc_TypeError, "calcsize() argument must be str, not %.200s",
                            Py_TYPE(fmt)->tp_name);
    xbuf_format *format = xbufpy_format_parse(fmt);
    if (format == NULL)
        return NULL;
    Py_ssize_t size = xbuf_format_type(format)->itemsize;
    xbuf_format_release(format);
    return PyLong_FromSsize_t(size);
}

static PyMethodDef module_methods[] = {
    {"calcsize", calcsize, METH_O,
     "calcsize(format) -> int\n\nThe size in bytes of one item of a PEP 3118 format."},
    {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *module) {
    if (PyModule_AddStringConstant(module, "library_version", xbuf_version()) < 0)
        return -1;
    if (xbufpy_format_ready(module) < 0 || xbufpy_view_ready(module) < 0 ||
        xbufpy_exporter_ready(module) < 0 || xbufpy_check_ready(module) < 0 ||
        xbufpy_dlpack_ready(module) < 0 || xbufpy_arrow_ready(module) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "xbuf._xbuf",
    .m_doc = "The C part of xbuf: views, formats, the reference exporter and the checker.",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC PyInit__xbuf(void);
PyMODINIT_FUNC PyInit__xbuf(void) { return PyModuleDef_Init(&module_def); }
