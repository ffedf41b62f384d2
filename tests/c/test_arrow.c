/*
 * test_arrow.c -- layer 5, the Arrow C data interface: xbuf_arrow_export,
 * xbuf_arrow_import and the move helpers.
 *
 * Views come from a hand-made source (any memory, format, shape, strides,
 * suboffsets) wrapped with xbuf_mview_from_view; the source counts how
 * often its release hook runs, so every test can say when the memory was
 * given back.  Exported trees are checked node by node against what the
 * spec says they must be; release callbacks are spied on (the spy replaces
 * a node's release with one that counts and then calls the original), so
 * "exactly once" is counted, not assumed.  Imported arrays are built by
 * hand on the stack, with release callbacks that count, and every refusal
 * checks that the caller's structs are byte for byte what they were.
 *
 * Every test runs under the counting allocator and ends by checking that
 * nothing xbuf allocated is still live and that no free had a wrong size.
 */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "test_support.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define JUNK ((xbuf_mview *)(uintptr_t)0x10)

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE "<"
#define FOREIGN ">"
#else
#define NATIVE ">"
#define FOREIGN "<"
#endif

/* ==== scaffolding ======================================================= */

#define TEST(name) Test(arrow, name, .init = begin)

/* ==== a source of views ================================================== */

typedef struct source {
    int releases; /* times the wrapped view's release hook ran */
    ptrdiff_t shape[8], strides[8], suboffsets[8];
} source;

static void source_release(xbuf_view *view)
{
    ((source *)view->obj)->releases++;
}

/* An mview of `buf` as the arguments describe it; NULL strides: C order. */
static xbuf_mview *wrap(source *src, void *buf, const char *format, ptrdiff_t itemsize, int ndim,
                        const ptrdiff_t *shape, const ptrdiff_t *strides)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    memset(src, 0, sizeof *src);
    ptrdiff_t items = 1;
    for (int i = 0; i < ndim; i++) {
        src->shape[i] = shape[i];
        items *= shape[i];
    }
    if (strides != NULL)
        memcpy(src->strides, strides, (size_t)ndim * sizeof *strides);
    else
        MUST(xbuf_strides_fill(ndim, shape, itemsize, 'C', src->strides, &err));
    xbuf_view v = {
        .buf = buf,
        .obj = src,
        .len = items * itemsize,
        .itemsize = itemsize,
        .ndim = ndim,
        .format = format,
        .shape = ndim > 0 ? src->shape : NULL,
        .strides = ndim > 0 ? src->strides : NULL,
        .release = source_release,
    };
    xbuf_mview *m = NULL;
    MUST(xbuf_mview_from_view(&v, &m, &err));
    return m;
}

static xbuf_mview *wrap1(source *src, void *buf, const char *format, ptrdiff_t itemsize,
                         ptrdiff_t n)
{
    return wrap(src, buf, format, itemsize, 1, &n, NULL);
}

/* ==== spying on release callbacks ======================================== */

/* A node's release is replaced by a spy that counts, then calls the
 * original.  Spies are found by private_data, which a move does not change. */
#define MAX_SPIES 32

typedef struct spy {
    void *key;
    void (*schema_release)(struct ArrowSchema *);
    void (*array_release)(struct ArrowArray *);
    int calls;
} spy;

static spy spies[MAX_SPIES];
static int nspies;

static spy *spy_find(void *key)
{
    for (int i = 0; i < nspies; i++)
        if (spies[i].key == key)
            return &spies[i];
    cr_assert_fail("release called on a node nobody spied on");
    return NULL;
}

static void spied_schema_release(struct ArrowSchema *s)
{
    spy *p = spy_find(s->private_data);
    p->calls++;
    p->schema_release(s);
    cr_assert_null(s->release, "a schema release did not mark the struct released");
}

static void spied_array_release(struct ArrowArray *a)
{
    spy *p = spy_find(a->private_data);
    p->calls++;
    p->array_release(a);
    cr_assert_null(a->release, "an array release did not mark the struct released");
}

/* Spy on every node of a tree; returns the number of nodes. */
static int spy_schema(struct ArrowSchema *s)
{
    cr_assert_lt(nspies, MAX_SPIES);
    spies[nspies++] = (spy){s->private_data, s->release, NULL, 0};
    s->release = spied_schema_release;
    int n = 1;
    for (int64_t i = 0; i < s->n_children; i++)
        n += spy_schema(s->children[i]);
    return n;
}

static int spy_array(struct ArrowArray *a)
{
    cr_assert_lt(nspies, MAX_SPIES);
    spies[nspies++] = (spy){a->private_data, NULL, a->release, 0};
    a->release = spied_array_release;
    int n = 1;
    for (int64_t i = 0; i < a->n_children; i++)
        n += spy_array(a->children[i]);
    return n;
}

static void assert_each_released_once(void)
{
    for (int i = 0; i < nspies; i++)
        cr_assert_eq(spies[i].calls, 1, "node %d: release called %d times", i, spies[i].calls);
}

/* ==== checking exported trees ============================================= */

static void check_node(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const char *format, const char *name, int64_t length, int64_t n_buffers,
                       int64_t n_children)
{
    cr_assert_not_null(s->release, "schema '%s' is released", format);
    cr_assert_not_null(a->release, "array '%s' is released", format);
    cr_assert_str_eq(s->format, format);
    cr_assert_str_eq(s->name, name);
    cr_assert_eq(s->flags, ARROW_FLAG_NULLABLE);
    cr_assert_eq(s->n_children, n_children, "'%s': %lld children", format,
                 (long long)s->n_children);
    cr_assert_eq(a->n_children, n_children);
    cr_assert_null(s->dictionary);
    cr_assert_null(a->dictionary);
    cr_assert_eq(a->length, length, "'%s': length %lld, expected %lld", format,
                 (long long)a->length, (long long)length);
    cr_assert_eq(a->null_count, 0);
    cr_assert_eq(a->offset, 0);
    cr_assert_eq(a->n_buffers, n_buffers, "'%s': %lld buffers", format,
                 (long long)a->n_buffers);
    cr_assert_not_null(a->buffers);
    cr_assert_null(a->buffers[0], "'%s': a validity bitmap where there are no nulls", format);
    if (n_children > 0) {
        cr_assert_not_null(s->children);
        cr_assert_not_null(a->children);
    }
}

static void release_both(struct ArrowSchema *s, struct ArrowArray *a)
{
    s->release(s);
    a->release(a);
    cr_assert_null(s->release);
    cr_assert_null(a->release);
}

static void assert_zeroed(const struct ArrowSchema *s, const struct ArrowArray *a)
{
    cr_assert_null(s->release, "a failed export left a live schema");
    cr_assert_null(a->release, "a failed export left a live array");
}

/* The spec's metadata encoding, written independently of the library. */
static size_t metadata_bytes(char *out, int pairs, const char *const *kv)
{
    int32_t n = pairs;
    memcpy(out, &n, 4);
    size_t size = 4;
    for (int i = 0; i < 2 * pairs; i++) {
        int32_t len = (int32_t)strlen(kv[i]);
        memcpy(out + size, &len, 4);
        memcpy(out + size + 4, kv[i], (size_t)len);
        size += 4 + (size_t)len;
    }
    return size;
}

static size_t tensor_metadata(char *out, const char *json)
{
    const char *kv[] = {"ARROW:extension:name", "arrow.fixed_shape_tensor",
                        "ARROW:extension:metadata", json};
    return metadata_bytes(out, 2, kv);
}

/* ==== export: primitives ==================================================== */

static char arrow_int(size_t size, bool is_signed)
{
    switch (size) {
    case 1: return is_signed ? 'c' : 'C';
    case 2: return is_signed ? 's' : 'S';
    case 4: return is_signed ? 'i' : 'I';
    default: return is_signed ? 'l' : 'L';
    }
}

