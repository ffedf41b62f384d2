/*
 * fuzz_format.c -- libFuzzer target for the PEP 3118 format layer.
 *
 * Feeds arbitrary bytes to xbuf_format_parse_n and checks the promises the
 * header makes about what comes out, aborting on the first broken one (an
 * abort is a finding; ASan and UBSan findings abort too):
 *
 *   - a failed parse leaves *out NULL and reports a position inside the
 *     input; parse_n and parse agree on NUL-free input;
 *   - a parsed type prints canonically, the printed text parses back to an
 *     equal type (xbuf_type_equal), and printing that gives the same text;
 *   - xbuf_format_size and field lookup agree with the tree;
 *   - every leaf the walker reports lies inside the item (bit fields: the
 *     bytes their bits touch);
 *   - the scalar codec reads every leaf and writes back what it read: over a
 *     zeroed item nothing changes at all; over an item filled with the input
 *     bytes integers, code units and pointers come back bit for bit; a
 *     failed write writes nothing; the wrong family is XBUF_ETYPE.
 *
 * Work is bounded so that a short input cannot make a slow one: the walk
 * stops after MAX_LEAVES leaves and the codec runs only on items of at most
 * MAX_CODEC_ITEMSIZE bytes ("(1000000000)d" parses in microseconds; its
 * leaves would take minutes).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer; fuzz/standalone.c
 * replays files through the same function without libFuzzer (meson test
 * `fuzz_corpus`).  XBUF_FUZZ_CODEC=0 leaves the codec out.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbuf.h"

#ifndef XBUF_FUZZ_CODEC
#  define XBUF_FUZZ_CODEC 1
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_LEAVES = 4096, MAX_CODEC_ITEMSIZE = 1 << 16, MAX_UNITS = 64 };

/* A broken promise: say which, and abort so the fuzzer keeps the input. */
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_format: check failed at %s:%d: %s\n", __FILE__,        \
                    __LINE__, #cond);                                                    \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* ---- parse failures --------------------------------------------------------- */

static void check_failure(int rc, const xbuf_format *format, const xbuf_error *err,
                          size_t size)
{
    CHECK(rc < 0 && rc > -XBUF_NCODES);
    CHECK(format == NULL);
    CHECK(err->code == rc);
    CHECK(memchr(err->message, '\0', sizeof err->message) != NULL);
    if (rc == XBUF_EFORMAT || rc == XBUF_EOVERFLOW)
        CHECK(err->position >= 0 && (size_t)err->position <= size);
}

/* ---- printing ------------------------------------------------------------------ */

/* The canonical text of `type`, malloc'd; aborts when it cannot be printed,
 * since every parsed type must print. */
static char *print_type(const xbuf_type *type)
{
    size_t length = 0;
    xbuf_error err;
    int rc = xbuf_type_print(type, NULL, 0, &length, &err);
    if (rc != XBUF_ERANGE)
        fprintf(stderr, "fuzz_format: print failed: %s\n", err.message);
    CHECK(rc == XBUF_ERANGE);
    char *text = malloc(length + 1);
    CHECK(text != NULL);
    rc = xbuf_type_print(type, text, length + 1, NULL, &err);
    CHECK(rc == XBUF_OK);
    CHECK(strlen(text) == length);
    return text;
}

/* print(t) parses back to t, and printing that gives the same text. */
static void check_round_trip(const xbuf_type *root)
{
    char *text = print_type(root);
    xbuf_format *again = NULL;
    xbuf_error err;
    int rc = xbuf_format_parse(text, &again, &err);
    if (rc != XBUF_OK)
        fprintf(stderr, "fuzz_format: canonical text '%s' does not parse: %s\n", text,
                err.message);
    CHECK(rc == XBUF_OK);
    const xbuf_type *root2 = xbuf_format_type(again);
    if (!xbuf_type_equal(root, root2))
        fprintf(stderr, "fuzz_format: '%s' parses to a different type\n", text);
    CHECK(xbuf_type_equal(root, root2));
    CHECK(xbuf_type_equal(root2, root));
    CHECK(xbuf_type_layout_compatible(root, root2));
    char *text2 = print_type(root2);
    if (strcmp(text, text2) != 0)
        fprintf(stderr, "fuzz_format: printing is not idempotent: '%s' then '%s'\n", text,
                text2);
    CHECK(strcmp(text, text2) == 0);

    ptrdiff_t itemsize = -1, alignment = -1;
    CHECK(xbuf_format_size(text, &itemsize, &alignment, NULL) == XBUF_OK);
    CHECK(itemsize == root->itemsize && alignment == root->alignment);

    /* A truncated print still NUL-terminates inside the buffer. */
    size_t half = strlen(text) / 2 + 1;
    char *small = malloc(half);
    CHECK(small != NULL);
    CHECK(xbuf_type_print(root, small, half, NULL, NULL) == XBUF_ERANGE);
    CHECK(memchr(small, '\0', half) != NULL);
    free(small);

    xbuf_format_release(again);
    free(text2);
    free(text);
}

