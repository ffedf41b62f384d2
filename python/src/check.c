/*
 * check.c -- xbuf.check(obj): the library's conformance checker
 * (xbuf_exporter_check) run on a Python object.
 *
 * The rules are the library's.  This file adds what only Python can see:
 *
 *   - exceptions.  CPython asks an exporter that cannot serve a request to
 *     raise BufferError ("preferably", says PyObject_GetBuffer's manual;
 *     NumPy raises ValueError: "ndarray is not C-contiguous").  BufferError,
 *     ValueError and MemoryError are refusals; any other Exception -- a
 *     TypeError, an AttributeError from a buggy __buffer__ -- is reported
 *     as a problem, through the checker, by answering it XBUF_EEXPORTER
 *     with the exception in the message (source.c already does that for a
 *     getbuffer that fails without an exception, and this file for one
 *     that succeeds with an exception set).  Every exception is cleared
 *     before the next request, which must not run with one set.  A
 *     BaseException that is not an Exception (KeyboardInterrupt,
 *     SystemExit) stops the check and propagates.
 *   - releases.  Every export holds a reference to its object, so a
 *     reference count that differs after all views are released means the
 *     exporter's release is unbalanced.
 */
#include "glue.h"

typedef struct checked {
    xbuf_exporter base;   /* first: the checker calls base.get */
    xbufpy_source source; /* the object, as the rest of the glue sees it */
    PyObject *problems;   /* list of str */
    /* An exception that stops the check (fetched, owned), and whether the
     * visitor itself failed (its exception is set). */
    PyObject *stop_type, *stop_value, *stop_traceback;
    int visitor_failed;
} checked;

/* str(exception), or a stand-in when even that raises. */
static void describe(PyObject *value, char *buf, size_t size) {
    PyObject *text = value != NULL ? PyObject_Str(value) : NULL;
    const char *utf8 = text != NULL ? PyUnicode_AsUTF8(text) : NULL;
    if (utf8 == NULL)
        PyErr_Clear();
    snprintf(buf, size, "%s", utf8 != NULL ? utf8 : "<exception not printable>");
    Py_XDECREF(text);
}

/* Turn the exception the exporter raised into a refusal code (clearing it),
 * or keep it to stop the check. */
static int classify(checked *c, xbuf_error *err) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    const char *name = ((PyTypeObject *)type)->tp_name;
    if (!PyErr_GivenExceptionMatches(type, PyExc_Exception)) {
        c->stop_type = type;
        c->stop_value = value;
        c->stop_traceback = traceback;
        return xbuf_error_set(err, XBUF_EEXPORTER, "interrupted by %.100s", name);
    }
    char text[200];
    describe(value, text, sizeof text);
    int code = XBUF_EEXPORTER;
    if (PyErr_GivenExceptionMatches(type, PyExc_BufferError) ||
        PyErr_GivenExceptionMatches(type, PyExc_ValueError))
        code = XBUF_EREQUEST;
    else if (PyErr_GivenExceptionMatches(type, PyExc_MemoryError))
        code = XBUF_ENOMEM;
    if (code == XBUF_EEXPORTER)
        xbuf_error_set(err, code, "raised %.100s instead of BufferError: %s", name, text);
    else
        xbuf_error_set(err, code, "%.100s: %s", name, text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return code;
}

static int checked_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err) {
    checked *c = (checked *)self;
    int rc = c->source.base.get(&c->source.base, view, flags, err);
    if (!PyErr_Occurred())
        return rc;
    if (rc == 0) {
        /* A getbuffer that succeeded with an exception set: the next
         * request must not run with it, and the answer cannot be trusted. */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback); /* the release runs Python code */
        xbuf_release(view);
        PyErr_Restore(type, value, traceback);
        xbuf_error said;
        rc = classify(c, &said);
        if (c->stop_type != NULL)
            return xbuf_error_set(err, rc, "%s", said.message);
        return xbuf_error_set(err, XBUF_EEXPORTER, "answered but left an exception set (%s)",
                              said.message);
    }
    return classify(c, err);
}

static int collect(const xbuf_problem *problem, void *context) {
    checked *c = context;
    if (c->stop_type != NULL)
        return 1; /* the "interrupted" refusal: not a problem of the exporter */
    PyObject *text = PyUnicode_FromString(problem->message);
    if (text == NULL || PyList_Append(c->problems, text) < 0) {
        Py_XDECREF(text);
        c->visitor_failed = 1;
        return 1;
    }
    Py_DECREF(text);
    return 0;
}

static int add_problem(PyObject *problems, const char *format, Py_ssize_t count) {
    PyObject *text = PyUnicode_FromFormat(format, count);
    int rc = text != NULL ? PyList_Append(problems, text) : -1;
    Py_XDECREF(text);
    return rc;
}

/* Each export holds one reference to the object until it is released. */
static int check_releases(PyObject *problems, Py_ssize_t before, Py_ssize_t after) {
    if (after > before)
        return add_problem(problems,
                           "releases unbalanced: %zd references to the object leaked",
                           after - before);
    if (after < before)
        return add_problem(problems,
                           "releases unbalanced: %zd references to the object released too "
                           "often", before - after);
    return 0;
}

/* Run the check; a new list of problems, or NULL with an exception set. */
static PyObject *run_check(PyObject *object, xbuf_check_summary *summary) {
    checked c = {.base.get = checked_get};
    xbufpy_source_init(&c.source, object);
    c.problems = PyList_New(0);
    if (c.problems == NULL)
        return NULL;
    Py_ssize_t before = Py_REFCNT(object);
    xbuf_error err;
    int rc = xbuf_exporter_check(&c.base, collect, &c, summary, &err);
    Py_ssize_t after = Py_REFCNT(object);
    if (c.stop_type != NULL) {
        PyErr_Restore(c.stop_type, c.stop_value, c.stop_traceback);
        Py_DECREF(c.problems);
        return NULL;
    }
    if (c.visitor_failed || (rc < 0 && xbufpy_raise(&err) == NULL) ||
        check_releases(c.problems, before, after) < 0) {
        Py_DECREF(c.problems);
        return NULL;
    }
    return c.problems;
}

static PyObject *check(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"obj", "summary", NULL};
    PyObject *object;
    int want_summary = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$p:check", keywords, &object,
                                     &want_summary))
        return NULL;
    if (!xbufpy_has_buffer(object))
        return PyErr_Format(PyExc_TypeError, "a bytes-like object is required, not '%.200s'",
                            Py_TYPE(object)->tp_name);
    xbuf_check_summary summary;
    PyObject *problems = run_check(object, &summary);
    if (problems == NULL || !want_summary)
        return problems;
    return Py_BuildValue("(Nii)", problems, summary.answered, summary.refused);
}

static PyMethodDef check_methods[] = {
    {"check", (PyCFunction)(void (*)(void))check, METH_VARARGS | METH_KEYWORDS,
     "check(obj, *, summary=False) -> list[str]\n\n"
     "Check that obj exports its buffer by the rules of PEP 3118: make every\n"
     "request the protocol defines and validate every answer (see docs/check.md).\n"
     "Returns the problems found, one string each, naming the request that showed\n"
     "it; an empty list when obj conforms.  With summary=True, returns\n"
     "(problems, answered, refused): how many of the 72 requests were served.\n"
     "TypeError when obj has no buffer at all."},
    {NULL, NULL, 0, NULL},
};

int xbufpy_check_ready(PyObject *module) {
    return PyModule_AddFunctions(module, check_methods);
}
