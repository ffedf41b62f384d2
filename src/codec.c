/*
 * codec.c -- the scalar codec: read and write one leaf value at any address,
 * in either byte order (xbuf/format.h, "the scalar codec").
 *
 * How bytes are moved.  Nothing is ever dereferenced through a cast pointer:
 * values are memcpy'd into a local of the right width and byte-swapped when
 * the type's byte order is not the host's, so any address works and strict
 * aliasing is never in question.  Byte order only matters for units wider
 * than one byte; for one-byte items (b B c ? and 1-byte code units) and for
 * bit fields the type's byteorder is ignored, whatever it holds.
 *
 * Decisions the header leaves open:
 *
 *   Validation order.  NULL arguments (XBUF_EINVAL), then the kind's family
 *   (XBUF_ETYPE, naming the family expected), then the type's own
 *   consistency, then the value (XBUF_ERANGE).  Nothing is written unless
 *   every check passed.
 *
 *   Inconsistent types.  A type whose fields contradict each other is
 *   caller misuse, XBUF_EINVAL: an integer that is not 1, 2, 4 or 8 bytes, a
 *   bool or char that is not 1 byte, a float whose itemsize is not its
 *   code's (or an unknown float code), a complex that is not two such
 *   floats, a string whose itemsize is not count code units, a bit field
 *   whose bit_offset is outside 0..7, whose width is negative or whose
 *   itemsize is not ceil((bit_offset + width) / 8), and a multi-byte value
 *   whose byteorder is neither XBUF_LITTLE nor XBUF_BIG.  A type that is
 *   consistent but that this host cannot handle is XBUF_EUNSUPPORTED: a
 *   bit field wider than 64 bits, a 'g' whose itemsize is not this host's
 *   sizeof(long double), a pointer whose itemsize is not sizeof(void *).
 *
 *   Integers.  Every integer kind reads through (bits, negative): INT is
 *   sign-extended, everything else is non-negative.  read_int fails with
 *   XBUF_ERANGE for an unsigned value above INT64_MAX, read_uint for a
 *   negative one; nothing else can fail once the type is valid.
 *   BOOL reads as struct.unpack('?') does: any non-zero byte is 1.  Writing
 *   a bool accepts 0 and 1; with `wrap` any other value is written as
 *   (value != 0), C's conversion to _Bool, rather than its low bit (2 would
 *   otherwise become false).  CHAR is an unsigned byte, 0..255.
 *   BITS fields are unsigned: read_uint gives the field, read_int the same
 *   value (which only a 64-bit field can push past INT64_MAX).  Writing
 *   touches only the field's bits; the other bits of the bytes it shares
 *   are read and written back unchanged (so two threads writing fields
 *   that share a byte race; callers serialise such writes).
 *   `wrap` keeps the low bits of the two's complement representation, for
 *   every width, so write_int(-1, wrap) sets every bit of the field.
 *
 *   Floats.  Reading is exact.  Writing 'f' and 'd' converts with a C cast
 *   (round to nearest in the default rounding mode); 'e' is converted by
 *   hand from the long double with round-to-nearest-even, subnormals
 *   included, so there is no double rounding through float.  "Too large"
 *   means what struct.pack means by it: the value rounds to infinity
 *   (65519 becomes 65504 for 'e'; 65520 is too large).  With wrap true it
 *   becomes infinity of its sign; with wrap false it is XBUF_ERANGE.  Tiny
 *   values underflow to subnormals or zero without error.  Infinities are
 *   written as such; NaN stays NaN with its sign (and as much of its
 *   payload as the cast keeps; a half NaN keeps the top 10 payload bits of
 *   the float NaN, quiet bit forced when they are all zero).
 *   'g' is the host's long double, stored as `itemsize` bytes that a
 *   byte swap reverses as one number.  On x86 the x87 80-bit format lives in
 *   the low 10 bytes of 16 (or 12): reading ignores the padding, writing
 *   zeroes it so that output never depends on stack garbage.  A host whose
 *   long double is a double-double (PowerPC) would need a different swap;
 *   none is attempted.
 *
 *   Complex.  itemsize is twice the component's size; the real part comes
 *   first; each component has the type's byte order.  A write checks both
 *   parts before writing either.
 *
 *   Code units.  UCS2 units are 0..0xFFFF, written values above are
 *   XBUF_ERANGE; UCS4 units are any 32-bit value (code units are storage,
 *   not validated code points), as are UCS2 surrogates.  The index must be
 *   0 <= index < count, else XBUF_ERANGE.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"


/* The x87 extended format keeps its 10 significant bytes at the start of a
 * larger slot; the rest is padding that writes zero.  Only recognised on
 * little-endian hosts, the only ones that use it with padding after it. */
