/*
 * convert.c -- xbuf_copy_convert: copying values between numeric formats.
 *
 * Three paths, fastest first: equal formats are a plain copy; formats that
 * differ only in byte order run the byte-swapping kernel; anything else
 * converts value by value through the scalar codec into a temporary laid
 * out like the destination, then copies that into place.  The temporary is
 * what makes "check every value before writing the first" and overlapping
 * operands both come out right.
 */
#include <math.h>
#include <string.h>

#include "copy_internal.h"

static bool is_numeric(const xbuf_type *t)
{
    return t->kind == XBUF_KIND_INT || t->kind == XBUF_KIND_UINT || t->kind == XBUF_KIND_BOOL ||
           t->kind == XBUF_KIND_FLOAT || t->kind == XBUF_KIND_COMPLEX;
}

static int parse_leaf(const xbuf_view *v, const char *side, xbuf_format **out, xbuf_error *err)
{
    RETURN_IF_FAILED(xbuf_view_format(v, out, err));
    const xbuf_type *t = xbuf_format_type(*out);
    if (!is_numeric(t) || t->itemsize != v->itemsize) {
        xbuf_format_release(*out);
        *out = NULL;
        return xbuf_error_set(err, XBUF_EUNSUPPORTED,
                              "%s format '%s' is not a single number of the view's itemsize",
                              side, v->format != NULL ? v->format : "B");
    }
    return XBUF_OK;
}

/* ---- byte order only ----------------------------------------------------- */

/* The same values in the same bytes: alignment (which "d" has and "<d"
 * has not) does not matter to a copy. */
static bool same_values(const xbuf_type *a, const xbuf_type *b)
{
    return a->kind == b->kind && a->code == b->code && a->itemsize == b->itemsize &&
           a->byteorder == b->byteorder;
}

static bool differ_only_in_order(const xbuf_type *a, const xbuf_type *b)
{
    return a->kind == b->kind && a->code == b->code && a->itemsize == b->itemsize &&
           a->byteorder != b->byteorder;
}

/* n items, each reversed as a whole or, for complex, half by half. */
static void swap_run(const xbuf_type *t, char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
                     ptrdiff_t n)
{
    if (t->kind == XBUF_KIND_COMPLEX) {
        ptrdiff_t half = t->itemsize / 2;
        xbuf_copy_swapped(d, ds, s, ss, n, half);
        xbuf_copy_swapped(d + half, ds, s + half, ss, n, half);
    } else {
        xbuf_copy_swapped(d, ds, s, ss, n, t->itemsize);
    }
}

static int swap_block(const xbuf_plan *plan, int first, char *d, char *s, void *context)
{
    const xbuf_dim *dim = &plan->dims[first];
    swap_run(context, d, dim->stride[0], s, dim->stride[1], dim->extent);
    return 0;
}

static int swap_item(const xbuf_plan *plan, int first, char *d, char *s, void *context)
{
    (void)plan, (void)first;
    swap_run(context, d, 0, s, 0, 1);
    return 0;
}

/* ---- value by value ------------------------------------------------------- */

typedef struct converter {
    const xbuf_type *to, *from;
    bool wrap;
    int rc;
    xbuf_error *err;
} converter;

static int from_integer(const converter *c, char *d, const char *s)
{
    bool is_signed = c->from->kind == XBUF_KIND_INT;
    int64_t i = 0;
    uint64_t u = 0;
    RETURN_IF_FAILED(is_signed ? xbuf_scalar_read_int(c->from, s, &i, c->err)
                               : xbuf_scalar_read_uint(c->from, s, &u, c->err));
    switch (c->to->kind) {
    case XBUF_KIND_FLOAT:
        return xbuf_scalar_write_float(c->to, d, is_signed ? (long double)i : (long double)u,
                                       c->wrap, c->err);
    case XBUF_KIND_COMPLEX:
        return xbuf_scalar_write_complex(c->to, d, is_signed ? (long double)i : (long double)u,
                                         0, c->wrap, c->err);
    default:
        return is_signed ? xbuf_scalar_write_int(c->to, d, i, c->wrap, c->err)
                         : xbuf_scalar_write_uint(c->to, d, u, c->wrap, c->err);
    }
}

/* A float into an integer type: it must be finite and integral (or, when
 * wrapping, is truncated toward zero) and within 64 bits. */
static int float_to_integer(const converter *c, char *d, long double v)
{
    RETURN_ERROR_IF(!isfinite(v), c->err, XBUF_ERANGE, "%Lg has no integer value", v);
    long double whole = truncl(v);
    RETURN_ERROR_IF(whole != v && !c->wrap, c->err, XBUF_ERANGE,
                    "%Lg is not an integer", v);
    if (whole < 0) {
        RETURN_ERROR_IF(whole < -9223372036854775808.0L, c->err, XBUF_ERANGE,
                        "%Lg does not fit in 64 bits", v);
        return xbuf_scalar_write_int(c->to, d, (int64_t)whole, c->wrap, c->err);
    }
    RETURN_ERROR_IF(whole >= 18446744073709551616.0L, c->err, XBUF_ERANGE,
                    "%Lg does not fit in 64 bits", v);
    return xbuf_scalar_write_uint(c->to, d, (uint64_t)whole, c->wrap, c->err);
}

