/*
 * test_conformance.c -- xbuf_exporter_check and xbuf_flags_print.
 *
 * The conforming side: the example exporters and a hand-written strided
 * array exporter (C, F, padded, reversed, 0-d, empty, read-only, and with
 * NumPy's answer to requests without ND) must give no problem.  The other
 * side: the same array exporter told to lie in one chosen way must give a
 * problem naming that lie, once.  Every test also checks that the checker
 * gave back every view it took.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "image.h"
#include "samples.h"

/* ==== the problems a check reported ==================================== */

#define MAX_KEPT 32

typedef struct collected {
    int count;
    int stop_at;  /* return 7 from the visit that sees this count (0: never) */
    int flags[MAX_KEPT];
    char message[MAX_KEPT][700];
} collected;

static int collect(const xbuf_problem *problem, void *context)
{
    collected *c = context;
    cr_assert_not_null(problem->message);
    cr_assert_not_null(problem->detail);
    cr_assert(problem->detail >= problem->message &&
                  problem->detail < problem->message + strlen(problem->message),
              "detail must point into message");
    if (c->count < MAX_KEPT) {
        c->flags[c->count] = problem->flags;
        snprintf(c->message[c->count], sizeof c->message[0], "%s", problem->message);
    }
    c->count++;
    return c->count == c->stop_at ? 7 : 0;
}

static void dump(const collected *c)
{
    for (int i = 0; i < c->count && i < MAX_KEPT; i++)
        fprintf(stderr, "  problem %d: %s\n", i, c->message[i]);
}

static int find(const collected *c, const char *needle)
{
    for (int i = 0; i < c->count && i < MAX_KEPT; i++)
        if (strstr(c->message[i], needle) != NULL)
            return i;
    return -1;
}

/* Run a check that must reach its end; returns the summary. */
static xbuf_check_summary run_check(xbuf_exporter *exporter, collected *c)
{
    xbuf_check_summary summary;
    xbuf_error err;
    memset(c, 0, sizeof *c);
    xbuf_error_clear(&err);
    int rc = xbuf_exporter_check(exporter, collect, c, &summary, &err);
    cr_assert_eq(rc, 0, "xbuf_exporter_check returned %d: %s", rc, err.message);
    cr_assert_eq(summary.problems, c->count, "summary counts %td problems, the visitor saw %d",
                 summary.problems, c->count);
    cr_assert_eq(summary.requests, 72, "a whole check makes 72 requests, not %d",
                 summary.requests);
    cr_assert_eq(summary.answered + summary.refused, summary.requests);
    return summary;
}

static xbuf_check_summary assert_conforms(xbuf_exporter *exporter, const char *what)
{
    collected c;
    xbuf_check_summary summary = run_check(exporter, &c);
    if (c.count != 0)
        dump(&c);
    cr_assert_eq(c.count, 0, "%s: %d problem(s), first: %s", what, c.count, c.message[0]);
    return summary;
}

/* ==== a strided array exporter that can be told to lie ================== */

enum lie {
    HONEST = 0,
    LIE_LEN,              /* len one item too long in every answer */
    LIE_STRIDES_OUT,      /* strides twice too large when STRIDES is asked */
    LIE_NO_FORMAT,        /* no format even when FORMAT is asked */
    LIE_BUF,              /* another buf on every other call */
    LIE_DIRTY_REFUSAL,    /* refusals write into the view */
    LIE_SILENT_REFUSAL,   /* refusals give no message */
    LIE_ODD_CODE,         /* refusals return -42 */
    LIE_CODE_MISMATCH,    /* refusals return EREQUEST, message set with EBUSY */
    LIE_POSITIVE,         /* returns 1 (with a filled view) for ND requests */
    LIE_REFUSE_WRITABLE,  /* writable memory, WRITABLE requests refused */
    LIE_REFUSE_PLAIN,     /* requests without WRITABLE refused */
    LIE_READONLY_VARIES,  /* read-only answers to ND requests only */
    LIE_SHAPE,            /* a 1-d shape when STRIDES is not asked */
    LIE_FORMAT_VARIES,    /* 'I' instead of 'i' unless INDIRECT is asked */
    LIE_BAD_FORMAT,       /* a format that does not parse */
    LIE_SUBOFFSETS,       /* suboffsets (all -1) in every answer */
    LIE_EEXPORTER,        /* refusals say XBUF_EEXPORTER */
    LIE_ITEMSIZE_VARIES,  /* itemsize 2 ('h', twice the extents) unless STRIDES asked */
    LIE_CONTIGUITY,       /* contiguity requests answered with the view as it is */
};

