/*
 * exporter_object.c -- xbuf.Exporter, a reference exporter.
 *
 * What _testbuffer.ndarray is to CPython's tests, for anyone: memory laid
 * out as asked (any shape, strides and offset, C or Fortran order, 0-d,
 * zero-size, PIL-style rows), served by the buffer protocol with
 * memoryview's rules, counting its exports and refusing to resize while
 * any is held.
 *
 * Ownership.
 *   - An Exporter owns its memory, in one of three forms:
 *       flat      one block `mem` of `memsize` bytes holding the items as
 *                 given (a list packed one value per item, or a copy of a
 *                 bytes-like object); the layout's item 0 is at mem+offset;
 *       PIL       a table of `nrows` row pointers (`table`, in memory order)
 *                 and one block of `rowsize` bytes per row, each a copy of
 *                 that row of the flat memory the arguments describe;
 *       REDIRECT  none: it holds one view of another object (`obj`) for its
 *                 whole life and serves that memory.
 *   - The full description of that memory is an xbuf_mview (`layout`).
 *     The mview is what serves requests: xbuf_get on its exporter applies
 *     memoryview's rules (layer 4, not re-implemented here) and checks the
 *     answer.  For flat and PIL exporters the mview's own view has no
 *     release hook (the Exporter frees the memory, after the mview); for a
 *     re-export the mview holds the other object's view and gives it back.
 *   - Each Py_buffer handed out holds a reference to the Exporter
 *     (Py_buffer.obj), one count in `exports`, and an xbuf view exported by
 *     the mview (in a PyMem block at Py_buffer.internal), which holds a
 *     reference to the mview.  bf_releasebuffer gives back the last two;
 *     PyBuffer_Release the first.
 *   - push() and pop() replace the memory and the mview.  They run between
 *     xbuf_exports_begin_resize and end_resize, so they fail while a view
 *     is held, and a view cannot be taken while they run (packing a value
 *     may run Python code that tries).  Methods that read the memory while
 *     Python code may run (tolist) hold an export for the same reason.
 */
#include "glue.h"

#include <stdint.h>
#include <string.h>

/* Construction flags (class constants). */
enum {
    EXPORTER_READONLY = 0x01,    /* refuse WRITABLE requests */
    EXPORTER_FORTRAN = 0x02,     /* default strides in Fortran order */
    EXPORTER_PIL = 0x04,         /* rows allocated separately, served with suboffsets */
    EXPORTER_GETBUF_FAIL = 0x08, /* every getbuffer raises BufferError */
    EXPORTER_REDIRECT = 0x10,    /* re-export another object's memory */
    EXPORTER_FLAGS_ALL = 0x1f
};

_Static_assert(sizeof(Py_ssize_t) == sizeof(ptrdiff_t),
               "Py_buffer's arrays are handed xbuf's ptrdiff_t arrays directly");

typedef struct ExporterObject {
    PyObject_HEAD
    xbuf_mview *layout;   /* the full view; serves every export */
    xbuf_exports exports; /* live Py_buffers */
    int flags;
    Py_ssize_t offset;    /* flat and PIL: where item 0 lay in the flat memory */
    char *mem;            /* flat: the items */
    size_t memsize;
    char **table;         /* PIL: row pointers, in memory order */
    ptrdiff_t nrows;
    size_t rowsize;
    PyObject *obj;        /* REDIRECT: the re-exported object */
} ExporterObject;

/* The layout the constructor's arguments describe, before it is checked
 * and handed to an mview (which copies the arrays). */
typedef struct layout_spec {
    int ndim;
    ptrdiff_t itemsize, len, offset;
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM], suboffsets[XBUF_MAX_NDIM];
} layout_spec;

/* ---- memory ---------------------------------------------------------- */

static void free_rows(char **table, ptrdiff_t nrows, size_t rowsize) {
    if (table == NULL)
        return;
    for (ptrdiff_t i = 0; i < nrows; i++)
        xbuf_free(table[i], rowsize);
    xbuf_free(table, (size_t)nrows * sizeof *table);
}

static void free_memory(ExporterObject *self) {
    xbuf_free(self->mem, self->memsize);
    self->mem = NULL;
    free_rows(self->table, self->nrows, self->rowsize);
    self->table = NULL;
}

/* The block of row `index` (along dimension 0) of a PIL exporter: the
 * table is in memory order, reversed when the first stride is negative. */
static const char *pil_row(const ExporterObject *self, ptrdiff_t index) {
    const xbuf_view *v = xbuf_mview_view(self->layout);
    return self->table[v->strides[0] < 0 ? self->nrows - 1 - index : index];
}

/* A parsed format, or NULL with ValueError. */
static xbuf_format *parse_format(const char *text, Py_ssize_t length) {
    xbuf_format *format;
    xbuf_error err;
    if (xbuf_format_parse_n(text, (size_t)length, &format, &err) < 0)
        return (xbuf_format *)xbufpy_raise(&err);
    return format;
}

