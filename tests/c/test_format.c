/*
 * test_format.c -- layer 2, the PEP 3118 format language (xbuf/format.h):
 * parsing and layout, the canonical printer, equality and layout
 * compatibility, field lookup, the leaf walker, reference counting and
 * allocation failure.  (The scalar codec has its own file, test_codec.c.)
 *
 * Where expected values come from:
 *   - ../shared/vectors/formats.tsv: itemsizes and offsets from CPython's
 *     struct.calcsize and NumPy's PEP 3118 parser (x86-64 Linux);
 *   - native sizes and alignments: sizeof / alignof of the C types here;
 *     standard sizes: the struct module's table (b 1, h 2, i l 4, q 8,
 *     e 2, f 4, d 8);
 *   - every other layout and every canonical printed string is worked out
 *     by hand from the rules in format.h and docs/format.md; the comment
 *     beside each expectation shows the arithmetic.
 * The canonical strings assume a little-endian host ('=' prints as '<'),
 * and the vectors an LP64 host with a 16-byte long double; the tests that
 * depend on that skip elsewhere.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xbuf.h>

#include "failing_alloc.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#  define HOST_ORDER XBUF_BIG
#else
#  define HOST_ORDER XBUF_LITTLE
#endif

#define P(x) ((ptrdiff_t)(x))
#define PTRSIZE P(sizeof(void *))
#define PTRALIGN P(alignof(void *))

typedef void (*function_pointer)(void);

/* ---- helpers ---------------------------------------------------------------- */

static void assert_contains(const char *message, const char *needle)
{
    cr_assert_not_null(strstr(message, needle), "message \"%s\" does not contain \"%s\"",
                       message, needle);
}

static xbuf_format *parse(const char *text)
{
    xbuf_format *format = NULL;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_format_parse(text, &format, &err);
    cr_assert_eq(rc, XBUF_OK, "parsing \"%s\" failed with %d: %s", text, rc, err.message);
    cr_assert_not_null(format, "parsing \"%s\" gave no format", text);
    cr_assert_not_null(xbuf_format_type(format), "\"%s\" has no root type", text);
    return format;
}

static const xbuf_type *root(const xbuf_format *format)
{
    return xbuf_format_type(format);
}

/* Field i of a struct (or function) node, checked. */
static const xbuf_field *field(const xbuf_type *t, ptrdiff_t i)
{
    cr_assert(t->kind == XBUF_KIND_STRUCT || t->kind == XBUF_KIND_FUNCTION,
              "node of kind %d has no fields", (int)t->kind);
    cr_assert_lt(i, t->nfields, "field %td asked of a node with %td fields", i, t->nfields);
    return &t->fields[i];
}

static void assert_size(const char *text, ptrdiff_t itemsize, ptrdiff_t alignment)
{
    xbuf_format *f = parse(text);
    cr_assert_eq(root(f)->itemsize, itemsize, "itemsize of \"%s\" is %td, expected %td", text,
                 root(f)->itemsize, itemsize);
    if (alignment > 0)
        cr_assert_eq(root(f)->alignment, alignment, "alignment of \"%s\" is %td, expected %td",
                     text, root(f)->alignment, alignment);
    xbuf_format_release(f);
}

static void assert_field(const xbuf_type *t, ptrdiff_t i, const char *name, ptrdiff_t offset,
                         xbuf_kind kind)
{
    const xbuf_field *fl = field(t, i);
    if (name == NULL)
        cr_assert_null(fl->name, "field %td is named \"%s\", expected no name", i, fl->name);
    else
        cr_assert(fl->name != NULL && strcmp(fl->name, name) == 0,
                  "field %td is named \"%s\", expected \"%s\"", i,
                  fl->name ? fl->name : "(null)", name);
    cr_assert_eq(fl->offset, offset, "field %td is at %td, expected %td", i, fl->offset, offset);
    cr_assert_eq(fl->type->kind, kind, "field %td has kind %d, expected %d", i,
                 (int)fl->type->kind, (int)kind);
}

static void assert_leaf(const xbuf_type *t, xbuf_kind kind, char code, ptrdiff_t itemsize,
                        ptrdiff_t alignment, char byteorder, ptrdiff_t count)
{
    cr_assert_eq(t->kind, kind, "kind %d, expected %d", (int)t->kind, (int)kind);
    cr_assert_eq(t->code, code, "code '%c', expected '%c'", t->code, code);
    cr_assert_eq(t->itemsize, itemsize, "itemsize %td, expected %td", t->itemsize, itemsize);
    cr_assert_eq(t->alignment, alignment, "alignment %td, expected %td", t->alignment,
                 alignment);
    cr_assert_eq(t->byteorder, byteorder, "byteorder '%c', expected '%c'", t->byteorder,
                 byteorder);
    cr_assert_eq(t->count, count, "count %td, expected %td", t->count, count);
}

static void assert_shape(const xbuf_type *t, int ndim, const ptrdiff_t *shape)
{
    cr_assert_eq(t->kind, XBUF_KIND_ARRAY, "kind %d, expected ARRAY", (int)t->kind);
    cr_assert_eq(t->code, '(');
    cr_assert_eq(t->ndim, ndim, "ndim %d, expected %d", t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->shape[i], shape[i], "shape[%d] is %td, expected %td", i, t->shape[i],
                     shape[i]);
    cr_assert_not_null(t->base);
}

/* Parse `length` bytes of `text` expecting failure with `code`; `position`
 * is checked exactly when >= 0.  The message must contain `needle` and,
 * for parser errors, name the position it reports. */
static void check_error_n(const char *text, size_t length, int code, ptrdiff_t position,
                          const char *needle)
{
    static char sentinel;
    xbuf_format *out = (xbuf_format *)(void *)&sentinel;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_format_parse_n(text, length, &out, &err);
    cr_assert_eq(rc, code, "parsing \"%.*s\" returned %d (%s), expected %d", (int)length, text,
                 rc, err.message, code);
    cr_assert_null(out, "*out is not NULL after an error on \"%.*s\"", (int)length, text);
    cr_assert_eq(err.code, code);
    cr_assert(err.position >= 0 && (size_t)err.position <= length,
              "position %td outside the input \"%.*s\"", err.position, (int)length, text);
    if (position >= 0)
        cr_assert_eq(err.position, position, "\"%.*s\": error at %td, expected %td (%s)",
                     (int)length, text, err.position, position, err.message);
    assert_contains(err.message, needle);
    char at[48];
    snprintf(at, sizeof at, "position %td", err.position);
    assert_contains(err.message, at);
}

static void check_error(const char *text, int code, ptrdiff_t position, const char *needle)
{
    check_error_n(text, strlen(text), code, position, needle);
    /* The NUL-terminated entry point gives the same answer. */
    static char sentinel;
    xbuf_format *out = (xbuf_format *)(void *)&sentinel;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_format_parse(text, &out, &err), code);
    cr_assert_null(out);
    if (position >= 0)
        cr_assert_eq(err.position, position);
}

/* A string of `n` copies of `unit` followed by `middle` and n copies of `tail`. */
static char *repeat(const char *unit, long n, const char *middle, const char *tail)
{
    size_t length = strlen(unit) * (size_t)n + strlen(middle) + strlen(tail) * (size_t)n + 1;
    char *s = malloc(length);
    cr_assert_not_null(s);
    char *p = s;
    for (long i = 0; i < n; i++, p += strlen(unit))
        memcpy(p, unit, strlen(unit));
    memcpy(p, middle, strlen(middle));
    p += strlen(middle);
    for (long i = 0; i < n; i++, p += strlen(tail))
        memcpy(p, tail, strlen(tail));
    *p = '\0';
    return s;
}

/* The canonical text of a type (the test fails if it cannot be printed). */
static void print_into(const xbuf_type *t, char *buf, size_t size, const char *what)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    size_t length = 0;
    int rc = xbuf_type_print(t, buf, size, &length, &err);
    cr_assert_eq(rc, XBUF_OK, "printing \"%s\" failed with %d: %s", what, rc, err.message);
    cr_assert_eq(length, strlen(buf), "\"%s\": *length %zu but the text is \"%s\"", what,
                 length, buf);
}

/* parse -> print -> parse gives an equal tree; printing again gives the
 * same text; returns the canonical text in `printed`. */
static void check_round_trip(const char *text, char *printed, size_t size)
{
    xbuf_format *first = parse(text);
    print_into(root(first), printed, size, text);
    xbuf_format *second = NULL;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_format_parse(printed, &second, &err);
    cr_assert_eq(rc, XBUF_OK, "\"%s\" printed as \"%s\", which does not parse: %s", text,
                 printed, err.message);
    cr_assert(xbuf_type_equal(root(first), root(second)),
              "\"%s\" printed as \"%s\", which parses to a different type", text, printed);
    cr_assert(xbuf_type_layout_compatible(root(first), root(second)));
    cr_assert_eq(root(first)->itemsize, root(second)->itemsize);
    char again[4096];
    print_into(root(second), again, sizeof again, printed);
    cr_assert_str_eq(again, printed, "printing is not idempotent: \"%s\" -> \"%s\" -> \"%s\"",
                     text, printed, again);
    xbuf_format_release(second);
    xbuf_format_release(first);
}

static void assert_prints(const char *text, const char *expected)
{
    char printed[4096];
    check_round_trip(text, printed, sizeof printed);
    cr_assert_str_eq(printed, expected, "\"%s\" printed as \"%s\", expected \"%s\"", text,
                     printed, expected);
}

static bool little_endian_lp64(void)
{
    return HOST_ORDER == XBUF_LITTLE && sizeof(long) == 8 && sizeof(void *) == 8 &&
           sizeof(long double) == 16 && alignof(long double) == 16 && alignof(double) == 8 &&
           sizeof(int) == 4;
}

/* ---- the layout vectors ------------------------------------------------------ */

/* Where the source tree is: $XBUF_SOURCE_ROOT, the macro, or __FILE__.
 * Meson compiles with __FILE__ relative to the build directory, so a
 * relative root is tried both from the current directory and from the
 * build directory (two levels above this executable). */
static FILE *open_vectors(char *path, size_t size, char *tried, size_t tried_size)
{
    const char *roots[4];
    int n = 0;
    const char *env = getenv("XBUF_SOURCE_ROOT");
    if (env != NULL && env[0] != '\0')
        roots[n++] = env;
#ifdef XBUF_SOURCE_ROOT
    roots[n++] = XBUF_SOURCE_ROOT;
#endif
    static char from_file[1024];
    const char *file_name = __FILE__;
    const char *suffix = "tests/c/test_format.c";
    size_t file_length = strlen(file_name), suffix_length = strlen(suffix);
    if (file_length >= suffix_length &&
        strcmp(&file_name[file_length - suffix_length], suffix) == 0) {
        size_t keep = file_length - suffix_length;
        if (keep == 0) {
            strcpy(from_file, ".");
        } else {
            snprintf(from_file, sizeof from_file, "%.*s", (int)(keep - 1), file_name);
            if (from_file[0] == '\0')
                strcpy(from_file, "/");
        }
        roots[n++] = from_file;
    }
    tried[0] = '\0';
    for (int i = 0; i < n; i++) {
        char candidates[2][2048];
        int ncand = 0;
        snprintf(candidates[ncand++], sizeof candidates[0], "%s/../shared/vectors/formats.tsv",
                 roots[i]);
        if (roots[i][0] != '/') {
            char exe[1024];
            ssize_t got = readlink("/proc/self/exe", exe, sizeof exe - 1);
            if (got > 0) {
                exe[got] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash != NULL) {
                    *slash = '\0';
                    snprintf(candidates[ncand++], sizeof candidates[0],
                             "%s/../../%s/../shared/vectors/formats.tsv", exe, roots[i]);
                }
            }
        }
        for (int c = 0; c < ncand; c++) {
            FILE *file = fopen(candidates[c], "r");
            size_t used = strlen(tried);
            snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "", candidates[c]);
            if (file != NULL) {
                size_t keep = strlen(candidates[c]) < size ? strlen(candidates[c]) : size - 1;
                memcpy(path, candidates[c], keep);
                path[keep] = '\0';
                return file;
            }
        }
    }
    return NULL;
}

/* The offset of the vector's field `name`: a field of that name, else
 * "f<i>" is the i-th unnamed field. */
static ptrdiff_t vector_field_offset(const char *format, const xbuf_type *t, const char *name)
{
    const xbuf_field *fl = NULL;
    ptrdiff_t offset = -1;
    if (xbuf_type_field(t, name, &fl, &offset, NULL) == XBUF_OK)
        return offset;
    cr_assert(name[0] == 'f' && name[1] >= '0' && name[1] <= '9',
              "vector \"%s\": no field named \"%s\"", format, name);
    long index = strtol(name + 1, NULL, 10);
    cr_assert_eq(t->kind, XBUF_KIND_STRUCT, "vector \"%s\": root is not a struct", format);
    long unnamed = 0;
    for (ptrdiff_t i = 0; i < t->nfields; i++)
        if (t->fields[i].name == NULL && unnamed++ == index)
            return t->fields[i].offset;
    cr_assert_fail("vector \"%s\": no unnamed field %ld", format, index);
    return -1;
}

