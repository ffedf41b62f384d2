/*
 * thread_views.c -- view objects (mviews) of one exporter, used by many
 * threads at once.
 *
 * A plain pthreads program, like thread_exports.c (Criterion forks and
 * serialises): it exits non-zero and says why when a check fails.  Built
 * with -fsanitize=thread (make tsan) it is the data-race check of the
 * mview layer: the library promises that reference counts and export
 * counts are atomic, that an mview never changes after creation, and that
 * an export taken on one thread happens-before the exporter's next resize.
 *
 *   phase 1 (own families): worker threads each take mviews of one sample
 *           buffer and derive from them (slice, index, cast, field,
 *           transpose), check every item against a model, copy
 *           (xbuf_copy_to_contiguous, xbuf_copy), compare (xbuf_equal),
 *           re-export (xbuf_get on xbuf_mview_exporter), iterate, then
 *           release and unref in a random order -- while an appender thread
 *           keeps growing the buffer, which must fail with XBUF_EBUSY while
 *           any view is held and may succeed in the gaps.
 *   phase 2 (one shared family): one mview of the sample buffer, shared by
 *           every worker; they derive from it and export from it at once,
 *           and hand what they made to each other through a mailbox, so
 *           that mviews are unreffed and exported views released on other
 *           threads than the one that made them.  The last unref of the
 *           family happens on a worker.  The appender must be refused
 *           throughout.
 *   phase 3 (indirect): the same with a PIL-style image (suboffsets):
 *           indexing the indirect dimension makes the family adopt pointer
 *           tables from several threads at once.
 *
 * At the end of each phase the exporter's export count is zero and the
 * exporter can be resized or destroyed.
 *
 * Usage: thread_views [ITERATIONS]   (default 3000 per worker and phase, or
 * $THREAD_VIEWS_ITERATIONS: the sanitizer and valgrind targets ask for
 * fewer).  $THREAD_VIEWS_SEED picks the random seed (printed).
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xbuf.h>

#include "image.h"
#include "samples.h"

#define WORKERS 8
#define CHUNK 4                 /* samples per append: views always hold whole chunks */
#define INITIAL 64              /* samples before the threads start */
#define MAX_SAMPLES (1 << 14)
#define MAX_HELD 16             /* mviews one worker holds at once */
#define MAX_EXPORTS 4
#define MAILBOX 64
#define GET_ATTEMPTS 100000000L /* a worker gives up (and fails) after this many refusals */

static long iterations = 3000;
static uint64_t seed;

/* Every thread of a phase waits here first, so that they really overlap. */
static pthread_barrier_t start_line;

/* ---- failure reporting shared by all threads ------------------------- */

static atomic_int failures;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
    if (atomic_fetch_add(&failures, 1) >= 10)
        return;
    va_list args;
    va_start(args, fmt);
    pthread_mutex_lock(&report_lock);
    fputs("thread_views: FAIL: ", stdout);
    vprintf(fmt, args);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&report_lock);
    va_end(args);
}

/* Run `call`; on failure report it with the library's message. */
#define MUST(call, what)                                                                    \
    do {                                                                                    \
        xbuf_error must_err_;                                                               \
        xbuf_error_clear(&must_err_);                                                       \
        int must_rc_ = (call);                                                              \
        if (must_rc_ != XBUF_OK)                                                            \
            fail("line %d: %s returned %d (%s: %s)", __LINE__, what, must_rc_,              \
                 xbuf_strerror(must_rc_), must_err_.message);                               \
    } while (0)

/* ---- per-thread random numbers (xorshift64*) -------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

/* Uniform in 0..n-1 (n > 0). */
static ptrdiff_t rng_below(rng *r, ptrdiff_t n)
{
    return (ptrdiff_t)(rng_next(r) % (uint64_t)n);
}

static rng rng_for(int stream)
{
    rng r = {seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(stream + 1))};
    if (r.s == 0)
        r.s = 1;
    for (int i = 0; i < 4; i++)
        rng_next(&r);
    return r;
}

static void shuffle(void **items, int n, rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, i + 1);
        void *t = items[i];
        items[i] = items[j];
        items[j] = t;
    }
}

/* ---- threads ------------------------------------------------------------ */

static void begin_phase(int threads)
{
    if (pthread_barrier_init(&start_line, NULL, (unsigned)threads) != 0) {
        fputs("thread_views: pthread_barrier_init failed\n", stderr);
        exit(2);
    }
}

static int start_threads(pthread_t *threads, int n, void *(*body)(void *), void **args)
{
    for (int i = 0; i < n; i++) {
        int rc = pthread_create(&threads[i], NULL, body, args[i]);
        if (rc != 0) {
            /* the threads started wait at the barrier for ever: give up */
            fprintf(stderr, "thread_views: pthread_create failed: %s\n", strerror(rc));
            exit(2);
        }
    }
    return 0;
}

