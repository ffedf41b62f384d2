/*
 * copy_plan.c -- turning two views into a simplified loop nest, and
 * walking it.
 *
 * Simplification is what makes the kernels fast: a C-contiguous 4-d copy
 * becomes one memcpy, a transpose becomes one 2-d tile loop, a column of a
 * matrix becomes one strided loop.  It never changes which pairs of items
 * are visited together, only the order and the grouping.
 */
#include <stdlib.h>
#include <string.h>

#include "copy_internal.h"

/* The view's stride in `dim`, or the C-contiguous one when it has none. */
static ptrdiff_t stride_of(const xbuf_view *v, const ptrdiff_t *shape, int dim)
{
    if (v->strides != NULL)
        return v->strides[dim];
    ptrdiff_t stride = v->itemsize;
    for (int i = v->ndim - 1; i > dim; i--)
        stride *= shape[i]; /* bounded by len: the view was checked */
    return stride;
}

/* A malformed operand is the caller's mistake here, not an exporter's. */
int xbuf_check_operand(const xbuf_view *v, xbuf_error *err)
{
    if (xbuf_view_check(v, xbuf_flags_carried(v), err) == XBUF_OK)
        return xbuf_check_pointers(v, err);
    if (err != NULL)
        err->code = XBUF_EINVAL;
    return XBUF_EINVAL;
}

static int check_shapes(const xbuf_view *a, const ptrdiff_t *sa, const xbuf_view *b,
                        const ptrdiff_t *sb, xbuf_error *err)
{
    RETURN_ERROR_IF(a->ndim != b->ndim, err, XBUF_EINVAL,
                    "views have different numbers of dimensions (%d and %d)", a->ndim, b->ndim);
    for (int i = 0; i < a->ndim; i++)
        RETURN_ERROR_IF(sa[i] != sb[i], err, XBUF_EINVAL,
                        "views have different shapes: extent %td and %td in dimension %d",
                        sa[i], sb[i], i);
    return XBUF_OK;
}

static void fill_dims(xbuf_plan *plan, const xbuf_view *v[2], const ptrdiff_t *shape[2])
{
    plan->ndim = 0;
    for (int i = 0; i < v[0]->ndim; i++) {
        xbuf_dim *d = &plan->dims[plan->ndim];
        d->extent = shape[0][i];
        for (int k = 0; k < 2; k++) {
            d->stride[k] = stride_of(v[k], shape[k], i);
            d->suboffset[k] = v[k]->suboffsets ? v[k]->suboffsets[i] : -1;
            plan->indirect |= d->suboffset[k] >= 0;
        }
        plan->empty |= d->extent == 0;
        /* An extent-1 dimension is never stepped along; only its pointer
         * load, if it has one, matters. */
        bool direct = d->suboffset[0] < 0 && d->suboffset[1] < 0;
        if (d->extent != 1 || !direct)
            plan->ndim++;
    }
}

/* Both strides negative: walk the dimension backwards from its far end, so
 * both step forwards (which lets it merge and use memcpy). */
static void flip_negative(xbuf_plan *plan)
{
    for (int i = 0; i < plan->ndim; i++) {
        xbuf_dim *d = &plan->dims[i];
        if (d->stride[0] >= 0 || d->stride[1] >= 0)
            continue;
        for (int k = 0; k < 2; k++) {
            plan->base[k] += d->stride[k] * (d->extent - 1);
            d->stride[k] = -d->stride[k];
        }
    }
}

static ptrdiff_t magnitude(ptrdiff_t x)
{
    return x < 0 ? -x : x;
}

/* Outer loops first: decreasing stride on side 0, then side 1. */
static bool steps_before(const xbuf_dim *a, const xbuf_dim *b)
{
    if (magnitude(a->stride[0]) != magnitude(b->stride[0]))
        return magnitude(a->stride[0]) > magnitude(b->stride[0]);
    return magnitude(a->stride[1]) > magnitude(b->stride[1]);
}

static void sort_dims(xbuf_plan *plan)
{
    for (int i = 1; i < plan->ndim; i++) {
        xbuf_dim moving = plan->dims[i];
        int j = i;
        for (; j > 0 && steps_before(&moving, &plan->dims[j - 1]); j--)
            plan->dims[j] = plan->dims[j - 1];
        plan->dims[j] = moving;
    }
}

