/*
 * xbuf/base.h -- version, export macros, error reporting and the allocator.
 *
 * Everything else in xbuf builds on the three contracts in this file:
 *
 *   Errors.  Every function that can fail returns an int: 0 (XBUF_OK) on
 *   success or a negative XBUF_E* code.  It also takes an optional
 *   `xbuf_error *err` as its last argument.  `err` may be NULL; when it is
 *   not, a failing call stores the code and a human-readable message in it
 *   (and, for format errors, the byte position).  A successful call leaves
 *   `*err` untouched.  No xbuf function prints, aborts or exits on bad input.
 *
 *   Allocation.  Every byte xbuf allocates goes through one allocator, which
 *   an embedding program may replace with xbuf_allocator_set() before it
 *   makes any other xbuf call.  Allocation failure is reported as
 *   XBUF_ENOMEM, never by crashing.
 *
 *   Threads.  There is no global mutable state apart from the allocator.
 */
#ifndef XBUF_BASE_H
#define XBUF_BASE_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version -------------------------------------------------------- */

#define XBUF_VERSION_MAJOR 0
#define XBUF_VERSION_MINOR 1
#define XBUF_VERSION_PATCH 0
#define XBUF_VERSION_NUMBER \
    (XBUF_VERSION_MAJOR * 10000 + XBUF_VERSION_MINOR * 100 + XBUF_VERSION_PATCH)

/* ---- symbol export -------------------------------------------------- */

/* The library is built with hidden visibility; only XBUF_API symbols are
 * exported.  Define XBUF_STATIC when linking the static library on Windows. */
#if defined(_WIN32) && !defined(XBUF_STATIC)
#  ifdef XBUF_BUILDING
#    define XBUF_API __declspec(dllexport)
#  else
#    define XBUF_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define XBUF_API __attribute__((visibility("default")))
#else
#  define XBUF_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define XBUF_PRINTF(fmt_index, first_arg) \
       __attribute__((format(printf, fmt_index, first_arg)))
#else
#  define XBUF_PRINTF(fmt_index, first_arg)
#endif

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH" and as
 * XBUF_VERSION_NUMBER would compute it.  Never fail. */
XBUF_API const char *xbuf_version(void);
XBUF_API int xbuf_version_number(void);

/* ---- errors ---------------------------------------------------------- */

/* Error codes.  The Python layer maps each to the exception memoryview
 * raises in the same situation; the mapping is given beside each code. */
enum {
    XBUF_OK = 0,
    XBUF_EINVAL = -1,      /* caller misuse: NULL, bad flag, bad argument (ValueError) */
    XBUF_ENOMEM = -2,      /* the allocator returned NULL (MemoryError) */
    XBUF_EREQUEST = -3,    /* the exporter cannot serve this request (BufferError) */
    XBUF_EEXPORTER = -4,   /* the exporter broke the protocol (BufferError) */
    XBUF_EBUSY = -5,       /* refused while views are held (BufferError) */
    XBUF_EFORMAT = -6,     /* malformed format string (ValueError) */
    XBUF_EOVERFLOW = -7,   /* a size or offset does not fit in ptrdiff_t (OverflowError) */
    XBUF_ERANGE = -8,      /* an index or value is out of range (IndexError) */
    XBUF_ERELEASED = -9,   /* operation on a released view (ValueError) */
    XBUF_EUNSUPPORTED = -10, /* valid, but not supported (NotImplementedError) */
    XBUF_ETYPE = -11,      /* wrong kind of operand, e.g. mismatched formats (TypeError) */
    XBUF_EREADONLY = -12   /* write to read-only memory (TypeError) */
};

/* Number of distinct codes, XBUF_OK included: codes are 0 .. -(XBUF_NCODES-1). */
#define XBUF_NCODES 13

#define XBUF_ERROR_MESSAGE_SIZE 256

/* Filled in by a failing call when the caller passes one.  Put it on the
 * stack; it holds no pointers and needs no cleanup. */
typedef struct xbuf_error {
    int code;           /* the XBUF_E* code the call returned */
    ptrdiff_t position; /* byte position in the input the error refers to, or -1 */
    char message[XBUF_ERROR_MESSAGE_SIZE]; /* NUL-terminated, may be truncated */
} xbuf_error;

/* The symbolic name and meaning of a code, e.g. "XBUF_EBUSY: views are held".
 * Unknown codes give "unknown xbuf error code".  Never returns NULL. */
XBUF_API const char *xbuf_strerror(int code);

/* Reset *err to "no error" (code 0, position -1, empty message).  NULL-safe. */
XBUF_API void xbuf_error_clear(xbuf_error *err);

/* Record a failure in *err and return `code`, so an exporter can write
 *     return xbuf_error_set(err, XBUF_EREQUEST, "rows are not contiguous");
 * `err` may be NULL (the message is then dropped).  A NULL `fmt` stores
 * xbuf_strerror(code).  Messages longer than the buffer are truncated. */
XBUF_API int xbuf_error_set(xbuf_error *err, int code, const char *fmt, ...)
    XBUF_PRINTF(3, 4);

/* As xbuf_error_set, also recording the byte position the error refers to. */
XBUF_API int xbuf_error_set_at(xbuf_error *err, int code, ptrdiff_t position,
                               const char *fmt, ...) XBUF_PRINTF(4, 5);

/* ---- allocator ------------------------------------------------------ */

/* The allocator every xbuf allocation goes through.  `realloc` may be NULL,
 * in which case xbuf emulates it with malloc + copy + free.  The functions
 * receive `ctx` unchanged.  `malloc` must return memory aligned for any
 * object type, as malloc(3) does, and may return NULL to signal failure. */
typedef struct xbuf_allocator {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} xbuf_allocator;

/* Replace the allocator; NULL restores the default (the C library's).  Call
 * it before any other xbuf call, and never while memory from the previous
 * allocator is still alive: memory is always freed by the allocator that
 * was in force when xbuf_free is called.  Returns XBUF_EINVAL (and changes
 * nothing) when `malloc` or `free` is NULL.  Not thread-safe by design. */
XBUF_API int xbuf_allocator_set(const xbuf_allocator *allocator, xbuf_error *err);

/* Copy the allocator in force into *out (NULL-safe). */
XBUF_API void xbuf_allocator_get(xbuf_allocator *out);

/* Allocate through the xbuf allocator.  Exporters may use these so that an
 * embedding program's allocator and the tests' failure injection see them.
 * xbuf_malloc(0) returns a unique non-NULL pointer or NULL on failure.
 * xbuf_malloc_array fails (NULL) when count * size overflows.  Sizes passed
 * to xbuf_realloc/xbuf_free must be the ones the block was allocated with.
 * xbuf_free(NULL, n) does nothing.  On failure xbuf_realloc returns NULL
 * and leaves the old block alive. */
XBUF_API void *xbuf_malloc(size_t size);
XBUF_API void *xbuf_malloc_array(size_t count, size_t size);
XBUF_API void *xbuf_realloc(void *ptr, size_t old_size, size_t new_size);
XBUF_API void xbuf_free(void *ptr, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_BASE_H */
