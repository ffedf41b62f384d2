/*
 * test_layout.c -- xbuf_is_contiguous, xbuf_view_is_contiguous,
 * xbuf_strides_fill, xbuf_view_pointer, xbuf_extent and xbuf_view_extent.
 *
 * Expected values are computed here by hand (addresses from the test's own
 * arrays, byte ranges from the strides), and contiguity follows CPython's
 * PyBuffer_IsContiguous (Objects/abstract.c), with the header's one
 * documented difference: suboffsets that are all negative are ignored.
 */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xbuf.h>

#include "image.h"
#include "samples.h"

#define P(x) ((ptrdiff_t)(x))
#define PTRSIZE P(sizeof(void *))

static void assert_contains(const char *message, const char *needle)
{
    cr_assert_not_null(strstr(message, needle), "message \"%s\" does not contain \"%s\"",
                       message, needle);
}

/* A view over `buf` with the given metadata; no release hook. */
static xbuf_view make_view(void *buf, ptrdiff_t itemsize, int ndim, ptrdiff_t *shape,
                           ptrdiff_t *strides, ptrdiff_t *suboffsets)
{
    xbuf_view view;
    memset(&view, 0, sizeof view);
    view.buf = buf;
    view.itemsize = itemsize;
    view.ndim = ndim;
    view.format = itemsize == 4 ? "i" : itemsize == 2 ? "h" : "B";
    view.shape = shape;
    view.strides = strides;
    view.suboffsets = suboffsets;
    view.len = itemsize;
    for (int i = 0; shape != NULL && i < ndim; i++)
        view.len *= shape[i];
    return view;
}

/* Contiguity in C, F and A order, as a 3-character string such as "C-A". */
static void assert_orders(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                          ptrdiff_t itemsize, const char *expected)
{
    char got[4] = {
        xbuf_is_contiguous(ndim, shape, strides, itemsize, 'C') ? 'C' : '-',
        xbuf_is_contiguous(ndim, shape, strides, itemsize, 'F') ? 'F' : '-',
        xbuf_is_contiguous(ndim, shape, strides, itemsize, 'A') ? 'A' : '-', '\0'};
    cr_assert_str_eq(got, expected, "contiguity (C, F, A) is %s, expected %s", got, expected);
}

static void assert_view_orders(const xbuf_view *view, const char *expected)
{
    char got[4] = {xbuf_view_is_contiguous(view, 'C') ? 'C' : '-',
                   xbuf_view_is_contiguous(view, 'F') ? 'F' : '-',
                   xbuf_view_is_contiguous(view, 'A') ? 'A' : '-', '\0'};
    cr_assert_str_eq(got, expected, "view contiguity (C, F, A) is %s, expected %s", got,
                     expected);
}

/* ---- xbuf_is_contiguous ----------------------------------------------------- */

Test(is_contiguous, c_strides_are_c_not_f)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4};
    assert_orders(2, shape, strides, 4, "C-A");
}

Test(is_contiguous, f_strides_are_f_not_c)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {4, 8};
    assert_orders(2, shape, strides, 4, "-FA");
}

Test(is_contiguous, three_d_c_and_f)
{
    ptrdiff_t shape[] = {2, 3, 4}, c[] = {96, 32, 8}, f[] = {8, 16, 48};
    assert_orders(3, shape, c, 8, "C-A");
    assert_orders(3, shape, f, 8, "-FA");
}

Test(is_contiguous, padded_rows_are_not_contiguous)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {16, 4};
    assert_orders(2, shape, strides, 4, "---");
}

Test(is_contiguous, every_other_item_is_not_contiguous)
{
    ptrdiff_t shape[] = {3}, strides[] = {8};
    assert_orders(1, shape, strides, 4, "---");
}

Test(is_contiguous, stride_not_matching_itemsize_is_not_contiguous)
{
    ptrdiff_t shape[] = {4}, strides[] = {2};
    assert_orders(1, shape, strides, 4, "---");
}

Test(is_contiguous, negative_strides_are_not_contiguous)
{
    ptrdiff_t shape1[] = {3}, strides1[] = {-4};
    assert_orders(1, shape1, strides1, 4, "---");
    ptrdiff_t shape2[] = {2, 3}, strides2[] = {-12, 4};
    assert_orders(2, shape2, strides2, 4, "---");
}

Test(is_contiguous, zero_stride_is_not_contiguous)
{
    ptrdiff_t shape[] = {3}, strides[] = {0};
    assert_orders(1, shape, strides, 4, "---");
}

Test(is_contiguous, zero_size_is_contiguous_in_every_order_whatever_the_strides)
{
    ptrdiff_t shape[] = {2, 0, 3}, strides[] = {7, -5, 100};
    assert_orders(3, shape, strides, 4, "CFA");
    assert_orders(3, shape, NULL, 4, "CFA");
    ptrdiff_t shape1[] = {0}, strides1[] = {-1};
    assert_orders(1, shape1, strides1, 8, "CFA");
}

Test(is_contiguous, extent_1_dimensions_ignore_their_stride)
{
    ptrdiff_t shape[] = {1, 3}, strides[] = {999, 4};
    assert_orders(2, shape, strides, 4, "CFA");
    ptrdiff_t shape2[] = {3, 1}, strides2[] = {4, -77};
    assert_orders(2, shape2, strides2, 4, "CFA");
    ptrdiff_t shape3[] = {2, 1, 3}, strides3[] = {12, 0, 4};
    assert_orders(3, shape3, strides3, 4, "C-A");
    ptrdiff_t shape4[] = {1}, strides4[] = {-4};
    assert_orders(1, shape4, strides4, 4, "CFA");
}

Test(is_contiguous, all_extents_1_is_contiguous_with_any_strides)
{
    ptrdiff_t shape[] = {1, 1, 1}, strides[] = {-3, 0, 12345};
    assert_orders(3, shape, strides, 2, "CFA");
}

Test(is_contiguous, null_strides_are_c_order)
{
    ptrdiff_t shape[] = {2, 3};
    assert_orders(2, shape, NULL, 4, "C-A");
}

