/*
 * arrow.c -- views to and from the Arrow C data interface (layer 5).
 *
 * Ownership rules, in one place:
 *   - Every exported node -- a base struct or a child, schema or array --
 *     has one allocation of its own behind private_data: its buffers array,
 *     its children's pointer array and the children's structs, and for a
 *     schema its strings.  A release callback releases the children still
 *     live (release != NULL), frees that one allocation and anything the
 *     node owns, and sets release to NULL.  No node points into another's
 *     allocation except a parent into its children's slots, so a child
 *     moved out of its slot (bitwise copy, slot marked released) outlives
 *     its parent, as the spec's "moving child arrays" requires.
 *   - At most one node of an exported array shares the view's memory: the
 *     values node of a view exported as it lies.  That node holds the
 *     export (moved into its private data), so the export lives exactly as
 *     long as the one pointer into the memory.  Copies (struct-of-arrays
 *     fields, packed bools, swapped byte orders, gathered non-contiguous
 *     views) are owned by their node; when everything is a copy the export
 *     is given back before xbuf_arrow_export returns.
 *   - A node is releasable from the moment it is allocated (its children's
 *     slots start released), so an export that fails half-way releases the
 *     part it built and nothing else.
 *   - An imported array is moved into the imported view's exporter data
 *     only after every fallible step, so a failed import leaves the
 *     caller's structs as they were.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define FORMAT_SIZE 32 /* "+w:" or "w:" and a 64-bit count, with room to spare */

static size_t round_up(size_t n, size_t alignment)
{
    return (n + alignment - 1) / alignment * alignment;
}

/* ==== exported nodes ===================================================== */

typedef struct schema_node {
    size_t size; /* of this allocation, for the sized free */
} schema_node;

/* What a schema node says, copied into its allocation. */
typedef struct node_text {
    const char *format;
    const char *name;
    const char *metadata; /* NULL, or metadata_size bytes */
    size_t metadata_size;
} node_text;

typedef struct array_node {
    size_t size;          /* of this allocation */
    void *data;           /* a copy this node owns (buffers[1]), or NULL */
    size_t data_size;
    xbuf_view view;       /* the export buffers[1] points into, or zeroed */
    const void *buffers[2];
} array_node;

static void schema_release(struct ArrowSchema *schema)
{
    for (int64_t i = 0; i < schema->n_children; i++) {
        struct ArrowSchema *child = schema->children[i];
        if (child->release != NULL)
            child->release(child);
    }
    schema_node *node = schema->private_data;
    xbuf_free(node, node->size);
    schema->private_data = NULL;
    schema->release = NULL;
}

static void array_release(struct ArrowArray *array)
{
    for (int64_t i = 0; i < array->n_children; i++) {
        struct ArrowArray *child = array->children[i];
        if (child->release != NULL)
            child->release(child);
    }
    array_node *node = array->private_data;
    xbuf_free(node->data, node->data_size);
    xbuf_release(&node->view);
    xbuf_free(node, node->size);
    array->private_data = NULL;
    array->release = NULL;
}

/* Offsets of the children's pointer array and structs behind a node header
 * of `header` bytes; returns the end of the structs. */
static size_t children_layout(size_t header, size_t n, size_t struct_size, size_t struct_align,
                              size_t *pointers, size_t *structs)
{
    *pointers = round_up(header, alignof(void *));
    *structs = round_up(*pointers + n * sizeof(void *), struct_align);
    return *structs + n * struct_size;
}

static int schema_new(struct ArrowSchema *schema, const node_text *text, size_t n,
                      xbuf_error *err)
{
    size_t pointers, structs;
    size_t strings = children_layout(sizeof(schema_node), n, sizeof(struct ArrowSchema),
                                     alignof(struct ArrowSchema), &pointers, &structs);
    size_t format = strlen(text->format) + 1, name = strlen(text->name) + 1;
    size_t size = strings + format + name + text->metadata_size;
    char *base = xbuf_malloc(size);
    RETURN_ERROR_IF(base == NULL, err, XBUF_ENOMEM, "cannot allocate an Arrow schema");
    ((schema_node *)(void *)base)->size = size;
    struct ArrowSchema **children = (struct ArrowSchema **)(void *)(base + pointers);
    struct ArrowSchema *slots = (struct ArrowSchema *)(void *)(base + structs);
    for (size_t i = 0; i < n; i++) {
        slots[i] = (struct ArrowSchema){0};
        children[i] = &slots[i];
    }
    char *p = base + strings;
    *schema = (struct ArrowSchema){
        .format = memcpy(p, text->format, format),
        .name = memcpy(p + format, text->name, name),
        .metadata = text->metadata == NULL
                        ? NULL
                        : memcpy(p + format + name, text->metadata, text->metadata_size),
        .flags = ARROW_FLAG_NULLABLE,
        .n_children = (int64_t)n,
        .children = n > 0 ? children : NULL,
        .dictionary = NULL,
        .release = schema_release,
        .private_data = base,
    };
    return XBUF_OK;
}

static int array_new(struct ArrowArray *array, ptrdiff_t length, int n_buffers, size_t n,
                     xbuf_error *err)
{
    size_t pointers, structs;
    size_t size = children_layout(sizeof(array_node), n, sizeof(struct ArrowArray),
                                  alignof(struct ArrowArray), &pointers, &structs);
    char *base = xbuf_malloc(size);
    RETURN_ERROR_IF(base == NULL, err, XBUF_ENOMEM, "cannot allocate an Arrow array");
    array_node *node = (array_node *)(void *)base;
    memset(node, 0, sizeof *node);
    node->size = size;
    struct ArrowArray **children = (struct ArrowArray **)(void *)(base + pointers);
    struct ArrowArray *slots = (struct ArrowArray *)(void *)(base + structs);
    for (size_t i = 0; i < n; i++) {
        slots[i] = (struct ArrowArray){0};
        children[i] = &slots[i];
    }
    *array = (struct ArrowArray){
        .length = (int64_t)length,
        .null_count = 0,
        .offset = 0,
        .n_buffers = n_buffers,
        .n_children = (int64_t)n,
        .buffers = node->buffers, /* both NULL: no validity bitmap, no data yet */
        .children = n > 0 ? children : NULL,
        .dictionary = NULL,
        .release = array_release,
        .private_data = node,
    };
    return XBUF_OK;
}

