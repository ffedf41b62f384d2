/*
 * fuzz_mview.c -- libFuzzer target for view objects (layer 4), the copy
 * engine (layer 3) under them and the bridges' exports over them.
 *
 * One input is one story, decoded from the bytes (fuzz_common.h: past the
 * end everything reads as zero):
 *
 *   1. Two real allocations, D and E, of up to 64 KiB each, filled from the
 *      input.  Every view the target builds lies inside one of them.
 *   2. Root views over them: ndim 0..6, extents 0..31 (at most MAX_ITEMS
 *      items), strides of any sign, zero or not a multiple of the itemsize,
 *      C or F order or neither, any offset (often flush against an end of
 *      the allocation, so that one byte too far is an ASan report), a format
 *      from a table (records with named fields, sub-arrays, 'c', '?', bit
 *      fields, non-native orders) or raw from the input, sometimes an
 *      itemsize that disagrees with the format, and sometimes PIL-style:
 *      suboffsets on any dimensions, with pointer tables the target
 *      allocates, every pointer in them aimed inside the next table or D.
 *      A root comes from xbuf_mview_from_view or from an exporter
 *      (xbuf_mview_from_exporter); the metadata the root was built from is
 *      freed at once, since an mview must own copies of it.
 *   3. A chain of operations on a pool of mviews: slice, index, field,
 *      cast, permute, transpose, copy, pointer, iteration (item by item and
 *      row by row), export through xbuf_mview_exporter + xbuf_get (held
 *      views pin their mview: release must say XBUF_EBUSY), release, unref;
 *      xbuf_copy, xbuf_copy_convert, xbuf_fill, xbuf_copy_to/from_contiguous
 *      and xbuf_equal between views of the pool and fresh views of the same
 *      shape in D or E (so operands overlap, or not); DLPack and Arrow
 *      export + import of pool views.
 *
 * What is checked (an abort is a finding; ASan, UBSan and LeakSanitizer
 * findings abort too):
 *   - every derivation succeeds exactly when its documented preconditions
 *     hold, and otherwise fails with the documented code;
 *   - every mview that comes out passes xbuf_view_check, has
 *     len == product(shape) * itemsize, and every byte of every item it
 *     reaches lies inside its allocation: xbuf_view_extent against an
 *     independent computation for direct views, and for indirect ones a
 *     walk that follows every pointer (each pointer slot read must lie in a
 *     pointer table);
 *   - derivations address what they should: the item at index i of a slice,
 *     an index, a permutation or a field is the parent's item it comes
 *     from (xbuf_mview_pointer on both sides);
 *   - xbuf_mview_pointer, xbuf_iter_next and xbuf_iter_next_row agree with
 *     the reference walk, item for item;
 *   - copies write what a temporary copy of the source holds (memmove
 *     semantics), to_contiguous gives the reference walk's bytes in C, F
 *     or 'A' order, fill sets every item, and a refused operation leaves
 *     the destination's allocation untouched;
 *   - xbuf_equal is symmetric, a view without floats equals itself, a copy
 *     equals its source, and integer conversions preserve values;
 *   - xbuf_get on an mview serves exactly the requests memoryview would;
 *   - at the end every root's exporter has seen its one export given back
 *     exactly once (export count 0), and nothing leaks.
 *
 * Malformed roots are fuzzed too (probe_malformed): metadata a real
 * exporter could hand over -- ndim outside 0..64, itemsize <= 0, negative
 * extents, len that disagrees with the shape, strides whose span overflows,
 * shapes without strides or the reverse, empty formats, suboffsets (on
 * views without items only: the checks read the pointer tables of any
 * other) -- over a fake address.  xbuf cannot know how big an exporter's
 * memory is, so it refuses exactly the views whose metadata breaks the
 * protocol; an independent model of protocol.h's rules says which, and the
 * refusal must happen exactly then.  An accepted one is only derived from
 * and (without items) exported to DLPack and Arrow and imported back --
 * never read -- and every derivation must stay inside its parent's byte
 * range.
 */
#define FUZZ_NAME "fuzz_mview"
#include "fuzz_common.h"

#include "xbuf.h"

enum {
    MAX_DIM = 6,          /* of a root */
    MAX_ITEMS = 2048,     /* items of a root */
    MAX_ITEMSIZE = 128,   /* of a root */
    MAX_POOL = 24,        /* mviews alive at once */
    MAX_OPS = 64,         /* operations per input */
    MAX_HELD = 8,         /* exported views held at once */
    MAX_ROOTS = 12,
    MAX_TABLES = MAX_ROOTS * MAX_DIM, /* one per indirect dimension of a root */
    MAX_WALK = 1 << 15,   /* items the reference walk visits per view */
    MAX_REGION = 1 << 16, /* bytes of D and E */
};

/* ---- the world ---------------------------------------------------------- */

typedef struct region {
    unsigned char *base;
    size_t size;
} region;

/* The exporter behind a root: counts its export and the releases of it. */
typedef struct root {
    xbuf_exporter exporter;
    xbuf_exports exports;
    int releases;
    xbuf_view served; /* what get hands out; its arrays are freed after the mview copied them */
} root;

typedef struct entry {
    xbuf_mview *m;
    int home;     /* index into world.data, or -1: memory the target does not know */
    int held;     /* views exported from it that the target holds */
    bool fake;    /* a malformed probe's view over a fake address: never read */
} entry;

typedef struct held_view {
    xbuf_view view;
    xbuf_mview *from;
} held_view;

typedef struct world {
    fuzz_input in;
    uint64_t prng;
    region data[2];
    region tables[MAX_TABLES];
    int ntables;
    root *roots[MAX_ROOTS];
    int nroots;
    entry pool[MAX_POOL];
    int npool;
    held_view held[MAX_HELD];
    int nheld;
} world;

static bool inside(const region *r, const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)r->base;
    return a >= b && n <= r->size && a - b <= r->size - n;
}

static bool overlaps_region(const region *r, const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)r->base;
    return n > 0 && r->size > 0 && a < b + r->size && b < a + n;
}

/* ---- formats ------------------------------------------------------------ */

static const char *const formats[] = {
    "B", "b", "c", "?", "<h", ">h", "<i", ">i", "i", "<I", ">I", "<q", ">q", "Q", "q", "n",
    "N", "<e", "<f", ">f", "d", ">d", "<Zf", ">Zd", "g", "P", "O", "3s", "2i", "(2,3)B",
    "ii", "bi", "<H", ">Q", "=l", "^q", "!h", "e", "5t", "x", "2x",
    "T{i:a:d:b:}", "T{<h:x:(2,3)B:y:}", "T{T{i:c:d:}:n:?:f:}", "T{b:a:x:c:>I:d:}",
    "T{c:a:3s:s:}", "T{3t:a:5t:b:}", "T{>i:m:<i:k:}", "T{B:z:}", "T{<q:a:<q:b:}",
    "T{(2)h:v:b:w:}", "T{T{B:p:B:q:}:r:}", "T{?:flag:x:3x:pad:}", "T{<d:re:<d:im:}",
    "T{i:a:}", "T{}", "T{O:o:P:p:}", "T{u:c:w:d:}",
};

/* Field names the formats above use, for paths that may or may not exist. */
static const char *const field_names[] = {"a", "b", "c", "d", "x", "y", "n", "n.c", "n.d",
                                           "f", "m", "k", "z", "v", "w", "r", "r.p", "r.q",
                                           "flag", "pad", "re", "im", "s", "o", "p", "nope",
                                           "", ".", "a.", "f0", "f1"};

static const char *const cast_formats[] = {"B", "b", "c", "<i", "<h", ">h", "d", "<q", "2B",
                                           "T{i:a:}", "(3)b", "?", "3s", "<Zd", "x", "e"};

/* Single numeric leaves, for value conversions. */
static const char *const numeric_formats[] = {"b", "B", "?", "<h", ">h", "<H", "<i", ">i", "I",
                                              "<q", ">q", ">Q", "n", "N", "<e", ">e", "f",
                                              ">f", "<d", ">d", "Zf", ">Zd", "g", "c", "3s"};

/* What parsing a view's format may fail with (format.h). */
static bool parse_error(int rc)
{
    return rc == XBUF_EFORMAT || rc == XBUF_EOVERFLOW;
}

/* Whether every leaf of `format` is compared exactly by xbuf_equal (no
 * floats, so no NaN), judged by the parsed tree. */
static int exact_leaf(const xbuf_leaf *leaf, void *context)
{
    (void)context;
    return leaf->type->kind == XBUF_KIND_FLOAT || leaf->type->kind == XBUF_KIND_COMPLEX;
}

static bool format_is_exact(const xbuf_view *v)
{
    xbuf_format *f;
    if (xbuf_view_format(v, &f, NULL) < 0)
        return false;
    bool exact = xbuf_type_walk(xbuf_format_type(f), exact_leaf, NULL, NULL) == 0;
    xbuf_format_release(f);
    return exact;
}

/* Whether `format` is one integer leaf (bools and chars excluded): values of
 * such formats survive any conversion that succeeds without overflow. */
static bool format_is_integer(const char *format)
{
    xbuf_format *f;
    if (xbuf_format_parse(format, &f, NULL) < 0)
        return false;
    const xbuf_type *t = xbuf_format_type(f);
    bool integer = t->kind == XBUF_KIND_INT || t->kind == XBUF_KIND_UINT;
    xbuf_format_release(f);
    return integer;
}

/* ---- the reference walk ------------------------------------------------- */

/* Checked views only: with no zero extent the product fits (len does). */
static ptrdiff_t items_of(const xbuf_view *v)
{
    for (int i = 0; i < v->ndim; i++)
        if (v->shape[i] == 0)
            return 0;
    ptrdiff_t n = 1;
    for (int i = 0; i < v->ndim; i++)
        n *= v->shape[i];
    return n;
}

static bool is_indirect(const xbuf_view *v)
{
    for (int i = 0; v->suboffsets != NULL && i < v->ndim; i++)
        if (v->suboffsets[i] >= 0)
            return true;
    return false;
}

/* Where a pointer slot may lie: in one of the target's tables, or in a
 * table an mview family made (index_indirect), which is neither D nor E. */
static void check_slot(const world *w, const void *slot)
{
    for (int t = 0; t < w->ntables; t++)
        if (inside(&w->tables[t], slot, sizeof(void *)))
            return;
    for (int k = 0; k < 2; k++)
        CHECK(!overlaps_region(&w->data[k], slot, sizeof(void *)));
}

/* PyBuffer_GetPointer, written from PEP 3118 with every slot read checked. */
static char *ref_pointer(const world *w, const xbuf_view *v, const ptrdiff_t *index)
{
    char *p = v->buf;
    for (int d = 0; d < v->ndim; d++) {
        p += index[d] * v->strides[d];
        if (v->suboffsets != NULL && v->suboffsets[d] >= 0) {
            check_slot(w, p);
            char *next;
            memcpy(&next, p, sizeof next);
            CHECK(next != NULL);
            p = next + v->suboffsets[d];
        }
    }
    return p;
}

