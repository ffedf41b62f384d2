/*
 * compare.c -- xbuf_equal: comparing two views item by item, by value.
 *
 * What is compared.  Each format is parsed once per call and its leaves are
 * listed once, in xbuf_type_walk's order (struct members in order,
 * sub-array elements in C order).  Padding is not a leaf, so its bytes never
 * take part.  Leaf i of one side is compared with leaf i of the other:
 *   numbers   INT UINT BOOL FLOAT COMPLEX, and BITS as unsigned integers:
 *             by value, exactly, across kinds and byte orders.
 *             NaN equals nothing (so a view holding one is not equal to
 *             itself, as with memoryview), +0 equals -0, a complex equals a
 *             real when its imaginary part is 0;
 *   bytes     BYTES PASCAL VOID CHAR, in any mix: by their bytes, when of
 *             the same size (a longer string is a different string; a 'c' is
 *             a one-byte string, as struct reads it, so b'a' is not 97);
 *   units     UCS2 UCS4: code unit by code unit, when of the same count;
 *   addresses VOIDP POINTER FUNCTION are unsigned integers of pointer
 *             width, numbers like the others (Python reads 'P' as an int);
 *   objects   OBJECT, only against objects: as uintptr_t values.
 * Any other pairing, different numbers of leaves, or leaves nested
 * differently (records against numbers, "3i" against "iii": tuples and
 * lists in Python) makes the views unequal without reading their memory.
 *
 * Decisions the header leaves open:
 *   - Errors win over answers: both views and both formats are checked
 *     before shapes or leaves are compared, so a bad format is an error even
 *     beside a view of another shape.  *equal is false whenever a call fails.
 *   - A leaf that reaches past the view's itemsize means the format does not
 *     describe the view (reading the leaf would leave the item): XBUF_EINVAL.
 *     A format smaller than the itemsize is fine (ctypes exports those, cpython
 *     #76961); the bytes it does not describe are padding.
 *   - Leaves of size 0 ("0s", "0t") hold no value and are left out, so they
 *     never make two structures different (and a "(1000000)0s" costs no
 *     memory).
 *   - A bit field wider than 64 bits, which the codec does not read, is
 *     compared bit by bit with another bit field, and by exact value with
 *     any other number.
 *
 * Two paths, chosen once per call.  Neither allocates or calls back per
 * item (the plan calls a block function per innermost run, or per item only
 * when the innermost dimension itself has suboffsets), and both stop at the
 * first difference (the first chunk holding one):
 *   bytes     every leaf pair compares by its bytes and the leaves tile both
 *             items (same offsets, no padding, no float, bool or bit field):
 *             memcmp, one call per contiguous run;
 *   columns   everything else.  Items are taken CHUNK at a time and compared
 *             one leaf pair at a time across the chunk (a column).  A column
 *             of real numbers (INT UINT BOOL FLOAT) goes through the
 *             typed kernels: both sides decoded into local arrays -- uint64_t
 *             for integer against integer, double when that holds both sides
 *             exactly, else long double -- by a loop chosen once per chunk
 *             (a byte swap first for the other byte order), or compared where
 *             they lie when they are packed 'd' or 64-bit integers; then the
 *             two arrays compared two values at a time.  A view of single
 *             numbers ('d' against 'f') is one such column; half floats
 *             are decoded by the codec.  Other columns (complex, bit fields,
 *             strings, code units, pointers) compare item by item, strings
 *             with memcmp and values through the scalar codec.
 */
#include <float.h>
#include <string.h>

#include "copy_internal.h"
#include "format_internal.h"

/* Items the typed kernels decode at a time: their buffers (two arrays of
 * this many long doubles and two of 8-byte values, 6 KiB of stack) stay in
 * L1, and a difference near the start of a large view is found after
 * decoding little more than it. */
#define CHUNK 128

/* ---- the operands ------------------------------------------------------- */

/* A checked view's extent in `dim`; a shapeless view is 1-d. */
static ptrdiff_t extent_of(const xbuf_view *v, int dim)
{
    return v->shape != NULL ? v->shape[dim] : v->len / v->itemsize;
}

static bool same_shape(const xbuf_view *a, const xbuf_view *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (extent_of(a, i) != extent_of(b, i))
            return false;
    return true;
}

static const char *format_of(const xbuf_view *v)
{
    return v->format != NULL ? v->format : "B";
}

/* ---- reading values through the codec ----------------------------------- */

/* Any number, as the codec columns carry it: an integer (its 64-bit two's
 * complement bits and whether it is negative), or a real or complex value. */
typedef struct number {
    bool integer;
    bool negative;
    uint64_t bits;
    long double re, im;
} number;

/* An integer kind's value as 64 bits (sign-extended for INT). */
static int read_bits64(const xbuf_type *t, const char *p, uint64_t *out, xbuf_error *err)
{
    if (t->kind == XBUF_KIND_VOIDP || t->kind == XBUF_KIND_POINTER ||
        t->kind == XBUF_KIND_FUNCTION) {
        uintptr_t address;
        RETURN_IF_FAILED(xbuf_scalar_read_pointer(t, p, &address, err));
        *out = (uint64_t)address;
        return XBUF_OK;
    }
    if (t->kind != XBUF_KIND_INT)
        return xbuf_scalar_read_uint(t, p, out, err);
    int64_t v;
    RETURN_IF_FAILED(xbuf_scalar_read_int(t, p, &v, err));
    *out = (uint64_t)v;
    return XBUF_OK;
}

