/*
 * test_base.c -- version, error reporting and the allocator (xbuf/base.h).
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

#include "failing_alloc.h"

/* ---- version ---------------------------------------------------------- */

Test(version, number_matches_macros)
{
    cr_assert_eq(xbuf_version_number(), XBUF_VERSION_NUMBER);
    cr_assert_eq(XBUF_VERSION_NUMBER,
                 XBUF_VERSION_MAJOR * 10000 + XBUF_VERSION_MINOR * 100 + XBUF_VERSION_PATCH);
}

Test(version, string_matches_macros)
{
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", XBUF_VERSION_MAJOR, XBUF_VERSION_MINOR,
             XBUF_VERSION_PATCH);
    cr_assert_not_null(xbuf_version());
    cr_assert_str_eq(xbuf_version(), expected);
}

Test(version, string_agrees_with_number)
{
    int major = -1, minor = -1, patch = -1;
    cr_assert_eq(sscanf(xbuf_version(), "%d.%d.%d", &major, &minor, &patch), 3);
    cr_assert_eq(major * 10000 + minor * 100 + patch, xbuf_version_number());
}

/* ---- xbuf_strerror ------------------------------------------------------ */

static const struct {
    int code;
    const char *name;
} codes[] = {
    {XBUF_OK, "XBUF_OK"},
    {XBUF_EINVAL, "XBUF_EINVAL"},
    {XBUF_ENOMEM, "XBUF_ENOMEM"},
    {XBUF_EREQUEST, "XBUF_EREQUEST"},
    {XBUF_EEXPORTER, "XBUF_EEXPORTER"},
    {XBUF_EBUSY, "XBUF_EBUSY"},
    {XBUF_EFORMAT, "XBUF_EFORMAT"},
    {XBUF_EOVERFLOW, "XBUF_EOVERFLOW"},
    {XBUF_ERANGE, "XBUF_ERANGE"},
    {XBUF_ERELEASED, "XBUF_ERELEASED"},
    {XBUF_EUNSUPPORTED, "XBUF_EUNSUPPORTED"},
    {XBUF_ETYPE, "XBUF_ETYPE"},
    {XBUF_EREADONLY, "XBUF_EREADONLY"},
};
#define NCODES_LISTED ((int)(sizeof codes / sizeof codes[0]))

Test(strerror, codes_are_dense)
{
    cr_assert_eq(NCODES_LISTED, XBUF_NCODES);
    for (int i = 0; i < NCODES_LISTED; i++)
        cr_assert_eq(codes[i].code, -i, "%s is %d, expected %d", codes[i].name, codes[i].code,
                     -i);
}

Test(strerror, names_every_code)
{
    for (int i = 0; i < NCODES_LISTED; i++) {
        const char *text = xbuf_strerror(codes[i].code);
        cr_assert_not_null(text);
        size_t n = strlen(codes[i].name);
        cr_assert_eq(strncmp(text, codes[i].name, n), 0, "code %d: \"%s\" does not start with %s",
                     codes[i].code, text, codes[i].name);
        /* The name is followed by ':' so XBUF_E is not a prefix match of a longer name. */
        cr_assert_eq(text[n], ':', "code %d: \"%s\"", codes[i].code, text);
        cr_assert_gt(strlen(text), n + 2, "code %d has no description: \"%s\"", codes[i].code,
                     text);
    }
}

Test(strerror, texts_are_distinct)
{
    for (int i = 0; i < XBUF_NCODES; i++)
        for (int j = i + 1; j < XBUF_NCODES; j++)
            cr_assert_str_neq(xbuf_strerror(-i), xbuf_strerror(-j), "codes %d and %d", -i, -j);
}

Test(strerror, unknown_codes)
{
    const int unknown[] = {1, 2, -XBUF_NCODES, -13, -100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *text = xbuf_strerror(unknown[i]);
        cr_assert_not_null(text);
        cr_assert_str_eq(text, "unknown xbuf error code", "code %d", unknown[i]);
    }
}

/* ---- xbuf_error_* ---------------------------------------------------- */

static void fill_garbage(xbuf_error *err)
{
    memset(err, 0x5A, sizeof *err);
}

