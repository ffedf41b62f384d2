/*
 * test_examples.c -- the example exporters: the PIL-style image
 * (examples/image.h) and the growable sample buffer (examples/samples.h).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "image.h"
#include "samples.h"

static bool view_is_zero(const xbuf_view *view)
{
    static const xbuf_view zero;
    return memcmp(view, &zero, sizeof zero) == 0;
}

/* Every test runs under the checking allocator, so that a wrong size at
 * free or a leak shows up; fini() checks it. */
static void init(void)
{
    failing_alloc_install(true);
}

static void fini(void)
{
    cr_expect_eq(failing_alloc_errors(), 0, "allocator contract violated: %s",
                 failing_alloc_first_error());
    cr_expect_eq(failing_alloc_live_blocks(), 0, "%zu blocks leaked",
                 failing_alloc_live_blocks());
}

TestSuite(image, .init = init, .fini = fini);
TestSuite(samples, .init = init, .fini = fini);

/* ==== image ============================================================ */

static image *make_image(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width, int readonly)
{
    image *img = NULL;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = image_create(bands, height, width, readonly, &img, &err);
    cr_assert_eq(rc, XBUF_OK, "image_create(%td, %td, %td): %s", bands, height, width,
                 err.message);
    cr_assert_not_null(img);
    return img;
}

static void destroy_image(image *img)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(image_destroy(img, &err), XBUF_OK, "%s", err.message);
}

