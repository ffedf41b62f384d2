/*
 * format_print.c -- the canonical printer.
 *
 * The printer replays the parser: it tracks the offset and the mode in
 * force exactly as the parser would while reading the text being printed,
 * and before each item picks the first mode character that makes the
 * parser rebuild that item as it is in the tree (trying the mode already in
 * force first, then '@', '<', '>', '^').  Gaps the alignment does not
 * explain become 'x' padding.  So xbuf_format_parse(print(t)) rebuilds t,
 * and two formats with the same meaning ("=i" and "<i" on a little-endian
 * host) print the same.
 *
 * A hand-built tree that no format text describes (fields out of order,
 * an alignment no mode produces) is refused with XBUF_EUNSUPPORTED.
 */
#include <stdio.h>
#include <string.h>

#include "format_internal.h"

typedef struct printer {
    char *buf;
    size_t size;
    size_t length; /* of the full text, even past `size` */
    char mode;     /* the mode in force: '@' '^' '<' '>', or 0 before the first */
    xbuf_error *err;
} printer;

static void emit(printer *p, const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++, p->length++)
        if (p->length + 1 < p->size)
            p->buf[p->length] = text[i];
}

static void emit_char(printer *p, char c)
{
    emit(p, &c, 1);
}

static void emit_number(printer *p, ptrdiff_t value)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%td", value);
    emit(p, digits, (size_t)n);
}

static int unprintable(printer *p, const char *why)
{
    return xbuf_error_set(p->err, XBUF_EUNSUPPORTED, "type cannot be printed as a format: %s",
                          why);
}

/* ---- what the parser would build ----------------------------------------- */

static char mode_order(char mode)
{
    return mode == '<' ? XBUF_LITTLE : mode == '>' ? XBUF_BIG : XBUF_NATIVE_ORDER;
}

static bool mode_native_size(char mode)
{
    return mode == '@' || mode == '^';
}

static ptrdiff_t round_up(ptrdiff_t value, ptrdiff_t alignment)
{
    ptrdiff_t rem = value % alignment;
    return rem == 0 ? value : value + (alignment - rem);
}

/* The size, natural alignment and code-unit size the parser gives node `t`
 * under a mode (false when its code is unknown). */
static bool node_layout(const xbuf_type *t, char mode, ptrdiff_t *size, ptrdiff_t *alignment,
                        ptrdiff_t *unit)
{
    bool complex = t->kind == XBUF_KIND_COMPLEX;
    if (!xbuf_code_size(t->code, complex, mode_native_size(mode), size, alignment))
        return false;
    *unit = complex ? *size / 2 : *size;
    if (xbuf_counts_units(t->kind))
        *size *= t->count;
    return true;
}

/* Whether `mode` makes the parser build the node `t` itself (a leaf, or
 * the pointer part of & and X{}): same size, alignment and byte order. */
static bool node_matches(const xbuf_type *t, char mode)
{
    ptrdiff_t size, alignment, unit;
    if (!node_layout(t, mode, &size, &alignment, &unit))
        return false;
    char order = xbuf_kind_has_order(t->kind) && unit > 1 ? mode_order(mode) : XBUF_NO_ORDER;
    return size == t->itemsize && (mode == '@' ? alignment : 1) == t->alignment &&
           order == t->byteorder;
}

/* ---- printing ------------------------------------------------------------ */

static void print_padding(printer *p, ptrdiff_t bytes)
{
    if (bytes > 1)
        emit_number(p, bytes);
    if (bytes > 0)
        emit_char(p, 'x');
}

static int print_members(printer *p, const xbuf_type *t, ptrdiff_t *end);
static int print_spec(printer *p, const xbuf_type *t);

/* The candidate modes, the one in force first. */
static int choose_mode(printer *p, const xbuf_type *t, char *chosen)
{
    const char candidates[] = {p->mode, '@', '<', '>', '^'};
    for (size_t i = 0; i < sizeof candidates; i++)
        if (candidates[i] != 0 && node_matches(t, candidates[i])) {
            *chosen = candidates[i];
            return XBUF_OK;
        }
    return unprintable(p, "no byte-order character gives this item's size and alignment");
}

static void set_mode(printer *p, char mode)
{
    if (p->mode != mode)
        emit_char(p, mode);
    p->mode = mode;
}



/* The mode in force at a struct's closing brace decides both whether it is
 * padded to its alignment and whether it is placed aligned (NumPy's
 * reading), so `aligned` says which the tree needs; a zero-size "0x" item
 * switches the mode when the members left the other one in force. */
