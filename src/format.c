/*
 * format.c -- the PEP 3118 format parser and layout engine.
 *
 * A recursive-descent parser over the grammar
 *
 *   list   := item*                       (top level, T{...} and X{...} bodies)
 *   item   := ws* mode* shape? mode* count? type (':' name ':')?
 *   type   := code | 'Z' code | '&' prefix-type | 'T{' list '}'
 *           | 'X{' list ('->' item)? '}'
 *   shape  := '(' count (',' count)* ')'
 *
 * Items are placed as they are parsed (the "body" below tracks the offset,
 * the alignment and a run of bit fields), so one pass yields the finished,
 * immutable tree.  Every node lives in the format's arena, so an error
 * anywhere frees everything with one call.  Recursion is bounded by
 * XBUF_FORMAT_MAX_DEPTH.
 *
 * Layout rules (DESIGN.md, "Layout rules", and the vectors in
 * shared/vectors/formats.tsv): '@' aligns each item to its natural
 * alignment, the other modes never align; whether an item is aligned
 * depends on the mode in force after it -- for a T{} the mode at its
 * closing brace, which also decides whether the struct is padded to its
 * alignment (NumPy's reading, which NumPy's exports depend on); the
 * top-level list never gets trailing padding (struct.calcsize).
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "format_internal.h"

/* ---- the arena ---------------------------------------------------------- */