Test(error, clear_resets_everything)
{
    xbuf_error err;
    fill_garbage(&err);
    xbuf_error_clear(&err);
    cr_assert_eq(err.code, XBUF_OK);
    cr_assert_eq(err.position, -1);
    cr_assert_str_eq(err.message, "");
}

Test(error, clear_null_is_safe)
{
    xbuf_error_clear(NULL);
}

Test(error, set_null_err_returns_code)
{
    cr_assert_eq(xbuf_error_set(NULL, XBUF_EBUSY, "held %d", 3), XBUF_EBUSY);
    cr_assert_eq(xbuf_error_set(NULL, XBUF_EINVAL, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_error_set_at(NULL, XBUF_EFORMAT, 7, "bad %c", 'x'), XBUF_EFORMAT);
    cr_assert_eq(xbuf_error_set_at(NULL, XBUF_EFORMAT, 7, NULL), XBUF_EFORMAT);
}

Test(error, set_formats_message)
{
    xbuf_error err;
    fill_garbage(&err);
    int rc = xbuf_error_set(&err, XBUF_EREQUEST, "rows %s: %d of %td", "apart", 3, (ptrdiff_t)9);
    cr_assert_eq(rc, XBUF_EREQUEST);
    cr_assert_eq(err.code, XBUF_EREQUEST);
    cr_assert_eq(err.position, -1);
    cr_assert_str_eq(err.message, "rows apart: 3 of 9");
}

Test(error, set_null_fmt_uses_strerror)
{
    xbuf_error err;
    for (int code = 0; code > -XBUF_NCODES; code--) {
        fill_garbage(&err);
        cr_assert_eq(xbuf_error_set(&err, code, NULL), code);
        cr_assert_eq(err.code, code);
        cr_assert_eq(err.position, -1);
        cr_assert_str_eq(err.message, xbuf_strerror(code));
    }
    fill_garbage(&err);
    cr_assert_eq(xbuf_error_set(&err, 42, NULL), 42);
    cr_assert_str_eq(err.message, "unknown xbuf error code");
}

Test(error, set_at_records_position)
{
    xbuf_error err;
    fill_garbage(&err);
    cr_assert_eq(xbuf_error_set_at(&err, XBUF_EFORMAT, 12, "unexpected '%c'", '}'),
                 XBUF_EFORMAT);
    cr_assert_eq(err.code, XBUF_EFORMAT);
    cr_assert_eq(err.position, 12);
    cr_assert_str_eq(err.message, "unexpected '}'");

    fill_garbage(&err);
    cr_assert_eq(xbuf_error_set_at(&err, XBUF_EFORMAT, 0, NULL), XBUF_EFORMAT);
    cr_assert_eq(err.position, 0);
    cr_assert_str_eq(err.message, xbuf_strerror(XBUF_EFORMAT));

    fill_garbage(&err);
    xbuf_error_set_at(&err, XBUF_EOVERFLOW, PTRDIFF_MAX, "far");
    cr_assert_eq(err.position, PTRDIFF_MAX);
}

Test(error, set_after_set_at_resets_position)
{
    xbuf_error err;
    xbuf_error_set_at(&err, XBUF_EFORMAT, 5, "first");
    xbuf_error_set(&err, XBUF_EINVAL, "second");
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(err.position, -1);
    cr_assert_str_eq(err.message, "second");
}

Test(error, long_message_is_truncated_and_terminated)
{
    char long_text[1001];
    for (size_t i = 0; i < 1000; i++)
        long_text[i] = (char)('a' + (char)(i % 26));
    long_text[1000] = '\0';

    xbuf_error err;
    fill_garbage(&err);
    cr_assert_eq(xbuf_error_set(&err, XBUF_EINVAL, "%s", long_text), XBUF_EINVAL);
    size_t n = strnlen(err.message, sizeof err.message);
    cr_assert_lt(n, sizeof err.message, "message is not NUL-terminated within its buffer");
    cr_assert_eq(n, (size_t)XBUF_ERROR_MESSAGE_SIZE - 1, "the message should fill the buffer");
    cr_assert_eq(memcmp(err.message, long_text, n), 0, "the kept part must be the prefix");

    fill_garbage(&err);
    xbuf_error_set_at(&err, XBUF_EFORMAT, 999, "%s", long_text);
    n = strnlen(err.message, sizeof err.message);
    cr_assert_eq(n, (size_t)XBUF_ERROR_MESSAGE_SIZE - 1);
    cr_assert_eq(err.position, 999);
}

/* ---- the allocator: set/get ------------------------------------------- */

typedef struct counting_ctx {
    int mallocs, reallocs, frees;
    size_t last_size, last_old_size, last_new_size;
} counting_ctx;

static void *counting_malloc(void *ctx, size_t size)
{
    counting_ctx *c = ctx;
    c->mallocs++;
    c->last_size = size;
    return malloc(size);
}

static void *counting_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    counting_ctx *c = ctx;
    c->reallocs++;
    c->last_old_size = old_size;
    c->last_new_size = new_size;
    return realloc(ptr, new_size);
}

