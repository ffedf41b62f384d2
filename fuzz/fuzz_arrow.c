/*
 * fuzz_arrow.c -- libFuzzer target for the Arrow C data interface import
 * (layer 5), and the export of what it imported.
 *
 * Each input builds one ArrowSchema + ArrowArray tree: fixed-size lists
 * (+w:n, honest or malformed, sometimes nested past 64 levels) around a
 * leaf (every primitive format xbuf knows, w:n, formats it refuses, raw
 * fuzzed ones, NULL), with n_buffers, n_children, buffers and children
 * arrays (honest, wrong, NULL), offset, length (enough, too short),
 * null_count (0, -1 with a validity bitmap to count, positive, < -1),
 * dictionaries, and schema metadata in the spec's binary encoding --
 * extension name and arrow.fixed_shape_tensor JSON (shape, permutation,
 * extra keys; well formed, subtly wrong, or raw fuzz).
 *
 * Every buffer, bitmap, buffers/children array and metadata blob is its
 * own allocation of exactly the size the structure states, so reading one
 * byte more than the structure allows is an ASan report.  The metadata
 * encoding carries no total size, so an importer must trust its lengths;
 * the blobs here are honest about them (and sometimes state a negative
 * length, which must be refused, not followed) -- a lying length is a
 * producer bug no importer can detect.  Likewise a data buffer shorter than
 * its array's length says is a lie xbuf cannot see: such arrays are
 * imported but never read.
 *
 * Checked:
 *   - an independent model of arrow.h's import rules says whether the
 *     import must succeed and with which codes it may fail (every rule
 *     broken anywhere in the tree contributes its code; the import, which
 *     stops at the first it meets, must fail with one of them).  Raw fuzzed
 *     JSON is the one thing the model does not judge: there any outcome
 *     the rest of the tree allows, or XBUF_EINVAL, is accepted;
 *   - a failed import leaves both structs exactly as they were (the array
 *     still live: the target releases it, once);
 *   - a successful import moves the array (the caller's struct is marked
 *     released), gives a read-only view of the leaf's buffer shaped
 *     (length, list sizes...) -- tensor dimensions permuted as the metadata
 *     says -- with the mapped format; the schema is released at once (the
 *     view must not need it); every item is read (honest buffers) and
 *     compared with the leaf's bytes; the view is exported back to Arrow and
 *     imported again, with the same items;
 *   - the array's release runs exactly once, when the last mview goes, and
 *     releases its children (counted); nothing leaks.
 */
#define FUZZ_NAME "fuzz_arrow"
#include "fuzz_common.h"

#include "xbuf.h"

enum { MAX_ITEMS = 4096, MAX_DATA = 1 << 16, MAX_ALLOCS = 2048, MAX_LEVELS = 70 };

#define BIT(code) (1u << -(code))

/* ---- the story ----------------------------------------------------------------- */

typedef struct story story;

/* What the target keeps about each node it made, behind private_data. */
typedef struct node {
    story *s;
    int nchildren; /* the real length of the children array */
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    int releases;
    bool base;
} node;

struct story {
    fuzz_input in;
    void *allocs[MAX_ALLOCS];
    int nallocs;
    int base_releases, child_releases, schema_releases;

    /* the model */
    unsigned codes; /* every broken rule's code */
    bool wild;      /* raw JSON the model does not judge */
    bool honest;    /* the leaf's buffer holds every byte its length says */
    int ndim;       /* of the view */
    ptrdiff_t shape[MAX_LEVELS + XBUF_MAX_NDIM]; /* as the memory lies */
    int axis[MAX_LEVELS + XBUF_MAX_NDIM];
    char format[40];
    ptrdiff_t itemsize;
    const unsigned char *data;
    ptrdiff_t data_items; /* what the leaf's buffer holds */
};

static void *amalloc(story *s, size_t n)
{
    CHECK(s->nallocs < MAX_ALLOCS);
    void *p = malloc(n); /* exactly n: one byte more is an ASan report */
    if (p == NULL)
        p = malloc(1);
    CHECK(p != NULL);
    s->allocs[s->nallocs++] = p;
    return p;
}

static void array_release(struct ArrowArray *a)
{
    node *n = a->private_data;
    CHECK(a->release == array_release);
    CHECK(++n->releases == 1);
    for (int i = 0; i < n->nchildren; i++)
        if (n->children[i] != NULL && n->children[i]->release != NULL)
            n->children[i]->release(n->children[i]);
    if (n->dictionary != NULL && n->dictionary->release != NULL)
        n->dictionary->release(n->dictionary);
    if (n->base)
        n->s->base_releases++;
    else
        n->s->child_releases++;
    a->release = NULL;
}

