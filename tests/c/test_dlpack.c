/*
 * test_dlpack.c -- layer 5, DLPack: views to managed tensors and back.
 *
 * Views come from a hand-built source (any format, shape, strides, offset
 * into a 256-byte aligned arena, read-only or not, PIL-style rows) wrapped
 * with xbuf_mview_from_view, whose release hook counts its calls.  Tensors
 * to import are built by hand, as a producer would, with a deleter that
 * counts its calls.  So every test can say exactly when the source's
 * export is given back and when the producer's deleter runs: once, at the
 * right moment, on every path -- errors and allocation failures included.
 *
 * The oracle for "the tensor describes the view" is address arithmetic
 * done here: every item's address through the tensor (data, byte_offset,
 * element strides) against its address through the view (byte strides,
 * suboffsets).  For copies, the bytes of every item are compared, reversed
 * per part when the copy converted the byte order.  Every test runs under
 * the counting allocator and ends with nothing xbuf allocated still live.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "test_support.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define JUNK_TENSOR ((xbuf_dl_managed_tensor_versioned *)(uintptr_t)0x10)
#define JUNK_LEGACY ((xbuf_dl_managed_tensor *)(uintptr_t)0x10)
#define JUNK_MVIEW ((xbuf_mview *)(uintptr_t)0x10)
#define MAXD 8

/* ==== scaffolding ======================================================= */

static unsigned char arena[16384] __attribute__((aligned(256)));

static void begin_with_arena(void)
{
    for (size_t i = 0; i < sizeof arena; i++)
        arena[i] = (unsigned char)(i * 37 + 11);
    begin();
}

#define TEST(name) Test(dlpack, name, .init = begin_with_arena)

/* FAILS, and the message says `needle`. */
#define FAILS_SAYING(expr, want_code, needle)                                                \
    do {                                                                                     \
        FAILS(expr, want_code);                                                              \
        SAYS(needle);                                                                        \
    } while (0)

static char native_order(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first ? '<' : '>';
}

static char foreign_order(void)
{
    return native_order() == '<' ? '>' : '<';
}

/* ==== the source: a hand-built view with a counted release =============== */

typedef struct source {
    int releases;
    int ndim;
    ptrdiff_t itemsize, len;
    bool readonly;
    char *buf;
    char format[64];
    ptrdiff_t shape[MAXD], strides[MAXD], suboffsets[MAXD];
    bool indirect;
} source;

static void source_release(xbuf_view *view)
{
    ((source *)view->obj)->releases++;
}

/* A source over the arena: the item at index 0,...,0 lies `offset` bytes
 * into it; NULL strides make it C-contiguous. */
static void source_init(source *s, const char *format, ptrdiff_t itemsize, int ndim,
                        const ptrdiff_t *shape, const ptrdiff_t *strides, ptrdiff_t offset)
{
    memset(s, 0, sizeof *s);
    snprintf(s->format, sizeof s->format, "%s", format);
    s->itemsize = itemsize;
    s->ndim = ndim;
    s->buf = (char *)arena + offset;
    s->len = itemsize;
    ptrdiff_t step = itemsize;
    for (int i = ndim - 1; i >= 0; i--) {
        s->shape[i] = shape[i];
        s->strides[i] = strides ? strides[i] : step;
        step *= shape[i];
        s->len *= shape[i];
    }
}

static xbuf_mview *source_open(source *s)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_view v = {0};
    v.buf = s->buf;
    v.obj = s;
    v.len = s->len;
    v.itemsize = s->itemsize;
    v.readonly = s->readonly;
    v.ndim = s->ndim;
    v.format = s->format;
    v.shape = s->ndim ? s->shape : NULL;
    v.strides = s->ndim ? s->strides : NULL;
    v.suboffsets = s->indirect ? s->suboffsets : NULL;
    v.release = source_release;
    xbuf_mview *m = NULL;
    MUST(xbuf_mview_from_view(&v, &m, &err));
    return m;
}

/* A 1-d C-contiguous source of `n` items at the start of the arena. */
static xbuf_mview *open_1d(source *s, const char *format, ptrdiff_t itemsize, ptrdiff_t n)
{
    source_init(s, format, itemsize, 1, &n, NULL, 0);
    return source_open(s);
}

/* A PIL-style source: `rows` rows of `cols` items, each row elsewhere in the
 * arena, reached through a table of row pointers (suboffsets {0, -1}). */
static char *row_table[8];

static xbuf_mview *open_pil(source *s, const char *format, ptrdiff_t itemsize, ptrdiff_t rows,
                            ptrdiff_t cols)
{
    ptrdiff_t shape[2] = {rows, cols};
    ptrdiff_t strides[2] = {(ptrdiff_t)sizeof(char *), itemsize};
    source_init(s, format, itemsize, 2, shape, strides, 0);
    for (ptrdiff_t r = 0; r < rows; r++)
        row_table[r] = (char *)arena + 4096 + (rows - 1 - r) * 512; /* out of order */
    s->buf = (char *)row_table;
    s->indirect = true;
    s->suboffsets[0] = 0;
    s->suboffsets[1] = -1;
    return source_open(s);
}

/* ==== the producer: hand-built tensors with a counted deleter ============ */

typedef struct producer {
    xbuf_dl_managed_tensor_versioned t; /* first: the deleter's argument */
    xbuf_dl_managed_tensor legacy;
    int deletes, legacy_deletes;
    int64_t shape[MAXD], strides[MAXD];
} producer;

static void producer_delete(xbuf_dl_managed_tensor_versioned *t)
{
    ((producer *)t->manager_ctx)->deletes++;
}

static void producer_delete_legacy(xbuf_dl_managed_tensor *t)
{
    ((producer *)t->manager_ctx)->legacy_deletes++;
}

/* A tensor of `ndim` extents over the arena (data at its start), C-
 * contiguous strides written out; both the versioned and the legacy form. */
static void producer_init(producer *p, uint8_t code, uint8_t bits, int ndim,
                          const int64_t *shape)
{
    memset(p, 0, sizeof *p);
    int64_t step = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        p->shape[i] = shape[i];
        p->strides[i] = step;
        step *= shape[i];
    }
    xbuf_dl_tensor dl = {arena, {XBUF_DL_CPU, 0}, ndim, {code, bits, 1},
                         ndim ? p->shape : NULL, ndim ? p->strides : NULL, 0};
    p->t.version = (xbuf_dlpack_version){1, 0};
    p->t.manager_ctx = p;
    p->t.deleter = producer_delete;
    p->t.dl_tensor = dl;
    p->legacy.dl_tensor = dl;
    p->legacy.manager_ctx = p;
    p->legacy.deleter = producer_delete_legacy;
}

/* ==== the oracle ========================================================== */

/* An item's address through a tensor, as a DLPack consumer computes it. */
static char *tensor_item(const xbuf_dl_tensor *t, const ptrdiff_t *idx)
{
    int64_t offset = 0, step = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        offset += idx[i] * (t->strides ? t->strides[i] : step);
        step *= t->shape[i];
    }
    return (char *)t->data + t->byte_offset + offset * (t->dtype.bits / 8);
}

/* The tensor's metadata against the view's: device, ndim, shape. */
static void assert_same_shape(const xbuf_dl_tensor *t, const xbuf_view *v)
{
    cr_assert_eq(t->device.device_type, XBUF_DL_CPU);
    cr_assert_eq(t->device.device_id, 0);
    cr_assert_eq(t->ndim, v->ndim);
    cr_assert_eq(t->dtype.lanes, 1);
    cr_assert_eq(t->dtype.bits, v->itemsize * 8, "bits %u for itemsize %td",
                 (unsigned)t->dtype.bits, v->itemsize);
    if (v->ndim == 0) {
        cr_assert_null(t->shape, "a 0-d tensor with a shape");
        cr_assert_null(t->strides, "a 0-d tensor with strides");
    } else {
        cr_assert_not_null(t->shape);
        cr_assert_not_null(t->strides, "DLPack 1.2 forbids NULL strides; xbuf never writes them");
    }
    for (int i = 0; i < v->ndim; i++)
        cr_assert_eq(t->shape[i], v->shape[i], "extent %d: %lld, the view's %td", i,
                     (long long)t->shape[i], v->shape[i]);
}