/* A schema and an array node together; on failure neither exists. */
static int node_new(struct ArrowSchema *schema, struct ArrowArray *array, const node_text *text,
                    ptrdiff_t length, int n_buffers, size_t n_children, xbuf_error *err)
{
    RETURN_IF_FAILED(schema_new(schema, text, n_children, err));
    int rc = array_new(array, length, n_buffers, n_children, err);
    if (rc < 0)
        schema->release(schema);
    return rc;
}

static int node_fail(struct ArrowSchema *schema, struct ArrowArray *array, int rc)
{
    schema->release(schema);
    array->release(array);
    return rc;
}

/* ==== export: what one item becomes ======================================= */

/*
 * A column: the elements one node describes, as a strided N-d block of the
 * view's memory.  Dimensions [0, first) make up the node's length; those
 * after it become list levels.  Sub-array items add dimensions; a field
 * moves buf and keeps the strides.
 */
typedef struct column {
    char *buf;
    ptrdiff_t itemsize; /* bytes of one element */
    int ndim;
    ptrdiff_t shape[XBUF_MAX_NDIM];
    ptrdiff_t strides[XBUF_MAX_NDIM];
} column;

typedef struct export_ctx {
    const xbuf_arrow_options *options;
    xbuf_view *view; /* the export; moved into the node that shares its memory */
    xbuf_error *err;
} export_ctx;

/* How one leaf value goes out. */
typedef struct leaf {
    char format[FORMAT_SIZE];
    bool pack_bits; /* '?': Arrow's booleans are one bit each */
    bool swap;      /* a non-native byte order: values must be swapped */
} leaf;

/* The product of n extents, or -1 when it does not fit: a view's item
 * counts always fit, but the extents of a view without items and an
 * imported tensor's metadata may be anything. */
static ptrdiff_t product(const ptrdiff_t *shape, int n)
{
    for (int i = 0; i < n; i++)
        if (shape[i] == 0)
            return 0;
    ptrdiff_t p = 1;
    for (int i = 0; i < n; i++)
        if (xbuf_mul_overflow(p, shape[i], &p))
            return -1;
    return p;
}

static bool is_native(const xbuf_type *t)
{
    return t->itemsize <= 1 || t->byteorder == XBUF_NATIVE_ORDER ||
           t->byteorder == XBUF_NO_ORDER;
}

/* Arrow's integer format for a width, or 0 for none. */
static char int_format(ptrdiff_t size, bool is_signed)
{
    switch (size) {
    case 1: return is_signed ? 'c' : 'C';
    case 2: return is_signed ? 's' : 'S';
    case 4: return is_signed ? 'i' : 'I';
    case 8: return is_signed ? 'l' : 'L';
    default: return 0;
    }
}

static char float_format(char code)
{
    switch (code) {
    case 'e': return 'e';
    case 'f': return 'f';
    case 'd': return 'g';
    default: return 0; /* 'g': long double has no Arrow type */
    }
}

static const char *kind_name(xbuf_kind kind)
{
    switch (kind) {
    case XBUF_KIND_COMPLEX: return "complex numbers";
    case XBUF_KIND_PASCAL: return "Pascal strings";
    case XBUF_KIND_UCS2: return "UCS-2 strings";
    case XBUF_KIND_UCS4: return "UCS-4 strings";
    case XBUF_KIND_BITS: return "bit fields";
    case XBUF_KIND_OBJECT: return "objects";
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_POINTER: return "pointers";
    case XBUF_KIND_FUNCTION: return "function pointers";
    case XBUF_KIND_FLOAT: return "long doubles";
    default: return "these items";
    }
}

/* The Arrow format for values of leaf type `t`, each `width` bytes. */
static int leaf_of(const xbuf_type *t, ptrdiff_t width, leaf *out, xbuf_error *err)
{
    char code = 0;
    memset(out, 0, sizeof *out);
    switch (t->kind) {
    case XBUF_KIND_INT:
    case XBUF_KIND_UINT:
        code = int_format(t->itemsize, t->kind == XBUF_KIND_INT);
        break;
    case XBUF_KIND_FLOAT:
        code = float_format(t->code);
        break;
    case XBUF_KIND_BOOL:
        code = 'b';
        out->pack_bits = true;
        break;
    case XBUF_KIND_CHAR:
    case XBUF_KIND_BYTES:
    case XBUF_KIND_VOID:
    case XBUF_KIND_STRUCT: /* a record as its bytes */
        snprintf(out->format, sizeof out->format, "w:%td", width);
        return XBUF_OK;
    default:
        break;
    }
    RETURN_ERROR_IF(code == 0, err, XBUF_EUNSUPPORTED, "Arrow has no type for %s",
                    kind_name(t->kind));
    out->format[0] = code;
    out->swap = !is_native(t);
    return XBUF_OK;
}

/* ---- copies ------------------------------------------------------------- */

/* Reverse the bytes of each of `count` values of `width` bytes. */
static void swap_values(unsigned char *p, ptrdiff_t count, ptrdiff_t width)
{
    for (ptrdiff_t i = 0; i < count; i++, p += width)
        for (ptrdiff_t lo = 0, hi = width - 1; lo < hi; lo++, hi--) {
            unsigned char t = p[lo];
            p[lo] = p[hi];
            p[hi] = t;
        }
}

/* Pack `count` one-byte bools into a bitmap, in place: byte j of the bitmap
 * is written after bytes 8j..8j+7 are read, and j <= 8j. */
static void pack_bits(unsigned char *p, ptrdiff_t count)
{
    for (ptrdiff_t j = 0; j * 8 < count; j++) {
        unsigned bits = 0;
        for (ptrdiff_t k = 0; k < 8 && j * 8 + k < count; k++)
            bits |= (p[j * 8 + k] != 0 ? 1u : 0u) << k;
        p[j] = (unsigned char)bits;
    }
}

