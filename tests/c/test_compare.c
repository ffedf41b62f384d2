/*
 * test_compare.c -- layer 3, element-wise comparison (xbuf_equal in
 * xbuf/copy.h).
 *
 * Views are built by hand over local buffers; values are written with the
 * scalar codec (test_codec.c checks it independently), so that the same
 * number can be put into any format and byte order.  Each behaviour is
 * checked on the ways compare.c has of comparing -- memcmp (equal integer,
 * string or pointer formats without padding), the typed kernels (columns of
 * real numbers: single numbers, or fields of records) and the codec (complex
 * numbers, bit fields, strings, code units, pointers) -- by picking formats
 * that select them.
 *
 * Where expected values come from: the header's rules (by value, NaN unequal
 * to itself, +0 == -0, padding ignored) and exact arithmetic done here by
 * hand -- e.g. 2^63 = 9223372036854775808 is not INT64_MAX =
 * 9223372036854775807, and the double nearest INT64_MAX is 2^63.  The
 * memoryview answers quoted in comments were checked with CPython 3.11.7.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"

/* ---- helpers ------------------------------------------------------------- */

#define MAXDIM 4

/* A view with room for its own metadata.  Never copied after mk(): the view
 * points into it. */
typedef struct tview {
    xbuf_view v;
    ptrdiff_t shape[MAXDIM], strides[MAXDIM], suboffsets[MAXDIM];
} tview;

/* An n-d view of `buf` (its first item), C-contiguous unless strides are
 * given. */
static xbuf_view *mk(tview *t, void *buf, const char *format, ptrdiff_t itemsize, int ndim,
                     const ptrdiff_t *shape, const ptrdiff_t *strides)
{
    memset(t, 0, sizeof *t);
    t->v.buf = buf;
    t->v.format = format;
    t->v.itemsize = itemsize;
    t->v.readonly = 1;
    t->v.ndim = ndim;
    ptrdiff_t len = itemsize;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        len *= shape[i];
    }
    t->v.len = len;
    t->v.shape = t->shape;
    if (strides != NULL) {
        memcpy(t->strides, strides, (size_t)ndim * sizeof *strides);
        t->v.strides = t->strides;
    }
    return &t->v;
}

static xbuf_view *vec(tview *t, void *buf, const char *format, ptrdiff_t itemsize, ptrdiff_t n)
{
    return mk(t, buf, format, itemsize, 1, &n, NULL);
}

/* xbuf_equal that must succeed. */
static bool eq(const xbuf_view *a, const xbuf_view *b)
{
    bool equal = true;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_equal(a, b, &equal, &err);
    cr_assert_eq(rc, 0, "xbuf_equal('%s', '%s') failed: %d %s", a->format ? a->format : "(B)",
                 b->format ? b->format : "(B)", rc, err.message);
    return equal;
}

/* Both orders agree (comparison is symmetric). */
static bool eq2(const xbuf_view *a, const xbuf_view *b)
{
    bool ab = eq(a, b), ba = eq(b, a);
    cr_assert_eq(ab, ba, "xbuf_equal is not symmetric for '%s' and '%s'",
                 a->format ? a->format : "(B)", b->format ? b->format : "(B)");
    return ab;
}

/* xbuf_equal that must fail with `code`, leaving *equal false. */
static void expect_error(const xbuf_view *a, const xbuf_view *b, int code)
{
    bool equal = true;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_equal(a, b, &equal, &err);
    cr_assert_eq(rc, code, "expected %d, got %d (%s)", code, rc, err.message);
    cr_assert_eq(err.code, code);
    cr_assert_neq(err.message[0], '\0', "an error comes with a message");
    cr_assert_not(equal, "*equal is false after an error");
    /* NULL-safe error struct. */
    equal = true;
    cr_assert_eq(xbuf_equal(a, b, &equal, NULL), code);
    cr_assert_not(equal);
}

/* The first leaf of a format: the type the codec writes through. */
typedef struct leafinfo {
    xbuf_format *format;
    const xbuf_type *type;
    ptrdiff_t offset, itemsize;
} leafinfo;

static int first_leaf(const xbuf_leaf *leaf, void *context)
{
    leafinfo *l = context;
    l->type = leaf->type;
    l->offset = leaf->offset;
    return 1;
}

static leafinfo leaf_of(const char *format)
{
    leafinfo l = {NULL, NULL, 0, 0};
    cr_assert_eq(xbuf_format_parse(format, &l.format, NULL), 0, "parse '%s'", format);
    const xbuf_type *root = xbuf_format_type(l.format);
    l.itemsize = root->itemsize;
    cr_assert_eq(xbuf_type_walk(root, first_leaf, &l, NULL), 1);
    return l;
}

/* Write the number v into a leaf of any numeric kind. */
static void put(const xbuf_type *t, void *p, long double v)
{
    int rc;
    switch (t->kind) {
    case XBUF_KIND_INT:
        rc = xbuf_scalar_write_int(t, p, (int64_t)v, false, NULL);
        break;
    case XBUF_KIND_FLOAT:
        rc = xbuf_scalar_write_float(t, p, v, false, NULL);
        break;
    case XBUF_KIND_COMPLEX:
        rc = xbuf_scalar_write_complex(t, p, v, 0, false, NULL);
        break;
    default:
        rc = xbuf_scalar_write_uint(t, p, (uint64_t)v, false, NULL);
        break;
    }
    cr_assert_eq(rc, 0, "writing %Lg as '%c'", v, t->code);
}

/* Put v at item i of a packed array of `format` items. */
static void put_at(const leafinfo *l, void *buf, ptrdiff_t i, long double v)
{
    put(l->type, (char *)buf + i * l->itemsize + l->offset, v);
}

/* ---- every numeric kind against every other ------------------------------ */

#define NPAIR 600 /* more than two of compare.c's 256-item chunks */

static const char *const numeric_formats[] = {
    "b",  "B",  "h",  "H",  "i",  "I",  "l",  "L",  "q",  "Q",  "n",  "N",
    "?",  "e",  "f",  "d",  "g",  "Ze", "Zf", "Zd", "Zg", "<h", ">h",
    ">H", "<i", ">i", "<q", ">q", ">Q", ">e", ">f", "<d", ">d", ">g", ">Zd",
    "5t", "3t"};

#define NFORMATS (sizeof numeric_formats / sizeof numeric_formats[0])

/* Values every numeric format holds exactly (bool only 0 and 1). */
static long double pair_value(ptrdiff_t i, bool boolean)
{
    static const long double values[] = {0, 1, 2, 3, 5, 7, 6, 4};
    return boolean ? (long double)(i % 3 == 1) : values[i % 8];
}

static void fill_pairs(const leafinfo *l, char *buf, bool boolean)
{
    memset(buf, 0xEE, (size_t)(NPAIR * l->itemsize)); /* garbage around bit fields */
    for (ptrdiff_t i = 0; i < NPAIR; i++)
        put_at(l, buf, i, pair_value(i, boolean));
}

static void check_pair(const char *fa, const char *fb)
{
    leafinfo la = leaf_of(fa), lb = leaf_of(fb);
    bool boolean = la.type->kind == XBUF_KIND_BOOL || lb.type->kind == XBUF_KIND_BOOL;
    char *a = malloc((size_t)(NPAIR * la.itemsize));
    char *b = malloc((size_t)(NPAIR * lb.itemsize));
    cr_assert(a != NULL && b != NULL);
    fill_pairs(&la, a, boolean);
    fill_pairs(&lb, b, boolean);
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, fa, la.itemsize, NPAIR), *vb = vec(&tb, b, fb, lb.itemsize, NPAIR);
    cr_assert(eq2(va, vb), "'%s' and '%s' holding the same numbers are equal", fa, fb);
    /* One difference, in the third chunk. */
    put_at(&lb, b, 517, pair_value(517, boolean) == 1 ? 0 : 1);
    cr_assert_not(eq2(va, vb), "'%s' and '%s' differing at item 517 are unequal", fa, fb);
    put_at(&lb, b, 517, pair_value(517, boolean));
    put_at(&lb, b, NPAIR - 1, pair_value(NPAIR - 1, boolean) == 1 ? 0 : 1);
    cr_assert_not(eq2(va, vb), "'%s' and '%s' differing at the last item are unequal", fa, fb);
    free(a);
    free(b);
    xbuf_format_release(la.format);
    xbuf_format_release(lb.format);
}

Test(numeric, every_kind_pair)
{
    for (size_t i = 0; i < NFORMATS; i++)
        for (size_t j = i; j < NFORMATS; j++)
            check_pair(numeric_formats[i], numeric_formats[j]);
}