Test(image, create_null_out)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(image_create(1, 2, 3, 0, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(image_create(1, 2, 3, 0, NULL, NULL), XBUF_EINVAL);
    cr_assert_eq(failing_alloc_calls(), 0);
}

Test(image, create_negative_extents)
{
    const ptrdiff_t cases[][3] = {{-1, 2, 3}, {1, -2, 3}, {1, 2, -3}, {PTRDIFF_MIN, 1, 1},
                                  {-1, -1, -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        image *img = (image *)&cases; /* not NULL: the call must reset it */
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(image_create(cases[i][0], cases[i][1], cases[i][2], 0, &img, &err),
                     XBUF_EINVAL, "case %zu", i);
        cr_assert_eq(err.code, XBUF_EINVAL);
        cr_assert_neq(err.message[0], '\0');
        cr_assert_null(img, "case %zu: *out must be NULL on failure", i);
    }
    cr_assert_eq(failing_alloc_calls(), 0);
}

Test(image, create_overflowing_extents)
{
    const ptrdiff_t cases[][3] = {
        {PTRDIFF_MAX, 2, 1},                 /* bands * height */
        {2, PTRDIFF_MAX / 2 + 1, 1},         /* bands * height */
        {1, PTRDIFF_MAX / 2, 3},             /* rows * width */
        {1, 1 << 20, PTRDIFF_MAX / 1000},    /* rows * width */
        {1, PTRDIFF_MAX / 4, 1},             /* rows * sizeof(pointer) */
        {PTRDIFF_MAX, PTRDIFF_MAX, PTRDIFF_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        image *img = (image *)&cases;
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(image_create(cases[i][0], cases[i][1], cases[i][2], 0, &img, &err),
                     XBUF_EOVERFLOW, "case %zu: %s", i, err.message);
        cr_assert_eq(err.code, XBUF_EOVERFLOW);
        cr_assert_null(img, "case %zu", i);
    }
    cr_assert_eq(failing_alloc_calls(), 0, "nothing may be allocated for a refused image");
}

Test(image, pixels_are_zero_filled)
{
    /* The test allocator fills fresh memory with 0xA5, so zeros were written. */
    image *img = make_image(3, 4, 5, 0);
    cr_assert_eq(img->bands, 3);
    cr_assert_eq(img->height, 4);
    cr_assert_eq(img->width, 5);
    for (ptrdiff_t b = 0; b < 3; b++)
        for (ptrdiff_t y = 0; y < 4; y++)
            for (ptrdiff_t x = 0; x < 5; x++) {
                unsigned char *p = image_pixel(img, b, y, x);
                cr_assert_not_null(p);
                cr_assert_eq(*p, 0, "pixel (%td, %td, %td) is %d", b, y, x, *p);
            }
    destroy_image(img);
}

Test(image, pixel_bounds)
{
    image *img = make_image(2, 3, 4, 0);
    cr_assert_not_null(image_pixel(img, 0, 0, 0));
    cr_assert_not_null(image_pixel(img, 1, 2, 3));
    cr_assert_null(image_pixel(img, -1, 0, 0));
    cr_assert_null(image_pixel(img, 0, -1, 0));
    cr_assert_null(image_pixel(img, 0, 0, -1));
    cr_assert_null(image_pixel(img, 2, 0, 0));
    cr_assert_null(image_pixel(img, 0, 3, 0));
    cr_assert_null(image_pixel(img, 0, 0, 4));
    cr_assert_null(image_pixel(img, PTRDIFF_MAX, 0, 0));
    cr_assert_null(image_pixel(img, 0, PTRDIFF_MIN, 0));
    cr_assert_null(image_pixel(NULL, 0, 0, 0));
    /* neighbours along a row are adjacent; distinct pixels are distinct */
    cr_assert_eq(image_pixel(img, 1, 2, 1), image_pixel(img, 1, 2, 0) + 1);
    cr_assert_neq(image_pixel(img, 0, 1, 0), image_pixel(img, 1, 1, 0));
    destroy_image(img);
}

Test(image, empty_images)
{
    const ptrdiff_t cases[][3] = {{0, 0, 0}, {0, 3, 4}, {2, 0, 4}, {2, 3, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        image *img = make_image(cases[i][0], cases[i][1], cases[i][2], 0);
        cr_assert_null(image_pixel(img, 0, 0, 0), "case %zu", i);
        xbuf_view v;
        cr_assert_eq(xbuf_get(&img->exporter, &v, XBUF_FULL, NULL), XBUF_OK, "case %zu", i);
        cr_assert_eq(v.len, 0);
        xbuf_release(&v);
        /* with no pixels at all, a plain (simple) view exists */
        cr_assert_eq(xbuf_get(&img->exporter, &v, XBUF_SIMPLE, NULL), XBUF_OK, "case %zu", i);
        cr_assert_eq(v.len, 0);
        xbuf_release(&v);
        destroy_image(img);
    }
}

Test(image, destroy_null)
{
    cr_assert_eq(image_destroy(NULL, NULL), XBUF_OK);
}

Test(image, destroy_refused_while_view_held)
{
    image *img = make_image(2, 3, 4, 0);
    size_t blocks = failing_alloc_live_blocks();
    xbuf_view v, w;
    cr_assert_eq(xbuf_get(&img->exporter, &v, XBUF_FULL_RO, NULL), XBUF_OK);

    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(image_destroy(img, &err), XBUF_EBUSY);
    cr_assert_eq(err.code, XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot destroy the image: 1 view is held");
    cr_assert_eq(failing_alloc_live_blocks(), blocks, "nothing may be freed");

    cr_assert_eq(xbuf_get(&img->exporter, &w, XBUF_FULL_RO, NULL), XBUF_OK,
                 "the refused destroy must leave the image usable");
    cr_assert_eq(image_destroy(img, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot destroy the image: 2 views are held");

    /* the view still reads the image */
    *image_pixel(img, 1, 2, 3) = 99;
    void *p = NULL;
    ptrdiff_t idx[3] = {1, 2, 3};
    cr_assert_eq(xbuf_view_pointer(&v, idx, &p, NULL), XBUF_OK);
    cr_assert_eq(*(unsigned char *)p, 99);

    xbuf_release(&v);
    cr_assert_eq(image_destroy(img, NULL), XBUF_EBUSY);
    xbuf_release(&w);
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    destroy_image(img);
}

Test(image, indirect_view_describes_the_image)
{
    image *img = make_image(2, 3, 4, 0);
    for (ptrdiff_t b = 0; b < 2; b++)
        for (ptrdiff_t y = 0; y < 3; y++)
            for (ptrdiff_t x = 0; x < 4; x++)
                *image_pixel(img, b, y, x) = (unsigned char)(b * 100 + y * 10 + x);

    xbuf_view v;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_get(&img->exporter, &v, XBUF_FULL, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_exports_count(&img->exports), 1);
    cr_assert_eq(v.obj, img);
    cr_assert_eq(v.ndim, 3);
    cr_assert_eq(v.itemsize, 1);
    cr_assert_eq(v.len, 24);
    cr_assert_eq(v.readonly, 0);
    cr_assert_str_eq(v.format, "B");
    cr_assert_not_null(v.shape);
    cr_assert_eq(v.shape[0], 2);
    cr_assert_eq(v.shape[1], 3);
    cr_assert_eq(v.shape[2], 4);
    cr_assert_not_null(v.suboffsets);
    for (ptrdiff_t b = 0; b < 2; b++)
        for (ptrdiff_t y = 0; y < 3; y++)
            for (ptrdiff_t x = 0; x < 4; x++) {
                ptrdiff_t idx[3] = {b, y, x};
                void *p = NULL;
                cr_assert_eq(xbuf_view_pointer(&v, idx, &p, NULL), XBUF_OK);
                cr_assert_eq(p, image_pixel(img, b, y, x), "pixel (%td, %td, %td)", b, y, x);
            }
    xbuf_release(&v);
    cr_assert(view_is_zero(&v));
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    destroy_image(img);
}

Test(image, readonly_refuses_writable)
{
    image *img = make_image(1, 2, 2, 1);
    const int requests[] = {XBUF_WRITABLE, XBUF_FULL, XBUF_STRIDED, XBUF_CONTIG};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        xbuf_view v;
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_get(&img->exporter, &v, requests[i], &err), XBUF_EREQUEST,
                     "request 0x%x", requests[i]);
        cr_assert_eq(err.code, XBUF_EREQUEST);
        cr_assert_not_null(strstr(err.message, "read-only"), "%s", err.message);
        cr_assert(view_is_zero(&v));
        cr_assert_eq(xbuf_exports_count(&img->exports), 0, "a refused get must not count");
    }
    xbuf_view v;
    cr_assert_eq(xbuf_get(&img->exporter, &v, XBUF_FULL_RO, NULL), XBUF_OK);
    cr_assert_neq(v.readonly, 0);
    xbuf_release(&v);
    destroy_image(img);
}

Test(image, writable_image_serves_writable)
{
    image *img = make_image(1, 2, 2, 0);
    xbuf_view v;
    cr_assert_eq(xbuf_get(&img->exporter, &v, XBUF_FULL, NULL), XBUF_OK);
    cr_assert_eq(v.readonly, 0);
    ptrdiff_t idx[3] = {0, 1, 1};
    void *p = NULL;
    cr_assert_eq(xbuf_view_pointer(&v, idx, &p, NULL), XBUF_OK);
    *(unsigned char *)p = 7;
    cr_assert_eq(*image_pixel(img, 0, 1, 1), 7);
    xbuf_release(&v);
    destroy_image(img);
}

/* Each request must be refused with XBUF_EREQUEST, a message containing
 * `reason`, a zeroed view and no export left counted. */
static void assert_refused(image *img, const int *requests, size_t count, const char *reason)
{
    for (size_t i = 0; i < count; i++) {
        xbuf_view v;
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_get(&img->exporter, &v, requests[i], &err), XBUF_EREQUEST,
                     "request 0x%x", requests[i]);
        cr_assert_eq(err.code, XBUF_EREQUEST);
        cr_assert_not_null(strstr(err.message, reason), "request 0x%x: %s", requests[i],
                           err.message);
        cr_assert(view_is_zero(&v));
        cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    }
}

Test(image, multirow_refuses_non_indirect)
{
    image *img = make_image(2, 3, 4, 0);
    const int requests[] = {XBUF_SIMPLE,  XBUF_FORMAT,  XBUF_ND,         XBUF_STRIDES,
                            XBUF_STRIDED, XBUF_RECORDS, XBUF_RECORDS_RO, XBUF_CONTIG_RO};
    assert_refused(img, requests, sizeof requests / sizeof requests[0], "INDIRECT");
    destroy_image(img);
}

Test(image, multirow_refuses_contiguous)
{
    image *img = make_image(1, 2, 3, 0);
    const int requests[] = {XBUF_C_CONTIGUOUS, XBUF_F_CONTIGUOUS, XBUF_ANY_CONTIGUOUS,
                            XBUF_FULL_RO | XBUF_C_CONTIGUOUS, XBUF_FULL | XBUF_ANY_CONTIGUOUS,
                            XBUF_INDIRECT | XBUF_F_CONTIGUOUS};
    assert_refused(img, requests, sizeof requests / sizeof requests[0], "contiguous");
    destroy_image(img);
}

Test(image, single_row_serves_direct_views)
{
    image *img = make_image(1, 1, 5, 0);
    for (ptrdiff_t x = 0; x < 5; x++)
        *image_pixel(img, 0, 0, x) = (unsigned char)(x + 1);
    const int requests[] = {XBUF_SIMPLE, XBUF_ND, XBUF_STRIDED, XBUF_C_CONTIGUOUS,
                            XBUF_F_CONTIGUOUS, XBUF_FULL | XBUF_C_CONTIGUOUS};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        xbuf_view v;
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_get(&img->exporter, &v, requests[i], &err), XBUF_OK,
                     "request 0x%x: %s", requests[i], err.message);
        cr_assert_eq(v.len, 5);
        cr_assert_null(v.suboffsets);
        cr_assert_eq(v.buf, image_pixel(img, 0, 0, 0));
        cr_assert_eq(memcmp(v.buf, "\1\2\3\4\5", 5), 0);
        if (v.shape != NULL) {
            cr_assert_eq(v.ndim, 3);
            cr_assert(xbuf_is_contiguous(v.ndim, v.shape, v.strides, v.itemsize, 'C'),
                      "request 0x%x", requests[i]);
        } else {
            cr_assert_eq(v.ndim, 1);
            cr_assert_null(v.strides);
        }
        xbuf_release(&v);
    }
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    destroy_image(img);
}

/* xbuf_view_is_contiguous on the views a correct exporter gives for plain
 * requests.  Those views carry no format (NULL means "B") and, for SIMPLE,
 * no shape (NULL means 1-d): both are legal, and such a view is contiguous. */
Test(image, direct_views_are_contiguous_per_view_is_contiguous)
{
    image *img = make_image(1, 1, 5, 0);
    const int requests[] = {XBUF_SIMPLE, XBUF_ND, XBUF_STRIDED, XBUF_C_CONTIGUOUS,
                            XBUF_RECORDS_RO};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        xbuf_view v;
        cr_assert_eq(xbuf_get(&img->exporter, &v, requests[i], NULL), XBUF_OK);
        bool c = xbuf_view_is_contiguous(&v, 'C');
        bool a = xbuf_view_is_contiguous(&v, 'A');
        xbuf_release(&v);
        cr_expect(c, "request 0x%x: xbuf_view_is_contiguous(v, 'C') is false", requests[i]);
        cr_expect(a, "request 0x%x: xbuf_view_is_contiguous(v, 'A') is false", requests[i]);
    }
    destroy_image(img);
}

/* ==== samples ========================================================== */

static samples *make_samples(void)
{
    samples *s = NULL;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(samples_create(&s, &err), XBUF_OK, "%s", err.message);
    cr_assert_not_null(s);
    return s;
}

static void destroy_samples(samples *s)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(samples_destroy(s, &err), XBUF_OK, "%s", err.message);
}

