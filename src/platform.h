/*
 * platform.h -- every compiler- and platform-specific choice in one place.
 *
 * xbuf is C11, but two things are not portable in C11 itself: checked
 * arithmetic and atomics on a plain integer that is part of a public
 * struct (a public header cannot use _Atomic without breaking C++ users).
 */
#ifndef XBUF_PLATFORM_H
#define XBUF_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#if !defined(__GNUC__) && !defined(__clang__)
#  error "xbuf needs GCC or Clang builtins (checked arithmetic, __atomic); port platform.h"
#endif

#define XBUF_HIDDEN __attribute__((visibility("hidden")))
#define XBUF_LIKELY(x) __builtin_expect(!!(x), 1)
#define XBUF_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Checked arithmetic: true when the result overflowed (then *r is garbage). */
static inline bool xbuf_mul_overflow(ptrdiff_t a, ptrdiff_t b, ptrdiff_t *r)
{
    return __builtin_mul_overflow(a, b, r);
}

static inline bool xbuf_add_overflow(ptrdiff_t a, ptrdiff_t b, ptrdiff_t *r)
{
    return __builtin_add_overflow(a, b, r);
}

static inline bool xbuf_sub_overflow(ptrdiff_t a, ptrdiff_t b, ptrdiff_t *r)
{
    return __builtin_sub_overflow(a, b, r);
}

/* Atomics on a ptrdiff_t shared between threads.  Acquire/release ordering:
 * an export taken on one thread happens-before its release on another. */
static inline ptrdiff_t xbuf_atomic_load(const ptrdiff_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void xbuf_atomic_store(ptrdiff_t *p, ptrdiff_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Replace *p by `desired` if it holds *expected; else load it into *expected. */
static inline bool xbuf_atomic_cas(ptrdiff_t *p, ptrdiff_t *expected, ptrdiff_t desired)
{
    return __atomic_compare_exchange_n(p, expected, desired, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

#endif /* XBUF_PLATFORM_H */