/* ---- the tree ----------------------------------------------------------------- */

/* Top-level names resolve to their own field (dotted names are paths, so
 * only names without '.' are looked up). */
static void check_fields(const xbuf_type *root)
{
    if (root->kind != XBUF_KIND_STRUCT)
        return;
    CHECK(root->nfields >= 0);
    for (ptrdiff_t i = 0; i < root->nfields && i < MAX_LEAVES; i++) {
        const xbuf_field *f = &root->fields[i];
        CHECK(f->type != NULL);
        CHECK(f->offset >= 0 && f->offset <= root->itemsize);
        if (f->name == NULL || strchr(f->name, '.') != NULL)
            continue;
        const xbuf_field *found = NULL;
        ptrdiff_t offset = -1;
        CHECK(xbuf_type_field(root, f->name, &found, &offset, NULL) == XBUF_OK);
        CHECK(found == f && offset == f->offset);
    }
}

typedef struct walk_state {
    const xbuf_type *root;
    unsigned char *zeroed;  /* NULL: no codec pass */
    unsigned char *pattern; /* the item filled with the input bytes */
    unsigned char *scratch; /* a copy of `pattern` for "nothing written" checks */
    ptrdiff_t leaves;
} walk_state;

static void exercise_codec(const walk_state *w, const xbuf_leaf *leaf);

static bool is_container(xbuf_kind kind)
{
    return kind == XBUF_KIND_STRUCT || kind == XBUF_KIND_ARRAY;
}

/* The bytes a leaf touches: a bit field's bits, else its itemsize. */
static ptrdiff_t leaf_bytes(const xbuf_type *t)
{
    if (t->kind != XBUF_KIND_BITS)
        return t->itemsize;
    return (t->bit_offset + t->count + 7) / 8;
}

static int visit_leaf(const xbuf_leaf *leaf, void *context)
{
    walk_state *w = context;
    const xbuf_type *t = leaf->type;
    CHECK(t != NULL && !is_container(t->kind));
    CHECK(leaf->path != NULL && leaf->depth >= 0);
    CHECK(t->itemsize >= 0 && leaf->offset >= 0);
    if (t->kind == XBUF_KIND_BITS) {
        CHECK(t->bit_offset >= 0 && t->bit_offset <= 7 && t->count >= 0);
        CHECK(t->itemsize == leaf_bytes(t));
    }
    CHECK(leaf->offset <= w->root->itemsize - leaf_bytes(t));
    if (w->zeroed != NULL)
        exercise_codec(w, leaf);
    return ++w->leaves == MAX_LEAVES; /* enough: stop */
}

/* ---- the scalar codec --------------------------------------------------------- */

#if XBUF_FUZZ_CODEC

typedef enum family { NONE, INTEGER, FLOATING, COMPLEX, UNITS, POINTER } family;

static family family_of(xbuf_kind kind)
{
    switch (kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
    case XBUF_KIND_BOOL:
    case XBUF_KIND_CHAR:
    case XBUF_KIND_BITS: return INTEGER;
    case XBUF_KIND_FLOAT: return FLOATING;
    case XBUF_KIND_COMPLEX: return COMPLEX;
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4: return UNITS;
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_OBJECT:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION: return POINTER;
    default: return NONE;
    }
}

/* Every reader of another family refuses the leaf with XBUF_ETYPE. */
static void check_wrong_families(const xbuf_type *t, const unsigned char *src)
{
    family f = family_of(t->kind);
    int64_t i;
    uint64_t u;
    long double re, im;
    uint32_t unit;
    uintptr_t p;
    if (f != INTEGER) {
        CHECK(xbuf_scalar_read_int(t, src, &i, NULL) == XBUF_ETYPE);
        CHECK(xbuf_scalar_read_uint(t, src, &u, NULL) == XBUF_ETYPE);
    }
    if (f != FLOATING)
        CHECK(xbuf_scalar_read_float(t, src, &re, NULL) == XBUF_ETYPE);
    if (f != COMPLEX)
        CHECK(xbuf_scalar_read_complex(t, src, &re, &im, NULL) == XBUF_ETYPE);
    if (f != UNITS)
        CHECK(xbuf_scalar_read_unit(t, src, 0, &unit, NULL) == XBUF_ETYPE);
    if (f != POINTER)
        CHECK(xbuf_scalar_read_pointer(t, src, &p, NULL) == XBUF_ETYPE);
}