static void join_threads(pthread_t *threads, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

static void end_phase(void)
{
    pthread_barrier_destroy(&start_line);
}

/* ---- the model: what every item of a derived view must be ---------------- */

/* The sample at index i is a function of i, so any prefix can be checked. */
static int16_t sample_at(ptrdiff_t i)
{
    return (int16_t)((i * 7919) % 65536 - 32768);
}

static unsigned char pixel_at(ptrdiff_t band, ptrdiff_t y, ptrdiff_t x)
{
    return (unsigned char)(band * 97 + y * 13 + x * 5 + 1);
}

/*
 * A derived view as a map onto a source array: output dimension k runs
 * along source dimension axis[k]; source dimension d is at start[d] +
 * step[d] * (the output index of the dimension reading it), or fixed at
 * start[d] when no output dimension reads it (it was indexed away).
 *   SAMPLES: the source is the sample buffer seen as src_ndim dimensions
 *            whose linear sample index is sum(index[d] * lin[d]);
 *   PIXELS:  the source is the image, (band, y, x).
 */
enum { SAMPLES, PIXELS };

typedef struct model {
    int kind;
    int src_ndim;
    ptrdiff_t lin[3];
    ptrdiff_t start[3], step[3];
    int ndim;
    int axis[3];
    ptrdiff_t shape[3];
} model;

static model model_samples(int src_ndim, const ptrdiff_t *shape)
{
    model m;
    memset(&m, 0, sizeof m);
    m.kind = SAMPLES;
    m.src_ndim = src_ndim;
    m.ndim = src_ndim;
    ptrdiff_t lin = 1;
    for (int d = src_ndim - 1; d >= 0; d--) {
        m.lin[d] = lin;
        lin *= shape[d];
    }
    for (int d = 0; d < src_ndim; d++) {
        m.step[d] = 1;
        m.axis[d] = d;
        m.shape[d] = shape[d];
    }
    return m;
}

static model model_image(const image *img)
{
    model m;
    memset(&m, 0, sizeof m);
    m.kind = PIXELS;
    m.src_ndim = m.ndim = 3;
    ptrdiff_t shape[3] = {img->bands, img->height, img->width};
    for (int d = 0; d < 3; d++) {
        m.step[d] = 1;
        m.axis[d] = d;
        m.shape[d] = shape[d];
    }
    return m;
}

static model model_slice(model m, int k, ptrdiff_t start, ptrdiff_t step, ptrdiff_t length)
{
    int d = m.axis[k];
    m.start[d] += m.step[d] * start;
    m.step[d] *= step;
    m.shape[k] = length;
    return m;
}

static model model_index(model m, int k, ptrdiff_t index)
{
    int d = m.axis[k];
    m.start[d] += m.step[d] * index;
    m.step[d] = 0;
    for (int j = k; j < m.ndim - 1; j++) {
        m.axis[j] = m.axis[j + 1];
        m.shape[j] = m.shape[j + 1];
    }
    m.ndim--;
    return m;
}

static model model_transpose(model m)
{
    for (int i = 0, j = m.ndim - 1; i < j; i++, j--) {
        int a = m.axis[i];
        m.axis[i] = m.axis[j];
        m.axis[j] = a;
        ptrdiff_t s = m.shape[i];
        m.shape[i] = m.shape[j];
        m.shape[j] = s;
    }
    return m;
}

static ptrdiff_t model_items(const model *m)
{
    ptrdiff_t n = 1;
    for (int k = 0; k < m->ndim; k++)
        n *= m->shape[k];
    return n;
}

/* The value at output index `at` (m->ndim of them). */
static int model_value(const model *m, const ptrdiff_t *at)
{
    ptrdiff_t src[3];
    for (int d = 0; d < m->src_ndim; d++)
        src[d] = m->start[d];
    for (int k = 0; k < m->ndim; k++)
        src[m->axis[k]] += m->step[m->axis[k]] * at[k];
    if (m->kind == PIXELS)
        return pixel_at(src[0], src[1], src[2]);
    ptrdiff_t i = 0;
    for (int d = 0; d < m->src_ndim; d++)
        i += src[d] * m->lin[d];
    return sample_at(i);
}

static void next_index(const model *m, ptrdiff_t *at)
{
    for (int k = m->ndim - 1; k >= 0; k--) {
        if (++at[k] < m->shape[k])
            return;
        at[k] = 0;
    }
}

static int item_value(const model *m, const void *p)
{
    if (m->kind == PIXELS)
        return *(const unsigned char *)p;
    int16_t v;
    memcpy(&v, p, sizeof v); /* a field view's items need not be aligned */
    return v;
}

static ptrdiff_t model_itemsize(const model *m)
{
    return m->kind == PIXELS ? 1 : 2;
}

/* ---- checking one mview against its model --------------------------------- */

/* Layout, every item through the iterator and through xbuf_mview_pointer. */
static bool check_items(const xbuf_mview *mv, const model *m, const char *what)
{
    const xbuf_view *v = xbuf_mview_view(mv);
    if (v == NULL) {
        fail("%s: xbuf_mview_view is NULL", what);
        return false;
    }
    if (v->ndim != m->ndim || v->itemsize != model_itemsize(m)) {
        fail("%s: ndim %d itemsize %td, expected %d and %td", what, v->ndim, v->itemsize,
             m->ndim, model_itemsize(m));
        return false;
    }
    for (int k = 0; k < m->ndim; k++)
        if (v->shape[k] != m->shape[k]) {
            fail("%s: shape[%d] is %td, expected %td", what, k, v->shape[k], m->shape[k]);
            return false;
        }
    if (v->len != model_items(m) * v->itemsize) {
        fail("%s: len %td for %td items", what, v->len, model_items(m));
        return false;
    }
    xbuf_iter it;
    MUST(xbuf_iter_init(&it, mv, &must_err_), "xbuf_iter_init");
    ptrdiff_t at[3] = {0, 0, 0}, k = 0, n = model_items(m);
    void *item;
    while (xbuf_iter_next(&it, &item)) {
        if (k == n) {
            fail("%s: the iterator gives more than %td items", what, n);
            return false;
        }
        if (item_value(m, item) != model_value(m, at)) {
            fail("%s: item %td is %d, expected %d", what, k, item_value(m, item),
                 model_value(m, at));
            return false;
        }
        /* every 7th item also through xbuf_mview_pointer */
        if (k % 7 == 0) {
            void *p = NULL;
            MUST(xbuf_mview_pointer(mv, at, &p, &must_err_), "xbuf_mview_pointer");
            if (p != item) {
                fail("%s: item %td at %p by pointer, %p by iterator", what, k, p, item);
                return false;
            }
        }
        next_index(m, at);
        k++;
    }
    if (k != n) {
        fail("%s: the iterator gave %td items, expected %td", what, k, n);
        return false;
    }
    return true;
}

/* A C-contiguous, writable view over `mem` with v's shape and format. */
typedef struct packed {
    xbuf_view view;
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
} packed;

static void packed_like(packed *p, const xbuf_view *v, void *mem)
{
    memset(p, 0, sizeof *p);
    p->view.buf = mem;
    p->view.len = v->len;
    p->view.itemsize = v->itemsize;
    p->view.ndim = v->ndim;
    p->view.format = v->format;
    if (v->ndim > 0) {
        memcpy(p->shape, v->shape, (size_t)v->ndim * sizeof *p->shape);
        xbuf_strides_fill(v->ndim, p->shape, v->itemsize, 'C', p->strides, NULL);
        p->view.shape = p->shape;
        p->view.strides = p->strides;
    }
}

/* Copy out both ways, compare with the model and with xbuf_equal. */
static void check_copies(const xbuf_mview *mv, const model *m, const char *what)
{
    const xbuf_view *v = xbuf_mview_view(mv);
    if (v == NULL)
        return;
    size_t bytes = (size_t)v->len + 1;
    char *flat = malloc(bytes), *other = malloc(bytes);
    if (flat == NULL || other == NULL) {
        fail("%s: out of memory", what);
        free(flat);
        free(other);
        return;
    }
    MUST(xbuf_copy_to_contiguous(flat, v->len, v, 'C', &must_err_), "xbuf_copy_to_contiguous");
    ptrdiff_t at[3] = {0, 0, 0}, n = model_items(m), size = model_itemsize(m);
    for (ptrdiff_t k = 0; k < n; k++, next_index(m, at))
        if (item_value(m, flat + k * size) != model_value(m, at)) {
            fail("%s: contiguous copy item %td is %d, expected %d", what, k,
                 item_value(m, flat + k * size), model_value(m, at));
            break;
        }
    packed dst;
    packed_like(&dst, v, other);
    memset(other, 0x5A, bytes);
    MUST(xbuf_copy(&dst.view, v, &must_err_), "xbuf_copy");
    if (memcmp(flat, other, (size_t)v->len) != 0)
        fail("%s: xbuf_copy and xbuf_copy_to_contiguous disagree", what);
    bool equal = false;
    MUST(xbuf_equal(v, &dst.view, &equal, &must_err_), "xbuf_equal");
    if (!equal)
        fail("%s: xbuf_equal says a view differs from its copy", what);
    if (n > 0) {
        other[0] = (char)~other[0];
        MUST(xbuf_equal(&dst.view, v, &equal, &must_err_), "xbuf_equal");
        if (equal)
            fail("%s: xbuf_equal misses a changed item", what);
    }
    free(flat);
    free(other);
}

/* Export views from mv (some held while trying to release mv, which must
 * refuse), check them, release them in a random order. */
static void check_exports(xbuf_mview *mv, rng *r, const char *what)
{
    const xbuf_view *v = xbuf_mview_view(mv);
    xbuf_view got[MAX_EXPORTS];
    void *order[MAX_EXPORTS];
    int n = 1 + (int)rng_below(r, MAX_EXPORTS);
    for (int i = 0; i < n; i++) {
        int flags = i % 2 ? XBUF_FULL_RO : XBUF_RECORDS_RO;
        if (v->suboffsets != NULL)
            flags = XBUF_FULL_RO;
        MUST(xbuf_get(xbuf_mview_exporter(mv), &got[i], flags, &must_err_), "xbuf_get on an mview");
        if (got[i].buf != v->buf || got[i].len != v->len || got[i].ndim != v->ndim)
            fail("%s: an exported view differs from its mview", what);
        order[i] = &got[i];
    }
    if (xbuf_mview_exports(mv) < n)
        fail("%s: %td exports counted, %d held", what, xbuf_mview_exports(mv), n);
    xbuf_error err;
    xbuf_error_clear(&err);
    if (xbuf_mview_release(mv, &err) != XBUF_EBUSY)
        fail("%s: xbuf_mview_release succeeded with %d views exported", what, n);
    shuffle(order, n, r);
    for (int i = 0; i < n; i++)
        xbuf_release(order[i]);
}

/* ---- the sample buffer and its appender ------------------------------------ */

typedef struct appender {
    samples *buf;
    atomic_bool stop;
    /* phase 2: >0 while some worker still holds the shared mview */
    atomic_int holders;
    long appended, busy, refused_while_held;
} appender;

static int try_append(samples *buf, xbuf_error *err)
{
    ptrdiff_t length = buf->length; /* only read while no view can change it */
    int16_t values[CHUNK];
    ptrdiff_t count = length + CHUNK <= MAX_SAMPLES ? CHUNK : 0;
    for (ptrdiff_t i = 0; i < count; i++)
        values[i] = sample_at(length + i);
    return samples_append(buf, values, count, err);
}

static bool busy_message(const char *message)
{
    return strncmp(message, "cannot resize: ", 15) == 0 &&
           (strstr(message, " view is held") != NULL || strstr(message, " views are held") != NULL);
}

static void *appender_body(void *arg)
{
    appender *a = arg;
    pthread_barrier_wait(&start_line);
    while (!atomic_load(&a->stop)) {
        bool held = atomic_load(&a->holders) > 0;
        xbuf_error err;
        xbuf_error_clear(&err);
        int rc = try_append(a->buf, &err);
        if (rc == XBUF_OK) {
            /* Holders count down before their last unref, so once an
             * append got through none may be left. */
            if (atomic_load(&a->holders) > 0)
                fail("samples_append succeeded while the shared mview was held");
            a->appended++;
        } else if (rc == XBUF_EBUSY) {
            if (!busy_message(err.message))
                fail("unexpected EBUSY message \"%s\"", err.message);
            a->busy++;
            a->refused_while_held += held;
        } else {
            fail("samples_append returned %d (%s)", rc, err.message);
        }
        sched_yield();
    }
    return NULL;
}

/* A worker holding a view must see the appender refused. */
static void check_append_refused(samples *buf)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    int16_t value = 0;
    int rc = samples_append(buf, &value, 1, &err);
    if (rc != XBUF_EBUSY || !busy_message(err.message))
        fail("samples_append while a view is held returned %d (%s)", rc, err.message);
}