typedef struct array {
    xbuf_exporter exporter;
    enum lie lie;
    bool numpy_simple;      /* answer requests without ND as NumPy does */
    int readonly;
    int ndim;
    ptrdiff_t itemsize;
    const char *format;
    char *origin;           /* the item at index 0 */
    ptrdiff_t shape[4], strides[4];
    ptrdiff_t lie_shape[4], lie_strides[4], suboffsets[4];
    int gets, live, calls;
    char data[256], other[256];
} array;

static void array_release(xbuf_view *view)
{
    array *a = view->obj;
    a->live--;
}

static int refuse(array *a, xbuf_view *view, xbuf_error *err, const char *why)
{
    switch (a->lie) {
    case LIE_DIRTY_REFUSAL:
        view->len = 99;
        break;
    case LIE_SILENT_REFUSAL:
        return XBUF_EREQUEST;
    case LIE_ODD_CODE:
        return -42;
    case LIE_CODE_MISMATCH:
        xbuf_error_set(err, XBUF_EBUSY, "%s", why);
        return XBUF_EREQUEST;
    case LIE_EEXPORTER:
        return xbuf_error_set(err, XBUF_EEXPORTER, "the wrapped exporter misbehaved");
    default:
        break;
    }
    return xbuf_error_set(err, XBUF_EREQUEST, "%s", why);
}

static ptrdiff_t array_items(const array *a)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

static bool array_is(const array *a, char order)
{
    return xbuf_is_contiguous(a->ndim, a->shape, a->strides, a->itemsize, order);
}

/* The refusals an honest array makes, or NULL to answer. */
static const char *array_refusal(const array *a, int flags)
{
    if ((flags & XBUF_WRITABLE) && a->readonly)
        return "the array is read-only";
    if (a->lie == LIE_CONTIGUITY)
        return NULL;
    if (XBUF_WANTS(flags, XBUF_C_CONTIGUOUS) && !array_is(a, 'C'))
        return "the array is not C-contiguous";
    if (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS) && !array_is(a, 'F'))
        return "the array is not F-contiguous";
    if (XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS) && !array_is(a, 'A'))
        return "the array is neither C- nor F-contiguous";
    if (!XBUF_WANTS(flags, XBUF_STRIDES) && !array_is(a, 'C'))
        return "the array is not C-contiguous: ask for STRIDES";
    return NULL;
}

static void array_fill(array *a, xbuf_view *view, int flags)
{
    bool nd = XBUF_WANTS(flags, XBUF_ND);
    view->buf = a->origin;
    view->obj = a;
    view->itemsize = a->itemsize;
    view->len = array_items(a) * a->itemsize;
    view->readonly = a->readonly;
    view->format = (flags & XBUF_FORMAT) ? a->format : NULL;
    /* Without ND: len / itemsize items in one dimension, as
     * PyBuffer_FillInfo answers -- or ndim 0, as NumPy does. */
    view->ndim = nd ? a->ndim : (a->numpy_simple || a->ndim == 0) ? 0 : 1;
    view->shape = nd ? a->shape : NULL;
    view->strides = XBUF_WANTS(flags, XBUF_STRIDES) ? a->strides : NULL;
    view->release = array_release;
}