static void check_item(const world *w, int home, const xbuf_view *v, const char *item)
{
    if (home >= 0)
        CHECK(inside(&w->data[home], item, (size_t)v->itemsize));
}

/* The next index in C order ('C') or Fortran order ('F'); false at the end. */
static bool next_index(const xbuf_view *v, ptrdiff_t *index, char order)
{
    for (int k = 0; k < v->ndim; k++) {
        int d = order == 'F' ? k : v->ndim - 1 - k;
        if (++index[d] < v->shape[d])
            return true;
        index[d] = 0;
    }
    return false;
}

/* Visit up to `cap` items in `order`; the callback gets each item's address. */
typedef void (*item_fn)(void *ctx, char *item, ptrdiff_t n);

static ptrdiff_t walk(const world *w, int home, const xbuf_view *v, char order, ptrdiff_t cap,
                      item_fn fn, void *ctx)
{
    if (items_of(v) == 0)
        return 0;
    ptrdiff_t index[XBUF_MAX_NDIM] = {0}, n = 0;
    do {
        char *item = ref_pointer(w, v, index);
        check_item(w, home, v, item);
        if (fn != NULL)
            fn(ctx, item, n);
        n++;
    } while (n < cap && next_index(v, index, order));
    return n;
}

/* The items' bytes, packed in `order`. */
typedef struct gather_ctx {
    unsigned char *out;
    ptrdiff_t itemsize;
} gather_ctx;

static void gather_one(void *ctx, char *item, ptrdiff_t n)
{
    gather_ctx *g = ctx;
    memcpy(g->out + n * g->itemsize, item, (size_t)g->itemsize);
}

static unsigned char *gather(const world *w, int home, const xbuf_view *v, char order)
{
    unsigned char *out = xmalloc((size_t)v->len);
    gather_ctx g = {out, v->itemsize};
    walk(w, home, v, order, PTRDIFF_MAX, gather_one, &g);
    return out;
}

/* Whether two items of the view share a byte (then what a copy leaves
 * there depends on the order it writes in). */
typedef struct overlap_ctx {
    unsigned char *bits;
    uintptr_t base;
    ptrdiff_t itemsize;
    bool overlap;
} overlap_ctx;

static void mark_one(void *ctx, char *item, ptrdiff_t n)
{
    (void)n;
    overlap_ctx *o = ctx;
    for (ptrdiff_t b = 0; b < o->itemsize; b++) {
        uintptr_t at = (uintptr_t)item + (uintptr_t)b - o->base;
        if (o->bits[at / 8] & (1u << (at % 8)))
            o->overlap = true;
        o->bits[at / 8] |= (unsigned char)(1u << (at % 8));
    }
}

static bool self_overlaps(const world *w, int home, const xbuf_view *v)
{
    if (home < 0)
        return true; /* unknown memory: assume the worst */
    const region *r = &w->data[home];
    overlap_ctx o = {calloc(r->size / 8 + 1, 1), (uintptr_t)r->base, v->itemsize, false};
    CHECK(o.bits != NULL);
    walk(w, home, v, 'C', PTRDIFF_MAX, mark_one, &o);
    free(o.bits);
    return o.overlap;
}

/* Whether any byte of a's items is a byte of b's items. */
static bool views_share_bytes(const world *w, int ha, const xbuf_view *a, int hb,
                              const xbuf_view *b)
{
    if (ha < 0 || hb < 0)
        return true;
    if (ha != hb)
        return false;
    const region *r = &w->data[ha];
    overlap_ctx o = {calloc(r->size / 8 + 1, 1), (uintptr_t)r->base, a->itemsize, false};
    CHECK(o.bits != NULL);
    walk(w, ha, a, 'C', PTRDIFF_MAX, mark_one, &o);
    o.overlap = false;
    o.itemsize = b->itemsize;
    walk(w, hb, b, 'C', PTRDIFF_MAX, mark_one, &o);
    free(o.bits);
    return o.overlap;
}

/* ---- checking an mview -------------------------------------------------- */

/* Contiguity with CPython's rules, written independently of layout.c. */
static bool model_contiguous(const xbuf_view *v, char order)
{
    if (is_indirect(v))
        return false;
    if (items_of(v) == 0)
        return true;
    if (order == 'A')
        return model_contiguous(v, 'C') || model_contiguous(v, 'F');
    ptrdiff_t expected = v->itemsize;
    for (int k = 0; k < v->ndim; k++) {
        int d = order == 'C' ? v->ndim - 1 - k : k;
        if (v->shape[d] > 1 && v->strides[d] != expected)
            return false;
        expected *= v->shape[d];
    }
    return true;
}

/* [lo, hi) relative to buf, by the definition: the lowest and highest byte
 * any item touches (a view without items touches none: 0, 0). */
static void model_extent(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                         ptrdiff_t itemsize, fuzz_i128 *lo, fuzz_i128 *hi)
{
    *lo = 0;
    *hi = itemsize;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0) {
            *lo = *hi = 0;
            return;
        }
    }
    for (int i = 0; i < ndim; i++) {
        fuzz_i128 span = (fuzz_i128)strides[i] * (shape[i] - 1);
        if (span < 0)
            *lo += span;
        else
            *hi += span;
    }
}

/* Every promise about a view an mview hands out, and every item it reaches
 * inside its allocation. */
static void check_view(const world *w, const entry *e)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    CHECK(v != NULL);
    CHECK(v->ndim >= 0 && v->ndim <= XBUF_MAX_NDIM);
    CHECK(v->format != NULL && v->format[0] != '\0');
    CHECK(v->ndim == 0 || (v->shape != NULL && v->strides != NULL));
    CHECK(v->suboffsets == NULL || is_indirect(v));
    xbuf_error err;
    int rc = xbuf_view_check(v, XBUF_FULL_RO, &err);
    CHECK_RC(rc == XBUF_OK, rc, err);
    CHECK(items_of(v) * v->itemsize == v->len);
    CHECK(xbuf_view_is_contiguous(v, 'C') == model_contiguous(v, 'C'));
    CHECK(xbuf_view_is_contiguous(v, 'F') == model_contiguous(v, 'F'));
    ptrdiff_t lo, hi;
    rc = xbuf_view_extent(v, &lo, &hi, &err);
    /* The check measures spans in items; an indirect view's extent is its
     * pointer table's, in pointers, which may not fit (documented) -- but a
     * view without items reaches no table: 0, 0. */
    if (rc == XBUF_EOVERFLOW && is_indirect(v) && e->fake && v->len > 0)
        return;
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (!is_indirect(v)) {
        fuzz_i128 mlo, mhi;
        model_extent(v->ndim, v->shape, v->strides, v->itemsize, &mlo, &mhi);
        CHECK(mlo == lo && mhi == hi);
        if (e->home >= 0 && !e->fake && hi > lo)
            CHECK(inside(&w->data[e->home], (char *)v->buf + lo, (size_t)(hi - lo)));
    }
    if (!e->fake && (is_indirect(v) || items_of(v) <= MAX_WALK))
        walk(w, e->home, v, 'C', MAX_WALK, NULL, NULL);
}

/* ---- the pool ----------------------------------------------------------- */

/* Take a new mview into the pool after checking it; full pool: drop it. */
static entry *admit(world *w, xbuf_mview *m, int home, bool fake)
{
    entry e = {m, home, 0, fake};
    check_view(w, &e);
    CHECK(xbuf_mview_exports(m) == 0);
    if (w->npool == MAX_POOL) {
        xbuf_mview_unref(m);
        return NULL;
    }
    w->pool[w->npool] = e;
    return &w->pool[w->npool++];
}

static entry *pick(world *w)
{
    return w->npool == 0 ? NULL : &w->pool[take_index(&w->in, (size_t)w->npool)];
}

static entry *find(world *w, const xbuf_mview *m)
{
    for (int i = 0; i < w->npool; i++)
        if (w->pool[i].m == m)
            return &w->pool[i];
    return NULL;
}

/* The parent's item at `index`, or NULL when it has none there. */
static void *item_at(const xbuf_mview *m, const ptrdiff_t *index)
{
    void *p = NULL;
    xbuf_error err;
    int rc = xbuf_mview_pointer(m, index, &p, &err);
    CHECK_RC(rc == XBUF_OK, rc, err);
    return p;
}

/* A random valid index of a view with items, in index[]. */
static void random_index(world *w, const xbuf_view *v, ptrdiff_t *index)
{
    for (int d = 0; d < v->ndim; d++)
        index[d] = (ptrdiff_t)(take_u8(&w->in) % (unsigned)v->shape[d]);
}

/* ---- roots -------------------------------------------------------------- */

static int root_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    (void)flags;
    (void)err;
    root *r = (root *)self;
    int rc = xbuf_exports_acquire(&r->exports, err);
    if (rc < 0)
        return rc;
    *view = r->served;
    return XBUF_OK;
}

static void root_release(xbuf_view *view)
{
    root *r = view->obj;
    r->releases++;
    CHECK(xbuf_exports_release(&r->exports, NULL) == XBUF_OK);
}

/* What a root is built from: its metadata, in arrays of its own. */
typedef struct spec {
    int ndim;
    ptrdiff_t shape[MAX_DIM], strides[MAX_DIM], suboffsets[MAX_DIM];
    bool with_suboffsets;
    ptrdiff_t itemsize, len;
    char format[48];
    void *buf;
    bool readonly;
} spec;

static ptrdiff_t *copy_array(const ptrdiff_t *a, int n)
{
    ptrdiff_t *p = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

static char *copy_string(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);
    strcpy(p, s);
    return p;
}

/* Free what the exporter handed out: the mview must own copies. */
static void free_served(xbuf_view *v)
{
    free(v->shape);
    free(v->strides);
    free(v->suboffsets);
    free((char *)v->format);
    v->shape = v->strides = v->suboffsets = NULL;
    v->format = NULL;
}