#if LDBL_MANT_DIG == 64 && LDBL_MAX_EXP == 16384 && XBUF_NATIVE_ORDER == XBUF_LITTLE
#  define CODEC_LDBL_BYTES ((size_t)10)
#else
#  define CODEC_LDBL_BYTES sizeof(long double)
#endif

_Static_assert(sizeof(uintptr_t) <= sizeof(uint64_t), "pointers travel through uint64_t");

/* Room for the widest float the codec writes. */
#define CODEC_FLOAT_MAX (sizeof(long double) > 8 ? sizeof(long double) : 8)

/* ---- naming things in messages ---------------------------------------- */

static const char *kind_name(xbuf_kind kind)
{
    static const char *const names[] = {
        "unknown", "INT",    "UINT",    "BOOL",  "FLOAT",  "COMPLEX",
        "CHAR",    "BYTES",  "PASCAL",  "UCS2",  "UCS4",   "BITS",
        "OBJECT",  "VOIDP",  "POINTER", "FUNCTION", "VOID", "STRUCT",
        "ARRAY"};
    if ((int)kind < 1 || (int)kind >= (int)(sizeof names / sizeof names[0]))
        return names[0];
    return names[kind];
}

/* The ETYPE error every entry point gives for a kind outside its family. */
static int wrong_family(const xbuf_type *type, const char *expected, xbuf_error *err)
{
    return xbuf_error_set(err, XBUF_ETYPE, "expected %s type, got %s", expected,
                          kind_name(type->kind));
}

/* ---- moving bytes ------------------------------------------------------ */

/* Whether a value made of `unit`-byte units needs its bytes reversed; an
 * invalid order on a multi-byte unit is XBUF_EINVAL. */
static int check_order(const xbuf_type *type, ptrdiff_t unit, bool *swap, xbuf_error *err)
{
    *swap = false;
    if (unit <= 1)
        return XBUF_OK;
    RETURN_ERROR_IF(type->byteorder != XBUF_LITTLE && type->byteorder != XBUF_BIG, err,
                    XBUF_EINVAL,
                    "a %td-byte value needs byte order '<' or '>', not '%c' (0x%02x)", unit,
                    type->byteorder >= ' ' ? type->byteorder : '?',
                    (unsigned)(unsigned char)type->byteorder);
    *swap = type->byteorder != XBUF_NATIVE_ORDER;
    return XBUF_OK;
}

/* An unsigned integer of 1, 2, 4 or 8 bytes at any address. */
static uint64_t load_uint(const unsigned char *src, ptrdiff_t size, bool swap)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (size) {
    case 1:
        return src[0];
    case 2:
        memcpy(&u16, src, 2);
        return swap ? __builtin_bswap16(u16) : u16;
    case 4:
        memcpy(&u32, src, 4);
        return swap ? __builtin_bswap32(u32) : u32;
    default:
        memcpy(&u64, src, 8);
        return swap ? __builtin_bswap64(u64) : u64;
    }
}

/* The low `size` bytes of `value` (1, 2, 4 or 8) at any address. */
static void store_uint(unsigned char *dst, ptrdiff_t size, bool swap, uint64_t value)
{
    uint16_t u16 = (uint16_t)value;
    uint32_t u32 = (uint32_t)value;
    switch (size) {
    case 1:
        dst[0] = (unsigned char)value;
        return;
    case 2:
        u16 = swap ? __builtin_bswap16(u16) : u16;
        memcpy(dst, &u16, 2);
        return;
    case 4:
        u32 = swap ? __builtin_bswap32(u32) : u32;
        memcpy(dst, &u32, 4);
        return;
    default:
        value = swap ? __builtin_bswap64(value) : value;
        memcpy(dst, &value, 8);
        return;
    }
}

