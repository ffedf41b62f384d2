/*
 * test_hostile.c -- exporters xbuf did not write (issue #8).
 *
 * Users point xbuf at exporters they did not write.  Whatever such an
 * exporter does, xbuf must keep working, lose nothing and touch no memory it
 * was not given.  This file is a hostile exporter and the consumer that
 * survives it:
 *
 *   Guarded memory.  Every byte the hostile exporter hands out -- its items,
 *   and also the shape, strides and suboffsets arrays and the format string
 *   of each answer -- lies flush against a PROT_NONE page (after it, or for
 *   views with negative strides before it), with a second PROT_NONE page on
 *   the other side.  The metadata arrays hold exactly the entries the
 *   exporter means (64 for a view that claims ndim 65), and are unmapped
 *   when the export is released.  So one byte read or written outside what
 *   was given -- or read after it was given back -- faults, and every xbuf
 *   call runs under NO_FAULT, which turns that fault into a test failure
 *   naming the call, the region and the offset.
 *
 *   The table.  `get_cases` lists the broken answers, each a small function
 *   that spoils an honest 2 x 3 int32 answer, with the request, the code and
 *   a substring of the message xbuf must give.  Each goes through xbuf_get
 *   and xbuf_mview_from_exporter, with and without an error struct: the
 *   exporter's release hook must have run exactly once for every get that
 *   returned a view, the consumer's view must be left zeroed, nothing xbuf
 *   allocated may stay live.  `use_cases` lists the answers that pass the
 *   protocol check although they are hostile (a format that does not fit the
 *   items, unparseable or with counts near PTRDIFF_MAX, zero strides,
 *   negative strides flush against the guard before the memory, a 2^63-item
 *   empty view, 64 dimensions ...): on each, the consumer operations --
 *   copy to contiguous (tobytes), compare, convert, iterate every item
 *   (tolist), slice, cast, field -- give the listed code and touch nothing
 *   outside.
 *
 *   Then the rest of issue #8 one test at a time: a format that changes
 *   between requests, metadata scribbled over (and unmapped) after the get,
 *   item memory freed behind xbuf's back (only what xbuf can guarantee),
 *   resizing with export counting (XBUF_EBUSY), release hooks that misbehave,
 *   views and mviews released twice and used after release, allocation
 *   failure while wrapping a hostile export.
 *
 * docs/robustness.md holds the table of cases and what is observed.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, siginfo_t */

#include <criterion/criterion.h>

#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xbuf.h>

#include "failing_alloc.h"
#include "samples.h"
#include "test_support.h"

#define PMAX PTRDIFF_MAX
#define PMIN PTRDIFF_MIN
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ==== guarded memory ====================================================== */

typedef struct guarded {
    char *map;        /* the whole mapping, guard pages included */
    size_t map_size;
    char *data;       /* the usable bytes */
    size_t size;
    const char *what; /* for messages: "items", "shape", ... */
} guarded;

/* Live regions, so that a fault can be described. */
#define MAX_REGIONS 256
static guarded *regions[MAX_REGIONS];

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* `size` bytes flush against a PROT_NONE page after them (before them
 * when `at_start`), with a PROT_NONE page on the other side as well.  With
 * size 0 the pointer is the first byte of a guard page: any access faults. */
static char *guard_new(guarded *g, size_t size, bool at_start, const char *what)
{
    size_t page = page_size(), body = (size + page - 1) / page * page;
    g->map_size = body + 2 * page;
    g->map = mmap(NULL, g->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)g->map, MAP_FAILED, "mmap of %zu bytes failed", g->map_size);
    if (body > 0)
        cr_assert_eq(mprotect(g->map + page, body, PROT_READ | PROT_WRITE), 0);
    g->data = at_start ? g->map + page : g->map + page + body - size;
    g->size = size;
    g->what = what;
    for (int i = 0; i < MAX_REGIONS; i++)
        if (regions[i] == NULL) {
            regions[i] = g;
            break;
        }
    return g->data;
}

static void guard_free(guarded *g)
{
    if (g->map == NULL)
        return;
    for (int i = 0; i < MAX_REGIONS; i++)
        if (regions[i] == g)
            regions[i] = NULL;
    cr_assert_eq(munmap(g->map, g->map_size), 0);
    memset(g, 0, sizeof *g);
}

/* Make the usable bytes inaccessible too (metadata the exporter has
 * "given back" to itself, memory it has "freed"). */
static void guard_seal(guarded *g)
{
    size_t page = page_size();
    if (g->map_size > 2 * page)
        cr_assert_eq(mprotect(g->map + page, g->map_size - 2 * page, PROT_NONE), 0);
}

static void describe_address(const void *address, char *out, size_t size)
{
    const char *a = address;
    for (int i = 0; i < MAX_REGIONS; i++) {
        const guarded *g = regions[i];
        if (g == NULL || a < g->map || a >= g->map + g->map_size)
            continue;
        if (a < g->data)
            snprintf(out, size, "%td bytes before the %zu-byte %s region", g->data - a, g->size,
                     g->what);
        else if (a >= g->data + g->size)
            snprintf(out, size, "%td bytes past the end of the %zu-byte %s region",
                     a - (g->data + g->size), g->size, g->what);
        else
            snprintf(out, size, "offset %td of the %zu-byte %s region, which was sealed",
                     a - g->data, g->size, g->what);
        return;
    }
    snprintf(out, size, "no guarded region");
}

/* ==== turning a fault into a test failure ================================= */

static sigjmp_buf probe_env;
static volatile sig_atomic_t probe_armed;
static void *volatile probe_address;