Test(vectors, every_vector_layout_and_round_trip)
{
    if (!little_endian_lp64())
        cr_skip_test("formats.tsv holds x86-64 Linux figures");
    char path[2048], tried[8192];
    FILE *file = open_vectors(path, sizeof path, tried, sizeof tried);
    cr_assert_not_null(file,
                       "layout vectors not found (set XBUF_SOURCE_ROOT to the repository "
                       "root; shared/ must sit beside it); tried: %s",
                       tried);
    char line[4096];
    int vectors = 0, offsets = 0;
    while (fgets(line, sizeof line, file) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *columns[4] = {NULL, NULL, NULL, NULL};
        char *cursor = line;
        for (int c = 0; c < 4 && cursor != NULL; c++) {
            columns[c] = cursor;
            char *tab = strchr(cursor, '\t');
            if (tab != NULL)
                *tab++ = '\0';
            cursor = tab;
        }
        cr_assert_not_null(columns[1], "%s: malformed line \"%s\"", path, line);
        const char *format = columns[0];
        ptrdiff_t itemsize = (ptrdiff_t)strtol(columns[1], NULL, 10);
        xbuf_format *f = parse(format);
        cr_assert_eq(root(f)->itemsize, itemsize, "vector \"%s\": itemsize %td, expected %td",
                     format, root(f)->itemsize, itemsize);
        ptrdiff_t size_only = -1;
        cr_assert_eq(xbuf_format_size(format, &size_only, NULL, NULL), XBUF_OK);
        cr_assert_eq(size_only, itemsize, "xbuf_format_size(\"%s\") = %td", format, size_only);
        if (columns[2] != NULL && columns[2][0] != '\0') {
            char *save = NULL;
            for (char *item = strtok_r(columns[2], " ", &save); item != NULL;
                 item = strtok_r(NULL, " ", &save)) {
                char *at = strchr(item, '@');
                cr_assert_not_null(at, "%s: bad offset \"%s\"", path, item);
                *at = '\0';
                ptrdiff_t expected = (ptrdiff_t)strtol(at + 1, NULL, 10);
                ptrdiff_t got = vector_field_offset(format, root(f), item);
                cr_assert_eq(got, expected, "vector \"%s\": field %s at %td, expected %td",
                             format, item, got, expected);
                offsets++;
            }
        }
        char printed[4096];
        check_round_trip(format, printed, sizeof printed);
        xbuf_format_release(f);
        vectors++;
    }
    fclose(file);
    cr_assert_geq(vectors, 40, "only %d vectors read from %s", vectors, path);
    cr_assert_geq(offsets, 30, "only %d field offsets checked", offsets);
}

/* ---- every code in every mode --------------------------------------------------- */

typedef struct code_case {
    const char *text;   /* the item after the mode character */
    bool named;         /* x and t: the node is the root's only (named) field */
    xbuf_kind kind;
    char code;
    ptrdiff_t standard; /* size under = < > ! */
    ptrdiff_t native;   /* size under @ ^ */
    ptrdiff_t align;    /* natural alignment, used under @ */
    bool complex;       /* the byte-order unit is half the size */
    bool fixed;         /* & X t n N P O g: native_size is not the mode's (these
                           sizes are always native; bit fields have no size mode) */
} code_case;

#define NAT(type) P(sizeof(type)), P(alignof(type))

static const code_case code_cases[] = {
    {"x:v:", true, XBUF_KIND_VOID, 'x', 1, 1, 1, false, false},
    {"c", false, XBUF_KIND_CHAR, 'c', 1, 1, 1, false, false},
    {"b", false, XBUF_KIND_INT, 'b', 1, NAT(signed char), false, false},
    {"B", false, XBUF_KIND_UINT, 'B', 1, NAT(unsigned char), false, false},
    {"?", false, XBUF_KIND_BOOL, '?', 1, NAT(_Bool), false, false},
    {"h", false, XBUF_KIND_INT, 'h', 2, NAT(short), false, false},
    {"H", false, XBUF_KIND_UINT, 'H', 2, NAT(unsigned short), false, false},
    {"i", false, XBUF_KIND_INT, 'i', 4, NAT(int), false, false},
    {"I", false, XBUF_KIND_UINT, 'I', 4, NAT(unsigned int), false, false},
    {"l", false, XBUF_KIND_INT, 'l', 4, NAT(long), false, false},
    {"L", false, XBUF_KIND_UINT, 'L', 4, NAT(unsigned long), false, false},
    {"q", false, XBUF_KIND_INT, 'q', 8, NAT(long long), false, false},
    {"Q", false, XBUF_KIND_UINT, 'Q', 8, NAT(unsigned long long), false, false},
    {"n", false, XBUF_KIND_INT, 'n', P(sizeof(ptrdiff_t)), NAT(ptrdiff_t), false, true},
    {"N", false, XBUF_KIND_UINT, 'N', P(sizeof(size_t)), NAT(size_t), false, true},
    {"e", false, XBUF_KIND_FLOAT, 'e', 2, 2, 2, false, false},
    {"f", false, XBUF_KIND_FLOAT, 'f', 4, NAT(float), false, false},
    {"d", false, XBUF_KIND_FLOAT, 'd', 8, NAT(double), false, false},
    {"g", false, XBUF_KIND_FLOAT, 'g', P(sizeof(long double)), NAT(long double), false, true},
    {"s", false, XBUF_KIND_BYTES, 's', 1, 1, 1, false, false},
    {"p", false, XBUF_KIND_PASCAL, 'p', 1, 1, 1, false, false},
    {"P", false, XBUF_KIND_VOIDP, 'P', P(sizeof(void *)), NAT(void *), false, true},
    {"u", false, XBUF_KIND_UCS2, 'u', 2, 2, 2, false, false},
    {"w", false, XBUF_KIND_UCS4, 'w', 4, 4, 4, false, false},
    {"t:v:", true, XBUF_KIND_BITS, 't', 1, 1, 1, false, true},
    {"O", false, XBUF_KIND_OBJECT, 'O', P(sizeof(void *)), NAT(void *), false, true},
    {"&i", false, XBUF_KIND_POINTER, '&', P(sizeof(void *)), NAT(void *), false, true},
    {"X{}", false, XBUF_KIND_FUNCTION, 'X', P(sizeof(function_pointer)), NAT(function_pointer),
     false, true},
    {"Ze", false, XBUF_KIND_COMPLEX, 'e', 4, 4, 2, true, false},
    {"Zf", false, XBUF_KIND_COMPLEX, 'f', 8, 2 * P(sizeof(float)), P(alignof(float)), true,
     false},
    {"Zd", false, XBUF_KIND_COMPLEX, 'd', 16, 2 * P(sizeof(double)), P(alignof(double)), true,
     false},
    {"Zg", false, XBUF_KIND_COMPLEX, 'g', 2 * P(sizeof(long double)),
     2 * P(sizeof(long double)), P(alignof(long double)), true, true},
};

static char mode_order(char mode)
{
    return mode == '<' ? XBUF_LITTLE : (mode == '>' || mode == '!') ? XBUF_BIG : HOST_ORDER;
}

Test(codes, every_code_in_every_mode)
{
    const char modes[] = "@^=<>!";
    for (size_t m = 0; m < sizeof modes - 1; m++) {
        char mode = modes[m];
        bool native = mode == '@' || mode == '^';
        for (size_t c = 0; c < sizeof code_cases / sizeof code_cases[0]; c++) {
            const code_case *k = &code_cases[c];
            char text[32];
            snprintf(text, sizeof text, "%c%s", mode, k->text);
            xbuf_format *f = parse(text);
            const xbuf_type *t = root(f);
            if (k->named) {
                cr_assert_eq(t->kind, XBUF_KIND_STRUCT, "\"%s\": root kind %d", text,
                             (int)t->kind);
                cr_assert_eq(t->nfields, 1, "\"%s\": %td fields", text, t->nfields);
                cr_assert_str_eq(t->fields[0].name, "v");
                cr_assert_eq(t->fields[0].offset, 0);
                t = t->fields[0].type;
            }
            ptrdiff_t size = native ? k->native : k->standard;
            ptrdiff_t alignment = mode == '@' ? k->align : 1;
            ptrdiff_t unit = k->complex ? size / 2 : size;
            char order = unit > 1 ? mode_order(mode) : XBUF_NO_ORDER;
            cr_assert_eq(t->kind, k->kind, "\"%s\": kind %d, expected %d", text, (int)t->kind,
                         (int)k->kind);
            cr_assert_eq(t->code, k->code, "\"%s\": code '%c', expected '%c'", text, t->code,
                         k->code);
            cr_assert_eq(t->itemsize, size, "\"%s\": itemsize %td, expected %td", text,
                         t->itemsize, size);
            cr_assert_eq(t->alignment, alignment, "\"%s\": alignment %td, expected %td", text,
                         t->alignment, alignment);
            cr_assert_eq(t->byteorder, order, "\"%s\": byteorder '%c', expected '%c'", text,
                         t->byteorder, order);
            cr_assert_eq(t->count, 1, "\"%s\": count %td", text, t->count);
            cr_assert_eq(t->bit_offset, 0, "\"%s\": bit_offset %d", text, t->bit_offset);
            if (!k->fixed)
                cr_assert_eq(t->native_size, native, "\"%s\": native_size %d", text,
                             (int)t->native_size);
            if (!k->named)
                cr_assert_eq(root(f)->itemsize, size);
            xbuf_format_release(f);
        }
    }
}

Test(codes, standard_and_native_sizes)
{
    assert_size("=l", 4, 1);
    assert_size("<L", 4, 1);
    assert_size("@l", P(sizeof(long)), P(alignof(long)));
    assert_size("^l", P(sizeof(long)), 1);
    assert_size("l", P(sizeof(long)), P(alignof(long)));
    assert_size("=q", 8, 1);
    assert_size("!h", 2, 1);
    assert_size("=d", 8, 1);
    /* n N P O & X have the native pointer size in every mode. */
    const char *pointer_sized[] = {"=n", "<N", ">P", "!O", "=&i", "<&d", ">X{}", "^&i", "@P"};
    for (size_t i = 0; i < sizeof pointer_sized / sizeof pointer_sized[0]; i++)
        assert_size(pointer_sized[i], PTRSIZE, pointer_sized[i][0] == '@' ? PTRALIGN : 1);
    /* g has no standard size: always the native long double. */
    assert_size("<g", P(sizeof(long double)), 1);
}

/* ---- repeat counts, strings, padding, sub-arrays --------------------------------- */

Test(layout, repeat_count_is_a_one_dimensional_array)
{
    xbuf_format *f = parse("3i");
    const ptrdiff_t three[] = {3};
    assert_shape(root(f), 1, three);
    cr_assert_eq(root(f)->itemsize, 12);
    cr_assert_eq(root(f)->alignment, P(alignof(int)));
    cr_assert_eq(root(f)->byteorder, XBUF_NO_ORDER);
    assert_leaf(root(f)->base, XBUF_KIND_INT, 'i', 4, 4, HOST_ORDER, 1);
    xbuf_format_release(f);

    f = parse("1i"); /* "1i" is "i", as in struct */
    assert_leaf(root(f), XBUF_KIND_INT, 'i', 4, 4, HOST_ORDER, 1);
    xbuf_format_release(f);

    f = parse("<12d");
    const ptrdiff_t twelve[] = {12};
    assert_shape(root(f), 1, twelve);
    cr_assert_eq(root(f)->itemsize, 96);
    cr_assert_eq(root(f)->alignment, 1);
    assert_leaf(root(f)->base, XBUF_KIND_FLOAT, 'd', 8, 1, XBUF_LITTLE, 1);
    xbuf_format_release(f);
}

Test(layout, zero_count_has_size_zero_but_aligns)
{
    xbuf_format *f = parse("0i");
    const ptrdiff_t zero[] = {0};
    assert_shape(root(f), 1, zero);
    cr_assert_eq(root(f)->itemsize, 0);
    cr_assert_eq(root(f)->alignment, 4);
    xbuf_format_release(f);

    f = parse("b0i"); /* struct.calcsize('b0i') == 4 */
    cr_assert_eq(root(f)->itemsize, 4);
    cr_assert_eq(root(f)->nfields, 2);
    assert_field(root(f), 0, NULL, 0, XBUF_KIND_INT);
    assert_field(root(f), 1, NULL, 4, XBUF_KIND_ARRAY);
    cr_assert_eq(field(root(f), 1)->type->itemsize, 0);
    xbuf_format_release(f);

    assert_size("i0q", 8, 8);  /* struct.calcsize('i0q') == 8 */
    assert_size("=b0i", 1, 1); /* no alignment under '=' */
    assert_size("b0ib", 5, 4);
}

Test(layout, strings_count_code_units)
{
    xbuf_format *f = parse("10s");
    assert_leaf(root(f), XBUF_KIND_BYTES, 's', 10, 1, XBUF_NO_ORDER, 10);
    xbuf_format_release(f);
    f = parse("3p");
    assert_leaf(root(f), XBUF_KIND_PASCAL, 'p', 3, 1, XBUF_NO_ORDER, 3);
    xbuf_format_release(f);
    f = parse("2u");
    assert_leaf(root(f), XBUF_KIND_UCS2, 'u', 4, 2, HOST_ORDER, 2);
    xbuf_format_release(f);
    f = parse(">3w");
    assert_leaf(root(f), XBUF_KIND_UCS4, 'w', 12, 1, XBUF_BIG, 3);
    xbuf_format_release(f);
    f = parse("0s");
    assert_leaf(root(f), XBUF_KIND_BYTES, 's', 0, 1, XBUF_NO_ORDER, 0);
    xbuf_format_release(f);
    f = parse("s");
    assert_leaf(root(f), XBUF_KIND_BYTES, 's', 1, 1, XBUF_NO_ORDER, 1);
    xbuf_format_release(f);
    assert_size("4c4s", 8, 1);
    assert_size("b3w", 16, 4); /* b, then 3 UCS-4 units aligned to 4 */
}

