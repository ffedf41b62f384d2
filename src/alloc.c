/*
 * alloc.c -- the one allocator every xbuf allocation goes through.
 *
 * The allocator is the library's only global mutable state.  It is set
 * before first use (DESIGN.md, Threads), so reading it needs no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *default_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    (void)ctx;
    (void)old_size;
    return realloc(ptr, new_size);
}

static void default_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const xbuf_allocator default_allocator = {default_malloc, default_realloc, default_free,
                                                 NULL};

static xbuf_allocator current = {default_malloc, default_realloc, default_free, NULL};

int xbuf_allocator_set(const xbuf_allocator *allocator, xbuf_error *err)
{
    if (allocator == NULL) {
        current = default_allocator;
        return XBUF_OK;
    }
    RETURN_ERROR_IF(allocator->malloc == NULL || allocator->free == NULL, err, XBUF_EINVAL,
                    "allocator needs malloc and free functions");
    current = *allocator;
    return XBUF_OK;
}

void xbuf_allocator_get(xbuf_allocator *out)
{
    if (out != NULL)
        *out = current;
}

/* Zero-byte requests get one byte, so that success is always non-NULL. */
void *xbuf_malloc(size_t size)
{
    return current.malloc(current.ctx, size == 0 ? 1 : size);
}

void *xbuf_malloc_array(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return NULL;
    return xbuf_malloc(total);
}

void xbuf_free(void *ptr, size_t size)
{
    if (ptr != NULL)
        current.free(current.ctx, ptr, size == 0 ? 1 : size);
}

void *xbuf_realloc(void *ptr, size_t old_size, size_t new_size)
{
    if (ptr == NULL)
        return xbuf_malloc(new_size);
    old_size = old_size == 0 ? 1 : old_size;
    new_size = new_size == 0 ? 1 : new_size;
    if (current.realloc != NULL)
        return current.realloc(current.ctx, ptr, old_size, new_size);
    void *fresh = current.malloc(current.ctx, new_size);
    if (fresh == NULL)
        return NULL;
    memcpy(fresh, ptr, old_size < new_size ? old_size : new_size);
    current.free(current.ctx, ptr, old_size);
    return fresh;
}
