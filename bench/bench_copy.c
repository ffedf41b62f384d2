/*
 * bench_copy.c -- the copy engine against memcpy, on 4096 x 4096 arrays.
 *
 * For item sizes 1, 4 and 8: each case is timed beside a memcpy of the
 * same number of output bytes, in the same run, and printed as a ratio
 * (1.0 = memcpy speed; higher is better).  Targets from the copy issue:
 * contiguous 0.9, transpose 0.35, every other column 0.5, PIL rows 0.8,
 * '>d' -> '<d' byte swap 0.5.  A benchmark, not a test: it never fails on
 * timing.  XBUF_BENCH_N sets the edge (default 4096).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xbuf.h>

enum { ROUNDS = 6, MIN_RUNS = 4 };
static const double ROUND_NS = 20e6; /* per side and round */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct array2d {
    xbuf_view view;
    ptrdiff_t shape[2], strides[2], suboffsets[2];
} array2d;

/* A 2-d view of rows x cols items over `memory`, with the given strides. */
static void make_view(array2d *a, void *memory, ptrdiff_t rows, ptrdiff_t cols,
                      ptrdiff_t itemsize, ptrdiff_t row_stride, ptrdiff_t col_stride,
                      const char *format)
{
    memset(a, 0, sizeof *a);
    a->shape[0] = rows;
    a->shape[1] = cols;
    a->strides[0] = row_stride;
    a->strides[1] = col_stride;
    a->view.buf = memory;
    a->view.len = rows * cols * itemsize;
    a->view.itemsize = itemsize;
    a->view.ndim = 2;
    a->view.format = format;
    a->view.shape = a->shape;
    a->view.strides = a->strides;
}

typedef int (*copy_fn)(const xbuf_view *dst, const xbuf_view *src, xbuf_error *err);

static int convert(const xbuf_view *dst, const xbuf_view *src, xbuf_error *err)
{
    return xbuf_copy_convert(dst, src, XBUF_OVERFLOW_ERROR, err);
}

/* The arrays every case copies between: memcpy's baseline copies `a` to
 * `b`, the same memory the cases read and write. */
typedef struct arena {
    char *a, *b;
} arena;

/* Best time of `runs` memcpys of `bytes`, folded into *best. */
static void time_memcpy(const arena *mem, size_t bytes, int runs, double *best)
{
    for (int r = 0; r < runs; r++) {
        double start = now_ns();
        memcpy(mem->b, mem->a, bytes);
        __asm__ volatile("" : : "r"(mem->b) : "memory");
        double t = now_ns() - start;
        *best = t < *best ? t : *best;
    }
}

/* Best time of `runs` copies, folded into *best; false if xbuf refused. */
static bool time_copy(copy_fn fn, const xbuf_view *dst, const xbuf_view *src, int runs,
                      double *best, xbuf_error *err)
{
    for (int r = 0; r < runs; r++) {
        double start = now_ns();
        if (fn(dst, src, err) < 0)
            return false;
        double t = now_ns() - start;
        *best = t < *best ? t : *best;
    }
    return true;
}

/* One case and its memcpy baseline of `base_bytes`: ROUNDS rounds, each
 * of runs of memcpy then runs of the xbuf copy (ROUND_NS worth of each, at
 * least MIN_RUNS), the best time of each.  Runs in a row let each settle
 * into its own steady state (alternating one by one measures how each
 * suffers from the caches the other left: streaming stores into lines
 * memcpy just dirtied); rounds spread both over the same stretch of time,
 * so neighbours on a shared machine that get busier skew neither; and a
 * time budget rather than a count gives short cases as many chances at a
 * quiet moment as long ones.  Prints the line; a refused copy prints why. */
static void report(const char *what, copy_fn fn, const xbuf_view *dst, const xbuf_view *src,
                   const arena *mem, size_t base_bytes, double target)
{
    xbuf_error err;
    double ns = 1e300, base = 1e300;
    if (!time_copy(fn, dst, src, 1, &ns, &err)) {
        fprintf(stderr, "bench_copy: %s: %s\n", what, err.message);
        return;
    }
    int runs = ROUND_NS / ns > MIN_RUNS ? (int)(ROUND_NS / ns) : MIN_RUNS;
    for (int round = 0; round < ROUNDS; round++) {
        time_memcpy(mem, base_bytes, runs, &base);
        if (!time_copy(fn, dst, src, runs, &ns, &err))
            return;
    }
    double ratio = base / ns;
    printf("  %-34s itemsize %td  %9.2f ms  memcpy %8.2f ms  ratio %5.2f  target %.2f %s\n",
           what, dst->itemsize, ns / 1e6, base / 1e6, ratio, target,
           ratio >= target ? "ok" : "MISSED");
}

