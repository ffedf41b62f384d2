/*
 * test_mview.c -- layer 4, the view object (xbuf_mview): life cycle and
 * export accounting, slice resolution, slicing, indexing, pointers,
 * permutations, fields, casts, re-export, release, iteration, allocation
 * failure and 64-dimensional views.
 *
 * Every derived view is checked item by item against an oracle that does
 * not use the library: an index map from the derived view's indices to its
 * parent's (plus a byte offset, for fields and casts), with both addresses
 * computed by the oracle walk over strides and suboffsets (ref_ptr, test_support.h).
 * Slice starts and lengths come from a transcription of CPython's
 * PySlice_AdjustIndices, itself checked against a table computed with
 * Python's slice.indices.
 *
 * Views come from a configurable test exporter (any shape, strides of
 * either sign, PIL-style pointer tables under any set of dimensions with
 * any suboffset, any format, read-only or not; its metadata arrays are its
 * own, so a test can scribble over them) and from the two example
 * exporters: the PIL-style image and the sample buffer that refuses to grow
 * while exported.  The test exporter's memory comes from the C library, so
 * every test runs under the counting allocator and ends by checking that
 * nothing xbuf allocated is still live.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "test_support.h"
#include "image.h"
#include "samples.h"

#define NONE XBUF_SLICE_NONE
#define PMAX PTRDIFF_MAX
#define PSZ ((ptrdiff_t)sizeof(void *))
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* Stored in an out-parameter before a call that must reset it to NULL. */
#define JUNK ((xbuf_mview *)(uintptr_t)0x10)

/* ==== scaffolding ======================================================= */

#define TEST(name) Test(mview, name, .init = begin)

/* A derivation that must fail with `code` and leave *out NULL. */
#define DERIVE_FAILS(expr, out, want_code)                                                   \
    do {                                                                                     \
        (out) = JUNK;                                                                        \
        FAILS(expr, want_code);                                                               \
        cr_assert_null((out), "%s: *out not set to NULL on failure", #expr);                 \
    } while (0)

static const xbuf_view *V(const xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    cr_assert_not_null(v, "xbuf_mview_view returned NULL for a live mview");
    return v;
}

static const char *index_str(int ndim, const ptrdiff_t *idx, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ",%td" : "%td", idx[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
    return buf;
}

static bool has_indirection(const xbuf_view *v)
{
    if (v->suboffsets == NULL)
        return false;
    for (int i = 0; i < v->ndim; i++)
        if (v->suboffsets[i] >= 0)
            return true;
    return false;
}

/* An mview's layout is a complete, well-formed view. */
static void check_well_formed(const xbuf_view *v)
{
    cr_assert_not_null(v);
    cr_assert_not_null(v->format, "mview format is NULL");
    cr_assert_neq(v->format[0], '\0');
    if (v->ndim > 0) {
        cr_assert_not_null(v->shape, "mview shape is NULL with ndim %d", v->ndim);
        cr_assert_not_null(v->strides, "mview strides is NULL with ndim %d", v->ndim);
    }
    cr_assert(v->suboffsets == NULL || has_indirection(v),
              "mview suboffsets not NULL although no dimension is indirect");
    xbuf_error e;
    xbuf_error_clear(&e);
    int flags = v->suboffsets ? XBUF_FULL_RO : XBUF_RECORDS_RO;
    cr_assert_eq(xbuf_view_check(v, flags, &e), XBUF_OK, "mview layout is malformed: %s",
                 e.message);
    cr_assert_eq(v->len, item_count(v->ndim, v->shape) * v->itemsize);
}

/* child index -> parent index, returning a byte offset to add. */
typedef ptrdiff_t (*index_map)(const ptrdiff_t *child, ptrdiff_t *parent, const void *ctx);

static void check_map(const xbuf_view *child, const xbuf_view *parent, index_map map,
                      const void *ctx, const char *what)
{
    check_well_formed(child);
    ptrdiff_t ci[XBUF_MAX_NDIM] = {0}, pi[XBUF_MAX_NDIM];
    if (item_count(child->ndim, child->shape) == 0)
        return;
    char b1[1024], b2[1024];
    do {
        memset(pi, 0, sizeof pi);
        ptrdiff_t off = map(ci, pi, ctx);
        for (int d = 0; d < parent->ndim; d++)
            if (pi[d] < 0 || pi[d] >= parent->shape[d])
                cr_assert_fail("%s: oracle maps item %s outside the parent: %s", what,
                               index_str(child->ndim, ci, b1, sizeof b1),
                               index_str(parent->ndim, pi, b2, sizeof b2));
        char *want = ref_ptr(parent, pi) + off;
        char *got = ref_ptr(child, ci);
        if (got != want)
            cr_assert_fail("%s: item %s is at %p, expected %p (parent item %s + %td bytes)",
                           what, index_str(child->ndim, ci, b1, sizeof b1), (void *)got,
                           (void *)want, index_str(parent->ndim, pi, b2, sizeof b2), off);
    } while (next_index(child->ndim, child->shape, ci));
}

/* ==== a configurable exporter ============================================ */

typedef struct texp {
    xbuf_exporter exporter;
    xbuf_exports exports;
    void *buf;
    ptrdiff_t itemsize;
    int ndim;
    int readonly;
    bool with_format;
    bool with_suboffsets;
    char format[1024];
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM], suboffsets[XBUF_MAX_NDIM];
    void **blocks; /* from the C library, not xbuf's allocator */
    size_t nblocks, capblocks;
    unsigned pattern;
} texp;

static void texp_release(xbuf_view *view)
{
    texp *t = view->obj;
    xbuf_exports_release(&t->exports, NULL);
}

/* Every field, whatever the request (the oracle's view; no export). */
static void texp_full_view(const texp *t, xbuf_view *v)
{
    memset(v, 0, sizeof *v);
    v->buf = t->buf;
    v->obj = (void *)(uintptr_t)t;
    v->len = item_count(t->ndim, t->shape) * t->itemsize;
    v->itemsize = t->itemsize;
    v->readonly = t->readonly;
    v->ndim = t->ndim;
    v->format = t->with_format ? t->format : NULL;
    v->shape = (ptrdiff_t *)(uintptr_t)t->shape;
    v->strides = (ptrdiff_t *)(uintptr_t)t->strides;
    v->suboffsets = t->with_suboffsets ? (ptrdiff_t *)(uintptr_t)t->suboffsets : NULL;
}

static int texp_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    texp *t = (texp *)self;
    xbuf_view full;
    texp_full_view(t, &full);
    bool c = xbuf_view_is_contiguous(&full, 'C'), f = xbuf_view_is_contiguous(&full, 'F');
    if ((flags & XBUF_WRITABLE) && t->readonly)
        return xbuf_error_set(err, XBUF_EREQUEST, "test exporter: read-only");
    if (t->with_suboffsets && !XBUF_WANTS(flags, XBUF_INDIRECT))
        return xbuf_error_set(err, XBUF_EREQUEST, "test exporter: INDIRECT needed");
    if (!XBUF_WANTS(flags, XBUF_STRIDES) && !c)
        return xbuf_error_set(err, XBUF_EREQUEST, "test exporter: STRIDES needed");
    if ((XBUF_WANTS(flags, XBUF_C_CONTIGUOUS) && !c) ||
        (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS) && !f) ||
        (XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS) && !c && !f))
        return xbuf_error_set(err, XBUF_EREQUEST, "test exporter: not contiguous");
    int rc = xbuf_exports_acquire(&t->exports, err);
    if (rc < 0)
        return rc;
    *view = full;
    view->obj = t;
    if (!(flags & XBUF_FORMAT))
        view->format = NULL;
    if (!XBUF_WANTS(flags, XBUF_STRIDES))
        view->strides = NULL;
    view->release = texp_release;
    return XBUF_OK;
}

static texp *texp_new(const char *format, ptrdiff_t itemsize, int ndim, const ptrdiff_t *shape)
{
    texp *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    t->exporter.get = texp_get;
    xbuf_exports_init(&t->exports);
    t->itemsize = itemsize;
    t->ndim = ndim;
    t->with_format = format != NULL;
    if (format)
        snprintf(t->format, sizeof t->format, "%s", format);
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->suboffsets[i] = -1;
    }
    t->pattern = 1;
    return t;
}

/* A block of at least one byte, filled with a running pattern. */
static char *texp_alloc(texp *t, ptrdiff_t size)
{
    if (t->nblocks == t->capblocks) {
        t->capblocks = t->capblocks ? t->capblocks * 2 : 16;
        t->blocks = realloc(t->blocks, t->capblocks * sizeof *t->blocks);
        cr_assert_not_null(t->blocks);
    }
    size_t bytes = size > 0 ? (size_t)size : 1;
    unsigned char *block = malloc(bytes);
    cr_assert_not_null(block);
    for (size_t i = 0; i < bytes; i++)
        block[i] = (unsigned char)(t->pattern++ * 131u + 7u);
    t->blocks[t->nblocks++] = block;
    return (char *)block;
}

static void texp_free(texp *t)
{
    cr_assert_eq(xbuf_exports_count(&t->exports), 0, "test exporter freed with %td exports",
                 xbuf_exports_count(&t->exports));
    for (size_t i = 0; i < t->nblocks; i++)
        free(t->blocks[i]);
    free(t->blocks);
    free(t);
}

static void c_strides(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, ptrdiff_t *strides)
{
    ptrdiff_t s = itemsize;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

static void f_strides(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, ptrdiff_t *strides)
{
    ptrdiff_t s = itemsize;
    for (int i = 0; i < ndim; i++) {
        strides[i] = s;
        s *= shape[i];
    }
}

/* Memory laid out by `strides` (any signs), buf placed so every item fits. */
static texp *make_strided(const char *format, ptrdiff_t itemsize, int ndim,
                          const ptrdiff_t *shape, const ptrdiff_t *strides)
{
    texp *t = texp_new(format, itemsize, ndim, shape);
    ptrdiff_t lo = 0, hi = itemsize;
    for (int i = 0; i < ndim; i++) {
        t->strides[i] = strides[i];
        if (shape[i] == 0)
            continue;
        ptrdiff_t span = strides[i] * (shape[i] - 1);
        if (span < 0)
            lo += span;
        else
            hi += span;
    }
    if (item_count(ndim, shape) == 0)
        lo = 0, hi = 1;
    char *block = texp_alloc(t, hi - lo);
    t->buf = block - lo;
    return t;
}

static texp *make_c(const char *format, ptrdiff_t itemsize, int ndim, const ptrdiff_t *shape)
{
    ptrdiff_t strides[XBUF_MAX_NDIM] = {0};
    c_strides(ndim, shape, itemsize, strides);
    return make_strided(format, itemsize, ndim, shape, strides);
}

static texp *make_f(const char *format, ptrdiff_t itemsize, int ndim, const ptrdiff_t *shape)
{
    ptrdiff_t strides[XBUF_MAX_NDIM] = {0};
    f_strides(ndim, shape, itemsize, strides);
    return make_strided(format, itemsize, ndim, shape, strides);
}

/* The part of a PIL layout from dimension d on: a C-ordered block of the
 * dimensions up to and including the next indirect one (its elements are
 * pointers to the next part) or of the remaining dimensions (its elements
 * are items), after `header` bytes the previous suboffset skips.  Returns
 * the block, which is what the previous pointer table stores. */
static char *pil_build(texp *t, int d, ptrdiff_t header)
{
    int e = d;
    while (e < t->ndim && t->suboffsets[e] < 0)
        e++;
    bool indirect = e < t->ndim;
    int last = indirect ? e : t->ndim - 1;
    ptrdiff_t elem = indirect ? PSZ : t->itemsize, count = 1;
    for (int i = last; i >= d; i--) {
        t->strides[i] = count * elem;
        count *= t->shape[i];
    }
    char *block = texp_alloc(t, header + count * elem);
    if (indirect)
        for (ptrdiff_t k = 0; k < count; k++) {
            char *child = pil_build(t, e + 1, t->suboffsets[e]);
            memcpy(block + header + k * elem, &child, sizeof child);
        }
    return block;
}

/* suboffsets[i] >= 0: dimension i is indirect, its pointers lead to blocks
 * whose items start suboffsets[i] bytes in. */
static texp *make_pil(const char *format, ptrdiff_t itemsize, int ndim, const ptrdiff_t *shape,
                      const ptrdiff_t *suboffsets)
{
    texp *t = texp_new(format, itemsize, ndim, shape);
    for (int i = 0; i < ndim; i++)
        t->suboffsets[i] = suboffsets[i];
    t->with_suboffsets = true;
    t->buf = pil_build(t, 0, 0);
    return t;
}

static xbuf_mview *open_mview(xbuf_exporter *exporter, int flags)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_mview *m = JUNK;
    MUST(xbuf_mview_from_exporter(exporter, flags, &m, &err));
    cr_assert_not_null(m);
    cr_assert_neq(m, JUNK);
    check_well_formed(V(m));
    return m;
}

static xbuf_mview *open_texp(texp *t)
{
    return open_mview(&t->exporter, XBUF_FULL_RO);
}

/* ==== oracles for the derivations ======================================== */

/* PySlice_Unpack + PySlice_AdjustIndices, transcribed from CPython. */
static ptrdiff_t ref_adjust(xbuf_slice s, ptrdiff_t n, ptrdiff_t *start, ptrdiff_t *stop)
{
    ptrdiff_t step = s.step;
    ptrdiff_t a = s.start == NONE ? (step < 0 ? PMAX : 0) : s.start;
    ptrdiff_t b = s.stop == NONE ? (step < 0 ? PTRDIFF_MIN : PMAX) : s.stop;
    if (a < 0) {
        a += n;
        if (a < 0)
            a = step < 0 ? -1 : 0;
    } else if (a >= n) {
        a = step < 0 ? n - 1 : n;
    }
    if (b < 0) {
        b += n;
        if (b < 0)
            b = step < 0 ? -1 : 0;
    } else if (b >= n) {
        b = step < 0 ? n - 1 : n;
    }
    *start = a;
    *stop = b;
    if (step < 0)
        return b < a ? (a - b - 1) / (-step) + 1 : 0;
    return a < b ? (b - a - 1) / step + 1 : 0;
}

typedef struct slice_map {
    ptrdiff_t start[XBUF_MAX_NDIM], step[XBUF_MAX_NDIM];
    int ndim;
} slice_map;

static ptrdiff_t map_slice(const ptrdiff_t *c, ptrdiff_t *p, const void *ctx)
{
    const slice_map *s = ctx;
    for (int i = 0; i < s->ndim; i++)
        p[i] = s->start[i] + c[i] * s->step[i];
    return 0;
}

static const char *slices_str(const xbuf_slice *sl, int count, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        char a[32] = "", b[32] = "";
        if (sl[i].start != NONE)
            snprintf(a, sizeof a, "%td", sl[i].start);
        if (sl[i].stop != NONE)
            snprintf(b, sizeof b, "%td", sl[i].stop);
        used += (size_t)snprintf(buf + used, size - used, "%s%s:%s:%td", i ? ", " : "[", a, b,
                                 sl[i].step);
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* Slice m, check the result against the oracle, return it. */
static xbuf_mview *slice_checked(const xbuf_mview *m, const xbuf_slice *sl, int count)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const xbuf_view *pv = V(m);
    slice_map map = {.ndim = pv->ndim};
    ptrdiff_t shape[XBUF_MAX_NDIM];
    for (int i = 0; i < pv->ndim; i++) {
        ptrdiff_t stop;
        if (i < count) {
            shape[i] = ref_adjust(sl[i], pv->shape[i], &map.start[i], &stop);
            map.step[i] = sl[i].step;
        } else {
            shape[i] = pv->shape[i];
            map.start[i] = 0;
            map.step[i] = 1;
        }
    }
    char what[600];
    slices_str(sl, count, what, sizeof what);
    xbuf_mview *out = JUNK;
    int rc = xbuf_mview_slice(m, sl, count, &out, &err);
    cr_assert_eq(rc, XBUF_OK, "slice %s failed: %s", what, err.message);
    const xbuf_view *cv = V(out);
    cr_assert_eq(cv->ndim, pv->ndim, "slice %s: ndim %d", what, cv->ndim);
    for (int i = 0; i < pv->ndim; i++)
        cr_assert_eq(cv->shape[i], shape[i], "slice %s: shape[%d] is %td, expected %td", what,
                     i, cv->shape[i], shape[i]);
    cr_assert_eq(cv->itemsize, pv->itemsize);
    cr_assert_str_eq(cv->format, pv->format);
    cr_assert_eq(cv->readonly, pv->readonly);
    check_map(cv, pv, map_slice, &map, what);
    return out;
}

typedef struct index_map_ctx {
    int dim, pndim;
    ptrdiff_t index;
} index_map_ctx;

static ptrdiff_t map_index(const ptrdiff_t *c, ptrdiff_t *p, const void *ctx)
{
    const index_map_ctx *x = ctx;
    for (int i = 0, j = 0; i < x->pndim; i++)
        p[i] = i == x->dim ? x->index : c[j++];
    return 0;
}

