/*
 * fuzz_dlpack.c -- libFuzzer target for DLPack import and export (layer 5).
 *
 * Each input builds one managed tensor -- versioned (DLPack 1.x) or legacy
 * -- from its bytes: version, device, ndim (also negative, or past 64),
 * dtype code / bits / lanes, shape (also negative or huge), strides (NULL,
 * small of any sign, or huge), byte_offset, flags, a deleter or none, and
 * data: a pointer into a real allocation of a size the input chooses, or
 * NULL.  Then:
 *
 *   - an independent model of dlpack.h's import rules says whether the
 *     import must succeed, and with which codes it may fail; the import
 *     must agree.  A failed import never calls the deleter (the tensor is
 *     still the caller's, who calls it);
 *   - a successful import gives the view dlpack.h promises: buf = data +
 *     byte_offset, itemsize bits / 8, the dtype's format, the shape, byte
 *     strides (C-contiguous for NULL strides), read-only exactly when the
 *     flag says so;
 *   - xbuf cannot know how big the producer's memory is, so it cannot
 *     refuse a tensor that reaches past it.  The target knows: when every
 *     item lies inside the allocation (an honest tensor), it reads every
 *     item through the view (xbuf_copy_to_contiguous) and compares it with
 *     the item DLPack's own address formula gives.  A dishonest tensor is
 *     imported and released without reading a byte;
 *   - the imported view (sometimes sliced or transposed first) is exported
 *     again, versioned and legacy, with each copy policy: the tensor out
 *     describes the same items (read through the DLPack formula again, for
 *     honest tensors), holds an export of the mview until its deleter runs
 *     (unless it is a copy), and imports back;
 *   - the producer's deleter runs exactly once, after the last mview of the
 *     family is gone; every exported tensor's deleter frees everything
 *     (LeakSanitizer).
 */
#define FUZZ_NAME "fuzz_dlpack"
#include "fuzz_common.h"

#include "xbuf.h"

enum { MAX_ITEMS = 4096, MAX_ALLOC = 1 << 16 };

/* ---- the producer ---------------------------------------------------------- */

typedef struct producer {
    int deletes; /* calls of the deleter */
} producer;

static void delete_versioned(xbuf_dl_managed_tensor_versioned *t)
{
    ((producer *)t->manager_ctx)->deletes++;
}

static void delete_legacy(xbuf_dl_managed_tensor *t)
{
    ((producer *)t->manager_ctx)->deletes++;
}

/* ---- decoding ------------------------------------------------------------------ */

static int32_t take_ndim(fuzz_input *in)
{
    uint8_t k = take_u8(in);
    if (k < 240)
        return k % 7;
    static const int32_t odd[] = {-1, 64, 65, INT32_MIN, 7, 8, 0, 1};
    return odd[k % 8];
}

static xbuf_dl_dtype take_dtype(fuzz_input *in)
{
    static const uint8_t bits[] = {8, 16, 32, 64, 128, 8, 16, 32, 64, 1, 4, 0, 12, 24, 255, 96};
    uint8_t k = take_u8(in);
    xbuf_dl_dtype d;
    d.code = (uint8_t)(k < 224 ? k % 7 : k % 20);
    d.bits = bits[take_u8(in) % 16];
    uint8_t lanes = take_u8(in);
    d.lanes = lanes < 240 ? 1 : (uint16_t)(lanes % 4);
    return d;
}

static int64_t take_extent(fuzz_input *in)
{
    uint8_t k = take_u8(in);
    if (k < 232)
        return k % 9;
    static const int64_t odd[] = {-1, (int64_t)1 << 31, (int64_t)1 << 62, INT64_MAX,
                                  INT64_MIN, 0, 1, 255};
    return odd[k % 8];
}

static int64_t take_stride(fuzz_input *in)
{
    uint8_t k = take_u8(in);
    if (k < 232)
        return (int8_t)take_u8(in) % 12;
    static const int64_t odd[] = {(int64_t)1 << 40, -((int64_t)1 << 40), INT64_MAX, INT64_MIN,
                                  (int64_t)1 << 61, 0, 1, -1};
    return odd[k % 8];
}

static uint64_t take_offset(fuzz_input *in)
{
    uint8_t k = take_u8(in);
    if (k < 232)
        return take_u8(in) % 64;
    static const uint64_t odd[] = {UINT64_MAX, (uint64_t)1 << 63, (uint64_t)INT64_MAX,
                                   (uint64_t)1 << 40, 0, 1, 4096, (uint64_t)-64};
    return odd[k % 8];
}