Test(layout, padding_and_named_padding)
{
    xbuf_format *f = parse("4x");
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    cr_assert_eq(root(f)->nfields, 0, "unnamed padding is not a field");
    cr_assert_eq(root(f)->itemsize, 4);
    xbuf_format_release(f);

    f = parse("4x:a:");
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    cr_assert_eq(root(f)->nfields, 1);
    assert_field(root(f), 0, "a", 0, XBUF_KIND_VOID);
    assert_leaf(field(root(f), 0)->type, XBUF_KIND_VOID, 'x', 4, 1, XBUF_NO_ORDER, 4);
    cr_assert_eq(root(f)->itemsize, 4);
    xbuf_format_release(f);

    f = parse("i4x:pad:d");
    cr_assert_eq(root(f)->nfields, 3);
    assert_field(root(f), 0, NULL, 0, XBUF_KIND_INT);
    assert_field(root(f), 1, "pad", 4, XBUF_KIND_VOID);
    assert_field(root(f), 2, NULL, 8, XBUF_KIND_FLOAT);
    cr_assert_eq(root(f)->itemsize, 16);
    xbuf_format_release(f);

    f = parse("b3xi");
    cr_assert_eq(root(f)->nfields, 2);
    assert_field(root(f), 1, NULL, 4, XBUF_KIND_INT);
    xbuf_format_release(f);
    assert_size("b5xi", 12, 4); /* b, 5x -> 6, i aligned to 8 -> 12 */
    assert_size("=b5xi", 10, 1);
}

Test(layout, sub_arrays)
{
    xbuf_format *f = parse("(2,3)i");
    const ptrdiff_t s23[] = {2, 3};
    assert_shape(root(f), 2, s23);
    cr_assert_eq(root(f)->itemsize, 24);
    cr_assert_eq(root(f)->alignment, 4);
    xbuf_format_release(f);

    f = parse("(2)3i"); /* shape, then count: shape (2, 3) */
    assert_shape(root(f), 2, s23);
    cr_assert_eq(root(f)->itemsize, 24);
    xbuf_format_release(f);

    f = parse("(2)10s"); /* the count is the string's length */
    const ptrdiff_t s2[] = {2};
    assert_shape(root(f), 1, s2);
    assert_leaf(root(f)->base, XBUF_KIND_BYTES, 's', 10, 1, XBUF_NO_ORDER, 10);
    cr_assert_eq(root(f)->itemsize, 20);
    xbuf_format_release(f);

    f = parse("(2)1i"); /* count 1 adds no dimension */
    assert_shape(root(f), 1, s2);
    xbuf_format_release(f);

    f = parse("( 2 , 3 )>d");
    assert_shape(root(f), 2, s23);
    assert_leaf(root(f)->base, XBUF_KIND_FLOAT, 'd', 8, 1, XBUF_BIG, 1);
    cr_assert_eq(root(f)->itemsize, 48);
    xbuf_format_release(f);

    f = parse("(1)i");
    const ptrdiff_t s1[] = {1};
    assert_shape(root(f), 1, s1);
    xbuf_format_release(f);

    f = parse("T{(2,2)i:a:}");
    cr_assert_eq(root(f)->itemsize, 16);
    assert_field(root(f), 0, "a", 0, XBUF_KIND_ARRAY);
    xbuf_format_release(f);

    /* 64 dimensions are allowed. */
    char *text = repeat("1,", 63, "1)i", "");
    char *full = malloc(strlen(text) + 2);
    cr_assert_not_null(full);
    full[0] = '(';
    strcpy(full + 1, text);
    f = parse(full);
    cr_assert_eq(root(f)->ndim, 64);
    cr_assert_eq(root(f)->itemsize, 4);
    xbuf_format_release(f);
    free(full);
    free(text);
}

Test(layout, struct_alignment_follows_the_mode_at_its_brace)
{
    /* NumPy's reading: T{i=b} closes under '=', so it is 5 bytes (no closing
     * padding) and is placed unaligned; its elements are not padded. */
    xbuf_format *f = parse("3T{i=b}");
    const ptrdiff_t s3[] = {3};
    assert_shape(root(f), 1, s3);
    cr_assert_eq(root(f)->itemsize, 15);
    cr_assert_eq(root(f)->alignment, 4);
    cr_assert_eq(root(f)->base->kind, XBUF_KIND_STRUCT);
    cr_assert_eq(root(f)->base->itemsize, 5);
    xbuf_format_release(f);

    assert_size("(2)T{i=b}", 10, 4);
    assert_size("b(2)T{i=b}", 11, 1); /* placed unaligned, after the b */
    /* Placed under '^': no element padding, though the struct (and so the
     * array) keeps the alignment of its '@' member. */
    assert_size("^3T{@i=b}", 15, 4);
    assert_size("3T{ib}", 24, 4);
    assert_size("2T{bi}", 16, 4);
    assert_size("x3T{xi}", 28, 4);
    assert_size("^x3T{xi}", 16, 1);
}

/* ---- bit fields --------------------------------------------------------------- */

static void assert_bits(const xbuf_type *t, ptrdiff_t i, const char *name, ptrdiff_t offset,
                        int bit_offset, ptrdiff_t width, ptrdiff_t itemsize)
{
    assert_field(t, i, name, offset, XBUF_KIND_BITS);
    const xbuf_type *b = field(t, i)->type;
    cr_assert_eq(b->code, 't');
    cr_assert_eq(b->bit_offset, bit_offset, "field %td: bit_offset %d, expected %d", i,
                 b->bit_offset, bit_offset);
    cr_assert_eq(b->count, width, "field %td: %td bits, expected %td", i, b->count, width);
    cr_assert_eq(b->itemsize, itemsize, "field %td: itemsize %td, expected %td", i, b->itemsize,
                 itemsize);
    cr_assert_eq(b->byteorder, XBUF_NO_ORDER);
    cr_assert_eq(b->alignment, 1);
}

Test(bits, runs_share_bytes_and_end_at_the_next_item)
{
    xbuf_format *f = parse("3t5t:b:B2t");
    const xbuf_type *t = root(f);
    cr_assert_eq(t->kind, XBUF_KIND_STRUCT);
    cr_assert_eq(t->nfields, 4);
    assert_bits(t, 0, NULL, 0, 0, 3, 1);
    assert_bits(t, 1, "b", 0, 3, 5, 1);
    assert_field(t, 2, NULL, 1, XBUF_KIND_UINT);
    assert_bits(t, 3, NULL, 2, 0, 2, 1); /* a new run after B */
    cr_assert_eq(t->itemsize, 3);
    xbuf_format_release(f);
}

Test(bits, fields_crossing_bytes)
{
    xbuf_format *f = parse("5t5t");
    assert_bits(root(f), 0, NULL, 0, 0, 5, 1);
    assert_bits(root(f), 1, NULL, 0, 5, 5, 2); /* bits 5..9 */
    cr_assert_eq(root(f)->itemsize, 2);
    xbuf_format_release(f);

    f = parse("7t7t7t"); /* bits 0..6, 7..13, 14..20: 3 bytes */
    assert_bits(root(f), 0, NULL, 0, 0, 7, 1);
    assert_bits(root(f), 1, NULL, 0, 7, 7, 2);
    assert_bits(root(f), 2, NULL, 1, 6, 7, 2);
    cr_assert_eq(root(f)->itemsize, 3);
    xbuf_format_release(f);

    f = parse("12t"); /* a lone bit field stays a field of a struct */
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    assert_bits(root(f), 0, NULL, 0, 0, 12, 2);
    cr_assert_eq(root(f)->itemsize, 2);
    xbuf_format_release(f);

    f = parse("4t4t4t"); /* the third starts at bit 8: byte 1, bit 0 */
    assert_bits(root(f), 2, NULL, 1, 0, 4, 1);
    cr_assert_eq(root(f)->itemsize, 2);
    xbuf_format_release(f);
}

Test(bits, runs_and_other_items)
{
    xbuf_format *f = parse("4t4ti"); /* one byte of bits, i aligned to 4 */
    assert_field(root(f), 2, NULL, 4, XBUF_KIND_INT);
    cr_assert_eq(root(f)->itemsize, 8);
    xbuf_format_release(f);

    assert_size("4t4t=i", 5, 1);

    f = parse("4tx4t"); /* x ends the run */
    assert_bits(root(f), 0, NULL, 0, 0, 4, 1);
    assert_bits(root(f), 1, NULL, 2, 0, 4, 1);
    cr_assert_eq(root(f)->itemsize, 3);
    xbuf_format_release(f);

    f = parse("3t:a:0x3t:b:"); /* 0x ends the run without adding bytes */
    assert_bits(root(f), 1, "b", 1, 0, 3, 1);
    cr_assert_eq(root(f)->itemsize, 2);
    xbuf_format_release(f);

    f = parse("b3x4t");
    assert_bits(root(f), 1, NULL, 4, 0, 4, 1);
    cr_assert_eq(root(f)->itemsize, 5);
    xbuf_format_release(f);

    f = parse("T{3t:a:5t:b:}h");
    const xbuf_type *s = field(root(f), 0)->type;
    assert_bits(s, 0, "a", 0, 0, 3, 1);
    assert_bits(s, 1, "b", 0, 3, 5, 1);
    cr_assert_eq(s->itemsize, 1);
    assert_field(root(f), 1, NULL, 2, XBUF_KIND_INT);
    xbuf_format_release(f);
}

/* ---- pointers and functions --------------------------------------------------- */

Test(pointers, pointer_to_int)
{
    xbuf_format *f = parse("&i");
    assert_leaf(root(f), XBUF_KIND_POINTER, '&', PTRSIZE, PTRALIGN, HOST_ORDER, 1);
    cr_assert_not_null(root(f)->target);
    assert_leaf(root(f)->target, XBUF_KIND_INT, 'i', 4, 4, HOST_ORDER, 1);
    xbuf_format_release(f);

    f = parse("=&i"); /* the pointer is pointer-sized, its target standard */
    assert_leaf(root(f), XBUF_KIND_POINTER, '&', PTRSIZE, 1, HOST_ORDER, 1);
    assert_leaf(root(f)->target, XBUF_KIND_INT, 'i', 4, 1, HOST_ORDER, 1);
    xbuf_format_release(f);

    f = parse("<&>i");
    assert_leaf(root(f), XBUF_KIND_POINTER, '&', PTRSIZE, 1, XBUF_LITTLE, 1);
    assert_leaf(root(f)->target, XBUF_KIND_INT, 'i', 4, 1, XBUF_BIG, 1);
    xbuf_format_release(f);

    f = parse(">&<i");
    cr_assert_eq(root(f)->byteorder, XBUF_BIG);
    cr_assert_eq(root(f)->target->byteorder, XBUF_LITTLE);
    xbuf_format_release(f);
}

Test(pointers, pointer_to_pointer_and_struct)
{
    xbuf_format *f = parse("&&<d");
    assert_leaf(root(f), XBUF_KIND_POINTER, '&', PTRSIZE, PTRALIGN, HOST_ORDER, 1);
    const xbuf_type *inner = root(f)->target;
    assert_leaf(inner, XBUF_KIND_POINTER, '&', PTRSIZE, PTRALIGN, HOST_ORDER, 1);
    assert_leaf(inner->target, XBUF_KIND_FLOAT, 'd', 8, 1, XBUF_LITTLE, 1);
    xbuf_format_release(f);

    f = parse("&T{i:a:d:b:}");
    const xbuf_type *s = root(f)->target;
    cr_assert_eq(s->kind, XBUF_KIND_STRUCT);
    cr_assert(s->braces);
    cr_assert_eq(s->itemsize, 16);
    assert_field(s, 0, "a", 0, XBUF_KIND_INT);
    assert_field(s, 1, "b", 8, XBUF_KIND_FLOAT);
    cr_assert_eq(root(f)->itemsize, PTRSIZE);
    xbuf_format_release(f);

    f = parse("&(2,3)h");
    const ptrdiff_t s23[] = {2, 3};
    assert_shape(root(f)->target, 2, s23);
    xbuf_format_release(f);

    f = parse("3&i"); /* an array of pointers */
    const ptrdiff_t s3[] = {3};
    assert_shape(root(f), 1, s3);
    cr_assert_eq(root(f)->base->kind, XBUF_KIND_POINTER);
    cr_assert_eq(root(f)->itemsize, 3 * PTRSIZE);
    xbuf_format_release(f);
}

Test(pointers, pointer_does_not_leak_its_targets_mode)
{
    /* After "&>i" the mode is '@' again: the next i is native and aligned. */
    xbuf_format *f = parse("&>ii");
    assert_field(root(f), 0, NULL, 0, XBUF_KIND_POINTER);
    assert_field(root(f), 1, NULL, PTRSIZE, XBUF_KIND_INT);
    assert_leaf(field(root(f), 1)->type, XBUF_KIND_INT, 'i', 4, 4, HOST_ORDER, 1);
    cr_assert(field(root(f), 1)->aligned);
    cr_assert_eq(root(f)->itemsize, PTRSIZE + 4);
    xbuf_format_release(f);

    f = parse("b&T{>i}h"); /* not even through a struct's closing brace */
    assert_field(root(f), 1, NULL, PTRSIZE, XBUF_KIND_POINTER);
    assert_field(root(f), 2, NULL, 2 * PTRSIZE, XBUF_KIND_INT);
    cr_assert_eq(field(root(f), 2)->type->byteorder, HOST_ORDER);
    xbuf_format_release(f);
}

Test(functions, function_pointers)
{
    xbuf_format *f = parse("X{}");
    assert_leaf(root(f), XBUF_KIND_FUNCTION, 'X', P(sizeof(function_pointer)),
                P(alignof(function_pointer)), HOST_ORDER, 1);
    cr_assert_eq(root(f)->nfields, 0);
    cr_assert_null(root(f)->target);
    xbuf_format_release(f);

    f = parse("X{ii->d}");
    cr_assert_eq(root(f)->kind, XBUF_KIND_FUNCTION);
    cr_assert_eq(root(f)->nfields, 2);
    assert_field(root(f), 0, NULL, 0, XBUF_KIND_INT);
    assert_field(root(f), 1, NULL, 4, XBUF_KIND_INT);
    cr_assert_not_null(root(f)->target);
    assert_leaf(root(f)->target, XBUF_KIND_FLOAT, 'd', 8, 8, HOST_ORDER, 1);
    cr_assert_eq(root(f)->itemsize, P(sizeof(function_pointer)));
    xbuf_format_release(f);

    f = parse("X{->d}");
    cr_assert_eq(root(f)->nfields, 0);
    cr_assert_eq(root(f)->target->code, 'd');
    xbuf_format_release(f);

    f = parse("X{i:a:d:b:->&i}");
    assert_field(root(f), 0, "a", 0, XBUF_KIND_INT);
    assert_field(root(f), 1, "b", 8, XBUF_KIND_FLOAT);
    cr_assert_eq(root(f)->target->kind, XBUF_KIND_POINTER);
    xbuf_format_release(f);

    f = parse("X{>i}i"); /* X{} does not leak the mode of its arguments */
    assert_field(root(f), 1, NULL, P(sizeof(function_pointer)), XBUF_KIND_INT);
    cr_assert_eq(field(root(f), 1)->type->byteorder, HOST_ORDER);
    cr_assert_eq(field(root(f), 1)->type->alignment, 4);
    xbuf_format_release(f);

    f = parse("&X{i->i}");
    cr_assert_eq(root(f)->target->kind, XBUF_KIND_FUNCTION);
    xbuf_format_release(f);
}