Test(is_contiguous, null_strides_are_f_order_only_with_at_most_one_long_dimension)
{
    ptrdiff_t one_long[] = {1, 5, 1};
    assert_orders(3, one_long, NULL, 4, "CFA");
    ptrdiff_t none_long[] = {1, 1};
    assert_orders(2, none_long, NULL, 4, "CFA");
    ptrdiff_t one_d[] = {7};
    assert_orders(1, one_d, NULL, 1, "CFA");
    ptrdiff_t two_long[] = {2, 1, 3};
    assert_orders(3, two_long, NULL, 4, "C-A");
}

Test(is_contiguous, zero_d_is_contiguous_in_every_order)
{
    assert_orders(0, NULL, NULL, 8, "CFA");
    ptrdiff_t unused = -5;
    assert_orders(0, &unused, &unused, 8, "CFA");
}

Test(is_contiguous, sixty_four_dimensions)
{
    ptrdiff_t shape[XBUF_MAX_NDIM], c[XBUF_MAX_NDIM], f[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        shape[i] = i % 16 == 0 ? 2 : 1; /* four dimensions of 2 */
    ptrdiff_t step = 1;
    for (int i = XBUF_MAX_NDIM - 1; i >= 0; i--) {
        c[i] = step;
        step *= shape[i];
    }
    step = 1;
    for (int i = 0; i < XBUF_MAX_NDIM; i++) {
        f[i] = step;
        step *= shape[i];
    }
    assert_orders(XBUF_MAX_NDIM, shape, c, 1, "C-A");
    assert_orders(XBUF_MAX_NDIM, shape, f, 1, "-FA");
    assert_orders(XBUF_MAX_NDIM, shape, NULL, 1, "C-A");
}

Test(is_contiguous, invalid_order_is_false)
{
    ptrdiff_t shape[] = {4}, strides[] = {1};
    const char orders[] = {'X', 'c', 'f', 'a', '\0', 'K'};
    for (size_t i = 0; i < sizeof orders; i++)
        cr_assert_not(xbuf_is_contiguous(1, shape, strides, 1, orders[i]), "order '%c'",
                      orders[i]);
    cr_assert_not(xbuf_is_contiguous(0, NULL, NULL, 1, 'X'));
}

Test(is_contiguous, invalid_metadata_is_false)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4}, negative[] = {2, -3};
    cr_assert_not(xbuf_is_contiguous(-1, shape, strides, 4, 'C'), "ndim -1");
    cr_assert_not(xbuf_is_contiguous(XBUF_MAX_NDIM + 1, shape, NULL, 4, 'C'), "ndim 65");
    cr_assert_not(xbuf_is_contiguous(2, NULL, strides, 4, 'C'), "NULL shape");
    cr_assert_not(xbuf_is_contiguous(2, NULL, NULL, 4, 'A'), "NULL shape, NULL strides");
    cr_assert_not(xbuf_is_contiguous(2, shape, strides, 0, 'C'), "itemsize 0");
    cr_assert_not(xbuf_is_contiguous(2, shape, NULL, -4, 'C'), "itemsize -4");
    cr_assert_not(xbuf_is_contiguous(2, negative, NULL, 4, 'C'), "negative extent");
}

/* ---- xbuf_view_is_contiguous ------------------------------------------------- */

Test(view_is_contiguous, null_view_is_false)
{
    cr_assert_not(xbuf_view_is_contiguous(NULL, 'C'));
    cr_assert_not(xbuf_view_is_contiguous(NULL, 'A'));
}

Test(view_is_contiguous, full_metadata_c_and_f_views)
{
    int32_t data[6];
    ptrdiff_t shape[] = {2, 3}, c[] = {12, 4}, f[] = {4, 8};
    xbuf_view view = make_view(data, 4, 2, shape, c, NULL);
    assert_view_orders(&view, "C-A");
    view.strides = f;
    assert_view_orders(&view, "-FA");
}

Test(view_is_contiguous, invalid_order_is_false)
{
    int32_t data[6];
    ptrdiff_t shape[] = {6}, strides[] = {4};
    xbuf_view view = make_view(data, 4, 1, shape, strides, NULL);
    cr_assert(xbuf_view_is_contiguous(&view, 'C'));
    cr_assert_not(xbuf_view_is_contiguous(&view, 'X'), "1-d view, order 'X'");
    cr_assert_not(xbuf_view_is_contiguous(&view, '\0'), "1-d view, order NUL");
    cr_assert_not(xbuf_view_is_contiguous(&view, 'c'), "1-d view, order 'c'");
}

Test(view_is_contiguous, invalid_order_is_false_for_2d_and_empty_views)
{
    int32_t data[6];
    ptrdiff_t shape[] = {2, 3}, f[] = {4, 8}, empty[] = {2, 0};
    xbuf_view view = make_view(data, 4, 2, shape, f, NULL);
    cr_assert_not(xbuf_view_is_contiguous(&view, 'X'), "F-contiguous view, order 'X'");
    view = make_view(NULL, 4, 2, empty, f, NULL);
    cr_assert_not(xbuf_view_is_contiguous(&view, 'X'), "empty view, order 'X'");
}

Test(view_is_contiguous, malformed_view_is_false)
{
    int32_t data[6];
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4};
    xbuf_view view = make_view(data, 4, 2, shape, strides, NULL);
    view.len = 20; /* not product(shape) * itemsize */
    assert_view_orders(&view, "---");
    view = make_view(data, 4, 2, shape, strides, NULL);
    view.ndim = XBUF_MAX_NDIM + 1;
    assert_view_orders(&view, "---");
    view = make_view(data, 4, 2, shape, strides, NULL);
    view.itemsize = 0;
    assert_view_orders(&view, "---");
}

Test(view_is_contiguous, suboffset_in_use_is_never_contiguous)
{
    int32_t data[6];
    void *table[2] = {&data[0], &data[3]};
    ptrdiff_t shape[] = {2, 3}, strides[] = {PTRSIZE, 4}, suboffsets[] = {0, -1};
    xbuf_view view = make_view(table, 4, 2, shape, strides, suboffsets);
    assert_view_orders(&view, "---");
    /* Even when the strides alone would be packed. */
    ptrdiff_t packed[] = {12, 4};
    view.strides = packed;
    view.buf = data;
    assert_view_orders(&view, "---");
}