/* The tensor describes the view's own memory: every item at the same address. */
static void assert_describes(const xbuf_dl_tensor *t, const xbuf_view *v)
{
    assert_same_shape(t, v);
    cr_assert_eq(t->byte_offset, 0);
    cr_assert_eq(t->data, v->buf, "a zero-copy tensor's data is the view's buf");
    ptrdiff_t idx[MAXD] = {0};
    if (item_count(v->ndim, v->shape) == 0)
        return;
    do
        cr_assert_eq(tensor_item(t, idx), ref_ptr(v, idx), "item addresses differ");
    while (next_index(v->ndim, v->shape, idx));
}

/* The tensor holds a C-contiguous copy of the view's items, each part
 * (`part` bytes) byte-reversed when `swapped`. */
static void assert_copy_of(const xbuf_dl_tensor *t, const xbuf_view *v, ptrdiff_t part,
                           bool swapped)
{
    assert_same_shape(t, v);
    cr_assert_eq(t->byte_offset, 0);
    cr_assert_eq((uintptr_t)t->data % 256, 0, "copies are 256-byte aligned");
    int64_t step = 1;
    for (int i = v->ndim - 1; i >= 0; i--) {
        cr_assert_eq(t->strides[i], step, "a copy's strides are C-contiguous");
        step *= v->shape[i];
    }
    ptrdiff_t idx[MAXD] = {0};
    if (item_count(v->ndim, v->shape) == 0)
        return;
    do {
        const unsigned char *a = (unsigned char *)tensor_item(t, idx);
        const unsigned char *b = (unsigned char *)ref_ptr(v, idx);
        cr_assert_neq((const void *)a, (const void *)b);
        for (ptrdiff_t k = 0; k < v->itemsize; k++) {
            ptrdiff_t from = swapped ? (k / part) * part + part - 1 - k % part : k;
            cr_assert_eq(a[k], b[from], "byte %td of an item differs", k);
        }
    } while (next_index(v->ndim, v->shape, idx));
}

static const xbuf_view *V(const xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    cr_assert_not_null(v);
    return v;
}

/* Export `m` (versioned), expecting success. */
static xbuf_dl_managed_tensor_versioned *export_ok(xbuf_mview *m, xbuf_dlpack_copy copy)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_dl_managed_tensor_versioned *t = JUNK_TENSOR;
    MUST(xbuf_dlpack_export(m, copy, &t, &err));
    cr_assert_not_null(t);
    cr_assert_eq(t->version.major, XBUF_DLPACK_MAJOR);
    cr_assert_eq(t->version.minor, XBUF_DLPACK_MINOR);
    cr_assert_not_null(t->deleter);
    return t;
}

static xbuf_dl_managed_tensor *export_legacy_ok(xbuf_mview *m, xbuf_dlpack_copy copy)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    xbuf_dl_managed_tensor *t = JUNK_LEGACY;
    MUST(xbuf_dlpack_export_legacy(m, copy, &t, &err));
    cr_assert_not_null(t);
    cr_assert_not_null(t->deleter);
    return t;
}

/* ==== the ABI ============================================================== */

TEST(abi_matches_dlpack)
{
    if (sizeof(void *) == 8) {
        cr_assert_eq(sizeof(xbuf_dl_tensor), 48);
        cr_assert_eq(sizeof(xbuf_dl_managed_tensor), 64);
        cr_assert_eq(sizeof(xbuf_dl_managed_tensor_versioned), 80);
        cr_assert_eq(offsetof(xbuf_dl_managed_tensor_versioned, flags), 24);
        cr_assert_eq(offsetof(xbuf_dl_managed_tensor_versioned, dl_tensor), 32);
    }
    /* DLPack's numbers, from its specification */
    cr_assert_eq(XBUF_DL_CPU, 1);
    cr_assert_eq(XBUF_DL_CUDA, 2);
    cr_assert_eq(XBUF_DL_CUDA_HOST, 3);
    cr_assert_eq(XBUF_DL_ROCM, 10);
    cr_assert_eq(XBUF_DL_CUDA_MANAGED, 13);
    cr_assert_eq(XBUF_DL_INT, 0);
    cr_assert_eq(XBUF_DL_UINT, 1);
    cr_assert_eq(XBUF_DL_FLOAT, 2);
    cr_assert_eq(XBUF_DL_OPAQUE_HANDLE, 3);
    cr_assert_eq(XBUF_DL_BFLOAT, 4);
    cr_assert_eq(XBUF_DL_COMPLEX, 5);
    cr_assert_eq(XBUF_DL_BOOL, 6);
    cr_assert_eq(XBUF_DL_FLAG_READ_ONLY, 1);
    cr_assert_eq(XBUF_DL_FLAG_IS_COPIED, 2);
    cr_assert_eq(XBUF_DLPACK_MAJOR, 1);
    finish();
}

/* ==== export: what the tensor says ======================================= */

typedef struct dtype_case {
    const char *format;
    ptrdiff_t itemsize;
    uint8_t code, bits;
} dtype_case;

TEST(export_every_numeric_format)
{
    char n = native_order();
    char nq[4] = {n, 'q', 0}, nl[4] = {n, 'l', 0}, nzd[4] = {n, 'Z', 'd', 0};
    dtype_case cases[] = {
        {"b", 1, XBUF_DL_INT, 8},       {"B", 1, XBUF_DL_UINT, 8},
        {"h", 2, XBUF_DL_INT, 16},      {"H", 2, XBUF_DL_UINT, 16},
        {"i", 4, XBUF_DL_INT, 32},      {"I", 4, XBUF_DL_UINT, 32},
        {"l", sizeof(long), XBUF_DL_INT, 8 * sizeof(long)},
        {"L", sizeof(long), XBUF_DL_UINT, 8 * sizeof(long)},
        {"q", 8, XBUF_DL_INT, 64},      {"Q", 8, XBUF_DL_UINT, 64},
        {"n", sizeof(size_t), XBUF_DL_INT, 8 * sizeof(size_t)},
        {"N", sizeof(size_t), XBUF_DL_UINT, 8 * sizeof(size_t)},
        {"?", 1, XBUF_DL_BOOL, 8},      {"e", 2, XBUF_DL_FLOAT, 16},
        {"f", 4, XBUF_DL_FLOAT, 32},    {"d", 8, XBUF_DL_FLOAT, 64},
        {"Ze", 4, XBUF_DL_COMPLEX, 32}, {"Zf", 8, XBUF_DL_COMPLEX, 64},
        {"Zd", 16, XBUF_DL_COMPLEX, 128},
        {"=h", 2, XBUF_DL_INT, 16},     {"@d", 8, XBUF_DL_FLOAT, 64},
        {"^f", 4, XBUF_DL_FLOAT, 32},   {nq, 8, XBUF_DL_INT, 64},
        {nl, 4, XBUF_DL_INT, 32},       {nzd, 16, XBUF_DL_COMPLEX, 128},
        {"<b", 1, XBUF_DL_INT, 8},      {">B", 1, XBUF_DL_UINT, 8}, /* no order in a byte */
        {"!?", 1, XBUF_DL_BOOL, 8},
    };
    for (int i = 0; i < COUNT(cases); i++) {
        source s;
        xbuf_mview *m = open_1d(&s, cases[i].format, cases[i].itemsize, 5);
        xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
        cr_assert_eq(t->dl_tensor.dtype.code, cases[i].code, "%s: code %u", cases[i].format,
                     (unsigned)t->dl_tensor.dtype.code);
        cr_assert_eq(t->dl_tensor.dtype.bits, cases[i].bits, "%s: bits %u", cases[i].format,
                     (unsigned)t->dl_tensor.dtype.bits);
        cr_assert_eq(t->flags, 0, "%s: flags %llu", cases[i].format,
                     (unsigned long long)t->flags);
        assert_describes(&t->dl_tensor, V(m));
        cr_assert_eq(t->dl_tensor.strides[0], 1);

        xbuf_dl_managed_tensor *l = export_legacy_ok(m, XBUF_DLPACK_COPY_NEVER);
        cr_assert_eq(l->dl_tensor.dtype.code, cases[i].code);
        cr_assert_eq(l->dl_tensor.dtype.bits, cases[i].bits);
        assert_describes(&l->dl_tensor, V(m));

        cr_assert_eq(xbuf_mview_exports(m), 2);
        xbuf_mview_unref(m);
        cr_assert_eq(s.releases, 0, "%s: released while tensors live", cases[i].format);
        t->deleter(t);
        cr_assert_eq(s.releases, 0);
        l->deleter(l);
        cr_assert_eq(s.releases, 1, "%s: released %d times", cases[i].format, s.releases);
    }
    finish();
}