static xbuf_mview *index_checked(const xbuf_mview *m, int dim, ptrdiff_t index)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const xbuf_view *pv = V(m);
    xbuf_mview *out = JUNK;
    int rc = xbuf_mview_index(m, dim, index, &out, &err);
    cr_assert_eq(rc, XBUF_OK, "index dim %d at %td failed: %s", dim, index, err.message);
    const xbuf_view *cv = V(out);
    cr_assert_eq(cv->ndim, pv->ndim - 1);
    for (int i = 0, j = 0; i < pv->ndim; i++)
        if (i != dim)
            cr_assert_eq(cv->shape[j++], pv->shape[i]);
    cr_assert_eq(cv->itemsize, pv->itemsize);
    cr_assert_str_eq(cv->format, pv->format);
    index_map_ctx x = {dim, pv->ndim, index < 0 ? index + pv->shape[dim] : index};
    char what[64];
    snprintf(what, sizeof what, "index dim %d at %td", dim, index);
    check_map(cv, pv, map_index, &x, what);
    return out;
}

typedef struct permute_map {
    int axes[XBUF_MAX_NDIM];
    int ndim;
} permute_map;

static ptrdiff_t map_permute(const ptrdiff_t *c, ptrdiff_t *p, const void *ctx)
{
    const permute_map *x = ctx;
    for (int i = 0; i < x->ndim; i++)
        p[x->axes[i]] = c[i];
    return 0;
}

static xbuf_mview *permute_checked(const xbuf_mview *m, const int *axes)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const xbuf_view *pv = V(m);
    permute_map x = {.ndim = pv->ndim};
    for (int i = 0; i < pv->ndim; i++)
        x.axes[i] = axes[i];
    xbuf_mview *out = JUNK;
    MUST(xbuf_mview_permute(m, axes, &out, &err));
    const xbuf_view *cv = V(out);
    cr_assert_eq(cv->ndim, pv->ndim);
    for (int i = 0; i < pv->ndim; i++)
        cr_assert_eq(cv->shape[i], pv->shape[axes[i]]);
    cr_assert_eq(cv->itemsize, pv->itemsize);
    cr_assert_str_eq(cv->format, pv->format);
    check_map(cv, pv, map_permute, &x, "permute");
    return out;
}

/* The item's field at `offset`; sub-array dims after the parent's. */
typedef struct field_map {
    int pndim, sub_ndim;
    ptrdiff_t offset, base_size, sub_shape[XBUF_MAX_NDIM];
} field_map;

static ptrdiff_t map_field(const ptrdiff_t *c, ptrdiff_t *p, const void *ctx)
{
    const field_map *x = ctx;
    ptrdiff_t linear = 0;
    for (int i = 0; i < x->pndim; i++)
        p[i] = c[i];
    for (int i = 0; i < x->sub_ndim; i++)
        linear = linear * x->sub_shape[i] + c[x->pndim + i];
    return x->offset + linear * x->base_size;
}

/* The format `got` describes the same type as `want`. */
static void assert_same_type(const char *got, const char *want)
{
    xbuf_format *a = NULL, *b = NULL;
    xbuf_error err;
    xbuf_error_clear(&err);
    MUST(xbuf_format_parse(got, &a, &err));
    MUST(xbuf_format_parse(want, &b, &err));
    cr_assert(xbuf_type_equal(xbuf_format_type(a), xbuf_format_type(b)),
              "format '%s' is not the type of '%s'", got, want);
    xbuf_format_release(a);
    xbuf_format_release(b);
}

static xbuf_mview *field_checked(const xbuf_mview *m, const char *path, ptrdiff_t offset,
                                 const char *want_format, ptrdiff_t base_size, int sub_ndim,
                                 const ptrdiff_t *sub_shape)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const xbuf_view *pv = V(m);
    xbuf_mview *out = JUNK;
    int rc = xbuf_mview_field(m, path, &out, &err);
    cr_assert_eq(rc, XBUF_OK, "field '%s' failed: %s", path, err.message);
    const xbuf_view *cv = V(out);
    cr_assert_eq(cv->ndim, pv->ndim + sub_ndim, "field '%s': ndim %d", path, cv->ndim);
    for (int i = 0; i < pv->ndim; i++)
        cr_assert_eq(cv->shape[i], pv->shape[i]);
    for (int i = 0; i < sub_ndim; i++)
        cr_assert_eq(cv->shape[pv->ndim + i], sub_shape[i], "field '%s': shape[%d] = %td",
                     path, pv->ndim + i, cv->shape[pv->ndim + i]);
    cr_assert_eq(cv->itemsize, base_size, "field '%s': itemsize %td", path, cv->itemsize);
    assert_same_type(cv->format, want_format);
    cr_assert_eq(cv->readonly, pv->readonly);
    field_map x = {pv->ndim, sub_ndim, offset, base_size, {0}};
    for (int i = 0; i < sub_ndim; i++)
        x.sub_shape[i] = sub_shape[i];
    char what[64];
    snprintf(what, sizeof what, "field '%s'", path);
    check_map(cv, pv, map_field, &x, what);
    return out;
}

/* A cast: either the whole memory re-cut in `order`, or only the last
 * dimension's bytes re-cut (last_only). */
typedef struct cast_map {
    int pndim, cndim;
    ptrdiff_t pshape[XBUF_MAX_NDIM], cshape[XBUF_MAX_NDIM];
    ptrdiff_t psize, csize;
    char order;
    bool last_only;
} cast_map;

static ptrdiff_t ravel(int ndim, const ptrdiff_t *shape, const ptrdiff_t *idx, char order)
{
    ptrdiff_t k = 0;
    if (order == 'C')
        for (int i = 0; i < ndim; i++)
            k = k * shape[i] + idx[i];
    else
        for (int i = ndim - 1; i >= 0; i--)
            k = k * shape[i] + idx[i];
    return k;
}

static void unravel(int ndim, const ptrdiff_t *shape, ptrdiff_t k, ptrdiff_t *idx, char order)
{
    if (order == 'C')
        for (int i = ndim - 1; i >= 0; i--) {
            idx[i] = k % shape[i];
            k /= shape[i];
        }
    else
        for (int i = 0; i < ndim; i++) {
            idx[i] = k % shape[i];
            k /= shape[i];
        }
}

static ptrdiff_t map_cast(const ptrdiff_t *c, ptrdiff_t *p, const void *ctx)
{
    const cast_map *x = ctx;
    if (x->last_only) {
        for (int i = 0; i < x->pndim - 1; i++)
            p[i] = c[i];
        ptrdiff_t byte = c[x->cndim - 1] * x->csize;
        p[x->pndim - 1] = byte / x->psize;
        return byte % x->psize;
    }
    ptrdiff_t byte = ravel(x->cndim, x->cshape, c, x->order) * x->csize;
    unravel(x->pndim, x->pshape, byte / x->psize, p, x->order);
    return byte % x->psize;
}

/* Cast with an explicit shape (or NULL) and check it against the oracle. */
static xbuf_mview *cast_checked(const xbuf_mview *m, const char *format, ptrdiff_t size,
                                int ndim, const ptrdiff_t *shape, const ptrdiff_t *want_shape,
                                int want_ndim, char order, bool last_only)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const xbuf_view *pv = V(m);
    xbuf_mview *out = JUNK;
    int rc = xbuf_mview_cast(m, format, ndim, shape, &out, &err);
    cr_assert_eq(rc, XBUF_OK, "cast to '%s' failed: %s", format, err.message);
    const xbuf_view *cv = V(out);
    cr_assert_eq(cv->ndim, want_ndim, "cast to '%s': ndim %d, expected %d", format, cv->ndim,
                 want_ndim);
    for (int i = 0; i < want_ndim; i++)
        cr_assert_eq(cv->shape[i], want_shape[i], "cast to '%s': shape[%d] = %td, expected %td",
                     format, i, cv->shape[i], want_shape[i]);
    cr_assert_eq(cv->itemsize, size);
    cr_assert_eq(cv->len, pv->len, "cast changed len");
    cr_assert_eq(cv->readonly, pv->readonly);
    assert_same_type(cv->format, format);
    if (!last_only && order == 'C')
        cr_assert(xbuf_view_is_contiguous(cv, 'C'), "cast of a C-contiguous view is not C");
    if (!last_only && order == 'F')
        cr_assert(xbuf_view_is_contiguous(cv, 'F'), "cast of an F-contiguous view is not F");
    cast_map x = {pv->ndim, cv->ndim, {0}, {0}, pv->itemsize, size, order, last_only};
    for (int i = 0; i < pv->ndim; i++)
        x.pshape[i] = pv->shape[i];
    for (int i = 0; i < cv->ndim; i++)
        x.cshape[i] = cv->shape[i];
    char what[64];
    snprintf(what, sizeof what, "cast to '%s'", format);
    check_map(cv, pv, map_cast, &x, what);
    return out;
}

/* The iterator visits exactly the items of the C-order nested loops. */
static void check_iter(const xbuf_mview *m)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const xbuf_view *v = V(m);
    xbuf_iter it;
    MUST(xbuf_iter_init(&it, m, &err));
    ptrdiff_t idx[XBUF_MAX_NDIM] = {0}, n = item_count(v->ndim, v->shape), k = 0;
    void *item = NULL;
    char b[1024];
    while (xbuf_iter_next(&it, &item)) {
        cr_assert_lt(k, n, "iterator gives more than %td items", n);
        if ((char *)item != ref_ptr(v, idx))
            cr_assert_fail("iterator item %td %s at %p, expected %p", k,
                           index_str(v->ndim, idx, b, sizeof b), item, (void *)ref_ptr(v, idx));
        next_index(v->ndim, v->shape, idx);
        k++;
    }
    cr_assert_eq(k, n, "iterator gave %td items, expected %td", k, n);
    cr_assert(!xbuf_iter_next(&it, &item), "iterator restarted after the end");

    /* Row by row, the same items in the same order. */
    MUST(xbuf_iter_init(&it, m, &err));
    memset(idx, 0, sizeof idx);
    k = 0;
    char *first;
    ptrdiff_t count, stride;
    while (xbuf_iter_next_row(&it, &first, &count, &stride)) {
        cr_assert_gt(count, 0, "empty row");
        for (ptrdiff_t i = 0; i < count; i++, k++) {
            cr_assert_lt(k, n, "rows give more than %td items", n);
            if (first + i * stride != ref_ptr(v, idx))
                cr_assert_fail("row item %td %s at %p, expected %p", k,
                               index_str(v->ndim, idx, b, sizeof b), (void *)(first + i * stride),
                               (void *)ref_ptr(v, idx));
            next_index(v->ndim, v->shape, idx);
        }
    }
    cr_assert_eq(k, n, "rows gave %td items, expected %td", k, n);
    cr_assert(!xbuf_iter_next_row(&it, &first, &count, &stride), "rows restarted after the end");
}

static void check_every_request(xbuf_mview *m, const xbuf_exports *under, const char *what);

/* ==== life cycle and export accounting ==================================== */

/* The record format of the field tests and its C layout. */
#define REC_FORMAT "T{b:a:xxxi:b:(2,3)h:c:T{d:x:}:s:}"
typedef struct rec {
    int8_t a;
    int32_t b;
    int16_t c[2][3];
    struct {
        double x;
    } s;
} rec;

static texp *make_records(int ndim, const ptrdiff_t *shape)
{
    texp *t = make_c(REC_FORMAT, (ptrdiff_t)sizeof(rec), ndim, shape);
    ptrdiff_t n = item_count(ndim, shape);
    rec *r = t->buf;
    for (ptrdiff_t k = 0; k < n; k++) {
        memset(&r[k], 0, sizeof r[k]);
        r[k].a = (int8_t)k;
        r[k].b = (int32_t)(1000 + k);
        for (int j = 0; j < 6; j++)
            r[k].c[j / 3][j % 3] = (int16_t)(10 * k + j);
        r[k].s.x = (double)k + 0.5;
    }
    return t;
}

TEST(record_layout_matches_c)
{
    /* The oracle for the field tests assumes the C layout of struct rec. */
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t size = 0;
    MUST(xbuf_format_size(REC_FORMAT, &size, NULL, &err));
    cr_assert_eq(size, (ptrdiff_t)sizeof(rec));
    cr_assert_eq(offsetof(rec, b), 4);
    cr_assert_eq(offsetof(rec, c), 8);
    cr_assert_eq(offsetof(rec, s), 24);
    finish();
}

TEST(family_holds_exactly_one_export)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[3] = {2, 3, 4};
    texp *t = make_records(3, shape);
    xbuf_exports *ex = &t->exports;

    xbuf_mview *m0 = open_texp(t);
    cr_assert_eq(xbuf_exports_count(ex), 1);
    /* transpose -> (4,3,2) records */
    xbuf_mview *m1 = NULL;
    MUST(xbuf_mview_transpose(m0, &m1, &err));
    permute_map pm = {{2, 1, 0}, 3};
    check_map(V(m1), V(m0), map_permute, &pm, "transpose");
    cr_assert_eq(xbuf_exports_count(ex), 1);
    /* field c -> (4,3,2,2,3) of h */
    ptrdiff_t sub[2] = {2, 3};
    xbuf_mview *m2 = field_checked(m1, "c", 8, "h", 2, 2, sub);
    cr_assert_eq(xbuf_exports_count(ex), 1);
    /* slice of the field view, then a slice of that */
    xbuf_slice s1[5] = {{NONE, NONE, -1}, {1, NONE, 1}, {NONE, NONE, 1}, {NONE, NONE, -1},
                        {NONE, NONE, 2}};
    xbuf_mview *m3 = slice_checked(m2, s1, 5);
    xbuf_slice s2[3] = {{1, 3, 1}, {-1, NONE, -1}, {NONE, NONE, -1}};
    xbuf_mview *m4 = slice_checked(m3, s2, 3);
    cr_assert_eq(xbuf_exports_count(ex), 1);
    xbuf_mview *m5 = index_checked(m4, 0, -1);
    int axes[4] = {3, 0, 2, 1};
    xbuf_mview *m6 = permute_checked(m5, axes);
    /* the c sub-array's last dimension is packed: cast h -> B doubles it */
    xbuf_mview *m7 = NULL;
    MUST(xbuf_mview_field(m0, "c", &m7, &err));
    ptrdiff_t want[5] = {2, 3, 4, 2, 6};
    xbuf_mview *m8 = cast_checked(m7, "B", 1, 0, NULL, want, 5, 'C', true);
    cr_assert_eq(xbuf_exports_count(ex), 1);

    /* values through the long chain: m5 is m2[1:3][-1::-1][::-1] at [-1]
     * of m2 = transpose(records).c, with m2 sliced [::-1, 1:, :, ::-1, ::2] */
    const xbuf_view *v5 = V(m5);
    cr_assert_eq(v5->ndim, 4);
    ptrdiff_t want5[4] = {2, 2, 2, 2};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(v5->shape[i], want5[i]);
    /* One item by hand.  m3 (4,2,2,2,2): m3[a,b,c,d,e] = m2[3-a, 1+b, c, 1-d, 2e];
     * m4 = m3[1:3, ::-1, ::-1]; m5 = m4[-1], so m5[i,j,k,l] = m3[2, 1-i, 1-j, k, l]
     * = m2[1, 2-i, 1-j, 1-k, 2l] = rec[1-j][2-i][1].c[1-k][2l]; at (0,0,1,1):
     * rec[1][2][1].c[0][2]. */
    ptrdiff_t idx[4] = {0, 0, 1, 1};
    int16_t got;
    memcpy(&got, ref_ptr(v5, idx), sizeof got);
    rec *r = t->buf;
    cr_assert_eq(got, r[1 * 12 + 2 * 4 + 1].c[0][2], "chained value %d", got);

    xbuf_mview *order[9] = {m0, m4, m2, m8, m1, m6, m3, m7, m5};
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(xbuf_exports_count(ex), 1, "export count %td before unref %d",
                     xbuf_exports_count(ex), i);
        xbuf_mview_unref(order[i]);
    }
    cr_assert_eq(xbuf_exports_count(ex), 0);
    texp_free(t);
    finish();
}

TEST(retain_and_unref)
{
    ptrdiff_t shape[1] = {4};
    texp *t = make_c("i", 4, 1, shape);
    xbuf_mview *m = open_texp(t);
    cr_assert_eq(xbuf_mview_retain(m), m);
    xbuf_mview_unref(m);
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    cr_assert_not_null(xbuf_mview_view(m));
    xbuf_mview_unref(m);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    /* NULL-safe */
    cr_assert_null(xbuf_mview_retain(NULL));
    xbuf_mview_unref(NULL);
    cr_assert_null(xbuf_mview_view(NULL));
    cr_assert(!xbuf_mview_is_released(NULL));
    cr_assert_eq(xbuf_mview_exports(NULL), 0);
    texp_free(t);
    finish();
}

TEST(samples_refuse_to_grow_while_a_family_lives)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    samples *s = NULL;
    MUST(samples_create(&s, &err));
    int16_t values[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    MUST(samples_append(s, values, 10, &err));

    xbuf_mview *m = open_mview(&s->exporter, XBUF_FULL_RO);
    const xbuf_view *v = V(m);
    cr_assert_str_eq(v->format, "h");
    cr_assert_eq(v->ndim, 1);
    cr_assert_eq(v->shape[0], 10);
    cr_assert_eq(v->buf, (void *)s->data);
    xbuf_slice sl = {-2, NONE, -3};
    xbuf_mview *tail = slice_checked(m, &sl, 1); /* samples 8, 5, 2 */
    const xbuf_view *tv = V(tail);
    cr_assert_eq(tv->shape[0], 3);
    for (ptrdiff_t i = 0; i < 3; i++) {
        int16_t x;
        memcpy(&x, ref_ptr(tv, &i), sizeof x);
        cr_assert_eq(x, 8 - 3 * i);
    }
    cr_assert_eq(xbuf_exports_count(&s->exports), 1);
    FAILS(samples_append(s, values, 1, &err), XBUF_EBUSY);
    xbuf_mview_unref(m);
    FAILS(samples_append(s, values, 1, &err), XBUF_EBUSY);
    cr_assert_eq(xbuf_exports_count(&s->exports), 1);
    xbuf_mview_unref(tail);
    cr_assert_eq(xbuf_exports_count(&s->exports), 0);
    MUST(samples_append(s, values, 1, &err));
    MUST(samples_destroy(s, &err));
    finish();
}