TEST(export_every_primitive_format)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    char l[2] = {arrow_int(sizeof(long), true), 0}, L[2] = {arrow_int(sizeof(long), false), 0};
    char n[2] = {arrow_int(sizeof(size_t), true), 0}, N[2] = {arrow_int(sizeof(size_t), false), 0};
    struct {
        const char *format;
        ptrdiff_t itemsize;
        const char *arrow;
    } cases[] = {
        {"b", 1, "c"},     {"B", 1, "C"},   {"h", 2, "s"},     {"H", 2, "S"},
        {"i", 4, "i"},     {"I", 4, "I"},   {"l", (ptrdiff_t)sizeof(long), l},
        {"L", (ptrdiff_t)sizeof(long), L},  {"q", 8, "l"},     {"Q", 8, "L"},
        {"n", (ptrdiff_t)sizeof(size_t), n}, {"N", (ptrdiff_t)sizeof(size_t), N},
        {"e", 2, "e"},     {"f", 4, "f"},   {"d", 8, "g"},     {"=q", 8, "l"},
        {NATIVE "i", 4, "i"}, {">B", 1, "C"},  {"@d", 8, "g"},    {"c", 1, "w:1"},
        {"5s", 5, "w:5"},  {"3x:pad:", 3, "w:3"},
    };
    for (int k = 0; k < COUNT(cases); k++) {
        _Alignas(16) unsigned char memory[64];
        for (int i = 0; i < 64; i++)
            memory[i] = (unsigned char)(i * 7);
        source src;
        xbuf_mview *m = wrap1(&src, memory, cases[k].format, cases[k].itemsize, 4);
        struct ArrowSchema s;
        struct ArrowArray a;
        MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
        check_node(&s, &a, cases[k].arrow, "", 4, 2, 0);
        cr_assert_null(s.metadata);
        cr_assert_eq(a.buffers[1], (const void *)memory, "%s: the data was copied",
                     cases[k].format);
        cr_assert_eq(xbuf_mview_exports(m), 1);
        xbuf_mview_unref(m);
        cr_assert_eq(src.releases, 0, "the memory went back while the array points at it");
        release_both(&s, &a);
        cr_assert_eq(src.releases, 1);
    }
    finish();
}

TEST(export_names_the_array_and_makes_0d_a_length_1_array)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    double x = 2.5;
    source src;
    xbuf_mview *m = wrap(&src, &x, "d", 8, 0, NULL, NULL);
    xbuf_arrow_options o = XBUF_ARROW_OPTIONS_INIT;
    o.name = "temperature";
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "g", "temperature", 1, 2, 0);
    cr_assert_eq(a.buffers[1], (const void *)&x);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    cr_assert_eq(src.releases, 1);
    finish();
}

TEST(export_holds_the_export_until_the_array_is_released)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t values[6] = {1, 2, 3, 4, 5, 6};
    source src;
    xbuf_mview *m = wrap1(&src, values, "i", 4, 6);
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
    cr_assert_eq(xbuf_mview_exports(m), 1);
    FAILS(xbuf_mview_release(m, &err), XBUF_EBUSY);
    s.release(&s); /* the schema holds nothing */
    cr_assert_eq(xbuf_mview_exports(m), 1);
    FAILS(xbuf_mview_release(m, &err), XBUF_EBUSY);
    a.release(&a);
    cr_assert_null(a.release);
    cr_assert_eq(xbuf_mview_exports(m), 0);
    MUST(xbuf_mview_release(m, &err));
    cr_assert_eq(src.releases, 1);
    /* a released mview exports nothing */
    FAILS(xbuf_arrow_export(m, NULL, &s, &a, &err), XBUF_ERELEASED);
    assert_zeroed(&s, &a);
    xbuf_mview_unref(m);
    finish();
}

TEST(export_empty_arrays)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t dummy[1];
    struct {
        int ndim;
        ptrdiff_t shape[2];
        const char *top;
        int64_t child_length;
    } cases[] = {{1, {0}, "i", -1}, {2, {0, 3}, "+w:3", 0}, {2, {3, 0}, "+w:0", 0}};
    for (int k = 0; k < COUNT(cases); k++) {
        source src;
        xbuf_mview *m = wrap(&src, dummy, "i", 4, cases[k].ndim, cases[k].shape, NULL);
        struct ArrowSchema s;
        struct ArrowArray a;
        MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
        bool list = cases[k].ndim > 1;
        check_node(&s, &a, cases[k].top, "", cases[k].shape[0], list ? 1 : 2, list ? 1 : 0);
        if (list)
            check_node(s.children[0], a.children[0], "i", "item", cases[k].child_length, 2, 0);
        release_both(&s, &a);
        xbuf_mview_unref(m);
        cr_assert_eq(src.releases, 1);
    }
    finish();
}

/* ==== export: N-d ============================================================= */

TEST(export_3d_as_nested_fixed_size_lists)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t values[24];
    for (int i = 0; i < 24; i++)
        values[i] = i;
    ptrdiff_t shape[3] = {4, 2, 3};
    source src;
    xbuf_mview *m = wrap(&src, values, "i", 4, 3, shape, NULL);
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
    check_node(&s, &a, "+w:2", "", 4, 1, 1);
    cr_assert_null(s.metadata);
    struct ArrowSchema *s1 = s.children[0];
    struct ArrowArray *a1 = a.children[0];
    check_node(s1, a1, "+w:3", "item", 8, 1, 1);
    check_node(s1->children[0], a1->children[0], "i", "item", 24, 2, 0);
    cr_assert_eq(a1->children[0]->buffers[1], (const void *)values, "the data was copied");
    cr_assert_eq(spy_schema(&s), 3);
    cr_assert_eq(spy_array(&a), 3);
    xbuf_mview_unref(m);
    release_both(&s, &a);
    assert_each_released_once();
    cr_assert_eq(src.releases, 1);
    finish();
}

TEST(export_3d_as_fixed_shape_tensor)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    double values[24];
    ptrdiff_t shape[3] = {4, 2, 3};
    source src;
    xbuf_mview *m = wrap(&src, values, "d", 8, 3, shape, NULL);
    xbuf_arrow_options o = {XBUF_ARROW_ND_TENSOR, XBUF_ARROW_RECORDS_BINARY, false, NULL};
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "+w:6", "", 4, 1, 1);
    char want[256];
    size_t size = tensor_metadata(want, "{\"shape\":[2,3]}");
    cr_assert_not_null(s.metadata);
    cr_assert(memcmp(s.metadata, want, size) == 0, "the extension metadata differs");
    check_node(s.children[0], a.children[0], "g", "item", 24, 2, 0);
    cr_assert_null(s.children[0]->metadata);
    cr_assert_eq(a.children[0]->buffers[1], (const void *)values);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    cr_assert_eq(src.releases, 1);

    /* 1-d stays a plain array, 2-d has a one-dimensional tensor shape */
    m = wrap1(&src, values, "d", 8, 5);
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "g", "", 5, 2, 0);
    cr_assert_null(s.metadata);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    ptrdiff_t shape2[2] = {3, 8};
    m = wrap(&src, values, "d", 8, 2, shape2, NULL);
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "+w:8", "", 3, 1, 1);
    size = tensor_metadata(want, "{\"shape\":[8]}");
    cr_assert(memcmp(s.metadata, want, size) == 0);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    finish();
}

TEST(export_subarray_items_add_dimensions)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int16_t values[24];
    source src;
    xbuf_mview *m = wrap1(&src, values, "(2,3)h", 12, 4);
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
    check_node(&s, &a, "+w:2", "", 4, 1, 1);
    check_node(s.children[0], a.children[0], "+w:3", "item", 8, 1, 1);
    check_node(s.children[0]->children[0], a.children[0]->children[0], "s", "item", 24, 2, 0);
    cr_assert_eq(a.children[0]->children[0]->buffers[1], (const void *)values);
    release_both(&s, &a);
    /* a 2-d view of sub-arrays: the view's and the item's dimensions make
     * one tensor shape */
    ptrdiff_t shape[2] = {2, 2};
    xbuf_mview_unref(m);
    m = wrap(&src, values, "3h", 6, 2, shape, NULL);
    xbuf_arrow_options o = {XBUF_ARROW_ND_TENSOR, XBUF_ARROW_RECORDS_BINARY, false, NULL};
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "+w:6", "", 2, 1, 1);
    char want[256];
    size_t size = tensor_metadata(want, "{\"shape\":[2,3]}");
    cr_assert(memcmp(s.metadata, want, size) == 0);
    check_node(s.children[0], a.children[0], "s", "item", 12, 2, 0);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    finish();
}