static void probe_handler(int sig, siginfo_t *info, void *context)
{
    (void)context;
    if (!probe_armed) { /* not ours: crash as usual */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    probe_armed = 0;
    probe_address = info->si_addr;
    siglongjmp(probe_env, 1);
}

static void probe_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

static void probe_failed(const char *what)
{
    char where[160];
    describe_address(probe_address, where, sizeof where);
    cr_assert_fail("%s touched memory it was not given: %p, %s", what, probe_address, where);
}

/* Run `stmt`; a fault inside it fails the test with the address. */
#define NO_FAULT(stmt)                                                                        \
    do {                                                                                      \
        if (sigsetjmp(probe_env, 1) == 0) {                                                   \
            probe_armed = 1;                                                                  \
            stmt;                                                                             \
            probe_armed = 0;                                                                  \
        } else {                                                                              \
            probe_failed(#stmt);                                                              \
        }                                                                                     \
    } while (0)

/* Whether `stmt` faults (for the harness's own test). */
#define FAULTS(stmt, faulted)                                                                 \
    do {                                                                                      \
        (faulted) = false;                                                                    \
        if (sigsetjmp(probe_env, 1) == 0) {                                                   \
            probe_armed = 1;                                                                  \
            stmt;                                                                             \
            probe_armed = 0;                                                                  \
        } else {                                                                              \
            (faulted) = true;                                                                 \
        }                                                                                     \
    } while (0)

static void start(void)
{
    begin(); /* the counting allocator */
    probe_install();
}

#define TEST(suite, name) Test(suite, name, .init = start)

/* ==== the hostile exporter ================================================= */

/* What the exporter answers.  Starts honest (answer_honest); each case
 * spoils it. */
typedef struct answer {
    int rc;                /* what get returns */
    const char *said;      /* message stored with a refusal (NULL: none) */
    bool unterminated;     /* the refusal's message fills err->message without a NUL */
    bool fill_on_refusal;  /* write a view even when refusing */
    size_t mem_size;       /* bytes of item memory, flush against a guard page */
    bool mem_at_start;     /* ... the one before it (for negative strides) */
    ptrdiff_t buf_offset;  /* buf = memory + buf_offset */
    bool null_buf;
    ptrdiff_t len, itemsize;
    int readonly, ndim;
    const char *format;    /* NULL: none */
    bool no_shape, no_strides, with_suboffsets;
    ptrdiff_t shape[XBUF_MAX_NDIM + 1], strides[XBUF_MAX_NDIM + 1];
    ptrdiff_t suboffsets[XBUF_MAX_NDIM + 1];
    /* PIL style: the memory is a table of `rows` pointers, each to its own
     * guarded block of `row_size` bytes (-1: none); `null_row` is the row
     * whose pointer is NULL (-1: none) */
    int rows;
    size_t row_size;
    int null_row;
} answer;

/* One export's metadata, each array in its own guarded region of exactly
 * the entries the exporter means; unmapped at release. */
typedef struct grant {
    guarded shape, strides, suboffsets, format;
} grant;

typedef struct hostile {
    xbuf_exporter exporter;
    answer a;
    const char *const *formats; /* when set: the format of the n-th get is formats[n % nformats] */
    int nformats;
    guarded mem;
    guarded row[8]; /* PIL style: the rows the table points at */
    int gets;     /* get hook calls */
    int answered; /* get calls that handed out a view with a release hook */
    int releases; /* release hook calls */
    bool counting; /* counts its exports and refuses to resize while any is held */
    xbuf_exports exports;
    grant *last;   /* the metadata of the latest export */
    /* misbehaviour inside the release hook */
    bool release_again;   /* calls xbuf_release on the view it was given */
    bool release_scribble; /* fills the view struct with 0xFF */
    bool release_reenter; /* takes and releases another export of itself */
} hostile;

static void answer_honest(answer *a)
{
    memset(a, 0, sizeof *a);
    a->mem_size = 24;
    a->len = 24;
    a->itemsize = 4;
    a->ndim = 2;
    a->format = "i";
    a->shape[0] = 2;
    a->shape[1] = 3;
    a->strides[0] = 12;
    a->strides[1] = 4;
    for (int i = 0; i <= XBUF_MAX_NDIM; i++)
        a->suboffsets[i] = -1;
    a->null_row = -1;
}

static int clamp_ndim(int ndim)
{
    return ndim < 0 ? 0 : ndim > XBUF_MAX_NDIM ? XBUF_MAX_NDIM : ndim;
}

static ptrdiff_t *guarded_array(guarded *g, const ptrdiff_t *values, int n, const char *what)
{
    ptrdiff_t *p = (ptrdiff_t *)guard_new(g, (size_t)n * sizeof *p, false, what);
    memcpy(p, values, (size_t)n * sizeof *p);
    return p;
}

static void hostile_release(xbuf_view *view);

static void grant_free(grant *g)
{
    if (g == NULL)
        return;
    guard_free(&g->shape);
    guard_free(&g->strides);
    guard_free(&g->suboffsets);
    guard_free(&g->format);
    free(g);
}

static void hostile_fill(hostile *h, xbuf_view *view, const char *format)
{
    const answer *a = &h->a;
    grant *g = calloc(1, sizeof *g);
    cr_assert_not_null(g);
    int n = clamp_ndim(a->ndim);
    memset(view, 0, sizeof *view);
    view->buf = a->null_buf ? NULL : h->mem.data + a->buf_offset;
    view->obj = h;
    view->len = a->len;
    view->itemsize = a->itemsize;
    view->readonly = a->readonly;
    view->ndim = a->ndim;
    if (format != NULL) {
        size_t length = strlen(format) + 1;
        view->format = memcpy(guard_new(&g->format, length, false, "format"), format, length);
    }
    if (!a->no_shape)
        view->shape = guarded_array(&g->shape, a->shape, n, "shape");
    if (!a->no_strides)
        view->strides = guarded_array(&g->strides, a->strides, n, "strides");
    if (a->with_suboffsets)
        view->suboffsets = guarded_array(&g->suboffsets, a->suboffsets, n, "suboffsets");
    view->internal = g;
    view->release = hostile_release;
    h->last = g;
    h->answered++;
}

static void hostile_release(xbuf_view *view)
{
    hostile *h = view->obj;
    h->releases++;
    grant *g = view->internal;
    if (h->last == g)
        h->last = NULL;
    grant_free(g);
    if (h->counting)
        xbuf_exports_release(&h->exports, NULL);
    if (h->release_reenter) {
        h->release_reenter = false;
        xbuf_view again;
        if (xbuf_get(&h->exporter, &again, XBUF_SIMPLE, NULL) == 0)
            xbuf_release(&again);
    }
    if (h->release_again)
        xbuf_release(view);
    if (h->release_scribble)
        memset(view, 0xFF, sizeof *view);
}

static int hostile_get(xbuf_exporter *self, xbuf_view *view, int flags, xbuf_error *err)
{
    hostile *h = (hostile *)self;
    (void)flags;
    const char *format = h->nformats > 0 ? h->formats[h->gets % h->nformats] : h->a.format;
    h->gets++;
    if (h->a.rc < 0) {
        if (h->a.fill_on_refusal) { /* a view xbuf must neither release nor hand on */
            memset(view, 0, sizeof *view);
            view->buf = h->mem.data;
            view->obj = h;
            view->len = 1;
            view->itemsize = 1;
            view->release = hostile_release;
        }
        if (h->a.said != NULL)
            xbuf_error_set(err, h->a.rc, "%s", h->a.said);
        if (h->a.unterminated && err != NULL) {
            err->code = h->a.rc;
            memset(err->message, 'A', sizeof err->message);
        }
        return h->a.rc;
    }
    if (h->counting) {
        int rc = xbuf_exports_acquire(&h->exports, err);
        if (rc < 0)
            return rc;
    }
    hostile_fill(h, view, format);
    return h->a.rc; /* 0, or a positive value the protocol does not allow */
}

/* The exporter over fresh guarded memory holding bytes 1, 2, 3, ... */
static void hostile_init(hostile *h, const answer *a)
{
    memset(h, 0, sizeof *h);
    h->exporter.get = hostile_get;
    h->a = *a;
    char *mem = guard_new(&h->mem, a->mem_size, a->mem_at_start, "items");
    for (size_t i = 0; i < a->mem_size; i++)
        mem[i] = (char)(i + 1);
    cr_assert_leq(a->rows, COUNT(h->row));
    cr_assert_geq(a->mem_size, (size_t)a->rows * sizeof(char *));
    for (int r = 0; r < a->rows; r++) {
        char *row = guard_new(&h->row[r], a->row_size, false, "row");
        for (size_t i = 0; i < a->row_size; i++)
            row[i] = (char)(16 * r + (int)i + 1);
        if (r == a->null_row)
            row = NULL;
        memcpy(mem + (size_t)r * sizeof row, &row, sizeof row);
    }
}

static void hostile_free(hostile *h)
{
    cr_assert_eq(h->releases, h->answered,
                 "the exporter handed out %d views and saw %d releases", h->answered,
                 h->releases);
    guard_free(&h->mem);
    for (int r = 0; r < COUNT(h->row); r++)
        guard_free(&h->row[r]);
}

/* ==== the harness checks itself ============================================ */

/* Valgrind runs the program on a synthetic CPU that does not fault on
 * PROT_NONE pages (memcheck checks addressability its own way), so under it
 * the guard pages are inert and the harness's own tests are skipped. */
static void skip_under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    if (preload != NULL && strstr(preload, "vgpreload") != NULL)
        cr_skip_test("guard pages do not fault under valgrind");
}

TEST(harness, guard_pages_fault_on_both_sides)
{
    skip_under_valgrind();
    guarded g;
    volatile char *p = (volatile char *)guard_new(&g, 10, false, "items");
    bool faulted;
    FAULTS((void)p[9], faulted);
    cr_assert_not(faulted, "the last byte of the region must be readable");
    FAULTS((void)p[10], faulted);
    cr_assert(faulted, "the byte after the region must fault");
    FAULTS(p[10] = 1, faulted);
    cr_assert(faulted, "writing the byte after the region must fault");
    guard_free(&g);

    p = (volatile char *)guard_new(&g, 10, true, "items");
    FAULTS((void)p[0], faulted);
    cr_assert_not(faulted);
    FAULTS((void)p[-1], faulted);
    cr_assert(faulted, "the byte before the region must fault");
    guard_seal(&g);
    FAULTS((void)p[0], faulted);
    cr_assert(faulted, "a sealed region must fault");
    guard_free(&g);
    finish();
}

TEST(harness, metadata_arrays_hold_exactly_ndim_entries)
{
    skip_under_valgrind();
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_view v;
    xbuf_error err;
    MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err));
    bool faulted;
    FAULTS((void)((volatile ptrdiff_t *)v.shape)[2], faulted);
    cr_assert(faulted, "shape[ndim] must fault");
    FAULTS((void)((volatile char *)v.format)[2], faulted);
    cr_assert(faulted, "the byte after the format's NUL must fault");
    xbuf_release(&v);
    hostile_free(&h);
    finish();
}

/* ==== broken answers: xbuf_get and xbuf_mview_from_exporter refuse ========= */

typedef struct get_case {
    const char *name;
    void (*spoil)(answer *a);
    int flags;
    int code;          /* what xbuf_get returns */
    const char *says;  /* in the message */
    bool returns_view; /* the get hook handed out a view (so it must be released once) */
} get_case;

/* shape and len disagree */
static void len_short(answer *a) { a->len = 20; }
static void len_long(answer *a) { a->len = 4096; } /* more than the memory holds */
static void len_negative(answer *a) { a->len = -24; }
static void shapeless_ragged(answer *a)
{
    a->ndim = 1;
    a->no_shape = a->no_strides = true;
    a->len = 22;
}
static void zero_d_with_several_items(answer *a)
{
    a->ndim = 0;
    a->no_shape = a->no_strides = true;
}
static void extent_negative(answer *a)
{
    a->shape[1] = -3;
    a->len = 0;
}
/* itemsize */
static void itemsize_zero(answer *a) { a->itemsize = 0; }
static void itemsize_negative(answer *a) { a->itemsize = -4; }
static void itemsize_min(answer *a) { a->itemsize = PMIN; }
/* dimensions */
static void ndim_65(answer *a)
{
    a->ndim = XBUF_MAX_NDIM + 1; /* the arrays hold only 64 entries */
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        a->shape[i] = a->strides[i] = 1;
    a->len = 1;
    a->itemsize = 1;
}
static void ndim_int_max(answer *a) { a->ndim = INT_MAX; }
static void ndim_negative(answer *a) { a->ndim = -1; }
static void ndim_int_min(answer *a) { a->ndim = INT_MIN; }
static void ndim_2_shapeless(answer *a) { a->no_shape = a->no_strides = true; }
/* counts near PTRDIFF_MAX */
static void shape_product_overflows(answer *a)
{
    a->shape[0] = PMAX;
    a->shape[1] = 2;
    a->len = 0;
}
static void items_times_itemsize_overflows(answer *a)
{
    a->ndim = 1;
    a->shape[0] = PMAX / 4 + 1;
    a->strides[0] = 4;
    a->len = 0;
}
static void itemsize_near_max(answer *a)
{
    a->ndim = 1;
    a->itemsize = PMAX;
    a->shape[0] = 2;
    a->strides[0] = PMAX;
    a->len = 0;
}
static void huge_len_small_shape(answer *a) { a->len = PMAX; }
/* strides that leave the memory -- or the address space */
static void stride_max(answer *a)
{
    a->strides[0] = PMAX;
}
static void stride_min(answer *a)
{
    a->strides[0] = PMIN;
}
static void span_overflows_between_ends(answer *a)
{
    a->strides[0] = PMAX / 2 + 1;
    a->strides[1] = -(PMAX / 2);
}
static void fortran_strides_unasked(answer *a)
{
    a->strides[0] = 4;
    a->strides[1] = 8;
}
/* the rest of the request */
static void null_buf(answer *a) { a->null_buf = true; }
static void empty_format(answer *a) { a->format = ""; }
static void no_format(answer *a) { a->format = NULL; }
static void read_only(answer *a) { a->readonly = 1; }
static void no_strides(answer *a) { a->no_strides = true; }
static void suboffsets_unasked(answer *a) { a->with_suboffsets = true; }
/* getbuffer that fails */
static void refuses(answer *a)
{
    a->rc = XBUF_EREQUEST;
    a->said = "no views on Tuesdays";
}
static void refuses_silently(answer *a) { a->rc = XBUF_EBUSY; }
static void refuses_with_unknown_code(answer *a)
{
    a->rc = -999;
    a->said = "my own code";
}
static void refuses_with_int_min(answer *a) { a->rc = INT_MIN; }
static void refuses_but_fills(answer *a)
{
    a->rc = XBUF_EREQUEST;
    a->said = "refused";
    a->fill_on_refusal = true;
}
static void refuses_with_unterminated_message(answer *a)
{
    a->rc = XBUF_EREQUEST;
    a->unterminated = true;
}
static void positive_rc(answer *a) { a->rc = 7; }
static void positive_rc_int_max(answer *a) { a->rc = INT_MAX; }