TEST(minimal_requests_get_shape_and_strides)
{
    /* The samples exporter fills only what is asked: the mview fills in
     * shape and strides itself. */
    xbuf_error err;
    xbuf_error_clear(&err);
    samples *s = NULL;
    MUST(samples_create(&s, &err));
    int16_t values[5] = {5, 6, 7, 8, 9};
    MUST(samples_append(s, values, 5, &err));
    int requests[3] = {XBUF_SIMPLE, XBUF_ND, XBUF_FORMAT};
    for (int r = 0; r < 3; r++) {
        xbuf_mview *m = open_mview(&s->exporter, requests[r]);
        const xbuf_view *v = V(m);
        cr_assert_eq(v->ndim, 1);
        cr_assert_eq(v->shape[0], 5, "request %#x: shape[0] = %td", requests[r], v->shape[0]);
        cr_assert_eq(v->strides[0], 2, "request %#x: strides[0] = %td", requests[r],
                     v->strides[0]);
        cr_assert_eq(v->itemsize, 2);
        cr_assert_null(v->suboffsets);
        if (requests[r] == XBUF_FORMAT)
            cr_assert_str_eq(v->format, "h");
        xbuf_slice sl = {1, NONE, 2};
        xbuf_mview *sub = slice_checked(m, &sl, 1);
        xbuf_mview_unref(sub);
        xbuf_mview_unref(m);
    }
    cr_assert_eq(xbuf_exports_count(&s->exports), 0);
    MUST(samples_destroy(s, &err));
    finish();
}

TEST(format_defaults_to_B)
{
    /* an exporter that gives no format when FORMAT is not asked */
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c(NULL, 1, 2, shape);
    int requests[3] = {XBUF_STRIDED_RO, XBUF_CONTIG_RO, XBUF_SIMPLE};
    xbuf_mview *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = open_mview(&t->exporter, requests[i]);
        cr_assert_str_eq(V(m[i])->format, "B");
        cr_assert_eq(V(m[i])->ndim, i < 2 ? 2 : V(m[i])->ndim);
    }
    cr_assert_eq(xbuf_exports_count(&t->exports), 3);
    xbuf_slice sl = {NONE, NONE, -1};
    xbuf_mview *s = slice_checked(m[0], &sl, 1);
    cr_assert_str_eq(V(s)->format, "B");
    xbuf_mview_unref(s);
    for (int i = 0; i < 3; i++)
        xbuf_mview_unref(m[i]);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(from_exporter_refusals)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    image *img = NULL;
    MUST(image_create(2, 3, 4, 1, &img, &err));
    xbuf_mview *m;
    /* the image's rows need INDIRECT */
    DERIVE_FAILS(xbuf_mview_from_exporter(&img->exporter, XBUF_STRIDED_RO, &m, &err), m,
                 XBUF_EREQUEST);
    DERIVE_FAILS(xbuf_mview_from_exporter(&img->exporter, XBUF_FULL, &m, &err), m,
                 XBUF_EREQUEST); /* read-only */
    DERIVE_FAILS(xbuf_mview_from_exporter(&img->exporter, 0x40000, &m, &err), m, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_from_exporter(NULL, XBUF_FULL_RO, &m, &err), m, XBUF_EINVAL);
    FAILS(xbuf_mview_from_exporter(&img->exporter, XBUF_FULL_RO, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    MUST(image_destroy(img, &err));
    finish();
}

static bool same_view_struct(const xbuf_view *a, const xbuf_view *b)
{
    return a->buf == b->buf && a->obj == b->obj && a->len == b->len &&
           a->itemsize == b->itemsize && a->readonly == b->readonly && a->ndim == b->ndim &&
           a->format == b->format && a->shape == b->shape && a->strides == b->strides &&
           a->suboffsets == b->suboffsets && a->internal == b->internal &&
           a->release == b->release;
}

TEST(from_view_moves_the_view)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c("i", 4, 2, shape);
    xbuf_view v, saved, zero;
    memset(&zero, 0, sizeof zero);
    MUST(xbuf_get(&t->exporter, &v, XBUF_FULL_RO, &err));
    saved = v;
    xbuf_mview *m = JUNK;
    MUST(xbuf_mview_from_view(&v, &m, &err));
    cr_assert(same_view_struct(&v, &zero), "from_view left the caller's view populated");
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    const xbuf_view *mv = V(m);
    cr_assert_eq(mv->buf, saved.buf);
    cr_assert_eq(mv->len, saved.len);
    cr_assert_eq(mv->ndim, 2);
    cr_assert_str_eq(mv->format, "i");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(mv->shape[i], saved.shape[i]);
        cr_assert_eq(mv->strides[i], saved.strides[i]);
    }
    xbuf_release(&v); /* harmless: zeroed */
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    xbuf_mview_unref(m);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(from_view_rejects_malformed_views)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c("i", 4, 2, shape);
    xbuf_view good;
    MUST(xbuf_get(&t->exporter, &good, XBUF_FULL_RO, &err));
    ptrdiff_t negative[2] = {-3, -4}, big_shape[2] = {3, 5};
    for (int k = 0; k < 8; k++) {
        xbuf_view bad = good;
        switch (k) {
        case 0: bad.itemsize = 0; break;
        case 1: bad.shape = NULL; break;                /* ndim 2 without shape */
        case 2: bad.len += 4; break;                    /* len != product * itemsize */
        case 3: bad.shape = negative; bad.len = 48; break;
        case 4: bad.ndim = XBUF_MAX_NDIM + 1; break;
        case 5: bad.buf = NULL; break;                  /* NULL buf with len > 0 */
        case 6: bad.format = ""; break;
        case 7: bad.shape = big_shape; break;           /* len 48 but 60 bytes of items */
        }
        xbuf_view before = bad;
        xbuf_mview *m = JUNK;
        xbuf_error_clear(&err);
        int rc = xbuf_mview_from_view(&bad, &m, &err);
        cr_assert_eq(rc, XBUF_EINVAL, "malformed view %d: %s (%s)", k, xbuf_strerror(rc),
                     err.message);
        cr_assert_null(m, "malformed view %d: *out not NULL", k);
        cr_assert(same_view_struct(&bad, &before), "malformed view %d was modified", k);
        cr_assert_eq(xbuf_exports_count(&t->exports), 1, "malformed view %d: export lost", k);
    }
    xbuf_mview *m = JUNK;
    DERIVE_FAILS(xbuf_mview_from_view(NULL, &m, &err), m, XBUF_EINVAL);
    xbuf_view before = good;
    FAILS(xbuf_mview_from_view(&good, NULL, &err), XBUF_EINVAL);
    cr_assert(same_view_struct(&good, &before));
    xbuf_release(&good);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(owns_copies_of_metadata)
{
    ptrdiff_t shape[3] = {2, 3, 4}, sub[3] = {-1, 8, -1};
    texp *t = make_pil("<i", 4, 3, shape, sub);
    xbuf_mview *m = open_texp(t);
    const xbuf_view *v = V(m);
    /* a snapshot of the layout, and of the exporter's own arrays */
    ptrdiff_t s_shape[3], s_strides[3], s_sub[3];
    memcpy(s_shape, v->shape, sizeof s_shape);
    memcpy(s_strides, v->strides, sizeof s_strides);
    cr_assert_not_null(v->suboffsets);
    memcpy(s_sub, v->suboffsets, sizeof s_sub);
    xbuf_view orig;
    texp_full_view(t, &orig);
    ptrdiff_t o_shape[3], o_strides[3], o_sub[3];
    memcpy(o_shape, t->shape, sizeof o_shape);
    memcpy(o_strides, t->strides, sizeof o_strides);
    memcpy(o_sub, t->suboffsets, sizeof o_sub);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s_shape[i], o_shape[i]);
        cr_assert_eq(s_strides[i], o_strides[i]);
        cr_assert_eq(s_sub[i], o_sub[i]);
    }
    void *buf = v->buf;
    /* the exporter changes its metadata (not its memory) */
    for (int i = 0; i < 3; i++) {
        t->shape[i] = 999;
        t->strides[i] = -7777;
        t->suboffsets[i] = 12345;
    }
    strcpy(t->format, "Zd");
    v = V(m);
    cr_assert_eq(v->buf, buf);
    cr_assert_str_eq(v->format, "<i");
    cr_assert_eq(v->itemsize, 4);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(v->shape[i], s_shape[i]);
        cr_assert_eq(v->strides[i], s_strides[i]);
        cr_assert_eq(v->suboffsets[i], s_sub[i]);
    }
    /* derived views still describe the original layout */
    ptrdiff_t oshape[3] = {2, 3, 4};
    orig.shape = oshape;
    orig.strides = o_strides;
    orig.suboffsets = o_sub;
    orig.format = "<i";
    slice_map id = {{0, 0, 1}, {1, 1, 1}, 3};
    xbuf_slice sl[3] = {{NONE, NONE, 1}, {NONE, NONE, 1}, {1, NONE, 1}};
    xbuf_mview *s = slice_checked(m, sl, 3);
    check_map(V(s), &orig, map_slice, &id, "slice after the exporter changed its metadata");
    xbuf_mview_unref(s);
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

/* ==== xbuf_slice_resolve =================================================== */

typedef struct resolve_case {
    ptrdiff_t start, stop, step, extent;
    ptrdiff_t want_start, want_stop, want_length;
} resolve_case;

/* (start, stop, step, extent) -> slice(start, stop, step).indices(extent)
 * and len(range(*indices)), computed with Python 3; PMAX is sys.maxsize. */
static const resolve_case RESOLVE_CASES[] = {
    {NONE, NONE, 1, 0, 0, 0, 0},
    {NONE, NONE, -1, 0, -1, -1, 0},
    {NONE, NONE, 2, 0, 0, 0, 0},
    {NONE, NONE, -2, 0, -1, -1, 0},
    {NONE, NONE, 3, 0, 0, 0, 0},
    {NONE, NONE, -3, 0, -1, -1, 0},
    {NONE, NONE, 11, 0, 0, 0, 0},
    {NONE, NONE, -11, 0, -1, -1, 0},
    {0, 10, 1, 0, 0, 0, 0},
    {2, 8, 3, 0, 0, 0, 0},
    {8, 2, -3, 0, -1, -1, 0},
    {2, 8, -1, 0, -1, -1, 0},
    {8, 2, 1, 0, 0, 0, 0},
    {-3, NONE, 1, 0, 0, 0, 0},
    {-3, NONE, -2, 0, -1, -1, 0},
    {NONE, -3, -2, 0, -1, -1, 0},
    {NONE, -3, 2, 0, 0, 0, 0},
    {-1, NONE, -1, 0, -1, -1, 0},
    {-11, NONE, 1, 0, 0, 0, 0},
    {-11, NONE, -1, 0, -1, -1, 0},
    {-100, 100, 1, 0, 0, 0, 0},
    {100, -100, -1, 0, -1, -1, 0},
    {11, NONE, -1, 0, -1, -1, 0},
    {11, NONE, 1, 0, 0, 0, 0},
    {10, NONE, -1, 0, -1, -1, 0},
    {10, NONE, 1, 0, 0, 0, 0},
    {9, NONE, -4, 0, -1, -1, 0},
    {NONE, 0, -1, 0, -1, -1, 0},
    {NONE, -11, -1, 0, -1, -1, 0},
    {NONE, -10, -1, 0, -1, -1, 0},
    {-10, -11, -1, 0, -1, -1, 0},
    {3, 3, 1, 0, 0, 0, 0},
    {3, 3, -1, 0, -1, -1, 0},
    {5, 4, 1, 0, 0, 0, 0},
    {4, 5, -1, 0, -1, -1, 0},
    {(-PMAX), PMAX, 1, 0, 0, 0, 0},
    {PMAX, (-PMAX), -1, 0, -1, -1, 0},
    {PMAX, NONE, -1, 0, -1, -1, 0},
    {(-PMAX), NONE, -1, 0, -1, -1, 0},
    {NONE, NONE, PMAX, 0, 0, 0, 0},
    {NONE, NONE, (-PMAX), 0, -1, -1, 0},
    {1, NONE, PMAX, 0, 0, 0, 0},
    {-2, NONE, (-PMAX), 0, -1, -1, 0},
    {PMAX, PMAX, 1, 0, 0, 0, 0},
    {(-PMAX), (-PMAX), -1, 0, -1, -1, 0},
    {0, PMAX, PMAX, 0, 0, 0, 0},
    {NONE, (-PMAX), 2, 0, 0, 0, 0},
    {NONE, NONE, 1, 1, 0, 1, 1},
    {NONE, NONE, -1, 1, 0, -1, 1},
    {NONE, NONE, 2, 1, 0, 1, 1},
    {NONE, NONE, -2, 1, 0, -1, 1},
    {NONE, NONE, 3, 1, 0, 1, 1},
    {NONE, NONE, -3, 1, 0, -1, 1},
    {NONE, NONE, 11, 1, 0, 1, 1},
    {NONE, NONE, -11, 1, 0, -1, 1},
    {0, 10, 1, 1, 0, 1, 1},
    {2, 8, 3, 1, 1, 1, 0},
    {8, 2, -3, 1, 0, 0, 0},
    {2, 8, -1, 1, 0, 0, 0},
    {8, 2, 1, 1, 1, 1, 0},
    {-3, NONE, 1, 1, 0, 1, 1},
    {-3, NONE, -2, 1, -1, -1, 0},
    {NONE, -3, -2, 1, 0, -1, 1},
    {NONE, -3, 2, 1, 0, 0, 0},
    {-1, NONE, -1, 1, 0, -1, 1},
    {-11, NONE, 1, 1, 0, 1, 1},
    {-11, NONE, -1, 1, -1, -1, 0},
    {-100, 100, 1, 1, 0, 1, 1},
    {100, -100, -1, 1, 0, -1, 1},
    {11, NONE, -1, 1, 0, -1, 1},
    {11, NONE, 1, 1, 1, 1, 0},
    {10, NONE, -1, 1, 0, -1, 1},
    {10, NONE, 1, 1, 1, 1, 0},
    {9, NONE, -4, 1, 0, -1, 1},
    {NONE, 0, -1, 1, 0, 0, 0},
    {NONE, -11, -1, 1, 0, -1, 1},
    {NONE, -10, -1, 1, 0, -1, 1},
    {-10, -11, -1, 1, -1, -1, 0},
    {3, 3, 1, 1, 1, 1, 0},
    {3, 3, -1, 1, 0, 0, 0},
    {5, 4, 1, 1, 1, 1, 0},
    {4, 5, -1, 1, 0, 0, 0},
    {(-PMAX), PMAX, 1, 1, 0, 1, 1},
    {PMAX, (-PMAX), -1, 1, 0, -1, 1},
    {PMAX, NONE, -1, 1, 0, -1, 1},
    {(-PMAX), NONE, -1, 1, -1, -1, 0},
    {NONE, NONE, PMAX, 1, 0, 1, 1},
    {NONE, NONE, (-PMAX), 1, 0, -1, 1},
    {1, NONE, PMAX, 1, 1, 1, 0},
    {-2, NONE, (-PMAX), 1, -1, -1, 0},
    {PMAX, PMAX, 1, 1, 1, 1, 0},
    {(-PMAX), (-PMAX), -1, 1, -1, -1, 0},
    {0, PMAX, PMAX, 1, 0, 1, 1},
    {NONE, (-PMAX), 2, 1, 0, 0, 0},
    {NONE, NONE, 1, 10, 0, 10, 10},
    {NONE, NONE, -1, 10, 9, -1, 10},
    {NONE, NONE, 2, 10, 0, 10, 5},
    {NONE, NONE, -2, 10, 9, -1, 5},
    {NONE, NONE, 3, 10, 0, 10, 4},
    {NONE, NONE, -3, 10, 9, -1, 4},
    {NONE, NONE, 11, 10, 0, 10, 1},
    {NONE, NONE, -11, 10, 9, -1, 1},
    {0, 10, 1, 10, 0, 10, 10},
    {2, 8, 3, 10, 2, 8, 2},
    {8, 2, -3, 10, 8, 2, 2},
    {2, 8, -1, 10, 2, 8, 0},
    {8, 2, 1, 10, 8, 2, 0},
    {-3, NONE, 1, 10, 7, 10, 3},
    {-3, NONE, -2, 10, 7, -1, 4},
    {NONE, -3, -2, 10, 9, 7, 1},
    {NONE, -3, 2, 10, 0, 7, 4},
    {-1, NONE, -1, 10, 9, -1, 10},
    {-11, NONE, 1, 10, 0, 10, 10},
    {-11, NONE, -1, 10, -1, -1, 0},
    {-100, 100, 1, 10, 0, 10, 10},
    {100, -100, -1, 10, 9, -1, 10},
    {11, NONE, -1, 10, 9, -1, 10},
    {11, NONE, 1, 10, 10, 10, 0},
    {10, NONE, -1, 10, 9, -1, 10},
    {10, NONE, 1, 10, 10, 10, 0},
    {9, NONE, -4, 10, 9, -1, 3},
    {NONE, 0, -1, 10, 9, 0, 9},
    {NONE, -11, -1, 10, 9, -1, 10},
    {NONE, -10, -1, 10, 9, 0, 9},
    {-10, -11, -1, 10, 0, -1, 1},
    {3, 3, 1, 10, 3, 3, 0},
    {3, 3, -1, 10, 3, 3, 0},
    {5, 4, 1, 10, 5, 4, 0},
    {4, 5, -1, 10, 4, 5, 0},
    {(-PMAX), PMAX, 1, 10, 0, 10, 10},
    {PMAX, (-PMAX), -1, 10, 9, -1, 10},
    {PMAX, NONE, -1, 10, 9, -1, 10},
    {(-PMAX), NONE, -1, 10, -1, -1, 0},
    {NONE, NONE, PMAX, 10, 0, 10, 1},
    {NONE, NONE, (-PMAX), 10, 9, -1, 1},
    {1, NONE, PMAX, 10, 1, 10, 1},
    {-2, NONE, (-PMAX), 10, 8, -1, 1},
    {PMAX, PMAX, 1, 10, 10, 10, 0},
    {(-PMAX), (-PMAX), -1, 10, -1, -1, 0},
    {0, PMAX, PMAX, 10, 0, 10, 1},
    {NONE, (-PMAX), 2, 10, 0, 0, 0},
    {NONE, NONE, 1, 5, 0, 5, 5},
    {NONE, NONE, -1, 5, 4, -1, 5},
    {1, -1, 2, 5, 1, 4, 2},
    {-1, 0, -2, 5, 4, 0, 2},
    {NONE, NONE, 4, 5, 0, 5, 2},
    {NONE, NONE, -4, 5, 4, -1, 2},
    {4, NONE, -4, 5, 4, -1, 2},
    {-6, 6, 2, 5, 0, 5, 3},
    {6, -8, -3, 5, 4, -1, 2},
    {NONE, NONE, 1, 7, 0, 7, 7},
    {NONE, NONE, -1, 7, 6, -1, 7},
    {1, -1, 2, 7, 1, 6, 3},
    {-1, 0, -2, 7, 6, 0, 3},
    {NONE, NONE, 4, 7, 0, 7, 2},
    {NONE, NONE, -4, 7, 6, -1, 2},
    {4, NONE, -4, 7, 4, -1, 2},
    {-6, 6, 2, 7, 1, 6, 3},
    {6, -8, -3, 7, 6, -1, 3},
};

