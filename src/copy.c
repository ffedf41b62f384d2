/*
 * copy.c -- xbuf_copy and the functions built on it: to and from
 * contiguous memory, and fill.
 *
 * Order of work in every entry point: validate everything (views, shapes,
 * itemsizes, writability), allocate what may be needed (the overlap
 * temporary), and only then write.  So every error leaves the destination
 * untouched.
 */
#include <string.h>

#include "copy_internal.h"

/* ---- running a copy plan ----------------------------------------------- */

/* A transpose: the inner dimension is packed on one side only, and the
 * dimension outside it is packed on the other. */
static bool is_transpose(const xbuf_plan *plan, ptrdiff_t itemsize)
{
    if (plan->ndim < 2)
        return false;
    const xbuf_dim *inner = &plan->dims[plan->ndim - 1], *outer = &plan->dims[plan->ndim - 2];
    return inner->stride[0] == itemsize && inner->stride[1] != itemsize &&
           outer->stride[1] == itemsize;
}

static int copy_block_2d(const xbuf_plan *plan, int first, char *d, char *s, void *context)
{
    (void)context;
    const xbuf_dim *outer = &plan->dims[first], *inner = &plan->dims[first + 1];
    xbuf_copy_transposed(d, outer->stride[0], s, inner->stride[1], outer->extent, inner->extent,
                         plan->itemsize[0]);
    return 0;
}

/* How the runs of a copy are written (see run_copy). */
typedef struct run_policy {
    bool many_runs;      /* packed runs go to the run kernel, not memcpy */
    bool stream_packed;  /* ... with streaming stores */
    bool stream_gathers; /* gathers use streaming stores */
} run_policy;

static int copy_block_1d(const xbuf_plan *plan, int first, char *d, char *s, void *context)
{
    const run_policy *policy = context;
    const xbuf_dim *dim = &plan->dims[first];
    ptrdiff_t itemsize = plan->itemsize[0];
    if (policy->many_runs && dim->stride[0] == itemsize && dim->stride[1] == itemsize)
        xbuf_copy_packed_run(d, s, dim->extent * itemsize, policy->stream_packed);
    else
        xbuf_copy_strided(d, dim->stride[0], s, dim->stride[1], dim->extent, itemsize,
                          policy->stream_gathers);
    return 0;
}

static int copy_block_item(const xbuf_plan *plan, int first, char *d, char *s, void *context)
{
    (void)first, (void)context;
    memcpy(d, s, (size_t)plan->itemsize[0]);
    return 0;
}

/* The output bytes of a copy; PTRDIFF_MAX if they overflow (they cannot,
 * for checked views, but the answer stays sound). */
static ptrdiff_t output_bytes(const xbuf_plan *plan)
{
    ptrdiff_t bytes = plan->itemsize[0];
    for (int i = 0; i < plan->ndim; i++)
        if (xbuf_mul_overflow(bytes, plan->dims[i].extent, &bytes))
            return PTRDIFF_MAX;
    return bytes;
}

static void run_copy(const xbuf_plan *plan)
{
    ptrdiff_t itemsize = plan->itemsize[0];
    int tail = xbuf_plan_direct_tail(plan, 2);
    if (tail == 2 && is_transpose(plan, itemsize)) {
        xbuf_plan_run(plan, 2, copy_block_2d, NULL);
    } else if (tail >= 1) {
        /* A single packed run is memcpy's, with its own policy for large
         * sizes; many runs go to the run kernel. */
        ptrdiff_t bytes = output_bytes(plan);
        bool many_runs = plan->ndim >= 2;
        run_policy policy = {many_runs, many_runs && bytes >= XBUF_STREAMING_RUNS_BYTES,
                             bytes >= XBUF_STREAMING_BYTES};
        xbuf_plan_run(plan, 1, copy_block_1d, &policy);
        if (policy.stream_packed || policy.stream_gathers)
            xbuf_streaming_fence();
    } else {
        xbuf_plan_run(plan, 0, copy_block_item, NULL);
    }
}

/* ---- overlap ------------------------------------------------------------ */

typedef struct span {
    const char *lo, *hi;
} span;

static bool spans_meet(span a, span b)
{
    return a.lo < b.hi && b.lo < a.hi;
}

/* The bytes a direct view touches. */
static span direct_span(const xbuf_view *v)
{
    ptrdiff_t lo = 0, hi = 0;
    xbuf_view_extent(v, &lo, &hi, NULL); /* cannot fail: the view was checked */
    return (span){(const char *)v->buf + lo, (const char *)v->buf + hi};
}

/* Does any memory an indirect view reads -- each pointer table and the
 * rows at the end -- meet `other`?  From dimension `from` at address p:
 * the region up to and including the next indirect dimension is read
 * directly; each pointer loaded there leads to the next region. */
static bool region_meets(const xbuf_view *v, int from, char *p, span other);