static const get_case get_cases[] = {
    {"len_short", len_short, XBUF_FULL_RO, XBUF_EEXPORTER, "product(shape) * itemsize is 24", true},
    {"len_long", len_long, XBUF_FULL_RO, XBUF_EEXPORTER, "gave len 4096", true},
    {"len_negative", len_negative, XBUF_FULL_RO, XBUF_EEXPORTER, "negative len", true},
    {"shapeless_ragged", shapeless_ragged, XBUF_SIMPLE, XBUF_EEXPORTER, "not a multiple of itemsize", true},
    {"zero_d_with_several_items", zero_d_with_several_items, XBUF_ND, XBUF_EEXPORTER, "0-d view whose len 24", true},
    {"extent_negative", extent_negative, XBUF_FULL_RO, XBUF_EEXPORTER, "negative extent", true},
    {"itemsize_zero", itemsize_zero, XBUF_FULL_RO, XBUF_EEXPORTER, "itemsize 0", true},
    {"itemsize_negative", itemsize_negative, XBUF_SIMPLE, XBUF_EEXPORTER, "itemsize -4", true},
    {"itemsize_min", itemsize_min, XBUF_FULL_RO, XBUF_EEXPORTER, "itemsize -9223372036854775808", true},
    {"ndim_65", ndim_65, XBUF_FULL_RO, XBUF_EEXPORTER, "ndim 65, outside 0..64", true},
    {"ndim_int_max", ndim_int_max, XBUF_FULL_RO, XBUF_EEXPORTER, "ndim 2147483647", true},
    {"ndim_negative", ndim_negative, XBUF_FULL_RO, XBUF_EEXPORTER, "ndim -1", true},
    {"ndim_int_min", ndim_int_min, XBUF_SIMPLE, XBUF_EEXPORTER, "ndim -2147483648", true},
    {"ndim_2_shapeless", ndim_2_shapeless, XBUF_SIMPLE, XBUF_EEXPORTER, "ndim 2 but no shape", true},
    {"shape_product_overflows", shape_product_overflows, XBUF_FULL_RO, XBUF_EEXPORTER, "size overflows", true},
    {"items_times_itemsize_overflows", items_times_itemsize_overflows, XBUF_FULL_RO, XBUF_EEXPORTER, "size overflows", true},
    {"itemsize_near_max", itemsize_near_max, XBUF_FULL_RO, XBUF_EEXPORTER, "size overflows", true},
    {"huge_len_small_shape", huge_len_small_shape, XBUF_FULL_RO, XBUF_EEXPORTER, "gave len 9223372036854775807", true},
    {"stride_max", stride_max, XBUF_FULL_RO, XBUF_EEXPORTER, "byte span overflows", true},
    {"stride_min", stride_min, XBUF_FULL_RO, XBUF_EEXPORTER, "byte span overflows", true},
    {"span_overflows_between_ends", span_overflows_between_ends, XBUF_FULL_RO, XBUF_EEXPORTER, "byte span overflows", true},
    {"fortran_strides_unasked", fortran_strides_unasked, XBUF_CONTIG_RO, XBUF_EEXPORTER, "non-C-contiguous", true},
    {"fortran_for_c_contiguous", fortran_strides_unasked, XBUF_C_CONTIGUOUS, XBUF_EEXPORTER, "asked for C_CONTIGUOUS", true},
    {"null_buf", null_buf, XBUF_FULL_RO, XBUF_EEXPORTER, "NULL buf", true},
    {"empty_format", empty_format, XBUF_FULL_RO, XBUF_EEXPORTER, "empty format", true},
    {"no_format", no_format, XBUF_FULL_RO, XBUF_EEXPORTER, "asked for FORMAT", true},
    {"read_only", read_only, XBUF_FULL, XBUF_EEXPORTER, "asked for WRITABLE", true},
    {"no_strides", no_strides, XBUF_STRIDED_RO, XBUF_EEXPORTER, "asked for STRIDES", true},
    {"suboffsets_unasked", suboffsets_unasked, XBUF_RECORDS_RO, XBUF_EEXPORTER, "did not ask for INDIRECT", true},
    {"refuses", refuses, XBUF_FULL_RO, XBUF_EREQUEST, "no views on Tuesdays", false},
    {"refuses_silently", refuses_silently, XBUF_FULL_RO, XBUF_EBUSY, "exporter refused the request", false},
    {"refuses_with_unknown_code", refuses_with_unknown_code, XBUF_FULL_RO, XBUF_EEXPORTER, "unknown code -999", false},
    {"refuses_with_int_min", refuses_with_int_min, XBUF_FULL_RO, XBUF_EEXPORTER, "unknown code -2147483648", false},
    {"refuses_but_fills", refuses_but_fills, XBUF_FULL_RO, XBUF_EREQUEST, "refused", false},
    {"refuses_with_unterminated_message", refuses_with_unterminated_message, XBUF_FULL_RO, XBUF_EREQUEST, "", false},
    {"positive_rc", positive_rc, XBUF_FULL_RO, XBUF_EEXPORTER, "returned 7", true},
    {"positive_rc_int_max", positive_rc_int_max, XBUF_FULL_RO, XBUF_EEXPORTER, "returned 2147483647", true},
};

static bool is_zeroed(const xbuf_view *view)
{
    static const xbuf_view zero;
    return memcmp(view, &zero, sizeof zero) == 0;
}

/* A message must be a NUL-terminated string inside its buffer. */
static void assert_terminated(const xbuf_error *err, const char *name)
{
    cr_assert_not_null(memchr(err->message, '\0', sizeof err->message),
                       "%s: the error message is not NUL-terminated", name);
}

static void run_get_case(const get_case *c)
{
    answer a;
    answer_honest(&a);
    c->spoil(&a);
    hostile h;
    hostile_init(&h, &a);
    int expected_releases = 0;
    for (int with_err = 1; with_err >= 0; with_err--) {
        xbuf_error err;
        xbuf_error_clear(&err);
        xbuf_view v;
        memset(&v, 0x5A, sizeof v);
        int rc;
        NO_FAULT(rc = xbuf_get(&h.exporter, &v, c->flags, with_err ? &err : NULL));
        cr_assert_eq(rc, c->code, "%s: xbuf_get returned %d (%s), expected %s; message: %.255s",
                     c->name, rc, xbuf_strerror(rc), xbuf_strerror(c->code), err.message);
        cr_assert(is_zeroed(&v), "%s: a refused view must be left zeroed", c->name);
        if (with_err) {
            assert_terminated(&err, c->name);
            cr_assert_eq(err.code, c->code, "%s: err.code %d", c->name, err.code);
            cr_assert_neq(err.message[0], '\0', "%s: no message", c->name);
            cr_assert_not_null(strstr(err.message, c->says),
                               "%s: message \"%s\" does not say \"%s\"", c->name, err.message,
                               c->says);
        }
        expected_releases += c->returns_view;
        cr_assert_eq(h.releases, expected_releases,
                     "%s: the exporter's release ran %d times for %d views returned", c->name,
                     h.releases, expected_releases);
        NO_FAULT(xbuf_release(&v)); /* harmless on a zeroed view */

        xbuf_mview *m = (xbuf_mview *)&h; /* junk: must be reset to NULL */
        xbuf_error_clear(&err);
        NO_FAULT(rc = xbuf_mview_from_exporter(&h.exporter, c->flags, &m,
                                               with_err ? &err : NULL));
        cr_assert_eq(rc, c->code, "%s: xbuf_mview_from_exporter returned %d (%s): %.255s",
                     c->name, rc, xbuf_strerror(rc), err.message);
        cr_assert_null(m, "%s: *out must be NULL on failure", c->name);
        if (with_err) {
            assert_terminated(&err, c->name);
            cr_assert_not_null(strstr(err.message, c->says), "%s: \"%s\"", c->name,
                               err.message);
        }
        expected_releases += c->returns_view;
        cr_assert_eq(h.releases, expected_releases, "%s: release count %d, expected %d",
                     c->name, h.releases, expected_releases);
    }
    cr_assert_eq(h.gets, 4);
    hostile_free(&h);
    finish();
}

TEST(get, every_broken_answer_is_refused_and_given_back_once)
{
    for (int i = 0; i < COUNT(get_cases); i++)
        run_get_case(&get_cases[i]);
}

