/*
 * bench_protocol.c -- the cost of asking for a view and giving it back.
 *
 * One xbuf_get + xbuf_release pair on the example exporters, for several
 * requests, beside a 64-byte memcpy timed in the same run on the same
 * machine.  The target is under 20 ns per pair.  Each figure is the best of
 * several repetitions (the least disturbed by the rest of the machine).
 * A benchmark, not a test: it prints figures and never fails on timing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "image.h"
#include "samples.h"

#include <stdlib.h>

enum { REPEATS = 7 };

/* XBUF_BENCH_ITERATIONS shortens a run, e.g. under valgrind's callgrind. */
static int ITERATIONS = 2000000;

/* Keeps the compiler from deleting or hoisting work whose result is unused. */
#define CLOBBER(p) __asm__ volatile("" : : "r"(p) : "memory")

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_memcpy64(void)
{
    static unsigned char src[128], dst[128];
    double best = 1e300;
    for (int r = 0; r < REPEATS; r++) {
        double start = now_ns();
        for (int i = 0; i < ITERATIONS; i++) {
            memcpy(dst + (i & 63), src + ((i >> 6) & 63), 64);
            CLOBBER(dst);
        }
        double per = (now_ns() - start) / ITERATIONS;
        best = per < best ? per : best;
    }
    return best;
}

/* The floor: the two atomic operations every counted export costs. */
static double time_exports_pair(void)
{
    xbuf_exports exports = XBUF_EXPORTS_INIT;
    double best = 1e300;
    for (int r = 0; r < REPEATS; r++) {
        double start = now_ns();
        for (int i = 0; i < ITERATIONS; i++) {
            xbuf_exports_acquire(&exports, NULL);
            CLOBBER(&exports);
            xbuf_exports_release(&exports, NULL);
        }
        double per = (now_ns() - start) / ITERATIONS;
        best = per < best ? per : best;
    }
    return best;
}

/* Returns ns per pair, or -1 when the exporter refuses the request. */
static double time_get_release(xbuf_exporter *exporter, int flags)
{
    xbuf_view view;
    xbuf_error err;
    if (xbuf_get(exporter, &view, flags, &err) < 0)
        return -1;
    xbuf_release(&view);
    double best = 1e300;
    for (int r = 0; r < REPEATS; r++) {
        double start = now_ns();
        for (int i = 0; i < ITERATIONS; i++) {
            xbuf_get(exporter, &view, flags, &err);
            CLOBBER(&view);
            xbuf_release(&view);
        }
        double per = (now_ns() - start) / ITERATIONS;
        best = per < best ? per : best;
    }
    return best;
}

static void report(const char *what, double ns, double memcpy_ns)
{
    printf("  %-44s %7.2f ns   %5.2fx memcpy(64)   %s\n", what, ns, ns / memcpy_ns,
           ns < 20.0 ? "under 20 ns" : "OVER 20 ns TARGET");
}

int main(void)
{
    const char *iterations = getenv("XBUF_BENCH_ITERATIONS");
    if (iterations != NULL && atoi(iterations) > 0)
        ITERATIONS = atoi(iterations);
    samples *buf;
    image *img;
    const int16_t tone[4] = {1, 2, 3, 4};
    if (samples_create(&buf, NULL) < 0 || samples_append(buf, tone, 4, NULL) < 0 ||
        image_create(3, 480, 640, 0, &img, NULL) < 0) {
        fprintf(stderr, "bench_protocol: cannot create the example exporters\n");
        return 1;
    }
    printf("xbuf %s: one xbuf_get + xbuf_release pair (best of %d x %d)\n", xbuf_version(),
           REPEATS, ITERATIONS);
    double base = time_memcpy64();
    printf("  %-44s %7.2f ns\n", "memcpy of 64 bytes (same run)", base);
    printf("  %-44s %7.2f ns   (the atomic floor of any counted export)\n",
           "xbuf_exports_acquire + release alone", time_exports_pair());
    report("samples, XBUF_SIMPLE", time_get_release(&buf->exporter, XBUF_SIMPLE), base);
    report("samples, XBUF_RECORDS_RO (strides + format)",
           time_get_release(&buf->exporter, XBUF_RECORDS_RO), base);
    report("samples, XBUF_C_CONTIGUOUS | XBUF_FORMAT",
           time_get_release(&buf->exporter, XBUF_C_CONTIGUOUS | XBUF_FORMAT), base);
    report("image 3x480x640, XBUF_FULL_RO (suboffsets)",
           time_get_release(&img->exporter, XBUF_FULL_RO), base);
    image_destroy(img, NULL);
    samples_destroy(buf, NULL);
    return 0;
}
