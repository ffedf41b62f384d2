/*
 * test_exports.c -- export accounting (xbuf_exports_*).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

static void fill_garbage(xbuf_error *err)
{
    memset(err, 0x5A, sizeof *err);
}

static bool err_untouched(const xbuf_error *err)
{
    xbuf_error garbage;
    fill_garbage(&garbage);
    return memcmp(err, &garbage, sizeof garbage) == 0;
}

/* ---- initialisation ---------------------------------------------------- */

Test(exports, static_init_is_zero)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    cr_assert_eq(e.state_, 0);
    cr_assert_eq(xbuf_exports_count(&e), 0);
    cr_assert_eq(xbuf_exports_check_resize(&e, NULL), XBUF_OK);
}

Test(exports, init_resets)
{
    xbuf_exports e;
    e.state_ = 42;
    xbuf_exports_init(&e);
    cr_assert_eq(e.state_, 0);
    e.state_ = XBUF_EXPORTS_RESIZING;
    xbuf_exports_init(&e);
    cr_assert_eq(xbuf_exports_count(&e), 0);
    cr_assert_eq(xbuf_exports_acquire(&e, NULL), XBUF_OK, "init must leave the resizing state");
    xbuf_exports_init(NULL);
}

/* ---- acquire / release / count ---------------------------------------- */

Test(exports, acquire_release_count)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    xbuf_error err;
    fill_garbage(&err);
    for (ptrdiff_t i = 1; i <= 5; i++) {
        cr_assert_eq(xbuf_exports_acquire(&e, &err), XBUF_OK);
        cr_assert_eq(xbuf_exports_count(&e), i);
    }
    for (ptrdiff_t i = 4; i >= 0; i--) {
        cr_assert_eq(xbuf_exports_release(&e, &err), XBUF_OK);
        cr_assert_eq(xbuf_exports_count(&e), i);
    }
    cr_assert(err_untouched(&err), "successful calls must leave *err untouched");
}

