/*
 * test_alloc_sweeps.c -- allocation-failure sweeps for the allocation sites
 * the other files' sweeps do not reach (found with gcov: see
 * docs/building.md, "Allocation-failure coverage").
 *
 *   mview.c, index_indirect: indexing an indirect dimension that is not
 *   the first builds a pointer table for the family -- two allocations
 *   (the table, then the new mview), each made to fail in turn, on a plain
 *   image view and on a sliced one; and the table's clean-up when the
 *   exporter's pointer table holds a NULL.
 *
 * Each failure must return XBUF_ENOMEM, set *out to NULL, leave the parent
 * usable and the export count as it was, and leave the live blocks exactly
 * as they were before the call (failing_alloc_sweep checks that).
 */
#include <criterion/criterion.h>

#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "image.h"

#define JUNK ((xbuf_mview *)(uintptr_t)0x5a5a5a5a)
#define NONE XBUF_SLICE_NONE

static unsigned char pixel_at(ptrdiff_t band, ptrdiff_t y, ptrdiff_t x)
{
    return (unsigned char)(band * 50 + y * 7 + x + 1);
}

static image *make_image(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width)
{
    image *img = NULL;
    cr_assert_eq(image_create(bands, height, width, 0, &img, NULL), XBUF_OK);
    for (ptrdiff_t b = 0; b < bands; b++)
        for (ptrdiff_t y = 0; y < height; y++)
            for (ptrdiff_t x = 0; x < width; x++)
                *image_pixel(img, b, y, x) = pixel_at(b, y, x);
    return img;
}

/* ---- index of an indirect dimension after the first -------------------- */

typedef struct index_ctx {
    image *img;
    bool sliced;        /* the parent is img[::-1, 1:, ::2] */
    ptrdiff_t y;        /* the row index (of the parent's dimension 1) */
    xbuf_mview *parent, *out;
    int rc;
    xbuf_error err;
} index_ctx;

static void index_setup(void *ctx)
{
    index_ctx *c = ctx;
    c->out = NULL;
    cr_assert_eq(xbuf_mview_from_exporter(&c->img->exporter, XBUF_FULL_RO, &c->parent, NULL),
                 XBUF_OK);
    if (c->sliced) {
        xbuf_slice s[3] = {{NONE, NONE, -1}, {1, NONE, 1}, {NONE, NONE, 2}};
        xbuf_mview *whole = c->parent;
        cr_assert_eq(xbuf_mview_slice(whole, s, 3, &c->parent, NULL), XBUF_OK);
        xbuf_mview_unref(whole);
    }
}

static int index_run(void *ctx)
{
    index_ctx *c = ctx;
    c->out = JUNK;
    xbuf_error_clear(&c->err);
    c->rc = xbuf_mview_index(c->parent, 1, c->y, &c->out, &c->err);
    return c->rc;
}

/* The pixel the parent shows at (b, x) of row y. */
static unsigned char expected(const index_ctx *c, ptrdiff_t b, ptrdiff_t x)
{
    ptrdiff_t rows = xbuf_mview_view(c->parent)->shape[1];
    ptrdiff_t y = c->y < 0 ? c->y + rows : c->y; /* negative indices count from the end */
    if (!c->sliced)
        return pixel_at(b, y, x);
    return pixel_at(c->img->bands - 1 - b, 1 + y, 2 * x);
}

static const char *check_row_view(const index_ctx *c, const xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    if (v == NULL || v->ndim != 2)
        return "the indexed view is not 2-d";
    for (ptrdiff_t b = 0; b < v->shape[0]; b++)
        for (ptrdiff_t x = 0; x < v->shape[1]; x++) {
            void *p = NULL;
            ptrdiff_t at[2] = {b, x};
            if (xbuf_mview_pointer(m, at, &p, NULL) != XBUF_OK)
                return "xbuf_mview_pointer fails on the indexed view";
            if (*(unsigned char *)p != expected(c, b, x))
                return "the indexed view shows the wrong pixels";
        }
    return NULL;
}

