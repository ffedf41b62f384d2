/*
 * thread_exports.c -- export accounting under real concurrency.
 *
 * A plain program (not Criterion, which forks and serialises): it exits
 * non-zero and says why when a check fails.  Run it under ThreadSanitizer
 * too (meson -Db_sanitize=thread): the protocol promises that an export
 * taken on one thread happens-before the exporter's next resize, so the
 * sample data read by consumers and written by the appender never race.
 *
 *   phase 1: two threads each do 1,000,000 acquire/release pairs on one
 *            counter; every call succeeds and the count ends at zero.
 *   phase 2: reader threads take and release real views of one sample
 *            buffer while the main thread keeps appending; every append
 *            succeeds or fails with XBUF_EBUSY, every view shows a
 *            consistent prefix of what was appended, and at the end the
 *            count is zero and the data are exactly the successful appends.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

#include "samples.h"

/* ---- failure reporting shared by all threads ------------------------- */

static atomic_int failures;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
    /* Print only the first few: one broken invariant tends to repeat. */
    if (atomic_fetch_add(&failures, 1) >= 10)
        return;
    va_list args;
    va_start(args, fmt);
    pthread_mutex_lock(&report_lock);
    fputs("thread_exports: FAIL: ", stdout);
    vprintf(fmt, args);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&report_lock);
    va_end(args);
}

static int start_threads(pthread_t *threads, int n, void *(*body)(void *), void *arg)
{
    for (int i = 0; i < n; i++) {
        int rc = pthread_create(&threads[i], NULL, body, arg);
        if (rc != 0) {
            fail("pthread_create failed: %s", strerror(rc));
            for (int j = 0; j < i; j++)
                pthread_join(threads[j], NULL);
            return -1;
        }
    }
    return 0;
}