/* Wrap a spec in a new root mview (through an exporter or directly). */
static xbuf_mview *make_root(world *w, const spec *s, bool via_exporter)
{
    if (w->nroots == MAX_ROOTS)
        return NULL;
    root *r = xmalloc(sizeof *r);
    memset(r, 0, sizeof *r);
    r->exporter.get = root_get;
    w->roots[w->nroots++] = r;
    xbuf_view *v = &r->served;
    v->buf = s->buf;
    v->obj = r;
    v->len = s->len;
    v->itemsize = s->itemsize;
    v->readonly = s->readonly;
    v->ndim = s->ndim;
    v->format = copy_string(s->format);
    v->shape = copy_array(s->shape, s->ndim);
    v->strides = copy_array(s->strides, s->ndim);
    v->suboffsets = s->with_suboffsets ? copy_array(s->suboffsets, s->ndim) : NULL;
    v->release = root_release;
    xbuf_mview *m = NULL;
    xbuf_error err;
    int rc;
    if (via_exporter) {
        rc = xbuf_mview_from_exporter(&r->exporter, s->readonly ? XBUF_FULL_RO : XBUF_FULL, &m,
                                      &err);
    } else {
        CHECK(xbuf_exports_acquire(&r->exports, NULL) == XBUF_OK);
        xbuf_view moved = *v;
        rc = xbuf_mview_from_view(&moved, &m, &err);
        if (rc == XBUF_OK)
            CHECK(moved.buf == NULL && moved.release == NULL); /* moved into the mview */
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    const xbuf_view *got = xbuf_mview_view(m);
    CHECK(got->buf == s->buf && got->len == s->len && got->itemsize == s->itemsize);
    CHECK(got->ndim == s->ndim && (got->readonly != 0) == s->readonly);
    CHECK(strcmp(got->format, s->format) == 0);
    bool indirect = false;
    for (int i = 0; s->with_suboffsets && i < s->ndim; i++)
        indirect |= s->suboffsets[i] >= 0;
    CHECK((got->suboffsets != NULL) == indirect);
    for (int i = 0; i < s->ndim; i++) {
        CHECK(got->shape[i] == s->shape[i] && got->strides[i] == s->strides[i]);
        if (got->suboffsets != NULL)
            CHECK(got->suboffsets[i] == s->suboffsets[i]);
    }
    free_served(v);
    return m;
}

/* ---- building valid roots ----------------------------------------------- */

static void add_table(world *w, unsigned char *base, size_t size)
{
    CHECK(w->ntables < MAX_TABLES);
    w->tables[w->ntables++] = (region){base, size};
}

/* A format and its itemsize; false when none fits the limits. */
static bool choose_format(world *w, spec *s)
{
    uint8_t pickf = take_u8(&w->in);
    size_t nformats = sizeof formats / sizeof formats[0];
    if (pickf < 240) {
        snprintf(s->format, sizeof s->format, "%s", formats[pickf % nformats]);
    } else {
        size_t n = take_u8(&w->in) % (sizeof s->format - 1);
        take_bytes(&w->in, s->format, n);
        s->format[n] = '\0';
        if (s->format[0] == '\0')
            snprintf(s->format, sizeof s->format, "B");
    }
    ptrdiff_t size = 0;
    if (xbuf_format_size(s->format, &size, NULL, NULL) < 0 || size <= 0)
        size = 1 + take_u8(&w->in) % 16; /* an exporter's itemsize for a format xbuf reads not */
    uint8_t skew = take_u8(&w->in);
    if (skew >= 224) /* the exporter's itemsize disagrees with its format (ctypes does) */
        size = skew % 2 ? size + (skew >> 1) % 9 : 1 + (skew >> 1) % size;
    s->itemsize = size;
    return size > 0 && size <= MAX_ITEMSIZE;
}

static void cap_items(int ndim, ptrdiff_t *shape)
{
    for (;;) {
        ptrdiff_t n = 1;
        int largest = 0;
        for (int i = 0; i < ndim; i++) {
            n *= shape[i];
            if (shape[i] > shape[largest])
                largest = i;
        }
        if (n <= MAX_ITEMS)
            return;
        shape[largest] /= 2;
    }
}

/* Strides for the dimensions [first, last] of a group with items of
 * `itemsize` bytes; pointer groups (slot) step in whole pointers. */
static void choose_strides(world *w, spec *s, int first, int last, ptrdiff_t itemsize, bool slot)
{
    uint8_t mode = take_u8(&w->in) % 5;
    ptrdiff_t step = itemsize;
    for (int k = 0; k <= last - first; k++) {
        int d = mode == 1 ? first + k : last - k; /* mode 1: Fortran order */
        ptrdiff_t extent = s->shape[d] > 0 ? s->shape[d] : 1;
        if (slot) {
            s->strides[d] = mode <= 1 ? step : (ptrdiff_t)sizeof(void *) *
                                                   ((int8_t)take_u8(&w->in) % 4);
        } else if (mode <= 1) {
            s->strides[d] = step;
        } else if (mode == 2) { /* C order, some dimensions reversed */
            s->strides[d] = take_bool(&w->in) ? -step : step;
        } else {
            uint8_t r = take_u8(&w->in);
            int8_t x = (int8_t)take_u8(&w->in);
            switch (r % 4) {
            case 0: s->strides[d] = itemsize * (x % 5); break;
            case 1: s->strides[d] = x; break;
            case 2: s->strides[d] = 0; break;
            default: s->strides[d] = (ptrdiff_t)(int16_t)take_u16(&w->in) % 2048; break;
            }
        }
        step *= extent;
    }
}

static void group_extent(const spec *s, int first, int last, ptrdiff_t itemsize, ptrdiff_t *lo,
                         ptrdiff_t *hi)
{
    *lo = 0;
    *hi = itemsize;
    for (int d = first; d <= last; d++) {
        ptrdiff_t extent = s->shape[d] > 0 ? s->shape[d] : 1; /* tables exist for empty views too */
        ptrdiff_t span = s->strides[d] * (extent - 1);
        if (span < 0)
            *lo += span;
        else
            *hi += span;
    }
}

/* Where a group's first item may start inside an area of `size` bytes
 * whose addresses reach [lo, hi) from it; slot groups at whole-pointer
 * offsets.  -1 when it does not fit. */
static ptrdiff_t place(uint64_t r, ptrdiff_t lo, ptrdiff_t hi, size_t size, bool slot)
{
    ptrdiff_t room = (ptrdiff_t)size - (hi - lo);
    if (room < 0)
        return -1;
    ptrdiff_t unit = slot ? (ptrdiff_t)sizeof(void *) : 1;
    ptrdiff_t choices = room / unit + 1;
    ptrdiff_t k;
    switch (r % 4) {
    case 0: k = 0; break;                /* flush with the start */
    case 1: k = choices - 1; break;      /* flush with the end */
    default: k = (ptrdiff_t)((r >> 2) % (uint64_t)choices); break;
    }
    return -lo + k * unit;
}

/*
 * A valid root over data region `home`: in bounds, and -- when some
 * dimensions are indirect -- with a pointer table per indirect dimension,
 * every cell of which points (minus the suboffset) at a valid start of the
 * next group of dimensions.  `want` (may be NULL) fixes ndim, shape,
 * itemsize and format, for a copy's second operand.
 */
static bool build_valid(world *w, int home, const xbuf_view *want, bool allow_indirect, spec *s)
{
    memset(s, 0, sizeof *s);
    const region *data = &w->data[home];
    if (want != NULL) {
        if (want->ndim > MAX_DIM || want->itemsize > MAX_ITEMSIZE)
            return false;
        s->ndim = want->ndim;
        if (want->ndim > 0)
            memcpy(s->shape, want->shape, (size_t)want->ndim * sizeof *s->shape);
        s->itemsize = want->itemsize;
        snprintf(s->format, sizeof s->format, "%s", want->format);
        if (strcmp(s->format, want->format) != 0)
            return false;
    } else {
        if (!choose_format(w, s))
            return false;
        s->ndim = take_u8(&w->in) % (MAX_DIM + 1);
        for (int d = 0; d < s->ndim; d++) {
            uint8_t e = take_u8(&w->in);
            s->shape[d] = e & 0x80 ? e & 0x1f : e % 6;
        }
        cap_items(s->ndim, s->shape);
    }
    s->readonly = take_u8(&w->in) >= 192;

    /* Indirect dimensions split the view into groups: group g ends at the
     * g-th indirect dimension, and the last group holds the items. */
    int ind[MAX_DIM], m = 0;
    uint8_t mask = allow_indirect && s->ndim > 0 ? take_u8(&w->in) : 0;
    bool indirect = mask >= 160;
    s->with_suboffsets = indirect || mask >= 144;
    for (int d = 0; d < s->ndim; d++) {
        bool here = indirect && (mask >> (d % 5)) & 1;
        s->suboffsets[d] = here ? take_u8(&w->in) % 24 : -1 - (take_u8(&w->in) % 3);
        if (here)
            ind[m++] = d;
    }
    if (w->nroots == MAX_ROOTS || w->ntables + m > MAX_TABLES)
        return false; /* no room for the root or its tables */
    ptrdiff_t lo[MAX_DIM + 1], hi[MAX_DIM + 1];
    int first[MAX_DIM + 1], last[MAX_DIM + 1];
    for (int g = 0; g <= m; g++) {
        first[g] = g == 0 ? 0 : ind[g - 1] + 1;
        last[g] = g < m ? ind[g] : s->ndim - 1;
        bool slot = g < m;
        ptrdiff_t size = slot ? (ptrdiff_t)sizeof(void *) : s->itemsize;
        choose_strides(w, s, first[g], last[g], size, slot);
        group_extent(s, first[g], last[g], size, &lo[g], &hi[g]);
    }

    bool empty = false;
    for (int d = 0; d < s->ndim; d++)
        empty |= s->shape[d] == 0;
    /* The items' group must fit the data: shrink it, else make the view empty. */
    while (hi[m] - lo[m] > (ptrdiff_t)data->size) {
        int largest = -1;
        for (int d = first[m]; d <= last[m]; d++)
            if (s->shape[d] > 1 && (largest < 0 || s->shape[d] > s->shape[largest]))
                largest = d;
        if (largest < 0)
            break;
        s->shape[largest] /= 2;
        group_extent(s, first[m], last[m], s->itemsize, &lo[m], &hi[m]);
    }
    bool placeable = hi[m] - lo[m] <= (ptrdiff_t)data->size;
    if (!placeable) {
        if (s->ndim == 0)
            return false; /* one item, bigger than the data */
        s->shape[s->ndim - 1] = 0;
        empty = true;
    }

    /* Tables from the last to the first: table g holds group g's slots. */
    unsigned char *next_base = data->base;
    size_t next_size = data->size;
    for (int g = m - 1; g >= 0; g--) {
        size_t size = (size_t)(hi[g] - lo[g]) + sizeof(void *) * (take_u8(&w->in) % 3);
        unsigned char *table = xmalloc(size);
        add_table(w, table, size);
        bool next_slot = g + 1 < m;
        ptrdiff_t sub = s->suboffsets[ind[g]];
        for (size_t cell = 0; cell + sizeof(void *) <= size; cell += sizeof(void *)) {
            ptrdiff_t at = place(prng_next(&w->prng), lo[g + 1], hi[g + 1], next_size, next_slot);
            if (at < 0)
                at = 0; /* the items' group does not fit: the view is empty */
            char *p = (char *)next_base + at - sub;
            memcpy(table + cell, &p, sizeof p);
        }
        next_base = table;
        next_size = size;
    }
    ptrdiff_t at = place(take_u16(&w->in) | (uint64_t)take_u8(&w->in) << 16, lo[0], hi[0],
                         next_size, m > 0);
    s->buf = (char *)next_base + (at < 0 ? 0 : at);
    s->len = s->itemsize;
    for (int d = 0; d < s->ndim; d++)
        s->len *= s->shape[d];
    if (empty && take_u8(&w->in) >= 200)
        s->buf = NULL; /* allowed when len is 0: nothing may be read through it */
    return true;
}

/* ---- malformed roots ---------------------------------------------------- */

/* A fake address no byte of which is ever read: any span that fits in
 * ptrdiff_t around it stays inside the address space. */
#define FAKE_BUF ((void *)((uintptr_t)1 << 63))

static const ptrdiff_t odd_extents[] = {0, 1, 2, 3, 5, 8, (ptrdiff_t)1 << 31,
                                        (ptrdiff_t)1 << 62, PTRDIFF_MAX, -1, 7, 1};
static const ptrdiff_t odd_itemsizes[] = {1, 2, 4, 8, 3, 16, 0, -1, PTRDIFF_MAX,
                                          (ptrdiff_t)1 << 40};

static ptrdiff_t odd_stride(world *w, ptrdiff_t itemsize)
{
    switch (take_u8(&w->in) % 12) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -1;
    case 3: return itemsize;
    case 4: return -itemsize;
    case 5: return 3;
    case 6: return (ptrdiff_t)1 << 40;
    case 7: return -((ptrdiff_t)1 << 40);
    case 8: return PTRDIFF_MAX;
    case 9: return PTRDIFF_MIN;
    case 10: return (ptrdiff_t)1 << 62;
    default: return (ptrdiff_t)(int16_t)take_u16(&w->in);
    }
}

