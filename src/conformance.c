/*
 * conformance.c -- the conformance checker (see xbuf/conformance.h).
 *
 * The check is a loop over request pairs (R, R|WRITABLE).  Each answer
 * passes through stages that may report problems: the refusal rules, or
 * xbuf_view_check, the format, and the comparison with the reference
 * answer.  Every stage returns 0 to go on, the visitor's non-zero value to
 * stop, or a negative code when the checker itself fails (XBUF_ENOMEM);
 * RETURN_NONZERO passes both of the last two up.
 *
 * Ownership: the checker holds one view for its whole run, the reference
 * (so item addresses stay comparable), and each other answer only until
 * the next request.  It owns the first format it parsed, and a copy of
 * that format's text, to compare the others with.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Distinct problems remembered for de-duplication. */
#define SEEN_MAX 256
/* Room for "request <name>: <detail>": details quote at most FORMAT_SHOWN
 * bytes of a format and SHAPE_SIZE bytes of a shape, so they fit. */
#define MESSAGE_SIZE 640
#define FORMAT_SHOWN 100
#define SHAPE_SIZE 160

#define RETURN_NONZERO(expr)    \
    do {                        \
        int rc_ = (expr);       \
        if (rc_ != 0)           \
            return rc_;         \
    } while (0)

typedef struct checker {
    xbuf_exporter *exporter;
    xbuf_problem_visitor visit;
    void *context;
    xbuf_check_summary summary;
    /* The reference answer, held until the end. */
    bool have_reference;
    int reference_flags;
    char reference_name[XBUF_FLAGS_NAME_SIZE];
    xbuf_view reference;
    /* The first format seen, parsed, with its text and its request. */
    xbuf_format *format;
    char *format_text;
    size_t format_text_size;
    int format_flags;
    /* Hashes of the details already reported. */
    uint64_t seen[SEEN_MAX];
    int nseen;
} checker;

/* What one request came to, for the WRITABLE pair rules. */
typedef struct outcome {
    bool refused;
    bool valid; /* answered, and xbuf_view_check accepted the answer */
    bool readonly;
} outcome;

/* ---- naming requests ---------------------------------------------------- */

typedef struct flag_name {
    int flags;
    const char *name;
} flag_name;

/* Strongest first.  A name is given when all its bits are asked and not
 * all of them are covered by the names already given (INDIRECT covers
 * STRIDES and ND; C_CONTIGUOUS still adds its own bit after INDIRECT). */
static const flag_name flag_names[] = {
    {XBUF_INDIRECT, "INDIRECT"},         {XBUF_C_CONTIGUOUS, "C_CONTIGUOUS"},
    {XBUF_F_CONTIGUOUS, "F_CONTIGUOUS"}, {XBUF_ANY_CONTIGUOUS, "ANY_CONTIGUOUS"},
    {XBUF_STRIDES, "STRIDES"},           {XBUF_ND, "ND"},
    {XBUF_FORMAT, "FORMAT"},             {XBUF_WRITABLE, "WRITABLE"},
};

/* Append to a bounded buffer, counting the full length even past its end. */
typedef struct text {
    char *buf;
    size_t size, length;
} text;

static void text_add(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->length < t->size) {
        size_t room = t->size - t->length - 1;
        memcpy(t->buf + t->length, s, n < room ? n : room);
        t->buf[t->length + (n < room ? n : room)] = '\0';
    }
    t->length += n;
}

static void name_flags(int flags, text *t)
{
    if (flags == XBUF_FULL || flags == XBUF_FULL_RO) {
        text_add(t, flags == XBUF_FULL ? "FULL" : "FULL_RO");
        return;
    }
    unsigned covered = 0;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
        unsigned bits = (unsigned)flag_names[i].flags;
        if (((unsigned)flags & bits) != bits || (covered & bits) == bits)
            continue;
        if (t->length > 0)
            text_add(t, "|");
        text_add(t, flag_names[i].name);
        covered |= bits;
    }
    unsigned rest = (unsigned)flags & ~covered;
    if (rest != 0) {
        char hex[16];
        snprintf(hex, sizeof hex, "%s0x%x", t->length > 0 ? "|" : "", rest);
        text_add(t, hex);
    }
    if (t->length == 0)
        text_add(t, "SIMPLE");
}

