/*
 * samples.c -- the growable sample buffer exporter (see samples.h).
 */
#include "samples.h"

#include <string.h>

static int samples_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err);

int samples_create(samples **out, xbuf_error *err)
{
    if (out == NULL)
        return xbuf_error_set(err, XBUF_EINVAL, "out is NULL");
    *out = xbuf_malloc(sizeof **out);
    if (*out == NULL)
        return xbuf_error_set(err, XBUF_ENOMEM, "cannot allocate the sample buffer");
    memset(*out, 0, sizeof **out);
    (*out)->exporter.get = samples_get;
    (*out)->strides[0] = (ptrdiff_t)sizeof(int16_t);
    return XBUF_OK;
}

static int reserve(samples *buf, ptrdiff_t needed, xbuf_error *err)
{
    if (needed <= buf->capacity)
        return XBUF_OK;
    ptrdiff_t capacity = buf->capacity < 16 ? 16 : buf->capacity;
    while (capacity < needed)
        capacity = capacity > PTRDIFF_MAX / 4 ? needed : capacity * 2;
    if (capacity > PTRDIFF_MAX / (ptrdiff_t)sizeof(int16_t))
        return xbuf_error_set(err, XBUF_EOVERFLOW, "%td samples do not fit in memory", needed);
    int16_t *data = xbuf_realloc(buf->data, (size_t)buf->capacity * sizeof(int16_t),
                                 (size_t)capacity * sizeof(int16_t));
    if (data == NULL)
        return xbuf_error_set(err, XBUF_ENOMEM, "cannot grow to %td samples", capacity);
    buf->data = data;
    buf->capacity = capacity;
    return XBUF_OK;
}

int samples_append(samples *buf, const int16_t *values, ptrdiff_t count, xbuf_error *err)
{
    if (buf == NULL || (values == NULL && count > 0))
        return xbuf_error_set(err, XBUF_EINVAL, "buffer or values is NULL");
    if (count < 0)
        return xbuf_error_set(err, XBUF_EINVAL, "count %td is negative", count);
    if (count > PTRDIFF_MAX - buf->length)
        return xbuf_error_set(err, XBUF_EOVERFLOW, "too many samples");
    int rc = xbuf_exports_begin_resize(&buf->exports, err);
    if (rc < 0)
        return rc;
    rc = reserve(buf, buf->length + count, err);
    if (rc == XBUF_OK && count > 0) {
        memcpy(buf->data + buf->length, values, (size_t)count * sizeof(int16_t));
        buf->length += count;
        buf->shape[0] = buf->length;
    }
    xbuf_exports_end_resize(&buf->exports);
    return rc;
}

int samples_destroy(samples *buf, xbuf_error *err)
{
    if (buf == NULL)
        return XBUF_OK;
    ptrdiff_t held = xbuf_exports_count(&buf->exports);
    if (xbuf_exports_begin_resize(&buf->exports, NULL) < 0)
        return xbuf_error_set(err, XBUF_EBUSY,
                              "cannot destroy the sample buffer: %td view%s held", held,
                              held == 1 ? " is" : "s are");
    xbuf_free(buf->data, (size_t)buf->capacity * sizeof(int16_t));
    xbuf_free(buf, sizeof *buf);
    return XBUF_OK;
}

static void samples_release(xbuf_view *view)
{
    samples *buf = view->obj;
    xbuf_exports_release(&buf->exports, NULL);
}

/* A packed 1-d array satisfies every request; only the fields asked for
 * are filled, as the protocol expects of a simple exporter. */
static int samples_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    samples *buf = (samples *)self;
    int rc = xbuf_exports_acquire(&buf->exports, err);
    if (rc < 0)
        return rc;
    view->buf = buf->data;
    view->obj = buf;
    view->len = buf->length * (ptrdiff_t)sizeof(int16_t);
    view->itemsize = (ptrdiff_t)sizeof(int16_t);
    view->readonly = 0;
    view->ndim = 1;
    view->format = (flags & XBUF_FORMAT) ? "h" : NULL;
    view->shape = XBUF_WANTS(flags, XBUF_ND) ? buf->shape : NULL;
    view->strides = XBUF_WANTS(flags, XBUF_STRIDES) ? buf->strides : NULL;
    view->release = samples_release;
    return XBUF_OK;
}