static int read_number(const xbuf_type *t, const char *p, number *out, xbuf_error *err)
{
    *out = (number){false, false, 0, 0, 0};
    switch (t->kind) {
    case XBUF_KIND_FLOAT:
        return xbuf_scalar_read_float(t, p, &out->re, err);
    case XBUF_KIND_COMPLEX:
        return xbuf_scalar_read_complex(t, p, &out->re, &out->im, err);
    default:
        out->integer = true;
        RETURN_IF_FAILED(read_bits64(t, p, &out->bits, err));
        out->negative = t->kind == XBUF_KIND_INT && (out->bits >> 63) != 0;
        return XBUF_OK;
    }
}

/* Exact on every host, and without libm: a real equal to an integer lies in
 * its 64-bit range (which NaN and infinities do not), where converting to
 * the integer truncates exactly, and converting back gives the real only when
 * it was integral. */
static bool real_equals_integer(long double re, const number *n)
{
    if (n->negative) {
        if (!(re < 0 && re >= -0x1p63L))
            return false;
        int64_t i = (int64_t)re;
        return (long double)i == re && (uint64_t)i == n->bits;
    }
    if (!(re >= 0 && re < 0x1p64L))
        return false;
    uint64_t u = (uint64_t)re;
    return (long double)u == re && u == n->bits;
}

static bool numbers_equal(const number *x, const number *y)
{
    if (x->integer && y->integer)
        return x->bits == y->bits && x->negative == y->negative;
    if (!x->integer && !y->integer)
        return x->re == y->re && x->im == y->im;
    const number *whole = x->integer ? x : y, *real = x->integer ? y : x;
    return real->im == 0 && real_equals_integer(real->re, whole);
}

/* ---- the typed kernels -------------------------------------------------- */

/* What the decoded values are held in. */
typedef enum rep {
    REP_BITS,   /* uint64_t: integer against integer */
    REP_DOUBLE, /* double: floats up to 'd', integers up to 32 bits */
    REP_LDOUBLE /* long double: 'g', or a 64-bit integer against a float */
} rep;

/* The tight loop that decodes a side, or LANE_CODEC for the codec (half
 * floats, anything unusual).  A side in the other byte order is first
 * byte-swapped a chunk at a time, then decoded by the same loops. */
typedef enum lane {
    LANE_CODEC,
    LANE_I8, LANE_U8, LANE_BOOL, LANE_I16, LANE_U16, LANE_I32, LANE_U32, LANE_I64, LANE_U64,
    LANE_F32, LANE_F64, LANE_LDOUBLE
} lane;

typedef union lanes {
    uint64_t bits[CHUNK];
    double d[CHUNK];
    long double ld[CHUNK];
} lanes;

/* Two values at a time through GCC/Clang vector extensions (SSE2 on x86-64,
 * NEON on arm64, plain code elsewhere): -O2 does not vectorise a
 * compare-and-accumulate loop or a float-to-double loop on its own, and these
 * loops are the typed kernels' whole cost. */
typedef double vec_double __attribute__((vector_size(16)));
typedef float vec_float __attribute__((vector_size(8)));
typedef uint64_t vec_bits __attribute__((vector_size(16)));
typedef __typeof__((vec_double){0, 0} != (vec_double){0, 0}) vec_double_mask;

/* What typed_setup decides for a pair of leaf types, small enough to keep
 * beside every leaf pair of a format (some have millions). */
typedef struct typed_pair {
    unsigned char rep;
    unsigned char lane[2];
    bool mixed;   /* REP_BITS with one side signed and the other not */
    bool swap[2]; /* side k is in the other byte order (and up to 8 bytes) */
} typed_pair;

/* The same, unpacked for the kernels, with the types the codec needs. */
typedef struct typed {
    rep rep;
    bool mixed;
    const xbuf_type *type[2];
    lane lane[2];
    bool swap[2];
    xbuf_error *err;
} typed;

static bool is_integer_kind(xbuf_kind k)
{
    return k == XBUF_KIND_INT || k == XBUF_KIND_UINT || k == XBUF_KIND_BOOL;
}

static lane integer_lane(bool is_signed, ptrdiff_t size)
{
    switch (size) {
    case 1: return is_signed ? LANE_I8 : LANE_U8;
    case 2: return is_signed ? LANE_I16 : LANE_U16;
    case 4: return is_signed ? LANE_I32 : LANE_U32;
    case 8: return is_signed ? LANE_I64 : LANE_U64;
    default: return LANE_CODEC;
    }
}

static lane lane_of(const xbuf_type *t)
{
    bool ordered = t->byteorder == XBUF_LITTLE || t->byteorder == XBUF_BIG;
    if (t->itemsize > 1 && (!ordered || (t->byteorder != XBUF_NATIVE_ORDER && t->itemsize > 8)))
        return LANE_CODEC; /* the swap pre-pass handles 2, 4 and 8 bytes */
    switch (t->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
        return integer_lane(t->kind == XBUF_KIND_INT, t->itemsize);
    case XBUF_KIND_BOOL:
        return t->itemsize == 1 ? LANE_BOOL : LANE_CODEC;
    case XBUF_KIND_FLOAT:
        if (t->code == 'f' && t->itemsize == 4)
            return LANE_F32;
        if (t->code == 'd' && t->itemsize == 8)
            return LANE_F64;
        if (t->code == 'g' && t->itemsize == (ptrdiff_t)sizeof(long double))
            return LANE_LDOUBLE;
        return LANE_CODEC;
    default:
        return LANE_CODEC;
    }
}

/* Whether a double holds every value of t: floats up to 'd' and integers
 * up to 32 bits. */
static bool fits_double(const xbuf_type *t)
{
    if (t->kind == XBUF_KIND_FLOAT)
        return t->code != 'g';
    return t->itemsize <= 4;
}