static bool tables_meet(const xbuf_view *v, int dim, int last, char *p, span other)
{
    if (dim > last) {
        char *next;
        memcpy(&next, p, sizeof next);
        return region_meets(v, last + 1, next + v->suboffsets[last], other);
    }
    for (ptrdiff_t i = 0; i < v->shape[dim]; i++)
        if (tables_meet(v, dim + 1, last, p + i * v->strides[dim], other))
            return true;
    return false;
}

static bool region_meets(const xbuf_view *v, int from, char *p, span other)
{
    int last = from;
    while (last < v->ndim && v->suboffsets[last] < 0)
        last++;
    bool table = last < v->ndim;
    int end = table ? last + 1 : v->ndim;
    ptrdiff_t lo, hi;
    ptrdiff_t item = table ? (ptrdiff_t)sizeof(char *) : v->itemsize;
    if (xbuf_extent(end - from, v->shape + from, v->strides + from, item, &lo, &hi, NULL) < 0)
        return true; /* cannot happen for a checked view; be safe */
    if (spans_meet((span){p + lo, p + hi}, other))
        return true;
    return table && tables_meet(v, from, last, p, other);
}

/* Conservative for two indirect views, where rows against rows would cost
 * more than the copy. */
bool xbuf_views_overlap(const xbuf_view *dst, const xbuf_view *src)
{
    bool dst_indirect = xbuf_first_indirect(dst) >= 0,
         src_indirect = xbuf_first_indirect(src) >= 0;
    if (dst_indirect && src_indirect)
        return true;
    if (dst_indirect)
        return region_meets(dst, 0, dst->buf, direct_span(src));
    if (src_indirect)
        return region_meets(src, 0, src->buf, direct_span(dst));
    return spans_meet(direct_span(dst), direct_span(src));
}

/* The same memory with the same layout: copying changes nothing. */
static bool same_layout(const xbuf_view *dst, const xbuf_view *src)
{
    if (dst->buf != src->buf || dst->suboffsets != NULL || src->suboffsets != NULL ||
        dst->ndim != src->ndim || dst->itemsize != src->itemsize)
        return false;
    for (int i = 0; i < dst->ndim; i++) {
        ptrdiff_t a = dst->strides ? dst->strides[i] : 0, b = src->strides ? src->strides[i] : 0;
        if ((dst->strides == NULL) != (src->strides == NULL) || a != b)
            return false;
    }
    return true;
}

/* ---- the public functions ------------------------------------------------ */

static int check_writable(const xbuf_view *dst, xbuf_error *err)
{
    RETURN_ERROR_IF(dst == NULL, err, XBUF_EINVAL, "destination view is NULL");
    RETURN_ERROR_IF(dst->readonly, err, XBUF_EREADONLY, "cannot write to read-only memory");
    return XBUF_OK;
}

void xbuf_packed_like(xbuf_view *packed, const xbuf_view *like, void *memory,
                      ptrdiff_t *implied)
{
    *packed = *like;
    packed->buf = memory;
    packed->readonly = 0;
    packed->suboffsets = NULL;
    packed->strides = NULL; /* C-contiguous */
    if (like->ndim > 0 && like->shape == NULL) {
        *implied = like->len / like->itemsize;
        packed->shape = implied;
    }
}

int xbuf_temporary_like(xbuf_view *packed, const xbuf_view *like, ptrdiff_t *implied,
                        const char *purpose, xbuf_error *err)
{
    void *memory = xbuf_malloc((size_t)like->len);
    RETURN_ERROR_IF(memory == NULL, err, XBUF_ENOMEM, "cannot allocate %td bytes for %s",
                    like->len, purpose);
    xbuf_packed_like(packed, like, memory, implied);
    return XBUF_OK;
}

void xbuf_temporary_free(xbuf_view *packed)
{
    xbuf_free(packed->buf, (size_t)packed->len);
}

/* Copy through a temporary, for sources that overlap the destination. */
static int copy_via_temporary(const xbuf_view *dst, const xbuf_view *src, xbuf_error *err)
{
    ptrdiff_t implied;
    xbuf_view packed;
    RETURN_IF_FAILED(xbuf_temporary_like(&packed, src, &implied, "an overlapping copy", err));
    xbuf_plan in, out;
    int rc = xbuf_plan_build(&in, &packed, src, true, err);
    if (rc == XBUF_OK)
        rc = xbuf_plan_build(&out, dst, &packed, true, err);
    if (rc == XBUF_OK) {
        run_copy(&in);
        run_copy(&out);
    }
    xbuf_temporary_free(&packed);
    return rc;
}

int xbuf_copy(const xbuf_view *dst, const xbuf_view *src, xbuf_error *err)
{
    RETURN_IF_FAILED(check_writable(dst, err));
    RETURN_ERROR_IF(src == NULL, err, XBUF_EINVAL, "source view is NULL");
    xbuf_plan plan;
    RETURN_IF_FAILED(xbuf_plan_build(&plan, dst, src, true, err));
    RETURN_ERROR_IF(dst->itemsize != src->itemsize, err, XBUF_ETYPE,
                    "views have different itemsizes (%td and %td)", dst->itemsize,
                    src->itemsize);
    if (plan.empty || same_layout(dst, src))
        return XBUF_OK;
    if (xbuf_views_overlap(dst, src))
        return copy_via_temporary(dst, src, err);
    run_copy(&plan);
    return XBUF_OK;
}