/* Gather the column's `count` elements into a buffer the node owns, then
 * convert them to Arrow's layout. */
static int copy_values(const column *col, const leaf *l, ptrdiff_t count, array_node *node,
                       xbuf_error *err)
{
    size_t bytes = (size_t)count * (size_t)col->itemsize;
    if (bytes == 0)
        return XBUF_OK; /* a buffer of no bytes may be NULL */
    node->data = xbuf_malloc(bytes);
    RETURN_ERROR_IF(node->data == NULL, err, XBUF_ENOMEM, "cannot allocate %zu bytes for a copy",
                    bytes);
    node->data_size = bytes;
    xbuf_view src = {
        .buf = col->buf,
        .len = (ptrdiff_t)bytes,
        .itemsize = col->itemsize,
        .readonly = 1,
        .ndim = col->ndim,
        .shape = (ptrdiff_t *)col->shape,
        .strides = (ptrdiff_t *)col->strides,
    };
    RETURN_IF_FAILED(xbuf_copy_to_contiguous(node->data, (ptrdiff_t)bytes, &src, 'C', err));
    if (l->swap)
        swap_values(node->data, count, col->itemsize);
    if (l->pack_bits)
        pack_bits(node->data, count);
    node->buffers[1] = node->data;
    return XBUF_OK;
}

/* ---- nodes ---------------------------------------------------------------- */

static int export_node(export_ctx *c, column *col, const xbuf_type *type, int first,
                       const char *name, bool copying, struct ArrowSchema *s,
                       struct ArrowArray *a);

/* Why a leaf cannot be shared, when it cannot; NULL when it can. */
static const char *share_refusal(const column *col, const leaf *l)
{
    if (l->pack_bits)
        return "'?' items are one byte each and Arrow's booleans one bit: allow_copy packs them";
    if (l->swap)
        return "the items are not in native byte order: allow_copy swaps them";
    if (!xbuf_is_contiguous(col->ndim, col->shape, col->strides, col->itemsize, 'C'))
        return "the view is not C-contiguous: allow_copy gathers it";
    return NULL;
}

/* A primitive or fixed-size binary node: the column's values, shared when
 * they lie as Arrow wants them, else copied (when copying is allowed). */
static int export_leaf(export_ctx *c, const column *col, const xbuf_type *type, ptrdiff_t count,
                       const char *name, bool copying, struct ArrowSchema *s,
                       struct ArrowArray *a)
{
    leaf l;
    RETURN_IF_FAILED(leaf_of(type, col->itemsize, &l, c->err));
    const char *refusal = share_refusal(col, &l);
    /* Fields of a struct are always copies: then at most one node -- the
     * values of a view exported as it lies -- shares the memory and holds
     * the export, and moving any subset of children out keeps it right. */
    bool share = refusal == NULL && !copying;
    RETURN_ERROR_IF(!share && !copying && !c->options->allow_copy, c->err, XBUF_EUNSUPPORTED,
                    "%s", refusal);
    node_text text = {l.format, name, NULL, 0};
    RETURN_IF_FAILED(node_new(s, a, &text, count, 2, 0, c->err));
    array_node *node = a->private_data;
    if (!share) {
        int rc = copy_values(col, &l, count, node, c->err);
        return rc < 0 ? node_fail(s, a, rc) : XBUF_OK;
    }
    XBUF_ASSERT(c->view->release != NULL); /* only one node ever shares */
    node->buffers[1] = col->buf;
    xbuf_view_move(c->view, &node->view);
    return XBUF_OK;
}

/* Say which field a failure comes from (nested fields nest the prefix). */
static int blame_field(xbuf_error *err, int rc, const char *name)
{
    if (err == NULL)
        return rc;
    char message[XBUF_ERROR_MESSAGE_SIZE];
    memcpy(message, err->message, sizeof message);
    return xbuf_error_set(err, rc, "field '%s': %s", name, message);
}

/* A struct node: one child per field, each a copy of that field. */
static int export_struct(export_ctx *c, const column *col, const xbuf_type *type,
                         ptrdiff_t count, const char *name, struct ArrowSchema *s,
                         struct ArrowArray *a)
{
    node_text text = {"+s", name, NULL, 0};
    RETURN_IF_FAILED(node_new(s, a, &text, count, 1, (size_t)type->nfields, c->err));
    for (ptrdiff_t i = 0; i < type->nfields; i++) {
        const xbuf_field *f = &type->fields[i];
        char fallback[32];
        snprintf(fallback, sizeof fallback, "f%td", i);
        column field = *col;
        if (field.buf != NULL) /* NULL only without items */
            field.buf += f->offset;
        field.itemsize = f->type->itemsize;
        const char *field_name = f->name != NULL ? f->name : fallback;
        int rc = export_node(c, &field, f->type, col->ndim, field_name, true, s->children[i],
                             a->children[i]);
        if (rc < 0)
            return node_fail(s, a, blame_field(c->err, rc, field_name));
    }
    return XBUF_OK;
}

static int export_values(export_ctx *c, const column *col, const xbuf_type *type,
                         ptrdiff_t count, const char *name, bool copying, struct ArrowSchema *s,
                         struct ArrowArray *a)
{
    if (type->kind == XBUF_KIND_STRUCT && c->options->records == XBUF_ARROW_RECORDS_STRUCT)
        return export_struct(c, col, type, count, name, s, a);
    return export_leaf(c, col, type, count, name, copying, s, a);
}

/* The spec's metadata encoding of one key/value pair list, native int32s. */
static size_t put_pair(char *p, const char *key, const char *value, size_t value_size)
{
    int32_t k = (int32_t)strlen(key), v = (int32_t)value_size;
    memcpy(p, &k, sizeof k);
    memcpy(p + 4, key, (size_t)k);
    memcpy(p + 4 + k, &v, sizeof v);
    memcpy(p + 8 + k, value, value_size);
    return 8 + (size_t)k + value_size;
}

