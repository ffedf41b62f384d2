/*
 * mview.c -- the view object (layer 4).
 *
 * Ownership rules, in one place:
 *   - A *family* holds the one export taken from the exporter and counts
 *     the mviews that still hold it.  The last to let go (by release or by
 *     its last unref) releases the export and frees the family.
 *   - An *mview* is one allocation: the struct, then its own shape, strides
 *     and suboffsets, then its format text.  Derivations build a new layout
 *     on the stack and copy it into a new mview of the same family, so an
 *     mview never changes after creation.
 *   - Every view exported from an mview holds one reference to it and one
 *     count in its `exports`; release refuses while that count is not zero.
 */
#include <stdio.h>
#include <string.h>

#include "copy_internal.h"

/* A pointer table the family made itself (see index_indirect); freed with
 * the family, since every mview derived afterwards may point into it. */
typedef struct table {
    struct table *next;
    size_t size; /* of this allocation */
    char *rows[];
} table;

typedef struct family {
    ptrdiff_t refs; /* atomic: mviews holding the export */
    table *tables;  /* atomic list head */
    xbuf_view view; /* the export */
} family;

struct xbuf_mview {
    xbuf_exporter exporter; /* first member: an mview is an exporter */
    ptrdiff_t refs;         /* atomic */
    family *family;         /* NULL once released */
    xbuf_exports exports;
    size_t size;            /* of this allocation, for the sized free */
    xbuf_view view;         /* the layout; its arrays follow the struct */
};

/* A layout under construction: a view plus room for its arrays. */
typedef struct layout {
    xbuf_view view;
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM], suboffsets[XBUF_MAX_NDIM];
    bool indirect;
} layout;

/* ---- families --------------------------------------------------------- */

/* Reference counts without a locked instruction where none is needed (a
 * View made and dropped in Python pays for every one):
 *  - a count of 0 belongs to a family being built, which no other thread
 *    can see yet;
 *  - a count of 1 held by the caller is the only reference: no other
 *    thread can add to it, so dropping it needs no read-modify-write (the
 *    acquire load still orders what other threads did before their own
 *    drops). */
static void family_retain(family *f)
{
    if (__atomic_load_n(&f->refs, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&f->refs, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
}

/* Drop the caller's reference; true when it was the last. */
static bool drop_reference(ptrdiff_t *refs)
{
    if (__atomic_load_n(refs, __ATOMIC_ACQUIRE) == 1)
        return true;
    ptrdiff_t left = __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL);
    XBUF_ASSERT(left >= 0); /* more drops than references: caller misuse */
    return left == 0;
}

static void family_drop(family *f)
{
    if (!drop_reference(&f->refs))
        return;
    xbuf_release(&f->view);
    while (f->tables != NULL) {
        table *next = f->tables->next;
        xbuf_free(f->tables, f->tables->size);
        f->tables = next;
    }
    xbuf_free(f, sizeof *f);
}

/* ---- building mviews ---------------------------------------------------- */

static int mview_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err);

/* A new mview of `fam` with layout `l` (copied); takes a family reference. */
static int mview_new(family *fam, const layout *l, xbuf_mview **out, xbuf_error *err)
{
    const xbuf_view *v = &l->view;
    size_t arrays = (size_t)v->ndim * sizeof(ptrdiff_t) * (l->indirect ? 3 : 2);
    size_t format = strlen(v->format) + 1;
    size_t size = sizeof(xbuf_mview) + arrays + format;
    xbuf_mview *m = xbuf_malloc(size);
    RETURN_ERROR_IF(m == NULL, err, XBUF_ENOMEM, "cannot allocate a view object");
    memset(m, 0, sizeof *m);
    m->exporter.get = mview_get;
    m->refs = 1;
    m->family = fam;
    m->size = size;
    m->view = *v;
    ptrdiff_t *p = (ptrdiff_t *)(m + 1);
    size_t n = (size_t)v->ndim;
    m->view.shape = v->ndim > 0 ? memcpy(p, l->shape, n * sizeof *p) : NULL;
    m->view.strides = v->ndim > 0 ? memcpy(p + n, l->strides, n * sizeof *p) : NULL;
    m->view.suboffsets = l->indirect ? memcpy(p + 2 * n, l->suboffsets, n * sizeof *p) : NULL;
    m->view.format = memcpy((char *)(p + (l->indirect ? 3 : 2) * n), v->format, format);
    m->view.obj = m;
    m->view.internal = NULL;
    m->view.release = NULL;
    family_retain(fam);
    *out = m;
    return XBUF_OK;
}

/* The full layout a checked view implies: shape, strides and format made
 * explicit; suboffsets kept only when some dimension is indirect. */