struct arena_chunk {
    arena_chunk *next;
    size_t size; /* bytes in data */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

/* The first chunk fits a short format's few nodes; later ones double, so a
 * long format needs few allocations and a short one touches little memory. */
enum { ARENA_FIRST_CHUNK = 256, ARENA_MAX_CHUNK = 16384 };

void *xbuf_arena_alloc(arena *a, size_t size)
{
    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    arena_chunk *chunk = a->chunks;
    if (chunk == NULL || chunk->size - chunk->used < size) {
        size_t grow = chunk == NULL ? ARENA_FIRST_CHUNK : 2 * chunk->size;
        grow = grow > ARENA_MAX_CHUNK ? ARENA_MAX_CHUNK : grow;
        size_t data = size > grow ? size : grow;
        if (data > SIZE_MAX - sizeof *chunk)
            return NULL;
        chunk = xbuf_malloc(sizeof *chunk + data);
        if (chunk == NULL)
            return NULL;
        chunk->next = a->chunks;
        chunk->size = data;
        chunk->used = 0;
        a->chunks = chunk;
    }
    void *block = chunk->data + chunk->used;
    chunk->used += size;
    memset(block, 0, size);
    return block;
}

void xbuf_arena_free(arena *a)
{
    while (a->chunks != NULL) {
        arena_chunk *next = a->chunks->next;
        xbuf_free(a->chunks, sizeof *a->chunks + a->chunks->size);
        a->chunks = next;
    }
}

/* ---- codes and sizes ---------------------------------------------------- */

typedef struct code_info {
    char code;
    xbuf_kind kind;
    ptrdiff_t standard;   /* struct's standard size; 0: always native */
    ptrdiff_t native;
    ptrdiff_t alignment;  /* natural alignment under '@' */
} code_info;

typedef void (*function_pointer)(void);

#define NATIVE(type) (ptrdiff_t) sizeof(type), (ptrdiff_t)alignof(type)

static const code_info codes[] = {
    {'x', XBUF_KIND_VOID, 1, 1, 1},
    {'c', XBUF_KIND_CHAR, 1, 1, 1},
    {'b', XBUF_KIND_INT, 1, NATIVE(signed char)},
    {'B', XBUF_KIND_UINT, 1, NATIVE(unsigned char)},
    {'?', XBUF_KIND_BOOL, 1, NATIVE(_Bool)},
    {'h', XBUF_KIND_INT, 2, NATIVE(short)},
    {'H', XBUF_KIND_UINT, 2, NATIVE(unsigned short)},
    {'i', XBUF_KIND_INT, 4, NATIVE(int)},
    {'I', XBUF_KIND_UINT, 4, NATIVE(unsigned int)},
    {'l', XBUF_KIND_INT, 4, NATIVE(long)},
    {'L', XBUF_KIND_UINT, 4, NATIVE(unsigned long)},
    {'q', XBUF_KIND_INT, 8, NATIVE(long long)},
    {'Q', XBUF_KIND_UINT, 8, NATIVE(unsigned long long)},
    {'n', XBUF_KIND_INT, 0, NATIVE(ptrdiff_t)},
    {'N', XBUF_KIND_UINT, 0, NATIVE(size_t)},
    {'e', XBUF_KIND_FLOAT, 2, 2, 2},
    {'f', XBUF_KIND_FLOAT, 4, NATIVE(float)},
    {'d', XBUF_KIND_FLOAT, 8, NATIVE(double)},
    {'g', XBUF_KIND_FLOAT, 0, NATIVE(long double)},
    {'s', XBUF_KIND_BYTES, 1, 1, 1},
    {'p', XBUF_KIND_PASCAL, 1, 1, 1},
    {'u', XBUF_KIND_UCS2, 2, 2, 2},
    {'w', XBUF_KIND_UCS4, 4, 4, 4},
    {'t', XBUF_KIND_BITS, 1, 1, 1},
    {'O', XBUF_KIND_OBJECT, 0, NATIVE(void *)},
    {'P', XBUF_KIND_VOIDP, 0, NATIVE(void *)},
    {'&', XBUF_KIND_POINTER, 0, NATIVE(void *)},
    {'X', XBUF_KIND_FUNCTION, 0, NATIVE(function_pointer)},
};

static const code_info *find_code(char code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return &codes[i];
    return NULL;
}

bool xbuf_code_size(char code, bool complex, bool native_size, ptrdiff_t *size,
                    ptrdiff_t *alignment)
{
    const code_info *info = find_code(code);
    if (info == NULL || (complex && info->kind != XBUF_KIND_FLOAT))
        return false;
    bool native = native_size || info->standard == 0;
    *size = (native ? info->native : info->standard) * (complex ? 2 : 1);
    *alignment = info->alignment;
    return true;
}

/* ---- parser state -------------------------------------------------------- */

/* What a byte-order character sets: byte order, sizes, alignment. */
typedef struct mode {
    char order;       /* XBUF_LITTLE or XBUF_BIG */
    bool native_size; /* '@' '^' */
    bool aligned;     /* '@' */
} mode;

typedef struct parser {
    const char *text;
    size_t length;
    size_t pos;
    mode mode;
    int depth;
    bool c_layout;  /* '= < > !' keep native sizes and alignment (xbuf_view_format) */
    size_t name_at; /* where the last name parsed starts */
    arena *memory;
    xbuf_error *err;
} parser;

static bool at_end(const parser *p)
{
    return p->pos >= p->length;
}

static char peek(const parser *p)
{
    return at_end(p) ? '\0' : p->text[p->pos];
}

static int fail(parser *p, int code, const char *message)
{
    return xbuf_error_set_at(p->err, code, (ptrdiff_t)p->pos, "%s at position %zu", message,
                             p->pos);
}

static int out_of_memory(parser *p)
{
    return xbuf_error_set_at(p->err, XBUF_ENOMEM, (ptrdiff_t)p->pos,
                             "out of memory while parsing the format");
}

static void *alloc(parser *p, size_t size)
{
    return xbuf_arena_alloc(p->memory, size);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void skip_space(parser *p)
{
    while (!at_end(p) && is_space(peek(p)))
        p->pos++;
}

static bool read_mode_char(parser *p)
{
    switch (peek(p)) {
    case '@': p->mode = (mode){XBUF_NATIVE_ORDER, true, true}; break;
    case '^': p->mode = (mode){XBUF_NATIVE_ORDER, true, false}; break;
    case '=': p->mode = (mode){XBUF_NATIVE_ORDER, false, false}; break;
    case '<': p->mode = (mode){XBUF_LITTLE, false, false}; break;
    case '>':
    case '!': p->mode = (mode){XBUF_BIG, false, false}; break;
    default: return false;
    }
    if (p->c_layout)
        p->mode.native_size = p->mode.aligned = true;
    p->pos++;
    return true;
}

static void read_modes(parser *p)
{
    while (read_mode_char(p) || (is_space(peek(p)) && (p->pos++, true)))
        ;
}

/* A decimal count; *present tells whether there was one. */
static int read_count(parser *p, ptrdiff_t *count, bool *present)
{
    *present = is_digit(peek(p));
    *count = 1;
    if (!*present)
        return XBUF_OK;
    ptrdiff_t value = 0;
    while (is_digit(peek(p))) {
        if (xbuf_mul_overflow(value, 10, &value) ||
            xbuf_add_overflow(value, peek(p) - '0', &value))
            return fail(p, XBUF_EOVERFLOW, "count does not fit in ptrdiff_t");
        p->pos++;
    }
    *count = value;
    return XBUF_OK;
}

/* '(' count (',' count)* ')' into a shape allocated in the arena. */
static int read_shape(parser *p, int *ndim, ptrdiff_t **shape)
{
    ptrdiff_t dims[XBUF_MAX_NDIM];
    int n = 0;
    p->pos++; /* '(' */
    for (;;) {
        skip_space(p);
        bool present;
        ptrdiff_t extent;
        RETURN_IF_FAILED(read_count(p, &extent, &present));
        if (!present)
            return fail(p, XBUF_EFORMAT, "expected a sub-array extent (a number)");
        if (n == XBUF_MAX_NDIM)
            return fail(p, XBUF_EFORMAT, "sub-array has more than 64 dimensions");
        dims[n++] = extent;
        skip_space(p);
        if (peek(p) == ')')
            break;
        if (peek(p) != ',')
            return fail(p, XBUF_EFORMAT, "expected ',' or ')' in a sub-array shape");
        p->pos++;
    }
    p->pos++; /* ')' */
    *shape = alloc(p, (size_t)n * sizeof **shape);
    if (*shape == NULL)
        return out_of_memory(p);
    memcpy(*shape, dims, (size_t)n * sizeof **shape);
    *ndim = n;
    return XBUF_OK;
}

static xbuf_type *new_type(parser *p, xbuf_kind kind, char code)
{
    xbuf_type *t = alloc(p, sizeof *t);
    if (t != NULL) {
        t->kind = kind;
        t->code = code;
        t->byteorder = XBUF_NO_ORDER;
        t->alignment = 1;
        t->count = 1;
    }
    return t;
}

/* ---- struct bodies: placing items ----------------------------------------- */

typedef struct field_link {
    xbuf_field field;
    size_t name_at; /* where the name starts in the text, for error messages */
    struct field_link *next;
} field_link;

typedef struct body {
    ptrdiff_t offset;
    ptrdiff_t alignment;
    ptrdiff_t nfields;
    field_link *first, *last;
    bool in_bits;          /* the last item was a bit field */
    ptrdiff_t bits_start;  /* byte where the current run of bit fields starts */
    ptrdiff_t bits_used;   /* bits of the run used so far */
} body;

static int round_up(parser *p, ptrdiff_t value, ptrdiff_t alignment, ptrdiff_t *out)
{
    ptrdiff_t rem = value % alignment;
    if (rem == 0) {
        *out = value;
        return XBUF_OK;
    }
    if (xbuf_add_overflow(value, alignment - rem, out))
        return fail(p, XBUF_EOVERFLOW, "item size does not fit in ptrdiff_t");
    return XBUF_OK;
}

static int add_field(parser *p, body *b, const char *name, ptrdiff_t offset,
                     const xbuf_type *type, bool aligned)
{
    field_link *link = alloc(p, sizeof *link);
    if (link == NULL)
        return out_of_memory(p);
    link->field = (xbuf_field){name, offset, type, aligned && type->alignment > 1};
    link->name_at = p->name_at;
    if (b->last != NULL)
        b->last->next = link;
    else
        b->first = link;
    b->last = link;
    b->nfields++;
    return XBUF_OK;
}

static int end_bits(parser *p, body *b)
{
    if (!b->in_bits)
        return XBUF_OK;
    b->in_bits = false;
    ptrdiff_t bytes = b->bits_used / 8 + (b->bits_used % 8 != 0);
    if (xbuf_add_overflow(b->bits_start, bytes, &b->offset))
        return fail(p, XBUF_EOVERFLOW, "item size does not fit in ptrdiff_t");
    return XBUF_OK;
}

/* A bit field continues the current run or starts one at the offset. */
static int place_bits(parser *p, body *b, ptrdiff_t width, const char *name)
{
    if (!b->in_bits) {
        b->in_bits = true;
        b->bits_start = b->offset;
        b->bits_used = 0;
    }
    xbuf_type *t = new_type(p, XBUF_KIND_BITS, 't');
    if (t == NULL)
        return out_of_memory(p);
    /* Every bit's position from the start of the struct must fit, so that
     * offset * 8 + bit_offset is computable wherever the tree is used. */
    ptrdiff_t first_bit = b->bits_used, end_bit, start_bit, last_bit, offset;
    if (xbuf_add_overflow(first_bit, width, &end_bit) || end_bit > PTRDIFF_MAX - 7 ||
        xbuf_mul_overflow(b->bits_start, 8, &start_bit) ||
        xbuf_add_overflow(start_bit, end_bit + 7, &last_bit) ||
        xbuf_add_overflow(b->bits_start, first_bit / 8, &offset))
        return fail(p, XBUF_EOVERFLOW, "bit field run does not fit in ptrdiff_t");
    t->count = width;
    t->bit_offset = (int)(first_bit % 8);
    t->itemsize = (t->bit_offset + width + 7) / 8;
    b->bits_used = end_bit;
    return add_field(p, b, name, offset, t, false);
}

/* Place one item of `type` at the body's offset (aligned when '@' was in
 * force after it), recording it as a field unless it is padding.  An
 * aligned item's size is always a multiple of its alignment (a struct
 * closed under '@' is padded), so no padding follows it here. */
static int place(parser *p, body *b, const xbuf_type *type, bool aligned, bool padding,
                 const char *name)
{
    RETURN_IF_FAILED(end_bits(p, b));
    if (aligned) {
        RETURN_IF_FAILED(round_up(p, b->offset, type->alignment, &b->offset));
        if (type->alignment > b->alignment)
            b->alignment = type->alignment;
    }
    if (!padding)
        RETURN_IF_FAILED(add_field(p, b, name, b->offset, type, aligned));
    if (xbuf_add_overflow(b->offset, type->itemsize, &b->offset))
        return fail(p, XBUF_EOVERFLOW, "item size does not fit in ptrdiff_t");
    return XBUF_OK;
}

static int by_name(const void *a, const void *b)
{
    const field_link *x = *(const field_link *const *)a, *y = *(const field_link *const *)b;
    return strcmp(x->field.name, y->field.name);
}

/* Duplicate names make field lookup ambiguous: refuse them, as NumPy does.
 * Sorting keeps this O(n log n) for hostile formats with many fields. */
static int check_unique_names(parser *p, const body *b)
{
    const field_link **named = alloc(p, (size_t)b->nfields * sizeof *named);
    if (named == NULL && b->nfields > 0)
        return out_of_memory(p);
    size_t n = 0;
    for (const field_link *l = b->first; l != NULL; l = l->next)
        if (l->field.name != NULL)
            named[n++] = l;
    if (n < 2)
        return XBUF_OK;
    qsort(named, n, sizeof *named, by_name);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(named[i - 1]->field.name, named[i]->field.name) != 0)
            continue;
        size_t later = named[i]->name_at > named[i - 1]->name_at ? named[i]->name_at
                                                                  : named[i - 1]->name_at;
        return xbuf_error_set_at(p->err, XBUF_EFORMAT, (ptrdiff_t)later,
                                 "duplicate field name '%s' at position %zu",
                                 named[i]->field.name, later);
    }
    return XBUF_OK;
}

