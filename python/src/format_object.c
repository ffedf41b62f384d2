/*
 * format_object.c -- xbuf.Format: a parsed PEP 3118 format as a Python object.
 *
 * Ownership.  A Format holds one reference to an xbuf_format (the whole
 * parsed tree) and a borrowed pointer to one node of it: the root for
 * Format("..."), a member or element type for the Formats that `fields`,
 * `base` and `field()` return.  Those share the tree (one more reference
 * each), so a sub-Format keeps the whole tree alive and costs no copy.
 *
 * Formats are immutable; the canonical text is computed on first use and
 * cached (it is also the hash, so == and hash agree: equal trees print
 * equally, and the library's printing is canonical).
 *
 * Values: unpack/pack go through values.c (xbufpy_unpack / xbufpy_pack),
 * which documents where xbuf's value rules differ from struct's.
 */
#include "glue.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    xbuf_format *format;   /* owned reference to the tree */
    const xbuf_type *type; /* borrowed: a node of `format` */
    PyObject *text;        /* canonical text, NULL until first asked */
} FormatObject;

#define FORMAT_CHECK(op) PyObject_TypeCheck(op, &XbufFormat_Type)

/* ---- parsing and wrapping ------------------------------------------------- */

xbuf_format *xbufpy_format_parse(PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "format must be str, not %.200s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    if (utf8 == NULL)
        return NULL;
    xbuf_format *format;
    xbuf_error err;
    /* parse_n: an embedded NUL is a format error, not a silent end. */
    if (xbuf_format_parse_n(utf8, (size_t)length, &format, &err) < 0)
        return (xbuf_format *)xbufpy_raise(&err);
    return format;
}

PyObject *xbufpy_format_wrap(xbuf_format *format, const xbuf_type *type)
{
    if (format == NULL) {
        PyErr_SetString(PyExc_SystemError, "xbufpy_format_wrap: NULL format");
        return NULL;
    }
    FormatObject *self = PyObject_New(FormatObject, &XbufFormat_Type);
    if (self == NULL)
        return NULL;
    self->format = xbuf_format_retain(format);
    self->type = type != NULL ? type : xbuf_format_type(format);
    self->text = NULL;
    return (PyObject *)self;
}

static PyObject *format_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    (void)cls;
    static char *keywords[] = {"fmt", NULL};
    PyObject *text;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Format", keywords, &text))
        return NULL;
    if (FORMAT_CHECK(text)) /* immutable: a Format of a Format is itself */
        return Py_NewRef(text);
    xbuf_format *format = xbufpy_format_parse(text);
    if (format == NULL)
        return NULL;
    PyObject *self = xbufpy_format_wrap(format, NULL);
    xbuf_format_release(format);
    return self;
}

static void format_dealloc(PyObject *op)
{
    FormatObject *self = (FormatObject *)op;
    Py_XDECREF(self->text);
    xbuf_format_release(self->format);
    PyObject_Free(op);
}

/* ---- text ------------------------------------------------------------------ */

/* The canonical text of a node, NUL-terminated, in PyMem memory the
 * caller frees; its length (without the NUL) in *length. */
static char *print_type(const xbuf_type *type, size_t *length)
{
    xbuf_error err;
    int rc = xbuf_type_print(type, NULL, 0, length, &err);
    if (rc < 0 && rc != XBUF_ERANGE)
        return (char *)xbufpy_raise(&err);
    char *buf = PyMem_Malloc(*length + 1);
    if (buf == NULL)
        return (char *)PyErr_NoMemory();
    if (xbuf_type_print(type, buf, *length + 1, NULL, &err) < 0) {
        PyMem_Free(buf);
        return (char *)xbufpy_raise(&err);
    }
    return buf;
}

/* The canonical text as a str (borrowed, cached).  A format that came from
 * an exporter may name fields in bytes that are not UTF-8: surrogateescape
 * keeps str(), repr() and hash() working for it (such a name could never
 * be written in a str format, so it does not parse back). */
static PyObject *canonical_text(FormatObject *self)
{
    if (self->text != NULL)
        return self->text;
    size_t length;
    char *buf = print_type(self->type, &length);
    if (buf == NULL)
        return NULL;
    self->text = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)length, "surrogateescape");
    PyMem_Free(buf);
    return self->text;
}

static PyObject *format_str(PyObject *op)
{
    return Py_XNewRef(canonical_text((FormatObject *)op));
}

static PyObject *format_repr(PyObject *op)
{
    PyObject *text = canonical_text((FormatObject *)op);
    return text ? PyUnicode_FromFormat("Format(%R)", text) : NULL;
}

static Py_hash_t format_hash(PyObject *op)
{
    PyObject *text = canonical_text((FormatObject *)op);
    return text ? PyObject_Hash(text) : -1;
}

