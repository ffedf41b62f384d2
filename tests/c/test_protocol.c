/*
 * test_protocol.c -- xbuf_get, xbuf_release, xbuf_view_move, xbuf_view_check,
 * xbuf_flags_check and xbuf_fill_info.
 *
 * Most tests use a "liar": an exporter whose get hook hands out whatever view
 * the test put in it (well formed by default, broken in one chosen way) and
 * counts get and release calls, so a test can see that xbuf_get rejected
 * the view, named the rule and gave the view back exactly once.  The request
 * matrix at the end runs the example exporters through every standard
 * request and checks each answer by hand, independently of the library.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xbuf.h>

#include "image.h"
#include "samples.h"

/* ---- the lying exporter ----------------------------------------------- */

typedef struct liar {
    xbuf_exporter exporter;
    xbuf_view answer;     /* what get hands out (obj and release are set by get) */
    int rc;               /* what get returns */
    const char *said;     /* message get stores in *err, or NULL for none */
    bool fill_on_refusal; /* write the answer into the view even when refusing */
    bool release_again;   /* the release hook calls xbuf_release on its view */
    int gets, releases;
    void *released_buf;   /* view->buf as the release hook saw it */
    ptrdiff_t shape[XBUF_MAX_NDIM + 1];
    ptrdiff_t strides[XBUF_MAX_NDIM + 1];
    ptrdiff_t suboffsets[XBUF_MAX_NDIM + 1];
    int32_t data[16];
} liar;

static void liar_release(xbuf_view *view)
{
    liar *l = view->obj;
    l->releases++;
    l->released_buf = view->buf;
    if (l->release_again)
        xbuf_release(view);
}

static void liar_hand_out(liar *l, xbuf_view *view)
{
    *view = l->answer;
    view->obj = l;
    view->release = liar_release;
}

static int liar_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    liar *l = (liar *)self;
    (void)flags;
    l->gets++;
    if (l->rc >= 0 || l->fill_on_refusal)
        liar_hand_out(l, view);
    if (l->rc < 0 && l->said != NULL)
        xbuf_error_set(err, l->rc, "%s", l->said);
    return l->rc;
}

/* A well-formed, writable, C-contiguous 2 x 3 view of int32 ("i"). */
static void liar_init(liar *l)
{
    memset(l, 0, sizeof *l);
    l->exporter.get = liar_get;
    l->shape[0] = 2;
    l->shape[1] = 3;
    l->strides[0] = 12;
    l->strides[1] = 4;
    l->suboffsets[0] = l->suboffsets[1] = -1;
    l->answer.buf = l->data;
    l->answer.len = 24;
    l->answer.itemsize = 4;
    l->answer.ndim = 2;
    l->answer.format = "i";
    l->answer.shape = l->shape;
    l->answer.strides = l->strides;
}

/* ---- small helpers -------------------------------------------------------- */

static bool is_zeroed(const xbuf_view *view)
{
    xbuf_view zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(view, &zero, sizeof zero) == 0;
}

static void poison(xbuf_view *view)
{
    memset(view, 0x5A, sizeof *view);
}

static void assert_contains(const char *message, const char *needle)
{
    cr_assert_not_null(strstr(message, needle), "message \"%s\" does not contain \"%s\"",
                       message, needle);
}

/* xbuf_get must reject the liar's view with XBUF_EEXPORTER naming `needle`,
 * give it back exactly once and leave the consumer's view zeroed -- with an
 * error struct and without one; xbuf_view_check must agree on the bare view. */
static void assert_rejected(liar *l, int flags, const char *needle)
{
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    xbuf_error_clear(&err);
    int rc = xbuf_get(&l->exporter, &view, flags, &err);
    cr_assert_eq(rc, XBUF_EEXPORTER, "xbuf_get returned %d (\"%s\"), expected XBUF_EEXPORTER",
                 rc, err.message);
    cr_assert_eq(err.code, XBUF_EEXPORTER);
    assert_contains(err.message, needle);
    cr_assert_eq(l->gets, 1);
    cr_assert_eq(l->releases, 1, "rejected view released %d times, expected once", l->releases);
    cr_assert(is_zeroed(&view), "a rejected view must be left zeroed");

    poison(&view);
    cr_assert_eq(xbuf_get(&l->exporter, &view, flags, NULL), XBUF_EEXPORTER);
    cr_assert_eq(l->releases, 2, "rejected view (err == NULL) not released exactly once");
    cr_assert(is_zeroed(&view));

    if (l->rc != 0)
        return; /* the view itself may be fine; the return code was not */
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_view_check(&l->answer, flags, &err), XBUF_EEXPORTER);
    assert_contains(err.message, needle);
    cr_assert_eq(xbuf_view_check(&l->answer, flags, NULL), XBUF_EEXPORTER);
}

/* xbuf_get must accept the liar's view unchanged; releasing runs the hook once. */
static void assert_accepted(liar *l, int flags)
{
    xbuf_view view;
    xbuf_error err;
    int rc = xbuf_get(&l->exporter, &view, flags, &err);
    cr_assert_eq(rc, 0, "xbuf_get(flags 0x%x) failed: %s", (unsigned)flags, err.message);
    cr_assert_eq(view.buf, l->answer.buf);
    cr_assert_eq(view.obj, (void *)l);
    cr_assert_eq(view.len, l->answer.len);
    cr_assert_eq(view.itemsize, l->answer.itemsize);
    cr_assert_eq(view.ndim, l->answer.ndim);
    cr_assert_eq(view.format, l->answer.format);
    cr_assert_eq(view.shape, l->answer.shape);
    cr_assert_eq(view.strides, l->answer.strides);
    cr_assert_eq(view.suboffsets, l->answer.suboffsets);
    cr_assert_eq(l->releases, 0, "an accepted view must not be released by xbuf_get");
    xbuf_release(&view);
    cr_assert_eq(l->releases, 1);
    cr_assert(is_zeroed(&view));
    l->gets = l->releases = 0;
}

/* ---- xbuf_flags_check ---------------------------------------------------- */

static const int standard_requests[] = {
    XBUF_SIMPLE,
    XBUF_WRITABLE,
    XBUF_FORMAT,
    XBUF_ND,
    XBUF_STRIDES,
    XBUF_C_CONTIGUOUS,
    XBUF_F_CONTIGUOUS,
    XBUF_ANY_CONTIGUOUS,
    XBUF_INDIRECT,
    XBUF_CONTIG,
    XBUF_CONTIG_RO,
    XBUF_STRIDED,
    XBUF_STRIDED_RO,
    XBUF_RECORDS,
    XBUF_RECORDS_RO,
    XBUF_FULL,
    XBUF_FULL_RO,
    XBUF_C_CONTIGUOUS | XBUF_FORMAT,
    XBUF_F_CONTIGUOUS | XBUF_FORMAT | XBUF_WRITABLE,
    XBUF_ANY_CONTIGUOUS | XBUF_FORMAT,
    XBUF_FULL_RO | XBUF_C_CONTIGUOUS,
    XBUF_FULL | XBUF_F_CONTIGUOUS,
    XBUF_FULL_RO | XBUF_ANY_CONTIGUOUS,
    XBUF_FLAGS_ALL,
};
#define N_REQUESTS (sizeof standard_requests / sizeof standard_requests[0])

Test(flags_check, accepts_every_standard_request)
{
    for (size_t i = 0; i < N_REQUESTS; i++) {
        xbuf_error err;
        cr_assert_eq(xbuf_flags_check(standard_requests[i], &err), 0,
                     "flags 0x%x rejected: %s", (unsigned)standard_requests[i], err.message);
    }
}