/* Turn a finished body into a STRUCT (or FUNCTION argument list) node. */
static int finish_body(parser *p, body *b, xbuf_type *t)
{
    RETURN_IF_FAILED(end_bits(p, b));
    RETURN_IF_FAILED(check_unique_names(p, b));
    xbuf_field *fields = alloc(p, (size_t)b->nfields * sizeof *fields);
    if (fields == NULL && b->nfields > 0)
        return out_of_memory(p);
    ptrdiff_t i = 0;
    for (const field_link *l = b->first; l != NULL; l = l->next)
        fields[i++] = l->field;
    t->fields = fields;
    t->nfields = b->nfields;
    t->alignment = b->alignment;
    t->itemsize = b->offset;
    return XBUF_OK;
}

/* ---- items ------------------------------------------------------------ */

static int parse_list(parser *p, body *b, char closer);
static int parse_item(parser *p, body *b);

/* An item's type with its prefixes: modes, sub-array shape, count. */
typedef struct spec {
    const xbuf_type *type; /* NULL for a bit field */
    bool aligned;          /* '@' in force after the type: placed aligned */
    bool padding;          /* 'x' */
    ptrdiff_t bits;        /* the width of a bit field ('t') */
} spec;

static int parse_spec(parser *p, spec *s);

static int enter(parser *p)
{
    if (p->depth >= XBUF_FORMAT_MAX_DEPTH)
        return fail(p, XBUF_EFORMAT, "format nests deeper than 64 levels");
    p->depth++;
    return XBUF_OK;
}