TEST(slice_resolve_table)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    for (int i = 0; i < COUNT(RESOLVE_CASES); i++) {
        const resolve_case *c = &RESOLVE_CASES[i];
        xbuf_slice s = {c->start, c->stop, c->step};
        ptrdiff_t start = -42, stop = -42, length = -42;
        MUST(xbuf_slice_resolve(&s, c->extent, &start, &stop, &length, &err));
        cr_assert(start == c->want_start && stop == c->want_stop && length == c->want_length,
                  "case %d: slice(%td, %td, %td) on %td gave (%td, %td) length %td, Python "
                  "says (%td, %td) length %td",
                  i, c->start, c->stop, c->step, c->extent, start, stop, length, c->want_start,
                  c->want_stop, c->want_length);
        /* the oracle agrees with Python too */
        ptrdiff_t rs, re, rl = ref_adjust(s, c->extent, &rs, &re);
        cr_assert(rs == c->want_start && re == c->want_stop && rl == c->want_length,
                  "oracle disagrees with Python on case %d", i);
    }
    finish();
}

TEST(slice_resolve_grid)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const ptrdiff_t ends[] = {NONE, PTRDIFF_MIN + 1, -PMAX / 2, -14, -13, -12, -7, -6, -1,
                              0, 1, 5, 6, 7, 12, 13, 14, PMAX / 2, PMAX};
    const ptrdiff_t steps[] = {1, 2, 3, 5, 12, 13, PMAX, -1, -2, -3, -5, -12, -13, -PMAX};
    for (ptrdiff_t extent = 0; extent <= 13; extent++)
        for (int a = 0; a < COUNT(ends); a++)
            for (int b = 0; b < COUNT(ends); b++)
                for (int c = 0; c < COUNT(steps); c++) {
                    xbuf_slice s = {ends[a], ends[b], steps[c]};
                    ptrdiff_t start, stop, length, rs, re;
                    MUST(xbuf_slice_resolve(&s, extent, &start, &stop, &length, &err));
                    ptrdiff_t rl = ref_adjust(s, extent, &rs, &re);
                    if (start != rs || stop != re || length != rl)
                        cr_assert_fail("slice(%td, %td, %td) on %td: got (%td, %td, len %td), "
                                       "expected (%td, %td, len %td)",
                                       s.start, s.stop, s.step, extent, start, stop, length,
                                       rs, re, rl);
                }
    finish();
}

TEST(slice_resolve_errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_slice s = {0, 5, 0};
    ptrdiff_t a = 7, b = 7, n = 7;
    FAILS(xbuf_slice_resolve(&s, 10, &a, &b, &n, &err), XBUF_EINVAL);
    s.step = 1;
    FAILS(xbuf_slice_resolve(NULL, 10, &a, &b, &n, &err), XBUF_EINVAL);
    FAILS(xbuf_slice_resolve(&s, 10, NULL, &b, &n, &err), XBUF_EINVAL);
    FAILS(xbuf_slice_resolve(&s, 10, &a, NULL, &n, &err), XBUF_EINVAL);
    FAILS(xbuf_slice_resolve(&s, 10, &a, &b, NULL, &err), XBUF_EINVAL);
    FAILS(xbuf_slice_resolve(&s, -1, &a, &b, &n, &err), XBUF_EINVAL);
    /* step PTRDIFF_MIN cannot be negated: refused, or read as -PTRDIFF_MAX
     * (as PySlice_Unpack clamps it) -- never a wrong length */
    xbuf_slice m = {NONE, NONE, PTRDIFF_MIN};
    xbuf_error_clear(&err);
    int rc = xbuf_slice_resolve(&m, 10, &a, &b, &n, &err);
    cr_assert(rc == XBUF_EINVAL || (rc == XBUF_OK && a == 9 && b == -1 && n == 1),
              "step PTRDIFF_MIN: rc %d, (%td, %td, %td)", rc, a, b, n);
    finish();
}

/* ==== slicing ============================================================== */

enum layout_kind {
    L_C,
    L_F,
    L_STRIDED,  /* gaps between items and rows */
    L_NEGATIVE, /* alternate dimensions run backwards */
    L_PIL_FIRST, /* indirect dimension 0, suboffset 8 */
    L_PIL_SECOND, /* indirect dimension 1 (for ndim 2: the last one), suboffset 0 */
    L_PIL_TWO,   /* indirect dimensions 0 and ndim-1, suboffsets 16 and 4 */
    L_COUNT
};

static const char *const LAYOUT_NAMES[L_COUNT] = {"C", "F", "strided", "negative",
                                                  "pil-first", "pil-second", "pil-two"};

static texp *make_layout(int kind, int ndim, const ptrdiff_t *shape)
{
    ptrdiff_t strides[XBUF_MAX_NDIM], sub[XBUF_MAX_NDIM];
    for (int i = 0; i < ndim; i++)
        sub[i] = -1;
    switch (kind) {
    case L_C:
        return make_c("i", 4, ndim, shape);
    case L_F:
        return make_f("h", 2, ndim, shape);
    case L_STRIDED: {
        ptrdiff_t s = 16; /* items of 8 bytes, every other one; rows padded */
        for (int i = ndim - 1; i >= 0; i--) {
            strides[i] = s;
            s *= shape[i] + 1;
        }
        return make_strided("d", 8, ndim, shape, strides);
    }
    case L_NEGATIVE:
        c_strides(ndim, shape, 1, strides);
        for (int i = 0; i < ndim; i += 2)
            strides[i] = -strides[i];
        return make_strided("B", 1, ndim, shape, strides);
    case L_PIL_FIRST:
        sub[0] = 8;
        return make_pil("i", 4, ndim, shape, sub);
    case L_PIL_SECOND:
        sub[ndim > 1 ? 1 : 0] = 0;
        return make_pil("i", 4, ndim, shape, sub);
    case L_PIL_TWO:
        sub[0] = 16;
        sub[ndim - 1] = 4;
        return make_pil("h", 2, ndim, shape, sub);
    }
    return NULL;
}

static const xbuf_slice SLICES[] = {
    {NONE, NONE, 1}, {NONE, NONE, -1}, {1, NONE, 2},    {-1, NONE, -2},
    {NONE, NONE, -3}, {2, 1, 1},       {1, -1, 1},      {-2, 0, -1},
    {100, -100, -7}, {0, 1, 1},        {-100, 100, 3},
};
#define N_SLICES COUNT(SLICES)

/* Every combination of SLICES over the first `count` dimensions, for every
 * count; every 5th result is sliced once more. */
static void slice_all_combinations(xbuf_mview *m, int ndim)
{
    for (int count = 1; count <= ndim; count++) {
        int combos = 1;
        for (int i = 0; i < count; i++)
            combos *= N_SLICES;
        for (int c = 0; c < combos; c++) {
            xbuf_slice sl[3];
            for (int i = 0, r = c; i < count; i++, r /= N_SLICES)
                sl[i] = SLICES[r % N_SLICES];
            xbuf_mview *s = slice_checked(m, sl, count);
            if (c % 5 == 0) {
                xbuf_slice again[3] = {{-1, NONE, -2}, {NONE, NONE, -1}, {1, NONE, 1}};
                xbuf_mview *s2 = slice_checked(s, again, ndim);
                xbuf_mview_unref(s2);
            }
            xbuf_mview_unref(s);
        }
    }
}

static void slice_layouts(int ndim, const ptrdiff_t *shape)
{
    for (int kind = 0; kind < L_COUNT; kind++) {
        if (kind == L_PIL_TWO && ndim < 2)
            continue;
        texp *t = make_layout(kind, ndim, shape);
        xbuf_mview *m = open_texp(t);
        slice_all_combinations(m, ndim);
        cr_assert_eq(xbuf_exports_count(&t->exports), 1, "%s", LAYOUT_NAMES[kind]);
        xbuf_mview_unref(m);
        cr_assert_eq(xbuf_exports_count(&t->exports), 0, "%s", LAYOUT_NAMES[kind]);
        texp_free(t);
    }
}

TEST(slice_1d_every_layout)
{
    ptrdiff_t shapes[3][1] = {{7}, {1}, {0}};
    for (int i = 0; i < 3; i++)
        slice_layouts(1, shapes[i]);
    finish();
}

TEST(slice_2d_every_layout)
{
    ptrdiff_t shapes[3][2] = {{4, 5}, {3, 0}, {1, 6}};
    for (int i = 0; i < 3; i++)
        slice_layouts(2, shapes[i]);
    finish();
}

TEST(slice_3d_every_layout)
{
    ptrdiff_t shape[3] = {3, 4, 5};
    slice_layouts(3, shape);
    finish();
}

TEST(slice_3d_exact_values)
{
    /* (4,5,6) ints numbered in C order: [::-2, 1:4, ::-3] by hand */
    ptrdiff_t shape[3] = {4, 5, 6};
    texp *t = make_c("i", 4, 3, shape);
    int32_t *x = t->buf;
    for (int k = 0; k < 120; k++)
        x[k] = k;
    xbuf_mview *m = open_texp(t);
    xbuf_slice sl[3] = {{NONE, NONE, -2}, {1, 4, 1}, {NONE, NONE, -3}};
    xbuf_mview *s = slice_checked(m, sl, 3);
    const xbuf_view *v = V(s);
    cr_assert_eq(v->shape[0], 2);
    cr_assert_eq(v->shape[1], 3);
    cr_assert_eq(v->shape[2], 2);
    cr_assert_eq(v->strides[0], -2 * 120);
    cr_assert_eq(v->strides[1], 24);
    cr_assert_eq(v->strides[2], -12);
    const int i0[2] = {3, 1}, i2[2] = {5, 2};
    ptrdiff_t idx[3];
    for (idx[0] = 0; idx[0] < 2; idx[0]++)
        for (idx[1] = 0; idx[1] < 3; idx[1]++)
            for (idx[2] = 0; idx[2] < 2; idx[2]++) {
                int32_t got;
                memcpy(&got, ref_ptr(v, idx), sizeof got);
                int want = i0[idx[0]] * 30 + (int)(1 + idx[1]) * 6 + i2[idx[2]];
                cr_assert_eq(got, want);
            }
    xbuf_mview_unref(s);
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

/* Pixel values that say where they are: band * 100 + y * 10 + x. */
static image *make_image(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width, int readonly)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    image *img = NULL;
    MUST(image_create(bands, height, width, readonly, &img, &err));
    for (ptrdiff_t b = 0; b < bands; b++)
        for (ptrdiff_t y = 0; y < height; y++)
            for (ptrdiff_t x = 0; x < width; x++)
                *image_pixel(img, b, y, x) = (unsigned char)(b * 100 + y * 10 + x);
    return img;
}

TEST(slice_image_moves_buf_or_suboffset)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    image *img = make_image(2, 3, 5, 0);
    xbuf_mview *m = open_mview(&img->exporter, XBUF_FULL_RO);
    const xbuf_view *v = V(m);
    cr_assert_not_null(v->suboffsets);
    cr_assert_eq(v->suboffsets[1], 0);

    /* after the indirect dimension: its suboffset moves, buf stays */
    xbuf_slice cols[3] = {{NONE, NONE, 1}, {NONE, NONE, 1}, {2, NONE, 1}};
    xbuf_mview *s = slice_checked(m, cols, 3);
    const xbuf_view *sv = V(s);
    cr_assert_eq(sv->buf, v->buf);
    cr_assert_eq(sv->suboffsets[1], 2);
    cr_assert_eq(sv->suboffsets[0], -1);
    cr_assert_eq(sv->suboffsets[2], -1);
    cr_assert_eq(sv->shape[2], 3);
    for (ptrdiff_t b = 0; b < 2; b++)
        for (ptrdiff_t y = 0; y < 3; y++)
            for (ptrdiff_t x = 0; x < 3; x++) {
                ptrdiff_t idx[3] = {b, y, x};
                cr_assert_eq((unsigned char *)ref_ptr(sv, idx), image_pixel(img, b, y, x + 2));
            }
    /* backwards along a row: suboffset at the last column, stride -1 */
    xbuf_slice back[3] = {{NONE, NONE, 1}, {NONE, NONE, 1}, {NONE, NONE, -1}};
    xbuf_mview *r = slice_checked(m, back, 3);
    cr_assert_eq(V(r)->buf, v->buf);
    cr_assert_eq(V(r)->suboffsets[1], 4);
    cr_assert_eq(V(r)->strides[2], -1);
    /* a slice of the slice: the suboffsets add up */
    xbuf_slice more[3] = {{NONE, NONE, 1}, {NONE, NONE, 1}, {1, NONE, 2}};
    xbuf_mview *rr = slice_checked(r, more, 3);
    cr_assert_eq(V(rr)->suboffsets[1], 3);
    for (ptrdiff_t x = 0; x < 2; x++) {
        ptrdiff_t idx[3] = {1, 2, x};
        cr_assert_eq((unsigned char *)ref_ptr(V(rr), idx), image_pixel(img, 1, 2, 3 - 2 * x));
    }

    /* the indirect dimension itself: buf steps through the row table */
    xbuf_slice rows[2] = {{NONE, NONE, 1}, {1, NONE, 1}};
    xbuf_mview *s1 = slice_checked(m, rows, 2);
    cr_assert_eq(V(s1)->buf, (char *)v->buf + PSZ);
    cr_assert_eq(V(s1)->suboffsets[1], 0);
    /* before it: buf moves by the band stride */
    xbuf_slice bands[1] = {{-1, NONE, -1}};
    xbuf_mview *s0 = slice_checked(m, bands, 1);
    cr_assert_eq(V(s0)->buf, (char *)v->buf + v->strides[0]);
    cr_assert_eq(V(s0)->strides[0], -v->strides[0]);
    ptrdiff_t idx[3] = {1, 2, 4};
    cr_assert_eq((unsigned char *)ref_ptr(V(s0), idx), image_pixel(img, 0, 2, 4));
    cr_assert_eq(*(unsigned char *)ref_ptr(V(s0), idx), 24);

    cr_assert_eq(xbuf_exports_count(&img->exports), 1);
    xbuf_mview *all[6] = {s, r, rr, s1, s0, m};
    for (int i = 0; i < 6; i++)
        xbuf_mview_unref(all[i]);
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    MUST(image_destroy(img, &err));
    finish();
}