/* Same pairs, but inside records, so the general path compares them. */
Test(numeric, every_kind_pair_in_records)
{
    char fa[64], fb[64];
    for (size_t i = 0; i < NFORMATS; i++)
        for (size_t j = i; j < NFORMATS; j++) {
            /* The number first, so leaf_of finds it; a second leaf forces
             * the general path. */
            snprintf(fa, sizeof fa, "T{%s:v:xb:tail:}", numeric_formats[i]);
            snprintf(fb, sizeof fb, "T{%s:w:b:tail:}", numeric_formats[j]);
            check_pair(fa, fb);
        }
}

/* ---- values that memcmp or a careless conversion gets wrong ------------- */

/* Two one-item views of formats fa, fb holding va, vb. */
static bool equal_values(const char *fa, long double va, const char *fb, long double vb)
{
    leafinfo la = leaf_of(fa), lb = leaf_of(fb);
    _Alignas(16) unsigned char a[64], b[64];
    /* The same filler on both sides: records here have a second field that
     * is left unwritten (padding-with-garbage tests are elsewhere). */
    memset(a, 0x5A, sizeof a);
    memset(b, 0x5A, sizeof b);
    put(la.type, a + la.offset, va);
    put(lb.type, b + lb.offset, vb);
    tview ta, tb;
    bool result = eq2(vec(&ta, a, fa, la.itemsize, 1), vec(&tb, b, fb, lb.itemsize, 1));
    xbuf_format_release(la.format);
    xbuf_format_release(lb.format);
    return result;
}