int xbuf_flags_print(int flags, char *buf, size_t size, size_t *length, xbuf_error *err)
{
    RETURN_ERROR_IF(buf == NULL && size > 0, err, XBUF_EINVAL, "buf is NULL but size is %zu",
                    size);
    text t = {buf, size, 0};
    if (size > 0)
        buf[0] = '\0';
    name_flags(flags, &t);
    if (length != NULL)
        *length = t.length;
    RETURN_ERROR_IF(t.length >= size, err, XBUF_ERANGE,
                    "the name of flags 0x%x needs %zu bytes, the buffer has %zu",
                    (unsigned)flags, t.length + 1, size);
    return XBUF_OK;
}

/* ---- reporting ------------------------------------------------------------ */

/* FNV-1a: the details of one check are few and short. */
static uint64_t hash_text(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211u;
    return h;
}

static bool already_reported(checker *c, const char *detail)
{
    uint64_t h = hash_text(detail);
    for (int i = 0; i < c->nseen; i++)
        if (c->seen[i] == h)
            return true;
    if (c->nseen < SEEN_MAX)
        c->seen[c->nseen++] = h;
    return false;
}

static int report(checker *c, int flags, const char *fmt, ...) XBUF_PRINTF(3, 4);

static int report(checker *c, int flags, const char *fmt, ...)
{
    char message[MESSAGE_SIZE], name[XBUF_FLAGS_NAME_SIZE];
    xbuf_flags_print(flags, name, sizeof name, NULL, NULL);
    int prefix = snprintf(message, sizeof message, "request %s: ", name);
    va_list args;
    va_start(args, fmt);
    vsnprintf(message + prefix, sizeof message - (size_t)prefix, fmt, args);
    va_end(args);
    if (already_reported(c, message + prefix))
        return 0;
    c->summary.problems++;
    if (c->visit == NULL)
        return 0;
    xbuf_problem problem = {flags, message, message + prefix};
    return c->visit(&problem, c->context);
}

/* A format quoted in a message: "'%.*s%s'" with these three arguments. */
#define QUOTED "'%.*s%s'"
#define QUOTE(s) \
    (int)(strlen(s) > FORMAT_SHOWN ? FORMAT_SHOWN : strlen(s)), (s), \
        (strlen(s) > FORMAT_SHOWN ? "..." : "")

/* The symbol of an error code: "XBUF_EREQUEST" (xbuf_strerror up to ':'). */
#define SYMBOL "%.*s"
#define SYMBOL_OF(code) (int)strcspn(xbuf_strerror(code), ":"), xbuf_strerror(code)

/* A shape as Python prints it, "(2, 3)", "(6,)" or "()"; long ones end in ", ...)". */
static const char *shape_text(const xbuf_view *view, char *buf, size_t size)
{
    ptrdiff_t implied;
    const ptrdiff_t *shape = xbuf_view_shape(view, &implied);
    text t = {buf, size, 0};
    buf[0] = '\0';
    text_add(&t, "(");
    for (int i = 0; i < view->ndim; i++) {
        char extent[32];
        snprintf(extent, sizeof extent, "%s%td", i > 0 ? ", " : "", shape[i]);
        if (t.length + strlen(extent) + sizeof ", ...)" > size) {
            text_add(&t, ", ...");
            break;
        }
        text_add(&t, extent);
    }
    text_add(&t, view->ndim == 1 ? ",)" : ")");
    return buf;
}

/* ---- the view as its consumer reads it ------------------------------------ */

/* NumPy answers requests without ND with ndim 0 and no shape whatever the
 * number of items.  CPython tells those consumers to read len bytes and
 * disregard ndim and itemsize, so such an answer is checked as the 1-d view
 * the consumer sees (xbuf_view_check reads ndim 0 as exactly one item). */