/* arrow.fixed_shape_tensor's metadata for tensors of `shape`. */
static size_t tensor_metadata(const ptrdiff_t *shape, int ndim, char *out, size_t capacity)
{
    char json[16 + XBUF_MAX_NDIM * 22];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"shape\":[");
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s%td", i ? "," : "", shape[i]);
    n += (size_t)snprintf(json + n, sizeof json - n, "]}");
    int32_t pairs = 2;
    XBUF_ASSERT(n < sizeof json && 88 + n <= capacity);
    (void)capacity;
    memcpy(out, &pairs, sizeof pairs);
    size_t size = 4;
    static const char tensor_name[] = "arrow.fixed_shape_tensor";
    size += put_pair(out + size, "ARROW:extension:name", tensor_name, sizeof tensor_name - 1);
    size += put_pair(out + size, "ARROW:extension:metadata", json, n);
    return size;
}

/* Dimensions [level, ndim) as list levels around the values. */
static int export_lists(export_ctx *c, const column *col, const xbuf_type *type, int level,
                        const char *name, bool copying, struct ArrowSchema *s,
                        struct ArrowArray *a)
{
    ptrdiff_t length = product(col->shape, level);
    RETURN_ERROR_IF(length < 0, c->err, XBUF_EUNSUPPORTED,
                    "the view's first %d dimensions hold more lists than an Arrow array can",
                    level);
    if (level == col->ndim)
        return export_values(c, col, type, length, name, copying, s, a);
    bool tensor = c->options->nd == XBUF_ARROW_ND_TENSOR;
    ptrdiff_t size = tensor ? product(col->shape + level, col->ndim - level) : col->shape[level];
    RETURN_ERROR_IF(size < 0, c->err, XBUF_EUNSUPPORTED,
                    "the tensor's items (%d dimensions) are too many for one fixed-size list",
                    col->ndim - level);
    char format[FORMAT_SIZE], metadata[128 + XBUF_MAX_NDIM * 22];
    snprintf(format, sizeof format, "+w:%td", size);
    node_text text = {format, name, NULL, 0};
    if (tensor) {
        text.metadata = metadata;
        text.metadata_size = tensor_metadata(col->shape + level, col->ndim - level, metadata,
                                             sizeof metadata);
    }
    RETURN_IF_FAILED(node_new(s, a, &text, length, 1, 1, c->err));
    int rc = tensor ? export_values(c, col, type, length * size, "item", copying,
                                    s->children[0], a->children[0])
                    : export_lists(c, col, type, level + 1, "item", copying, s->children[0],
                                   a->children[0]);
    return rc < 0 ? node_fail(s, a, rc) : XBUF_OK;
}

/* A sub-array item ("(2,3)i") adds its dimensions after the column's. */
static int push_subarray(export_ctx *c, column *col, const xbuf_type *array)
{
    RETURN_ERROR_IF(col->ndim + array->ndim > XBUF_MAX_NDIM, c->err, XBUF_EUNSUPPORTED,
                    "the view and its sub-array items have more than %d dimensions",
                    XBUF_MAX_NDIM);
    ptrdiff_t stride = array->base->itemsize;
    for (int i = array->ndim - 1; i >= 0; i--) {
        col->shape[col->ndim + i] = array->shape[i];
        col->strides[col->ndim + i] = stride;
        stride *= array->shape[i];
    }
    col->ndim += array->ndim;
    col->itemsize = array->base->itemsize;
    return XBUF_OK;
}

/* One column as a node: dimensions [0, first) are its length, the rest
 * (with the item's own sub-array dimensions) list levels.  `copying`: the
 * values must be copied (a struct-of-arrays field), never shared. */
static int export_node(export_ctx *c, column *col, const xbuf_type *type, int first,
                       const char *name, bool copying, struct ArrowSchema *s,
                       struct ArrowArray *a)
{
    for (; type->kind == XBUF_KIND_ARRAY; type = type->base)
        RETURN_IF_FAILED(push_subarray(c, col, type));
    return export_lists(c, col, type, first, name, copying, s, a);
}

/* ---- the view --------------------------------------------------------------- */

static int check_exportable(const xbuf_view *v, const xbuf_arrow_options *o, xbuf_error *err)
{
    RETURN_ERROR_IF(xbuf_first_indirect(v) >= 0, err, XBUF_EUNSUPPORTED,
                    "a view with suboffsets (PIL-style) cannot be exported to Arrow: copy it "
                    "to a contiguous buffer first");
    RETURN_ERROR_IF(!o->allow_copy && !xbuf_view_is_contiguous(v, 'C'), err, XBUF_EUNSUPPORTED,
                    "the view is not C-contiguous: Arrow values lie one after the other "
                    "(allow_copy gathers them)");
    return XBUF_OK;
}

/* The view's root type must describe its items: a leaf of another size
 * would make Arrow read the wrong bytes. */
static int check_itemsize(const xbuf_view *v, const xbuf_type *root, xbuf_error *err)
{
    if (root->kind == XBUF_KIND_STRUCT) {
        RETURN_ERROR_IF(root->itemsize > v->itemsize, err, XBUF_EUNSUPPORTED,
                        "the format's records (%td bytes) do not fit in the itemsize %td",
                        root->itemsize, v->itemsize);
        return XBUF_OK;
    }
    RETURN_ERROR_IF(root->itemsize != v->itemsize, err, XBUF_EUNSUPPORTED,
                    "the itemsize %td differs from the size of the format's items (%td)",
                    v->itemsize, root->itemsize);
    return XBUF_OK;
}

static void column_of(column *col, const xbuf_view *v)
{
    col->buf = v->buf;
    col->itemsize = v->itemsize;
    col->ndim = v->ndim > 0 ? v->ndim : 1; /* a 0-d view is one item */
    if (v->ndim == 0) {
        col->shape[0] = 1;
        col->strides[0] = v->itemsize;
        return;
    }
    memcpy(col->shape, v->shape, (size_t)v->ndim * sizeof *col->shape);
    memcpy(col->strides, v->strides, (size_t)v->ndim * sizeof *col->strides);
}