/* Pointers of every kind have the native pointer size in every mode. */
static void set_pointer_layout(const parser *p, xbuf_type *t)
{
    ptrdiff_t size = 0, alignment = 1;
    xbuf_code_size(t->code, false, true, &size, &alignment); /* '&' and 'X' are known */
    t->itemsize = size;
    t->alignment = p->mode.aligned ? alignment : 1;
    t->byteorder = p->mode.order;
    t->native_size = true;
}

/* The leaf for a code (after an optional 'Z'). */
static int parse_leaf(parser *p, bool complex, xbuf_type **out)
{
    char code = peek(p);
    /* ctypes writes 'u' for its c_wchar, which is the C compiler's wchar_t:
     * four bytes where wchar_t is (xbuf_view_format's C reading). */
    if (p->c_layout && code == 'u' && sizeof(wchar_t) == 4)
        code = 'w';
    const code_info *info = find_code(code);
    if (info == NULL || code == '&' || code == 'X')
        return fail(p, XBUF_EFORMAT,
                    complex ? "expected e, f, d or g after 'Z'" : "expected a format code");
    ptrdiff_t size, alignment;
    if (!xbuf_code_size(code, complex, p->mode.native_size, &size, &alignment))
        return fail(p, XBUF_EFORMAT, "expected e, f, d or g after 'Z'");
    xbuf_type *t = new_type(p, complex ? XBUF_KIND_COMPLEX : info->kind, code);
    if (t == NULL)
        return out_of_memory(p);
    p->pos++;
    t->native_size = p->mode.native_size || info->standard == 0;
    t->itemsize = size;
    t->alignment = p->mode.aligned ? alignment : 1;
    ptrdiff_t unit = complex ? size / 2 : size;
    if (xbuf_kind_has_order(t->kind) && unit > 1)
        t->byteorder = p->mode.order;
    *out = t;
    return XBUF_OK;
}