/* One layout exported zero-copy, versioned and legacy, checked address by
 * address. */
static void assert_exports_in_place(xbuf_mview *m, const char *what)
{
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->flags, 0, "%s", what);
    assert_describes(&t->dl_tensor, V(m));
    xbuf_dl_managed_tensor *l = export_legacy_ok(m, XBUF_DLPACK_COPY_IF_NEEDED);
    assert_describes(&l->dl_tensor, V(m));
    t->deleter(t);
    l->deleter(l);
    cr_assert_eq(xbuf_mview_exports(m), 0, "%s", what);
}

TEST(export_layouts_in_place)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    source s;
    ptrdiff_t shape[3] = {2, 3, 4};
    source_init(&s, "i", 4, 3, shape, NULL, 0);
    xbuf_mview *m = source_open(&s);
    assert_exports_in_place(m, "C-contiguous 3-d");
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->dl_tensor.strides[0], 12);
    cr_assert_eq(t->dl_tensor.strides[1], 4);
    cr_assert_eq(t->dl_tensor.strides[2], 1);
    t->deleter(t);

    xbuf_mview *tr = NULL, *rev = NULL, *every = NULL, *row = NULL;
    MUST(xbuf_mview_transpose(m, &tr, &err));
    assert_exports_in_place(tr, "transposed");
    t = export_ok(tr, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->dl_tensor.strides[0], 1);
    cr_assert_eq(t->dl_tensor.strides[2], 12);
    t->deleter(t);

    xbuf_slice sl[3] = {{XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1}, {XBUF_SLICE_NONE, XBUF_SLICE_NONE, 2},
                        {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -3}};
    MUST(xbuf_mview_slice(m, sl, 3, &rev, &err));
    assert_exports_in_place(rev, "negative and stepped strides");
    t = export_ok(rev, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->dl_tensor.strides[0], -12);
    cr_assert_eq(t->dl_tensor.strides[1], 8);
    cr_assert_eq(t->dl_tensor.strides[2], -3);
    cr_assert_eq(t->dl_tensor.data, V(rev)->buf);
    t->deleter(t);

    xbuf_slice one[1] = {{1, 2, 1}};
    MUST(xbuf_mview_slice(m, one, 1, &every, &err));
    assert_exports_in_place(every, "extent 1 in front");
    MUST(xbuf_mview_index(m, 1, -1, &row, &err));
    assert_exports_in_place(row, "indexed");

    xbuf_mview_unref(tr);
    xbuf_mview_unref(rev);
    xbuf_mview_unref(every);
    xbuf_mview_unref(row);
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 1);
    finish();
}

TEST(export_0d_and_empty)
{
    source s;
    source_init(&s, "d", 8, 0, NULL, NULL, 8);
    xbuf_mview *m = source_open(&s);
    assert_exports_in_place(m, "0-d");
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_ALWAYS);
    assert_copy_of(&t->dl_tensor, V(m), 8, false);
    cr_assert_eq(t->flags, XBUF_DL_FLAG_IS_COPIED);
    t->deleter(t);
    xbuf_mview_unref(m);

    /* no items: strides that would otherwise be refused are never used */
    ptrdiff_t shape[3] = {3, 0, 2}, strides[3] = {7, 5, 3};
    source_init(&s, "i", 4, 3, shape, strides, 0);
    m = source_open(&s);
    t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    assert_describes(&t->dl_tensor, V(m));
    cr_assert_eq(t->dl_tensor.strides[0], 0, "C strides of (3, 0, 2)");
    cr_assert_eq(t->dl_tensor.strides[1], 2);
    cr_assert_eq(t->dl_tensor.strides[2], 1);
    t->deleter(t);
    t = export_ok(m, XBUF_DLPACK_COPY_ALWAYS);
    assert_copy_of(&t->dl_tensor, V(m), 4, false);
    t->deleter(t);
    xbuf_mview_unref(m);

    /* a huge empty view: C strides that would overflow are 0 */
    ptrdiff_t big[3] = {(ptrdiff_t)1 << 40, 0, (ptrdiff_t)1 << 40};
    ptrdiff_t bigs[3] = {4, 4, 4};
    source_init(&s, "i", 4, 3, big, bigs, 0);
    m = source_open(&s);
    t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->dl_tensor.shape[0], (int64_t)1 << 40);
    cr_assert_eq(t->dl_tensor.strides[2], 1);
    cr_assert_eq(t->dl_tensor.strides[1], (int64_t)1 << 40);
    t->deleter(t);
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 1);
    finish();
}

TEST(export_extent_one_strides_are_free)
{
    /* a stride that is not a multiple of the itemsize, on an extent-1
     * dimension, never moves: exported in place with a C stride */
    source s;
    ptrdiff_t shape[2] = {1, 3}, strides[2] = {5, 8};
    source_init(&s, "d", 8, 2, shape, strides, 0);
    xbuf_mview *m = source_open(&s);
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    assert_describes(&t->dl_tensor, V(m));
    cr_assert_eq(t->dl_tensor.strides[0], 3);
    cr_assert_eq(t->dl_tensor.strides[1], 1);
    t->deleter(t);
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 1);
    finish();
}

/* ==== export: lifetime ===================================================== */

TEST(export_holds_the_view_until_the_deleter)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    source s;
    xbuf_mview *m = open_1d(&s, "i", 4, 8);
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    xbuf_dl_managed_tensor *l = export_legacy_ok(m, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(xbuf_mview_exports(m), 2);
    FAILS_SAYING(xbuf_mview_release(m, &err), XBUF_EBUSY, "2 views exported");
    cr_assert_not(xbuf_mview_is_released(m));
    t->deleter(t);
    cr_assert_eq(xbuf_mview_exports(m), 1);
    FAILS_SAYING(xbuf_mview_release(m, &err), XBUF_EBUSY, "1 view exported");
    /* the tensor outlives the mview's last reference */
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 0);
    cr_assert_eq(((int32_t *)l->dl_tensor.data)[0], ((int32_t *)(void *)arena)[0]);
    l->deleter(l);
    cr_assert_eq(s.releases, 1);

    /* after the deleters, release works and exports are refused */
    m = open_1d(&s, "i", 4, 8);
    t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    t->deleter(t);
    MUST(xbuf_mview_release(m, &err));
    cr_assert_eq(s.releases, 1);
    t = JUNK_TENSOR;
    FAILS_SAYING(xbuf_dlpack_export(m, XBUF_DLPACK_COPY_IF_NEEDED, &t, &err), XBUF_ERELEASED,
          "released");
    cr_assert_null(t);
    xbuf_dl_managed_tensor *l2 = JUNK_LEGACY;
    FAILS_SAYING(xbuf_dlpack_export_legacy(m, XBUF_DLPACK_COPY_ALWAYS, &l2, &err), XBUF_ERELEASED,
          "released");
    cr_assert_null(l2);
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 1);
    finish();
}

static void *call_deleter(void *arg)
{
    xbuf_dl_managed_tensor_versioned *t = arg;
    t->deleter(t);
    return NULL;
}

