/*
 * layout.c -- contiguity, strides, item addresses and byte ranges.
 *
 * These functions work on a view's metadata only.  Where a view leaves
 * shape or strides NULL they use what the protocol implies: NULL shape is
 * 1-D with len / itemsize items, NULL strides are C-contiguous.
 */
#include <string.h>

#include "internal.h"

int xbuf_check_shape(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, xbuf_error *err)
{
    RETURN_ERROR_IF(ndim < 0 || ndim > XBUF_MAX_NDIM, err, XBUF_EINVAL,
                    "ndim %d is outside 0..%d", ndim, XBUF_MAX_NDIM);
    RETURN_ERROR_IF(ndim > 0 && shape == NULL, err, XBUF_EINVAL, "shape is NULL");
    RETURN_ERROR_IF(itemsize <= 0, err, XBUF_EINVAL, "itemsize %td is not positive", itemsize);
    for (int i = 0; i < ndim; i++)
        RETURN_ERROR_IF(shape[i] < 0, err, XBUF_EINVAL, "shape[%d] = %td is negative", i,
                        shape[i]);
    return XBUF_OK;
}

static bool has_no_items(int ndim, const ptrdiff_t *shape)
{
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            return true;
    return false;
}

int xbuf_strides_fill(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, char order,
                      ptrdiff_t *strides, xbuf_error *err)
{
    RETURN_IF_FAILED(xbuf_check_shape(ndim, shape, itemsize, err));
    RETURN_ERROR_IF(ndim > 0 && strides == NULL, err, XBUF_EINVAL, "strides is NULL");
    RETURN_ERROR_IF(order != 'C' && order != 'F', err, XBUF_EINVAL,
                    "order must be 'C' or 'F', not '%c'", order);
    ptrdiff_t computed[XBUF_MAX_NDIM];
    ptrdiff_t step = itemsize;
    for (int k = 0; k < ndim; k++) {
        int i = order == 'C' ? ndim - 1 - k : k;
        computed[i] = step;
        RETURN_ERROR_IF(xbuf_mul_overflow(step, shape[i], &step), err, XBUF_EOVERFLOW,
                        "array size overflows ptrdiff_t");
    }
    if (ndim > 0)
        memcpy(strides, computed, (size_t)ndim * sizeof *strides);
    return XBUF_OK;
}

/* Whether strides step exactly like a packed array, visiting dimensions
 * from `first` in direction `step` (-1 from the last: C order; +1 from the
 * first: F order).  Dimensions of extent 1 are skipped: their stride is
 * never used. */
static bool steps_packed_from(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                              ptrdiff_t itemsize, int first, int step)
{
    ptrdiff_t expected = itemsize;
    for (int k = 0, i = first; k < ndim; k++, i += step) {
        if (shape[i] > 1 && strides[i] != expected)
            return false;
        if (xbuf_mul_overflow(expected, shape[i], &expected))
            return false;
    }
    return true;
}

static bool steps_packed(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                         ptrdiff_t itemsize, char order)
{
    bool c = order != 'F' && steps_packed_from(ndim, shape, strides, itemsize, ndim - 1, -1);
    return c || (order != 'C' && steps_packed_from(ndim, shape, strides, itemsize, 0, 1));
}

/* C-contiguous with implied (NULL) strides is F-contiguous only when at
 * most one dimension has more than one item. */
static bool implied_strides_are_fortran(int ndim, const ptrdiff_t *shape)
{
    int long_dims = 0;
    for (int i = 0; i < ndim; i++)
        long_dims += shape[i] > 1;
    return long_dims <= 1;
}

bool xbuf_is_contiguous(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                        ptrdiff_t itemsize, char order)
{
    if (order != 'C' && order != 'F' && order != 'A')
        return false;
    if (xbuf_check_shape(ndim, shape, itemsize, NULL) < 0)
        return false;
    if (has_no_items(ndim, shape))
        return true;
    if (strides == NULL)
        return order != 'F' || implied_strides_are_fortran(ndim, shape);
    return steps_packed(ndim, shape, strides, itemsize, order);
}

const ptrdiff_t *xbuf_view_shape(const xbuf_view *view, ptrdiff_t *implied)
{
    if (view->shape != NULL || view->ndim == 0)
        return view->shape;
    *implied = view->itemsize > 0 ? view->len / view->itemsize : 0;
    return implied;
}