Test(flags_check, values_match_cpython_pybuf_constants)
{
    /* The values are CPython's PyBUF_* values, which the Python glue relies on. */
    cr_assert_eq(XBUF_WRITABLE, 0x1);
    cr_assert_eq(XBUF_FORMAT, 0x4);
    cr_assert_eq(XBUF_ND, 0x8);
    cr_assert_eq(XBUF_STRIDES, 0x18);
    cr_assert_eq(XBUF_C_CONTIGUOUS, 0x38);
    cr_assert_eq(XBUF_F_CONTIGUOUS, 0x58);
    cr_assert_eq(XBUF_ANY_CONTIGUOUS, 0x98);
    cr_assert_eq(XBUF_INDIRECT, 0x118);
    cr_assert_eq(XBUF_FULL_RO, 0x11c);
    cr_assert_eq(XBUF_RECORDS, 0x1d);
}

Test(flags_check, rejects_unknown_bits)
{
    const int bad[] = {0x2, 0x200, 0x400, 0x800, 0x1000, 0x10000, XBUF_FULL | 0x2,
                       XBUF_SIMPLE | 0x1000, INT_MIN, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_flags_check(bad[i], &err), XBUF_EINVAL, "flags 0x%x accepted",
                     (unsigned)bad[i]);
        cr_assert_eq(err.code, XBUF_EINVAL);
        assert_contains(err.message, "unknown bits");
        cr_assert_eq(xbuf_flags_check(bad[i], NULL), XBUF_EINVAL);
    }
}

static void assert_flags_missing_implied(int flags, const char *name)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_flags_check(flags, &err), XBUF_EINVAL, "flags 0x%x accepted",
                 (unsigned)flags);
    assert_contains(err.message, name);
    cr_assert_eq(xbuf_flags_check(flags, NULL), XBUF_EINVAL);
}

Test(flags_check, rejects_strides_bit_without_nd)
{
    assert_flags_missing_implied(0x10, "STRIDES");
    assert_flags_missing_implied(0x10 | XBUF_FORMAT | XBUF_WRITABLE, "STRIDES");
}

Test(flags_check, rejects_c_contiguous_bit_without_strides)
{
    assert_flags_missing_implied(0x20, "C_CONTIGUOUS");
    assert_flags_missing_implied(0x20 | XBUF_ND, "C_CONTIGUOUS");
}

Test(flags_check, rejects_f_contiguous_bit_without_strides)
{
    assert_flags_missing_implied(0x40, "F_CONTIGUOUS");
    assert_flags_missing_implied(0x40 | XBUF_ND | XBUF_FORMAT, "F_CONTIGUOUS");
}

Test(flags_check, rejects_any_contiguous_bit_without_strides)
{
    assert_flags_missing_implied(0x80, "ANY_CONTIGUOUS");
    assert_flags_missing_implied(0x80 | XBUF_ND, "ANY_CONTIGUOUS");
}

Test(flags_check, rejects_indirect_bit_without_strides)
{
    assert_flags_missing_implied(0x100, "INDIRECT");
    assert_flags_missing_implied(0x100 | XBUF_ND | XBUF_FORMAT | XBUF_WRITABLE, "INDIRECT");
}

/* The rule, restated: bits 0x1,0x4,0x8,0x10..0x100 only; 0x10 needs 0x8;
 * 0x20, 0x40, 0x80 and 0x100 each need 0x18. */
static bool flags_valid_oracle(int flags)
{
    if (flags & ~0x1FD)
        return false;
    if ((flags & 0x10) && !(flags & 0x08))
        return false;
    if ((flags & 0x1E0) && (flags & 0x18) != 0x18)
        return false;
    return true;
}

Test(flags_check, agrees_with_implication_rule_for_all_low_flags)
{
    int valid = 0;
    for (int flags = 0; flags < 0x400; flags++) {
        bool expected = flags_valid_oracle(flags);
        valid += expected;
        int rc = xbuf_flags_check(flags, NULL);
        cr_assert_eq(rc, expected ? 0 : XBUF_EINVAL, "flags 0x%x: got %d", (unsigned)flags, rc);
    }
    /* WRITABLE x FORMAT x {none, ND, STRIDES, STRIDES + 16 contiguity/indirect sets}. */
    cr_assert_eq(valid, 4 * (1 + 1 + 16));
}

Test(flags_check, success_leaves_err_untouched)
{
    xbuf_error err;
    err.code = 12345;
    err.position = 77;
    strcpy(err.message, "sentinel");
    cr_assert_eq(xbuf_flags_check(XBUF_FULL, &err), 0);
    cr_assert_eq(err.code, 12345);
    cr_assert_eq(err.position, 77);
    cr_assert_str_eq(err.message, "sentinel");
}

/* ---- xbuf_view_check: one test per rule ---------------------------------- */

Test(view_check, null_view_is_einval)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_view_check(NULL, XBUF_SIMPLE, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_neq(err.message[0], '\0');
    cr_assert_eq(xbuf_view_check(NULL, XBUF_FULL, NULL), XBUF_EINVAL);
}

Test(view_check, invalid_flags_are_einval_even_for_a_good_view)
{
    liar l;
    liar_init(&l);
    xbuf_error err;
    const int bad[] = {0x2, 0x1000, 0x20 | XBUF_ND, 0x100, 0x10};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(xbuf_view_check(&l.answer, bad[i], &err), XBUF_EINVAL, "flags 0x%x",
                     (unsigned)bad[i]);
        cr_assert_eq(err.code, XBUF_EINVAL);
        cr_assert_eq(xbuf_view_check(&l.answer, bad[i], NULL), XBUF_EINVAL);
    }
}

Test(view_check, good_view_passes_every_standard_request)
{
    liar l;
    liar_init(&l);
    for (size_t i = 0; i < N_REQUESTS; i++) {
        int flags = standard_requests[i];
        xbuf_error err;
        if (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS))
            continue; /* a 2 x 3 C array is not F-contiguous */
        cr_assert_eq(xbuf_view_check(&l.answer, flags, &err), 0, "flags 0x%x: %s",
                     (unsigned)flags, err.message);
    }
}

Test(view_check, success_leaves_err_untouched)
{
    liar l;
    liar_init(&l);
    xbuf_error err;
    err.code = 999;
    err.position = 5;
    strcpy(err.message, "sentinel");
    cr_assert_eq(xbuf_view_check(&l.answer, XBUF_FULL, &err), 0);
    cr_assert_eq(err.code, 999);
    cr_assert_eq(err.position, 5);
    cr_assert_str_eq(err.message, "sentinel");
}

Test(view_check, reads_metadata_only_not_the_pointer_table)
{
    /* An indirect view whose row table holds NULL pointers: well formed as
     * far as metadata goes; following the pointers would crash. */
    void *table[2] = {NULL, NULL};
    ptrdiff_t shape[2] = {2, 3}, strides[2] = {(ptrdiff_t)sizeof(void *), 4};
    ptrdiff_t suboffsets[2] = {0, -1};
    xbuf_view view;
    memset(&view, 0, sizeof view);
    view.buf = table;
    view.len = 24;
    view.itemsize = 4;
    view.ndim = 2;
    view.format = "i";
    view.shape = shape;
    view.strides = strides;
    view.suboffsets = suboffsets;
    xbuf_error err;
    cr_assert_eq(xbuf_view_check(&view, XBUF_FULL_RO, &err), 0, "%s", err.message);
}

Test(view_check_rules, ndim_negative)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = -1;
    assert_rejected(&l, XBUF_FULL_RO, "ndim -1");
}

Test(view_check_rules, ndim_65)
{
    liar l;
    liar_init(&l);
    for (int i = 0; i <= XBUF_MAX_NDIM; i++) {
        l.shape[i] = 1;
        l.strides[i] = 4;
    }
    l.answer.ndim = XBUF_MAX_NDIM + 1;
    l.answer.len = 4;
    assert_rejected(&l, XBUF_FULL_RO, "ndim 65");
}

Test(view_check_rules, itemsize_zero)
{
    liar l;
    liar_init(&l);
    l.answer.itemsize = 0;
    assert_rejected(&l, XBUF_FULL_RO, "itemsize 0");
}