/* The whole base view: a prefix of what was appended, and the buffer's own
 * fields agree with it (reading them is race-free while the export is
 * held: that is the protocol's promise, which TSan checks). */
static ptrdiff_t check_base(const xbuf_mview *mv, const samples *buf, ptrdiff_t at_least)
{
    const xbuf_view *v = xbuf_mview_view(mv);
    if (v->ndim != 1 || v->itemsize != 2 || strcmp(v->format, "h") != 0) {
        fail("phase 1: malformed base view");
        return at_least;
    }
    ptrdiff_t n = v->shape[0];
    if (n < at_least || n % CHUNK != 0 || n > MAX_SAMPLES)
        fail("phase 1: the base view has %td samples (at least %td before)", n, at_least);
    if (buf->length != n || buf->data != v->buf)
        fail("phase 1: the buffer changed while a view is held (%td vs %td samples)",
             buf->length, n);
    const int16_t *data = v->buf;
    for (ptrdiff_t i = 0; i < n; i += (i < 8 || i >= n - 8) ? 1 : 29)
        if (data[i] != sample_at(i)) {
            fail("phase 1: sample %td of %td is %d, expected %d", i, n, data[i], sample_at(i));
            break;
        }
    return n;
}

/* ---- derivations shared by phases 1 and 2 ---------------------------------- */

