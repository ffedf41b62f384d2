/*
 * test_alloc_failure.c -- every allocating operation, with each of its
 * allocations made to fail in turn (failing_alloc_sweep).  Each must return
 * XBUF_ENOMEM, leak nothing, free every block with the size it was
 * allocated with, and leave what it was changing as it was.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "image.h"
#include "samples.h"

static void assert_sweep(const failing_alloc_op *op, long expected_points, const char *what)
{
    failing_alloc_report report;
    int rc = failing_alloc_sweep(op, &report);
    cr_assert_eq(rc, 0, "%s: %ld problem(s); first: %s", what, report.problems, report.message);
    cr_assert_eq(report.points, expected_points, "%s: %ld allocations, expected %ld", what,
                 report.points, expected_points);
}

/* ---- image_create ------------------------------------------------------ */

typedef struct image_ctx {
    ptrdiff_t bands, height, width;
    image *img;
    int rc;
    xbuf_error err;
} image_ctx;

static int image_run(void *ctx)
{
    image_ctx *c = ctx;
    c->img = (image *)c; /* image_create must reset it on failure */
    xbuf_error_clear(&c->err);
    c->rc = image_create(c->bands, c->height, c->width, 0, &c->img, &c->err);
    return c->rc;
}

static const char *image_after_failure(void *ctx)
{
    image_ctx *c = ctx;
    if (c->img != NULL)
        return "*out is not NULL after a failed image_create";
    if (c->err.code != c->rc)
        return "err->code differs from the returned code";
    if (c->err.message[0] == '\0')
        return "no error message";
    return NULL;
}

static void image_teardown(void *ctx)
{
    image_ctx *c = ctx;
    if (c->rc == XBUF_OK && c->img != NULL) {
        /* the image a clean run made must be complete and zeroed */
        for (ptrdiff_t b = 0; b < c->bands; b++)
            for (ptrdiff_t y = 0; y < c->height; y++)
                for (ptrdiff_t x = 0; x < c->width; x++)
                    cr_assert_eq(*image_pixel(c->img, b, y, x), 0);
        cr_assert_eq(image_destroy(c->img, NULL), XBUF_OK);
    }
    c->img = NULL;
}

static void sweep_image(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width)
{
    failing_alloc_install(true);
    image_ctx c = {bands, height, width, NULL, 0, {0}};
    failing_alloc_op op = {NULL, image_run, image_after_failure, image_teardown, &c, 0};
    char what[80];
    snprintf(what, sizeof what, "image_create(%td, %td, %td)", bands, height, width);
    /* the image, the row table, one block per row */
    assert_sweep(&op, 2 + bands * height, what);
}

Test(image_create, one_pixel)
{
    sweep_image(1, 1, 1);
}

Test(image_create, one_row)
{
    sweep_image(1, 1, 17);
}

Test(image_create, several_bands_and_rows)
{
    sweep_image(3, 4, 5);
}

Test(image_create, larger)
{
    sweep_image(4, 16, 32);
}

Test(image_create, zero_width_rows)
{
    sweep_image(2, 3, 0);
}

Test(image_create, no_rows)
{
    sweep_image(0, 3, 4);
    sweep_image(2, 0, 4);
}

/* ---- samples_create ---------------------------------------------------- */

typedef struct samples_ctx {
    samples *buf;
    int rc;
    /* for append */
    ptrdiff_t initial, count;
    int16_t values[4096];
    /* the state before the append */
    int16_t *data;
    ptrdiff_t length, capacity;
} samples_ctx;

static int samples_create_run(void *ctx)
{
    samples_ctx *c = ctx;
    c->buf = (samples *)c;
    c->rc = samples_create(&c->buf, NULL);
    return c->rc;
}

static void samples_teardown(void *ctx)
{
    samples_ctx *c = ctx;
    if (c->buf != NULL && c->buf != (samples *)c)
        cr_assert_eq(samples_destroy(c->buf, NULL), XBUF_OK);
    c->buf = NULL;
}