static void array_lie(array *a, xbuf_view *view, int flags)
{
    bool strides = XBUF_WANTS(flags, XBUF_STRIDES);
    switch (a->lie) {
    case LIE_LEN:
        view->len += view->itemsize;
        break;
    case LIE_STRIDES_OUT:
        for (int i = 0; strides && i < a->ndim; i++)
            a->lie_strides[i] = 2 * a->strides[i];
        if (strides)
            view->strides = a->lie_strides;
        break;
    case LIE_NO_FORMAT:
        view->format = NULL;
        break;
    case LIE_BUF:
        if (a->calls % 2 == 1)
            view->buf = a->other;
        break;
    case LIE_READONLY_VARIES:
        if (XBUF_WANTS(flags, XBUF_ND) && !strides)
            view->readonly = 1;
        break;
    case LIE_SHAPE:
        a->lie_shape[0] = array_items(a);
        if (XBUF_WANTS(flags, XBUF_ND) && !strides) {
            view->ndim = 1;
            view->shape = a->lie_shape;
        }
        break;
    case LIE_FORMAT_VARIES:
        if (view->format != NULL && !XBUF_WANTS(flags, XBUF_INDIRECT))
            view->format = "I";
        break;
    case LIE_BAD_FORMAT:
        if (view->format != NULL)
            view->format = "i{";
        break;
    case LIE_SUBOFFSETS:
        a->suboffsets[0] = a->suboffsets[1] = a->suboffsets[2] = a->suboffsets[3] = -1;
        view->suboffsets = a->suboffsets;
        break;
    case LIE_ITEMSIZE_VARIES:
        if (!strides && XBUF_WANTS(flags, XBUF_ND)) {
            view->itemsize = 2;
            view->format = view->format ? "h" : NULL;
            memcpy(a->lie_shape, a->shape, sizeof a->shape);
            a->lie_shape[a->ndim - 1] *= 2;
            view->shape = a->lie_shape;
        }
        break;
    default:
        break;
    }
}

static int array_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    array *a = (array *)self;
    a->calls++;
    bool writable_lie = (a->lie == LIE_REFUSE_WRITABLE && (flags & XBUF_WRITABLE)) ||
                        (a->lie == LIE_REFUSE_PLAIN && !(flags & XBUF_WRITABLE));
    const char *why = writable_lie ? "not today" : array_refusal(a, flags);
    if (why != NULL)
        return refuse(a, view, err, why);
    array_fill(a, view, flags);
    array_lie(a, view, flags);
    a->gets++;
    a->live++;
    return a->lie == LIE_POSITIVE && XBUF_WANTS(flags, XBUF_ND) ? 1 : 0;
}

/* A 2 x 3 array of int32 ("i"), writable, C order. */
static void array_init(array *a, enum lie lie)
{
    memset(a, 0, sizeof *a);
    a->exporter.get = array_get;
    a->lie = lie;
    a->ndim = 2;
    a->itemsize = 4;
    a->format = "i";
    a->origin = a->data;
    a->shape[0] = 2;
    a->shape[1] = 3;
    a->strides[0] = 12;
    a->strides[1] = 4;
}

static void array_layout(array *a, ptrdiff_t offset, ptrdiff_t s0, ptrdiff_t s1)
{
    a->origin = a->data + offset;
    a->strides[0] = s0;
    a->strides[1] = s1;
}

/* Every view the checker took went back. */
static void assert_balanced(const array *a)
{
    cr_assert_eq(a->live, 0, "%d views not released (of %d answers)", a->live, a->gets);
}

/* ==== xbuf_flags_print ================================================== */

static void assert_name(int flags, const char *expected)
{
    char buf[XBUF_FLAGS_NAME_SIZE];
    size_t length = 0;
    cr_assert_eq(xbuf_flags_print(flags, buf, sizeof buf, &length, NULL), XBUF_OK);
    cr_assert_str_eq(buf, expected, "flags 0x%x", (unsigned)flags);
    cr_assert_eq(length, strlen(expected));
}

Test(flags_print, names_requests_by_their_strongest_flags)
{
    assert_name(XBUF_SIMPLE, "SIMPLE");
    assert_name(XBUF_WRITABLE, "WRITABLE");
    assert_name(XBUF_FULL, "FULL");
    assert_name(XBUF_FULL_RO, "FULL_RO");
    assert_name(XBUF_RECORDS_RO, "STRIDES|FORMAT");
    assert_name(XBUF_ND, "ND");
    assert_name(XBUF_C_CONTIGUOUS | XBUF_WRITABLE, "C_CONTIGUOUS|WRITABLE");
    assert_name(XBUF_INDIRECT | XBUF_ANY_CONTIGUOUS, "INDIRECT|ANY_CONTIGUOUS");
    assert_name(XBUF_C_CONTIGUOUS | XBUF_F_CONTIGUOUS | XBUF_FORMAT,
                "C_CONTIGUOUS|F_CONTIGUOUS|FORMAT");
    assert_name(XBUF_FULL | XBUF_C_CONTIGUOUS, "INDIRECT|C_CONTIGUOUS|FORMAT|WRITABLE");
}