Test(view_is_contiguous, all_negative_suboffsets_are_ignored)
{
    int32_t data[6];
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4}, suboffsets[] = {-1, -100};
    xbuf_view view = make_view(data, 4, 2, shape, strides, suboffsets);
    assert_view_orders(&view, "C-A");
}

Test(view_is_contiguous, zero_size_view_with_odd_strides_is_contiguous)
{
    ptrdiff_t shape[] = {3, 0}, strides[] = {-8, 3};
    xbuf_view view = make_view(NULL, 4, 2, shape, strides, NULL);
    assert_view_orders(&view, "CFA");
}

Test(view_is_contiguous, negative_strides_view_is_not_contiguous)
{
    int32_t data[3];
    ptrdiff_t shape[] = {3}, strides[] = {-4};
    xbuf_view view = make_view(&data[2], 4, 1, shape, strides, NULL);
    assert_view_orders(&view, "---");
}

/* The protocol lets a view leave strides, shape and format NULL; the header
 * says NULL strides mean C-contiguous and a NULL format means "B". */
Test(view_is_contiguous, null_strides_view_is_c_contiguous)
{
    int32_t data[6];
    ptrdiff_t shape[] = {2, 3};
    xbuf_view view = make_view(data, 4, 2, shape, NULL, NULL);
    assert_view_orders(&view, "C-A");
}

Test(view_is_contiguous, null_format_view_is_contiguous)
{
    unsigned char data[6];
    ptrdiff_t shape[] = {6}, strides[] = {1};
    xbuf_view view = make_view(data, 1, 1, shape, strides, NULL);
    view.format = NULL;
    assert_view_orders(&view, "CFA");
}

Test(view_is_contiguous, shapeless_1d_view_is_contiguous)
{
    int16_t data[5];
    xbuf_view view = make_view(data, 2, 1, NULL, NULL, NULL);
    view.len = 10;
    view.format = NULL;
    assert_view_orders(&view, "CFA");
}

Test(view_is_contiguous, zero_d_view_is_contiguous)
{
    double x = 0;
    xbuf_view view = make_view(&x, 8, 0, NULL, NULL, NULL);
    view.format = "d";
    assert_view_orders(&view, "CFA");
}

static void orders_of(const xbuf_view *view, char *out)
{
    out[0] = xbuf_view_is_contiguous(view, 'C') ? 'C' : '-';
    out[1] = xbuf_view_is_contiguous(view, 'F') ? 'F' : '-';
    out[2] = xbuf_view_is_contiguous(view, 'A') ? 'A' : '-';
    out[3] = '\0';
}

Test(view_is_contiguous, simple_view_from_samples_exporter_is_contiguous)
{
    samples *s;
    int16_t values[4] = {1, 2, 3, 4};
    char simple[4], records[4];
    cr_assert_eq(samples_create(&s, NULL), 0);
    cr_assert_eq(samples_append(s, values, 4, NULL), 0);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&s->exporter, &view, XBUF_SIMPLE, NULL), 0);
    orders_of(&view, simple);
    xbuf_release(&view);
    cr_assert_eq(xbuf_get(&s->exporter, &view, XBUF_RECORDS_RO, NULL), 0);
    orders_of(&view, records);
    xbuf_release(&view);
    cr_assert_eq(samples_destroy(s, NULL), 0);
    cr_assert_str_eq(records, "CFA", "RECORDS_RO view of samples: %s", records);
    cr_assert_str_eq(simple, "CFA", "SIMPLE view of samples: %s", simple);
}

Test(view_is_contiguous, image_indirect_view_is_not_contiguous)
{
    image *img;
    cr_assert_eq(image_create(2, 3, 4, 0, &img, NULL), 0);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&img->exporter, &view, XBUF_FULL_RO, NULL), 0);
    assert_view_orders(&view, "---");
    xbuf_release(&view);
    cr_assert_eq(image_destroy(img, NULL), 0);
}

Test(view_is_contiguous, image_one_row_direct_view_is_contiguous)
{
    image *img;
    cr_assert_eq(image_create(1, 1, 4, 0, &img, NULL), 0);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&img->exporter, &view, XBUF_RECORDS_RO, NULL), 0);
    assert_view_orders(&view, "CFA");
    xbuf_release(&view);
    cr_assert_eq(image_destroy(img, NULL), 0);
}

/* ---- xbuf_strides_fill ---------------------------------------------------- */

static void assert_strides(const ptrdiff_t *got, const ptrdiff_t *expected, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], expected[i], "strides[%d] = %td, expected %td", i, got[i],
                     expected[i]);
}

Test(strides_fill, c_order)
{
    ptrdiff_t shape[] = {2, 3, 4}, strides[3], expected[] = {96, 32, 8};
    cr_assert_eq(xbuf_strides_fill(3, shape, 8, 'C', strides, NULL), 0);
    assert_strides(strides, expected, 3);
    cr_assert(xbuf_is_contiguous(3, shape, strides, 8, 'C'));
}

Test(strides_fill, f_order)
{
    ptrdiff_t shape[] = {2, 3, 4}, strides[3], expected[] = {8, 16, 48};
    cr_assert_eq(xbuf_strides_fill(3, shape, 8, 'F', strides, NULL), 0);
    assert_strides(strides, expected, 3);
    cr_assert(xbuf_is_contiguous(3, shape, strides, 8, 'F'));
}

Test(strides_fill, one_d_is_itemsize)
{
    ptrdiff_t shape[] = {10}, strides[1];
    cr_assert_eq(xbuf_strides_fill(1, shape, 2, 'C', strides, NULL), 0);
    cr_assert_eq(strides[0], 2);
    strides[0] = 0;
    cr_assert_eq(xbuf_strides_fill(1, shape, 2, 'F', strides, NULL), 0);
    cr_assert_eq(strides[0], 2);
}

Test(strides_fill, zero_d_writes_nothing)
{
    cr_assert_eq(xbuf_strides_fill(0, NULL, 4, 'C', NULL, NULL), 0);
    cr_assert_eq(xbuf_strides_fill(0, NULL, 4, 'F', NULL, NULL), 0);
    ptrdiff_t sentinel = 12345;
    cr_assert_eq(xbuf_strides_fill(0, NULL, 4, 'C', &sentinel, NULL), 0);
    cr_assert_eq(sentinel, 12345);
}