Test(exports, null_counter)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_acquire(NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_neq(err.message[0], '\0');
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_release(NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_check_resize(NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_begin_resize(NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_count(NULL), 0);
    xbuf_exports_end_resize(NULL);
    /* and with a NULL err */
    cr_assert_eq(xbuf_exports_acquire(NULL, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_release(NULL, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_check_resize(NULL, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_begin_resize(NULL, NULL), XBUF_EINVAL);
}

Test(exports, release_without_acquire)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_release(&e, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_neq(err.message[0], '\0');
    cr_assert_eq(e.state_, 0, "the count must stay at zero, not go negative");
    cr_assert_eq(xbuf_exports_release(&e, NULL), XBUF_EINVAL);
    cr_assert_eq(e.state_, 0);

    /* one acquire pays for exactly one release */
    cr_assert_eq(xbuf_exports_acquire(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_release(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_release(&e, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_exports_count(&e), 0);
    cr_assert_eq(xbuf_exports_acquire(&e, NULL), XBUF_OK, "the counter must still work");
    cr_assert_eq(xbuf_exports_count(&e), 1);
}

Test(exports, release_while_resizing_is_refused)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    cr_assert_eq(xbuf_exports_begin_resize(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_release(&e, NULL), XBUF_EINVAL);
    cr_assert_eq(e.state_, XBUF_EXPORTS_RESIZING, "a stray release must not end the resize");
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 0);
}

Test(exports, corrupt_state_is_refused)
{
    xbuf_exports e;
    e.state_ = -7;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_acquire(&e, &err), XBUF_EINVAL);
    cr_assert_eq(e.state_, -7);
    cr_assert_eq(xbuf_exports_release(&e, NULL), XBUF_EINVAL);
    cr_assert_eq(e.state_, -7);
    cr_assert_eq(xbuf_exports_count(&e), 0);
}

/* ---- overflow --------------------------------------------------------- */

Test(exports, acquire_at_ptrdiff_max_overflows)
{
    xbuf_exports e;
    e.state_ = PTRDIFF_MAX - 1;
    cr_assert_eq(xbuf_exports_acquire(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_count(&e), PTRDIFF_MAX);

    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_acquire(&e, &err), XBUF_EOVERFLOW);
    cr_assert_eq(err.code, XBUF_EOVERFLOW);
    cr_assert_neq(err.message[0], '\0');
    cr_assert_eq(e.state_, PTRDIFF_MAX, "a refused acquire must not change the count");

    cr_assert_eq(xbuf_exports_release(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_count(&e), PTRDIFF_MAX - 1);
}

Test(exports, busy_message_with_huge_count)
{
    xbuf_exports e;
    e.state_ = PTRDIFF_MAX;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_begin_resize(&e, &err), XBUF_EBUSY);
    char expected[96];
    snprintf(expected, sizeof expected, "cannot resize: %td views are held", PTRDIFF_MAX);
    cr_assert_str_eq(err.message, expected);
    cr_assert_eq(e.state_, PTRDIFF_MAX);
}

/* ---- resizing ---------------------------------------------------------- */

Test(exports, check_resize)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    xbuf_error err;
    fill_garbage(&err);
    cr_assert_eq(xbuf_exports_check_resize(&e, &err), XBUF_OK);
    cr_assert(err_untouched(&err));

    xbuf_exports_acquire(&e, NULL);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_check_resize(&e, &err), XBUF_EBUSY);
    cr_assert_eq(err.code, XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: 1 view is held");

    xbuf_exports_acquire(&e, NULL);
    xbuf_exports_acquire(&e, NULL);
    cr_assert_eq(xbuf_exports_check_resize(&e, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: 3 views are held");
    cr_assert_eq(xbuf_exports_count(&e), 3, "check_resize must not change the count");

    xbuf_exports_release(&e, NULL);
    xbuf_exports_release(&e, NULL);
    xbuf_exports_release(&e, NULL);
    cr_assert_eq(xbuf_exports_check_resize(&e, NULL), XBUF_OK);
}

Test(exports, check_resize_while_resizing)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    cr_assert_eq(xbuf_exports_begin_resize(&e, NULL), XBUF_OK);
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_check_resize(&e, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: a resize is already in progress");
    xbuf_exports_end_resize(&e);
}

Test(exports, begin_resize_while_held)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    xbuf_error err;
    xbuf_exports_acquire(&e, NULL);
    xbuf_exports_acquire(&e, NULL);

    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_begin_resize(&e, &err), XBUF_EBUSY);
    cr_assert_eq(err.code, XBUF_EBUSY);
    cr_assert_eq(err.position, -1);
    cr_assert_str_eq(err.message, "cannot resize: 2 views are held");
    cr_assert_eq(xbuf_exports_count(&e), 2, "a refused resize must not change the count");

    xbuf_exports_release(&e, NULL);
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_begin_resize(&e, &err), XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: 1 view is held");
    cr_assert_eq(xbuf_exports_count(&e), 1);

    /* a refused begin does not enter the resizing state: acquire still works */
    cr_assert_eq(xbuf_exports_acquire(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_count(&e), 2);
    xbuf_exports_release(&e, NULL);
    xbuf_exports_release(&e, NULL);

    fill_garbage(&err);
    cr_assert_eq(xbuf_exports_begin_resize(&e, &err), XBUF_OK);
    cr_assert(err_untouched(&err));
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 0);
}

Test(exports, begin_resize_twice)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    cr_assert_eq(xbuf_exports_begin_resize(&e, NULL), XBUF_OK);
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_begin_resize(&e, &err), XBUF_EBUSY);
    cr_assert_eq(err.code, XBUF_EBUSY);
    cr_assert_str_eq(err.message, "cannot resize: a resize is already in progress");
    cr_assert_eq(e.state_, XBUF_EXPORTS_RESIZING);
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 0);
}

Test(exports, acquire_while_resizing)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    cr_assert_eq(xbuf_exports_begin_resize(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_count(&e), 0, "count reads 0 while resizing");

    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_exports_acquire(&e, &err), XBUF_EBUSY);
    cr_assert_eq(err.code, XBUF_EBUSY);
    cr_assert_neq(err.message[0], '\0');
    cr_assert_eq(e.state_, XBUF_EXPORTS_RESIZING, "a refused acquire must not change the state");

    xbuf_exports_end_resize(&e);
    cr_assert_eq(xbuf_exports_acquire(&e, NULL), XBUF_OK);
    cr_assert_eq(xbuf_exports_count(&e), 1);
}

Test(exports, end_resize_when_not_resizing_does_nothing)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 0);

    xbuf_exports_acquire(&e, NULL);
    xbuf_exports_acquire(&e, NULL);
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 2, "end_resize must not drop held exports");
    cr_assert_eq(xbuf_exports_count(&e), 2);

    e.state_ = PTRDIFF_MAX;
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, PTRDIFF_MAX);
}

Test(exports, end_resize_twice)
{
    xbuf_exports e = XBUF_EXPORTS_INIT;
    cr_assert_eq(xbuf_exports_begin_resize(&e, NULL), XBUF_OK);
    xbuf_exports_end_resize(&e);
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 0);
    cr_assert_eq(xbuf_exports_begin_resize(&e, NULL), XBUF_OK, "a second resize is allowed");
    xbuf_exports_end_resize(&e);
    cr_assert_eq(e.state_, 0);
}

Test(exports, resizing_constant)
{
    cr_assert_lt(XBUF_EXPORTS_RESIZING, 0);
}