Test(values, nan_is_not_equal_to_itself)
{
    double d[3] = {1, NAN, 3};
    tview t;
    xbuf_view *v = vec(&t, d, "d", 8, 3);
    /* memoryview: m = memoryview(array('d', [1, nan, 3])); m == m is False */
    cr_assert_not(eq(v, v));
    float f[3] = {1, NAN, 3};
    tview tf;
    cr_assert_not(eq2(v, vec(&tf, f, "f", 4, 3)));
    const char *formats[] = {"e", "f", "d", "g", ">d", "Zf", "Zd", "Zg", "T{d:x:i:y:}"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        cr_assert_not(equal_values(formats[i], NAN, formats[i], NAN), "'%s'", formats[i]);
    /* A NaN imaginary part too. */
    double z[2] = {1, NAN};
    tview tz;
    xbuf_view *vz = vec(&tz, z, "Zd", 16, 1);
    cr_assert_not(eq(vz, vz));
    /* And a view without NaN is equal to itself. */
    d[1] = 2;
    cr_assert(eq(v, v));
}

Test(values, signed_zeros_are_equal)
{
    double pz = 0.0, nz = -0.0;
    tview ta, tb;
    cr_assert(eq2(vec(&ta, &pz, "d", 8, 1), vec(&tb, &nz, "d", 8, 1)),
              "+0 == -0 although their bytes differ");
    const char *formats[] = {"e", "f", "d", "g", ">f", "Zd", "i", "Q", "?"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        for (size_t j = 0; j < sizeof formats / sizeof formats[0]; j++)
            cr_assert(equal_values(formats[i], -0.0L, formats[j], 0.0L), "-0 '%s' vs 0 '%s'",
                      formats[i], formats[j]);
    double z[2] = {-0.0, -0.0};
    tview tz;
    cr_assert(eq2(vec(&tz, z, "Zd", 16, 1), vec(&ta, &pz, "d", 8, 1)));
}

Test(values, int64_against_floats_is_exact)
{
    if (LDBL_MANT_DIG < 64)
        cr_skip_test("the expected values are written as exact long doubles");
    const long double two63 = 9223372036854775808.0L, two64 = 18446744073709551616.0L;
    const char *floats[] = {"d", "g", ">d", "f"};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        const char *f = floats[i];
        /* The double nearest INT64_MAX is 2^63, which INT64_MAX is not. */
        cr_assert_not(equal_values("q", (long double)INT64_MAX, f, two63), "'%s'", f);
        cr_assert(equal_values("q", (long double)INT64_MIN, f, -two63), "'%s'", f);
        cr_assert(equal_values("Q", two63, f, two63), "'%s'", f);
        cr_assert_not(equal_values("Q", (long double)UINT64_MAX, f, two64), "'%s'", f);
        cr_assert_not(equal_values("q", -1, f, -1.5L), "'%s'", f);
    }
    /* 2^53 + 1 rounds to 2^53 in a double: a double comparison would say
     * equal. */
    cr_assert_not(equal_values("q", 9007199254740993.0L, "d", 9007199254740992.0L));
    cr_assert(equal_values("q", 9007199254740992.0L, "d", 9007199254740992.0L));
    cr_assert_not(equal_values("Q", 9007199254740993.0L, "<d", 9007199254740992.0L));
    /* The same through the general path (records of two leaves). */
    cr_assert_not(equal_values("T{q:a:b}", (long double)INT64_MAX, "T{d:a:b}", two63));
    cr_assert(equal_values("T{q:a:b}", (long double)INT64_MIN, "T{d:a:b}", -two63));
    cr_assert_not(equal_values("T{Q:a:b}", (long double)UINT64_MAX, "T{d:a:b}", two64));
    cr_assert_not(equal_values("T{q:a:b}", 9007199254740993.0L, "T{d:a:b}",
                               9007199254740992.0L));
    /* Infinity equals no integer. */
    cr_assert_not(equal_values("q", (long double)INT64_MAX, "d", INFINITY));
    cr_assert_not(equal_values("T{Q:a:b}", (long double)UINT64_MAX, "T{d:a:b}", INFINITY));
}

Test(values, uint64_max_is_not_minus_one)
{
    /* Both are all-ones bytes: only their values tell them apart. */
    uint64_t all_ones = UINT64_MAX;
    int64_t minus_one = -1;
    tview ta, tb;
    cr_assert_not(eq2(vec(&ta, &all_ones, "Q", 8, 1), vec(&tb, &minus_one, "q", 8, 1)));
    cr_assert_not(eq2(vec(&ta, &all_ones, "Q", 8, 1), vec(&tb, &minus_one, "b", 1, 1)));
    /* All-ones bytes as a double are a NaN. */
    cr_assert_not(eq2(vec(&ta, &all_ones, "Q", 8, 1), vec(&tb, &minus_one, "d", 8, 1)));
    cr_assert_not(equal_values("Q", (long double)UINT64_MAX, "q", -1));
    cr_assert_not(equal_values("I", 4294967295.0L, "i", -1));
    cr_assert_not(equal_values("B", 255, "b", -1));
    cr_assert_not(equal_values("T{Q:a:b}", (long double)UINT64_MAX, "T{q:a:b}", -1));
    /* Runs of them (the kernels compare two at a time, then the rest). */
    uint64_t uq[5] = {1, UINT64_MAX, 3, 4, 5};
    int64_t sq[5] = {1, -1, 3, 4, 5};
    cr_assert_not(eq2(vec(&ta, uq, "Q", 8, 5), vec(&tb, sq, "q", 8, 5)));
    uq[1] = (uint64_t)1 << 63;
    sq[1] = INT64_MIN; /* the same bits */
    cr_assert_not(eq2(vec(&ta, uq, "Q", 8, 5), vec(&tb, sq, "q", 8, 5)));
    cr_assert_not(eq2(vec(&ta, uq, "Q", 8, 4), vec(&tb, sq, "q", 8, 4)));
    uq[1] = 2;
    sq[1] = 2;
    cr_assert(eq2(vec(&ta, uq, "Q", 8, 5), vec(&tb, sq, "q", 8, 5)));
    uq[4] = UINT64_MAX;
    sq[4] = -1;
    cr_assert_not(eq2(vec(&ta, uq, "Q", 8, 5), vec(&tb, sq, "q", 8, 5)));
    /* Equal non-negative values of mixed signedness are equal. */
    cr_assert(equal_values("Q", (long double)INT64_MAX, "q", (long double)INT64_MAX));
    cr_assert(equal_values("Q", 5, ">q", 5));
    cr_assert(equal_values("T{Q:a:b}", 5, "T{b:a:b}", 5));
}

Test(values, complex_and_real)
{
    double z[2] = {2.5, 0}, r = 2.5;
    tview tz, tr;
    xbuf_view *vz = vec(&tz, z, "Zd", 16, 1), *vr = vec(&tr, &r, "d", 8, 1);
    cr_assert(eq2(vz, vr));
    z[1] = 1e-300;
    cr_assert_not(eq2(vz, vr), "a non-zero imaginary part");
    int32_t i = 3;
    z[0] = 3;
    z[1] = 0;
    cr_assert(eq2(vz, vec(&tr, &i, "i", 4, 1)));
    z[1] = -0.0;
    cr_assert(eq2(vz, vec(&tr, &i, "i", 4, 1)));
    z[1] = 1;
    cr_assert_not(eq2(vz, vec(&tr, &i, "i", 4, 1)), "3+1j is not 3");
    z[1] = NAN;
    cr_assert_not(eq2(vz, vec(&tr, &i, "i", 4, 1)));
    z[1] = 0;
    z[0] = 3.5;
    cr_assert_not(eq2(vz, vec(&tr, &i, "i", 4, 1)));
    /* Negative and extreme integers against complex values (the codec). */
    cr_assert(equal_values("Zd", -3, "q", -3));
    cr_assert(equal_values("Zf", -9223372036854775808.0L, "q", (long double)INT64_MIN));
    cr_assert_not(equal_values("Zd", -3, "Q", 3));
    cr_assert_not(equal_values("Zd", -3.5L, "b", -3));
    cr_assert_not(equal_values("Zd", -0x1p64L, "q", (long double)INT64_MIN));
    if (LDBL_MANT_DIG >= 64) /* UINT64_MAX as an exact long double */
        cr_assert(equal_values("Zg", 18446744073709551615.0L, "Q", (long double)UINT64_MAX));
    cr_assert_not(equal_values("Zd", 18446744073709551616.0L, "Q", (long double)UINT64_MAX));
}

Test(values, integers_against_fractions_and_infinities)
{
    cr_assert_not(equal_values("i", 1, "d", 1.5L));
    cr_assert_not(equal_values("b", 1, "f", 1.0000001L));
    cr_assert_not(equal_values("h", 0, "e", 0.5L));
    cr_assert_not(equal_values("I", 7, "g", 7.000000000000000001L));
    cr_assert(equal_values("I", 4294967295.0L, "d", 4294967295.0L));
    cr_assert(equal_values("i", -2147483648.0L, "f", -2147483648.0L));
    cr_assert_not(equal_values("i", 2147483647.0L, "f", 2147483648.0L));
    cr_assert_not(equal_values("T{i:a:b}", 1, "T{d:a:b}", 1.5L));
    cr_assert_not(equal_values("T{i:a:b}", 1, "T{Zd:a:b}", 1.5L));
    cr_assert_not(equal_values("Q", 0, "d", -INFINITY));
    cr_assert(equal_values("d", INFINITY, "f", INFINITY));
    cr_assert_not(equal_values("d", INFINITY, "f", -INFINITY));
    cr_assert(equal_values("e", 65504, "d", 65504));
}

Test(values, long_double_padding_is_ignored)
{
    if (sizeof(long double) != 16 || LDBL_MANT_DIG != 64)
        cr_skip_test("x87 long double in 16 bytes only");
    /* x87: 10 significant bytes, then 6 bytes of padding. */
    unsigned char a[2][16], b[2][16];
    long double v[2] = {1.5L, -3.0L};
    memset(a, 0x00, sizeof a);
    memset(b, 0xFF, sizeof b);
    for (int i = 0; i < 2; i++) {
        memcpy(a[i], &v[i], 10);
        memcpy(b[i], &v[i], 10);
    }
    tview ta, tb;
    cr_assert(eq2(vec(&ta, a, "g", 16, 2), vec(&tb, b, "g", 16, 2)));
    cr_assert(eq2(vec(&ta, a, "T{g:x:}", 16, 2), vec(&tb, b, "T{g:y:}", 16, 2)));
    double d[2] = {1.5, -3.0};
    cr_assert(eq2(vec(&ta, a, "g", 16, 2), vec(&tb, d, "d", 8, 2)));
    b[1][0] ^= 1;
    cr_assert_not(eq2(vec(&ta, a, "g", 16, 2), vec(&tb, b, "g", 16, 2)));
}

Test(values, bool_compares_by_value)
{
    /* struct.unpack('?', b'\x02') is True: any non-zero byte is true. */
    unsigned char two = 2, one = 1, zero = 0;
    tview ta, tb;
    cr_assert(eq2(vec(&ta, &two, "?", 1, 1), vec(&tb, &one, "?", 1, 1)));
    cr_assert(eq2(vec(&ta, &two, "?", 1, 1), vec(&tb, &one, "B", 1, 1)));
    cr_assert_not(eq2(vec(&ta, &two, "?", 1, 1), vec(&tb, &two, "B", 1, 1)));
    cr_assert_not(eq2(vec(&ta, &two, "?", 1, 1), vec(&tb, &zero, "?", 1, 1)));
    cr_assert(eq2(vec(&ta, &two, "T{?:a:}", 1, 1), vec(&tb, &two, "T{?:b:}", 1, 1)));
    cr_assert(equal_values("?", 1, "d", 1));
    cr_assert_not(equal_values("?", 1, "d", 2));
    cr_assert(equal_values("?", 0, "Zf", -0.0L));
}

Test(values, byte_orders_compare_by_value)
{
    /* 0x01020304 in both orders, and as a q. */
    unsigned char le[4] = {4, 3, 2, 1}, be[4] = {1, 2, 3, 4};
    int64_t q = 0x01020304;
    tview ta, tb, tq;
    xbuf_view *vle = vec(&ta, le, "<i", 4, 1), *vbe = vec(&tb, be, ">i", 4, 1);
    xbuf_view *vq = vec(&tq, &q, "q", 8, 1);
    cr_assert(eq2(vle, vbe));
    cr_assert(eq2(vle, vq));
    cr_assert(eq2(vbe, vq));
    /* '!' is big-endian. */
    cr_assert(eq2(vec(&tq, be, "!I", 4, 1), vle));
    vq = vec(&tq, &q, "q", 8, 1);
    /* Same bytes, different orders: different numbers. */
    xbuf_view *vbe_le = vec(&tb, le, ">i", 4, 1);
    cr_assert_not(eq2(vle, vbe_le));
    q = 0x04030201;
    cr_assert(eq2(vbe_le, vq));
    cr_assert_not(eq2(vle, vq));
    cr_assert(equal_values("=H", 513, "!H", 513));
}

/* ---- records, padding, nesting, sub-arrays ------------------------------ */

typedef struct padded {
    int8_t a;
    unsigned char pad[3];
    int32_t b;
} padded;

Test(records, padding_is_ignored)
{
    padded x[5], y[5];
    memset(x, 0x11, sizeof x);
    memset(y, 0x99, sizeof y); /* different garbage in the padding */
    for (int i = 0; i < 5; i++) {
        x[i].a = y[i].a = (int8_t)(i - 2);
        x[i].b = y[i].b = i * 1000 - 7;
    }
    tview ta, tb;
    xbuf_view *va = vec(&ta, x, "T{b:a:xxxi:b:}", 8, 5);
    xbuf_view *vb = vec(&tb, y, "T{b:a:xxxi:b:}", 8, 5);
    cr_assert(memcmp(x, y, sizeof x) != 0);
    cr_assert(eq2(va, vb), "padding bytes differ, fields do not");
    /* Implicit padding under '@' too. */
    xbuf_view *vc = vec(&tb, y, "T{b:a:i:b:}", 8, 5);
    cr_assert(eq2(va, vc));
    y[3].b = 4;
    cr_assert_not(eq2(va, vc));
    cr_assert_not(eq2(va, vb));
    y[3].b = x[3].b;
    y[4].a = 9;
    cr_assert_not(eq2(va, vb), "the first field differs");
}

Test(records, field_by_field_across_layouts)
{
    /* T{b:a:xxxi:b:} against packed =bi (itemsize 5) and =bq (9) and
     * against a record of floats: the same numbers field by field. */
    padded x[3];
    memset(x, 0x77, sizeof x);
    unsigned char packed[3][5], wide[3][9];
    double dd[3][2];
    for (int i = 0; i < 3; i++) {
        x[i].a = (int8_t)(i + 1);
        x[i].b = -i * 70000;
        packed[i][0] = (unsigned char)(i + 1);
        int32_t b = -i * 70000;
        memcpy(&packed[i][1], &b, 4); /* little-endian host assumed by '<' below */
        wide[i][0] = (unsigned char)(i + 1);
        int64_t q = -i * 70000;
        memcpy(&wide[i][1], &q, 8);
        dd[i][0] = i + 1;
        dd[i][1] = -i * 70000;
    }
    int one = 1;
    if (*(char *)&one != 1)
        cr_skip_test("the packed buffers are written in little-endian order");
    tview ta, tb;
    xbuf_view *va = vec(&ta, x, "T{b:a:xxxi:b:}", 8, 3);
    cr_assert(eq2(va, vec(&tb, packed, "<bi", 5, 3)));
    cr_assert(eq2(va, vec(&tb, wide, "<bq", 9, 3)));
    cr_assert(eq2(va, vec(&tb, dd, "dd", 16, 3)));
    cr_assert(eq2(va, vec(&tb, dd, "T{d:x:d:y:}", 16, 3)), "names do not matter");
    dd[2][1] += 0.5;
    cr_assert_not(eq2(va, vec(&tb, dd, "dd", 16, 3)));
}

Test(records, nested)
{
    /* T{b:a:T{h:x:d:y:}:s:} (24 bytes under '@': a@0, s@8 {x@8, y@16}) */
    unsigned char a[2][24], b[2][24];
    memset(a, 0x13, sizeof a);
    memset(b, 0x31, sizeof b);
    leafinfo l = leaf_of("T{b:a:T{h:x:d:y:}:s:}");
    cr_assert_eq(l.itemsize, 24);
    for (int i = 0; i < 2; i++) {
        a[i][0] = b[i][0] = (unsigned char)(10 + i);
        int16_t h = (int16_t)(-300 * i);
        double d = 0.25 * i;
        memcpy(&a[i][8], &h, 2);
        memcpy(&b[i][8], &h, 2);
        memcpy(&a[i][16], &d, 8);
        memcpy(&b[i][16], &d, 8);
    }
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "T{b:a:T{h:x:d:y:}:s:}", 24, 2);
    cr_assert(eq2(va, vec(&tb, b, "T{b:a:T{h:x:d:y:}:s:}", 24, 2)));
    /* Values and their nesting are what count, as tolist() shows them: a
     * flattened record is another value ((1, 2, 3.0) is not (1, (2, 3.0)));
     * one whose nesting holds a float where the other holds a double of the
     * same value is equal. */
    cr_assert_not(eq2(va, vec(&tb, b, "T{b:a:xxxxxxxh:x:xxxxxxd:y:}", 24, 2)));
    float f[2][4];
    memset(f, 0, sizeof f);
    for (int i = 0; i < 2; i++) {
        f[i][0] = 10.0f + (float)i;
        f[i][1] = -300.0f * (float)i;
        f[i][2] = 0.25f * (float)i;
    }
    cr_assert(eq2(va, vec(&tb, f, "T{f:a:T{f:x:f:y:}:s:}x", 16, 2)));
    f[1][2] = 0.5f;
    cr_assert_not(eq2(va, vec(&tb, f, "T{f:a:T{f:x:f:y:}:s:}x", 16, 2)));
    b[1][16] ^= 1; /* low mantissa bit of y in item 1 */
    cr_assert_not(eq2(va, vec(&tb, b, "T{b:a:T{h:x:d:y:}:s:}", 24, 2)));
    xbuf_format_release(l.format);
}