/* ==== export: records ========================================================== */

#pragma pack(push, 1)
typedef struct rec {
    int32_t a;
    uint8_t flag;
    unsigned char big[2]; /* a foreign-order int16 */
    float v[3];
} rec;
#pragma pack(pop)

#define REC_FORMAT "=i:a:?:flag:" FOREIGN "h:big:=3f:v:"

static void fill_recs(rec *r, int n)
{
    for (int i = 0; i < n; i++) {
        r[i].a = 100 + i;
        r[i].flag = (uint8_t)(i % 3 == 0);
        int16_t b = (int16_t)(-7 * i);
        unsigned char bytes[2];
        memcpy(bytes, &b, 2);
        r[i].big[0] = bytes[1];
        r[i].big[1] = bytes[0];
        for (int k = 0; k < 3; k++)
            r[i].v[k] = (float)i + (float)k / 4;
    }
}

TEST(export_records_as_fixed_size_binary)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    rec r[5];
    fill_recs(r, 5);
    source src;
    xbuf_mview *m = wrap1(&src, r, REC_FORMAT, sizeof(rec), 5);
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
    check_node(&s, &a, "w:19", "", 5, 2, 0);
    cr_assert_eq(a.buffers[1], (const void *)r);
    release_both(&s, &a);
    /* padding the format leaves unwritten (NumPy's) is part of each record */
    xbuf_mview_unref(m);
    m = wrap1(&src, r, "T{i:a:h:b:}", 8, 2);
    MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
    check_node(&s, &a, "w:8", "", 2, 2, 0);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    cr_assert_eq(src.releases, 1);
    finish();
}

TEST(export_records_as_struct_of_arrays)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    rec r[10];
    fill_recs(r, 10);
    source src;
    xbuf_mview *m = wrap1(&src, r, REC_FORMAT, sizeof(rec), 10);
    xbuf_arrow_options o = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_STRUCT, false, "r"};
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    cr_assert_eq(xbuf_mview_exports(m), 0, "a tree of copies holds the export");
    check_node(&s, &a, "+s", "r", 10, 1, 4);
    /* a: int32, copied */
    check_node(s.children[0], a.children[0], "i", "a", 10, 2, 0);
    const int32_t *as = a.children[0]->buffers[1];
    cr_assert_neq((const void *)as, (const void *)r);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(as[i], 100 + i);
    /* flag: bit-packed */
    check_node(s.children[1], a.children[1], "b", "flag", 10, 2, 0);
    const uint8_t *bits = a.children[1]->buffers[1];
    for (int i = 0; i < 10; i++)
        cr_assert_eq((bits[i / 8] >> (i % 8)) & 1, i % 3 == 0 ? 1 : 0, "bit %d", i);
    cr_assert_eq(bits[1] >> 2, 0, "the bits past the end are not zero");
    /* big: swapped into native order */
    check_node(s.children[2], a.children[2], "s", "big", 10, 2, 0);
    const int16_t *bigs = a.children[2]->buffers[1];
    for (int i = 0; i < 10; i++)
        cr_assert_eq(bigs[i], -7 * i);
    /* v: a fixed-size list of 3 floats */
    check_node(s.children[3], a.children[3], "+w:3", "v", 10, 1, 1);
    check_node(s.children[3]->children[0], a.children[3]->children[0], "f", "item", 30, 2, 0);
    const float *vs = a.children[3]->children[0]->buffers[1];
    for (int i = 0; i < 30; i++)
        cr_assert_eq(vs[i], (float)(i / 3) + (float)(i % 3) / 4);
    cr_assert_eq(spy_schema(&s), 6);
    cr_assert_eq(spy_array(&a), 6);
    release_both(&s, &a);
    assert_each_released_once();
    xbuf_mview_unref(m);
    cr_assert_eq(src.releases, 1);
    finish();
}

TEST(export_struct_of_arrays_unnamed_nested_and_nd)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    /* "ii": unnamed fields are f0, f1; a 2-d view is a list of structs */
    int32_t pairs[12];
    for (int i = 0; i < 12; i++)
        pairs[i] = i;
    ptrdiff_t shape[2] = {2, 3};
    source src;
    xbuf_mview *m = wrap(&src, pairs, "ii", 8, 2, shape, NULL);
    xbuf_arrow_options o = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_STRUCT, false, NULL};
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "+w:3", "", 2, 1, 1);
    struct ArrowSchema *ss = s.children[0];
    struct ArrowArray *sa = a.children[0];
    check_node(ss, sa, "+s", "item", 6, 1, 2);
    check_node(ss->children[0], sa->children[0], "i", "f0", 6, 2, 0);
    check_node(ss->children[1], sa->children[1], "i", "f1", 6, 2, 0);
    const int32_t *f1 = sa->children[1]->buffers[1];
    for (int i = 0; i < 6; i++)
        cr_assert_eq(f1[i], 2 * i + 1);
    release_both(&s, &a);
    xbuf_mview_unref(m);

    /* a nested record splits too; a sub-array field follows the nd option */
    int16_t nested[4 * 8];
    for (int i = 0; i < 32; i++)
        nested[i] = (int16_t)i;
    m = wrap1(&src, nested, "T{h:x:T{h:p:h:q:}:inner:(2,2)h:t:}", 14, 4);
    o.nd = XBUF_ARROW_ND_TENSOR;
    /* 14-byte records: the views' memory is 4 * 14 = 56 bytes of 64 */
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "+s", "", 4, 1, 3);
    check_node(s.children[0], a.children[0], "s", "x", 4, 2, 0);
    check_node(s.children[1], a.children[1], "+s", "inner", 4, 1, 2);
    check_node(s.children[1]->children[1], a.children[1]->children[1], "s", "q", 4, 2, 0);
    const int16_t *q = a.children[1]->children[1]->buffers[1];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(q[i], 7 * i + 2);
    check_node(s.children[2], a.children[2], "+w:4", "t", 4, 1, 1);
    char want[256];
    size_t size = tensor_metadata(want, "{\"shape\":[2,2]}");
    cr_assert(memcmp(s.children[2]->metadata, want, size) == 0);
    const int16_t *t = a.children[2]->children[0]->buffers[1];
    for (int i = 0; i < 16; i++)
        cr_assert_eq(t[i], 7 * (i / 4) + 3 + i % 4);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    finish();
}

/* ==== export: copies on request ================================================= */

TEST(export_allow_copy_gathers_packs_and_swaps)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_arrow_options o = XBUF_ARROW_OPTIONS_INIT;
    o.allow_copy = true;
    struct ArrowSchema s;
    struct ArrowArray a;
    source src;

    /* every other int of 8: not contiguous */
    int32_t values[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ptrdiff_t n = 4, stride = 8;
    xbuf_mview *m = wrap(&src, values, "i", 4, 1, &n, &stride);
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    cr_assert_eq(xbuf_mview_exports(m), 0, "a copy holds the export");
    check_node(&s, &a, "i", "", 4, 2, 0);
    const int32_t *got = a.buffers[1];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(got[i], 2 * i);
    release_both(&s, &a);
    xbuf_mview_unref(m);

    /* a transposed 2-d view: gathered in C order of the view */
    ptrdiff_t shape[2] = {2, 4}, strides[2] = {4, 8};
    m = wrap(&src, values, "i", 4, 2, shape, strides);
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "+w:4", "", 2, 1, 1);
    got = a.children[0]->buffers[1];
    int32_t want[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(got[i], want[i]);
    release_both(&s, &a);
    xbuf_mview_unref(m);

    /* bools */
    uint8_t flags[9] = {1, 0, 0, 1, 1, 0, 0, 0, 1};
    m = wrap1(&src, flags, "?", 1, 9);
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "b", "", 9, 2, 0);
    const uint8_t *bits = a.buffers[1];
    cr_assert_eq(bits[0], 0x19);
    cr_assert_eq(bits[1], 0x01);
    release_both(&s, &a);
    xbuf_mview_unref(m);

    /* a foreign byte order */
    unsigned char be[8] = {0};
    be[3] = 1; /* foreign-order 1 at [0] */
    be[4] = 2; /* and 2 << 24 at [1] */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    be[0] = 1, be[3] = 0, be[7] = 2, be[4] = 0;