TEST(export_deleter_on_another_thread)
{
    /* the counting allocator is not thread-safe: the C library's is */
    failing_alloc_uninstall();
    source s;
    xbuf_mview *m = open_1d(&s, "q", 8, 64);
    enum { N = 8 };
    xbuf_dl_managed_tensor_versioned *ts[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++)
        ts[i] = export_ok(m, i % 2 ? XBUF_DLPACK_COPY_ALWAYS : XBUF_DLPACK_COPY_NEVER);
    xbuf_mview_unref(m);
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, call_deleter, ts[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(s.releases, 1);
    finish();
}

TEST(export_argument_errors)
{
    xbuf_error err;
    source s;
    xbuf_mview *m = open_1d(&s, "i", 4, 4);
    xbuf_dl_managed_tensor_versioned *t = JUNK_TENSOR;
    xbuf_dl_managed_tensor *l = JUNK_LEGACY;
    FAILS_SAYING(xbuf_dlpack_export(NULL, XBUF_DLPACK_COPY_NEVER, &t, &err), XBUF_EINVAL, "NULL");
    cr_assert_null(t);
    FAILS_SAYING(xbuf_dlpack_export(m, XBUF_DLPACK_COPY_NEVER, NULL, &err), XBUF_EINVAL, "NULL");
    t = JUNK_TENSOR;
    FAILS_SAYING(xbuf_dlpack_export(m, (xbuf_dlpack_copy)7, &t, &err), XBUF_EINVAL, "policy 7");
    cr_assert_null(t);
    FAILS_SAYING(xbuf_dlpack_export_legacy(NULL, XBUF_DLPACK_COPY_NEVER, &l, &err), XBUF_EINVAL,
          "NULL");
    cr_assert_null(l);
    FAILS_SAYING(xbuf_dlpack_export_legacy(m, XBUF_DLPACK_COPY_NEVER, NULL, &err), XBUF_EINVAL, "NULL");
    l = JUNK_LEGACY;
    FAILS_SAYING(xbuf_dlpack_export_legacy(m, (xbuf_dlpack_copy)-1, &l, &err), XBUF_EINVAL, "policy");
    cr_assert_null(l);
    /* NULL err is fine */
    cr_assert_eq(xbuf_dlpack_export(NULL, XBUF_DLPACK_COPY_NEVER, &t, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_mview_exports(m), 0);
    /* the deleters are NULL-safe */
    t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    l = export_legacy_ok(m, XBUF_DLPACK_COPY_NEVER);
    t->deleter(NULL);
    l->deleter(NULL);
    cr_assert_eq(xbuf_mview_exports(m), 2);
    t->deleter(t);
    l->deleter(l);
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 1);
    finish();
}

/* ==== export: what needs a copy ============================================ */

typedef struct copy_case {
    const char *what;
    xbuf_mview *m;
    ptrdiff_t part; /* bytes of one byte-ordered part */
    bool swapped;
    bool legacy_only; /* the versioned form needs no copy */
    const char *needle;
} copy_case;

/* Refused with COPY_NEVER (naming the reason), copied otherwise. */
static void assert_copy_case(const copy_case *c)
{
    xbuf_error err;
    const xbuf_view *v = V(c->m);
    if (!c->legacy_only) {
        xbuf_dl_managed_tensor_versioned *t = JUNK_TENSOR;
        FAILS_SAYING(xbuf_dlpack_export(c->m, XBUF_DLPACK_COPY_NEVER, &t, &err), XBUF_EUNSUPPORTED,
              c->needle);
        cr_assert(strstr(err.message, "without a copy") != NULL, "%s: %s", c->what,
                  err.message);
        cr_assert_null(t);
        cr_assert_eq(xbuf_mview_exports(c->m), 0, "%s: a refusal kept the export", c->what);
        for (int copy = XBUF_DLPACK_COPY_IF_NEEDED; copy <= XBUF_DLPACK_COPY_ALWAYS; copy++) {
            t = export_ok(c->m, (xbuf_dlpack_copy)copy);
            cr_assert_eq(t->flags, XBUF_DL_FLAG_IS_COPIED, "%s: flags %llu", c->what,
                         (unsigned long long)t->flags);
            cr_assert_eq(xbuf_mview_exports(c->m), 0, "%s: a copy holds no export", c->what);
            assert_copy_of(&t->dl_tensor, v, c->part, c->swapped);
            t->deleter(t);
        }
    }
    xbuf_dl_managed_tensor *l = JUNK_LEGACY;
    FAILS_SAYING(xbuf_dlpack_export_legacy(c->m, XBUF_DLPACK_COPY_NEVER, &l, &err), XBUF_EUNSUPPORTED,
          c->needle);
    cr_assert_null(l);
    cr_assert_eq(xbuf_mview_exports(c->m), 0);
    l = export_legacy_ok(c->m, XBUF_DLPACK_COPY_IF_NEEDED);
    assert_copy_of(&l->dl_tensor, v, c->part, c->swapped);
    l->deleter(l);
}

TEST(export_refusals_and_copies)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    char f = foreign_order();
    char fi[4] = {f, 'i', 0}, fd[4] = {f, 'd', 0}, fzf[4] = {f, 'Z', 'f', 0},
         fe[4] = {f, 'e', 0}, fh[4] = {f, 'h', 0};
    source s[12];
    ptrdiff_t sh1[1] = {5}, st_odd[1] = {6};
    ptrdiff_t sh2[2] = {3, 4};
    ptrdiff_t sh3[3] = {2, 3, 2}, st3[3] = {-20, 6, 3}; /* 3-byte 'h' steps, backwards */
    source_init(&s[0], fi, 4, 1, sh1, NULL, 0);
    source_init(&s[1], fd, 8, 2, sh2, NULL, 0);
    source_init(&s[2], fzf, 8, 1, sh1, NULL, 0);
    source_init(&s[3], fe, 2, 1, sh1, NULL, 0);
    source_init(&s[4], "i", 4, 1, sh1, st_odd, 0);
    source_init(&s[5], fh, 2, 3, sh3, st3, 100);
    source_init(&s[6], "d", 8, 1, sh1, NULL, 4);  /* misaligned doubles */
    source_init(&s[7], "Zf", 8, 1, sh1, NULL, 2); /* complex64: parts need 4 */
    source_init(&s[8], "i", 4, 2, sh2, NULL, 0);
    s[8].readonly = true;
    xbuf_mview *ms[10];
    for (int i = 0; i < 9; i++)
        ms[i] = source_open(&s[i]);
    ms[9] = open_pil(&s[9], "h", 2, 3, 5);
    xbuf_mview *swapped_t = NULL;
    MUST(xbuf_mview_transpose(ms[1], &swapped_t, &err));
    copy_case cases[] = {
        {"foreign int", ms[0], 4, true, false, "native byte order"},
        {"foreign double 2-d", ms[1], 8, true, false, "native byte order"},
        {"foreign double transposed", swapped_t, 8, true, false, "native byte order"},
        {"foreign complex", ms[2], 4, true, false, "native byte order"},
        {"foreign half", ms[3], 2, true, false, "native byte order"},
        {"odd stride", ms[4], 4, false, false, "stride 6 of dimension 0 is not a multiple"},
        {"odd strides, foreign", ms[5], 2, true, false, "native byte order"},
        {"misaligned double", ms[6], 8, false, false, "not aligned to 8 bytes"},
        {"misaligned complex", ms[7], 8, false, false, "not aligned to 4 bytes"},
        {"read-only, legacy", ms[8], 4, false, true, "read-only"},
        {"suboffsets", ms[9], 2, false, false, "suboffsets"},
    };
    for (int i = 0; i < COUNT(cases); i++)
        assert_copy_case(&cases[i]);
    /* the versioned form says read-only without a copy */
    xbuf_dl_managed_tensor_versioned *t = export_ok(ms[8], XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->flags, XBUF_DL_FLAG_READ_ONLY);
    assert_describes(&t->dl_tensor, V(ms[8]));
    t->deleter(t);
    /* ... and a copy of a read-only view is the consumer's to write */
    t = export_ok(ms[8], XBUF_DLPACK_COPY_ALWAYS);
    cr_assert_eq(t->flags, XBUF_DL_FLAG_IS_COPIED);
    t->deleter(t);

    xbuf_mview_unref(swapped_t);
    for (int i = 0; i < 10; i++) {
        xbuf_mview_unref(ms[i]);
        cr_assert_eq(s[i].releases, 1, "source %d released %d times", i, s[i].releases);
    }
    finish();
}

TEST(export_copy_always_is_a_snapshot)
{
    source s;
    xbuf_mview *m = open_1d(&s, "i", 4, 6);
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_ALWAYS);
    cr_assert_eq(t->flags, XBUF_DL_FLAG_IS_COPIED);
    cr_assert_neq(t->dl_tensor.data, V(m)->buf);
    cr_assert_eq(xbuf_mview_exports(m), 0);
    assert_copy_of(&t->dl_tensor, V(m), 4, false);
    int32_t before = ((int32_t *)t->dl_tensor.data)[2];
    memset(arena, 0, 64);
    cr_assert_eq(((int32_t *)t->dl_tensor.data)[2], before, "the copy follows the source");
    xbuf_mview_unref(m);
    cr_assert_eq(s.releases, 1, "a copy does not keep the source");
    cr_assert_eq(((int32_t *)t->dl_tensor.data)[2], before);
    t->deleter(t);
    xbuf_dl_managed_tensor *l;
    m = open_1d(&s, "i", 4, 6);
    l = export_legacy_ok(m, XBUF_DLPACK_COPY_ALWAYS);
    cr_assert_neq(l->dl_tensor.data, V(m)->buf);
    cr_assert_eq(xbuf_mview_exports(m), 0);
    xbuf_mview_unref(m);
    l->deleter(l);
    finish();
}