static PyObject *format_richcompare(PyObject *a, PyObject *b, int op)
{
    if (!FORMAT_CHECK(b) || (op != Py_EQ && op != Py_NE))
        Py_RETURN_NOTIMPLEMENTED;
    bool equal = xbuf_type_equal(((FormatObject *)a)->type, ((FormatObject *)b)->type);
    return PyBool_FromLong(equal == (op == Py_EQ));
}

/* ---- attributes ------------------------------------------------------------ */

static PyObject *get_itemsize(PyObject *op, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(((FormatObject *)op)->type->itemsize);
}

static PyObject *get_alignment(PyObject *op, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(((FormatObject *)op)->type->alignment);
}

static PyObject *get_count(PyObject *op, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(((FormatObject *)op)->type->count);
}

static PyObject *get_byteorder(PyObject *op, void *closure)
{
    (void)closure;
    char order = ((FormatObject *)op)->type->byteorder;
    return PyUnicode_FromStringAndSize(&order, 1);
}

static PyObject *get_kind(PyObject *op, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(xbuf_kind_name(((FormatObject *)op)->type->kind));
}

static PyObject *get_shape(PyObject *op, void *closure)
{
    (void)closure;
    const xbuf_type *t = ((FormatObject *)op)->type;
    Py_ssize_t ndim = t->kind == XBUF_KIND_ARRAY ? t->ndim : 0;
    PyObject *shape = PyTuple_New(ndim);
    for (Py_ssize_t i = 0; shape != NULL && i < ndim; i++) {
        PyObject *extent = PyLong_FromSsize_t(t->shape[i]);
        if (extent == NULL)
            Py_CLEAR(shape);
        else
            PyTuple_SET_ITEM(shape, i, extent);
    }
    return shape;
}

/* A sub-Format sharing this one's tree. */
static PyObject *wrap_node(FormatObject *self, const xbuf_type *node)
{
    return xbufpy_format_wrap(self->format, node);
}

/* (name, offset, Format); unnamed members are f0, f1, ... by position, as
 * the library's walker and NumPy name them. */
static PyObject *field_tuple(FormatObject *self, const xbuf_field *f, Py_ssize_t i)
{
    PyObject *name = f->name ? PyUnicode_FromString(f->name) : PyUnicode_FromFormat("f%zd", i);
    PyObject *sub = name ? wrap_node(self, f->type) : NULL;
    PyObject *result = sub ? Py_BuildValue("(OnO)", name, (Py_ssize_t)f->offset, sub) : NULL;
    Py_XDECREF(name);
    Py_XDECREF(sub);
    return result;
}

static PyObject *get_fields(PyObject *op, void *closure)
{
    (void)closure;
    FormatObject *self = (FormatObject *)op;
    const xbuf_type *t = self->type;
    Py_ssize_t n = t->kind == XBUF_KIND_STRUCT ? t->nfields : 0;
    PyObject *fields = PyTuple_New(n);
    for (Py_ssize_t i = 0; fields != NULL && i < n; i++) {
        PyObject *item = field_tuple(self, &t->fields[i], i);
        if (item == NULL)
            Py_CLEAR(fields);
        else
            PyTuple_SET_ITEM(fields, i, item);
    }
    return fields;
}

static PyObject *get_base(PyObject *op, void *closure)
{
    (void)closure;
    FormatObject *self = (FormatObject *)op;
    if (self->type->kind != XBUF_KIND_ARRAY)
        Py_RETURN_NONE;
    return wrap_node(self, self->type->base);
}