static void counting_free(void *ctx, void *ptr, size_t size)
{
    counting_ctx *c = ctx;
    c->frees++;
    c->last_size = size;
    free(ptr);
}

static bool same_allocator(const xbuf_allocator *a, const xbuf_allocator *b)
{
    return a->malloc == b->malloc && a->realloc == b->realloc && a->free == b->free &&
           a->ctx == b->ctx;
}

Test(allocator, get_null_is_safe)
{
    xbuf_allocator_get(NULL);
}

Test(allocator, default_is_complete)
{
    xbuf_allocator a;
    memset(&a, 0, sizeof a);
    xbuf_allocator_get(&a);
    cr_assert_not_null(a.malloc);
    cr_assert_not_null(a.free);
}

Test(allocator, set_and_get)
{
    counting_ctx c = {0};
    xbuf_allocator mine = {counting_malloc, counting_realloc, counting_free, &c};
    xbuf_error err;
    fill_garbage(&err);
    cr_assert_eq(xbuf_allocator_set(&mine, &err), XBUF_OK);
    cr_assert_eq(err.code, 0x5A5A5A5A, "a successful call must leave *err untouched");

    xbuf_allocator got;
    xbuf_allocator_get(&got);
    cr_assert(same_allocator(&got, &mine));

    void *p = xbuf_malloc(24);
    cr_assert_not_null(p);
    cr_assert_eq(c.mallocs, 1);
    cr_assert_eq(c.last_size, 24);
    p = xbuf_realloc(p, 24, 48);
    cr_assert_not_null(p);
    cr_assert_eq(c.reallocs, 1);
    cr_assert_eq(c.last_old_size, 24);
    cr_assert_eq(c.last_new_size, 48);
    xbuf_free(p, 48);
    cr_assert_eq(c.frees, 1);
    cr_assert_eq(c.last_size, 48);
    xbuf_allocator_set(NULL, NULL);
}