static int print_struct(printer *p, const xbuf_type *t, bool aligned)
{
    ptrdiff_t end;
    if (t->alignment < 1 || (t->nfields > 0 && t->fields == NULL))
        return unprintable(p, "struct without fields or with alignment below 1");
    emit(p, "T{", 2);
    RETURN_IF_FAILED(print_members(p, t, &end));
    if (t->alignment > 1 && aligned && p->mode != '@') {
        emit(p, "@0x", 3);
        p->mode = '@';
    } else if (t->alignment > 1 && !aligned && p->mode == '@') {
        emit(p, "^0x", 3);
        p->mode = '^';
    }
    ptrdiff_t automatic = p->mode == '@' ? round_up(end, t->alignment) : end;
    if (automatic > t->itemsize || (automatic < t->itemsize && p->mode == '@' &&
                                    t->itemsize % t->alignment != 0))
        return unprintable(p, "struct size does not follow from its members and alignment");
    if (automatic < t->itemsize)
        print_padding(p, t->itemsize - end);
    emit_char(p, '}');
    return XBUF_OK;
}

static int print_function(printer *p, const xbuf_type *t)
{
    char outer = p->mode;
    ptrdiff_t end;
    emit(p, "X{", 2);
    RETURN_IF_FAILED(print_members(p, t, &end));
    if (t->target != NULL) {
        emit(p, "->", 2);
        RETURN_IF_FAILED(print_spec(p, t->target));
    }
    emit_char(p, '}');
    p->mode = outer; /* the parser restores the mode after X{...} */
    return XBUF_OK;
}

static int print_pointer(printer *p, const xbuf_type *t)
{
    char outer = p->mode;
    emit_char(p, '&');
    RETURN_IF_FAILED(print_spec(p, t->target));
    p->mode = outer;
    return XBUF_OK;
}

/* The body of an item whose mode is already in force; `aligned` is how a
 * struct must be placed. */
static int print_body(printer *p, const xbuf_type *t, bool aligned)
{
    switch (t->kind) {
    case XBUF_KIND_STRUCT:
        return print_struct(p, t, aligned);
    case XBUF_KIND_FUNCTION:
        return print_function(p, t);
    case XBUF_KIND_POINTER:
        return t->target == NULL ? unprintable(p, "pointer without a target")
                                 : print_pointer(p, t);
    case XBUF_KIND_ARRAY:
        return unprintable(p, "nested array node");
    case XBUF_KIND_COMPLEX:
        emit_char(p, 'Z');
        emit_char(p, t->code);
        return XBUF_OK;
    default:
        if (t->count != 1)
            emit_number(p, t->count);
        emit_char(p, t->code);
        return XBUF_OK;
    }
}

static int print_shape(printer *p, const xbuf_type *t)
{
    if (t->ndim < 1 || t->shape == NULL)
        return unprintable(p, "array without a shape");
    emit_char(p, '(');
    for (int i = 0; i < t->ndim; i++) {
        if (i > 0)
            emit_char(p, ',');
        emit_number(p, t->shape[i]);
    }
    emit_char(p, ')');
    return XBUF_OK;
}

/* The node that decides the item's mode: the array's element, else itself. */
static const xbuf_type *element_of(const xbuf_type *t)
{
    return t->kind == XBUF_KIND_ARRAY ? t->base : t;
}

/* A whole item outside any struct (the top level, pointer targets, function
 * results): mode, shape, body.  Nothing records how such a struct was
 * placed, and nothing depends on it but its padding: align it when its
 * size allows. */
static int print_spec(printer *p, const xbuf_type *t)
{
    const xbuf_type *element = element_of(t);
    if (element == NULL || element->alignment < 1)
        return unprintable(p, "array without an element type, or alignment below 1");
    char mode = p->mode == 0 ? '@' : p->mode;
    if (element->kind != XBUF_KIND_STRUCT)
        RETURN_IF_FAILED(choose_mode(p, element, &mode));
    if (t->kind == XBUF_KIND_ARRAY) /* shape first, as in print_field */
        RETURN_IF_FAILED(print_shape(p, t));
    set_mode(p, mode);
    return print_body(p, element, element->itemsize % element->alignment == 0);
}

static int print_name(printer *p, const char *name)
{
    if (name == NULL)
        return XBUF_OK;
    if (name[0] == '\0' || strchr(name, ':') != NULL)
        return unprintable(p, "a field name is empty or contains ':'");
    emit_char(p, ':');
    emit(p, name, strlen(name));
    emit_char(p, ':');
    return XBUF_OK;
}


