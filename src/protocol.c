/*
 * protocol.c -- get, release, move, request checking and fill_info.
 *
 * xbuf_get() trusts nothing the exporter says.  Every answer is checked
 * against the protocol and the request before the consumer sees it; a view
 * that fails the check goes straight back to the exporter's release hook,
 * so a lying exporter costs the consumer an error message, never a crash
 * and never a leaked export.
 */
#include <string.h>

#include "internal.h"

/* ---- request flags ---------------------------------------------------- */

int xbuf_flags_check(int flags, xbuf_error *err)
{
    RETURN_ERROR_IF((flags & ~XBUF_FLAGS_ALL) != 0, err, XBUF_EINVAL,
                    "request flags 0x%x contain unknown bits 0x%x", (unsigned)flags,
                    (unsigned)(flags & ~XBUF_FLAGS_ALL));
    /* Each composite flag's own bit must come with the bits it implies:
     * STRIDES' bit needs ND, the contiguity and INDIRECT bits need STRIDES. */
    RETURN_ERROR_IF((flags & 0x0010) && !(flags & XBUF_ND), err, XBUF_EINVAL,
                    "request flag STRIDES given without ND, which it implies");
    RETURN_ERROR_IF((flags & 0x01e0) && !XBUF_WANTS(flags, XBUF_STRIDES), err, XBUF_EINVAL,
                    "request flag %s given without STRIDES, which it implies",
                    (flags & 0x0020)   ? "C_CONTIGUOUS"
                    : (flags & 0x0040) ? "F_CONTIGUOUS"
                    : (flags & 0x0080) ? "ANY_CONTIGUOUS"
                                       : "INDIRECT");
    return XBUF_OK;
}

/* ---- checking an exporter's answer ------------------------------------ */

#define BROKEN(cond, err, ...) RETURN_ERROR_IF(cond, err, XBUF_EEXPORTER, __VA_ARGS__)

static int check_scalars(const xbuf_view *view, int flags, xbuf_error *err)
{
    BROKEN(view->ndim < 0 || view->ndim > XBUF_MAX_NDIM, err,
           "exporter gave ndim %d, outside 0..%d", view->ndim, XBUF_MAX_NDIM);
    BROKEN(view->itemsize <= 0, err, "exporter gave itemsize %td; it must be positive",
           view->itemsize);
    BROKEN(view->len < 0, err, "exporter gave a negative len (%td)", view->len);
    BROKEN(view->buf == NULL && view->len > 0, err,
           "exporter gave a NULL buf for %td bytes", view->len);
    BROKEN(view->format != NULL && view->format[0] == '\0', err,
           "exporter gave an empty format string");
    BROKEN((flags & XBUF_FORMAT) && view->format == NULL, err,
           "request asked for FORMAT but the exporter gave no format");
    BROKEN((flags & XBUF_WRITABLE) && view->readonly, err,
           "request asked for WRITABLE but the exporter gave a read-only view");
    return XBUF_OK;
}

/* A view without shape: 1-d with len / itemsize items, or 0-d. */
static int check_implied_shape(const xbuf_view *view, int flags, xbuf_error *err)
{
    BROKEN(XBUF_WANTS(flags, XBUF_ND) && view->ndim > 0, err,
           "request asked for ND but the exporter gave no shape");
    BROKEN(view->ndim > 1, err, "exporter gave ndim %d but no shape", view->ndim);
    BROKEN(view->strides != NULL && view->ndim > 0, err,
           "exporter gave strides without a shape");
    /* Without ND the consumer reads len bytes whatever ndim says, and NumPy
     * answers such requests with ndim 0 (xbuf_get then makes it 1). */
    BROKEN(view->ndim == 0 && view->len != view->itemsize && XBUF_WANTS(flags, XBUF_ND), err,
           "exporter gave a 0-d view whose len %td differs from its itemsize %td", view->len,
           view->itemsize);
    BROKEN(view->len % view->itemsize != 0, err,
           "exporter gave len %td, not a multiple of itemsize %td", view->len, view->itemsize);
    return XBUF_OK;
}

/* Shape and strides in one pass, since this runs on every xbuf_get: len
 * must be product(shape) * itemsize and the span of memory the strides
 * reach must fit in ptrdiff_t (unless the view holds no item at all). */