/* ---- structs, names, whitespace, modes across braces ------------------------------ */

Test(structs, nested_structs_and_names)
{
    /* a@0; s = T{b@0, c = T{x@0, d@8} (16, align 8) @8} (24, align 8) @8; z@32. */
    xbuf_format *f = parse("i:a:T{b:b:T{b:x:d:d:}:c:}:s:q:z:");
    const xbuf_type *t = root(f);
    cr_assert_eq(t->kind, XBUF_KIND_STRUCT);
    cr_assert_not(t->braces);
    cr_assert_eq(t->itemsize, 40);
    cr_assert_eq(t->alignment, 8);
    assert_field(t, 0, "a", 0, XBUF_KIND_INT);
    assert_field(t, 1, "s", 8, XBUF_KIND_STRUCT);
    assert_field(t, 2, "z", 32, XBUF_KIND_INT);
    const xbuf_type *s = field(t, 1)->type;
    cr_assert(s->braces);
    cr_assert_eq(s->itemsize, 24);
    cr_assert_eq(s->alignment, 8);
    assert_field(s, 0, "b", 0, XBUF_KIND_INT);
    assert_field(s, 1, "c", 8, XBUF_KIND_STRUCT);
    const xbuf_type *c = field(s, 1)->type;
    cr_assert_eq(c->itemsize, 16);
    assert_field(c, 0, "x", 0, XBUF_KIND_INT);
    assert_field(c, 1, "d", 8, XBUF_KIND_FLOAT);
    cr_assert(field(c, 1)->aligned);
    cr_assert_not(field(c, 0)->aligned, "a one-byte item is not marked aligned");
    xbuf_format_release(f);

    f = parse("i:a b{}:"); /* a name may hold any character but ':' */
    cr_assert_str_eq(field(root(f), 0)->name, "a b{}");
    xbuf_format_release(f);

    f = parse("T{}"); /* an empty struct */
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    cr_assert_eq(root(f)->nfields, 0);
    cr_assert_eq(root(f)->itemsize, 0);
    xbuf_format_release(f);
}

Test(structs, whitespace_between_items)
{
    const char *pairs[][2] = {
        {" i \t d\n", "id"},
        {"T{ i:a: \n d:b: }", "T{i:a:d:b:}"},
        {"< i", "<i"},
        {"( 2 , 3 )i", "(2,3)i"},
        {"\ti\r\v\f", "i"},
        {"X{ i -> d }", "X{i->d}"},
        {"b @ i", "bi"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        xbuf_format *a = parse(pairs[i][0]), *b = parse(pairs[i][1]);
        cr_assert(xbuf_type_equal(root(a), root(b)), "\"%s\" and \"%s\" differ", pairs[i][0],
                  pairs[i][1]);
        xbuf_format_release(a);
        xbuf_format_release(b);
    }
}

Test(structs, byte_order_persists_after_closing_brace)
{
    xbuf_format *f = parse("T{>i}i"); /* the second i is big-endian, unaligned */
    assert_field(root(f), 1, NULL, 4, XBUF_KIND_INT);
    assert_leaf(field(root(f), 1)->type, XBUF_KIND_INT, 'i', 4, 1, XBUF_BIG, 1);
    cr_assert_eq(root(f)->itemsize, 8);
    xbuf_format_release(f);

    f = parse("T{=h}l"); /* '=' persists: l has the standard size 4 */
    assert_field(root(f), 1, NULL, 2, XBUF_KIND_INT);
    cr_assert_eq(field(root(f), 1)->type->itemsize, 4);
    cr_assert_eq(root(f)->itemsize, 6);
    xbuf_format_release(f);

    f = parse("@T{^i}xi"); /* vector: 9, i at 5 */
    assert_field(root(f), 1, NULL, 5, XBUF_KIND_INT);
    cr_assert_eq(root(f)->itemsize, 9);
    xbuf_format_release(f);
}

Test(structs, trailing_padding_only_under_at_at_the_brace)
{
    assert_size("T{ib}", 8, 4);     /* i@0 b@4, '@' at '}': 5 -> 8 */
    assert_size("=T{@i=b}", 5, 4);  /* '=' at '}': stays 5 */
    assert_size("^T{@db}", 16, 8);  /* 9 -> 16 */
    assert_size("^T{@d=b}", 9, 8);  /* 9 */
    assert_size("T{=b@i}", 8, 4);   /* b@0 i@4 */
    assert_size("T{=i@b}", 5, 1);   /* nothing aligned above 1 */
    assert_size("T{d:a:=b:c:}", 9, 8); /* '=' at the brace: no padding (NumPy) */

    xbuf_format *f = parse("T{d:a:=b:c:}");
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    cr_assert(root(f)->braces); /* placed unaligned: the struct is the root */
    cr_assert_eq(root(f)->itemsize, 9);
    xbuf_format_release(f);
}

Test(structs, no_trailing_padding_at_top_level)
{
    assert_size("ib", 5, 4);   /* struct.calcsize('ib') == 5 */
    assert_size("qb", 9, 8);
    assert_size("dbi", 16, 8); /* d@0 b@8 i@12 */
    assert_size("ix", 5, 4);
    assert_size("i7x", 11, 4);
    assert_size("hb", 3, 2);
}

Test(structs, single_unnamed_item_is_the_root)
{
    struct {
        const char *text;
        xbuf_kind kind;
        bool braces;
    } cases[] = {
        {"i", XBUF_KIND_INT, false},       {"T{i}", XBUF_KIND_STRUCT, true},
        {"3i", XBUF_KIND_ARRAY, false},    {"&i", XBUF_KIND_POINTER, false},
        {"X{}", XBUF_KIND_FUNCTION, false}, {"  >d ", XBUF_KIND_FLOAT, false},
        {"Zd", XBUF_KIND_COMPLEX, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xbuf_format *f = parse(cases[i].text);
        cr_assert_eq(root(f)->kind, cases[i].kind, "\"%s\": root kind %d", cases[i].text,
                     (int)root(f)->kind);
        cr_assert_eq(root(f)->braces, cases[i].braces);
        xbuf_format_release(f);
    }
    /* Not unwrapped: a name, trailing padding, a bit field, an offset. */
    const char *wrapped[] = {"i:a:", "ix", "t", "xi"};
    for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0]; i++) {
        xbuf_format *f = parse(wrapped[i]);
        cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT, "\"%s\": root kind %d", wrapped[i],
                     (int)root(f)->kind);
        cr_assert_not(root(f)->braces, "\"%s\" is a top-level list", wrapped[i]);
        cr_assert_eq(root(f)->nfields, 1, "\"%s\"", wrapped[i]);
        xbuf_format_release(f);
    }
    /* A struct closed under '=' is still the root (NumPy unwraps it too). */
    xbuf_format *f = parse("T{i=b}");
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    cr_assert(root(f)->braces);
    cr_assert_eq(root(f)->itemsize, 5);
    xbuf_format_release(f);
}

Test(structs, nesting_64_deep_is_accepted)
{
    char *text = repeat("T{", 64, "i:leaf:", "}");
    xbuf_format *f = parse(text);
    const xbuf_type *t = root(f);
    for (int level = 1; level < 64; level++) {
        cr_assert_eq(t->kind, XBUF_KIND_STRUCT);
        t = field(t, 0)->type;
    }
    assert_field(t, 0, "leaf", 0, XBUF_KIND_INT);
    char printed[4096];
    check_round_trip(text, printed, sizeof printed);
    xbuf_format_release(f);
    free(text);

    text = repeat("&", 63, "i", ""); /* 63 & around i */
    check_round_trip(text, printed, sizeof printed);
    free(text);
    text = repeat("X{", 64, "", "}");
    check_round_trip(text, printed, sizeof printed);
    free(text);
    text = repeat("(1)T{", 64, "i", "}");
    check_round_trip(text, printed, sizeof printed);
    free(text);
}

/* ---- parse errors ------------------------------------------------------------- */

Test(parse_errors, null_arguments)
{
    xbuf_format *out = NULL;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_format_parse(NULL, &out, &err), XBUF_EINVAL);
    cr_assert_null(out);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_format_parse("i", NULL, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_format_parse_n(NULL, 3, &out, &err), XBUF_EINVAL);
    cr_assert_null(out);
    cr_assert_eq(xbuf_format_parse_n("i", 1, NULL, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_format_parse(NULL, &out, NULL), XBUF_EINVAL);
    /* A NULL err is fine on every path. */
    cr_assert_eq(xbuf_format_parse("y", &out, NULL), XBUF_EFORMAT);
    cr_assert_null(out);
    cr_assert_eq(xbuf_format_parse("99999999999999999999i", &out, NULL), XBUF_EOVERFLOW);
    cr_assert_eq(xbuf_format_parse("i", &out, NULL), XBUF_OK);
    xbuf_format_release(out);
}

Test(parse_errors, success_leaves_err_untouched)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    err.code = 12345;
    xbuf_format *out = NULL;
    cr_assert_eq(xbuf_format_parse("T{i:a:}", &out, &err), XBUF_OK);
    cr_assert_eq(err.code, 12345);
    xbuf_format_release(out);
}

Test(parse_errors, empty)
{
    check_error("", XBUF_EFORMAT, 0, "empty format");
    check_error("   ", XBUF_EFORMAT, 3, "empty format");
    check_error("\t\n", XBUF_EFORMAT, 2, "expected at least one item");
    check_error_n("iii", 0, XBUF_EFORMAT, 0, "empty format");
}

Test(parse_errors, unknown_codes)
{
    check_error("y", XBUF_EFORMAT, 0, "expected a format code");
    check_error("iy", XBUF_EFORMAT, 1, "expected a format code");
    check_error("T{iy}", XBUF_EFORMAT, 3, "expected a format code");
    check_error("{i}", XBUF_EFORMAT, 0, "expected a format code");
    check_error("(2)(3)i", XBUF_EFORMAT, 3, "expected a format code");
    check_error("3@i", XBUF_EFORMAT, 1, "expected a format code");
    check_error("3", XBUF_EFORMAT, 1, "found the end");
    check_error("i<", XBUF_EFORMAT, 2, "found the end");
    check_error(":a:", XBUF_EFORMAT, 0, "expected a format code");
}

Test(parse_errors, complex_needs_a_float_code)
{
    check_error("Zi", XBUF_EFORMAT, 1, "expected e, f, d or g after 'Z'");
    check_error("Z", XBUF_EFORMAT, 1, "expected e, f, d or g after 'Z'");
    check_error("ZZf", XBUF_EFORMAT, 1, "expected e, f, d or g after 'Z'");
    check_error("bZx", XBUF_EFORMAT, 2, "expected e, f, d or g after 'Z'");
    check_error("Z&i", XBUF_EFORMAT, 1, "expected e, f, d or g after 'Z'");
}

Test(parse_errors, t_and_x_need_a_brace)
{
    check_error("Ti", XBUF_EFORMAT, 0, "expected '{' after 'T'");
    check_error("T", XBUF_EFORMAT, 0, "expected '{' after 'T'");
    check_error("bT i", XBUF_EFORMAT, 1, "expected '{' after 'T'");
    check_error("Xi", XBUF_EFORMAT, 0, "expected '{' after 'X'");
    check_error("iX", XBUF_EFORMAT, 1, "expected '{' after 'X'");
}

Test(parse_errors, unbalanced_braces)
{
    check_error("T{i", XBUF_EFORMAT, 3, "expected '}' to close 'T{', found the end");
    check_error("T{T{i}", XBUF_EFORMAT, 6, "expected '}' to close 'T{'");
    check_error("T{", XBUF_EFORMAT, 2, "expected '}' to close 'T{'");
    check_error("X{i", XBUF_EFORMAT, 3, "expected '}' to close 'X{', found the end");
    check_error("X{", XBUF_EFORMAT, 2, "expected '}' to close 'X{'");
    check_error("i}", XBUF_EFORMAT, 1, "unbalanced '}'");
    check_error("T{i}}", XBUF_EFORMAT, 4, "unbalanced '}'");
    check_error("}", XBUF_EFORMAT, 0, "unbalanced '}'");
}

Test(parse_errors, names)
{
    check_error("i:abc", XBUF_EFORMAT, 1, "never closed");
    check_error("T{i:abc}", XBUF_EFORMAT, 3, "never closed");
    check_error("i:", XBUF_EFORMAT, 1, "never closed");
    check_error("i::", XBUF_EFORMAT, 2, "empty field name");
    check_error("T{i::}", XBUF_EFORMAT, 4, "empty field name");
    check_error("i:a:i:a:", XBUF_EFORMAT, 6, "duplicate field name 'a'");
    check_error("bT{i:a:i:a:}", XBUF_EFORMAT, 9, "duplicate field name 'a'");
    check_error("X{i:a:d:a:}", XBUF_EFORMAT, 8, "duplicate field name 'a'");
    check_error("i:x:d:y:4x:x:", XBUF_EFORMAT, 11, "duplicate field name 'x'");
    /* The same name in different structs is fine. */
    xbuf_format *f = parse("i:a:T{i:a:}:b:");
    xbuf_format_release(f);
}