/* memcpy, reversing the bytes when `swap`: a byte swap of an n-byte number. */
static void copy_ordered(unsigned char *dst, const unsigned char *src, size_t n, bool swap)
{
    if (!swap) {
        memcpy(dst, src, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = src[n - 1 - i];
}

/* ---- integers ---------------------------------------------------------- */

/* An integer as the codec carries it: the 64-bit two's complement bits, and
 * whether they stand for a negative int64_t.  Lets one range check serve
 * both the signed and the unsigned entry points. */
typedef struct int_value {
    uint64_t bits;
    bool negative;
} int_value;

static uint64_t width_mask(ptrdiff_t width)
{
    return width >= 64 ? UINT64_MAX : ((uint64_t)1 << width) - 1;
}

static int check_bits(const xbuf_type *type, xbuf_error *err)
{
    RETURN_ERROR_IF(type->count < 0, err, XBUF_EINVAL, "a bit field of negative width %td",
                    type->count);
    RETURN_ERROR_IF(type->count > 64, err, XBUF_EUNSUPPORTED,
                    "a %td-bit field is wider than the 64 bits the codec reads", type->count);
    RETURN_ERROR_IF(type->bit_offset < 0 || type->bit_offset > 7, err, XBUF_EINVAL,
                    "bit_offset %d is outside 0..7", type->bit_offset);
    ptrdiff_t need = (type->bit_offset + type->count + 7) / 8;
    RETURN_ERROR_IF(type->itemsize != need, err, XBUF_EINVAL,
                    "a %td-bit field at bit %d spans %td bytes, not itemsize %td", type->count,
                    type->bit_offset, need, type->itemsize);
    return XBUF_OK;
}

/* Family, size and order of an integer type; *swap as check_order. */
static int check_integer(const xbuf_type *type, bool *swap, xbuf_error *err)
{
    *swap = false;
    switch (type->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT: {
        ptrdiff_t n = type->itemsize;
        RETURN_ERROR_IF(n != 1 && n != 2 && n != 4 && n != 8, err, XBUF_EINVAL,
                        "a %td-byte %s: integers are 1, 2, 4 or 8 bytes", n,
                        kind_name(type->kind));
        return check_order(type, n, swap, err);
    }
    case XBUF_KIND_BOOL:
    case XBUF_KIND_CHAR:
        RETURN_ERROR_IF(type->itemsize != 1, err, XBUF_EINVAL, "a %td-byte %s: it is 1 byte",
                        type->itemsize, kind_name(type->kind));
        return XBUF_OK;
    case XBUF_KIND_BITS:
        return check_bits(type, err);
    default:
        return wrong_family(type, "an integer (INT, UINT, BOOL, CHAR or BITS)", err);
    }
}

/* Bits numbered from the least significant bit of the lowest byte: byte i
 * holds field bits i*8 - offset .. i*8 - offset + 7. */
static uint64_t bits_load(const unsigned char *src, int offset, ptrdiff_t width)
{
    uint64_t value = 0;
    ptrdiff_t nbytes = (offset + width + 7) / 8;
    for (ptrdiff_t i = 0; i < nbytes; i++) {
        ptrdiff_t shift = i * 8 - offset; /* < width <= 64: byte i holds a field bit */
        value |= shift >= 0 ? (uint64_t)src[i] << shift : (uint64_t)src[i] >> -shift;
    }
    return value & width_mask(width);
}

/* Read-modify-write of each byte the field touches, so that the bits of
 * neighbouring fields sharing those bytes survive. */
static void bits_store(unsigned char *dst, int offset, ptrdiff_t width, uint64_t value)
{
    uint64_t mask = width_mask(width);
    ptrdiff_t nbytes = (offset + width + 7) / 8;
    value &= mask;
    for (ptrdiff_t i = 0; i < nbytes; i++) {
        ptrdiff_t shift = i * 8 - offset;
        unsigned m = (unsigned)((shift >= 0 ? mask >> shift : mask << -shift) & 0xFFu);
        unsigned v = (unsigned)((shift >= 0 ? value >> shift : value << -shift) & 0xFFu);
        dst[i] = (unsigned char)((dst[i] & ~m) | (v & m));
    }
}

/* The value of an integer type that passed check_integer. */
static int_value integer_load(const xbuf_type *type, const unsigned char *src, bool swap)
{
    int_value v = {0, false};
    switch (type->kind) {
    case XBUF_KIND_INT: {
        unsigned width = (unsigned)type->itemsize * 8;
        v.bits = load_uint(src, type->itemsize, swap);
        if (width < 64 && (v.bits >> (width - 1)) != 0)
            v.bits |= UINT64_MAX << width; /* sign-extend */
        v.negative = (v.bits >> 63) != 0;
        return v;
    }
    case XBUF_KIND_BOOL:
        v.bits = src[0] != 0;
        return v;
    case XBUF_KIND_BITS:
        v.bits = bits_load(src, type->bit_offset, type->count);
        return v;
    default: /* UINT, CHAR */
        v.bits = load_uint(src, type->itemsize, swap);
        return v;
    }
}

/* Whether an integer type holds `v` exactly. */
static bool integer_fits(const xbuf_type *type, int_value v)
{
    switch (type->kind) {
    case XBUF_KIND_INT: {
        unsigned width = (unsigned)type->itemsize * 8;
        uint64_t max = width_mask(width - 1); /* 2^(width-1) - 1 */
        return v.negative ? v.bits >= ~max : v.bits <= max;
    }
    case XBUF_KIND_BOOL:
        return !v.negative && v.bits <= 1;
    case XBUF_KIND_BITS:
        return !v.negative && v.bits <= width_mask(type->count);
    default: /* UINT, CHAR */
        return !v.negative && v.bits <= width_mask(type->itemsize * 8);
    }
}

static int integer_range_error(const xbuf_type *type, int_value v, xbuf_error *err)
{
    char value[24];
    char what[64];
    if (v.negative)
        snprintf(value, sizeof value, "%" PRId64, -(int64_t)(~v.bits) - 1);
    else
        snprintf(value, sizeof value, "%" PRIu64, v.bits);
    switch (type->kind) {
    case XBUF_KIND_INT:
        snprintf(what, sizeof what, "a %td-byte signed integer", type->itemsize);
        break;
    case XBUF_KIND_UINT:
        snprintf(what, sizeof what, "a %td-byte unsigned integer", type->itemsize);
        break;
    case XBUF_KIND_BOOL:
        snprintf(what, sizeof what, "a bool (0 or 1)");
        break;
    case XBUF_KIND_CHAR:
        snprintf(what, sizeof what, "a char (0..255)");
        break;
    default:
        snprintf(what, sizeof what, "a %td-bit field", type->count);
        break;
    }
    return xbuf_error_set(err, XBUF_ERANGE, "value %s does not fit in %s", value, what);
}

/* The low bits of `v` into an integer type that passed check_integer. */
static void integer_store(const xbuf_type *type, unsigned char *dst, bool swap, int_value v)
{
    switch (type->kind) {
    case XBUF_KIND_BOOL:
        dst[0] = v.bits != 0; /* C's conversion to _Bool, see the top */
        return;
    case XBUF_KIND_BITS:
        bits_store(dst, type->bit_offset, type->count, v.bits);
        return;
    default:
        store_uint(dst, type->itemsize, swap, v.bits);
        return;
    }
}

static int integer_read(const xbuf_type *type, const void *src, int_value *v,
                        xbuf_error *err)
{
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || src == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : "source");
    RETURN_IF_FAILED(check_integer(type, &swap, err));
    *v = integer_load(type, src, swap);
    return XBUF_OK;
}

static int integer_write(const xbuf_type *type, void *dst, int_value v, bool wrap,
                         xbuf_error *err)
{
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || dst == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : "destination");
    RETURN_IF_FAILED(check_integer(type, &swap, err));
    if (!wrap && !integer_fits(type, v))
        return integer_range_error(type, v, err);
    integer_store(type, dst, swap, v);
    return XBUF_OK;
}

