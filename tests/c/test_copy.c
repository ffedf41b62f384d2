/*
 * test_copy.c -- layer 3's copy engine: xbuf_copy, xbuf_copy_to_contiguous,
 * xbuf_copy_from_contiguous, xbuf_fill and xbuf_copy_convert.
 *
 * Most of it is differential.  Random views -- random shapes, strides of
 * either sign, zero strides (a broadcast source), strides that are not
 * multiples of the itemsize, PIL-style indirection (pointer tables into
 * separately placed rows) on either side, ndim 0..6 and 64, views with no
 * items -- are copied by the library and by a naive reference that moves
 * one item at a time between addresses from xbuf_view_pointer.  The
 * reference reads the whole source first (a snapshot), so for overlapping
 * operands it gives what "as if through a temporary" means.  After every
 * case the *whole* memory is compared with the expected memory: every chunk
 * the case allocated, including guard bytes around each, so a byte written
 * outside the destination's items is caught.  Every block is its own malloc
 * (except the arena that overlapping operands share); under AddressSanitizer
 * the guards are dropped, so a read or write past a block is an ASan report.
 * Coverage counters make the random tests prove that their generator really
 * produced each feature.
 *
 * Then the kernels by name: transposes of every itemsize around the tile
 * and register-block edges, long-and-thin ones, and one large enough for
 * streaming stores; gathers of every other 1- and 2-byte item from memory
 * that ends at an inaccessible page (so an over-read faults in every
 * build); to/from contiguous in 'C', 'F' and 'A' order; fill with the item
 * inside the destination; conversions between every pair of numeric
 * formats in both byte orders against a reference built from C casts (and
 * the scalar codec for halves); every error path; allocation failure.
 *
 * The PRNG is seeded per case (splitmix64 of a fixed base plus the case
 * number), so a failing case is reproduced by its number alone.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "image.h"

#if defined(__SANITIZE_ADDRESS__)
#  define UNDER_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define UNDER_ASAN 1
#  endif
#endif
#ifndef UNDER_ASAN
#  define UNDER_ASAN 0
#endif

/* Guard bytes before and after every chunk (none under ASan: its redzones
 * are the guards then). */
#define GUARD ((size_t)(UNDER_ASAN ? 0 : 32))

static const ptrdiff_t ITEMSIZES[] = {1, 2, 3, 4, 5, 8, 16, 24};
#define N_ITEMSIZES ((ptrdiff_t)(sizeof ITEMSIZES / sizeof ITEMSIZES[0]))

/* ==== deterministic randomness ========================================== */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 0x2545F4914F6CDD1Du + 0x1234567u;
}

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* 0 .. n-1 */
static ptrdiff_t rnd(ptrdiff_t n)
{
    return n <= 0 ? 0 : (ptrdiff_t)(rng_next() % (uint64_t)n);
}

static bool chance(int percent)
{
    return rnd(100) < percent;
}

static void rnd_fill(unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t r = rng_next();
        memcpy(p + i, &r, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)rng_next();
}

/* ==== memory: chunks with guards, snapshots, comparison ================== */

typedef struct chunk {
    unsigned char *raw;    /* GUARD bytes, size usable bytes, GUARD bytes */
    unsigned char *expect; /* after mem_snapshot: what raw should hold afterwards */
    size_t size;
} chunk;

typedef struct span_index {
    uintptr_t lo, hi; /* usable bytes */
    size_t chunk;
} span_index;

typedef struct mem {
    chunk *c;
    size_t n, cap;
    span_index *sorted;
} mem;

static size_t chunk_total(const chunk *c)
{
    return c->size + 2 * GUARD;
}

/* A fresh chunk of `size` usable bytes, all random (guards included). */
static unsigned char *mem_new(mem *m, size_t size)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->c = realloc(m->c, m->cap * sizeof *m->c);
        cr_assert_not_null(m->c);
    }
    size_t total = size + 2 * GUARD;
    unsigned char *raw = malloc(total > 0 ? total : 1);
    cr_assert_not_null(raw);
    rnd_fill(raw, total);
    m->c[m->n++] = (chunk){raw, NULL, size};
    return raw + GUARD;
}

static int span_cmp(const void *a, const void *b)
{
    const span_index *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Remember the current contents; the expected result starts from them. */
static void mem_snapshot(mem *m)
{
    free(m->sorted);
    m->sorted = malloc((m->n > 0 ? m->n : 1) * sizeof *m->sorted);
    cr_assert_not_null(m->sorted);
    for (size_t i = 0; i < m->n; i++) {
        chunk *c = &m->c[i];
        free(c->expect);
        c->expect = malloc(chunk_total(c) > 0 ? chunk_total(c) : 1);
        cr_assert_not_null(c->expect);
        memcpy(c->expect, c->raw, chunk_total(c));
        uintptr_t lo = (uintptr_t)(c->raw + GUARD);
        m->sorted[i] = (span_index){lo, lo + c->size, i};
    }
    qsort(m->sorted, m->n, sizeof *m->sorted, span_cmp);
}

/* The bytes of the expected memory that stand for [p, p + bytes). */
static unsigned char *mem_expect_at(const mem *m, const void *p, ptrdiff_t bytes)
{
    uintptr_t a = (uintptr_t)p;
    size_t lo = 0, hi = m->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (m->sorted[mid].lo <= a)
            lo = mid;
        else
            hi = mid;
    }
    cr_assert(m->n > 0 && m->sorted[lo].lo <= a && a + (uintptr_t)bytes <= m->sorted[lo].hi,
              "test bug: reference item at %p is outside the case's memory", p);
    const chunk *c = &m->c[m->sorted[lo].chunk];
    return c->expect + GUARD + (a - m->sorted[lo].lo);
}

/* Whether every chunk holds what was expected; else a description. */
static bool mem_matches(const mem *m, char *msg, size_t size)
{
    for (size_t i = 0; i < m->n; i++) {
        const chunk *c = &m->c[i];
        if (memcmp(c->raw, c->expect, chunk_total(c)) == 0)
            continue;
        size_t k = 0;
        while (c->raw[k] == c->expect[k])
            k++;
        ptrdiff_t at = (ptrdiff_t)k - (ptrdiff_t)GUARD;
        snprintf(msg, size,
                 "chunk %zu of %zu (%zu bytes at %p): byte %td%s: expected 0x%02x, got 0x%02x",
                 i, m->n, c->size, (void *)(c->raw + GUARD), at,
                 at < 0 || (size_t)at >= c->size ? " (a guard byte)" : "", c->expect[k],
                 c->raw[k]);
        return false;
    }
    return true;
}

static void mem_free(mem *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->c[i].raw);
        free(m->c[i].expect);
    }
    free(m->c);
    free(m->sorted);
    memset(m, 0, sizeof *m);
}

/* Memory that ends exactly where an inaccessible page starts: any read past
 * the end faults, in every build. */
typedef struct fenced {
    void *map;
    size_t map_len;
    unsigned char *p; /* `bytes` usable bytes ending at the fence */
} fenced;

