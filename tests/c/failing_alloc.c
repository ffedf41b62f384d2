/*
 * failing_alloc.c -- the tests' counting, checking, failure-injecting
 * allocator (see failing_alloc.h).
 *
 * Live blocks are kept in a plain array searched from the end: tests make
 * at most a few thousand blocks, and recent blocks are the ones freed first.
 * The table itself uses the C library directly, never the xbuf allocator.
 */
#include "failing_alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbuf.h>

#define FRESH_BYTE 0xA5
#define FREED_BYTE 0xDD

typedef struct block {
    void *ptr;
    size_t size;
} block;

static struct {
    block *blocks;
    size_t count, capacity;
    size_t live_bytes;
    long calls;
    long fail_at;
    bool failure_hit;
    long errors;
    char first_error[256];
    char last_error[256];
} state = {.fail_at = -1};

static void record_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void record_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(state.last_error, sizeof state.last_error, fmt, args);
    va_end(args);
    if (state.errors++ == 0)
        memcpy(state.first_error, state.last_error, sizeof state.first_error);
}

/* The index of the live block at ptr, or -1. */
static long find_block(const void *ptr)
{
    for (size_t i = state.count; i-- > 0;)
        if (state.blocks[i].ptr == ptr)
            return (long)i;
    return -1;
}

static void add_block(void *ptr, size_t size)
{
    if (state.count == state.capacity) {
        size_t capacity = state.capacity ? state.capacity * 2 : 64;
        block *blocks = realloc(state.blocks, capacity * sizeof *blocks);
        if (blocks == NULL) {
            fputs("failing_alloc: out of memory for the block table\n", stderr);
            abort();
        }
        state.blocks = blocks;
        state.capacity = capacity;
    }
    state.blocks[state.count++] = (block){ptr, size};
    state.live_bytes += size;
}

static void remove_block(size_t index)
{
    state.live_bytes -= state.blocks[index].size;
    state.blocks[index] = state.blocks[--state.count];
}

/* Count one allocation call; true when it is the one that must fail. */
static bool next_call_fails(void)
{
    bool fail = state.calls == state.fail_at;
    state.calls++;
    if (fail)
        state.failure_hit = true;
    return fail;
}

static void *fa_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (next_call_fails())
        return NULL;
    void *ptr = malloc(size);
    if (ptr == NULL)
        return NULL;
    memset(ptr, FRESH_BYTE, size);
    add_block(ptr, size);
    return ptr;
}

/* The size recorded for a live block, checking the size the caller claims.
 * -1 when ptr is not live. */
static long checked_block(const char *what, const void *ptr, size_t claimed)
{
    long index = find_block(ptr);
    if (index < 0) {
        record_error("%s of %p, which is not a live block (double free?)", what, ptr);
        return -1;
    }
    size_t size = state.blocks[index].size;
    if (claimed != size)
        record_error("%s of %p with size %zu, but it was allocated with size %zu", what, ptr,
                     claimed, size);
    return index;
}

static void fa_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    long index = checked_block("free", ptr, size);
    if (index < 0)
        return; /* never hand the C library a pointer it may not own */
    memset(ptr, FREED_BYTE, state.blocks[index].size);
    remove_block((size_t)index);
    free(ptr);
}

/* Always moves the block, so that a caller that keeps the old pointer
 * reads scribbled (and, under ASan, freed) memory. */
static void *fa_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    (void)ctx;
    if (ptr == NULL)
        return fa_malloc(ctx, new_size);
    if (next_call_fails())
        return NULL;
    long index = checked_block("realloc", ptr, old_size);
    if (index < 0)
        return NULL;
    size_t real_old = state.blocks[index].size;
    void *fresh = malloc(new_size);
    if (fresh == NULL)
        return NULL;
    memset(fresh, FRESH_BYTE, new_size);
    memcpy(fresh, ptr, real_old < new_size ? real_old : new_size);
    memset(ptr, FREED_BYTE, real_old);
    remove_block((size_t)index);
    free(ptr);
    add_block(fresh, new_size);
    return fresh;
}