int xbuf_scalar_read_int(const xbuf_type *type, const void *src, int64_t *out, xbuf_error *err)
{
    int_value v = {0};
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "NULL output");
    RETURN_IF_FAILED(integer_read(type, src, &v, err));
    RETURN_ERROR_IF(!v.negative && v.bits > INT64_MAX, err, XBUF_ERANGE,
                    "value %" PRIu64 " does not fit in int64_t", v.bits);
    /* Spelled out because converting an out-of-range uint64_t is
     * implementation-defined. */
    *out = v.negative ? -(int64_t)(~v.bits) - 1 : (int64_t)v.bits;
    return XBUF_OK;
}

int xbuf_scalar_read_uint(const xbuf_type *type, const void *src, uint64_t *out,
                          xbuf_error *err)
{
    int_value v = {0};
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "NULL output");
    RETURN_IF_FAILED(integer_read(type, src, &v, err));
    RETURN_ERROR_IF(v.negative, err, XBUF_ERANGE,
                    "value %" PRId64 " is negative and does not fit in uint64_t",
                    -(int64_t)(~v.bits) - 1);
    *out = v.bits;
    return XBUF_OK;
}

int xbuf_scalar_write_int(const xbuf_type *type, void *dst, int64_t value, bool wrap,
                          xbuf_error *err)
{
    int_value v = {(uint64_t)value, value < 0};
    return integer_write(type, dst, v, wrap, err);
}