Test(records, sub_array_fields)
{
    int32_t a[2][4] = {{1, 2, 3, 0}, {4, 5, 6, 0}};
    double d[2][4] = {{1, 2, 3, 7}, {4, 5, 6, 8}};
    a[0][3] = 7;
    a[1][3] = 8;
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "T{(3)i:v:i:w:}", 16, 2);
    cr_assert(eq2(va, vec(&tb, a, "T{3i:a:i:b:}", 16, 2)));
    cr_assert_not(eq2(va, vec(&tb, a, "iiii", 16, 2)), "([1, 2, 3], 4) is not (1, 2, 3, 4)");
    cr_assert_not(eq2(va, vec(&tb, a, "4i", 16, 2)), "nor [1, 2, 3, 4]");
    cr_assert_not(eq2(va, vec(&tb, a, "T{(2)i:v:(2)i:w:}", 16, 2)), "nor ([1, 2], [3, 4])");
    cr_assert(eq2(vec(&ta, a, "4i", 16, 2), vec(&tb, a, "(4)i", 16, 2)));
    cr_assert_not(eq2(vec(&ta, a, "4i", 16, 2), vec(&tb, a, "(2,2)i", 16, 2)),
                  "[1, 2, 3, 4] is not [[1, 2], [3, 4]]");
    va = vec(&ta, a, "T{(3)i:v:i:w:}", 16, 2);
    cr_assert(eq2(va, vec(&tb, d, "T{(3)d:v:d:w:}", 32, 2)));
    d[1][1] = -5;
    cr_assert_not(eq2(va, vec(&tb, d, "T{(3)d:v:d:w:}", 32, 2)));
    cr_assert_not(eq2(va, vec(&tb, a, "3i", 12, 2)), "three leaves against four");
}

Test(records, wide_records)
{
    /* 4 KiB records: compare.c takes fewer items per chunk; every field and
     * every item is still compared. */
    enum { ITEMS = 10, FIELDS = 512 };
    double *d = malloc(ITEMS * FIELDS * sizeof *d);
    float *f = malloc(ITEMS * FIELDS * sizeof *f);
    cr_assert(d != NULL && f != NULL);
    for (int i = 0; i < ITEMS * FIELDS; i++) {
        d[i] = i * 0.25;
        f[i] = (float)i * 0.25f;
    }
    tview td, tf;
    xbuf_view *vd = vec(&td, d, "(512)d", FIELDS * 8, ITEMS);
    xbuf_view *vf = vec(&tf, f, "(512)f", FIELDS * 4, ITEMS);
    cr_assert(eq2(vd, vf));
    f[ITEMS * FIELDS - 1] = -1;
    cr_assert_not(eq2(vd, vf), "the last field of the last item");
    f[ITEMS * FIELDS - 1] = (float)(ITEMS * FIELDS - 1) * 0.25f;
    f[5 * FIELDS + 300] = -1;
    cr_assert_not(eq2(vd, vf), "a field in the middle");
    f[5 * FIELDS + 300] = (float)(5 * FIELDS + 300) * 0.25f;
    cr_assert(eq2(vd, vf));
    free(d);
    free(f);
}

Test(records, leaves_past_a_smaller_format_are_padding)
{
    /* ctypes exports formats smaller than the itemsize (cpython #76961). */
    int32_t a[2][2] = {{1, 111}, {2, 222}}, b[2][2] = {{1, 333}, {2, 444}};
    int32_t c[2] = {1, 2};
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "i", 8, 2);
    cr_assert(eq2(va, vec(&tb, b, "i", 8, 2)));
    cr_assert(eq2(va, vec(&tb, c, "i", 4, 2)));
    cr_assert(eq2(va, vec(&tb, c, "<l", 4, 2)));
    b[1][0] = 3;
    cr_assert_not(eq2(va, vec(&tb, b, "i", 8, 2)));
}

Test(records, padding_only_and_empty_leaves)
{
    unsigned char a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    tview ta, tb;
    cr_assert(eq2(vec(&ta, a, "x", 1, 3), vec(&tb, b, "x", 1, 3)), "nothing but padding");
    cr_assert_not(eq2(vec(&ta, a, "T{}x", 1, 3), vec(&tb, b, "0i", 1, 3)), "() is not []");
    /* A zero-length string holds no bytes to compare, but it is a member:
     * (b'', 42) is not 42.  A million of them cost nothing. */
    int32_t i = 42, j = 42;
    cr_assert(eq2(vec(&ta, &i, "T{0s:e:i:v:}", 4, 1), vec(&tb, &j, "T{0s:f:i:w:}", 4, 1)));
    cr_assert_not(eq2(vec(&ta, &i, "T{0s:e:i:v:}", 4, 1), vec(&tb, &j, "i", 4, 1)));
    cr_assert(eq2(vec(&ta, &i, "(1000000)0s i", 4, 1), vec(&tb, &j, "(1000000)0s i", 4, 1)));
    j = 43;
    cr_assert_not(eq2(vec(&ta, &i, "(1000000)0s i", 4, 1), vec(&tb, &j, "(1000000)0s i", 4, 1)));
    cr_assert_not(eq2(vec(&ta, a, "x", 1, 3), vec(&tb, b, "B", 1, 3)),
                  "no leaves against one leaf");
}

/* ---- bytes, strings, pointers ------------------------------------------- */