/* protocol.h's rules for a view no request produced (the request is what
 * its own fields carry), written independently of protocol.c. */
static bool model_valid(const xbuf_view *v)
{
    if (v->ndim < 0 || v->ndim > XBUF_MAX_NDIM || v->itemsize <= 0 || v->len < 0)
        return false;
    if (v->buf == NULL && v->len > 0)
        return false;
    if (v->format != NULL && v->format[0] == '\0')
        return false;
    bool nd = v->shape != NULL || v->strides != NULL || v->suboffsets != NULL;
    if (v->shape == NULL) {
        if (v->ndim > 1 || (nd && v->ndim > 0))
            return false;
        if (v->ndim == 0 && nd && v->len != v->itemsize)
            return false;
        return v->len % v->itemsize == 0;
    }
    if (v->strides == NULL && v->suboffsets != NULL && v->ndim > 0)
        return false; /* suboffsets carry INDIRECT, which implies STRIDES */
    const fuzz_i128 max = PTRDIFF_MAX;
    fuzz_i128 bytes = v->itemsize, lo = 0, hi = v->itemsize;
    bool empty = false, spans_overflow = false;
    for (int i = 0; i < v->ndim; i++) {
        if (v->shape[i] < 0)
            return false;
        if (v->shape[i] == 0)
            empty = true;
        if (!empty && bytes <= max)
            bytes *= v->shape[i];
        if (v->shape[i] > 0 && v->strides != NULL) {
            fuzz_i128 span = (fuzz_i128)v->strides[i] * (v->shape[i] - 1);
            spans_overflow |= span > max || span < -max - 1;
            if (span < 0)
                lo += span;
            else
                hi += span;
            spans_overflow |= lo < -max - 1 || hi > max;
            if (spans_overflow) /* keep the sums small enough to go on adding */
                lo = hi = 0;
        }
    }
    if (empty)
        bytes = 0;
    if (bytes > max || bytes != v->len)
        return false;
    return bytes == 0 || !(spans_overflow || hi - lo > max);
}

/* Whether child's bytes lie inside parent's ([buf + lo, buf + hi)). */
static void check_within(const xbuf_view *parent, const xbuf_view *child)
{
    ptrdiff_t plo, phi, clo, chi;
    CHECK(xbuf_view_extent(parent, &plo, &phi, NULL) == XBUF_OK);
    CHECK(xbuf_view_extent(child, &clo, &chi, NULL) == XBUF_OK);
    if (chi == clo)
        return;
    uintptr_t pb = (uintptr_t)parent->buf, cb = (uintptr_t)child->buf;
    CHECK(cb + (uintptr_t)clo >= pb + (uintptr_t)plo);
    CHECK(cb + (uintptr_t)chi <= pb + (uintptr_t)phi);
}

static void probe_release(xbuf_view *view)
{
    int *count = view->internal;
    ++*count;
}

/* Export an accepted probe view without items to DLPack and Arrow and
 * import it back: no byte is read, so the fake address is safe, and the
 * metadata (huge extents beside a zero one) is the test. */
static void probe_bridges(world *w, xbuf_mview *m)
{
    xbuf_dl_managed_tensor_versioned *t = NULL;
    xbuf_error err;
    int rc = xbuf_dlpack_export(m, (xbuf_dlpack_copy)(take_u8(&w->in) % 3), &t, &err);
    if (rc == XBUF_OK) {
        xbuf_mview *back = NULL;
        rc = xbuf_dlpack_import(t, &back, &err);
        CHECK_RC(rc == XBUF_OK, rc, err); /* what xbuf exports, xbuf imports */
        CHECK(xbuf_mview_view(back)->len == 0);
        xbuf_mview_unref(back);
    } else {
        CHECK_RC(rc == XBUF_EUNSUPPORTED || rc == XBUF_EFORMAT, rc, err); /* "zz": no format */
    }
    xbuf_arrow_options o = XBUF_ARROW_OPTIONS_INIT;
    uint8_t k = take_u8(&w->in);
    o.nd = (xbuf_arrow_nd)(k & 1);
    o.records = (xbuf_arrow_records)((k >> 1) & 1);
    o.allow_copy = (k >> 2) & 1;
    struct ArrowSchema schema;
    struct ArrowArray array;
    rc = xbuf_arrow_export(m, &o, &schema, &array, &err);
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_EUNSUPPORTED || rc == XBUF_EFORMAT, rc, err); /* "zz": no format */
        return;
    }
    xbuf_mview *back = NULL;
    rc = xbuf_arrow_import(&schema, &array, &back, &err);
    CHECK_RC(rc == XBUF_OK || rc == XBUF_EUNSUPPORTED, rc, err);
    if (rc == XBUF_OK) {
        CHECK(xbuf_mview_view(back)->len == 0);
        xbuf_mview_unref(back);
    } else {
        array.release(&array);
    }
    schema.release(&schema);
}

/* Derive from an accepted malformed-probe view without reading memory. */
static void derive_metadata_only(world *w, xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    xbuf_mview *child = NULL;
    xbuf_error err;
    for (int round = 0; round < 4; round++) {
        int rc = XBUF_EINVAL;
        switch (take_u8(&w->in) % 7) {
        case 6:
            if (v->len == 0 && !is_indirect(v))
                probe_bridges(w, m);
            continue;
        case 0: {
            xbuf_slice sl[4];
            int count = v->ndim < 4 ? v->ndim : 4;
            for (int i = 0; i < count; i++) {
                sl[i].start = (int8_t)take_u8(&w->in);
                sl[i].stop = take_bool(&w->in) ? XBUF_SLICE_NONE : (int8_t)take_u8(&w->in);
                sl[i].step = (int8_t)take_u8(&w->in) | 1;
            }
            rc = xbuf_mview_slice(m, sl, count, &child, &err);
            break;
        }
        case 1:
            if (v->ndim > 0 && !is_indirect(v))
                rc = xbuf_mview_index(m, 0, (int8_t)take_u8(&w->in), &child, &err);
            break;
        case 2: rc = xbuf_mview_transpose(m, &child, &err); break;
        case 3: rc = xbuf_mview_cast(m, "B", 0, NULL, &child, &err); break;
        case 4:
            rc = xbuf_mview_field(m, field_names[take_index(&w->in, 4)], &child, &err);
            break;
        default: rc = xbuf_mview_copy(m, true, &child, &err); break;
        }
        if (rc != XBUF_OK)
            continue;
        const xbuf_view *cv = xbuf_mview_view(child);
        int crc = xbuf_view_check(cv, XBUF_FULL_RO, &err);
        CHECK_RC(crc == XBUF_OK, crc, err);
        CHECK(items_of(cv) * cv->itemsize == cv->len);
        if (!is_indirect(v) && !is_indirect(cv))
            check_within(v, cv);
        xbuf_mview_unref(child);
    }
}