static bool choose_rep(const xbuf_type *x, const xbuf_type *y, rep *out)
{
    bool wide_integer = (is_integer_kind(x->kind) && x->itemsize > 4) ||
                        (is_integer_kind(y->kind) && y->itemsize > 4);
    if (is_integer_kind(x->kind) && is_integer_kind(y->kind))
        *out = REP_BITS;
    else if (fits_double(x) && fits_double(y))
        *out = REP_DOUBLE;
    else if (LDBL_MANT_DIG >= 64 || !wide_integer)
        *out = REP_LDOUBLE;
    else
        return false; /* no exact representation here */
    return true;
}

/* Decide how the typed kernels compare a pair of real numbers; false when
 * the codec must (not real numbers, or no exact representation here).
 * Every integer gets a loop; only floats may be left to decode_codec. */
static bool typed_setup(typed_pair *pair, const xbuf_type *x, const xbuf_type *y)
{
    const xbuf_type *types[2] = {x, y};
    rep r;
    for (int k = 0; k < 2; k++) {
        bool integer = is_integer_kind(types[k]->kind);
        if (!integer && types[k]->kind != XBUF_KIND_FLOAT)
            return false;
        lane l = lane_of(types[k]);
        if (integer && l == LANE_CODEC)
            return false; /* not a parser's integer: leave it to the codec's checks */
        pair->lane[k] = (unsigned char)l;
        pair->swap[k] = l != LANE_CODEC && types[k]->itemsize > 1 &&
                        types[k]->byteorder != XBUF_NATIVE_ORDER;
    }
    if (!choose_rep(x, y, &r))
        return false;
    pair->rep = (unsigned char)r;
    pair->mixed = (x->kind == XBUF_KIND_INT) != (y->kind == XBUF_KIND_INT);
    return true;
}

static typed typed_unpack(const typed_pair *pair, const xbuf_type *x, const xbuf_type *y,
                          xbuf_error *err)
{
    return (typed){(rep)pair->rep, pair->mixed, {x, y},
                   {(lane)pair->lane[0], (lane)pair->lane[1]},
                   {pair->swap[0], pair->swap[1]}, err};
}

/* One tight loop per source type; the caller's switch picks it once per
 * run, so nothing is decided per item.  Packed runs get a loop of their own
 * (indexed loads, no pointer stepping). */
#define DECODE_RUN(S, value)                                         \
    if (step == (ptrdiff_t)sizeof(S)) {                              \
        for (ptrdiff_t i = 0; i < n; i++) {                          \
            S v;                                                     \
            memcpy(&v, p + i * (ptrdiff_t)sizeof(S), sizeof v);      \
            out[i] = (value);                                        \
        }                                                            \
    } else {                                                         \
        for (ptrdiff_t i = 0; i < n; i++, p += step) {               \
            S v;                                                     \
            memcpy(&v, p, sizeof v);                                 \
            out[i] = (value);                                        \
        }                                                            \
    }

/* Floats without a loop of their own ('e', 'g' in the other byte order),
 * one at a time through the codec. */
static int decode_codec(const typed *t, int k, const char *p, ptrdiff_t step, ptrdiff_t n,
                        lanes *out)
{
    for (ptrdiff_t i = 0; i < n; i++, p += step) {
        long double v;
        RETURN_IF_FAILED(xbuf_scalar_read_float(t->type[k], p, &v, t->err));
        if (t->rep == REP_DOUBLE)
            out->d[i] = (double)v; /* exact: typed_setup checked fits_double */
        else
            out->ld[i] = v;
    }
    return XBUF_OK;
}

static int decode_bits(const typed *t, int k, const char *p, ptrdiff_t step, ptrdiff_t n,
                       lanes *all)
{
    uint64_t *out = all->bits;
    switch (t->lane[k]) {
    case LANE_I8: DECODE_RUN(int8_t, (uint64_t)v); break;
    case LANE_U8: DECODE_RUN(uint8_t, v); break;
    case LANE_BOOL: DECODE_RUN(uint8_t, v != 0); break;
    case LANE_I16: DECODE_RUN(int16_t, (uint64_t)v); break;
    case LANE_U16: DECODE_RUN(uint16_t, v); break;
    case LANE_I32: DECODE_RUN(int32_t, (uint64_t)v); break;
    case LANE_U32: DECODE_RUN(uint32_t, v); break;
    case LANE_I64: DECODE_RUN(int64_t, (uint64_t)v); break;
    case LANE_U64: DECODE_RUN(uint64_t, v); break;
    default: XBUF_ASSERT(0 && "typed_setup gives every integer a loop"); break;
    }
    return XBUF_OK;
}

/* Packed floats into doubles, two at a time. */
static void decode_packed_floats(const char *p, ptrdiff_t n, double *out)
{
    ptrdiff_t i = 0;
    for (; i + 2 <= n; i += 2) {
        vec_float f;
        memcpy(&f, p + i * 4, sizeof f);
        vec_double d = __builtin_convertvector(f, vec_double);
        memcpy(out + i, &d, sizeof d);
    }
    for (; i < n; i++) {
        float f;
        memcpy(&f, p + i * 4, sizeof f);
        out[i] = f;
    }
}

static int decode_double(const typed *t, int k, const char *p, ptrdiff_t step, ptrdiff_t n,
                         lanes *all)
{
    double *out = all->d;
    switch (t->lane[k]) {
    case LANE_I8: DECODE_RUN(int8_t, v); break;
    case LANE_U8: DECODE_RUN(uint8_t, v); break;
    case LANE_BOOL: DECODE_RUN(uint8_t, v != 0); break;
    case LANE_I16: DECODE_RUN(int16_t, v); break;
    case LANE_U16: DECODE_RUN(uint16_t, v); break;
    case LANE_I32: DECODE_RUN(int32_t, v); break;
    case LANE_U32: DECODE_RUN(uint32_t, v); break;
    case LANE_F32:
        if (step == 4)
            decode_packed_floats(p, n, out);
        else
            DECODE_RUN(float, v);
        break;
    case LANE_F64: DECODE_RUN(double, v); break;
    default: return decode_codec(t, k, p, step, n, all);
    }
    return XBUF_OK;
}