int xbuf_scalar_write_uint(const xbuf_type *type, void *dst, uint64_t value, bool wrap,
                           xbuf_error *err)
{
    int_value v = {value, false};
    return integer_write(type, dst, v, wrap, err);
}

/* ---- IEEE half precision ---------------------------------------------- */

/* Exact: every half is a float.  Built from bits so that NaN payloads and
 * signs survive. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | mant << 13;
    } else if (exp != 0) {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalise, mant * 2^-24 */
        uint32_t e = 127 - 14;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            e--;
        }
        bits = sign | e << 23 | (mant & 0x3FFu) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* NaN of the value's sign, keeping the top of its payload (via float). */
static uint16_t half_nan(long double value)
{
    float f = (float)value;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t payload = (uint16_t)((bits >> 13) & 0x3FFu);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    return (uint16_t)(sign | 0x7C00u | (payload != 0 ? payload : 0x200u));
}

/* Round a non-negative `scaled` (< 2048) to an integer, ties to even.  The
 * fraction is exact: scaled and its floor are on the same binade grid. */
static uint32_t round_half_even(long double scaled)
{
    uint32_t k = (uint32_t)scaled;
    long double frac = scaled - (long double)k;
    if (frac > 0.5L || (frac == 0.5L && (k & 1u) != 0))
        k++;
    return k;
}

/* e and *p = 2^e with 2^e <= a < 2^(e+1), for 2^-14 <= a < 2^16: read off
 * a double's exponent field in O(1) (no libm).  The conversion to double may
 * round `a` up into the next binade, hence the one-step correction. */
static int binade(long double a, long double *p)
{
    double d = (double)a;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    int e = (int)((bits >> 52) & 0x7FFu) - 1023;
    uint64_t pbits = (uint64_t)(e + 1023) << 52;
    memcpy(&d, &pbits, sizeof d);
    *p = d;
    if (a < *p) {
        *p /= 2;
        e--;
    }
    return e;
}

/* The magnitude bits (no sign) of finite `a` >= 0, rounded to nearest even
 * directly from the long double (no double rounding through float).
 * Results >= 0x7C00 are overflow to infinity.  Only multiplications by
 * powers of two, which are exact, so no libm is needed. */