TEST(slice_of_no_dimensions_is_the_same_layout)
{
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_layout(L_NEGATIVE, 2, shape);
    xbuf_mview *m = open_texp(t);
    xbuf_mview *s = slice_checked(m, NULL, 0);
    cr_assert_eq(V(s)->buf, V(m)->buf);
    xbuf_mview_unref(s);
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

TEST(slice_errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c("i", 4, 2, shape);
    xbuf_mview *m = open_texp(t), *out;
    xbuf_slice zero_first[2] = {{NONE, NONE, 0}, {NONE, NONE, 1}};
    xbuf_slice zero_second[2] = {{NONE, NONE, 1}, {1, 2, 0}};
    xbuf_slice ok[3] = {{NONE, NONE, 1}, {NONE, NONE, 1}, {NONE, NONE, 1}};
    DERIVE_FAILS(xbuf_mview_slice(m, zero_first, 2, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_slice(m, zero_second, 2, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_slice(m, ok, 3, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_slice(m, ok, -1, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_slice(m, NULL, 1, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_slice(NULL, ok, 1, &out, &err), out, XBUF_EINVAL);
    FAILS(xbuf_mview_slice(m, ok, 1, NULL, &err), XBUF_EINVAL);
    /* 0-d: nothing to slice */
    texp *t0 = make_c("i", 4, 0, NULL);
    xbuf_mview *m0 = open_texp(t0);
    DERIVE_FAILS(xbuf_mview_slice(m0, ok, 1, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_slice(m0, ok, 0, &out, &err), out, XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    xbuf_mview_unref(m);
    xbuf_mview_unref(m0);
    texp_free(t);
    texp_free(t0);
    finish();
}

/* ==== index and pointer ==================================================== */

TEST(index_every_dim_every_layout)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[3] = {3, 4, 5};
    for (int kind = 0; kind < L_COUNT; kind++) {
        texp *t = make_layout(kind, 3, shape);
        xbuf_mview *m = open_texp(t), *out;
        const xbuf_view *v = V(m);
        for (int dim = 0; dim < 3; dim++) {
            /* every dimension can be indexed; an indirect one after the first
             * gets a new pointer table (checked against the oracle too) */
            bool refused = false;
            (void)v;
            for (ptrdiff_t i = -shape[dim]; i < shape[dim]; i++) {
                if (refused) {
                    DERIVE_FAILS(xbuf_mview_index(m, dim, i, &out, &err), out,
                                 XBUF_EUNSUPPORTED);
                    continue;
                }
                xbuf_mview *x = index_checked(m, dim, i);
                /* and a second index on the result */
                const xbuf_view *xv = V(x);
                bool second_refused = false;
                (void)xv;
                if (second_refused) {
                    DERIVE_FAILS(xbuf_mview_index(x, 1, -1, &out, &err), out,
                                 XBUF_EUNSUPPORTED);
                } else {
                    xbuf_mview *y = index_checked(x, 1, -1);
                    xbuf_mview_unref(y);
                }
                xbuf_mview_unref(x);
            }
            if (!refused) {
                DERIVE_FAILS(xbuf_mview_index(m, dim, shape[dim], &out, &err), out,
                             XBUF_ERANGE);
                DERIVE_FAILS(xbuf_mview_index(m, dim, -shape[dim] - 1, &out, &err), out,
                             XBUF_ERANGE);
            }
        }
        DERIVE_FAILS(xbuf_mview_index(m, 3, 0, &out, &err), out, XBUF_EINVAL);
        DERIVE_FAILS(xbuf_mview_index(m, -1, 0, &out, &err), out, XBUF_EINVAL);
        cr_assert_eq(xbuf_exports_count(&t->exports), 1);
        xbuf_mview_unref(m);
        texp_free(t);
    }
    finish();
}

TEST(index_out_of_range_messages)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c("i", 4, 2, shape);
    xbuf_mview *m = open_texp(t), *out;
    DERIVE_FAILS(xbuf_mview_index(m, 1, 4, &out, &err), out, XBUF_ERANGE);
    DERIVE_FAILS(xbuf_mview_index(m, 1, -5, &out, &err), out, XBUF_ERANGE);
    DERIVE_FAILS(xbuf_mview_index(m, 0, PMAX, &out, &err), out, XBUF_ERANGE);
    DERIVE_FAILS(xbuf_mview_index(m, 0, PTRDIFF_MIN, &out, &err), out, XBUF_ERANGE);
    DERIVE_FAILS(xbuf_mview_index(NULL, 0, 0, &out, &err), out, XBUF_EINVAL);
    FAILS(xbuf_mview_index(m, 0, 0, NULL, &err), XBUF_EINVAL);
    /* down to 0-d: one item, which pointer and the iterator reach */
    xbuf_mview *row = index_checked(m, 0, 2);
    xbuf_mview *item = index_checked(row, 0, -1);
    const xbuf_view *iv = V(item);
    cr_assert_eq(iv->ndim, 0);
    cr_assert_eq(iv->len, 4);
    ptrdiff_t idx[2] = {2, 3};
    xbuf_view orig;
    texp_full_view(t, &orig);
    cr_assert_eq(iv->buf, ref_ptr(&orig, idx));
    void *p = NULL;
    MUST(xbuf_mview_pointer(item, NULL, &p, &err));
    cr_assert_eq(p, iv->buf);
    check_iter(item);
    DERIVE_FAILS(xbuf_mview_index(item, 0, 0, &out, &err), out, XBUF_EINVAL);
    xbuf_mview_unref(item);
    xbuf_mview_unref(row);
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

TEST(index_image)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    image *img = make_image(3, 4, 5, 1);
    xbuf_mview *m = open_mview(&img->exporter, XBUF_FULL_RO), *out;
    /* the rows dimension is indirect and not the first: indexing it builds
     * a table of the chosen row of every band */
    for (ptrdiff_t y = -4; y < 4; y++) {
        xbuf_mview *rows = index_checked(m, 1, y);
        const xbuf_view *rv = V(rows);
        ptrdiff_t yy = y < 0 ? y + 4 : y;
        cr_assert_eq(rv->ndim, 2);
        for (ptrdiff_t b = 0; b < 3; b++)
            for (ptrdiff_t x = 0; x < 5; x++) {
                ptrdiff_t idx[2] = {b, x};
                cr_assert_eq((unsigned char *)ref_ptr(rv, idx), image_pixel(img, b, yy, x));
            }
        xbuf_mview_unref(rows);
    }
    (void)out;
    /* a band: (rows, columns), rows now first and indirect */
    xbuf_mview *band = index_checked(m, 0, -2);
    const xbuf_view *bv = V(band);
    cr_assert_eq(bv->ndim, 2);
    cr_assert_not_null(bv->suboffsets);
    cr_assert_eq(bv->suboffsets[0], 0);
    for (ptrdiff_t y = 0; y < 4; y++)
        for (ptrdiff_t x = 0; x < 5; x++) {
            ptrdiff_t idx[2] = {y, x};
            cr_assert_eq((unsigned char *)ref_ptr(bv, idx), image_pixel(img, 1, y, x));
        }
    /* a row of the band: a plain direct 1-d view */
    for (ptrdiff_t y = -4; y < 4; y++) {
        xbuf_mview *row = index_checked(band, 0, y);
        const xbuf_view *rv = V(row);
        ptrdiff_t yy = y < 0 ? y + 4 : y;
        cr_assert_eq(rv->ndim, 1);
        cr_assert_eq(rv->shape[0], 5);
        cr_assert_eq(rv->strides[0], 1);
        cr_assert_null(rv->suboffsets, "a row of an image has no indirection left");
        cr_assert_eq(rv->buf, (void *)image_pixel(img, 1, yy, 0));
        cr_assert(xbuf_view_is_contiguous(rv, 'C'));
        cr_assert_eq(*(unsigned char *)rv->buf, 100 + yy * 10);
        xbuf_mview *px = index_checked(row, 0, -1);
        cr_assert_eq(V(px)->buf, (void *)image_pixel(img, 1, yy, 4));
        xbuf_mview_unref(px);
        xbuf_mview_unref(row);
    }
    /* a column across every band and row: the suboffset of rows moves */
    xbuf_mview *col = index_checked(m, 2, 3);
    const xbuf_view *cv = V(col);
    for (ptrdiff_t b = 0; b < 3; b++)
        for (ptrdiff_t y = 0; y < 4; y++) {
            ptrdiff_t idx[2] = {b, y};
            cr_assert_eq((unsigned char *)ref_ptr(cv, idx), image_pixel(img, b, y, 3));
        }
    /* rows of a column are still an indirect dimension after the first */
    xbuf_mview *cell = index_checked(col, 1, -1);
    ptrdiff_t band_index[1] = {2};
    cr_assert_eq((unsigned char *)ref_ptr(V(cell), band_index), image_pixel(img, 2, 3, 3));
    xbuf_mview_unref(cell);
    cr_assert_eq(xbuf_exports_count(&img->exports), 1);
    xbuf_mview_unref(col);
    xbuf_mview_unref(band);
    xbuf_mview_unref(m);
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    MUST(image_destroy(img, &err));
    finish();
}

TEST(pointer_every_layout)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[3] = {2, 3, 4};
    for (int kind = 0; kind < L_COUNT; kind++) {
        texp *t = make_layout(kind, 3, shape);
        xbuf_mview *m = open_texp(t);
        xbuf_view orig;
        texp_full_view(t, &orig);
        ptrdiff_t idx[3];
        for (idx[0] = -2; idx[0] < 2; idx[0]++)
            for (idx[1] = -3; idx[1] < 3; idx[1]++)
                for (idx[2] = -4; idx[2] < 4; idx[2]++) {
                    ptrdiff_t w[3];
                    for (int i = 0; i < 3; i++)
                        w[i] = idx[i] < 0 ? idx[i] + shape[i] : idx[i];
                    void *p = NULL;
                    MUST(xbuf_mview_pointer(m, idx, &p, &err));
                    cr_assert_eq(p, ref_ptr(&orig, w), "%s: pointer(%td,%td,%td)",
                                 LAYOUT_NAMES[kind], idx[0], idx[1], idx[2]);
                }
        for (int d = 0; d < 3; d++) {
            ptrdiff_t bad[3] = {0, 0, 0};
            void *p = &err;
            bad[d] = shape[d];
            FAILS(xbuf_mview_pointer(m, bad, &p, &err), XBUF_ERANGE);
            bad[d] = -shape[d] - 1;
            FAILS(xbuf_mview_pointer(m, bad, &p, &err), XBUF_ERANGE);
        }
        void *p;
        ptrdiff_t zero[3] = {0, 0, 0};
        FAILS(xbuf_mview_pointer(m, NULL, &p, &err), XBUF_EINVAL);
        FAILS(xbuf_mview_pointer(m, zero, NULL, &err), XBUF_EINVAL);
        FAILS(xbuf_mview_pointer(NULL, zero, &p, &err), XBUF_EINVAL);
        xbuf_mview_unref(m);
        texp_free(t);
    }
    /* on the image: exactly image_pixel */
    image *img = make_image(2, 3, 4, 0);
    xbuf_mview *m = open_mview(&img->exporter, XBUF_FULL);
    ptrdiff_t idx[3] = {-1, -3, 2};
    void *p = NULL;
    MUST(xbuf_mview_pointer(m, idx, &p, &err));
    cr_assert_eq(p, (void *)image_pixel(img, 1, 0, 2));
    xbuf_mview_unref(m);
    MUST(image_destroy(img, &err));
    finish();
}

/* ==== permute and transpose ================================================ */

TEST(permute_every_permutation)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    ptrdiff_t shape[3] = {2, 3, 4};
    for (int kind = L_C; kind <= L_NEGATIVE; kind++) {
        texp *t = make_layout(kind, 3, shape);
        xbuf_mview *m = open_texp(t);
        for (int p = 0; p < 6; p++) {
            xbuf_mview *x = permute_checked(m, perms[p]);
            /* the inverse permutation gives the original layout back */
            int inverse[3];
            for (int i = 0; i < 3; i++)
                inverse[perms[p][i]] = i;
            xbuf_mview *y = permute_checked(x, inverse);
            const xbuf_view *yv = V(y), *mv = V(m);
            for (int i = 0; i < 3; i++) {
                cr_assert_eq(yv->shape[i], mv->shape[i]);
                cr_assert_eq(yv->strides[i], mv->strides[i]);
            }
            cr_assert_eq(yv->buf, mv->buf);
            xbuf_mview_unref(y);
            xbuf_mview_unref(x);
        }
        /* transpose = reversed axes */
        xbuf_mview *tr = NULL;
        MUST(xbuf_mview_transpose(m, &tr, &err));
        permute_map rev = {{2, 1, 0}, 3};
        check_map(V(tr), V(m), map_permute, &rev, "transpose");
        xbuf_mview *tt = NULL;
        MUST(xbuf_mview_transpose(tr, &tt, &err));
        permute_map id = {{0, 1, 2}, 3};
        check_map(V(tt), V(m), map_permute, &id, "transpose twice");
        check_iter(tr);
        xbuf_mview_unref(tt);
        xbuf_mview_unref(tr);
        cr_assert_eq(xbuf_exports_count(&t->exports), 1);
        xbuf_mview_unref(m);
        texp_free(t);
    }
    finish();
}

TEST(permute_errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[3] = {2, 3, 4};
    texp *t = make_c("i", 4, 3, shape);
    xbuf_mview *m = open_texp(t), *out;
    const int bad[5][3] = {{0, 0, 1}, {2, 1, 2}, {0, 1, 3}, {-1, 0, 1}, {0, 1, 64}};
    for (int i = 0; i < 5; i++)
        DERIVE_FAILS(xbuf_mview_permute(m, bad[i], &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_permute(m, NULL, &out, &err), out, XBUF_EINVAL);
    int ok[3] = {0, 1, 2};
    DERIVE_FAILS(xbuf_mview_permute(NULL, ok, &out, &err), out, XBUF_EINVAL);
    FAILS(xbuf_mview_permute(m, ok, NULL, &err), XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_transpose(NULL, &out, &err), out, XBUF_EINVAL);
    xbuf_mview_unref(m);
    texp_free(t);

    /* suboffsets: the pointers must be followed in dimension order */
    image *img = make_image(2, 3, 4, 0);
    xbuf_mview *im = open_mview(&img->exporter, XBUF_FULL_RO);
    DERIVE_FAILS(xbuf_mview_permute(im, ok, &out, &err), out, XBUF_EUNSUPPORTED);
    int swap[3] = {0, 2, 1};
    DERIVE_FAILS(xbuf_mview_permute(im, swap, &out, &err), out, XBUF_EUNSUPPORTED);
    DERIVE_FAILS(xbuf_mview_transpose(im, &out, &err), out, XBUF_EUNSUPPORTED);
    /* ...but a single row of it has none left */
    xbuf_mview *band = index_checked(im, 0, 1);
    xbuf_mview *row = index_checked(band, 0, 2);
    xbuf_mview *rt = NULL;
    MUST(xbuf_mview_transpose(row, &rt, &err));
    cr_assert_eq(V(rt)->buf, (void *)image_pixel(img, 1, 2, 0));
    xbuf_mview_unref(rt);
    xbuf_mview_unref(row);
    xbuf_mview_unref(band);
    xbuf_mview_unref(im);
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    MUST(image_destroy(img, &err));
    finish();
}

/* ==== fields ================================================================ */

TEST(field_of_records)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_records(2, shape);
    xbuf_mview *m = open_texp(t);
    cr_assert_str_eq(V(m)->format, REC_FORMAT);

    xbuf_mview *a = field_checked(m, "a", 0, "b", 1, 0, NULL);
    xbuf_mview *b = field_checked(m, "b", 4, "i", 4, 0, NULL);
    ptrdiff_t sub[2] = {2, 3};
    xbuf_mview *c = field_checked(m, "c", 8, "h", 2, 2, sub);
    xbuf_mview *s = field_checked(m, "s", 24, "T{d:x:}", 8, 0, NULL);
    xbuf_mview *sx = field_checked(m, "s.x", 24, "d", 8, 0, NULL);
    xbuf_mview *sx2 = field_checked(s, "x", 0, "d", 8, 0, NULL);

    /* the values the records hold */
    const xbuf_view *cv = V(c), *bv = V(b), *av = V(a), *xv = V(sx);
    cr_assert_eq(cv->strides[2], 6);
    cr_assert_eq(cv->strides[3], 2);
    cr_assert_eq(cv->strides[0], 4 * (ptrdiff_t)sizeof(rec));
    ptrdiff_t idx[4];
    for (idx[0] = 0; idx[0] < 3; idx[0]++)
        for (idx[1] = 0; idx[1] < 4; idx[1]++) {
            ptrdiff_t k = idx[0] * 4 + idx[1];
            int8_t av8;
            int32_t bv32;
            double xd;
            memcpy(&av8, ref_ptr(av, idx), 1);
            memcpy(&bv32, ref_ptr(bv, idx), 4);
            memcpy(&xd, ref_ptr(xv, idx), 8);
            cr_assert_eq(av8, (int8_t)k);
            cr_assert_eq(bv32, 1000 + k);
            cr_assert(xd == (double)k + 0.5);
            for (idx[2] = 0; idx[2] < 2; idx[2]++)
                for (idx[3] = 0; idx[3] < 3; idx[3]++) {
                    int16_t h;
                    memcpy(&h, ref_ptr(cv, idx), 2);
                    cr_assert_eq(h, 10 * k + idx[2] * 3 + idx[3]);
                }
        }
    check_iter(c);

    /* slicing the sub-array dimensions of the field view */
    xbuf_slice sl[4] = {{NONE, NONE, 1}, {NONE, NONE, 1}, {-1, NONE, -1}, {NONE, NONE, -2}};
    xbuf_mview *cs = slice_checked(c, sl, 4);
    xbuf_mview *ci = index_checked(cs, 3, 1); /* c[..., ::-1, 0] */
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    xbuf_mview *all[9] = {a, b, c, s, sx, sx2, cs, ci, m};
    for (int i = 0; i < 9; i++)
        xbuf_mview_unref(all[i]);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(field_of_strided_and_indirect_records)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    /* a packed record under '=': no alignment, itemsize 7 */
    ptrdiff_t shape[2] = {3, 4};
    ptrdiff_t strides[2] = {-7 * 9, 14};
    texp *t = make_strided("=T{b:p:i:q:h:r:}", 7, 2, shape, strides);
    xbuf_mview *m = open_texp(t);
    xbuf_mview *q = field_checked(m, "q", 1, "<i", 4, 0, NULL);
    xbuf_mview *r = field_checked(m, "r", 5, "<h", 2, 0, NULL);
    xbuf_mview_unref(q);
    xbuf_mview_unref(r);
    xbuf_mview_unref(m);
    texp_free(t);

    /* records behind row pointers (suboffset 8 on dimension 0) and a
     * sub-array field: the field offset goes into the suboffset */
    ptrdiff_t sub[2] = {8, -1};
    texp *p = make_pil(REC_FORMAT, (ptrdiff_t)sizeof(rec), 2, shape, sub);
    xbuf_mview *pm = open_texp(p);
    ptrdiff_t cshape[2] = {2, 3};
    xbuf_mview *pc = field_checked(pm, "c", 8, "h", 2, 2, cshape);
    xbuf_mview *px = field_checked(pm, "s.x", 24, "d", 8, 0, NULL);
    check_iter(pc);
    /* a slice of the field view after the indirect dimension */
    xbuf_slice sl[3] = {{NONE, NONE, 1}, {-1, NONE, -2}, {1, NONE, 1}};
    xbuf_mview *ps = slice_checked(pc, sl, 3);
    xbuf_mview *pr = index_checked(ps, 0, 1); /* first dim indirect: allowed */
    cr_assert_eq(xbuf_exports_count(&p->exports), 1);
    xbuf_mview *all[5] = {pr, ps, px, pc, pm};
    for (int i = 0; i < 5; i++)
        xbuf_mview_unref(all[i]);
    texp_free(p);

    /* a 0-d record */
    texp *z = make_records(0, NULL);
    xbuf_mview *zm = open_texp(z);
    xbuf_mview *zc = field_checked(zm, "c", 8, "h", 2, 2, cshape);
    xbuf_mview *zb = field_checked(zm, "b", 4, "i", 4, 0, NULL);
    cr_assert_eq(V(zb)->ndim, 0);
    cr_assert_eq(*(int32_t *)V(zb)->buf, 1000);
    xbuf_mview_unref(zc);
    xbuf_mview_unref(zb);
    xbuf_mview_unref(zm);
    texp_free(z);
    finish();
}

TEST(field_errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[1] = {3};
    texp *t = make_records(1, shape);
    xbuf_mview *m = open_texp(t), *out;
    DERIVE_FAILS(xbuf_mview_field(m, "zz", &out, &err), out, XBUF_ERANGE);
    DERIVE_FAILS(xbuf_mview_field(m, "s.y", &out, &err), out, XBUF_ERANGE);
    DERIVE_FAILS(xbuf_mview_field(m, "b.x", &out, &err), out, XBUF_ETYPE);
    DERIVE_FAILS(xbuf_mview_field(m, NULL, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_field(NULL, "a", &out, &err), out, XBUF_EINVAL);
    FAILS(xbuf_mview_field(m, "a", NULL, &err), XBUF_EINVAL);
    /* a field view of a scalar field is not a record */
    xbuf_mview *b = NULL;
    MUST(xbuf_mview_field(m, "b", &b, &err));
    DERIVE_FAILS(xbuf_mview_field(b, "x", &out, &err), out, XBUF_ETYPE);
    xbuf_mview_unref(b);
    xbuf_mview_unref(m);
    texp_free(t);

    texp *i = make_c("i", 4, 1, shape);
    xbuf_mview *im = open_texp(i);
    DERIVE_FAILS(xbuf_mview_field(im, "a", &out, &err), out, XBUF_ETYPE);
    xbuf_mview_unref(im);
    texp_free(i);

    /* the exporter's format is not a format */
    texp *bad = make_c("T{i:a:", 4, 1, shape);
    xbuf_mview *bm = open_texp(bad);
    DERIVE_FAILS(xbuf_mview_field(bm, "a", &out, &err), out, XBUF_EFORMAT);
    xbuf_mview_unref(bm);
    texp_free(bad);

    /* a sub-array field that would take a 63-d view past 64 dimensions */
    ptrdiff_t big[63];
    for (int k = 0; k < 63; k++)
        big[k] = 1;
    texp *deep = make_records(63, big);
    xbuf_mview *dm = open_texp(deep);
    out = JUNK;
    xbuf_error_clear(&err);
    int rc = xbuf_mview_field(dm, "c", &out, &err);
    cr_assert_lt(rc, 0, "a 65-d field view was made");
    cr_assert_null(out);
    xbuf_mview *db = field_checked(dm, "b", 4, "i", 4, 0, NULL);
    xbuf_mview_unref(db);
    xbuf_mview_unref(dm);
    texp_free(deep);
    finish();
}

/* A record whose member struct prints to more than 256 characters (the
 * mview's stack buffer for a field's format). */
static void long_record_format(char *buf, size_t size, char *inner, size_t inner_size)
{
    size_t used = (size_t)snprintf(inner, inner_size, "T{");
    for (int i = 0; i < 12; i++)
        used += (size_t)snprintf(inner + used, inner_size - used,
                                 "i:a_rather_long_member_name_number_%02d:", i);
    snprintf(inner + used, inner_size - used, "}");
    snprintf(buf, size, "T{b:tag:%s:inner:}", inner);
}

TEST(field_formats_of_every_shape)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {2, 3};
    /* an array of structs: dims, then a field of the struct */
    texp *t = make_c("T{b:k:(2)T{i:a:h:b:}:arr:}", 20, 2, shape);
    xbuf_mview *m = open_texp(t);
    ptrdiff_t two[1] = {2};
    xbuf_mview *arr = field_checked(m, "arr", 4, "T{i:a:h:b:}", 8, 1, two);
    xbuf_mview *a = field_checked(arr, "a", 0, "i", 4, 0, NULL);
    xbuf_mview *b = field_checked(arr, "b", 4, "h", 2, 0, NULL);
    cr_assert_eq(V(a)->ndim, 3);
    cr_assert_eq(V(a)->strides[2], 8);
    xbuf_mview *all[4] = {b, a, arr, m};
    for (int i = 0; i < 4; i++)
        xbuf_mview_unref(all[i]);
    texp_free(t);

    /* a sub-array with a zero extent: a view with no items */
    texp *z = make_c("T{(2,0)i:e:i:v:}", 4, 2, shape);
    xbuf_mview *zm = open_texp(z);
    ptrdiff_t e20[2] = {2, 0};
    xbuf_mview *e = field_checked(zm, "e", 0, "i", 4, 2, e20);
    cr_assert_eq(V(e)->len, 0);
    check_iter(e);
    xbuf_mview *v = field_checked(zm, "v", 0, "i", 4, 0, NULL);
    xbuf_mview_unref(v);
    xbuf_mview_unref(e);
    xbuf_mview_unref(zm);
    texp_free(z);

    /* repeat counts are one-dimensional sub-arrays; strings are items */
    texp *r = make_c("T{3i:v:4s:name:}", 16, 2, shape);
    xbuf_mview *rm = open_texp(r);
    ptrdiff_t three[1] = {3};
    xbuf_mview *rv = field_checked(rm, "v", 0, "i", 4, 1, three);
    xbuf_mview *rn = field_checked(rm, "name", 12, "4s", 4, 0, NULL);
    xbuf_mview_unref(rv);
    xbuf_mview_unref(rn);
    xbuf_mview_unref(rm);
    texp_free(r);

    /* a member whose canonical text is longer than 256 characters */
    char format[1024], inner[900];
    long_record_format(format, sizeof format, inner, sizeof inner);
    cr_assert_gt(strlen(inner), 300);
    texp *l = make_c(format, 52, 2, shape);
    xbuf_mview *lm = open_texp(l);
    xbuf_mview *li = field_checked(lm, "inner", 4, inner, 48, 0, NULL);
    cr_assert_gt(strlen(V(li)->format), 256);
    xbuf_mview *lx = field_checked(li, "a_rather_long_member_name_number_11", 44, "i", 4, 0,
                                   NULL);
    xbuf_mview_unref(lx);
    xbuf_mview_unref(li);
    xbuf_mview_unref(lm);
    texp_free(l);
    finish();
}

TEST(field_when_itemsize_and_format_disagree)
{
    /* ctypes pads records beyond what their format says (cpython #76961):
     * views step by the declared itemsize and read fields where the format
     * places them */
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[1] = {5};
    texp *t = make_c("T{i:a:h:b:}", 12, 1, shape); /* the format says 8 */
    xbuf_mview *m = open_texp(t), *out;
    xbuf_mview *b = field_checked(m, "b", 4, "h", 2, 0, NULL);
    cr_assert_eq(V(b)->strides[0], 12);
    xbuf_mview_unref(b);
    xbuf_mview_unref(m);
    texp_free(t);
    /* an itemsize smaller than the format: fields inside it still work,
     * a field beyond it is refused */
    texp *s6 = make_c("T{i:a:h:b:i:c:}", 6, 1, shape);
    xbuf_mview *m6 = open_texp(s6);
    xbuf_mview *b6 = field_checked(m6, "b", 4, "h", 2, 0, NULL);
    DERIVE_FAILS(xbuf_mview_field(m6, "c", &out, &err), out, XBUF_ETYPE);
    xbuf_mview_unref(b6);
    xbuf_mview_unref(m6);
    texp_free(s6);
    finish();
}

TEST(zero_dimensional_views)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    texp *t = make_c("i", 4, 0, NULL);
    *(int32_t *)t->buf = 1234;
    xbuf_mview *m = open_texp(t), *tr = NULL, *c = NULL, *c0 = NULL;
    MUST(xbuf_mview_transpose(m, &tr, &err));
    cr_assert_eq(V(tr)->ndim, 0);
    cr_assert_eq(V(tr)->buf, t->buf);
    MUST(xbuf_mview_permute(m, NULL, &c, &err)); /* no axes for no dimensions */
    xbuf_mview_unref(c);
    /* cast to a 0-d view of another format: ndim 0, a shape of nothing */
    ptrdiff_t nothing[1] = {0};
    c = cast_checked(m, "4B", 4, 0, nothing, nothing, 0, 'C', false);
    /* and 0-d back to 1-d by bytes */
    ptrdiff_t four[1] = {4};
    c0 = cast_checked(m, "B", 1, 0, NULL, four, 1, 'C', false);
    check_iter(tr);
    xbuf_view v;
    MUST(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL_RO, &err));
    cr_assert_eq(v.ndim, 0);
    cr_assert_eq(*(int32_t *)v.buf, 1234);
    xbuf_release(&v);
    MUST(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_SIMPLE, &err));
    cr_assert_eq(v.len, 4);
    xbuf_release(&v);
    xbuf_mview_unref(c0);
    xbuf_mview_unref(c);
    xbuf_mview_unref(tr);
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

TEST(suboffsets_that_are_all_negative_are_dropped)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4}, none[2] = {-1, -1};
    texp *t = make_pil("i", 4, 2, shape, none); /* a C layout, with suboffsets */
    xbuf_mview *m = open_texp(t);
    const xbuf_view *v = V(m);
    cr_assert_null(v->suboffsets);
    cr_assert(xbuf_view_is_contiguous(v, 'C'));
    /* so nothing that refuses indirect views refuses it */
    xbuf_mview *tr = NULL, *c = NULL;
    MUST(xbuf_mview_transpose(m, &tr, &err));
    MUST(xbuf_mview_cast(m, "B", 0, NULL, &c, &err));
    cr_assert_eq(V(c)->shape[0], 48);
    xbuf_view plain;
    MUST(xbuf_get(xbuf_mview_exporter(m), &plain, XBUF_C_CONTIGUOUS, &err));
    xbuf_release(&plain);
    check_every_request(m, &t->exports, "all-negative suboffsets");
    xbuf_mview_unref(c);
    xbuf_mview_unref(tr);
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

/* ==== cast ================================================================= */

TEST(cast_c_contiguous)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {4, 8};
    texp *t = make_c("B", 1, 2, shape);
    unsigned char *bytes = t->buf;
    for (int k = 0; k < 32; k++)
        bytes[k] = (unsigned char)k;
    xbuf_mview *m = open_texp(t);

    ptrdiff_t s24[2] = {2, 4};
    xbuf_mview *c = cast_checked(m, "i", 4, 2, s24, s24, 2, 'C', false);
    const xbuf_view *cv = V(c);
    cr_assert_eq(cv->strides[0], 16);
    cr_assert_eq(cv->strides[1], 4);
    cr_assert_eq(cv->buf, t->buf);
    ptrdiff_t idx[2] = {1, 2};
    int32_t got, want;
    memcpy(&got, ref_ptr(cv, idx), 4);
    memcpy(&want, bytes + 24, 4);
    cr_assert_eq(got, want);

    ptrdiff_t s8[1] = {8};
    xbuf_mview *c1 = cast_checked(m, "i", 4, 0, NULL, s8, 1, 'C', false);
    cr_assert_eq(V(c1)->strides[0], 4);
    /* and back to the original shape and bytes */
    xbuf_mview *back = cast_checked(c, "B", 1, 2, shape, shape, 2, 'C', false);
    slice_map id = {{0, 0}, {1, 1}, 2};
    check_map(V(back), V(m), map_slice, &id, "cast there and back");
    /* 3-d of a struct format, then a field of it */
    ptrdiff_t s3[3] = {2, 2, 1};
    xbuf_mview *pairs = cast_checked(m, "T{i:p:i:q:}", 8, 3, s3, s3, 3, 'C', false);
    xbuf_mview *q = field_checked(pairs, "q", 4, "i", 4, 0, NULL);
    ptrdiff_t qi[3] = {1, 1, 0};
    memcpy(&got, ref_ptr(V(q), qi), 4);
    memcpy(&want, bytes + 28, 4);
    cr_assert_eq(got, want);
    /* 0-d to 1-d */
    xbuf_mview *zero = index_checked(c1, 0, 3);
    ptrdiff_t s4[1] = {4};
    xbuf_mview *zb = cast_checked(zero, "B", 1, 1, s4, s4, 1, 'C', false);
    cr_assert_eq(V(zb)->buf, bytes + 12);

    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    xbuf_mview *all[8] = {c, c1, back, pairs, q, zero, zb, m};
    for (int i = 0; i < 8; i++)
        xbuf_mview_unref(all[i]);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(cast_f_contiguous)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {4, 8};
    texp *t = make_f("B", 1, 2, shape);
    xbuf_mview *m = open_texp(t);
    cr_assert(!xbuf_view_is_contiguous(V(m), 'C'));
    ptrdiff_t s28[2] = {2, 8};
    xbuf_mview *c = cast_checked(m, "H", 2, 2, s28, s28, 2, 'F', false);
    cr_assert_eq(V(c)->strides[0], 2);
    cr_assert_eq(V(c)->strides[1], 4);
    ptrdiff_t s16[1] = {16};
    xbuf_mview *c1 = cast_checked(m, "H", 2, 0, NULL, s16, 1, 'F', false);
    cr_assert_eq(V(c1)->strides[0], 2);
    ptrdiff_t s3[3] = {2, 2, 2};
    xbuf_mview *c3 = cast_checked(m, "i", 4, 3, s3, s3, 3, 'F', false);
    xbuf_mview *all[4] = {c, c1, c3, m};
    for (int i = 0; i < 4; i++)
        xbuf_mview_unref(all[i]);
    texp_free(t);
    finish();
}