/* ---- the model -------------------------------------------------------------------- */

/* The PEP 3118 format dlpack.h maps a dtype to ("" when none). */
static const char *model_format(xbuf_dl_dtype d)
{
    if (d.lanes != 1 || d.bits == 0 || d.bits % 8 != 0)
        return "";
    int bytes = d.bits / 8;
    bool little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    switch (d.code) {
    case XBUF_DL_INT:
        return bytes == 1 ? "b" : bytes == 2 ? (little ? "<h" : ">h")
             : bytes == 4 ? (little ? "<i" : ">i") : bytes == 8 ? (little ? "<q" : ">q") : "";
    case XBUF_DL_UINT:
        return bytes == 1 ? "B" : bytes == 2 ? (little ? "<H" : ">H")
             : bytes == 4 ? (little ? "<I" : ">I") : bytes == 8 ? (little ? "<Q" : ">Q") : "";
    case XBUF_DL_FLOAT:
        return bytes == 2 ? (little ? "<e" : ">e") : bytes == 4 ? (little ? "<f" : ">f")
             : bytes == 8 ? (little ? "<d" : ">d") : "";
    case XBUF_DL_COMPLEX:
        return bytes == 4 ? (little ? "<Ze" : ">Ze") : bytes == 8 ? (little ? "<Zf" : ">Zf")
             : bytes == 16 ? (little ? "<Zd" : ">Zd") : "";
    case XBUF_DL_BOOL: return bytes == 1 ? "?" : "";
    default: return "";
    }
}

#define BIT(code) (1u << -(code))

/* The codes the import may fail with -- one per broken rule of those
 * dlpack.h lists, each judged on its own -- or 0 when it must succeed.
 * The import stops at the first broken rule it meets, so its code must be
 * one of these.  Rules are judged only where dlpack.h applies them: the
 * shape only once the header and dtype are fine, data and spans only for a
 * tensor with items. */
static unsigned model_import(const xbuf_dl_managed_tensor_versioned *t, bool legacy)
{
    const xbuf_dl_tensor *dl = &t->dl_tensor;
    unsigned codes = 0;
    if (!legacy && t->version.major != 1)
        codes |= BIT(XBUF_EUNSUPPORTED);
    if (dl->device.device_type != XBUF_DL_CPU)
        codes |= BIT(XBUF_EUNSUPPORTED);
    if (dl->ndim < 0)
        codes |= BIT(XBUF_EINVAL);
    if (dl->ndim > XBUF_MAX_NDIM)
        codes |= BIT(XBUF_EUNSUPPORTED);
    if (dl->ndim > 0 && dl->shape == NULL)
        codes |= BIT(XBUF_EINVAL);
    if (model_format(dl->dtype)[0] == '\0')
        codes |= BIT(XBUF_EUNSUPPORTED);
    if (codes != 0)
        return codes;
    const fuzz_i128 max = PTRDIFF_MAX;
    fuzz_i128 itemsize = dl->dtype.bits / 8, bytes = itemsize;
    bool empty = false;
    for (int i = 0; i < dl->ndim; i++) {
        if (dl->shape[i] < 0)
            return BIT(XBUF_EINVAL);
        empty |= dl->shape[i] == 0;
    }
    for (int i = 0; i < dl->ndim && !empty; i++) {
        bytes *= dl->shape[i];
        if (bytes > max)
            return BIT(XBUF_EOVERFLOW);
    }
    /* Byte strides: each must fit, with or without items. */
    fuzz_i128 stride[XBUF_MAX_NDIM];
    for (int i = dl->ndim - 1; i >= 0; i--) {
        if (dl->strides != NULL)
            stride[i] = (fuzz_i128)dl->strides[i] * itemsize;
        else if (empty)
            stride[i] = 0; /* never used; products may not fit */
        else
            stride[i] = i == dl->ndim - 1 ? itemsize : stride[i + 1] * dl->shape[i + 1];
        if (stride[i] > max || stride[i] < -max - 1)
            codes |= BIT(XBUF_EOVERFLOW);
    }
    if (empty)
        return codes;
    if (dl->data == NULL)
        codes |= BIT(XBUF_EINVAL);
    if (dl->byte_offset > (uint64_t)PTRDIFF_MAX)
        codes |= BIT(XBUF_EOVERFLOW);
    if (codes != 0)
        return codes;
    fuzz_i128 lo = 0, hi = itemsize;
    for (int i = 0; i < dl->ndim; i++) {
        fuzz_i128 span = stride[i] * (dl->shape[i] - 1);
        if (span < 0)
            lo += span;
        else
            hi += span;
        if (span > max || span < -max - 1 || lo < -max - 1 || hi > max)
            return BIT(XBUF_EOVERFLOW);
    }
    if (hi - lo > max)
        return BIT(XBUF_EOVERFLOW); /* "the address range that does not fit in ptrdiff_t" */
    fuzz_i128 first = (fuzz_i128)(uintptr_t)dl->data + (fuzz_i128)dl->byte_offset;
    if (first > (fuzz_i128)UINTPTR_MAX || first + lo < 0 || first + hi > (fuzz_i128)UINTPTR_MAX)
        return BIT(XBUF_EOVERFLOW);
    return 0;
}

