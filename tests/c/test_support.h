/*
 * test_support.h -- what the Criterion suites share: the counting
 * allocator's set-up and final check, and assertions on xbuf calls that
 * print the code's name and the message.
 */
#ifndef XBUF_TEST_SUPPORT_H
#define XBUF_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"

/* Every xbuf allocation through the counting allocator (realloc too):
 * use as a suite's .init. */
static inline void begin(void)
{
    failing_alloc_install(true);
}

/* Nothing xbuf allocated is still live, and every free had the right size. */
static inline void finish(void)
{
    cr_assert_eq(failing_alloc_errors(), 0, "allocator contract violated: %s",
                 failing_alloc_first_error());
    cr_assert_eq(failing_alloc_live_blocks(), 0, "%zu blocks (%zu bytes) leaked",
                 failing_alloc_live_blocks(), failing_alloc_live_bytes());
}

/* product(shape): the items of a view of that shape. */
static inline ptrdiff_t item_count(int ndim, const ptrdiff_t *shape)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* The next index in C order; false after the last. */
static inline bool next_index(int ndim, const ptrdiff_t *shape, ptrdiff_t *idx)
{
    for (int i = ndim - 1; i >= 0; i--) {
        if (++idx[i] < shape[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

/* The oracle's address of an item, written from PEP 3118 alone: strides,
 * then the pointer at each dimension with a suboffset >= 0. */
static inline char *ref_ptr(const xbuf_view *v, const ptrdiff_t *idx)
{
    char *p = v->buf;
    for (int i = 0; i < v->ndim; i++) {
        p += idx[i] * v->strides[i];
        if (v->suboffsets != NULL && v->suboffsets[i] >= 0) {
            char *q;
            memcpy(&q, p, sizeof q);
            p = q + v->suboffsets[i];
        }
    }
    return p;
}

/* These need a local `xbuf_error err`. */
#define MUST(expr)                                                                           \
    do {                                                                                     \
        int must_rc_ = (expr);                                                               \
        cr_assert_eq(must_rc_, XBUF_OK, "%s failed with %s: %s", #expr,                      \
                     xbuf_strerror(must_rc_), err.message);                                  \
    } while (0)

/* The call fails with want_code, and says so in err with a message. */
#define FAILS(expr, want_code)                                                               \
    do {                                                                                     \
        xbuf_error_clear(&err);                                                              \
        int fails_rc_ = (expr);                                                              \
        cr_assert_eq(fails_rc_, (want_code), "%s returned %d (%s), expected %s; message: %s",\
                     #expr, fails_rc_, xbuf_strerror(fails_rc_), xbuf_strerror(want_code),   \
                     err.message);                                                           \
        cr_assert_eq(err.code, fails_rc_, "%s: err.code %d differs from the result", #expr,  \
                     err.code);                                                              \
        cr_assert_neq(err.message[0], '\0', "%s: no error message", #expr);                  \
    } while (0)

#define SAYS(needle)                                                                         \
    cr_assert(strstr(err.message, (needle)) != NULL, "message \"%s\" does not say \"%s\"",   \
              err.message, (needle))

#endif /* XBUF_TEST_SUPPORT_H */