static void probe_malformed(world *w)
{
    ptrdiff_t shape[XBUF_MAX_NDIM + 2], strides[XBUF_MAX_NDIM + 2], subs[XBUF_MAX_NDIM + 2];
    uint8_t h = take_u8(&w->in);
    int ndim = h % 10 < 7 ? h % 10 : h % 10 == 7 ? XBUF_MAX_NDIM : h % 10 == 8 ? 65 : -1;
    ptrdiff_t itemsize = TAKE_ONE(&w->in, odd_itemsizes);
    uint8_t which = take_u8(&w->in);
    for (int i = 0; i < XBUF_MAX_NDIM + 2; i++) {
        bool random_dim = i < 8;
        shape[i] = random_dim ? TAKE_ONE(&w->in, odd_extents) : 1;
        strides[i] = random_dim ? odd_stride(w, itemsize) : itemsize;
    }
    bool no_items = false;
    for (int i = 0; i < ndim && i < XBUF_MAX_NDIM + 2; i++)
        no_items |= shape[i] == 0;
    for (int i = 0; i < XBUF_MAX_NDIM + 2; i++) {
        /* Indirect dimensions only in a view without items: the checks read
         * the pointer tables of any other (xbuf_check_pointers), and at a
         * fake address there are none.  (With a NULL shape suboffsets are
         * refused before anything is read.) */
        uint8_t k = i < 8 ? take_u8(&w->in) : 0;
        subs[i] = no_items && k >= 192 ? k % 8 : -1 - (k & 1);
    }
    xbuf_view v = {0};
    v.itemsize = itemsize;
    v.ndim = ndim;
    v.shape = which & 1 ? NULL : shape;
    v.strides = which & 2 ? NULL : strides;
    v.suboffsets = which & 4 ? subs : NULL;
    static const char *const probe_formats[] = {NULL, "", "B", "T{i:a:d:b:}", "<i", "zz",
                                                "3s", ">i", "?", "(2)h"};
    v.format = probe_formats[(which >> 3) % 10];
    fuzz_i128 bytes = itemsize > 0 ? itemsize : 0;
    for (int i = 0; v.shape != NULL && i < ndim && i < XBUF_MAX_NDIM + 2; i++) {
        bytes = shape[i] <= 0 ? 0 : bytes * shape[i];
        if (bytes > PTRDIFF_MAX)
            bytes = PTRDIFF_MAX;
    }
    fuzz_i128 deltas[] = {0, 0, 0, 1, -1, itemsize, -bytes - 1};
    fuzz_i128 len = bytes + deltas[take_index(&w->in, 7)];
    if (v.shape == NULL && take_bool(&w->in))
        len = (fuzz_i128)(take_u8(&w->in) % 4) * (itemsize > 0 ? itemsize : 1);
    v.len = len > PTRDIFF_MAX ? PTRDIFF_MAX : (ptrdiff_t)len;
    v.buf = take_u8(&w->in) >= 32 ? FAKE_BUF : NULL;
    int releases = 0;
    v.internal = &releases;
    v.release = probe_release;

    bool expect = model_valid(&v);
    TRACE("malformed-probe-%s", expect ? "accepted" : "refused");
    xbuf_error err;
    int check = xbuf_view_check(&v, (v.shape ? XBUF_ND : 0) | (v.strides ? XBUF_STRIDES : 0) |
                                        (v.suboffsets ? XBUF_INDIRECT : 0) |
                                        (v.format ? XBUF_FORMAT : 0),
                                &err);
    if ((check == XBUF_OK) != expect)
        fprintf(stderr, "fuzz_mview: model says %s, xbuf_view_check %d: %s\n",
                expect ? "valid" : "malformed", check, err.message);
    CHECK((check == XBUF_OK) == expect);
    xbuf_view copy = v;
    xbuf_mview *m = NULL;
    int rc = xbuf_mview_from_view(&copy, &m, &err);
    CHECK((rc == XBUF_OK) == expect);
    if (rc != XBUF_OK) {
        CHECK(rc == XBUF_EINVAL && m == NULL);
        CHECK(memcmp(&copy, &v, sizeof v) == 0); /* still the caller's, untouched */
        xbuf_release(&copy);
        CHECK(releases == 1);
        return;
    }
    CHECK(releases == 0);
    const xbuf_view *mv = xbuf_mview_view(m);
    if (v.shape == NULL && v.ndim == 0 && v.len != v.itemsize)
        CHECK(mv->ndim == 1); /* several items: 1-d, as xbuf_get repairs it */
    entry e = {m, -1, 0, true};
    check_view(w, &e);
    if (!is_indirect(mv)) {
        ptrdiff_t lo, hi;
        CHECK(xbuf_view_extent(mv, &lo, &hi, NULL) == XBUF_OK);
        fuzz_i128 mlo, mhi;
        model_extent(mv->ndim, mv->shape, mv->strides, mv->itemsize, &mlo, &mhi);
        CHECK(lo == mlo && hi == mhi);
    }
    derive_metadata_only(w, m);
    xbuf_mview_unref(m);
    CHECK(releases == 1);
}

/* ---- operations --------------------------------------------------------- */

static bool usable(const entry *e)
{
    return e != NULL && !xbuf_mview_is_released(e->m);
}

/* A refused derivation on a released mview. */
static bool check_released(const entry *e, int rc, xbuf_mview *out)
{
    if (xbuf_mview_is_released(e->m)) {
        CHECK(rc == XBUF_ERELEASED && out == NULL);
        return true;
    }
    return false;
}

/* Python's slice.indices, written from the language reference. */
static ptrdiff_t model_slice(const xbuf_slice *s, ptrdiff_t extent, ptrdiff_t *start)
{
    ptrdiff_t step = s->step < -PTRDIFF_MAX ? -PTRDIFF_MAX : s->step; /* as PySlice_Unpack */
    ptrdiff_t lower = step < 0 ? -1 : 0, upper = step < 0 ? extent - 1 : extent;
    ptrdiff_t b[2] = {s->start, s->stop};
    ptrdiff_t dflt[2] = {step < 0 ? upper : lower, step < 0 ? lower : upper};
    for (int k = 0; k < 2; k++) {
        if (b[k] == XBUF_SLICE_NONE) {
            b[k] = dflt[k];
        } else if (b[k] < 0) {
            b[k] += extent;
            if (b[k] < lower)
                b[k] = lower;
        } else if (b[k] > upper) {
            b[k] = upper;
        }
    }
    *start = b[0];
    if (step > 0)
        return b[1] > b[0] ? (b[1] - b[0] - 1) / step + 1 : 0;
    return b[0] > b[1] ? (b[0] - b[1] - 1) / -step + 1 : 0;
}

static void op_slice(world *w, entry *e)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    int ndim = v != NULL ? v->ndim : 0;
    int count = (int)(take_u8(&w->in) % (unsigned)(ndim + 2)) - (take_u8(&w->in) >= 250);
    xbuf_slice sl[XBUF_MAX_NDIM + 1];
    bool zero_step = false;
    for (int i = 0; i < count && i <= XBUF_MAX_NDIM; i++) {
        uint8_t f = take_u8(&w->in);
        sl[i].start = f & 1 ? XBUF_SLICE_NONE : (int8_t)take_u8(&w->in);
        sl[i].stop = f & 2 ? XBUF_SLICE_NONE : (int8_t)take_u8(&w->in);
        sl[i].step = f & 4 ? 1 : (int8_t)take_u8(&w->in) % 5;
        if (f >= 252)
            sl[i].step = f & 8 ? PTRDIFF_MIN : PTRDIFF_MAX;
        zero_step |= sl[i].step == 0;
    }
    xbuf_mview *out = NULL;
    xbuf_error err;
    int rc = xbuf_mview_slice(e->m, sl, count, &out, &err);
    if (check_released(e, rc, out))
        return;
    bool ok = ndim > 0 && count >= 0 && count <= ndim && !zero_step;
    if (rc == XBUF_EUNSUPPORTED && is_indirect(v)) { /* may come before a zero step */
        CHECK(out == NULL); /* a suboffset would go negative (mview.c shift) */
        return;
    }
    CHECK_RC((rc == XBUF_OK) == ok, rc, err);
    if (!ok) {
        CHECK(rc == XBUF_EINVAL && out == NULL);
        return;
    }
    const xbuf_view *c = xbuf_mview_view(out);
    ptrdiff_t start[XBUF_MAX_NDIM];
    CHECK(c->ndim == ndim);
    for (int i = 0; i < ndim; i++) {
        ptrdiff_t length = i < count ? model_slice(&sl[i], v->shape[i], &start[i]) : v->shape[i];
        CHECK(c->shape[i] == length);
    }
    if (items_of(c) > 0 && !e->fake) {
        ptrdiff_t ci[XBUF_MAX_NDIM], pi[XBUF_MAX_NDIM];
        random_index(w, c, ci);
        for (int i = 0; i < ndim; i++)
            pi[i] = i < count ? start[i] + ci[i] * (sl[i].step < -PTRDIFF_MAX ? -PTRDIFF_MAX
                                                                               : sl[i].step)
                              : ci[i];
        CHECK(item_at(out, ci) == item_at(e->m, pi));
    }
    admit(w, out, e->home, e->fake);
}

static void op_index(world *w, entry *e)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    int ndim = v != NULL ? v->ndim : 0;
    int dim = (int)(take_u8(&w->in) % (unsigned)(ndim + 1)) - (take_u8(&w->in) >= 250);
    ptrdiff_t index = (int8_t)take_u8(&w->in);
    xbuf_mview *out = NULL;
    xbuf_error err;
    int rc = xbuf_mview_index(e->m, dim, index, &out, &err);
    if (check_released(e, rc, out))
        return;
    if (dim < 0 || dim >= ndim) {
        CHECK_RC(rc == XBUF_EINVAL && out == NULL, rc, err);
        return;
    }
    ptrdiff_t wrapped = index < 0 ? index + v->shape[dim] : index;
    if (wrapped < 0 || wrapped >= v->shape[dim]) {
        CHECK_RC(rc == XBUF_ERANGE && out == NULL, rc, err);
        return;
    }
    if (rc == XBUF_EUNSUPPORTED && is_indirect(v)) {
        CHECK(out == NULL); /* a suboffset would go negative (mview.c shift) */
        return;
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    const xbuf_view *c = xbuf_mview_view(out);
    CHECK(c->ndim == ndim - 1);
    if (items_of(c) > 0) {
        ptrdiff_t ci[XBUF_MAX_NDIM], pi[XBUF_MAX_NDIM];
        random_index(w, c, ci);
        for (int i = 0, j = 0; i < ndim; i++)
            pi[i] = i == dim ? wrapped : ci[j++];
        CHECK(item_at(out, ci) == item_at(e->m, pi));
    }
    admit(w, out, e->home, e->fake);
}

/* A field path: one of the format's own fields (maybe a nested one), or a
 * name from the table. */
static void choose_path(world *w, const xbuf_view *v, char *path, size_t size)
{
    xbuf_format *f = NULL;
    uint8_t how = take_u8(&w->in);
    if (how < 64 || xbuf_view_format(v, &f, NULL) < 0) {
        snprintf(path, size, "%s", field_names[how % (sizeof field_names / sizeof *field_names)]);
        return;
    }
    const xbuf_type *t = xbuf_format_type(f);
    path[0] = '\0';
    size_t used = 0;
    for (int depth = 0; depth < 3 && t->kind == XBUF_KIND_STRUCT && t->nfields > 0; depth++) {
        const xbuf_field *field = &t->fields[take_index(&w->in, (size_t)t->nfields)];
        if (field->name == NULL)
            break;
        used += (size_t)snprintf(path + used, size - used, "%s%s", depth ? "." : "", field->name);
        if (used >= size || !take_bool(&w->in))
            break;
        t = field->type;
    }
    xbuf_format_release(f);
}

static void op_field(world *w, entry *e)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    char path[128] = "a";
    if (v != NULL)
        choose_path(w, v, path, sizeof path);
    xbuf_mview *out = NULL;
    xbuf_error err;
    int rc = xbuf_mview_field(e->m, path, &out, &err);
    if (check_released(e, rc, out))
        return;
    if (rc != XBUF_OK) {
        CHECK_RC(parse_error(rc) || rc == XBUF_ETYPE || rc == XBUF_ERANGE ||
                     rc == XBUF_EUNSUPPORTED || rc == XBUF_EOVERFLOW,
                 rc, err);
        CHECK(out == NULL);
        return;
    }
    /* The field of item i is at the item plus the field's offset. */
    xbuf_format *f;
    CHECK(xbuf_view_format(v, &f, NULL) == XBUF_OK);
    const xbuf_field *field;
    ptrdiff_t offset;
    CHECK(xbuf_type_field(xbuf_format_type(f), path, &field, &offset, NULL) == XBUF_OK);
    const xbuf_view *c = xbuf_mview_view(out);
    const xbuf_type *t = field->type;
    int extra = t->kind == XBUF_KIND_ARRAY ? t->ndim : 0;
    CHECK(c->ndim == v->ndim + extra);
    CHECK(c->itemsize == (extra ? t->base->itemsize : t->itemsize));
    CHECK(offset + t->itemsize <= v->itemsize);
    xbuf_format_release(f);
    if (items_of(c) > 0) {
        ptrdiff_t ci[XBUF_MAX_NDIM];
        random_index(w, c, ci);
        for (int i = 0; i < extra; i++)
            ci[v->ndim + i] = 0;
        CHECK((char *)item_at(out, ci) == (char *)item_at(e->m, ci) + offset);
    }
    admit(w, out, e->home, e->fake);
}