/* ---- reading items by DLPack's own formula ------------------------------------------ */

static bool next_index(int ndim, const int64_t *shape, int64_t *index)
{
    for (int d = ndim - 1; d >= 0; d--) {
        if (++index[d] < shape[d])
            return true;
        index[d] = 0;
    }
    return false;
}

/* The address of item `index`: data + byte_offset + sum(i * stride) * bits / 8. */
static const unsigned char *dl_item(const xbuf_dl_tensor *dl, const int64_t *index)
{
    int64_t offset = 0, step = 1;
    for (int d = dl->ndim - 1; d >= 0; d--) {
        int64_t stride = dl->strides != NULL ? dl->strides[d] : step;
        offset += index[d] * stride;
        step *= dl->shape[d];
    }
    return (const unsigned char *)dl->data + dl->byte_offset + offset * (dl->dtype.bits / 8);
}

static int64_t dl_items(const xbuf_dl_tensor *dl)
{
    for (int d = 0; d < dl->ndim; d++)
        if (dl->shape[d] == 0)
            return 0; /* the other extents' product may not fit */
    int64_t n = 1;
    for (int d = 0; d < dl->ndim; d++)
        n *= dl->shape[d];
    return n;
}

/* Every item's bytes, in C order (n items of `itemsize`). */
static unsigned char *dl_gather(const xbuf_dl_tensor *dl, int64_t n)
{
    size_t itemsize = dl->dtype.bits / 8;
    unsigned char *out = xmalloc((size_t)n * itemsize);
    int64_t index[XBUF_MAX_NDIM] = {0};
    for (int64_t k = 0; k < n; k++) {
        memcpy(out + (size_t)k * itemsize, dl_item(dl, index), itemsize);
        next_index(dl->ndim, dl->shape, index);
    }
    return out;
}

/* Whether every item lies inside [base, base + size): computed without
 * forming any out-of-range pointer. */
static bool honest(const xbuf_dl_tensor *dl, const unsigned char *base, size_t size)
{
    if (dl->data == NULL)
        return false;
    fuzz_i128 itemsize = dl->dtype.bits / 8, lo = 0, hi = itemsize, step = 1;
    for (int d = dl->ndim - 1; d >= 0; d--) {
        fuzz_i128 stride = dl->strides != NULL ? dl->strides[d] : step;
        fuzz_i128 span = stride * (dl->shape[d] - 1) * itemsize;
        if (span < 0)
            lo += span;
        else
            hi += span;
        step *= dl->shape[d];
    }
    fuzz_i128 first = (fuzz_i128)((uintptr_t)dl->data - (uintptr_t)base) + dl->byte_offset;
    return first + lo >= 0 && first + hi <= (fuzz_i128)size;
}

/* ---- the story ------------------------------------------------------------------------ */

typedef struct story {
    fuzz_input in;
    unsigned char *alloc;
    size_t size;
    producer prod;
    int64_t shape[XBUF_MAX_NDIM + 2], strides[XBUF_MAX_NDIM + 2];
    xbuf_dl_managed_tensor_versioned t;
    xbuf_dl_managed_tensor lt;
    bool legacy, honest;
    int64_t items;
} story;

/* Fill the tensor from the input.  The versioned struct holds the fields;
 * the legacy one gets a copy of dl_tensor. */