static void layout_of(layout *l, const xbuf_view *v)
{
    l->view = *v;
    l->view.format = v->format != NULL ? v->format : "B";
    /* A shapeless 0-d view of other than one item is 1-d, as xbuf_get
     * repairs NumPy's answers: its consumer reads len bytes. */
    if (v->ndim == 0 && v->shape == NULL && v->len != v->itemsize)
        l->view.ndim = 1;
    int ndim = l->view.ndim;
    if (ndim > 0 && v->shape != NULL)
        memcpy(l->shape, v->shape, (size_t)ndim * sizeof *l->shape);
    else if (ndim > 0)
        l->shape[0] = v->len / v->itemsize;
    if (ndim > 0 && v->strides != NULL)
        memcpy(l->strides, v->strides, (size_t)ndim * sizeof *l->strides);
    else
        xbuf_strides_fill(ndim, l->shape, v->itemsize, 'C', l->strides, NULL);
    l->indirect = xbuf_first_indirect(v) >= 0;
    if (l->indirect)
        memcpy(l->suboffsets, v->suboffsets, (size_t)v->ndim * sizeof *l->suboffsets);
    l->view.shape = l->shape;
    l->view.strides = l->strides;
    l->view.suboffsets = l->indirect ? l->suboffsets : NULL;
}

int xbuf_mview_from_view(xbuf_view *view, xbuf_mview **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(view == NULL, err, XBUF_EINVAL, "view is NULL");
    RETURN_IF_FAILED(xbuf_check_operand(view, err));
    family *fam = xbuf_malloc(sizeof *fam);
    RETURN_ERROR_IF(fam == NULL, err, XBUF_ENOMEM, "cannot allocate a view object");
    fam->refs = 0;
    fam->tables = NULL;
    layout l;
    layout_of(&l, view);
    int rc = mview_new(fam, &l, out, err);
    if (rc < 0) {
        xbuf_free(fam, sizeof *fam);
        return rc;
    }
    /* Only now that nothing can fail does the family take the view. */
    xbuf_view_move(view, &fam->view);
    return XBUF_OK;
}

int xbuf_mview_from_exporter(xbuf_exporter *exporter, int flags, xbuf_mview **out,
                             xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    xbuf_view view;
    RETURN_IF_FAILED(xbuf_get(exporter, &view, flags, err));
    int rc = xbuf_mview_from_view(&view, out, err);
    xbuf_release(&view); /* zeroed when the mview took it: then harmless */
    return rc;
}

/* ---- life cycle ------------------------------------------------------- */

xbuf_mview *xbuf_mview_retain(xbuf_mview *m)
{
    if (m != NULL)
        __atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
    return m;
}

void xbuf_mview_unref(xbuf_mview *m)
{
    if (m == NULL)
        return;
    if (!drop_reference(&m->refs))
        return;
    if (m->family != NULL)
        family_drop(m->family);
    xbuf_free(m, m->size);
}

int xbuf_mview_release(xbuf_mview *m, xbuf_error *err)
{
    RETURN_ERROR_IF(m == NULL, err, XBUF_EINVAL, "view object is NULL");
    if (m->family == NULL)
        return XBUF_OK;
    /* Entering the "resizing" state atomically refuses new exports too. */
    ptrdiff_t held = xbuf_exports_count(&m->exports);
    RETURN_ERROR_IF(xbuf_exports_begin_resize(&m->exports, NULL) < 0, err, XBUF_EBUSY,
                    "cannot release: %td view%s exported from this view %s held", held,
                    held == 1 ? "" : "s", held == 1 ? "is" : "are");
    family *fam = m->family;
    m->family = NULL;
    family_drop(fam);
    return XBUF_OK;
}

bool xbuf_mview_is_released(const xbuf_mview *m)
{
    return m != NULL && m->family == NULL;
}

const xbuf_view *xbuf_mview_view(const xbuf_mview *m)
{
    return m == NULL || m->family == NULL ? NULL : &m->view;
}

ptrdiff_t xbuf_mview_exports(const xbuf_mview *m)
{
    return m == NULL ? 0 : xbuf_exports_count(&m->exports);
}

/* The common entry check of every operation on an mview. */
static int usable(const xbuf_mview *m, xbuf_mview **out, xbuf_error *err)
{
    if (out != NULL)
        *out = NULL;
    RETURN_ERROR_IF(m == NULL, err, XBUF_EINVAL, "view object is NULL");
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    RETURN_ERROR_IF(m->family == NULL, err, XBUF_ERELEASED,
                    "operation forbidden on a released view");
    return XBUF_OK;
}