Test(flags_print, names_invalid_bits_in_hex)
{
    assert_name(0x20, "0x20");
    assert_name(XBUF_ND | 0x200, "ND|0x200");
    assert_name(0x10, "0x10");
    char buf[XBUF_FLAGS_NAME_SIZE];
    size_t length;
    cr_assert_eq(xbuf_flags_print(-1, buf, sizeof buf, &length, NULL), XBUF_OK,
                 "XBUF_FLAGS_NAME_SIZE must hold the longest name");
    cr_assert_str_eq(buf, "INDIRECT|C_CONTIGUOUS|F_CONTIGUOUS|ANY_CONTIGUOUS|FORMAT|WRITABLE|"
                          "0xfffffe02");
}

Test(flags_print, too_small_a_buffer_is_erange_with_a_prefix)
{
    char buf[8];
    size_t length = 0;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_flags_print(XBUF_RECORDS_RO, buf, sizeof buf, &length, &err),
                 XBUF_ERANGE);
    cr_assert_eq(err.code, XBUF_ERANGE);
    cr_assert_str_eq(buf, "STRIDES");
    cr_assert_eq(length, strlen("STRIDES|FORMAT"));
    cr_assert_eq(xbuf_flags_print(XBUF_ND, buf, 2, NULL, NULL), XBUF_ERANGE);
    cr_assert_str_eq(buf, "N");
}