Test(parse_errors, shapes)
{
    check_error("(2,)i", XBUF_EFORMAT, 3, "expected a sub-array extent");
    check_error("()i", XBUF_EFORMAT, 1, "expected a sub-array extent");
    check_error("(a)i", XBUF_EFORMAT, 1, "expected a sub-array extent");
    check_error("(2", XBUF_EFORMAT, 2, "expected ',' or ')'");
    check_error("(2;3)i", XBUF_EFORMAT, 2, "expected ',' or ')'");
    check_error("(2 3)i", XBUF_EFORMAT, 3, "expected ',' or ')'");
    check_error("(-1)i", XBUF_EFORMAT, 1, "expected a sub-array extent");
    /* 65 dimensions: the error points into the shape. */
    char *dims = repeat("1,", 64, "1)i", "");
    char *text = malloc(strlen(dims) + 2);
    cr_assert_not_null(text);
    text[0] = '(';
    strcpy(text + 1, dims);
    check_error(text, XBUF_EFORMAT, -1, "more than 64 dimensions");
    xbuf_error err;
    xbuf_format *out = NULL;
    xbuf_format_parse(text, &out, &err);
    cr_assert(err.position >= 129 && err.position <= 130,
              "65th extent is at 129, error at %td", err.position);
    free(text);
    free(dims);
    /* A count adds a dimension: (1 x64)2i has 65. */
    dims = repeat("1,", 63, "1)2i", "");
    text = malloc(strlen(dims) + 2);
    cr_assert_not_null(text);
    text[0] = '(';
    strcpy(text + 1, dims);
    check_error(text, XBUF_EFORMAT, -1, "more than 64 dimensions");
    free(text);
    free(dims);
}

Test(parse_errors, bit_fields_take_no_shape_and_no_pointer)
{
    check_error("(2)t", XBUF_EFORMAT, 0, "a bit field cannot have a sub-array shape");
    check_error("i(2)3t", XBUF_EFORMAT, 1, "a bit field cannot have a sub-array shape");
    check_error("&t", XBUF_EFORMAT, 1, "a pointer cannot point to a bit field");
    check_error("&3t", XBUF_EFORMAT, 1, "a pointer cannot point to a bit field");
    check_error("i&<3t", XBUF_EFORMAT, 2, "a pointer cannot point to a bit field");
}

Test(parse_errors, arrow_only_in_functions)
{
    check_error("i->d", XBUF_EFORMAT, 1, "expected a format code");
    check_error("T{i->d}", XBUF_EFORMAT, 3, "expected a format code");
    check_error("->d", XBUF_EFORMAT, 0, "expected a format code");
    check_error("X{i-d}", XBUF_EFORMAT, 3, "expected '->'");
    check_error("X{i->d->f}", XBUF_EFORMAT, 6, "expected '}' to close 'X{'");
    check_error("X{i->dd}", XBUF_EFORMAT, 6, "expected '}' to close 'X{'");
    check_error("X{->}", XBUF_EFORMAT, 4, "expected a format code");
}

static void check_too_deep(const char *opener, const char *middle, const char *closer,
                           long levels, ptrdiff_t opener_65)
{
    char *text = repeat(opener, levels, middle, closer);
    check_error(text, XBUF_EFORMAT, -1, "deeper than 64 levels");
    /* The error points at the opener of the 65th level (or just past it). */
    xbuf_error err;
    xbuf_format *out = NULL;
    xbuf_format_parse(text, &out, &err);
    cr_assert(err.position >= opener_65 && err.position <= opener_65 + (ptrdiff_t)strlen(opener),
              "%ld x \"%s\": error at %td, the 65th opener is at %td", levels, opener,
              err.position, opener_65);
    free(text);
}

Test(parse_errors, nesting_too_deep)
{
    check_too_deep("T{", "i", "}", 65, 128);
    check_too_deep("&", "i", "", 65, 64);
    check_too_deep("X{", "", "}", 65, 128);
    check_too_deep("T{&", "i", "}", 33, 96); /* 33 T{ + 32 & = 65 at offset 3*32 */
    check_too_deep("(1)T{", "i", "}", 65, 64 * 5 + 3);
}

Test(parse_errors, hostile_nesting_fails_cleanly)
{
    check_too_deep("T{", "i", "}", 10000, 128);
    check_too_deep("&", "i", "", 10000, 64);
    check_too_deep("X{", "", "}", 10000, 128);
    check_too_deep("X{&T{", "", "}", 10000, 5 * 21 + 2); /* level 65: the 22nd group's & */
    char *text = repeat("T{", 10000, "", ""); /* no closers at all */
    check_error(text, XBUF_EFORMAT, -1, "deeper than 64 levels");
    free(text);
    text = repeat("(", 10000, "", "");
    check_error(text, XBUF_EFORMAT, 1, "expected a sub-array extent");
    free(text);
}