static void join_threads(pthread_t *threads, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

/* ---- phase 1: acquire/release pairs ------------------------------------ */

#define PAIRS 1000000L

typedef struct pairs_shared {
    xbuf_exports exports;
    pthread_barrier_t start; /* so that the two loops really overlap */
} pairs_shared;

static void *pairs_body(void *arg)
{
    pairs_shared *sh = arg;
    xbuf_exports *exports = &sh->exports;
    long bad = 0;
    pthread_barrier_wait(&sh->start);
    for (long i = 0; i < PAIRS; i++) {
        if (xbuf_exports_acquire(exports, NULL) != XBUF_OK)
            bad++;
        else if (xbuf_exports_release(exports, NULL) != XBUF_OK)
            bad++;
    }
    if (bad != 0)
        fail("phase 1: %ld of %ld acquire/release pairs failed", bad, PAIRS);
    return NULL;
}

static bool phase_pairs(void)
{
    int before = atomic_load(&failures);
    pairs_shared sh;
    xbuf_exports_init(&sh.exports);
    if (pthread_barrier_init(&sh.start, NULL, 2) != 0) {
        fail("phase 1: pthread_barrier_init failed");
        return false;
    }
    pthread_t threads[2];
    if (start_threads(threads, 2, pairs_body, &sh) < 0) {
        pthread_barrier_destroy(&sh.start);
        return false;
    }
    join_threads(threads, 2);
    pthread_barrier_destroy(&sh.start);
    ptrdiff_t count = xbuf_exports_count(&sh.exports);
    if (count != 0)
        fail("phase 1: the count ended at %td, not 0", count);
    if (xbuf_exports_begin_resize(&sh.exports, NULL) != XBUF_OK)
        fail("phase 1: begin_resize fails after all pairs");
    else
        xbuf_exports_end_resize(&sh.exports);
    return atomic_load(&failures) == before;
}

/* ---- phase 2: views against appends ----------------------------------- */

#define READERS 3
#define READER_VIEWS 5000           /* views each reader must take */
#define READER_ATTEMPTS 50000000L   /* gives up (and fails) after this many gets */
#define CHUNK 4
#define MAX_SAMPLES (1 << 16)

/* The sample at index i is a function of i, so any prefix can be checked. */
static int16_t sample_at(ptrdiff_t i)
{
    return (int16_t)((i * 7919) % 65536 - 32768);
}

typedef struct shared {
    samples *buf;
    atomic_int readers_running;
    atomic_long views_taken, gets_refused, nested_views;
} shared;

/* A view must look like a prefix of everything ever appended. */
static void check_view(const xbuf_view *v, const char *what)
{
    if (v->itemsize != 2 || v->ndim != 1 || v->shape == NULL || v->strides == NULL ||
        v->format == NULL || strcmp(v->format, "h") != 0) {
        fail("phase 2: %s: malformed view", what);
        return;
    }
    ptrdiff_t n = v->shape[0];
    if (v->len != n * 2 || v->strides[0] != 2 || n < 0 || n > MAX_SAMPLES) {
        fail("phase 2: %s: len %td, shape %td, stride %td disagree", what, v->len, n,
             v->strides[0]);
        return;
    }
    if (n % CHUNK != 0)
        fail("phase 2: %s: %td samples, not a whole number of appends", what, n);
    const int16_t *data = v->buf;
    /* the ends, and a stride through the middle, keep each check short */
    for (ptrdiff_t i = 0; i < n; i += (i < 8 || i >= n - 8) ? 1 : 61) {
        if (data[i] != sample_at(i)) {
            fail("phase 2: %s: sample %td of %td is %d, expected %d", what, i, n, data[i],
                 sample_at(i));
            return;
        }
    }
}

static bool expected_refusal(int rc, const xbuf_error *err)
{
    return rc == XBUF_EBUSY && err->code == XBUF_EBUSY &&
           strcmp(err->message, "cannot export: the exporter is being resized") == 0;
}

static void *reader_body(void *arg)
{
    shared *sh = arg;
    /* Count views taken, not attempts: on two busy cores the appender can
     * hold the resizing state for a whole time slice. */
    long attempts = 0;
    for (int i = 0; i < READER_VIEWS; attempts++) {
        if (attempts == READER_ATTEMPTS) {
            fail("phase 2: a reader got only %d views in %ld attempts", i, attempts);
            break;
        }
        xbuf_view v, w;
        xbuf_error err;
        xbuf_error_clear(&err);
        int rc = xbuf_get(&sh->buf->exporter, &v, XBUF_FULL_RO, &err);
        if (rc != XBUF_OK) {
            if (!expected_refusal(rc, &err))
                fail("phase 2: xbuf_get returned %d (%s)", rc, err.message);
            atomic_fetch_add(&sh->gets_refused, 1);
            continue;
        }
        atomic_fetch_add(&sh->views_taken, 1);
        i++;
        check_view(&v, "view");
        /* Every few rounds hold a second view, so the appender sees 2+. */
        if (i % 4 == 0) {
            xbuf_error_clear(&err);
            rc = xbuf_get(&sh->buf->exporter, &w, XBUF_RECORDS_RO, &err);
            if (rc == XBUF_OK) {
                atomic_fetch_add(&sh->nested_views, 1);
                check_view(&w, "second view");
                if (w.buf != v.buf || w.len != v.len)
                    fail("phase 2: two views held at once disagree (%td vs %td bytes)", v.len,
                         w.len);
                xbuf_release(&w);
            } else {
                /* the first view is held, so no resize can be in progress */
                fail("phase 2: a second view was refused (%d: %s) while one is held", rc,
                     err.message);
            }
        }
        check_view(&v, "view (again)");
        xbuf_release(&v);
        if (v.release != NULL || v.buf != NULL)
            fail("phase 2: xbuf_release did not clear the view");
        sched_yield(); /* let the count reach zero now and then, so appends happen */
    }
    atomic_fetch_sub(&sh->readers_running, 1);
    return NULL;
}

/* One append attempt by the main thread; returns true when it succeeded. */
static bool try_append(samples *buf, long *busy)
{
    ptrdiff_t length = buf->length; /* only this thread writes it */
    int16_t values[CHUNK];
    ptrdiff_t count = length + CHUNK <= MAX_SAMPLES ? CHUNK : 0;
    for (ptrdiff_t i = 0; i < count; i++)
        values[i] = sample_at(length + i);
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = samples_append(buf, values, count, &err);
    if (rc == XBUF_OK) {
        if (buf->length != length + count)
            fail("phase 2: append succeeded but length is %td, expected %td", buf->length,
                 length + count);
        return count > 0;
    }
    if (rc != XBUF_EBUSY) {
        fail("phase 2: samples_append returned %d (%s)", rc, err.message);
        return false;
    }
    (*busy)++;
    if (strncmp(err.message, "cannot resize: ", 15) != 0 ||
        (strstr(err.message, " view is held") == NULL &&
         strstr(err.message, " views are held") == NULL))
        fail("phase 2: unexpected EBUSY message \"%s\"", err.message);
    if (buf->length != length)
        fail("phase 2: a refused append changed the length");
    return false;
}

static bool phase_views(void)
{
    int before = atomic_load(&failures);
    shared sh;
    memset(&sh, 0, sizeof sh);
    if (samples_create(&sh.buf, NULL) != XBUF_OK) {
        fail("phase 2: samples_create failed");
        return false;
    }
    atomic_store(&sh.readers_running, READERS);
    pthread_t threads[READERS];
    if (start_threads(threads, READERS, reader_body, &sh) < 0) {
        samples_destroy(sh.buf, NULL);
        return false;
    }
    long appended = 0, busy = 0;
    while (atomic_load(&sh.readers_running) > 0) {
        appended += try_append(sh.buf, &busy);
        sched_yield();
    }
    join_threads(threads, READERS);

    ptrdiff_t count = xbuf_exports_count(&sh.buf->exports);
    if (count != 0)
        fail("phase 2: %td exports still counted after every reader released", count);
    /* With the readers gone, appends must succeed. */
    for (int i = 0; i < 3 && sh.buf->length + CHUNK <= MAX_SAMPLES; i++) {
        if (try_append(sh.buf, &busy))
            appended++;
        else
            fail("phase 2: an append with no view held failed");
    }
    ptrdiff_t length = sh.buf->length;
    if (length > MAX_SAMPLES || length % CHUNK != 0)
        fail("phase 2: final length %td is impossible", length);
    for (ptrdiff_t i = 0; i < length; i++)
        if (sh.buf->data[i] != sample_at(i)) {
            fail("phase 2: final sample %td is %d, expected %d", i, sh.buf->data[i],
                 sample_at(i));
            break;
        }
    long views = atomic_load(&sh.views_taken), refused = atomic_load(&sh.gets_refused);
    printf("thread_exports: phase 2: %ld views (%ld nested), %ld gets refused during a "
           "resize, %ld appends done, %ld refused as busy, %td samples\n",
           views, atomic_load(&sh.nested_views), refused, appended, busy, length);
    if (views == 0)
        fail("phase 2: no reader ever got a view");
    xbuf_error err;
    xbuf_error_clear(&err);
    if (samples_destroy(sh.buf, &err) != XBUF_OK)
        fail("phase 2: samples_destroy failed: %s", err.message);
    return atomic_load(&failures) == before;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0;
    if (phase_pairs())
        passed++;
    else
        failed++;
    if (phase_views())
        passed++;
    else
        failed++;
    printf("thread_exports: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