typedef struct refusal_case {
    const char *format;
    ptrdiff_t itemsize;
    const char *needle;
} refusal_case;

TEST(export_types_dlpack_lacks)
{
    xbuf_error err;
    refusal_case cases[] = {
        {"ii", 8, "records"},
        {"T{i:a:d:b:}", 16, "records"},
        {"T{d}", 8, "records"},
        {"3i", 12, "sub-array"},
        {"(2,2)d", 32, "sub-array"},
        {"c", 1, "chars ('c')"},
        {"5s", 5, "strings"},
        {"3p", 3, "strings"},
        {"2u", 4, "strings"},
        {"w", 4, "strings"},
        {"3t", 1, "bit fields"},
        {"5t3t", 1, "bit fields"},
        {"O", sizeof(void *), "objects"},
        {"P", sizeof(void *), "pointers"},
        {"&i", sizeof(void *), "pointers"},
        {"X{}", sizeof(void *), "pointers"},
        {"g", sizeof(long double), "long double"},
        {"Zg", 2 * sizeof(long double), "long double"},
        {"i", 8, "itemsize 8 differs"},
    };
    for (int i = 0; i < COUNT(cases); i++) {
        source s;
        xbuf_mview *m = open_1d(&s, cases[i].format, cases[i].itemsize, 3);
        for (int copy = XBUF_DLPACK_COPY_NEVER; copy <= XBUF_DLPACK_COPY_ALWAYS; copy++) {
            xbuf_dl_managed_tensor_versioned *t = JUNK_TENSOR;
            FAILS_SAYING(xbuf_dlpack_export(m, (xbuf_dlpack_copy)copy, &t, &err), XBUF_EUNSUPPORTED,
                  cases[i].needle);
            cr_assert_null(t);
            xbuf_dl_managed_tensor *l = JUNK_LEGACY;
            FAILS_SAYING(xbuf_dlpack_export_legacy(m, (xbuf_dlpack_copy)copy, &l, &err),
                  XBUF_EUNSUPPORTED, cases[i].needle);
            cr_assert_null(l);
            cr_assert_eq(xbuf_mview_exports(m), 0);
        }
        xbuf_mview_unref(m);
        cr_assert_eq(s.releases, 1);
    }
    /* 'c' is exportable once cast to bytes */
    source s;
    xbuf_mview *m = open_1d(&s, "c", 1, 4), *b = NULL;
    xbuf_error_clear(&err);
    MUST(xbuf_mview_cast(m, "B", 0, NULL, &b, &err));
    xbuf_dl_managed_tensor_versioned *t = export_ok(b, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->dl_tensor.dtype.code, XBUF_DL_UINT);
    t->deleter(t);
    xbuf_mview_unref(b);
    xbuf_mview_unref(m);
    finish();
}

/* ==== import ================================================================= */

TEST(import_basic)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    int64_t shape[2] = {2, 3};
    producer_init(&p, XBUF_DL_INT, 32, 2, shape);
    p.t.dl_tensor.strides = NULL; /* before DLPack 1.2: C-contiguous */
    xbuf_mview *m = JUNK_MVIEW;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    const xbuf_view *v = V(m);
    char want[4] = {native_order(), 'i', 0};
    cr_assert_str_eq(v->format, want);
    cr_assert_eq(v->itemsize, 4);
    cr_assert_eq(v->len, 24);
    cr_assert_eq(v->ndim, 2);
    cr_assert_eq(v->shape[0], 2);
    cr_assert_eq(v->shape[1], 3);
    cr_assert_eq(v->strides[0], 12);
    cr_assert_eq(v->strides[1], 4);
    cr_assert_eq(v->buf, (void *)arena);
    cr_assert_eq(v->readonly, 0);
    cr_assert_null(v->suboffsets);
    cr_assert_eq(p.deletes, 0);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);
    cr_assert_eq(p.legacy_deletes, 0);

    producer_init(&p, XBUF_DL_FLOAT, 64, 2, shape);
    m = JUNK_MVIEW;
    MUST(xbuf_dlpack_import_legacy(&p.legacy, &m, &err));
    cr_assert_eq(V(m)->strides[0], 24);
    cr_assert_eq(V(m)->readonly, 0);
    xbuf_mview_unref(m);
    cr_assert_eq(p.legacy_deletes, 1);
    cr_assert_eq(p.deletes, 0);
    finish();
}

TEST(import_every_dtype)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    char n = native_order();
    struct {
        uint8_t code, bits;
        char format[4];
    } cases[] = {
        {XBUF_DL_INT, 8, "b"},          {XBUF_DL_INT, 16, {n, 'h'}},
        {XBUF_DL_INT, 32, {n, 'i'}},    {XBUF_DL_INT, 64, {n, 'q'}},
        {XBUF_DL_UINT, 8, "B"},         {XBUF_DL_UINT, 16, {n, 'H'}},
        {XBUF_DL_UINT, 32, {n, 'I'}},   {XBUF_DL_UINT, 64, {n, 'Q'}},
        {XBUF_DL_FLOAT, 16, {n, 'e'}},  {XBUF_DL_FLOAT, 32, {n, 'f'}},
        {XBUF_DL_FLOAT, 64, {n, 'd'}},  {XBUF_DL_COMPLEX, 32, {n, 'Z', 'e'}},
        {XBUF_DL_COMPLEX, 64, {n, 'Z', 'f'}}, {XBUF_DL_COMPLEX, 128, {n, 'Z', 'd'}},
        {XBUF_DL_BOOL, 8, "?"},
    };
    for (int i = 0; i < COUNT(cases); i++) {
        producer p;
        int64_t shape[1] = {4};
        producer_init(&p, cases[i].code, cases[i].bits, 1, shape);
        xbuf_mview *m = NULL;
        MUST(xbuf_dlpack_import(&p.t, &m, &err));
        cr_assert_str_eq(V(m)->format, cases[i].format);
        cr_assert_eq(V(m)->itemsize, cases[i].bits / 8);
        ptrdiff_t size = 0;
        MUST(xbuf_format_size(V(m)->format, &size, NULL, &err));
        cr_assert_eq(size, V(m)->itemsize, "%s", cases[i].format);
        /* and back: the same dtype */
        xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
        cr_assert_eq(t->dl_tensor.dtype.code, cases[i].code);
        cr_assert_eq(t->dl_tensor.dtype.bits, cases[i].bits);
        xbuf_mview_unref(m);
        cr_assert_eq(p.deletes, 0);
        t->deleter(t);
        cr_assert_eq(p.deletes, 1);
    }
    finish();
}

TEST(import_strides_and_offset)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    int64_t shape[3] = {2, 3, 4};
    producer_init(&p, XBUF_DL_INT, 16, 3, shape);
    /* reversed middle dimension, transposed outer ones, a byte offset */
    int64_t strides[3] = {1, -8, 2};
    p.t.dl_tensor.strides = strides;
    p.t.dl_tensor.byte_offset = 64;
    p.t.flags = XBUF_DL_FLAG_IS_COPIED; /* informational: ignored */
    xbuf_mview *m = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    const xbuf_view *v = V(m);
    cr_assert_eq(v->buf, (void *)(arena + 64));
    cr_assert_eq(v->strides[0], 2);
    cr_assert_eq(v->strides[1], -16);
    cr_assert_eq(v->strides[2], 4);
    ptrdiff_t idx[3] = {0};
    do {
        void *item = NULL;
        MUST(xbuf_mview_pointer(m, idx, &item, &err));
        cr_assert_eq(item, tensor_item(&p.t.dl_tensor, idx));
    } while (next_index(3, v->shape, idx));
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);
    finish();
}