Test(samples_create, sweep)
{
    failing_alloc_install(true);
    static samples_ctx c;
    /* after a failure *out is NULL, so teardown has nothing to free */
    failing_alloc_op op = {NULL, samples_create_run, NULL, samples_teardown, &c, 0};
    assert_sweep(&op, 1, "samples_create");
    /* and the successful run made an empty, usable buffer: checked by
     * teardown destroying it without complaint */
}

static const char *samples_create_after_failure(void *ctx)
{
    samples_ctx *c = ctx;
    return c->buf == NULL ? NULL : "*out is not NULL after a failed samples_create";
}

Test(samples_create, out_is_null_after_failure)
{
    failing_alloc_install(true);
    static samples_ctx c;
    failing_alloc_op op = {NULL, samples_create_run, samples_create_after_failure,
                           samples_teardown, &c, 0};
    assert_sweep(&op, 1, "samples_create");
}

/* ---- samples_append ---------------------------------------------------- */

static void fill_values(int16_t *values, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        values[i] = (int16_t)(i * 31 - 7000);
}

static void append_setup(void *ctx)
{
    samples_ctx *c = ctx;
    cr_assert_eq(samples_create(&c->buf, NULL), XBUF_OK);
    cr_assert_eq(samples_append(c->buf, c->values, c->initial, NULL), XBUF_OK);
    c->data = c->buf->data;
    c->length = c->buf->length;
    c->capacity = c->buf->capacity;
}

static int append_run(void *ctx)
{
    samples_ctx *c = ctx;
    c->rc = samples_append(c->buf, c->values + c->initial, c->count, NULL);
    return c->rc;
}

/* After a failed append: nothing changed, and the buffer still works. */
static const char *append_after_failure(void *ctx)
{
    samples_ctx *c = ctx;
    samples *s = c->buf;
    if (s->data != c->data || s->length != c->length || s->capacity != c->capacity)
        return "the failed append changed data, length or capacity";
    if (s->shape[0] != c->length)
        return "the failed append changed the exported shape";
    if (c->length > 0 && memcmp(s->data, c->values, (size_t)c->length * sizeof(int16_t)) != 0)
        return "the failed append changed the samples";
    if (xbuf_exports_count(&s->exports) != 0)
        return "the failed append left an export counted";

    /* usable: a view can be taken, and the append now succeeds */
    xbuf_view v;
    if (xbuf_get(&s->exporter, &v, XBUF_FULL_RO, NULL) != XBUF_OK)
        return "no view can be taken after the failed append";
    bool view_ok = v.len == c->length * 2 && v.shape[0] == c->length;
    xbuf_release(&v);
    if (!view_ok)
        return "the view after the failed append has the wrong size";
    if (samples_append(s, c->values + c->initial, c->count, NULL) != XBUF_OK)
        return "the append fails again with no allocation failing";
    if (s->length != c->length + c->count ||
        memcmp(s->data, c->values, (size_t)s->length * sizeof(int16_t)) != 0)
        return "the retried append stored the wrong samples";
    return NULL;
}

static void append_teardown(void *ctx)
{
    samples_ctx *c = ctx;
    if (c->rc == XBUF_OK) {
        cr_assert_eq(c->buf->length, c->initial + c->count);
        cr_assert_eq(memcmp(c->buf->data, c->values, (size_t)c->buf->length * sizeof(int16_t)),
                     0);
    }
    cr_assert_eq(samples_destroy(c->buf, NULL), XBUF_OK);
    c->buf = NULL;
}

static void sweep_append(bool with_realloc, ptrdiff_t initial, ptrdiff_t count)
{
    failing_alloc_install(with_realloc);
    static samples_ctx c;
    memset(&c, 0, sizeof c);
    cr_assert_leq(initial + count, (ptrdiff_t)(sizeof c.values / sizeof c.values[0]));
    c.initial = initial;
    c.count = count;
    fill_values(c.values, initial + count);
    failing_alloc_op op = {append_setup, append_run, append_after_failure, append_teardown,
                           &c, 0};
    char what[96];
    snprintf(what, sizeof what, "samples_append of %td onto %td (%s realloc hook)", count,
             initial, with_realloc ? "with" : "without");
    /* a growth is one realloc call, or one malloc when xbuf emulates realloc */
    assert_sweep(&op, 1, what);
}