Test(allocator, set_rejects_missing_malloc_or_free)
{
    counting_ctx c = {0};
    xbuf_allocator mine = {counting_malloc, counting_realloc, counting_free, &c};
    cr_assert_eq(xbuf_allocator_set(&mine, NULL), XBUF_OK);

    const xbuf_allocator bad[] = {
        {NULL, counting_realloc, counting_free, NULL},
        {counting_malloc, counting_realloc, NULL, NULL},
        {NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xbuf_error err;
        xbuf_error_clear(&err);
        cr_assert_eq(xbuf_allocator_set(&bad[i], &err), XBUF_EINVAL, "case %zu", i);
        cr_assert_eq(err.code, XBUF_EINVAL);
        cr_assert_neq(err.message[0], '\0', "case %zu: no message", i);
        cr_assert_eq(xbuf_allocator_set(&bad[i], NULL), XBUF_EINVAL, "case %zu, NULL err", i);

        xbuf_allocator got;
        xbuf_allocator_get(&got);
        cr_assert(same_allocator(&got, &mine), "case %zu changed the allocator", i);
    }
    void *p = xbuf_malloc(8);
    cr_assert_eq(c.mallocs, 1, "the previous allocator must still be in force");
    xbuf_free(p, 8);
    xbuf_allocator_set(NULL, NULL);
}

Test(allocator, realloc_hook_may_be_null)
{
    counting_ctx c = {0};
    xbuf_allocator mine = {counting_malloc, NULL, counting_free, &c};
    cr_assert_eq(xbuf_allocator_set(&mine, NULL), XBUF_OK);
    xbuf_allocator got;
    xbuf_allocator_get(&got);
    cr_assert(same_allocator(&got, &mine));
    cr_assert_null(got.realloc);
    xbuf_allocator_set(NULL, NULL);
}

Test(allocator, null_restores_default)
{
    xbuf_allocator original;
    xbuf_allocator_get(&original);

    counting_ctx c = {0};
    xbuf_allocator mine = {counting_malloc, counting_realloc, counting_free, &c};
    cr_assert_eq(xbuf_allocator_set(&mine, NULL), XBUF_OK);
    cr_assert_eq(xbuf_allocator_set(NULL, NULL), XBUF_OK);

    xbuf_allocator got;
    xbuf_allocator_get(&got);
    cr_assert(same_allocator(&got, &original));

    void *p = xbuf_malloc(16);
    cr_assert_not_null(p);
    p = xbuf_realloc(p, 16, 64);
    cr_assert_not_null(p);
    xbuf_free(p, 64);
    cr_assert_eq(c.mallocs + c.reallocs + c.frees, 0, "the replaced allocator was called");
}

/* ---- xbuf_malloc / xbuf_malloc_array / xbuf_free ----------------------- */

Test(malloc, zero_bytes_gives_unique_pointers)
{
    failing_alloc_install(true);
    void *a = xbuf_malloc(0);
    void *b = xbuf_malloc(0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    cr_assert_eq(failing_alloc_live_blocks(), 2);
    xbuf_free(a, 0);
    xbuf_free(b, 0);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
}

Test(malloc, zero_bytes_default_allocator)
{
    void *a = xbuf_malloc(0);
    void *b = xbuf_malloc(0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    xbuf_free(a, 0);
    xbuf_free(b, 0);
}

Test(malloc, memory_is_usable_and_aligned)
{
    failing_alloc_install(true);
    unsigned char *p = xbuf_malloc(100);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % _Alignof(max_align_t), 0);
    memset(p, 7, 100);
    cr_assert_eq(failing_alloc_live_bytes(), 100);
    xbuf_free(p, 100);
    cr_assert_eq(failing_alloc_live_bytes(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
}

Test(malloc, failure_returns_null)
{
    failing_alloc_install(true);
    failing_alloc_fail_at(0);
    cr_assert_null(xbuf_malloc(10));
    cr_assert(failing_alloc_failure_hit());
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    void *p = xbuf_malloc_array(2, 5);
    cr_assert_not_null(p, "only the scheduled call may fail");
    cr_assert_eq(failing_alloc_live_blocks(), 1);
    xbuf_free(p, 10);
}

Test(malloc_array, multiplies)
{
    failing_alloc_install(true);
    void *p = xbuf_malloc_array(7, 12);
    cr_assert_not_null(p);
    cr_assert_eq(failing_alloc_live_bytes(), 84);
    xbuf_free(p, 84);
    p = xbuf_malloc_array(0, 12);
    cr_assert_not_null(p, "an empty array is a successful zero-byte allocation");
    xbuf_free(p, 0);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
}

Test(malloc_array, overflow_gives_null_without_allocating)
{
    failing_alloc_install(true);
    cr_assert_null(xbuf_malloc_array(SIZE_MAX / 2 + 1, 2));
    cr_assert_null(xbuf_malloc_array(2, SIZE_MAX / 2 + 1));
    cr_assert_null(xbuf_malloc_array(SIZE_MAX, SIZE_MAX));
    cr_assert_null(xbuf_malloc_array((size_t)1 << (sizeof(size_t) * 4),
                                     (size_t)1 << (sizeof(size_t) * 4)));
    cr_assert_eq(failing_alloc_calls(), 0, "an overflowing request must not reach the allocator");
}

Test(free, null_is_harmless)
{
    failing_alloc_install(true);
    xbuf_free(NULL, 0);
    xbuf_free(NULL, 123);
    cr_assert_eq(failing_alloc_errors(), 0, "xbuf_free(NULL) reached the allocator: %s",
                 failing_alloc_first_error());
    xbuf_allocator_set(NULL, NULL);
    xbuf_free(NULL, 5); /* the default allocator too */
}

/* ---- xbuf_realloc ------------------------------------------------------ */

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static bool has_pattern(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return false;
    return true;
}

static void check_realloc_grow_shrink(bool with_realloc)
{
    failing_alloc_install(with_realloc);
    unsigned char *p = xbuf_malloc(16);
    cr_assert_not_null(p);
    fill_pattern(p, 16, 3);

    failing_alloc_fail_at(-1);
    unsigned char *q = xbuf_realloc(p, 16, 40);
    cr_assert_not_null(q);
    cr_assert(has_pattern(q, 16, 3), "growing must keep the old bytes");
    cr_assert_eq(failing_alloc_live_blocks(), 1, "the old block must be freed");
    cr_assert_eq(failing_alloc_live_bytes(), 40);
    /* one realloc call with the hook, one malloc call without it */
    cr_assert_eq(failing_alloc_calls(), 1);
    fill_pattern(q, 40, 11);

    unsigned char *r = xbuf_realloc(q, 40, 8);
    cr_assert_not_null(r);
    cr_assert(has_pattern(r, 8, 11), "shrinking must keep the first new_size bytes");
    cr_assert_eq(failing_alloc_live_blocks(), 1);
    cr_assert_eq(failing_alloc_live_bytes(), 8);

    xbuf_free(r, 8);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
}

Test(realloc, with_hook_grows_and_shrinks)
{
    check_realloc_grow_shrink(true);
}

Test(realloc, emulated_grows_and_shrinks)
{
    check_realloc_grow_shrink(false);
}

Test(realloc, emulated_path_uses_malloc_copy_free)
{
    counting_ctx c = {0};
    xbuf_allocator mine = {counting_malloc, NULL, counting_free, &c};
    cr_assert_eq(xbuf_allocator_set(&mine, NULL), XBUF_OK);
    unsigned char *p = xbuf_malloc(10);
    fill_pattern(p, 10, 1);
    unsigned char *q = xbuf_realloc(p, 10, 30);
    cr_assert_not_null(q);
    cr_assert_eq(c.mallocs, 2);
    cr_assert_eq(c.frees, 1);
    cr_assert_eq(c.last_size, 10, "the old block is freed with its own size");
    cr_assert(has_pattern(q, 10, 1));
    xbuf_free(q, 30);
    xbuf_allocator_set(NULL, NULL);
}

static void check_realloc_failure(bool with_realloc)
{
    failing_alloc_install(with_realloc);
    unsigned char *p = xbuf_malloc(32);
    cr_assert_not_null(p);
    fill_pattern(p, 32, 5);
    failing_alloc_fail_at(0);
    cr_assert_null(xbuf_realloc(p, 32, 64));
    cr_assert(failing_alloc_failure_hit());
    cr_assert_eq(failing_alloc_live_blocks(), 1, "the old block must stay alive");
    cr_assert_eq(failing_alloc_live_bytes(), 32);
    cr_assert(has_pattern(p, 32, 5), "the old block's contents must be intact");
    xbuf_free(p, 32);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
}

Test(realloc, with_hook_failure_keeps_old_block)
{
    check_realloc_failure(true);
}

Test(realloc, emulated_failure_keeps_old_block)
{
    check_realloc_failure(false);
}

Test(realloc, null_pointer_allocates)
{
    for (int with_realloc = 0; with_realloc <= 1; with_realloc++) {
        failing_alloc_install(with_realloc != 0);
        void *p = xbuf_realloc(NULL, 0, 20);
        cr_assert_not_null(p);
        cr_assert_eq(failing_alloc_live_blocks(), 1);
        cr_assert_eq(failing_alloc_live_bytes(), 20);
        xbuf_free(p, 20);
        cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
    }
}

Test(realloc, zero_sizes_are_consistent)
{
    /* A block made with xbuf_malloc(0) can be grown with old_size 0, and a
     * block shrunk to 0 can be freed with size 0. */
    for (int with_realloc = 0; with_realloc <= 1; with_realloc++) {
        failing_alloc_install(with_realloc != 0);
        void *p = xbuf_malloc(0);
        cr_assert_not_null(p);
        p = xbuf_realloc(p, 0, 12);
        cr_assert_not_null(p);
        p = xbuf_realloc(p, 12, 0);
        cr_assert_not_null(p);
        xbuf_free(p, 0);
        cr_assert_eq(failing_alloc_live_blocks(), 0);
        cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
    }
}

/* ---- the test allocator itself --------------------------------------- */

Test(failing_alloc, detects_wrong_size_and_double_free)
{
    failing_alloc_install(true);
    void *p = xbuf_malloc(10);
    xbuf_free(p, 11);
    cr_assert_eq(failing_alloc_errors(), 1);
    cr_assert_not_null(strstr(failing_alloc_first_error(), "size 11"), "%s",
                       failing_alloc_first_error());
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    xbuf_free(p, 10);
    cr_assert_eq(failing_alloc_errors(), 2);
    void *q = xbuf_malloc(4);
    q = xbuf_realloc(q, 5, 8);
    cr_assert_not_null(q, "a realloc with the wrong size is reported, then done");
    cr_assert_eq(failing_alloc_errors(), 3);
    cr_assert_eq(failing_alloc_live_bytes(), 8);
    xbuf_free(q, 8);
    cr_assert_eq(failing_alloc_errors(), 3);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
}

Test(failing_alloc, fails_only_the_scheduled_call)
{
    failing_alloc_install(false);
    failing_alloc_fail_at(2);
    void *a = xbuf_malloc(1), *b = xbuf_malloc(1), *c = xbuf_malloc(1), *d = xbuf_malloc(1);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_null(c);
    cr_assert_not_null(d);
    cr_assert_eq(failing_alloc_calls(), 4);
    cr_assert(failing_alloc_failure_hit());
    xbuf_free(a, 1);
    xbuf_free(b, 1);
    xbuf_free(d, 1);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
}

typedef struct leaky_ctx {
    void *blocks[3];
    int leak_on_failure;
} leaky_ctx;

static int leaky_run(void *ctx)
{
    leaky_ctx *c = ctx;
    for (int i = 0; i < 3; i++) {
        c->blocks[i] = xbuf_malloc(8);
        if (c->blocks[i] == NULL) {
            for (int j = 0; j < i - c->leak_on_failure; j++)
                xbuf_free(c->blocks[j], 8);
            memset(c->blocks, 0, sizeof c->blocks);
            return XBUF_ENOMEM;
        }
    }
    return 0;
}

static void leaky_teardown(void *ctx)
{
    leaky_ctx *c = ctx;
    for (int i = 0; i < 3; i++)
        xbuf_free(c->blocks[i], 8);
    memset(c->blocks, 0, sizeof c->blocks);
}

Test(failing_alloc, sweep_passes_a_correct_operation)
{
    failing_alloc_install(true);
    leaky_ctx c = {{NULL}, 0};
    failing_alloc_op op = {NULL, leaky_run, NULL, leaky_teardown, &c, 0};
    failing_alloc_report report;
    cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "%s", report.message);
    cr_assert_eq(report.points, 3);
    cr_assert_eq(report.problems, 0);
}

Test(failing_alloc, sweep_catches_a_leak)
{
    failing_alloc_install(true);
    leaky_ctx c = {{NULL}, 1};
    failing_alloc_op op = {NULL, leaky_run, NULL, leaky_teardown, &c, 0};
    failing_alloc_report report;
    cr_assert_eq(failing_alloc_sweep(&op, &report), -1);
    cr_assert_eq(report.points, 3);
    cr_assert_eq(report.problems, 4, "failures at 1 and 2 leak; checked twice each");
    cr_assert_not_null(strstr(report.message, "allocation 1 failing"), "%s", report.message);
}
