/*
 * exports.c -- atomic export accounting.
 *
 * The state is one integer: the number of live exports, or
 * XBUF_EXPORTS_RESIZING while the exporter moves its memory.  Every change
 * is a compare-and-swap, so the count can never go below zero or skip the
 * resizing state, whatever the interleaving of threads.
 */
#include <stdint.h>

#include "internal.h"

void xbuf_exports_init(xbuf_exports *exports)
{
    if (exports != NULL)
        xbuf_atomic_store(&exports->state_, 0);
}

int xbuf_exports_acquire(xbuf_exports *exports, xbuf_error *err)
{
    RETURN_ERROR_IF(exports == NULL, err, XBUF_EINVAL, "export counter is NULL");
    ptrdiff_t seen = xbuf_atomic_load(&exports->state_);
    do {
        RETURN_ERROR_IF(seen == XBUF_EXPORTS_RESIZING, err, XBUF_EBUSY,
                        "cannot export: the exporter is being resized");
        RETURN_ERROR_IF(seen == PTRDIFF_MAX, err, XBUF_EOVERFLOW,
                        "cannot export: the export count is at its maximum");
        RETURN_ERROR_IF(seen < 0, err, XBUF_EINVAL, "export counter is corrupt (%td)", seen);
    } while (!xbuf_atomic_cas(&exports->state_, &seen, seen + 1));
    return XBUF_OK;
}

int xbuf_exports_release(xbuf_exports *exports, xbuf_error *err)
{
    RETURN_ERROR_IF(exports == NULL, err, XBUF_EINVAL, "export counter is NULL");
    ptrdiff_t seen = xbuf_atomic_load(&exports->state_);
    do {
        RETURN_ERROR_IF(seen <= 0, err, XBUF_EINVAL,
                        "export released that was never acquired (count is %td)",
                        seen < 0 ? (ptrdiff_t)0 : seen);
    } while (!xbuf_atomic_cas(&exports->state_, &seen, seen - 1));
    return XBUF_OK;
}

ptrdiff_t xbuf_exports_count(const xbuf_exports *exports)
{
    if (exports == NULL)
        return 0;
    ptrdiff_t state = xbuf_atomic_load(&exports->state_);
    return state < 0 ? 0 : state;
}

static int busy_error(ptrdiff_t state, xbuf_error *err)
{
    if (state == XBUF_EXPORTS_RESIZING)
        return xbuf_error_set(err, XBUF_EBUSY, "cannot resize: a resize is already in progress");
    return xbuf_error_set(err, XBUF_EBUSY, "cannot resize: %td view%s held", state,
                          state == 1 ? " is" : "s are");
}

int xbuf_exports_check_resize(const xbuf_exports *exports, xbuf_error *err)
{
    RETURN_ERROR_IF(exports == NULL, err, XBUF_EINVAL, "export counter is NULL");
    ptrdiff_t state = xbuf_atomic_load(&exports->state_);
    return state == 0 ? XBUF_OK : busy_error(state, err);
}

int xbuf_exports_begin_resize(xbuf_exports *exports, xbuf_error *err)
{
    RETURN_ERROR_IF(exports == NULL, err, XBUF_EINVAL, "export counter is NULL");
    ptrdiff_t seen = 0;
    if (xbuf_atomic_cas(&exports->state_, &seen, XBUF_EXPORTS_RESIZING))
        return XBUF_OK;
    return busy_error(seen, err);
}

void xbuf_exports_end_resize(xbuf_exports *exports)
{
    if (exports == NULL)
        return;
    ptrdiff_t seen = XBUF_EXPORTS_RESIZING;
    xbuf_atomic_cas(&exports->state_, &seen, 0);
}