TEST(cast_packed_last_dimension)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {8, 8};
    texp *t = make_c("B", 1, 2, shape);
    xbuf_mview *m = open_texp(t), *out;

    /* every other row: not contiguous, last dimension packed */
    xbuf_slice rows[1] = {{NONE, NONE, 2}};
    xbuf_mview *even = slice_checked(m, rows, 1);
    cr_assert(!xbuf_view_is_contiguous(V(even), 'A'));
    ptrdiff_t w44[2] = {4, 4}, w42[2] = {4, 2}, w41[2] = {4, 1};
    xbuf_mview *h = cast_checked(even, "H", 2, 0, NULL, w44, 2, 'C', true);
    cr_assert_eq(V(h)->strides[0], 16);
    cr_assert_eq(V(h)->strides[1], 2);
    xbuf_mview *i = cast_checked(even, "i", 4, 0, NULL, w42, 2, 'C', true);
    xbuf_mview *q = cast_checked(even, "Q", 8, 0, NULL, w41, 2, 'C', true);
    /* back down: the last extent doubles */
    ptrdiff_t w48[2] = {4, 8};
    xbuf_mview *hb = cast_checked(h, "B", 1, 0, NULL, w48, 2, 'C', true);
    slice_map id = {{0, 0}, {1, 1}, 2};
    check_map(V(hb), V(even), map_slice, &id, "H and back to B");

    /* rows backwards */
    xbuf_slice back[1] = {{NONE, NONE, -2}};
    xbuf_mview *rev = slice_checked(m, back, 1);
    xbuf_mview *rh = cast_checked(rev, "H", 2, 0, NULL, w44, 2, 'C', true);
    cr_assert_eq(V(rh)->strides[0], -16);

    /* refusals */
    xbuf_slice cols[2] = {{NONE, NONE, 1}, {NONE, NONE, 2}};
    xbuf_mview *gappy = slice_checked(m, cols, 2);
    DERIVE_FAILS(xbuf_mview_cast(gappy, "H", 0, NULL, &out, &err), out, XBUF_ETYPE);
    xbuf_slice rcols[2] = {{NONE, NONE, 2}, {NONE, NONE, -1}};
    xbuf_mview *rgap = slice_checked(m, rcols, 2);
    DERIVE_FAILS(xbuf_mview_cast(rgap, "H", 0, NULL, &out, &err), out, XBUF_ETYPE);
    xbuf_slice six[2] = {{NONE, NONE, 2}, {0, 6, 1}};
    xbuf_mview *by6 = slice_checked(m, six, 2); /* 6 bytes per row */
    DERIVE_FAILS(xbuf_mview_cast(by6, "i", 0, NULL, &out, &err), out, XBUF_ETYPE);
    xbuf_mview *h6 = NULL;
    MUST(xbuf_mview_cast(by6, "H", 0, NULL, &h6, &err));
    cr_assert_eq(V(h6)->shape[1], 3);
    /* a shape is only for contiguous views */
    out = JUNK;
    xbuf_error_clear(&err);
    cr_assert_lt(xbuf_mview_cast(even, "H", 2, w44, &out, &err), 0);
    cr_assert_null(out);

    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    xbuf_mview *all[12] = {even, h, i, q, hb, rev, rh, gappy, rgap, by6, h6, m};
    for (int k = 0; k < 12; k++)
        xbuf_mview_unref(all[k]);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(cast_errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {4, 8};
    texp *t = make_c("B", 1, 2, shape);
    xbuf_mview *m = open_texp(t), *out;
    ptrdiff_t s33[2] = {3, 3}, s9[1] = {9}, sneg[2] = {-2, -4};
    DERIVE_FAILS(xbuf_mview_cast(m, "i", 2, s33, &out, &err), out, XBUF_ETYPE);
    DERIVE_FAILS(xbuf_mview_cast(m, "i", 1, s9, &out, &err), out, XBUF_ETYPE);
    DERIVE_FAILS(xbuf_mview_cast(m, "5s", 0, NULL, &out, &err), out, XBUF_ETYPE);
    DERIVE_FAILS(xbuf_mview_cast(m, "T{i", 0, NULL, &out, &err), out, XBUF_EFORMAT);
    /* err may be NULL */
    out = JUNK;
    cr_assert_eq(xbuf_mview_cast(m, "i", 0, NULL, &out, NULL), XBUF_OK);
    xbuf_mview_unref(out);
    cr_assert_eq(xbuf_mview_cast(m, "T{i", 0, NULL, &out, NULL), XBUF_EFORMAT);
    cr_assert_null(out);
    out = JUNK;
    xbuf_error_clear(&err);
    cr_assert_lt(xbuf_mview_cast(m, "i", 2, sneg, &out, &err), 0);
    cr_assert_null(out);
    DERIVE_FAILS(xbuf_mview_cast(m, NULL, 0, NULL, &out, &err), out, XBUF_EINVAL);
    DERIVE_FAILS(xbuf_mview_cast(NULL, "i", 0, NULL, &out, &err), out, XBUF_EINVAL);
    FAILS(xbuf_mview_cast(m, "i", 0, NULL, NULL, &err), XBUF_EINVAL);
    xbuf_mview_unref(m);
    texp_free(t);

    /* suboffsets */
    image *img = make_image(2, 2, 4, 0);
    xbuf_mview *im = open_mview(&img->exporter, XBUF_FULL_RO);
    DERIVE_FAILS(xbuf_mview_cast(im, "B", 0, NULL, &out, &err), out, XBUF_ETYPE);
    DERIVE_FAILS(xbuf_mview_cast(im, "H", 0, NULL, &out, &err), out, XBUF_ETYPE);
    xbuf_mview_unref(im);
    MUST(image_destroy(img, &err));
    finish();
}

