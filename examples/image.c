/*
 * image.c -- the PIL-style image exporter (see image.h).
 */
#include "image.h"

#include <string.h>

static ptrdiff_t row_count(const image *img)
{
    return img->bands * img->height;
}

static int image_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err);

int image_create(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width, int readonly, image **out,
                 xbuf_error *err)
{
    if (out == NULL)
        return xbuf_error_set(err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    if (bands < 0 || height < 0 || width < 0)
        return xbuf_error_set(err, XBUF_EINVAL, "image extents must not be negative");
    ptrdiff_t rows, pixels;
    /* Every product the layout uses must fit: rows, pixels, and the row
     * table's strides (height pointers per band). */
    if (__builtin_mul_overflow(bands, height, &rows) ||
        __builtin_mul_overflow(rows, width, &pixels) ||
        __builtin_mul_overflow(rows, (ptrdiff_t)sizeof(unsigned char *), &(ptrdiff_t){0}) ||
        __builtin_mul_overflow(height, (ptrdiff_t)sizeof(unsigned char *), &(ptrdiff_t){0}) ||
        __builtin_mul_overflow(height, width, &(ptrdiff_t){0}))
        return xbuf_error_set(err, XBUF_EOVERFLOW, "image of %td x %td x %td is too large",
                              bands, height, width);
    image *img = xbuf_malloc(sizeof *img);
    if (img == NULL)
        return xbuf_error_set(err, XBUF_ENOMEM, "cannot allocate the image");
    memset(img, 0, sizeof *img);
    img->exporter.get = image_get;
    img->bands = bands;
    img->height = height;
    img->width = width;
    img->readonly = readonly != 0;
    img->rows = xbuf_malloc_array((size_t)rows, sizeof *img->rows);
    if (img->rows == NULL) {
        xbuf_free(img, sizeof *img);
        return xbuf_error_set(err, XBUF_ENOMEM, "cannot allocate %td row pointers", rows);
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        img->rows[r] = xbuf_malloc((size_t)width);
        if (img->rows[r] == NULL) {
            for (ptrdiff_t made = 0; made < r; made++)
                xbuf_free(img->rows[made], (size_t)width);
            xbuf_free(img->rows, (size_t)rows * sizeof *img->rows);
            xbuf_free(img, sizeof *img);
            return xbuf_error_set(err, XBUF_ENOMEM, "cannot allocate row %td of %td", r, rows);
        }
        memset(img->rows[r], 0, (size_t)width);
    }
    /* Indirect layout: dimension 1 steps through the row table and follows
     * the pointer (suboffset 0); dimension 2 steps along the row. */
    img->shape[0] = bands;
    img->shape[1] = height;
    img->shape[2] = width;
    img->strides[0] = height * (ptrdiff_t)sizeof(unsigned char *);
    img->strides[1] = (ptrdiff_t)sizeof(unsigned char *);
    img->strides[2] = 1;
    img->suboffsets[0] = -1;
    img->suboffsets[1] = 0;
    img->suboffsets[2] = -1;
    xbuf_strides_fill(3, img->shape, 1, 'C', img->packed_strides, NULL);
    *out = img;
    return XBUF_OK;
}

int image_destroy(image *img, xbuf_error *err)
{
    if (img == NULL)
        return XBUF_OK;
    ptrdiff_t held = xbuf_exports_count(&img->exports);
    if (xbuf_exports_begin_resize(&img->exports, NULL) < 0)
        return xbuf_error_set(err, XBUF_EBUSY, "cannot destroy the image: %td view%s held",
                              held, held == 1 ? " is" : "s are");
    for (ptrdiff_t r = 0; r < row_count(img); r++)
        xbuf_free(img->rows[r], (size_t)img->width);
    xbuf_free(img->rows, (size_t)row_count(img) * sizeof *img->rows);
    xbuf_free(img, sizeof *img);
    return XBUF_OK;
}

unsigned char *image_pixel(const image *img, ptrdiff_t band, ptrdiff_t y, ptrdiff_t x)
{
    if (img == NULL || band < 0 || band >= img->bands || y < 0 || y >= img->height || x < 0 ||
        x >= img->width)
        return NULL;
    return img->rows[band * img->height + y] + x;
}

static void image_release(xbuf_view *view)
{
    image *img = view->obj;
    xbuf_exports_release(&img->exports, NULL);
}

/* With at most one row, or no pixels at all, the pixels are one block. */
static int has_direct_layout(const image *img)
{
    return row_count(img) <= 1 || img->width == 0;
}

static int fill_direct(image *img, xbuf_view *view, int flags, xbuf_error *err)
{
    int rc = xbuf_fill_info(view, img, row_count(img) > 0 ? img->rows[0] : NULL,
                            row_count(img) * img->width, img->readonly, flags, err);
    if (rc < 0)
        return rc;
    if (XBUF_WANTS(flags, XBUF_ND)) {
        /* Packed 3-d layout: shape as the image, C strides. */
        view->ndim = 3;
        view->shape = img->shape;
        view->strides = XBUF_WANTS(flags, XBUF_STRIDES) ? img->packed_strides : NULL;
    }
    return XBUF_OK;
}

static void fill_indirect(image *img, xbuf_view *view, int flags)
{
    view->buf = img->rows;
    view->obj = img;
    view->len = row_count(img) * img->width;
    view->itemsize = 1;
    view->readonly = img->readonly;
    view->ndim = 3;
    view->format = (flags & XBUF_FORMAT) ? "B" : NULL;
    view->shape = img->shape;
    view->strides = img->strides;
    view->suboffsets = img->suboffsets;
}

static int image_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    image *img = (image *)self;
    if ((flags & XBUF_WRITABLE) && img->readonly)
        return xbuf_error_set(err, XBUF_EREQUEST, "the image is read-only");
    int wants_contiguous = (flags & (XBUF_C_CONTIGUOUS | XBUF_F_CONTIGUOUS |
                                     XBUF_ANY_CONTIGUOUS) & ~XBUF_STRIDES) != 0;
    int indirect = XBUF_WANTS(flags, XBUF_INDIRECT) && !wants_contiguous;
    if (!indirect && !has_direct_layout(img))
        return xbuf_error_set(err, XBUF_EREQUEST,
                              wants_contiguous
                                  ? "the image's rows are allocated separately: no contiguous "
                                    "view exists (copy the image instead)"
                                  : "the image's rows are allocated separately: ask for "
                                    "XBUF_INDIRECT (e.g. XBUF_FULL_RO) to follow them");
    int rc = xbuf_exports_acquire(&img->exports, err);
    if (rc < 0)
        return rc;
    if (indirect)
        fill_indirect(img, view, flags);
    else if ((rc = fill_direct(img, view, flags, err)) < 0) {
        xbuf_exports_release(&img->exports, NULL);
        return rc;
    }
    view->release = image_release;
    return XBUF_OK;
}