/* One field of a struct at *pos; bits track a run of bit fields. */
static int print_field(printer *p, const xbuf_field *f, ptrdiff_t *pos, ptrdiff_t *bits_end)
{
    const xbuf_type *t = f->type;
    if (t == NULL)
        return unprintable(p, "field without a type");
    if (t->kind == XBUF_KIND_BITS) {
        ptrdiff_t first_bit;
        if (xbuf_mul_overflow(f->offset, 8, &first_bit) ||
            xbuf_add_overflow(first_bit, t->bit_offset, &first_bit))
            return unprintable(p, "bit field beyond PTRDIFF_MAX bits");
        if (*bits_end < 0 || first_bit != *bits_end) {
            if (*bits_end >= 0) {
                emit(p, "0x", 2); /* end the previous run */
                *pos = (*bits_end + 7) / 8;
            }
            if (t->bit_offset != 0 || f->offset < *pos)
                return unprintable(p, "bit field that does not start a run at a byte");
            if (p->mode == 0)
                set_mode(p, '@');
            print_padding(p, f->offset - *pos);
        }
        emit_number(p, t->count);
        emit_char(p, 't');
        RETURN_IF_FAILED(print_name(p, f->name));
        *bits_end = first_bit + t->count;
        return XBUF_OK;
    }
    if (*bits_end >= 0) {
        *pos = (*bits_end + 7) / 8;
        *bits_end = -1;
    }
    const xbuf_type *element = element_of(t);
    if (element == NULL || element->alignment < 1 || t->alignment < 1)
        return unprintable(p, "array without an element type, or alignment below 1");
    bool aligned = f->aligned;
    char mode = p->mode == 0 ? '@' : p->mode; /* a struct keeps the mode in force */
    if (element->kind != XBUF_KIND_STRUCT) {
        RETURN_IF_FAILED(choose_mode(p, element, &mode));
        aligned = mode == '@';
    }
    /* Padding before the item; an aligned item's alignment adds the rest. */
    ptrdiff_t at = aligned ? round_up(*pos, element->alignment) : *pos, gap = f->offset - at;
    if (gap < 0 || (aligned && f->offset % element->alignment != 0))
        return unprintable(p, "fields overlap, go backwards or sit off their alignment");
    /* An array's shape comes before its mode: "(2)<h", as NumPy writes
     * and reads it (it rejects "<(2)h", which PEP 3118 also allows); but
     * the text starts with a mode when padding comes first. */
    if (t->kind != XBUF_KIND_ARRAY || (p->mode == 0 && gap > 0))
        set_mode(p, mode);
    print_padding(p, gap);
    if (t->kind == XBUF_KIND_ARRAY) {
        RETURN_IF_FAILED(print_shape(p, t));
        set_mode(p, mode);
    }
    RETURN_IF_FAILED(print_body(p, element, aligned));
    RETURN_IF_FAILED(print_name(p, f->name));
    *pos = f->offset + t->itemsize;
    return XBUF_OK;
}

/* All members of a struct or function; *end is the parser's offset after them. */
static int print_members(printer *p, const xbuf_type *t, ptrdiff_t *end)
{
    if (t->nfields > 0 && t->fields == NULL)
        return unprintable(p, "members missing");
    ptrdiff_t pos = 0, bits_end = -1;
    for (ptrdiff_t i = 0; i < t->nfields; i++)
        RETURN_IF_FAILED(print_field(p, &t->fields[i], &pos, &bits_end));
    if (bits_end >= 0)
        pos = (bits_end + 7) / 8;
    *end = pos;
    return XBUF_OK;
}

static int print_top(printer *p, const xbuf_type *t)
{
    if (t->kind != XBUF_KIND_STRUCT || t->braces)
        return print_spec(p, t);
    ptrdiff_t end;
    RETURN_IF_FAILED(print_members(p, t, &end));
    if (end > t->itemsize)
        return unprintable(p, "members extend past the itemsize");
    if (p->mode == 0)
        set_mode(p, '@');
    if (t->nfields == 0 && t->itemsize == 0)
        emit(p, "0x", 2); /* a format needs at least one item */
    print_padding(p, t->itemsize - end);
    return XBUF_OK;
}

int xbuf_type_print(const xbuf_type *type, char *buf, size_t size, size_t *length,
                    xbuf_error *err)
{
    RETURN_ERROR_IF(type == NULL, err, XBUF_EINVAL, "type is NULL");
    RETURN_ERROR_IF(buf == NULL && size > 0, err, XBUF_EINVAL, "buf is NULL");
    printer p = {buf, size, 0, 0, err};
    int rc = print_top(&p, type);
    if (size > 0)
        buf[p.length < size ? p.length : size - 1] = '\0';
    if (rc < 0)
        return rc;
    if (length != NULL)
        *length = p.length;
    RETURN_ERROR_IF(p.length >= size, err, XBUF_ERANGE,
                    "the format needs %zu bytes and the NUL; the buffer holds %zu", p.length,
                    size);
    return XBUF_OK;
}
