/* errors.c -- library error codes as the exceptions memoryview raises. */
#include "glue.h"

PyObject *xbufpy_exception_for(int code) {
    switch (code) {
    case XBUF_ENOMEM: return PyExc_MemoryError;
    case XBUF_EREQUEST:
    case XBUF_EEXPORTER:
    case XBUF_EBUSY: return PyExc_BufferError;
    case XBUF_EOVERFLOW: return PyExc_OverflowError;
    case XBUF_ERANGE: return PyExc_IndexError;
    case XBUF_EUNSUPPORTED: return PyExc_NotImplementedError;
    case XBUF_ETYPE:
    case XBUF_EREADONLY: return PyExc_TypeError;
    default: return PyExc_ValueError; /* EINVAL EFORMAT ERELEASED */
    }
}

void *xbufpy_raise(const xbuf_error *err) {
    if (PyErr_Occurred())
        return NULL;
    if (err->code == XBUF_ENOMEM)
        return PyErr_NoMemory();
    const char *message = err->message[0] ? err->message : xbuf_strerror(err->code);
    PyErr_SetString(xbufpy_exception_for(err->code), message);
    return NULL;
}

int xbufpy_raise_int(const xbuf_error *err) {
    xbufpy_raise(err);
    return -1;
}