#endif
    m = wrap1(&src, be, FOREIGN "i", 4, 2);
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    check_node(&s, &a, "i", "", 2, 2, 0);
    got = a.buffers[1];
    cr_assert_eq(got[0], 1);
    cr_assert_eq(got[1], 2 << 24);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    finish();
}

/* ==== export: refusals ============================================================ */

static void assert_export_refused(xbuf_mview *m, const xbuf_arrow_options *o, int code,
                                  const char *needle)
{
    xbuf_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    memset(&s, 0x5a, sizeof s);
    memset(&a, 0x5a, sizeof a);
    ptrdiff_t before = xbuf_mview_exports(m);
    FAILS(xbuf_arrow_export(m, o, &s, &a, &err), code);
    SAYS(needle);
    assert_zeroed(&s, &a);
    cr_assert_eq(xbuf_mview_exports(m), before, "a failed export kept an export");
}

TEST(export_refusals_say_why)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    _Alignas(16) unsigned char memory[256] = {0};
    source src;
    xbuf_arrow_options soa = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_STRUCT, false,
                              NULL};
    struct {
        const char *format;
        ptrdiff_t itemsize;
        const xbuf_arrow_options *options;
        const char *needle;
    } cases[] = {
        {"?", 1, NULL, "booleans"},
        {FOREIGN "i", 4, NULL, "byte order"},
        {FOREIGN "d", 8, NULL, "byte order"},
        {"Zd", 16, NULL, "complex"},
        {"P", (ptrdiff_t)sizeof(void *), NULL, "pointers"},
        {"O", (ptrdiff_t)sizeof(void *), NULL, "objects"},
        {"&i", (ptrdiff_t)sizeof(void *), NULL, "pointers"},
        {"g", (ptrdiff_t)sizeof(long double), NULL, "long double"},
        {"2u", 4, NULL, "UCS-2"},
        {"3w", 12, NULL, "UCS-4"},
        {"4p", 4, NULL, "Pascal"},
        {"i", 8, NULL, "itemsize 8"},
        {"T{i:a:i:b:}", 4, NULL, "do not fit"},
        {"T{i:a:Zf:z:}", 12, &soa, "field 'z': Arrow has no type for complex"},
        {"T{i:a:T{3t:bits:B:c:}:n:}", 8, &soa, "field 'n': field 'bits'"},
        {"(2)?", 2, NULL, "booleans"},
    };
    for (int k = 0; k < COUNT(cases); k++) {
        xbuf_mview *m = wrap1(&src, memory, cases[k].format, cases[k].itemsize, 3);
        assert_export_refused(m, cases[k].options, XBUF_EUNSUPPORTED, cases[k].needle);
        xbuf_mview_unref(m);
        cr_assert_eq(src.releases, 1, "%s: the source was not given back", cases[k].format);
    }

    /* not C-contiguous: strided, and F-ordered */
    ptrdiff_t n = 3, stride = 8;
    xbuf_mview *m = wrap(&src, memory, "i", 4, 1, &n, &stride);
    assert_export_refused(m, NULL, XBUF_EUNSUPPORTED, "not C-contiguous");
    xbuf_mview_unref(m);
    ptrdiff_t shape[2] = {2, 3}, fstrides[2] = {4, 8};
    m = wrap(&src, memory, "i", 4, 2, shape, fstrides);
    assert_export_refused(m, NULL, XBUF_EUNSUPPORTED, "not C-contiguous");
    xbuf_mview_unref(m);

    /* PIL-style */
    unsigned char *rows[2] = {memory, memory + 64};
    ptrdiff_t pshape[2] = {2, 4}, pstrides[2] = {sizeof(void *), 1}, sub[2] = {0, -1};
    xbuf_view v = {.buf = rows, .obj = &src, .len = 8, .itemsize = 1, .ndim = 2,
                   .format = "B", .shape = pshape, .strides = pstrides, .suboffsets = sub,
                   .release = source_release};
    src.releases = 0;
    MUST(xbuf_mview_from_view(&v, &m, &err));
    assert_export_refused(m, NULL, XBUF_EUNSUPPORTED, "suboffsets");
    xbuf_arrow_options copy = XBUF_ARROW_OPTIONS_INIT;
    copy.allow_copy = true;
    assert_export_refused(m, &copy, XBUF_EUNSUPPORTED, "suboffsets");
    xbuf_mview_unref(m);
    cr_assert_eq(src.releases, 1);

    /* a format that does not parse */
    m = wrap1(&src, memory, "T{i", 4, 2);
    assert_export_refused(m, NULL, XBUF_EFORMAT, "");
    xbuf_mview_unref(m);
    finish();
}

TEST(export_argument_errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t values[4] = {0};
    source src;
    xbuf_mview *m = wrap1(&src, values, "i", 4, 4);
    struct ArrowSchema s;
    struct ArrowArray a;
    FAILS(xbuf_arrow_export(NULL, NULL, &s, &a, &err), XBUF_EINVAL);
    assert_zeroed(&s, &a);
    FAILS(xbuf_arrow_export(m, NULL, NULL, &a, &err), XBUF_EINVAL);
    FAILS(xbuf_arrow_export(m, NULL, &s, NULL, &err), XBUF_EINVAL);
    xbuf_arrow_options bad = XBUF_ARROW_OPTIONS_INIT;
    bad.nd = (xbuf_arrow_nd)7;
    assert_export_refused(m, &bad, XBUF_EINVAL, "xbuf_arrow_nd");
    bad.nd = XBUF_ARROW_ND_TENSOR;
    bad.records = (xbuf_arrow_records)-1;
    assert_export_refused(m, &bad, XBUF_EINVAL, "xbuf_arrow_records");
    /* without an error struct */
    cr_assert_eq(xbuf_arrow_export(NULL, NULL, &s, &a, NULL), XBUF_EINVAL);
    xbuf_mview_unref(m);
    finish();
}

/* ==== export: release semantics ====================================================== */

TEST(moved_child_array_outlives_its_parent)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t values[24];
    for (int i = 0; i < 24; i++)
        values[i] = i;
    ptrdiff_t shape[3] = {4, 2, 3};
    source src;
    xbuf_mview *m = wrap(&src, values, "i", 4, 3, shape, NULL);
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, NULL, &s, &a, &err));
    xbuf_mview_unref(m);
    spy_schema(&s);
    spy_array(&a);

    /* move the middle level out of both trees, then release the parents */
    struct ArrowSchema child_s;
    struct ArrowArray child_a;
    xbuf_arrow_schema_move(s.children[0], &child_s);
    xbuf_arrow_array_move(a.children[0], &child_a);
    cr_assert_null(s.children[0]->release, "the moved-from slot is not marked released");
    cr_assert_null(a.children[0]->release);
    release_both(&s, &a);
    cr_assert_eq(spies[0].calls, 1);
    cr_assert_eq(spies[1].calls, 0, "the parent released a moved child");
    cr_assert_eq(src.releases, 0, "the memory went back while a moved child points at it");

    /* the moved child is whole: strings, grandchild, data */
    check_node(&child_s, &child_a, "+w:3", "item", 8, 1, 1);
    check_node(child_s.children[0], child_a.children[0], "i", "item", 24, 2, 0);
    const int32_t *data = child_a.children[0]->buffers[1];
    cr_assert_eq(data[23], 23);
    release_both(&child_s, &child_a);
    assert_each_released_once();
    cr_assert_eq(src.releases, 1);
    finish();
}