/* ==== the mview as an exporter ============================================= */

static const int BASE_REQUESTS[] = {
    XBUF_SIMPLE, XBUF_ND, XBUF_STRIDES, XBUF_C_CONTIGUOUS, XBUF_F_CONTIGUOUS,
    XBUF_ANY_CONTIGUOUS, XBUF_INDIRECT, XBUF_CONTIG_RO, XBUF_STRIDED_RO, XBUF_RECORDS_RO,
    XBUF_FULL_RO};

static int expected_export(const xbuf_view *v, int flags)
{
    bool c = xbuf_view_is_contiguous(v, 'C'), f = xbuf_view_is_contiguous(v, 'F');
    if ((flags & XBUF_WRITABLE) && v->readonly)
        return XBUF_EREQUEST;
    if (XBUF_WANTS(flags, XBUF_C_CONTIGUOUS) && !c)
        return XBUF_EREQUEST;
    if (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS) && !f)
        return XBUF_EREQUEST;
    if (XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS) && !c && !f)
        return XBUF_EREQUEST;
    if (!XBUF_WANTS(flags, XBUF_STRIDES) && !c)
        return XBUF_EREQUEST;
    if (!XBUF_WANTS(flags, XBUF_INDIRECT) && has_indirection(v))
        return XBUF_EREQUEST;
    /* "cannot cast to unsigned bytes if the format flag is present" */
    if ((flags & XBUF_FORMAT) && !XBUF_WANTS(flags, XBUF_ND))
        return XBUF_EREQUEST;
    return XBUF_OK;
}

/* Every standard request against m: served or refused as memoryview does. */
static void check_every_request(xbuf_mview *m, const xbuf_exports *under, const char *what)
{
    const xbuf_view *mv = V(m);
    int extras[4] = {0, XBUF_FORMAT, XBUF_WRITABLE, XBUF_FORMAT | XBUF_WRITABLE};
    for (int r = 0; r < COUNT(BASE_REQUESTS); r++)
        for (int e = 0; e < 4; e++) {
            int flags = BASE_REQUESTS[r] | extras[e];
            int want = expected_export(mv, flags);
            xbuf_view v;
            xbuf_error err;
            xbuf_error_clear(&err);
            int rc = xbuf_get(xbuf_mview_exporter(m), &v, flags, &err);
            cr_assert_eq(rc, want, "%s: request %#x gave %s, expected %s (%s)", what, flags,
                         xbuf_strerror(rc), xbuf_strerror(want), err.message);
            if (rc < 0) {
                cr_assert_neq(err.message[0], '\0');
                cr_assert_eq(xbuf_mview_exports(m), 0);
                continue;
            }
            cr_assert_eq(xbuf_mview_exports(m), 1, "%s: request %#x not counted", what, flags);
            cr_assert_eq(xbuf_exports_count(under), 1, "%s: re-export reached the exporter",
                         what);
            cr_assert_eq(v.buf, mv->buf);
            cr_assert_eq(v.len, mv->len);
            cr_assert_eq(v.itemsize, mv->itemsize);
            if (flags & XBUF_FORMAT)
                cr_assert_str_eq(v.format, mv->format);
            if (XBUF_WANTS(flags, XBUF_ND)) {
                cr_assert_eq(v.ndim, mv->ndim);
                for (int i = 0; i < mv->ndim; i++)
                    cr_assert_eq(v.shape[i], mv->shape[i]);
            }
            if (XBUF_WANTS(flags, XBUF_STRIDES)) {
                for (int i = 0; i < mv->ndim; i++)
                    if (mv->shape[i] > 1)
                        cr_assert_eq(v.strides[i], mv->strides[i]);
                if (XBUF_WANTS(flags, XBUF_INDIRECT) && has_indirection(mv)) {
                    cr_assert_not_null(v.suboffsets, "%s: request %#x lost suboffsets", what,
                                       flags);
                    for (int i = 0; i < mv->ndim; i++)
                        cr_assert_eq(v.suboffsets[i], mv->suboffsets[i]);
                }
                /* every item at the same address */
                ptrdiff_t idx[XBUF_MAX_NDIM] = {0};
                if (item_count(mv->ndim, mv->shape) > 0)
                    do {
                        if (ref_ptr(&v, idx) != ref_ptr(mv, idx))
                            cr_assert_fail("%s: request %#x: item moved", what, flags);
                    } while (next_index(mv->ndim, mv->shape, idx));
            }
            xbuf_release(&v);
            cr_assert_eq(xbuf_mview_exports(m), 0);
        }
}

TEST(exporter_serves_requests_like_memoryview)
{
    ptrdiff_t shape[2] = {3, 4};
    for (int kind = 0; kind < L_COUNT; kind++) {
        texp *t = make_layout(kind, 2, shape);
        xbuf_mview *m = open_mview(&t->exporter, XBUF_FULL);
        check_every_request(m, &t->exports, LAYOUT_NAMES[kind]);
        /* derived: every other row; a transposed C view is F */
        xbuf_slice sl[1] = {{NONE, NONE, 2}};
        xbuf_mview *s = slice_checked(m, sl, 1);
        check_every_request(s, &t->exports, "every other row");
        if (kind < L_PIL_FIRST) {
            xbuf_mview *tr = NULL;
            xbuf_error err;
            xbuf_error_clear(&err);
            MUST(xbuf_mview_transpose(m, &tr, &err));
            check_every_request(tr, &t->exports, "transposed");
            xbuf_mview_unref(tr);
        }
        xbuf_mview_unref(s);
        xbuf_mview_unref(m);
        texp_free(t);
    }
    /* 1-d and 0-d views, a view with no items, a read-only view */
    ptrdiff_t one[1] = {5}, empty[2] = {0, 3};
    texp *t1 = make_c("i", 4, 1, one), *t0 = make_c("d", 8, 0, NULL);
    texp *te = make_c("h", 2, 2, empty), *tr = make_c("B", 1, 1, one);
    tr->readonly = 1;
    texp *ts[4] = {t1, t0, te, tr};
    for (int i = 0; i < 4; i++) {
        xbuf_mview *m = open_texp(ts[i]);
        check_every_request(m, &ts[i]->exports, "small");
        xbuf_mview_unref(m);
        texp_free(ts[i]);
    }
    /* the image: read-only, indirect */
    image *img = make_image(2, 3, 4, 1);
    xbuf_mview *im = open_mview(&img->exporter, XBUF_FULL_RO);
    check_every_request(im, &img->exports, "image");
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_mview_unref(im);
    MUST(image_destroy(img, &err));
    finish();
}

TEST(exported_views_hold_a_reference)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c("i", 4, 2, shape);
    int32_t *x = t->buf;
    for (int k = 0; k < 12; k++)
        x[k] = 7 * k;
    xbuf_mview *m = open_texp(t);
    xbuf_slice sl[2] = {{NONE, NONE, -1}, {1, NONE, 2}};
    xbuf_mview *s = slice_checked(m, sl, 2);
    xbuf_view v;
    MUST(xbuf_get(xbuf_mview_exporter(s), &v, XBUF_RECORDS_RO, &err));
    cr_assert_eq(xbuf_mview_exports(s), 1);
    xbuf_mview_unref(s);
    xbuf_mview_unref(m);
    /* both gone from the caller's side; the exported view still works */
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    cr_assert_eq(v.ndim, 2);
    cr_assert_eq(v.shape[0], 3);
    cr_assert_eq(v.shape[1], 2);
    cr_assert_str_eq(v.format, "i");
    for (ptrdiff_t i = 0; i < 3; i++)
        for (ptrdiff_t j = 0; j < 2; j++) {
            ptrdiff_t idx[2] = {i, j};
            int32_t got;
            memcpy(&got, ref_ptr(&v, idx), 4);
            cr_assert_eq(got, 7 * ((2 - i) * 4 + 1 + 2 * j));
        }
    /* an mview of the exported view, then of the mview's exporter */
    xbuf_mview *w = NULL;
    MUST(xbuf_mview_from_view(&v, &w, &err));
    xbuf_mview *w2 = open_mview(xbuf_mview_exporter(w), XBUF_FULL_RO);
    cr_assert_eq(xbuf_mview_exports(w), 1);
    xbuf_mview_unref(w);
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    cr_assert_eq(V(w2)->shape[1], 2);
    xbuf_mview_unref(w2);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

/* ==== release ============================================================== */

TEST(release_waits_for_exported_views)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_c("i", 4, 2, shape);
    xbuf_mview *m = open_texp(t);
    xbuf_view v1, v2;
    MUST(xbuf_get(xbuf_mview_exporter(m), &v1, XBUF_FULL_RO, &err));
    MUST(xbuf_get(xbuf_mview_exporter(m), &v2, XBUF_SIMPLE, &err));
    cr_assert_eq(xbuf_mview_exports(m), 2);
    FAILS(xbuf_mview_release(m, &err), XBUF_EBUSY);
    cr_assert_not_null(strstr(err.message, "2"), "message does not say how many: %s",
                      err.message);
    cr_assert(!xbuf_mview_is_released(m));
    cr_assert_not_null(xbuf_mview_view(m));
    xbuf_release(&v1);
    FAILS(xbuf_mview_release(m, &err), XBUF_EBUSY);
    xbuf_release(&v2);
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    MUST(xbuf_mview_release(m, &err));
    cr_assert(xbuf_mview_is_released(m));
    cr_assert_eq(xbuf_exports_count(&t->exports), 0, "release did not give the export back");
    MUST(xbuf_mview_release(m, &err));
    xbuf_mview_unref(m);
    texp_free(t);
    finish();
}

TEST(released_mview_refuses_everything)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4};
    texp *t = make_records(2, shape);
    xbuf_mview *m = open_texp(t), *out;
    MUST(xbuf_mview_release(m, &err));
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    cr_assert(xbuf_mview_is_released(m));
    cr_assert_null(xbuf_mview_view(m));
    cr_assert_eq(xbuf_mview_exports(m), 0);
    xbuf_slice sl[1] = {{NONE, NONE, 1}};
    int axes[2] = {1, 0};
    ptrdiff_t idx[2] = {0, 0}, s[1] = {12 * (ptrdiff_t)sizeof(rec)};
    void *p = &err;
    DERIVE_FAILS(xbuf_mview_slice(m, sl, 1, &out, &err), out, XBUF_ERELEASED);
    DERIVE_FAILS(xbuf_mview_index(m, 0, 0, &out, &err), out, XBUF_ERELEASED);
    DERIVE_FAILS(xbuf_mview_permute(m, axes, &out, &err), out, XBUF_ERELEASED);
    DERIVE_FAILS(xbuf_mview_transpose(m, &out, &err), out, XBUF_ERELEASED);
    DERIVE_FAILS(xbuf_mview_field(m, "b", &out, &err), out, XBUF_ERELEASED);
    DERIVE_FAILS(xbuf_mview_cast(m, "B", 1, s, &out, &err), out, XBUF_ERELEASED);
    FAILS(xbuf_mview_pointer(m, idx, &p, &err), XBUF_ERELEASED);
    xbuf_iter it;
    FAILS(xbuf_iter_init(&it, m, &err), XBUF_ERELEASED);
    xbuf_view v;
    cr_assert_not_null(xbuf_mview_exporter(m));
    FAILS(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL_RO, &err), XBUF_ERELEASED);
    DERIVE_FAILS(xbuf_mview_from_exporter(xbuf_mview_exporter(m), XBUF_FULL_RO, &out, &err),
                 out, XBUF_ERELEASED);
    MUST(xbuf_mview_release(m, &err));
    cr_assert_eq(xbuf_mview_retain(m), m);
    xbuf_mview_unref(m);
    xbuf_mview_unref(m);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
    finish();
}

TEST(release_of_one_member_keeps_the_family_export)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    samples *s = NULL;
    MUST(samples_create(&s, &err));
    int16_t values[6] = {1, 2, 3, 4, 5, 6};
    MUST(samples_append(s, values, 6, &err));
    xbuf_mview *m = open_mview(&s->exporter, XBUF_FULL_RO);
    xbuf_slice sl[1] = {{NONE, NONE, -1}};
    xbuf_mview *r = slice_checked(m, sl, 1);
    xbuf_view v;
    MUST(xbuf_get(xbuf_mview_exporter(r), &v, XBUF_FULL_RO, &err));
    /* views exported from a child do not hold the parent */
    MUST(xbuf_mview_release(m, &err));
    cr_assert_eq(xbuf_exports_count(&s->exports), 1);
    FAILS(samples_append(s, values, 1, &err), XBUF_EBUSY);
    ptrdiff_t i = 0;
    int16_t x;
    memcpy(&x, ref_ptr(V(r), &i), 2);
    cr_assert_eq(x, 6);
    FAILS(xbuf_mview_release(r, &err), XBUF_EBUSY);
    xbuf_mview_unref(r); /* the exported view keeps it */
    cr_assert_eq(xbuf_exports_count(&s->exports), 1);
    xbuf_release(&v);
    cr_assert_eq(xbuf_exports_count(&s->exports), 0);
    MUST(samples_append(s, values, 1, &err));
    xbuf_mview_unref(m);
    MUST(samples_destroy(s, &err));
    finish();
}

/* ==== iteration ============================================================ */