/* Only the base schema is ever released (by the target: the importer only
 * reads schemas); the arena frees every node. */
static void schema_release(struct ArrowSchema *sc)
{
    story *s = sc->private_data;
    s->schema_releases++;
    sc->release = NULL;
}

/* ---- metadata ------------------------------------------------------------------- */

static const char *const name_key = "ARROW:extension:name";
static const char *const meta_key = "ARROW:extension:metadata";

typedef struct tensor_json {
    bool known; /* false: raw fuzz, which the model does not judge */
    bool ok;    /* well formed, with a shape and a valid permutation */
    int ndim;
    ptrdiff_t shape[XBUF_MAX_NDIM];
    int perm[XBUF_MAX_NDIM];
} tensor_json;

typedef struct pair {
    char key[48], value[700];
    int32_t klen, vlen; /* as stated; a negative one ends the blob */
    tensor_json json;   /* for a metadata key: what its value says */
} pair;

/* What the importer finds for `key`: 1 found (*value), 0 absent, -1 a
 * negative length met first (refused). */
static int model_find(const pair *pairs, int n, int32_t count, const char *key,
                      const pair **value)
{
    if (count < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (pairs[i].klen < 0)
            return -1;
        if (pairs[i].vlen < 0)
            return -1; /* read before the key is compared */
        if ((size_t)pairs[i].klen == strlen(key) && memcmp(pairs[i].key, key, strlen(key)) == 0) {
            *value = &pairs[i];
            return 1;
        }
    }
    return 0;
}

static void append(char *out, size_t cap, const char *text)
{
    size_t at = strlen(out), n = strlen(text);
    if (at + n < cap)
        memcpy(out + at, text, n + 1);
}

static const char *space(fuzz_input *in)
{
    static const char *const spaces[] = {"", "", "", " ", "\n", " \t\r "};
    return spaces[take_u8(in) % 6];
}

/* A JSON array of n integers; `overflow`: the first is too big for any count. */
static void append_ints(fuzz_input *in, char *out, size_t cap, const ptrdiff_t *v, int n,
                        bool overflow)
{
    append(out, cap, "[");
    for (int i = 0; i < n; i++) {
        char num[40];
        snprintf(num, sizeof num, "%s%s%td", i ? "," : "", space(in), v[i]);
        append(out, cap, overflow && i == 0 ? "99999999999999999999" : num);
    }
    append(out, cap, space(in));
    append(out, cap, "]");
}

/* arrow.fixed_shape_tensor's JSON for extents `want` (ndim of them): well
 * formed, or broken in a way the reader must refuse, or raw fuzz. */