Test(strings, bytes_compare_by_bytes)
{
    char a[2][5] = {{'h', 'e', 'l', 'l', 'o'}, {'w', 'o', 'r', 'l', 'd'}};
    char b[2][5];
    memcpy(b, a, sizeof a);
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "5s", 5, 2);
    cr_assert(eq2(va, vec(&tb, b, "5s", 5, 2)));
    cr_assert(eq2(va, vec(&tb, b, "5p", 5, 2)), "bytes are bytes (s, p, named x)");
    cr_assert(eq2(va, vec(&tb, b, "5x:raw:", 5, 2)));
    cr_assert_not(eq2(va, vec(&tb, b, "5c", 5, 2)), "a string is not an array of chars");
    cr_assert_not(eq2(va, vec(&tb, b, "5B", 5, 2)));
    cr_assert_not(eq2(va, vec(&tb, b, "4sx", 5, 2)), "a shorter string is another string");
    b[1][4] = 'D';
    cr_assert_not(eq2(va, vec(&tb, b, "5s", 5, 2)));
    cr_assert_not(eq2(va, vec(&tb, b, "5x:raw:", 5, 2)));
    /* A char is a one-byte string (struct and memoryview: b'a' != 97). */
    b[1][4] = a[1][4];
    cr_assert(eq2(vec(&ta, a, "5c", 5, 2), vec(&tb, b, "5c", 5, 2)));
    cr_assert_not(eq2(vec(&ta, a, "5c", 5, 2), vec(&tb, a, "5B", 5, 2)), "chars are not numbers");
    cr_assert(eq2(vec(&ta, a, "c", 1, 10), vec(&tb, a, "1s", 1, 10)), "'c' is '1s'");
    cr_assert_not(equal_values("c", 200, "h", 200));
}

Test(strings, bytes_inside_records)
{
    struct { char name[6]; unsigned char pad[2]; int32_t n; } a[2], b[2];
    memset(a, 1, sizeof a);
    memset(b, 2, sizeof b);
    memcpy(a[0].name, "alpha", 6);
    memcpy(b[0].name, "alpha", 6);
    memcpy(a[1].name, "beta\0z", 6);
    memcpy(b[1].name, "beta\0z", 6);
    a[0].n = b[0].n = 5;
    a[1].n = b[1].n = -5;
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "T{6s:name:xxi:n:}", 12, 2);
    cr_assert(eq2(va, vec(&tb, b, "T{6s:name:xxi:n:}", 12, 2)));
    b[1].name[5] = 'y'; /* after the NUL still counts: bytes, not C strings */
    cr_assert_not(eq2(va, vec(&tb, b, "T{6s:name:xxi:n:}", 12, 2)));
}

Test(strings, code_units)
{
    /* "hé" + U+1F600 as UCS-4 in both orders, and as UCS-2 units of the
     * same values where they fit. */
    uint32_t units[3] = {0x68, 0xE9, 0x1F600};
    unsigned char le4[12], be4[12];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) {
            le4[4 * i + k] = (unsigned char)(units[i] >> (8 * k));
            be4[4 * i + 3 - k] = (unsigned char)(units[i] >> (8 * k));
        }
    tview ta, tb;
    xbuf_view *vle = vec(&ta, le4, "<3w", 12, 1);
    cr_assert(eq2(vle, vec(&tb, be4, ">3w", 12, 1)));
    cr_assert_not(eq2(vle, vec(&tb, be4, "<3w", 12, 1)));
    cr_assert_not(eq2(vle, vec(&tb, le4, "<2w4x", 12, 1)), "fewer units");
    unsigned char le2[4] = {0x68, 0, 0xE9, 0}, be2[4] = {0, 0x68, 0, 0xE9};
    unsigned char le4b[8] = {0x68, 0, 0, 0, 0xE9, 0, 0, 0};
    cr_assert(eq2(vec(&ta, le2, "<2u", 4, 1), vec(&tb, be2, ">2u", 4, 1)));
    cr_assert(eq2(vec(&ta, le2, "<2u", 4, 1), vec(&tb, le4b, "<2w", 8, 1)),
              "UCS-2 and UCS-4 units of the same values");
    be2[3] = 0xEA;
    cr_assert_not(eq2(vec(&ta, le2, "<2u", 4, 1), vec(&tb, be2, ">2u", 4, 1)));
    cr_assert_not(eq2(vec(&ta, le2, "<2u", 4, 1), vec(&tb, le2, "<2H", 4, 1)),
                  "units are not numbers");
}

Test(strings, pointers)
{
    int x, y;
    void *a[3] = {&x, &y, NULL}, *b[3] = {&x, &y, NULL};
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "P", sizeof(void *), 3);
    cr_assert(eq2(va, vec(&tb, b, "P", sizeof(void *), 3)));
    cr_assert_not(eq2(va, vec(&tb, b, "O", sizeof(void *), 3)),
                  "an object is not an address (Python reads one as an int, one as the object)");
    tview tc;
    cr_assert(eq2(vec(&tc, a, "O", sizeof(void *), 3), vec(&tb, b, "O", sizeof(void *), 3)));
    cr_assert(eq2(va, vec(&tb, b, "&i", sizeof(void *), 3)));
    cr_assert(eq2(va, vec(&tb, b, "N", sizeof(void *), 3)),
              "an address is an unsigned number, as Python reads it");
    b[1] = &x;
    cr_assert_not(eq2(va, vec(&tb, b, "N", sizeof(void *), 3)));
    b[1] = &y;
    /* Swapped storage, same addresses. */
    unsigned char swapped[3][sizeof(void *)];
    for (int i = 0; i < 3; i++) {
        uintptr_t u = (uintptr_t)a[i];
        for (size_t k = 0; k < sizeof u; k++)
            swapped[i][sizeof u - 1 - k] = (unsigned char)(u >> (8 * k));
    }
    int one = 1;
    const char *big = *(char *)&one == 1 ? ">P" : "<P";
    cr_assert(eq2(va, vec(&tb, swapped, big, sizeof(void *), 3)));
    b[2] = &x;
    cr_assert_not(eq2(va, vec(&tb, b, "P", sizeof(void *), 3)));
    cr_assert_not(eq2(va, vec(&tb, b, "O", sizeof(void *), 3)));
}

Test(strings, wide_bit_fields)
{
    /* 100-bit fields: bit by bit against each other, by value otherwise. */
    unsigned char a[13], b[13];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    a[0] = b[0] = 0x2A;
    tview ta, tb;
    xbuf_view *va = vec(&ta, a, "100t", 13, 1);
    cr_assert(eq2(va, vec(&tb, b, "100t", 13, 1)));
    b[12] = 0xF0; /* bits 100..103: outside the field */
    cr_assert(eq2(va, vec(&tb, b, "100t", 13, 1)));
    cr_assert(eq2(va, vec(&tb, b, "70t", 13, 1)), "narrower field, same value");
    uint64_t q = 42;
    cr_assert(eq2(va, vec(&tb, &q, "Q", 8, 1)));
    double d = 42;
    cr_assert(eq2(va, vec(&tb, &d, "d", 8, 1)));
    a[10] = 1; /* bit 80 */
    cr_assert_not(eq2(va, vec(&tb, &q, "Q", 8, 1)));
    cr_assert_not(eq2(va, vec(&tb, b, "100t", 13, 1)));
    a[0] = 0;
    d = 1208925819614629174706176.0; /* 2^80 */
    cr_assert(eq2(va, vec(&tb, &d, "d", 8, 1)));
    a[0] = 1; /* 2^80 + 1: 81 significant bits, more than any float holds */
    cr_assert_not(eq2(va, vec(&tb, &d, "d", 8, 1)));
    /* A wide field against a narrow one of the same value. */
    unsigned char c[13] = {0x2A};
    memset(a, 0, sizeof a);
    a[0] = 0x2A;
    cr_assert(eq2(va, vec(&tb, c, "7t", 1, 1)));
    cr_assert_not(eq2(va, vec(&tb, c, "T{7t:v:}", 1, 1)), "a record is not a number");
    /* All 64 low bits set: UINT64_MAX, not -1. */
    memset(a, 0, sizeof a);
    memset(a, 0xFF, 8);
    int64_t minus_one = -1;
    uint64_t all_ones = UINT64_MAX;
    cr_assert_not(eq2(va, vec(&tb, &minus_one, "q", 8, 1)));
    cr_assert(eq2(va, vec(&tb, &all_ones, "Q", 8, 1)));
    a[8] = 1; /* 2^64 + UINT64_MAX needs 65 bits */
    cr_assert_not(eq2(va, vec(&tb, &all_ones, "Q", 8, 1)));
}

/* ---- layouts: strides, reversal, transposes, suboffsets ------------------ */