TEST(moved_struct_field_outlives_its_parent)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    rec r[3];
    fill_recs(r, 3);
    source src;
    xbuf_mview *m = wrap1(&src, r, REC_FORMAT, sizeof(rec), 3);
    xbuf_arrow_options o = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_STRUCT, false, NULL};
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    xbuf_mview_unref(m);
    cr_assert_eq(src.releases, 1, "a tree of copies kept the source");
    spy_schema(&s);
    spy_array(&a);
    /* keep columns 0 and 3 only, as the spec's use case does */
    struct ArrowSchema keep_s[2];
    struct ArrowArray keep_a[2];
    xbuf_arrow_schema_move(s.children[0], &keep_s[0]);
    xbuf_arrow_array_move(a.children[0], &keep_a[0]);
    xbuf_arrow_schema_move(s.children[3], &keep_s[1]);
    xbuf_arrow_array_move(a.children[3], &keep_a[1]);
    release_both(&s, &a);
    const int32_t *as = keep_a[0].buffers[1];
    cr_assert_eq(as[2], 102);
    cr_assert_str_eq(keep_s[1].name, "v");
    const float *vs = keep_a[1].children[0]->buffers[1];
    cr_assert_eq(vs[8], 2.5f);
    release_both(&keep_s[0], &keep_a[0]);
    release_both(&keep_s[1], &keep_a[1]);
    assert_each_released_once();
    finish();
}

TEST(move_helpers_ignore_null_and_self)
{
    struct ArrowArray a = {.release = NULL};
    struct ArrowSchema s = {.release = NULL};
    xbuf_arrow_array_move(NULL, &a);
    xbuf_arrow_array_move(&a, NULL);
    xbuf_arrow_array_move(&a, &a);
    xbuf_arrow_schema_move(NULL, &s);
    xbuf_arrow_schema_move(&s, NULL);
    xbuf_arrow_schema_move(&s, &s);
    finish();
}

/* ==== import: hand-built arrays ======================================================= */

#define LEVELS 4

typedef struct hand {
    struct ArrowSchema schema[LEVELS];
    struct ArrowArray array[LEVELS];
    struct ArrowSchema *schema_child[LEVELS];
    struct ArrowArray *array_child[LEVELS];
    const void *buffers[LEVELS][2];
    char format[LEVELS][32];
    int schema_releases, array_releases; /* calls, over every level */
} hand;

static void hand_schema_release(struct ArrowSchema *s)
{
    for (int64_t i = 0; i < s->n_children; i++) /* tests break children: NULL is skipped */
        if (s->children[i] != NULL && s->children[i]->release != NULL)
            s->children[i]->release(s->children[i]);
    ((hand *)s->private_data)->schema_releases++;
    s->release = NULL;
}

static void hand_array_release(struct ArrowArray *a)
{
    for (int64_t i = 0; i < a->n_children; i++)
        if (a->children[i] != NULL && a->children[i]->release != NULL)
            a->children[i]->release(a->children[i]);
    ((hand *)a->private_data)->array_releases++;
    a->release = NULL;
}

/*
 * Levels 0 .. n-1: each of `formats` but the last is a fixed-size list
 * ("+w:k") whose child is the next level; the last is the values, at
 * `data`.  lengths[i] is level i's length.  Nothing is NULL-able here;
 * tests break one field afterwards.
 */
static void hand_build(hand *h, int n, const char *const *formats, const int64_t *lengths,
                       const void *data)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < n; i++) {
        bool leaf = i == n - 1;
        snprintf(h->format[i], sizeof h->format[i], "%s", formats[i]);
        h->schema_child[i] = leaf ? NULL : &h->schema[i + 1];
        h->array_child[i] = leaf ? NULL : &h->array[i + 1];
        h->buffers[i][0] = NULL;
        h->buffers[i][1] = leaf ? data : NULL;
        h->schema[i] = (struct ArrowSchema){
            .format = h->format[i],
            .name = "",
            .n_children = leaf ? 0 : 1,
            .children = leaf ? NULL : &h->schema_child[i],
            .release = hand_schema_release,
            .private_data = h,
        };
        h->array[i] = (struct ArrowArray){
            .length = lengths[i],
            .null_count = 0,
            .n_buffers = leaf ? 2 : 1,
            .n_children = leaf ? 0 : 1,
            .buffers = h->buffers[i],
            .children = leaf ? NULL : &h->array_child[i],
            .release = hand_array_release,
            .private_data = h,
        };
    }
}

static void hand_primitive(hand *h, const char *format, int64_t length, const void *data)
{
    hand_build(h, 1, &format, &length, data);
}

static const xbuf_view *V(const xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    cr_assert_not_null(v);
    return v;
}

static void assert_layout(const xbuf_mview *m, const char *format, ptrdiff_t itemsize, int ndim,
                          const ptrdiff_t *shape, const ptrdiff_t *strides, const void *buf)
{
    const xbuf_view *v = V(m);
    cr_assert_str_eq(v->format, format);
    cr_assert_eq(v->itemsize, itemsize);
    cr_assert_eq(v->ndim, ndim);
    cr_assert_eq(v->readonly, 1, "an imported view is writable");
    cr_assert_eq(v->buf, buf);
    for (int i = 0; i < ndim; i++) {
        cr_assert_eq(v->shape[i], shape[i], "extent %d: %td, expected %td", i, v->shape[i],
                     shape[i]);
        cr_assert_eq(v->strides[i], strides[i], "stride %d: %td, expected %td", i,
                     v->strides[i], strides[i]);
    }
}

TEST(import_every_primitive_format)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    struct {
        const char *arrow, *format;
        ptrdiff_t itemsize;
    } cases[] = {
        {"c", "b", 1}, {"C", "B", 1}, {"s", "h", 2}, {"S", "H", 2}, {"i", "i", 4},
        {"I", "I", 4}, {"l", "q", 8}, {"L", "Q", 8}, {"e", "e", 2}, {"f", "f", 4},
        {"g", "d", 8}, {"w:3", "3s", 3}, {"w:1", "1s", 1},
    };
    _Alignas(16) unsigned char memory[64] = {0};
    for (int k = 0; k < COUNT(cases); k++) {
        hand h;
        hand_primitive(&h, cases[k].arrow, 5, memory);
        xbuf_mview *m = JUNK;
        MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
        ptrdiff_t shape = 5;
        assert_layout(m, cases[k].format, cases[k].itemsize, 1, &shape, &cases[k].itemsize,
                      memory);
        cr_assert_null(h.array[0].release, "the caller's array was not marked moved");
        cr_assert_not_null(h.schema[0].release, "the schema was taken");
        cr_assert_eq(h.array_releases, 0);
        xbuf_mview_unref(m);
        cr_assert_eq(h.array_releases, 1, "%s: release called %d times", cases[k].arrow,
                     h.array_releases);
        cr_assert_eq(h.schema_releases, 0);
        h.schema[0].release(&h.schema[0]);
        cr_assert_eq(h.schema_releases, 1);
    }
    finish();
}

TEST(import_fixed_size_lists_as_dimensions)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t values[24];
    for (int i = 0; i < 24; i++)
        values[i] = i;
    hand h;
    const char *f2[] = {"+w:3", "i"};
    int64_t l2[] = {8, 24};
    hand_build(&h, 2, f2, l2, values);
    xbuf_mview *m;
    MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
    ptrdiff_t shape2[2] = {8, 3}, strides2[2] = {12, 4};
    assert_layout(m, "i", 4, 2, shape2, strides2, values);
    xbuf_mview_unref(m);
    cr_assert_eq(h.array_releases, 2, "each level's release once");
    h.schema[0].release(&h.schema[0]);

    const char *f3[] = {"+w:2", "+w:3", "i"};
    int64_t l3[] = {4, 8, 24};
    hand_build(&h, 3, f3, l3, values);
    MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
    ptrdiff_t shape3[3] = {4, 2, 3}, strides3[3] = {24, 12, 4};
    assert_layout(m, "i", 4, 3, shape3, strides3, values);
    /* a derived view keeps the array; the original may go first */
    xbuf_mview *row;
    MUST(xbuf_mview_index(m, 0, 3, &row, &err));
    xbuf_mview_unref(m);
    cr_assert_eq(h.array_releases, 0);
    int32_t *p;
    ptrdiff_t idx[2] = {1, 2};
    MUST(xbuf_mview_pointer(row, idx, (void **)&p, &err));
    cr_assert_eq(*p, 23);
    xbuf_mview_unref(row);
    cr_assert_eq(h.array_releases, 3);
    h.schema[0].release(&h.schema[0]);

    /* a child longer than the lists need is fine; nulls counted as absent */
    const char *fw[] = {"+w:2", "w:4"};
    int64_t lw[] = {3, 7};
    hand_build(&h, 2, fw, lw, values);
    uint8_t valid[1] = {0x07};
    h.array[0].null_count = -1;
    h.buffers[0][0] = valid;
    MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
    ptrdiff_t shapew[2] = {3, 2}, stridesw[2] = {8, 4};
    assert_layout(m, "4s", 4, 2, shapew, stridesw, values);
    /* release through xbuf_mview_release, then unref */
    MUST(xbuf_mview_release(m, &err));
    cr_assert_eq(h.array_releases, 2);
    xbuf_mview_unref(m);
    cr_assert_eq(h.array_releases, 2);
    h.schema[0].release(&h.schema[0]);
    finish();
}