/* One random derivation of a sample mview `base` of n samples (1-d "h").
 * On success *out and *m describe it; returns false when nothing was made
 * (reported when that was a failure). */
static bool derive_samples(const xbuf_mview *base, ptrdiff_t n, rng *r, xbuf_mview **out,
                           model *m, const char **what)
{
    ptrdiff_t shape1[1] = {n};
    model whole = model_samples(1, shape1);
    xbuf_mview *tmp = NULL;
    *out = NULL;
    switch (rng_below(r, 6)) {
    case 0: { /* a slice with a random step */
        static const ptrdiff_t steps[] = {1, 2, 3, -1, -2, 7};
        xbuf_slice s = {rng_below(r, n + 1) - n / 2, rng_below(r, n + 1),
                        steps[rng_below(r, 6)]};
        if (rng_below(r, 4) == 0)
            s.start = XBUF_SLICE_NONE;
        ptrdiff_t start, stop, length;
        MUST(xbuf_slice_resolve(&s, n, &start, &stop, &length, &must_err_), "xbuf_slice_resolve");
        *what = "slice";
        MUST(xbuf_mview_slice(base, &s, 1, out, &must_err_), "xbuf_mview_slice");
        *m = model_slice(whole, 0, start, s.step, length);
        break;
    }
    case 1: { /* one item: a 0-d view */
        ptrdiff_t i = rng_below(r, 2 * n) - n;
        *what = "index";
        MUST(xbuf_mview_index(base, 0, i, out, &must_err_), "xbuf_mview_index");
        *m = model_index(whole, 0, i < 0 ? i + n : i);
        break;
    }
    case 2: { /* rows of CHUNK, transposed, then sliced */
        ptrdiff_t shape2[2] = {n / CHUNK, CHUNK};
        MUST(xbuf_mview_cast(base, "h", 2, shape2, &tmp, &must_err_), "xbuf_mview_cast");
        xbuf_mview *t = NULL;
        if (tmp != NULL)
            MUST(xbuf_mview_transpose(tmp, &t, &must_err_), "xbuf_mview_transpose");
        xbuf_slice s[2] = {{1, 3, 1}, {XBUF_SLICE_NONE, XBUF_SLICE_NONE, 2}};
        *what = "cast, transpose, slice";
        if (t != NULL)
            MUST(xbuf_mview_slice(t, s, 2, out, &must_err_), "xbuf_mview_slice (2-d)");
        xbuf_mview_unref(t);
        *m = model_slice(model_slice(model_transpose(model_samples(2, shape2)), 0, 1, 1, 2), 1,
                         0, 2, (shape2[0] + 1) / 2);
        break;
    }
    case 3: { /* pairs as records, and one field of them */
        MUST(xbuf_mview_cast(base, "T{h:a:h:b:}", 1, NULL, &tmp, &must_err_),
             "xbuf_mview_cast (records)");
        int which = (int)rng_below(r, 2);
        *what = which ? "field b" : "field a";
        if (tmp != NULL)
            MUST(xbuf_mview_field(tmp, which ? "b" : "a", out, &must_err_), "xbuf_mview_field");
        ptrdiff_t shape2[2] = {n / 2, 2};
        *m = model_index(model_transpose(model_samples(2, shape2)), 0, which);
        break;
    }
    case 4: { /* bytes and back */
        MUST(xbuf_mview_cast(base, "B", 1, NULL, &tmp, &must_err_), "xbuf_mview_cast (B)");
        *what = "cast to B and back";
        if (tmp != NULL)
            MUST(xbuf_mview_cast(tmp, "h", 1, NULL, out, &must_err_), "xbuf_mview_cast (h)");
        *m = whole;
        break;
    }
    default: { /* a read-only copy of a reversed slice */
        xbuf_slice s = {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1};
        MUST(xbuf_mview_slice(base, &s, 1, &tmp, &must_err_), "xbuf_mview_slice (reverse)");
        *what = "reversed, read-only";
        if (tmp != NULL)
            MUST(xbuf_mview_copy(tmp, true, out, &must_err_), "xbuf_mview_copy");
        *m = model_slice(whole, 0, n - 1, -1, n);
        break;
    }
    }
    /* the intermediate's reference goes; the family lives on in *out */
    xbuf_mview_unref(tmp);
    return *out != NULL;
}