/* The same six numbers packed, every other item, and backwards. */
Test(layouts, strided_and_reversed)
{
    int32_t packed[6] = {1, 2, 3, 4, 5, 6};
    int32_t spread[12] = {1, -1, 2, -1, 3, -1, 4, -1, 5, -1, 6, -1};
    int32_t reversed[6] = {6, 5, 4, 3, 2, 1};
    double dspread[12] = {1, 9, 2, 9, 3, 9, 4, 9, 5, 9, 6, 9};
    double dreversed[6] = {6, 5, 4, 3, 2, 1};
    ptrdiff_t n = 6, s2 = 8, sneg = -4, sdneg = -8, sd2 = 16;
    tview tp, ts, tr, tds, tdr, trec;
    xbuf_view *vp = vec(&tp, packed, "i", 4, 6);
    xbuf_view *vs = mk(&ts, spread, "i", 4, 1, &n, &s2);
    xbuf_view *vr = mk(&tr, &reversed[5], "i", 4, 1, &n, &sneg);
    xbuf_view *vds = mk(&tds, dspread, "d", 8, 1, &n, &sd2);
    xbuf_view *vdr = mk(&tdr, &dreversed[5], "d", 8, 1, &n, &sdneg);
    /* bytes path, typed path, general path */
    cr_assert(eq2(vp, vs));
    cr_assert(eq2(vp, vr));
    cr_assert(eq2(vs, vr));
    cr_assert(eq2(vp, vds));
    cr_assert(eq2(vp, vdr));
    cr_assert(eq2(vds, vdr));
    struct { int32_t v; int16_t w; int16_t pad; } rec[6];
    for (int i = 0; i < 6; i++) {
        rec[i].v = 6 - i;
        rec[i].w = 0;
        rec[i].pad = (int16_t)(i * 77);
    }
    ptrdiff_t srec = -8;
    int32_t pairs[12] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0};
    xbuf_view *vrec = mk(&trec, &rec[5], "T{i:v:h:w:xx}", 8, 1, &n, &srec);
    tview tpairs;
    cr_assert(eq2(vrec, vec(&tpairs, pairs, "T{i:v:i:w:}", 8, 6)));
    /* Both reversed: the plan flips them into forward memcmp. */
    int32_t reversed2[6] = {6, 5, 4, 3, 2, 1};
    tview tr2;
    cr_assert(eq2(vr, mk(&tr2, &reversed2[5], "i", 4, 1, &n, &sneg)));
    reversed2[0] = 7;
    cr_assert_not(eq2(vr, mk(&tr2, &reversed2[5], "i", 4, 1, &n, &sneg)));
    spread[10] = 7;
    dspread[10] = 6.5;
    dreversed[0] = 0;
    rec[0].v = 0;
    cr_assert_not(eq2(vp, vs));
    cr_assert_not(eq2(vp, vds));
    cr_assert_not(eq2(vp, vdr));
    cr_assert_not(eq2(vrec, vec(&tpairs, pairs, "T{i:v:i:w:}", 8, 6)));
    /* One-byte and 16-byte items, every other one (strided memcmp). */
    unsigned char bytes[12] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0};
    unsigned char bytes_packed[6] = {1, 2, 3, 4, 5, 6};
    tview tb1, tb2;
    ptrdiff_t two = 2;
    cr_assert(eq2(mk(&tb1, bytes, "B", 1, 1, &n, &two), vec(&tb2, bytes_packed, "B", 1, 6)));
    bytes[10] = 7;
    cr_assert_not(eq2(mk(&tb1, bytes, "B", 1, 1, &n, &two), vec(&tb2, bytes_packed, "B", 1, 6)));
    int64_t wide[4][2] = {{1, 2}, {-1, -1}, {3, 4}, {-1, -1}}, wide_packed[2][2] = {{1, 2}, {3, 4}};
    ptrdiff_t two_items = 2, s32 = 32;
    cr_assert(eq2(mk(&tb1, wide, "2q", 16, 1, &two_items, &s32),
                  vec(&tb2, wide_packed, "2q", 16, 2)));
    wide[2][1] = 5;
    cr_assert_not(eq2(mk(&tb1, wide, "2q", 16, 1, &two_items, &s32),
                      vec(&tb2, wide_packed, "2q", 16, 2)));
    /* Zero strides: one item seen six times. */
    ptrdiff_t zero = 0;
    int32_t ones[6] = {1, 1, 1, 1, 1, 1}, one = 1;
    cr_assert(eq2(vec(&tp, ones, "i", 4, 6), mk(&ts, &one, "i", 4, 1, &n, &zero)));
    ones[2] = 2;
    cr_assert_not(eq2(vec(&tp, ones, "i", 4, 6), mk(&ts, &one, "i", 4, 1, &n, &zero)));
}

Test(layouts, transposed)
{
    /* m is 3x4 row-major; f holds the same matrix column-major. */
    int16_t m[3][4], f[4][3];
    double fd[4][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            m[r][c] = (int16_t)(r * 10 + c);
            f[c][r] = m[r][c];
            fd[c][r] = m[r][c];
        }
    ptrdiff_t shape[2] = {3, 4}, fstrides[2] = {2, 6}, fdstrides[2] = {8, 24};
    tview tm, tf, tfd;
    xbuf_view *vm = mk(&tm, m, "h", 2, 2, shape, NULL);
    xbuf_view *vf = mk(&tf, f, "h", 2, 2, shape, fstrides);
    xbuf_view *vfd = mk(&tfd, fd, "d", 8, 2, shape, fdstrides);
    cr_assert(eq2(vm, vf));
    cr_assert(eq2(vm, vfd));
    cr_assert(eq2(vf, vfd));
    /* Transposing one of them makes a 4x3 view: another shape. */
    ptrdiff_t tshape[2] = {4, 3};
    tview tt;
    cr_assert_not(eq2(vm, mk(&tt, f, "h", 2, 2, tshape, NULL)));
    f[3][2] = 99;
    fd[3][2] = 99;
    cr_assert_not(eq2(vm, vf));
    cr_assert_not(eq2(vm, vfd));
}

Test(layouts, suboffsets)
{
    /* PIL-style: an array of row pointers, each row 4 contiguous items
     * starting 8 bytes (the suboffset) into its block. */
    int32_t rows[3][6];
    int32_t packed[3][4];
    double drows[3][5];
    double complex_rows[3][4][2];
    for (int r = 0; r < 3; r++) {
        rows[r][0] = rows[r][1] = -1;
        drows[r][0] = -1;
        for (int c = 0; c < 4; c++) {
            rows[r][2 + c] = r * 4 + c;
            packed[r][c] = r * 4 + c;
            drows[r][1 + c] = r * 4 + c;
            complex_rows[r][c][0] = r * 4 + c;
            complex_rows[r][c][1] = 0;
        }
    }
    char *pointers[3] = {(char *)rows[0], (char *)rows[1], (char *)rows[2]};
    char *dpointers[3] = {(char *)drows[0], (char *)drows[1], (char *)drows[2]};
    ptrdiff_t shape[2] = {3, 4};
    ptrdiff_t strides[2] = {sizeof(char *), 4}, dstrides[2] = {sizeof(char *), 8};
    tview tp, ti, td, tz;
    xbuf_view *vp = mk(&tp, packed, "i", 4, 2, shape, NULL);
    xbuf_view *vi = mk(&ti, pointers, "i", 4, 2, shape, strides);
    ti.suboffsets[0] = 8;
    ti.suboffsets[1] = -1;
    vi->suboffsets = ti.suboffsets;
    xbuf_view *vd = mk(&td, dpointers, "d", 8, 2, shape, dstrides);
    td.suboffsets[0] = 8;
    td.suboffsets[1] = -1;
    vd->suboffsets = td.suboffsets;
    /* bytes path, typed path, and (complex) the general path */
    xbuf_view *vz = mk(&tz, complex_rows, "Zd", 16, 2, shape, NULL);
    cr_assert(eq2(vp, vi));
    cr_assert(eq2(vp, vd));
    cr_assert(eq2(vi, vd));
    cr_assert(eq2(vz, vi));
    cr_assert(eq2(vz, vd));
    rows[2][5] = 100;
    drows[1][4] = 0.5;
    cr_assert_not(eq2(vp, vi));
    cr_assert_not(eq2(vp, vd));
    cr_assert_not(eq2(vi, vd));
    cr_assert_not(eq2(vz, vi));
    cr_assert_not(eq2(vz, vd));
}