static const char *index_after_failure(void *ctx)
{
    index_ctx *c = ctx;
    if (c->out != NULL)
        return "*out is not NULL after a failure";
    if (c->err.code != c->rc || c->err.message[0] == '\0')
        return "no error, or err.code differs from the result";
    if (xbuf_exports_count(&c->img->exports) != 1)
        return "the image's export count changed";
    /* the parent still works: the same index succeeds now */
    xbuf_mview *again = NULL;
    if (xbuf_mview_index(c->parent, 1, c->y, &again, NULL) != XBUF_OK)
        return "the parent is not usable after the failure";
    const char *why = check_row_view(c, again);
    xbuf_mview_unref(again);
    return why;
}

static void index_teardown(void *ctx)
{
    index_ctx *c = ctx;
    if (c->rc == XBUF_OK && c->out != JUNK) {
        const char *why = check_row_view(c, c->out);
        cr_assert_null(why, "%s", why);
        xbuf_mview_unref(c->out);
    }
    c->out = NULL;
    xbuf_mview_unref(c->parent);
    c->parent = NULL;
    cr_assert_eq(xbuf_exports_count(&c->img->exports), 0);
}

static void sweep_index(bool sliced, ptrdiff_t y)
{
    image *img = make_image(3, 5, 6); /* before the allocator: the test frees it */
    failing_alloc_install(true);
    index_ctx c = {img, sliced, y, NULL, NULL, 0, {0}};
    failing_alloc_op op = {index_setup, index_run, index_after_failure, index_teardown, &c, 0};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "index of the indirect dimension (%s, y=%td): %ld problem(s); first: %s",
                 sliced ? "sliced" : "whole", y, report.problems, report.message);
    /* the pointer table, then the mview */
    cr_assert_eq(report.points, 2, "%ld allocations, expected 2", report.points);
    failing_alloc_uninstall();
    cr_assert_eq(image_destroy(img, NULL), XBUF_OK);
}

Test(index_indirect, whole_image)
{
    sweep_index(false, 0);
    sweep_index(false, 4);
    sweep_index(false, -2);
}

Test(index_indirect, sliced_image)
{
    sweep_index(true, 0);
    sweep_index(true, 3);
}

/* A NULL in the exporter's pointer table (put there after the export was
 * checked, as a misbehaving exporter might): the half-built table is freed. */
Test(index_indirect, null_row_frees_the_table)
{
    image *img = make_image(2, 3, 4);
    failing_alloc_install(true);
    xbuf_mview *parent = NULL, *out = JUNK;
    cr_assert_eq(xbuf_mview_from_exporter(&img->exporter, XBUF_FULL_RO, &parent, NULL), XBUF_OK);
    unsigned char *row = img->rows[1 * 3 + 2]; /* band 1, row 2 */
    img->rows[1 * 3 + 2] = NULL;
    size_t blocks = failing_alloc_live_blocks(), bytes = failing_alloc_live_bytes();
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_mview_index(parent, 1, 2, &out, &err), XBUF_EEXPORTER, "%s", err.message);
    cr_assert_null(out);
    cr_assert_eq(failing_alloc_live_blocks(), blocks, "a block was left behind");
    cr_assert_eq(failing_alloc_live_bytes(), bytes);
    /* rows without the NULL still index */
    cr_assert_eq(xbuf_mview_index(parent, 1, 1, &out, &err), XBUF_OK, "%s", err.message);
    xbuf_mview_unref(out);
    xbuf_mview_unref(parent);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
    cr_assert_eq(failing_alloc_live_blocks(), 0, "%zu blocks leaked", failing_alloc_live_blocks());
    failing_alloc_uninstall();
    img->rows[1 * 3 + 2] = row;
    cr_assert_eq(image_destroy(img, NULL), XBUF_OK);
}