static uint32_t half_magnitude(long double a)
{
    if (a >= 65536.0L)
        return 0x7C00u;
    if (a < 0x1p-14L) /* subnormal: units of 2^-24; 1024 carries into 0x400 */
        return round_half_even(a * 0x1p24L);
    long double p;
    int e = binade(a, &p);
    /* a / p * 1024 is in [1024, 2048); a carry to 2048 bumps the exponent,
     * and at e == 15 lands exactly on infinity's 0x7C00. */
    uint32_t k = round_half_even(a / p * 1024.0L);
    return ((uint32_t)(e + 15) << 10) + k - 1024u;
}

/* *overflow is set when a finite value rounded to infinity. */
static uint16_t half_from_long_double(long double value, bool *overflow)
{
    *overflow = false;
    if (isnan(value))
        return half_nan(value);
    uint16_t sign = signbit(value) ? 0x8000u : 0u;
    if (isinf(value))
        return (uint16_t)(sign | 0x7C00u);
    uint32_t mag = half_magnitude(signbit(value) ? -value : value);
    if (mag >= 0x7C00u) {
        *overflow = true;
        mag = 0x7C00u;
    }
    return (uint16_t)(sign | mag);
}

/* ---- floats ------------------------------------------------------------ */

/* The size of a float code, 0 for an unknown one. */
static ptrdiff_t float_size(char code)
{
    switch (code) {
    case 'e': return 2;
    case 'f': return 4;
    case 'd': return 8;
    case 'g': return (ptrdiff_t)sizeof(long double);
    default: return 0;
    }
}

/* A float code and the size its type gives it (the whole itemsize for
 * FLOAT, half of it for COMPLEX). */
static int check_float_code(const xbuf_type *type, ptrdiff_t size, xbuf_error *err)
{
    ptrdiff_t want = float_size(type->code);
    RETURN_ERROR_IF(want == 0, err, XBUF_EINVAL,
                    "unknown float code 0x%02x: expected 'e', 'f', 'd' or 'g'",
                    (unsigned)(unsigned char)type->code);
    RETURN_ERROR_IF(type->code == 'g' && size != want, err, XBUF_EUNSUPPORTED,
                    "a %td-byte long double: this host's long double is %td bytes", size,
                    want);
    RETURN_ERROR_IF(size != want, err, XBUF_EINVAL, "a %td-byte '%c' float: '%c' is %td bytes",
                    size, type->code, type->code, want);
    return XBUF_OK;
}

static int check_float(const xbuf_type *type, bool *swap, xbuf_error *err)
{
    if (type->kind != XBUF_KIND_FLOAT)
        return wrong_family(type, "a FLOAT", err);
    RETURN_IF_FAILED(check_float_code(type, type->itemsize, err));
    return check_order(type, type->itemsize, swap, err);
}

static int check_complex(const xbuf_type *type, bool *swap, xbuf_error *err)
{
    if (type->kind != XBUF_KIND_COMPLEX)
        return wrong_family(type, "a COMPLEX", err);
    RETURN_ERROR_IF(type->itemsize % 2 != 0, err, XBUF_EINVAL,
                    "a complex of odd itemsize %td", type->itemsize);
    RETURN_IF_FAILED(check_float_code(type, type->itemsize / 2, err));
    return check_order(type, type->itemsize / 2, swap, err);
}

/* A float of a valid code at any address, exactly. */
static long double float_load(char code, const unsigned char *src, bool swap)
{
    unsigned char bytes[CODEC_FLOAT_MAX];
    uint32_t b32;
    uint64_t b64;
    float f;
    double d;
    long double g;
    switch (code) {
    case 'e':
        return half_to_float((uint16_t)load_uint(src, 2, swap));
    case 'f':
        b32 = (uint32_t)load_uint(src, 4, swap);
        memcpy(&f, &b32, sizeof f);
        return f;
    case 'd':
        b64 = load_uint(src, 8, swap);
        memcpy(&d, &b64, sizeof d);
        return d;
    default:
        copy_ordered(bytes, src, sizeof g, swap);
        memcpy(&g, bytes, sizeof g);
        return g;
    }
}

/* `value` in a valid code's representation, byte order applied, into
 * out[0 .. float_size(code)); *overflow as half_from_long_double. */