TEST(import_fixed_shape_tensor)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int32_t values[24];
    char meta[256];
    hand h;
    const char *f[] = {"+w:6", "i"};
    int64_t l[] = {4, 24};
    struct {
        const char *json;
        int ndim;
        ptrdiff_t shape[4], strides[4];
    } cases[] = {
        {"{\"shape\":[2,3]}", 3, {4, 2, 3}, {24, 12, 4}},
        {" { \"dim_names\" : [\"H\", \"W\"], \"shape\" : [ 2 , 3 ] , \"x\": {\"y\": [1, "
         "null, true, -2.5e3, \"a\\\"b\"]} } ",
         3, {4, 2, 3}, {24, 12, 4}},
        {"{\"shape\":[2,3],\"permutation\":[1,0]}", 3, {4, 3, 2}, {24, 4, 12}},
        {"{\"shape\":[6],\"permutation\":[0]}", 2, {4, 6}, {24, 4}},
        {"{\"shape\":[1,6,1]}", 4, {4, 1, 6, 1}, {24, 24, 4, 4}},
    };
    for (int k = 0; k < COUNT(cases); k++) {
        hand_build(&h, 2, f, l, values);
        tensor_metadata(meta, cases[k].json);
        h.schema[0].metadata = meta;
        xbuf_mview *m;
        MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
        assert_layout(m, "i", 4, cases[k].ndim, cases[k].shape, cases[k].strides, values);
        xbuf_mview_unref(m);
        cr_assert_eq(h.array_releases, 2);
    }
    /* another extension is read as its storage */
    hand_build(&h, 2, f, l, values);
    const char *kv[] = {"ARROW:extension:name", "my.thing", "ARROW:extension:metadata", "?"};
    metadata_bytes(meta, 2, kv);
    h.schema[0].metadata = meta;
    xbuf_mview *m;
    MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
    ptrdiff_t shape[2] = {4, 6}, strides[2] = {24, 4};
    assert_layout(m, "i", 4, 2, shape, strides, values);
    xbuf_mview_unref(m);
    finish();
}

/* A refusal leaves every level of the hand-built structs as it was. */
static void assert_import_refused(hand *h, int code, const char *needle)
{
    xbuf_error err;
    hand before;
    memcpy(&before, h, sizeof before);
    xbuf_mview *m = JUNK;
    FAILS(xbuf_arrow_import(&h->schema[0], &h->array[0], &m, &err), code);
    SAYS(needle);
    cr_assert_null(m, "*out not set to NULL on failure");
    cr_assert(memcmp(&before, h, sizeof before) == 0, "a failed import changed the structs");
    cr_assert_eq(h->array_releases, 0, "a failed import released the array");
    cr_assert_eq(h->schema_releases, 0, "a failed import released the schema");
    cr_assert_not_null(h->array[0].release);
    h->array[0].release(&h->array[0]);
    h->schema[0].release(&h->schema[0]);
}

TEST(import_refusals_say_why_and_touch_nothing)
{
    int32_t values[32] = {0};
    hand h;
    const char *refused[][2] = {
        {"b", "bit-packed"},      {"u", "offsets"},   {"z", "offsets"},   {"U", "offsets"},
        {"vu", "offsets"},        {"n", "null type"}, {"d:10,2", "decimal"},
        {"tdD", "temporal"},      {"tsu:UTC", "temporal"}, {"x", "unknown"},
        {"", "unknown"},          {"ii", "unknown"},
    };
    for (int k = 0; k < COUNT(refused); k++) {
        hand_primitive(&h, refused[k][0], 4, values);
        assert_import_refused(&h, XBUF_EUNSUPPORTED, refused[k][1]);
    }
    const char *nested[][2] = {{"+l", "offsets"}, {"+L", "offsets"}, {"+vl", "offsets"},
                               {"+s", "struct"},  {"+m", "nested"},  {"+us:0,1", "nested"}};
    for (int k = 0; k < COUNT(nested); k++) {
        const char *f[] = {nested[k][0], "i"};
        int64_t l[] = {4, 4};
        hand_build(&h, 2, f, l, values);
        assert_import_refused(&h, XBUF_EUNSUPPORTED, nested[k][1]);
    }

    /* nulls */
    hand_primitive(&h, "i", 8, values);
    h.array[0].null_count = 2;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "2 null item");
    uint8_t valid[2] = {0xff, 0x00};
    hand_primitive(&h, "i", 10, values);
    h.array[0].null_count = -1;
    h.buffers[0][0] = valid;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "2 null item");
    const char *f2[] = {"+w:2", "i"};
    int64_t l2[] = {4, 8};
    hand_build(&h, 2, f2, l2, values);
    h.array[1].null_count = 1;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "1 null item");
    hand_primitive(&h, "i", 8, values);
    h.array[0].null_count = -2;
    assert_import_refused(&h, XBUF_EINVAL, "null_count");

    /* offsets, dictionaries */
    hand_primitive(&h, "i", 4, values);
    h.array[0].offset = 1;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "offset");
    hand_build(&h, 2, f2, l2, values);
    h.array[1].offset = 2;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "offset");
    struct ArrowSchema dict_s = {.format = "u", .release = hand_schema_release,
                                 .private_data = NULL};
    hand_primitive(&h, "i", 4, values);
    h.schema[0].dictionary = &dict_s;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "dictionary");
    struct ArrowArray dict_a = {.release = NULL};
    hand_primitive(&h, "s", 4, values);
    h.array[0].dictionary = &dict_a;
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "dictionary");

    /* malformed structs */
    hand_primitive(&h, "i", 4, values);
    h.array[0].n_buffers = 3;
    assert_import_refused(&h, XBUF_EINVAL, "buffers");
    hand_build(&h, 2, f2, l2, values);
    h.array[0].n_buffers = 2;
    assert_import_refused(&h, XBUF_EINVAL, "buffers");
    hand_primitive(&h, "i", 4, values);
    h.array[0].buffers = NULL;
    assert_import_refused(&h, XBUF_EINVAL, "buffers");
    hand_primitive(&h, "i", 4, NULL);
    assert_import_refused(&h, XBUF_EINVAL, "NULL");
    hand_build(&h, 2, f2, l2, values);
    h.array[0].n_children = 0;
    assert_import_refused(&h, XBUF_EINVAL, "children");
    hand_build(&h, 2, f2, l2, values);
    h.schema_child[0] = NULL;
    assert_import_refused(&h, XBUF_EINVAL, "NULL");
    hand_build(&h, 2, f2, l2, values);
    h.array[1].length = 7;
    assert_import_refused(&h, XBUF_EINVAL, "needs 8");
    hand_primitive(&h, "i", -1, values);
    assert_import_refused(&h, XBUF_EINVAL, "negative");
    hand_primitive(&h, "i", 4, values);
    h.schema[0].format = NULL;
    assert_import_refused(&h, XBUF_EINVAL, "no format");
    const char *bad_lists[] = {"+w:", "+w:x", "+w:-1", "+w:99999999999999999999"};
    for (int k = 0; k < COUNT(bad_lists); k++) {
        const char *f[] = {bad_lists[k], "i"};
        hand_build(&h, 2, f, l2, values);
        assert_import_refused(&h, XBUF_EINVAL, "malformed");
    }
    hand_primitive(&h, "w:0", 4, values);
    assert_import_refused(&h, XBUF_EUNSUPPORTED, "width 0");
    hand_primitive(&h, "w:2x", 4, values);
    assert_import_refused(&h, XBUF_EINVAL, "malformed");

    /* sizes that overflow */
    hand_primitive(&h, "l", INT64_MAX / 4, values);
    assert_import_refused(&h, XBUF_EOVERFLOW, "overflow");
    const char *fo[] = {"+w:4611686018427387904", "C"};
    int64_t lo[] = {4, INT64_MAX};
    hand_build(&h, 2, fo, lo, values);
    assert_import_refused(&h, XBUF_EOVERFLOW, "overflow");

    finish();
}