/* T{ list } */
static int parse_struct(parser *p, xbuf_type **out)
{
    RETURN_IF_FAILED(enter(p));
    p->pos += 2; /* "T{" */
    xbuf_type *t = new_type(p, XBUF_KIND_STRUCT, 'T');
    if (t == NULL)
        return out_of_memory(p);
    t->braces = true;
    body b = {0, 1, 0, NULL, NULL, false, 0, 0};
    RETURN_IF_FAILED(parse_list(p, &b, '}'));
    p->pos++; /* '}' */
    RETURN_IF_FAILED(finish_body(p, &b, t));
    /* NumPy's rule: the closing padding depends on the mode at the brace. */
    if (p->mode.aligned)
        RETURN_IF_FAILED(round_up(p, t->itemsize, t->alignment, &t->itemsize));
    p->depth--;
    *out = t;
    return XBUF_OK;
}

/* X{ args (-> result)? } */
static int parse_function(parser *p, xbuf_type **out)
{
    RETURN_IF_FAILED(enter(p));
    p->pos += 2; /* "X{" */
    mode outer = p->mode;
    xbuf_type *t = new_type(p, XBUF_KIND_FUNCTION, 'X');
    if (t == NULL)
        return out_of_memory(p);
    body args = {0, 1, 0, NULL, NULL, false, 0, 0};
    RETURN_IF_FAILED(parse_list(p, &args, '-'));
    if (peek(p) == '-') {
        p->pos += 2; /* "->", checked by parse_list */
        size_t result_at = p->pos;
        spec result;
        RETURN_IF_FAILED(parse_spec(p, &result));
        skip_space(p);
        if (result.type == NULL || result.padding) {
            p->pos = result_at;
            return fail(p, XBUF_EFORMAT,
                        "a function's result must be a value, not a bit field or padding");
        }
        t->target = result.type;
    }
    if (peek(p) != '}')
        return fail(p, XBUF_EFORMAT, "expected '}' to close 'X{'");
    p->pos++;
    RETURN_IF_FAILED(finish_body(p, &args, t));
    /* The arguments' layout says nothing about the pointer itself. */
    p->mode = outer;
    set_pointer_layout(p, t);
    p->depth--;
    *out = t;
    return XBUF_OK;
}