static void float_encode(char code, long double value, bool swap, unsigned char *out,
                         bool *overflow)
{
    unsigned char bytes[CODEC_FLOAT_MAX];
    uint32_t b32;
    uint64_t b64;
    switch (code) {
    case 'e':
        store_uint(out, 2, swap, half_from_long_double(value, overflow));
        return;
    case 'f': {
        float f = (float)value;
        *overflow = isinf(f) && !isinf(value);
        memcpy(&b32, &f, sizeof b32);
        store_uint(out, 4, swap, b32);
        return;
    }
    case 'd': {
        double d = (double)value;
        *overflow = isinf(d) && !isinf(value);
        memcpy(&b64, &d, sizeof b64);
        store_uint(out, 8, swap, b64);
        return;
    }
    default:
        *overflow = false;
        memset(bytes, 0, sizeof bytes);
        memcpy(bytes, &value, CODEC_LDBL_BYTES); /* padding stays zero */
        copy_ordered(out, bytes, sizeof value, swap);
        return;
    }
}

static long double float_max(char code)
{
    switch (code) {
    case 'e': return 65504.0L;
    case 'f': return FLT_MAX;
    default: return DBL_MAX; /* 'g' never overflows */
    }
}

/* Encode one value (`what` names it in the message), refusing overflow
 * unless `wrap`. */
static int float_encode_checked(const xbuf_type *type, ptrdiff_t size, long double value,
                                bool wrap, bool swap, unsigned char *out, const char *what,
                                xbuf_error *err)
{
    bool overflow;
    float_encode(type->code, value, swap, out, &overflow);
    RETURN_ERROR_IF(overflow && !wrap, err, XBUF_ERANGE,
                    "%s %Lg is too large for a %td-byte float (largest finite %Lg)", what,
                    value, size, float_max(type->code));
    return XBUF_OK;
}

int xbuf_scalar_read_float(const xbuf_type *type, const void *src, long double *out,
                           xbuf_error *err)
{
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || src == NULL || out == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : src == NULL ? "source" : "output");
    RETURN_IF_FAILED(check_float(type, &swap, err));
    *out = float_load(type->code, src, swap);
    return XBUF_OK;
}

int xbuf_scalar_write_float(const xbuf_type *type, void *dst, long double value, bool wrap,
                            xbuf_error *err)
{
    bool swap = false;
    unsigned char bytes[CODEC_FLOAT_MAX];
    RETURN_ERROR_IF(type == NULL || dst == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : "destination");
    RETURN_IF_FAILED(check_float(type, &swap, err));
    RETURN_IF_FAILED(float_encode_checked(type, type->itemsize, value, wrap, swap, bytes,
                                          "value", err));
    memcpy(dst, bytes, (size_t)type->itemsize);
    return XBUF_OK;
}

int xbuf_scalar_read_complex(const xbuf_type *type, const void *src, long double *re,
                             long double *im, xbuf_error *err)
{
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || src == NULL || re == NULL || im == NULL, err,
                    XBUF_EINVAL, "NULL %s",
                    type == NULL ? "type" : src == NULL ? "source" : "output");
    RETURN_IF_FAILED(check_complex(type, &swap, err));
    const unsigned char *bytes = src;
    *re = float_load(type->code, bytes, swap);
    *im = float_load(type->code, bytes + type->itemsize / 2, swap);
    return XBUF_OK;
}

int xbuf_scalar_write_complex(const xbuf_type *type, void *dst, long double re, long double im,
                              bool wrap, xbuf_error *err)
{
    bool swap = false;
    unsigned char bytes[2 * CODEC_FLOAT_MAX];
    RETURN_ERROR_IF(type == NULL || dst == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : "destination");
    RETURN_IF_FAILED(check_complex(type, &swap, err));
    ptrdiff_t half = type->itemsize / 2;
    /* Both parts are encoded before either is stored: all or nothing. */
    RETURN_IF_FAILED(
        float_encode_checked(type, half, re, wrap, swap, bytes, "real part", err));
    RETURN_IF_FAILED(
        float_encode_checked(type, half, im, wrap, swap, bytes + half, "imaginary part", err));
    memcpy(dst, bytes, (size_t)type->itemsize);
    return XBUF_OK;
}