/* Copies until the CPU has run flat out for a while: a core that starts
 * idle speeds up over the first tens of milliseconds, and without this the
 * first case measured slower than the same memcpy a moment later. */
static void warm_up(const arena *mem, size_t bytes)
{
    double start = now_ns();
    while (now_ns() - start < 300e6) {
        memcpy(mem->b, mem->a, bytes);
        __asm__ volatile("" : : "r"(mem->b) : "memory");
    }
}

static void bench_itemsize(ptrdiff_t n, ptrdiff_t itemsize, const arena *mem, char **rows)
{
    size_t bytes = (size_t)(n * n * itemsize);
    array2d src, dst;

    make_view(&src, mem->a, n, n, itemsize, n * itemsize, itemsize, NULL);
    make_view(&dst, mem->b, n, n, itemsize, n * itemsize, itemsize, NULL);
    report("contiguous -> contiguous", xbuf_copy, &dst.view, &src.view, mem, bytes, 0.9);

    make_view(&src, mem->a, n, n, itemsize, itemsize, n * itemsize, NULL); /* Fortran order */
    report("transpose (F source -> C)", xbuf_copy, &dst.view, &src.view, mem, bytes, 0.35);

    make_view(&src, mem->a, n, n / 2, itemsize, n * itemsize, 2 * itemsize, NULL);
    make_view(&dst, mem->b, n, n / 2, itemsize, n / 2 * itemsize, itemsize, NULL);
    report("every other column -> contiguous", xbuf_copy, &dst.view, &src.view, mem, bytes / 2,
           0.5);

    for (ptrdiff_t r = 0; r < n; r++)
        rows[r] = mem->a + r * n * itemsize;
    make_view(&src, rows, n, n, itemsize, (ptrdiff_t)sizeof(char *), itemsize, NULL);
    src.suboffsets[0] = 0;
    src.suboffsets[1] = -1;
    src.view.suboffsets = src.suboffsets;
    make_view(&dst, mem->b, n, n, itemsize, n * itemsize, itemsize, NULL);
    report("PIL rows -> contiguous", xbuf_copy, &dst.view, &src.view, mem, bytes, 0.8);

    if (itemsize == 8) {
        make_view(&src, mem->a, n, n, 8, n * 8, 8, ">d");
        make_view(&dst, mem->b, n, n, 8, n * 8, 8, "<d");
        report("'>d' -> '<d' (byte swap)", convert, &dst.view, &src.view, mem, bytes, 0.5);
    }
}

int main(void)
{
    const char *env = getenv("XBUF_BENCH_N");
    ptrdiff_t n = env != NULL && atoi(env) > 1 ? atoi(env) : 4096;
    size_t bytes = (size_t)(n * n * 8);
    char *a = malloc(bytes), *b = malloc(bytes), **rows = malloc((size_t)n * sizeof *rows);
    if (a == NULL || b == NULL || rows == NULL) {
        fprintf(stderr, "bench_copy: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < bytes; i++)
        a[i] = (char)(i * 131 + 7);
    memset(b, 1, bytes); /* touch every page before timing */
    printf("xbuf %s: copy engine on %td x %td arrays (best of %d rounds of %.0f ms or %d runs "
           "each; ratio = memcpy time / xbuf time)\n", xbuf_version(), n, n, ROUNDS,
           ROUND_NS / 1e6, MIN_RUNS);
    arena mem = {a, b};
    warm_up(&mem, (size_t)(n * n));
    for (ptrdiff_t itemsize = 1; itemsize <= 8; itemsize *= 2)
        if (itemsize != 2)
            bench_itemsize(n, itemsize, &mem, rows);
    free(a);
    free(b);
    free(rows);
    return 0;
}