static int decode_ldouble(const typed *t, int k, const char *p, ptrdiff_t step, ptrdiff_t n,
                          lanes *all)
{
    long double *out = all->ld;
    switch (t->lane[k]) {
    case LANE_I8: DECODE_RUN(int8_t, v); break;
    case LANE_U8: DECODE_RUN(uint8_t, v); break;
    case LANE_BOOL: DECODE_RUN(uint8_t, v != 0); break;
    case LANE_I16: DECODE_RUN(int16_t, v); break;
    case LANE_U16: DECODE_RUN(uint16_t, v); break;
    case LANE_I32: DECODE_RUN(int32_t, v); break;
    case LANE_U32: DECODE_RUN(uint32_t, v); break;
    case LANE_I64: DECODE_RUN(int64_t, (long double)v); break;
    case LANE_U64: DECODE_RUN(uint64_t, (long double)v); break;
    case LANE_F32: DECODE_RUN(float, v); break;
    case LANE_F64: DECODE_RUN(double, v); break;
    case LANE_LDOUBLE: DECODE_RUN(long double, v); break;
    default: return decode_codec(t, k, p, step, n, all);
    }
    return XBUF_OK;
}

#undef DECODE_RUN

/* Whether side k's packed run already holds the representation's values
 * ('d' for REP_DOUBLE, 'q' or 'Q' for REP_BITS): then it is compared where
 * it lies, without a copy. */
static bool in_place(const typed *t, int k, ptrdiff_t step)
{
    switch (t->rep) {
    case REP_BITS:
        return (t->lane[k] == LANE_I64 || t->lane[k] == LANE_U64) && step == 8;
    case REP_DOUBLE:
        return t->lane[k] == LANE_F64 && step == 8;
    default: /* long doubles are read from the (aligned) buffer only: a
                memcpy to load each one costs more than decoding does */
        return false;
    }
}

/* Side k's n values from p: *values points at them (p itself, `scratch`
 * holding them byte-swapped, or `buffer` filled here), packed in t->rep. */
static int decode(const typed *t, int k, const char *p, ptrdiff_t step, ptrdiff_t n,
                  lanes *buffer, char *scratch, const char **values)
{
    if (t->swap[k]) {
        ptrdiff_t size = t->type[k]->itemsize;
        xbuf_copy_swapped(scratch, size, p, step, n, size);
        p = scratch;
        step = size;
    }
    if (in_place(t, k, step)) {
        *values = p;
        return XBUF_OK;
    }
    *values = (const char *)buffer;
    switch (t->rep) {
    case REP_BITS: return decode_bits(t, k, p, step, n, buffer);
    case REP_DOUBLE: return decode_double(t, k, p, step, n, buffer);
    default: return decode_ldouble(t, k, p, step, n, buffer);
    }
}

/* The comparisons read through memcpy: in place, the values need not be
 * aligned.  No early exit inside a chunk. */

/* `!=` is true for NaN and false for +0 against -0, on vectors as on
 * scalars. */
static bool doubles_equal(const char *x, const char *y, ptrdiff_t n)
{
    vec_double zero = {0, 0};
    vec_double_mask differ = zero != zero, differ2 = differ; /* no initialisers */
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) { /* two accumulators: two compares in flight */
        vec_double a, b, c, d;
        memcpy(&a, x + i * 8, sizeof a);
        memcpy(&b, y + i * 8, sizeof b);
        memcpy(&c, x + i * 8 + 16, sizeof c);
        memcpy(&d, y + i * 8 + 16, sizeof d);
        differ |= a != b;
        differ2 |= c != d;
    }
    differ |= differ2;
    uint64_t any[2];
    memcpy(any, &differ, sizeof any);
    unsigned rest = (unsigned)((any[0] | any[1]) != 0);
    for (; i < n; i++) {
        double a, b;
        memcpy(&a, x + i * 8, sizeof a);
        memcpy(&b, y + i * 8, sizeof b);
        rest |= (unsigned)(a != b);
    }
    return rest == 0;
}

/* Any bit set in a ^ b is a difference.  Mixed signedness: equal bits are
 * equal values only below 2^63 (else one side is negative and the other
 * above INT64_MAX), so the top bit of either is one too. */
static bool bits_equal(const char *x, const char *y, ptrdiff_t n, bool mixed)
{
    uint64_t top = (uint64_t)mixed << 63;
    vec_bits tops = {top, top}, differ = {0, 0};
    ptrdiff_t i = 0;
    for (; i + 2 <= n; i += 2) {
        vec_bits a, b;
        memcpy(&a, x + i * 8, sizeof a);
        memcpy(&b, y + i * 8, sizeof b);
        differ |= (a ^ b) | (a & tops);
    }
    uint64_t any[2];
    memcpy(any, &differ, sizeof any);
    uint64_t rest = any[0] | any[1];
    for (; i < n; i++) {
        uint64_t a, b;
        memcpy(&a, x + i * 8, sizeof a);
        memcpy(&b, y + i * 8, sizeof b);
        rest |= (a ^ b) | (a & top);
    }
    return rest == 0;
}

/* Preconditions: x and y are lanes buffers (aligned; never in place). */
static bool ldoubles_equal(const char *x, const char *y, ptrdiff_t n)
{
    const long double *a = (const long double *)(const void *)x;
    const long double *b = (const long double *)(const void *)y;
    unsigned differ = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        differ |= (unsigned)(a[i] != b[i]);
    return differ == 0;
}