Test(parse_errors, overflow)
{
    check_error("99999999999999999999i", XBUF_EOVERFLOW, 18, "does not fit in ptrdiff_t");
    check_error("9223372036854775808i", XBUF_EOVERFLOW, 18, "does not fit in ptrdiff_t");
    check_error("(99999999999999999999)i", XBUF_EOVERFLOW, 19, "does not fit in ptrdiff_t");
    check_error("9223372036854775807q", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("(9223372036854775807,2)b", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("9223372036854775807sb", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("4611686018427387904i", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("4611686018427387904u", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("9223372036854775807t", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("9223372036854775807xi", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("9223372036854775807x9223372036854775807x", XBUF_EOVERFLOW, -1,
                "does not fit in ptrdiff_t");
    check_error("(9223372036854775807)T{ii}", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    check_error("T{9223372036854775807sb}", XBUF_EOVERFLOW, -1, "does not fit in ptrdiff_t");
    /* The largest sizes that fit are accepted. */
    assert_size("9223372036854775807s", PTRDIFF_MAX, 1);
    assert_size("9223372036854775807x", PTRDIFF_MAX, 1);
    assert_size("(9223372036854775807)b", PTRDIFF_MAX, 1);
}

Test(parse_errors, nul_inside_counted_input)
{
    check_error_n("i\0i", 3, XBUF_EFORMAT, 1, "NUL");
    check_error_n("\0", 1, XBUF_EFORMAT, 0, "NUL");
    check_error_n("T{i\0}", 5, XBUF_EFORMAT, 3, "NUL");
    check_error_n("i:a\0b:", 6, XBUF_EFORMAT, 1, "never closed");
    check_error_n("Z\0", 2, XBUF_EFORMAT, 1, "after 'Z'");
    check_error_n("3\0i", 3, XBUF_EFORMAT, 1, "expected a format code");
    check_error_n("(2\0)i", 5, XBUF_EFORMAT, 2, "expected ',' or ')'");
    check_error_n("T\0{i}", 5, XBUF_EFORMAT, 0, "expected '{' after 'T'");
}

Test(parse_errors, counted_input_stops_at_its_length)
{
    xbuf_format *f = NULL;
    cr_assert_eq(xbuf_format_parse_n("iii", 1, &f, NULL), XBUF_OK);
    cr_assert_eq(root(f)->kind, XBUF_KIND_INT);
    xbuf_format_release(f);
    cr_assert_eq(xbuf_format_parse_n("T{i}xyz", 4, &f, NULL), XBUF_OK);
    cr_assert_eq(root(f)->kind, XBUF_KIND_STRUCT);
    cr_assert_eq(root(f)->itemsize, 4);
    xbuf_format_release(f);
    /* A format cut inside a name or before a brace is an error, not a read
     * past the length (the bytes are not NUL-terminated). */
    const char buf[8] = {'T', '{', 'i', ':', 'a', ':', '}', 'Q'};
    check_error_n(buf, 6, XBUF_EFORMAT, 6, "expected '}' to close 'T{', found the end");
    check_error_n(buf, 5, XBUF_EFORMAT, 3, "never closed");
    check_error_n(buf, 1, XBUF_EFORMAT, 0, "expected '{' after 'T'");
    cr_assert_eq(xbuf_format_parse_n(buf, 7, &f, NULL), XBUF_OK);
    cr_assert_str_eq(field(root(f), 0)->name, "a");
    xbuf_format_release(f);
}

/* ---- allocation failure -------------------------------------------------------- */

typedef struct parse_ctx {
    const char *text;
    xbuf_format *out;
} parse_ctx;

static int parse_run(void *ctx)
{
    parse_ctx *c = ctx;
    return xbuf_format_parse(c->text, &c->out, NULL);
}

static const char *parse_after_failure(void *ctx)
{
    parse_ctx *c = ctx;
    return c->out == NULL ? NULL : "*out is not NULL after XBUF_ENOMEM";
}

static void parse_teardown(void *ctx)
{
    parse_ctx *c = ctx;
    xbuf_format_release(c->out);
    c->out = NULL;
}

static long sweep_parse(const char *text)
{
    failing_alloc_install(true);
    parse_ctx ctx = {text, NULL};
    failing_alloc_op op = {NULL, parse_run, parse_after_failure, parse_teardown, &ctx, 0};
    failing_alloc_report report;
    int rc = failing_alloc_sweep(&op, &report);
    cr_assert_eq(rc, 0, "\"%.60s\": %s", text, report.message);
    cr_assert_eq(failing_alloc_live_blocks(), 0, "blocks still live after the sweep");
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
    return report.points;
}

/* i:f0000: ... 500 named ints: several arena chunks and large field arrays. */
static char *many_fields(int n)
{
    char *text = malloc((size_t)n * 10 + 1);
    cr_assert_not_null(text);
    char *p = text;
    for (int i = 0; i < n; i++)
        p += sprintf(p, "i:f%04d:", i);
    return text;
}

Test(alloc_failure, parse_simple)
{
    long points = sweep_parse("i");
    cr_assert_geq(points, 2, "parsing allocates the format and its arena");
    sweep_parse("3t5t:b:B2t");
    sweep_parse("i:a:d:b:");
}

Test(alloc_failure, parse_nested)
{
    sweep_parse("T{b:a:xxxi:b:T{b:f0:=i:f1:}:sub:xxxi:c:}");
    sweep_parse("X{i:a:&T{d:x:(2,3)h:y:}:b:->&&<d}3T{i=b}");
}

Test(alloc_failure, parse_many_fields)
{
    char *text = many_fields(500);
    long points = sweep_parse(text);
    cr_assert_geq(points, 10, "500 fields should need several arena chunks, got %ld points",
                  points);
    free(text);
    text = repeat("T{i:a:", 40, "d:leaf:", "}:s:");
    sweep_parse(text);
    free(text);
}

Test(alloc_failure, parse_errors_free_everything)
{
    /* Errors found late free what was built: no leaks without failures either. */
    failing_alloc_install(true);
    const char *bad[] = {"i:a:d:b:T{i", "T{i:a:i:a:}", "9223372036854775807sb", "X{i->d->f}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xbuf_format *out = NULL;
        cr_assert_lt(xbuf_format_parse(bad[i], &out, NULL), 0);
        cr_assert_eq(failing_alloc_live_blocks(), 0, "\"%s\" leaked", bad[i]);
    }
    char *text = many_fields(500);
    strcat(text, "i:f0007:"); /* a duplicate after 500 fields */
    xbuf_format *out = NULL;
    cr_assert_eq(xbuf_format_parse(text, &out, NULL), XBUF_EFORMAT);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
    free(text);
}

typedef struct size_ctx {
    const char *text;
} size_ctx;

static int size_run(void *ctx)
{
    size_ctx *c = ctx;
    ptrdiff_t itemsize = -1, alignment = -1;
    return xbuf_format_size(c->text, &itemsize, &alignment, NULL);
}

Test(alloc_failure, format_size)
{
    failing_alloc_install(false);
    size_ctx ctx = {"T{i:a:T{d:b:}:c:}3t"};
    failing_alloc_op op = {NULL, size_run, NULL, NULL, &ctx, 0};
    failing_alloc_report report;
    cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "%s", report.message);
    cr_assert_geq(report.points, 2);
}

static int count_leaves(const xbuf_leaf *leaf, void *context)
{
    (void)leaf;
    ++*(long *)context;
    return 0;
}

typedef struct walk_ctx {
    const xbuf_type *type;
    long leaves;
} walk_ctx;

static int walk_run(void *ctx)
{
    walk_ctx *c = ctx;
    c->leaves = 0;
    return xbuf_type_walk(c->type, count_leaves, &c->leaves, NULL);
}

Test(alloc_failure, walk_path_buffer)
{
    failing_alloc_install(true);
    /* Long names and deep paths make the path buffer grow several times. */
    xbuf_format *f = parse("T{i:a_rather_long_field_name_to_grow_the_path:T{(2,3)d:"
                           "another_long_name_for_the_inner_member:}:nested_struct_member:}"
                           ":outermost:i");
    walk_ctx ctx = {root(f), 0};
    failing_alloc_op op = {NULL, walk_run, NULL, NULL, &ctx, 0};
    failing_alloc_report report;
    cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "%s", report.message);
    cr_assert_geq(report.points, 3, "the path buffer should grow more than once");
    cr_assert_eq(ctx.leaves, 8); /* the last (clean) run saw every leaf */
    xbuf_format_release(f);
    cr_assert_eq(failing_alloc_live_blocks(), 0);

    /* Same without a realloc hook (emulated by malloc + copy + free). */
    failing_alloc_install(false);
    f = parse("T{i:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:}:bbbbbbbbbbbbbbbbbbbbbbbbb:");
    ctx.type = root(f);
    cr_assert_eq(failing_alloc_sweep(&op, &report), 0, "%s", report.message);
    xbuf_format_release(f);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
}

/* ---- reference counting ---------------------------------------------------------- */

Test(refcount, retain_release_and_last_release_frees)
{
    failing_alloc_install(true);
    xbuf_format *f = parse("T{i:a:d:b:}");
    size_t live = failing_alloc_live_blocks();
    cr_assert_gt(live, 0);
    cr_assert_eq(xbuf_format_retain(f), f);
    cr_assert_eq(xbuf_format_retain(f), f);
    cr_assert_eq(failing_alloc_live_blocks(), live, "retain does not allocate");
    xbuf_format_release(f);
    xbuf_format_release(f);
    cr_assert_eq(failing_alloc_live_blocks(), live, "a reference is still held");
    cr_assert_eq(root(f)->itemsize, 16, "the tree is still readable");
    cr_assert_str_eq(field(root(f), 1)->name, "b");
    xbuf_format_release(f);
    cr_assert_eq(failing_alloc_live_blocks(), 0, "the last release frees everything");
    cr_assert_eq(failing_alloc_live_bytes(), 0);
    cr_assert_eq(failing_alloc_errors(), 0, "%s", failing_alloc_first_error());
}

Test(refcount, null_safe)
{
    cr_assert_null(xbuf_format_retain(NULL));
    xbuf_format_release(NULL);
    cr_assert_null(xbuf_format_type(NULL));
}

typedef struct share_ctx {
    xbuf_format *format;
    int rounds;
} share_ctx;

static void *share_thread(void *arg)
{
    share_ctx *c = arg;
    for (int i = 0; i < c->rounds; i++) {
        xbuf_format *mine = xbuf_format_retain(c->format);
        if (xbuf_format_type(mine)->itemsize != 16)
            return (void *)1;
        xbuf_format_release(mine);
    }
    return NULL;
}

Test(refcount, shared_between_threads)
{
    failing_alloc_install(true);
    xbuf_format *f = parse("T{i:a:d:b:}");
    share_ctx ctx = {f, 20000};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, share_thread, &ctx), 0);
    for (int i = 0; i < 4; i++) {
        void *result = NULL;
        cr_assert_eq(pthread_join(threads[i], &result), 0);
        cr_assert_null(result);
    }
    cr_assert_gt(failing_alloc_live_blocks(), 0);
    xbuf_format_release(f);
    cr_assert_eq(failing_alloc_live_blocks(), 0);
}

/* ---- xbuf_format_size ------------------------------------------------------------- */

Test(format_size, sizes_and_null_outputs)
{
    ptrdiff_t itemsize = -1, alignment = -1;
    cr_assert_eq(xbuf_format_size("T{ib}", &itemsize, &alignment, NULL), XBUF_OK);
    cr_assert_eq(itemsize, 8);
    cr_assert_eq(alignment, 4);
    cr_assert_eq(xbuf_format_size("=i", &itemsize, &alignment, NULL), XBUF_OK);
    cr_assert_eq(itemsize, 4);
    cr_assert_eq(alignment, 1);
    cr_assert_eq(xbuf_format_size("ix", &itemsize, NULL, NULL), XBUF_OK);
    cr_assert_eq(itemsize, 5);
    alignment = -1;
    cr_assert_eq(xbuf_format_size("d", NULL, &alignment, NULL), XBUF_OK);
    cr_assert_eq(alignment, P(alignof(double)));
    cr_assert_eq(xbuf_format_size("3T{i=b}", NULL, NULL, NULL), XBUF_OK);
}

Test(format_size, errors)
{
    xbuf_error err;
    xbuf_error_clear(&err);
    ptrdiff_t itemsize = -1;
    cr_assert_eq(xbuf_format_size("iy", &itemsize, NULL, &err), XBUF_EFORMAT);
    cr_assert_eq(err.position, 1);
    assert_contains(err.message, "expected a format code");
    cr_assert_eq(xbuf_format_size(NULL, &itemsize, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(xbuf_format_size("", NULL, NULL, NULL), XBUF_EFORMAT);
    cr_assert_eq(xbuf_format_size("9223372036854775807q", NULL, NULL, &err), XBUF_EOVERFLOW);
}

/* ---- the printer ------------------------------------------------------------------ */

Test(print, canonical_text)
{
    if (HOST_ORDER != XBUF_LITTLE || sizeof(long) != 8 || sizeof(void *) != 8)
        cr_skip_test("the expected strings are for a little-endian LP64 host");
    assert_prints("i", "@i");
    assert_prints("=i", "<i");  /* '=' is '<' here */
    assert_prints("<i", "<i");
    assert_prints("!i", ">i");  /* '!' is '>' */
    assert_prints("^i", "<i");  /* same size, no alignment: the same type as <i */
    assert_prints("^l", "^l");  /* native 8 bytes, unaligned: only '^' makes that */
    assert_prints("=l", "<l");
    assert_prints("3i", "(3)@i");
    assert_prints("(2)3i", "(2,3)@i");
    assert_prints("(2,3)>d", "(2,3)>d");
    assert_prints("=bi", "@b<i"); /* b is the same under '@' */
    assert_prints("b3xi", "@bi"); /* the gap is alignment */
    assert_prints("=b3xi", "@b<3xi");
    assert_prints("ixx", "@i2x");
    assert_prints("b0i", "@b(0)i");
    assert_prints("10s", "@10s");
    assert_prints("4x:a:", "@4x:a:");
    assert_prints("T{i:a:d:b:}", "@T{i:a:d:b:}");
    assert_prints("T{d:a:=b:c:}", "@T{d:a:b:c:^0x}"); /* leave '@' before the brace */
    assert_prints("3T{i=b}", "(3)@T{ib^0x}"); /* "^0x" keeps '@' off the brace */
    assert_prints("b<T{@i}", "@bT{i}");
    assert_prints("&&<d", "@&&<d");
    assert_prints("&>ii", "@&>ii");
    assert_prints("X{ii->d}", "@X{ii->d}");
    assert_prints("<Zf", "<Zf");
    assert_prints("3t5t:b:B2t", "@3t5t:b:B2t");
    assert_prints("4tx4t", "@4t0xx4t"); /* 0x ends the run, x is the gap */
    assert_prints("x3T{xi}", "@4x(3)T{4xi}");
}

Test(print, same_meaning_prints_the_same)
{
    const char *groups[][4] = {
        {"=i", "<i", "^i", NULL},
        {"!d", ">d", NULL, NULL},
        {"bi", "b3xi", "@bi", " b i "},
        {"3i", "(3)i", "@(3)i", NULL},
        {"(2)3i", "(2,3)i", "( 2,3 ) i", NULL},
        {"=b3xi", "<bxxxi", "<b3x<i", NULL},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        char first[256], other[256];
        check_round_trip(groups[g][0], first, sizeof first);
        for (size_t i = 1; i < 4 && groups[g][i] != NULL; i++) {
            check_round_trip(groups[g][i], other, sizeof other);
            cr_assert_str_eq(other, first, "\"%s\" printed \"%s\", \"%s\" printed \"%s\"",
                             groups[g][i], other, groups[g][0], first);
        }
    }
}

Test(print, round_trip_tricky_formats)
{
    const char *formats[] = {
        "T{i=b}", "=T{@i=b}", "^T{@i=b}b", "&(3)^T{@i=b}", "b<T{@i}", "3T{i=b}",
        "T{d:a:=b:c:}", "T{b:a:xxxi:b:T{b:f0:=i:f1:}:sub:xxxi:c:}", "@T{^i}xi",
        "T{=h:x:@d:y:}", "<T{bi}", "x3T{xi}", "^x3T{xi}", "(3)T{ix}",
        "b3x4t", "4tx4t", "3t:a:0x3t:b:", "i4t", "b4x3t5t:b:B2t", "7t7t7t", "T{b5t:a:}3t",
        "&i", "&&<d", "&T{i:a:d:b:}", "&>ii", "<&>i", "X{}", "X{ii->d}", "X{i:a:d:b:->&i}",
        "X{>i}i", ">X{i}", "&X{i->i}", "X{3t5t}",
        "0i", "b0i", "i0q", "0s", "10s", "3p", "2u", ">3w", "4x:a:", "i4x:pad:d", "4x", "x",
        "ix", "i7x", "(2)10s", "(2,3)3s", "( 2 , 3 )>d", "Zf", "Ze", "<Zd", "^Zg", "g", "=g",
        "?", "c", "O", "P", "=n", "<N", "T{}", "T{}i", "i:a b{}:", "2T{bi}",
        "T{(2,2)i:a:}", "(1)T{(2)T{h:x:}:y:b}", "T{=b@i}", "T{=i@b}", "^T{@db}b",
        "T{i:a:T{b:b:T{b:x:d:d:}:c:}:s:q:z:}", "=T{@d}b", "T{@d=b}@b", "^(2)T{@i=b}",
        "b^(2)T{@i=b}", "T{^(2)T{@i=b}}", "9223372036854775807s", "T{3T{i=b}:a:=b:b:}",
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        char printed[4096];
        check_round_trip(formats[i], printed, sizeof printed);
    }
}

/* A small deterministic generator of valid formats (LCG, fixed seed). */
typedef struct gen {
    unsigned long long state;
    char text[8192];
    size_t length;
    int names;
} gen;

static unsigned gen_next(gen *g, unsigned n)
{
    g->state = g->state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((g->state >> 33) % n);
}

static void gen_put(gen *g, const char *s)
{
    size_t n = strlen(s);
    cr_assert_lt(g->length + n, sizeof g->text);
    memcpy(g->text + g->length, s, n + 1);
    g->length += n;
}

enum { NO_BITS = 1, NO_PADDING = 2, NO_NAME = 4 };

static void gen_item(gen *g, int depth, int flags);

static void gen_list(gen *g, int depth, int items)
{
    for (int i = 0; i < items; i++)
        gen_item(g, depth, 0);
}

/* One item: optional modes or whitespace, an optional shape or count, a
 * code, T{}, &, X{}, and an optional (unique) name.  Flags keep out what
 * cannot stand there: bits behind & or a shape, names on a pointer's
 * target, and padding or bits as a function's result. */
static void gen_item(gen *g, int depth, int flags)
{
    static const char *modes[] = {"", "", "", "@", "=", "<", ">", "!", "^", " "};
    static const char codes[] = "xcbB?hHiIlLqQnNefdgspPuwOt";
    char tmp[64];
    gen_put(g, modes[gen_next(g, 10)]);
    unsigned prefix = gen_next(g, 12);
    if (prefix == 0 && depth < 4)
        gen_put(g, gen_next(g, 2) ? "(2)" : "(2,3)");
    else if (prefix == 1)
        gen_put(g, gen_next(g, 2) ? "0" : "3");
    unsigned c = gen_next(g, depth < 4 ? 30 : 26);
    if (c < 26 && codes[c] == 't' && ((flags & NO_BITS) || prefix == 0))
        c = 7; /* 'i' */
    if (c < 26 && codes[c] == 'x' && (flags & NO_PADDING))
        c = 2; /* 'b' */
    if (c < 26) {
        if (prefix != 1 && (codes[c] == 't' || codes[c] == 'x' || codes[c] == 's'))
            snprintf(tmp, sizeof tmp, "%u%c", 1 + gen_next(g, 12), codes[c]);
        else
            snprintf(tmp, sizeof tmp, "%c", codes[c]);
        gen_put(g, tmp);
    } else if (c == 26) {
        snprintf(tmp, sizeof tmp, "Z%c", "efdg"[gen_next(g, 4)]);
        gen_put(g, tmp);
    } else if (c == 27) {
        gen_put(g, "T{");
        gen_list(g, depth + 1, (int)gen_next(g, 4) + 1);
        gen_put(g, "}");
    } else if (c == 28) {
        gen_put(g, "&");
        gen_item(g, depth + 1, NO_BITS | NO_NAME);
    } else {
        gen_put(g, "X{");
        gen_list(g, depth + 1, (int)gen_next(g, 3));
        if (gen_next(g, 2)) {
            gen_put(g, "->");
            gen_item(g, depth + 1, NO_BITS | NO_PADDING | NO_NAME);
        }
        gen_put(g, "}");
    }
    if (!(flags & NO_NAME) && gen_next(g, 3) == 0) {
        snprintf(tmp, sizeof tmp, ":n%d:", g->names++);
        gen_put(g, tmp);
    }
}

Test(print, round_trip_generated_formats)
{
    gen g = {.state = 20240607};
    for (int i = 0; i < 20000; i++) {
        g.length = 0;
        g.text[0] = '\0';
        g.names = 0;
        gen_list(&g, 0, 1 + (int)gen_next(&g, 5));
        /* A format that is nothing but zero-size padding has its own test. */
        xbuf_format *f = parse(g.text);
        bool empty = root(f)->itemsize == 0 && root(f)->kind == XBUF_KIND_STRUCT &&
                     root(f)->nfields == 0 && !root(f)->braces;
        xbuf_format_release(f);
        if (empty)
            continue;
        char printed[8192];
        check_round_trip(g.text, printed, sizeof printed);
    }
}

Test(print, truncation_reports_the_needed_length)
{
    xbuf_format *f = parse("T{i:a:d:b:}");
    const char *expected = "@T{i:a:d:b:}";
    size_t full = strlen(expected);
    char buf[32];
    size_t length = 0;
    xbuf_error err;
    for (size_t size = 1; size <= full; size++) {
        memset(buf, 'Z', sizeof buf);
        length = 0;
        xbuf_error_clear(&err);
        int rc = xbuf_type_print(root(f), buf, size, &length, &err);
        cr_assert_eq(rc, XBUF_ERANGE, "size %zu: rc %d", size, rc);
        cr_assert_eq(err.code, XBUF_ERANGE);
        cr_assert_eq(length, full, "size %zu: *length %zu, expected %zu", size, length, full);
        cr_assert_eq(buf[size - 1], '\0', "size %zu: not NUL-terminated", size);
        cr_assert_eq(strncmp(buf, expected, size - 1), 0, "size %zu: prefix \"%s\"", size, buf);
        cr_assert_eq(strlen(buf), size - 1);
        for (size_t i = size; i < sizeof buf; i++)
            cr_assert_eq(buf[i], 'Z', "size %zu: byte %zu written past the buffer", size, i);
    }
    memset(buf, 'Z', sizeof buf);
    cr_assert_eq(xbuf_type_print(root(f), buf, full + 1, &length, NULL), XBUF_OK);
    cr_assert_str_eq(buf, expected);
    cr_assert_eq(length, full);
    cr_assert_eq(xbuf_type_print(root(f), buf, sizeof buf, NULL, NULL), XBUF_OK,
                 "length may be NULL");
    xbuf_format_release(f);
}

Test(print, measure_with_size_zero)
{
    xbuf_format *f = parse("X{ii->d}");
    size_t length = 0;
    int rc = xbuf_type_print(root(f), NULL, 0, &length, NULL);
    cr_assert_eq(rc, XBUF_ERANGE, "measuring reports that nothing fits");
    cr_assert_eq(length, strlen("@X{ii->d}"));
    char buf[1] = {'Z'};
    rc = xbuf_type_print(root(f), buf, 0, &length, NULL);
    cr_assert_eq(rc, XBUF_ERANGE);
    cr_assert_eq(buf[0], 'Z', "size 0: buf is not written");
    xbuf_format_release(f);
}

Test(print, invalid_arguments)
{
    char buf[16];
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_type_print(NULL, buf, sizeof buf, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    xbuf_format *f = parse("i");
    cr_assert_eq(xbuf_type_print(root(f), NULL, 8, NULL, &err), XBUF_EINVAL);
    xbuf_format_release(f);
}

/* Hand-built nodes (xbuf_type is a plain struct). */
static xbuf_type leaf_int(void)
{
    xbuf_type t;
    memset(&t, 0, sizeof t);
    t.kind = XBUF_KIND_INT;
    t.code = 'i';
    t.byteorder = HOST_ORDER;
    t.native_size = true;
    t.itemsize = 4;
    t.alignment = 4;
    t.count = 1;
    return t;
}

static xbuf_type struct_of(const xbuf_field *fields, ptrdiff_t n, ptrdiff_t itemsize,
                           ptrdiff_t alignment, bool braces)
{
    xbuf_type t;
    memset(&t, 0, sizeof t);
    t.kind = XBUF_KIND_STRUCT;
    t.code = 'T';
    t.byteorder = XBUF_NO_ORDER;
    t.braces = braces;
    t.itemsize = itemsize;
    t.alignment = alignment;
    t.count = 1;
    t.nfields = n;
    t.fields = fields;
    return t;
}

static void assert_unprintable(const xbuf_type *t, const char *needle)
{
    char buf[256];
    memset(buf, 'Z', sizeof buf);
    xbuf_error err;
    xbuf_error_clear(&err);
    size_t length = 12345;
    int rc = xbuf_type_print(t, buf, sizeof buf, &length, &err);
    cr_assert_eq(rc, XBUF_EUNSUPPORTED, "rc %d (%s), expected XBUF_EUNSUPPORTED", rc,
                 rc == 0 ? buf : err.message);
    cr_assert_eq(err.code, XBUF_EUNSUPPORTED);
    assert_contains(err.message, needle);
    cr_assert_not_null(memchr(buf, '\0', sizeof buf), "buf is not NUL-terminated");
}

Test(print, hand_built_trees_that_print)
{
    xbuf_type i4 = leaf_int();
    xbuf_format *f = parse("i");
    cr_assert(xbuf_type_equal(&i4, root(f)));
    xbuf_format_release(f);
    char buf[64];
    print_into(&i4, buf, sizeof buf, "hand-built i");
    cr_assert_str_eq(buf, "@i");

    xbuf_type b1;
    memset(&b1, 0, sizeof b1);
    b1.kind = XBUF_KIND_INT;
    b1.code = 'b';
    b1.byteorder = XBUF_NO_ORDER;
    b1.itemsize = 1;
    b1.alignment = 1;
    b1.count = 1;
    xbuf_field fields[] = {{"a", 0, &i4, true}, {"b", 4, &b1, false}};
    xbuf_type s = struct_of(fields, 2, 8, 4, true);
    f = parse("T{i:a:b:b:}");
    cr_assert(xbuf_type_equal(&s, root(f)));
    print_into(&s, buf, sizeof buf, "hand-built T{i:a:b:b:}");
    cr_assert_str_eq(buf, "@T{i:a:b:b:}");
    xbuf_format_release(f);
}

Test(print, hand_built_trees_that_cannot_print)
{
    xbuf_type i4 = leaf_int();

    xbuf_field colon[] = {{"a:b", 0, &i4, true}};
    xbuf_type s = struct_of(colon, 1, 4, 4, true);
    assert_unprintable(&s, "':'");

    xbuf_field empty[] = {{"", 0, &i4, true}};
    s = struct_of(empty, 1, 4, 4, true);
    assert_unprintable(&s, "empty");

    xbuf_field backwards[] = {{"a", 4, &i4, true}, {"b", 0, &i4, true}};
    s = struct_of(backwards, 2, 8, 4, true);
    assert_unprintable(&s, "backwards");

    xbuf_field overlapping[] = {{"a", 0, &i4, true}, {"b", 2, &i4, false}};
    s = struct_of(overlapping, 2, 8, 4, true);
    assert_unprintable(&s, "overlap");

    xbuf_field past[] = {{"a", 0, &i4, true}};
    s = struct_of(past, 1, 2, 4, false); /* a top-level list smaller than its member */
    assert_unprintable(&s, "past the itemsize");

    xbuf_type odd = leaf_int();
    odd.alignment = 2; /* no mode aligns an int to 2 */
    assert_unprintable(&odd, "no byte-order character");

    xbuf_type unknown = leaf_int();
    unknown.code = 'y';
    assert_unprintable(&unknown, "cannot be printed");

    xbuf_type pointer;
    memset(&pointer, 0, sizeof pointer);
    pointer.kind = XBUF_KIND_POINTER;
    pointer.code = '&';
    pointer.byteorder = HOST_ORDER;
    pointer.itemsize = PTRSIZE;
    pointer.alignment = PTRALIGN;
    pointer.count = 1;
    assert_unprintable(&pointer, "pointer without a target");

    ptrdiff_t shape[] = {2};
    xbuf_type inner;
    memset(&inner, 0, sizeof inner);
    inner.kind = XBUF_KIND_ARRAY;
    inner.code = '(';
    inner.byteorder = XBUF_NO_ORDER;
    inner.itemsize = 8;
    inner.alignment = 4;
    inner.count = 1;
    inner.ndim = 1;
    inner.shape = shape;
    inner.base = &i4;
    xbuf_type outer = inner;
    outer.itemsize = 16;
    outer.base = &inner;
    assert_unprintable(&outer, "cannot be printed");
    xbuf_type no_base = inner;
    no_base.base = NULL;
    assert_unprintable(&no_base, "array without an element type");

    xbuf_type bits;
    memset(&bits, 0, sizeof bits);
    bits.kind = XBUF_KIND_BITS;
    bits.code = 't';
    bits.byteorder = XBUF_NO_ORDER;
    bits.itemsize = 1;
    bits.alignment = 1;
    bits.count = 3;
    bits.bit_offset = 2; /* a run can only start at bit 0 */
    xbuf_field bit_fields[] = {{"a", 0, &bits, false}};
    s = struct_of(bit_fields, 1, 1, 1, false);
    assert_unprintable(&s, "bit field");

    xbuf_field no_type[] = {{"a", 0, NULL, false}};
    s = struct_of(no_type, 1, 4, 1, true);
    assert_unprintable(&s, "without a type");
}

/* Library bugs found while writing these tests: each is one round trip the
 * header promises ("xbuf_format_parse of the result gives a type equal to
 * `type`") that does not hold. */

Test(print, zero_size_format_round_trips)
{
    /* "0x" is valid (struct.calcsize('0x') == 0): an empty list of size 0. */
    char printed[64];
    check_round_trip("0x", printed, sizeof printed);
    check_round_trip("<0x", printed, sizeof printed);
}

Test(parse_errors, function_result_must_be_a_value)
{
    /* Padding (named or not) and bit fields have no value to return: the
     * parser refuses them, pointing at the result. */
    check_error("X{->3x:r:}", XBUF_EFORMAT, 4, "must be a value");
    check_error("X{->3x}", XBUF_EFORMAT, 4, "must be a value");
    check_error("X{->12t}", XBUF_EFORMAT, 4, "must be a value");
    check_error("X{->5t}", XBUF_EFORMAT, 4, "must be a value");
}

/* ---- equality and layout compatibility -------------------------------------------- */

static void assert_relation(const char *a, const char *b, bool equal, bool compatible)
{
    xbuf_format *fa = parse(a), *fb = parse(b);
    cr_assert_eq(xbuf_type_equal(root(fa), root(fb)), equal, "equal(\"%s\", \"%s\") is %d", a,
                 b, !equal);
    cr_assert_eq(xbuf_type_equal(root(fb), root(fa)), equal, "equal is not symmetric");
    cr_assert_eq(xbuf_type_layout_compatible(root(fa), root(fb)), compatible,
                 "layout_compatible(\"%s\", \"%s\") is %d", a, b, !compatible);
    cr_assert_eq(xbuf_type_layout_compatible(root(fb), root(fa)), compatible,
                 "layout_compatible is not symmetric");
    xbuf_format_release(fa);
    xbuf_format_release(fb);
}

Test(equality, equal_and_compatible)
{
    assert_relation("i", "i", true, true);
    assert_relation("T{i:a:d:b:}", "T{i:a:d:b:}", true, true);
    assert_relation("3i", "iii", false, true);
    assert_relation("<i", ">i", false, false);
    assert_relation("l", "q", false, true); /* both 8-byte little-endian ints here */
    assert_relation("=l", "l", false, false);
    assert_relation("=i", "<i", HOST_ORDER == XBUF_LITTLE, HOST_ORDER == XBUF_LITTLE);
    assert_relation("^i", "<i", HOST_ORDER == XBUF_LITTLE, HOST_ORDER == XBUF_LITTLE);
    assert_relation("i", "=i", false, true); /* alignment differs, bytes do not */
    assert_relation("bi", "b3xi", true, true);
    assert_relation("=bi", "bi", false, false);
    assert_relation("2i", "(2)i", true, true);
    assert_relation("(2)3i", "(2,3)i", true, true);
    assert_relation("(2,3)i", "(6)i", false, true);
    assert_relation("(2,3)i", "(3,2)i", false, true);
    assert_relation("T{ii}", "ii", false, true);
    assert_relation("T{i}i", "iT{i}", false, true);
    assert_relation("f", "i", false, false);
    assert_relation("f", "I", false, false);
    assert_relation("d", "q", false, false);
    assert_relation("e", "h", false, false);
    assert_relation("i", "I", false, false);
    assert_relation("Zf", "ff", false, false);
    assert_relation("4s", "4c", false, false);
    assert_relation("4s", "2s2s", false, false);
    assert_relation("3t5t", "8t", false, false);
    assert_relation("3t5t", "3t5t", true, true);
    assert_relation("ii", "id", false, false);
}

Test(equality, names_matter_for_equality_only)
{
    assert_relation("i:a:i:b:", "i:c:i:d:", false, true);
    assert_relation("T{i:a:}", "T{i:b:}", false, true);
    assert_relation("T{i:a:}", "T{i}", false, true);
    assert_relation("T{d:x:T{i:y:}:z:}", "T{d:x:T{i:q:}:z:}", false, true);
    assert_relation("X{i:a:}", "X{i:b:}", false, true);
}

Test(equality, null_handling)
{
    xbuf_format *f = parse("i");
    cr_assert(xbuf_type_equal(NULL, NULL));
    cr_assert_not(xbuf_type_equal(root(f), NULL));
    cr_assert_not(xbuf_type_equal(NULL, root(f)));
    cr_assert(xbuf_type_layout_compatible(NULL, NULL));
    cr_assert_not(xbuf_type_layout_compatible(root(f), NULL));
    cr_assert_not(xbuf_type_layout_compatible(NULL, root(f)));
    cr_assert(xbuf_type_equal(root(f), root(f)));
    xbuf_format_release(f);
}

Test(equality, deep_trees)
{
    char *a = repeat("(1)T{", 64, "i", "}");
    char *b = repeat("(1)T{", 64, "I", "}");
    assert_relation(a, a, true, true);
    assert_relation(a, b, false, false);
    free(a);
    free(b);
}

Test(equality, grouping_around_a_single_leaf_is_ignored)
{
    /* "grouping ignored": one int at offset 0 is the same bytes however it
     * is wrapped.  (Both sides must be walked as leaf sequences even when
     * only one of them is a container.) */
    assert_relation("T{i}", "i", false, true);
    assert_relation("i:a:", "i", false, true);
    assert_relation("(1)i", "i", false, true);
}

/* ---- field lookup ----------------------------------------------------------------- */

static void assert_lookup(const xbuf_type *t, const char *path, ptrdiff_t offset, char code)
{
    const xbuf_field *fl = NULL;
    ptrdiff_t at = -1;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_type_field(t, path, &fl, &at, &err);
    cr_assert_eq(rc, XBUF_OK, "lookup of \"%s\": %d %s", path, rc, err.message);
    cr_assert_not_null(fl);
    cr_assert_eq(at, offset, "\"%s\" at %td, expected %td", path, at, offset);
    cr_assert_eq(fl->type->code, code, "\"%s\" has code '%c', expected '%c'", path,
                 fl->type->code, code);
    const char *last = strrchr(path, '.');
    cr_assert_str_eq(fl->name, last ? last + 1 : path);
}

static void assert_lookup_fails(const xbuf_type *t, const char *path, int code,
                                const char *needle)
{
    const xbuf_field *fl = NULL;
    ptrdiff_t at = -1;
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_type_field(t, path, &fl, &at, &err);
    cr_assert_eq(rc, code, "lookup of \"%s\" returned %d (%s), expected %d", path, rc,
                 err.message, code);
    cr_assert_eq(err.code, code);
    assert_contains(err.message, needle);
}

Test(field, names_and_dotted_paths)
{
    xbuf_format *f = parse("i:a:T{b:b:T{b:x:d:d:}:c:}:s:q:z:");
    const xbuf_type *t = root(f);
    assert_lookup(t, "a", 0, 'i');
    assert_lookup(t, "s", 8, 'T');
    assert_lookup(t, "s.b", 8, 'b');
    assert_lookup(t, "s.c", 16, 'T');
    assert_lookup(t, "s.c.x", 16, 'b');
    assert_lookup(t, "s.c.d", 24, 'd');
    assert_lookup(t, "z", 32, 'q');
    /* The offset is optional; the field is the struct's own record. */
    const xbuf_field *fl = NULL;
    cr_assert_eq(xbuf_type_field(t, "s.c", &fl, NULL, NULL), XBUF_OK);
    cr_assert_eq(fl, &field(t, 1)->type->fields[1]);
    cr_assert_eq(fl->offset, 8, "the record holds the offset within its own struct");
    xbuf_format_release(f);

    f = parse("T{i:a:(2)T{h:x:}:arr:}");
    assert_lookup(root(f), "a", 0, 'i');
    assert_lookup(root(f), "arr", 4, '(');
    assert_lookup_fails(root(f), "arr.x", XBUF_ETYPE, "'x'");
    xbuf_format_release(f);
}

Test(field, missing_names)
{
    xbuf_format *f = parse("i:a:T{b:b:T{b:x:d:d:}:c:}:s:q:z:");
    const xbuf_type *t = root(f);
    assert_lookup_fails(t, "nope", XBUF_ERANGE, "'nope'");
    assert_lookup_fails(t, "s.nope", XBUF_ERANGE, "'nope'");
    assert_lookup_fails(t, "s.c.y", XBUF_ERANGE, "'y'");
    assert_lookup_fails(t, "", XBUF_ERANGE, "no field");
    assert_lookup_fails(t, "s.", XBUF_ERANGE, "no field");
    assert_lookup_fails(t, "s..b", XBUF_ERANGE, "no field");
    assert_lookup_fails(t, "A", XBUF_ERANGE, "'A'");
    assert_lookup_fails(t, "ab", XBUF_ERANGE, "'ab'");
    xbuf_format_release(f);
    f = parse("ii:b:");
    assert_lookup_fails(root(f), "f0", XBUF_ERANGE, "'f0'"); /* f<i> names only paths */
    xbuf_format_release(f);
}

Test(field, paths_through_non_structs)
{
    xbuf_format *f = parse("i:a:T{b:b:T{b:x:d:d:}:c:}:s:q:z:");
    assert_lookup_fails(root(f), "a.b", XBUF_ETYPE, "'b'");
    assert_lookup_fails(root(f), "s.c.d.e", XBUF_ETYPE, "'e'");
    xbuf_format_release(f);
    f = parse("i");
    assert_lookup_fails(root(f), "a", XBUF_ETYPE, "not in a struct");
    xbuf_format_release(f);
    f = parse("3T{i:a:}");
    assert_lookup_fails(root(f), "a", XBUF_ETYPE, "not in a struct");
    xbuf_format_release(f);
}

Test(field, null_arguments)
{
    xbuf_format *f = parse("i:a:");
    const xbuf_field *fl = NULL;
    ptrdiff_t at = 0;
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_type_field(NULL, "a", &fl, &at, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_type_field(root(f), NULL, &fl, &at, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_type_field(root(f), "a", NULL, &at, NULL), XBUF_EINVAL);
    cr_assert_eq(xbuf_type_field(root(f), "a", &fl, NULL, NULL), XBUF_OK);
    cr_assert_str_eq(fl->name, "a");
    xbuf_format_release(f);
}

/* ---- the walker ------------------------------------------------------------------- */

typedef struct seen_leaf {
    char path[96];
    ptrdiff_t offset;
    int depth;
    char code;
    xbuf_kind kind;
} seen_leaf;

typedef struct seen {
    int n;
    int stop_at;   /* stop on this leaf (1-based); 0 never */
    int stop_with; /* the value to return then */
    seen_leaf leaves[64];
} seen;

static int record_leaf(const xbuf_leaf *leaf, void *context)
{
    seen *s = context;
    cr_assert_neq(leaf->type->kind, XBUF_KIND_STRUCT);
    cr_assert_neq(leaf->type->kind, XBUF_KIND_ARRAY);
    if (s->n < 64) {
        seen_leaf *l = &s->leaves[s->n];
        snprintf(l->path, sizeof l->path, "%s", leaf->path);
        l->offset = leaf->offset;
        l->depth = leaf->depth;
        l->code = leaf->type->code;
        l->kind = leaf->type->kind;
    }
    s->n++;
    return s->n == s->stop_at ? s->stop_with : 0;
}

static void walk(const char *text, seen *s)
{
    xbuf_format *f = parse(text);
    xbuf_error err;
    xbuf_error_clear(&err);
    int rc = xbuf_type_walk(root(f), record_leaf, s, &err);
    cr_assert_eq(rc, 0, "walking \"%s\": %d %s", text, rc, err.message);
    xbuf_format_release(f);
}

static void assert_seen(const seen *s, int i, const char *path, ptrdiff_t offset, int depth,
                        char code)
{
    cr_assert_lt(i, s->n, "only %d leaves visited", s->n);
    const seen_leaf *l = &s->leaves[i];
    cr_assert_str_eq(l->path, path, "leaf %d: path \"%s\", expected \"%s\"", i, l->path, path);
    cr_assert_eq(l->offset, offset, "leaf %d (%s): offset %td, expected %td", i, path,
                 l->offset, offset);
    cr_assert_eq(l->depth, depth, "leaf %d (%s): depth %d, expected %d", i, path, l->depth,
                 depth);
    cr_assert_eq(l->code, code, "leaf %d (%s): code '%c', expected '%c'", i, path, l->code,
                 code);
}

Test(walk, paths_offsets_depths_in_order)
{
    /* a@0; c = T{b@0, m (2,2)h @2} at 4; the unnamed d is f2, at 16. */
    seen s = {0};
    walk("i:a:T{b:b:(2,2)h:m:}:c:d", &s);
    cr_assert_eq(s.n, 7);
    assert_seen(&s, 0, "a", 0, 0, 'i');
    assert_seen(&s, 1, "c.b", 4, 1, 'b');
    assert_seen(&s, 2, "c.m[0][0]", 6, 1, 'h');
    assert_seen(&s, 3, "c.m[0][1]", 8, 1, 'h');
    assert_seen(&s, 4, "c.m[1][0]", 10, 1, 'h');
    assert_seen(&s, 5, "c.m[1][1]", 12, 1, 'h');
    assert_seen(&s, 6, "f2", 16, 0, 'd');
}

Test(walk, unnamed_fields_arrays_and_roots)
{
    seen s = {0};
    walk("i", &s);
    cr_assert_eq(s.n, 1);
    assert_seen(&s, 0, "", 0, 0, 'i');

    memset(&s, 0, sizeof s);
    walk("3i", &s);
    cr_assert_eq(s.n, 3);
    assert_seen(&s, 0, "[0]", 0, 0, 'i');
    assert_seen(&s, 2, "[2]", 8, 0, 'i');

    memset(&s, 0, sizeof s);
    walk("(2)T{i:a:h:b:}", &s);
    cr_assert_eq(s.n, 4);
    assert_seen(&s, 0, "[0].a", 0, 0, 'i');
    assert_seen(&s, 1, "[0].b", 4, 0, 'h');
    assert_seen(&s, 2, "[1].a", 8, 0, 'i');
    assert_seen(&s, 3, "[1].b", 12, 0, 'h');

    memset(&s, 0, sizeof s);
    walk("bhi", &s);
    assert_seen(&s, 0, "f0", 0, 0, 'b');
    assert_seen(&s, 1, "f1", 2, 0, 'h');
    assert_seen(&s, 2, "f2", 4, 0, 'i');

    memset(&s, 0, sizeof s);
    walk("T{(2,2)i:m:}", &s);
    assert_seen(&s, 2, "m[1][0]", 8, 0, 'i');

    memset(&s, 0, sizeof s);
    walk("T{i:a:T{i:b:}:c:}:s:", &s);
    assert_seen(&s, 0, "s.a", 0, 1, 'i');
    assert_seen(&s, 1, "s.c.b", 4, 2, 'i');

    memset(&s, 0, sizeof s);
    walk("3t5t:b:B2t", &s);
    cr_assert_eq(s.n, 4);
    assert_seen(&s, 0, "f0", 0, 0, 't');
    assert_seen(&s, 1, "b", 0, 0, 't');
    assert_seen(&s, 2, "f2", 1, 0, 'B');
    assert_seen(&s, 3, "f3", 2, 0, 't');

    memset(&s, 0, sizeof s);
    walk("&T{ii}i:p:X{d}", &s); /* pointers and functions are leaves */
    cr_assert_eq(s.n, 3);
    assert_seen(&s, 0, "f0", 0, 0, '&');
    assert_seen(&s, 1, "p", PTRSIZE, 0, 'i');
    assert_seen(&s, 2, "f2", PTRSIZE + 8, 0, 'X');

    memset(&s, 0, sizeof s);
    walk("i0dT{}4x:v:", &s); /* empty arrays and structs have no leaves */
    cr_assert_eq(s.n, 2);
    assert_seen(&s, 1, "v", 8, 0, 'x');
}

Test(walk, early_stop_returns_the_visitors_value)
{
    xbuf_format *f = parse("i:a:T{b:b:(2,2)h:m:}:c:d");
    seen s = {.stop_at = 3, .stop_with = 42};
    cr_assert_eq(xbuf_type_walk(root(f), record_leaf, &s, NULL), 42);
    cr_assert_eq(s.n, 3);
    assert_seen(&s, 2, "c.m[0][0]", 6, 1, 'h');
    seen t = {.stop_at = 1, .stop_with = -77};
    cr_assert_eq(xbuf_type_walk(root(f), record_leaf, &t, NULL), -77);
    cr_assert_eq(t.n, 1);
    seen u = {.stop_at = 7, .stop_with = 1};
    cr_assert_eq(xbuf_type_walk(root(f), record_leaf, &u, NULL), 1);
    cr_assert_eq(u.n, 7);
    xbuf_format_release(f);
}

typedef struct big_walk {
    long n;
    ptrdiff_t last_offset;
    char last_path[32];
    bool ordered;
} big_walk;

static int big_visit(const xbuf_leaf *leaf, void *context)
{
    big_walk *b = context;
    if (b->n > 0 && leaf->offset != b->last_offset + 4)
        b->ordered = false;
    b->last_offset = leaf->offset;
    snprintf(b->last_path, sizeof b->last_path, "%s", leaf->path);
    b->n++;
    return 0;
}

Test(walk, large_array)
{
    xbuf_format *f = parse("(1000)i");
    big_walk b = {0, 0, "", true};
    cr_assert_eq(xbuf_type_walk(root(f), big_visit, &b, NULL), 0);
    cr_assert_eq(b.n, 1000);
    cr_assert(b.ordered, "leaves not visited in memory order");
    cr_assert_eq(b.last_offset, 3996);
    cr_assert_str_eq(b.last_path, "[999]");
    xbuf_format_release(f);

    f = parse("T{(10,10,10)i:grid:}");
    big_walk c = {0, 0, "", true};
    cr_assert_eq(xbuf_type_walk(root(f), big_visit, &c, NULL), 0);
    cr_assert_eq(c.n, 1000);
    cr_assert(c.ordered);
    cr_assert_str_eq(c.last_path, "grid[9][9][9]");
    xbuf_format_release(f);
}

Test(walk, deep_struct)
{
    char *text = repeat("T{", 64, "i:leaf:", "}");
    xbuf_format *f = parse(text);
    seen s = {0};
    cr_assert_eq(xbuf_type_walk(root(f), record_leaf, &s, NULL), 0);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.leaves[0].depth, 63);
    xbuf_format_release(f);
    free(text);
}

Test(walk, null_arguments)
{
    xbuf_format *f = parse("i");
    xbuf_error err;
    xbuf_error_clear(&err);
    cr_assert_eq(xbuf_type_walk(NULL, record_leaf, NULL, &err), XBUF_EINVAL);
    cr_assert_eq(err.code, XBUF_EINVAL);
    cr_assert_eq(xbuf_type_walk(root(f), NULL, NULL, NULL), XBUF_EINVAL);
    xbuf_format_release(f);
}

Test(walk, huge_array_of_empty_items)
{
    /* 3037000500^2 elements of zero bytes: itemsize 0 fits, but the element
     * count does not fit in ptrdiff_t.  The walk must still start with
     * element [0][0] (the visitor stops it there), or the parser must refuse
     * the shape with XBUF_EOVERFLOW. */
    xbuf_format *f = NULL;
    int rc = xbuf_format_parse("(3037000500,3037000500)0s:a:", &f, NULL);
    if (rc == XBUF_EOVERFLOW)
        return;
    cr_assert_eq(rc, XBUF_OK);
    seen s = {.stop_at = 1, .stop_with = 5};
    cr_assert_eq(xbuf_type_walk(root(f), record_leaf, &s, NULL), 5,
                 "the walk did not visit the first element");
    assert_seen(&s, 0, "a[0][0]", 0, 0, 's');
    xbuf_format_release(f);
}

Test(kinds, every_kind_has_a_name)
{
    static const char *const names[] = {"int",    "uint",   "bool",    "float",    "complex",
                                        "char",   "bytes",  "pascal",  "ucs2",     "ucs4",
                                        "bits",   "object", "voidp",   "pointer",  "function",
                                        "void",   "struct", "array"};
    for (int k = XBUF_KIND_INT; k <= XBUF_KIND_ARRAY; k++)
        cr_assert_str_eq(xbuf_kind_name((xbuf_kind)k), names[k - XBUF_KIND_INT]);
    cr_assert_str_eq(xbuf_kind_name((xbuf_kind)0), "unknown");
}
