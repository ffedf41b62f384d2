/* format_object.c -- placeholder until this part lands (being written now). */
#include "glue.h"
int xbufpy_format_ready(PyObject *module) {
    return PyModule_AddObjectRef(module, "Format", Py_None);
}
xbuf_format *xbufpy_format_parse(PyObject *text) {
    xbuf_format *format;
    xbuf_error err;
    if (xbuf_format_parse(PyUnicode_AsUTF8(text), &format, &err) < 0)
        return (xbuf_format *)xbufpy_raise(&err);
    return format;
}