void failing_alloc_install(bool with_realloc)
{
    /* Forget blocks from an earlier installation without freeing them:
     * they may still be in use. */
    state.count = 0;
    state.live_bytes = 0;
    state.calls = 0;
    state.fail_at = -1;
    state.failure_hit = false;
    state.errors = 0;
    state.first_error[0] = '\0';
    state.last_error[0] = '\0';
    xbuf_allocator allocator = {fa_malloc, with_realloc ? fa_realloc : NULL, fa_free, NULL};
    if (xbuf_allocator_set(&allocator, NULL) != XBUF_OK) {
        fputs("failing_alloc: xbuf_allocator_set refused the test allocator\n", stderr);
        abort();
    }
}

void failing_alloc_uninstall(void)
{
    xbuf_allocator_set(NULL, NULL);
}

void failing_alloc_fail_at(long n)
{
    state.fail_at = n < 0 ? -1 : n;
    state.calls = 0;
    state.failure_hit = false;
}

long failing_alloc_calls(void)
{
    return state.calls;
}

bool failing_alloc_failure_hit(void)
{
    return state.failure_hit;
}

size_t failing_alloc_live_blocks(void)
{
    return state.count;
}

size_t failing_alloc_live_bytes(void)
{
    return state.live_bytes;
}

long failing_alloc_errors(void)
{
    return state.errors;
}

const char *failing_alloc_first_error(void)
{
    return state.first_error;
}

/* ---- the sweep -------------------------------------------------------- */

typedef struct snapshot {
    size_t blocks, bytes;
} snapshot;

static snapshot take_snapshot(void)
{
    return (snapshot){state.count, state.live_bytes};
}

static bool same_snapshot(snapshot a, snapshot b)
{
    return a.blocks == b.blocks && a.bytes == b.bytes;
}

static void problem(failing_alloc_report *report, long n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(failing_alloc_report *report, long n, const char *fmt, ...)
{
    if (report->problems++ > 0)
        return;
    int used = snprintf(report->message, sizeof report->message,
                        "run with allocation %ld failing: ", n);
    if (used < 0 || (size_t)used >= sizeof report->message)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(report->message + used, sizeof report->message - (size_t)used, fmt, args);
    va_end(args);
}

/* One run with allocation n failing; true when the failure was reached. */
static bool sweep_one(const failing_alloc_op *op, long n, failing_alloc_report *report)
{
    snapshot start = take_snapshot();
    long errors = state.errors;
    failing_alloc_fail_at(-1);
    if (op->setup)
        op->setup(op->ctx);
    snapshot before = take_snapshot();

    failing_alloc_fail_at(n);
    int rc = op->run(op->ctx);
    bool hit = state.failure_hit;
    failing_alloc_fail_at(-1);

    if (hit) {
        snapshot after = take_snapshot();
        if (rc == 0)
            problem(report, n, "the operation succeeded although an allocation failed");
        else if (rc != XBUF_ENOMEM)
            problem(report, n, "the operation returned %d (%s), not XBUF_ENOMEM", rc,
                    xbuf_strerror(rc));
        if (!same_snapshot(before, after))
            problem(report, n, "live blocks/bytes went from %zu/%zu to %zu/%zu", before.blocks,
                    before.bytes, after.blocks, after.bytes);
        const char *why = op->after_failure ? op->after_failure(op->ctx) : NULL;
        if (why != NULL)
            problem(report, n, "after the failure: %s", why);
    } else if (rc != 0) {
        problem(report, n, "the operation returned %d (%s) although no allocation failed", rc,
                xbuf_strerror(rc));
    }

    if (op->teardown)
        op->teardown(op->ctx);
    snapshot end = take_snapshot();
    if (!same_snapshot(start, end))
        problem(report, n, "after teardown live blocks/bytes went from %zu/%zu to %zu/%zu",
                start.blocks, start.bytes, end.blocks, end.bytes);
    if (state.errors != errors)
        problem(report, n, "allocator contract violated: %s", state.last_error);
    return hit;
}

int failing_alloc_sweep(const failing_alloc_op *op, failing_alloc_report *report)
{
    report->points = 0;
    report->problems = 0;
    report->message[0] = '\0';
    long max_points = op->max_points > 0 ? op->max_points : 100000;
    long n = 0;
    while (sweep_one(op, n, report)) {
        if (++n >= max_points) {
            problem(report, n, "the operation still allocates after %ld failure points",
                    max_points);
            break;
        }
    }
    report->points = n;
    return report->problems == 0 ? 0 : -1;
}