static xbuf_view consumer_view(const xbuf_view *view, int flags)
{
    xbuf_view seen = *view;
    if (!XBUF_WANTS(flags, XBUF_ND) && view->shape == NULL && view->ndim == 0 &&
        view->len != view->itemsize)
        seen.ndim = 1;
    return seen;
}

/* The consumer of this answer may read only len bytes at buf, without any
 * item structure: its itemsize is not to be compared. */
static bool bytes_only(const xbuf_view *view, int flags)
{
    return !XBUF_WANTS(flags, XBUF_ND) && view->shape == NULL;
}

static bool has_shape(const xbuf_view *view, int flags)
{
    return view->shape != NULL || (view->ndim == 0 && XBUF_WANTS(flags, XBUF_ND));
}

static bool view_is_zero(const xbuf_view *view)
{
    static const xbuf_view zero;
    return memcmp(view, &zero, sizeof zero) == 0;
}

/* ---- formats ---------------------------------------------------------------- */

static int check_itemsize(checker *c, int flags, const xbuf_view *view, const xbuf_type *type)
{
    if (type->itemsize == view->itemsize)
        return 0;
    return report(c, flags, "format " QUOTED " describes %td byte%s per item but itemsize is %td",
                  QUOTE(view->format), type->itemsize, type->itemsize == 1 ? "" : "s",
                  view->itemsize);
}

/* Keep the first format seen (consuming `format`) to compare the others with. */
static int adopt_format(checker *c, int flags, const char *source, xbuf_format *format,
                        xbuf_error *err)
{
    size_t size = strlen(source) + 1;
    c->format_text = xbuf_malloc(size);
    if (c->format_text == NULL) {
        xbuf_format_release(format);
        return xbuf_error_set(err, XBUF_ENOMEM, "cannot copy a format of %zu bytes", size);
    }
    memcpy(c->format_text, source, size);
    c->format_text_size = size;
    c->format = format;
    c->format_flags = flags;
    return 0;
}

static int compare_format(checker *c, int flags, const char *source, const xbuf_format *format)
{
    if (xbuf_type_equal(xbuf_format_type(format), xbuf_format_type(c->format)))
        return 0;
    char name[XBUF_FLAGS_NAME_SIZE];
    xbuf_flags_print(c->format_flags, name, sizeof name, NULL, NULL);
    return report(c, flags, "format " QUOTED " differs from the format " QUOTED
                  " of the answer to %s", QUOTE(source), QUOTE(c->format_text), name);
}

static int check_format(checker *c, int flags, const xbuf_view *view, xbuf_error *err)
{
    if (view->format == NULL)
        return 0;
    if (c->format_text != NULL && strcmp(view->format, c->format_text) == 0)
        return check_itemsize(c, flags, view, xbuf_format_type(c->format));
    xbuf_format *format;
    xbuf_error parse_err;
    int rc = xbuf_format_parse(view->format, &format, &parse_err);
    if (rc == XBUF_ENOMEM)
        return xbuf_error_set(err, rc, "%s", parse_err.message);
    if (rc < 0)
        return report(c, flags, "format " QUOTED " does not parse: %s", QUOTE(view->format),
                      parse_err.message);
    rc = check_itemsize(c, flags, view, xbuf_format_type(format));
    if (rc == 0 && c->format == NULL)
        return adopt_format(c, flags, view->format, format, err);
    if (rc == 0)
        rc = compare_format(c, flags, view->format, format);
    xbuf_format_release(format);
    return rc;
}

/* ---- comparing item addresses ------------------------------------------------- */

/*
 * The bytes a direct view addresses, in C order, as a canonical loop nest:
 * each item is a dimension of itemsize bytes with stride 1, extent-1
 * dimensions are dropped, and a dimension is merged into the one inside it
 * when it steps exactly over it.  Two views address the same bytes in the
 * same order exactly when they have the same buf and the same nest --
 * whatever their shapes, strides and itemsizes.  Innermost first.
 */
typedef struct byte_nest {
    int ndim;
    ptrdiff_t extent[XBUF_MAX_NDIM + 1], stride[XBUF_MAX_NDIM + 1];
} byte_nest;

