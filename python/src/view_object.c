/* view_object.c -- placeholder until this part lands (being written now). */
#include "glue.h"
int xbufpy_view_ready(PyObject *module) {
    return PyModule_AddObjectRef(module, "View", Py_None);
}