Test(strides_fill, zero_extents)
{
    /* The dimensions from the zero extent inwards are determined; outside
     * it CPython (0) and NumPy (skip the zero) differ, so not checked. */
    ptrdiff_t shape[] = {2, 0, 3}, strides[3];
    cr_assert_eq(xbuf_strides_fill(3, shape, 4, 'C', strides, NULL), 0);
    cr_assert_eq(strides[2], 4);
    cr_assert_eq(strides[1], 12);
    cr_assert(xbuf_is_contiguous(3, shape, strides, 4, 'C'));
    cr_assert_eq(xbuf_strides_fill(3, shape, 4, 'F', strides, NULL), 0);
    cr_assert_eq(strides[0], 4);
    cr_assert_eq(strides[1], 8);
    cr_assert(xbuf_is_contiguous(3, shape, strides, 4, 'F'));
}

Test(strides_fill, extent_1_dimensions)
{
    ptrdiff_t shape[] = {1, 5, 1}, strides[3], c[] = {20, 4, 4}, f[] = {4, 4, 20};
    cr_assert_eq(xbuf_strides_fill(3, shape, 4, 'C', strides, NULL), 0);
    assert_strides(strides, c, 3);
    cr_assert_eq(xbuf_strides_fill(3, shape, 4, 'F', strides, NULL), 0);
    assert_strides(strides, f, 3);
}

Test(strides_fill, sixty_four_dimensions)
{
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        shape[i] = i < 62 ? 2 : 1; /* 2^62 items of 1 byte: fits */
    cr_assert_eq(xbuf_strides_fill(XBUF_MAX_NDIM, shape, 1, 'C', strides, NULL), 0);
    cr_assert_eq(strides[63], 1);
    cr_assert_eq(strides[62], 1);
    cr_assert_eq(strides[61], 1);
    cr_assert_eq(strides[60], 2);
    cr_assert_eq(strides[0], P(1) << 61);
    cr_assert_eq(xbuf_strides_fill(XBUF_MAX_NDIM, shape, 1, 'F', strides, NULL), 0);
    cr_assert_eq(strides[0], 1);
    cr_assert_eq(strides[61], P(1) << 61);
    cr_assert_eq(strides[62], P(1) << 62);
    cr_assert_eq(strides[63], P(1) << 62);
}

Test(strides_fill, sixty_four_dimensions_of_2_overflow)
{
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        shape[i] = 2;
    xbuf_error err;
    cr_assert_eq(xbuf_strides_fill(XBUF_MAX_NDIM, shape, 1, 'C', strides, &err), XBUF_EOVERFLOW);
    cr_assert_eq(err.code, XBUF_EOVERFLOW);
}

Test(strides_fill, largest_size_that_fits)
{
    ptrdiff_t shape[] = {PTRDIFF_MAX}, strides[1];
    cr_assert_eq(xbuf_strides_fill(1, shape, 1, 'C', strides, NULL), 0);
    cr_assert_eq(strides[0], 1);
    ptrdiff_t shape2[] = {1, PTRDIFF_MAX / 8}, strides2[2];
    cr_assert_eq(xbuf_strides_fill(2, shape2, 8, 'F', strides2, NULL), 0);
    cr_assert_eq(strides2[0], 8);
    cr_assert_eq(strides2[1], 8);
}

static void assert_fill_fails(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, char order,
                              ptrdiff_t *strides, int code, const char *needle)
{
    ptrdiff_t before[XBUF_MAX_NDIM + 1];
    int n = strides != NULL && ndim > 0 && ndim <= XBUF_MAX_NDIM ? ndim : 0;
    if (n > 0)
        memcpy(before, strides, (size_t)n * sizeof *strides);
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_strides_fill(ndim, shape, itemsize, order, strides, &err), code,
                 "expected %d", code);
    cr_assert_eq(err.code, code);
    assert_contains(err.message, needle);
    cr_assert_eq(xbuf_strides_fill(ndim, shape, itemsize, order, strides, NULL), code);
    if (n > 0)
        cr_assert(memcmp(before, strides, (size_t)n * sizeof *strides) == 0,
                  "strides written on failure");
}

Test(strides_fill, overflow_is_eoverflow_and_writes_nothing)
{
    ptrdiff_t strides[2] = {-7, -7};
    ptrdiff_t two_d[] = {PTRDIFF_MAX / 2 + 1, 2};
    assert_fill_fails(2, two_d, 1, 'C', strides, XBUF_EOVERFLOW, "overflow");
    assert_fill_fails(2, two_d, 1, 'F', strides, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t one_d[] = {3};
    assert_fill_fails(1, one_d, PTRDIFF_MAX / 2, 'C', strides, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t max[] = {PTRDIFF_MAX};
    assert_fill_fails(1, max, 2, 'F', strides, XBUF_EOVERFLOW, "overflow");
}

Test(strides_fill, bad_arguments_are_einval)
{
    ptrdiff_t shape[] = {2, 3}, strides[2] = {-7, -7}, negative[] = {2, -1};
    assert_fill_fails(-1, shape, 4, 'C', strides, XBUF_EINVAL, "ndim -1");
    assert_fill_fails(XBUF_MAX_NDIM + 1, shape, 4, 'C', strides, XBUF_EINVAL, "ndim 65");
    assert_fill_fails(2, NULL, 4, 'C', strides, XBUF_EINVAL, "shape is NULL");
    assert_fill_fails(2, shape, 4, 'C', NULL, XBUF_EINVAL, "strides is NULL");
    assert_fill_fails(2, shape, 0, 'C', strides, XBUF_EINVAL, "itemsize 0");
    assert_fill_fails(2, shape, -8, 'F', strides, XBUF_EINVAL, "itemsize -8");
    assert_fill_fails(2, negative, 4, 'C', strides, XBUF_EINVAL, "negative");
    assert_fill_fails(2, shape, 4, 'A', strides, XBUF_EINVAL, "order");
    assert_fill_fails(2, shape, 4, 'c', strides, XBUF_EINVAL, "order");
    assert_fill_fails(0, NULL, 4, 'X', NULL, XBUF_EINVAL, "order");
    assert_fill_fails(0, NULL, 0, 'C', NULL, XBUF_EINVAL, "itemsize");
}

/* ---- xbuf_view_pointer ------------------------------------------------------- */

static void *pointer_at(const xbuf_view *view, const ptrdiff_t *indices)
{
    void *out = NULL;
    xbuf_error err;
    int rc = xbuf_view_pointer(view, indices, &out, &err);
    cr_assert_eq(rc, 0, "xbuf_view_pointer failed: %s", err.message);
    return out;
}

static void assert_pointer_fails(const xbuf_view *view, const ptrdiff_t *indices, int code,
                                 const char *needle)
{
    void *sentinel = (void *)&sentinel;
    void *out = sentinel;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_view_pointer(view, indices, &out, &err), code, "expected %d", code);
    cr_assert_eq(err.code, code);
    assert_contains(err.message, needle);
    cr_assert_eq(out, sentinel, "*out written on failure");
    cr_assert_eq(xbuf_view_pointer(view, indices, &out, NULL), code);
}

Test(view_pointer, strided_view)
{
    int32_t m[4][5];
    /* Columns 0, 2, 4 of a 4 x 5 matrix. */
    ptrdiff_t shape[] = {4, 3}, strides[] = {20, 8};
    xbuf_view view = make_view(m, 4, 2, shape, strides, NULL);
    for (ptrdiff_t i = 0; i < 4; i++)
        for (ptrdiff_t j = 0; j < 3; j++)
            cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){i, j}), (void *)&m[i][2 * j],
                         "item (%td, %td)", i, j);
}