int xbuf_first_indirect(const xbuf_view *view)
{
    for (int i = 0; view->suboffsets != NULL && i < view->ndim; i++)
        if (view->suboffsets[i] >= 0)
            return i;
    return -1;
}

int xbuf_flags_carried(const xbuf_view *view)
{
    return (view->shape ? XBUF_ND : 0) | (view->strides ? XBUF_STRIDES : 0) |
           (view->suboffsets ? XBUF_INDIRECT : 0) | (view->format ? XBUF_FORMAT : 0);
}

bool xbuf_view_is_contiguous(const xbuf_view *view, char order)
{
    if (view == NULL || (order != 'C' && order != 'F' && order != 'A'))
        return false;
    if (xbuf_view_check(view, xbuf_flags_carried(view), NULL) < 0)
        return false;
    return xbuf_checked_view_is_contiguous(view, order);
}

bool xbuf_checked_view_is_contiguous(const xbuf_view *view, char order)
{
    if (xbuf_first_indirect(view) >= 0)
        return false;
    if (view->shape == NULL || view->len == 0)
        return true; /* at most 1-d and packed, or no items */
    if (view->strides == NULL)
        return order != 'F' || implied_strides_are_fortran(view->ndim, view->shape);
    return steps_packed(view->ndim, view->shape, view->strides, view->itemsize, order);
}

int xbuf_extent(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides, ptrdiff_t itemsize,
                ptrdiff_t *lo, ptrdiff_t *hi, xbuf_error *err)
{
    RETURN_IF_FAILED(xbuf_check_shape(ndim, shape, itemsize, err));
    RETURN_ERROR_IF(lo == NULL || hi == NULL, err, XBUF_EINVAL, "lo or hi is NULL");
    ptrdiff_t low = 0, high = itemsize;
    if (has_no_items(ndim, shape)) {
        *lo = *hi = 0;
        return XBUF_OK;
    }
    if (strides == NULL) {
        for (int i = 0; i < ndim; i++)
            RETURN_ERROR_IF(xbuf_mul_overflow(high, shape[i], &high), err, XBUF_EOVERFLOW,
                            "array size overflows ptrdiff_t");
    }
    for (int i = 0; strides != NULL && i < ndim; i++) {
        ptrdiff_t span;
        RETURN_ERROR_IF(xbuf_mul_overflow(strides[i], shape[i] - 1, &span), err,
                        XBUF_EOVERFLOW, "strides[%d] * (shape[%d] - 1) overflows ptrdiff_t",
                        i, i);
        bool overflow = span < 0 ? xbuf_add_overflow(low, span, &low)
                                 : xbuf_add_overflow(high, span, &high);
        RETURN_ERROR_IF(overflow, err, XBUF_EOVERFLOW,
                        "the memory the strides span overflows ptrdiff_t");
    }
    ptrdiff_t span_total;
    RETURN_ERROR_IF(xbuf_sub_overflow(high, low, &span_total), err, XBUF_EOVERFLOW,
                    "the memory the strides span overflows ptrdiff_t");
    *lo = low;
    *hi = high;
    return XBUF_OK;
}

int xbuf_view_extent(const xbuf_view *view, ptrdiff_t *lo, ptrdiff_t *hi, xbuf_error *err)
{
    RETURN_ERROR_IF(view == NULL, err, XBUF_EINVAL, "view is NULL");
    RETURN_ERROR_IF(view->ndim > 1 && view->shape == NULL, err, XBUF_EINVAL,
                    "a %d-d view needs a shape", view->ndim);
    ptrdiff_t implied;
    const ptrdiff_t *shape = xbuf_view_shape(view, &implied);
    int indirect = xbuf_first_indirect(view);
    /* A view without items reads nothing, not even its pointer tables. */
    if (indirect < 0 || (view->ndim > 0 && has_no_items(view->ndim, shape)))
        return xbuf_extent(view->ndim, shape, view->strides, view->itemsize, lo, hi, err);
    RETURN_ERROR_IF(view->strides == NULL, err, XBUF_EINVAL, "suboffsets need strides");
    return xbuf_extent(indirect + 1, shape, view->strides, (ptrdiff_t)sizeof(void *), lo, hi,
                       err);
}