/* Check a derived mview every way: items, copies, exports. */
static void check_derived(xbuf_mview *d, const model *m, rng *r, const char *what)
{
    if (!check_items(d, m, what))
        return;
    check_copies(d, m, what);
    check_exports(d, r, what);
}

/* ---- phase 1: every worker its own families --------------------------------- */

typedef struct phase1_worker {
    int index;
    samples *buf;
    long views, refused;
} phase1_worker;

static void *phase1_body(void *arg)
{
    phase1_worker *w = arg;
    pthread_barrier_wait(&start_line);
    rng r = rng_for(w->index);
    ptrdiff_t seen = INITIAL;
    long refusals = 0;
    for (long it = 0; it < iterations; it++) {
        xbuf_mview *base = NULL;
        xbuf_error err;
        xbuf_error_clear(&err);
        int rc = xbuf_mview_from_exporter(&w->buf->exporter, XBUF_FULL_RO, &base, &err);
        if (rc == XBUF_EBUSY) { /* the appender is resizing right now */
            w->refused++;
            if (++refusals == GET_ATTEMPTS) {
                fail("phase 1: %ld refusals in a row", refusals);
                return NULL;
            }
            it--;
            sched_yield();
            continue;
        }
        refusals = 0;
        if (rc != XBUF_OK) {
            fail("phase 1: xbuf_mview_from_exporter returned %d (%s)", rc, err.message);
            return NULL;
        }
        w->views++;
        seen = check_base(base, w->buf, seen);
        check_append_refused(w->buf);

        /* several derivations, all held at once, some from each other */
        void *held[MAX_HELD];
        int nheld = 0;
        held[nheld++] = base;
        int derivations = 1 + (int)rng_below(&r, 4);
        for (int i = 0; i < derivations && nheld < MAX_HELD; i++) {
            xbuf_mview *d;
            model m;
            const char *what = "?";
            if (derive_samples(base, seen, &r, &d, &m, &what)) {
                check_derived(d, &m, &r, what);
                held[nheld++] = d;
            }
        }
        /* give them back in a random order; some released before the unref */
        shuffle(held, nheld, &r);
        for (int i = 0; i < nheld; i++) {
            if (rng_below(&r, 3) == 0)
                MUST(xbuf_mview_release(held[i], &must_err_), "xbuf_mview_release");
            if (i < nheld - 1 && xbuf_exports_count(&w->buf->exports) < 1)
                fail("phase 1: the export was given back while mviews still hold it");
            xbuf_mview_unref(held[i]);
        }
        if (rng_below(&r, 2) == 0)
            sched_yield(); /* gaps for the appender */
    }
    return NULL;
}

static void fill_samples(samples *buf, ptrdiff_t n)
{
    int16_t values[INITIAL];
    for (ptrdiff_t i = 0; i < n; i++)
        values[i] = sample_at(buf->length + i);
    MUST(samples_append(buf, values, n, &must_err_), "samples_append");
}

static bool check_samples_at_rest(samples *buf, const char *phase)
{
    int before = atomic_load(&failures);
    ptrdiff_t count = xbuf_exports_count(&buf->exports);
    if (count != 0)
        fail("%s: %td exports still counted at the end", phase, count);
    if (buf->length % CHUNK != 0 || buf->length > MAX_SAMPLES)
        fail("%s: impossible final length %td", phase, buf->length);
    for (ptrdiff_t i = 0; i < buf->length; i++)
        if (buf->data[i] != sample_at(i)) {
            fail("%s: final sample %td is %d, expected %d", phase, i, buf->data[i],
                 sample_at(i));
            break;
        }
    /* with every view gone, growing works */
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = try_append(buf, &err);
    if (rc != XBUF_OK)
        fail("%s: an append with no view held returned %d (%s)", phase, rc, err.message);
    return atomic_load(&failures) == before;
}