static void make_json(fuzz_input *in, const ptrdiff_t *want, int ndim, char *out, size_t cap,
                      tensor_json *t)
{
    memset(t, 0, sizeof *t);
    out[0] = '\0';
    if (take_u8(in) >= 240) {
        size_t n = take_u8(in) % (cap - 1);
        take_bytes(in, out, n);
        out[n] = '\0';
        return; /* not known */
    }
    t->known = true;
    t->ndim = ndim;
    if (ndim > 0)
        memcpy(t->shape, want, (size_t)ndim * sizeof *want);
    ptrdiff_t perm[XBUF_MAX_NDIM + 1];
    for (int i = 0; i < ndim; i++)
        perm[i] = i;
    uint8_t pm = take_u8(in) % 4; /* 0: none, 1: identity, 2: shuffled, 3: broken */
    if (pm >= 2)
        for (int i = ndim - 1; i > 0; i--) {
            int j = (int)(take_u8(in) % (unsigned)(i + 1));
            ptrdiff_t x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
    int nperm = pm == 0 ? 0 : ndim;
    if (pm == 3) {
        if (ndim == 0 || take_bool(in))
            perm[nperm++] = ndim; /* one too many */
        else
            perm[take_u8(in) % ndim] = (ptrdiff_t)(take_u8(in) % (unsigned)(ndim + 1));
    }
    bool perm_ok = nperm == 0 || nperm == ndim;
    bool seen[XBUF_MAX_NDIM + 1] = {false};
    for (int i = 0; i < nperm && perm_ok; i++) {
        perm_ok = perm[i] >= 0 && perm[i] < ndim && !seen[perm[i]];
        if (perm_ok)
            seen[perm[i]] = true;
    }
    for (int i = 0; i < ndim; i++)
        t->perm[i] = nperm == 0 ? i : (int)perm[i];
    uint8_t breakage = take_u8(in);
    bool no_shape = breakage >= 248, overflow = breakage >= 240 && breakage < 248 && ndim > 0,
         trailing = breakage >= 232 && breakage < 240;
    bool perm_first = take_bool(in), extra = take_u8(in) >= 192;
    append(out, cap, "{");
    append(out, cap, space(in));
    bool any = false;
    for (int part = 0; part < 2; part++) {
        bool shape_part = (part == 0) != perm_first;
        if (shape_part ? no_shape : nperm == 0)
            continue;
        append(out, cap, any ? "," : "");
        append(out, cap, shape_part ? "\"shape\"" : "\"permutation\"");
        append(out, cap, space(in));
        append(out, cap, ":");
        if (shape_part)
            append_ints(in, out, cap, t->shape, ndim, overflow);
        else
            append_ints(in, out, cap, perm, nperm, false);
        any = true;
    }
    if (extra)
        append(out, cap,
               any ? ",\"dim_names\":[\"x\",\"y\\\"z\"],\"n\":{\"a\":[1,-2.5e3,true,null]}"
                   : "\"dim_names\":[]");
    append(out, cap, space(in));
    append(out, cap, "}");
    if (trailing)
        append(out, cap, "}");
    append(out, cap, space(in));
    t->ok = perm_ok && !no_shape && !overflow && !trailing;
}

/* The blob of `n` pairs (count stated as `count`), exactly as long as it
 * says: a negative length ends it. */
static char *make_blob(story *s, const pair *pairs, int n, int32_t count)
{
    size_t size = 4;
    for (int i = 0; i < n; i++) {
        size += 4;
        if (pairs[i].klen < 0)
            break;
        size += (size_t)pairs[i].klen + 4;
        if (pairs[i].vlen < 0)
            break;
        size += (size_t)pairs[i].vlen;
    }
    char *blob = amalloc(s, size), *p = blob + 4;
    memcpy(blob, &count, 4);
    for (int i = 0; i < n; i++) {
        memcpy(p, &pairs[i].klen, 4);
        p += 4;
        if (pairs[i].klen < 0)
            break;
        memcpy(p, pairs[i].key, (size_t)pairs[i].klen);
        p += pairs[i].klen;
        memcpy(p, &pairs[i].vlen, 4);
        p += 4;
        if (pairs[i].vlen < 0)
            break;
        memcpy(p, pairs[i].value, (size_t)pairs[i].vlen);
        p += pairs[i].vlen;
    }
    CHECK(p == blob + size);
    return blob;
}

/* What a node's metadata says, as the importer must read it. */
typedef struct meta_model {
    int status; /* -1 refused (EINVAL), 0 no tensor, 1 arrow.fixed_shape_tensor */
    tensor_json json;
} meta_model;

/* A node's metadata: NULL, or a blob of up to 4 pairs.  `want` are the
 * extents of a tensor that fits the node (so that working tensors are
 * common). */
static const char *make_metadata(story *s, const ptrdiff_t *want, int ndim, meta_model *mm)
{
    fuzz_input *in = &s->in;
    memset(mm, 0, sizeof *mm);
    uint8_t k = take_u8(in);
    if (k < 128)
        return NULL;
    pair *pairs = amalloc(s, 4 * sizeof *pairs); /* too big for the stack of deep trees */
    int n = k >= 176 ? 2 + (int)(take_u8(in) % 3) : (int)(take_u8(in) % 5);
    for (int i = 0; i < n; i++) {
        pair *p = &pairs[i];
        uint8_t kind = take_u8(in);
        const char *key = kind % 4 == 0 ? name_key : kind % 4 == 1 ? meta_key
                          : kind % 4 == 2 ? "other" : "ARROW:extension:nam";
        if (k >= 176 && i < 2) /* the usual tensor: name, then metadata */
            key = i == 0 ? name_key : meta_key;
        snprintf(p->key, sizeof p->key, "%s", key);
        memset(&p->json, 0, sizeof p->json);
        if (strcmp(key, name_key) == 0) {
            uint8_t v = take_u8(in);
            snprintf(p->value, sizeof p->value, "%s",
                     v < 200 ? "arrow.fixed_shape_tensor" : v < 230 ? "arrow.other" : "");
        } else if (strcmp(key, meta_key) == 0) {
            make_json(in, want, ndim, p->value, sizeof p->value, &p->json);
        } else {
            snprintf(p->value, sizeof p->value, "%u", (unsigned)take_u8(in));
        }
        p->klen = (int32_t)strlen(p->key);
        p->vlen = (int32_t)strlen(p->value);
    }
    uint8_t neg = take_u8(in);
    if (n > 0 && neg >= 224) { /* a negative length: the blob ends in that pair */
        int i = neg % n;
        if (neg & 1)
            pairs[i].klen = -1 - (int32_t)(take_u8(in) % 3);
        else
            pairs[i].vlen = INT32_MIN;
        n = i + 1;
    }
    int32_t count = take_u8(in) >= 248 ? -1 : n;
    const char *blob = make_blob(s, pairs, n, count);

    const pair *name = NULL, *meta = NULL;
    int found = model_find(pairs, n, count, name_key, &name);
    if (found < 0) {
        mm->status = -1;
        return blob;
    }
    if (found == 0 || strcmp(name->value, "arrow.fixed_shape_tensor") != 0)
        return blob; /* other extensions are read as their storage */
    found = model_find(pairs, n, count, meta_key, &meta);
    mm->status = found > 0 ? 1 : -1; /* the tensor needs its metadata */
    if (found > 0)
        mm->json = meta->json;
    return blob;
}

/* ---- building the tree ------------------------------------------------------------ */

static const struct {
    const char *format;
    ptrdiff_t itemsize; /* 0: refused (EUNSUPPORTED) */
    const char *view;   /* the view's format */
} leaves[] = {
    {"c", 1, "b"}, {"C", 1, "B"}, {"s", 2, "h"}, {"S", 2, "H"}, {"i", 4, "i"},
    {"I", 4, "I"}, {"l", 8, "q"}, {"L", 8, "Q"}, {"e", 2, "e"}, {"f", 4, "f"},
    {"g", 8, "d"}, {"b", 0, NULL}, {"n", 0, NULL}, {"u", 0, NULL}, {"z", 0, NULL},
    {"Z", 0, NULL}, {"U", 0, NULL}, {"+s", 0, NULL}, {"+l", 0, NULL}, {"+L", 0, NULL},
    {"+m", 0, NULL}, {"tdD", 0, NULL}, {"d:10,2", 0, NULL}, {"vu", 0, NULL}, {"", 0, NULL},
    {"cc", 0, NULL}, {"+vl", 0, NULL}, {"tss:UTC", 0, NULL},
};

/* Digits only, as a count; false for none, others, or overflow. */
static bool model_width(const char *s, ptrdiff_t *out)
{
    if (*s == '\0')
        return false;
    fuzz_i128 v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
        if (v > PTRDIFF_MAX)
            return false;
    }
    *out = (ptrdiff_t)v;
    return true;
}