Test(view_pointer, negative_strides)
{
    int32_t m[4][5];
    /* Rows and columns reversed: item (0, 0) is m[3][4]. */
    ptrdiff_t shape[] = {4, 5}, strides[] = {-20, -4};
    xbuf_view view = make_view(&m[3][4], 4, 2, shape, strides, NULL);
    for (ptrdiff_t i = 0; i < 4; i++)
        for (ptrdiff_t j = 0; j < 5; j++)
            cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){i, j}), (void *)&m[3 - i][4 - j],
                         "item (%td, %td)", i, j);
}

Test(view_pointer, zero_stride_repeats_the_item)
{
    int32_t x[1];
    ptrdiff_t shape[] = {5}, strides[] = {0};
    xbuf_view view = make_view(x, 4, 1, shape, strides, NULL);
    cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){4}), (void *)x);
}

Test(view_pointer, zero_d_view)
{
    double x;
    xbuf_view view = make_view(&x, 8, 0, NULL, NULL, NULL);
    cr_assert_eq(pointer_at(&view, NULL), (void *)&x);
    ptrdiff_t unused = 99;
    cr_assert_eq(pointer_at(&view, &unused), (void *)&x);
}

Test(view_pointer, shapeless_1d_view)
{
    int32_t a[5];
    xbuf_view view = make_view(a, 4, 1, NULL, NULL, NULL);
    view.len = 20;
    for (ptrdiff_t i = 0; i < 5; i++)
        cr_assert_eq(pointer_at(&view, &i), (void *)&a[i], "item %td", i);
    assert_pointer_fails(&view, (ptrdiff_t[]){5}, XBUF_ERANGE, "out of range");
    assert_pointer_fails(&view, (ptrdiff_t[]){-1}, XBUF_ERANGE, "out of range");
}

Test(view_pointer, null_strides_nd_view_is_c_order)
{
    int16_t a[2][3][4];
    ptrdiff_t shape[] = {2, 3, 4};
    xbuf_view view = make_view(a, 2, 3, shape, NULL, NULL);
    for (ptrdiff_t i = 0; i < 2; i++)
        for (ptrdiff_t j = 0; j < 3; j++)
            for (ptrdiff_t k = 0; k < 4; k++)
                cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){i, j, k}), (void *)&a[i][j][k],
                             "item (%td, %td, %td)", i, j, k);
}

Test(view_pointer, pil_style_rows)
{
    /* Rows allocated separately, reached through a table of pointers. */
    unsigned char r0[6], r1[6], r2[6];
    unsigned char *table[3] = {r0, r1, r2};
    ptrdiff_t shape[] = {3, 4}, strides[] = {PTRSIZE, 1}, suboffsets[] = {2, -1};
    xbuf_view view = make_view(table, 1, 2, shape, strides, suboffsets);
    for (ptrdiff_t i = 0; i < 3; i++)
        for (ptrdiff_t j = 0; j < 4; j++)
            cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){i, j}), (void *)(table[i] + 2 + j),
                         "item (%td, %td)", i, j);
}

Test(view_pointer, pil_style_rows_in_reverse)
{
    unsigned char r0[4], r1[4], r2[4];
    unsigned char *table[3] = {r0, r1, r2};
    ptrdiff_t shape[] = {3, 4}, strides[] = {-PTRSIZE, 1}, suboffsets[] = {0, -1};
    xbuf_view view = make_view(&table[2], 1, 2, shape, strides, suboffsets);
    for (ptrdiff_t i = 0; i < 3; i++)
        cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){i, 1}), (void *)(table[2 - i] + 1));
}

Test(view_pointer, image_indirect_view_addresses_the_pixels)
{
    image *img;
    cr_assert_eq(image_create(3, 4, 5, 0, &img, NULL), 0);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&img->exporter, &view, XBUF_FULL, NULL), 0);
    for (ptrdiff_t b = 0; b < 3; b++)
        for (ptrdiff_t y = 0; y < 4; y++)
            for (ptrdiff_t x = 0; x < 5; x++) {
                unsigned char *p = pointer_at(&view, (ptrdiff_t[]){b, y, x});
                cr_assert_eq(p, image_pixel(img, b, y, x), "pixel (%td, %td, %td)", b, y, x);
                *p = (unsigned char)(b * 100 + y * 10 + x);
            }
    for (ptrdiff_t b = 0; b < 3; b++)
        for (ptrdiff_t y = 0; y < 4; y++)
            for (ptrdiff_t x = 0; x < 5; x++)
                cr_assert_eq(*image_pixel(img, b, y, x), b * 100 + y * 10 + x);
    assert_pointer_fails(&view, (ptrdiff_t[]){3, 0, 0}, XBUF_ERANGE, "dimension 0");
    assert_pointer_fails(&view, (ptrdiff_t[]){0, 4, 0}, XBUF_ERANGE, "dimension 1");
    assert_pointer_fails(&view, (ptrdiff_t[]){0, 0, 5}, XBUF_ERANGE, "dimension 2");
    assert_pointer_fails(&view, (ptrdiff_t[]){0, -1, 0}, XBUF_ERANGE, "out of range");
    xbuf_release(&view);
    cr_assert_eq(image_destroy(img, NULL), 0);
}