static bool chunk_equal(const typed *t, const char *x, const char *y, ptrdiff_t n)
{
    switch (t->rep) {
    case REP_BITS: return bits_equal(x, y, n, t->mixed);
    case REP_DOUBLE: return doubles_equal(x, y, n);
    default: return ldoubles_equal(x, y, n);
    }
}

/* Preconditions: typed_setup succeeded, n <= CHUNK.  1 when one of the n
 * pairs of values at p0 and p1 (stepping s0 and s1) differs, 0, or the
 * codec's error. */
static int typed_differ(const typed *t, const char *p0, ptrdiff_t s0, const char *p1,
                        ptrdiff_t s1, ptrdiff_t n)
{
    lanes buffer[2];
    uint64_t scratch[2][CHUNK]; /* n items of up to 8 bytes, byte-swapped */
    const char *x, *y;
    RETURN_IF_FAILED(decode(t, 0, p0, s0, n, &buffer[0], (char *)scratch[0], &x));
    RETURN_IF_FAILED(decode(t, 1, p1, s1, n, &buffer[1], (char *)scratch[1], &y));
    return !chunk_equal(t, x, y, n);
}

/* ---- the leaves of each side -------------------------------------------- */

/* How leaf i of one side compares with leaf i of the other. */
typedef enum pair_op {
    OP_NONE,      /* not comparable: the views are unequal */
    OP_BYTES,     /* equal bytes are equal values, and only they */
    OP_TYPED,     /* real numbers, by value, a run at a time: the typed kernels */
    OP_NUMBER,    /* by value through the codec */
    OP_WIDE_BITS, /* by value, one side a bit field wider than 64 bits */
    OP_UNITS,     /* code unit by code unit */
    OP_POINTER    /* as uintptr_t */
} pair_op;

typedef struct leaf_entry {
    const xbuf_type *type;
    ptrdiff_t offset;
    pair_op op;       /* side 0 only: how it compares with side 1's leaf */
    typed_pair typed; /* side 0 only, for OP_TYPED */
} leaf_entry;

/* One operand: its view, its parsed format and its leaves.  The leaves are
 * `one` for a format that is a single leaf (no walk needed), a block this
 * side owns (`owned`, `capacity` entries), or side 0's list when both views
 * have the same format text and itemsize. */
typedef struct side {
    const xbuf_view *view;
    const char *name; /* "first" or "second", for messages */
    xbuf_format *format;
    leaf_entry *leaves;
    ptrdiff_t count;
    leaf_entry *owned;
    ptrdiff_t capacity;
    leaf_entry one;
    xbuf_error *err;
} side;

static int check_leaf(const side *s, const xbuf_type *t, ptrdiff_t offset, const char *path)
{
    RETURN_ERROR_IF(offset + t->itemsize > s->view->itemsize, s->err, XBUF_EINVAL,
                    "the %s view's format '%s' places %s%s%s (%td bytes at offset %td) outside "
                    "its %td-byte items",
                    s->name, format_of(s->view), *path ? "field '" : "its value", path,
                    *path ? "'" : "", t->itemsize, offset, s->view->itemsize);
    return XBUF_OK;
}

static int grow_leaves(side *s)
{
    ptrdiff_t capacity = s->capacity > 0 ? s->capacity * 2 : 16;
    RETURN_ERROR_IF((size_t)capacity > SIZE_MAX / sizeof(leaf_entry), s->err, XBUF_ENOMEM,
                    "too many leaves in the %s view's format", s->name);
    leaf_entry *grown = xbuf_realloc(s->owned, (size_t)s->capacity * sizeof *grown,
                                     (size_t)capacity * sizeof *grown);
    RETURN_ERROR_IF(grown == NULL, s->err, XBUF_ENOMEM,
                    "cannot allocate the leaf list of the %s view's format", s->name);
    s->owned = s->leaves = grown;
    s->capacity = capacity;
    return XBUF_OK;
}

static int collect_leaf(const xbuf_leaf *leaf, void *context)
{
    side *s = context;
    if (leaf->type->itemsize == 0)
        return 0; /* holds no value */
    RETURN_IF_FAILED(check_leaf(s, leaf->type, leaf->offset, leaf->path));
    if (s->count == s->capacity)
        RETURN_IF_FAILED(grow_leaves(s));
    s->owned[s->count++] =
        (leaf_entry){.type = leaf->type, .offset = leaf->offset, .op = OP_NONE};
    return 0;
}

static int describe_side(side *s)
{
    RETURN_IF_FAILED(xbuf_view_format(s->view, &s->format, s->err));
    const xbuf_type *root = xbuf_format_type(s->format);
    if (root->kind == XBUF_KIND_STRUCT || root->kind == XBUF_KIND_ARRAY)
        return xbuf_type_walk(root, collect_leaf, s, s->err);
    s->leaves = &s->one;
    if (root->itemsize == 0)
        return XBUF_OK;
    RETURN_IF_FAILED(check_leaf(s, root, 0, ""));
    s->one = (leaf_entry){.type = root, .offset = 0, .op = OP_NONE};
    s->count = 1;
    return XBUF_OK;
}

/* Side 1 reuses side 0's format and leaves when nothing can differ. */
static int describe_sides(side s[2])
{
    RETURN_IF_FAILED(describe_side(&s[0]));
    const xbuf_view *a = s[0].view, *b = s[1].view;
    if (a->itemsize != b->itemsize || strcmp(format_of(a), format_of(b)) != 0)
        return describe_side(&s[1]);
    s[1].format = xbuf_format_retain(s[0].format);
    s[1].leaves = s[0].leaves;
    s[1].count = s[0].count;
    return XBUF_OK;
}

static void release_side(side *s)
{
    xbuf_free(s->owned, (size_t)s->capacity * sizeof *s->owned);
    xbuf_format_release(s->format);
}