/* Read, then write back what was read.  Returns the write's code, or the
 * read's when the read failed.  A bit field wider than the codec's 64 bits
 * is the one integer it may refuse (XBUF_EUNSUPPORTED). */
static int integer_round_trip(const xbuf_type *t, unsigned char *at)
{
    if (t->kind == XBUF_KIND_INT) {
        int64_t v;
        CHECK(xbuf_scalar_read_int(t, at, &v, NULL) == XBUF_OK);
        return xbuf_scalar_write_int(t, at, v, false, NULL);
    }
    uint64_t v;
    int rc = xbuf_scalar_read_uint(t, at, &v, NULL);
    if (rc == XBUF_EUNSUPPORTED && t->kind == XBUF_KIND_BITS && t->count > 64)
        return rc;
    CHECK(rc == XBUF_OK);
    return xbuf_scalar_write_uint(t, at, v, false, NULL);
}

/* A value the leaf cannot hold is refused and nothing is written. */
static void check_integer_refusal(const walk_state *w, const xbuf_type *t, ptrdiff_t offset)
{
    bool unsigned_kind = t->kind != XBUF_KIND_INT;
    ptrdiff_t width = t->kind == XBUF_KIND_BITS ? t->count : t->itemsize * 8;
    if (!unsigned_kind && width >= 64)
        return; /* every int64_t fits */
    memcpy(w->scratch, w->pattern, (size_t)w->root->itemsize);
    int rc = unsigned_kind ? xbuf_scalar_write_int(t, w->scratch + offset, -1, false, NULL)
                           : xbuf_scalar_write_uint(t, w->scratch + offset, UINT64_MAX,
                                                    false, NULL);
    if (t->kind == XBUF_KIND_BITS && t->count > 64)
        CHECK(rc == XBUF_EUNSUPPORTED);
    else
        CHECK(rc == XBUF_ERANGE);
    CHECK(memcmp(w->scratch, w->pattern, (size_t)w->root->itemsize) == 0);
}

static int float_round_trip(const xbuf_type *t, unsigned char *at)
{
    long double re, im;
    if (t->kind == XBUF_KIND_FLOAT) {
        CHECK(xbuf_scalar_read_float(t, at, &re, NULL) == XBUF_OK);
        return xbuf_scalar_write_float(t, at, re, false, NULL);
    }
    CHECK(xbuf_scalar_read_complex(t, at, &re, &im, NULL) == XBUF_OK);
    return xbuf_scalar_write_complex(t, at, re, im, false, NULL);
}

static int units_round_trip(const xbuf_type *t, unsigned char *at)
{
    uint32_t unit;
    CHECK(xbuf_scalar_read_unit(t, at, -1, &unit, NULL) == XBUF_ERANGE);
    CHECK(xbuf_scalar_read_unit(t, at, t->count, &unit, NULL) == XBUF_ERANGE);
    for (ptrdiff_t i = 0; i < t->count && i < MAX_UNITS; i++) {
        CHECK(xbuf_scalar_read_unit(t, at, i, &unit, NULL) == XBUF_OK);
        int rc = xbuf_scalar_write_unit(t, at, i, unit, NULL);
        if (rc != XBUF_OK)
            return rc;
    }
    return XBUF_OK;
}

static int pointer_round_trip(const xbuf_type *t, unsigned char *at)
{
    uintptr_t p;
    CHECK(xbuf_scalar_read_pointer(t, at, &p, NULL) == XBUF_OK);
    return xbuf_scalar_write_pointer(t, at, p, NULL);
}

/* Read and write back one leaf at `at`; the code of the write. */
static int round_trip(const xbuf_type *t, unsigned char *at)
{
    switch (family_of(t->kind)) {
    case INTEGER: return integer_round_trip(t, at);
    case FLOATING:
    case COMPLEX: return float_round_trip(t, at);
    case UNITS: return units_round_trip(t, at);
    case POINTER: return pointer_round_trip(t, at);
    default: return XBUF_OK; /* bytes, Pascal strings, void: no codec */
    }
}