/* The type the layout's format describes (the same text the mview serves). */
static xbuf_format *layout_format(const ExporterObject *self) {
    const char *text = xbuf_mview_view(self->layout)->format;
    return parse_format(text, (Py_ssize_t)strlen(text));
}

/* Zeroed, so that padding the values do not cover reads as zero bytes. */
static int alloc_memory(ExporterObject *self, ptrdiff_t size) {
    self->mem = xbuf_malloc((size_t)size);
    if (self->mem == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->memsize = (size_t)size;
    memset(self->mem, 0, (size_t)size);
    return 0;
}

/* Items given as values: one item of `type` per value, in memory order. */
static int memory_from_values(ExporterObject *self, PyObject *items, const xbuf_type *type,
                              const char *format) {
    /* A snapshot: packing may run Python code (__index__) that changes a list. */
    PyObject *values = PySequence_Tuple(items);
    if (values == NULL)
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(values), size;
    int rc = -1;
    if (__builtin_mul_overflow(n, type->itemsize, &size))
        PyErr_Format(PyExc_OverflowError, "%zd items of %zd bytes do not fit in memory", n,
                     (Py_ssize_t)type->itemsize);
    else if (alloc_memory(self, size) == 0)
        rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
        rc = xbufpy_pack(type, self->mem + i * type->itemsize, PyTuple_GET_ITEM(values, i),
                         "Exporter", format);
    Py_DECREF(values);
    return rc;
}

/* Items given as a bytes-like object: its bytes, copied in C order. */
static int memory_from_bytes(ExporterObject *self, PyObject *items) {
    xbuf_view source;
    if (xbufpy_source_get(items, &source, XBUF_FULL_RO) < 0)
        return -1;
    xbuf_error err;
    int rc = alloc_memory(self, source.len);
    if (rc == 0 && xbuf_copy_to_contiguous(self->mem, source.len, &source, 'C', &err) < 0)
        rc = xbufpy_raise_int(&err);
    xbuf_release(&source);
    return rc;
}

static int is_object_leaf(const xbuf_leaf *leaf, void *context) {
    (void)context;
    return leaf->type->kind == XBUF_KIND_OBJECT;
}

/* Raw bytes holding object pointers would make tolist() follow garbage:
 * only values (which can store only NULL there) may fill such items. */
static int refuse_object_bytes(const xbuf_type *type, const char *format) {
    xbuf_error err;
    int found = xbuf_type_walk(type, is_object_leaf, NULL, &err);
    if (found < 0)
        return xbufpy_raise_int(&err);
    if (found > 0) {
        PyErr_Format(PyExc_TypeError,
                     "Exporter() format '%s' holds object pointers ('O'), which bytes cannot "
                     "give: pass a list of values",
                     format);
        return -1;
    }
    return 0;
}

static int memory_from_items(ExporterObject *self, PyObject *items, const xbuf_type *type,
                             const char *format) {
    if (PyList_Check(items) || PyTuple_Check(items))
        return memory_from_values(self, items, type, format);
    if (xbufpy_has_buffer(items))
        return refuse_object_bytes(type, format) < 0 ? -1 : memory_from_bytes(self, items);
    PyErr_Format(PyExc_TypeError,
                 "Exporter() items must be a list or tuple of values, or a bytes-like "
                 "object, not '%.200s'",
                 Py_TYPE(items)->tp_name);
    return -1;
}

/* ---- the layout -------------------------------------------------------- */

/* A tuple or list of ints into out[]; the count, or -1. */
static int read_ints(PyObject *seq, const char *name, ptrdiff_t *out) {
    if (!PyTuple_Check(seq) && !PyList_Check(seq)) {
        PyErr_Format(PyExc_TypeError, "Exporter() %s must be a tuple or list of ints, not '%.200s'",
                     name, Py_TYPE(seq)->tp_name);
        return -1;
    }
    PyObject *ints = PySequence_Tuple(seq); /* __index__ may change a list */
    if (ints == NULL)
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(ints);
    if (n > XBUF_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "Exporter() %s has %zd entries; at most %d dimensions",
                     name, n, XBUF_MAX_NDIM);
        n = -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyNumber_AsSsize_t(PyTuple_GET_ITEM(ints, i), PyExc_OverflowError);
        if (out[i] == -1 && PyErr_Occurred())
            n = -1;
    }
    Py_DECREF(ints);
    return (int)n;
}

static int read_shape(layout_spec *spec, PyObject *shape, const ExporterObject *self) {
    if (shape == Py_None) {
        if (self->memsize % (size_t)spec->itemsize != 0) {
            PyErr_Format(PyExc_ValueError,
                         "Exporter() got %zu bytes, not a whole number of %zd-byte items: "
                         "give a shape",
                         self->memsize, (Py_ssize_t)spec->itemsize);
            return -1;
        }
        spec->ndim = 1;
        spec->shape[0] = (ptrdiff_t)self->memsize / spec->itemsize;
        return 0;
    }
    spec->ndim = read_ints(shape, "shape", spec->shape);
    if (spec->ndim < 0)
        return -1;
    for (int i = 0; i < spec->ndim; i++)
        if (spec->shape[i] < 0) {
            PyErr_Format(PyExc_ValueError, "Exporter() shape[%d] is %zd; extents must be >= 0",
                         i, (Py_ssize_t)spec->shape[i]);
            return -1;
        }
    return 0;
}