static PyGetSetDef format_getset[] = {
    {"itemsize", get_itemsize, NULL, "Bytes one item occupies.", NULL},
    {"alignment", get_alignment, NULL,
     "Alignment of the item (1 unless placed under '@').", NULL},
    {"byteorder", get_byteorder, NULL,
     "'<' or '>' for multi-byte leaves, '|' for structs, arrays, bytes and one-byte items.",
     NULL},
    {"kind", get_kind, NULL,
     "What the item is: 'int', 'uint', 'bool', 'float', 'complex', 'char', 'bytes', "
     "'pascal', 'ucs2', 'ucs4', 'bits', 'object', 'voidp', 'pointer', 'function', 'void', "
     "'struct' or 'array'.",
     NULL},
    {"count", get_count, NULL,
     "Code units of a string (s p u w x:name:) or bits of a bit field; 1 otherwise.", NULL},
    {"shape", get_shape, NULL, "The extents of an array, in C order; () otherwise.", NULL},
    {"fields", get_fields, NULL,
     "(name, offset, Format) for each member of a struct (padding is no member; unnamed "
     "members are f0, f1, ... by position); () otherwise.",
     NULL},
    {"base", get_base, NULL, "The element Format of an array; None otherwise.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- methods --------------------------------------------------------------- */

static PyObject *format_unpack(PyObject *op, PyObject *data)
{
    FormatObject *self = (FormatObject *)op;
    Py_buffer buf;
    if (PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *value = NULL;
    if (buf.len != self->type->itemsize)
        PyErr_Format(PyExc_ValueError, "unpack requires a buffer of %zd bytes, got %zd",
                     (Py_ssize_t)self->type->itemsize, buf.len);
    else if (xbufpy_holds_objects(self->type)) /* arbitrary bytes as PyObject *: a crash */
        PyErr_SetString(PyExc_TypeError,
                        "Format.unpack cannot read Python objects ('O') from bytes: an address "
                        "in bytes is no reference; read them through a View of their exporter");
    else
        value = xbufpy_unpack(self->type, buf.buf);
    PyBuffer_Release(&buf);
    return value;
}

static PyObject *format_pack(PyObject *op, PyObject *value)
{
    FormatObject *self = (FormatObject *)op;
    size_t length;
    char *shown = print_type(self->type, &length); /* for error messages */
    if (shown == NULL)
        return NULL;
    /* A fresh bytes object is private until returned, so writing it is fine. */
    PyObject *result = PyBytes_FromStringAndSize(NULL, self->type->itemsize);
    if (result != NULL) {
        memset(PyBytes_AS_STRING(result), 0, (size_t)self->type->itemsize);
        if (xbufpy_pack(self->type, PyBytes_AS_STRING(result), value, "Format.pack", shown) < 0)
            Py_CLEAR(result);
    }
    PyMem_Free(shown);
    return result;
}

/* A Format, or a str parsed into a new one (new reference). */
static PyObject *as_format(PyObject *other)
{
    if (FORMAT_CHECK(other))
        return Py_NewRef(other);
    if (!PyUnicode_Check(other))
        return PyErr_Format(PyExc_TypeError, "expected a Format or str, not %.200s",
                            Py_TYPE(other)->tp_name);
    xbuf_format *format = xbufpy_format_parse(other);
    if (format == NULL)
        return NULL;
    PyObject *result = xbufpy_format_wrap(format, NULL);
    xbuf_format_release(format);
    return result;
}

static PyObject *format_layout_compatible(PyObject *op, PyObject *other)
{
    PyObject *o = as_format(other);
    if (o == NULL)
        return NULL;
    bool ok = xbuf_type_layout_compatible(((FormatObject *)op)->type, ((FormatObject *)o)->type);
    Py_DECREF(o);
    return PyBool_FromLong(ok);
}

static PyObject *format_field(PyObject *op, PyObject *path)
{
    FormatObject *self = (FormatObject *)op;
    if (!PyUnicode_Check(path))
        return PyErr_Format(PyExc_TypeError, "field path must be str, not %.200s",
                            Py_TYPE(path)->tp_name);
    const char *text = PyUnicode_AsUTF8(path);
    if (text == NULL)
        return NULL;
    const xbuf_field *field;
    xbuf_error err;
    if (xbuf_type_field(self->type, text, &field, NULL, &err) < 0) {
        /* No such field is a missing key, as in a NumPy dtype's fields. */
        if (err.code == XBUF_ERANGE)
            return PyErr_Format(PyExc_KeyError, "%s", err.message);
        return xbufpy_raise(&err);
    }
    return wrap_node(self, field->type);
}

static PyObject *format_reduce(PyObject *op, PyObject *unused)
{
    (void)unused;
    PyObject *text = canonical_text((FormatObject *)op);
    return text ? Py_BuildValue("(O(O))", (PyObject *)&XbufFormat_Type, text) : NULL;
}

static PyMethodDef format_methods[] = {
    {"unpack", format_unpack, METH_O,
     "unpack(data) -> value\n\nThe value of one item from a bytes-like object of exactly "
     "itemsize bytes."},
    {"pack", format_pack, METH_O,
     "pack(value) -> bytes\n\nOne item holding `value` (padding zero)."},
    {"layout_compatible", format_layout_compatible, METH_O,
     "layout_compatible(other) -> bool\n\nWhether `other` (a Format or str) has the same "
     "bytes: the same itemsize and leaves at the same offsets, names ignored."},
    {"field", format_field, METH_O,
     "field(path) -> Format\n\nThe Format of a named member, or of a dotted path through "
     "nested structs.  KeyError when there is no such member, TypeError when a step is "
     "not a struct."},
    {"__reduce__", format_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject XbufFormat_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "xbuf.Format",
    .tp_basicsize = sizeof(FormatObject),
    .tp_dealloc = format_dealloc,
    .tp_repr = format_repr,
    .tp_hash = format_hash,
    .tp_str = format_str,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .tp_doc = "Format(fmt)\n--\n\nA parsed PEP 3118 format string: its layout, members and "
              "the values of its items.",
    .tp_richcompare = format_richcompare,
    .tp_methods = format_methods,
    .tp_getset = format_getset,
    .tp_new = format_new,
};

int xbufpy_format_ready(PyObject *module)
{
    if (PyType_Ready(&XbufFormat_Type) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "Format", (PyObject *)&XbufFormat_Type);
}