/* Whether writing back what was read reproduces the bytes.  Not for floats
 * (a signalling NaN comes back quiet through long double, 'g' padding comes
 * back zero) nor bools (any non-zero byte reads as 1). */
static bool exact_round_trip(const xbuf_type *t)
{
    family f = family_of(t->kind);
    return f == UNITS || f == POINTER || (f == INTEGER && t->kind != XBUF_KIND_BOOL);
}

static void exercise_codec(const walk_state *w, const xbuf_leaf *leaf)
{
    const xbuf_type *t = leaf->type;
    size_t n = (size_t)leaf_bytes(t);
    int rc = round_trip(t, w->zeroed + leaf->offset);
    CHECK(rc == XBUF_OK || (rc == XBUF_EUNSUPPORTED && t->kind == XBUF_KIND_BITS));
    for (size_t i = 0; i < n; i++)
        CHECK(w->zeroed[(size_t)leaf->offset + i] == 0);

    unsigned char before[64];
    bool exact = exact_round_trip(t) && n <= sizeof before;
    if (exact)
        memcpy(before, w->pattern + leaf->offset, n);
    rc = round_trip(t, w->pattern + leaf->offset);
    CHECK(rc == XBUF_OK || (rc == XBUF_EUNSUPPORTED && t->kind == XBUF_KIND_BITS));
    if (exact && rc == XBUF_OK)
        CHECK(memcmp(before, w->pattern + leaf->offset, n) == 0);
    if (family_of(t->kind) == INTEGER)
        check_integer_refusal(w, t, leaf->offset);
    check_wrong_families(t, w->pattern + leaf->offset);
}

#else

static void exercise_codec(const walk_state *w, const xbuf_leaf *leaf)
{
    (void)w;
    (void)leaf;
}

#endif /* XBUF_FUZZ_CODEC */

/* The item filled with the input, repeated: lets the fuzzer choose values. */
static void fill_pattern(unsigned char *item, size_t itemsize, const uint8_t *data,
                         size_t size)
{
    for (size_t i = 0; i < itemsize; i++)
        item[i] = size > 0 ? data[i % size] : 0;
}

static void check_leaves(const xbuf_type *root, const uint8_t *data, size_t size)
{
    walk_state w = {root, NULL, NULL, NULL, 0};
    bool codec = XBUF_FUZZ_CODEC && root->itemsize <= MAX_CODEC_ITEMSIZE;
    size_t itemsize = (size_t)root->itemsize + 1; /* +1: never malloc(0) */
    if (codec) {
        w.zeroed = calloc(1, itemsize);
        w.pattern = malloc(itemsize);
        w.scratch = malloc(itemsize);
        CHECK(w.zeroed != NULL && w.pattern != NULL && w.scratch != NULL);
        fill_pattern(w.pattern, itemsize, data, size);
    }
    int rc = xbuf_type_walk(root, visit_leaf, &w, NULL);
    CHECK(rc == 0 || (rc == 1 && w.leaves == MAX_LEAVES));
    free(w.zeroed);
    free(w.pattern);
    free(w.scratch);
}

/* ---- the entry point ---------------------------------------------------------- */

/* parse (NUL-terminated) agrees with parse_n when the input holds no NUL. */
static void check_parse_agrees(const uint8_t *data, size_t size, int rc_n,
                               const xbuf_format *parsed_n)
{
    if (memchr(data, '\0', size) != NULL)
        return;
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    xbuf_format *format = NULL;
    int rc = xbuf_format_parse(text, &format, NULL);
    CHECK(rc == rc_n);
    if (rc == XBUF_OK)
        CHECK(xbuf_type_equal(xbuf_format_type(format), xbuf_format_type(parsed_n)));
    xbuf_format_release(format);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Not NULL, so that the check that a failed parse sets *out to NULL means
     * something; never dereferenced. */
    xbuf_format *format = (xbuf_format *)(uintptr_t)1;
    xbuf_error err;
    int rc = xbuf_format_parse_n((const char *)data, size, &format, &err);
    check_parse_agrees(data, size, rc, format);
    if (rc != XBUF_OK) {
        check_failure(rc, format, &err, size);
        return 0;
    }
    const xbuf_type *root = xbuf_format_type(format);
    CHECK(root != NULL && root->itemsize >= 0 && root->alignment >= 1);
    CHECK(xbuf_format_retain(format) == format);
    xbuf_format_release(format);
    check_round_trip(root);
    check_fields(root);
    check_leaves(root, data, size);
    xbuf_format_release(format);
    return 0;
}