/* ---- addresses -------------------------------------------------------- */

/* Move the start of every item by `offset` bytes: through buf, or -- when
 * an indirect dimension comes before dimension `dim` -- through the
 * suboffset of the last such dimension, which is where the items below it
 * start. */
static int shift(layout *l, int dim, ptrdiff_t offset, xbuf_error *err)
{
    for (int j = dim - 1; l->indirect && j >= 0; j--)
        if (l->suboffsets[j] >= 0) {
            /* A negative suboffset means "no indirection": none can say
             * that the items start before the pointers (negative strides). */
            ptrdiff_t moved;
            RETURN_ERROR_IF(xbuf_add_overflow(l->suboffsets[j], offset, &moved) || moved < 0,
                            err, XBUF_EUNSUPPORTED,
                            "moving the suboffset %td of dimension %d by %td would make it "
                            "negative: no suboffset can say that items start before their "
                            "pointer",
                            l->suboffsets[j], j, offset);
            l->suboffsets[j] = moved;
            return XBUF_OK;
        }
    if (l->view.buf != NULL) /* NULL only without items (len 0), which stays so */
        l->view.buf = (char *)l->view.buf + offset;
    return XBUF_OK;
}

static void finish_len(layout *l)
{
    ptrdiff_t len = l->view.itemsize;
    for (int i = 0; i < l->view.ndim; i++)
        if (l->shape[i] == 0)
            len = 0; /* the other extents' product may not fit */
    for (int i = 0; i < l->view.ndim && len > 0; i++)
        len *= l->shape[i]; /* never more than the parent's items */
    l->view.len = len;
}

static void remove_dim(layout *l, int dim)
{
    size_t after = (size_t)(l->view.ndim - dim - 1);
    memmove(l->shape + dim, l->shape + dim + 1, after * sizeof *l->shape);
    memmove(l->strides + dim, l->strides + dim + 1, after * sizeof *l->strides);
    memmove(l->suboffsets + dim, l->suboffsets + dim + 1, after * sizeof *l->suboffsets);
    l->view.ndim--;
    l->indirect = l->indirect && xbuf_first_indirect(&l->view) >= 0;
    if (!l->indirect)
        l->view.suboffsets = NULL;
}

static int wrap_index(ptrdiff_t index, ptrdiff_t extent, int dim, ptrdiff_t *out,
                      xbuf_error *err)
{
    ptrdiff_t i = index < 0 ? index + extent : index;
    RETURN_ERROR_IF(i < 0 || i >= extent, err, XBUF_ERANGE,
                    "index %td is out of range for dimension %d of extent %td", index, dim,
                    extent);
    *out = i;
    return XBUF_OK;
}

int xbuf_mview_pointer(const xbuf_mview *m, const ptrdiff_t *indices, void **out,
                       xbuf_error *err)
{
    RETURN_ERROR_IF(m == NULL || out == NULL, err, XBUF_EINVAL, "view object or out is NULL");
    RETURN_ERROR_IF(m->family == NULL, err, XBUF_ERELEASED,
                    "operation forbidden on a released view");
    RETURN_ERROR_IF(m->view.ndim > 0 && indices == NULL, err, XBUF_EINVAL, "indices is NULL");
    ptrdiff_t wrapped[XBUF_MAX_NDIM];
    for (int i = 0; i < m->view.ndim; i++)
        RETURN_IF_FAILED(wrap_index(indices[i], m->view.shape[i], i, &wrapped[i], err));
    return xbuf_view_pointer(&m->view, wrapped, out, err);
}

/* ---- slicing and indexing ----------------------------------------------- */

int xbuf_slice_resolve(const xbuf_slice *slice, ptrdiff_t extent, ptrdiff_t *start,
                       ptrdiff_t *stop, ptrdiff_t *length, xbuf_error *err)
{
    RETURN_ERROR_IF(slice == NULL || start == NULL || stop == NULL || length == NULL, err,
                    XBUF_EINVAL, "slice or an output is NULL");
    RETURN_ERROR_IF(slice->step == 0, err, XBUF_EINVAL, "slice step cannot be zero");
    RETURN_ERROR_IF(extent < 0, err, XBUF_EINVAL, "extent %td is negative", extent);
    /* PySlice_Unpack: a step of PTRDIFF_MIN could not be negated. */
    ptrdiff_t step = slice->step < -PTRDIFF_MAX ? -PTRDIFF_MAX : slice->step;
    ptrdiff_t bounds[2] = {slice->start, slice->stop};
    ptrdiff_t none[2] = {step < 0 ? extent - 1 : 0, step < 0 ? -1 : extent};
    for (int k = 0; k < 2; k++) {
        ptrdiff_t x = bounds[k];
        if (x == XBUF_SLICE_NONE)
            x = none[k];
        else if (x < 0)
            x = x + extent < 0 ? (step < 0 ? -1 : 0) : x + extent;
        else if (x >= extent)
            x = step < 0 ? extent - 1 : extent;
        bounds[k] = x;
    }
    *start = bounds[0];
    *stop = bounds[1];
    if (step < 0)
        *length = bounds[1] < bounds[0] ? (bounds[0] - bounds[1] - 1) / (-step) + 1 : 0;
    else
        *length = bounds[0] < bounds[1] ? (bounds[1] - bounds[0] - 1) / step + 1 : 0;
    return XBUF_OK;
}

