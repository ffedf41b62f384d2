/*
 * test_numpy.c -- leaves of formats as NumPy's array interface names them.
 * (tests/python checks the same names against NumPy itself.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <xbuf.h>

/* The typestr of the single-leaf format `fmt`, or the error code. */
static int typestr_of(const char *fmt, char *out, size_t size, xbuf_error *err)
{
    xbuf_format *f;
    cr_assert_eq(xbuf_format_parse(fmt, &f, NULL), 0, "parse '%s'", fmt);
    int rc = xbuf_numpy_typestr(xbuf_format_type(f), out, size, err);
    xbuf_format_release(f);
    return rc;
}

static void expect(const char *fmt, const char *typestr)
{
    char out[XBUF_NUMPY_TYPESTR_SIZE];
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = typestr_of(fmt, out, sizeof out, &err);
    cr_assert_eq(rc, 0, "'%s': %s", fmt, err.message);
    cr_assert_str_eq(out, typestr, "'%s' gave '%s', expected '%s'", fmt, out, typestr);
}

static void refused(const char *fmt, int code, const char *needle)
{
    char out[XBUF_NUMPY_TYPESTR_SIZE];
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(typestr_of(fmt, out, sizeof out, &err), code, "'%s'", fmt);
    cr_assert(strstr(err.message, needle) != NULL, "'%s': message '%s' lacks '%s'", fmt,
              err.message, needle);
}

Test(typestr, numbers)
{
    expect("<b", "|i1");
    expect("B", "|u1");
    expect("<h", "<i2");
    expect(">H", ">u2");
    expect("<i", "<i4");
    expect(">q", ">i8");
    expect("<Q", "<u8");
    expect("?", "|b1");
    expect("<e", "<f2");
    expect(">f", ">f4");
    expect("<d", "<f8");
    expect("<Zf", "<c8");
    expect(">Zd", ">c16");
}

Test(typestr, native_sizes_follow_the_platform)
{
    char want[XBUF_NUMPY_TYPESTR_SIZE];
    snprintf(want, sizeof want, "<f%zu", sizeof(long double));
    expect("<g", want);
    snprintf(want, sizeof want, "<u%zu", sizeof(void *));
    expect("<P", want);
    expect("&<d", want);
    expect("<X{}", want);
}

Test(typestr, strings_and_objects)
{
    expect("c", "|S1");
    expect("10s", "|S10");
    expect("0s", "|S0");
    expect("4x:raw:", "|V4");
    expect("<3w", "<U3");
    expect(">w", ">U1");
    expect("O", "|O");
}

Test(typestr, what_numpy_cannot_hold)
{
    refused("3t", XBUF_EUNSUPPORTED, "bit fields");
    refused("5p", XBUF_EUNSUPPORTED, "Pascal");
    refused("<2u", XBUF_EUNSUPPORTED, "UCS-2");
    refused("<Ze", XBUF_EUNSUPPORTED, "half floats");
    refused("T{i:a:}", XBUF_EINVAL, "members");
    refused("(2)i", XBUF_EINVAL, "members");
}

Test(typestr, bad_arguments)
{
    xbuf_format *f;
    cr_assert_eq(xbuf_format_parse("<i", &f, NULL), 0);
    char small[3];
    xbuf_error err;
    cr_assert_eq(xbuf_numpy_typestr(xbuf_format_type(f), small, sizeof small, &err), XBUF_ERANGE);
    cr_assert_eq(small[sizeof small - 1], '\0', "a truncated typestr is still terminated");
    cr_assert_eq(xbuf_numpy_typestr(NULL, small, sizeof small, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_numpy_typestr(xbuf_format_type(f), NULL, 0, NULL), XBUF_EINVAL);
    xbuf_format_release(f);
}