Test(view_check_rules, itemsize_negative)
{
    liar l;
    liar_init(&l);
    l.answer.itemsize = -4;
    assert_rejected(&l, XBUF_SIMPLE, "itemsize -4");
}

Test(view_check_rules, len_negative)
{
    liar l;
    liar_init(&l);
    l.answer.len = -24;
    assert_rejected(&l, XBUF_FULL_RO, "negative len");
}

Test(view_check_rules, null_buf_with_bytes)
{
    liar l;
    liar_init(&l);
    l.answer.buf = NULL;
    assert_rejected(&l, XBUF_FULL_RO, "NULL buf");
}

Test(view_check_rules, empty_format)
{
    liar l;
    liar_init(&l);
    l.answer.format = "";
    assert_rejected(&l, XBUF_STRIDED_RO, "empty format");
}

Test(view_check_rules, format_asked_but_none_given)
{
    liar l;
    liar_init(&l);
    l.answer.format = NULL;
    assert_rejected(&l, XBUF_RECORDS_RO, "asked for FORMAT");
}

Test(view_check_rules, writable_asked_but_read_only)
{
    liar l;
    liar_init(&l);
    l.answer.readonly = 1;
    assert_rejected(&l, XBUF_STRIDED, "asked for WRITABLE");
}

Test(view_check_rules, nd_asked_but_no_shape)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 1;
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    assert_rejected(&l, XBUF_CONTIG_RO, "asked for ND");
}

Test(view_check_rules, ndim_2_without_shape_on_simple_request)
{
    liar l;
    liar_init(&l);
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    assert_rejected(&l, XBUF_SIMPLE, "ndim 2 but no shape");
}

Test(view_check_rules, zero_d_without_shape_len_differs_from_itemsize)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 0;
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    assert_rejected(&l, XBUF_ND, "0-d view whose len 24");
}

/* NumPy answers requests without ND with ndim 0 whatever its length; the
 * consumer of such a request reads len bytes, and xbuf_get says 1-d. */
Test(view_check_rules, shapeless_answer_without_nd_is_len_bytes)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 0;
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    xbuf_view v;
    xbuf_error err;
    cr_assert_eq(xbuf_get(&l.exporter, &v, XBUF_SIMPLE, &err), 0, "%s", err.message);
    cr_assert_eq(v.ndim, 1);
    cr_assert_eq(v.len, 24);
    cr_assert_null(v.shape);
    xbuf_release(&v);
    cr_assert_eq(xbuf_view_check(&l.answer, XBUF_SIMPLE, &err), 0, "%s", err.message);
}

Test(view_check_rules, shapeless_len_not_a_multiple_of_itemsize)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 1;
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    l.answer.len = 22;
    assert_rejected(&l, XBUF_SIMPLE, "not a multiple of itemsize");
}

Test(view_check_rules, negative_extent)
{
    liar l;
    liar_init(&l);
    l.shape[1] = -3;
    l.answer.len = 0;
    assert_rejected(&l, XBUF_STRIDED_RO, "negative extent");
}

Test(view_check_rules, shape_product_overflows)
{
    liar l;
    liar_init(&l);
    l.shape[0] = PTRDIFF_MAX / 2;
    l.shape[1] = 3;
    l.answer.len = 0;
    assert_rejected(&l, XBUF_STRIDED_RO, "size overflows");
}

Test(view_check_rules, len_differs_from_shape_product)
{
    liar l;
    liar_init(&l);
    l.answer.len = 20;
    assert_rejected(&l, XBUF_STRIDED_RO, "product(shape) * itemsize is 24");
}

Test(view_check_rules, strides_asked_but_none_given)
{
    liar l;
    liar_init(&l);
    l.answer.strides = NULL;
    assert_rejected(&l, XBUF_STRIDED_RO, "asked for STRIDES");
}

Test(view_check_rules, strides_without_shape)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 1;
    l.answer.shape = NULL;
    l.strides[0] = 4;
    assert_rejected(&l, XBUF_SIMPLE, "strides without a shape");
}

Test(view_check_rules, byte_span_overflows)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 1;
    l.answer.itemsize = 1;
    l.answer.len = 2;
    l.answer.format = "B";
    l.shape[0] = 2;
    l.strides[0] = PTRDIFF_MAX;
    assert_rejected(&l, XBUF_STRIDED_RO, "byte span overflows");
}

Test(view_check_rules, negative_byte_span_overflows)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 1;
    l.answer.itemsize = 1;
    l.answer.len = 2;
    l.shape[0] = 2;
    l.strides[0] = PTRDIFF_MIN;
    assert_rejected(&l, XBUF_STRIDED_RO, "byte span overflows");
}

Test(view_check_rules, byte_span_overflows_between_lowest_and_highest_byte)
{
    /* lo and hi each fit in ptrdiff_t, hi - lo does not */
    liar l;
    liar_init(&l);
    l.answer.itemsize = 2;
    l.answer.len = 8;
    l.answer.format = "h";
    l.shape[0] = l.shape[1] = 2;
    l.strides[0] = PTRDIFF_MAX / 2;
    l.strides[1] = -(PTRDIFF_MAX / 2);
    assert_rejected(&l, XBUF_STRIDED_RO, "byte span overflows");
}

Test(view_check_rules, strides_not_asked_and_not_c_contiguous)
{
    liar l;
    liar_init(&l);
    l.strides[0] = 4; /* Fortran order */
    l.strides[1] = 8;
    assert_rejected(&l, XBUF_CONTIG_RO, "non-C-contiguous");
}

Test(view_check_rules, strides_not_asked_and_padded_rows)
{
    liar l;
    liar_init(&l);
    l.strides[0] = 16;
    assert_rejected(&l, XBUF_SIMPLE, "non-C-contiguous");
}

Test(view_check_rules, suboffsets_without_indirect)
{
    liar l;
    liar_init(&l);
    l.answer.suboffsets = l.suboffsets; /* all negative: still not asked for */
    assert_rejected(&l, XBUF_RECORDS_RO, "did not ask for INDIRECT");
}

Test(view_check_rules, suboffsets_without_strides)
{
    /* INDIRECT implies STRIDES, so the missing strides are what is named. */
    liar l;
    liar_init(&l);
    l.answer.suboffsets = l.suboffsets;
    l.answer.strides = NULL;
    assert_rejected(&l, XBUF_FULL_RO, "strides");
}

Test(view_check_rules, c_contiguous_asked_but_fortran_given)
{
    liar l;
    liar_init(&l);
    l.strides[0] = 4;
    l.strides[1] = 8;
    assert_rejected(&l, XBUF_C_CONTIGUOUS, "asked for C_CONTIGUOUS");
}

Test(view_check_rules, f_contiguous_asked_but_c_given)
{
    liar l;
    liar_init(&l);
    assert_rejected(&l, XBUF_F_CONTIGUOUS | XBUF_FORMAT, "asked for F_CONTIGUOUS");
}

Test(view_check_rules, any_contiguous_asked_but_strided_given)
{
    liar l;
    liar_init(&l);
    l.strides[0] = 24; /* every other item of a 2 x 6 array */
    l.strides[1] = 8;
    assert_rejected(&l, XBUF_ANY_CONTIGUOUS, "asked for ANY_CONTIGUOUS");
}

Test(view_check_rules, c_contiguous_asked_but_negative_strides_given)
{
    liar l;
    liar_init(&l);
    l.answer.buf = &l.data[3];
    l.strides[0] = -12;
    assert_rejected(&l, XBUF_C_CONTIGUOUS, "asked for C_CONTIGUOUS");
}