Test(layouts, suboffsets_in_the_last_dimension)
{
    /* Each item is reached through its own pointer: the plan visits items
     * one at a time. */
    double values[4] = {1.5, 2.5, 3.5, 4.5}, other[4] = {1.5, 2.5, 3.5, 4.5};
    int32_t ints[4] = {1, 2, 3, 4};
    char *pointers[4];
    for (int i = 0; i < 4; i++)
        pointers[i] = (char *)&values[i];
    ptrdiff_t n = 4, stride = sizeof(char *);
    tview ti, tv;
    xbuf_view *vi = mk(&ti, pointers, "d", 8, 1, &n, &stride);
    ti.suboffsets[0] = 0;
    vi->suboffsets = ti.suboffsets;
    cr_assert(eq2(vi, vec(&tv, other, "d", 8, 4)));
    cr_assert(eq2(vi, vec(&tv, other, "<d", 8, 4)));
    cr_assert_not(eq2(vi, vec(&tv, ints, "i", 4, 4)));
    for (int i = 0; i < 4; i++)
        values[i] = other[i] = i + 1;
    cr_assert(eq2(vi, vec(&tv, ints, "i", 4, 4)));
    cr_assert(eq2(vi, vec(&tv, other, "d", 8, 4)));
    cr_assert_not(eq2(vi, vec(&tv, other, "T{d:a:}", 8, 4)), "(1.0,) is not 1");
    uint64_t bits[4];
    memcpy(bits, values, sizeof bits);
    cr_assert(eq2(vi, vec(&tv, bits, "d", 8, 4)));
    values[3] = 5;
    cr_assert_not(eq2(vi, vec(&tv, other, "d", 8, 4)));
    cr_assert_not(eq2(vi, vec(&tv, ints, "i", 4, 4)));
}

Test(layouts, zero_dimensional)
{
    int32_t a = 7, b = 7;
    double d = 7;
    tview ta, tb;
    xbuf_view *va = mk(&ta, &a, "i", 4, 0, NULL, NULL);
    cr_assert(eq2(va, mk(&tb, &b, "i", 4, 0, NULL, NULL)));
    cr_assert(eq2(va, mk(&tb, &d, "d", 8, 0, NULL, NULL)));
    cr_assert_not(eq2(va, vec(&tb, &b, "i", 4, 1)), "0-d is not 1-d");
    b = 8;
    cr_assert_not(eq2(va, mk(&tb, &b, "i", 4, 0, NULL, NULL)));
}

Test(layouts, shapeless_and_null_format)
{
    unsigned char a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    xbuf_view va, vb;
    cr_assert_eq(xbuf_fill_info(&va, NULL, a, 4, 1, XBUF_SIMPLE, NULL), 0);
    cr_assert_eq(xbuf_fill_info(&vb, NULL, b, 4, 1, XBUF_SIMPLE, NULL), 0);
    cr_assert_null(va.format);
    cr_assert_null(va.shape);
    cr_assert(eq2(&va, &vb), "no shape, no format: 1-d bytes");
    tview t;
    cr_assert(eq2(&va, vec(&t, b, "B", 1, 4)));
    cr_assert(eq2(&va, vec(&t, b, "<B", 1, 4)));
    cr_assert_not(eq2(&va, vec(&t, b, "B", 1, 3)));
    b[3] = 5;
    cr_assert_not(eq2(&va, &vb));
}

Test(layouts, empty_views_are_equal)
{
    int32_t x = 1;
    double d = 2;
    tview ta, tb;
    ptrdiff_t s30[2] = {3, 0}, s03[2] = {0, 3};
    cr_assert(eq2(vec(&ta, &x, "i", 4, 0), vec(&tb, &d, "d", 8, 0)));
    cr_assert_not(eq2(vec(&ta, NULL, "i", 4, 0), vec(&tb, NULL, "T{b:a:xxxi:b:}", 8, 0)),
                  "one leaf against two, even with no items");
    cr_assert(eq2(mk(&ta, &x, "i", 4, 2, s30, NULL), mk(&tb, &d, "Zd", 16, 2, s30, NULL)));
    cr_assert(eq2(mk(&ta, NULL, "i", 4, 2, s30, NULL), mk(&tb, NULL, "i", 4, 2, s30, NULL)));
    cr_assert_not(eq2(mk(&ta, &x, "i", 4, 2, s30, NULL), mk(&tb, &x, "i", 4, 2, s03, NULL)),
                  "(3, 0) and (0, 3) are different shapes");
    cr_assert_not(eq2(vec(&ta, &x, "i", 4, 0), mk(&tb, &x, "i", 4, 2, s03, NULL)));
    cr_assert_not(eq2(vec(&ta, &x, "i", 4, 0), vec(&tb, &d, "O", 8, 0)),
                  "not comparable even when empty");
}

Test(layouts, different_shapes_are_unequal)
{
    int32_t a[12] = {0}, b[12] = {0};
    ptrdiff_t s34[2] = {3, 4}, s43[2] = {4, 3}, s26[2] = {2, 6}, s1_12[2] = {1, 12};
    tview ta, tb;
    cr_assert_not(eq2(vec(&ta, a, "i", 4, 3), vec(&tb, b, "i", 4, 4)));
    cr_assert_not(eq2(mk(&ta, a, "i", 4, 2, s34, NULL), mk(&tb, b, "i", 4, 2, s43, NULL)));
    cr_assert_not(eq2(mk(&ta, a, "i", 4, 2, s34, NULL), mk(&tb, b, "i", 4, 2, s26, NULL)));
    cr_assert_not(eq2(mk(&ta, a, "i", 4, 2, s1_12, NULL), vec(&tb, b, "i", 4, 12)),
                  "(1, 12) is not (12,): different ndim");
    cr_assert_not(eq2(vec(&ta, a, "i", 4, 12), vec(&tb, b, "q", 8, 6)));
    cr_assert(eq2(mk(&ta, a, "i", 4, 2, s1_12, NULL), mk(&tb, b, "I", 4, 2, s1_12, NULL)));
}

Test(layouts, different_leaf_structures_are_unequal)
{
    int32_t a[4] = {1, 1, 1, 1};
    tview ta, tb;
    /* memoryview: formats it cannot compare make == False, not an error. */
    cr_assert_not(eq2(vec(&ta, a, "ii", 8, 2), vec(&tb, a, "q", 8, 2)));
    cr_assert_not(eq2(vec(&ta, a, "ii", 8, 1), vec(&tb, a, "iii", 12, 1)));
    cr_assert_not(eq2(vec(&ta, a, "T{i:a:}", 4, 4), vec(&tb, a, "4s", 4, 4)));
    cr_assert_not(eq2(vec(&ta, a, "i", 4, 4), vec(&tb, a, "2u", 4, 4)));
    cr_assert_not(eq2(vec(&ta, a, "i", 4, 4), vec(&tb, a, "4x:v:", 4, 4)));
    cr_assert_not(eq2(vec(&ta, a, "i4s", 8, 2), vec(&tb, a, "4si", 8, 2)));
    /* Numbers pair with numbers whatever their kinds: i,h against h,i
     * holding 1,1 and 1,1 are equal leaf by leaf. */
    cr_assert(eq2(vec(&ta, a, "ih", 8, 2), vec(&tb, a, "hi", 8, 2)));
    cr_assert_not(eq2(vec(&ta, a, "T{i:a:T{i:b:}:c:}", 8, 2), vec(&tb, a, "i", 8, 2)));
    cr_assert_not(eq2(vec(&ta, a, "T{i:a:T{i:b:}:c:}", 8, 2), vec(&tb, a, "2i", 8, 2)),
                  "(1, (2,)) is not [1, 2]");
    cr_assert(eq2(vec(&ta, a, "T{i:a:T{i:b:}:c:}", 8, 2), vec(&tb, a, "T{i:x:T{<i:y:}:z:}", 8, 2)),
              "the same leaves, grouped differently");
}

/* ---- a long run (chunks, and the last item) ------------------------------ */

Test(layouts, long_runs)
{
    enum { N = 100003 };
    double *d = malloc(N * sizeof *d);
    float *f = malloc(N * sizeof *f);
    int64_t *q = malloc(N * sizeof *q);
    cr_assert(d && f && q);
    for (ptrdiff_t i = 0; i < N; i++) {
        q[i] = i - 5000;
        d[i] = (double)(i - 5000);
        f[i] = (float)(i - 5000);
    }
    tview td, tf, tq;
    xbuf_view *vd = vec(&td, d, "d", 8, N), *vf = vec(&tf, f, "f", 4, N);
    xbuf_view *vq = vec(&tq, q, "q", 8, N);
    cr_assert(eq2(vd, vf));
    cr_assert(eq2(vd, vq));
    cr_assert(eq2(vq, vf));
    cr_assert(eq2(vd, vd));
    f[N - 1] = 0;
    q[N - 1] = 0;
    cr_assert_not(eq2(vd, vf));
    cr_assert_not(eq2(vd, vq));
    free(d);
    free(f);
    free(q);
}