Test(samples_append, first_growth)
{
    sweep_append(true, 0, 1);
    sweep_append(true, 0, 10);
    sweep_append(true, 0, 16);
}

Test(samples_append, first_growth_emulated_realloc)
{
    sweep_append(false, 0, 1);
    sweep_append(false, 0, 16);
}

Test(samples_append, first_growth_large)
{
    /* straight past several doublings in one call */
    sweep_append(true, 0, 1000);
    sweep_append(false, 0, 1000);
}

Test(samples_append, later_growth)
{
    sweep_append(true, 16, 1);     /* 16 -> 32 */
    sweep_append(true, 20, 20);    /* 32 -> 64 */
    sweep_append(true, 100, 200);  /* 128 -> 512 */
    sweep_append(true, 1024, 1);   /* 1024 -> 2048 */
}

Test(samples_append, later_growth_emulated_realloc)
{
    sweep_append(false, 16, 1);
    sweep_append(false, 20, 20);
    sweep_append(false, 100, 200);
    sweep_append(false, 1024, 1);
}

static int no_growth_run(void *ctx)
{
    samples_ctx *c = ctx;
    return samples_append(c->buf, c->values + c->initial, c->count, NULL);
}

Test(samples_append, no_growth_does_not_allocate)
{
    failing_alloc_install(true);
    static samples_ctx c;
    memset(&c, 0, sizeof c);
    c.initial = 3;
    c.count = 13; /* fills the first 16 exactly */
    fill_values(c.values, 16);
    failing_alloc_op op = {append_setup, no_growth_run, NULL, append_teardown, &c, 0};
    assert_sweep(&op, 0, "samples_append within capacity");
}

/* ---- xbuf_realloc ------------------------------------------------------ */

typedef struct realloc_ctx {
    unsigned char *block;
    size_t old_size, new_size;
    size_t size; /* the size of the block now alive */
} realloc_ctx;

static bool has_pattern(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 13 + 1))
            return false;
    return true;
}

static void realloc_setup(void *ctx)
{
    realloc_ctx *c = ctx;
    c->block = xbuf_malloc(c->old_size);
    cr_assert_not_null(c->block);
    c->size = c->old_size;
    for (size_t i = 0; i < c->old_size; i++)
        c->block[i] = (unsigned char)(i * 13 + 1);
}

static int realloc_run(void *ctx)
{
    realloc_ctx *c = ctx;
    unsigned char *fresh = xbuf_realloc(c->block, c->old_size, c->new_size);
    if (fresh == NULL)
        return XBUF_ENOMEM;
    c->block = fresh;
    c->size = c->new_size;
    return XBUF_OK;
}

static const char *realloc_after_failure(void *ctx)
{
    realloc_ctx *c = ctx;
    return has_pattern(c->block, c->old_size) ? NULL
                                              : "the old block's contents changed";
}

static void realloc_teardown(void *ctx)
{
    realloc_ctx *c = ctx;
    if (c->size == c->new_size) {
        size_t keep = c->old_size < c->new_size ? c->old_size : c->new_size;
        cr_assert(has_pattern(c->block, keep), "the new block lost the old contents");
    }
    xbuf_free(c->block, c->size);
    c->block = NULL;
}

static void sweep_realloc(bool with_realloc, size_t old_size, size_t new_size)
{
    failing_alloc_install(with_realloc);
    realloc_ctx c = {NULL, old_size, new_size, 0};
    failing_alloc_op op = {realloc_setup, realloc_run, realloc_after_failure, realloc_teardown,
                           &c, 0};
    char what[80];
    snprintf(what, sizeof what, "xbuf_realloc %zu -> %zu (%s hook)", old_size, new_size,
             with_realloc ? "with" : "without");
    assert_sweep(&op, 1, what);
}

Test(xbuf_realloc, emulated_path)
{
    sweep_realloc(false, 32, 64);
    sweep_realloc(false, 64, 8);
    sweep_realloc(false, 1, 1000);
}

Test(xbuf_realloc, with_hook)
{
    sweep_realloc(true, 32, 64);
    sweep_realloc(true, 64, 8);
}
