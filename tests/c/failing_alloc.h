/*
 * failing_alloc.h -- a counting, checking, failure-injecting allocator for
 * the C tests.
 *
 * failing_alloc_install() puts it in force with xbuf_allocator_set().  From
 * then on it
 *
 *   counts the live blocks and live bytes, remembering each block's size, so
 *   that a leak shows as a live count that does not return to where it was;
 *
 *   checks every free and realloc: the size xbuf passes must be the size the
 *   block was allocated with (the allocator's sized-free contract), and the
 *   pointer must be live (a double free or a foreign pointer is caught and
 *   NOT passed to the C library).  Each violation is counted in
 *   failing_alloc_errors() and the first one is described by
 *   failing_alloc_first_error();
 *
 *   makes one chosen allocation fail: after failing_alloc_fail_at(n), the
 *   n-th allocation call from then on (0-based; malloc and realloc calls
 *   both count, frees do not) returns NULL.  Only that one call fails.
 *
 * Fresh blocks are filled with 0xA5 and freed blocks with 0xDD, so code that
 * relies on memory being zeroed, or reads freed memory, sees garbage.
 *
 * The state is global and not thread-safe; Criterion runs each test in its
 * own process, so tests do not see each other's counts.  A test that
 * installs the allocator may leave it installed at exit.
 */
#ifndef XBUF_TESTS_FAILING_ALLOC_H
#define XBUF_TESTS_FAILING_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Install the allocator and reset every counter (live counts, errors, the
 * call count; no failure scheduled).  With `with_realloc` false the
 * allocator has no realloc hook, so xbuf emulates realloc with malloc +
 * copy + free.  Blocks allocated before installing are unknown to it: do
 * not let xbuf free them while it is installed. */
void failing_alloc_install(bool with_realloc);

/* Restore xbuf's default allocator.  Blocks still live stay valid (they
 * come from the C library's malloc), and the counters keep their values. */
void failing_alloc_uninstall(void);

/* Schedule the n-th allocation call from now (0-based) to fail; n < 0
 * cancels.  Restarts failing_alloc_calls() at 0 and clears
 * failing_alloc_failure_hit(). */
void failing_alloc_fail_at(long n);

/* Allocation calls (malloc and realloc hooks) since install / fail_at. */
long failing_alloc_calls(void);

/* Whether the scheduled failure has happened since the last fail_at. */
bool failing_alloc_failure_hit(void);

/* Blocks and bytes currently allocated through the allocator. */
size_t failing_alloc_live_blocks(void);
size_t failing_alloc_live_bytes(void);

/* Contract violations seen (wrong size at free or realloc, free or realloc
 * of a pointer that is not live) and a description of the first one ("" if
 * none). */
long failing_alloc_errors(void);
const char *failing_alloc_first_error(void);

/*
 * The allocation-failure sweep.  For n = 0, 1, 2, ... it runs
 *
 *     setup(ctx)       with no failure scheduled (may be NULL);
 *     run(ctx)         with allocation n made to fail;
 *     after_failure(ctx) when allocation n did fail (may be NULL);
 *     teardown(ctx)    with no failure scheduled (may be NULL);
 *
 * and stops after the first run in which allocation n was never reached
 * (the operation made only n allocations).  It records a problem when
 *   - allocation n failed and run returned anything but XBUF_ENOMEM;
 *   - allocation n failed and run returned 0 (it swallowed the failure);
 *   - allocation n failed and the live blocks or bytes differ from what
 *     they were just before run (a leak, or a half-done change);
 *   - after_failure returned a message (its own check of "nothing
 *     changed, still usable"; return NULL when all is well);
 *   - run returned non-zero although no allocation failed;
 *   - after teardown the live blocks or bytes differ from before setup;
 *   - the allocator saw a contract violation (wrong size, double free);
 *   - no run succeeded within max_points (0 means 100000).
 * run should store whatever it creates in ctx so that teardown can free it.
 * The allocator must be installed.  Returns 0 when there was no problem,
 * else -1 with the first problem in report->message.
 */
typedef struct failing_alloc_op {
    void (*setup)(void *ctx);
    int (*run)(void *ctx);
    const char *(*after_failure)(void *ctx);
    void (*teardown)(void *ctx);
    void *ctx;
    long max_points;
} failing_alloc_op;

typedef struct failing_alloc_report {
    long points;   /* failure points exercised: the allocations a clean run makes */
    long problems; /* problems found over all runs */
    char message[512]; /* "run with allocation N failing: ..." for the first problem */
} failing_alloc_report;

int failing_alloc_sweep(const failing_alloc_op *op, failing_alloc_report *report);

#endif /* XBUF_TESTS_FAILING_ALLOC_H */