/* & type: a pointer never inherits or leaks its target's byte order. */
static int parse_pointer(parser *p, xbuf_type **out)
{
    RETURN_IF_FAILED(enter(p));
    p->pos++; /* '&' */
    xbuf_type *t = new_type(p, XBUF_KIND_POINTER, '&');
    if (t == NULL)
        return out_of_memory(p);
    set_pointer_layout(p, t);
    mode outer = p->mode;
    size_t target_at = p->pos;
    spec target;
    RETURN_IF_FAILED(parse_spec(p, &target));
    if (target.type == NULL) {
        p->pos = target_at;
        return fail(p, XBUF_EFORMAT, "a pointer cannot point to a bit field");
    }
    t->target = target.type;
    p->mode = outer;
    p->depth--;
    *out = t;
    return XBUF_OK;
}

/* An array of `base` with the given sub-array shape and count appended. */
static int make_array(parser *p, const xbuf_type *base, int ndim, const ptrdiff_t *shape,
                      ptrdiff_t count, bool counted, const xbuf_type **out)
{
    int total_ndim = ndim + (counted ? 1 : 0);
    if (total_ndim == 0) {
        *out = base;
        return XBUF_OK;
    }
    if (total_ndim > XBUF_MAX_NDIM)
        return fail(p, XBUF_EFORMAT, "sub-array has more than 64 dimensions");
    ptrdiff_t *dims = alloc(p, (size_t)total_ndim * sizeof *dims);
    xbuf_type *t = new_type(p, XBUF_KIND_ARRAY, '(');
    if (dims == NULL || t == NULL)
        return out_of_memory(p);
    if (ndim > 0)
        memcpy(dims, shape, (size_t)ndim * sizeof *dims);
    if (counted)
        dims[ndim] = count;
    /* Both the size and the element count must fit: elements of size 0
     * would let a huge count through a size check alone. */
    ptrdiff_t size = base->itemsize, elements = 1;
    for (int i = 0; i < total_ndim; i++)
        if (xbuf_mul_overflow(size, dims[i], &size) ||
            xbuf_mul_overflow(elements, dims[i], &elements))
            return fail(p, XBUF_EOVERFLOW, "sub-array size does not fit in ptrdiff_t");
    t->ndim = total_ndim;
    t->shape = dims;
    t->base = base;
    t->itemsize = size;
    t->alignment = base->alignment;
    *out = t;
    return XBUF_OK;
}

/* The type proper: a code, Z code, &, T{...} or X{...}. */
static int parse_type(parser *p, xbuf_type **out)
{
    char c = peek(p);
    bool brace = p->pos + 1 < p->length && p->text[p->pos + 1] == '{';
    if (c == 'T' || c == 'X') {
        if (!brace)
            return fail(p, XBUF_EFORMAT, c == 'T' ? "expected '{' after 'T'"
                                                  : "expected '{' after 'X'");
        return c == 'T' ? parse_struct(p, out) : parse_function(p, out);
    }
    if (c == '&')
        return parse_pointer(p, out);
    if (c == 'Z') {
        p->pos++;
        return parse_leaf(p, true, out);
    }
    if (at_end(p))
        return fail(p, XBUF_EFORMAT, "expected a format code, found the end");
    return parse_leaf(p, false, out);
}

/* ':' name ':' after an item; NULL when there is none. */
static int parse_name(parser *p, const char **name)
{
    *name = NULL;
    if (peek(p) != ':')
        return XBUF_OK;
    size_t start = ++p->pos;
    p->name_at = start;
    while (!at_end(p) && peek(p) != ':' && peek(p) != '\0')
        p->pos++;
    if (at_end(p) || peek(p) == '\0') {
        p->pos = start - 1;
        return fail(p, XBUF_EFORMAT, "field name opened with ':' is never closed");
    }
    size_t length = p->pos - start;
    if (length == 0)
        return fail(p, XBUF_EFORMAT, "empty field name");
    char *copy = alloc(p, length + 1);
    if (copy == NULL)
        return out_of_memory(p);
    memcpy(copy, p->text + start, length);
    p->pos++; /* closing ':' */
    *name = copy;
    return XBUF_OK;
}