Test(view_check_rules, contiguity_asked_but_indirect_given)
{
    liar l;
    liar_init(&l);
    void *table[2] = {&l.data[0], &l.data[3]};
    l.answer.buf = table;
    l.strides[0] = (ptrdiff_t)sizeof(void *);
    l.suboffsets[0] = 0;
    l.answer.suboffsets = l.suboffsets;
    assert_rejected(&l, XBUF_FULL_RO | XBUF_ANY_CONTIGUOUS, "asked for ANY_CONTIGUOUS");
}

/* ---- xbuf_view_check: what must be accepted -------------------------------- */

Test(view_check_accepts, c_view_for_every_non_fortran_request)
{
    liar l;
    liar_init(&l);
    for (size_t i = 0; i < N_REQUESTS; i++)
        if (!XBUF_WANTS(standard_requests[i], XBUF_F_CONTIGUOUS))
            assert_accepted(&l, standard_requests[i]);
}

Test(view_check_accepts, fortran_view_for_f_and_any_contiguous)
{
    liar l;
    liar_init(&l);
    l.strides[0] = 4;
    l.strides[1] = 8;
    assert_accepted(&l, XBUF_F_CONTIGUOUS);
    assert_accepted(&l, XBUF_ANY_CONTIGUOUS);
    assert_accepted(&l, XBUF_FULL_RO | XBUF_F_CONTIGUOUS);
}

Test(view_check_accepts, strided_view_when_strides_asked)
{
    liar l;
    liar_init(&l);
    l.strides[0] = 24;
    l.strides[1] = -8;
    l.answer.buf = &l.data[4];
    assert_accepted(&l, XBUF_STRIDED);
    assert_accepted(&l, XBUF_FULL_RO);
}

Test(view_check_accepts, missing_format_when_format_not_asked)
{
    liar l;
    liar_init(&l);
    l.answer.format = NULL;
    assert_accepted(&l, XBUF_STRIDED);
}

Test(view_check_accepts, read_only_view_when_writable_not_asked)
{
    liar l;
    liar_init(&l);
    l.answer.readonly = 1;
    assert_accepted(&l, XBUF_FULL_RO);
    assert_accepted(&l, XBUF_SIMPLE);
}

Test(view_check_accepts, shapeless_1d_view_for_simple_request)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 1;
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    assert_accepted(&l, XBUF_SIMPLE);
    assert_accepted(&l, XBUF_WRITABLE | XBUF_FORMAT);
}

Test(view_check_accepts, unrequested_c_strides_and_shape)
{
    liar l;
    liar_init(&l);
    assert_accepted(&l, XBUF_SIMPLE);
    assert_accepted(&l, XBUF_CONTIG);
}

Test(view_check_accepts, extent_1_dimension_with_any_stride)
{
    liar l;
    liar_init(&l);
    l.shape[0] = 1;
    l.strides[0] = -999;
    l.answer.len = 12;
    assert_accepted(&l, XBUF_C_CONTIGUOUS);
    assert_accepted(&l, XBUF_SIMPLE);
}

Test(view_check_accepts, zero_d_view)
{
    liar l;
    liar_init(&l);
    l.answer.ndim = 0;
    l.answer.shape = NULL;
    l.answer.strides = NULL;
    l.answer.len = 4;
    assert_accepted(&l, XBUF_FULL_RO);
    assert_accepted(&l, XBUF_C_CONTIGUOUS);
    assert_accepted(&l, XBUF_F_CONTIGUOUS);
    assert_accepted(&l, XBUF_SIMPLE);
}

Test(view_check_accepts, zero_size_view_with_null_buf_and_odd_strides)
{
    liar l;
    liar_init(&l);
    l.shape[1] = 0;
    l.strides[0] = 7;
    l.strides[1] = -3;
    l.answer.len = 0;
    l.answer.buf = NULL;
    assert_accepted(&l, XBUF_C_CONTIGUOUS);
    assert_accepted(&l, XBUF_F_CONTIGUOUS);
    assert_accepted(&l, XBUF_SIMPLE);
}

Test(view_check_accepts, byte_span_of_exactly_ptrdiff_max)
{
    liar l;
    liar_init(&l);
    l.answer.itemsize = 1;
    l.answer.len = 4;
    l.answer.format = "B";
    l.shape[0] = l.shape[1] = 2;
    l.strides[0] = PTRDIFF_MAX / 2;
    l.strides[1] = -(PTRDIFF_MAX / 2);
    assert_accepted(&l, XBUF_STRIDED_RO);
}

Test(view_check_accepts, zero_size_view_with_overflowing_strides)
{
    liar l;
    liar_init(&l);
    l.shape[0] = 0;
    l.strides[0] = PTRDIFF_MAX;
    l.strides[1] = PTRDIFF_MIN;
    l.answer.len = 0;
    assert_accepted(&l, XBUF_STRIDED_RO);
}

Test(view_check_accepts, zero_size_view_whatever_the_order_of_its_extents)
{
    /* product(shape) * itemsize is 0 in both orders; the header rejects
     * only a product that overflows. */
    liar l;
    liar_init(&l);
    l.answer.len = 0;
    l.shape[0] = 0;
    l.shape[1] = PTRDIFF_MAX;
    assert_accepted(&l, XBUF_STRIDED_RO);
    l.shape[0] = PTRDIFF_MAX;
    l.shape[1] = 0;
    assert_accepted(&l, XBUF_STRIDED_RO);
}

Test(view_check_accepts, all_negative_suboffsets_with_contiguity)
{
    liar l;
    liar_init(&l);
    l.answer.suboffsets = l.suboffsets;
    assert_accepted(&l, XBUF_FULL_RO | XBUF_C_CONTIGUOUS);
}

Test(view_check_accepts, indirect_view_for_indirect_request)
{
    liar l;
    liar_init(&l);
    void *table[2] = {&l.data[8], &l.data[0]};
    l.answer.buf = table;
    l.strides[0] = (ptrdiff_t)sizeof(void *);
    l.suboffsets[0] = 0;
    l.answer.suboffsets = l.suboffsets;
    assert_accepted(&l, XBUF_FULL);
    assert_accepted(&l, XBUF_INDIRECT);
}

/* ---- 64 dimensions -------------------------------------------------------- */

/* A C-contiguous int32 view of `ndim` dimensions, extents 1 except the
 * first (2) and last (3). */
static void liar_make_ndim(liar *l, int ndim)
{
    liar_init(l);
    for (int i = 0; i < ndim; i++)
        l->shape[i] = 1;
    l->shape[0] = 2;
    l->shape[ndim - 1] = 3;
    ptrdiff_t step = 4;
    for (int i = ndim - 1; i >= 0; i--) {
        l->strides[i] = step;
        step *= l->shape[i];
    }
    l->answer.ndim = ndim;
    l->answer.len = 24;
}

Test(max_ndim, sixty_four_dimensions_are_accepted)
{
    liar l;
    liar_make_ndim(&l, XBUF_MAX_NDIM);
    assert_accepted(&l, XBUF_FULL_RO);
    assert_accepted(&l, XBUF_FULL_RO | XBUF_C_CONTIGUOUS);
    l.answer.strides = NULL;
    assert_accepted(&l, XBUF_CONTIG);
}

Test(max_ndim, sixty_five_dimensions_are_rejected)
{
    liar l;
    liar_make_ndim(&l, XBUF_MAX_NDIM + 1);
    assert_rejected(&l, XBUF_FULL_RO, "ndim 65");
}

/* ---- xbuf_get: arguments and refusals ------------------------------------- */