static int read_strides(layout_spec *spec, PyObject *strides, int flags) {
    xbuf_error err;
    if (strides == Py_None) {
        char order = (flags & EXPORTER_FORTRAN) ? 'F' : 'C';
        if (xbuf_strides_fill(spec->ndim, spec->shape, spec->itemsize, order, spec->strides,
                              &err) < 0)
            return xbufpy_raise_int(&err);
        return 0;
    }
    if (flags & EXPORTER_FORTRAN) {
        PyErr_SetString(PyExc_ValueError,
                        "Exporter() FORTRAN chooses the strides: give no strides with it");
        return -1;
    }
    int n = read_ints(strides, "strides", spec->strides);
    if (n >= 0 && n != spec->ndim)
        PyErr_Format(PyExc_ValueError, "Exporter() got %d strides for %d dimensions", n,
                     spec->ndim);
    return n == spec->ndim ? 0 : -1;
}

/* len = product(shape) * itemsize, which the strides need not bound. */
static int compute_len(layout_spec *spec) {
    ptrdiff_t len = spec->itemsize;
    bool overflow = false;
    for (int i = 0; i < spec->ndim; i++) {
        if (spec->shape[i] == 0) {
            spec->len = 0; /* no items, however large the other extents */
            return 0;
        }
        overflow |= __builtin_mul_overflow(len, spec->shape[i], &len);
    }
    if (overflow) {
        PyErr_SetString(PyExc_OverflowError,
                        "Exporter() shape holds more bytes than fit in memory");
        return -1;
    }
    spec->len = len;
    return 0;
}

/* Every byte the strides reach from item 0 must lie in the memory. */
static int check_reach(const layout_spec *spec, size_t memsize) {
    ptrdiff_t lo, hi, size = (ptrdiff_t)memsize;
    xbuf_error err;
    if (spec->offset < 0 || spec->offset > size) {
        PyErr_Format(PyExc_ValueError, "Exporter() offset %zd is outside the %zd bytes of memory",
                     (Py_ssize_t)spec->offset, (Py_ssize_t)size);
        return -1;
    }
    if (xbuf_extent(spec->ndim, spec->shape, spec->strides, spec->itemsize, &lo, &hi, &err) < 0)
        return xbufpy_raise_int(&err);
    if (lo < -spec->offset || hi > size - spec->offset) {
        PyErr_Format(PyExc_ValueError,
                     "Exporter() items reach bytes %zd..%zd of the memory (offset %zd), which "
                     "has %zd bytes",
                     (Py_ssize_t)(spec->offset + lo), (Py_ssize_t)(spec->offset + hi),
                     (Py_ssize_t)spec->offset, (Py_ssize_t)size);
        return -1;
    }
    return 0;
}

static int read_layout(layout_spec *spec, const ExporterObject *self, PyObject *shape,
                       PyObject *strides) {
    if (read_shape(spec, shape, self) < 0 || read_strides(spec, strides, self->flags) < 0 ||
        compute_len(spec) < 0)
        return -1;
    return check_reach(spec, self->memsize);
}

/* ---- PIL ---------------------------------------------------------------- */

/*
 * Copy each row (index along dimension 0) of the flat memory `full`
 * describes into a block of its own, and make `full` describe them through
 * a table of row pointers, as _testbuffer's ND_PIL does: dimension 0 steps
 * over the table (backwards when it stepped backwards), and suboffsets[0]
 * is where a row's item 0 lies in its block.  Rows that shared memory
 * (stride 0) become separate copies.  On success the flat memory is freed.
 */
static int make_pil(ExporterObject *self, xbuf_view *full, layout_spec *spec) {
    ptrdiff_t n = spec->shape[0], lo, hi;
    xbuf_error err;
    if (xbuf_extent(spec->ndim - 1, spec->shape + 1, spec->strides + 1, spec->itemsize, &lo,
                    &hi, &err) < 0)
        return xbufpy_raise_int(&err);
    size_t rowsize = (size_t)(hi - lo);
    char **table = xbuf_malloc_array((size_t)n, sizeof *table);
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(table, 0, (size_t)n * sizeof *table);
    bool backwards = spec->strides[0] < 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        char *row = xbuf_malloc(rowsize);
        if (row == NULL) {
            free_rows(table, n, rowsize);
            PyErr_NoMemory();
            return -1;
        }
        if (rowsize > 0) /* an empty row's stride may point anywhere */
            memcpy(row, (char *)full->buf + i * spec->strides[0] + lo, rowsize);
        table[backwards ? n - 1 - i : i] = row;
    }
    free_memory(self);
    self->table = table;
    self->nrows = n;
    self->rowsize = rowsize;
    ptrdiff_t step = (ptrdiff_t)sizeof *table;
    spec->strides[0] = backwards ? -step : step;
    full->buf = backwards && n > 0 ? &table[n - 1] : table;
    spec->suboffsets[0] = -lo;
    for (int i = 1; i < spec->ndim; i++)
        spec->suboffsets[i] = -1;
    full->suboffsets = spec->suboffsets;
    return 0;
}

