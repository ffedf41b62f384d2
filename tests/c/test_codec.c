/*
 * test_codec.c -- the scalar codec (xbuf/format.h, "the scalar codec").
 *
 * Types are built by hand (xbuf_type is a plain public struct), so these
 * tests do not depend on the parser.  Every value is written at offsets 1..7
 * into a byte buffer pre-filled with a sentinel, in both byte orders, and
 * checked three ways: the bytes against an encoding computed here by shifts
 * (independent of the host's order), the bytes around it still holding the
 * sentinel, and the value read back.
 *
 * Where expected values come from:
 *   - integer and pointer bytes: shifts of the value, below;
 *   - IEEE single/double/x87 bit patterns: the standard encodings, e.g.
 *     1.0f = 0x3F800000, 1.0 = 0x3FF0000000000000, x87 1.0 = 0x3FFF
 *     8000000000000000 (checked with python3 struct / numpy .view());
 *   - half precision: exhaustively against an exact reference computed
 *     here (value = significand * 2^exponent, midpoints of neighbours for
 *     ties), plus constants from NumPy 2.4.6, each obtained as
 *         np.array(v, np.float64).astype(np.float16).view(np.uint16)
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xbuf.h>

#define SENTINEL 0xA5
#define BUFSIZE 64

static const char orders[2] = {XBUF_LITTLE, XBUF_BIG};

/* ---- helpers ------------------------------------------------------------ */

static xbuf_type leaf(xbuf_kind kind, char code, char order, ptrdiff_t itemsize)
{
    xbuf_type t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.code = code;
    t.byteorder = order;
    t.itemsize = itemsize;
    t.alignment = 1;
    t.count = 1;
    return t;
}

static xbuf_type bits_type(ptrdiff_t width, int offset)
{
    xbuf_type t = leaf(XBUF_KIND_BITS, 't', XBUF_NO_ORDER, (offset + width + 7) / 8);
    t.count = width;
    t.bit_offset = offset;
    return t;
}

static xbuf_type ucs_type(xbuf_kind kind, char order, ptrdiff_t count)
{
    xbuf_type t = leaf(kind, kind == XBUF_KIND_UCS2 ? 'u' : 'w', order,
                       count * (kind == XBUF_KIND_UCS2 ? 2 : 4));
    t.count = count;
    return t;
}

/* splitmix64: deterministic, good enough to spread values over all bits. */
static uint64_t rng_state = 0x243F6A8885A308D3u;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t mask_of(unsigned width)
{
    return width >= 64 ? UINT64_MAX : ((uint64_t)1 << width) - 1;
}

/* Two's complement bits of `width` as an int64_t, without relying on the
 * implementation-defined conversion of large unsigned values. */
static int64_t sign_extend(uint64_t bits, unsigned width)
{
    bits &= mask_of(width);
    if ((bits >> (width - 1)) & 1u)
        bits |= ~mask_of(width);
    int64_t v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* The n-byte encoding of `value` in `order`, by shifts. */
static void encode(uint64_t value, size_t n, char order, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t pos = order == XBUF_BIG ? n - 1 - i : i;
        out[pos] = (unsigned char)(i < 8 ? value >> (8 * i) : 0);
    }
}

static void fill(unsigned char *buf)
{
    memset(buf, SENTINEL, BUFSIZE);
}

static void assert_bytes(const unsigned char *got, const unsigned char *want, size_t n,
                         const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "%s: byte %zu is 0x%02x, expected 0x%02x", what, i,
                     got[i], want[i]);
}

/* Everything outside [off, off + n) still holds the sentinel. */
static void assert_untouched_outside(const unsigned char *buf, size_t off, size_t n)
{
    for (size_t i = 0; i < BUFSIZE; i++)
        if (i < off || i >= off + n)
            cr_assert_eq(buf[i], SENTINEL, "byte %zu outside the item changed to 0x%02x", i,
                         buf[i]);
}

static void assert_all_sentinel(const unsigned char *buf)
{
    assert_untouched_outside(buf, 0, 0);
}

static void assert_contains(const char *message, const char *needle)
{
    cr_assert_not_null(strstr(message, needle), "message \"%s\" does not contain \"%s\"",
                       message, needle);
}

static void assert_fails(int rc, const xbuf_error *err, int code, const char *needle)
{
    cr_assert_eq(rc, code, "returned %d (%s), expected %d (%s)", rc, xbuf_strerror(rc), code,
                 xbuf_strerror(code));
    cr_assert_eq(err->code, code, "err->code %d, expected %d", err->code, code);
    assert_contains(err->message, needle);
}

/* 2^e exactly, by repeated doubling or halving (no libm). */
static long double pow2(int e)
{
    long double v = 1.0L;
    for (; e > 0; e--)
        v *= 2;
    for (; e < 0; e++)
        v /= 2;
    return v;
}

/* ---- integers: bytes, orders, offsets ------------------------------------ */

static const ptrdiff_t int_sizes[4] = {1, 2, 4, 8};

/* Write `bits` as a `size`-byte INT or UINT at every offset in both orders;
 * check the bytes, the surroundings and both read-backs. */
static void check_integer_everywhere(xbuf_kind kind, ptrdiff_t size, uint64_t bits)
{
    unsigned width = (unsigned)size * 8;
    bits &= mask_of(width);
    int64_t sval = sign_extend(bits, width);
    for (int o = 0; o < 2; o++) {
        xbuf_type t = leaf(kind, 'q', orders[o], size);
        unsigned char want[8];
        encode(bits, (size_t)size, orders[o], want);
        for (size_t off = 1; off <= 7; off++) {
            unsigned char buf[BUFSIZE];
            fill(buf);
            int rc = kind == XBUF_KIND_INT ? xbuf_scalar_write_int(&t, buf + off, sval, false, NULL)
                                           : xbuf_scalar_write_uint(&t, buf + off, bits, false, NULL);
            cr_assert_eq(rc, 0, "write of %td-byte %c 0x%llx failed: %d", size, orders[o],
                         (unsigned long long)bits, rc);
            assert_bytes(buf + off, want, (size_t)size, "integer bytes");
            assert_untouched_outside(buf, off, (size_t)size);
            int64_t i64 = 0;
            uint64_t u64 = 0;
            if (kind == XBUF_KIND_INT) {
                cr_assert_eq(xbuf_scalar_read_int(&t, buf + off, &i64, NULL), 0);
                cr_assert_eq(i64, sval, "read_int %lld, expected %lld", (long long)i64,
                             (long long)sval);
                if (sval >= 0) {
                    cr_assert_eq(xbuf_scalar_read_uint(&t, buf + off, &u64, NULL), 0);
                    cr_assert_eq(u64, bits);
                }
            } else {
                cr_assert_eq(xbuf_scalar_read_uint(&t, buf + off, &u64, NULL), 0);
                cr_assert_eq(u64, bits, "read_uint 0x%llx, expected 0x%llx",
                             (unsigned long long)u64, (unsigned long long)bits);
                if (bits <= INT64_MAX) {
                    cr_assert_eq(xbuf_scalar_read_int(&t, buf + off, &i64, NULL), 0);
                    cr_assert_eq((uint64_t)i64, bits);
                }
            }
        }
    }
}

Test(integer, known_bytes_in_every_size_order_and_offset)
{
    for (int s = 0; s < 4; s++) {
        check_integer_everywhere(XBUF_KIND_UINT, int_sizes[s], 0x8877665544332211u);
        check_integer_everywhere(XBUF_KIND_INT, int_sizes[s], 0x8877665544332211u);
        check_integer_everywhere(XBUF_KIND_INT, int_sizes[s], 0x0102030405060708u);
    }
}

Test(integer, explicit_patterns)
{
    unsigned char b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    xbuf_type le = leaf(XBUF_KIND_UINT, 'Q', XBUF_LITTLE, 8);
    xbuf_type be = leaf(XBUF_KIND_UINT, 'Q', XBUF_BIG, 8);
    uint64_t u = 0;
    cr_assert_eq(xbuf_scalar_read_uint(&le, b, &u, NULL), 0);
    cr_assert_eq(u, 0x0807060504030201u);
    cr_assert_eq(xbuf_scalar_read_uint(&be, b, &u, NULL), 0);
    cr_assert_eq(u, 0x0102030405060708u);

    unsigned char m2[2] = {0xFF, 0xFE};
    xbuf_type h = leaf(XBUF_KIND_INT, 'h', XBUF_BIG, 2);
    int64_t i = 0;
    cr_assert_eq(xbuf_scalar_read_int(&h, m2, &i, NULL), 0);
    cr_assert_eq(i, -2);
    h.byteorder = XBUF_LITTLE;
    cr_assert_eq(xbuf_scalar_read_int(&h, m2, &i, NULL), 0);
    cr_assert_eq(i, -257); /* 0xFEFF */

    /* one-byte items ignore the byte order, whatever it says */
    unsigned char x = 0x80;
    xbuf_type b1 = leaf(XBUF_KIND_INT, 'b', XBUF_NO_ORDER, 1);
    cr_assert_eq(xbuf_scalar_read_int(&b1, &x, &i, NULL), 0);
    cr_assert_eq(i, -128);
    b1.byteorder = '\0';
    cr_assert_eq(xbuf_scalar_read_int(&b1, &x, &i, NULL), 0);
    cr_assert_eq(i, -128);
}