TEST(import_refuses_malformed_tensors)
{
    int32_t values[24] = {0};
    char meta[256];
    hand h;
    const char *f[] = {"+w:6", "i"};
    int64_t l[] = {4, 24};
    const char *bad[][2] = {
        {"{\"shape\":[2,2]}", "holds 4 items"},
        {"{\"shape\":[2,3],\"permutation\":[0,0]}", "permutation"},
        {"{\"shape\":[2,3],\"permutation\":[0]}", "permutation"},
        {"{\"shape\":[2,3],\"permutation\":[1,2]}", "permutation"},
        {"{\"dim_names\":[\"a\",\"b\"]}", "\"shape\""},
        {"{\"shape\":[2,-3]}", "malformed"},
        {"{\"shape\":[2,3]", "malformed"},
        {"{\"shape\":[2,3]} x", "malformed"},
        {"[2,3]", "malformed"},
        {"", "malformed"},
        {"{\"shape\":[2,3],\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "malformed"},
        {"{\"shape\":[2,3],\"x\":\"unterminated}", "malformed"},
    };
    for (int k = 0; k < COUNT(bad); k++) {
        hand_build(&h, 2, f, l, values);
        tensor_metadata(meta, bad[k][0]);
        h.schema[0].metadata = meta;
        assert_import_refused(&h, XBUF_EINVAL, bad[k][1]);
    }
    /* the extension without its metadata, and on a type that is not a list */
    hand_build(&h, 2, f, l, values);
    const char *kv[] = {"ARROW:extension:name", "arrow.fixed_shape_tensor"};
    metadata_bytes(meta, 1, kv);
    h.schema[0].metadata = meta;
    assert_import_refused(&h, XBUF_EINVAL, "without ARROW:extension:metadata");
    hand_primitive(&h, "i", 4, values);
    tensor_metadata(meta, "{\"shape\":[1]}");
    h.schema[0].metadata = meta;
    assert_import_refused(&h, XBUF_EINVAL, "fixed-size list");
    /* negative metadata counts */
    hand_build(&h, 2, f, l, values);
    int32_t minus = -1;
    memcpy(meta, &minus, 4);
    h.schema[0].metadata = meta;
    assert_import_refused(&h, XBUF_EINVAL, "metadata");
    finish();
}

TEST(import_refuses_too_many_dimensions)
{
    /* 64 nested lists of 1 under a length-1 array: 65 dimensions */
    static struct ArrowSchema s[65];
    static struct ArrowArray a[65];
    static struct ArrowSchema *sc[65];
    static struct ArrowArray *ac[65];
    static const void *buffers[65][2];
    int32_t value = 5;
    hand counter;
    memset(&counter, 0, sizeof counter);
    for (int i = 0; i < 65; i++) {
        bool leaf = i == 64;
        sc[i] = leaf ? NULL : &s[i + 1];
        ac[i] = leaf ? NULL : &a[i + 1];
        buffers[i][1] = leaf ? &value : NULL;
        s[i] = (struct ArrowSchema){.format = leaf ? "i" : "+w:1", .name = "",
                                    .n_children = leaf ? 0 : 1, .children = leaf ? NULL : &sc[i],
                                    .release = hand_schema_release, .private_data = &counter};
        a[i] = (struct ArrowArray){.length = 1, .n_buffers = leaf ? 2 : 1,
                                   .n_children = leaf ? 0 : 1, .buffers = buffers[i],
                                   .children = leaf ? NULL : &ac[i],
                                   .release = hand_array_release, .private_data = &counter};
    }
    xbuf_error err;
    xbuf_mview *m;
    FAILS(xbuf_arrow_import(&s[0], &a[0], &m, &err), XBUF_EUNSUPPORTED);
    SAYS("more than 64");
    cr_assert_eq(counter.array_releases, 0);
    /* 63 lists: 64 dimensions are fine */
    MUST(xbuf_arrow_import(&s[1], &a[1], &m, &err));
    cr_assert_eq(V(m)->ndim, 64);
    xbuf_mview_unref(m);
    cr_assert_eq(counter.array_releases, 64);
    a[0].release(&a[0]); /* its child slot is released already */
    s[0].release(&s[0]);
    finish();
}

TEST(import_argument_errors)
{
    xbuf_error err;
    int32_t values[4] = {0};
    hand h;
    hand_primitive(&h, "i", 4, values);
    xbuf_mview *m = JUNK;
    FAILS(xbuf_arrow_import(&h.schema[0], &h.array[0], NULL, &err), XBUF_EINVAL);
    FAILS(xbuf_arrow_import(NULL, &h.array[0], &m, &err), XBUF_EINVAL);
    cr_assert_null(m);
    FAILS(xbuf_arrow_import(&h.schema[0], NULL, &m, &err), XBUF_EINVAL);
    h.array[0].release = NULL;
    xbuf_error_clear(&err);
    FAILS(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err), XBUF_EINVAL);
    SAYS("released");
    cr_assert_eq(h.schema_releases, 0);
    h.schema[0].release(&h.schema[0]);
    hand_primitive(&h, "i", 4, values);
    h.schema[0].release = NULL;
    xbuf_error_clear(&err);
    FAILS(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err), XBUF_EINVAL);
    SAYS("released");
    cr_assert_not_null(h.array[0].release);
    h.array[0].release(&h.array[0]);
    /* an empty array may have no data buffer at all */
    hand_primitive(&h, "g", 0, NULL);
    MUST(xbuf_arrow_import(&h.schema[0], &h.array[0], &m, &err));
    cr_assert_eq(V(m)->len, 0);
    xbuf_mview_unref(m);
    h.schema[0].release(&h.schema[0]);
    cr_assert_eq(h.array_releases, 1);
    finish();
}

/* ==== round trips ========================================================================= */

static void round_trip(xbuf_mview *m, const xbuf_arrow_options *o, const char *what)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, o, &s, &a, &err));
    xbuf_mview *back;
    MUST(xbuf_arrow_import(&s, &a, &back, &err));
    cr_assert_null(a.release);
    s.release(&s); /* the schema may go at once */
    bool equal = false;
    MUST(xbuf_equal(V(m), V(back), &equal, &err));
    cr_assert(equal, "%s: the round trip changed the values", what);
    cr_assert_eq(V(back)->buf, V(m)->buf, "%s: the round trip copied", what);
    ptrdiff_t held = xbuf_mview_exports(m);
    cr_assert_eq(held, 1, "%s: the imported view does not hold the export", what);
    xbuf_mview_unref(back);
    cr_assert_eq(xbuf_mview_exports(m), 0, "%s: the export outlived the imported view", what);
}