/* ---- pairing the leaves ------------------------------------------------- */

typedef enum family {
    FAMILY_NONE,
    FAMILY_NUMBER,
    FAMILY_BYTES,
    FAMILY_UNITS,
    FAMILY_POINTER
} family;

static family family_of(xbuf_kind kind)
{
    switch (kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
    case XBUF_KIND_BOOL:
    case XBUF_KIND_FLOAT:
    case XBUF_KIND_COMPLEX:
    case XBUF_KIND_BITS:
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION:
        return FAMILY_NUMBER;
    case XBUF_KIND_CHAR: /* a one-byte string, as struct and memoryview read it: b'a' != 97 */
    case XBUF_KIND_BYTES:
    case XBUF_KIND_PASCAL:
    case XBUF_KIND_VOID:
        return FAMILY_BYTES;
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4:
        return FAMILY_UNITS;
    case XBUF_KIND_OBJECT:
        return FAMILY_POINTER;
    default:
        return FAMILY_NONE;
    }
}

/* The size of the units a leaf's byte order applies to. */
static ptrdiff_t unit_size(const xbuf_type *t)
{
    switch (t->kind) {
    case XBUF_KIND_UCS2: return 2;
    case XBUF_KIND_UCS4: return 4;
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT: return t->itemsize;
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_OBJECT:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION: return t->itemsize;
    default: return 1;
    }
}

/* Whether equal bytes mean equal values and different bytes different
 * values.  Not for BOOL (any non-zero byte is true), FLOAT and COMPLEX (NaN,
 * -0) or BITS (the bits around the field). */
static bool compares_by_bytes(const xbuf_type *x, const xbuf_type *y)
{
    if (x->itemsize != y->itemsize)
        return false;
    switch (x->kind) {
    case XBUF_KIND_BYTES:
    case XBUF_KIND_PASCAL:
    case XBUF_KIND_VOID:
    case XBUF_KIND_CHAR:
        return family_of(y->kind) == FAMILY_BYTES;
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4:
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_OBJECT:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION:
        return x->kind == y->kind && (unit_size(x) == 1 || x->byteorder == y->byteorder);
    default:
        return false;
    }
}

static bool is_wide_bits(const xbuf_type *t)
{
    return t->kind == XBUF_KIND_BITS && t->count > 64;
}

static pair_op pair_op_of(const xbuf_type *x, const xbuf_type *y)
{
    if (compares_by_bytes(x, y))
        return OP_BYTES;
    family f = family_of(x->kind);
    if (f != family_of(y->kind))
        return OP_NONE;
    switch (f) {
    case FAMILY_NUMBER:
        return is_wide_bits(x) || is_wide_bits(y) ? OP_WIDE_BITS : OP_NUMBER;
    case FAMILY_UNITS:
        return x->count == y->count ? OP_UNITS : OP_NONE;
    case FAMILY_POINTER:
        return OP_POINTER;
    default: /* bytes of different sizes */
        return OP_NONE;
    }
}

/* Whether two types nest their values alike -- records of as many members,
 * arrays of the same shape, each member alike -- as tolist() shows them in
 * Python (tuples and lists): (1, 2) is not [1, 2], nor (1,) 1. */
static bool same_nesting(const xbuf_type *a, const xbuf_type *b)
{
    a = xbuf_single_value(a);
    b = xbuf_single_value(b);
    if ((a->kind == XBUF_KIND_STRUCT) != (b->kind == XBUF_KIND_STRUCT) ||
        (a->kind == XBUF_KIND_ARRAY) != (b->kind == XBUF_KIND_ARRAY))
        return false;
    if (a->kind == XBUF_KIND_STRUCT) {
        if (a->nfields != b->nfields)
            return false;
        for (ptrdiff_t i = 0; i < a->nfields; i++)
            if (!same_nesting(a->fields[i].type, b->fields[i].type))
                return false;
        return true;
    }
    if (a->kind == XBUF_KIND_ARRAY) {
        if (a->ndim != b->ndim)
            return false;
        for (int i = 0; i < a->ndim; i++)
            if (a->shape[i] != b->shape[i])
                return false;
        return same_nesting(a->base, b->base);
    }
    return true;
}

/* Set each pair's op (and typed kernel); false when the leaf structures
 * cannot be compared. */
static bool pair_leaves(side s[2])
{
    if (s[0].count != s[1].count ||
        !same_nesting(xbuf_format_type(s[0].format), xbuf_format_type(s[1].format)))
        return false;
    for (ptrdiff_t i = 0; i < s[0].count; i++) {
        leaf_entry *x = &s[0].leaves[i];
        const xbuf_type *y = s[1].leaves[i].type;
        x->op = pair_op_of(x->type, y);
        if (x->op == OP_NUMBER && typed_setup(&x->typed, x->type, y))
            x->op = OP_TYPED;
        if (x->op == OP_NONE)
            return false;
    }
    return true;
}

/* Whether the leaves cover the item exactly, one after the other. */
static bool leaves_tile(const side *s)
{
    ptrdiff_t end = 0;
    for (ptrdiff_t i = 0; i < s->count; i++) {
        if (s->leaves[i].offset != end)
            return false;
        end += s->leaves[i].type->itemsize;
    }
    return end == s->view->itemsize;
}

/* Pairs of equal sizes (OP_BYTES) tiling both items sit at equal offsets. */
static bool items_compare_by_bytes(const side s[2])
{
    if (s[0].view->itemsize != s[1].view->itemsize || !leaves_tile(&s[0]) ||
        !leaves_tile(&s[1]))
        return false;
    for (ptrdiff_t i = 0; i < s[0].count; i++)
        if (s[0].leaves[i].op != OP_BYTES)
            return false;
    return true;
}