static bool phase_own_families(samples *buf)
{
    int before = atomic_load(&failures);
    appender a = {.buf = buf};
    phase1_worker workers[WORKERS];
    void *args[WORKERS + 1];
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (phase1_worker){.index = i, .buf = buf};
        args[i] = &workers[i];
    }
    begin_phase(WORKERS + 1);
    pthread_t appender_thread;
    void *aarg = &a;
    if (start_threads(&appender_thread, 1, appender_body, &aarg) < 0)
        return false;
    pthread_t threads[WORKERS];
    if (start_threads(threads, WORKERS, phase1_body, args) == 0)
        join_threads(threads, WORKERS);
    atomic_store(&a.stop, true);
    join_threads(&appender_thread, 1);
    end_phase();
    long views = 0, refused = 0;
    for (int i = 0; i < WORKERS; i++) {
        views += workers[i].views;
        refused += workers[i].refused;
    }
    printf("thread_views: phase 1: %d workers took %ld base views (%ld refused during a "
           "resize); %ld appends done, %ld refused as busy; %td samples\n",
           WORKERS, views, refused, a.appended, a.busy, buf->length);
    check_samples_at_rest(buf, "phase 1");
    return atomic_load(&failures) == before;
}

/* ---- a mailbox: what one thread made, another gives back -------------------- */

typedef struct item {
    xbuf_mview *mview; /* one reference, or NULL */
    xbuf_view view;    /* an exported view, when mview is NULL */
} item;

typedef struct mailbox {
    pthread_mutex_t lock;
    item items[MAILBOX];
    int count;
    long handed_over;
} mailbox;

/* Post `it`; when the box is full, give back a random item instead. */
static void mailbox_post(mailbox *box, item *it, rng *r)
{
    item out;
    bool spill = false;
    pthread_mutex_lock(&box->lock);
    if (box->count == MAILBOX) {
        int i = (int)rng_below(r, MAILBOX);
        out = box->items[i];
        box->items[i] = *it;
        spill = true;
    } else {
        box->items[box->count++] = *it;
    }
    pthread_mutex_unlock(&box->lock);
    memset(it, 0, sizeof *it);
    if (spill) {
        if (out.mview != NULL)
            xbuf_mview_unref(out.mview);
        else
            xbuf_release(&out.view);
    }
}

/* Take a random item out, give it back; false when empty. */
static bool mailbox_drop_one(mailbox *box, rng *r)
{
    item out;
    pthread_mutex_lock(&box->lock);
    if (box->count == 0) {
        pthread_mutex_unlock(&box->lock);
        return false;
    }
    int i = (int)rng_below(r, box->count);
    out = box->items[i];
    box->items[i] = box->items[--box->count];
    box->handed_over++;
    pthread_mutex_unlock(&box->lock);
    if (out.mview != NULL)
        xbuf_mview_unref(out.mview);
    else
        xbuf_release(&out.view);
    return true;
}

/* ---- phase 2: one family shared by every worker ----------------------------- */

typedef struct shared_family {
    samples *buf;
    xbuf_mview *root; /* the shared mview of every sample */
    xbuf_mview *rows; /* the same as rows of CHUNK */
    ptrdiff_t n;
    mailbox box;
    appender *appender;
} shared_family;

typedef struct phase2_worker {
    int index;
    shared_family *sh;
} phase2_worker;

static void *phase2_body(void *arg)
{
    phase2_worker *w = arg;
    shared_family *sh = w->sh;
    pthread_barrier_wait(&start_line);
    rng r = rng_for(100 + w->index);
    ptrdiff_t n = sh->n;
    ptrdiff_t shape2[2] = {n / CHUNK, CHUNK};
    for (long it = 0; it < iterations; it++) {
        item made;
        memset(&made, 0, sizeof made);
        switch (rng_below(&r, 4)) {
        case 0: { /* derive from the shared root */
            model m;
            const char *what = "?";
            if (derive_samples(sh->root, n, &r, &made.mview, &m, &what))
                check_items(made.mview, &m, what);
            break;
        }
        case 1: { /* derive from the shared 2-d view: a row, or a column */
            model rows = model_samples(2, shape2);
            if (rng_below(&r, 2) == 0) {
                ptrdiff_t i = rng_below(&r, shape2[0]);
                MUST(xbuf_mview_index(sh->rows, 0, i, &made.mview, &must_err_),
                     "xbuf_mview_index (row)");
                if (made.mview != NULL) {
                    model m = model_index(rows, 0, i);
                    check_items(made.mview, &m, "row of the shared view");
                }
            } else {
                ptrdiff_t j = rng_below(&r, CHUNK);
                xbuf_mview *t = NULL;
                MUST(xbuf_mview_transpose(sh->rows, &t, &must_err_), "xbuf_mview_transpose");
                if (t != NULL)
                    MUST(xbuf_mview_index(t, 0, j, &made.mview, &must_err_),
                         "xbuf_mview_index (column)");
                xbuf_mview_unref(t);
                if (made.mview != NULL) {
                    model m = model_index(model_transpose(rows), 0, j);
                    check_items(made.mview, &m, "column of the shared view");
                    check_copies(made.mview, &m, "column of the shared view");
                }
            }
            break;
        }
        case 2: /* export from the shared root; another thread releases it */
            MUST(xbuf_get(xbuf_mview_exporter(sh->root), &made.view, XBUF_RECORDS_RO,
                          &must_err_),
                 "xbuf_get on the shared mview");
            if (made.view.buf != xbuf_mview_view(sh->root)->buf || made.view.len != n * 2)
                fail("phase 2: an export of the shared view differs from it");
            break;
        default: /* a new reference to the shared mview itself */
            made.mview = xbuf_mview_retain(rng_below(&r, 2) ? sh->root : sh->rows);
            break;
        }
        check_append_refused(sh->buf);
        if (made.mview != NULL || made.view.release != NULL)
            mailbox_post(&sh->box, &made, &r);
        /* give back something someone made */
        int drops = (int)rng_below(&r, 3);
        for (int i = 0; i < drops; i++)
            mailbox_drop_one(&sh->box, &r);
    }
    /* the last ones drain the box; then this worker's references go */
    while (mailbox_drop_one(&sh->box, &r)) {
    }
    atomic_fetch_sub(&sh->appender->holders, 1); /* before: never a false alarm */
    xbuf_mview_unref(sh->rows);
    xbuf_mview_unref(sh->root);
    return NULL;
}