static int export_view(export_ctx *c, struct ArrowSchema *s, struct ArrowArray *a)
{
    const xbuf_view *v = c->view;
    RETURN_IF_FAILED(check_exportable(v, c->options, c->err));
    xbuf_format *format;
    RETURN_IF_FAILED(xbuf_view_format(v, &format, c->err));
    const xbuf_type *root = xbuf_format_type(format);
    int rc = check_itemsize(v, root, c->err);
    if (rc == XBUF_OK) {
        column col;
        column_of(&col, v);
        const char *name = c->options->name != NULL ? c->options->name : "";
        rc = export_node(c, &col, root, 1, name, false, s, a);
    }
    xbuf_format_release(format);
    return rc;
}

static int check_options(const xbuf_arrow_options *o, xbuf_error *err)
{
    RETURN_ERROR_IF(o->nd != XBUF_ARROW_ND_FIXED_SIZE_LIST && o->nd != XBUF_ARROW_ND_TENSOR, err,
                    XBUF_EINVAL, "unknown xbuf_arrow_nd value %d", (int)o->nd);
    RETURN_ERROR_IF(o->records != XBUF_ARROW_RECORDS_BINARY &&
                        o->records != XBUF_ARROW_RECORDS_STRUCT,
                    err, XBUF_EINVAL, "unknown xbuf_arrow_records value %d", (int)o->records);
    return XBUF_OK;
}

int xbuf_arrow_export(xbuf_mview *m, const xbuf_arrow_options *options,
                      struct ArrowSchema *schema_out, struct ArrowArray *array_out,
                      xbuf_error *err)
{
    RETURN_ERROR_IF(schema_out == NULL || array_out == NULL, err, XBUF_EINVAL,
                    "schema_out or array_out is NULL");
    *schema_out = (struct ArrowSchema){0};
    *array_out = (struct ArrowArray){0};
    RETURN_ERROR_IF(m == NULL, err, XBUF_EINVAL, "view is NULL");
    static const xbuf_arrow_options defaults = XBUF_ARROW_OPTIONS_INIT;
    const xbuf_arrow_options *o = options != NULL ? options : &defaults;
    RETURN_IF_FAILED(check_options(o, err));
    xbuf_view view;
    RETURN_IF_FAILED(xbuf_get(xbuf_mview_exporter(m), &view, XBUF_FULL_RO, err));
    export_ctx c = {o, &view, err};
    struct ArrowSchema s;
    struct ArrowArray a;
    int rc = export_view(&c, &s, &a);
    xbuf_release(&view); /* a no-op when a node took it */
    if (rc < 0)
        return rc;
    *schema_out = s;
    *array_out = a;
    return XBUF_OK;
}

/* ==== import ================================================================= */

typedef struct import_plan {
    int ndim;
    ptrdiff_t shape[XBUF_MAX_NDIM]; /* as the memory lies (row-major) */
    int axis[XBUF_MAX_NDIM];        /* the view's dimension i is the memory's axis[i] */
    char format[FORMAT_SIZE];
    ptrdiff_t itemsize;
    const void *data;
} import_plan;

/* What an imported mview's exporter keeps: the array (moved in last) and
 * the metadata the view points at. */
typedef struct imported {
    struct ArrowArray array;
    ptrdiff_t shape[XBUF_MAX_NDIM], strides[XBUF_MAX_NDIM];
    char format[FORMAT_SIZE];
} imported;

static void imported_release(xbuf_view *view)
{
    imported *h = view->internal;
    if (h->array.release != NULL)
        h->array.release(&h->array);
    xbuf_free(h, sizeof *h);
}

/* ---- the extension's metadata ------------------------------------------------- */