Test(flags_print, length_only_and_null_buffer)
{
    size_t length = 0;
    cr_assert_eq(xbuf_flags_print(XBUF_FULL_RO, NULL, 0, &length, NULL), XBUF_ERANGE);
    cr_assert_eq(length, strlen("FULL_RO"));
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_flags_print(XBUF_FULL_RO, NULL, 4, &length, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
}

/* ==== arguments ========================================================= */

Test(check_arguments, null_exporter_is_einval)
{
    xbuf_check_summary summary;
    memset(&summary, 0x5A, sizeof summary);
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exporter_check(NULL, collect, NULL, &summary, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_neq(err.message[0], '\0');
    cr_assert_eq(summary.requests, 0);
    cr_assert_eq(summary.problems, 0);
    cr_assert_eq(xbuf_exporter_check(NULL, NULL, NULL, NULL, NULL), XBUF_EINVAL);
}

Test(check_arguments, exporter_without_get_hook_is_einval)
{
    xbuf_exporter exporter = {NULL};
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exporter_check(&exporter, collect, NULL, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
}

Test(check_arguments, null_visitor_only_counts)
{
    array a;
    array_init(&a, LIE_NO_FORMAT);
    xbuf_check_summary summary;
    cr_assert_eq(xbuf_exporter_check(&a.exporter, NULL, NULL, &summary, NULL), 0);
    cr_assert_eq(summary.problems, 1);
    cr_assert_eq(xbuf_exporter_check(&a.exporter, NULL, NULL, NULL, NULL), 0);
    assert_balanced(&a);
}

Test(check_arguments, success_leaves_err_untouched)
{
    array a;
    array_init(&a, HONEST);
    xbuf_error err;
    err.code = 12345;
    snprintf(err.message, sizeof err.message, "untouched");
    cr_assert_eq(xbuf_exporter_check(&a.exporter, NULL, NULL, NULL, &err), 0);
    cr_assert_eq(err.code, 12345);
    cr_assert_str_eq(err.message, "untouched");
}

/* ==== conforming exporters ============================================== */

Test(conforming, c_order_array_answers_what_it_can)
{
    array a;
    array_init(&a, HONEST);
    xbuf_check_summary s = assert_conforms(&a.exporter, "C-order 2 x 3");
    assert_balanced(&a);
    /* Refused: the 32 requests for F order (with or without other bits). */
    cr_assert_eq(s.refused, 32, "refused %d", s.refused);
    cr_assert_eq(s.answered, 40);
}

Test(conforming, fortran_padded_and_reversed_arrays)
{
    const struct {
        ptrdiff_t offset, s0, s1;
        const char *what;
    } layouts[] = {
        {0, 4, 8, "F order"},
        {0, 24, 4, "padded rows"},
        {12, -12, 4, "rows reversed"},
        {8, 12, -4, "columns reversed"},
        {20, -12, -4, "both reversed"},
        {0, 0, 4, "rows broadcast (stride 0)"},
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        array a;
        array_init(&a, HONEST);
        array_layout(&a, layouts[i].offset, layouts[i].s0, layouts[i].s1);
        assert_conforms(&a.exporter, layouts[i].what);
        assert_balanced(&a);
    }
}

Test(conforming, zero_d_empty_and_read_only_arrays)
{
    array a;
    array_init(&a, HONEST);
    a.ndim = 0;
    a.format = "d";
    a.itemsize = 8;
    assert_conforms(&a.exporter, "0-d");
    assert_balanced(&a);

    array_init(&a, HONEST);
    a.shape[0] = 0;
    assert_conforms(&a.exporter, "0 x 3");
    array_init(&a, HONEST);
    a.origin = NULL;
    a.shape[1] = 0;
    a.strides[0] = 999; /* no items: any strides, any buf */
    assert_conforms(&a.exporter, "2 x 0 with NULL buf");

    array_init(&a, HONEST);
    a.readonly = 1;
    xbuf_check_summary s = assert_conforms(&a.exporter, "read-only");
    cr_assert_eq(s.refused, 36 + 16, "every WRITABLE request and the F ones are refused");
    assert_balanced(&a);
}

Test(conforming, numpy_answers_requests_without_nd_with_ndim_0)
{
    /* ndim 0, no shape and len = 24 for SIMPLE: CPython's consumers read
     * len bytes and disregard ndim and itemsize. */
    array a;
    array_init(&a, HONEST);
    a.numpy_simple = true;
    assert_conforms(&a.exporter, "NumPy's SIMPLE answer");
    assert_balanced(&a);
}

Test(conforming, structured_format_matching_its_itemsize)
{
    array a;
    array_init(&a, HONEST);
    a.format = "T{<b:a:3x<i:b:}";
    a.itemsize = 8;
    a.shape[0] = 2;
    a.shape[1] = 2;
    a.strides[0] = 16;
    a.strides[1] = 8;
    assert_conforms(&a.exporter, "a padded struct");
}

Test(conforming, sample_buffer)
{
    samples *buf = NULL;
    cr_assert_eq(samples_create(&buf, NULL), 0);
    xbuf_check_summary s = assert_conforms(&buf->exporter, "empty samples");
    cr_assert_eq(s.answered, 72, "a packed 1-d buffer serves every request");
    const int16_t values[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(samples_append(buf, values, 5, NULL), 0);
    assert_conforms(&buf->exporter, "five samples");
    cr_assert_eq(xbuf_exports_count(&buf->exports), 0, "the checker leaked an export");
    cr_assert_eq(samples_destroy(buf, NULL), 0);
}

Test(conforming, pil_style_images)
{
    const ptrdiff_t sizes[][3] = {{3, 4, 5}, {1, 1, 5}, {2, 0, 3}, {2, 3, 0}, {1, 2, 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int readonly = 0; readonly <= 1; readonly++) {
            image *img = NULL;
            cr_assert_eq(image_create(sizes[i][0], sizes[i][1], sizes[i][2], readonly, &img,
                                      NULL), 0);
            char what[64];
            snprintf(what, sizeof what, "image %td x %td x %td%s", sizes[i][0], sizes[i][1],
                     sizes[i][2], readonly ? " read-only" : "");
            assert_conforms(&img->exporter, what);
            cr_assert_eq(xbuf_exports_count(&img->exports), 0, "%s: an export leaked", what);
            cr_assert_eq(image_destroy(img, NULL), 0);
        }
    }
}

Test(conforming, image_with_many_rows_serves_only_indirect_requests)
{
    image *img = NULL;
    cr_assert_eq(image_create(2, 3, 4, 0, &img, NULL), 0);
    collected c;
    xbuf_check_summary s = run_check(&img->exporter, &c);
    cr_assert_eq(c.count, 0);
    cr_assert_eq(s.answered, 4, "INDIRECT and FULL_RO, with and without WRITABLE");
    cr_assert_eq(image_destroy(img, NULL), 0);
}

/* ==== lying exporters ==================================================== */

typedef struct lie_case {
    enum lie lie;
    const char *needle;
} lie_case;

static const lie_case lie_cases[] = {
    {LIE_LEN, "exporter gave len 28 but product(shape) * itemsize is 24"},
    {LIE_STRIDES_OUT, "lie at other addresses than those of the answer to"},
    {LIE_NO_FORMAT, "request FULL_RO: request asked for FORMAT but the exporter gave no format"},
    {LIE_BUF, "buf differs from the buf of the answer to FULL_RO"},
    {LIE_DIRTY_REFUSAL, "refused but wrote into the view"},
    {LIE_SILENT_REFUSAL, "refused with XBUF_EREQUEST but gave no message"},
    {LIE_ODD_CODE, "refused with -42, which is not an xbuf error code"},
    {LIE_CODE_MISMATCH, "refused with XBUF_EREQUEST but set its message with XBUF_EBUSY"},
    {LIE_POSITIVE, "the get hook returned 1; it must return 0 or a negative code"},
    {LIE_REFUSE_WRITABLE, "request FULL: refused, although the same request without WRITABLE "
                          "was answered with a writable view"},
    {LIE_REFUSE_PLAIN, "request FULL_RO: refused, although the same request with WRITABLE was "
                       "answered"},
    {LIE_READONLY_VARIES, "request ND: a read-only view, although the answer to FULL_RO was "
                          "writable"},
    {LIE_SHAPE, "request ND: shape (6,) differs from the shape (2, 3) of the answer to FULL_RO"},
    {LIE_FORMAT_VARIES, "format 'I' differs from the format 'i' of the answer to FULL_RO"},
    {LIE_BAD_FORMAT, "request FULL_RO: format 'i{' does not parse"},
    {LIE_SUBOFFSETS, "request did not ask for INDIRECT but the exporter gave suboffsets"},
    {LIE_EEXPORTER, "request F_CONTIGUOUS: the wrapped exporter misbehaved"},
    {LIE_ITEMSIZE_VARIES, "request ND: itemsize 2 differs from the itemsize 4 of the answer to "
                          "FULL_RO"},
};

Test(lying, each_lie_is_reported_once)
{
    for (size_t i = 0; i < sizeof lie_cases / sizeof lie_cases[0]; i++) {
        array a;
        array_init(&a, lie_cases[i].lie);
        collected c;
        run_check(&a.exporter, &c);
        int at = find(&c, lie_cases[i].needle);
        if (at < 0)
            dump(&c);
        cr_assert_geq(at, 0, "lie %d: no problem contains \"%s\" (%d problems)",
                      (int)lie_cases[i].lie, lie_cases[i].needle, c.count);
        for (int j = 0; j < c.count && j < MAX_KEPT; j++)
            cr_assert(j == at || strcmp(strchr(c.message[j], ':'),
                                        strchr(c.message[at], ':')) != 0,
                      "lie %d: \"%s\" reported twice", (int)lie_cases[i].lie, c.message[at]);
        assert_balanced(&a);
    }
}

Test(lying, a_broken_rule_shown_by_every_request_is_one_problem)
{
    array a;
    array_init(&a, LIE_LEN);
    collected c;
    run_check(&a.exporter, &c);
    if (c.count != 1)
        dump(&c);
    cr_assert_eq(c.count, 1);
    cr_assert_eq(c.flags[0], XBUF_FULL_RO, "reported for the first request that showed it");
}

Test(lying, problem_flags_name_the_request)
{
    array a;
    array_init(&a, LIE_SHAPE);
    collected c;
    run_check(&a.exporter, &c);
    int at = find(&c, "request ND:");
    cr_assert_geq(at, 0);
    cr_assert_eq(c.flags[at], XBUF_ND);
}

Test(lying, format_that_does_not_describe_the_itemsize)
{
    /* ctypes' answer for struct { char a; int b; } (cpython #76961): the
     * explicit '<' turns alignment off, so the format holds 5 bytes. */
    array a;
    array_init(&a, HONEST);
    a.format = "T{<b:a:<i:b:}";
    a.itemsize = 8;
    a.shape[1] = 2;
    a.strides[0] = 16;
    a.strides[1] = 8;
    collected c;
    run_check(&a.exporter, &c);
    if (c.count != 1)
        dump(&c);
    cr_assert_eq(c.count, 1);
    cr_assert_str_eq(c.message[0], "request FULL_RO: format 'T{<b:a:<i:b:}' describes 5 bytes "
                                   "per item but itemsize is 8");
}

Test(lying, long_formats_are_shortened_in_messages)
{
    static char format[121];
    memset(format, 'i', 120);
    array a;
    array_init(&a, HONEST);
    a.format = format; /* 480 bytes per item, itemsize 4 */
    collected c;
    run_check(&a.exporter, &c);
    cr_assert_eq(c.count, 1);
    cr_assert(strstr(c.message[0], "...' describes 480 bytes per item") != NULL, "%s",
              c.message[0]);
}

Test(lying, contiguity_not_given)
{
    array a;
    array_init(&a, LIE_CONTIGUITY);
    array_layout(&a, 0, 4, 8); /* F order */
    collected c;
    run_check(&a.exporter, &c);
    cr_assert_geq(find(&c, "request C_CONTIGUOUS: request asked for C_CONTIGUOUS but the "
                           "exporter gave a view that is not"), 0);
    /* Without strides an answer claims C order, which the memory is not
     * (SIMPLE shows it first; ND's answer, the same problem, is not repeated). */
    cr_assert_geq(find(&c, "request SIMPLE: its items lie at other addresses than those of the "
                           "answer to FULL_RO"), 0);
    assert_balanced(&a);
}

/* ==== indirect exporters =================================================== */

/* Two rows of three bytes through a pointer table; requests without
 * INDIRECT get `direct`, which should be the same bytes. */
typedef struct rows {
    xbuf_exporter exporter;
    unsigned char block[6], elsewhere[6];
    unsigned char *table[2];
    unsigned char *direct;
    ptrdiff_t shape[2], strides[2], suboffsets[2], packed[2];
    int live;
} rows;

static void rows_release(xbuf_view *view)
{
    ((rows *)view->obj)->live--;
}

static int rows_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    rows *r = (rows *)self;
    bool contiguity = (flags & (XBUF_C_CONTIGUOUS | XBUF_F_CONTIGUOUS | XBUF_ANY_CONTIGUOUS) &
                       ~XBUF_STRIDES) != 0;
    bool indirect = XBUF_WANTS(flags, XBUF_INDIRECT) && !contiguity;
    if (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS))
        return xbuf_error_set(err, XBUF_EREQUEST, "not in F order");
    *view = (xbuf_view){
        .buf = indirect ? (void *)r->table : (void *)r->direct,
        .obj = r,
        .len = 6,
        .itemsize = 1,
        .ndim = 2,
        .format = (flags & XBUF_FORMAT) ? "B" : NULL,
        .shape = XBUF_WANTS(flags, XBUF_ND) ? r->shape : NULL,
        .strides = indirect ? r->strides : XBUF_WANTS(flags, XBUF_STRIDES) ? r->packed : NULL,
        .suboffsets = indirect ? r->suboffsets : NULL,
        .release = rows_release,
    };
    if (!XBUF_WANTS(flags, XBUF_ND))
        view->ndim = 1;
    r->live++;
    return 0;
}

static void rows_init(rows *r)
{
    memset(r, 0, sizeof *r);
    r->exporter.get = rows_get;
    r->table[0] = r->block;
    r->table[1] = r->block + 3;
    r->direct = r->block;
    r->shape[0] = 2;
    r->shape[1] = 3;
    r->strides[0] = (ptrdiff_t)sizeof(unsigned char *);
    r->strides[1] = 1;
    r->suboffsets[0] = 0;
    r->suboffsets[1] = -1;
    r->packed[0] = 3;
    r->packed[1] = 1;
}

Test(indirect, rows_that_are_one_block_conform)
{
    rows r;
    rows_init(&r);
    assert_conforms(&r.exporter, "indirect rows in one block");
    cr_assert_eq(r.live, 0);
}

Test(indirect, direct_answer_elsewhere_is_reported)
{
    rows r;
    rows_init(&r);
    r.direct = r.elsewhere;
    collected c;
    run_check(&r.exporter, &c);
    cr_assert_geq(find(&c, "request SIMPLE: the item at C-order position 0 lies elsewhere than "
                           "in the answer to FULL_RO"), 0);
    cr_assert_eq(r.live, 0);
}

Test(indirect, rows_out_of_order_are_reported_at_the_first_item_that_differs)
{
    rows r;
    rows_init(&r);
    r.table[0] = r.block + 3;
    r.table[1] = r.block;
    collected c;
    run_check(&r.exporter, &c);
    cr_assert_geq(find(&c, "the item at C-order position 0 lies elsewhere"), 0);
}

Test(indirect, null_row_pointer_is_reported)
{
    rows r;
    rows_init(&r);
    r.table[1] = NULL;
    collected c;
    run_check(&r.exporter, &c);
    cr_assert_geq(find(&c, "cannot reach the item at C-order position 3"), 0);
    cr_assert_eq(r.live, 0);
}

/* ==== stopping, and the checker's own allocations ============================ */

Test(stopping, visitor_stops_the_check_and_every_view_is_released)
{
    array a;
    array_init(&a, LIE_SHAPE);
    collected c;
    memset(&c, 0, sizeof c);
    c.stop_at = 1;
    xbuf_check_summary summary;
    int rc = xbuf_exporter_check(&a.exporter, collect, &c, &summary, NULL);
    cr_assert_eq(rc, 7, "the visitor's value is returned");
    cr_assert_eq(c.count, 1);
    cr_assert_eq(summary.problems, 1);
    cr_assert_lt(summary.requests, 72);
    assert_balanced(&a);
}

Test(stopping, visitor_stops_while_the_reference_is_held)
{
    array a;
    array_init(&a, LIE_BUF); /* FULL_RO becomes the reference, FULL differs */
    collected c;
    memset(&c, 0, sizeof c);
    c.stop_at = 1;
    cr_assert_eq(xbuf_exporter_check(&a.exporter, collect, &c, NULL, NULL), 7);
    cr_assert_eq(a.gets, 2, "stopped at the second answer");
    assert_balanced(&a);
}

typedef struct sweep_ctx {
    array a;
    xbuf_error err;
} sweep_ctx;

static int sweep_run(void *ctx)
{
    sweep_ctx *s = ctx;
    xbuf_error_clear(&s->err);
    return xbuf_exporter_check(&s->a.exporter, NULL, NULL, NULL, &s->err);
}

static const char *sweep_after_failure(void *ctx)
{
    sweep_ctx *s = ctx;
    if (s->a.live != 0)
        return "a view was not released after the allocation failure";
    if (s->err.code != XBUF_ENOMEM || s->err.message[0] == '\0')
        return "no XBUF_ENOMEM message";
    return NULL;
}

Test(allocation, every_failure_is_enomem_and_releases_everything)
{
    sweep_ctx s;
    array_init(&s.a, HONEST);
    s.a.format = "T{i:a:d:b:}";
    s.a.itemsize = 16;
    s.a.strides[0] = 48;
    s.a.strides[1] = 16;
    failing_alloc_install(true);
    failing_alloc_op op = {NULL, sweep_run, sweep_after_failure, NULL, &s, 0};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "%ld problem(s); first: %s", report.problems, report.message);
    cr_assert_gt(report.points, 0, "the checker parses the format: it allocates");
}

Test(allocation, a_second_format_is_parsed_under_failure_too)
{
    sweep_ctx s;
    array_init(&s.a, LIE_FORMAT_VARIES);
    failing_alloc_install(false);
    failing_alloc_op op = {NULL, sweep_run, sweep_after_failure, NULL, &s, 0};
    failing_alloc_report report;
    /* The run finds a problem but returns 0: only allocation failures fail it. */
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "%ld problem(s); first: %s", report.problems, report.message);
    cr_assert_gt(report.points, 2);
}