static bool phase_shared_family(samples *buf)
{
    int before = atomic_load(&failures);
    shared_family sh;
    memset(&sh, 0, sizeof sh);
    sh.buf = buf;
    pthread_mutex_init(&sh.box.lock, NULL);
    MUST(xbuf_mview_from_exporter(&buf->exporter, XBUF_FULL_RO, &sh.root, &must_err_),
         "xbuf_mview_from_exporter");
    if (sh.root == NULL)
        return false;
    sh.n = xbuf_mview_view(sh.root)->shape[0];
    ptrdiff_t shape2[2] = {sh.n / CHUNK, CHUNK};
    MUST(xbuf_mview_cast(sh.root, "h", 2, shape2, &sh.rows, &must_err_), "xbuf_mview_cast");
    if (sh.rows == NULL) {
        xbuf_mview_unref(sh.root);
        return false;
    }
    appender a = {.buf = buf};
    atomic_store(&a.holders, WORKERS);
    sh.appender = &a;
    /* each worker owns one reference to each shared mview */
    phase2_worker workers[WORKERS];
    void *args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (phase2_worker){i, &sh};
        args[i] = &workers[i];
        xbuf_mview_retain(sh.root);
        xbuf_mview_retain(sh.rows);
    }
    begin_phase(WORKERS + 1);
    pthread_t appender_thread;
    void *aarg = &a;
    if (start_threads(&appender_thread, 1, appender_body, &aarg) < 0)
        return false;
    pthread_t threads[WORKERS];
    int started = start_threads(threads, WORKERS, phase2_body, args);
    /* main's own references go now: the last unref happens on a worker */
    xbuf_mview_unref(sh.rows);
    xbuf_mview_unref(sh.root);
    if (started == 0)
        join_threads(threads, WORKERS);
    atomic_store(&a.stop, true);
    join_threads(&appender_thread, 1);
    end_phase();
    if (sh.box.count != 0)
        fail("phase 2: %d items left in the mailbox", sh.box.count);
    printf("thread_views: phase 2: %d workers shared one family of %td samples; %ld items "
           "given back by another thread; appender refused %ld times while held (%ld "
           "appends after the last holder let go)\n",
           WORKERS, sh.n, sh.box.handed_over, a.refused_while_held, a.appended);
    pthread_mutex_destroy(&sh.box.lock);
    check_samples_at_rest(buf, "phase 2");
    return atomic_load(&failures) == before;
}

/* ---- phase 3: an indirect (PIL-style) image --------------------------------- */

typedef struct shared_image {
    image *img;
    xbuf_mview *root;
    mailbox box;
} shared_image;

typedef struct phase3_worker {
    int index;
    shared_image *sh;
} phase3_worker;