Test(view_pointer, image_one_row_direct_view_writes_the_pixels)
{
    image *img;
    cr_assert_eq(image_create(1, 1, 6, 0, &img, NULL), 0);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&img->exporter, &view, XBUF_CONTIG, NULL), 0);
    cr_assert_null(view.suboffsets);
    unsigned char *p = pointer_at(&view, (ptrdiff_t[]){0, 0, 4});
    cr_assert_eq(p, image_pixel(img, 0, 0, 4));
    *p = 200;
    cr_assert_eq(*image_pixel(img, 0, 0, 4), 200);
    xbuf_release(&view);
    cr_assert_eq(image_destroy(img, NULL), 0);
}

Test(view_pointer, out_of_range_indices_are_erange)
{
    int32_t m[2][3];
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4};
    xbuf_view view = make_view(m, 4, 2, shape, strides, NULL);
    assert_pointer_fails(&view, (ptrdiff_t[]){2, 0}, XBUF_ERANGE, "index 2");
    assert_pointer_fails(&view, (ptrdiff_t[]){0, 3}, XBUF_ERANGE, "index 3");
    assert_pointer_fails(&view, (ptrdiff_t[]){-1, 0}, XBUF_ERANGE, "index -1");
    assert_pointer_fails(&view, (ptrdiff_t[]){0, -3}, XBUF_ERANGE, "out of range");
    assert_pointer_fails(&view, (ptrdiff_t[]){PTRDIFF_MAX, 0}, XBUF_ERANGE, "out of range");
}

Test(view_pointer, zero_size_view_has_no_valid_index)
{
    ptrdiff_t shape[] = {3, 0}, strides[] = {4, 4};
    xbuf_view view = make_view(NULL, 4, 2, shape, strides, NULL);
    assert_pointer_fails(&view, (ptrdiff_t[]){0, 0}, XBUF_ERANGE, "out of range");
}

Test(view_pointer, null_row_pointer_is_eexporter)
{
    unsigned char r0[4];
    unsigned char *table[2] = {r0, NULL};
    ptrdiff_t shape[] = {2, 4}, strides[] = {PTRSIZE, 1}, suboffsets[] = {0, -1};
    xbuf_view view = make_view(table, 1, 2, shape, strides, suboffsets);
    cr_assert_eq(pointer_at(&view, (ptrdiff_t[]){0, 3}), (void *)(r0 + 3));
    assert_pointer_fails(&view, (ptrdiff_t[]){1, 0}, XBUF_EEXPORTER, "NULL pointer");
}

Test(view_pointer, null_arguments_are_einval)
{
    int32_t m[2][3];
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4};
    xbuf_view view = make_view(m, 4, 2, shape, strides, NULL);
    ptrdiff_t index[] = {0, 0};
    void *out;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_view_pointer(NULL, index, &out, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_view_pointer(NULL, index, &out, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_view_pointer(&view, index, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_view_pointer(&view, index, NULL, NULL), XBUF_EINVAL);
    assert_pointer_fails(&view, NULL, XBUF_EINVAL, "indices");
}

Test(view_pointer, nd_view_without_shape_is_einval)
{
    int32_t m[6];
    xbuf_view view = make_view(m, 4, 0, NULL, NULL, NULL);
    view.ndim = 2;
    view.len = 24;
    assert_pointer_fails(&view, (ptrdiff_t[]){0, 0}, XBUF_EINVAL, "shape");
}

Test(view_pointer, suboffsets_without_strides_are_einval)
{
    int32_t m[6];
    ptrdiff_t shape[] = {2, 3}, suboffsets[] = {0, -1};
    xbuf_view view = make_view(m, 4, 2, shape, NULL, suboffsets);
    assert_pointer_fails(&view, (ptrdiff_t[]){0, 0}, XBUF_EINVAL, "strides");
}

Test(view_pointer, ndim_out_of_range_is_einval)
{
    int32_t m[6];
    ptrdiff_t shape[XBUF_MAX_NDIM + 1], index[XBUF_MAX_NDIM + 1] = {0};
    for (int i = 0; i <= XBUF_MAX_NDIM; i++)
        shape[i] = 1;
    xbuf_view view = make_view(m, 4, XBUF_MAX_NDIM + 1, shape, NULL, NULL);
    assert_pointer_fails(&view, index, XBUF_EINVAL, "ndim 65");
    view.ndim = -1;
    assert_pointer_fails(&view, index, XBUF_EINVAL, "ndim -1");
}

Test(view_pointer, sixty_four_dimensions)
{
    int32_t a[4];
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM], index[XBUF_MAX_NDIM] = {0};
    for (int i = 0; i < XBUF_MAX_NDIM; i++) {
        shape[i] = 1;
        strides[i] = 1000; /* unused for extent-1 dimensions at index 0 */
    }
    shape[0] = shape[63] = 2;
    strides[0] = 8;
    strides[63] = 4;
    xbuf_view view = make_view(a, 4, XBUF_MAX_NDIM, shape, strides, NULL);
    index[0] = 1;
    index[63] = 1;
    cr_assert_eq(pointer_at(&view, index), (void *)&a[3]);
    view.strides = NULL;
    index[63] = 0;
    cr_assert_eq(pointer_at(&view, index), (void *)&a[2]);
}

/* ---- xbuf_extent -------------------------------------------------------------- */

