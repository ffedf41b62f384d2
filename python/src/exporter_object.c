/* exporter_object.c -- placeholder until this part lands (being written now). */
#include "glue.h"
int xbufpy_exporter_ready(PyObject *module) {
    return PyModule_AddObjectRef(module, "Exporter", Py_None);
}