/* Merge an outer dimension into the inner one after it when, on both
 * sides, stepping the outer one is stepping the inner one extent times. */
static void merge_dims(xbuf_plan *plan)
{
    int kept = plan->ndim;
    for (int i = plan->ndim - 2; i >= 0; i--) {
        xbuf_dim *outer = &plan->dims[i], *inner = &plan->dims[i + 1];
        bool direct = outer->suboffset[0] < 0 && outer->suboffset[1] < 0 &&
                      inner->suboffset[0] < 0 && inner->suboffset[1] < 0;
        ptrdiff_t step0, step1;
        if (!direct || xbuf_mul_overflow(inner->stride[0], inner->extent, &step0) ||
            xbuf_mul_overflow(inner->stride[1], inner->extent, &step1) ||
            outer->stride[0] != step0 || outer->stride[1] != step1)
            continue;
        inner->extent *= outer->extent;
        memmove(outer, inner, (size_t)(kept - i - 1) * sizeof *outer);
        kept--;
    }
    plan->ndim = kept;
}

int xbuf_plan_build(xbuf_plan *plan, const xbuf_view *a, const xbuf_view *b, bool sort,
                    xbuf_error *err)
{
    RETURN_ERROR_IF(a == NULL || b == NULL, err, XBUF_EINVAL, "view is NULL");
    RETURN_IF_FAILED(xbuf_check_operand(a, err));
    RETURN_IF_FAILED(xbuf_check_operand(b, err));
    const xbuf_view *v[2] = {a, b};
    ptrdiff_t implied[2];
    const ptrdiff_t *shape[2] = {xbuf_view_shape(a, &implied[0]),
                                   xbuf_view_shape(b, &implied[1])};
    RETURN_IF_FAILED(check_shapes(a, shape[0], b, shape[1], err));
    plan->empty = false;
    plan->indirect = false;
    for (int k = 0; k < 2; k++) {
        plan->itemsize[k] = v[k]->itemsize;
        plan->base[k] = v[k]->buf;
    }
    fill_dims(plan, v, shape);
    if (plan->empty)
        return XBUF_OK; /* nothing to visit; the strides of an empty view are unchecked */
    if (!plan->indirect && sort) {
        flip_negative(plan);
        sort_dims(plan);
    }
    merge_dims(plan);
    return XBUF_OK;
}

int xbuf_plan_direct_tail(const xbuf_plan *plan, int most)
{
    int n = 0;
    while (n < most && n < plan->ndim) {
        const xbuf_dim *d = &plan->dims[plan->ndim - 1 - n];
        if (d->suboffset[0] >= 0 || d->suboffset[1] >= 0)
            break;
        n++;
    }
    return n;
}

/* Step into dimension `dim` at `index`, then follow its pointer if any. */
static char *step(const xbuf_dim *d, int side, char *p, ptrdiff_t index)
{
    p += d->stride[side] * index;
    if (d->suboffset[side] >= 0) {
        char *row;
        memcpy(&row, p, sizeof row);
        p = row + d->suboffset[side];
    }
    return p;
}

typedef struct walk {
    const xbuf_plan *plan;
    int outer; /* dimensions walked here; the rest go to the block */
    xbuf_block_fn block;
    void *context;
} walk;

static int walk_level(const walk *w, int dim, char *p0, char *p1)
{
    if (dim == w->outer)
        return w->block(w->plan, dim, p0, p1, w->context);
    const xbuf_dim *d = &w->plan->dims[dim];
    for (ptrdiff_t i = 0; i < d->extent; i++) {
        int rc = walk_level(w, dim + 1, step(d, 0, p0, i), step(d, 1, p1, i));
        if (rc != 0)
            return rc;
    }
    return 0;
}

int xbuf_plan_run(const xbuf_plan *plan, int kernel_ndim, xbuf_block_fn block, void *context)
{
    if (plan->empty)
        return 0;
    walk w = {plan, plan->ndim - kernel_ndim, block, context};
    return walk_level(&w, 0, plan->base[0], plan->base[1]);
}