static void nest_push(byte_nest *n, ptrdiff_t extent, ptrdiff_t stride)
{
    ptrdiff_t step, merged;
    if (extent == 1)
        return;
    if (n->ndim > 0 && !xbuf_mul_overflow(n->stride[n->ndim - 1], n->extent[n->ndim - 1], &step) &&
        step == stride && !xbuf_mul_overflow(n->extent[n->ndim - 1], extent, &merged)) {
        n->extent[n->ndim - 1] = merged;
        return;
    }
    n->extent[n->ndim] = extent;
    n->stride[n->ndim] = stride;
    n->ndim++;
}

/* For a view that passed xbuf_view_check, has items, and no indirection. */
static void nest_build(const xbuf_view *view, byte_nest *n)
{
    ptrdiff_t implied;
    const ptrdiff_t *shape = xbuf_view_shape(view, &implied);
    ptrdiff_t packed = view->itemsize; /* the C stride, when the view has none */
    n->ndim = 0;
    nest_push(n, view->itemsize, 1);
    for (int i = view->ndim - 1; i >= 0; i--) {
        ptrdiff_t stride = view->strides != NULL ? view->strides[i] : packed;
        nest_push(n, shape[i], stride);
        packed *= shape[i]; /* bounded by len: no overflow */
    }
}

static bool nests_equal(const byte_nest *a, const byte_nest *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->extent[i] != b->extent[i] || a->stride[i] != b->stride[i])
            return false;
    return true;
}

static bool same_array(int ndim, const ptrdiff_t *a, const ptrdiff_t *b)
{
    if (ndim == 0)
        return true; /* a 0-d view's arrays may be NULL or not: nothing is read */
    if (a == NULL || b == NULL)
        return a == b;
    return memcmp(a, b, (size_t)ndim * sizeof *a) == 0;
}

/* Identical metadata: no need to follow an indirect view's pointers. */
static bool same_layout(const xbuf_view *a, const xbuf_view *b)
{
    return a->buf == b->buf && a->itemsize == b->itemsize && a->ndim == b->ndim &&
           same_array(a->ndim, a->shape, b->shape) &&
           same_array(a->ndim, a->strides, b->strides) &&
           same_array(a->ndim, a->suboffsets, b->suboffsets);
}

/* A C-order walk over a view's items. */
typedef struct cursor {
    const xbuf_view *view;
    const ptrdiff_t *shape;
    ptrdiff_t implied;
    ptrdiff_t index[XBUF_MAX_NDIM];
} cursor;

static void cursor_start(cursor *k, const xbuf_view *view)
{
    k->view = view;
    k->shape = xbuf_view_shape(view, &k->implied);
    memset(k->index, 0, sizeof k->index);
}

static void cursor_next(cursor *k)
{
    for (int i = k->view->ndim - 1; i >= 0; i--) {
        if (++k->index[i] < k->shape[i])
            return;
        k->index[i] = 0;
    }
}

static int cursor_address(const cursor *k, void **out, xbuf_error *err)
{
    return xbuf_view_pointer(k->view, k->view->ndim > 0 ? k->index : NULL, out, err);
}

/* Compare item addresses one by one: the way to compare views when one is
 * indirect.  A bytes-only view is read with the other's itemsize. */
static int compare_addresses(checker *c, int flags, const xbuf_view *v, const xbuf_view *r,
                             const char *name)
{
    if (same_layout(v, r))
        return 0;
    xbuf_view a = *v, b = *r;
    if (a.itemsize != b.itemsize) { /* compare() let this pass only for bytes-only views */
        xbuf_view *bytes = bytes_only(&a, flags) ? &a : &b;
        bytes->itemsize = (bytes == &a ? b : a).itemsize;
        bytes->ndim = 1;
    }
    cursor ka, kb;
    cursor_start(&ka, &a);
    cursor_start(&kb, &b);
    ptrdiff_t count = a.len / a.itemsize;
    for (ptrdiff_t i = 0; i < count; i++, cursor_next(&ka), cursor_next(&kb)) {
        void *pa, *pb;
        xbuf_error reach;
        if (cursor_address(&ka, &pa, &reach) < 0 || cursor_address(&kb, &pb, &reach) < 0)
            return report(c, flags, "cannot reach the item at C-order position %td: %s", i,
                          reach.message);
        if (pa != pb)
            return report(c, flags, "the item at C-order position %td lies elsewhere than in "
                          "the answer to %s", i, name);
    }
    return 0;
}