Test(get, null_view_is_einval)
{
    liar l;
    liar_init(&l);
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_get(&l.exporter, NULL, XBUF_SIMPLE, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    assert_contains(err.message, "view");
    cr_assert_eq(xbuf_get(&l.exporter, NULL, XBUF_SIMPLE, NULL), XBUF_EINVAL);
    cr_assert_eq(l.gets, 0);
}

Test(get, null_exporter_is_einval_and_zeroes_view)
{
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    cr_assert_eq(xbuf_get(NULL, &view, XBUF_SIMPLE, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert(is_zeroed(&view));
    poison(&view);
    cr_assert_eq(xbuf_get(NULL, &view, XBUF_SIMPLE, NULL), XBUF_EINVAL);
    cr_assert(is_zeroed(&view));
}

Test(get, exporter_without_get_hook_is_einval)
{
    xbuf_exporter hookless = {NULL};
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    cr_assert_eq(xbuf_get(&hookless, &view, XBUF_FULL, &err), XBUF_EINVAL);
    assert_contains(err.message, "get hook");
    cr_assert(is_zeroed(&view));
    cr_assert_eq(xbuf_get(&hookless, &view, XBUF_FULL, NULL), XBUF_EINVAL);
}

Test(get, invalid_flags_are_einval_before_the_exporter_is_asked)
{
    const int bad[] = {0x2, 0x1000, 0x10, 0x20 | XBUF_ND, 0x40, 0x80 | XBUF_ND, 0x100 | XBUF_ND,
                       -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        liar l;
        liar_init(&l);
        xbuf_view view;
        xbuf_error err;
        poison(&view);
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_get(&l.exporter, &view, bad[i], &err), XBUF_EINVAL, "flags 0x%x",
                     (unsigned)bad[i]);
        cr_assert_eq(err.code, XBUF_EINVAL);
        cr_assert_neq(err.message[0], '\0');
        cr_assert(is_zeroed(&view));
        cr_assert_eq(xbuf_get(&l.exporter, &view, bad[i], NULL), XBUF_EINVAL);
        cr_assert_eq(l.gets, 0, "the exporter must not see invalid flags");
    }
}

Test(get, success_leaves_err_untouched)
{
    liar l;
    liar_init(&l);
    xbuf_view view;
    xbuf_error err;
    err.code = 4242;
    err.position = 3;
    strcpy(err.message, "sentinel");
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_FULL, &err), 0);
    cr_assert_eq(err.code, 4242);
    cr_assert_eq(err.position, 3);
    cr_assert_str_eq(err.message, "sentinel");
    xbuf_release(&view);
}

Test(get, success_with_null_err)
{
    liar l;
    liar_init(&l);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_RECORDS, NULL), 0);
    cr_assert_eq(view.buf, (void *)l.data);
    xbuf_release(&view);
    cr_assert_eq(l.releases, 1);
}

Test(get, positive_return_is_eexporter_and_view_released_once)
{
    liar l;
    liar_init(&l);
    l.rc = 1;
    assert_rejected(&l, XBUF_FULL_RO, "returned 1");
}

Test(get, int_max_return_is_eexporter_and_view_released_once)
{
    liar l;
    liar_init(&l);
    l.rc = INT_MAX;
    xbuf_view view;
    xbuf_error err;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, &err), XBUF_EEXPORTER);
    cr_assert_eq(l.releases, 1);
    cr_assert(is_zeroed(&view));
}

static void assert_unknown_code_is_eexporter(int code, const char *needle)
{
    liar l;
    liar_init(&l);
    l.rc = code;
    l.said = "this message must not be passed on";
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, &err), XBUF_EEXPORTER,
                 "exporter code %d", code);
    cr_assert_eq(err.code, XBUF_EEXPORTER);
    assert_contains(err.message, needle);
    cr_assert(is_zeroed(&view));
    cr_assert_eq(l.releases, 0, "a refused view has nothing to release");
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, NULL), XBUF_EEXPORTER);
}

Test(get, unknown_negative_code_is_eexporter)
{
    assert_unknown_code_is_eexporter(-1000, "-1000");
    assert_unknown_code_is_eexporter(-XBUF_NCODES, "-13");
    assert_unknown_code_is_eexporter(INT_MIN, "unknown code");
}

Test(get, refusal_without_message_gets_a_default_message)
{
    liar l;
    liar_init(&l);
    l.rc = XBUF_EREQUEST;
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_FULL, &err), XBUF_EREQUEST);
    cr_assert_eq(err.code, XBUF_EREQUEST);
    cr_assert_neq(err.message[0], '\0', "a refusal must come with a message");
    assert_contains(err.message, "XBUF_EREQUEST");
    cr_assert(is_zeroed(&view));
    cr_assert_eq(l.releases, 0);
}

Test(get, refusal_message_is_passed_through_verbatim)
{
    liar l;
    liar_init(&l);
    l.rc = XBUF_EREQUEST;
    l.said = "rows are not contiguous";
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_C_CONTIGUOUS, &err), XBUF_EREQUEST);
    cr_assert_eq(err.code, XBUF_EREQUEST);
    cr_assert_str_eq(err.message, "rows are not contiguous");
    cr_assert(is_zeroed(&view));
}

Test(get, refusal_codes_other_than_erequest_pass_through)
{
    const int codes[] = {XBUF_EBUSY, XBUF_ENOMEM, XBUF_EREADONLY, XBUF_EINVAL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        liar l;
        liar_init(&l);
        l.rc = codes[i];
        l.said = "exporter says no";
        xbuf_view view;
        xbuf_error err;
        cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, &err), codes[i]);
        cr_assert_eq(err.code, codes[i]);
        cr_assert_str_eq(err.message, "exporter says no");
        cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, NULL), codes[i]);
    }
}

Test(get, refusal_with_null_err)
{
    liar l;
    liar_init(&l);
    l.rc = XBUF_EREQUEST;
    l.said = "no";
    xbuf_view view;
    poison(&view);
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, NULL), XBUF_EREQUEST);
    cr_assert(is_zeroed(&view));
    cr_assert_eq(l.gets, 1);
}

Test(get, refusing_exporter_that_filled_the_view_is_not_released)
{
    liar l;
    liar_init(&l);
    l.rc = XBUF_EREQUEST;
    l.fill_on_refusal = true;
    xbuf_view view;
    xbuf_error err;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, &err), XBUF_EREQUEST);
    cr_assert(is_zeroed(&view), "a refused view must be zeroed");
    cr_assert_eq(l.releases, 0, "a refused export was never made: nothing to release");
    xbuf_release(&view);
    cr_assert_eq(l.releases, 0);
}

/* ---- xbuf_release ------------------------------------------------------------ */

Test(release, runs_the_hook_once_and_zeroes_the_view)
{
    liar l;
    liar_init(&l);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_FULL, NULL), 0);
    xbuf_release(&view);
    cr_assert_eq(l.releases, 1);
    cr_assert_eq(l.released_buf, (void *)l.data, "the hook must see the view before zeroing");
    cr_assert(is_zeroed(&view));
}

Test(release, twice_runs_the_hook_once)
{
    liar l;
    liar_init(&l);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_FULL, NULL), 0);
    xbuf_release(&view);
    xbuf_release(&view);
    cr_assert_eq(l.releases, 1);
    cr_assert(is_zeroed(&view));
}

Test(release, zeroed_view_is_harmless)
{
    xbuf_view view;
    memset(&view, 0, sizeof view);
    xbuf_release(&view);
    cr_assert(is_zeroed(&view));
}

Test(release, null_is_harmless)
{
    liar l;
    liar_init(&l);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_SIMPLE, NULL), 0);
    xbuf_release(NULL);
    cr_assert_eq(l.releases, 0);
    xbuf_release(&view);
    cr_assert_eq(l.releases, 1);
}

Test(release, hook_that_releases_its_view_again_runs_once)
{
    liar l;
    liar_init(&l);
    l.release_again = true;
    xbuf_view view;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_FULL, NULL), 0);
    xbuf_release(&view);
    cr_assert_eq(l.releases, 1, "release hook ran %d times", l.releases);
    cr_assert(is_zeroed(&view));
}

Test(release, view_without_hook_is_zeroed)
{
    int32_t data[4] = {0};
    ptrdiff_t shape[1] = {4};
    xbuf_view view;
    memset(&view, 0, sizeof view);
    view.buf = data;
    view.len = 16;
    view.itemsize = 4;
    view.ndim = 1;
    view.shape = shape;
    xbuf_release(&view);
    cr_assert(is_zeroed(&view));
}