TEST(import_0d_and_empty)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    producer_init(&p, XBUF_DL_FLOAT, 32, 0, NULL);
    cr_assert_null(p.t.dl_tensor.shape);
    xbuf_mview *m = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    cr_assert_eq(V(m)->ndim, 0);
    cr_assert_eq(V(m)->len, 4);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);

    /* no items: NULL data, any strides, any offset */
    int64_t shape[2] = {0, 5}, strides[2] = {INT64_MAX / 64, -3};
    producer_init(&p, XBUF_DL_UINT, 8, 2, shape);
    p.t.dl_tensor.data = NULL;
    p.t.dl_tensor.strides = strides;
    p.t.dl_tensor.byte_offset = 12345;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    cr_assert_eq(V(m)->len, 0);
    cr_assert_null(V(m)->buf);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);

    /* no items, and a stride whose span would overflow if it were used */
    int64_t shape2[2] = {5, 0}, strides2[2] = {PTRDIFF_MAX / 4, 1};
    producer_init(&p, XBUF_DL_INT, 32, 2, shape2);
    p.t.dl_tensor.strides = strides2;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    cr_assert_eq(V(m)->strides[0], PTRDIFF_MAX / 4 * 4);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);

    /* no items and contiguous extents whose products overflow */
    int64_t huge[3] = {(int64_t)1 << 40, 0, (int64_t)1 << 40};
    producer_init(&p, XBUF_DL_UINT, 8, 3, huge);
    p.t.dl_tensor.strides = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    cr_assert_eq(V(m)->len, 0);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);
    finish();
}

TEST(import_deleter_once_when_the_family_is_done)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    int64_t shape[2] = {4, 6};
    producer_init(&p, XBUF_DL_UINT, 32, 2, shape);
    xbuf_mview *m = NULL, *sl = NULL, *ix = NULL, *tr = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    xbuf_slice s[2] = {{1, XBUF_SLICE_NONE, 2}, {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1}};
    MUST(xbuf_mview_slice(m, s, 2, &sl, &err));
    MUST(xbuf_mview_index(sl, 0, 1, &ix, &err));
    MUST(xbuf_mview_transpose(m, &tr, &err));
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 0, "deleted while slices live");
    xbuf_mview_unref(sl);
    MUST(xbuf_mview_release(tr, &err));
    cr_assert_eq(p.deletes, 0, "deleted while an index lives");
    /* a view exported from the last member keeps it alive */
    xbuf_view held;
    MUST(xbuf_get(xbuf_mview_exporter(ix), &held, XBUF_FULL_RO, &err));
    xbuf_mview_unref(ix);
    cr_assert_eq(p.deletes, 0);
    xbuf_release(&held);
    cr_assert_eq(p.deletes, 1);
    xbuf_mview_unref(tr);
    cr_assert_eq(p.deletes, 1, "deleted %d times", p.deletes);
    finish();
}

TEST(import_readonly_flag)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    int64_t shape[1] = {8};
    producer_init(&p, XBUF_DL_FLOAT, 64, 1, shape);
    p.t.flags = XBUF_DL_FLAG_READ_ONLY;
    xbuf_mview *m = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    cr_assert_eq(V(m)->readonly, 1);
    xbuf_view v;
    FAILS_SAYING(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL, &err), XBUF_EREQUEST, "read-only");
    MUST(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL_RO, &err));
    xbuf_release(&v);
    /* and it stays read-only when exported again */
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->flags, XBUF_DL_FLAG_READ_ONLY);
    t->deleter(t);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);

    /* unknown flags (a later minor version's) are ignored */
    producer_init(&p, XBUF_DL_FLOAT, 64, 1, shape);
    p.t.flags = (uint64_t)1 << 40;
    p.t.version.minor = 99;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    cr_assert_eq(V(m)->readonly, 0);
    MUST(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL, &err));
    xbuf_release(&v);
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 1);

    /* legacy tensors are writable */
    producer_init(&p, XBUF_DL_FLOAT, 64, 1, shape);
    MUST(xbuf_dlpack_import_legacy(&p.legacy, &m, &err));
    MUST(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL, &err));
    xbuf_release(&v);
    xbuf_mview_unref(m);
    cr_assert_eq(p.legacy_deletes, 1);
    finish();
}

TEST(import_null_deleter)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    int64_t shape[1] = {3};
    producer_init(&p, XBUF_DL_INT, 8, 1, shape);
    p.t.deleter = NULL;
    p.legacy.deleter = NULL;
    xbuf_mview *m = NULL, *l = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    MUST(xbuf_dlpack_import_legacy(&p.legacy, &l, &err));
    xbuf_mview_unref(m);
    xbuf_mview_unref(l);
    cr_assert_eq(p.deletes + p.legacy_deletes, 0);
    finish();
}

/* ---- malformed and unsupported tensors ---------------------------------- */

typedef struct bad_case {
    const char *what;
    void (*spoil)(producer *p);
    int code;
    const char *needle;
} bad_case;

static int64_t spoil_shape[2], spoil_strides[2];

static void spoil_device_cuda(producer *p)
{
    p->t.dl_tensor.device = (xbuf_dl_device){XBUF_DL_CUDA, 1};
}
static void spoil_device_cuda_host(producer *p)
{
    p->t.dl_tensor.device.device_type = XBUF_DL_CUDA_HOST;
}
static void spoil_device_unknown(producer *p)
{
    p->t.dl_tensor.device.device_type = 99;
}
static void spoil_ndim_negative(producer *p)
{
    p->t.dl_tensor.ndim = -1;
}
static void spoil_ndim_large(producer *p)
{
    p->t.dl_tensor.ndim = XBUF_MAX_NDIM + 1;
}
static void spoil_no_shape(producer *p)
{
    p->t.dl_tensor.shape = NULL;
}
static void spoil_negative_extent(producer *p)
{
    spoil_shape[0] = 2;
    spoil_shape[1] = -3;
    p->t.dl_tensor.shape = spoil_shape;
}
static void spoil_lanes(producer *p)
{
    p->t.dl_tensor.dtype.lanes = 4;
}
static void spoil_bits_12(producer *p)
{
    p->t.dl_tensor.dtype.bits = 12;
}
static void spoil_bits_0(producer *p)
{
    p->t.dl_tensor.dtype.bits = 0;
}
static void spoil_bfloat(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_BFLOAT, 16, 1};
}
static void spoil_opaque(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_OPAQUE_HANDLE, 64, 1};
}
static void spoil_float8(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_FLOAT8_E4M3FN, 8, 1};
}
static void spoil_unknown_code(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){99, 32, 1};
}
static void spoil_int128(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_INT, 128, 1};
}
static void spoil_float128(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_FLOAT, 128, 1};
}
static void spoil_float8bits(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_FLOAT, 8, 1};
}
static void spoil_complex48(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_COMPLEX, 48, 1};
}
static void spoil_bool16(producer *p)
{
    p->t.dl_tensor.dtype = (xbuf_dl_dtype){XBUF_DL_BOOL, 16, 1};
}
static void spoil_null_data(producer *p)
{
    p->t.dl_tensor.data = NULL;
}
static void spoil_stride_overflow(producer *p)
{
    spoil_strides[0] = INT64_MAX / 2;
    spoil_strides[1] = 1;
    p->t.dl_tensor.strides = spoil_strides;
}
static void spoil_span_overflow(producer *p)
{
    /* each stride fits in bytes; the span of the two does not */
    spoil_strides[0] = PTRDIFF_MAX / 8 + 1;
    spoil_strides[1] = PTRDIFF_MAX / 8 + 1;
    spoil_shape[0] = 2;
    spoil_shape[1] = 2;
    p->t.dl_tensor.shape = spoil_shape;
    p->t.dl_tensor.strides = spoil_strides;
}
static void spoil_size_overflow(producer *p)
{
    spoil_shape[0] = (int64_t)1 << 40;
    spoil_shape[1] = (int64_t)1 << 40;
    p->t.dl_tensor.shape = spoil_shape;
}
static void spoil_byte_offset(producer *p)
{
    p->t.dl_tensor.byte_offset = UINT64_MAX;
}
static void spoil_address_wraps_high(producer *p)
{
    p->t.dl_tensor.data = (void *)(UINTPTR_MAX - 64);
    p->t.dl_tensor.byte_offset = 32;
}
static void spoil_address_wraps_low(producer *p)
{
    spoil_strides[0] = -100;
    spoil_strides[1] = 1;
    p->t.dl_tensor.strides = spoil_strides;
    p->t.dl_tensor.data = (void *)(uintptr_t)64;
}
static void spoil_version_2(producer *p)
{
    p->t.version.major = 2;
}
static void spoil_version_0(producer *p)
{
    p->t.version = (xbuf_dlpack_version){0, 8};
}