static int32_t read_i32(const char *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Find `key` in the spec's binary metadata; *value is NULL when absent.  The
 * encoding carries no total size, so lengths are only checked for sign. */
static int metadata_find(const char *metadata, const char *key, const char **value,
                         size_t *size, xbuf_error *err)
{
    *value = NULL;
    if (metadata == NULL)
        return XBUF_OK;
    int32_t pairs = read_i32(metadata);
    const char *p = metadata + 4;
    RETURN_ERROR_IF(pairs < 0, err, XBUF_EINVAL, "schema metadata holds %d pairs", (int)pairs);
    for (int32_t i = 0; i < pairs; i++) {
        int32_t k = read_i32(p);
        RETURN_ERROR_IF(k < 0, err, XBUF_EINVAL, "schema metadata: a key of length %d", (int)k);
        int32_t v = read_i32(p + 4 + k);
        RETURN_ERROR_IF(v < 0, err, XBUF_EINVAL, "schema metadata: a value of length %d",
                        (int)v);
        if ((size_t)k == strlen(key) && memcmp(p + 4, key, (size_t)k) == 0) {
            *value = p + 8 + k;
            *size = (size_t)v;
            return XBUF_OK;
        }
        p += 8 + (size_t)k + (size_t)v;
    }
    return XBUF_OK;
}

/* Just enough JSON for {"shape": [...], "permutation": [...], ...}. */
typedef struct json {
    const char *p, *end;
    int depth;
} json;

static void json_space(json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool json_eat(json *j, char c)
{
    json_space(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* A string's raw text (escapes left as they are) in [*s, *s + *n). */
static bool json_string(json *j, const char **s, size_t *n)
{
    if (!json_eat(j, '"'))
        return false;
    const char *start = j->p;
    while (j->p < j->end && *j->p != '"')
        j->p += (*j->p == '\\' && j->p + 1 < j->end) ? 2 : 1;
    if (j->p >= j->end)
        return false;
    *s = start;
    *n = (size_t)(j->p - start);
    j->p++;
    return true;
}

static bool json_skip(json *j);

/* The rest of an array or object after its opening bracket. */
static bool json_skip_members(json *j, char close, bool keys)
{
    if (++j->depth > 64)
        return false;
    bool ok = json_eat(j, close);
    if (ok) {
        j->depth--;
        return true;
    }
    do {
        const char *s;
        size_t n;
        if (keys && (!json_string(j, &s, &n) || !json_eat(j, ':')))
            return false;
        if (!json_skip(j))
            return false;
    } while (json_eat(j, ','));
    j->depth--;
    return json_eat(j, close);
}

static bool json_skip(json *j)
{
    json_space(j);
    if (j->p >= j->end)
        return false;
    const char *s;
    size_t n;
    if (*j->p == '"')
        return json_string(j, &s, &n);
    if (json_eat(j, '['))
        return json_skip_members(j, ']', false);
    if (json_eat(j, '{'))
        return json_skip_members(j, '}', true);
    const char *start = j->p; /* a number or a literal */
    while (j->p < j->end && strchr("+-.0123456789eEtruefalsn", *j->p) != NULL && *j->p != '\0')
        j->p++;
    return j->p > start;
}

/* An array of at most `capacity` integers >= 0. */
static bool json_ints(json *j, ptrdiff_t *out, int capacity, int *count)
{
    *count = 0;
    if (!json_eat(j, '['))
        return false;
    if (json_eat(j, ']'))
        return true;
    do {
        json_space(j);
        if (*count == capacity || j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        ptrdiff_t v = 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            if (xbuf_mul_overflow(v, 10, &v) || xbuf_add_overflow(v, *j->p++ - '0', &v))
                return false;
        out[(*count)++] = v;
    } while (json_eat(j, ','));
    return json_eat(j, ']');
}

typedef struct tensor_meta {
    int ndim, nperm;
    bool has_shape;
    ptrdiff_t shape[XBUF_MAX_NDIM], perm[XBUF_MAX_NDIM];
} tensor_meta;

static bool key_is(const char *s, size_t n, const char *key)
{
    return n == strlen(key) && memcmp(s, key, n) == 0;
}

static bool json_tensor(json *j, tensor_meta *t)
{
    if (!json_eat(j, '{'))
        return false;
    if (json_eat(j, '}'))
        return true;
    do {
        const char *key;
        size_t n;
        if (!json_string(j, &key, &n) || !json_eat(j, ':'))
            return false;
        bool ok = key_is(key, n, "shape")
                      ? (t->has_shape = true, json_ints(j, t->shape, XBUF_MAX_NDIM, &t->ndim))
                  : key_is(key, n, "permutation")
                      ? json_ints(j, t->perm, XBUF_MAX_NDIM, &t->nperm)
                      : json_skip(j);
        if (!ok)
            return false;
    } while (json_eat(j, ','));
    if (!json_eat(j, '}'))
        return false;
    json_space(j);
    return j->p == j->end;
}

static bool is_permutation(const ptrdiff_t *perm, int n)
{
    bool seen[XBUF_MAX_NDIM] = {false};
    for (int i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= n || seen[perm[i]])
            return false;
        seen[perm[i]] = true;
    }
    return true;
}

/* Whether the schema is an arrow.fixed_shape_tensor, and its parameters. */
static int read_tensor(const struct ArrowSchema *s, bool *is_tensor, tensor_meta *t,
                       xbuf_error *err)
{
    const char *value;
    size_t size;
    *is_tensor = false;
    RETURN_IF_FAILED(metadata_find(s->metadata, "ARROW:extension:name", &value, &size, err));
    if (value == NULL || !key_is(value, size, "arrow.fixed_shape_tensor"))
        return XBUF_OK; /* other extensions are read as their storage */
    *is_tensor = true;
    RETURN_IF_FAILED(metadata_find(s->metadata, "ARROW:extension:metadata", &value, &size, err));
    memset(t, 0, sizeof *t);
    RETURN_ERROR_IF(value == NULL, err, XBUF_EINVAL,
                    "arrow.fixed_shape_tensor without ARROW:extension:metadata");
    json j = {value, value + size, 0};
    RETURN_ERROR_IF(!json_tensor(&j, t) || !t->has_shape, err, XBUF_EINVAL,
                    "malformed arrow.fixed_shape_tensor metadata: expected a JSON object with "
                    "\"shape\", an array of extents");
    if (t->nperm == 0) {
        t->nperm = t->ndim;
        for (int i = 0; i < t->ndim; i++)
            t->perm[i] = i;
    }
    RETURN_ERROR_IF(t->nperm != t->ndim || !is_permutation(t->perm, t->ndim), err, XBUF_EINVAL,
                    "malformed arrow.fixed_shape_tensor metadata: \"permutation\" is not a "
                    "permutation of the %d dimensions", t->ndim);
    return XBUF_OK;
}

/* ---- checking the structs ------------------------------------------------------- */

/* The item code and size for a one-character Arrow format, or a refusal
 * saying why there is none. */
static const char *leaf_format(const char *f, char *code, ptrdiff_t *itemsize)
{
    static const char from[] = "cCsSiIlLefg", to[] = "bBhHiIqQefd";
    static const ptrdiff_t sizes[] = {1, 1, 2, 2, 4, 4, 8, 8, 2, 4, 8};
    const char *hit = f[0] != '\0' && f[1] == '\0' ? strchr(from, f[0]) : NULL;
    if (hit != NULL) {
        *code = to[hit - from];
        *itemsize = sizes[hit - from];
        return NULL;
    }
    if (strcmp(f, "b") == 0)
        return "bit-packed booleans cannot be viewed as bytes";
    if (strcmp(f, "n") == 0)
        return "the null type has no data";
    if (strchr("zZuU", f[0]) != NULL && f[0] != '\0' && f[1] == '\0')
        return "variable-length binary and strings keep offsets, not fixed-size items";
    if (strncmp(f, "+l", 2) == 0 || strncmp(f, "+L", 2) == 0 || strncmp(f, "+v", 2) == 0 ||
        f[0] == 'v')
        return "variable-length lists and views keep offsets, not fixed-size items";
    if (strcmp(f, "+s") == 0)
        return "a struct keeps each field in a buffer of its own, a view needs them in one";
    if (f[0] == '+')
        return "nested types other than fixed-size lists have no view";
    if (f[0] == 'd')
        return "decimals are not supported";
    if (f[0] == 't')
        return "temporal types are not supported: their units would be lost";
    return "unknown Arrow format";
}

/* A count after "w:" or "+w:": decimal digits only. */
static bool parse_width(const char *s, ptrdiff_t *out)
{
    ptrdiff_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9' || xbuf_mul_overflow(v, 10, &v) ||
            xbuf_add_overflow(v, *s - '0', &v))
            return false;
    *out = v;
    return true;
}

static int check_layout(const struct ArrowSchema *s, const struct ArrowArray *a, int buffers,
                        int children, xbuf_error *err)
{
    RETURN_ERROR_IF(a->n_buffers != buffers, err, XBUF_EINVAL,
                    "an array of format '%s' has %d buffers, this one says %lld", s->format,
                    buffers, (long long)a->n_buffers);
    RETURN_ERROR_IF(a->buffers == NULL, err, XBUF_EINVAL, "the array's buffers are NULL");
    RETURN_ERROR_IF(s->n_children != children || a->n_children != children, err, XBUF_EINVAL,
                    "an array of format '%s' has %d children, the schema says %lld and the "
                    "array %lld",
                    s->format, children, (long long)s->n_children, (long long)a->n_children);
    RETURN_ERROR_IF(children > 0 && (s->children == NULL || a->children == NULL ||
                                     s->children[0] == NULL || a->children[0] == NULL),
                    err, XBUF_EINVAL, "a child of a '%s' array is NULL", s->format);
    return XBUF_OK;
}

static ptrdiff_t count_unset_bits(const unsigned char *bits, ptrdiff_t count)
{
    ptrdiff_t unset = 0;
    for (ptrdiff_t i = 0; i < count; i++)
        unset += (bits[i / 8] >> (i % 8) & 1) == 0;
    return unset;
}

/* `count` items of the array are viewed: none may be null. */
static int check_nulls(const struct ArrowArray *a, ptrdiff_t count, xbuf_error *err)
{
    RETURN_ERROR_IF(a->null_count < -1, err, XBUF_EINVAL, "null_count is %lld",
                    (long long)a->null_count);
    ptrdiff_t nulls = (ptrdiff_t)a->null_count;
    if (nulls == -1) /* not computed: count the validity bitmap's unset bits */
        nulls = a->buffers[0] == NULL ? 0 : count_unset_bits(a->buffers[0], count);
    RETURN_ERROR_IF(nulls > 0, err, XBUF_EUNSUPPORTED,
                    "the array has %td null item(s): a view has no validity bitmap to mark them",
                    nulls);
    return XBUF_OK;
}

/* What every node must satisfy before its format is looked at. */
static int check_node(const struct ArrowSchema *s, const struct ArrowArray *a, ptrdiff_t count,
                      xbuf_error *err)
{
    RETURN_ERROR_IF(s->format == NULL, err, XBUF_EINVAL, "the schema has no format");
    RETURN_ERROR_IF(s->dictionary != NULL || a->dictionary != NULL, err, XBUF_EUNSUPPORTED,
                    "dictionary-encoded arrays hold indices into another array, not the items");
    RETURN_ERROR_IF(a->offset != 0, err, XBUF_EUNSUPPORTED,
                    "arrays with an offset (%lld) are not supported: slice the view instead",
                    (long long)a->offset);
    RETURN_ERROR_IF(a->length < count, err, XBUF_EINVAL,
                    "a child array has %lld items, its list needs %td", (long long)a->length,
                    count);
    return XBUF_OK;
}

/* ---- walking the structs ---------------------------------------------------------- */

static int import_node(import_plan *plan, const struct ArrowSchema *s,
                       const struct ArrowArray *a, ptrdiff_t count, xbuf_error *err);

static int push_dims(import_plan *plan, const ptrdiff_t *shape, const ptrdiff_t *perm, int n,
                     xbuf_error *err)
{
    RETURN_ERROR_IF(plan->ndim + n > XBUF_MAX_NDIM, err, XBUF_EUNSUPPORTED,
                    "the array has more than %d dimensions", XBUF_MAX_NDIM);
    for (int i = 0; i < n; i++) {
        plan->shape[plan->ndim + i] = shape[i];
        plan->axis[plan->ndim + i] = plan->ndim + (int)perm[i];
    }
    plan->ndim += n;
    return XBUF_OK;
}

static int import_list(import_plan *plan, const struct ArrowSchema *s,
                       const struct ArrowArray *a, ptrdiff_t count, xbuf_error *err)
{
    ptrdiff_t size;
    RETURN_ERROR_IF(!parse_width(s->format + 3, &size), err, XBUF_EINVAL,
                    "malformed fixed-size list format '%s'", s->format);
    RETURN_IF_FAILED(check_layout(s, a, 1, 1, err));
    RETURN_IF_FAILED(check_nulls(a, count, err));
    bool is_tensor;
    tensor_meta t;
    RETURN_IF_FAILED(read_tensor(s, &is_tensor, &t, err));
    if (is_tensor) {
        RETURN_ERROR_IF(product(t.shape, t.ndim) != size, err, XBUF_EINVAL,
                        "arrow.fixed_shape_tensor: the shape holds %td items, the list %td",
                        product(t.shape, t.ndim), size);
        RETURN_IF_FAILED(push_dims(plan, t.shape, t.perm, t.ndim, err));
    } else {
        ptrdiff_t zero = 0;
        RETURN_IF_FAILED(push_dims(plan, &size, &zero, 1, err));
    }
    ptrdiff_t values;
    RETURN_ERROR_IF(xbuf_mul_overflow(count, size, &values), err, XBUF_EOVERFLOW,
                    "%td lists of %td items overflow", count, size);
    return import_node(plan, s->children[0], a->children[0], values, err);
}

static int import_leaf(import_plan *plan, const struct ArrowSchema *s,
                       const struct ArrowArray *a, ptrdiff_t count, xbuf_error *err)
{
    const char *f = s->format;
    if (strncmp(f, "w:", 2) == 0) {
        RETURN_ERROR_IF(!parse_width(f + 2, &plan->itemsize), err, XBUF_EINVAL,
                        "malformed fixed-size binary format '%s'", f);
        RETURN_ERROR_IF(plan->itemsize == 0, err, XBUF_EUNSUPPORTED,
                        "fixed-size binary of width 0 has no items to view");
        snprintf(plan->format, sizeof plan->format, "%tds", plan->itemsize);
    } else {
        const char *refusal = leaf_format(f, &plan->format[0], &plan->itemsize);
        RETURN_ERROR_IF(refusal != NULL, err, XBUF_EUNSUPPORTED, "Arrow format '%s': %s", f,
                        refusal);
        plan->format[1] = '\0';
    }
    RETURN_IF_FAILED(check_layout(s, a, 2, 0, err));
    RETURN_IF_FAILED(check_nulls(a, count, err));
    ptrdiff_t bytes;
    RETURN_ERROR_IF(xbuf_mul_overflow(count, plan->itemsize, &bytes), err, XBUF_EOVERFLOW,
                    "%td items of %td bytes overflow", count, plan->itemsize);
    RETURN_ERROR_IF(a->buffers[1] == NULL && bytes > 0, err, XBUF_EINVAL,
                    "the data buffer is NULL but must hold %td bytes", bytes);
    plan->data = a->buffers[1];
    return XBUF_OK;
}

static int import_node(import_plan *plan, const struct ArrowSchema *s,
                       const struct ArrowArray *a, ptrdiff_t count, xbuf_error *err)
{
    RETURN_ERROR_IF(s == NULL || a == NULL, err, XBUF_EINVAL, "a child schema or array is NULL");
    RETURN_IF_FAILED(check_node(s, a, count, err));
    if (strncmp(s->format, "+w:", 3) == 0)
        return import_list(plan, s, a, count, err);
    bool is_tensor;
    tensor_meta t;
    RETURN_IF_FAILED(read_tensor(s, &is_tensor, &t, err));
    RETURN_ERROR_IF(is_tensor, err, XBUF_EINVAL,
                    "arrow.fixed_shape_tensor must be stored as a fixed-size list, not '%s'",
                    s->format);
    return import_leaf(plan, s, a, count, err);
}

/* The view of the plan's memory, its metadata kept in *h. */
static int import_view(const import_plan *plan, imported *h, xbuf_view *v, xbuf_error *err)
{
    ptrdiff_t strides[XBUF_MAX_NDIM];
    if (xbuf_strides_fill(plan->ndim, plan->shape, plan->itemsize, 'C', strides, NULL) < 0) {
        /* Only extents beside a zero one can overflow: then no stride is used. */
        RETURN_ERROR_IF(product(plan->shape, plan->ndim) != 0, err, XBUF_EOVERFLOW,
                        "the array's size overflows ptrdiff_t");
        memset(strides, 0, sizeof strides);
    }
    for (int i = 0; i < plan->ndim; i++) {
        h->shape[i] = plan->shape[plan->axis[i]];
        h->strides[i] = strides[plan->axis[i]];
    }
    memcpy(h->format, plan->format, sizeof h->format);
    *v = (xbuf_view){
        .buf = (void *)(uintptr_t)plan->data, /* read-only: the spec's immutability */
        .obj = h,
        .len = product(plan->shape, plan->ndim) * plan->itemsize,
        .itemsize = plan->itemsize,
        .readonly = 1,
        .ndim = plan->ndim,
        .format = h->format,
        .shape = h->shape,
        .strides = h->strides,
        .internal = h,
        .release = imported_release,
    };
    return XBUF_OK;
}

int xbuf_arrow_import(const struct ArrowSchema *schema, struct ArrowArray *array,
                      xbuf_mview **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(schema == NULL || array == NULL, err, XBUF_EINVAL, "schema or array is NULL");
    RETURN_ERROR_IF(schema->release == NULL, err, XBUF_EINVAL, "the schema is released");
    RETURN_ERROR_IF(array->release == NULL, err, XBUF_EINVAL, "the array is released");
    RETURN_ERROR_IF(array->length < 0, err, XBUF_EINVAL, "the array's length %lld is negative",
                    (long long)array->length);
#if PTRDIFF_MAX < INT64_MAX
    RETURN_ERROR_IF(array->length > PTRDIFF_MAX, err, XBUF_EOVERFLOW,
                    "the array's length %lld does not fit in ptrdiff_t", (long long)array->length);
#endif
    import_plan plan = {.ndim = 1, .shape = {(ptrdiff_t)array->length}};
    for (int i = 0; i < XBUF_MAX_NDIM; i++)
        plan.axis[i] = i;
    RETURN_IF_FAILED(import_node(&plan, schema, array, (ptrdiff_t)array->length, err));
    imported *h = xbuf_malloc(sizeof *h);
    RETURN_ERROR_IF(h == NULL, err, XBUF_ENOMEM, "cannot allocate an imported Arrow array");
    h->array = (struct ArrowArray){0}; /* released until the move below */
    xbuf_view view;
    int rc = import_view(&plan, h, &view, err);
    if (rc == XBUF_OK)
        rc = xbuf_mview_from_view(&view, out, err);
    if (rc < 0) {
        xbuf_free(h, sizeof *h);
        return rc;
    }
    xbuf_arrow_array_move(array, &h->array);
    return XBUF_OK;
}

/* ==== moving ================================================================== */

void xbuf_arrow_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst)
{
    if (src == NULL || dst == NULL || src == dst)
        return;
    *dst = *src;
    src->release = NULL;
}

void xbuf_arrow_array_move(struct ArrowArray *src, struct ArrowArray *dst)
{
    if (src == NULL || dst == NULL || src == dst)
        return;
    *dst = *src;
    src->release = NULL;
}