static fenced fenced_alloc(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (bytes + page - 1) / page;
    fenced f;
    f.map_len = (data_pages + 1) * page;
    f.map = mmap(NULL, f.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(f.map != MAP_FAILED);
    unsigned char *fence = (unsigned char *)f.map + data_pages * page;
    cr_assert_eq(mprotect(fence, page, PROT_NONE), 0);
    f.p = fence - bytes;
    return f;
}

static void fenced_free(fenced *f)
{
    munmap(f->map, f->map_len);
}

/* ==== what the random cases covered ===================================== */

/* Counted as views are built and cases run, so that a test can insist its
 * generator produced every feature it claims to test. */
static struct coverage {
    long views, items, indirect, multi_level, zero_stride, negative_stride, odd_stride,
        null_strides, null_shape, all_negative_suboffsets, empty, zero_d, overlapping,
        same_buffer;
} cov;

static void coverage_reset(void)
{
    memset(&cov, 0, sizeof cov);
}

static void coverage_note_view(const xbuf_view *v, int levels)
{
    cov.views++;
    cov.indirect += levels > 0;
    cov.multi_level += levels > 1;
    cov.zero_d += v->ndim == 0;
    cov.null_strides += v->ndim > 0 && v->strides == NULL;
    cov.null_shape += v->ndim > 0 && v->shape == NULL;
    cov.all_negative_suboffsets += levels == 0 && v->suboffsets != NULL;
    ptrdiff_t n = v->len / v->itemsize;
    cov.items += n;
    cov.empty += n == 0;
    bool zero = false, negative = false, odd = false;
    for (int i = 0; v->strides != NULL && i < v->ndim; i++) {
        if (v->shape[i] <= 1)
            continue;
        zero |= v->strides[i] == 0;
        negative |= v->strides[i] < 0;
        odd |= v->strides[i] % v->itemsize != 0;
    }
    cov.zero_stride += zero;
    cov.negative_stride += negative;
    cov.odd_stride += odd;
}

static void coverage_report(const char *test)
{
    cr_log_info("%s: %ld views, %ld items; indirect %ld (multi-level %ld), zero stride %ld, "
                "negative stride %ld, stride not a multiple of the itemsize %ld, NULL strides "
                "%ld, NULL shape %ld, all-negative suboffsets %ld, empty %ld, 0-d %ld; "
                "operands overlapping %ld",
                test, cov.views, cov.items, cov.indirect, cov.multi_level, cov.zero_stride,
                cov.negative_stride, cov.odd_stride, cov.null_strides, cov.null_shape,
                cov.all_negative_suboffsets, cov.empty, cov.zero_d, cov.overlapping);
}

/* Each feature in at least `per_mille` of the views (rarer ones in less). */
static void coverage_require(const char *test, long per_mille)
{
    long need = cov.views * per_mille / 1000;
    coverage_report(test);
    cr_assert_geq(cov.indirect, need, "%s: too few indirect views", test);
    cr_assert_geq(cov.multi_level, need / 4, "%s: too few multi-level indirect views", test);
    cr_assert_geq(cov.zero_stride, need / 2, "%s: too few zero strides", test);
    cr_assert_geq(cov.negative_stride, need, "%s: too few negative strides", test);
    cr_assert_geq(cov.odd_stride, need, "%s: too few strides not multiples of itemsize", test);
    cr_assert_geq(cov.null_strides, need / 4, "%s: too few NULL strides", test);
    cr_assert_geq(cov.empty, need / 4, "%s: too few views without items", test);
}

/* ==== views: design and construction ==================================== */

static ptrdiff_t count_items(int ndim, const ptrdiff_t *shape)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* Advance a C-order index (last fastest); false after the last one. */
static bool odometer(ptrdiff_t *idx, const ptrdiff_t *ext, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (++idx[i] < ext[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

/* CPython's contiguity rule, written independently of the library: an
 * empty array is contiguous; extent-1 dimensions may have any stride. */
static bool is_contig(int ndim, const ptrdiff_t *shape, const ptrdiff_t *strides,
                      ptrdiff_t itemsize, char order)
{
    if (count_items(ndim, shape) == 0)
        return true;
    ptrdiff_t expected = itemsize;
    for (int k = 0; k < ndim; k++) {
        int i = order == 'C' ? ndim - 1 - k : k;
        if (shape[i] != 1 && strides[i] != expected)
            return false;
        expected *= shape[i];
    }
    return true;
}

static bool view_indirect(const xbuf_view *v)
{
    for (int i = 0; v->suboffsets != NULL && i < v->ndim; i++)
        if (v->suboffsets[i] >= 0)
            return true;
    return false;
}

static const ptrdiff_t *view_shape(const xbuf_view *v, ptrdiff_t *implied)
{
    if (v->shape != NULL || v->ndim == 0)
        return v->shape;
    *implied = v->len / v->itemsize;
    return implied;
}

/* Contiguity of a view, for 'A' resolution: no indirection, strides (or
 * NULL strides) laid out in `order`. */
static bool view_contig(const xbuf_view *v, char order)
{
    if (view_indirect(v))
        return false;
    ptrdiff_t implied;
    const ptrdiff_t *shape = view_shape(v, &implied);
    if (v->strides == NULL) {
        if (order == 'C' || v->ndim <= 1 || count_items(v->ndim, shape) == 0)
            return true;
        int big = 0;
        for (int i = 0; i < v->ndim; i++)
            big += shape[i] > 1;
        return big <= 1;
    }
    return is_contig(v->ndim, shape, v->strides, v->itemsize, order);
}

/* A view under construction, owning its metadata.  The dimensions fall into
 * segments: segment s ends at the s-th indirect dimension (the last one at
 * ndim - 1).  Every segment but the last is a pointer table; the last holds
 * the items.  All blocks of one segment share its strides. */
typedef struct tview {
    xbuf_view v;
    int ndim;
    ptrdiff_t itemsize;
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM], suboffsets[XBUF_MAX_NDIM];
    int nseg;
    int last[XBUF_MAX_NDIM + 1];                       /* last dimension of each segment */
    ptrdiff_t lo[XBUF_MAX_NDIM + 1], hi[XBUF_MAX_NDIM + 1]; /* a block's bytes around item 0 */
    bool disjoint;   /* a destination: items and table slots never overlap, rows never shared */
    ptrdiff_t slack; /* spare bytes on both sides of every data block */
} tview;

typedef struct vopts {
    bool dst;
    int indirect_percent; /* chance of any indirection */
    int max_levels;       /* most indirect dimensions */
    int null_percent;     /* chance of NULL strides (and shape) when C-contiguous */
    ptrdiff_t slack;
} vopts;

static ptrdiff_t bext(const tview *t, int d)
{
    return t->shape[d] > 0 ? t->shape[d] : 1;
}

static int seg_first(const tview *t, int s)
{
    return s == 0 ? 0 : t->last[s - 1] + 1;
}

static int seg_of(const tview *t, int d)
{
    int s = 0;
    while (t->last[s] < d)
        s++;
    return s;
}

static void gen_segment_strides(tview *t, int first, int last, ptrdiff_t es, bool disjoint,
                                bool data)
{
    int n = last - first + 1, perm[XBUF_MAX_NDIM];
    if (n <= 0)
        return;
    int how = (int)rnd(4); /* 0 C order, 1 F order, else random */
    for (int j = 0; j < n; j++)
        perm[j] = how == 1 ? first + j : last - j; /* perm[0] is the innermost */
    if (how >= 2)
        for (int j = n - 1; j > 0; j--) {
            int k = (int)rnd(j + 1), tmp = perm[j];
            perm[j] = perm[k];
            perm[k] = tmp;
        }
    bool tight = chance(50);
    ptrdiff_t step = es + (tight ? 0 : rnd(6)); /* often not a multiple of es */
    for (int j = 0; j < n; j++) {
        int d = perm[j];
        t->strides[d] = step;
        step = step * bext(t, d) + (tight || !chance(30) ? 0 : rnd(9));
    }
    for (int d = first; d <= last; d++) {
        if (chance(25))
            t->strides[d] = -t->strides[d];
        if (!disjoint && chance(12))
            t->strides[d] = 0; /* broadcast */
        if (!disjoint && data && chance(8))
            t->strides[d] = rnd(2 * es + 1) - es; /* items overlapping each other */
        if (t->shape[d] == 1 && chance(30))
            t->strides[d] = rnd(2001) - 1000; /* never stepped along */
    }
}

static void tview_design(tview *t, int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize,
                         const vopts *o)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->itemsize = itemsize;
    t->disjoint = o->dst;
    t->slack = o->slack;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    bool mark[XBUF_MAX_NDIM] = {false};
    if (ndim > 0 && chance(o->indirect_percent)) {
        int want = 1 + (int)rnd(ndim < o->max_levels ? ndim : o->max_levels);
        for (int k = 0; k < want; k++)
            mark[rnd(ndim)] = true;
    }
    t->nseg = 0;
    for (int d = 0; d < ndim; d++) {
        t->suboffsets[d] = -1 - rnd(3);
        if (mark[d]) {
            t->suboffsets[d] = chance(40) ? 0 : rnd(12);
            t->last[t->nseg++] = d;
        }
    }
    t->last[t->nseg++] = ndim - 1;
    for (int s = 0; s < t->nseg; s++) {
        bool data = s == t->nseg - 1;
        ptrdiff_t es = data ? itemsize : (ptrdiff_t)sizeof(void *);
        gen_segment_strides(t, seg_first(t, s), t->last[s], es, o->dst, data);
        t->lo[s] = 0;
        t->hi[s] = es;
        for (int d = seg_first(t, s); d <= t->last[s]; d++) {
            ptrdiff_t span = t->strides[d] * (bext(t, d) - 1);
            if (span < 0)
                t->lo[s] += span;
            else
                t->hi[s] += span;
        }
    }
}

/* Where data blocks go: each in its own chunk, one after another in an
 * arena (a destination), or anywhere in the arena (a source that may
 * overlap the destination).  Pointer tables always get their own chunks. */
enum { PLACE_SEPARATE, PLACE_SEQUENTIAL, PLACE_ANYWHERE };

typedef struct placer {
    mem *m;
    int mode;
    unsigned char *arena;
    size_t arena_size, cursor;
} placer;

static unsigned char *place_region(placer *p, size_t size)
{
    if (p->mode == PLACE_SEPARATE)
        return mem_new(p->m, size);
    if (p->mode == PLACE_SEQUENTIAL) {
        size_t at = p->cursor + (size_t)rnd(9);
        cr_assert(at + size <= p->arena_size, "test bug: arena too small");
        p->cursor = at + size;
        return p->arena + at;
    }
    cr_assert(size <= p->arena_size, "test bug: arena too small");
    return p->arena + rnd((ptrdiff_t)(p->arena_size - size + 1));
}

static size_t block_size(const tview *t, int s)
{
    bool data = s == t->nseg - 1;
    ptrdiff_t so = s > 0 ? t->suboffsets[t->last[s - 1]] : 0;
    return (size_t)((data ? 2 * t->slack : 0) + so + t->hi[s] - t->lo[s]);
}

/* Bytes of arena the data blocks need when placed one after another. */
static size_t data_bytes(const tview *t)
{
    size_t blocks = 1;
    for (int d = 0; d < seg_first(t, t->nseg - 1); d++)
        blocks *= (size_t)bext(t, d);
    return blocks * (block_size(t, t->nseg - 1) + 8);
}

/* Build the block of segment s; returns the address of its item 0. */
static unsigned char *build_block(tview *t, placer *p, int s)
{
    bool data = s == t->nseg - 1;
    ptrdiff_t so = s > 0 ? t->suboffsets[t->last[s - 1]] : 0;
    size_t size = block_size(t, s);
    unsigned char *region = data ? place_region(p, size) : mem_new(p->m, size);
    unsigned char *base = region + (data ? t->slack : 0) + so - t->lo[s];
    if (data)
        return base;
    int first = seg_first(t, s), n = t->last[s] - first + 1;
    ptrdiff_t cso = t->suboffsets[t->last[s]];
    ptrdiff_t idx[XBUF_MAX_NDIM] = {0}, ext[XBUF_MAX_NDIM];
    for (int j = 0; j < n; j++)
        ext[j] = bext(t, first + j);
    unsigned char *prev = NULL;
    do {
        ptrdiff_t off = 0;
        for (int j = 0; j < n; j++)
            off += idx[j] * t->strides[first + j];
        unsigned char *child =
            !t->disjoint && prev != NULL && chance(25) ? prev : build_block(t, p, s + 1);
        prev = child;
        unsigned char *pointer = child - cso; /* the item lies at pointer + suboffset */
        memcpy(base + off, &pointer, sizeof pointer);
    } while (odometer(idx, ext, n));
    return base;
}

static void tview_build(tview *t, placer *p, const vopts *o)
{
    unsigned char *buf = build_block(t, p, 0);
    xbuf_view *v = &t->v;
    memset(v, 0, sizeof *v);
    v->buf = buf;
    v->itemsize = t->itemsize;
    v->ndim = t->ndim;
    v->len = count_items(t->ndim, t->shape) * t->itemsize;
    v->readonly = !o->dst && chance(50);
    v->format = chance(50) ? NULL : "B"; /* xbuf_copy ignores formats */
    v->shape = t->ndim > 0 || chance(20) ? t->shape : NULL;
    v->strides = t->ndim > 0 || chance(20) ? t->strides : NULL;
    v->suboffsets = t->nseg > 1 ? t->suboffsets : NULL;
    if (t->nseg == 1 && t->ndim > 0) {
        if (chance(8))
            v->suboffsets = t->suboffsets; /* all negative: no indirection */
        else if (is_contig(t->ndim, t->shape, t->strides, t->itemsize, 'C') &&
                 chance(o->null_percent)) {
            v->strides = NULL;
            if (t->ndim == 1 && chance(50))
                v->shape = NULL;
        }
    }
    coverage_note_view(v, t->nseg - 1);
}

/* A second view of the same memory: shares blocks and tables. */
static void tview_derive(tview *s, const tview *d)
{
    *s = *d;
    s->v.shape = d->v.shape != NULL ? s->shape : NULL;
    s->v.strides = d->v.strides != NULL ? s->strides : NULL;
    s->v.suboffsets = d->v.suboffsets != NULL ? s->suboffsets : NULL;
    s->disjoint = false;
}

static void tview_explicit(tview *t)
{
    if (t->ndim == 0)
        return;
    t->v.shape = t->shape;
    if (t->v.strides == NULL) {
        /* NULL strides stood for C strides; say them. */
        ptrdiff_t stride = t->itemsize;
        for (int d = t->ndim - 1; d >= 0; d--) {
            t->strides[d] = stride;
            stride *= t->shape[d];
        }
        t->v.strides = t->strides;
    }
}

/* Move every item by k bytes (within the slack). */
static bool tview_shift(tview *t, ptrdiff_t k)
{
    if (t->nseg == 1) {
        t->v.buf = (char *)t->v.buf + k;
        return true;
    }
    ptrdiff_t *so = &t->suboffsets[t->last[t->nseg - 2]];
    if (*so + k < 0)
        return false;
    *so += k;
    return true;
}

static void tview_reverse(tview *t, int d)
{
    if (t->shape[d] <= 1)
        return;
    tview_explicit(t);
    ptrdiff_t delta = t->strides[d] * (t->shape[d] - 1);
    int s = seg_of(t, d);
    if (s == 0) {
        t->v.buf = (char *)t->v.buf + delta;
    } else {
        ptrdiff_t *so = &t->suboffsets[t->last[s - 1]];
        if (*so + delta < 0)
            return;
        *so += delta;
    }
    t->strides[d] = -t->strides[d];
}

/* ==== describing cases ================================================== */

static void append(char *out, size_t size, const char *fmt, ...) XBUF_PRINTF(3, 4);

static void append(char *out, size_t size, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, size - used, fmt, ap);
    va_end(ap);
}

static void append_array(char *out, size_t size, const char *name, const ptrdiff_t *a, int n)
{
    if (a == NULL) {
        append(out, size, " %s=NULL", name);
        return;
    }
    append(out, size, " %s=(", name);
    for (int i = 0; i < n; i++)
        append(out, size, "%s%td", i ? "," : "", a[i]);
    append(out, size, ")");
}

static void describe(char *out, size_t size, const xbuf_view *v)
{
    out[0] = '\0';
    if (v == NULL) {
        append(out, size, "NULL");
        return;
    }
    append(out, size, "buf=%p len=%td itemsize=%td ndim=%d readonly=%d", v->buf, v->len,
           v->itemsize, v->ndim, v->readonly);
    append_array(out, size, "shape", v->shape, v->ndim);
    append_array(out, size, "strides", v->strides, v->ndim);
    append_array(out, size, "suboffsets", v->suboffsets, v->ndim);
}

static void fail_case(const char *what, const xbuf_view *dst, const xbuf_view *src,
                      const char *problem)
{
    static char d[4096], s[4096];
    describe(d, sizeof d, dst);
    describe(s, sizeof s, src);
    cr_assert_fail("%s: %s\n  dst: %s\n  src: %s", what, problem, d, s);
}

/* ==== the naive reference ================================================ */

static void *item_at(const xbuf_view *v, const ptrdiff_t *idx)
{
    void *p = NULL;
    xbuf_error err;
    int rc = xbuf_view_pointer(v, idx, &p, &err);
    cr_assert_eq(rc, XBUF_OK, "test bug: xbuf_view_pointer: %s", err.message);
    return p;
}

/* Gather every item of v (C order) into a new array. */
static unsigned char *gather(const xbuf_view *v)
{
    ptrdiff_t implied, n = v->len / v->itemsize, is = v->itemsize;
    const ptrdiff_t *shape = view_shape(v, &implied);
    unsigned char *out = malloc(n > 0 ? (size_t)(n * is) : 1);
    cr_assert_not_null(out);
    if (n == 0)
        return out;
    ptrdiff_t idx[XBUF_MAX_NDIM] = {0}, k = 0;
    do
        memcpy(out + is * k++, item_at(v, idx), (size_t)is);
    while (odometer(idx, shape, v->ndim));
    return out;
}

/* Position of idx in a contiguous array of `shape` in order 'C' or 'F'. */
static ptrdiff_t linear(const ptrdiff_t *idx, const ptrdiff_t *shape, int ndim, char order)
{
    ptrdiff_t pos = 0;
    for (int k = 0; k < ndim; k++) {
        int i = order == 'C' ? k : ndim - 1 - k;
        pos = pos * shape[i] + idx[i];
    }
    return pos;
}

/* In the expected memory, put items[pos(idx)] at every item of dst, where
 * pos is the C- or F-order position (order 0: one item for all). */
static void scatter(const mem *m, const xbuf_view *dst, const unsigned char *items, char order)
{
    ptrdiff_t implied, is = dst->itemsize;
    const ptrdiff_t *shape = view_shape(dst, &implied);
    if (count_items(dst->ndim, shape) == 0)
        return;
    ptrdiff_t idx[XBUF_MAX_NDIM] = {0};
    do {
        ptrdiff_t pos = order == 0 ? 0 : linear(idx, shape, dst->ndim, order);
        memcpy(mem_expect_at(m, item_at(dst, idx), is), items + pos * is, (size_t)is);
    } while (odometer(idx, shape, dst->ndim));
}

/* Snapshot m, then compute what xbuf_copy(dst, src) must leave in it. */
static void ref_copy(mem *m, const xbuf_view *dst, const xbuf_view *src)
{
    mem_snapshot(m);
    unsigned char *items = gather(src);
    scatter(m, dst, items, 'C');
    free(items);
}

/* Whether some item of src shares a byte with some item of dst, within
 * [arena, arena + size) where both keep their items. */
static bool items_overlap(const unsigned char *arena, size_t size, const xbuf_view *dst,
                          const xbuf_view *src)
{
    ptrdiff_t implied, n = dst->len / dst->itemsize;
    if (n == 0)
        return false;
    unsigned char *map = calloc(size, 1);
    cr_assert_not_null(map);
    const ptrdiff_t *shape = view_shape(dst, &implied);
    ptrdiff_t idx[XBUF_MAX_NDIM] = {0};
    do {
        const unsigned char *p = item_at(dst, idx);
        memset(map + (p - arena), 1, (size_t)dst->itemsize);
    } while (odometer(idx, shape, dst->ndim));
    bool meet = false;
    memset(idx, 0, sizeof idx);
    do {
        const unsigned char *p = item_at(src, idx);
        for (ptrdiff_t b = 0; b < src->itemsize && !meet; b++)
            meet = map[p - arena + b] != 0;
    } while (!meet && odometer(idx, shape, dst->ndim));
    free(map);
    return meet;
}

static void check_copy(mem *m, const xbuf_view *dst, const xbuf_view *src, const char *what)
{
    ref_copy(m, dst, src);
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_copy(dst, src, &err);
    char msg[512];
    if (rc != XBUF_OK) {
        snprintf(msg, sizeof msg, "xbuf_copy returned %d: %s", rc, err.message);
        fail_case(what, dst, src, msg);
    }
    if (!mem_matches(m, msg, sizeof msg))
        fail_case(what, dst, src, msg);
}

/* ==== random shapes ====================================================== */

static int random_shape(ptrdiff_t *shape, int max_ndim, ptrdiff_t max_items)
{
    int ndim = (int)rnd(max_ndim + 1);
    for (int d = 0; d < ndim; d++) {
        ptrdiff_t r = rnd(100);
        shape[d] = r < 3 ? 0 : r < 20 ? 1 : r < 85 ? 2 + rnd(4) : 6 + rnd(35);
    }
    for (;;) {
        ptrdiff_t n = 1;
        int big = 0;
        for (int d = 0; d < ndim; d++) {
            n *= shape[d] > 0 ? shape[d] : 1;
            if (shape[d] > shape[big])
                big = d;
        }
        if (n <= max_items)
            return ndim;
        shape[big] = shape[big] / 2 > 1 ? shape[big] / 2 : 1;
    }
}

/* 64 dimensions, mostly of extent 1. */
static void shape_64(ptrdiff_t *shape)
{
    for (int d = 0; d < XBUF_MAX_NDIM; d++)
        shape[d] = 1;
    int big = 1 + (int)rnd(7);
    for (int k = 0; k < big; k++)
        shape[rnd(XBUF_MAX_NDIM)] = 2 + rnd(2);
    if (chance(5))
        shape[rnd(XBUF_MAX_NDIM)] = 0;
}

/* Mostly small views, some large ones (for the vector kernels), and with
 * `with_64` one case in ten of 64 dimensions. */
static int any_shape(ptrdiff_t *shape, int k, bool with_64)
{
    if (with_64 && k % 10 == 9) {
        shape_64(shape);
        return XBUF_MAX_NDIM;
    }
    return random_shape(shape, 6, chance(15) ? 3000 : 300);
}

static const vopts DST_OPTS = {true, 30, 3, 30, 0};
static const vopts SRC_OPTS = {false, 30, 3, 30, 0};

/* ==== xbuf_copy: differential ============================================ */

static void random_separate_case(int ndim, const ptrdiff_t *shape, ptrdiff_t is, const vopts *dopt,
                                 const vopts *sopt, const char *what)
{
    mem m = {0};
    placer p = {&m, PLACE_SEPARATE, NULL, 0, 0};
    static tview d, s;
    tview_design(&d, ndim, shape, is, dopt);
    tview_design(&s, ndim, shape, is, sopt);
    tview_build(&d, &p, dopt);
    tview_build(&s, &p, sopt);
    check_copy(&m, &d.v, &s.v, what);
    mem_free(&m);
}

Test(copy, random_views_separate_memory)
{
    char what[80];
    coverage_reset();
    for (int k = 0; k < 5000; k++) {
        rng_seed(1000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = any_shape(shape, k, false);
        ptrdiff_t is = ITEMSIZES[rnd(N_ITEMSIZES)];
        snprintf(what, sizeof what, "separate case %d", k);
        random_separate_case(ndim, shape, is, &DST_OPTS, &SRC_OPTS, what);
    }
    coverage_require("separate", 50);
}

/* Destination and source in one arena: the source either random (placed
 * anywhere, so it overlaps the destination partially, entirely or not at
 * all) or derived from the destination's own layout. */
static void random_overlap_case(int ndim, const ptrdiff_t *shape, ptrdiff_t is, int levels,
                                int kind, const char *what)
{
    mem m = {0};
    static tview d, s;
    vopts dopt = DST_OPTS, sopt = SRC_OPTS;
    dopt.slack = 40;
    dopt.max_levels = sopt.max_levels = levels;
    tview_design(&d, ndim, shape, is, &dopt);
    tview_design(&s, ndim, shape, is, &sopt);
    size_t need = data_bytes(&d) + (kind == 0 ? block_size(&s, s.nseg - 1) : 0) + 16;
    placer p = {&m, PLACE_SEQUENTIAL, NULL, need, 0};
    p.arena = mem_new(&m, need);
    tview_build(&d, &p, &dopt);
    const xbuf_view *src = &s.v;
    char how[160] = "";
    switch (kind) {
    case 0: /* random */
        p.mode = PLACE_ANYWHERE;
        tview_build(&s, &p, &sopt);
        snprintf(how, sizeof how, "random source in the same arena");
        break;
    case 1: /* the very same struct */
        src = &d.v;
        snprintf(how, sizeof how, "dst and src are one view");
        break;
    case 2: /* the same layout, spelled differently */
        tview_derive(&s, &d);
        if (chance(50))
            tview_explicit(&s);
        s.v.readonly = 1;
        snprintf(how, sizeof how, "same layout");
        break;
    default: { /* reversed, shifted, transposed */
        tview_derive(&s, &d);
        int reversed = 0;
        for (int i = 0; i < ndim; i++)
            if (kind != 4 && chance(50)) {
                tview_reverse(&s, i);
                reversed++;
            }
        ptrdiff_t k = 0;
        if (kind >= 4) {
            k = rnd(2 * dopt.slack + 1) - dopt.slack;
            if (!tview_shift(&s, k))
                k = 0;
        }
        int ti = -1, tj = -1;
        if (kind == 5 && s.nseg == 1 && ndim >= 2) {
            tview_explicit(&s);
            for (int i = 0; i < ndim && ti < 0; i++)
                for (int j = i + 1; j < ndim && ti < 0; j++)
                    if (shape[i] == shape[j] && shape[i] > 1)
                        ti = i, tj = j;
            if (ti >= 0) {
                ptrdiff_t t = s.strides[ti];
                s.strides[ti] = s.strides[tj];
                s.strides[tj] = t;
            }
        }
        snprintf(how, sizeof how, "derived: %d dims reversed, shifted by %td, dims %d,%d swapped",
                 reversed, k, ti, tj);
        break;
    }
    }
    cov.overlapping += items_overlap(p.arena, p.arena_size, &d.v, src);
    char label[320];
    snprintf(label, sizeof label, "%s (%s; src.buf - dst.buf = %td)", what, how,
             (char *)src->buf - (char *)d.v.buf);
    check_copy(&m, &d.v, src, label);
    mem_free(&m);
}

Test(copy, random_views_overlapping)
{
    char what[80];
    coverage_reset();
    for (int k = 0; k < 5000; k++) {
        rng_seed(2000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = any_shape(shape, k, false);
        ptrdiff_t is = ITEMSIZES[rnd(N_ITEMSIZES)];
        snprintf(what, sizeof what, "overlap case %d", k);
        random_overlap_case(ndim, shape, is, 3, (int)rnd(6), what);
    }
    coverage_require("overlap", 50);
    cr_assert_geq(cov.overlapping, 2000, "only %ld cases had overlapping operands",
                  cov.overlapping);
}

Test(copy, views_of_64_dimensions)
{
    char what[80];
    vopts dopt = DST_OPTS, sopt = SRC_OPTS;
    dopt.max_levels = sopt.max_levels = 10;
    dopt.indirect_percent = sopt.indirect_percent = 50;
    coverage_reset();
    for (int k = 0; k < 400; k++) {
        rng_seed(3000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        shape_64(shape);
        ptrdiff_t is = ITEMSIZES[rnd(N_ITEMSIZES)];
        if (k % 2 == 0) {
            snprintf(what, sizeof what, "64-d separate case %d", k);
            random_separate_case(XBUF_MAX_NDIM, shape, is, &dopt, &sopt, what);
        } else {
            snprintf(what, sizeof what, "64-d overlap case %d", k);
            random_overlap_case(XBUF_MAX_NDIM, shape, is, 10, (int)rnd(6), what);
        }
    }
    coverage_report("64-d");
    cr_assert_geq(cov.multi_level, 100, "64-d: too few multi-level indirect views");
    cr_assert_geq(cov.overlapping, 50, "64-d: too few overlapping operands");
}

/* Views with no items: nothing is read or written, buf may be NULL. */
Test(copy, views_without_items)
{
    ptrdiff_t shape[3] = {4, 0, 3}, strides[3] = {-100, 7, 0};
    xbuf_view dst = {0}, src = {0};
    dst.itemsize = src.itemsize = 8;
    dst.ndim = src.ndim = 3;
    dst.shape = src.shape = shape;
    src.strides = strides; /* dst: NULL strides, NULL buf */
    src.buf = (void *)"x";
    xbuf_error err;
    cr_assert_eq(xbuf_copy(&dst, &src, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_copy(&src, &dst, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_fill(&dst, "12345678", &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_copy_to_contiguous(NULL, 0, &src, 'F', &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_copy_from_contiguous(&dst, NULL, 0, 'A', &err), XBUF_OK, "%s", err.message);
    dst.format = "<d";
    src.format = ">q";
    cr_assert_eq(xbuf_copy_convert(&dst, &src, XBUF_OVERFLOW_ERROR, &err), XBUF_OK, "%s",
                 err.message);
    /* shapes still have to agree */
    ptrdiff_t other[3] = {4, 0, 2};
    src.shape = other;
    cr_assert_eq(xbuf_copy(&dst, &src, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    /* and formats still have to be numbers */
    src.shape = shape;
    src.format = "8s";
    cr_assert_eq(xbuf_copy_convert(&dst, &src, XBUF_OVERFLOW_ERROR, &err), XBUF_EUNSUPPORTED);
}

Test(copy, zero_dimensional_views)
{
    for (int k = 0; k < N_ITEMSIZES; k++) {
        ptrdiff_t is = ITEMSIZES[k];
        mem m = {0};
        unsigned char *a = mem_new(&m, (size_t)(2 * is)), *b = mem_new(&m, (size_t)is);
        xbuf_view dst = {.buf = a, .len = is, .itemsize = is, .ndim = 0};
        xbuf_view src = {.buf = b, .len = is, .itemsize = is, .ndim = 0, .readonly = 1};
        check_copy(&m, &dst, &src, "0-d copy");
        /* overlapping 0-d items, either way round */
        for (ptrdiff_t shift = 1; shift < is; shift += 2) {
            dst.buf = a;
            src.buf = a + shift;
            check_copy(&m, &dst, &src, "overlapping 0-d copy, source above");
            dst.buf = a + shift;
            src.buf = a;
            check_copy(&m, &dst, &src, "overlapping 0-d copy, source below");
        }
        mem_free(&m);
    }
}

/* ==== transposes ========================================================= */

/* The first byte at or after p that lies `shift` bytes past a line start. */
static unsigned char *line_shifted(unsigned char *p, ptrdiff_t shift)
{
    return p + (64 - (uintptr_t)p % 64 + (uintptr_t)shift) % 64;
}

/* D[r][c] = S[c][r]: one side C-ordered (contiguous rows), the other
 * F-ordered; variant bit 1 swaps which is which, bit 2 pads both pitches by
 * bytes that are not a multiple of the itemsize, bit 4 makes the F side's
 * pitch negative.  The C side's memory starts `cshift` bytes past a 64-byte
 * boundary, the F side's `fshift` (the wide kernels start their tiles on
 * line boundaries and copy the margins before them another way). */
static void check_transpose_at(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t is, int variant,
                               ptrdiff_t cshift, ptrdiff_t fshift)
{
    mem m = {0};
    ptrdiff_t pad = variant & 2 ? 2 * is + 3 : 0;
    bool dst_c = !(variant & 1), negative = variant & 4;
    ptrdiff_t cpitch = cols * is + pad, fpitch = rows * is + pad;
    ptrdiff_t cbytes = rows * cpitch, fbytes = cols * fpitch;
    unsigned char *cmem = line_shifted(mem_new(&m, (size_t)cbytes + 64), cshift);
    unsigned char *fmem = line_shifted(mem_new(&m, (size_t)fbytes + 64), fshift);
    ptrdiff_t shape[2] = {rows, cols};
    ptrdiff_t cstrides[2] = {cpitch, is}, fstrides[2] = {is, negative ? -fpitch : fpitch};
    unsigned char *fbuf = negative ? fmem + (cols - 1) * fpitch : fmem;
    xbuf_view cv = {.buf = cmem, .len = rows * cols * is, .itemsize = is, .ndim = 2,
                    .shape = shape, .strides = cstrides};
    xbuf_view fv = cv;
    fv.buf = fbuf;
    fv.strides = fstrides;
    const xbuf_view *dst = dst_c ? &cv : &fv, *src = dst_c ? &fv : &cv;
    mem_snapshot(&m);
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t c = 0; c < cols; c++) {
            const unsigned char *s = (const unsigned char *)src->buf + r * src->strides[0] +
                                     c * src->strides[1];
            unsigned char *d = (unsigned char *)dst->buf + r * dst->strides[0] +
                               c * dst->strides[1];
            memcpy(mem_expect_at(&m, d, is), s, (size_t)is);
        }
    xbuf_error err;
    int rc = xbuf_copy(dst, src, &err);
    char what[128], msg[512];
    snprintf(what, sizeof what,
             "transpose %td x %td of %td-byte items, variant %d, C side at line offset %td, "
             "F side at %td", rows, cols, is, variant, cshift, fshift);
    if (rc != XBUF_OK) {
        snprintf(msg, sizeof msg, "xbuf_copy returned %d: %s", rc, err.message);
        fail_case(what, dst, src, msg);
    }
    if (!mem_matches(&m, msg, sizeof msg))
        fail_case(what, dst, src, msg);
    mem_free(&m);
}

static void check_transpose(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t is, int variant)
{
    check_transpose_at(rows, cols, is, variant, 0, 0);
}

Test(copy, transposes_of_every_itemsize)
{
    /* around the 16/32/64 tile and 2/4/16 register-block edges */
    static const ptrdiff_t sizes[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128,
                                      129, 130};
    static const ptrdiff_t itemsizes[] = {1, 2, 3, 4, 5, 8, 16, 24, 32, 64, 72};
    int n = (int)(sizeof sizes / sizeof sizes[0]);
    int v = 0;
    for (size_t k = 0; k < sizeof itemsizes / sizeof itemsizes[0]; k++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                check_transpose(sizes[i], sizes[j], itemsizes[k], v++ % 8);
}

Test(copy, transposes_every_extent_1_to_130)
{
    /* every extent 1..130 on one side, paired with a sweep on the other */
    for (ptrdiff_t r = 1; r <= 130; r++)
        for (int k = 0; k < 4; k++) {
            ptrdiff_t is = (ptrdiff_t[]){1, 4, 8, 2}[k];
            check_transpose(r, 131 - r, is, (int)(r + k) % 8);
            check_transpose(r, (r * 7) % 130 + 1, is, (int)(r + k + 1) % 8);
        }
}

Test(copy, transposes_long_and_thin)
{
    static const ptrdiff_t itemsizes[] = {1, 2, 3, 4, 8, 16, 24};
    for (size_t k = 0; k < sizeof itemsizes / sizeof itemsizes[0]; k++)
        for (int v = 0; v < 8; v++) {
            check_transpose(4096, 3, itemsizes[k], v);
            check_transpose(3, 4096, itemsizes[k], v);
            check_transpose(4097, 2, itemsizes[k], v);
            check_transpose(1, 300, itemsizes[k], v);
            check_transpose(300, 1, itemsizes[k], v);
        }
}

Test(copy, transposes_at_every_line_offset)
{
    /* Pitches of whole lines (the wide kernels then align their tiles) and
     * not, each side starting anywhere in a line: the tiles, and the
     * margins above, below and beside them, all land where they should. */
    static const ptrdiff_t itemsizes[] = {1, 4, 8};
    for (size_t k = 0; k < 3; k++) {
        ptrdiff_t is = itemsizes[k], edge = 64 / is;
        for (ptrdiff_t shift = 0; shift < 64; shift++) {
            ptrdiff_t other = (shift * 37 + 5) % 64;
            int variant = (int)(shift % 2) | (shift % 8 == 3 ? 2 : 0) | (shift % 4 == 2 ? 4 : 0);
            check_transpose_at(4 * edge, 3 * edge, is, variant, shift, other);
            check_transpose_at(3 * edge + 5, 2 * edge + 9, is, variant, other, shift);
        }
    }
}

/* A byte transpose with 8 MiB of output, each side at a few line offsets:
 * the wide kernel's streaming stores and its margins. */
Test(copy, byte_transpose_large_at_line_offsets)
{
    static const ptrdiff_t shifts[][2] = {{0, 0}, {16, 16}, {48, 5}, {1, 63}};
    for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++)
        check_transpose_at(2048 + 17, 4096, 1, (int)i % 2, shifts[i][0], shifts[i][1]);
}

/* A transpose large enough for the streaming-store path (8 MiB of output),
 * with the destination 16-byte aligned and not. */
Test(copy, transpose_large_streaming)
{
    ptrdiff_t rows = 1024, cols = 2048, is = 4;
    for (int misalign = 0; misalign < 2; misalign++) {
        unsigned char *dmem = malloc((size_t)(rows * cols * is + 64));
        uint32_t *smem = malloc((size_t)(rows * cols * is));
        cr_assert(dmem && smem);
        for (ptrdiff_t i = 0; i < rows * cols; i++)
            smem[i] = (uint32_t)(i * 2654435761u);
        memset(dmem, 0xEE, (size_t)(rows * cols * is + 64));
        unsigned char *d = dmem + (16 - (uintptr_t)dmem % 16) % 16 + (size_t)misalign * 4;
        ptrdiff_t shape[2] = {rows, cols}, ds[2] = {cols * is, is}, ss[2] = {is, rows * is};
        xbuf_view dv = {.buf = d, .len = rows * cols * is, .itemsize = is, .ndim = 2,
                        .shape = shape, .strides = ds};
        xbuf_view sv = dv;
        sv.buf = smem;
        sv.strides = ss;
        cr_assert_eq(xbuf_copy(&dv, &sv, NULL), XBUF_OK);
        for (ptrdiff_t r = 0; r < rows; r++)
            for (ptrdiff_t c = 0; c < cols; c++) {
                uint32_t got;
                memcpy(&got, d + (r * cols + c) * is, 4);
                if (got != smem[c * rows + r])
                    cr_assert_fail("misalign %d: D[%td][%td] = 0x%08x, expected 0x%08x",
                                   misalign, r, c, got, smem[c * rows + r]);
            }
        for (unsigned char *p = dmem; p < d; p++)
            cr_assert_eq(*p, 0xEE, "byte before the destination written");
        for (unsigned char *p = d + rows * cols * is; p < dmem + rows * cols * is + 64; p++)
            cr_assert_eq(*p, 0xEE, "byte after the destination written");
        free(dmem);
        free(smem);
    }
}

/* ==== gathers of every other item ======================================== */

/* Items start, start+2, ... of `len` items of `is` bytes whose memory ends
 * at an inaccessible page: the view's last item is the last thing the copy
 * may read. */
static void check_every_other(ptrdiff_t is, ptrdiff_t len, ptrdiff_t start)
{
    ptrdiff_t n = (len - start + 1) / 2;
    if (n <= 0)
        return;
    /* the memory ends right after the view's last item */
    ptrdiff_t bytes = (start + 2 * (n - 1) + 1) * is;
    fenced f = fenced_alloc((size_t)bytes);
    unsigned char *base = f.p;
    for (ptrdiff_t i = 0; i < bytes; i++)
        base[i] = (unsigned char)(i * 37 + 11);
    mem m = {0};
    unsigned char *out = mem_new(&m, (size_t)(n * is));
    ptrdiff_t shape[1] = {n}, ss[1] = {2 * is}, ds[1] = {is};
    xbuf_view dst = {.buf = out, .len = n * is, .itemsize = is, .ndim = 1, .shape = shape,
                     .strides = ds};
    xbuf_view src = dst;
    src.buf = base + start * is;
    src.strides = ss;
    src.readonly = 1;
    char what[96];
    snprintf(what, sizeof what, "every other %td-byte item of %td from %td (fence after)", is,
             len, start);
    mem_snapshot(&m);
    for (ptrdiff_t k = 0; k < n; k++)
        memcpy(mem_expect_at(&m, out + k * is, is), base + (start + 2 * k) * is, (size_t)is);
    xbuf_error err;
    char msg[512];
    int rc = xbuf_copy(&dst, &src, &err);
    if (rc != XBUF_OK) {
        snprintf(msg, sizeof msg, "xbuf_copy returned %d: %s", rc, err.message);
        fail_case(what, &dst, &src, msg);
    }
    if (!mem_matches(&m, msg, sizeof msg))
        fail_case(what, &dst, &src, msg);
    mem_free(&m);
    fenced_free(&f);
}

Test(copy, every_other_item_gathers)
{
    for (ptrdiff_t is = 1; is <= 8; is *= 2)
        for (ptrdiff_t len = 1; len <= 200; len++)
            for (ptrdiff_t start = 0; start < 2; start++)
                check_every_other(is, len, start);
}

/* The same as a 2-d slice m[:, ::2] of a matrix with an odd number of
 * columns, the last row ending at the fence. */
Test(copy, every_other_column_of_a_matrix)
{
    for (ptrdiff_t is = 1; is <= 8; is *= 2)
        for (ptrdiff_t width = 31; width <= 67; width += 2) {
            ptrdiff_t rows = 5, n = (width + 1) / 2, bytes = rows * width * is;
            fenced f = fenced_alloc((size_t)bytes);
            for (ptrdiff_t i = 0; i < bytes; i++)
                f.p[i] = (unsigned char)(i * 13 + 5);
            mem m = {0};
            unsigned char *out = mem_new(&m, (size_t)(rows * n * is));
            ptrdiff_t shape[2] = {rows, n}, ss[2] = {width * is, 2 * is};
            xbuf_view dst = {.buf = out, .len = rows * n * is, .itemsize = is, .ndim = 2,
                             .shape = shape};
            xbuf_view src = dst;
            src.buf = f.p;
            src.strides = ss;
            char what[64];
            snprintf(what, sizeof what, "m[:, ::2] of %td x %td, itemsize %td", rows, width, is);
            check_copy(&m, &dst, &src, what);
            mem_free(&m);
            fenced_free(&f);
        }
}

/* m[:, ::2] with 8 MiB and more of output: the gathers write with
 * streaming stores from the destination's first 16-byte boundary on (the
 * shifts put it mid-row, or make it unreachable for the item size). */
Test(copy, every_other_column_streaming)
{
    static const ptrdiff_t itemsizes[] = {1, 2, 4, 8};
    for (size_t k = 0; k < 4; k++) {
        ptrdiff_t is = itemsizes[k], n = (8 << 20) / is / 1024 + 3, rows = 1025;
        ptrdiff_t width = 2 * n - 1, shift = k == 2 ? 5 : 3 * is;
        mem m = {0};
        unsigned char *in = mem_new(&m, (size_t)(rows * width * is));
        unsigned char *out = line_shifted(mem_new(&m, (size_t)(rows * n * is + 64)), shift);
        ptrdiff_t shape[2] = {rows, n}, ss[2] = {width * is, 2 * is};
        xbuf_view dst = {.buf = out, .len = rows * n * is, .itemsize = is, .ndim = 2,
                         .shape = shape};
        xbuf_view src = dst;
        src.buf = in;
        src.strides = ss;
        char what[96];
        snprintf(what, sizeof what, "m[:, ::2] of %td x %td, itemsize %td, output at +%td", rows,
                 width, is, shift);
        check_copy(&m, &dst, &src, what);
        mem_free(&m);
    }
}

/* ==== copies made of many packed runs ==================================== */

/* `rows` rows of `run` bytes, both sides padded (by odd amounts, so the rows
 * start at ever different offsets) so the rows do not merge into one run,
 * the destination `dshift` and the source `sshift` bytes past a line start:
 * each row is one packed run for the run kernel. */
static void check_runs(ptrdiff_t rows, ptrdiff_t run, ptrdiff_t is, ptrdiff_t dshift,
                       ptrdiff_t sshift)
{
    mem m = {0};
    ptrdiff_t dpitch = run + 3 * is + 1, spitch = run + 5 * is + 3;
    unsigned char *dmem = line_shifted(mem_new(&m, (size_t)(rows * dpitch + 64)), dshift);
    unsigned char *smem = line_shifted(mem_new(&m, (size_t)(rows * spitch + 64)), sshift);
    ptrdiff_t shape[2] = {rows, run / is}, ds[2] = {dpitch, is}, ss[2] = {spitch, is};
    xbuf_view dst = {.buf = dmem, .len = rows * run, .itemsize = is, .ndim = 2, .shape = shape,
                     .strides = ds};
    xbuf_view src = dst;
    src.buf = smem;
    src.strides = ss;
    char what[128];
    snprintf(what, sizeof what, "%td rows of %td bytes, destination at line offset %td, "
             "source at %td", rows, run, dshift, sshift);
    check_copy(&m, &dst, &src, what);
    mem_free(&m);
}

Test(copy, packed_runs_of_every_length_and_offset)
{
    /* around the run kernel's 32- and 128-byte steps and its 256-byte
     * threshold */
    for (ptrdiff_t run = 1; run <= 600; run++)
        check_runs(3, run, 1, run % 64, (run * 7) % 64);
}

/* Large enough (32 MiB and more) for streaming stores, rows not a whole
 * number of lines, neither side on a line boundary. */
Test(copy, packed_runs_streaming)
{
    check_runs(4100, 8200, 8, 13, 40);
}

/* ==== indirect views: the example image exporter ========================= */

static image *new_image(ptrdiff_t bands, ptrdiff_t height, ptrdiff_t width)
{
    image *img = NULL;
    xbuf_error err;
    cr_assert_eq(image_create(bands, height, width, 0, &img, &err), XBUF_OK, "%s", err.message);
    for (ptrdiff_t b = 0; b < bands; b++)
        for (ptrdiff_t y = 0; y < height; y++)
            for (ptrdiff_t x = 0; x < width; x++)
                *image_pixel(img, b, y, x) = (unsigned char)(b * 100 + y * 10 + x);
    return img;
}

Test(copy, pil_image_exporter)
{
    const ptrdiff_t B = 3, H = 5, W = 7, N = B * H * W;
    image *a = new_image(B, H, W), *b = new_image(B, H, W);
    xbuf_view va, vb;
    xbuf_error err;
    cr_assert_eq(xbuf_get(&a->exporter, &va, XBUF_FULL, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_get(&b->exporter, &vb, XBUF_FULL, &err), XBUF_OK, "%s", err.message);
    cr_assert_not_null(va.suboffsets);

    /* to contiguous, both orders */
    unsigned char c[105], f[105];
    cr_assert_eq(xbuf_copy_to_contiguous(c, N, &va, 'C', &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(xbuf_copy_to_contiguous(f, N, &va, 'F', &err), XBUF_OK, "%s", err.message);
    unsigned char a_ = 0;
    cr_assert_eq(xbuf_copy_to_contiguous(&a_, 1, &va, 'A', &err), XBUF_EINVAL); /* len */
    for (ptrdiff_t i = 0; i < B; i++)
        for (ptrdiff_t y = 0; y < H; y++)
            for (ptrdiff_t x = 0; x < W; x++) {
                unsigned char want = (unsigned char)(i * 100 + y * 10 + x);
                cr_assert_eq(c[(i * H + y) * W + x], want);
                cr_assert_eq(f[(x * H + y) * B + i], want);
            }

    /* image to image, both indirect; then a reversed view of b into a */
    for (ptrdiff_t y = 0; y < H; y++)
        for (ptrdiff_t x = 0; x < W; x++)
            *image_pixel(b, 1, y, x) = (unsigned char)(200 + x - y);
    cr_assert_eq(xbuf_copy(&va, &vb, &err), XBUF_OK, "%s", err.message);
    for (ptrdiff_t y = 0; y < H; y++)
        for (ptrdiff_t x = 0; x < W; x++)
            cr_assert_eq(*image_pixel(a, 1, y, x), (unsigned char)(200 + x - y));
    ptrdiff_t rstrides[3] = {-vb.strides[0], vb.strides[1], -1};
    ptrdiff_t rsub[3] = {-1, W - 1, -1};
    xbuf_view rev = vb; /* b reversed along bands and columns */
    rev.buf = (char *)vb.buf + (B - 1) * vb.strides[0];
    rev.strides = rstrides;
    rev.suboffsets = rsub;
    unsigned char *expect = gather(&rev);
    cr_assert_eq(xbuf_copy(&va, &rev, &err), XBUF_OK, "%s", err.message);
    unsigned char *got = gather(&va);
    cr_assert_eq(memcmp(expect, got, (size_t)N), 0, "reversed indirect view into another");
    free(expect);
    free(got);

    /* an image into itself, reversed: the source must be read first */
    rev.buf = (char *)va.buf + (B - 1) * va.strides[0];
    expect = gather(&rev);
    cr_assert_eq(xbuf_copy(&va, &rev, &err), XBUF_OK, "%s", err.message);
    got = gather(&va);
    cr_assert_eq(memcmp(expect, got, (size_t)N), 0, "in-place reversal of an indirect view");
    free(expect);
    free(got);

    /* from contiguous, fill, identical copy */
    for (ptrdiff_t i = 0; i < N; i++)
        c[i] = (unsigned char)(255 - i);
    cr_assert_eq(xbuf_copy_from_contiguous(&va, c, N, 'C', &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(*image_pixel(a, 2, 4, 6), (unsigned char)(255 - (N - 1)));
    cr_assert_eq(*image_pixel(a, 0, 1, 2), (unsigned char)(255 - (W + 2)));
    cr_assert_eq(xbuf_copy(&va, &va, &err), XBUF_OK, "%s", err.message);
    cr_assert_eq(*image_pixel(a, 0, 1, 2), (unsigned char)(255 - (W + 2)));
    cr_assert_eq(xbuf_fill(&va, image_pixel(a, 1, 1, 1), &err), XBUF_OK, "%s", err.message);
    unsigned char v11 = (unsigned char)(255 - (H * W + W + 1));
    for (ptrdiff_t i = 0; i < B; i++)
        for (ptrdiff_t y = 0; y < H; y++)
            for (ptrdiff_t x = 0; x < W; x++)
                cr_assert_eq(*image_pixel(a, i, y, x), v11);

    /* an image converted to '<H' in a direct view and back */
    uint16_t wide[105];
    ptrdiff_t shape[3] = {B, H, W};
    xbuf_view vw = {.buf = wide, .len = N * 2, .itemsize = 2, .ndim = 3, .shape = shape,
                    .format = "<H"};
    cr_assert_eq(xbuf_copy_convert(&vw, &vb, XBUF_OVERFLOW_ERROR, &err), XBUF_OK, "%s",
                 err.message);
    cr_assert_eq(wide[1 * H * W + 2 * W + 3], (uint16_t)(200 + 3 - 2));
    wide[7] = 300;
    cr_assert_eq(xbuf_copy_convert(&va, &vw, XBUF_OVERFLOW_ERROR, &err), XBUF_ERANGE);
    cr_assert_eq(*image_pixel(a, 0, 0, 0), v11, "a failed conversion wrote");
    cr_assert_eq(xbuf_copy_convert(&va, &vw, XBUF_OVERFLOW_WRAP, &err), XBUF_OK);
    cr_assert_eq(*image_pixel(a, 0, 1, 0), 300 % 256);

    xbuf_release(&va);
    xbuf_release(&vb);
    cr_assert_eq(image_destroy(a, NULL), XBUF_OK);
    cr_assert_eq(image_destroy(b, NULL), XBUF_OK);
}

/*
 * A direct destination over the source's own pointer table.  Writing the
 * destination changes which rows the rest of the source refers to, so
 * "as if the source had been copied to a temporary first" needs the
 * temporary here too.  The rows hold pointers to rows, so a wrong answer is
 * a wrong value rather than a crash.
 */
Test(copy, destination_over_the_source_pointer_table)
{
    enum { R = 8 };
    void *rows[R][1];   /* the rows: one pointer-sized item each */
    void *table[R];     /* the source's pointer table */
    for (int i = 0; i < R; i++) {
        rows[i][0] = &rows[(i + 3) % R][0];
        table[i] = &rows[i][0];
    }
    ptrdiff_t P = (ptrdiff_t)sizeof(void *);
    ptrdiff_t shape[1] = {R}, sstr[1] = {P}, ssub[1] = {0}, dstr[1] = {-P};
    xbuf_view src = {.buf = table, .len = R * P, .itemsize = P, .ndim = 1, .shape = shape,
                     .strides = sstr, .suboffsets = ssub, .readonly = 1};
    xbuf_view dst = {.buf = &table[R - 1], .len = R * P, .itemsize = P, .ndim = 1,
                     .shape = shape, .strides = dstr};
    /* expected: table reversed gets the rows' contents, read before any write */
    void *want[R];
    for (int i = 0; i < R; i++)
        want[R - 1 - i] = *(void **)table[i];
    xbuf_error err;
    cr_assert_eq(xbuf_copy(&dst, &src, &err), XBUF_OK, "%s", err.message);
    for (int i = 0; i < R; i++)
        cr_expect_eq(table[i], want[i],
                     "table[%d] = rows+%td, expected rows+%td: the copy read a row pointer "
                     "it had already overwritten",
                     i, (void **)table[i] - &rows[0][0], (void **)want[i] - &rows[0][0]);
}

/* ==== to and from contiguous memory ====================================== */

static char resolve(const xbuf_view *v, char order)
{
    if (order != 'A')
        return order;
    return view_contig(v, 'F') && !view_contig(v, 'C') ? 'F' : 'C';
}

Test(contiguous, to_contiguous_random)
{
    char what[96], msg[512];
    for (int k = 0; k < 1500; k++) {
        rng_seed(4000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = any_shape(shape, k, true);
        ptrdiff_t is = ITEMSIZES[rnd(N_ITEMSIZES)];
        char order = "CFA"[rnd(3)];
        mem m = {0};
        static tview s;
        vopts sopt = SRC_OPTS;
        bool overlap = chance(25);
        sopt.slack = overlap ? 16 : 0;
        tview_design(&s, ndim, shape, is, &sopt);
        placer p = {&m, PLACE_SEPARATE, NULL, 0, 0};
        size_t need = data_bytes(&s) + 16;
        ptrdiff_t len = count_items(ndim, shape) * is;
        if (overlap) { /* the output lands somewhere in the source's arena */
            p.mode = PLACE_SEQUENTIAL;
            p.arena_size = need > (size_t)len ? need : (size_t)len;
            p.arena = mem_new(&m, p.arena_size);
        }
        tview_build(&s, &p, &sopt);
        unsigned char *out = overlap ? p.arena + rnd((ptrdiff_t)(p.arena_size - (size_t)len) + 1)
                                     : mem_new(&m, (size_t)len);
        char resolved = resolve(&s.v, order);
        mem_snapshot(&m);
        unsigned char *items = gather(&s.v);
        if (len > 0) {
            ptrdiff_t idx[XBUF_MAX_NDIM] = {0}, c = 0;
            do
                memcpy(mem_expect_at(&m, out + is * linear(idx, shape, ndim, resolved), is),
                       items + is * c++, (size_t)is);
            while (odometer(idx, shape, ndim));
        }
        free(items);
        snprintf(what, sizeof what, "to_contiguous case %d, order %c (resolved %c)%s", k, order,
                 resolved, overlap ? ", output overlapping the source" : "");
        xbuf_error err;
        int rc = xbuf_copy_to_contiguous(out, len, &s.v, order, &err);
        if (rc != XBUF_OK) {
            snprintf(msg, sizeof msg, "returned %d: %s", rc, err.message);
            fail_case(what, NULL, &s.v, msg);
        }
        if (!mem_matches(&m, msg, sizeof msg))
            fail_case(what, NULL, &s.v, msg);
        mem_free(&m);
    }
}

Test(contiguous, from_contiguous_random)
{
    char what[96], msg[512];
    for (int k = 0; k < 1500; k++) {
        rng_seed(5000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = any_shape(shape, k, true);
        ptrdiff_t is = ITEMSIZES[rnd(N_ITEMSIZES)];
        char order = "CFA"[rnd(3)];
        mem m = {0};
        static tview d;
        vopts dopt = DST_OPTS;
        bool overlap = chance(25);
        tview_design(&d, ndim, shape, is, &dopt);
        placer p = {&m, PLACE_SEPARATE, NULL, 0, 0};
        size_t need = data_bytes(&d) + 16;
        ptrdiff_t len = count_items(ndim, shape) * is;
        if (overlap) {
            p.mode = PLACE_SEQUENTIAL;
            p.arena_size = need > (size_t)len ? need : (size_t)len;
            p.arena = mem_new(&m, p.arena_size);
        }
        tview_build(&d, &p, &dopt);
        unsigned char *in = overlap ? p.arena + rnd((ptrdiff_t)(p.arena_size - (size_t)len) + 1)
                                    : mem_new(&m, (size_t)len);
        char resolved = resolve(&d.v, order);
        mem_snapshot(&m);
        unsigned char *items = malloc(len > 0 ? (size_t)len : 1);
        cr_assert_not_null(items);
        memcpy(items, in, (size_t)len);
        scatter(&m, &d.v, items, resolved);
        free(items);
        snprintf(what, sizeof what, "from_contiguous case %d, order %c (resolved %c)%s", k,
                 order, resolved, overlap ? ", input overlapping the destination" : "");
        xbuf_error err;
        int rc = xbuf_copy_from_contiguous(&d.v, in, len, order, &err);
        if (rc != XBUF_OK) {
            snprintf(msg, sizeof msg, "returned %d: %s", rc, err.message);
            fail_case(what, &d.v, NULL, msg);
        }
        if (!mem_matches(&m, msg, sizeof msg))
            fail_case(what, &d.v, NULL, msg);
        mem_free(&m);
    }
}

/* 'A' is F only for views that are F- and not C-contiguous. */
Test(contiguous, order_A)
{
    int16_t data[16];
    for (int i = 0; i < 16; i++)
        data[i] = (int16_t)(i + 1);
    int16_t out[12];
    struct {
        ptrdiff_t shape[2], strides[2];
        char expect;
    } cases[] = {
        {{3, 4}, {2, 6}, 'F'},  /* F-contiguous only */
        {{3, 4}, {8, 2}, 'C'},  /* C-contiguous only */
        {{1, 12}, {99, 2}, 'C'}, /* both */
        {{12, 1}, {2, -5}, 'C'}, /* both */
        {{2, 3}, {4, 12}, 'C'}, /* neither: a strided slice */
        {{3, 4}, {-2, 6}, 'C'}, /* neither: reversed */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ptrdiff_t *shape = cases[k].shape, *strides = cases[k].strides;
        ptrdiff_t n = shape[0] * shape[1];
        ptrdiff_t lo = 0;
        for (int i = 0; i < 2; i++)
            if (strides[i] < 0)
                lo += strides[i] * (shape[i] - 1);
        xbuf_view v = {.buf = (char *)data - lo, .len = n * 2, .itemsize = 2, .ndim = 2,
                       .shape = shape, .strides = strides};
        cr_assert_eq(xbuf_copy_to_contiguous(out, n * 2, &v, 'A', NULL), XBUF_OK);
        int16_t expect[12];
        for (ptrdiff_t i = 0; i < shape[0]; i++)
            for (ptrdiff_t j = 0; j < shape[1]; j++) {
                ptrdiff_t pos = cases[k].expect == 'C' ? i * shape[1] + j : j * shape[0] + i;
                memcpy(&expect[pos], (char *)v.buf + i * strides[0] + j * strides[1], 2);
            }
        cr_assert_eq(memcmp(out, expect, (size_t)n * 2), 0, "case %zu: expected order %c", k,
                     cases[k].expect);
        /* and back: from_contiguous 'A' resolves the same way */
        int16_t back[16] = {0};
        xbuf_view w = v;
        w.buf = (char *)back - lo;
        cr_assert_eq(xbuf_copy_from_contiguous(&w, expect, n * 2, 'A', NULL), XBUF_OK);
        for (ptrdiff_t i = 0; i < shape[0]; i++)
            for (ptrdiff_t j = 0; j < shape[1]; j++)
                cr_assert_eq(memcmp((char *)w.buf + i * strides[0] + j * strides[1],
                                    (char *)v.buf + i * strides[0] + j * strides[1], 2),
                             0, "case %zu: from_contiguous 'A'", k);
    }
}

/* An in-place transpose through to_contiguous: the output is the memory
 * the (transposed) source view reads. */
Test(contiguous, in_place_transpose)
{
    for (ptrdiff_t n = 1; n <= 40; n++) {
        int32_t *a = malloc((size_t)(n * n) * 4);
        cr_assert_not_null(a);
        for (ptrdiff_t i = 0; i < n * n; i++)
            a[i] = (int32_t)i;
        ptrdiff_t shape[2] = {n, n}, strides[2] = {4, 4 * n};
        xbuf_view t = {.buf = a, .len = n * n * 4, .itemsize = 4, .ndim = 2, .shape = shape,
                       .strides = strides};
        cr_assert_eq(xbuf_copy_to_contiguous(a, n * n * 4, &t, 'C', NULL), XBUF_OK);
        for (ptrdiff_t i = 0; i < n; i++)
            for (ptrdiff_t j = 0; j < n; j++)
                cr_assert_eq(a[i * n + j], (int32_t)(j * n + i), "n=%td a[%td][%td]", n, i, j);
        free(a);
    }
}

/* ==== fill ============================================================== */

Test(fill, random_views)
{
    static const ptrdiff_t itemsizes[] = {1, 2, 3, 4, 5, 8, 16, 24, 64, 65, 100};
    char what[96], msg[512];
    for (int k = 0; k < 1500; k++) {
        rng_seed(6000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = any_shape(shape, k, true);
        ptrdiff_t is = itemsizes[rnd((ptrdiff_t)(sizeof itemsizes / sizeof itemsizes[0]))];
        mem m = {0};
        static tview d;
        placer p = {&m, PLACE_SEPARATE, NULL, 0, 0};
        tview_design(&d, ndim, shape, is, &DST_OPTS);
        tview_build(&d, &p, &DST_OPTS);
        ptrdiff_t n = count_items(ndim, shape);
        const unsigned char *item;
        bool inside = n > 0 && chance(50);
        if (inside) { /* one of the destination's own items */
            ptrdiff_t idx[XBUF_MAX_NDIM];
            for (int i = 0; i < ndim; i++)
                idx[i] = rnd(shape[i]);
            item = item_at(&d.v, idx);
        } else {
            item = mem_new(&m, (size_t)is);
        }
        mem_snapshot(&m);
        unsigned char *value = malloc((size_t)is);
        cr_assert_not_null(value);
        memcpy(value, item, (size_t)is);
        scatter(&m, &d.v, value, 0);
        free(value);
        snprintf(what, sizeof what, "fill case %d (item %s the destination)", k,
                 inside ? "inside" : "outside");
        xbuf_error err;
        int rc = xbuf_fill(&d.v, item, &err);
        if (rc != XBUF_OK) {
            snprintf(msg, sizeof msg, "returned %d: %s", rc, err.message);
            fail_case(what, &d.v, NULL, msg);
        }
        if (!mem_matches(&m, msg, sizeof msg))
            fail_case(what, &d.v, NULL, msg);
        mem_free(&m);
    }
}

/* The item is the first item of a reversed view, overwritten early. */
Test(fill, item_inside_the_destination)
{
    for (ptrdiff_t is = 1; is <= 100; is += 33) {
        unsigned char *a = malloc((size_t)(10 * is));
        cr_assert_not_null(a);
        for (ptrdiff_t i = 0; i < 10 * is; i++)
            a[i] = (unsigned char)i;
        ptrdiff_t shape[1] = {10}, strides[1] = {-is};
        xbuf_view v = {.buf = a + 9 * is, .len = 10 * is, .itemsize = is, .ndim = 1,
                       .shape = shape, .strides = strides};
        unsigned char *value = malloc((size_t)is);
        cr_assert_not_null(value);
        memcpy(value, a + 4 * is, (size_t)is);
        cr_assert_eq(xbuf_fill(&v, a + 4 * is, NULL), XBUF_OK);
        for (ptrdiff_t i = 0; i < 10; i++)
            cr_assert_eq(memcmp(a + i * is, value, (size_t)is), 0, "itemsize %td item %td", is, i);
        free(value);
        free(a);
    }
}

/* ==== conversions ======================================================== */

__extension__ typedef __int128 i128;

typedef struct cfmt {
    const char *code;
    char kind; /* 's' signed, 'u' unsigned, '?' bool, 'f' float, 'c' complex */
    ptrdiff_t size;
} cfmt;

static const cfmt CODES[] = {
    {"b", 's', 1},  {"B", 'u', 1},  {"h", 's', 2},  {"H", 'u', 2}, {"i", 's', 4},
    {"I", 'u', 4},  {"l", 's', 4},  {"L", 'u', 4},  {"q", 's', 8}, {"Q", 'u', 8},
    {"e", 'f', 2},  {"f", 'f', 4},  {"d", 'f', 8},  {"g", 'f', (ptrdiff_t)sizeof(long double)},
    {"?", '?', 1},  {"Zf", 'c', 8}, {"Zd", 'c', 16},
};
#define N_CODES ((int)(sizeof CODES / sizeof CODES[0]))

#if LDBL_MANT_DIG == 64
#  define LDBL_BYTES 10 /* x87: the rest is padding, which the codec writes as zero */
#else
#  define LDBL_BYTES ((int)sizeof(long double))
#endif

static bool is_integer_kind(char kind)
{
    return kind == 's' || kind == 'u' || kind == '?';
}

typedef struct val {
    i128 n;              /* integer kinds */
    long double re, im;  /* float and complex kinds */
} val;

static xbuf_format *half_fmt[2]; /* '<e', '>e': the codec is the reference for halves */

static void parse_halves(void)
{
    cr_assert_eq(xbuf_format_parse("<e", &half_fmt[0], NULL), XBUF_OK);
    cr_assert_eq(xbuf_format_parse(">e", &half_fmt[1], NULL), XBUF_OK);
}

static void release_halves(void)
{
    xbuf_format_release(half_fmt[0]);
    xbuf_format_release(half_fmt[1]);
}

static void reverse_bytes(unsigned char *p, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n / 2; i++) {
        unsigned char t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* A real in format code c ('e' 'f' 'd' 'g') and byte order; XBUF_ERANGE
 * for a finite value that becomes infinite, unless wrap. */
static int encode_real(char c, char order, long double x, bool wrap, unsigned char *out)
{
    ptrdiff_t size;
    switch (c) {
    case 'e':
        return xbuf_scalar_write_float(xbuf_format_type(half_fmt[order == '>']), out, x, wrap,
                                       NULL);
    case 'f': {
        float y = (float)x;
        if (isinf(y) && !isinf(x) && !wrap)
            return XBUF_ERANGE;
        memcpy(out, &y, sizeof y);
        size = 4;
        break;
    }
    case 'd': {
        double y = (double)x;
        if (isinf(y) && !isinf(x) && !wrap)
            return XBUF_ERANGE;
        memcpy(out, &y, sizeof y);
        size = 8;
        break;
    }
    default:
        memset(out, 0, sizeof x);
        memcpy(out, &x, LDBL_BYTES);
        size = (ptrdiff_t)sizeof x;
        break;
    }
    if (order == '>')
        reverse_bytes(out, size);
    return XBUF_OK;
}

/* truncl without libm (which this test does not link): a long double of
 * magnitude 2^63 or more is already an integer. */
static long double trunc_ld(long double x)
{
    if (!(x > -0x1p63L && x < 0x1p63L))
        return x;
    return (long double)(i128)x;
}

static bool int_fits(const cfmt *f, i128 n)
{
    if (f->kind == '?')
        return n == 0 || n == 1;
    int bits = (int)f->size * 8;
    if (f->kind == 's')
        return n >= -((i128)1 << (bits - 1)) && n < ((i128)1 << (bits - 1));
    return n >= 0 && n < ((i128)1 << bits);
}

static void encode_int(const cfmt *f, char order, i128 n, unsigned char *out)
{
    if (f->kind == '?') {
        out[0] = n != 0;
        return;
    }
    uint64_t bits = (uint64_t)n;
    for (ptrdiff_t i = 0; i < f->size; i++)
        out[i] = (unsigned char)(bits >> (8 * i));
    if (order == '>')
        reverse_bytes(out, f->size);
}

static char component(const cfmt *f)
{
    return f->kind == 'c' ? f->code[1] : f->code[0];
}

/* What converting v (a value of `from`) to `to` must give, written in
 * order `to_order` into out (only on success).  The rules of
 * xbuf_copy_convert's contract:
 *   to an integer: integral, finite, real and in range, else ERANGE; with
 *   wrap, integers keep their low bits (a bool becomes value != 0) and
 *   floats are truncated toward zero first (and must fit in 64 bits);
 *   to a float: real, rounded to nearest; infinite from finite is ERANGE
 *   unless wrap; to a complex: each part so. */
static int ref_convert(const cfmt *to, char to_order, const cfmt *from, const val *v, bool wrap,
                       unsigned char *out)
{
    unsigned char tmp[32];
    if (is_integer_kind(to->kind)) {
        i128 n;
        if (is_integer_kind(from->kind)) {
            n = v->n;
        } else {
            if (v->im != 0 || !isfinite(v->re))
                return XBUF_ERANGE;
            long double t = trunc_ld(v->re);
            if (t != v->re && !wrap)
                return XBUF_ERANGE;
            if (t < -0x1p63L || t >= 0x1p64L)
                return XBUF_ERANGE;
            n = (i128)t;
        }
        if (!int_fits(to, n) && !wrap)
            return XBUF_ERANGE;
        encode_int(to, to_order, n, tmp);
    } else {
        long double re = is_integer_kind(from->kind) ? (long double)v->n : v->re;
        long double im = is_integer_kind(from->kind) ? 0 : v->im;
        if (to->kind == 'f') {
            if (im != 0)
                return XBUF_ERANGE;
            int rc = encode_real(component(to), to_order, re, wrap, tmp);
            if (rc != XBUF_OK)
                return rc;
        } else {
            int rc = encode_real(component(to), to_order, re, wrap, tmp);
            if (rc == XBUF_OK)
                rc = encode_real(component(to), to_order, im, wrap, tmp + to->size / 2);
            if (rc != XBUF_OK)
                return rc;
        }
    }
    memcpy(out, tmp, (size_t)to->size);
    return XBUF_OK;
}

static bool representable(char c, long double x)
{
    if (isnan(x))
        return true;
    switch (c) {
    case 'f':
        return (long double)(float)x == x;
    case 'd':
        return (long double)(double)x == x;
    case 'g':
        return true;
    default: {
        unsigned char b[2];
        long double y;
        const xbuf_type *t = xbuf_format_type(half_fmt[0]);
        if (xbuf_scalar_write_float(t, b, x, false, NULL) != XBUF_OK)
            return false;
        cr_assert_eq(xbuf_scalar_read_float(t, b, &y, NULL), XBUF_OK);
        return y == x;
    }
    }
}

#define TWO64 18446744073709551616.0L

static const long double REALS[] = {
    0.0L, -0.0L, 1, -1, 0.5L, -0.5L, -2.5L, 2, 42, 127, 128, -128, -129, 255, 256, 300, -300,
    32767, 32768, -32769, 65504, 65519, 65520, 70000, 2147483647.0L, 2147483648.0L,
    -2147483649.0L, 4294967295.0L, 4294967296.0L, 16777217.0L, 9007199254740993.0L, 1e10L,
    0x1p63L, -0x1p63L, 0x1p64L, TWO64 - 2048.0L, 1e-5L, 1e-40L, 1e-320L, 0.1L, 3.25L,
    (long double)FLT_MAX, 1e39L, 1e300L, (long double)DBL_MAX,
#if LDBL_MAX_EXP > 16000
    1e4000L,
#endif
    (long double)INFINITY,
    -(long double)INFINITY, (long double)NAN,
};

static const struct {
    long double re, im;
} COMPLEXES[] = {
    {1, 2}, {0, -1}, {3, -0.0L}, {0, (long double)NAN}, {1, 1e300L}, {-0.0L, 0}, {2.5L, 0.5L},
    {1e300L, 1}, {300, 0.0L}, {(long double)INFINITY, 0},
};

static i128 int_candidate(int k, int *count)
{
    static const int64_t small[] = {0,     1,      -1,     2,      42,     -42,   100,
                                    127,   128,    -128,   -129,   200,    255,   256,
                                    -256,  1000,   32767,  32768,  -32768, -32769, 65535,
                                    65536, 70000,  -70000, 2147483647, -2147483648LL};
    int nsmall = (int)(sizeof small / sizeof small[0]);
    static const i128 big[] = {
        (i128)2147483648LL,          -(i128)2147483649LL, (i128)4294967295LL,
        (i128)4294967296LL,          ((i128)1 << 53) + 1, (i128)1 << 62,
        (i128)INT64_MAX,             (i128)INT64_MIN,     (i128)UINT64_MAX,
        (i128)UINT64_MAX - 1,
    };
    *count = nsmall + (int)(sizeof big / sizeof big[0]);
    return k < nsmall ? (i128)small[k] : big[k - nsmall];
}

/* The values a source format can hold exactly, from the candidates. */
static int pool_for(const cfmt *f, val *pool)
{
    int n = 0, count;
    if (is_integer_kind(f->kind)) {
        int_candidate(0, &count);
        for (int k = 0; k < count; k++) {
            i128 x = int_candidate(k, &count);
            if (int_fits(f, x))
                pool[n++] = (val){x, 0, 0};
        }
        return n;
    }
    char c = component(f);
    for (size_t k = 0; k < sizeof REALS / sizeof REALS[0]; k++)
        if (representable(c, REALS[k]))
            pool[n++] = (val){0, REALS[k], 0};
    if (f->kind == 'c')
        for (size_t k = 0; k < sizeof COMPLEXES / sizeof COMPLEXES[0]; k++)
            if (representable(c, COMPLEXES[k].re) && representable(c, COMPLEXES[k].im))
                pool[n++] = (val){0, COMPLEXES[k].re, COMPLEXES[k].im};
    return n;
}

static void encode_source(const cfmt *f, char order, const val *v, unsigned char *out)
{
    if (is_integer_kind(f->kind)) {
        encode_int(f, order, v->n, out);
        return;
    }
    cr_assert_eq(encode_real(component(f), order, v->re, false, out), XBUF_OK);
    if (f->kind == 'c')
        cr_assert_eq(encode_real(component(f), order, v->im, false, out + f->size / 2), XBUF_OK);
}

static void value_text(char *out, size_t size, const cfmt *f, const val *v)
{
    if (is_integer_kind(f->kind)) {
        if (v->n < 0)
            snprintf(out, size, "%lld", (long long)v->n);
        else
            snprintf(out, size, "%llu", (unsigned long long)v->n);
    } else {
        snprintf(out, size, "%Lg%+Lgi", v->re, v->im);
    }
}

static void hex(char *out, size_t size, const unsigned char *p, ptrdiff_t n)
{
    out[0] = '\0';
    for (ptrdiff_t i = 0; i < n; i++)
        append(out, size, "%02x", p[i]);
}

/* 1-d view of n items with a stride; `at` is the lowest item's address. */
static xbuf_view strided_view(unsigned char *at, ptrdiff_t n, ptrdiff_t is, ptrdiff_t stride,
                              ptrdiff_t *shape, ptrdiff_t *strides, const char *format)
{
    shape[0] = n;
    strides[0] = stride;
    xbuf_view v = {.buf = stride < 0 && n > 0 ? at - stride * (n - 1) : at, .len = n * is,
                   .itemsize = is, .ndim = 1, .shape = shape, .strides = strides,
                   .format = format};
    return v;
}

/* One (from, to, mode) combination: each value alone, then the values that
 * convert as one strided array, then that array with a failing value last. */
/* Single-value conversions checked, and how many of them were range errors. */
static long pair_values, pair_range_errors;

/* The byte order an order mark gives on this (little-endian) host. */
static char order_of(const char *prefix)
{
    return prefix[0] == '>' || prefix[0] == '!' ? '>' : '<';
}

static void check_pair(const cfmt *from, const char *fprefix, const cfmt *to,
                       const char *tprefix, bool wrap)
{
    enum { MAXPOOL = 80, G = 8 };
    static val pool[MAXPOOL];
    int n = pool_for(from, pool);
    char sfmt[8], dfmt[8], forder = order_of(fprefix), torder = order_of(tprefix);
    snprintf(sfmt, sizeof sfmt, "%s%s", fprefix, from->code);
    snprintf(dfmt, sizeof dfmt, "%s%s", tprefix, to->code);
    ptrdiff_t ss = from->size, ds = to->size;
    xbuf_overflow mode = wrap ? XBUF_OVERFLOW_WRAP : XBUF_OVERFLOW_ERROR;
    unsigned char src[2 * MAXPOOL * 16], dst[2 * G + 2 * MAXPOOL * 16 + 16];
    unsigned char expect[sizeof dst];
    int rcs[MAXPOOL];
    char vtext[96], ebuf[80], gbuf[80];

    for (int k = 0; k < n; k++) {
        encode_source(from, forder, &pool[k], src);
        rnd_fill(dst, (size_t)(ds + 2 * G));
        memcpy(expect, dst, (size_t)(ds + 2 * G));
        rcs[k] = ref_convert(to, torder, from, &pool[k], wrap, expect + G);
        pair_values++;
        pair_range_errors += rcs[k] != XBUF_OK;
        ptrdiff_t shape[1] = {1};
        xbuf_view sv = {.buf = src, .len = ss, .itemsize = ss, .ndim = 1, .shape = shape,
                        .format = sfmt, .readonly = 1};
        xbuf_view dv = {.buf = dst + G, .len = ds, .itemsize = ds, .ndim = 1, .shape = shape,
                        .format = dfmt};
        xbuf_error err;
        xbuf_error_clear(&err);
        int rc = xbuf_copy_convert(&dv, &sv, mode, &err);
        value_text(vtext, sizeof vtext, from, &pool[k]);
        hex(ebuf, sizeof ebuf, expect + G, ds);
        hex(gbuf, sizeof gbuf, dst + G, ds);
        cr_assert_eq(rc, rcs[k], "'%s' %s -> '%s' (%s): returned %d (%s), expected %d", sfmt,
                     vtext, dfmt, wrap ? "wrap" : "error", rc, err.message, rcs[k]);
        cr_assert_eq(memcmp(dst, expect, (size_t)(ds + 2 * G)), 0,
                     "'%s' %s -> '%s' (%s): wrote %s, expected %s%s", sfmt, vtext, dfmt,
                     wrap ? "wrap" : "error", gbuf, ebuf,
                     rc != 0 ? " (the call failed: nothing may be written)" : "");
        if (rc != XBUF_OK)
            cr_assert_eq(err.code, rc);
    }

    /* The convertible values as one array: source reversed, destination
     * with gaps. */
    int good[MAXPOOL], ng = 0, bad = -1;
    for (int k = 0; k < n; k++) {
        if (rcs[k] == XBUF_OK)
            good[ng++] = k;
        else if (bad < 0)
            bad = k;
    }
    for (int with_bad = 0; with_bad < 2; with_bad++) {
        if (with_bad && bad < 0)
            break;
        int count = ng + with_bad;
        if (count == 0)
            continue;
        ptrdiff_t sstride = -ss, dstride = ds + 3;
        ptrdiff_t sshape[1], sstr[1], dshape[1], dstr[1];
        for (int i = 0; i < count; i++)
            encode_source(from, forder, &pool[i < ng ? good[i] : bad],
                          src + (count - 1 - i) * ss);
        size_t dbytes = (size_t)(count * dstride + 2 * G);
        rnd_fill(dst, dbytes);
        memcpy(expect, dst, dbytes);
        if (!with_bad)
            for (int i = 0; i < ng; i++)
                cr_assert_eq(ref_convert(to, torder, from, &pool[good[i]], wrap,
                                         expect + G + i * dstride),
                             XBUF_OK);
        xbuf_view sv = strided_view(src, count, ss, sstride, sshape, sstr, sfmt);
        xbuf_view dv = strided_view(dst + G, count, ds, dstride, dshape, dstr, dfmt);
        xbuf_error err;
        int rc = xbuf_copy_convert(&dv, &sv, mode, &err);
        cr_assert_eq(rc, with_bad ? XBUF_ERANGE : XBUF_OK,
                     "'%s' -> '%s' (%s), %d values%s: returned %d (%s)", sfmt, dfmt,
                     wrap ? "wrap" : "error", count, with_bad ? " ending with a bad one" : "", rc,
                     rc ? err.message : "");
        cr_assert_eq(memcmp(dst, expect, dbytes), 0, "'%s' -> '%s' (%s), %d values%s: wrong bytes",
                     sfmt, dfmt, wrap ? "wrap" : "error", count,
                     with_bad ? " ending with a bad one (nothing may be written)" : "");
    }
}

static bool little_endian_host(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

Test(convert, every_pair_of_numeric_formats)
{
    if (!little_endian_host())
        cr_skip_test("the reference encodes for a little-endian host");
    parse_halves();
    rng_seed(7);
    static const char *orders[2] = {"<", ">"};
    for (int f = 0; f < N_CODES; f++)
        for (int fo = 0; fo < 2; fo++)
            for (int t = 0; t < N_CODES; t++)
                for (int to = 0; to < 2; to++)
                    for (int wrap = 0; wrap < 2; wrap++)
                        check_pair(&CODES[f], orders[fo], &CODES[t], orders[to], wrap);
    release_halves();
    cr_log_info("%ld single values converted, %ld of them range errors", pair_values,
                pair_range_errors);
    cr_assert_geq(pair_values, 50000);
    cr_assert_geq(pair_range_errors, pair_values / 10);
    cr_assert_leq(pair_range_errors, pair_values * 9 / 10);
}

/* Native sizes ('@', '^' and no mark: long and size_t are 8 bytes here)
 * and the other order marks ('=' native order, '!' network order). */
Test(convert, native_sizes_and_other_order_marks)
{
    if (!little_endian_host())
        cr_skip_test("the reference encodes for a little-endian host");
    parse_halves();
    rng_seed(17);
    static const struct {
        const char *prefix;
        cfmt f;
    } fmts[] = {
        {"@", {"l", 's', (ptrdiff_t)sizeof(long)}},   {"", {"L", 'u', (ptrdiff_t)sizeof(long)}},
        {"", {"n", 's', (ptrdiff_t)sizeof(size_t)}},  {"@", {"N", 'u', (ptrdiff_t)sizeof(size_t)}},
        {"=", {"l", 's', 4}},                         {"!", {"L", 'u', 4}},
        {"!", {"q", 's', 8}},                         {"=", {"Q", 'u', 8}},
        {"@", {"h", 's', (ptrdiff_t)sizeof(short)}},  {"!", {"H", 'u', 2}},
        {"^", {"i", 's', (ptrdiff_t)sizeof(int)}},    {"", {"b", 's', 1}},
        {"@", {"e", 'f', 2}},                         {"!", {"f", 'f', 4}},
        {"=", {"d", 'f', 8}},                         {"", {"d", 'f', 8}},
        {"@", {"?", '?', 1}},                         {"!", {"Zd", 'c', 16}},
        {"^", {"Zf", 'c', 8}},                        {"", {"g", 'f', (ptrdiff_t)sizeof(long double)}},
        {"!", {"g", 'f', (ptrdiff_t)sizeof(long double)}},
    };
    int n = (int)(sizeof fmts / sizeof fmts[0]);
    for (int f = 0; f < n; f++)
        for (int t = 0; t < n; t++)
            for (int wrap = 0; wrap < 2; wrap++)
                check_pair(&fmts[f].f, fmts[f].prefix, &fmts[t].f, fmts[t].prefix, wrap);
    release_halves();
}

static int convert_bytes(void *dst, const char *dfmt, ptrdiff_t dsize, const void *src,
                         const char *sfmt, ptrdiff_t ssize, ptrdiff_t n, xbuf_overflow mode,
                         xbuf_error *err)
{
    ptrdiff_t ds[1] = {n}, ss[1] = {n};
    xbuf_view dv = {.buf = dst, .len = n * dsize, .itemsize = dsize, .ndim = 1, .shape = ds,
                    .format = dfmt};
    xbuf_view sv = {.buf = (void *)src, .len = n * ssize, .itemsize = ssize, .ndim = 1,
                    .shape = ss, .format = sfmt};
    return xbuf_copy_convert(&dv, &sv, mode, err);
}

Test(convert, range_error_checks_every_value_before_writing)
{
    int32_t src[4] = {1, 2, 300, 4};
    int8_t dst[4] = {9, 9, 9, 9};
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(convert_bytes(dst, "b", 1, src, "<i", 4, 4, XBUF_OVERFLOW_ERROR, &err),
                 XBUF_ERANGE);
    cr_assert_eq(err.code, XBUF_ERANGE);
    cr_assert_neq(err.message[0], '\0');
    for (int i = 0; i < 4; i++)
        cr_assert_eq(dst[i], 9, "dst[%d] written before the range error", i);
    /* the bad value last, in a long array: still nothing written */
    int32_t many[1000];
    int8_t out[1000];
    for (int i = 0; i < 1000; i++)
        many[i] = i % 100;
    many[999] = -200;
    memset(out, 0x55, sizeof out);
    cr_assert_eq(convert_bytes(out, "<b", 1, many, "<i", 4, 1000, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_ERANGE);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(out[i], 0x55, "out[%d] written before the range error", i);
    /* and in place: '<h' -> '<H' over the same memory, -1 last */
    int16_t inplace[6] = {1, 2, 3, 4, 5, -1};
    cr_assert_eq(convert_bytes(inplace, "<H", 2, inplace, "<h", 2, 6, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_ERANGE);
    cr_assert_eq(inplace[5], -1);
    cr_assert_eq(convert_bytes(inplace, "<H", 2, inplace, "<h", 2, 6, XBUF_OVERFLOW_WRAP, NULL),
                 XBUF_OK);
    cr_assert_eq((uint16_t)inplace[5], 65535);
}

Test(convert, wrap_keeps_low_bits)
{
    int32_t src[6] = {300, -1, 256, -129, 70000, -70000};
    uint8_t b[6];
    cr_assert_eq(convert_bytes(b, "b", 1, src, "<i", 4, 6, XBUF_OVERFLOW_WRAP, NULL), XBUF_OK);
    int8_t expect_b[6] = {44, -1, 0, 127, 112, -112};
    cr_assert_eq(memcmp(b, expect_b, 6), 0);
    cr_assert_eq(convert_bytes(b, "B", 1, src, "<i", 4, 6, XBUF_OVERFLOW_WRAP, NULL), XBUF_OK);
    uint8_t expect_B[6] = {44, 255, 0, 127, 112, 144};
    cr_assert_eq(memcmp(b, expect_B, 6), 0);
    uint16_t h[6];
    cr_assert_eq(convert_bytes(h, "<H", 2, src, "<i", 4, 6, XBUF_OVERFLOW_WRAP, NULL), XBUF_OK);
    cr_assert_eq(h[4], (uint16_t)70000);
    cr_assert_eq(h[5], (uint16_t)-70000);
    uint8_t bools[6];
    cr_assert_eq(convert_bytes(bools, "?", 1, src, "<i", 4, 6, XBUF_OVERFLOW_WRAP, NULL),
                 XBUF_OK);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(bools[i], 1, "a non-zero value wraps to true, not to its low bit");
    uint64_t q = UINT64_MAX;
    int64_t sq = 0;
    cr_assert_eq(convert_bytes(&sq, "<q", 8, &q, "<Q", 8, 1, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_ERANGE);
    cr_assert_eq(convert_bytes(&sq, "<q", 8, &q, "<Q", 8, 1, XBUF_OVERFLOW_WRAP, NULL), XBUF_OK);
    cr_assert_eq(sq, -1);
}

Test(convert, float_to_integer)
{
    double src[4] = {2.5, -2.5, 3.0, -0.0};
    int32_t dst[4] = {7, 7, 7, 7};
    cr_assert_eq(convert_bytes(dst, "<i", 4, src, "<d", 8, 4, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_ERANGE);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(dst[i], 7);
    cr_assert_eq(convert_bytes(dst, "<i", 4, src, "<d", 8, 4, XBUF_OVERFLOW_WRAP, NULL), XBUF_OK);
    cr_assert_eq(dst[0], 2);
    cr_assert_eq(dst[1], -2);
    cr_assert_eq(dst[2], 3);
    cr_assert_eq(dst[3], 0);
    double special[3] = {NAN, INFINITY, 1e300};
    for (int i = 0; i < 3; i++)
        for (int mode = 0; mode < 2; mode++) {
            dst[0] = 7;
            cr_assert_eq(convert_bytes(dst, "<i", 4, &special[i], "<d", 8, 1,
                                       (xbuf_overflow)mode, NULL),
                         XBUF_ERANGE, "%g has no 32-bit integer value", special[i]);
            cr_assert_eq(dst[0], 7);
        }
    double exact[2] = {-128.0, 127.0};
    int8_t small[2];
    cr_assert_eq(convert_bytes(small, "b", 1, exact, "<d", 8, 2, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_OK);
    cr_assert_eq(small[0], -128);
    cr_assert_eq(small[1], 127);
}

Test(convert, complex_with_imaginary_part_to_real)
{
    double z[4] = {1.0, 0.0, 2.0, 0.5}; /* 1+0i, 2+0.5i */
    double re[2] = {-1, -1};
    for (int mode = 0; mode < 2; mode++) {
        cr_assert_eq(convert_bytes(re, "<d", 8, z, "<Zd", 16, 2, (xbuf_overflow)mode, NULL),
                     XBUF_ERANGE);
        cr_assert_eq(re[0], -1.0, "written before the error");
    }
    int64_t q[1] = {5};
    cr_assert_eq(convert_bytes(q, "<q", 8, z + 2, "<Zd", 16, 1, XBUF_OVERFLOW_WRAP, NULL),
                 XBUF_ERANGE);
    cr_assert_eq(q[0], 5);
    cr_assert_eq(convert_bytes(re, "<d", 8, z, "<Zd", 16, 1, XBUF_OVERFLOW_ERROR, NULL), XBUF_OK);
    cr_assert_eq(re[0], 1.0);
}

/* '>d' -> '<d' is a byte reversal, bit for bit: NaN payloads, signalling
 * NaNs, subnormals, negative zero. */
Test(convert, byte_swap_is_exact)
{
    rng_seed(8);
    enum { N = 1000 };
    static unsigned char src[N * 8 * 2], dst[N * 8 * 3 + 32], expect[sizeof dst];
    uint64_t specials[] = {0x7FF0000000000001u, 0xFFF4000000000000u, 0x7FF8000000000123u,
                           0x0000000000000001u, 0x8000000000000000u, 0x000FFFFFFFFFFFFFu};
    for (int i = 0; i < N; i++) {
        uint64_t bits = i < 6 ? specials[i] : rng_next();
        memcpy(src + 16 * i, &bits, 8); /* every other slot */
    }
    rnd_fill(dst, sizeof dst);
    memcpy(expect, dst, sizeof dst);
    for (int i = 0; i < N; i++) {
        /* destination reversed with a stride of 24 */
        unsigned char *e = expect + 16 + (N - 1 - i) * 24;
        memcpy(e, src + 16 * i, 8);
        reverse_bytes(e, 8);
    }
    ptrdiff_t sshape[1], sstr[1], dshape[1], dstr[1];
    xbuf_view sv = strided_view(src, N, 8, 16, sshape, sstr, ">d");
    xbuf_view dv = strided_view(dst + 16, N, 8, -24, dshape, dstr, "<d");
    cr_assert_eq(xbuf_copy_convert(&dv, &sv, XBUF_OVERFLOW_ERROR, NULL), XBUF_OK);
    cr_assert_eq(memcmp(dst, expect, sizeof dst), 0);
    /* the other widths that byte-swap: e, f, Zf (halves), Zd, g */
    static const char *pairs[][2] = {{">e", "<e"}, {"<f", ">f"}, {">Zf", "<Zf"},
                                     {"<Zd", ">Zd"}, {">h", "<h"}, {"<Q", ">Q"}};
    static const ptrdiff_t sizes[] = {2, 4, 8, 16, 2, 8};
    for (int p = 0; p < 6; p++) {
        ptrdiff_t is = sizes[p], part = pairs[p][0][1] == 'Z' ? is / 2 : is;
        rnd_fill(src, (size_t)(64 * is));
        memset(dst, 0, (size_t)(64 * is));
        memcpy(expect, src, (size_t)(64 * is));
        for (ptrdiff_t k = 0; k < 64 * is; k += part)
            reverse_bytes(expect + k, part);
        cr_assert_eq(convert_bytes(dst, pairs[p][1], is, src, pairs[p][0], is, 64,
                                   XBUF_OVERFLOW_ERROR, NULL),
                     XBUF_OK, "%s -> %s", pairs[p][0], pairs[p][1]);
        cr_assert_eq(memcmp(dst, expect, (size_t)(64 * is)), 0, "%s -> %s", pairs[p][0],
                     pairs[p][1]);
    }
}

Test(convert, byte_swap_in_place_and_overlapping)
{
    rng_seed(9);
    enum { N = 257 };
    static unsigned char a[(N + 2) * 8], orig[sizeof a], expect[sizeof a];
    /* dst == src memory, same layout */
    rnd_fill(a, sizeof a);
    memcpy(orig, a, sizeof a);
    memcpy(expect, a, sizeof a);
    for (int i = 0; i < N; i++)
        reverse_bytes(expect + 8 + 8 * i, 8);
    cr_assert_eq(convert_bytes(a + 8, "<d", 8, a + 8, ">d", 8, N, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_OK);
    cr_assert_eq(memcmp(a, expect, sizeof a), 0, "in-place byte swap");
    /* shifted by one item either way, and by 3 bytes */
    static const ptrdiff_t shifts[] = {8, -8, 3, -5};
    for (int s = 0; s < 4; s++) {
        memcpy(a, orig, sizeof a);
        memcpy(expect, orig, sizeof a);
        unsigned char *src = a + 8, *dst = a + 8 + shifts[s];
        for (int i = 0; i < N; i++) {
            unsigned char item[8];
            memcpy(item, orig + 8 + 8 * i, 8);
            reverse_bytes(item, 8);
            memcpy(expect + 8 + shifts[s] + 8 * i, item, 8);
        }
        cr_assert_eq(convert_bytes(dst, "<d", 8, src, ">d", 8, N, XBUF_OVERFLOW_ERROR, NULL),
                     XBUF_OK);
        cr_assert_eq(memcmp(a, expect, sizeof a), 0, "byte swap overlapping by %td bytes",
                     shifts[s]);
    }
    /* reversed in place: dst is src read backwards */
    memcpy(a, orig, sizeof a);
    memcpy(expect, orig, sizeof a);
    for (int i = 0; i < N; i++) {
        memcpy(expect + 8 + 8 * (N - 1 - i), orig + 8 + 8 * i, 8);
        reverse_bytes(expect + 8 + 8 * (N - 1 - i), 8);
    }
    ptrdiff_t sshape[1], sstr[1], dshape[1], dstr[1];
    xbuf_view sv = strided_view(a + 8, N, 8, 8, sshape, sstr, ">d");
    xbuf_view dv = strided_view(a + 8, N, 8, -8, dshape, dstr, "<d");
    cr_assert_eq(xbuf_copy_convert(&dv, &sv, XBUF_OVERFLOW_ERROR, NULL), XBUF_OK);
    cr_assert_eq(memcmp(a, expect, sizeof a), 0, "byte swap into the reversed same memory");
}

/* A widening conversion whose destination overlaps its source. */
Test(convert, overlapping_conversion)
{
    int16_t buf[64];
    for (int i = 0; i < 32; i++)
        buf[i] = (int16_t)(i * 1000 - 16000);
    int16_t orig[64];
    memcpy(orig, buf, sizeof buf);
    /* '<h' x 32 at the start -> '<i' x 32 over the whole buffer */
    cr_assert_eq(convert_bytes(buf, "<i", 4, buf, "<h", 2, 32, XBUF_OVERFLOW_ERROR, NULL),
                 XBUF_OK);
    for (int i = 0; i < 32; i++) {
        int32_t v;
        memcpy(&v, (char *)buf + 4 * i, 4);
        cr_assert_eq(v, orig[i]);
    }
    /* narrowing back, '<i' -> '>d' over the same memory in reverse */
    double d[32];
    int32_t ints[32];
    for (int i = 0; i < 32; i++)
        ints[i] = i - 7;
    memcpy(d, ints, sizeof ints);
    ptrdiff_t sshape[1], sstr[1], dshape[1], dstr[1];
    xbuf_view sv = strided_view((unsigned char *)d, 32, 4, 4, sshape, sstr, "<i");
    xbuf_view dv = strided_view((unsigned char *)d, 32, 8, -8, dshape, dstr, ">d");
    cr_assert_eq(xbuf_copy_convert(&dv, &sv, XBUF_OVERFLOW_ERROR, NULL), XBUF_OK);
    for (int i = 0; i < 32; i++) {
        unsigned char b[8];
        memcpy(b, &d[31 - i], 8);
        reverse_bytes(b, 8);
        double v;
        memcpy(&v, b, 8);
        cr_assert_eq(v, (double)(i - 7));
    }
}

Test(convert, random_views)
{
    /* strided, indirect, overlapping views through the convert paths: '<i'
     * to '>i' (swap), '<i' to '<i' (copy), '<h' to '<q' (values) */
    static const char *pairs[][2] = {{"<i", ">i"}, {"<i", "<i"}, {"<h", "<h"}, {">H", "<H"}};
    char what[96], msg[512];
    for (int k = 0; k < 600; k++) {
        rng_seed(9000000u + (uint64_t)k);
        int p = k % 4;
        ptrdiff_t is = pairs[p][0][1] == 'i' ? 4 : 2;
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = random_shape(shape, 5, 200);
        mem m = {0};
        static tview d, s;
        vopts dopt = DST_OPTS, sopt = SRC_OPTS;
        bool overlap = chance(50);
        tview_design(&d, ndim, shape, is, &dopt);
        tview_design(&s, ndim, shape, is, &sopt);
        placer pl = {&m, PLACE_SEPARATE, NULL, 0, 0};
        if (overlap) {
            pl.mode = PLACE_SEQUENTIAL;
            pl.arena_size = data_bytes(&d) + block_size(&s, s.nseg - 1) + 16;
            pl.arena = mem_new(&m, pl.arena_size);
        }
        tview_build(&d, &pl, &dopt);
        if (overlap)
            pl.mode = PLACE_ANYWHERE;
        tview_build(&s, &pl, &sopt);
        d.v.format = pairs[p][1];
        s.v.format = pairs[p][0];
        mem_snapshot(&m);
        unsigned char *items = gather(&s.v);
        bool swap = pairs[p][0][0] != pairs[p][1][0];
        for (ptrdiff_t i = 0; swap && i < count_items(ndim, shape); i++)
            reverse_bytes(items + i * is, is);
        scatter(&m, &d.v, items, 'C');
        free(items);
        snprintf(what, sizeof what, "convert case %d, '%s' -> '%s'%s", k, pairs[p][0],
                 pairs[p][1], overlap ? ", overlapping" : "");
        xbuf_error err;
        int rc = xbuf_copy_convert(&d.v, &s.v, XBUF_OVERFLOW_ERROR, &err);
        if (rc != XBUF_OK) {
            snprintf(msg, sizeof msg, "returned %d: %s", rc, err.message);
            fail_case(what, &d.v, &s.v, msg);
        }
        if (!mem_matches(&m, msg, sizeof msg))
            fail_case(what, &d.v, &s.v, msg);
        mem_free(&m);
    }
}

Test(convert, widening_random_views)
{
    /* '<h' -> '<q' through the value-by-value path, all values fit */
    char what[96], msg[512];
    for (int k = 0; k < 400; k++) {
        rng_seed(9500000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = random_shape(shape, 5, 200);
        mem m = {0};
        static tview d, s;
        placer pl = {&m, PLACE_SEPARATE, NULL, 0, 0};
        tview_design(&d, ndim, shape, 8, &DST_OPTS);
        tview_design(&s, ndim, shape, 2, &SRC_OPTS);
        tview_build(&d, &pl, &DST_OPTS);
        tview_build(&s, &pl, &SRC_OPTS);
        d.v.format = "<q";
        s.v.format = "<h";
        mem_snapshot(&m);
        unsigned char *items = gather(&s.v);
        ptrdiff_t n = count_items(ndim, shape);
        unsigned char *wide = malloc(n > 0 ? (size_t)n * 8 : 1);
        cr_assert_not_null(wide);
        for (ptrdiff_t i = 0; i < n; i++) {
            int16_t h;
            memcpy(&h, items + 2 * i, 2);
            int64_t q = h;
            memcpy(wide + 8 * i, &q, 8);
        }
        scatter(&m, &d.v, wide, 'C');
        free(items);
        free(wide);
        snprintf(what, sizeof what, "widening case %d", k);
        xbuf_error err;
        int rc = xbuf_copy_convert(&d.v, &s.v, XBUF_OVERFLOW_ERROR, &err);
        if (rc != XBUF_OK) {
            snprintf(msg, sizeof msg, "returned %d: %s", rc, err.message);
            fail_case(what, &d.v, &s.v, msg);
        }
        if (!mem_matches(&m, msg, sizeof msg))
            fail_case(what, &d.v, &s.v, msg);
        mem_free(&m);
    }
}

/* ==== errors ============================================================= */

/* A well-formed 2-d view of 3 x 4 items of 4 bytes, over its own memory. */
typedef struct good_view {
    xbuf_view v;
    ptrdiff_t shape[2], strides[2], suboffsets[2];
    unsigned char mem[64];
} good_view;

static void good_init(good_view *g, int readonly)
{
    memset(g, 0, sizeof *g);
    for (int i = 0; i < 64; i++)
        g->mem[i] = (unsigned char)(i + 1);
    g->shape[0] = 3;
    g->shape[1] = 4;
    g->strides[0] = 16;
    g->strides[1] = 4;
    g->suboffsets[0] = g->suboffsets[1] = -1;
    g->v = (xbuf_view){.buf = g->mem, .len = 48, .itemsize = 4, .ndim = 2, .shape = g->shape,
                       .strides = g->strides, .readonly = readonly, .format = "<i"};
}

#define N_MALFORMED 13

/* Break g in one of N_MALFORMED ways. */
static const char *malform(good_view *g, int how)
{
    xbuf_view *v = &g->v;
    switch (how) {
    case 0: v->ndim = -1; return "ndim -1";
    case 1: v->ndim = XBUF_MAX_NDIM + 1; return "ndim 65";
    case 2: v->itemsize = 0; return "itemsize 0";
    case 3: v->len = -48; return "negative len";
    case 4: v->buf = NULL; return "NULL buf with items";
    case 5: v->len = 44; return "len differs from the shape";
    case 6: g->shape[0] = -3; return "negative extent";
    case 7: v->shape = NULL; return "2-d without shape";
    case 8: v->format = ""; return "empty format";
    case 9: g->strides[0] = PTRDIFF_MAX / 2; return "strides spanning more than ptrdiff_t";
    case 10: v->strides = NULL; v->suboffsets = g->suboffsets; return "suboffsets without strides";
    case 11: v->ndim = 1; v->shape = NULL; v->len = 12; return "strides without shape";
    default: v->itemsize = -4; return "negative itemsize";
    }
}

static void assert_untouched(const good_view *g, const char *what)
{
    for (int i = 0; i < 64; i++)
        cr_assert_eq(g->mem[i], (unsigned char)(i + 1), "%s: byte %d written", what, i);
}

static void assert_error(int rc, int expected, const xbuf_error *err, const char *what)
{
    cr_assert_eq(rc, expected, "%s: returned %d (%s), expected %d (%s)", what, rc,
                 rc ? err->message : "", expected, xbuf_strerror(expected));
    cr_assert_eq(err->code, rc, "%s: err.code %d", what, err->code);
    cr_assert_neq(err->message[0], '\0', "%s: no message", what);
}

Test(errors, null_views_and_arguments)
{
    good_view a, b;
    good_init(&a, 0);
    good_init(&b, 0);
    xbuf_error err;
    unsigned char out[48];
    assert_error(xbuf_copy(NULL, &b.v, &err), XBUF_EINVAL, &err, "copy NULL dst");
    assert_error(xbuf_copy(&a.v, NULL, &err), XBUF_EINVAL, &err, "copy NULL src");
    cr_assert_eq(xbuf_copy(NULL, NULL, NULL), XBUF_EINVAL);
    assert_error(xbuf_copy_to_contiguous(out, 48, NULL, 'C', &err), XBUF_EINVAL, &err,
                 "to_contiguous NULL src");
    assert_error(xbuf_copy_to_contiguous(NULL, 48, &b.v, 'C', &err), XBUF_EINVAL, &err,
                 "to_contiguous NULL dst");
    assert_error(xbuf_copy_from_contiguous(NULL, out, 48, 'C', &err), XBUF_EINVAL, &err,
                 "from_contiguous NULL dst");
    assert_error(xbuf_copy_from_contiguous(&a.v, NULL, 48, 'C', &err), XBUF_EINVAL, &err,
                 "from_contiguous NULL src");
    assert_error(xbuf_fill(NULL, out, &err), XBUF_EINVAL, &err, "fill NULL dst");
    assert_error(xbuf_fill(&a.v, NULL, &err), XBUF_EINVAL, &err, "fill NULL item");
    assert_error(xbuf_copy_convert(NULL, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_EINVAL, &err,
                 "convert NULL dst");
    assert_error(xbuf_copy_convert(&a.v, NULL, XBUF_OVERFLOW_ERROR, &err), XBUF_EINVAL, &err,
                 "convert NULL src");
    assert_untouched(&a, "NULL arguments");
}

Test(errors, read_only_destination)
{
    good_view a, b;
    good_init(&a, 1);
    good_init(&b, 0);
    xbuf_error err;
    unsigned char in[48] = {0};
    assert_error(xbuf_copy(&a.v, &b.v, &err), XBUF_EREADONLY, &err, "copy");
    assert_error(xbuf_copy_from_contiguous(&a.v, in, 48, 'C', &err), XBUF_EREADONLY, &err,
                 "from_contiguous");
    assert_error(xbuf_fill(&a.v, in, &err), XBUF_EREADONLY, &err, "fill");
    assert_error(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_EREADONLY, &err,
                 "convert");
    b.v.format = ">d";
    b.v.itemsize = 8;
    b.shape[1] = 2;
    assert_error(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_WRAP, &err), XBUF_EREADONLY, &err,
                 "convert >d");
    assert_untouched(&a, "read-only destination");
    /* identical read-only views: still refused */
    assert_error(xbuf_copy(&a.v, &a.v, &err), XBUF_EREADONLY, &err, "copy onto itself");
}

Test(errors, shape_and_itemsize_mismatch)
{
    good_view a, b;
    good_init(&a, 0);
    good_init(&b, 0);
    xbuf_error err;
    b.shape[1] = 3;
    b.v.len = 36;
    assert_error(xbuf_copy(&a.v, &b.v, &err), XBUF_EINVAL, &err, "extent differs");
    assert_error(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_EINVAL, &err,
                 "convert, extent differs");
    good_init(&b, 0);
    b.v.ndim = 1;
    b.shape[0] = 12;
    b.strides[0] = 4;
    assert_error(xbuf_copy(&a.v, &b.v, &err), XBUF_EINVAL, &err, "ndim differs");
    good_init(&b, 0);
    b.v.itemsize = 2;
    b.v.len = 24;
    b.v.format = "<h";
    assert_error(xbuf_copy(&a.v, &b.v, &err), XBUF_ETYPE, &err, "itemsize differs");
    assert_error(xbuf_copy(&b.v, &a.v, &err), XBUF_ETYPE, &err, "itemsize differs (reverse)");
    assert_untouched(&a, "mismatch");
    assert_untouched(&b, "mismatch");
    /* a convert between different itemsizes is fine */
    cr_assert_eq(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_OK, "%s",
                 err.message);
}

Test(errors, malformed_views)
{
    for (int how = 0; how < N_MALFORMED; how++)
        for (int side = 0; side < 2; side++) {
            good_view g, ok;
            good_init(&g, 0);
            good_init(&ok, 0);
            const char *what = malform(&g, how);
            char label[96];
            xbuf_error err;
            const xbuf_view *dst = side == 0 ? &g.v : &ok.v, *src = side == 0 ? &ok.v : &g.v;
            snprintf(label, sizeof label, "copy, %s %s", side ? "source" : "destination", what);
            assert_error(xbuf_copy(dst, src, &err), XBUF_EINVAL, &err, label);
            snprintf(label, sizeof label, "convert, %s %s", side ? "source" : "destination",
                     what);
            assert_error(xbuf_copy_convert(dst, src, XBUF_OVERFLOW_ERROR, &err), XBUF_EINVAL,
                         &err, label);
            unsigned char buf[64] = {0};
            ptrdiff_t len = g.v.len > 0 && g.v.len <= 64 ? g.v.len : 48;
            snprintf(label, sizeof label, "%s, %s", side ? "to_contiguous" : "from_contiguous",
                     what);
            if (side == 0)
                assert_error(xbuf_copy_from_contiguous(&g.v, buf, len, 'C', &err), XBUF_EINVAL,
                             &err, label);
            else
                assert_error(xbuf_copy_to_contiguous(buf, len, &g.v, 'C', &err), XBUF_EINVAL,
                             &err, label);
            if (side == 1)
                for (int i = 0; i < 64; i++)
                    cr_assert_eq(buf[i], 0, "%s: output written", label);
            if (side == 0) {
                snprintf(label, sizeof label, "fill, %s", what);
                assert_error(xbuf_fill(&g.v, buf, &err), XBUF_EINVAL, &err, label);
            }
            assert_untouched(&g, what);
            assert_untouched(&ok, what);
        }
}

/* Fill the stack below the caller with a pattern, so that a callee reading
 * an uninitialized local sees the pattern rather than a lucky zero. */
static void __attribute__((noinline)) scribble_stack(unsigned char pattern)
{
    volatile unsigned char junk[32768];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = pattern;
}

/* A 2-d view without shape is malformed, whatever the stack holds: the
 * contiguous view built for it must not take its missing extents from
 * uninitialized memory (which gives XBUF_EOVERFLOW for some contents). */
Test(errors, malformed_view_without_shape_whatever_the_stack_holds)
{
    static const unsigned char patterns[] = {0x00, 0x01, 0x3f, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < sizeof patterns; i++) {
        good_view g;
        good_init(&g, 0);
        g.v.shape = NULL;
        unsigned char buf[64] = {0};
        xbuf_error err;
        char label[96];
        snprintf(label, sizeof label, "to_contiguous, 2-d without shape, stack filled with 0x%02x",
                 patterns[i]);
        scribble_stack(patterns[i]);
        int rc = xbuf_copy_to_contiguous(buf, 48, &g.v, 'C', &err);
        assert_error(rc, XBUF_EINVAL, &err, label);
        snprintf(label, sizeof label,
                 "from_contiguous, 2-d without shape, stack filled with 0x%02x", patterns[i]);
        scribble_stack(patterns[i]);
        rc = xbuf_copy_from_contiguous(&g.v, buf, 48, 'F', &err);
        assert_error(rc, XBUF_EINVAL, &err, label);
        assert_untouched(&g, label);
    }
}

Test(errors, contiguous_len_and_order)
{
    good_view a;
    good_init(&a, 0);
    unsigned char buf[64];
    memset(buf, 0xAB, sizeof buf);
    xbuf_error err;
    static const ptrdiff_t lens[] = {47, 49, 0, -1, 12};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_error(xbuf_copy_to_contiguous(buf, lens[i], &a.v, 'C', &err), XBUF_EINVAL, &err,
                     "to_contiguous, wrong len");
        assert_error(xbuf_copy_from_contiguous(&a.v, buf, lens[i], 'C', &err), XBUF_EINVAL, &err,
                     "from_contiguous, wrong len");
    }
    static const char orders[] = {'c', 'f', 'a', 'K', 'X', '\0'};
    for (size_t i = 0; i < sizeof orders; i++) {
        assert_error(xbuf_copy_to_contiguous(buf, 48, &a.v, orders[i], &err), XBUF_EINVAL, &err,
                     "to_contiguous, bad order");
        assert_error(xbuf_copy_from_contiguous(&a.v, buf, 48, orders[i], &err), XBUF_EINVAL,
                     &err, "from_contiguous, bad order");
    }
    for (int i = 0; i < 64; i++)
        cr_assert_eq(buf[i], 0xAB);
    assert_untouched(&a, "len and order");
}

Test(errors, convert_formats)
{
    good_view a, b;
    xbuf_error err;
    /* not numbers, or not one number */
    static const char *unsupported[] = {"4s", "4c", "T{<i:x:}", "2h", "hh", "P", "4x", "4p",
                                        "2u", "w", "O", "&i", "(2)h", "32t", "X{}"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        ptrdiff_t size;
        if (xbuf_format_size(unsupported[i], &size, NULL, NULL) != XBUF_OK)
            continue;
        for (int side = 0; side < 2; side++) {
            good_init(&a, 0);
            good_init(&b, 0);
            xbuf_view *v = side ? &b.v : &a.v;
            v->format = unsupported[i];
            if (size != 4) { /* keep the view consistent with its format */
                v->itemsize = size > 0 ? size : 1;
                (side ? b.shape : a.shape)[1] = 1;
                (side ? b.strides : a.strides)[1] = 0;
                v->len = 3 * v->itemsize;
                (side ? b.strides : a.strides)[0] = v->itemsize;
            }
            char label[64];
            snprintf(label, sizeof label, "'%s' as %s", unsupported[i],
                     side ? "source" : "destination");
            if (size != 4) {
                a.shape[1] = b.shape[1] = 1;
                a.v.len = 3 * a.v.itemsize;
                b.v.len = 3 * b.v.itemsize;
            }
            assert_error(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err),
                         XBUF_EUNSUPPORTED, &err, label);
            assert_untouched(&a, label);
        }
    }
    /* unparseable */
    static const char *broken[] = {"<i(", "T{i", "Zq", "?3", "i:name"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        good_init(&a, 0);
        good_init(&b, 0);
        b.v.format = broken[i];
        assert_error(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_EFORMAT, &err,
                     broken[i]);
        good_init(&b, 0);
        a.v.format = broken[i];
        assert_error(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_EFORMAT, &err,
                     broken[i]);
        assert_untouched(&a, broken[i]);
    }
    /* a format whose size is not the view's itemsize */
    good_init(&a, 0);
    good_init(&b, 0);
    b.v.format = "<d";
    cr_assert_lt(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), 0,
                 "'<d' on a view of 4-byte items");
    assert_untouched(&a, "format size mismatch");
    /* an unknown overflow mode */
    good_init(&b, 0);
    b.v.format = "<h";
    b.v.itemsize = 2;
    b.v.len = 24;
    b.strides[0] = 8;
    b.strides[1] = 2;
    assert_error(xbuf_copy_convert(&a.v, &b.v, (xbuf_overflow)7, &err), XBUF_EINVAL, &err,
                 "overflow mode 7");
    assert_untouched(&a, "overflow mode");
    /* NULL formats are "B" on both sides */
    good_init(&a, 0);
    a.v.format = NULL;
    a.v.itemsize = 1;
    a.v.len = 12;
    a.strides[0] = 4;
    a.strides[1] = 1;
    good_init(&b, 0);
    b.v.format = NULL;
    b.v.itemsize = 1;
    b.v.len = 12;
    b.strides[0] = 1;
    b.strides[1] = 3;
    memset(b.mem, 7, sizeof b.mem);
    cr_assert_eq(xbuf_copy_convert(&a.v, &b.v, XBUF_OVERFLOW_ERROR, &err), XBUF_OK, "%s",
                 err.message);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(a.mem[i], i < 12 ? 7 : i + 1, "byte %d", i);
}

/* ==== allocation ========================================================= */

/* Direct, non-overlapping copies allocate nothing: the only allocation the
 * contract allows is the temporary for overlapping operands. */
Test(alloc, direct_copies_do_not_allocate)
{
    failing_alloc_install(true);
    for (int k = 0; k < 300; k++) {
        rng_seed(10000000u + (uint64_t)k);
        ptrdiff_t shape[XBUF_MAX_NDIM];
        int ndim = random_shape(shape, 6, 200);
        ptrdiff_t is = ITEMSIZES[rnd(N_ITEMSIZES)];
        mem m = {0};
        static tview d, s;
        vopts dopt = DST_OPTS, sopt = SRC_OPTS;
        dopt.indirect_percent = k % 2 ? 0 : 50; /* indirect on one side at most */
        sopt.indirect_percent = k % 2 ? 50 : 0;
        placer p = {&m, PLACE_SEPARATE, NULL, 0, 0};
        tview_design(&d, ndim, shape, is, &dopt);
        tview_design(&s, ndim, shape, is, &sopt);
        tview_build(&d, &p, &dopt);
        tview_build(&s, &p, &sopt);
        failing_alloc_fail_at(-1);
        char what[64];
        snprintf(what, sizeof what, "no-allocation case %d", k);
        check_copy(&m, &d.v, &s.v, what);
        cr_assert_eq(failing_alloc_calls(), 0, "%s: %ld allocations", what,
                     failing_alloc_calls());
        mem_free(&m);
    }
    cr_assert_eq(failing_alloc_live_blocks(), 0);
}

typedef struct sweep_ctx {
    unsigned char *memory, *initial, *expected;
    size_t size;
    int (*op)(struct sweep_ctx *);
    xbuf_view dst, src;
    ptrdiff_t dshape[2], dstrides[2], sshape[2], sstrides[2];
    unsigned char item[100];
    int rc;
    xbuf_error err;
} sweep_ctx;

static void sweep_setup(void *ctx)
{
    sweep_ctx *c = ctx;
    memcpy(c->memory, c->initial, c->size);
}

static int sweep_run(void *ctx)
{
    sweep_ctx *c = ctx;
    xbuf_error_clear(&c->err);
    c->rc = c->op(c);
    return c->rc;
}

static const char *sweep_after_failure(void *ctx)
{
    sweep_ctx *c = ctx;
    if (memcmp(c->memory, c->initial, c->size) != 0)
        return "the destination changed although the call failed";
    if (c->err.code != c->rc)
        return "err.code differs from the returned code";
    if (c->err.message[0] == '\0')
        return "no error message";
    return NULL;
}

static void sweep_teardown(void *ctx)
{
    sweep_ctx *c = ctx;
    if (c->rc == XBUF_OK)
        cr_assert_eq(memcmp(c->memory, c->expected, c->size), 0,
                     "the successful run gave a wrong result");
}

static long run_sweep(sweep_ctx *c)
{
    failing_alloc_op op = {sweep_setup, sweep_run, sweep_after_failure, sweep_teardown, c, 0};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "%ld problem(s); first: %s", report.problems, report.message);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    return report.points;
}

static void sweep_init(sweep_ctx *c, size_t size)
{
    memset(c, 0, sizeof *c);
    c->size = size;
    c->memory = malloc(size);
    c->initial = malloc(size);
    c->expected = malloc(size);
    cr_assert(c->memory && c->initial && c->expected);
    for (size_t i = 0; i < size; i++)
        c->initial[i] = (unsigned char)(i * 7 + 1);
}

static void sweep_fini(sweep_ctx *c)
{
    free(c->memory);
    free(c->initial);
    free(c->expected);
}

static int op_copy(sweep_ctx *c)
{
    return xbuf_copy(&c->dst, &c->src, &c->err);
}

static int op_convert(sweep_ctx *c)
{
    return xbuf_copy_convert(&c->dst, &c->src, XBUF_OVERFLOW_ERROR, &c->err);
}

static int op_fill(sweep_ctx *c)
{
    return xbuf_fill(&c->dst, c->item, &c->err);
}

static int op_to_contiguous(sweep_ctx *c)
{
    return xbuf_copy_to_contiguous(c->memory, c->src.len, &c->src, 'C', &c->err);
}

/* 1-d view of n items over c->memory at byte offset `at`. */
static void sweep_view(sweep_ctx *c, xbuf_view *v, ptrdiff_t *shape, ptrdiff_t *strides,
                       ptrdiff_t at, ptrdiff_t n, ptrdiff_t is, ptrdiff_t stride,
                       const char *format)
{
    shape[0] = n;
    strides[0] = stride;
    *v = (xbuf_view){.buf = c->memory + at, .len = n * is, .itemsize = is, .ndim = 1,
                     .shape = shape, .strides = strides, .format = format};
}

Test(alloc, overlapping_copy_temporary)
{
    failing_alloc_install(true);
    sweep_ctx c;
    sweep_init(&c, 400);
    /* src = items 0..99 of 3 bytes, dst = the same shifted by 5 bytes */
    sweep_view(&c, &c.dst, c.dshape, c.dstrides, 5, 100, 3, 3, NULL);
    sweep_view(&c, &c.src, c.sshape, c.sstrides, 0, 100, 3, 3, NULL);
    memcpy(c.expected, c.initial, c.size);
    memmove(c.expected + 5, c.initial, 300);
    c.op = op_copy;
    cr_assert_eq(run_sweep(&c), 1, "an overlapping copy makes one allocation");
    /* reversed onto itself */
    c.dst.buf = c.memory + 297;
    c.dstrides[0] = -3;
    for (int i = 0; i < 100; i++)
        memcpy(c.expected + 297 - 3 * i, c.initial + 3 * i, 3);
    memcpy(c.expected + 300, c.initial + 300, 100);
    cr_assert_eq(run_sweep(&c), 1);
    sweep_fini(&c);
}

Test(alloc, to_contiguous_into_its_source)
{
    failing_alloc_install(true);
    sweep_ctx c;
    sweep_init(&c, 64);
    /* 4 x 4 of 4 bytes, transposed, packed into its own memory */
    c.sshape[0] = c.sshape[1] = 4;
    c.sstrides[0] = 4;
    c.sstrides[1] = 16;
    c.src = (xbuf_view){.buf = c.memory, .len = 64, .itemsize = 4, .ndim = 2, .shape = c.sshape,
                        .strides = c.sstrides};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            memcpy(c.expected + 16 * i + 4 * j, c.initial + 16 * j + 4 * i, 4);
    c.op = op_to_contiguous;
    cr_assert_eq(run_sweep(&c), 1);
    sweep_fini(&c);
}

Test(alloc, conversions)
{
    failing_alloc_install(true);
    sweep_ctx c;
    sweep_init(&c, 200);
    for (size_t i = 0; i < 200; i++)
        c.initial[i] = (unsigned char)(i % 50);
    /* '<h' x 10 at 0 -> '<i' x 10 at 100: the value path, no overlap */
    sweep_view(&c, &c.src, c.sshape, c.sstrides, 0, 10, 2, 2, "<h");
    sweep_view(&c, &c.dst, c.dshape, c.dstrides, 100, 10, 4, 4, "<i");
    memcpy(c.expected, c.initial, 200);
    for (int i = 0; i < 10; i++) {
        int16_t h;
        memcpy(&h, c.initial + 2 * i, 2);
        int32_t v = h;
        memcpy(c.expected + 100 + 4 * i, &v, 4);
    }
    c.op = op_convert;
    long points = run_sweep(&c);
    cr_assert_geq(points, 1, "the conversion's temporary");
    /* '>d' -> '<d' in place: the swap path's temporary */
    sweep_view(&c, &c.src, c.sshape, c.sstrides, 8, 20, 8, 8, ">d");
    sweep_view(&c, &c.dst, c.dshape, c.dstrides, 8, 20, 8, 8, "<d");
    memcpy(c.expected, c.initial, 200);
    for (int i = 0; i < 20; i++)
        reverse_bytes(c.expected + 8 + 8 * i, 8);
    run_sweep(&c);
    /* '<h' -> '<i' overlapping */
    sweep_view(&c, &c.src, c.sshape, c.sstrides, 0, 10, 2, 2, "<h");
    sweep_view(&c, &c.dst, c.dshape, c.dstrides, 4, 10, 4, 4, "<i");
    memcpy(c.expected, c.initial, 200);
    for (int i = 0; i < 10; i++) {
        int16_t h;
        memcpy(&h, c.initial + 2 * i, 2);
        int32_t v = h;
        memcpy(c.expected + 4 + 4 * i, &v, 4);
    }
    run_sweep(&c);
    sweep_fini(&c);
}

Test(alloc, fill_with_a_large_item)
{
    failing_alloc_install(true);
    sweep_ctx c;
    sweep_init(&c, 1000);
    sweep_view(&c, &c.dst, c.dshape, c.dstrides, 0, 9, 100, 110, NULL);
    for (int i = 0; i < 100; i++)
        c.item[i] = (unsigned char)(200 + i);
    memcpy(c.expected, c.initial, 1000);
    for (int i = 0; i < 9; i++)
        memcpy(c.expected + 110 * i, c.item, 100);
    c.op = op_fill;
    run_sweep(&c);
    sweep_fini(&c);
}

/* ==== review findings ===================================================== */

/* An empty view's strides are never checked (it touches no memory), so the
 * plan must not compute with them: a stride of PTRDIFF_MIN used to be
 * negated, and huge strides multiplied, before anyone saw the view was
 * empty. */
Test(review, empty_views_with_extreme_strides)
{
    char memory[8] = {0};
    ptrdiff_t shape[3] = {3, 3, 0}, wild[3] = {PTRDIFF_MAX, PTRDIFF_MAX / 2, 1};
    ptrdiff_t shape2[2] = {3, 0}, negative[2] = {PTRDIFF_MIN, 1};
    xbuf_view a = {0};
    a.buf = memory;
    a.itemsize = 1;
    a.ndim = 3;
    a.shape = shape;
    a.strides = wild;
    xbuf_error err;
    cr_assert_eq(xbuf_copy(&a, &a, &err), XBUF_OK, "%s", err.message);
    a.ndim = 2;
    a.shape = shape2;
    a.strides = negative;
    cr_assert_eq(xbuf_copy(&a, &a, &err), XBUF_OK, "%s", err.message);
}

/* "d" and "<d" hold the same values in the same bytes on a little-endian
 * host: the conversion is a plain copy, bit for bit (a signalling NaN
 * stays signalling instead of going through long double). */
Test(review, same_values_copy_bit_for_bit)
{
    uint64_t src[2] = {0x7FF0000000000001u, 0x3FF0000000000000u}, dst[2] = {0, 0};
    ptrdiff_t shape[1] = {2};
    xbuf_view a = {0}, b = {0};
    a.buf = dst;
    a.itemsize = 8;
    a.len = 16;
    a.ndim = 1;
    a.shape = shape;
    a.format = "d";
    b = a;
    b.buf = src;
    b.format = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "<d" : ">d";
    cr_assert_eq(xbuf_copy_convert(&a, &b, XBUF_OVERFLOW_ERROR, NULL), XBUF_OK);
    cr_assert_eq(dst[0], src[0]);
    cr_assert_eq(dst[1], src[1]);
}