/* The same, each case alone, so that one failure names its case. */
#define GET_CASE(index, id)                                                                   \
    TEST(get_case, id)                                                                        \
    {                                                                                         \
        cr_assert_str_eq(get_cases[index].name, #id);                                         \
        run_get_case(&get_cases[index]);                                                      \
    }
GET_CASE(0, len_short)
GET_CASE(1, len_long)
GET_CASE(2, len_negative)
GET_CASE(3, shapeless_ragged)
GET_CASE(4, zero_d_with_several_items)
GET_CASE(5, extent_negative)
GET_CASE(6, itemsize_zero)
GET_CASE(7, itemsize_negative)
GET_CASE(8, itemsize_min)
GET_CASE(9, ndim_65)
GET_CASE(10, ndim_int_max)
GET_CASE(11, ndim_negative)
GET_CASE(12, ndim_int_min)
GET_CASE(13, ndim_2_shapeless)
GET_CASE(14, shape_product_overflows)
GET_CASE(15, items_times_itemsize_overflows)
GET_CASE(16, itemsize_near_max)
GET_CASE(17, huge_len_small_shape)
GET_CASE(18, stride_max)
GET_CASE(19, stride_min)
GET_CASE(20, span_overflows_between_ends)
GET_CASE(21, fortran_strides_unasked)
GET_CASE(22, fortran_for_c_contiguous)
GET_CASE(23, null_buf)
GET_CASE(24, empty_format)
GET_CASE(25, no_format)
GET_CASE(26, read_only)
GET_CASE(27, no_strides)
GET_CASE(28, suboffsets_unasked)
GET_CASE(29, refuses)
GET_CASE(30, refuses_silently)
GET_CASE(31, refuses_with_unknown_code)
GET_CASE(32, refuses_with_int_min)
GET_CASE(33, refuses_but_fills)
GET_CASE(34, refuses_with_unterminated_message)
GET_CASE(35, positive_rc)
GET_CASE(36, positive_rc_int_max)

TEST(get, the_table_has_a_test_per_case)
{
    cr_assert_eq(COUNT(get_cases), 37, "add a GET_CASE line for the new case");
    finish();
}

/* xbuf_mview_from_view on a malformed view the caller holds: refused, and
 * the view is still the caller's (not released, not moved). */
TEST(get, mview_from_a_malformed_view_leaves_it_with_the_caller)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_view v;
    xbuf_error err;
    MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err));
    v.len = 20; /* the consumer's copy of the answer goes bad */
    xbuf_view before = v;
    xbuf_mview *m;
    NO_FAULT(FAILS(xbuf_mview_from_view(&v, &m, &err), XBUF_EINVAL));
    SAYS("product(shape) * itemsize is 24");
    cr_assert_null(m);
    cr_assert_eq(memcmp(&v, &before, sizeof v), 0, "the refused view was changed");
    cr_assert_eq(h.releases, 0);
    xbuf_release(&v);
    cr_assert_eq(h.releases, 1);
    hostile_free(&h);
    finish();
}

/* ==== hostile answers that pass the check: the consumer operations ======== */

typedef struct use_case {
    const char *name;
    void (*spoil)(answer *a);
    int tobytes;          /* xbuf_copy_to_contiguous */
    int equal;            /* xbuf_equal of the view with itself */
    const char *equal_says;
    int convert;          /* xbuf_copy_convert into a contiguous "q" view */
    int field;            /* xbuf_mview_field "a" */
    int cast;             /* xbuf_mview_cast to "B", 1-d */
} use_case;

static void honest(answer *a) { (void)a; }
static void format_wider_than_items(answer *a)
{
    a->format = "q"; /* 8 bytes, on 1-byte items that end at the guard page */
    a->itemsize = 1;
    a->mem_size = a->len = 6;
    a->ndim = 1;
    a->shape[0] = 6;
    a->strides[0] = 1;
}
static void record_wider_than_items(answer *a)
{
    a->format = "T{i:a:q:b:}";
    a->itemsize = 4;
}
static void format_narrower_than_items(answer *a)
{
    a->format = "b";
}
static void format_unparseable(answer *a) { a->format = "i{"; }
static void format_unknown_code(answer *a) { a->format = "\x01"; }
static void format_count_ptrdiff_max(answer *a)
{
    a->format = "9223372036854775807s";
    a->itemsize = 1;
    a->mem_size = a->len = 6;
    a->shape[1] = 3;
    a->strides[0] = 3;
    a->strides[1] = 1;
}
static void format_count_overflows(answer *a) { a->format = "99999999999999999999s"; }
static void format_subarray_overflows(answer *a) { a->format = "(4611686018427387904)h"; }
static void format_record_overflows(answer *a) { a->format = "T{9223372036854775807s:a:q:b:}"; }
static void format_nesting_too_deep(answer *a)
{
    static char deep[4 * 1024];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        deep[n++] = 'T';
        deep[n++] = '{';
    }
    deep[n++] = 'i';
    for (int i = 0; i < 1000; i++)
        deep[n++] = '}';
    deep[n] = '\0';
    a->format = deep;
}
static void zero_strides(answer *a)
{
    a->ndim = 1;
    a->shape[0] = 1000; /* 1000 items, all the same 4 bytes */
    a->strides[0] = 0;
    a->len = 4000;
    a->mem_size = 4;
}
static void negative_strides_at_the_start(answer *a)
{
    a->mem_at_start = true; /* the guard page is just below the lowest item */
    a->buf_offset = 20;
    a->strides[0] = -12;
    a->strides[1] = -4;
}
static void empty_but_huge(answer *a)
{
    a->mem_size = 0; /* buf is the first byte of a guard page */
    a->shape[0] = 0;
    a->shape[1] = PMAX;
    a->strides[0] = PMAX;
    a->strides[1] = 1;
    a->itemsize = 1;
    a->format = "B";
    a->len = 0;
}
static void empty_huge_strides(answer *a)
{
    a->mem_size = 0;
    a->shape[0] = PMAX;
    a->shape[1] = 0;
    a->strides[0] = PMIN;
    a->strides[1] = PMAX;
    a->len = 0;
}
static void dims_64(answer *a)
{
    a->ndim = XBUF_MAX_NDIM;
    for (int i = 0; i < XBUF_MAX_NDIM; i++) {
        a->shape[i] = 1;
        a->strides[i] = (i % 2) ? 4 : -4;
    }
    a->shape[XBUF_MAX_NDIM - 1] = 2;
    a->strides[XBUF_MAX_NDIM - 1] = 4;
    a->len = 8;
    a->mem_size = 8;
}
static void zero_d(answer *a)
{
    a->ndim = 0;
    a->len = 4;
    a->mem_size = 4;
}
static void shapeless_bytes(answer *a)
{
    a->ndim = 1;
    a->no_shape = a->no_strides = true;
    a->itemsize = 1;
    a->format = NULL;
}

/* PIL style: 3 rows of 4 "h", each row its own block flush against a guard page */
static void pil_rows(answer *a)
{
    a->rows = 3;
    a->row_size = 8;
    a->mem_size = 3 * sizeof(char *);
    a->format = "h";
    a->itemsize = 2;
    a->shape[0] = 3;
    a->shape[1] = 4;
    a->strides[0] = (ptrdiff_t)sizeof(char *);
    a->strides[1] = 2;
    a->with_suboffsets = true;
    a->suboffsets[0] = 0;
    a->len = 24;
}
/* ... read backwards: item 0 of each row is its last, the guard page right after it */
static void pil_rows_backwards(answer *a)
{
    pil_rows(a);
    a->strides[1] = -2;
    a->suboffsets[0] = 6;
}
/* an empty PIL-style view with a NULL table: allowed, since it holds no item */
static void pil_empty_null_table(answer *a)
{
    pil_rows(a);
    a->rows = 0;
    a->mem_size = 0;
    a->null_buf = true;
    a->shape[1] = 0;
    a->len = 0;
}

static const use_case use_cases[] = {
    /* name                        tobytes  equal         says                         convert            field         cast */
    {"honest", honest, 0, 0, NULL, 0, XBUF_ETYPE, 0},
    {"format_wider_than_items", format_wider_than_items, 0, XBUF_EINVAL, "outside its 1-byte items", XBUF_EUNSUPPORTED, XBUF_ETYPE, 0},
    {"record_wider_than_items", record_wider_than_items, 0, XBUF_EINVAL, "field 'b'", XBUF_EUNSUPPORTED, 0, 0},
    {"format_narrower_than_items", format_narrower_than_items, 0, 0, NULL, XBUF_EUNSUPPORTED, XBUF_ETYPE, 0},
    {"format_unparseable", format_unparseable, 0, XBUF_EFORMAT, "position", XBUF_EFORMAT, XBUF_EFORMAT, 0},
    {"format_unknown_code", format_unknown_code, 0, XBUF_EFORMAT, "position 0", XBUF_EFORMAT, XBUF_EFORMAT, 0},
    {"format_count_ptrdiff_max", format_count_ptrdiff_max, 0, XBUF_EINVAL, "outside its 1-byte items", XBUF_EUNSUPPORTED, XBUF_ETYPE, 0},
    {"format_count_overflows", format_count_overflows, 0, XBUF_EOVERFLOW, "does not fit in ptrdiff_t", XBUF_EOVERFLOW, XBUF_EOVERFLOW, 0},
    {"format_subarray_overflows", format_subarray_overflows, 0, XBUF_EOVERFLOW, "does not fit in ptrdiff_t", XBUF_EOVERFLOW, XBUF_EOVERFLOW, 0},
    {"format_record_overflows", format_record_overflows, 0, XBUF_EOVERFLOW, "does not fit in ptrdiff_t", XBUF_EOVERFLOW, XBUF_EOVERFLOW, 0},
    {"format_nesting_too_deep", format_nesting_too_deep, 0, XBUF_EFORMAT, "nest", XBUF_EFORMAT, XBUF_EFORMAT, 0},
    {"zero_strides", zero_strides, 0, 0, NULL, 0, XBUF_ETYPE, XBUF_ETYPE},
    {"negative_strides_at_the_start", negative_strides_at_the_start, 0, 0, NULL, 0, XBUF_ETYPE, XBUF_ETYPE},
    {"empty_but_huge", empty_but_huge, 0, 0, NULL, 0, XBUF_ETYPE, 0},
    {"empty_huge_strides", empty_huge_strides, 0, 0, NULL, 0, XBUF_ETYPE, 0},
    {"dims_64", dims_64, 0, 0, NULL, 0, XBUF_ETYPE, 0},
    {"zero_d", zero_d, 0, 0, NULL, 0, XBUF_ETYPE, 0},
    {"shapeless_bytes", shapeless_bytes, 0, 0, NULL, 0, XBUF_ETYPE, 0},
    {"pil_rows", pil_rows, 0, 0, NULL, 0, XBUF_ETYPE, XBUF_ETYPE},
    {"pil_rows_backwards", pil_rows_backwards, 0, 0, NULL, 0, XBUF_ETYPE, XBUF_ETYPE},
    {"pil_empty_null_table", pil_empty_null_table, 0, 0, NULL, 0, XBUF_ETYPE, XBUF_ETYPE},
};

static const char *code_name(int code)
{
    return code == 0 ? "0" : xbuf_strerror(code);
}

#define EXPECT_CODE(c, op, rc, want, err)                                                     \
    cr_assert_eq((rc), (want), "%s: %s returned %s, expected %s; message: %s", (c)->name, op,  \
                 code_name(rc), code_name(want), (err).message)

