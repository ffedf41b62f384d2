/*
 * error.c -- error codes, messages and the library version.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *xbuf_version(void)
{
#define XBUF_STR_(x) #x
#define XBUF_STR(x) XBUF_STR_(x)
    return XBUF_STR(XBUF_VERSION_MAJOR) "." XBUF_STR(XBUF_VERSION_MINOR) "." XBUF_STR(
        XBUF_VERSION_PATCH);
#undef XBUF_STR
#undef XBUF_STR_
}

int xbuf_version_number(void)
{
    return XBUF_VERSION_NUMBER;
}

/* Indexed by -code. */
static const char *const error_names[XBUF_NCODES] = {
    "XBUF_OK: success",
    "XBUF_EINVAL: invalid argument",
    "XBUF_ENOMEM: out of memory",
    "XBUF_EREQUEST: the exporter cannot serve this request",
    "XBUF_EEXPORTER: the exporter broke the buffer protocol",
    "XBUF_EBUSY: views are held",
    "XBUF_EFORMAT: malformed format string",
    "XBUF_EOVERFLOW: size or offset overflows",
    "XBUF_ERANGE: index or value out of range",
    "XBUF_ERELEASED: operation on a released view",
    "XBUF_EUNSUPPORTED: not supported",
    "XBUF_ETYPE: wrong kind of operand",
    "XBUF_EREADONLY: memory is read-only",
};

const char *xbuf_strerror(int code)
{
    if (code > 0 || code <= -XBUF_NCODES)
        return "unknown xbuf error code";
    return error_names[-code];
}

void xbuf_error_clear(xbuf_error *err)
{
    if (err == NULL)
        return;
    err->code = XBUF_OK;
    err->position = -1;
    err->message[0] = '\0';
}

static int error_vset(xbuf_error *err, int code, ptrdiff_t position, const char *fmt,
                      va_list args)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->position = position;
    if (fmt == NULL)
        snprintf(err->message, sizeof err->message, "%s", xbuf_strerror(code));
    else
        vsnprintf(err->message, sizeof err->message, fmt, args);
    return code;
}

int xbuf_error_set(xbuf_error *err, int code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    error_vset(err, code, -1, fmt, args);
    va_end(args);
    return code;
}

int xbuf_error_set_at(xbuf_error *err, int code, ptrdiff_t position, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    error_vset(err, code, position, fmt, args);
    va_end(args);
    return code;
}