static int compare_items(checker *c, int flags, const xbuf_view *v, const xbuf_view *r,
                         const char *name)
{
    if (v->len == 0)
        return 0; /* no items: no addresses to agree on */
    if (xbuf_first_indirect(v) >= 0 || xbuf_first_indirect(r) >= 0)
        return compare_addresses(c, flags, v, r, name);
    if (v->buf != r->buf)
        return report(c, flags, "buf differs from the buf of the answer to %s", name);
    byte_nest a, b;
    nest_build(v, &a);
    nest_build(r, &b);
    if (nests_equal(&a, &b))
        return 0;
    return report(c, flags, "its items lie at other addresses than those of the answer to %s "
                  "(shape, strides and itemsize do not describe the same bytes)", name);
}

/* ---- comparing with the reference ----------------------------------------- */

static int compare_shapes(checker *c, int flags, const xbuf_view *v, const xbuf_view *r)
{
    if (!has_shape(v, flags) || !has_shape(r, c->reference_flags))
        return 0;
    if (v->ndim == r->ndim && same_array(v->ndim, v->shape, r->shape))
        return 0;
    char mine[SHAPE_SIZE], theirs[SHAPE_SIZE];
    return report(c, flags, "shape %s differs from the shape %s of the answer to %s",
                  shape_text(v, mine, sizeof mine), shape_text(r, theirs, sizeof theirs),
                  c->reference_name);
}

static int compare_readonly(checker *c, int flags, const xbuf_view *v, const xbuf_view *r)
{
    /* Only requests that agree on WRITABLE must agree on readonly: an
     * exporter may hand out read-only views unless asked for writable ones. */
    if (((flags ^ c->reference_flags) & XBUF_WRITABLE) != 0 ||
        (v->readonly != 0) == (r->readonly != 0))
        return 0;
    return report(c, flags, "a %s view, although the answer to %s was %s",
                  v->readonly ? "read-only" : "writable", c->reference_name,
                  r->readonly ? "read-only" : "writable");
}

static int compare(checker *c, int flags, const xbuf_view *v)
{
    const xbuf_view r = consumer_view(&c->reference, c->reference_flags);
    const char *name = c->reference_name;
    if (v->len != r.len)
        return report(c, flags, "len %td differs from the len %td of the answer to %s", v->len,
                      r.len, name);
    if (!bytes_only(v, flags) && !bytes_only(&r, c->reference_flags) &&
        v->itemsize != r.itemsize)
        return report(c, flags, "itemsize %td differs from the itemsize %td of the answer to %s",
                      v->itemsize, r.itemsize, name);
    RETURN_NONZERO(compare_readonly(c, flags, v, &r));
    RETURN_NONZERO(compare_shapes(c, flags, v, &r));
    return compare_items(c, flags, v, &r, name);
}

/* ---- one request ------------------------------------------------------------ */

static int check_refusal(checker *c, int flags, int rc, xbuf_view *view, const xbuf_error *said)
{
    if (!view_is_zero(view)) {
        /* Not released: a hook that broke this rule cannot be trusted with it. */
        xbuf_view_clear(view);
        RETURN_NONZERO(report(c, flags, "refused but wrote into the view, which a refusal "
                              "must leave zeroed"));
    }
    if (rc <= -XBUF_NCODES)
        return report(c, flags, "refused with %d, which is not an xbuf error code", rc);
    if (rc == XBUF_EEXPORTER)
        return report(c, flags, "%s",
                      said->message[0] != '\0' ? said->message
                                               : "refused with XBUF_EEXPORTER: broke the protocol");
    if (said->message[0] == '\0')
        return report(c, flags, "refused with " SYMBOL " but gave no message", SYMBOL_OF(rc));
    if (said->code != rc)
        return report(c, flags, "refused with " SYMBOL " but set its message with " SYMBOL,
                      SYMBOL_OF(rc), SYMBOL_OF(said->code));
    return 0;
}