/* Read every item the way tolist does: each item's itemsize bytes. */
static int walk_items(const xbuf_mview *m, ptrdiff_t *items, unsigned *sum, xbuf_error *err)
{
    xbuf_iter it;
    int rc = xbuf_iter_init(&it, m, err);
    if (rc < 0)
        return rc;
    const xbuf_view *v = xbuf_mview_view(m);
    void *item;
    *items = 0;
    *sum = 0;
    while (xbuf_iter_next(&it, &item)) {
        for (ptrdiff_t i = 0; i < v->itemsize; i++)
            *sum += ((const unsigned char *)item)[i];
        ++*items;
    }
    return 0;
}

static ptrdiff_t product(int ndim, const ptrdiff_t *shape)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* A contiguous "q" view of `n` items shaped like `v`, over `memory`. */
static void q_like(xbuf_view *q, const xbuf_view *v, int64_t *memory, ptrdiff_t n,
                   ptrdiff_t *strides)
{
    memset(q, 0, sizeof *q);
    q->buf = memory;
    q->len = n * 8;
    q->itemsize = 8;
    q->ndim = v->ndim;
    q->format = "q";
    q->shape = v->shape;
    q->strides = strides;
    if (v->ndim > 0 && xbuf_strides_fill(v->ndim, v->shape, 8, 'C', strides, NULL) < 0)
        for (int i = 0; i < v->ndim; i++)
            strides[i] = 8; /* an empty view whose C strides overflow: any strides do */
}

static void exercise(const use_case *c, const xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    cr_assert_not_null(v);
    xbuf_error err;
    int rc;
    /* tobytes */
    size_t bytes = (size_t)v->len;
    char *out = malloc(bytes + 1);
    xbuf_error_clear(&err);
    NO_FAULT(rc = xbuf_copy_to_contiguous(out, v->len, v, 'C', &err));
    EXPECT_CODE(c, "xbuf_copy_to_contiguous", rc, c->tobytes, err);
    free(out);
    /* compare */
    bool equal = false;
    xbuf_error_clear(&err);
    NO_FAULT(rc = xbuf_equal(v, v, &equal, &err));
    EXPECT_CODE(c, "xbuf_equal", rc, c->equal, err);
    if (rc == 0)
        cr_assert(equal || strchr(v->format, 'd') || strchr(v->format, 'f'),
                  "%s: a view must equal itself", c->name);
    else if (c->equal_says != NULL)
        cr_assert_not_null(strstr(err.message, c->equal_says), "%s: xbuf_equal said \"%s\"",
                           c->name, err.message);
    /* convert into int64 */
    volatile ptrdiff_t n = product(v->ndim, v->shape); /* volatile: lives across sigsetjmp */
    if (n <= 4096) {
        int64_t *q_memory = calloc((size_t)n + 1, 8);
        ptrdiff_t q_strides[XBUF_MAX_NDIM];
        xbuf_view q;
        q_like(&q, v, q_memory, n, q_strides);
        xbuf_error_clear(&err);
        NO_FAULT(rc = xbuf_copy_convert(&q, v, XBUF_OVERFLOW_WRAP, &err));
        EXPECT_CODE(c, "xbuf_copy_convert", rc, c->convert, err);
        free(q_memory);
    }
    /* tolist: every item */
    ptrdiff_t items = -1;
    unsigned sum = 0;
    xbuf_error_clear(&err);
    NO_FAULT(rc = walk_items(m, &items, &sum, &err));
    EXPECT_CODE(c, "iterating", rc, 0, err);
    cr_assert_eq(items, n, "%s: iterated %td items of %td", c->name, items, n);
    /* field, cast */
    xbuf_mview *d = NULL;
    xbuf_error_clear(&err);
    NO_FAULT(rc = xbuf_mview_field(m, "a", &d, &err));
    EXPECT_CODE(c, "xbuf_mview_field", rc, c->field, err);
    xbuf_mview_unref(d);
    d = NULL;
    NO_FAULT(rc = xbuf_mview_cast(m, "B", 1, NULL, &d, &err));
    EXPECT_CODE(c, "xbuf_mview_cast", rc, c->cast, err);
    xbuf_mview_unref(d);
    /* reversed and sliced, then copied again */
    if (v->ndim > 0) {
        xbuf_slice slices[XBUF_MAX_NDIM];
        for (int i = 0; i < v->ndim; i++)
            slices[i] = (xbuf_slice){XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1};
        slices[0] = (xbuf_slice){PMAX, PMIN + 1, -2}; /* from the end, every other */
        d = NULL;
        NO_FAULT(rc = xbuf_mview_slice(m, slices, v->ndim, &d, &err));
        EXPECT_CODE(c, "xbuf_mview_slice", rc, 0, err);
        const xbuf_view *s = xbuf_mview_view(d);
        out = malloc((size_t)s->len + 1);
        NO_FAULT(rc = xbuf_copy_to_contiguous(out, s->len, s, 'F', &err));
        EXPECT_CODE(c, "xbuf_copy_to_contiguous of a reversed slice", rc, c->tobytes, err);
        free(out);
        NO_FAULT(rc = walk_items(d, &items, &sum, &err));
        EXPECT_CODE(c, "iterating a reversed slice", rc, 0, err);
        xbuf_mview_unref(d);
        /* the last index of dimension 0, out-of-range indices, huge slice bounds */
        d = NULL;
        if (v->shape[0] > 0) {
            NO_FAULT(rc = xbuf_mview_index(m, 0, -1, &d, &err));
            EXPECT_CODE(c, "xbuf_mview_index(-1)", rc, 0, err);
            xbuf_mview_unref(d);
        }
        NO_FAULT(rc = xbuf_mview_index(m, 0, PMAX, &d, &err));
        EXPECT_CODE(c, "xbuf_mview_index(PTRDIFF_MAX)", rc, XBUF_ERANGE, err);
        NO_FAULT(rc = xbuf_mview_index(m, 0, PMIN, &d, &err));
        EXPECT_CODE(c, "xbuf_mview_index(PTRDIFF_MIN)", rc, XBUF_ERANGE, err);
        slices[0] = (xbuf_slice){PMIN + 1, PMAX, PMAX};
        NO_FAULT(rc = xbuf_mview_slice(m, slices, 1, &d, &err));
        EXPECT_CODE(c, "xbuf_mview_slice(huge bounds)", rc, 0, err);
        xbuf_mview_unref(d);
    }
}

static void run_use_case(const use_case *c)
{
    answer a;
    answer_honest(&a);
    c->spoil(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m = NULL;
    int flags = a.no_shape ? XBUF_SIMPLE : XBUF_FULL_RO;
    int rc;
    NO_FAULT(rc = xbuf_mview_from_exporter(&h.exporter, flags, &m, &err));
    cr_assert_eq(rc, 0, "%s: the answer should pass the check: %s", c->name, err.message);
    cr_assert_eq(h.gets, 1);
    /* The view object works on its own copies: the exporter's metadata
     * becomes inaccessible from here on. */
    if (h.last != NULL) {
        guard_seal(&h.last->shape);
        guard_seal(&h.last->strides);
        guard_seal(&h.last->format);
        guard_seal(&h.last->suboffsets);
    }
    exercise(c, m);
    cr_assert_eq(h.releases, 0, "%s: released while the view object is alive", c->name);
    NO_FAULT(xbuf_mview_unref(m));
    cr_assert_eq(h.releases, 1, "%s: released %d times", c->name, h.releases);
    hostile_free(&h);
    finish();
}

#define USE_CASE(index, id)                                                                   \
    TEST(use_case, id)                                                                        \
    {                                                                                         \
        cr_assert_str_eq(use_cases[index].name, #id);                                         \
        run_use_case(&use_cases[index]);                                                      \
    }
USE_CASE(0, honest)
USE_CASE(1, format_wider_than_items)
USE_CASE(2, record_wider_than_items)
USE_CASE(3, format_narrower_than_items)
USE_CASE(4, format_unparseable)
USE_CASE(5, format_unknown_code)
USE_CASE(6, format_count_ptrdiff_max)
USE_CASE(7, format_count_overflows)
USE_CASE(8, format_subarray_overflows)
USE_CASE(9, format_record_overflows)
USE_CASE(10, format_nesting_too_deep)
USE_CASE(11, zero_strides)
USE_CASE(12, negative_strides_at_the_start)
USE_CASE(13, empty_but_huge)
USE_CASE(14, empty_huge_strides)
USE_CASE(15, dims_64)
USE_CASE(16, zero_d)
USE_CASE(17, shapeless_bytes)
USE_CASE(18, pil_rows)
USE_CASE(19, pil_rows_backwards)
USE_CASE(20, pil_empty_null_table)

TEST(use_case, the_table_has_a_test_per_case)
{
    cr_assert_eq(COUNT(use_cases), 21, "add a USE_CASE line for the new case");
    finish();
}

/* ==== strides that leave the memory ======================================== */

/* An exporter whose strides reach past its memory gives a view the check
 * cannot tell from an honest one: only the exporter knows how much memory
 * it has.  What xbuf guarantees: it reports the byte range the view claims
 * (xbuf_view_extent), so a consumer who knows the memory can refuse; the
 * metadata operations (get, wrap, slice, index, permute) never read the
 * memory; and it touches only what a view addresses -- so the part of the
 * lie that is real memory is usable. */
TEST(strides, beyond_the_memory_are_the_exporters_contract)
{
    answer a;
    answer_honest(&a);
    a.ndim = 1;
    a.shape[0] = 4;
    a.strides[0] = 8; /* items at 0, 8, 16, 24: the last 8 bytes past the 24 it has */
    a.len = 16;
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m;
    NO_FAULT(MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err)));
    const xbuf_view *v = xbuf_mview_view(m);
    ptrdiff_t lo, hi;
    MUST(xbuf_view_extent(v, &lo, &hi, &err));
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 28, "the claimed range ends at byte 28, past the 24 bytes given");
    cr_assert_gt(hi, (ptrdiff_t)h.mem.size, "a consumer can see the claim exceeds the memory");
    /* metadata operations do not read the memory */
    xbuf_mview *s, *t, *i;
    xbuf_slice first3 = {0, 3, 1};
    NO_FAULT(MUST(xbuf_mview_slice(m, &first3, 1, &s, &err)));
    NO_FAULT(MUST(xbuf_mview_transpose(m, &t, &err)));
    NO_FAULT(MUST(xbuf_mview_index(m, 0, -1, &i, &err)));
    void *p;
    ptrdiff_t last = 3;
    NO_FAULT(MUST(xbuf_mview_pointer(m, &last, &p, &err)));
    cr_assert_eq((char *)p, h.mem.data + 24, "the pointer is computed, not followed");
    /* the part that is real memory is usable, and only that is touched */
    int32_t got[3];
    NO_FAULT(MUST(xbuf_copy_to_contiguous(got, 12, xbuf_mview_view(s), 'C', &err)));
    int32_t want[3];
    for (int k = 0; k < 3; k++)
        memcpy(&want[k], h.mem.data + 8 * k, 4);
    cr_assert_eq(memcmp(got, want, sizeof got), 0);
    xbuf_mview_unref(i);
    xbuf_mview_unref(t);
    xbuf_mview_unref(s);
    xbuf_mview_unref(m);
    cr_assert_eq(h.releases, 1);
    hostile_free(&h);
    finish();
}

