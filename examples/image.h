/*
 * image.h -- an example exporter: a planar 8-bit image in PIL's layout.
 *
 * Each row of each band is a separate allocation, as in PIL, so the image
 * has no single block of pixels.  It exports a 3-d view (band, row, column)
 * through a table of row pointers with suboffsets, which only consumers that
 * ask for XBUF_INDIRECT can follow.  Every other request is refused with
 * XBUF_EREQUEST -- except when the image has at most one row (or no pixels),
 * where a plain contiguous view exists and is served.
 */
#ifndef EXAMPLE_IMAGE_H
#define EXAMPLE_IMAGE_H

#include <xbuf.h>

typedef struct image {
    xbuf_exporter exporter; /* first member: an image is an exporter */
    ptrdiff_t bands, height, width;
    unsigned char **rows;   /* bands * height rows of width bytes */
    int readonly;
    xbuf_exports exports;
    /* The metadata views point at; constant for the image's lifetime.
     * packed_strides serve the direct view of an image with one row. */
    ptrdiff_t shape[3], strides[3], suboffsets[3], packed_strides[3];
} image;

/* Create a zero-filled image.  XBUF_EINVAL for a NULL out or negative
 * extents, XBUF_EOVERFLOW when the pixel count overflows, XBUF_ENOMEM.
 * On failure *out is NULL and nothing is leaked. */
int image_create(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width, int readonly, image **out,
                 xbuf_error *err);

/* Free the image.  XBUF_EBUSY (and nothing freed) while views are held.
 * NULL does nothing. */
int image_destroy(image *img, xbuf_error *err);

/* The address of pixel (band, y, x), or NULL when out of range. */
unsigned char *image_pixel(const image *img, ptrdiff_t band, ptrdiff_t y, ptrdiff_t x);

#endif