static void assert_extent(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                          ptrdiff_t itemsize, ptrdiff_t lo, ptrdiff_t hi)
{
    ptrdiff_t got_lo = -12345, got_hi = -12345;
    xbuf_error err;
    int rc = xbuf_extent(ndim, shape, strides, itemsize, &got_lo, &got_hi, &err);
    cr_assert_eq(rc, 0, "xbuf_extent failed: %s", err.message);
    cr_assert_eq(got_lo, lo, "lo = %td, expected %td", got_lo, lo);
    cr_assert_eq(got_hi, hi, "hi = %td, expected %td", got_hi, hi);
}

static void assert_extent_fails(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                                ptrdiff_t itemsize, int code, const char *needle)
{
    ptrdiff_t lo = 0, hi = 0;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_extent(ndim, shape, strides, itemsize, &lo, &hi, &err), code,
                 "expected %d", code);
    cr_assert_eq(err.code, code);
    assert_contains(err.message, needle);
    cr_assert_eq(xbuf_extent(ndim, shape, strides, itemsize, &lo, &hi, NULL), code);
}

Test(extent, packed_c_array)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4};
    assert_extent(2, shape, strides, 4, 0, 24);
    assert_extent(2, shape, NULL, 4, 0, 24);
}

Test(extent, positive_strides_with_gaps)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {24, 8};
    /* last item at 24 + 2 * 8 = 40, ends at 44 */
    assert_extent(2, shape, strides, 4, 0, 44);
}

Test(extent, negative_strides)
{
    ptrdiff_t shape[] = {3}, strides[] = {-4};
    assert_extent(1, shape, strides, 4, -8, 4);
    ptrdiff_t shape2[] = {2, 3}, strides2[] = {-12, 4};
    assert_extent(2, shape2, strides2, 4, -12, 12);
    ptrdiff_t shape3[] = {4, 5}, strides3[] = {-20, -4};
    assert_extent(2, shape3, strides3, 4, -76, 4);
}

Test(extent, zero_strides)
{
    ptrdiff_t shape[] = {5}, strides[] = {0};
    assert_extent(1, shape, strides, 4, 0, 4);
    ptrdiff_t shape2[] = {5, 3}, strides2[] = {0, 2};
    assert_extent(2, shape2, strides2, 2, 0, 6);
}

Test(extent, zero_d_is_one_item)
{
    assert_extent(0, NULL, NULL, 8, 0, 8);
}

Test(extent, zero_size_is_empty_whatever_the_strides)
{
    ptrdiff_t shape[] = {3, 0}, strides[] = {-100, PTRDIFF_MAX};
    assert_extent(2, shape, strides, 4, 0, 0);
    assert_extent(2, shape, NULL, 4, 0, 0);
    ptrdiff_t huge[] = {PTRDIFF_MAX, 0};
    assert_extent(2, huge, NULL, 8, 0, 0);
}

Test(extent, extent_1_dimension_contributes_nothing)
{
    ptrdiff_t shape[] = {1, 3}, strides[] = {PTRDIFF_MAX, 4};
    assert_extent(2, shape, strides, 4, 0, 12);
}

Test(extent, sixty_four_dimensions)
{
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++) {
        shape[i] = 2;
        strides[i] = i % 2 == 0 ? 1 : -1; /* 2^64 items, but a tiny range */
    }
    assert_extent(XBUF_MAX_NDIM, shape, strides, 1, -32, 33);
    /* With C strides the same shape overflows. */
    assert_extent_fails(XBUF_MAX_NDIM, shape, NULL, 1, XBUF_EOVERFLOW, "overflow");
}

Test(extent, largest_range_that_fits)
{
    ptrdiff_t one[] = {1};
    assert_extent(1, one, NULL, PTRDIFF_MAX, 0, PTRDIFF_MAX);
    ptrdiff_t two[] = {2}, near_max[] = {PTRDIFF_MAX - 1};
    assert_extent(1, two, near_max, 1, 0, PTRDIFF_MAX);
    ptrdiff_t neg[] = {-(PTRDIFF_MAX - 1)};
    assert_extent(1, two, neg, 1, -(PTRDIFF_MAX - 1), 1);
    ptrdiff_t shape2[] = {2, 2}, mixed[] = {PTRDIFF_MAX / 2, -(PTRDIFF_MAX / 2)};
    /* span = 1 + 2 * (PTRDIFF_MAX / 2) = PTRDIFF_MAX */
    assert_extent(2, shape2, mixed, 1, -(PTRDIFF_MAX / 2), PTRDIFF_MAX / 2 + 1);
}