static void build(story *s)
{
    fuzz_input *in = &s->in;
    uint8_t h = take_u8(in);
    s->legacy = h & 1;
    uint16_t size = take_u16(in);
    s->size = size & 0x8000 ? size : size & 0x7ff;
    s->alloc = malloc(s->size); /* exactly: one byte past is an ASan report */
    if (s->alloc == NULL)
        s->alloc = malloc(1);
    CHECK(s->alloc != NULL);
    uint64_t prng = take_u32(in);
    for (size_t i = 0; i < s->size; i++)
        s->alloc[i] = (unsigned char)prng_next(&prng);

    xbuf_dl_managed_tensor_versioned *t = &s->t;
    uint8_t v = take_u8(in);
    t->version.major = v < 240 ? 1 : v % 3;
    t->version.minor = take_u8(in) % 4;
    t->flags = take_u8(in) < 192 ? 0 : take_u64(in);
    uint8_t dev = take_u8(in);
    t->dl_tensor.device.device_type = dev < 240 ? XBUF_DL_CPU : dev % 20;
    t->dl_tensor.device.device_id = dev < 240 ? 0 : (int32_t)take_u8(in);
    xbuf_dl_tensor *dl = &t->dl_tensor;
    dl->ndim = take_ndim(in);
    dl->dtype = take_dtype(in);
    int n = dl->ndim < 0 ? 0 : dl->ndim > XBUF_MAX_NDIM + 2 ? XBUF_MAX_NDIM + 2 : dl->ndim;
    for (int i = 0; i < n; i++) {
        s->shape[i] = i < 8 ? take_extent(in) : 1;
        s->strides[i] = i < 8 ? take_stride(in) : 0;
    }
    /* Small shapes: cap the items so that a read of all of them is quick. */
    for (;;) {
        fuzz_i128 items = 1;
        int largest = -1;
        for (int i = 0; i < n; i++) {
            items *= s->shape[i] < 0 ? 0 : s->shape[i];
            if (s->shape[i] > 1 && s->shape[i] <= 64 &&
                (largest < 0 || s->shape[i] > s->shape[largest]))
                largest = i;
            if (items > ((fuzz_i128)1 << 64))
                items = (fuzz_i128)1 << 64;
        }
        if (items <= MAX_ITEMS || largest < 0)
            break;
        s->shape[largest] /= 2;
    }
    dl->shape = (h & 2) && n > 0 ? NULL : s->shape;
    dl->strides = h & 4 ? NULL : s->strides;
    dl->byte_offset = take_offset(in);
    /* Data: inside the allocation (often at its start, end or middle), NULL,
     * or a made-up address. */
    uint8_t where = take_u8(in);
    size_t at = s->size > 0 ? take_u16(in) % (s->size + 1) : 0;
    if (where < 200)
        dl->data = s->alloc + at;
    else if (where < 240)
        dl->data = NULL;
    else
        dl->data = (void *)(uintptr_t)take_u64(in); /* never read: not honest */
    t->manager_ctx = &s->prod;
    t->deleter = take_u8(in) < 240 ? delete_versioned : NULL;
    if (s->legacy) {
        s->lt.dl_tensor = *dl;
        s->lt.manager_ctx = &s->prod;
        s->lt.deleter = t->deleter != NULL ? delete_legacy : NULL;
    }
    s->honest = false;
    s->items = 0;
}

/* Whether the tensor, as the model sees it, is importable and all in the
 * allocation (then its items are read). */
static void judge(story *s, unsigned codes)
{
    const xbuf_dl_tensor *dl = &s->t.dl_tensor;
    if (codes != 0)
        return;
    s->items = dl_items(dl);
    /* Honest and small enough to read (stride 0 makes many items of few bytes). */
    const unsigned char *data = dl->data;
    s->honest = s->items <= MAX_ITEMS &&
                (s->items == 0 || (data != NULL && data >= s->alloc &&
                                   data <= s->alloc + s->size && honest(dl, s->alloc, s->size)));
}