static int apply_length(parser *p, xbuf_type *t, ptrdiff_t count)
{
    t->count = count;
    if (xbuf_mul_overflow(t->itemsize, count, &t->itemsize))
        return fail(p, XBUF_EOVERFLOW, "string length does not fit in ptrdiff_t");
    return XBUF_OK;
}

static int parse_spec(parser *p, spec *s)
{
    int ndim = 0;
    ptrdiff_t *shape = NULL, count;
    bool counted;
    read_modes(p);
    size_t shape_at = p->pos;
    if (peek(p) == '(')
        RETURN_IF_FAILED(read_shape(p, &ndim, &shape));
    read_modes(p);
    RETURN_IF_FAILED(read_count(p, &count, &counted));
    *s = (spec){NULL, p->mode.aligned, false, 0};
    if (peek(p) == 't') {
        if (ndim > 0) {
            p->pos = shape_at;
            return fail(p, XBUF_EFORMAT, "a bit field cannot have a sub-array shape");
        }
        p->pos++;
        s->bits = count;
        return XBUF_OK;
    }
    xbuf_type *type;
    RETURN_IF_FAILED(parse_type(p, &type));
    /* NumPy's reading: the mode in force after the type (for T{...}, at its
     * closing brace) decides whether the item is aligned. */
    s->aligned = p->mode.aligned;
    s->padding = type->kind == XBUF_KIND_VOID;
    /* Size errors point at the item, not past it. */
    size_t end = p->pos;
    p->pos = shape_at;
    if (xbuf_counts_units(type->kind)) {
        RETURN_IF_FAILED(apply_length(p, type, count));
        counted = false;
    } else if (counted && count == 1) {
        counted = false; /* "1i" is "i", as in struct */
    }
    RETURN_IF_FAILED(make_array(p, type, ndim, shape, count, counted, &s->type));
    p->pos = end;
    return XBUF_OK;
}

static int parse_item(parser *p, body *b)
{
    spec s;
    const char *name;
    RETURN_IF_FAILED(parse_spec(p, &s));
    RETURN_IF_FAILED(parse_name(p, &name));
    if (s.type == NULL)
        return place_bits(p, b, s.bits, name);
    /* Named padding is an opaque field, as NumPy exports it ("4x:a:"). */
    return place(p, b, s.type, s.aligned, s.padding && name == NULL, name);
}

/* Items until `closer` ('\0' for the end, '}' for T{}, '-' for X{}'s "->"
 * or '}'), which is left unconsumed. */
static int parse_list(parser *p, body *b, char closer)
{
    for (;;) {
        skip_space(p);
        char c = peek(p);
        if (at_end(p)) {
            if (closer == '\0')
                return XBUF_OK;
            return fail(p, XBUF_EFORMAT,
                        closer == '}' ? "expected '}' to close 'T{', found the end"
                                      : "expected '}' to close 'X{', found the end");
        }
        if (c == '}') {
            if (closer != '\0')
                return XBUF_OK;
            return fail(p, XBUF_EFORMAT, "unbalanced '}'");
        }
        if (closer == '-' && c == '-') {
            if (p->pos + 1 >= p->length || p->text[p->pos + 1] != '>')
                return fail(p, XBUF_EFORMAT, "expected '->' before a function's result");
            return XBUF_OK;
        }
        if (c == '\0')
            return fail(p, XBUF_EFORMAT, "unexpected NUL byte in the format");
        RETURN_IF_FAILED(parse_item(p, b));
    }
}

/* ---- the top level ------------------------------------------------------ */

/* A lone unnamed item is the format's type itself ("i", "3i", "T{...}"). */
static int top_level_type(parser *p, body *b, const xbuf_type **root)
{
    RETURN_IF_FAILED(end_bits(p, b));
    if (b->nfields == 1 && b->first->field.name == NULL && b->first->field.offset == 0 &&
        b->first->field.type->itemsize == b->offset &&
        b->first->field.type->kind != XBUF_KIND_BITS) {
        *root = b->first->field.type;
        return XBUF_OK;
    }
    xbuf_type *t = new_type(p, XBUF_KIND_STRUCT, 'T');
    if (t == NULL)
        return out_of_memory(p);
    RETURN_IF_FAILED(finish_body(p, b, t));
    *root = t;
    return XBUF_OK;
}