/* Negative strides from a buf at the very start: the claim reaches below
 * the memory, and xbuf_view_extent says so (lo < 0). */
TEST(strides, below_the_memory_show_in_the_extent)
{
    answer a;
    answer_honest(&a);
    a.mem_at_start = true;
    a.strides[0] = -12;
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_view v;
    NO_FAULT(MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err)));
    ptrdiff_t lo, hi;
    MUST(xbuf_view_extent(&v, &lo, &hi, &err));
    cr_assert_eq(lo, -12);
    cr_assert_eq(hi, 12);
    xbuf_release(&v);
    hostile_free(&h);
    finish();
}

/* ==== PIL-style pointers ====================================================== */

/* A NULL row pointer in an indirect view is a lie xbuf can see: every
 * operation that would follow the table -- making a view object of it,
 * copying, comparing, converting -- walks the table first (one load per
 * row) and refuses before it reads an item or writes a byte. */
TEST(indirect, a_null_row_pointer_is_refused_by_view_objects)
{
    answer a;
    answer_honest(&a);
    pil_rows(&a);
    a.null_row = 1;
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m = NULL;
    NO_FAULT(FAILS(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err),
                   XBUF_EEXPORTER));
    SAYS("NULL pointer at index 1 of dimension 0");
    cr_assert_null(m);
    hostile_free(&h);
    finish();
}

TEST(indirect, a_null_row_pointer_is_refused_by_copies_and_comparisons)
{
    answer a;
    answer_honest(&a);
    pil_rows(&a);
    a.null_row = 1;
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_view v;
    NO_FAULT(MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err)));
    int16_t out[12];
    memset(out, 0x5A, sizeof out);
    NO_FAULT(FAILS(xbuf_copy_to_contiguous(out, 24, &v, 'C', &err), XBUF_EEXPORTER));
    SAYS("NULL pointer");
    for (size_t i = 0; i < sizeof out; i++)
        cr_assert_eq(((unsigned char *)out)[i], 0x5A, "byte %zu written before the refusal", i);
    bool equal;
    NO_FAULT(FAILS(xbuf_equal(&v, &v, &equal, &err), XBUF_EEXPORTER));
    SAYS("NULL pointer");
    int64_t q_memory[12];
    ptrdiff_t q_strides[2];
    xbuf_view q;
    q_like(&q, &v, q_memory, 12, q_strides);
    NO_FAULT(FAILS(xbuf_copy_convert(&q, &v, XBUF_OVERFLOW_WRAP, &err), XBUF_EEXPORTER));
    SAYS("NULL pointer");
    xbuf_release(&v);
    hostile_free(&h);
    finish();
}

/* ==== empty views with extents near PTRDIFF_MAX ============================== */

/* A view with a 0 extent holds no item whatever its other extents: every
 * copy of it copies nothing, in every order. */
TEST(empty, views_with_huge_extents_copy_nothing_in_every_order)
{
    static const ptrdiff_t shapes[][2] = {{PMAX, 0}, {0, PMAX}, {PMAX / 2, 0}};
    for (volatile int k = 0; k < COUNT(shapes); k++) {
        ptrdiff_t shape[2] = {shapes[k][0], shapes[k][1]}, strides[2] = {4, 4};
        xbuf_view v = {.buf = &strides, .len = 0, .itemsize = 4, .ndim = 2, .format = "i",
                       .shape = shape, .strides = strides};
        xbuf_error err;
        MUST(xbuf_view_check(&v, XBUF_FULL_RO, &err));
        char out[1];
        static const char orders[] = "CFA";
        for (volatile int o = 0; o < 3; o++) {
            xbuf_error_clear(&err);
            int rc;
            NO_FAULT(rc = xbuf_copy_to_contiguous(out, 0, &v, orders[o], &err));
            cr_assert_eq(rc, 0, "shape {%td, %td}, order '%c': %s: %s", shape[0], shape[1],
                         orders[o], xbuf_strerror(rc), err.message);
            NO_FAULT(rc = xbuf_copy_from_contiguous(&v, out, 0, orders[o], &err));
            cr_assert_eq(rc, 0, "from contiguous, shape {%td, %td}, order '%c': %s",
                         shape[0], shape[1], orders[o], err.message);
        }
    }
    finish();
}

/* ==== derivations at the limits: 64 dimensions, counts near PTRDIFF_MAX ===== */

TEST(limits, casts_refuse_65_dimensions_and_shapes_that_overflow)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m, *d;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    ptrdiff_t ones[XBUF_MAX_NDIM + 1];
    for (int i = 0; i <= XBUF_MAX_NDIM; i++)
        ones[i] = 1;
    ones[0] = 24;
    NO_FAULT(FAILS(xbuf_mview_cast(m, "B", XBUF_MAX_NDIM + 1, ones, &d, &err), XBUF_EINVAL));
    SAYS("ndim 65 is outside 0..64");
    cr_assert_null(d);
    NO_FAULT(FAILS(xbuf_mview_cast(m, "B", INT_MAX, ones, &d, &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_mview_cast(m, "B", -1, ones, &d, &err), XBUF_EINVAL));
    NO_FAULT(MUST(xbuf_mview_cast(m, "B", XBUF_MAX_NDIM, ones, &d, &err)));
    cr_assert_eq(xbuf_mview_view(d)->ndim, XBUF_MAX_NDIM);
    xbuf_mview_unref(d);
    ptrdiff_t huge[][3] = {{PMAX, 2, 1}, {PMAX, PMAX, 1}, {2, PMAX / 2 + 1, 1}, {PMIN, 1, 1},
                           {-24, -1, 1}};
    int codes[] = {XBUF_ETYPE, XBUF_ETYPE, XBUF_ETYPE, XBUF_EINVAL, XBUF_EINVAL};
    const char *says[] = {"overflows", "overflows", "overflows", "negative", "negative"};
    for (volatile int k = 0; k < COUNT(huge); k++) {
        NO_FAULT(FAILS(xbuf_mview_cast(m, "B", 3, huge[k], &d, &err), codes[k]));
        SAYS(says[k]);
        cr_assert_null(d);
    }
    ptrdiff_t q_shape[1] = {PMAX / 8};
    NO_FAULT(FAILS(xbuf_mview_cast(m, "q", 1, q_shape, &d, &err), XBUF_ETYPE));
    SAYS("make 9223372036854775800 bytes, the view has 24");
    NO_FAULT(FAILS(xbuf_mview_cast(m, "9223372036854775807s", 1, NULL, &d, &err), XBUF_ETYPE));
    SAYS("not a multiple of the new itemsize 9223372036854775807");
    NO_FAULT(FAILS(xbuf_mview_cast(m, "99999999999999999999s", 1, NULL, &d, &err),
                   XBUF_EOVERFLOW));
    NO_FAULT(FAILS(xbuf_mview_cast(m, "0s", 1, NULL, &d, &err), XBUF_ETYPE));
    SAYS("has no bytes");
    NO_FAULT(FAILS(xbuf_mview_cast(m, "", 1, NULL, &d, &err), XBUF_EFORMAT));
    xbuf_mview_unref(m);
    hostile_free(&h);
    finish();
}

TEST(limits, a_field_that_would_make_65_dimensions_is_refused)
{
    answer a;
    answer_honest(&a);
    dims_64(&a);
    a.format = "T{(2)h:a:}";
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m, *d;
    NO_FAULT(MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err)));
    NO_FAULT(FAILS(xbuf_mview_field(m, "a", &d, &err), XBUF_EUNSUPPORTED));
    SAYS("deeper than 64");
    cr_assert_null(d);
    xbuf_mview_unref(m);
    hostile_free(&h);
    finish();
}