static const bad_case bad_cases[] = {
    {"CUDA", spoil_device_cuda, XBUF_EUNSUPPORTED, "CUDA device (type 2, id 1)"},
    {"CUDA host", spoil_device_cuda_host, XBUF_EUNSUPPORTED, "CUDA host device"},
    {"unknown device", spoil_device_unknown, XBUF_EUNSUPPORTED, "unknown device (type 99"},
    {"ndim -1", spoil_ndim_negative, XBUF_EINVAL, "ndim -1"},
    {"ndim 65", spoil_ndim_large, XBUF_EUNSUPPORTED, "65 dimensions"},
    {"no shape", spoil_no_shape, XBUF_EINVAL, "no shape"},
    {"negative extent", spoil_negative_extent, XBUF_EINVAL, "extent -3 in dimension 1"},
    {"lanes", spoil_lanes, XBUF_EUNSUPPORTED, "4 lanes"},
    {"12 bits", spoil_bits_12, XBUF_EUNSUPPORTED, "12 bits"},
    {"0 bits", spoil_bits_0, XBUF_EUNSUPPORTED, "0 bits"},
    {"bfloat16", spoil_bfloat, XBUF_EUNSUPPORTED, "bfloat (code 4)"},
    {"opaque", spoil_opaque, XBUF_EUNSUPPORTED, "opaque handle"},
    {"float8", spoil_float8, XBUF_EUNSUPPORTED, "float8/6/4 (code 10)"},
    {"unknown code", spoil_unknown_code, XBUF_EUNSUPPORTED, "unknown (code 99)"},
    {"int128", spoil_int128, XBUF_EUNSUPPORTED, "int (code 0) of 128 bits"},
    {"float128", spoil_float128, XBUF_EUNSUPPORTED, "float (code 2) of 128 bits"},
    {"float8 bits", spoil_float8bits, XBUF_EUNSUPPORTED, "of 8 bits"},
    {"complex48", spoil_complex48, XBUF_EUNSUPPORTED, "complex (code 5) of 48 bits"},
    {"bool16", spoil_bool16, XBUF_EUNSUPPORTED, "bool (code 6) of 16 bits"},
    {"NULL data", spoil_null_data, XBUF_EINVAL, "NULL data"},
    {"stride overflow", spoil_stride_overflow, XBUF_EOVERFLOW, "stride"},
    {"span overflow", spoil_span_overflow, XBUF_EOVERFLOW, "span overflows"},
    {"size overflow", spoil_size_overflow, XBUF_EOVERFLOW, "size overflows"},
    {"byte_offset", spoil_byte_offset, XBUF_EOVERFLOW, "byte_offset"},
    {"wraps high", spoil_address_wraps_high, XBUF_EOVERFLOW, "address space"},
    {"wraps low", spoil_address_wraps_low, XBUF_EOVERFLOW, "address space"},
};

static const bad_case bad_versions[] = {
    {"version 2", spoil_version_2, XBUF_EUNSUPPORTED, "version 2.0"},
    {"version 0", spoil_version_0, XBUF_EUNSUPPORTED, "version 0.8"},
};

/* Refused, *out NULL, the deleter not called: the caller still owns it. */
static void assert_refused(producer *p, bool legacy, const bad_case *c)
{
    xbuf_error err;
    xbuf_mview *m = JUNK_MVIEW;
    if (legacy) {
        p->legacy.dl_tensor = p->t.dl_tensor;
        FAILS_SAYING(xbuf_dlpack_import_legacy(&p->legacy, &m, &err), c->code, c->needle);
    } else {
        FAILS_SAYING(xbuf_dlpack_import(&p->t, &m, &err), c->code, c->needle);
    }
    cr_assert_null(m, "%s: *out not NULL", c->what);
    cr_assert_eq(p->deletes + p->legacy_deletes, 0, "%s: xbuf called the deleter", c->what);
    cr_assert_eq(failing_alloc_live_blocks(), 0, "%s: leaked", c->what);
    /* the caller still owns it, and deletes it */
    if (legacy)
        p->legacy.deleter(&p->legacy);
    else
        p->t.deleter(&p->t);
    cr_assert_eq(p->deletes + p->legacy_deletes, 1);
}

TEST(import_refusals_leave_the_tensor_to_the_caller)
{
    for (int legacy = 0; legacy < 2; legacy++) {
        for (int i = 0; i < COUNT(bad_cases); i++) {
            producer p;
            int64_t shape[2] = {3, 4};
            producer_init(&p, XBUF_DL_INT, 32, 2, shape);
            bad_cases[i].spoil(&p);
            assert_refused(&p, legacy, &bad_cases[i]);
        }
    }
    for (int i = 0; i < COUNT(bad_versions); i++) {
        producer p;
        int64_t shape[2] = {3, 4};
        producer_init(&p, XBUF_DL_INT, 32, 2, shape);
        bad_versions[i].spoil(&p);
        assert_refused(&p, false, &bad_versions[i]);
    }
    /* NULL arguments */
    xbuf_error err;
    xbuf_mview *m = JUNK_MVIEW;
    FAILS_SAYING(xbuf_dlpack_import(NULL, &m, &err), XBUF_EINVAL, "NULL");
    cr_assert_null(m);
    m = JUNK_MVIEW;
    FAILS_SAYING(xbuf_dlpack_import_legacy(NULL, &m, &err), XBUF_EINVAL, "NULL");
    cr_assert_null(m);
    producer p;
    producer_init(&p, XBUF_DL_INT, 32, 0, NULL);
    FAILS_SAYING(xbuf_dlpack_import(&p.t, NULL, &err), XBUF_EINVAL, "out is NULL");
    FAILS_SAYING(xbuf_dlpack_import_legacy(&p.legacy, NULL, &err), XBUF_EINVAL, "out is NULL");
    cr_assert_eq(xbuf_dlpack_import(NULL, &m, NULL), XBUF_EINVAL);
    /* a 0-d tensor has one item: NULL data is malformed */
    p.t.dl_tensor.data = NULL;
    FAILS_SAYING(xbuf_dlpack_import(&p.t, &m, &err), XBUF_EINVAL, "NULL data");
    cr_assert_eq(p.deletes, 0);
    finish();
}

/* ==== round trips ========================================================== */

/* Export `m` (versioned or legacy, with `copy`), import the tensor, and
 * compare the two views by value; the import owns the tensor, so its last
 * unref must give the source's export back when no copy was made. */
static void assert_round_trip(xbuf_mview *m, xbuf_dlpack_copy copy, bool legacy,
                              const char *what)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t exports = xbuf_mview_exports(m);
    xbuf_mview *back = NULL;
    bool copied;
    if (legacy) {
        xbuf_dl_managed_tensor *l = export_legacy_ok(m, copy);
        copied = l->dl_tensor.data != V(m)->buf;
        MUST(xbuf_dlpack_import_legacy(l, &back, &err));
    } else {
        xbuf_dl_managed_tensor_versioned *t = export_ok(m, copy);
        copied = (t->flags & XBUF_DL_FLAG_IS_COPIED) != 0;
        MUST(xbuf_dlpack_import(t, &back, &err));
    }
    bool equal = false;
    MUST(xbuf_equal(V(m), V(back), &equal, &err));
    cr_assert(equal, "%s: the round trip changed the values", what);
    cr_assert_eq(V(back)->readonly, legacy ? 0 : copied ? 0 : V(m)->readonly, "%s", what);
    cr_assert_eq(xbuf_mview_exports(m), exports + (copied ? 0 : 1), "%s", what);
    xbuf_mview_unref(back);
    cr_assert_eq(xbuf_mview_exports(m), exports, "%s: the deleter did not run", what);
}