static int slice_dim(layout *l, int dim, const xbuf_slice *slice, xbuf_error *err)
{
    ptrdiff_t start, stop, length, stride;
    RETURN_IF_FAILED(xbuf_slice_resolve(slice, l->shape[dim], &start, &stop, &length, err));
    /* Within the parent's span, which bounds it only when there are items:
     * without any, strides are never checked (nor used). */
    if (length > 0 && l->view.len > 0)
        RETURN_IF_FAILED(shift(l, dim, start * l->strides[dim], err));
    /* stride * step even for fewer than two items, where it is never used:
     * memoryview and NumPy report it so.  Kept when it would not fit. */
    if (!xbuf_mul_overflow(l->strides[dim], slice->step, &stride))
        l->strides[dim] = stride;
    l->shape[dim] = length;
    return XBUF_OK;
}

int xbuf_mview_slice(const xbuf_mview *m, const xbuf_slice *slices, int count,
                     xbuf_mview **out, xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    RETURN_ERROR_IF(m->view.ndim == 0, err, XBUF_EINVAL, "a 0-d view cannot be sliced");
    RETURN_ERROR_IF(count < 0 || count > m->view.ndim || (count > 0 && slices == NULL), err,
                    XBUF_EINVAL, "%d slices for a %d-d view", count, m->view.ndim);
    layout l;
    layout_of(&l, &m->view);
    for (int i = 0; i < count; i++)
        RETURN_IF_FAILED(slice_dim(&l, i, &slices[i], err));
    finish_len(&l);
    return mview_new(m->family, &l, out, err);
}

/* Keep a table alive as long as the family (lock-free: derivations may run
 * on several threads at once). */