/* ---- construction --------------------------------------------------------- */

/* Hand the layout to an mview, which copies it; the view has no release
 * hook because the Exporter, not the mview, frees the memory. */
static int set_layout(ExporterObject *self, xbuf_view *full) {
    xbuf_mview *layout;
    xbuf_error err;
    if (xbuf_mview_from_view(full, &layout, &err) < 0)
        return xbufpy_raise_int(&err);
    xbuf_mview_unref(self->layout);
    self->layout = layout;
    return 0;
}

/* The format's text ("B" when none is given), valid while `format` lives. */
static const char *format_text(PyObject *format, Py_ssize_t *length) {
    if (format == Py_None) {
        *length = 1;
        return "B";
    }
    if (!PyUnicode_Check(format)) {
        PyErr_Format(PyExc_TypeError, "Exporter() format must be str, not '%.200s'",
                     Py_TYPE(format)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(format, length);
}

/* Memory of our own: flat, or PIL-style. */
static int init_owned(ExporterObject *self, PyObject *items, PyObject *shape, PyObject *strides,
                      PyObject *format_arg) {
    Py_ssize_t length;
    const char *text = format_text(format_arg, &length);
    xbuf_format *format = text == NULL ? NULL : parse_format(text, length);
    if (format == NULL)
        return -1;
    layout_spec spec = {.itemsize = xbuf_format_type(format)->itemsize, .offset = self->offset};
    int rc = -1;
    if (spec.itemsize <= 0)
        PyErr_Format(PyExc_ValueError, "Exporter() format '%s' has no bytes", text);
    else
        rc = memory_from_items(self, items, xbuf_format_type(format), text);
    xbuf_format_release(format);
    if (rc < 0 || read_layout(&spec, self, shape, strides) < 0)
        return -1;
    xbuf_view full = {
        .buf = self->mem + spec.offset, .len = spec.len, .itemsize = spec.itemsize,
        .readonly = (self->flags & EXPORTER_READONLY) != 0, .ndim = spec.ndim, .format = text,
        .shape = spec.shape, .strides = spec.strides,
    };
    if (self->flags & EXPORTER_PIL) {
        if (spec.ndim == 0) {
            PyErr_SetString(PyExc_ValueError, "Exporter() PIL needs at least one dimension");
            return -1;
        }
        if (make_pil(self, &full, &spec) < 0)
            return -1;
    }
    return set_layout(self, &full);
}

/* A re-export: one view of `items`, held for the Exporter's life. */
static int init_redirect(ExporterObject *self, PyObject *items) {
    if (!xbufpy_has_buffer(items)) {
        PyErr_Format(PyExc_TypeError,
                     "Exporter() REDIRECT re-exports an object with a buffer, not '%.200s'",
                     Py_TYPE(items)->tp_name);
        return -1;
    }
    xbuf_view view;
    if (xbufpy_source_get(items, &view, XBUF_FULL_RO) < 0)
        return -1;
    if (self->flags & EXPORTER_READONLY)
        view.readonly = 1;
    if (set_layout(self, &view) < 0) {
        xbuf_release(&view); /* the mview did not take it */
        return -1;
    }
    self->obj = Py_NewRef(items);
    return 0;
}

static int check_flags(int flags, PyObject *shape, PyObject *strides, PyObject *format,
                       Py_ssize_t offset) {
    if (flags & ~EXPORTER_FLAGS_ALL) {
        PyErr_Format(PyExc_ValueError, "Exporter() got unknown flags 0x%x",
                     (unsigned)(flags & ~EXPORTER_FLAGS_ALL));
        return -1;
    }
    if (!(flags & EXPORTER_REDIRECT))
        return 0;
    if (flags & (EXPORTER_PIL | EXPORTER_FORTRAN)) {
        PyErr_SetString(PyExc_ValueError,
                        "Exporter() REDIRECT serves the other object's layout: it cannot be "
                        "combined with PIL or FORTRAN");
        return -1;
    }
    if (shape != Py_None || strides != Py_None || format != Py_None || offset != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "Exporter() REDIRECT serves the other object's layout: give no shape, "
                        "strides, format or offset");
        return -1;
    }
    return 0;
}

static PyObject *exporter_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"items", "shape", "strides", "format", "offset", "flags", NULL};
    PyObject *items, *shape = Py_None, *strides = Py_None, *format = Py_None;
    Py_ssize_t offset = 0;
    int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOni:Exporter", keywords, &items, &shape,
                                     &strides, &format, &offset, &flags) ||
        check_flags(flags, shape, strides, format, offset) < 0)
        return NULL;
    ExporterObject *self = (ExporterObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    xbuf_exports_init(&self->exports);
    self->flags = flags;
    self->offset = offset;
    int rc = (flags & EXPORTER_REDIRECT) ? init_redirect(self, items)
                                         : init_owned(self, items, shape, strides, format);
    if (rc < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void exporter_dealloc(PyObject *op) {
    ExporterObject *self = (ExporterObject *)op;
    /* No export can be live: each holds a reference to us.  The mview goes
     * first, as it describes the memory. */
    xbuf_mview_unref(self->layout);
    free_memory(self);
    Py_XDECREF(self->obj);
    Py_TYPE(op)->tp_free(op);
}

/* ---- the buffer protocol ---------------------------------------------------- */

/* The mview's reason for refusing, said as the Exporter's. */
static int refuse(const xbuf_error *err) {
    xbuf_error said;
    xbuf_error_set(&said, err->code, "Exporter: %.230s", err->message);
    return xbufpy_raise_int(&said);
}

static int exporter_getbuffer(PyObject *op, Py_buffer *buffer, int flags) {
    ExporterObject *self = (ExporterObject *)op;
    if (self->flags & EXPORTER_GETBUF_FAIL) {
        PyErr_SetString(PyExc_BufferError, "Exporter: getbuffer fails on request (GETBUF_FAIL)");
        return -1;
    }
    xbuf_view *view = PyMem_Malloc(sizeof *view);
    if (view == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    xbuf_error err;
    if (xbuf_exports_acquire(&self->exports, &err) < 0) {
        PyMem_Free(view);
        return refuse(&err);
    }
    if (xbuf_get(xbuf_mview_exporter(self->layout), view, flags, &err) < 0) {
        xbuf_exports_release(&self->exports, NULL);
        PyMem_Free(view);
        return refuse(&err);
    }
    *buffer = (Py_buffer){
        .buf = view->buf, .obj = Py_NewRef(op), .len = view->len, .itemsize = view->itemsize,
        .readonly = view->readonly, .ndim = view->ndim, .format = (char *)view->format,
        .shape = (Py_ssize_t *)view->shape, .strides = (Py_ssize_t *)view->strides,
        .suboffsets = (Py_ssize_t *)view->suboffsets, .internal = view,
    };
    return 0;
}

static void exporter_releasebuffer(PyObject *op, Py_buffer *buffer) {
    ExporterObject *self = (ExporterObject *)op;
    xbuf_view *view = buffer->internal;
    xbuf_release(view);
    PyMem_Free(view);
    xbuf_exports_release(&self->exports, NULL);
}

static PyBufferProcs exporter_as_buffer = {
    .bf_getbuffer = exporter_getbuffer,
    .bf_releasebuffer = exporter_releasebuffer,
};

/* ---- push and pop ------------------------------------------------------------- */

/* Only memory that is exactly its items, one after the other, can grow and
 * shrink at the end without the other items moving. */
static int check_resizable(const ExporterObject *self, const char *what) {
    const xbuf_view *v = xbuf_mview_view(self->layout);
    if (self->mem != NULL && v->ndim == 1 && v->strides[0] == v->itemsize && self->offset == 0 &&
        (size_t)v->len == self->memsize)
        return 0;
    PyErr_Format(PyExc_ValueError,
                 "Exporter.%s() needs a 1-d exporter whose items fill its own memory in order "
                 "(stride == itemsize, offset 0)",
                 what);
    return -1;
}

/* Make `mem` (`count` items) the memory; 0, or -1 with nothing changed. */
static int replace_memory(ExporterObject *self, char *mem, ptrdiff_t count) {
    const xbuf_view *old = xbuf_mview_view(self->layout);
    ptrdiff_t itemsize = old->itemsize, stride = itemsize;
    xbuf_view full = {
        .buf = mem, .len = count * itemsize, .itemsize = itemsize, .readonly = old->readonly,
        .ndim = 1, .format = old->format, .shape = &count, .strides = &stride,
    };
    if (set_layout(self, &full) < 0) /* copies old->format before freeing it */
        return -1;
    xbuf_free(self->mem, self->memsize);
    self->mem = mem;
    self->memsize = (size_t)(count * itemsize);
    return 0;
}

static int push_item(ExporterObject *self, PyObject *value) {
    const xbuf_view *v = xbuf_mview_view(self->layout);
    ptrdiff_t count = v->shape[0];
    size_t size = self->memsize + (size_t)v->itemsize;
    xbuf_format *format = layout_format(self);
    if (format == NULL)
        return -1;
    char *mem = xbuf_malloc(size);
    int rc = -1;
    if (mem == NULL) {
        PyErr_NoMemory();
    } else {
        memcpy(mem, self->mem, self->memsize);
        if (xbufpy_pack(xbuf_format_type(format), mem + self->memsize, value, "Exporter.push",
                        v->format) == 0)
            rc = replace_memory(self, mem, count + 1);
    }
    xbuf_format_release(format);
    if (rc < 0)
        xbuf_free(mem, size);
    return rc;
}

static PyObject *pop_item(ExporterObject *self) {
    const xbuf_view *v = xbuf_mview_view(self->layout);
    ptrdiff_t count = v->shape[0], itemsize = v->itemsize;
    if (count == 0) {
        PyErr_SetString(PyExc_IndexError, "pop from an empty Exporter");
        return NULL;
    }
    xbuf_format *format = layout_format(self);
    if (format == NULL)
        return NULL;
    size_t size = self->memsize - (size_t)itemsize;
    PyObject *value = xbufpy_unpack(xbuf_format_type(format), self->mem + size);
    xbuf_format_release(format);
    if (value == NULL)
        return NULL;
    char *mem = xbuf_malloc(size);
    if (mem == NULL || replace_memory(self, memcpy(mem, self->mem, size), count - 1) < 0) {
        if (mem == NULL)
            PyErr_NoMemory();
        xbuf_free(mem, size);
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

static PyObject *exporter_push(PyObject *op, PyObject *value) {
    ExporterObject *self = (ExporterObject *)op;
    xbuf_error err;
    if (check_resizable(self, "push") < 0)
        return NULL;
    if (xbuf_exports_begin_resize(&self->exports, &err) < 0)
        return xbufpy_raise(&err);
    int rc = push_item(self, value);
    xbuf_exports_end_resize(&self->exports);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *exporter_pop(PyObject *op, PyObject *unused) {
    ExporterObject *self = (ExporterObject *)op;
    (void)unused;
    xbuf_error err;
    if (check_resizable(self, "pop") < 0)
        return NULL;
    if (xbuf_exports_begin_resize(&self->exports, &err) < 0)
        return xbufpy_raise(&err);
    PyObject *value = pop_item(self);
    xbuf_exports_end_resize(&self->exports);
    return value;
}

/* ---- reading ------------------------------------------------------------------ */

/* Nested lists of dimension `dim` onwards, items taken from `it` in C order. */
static PyObject *list_from(xbuf_iter *it, const xbuf_view *v, const xbuf_type *type, int dim) {
    if (dim == v->ndim) {
        void *item;
        if (!xbuf_iter_next(it, &item))
            return PyErr_Format(PyExc_SystemError, "Exporter.tolist() ran out of items");
        return xbufpy_unpack(type, item);
    }
    PyObject *list = PyList_New(v->shape[dim]);
    for (Py_ssize_t i = 0; list != NULL && i < v->shape[dim]; i++) {
        PyObject *element = list_from(it, v, type, dim + 1);
        if (element == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, element);
    }
    return list;
}

static PyObject *exporter_tolist(PyObject *op, PyObject *unused) {
    ExporterObject *self = (ExporterObject *)op;
    (void)unused;
    xbuf_error err;
    /* Held while Python objects are made (a finalizer could call pop()). */
    if (xbuf_exports_acquire(&self->exports, &err) < 0)
        return xbufpy_raise(&err);
    PyObject *list = NULL;
    xbuf_format *format = layout_format(self);
    xbuf_iter it;
    if (format != NULL && xbuf_iter_init(&it, self->layout, &err) < 0)
        xbufpy_raise(&err);
    else if (format != NULL)
        list = list_from(&it, xbuf_mview_view(self->layout), xbuf_format_type(format), 0);
    xbuf_format_release(format);
    xbuf_exports_release(&self->exports, NULL);
    return list;
}

static PyObject *exporter_tobytes(PyObject *op, PyObject *args, PyObject *kwds) {
    ExporterObject *self = (ExporterObject *)op;
    static char *keywords[] = {"order", NULL};
    const char *order = "C";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|z:tobytes", keywords, &order))
        return NULL;
    if (order == NULL)
        order = "C";
    if (strlen(order) != 1) {
        PyErr_SetString(PyExc_ValueError, "order must be 'C', 'F' or 'A'");
        return NULL;
    }
    const xbuf_view *v = xbuf_mview_view(self->layout);
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, v->len);
    xbuf_error err;
    if (bytes != NULL &&
        xbuf_copy_to_contiguous(PyBytes_AS_STRING(bytes), v->len, v, order[0], &err) < 0) {
        Py_DECREF(bytes);
        return xbufpy_raise(&err);
    }
    return bytes;
}

/* ---- attributes ------------------------------------------------------------------ */

/* A tuple of `n` ints (an empty one for NULL). */
static PyObject *int_tuple(const ptrdiff_t *values, int n) {
    PyObject *tuple = PyTuple_New(values == NULL ? 0 : n);
    for (int i = 0; tuple != NULL && values != NULL && i < n; i++) {
        PyObject *value = PyLong_FromSsize_t(values[i]);
        if (value == NULL)
            Py_CLEAR(tuple);
        else
            PyTuple_SET_ITEM(tuple, i, value);
    }
    return tuple;
}

enum array { SHAPE, STRIDES, SUBOFFSETS };

/* The layout's arrays live in the mview: keep it alive while tuples are
 * made, in case a finalizer run by the allocation replaces it (push). */
static PyObject *layout_tuple(ExporterObject *self, enum array which) {
    xbuf_mview *layout = xbuf_mview_retain(self->layout);
    const xbuf_view *v = xbuf_mview_view(layout);
    const ptrdiff_t *values = which == SHAPE     ? v->shape
                              : which == STRIDES ? v->strides
                                                 : v->suboffsets;
    PyObject *tuple = int_tuple(values, v->ndim);
    xbuf_mview_unref(layout);
    return tuple;
}

/* The rows of a PIL exporter, by index, as bytes. */
static PyObject *pil_rows(const ExporterObject *self) {
    PyObject *rows = PyTuple_New(self->nrows);
    for (ptrdiff_t i = 0; rows != NULL && i < self->nrows; i++) {
        PyObject *row = PyBytes_FromStringAndSize(pil_row(self, i), (Py_ssize_t)self->rowsize);
        if (row == NULL)
            Py_CLEAR(rows);
        else
            PyTuple_SET_ITEM(rows, i, row);
    }
    return rows;
}

static PyObject *memory_of(const ExporterObject *self) {
    if (self->mem != NULL)
        return PyBytes_FromStringAndSize(self->mem, (Py_ssize_t)self->memsize);
    if (self->table != NULL)
        return pil_rows(self);
    return Py_NewRef(Py_None);
}

/* The attributes, each named by its getset closure. */
enum attribute {
    A_SHAPE, A_STRIDES, A_SUBOFFSETS, A_FORMAT, A_ITEMSIZE, A_NDIM, A_NBYTES, A_READONLY,
    A_FLAGS, A_OFFSET, A_EXPORTS, A_OBJ, A_MEMORY, A_C_CONTIGUOUS, A_F_CONTIGUOUS,
    A_CONTIGUOUS
};

static PyObject *get_attribute(PyObject *op, void *closure) {
    ExporterObject *self = (ExporterObject *)op;
    const xbuf_view *v = xbuf_mview_view(self->layout);
    switch ((enum attribute)(intptr_t)closure) {
    case A_SHAPE: return layout_tuple(self, SHAPE);
    case A_STRIDES: return layout_tuple(self, STRIDES);
    case A_SUBOFFSETS: return layout_tuple(self, SUBOFFSETS);
    case A_FORMAT: return PyUnicode_FromString(v->format);
    case A_ITEMSIZE: return PyLong_FromSsize_t(v->itemsize);
    case A_NDIM: return PyLong_FromLong(v->ndim);
    case A_NBYTES: return PyLong_FromSsize_t(v->len);
    case A_READONLY: return PyBool_FromLong(v->readonly);
    case A_FLAGS: return PyLong_FromLong(self->flags);
    case A_OFFSET:
        return self->obj != NULL ? Py_NewRef(Py_None) : PyLong_FromSsize_t(self->offset);
    case A_EXPORTS: return PyLong_FromSsize_t(xbuf_exports_count(&self->exports));
    case A_OBJ: return Py_NewRef(self->obj != NULL ? self->obj : Py_None);
    case A_MEMORY: return memory_of(self);
    case A_C_CONTIGUOUS: return PyBool_FromLong(xbuf_view_is_contiguous(v, 'C'));
    case A_F_CONTIGUOUS: return PyBool_FromLong(xbuf_view_is_contiguous(v, 'F'));
    case A_CONTIGUOUS: return PyBool_FromLong(xbuf_view_is_contiguous(v, 'A'));
    }
    return PyErr_Format(PyExc_SystemError, "Exporter: unknown attribute");
}

static PyObject *exporter_repr(PyObject *op) {
    ExporterObject *self = (ExporterObject *)op;
    PyObject *shape = layout_tuple(self, SHAPE), *strides = layout_tuple(self, STRIDES);
    PyObject *repr = NULL;
    if (shape != NULL && strides != NULL)
        repr = PyUnicode_FromFormat("<xbuf.Exporter format='%s' shape=%R strides=%R flags=0x%x "
                                    "exports=%zd>",
                                    xbuf_mview_view(self->layout)->format, shape, strides,
                                    (unsigned)self->flags, xbuf_exports_count(&self->exports));
    Py_XDECREF(shape);
    Py_XDECREF(strides);
    return repr;
}

#define ATTRIBUTE(name, which, doc) {name, get_attribute, NULL, doc, (void *)(intptr_t)(which)}

static PyGetSetDef exporter_getset[] = {
    ATTRIBUTE("shape", A_SHAPE, "Extents of the items, a tuple (() for 0-d)."),
    ATTRIBUTE("strides", A_STRIDES, "Byte steps per dimension, a tuple."),
    ATTRIBUTE("suboffsets", A_SUBOFFSETS,
              "PIL-style suboffsets per dimension, or () when there are none."),
    ATTRIBUTE("format", A_FORMAT, "The PEP 3118 format of one item."),
    ATTRIBUTE("itemsize", A_ITEMSIZE, "Bytes per item."),
    ATTRIBUTE("ndim", A_NDIM, "Number of dimensions."),
    ATTRIBUTE("nbytes", A_NBYTES, "product(shape) * itemsize."),
    ATTRIBUTE("readonly", A_READONLY, "Whether WRITABLE requests are refused."),
    ATTRIBUTE("flags", A_FLAGS, "The construction flags."),
    ATTRIBUTE("offset", A_OFFSET,
              "Byte offset of item 0 in the memory the items were given as (None for "
              "REDIRECT)."),
    ATTRIBUTE("exports", A_EXPORTS, "Number of buffers exported and not yet released."),
    ATTRIBUTE("obj", A_OBJ, "The re-exported object (REDIRECT), else None."),
    ATTRIBUTE("memory", A_MEMORY,
              "The memory the Exporter owns: bytes of the whole allocation; for PIL a tuple "
              "of each row's block, by row index; None for REDIRECT."),
    ATTRIBUTE("c_contiguous", A_C_CONTIGUOUS, "Whether the items are C-contiguous."),
    ATTRIBUTE("f_contiguous", A_F_CONTIGUOUS, "Whether the items are Fortran-contiguous."),
    ATTRIBUTE("contiguous", A_CONTIGUOUS, "Whether the items are C- or Fortran-contiguous."),
    {NULL, NULL, NULL, NULL, NULL},
};

#undef ATTRIBUTE

static PyMethodDef exporter_methods[] = {
    {"tolist", exporter_tolist, METH_NOARGS,
     "tolist() -> list\n\nThe items as nested lists (the item itself for 0-d)."},
    {"tobytes", (PyCFunction)(void (*)(void))exporter_tobytes, METH_VARARGS | METH_KEYWORDS,
     "tobytes(order='C') -> bytes\n\nThe items' bytes laid out contiguously in order 'C', 'F' "
     "or 'A'."},
    {"push", exporter_push, METH_O,
     "push(value)\n\nAppend an item (1-d exporters whose items fill their memory).  "
     "BufferError while buffers are exported."},
    {"pop", exporter_pop, METH_NOARGS,
     "pop() -> value\n\nRemove and return the last item (as push).  BufferError while "
     "buffers are exported."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(exporter_doc,
"Exporter(items, *, shape=None, strides=None, format='B', offset=0, flags=0)\n"
"\n"
"A reference exporter of the buffer protocol, for tests (like CPython's\n"
"_testbuffer.ndarray).  `items` is a list or tuple of values, packed one per\n"
"item of `format` into new memory in that order, or a bytes-like object whose\n"
"bytes are copied.  shape (default: all the items, 1-d), strides (default:\n"
"C order, or Fortran order with FORTRAN) and offset (the byte offset of item\n"
"0 in that memory) lay the items out; every byte they reach must lie in the\n"
"memory.  With REDIRECT, `items` is any object with a buffer, and its memory\n"
"is re-exported as it is (one view held for the Exporter's life).\n"
"\n"
"Flags: READONLY, FORTRAN, PIL (each row in its own block, served with\n"
"suboffsets), GETBUF_FAIL (every request raises BufferError), REDIRECT.\n"
"Requests are served with memoryview's rules.  push()/pop() raise\n"
"BufferError while buffers are exported.");

PyTypeObject XbufExporter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "xbuf.Exporter",
    .tp_basicsize = sizeof(ExporterObject),
    .tp_dealloc = exporter_dealloc,
    .tp_repr = exporter_repr,
    .tp_as_buffer = &exporter_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = exporter_doc,
    .tp_methods = exporter_methods,
    .tp_getset = exporter_getset,
    .tp_new = exporter_new,
};

/* The flags as class attributes: tp_dict may hold initial attributes when
 * PyType_Ready runs (a static type cannot be given attributes later). */
static int add_constants(void) {
    static const struct { const char *name; int value; } constants[] = {
        {"READONLY", EXPORTER_READONLY}, {"FORTRAN", EXPORTER_FORTRAN},
        {"PIL", EXPORTER_PIL}, {"GETBUF_FAIL", EXPORTER_GETBUF_FAIL},
        {"REDIRECT", EXPORTER_REDIRECT},
    };
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return -1;
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        PyObject *value = PyLong_FromLong(constants[i].value);
        if (value == NULL || PyDict_SetItemString(dict, constants[i].name, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(dict);
            return -1;
        }
        Py_DECREF(value);
    }
    XbufExporter_Type.tp_dict = dict;
    return 0;
}

int xbufpy_exporter_ready(PyObject *module) {
    if (!(XbufExporter_Type.tp_flags & Py_TPFLAGS_READY) &&
        (add_constants() < 0 || PyType_Ready(&XbufExporter_Type) < 0))
        return -1;
    return PyModule_AddObjectRef(module, "Exporter", (PyObject *)&XbufExporter_Type);
}