Test(integer, random_round_trips)
{
    for (int n = 0; n < 300; n++) {
        uint64_t raw = rng();
        /* bias some towards small magnitudes and the sign boundary */
        if (n % 3 == 1)
            raw >>= (raw & 63);
        for (int s = 0; s < 4; s++) {
            check_integer_everywhere(XBUF_KIND_UINT, int_sizes[s], raw);
            check_integer_everywhere(XBUF_KIND_INT, int_sizes[s], raw);
        }
    }
}

Test(integer, edges_of_64_bits)
{
    check_integer_everywhere(XBUF_KIND_INT, 8, (uint64_t)INT64_MIN);
    check_integer_everywhere(XBUF_KIND_INT, 8, (uint64_t)INT64_MAX);
    check_integer_everywhere(XBUF_KIND_INT, 8, UINT64_MAX); /* -1 */
    check_integer_everywhere(XBUF_KIND_UINT, 8, UINT64_MAX);
    check_integer_everywhere(XBUF_KIND_UINT, 8, 0);

    unsigned char buf[8];
    xbuf_type q = leaf(XBUF_KIND_INT, 'q', XBUF_LITTLE, 8);
    int64_t i = 0;
    cr_assert_eq(xbuf_scalar_write_int(&q, buf, INT64_MIN, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_int(&q, buf, &i, NULL), 0);
    cr_assert_eq(i, INT64_MIN);
    cr_assert_eq(buf[7], 0x80);
    cr_assert_eq(buf[0], 0x00);
}

/* min and max write; one beyond either is XBUF_ERANGE and writes nothing. */
Test(integer, limits_of_every_size)
{
    for (int s = 0; s < 3; s++) { /* 8 bytes has no "one beyond" in int64 */
        ptrdiff_t size = int_sizes[s];
        unsigned width = (unsigned)size * 8;
        int64_t smax = (int64_t)mask_of(width - 1), smin = -smax - 1;
        uint64_t umax = mask_of(width);
        for (int o = 0; o < 2; o++) {
            xbuf_type it = leaf(XBUF_KIND_INT, 'i', orders[o], size);
            xbuf_type ut = leaf(XBUF_KIND_UINT, 'I', orders[o], size);
            unsigned char buf[BUFSIZE];
            xbuf_error err;
            fill(buf);
            cr_assert_eq(xbuf_scalar_write_int(&it, buf + 3, smax, false, NULL), 0);
            cr_assert_eq(xbuf_scalar_write_int(&it, buf + 3, smin, false, NULL), 0);
            cr_assert_eq(xbuf_scalar_write_uint(&ut, buf + 3, umax, false, NULL), 0);
            cr_assert_eq(xbuf_scalar_write_int(&ut, buf + 3, 0, false, NULL), 0);
            fill(buf);
            assert_fails(xbuf_scalar_write_int(&it, buf + 3, smax + 1, false, &err), &err,
                         XBUF_ERANGE, "signed integer");
            assert_fails(xbuf_scalar_write_int(&it, buf + 3, smin - 1, false, &err), &err,
                         XBUF_ERANGE, "does not fit");
            assert_fails(xbuf_scalar_write_uint(&it, buf + 3, (uint64_t)smax + 1, false, &err),
                         &err, XBUF_ERANGE, "does not fit");
            assert_fails(xbuf_scalar_write_uint(&ut, buf + 3, umax + 1, false, &err), &err,
                         XBUF_ERANGE, "unsigned integer");
            assert_fails(xbuf_scalar_write_int(&ut, buf + 3, -1, false, &err), &err,
                         XBUF_ERANGE, "value -1 does not fit");
            assert_all_sentinel(buf);
        }
    }
    xbuf_type q = leaf(XBUF_KIND_INT, 'q', XBUF_BIG, 8);
    xbuf_type uq = leaf(XBUF_KIND_UINT, 'Q', XBUF_BIG, 8);
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    fill(buf);
    assert_fails(xbuf_scalar_write_uint(&q, buf + 1, (uint64_t)INT64_MAX + 1, false, &err),
                 &err, XBUF_ERANGE, "value 9223372036854775808 does not fit in a 8-byte signed");
    assert_fails(xbuf_scalar_write_int(&uq, buf + 1, INT64_MIN, false, &err), &err,
                 XBUF_ERANGE, "value -9223372036854775808 does not fit");
    assert_all_sentinel(buf);
}

Test(integer, message_names_value_and_type)
{
    unsigned char b = 0;
    xbuf_error err;
    xbuf_type t = leaf(XBUF_KIND_UINT, 'B', XBUF_NO_ORDER, 1);
    assert_fails(xbuf_scalar_write_int(&t, &b, 300, false, &err), &err, XBUF_ERANGE,
                 "value 300 does not fit in a 1-byte unsigned integer");
    cr_assert_eq(b, 0);
}

Test(integer, read_outside_the_other_signedness)
{
    unsigned char ff[8];
    memset(ff, 0xFF, sizeof ff);
    xbuf_error err;
    int64_t i = 7;
    uint64_t u = 7;
    xbuf_type uq = leaf(XBUF_KIND_UINT, 'Q', XBUF_LITTLE, 8);
    assert_fails(xbuf_scalar_read_int(&uq, ff, &i, &err), &err, XBUF_ERANGE,
                 "18446744073709551615 does not fit in int64_t");
    cr_assert_eq(i, 7, "output changed on failure");
    cr_assert_eq(xbuf_scalar_read_uint(&uq, ff, &u, NULL), 0);
    cr_assert_eq(u, UINT64_MAX);

    xbuf_type b = leaf(XBUF_KIND_INT, 'b', XBUF_NO_ORDER, 1);
    assert_fails(xbuf_scalar_read_uint(&b, ff, &u, &err), &err, XBUF_ERANGE, "value -1");
    cr_assert_eq(u, UINT64_MAX, "output changed on failure");

    /* a UINT whose value fits is readable as int */
    unsigned char big[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    xbuf_type ui = leaf(XBUF_KIND_UINT, 'I', XBUF_BIG, 4);
    cr_assert_eq(xbuf_scalar_read_int(&ui, big, &i, NULL), 0);
    cr_assert_eq(i, 4294967295);
}

Test(integer, wrap_keeps_low_bits)
{
    unsigned char buf[BUFSIZE];
    int64_t i = 0;
    uint64_t u = 0;
    xbuf_type b = leaf(XBUF_KIND_UINT, 'B', XBUF_NO_ORDER, 1);
    fill(buf);
    cr_assert_eq(xbuf_scalar_write_int(&b, buf + 1, 300, true, NULL), 0);
    cr_assert_eq(buf[1], 300 - 256);
    assert_untouched_outside(buf, 1, 1);
    cr_assert_eq(xbuf_scalar_write_int(&b, buf + 1, -1, true, NULL), 0);
    cr_assert_eq(buf[1], 0xFF);

    xbuf_type ui = leaf(XBUF_KIND_UINT, 'I', XBUF_BIG, 4);
    fill(buf);
    cr_assert_eq(xbuf_scalar_write_int(&ui, buf + 5, -2, true, NULL), 0);
    unsigned char want4[4] = {0xFF, 0xFF, 0xFF, 0xFE};
    assert_bytes(buf + 5, want4, 4, "-2 wrapped into >I");
    assert_untouched_outside(buf, 5, 4);

    xbuf_type h = leaf(XBUF_KIND_INT, 'h', XBUF_LITTLE, 2);
    cr_assert_eq(xbuf_scalar_write_uint(&h, buf + 2, 0x123458000u, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_int(&h, buf + 2, &i, NULL), 0);
    cr_assert_eq(i, -32768);
    cr_assert_eq(xbuf_scalar_write_int(&h, buf + 2, 40000, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_int(&h, buf + 2, &i, NULL), 0);
    cr_assert_eq(i, 40000 - 65536);

    xbuf_type q = leaf(XBUF_KIND_INT, 'q', XBUF_BIG, 8);
    cr_assert_eq(xbuf_scalar_write_uint(&q, buf + 7, UINT64_MAX, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_int(&q, buf + 7, &i, NULL), 0);
    cr_assert_eq(i, -1);

    xbuf_type uq = leaf(XBUF_KIND_UINT, 'Q', XBUF_LITTLE, 8);
    cr_assert_eq(xbuf_scalar_write_int(&uq, buf + 7, INT64_MIN, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_uint(&uq, buf + 7, &u, NULL), 0);
    cr_assert_eq(u, (uint64_t)1 << 63);
}

/* ---- bool and char -------------------------------------------------------- */

Test(bool_char, bool_reads_any_nonzero_byte_as_one)
{
    xbuf_type t = leaf(XBUF_KIND_BOOL, '?', XBUF_NO_ORDER, 1);
    for (int v = 0; v < 256; v++) {
        unsigned char b = (unsigned char)v;
        int64_t i = -1;
        uint64_t u = 9;
        cr_assert_eq(xbuf_scalar_read_int(&t, &b, &i, NULL), 0);
        cr_assert_eq(xbuf_scalar_read_uint(&t, &b, &u, NULL), 0);
        cr_assert_eq(i, v != 0, "byte %d read as %lld", v, (long long)i);
        cr_assert_eq(u, (uint64_t)(v != 0));
    }
}

Test(bool_char, bool_writes_zero_and_one_only_unless_wrap)
{
    xbuf_type t = leaf(XBUF_KIND_BOOL, '?', XBUF_NO_ORDER, 1);
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    fill(buf);
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 4, 1, false, NULL), 0);
    cr_assert_eq(buf[4], 1);
    cr_assert_eq(xbuf_scalar_write_uint(&t, buf + 4, 0, false, NULL), 0);
    cr_assert_eq(buf[4], 0);
    assert_untouched_outside(buf, 4, 1);

    fill(buf);
    assert_fails(xbuf_scalar_write_int(&t, buf + 4, 2, false, &err), &err, XBUF_ERANGE,
                 "value 2 does not fit in a bool");
    assert_fails(xbuf_scalar_write_int(&t, buf + 4, -1, false, &err), &err, XBUF_ERANGE,
                 "value -1");
    assert_fails(xbuf_scalar_write_uint(&t, buf + 4, UINT64_MAX, false, &err), &err,
                 XBUF_ERANGE, "bool");
    assert_all_sentinel(buf);

    /* wrap converts as C's _Bool does: 256 is true, not its low bit */
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 4, 256, true, NULL), 0);
    cr_assert_eq(buf[4], 1);
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 4, -7, true, NULL), 0);
    cr_assert_eq(buf[4], 1);
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 4, 0, true, NULL), 0);
    cr_assert_eq(buf[4], 0);
}