TEST(round_trips)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    /* values that compare well: small integers as int32 and as doubles */
    int32_t *ints = (int32_t *)(void *)arena;
    for (int i = 0; i < 24; i++)
        ints[i] = i * 3 - 20;
    double *doubles = (double *)(void *)(arena + 1024);
    for (int i = 0; i < 24; i++)
        doubles[i] = i * 0.5 - 3;
    source s[4];
    ptrdiff_t shape[3] = {2, 3, 4};
    source_init(&s[0], "i", 4, 3, shape, NULL, 0);
    source_init(&s[1], "d", 8, 3, shape, NULL, 1024);
    char fd[4] = {foreign_order(), 'd', 0};
    source_init(&s[2], fd, 8, 3, shape, NULL, 1024);
    source_init(&s[3], "i", 4, 3, shape, NULL, 0);
    s[3].readonly = true;
    xbuf_mview *base[4], *derived[4][3];
    xbuf_slice sl[3] = {{XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1}, {0, 3, 2},
                        {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -3}};
    for (int i = 0; i < 4; i++) {
        base[i] = source_open(&s[i]);
        derived[i][0] = xbuf_mview_retain(base[i]);
        MUST(xbuf_mview_transpose(base[i], &derived[i][1], &err));
        MUST(xbuf_mview_slice(base[i], sl, 3, &derived[i][2], &err));
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int copy = XBUF_DLPACK_COPY_NEVER; copy <= XBUF_DLPACK_COPY_ALWAYS; copy++)
                for (int legacy = 0; legacy < 2; legacy++) {
                    bool refused = (i == 2 || (i == 3 && legacy)) &&
                                   copy == XBUF_DLPACK_COPY_NEVER;
                    if (refused)
                        continue;
                    char what[64];
                    snprintf(what, sizeof what, "source %d, layout %d, copy %d, legacy %d", i,
                             j, copy, legacy);
                    assert_round_trip(derived[i][j], (xbuf_dlpack_copy)copy, legacy, what);
                }
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 3; j++)
            xbuf_mview_unref(derived[i][j]);
        xbuf_mview_unref(base[i]);
        cr_assert_eq(s[i].releases, 1);
    }
    finish();
}

/* An imported tensor exported again: the new tensor holds the import,
 * which holds the producer's tensor. */
TEST(import_then_export_chains_ownership)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    producer p;
    int64_t shape[2] = {3, 5};
    producer_init(&p, XBUF_DL_INT, 64, 2, shape);
    xbuf_mview *m = NULL;
    MUST(xbuf_dlpack_import(&p.t, &m, &err));
    xbuf_dl_managed_tensor_versioned *t = export_ok(m, XBUF_DLPACK_COPY_NEVER);
    cr_assert_eq(t->dl_tensor.data, (void *)arena);
    cr_assert_eq(t->dl_tensor.strides[0], 5);
    FAILS_SAYING(xbuf_mview_release(m, &err), XBUF_EBUSY, "1 view exported");
    xbuf_mview_unref(m);
    cr_assert_eq(p.deletes, 0);
    t->deleter(t);
    cr_assert_eq(p.deletes, 1);
    finish();
}

/* ==== allocation failure ==================================================== */

typedef struct export_sweep {
    source s;
    xbuf_mview *m;
    const char *format;
    ptrdiff_t offset;
    xbuf_dlpack_copy copy;
    bool legacy;
    xbuf_dl_managed_tensor_versioned *t;
    xbuf_dl_managed_tensor *l;
    int rc;
} export_sweep;

static void es_setup(void *ctx)
{
    export_sweep *c = ctx;
    ptrdiff_t shape[2] = {3, 4};
    source_init(&c->s, c->format, 8, 2, shape, NULL, c->offset);
    c->m = source_open(&c->s);
}

static int es_run(void *ctx)
{
    export_sweep *c = ctx;
    c->t = JUNK_TENSOR;
    c->l = JUNK_LEGACY;
    if (c->legacy)
        c->rc = xbuf_dlpack_export_legacy(c->m, c->copy, &c->l, NULL);
    else
        c->rc = xbuf_dlpack_export(c->m, c->copy, &c->t, NULL);
    return c->rc;
}

static const char *es_after_failure(void *ctx)
{
    export_sweep *c = ctx;
    if ((c->legacy ? (void *)c->l : (void *)c->t) != NULL)
        return "*out is not NULL";
    if (xbuf_mview_exports(c->m) != 0)
        return "a failed export kept the mview's export";
    if (c->s.releases != 0)
        return "the source was released";
    return NULL;
}

static void es_teardown(void *ctx)
{
    export_sweep *c = ctx;
    if (c->rc == XBUF_OK && c->legacy)
        c->l->deleter(c->l);
    else if (c->rc == XBUF_OK)
        c->t->deleter(c->t);
    cr_assert_eq(xbuf_mview_exports(c->m), 0);
    xbuf_mview_unref(c->m);
    cr_assert_eq(c->s.releases, 1, "the source released %d times", c->s.releases);
}

TEST(allocation_failure_export)
{
    char fd[4] = {foreign_order(), 'd', 0};
    struct {
        const char *format;
        ptrdiff_t offset;
        xbuf_dlpack_copy copy;
    } cases[] = {
        {"d", 0, XBUF_DLPACK_COPY_NEVER},      /* in place */
        {"d", 0, XBUF_DLPACK_COPY_ALWAYS},     /* plain copy */
        {fd, 0, XBUF_DLPACK_COPY_IF_NEEDED},   /* converting copy */
        {"d", 4, XBUF_DLPACK_COPY_IF_NEEDED},  /* misaligned: plain copy */
    };
    for (int i = 0; i < COUNT(cases); i++)
        for (int legacy = 0; legacy < 2; legacy++) {
            export_sweep c = {0};
            c.format = cases[i].format;
            c.offset = cases[i].offset;
            c.copy = cases[i].copy;
            c.legacy = legacy;
            failing_alloc_op op = {es_setup, es_run, es_after_failure, es_teardown, &c, 1000};
            failing_alloc_report report;
            int rc = failing_alloc_sweep(&op, &report);
            cr_assert_eq(rc, 0, "case %d legacy %d: %ld problem(s); first: %s", i, legacy,
                         report.problems, report.message);
            cr_assert_gt(report.points, 0);
        }
    finish();
}

/* A refusal that allocates on the way (parsing the format) must free it
 * all, whichever allocation fails. */
TEST(allocation_failure_export_refused)
{
    for (int legacy = 0; legacy < 2; legacy++) {
        export_sweep c = {0};
        c.format = "T{i:a:i:b:}";
        c.copy = XBUF_DLPACK_COPY_ALWAYS;
        c.legacy = legacy;
        es_setup(&c);
        size_t live = failing_alloc_live_blocks();
        long n = 0;
        for (;; n++) {
            failing_alloc_fail_at(n);
            int rc = es_run(&c);
            bool hit = failing_alloc_failure_hit();
            failing_alloc_fail_at(-1);
            cr_assert_eq(failing_alloc_live_blocks(), live, "failure %ld leaked", n);
            cr_assert_null(legacy ? (void *)c.l : (void *)c.t);
            cr_assert_eq(xbuf_mview_exports(c.m), 0);
            if (!hit) {
                cr_assert_eq(rc, XBUF_EUNSUPPORTED);
                break;
            }
            cr_assert_eq(rc, XBUF_ENOMEM);
        }
        cr_assert_gt(n, 0, "parsing the format allocates");
        es_teardown(&c);
    }
    finish();
}

typedef struct import_sweep {
    producer p;
    bool legacy;
    xbuf_mview *m;
    int rc;
} import_sweep;

static void is_setup(void *ctx)
{
    import_sweep *c = ctx;
    int64_t shape[2] = {3, 4};
    producer_init(&c->p, XBUF_DL_FLOAT, 32, 2, shape);
}

static int is_run(void *ctx)
{
    import_sweep *c = ctx;
    c->m = JUNK_MVIEW;
    c->rc = c->legacy ? xbuf_dlpack_import_legacy(&c->p.legacy, &c->m, NULL)
                      : xbuf_dlpack_import(&c->p.t, &c->m, NULL);
    return c->rc;
}

static const char *is_after_failure(void *ctx)
{
    import_sweep *c = ctx;
    if (c->m != NULL)
        return "*out is not NULL";
    if (c->p.deletes + c->p.legacy_deletes != 0)
        return "a failed import called the deleter";
    return NULL;
}

static void is_teardown(void *ctx)
{
    import_sweep *c = ctx;
    if (c->rc == XBUF_OK)
        xbuf_mview_unref(c->m);
    else if (c->legacy)
        c->p.legacy.deleter(&c->p.legacy); /* still the caller's */
    else
        c->p.t.deleter(&c->p.t);
    cr_assert_eq(c->p.deletes + c->p.legacy_deletes, 1, "deleter called %d times",
                 c->p.deletes + c->p.legacy_deletes);
}

TEST(allocation_failure_import)
{
    for (int legacy = 0; legacy < 2; legacy++) {
        import_sweep c = {0};
        c.legacy = legacy;
        failing_alloc_op op = {is_setup, is_run, is_after_failure, is_teardown, &c, 1000};
        failing_alloc_report report;
        cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "legacy %d: %s", legacy,
                     report.message);
        cr_assert_gt(report.points, 1, "the import allocates its block and the mview");
    }
    finish();
}