/* ---- xbuf_view_move ------------------------------------------------------------ */

Test(view_move, transfers_the_view_and_zeroes_the_source)
{
    liar l;
    liar_init(&l);
    xbuf_view src, dst;
    cr_assert_eq(xbuf_get(&l.exporter, &src, XBUF_FULL, NULL), 0);
    poison(&dst);
    xbuf_view_move(&src, &dst);
    cr_assert(is_zeroed(&src));
    cr_assert_eq(dst.buf, (void *)l.data);
    cr_assert_eq(dst.obj, (void *)&l);
    cr_assert_eq(dst.len, 24);
    cr_assert_eq(dst.itemsize, 4);
    cr_assert_eq(dst.ndim, 2);
    cr_assert_str_eq(dst.format, "i");
    cr_assert_eq(dst.shape, l.shape, "exporter-owned shape must not be re-pointed");
    cr_assert_eq(dst.strides, l.strides);
    cr_assert_eq(dst.release, liar_release);
    xbuf_release(&src);
    cr_assert_eq(l.releases, 0, "releasing the moved-from view must do nothing");
    xbuf_release(&dst);
    cr_assert_eq(l.releases, 1);
}

Test(view_move, repoints_fill_info_self_pointers)
{
    unsigned char bytes[10] = {0};
    xbuf_view src, dst;
    cr_assert_eq(xbuf_fill_info(&src, NULL, bytes, 10, 0, XBUF_RECORDS, NULL), 0);
    cr_assert_eq(src.shape, &src.len);
    cr_assert_eq(src.strides, &src.itemsize);
    poison(&dst);
    xbuf_view_move(&src, &dst);
    cr_assert_eq(dst.shape, &dst.len, "shape must point into the destination");
    cr_assert_eq(dst.strides, &dst.itemsize, "strides must point into the destination");
    cr_assert_eq(dst.shape[0], 10);
    cr_assert_eq(dst.strides[0], 1);
    cr_assert_eq(dst.buf, (void *)bytes);
    cr_assert(is_zeroed(&src));
    cr_assert_eq(xbuf_view_check(&dst, XBUF_RECORDS, NULL), 0);
}

Test(view_move, repoints_shape_only_when_strides_absent)
{
    unsigned char bytes[3] = {0};
    xbuf_view src, dst;
    cr_assert_eq(xbuf_fill_info(&src, NULL, bytes, 3, 1, XBUF_CONTIG_RO, NULL), 0);
    xbuf_view_move(&src, &dst);
    cr_assert_eq(dst.shape, &dst.len);
    cr_assert_null(dst.strides);
    cr_assert_eq(dst.readonly, 1);
}

Test(view_move, null_or_identical_arguments_do_nothing)
{
    liar l;
    liar_init(&l);
    xbuf_view view, copy;
    cr_assert_eq(xbuf_get(&l.exporter, &view, XBUF_FULL, NULL), 0);
    copy = view;
    xbuf_view_move(&view, NULL);
    cr_assert(memcmp(&view, &copy, sizeof view) == 0, "move to NULL changed the source");
    xbuf_view_move(NULL, &view);
    cr_assert(memcmp(&view, &copy, sizeof view) == 0, "move from NULL changed the target");
    xbuf_view_move(&view, &view);
    cr_assert(memcmp(&view, &copy, sizeof view) == 0, "move onto itself changed the view");
    xbuf_release(&view);
    cr_assert_eq(l.releases, 1);
}

Test(view_move, self_move_keeps_fill_info_self_pointers)
{
    unsigned char bytes[4] = {0};
    xbuf_view view;
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 4, 0, XBUF_STRIDED, NULL), 0);
    xbuf_view_move(&view, &view);
    cr_assert_eq(view.shape, &view.len);
    cr_assert_eq(view.strides, &view.itemsize);
    cr_assert_eq(view.len, 4);
}

/* ---- xbuf_fill_info --------------------------------------------------------- */

Test(fill_info, simple_request_fills_a_shapeless_byte_view)
{
    unsigned char bytes[10] = {0};
    int owner;
    xbuf_view view;
    poison(&view);
    cr_assert_eq(xbuf_fill_info(&view, &owner, bytes, 10, 0, XBUF_SIMPLE, NULL), 0);
    cr_assert_eq(view.buf, (void *)bytes);
    cr_assert_eq(view.obj, (void *)&owner);
    cr_assert_eq(view.len, 10);
    cr_assert_eq(view.itemsize, 1);
    cr_assert_eq(view.readonly, 0);
    cr_assert_eq(view.ndim, 1);
    cr_assert_null(view.format);
    cr_assert_null(view.shape);
    cr_assert_null(view.strides);
    cr_assert_null(view.suboffsets);
    cr_assert_null(view.internal);
    cr_assert_null(view.release);
}

Test(fill_info, full_request_fills_format_shape_and_strides)
{
    unsigned char bytes[7] = {0};
    xbuf_view view;
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 7, 0, XBUF_FLAGS_ALL, NULL), 0);
    cr_assert_str_eq(view.format, "B");
    cr_assert_eq(view.shape, &view.len);
    cr_assert_eq(view.strides, &view.itemsize);
    cr_assert_eq(view.shape[0], 7);
    cr_assert_eq(view.strides[0], 1);
    cr_assert_null(view.suboffsets);
    cr_assert_null(view.release);
    xbuf_error err;
    cr_assert_eq(xbuf_view_check(&view, XBUF_FLAGS_ALL, &err), 0, "%s", err.message);
}

Test(fill_info, satisfies_every_valid_request)
{
    unsigned char bytes[5] = {1, 2, 3, 4, 5};
    for (int flags = 0; flags <= XBUF_FLAGS_ALL; flags++) {
        if (xbuf_flags_check(flags, NULL) != 0)
            continue;
        xbuf_view view;
        xbuf_error err;
        cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 5, 0, flags, &err), 0, "flags 0x%x",
                     (unsigned)flags);
        cr_assert_eq(xbuf_view_check(&view, flags, &err), 0, "flags 0x%x: %s",
                     (unsigned)flags, err.message);
        cr_assert_eq(view.format != NULL, (flags & XBUF_FORMAT) != 0, "format, flags 0x%x",
                     (unsigned)flags);
        cr_assert_eq(view.shape != NULL, XBUF_WANTS(flags, XBUF_ND), "shape, flags 0x%x",
                     (unsigned)flags);
        cr_assert_eq(view.strides != NULL, XBUF_WANTS(flags, XBUF_STRIDES),
                     "strides, flags 0x%x", (unsigned)flags);
    }
}

Test(fill_info, read_only_memory_refuses_writable)
{
    unsigned char bytes[4] = {0};
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 4, 1, XBUF_CONTIG, &err), XBUF_EREQUEST);
    cr_assert_eq(err.code, XBUF_EREQUEST);
    assert_contains(err.message, "read-only");
    cr_assert(is_zeroed(&view));
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 4, 1, XBUF_WRITABLE, NULL), XBUF_EREQUEST);
}

Test(fill_info, read_only_memory_serves_read_only_requests)
{
    unsigned char bytes[4] = {0};
    xbuf_view view;
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 4, 7, XBUF_FULL_RO, NULL), 0);
    cr_assert_neq(view.readonly, 0);
    cr_assert_eq(xbuf_view_check(&view, XBUF_FULL_RO, NULL), 0);
    cr_assert_eq(xbuf_view_check(&view, XBUF_FULL, NULL), XBUF_EEXPORTER);
}

Test(fill_info, null_view_is_einval)
{
    unsigned char bytes[4] = {0};
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_fill_info(NULL, NULL, bytes, 4, 0, XBUF_SIMPLE, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_fill_info(NULL, NULL, bytes, 4, 0, XBUF_SIMPLE, NULL), XBUF_EINVAL);
}