/* The view promised for the tensor. */
static void check_imported(const story *s, xbuf_mview *m)
{
    const xbuf_dl_tensor *dl = &s->t.dl_tensor;
    const xbuf_view *v = xbuf_mview_view(m);
    CHECK(v != NULL);
    ptrdiff_t itemsize = dl->dtype.bits / 8;
    CHECK(v->itemsize == itemsize && v->ndim == dl->ndim);
    CHECK(strcmp(v->format, model_format(dl->dtype)) == 0);
    CHECK((v->readonly != 0) == (!s->legacy && (s->t.flags & XBUF_DL_FLAG_READ_ONLY)));
    CHECK(v->len == s->items * itemsize);
    if (s->items > 0)
        CHECK(v->buf == (char *)dl->data + dl->byte_offset);
    ptrdiff_t step = itemsize;
    for (int d = dl->ndim - 1; d >= 0; d--) {
        CHECK(v->shape[d] == dl->shape[d]);
        ptrdiff_t stride = dl->strides != NULL ? (ptrdiff_t)dl->strides[d] * itemsize : step;
        if (s->items > 0)
            CHECK(v->strides[d] == stride);
        if (s->items > 0)
            step *= dl->shape[d];
    }
    CHECK(v->suboffsets == NULL);
}

/* Read every item of an honest tensor through the view and through the
 * DLPack formula: the same bytes. */
static void check_items(const xbuf_dl_tensor *dl, xbuf_mview *m, int64_t items)
{
    const xbuf_view *v = xbuf_mview_view(m);
    unsigned char *got = xmalloc((size_t)v->len);
    xbuf_error err;
    int rc = xbuf_copy_to_contiguous(got, v->len, v, 'C', &err);
    CHECK_RC(rc == XBUF_OK, rc, err);
    unsigned char *want = dl_gather(dl, items);
    CHECK(memcmp(got, want, (size_t)v->len) == 0);
    free(want);
    free(got);
}

/* A derived view to export: the view itself, a slice or a transpose. */
static xbuf_mview *derive(story *s, xbuf_mview *m)
{
    const xbuf_view *v = xbuf_mview_view(m);
    xbuf_mview *out = NULL;
    switch (take_u8(&s->in) % 4) {
    case 1:
        if (xbuf_mview_transpose(m, &out, NULL) == XBUF_OK)
            return out;
        break;
    case 2:
        if (v->ndim > 0) {
            xbuf_slice sl = {XBUF_SLICE_NONE, XBUF_SLICE_NONE, (int8_t)take_u8(&s->in) % 4};
            if (sl.step == 0)
                sl.step = -1;
            if (xbuf_mview_slice(m, &sl, 1, &out, NULL) == XBUF_OK)
                return out;
        }
        break;
    case 3:
        if (xbuf_mview_cast(m, "B", 0, NULL, &out, NULL) == XBUF_OK)
            return out; /* bytes: DLPack uint8 */
        break;
    default: break;
    }
    return xbuf_mview_retain(m);
}

/* Export `m` again and check the tensor: same items, holding an export of
 * m until deleted (unless copied), importable. */
