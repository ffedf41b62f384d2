/*
 * xbuf/conformance.h -- layer 1 tooling: does an exporter follow the
 * protocol?
 *
 * xbuf_get() protects a consumer from one bad answer.  The checker here
 * looks for the exporter's author: it makes every request PEP 3118 defines
 * (each combination of flags xbuf_flags_check accepts, 72 in all, WRITABLE
 * with and without), calling the exporter's get hook directly so that no
 * broken answer is hidden, and reports every way the answers break the
 * protocol or disagree with each other:
 *
 *   - an answer xbuf_view_check rejects for its request (fields present or
 *     absent as requested; len, itemsize, shape and strides consistent;
 *     suboffsets only with INDIRECT; contiguity as requested), with that
 *     function's message;
 *   - a format that does not parse, or that describes another number of
 *     bytes per item than the itemsize the exporter declared (ctypes does
 *     this: cpython #76961);
 *   - answers that disagree with the *reference* answer -- the answer to
 *     FULL_RO, or to the first request served when FULL_RO is refused:
 *     another len, itemsize, shape or format, other readonly-ness among
 *     requests that agree on WRITABLE, or items at other addresses (the
 *     same bytes in the same C order, whatever the strides say);
 *   - WRITABLE handled inconsistently: refusing R|WRITABLE after answering
 *     R with a writable view, or refusing R after answering R|WRITABLE;
 *   - refusals that break the rules: a view not left zeroed, a positive
 *     return, a code that is not an XBUF_E* code, no message, a message set
 *     with another code than the one returned, or XBUF_EEXPORTER (the hook
 *     saying "I broke the protocol", which is what wrappers such as the
 *     Python glue return for an exporter below them that misbehaved).
 *
 * A refusal is not a problem: an exporter may serve as few requests as it
 * likes, as long as it refuses the others cleanly.
 *
 * What it cannot see: how much memory the exporter really has (strides
 * that leave the buffer are caught only when another answer disagrees),
 * and whether the release hook gave the export back (the exporter's own
 * counter is private; the Python glue compares reference counts instead).
 *
 * The check holds the reference answer for its whole run, so that the
 * exporter may not move its memory between answers; every other answer is
 * released before the next request.  Every view taken is released before
 * xbuf_exporter_check returns, whatever it returns.  It reads the view's
 * metadata, and the pointer tables of indirect views (to compare item
 * addresses), never the items.
 */
#ifndef XBUF_CONFORMANCE_H
#define XBUF_CONFORMANCE_H

#include <stddef.h>

#include "base.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer of this size holds the name of any request flags. */
#define XBUF_FLAGS_NAME_SIZE 96

/*
 * Name request flags, as the checker's messages do: "SIMPLE", "FULL",
 * "FULL_RO", otherwise the flags a request is made of joined by '|' --
 * the strongest of INDIRECT, C_CONTIGUOUS, F_CONTIGUOUS, ANY_CONTIGUOUS,
 * STRIDES, ND (implied flags are not repeated: C_CONTIGUOUS implies
 * STRIDES), then FORMAT and WRITABLE, then any bits left over in hex:
 * "STRIDES|FORMAT", "C_CONTIGUOUS|WRITABLE", "INDIRECT|ANY_CONTIGUOUS",
 * "ND|0x200".  Invalid flags are named too (a lone C_CONTIGUOUS bit
 * prints as "0x20").
 *
 * Writes a NUL-terminated name into buf (capacity `size`;
 * XBUF_FLAGS_NAME_SIZE always suffices); *length (may be NULL) receives
 * the full length without the NUL.  XBUF_EINVAL for NULL buf with size
 * > 0; XBUF_ERANGE when the name does not fit (buf then holds a truncated,
 * NUL-terminated prefix when size > 0, and *length the size needed).
 * buf may be NULL with size 0 to ask for the length only.
 */
XBUF_API int xbuf_flags_print(int flags, char *buf, size_t size, size_t *length,
                              xbuf_error *err);

/* One problem the checker found. */
typedef struct xbuf_problem {
    int flags;           /* the request whose answer or refusal shows it */
    const char *message; /* "request STRIDES|FORMAT: <detail>" */
    const char *detail;  /* the part of message after "request ...: " */
} xbuf_problem;

/* Called once per problem.  The problem and its strings are valid only
 * during the call (copy what you keep).  Return 0 to go on, or a positive
 * value to stop the check, which then returns that value.  The visitor must
 * not call the exporter. */
typedef int (*xbuf_problem_visitor)(const xbuf_problem *problem, void *context);

/* What a check did, for a summary line. */
typedef struct xbuf_check_summary {
    int requests;       /* requests made: 72 for a check that ran to its end */
    int answered;       /* of those, answered (correctly or not) */
    int refused;        /* of those, refused (correctly or not) */
    ptrdiff_t problems; /* problems reported to the visitor */
} xbuf_check_summary;

/*
 * Check `exporter` against the protocol (see the top of this file) and
 * report each problem to `visit`.  A problem that several requests show
 * (the same detail text) is reported once, for the first request that
 * showed it, so the visitor sees a list of distinct problems (after 256
 * distinct ones, repeats are no longer recognised).
 *
 * exporter must not be NULL and must have a get hook.  visit may be NULL
 * (the problems are then only counted); context is passed to it unchanged.
 * summary may be NULL; when it is not, it is filled on every return with
 * the counts so far.
 *
 * Returns 0 when the check ran to its end (whether or not it found
 * problems: see summary->problems), the visitor's return value when it
 * stopped the check, or a negative code with a message in *err:
 *   XBUF_EINVAL  exporter or its get hook is NULL (nothing is requested);
 *   XBUF_ENOMEM  the checker could not allocate (it parses formats).
 * Views taken so far are released in every case.  An exporter that crashes
 * or corrupts memory will do so here too: run unknown exporters in a
 * process you can lose.
 */
XBUF_API int xbuf_exporter_check(xbuf_exporter *exporter, xbuf_problem_visitor visit,
                                 void *context, xbuf_check_summary *summary, xbuf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_CONFORMANCE_H */