Test(fill_info, negative_len_is_einval_and_view_zeroed)
{
    unsigned char bytes[4] = {0};
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, -1, 0, XBUF_SIMPLE, &err), XBUF_EINVAL);
    assert_contains(err.message, "-1");
    cr_assert(is_zeroed(&view));
    cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, -1, 0, XBUF_SIMPLE, NULL), XBUF_EINVAL);
}

Test(fill_info, null_buf_with_bytes_is_einval)
{
    xbuf_view view;
    xbuf_error err;
    poison(&view);
    cr_assert_eq(xbuf_fill_info(&view, NULL, NULL, 3, 0, XBUF_SIMPLE, &err), XBUF_EINVAL);
    assert_contains(err.message, "NULL");
    cr_assert(is_zeroed(&view));
    cr_assert_eq(xbuf_fill_info(&view, NULL, NULL, 3, 0, XBUF_SIMPLE, NULL), XBUF_EINVAL);
}

Test(fill_info, null_buf_with_no_bytes_is_fine)
{
    xbuf_view view;
    cr_assert_eq(xbuf_fill_info(&view, NULL, NULL, 0, 0, XBUF_FULL, NULL), 0);
    cr_assert_null(view.buf);
    cr_assert_eq(view.len, 0);
    cr_assert_eq(view.shape[0], 0);
    cr_assert_eq(xbuf_view_check(&view, XBUF_FULL | XBUF_C_CONTIGUOUS, NULL), 0);
}

Test(fill_info, invalid_flags_are_einval_and_view_zeroed)
{
    unsigned char bytes[4] = {0};
    const int bad[] = {0x2, 0x1000, 0x10, 0x20 | XBUF_ND, 0x100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xbuf_view view;
        xbuf_error err;
        poison(&view);
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 4, 0, bad[i], &err), XBUF_EINVAL,
                     "flags 0x%x", (unsigned)bad[i]);
        cr_assert_eq(err.code, XBUF_EINVAL);
        cr_assert(is_zeroed(&view));
        cr_assert_eq(xbuf_fill_info(&view, NULL, bytes, 4, 0, bad[i], NULL), XBUF_EINVAL);
    }
}

/* An exporter of a plain byte array built on xbuf_fill_info. */
typedef struct bytes_exporter {
    xbuf_exporter exporter;
    unsigned char data[6];
    int readonly;
    xbuf_exports exports;
} bytes_exporter;

static void bytes_release(xbuf_view *view)
{
    bytes_exporter *b = view->obj;
    xbuf_exports_release(&b->exports, NULL);
}

static int bytes_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    bytes_exporter *b = (bytes_exporter *)self;
    int rc = xbuf_fill_info(view, b, b->data, 6, b->readonly, flags, err);
    if (rc < 0)
        return rc;
    rc = xbuf_exports_acquire(&b->exports, err);
    if (rc < 0) {
        memset(view, 0, sizeof *view);
        return rc;
    }
    view->release = bytes_release;
    return 0;
}

Test(fill_info, exporter_built_on_it_passes_xbuf_get_for_every_request)
{
    for (int readonly = 0; readonly <= 1; readonly++) {
        bytes_exporter b;
        memset(&b, 0, sizeof b);
        b.exporter.get = bytes_get;
        b.readonly = readonly;
        for (size_t i = 0; i < N_REQUESTS; i++) {
            int flags = standard_requests[i];
            xbuf_view view;
            xbuf_error err;
            int rc = xbuf_get(&b.exporter, &view, flags, &err);
            if (readonly && (flags & XBUF_WRITABLE)) {
                cr_assert_eq(rc, XBUF_EREQUEST, "flags 0x%x on read-only bytes", (unsigned)flags);
                cr_assert(is_zeroed(&view));
                continue;
            }
            cr_assert_eq(rc, 0, "flags 0x%x: %s", (unsigned)flags, err.message);
            cr_assert_eq(xbuf_exports_count(&b.exports), 1);
            if (view.shape != NULL)
                cr_assert_eq(view.shape, &view.len);
            xbuf_release(&view);
            cr_assert_eq(xbuf_exports_count(&b.exports), 0);
        }
    }
}

/* ---- the request matrix for the example exporters ------------------------- */

static ptrdiff_t view_extent_of(const xbuf_view *view, int dim)
{
    if (view->shape != NULL)
        return view->shape[dim];
    return view->len / view->itemsize; /* shapeless: 1-d */
}

/* The stride of `dim`, computed here rather than by the library. */
static ptrdiff_t view_stride_of(const xbuf_view *view, int dim)
{
    if (view->strides != NULL)
        return view->strides[dim];
    ptrdiff_t stride = view->itemsize;
    for (int i = view->ndim - 1; i > dim; i--)
        stride *= view_extent_of(view, i);
    return stride;
}

static char *address_of(const xbuf_view *view, const ptrdiff_t *index)
{
    char *p = view->buf;
    for (int d = 0; d < view->ndim; d++) {
        p += view_stride_of(view, d) * index[d];
        if (view->suboffsets != NULL && view->suboffsets[d] >= 0)
            p = *(char **)(void *)p + view->suboffsets[d];
    }
    return p;
}

static ptrdiff_t item_count(const xbuf_view *view)
{
    ptrdiff_t n = 1;
    for (int d = 0; d < view->ndim; d++)
        n *= view_extent_of(view, d);
    return n;
}

/* The index of the k-th item in C order (last index fastest) or F order. */
static void unravel(const xbuf_view *view, ptrdiff_t k, char order, ptrdiff_t *index)
{
    for (int j = 0; j < view->ndim; j++) {
        int d = order == 'C' ? view->ndim - 1 - j : j;
        ptrdiff_t n = view_extent_of(view, d);
        index[d] = k % n;
        k /= n;
    }
}

/* Whether item k in `order` lies at buf + k * itemsize for every k. */
static bool laid_out_in_order(const xbuf_view *view, char order)
{
    if (view->suboffsets != NULL)
        for (int d = 0; d < view->ndim; d++)
            if (view->suboffsets[d] >= 0)
                return item_count(view) == 0;
    ptrdiff_t index[XBUF_MAX_NDIM] = {0};
    for (ptrdiff_t k = 0; k < item_count(view); k++) {
        unravel(view, k, order, index);
        if (address_of(view, index) != (char *)view->buf + k * view->itemsize)
            return false;
    }
    return true;
}

/* The request asks for this order; check it by walking every item. */
static void assert_order_honoured(const xbuf_view *view, int flags)
{
    if (XBUF_WANTS(flags, XBUF_C_CONTIGUOUS))
        cr_assert(laid_out_in_order(view, 'C'), "C order asked (0x%x) but not given",
                  (unsigned)flags);
    if (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS))
        cr_assert(laid_out_in_order(view, 'F'), "F order asked (0x%x) but not given",
                  (unsigned)flags);
    if (XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS))
        cr_assert(laid_out_in_order(view, 'C') || laid_out_in_order(view, 'F'),
                  "contiguity asked (0x%x) but not given", (unsigned)flags);
    if (!XBUF_WANTS(flags, XBUF_STRIDES))
        cr_assert(laid_out_in_order(view, 'C'), "no strides asked (0x%x): must be C order",
                  (unsigned)flags);
}