static void ramp(int16_t *values, ptrdiff_t n, int start)
{
    for (ptrdiff_t i = 0; i < n; i++)
        values[i] = (int16_t)((start + i * 37) % 30000 - 15000);
}

Test(samples, create_null_out)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(samples_create(NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(failing_alloc_calls(), 0);
}

Test(samples, create_is_empty)
{
    samples *s = make_samples();
    cr_assert_eq(s->length, 0);
    xbuf_view v;
    cr_assert_eq(xbuf_get(&s->exporter, &v, XBUF_RECORDS, NULL), XBUF_OK);
    cr_assert_eq(v.len, 0);
    cr_assert_eq(v.shape[0], 0);
    xbuf_release(&v);
    destroy_samples(s);
}

Test(samples, destroy_null)
{
    cr_assert_eq(samples_destroy(NULL, NULL), XBUF_OK);
}

Test(samples, append_grows_and_preserves)
{
    samples *s = make_samples();
    int16_t all[1000];
    ramp(all, 1000, 1);
    ptrdiff_t done = 0;
    /* chunks that cross several capacity doublings */
    const ptrdiff_t chunks[] = {1, 0, 15, 1, 17, 100, 3, 263, 600};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(samples_append(s, all + done, chunks[i], &err), XBUF_OK, "%s",
                     err.message);
        done += chunks[i];
        cr_assert_eq(s->length, done);
        cr_assert_geq(s->capacity, done);
        cr_assert_eq(memcmp(s->data, all, (size_t)done * sizeof(int16_t)), 0,
                     "data differ after %td samples", done);
    }
    cr_assert_eq(done, 1000);
    destroy_samples(s);
}