static void add(story *s, int code)
{
    s->codes |= BIT(code);
}

/* A validity bitmap for `length` items (honest size) and the null count;
 * the model's judgement for the `count` items viewed. */
static void nulls(story *s, struct ArrowArray *a, int64_t length, ptrdiff_t count)
{
    fuzz_input *in = &s->in;
    uint8_t k = take_u8(in);
    a->null_count = k < 200 ? 0 : k < 230 ? -1 : k < 245 ? 1 + k % 3 : -2 - k % 3;
    unsigned char *bitmap = NULL;
    if (take_u8(in) >= 160 && length >= 0 && length <= 8 * MAX_DATA) {
        size_t bytes = (size_t)(length + 7) / 8;
        bitmap = amalloc(s, bytes);
        memset(bitmap, 0xff, bytes);
        if (bytes > 0 && take_u8(in) >= 128) /* one unset bit somewhere */
            bitmap[take_u16(in) % bytes] &= (unsigned char)~(1u << (take_u8(in) % 8));
    }
    if (a->n_buffers >= 1 && a->buffers != NULL)
        a->buffers[0] = bitmap;
    if (a->null_count < -1)
        add(s, XBUF_EINVAL);
    else if (a->null_count > 0)
        add(s, XBUF_EUNSUPPORTED);
    else if (a->null_count == -1 && bitmap != NULL && count <= length) {
        for (ptrdiff_t i = 0; i < count; i++)
            if (((bitmap[i / 8] >> (i % 8)) & 1) == 0) {
                add(s, XBUF_EUNSUPPORTED);
                break;
            }
    }
}

/* The structural fields every node has: n_buffers and the buffers array,
 * n_children and the children arrays.  `want_*` are the honest values. */