TEST(limits, slices_and_indices_with_bounds_near_ptrdiff_max)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m, *d;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    static const xbuf_slice slices[] = {
        {PMAX, PMAX, 1}, {PMIN + 1, PMIN + 1, 1}, {PMIN + 1, PMAX, PMAX}, {PMAX, PMIN + 1, PMIN + 1},
        {XBUF_SLICE_NONE, XBUF_SLICE_NONE, PMIN + 1}, {XBUF_SLICE_NONE, XBUF_SLICE_NONE, PMAX},
        {-PMAX, PMAX, 2}, {PMAX - 1, -PMAX, -1}};
    /* the extents selected from 2 rows and from 3 columns */
    static const ptrdiff_t lengths[][2] = {{0, 0}, {0, 0}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 2},
                                           {2, 3}};
    for (int k = 0; k < COUNT(slices); k++) {
        xbuf_slice two[2] = {slices[k], slices[k]};
        NO_FAULT(MUST(xbuf_mview_slice(m, two, 2, &d, &err)));
        const xbuf_view *v = xbuf_mview_view(d);
        cr_assert(v->shape[0] == lengths[k][0] && v->shape[1] == lengths[k][1],
                  "slice %d: shape {%td, %td}", k, v->shape[0], v->shape[1]);
        int32_t out[6];
        NO_FAULT(MUST(xbuf_copy_to_contiguous(out, v->len, v, 'C', &err)));
        xbuf_mview_unref(d);
    }
    xbuf_slice zero_step = {0, 1, 0};
    NO_FAULT(FAILS(xbuf_mview_slice(m, &zero_step, 1, &d, &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_mview_slice(m, slices, 3, &d, &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_mview_slice(m, slices, -1, &d, &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_mview_slice(m, NULL, 1, &d, &err), XBUF_EINVAL));
    ptrdiff_t idx[2] = {PMAX, 0};
    void *p;
    NO_FAULT(FAILS(xbuf_mview_pointer(m, idx, &p, &err), XBUF_ERANGE));
    idx[0] = PMIN;
    NO_FAULT(FAILS(xbuf_mview_pointer(m, idx, &p, &err), XBUF_ERANGE));
    NO_FAULT(FAILS(xbuf_mview_index(m, 2, 0, &d, &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_mview_index(m, INT_MIN, 0, &d, &err), XBUF_EINVAL));
    xbuf_mview_unref(m);
    hostile_free(&h);
    finish();
}

/* ==== a format that changes between requests ================================ */

TEST(format, changing_between_requests_each_view_keeps_its_own)
{
    static const char *const formats[] = {"i", "f", "<I", "i{", "9223372036854775807s"};
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    h.formats = formats;
    h.nformats = COUNT(formats);
    xbuf_error err;
    xbuf_mview *m[COUNT(formats)];
    for (int i = 0; i < COUNT(formats); i++)
        NO_FAULT(MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m[i], &err)));
    for (int i = 0; i < COUNT(formats); i++)
        cr_assert_str_eq(xbuf_mview_view(m[i])->format, formats[i]);
    bool equal;
    NO_FAULT(MUST(xbuf_equal(xbuf_mview_view(m[0]), xbuf_mview_view(m[2]), &equal, &err)));
    cr_assert(equal, "'i' and '<I' of the same small positive numbers are equal");
    NO_FAULT(MUST(xbuf_equal(xbuf_mview_view(m[0]), xbuf_mview_view(m[1]), &equal, &err)));
    cr_assert_not(equal, "'i' and 'f' of the same bytes hold different values");
    NO_FAULT(FAILS(xbuf_equal(xbuf_mview_view(m[0]), xbuf_mview_view(m[3]), &equal, &err),
                   XBUF_EFORMAT));
    SAYS("position 1");
    NO_FAULT(FAILS(xbuf_equal(xbuf_mview_view(m[4]), xbuf_mview_view(m[0]), &equal, &err),
                   XBUF_EINVAL));
    SAYS("first view's format");
    /* the views copy between each other by bytes, whatever their formats */
    const xbuf_view *v0 = xbuf_mview_view(m[0]);
    NO_FAULT(MUST(xbuf_copy(v0, xbuf_mview_view(m[3]), &err)));
    for (int i = 0; i < COUNT(formats); i++)
        xbuf_mview_unref(m[i]);
    cr_assert_eq(h.gets, COUNT(formats));
    cr_assert_eq(h.releases, COUNT(formats));
    hostile_free(&h);
    finish();
}

/* ==== the exporter rewrites its metadata after the get ====================== */

TEST(metadata, scribbled_and_unmapped_after_the_get_does_not_change_the_view)
{
    answer a;
    answer_honest(&a);
    a.format = "T{h:a:h:b:}";
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m;
    NO_FAULT(MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err)));
    grant *g = h.last;
    cr_assert_not_null(g);
    /* scribble over everything the answer pointed at ... */
    memset(g->shape.data, 0xFF, g->shape.size);
    memset(g->strides.data, 0x7F, g->strides.size);
    memset(g->format.data, 'x', g->format.size - 1);
    /* ... then take it away altogether */
    guard_seal(&g->shape);
    guard_seal(&g->strides);
    guard_seal(&g->format);
    const xbuf_view *v = xbuf_mview_view(m);
    cr_assert_eq(v->ndim, 2);
    cr_assert_eq(v->shape[0], 2);
    cr_assert_eq(v->shape[1], 3);
    cr_assert_eq(v->strides[0], 12);
    cr_assert_eq(v->strides[1], 4);
    cr_assert_str_eq(v->format, "T{h:a:h:b:}");
    cr_assert_neq((const void *)v->shape, (const void *)g->shape.data);
    cr_assert_neq((const void *)v->format, (const void *)g->format.data);
    /* every derivation works from the view object's copies */
    xbuf_mview *f, *t, *s, *c, *r, *i;
    xbuf_slice rows = {1, XBUF_SLICE_NONE, 1};
    NO_FAULT(MUST(xbuf_mview_field(m, "b", &f, &err)));
    NO_FAULT(MUST(xbuf_mview_transpose(m, &t, &err)));
    NO_FAULT(MUST(xbuf_mview_slice(m, &rows, 1, &s, &err)));
    NO_FAULT(MUST(xbuf_mview_cast(m, "B", 1, NULL, &c, &err)));
    NO_FAULT(MUST(xbuf_mview_copy(m, true, &r, &err)));
    NO_FAULT(MUST(xbuf_mview_index(m, 0, 1, &i, &err)));
    cr_assert_eq(xbuf_mview_view(f)->shape[1], 3);
    cr_assert_str_eq(xbuf_mview_view(f)->format, "@h");
    int16_t b[6];
    NO_FAULT(MUST(xbuf_copy_to_contiguous(b, 12, xbuf_mview_view(f), 'C', &err)));
    int16_t want;
    memcpy(&want, h.mem.data + 12 + 8 + 2, 2); /* row 1, column 2, field b */
    cr_assert_eq(b[5], want);
    /* re-exports serve the copies too */
    xbuf_view again;
    NO_FAULT(MUST(xbuf_get(xbuf_mview_exporter(m), &again, XBUF_FULL_RO, &err)));
    cr_assert_eq(again.shape[1], 3);
    cr_assert_str_eq(again.format, "T{h:a:h:b:}");
    xbuf_release(&again);
    xbuf_mview *all[] = {f, t, s, c, r, i, m};
    NO_FAULT(for (int k = 0; k < COUNT(all); k++) xbuf_mview_unref(all[k]));
    cr_assert_eq(h.releases, 1, "one export for the whole family, released once");
    hostile_free(&h);
    finish();
}

/* ==== the exporter frees its memory while a view is held ==================== */

/* Without export counting xbuf cannot know; data access through the view
 * would touch freed memory, and that is the exporter's contract (docs/
 * robustness.md).  What xbuf guarantees: nothing but an access to the items
 * reads them -- deriving, computing pointers, re-exporting, releasing and
 * freeing the view objects all work after the memory is gone. */
TEST(freed, metadata_and_life_cycle_never_read_the_items)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m;
    NO_FAULT(MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err)));
    guard_seal(&h.mem); /* the exporter "frees" the items behind xbuf's back */
    xbuf_mview *s, *t, *c, *i, *r;
    xbuf_slice back = {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1};
    NO_FAULT(MUST(xbuf_mview_slice(m, &back, 1, &s, &err)));
    NO_FAULT(MUST(xbuf_mview_transpose(s, &t, &err)));
    NO_FAULT(MUST(xbuf_mview_cast(m, "h", 1, NULL, &c, &err)));
    NO_FAULT(MUST(xbuf_mview_index(t, 1, 0, &i, &err)));
    NO_FAULT(MUST(xbuf_mview_copy(m, true, &r, &err)));
    ptrdiff_t idx[2] = {1, 2};
    void *p;
    NO_FAULT(MUST(xbuf_mview_pointer(m, idx, &p, &err)));
    xbuf_view ex;
    NO_FAULT(MUST(xbuf_get(xbuf_mview_exporter(t), &ex, XBUF_FULL_RO, &err)));
    xbuf_iter it;
    NO_FAULT(MUST(xbuf_iter_init(&it, m, &err)));
    NO_FAULT(xbuf_release(&ex));
    NO_FAULT(MUST(xbuf_mview_release(m, &err)));
    xbuf_mview *all[] = {s, t, c, i, r, m};
    NO_FAULT(for (int k = 0; k < COUNT(all); k++) xbuf_mview_unref(all[k]));
    cr_assert_eq(h.releases, 1);
    hostile_free(&h);
    finish();
}

/* ==== resizing while exported, with export counting ========================= */

TEST(resize, refused_while_a_view_or_a_view_object_is_held)
{
    samples *buf;
    xbuf_error err;
    MUST(samples_create(&buf, &err));
    int16_t values[100] = {1, 2, 3, 4};
    MUST(samples_append(buf, values, 4, &err));
    int16_t *data = buf->data;

    xbuf_view v;
    MUST(xbuf_get(&buf->exporter, &v, XBUF_FULL_RO, &err));
    FAILS(samples_append(buf, values, 100, &err), XBUF_EBUSY);
    SAYS("cannot resize: 1 view is held");
    FAILS(samples_destroy(buf, &err), XBUF_EBUSY);
    SAYS("1 view is held");
    cr_assert_eq(buf->data, data, "a refused resize must not move the memory");
    cr_assert_eq(buf->length, 4);

    xbuf_mview *m, *s;
    MUST(xbuf_mview_from_exporter(&buf->exporter, XBUF_FULL_RO, &m, &err));
    xbuf_slice odd = {1, XBUF_SLICE_NONE, 2};
    MUST(xbuf_mview_slice(m, &odd, 1, &s, &err));
    FAILS(samples_append(buf, values, 100, &err), XBUF_EBUSY);
    SAYS("cannot resize: 2 views are held");
    xbuf_release(&v);
    xbuf_release(&v); /* twice: harmless, the count is not decremented again */
    MUST(xbuf_mview_release(m, &err));
    xbuf_mview_unref(m);
    /* the slice still holds the family's export */
    FAILS(samples_append(buf, values, 100, &err), XBUF_EBUSY);
    SAYS("cannot resize: 1 view is held");
    cr_assert_eq(xbuf_exports_count(&buf->exports), 1);
    int16_t got[2];
    MUST(xbuf_copy_to_contiguous(got, 4, xbuf_mview_view(s), 'C', &err));
    cr_assert(got[0] == 2 && got[1] == 4);
    xbuf_mview_unref(s);
    cr_assert_eq(xbuf_exports_count(&buf->exports), 0);
    MUST(samples_append(buf, values, 100, &err));
    cr_assert_eq(buf->length, 104);
    MUST(samples_destroy(buf, &err));
    finish();
}