static void op_cast(world *w, entry *e)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    const char *format = TAKE_ONE(&w->in, cast_formats);
    ptrdiff_t size = 1;
    CHECK(xbuf_format_size(format, &size, NULL, NULL) == XBUF_OK);
    ptrdiff_t shape[3], total = v != NULL ? v->len / size : 0;
    int ndim = 0;
    const ptrdiff_t *shape_arg = NULL;
    switch (take_u8(&w->in) % 4) {
    case 0: break; /* NULL: 1-d */
    case 1: ndim = 1; shape[0] = total; shape_arg = shape; break;
    case 2: {
        ptrdiff_t a = 1 + take_u8(&w->in) % 8;
        ndim = 2;
        shape[0] = a;
        shape[1] = total / a;
        shape_arg = shape;
        break;
    }
    default:
        ndim = take_u8(&w->in) % 4;
        for (int i = 0; i < ndim; i++)
            shape[i] = take_u8(&w->in) % 9;
        shape_arg = shape;
        break;
    }
    xbuf_mview *out = NULL;
    xbuf_error err;
    int rc = xbuf_mview_cast(e->m, format, ndim, shape_arg, &out, &err);
    if (check_released(e, rc, out))
        return;
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_ETYPE || rc == XBUF_EINVAL, rc, err);
        CHECK(out == NULL);
        return;
    }
    const xbuf_view *c = xbuf_mview_view(out);
    CHECK(c->len == v->len && c->itemsize == size && strcmp(c->format, format) == 0);
    CHECK(!is_indirect(v));
    admit(w, out, e->home, e->fake);
}

static void op_permute(world *w, entry *e, bool transpose)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    int ndim = v != NULL ? v->ndim : 0;
    int axes[XBUF_MAX_NDIM];
    for (int i = 0; i < ndim; i++)
        axes[i] = i;
    for (int i = ndim - 1; i > 0; i--) {
        int j = (int)(take_u8(&w->in) % (unsigned)(i + 1)), t = axes[i];
        axes[i] = axes[j];
        axes[j] = t;
    }
    bool broken = ndim > 0 && take_u8(&w->in) >= 240;
    if (broken)
        axes[take_u8(&w->in) % ndim] = (int8_t)take_u8(&w->in) % (ndim + 2);
    bool is_perm = true;
    bool seen[XBUF_MAX_NDIM] = {false};
    for (int i = 0; i < ndim; i++) {
        if (axes[i] < 0 || axes[i] >= ndim || seen[axes[i]])
            is_perm = false;
        else
            seen[axes[i]] = true;
    }
    if (transpose)
        for (int i = 0; i < ndim; i++)
            axes[i] = ndim - 1 - i;
    xbuf_mview *out = NULL;
    xbuf_error err;
    int rc = transpose ? xbuf_mview_transpose(e->m, &out, &err)
                       : xbuf_mview_permute(e->m, axes, &out, &err);
    if (check_released(e, rc, out))
        return;
    if (v->suboffsets != NULL) {
        CHECK_RC(rc == XBUF_EUNSUPPORTED && out == NULL, rc, err);
        return;
    }
    if (!transpose && !is_perm) {
        CHECK_RC(rc == XBUF_EINVAL && out == NULL, rc, err);
        return;
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    const xbuf_view *c = xbuf_mview_view(out);
    for (int i = 0; i < ndim; i++)
        CHECK(c->shape[i] == v->shape[axes[i]] && c->strides[i] == v->strides[axes[i]]);
    if (items_of(c) > 0) {
        ptrdiff_t ci[XBUF_MAX_NDIM], pi[XBUF_MAX_NDIM];
        random_index(w, c, ci);
        for (int i = 0; i < ndim; i++)
            pi[axes[i]] = ci[i];
        CHECK(item_at(out, ci) == item_at(e->m, pi));
    }
    admit(w, out, e->home, e->fake);
}

static void op_copy_mview(world *w, entry *e)
{
    bool readonly = take_bool(&w->in);
    const xbuf_view *v = xbuf_mview_view(e->m);
    xbuf_mview *out = NULL;
    xbuf_error err;
    int rc = xbuf_mview_copy(e->m, readonly, &out, &err);
    if (check_released(e, rc, out))
        return;
    CHECK_RC(rc == XBUF_OK, rc, err);
    const xbuf_view *c = xbuf_mview_view(out);
    CHECK(c->buf == v->buf && c->len == v->len && c->ndim == v->ndim);
    CHECK((c->readonly != 0) == (readonly || v->readonly));
    admit(w, out, e->home, e->fake);
}

static void op_pointer(world *w, entry *e)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    ptrdiff_t index[XBUF_MAX_NDIM], wrapped[XBUF_MAX_NDIM];
    bool in_range = true;
    int ndim = v != NULL ? v->ndim : 0;
    for (int i = 0; i < ndim; i++) {
        ptrdiff_t extent = v->shape[i];
        index[i] = (ptrdiff_t)(int8_t)take_u8(&w->in) % (extent + 2);
        wrapped[i] = index[i] < 0 ? index[i] + extent : index[i];
        in_range &= wrapped[i] >= 0 && wrapped[i] < extent;
    }
    void *p = NULL;
    xbuf_error err;
    int rc = xbuf_mview_pointer(e->m, index, &p, &err);
    if (v == NULL) {
        CHECK(rc == XBUF_ERELEASED);
        return;
    }
    if (!in_range) {
        CHECK_RC(rc == XBUF_ERANGE, rc, err);
        return;
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (!e->fake) {
        CHECK(p == ref_pointer(w, v, wrapped));
        check_item(w, e->home, v, p);
    }
}

/* xbuf_iter_next and xbuf_iter_next_row against the reference walk. */
typedef struct iter_ctx {
    char **items;
} iter_ctx;

static void record_one(void *ctx, char *item, ptrdiff_t n)
{
    ((iter_ctx *)ctx)->items[n] = item;
}