static bool layout(story *s, struct ArrowSchema *sc, struct ArrowArray *a, int want_buffers,
                   int want_children, node *n)
{
    fuzz_input *in = &s->in;
    uint8_t k = take_u8(in);
    bool honest = k < 224;
    a->n_buffers = honest ? want_buffers : (int64_t)(k % 5) - 1;
    int nb = a->n_buffers >= 0 && a->n_buffers <= 4 ? (int)a->n_buffers : 0;
    a->buffers = take_u8(in) < 248 ? amalloc(s, (size_t)nb * sizeof(void *)) : NULL;
    for (int i = 0; a->buffers != NULL && i < nb; i++)
        a->buffers[i] = NULL;
    uint8_t c = take_u8(in);
    sc->n_children = c < 232 ? want_children : (int64_t)(c % 4) - 1;
    a->n_children = c < 232 || c % 2 ? sc->n_children : want_children;
    int nc = want_children; /* the arrays hold the honest number of slots */
    bool null_children = take_u8(in) >= 250;
    sc->children = nc > 0 && !null_children ? amalloc(s, (size_t)nc * sizeof *sc->children) : NULL;
    a->children = nc > 0 && !null_children ? amalloc(s, (size_t)nc * sizeof *a->children) : NULL;
    if (nc == 0 && take_u8(in) >= 250) { /* a leaf with children arrays anyway (ignored) */
        sc->children = NULL;
        a->children = NULL;
    }
    n->nchildren = a->children != NULL ? nc : 0;
    n->children = a->children;
    bool ok = a->n_buffers == want_buffers && a->buffers != NULL &&
              sc->n_children == want_children && a->n_children == want_children &&
              (want_children == 0 || (sc->children != NULL && a->children != NULL));
    if (!ok)
        add(s, XBUF_EINVAL);
    return ok;
}

static void build_node(story *s, int depth, int levels, ptrdiff_t count, struct ArrowSchema *sc,
                       struct ArrowArray *a, bool base);

/* A node of a fixed-size list level. */
static void build_list(story *s, int depth, int levels, ptrdiff_t count, struct ArrowSchema *sc,
                       struct ArrowArray *a, node *n)
{
    fuzz_input *in = &s->in;
    /* The list's size, and maybe a tensor's extents whose product it is. */
    ptrdiff_t ext[4];
    int next = (int)(take_u8(in) % 4);
    ptrdiff_t size = 1;
    for (int i = 0; i < next; i++) {
        ext[i] = take_u8(in) % 4;
        size *= ext[i];
    }
    if (next == 0 || levels > 8)
        size = levels > 8 ? 1 : take_u8(in) % 6;
    char *format = amalloc(s, 40);
    uint8_t f = take_u8(in);
    bool size_ok = true;
    if (f < 232) {
        snprintf(format, 40, "+w:%td", size);
    } else {
        static const char *const bad[] = {"+w:", "+w:x", "+w:-3", "+w:99999999999999999999",
                                          "+w:4611686018427387904", "+w:3 ", "+w:0", "+w:07"};
        snprintf(format, 40, "%s", bad[f % 8]);
        size_ok = model_width(format + 3, &size);
        if (!size_ok)
            add(s, XBUF_EINVAL);
    }
    sc->format = format;
    meta_model mm;
    sc->metadata = make_metadata(s, ext, next, &mm);
    layout(s, sc, a, 1, 1, n);
    nulls(s, a, a->length, count);
    if (mm.status < 0) {
        add(s, XBUF_EINVAL);
    } else if (mm.status == 1) {
        if (!mm.json.known)
            s->wild = true;
        else if (!mm.json.ok)
            add(s, XBUF_EINVAL);
    }
    bool tensor = mm.status == 1 && mm.json.known && mm.json.ok;
    if (mm.status != 0)
        TRACE("tensor-metadata-%s", mm.status < 0 ? "refused" : !mm.json.known ? "raw"
                                    : mm.json.ok ? "ok" : "malformed");
    if (tensor) { /* its extents must hold the list's items */
        fuzz_i128 product = 1;
        for (int i = 0; i < mm.json.ndim; i++)
            product *= mm.json.shape[i]; /* small: from `ext` */
        if (product != size)
            add(s, XBUF_EINVAL);
    }
    int dims = tensor ? mm.json.ndim : 1;
    if (s->ndim + dims > XBUF_MAX_NDIM) {
        add(s, XBUF_EUNSUPPORTED);
    } else if (tensor) {
        for (int i = 0; i < dims; i++) {
            s->shape[s->ndim + i] = mm.json.shape[i];
            s->axis[s->ndim + i] = s->ndim + mm.json.perm[i];
        }
        s->ndim += dims;
    } else {
        s->shape[s->ndim] = size;
        s->axis[s->ndim] = s->ndim;
        s->ndim++;
    }
    fuzz_i128 values = (fuzz_i128)count * size;
    if (size_ok && values > PTRDIFF_MAX)
        add(s, XBUF_EOVERFLOW);
    if (values > PTRDIFF_MAX)
        values = PTRDIFF_MAX;
    if (sc->children == NULL || a->children == NULL)
        return;
    struct ArrowSchema *cs = amalloc(s, sizeof *cs);
    struct ArrowArray *ca = amalloc(s, sizeof *ca);
    sc->children[0] = cs;
    a->children[0] = ca;
    if (take_u8(in) >= 252) { /* a NULL child, in the schema or the array */
        if (take_bool(in))
            sc->children[0] = NULL;
        else
            a->children[0] = NULL;
        add(s, XBUF_EINVAL);
    }
    build_node(s, depth + 1, levels, size_ok ? (ptrdiff_t)values : 0, cs, ca, false);
}