TEST(iterator_visits_c_order)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shapes[4][3] = {{2, 3, 4}, {3, 0, 2}, {1, 1, 1}, {0, 0, 0}};
    for (int s = 0; s < 4; s++)
        for (int kind = 0; kind < L_COUNT; kind++) {
            texp *t = make_layout(kind, 3, shapes[s]);
            xbuf_mview *m = open_texp(t);
            check_iter(m);
            xbuf_slice sl[3] = {{NONE, NONE, -1}, {1, NONE, 1}, {NONE, NONE, -2}};
            xbuf_mview *x = slice_checked(m, sl, 3);
            check_iter(x);
            xbuf_mview_unref(x);
            xbuf_mview_unref(m);
            texp_free(t);
        }
    /* 0-d: one item */
    texp *t0 = make_c("i", 4, 0, NULL);
    xbuf_mview *m0 = open_texp(t0);
    xbuf_iter it;
    void *item = NULL;
    MUST(xbuf_iter_init(&it, m0, &err));
    cr_assert(xbuf_iter_next(&it, &item));
    cr_assert_eq(item, t0->buf);
    cr_assert(!xbuf_iter_next(&it, &item));
    xbuf_mview_unref(m0);
    texp_free(t0);
    /* the image, in band, row, column order */
    image *img = make_image(2, 3, 4, 0);
    xbuf_mview *im = open_mview(&img->exporter, XBUF_FULL_RO);
    MUST(xbuf_iter_init(&it, im, &err));
    for (ptrdiff_t b = 0; b < 2; b++)
        for (ptrdiff_t y = 0; y < 3; y++)
            for (ptrdiff_t x = 0; x < 4; x++) {
                cr_assert(xbuf_iter_next(&it, &item));
                cr_assert_eq(item, (void *)image_pixel(img, b, y, x));
            }
    cr_assert(!xbuf_iter_next(&it, &item));
    FAILS(xbuf_iter_init(NULL, im, &err), XBUF_EINVAL);
    FAILS(xbuf_iter_init(&it, NULL, &err), XBUF_EINVAL);
    xbuf_mview_unref(im);
    MUST(image_destroy(img, &err));
    finish();
}

/* ==== 64 dimensions ======================================================== */

TEST(sixty_four_dimensions)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        shape[i] = i % 7 == 0 ? 2 : 1; /* 10 dimensions of 2: 1024 items */
    texp *t = make_c("h", 2, XBUF_MAX_NDIM, shape);
    xbuf_mview *m = open_texp(t), *out;
    cr_assert_eq(V(m)->ndim, 64);
    check_iter(m);

    xbuf_slice sl[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        sl[i] = (xbuf_slice){NONE, NONE, i % 2 ? 1 : -1};
    xbuf_mview *s = slice_checked(m, sl, XBUF_MAX_NDIM);
    xbuf_slice half[XBUF_MAX_NDIM];
    for (int i = 0; i < 40; i++)
        half[i] = (xbuf_slice){i % 7 == 0 ? -1 : 0, NONE, i % 3 ? 1 : -1};
    xbuf_mview *s2 = slice_checked(s, half, 40);

    int axes[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        axes[i] = (i * 5 + 3) % XBUF_MAX_NDIM; /* 5 is coprime with 64 */
    xbuf_mview *p = permute_checked(s, axes);
    xbuf_mview *tr = NULL;
    MUST(xbuf_mview_transpose(p, &tr, &err));
    permute_map rev = {.ndim = XBUF_MAX_NDIM};
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        rev.axes[i] = XBUF_MAX_NDIM - 1 - i;
    check_map(V(tr), V(p), map_permute, &rev, "transpose 64-d");

    xbuf_mview *i63 = index_checked(m, 63, -1);
    xbuf_mview *i1 = index_checked(i63, 1, 0);
    xbuf_mview *i0 = index_checked(i1, 0, 1);
    cr_assert_eq(V(i0)->ndim, 61);
    check_iter(i0);
    DERIVE_FAILS(xbuf_mview_index(m, 64, 0, &out, &err), out, XBUF_EINVAL);
    int bad[XBUF_MAX_NDIM];
    memcpy(bad, axes, sizeof bad);
    bad[63] = bad[0];
    DERIVE_FAILS(xbuf_mview_permute(m, bad, &out, &err), out, XBUF_EINVAL);
    xbuf_slice extra[XBUF_MAX_NDIM + 1];
    for (int i = 0; i <= XBUF_MAX_NDIM; i++)
        extra[i] = (xbuf_slice){NONE, NONE, 1};
    DERIVE_FAILS(xbuf_mview_slice(m, extra, XBUF_MAX_NDIM + 1, &out, &err), out, XBUF_EINVAL);
    /* a 64-d cast and a pointer with 64 negative indices */
    ptrdiff_t flat[1] = {2048};
    xbuf_mview *c = cast_checked(m, "B", 1, 1, flat, flat, 1, 'C', false);
    ptrdiff_t last[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        last[i] = -1;
    void *ptr = NULL;
    MUST(xbuf_mview_pointer(m, last, &ptr, &err));
    cr_assert_eq(ptr, (char *)t->buf + 2046);
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    xbuf_mview *all[9] = {m, s, s2, p, tr, i63, i1, i0, c};
    for (int i = 0; i < 9; i++)
        xbuf_mview_unref(all[i]);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);

    /* 64-d with an indirect dimension in the middle */
    ptrdiff_t sub[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        sub[i] = i == 20 ? 4 : -1;
    texp *pt = make_pil("h", 2, XBUF_MAX_NDIM, shape, sub);
    xbuf_mview *pm = open_texp(pt);
    check_iter(pm);
    xbuf_mview *ps = slice_checked(pm, sl, XBUF_MAX_NDIM);
    check_iter(ps);
    xbuf_mview *pi = index_checked(ps, 0, 1);
    xbuf_mview *pk = index_checked(pm, 20, 0);
    check_iter(pk);
    xbuf_mview *pj = index_checked(pm, 30, 0);
    xbuf_mview_unref(pj);
    xbuf_mview_unref(pk);
    xbuf_mview_unref(pi);
    xbuf_mview_unref(ps);
    xbuf_mview_unref(pm);
    texp_free(pt);
    finish();
}

/* ==== allocation failure =================================================== */

typedef struct sweep_ctx {
    xbuf_exporter *exporter;
    const xbuf_exports *exports;
    int flags;
    bool needs_parent;
    int (*op)(struct sweep_ctx *c, xbuf_error *err);
    xbuf_mview *parent, *out;
    xbuf_view view;
    int rc;
    xbuf_error err;
    bool strided_parent; /* the parent is every other row of the opened view */
} sweep_ctx;

static void sweep_setup(void *ctx)
{
    sweep_ctx *c = ctx;
    c->parent = NULL;
    c->out = NULL;
    if (c->needs_parent)
        c->parent = open_mview(c->exporter, c->flags);
    if (c->strided_parent) {
        xbuf_slice sl[2] = {{NONE, NONE, 1}, {NONE, NONE, 2}};
        xbuf_mview *whole = c->parent;
        c->parent = slice_checked(whole, sl, 2);
        xbuf_mview_unref(whole);
    }
}

static int sweep_run(void *ctx)
{
    sweep_ctx *c = ctx;
    c->out = JUNK;
    xbuf_error_clear(&c->err);
    c->rc = c->op(c, &c->err);
    return c->rc;
}

static const char *sweep_after_failure(void *ctx)
{
    sweep_ctx *c = ctx;
    if (c->out != NULL)
        return "*out is not NULL after a failure";
    if (c->err.code != c->rc)
        return "err.code differs from the result";
    if (c->err.message[0] == '\0')
        return "no error message";
    if (xbuf_exports_count(c->exports) != (c->parent ? 1 : 0))
        return "the export count changed";
    if (c->parent) {
        /* the parent is intact and still usable */
        xbuf_mview *s = NULL;
        xbuf_slice sl = {NONE, NONE, 1};
        if (xbuf_mview_view(c->parent) == NULL ||
            (V(c->parent)->ndim > 0 && xbuf_mview_slice(c->parent, &sl, 1, &s, NULL) != 0))
            return "the parent is not usable after the failure";
        xbuf_mview_unref(s);
    }
    return NULL;
}

static void sweep_teardown(void *ctx)
{
    sweep_ctx *c = ctx;
    if (c->rc == XBUF_OK && c->out != JUNK)
        xbuf_mview_unref(c->out);
    c->out = NULL;
    xbuf_mview_unref(c->parent);
    c->parent = NULL;
    cr_assert_eq(xbuf_exports_count(c->exports), 0, "export count %td after teardown",
                 xbuf_exports_count(c->exports));
}

static int op_from_exporter(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_from_exporter(c->exporter, c->flags, &c->out, err);
}

static int op_slice(sweep_ctx *c, xbuf_error *err)
{
    xbuf_slice sl[3] = {{NONE, NONE, -1}, {1, NONE, 2}, {-1, 0, -1}};
    int n = V(c->parent)->ndim < 3 ? V(c->parent)->ndim : 3;
    return xbuf_mview_slice(c->parent, sl, n, &c->out, err);
}

static int op_index(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_index(c->parent, 0, -1, &c->out, err);
}

static int op_transpose(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_transpose(c->parent, &c->out, err);
}

static int op_field_c(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_field(c->parent, "c", &c->out, err);
}

static int op_field_sx(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_field(c->parent, "s.x", &c->out, err);
}

static int op_field_inner(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_field(c->parent, "inner", &c->out, err);
}

static int op_cast_shape(sweep_ctx *c, xbuf_error *err)
{
    ptrdiff_t shape[3] = {3, 2, 1}; /* 6 items of 4 bytes: the 24 bytes of (2,3,4) */
    return xbuf_mview_cast(c->parent, "T{h:a:h:b:}", 3, shape, &c->out, err);
}

static int op_cast_flat(sweep_ctx *c, xbuf_error *err)
{
    return xbuf_mview_cast(c->parent, "i", 0, NULL, &c->out, err);
}

static void assert_sweep(sweep_ctx *c, const char *what, bool must_allocate)
{
    failing_alloc_op op = {sweep_setup, sweep_run, sweep_after_failure, sweep_teardown, c,
                           1000};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "%s: %ld problem(s); first: %s", what, report.problems,
                 report.message);
    if (must_allocate)
        cr_assert_gt(report.points, 0, "%s allocated nothing", what);
}

TEST(allocation_failure_sweeps)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[3] = {2, 3, 4};
    texp *rt = make_records(3, shape);
    texp *ct = make_c("B", 1, 3, shape);
    ptrdiff_t sub[3] = {-1, 8, -1};
    texp *pt = make_pil("i", 4, 3, shape, sub);
    char format[1024], inner[900];
    long_record_format(format, sizeof format, inner, sizeof inner);
    texp *lt = make_c(format, 52, 3, shape);
    image *img = make_image(2, 3, 4, 0);
    samples *smp = NULL;
    MUST(samples_create(&smp, &err));
    int16_t values[4] = {1, 2, 3, 4};
    MUST(samples_append(smp, values, 4, &err));

    struct {
        xbuf_exporter *e;
        const xbuf_exports *x;
        int flags;
        bool parent;
        int (*op)(sweep_ctx *, xbuf_error *);
        const char *what;
    } cases[] = {
        {&rt->exporter, &rt->exports, XBUF_FULL_RO, false, op_from_exporter, "from_exporter rec"},
        {&pt->exporter, &pt->exports, XBUF_FULL_RO, false, op_from_exporter, "from_exporter pil"},
        {&img->exporter, &img->exports, XBUF_FULL, false, op_from_exporter, "from_exporter img"},
        {&smp->exporter, &smp->exports, XBUF_SIMPLE, false, op_from_exporter,
         "from_exporter samples"},
        {&ct->exporter, &ct->exports, XBUF_FULL_RO, true, op_slice, "slice"},
        {&pt->exporter, &pt->exports, XBUF_FULL_RO, true, op_slice, "slice pil"},
        {&img->exporter, &img->exports, XBUF_FULL_RO, true, op_slice, "slice image"},
        {&ct->exporter, &ct->exports, XBUF_FULL_RO, true, op_index, "index"},
        {&pt->exporter, &pt->exports, XBUF_FULL_RO, true, op_index, "index pil"},
        {&ct->exporter, &ct->exports, XBUF_FULL_RO, true, op_transpose, "transpose"},
        {&rt->exporter, &rt->exports, XBUF_FULL_RO, true, op_field_c, "field c"},
        {&rt->exporter, &rt->exports, XBUF_FULL_RO, true, op_field_sx, "field s.x"},
        {&lt->exporter, &lt->exports, XBUF_FULL_RO, true, op_field_inner, "field long"},
        {&ct->exporter, &ct->exports, XBUF_FULL_RO, true, op_cast_shape, "cast shape"},
        {&ct->exporter, &ct->exports, XBUF_FULL_RO, true, op_cast_flat, "cast flat"},
    };
    for (int i = 0; i < COUNT(cases); i++) {
        sweep_ctx c = {cases[i].e, cases[i].x, cases[i].flags, cases[i].parent, cases[i].op,
                       NULL, NULL, {0}, 0, {0}, false};
        assert_sweep(&c, cases[i].what, true);
    }
    /* a strided cast: every other row of (2,3,4) bytes, 4 bytes a row */
    {
        sweep_ctx c = {&ct->exporter, &ct->exports, XBUF_FULL_RO, true, op_cast_flat,
                       NULL, NULL, {0}, 0, {0}, false};
        c.strided_parent = true;
        assert_sweep(&c, "cast strided", true);
    }
    texp_free(rt);
    texp_free(lt);
    texp_free(ct);
    texp_free(pt);
    MUST(image_destroy(img, &err));
    MUST(samples_destroy(smp, &err));
    finish();
}

/* from_view under failure: the view is moved only on success, so after a
 * failure it is untouched and still the caller's, its export held. */
typedef struct from_view_ctx {
    texp *t;
    xbuf_view view, before;
    xbuf_mview *out;
    int rc;
} from_view_ctx;

static void fv_setup(void *ctx)
{
    from_view_ctx *c = ctx;
    xbuf_error err;
    xbuf_error_clear(&err);
    MUST(xbuf_get(&c->t->exporter, &c->view, XBUF_FULL_RO, &err));
    c->before = c->view;
}

static int fv_run(void *ctx)
{
    from_view_ctx *c = ctx;
    c->out = JUNK;
    c->rc = xbuf_mview_from_view(&c->view, &c->out, NULL);
    return c->rc;
}

static const char *fv_after_failure(void *ctx)
{
    from_view_ctx *c = ctx;
    if (c->out != NULL)
        return "*out is not NULL";
    if (!same_view_struct(&c->view, &c->before))
        return "the caller's view was changed by a failed from_view";
    if (xbuf_exports_count(&c->t->exports) != 1)
        return "the view's export was given back by a failed from_view";
    return NULL;
}

static void fv_teardown(void *ctx)
{
    from_view_ctx *c = ctx;
    xbuf_release(&c->view);
    if (c->rc == XBUF_OK)
        xbuf_mview_unref(c->out);
    c->out = NULL;
    cr_assert_eq(xbuf_exports_count(&c->t->exports), 0);
}

TEST(allocation_failure_from_view_and_reexport)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t shape[2] = {3, 4}, sub[2] = {0, -1};
    texp *ts[2] = {make_c("i", 4, 2, shape), make_pil("i", 4, 2, shape, sub)};
    for (int i = 0; i < 2; i++) {
        from_view_ctx c = {ts[i], {0}, {0}, NULL, 0};
        failing_alloc_op op = {fv_setup, fv_run, fv_after_failure, fv_teardown, &c, 1000};
        failing_alloc_report report;
        cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "from_view: %s", report.message);
        cr_assert_gt(report.points, 0);
    }
    /* exporting from an mview: may allocate, must not leak */
    for (int i = 0; i < 2; i++) {
        xbuf_mview *m = open_texp(ts[i]);
        for (long n = 0; n < 50; n++) {
            xbuf_view v;
            failing_alloc_fail_at(n);
            int rc = xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL_RO, NULL);
            bool hit = failing_alloc_failure_hit();
            failing_alloc_fail_at(-1);
            if (hit) {
                cr_assert_eq(rc, XBUF_ENOMEM);
                cr_assert_eq(xbuf_mview_exports(m), 0);
                continue;
            }
            cr_assert_eq(rc, XBUF_OK);
            cr_assert_eq(xbuf_mview_exports(m), 1);
            xbuf_release(&v);
            break;
        }
        xbuf_mview_unref(m);
        texp_free(ts[i]);
    }
    finish();
}

/* ==== threads ============================================================== */

typedef struct thread_arg {
    xbuf_mview *m;
    int failures;
} thread_arg;

static void *derive_many(void *p)
{
    thread_arg *a = p;
    for (int k = 0; k < 500; k++) {
        xbuf_slice sl[2] = {{k % 3, NONE, 1 + k % 2}, {NONE, NONE, -1}};
        xbuf_mview *s = NULL, *x = NULL;
        xbuf_view v;
        if (xbuf_mview_slice(a->m, sl, 2, &s, NULL) != 0 ||
            xbuf_mview_transpose(s, &x, NULL) != 0 ||
            xbuf_get(xbuf_mview_exporter(x), &v, XBUF_FULL_RO, NULL) != 0) {
            a->failures++;
        } else {
            xbuf_mview_unref(x);
            x = NULL;
            xbuf_release(&v);
        }
        xbuf_mview_unref(x);
        xbuf_mview_unref(s);
    }
    return NULL;
}

Test(mview, threads_derive_from_one_mview)
{
    /* the default allocator: the counting one is not thread-safe */
    ptrdiff_t shape[2] = {6, 5};
    texp *t = make_c("i", 4, 2, shape);
    xbuf_mview *m = open_texp(t);
    pthread_t threads[8];
    thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (thread_arg){m, 0};
        cr_assert_eq(pthread_create(&threads[i], NULL, derive_many, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(args[i].failures, 0);
    }
    cr_assert_eq(xbuf_exports_count(&t->exports), 1);
    cr_assert_eq(xbuf_mview_exports(m), 0);
    xbuf_mview_unref(m);
    cr_assert_eq(xbuf_exports_count(&t->exports), 0);
    texp_free(t);
}