static void op_iterate(world *w, entry *e)
{
    xbuf_iter it;
    xbuf_error err;
    int rc = xbuf_iter_init(&it, e->m, &err);
    const xbuf_view *v = xbuf_mview_view(e->m);
    if (v == NULL) {
        CHECK(rc == XBUF_ERELEASED);
        return;
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (e->fake || items_of(v) > MAX_WALK)
        return;
    ptrdiff_t n = items_of(v);
    iter_ctx ctx = {xmalloc((size_t)n * sizeof(char *))};
    CHECK(walk(w, e->home, v, 'C', PTRDIFF_MAX, record_one, &ctx) == n);
    bool rows = take_bool(&w->in);
    ptrdiff_t seen = 0;
    if (rows) {
        char *first;
        ptrdiff_t count, stride;
        while (xbuf_iter_next_row(&it, &first, &count, &stride)) {
            CHECK(count >= 1 && seen + count <= n);
            for (ptrdiff_t k = 0; k < count; k++)
                CHECK(first + k * stride == ctx.items[seen + k]);
            seen += count;
            if (take_u8(&w->in) >= 224) { /* mix in single steps */
                void *item;
                if (!xbuf_iter_next(&it, &item))
                    break;
                CHECK(seen < n && item == ctx.items[seen]);
                seen++;
            }
        }
    } else {
        void *item;
        while (xbuf_iter_next(&it, &item)) {
            CHECK(seen < n && item == ctx.items[seen]);
            seen++;
        }
    }
    CHECK(seen == n);
    free(ctx.items);
}

/* ---- exports ------------------------------------------------------------ */

static const int request_flags[] = {
    XBUF_SIMPLE,       XBUF_WRITABLE,      XBUF_ND,           XBUF_STRIDES,
    XBUF_C_CONTIGUOUS, XBUF_F_CONTIGUOUS,  XBUF_ANY_CONTIGUOUS, XBUF_INDIRECT,
    XBUF_FULL,         XBUF_FULL_RO,       XBUF_RECORDS,      XBUF_RECORDS_RO,
    XBUF_CONTIG,       XBUF_CONTIG_RO,     XBUF_STRIDED,      XBUF_STRIDED_RO,
    XBUF_FORMAT,       XBUF_FORMAT | XBUF_C_CONTIGUOUS,        XBUF_FORMAT | XBUF_ND,
    XBUF_WRITABLE | XBUF_F_CONTIGUOUS | XBUF_FORMAT,           0x0010, 0x0200,
};

/* memoryview's rules (mview.h), from the request's side. */
static int expected_get(const xbuf_view *v, int flags)
{
    if (xbuf_flags_check(flags, NULL) < 0)
        return XBUF_EINVAL;
    if (v == NULL)
        return XBUF_ERELEASED;
    bool c = model_contiguous(v, 'C'), f = model_contiguous(v, 'F');
    if (((flags & XBUF_WRITABLE) && v->readonly) ||
        (is_indirect(v) && !XBUF_WANTS(flags, XBUF_INDIRECT)) ||
        (XBUF_WANTS(flags, XBUF_C_CONTIGUOUS) && !c) ||
        (XBUF_WANTS(flags, XBUF_F_CONTIGUOUS) && !f) ||
        (XBUF_WANTS(flags, XBUF_ANY_CONTIGUOUS) && !c && !f) ||
        (!XBUF_WANTS(flags, XBUF_STRIDES) && !c) ||
        ((flags & XBUF_FORMAT) && !XBUF_WANTS(flags, XBUF_ND)))
        return XBUF_EREQUEST;
    return XBUF_OK;
}

static void op_export(world *w, entry *e)
{
    uint8_t k = take_u8(&w->in);
    int flags = k < 240 ? request_flags[k % (sizeof request_flags / sizeof *request_flags)]
                        : (int)take_u16(&w->in);
    const xbuf_view *v = xbuf_mview_view(e->m);
    xbuf_view got;
    xbuf_error err;
    int rc = xbuf_get(xbuf_mview_exporter(e->m), &got, flags, &err);
    int expected = expected_get(v, flags);
    CHECK_RC(rc == expected, rc, err);
    if (rc != XBUF_OK) {
        CHECK(got.buf == NULL && got.release == NULL);
        return;
    }
    CHECK(got.buf == v->buf && got.len == v->len && got.itemsize == v->itemsize);
    CHECK(xbuf_view_check(&got, flags, NULL) == XBUF_OK);
    if (!XBUF_WANTS(flags, XBUF_STRIDES) && e->home >= 0 && !e->fake && got.len > 0)
        CHECK(inside(&w->data[e->home], got.buf, (size_t)got.len)); /* C-contiguous bytes */
    CHECK(xbuf_mview_exports(e->m) >= e->held + 1);
    if (take_u8(&w->in) >= 160) {
        /* An mview of the exported view: a family inside a family, which
         * holds the export until its last member goes. */
        xbuf_mview *inner = NULL;
        rc = xbuf_mview_from_view(&got, &inner, &err);
        CHECK_RC(rc == XBUF_OK, rc, err);
        admit(w, inner, e->home, e->fake);
        return;
    }
    if (w->nheld == MAX_HELD) {
        ptrdiff_t before = xbuf_mview_exports(e->m);
        xbuf_release(&got);
        CHECK(xbuf_mview_exports(e->m) == before - 1);
        return;
    }
    e->held++;
    w->held[w->nheld].from = e->m;
    xbuf_view_move(&got, &w->held[w->nheld].view);
    w->nheld++;
}

static void release_held(world *w, int i)
{
    xbuf_mview *from = w->held[i].from;
    entry *e = find(w, from); /* NULL once dropped from the pool: the view keeps it alive */
    ptrdiff_t before = e != NULL ? xbuf_mview_exports(e->m) : 0;
    xbuf_release(&w->held[i].view);
    w->held[i] = w->held[--w->nheld];
    if (e != NULL) {
        e->held--;
        CHECK(xbuf_mview_exports(e->m) == before - 1 && before - 1 >= e->held);
    }
}

static void op_release(world *w, entry *e)
{
    (void)w;
    bool was = xbuf_mview_is_released(e->m);
    xbuf_error err;
    int rc = xbuf_mview_release(e->m, &err);
    if (was) {
        CHECK(rc == XBUF_OK);
        return;
    }
    /* Exported views held, here or inside an mview made from one (an
     * inner family), pin it. */
    ptrdiff_t exports = xbuf_mview_exports(e->m);
    CHECK(exports >= e->held);
    if (exports > 0) {
        CHECK_RC(rc == XBUF_EBUSY, rc, err);
        CHECK(!xbuf_mview_is_released(e->m));
        return;
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    CHECK(xbuf_mview_is_released(e->m) && xbuf_mview_view(e->m) == NULL);
}

static void drop(world *w, entry *e)
{
    xbuf_mview_unref(e->m);
    *e = w->pool[--w->npool];
}

/* ---- the data movers ---------------------------------------------------- */

/* A second operand with v's shape and itemsize: a pool view that has them,
 * or a new root in D or E (so sometimes overlapping the first). */
static entry *partner(world *w, const entry *e, const char *format)
{
    const xbuf_view *v = xbuf_mview_view(e->m);
    uint8_t how = take_u8(&w->in);
    if (how < 64 && format == NULL) {
        entry *p = pick(w);
        if (usable(p) && !p->fake)
            return p;
    }
    if (how < 128 && format == NULL) {
        for (int i = 0; i < w->npool; i++) {
            const xbuf_view *u = xbuf_mview_view(w->pool[i].m);
            if (u != NULL && !w->pool[i].fake && u->ndim == v->ndim &&
                u->itemsize == v->itemsize && &w->pool[i] != e &&
                (v->ndim == 0 ||
                 memcmp(u->shape, v->shape, (size_t)v->ndim * sizeof *v->shape) == 0))
                return &w->pool[i];
        }
    }
    xbuf_view want = *v;
    if (format != NULL) {
        want.format = format;
        CHECK(xbuf_format_size(format, &want.itemsize, NULL, NULL) == XBUF_OK);
    }
    int home = take_u8(&w->in) & 1;
    spec s;
    if (!build_valid(w, home, &want, take_bool(&w->in), &s))
        return NULL;
    xbuf_mview *m = make_root(w, &s, take_bool(&w->in));
    return m == NULL ? NULL : admit(w, m, home, false);
}

static bool same_shape(const xbuf_view *a, const xbuf_view *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

/* Snapshots of the data regions, to prove a refused operation wrote nothing. */
typedef struct snapshot {
    unsigned char *bytes[2];
} snapshot;

static void snap(const world *w, snapshot *s)
{
    for (int k = 0; k < 2; k++) {
        s->bytes[k] = xmalloc(w->data[k].size);
        memcpy(s->bytes[k], w->data[k].base, w->data[k].size);
    }
}

static void check_unchanged(const world *w, snapshot *s)
{
    for (int k = 0; k < 2; k++) {
        CHECK(memcmp(s->bytes[k], w->data[k].base, w->data[k].size) == 0);
        free(s->bytes[k]);
    }
}

static void drop_snapshot(snapshot *s)
{
    free(s->bytes[0]);
    free(s->bytes[1]);
}

static bool data_op_ok(const entry *e)
{
    const xbuf_view *v = usable(e) ? xbuf_mview_view(e->m) : NULL;
    return v != NULL && !e->fake && e->home >= 0 && items_of(v) <= MAX_WALK;
}

static void check_equal_after(const world *w, const entry *dst, const entry *src)
{
    const xbuf_view *d = xbuf_mview_view(dst->m), *s = xbuf_mview_view(src->m);
    bool equal = false;
    xbuf_error err;
    int rc = xbuf_equal(d, s, &equal, &err);
    if (rc == XBUF_OK && strcmp(d->format, s->format) == 0 && format_is_exact(d) &&
        !views_share_bytes(w, dst->home, d, src->home, s))
        CHECK(equal);
}

static void op_copy(world *w, entry *src)
{
    if (!data_op_ok(src))
        return;
    entry *dst = partner(w, src, NULL);
    if (!data_op_ok(dst))
        return;
    const xbuf_view *s = xbuf_mview_view(src->m), *d = xbuf_mview_view(dst->m);
    bool ok = same_shape(d, s) && d->itemsize == s->itemsize && !d->readonly;
    unsigned char *expected = ok ? gather(w, src->home, s, 'C') : NULL;
    snapshot before;
    snap(w, &before);
    xbuf_error err;
    int rc = xbuf_copy(d, s, &err);
    CHECK_RC((rc == XBUF_OK) == ok, rc, err);
    if (!ok) {
        CHECK(rc == XBUF_EINVAL || rc == XBUF_ETYPE || rc == XBUF_EREADONLY);
        check_unchanged(w, &before);
        return;
    }
    drop_snapshot(&before);
    if (!self_overlaps(w, dst->home, d)) {
        unsigned char *now = gather(w, dst->home, d, 'C');
        CHECK(memcmp(now, expected, (size_t)d->len) == 0);
        free(now);
        check_equal_after(w, dst, src);
    }
    free(expected);
}

static void op_to_contiguous(world *w, entry *e)
{
    if (!data_op_ok(e))
        return;
    const xbuf_view *v = xbuf_mview_view(e->m);
    static const char orders[] = {'C', 'F', 'A', 'X'};
    char order = orders[take_index(&w->in, 4)];
    ptrdiff_t len = v->len + (take_u8(&w->in) >= 248 ? 1 : 0);
    unsigned char *out = xmalloc((size_t)len);
    xbuf_error err;
    int rc = xbuf_copy_to_contiguous(out, len, v, order, &err);
    if (order == 'X' || len != v->len) {
        CHECK_RC(rc == XBUF_EINVAL, rc, err);
        free(out);
        return;
    }
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (order == 'A')
        order = model_contiguous(v, 'F') && !model_contiguous(v, 'C') ? 'F' : 'C';
    unsigned char *expected = gather(w, e->home, v, order);
    CHECK(memcmp(out, expected, (size_t)v->len) == 0);
    free(expected);
    free(out);
}

static void op_from_contiguous(world *w, entry *e)
{
    if (!data_op_ok(e))
        return;
    const xbuf_view *v = xbuf_mview_view(e->m);
    char order = take_bool(&w->in) ? 'F' : 'C';
    unsigned char *in = xmalloc((size_t)v->len);
    for (ptrdiff_t i = 0; i < v->len; i++)
        in[i] = (unsigned char)prng_next(&w->prng);
    snapshot before;
    snap(w, &before);
    xbuf_error err;
    int rc = xbuf_copy_from_contiguous(v, in, v->len, order, &err);
    if (v->readonly) {
        CHECK_RC(rc == XBUF_EREADONLY, rc, err);
        check_unchanged(w, &before);
        free(in);
        return;
    }
    drop_snapshot(&before);
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (!self_overlaps(w, e->home, v)) {
        unsigned char *now = gather(w, e->home, v, order);
        CHECK(memcmp(now, in, (size_t)v->len) == 0);
        free(now);
    }
    free(in);
}

typedef struct fill_ctx {
    const unsigned char *item;
    ptrdiff_t itemsize;
} fill_ctx;

static void check_filled(void *ctx, char *item, ptrdiff_t n)
{
    (void)n;
    fill_ctx *f = ctx;
    CHECK(memcmp(item, f->item, (size_t)f->itemsize) == 0);
}

static void op_fill(world *w, entry *e)
{
    if (!data_op_ok(e))
        return;
    const xbuf_view *v = xbuf_mview_view(e->m);
    unsigned char *item = xmalloc((size_t)v->itemsize);
    take_bytes(&w->in, item, (size_t)v->itemsize);
    const unsigned char *arg = item;
    if (items_of(v) > 0 && take_u8(&w->in) >= 192) {
        ptrdiff_t index[XBUF_MAX_NDIM];
        random_index(w, v, index);
        arg = item_at(e->m, index); /* an item of the view itself: read once, first */
        memcpy(item, arg, (size_t)v->itemsize);
    }
    snapshot before;
    snap(w, &before);
    xbuf_error err;
    int rc = xbuf_fill(v, arg, &err);
    if (v->readonly) {
        CHECK_RC(rc == XBUF_EREADONLY, rc, err);
        check_unchanged(w, &before);
        free(item);
        return;
    }
    drop_snapshot(&before);
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (!self_overlaps(w, e->home, v)) {
        fill_ctx f = {item, v->itemsize};
        walk(w, e->home, v, 'C', PTRDIFF_MAX, check_filled, &f);
    }
    free(item);
}

static void op_equal(world *w, entry *a)
{
    if (!data_op_ok(a))
        return;
    entry *b = take_bool(&w->in) ? a : partner(w, a, NULL);
    if (!data_op_ok(b))
        return;
    const xbuf_view *x = xbuf_mview_view(a->m), *y = xbuf_mview_view(b->m);
    bool ab = false, ba = false;
    xbuf_error err;
    int rc1 = xbuf_equal(x, y, &ab, &err);
    int rc2 = xbuf_equal(y, x, &ba, NULL);
    CHECK_RC(rc1 == XBUF_OK || parse_error(rc1) || rc1 == XBUF_EINVAL ||
                 rc1 == XBUF_EOVERFLOW || rc1 == XBUF_EUNSUPPORTED,
             rc1, err);
    if (rc1 == XBUF_OK && rc2 == XBUF_OK)
        CHECK(ab == ba);
    if (rc1 == XBUF_OK && !same_shape(x, y))
        CHECK(!ab);
    if (a == b && rc1 == XBUF_OK && format_is_exact(x))
        CHECK(ab);
}

static void op_convert(world *w, entry *src)
{
    if (!data_op_ok(src))
        return;
    const char *format =
        numeric_formats[take_index(&w->in, sizeof numeric_formats / sizeof *numeric_formats)];
    entry *dst = partner(w, src, format);
    if (!data_op_ok(dst))
        return;
    const xbuf_view *s = xbuf_mview_view(src->m), *d = xbuf_mview_view(dst->m);
    xbuf_overflow mode = take_bool(&w->in) ? XBUF_OVERFLOW_WRAP : XBUF_OVERFLOW_ERROR;
    bool overlap = views_share_bytes(w, dst->home, d, src->home, s);
    snapshot before;
    snap(w, &before);
    xbuf_error err;
    int rc = xbuf_copy_convert(d, s, mode, &err);
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_ERANGE || rc == XBUF_EUNSUPPORTED || parse_error(rc) ||
                     rc == XBUF_EINVAL || rc == XBUF_ETYPE || rc == XBUF_EREADONLY,
                 rc, err);
        CHECK(rc != XBUF_EREADONLY || d->readonly);
        check_unchanged(w, &before);
        return;
    }
    drop_snapshot(&before);
    CHECK(!d->readonly && same_shape(d, s));
    if (mode == XBUF_OVERFLOW_ERROR && !overlap && !self_overlaps(w, dst->home, d) &&
        format_is_integer(s->format) && format_is_integer(d->format)) {
        bool equal = false;
        CHECK(xbuf_equal(d, s, &equal, NULL) == XBUF_OK);
        CHECK(equal); /* every integer came over unchanged in value */
    }
}

/* ---- bridges ------------------------------------------------------------ */

static void op_dlpack(world *w, entry *e)
{
    if (!usable(e) || e->fake)
        return;
    xbuf_dlpack_copy copy = (xbuf_dlpack_copy)(take_u8(&w->in) % 4);
    bool legacy = take_bool(&w->in);
    ptrdiff_t exports = xbuf_mview_exports(e->m);
    xbuf_dl_managed_tensor_versioned *t = NULL;
    xbuf_dl_managed_tensor *lt = NULL;
    xbuf_error err;
    int rc = legacy ? xbuf_dlpack_export_legacy(e->m, copy, &lt, &err)
                    : xbuf_dlpack_export(e->m, copy, &t, &err);
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_EUNSUPPORTED || parse_error(rc) || (rc == XBUF_EINVAL && copy > 2),
                 rc, err);
        CHECK(xbuf_mview_exports(e->m) == exports);
        return;
    }
    CHECK(copy <= 2);
    const xbuf_dl_tensor *dl = legacy ? &lt->dl_tensor : &t->dl_tensor;
    const xbuf_view *ev = xbuf_mview_view(e->m);
    bool copied = legacy ? dl->data != ev->buf && items_of(ev) > 0
                         : (t->flags & XBUF_DL_FLAG_IS_COPIED) != 0;
    if (!legacy)
        CHECK(copied || xbuf_mview_exports(e->m) == exports + 1);
    xbuf_mview *back = NULL;
    rc = legacy ? xbuf_dlpack_import_legacy(lt, &back, &err) : xbuf_dlpack_import(t, &back, &err);
    CHECK_RC(rc == XBUF_OK, rc, err); /* what xbuf exports, xbuf imports */
    const xbuf_view *v = xbuf_mview_view(e->m), *b = xbuf_mview_view(back);
    CHECK(same_shape(v, b) && b->itemsize == v->itemsize);
    int home = copied ? -1 : e->home;
    if (format_is_integer(v->format) && data_op_ok(e)) {
        bool equal = false;
        CHECK(xbuf_equal(b, v, &equal, NULL) == XBUF_OK);
        CHECK(equal);
    }
    entry *in_pool = admit(w, back, home, false);
    if (in_pool == NULL)
        CHECK(xbuf_mview_exports(e->m) <= exports); /* the deleter ran */
}