Test(extent, overflow_near_ptrdiff_max)
{
    ptrdiff_t two[] = {2}, max[] = {PTRDIFF_MAX}, near_max[] = {PTRDIFF_MAX - 1};
    assert_extent_fails(1, two, max, 1, XBUF_EOVERFLOW, "overflow");
    assert_extent_fails(1, two, near_max, 2, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t min[] = {PTRDIFF_MIN};
    assert_extent_fails(1, two, min, 1, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t three[] = {3}, half_min[] = {PTRDIFF_MIN / 2};
    assert_extent_fails(1, three, half_min, 1, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t shape2[] = {2, 2}, mixed[] = {PTRDIFF_MAX / 2, -(PTRDIFF_MAX / 2)};
    /* lo and hi each fit, but hi - lo = 2 + 2 * (PTRDIFF_MAX / 2) does not */
    assert_extent_fails(2, shape2, mixed, 2, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t long_dim[] = {PTRDIFF_MAX}, stride2[] = {2};
    assert_extent_fails(1, long_dim, stride2, 1, XBUF_EOVERFLOW, "overflow");
    ptrdiff_t big[] = {PTRDIFF_MAX / 2 + 1, 2};
    assert_extent_fails(2, big, NULL, 1, XBUF_EOVERFLOW, "overflow");
    assert_extent_fails(1, two, NULL, PTRDIFF_MAX, XBUF_EOVERFLOW, "overflow");
}

Test(extent, bad_arguments_are_einval)
{
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4}, negative[] = {2, -3};
    ptrdiff_t lo, hi;
    assert_extent_fails(-1, shape, strides, 4, XBUF_EINVAL, "ndim");
    assert_extent_fails(XBUF_MAX_NDIM + 1, shape, strides, 4, XBUF_EINVAL, "ndim");
    assert_extent_fails(2, NULL, strides, 4, XBUF_EINVAL, "shape");
    assert_extent_fails(2, shape, strides, 0, XBUF_EINVAL, "itemsize");
    assert_extent_fails(2, shape, strides, -1, XBUF_EINVAL, "itemsize");
    assert_extent_fails(2, negative, strides, 4, XBUF_EINVAL, "negative");
    xbuf_error err;
    cr_assert_eq(xbuf_extent(2, shape, strides, 4, NULL, &hi, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_extent(2, shape, strides, 4, &lo, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_extent(2, shape, strides, 4, NULL, NULL, NULL), XBUF_EINVAL);
}

/* ---- xbuf_view_extent -------------------------------------------------------- */

static void assert_view_extent(const xbuf_view *view, ptrdiff_t lo, ptrdiff_t hi)
{
    ptrdiff_t got_lo = -12345, got_hi = -12345;
    xbuf_error err;
    cr_assert_eq(xbuf_view_extent(view, &got_lo, &got_hi, &err), 0, "xbuf_view_extent: %s",
                 err.message);
    cr_assert_eq(got_lo, lo, "lo = %td, expected %td", got_lo, lo);
    cr_assert_eq(got_hi, hi, "hi = %td, expected %td", got_hi, hi);
}

Test(view_extent, direct_view_is_every_byte_of_every_item)
{
    int32_t m[4][5];
    ptrdiff_t shape[] = {4, 3}, strides[] = {20, 8};
    xbuf_view view = make_view(m, 4, 2, shape, strides, NULL);
    assert_view_extent(&view, 0, 3 * 20 + 2 * 8 + 4);
    ptrdiff_t reversed[] = {-20, -4}, full[] = {4, 5};
    view = make_view(&m[3][4], 4, 2, full, reversed, NULL);
    assert_view_extent(&view, -76, 4);
}

Test(view_extent, null_strides_and_null_shape)
{
    int16_t a[2][3];
    ptrdiff_t shape[] = {2, 3};
    xbuf_view view = make_view(a, 2, 2, shape, NULL, NULL);
    assert_view_extent(&view, 0, 12);
    view = make_view(a, 2, 1, NULL, NULL, NULL);
    view.len = 10;
    assert_view_extent(&view, 0, 10);
}

Test(view_extent, zero_d_and_zero_size_views)
{
    double x;
    xbuf_view view = make_view(&x, 8, 0, NULL, NULL, NULL);
    assert_view_extent(&view, 0, 8);
    ptrdiff_t shape[] = {4, 0}, strides[] = {-8, 4};
    view = make_view(NULL, 4, 2, shape, strides, NULL);
    assert_view_extent(&view, 0, 0);
}

Test(view_extent, all_negative_suboffsets_are_a_direct_view)
{
    int32_t m[2][3];
    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4}, suboffsets[] = {-1, -1};
    xbuf_view view = make_view(m, 4, 2, shape, strides, suboffsets);
    assert_view_extent(&view, 0, 24);
}

Test(view_extent, indirect_view_is_the_pointer_table)
{
    unsigned char r0[100], r1[100], r2[100];
    unsigned char *table[3] = {r0, r1, r2};
    ptrdiff_t shape[] = {3, 100}, strides[] = {PTRSIZE, 1}, suboffsets[] = {0, -1};
    xbuf_view view = make_view(table, 1, 2, shape, strides, suboffsets);
    assert_view_extent(&view, 0, 3 * PTRSIZE);
    ptrdiff_t reversed[] = {-PTRSIZE, 1};
    view = make_view(&table[2], 1, 2, shape, reversed, suboffsets);
    assert_view_extent(&view, -2 * PTRSIZE, PTRSIZE);
}

Test(view_extent, image_indirect_view_is_its_row_table)
{
    image *img;
    cr_assert_eq(image_create(3, 4, 5, 0, &img, NULL), 0);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&img->exporter, &view, XBUF_FULL_RO, NULL), 0);
    cr_assert_eq(view.buf, (void *)img->rows);
    assert_view_extent(&view, 0, 3 * 4 * PTRSIZE);
    xbuf_release(&view);
    cr_assert_eq(image_destroy(img, NULL), 0);
}

Test(view_extent, sixty_four_dimensions)
{
    unsigned char a[1];
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    for (int i = 0; i < XBUF_MAX_NDIM; i++) {
        shape[i] = 1;
        strides[i] = 1;
    }
    xbuf_view view = make_view(a, 1, XBUF_MAX_NDIM, shape, strides, NULL);
    assert_view_extent(&view, 0, 1);
}

Test(view_extent, errors)
{
    ptrdiff_t lo, hi;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_view_extent(NULL, &lo, &hi, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_view_extent(NULL, &lo, &hi, NULL), XBUF_EINVAL);

    int32_t m[6];
    xbuf_view view = make_view(m, 4, 0, NULL, NULL, NULL);
    view.ndim = 2;
    view.len = 24;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_view_extent(&view, &lo, &hi, &err), XBUF_EINVAL, "2-d view, no shape");
    assert_contains(err.message, "shape");

    ptrdiff_t shape[] = {2, 3}, strides[] = {12, 4}, suboffsets[] = {0, -1};
    view = make_view(m, 4, 2, shape, NULL, suboffsets);
    cr_assert_eq(xbuf_view_extent(&view, &lo, &hi, &err), XBUF_EINVAL, "suboffsets, no strides");
    view = make_view(m, 4, 2, shape, strides, NULL);
    cr_assert_eq(xbuf_view_extent(&view, NULL, &hi, &err), XBUF_EINVAL);
    view.itemsize = 0;
    cr_assert_eq(xbuf_view_extent(&view, &lo, &hi, &err), XBUF_EINVAL);
    ptrdiff_t two[] = {2}, max[] = {PTRDIFF_MAX};
    view = make_view(m, 1, 1, two, max, NULL);
    cr_assert_eq(xbuf_view_extent(&view, &lo, &hi, &err), XBUF_EOVERFLOW);
    cr_assert_eq(xbuf_view_extent(&view, &lo, &hi, NULL), XBUF_EOVERFLOW);
}