/* The stride of dimension `dim`: the view's own, or the C-contiguous one. */
static int stride_of(const xbuf_view *view, const ptrdiff_t *shape, int dim, ptrdiff_t *stride,
                     xbuf_error *err)
{
    if (view->strides != NULL) {
        *stride = view->strides[dim];
        return XBUF_OK;
    }
    *stride = view->itemsize;
    for (int i = view->ndim - 1; i > dim; i--)
        RETURN_ERROR_IF(xbuf_mul_overflow(*stride, shape[i], stride), err, XBUF_EOVERFLOW,
                        "array size overflows ptrdiff_t");
    return XBUF_OK;
}

static int step_into(const xbuf_view *view, const ptrdiff_t *shape, int dim, ptrdiff_t index,
                     char **pointer, xbuf_error *err)
{
    RETURN_ERROR_IF(index < 0 || index >= shape[dim], err, XBUF_ERANGE,
                    "index %td is out of range for dimension %d of extent %td", index, dim,
                    shape[dim]);
    ptrdiff_t stride, offset;
    RETURN_IF_FAILED(stride_of(view, shape, dim, &stride, err));
    RETURN_ERROR_IF(xbuf_mul_overflow(stride, index, &offset), err, XBUF_EOVERFLOW,
                    "offset of index %td in dimension %d overflows", index, dim);
    *pointer += offset;
    if (view->suboffsets != NULL && view->suboffsets[dim] >= 0) {
        char *row;
        memcpy(&row, *pointer, sizeof row);
        RETURN_ERROR_IF(row == NULL, err, XBUF_EEXPORTER,
                        "indirect view holds a NULL pointer in dimension %d", dim);
        *pointer = row + view->suboffsets[dim];
    }
    return XBUF_OK;
}

int xbuf_view_pointer(const xbuf_view *view, const ptrdiff_t *indices, void **out,
                      xbuf_error *err)
{
    RETURN_ERROR_IF(view == NULL || out == NULL, err, XBUF_EINVAL, "view or out is NULL");
    RETURN_ERROR_IF(view->ndim < 0 || view->ndim > XBUF_MAX_NDIM, err, XBUF_EINVAL,
                    "ndim %d is outside 0..%d", view->ndim, XBUF_MAX_NDIM);
    RETURN_ERROR_IF(view->ndim > 0 && indices == NULL, err, XBUF_EINVAL, "indices is NULL");
    RETURN_ERROR_IF(view->ndim > 1 && view->shape == NULL, err, XBUF_EINVAL,
                    "a %d-d view needs a shape", view->ndim);
    RETURN_ERROR_IF(view->suboffsets != NULL && view->strides == NULL, err, XBUF_EINVAL,
                    "suboffsets need strides");
    ptrdiff_t implied;
    const ptrdiff_t *shape = xbuf_view_shape(view, &implied);
    char *pointer = view->buf;
    for (int dim = 0; dim < view->ndim; dim++)
        RETURN_IF_FAILED(step_into(view, shape, dim, indices[dim], &pointer, err));
    *out = pointer;
    return XBUF_OK;
}

/* The pointers of dimensions dim..last below `p`, depth first. */
static int check_rows(const xbuf_view *view, const ptrdiff_t *shape, int dim, int last,
                      const char *p, xbuf_error *err)
{
    for (ptrdiff_t i = 0; dim <= last && i < shape[dim]; i++) {
        const char *q = p + i * view->strides[dim];
        if (view->suboffsets[dim] >= 0) {
            const char *row;
            memcpy(&row, q, sizeof row);
            RETURN_ERROR_IF(row == NULL, err, XBUF_EEXPORTER,
                            "indirect view holds a NULL pointer at index %td of dimension %d", i,
                            dim);
            q = row + view->suboffsets[dim];
        }
        RETURN_IF_FAILED(check_rows(view, shape, dim + 1, last, q, err));
    }
    return XBUF_OK;
}

int xbuf_check_pointers(const xbuf_view *view, xbuf_error *err)
{
    if (xbuf_first_indirect(view) < 0)
        return XBUF_OK;
    ptrdiff_t implied;
    const ptrdiff_t *shape = xbuf_view_shape(view, &implied);
    if (has_no_items(view->ndim, shape))
        return XBUF_OK; /* nothing is reached, not even the tables */
    int last = view->ndim - 1;
    while (view->suboffsets[last] < 0)
        last--;
    return check_rows(view, shape, 0, last, view->buf, err);
}