static int check_geometry(const xbuf_view *view, int flags, xbuf_error *err)
{
    if (view->shape == NULL)
        return check_implied_shape(view, flags, err);
    BROKEN(view->strides == NULL && XBUF_WANTS(flags, XBUF_STRIDES) && view->ndim > 0, err,
           "request asked for STRIDES but the exporter gave no strides");
    ptrdiff_t bytes = view->itemsize, low = 0, high = view->itemsize;
    bool size_overflows = false, spans_overflow = false;
    for (int i = 0; i < view->ndim; i++) {
        ptrdiff_t extent = view->shape[i], span;
        BROKEN(extent < 0, err, "exporter gave a negative extent: shape[%d] = %td", i, extent);
        if (extent == 0) {
            bytes = 0; /* no items, whatever the other extents: nothing overflows */
            size_overflows = false;
            continue;
        }
        size_overflows |= xbuf_mul_overflow(bytes, extent, &bytes);
        if (view->strides == NULL)
            continue;
        spans_overflow |= xbuf_mul_overflow(view->strides[i], extent - 1, &span) ||
                          (span < 0 ? xbuf_add_overflow(low, span, &low)
                                    : xbuf_add_overflow(high, span, &high));
    }
    BROKEN(size_overflows, err, "exporter gave a shape whose size overflows ptrdiff_t");
    BROKEN(bytes != view->len, err,
           "exporter gave len %td but product(shape) * itemsize is %td", view->len, bytes);
    BROKEN(bytes != 0 && (spans_overflow || xbuf_sub_overflow(high, low, &(ptrdiff_t){0})),
           err, "exporter gave strides whose byte span overflows ptrdiff_t");
    BROKEN(view->strides != NULL && !XBUF_WANTS(flags, XBUF_STRIDES) &&
               !xbuf_is_contiguous(view->ndim, view->shape, view->strides, view->itemsize, 'C'),
           err, "request did not ask for STRIDES but the exporter gave a non-C-contiguous view");
    return XBUF_OK;
}

static int check_suboffsets(const xbuf_view *view, int flags, xbuf_error *err)
{
    if (view->suboffsets == NULL)
        return XBUF_OK;
    /* INDIRECT implies STRIDES, so check_geometry has already required
     * strides to go with the suboffsets (a 0-d view needs neither). */
    BROKEN(!XBUF_WANTS(flags, XBUF_INDIRECT), err,
           "request did not ask for INDIRECT but the exporter gave suboffsets");
    return XBUF_OK;
}

static int check_contiguity(const xbuf_view *view, int flags, xbuf_error *err)
{
    if (XBUF_WANTS(flags, XBUF_C_CONTIGUOUS))
        BROKEN(!xbuf_checked_view_is_contiguous(view, 'C'), err,
               "request asked for C_CONTIGUOUS but the exporter gave a view that is not");
    if (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS))
        BROKEN(!xbuf_checked_view_is_contiguous(view, 'F'), err,
               "request asked for F_CONTIGUOUS but the exporter gave a view that is not");
    if (XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS))
        BROKEN(!xbuf_checked_view_is_contiguous(view, 'A'), err,
               "request asked for ANY_CONTIGUOUS but the exporter gave a view that is neither "
               "C- nor F-contiguous");
    return XBUF_OK;
}

/* xbuf_view_check for flags already known to be valid. */
static int check_answer(const xbuf_view *view, int flags, xbuf_error *err)
{
    RETURN_IF_FAILED(check_scalars(view, flags, err));
    RETURN_IF_FAILED(check_geometry(view, flags, err));
    RETURN_IF_FAILED(check_suboffsets(view, flags, err));
    if (flags & (XBUF_C_CONTIGUOUS | XBUF_F_CONTIGUOUS | XBUF_ANY_CONTIGUOUS) & ~XBUF_STRIDES)
        return check_contiguity(view, flags, err);
    return XBUF_OK;
}

int xbuf_view_check(const xbuf_view *view, int flags, xbuf_error *err)
{
    RETURN_ERROR_IF(view == NULL, err, XBUF_EINVAL, "view is NULL");
    RETURN_IF_FAILED(xbuf_flags_check(flags, err));
    return check_answer(view, flags, err);
}

/* ---- get, release, move ----------------------------------------------- */

static bool is_known_code(int code)
{
    return code < 0 && code > -XBUF_NCODES;
}

/* The exporter refused.  Pass its code and message on, supplying a message
 * when it gave none and replacing a code that is not an xbuf code. */