/* ---- errors --------------------------------------------------------------- */

Test(errors, null_arguments)
{
    int32_t x = 0;
    tview t;
    xbuf_view *v = vec(&t, &x, "i", 4, 1);
    bool equal = true;
    xbuf_error err;
    cr_assert_eq(xbuf_equal(NULL, v, &equal, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_equal(v, NULL, &equal, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_equal(v, v, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_equal(NULL, NULL, NULL, NULL), XBUF_EINVAL);
}

Test(errors, malformed_views)
{
    int32_t x[4] = {0};
    tview tg, tb;
    xbuf_view *good = vec(&tg, x, "i", 4, 4);

    xbuf_view *bad = vec(&tb, x, "i", 4, 4);
    bad->itemsize = 0;
    expect_error(good, bad, XBUF_EINVAL);
    expect_error(bad, good, XBUF_EINVAL);

    bad = vec(&tb, x, "i", 4, 4);
    bad->len = 12; /* shape says 16 */
    expect_error(good, bad, XBUF_EINVAL);

    bad = vec(&tb, x, "i", 4, 4);
    bad->ndim = 2;
    bad->shape = NULL; /* more than 1-d needs a shape */
    expect_error(good, bad, XBUF_EINVAL);

    bad = vec(&tb, x, "i", 4, 4);
    tb.shape[0] = -4;
    bad->len = -16;
    expect_error(good, bad, XBUF_EINVAL);

    bad = vec(&tb, x, "", 4, 4);
    expect_error(good, bad, XBUF_EINVAL);

    bad = vec(&tb, NULL, "i", 4, 4);
    expect_error(good, bad, XBUF_EINVAL);

    bad = vec(&tb, x, "i", 4, 4);
    bad->ndim = XBUF_MAX_NDIM + 1;
    expect_error(good, bad, XBUF_EINVAL);

    /* Malformed beats "different shape". */
    bad = vec(&tb, x, "i", 4, 2);
    bad->itemsize = -4;
    expect_error(good, bad, XBUF_EINVAL);
}

Test(errors, format_larger_than_the_item)
{
    /* The format places a leaf past the itemsize: reading it would leave
     * the item, so the view is malformed. */
    double d[2] = {0};
    tview ta, tb;
    xbuf_view *va = vec(&ta, d, "d", 8, 2);
    expect_error(va, vec(&tb, d, "d", 4, 4), XBUF_EINVAL);
    expect_error(vec(&tb, d, "T{i:a:d:b:}", 8, 2), va, XBUF_EINVAL);
    expect_error(vec(&tb, d, "q", 4, 3), va, XBUF_EINVAL); /* even beside another shape */
    /* Trailing padding past the itemsize is harmless. */
    cr_assert(eq2(vec(&tb, d, "dxxxx", 8, 2), va));
}

Test(errors, bad_formats)
{
    int32_t x[2] = {1, 2};
    tview ta, tb;
    xbuf_view *good = vec(&ta, x, "i", 4, 2);
    const char *bad[] = {"T{i", "z", "i:a", "(2i", "T{i:a:i:a:}", "Zi"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(good, vec(&tb, x, bad[i], 4, 2), XBUF_EFORMAT);
        expect_error(vec(&tb, x, bad[i], 4, 2), good, XBUF_EFORMAT);
        /* Reported even beside a view of another shape. */
        expect_error(vec(&tb, x, bad[i], 4, 1), good, XBUF_EFORMAT);
    }
}

/* ---- allocation failure ------------------------------------------------- */

typedef struct compare_ctx {
    const xbuf_view *a, *b;
    bool expected;
    bool equal;
} compare_ctx;

static int compare_run(void *ctx)
{
    compare_ctx *c = ctx;
    c->equal = !c->expected;
    return xbuf_equal(c->a, c->b, &c->equal, NULL);
}

static const char *compare_after_failure(void *ctx)
{
    compare_ctx *c = ctx;
    return c->equal ? "*equal is true after a failure" : NULL;
}

static void compare_teardown(void *ctx)
{
    (void)ctx;
}

static long sweep_compare(const xbuf_view *a, const xbuf_view *b, bool expected,
                          bool with_realloc)
{
    failing_alloc_install(with_realloc);
    compare_ctx ctx = {a, b, expected, !expected};
    failing_alloc_op op = {NULL, compare_run, compare_after_failure, compare_teardown, &ctx, 0};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "'%s' vs '%s': %s", a->format, b->format, report.message);
    cr_assert_eq(failing_alloc_live_blocks(), 0, "blocks still live after the sweep");
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
    /* A clean run gives the right answer under the test allocator. */
    ctx.equal = !expected;
    cr_assert_eq(xbuf_equal(a, b, &ctx.equal, NULL), 0);
    cr_assert_eq(ctx.equal, expected, "'%s' vs '%s'", a->format, b->format);
    failing_alloc_uninstall();
    return report.points;
}

Test(alloc_failure, sweep)
{
    padded recs[3];
    memset(recs, 0, sizeof recs);
    int32_t packed[3][2] = {{0, 0}, {0, 0}, {0, 0}};
    double d[40] = {0}, d2[40] = {0};
    float f[40] = {0};
    int32_t i[4] = {1, 2, 3, 4};
    tview ta, tb;
    for (int r = 0; r < 2; r++) {
        bool re = r == 0;
        long points = sweep_compare(vec(&ta, i, "i", 4, 4), vec(&tb, i, "i", 4, 4), true, re);
        cr_assert_geq(points, 1, "parsing allocates");
        sweep_compare(vec(&ta, i, "i", 4, 4), vec(&tb, i, "<l", 4, 4), true, re);
        sweep_compare(vec(&ta, d, "d", 8, 2), vec(&tb, f, "f", 4, 2), true, re);
        sweep_compare(vec(&ta, recs, "T{b:a:xxxi:b:}", 8, 3),
                      vec(&tb, packed, "T{b:a:xxxi:b:}", 8, 3), true, re);
        sweep_compare(vec(&ta, recs, "T{b:a:xxxi:b:}", 8, 3), vec(&tb, packed, "ii", 8, 3),
                      true, re);
        /* More leaves than the first leaf list holds: it grows. */
        points = sweep_compare(vec(&ta, d, "(40)d", 320, 1), vec(&tb, f, "(40)f", 160, 1),
                               true, re);
        cr_assert_geq(points, 4);
        sweep_compare(vec(&ta, d, "T{(40)d:a:}", 320, 1), vec(&tb, d2, "T{(40)d:b:}", 320, 1),
                      true, re);
        /* Unequal answers and shape mismatches still parse both formats. */
        sweep_compare(vec(&ta, d, "dd", 16, 2), vec(&tb, i, "i", 4, 4), false, re);
        sweep_compare(vec(&ta, d, "T{d:x:}", 8, 2), vec(&tb, d, "T{d:x:}", 8, 3), false, re);
    }
}

/* Review finding: arrays of empty items ("(10**12)0s") hold no bytes; the
 * comparison and the layout check must not visit each of them. */
Test(review, arrays_of_empty_items_are_skipped)
{
    unsigned char a = 7, b = 7;
    xbuf_view va = {0}, vb = {0};
    va.buf = &a;
    va.itemsize = 1;
    va.len = 1;
    va.ndim = 0;
    va.format = "(1000000000000)0sB";
    vb = va;
    vb.buf = &b;
    bool equal = false;
    cr_assert_eq(xbuf_equal(&va, &vb, &equal, NULL), XBUF_OK);
    cr_assert(equal);
    b = 8;
    cr_assert_eq(xbuf_equal(&va, &vb, &equal, NULL), XBUF_OK);
    cr_assert_not(equal);
    xbuf_format *f, *g;
    cr_assert_eq(xbuf_format_parse("(1000000000000)0s:a:B", &f, NULL), XBUF_OK);
    cr_assert_eq(xbuf_format_parse("(1000000000000)0s:b:B", &g, NULL), XBUF_OK);
    cr_assert(xbuf_type_layout_compatible(xbuf_format_type(f), xbuf_format_type(g)));
    xbuf_format_release(f);
    xbuf_format_release(g);
}