/* 'A': Fortran order only for views that are F- and not C-contiguous. */
static int resolve_order(const xbuf_view *v, char order, char *resolved, xbuf_error *err)
{
    RETURN_ERROR_IF(order != 'C' && order != 'F' && order != 'A', err, XBUF_EINVAL,
                    "order must be 'C', 'F' or 'A', not '%c'", order);
    if (order == 'A')
        order = xbuf_view_is_contiguous(v, 'F') && !xbuf_view_is_contiguous(v, 'C') ? 'F' : 'C';
    *resolved = order;
    return XBUF_OK;
}

/* A contiguous view of `memory` in `order` with the shape of `like`. */
static int contiguous_like(xbuf_view *packed, ptrdiff_t *shape, ptrdiff_t *strides,
                           const xbuf_view *like, void *memory, ptrdiff_t len, char order,
                           xbuf_error *err)
{
    RETURN_ERROR_IF(like == NULL || (memory == NULL && len > 0), err, XBUF_EINVAL,
                    "view or memory is NULL");
    RETURN_IF_FAILED(xbuf_check_operand(like, err));
    RETURN_ERROR_IF(len != like->len, err, XBUF_EINVAL,
                    "contiguous buffer has %td bytes, the view %td", len, like->len);
    RETURN_IF_FAILED(resolve_order(like, order, &order, err));
    memset(packed, 0, sizeof *packed);
    packed->buf = memory;
    packed->len = len;
    packed->itemsize = like->itemsize;
    packed->ndim = like->ndim;
    if (like->ndim > 0) {
        ptrdiff_t implied;
        memcpy(shape, xbuf_view_shape(like, &implied), (size_t)like->ndim * sizeof *shape);
        packed->shape = shape;
        packed->strides = strides;
        /* Only a view without items can have extents whose product
         * overflows; its strides are never used. */
        if (xbuf_strides_fill(like->ndim, shape, like->itemsize, order, strides, NULL) < 0)
            memset(strides, 0, (size_t)like->ndim * sizeof *strides);
    }
    return XBUF_OK;
}

int xbuf_copy_to_contiguous(void *dst, ptrdiff_t len, const xbuf_view *src, char order,
                            xbuf_error *err)
{
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    xbuf_view packed;
    RETURN_ERROR_IF(src == NULL, err, XBUF_EINVAL, "source view is NULL");
    RETURN_IF_FAILED(contiguous_like(&packed, shape, strides, src, dst, len, order, err));
    return xbuf_copy(&packed, src, err);
}

int xbuf_copy_from_contiguous(const xbuf_view *dst, const void *src, ptrdiff_t len, char order,
                              xbuf_error *err)
{
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    xbuf_view packed;
    RETURN_IF_FAILED(check_writable(dst, err));
    RETURN_IF_FAILED(
        contiguous_like(&packed, shape, strides, dst, (void *)src, len, order, err));
    packed.readonly = 1;
    return xbuf_copy(dst, &packed, err);
}

/* Fill: a source of one item repeated, i.e. every stride zero. */
int xbuf_fill(const xbuf_view *dst, const void *item, xbuf_error *err)
{
    RETURN_IF_FAILED(check_writable(dst, err));
    RETURN_ERROR_IF(item == NULL, err, XBUF_EINVAL, "item is NULL");
    RETURN_ERROR_IF(dst->ndim < 0 || dst->ndim > XBUF_MAX_NDIM || dst->itemsize <= 0, err,
                    XBUF_EINVAL, "destination view is malformed");
    /* The item may lie inside dst: take a copy before writing. */
    unsigned char local[64];
    unsigned char *value = local;
    if ((size_t)dst->itemsize > sizeof local) {
        value = xbuf_malloc((size_t)dst->itemsize);
        RETURN_ERROR_IF(value == NULL, err, XBUF_ENOMEM, "cannot allocate one item");
    }
    memcpy(value, item, (size_t)dst->itemsize);
    ptrdiff_t zeros[XBUF_MAX_NDIM] = {0}, shape[1];
    xbuf_view repeated = *dst;
    repeated.buf = value;
    repeated.readonly = 1;
    repeated.suboffsets = NULL;
    if (dst->ndim > 0 && dst->shape == NULL) {
        shape[0] = dst->len / dst->itemsize;
        repeated.shape = shape;
    }
    repeated.strides = dst->ndim > 0 ? zeros : NULL;
    xbuf_plan plan;
    int rc = xbuf_plan_build(&plan, dst, &repeated, true, err);
    if (rc == XBUF_OK)
        run_copy(&plan);
    if (value != local)
        xbuf_free(value, (size_t)dst->itemsize);
    return rc;
}