static void adopt_reference(checker *c, int flags, xbuf_view *view)
{
    xbuf_view_move(view, &c->reference);
    c->have_reference = true;
    c->reference_flags = flags;
    xbuf_flags_print(flags, c->reference_name, sizeof c->reference_name, NULL, NULL);
}

static int check_answer(checker *c, int flags, xbuf_view *view, outcome *out, xbuf_error *err)
{
    const xbuf_view seen = consumer_view(view, flags);
    xbuf_error broken;
    if (xbuf_view_check(&seen, flags, &broken) < 0)
        return report(c, flags, "%s", broken.message);
    out->valid = true;
    out->readonly = seen.readonly != 0;
    RETURN_NONZERO(check_format(c, flags, &seen, err));
    if (!c->have_reference) {
        adopt_reference(c, flags, view);
        return 0;
    }
    return compare(c, flags, &seen);
}

static int check_request(checker *c, int flags, outcome *out, xbuf_error *err)
{
    xbuf_view view;
    xbuf_error said;
    memset(&view, 0, sizeof view); /* padding too: view_is_zero compares bytes */
    xbuf_error_clear(&said);
    *out = (outcome){.refused = false};
    c->summary.requests++;
    int rc = c->exporter->get(c->exporter, &view, flags, &said);
    if (rc < 0) {
        c->summary.refused++;
        out->refused = true;
        return check_refusal(c, flags, rc, &view, &said);
    }
    c->summary.answered++;
    if (rc > 0)
        rc = report(c, flags, "the get hook returned %d; it must return 0 or a negative code",
                    rc);
    else
        rc = check_answer(c, flags, &view, out, err);
    xbuf_release(&view); /* nothing left to release when it became the reference */
    return rc;
}

/* R and R|WRITABLE differ only in WRITABLE, so a writable answer to one
 * satisfies the other. */
static int check_pair(checker *c, int flags, xbuf_error *err)
{
    outcome plain, writable;
    RETURN_NONZERO(check_request(c, flags, &plain, err));
    RETURN_NONZERO(check_request(c, flags | XBUF_WRITABLE, &writable, err));
    if (plain.valid && !plain.readonly && writable.refused)
        return report(c, flags | XBUF_WRITABLE, "refused, although the same request without "
                      "WRITABLE was answered with a writable view");
    if (writable.valid && plain.refused)
        return report(c, flags, "refused, although the same request with WRITABLE was "
                      "answered");
    return 0;
}

/* FULL_RO first: its answer, the richest, becomes the reference. */
static int check_requests(checker *c, xbuf_error *err)
{
    RETURN_NONZERO(check_pair(c, XBUF_FULL_RO, err));
    for (int flags = 0; flags <= XBUF_FLAGS_ALL; flags++) {
        if ((flags & XBUF_WRITABLE) || flags == XBUF_FULL_RO ||
            xbuf_flags_check(flags, NULL) < 0)
            continue;
        RETURN_NONZERO(check_pair(c, flags, err));
    }
    return 0;
}

int xbuf_exporter_check(xbuf_exporter *exporter, xbuf_problem_visitor visit, void *context,
                        xbuf_check_summary *summary, xbuf_error *err)
{
    if (summary != NULL)
        *summary = (xbuf_check_summary){.requests = 0};
    RETURN_ERROR_IF(exporter == NULL || exporter->get == NULL, err, XBUF_EINVAL,
                    "exporter is NULL or has no get hook");
    checker c;
    memset(&c, 0, sizeof c);
    c.exporter = exporter;
    c.visit = visit;
    c.context = context;
    int rc = check_requests(&c, err);
    xbuf_release(&c.reference);
    xbuf_format_release(c.format);
    xbuf_free(c.format_text, c.format_text_size);
    if (summary != NULL)
        *summary = c.summary;
    return rc;
}