static int parse_format(parser *p, const xbuf_type **root)
{
    skip_space(p);
    if (at_end(p))
        return fail(p, XBUF_EFORMAT, "empty format: expected at least one item");
    body b = {0, 1, 0, NULL, NULL, false, 0, 0};
    RETURN_IF_FAILED(parse_list(p, &b, '\0'));
    return top_level_type(p, &b, root);
}

static int parse_with(const char *format, size_t length, bool c_layout, xbuf_format **out,
                      xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(format == NULL, err, XBUF_EINVAL, "format is NULL");
    xbuf_format *f = xbuf_malloc(sizeof *f);
    RETURN_ERROR_IF(f == NULL, err, XBUF_ENOMEM, "out of memory while parsing the format");
    f->refs = 1;
    f->memory.chunks = NULL;
    parser p = {format, length, 0, {XBUF_NATIVE_ORDER, true, true}, 0, c_layout, 0,
                &f->memory, err};
    int rc = parse_format(&p, &f->root);
    if (rc < 0) {
        xbuf_arena_free(&f->memory);
        xbuf_free(f, sizeof *f);
        return rc;
    }
    *out = f;
    return XBUF_OK;
}

int xbuf_format_parse_n(const char *format, size_t length, xbuf_format **out, xbuf_error *err)
{
    return parse_with(format, length, false, out, err);
}

int xbuf_format_parse(const char *format, xbuf_format **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(format == NULL, err, XBUF_EINVAL, "format is NULL");
    return xbuf_format_parse_n(format, strlen(format), out, err);
}

xbuf_format *xbuf_format_retain(xbuf_format *format)
{
    if (format != NULL)
        __atomic_fetch_add(&format->refs, 1, __ATOMIC_RELAXED);
    return format;
}

void xbuf_format_release(xbuf_format *format)
{
    if (format == NULL || __atomic_sub_fetch(&format->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    xbuf_arena_free(&format->memory);
    xbuf_free(format, sizeof *format);
}

const xbuf_type *xbuf_format_type(const xbuf_format *format)
{
    return format == NULL ? NULL : format->root;
}

/* cpython #76961: ctypes describes its C structures with '<' or '>' (no
 * alignment, standard sizes) while its itemsize is the C compiler's.  Such
 * a format names a byte order before every leaf and has no padding, no '@'
 * and no '=' -- unlike NumPy's, whose items may be longer than their format
 * says for another reason (trailing padding it does not write) and must be
 * read as written. */
static bool written_like_ctypes(const char *text)
{
    bool in_name = false, ordered = false;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == ':')
            in_name = !in_name;
        else if (in_name)
            continue;
        else if (*c == '<' || *c == '>')
            ordered = true;
        else if (strchr("@=^!x", *c) != NULL)
            return false;
        else if (*c == 'T' || *c == 'Z' || *c == '&' || !((*c >= 'a' && *c <= 'z') ||
                                                           (*c >= 'A' && *c <= 'Z')))
            continue; /* structs, prefixes, counts, shapes, braces */
        else if (!ordered)
            return false; /* a leaf without its own byte order */
        else
            ordered = false;
    }
    return true;
}

int xbuf_view_format(const xbuf_view *view, xbuf_format **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(view == NULL, err, XBUF_EINVAL, "view is NULL");
    const char *text = view->format != NULL ? view->format : "B";
    RETURN_IF_FAILED(xbuf_format_parse(text, out, err));
    if ((*out)->root->itemsize == view->itemsize || !written_like_ctypes(text))
        return XBUF_OK;
    xbuf_format *c_layout;
    if (parse_with(text, strlen(text), true, &c_layout, NULL) < 0)
        return XBUF_OK; /* out of memory: keep the reading as written */
    if (c_layout->root->itemsize != view->itemsize) {
        xbuf_format_release(c_layout);
        return XBUF_OK;
    }
    xbuf_format_release(*out);
    *out = c_layout;
    return XBUF_OK;
}

int xbuf_format_size(const char *format, ptrdiff_t *itemsize, ptrdiff_t *alignment,
                     xbuf_error *err)
{
    xbuf_format *parsed;
    RETURN_IF_FAILED(xbuf_format_parse(format, &parsed, err));
    if (itemsize != NULL)
        *itemsize = parsed->root->itemsize;
    if (alignment != NULL)
        *alignment = parsed->root->alignment;
    xbuf_format_release(parsed);
    return XBUF_OK;
}