static void release_schema(struct ArrowSchema *s)
{
    if (s->release != NULL)
        s->release(s);
    CHECK(s->release == NULL);
}

static void op_arrow(world *w, entry *e)
{
    if (!usable(e) || e->fake)
        return;
    xbuf_arrow_options o = XBUF_ARROW_OPTIONS_INIT;
    uint8_t k = take_u8(&w->in);
    o.nd = (xbuf_arrow_nd)(k & 1);
    o.records = (xbuf_arrow_records)((k >> 1) & 1);
    o.allow_copy = (k >> 2) & 1;
    o.name = (k >> 3) & 1 ? "column" : NULL;
    ptrdiff_t exports = xbuf_mview_exports(e->m);
    struct ArrowSchema schema;
    struct ArrowArray array;
    xbuf_error err;
    int rc = xbuf_arrow_export(e->m, &o, &schema, &array, &err);
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_EUNSUPPORTED || parse_error(rc), rc, err);
        CHECK(schema.release == NULL && array.release == NULL);
        CHECK(xbuf_mview_exports(e->m) == exports);
        return;
    }
    xbuf_mview *back = NULL;
    rc = xbuf_arrow_import(&schema, &array, &back, &err);
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_EUNSUPPORTED, rc, err); /* xbuf's own export is well formed */
        CHECK(array.release != NULL);
        array.release(&array);
        release_schema(&schema);
        CHECK(xbuf_mview_exports(e->m) == exports);
        return;
    }
    CHECK(array.release == NULL); /* moved into the mview */
    release_schema(&schema);
    const xbuf_view *v = xbuf_mview_view(e->m), *b = xbuf_mview_view(back);
    CHECK(b->readonly && b->len == (v->ndim == 0 ? v->itemsize : v->len));
    if (format_is_integer(v->format) && v->ndim > 0 && data_op_ok(e)) {
        bool equal = false;
        CHECK(xbuf_equal(b, v, &equal, NULL) == XBUF_OK);
        if (o.nd == XBUF_ARROW_ND_FIXED_SIZE_LIST)
            CHECK(equal);
    }
    /* Exported as it lies or copied: which, only the buffer can tell. */
    bool shared = b->buf == v->buf && items_of(v) > 0;
    if (admit(w, back, shared ? e->home : -1, false) == NULL)
        CHECK(xbuf_mview_exports(e->m) == exports); /* unref'd: the array was released */
}

/* ---- the story ---------------------------------------------------------- */

static void new_root(world *w)
{
    int home = take_u8(&w->in) & 1;
    spec s;
    if (!build_valid(w, home, NULL, true, &s))
        return;
    xbuf_mview *m = make_root(w, &s, take_bool(&w->in));
    if (m != NULL)
        admit(w, m, home, false);
    TRACE("root-%s%s%s", s.with_suboffsets ? "suboffsets" : "direct",
          s.len == 0 ? "-empty" : "", s.buf == NULL ? "-null" : "");
}

static void run_op(world *w)
{
    uint8_t op = take_u8(&w->in) % 22;
    if (op == 0) {
        new_root(w);
        return;
    }
    if (op == 1) {
        if (w->nheld > 0)
            release_held(w, (int)take_index(&w->in, (size_t)w->nheld));
        return;
    }
    entry *e = pick(w);
    if (e == NULL)
        return;
#ifdef FUZZ_TRACE
    static const char *const names[] = {"", "", "slice", "index", "field", "cast", "permute",
                                        "transpose", "copy-mview", "pointer", "iterate",
                                        "export", "release", "unref", "copy", "to-contiguous",
                                        "from-contiguous", "fill", "equal", "convert",
                                        "dlpack", "arrow"};
    const xbuf_view *tv = xbuf_mview_view(e->m);
    TRACE("%s-%s%s", names[op], tv == NULL ? "released" : is_indirect(tv) ? "pil" : "direct",
          tv != NULL && strchr(tv->format, '{') != NULL ? "-record" : "");
    int before = w->npool;
#endif
    switch (op) {
    case 2: op_slice(w, e); break;
    case 3: op_index(w, e); break;
    case 4: op_field(w, e); break;
    case 5: op_cast(w, e); break;
    case 6: op_permute(w, e, false); break;
    case 7: op_permute(w, e, true); break;
    case 8: op_copy_mview(w, e); break;
    case 9: op_pointer(w, e); break;
    case 10: op_iterate(w, e); break;
    case 11: op_export(w, e); break;
    case 12: op_release(w, e); break;
    case 13: drop(w, e); break;
    case 14: op_copy(w, e); break;
    case 15: op_to_contiguous(w, e); break;
    case 16: op_from_contiguous(w, e); break;
    case 17: op_fill(w, e); break;
    case 18: op_equal(w, e); break;
    case 19: op_convert(w, e); break;
    case 20: op_dlpack(w, e); break;
    default: op_arrow(w, e); break;
    }
#ifdef FUZZ_TRACE
    if (w->npool > before)
        TRACE("%s-made-a-view", names[op]);
#endif
}

static void make_region(world *w, region *r)
{
    uint16_t size = take_u16(&w->in);
    r->size = size & 0x8000 ? size : size & 0x3ff; /* mostly small: fast */
    r->base = malloc(r->size); /* exactly: one byte past it is an ASan report */
    if (r->base == NULL) {
        r->base = malloc(1);
        r->size = 0;
        CHECK(r->base != NULL);
    }
    for (size_t i = 0; i < r->size; i++)
        r->base[i] = (unsigned char)prng_next(&w->prng);
    size_t n = take_u8(&w->in);
    if (n > r->size)
        n = r->size;
    take_bytes(&w->in, r->base, n); /* values the fuzzer chooses (NaNs, extremes) */
}

static void finish(world *w)
{
    while (w->nheld > 0)
        release_held(w, w->nheld - 1);
    while (w->npool > 0)
        drop(w, &w->pool[w->npool - 1]);
    for (int i = 0; i < w->nroots; i++) {
        CHECK(xbuf_exports_count(&w->roots[i]->exports) == 0);
        CHECK(w->roots[i]->releases == 1);
        free(w->roots[i]);
    }
    for (int t = 0; t < w->ntables; t++)
        free(w->tables[t].base);
    free(w->data[0].base);
    free(w->data[1].base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    world *w = calloc(1, sizeof *w);
    CHECK(w != NULL);
    w->in = (fuzz_input){data, size};
    uint8_t header = take_u8(&w->in);
    w->prng = take_u32(&w->in);
    if (header & 0x80)
        probe_malformed(w);
    make_region(w, &w->data[0]);
    make_region(w, &w->data[1]);
    new_root(w);
    for (int i = 0; i < MAX_OPS && w->in.n > 0; i++)
        run_op(w);
    finish(w);
    free(w);
    return 0;
}