static void *phase3_body(void *arg)
{
    phase3_worker *w = arg;
    shared_image *sh = w->sh;
    pthread_barrier_wait(&start_line);
    rng r = rng_for(200 + w->index);
    model whole = model_image(sh->img);
    for (long it = 0; it < iterations; it++) {
        item made;
        memset(&made, 0, sizeof made);
        model m = whole;
        const char *what = "?";
        switch (rng_below(&r, 5)) {
        case 0: { /* a row index: the family adopts a new pointer table */
            ptrdiff_t y = rng_below(&r, whole.shape[1]);
            what = "image[:, y]";
            MUST(xbuf_mview_index(sh->root, 1, y, &made.mview, &must_err_),
                 "xbuf_mview_index (indirect)");
            m = model_index(whole, 1, y);
            break;
        }
        case 1: { /* a column index */
            ptrdiff_t x = rng_below(&r, whole.shape[2]);
            what = "image[:, :, x]";
            MUST(xbuf_mview_index(sh->root, 2, x, &made.mview, &must_err_),
                 "xbuf_mview_index (column)");
            m = model_index(whole, 2, x);
            break;
        }
        case 2: { /* a band, then a row of it */
            ptrdiff_t b = rng_below(&r, whole.shape[0]), y = rng_below(&r, whole.shape[1]);
            xbuf_mview *band = NULL;
            what = "image[b][y]";
            MUST(xbuf_mview_index(sh->root, 0, b, &band, &must_err_), "xbuf_mview_index (band)");
            if (band != NULL)
                MUST(xbuf_mview_index(band, 0, y, &made.mview, &must_err_),
                     "xbuf_mview_index (row of a band)");
            xbuf_mview_unref(band);
            m = model_index(model_index(whole, 0, b), 0, y);
            break;
        }
        case 3: { /* a strided, reversed slice through the pointers */
            xbuf_slice s[3] = {{XBUF_SLICE_NONE, XBUF_SLICE_NONE, 2},
                               {1, XBUF_SLICE_NONE, 3},
                               {XBUF_SLICE_NONE, XBUF_SLICE_NONE, -1}};
            ptrdiff_t start[3], stop, length[3];
            for (int k = 0; k < 3; k++)
                MUST(xbuf_slice_resolve(&s[k], whole.shape[k], &start[k], &stop, &length[k],
                                        &must_err_),
                     "xbuf_slice_resolve");
            what = "image[::2, 1::3, ::-1]";
            MUST(xbuf_mview_slice(sh->root, s, 3, &made.mview, &must_err_),
                 "xbuf_mview_slice (indirect)");
            for (int k = 0; k < 3; k++)
                m = model_slice(m, k, start[k], s[k].step, length[k]);
            break;
        }
        default: { /* what cannot be done fails cleanly, from every thread */
            xbuf_mview *t = (xbuf_mview *)&made;
            xbuf_error err;
            xbuf_error_clear(&err);
            if (xbuf_mview_transpose(sh->root, &t, &err) != XBUF_EUNSUPPORTED || t != NULL)
                fail("phase 3: transposing an indirect view did not fail with "
                     "XBUF_EUNSUPPORTED");
            MUST(xbuf_get(xbuf_mview_exporter(sh->root), &made.view, XBUF_FULL_RO, &must_err_),
                 "xbuf_get on the shared image view");
            break;
        }
        }
        if (made.mview != NULL && check_items(made.mview, &m, what)) {
            check_copies(made.mview, &m, what);
            if (rng_below(&r, 2) == 0)
                check_exports(made.mview, &r, what);
        }
        if (made.mview != NULL || made.view.release != NULL)
            mailbox_post(&sh->box, &made, &r);
        int drops = (int)rng_below(&r, 3);
        for (int i = 0; i < drops; i++)
            mailbox_drop_one(&sh->box, &r);
    }
    while (mailbox_drop_one(&sh->box, &r)) {
    }
    xbuf_mview_unref(sh->root);
    return NULL;
}

static bool phase_image(void)
{
    int before = atomic_load(&failures);
    shared_image sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.box.lock, NULL);
    MUST(image_create(3, 12, 20, 0, &sh.img, &must_err_), "image_create");
    if (sh.img == NULL)
        return false;
    for (ptrdiff_t b = 0; b < sh.img->bands; b++)
        for (ptrdiff_t y = 0; y < sh.img->height; y++)
            for (ptrdiff_t x = 0; x < sh.img->width; x++)
                *image_pixel(sh.img, b, y, x) = pixel_at(b, y, x);
    MUST(xbuf_mview_from_exporter(&sh.img->exporter, XBUF_FULL_RO, &sh.root, &must_err_),
         "xbuf_mview_from_exporter (image)");
    if (sh.root == NULL) {
        image_destroy(sh.img, NULL);
        return false;
    }
    phase3_worker workers[WORKERS];
    void *args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (phase3_worker){i, &sh};
        args[i] = &workers[i];
        xbuf_mview_retain(sh.root);
    }
    begin_phase(WORKERS);
    pthread_t threads[WORKERS];
    int started = start_threads(threads, WORKERS, phase3_body, args);
    xbuf_mview_unref(sh.root);
    if (started == 0)
        join_threads(threads, WORKERS);
    end_phase();
    ptrdiff_t count = xbuf_exports_count(&sh.img->exports);
    if (count != 0)
        fail("phase 3: %td exports of the image still counted at the end", count);
    printf("thread_views: phase 3: %d workers shared one indirect image view; %ld items "
           "given back by another thread\n",
           WORKERS, sh.box.handed_over);
    xbuf_error err;
    xbuf_error_clear(&err);
    if (image_destroy(sh.img, &err) != XBUF_OK)
        fail("phase 3: image_destroy failed: %s", err.message);
    pthread_mutex_destroy(&sh.box.lock);
    return atomic_load(&failures) == before;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *count = argc > 1 ? argv[1] : getenv("THREAD_VIEWS_ITERATIONS");
    if (count != NULL) {
        char *end;
        iterations = strtol(count, &end, 10);
        if (*end != '\0' || iterations < 1) {
            fprintf(stderr, "usage: %s [ITERATIONS]\n", argv[0]);
            return 2;
        }
    }
    const char *s = getenv("THREAD_VIEWS_SEED");
    seed = s != NULL ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    printf("thread_views: %ld iterations per worker and phase, seed %llu "
           "(THREAD_VIEWS_SEED)\n",
           iterations, (unsigned long long)seed);

    int passed = 0, failed = 0;
    samples *buf = NULL;
    MUST(samples_create(&buf, &must_err_), "samples_create");
    if (buf == NULL)
        return 1;
    fill_samples(buf, INITIAL);
    bool ok[3] = {phase_own_families(buf), phase_shared_family(buf), phase_image()};
    for (int i = 0; i < 3; i++) {
        if (ok[i])
            passed++;
        else
            failed++;
    }
    xbuf_error err;
    xbuf_error_clear(&err);
    if (samples_destroy(buf, &err) != XBUF_OK) {
        fail("samples_destroy failed: %s", err.message);
        failed++;
    }
    printf("thread_views: %d passed, %d failed\n", passed, failed);
    return failed == 0 && atomic_load(&failures) == 0 ? 0 : 1;
}