static void family_adopt(family *f, table *t)
{
    table *head = __atomic_load_n(&f->tables, __ATOMIC_RELAXED);
    do
        t->next = head;
    while (!__atomic_compare_exchange_n(&f->tables, &head, t, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

/* The pointer each combination of indices before `dim` reaches in `dim`
 * at `index`, following every indirect dimension on the way. */
static int gather_rows(const layout *l, int dim, ptrdiff_t index, char **rows, ptrdiff_t count,
                       xbuf_error *err)
{
    ptrdiff_t at[XBUF_MAX_NDIM] = {0};
    for (ptrdiff_t n = 0; n < count; n++) {
        char *p = l->view.buf;
        for (int j = 0; j < dim; j++) {
            p += at[j] * l->strides[j];
            if (l->suboffsets[j] >= 0) {
                char *next;
                memcpy(&next, p, sizeof next);
                RETURN_ERROR_IF(next == NULL, err, XBUF_EEXPORTER,
                                "indirect view holds a NULL pointer in dimension %d", j);
                p = next + l->suboffsets[j];
            }
        }
        memcpy(&rows[n], p + index * l->strides[dim], sizeof rows[n]);
        RETURN_ERROR_IF(rows[n] == NULL, err, XBUF_EEXPORTER,
                        "indirect view holds a NULL pointer in dimension %d", dim);
        for (int j = dim - 1; j >= 0 && ++at[j] == l->shape[j]; j--)
            at[j] = 0;
    }
    return XBUF_OK;
}

/*
 * Index an indirect dimension that is not the first.  Its pointer table
 * depends on the indices before it, so no strided layout of the existing
 * memory describes what remains.  Instead the family gets a new table:
 * one pointer per combination of the earlier indices -- the row each of
 * them reaches -- laid out C-contiguously; the earlier dimensions step
 * through it, and the last of them follows the pointer with the removed
 * dimension's suboffset.
 */
/* The new table goes to *made: the caller gives it to the family once the
 * mview that needs it exists (or frees it). */
static int index_indirect(layout *l, int dim, ptrdiff_t index, table **made, xbuf_error *err)
{
    ptrdiff_t count = 1;
    for (int j = 0; j < dim; j++)
        count *= l->shape[j]; /* at most the parent's items: an extent here is nonzero */
    size_t size = sizeof(table) + (size_t)count * sizeof(char *);
    table *t = xbuf_malloc(size);
    RETURN_ERROR_IF(t == NULL, err, XBUF_ENOMEM, "cannot allocate a pointer table");
    t->size = size;
    int rc = gather_rows(l, dim, index, t->rows, count, err);
    if (rc < 0) {
        xbuf_free(t, size);
        return rc;
    }
    *made = t;
    l->view.buf = t->rows;
    xbuf_strides_fill(dim, l->shape, (ptrdiff_t)sizeof(char *), 'C', l->strides, NULL);
    for (int j = 0; j < dim - 1; j++)
        l->suboffsets[j] = -1;
    l->suboffsets[dim - 1] = l->suboffsets[dim];
    return XBUF_OK;
}

int xbuf_mview_index(const xbuf_mview *m, int dim, ptrdiff_t index, xbuf_mview **out,
                     xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    RETURN_ERROR_IF(dim < 0 || dim >= m->view.ndim, err, XBUF_EINVAL,
                    "dimension %d does not exist in a %d-d view", dim, m->view.ndim);
    layout l;
    layout_of(&l, &m->view);
    ptrdiff_t i = 0;
    RETURN_IF_FAILED(wrap_index(index, l.shape[dim], dim, &i, err));
    /* A view without items has no pointers to follow (its buf may be NULL). */
    bool follow = l.indirect && l.suboffsets[dim] >= 0 && l.view.len > 0;
    table *made = NULL;
    if (follow && dim > 0) {
        RETURN_IF_FAILED(index_indirect(&l, dim, i, &made, err));
    } else if (follow) {
        /* The first dimension: follow its pointer now. */
        char *row;
        memcpy(&row, (char *)l.view.buf + i * l.strides[0], sizeof row);
        RETURN_ERROR_IF(row == NULL, err, XBUF_EEXPORTER,
                        "indirect view holds a NULL pointer at index %td", i);
        l.view.buf = row + l.suboffsets[0];
    } else if (l.view.len > 0) { /* else buf is never used, and the stride unchecked */
        RETURN_IF_FAILED(shift(&l, dim, i * l.strides[dim], err));
    }
    remove_dim(&l, dim);
    finish_len(&l);
    int rc = mview_new(m->family, &l, out, err);
    if (made != NULL && rc < 0)
        xbuf_free(made, made->size);
    else if (made != NULL)
        family_adopt(m->family, made);
    return rc;
}

/* ---- permuting ------------------------------------------------------------ */

int xbuf_mview_permute(const xbuf_mview *m, const int *axes, xbuf_mview **out, xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    int n = m->view.ndim;
    RETURN_ERROR_IF(axes == NULL && n > 0, err, XBUF_EINVAL, "axes is NULL");
    RETURN_ERROR_IF(m->view.suboffsets != NULL, err, XBUF_EUNSUPPORTED,
                    "a view with suboffsets cannot be permuted: its pointers are followed in "
                    "dimension order");
    bool seen[XBUF_MAX_NDIM] = {false};
    layout l;
    layout_of(&l, &m->view);
    for (int i = 0; i < n; i++) {
        RETURN_ERROR_IF(axes[i] < 0 || axes[i] >= n || seen[axes[i]], err, XBUF_EINVAL,
                        "axes is not a permutation of 0..%d (axes[%d] = %d)", n - 1, i,
                        axes[i]);
        seen[axes[i]] = true;
        l.shape[i] = m->view.shape[axes[i]];
        l.strides[i] = m->view.strides[axes[i]];
    }
    return mview_new(m->family, &l, out, err);
}

int xbuf_mview_copy(const xbuf_mview *m, bool readonly, xbuf_mview **out, xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    layout l;
    layout_of(&l, &m->view);
    l.view.readonly = l.view.readonly || readonly;
    return mview_new(m->family, &l, out, err);
}

int xbuf_mview_transpose(const xbuf_mview *m, xbuf_mview **out, xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    int axes[XBUF_MAX_NDIM];
    for (int i = 0; i < m->view.ndim; i++)
        axes[i] = m->view.ndim - 1 - i;
    return xbuf_mview_permute(m, axes, out, err);
}

/* ---- fields ----------------------------------------------------------------- */

/* Canonical text of a type, allocated in `buf` or from the allocator. */
static int print_type(const xbuf_type *t, char *buf, size_t size, char **text,
                      size_t *text_size, xbuf_error *err)
{
    size_t length = 0;
    int rc = xbuf_type_print(t, buf, size, &length, err);
    /* A leaf field stands alone in the new view, where its alignment means
     * nothing -- and an aligned big-endian leaf (a C struct's member, read
     * by xbuf_view_format) has no byte-order character of its own. */
    xbuf_type alone;
    if (rc == XBUF_EUNSUPPORTED && t->kind != XBUF_KIND_STRUCT && t->kind != XBUF_KIND_ARRAY) {
        alone = *t;
        alone.alignment = 1;
        t = &alone;
        rc = xbuf_type_print(t, buf, size, &length, err);
    }
    if (rc == XBUF_OK) {
        *text = buf;
        *text_size = 0;
        return XBUF_OK;
    }
    if (rc != XBUF_ERANGE)
        return rc;
    *text = xbuf_malloc(length + 1);
    RETURN_ERROR_IF(*text == NULL, err, XBUF_ENOMEM, "cannot allocate a format");
    *text_size = length + 1;
    return xbuf_type_print(t, *text, length + 1, NULL, err);
}

/* Append a sub-array field's shape as trailing C-ordered dimensions. */
static int append_dims(layout *l, const xbuf_type *array, xbuf_error *err)
{
    RETURN_ERROR_IF(l->view.ndim + array->ndim > XBUF_MAX_NDIM, err, XBUF_EUNSUPPORTED,
                    "the field's %d dimensions would make the view deeper than %d",
                    array->ndim, XBUF_MAX_NDIM);
    int first = l->view.ndim;
    memcpy(l->shape + first, array->shape, (size_t)array->ndim * sizeof *l->shape);
    RETURN_IF_FAILED(xbuf_strides_fill(array->ndim, array->shape, array->base->itemsize, 'C',
                                       l->strides + first, err));
    for (int i = 0; i < array->ndim; i++)
        l->suboffsets[first + i] = -1;
    l->view.ndim += array->ndim;
    return XBUF_OK;
}

static int field_layout(layout *l, const xbuf_type *root, const char *path, char *text,
                        size_t size, char **format, size_t *format_size, xbuf_error *err)
{
    RETURN_ERROR_IF(root->kind != XBUF_KIND_STRUCT, err, XBUF_ETYPE,
                    "the view's items are not records (format '%s')", l->view.format);
    const xbuf_field *field;
    ptrdiff_t offset;
    RETURN_IF_FAILED(xbuf_type_field(root, path, &field, &offset, err));
    const xbuf_type *t = field->type;
    RETURN_ERROR_IF(t->kind == XBUF_KIND_BITS, err, XBUF_ETYPE,
                    "field '%s' is a bit field, which no view can address", path);
    RETURN_ERROR_IF(offset + t->itemsize > l->view.itemsize, err, XBUF_ETYPE,
                    "field '%s' lies beyond the view's itemsize %td", path, l->view.itemsize);
    RETURN_IF_FAILED(shift(l, l->view.ndim, offset, err));
    const xbuf_type *item = t;
    if (t->kind == XBUF_KIND_ARRAY) {
        RETURN_IF_FAILED(append_dims(l, t, err));
        item = t->base;
    }
    l->view.itemsize = item->itemsize;
    RETURN_ERROR_IF(item->itemsize <= 0, err, XBUF_ETYPE, "field '%s' has no bytes", path);
    RETURN_IF_FAILED(print_type(item, text, size, format, format_size, err));
    l->view.format = *format;
    finish_len(l);
    return XBUF_OK;
}

int xbuf_mview_field(const xbuf_mview *m, const char *path, xbuf_mview **out, xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    RETURN_ERROR_IF(path == NULL, err, XBUF_EINVAL, "path is NULL");
    xbuf_format *parsed;
    RETURN_IF_FAILED(xbuf_view_format(&m->view, &parsed, err));
    layout l;
    layout_of(&l, &m->view);
    char text[256], *format = NULL;
    size_t format_size = 0;
    int rc = field_layout(&l, xbuf_format_type(parsed), path, text, sizeof text, &format,
                          &format_size, err);
    if (rc == XBUF_OK)
        rc = mview_new(m->family, &l, out, err);
    if (format_size > 0)
        xbuf_free(format, format_size);
    xbuf_format_release(parsed);
    return rc;
}

/* ---- casting ------------------------------------------------------------------ */

static int cast_packed(layout *l, char order, ptrdiff_t itemsize, int ndim,
                       const ptrdiff_t *shape, xbuf_error *err)
{
    ptrdiff_t bytes = itemsize;
    if (shape == NULL) {
        RETURN_ERROR_IF(l->view.len % itemsize != 0, err, XBUF_ETYPE,
                        "the view's %td bytes are not a multiple of the new itemsize %td",
                        l->view.len, itemsize);
        ndim = 1;
        l->shape[0] = l->view.len / itemsize;
    } else {
        RETURN_ERROR_IF(ndim < 0 || ndim > XBUF_MAX_NDIM, err, XBUF_EINVAL,
                        "ndim %d is outside 0..%d", ndim, XBUF_MAX_NDIM);
        for (int i = 0; i < ndim; i++) {
            RETURN_ERROR_IF(shape[i] < 0, err, XBUF_EINVAL, "shape[%d] is negative", i);
            RETURN_ERROR_IF(xbuf_mul_overflow(bytes, shape[i], &bytes), err, XBUF_ETYPE,
                            "the new shape's size overflows");
        }
        RETURN_ERROR_IF(bytes != l->view.len, err, XBUF_ETYPE,
                        "the new shape and itemsize make %td bytes, the view has %td", bytes,
                        l->view.len);
        memcpy(l->shape, shape, (size_t)ndim * sizeof *shape);
    }
    l->view.ndim = ndim;
    l->view.itemsize = itemsize;
    return xbuf_strides_fill(ndim, l->shape, itemsize, order, l->strides, err);
}

static int cast_last_dim(layout *l, ptrdiff_t itemsize, const ptrdiff_t *shape,
                         xbuf_error *err)
{
    int last = l->view.ndim - 1;
    RETURN_ERROR_IF(shape != NULL, err, XBUF_ETYPE,
                    "a view that is not contiguous can only be re-cut along its last "
                    "dimension: give no shape");
    if (l->shape[last] <= 1)
        l->strides[last] = l->view.itemsize; /* never stepped: packed by definition */
    RETURN_ERROR_IF(l->strides[last] != l->view.itemsize, err, XBUF_ETYPE,
                    "the view is not contiguous and its last dimension is not packed "
                    "(stride %td, itemsize %td)", l->strides[last], l->view.itemsize);
    ptrdiff_t bytes = l->shape[last] * l->view.itemsize;
    RETURN_ERROR_IF(bytes % itemsize != 0, err, XBUF_ETYPE,
                    "the last dimension's %td bytes are not a multiple of the new itemsize "
                    "%td", bytes, itemsize);
    l->shape[last] = bytes / itemsize;
    l->strides[last] = itemsize;
    l->view.itemsize = itemsize;
    return XBUF_OK;
}

int xbuf_mview_cast(const xbuf_mview *m, const char *format, int ndim, const ptrdiff_t *shape,
                    xbuf_mview **out, xbuf_error *err)
{
    RETURN_IF_FAILED(usable(m, out, err));
    RETURN_ERROR_IF(format == NULL, err, XBUF_EINVAL, "format is NULL");
    ptrdiff_t itemsize;
    RETURN_IF_FAILED(xbuf_format_size(format, &itemsize, NULL, err));
    RETURN_ERROR_IF(itemsize <= 0, err, XBUF_ETYPE, "format '%s' has no bytes", format);
    RETURN_ERROR_IF(m->view.suboffsets != NULL, err, XBUF_ETYPE,
                    "a view with suboffsets cannot be cast: its items are not in one block");
    layout l;
    layout_of(&l, &m->view);
    l.view.format = format;
    bool c = xbuf_view_is_contiguous(&m->view, 'C'), f = xbuf_view_is_contiguous(&m->view, 'F');
    int rc = c || f ? cast_packed(&l, c ? 'C' : 'F', itemsize, ndim, shape, err)
                    : cast_last_dim(&l, itemsize, shape, err);
    RETURN_IF_FAILED(rc);
    finish_len(&l);
    return mview_new(m->family, &l, out, err);
}

/* ---- re-export ------------------------------------------------------------------ */

static void mview_export_release(xbuf_view *view)
{
    xbuf_mview *m = view->obj;
    xbuf_exports_release(&m->exports, NULL);
    xbuf_mview_unref(m);
}

/* memoryview's own rules for what its buffer export can serve. */
static int check_request(const xbuf_mview *m, int flags, xbuf_error *err)
{
    const xbuf_view *v = &m->view;
    RETURN_ERROR_IF((flags & XBUF_WRITABLE) && v->readonly, err, XBUF_EREQUEST,
                    "the view is read-only");
    RETURN_ERROR_IF(v->suboffsets != NULL && !XBUF_WANTS(flags, XBUF_INDIRECT), err,
                    XBUF_EREQUEST, "the view has suboffsets: ask for XBUF_INDIRECT");
    bool c = xbuf_view_is_contiguous(v, 'C');
    RETURN_ERROR_IF(XBUF_WANTS(flags, XBUF_C_CONTIGUOUS) && !c, err, XBUF_EREQUEST,
                    "the view is not C-contiguous");
    RETURN_ERROR_IF(XBUF_WANTS(flags, XBUF_F_CONTIGUOUS) && !xbuf_view_is_contiguous(v, 'F'),
                    err, XBUF_EREQUEST, "the view is not Fortran-contiguous");
    RETURN_ERROR_IF(XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS) && !c &&
                        !xbuf_view_is_contiguous(v, 'F'),
                    err, XBUF_EREQUEST, "the view is not contiguous");
    RETURN_ERROR_IF(!XBUF_WANTS(flags, XBUF_STRIDES) && !c, err, XBUF_EREQUEST,
                    "the view is not C-contiguous: ask for XBUF_STRIDES");
    /* memoryview's rule: without ND a consumer sees unsigned bytes, which a
     * format would contradict. */
    RETURN_ERROR_IF((flags & XBUF_FORMAT) && !XBUF_WANTS(flags, XBUF_ND), err, XBUF_EREQUEST,
                    "cannot serve a format without a shape: ask for XBUF_ND too");
    return XBUF_OK;
}

static int mview_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    xbuf_mview *m = (xbuf_mview *)self;
    RETURN_ERROR_IF(m->family == NULL, err, XBUF_ERELEASED,
                    "operation forbidden on a released view");
    RETURN_IF_FAILED(check_request(m, flags, err));
    RETURN_IF_FAILED(xbuf_exports_acquire(&m->exports, err));
    xbuf_mview_retain(m);
    const xbuf_view *v = &m->view;
    bool nd = XBUF_WANTS(flags, XBUF_ND);
    *view = (xbuf_view){0};
    view->buf = v->buf;
    view->obj = m;
    view->len = v->len;
    view->itemsize = v->itemsize;
    view->readonly = v->readonly;
    view->ndim = nd ? v->ndim : 1;
    view->format = (flags & XBUF_FORMAT) ? v->format : NULL;
    view->shape = nd ? v->shape : NULL;
    view->strides = XBUF_WANTS(flags, XBUF_STRIDES) ? v->strides : NULL;
    view->suboffsets = XBUF_WANTS(flags, XBUF_INDIRECT) ? v->suboffsets : NULL;
    view->release = mview_export_release;
    return XBUF_OK;
}

xbuf_exporter *xbuf_mview_exporter(xbuf_mview *m)
{
    return m == NULL ? NULL : &m->exporter;
}

/* ---- iteration ---------------------------------------------------------------------- */

int xbuf_iter_init(xbuf_iter *it, const xbuf_mview *m, xbuf_error *err)
{
    RETURN_ERROR_IF(it == NULL || m == NULL, err, XBUF_EINVAL, "iterator or view is NULL");
    RETURN_ERROR_IF(m->family == NULL, err, XBUF_ERELEASED,
                    "operation forbidden on a released view");
    it->view = &m->view;
    it->remaining = m->view.len / m->view.itemsize;
    memset(it->index, 0, sizeof it->index);
    return XBUF_OK;
}

/* Move the index one item on in C order. */
static void iter_step(xbuf_iter *it)
{
    for (int i = it->view->ndim - 1; i >= 0; i--) {
        if (++it->index[i] < it->view->shape[i])
            break;
        it->index[i] = 0;
    }
}

bool xbuf_iter_next(xbuf_iter *it, void **item)
{
    if (it == NULL || item == NULL || it->remaining <= 0)
        return false;
    if (xbuf_view_pointer(it->view, it->index, item, NULL) < 0)
        return false;
    iter_step(it);
    it->remaining--;
    return true;
}

bool xbuf_iter_next_row(xbuf_iter *it, char **first, ptrdiff_t *count, ptrdiff_t *stride)
{
    if (it == NULL || first == NULL || count == NULL || stride == NULL || it->remaining <= 0)
        return false;
    const xbuf_view *v = it->view;
    int last = v->ndim - 1;
    if (last < 0 || (v->suboffsets != NULL && v->suboffsets[last] >= 0)) {
        /* 0-d, or items not evenly spaced: one item per row */
        *count = 1;
        *stride = v->itemsize;
        return xbuf_iter_next(it, (void **)first);
    }
    void *start;
    if (xbuf_view_pointer(v, it->index, &start, NULL) < 0)
        return false;
    *first = start;
    *count = v->shape[last] - it->index[last];
    *stride = v->strides[last];
    it->index[last] = v->shape[last] - 1;
    iter_step(it);
    it->remaining -= *count;
    return true;
}