/* A leaf node: format, buffers, data. */
static void build_leaf(story *s, ptrdiff_t count, struct ArrowSchema *sc, struct ArrowArray *a,
                       node *n, const meta_model *mm)
{
    fuzz_input *in = &s->in;
    char *format = amalloc(s, 40);
    uint8_t f = take_u8(in);
    size_t nleaves = sizeof leaves / sizeof leaves[0];
    s->itemsize = 0;
    if (f < 160) {
        size_t i = f % 11; /* the ones that work */
        snprintf(format, 40, "%s", leaves[i].format);
        s->itemsize = leaves[i].itemsize;
        snprintf(s->format, sizeof s->format, "%s", leaves[i].view);
    } else if (f < 200) {
        ptrdiff_t w = take_u8(in) % 24;
        snprintf(format, 40, "w:%td", w);
        s->itemsize = w;
        snprintf(s->format, sizeof s->format, "%tds", w);
        if (w == 0)
            add(s, XBUF_EUNSUPPORTED);
    } else if (f < 236) {
        size_t i = 11 + f % (nleaves - 11);
        snprintf(format, 40, "%s", leaves[i].format);
        add(s, XBUF_EUNSUPPORTED);
    } else if (f < 244) {
        static const char *const bad[] = {"w:", "w:x", "w:-1", "w:99999999999999999999"};
        snprintf(format, 40, "%s", bad[f % 4]);
        add(s, XBUF_EINVAL);
    } else { /* raw: classify it as the header says */
        size_t len = take_u8(in) % 12;
        take_bytes(in, format, len);
        format[len] = '\0';
        ptrdiff_t w = 0;
        const char *table = "cCsSiIlLefg";
        if (strncmp(format, "+w:", 3) == 0) {
            add(s, XBUF_EINVAL); /* a list with a leaf's buffers and no child */
        } else if (strncmp(format, "w:", 2) == 0) {
            if (!model_width(format + 2, &w))
                add(s, XBUF_EINVAL);
            else if (w == 0)
                add(s, XBUF_EUNSUPPORTED);
            s->itemsize = w;
            snprintf(s->format, sizeof s->format, "%tds", w);
        } else if (format[0] != '\0' && format[1] == '\0' && strchr(table, format[0]) != NULL) {
            size_t i = (size_t)(strchr(table, format[0]) - table);
            s->itemsize = leaves[i].itemsize;
            snprintf(s->format, sizeof s->format, "%s", leaves[i].view);
        } else {
            add(s, XBUF_EUNSUPPORTED);
        }
    }
    sc->format = take_u8(in) < 252 ? format : NULL;
    if (sc->format == NULL)
        add(s, XBUF_EINVAL);
    if (mm->status == 1)
        add(s, XBUF_EINVAL); /* a tensor must be a fixed-size list */
    if (mm->status < 0)
        add(s, XBUF_EINVAL);
    layout(s, sc, a, 2, 0, n);
    nulls(s, a, a->length, count);
    fuzz_i128 bytes = (fuzz_i128)count * s->itemsize;
    if (bytes > PTRDIFF_MAX)
        add(s, XBUF_EOVERFLOW);
    /* The data: exactly length * itemsize bytes, fewer (a lie), or NULL. */
    uint8_t d = take_u8(in);
    fuzz_i128 want = (fuzz_i128)(a->length > 0 ? a->length : 0) * s->itemsize;
    unsigned char *data = NULL;
    s->honest = false;
    if (d < 232 && want <= MAX_DATA) {
        data = amalloc(s, (size_t)want);
        uint64_t prng = take_u32(in);
        for (ptrdiff_t i = 0; i < (ptrdiff_t)want; i++)
            data[i] = (unsigned char)prng_next(&prng);
        s->honest = true;
        s->data_items = s->itemsize > 0 ? (ptrdiff_t)(want / s->itemsize) : 0;
    } else if (d < 244 && s->itemsize > 0) {
        data = amalloc(s, (size_t)s->itemsize); /* one item, whatever length says */
        s->data_items = 1;
    }
    if (data == NULL && bytes > 0)
        add(s, XBUF_EINVAL);
    if (a->n_buffers >= 2 && a->buffers != NULL)
        a->buffers[1] = data;
    s->data = data;
}

