/*
 * format_query.c -- questions asked of a parsed type: equality, layout
 * compatibility, field lookup and the leaf walker.
 *
 * Trees from the parser are at most XBUF_FORMAT_MAX_DEPTH structs deep, but
 * these functions also accept hand-built trees, so every recursion carries
 * its own depth bound (MAX_WALK_DEPTH) rather than trusting the input.
 */
#include <stdio.h>
#include <string.h>

#include "format_internal.h"

/* Struct nesting plus one array level per struct level, plus slack. */
enum { MAX_WALK_DEPTH = 2 * XBUF_FORMAT_MAX_DEPTH + 4 };

/* ---- equality ------------------------------------------------------------- */

static bool names_equal(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool equal_at(const xbuf_type *a, const xbuf_type *b, int depth);

static bool fields_equal(const xbuf_type *a, const xbuf_type *b, int depth)
{
    if (a->nfields != b->nfields || (a->nfields > 0 && (a->fields == NULL || b->fields == NULL)))
        return false;
    for (ptrdiff_t i = 0; i < a->nfields; i++) {
        const xbuf_field *fa = &a->fields[i], *fb = &b->fields[i];
        if (fa->offset != fb->offset || fa->aligned != fb->aligned ||
            !names_equal(fa->name, fb->name) ||
            !equal_at(fa->type, fb->type, depth + 1))
            return false;
    }
    return true;
}

static bool shapes_equal(const xbuf_type *a, const xbuf_type *b)
{
    if (a->ndim != b->ndim || (a->ndim > 0 && (a->shape == NULL || b->shape == NULL)))
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

/* native_size is not compared: itemsize already says what it decided. */
static bool equal_at(const xbuf_type *a, const xbuf_type *b, int depth)
{
    if (a == b)
        return true;
    if (a == NULL || b == NULL || depth > MAX_WALK_DEPTH)
        return false;
    if (a->kind != b->kind || a->code != b->code || a->byteorder != b->byteorder ||
        a->itemsize != b->itemsize || a->alignment != b->alignment || a->count != b->count ||
        a->bit_offset != b->bit_offset || a->braces != b->braces)
        return false;
    switch (a->kind) {
    case XBUF_KIND_STRUCT:
        return fields_equal(a, b, depth);
    case XBUF_KIND_FUNCTION:
        return fields_equal(a, b, depth) && equal_at(a->target, b->target, depth + 1);
    case XBUF_KIND_ARRAY:
        return shapes_equal(a, b) && equal_at(a->base, b->base, depth + 1);
    case XBUF_KIND_POINTER:
        return equal_at(a->target, b->target, depth + 1);
    default:
        return true;
    }
}

bool xbuf_type_equal(const xbuf_type *a, const xbuf_type *b)
{
    return equal_at(a, b, 0);
}

/* ---- leaves, one at a time ---------------------------------------------- */

/* An explicit stack over the tree, so that two types can be walked in
 * lockstep without collecting their leaves. */
typedef struct frame {
    const xbuf_type *type; /* STRUCT or ARRAY being iterated */
    ptrdiff_t base;        /* offset of this node in the item */
    ptrdiff_t index;       /* next field / element */
    ptrdiff_t limit;       /* fields / elements */
} frame;

typedef struct cursor {
    frame stack[MAX_WALK_DEPTH];
    int depth;
    const xbuf_type *lone; /* a root that is itself a leaf, not yet yielded */
    bool broken;           /* the tree was deeper than the stack or malformed */
} cursor;

/* Elements of an array, or -1 for a hand-built one whose shape is
 * negative, missing or overflowing (the parser's never are). */
static ptrdiff_t element_count(const xbuf_type *array)
{
    ptrdiff_t n = 1;
    if (array->ndim > 0 && array->shape == NULL)
        return -1;
    for (int i = 0; i < array->ndim; i++)
        if (array->shape[i] < 0 || xbuf_mul_overflow(n, array->shape[i], &n))
            return -1;
    return n;
}

static bool is_container(const xbuf_type *t)
{
    return t->kind == XBUF_KIND_STRUCT || t->kind == XBUF_KIND_ARRAY;
}

/* Whether an item of `t` has any leaf holding bytes: arrays of leafless
 * structs ("(1000,1000)T{}") or of empty leaves ("(10**12)0s") are skipped
 * whole, or walking them visits every element with nothing to report and
 * nothing to stop it. */
static bool has_leaves(const xbuf_type *t, int depth)
{
    if (t == NULL || depth > MAX_WALK_DEPTH)
        return false;
    if (t->kind == XBUF_KIND_ARRAY)
        return element_count(t) > 0 && has_leaves(t->base, depth + 1);
    if (t->kind != XBUF_KIND_STRUCT)
        return t->itemsize > 0; /* "(10**12)0s" holds no bytes: nothing to visit */
    if (t->nfields > 0 && t->fields == NULL)
        return false;
    for (ptrdiff_t i = 0; i < t->nfields; i++)
        if (has_leaves(t->fields[i].type, depth + 1))
            return true;
    return false;
}

static void push(cursor *c, const xbuf_type *t, ptrdiff_t base)
{
    ptrdiff_t limit = t->kind == XBUF_KIND_STRUCT ? t->nfields : element_count(t);
    if (c->depth == MAX_WALK_DEPTH || limit < 0 ||
        (t->kind == XBUF_KIND_ARRAY && t->base == NULL) ||
        (t->kind == XBUF_KIND_STRUCT && limit > 0 && t->fields == NULL)) {
        c->broken = true;
        return;
    }
    c->stack[c->depth++] = (frame){t, base, 0, limit};
}

/* The next leaf and its offset, or false at the end. */
static bool next_leaf(cursor *c, const xbuf_type **leaf, ptrdiff_t *offset)
{
    if (c->lone != NULL) {
        *leaf = c->lone;
        *offset = 0;
        c->lone = NULL;
        return true;
    }
    while (c->depth > 0 && !c->broken) {
        frame *f = &c->stack[c->depth - 1];
        if (f->index == f->limit) {
            c->depth--;
            continue;
        }
        ptrdiff_t i = f->index++;
        const xbuf_type *child;
        ptrdiff_t at;
        if (f->type->kind == XBUF_KIND_STRUCT) {
            child = f->type->fields[i].type;
            at = f->base + f->type->fields[i].offset;
        } else {
            child = f->type->base;
            at = f->base + i * child->itemsize;
        }
        if (child == NULL) {
            c->broken = true;
            break;
        }
        if (is_container(child)) {
            if (has_leaves(child, 0))
                push(c, child, at);
            continue;
        }
        *leaf = child;
        *offset = at;
        return true;
    }
    return false;
}

static void start(cursor *c, const xbuf_type *t)
{
    c->depth = 0;
    c->broken = false;
    c->lone = is_container(t) ? NULL : t;
    if (is_container(t) && has_leaves(t, 0))
        push(c, t, 0);
}

static bool leaves_compatible(const xbuf_type *a, const xbuf_type *b)
{
    return a->kind == b->kind && a->itemsize == b->itemsize && a->byteorder == b->byteorder &&
           a->count == b->count && a->bit_offset == b->bit_offset &&
           (a->kind != XBUF_KIND_FLOAT && a->kind != XBUF_KIND_COMPLEX ? true
                                                                         : a->code == b->code);
}

bool xbuf_type_layout_compatible(const xbuf_type *a, const xbuf_type *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->itemsize != b->itemsize)
        return false;
    if (xbuf_type_equal(a, b))
        return true;
    cursor ca, cb;
    start(&ca, a);
    start(&cb, b);
    for (;;) {
        const xbuf_type *la, *lb;
        ptrdiff_t oa, ob;
        bool more_a = next_leaf(&ca, &la, &oa), more_b = next_leaf(&cb, &lb, &ob);
        if (ca.broken || cb.broken || more_a != more_b)
            return false;
        if (!more_a)
            return true;
        if (oa != ob || !leaves_compatible(la, lb))
            return false;
    }
}

/* ---- field lookup --------------------------------------------------------- */

static const xbuf_field *find_named(const xbuf_type *t, const char *name, size_t length)
{
    for (ptrdiff_t i = 0; i < t->nfields; i++) {
        const char *candidate = t->fields[i].name;
        if (candidate != NULL && strlen(candidate) == length &&
            memcmp(candidate, name, length) == 0)
            return &t->fields[i];
    }
    return NULL;
}

int xbuf_type_field(const xbuf_type *type, const char *path, const xbuf_field **field,
                    ptrdiff_t *offset, xbuf_error *err)
{
    RETURN_ERROR_IF(type == NULL || path == NULL || field == NULL, err, XBUF_EINVAL,
                    "type, path or field is NULL");
    const xbuf_type *t = type;
    const xbuf_field *found = NULL;
    ptrdiff_t at = 0;
    const char *segment = path;
    for (int steps = 0;; steps++) {
        const char *dot = strchr(segment, '.');
        size_t length = dot ? (size_t)(dot - segment) : strlen(segment);
        RETURN_ERROR_IF(t == NULL || t->kind != XBUF_KIND_STRUCT || steps > MAX_WALK_DEPTH, err,
                        XBUF_ETYPE, "'%.*s' in path '%s' is not in a struct", (int)length,
                        segment, path);
        found = find_named(t, segment, length);
        RETURN_ERROR_IF(found == NULL, err, XBUF_ERANGE, "no field named '%.*s' (path '%s')",
                        (int)length, segment, path);
        at += found->offset;
        if (dot == NULL)
            break;
        t = found->type;
        segment = dot + 1;
    }
    *field = found;
    if (offset != NULL)
        *offset = at;
    return XBUF_OK;
}

/* ---- the walker ------------------------------------------------------------ */

typedef struct walk {
    xbuf_leaf_visitor visit;
    void *context;
    char *path;
    size_t length, capacity;
    xbuf_error *err;
} walk;

/* Append to the path, growing it; the path stays NUL-terminated. */
static int path_append(walk *w, const char *text, size_t n)
{
    if (w->length + n + 1 > w->capacity) {
        size_t capacity = w->capacity * 2 > w->length + n + 1 ? w->capacity * 2
                                                                : w->length + n + 1;
        char *grown = xbuf_realloc(w->path, w->capacity, capacity);
        RETURN_ERROR_IF(grown == NULL, w->err, XBUF_ENOMEM, "out of memory while walking");
        w->path = grown;
        w->capacity = capacity;
    }
    memcpy(w->path + w->length, text, n);
    w->length += n;
    w->path[w->length] = '\0';
    return XBUF_OK;
}

static int walk_node(walk *w, const xbuf_type *t, ptrdiff_t offset, int depth, int nesting);

/* Back to the path as it was before a child was visited. */
static void path_truncate(walk *w, size_t length)
{
    w->length = length;
    w->path[length] = '\0';
}

static int walk_struct(walk *w, const xbuf_type *t, ptrdiff_t offset, int depth, int nesting)
{
    size_t mark = w->length;
    for (ptrdiff_t i = 0; i < t->nfields; i++) {
        const xbuf_field *f = &t->fields[i];
        if (mark > 0)
            RETURN_IF_FAILED(path_append(w, ".", 1));
        if (f->name != NULL) {
            RETURN_IF_FAILED(path_append(w, f->name, strlen(f->name)));
        } else {
            char auto_name[32];
            int n = snprintf(auto_name, sizeof auto_name, "f%td", i);
            RETURN_IF_FAILED(path_append(w, auto_name, (size_t)n));
        }
        int rc = walk_node(w, f->type, offset + f->offset, depth + 1, nesting + 1);
        if (rc != 0)
            return rc;
        path_truncate(w, mark);
    }
    return XBUF_OK;
}

static int walk_array(walk *w, const xbuf_type *t, ptrdiff_t offset, int depth, int nesting)
{
    size_t mark = w->length;
    ptrdiff_t n = element_count(t);
    for (ptrdiff_t i = 0; i < n; i++) {
        /* The flat index as one [k] per dimension, C order. */
        char index[32 * XBUF_MAX_NDIM];
        size_t used = 0;
        ptrdiff_t rest = i, divisor = n;
        for (int d = 0; d < t->ndim; d++) {
            divisor /= t->shape[d];
            used += (size_t)snprintf(index + used, sizeof index - used, "[%td]", rest / divisor);
            rest %= divisor;
        }
        RETURN_IF_FAILED(path_append(w, index, used));
        int rc = walk_node(w, t->base, offset + i * t->base->itemsize, depth + 1, nesting);
        if (rc != 0)
            return rc;
        path_truncate(w, mark);
    }
    return XBUF_OK;
}

static int walk_node(walk *w, const xbuf_type *t, ptrdiff_t offset, int depth, int nesting)
{
    RETURN_ERROR_IF(t == NULL || depth > MAX_WALK_DEPTH, w->err, XBUF_EINVAL,
                    "malformed type tree (missing node or too deep)");
    RETURN_ERROR_IF(t->kind == XBUF_KIND_STRUCT && t->nfields > 0 && t->fields == NULL, w->err,
                    XBUF_EINVAL, "malformed type tree (struct without fields)");
    if (t->kind == XBUF_KIND_STRUCT)
        return walk_struct(w, t, offset, depth, nesting);
    if (t->kind == XBUF_KIND_ARRAY) {
        RETURN_ERROR_IF(t->base == NULL || element_count(t) < 0, w->err, XBUF_EINVAL,
                        "malformed type tree (array without element type or shape)");
        return has_leaves(t, depth) ? walk_array(w, t, offset, depth, nesting) : XBUF_OK;
    }
    xbuf_leaf leaf = {t, offset, w->path, nesting > 0 ? nesting - 1 : 0};
    return w->visit(&leaf, w->context);
}

int xbuf_type_walk(const xbuf_type *type, xbuf_leaf_visitor visit, void *context,
                   xbuf_error *err)
{
    RETURN_ERROR_IF(type == NULL || visit == NULL, err, XBUF_EINVAL, "type or visit is NULL");
    walk w = {visit, context, NULL, 0, 0, err};
    RETURN_IF_FAILED(path_append(&w, "", 0));
    int rc = walk_node(&w, type, 0, 0, 0);
    xbuf_free(w.path, w.capacity);
    return rc;
}

const char *xbuf_kind_name(xbuf_kind kind)
{
    switch (kind) {
    case XBUF_KIND_INT: return "int";
    case XBUF_KIND_UINT: return "uint";
    case XBUF_KIND_BOOL: return "bool";
    case XBUF_KIND_FLOAT: return "float";
    case XBUF_KIND_COMPLEX: return "complex";
    case XBUF_KIND_CHAR: return "char";
    case XBUF_KIND_BYTES: return "bytes";
    case XBUF_KIND_PASCAL: return "pascal";
    case XBUF_KIND_UCS2: return "ucs2";
    case XBUF_KIND_UCS4: return "ucs4";
    case XBUF_KIND_BITS: return "bits";
    case XBUF_KIND_OBJECT: return "object";
    case XBUF_KIND_VOIDP: return "voidp";
    case XBUF_KIND_POINTER: return "pointer";
    case XBUF_KIND_FUNCTION: return "function";
    case XBUF_KIND_VOID: return "void";
    case XBUF_KIND_STRUCT: return "struct";
    case XBUF_KIND_ARRAY: return "array";
    }
    return "unknown";
}