static int from_real(const converter *c, char *d, long double re, long double im)
{
    switch (c->to->kind) {
    case XBUF_KIND_COMPLEX:
        return xbuf_scalar_write_complex(c->to, d, re, im, c->wrap, c->err);
    case XBUF_KIND_FLOAT:
        RETURN_ERROR_IF(im != 0, c->err, XBUF_ERANGE,
                        "complex value has a non-zero imaginary part");
        return xbuf_scalar_write_float(c->to, d, re, c->wrap, c->err);
    default:
        RETURN_ERROR_IF(im != 0, c->err, XBUF_ERANGE,
                        "complex value has a non-zero imaginary part");
        return float_to_integer(c, d, re);
    }
}

static int convert_one(const converter *c, char *d, const char *s)
{
    long double re = 0, im = 0;
    switch (c->from->kind) {
    case XBUF_KIND_FLOAT:
        RETURN_IF_FAILED(xbuf_scalar_read_float(c->from, s, &re, c->err));
        return from_real(c, d, re, 0);
    case XBUF_KIND_COMPLEX:
        RETURN_IF_FAILED(xbuf_scalar_read_complex(c->from, s, &re, &im, c->err));
        return from_real(c, d, re, im);
    default:
        return from_integer(c, d, s);
    }
}

static int convert_block(const xbuf_plan *plan, int first, char *d, char *s, void *context)
{
    converter *c = context;
    ptrdiff_t n = 1, ds = 0, ss = 0;
    if (first < plan->ndim) {
        n = plan->dims[first].extent;
        ds = plan->dims[first].stride[0];
        ss = plan->dims[first].stride[1];
    }
    for (ptrdiff_t i = 0; i < n; i++, d += ds, s += ss) {
        c->rc = convert_one(c, d, s);
        if (c->rc < 0)
            return 1;
    }
    return 0;
}

/* Convert into a packed temporary shaped like dst, then copy it over. */
static int convert_values(const xbuf_view *dst, const xbuf_view *src, const xbuf_type *to,
                          const xbuf_type *from, bool wrap, xbuf_error *err)
{
    ptrdiff_t implied;
    xbuf_view packed;
    RETURN_IF_FAILED(xbuf_temporary_like(&packed, dst, &implied, "a conversion", err));
    xbuf_plan plan;
    converter c = {to, from, wrap, XBUF_OK, err};
    int rc = xbuf_plan_build(&plan, &packed, src, true, err);
    if (rc == XBUF_OK) {
        xbuf_plan_run(&plan, xbuf_plan_direct_tail(&plan, 1), convert_block, &c);
        rc = c.rc;
    }
    if (rc == XBUF_OK)
        rc = xbuf_copy(dst, &packed, err);
    xbuf_temporary_free(&packed);
    return rc;
}

static void run_swap(const xbuf_plan *plan, const xbuf_type *t)
{
    int tail = xbuf_plan_direct_tail(plan, 1);
    xbuf_plan_run(plan, tail, tail ? swap_block : swap_item, (void *)t);
}

/* A swap reads an item just before writing it, so only a source that
 * overlaps the destination elsewhere needs a (plain) temporary copy. */
static int swap_values(const xbuf_view *dst, const xbuf_view *src, const xbuf_type *t,
                       xbuf_error *err)
{
    xbuf_plan plan;
    if (!xbuf_views_overlap(dst, src)) {
        RETURN_IF_FAILED(xbuf_plan_build(&plan, dst, src, true, err));
        run_swap(&plan, t);
        return XBUF_OK;
    }
    /* Same shape and itemsize as src, so src's items fit it packed. */
    ptrdiff_t implied;
    xbuf_view packed;
    RETURN_IF_FAILED(
        xbuf_temporary_like(&packed, dst, &implied, "an overlapping conversion", err));
    int rc = xbuf_copy_to_contiguous(packed.buf, src->len, src, 'C', err);
    if (rc == XBUF_OK)
        rc = xbuf_plan_build(&plan, dst, &packed, true, err);
    if (rc == XBUF_OK)
        run_swap(&plan, t);
    xbuf_temporary_free(&packed);
    return rc;
}

int xbuf_copy_convert(const xbuf_view *dst, const xbuf_view *src, xbuf_overflow on_overflow,
                      xbuf_error *err)
{
    RETURN_ERROR_IF(dst == NULL || src == NULL, err, XBUF_EINVAL, "view is NULL");
    RETURN_ERROR_IF(dst->readonly, err, XBUF_EREADONLY, "cannot write to read-only memory");
    RETURN_ERROR_IF(on_overflow != XBUF_OVERFLOW_ERROR && on_overflow != XBUF_OVERFLOW_WRAP, err,
                    XBUF_EINVAL, "unknown overflow mode %d", (int)on_overflow);
    xbuf_plan plan;
    RETURN_IF_FAILED(xbuf_plan_build(&plan, dst, src, false, err));
    xbuf_format *to = NULL, *from = NULL;
    int rc = parse_leaf(dst, "destination", &to, err);
    if (rc == XBUF_OK)
        rc = parse_leaf(src, "source", &from, err);
    if (rc == XBUF_OK && !plan.empty) {
        const xbuf_type *t = xbuf_format_type(to), *f = xbuf_format_type(from);
        if (same_values(t, f))
            rc = xbuf_copy(dst, src, err);
        else if (differ_only_in_order(t, f))
            rc = swap_values(dst, src, t, err);
        else
            rc = convert_values(dst, src, t, f, on_overflow == XBUF_OVERFLOW_WRAP, err);
    }
    xbuf_format_release(to);
    xbuf_format_release(from);
    return rc;
}