Test(bool_char, char_is_an_unsigned_byte)
{
    xbuf_type t = leaf(XBUF_KIND_CHAR, 'c', XBUF_NO_ORDER, 1);
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    int64_t i = 0;
    uint64_t u = 0;
    fill(buf);
    buf[2] = 0xFF;
    cr_assert_eq(xbuf_scalar_read_int(&t, buf + 2, &i, NULL), 0);
    cr_assert_eq(i, 255);
    cr_assert_eq(xbuf_scalar_read_uint(&t, buf + 2, &u, NULL), 0);
    cr_assert_eq(u, 255);
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 2, 'A', false, NULL), 0);
    cr_assert_eq(buf[2], 'A');
    assert_fails(xbuf_scalar_write_int(&t, buf + 2, 256, false, &err), &err, XBUF_ERANGE,
                 "value 256 does not fit in a char");
    assert_fails(xbuf_scalar_write_int(&t, buf + 2, -1, false, &err), &err, XBUF_ERANGE,
                 "char");
    cr_assert_eq(buf[2], 'A');
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 2, -1, true, NULL), 0);
    cr_assert_eq(buf[2], 0xFF);
    cr_assert_eq(xbuf_scalar_write_uint(&t, buf + 2, 0x141, true, NULL), 0);
    cr_assert_eq(buf[2], 0x41);
    assert_untouched_outside(buf, 2, 1);
}

/* ---- bit fields ------------------------------------------------------------ */

/* Reference: bit k of a byte string, bits numbered from the least
 * significant bit of the lowest byte. */
static unsigned get_bit(const unsigned char *b, ptrdiff_t k)
{
    return (unsigned)(b[k / 8] >> (k % 8)) & 1u;
}

static void set_bit(unsigned char *b, ptrdiff_t k, unsigned v)
{
    b[k / 8] = (unsigned char)((b[k / 8] & ~(1u << (k % 8))) | (v << (k % 8)));
}

static uint64_t ref_field(const unsigned char *b, int offset, ptrdiff_t width)
{
    uint64_t v = 0;
    for (ptrdiff_t k = 0; k < width; k++)
        v |= (uint64_t)get_bit(b, offset + k) << k;
    return v;
}

Test(bits, every_width_and_offset_against_a_bitwise_reference)
{
    for (ptrdiff_t width = 0; width <= 64; width++) {
        for (int offset = 0; offset < 8; offset++) {
            xbuf_type t = bits_type(width, offset);
            for (int n = 0; n < 8; n++) {
                unsigned char buf[BUFSIZE], want[BUFSIZE];
                for (size_t i = 0; i < BUFSIZE; i++)
                    buf[i] = (unsigned char)rng();
                size_t at = 1 + (size_t)n % 7;
                uint64_t value = rng() & mask_of((unsigned)width);
                memcpy(want, buf, BUFSIZE);
                for (ptrdiff_t k = 0; k < width; k++)
                    set_bit(want + at, offset + k, (unsigned)(value >> k) & 1u);
                /* read what was there first */
                uint64_t u = 0;
                cr_assert_eq(xbuf_scalar_read_uint(&t, buf + at, &u, NULL), 0);
                cr_assert_eq(u, ref_field(buf + at, offset, width),
                             "width %td offset %d read 0x%llx", width, offset,
                             (unsigned long long)u);
                /* write touches exactly the field's bits */
                cr_assert_eq(xbuf_scalar_write_uint(&t, buf + at, value, false, NULL), 0,
                             "width %td offset %d value 0x%llx", width, offset,
                             (unsigned long long)value);
                assert_bytes(buf, want, BUFSIZE, "bit field write");
                cr_assert_eq(xbuf_scalar_read_uint(&t, buf + at, &u, NULL), 0);
                cr_assert_eq(u, value);
            }
        }
    }
}

Test(bits, known_layout)
{
    /* "3t5t" in one byte 0b10110_101: low 3 bits 5, high 5 bits 22 */
    unsigned char b[2] = {0xB5, 0x00};
    xbuf_type lo = bits_type(3, 0), hi = bits_type(5, 3);
    uint64_t u = 0;
    cr_assert_eq(xbuf_scalar_read_uint(&lo, b, &u, NULL), 0);
    cr_assert_eq(u, 5);
    cr_assert_eq(xbuf_scalar_read_uint(&hi, b, &u, NULL), 0);
    cr_assert_eq(u, 22);
    cr_assert_eq(xbuf_scalar_write_uint(&hi, b, 1, false, NULL), 0);
    cr_assert_eq(b[0], 0x0D); /* 00001_101 */
    /* a field straddling a byte boundary: bits 7..9 */
    unsigned char s[2] = {0x80, 0x03};
    xbuf_type st = bits_type(3, 7);
    cr_assert_eq(st.itemsize, 2);
    cr_assert_eq(xbuf_scalar_read_uint(&st, s, &u, NULL), 0);
    cr_assert_eq(u, 7);
    cr_assert_eq(xbuf_scalar_write_uint(&st, s, 2, false, NULL), 0);
    cr_assert_eq(s[0], 0x00);
    cr_assert_eq(s[1], 0x01);
}