/* ---- runs of the plan --------------------------------------------------- */

/* What a block function walks: n items, each side stepping by its stride. */
typedef struct run {
    ptrdiff_t n;
    ptrdiff_t step[2];
} run;

static run run_at(const xbuf_plan *plan, int first)
{
    if (first == plan->ndim)
        return (run){1, {0, 0}};
    const xbuf_dim *d = &plan->dims[first];
    return (run){d->extent, {d->stride[0], d->stride[1]}};
}

/* ---- the bytes path ----------------------------------------------------- */

/* Inlined with a constant `size`, the memcmp becomes one or two loads. */
static inline int strided_differ_fixed(const char *a, ptrdiff_t sa, const char *b,
                                       ptrdiff_t sb, ptrdiff_t n, size_t size)
{
    for (ptrdiff_t i = 0; i < n; i++, a += sa, b += sb)
        if (memcmp(a, b, size) != 0)
            return 1;
    return 0;
}

static int strided_differ(const char *a, ptrdiff_t sa, const char *b, ptrdiff_t sb,
                          ptrdiff_t n, ptrdiff_t size)
{
    switch (size) {
    case 1: return strided_differ_fixed(a, sa, b, sb, n, 1);
    case 2: return strided_differ_fixed(a, sa, b, sb, n, 2);
    case 4: return strided_differ_fixed(a, sa, b, sb, n, 4);
    case 8: return strided_differ_fixed(a, sa, b, sb, n, 8);
    case 16: return strided_differ_fixed(a, sa, b, sb, n, 16);
    default: return strided_differ_fixed(a, sa, b, sb, n, (size_t)size);
    }
}

/* Preconditions: both itemsizes are *context; 1 at the first difference. */
static int bytes_block(const xbuf_plan *plan, int first, char *p0, char *p1, void *context)
{
    ptrdiff_t size = *(const ptrdiff_t *)context;
    run r = run_at(plan, first);
    if (r.step[0] == size && r.step[1] == size)
        return memcmp(p0, p1, (size_t)(r.n * size)) != 0;
    return strided_differ(p0, r.step[0], p1, r.step[1], r.n, size);
}

/* ---- bit fields wider than 64 bits -------------------------------------- */

static bool bit_at(const xbuf_type *t, const unsigned char *p, ptrdiff_t k)
{
    if (k >= t->count)
        return false;
    ptrdiff_t at = t->bit_offset + k;
    return (p[at / 8] >> (at % 8)) & 1u;
}

/* A wide field's value as a number; false when no float or 64-bit integer
 * can equal it (more significant bits than a long double holds, or beyond
 * its range). */
static bool wide_bits_number(const xbuf_type *t, const unsigned char *p, number *out)
{
    ptrdiff_t high = t->count - 1, low = 0;
    while (high >= 0 && !bit_at(t, p, high))
        high--;
    *out = (number){high < 64, false, 0, 0, 0};
    if (high < 64) {
        for (ptrdiff_t k = high; k >= 0; k--)
            out->bits = (out->bits << 1) | bit_at(t, p, k);
        return true;
    }
    while (!bit_at(t, p, low))
        low++;
    if (high - low >= LDBL_MANT_DIG || high >= LDBL_MAX_EXP)
        return false;
    /* Exact: at most LDBL_MANT_DIG significant bits, below the overflow
     * threshold (doubling is exact, and needs no libm ldexpl). */
    for (ptrdiff_t k = high; k >= 0; k--)
        out->re = out->re * 2 + (bit_at(t, p, k) ? 1 : 0);
    return true;
}

static int read_any_number(const xbuf_type *t, const char *p, number *out, bool *exists,
                           xbuf_error *err)
{
    *exists = true;
    if (is_wide_bits(t)) {
        *exists = wide_bits_number(t, (const unsigned char *)p, out);
        return XBUF_OK;
    }
    return read_number(t, p, out, err);
}

/* 1 when they differ, 0, or an error. */
static int wide_bits_differ(const xbuf_type *x, const char *px, const xbuf_type *y,
                            const char *py, xbuf_error *err)
{
    if (x->kind == XBUF_KIND_BITS && y->kind == XBUF_KIND_BITS) {
        ptrdiff_t width = x->count > y->count ? x->count : y->count;
        for (ptrdiff_t k = 0; k < width; k++)
            if (bit_at(x, (const unsigned char *)px, k) !=
                bit_at(y, (const unsigned char *)py, k))
                return 1;
        return 0;
    }
    number nx, ny;
    bool ex, ey;
    RETURN_IF_FAILED(read_any_number(x, px, &nx, &ex, err));
    RETURN_IF_FAILED(read_any_number(y, py, &ny, &ey, err));
    return !(ex && ey && numbers_equal(&nx, &ny));
}

/* ---- the column path ---------------------------------------------------- */

static int units_differ(const xbuf_type *x, const char *px, const xbuf_type *y,
                        const char *py, xbuf_error *err)
{
    for (ptrdiff_t i = 0; i < x->count; i++) {
        uint32_t ux, uy;
        RETURN_IF_FAILED(xbuf_scalar_read_unit(x, px, i, &ux, err));
        RETURN_IF_FAILED(xbuf_scalar_read_unit(y, py, i, &uy, err));
        if (ux != uy)
            return 1;
    }
    return 0;
}

static int pointers_differ(const xbuf_type *x, const char *px, const xbuf_type *y,
                           const char *py, xbuf_error *err)
{
    uintptr_t ux, uy;
    RETURN_IF_FAILED(xbuf_scalar_read_pointer(x, px, &ux, err));
    RETURN_IF_FAILED(xbuf_scalar_read_pointer(y, py, &uy, err));
    return ux != uy;
}