static int exporter_refused(int rc, const xbuf_error *said, xbuf_error *err)
{
    if (!is_known_code(rc))
        return xbuf_error_set(err, XBUF_EEXPORTER, "exporter failed with unknown code %d", rc);
    if (err == NULL)
        return rc;
    if (said->code == rc && said->message[0] != '\0') {
        *err = *said;
        /* An exporter that wrote the message without its NUL must not make
         * the consumer read past the struct. */
        err->message[XBUF_ERROR_MESSAGE_SIZE - 1] = '\0';
        return rc;
    }
    return xbuf_error_set(err, rc, "exporter refused the request: %s", xbuf_strerror(rc));
}

int xbuf_get(xbuf_exporter *exporter, xbuf_view *view, int flags, xbuf_error *err)
{
    RETURN_ERROR_IF(view == NULL, err, XBUF_EINVAL, "view is NULL");
    xbuf_view_clear(view);
    RETURN_ERROR_IF(exporter == NULL || exporter->get == NULL, err, XBUF_EINVAL,
                    "exporter is NULL or has no get hook");
    RETURN_IF_FAILED(xbuf_flags_check(flags, err));

    xbuf_error said;
    xbuf_error *said_ptr = NULL;
    if (err != NULL) {
        said.code = XBUF_OK;
        said.message[0] = '\0';
        said_ptr = &said;
    }
    int rc = exporter->get(exporter, view, flags, said_ptr);
    if (rc < 0) {
        /* A refusing exporter must not have filled the view; if it did
         * anyway, its release hook cannot be trusted with it either. */
        xbuf_view_clear(view);
        return exporter_refused(rc, said_ptr, err);
    }
    if (rc > 0) {
        xbuf_release(view);
        return xbuf_error_set(err, XBUF_EEXPORTER,
                              "exporter's get hook returned %d; it must return 0 or a "
                              "negative code", rc);
    }
    rc = check_answer(view, flags, err);
    if (rc < 0)
        xbuf_release(view);
    else if (view->shape == NULL && view->ndim == 0 && view->len != view->itemsize)
        view->ndim = 1; /* a shapeless answer of several items (NumPy's), as its consumer reads it */
    return rc;
}

void xbuf_release(xbuf_view *view)
{
    if (view == NULL)
        return;
    void (*release)(xbuf_view *) = view->release;
    /* Cleared first, so a hook that releases the view again is harmless. */
    view->release = NULL;
    if (release != NULL)
        release(view);
    xbuf_view_clear(view);
}

void xbuf_view_move(xbuf_view *src, xbuf_view *dst)
{
    if (src == NULL || dst == NULL || src == dst)
        return;
    *dst = *src;
    if (src->shape == &src->len)
        dst->shape = &dst->len;
    if (src->strides == &src->itemsize)
        dst->strides = &dst->itemsize;
    xbuf_view_clear(src);
}

/* ---- fill_info ---------------------------------------------------------- */

int xbuf_fill_info(xbuf_view *view, void *obj, void *buf, ptrdiff_t len, int readonly,
                   int flags, xbuf_error *err)
{
    RETURN_ERROR_IF(view == NULL, err, XBUF_EINVAL, "view is NULL");
    xbuf_view_clear(view);
    RETURN_IF_FAILED(xbuf_flags_check(flags, err));
    RETURN_ERROR_IF(len < 0, err, XBUF_EINVAL, "len %td is negative", len);
    RETURN_ERROR_IF(buf == NULL && len > 0, err, XBUF_EINVAL, "buf is NULL for %td bytes",
                    len);
    RETURN_ERROR_IF((flags & XBUF_WRITABLE) && readonly, err, XBUF_EREQUEST,
                    "request asked for WRITABLE but the memory is read-only");
    view->buf = buf;
    view->obj = obj;
    view->len = len;
    view->itemsize = 1;
    view->readonly = readonly != 0;
    view->ndim = 1;
    view->format = (flags & XBUF_FORMAT) ? "B" : NULL;
    /* Shape and strides point into the view itself, as CPython's do: a
     * 1-D byte view's extent is its len and its stride its itemsize. */
    view->shape = XBUF_WANTS(flags, XBUF_ND) ? &view->len : NULL;
    view->strides = XBUF_WANTS(flags, XBUF_STRIDES) ? &view->itemsize : NULL;
    return XBUF_OK;
}