Test(bits, signedness_range_and_wrap)
{
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    int64_t i = 0;
    uint64_t u = 0;
    xbuf_type t = bits_type(5, 6); /* bits 6..10 of two bytes */
    fill(buf);
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 3, 31, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_int(&t, buf + 3, &i, NULL), 0);
    cr_assert_eq(i, 31, "bit fields are unsigned: no sign extension");
    fill(buf);
    assert_fails(xbuf_scalar_write_int(&t, buf + 3, 32, false, &err), &err, XBUF_ERANGE,
                 "value 32 does not fit in a 5-bit field");
    assert_fails(xbuf_scalar_write_int(&t, buf + 3, -1, false, &err), &err, XBUF_ERANGE,
                 "5-bit field");
    assert_all_sentinel(buf);
    cr_assert_eq(xbuf_scalar_write_int(&t, buf + 3, -1, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_uint(&t, buf + 3, &u, NULL), 0);
    cr_assert_eq(u, 31);
    cr_assert_eq(xbuf_scalar_write_uint(&t, buf + 3, 0x42, true, NULL), 0); /* low 5: 2 */
    cr_assert_eq(xbuf_scalar_read_uint(&t, buf + 3, &u, NULL), 0);
    cr_assert_eq(u, 2);
    /* field 00010 at bits 6..10: byte 3 keeps bits 0..5 and gets bit 7 set,
     * byte 4 keeps bits 3..7 and gets bits 0..2 cleared */
    cr_assert_eq(buf[3], (0xA5 & 0x3F) | 0x80);
    cr_assert_eq(buf[4], 0xA5 & ~0x07);
    assert_untouched_outside(buf, 3, 2);

    /* a full 64-bit field at bit 7 spans nine bytes */
    xbuf_type w = bits_type(64, 7);
    cr_assert_eq(w.itemsize, 9);
    fill(buf);
    cr_assert_eq(xbuf_scalar_write_uint(&w, buf + 1, UINT64_MAX, false, NULL), 0);
    cr_assert_eq(buf[1], 0xA5 | 0x80);
    for (int k = 2; k <= 8; k++)
        cr_assert_eq(buf[k], 0xFF);
    cr_assert_eq(buf[9], (0xA5 & ~0x7F) | 0x7F);
    assert_untouched_outside(buf, 1, 9);
    assert_fails(xbuf_scalar_read_int(&w, buf + 1, &i, &err), &err, XBUF_ERANGE, "int64_t");
    cr_assert_eq(xbuf_scalar_write_int(&w, buf + 1, INT64_MAX, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_int(&w, buf + 1, &i, NULL), 0);
    cr_assert_eq(i, INT64_MAX);

    /* a zero-width field reads 0 and writes nothing; only 0 fits */
    xbuf_type z = bits_type(0, 3);
    fill(buf);
    cr_assert_eq(xbuf_scalar_read_uint(&z, buf + 1, &u, NULL), 0);
    cr_assert_eq(u, 0);
    cr_assert_eq(xbuf_scalar_write_uint(&z, buf + 1, 0, false, NULL), 0);
    assert_fails(xbuf_scalar_write_uint(&z, buf + 1, 1, false, &err), &err, XBUF_ERANGE,
                 "0-bit field");
    cr_assert_eq(xbuf_scalar_write_uint(&z, buf + 1, 1, true, NULL), 0);
    assert_all_sentinel(buf);
}

Test(bits, byte_order_is_irrelevant)
{
    unsigned char b[2] = {0x34, 0x12};
    uint64_t u = 0;
    for (int o = 0; o < 2; o++) {
        xbuf_type t = bits_type(16, 0);
        t.byteorder = orders[o];
        cr_assert_eq(xbuf_scalar_read_uint(&t, b, &u, NULL), 0);
        cr_assert_eq(u, 0x1234);
    }
}

/* ---- half precision ----------------------------------------------------- */

static xbuf_type half_type(char order)
{
    return leaf(XBUF_KIND_FLOAT, 'e', order, 2);
}

static uint16_t write_half(long double v, bool wrap, int *rc)
{
    unsigned char b[2] = {0, 0};
    xbuf_type t = half_type(XBUF_LITTLE);
    *rc = xbuf_scalar_write_float(&t, b, v, wrap, NULL);
    return (uint16_t)(b[0] | b[1] << 8);
}

static uint16_t half_of(long double v)
{
    int rc;
    uint16_t h = write_half(v, false, &rc);
    cr_assert_eq(rc, 0, "writing %Lg as half failed: %d", v, rc);
    return h;
}

static long double read_half(uint16_t h)
{
    unsigned char b[2] = {(unsigned char)(h & 0xFF), (unsigned char)(h >> 8)};
    xbuf_type t = half_type(XBUF_LITTLE);
    long double v = -12345;
    cr_assert_eq(xbuf_scalar_read_float(&t, b, &v, NULL), 0);
    return v;
}

/* Exact value of a finite half, from its fields. */
static long double half_reference(uint16_t h)
{
    unsigned exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    long double v = exp == 0 ? (long double)mant * pow2(-24)
                             : (long double)(mant + 1024) * pow2((int)exp - 25);
    return (h & 0x8000u) ? -v : v;
}

Test(half, known_patterns)
{
    cr_assert_eq(read_half(0x3C00), 1.0L);
    cr_assert_eq(read_half(0x7BFF), 65504.0L);
    cr_assert_eq(read_half(0x0001), pow2(-24));
    cr_assert_eq(read_half(0x03FF), 1023 * pow2(-24));
    cr_assert_eq(read_half(0x0400), pow2(-14));
    cr_assert_eq(read_half(0xC000), -2.0L);
    cr_assert_eq(read_half(0x3555), 0x1.554p-2L);
    cr_assert(isinf(read_half(0x7C00)) && read_half(0x7C00) > 0);
    cr_assert(isinf(read_half(0xFC00)) && read_half(0xFC00) < 0);
    long double nz = read_half(0x8000);
    cr_assert(nz == 0 && signbit(nz), "0x8000 is -0.0");
    long double nan = read_half(0x7E00);
    cr_assert(isnan(nan) && !signbit(nan));
    nan = read_half(0xFE01);
    cr_assert(isnan(nan) && signbit(nan));

    cr_assert_eq(half_of(1.0L), 0x3C00);
    cr_assert_eq(half_of(65504.0L), 0x7BFF);
    cr_assert_eq(half_of(pow2(-24)), 0x0001);
    cr_assert_eq(half_of(-0.0L), 0x8000);
    cr_assert_eq(half_of(0.0L), 0x0000);
    cr_assert_eq(half_of(INFINITY), 0x7C00);
    cr_assert_eq(half_of(-INFINITY), 0xFC00);
}

Test(half, numpy_constants)
{
    /* np.array(v, np.float64).astype(np.float16).view(np.uint16), NumPy 2.4.6 */
    static const struct {
        double v;
        uint16_t h;
    } cases[] = {
        {0.1, 0x2e66},
        {1.0 / 3.0, 0x3555},
        {65519.0, 0x7bff},
        {-65519.99, 0xfbff},
        {1e-08, 0x0000},
        {3e-08, 0x0001},
        {0x1p-25, 0x0000},             /* tie between 0 and 2^-24: even */
        {0x1.8p-25, 0x0001},
        {0x1.8p-24, 0x0002},           /* tie 1.5 units: even */
        {0x1.4p-23, 0x0002},           /* tie 2.5 units: even */
        {1023.5 * 0x1p-24, 0x0400},    /* largest subnormal rounds up to 2^-14 */
        {3.14159265358979, 0x4248},
        {-1e-05, 0x80a8},
        {6.1e-05, 0x03ff},
        {1.0009765625, 0x3c01},
        {1.00048828125, 0x3c00},       /* 1 + 2^-11, tie: even */
        {1.00146484375, 0x3c02},       /* 1 + 3 * 2^-11, tie: even */
        {2049.0, 0x6800},
        {2051.0, 0x6802},
        {4097.0, 0x6c00},
        {0.0999755859375, 0x2e66},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(half_of(cases[i].v), cases[i].h, "%.17g gave 0x%04x, NumPy 0x%04x",
                     cases[i].v, half_of(cases[i].v), cases[i].h);
}

Test(half, every_value_reads_exactly_and_writes_back)
{
    for (uint32_t h = 0; h <= 0xFFFF; h++) {
        long double v = read_half((uint16_t)h);
        if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0) {
            cr_assert(isnan(v), "0x%04x is NaN", h);
            cr_assert_eq(signbit(v) != 0, (h & 0x8000u) != 0, "0x%04x keeps its sign", h);
            /* the payload survives; a signalling NaN comes back quiet */
            cr_assert_eq(half_of(v), h | 0x200u, "NaN 0x%04x wrote back as 0x%04x", h,
                         half_of(v));
            continue;
        }
        if ((h & 0x7FFFu) != 0x7C00u)
            cr_assert_eq(v, half_reference((uint16_t)h), "0x%04x read as %La", h, v);
        cr_assert_eq(half_of(v), h, "0x%04x (%La) wrote back as 0x%04x", h, v, half_of(v));
    }
}

/* Between neighbours a < b: the midpoint goes to the even one, a hair
 * above or below it to the nearer one.  The reference is exact: the
 * midpoint has 12 significant bits and the hair is 2^-40 of the gap. */
Test(half, rounding_ties_to_even_against_exact_midpoints)
{
    for (uint32_t h = 0; h < 0x7BFF; h++) {
        long double a = half_reference((uint16_t)h), b = half_reference((uint16_t)(h + 1));
        long double mid = (a + b) / 2, hair = (b - a) * pow2(-40);
        uint16_t even = (uint16_t)((h & 1u) ? h + 1 : h);
        cr_assert_eq(half_of(mid), even, "midpoint of 0x%04x, 0x%04x", h, h + 1);
        cr_assert_eq(half_of(-mid), even | 0x8000u);
        cr_assert_eq(half_of(mid + hair), h + 1, "just above the midpoint of 0x%04x", h);
        cr_assert_eq(half_of(mid - hair), h, "just below the midpoint of 0x%04x", h);
        cr_assert_eq(half_of(-(mid + hair)), (h + 1) | 0x8000u);
    }
}

/* 1 + 2^-11 + 2^-40 is a float tie (1 + 2^-11) after rounding to float,
 * which would then go down to 1.0; rounded once, it goes up. */
Test(half, no_double_rounding_through_float)
{
    cr_assert_eq(half_of(1.0L + pow2(-11) + pow2(-40)), 0x3C01);
    cr_assert_eq(half_of(1.0L + pow2(-11) - pow2(-40)), 0x3C00);
    cr_assert_eq(half_of(pow2(-25) + pow2(-60)), 0x0001);
    cr_assert_eq(half_of(pow2(-25) - pow2(-60)), 0x0000);
}

Test(half, overflow_underflow_and_nan)
{
    int rc;
    xbuf_error err;
    unsigned char buf[BUFSIZE];
    xbuf_type t = half_type(XBUF_BIG);
    fill(buf);
    assert_fails(xbuf_scalar_write_float(&t, buf + 3, 65520.0L, false, &err), &err,
                 XBUF_ERANGE, "value 65520 is too large for a 2-byte float");
    assert_contains(err.message, "65504");
    assert_fails(xbuf_scalar_write_float(&t, buf + 3, -1e300L, false, &err), &err,
                 XBUF_ERANGE, "too large");
    assert_fails(xbuf_scalar_write_float(&t, buf + 3, 65536.0L, false, &err), &err,
                 XBUF_ERANGE, "too large");
    assert_all_sentinel(buf);
    cr_assert_eq(half_of(65520.0L - pow2(-20)), 0x7BFF);
    cr_assert_eq(write_half(65520.0L, true, &rc), 0x7C00);
    cr_assert_eq(rc, 0);
    cr_assert_eq(write_half(-1e300L, true, &rc), 0xFC00);
    cr_assert_eq(rc, 0);
    cr_assert_eq(half_of(pow2(-30)), 0x0000);
    cr_assert_eq(half_of(-pow2(-30)), 0x8000);
    cr_assert_eq(half_of(LDBL_TRUE_MIN), 0x0000);

    uint16_t n = half_of(NAN);
    cr_assert_eq(n & 0x7C00u, 0x7C00u);
    cr_assert_neq(n & 0x03FFu, 0u);
    cr_assert_eq(n & 0x8000u, 0u);
    n = half_of(-(long double)NAN);
    cr_assert_eq(n & 0xFC00u, 0xFC00u);
    cr_assert_neq(n & 0x03FFu, 0u);
}

Test(half, byte_orders_and_offsets)
{
    for (int o = 0; o < 2; o++) {
        xbuf_type t = half_type(orders[o]);
        for (size_t off = 1; off <= 7; off++) {
            unsigned char buf[BUFSIZE], want[2];
            long double v = 0;
            fill(buf);
            cr_assert_eq(xbuf_scalar_write_float(&t, buf + off, 65504.0L, false, NULL), 0);
            encode(0x7BFF, 2, orders[o], want);
            assert_bytes(buf + off, want, 2, "65504 as half");
            assert_untouched_outside(buf, off, 2);
            cr_assert_eq(xbuf_scalar_read_float(&t, buf + off, &v, NULL), 0);
            cr_assert_eq(v, 65504.0L);
        }
    }
}

/* ---- single and double ----------------------------------------------------- */

static void check_float_bits(char code, size_t size, long double value, uint64_t bits)
{
    for (int o = 0; o < 2; o++) {
        xbuf_type t = leaf(XBUF_KIND_FLOAT, code, orders[o], (ptrdiff_t)size);
        unsigned char want[8];
        encode(bits, size, orders[o], want);
        for (size_t off = 1; off <= 7; off++) {
            unsigned char buf[BUFSIZE];
            long double back = 0;
            fill(buf);
            cr_assert_eq(xbuf_scalar_write_float(&t, buf + off, value, false, NULL), 0);
            assert_bytes(buf + off, want, size, "float bytes");
            assert_untouched_outside(buf, off, size);
            cr_assert_eq(xbuf_scalar_read_float(&t, buf + off, &back, NULL), 0);
            if (isnan(value))
                cr_assert(isnan(back));
            else
                cr_assert_eq(back, value, "%c read back %La, expected %La", code, back, value);
        }
    }
}

Test(float, known_patterns)
{
    check_float_bits('f', 4, 1.0L, 0x3F800000u);
    check_float_bits('f', 4, -2.0L, 0xC0000000u);
    check_float_bits('f', 4, (long double)0.1f, 0x3DCCCCCDu);
    check_float_bits('f', 4, FLT_MAX, 0x7F7FFFFFu);
    check_float_bits('f', 4, FLT_TRUE_MIN, 0x00000001u);
    check_float_bits('f', 4, INFINITY, 0x7F800000u);
    check_float_bits('f', 4, -0.0L, 0x80000000u);
    check_float_bits('d', 8, 1.0L, 0x3FF0000000000000u);
    check_float_bits('d', 8, 1.5L, 0x3FF8000000000000u);
    check_float_bits('d', 8, -0.25L, 0xBFD0000000000000u);
    check_float_bits('d', 8, (long double)0.1, 0x3FB999999999999Au);
    check_float_bits('d', 8, DBL_MAX, 0x7FEFFFFFFFFFFFFFu);
    check_float_bits('d', 8, DBL_TRUE_MIN, 0x0000000000000001u);
    check_float_bits('d', 8, -INFINITY, 0xFFF0000000000000u);
}

Test(float, random_bit_patterns_round_trip)
{
    for (int n = 0; n < 2000; n++) {
        uint64_t r = rng();
        uint32_t b32 = (uint32_t)r;
        float f;
        double d;
        memcpy(&f, &b32, sizeof f);
        memcpy(&d, &r, sizeof d);
        if (!isnan(f))
            check_float_bits('f', 4, f, b32);
        if (!isnan(d))
            check_float_bits('d', 8, d, r);
    }
}

Test(float, rounding_and_overflow)
{
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    long double v = 0;
    xbuf_type f = leaf(XBUF_KIND_FLOAT, 'f', XBUF_LITTLE, 4);
    /* ties to even, single rounding */
    cr_assert_eq(xbuf_scalar_write_float(&f, buf, 1.0L + pow2(-24), false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_float(&f, buf, &v, NULL), 0);
    cr_assert_eq(v, 1.0L);
    cr_assert_eq(xbuf_scalar_write_float(&f, buf, 1.0L + 3 * pow2(-24), false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_float(&f, buf, &v, NULL), 0);
    cr_assert_eq(v, 1.0L + pow2(-22));
    /* FLT_MAX + a quarter ulp rounds to FLT_MAX; + half an ulp is a tie
     * that goes to 2^128, i.e. overflow */
    cr_assert_eq(xbuf_scalar_write_float(&f, buf, (long double)FLT_MAX + pow2(102), false, NULL),
                 0);
    cr_assert_eq(xbuf_scalar_read_float(&f, buf, &v, NULL), 0);
    cr_assert_eq(v, FLT_MAX);
    fill(buf);
    assert_fails(xbuf_scalar_write_float(&f, buf + 1, (long double)FLT_MAX + pow2(103), false,
                                         &err),
                 &err, XBUF_ERANGE, "too large for a 4-byte float");
    assert_fails(xbuf_scalar_write_float(&f, buf + 1, -1e39L, false, &err), &err, XBUF_ERANGE,
                 "value -1e+39");
    assert_all_sentinel(buf);
    cr_assert_eq(xbuf_scalar_write_float(&f, buf + 1, -1e39L, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_float(&f, buf + 1, &v, NULL), 0);
    cr_assert(isinf(v) && v < 0);
    /* underflow is not an error */
    cr_assert_eq(xbuf_scalar_write_float(&f, buf + 1, 1e-50L, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_float(&f, buf + 1, &v, NULL), 0);
    cr_assert_eq(v, 0);

#if LDBL_MAX_EXP > DBL_MAX_EXP
    xbuf_type d = leaf(XBUF_KIND_FLOAT, 'd', XBUF_BIG, 8);
    fill(buf);
    assert_fails(xbuf_scalar_write_float(&d, buf + 2, (long double)DBL_MAX * 2, false, &err),
                 &err, XBUF_ERANGE, "too large for a 8-byte float");
    assert_all_sentinel(buf);
    cr_assert_eq(xbuf_scalar_write_float(&d, buf + 2, (long double)DBL_MAX * 2, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_float(&d, buf + 2, &v, NULL), 0);
    cr_assert(isinf(v) && v > 0);
#endif
#if LDBL_MANT_DIG >= 61
    cr_assert_eq(xbuf_scalar_write_float(&f, buf, 1.0L + pow2(-24) + pow2(-60), false, NULL),
                 0);
    cr_assert_eq(xbuf_scalar_read_float(&f, buf, &v, NULL), 0);
    cr_assert_eq(v, 1.0L + pow2(-23));
#endif
}

Test(float, nan_keeps_its_sign)
{
    unsigned char b[8];
    long double v = 0;
    xbuf_type f = leaf(XBUF_KIND_FLOAT, 'f', XBUF_BIG, 4);
    xbuf_type d = leaf(XBUF_KIND_FLOAT, 'd', XBUF_LITTLE, 8);
    cr_assert_eq(xbuf_scalar_write_float(&f, b, -(long double)NAN, false, NULL), 0);
    cr_assert_eq(b[0] & 0xFF, 0xFF);
    cr_assert_eq(b[1] & 0x80, 0x80);
    cr_assert_eq(xbuf_scalar_read_float(&f, b, &v, NULL), 0);
    cr_assert(isnan(v) && signbit(v));
    cr_assert_eq(xbuf_scalar_write_float(&d, b, NAN, false, NULL), 0);
    cr_assert_eq(b[7], 0x7F);
    cr_assert_eq(b[6] & 0xF0, 0xF0);
    cr_assert_eq(xbuf_scalar_read_float(&d, b, &v, NULL), 0);
    cr_assert(isnan(v) && !signbit(v));
}

/* ---- long double ------------------------------------------------------------ */

#define LDSIZE ((ptrdiff_t)sizeof(long double))

Test(long_double, random_round_trips_in_both_orders)
{
    for (int n = 0; n < 500; n++) {
        long double value = (long double)(int64_t)rng() / (long double)(rng() | 1u) *
                            pow2((int)(rng() % 200) - 100);
        for (int o = 0; o < 2; o++) {
            xbuf_type t = leaf(XBUF_KIND_FLOAT, 'g', orders[o], LDSIZE);
            unsigned char buf[BUFSIZE];
            long double back = 0;
            size_t off = 1 + (size_t)n % 7;
            fill(buf);
            cr_assert_eq(xbuf_scalar_write_float(&t, buf + off, value, false, NULL), 0);
            assert_untouched_outside(buf, off, (size_t)LDSIZE);
            cr_assert_eq(xbuf_scalar_read_float(&t, buf + off, &back, NULL), 0);
            cr_assert_eq(back, value, "%La read back as %La", value, back);
        }
    }
    /* the two orders are each other's reversal */
    xbuf_type le = leaf(XBUF_KIND_FLOAT, 'g', XBUF_LITTLE, LDSIZE);
    xbuf_type be = leaf(XBUF_KIND_FLOAT, 'g', XBUF_BIG, LDSIZE);
    unsigned char a[sizeof(long double)], b[sizeof(long double)];
    cr_assert_eq(xbuf_scalar_write_float(&le, a, -3.25L, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_write_float(&be, b, -3.25L, false, NULL), 0);
    for (size_t i = 0; i < sizeof a; i++)
        cr_assert_eq(a[i], b[sizeof b - 1 - i]);
}

#if LDBL_MANT_DIG == 64 && (LDBL_MAX_EXP == 16384) && defined(__x86_64__)
Test(long_double, x87_bytes_and_padding)
{
    /* x87 1.0: sign/exponent 0x3FFF, significand 0x8000000000000000 */
    static const unsigned char one_le[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F,
                                             0, 0, 0, 0, 0, 0};
    unsigned char one_be[16];
    for (int i = 0; i < 16; i++)
        one_be[i] = one_le[15 - i];
    const unsigned char *want[2] = {one_le, one_be};
    for (int o = 0; o < 2; o++) {
        xbuf_type t = leaf(XBUF_KIND_FLOAT, 'g', orders[o], 16);
        for (size_t off = 1; off <= 7; off++) {
            unsigned char buf[BUFSIZE];
            long double v = 0;
            fill(buf);
            cr_assert_eq(xbuf_scalar_write_float(&t, buf + off, 1.0L, false, NULL), 0);
            assert_bytes(buf + off, want[o], 16, "x87 1.0, padding zeroed");
            assert_untouched_outside(buf, off, 16);
            /* padding is ignored when reading */
            if (o == 0)
                memset(buf + off + 10, 0xEE, 6);
            else
                memset(buf + off, 0xEE, 6);
            cr_assert_eq(xbuf_scalar_read_float(&t, buf + off, &v, NULL), 0);
            cr_assert_eq(v, 1.0L);
        }
    }
}
#endif

/* ---- complex -------------------------------------------------------------- */

Test(complex, double_parts_real_first)
{
    for (int o = 0; o < 2; o++) {
        xbuf_type t = leaf(XBUF_KIND_COMPLEX, 'd', orders[o], 16);
        for (size_t off = 1; off <= 7; off++) {
            unsigned char buf[BUFSIZE], want[16];
            long double re = 0, im = 0;
            fill(buf);
            cr_assert_eq(xbuf_scalar_write_complex(&t, buf + off, 1.5L, -0.25L, false, NULL),
                         0);
            encode(0x3FF8000000000000u, 8, orders[o], want);
            encode(0xBFD0000000000000u, 8, orders[o], want + 8);
            assert_bytes(buf + off, want, 16, "Zd (1.5, -0.25)");
            assert_untouched_outside(buf, off, 16);
            cr_assert_eq(xbuf_scalar_read_complex(&t, buf + off, &re, &im, NULL), 0);
            cr_assert_eq(re, 1.5L);
            cr_assert_eq(im, -0.25L);
        }
    }
}

Test(complex, half_float_and_long_double)
{
    unsigned char buf[BUFSIZE];
    long double re = 0, im = 0;
    xbuf_type ze = leaf(XBUF_KIND_COMPLEX, 'e', XBUF_BIG, 4);
    cr_assert_eq(xbuf_scalar_write_complex(&ze, buf + 1, 1.0L, 65504.0L, false, NULL), 0);
    unsigned char want_e[4] = {0x3C, 0x00, 0x7B, 0xFF};
    assert_bytes(buf + 1, want_e, 4, "Ze (1, 65504)");
    cr_assert_eq(xbuf_scalar_read_complex(&ze, buf + 1, &re, &im, NULL), 0);
    cr_assert_eq(re, 1.0L);
    cr_assert_eq(im, 65504.0L);

    xbuf_type zf = leaf(XBUF_KIND_COMPLEX, 'f', XBUF_LITTLE, 8);
    cr_assert_eq(xbuf_scalar_write_complex(&zf, buf + 3, -2.0L, 1.0L, false, NULL), 0);
    unsigned char want_f[8] = {0, 0, 0, 0xC0, 0, 0, 0x80, 0x3F};
    assert_bytes(buf + 3, want_f, 8, "Zf (-2, 1)");

    xbuf_type zg = leaf(XBUF_KIND_COMPLEX, 'g', XBUF_BIG, 2 * LDSIZE);
    long double a = 1.0L / 3, b = -7.0L / 9;
    cr_assert_eq(xbuf_scalar_write_complex(&zg, buf + 5, a, b, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_complex(&zg, buf + 5, &re, &im, NULL), 0);
    cr_assert_eq(re, a);
    cr_assert_eq(im, b);
}

Test(complex, overflow_in_either_part_writes_nothing)
{
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    long double re = 0, im = 0;
    xbuf_type zf = leaf(XBUF_KIND_COMPLEX, 'f', XBUF_BIG, 8);
    fill(buf);
    assert_fails(xbuf_scalar_write_complex(&zf, buf + 2, 1.0L, 1e39L, false, &err), &err,
                 XBUF_ERANGE, "imaginary part 1e+39 is too large");
    assert_fails(xbuf_scalar_write_complex(&zf, buf + 2, -1e39L, 1.0L, false, &err), &err,
                 XBUF_ERANGE, "real part -1e+39 is too large");
    assert_all_sentinel(buf);
    cr_assert_eq(xbuf_scalar_write_complex(&zf, buf + 2, 1.0L, 1e39L, true, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_complex(&zf, buf + 2, &re, &im, NULL), 0);
    cr_assert_eq(re, 1.0L);
    cr_assert(isinf(im) && im > 0);
    cr_assert_eq(xbuf_scalar_write_complex(&zf, buf + 2, NAN, -INFINITY, false, NULL), 0);
    cr_assert_eq(xbuf_scalar_read_complex(&zf, buf + 2, &re, &im, NULL), 0);
    cr_assert(isnan(re));
    cr_assert(isinf(im) && im < 0);
}

/* ---- code units ----------------------------------------------------------- */

Test(units, ucs2_and_ucs4_in_both_orders)
{
    static const uint32_t units[3] = {0x0041, 0xD83D, 0xFFFF};
    static const uint32_t units4[3] = {0x1F600, 0x10FFFF, 0xFFFFFFFFu};
    for (int o = 0; o < 2; o++) {
        xbuf_type u2 = ucs_type(XBUF_KIND_UCS2, orders[o], 3);
        xbuf_type u4 = ucs_type(XBUF_KIND_UCS4, orders[o], 3);
        for (size_t off = 1; off <= 7; off++) {
            unsigned char buf[BUFSIZE], want[12];
            uint32_t got = 0;
            fill(buf);
            for (ptrdiff_t i = 0; i < 3; i++) {
                cr_assert_eq(xbuf_scalar_write_unit(&u2, buf + off, i, units[i], NULL), 0);
                encode(units[i], 2, orders[o], want + 2 * i);
            }
            assert_bytes(buf + off, want, 6, "UCS-2 units");
            assert_untouched_outside(buf, off, 6);
            for (ptrdiff_t i = 0; i < 3; i++) {
                cr_assert_eq(xbuf_scalar_read_unit(&u2, buf + off, i, &got, NULL), 0);
                cr_assert_eq(got, units[i]);
            }
            fill(buf);
            for (ptrdiff_t i = 0; i < 3; i++) {
                cr_assert_eq(xbuf_scalar_write_unit(&u4, buf + off, i, units4[i], NULL), 0);
                encode(units4[i], 4, orders[o], want + 4 * i);
            }
            assert_bytes(buf + off, want, 12, "UCS-4 units");
            assert_untouched_outside(buf, off, 12);
            for (ptrdiff_t i = 0; i < 3; i++) {
                cr_assert_eq(xbuf_scalar_read_unit(&u4, buf + off, i, &got, NULL), 0);
                cr_assert_eq(got, units4[i]);
            }
        }
    }
}

Test(units, index_and_value_ranges)
{
    unsigned char buf[BUFSIZE];
    xbuf_error err;
    uint32_t got = 99;
    xbuf_type u2 = ucs_type(XBUF_KIND_UCS2, XBUF_LITTLE, 3);
    xbuf_type u4 = ucs_type(XBUF_KIND_UCS4, XBUF_BIG, 2);
    fill(buf);
    assert_fails(xbuf_scalar_write_unit(&u2, buf + 1, 3, 0x41, &err), &err, XBUF_ERANGE,
                 "index 3 is out of range for a string of 3");
    assert_fails(xbuf_scalar_write_unit(&u2, buf + 1, -1, 0x41, &err), &err, XBUF_ERANGE,
                 "index -1");
    assert_fails(xbuf_scalar_write_unit(&u2, buf + 1, 0, 0x10000, &err), &err, XBUF_ERANGE,
                 "0x10000 does not fit in a UCS-2 code unit");
    assert_fails(xbuf_scalar_write_unit(&u4, buf + 1, 2, 0x41, &err), &err, XBUF_ERANGE,
                 "out of range");
    assert_fails(xbuf_scalar_read_unit(&u2, buf + 1, 3, &got, &err), &err, XBUF_ERANGE,
                 "out of range");
    assert_fails(xbuf_scalar_read_unit(&u4, buf + 1, PTRDIFF_MAX, &got, &err), &err,
                 XBUF_ERANGE, "out of range");
    cr_assert_eq(got, 99);
    assert_all_sentinel(buf);

    xbuf_type empty = ucs_type(XBUF_KIND_UCS4, XBUF_LITTLE, 0);
    assert_fails(xbuf_scalar_read_unit(&empty, buf, 0, &got, &err), &err, XBUF_ERANGE,
                 "string of 0");
}

/* ---- pointers ---------------------------------------------------------- */

Test(pointer, every_kind_order_and_offset)
{
    static const xbuf_kind kinds[4] = {XBUF_KIND_VOIDP, XBUF_KIND_OBJECT, XBUF_KIND_POINTER,
                                       XBUF_KIND_FUNCTION};
    int local = 0;
    uintptr_t values[3] = {(uintptr_t)&local, (uintptr_t)0x0102030405060708u, UINTPTR_MAX};
    for (int k = 0; k < 4; k++)
        for (int o = 0; o < 2; o++)
            for (int v = 0; v < 3; v++)
                for (size_t off = 1; off <= 7; off++) {
                    xbuf_type t = leaf(kinds[k], 'P', orders[o], (ptrdiff_t)sizeof(void *));
                    unsigned char buf[BUFSIZE], want[sizeof(void *)];
                    uintptr_t got = 0;
                    fill(buf);
                    cr_assert_eq(xbuf_scalar_write_pointer(&t, buf + off, values[v], NULL), 0);
                    encode(values[v], sizeof(void *), orders[o], want);
                    assert_bytes(buf + off, want, sizeof(void *), "pointer bytes");
                    assert_untouched_outside(buf, off, sizeof(void *));
                    cr_assert_eq(xbuf_scalar_read_pointer(&t, buf + off, &got, NULL), 0);
                    cr_assert_eq(got, values[v]);
                }
}

Test(pointer, other_widths_are_unsupported)
{
    unsigned char buf[16] = {0};
    xbuf_error err;
    uintptr_t got = 0;
    ptrdiff_t other = sizeof(void *) == 8 ? 4 : 8;
    xbuf_type t = leaf(XBUF_KIND_VOIDP, 'P', XBUF_LITTLE, other);
    assert_fails(xbuf_scalar_read_pointer(&t, buf, &got, &err), &err, XBUF_EUNSUPPORTED,
                 "pointers are");
    assert_fails(xbuf_scalar_write_pointer(&t, buf, 1, &err), &err, XBUF_EUNSUPPORTED,
                 "-byte pointer");
}

/* ---- error paths -------------------------------------------------------- */

Test(errors, null_arguments)
{
    unsigned char b[64] = {0};
    xbuf_error err;
    int64_t i;
    uint64_t u;
    long double f, g;
    uint32_t c;
    uintptr_t p;
    xbuf_type it = leaf(XBUF_KIND_INT, 'i', XBUF_LITTLE, 4);
    xbuf_type ft = leaf(XBUF_KIND_FLOAT, 'd', XBUF_LITTLE, 8);
    xbuf_type zt = leaf(XBUF_KIND_COMPLEX, 'd', XBUF_LITTLE, 16);
    xbuf_type ut = ucs_type(XBUF_KIND_UCS2, XBUF_LITTLE, 2);
    xbuf_type pt = leaf(XBUF_KIND_VOIDP, 'P', XBUF_LITTLE, (ptrdiff_t)sizeof(void *));

    assert_fails(xbuf_scalar_read_int(NULL, b, &i, &err), &err, XBUF_EINVAL, "NULL type");
    assert_fails(xbuf_scalar_read_int(&it, NULL, &i, &err), &err, XBUF_EINVAL, "NULL source");
    assert_fails(xbuf_scalar_read_int(&it, b, NULL, &err), &err, XBUF_EINVAL, "NULL output");
    assert_fails(xbuf_scalar_read_uint(NULL, b, &u, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_uint(&it, NULL, &u, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_uint(&it, b, NULL, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_int(NULL, b, 1, false, &err), &err, XBUF_EINVAL, "NULL type");
    assert_fails(xbuf_scalar_write_int(&it, NULL, 1, false, &err), &err, XBUF_EINVAL,
                 "NULL destination");
    assert_fails(xbuf_scalar_write_uint(NULL, b, 1, false, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_uint(&it, NULL, 1, false, &err), &err, XBUF_EINVAL, "NULL");

    assert_fails(xbuf_scalar_read_float(NULL, b, &f, &err), &err, XBUF_EINVAL, "NULL type");
    assert_fails(xbuf_scalar_read_float(&ft, NULL, &f, &err), &err, XBUF_EINVAL, "NULL source");
    assert_fails(xbuf_scalar_read_float(&ft, b, NULL, &err), &err, XBUF_EINVAL, "NULL output");
    assert_fails(xbuf_scalar_write_float(NULL, b, 1, false, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_float(&ft, NULL, 1, false, &err), &err, XBUF_EINVAL, "NULL");

    assert_fails(xbuf_scalar_read_complex(NULL, b, &f, &g, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_complex(&zt, NULL, &f, &g, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_complex(&zt, b, NULL, &g, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_complex(&zt, b, &f, NULL, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_complex(NULL, b, 1, 1, false, &err), &err, XBUF_EINVAL,
                 "NULL");
    assert_fails(xbuf_scalar_write_complex(&zt, NULL, 1, 1, false, &err), &err, XBUF_EINVAL,
                 "NULL");

    assert_fails(xbuf_scalar_read_unit(NULL, b, 0, &c, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_unit(&ut, NULL, 0, &c, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_unit(&ut, b, 0, NULL, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_unit(NULL, b, 0, 1, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_unit(&ut, NULL, 0, 1, &err), &err, XBUF_EINVAL, "NULL");

    assert_fails(xbuf_scalar_read_pointer(NULL, b, &p, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_pointer(&pt, NULL, &p, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_read_pointer(&pt, b, NULL, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_pointer(NULL, b, 1, &err), &err, XBUF_EINVAL, "NULL");
    assert_fails(xbuf_scalar_write_pointer(&pt, NULL, 1, &err), &err, XBUF_EINVAL, "NULL");
}

Test(errors, wrong_family_names_what_was_expected)
{
    unsigned char b[64] = {0};
    xbuf_error err;
    int64_t i;
    uint64_t u;
    long double f, g;
    uint32_t c;
    uintptr_t p;
    xbuf_type it = leaf(XBUF_KIND_INT, 'i', XBUF_LITTLE, 4);
    xbuf_type ft = leaf(XBUF_KIND_FLOAT, 'd', XBUF_LITTLE, 8);
    xbuf_type zt = leaf(XBUF_KIND_COMPLEX, 'd', XBUF_LITTLE, 16);
    xbuf_type st = leaf(XBUF_KIND_STRUCT, 'T', XBUF_NO_ORDER, 8);
    xbuf_type bt = leaf(XBUF_KIND_BYTES, 's', XBUF_NO_ORDER, 4);

    assert_fails(xbuf_scalar_read_int(&ft, b, &i, &err), &err, XBUF_ETYPE,
                 "expected an integer");
    assert_contains(err.message, "FLOAT");
    assert_fails(xbuf_scalar_read_uint(&st, b, &u, &err), &err, XBUF_ETYPE, "STRUCT");
    assert_fails(xbuf_scalar_write_int(&bt, b, 0, false, &err), &err, XBUF_ETYPE, "integer");
    assert_fails(xbuf_scalar_write_uint(&zt, b, 0, true, &err), &err, XBUF_ETYPE, "COMPLEX");
    assert_fails(xbuf_scalar_read_float(&it, b, &f, &err), &err, XBUF_ETYPE,
                 "expected a FLOAT type, got INT");
    assert_fails(xbuf_scalar_read_float(&zt, b, &f, &err), &err, XBUF_ETYPE, "FLOAT");
    assert_fails(xbuf_scalar_write_float(&it, b, 1, false, &err), &err, XBUF_ETYPE, "FLOAT");
    assert_fails(xbuf_scalar_read_complex(&ft, b, &f, &g, &err), &err, XBUF_ETYPE, "COMPLEX");
    assert_fails(xbuf_scalar_write_complex(&ft, b, 1, 1, false, &err), &err, XBUF_ETYPE,
                 "COMPLEX");
    assert_fails(xbuf_scalar_read_unit(&bt, b, 0, &c, &err), &err, XBUF_ETYPE, "UCS2 or UCS4");
    assert_fails(xbuf_scalar_write_unit(&it, b, 0, 1, &err), &err, XBUF_ETYPE, "UCS");
    assert_fails(xbuf_scalar_read_pointer(&it, b, &p, &err), &err, XBUF_ETYPE, "pointer");
    assert_fails(xbuf_scalar_write_pointer(&ft, b, 1, &err), &err, XBUF_ETYPE, "pointer");

    xbuf_type weird = leaf((xbuf_kind)99, '?', XBUF_NO_ORDER, 1);
    assert_fails(xbuf_scalar_read_int(&weird, b, &i, &err), &err, XBUF_ETYPE, "unknown");
}

Test(errors, inconsistent_types)
{
    unsigned char b[64];
    xbuf_error err;
    int64_t i;
    long double f, g;
    uint32_t c;
    memset(b, SENTINEL, sizeof b);

    xbuf_type i3 = leaf(XBUF_KIND_INT, 'i', XBUF_LITTLE, 3);
    assert_fails(xbuf_scalar_read_int(&i3, b, &i, &err), &err, XBUF_EINVAL,
                 "a 3-byte INT: integers are 1, 2, 4 or 8 bytes");
    xbuf_type u16 = leaf(XBUF_KIND_UINT, 'Q', XBUF_LITTLE, 16);
    assert_fails(xbuf_scalar_write_uint(&u16, b, 0, false, &err), &err, XBUF_EINVAL, "16-byte");
    xbuf_type b2 = leaf(XBUF_KIND_BOOL, '?', XBUF_NO_ORDER, 2);
    assert_fails(xbuf_scalar_read_int(&b2, b, &i, &err), &err, XBUF_EINVAL, "2-byte BOOL");
    xbuf_type c0 = leaf(XBUF_KIND_CHAR, 'c', XBUF_NO_ORDER, 0);
    assert_fails(xbuf_scalar_write_int(&c0, b, 0, false, &err), &err, XBUF_EINVAL, "CHAR");

    /* byte order: needed (and must be '<' or '>') for multi-byte values */
    xbuf_type noorder = leaf(XBUF_KIND_INT, 'i', XBUF_NO_ORDER, 4);
    assert_fails(xbuf_scalar_read_int(&noorder, b, &i, &err), &err, XBUF_EINVAL,
                 "needs byte order '<' or '>', not '|'");
    xbuf_type at = leaf(XBUF_KIND_FLOAT, 'd', '@', 8);
    assert_fails(xbuf_scalar_read_float(&at, b, &f, &err), &err, XBUF_EINVAL, "not '@'");
    xbuf_type zero = leaf(XBUF_KIND_UCS2, 'u', '\0', 2);
    assert_fails(xbuf_scalar_read_unit(&zero, b, 0, &c, &err), &err, XBUF_EINVAL, "byte order");
    xbuf_type pnone = leaf(XBUF_KIND_OBJECT, 'O', XBUF_NO_ORDER, (ptrdiff_t)sizeof(void *));
    assert_fails(xbuf_scalar_write_pointer(&pnone, b, 0, &err), &err, XBUF_EINVAL,
                 "byte order");

    /* bit fields */
    xbuf_type wide = bits_type(65, 0);
    assert_fails(xbuf_scalar_read_int(&wide, b, &i, &err), &err, XBUF_EUNSUPPORTED,
                 "65-bit field");
    xbuf_type neg = bits_type(3, 0);
    neg.count = -1;
    assert_fails(xbuf_scalar_read_int(&neg, b, &i, &err), &err, XBUF_EINVAL, "negative width");
    xbuf_type off8 = bits_type(3, 0);
    off8.bit_offset = 8;
    assert_fails(xbuf_scalar_write_int(&off8, b, 1, false, &err), &err, XBUF_EINVAL,
                 "bit_offset 8");
    off8.bit_offset = -1;
    assert_fails(xbuf_scalar_write_int(&off8, b, 1, false, &err), &err, XBUF_EINVAL,
                 "bit_offset -1");
    xbuf_type span = bits_type(9, 0);
    span.itemsize = 1;
    assert_fails(xbuf_scalar_write_int(&span, b, 1, false, &err), &err, XBUF_EINVAL,
                 "spans 2 bytes, not itemsize 1");

    /* floats */
    xbuf_type f8 = leaf(XBUF_KIND_FLOAT, 'f', XBUF_LITTLE, 8);
    assert_fails(xbuf_scalar_read_float(&f8, b, &f, &err), &err, XBUF_EINVAL,
                 "a 8-byte 'f' float: 'f' is 4 bytes");
    xbuf_type fi = leaf(XBUF_KIND_FLOAT, 'i', XBUF_LITTLE, 4);
    assert_fails(xbuf_scalar_write_float(&fi, b, 1, false, &err), &err, XBUF_EINVAL,
                 "unknown float code");
    xbuf_type g12 = leaf(XBUF_KIND_FLOAT, 'g', XBUF_LITTLE, LDSIZE == 12 ? 16 : 12);
    assert_fails(xbuf_scalar_read_float(&g12, b, &f, &err), &err, XBUF_EUNSUPPORTED,
                 "long double");
    xbuf_type zodd = leaf(XBUF_KIND_COMPLEX, 'f', XBUF_LITTLE, 9);
    assert_fails(xbuf_scalar_read_complex(&zodd, b, &f, &g, &err), &err, XBUF_EINVAL,
                 "odd itemsize 9");
    xbuf_type zf = leaf(XBUF_KIND_COMPLEX, 'f', XBUF_LITTLE, 16);
    assert_fails(xbuf_scalar_write_complex(&zf, b, 1, 1, false, &err), &err, XBUF_EINVAL,
                 "'f' is 4 bytes");
    xbuf_type zg = leaf(XBUF_KIND_COMPLEX, 'g', XBUF_LITTLE, LDSIZE);
    assert_fails(xbuf_scalar_write_complex(&zg, b, 1, 1, false, &err), &err, XBUF_EUNSUPPORTED,
                 "long double");

    /* strings */
    xbuf_type u2 = ucs_type(XBUF_KIND_UCS2, XBUF_LITTLE, 3);
    u2.itemsize = 7;
    assert_fails(xbuf_scalar_write_unit(&u2, b, 0, 1, &err), &err, XBUF_EINVAL,
                 "3 UCS2 code units do not make itemsize 7");
    xbuf_type u4 = ucs_type(XBUF_KIND_UCS4, XBUF_LITTLE, 3);
    u4.count = -3;
    u4.itemsize = -12;
    assert_fails(xbuf_scalar_read_unit(&u4, b, 0, &c, &err), &err, XBUF_EINVAL, "code units");
    u4.count = PTRDIFF_MAX / 2;
    assert_fails(xbuf_scalar_read_unit(&u4, b, 0, &c, &err), &err, XBUF_EINVAL, "code units");

    for (size_t k = 0; k < sizeof b; k++)
        cr_assert_eq(b[k], SENTINEL, "a failed call wrote byte %zu", k);
}

Test(errors, null_err_is_fine_and_success_leaves_err_alone)
{
    unsigned char b[8] = {0};
    int64_t i = 0;
    xbuf_type t = leaf(XBUF_KIND_INT, 'b', XBUF_NO_ORDER, 1);
    cr_assert_eq(xbuf_scalar_write_int(&t, b, 1000, false, NULL), XBUF_ERANGE);
    cr_assert_eq(xbuf_scalar_read_int(NULL, b, &i, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_scalar_read_float(&t, b, NULL, NULL), XBUF_EINVAL);

    xbuf_error err;
    err.code = 12345;
    strcpy(err.message, "untouched");
    cr_assert_eq(xbuf_scalar_write_int(&t, b, -5, false, &err), 0);
    cr_assert_eq(xbuf_scalar_read_int(&t, b, &i, &err), 0);
    cr_assert_eq(i, -5);
    cr_assert_eq(err.code, 12345);
    cr_assert_str_eq(err.message, "untouched");
}