/* Every promise of the request, checked by hand and by xbuf_view_check. */
static void assert_view_satisfies(const xbuf_view *view, int flags)
{
    xbuf_error err;
    cr_assert_eq(xbuf_view_check(view, flags, &err), 0, "flags 0x%x: %s", (unsigned)flags,
                 err.message);
    cr_assert(view->ndim >= 0 && view->ndim <= XBUF_MAX_NDIM);
    cr_assert_gt(view->itemsize, 0);
    if (flags & XBUF_FORMAT)
        cr_assert_not_null(view->format, "FORMAT asked (0x%x), none given", (unsigned)flags);
    if (XBUF_WANTS(flags, XBUF_ND) && view->ndim > 0)
        cr_assert_not_null(view->shape, "ND asked (0x%x), no shape", (unsigned)flags);
    if (XBUF_WANTS(flags, XBUF_STRIDES) && view->ndim > 0)
        cr_assert_not_null(view->strides, "STRIDES asked (0x%x), none given", (unsigned)flags);
    if (!XBUF_WANTS(flags, XBUF_INDIRECT))
        cr_assert_null(view->suboffsets, "INDIRECT not asked (0x%x), suboffsets given",
                       (unsigned)flags);
    if (flags & XBUF_WRITABLE)
        cr_assert_eq(view->readonly, 0, "WRITABLE asked (0x%x), read-only given",
                     (unsigned)flags);
    cr_assert_eq(view->len, item_count(view) * view->itemsize, "len, flags 0x%x",
                 (unsigned)flags);
    assert_order_honoured(view, flags);
}

/* The view's k-th item in C order, for an image: its (band, y, x). */
static unsigned char *image_pixel_of_item(const image *img, ptrdiff_t k)
{
    ptrdiff_t x = k % img->width, row = k / img->width;
    return image_pixel(img, row / img->height, row % img->height, x);
}

static void assert_view_shows_image(const image *img, const xbuf_view *view)
{
    cr_assert_eq(item_count(view), img->bands * img->height * img->width);
    ptrdiff_t index[XBUF_MAX_NDIM] = {0};
    for (ptrdiff_t k = 0; k < item_count(view); k++) {
        unravel(view, k, 'C', index);
        cr_assert_eq((unsigned char *)address_of(view, index), image_pixel_of_item(img, k),
                     "item %td of the view is not the image's pixel", k);
    }
}

static bool wants_contiguity(int flags)
{
    return (flags & 0xE0) != 0;
}

static void check_image_request(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width, int readonly,
                                int flags)
{
    image *img;
    cr_assert_eq(image_create(bands, height, width, readonly, &img, NULL), 0);
    bool direct = bands * height <= 1 || width == 0;
    bool indirect = XBUF_WANTS(flags, XBUF_INDIRECT) && !wants_contiguity(flags);
    bool servable = !(readonly && (flags & XBUF_WRITABLE)) && (direct || indirect);
    xbuf_view view;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_get(&img->exporter, &view, flags, &err);
    if (!servable) {
        cr_assert_eq(rc, XBUF_EREQUEST, "image %tdx%tdx%td ro=%d, flags 0x%x: got %d", bands,
                     height, width, readonly, (unsigned)flags, rc);
        cr_assert_neq(err.message[0], '\0');
        cr_assert(is_zeroed(&view));
        cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    } else {
        cr_assert_eq(rc, 0, "image %tdx%tdx%td ro=%d, flags 0x%x: %s", bands, height, width,
                     readonly, (unsigned)flags, err.message);
        cr_assert_eq(xbuf_exports_count(&img->exports), 1);
        assert_view_satisfies(&view, flags);
        assert_view_shows_image(img, &view);
        if (view.format != NULL)
            cr_assert_str_eq(view.format, "B");
        xbuf_release(&view);
        cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    }
    cr_assert_eq(image_destroy(img, NULL), 0);
}

static void check_image_matrix(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width, int readonly)
{
    for (size_t i = 0; i < N_REQUESTS; i++)
        check_image_request(bands, height, width, readonly, standard_requests[i]);
}

Test(request_matrix, image_3x4x5_serves_only_indirect_requests)
{
    check_image_matrix(3, 4, 5, 0);
}

Test(request_matrix, image_2x1x3_several_one_row_bands_is_indirect_only)
{
    check_image_matrix(2, 1, 3, 0);
}

Test(request_matrix, image_one_row_serves_every_request)
{
    check_image_matrix(1, 1, 5, 0);
}

Test(request_matrix, image_one_pixel_serves_every_request)
{
    check_image_matrix(1, 1, 1, 0);
}

Test(request_matrix, image_zero_rows_serves_every_request)
{
    check_image_matrix(1, 0, 4, 0);
    check_image_matrix(0, 3, 4, 0);
}

Test(request_matrix, image_zero_width_serves_every_request)
{
    check_image_matrix(3, 4, 0, 0);
}

Test(request_matrix, read_only_image_refuses_writable)
{
    check_image_matrix(2, 2, 2, 1);
    check_image_matrix(1, 1, 3, 1);
}

Test(request_matrix, image_exports_count_several_views)
{
    image *img;
    cr_assert_eq(image_create(2, 2, 2, 0, &img, NULL), 0);
    xbuf_view a, b, refused;
    cr_assert_eq(xbuf_get(&img->exporter, &a, XBUF_FULL, NULL), 0);
    cr_assert_eq(xbuf_get(&img->exporter, &b, XBUF_FULL_RO, NULL), 0);
    cr_assert_eq(xbuf_exports_count(&img->exports), 2);
    cr_assert_eq(xbuf_get(&img->exporter, &refused, XBUF_SIMPLE, NULL), XBUF_EREQUEST);
    cr_assert_eq(xbuf_exports_count(&img->exports), 2, "a refused request must not count");
    cr_assert_eq(image_destroy(img, NULL), XBUF_EBUSY);
    xbuf_release(&a);
    cr_assert_eq(xbuf_exports_count(&img->exports), 1);
    xbuf_release(&b);
    cr_assert_eq(xbuf_exports_count(&img->exports), 0);
    cr_assert_eq(image_destroy(img, NULL), 0);
}

static samples *make_samples(ptrdiff_t n)
{
    samples *s;
    cr_assert_eq(samples_create(&s, NULL), 0);
    for (ptrdiff_t i = 0; i < n; i++) {
        int16_t value = (int16_t)(i * 37 - 500);
        cr_assert_eq(samples_append(s, &value, 1, NULL), 0);
    }
    return s;
}

static void check_samples_matrix(ptrdiff_t n)
{
    samples *s = make_samples(n);
    for (size_t i = 0; i < N_REQUESTS; i++) {
        int flags = standard_requests[i];
        xbuf_view view;
        xbuf_error err;
        cr_assert_eq(xbuf_get(&s->exporter, &view, flags, &err), 0, "%td samples, flags 0x%x: %s",
                     n, (unsigned)flags, err.message);
        cr_assert_eq(xbuf_exports_count(&s->exports), 1);
        assert_view_satisfies(&view, flags);
        cr_assert_eq(view.itemsize, 2);
        cr_assert_eq(item_count(&view), n);
        if (view.format != NULL)
            cr_assert_str_eq(view.format, "h");
        for (ptrdiff_t k = 0; k < n; k++) {
            int16_t value;
            memcpy(&value, address_of(&view, &k), sizeof value);
            cr_assert_eq(value, (int16_t)(k * 37 - 500), "sample %td", k);
        }
        xbuf_release(&view);
        cr_assert_eq(xbuf_exports_count(&s->exports), 0);
    }
    cr_assert_eq(samples_destroy(s, NULL), 0);
}

Test(request_matrix, samples_serve_every_request)
{
    check_samples_matrix(20);
}

Test(request_matrix, empty_samples_serve_every_request)
{
    check_samples_matrix(0);
}

Test(request_matrix, samples_refuse_to_grow_while_a_view_is_held)
{
    samples *s = make_samples(3);
    xbuf_view view;
    cr_assert_eq(xbuf_get(&s->exporter, &view, XBUF_FULL_RO, NULL), 0);
    int16_t more = 1;
    xbuf_error err;
    cr_assert_eq(samples_append(s, &more, 1, &err), XBUF_EBUSY);
    assert_contains(err.message, "1 view is held");
    xbuf_release(&view);
    cr_assert_eq(samples_append(s, &more, 1, NULL), 0);
    cr_assert_eq(samples_destroy(s, NULL), 0);
}
