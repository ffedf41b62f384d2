/*
 * samples.h -- an example exporter: a growable buffer of 16-bit audio
 * samples, exported as a 1-d view of format "h".
 *
 * Growing may move the samples, so it is refused with XBUF_EBUSY ("cannot
 * resize: N views are held") while any view is held, and succeeds once they
 * have all been released: the rule the seed discussion settled on ("It
 * would raise an exception").
 */
#ifndef EXAMPLE_SAMPLES_H
#define EXAMPLE_SAMPLES_H

#include <stdint.h>
#include <xbuf.h>

typedef struct samples {
    xbuf_exporter exporter; /* first member: a sample buffer is an exporter */
    int16_t *data;
    ptrdiff_t length;       /* samples held */
    ptrdiff_t capacity;     /* samples allocated */
    xbuf_exports exports;
    /* What views point at; changes only while no view is held. */
    ptrdiff_t shape[1], strides[1];
} samples;

/* Create an empty buffer.  XBUF_EINVAL for a NULL out, XBUF_ENOMEM. */
int samples_create(samples **out, xbuf_error *err);

/* Append `count` samples, growing the buffer.  XBUF_EBUSY while views are
 * held (nothing changes), XBUF_EINVAL for NULL arguments or a negative
 * count, XBUF_EOVERFLOW, XBUF_ENOMEM (the buffer is unchanged). */
int samples_append(samples *buf, const int16_t *values, ptrdiff_t count, xbuf_error *err);

/* Free the buffer.  XBUF_EBUSY (and nothing freed) while views are held.
 * NULL does nothing. */
int samples_destroy(samples *buf, xbuf_error *err);

#endif