/* The hostile exporter with counting: a resize refused while views are held,
 * and export requests refused while it resizes. */
TEST(resize, counting_exporter_refuses_exports_while_resizing)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    h.counting = true;
    xbuf_error err;
    xbuf_mview *m;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    FAILS(xbuf_exports_begin_resize(&h.exports, &err), XBUF_EBUSY);
    SAYS("1 view is held");
    xbuf_mview_unref(m);
    MUST(xbuf_exports_begin_resize(&h.exports, &err));
    xbuf_view v;
    FAILS(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err), XBUF_EBUSY);
    cr_assert(is_zeroed(&v));
    FAILS(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err), XBUF_EBUSY);
    cr_assert_null(m);
    xbuf_exports_end_resize(&h.exports);
    MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err));
    xbuf_release(&v);
    cr_assert_eq(xbuf_exports_count(&h.exports), 0);
    hostile_free(&h);
    finish();
}

/* ==== release hooks that misbehave ========================================== */

TEST(release_hook, that_releases_the_view_again_runs_once)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    h.release_again = true;
    xbuf_error err;
    xbuf_view v;
    MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err));
    NO_FAULT(xbuf_release(&v));
    cr_assert_eq(h.releases, 1);
    cr_assert(is_zeroed(&v));
    xbuf_mview *m;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    NO_FAULT(xbuf_mview_unref(m));
    cr_assert_eq(h.releases, 2);
    /* and when xbuf_get gives a broken answer back */
    h.a.len = 20;
    NO_FAULT(FAILS(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err), XBUF_EEXPORTER));
    cr_assert_eq(h.releases, 3);
    hostile_free(&h);
    finish();
}

TEST(release_hook, that_scribbles_over_the_view_leaves_it_zeroed)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    h.release_scribble = true;
    xbuf_error err;
    xbuf_view v;
    MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err));
    NO_FAULT(xbuf_release(&v));
    cr_assert(is_zeroed(&v), "xbuf_release must clear what the hook scribbled");
    NO_FAULT(xbuf_release(&v));
    cr_assert_eq(h.releases, 1);
    xbuf_mview *m;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    NO_FAULT(xbuf_mview_unref(m));
    cr_assert_eq(h.releases, 2);
    hostile_free(&h);
    finish();
}

TEST(release_hook, that_takes_another_export_of_itself)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    h.release_reenter = true;
    xbuf_error err;
    xbuf_mview *m;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    NO_FAULT(xbuf_mview_unref(m));
    cr_assert_eq(h.gets, 2);
    cr_assert_eq(h.releases, 2);
    hostile_free(&h);
    finish();
}

/* ==== views released twice, used after release ============================== */

TEST(after_release, a_view_released_twice_or_moved_runs_the_hook_once)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_view v, w;
    MUST(xbuf_get(&h.exporter, &v, XBUF_FULL_RO, &err));
    xbuf_view_move(&v, &w);
    cr_assert(is_zeroed(&v));
    xbuf_release(&v);
    cr_assert_eq(h.releases, 0, "releasing a moved-from view must do nothing");
    xbuf_release(&w);
    xbuf_release(&w);
    xbuf_release(NULL);
    cr_assert_eq(h.releases, 1);
    /* a released view used as an operand is a zeroed, 0-item view: refused */
    bool equal;
    int64_t item = 0;
    NO_FAULT(FAILS(xbuf_copy_to_contiguous(&item, 8, &w, 'C', &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_equal(&w, &w, &equal, &err), XBUF_EINVAL));
    NO_FAULT(FAILS(xbuf_view_check(&w, XBUF_SIMPLE, &err), XBUF_EEXPORTER));
    SAYS("itemsize 0");
    xbuf_mview *m;
    NO_FAULT(FAILS(xbuf_mview_from_view(&w, &m, &err), XBUF_EINVAL));
    hostile_free(&h);
    finish();
}

TEST(after_release, every_operation_on_a_released_view_object_is_ereleased)
{
    answer a;
    answer_honest(&a);
    a.format = "T{i:a:}";
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m, *kept, *d;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    MUST(xbuf_mview_copy(m, false, &kept, &err));
    MUST(xbuf_mview_release(m, &err));
    MUST(xbuf_mview_release(m, &err)); /* twice: harmless */
    cr_assert_eq(h.releases, 0, "the copy still holds the family's export");
    cr_assert(xbuf_mview_is_released(m));
    cr_assert_null(xbuf_mview_view(m));
    cr_assert_eq(xbuf_mview_exports(m), 0);
    xbuf_slice all = {XBUF_SLICE_NONE, XBUF_SLICE_NONE, 1};
    ptrdiff_t idx[2] = {0, 0};
    int axes[2] = {1, 0};
    void *p;
    NO_FAULT(FAILS(xbuf_mview_slice(m, &all, 1, &d, &err), XBUF_ERELEASED));
    cr_assert_null(d);
    NO_FAULT(FAILS(xbuf_mview_index(m, 0, 0, &d, &err), XBUF_ERELEASED));
    NO_FAULT(FAILS(xbuf_mview_pointer(m, idx, &p, &err), XBUF_ERELEASED));
    NO_FAULT(FAILS(xbuf_mview_permute(m, axes, &d, &err), XBUF_ERELEASED));
    NO_FAULT(FAILS(xbuf_mview_transpose(m, &d, &err), XBUF_ERELEASED));
    NO_FAULT(FAILS(xbuf_mview_copy(m, true, &d, &err), XBUF_ERELEASED));
    NO_FAULT(FAILS(xbuf_mview_field(m, "a", &d, &err), XBUF_ERELEASED));
    NO_FAULT(FAILS(xbuf_mview_cast(m, "B", 1, NULL, &d, &err), XBUF_ERELEASED));
    xbuf_iter it;
    NO_FAULT(FAILS(xbuf_iter_init(&it, m, &err), XBUF_ERELEASED));
    xbuf_view v;
    NO_FAULT(FAILS(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_SIMPLE, &err), XBUF_ERELEASED));
    cr_assert(is_zeroed(&v));
    NO_FAULT(FAILS(xbuf_mview_from_exporter(xbuf_mview_exporter(m), XBUF_SIMPLE, &d, &err),
                   XBUF_ERELEASED));
    cr_assert_null(d);
    /* the copy is unaffected */
    NO_FAULT(MUST(xbuf_mview_field(kept, "a", &d, &err)));
    xbuf_mview_unref(d);
    xbuf_mview_retain(m);
    xbuf_mview_unref(m);
    xbuf_mview_unref(m);
    cr_assert_eq(h.releases, 0);
    MUST(xbuf_mview_release(kept, &err));
    cr_assert_eq(h.releases, 1);
    xbuf_mview_unref(kept);
    cr_assert_eq(h.releases, 1);
    hostile_free(&h);
    finish();
}

TEST(after_release, a_view_object_with_exports_refuses_release)
{
    answer a;
    answer_honest(&a);
    hostile h;
    hostile_init(&h, &a);
    xbuf_error err;
    xbuf_mview *m;
    MUST(xbuf_mview_from_exporter(&h.exporter, XBUF_FULL_RO, &m, &err));
    xbuf_view v;
    MUST(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL_RO, &err));
    FAILS(xbuf_mview_release(m, &err), XBUF_EBUSY);
    SAYS("1 view exported from this view is held");
    cr_assert_not(xbuf_mview_is_released(m));
    xbuf_mview_unref(m); /* the exported view keeps it alive */
    cr_assert_eq(h.releases, 0);
    int32_t first;
    NO_FAULT(MUST(xbuf_copy_to_contiguous(&first, 4, &(xbuf_view){.buf = v.buf, .len = 4,
                                          .itemsize = 4, .ndim = 0, .format = "i"},
                                          'C', &err)));
    xbuf_release(&v);
    xbuf_release(&v);
    cr_assert_eq(h.releases, 1);
    hostile_free(&h);
    finish();
}

/* ==== allocation failure while wrapping a hostile export ==================== */

typedef struct sweep_ctx {
    hostile h;
    xbuf_mview *m, *d;
} sweep_ctx;

static int sweep_run(void *context)
{
    sweep_ctx *c = context;
    xbuf_error err;
    int rc = xbuf_mview_from_exporter(&c->h.exporter, XBUF_FULL_RO, &c->m, &err);
    if (rc < 0)
        return rc;
    xbuf_slice back = {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1};
    rc = xbuf_mview_slice(c->m, &back, 1, &c->d, &err);
    if (rc < 0) { /* leave nothing behind: the sweep compares live blocks */
        xbuf_mview_unref(c->m);
        c->m = NULL;
    }
    return rc;
}

static const char *sweep_after_failure(void *context)
{
    sweep_ctx *c = context;
    if (c->m != NULL || c->d != NULL)
        return "a failed run left a view object behind";
    if (c->h.releases != c->h.answered)
        return "the export was not given back after an allocation failure";
    return NULL;
}

static void sweep_teardown(void *context)
{
    sweep_ctx *c = context;
    xbuf_mview_unref(c->d);
    xbuf_mview_unref(c->m);
    c->m = c->d = NULL;
}

TEST(alloc_failure, wrapping_a_hostile_export_loses_nothing)
{
    sweep_ctx c;
    answer a;
    answer_honest(&a);
    a.format = "9223372036854775807s"; /* hostile, but passes the check */
    a.itemsize = 1;
    a.len = 6;
    a.shape[1] = 3;
    a.strides[0] = 3;
    a.strides[1] = 1;
    hostile_init(&c.h, &a);
    c.m = c.d = NULL;
    failing_alloc_op op = {NULL, sweep_run, sweep_after_failure, sweep_teardown, &c, 1000};
    failing_alloc_report report;
    cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "%s", report.message);
    cr_assert_gt(report.points, 0);
    hostile_free(&c.h);
    finish();
}
