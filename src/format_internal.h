/*
 * format_internal.h -- what the format layer's .c files share: the arena a
 * parsed tree lives in, and the xbuf_format object.
 */
#ifndef XBUF_FORMAT_INTERNAL_H
#define XBUF_FORMAT_INTERNAL_H

#include "internal.h"

/* All nodes, field arrays, names and shapes of one parsed format come from
 * one arena: chunks that never move, freed together.  That makes every
 * error path of the parser a single "free the arena", and freeing a tree
 * cheap. */
typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *chunks;
} arena;

XBUF_HIDDEN void *xbuf_arena_alloc(arena *a, size_t size);
XBUF_HIDDEN void xbuf_arena_free(arena *a);

struct xbuf_format {
    ptrdiff_t refs; /* atomic */
    const xbuf_type *root;
    arena memory;
};

/* The natural size and alignment of a leaf code in a size mode, or false
 * for an unknown code.  Shared by the parser and the printer. */
XBUF_HIDDEN bool xbuf_code_size(char code, bool complex, bool native_size, ptrdiff_t *size,
                                ptrdiff_t *alignment);


/* Strings and padding: a count is their length in code units, not a repeat. */
static inline bool xbuf_counts_units(xbuf_kind kind)
{
    return kind == XBUF_KIND_BYTES || kind == XBUF_KIND_PASCAL || kind == XBUF_KIND_UCS2 ||
           kind == XBUF_KIND_UCS4 || kind == XBUF_KIND_VOID;
}

/* Whether a leaf kind has a byte order (multi-byte numbers and code units). */
static inline bool xbuf_kind_has_order(xbuf_kind kind)
{
    return kind != XBUF_KIND_STRUCT && kind != XBUF_KIND_ARRAY && kind != XBUF_KIND_BYTES &&
           kind != XBUF_KIND_PASCAL && kind != XBUF_KIND_CHAR && kind != XBUF_KIND_BOOL &&
           kind != XBUF_KIND_BITS && kind != XBUF_KIND_VOID;
}

/* A top-level list of items with one member ("5t", "ix", "i:name:") holds
 * one value, not a record: compared, converted and described as that
 * member. */
static inline const xbuf_type *xbuf_single_value(const xbuf_type *t)
{
    return t->kind == XBUF_KIND_STRUCT && !t->braces && t->nfields == 1 ? t->fields[0].type : t;
}

#endif /* XBUF_FORMAT_INTERNAL_H */