TEST(round_trips_are_zero_copy_and_equal)
{
    double d[24];
    for (int i = 0; i < 24; i++)
        d[i] = i * 1.5 - 3;
    int16_t h[24];
    for (int i = 0; i < 24; i++)
        h[i] = (int16_t)(i * 300 - 4000);
    source src;
    ptrdiff_t shape3[3] = {4, 2, 3}, shape2[2] = {6, 4};
    xbuf_arrow_options tensor = {XBUF_ARROW_ND_TENSOR, XBUF_ARROW_RECORDS_BINARY, false, NULL};
    struct {
        void *buf;
        const char *format;
        ptrdiff_t itemsize;
        int ndim;
        const ptrdiff_t *shape;
        const xbuf_arrow_options *o;
    } cases[] = {
        {d, "d", 8, 1, (ptrdiff_t[]){24}, NULL}, {d, "d", 8, 3, shape3, NULL},
        {d, "d", 8, 3, shape3, &tensor},         {h, "h", 2, 2, shape2, NULL},
        {h, "h", 2, 2, shape2, &tensor},         {h, "B", 1, 1, (ptrdiff_t[]){48}, NULL},
        {h, "4s", 4, 2, (ptrdiff_t[]){3, 4}, &tensor},
        {d, "q", 8, 2, (ptrdiff_t[]){0, 5}, NULL},
    };
    for (int k = 0; k < COUNT(cases); k++) {
        xbuf_mview *m = wrap(&src, cases[k].buf, cases[k].format, cases[k].itemsize,
                             cases[k].ndim, cases[k].shape, NULL);
        round_trip(m, cases[k].o, cases[k].format);
        xbuf_mview_unref(m);
        cr_assert_eq(src.releases, 1);
    }
    finish();
}

TEST(round_trip_of_struct_of_arrays_is_refused_cleanly)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    rec r[2];
    fill_recs(r, 2);
    source src;
    xbuf_mview *m = wrap1(&src, r, REC_FORMAT, sizeof(rec), 2);
    xbuf_arrow_options o = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_STRUCT, false, NULL};
    struct ArrowSchema s;
    struct ArrowArray a;
    MUST(xbuf_arrow_export(m, &o, &s, &a, &err));
    xbuf_mview *back = JUNK;
    FAILS(xbuf_arrow_import(&s, &a, &back, &err), XBUF_EUNSUPPORTED);
    SAYS("struct");
    cr_assert_null(back);
    release_both(&s, &a);
    xbuf_mview_unref(m);
    finish();
}

/* ==== allocation failure ===================================================================== */

typedef struct sweep_ctx {
    source src;
    void *buf;
    const char *format;
    ptrdiff_t itemsize;
    int ndim;
    ptrdiff_t shape[3];
    const ptrdiff_t *strides;
    xbuf_arrow_options options;
    bool import;           /* import a hand-built array instead of exporting */
    const char *tensor;    /* import: tensor metadata JSON, or NULL */
    xbuf_mview *m, *out;
    struct ArrowSchema s;
    struct ArrowArray a;
    hand h;
    char meta[256];
    int rc;
    xbuf_error err;
} sweep_ctx;

static void sweep_setup(void *ctx)
{
    sweep_ctx *c = ctx;
    c->out = NULL;
    c->m = NULL;
    if (c->import) {
        const char *f[] = {"+w:6", "i"};
        int64_t l[] = {4, 24};
        hand_build(&c->h, 2, f, l, c->buf);
        if (c->tensor != NULL) {
            tensor_metadata(c->meta, c->tensor);
            c->h.schema[0].metadata = c->meta;
        }
        return;
    }
    c->m = wrap(&c->src, c->buf, c->format, c->itemsize, c->ndim, c->shape, c->strides);
}

static int sweep_run(void *ctx)
{
    sweep_ctx *c = ctx;
    xbuf_error_clear(&c->err);
    memset(&c->s, 0x5a, sizeof c->s);
    memset(&c->a, 0x5a, sizeof c->a);
    c->out = JUNK;
    if (c->import)
        c->rc = xbuf_arrow_import(&c->h.schema[0], &c->h.array[0], &c->out, &c->err);
    else
        c->rc = xbuf_arrow_export(c->m, &c->options, &c->s, &c->a, &c->err);
    return c->rc;
}

static const char *sweep_after_failure(void *ctx)
{
    sweep_ctx *c = ctx;
    if (c->err.code != c->rc || c->err.message[0] == '\0')
        return "no error message, or another code";
    if (c->import) {
        if (c->out != NULL)
            return "*out is not NULL after a failure";
        if (c->h.array[0].release == NULL || c->h.array_releases != 0)
            return "a failed import took or released the array";
        return NULL;
    }
    if (c->s.release != NULL || c->a.release != NULL)
        return "a failed export left live structs";
    if (xbuf_mview_exports(c->m) != 0)
        return "a failed export kept an export";
    return NULL;
}

static void sweep_teardown(void *ctx)
{
    sweep_ctx *c = ctx;
    if (c->import) {
        if (c->rc == XBUF_OK)
            xbuf_mview_unref(c->out);
        else
            c->h.array[0].release(&c->h.array[0]);
        cr_assert_eq(c->h.array_releases, 2, "the array was released %d times",
                     c->h.array_releases);
        c->h.schema[0].release(&c->h.schema[0]);
        return;
    }
    if (c->rc == XBUF_OK) {
        c->s.release(&c->s);
        c->a.release(&c->a);
    }
    xbuf_mview_unref(c->m);
    cr_assert_eq(c->src.releases, 1, "the source was released %d times", c->src.releases);
}

static void assert_sweep(sweep_ctx *c, const char *what)
{
    failing_alloc_op op = {sweep_setup, sweep_run, sweep_after_failure, sweep_teardown, c, 1000};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "%s: %ld problem(s); first: %s", what, report.problems, report.message);
    cr_assert_gt(report.points, 0, "%s allocated nothing", what);
}

TEST(allocation_failure_sweeps)
{
    static double d[64];
    static rec r[6];
    static int32_t ints[24];
    static uint8_t bools[8];
    fill_recs(r, 6);
    xbuf_arrow_options plain = XBUF_ARROW_OPTIONS_INIT;
    xbuf_arrow_options tensor = {XBUF_ARROW_ND_TENSOR, XBUF_ARROW_RECORDS_BINARY, false, "t"};
    xbuf_arrow_options soa = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_STRUCT, false,
                              NULL};
    xbuf_arrow_options soa_tensor = {XBUF_ARROW_ND_TENSOR, XBUF_ARROW_RECORDS_STRUCT, false, NULL};
    xbuf_arrow_options copy = {XBUF_ARROW_ND_FIXED_SIZE_LIST, XBUF_ARROW_RECORDS_BINARY, true,
                               NULL};
    static const ptrdiff_t every_other[1] = {16};
    struct {
        void *buf;
        const char *format;
        ptrdiff_t itemsize;
        int ndim;
        ptrdiff_t shape[3];
        const ptrdiff_t *strides;
        const xbuf_arrow_options *o;
        bool import;
        const char *tensor;
        const char *what;
    } cases[] = {
        {d, "d", 8, 1, {8}, NULL, &plain, false, NULL, "export 1-d"},
        {d, "d", 8, 3, {4, 2, 3}, NULL, &plain, false, NULL, "export 3-d lists"},
        {d, "d", 8, 3, {4, 2, 3}, NULL, &tensor, false, NULL, "export 3-d tensor"},
        {r, REC_FORMAT, sizeof(rec), 1, {6}, NULL, &plain, false, NULL, "export records"},
        {r, REC_FORMAT, sizeof(rec), 2, {3, 2}, NULL, &soa, false, NULL, "export soa"},
        {r, REC_FORMAT, sizeof(rec), 1, {6}, NULL, &soa_tensor, false, NULL,
         "export soa tensor"},
        {d, "d", 8, 1, {4}, every_other, &copy, false, NULL, "export gathered"},
        {bools, "?", 1, 1, {8}, NULL, &copy, false, NULL, "export packed"},
        {ints, NULL, 0, 0, {0}, NULL, NULL, true, NULL, "import list"},
        {ints, NULL, 0, 0, {0}, NULL, NULL, true, "{\"shape\":[3,2],\"permutation\":[1,0]}",
         "import tensor"},
    };
    for (int k = 0; k < COUNT(cases); k++) {
        static sweep_ctx c;
        memset(&c, 0, sizeof c);
        c.buf = cases[k].buf;
        c.format = cases[k].format;
        c.itemsize = cases[k].itemsize;
        c.ndim = cases[k].ndim;
        memcpy(c.shape, cases[k].shape, sizeof c.shape);
        c.strides = cases[k].strides;
        if (cases[k].o != NULL)
            c.options = *cases[k].o;
        c.import = cases[k].import;
        c.tensor = cases[k].tensor;
        assert_sweep(&c, cases[k].what);
    }
    finish();
}