Test(samples, append_zero_with_null_values)
{
    samples *s = make_samples();
    cr_assert_eq(samples_append(s, NULL, 0, NULL), XBUF_OK);
    cr_assert_eq(s->length, 0);
    destroy_samples(s);
}

Test(samples, view_contents_equal_appended)
{
    samples *s = make_samples();
    int16_t values[50];
    ramp(values, 50, 9);
    cr_assert_eq(samples_append(s, values, 20, NULL), XBUF_OK);
    cr_assert_eq(samples_append(s, values + 20, 30, NULL), XBUF_OK);

    xbuf_view v;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_get(&s->exporter, &v, XBUF_FULL, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(v.obj, s);
    cr_assert_eq(v.itemsize, 2);
    cr_assert_eq(v.len, 100);
    cr_assert_eq(v.ndim, 1);
    cr_assert_eq(v.readonly, 0);
    cr_assert_str_eq(v.format, "h");
    cr_assert_eq(v.shape[0], 50);
    cr_assert_eq(v.strides[0], 2);
    cr_assert_null(v.suboffsets);
    cr_assert_eq(memcmp(v.buf, values, sizeof values), 0);
    for (ptrdiff_t i = 0; i < 50; i++) {
        void *p = NULL;
        cr_assert_eq(xbuf_view_pointer(&v, &i, &p, NULL), XBUF_OK);
        int16_t got;
        memcpy(&got, p, sizeof got);
        cr_assert_eq(got, values[i], "sample %td", i);
    }
    /* a writable view writes into the buffer */
    ((int16_t *)v.buf)[3] = 1234;
    cr_assert_eq(s->data[3], 1234);
    xbuf_release(&v);
    destroy_samples(s);
}

Test(samples, format_only_when_asked)
{
    samples *s = make_samples();
    int16_t values[4] = {1, 2, 3, 4};
    samples_append(s, values, 4, NULL);
    const int with_format[] = {XBUF_FORMAT, XBUF_RECORDS, XBUF_RECORDS_RO, XBUF_FULL_RO,
                               XBUF_FORMAT | XBUF_WRITABLE};
    const int without_format[] = {XBUF_SIMPLE, XBUF_WRITABLE, XBUF_ND, XBUF_STRIDED,
                                  XBUF_C_CONTIGUOUS, XBUF_INDIRECT};
    for (size_t i = 0; i < sizeof with_format / sizeof with_format[0]; i++) {
        xbuf_view v;
        cr_assert_eq(xbuf_get(&s->exporter, &v, with_format[i], NULL), XBUF_OK);
        cr_assert_not_null(v.format, "request 0x%x", with_format[i]);
        cr_assert_str_eq(v.format, "h", "request 0x%x", with_format[i]);
        cr_assert_eq(v.itemsize, 2);
        xbuf_release(&v);
    }
    for (size_t i = 0; i < sizeof without_format / sizeof without_format[0]; i++) {
        xbuf_view v;
        cr_assert_eq(xbuf_get(&s->exporter, &v, without_format[i], NULL), XBUF_OK);
        cr_assert_null(v.format, "request 0x%x", without_format[i]);
        cr_assert_eq(v.itemsize, 2);
        cr_assert_eq(v.len, 8);
        xbuf_release(&v);
    }
    destroy_samples(s);
}

Test(samples, shape_and_strides_only_when_asked)
{
    samples *s = make_samples();
    int16_t values[6] = {1, 2, 3, 4, 5, 6};
    samples_append(s, values, 6, NULL);
    const struct {
        int flags;
        bool shape, strides;
    } cases[] = {
        {XBUF_SIMPLE, false, false},  {XBUF_FORMAT, false, false},
        {XBUF_WRITABLE, false, false}, {XBUF_ND, true, false},
        {XBUF_CONTIG, true, false},    {XBUF_STRIDES, true, true},
        {XBUF_STRIDED_RO, true, true}, {XBUF_C_CONTIGUOUS, true, true},
        {XBUF_FULL, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xbuf_view v;
        cr_assert_eq(xbuf_get(&s->exporter, &v, cases[i].flags, NULL), XBUF_OK);
        cr_assert_eq(v.ndim, 1);
        cr_assert_eq(v.len, 12);
        if (cases[i].shape) {
            cr_assert_not_null(v.shape, "request 0x%x", cases[i].flags);
            cr_assert_eq(v.shape[0], 6);
        } else {
            cr_assert_null(v.shape, "request 0x%x", cases[i].flags);
        }
        if (cases[i].strides) {
            cr_assert_not_null(v.strides, "request 0x%x", cases[i].flags);
            cr_assert_eq(v.strides[0], 2);
        } else {
            cr_assert_null(v.strides, "request 0x%x", cases[i].flags);
        }
        xbuf_release(&v);
    }
    cr_assert_eq(xbuf_exports_count(&s->exports), 0);
    destroy_samples(s);
}

/* The observable state of a sample buffer, to show that nothing changed. */
typedef struct samples_state {
    int16_t *data;
    ptrdiff_t length, capacity, shape0;
    size_t live_blocks, live_bytes;
} samples_state;

static samples_state state_of(const samples *s)
{
    return (samples_state){s->data,         s->length, s->capacity, s->shape[0],
                           failing_alloc_live_blocks(), failing_alloc_live_bytes()};
}

static void assert_same_state(const samples_state *a, const samples_state *b)
{
    cr_assert_eq(a->data, b->data, "the data moved");
    cr_assert_eq(a->length, b->length);
    cr_assert_eq(a->capacity, b->capacity);
    cr_assert_eq(a->shape0, b->shape0);
    cr_assert_eq(a->live_blocks, b->live_blocks);
    cr_assert_eq(a->live_bytes, b->live_bytes);
}

Test(samples, append_refused_while_views_held)
{
    samples *s = make_samples();
    int16_t values[16];
    ramp(values, 16, 3);
    cr_assert_eq(samples_append(s, values, 16, NULL), XBUF_OK); /* exactly full */
    cr_assert_eq(s->capacity, 16, "the test relies on the first capacity being 16");

    xbuf_view v1, v2;
    cr_assert_eq(xbuf_get(&s->exporter, &v1, XBUF_FULL_RO, NULL), XBUF_OK);
    samples_state before = state_of(s);
    long calls = failing_alloc_calls();

    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(s, values, 1, &err), XBUF_EBUSY);
    cr_assert_eq(err.code, XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: 1 view is held");
    samples_state after = state_of(s);
    assert_same_state(&before, &after);

    cr_assert_eq(xbuf_get(&s->exporter, &v2, XBUF_SIMPLE, NULL), XBUF_OK,
                 "a refused append must leave the buffer exportable");
    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(s, values, 1, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: 2 views are held");
    /* even an append that needs no growth is refused: it would change len */
    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(s, values, 0, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: 2 views are held");
    after = state_of(s);
    assert_same_state(&before, &after);
    cr_assert_eq(failing_alloc_calls(), calls, "a refused append must not allocate");
    cr_assert_eq(memcmp(v1.buf, values, sizeof values), 0, "the held view's data changed");
    cr_assert_eq(v1.shape[0], 16, "the held view's shape changed");

    xbuf_error_clear(&err);
    cr_assert_eq(samples_destroy(s, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot destroy the sample buffer: 2 views are held");

    xbuf_release(&v2);
    cr_assert_eq(samples_append(s, values, 1, NULL), XBUF_EBUSY);
    xbuf_release(&v1);
    cr_assert_eq(xbuf_exports_count(&s->exports), 0);

    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(s, values, 3, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(s->length, 19);
    cr_assert_eq(memcmp(s->data, values, sizeof values), 0);
    cr_assert_eq(memcmp(s->data + 16, values, 3 * sizeof(int16_t)), 0);
    destroy_samples(s);
}

Test(samples, append_invalid_arguments)
{
    samples *s = make_samples();
    int16_t values[3] = {7, 8, 9};
    cr_assert_eq(samples_append(s, values, 3, NULL), XBUF_OK);
    samples_state before = state_of(s);
    xbuf_error err;

    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(NULL, values, 1, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(s, NULL, 1, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    xbuf_error_clear(&err);
    cr_assert_eq(samples_append(s, values, -1, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_not_null(strstr(err.message, "negative"), "%s", err.message);
    cr_assert_eq(samples_append(s, values, PTRDIFF_MIN, NULL), XBUF_EINVAL);

    samples_state after = state_of(s);
    assert_same_state(&before, &after);
    cr_assert_eq(memcmp(s->data, values, sizeof values), 0);
    destroy_samples(s);
}

Test(samples, append_overflow)
{
    samples *s = make_samples();
    int16_t values[3] = {7, 8, 9};
    cr_assert_eq(samples_append(s, values, 3, NULL), XBUF_OK);
    samples_state before = state_of(s);
    long calls = failing_alloc_calls();
    /* counts that cannot be valid; the values are never read */
    const ptrdiff_t counts[] = {PTRDIFF_MAX, PTRDIFF_MAX - 2, PTRDIFF_MAX / 2 + 1,
                                PTRDIFF_MAX / 2};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(samples_append(s, values, counts[i], &err), XBUF_EOVERFLOW,
                     "count %td: %s", counts[i], err.message);
        cr_assert_eq(err.code, XBUF_EOVERFLOW);
        samples_state after = state_of(s);
        assert_same_state(&before, &after);
        cr_assert_eq(xbuf_exports_count(&s->exports), 0);
    }
    cr_assert_eq(failing_alloc_calls(), calls, "an overflowing append must not allocate");

    /* still usable */
    cr_assert_eq(samples_append(s, values, 3, NULL), XBUF_OK);
    cr_assert_eq(s->length, 6);
    xbuf_view v;
    cr_assert_eq(xbuf_get(&s->exporter, &v, XBUF_SIMPLE, NULL), XBUF_OK);
    xbuf_release(&v);
    destroy_samples(s);
}