/* ---- code units -------------------------------------------------------- */

/* Family, itemsize and order of a string of code units, and `index` in it;
 * *unit receives the unit's size. */
static int check_unit(const xbuf_type *type, ptrdiff_t index, ptrdiff_t *unit, bool *swap,
                      xbuf_error *err)
{
    ptrdiff_t total;
    if (type->kind != XBUF_KIND_UCS2 && type->kind != XBUF_KIND_UCS4)
        return wrong_family(type, "a UCS2 or UCS4", err);
    *unit = type->kind == XBUF_KIND_UCS2 ? 2 : 4;
    RETURN_ERROR_IF(type->count < 0 || xbuf_mul_overflow(type->count, *unit, &total) ||
                        total != type->itemsize,
                    err, XBUF_EINVAL, "%td %s code units do not make itemsize %td",
                    type->count, kind_name(type->kind), type->itemsize);
    RETURN_IF_FAILED(check_order(type, *unit, swap, err));
    RETURN_ERROR_IF(index < 0 || index >= type->count, err, XBUF_ERANGE,
                    "index %td is out of range for a string of %td %s code units", index,
                    type->count, kind_name(type->kind));
    return XBUF_OK;
}

int xbuf_scalar_read_unit(const xbuf_type *type, const void *src, ptrdiff_t index,
                          uint32_t *out, xbuf_error *err)
{
    ptrdiff_t unit = 0;
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || src == NULL || out == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : src == NULL ? "source" : "output");
    RETURN_IF_FAILED(check_unit(type, index, &unit, &swap, err));
    *out = (uint32_t)load_uint((const unsigned char *)src + index * unit, unit, swap);
    return XBUF_OK;
}

int xbuf_scalar_write_unit(const xbuf_type *type, void *dst, ptrdiff_t index, uint32_t unit,
                           xbuf_error *err)
{
    ptrdiff_t size = 0;
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || dst == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : "destination");
    RETURN_IF_FAILED(check_unit(type, index, &size, &swap, err));
    RETURN_ERROR_IF(size == 2 && unit > 0xFFFFu, err, XBUF_ERANGE,
                    "code unit 0x%" PRIX32 " does not fit in a UCS-2 code unit (0..0xFFFF)",
                    unit);
    store_uint((unsigned char *)dst + index * size, size, swap, unit);
    return XBUF_OK;
}

/* ---- pointers ---------------------------------------------------------- */

static int check_pointer(const xbuf_type *type, bool *swap, xbuf_error *err)
{
    switch (type->kind) {
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_OBJECT:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION:
        break;
    default:
        return wrong_family(type, "a pointer (VOIDP, OBJECT, POINTER or FUNCTION)", err);
    }
    RETURN_ERROR_IF(type->itemsize != (ptrdiff_t)sizeof(void *), err, XBUF_EUNSUPPORTED,
                    "a %td-byte pointer: this host's pointers are %zu bytes", type->itemsize,
                    sizeof(void *));
    return check_order(type, type->itemsize, swap, err);
}

int xbuf_scalar_read_pointer(const xbuf_type *type, const void *src, uintptr_t *out,
                             xbuf_error *err)
{
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || src == NULL || out == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : src == NULL ? "source" : "output");
    RETURN_IF_FAILED(check_pointer(type, &swap, err));
    *out = (uintptr_t)load_uint(src, type->itemsize, swap);
    return XBUF_OK;
}

int xbuf_scalar_write_pointer(const xbuf_type *type, void *dst, uintptr_t value,
                              xbuf_error *err)
{
    bool swap = false;
    RETURN_ERROR_IF(type == NULL || dst == NULL, err, XBUF_EINVAL,
                    "NULL %s", type == NULL ? "type" : "destination");
    RETURN_IF_FAILED(check_pointer(type, &swap, err));
    store_uint(dst, type->itemsize, swap, value);
    return XBUF_OK;
}