static void build_node(story *s, int depth, int levels, ptrdiff_t count, struct ArrowSchema *sc,
                       struct ArrowArray *a, bool base)
{
    fuzz_input *in = &s->in;
    memset(sc, 0, sizeof *sc);
    memset(a, 0, sizeof *a);
    node *n = amalloc(s, sizeof *n);
    memset(n, 0, sizeof *n);
    n->s = s;
    n->base = base;
    sc->release = schema_release;
    sc->private_data = s;
    sc->name = depth == 0 ? "column" : "item";
    a->release = array_release;
    a->private_data = n;
    uint8_t l = take_u8(in);
    if (base) { /* the top node's items are its own length */
        a->length = l < 240 ? l % 9 : l < 250 ? -1 : (int64_t)1 << 40;
        count = a->length > 0 ? (ptrdiff_t)a->length : 0;
    } else
        a->length = l < 224 || count > INT64_MAX - 2 ? count
                    : l < 240                        ? count + l % 3
                                                     : count - 1 - l % 2;
    if (!base && a->length < count)
        add(s, XBUF_EINVAL);
    uint8_t odd = take_u8(in);
    if (odd >= 250) {
        a->offset = 1 + odd % 3;
        add(s, XBUF_EUNSUPPORTED);
    }
    if (odd >= 244 && odd < 250) {
        struct ArrowArray *dict = amalloc(s, sizeof *dict);
        memset(dict, 0, sizeof *dict); /* released: nothing to call */
        a->dictionary = dict;
        n->dictionary = dict;
        add(s, XBUF_EUNSUPPORTED);
    }
    if (odd >= 238 && odd < 244) {
        struct ArrowSchema *dict = amalloc(s, sizeof *dict);
        memset(dict, 0, sizeof *dict);
        sc->dictionary = dict;
        add(s, XBUF_EUNSUPPORTED);
    }
    if (depth < levels) {
        build_list(s, depth, levels, count, sc, a, n);
        return;
    }
    meta_model mm;
    sc->metadata = make_metadata(s, NULL, 0, &mm);
    build_leaf(s, count, sc, a, n, &mm);
}

/* ---- checking the import -------------------------------------------------------------- */

/* The view of the tree as the model expects it. */
static void check_view(const story *s, const xbuf_view *v, int64_t length)
{
    CHECK(v->readonly);
    CHECK(v->ndim == s->ndim);
    CHECK(v->itemsize == s->itemsize);
    CHECK(strcmp(v->format, s->format) == 0);
    CHECK(v->buf == s->data || v->len == 0);
    CHECK(v->shape[0] == length);
    for (int i = 0; i < v->ndim; i++)
        CHECK(v->shape[i] == s->shape[s->axis[i]]);
}

/* Every item through the view against the leaf's bytes, by the permutation. */
static void check_items(const story *s, xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    if (v->len == 0)
        return;
    unsigned char *got = xmalloc((size_t)v->len);
    xbuf_error err;
    int rc = xbuf_copy_to_contiguous(got, v->len, v, 'C', &err);
    CHECK_RC(rc == XBUF_OK, rc, err);
    ptrdiff_t pstride[MAX_LEVELS + XBUF_MAX_NDIM], step = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        pstride[i] = step;
        step *= s->shape[i];
    }
    ptrdiff_t index[XBUF_MAX_NDIM] = {0}, items = v->len / v->itemsize;
    for (ptrdiff_t k = 0; k < items; k++) {
        ptrdiff_t at = 0;
        for (int i = 0; i < v->ndim; i++)
            at += index[i] * pstride[s->axis[i]];
        CHECK(at < s->data_items);
        CHECK(memcmp(got + k * v->itemsize, s->data + at * v->itemsize, (size_t)v->itemsize) == 0);
        for (int i = v->ndim - 1; i >= 0 && ++index[i] == v->shape[i]; i--)
            index[i] = 0;
    }
    free(got);
}