static int numbers_differ(const xbuf_type *x, const char *px, const xbuf_type *y,
                          const char *py, xbuf_error *err)
{
    number nx, ny;
    RETURN_IF_FAILED(read_number(x, px, &nx, err));
    RETURN_IF_FAILED(read_number(y, py, &ny, err));
    return !numbers_equal(&nx, &ny);
}

/* 1 when leaf x at px and leaf y at py differ, 0, or an error. */
static int leaf_differs(pair_op op, const xbuf_type *x, const char *px, const xbuf_type *y,
                        const char *py, xbuf_error *err)
{
    switch (op) {
    case OP_BYTES:
        return memcmp(px, py, (size_t)x->itemsize) != 0;
    case OP_NUMBER:
        return numbers_differ(x, px, y, py, err);
    case OP_WIDE_BITS:
        return wide_bits_differ(x, px, y, py, err);
    case OP_UNITS:
        return units_differ(x, px, y, py, err);
    case OP_POINTER:
        return pointers_differ(x, px, y, py, err);
    default:
        XBUF_ASSERT(0 && "unpaired or typed leaves reached leaf_differs");
        return 1;
    }
}

/* One leaf pair over n <= CHUNK items whose leaves are at p0 and p1
 * (stepping s0 and s1): 1 when some pair differs, 0, or an error. */
static int column_differs(const leaf_entry *x, const leaf_entry *y, const char *p0,
                          ptrdiff_t s0, const char *p1, ptrdiff_t s1, ptrdiff_t n,
                          xbuf_error *err)
{
    if (x->op == OP_TYPED) {
        typed t = typed_unpack(&x->typed, x->type, y->type, err);
        return typed_differ(&t, p0, s0, p1, s1, n);
    }
    for (ptrdiff_t i = 0; i < n; i++, p0 += s0, p1 += s1) {
        int rc = leaf_differs(x->op, x->type, p0, y->type, p1, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

typedef struct columns {
    const side *sides;
    ptrdiff_t per_chunk; /* items per chunk, at most CHUNK */
    xbuf_error *err;
} columns;

/* The bytes of each side a chunk of items may span: every column pass over
 * the chunk then finds the items' cache lines still in L1, also for records
 * of hundreds of fields. */
#define CHUNK_SPAN 16384

static ptrdiff_t items_per_chunk(const side s[2])
{
    ptrdiff_t widest = s[0].view->itemsize > s[1].view->itemsize ? s[0].view->itemsize
                                                                 : s[1].view->itemsize;
    ptrdiff_t n = CHUNK_SPAN / widest;
    return n < 1 ? 1 : n > CHUNK ? CHUNK : n;
}

/* Preconditions: the leaves are paired (every op set).  Items are taken
 * per_chunk at a time and compared column by column -- leaf pair i of every
 * item in the chunk, then pair i + 1 -- so that each numeric column runs
 * through the typed kernels (a view of single numbers is one column).
 * 1 at the first chunk with a difference, or the codec's error. */
static int columns_block(const xbuf_plan *plan, int first, char *p0, char *p1, void *context)
{
    const columns *c = context;
    const leaf_entry *x = c->sides[0].leaves, *y = c->sides[1].leaves;
    run r = run_at(plan, first);
    for (ptrdiff_t done = 0; done < r.n; done += c->per_chunk) {
        ptrdiff_t n = r.n - done < c->per_chunk ? r.n - done : c->per_chunk;
        const char *q0 = p0 + done * r.step[0], *q1 = p1 + done * r.step[1];
        for (ptrdiff_t i = 0; i < c->sides[0].count; i++) {
            int rc = column_differs(&x[i], &y[i], q0 + x[i].offset, r.step[0],
                                    q1 + y[i].offset, r.step[1], n, c->err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- xbuf_equal --------------------------------------------------------- */

/* 0 when every item is equal, 1 at the first difference, or an error. */
static int run_fastest(const xbuf_plan *plan, const side s[2], xbuf_error *err)
{
    int tail = xbuf_plan_direct_tail(plan, 1);
    if (items_compare_by_bytes(s)) {
        ptrdiff_t size = s[0].view->itemsize;
        return xbuf_plan_run(plan, tail, bytes_block, &size);
    }
    columns c = {s, items_per_chunk(s), err};
    return xbuf_plan_run(plan, tail, columns_block, &c);
}

static int compare_items(side s[2], bool *equal, xbuf_error *err)
{
    if (!same_shape(s[0].view, s[1].view) || !pair_leaves(s))
        return XBUF_OK; /* *equal is already false */
    if (s[0].count == 0) {
        *equal = true; /* nothing but padding: every pair of items is equal */
        return XBUF_OK;
    }
    xbuf_plan plan;
    /* Sorting loops is free here: the answer does not depend on the order. */
    RETURN_IF_FAILED(xbuf_plan_build(&plan, s[0].view, s[1].view, true, err));
    int rc = run_fastest(&plan, s, err);
    if (rc < 0)
        return rc;
    *equal = rc == 0;
    return XBUF_OK;
}

int xbuf_equal(const xbuf_view *a, const xbuf_view *b, bool *equal, xbuf_error *err)
{
    RETURN_ERROR_IF(a == NULL || b == NULL || equal == NULL, err, XBUF_EINVAL, "NULL %s",
                    equal == NULL ? "result pointer" : "view");
    *equal = false;
    RETURN_IF_FAILED(xbuf_check_operand(a, err));
    RETURN_IF_FAILED(xbuf_check_operand(b, err));
    side s[2] = {{.view = a, .name = "first", .err = err},
                 {.view = b, .name = "second", .err = err}};
    int rc = describe_sides(s);
    if (rc == XBUF_OK)
        rc = compare_items(s, equal, err);
    release_side(&s[0]);
    release_side(&s[1]);
    return rc;
}