static void round_trip(story *s, xbuf_mview *m, bool read)
{
    const xbuf_view *v = xbuf_mview_view(m);
    xbuf_dlpack_copy copy = (xbuf_dlpack_copy)(take_u8(&s->in) % 3);
    if (!read)
        copy = XBUF_DLPACK_COPY_NEVER; /* a copy reads the items: not past the memory */
    bool legacy = take_bool(&s->in);
    ptrdiff_t exports = xbuf_mview_exports(m);
    xbuf_dl_managed_tensor_versioned *t = NULL;
    xbuf_dl_managed_tensor *lt = NULL;
    xbuf_error err;
    int rc = legacy ? xbuf_dlpack_export_legacy(m, copy, &lt, &err)
                    : xbuf_dlpack_export(m, copy, &t, &err);
    TRACE("re-export-%s-%s", legacy ? "legacy" : "versioned",
          rc != XBUF_OK ? "refused" : (legacy ? xbuf_mview_exports(m) == exports
                                              : (t->flags & XBUF_DL_FLAG_IS_COPIED) != 0)
                                          ? "copied" : "shared");
    if (rc != XBUF_OK) {
        /* Only a zero-copy refusal: the dtype came from DLPack. */
        CHECK_RC(rc == XBUF_EUNSUPPORTED && copy == XBUF_DLPACK_COPY_NEVER, rc, err);
        CHECK(xbuf_mview_exports(m) == exports);
        return;
    }
    xbuf_dl_tensor *dl = legacy ? &lt->dl_tensor : &t->dl_tensor;
    bool copied = !legacy ? (t->flags & XBUF_DL_FLAG_IS_COPIED) != 0
                          : xbuf_mview_exports(m) == exports;
    CHECK(copied || copy != XBUF_DLPACK_COPY_ALWAYS);
    CHECK(xbuf_mview_exports(m) == exports + (copied ? 0 : 1));
    if (!legacy)
        CHECK(((t->flags & XBUF_DL_FLAG_READ_ONLY) != 0) == (!copied && v->readonly));
    CHECK(t == NULL || (t->version.major == 1 && t->deleter != NULL));
    CHECK(dl->ndim == v->ndim && dl->device.device_type == XBUF_DL_CPU);
    CHECK(dl->dtype.bits == v->itemsize * 8 && dl->dtype.lanes == 1);
    CHECK(dl->ndim == 0 || (dl->shape != NULL && dl->strides != NULL));
    for (int d = 0; d < dl->ndim; d++)
        CHECK(dl->shape[d] == v->shape[d]);
    int64_t items = dl_items(dl);
    CHECK(items * v->itemsize == v->len);
    if (read && items > 0) {
        check_items(dl, m, items); /* the view's items, by DLPack's formula on the copy */
        CHECK(!copied || (uintptr_t)dl->data % 256 == 0); /* copies are 256-byte aligned */
    }
    /* What xbuf exports, xbuf imports. */
    xbuf_mview *back = NULL;
    rc = legacy ? xbuf_dlpack_import_legacy(lt, &back, &err)
                : xbuf_dlpack_import(t, &back, &err);
    CHECK_RC(rc == XBUF_OK, rc, err);
    if (read && items > 0) {
        bool equal = false;
        CHECK(xbuf_equal(xbuf_mview_view(back), v, &equal, &err) == XBUF_OK);
        if (dl->dtype.code != XBUF_DL_FLOAT && dl->dtype.code != XBUF_DL_COMPLEX)
            CHECK(equal); /* no NaN among integers and bools */
    }
    xbuf_mview_unref(back); /* calls the exported tensor's deleter */
    CHECK(xbuf_mview_exports(m) == exports);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    story *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->in = (fuzz_input){data, size};
    build(s);
    unsigned codes = model_import(&s->t, s->legacy);
    judge(s, codes);
    xbuf_mview *m = NULL;
    xbuf_error err;
    int rc = s->legacy ? xbuf_dlpack_import_legacy(&s->lt, &m, &err)
                       : xbuf_dlpack_import(&s->t, &m, &err);
    TRACE("%s-%s", s->legacy ? "legacy" : "versioned",
          rc == XBUF_OK ? (s->honest ? "imported-read" : "imported-unread") : xbuf_strerror(rc));
    if (codes != 0) {
        CHECK_RC(rc < 0 && (codes & BIT(rc)) != 0, rc, err);
        CHECK(m == NULL && s->prod.deletes == 0); /* never on a failed import */
    } else {
        CHECK_RC(rc == XBUF_OK, rc, err);
#ifdef FUZZ_TRACE
        const xbuf_dl_tensor *dl = &s->t.dl_tensor;
        bool negative = false, zero = false;
        for (int i = 0; dl->strides != NULL && i < dl->ndim; i++) {
            negative |= dl->strides[i] < 0;
            zero |= dl->strides[i] == 0 && dl->shape[i] > 1;
        }
        const char *code = model_format(dl->dtype);
        TRACE("dtype-%s", code + (code[0] == '<' || code[0] == '>'));
        TRACE("ndim-%d", dl->ndim);
        TRACE("strides-%s%s%s%s", dl->strides == NULL ? "null" : "given",
              negative ? "-negative" : "", zero ? "-zero" : "",
              dl->byte_offset > 0 ? "-byte-offset" : "");
#endif
        check_imported(s, m);
        if (s->honest && s->items > 0)
            check_items(&s->t.dl_tensor, m, s->items);
        for (int round = 0; round < 3 && s->in.n > 0; round++) {
            xbuf_mview *d = derive(s, m);
            round_trip(s, d, s->honest);
            xbuf_mview_unref(d);
        }
        CHECK(s->prod.deletes == 0);
        xbuf_mview_unref(m);
        CHECK(s->prod.deletes == (s->t.deleter != NULL ? 1 : 0));
    }
    free(s->alloc);
    free(s);
    return 0;
}