/* Export the imported view to Arrow and import that: the same items. */
static void round_trip(story *s, xbuf_mview *m)
{
    xbuf_arrow_options o = XBUF_ARROW_OPTIONS_INIT;
    uint8_t k = take_u8(&s->in);
    o.nd = (xbuf_arrow_nd)(k & 1);
    o.allow_copy = (k >> 1) & 1;
    struct ArrowSchema schema;
    struct ArrowArray array;
    xbuf_error err;
    ptrdiff_t exports = xbuf_mview_exports(m);
    int rc = xbuf_arrow_export(m, &o, &schema, &array, &err);
    if (rc != XBUF_OK) {
        CHECK_RC(rc == XBUF_EUNSUPPORTED, rc, err); /* a permuted tensor without allow_copy */
        CHECK(schema.release == NULL && array.release == NULL);
        return;
    }
    xbuf_mview *back = NULL;
    rc = xbuf_arrow_import(&schema, &array, &back, &err);
    CHECK_RC(rc == XBUF_OK, rc, err); /* xbuf imports what it imported */
    schema.release(&schema);
    const xbuf_view *a = xbuf_mview_view(m), *b = xbuf_mview_view(back);
    CHECK(b->len == a->len && b->itemsize == a->itemsize);
    if (s->honest && a->len > 0) {
        unsigned char *x = xmalloc((size_t)a->len), *y = xmalloc((size_t)a->len);
        CHECK(xbuf_copy_to_contiguous(x, a->len, a, 'C', NULL) == XBUF_OK);
        CHECK(xbuf_copy_to_contiguous(y, b->len, b, 'C', NULL) == XBUF_OK);
        CHECK(memcmp(x, y, (size_t)a->len) == 0);
        free(x);
        free(y);
    }
    xbuf_mview_unref(back);
    CHECK(xbuf_mview_exports(m) == exports);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    story *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->in = (fuzz_input){data, size};
    uint8_t h = take_u8(&s->in);
    int levels = h < 224 ? h % 4 : h < 240 ? 4 + h % 4 : 62 + h % 6;
    struct ArrowSchema *schema = amalloc(s, sizeof *schema);
    struct ArrowArray *array = amalloc(s, sizeof *array);
    s->ndim = 1;
    build_node(s, 0, levels, 0, schema, array, true);
    s->shape[0] = array->length;
    s->axis[0] = 0;
    if (array->length < 0)
        add(s, XBUF_EINVAL);
    /* The top node's count is its own length: judge the rules that need it. */
    /* (build_node was given count 0 for the base; a base length is its own.) */
    uint8_t r = take_u8(&s->in);
    if (r >= 252) {
        array->release = NULL; /* released already */
        add(s, XBUF_EINVAL);
    } else if (r >= 248) {
        schema->release = NULL;
        add(s, XBUF_EINVAL);
    }
    struct ArrowArray before = *array;
    struct ArrowSchema schema_before = *schema;
    xbuf_mview *m = NULL;
    xbuf_error err;
    int rc = xbuf_arrow_import(schema, array, &m, &err);
    unsigned codes = s->codes;
    TRACE("levels-%d-%s", levels > 4 ? 5 : levels,
          rc == XBUF_OK ? (s->honest ? "imported-read" : "imported-unread") : xbuf_strerror(rc));
    TRACE("ndim-%d%s", s->ndim > 4 ? 5 : s->ndim, s->wild ? "-raw-json" : "");
    if (s->wild) /* raw JSON: any outcome but a crash, a leak or a broken rule below */
        CHECK_RC(rc == XBUF_OK || rc == XBUF_EINVAL || rc == XBUF_EUNSUPPORTED ||
                     rc == XBUF_EOVERFLOW,
                 rc, err);
    else if (codes != 0)
        CHECK_RC(rc < 0 && (codes & BIT(rc)) != 0, rc, err);
    else
        CHECK_RC(rc == XBUF_OK, rc, err);
    if (rc != XBUF_OK) {
        CHECK(m == NULL);
        CHECK(memcmp(&before, array, sizeof before) == 0); /* untouched */
        CHECK(memcmp(&schema_before, schema, sizeof *schema) == 0);
        CHECK(s->base_releases == 0 && s->child_releases == 0);
        if (array->release != NULL)
            array->release(array);
        if (schema->release != NULL)
            schema->release(schema);
    } else {
        CHECK(array->release == NULL); /* moved into the view */
        schema->release(schema); /* only read: the view must not need it */
        const xbuf_view *v = xbuf_mview_view(m);
        CHECK(v != NULL);
        TRACE("leaf-%s%s", v->format[strlen(v->format) - 1] == 's' ? "bytes" : v->format,
              before.null_count == -1 ? "-nulls-counted" : "");
        if (!s->wild)
            check_view(s, v, before.length);
        if (s->honest && !s->wild)
            check_items(s, m);
        if (s->honest && !s->wild && s->in.n > 0)
            round_trip(s, m);
        CHECK(s->base_releases == 0);
        xbuf_mview_unref(m);
        CHECK(s->base_releases == 1);
    }
    for (int i = 0; i < s->nallocs; i++)
        free(s->allocs[i]);
    free(s);
    return 0;
}
