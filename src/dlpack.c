/*
 * dlpack.c -- views to and from DLPack managed tensors (layer 5).
 *
 * Ownership rules, in one place:
 *   - Export: one allocation (an export_block) holds the managed tensor,
 *     its shape and strides, the view taken from the mview's exporter (so
 *     the mview counts the tensor as an export) and, when the items had to
 *     be copied, the copy -- in which case no view is held.  The deleter
 *     releases the view and frees the block; nothing else does.
 *   - Import: one allocation (an import_block) holds the byte shape and
 *     strides and the format of the view handed to xbuf_mview_from_view.
 *     The view's release hook -- run once, by the mview family when its
 *     last member lets go -- frees the block and calls the producer's
 *     deleter.  Until xbuf_mview_from_view has succeeded the tensor is the
 *     caller's: every failure frees the block without calling the deleter.
 */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- the ABI, checked against dlpack.h's layout ------------------------- */

/* dlpack.h declares device_type as a C enum: int-sized on every ABI. */
_Static_assert(sizeof(int) == sizeof(int32_t), "DLDeviceType is an int");
_Static_assert(sizeof(xbuf_dlpack_version) == 8, "DLPackVersion");
_Static_assert(sizeof(xbuf_dl_device) == 8, "DLDevice");
_Static_assert(sizeof(xbuf_dl_dtype) == 4, "DLDataType");
_Static_assert(offsetof(xbuf_dl_dtype, bits) == 1 && offsetof(xbuf_dl_dtype, lanes) == 2,
               "DLDataType");
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(offsetof(xbuf_dl_tensor, device) == 8, "DLTensor.device");
_Static_assert(offsetof(xbuf_dl_tensor, ndim) == 16, "DLTensor.ndim");
_Static_assert(offsetof(xbuf_dl_tensor, dtype) == 20, "DLTensor.dtype");
_Static_assert(offsetof(xbuf_dl_tensor, shape) == 24, "DLTensor.shape");
_Static_assert(offsetof(xbuf_dl_tensor, strides) == 32, "DLTensor.strides");
_Static_assert(offsetof(xbuf_dl_tensor, byte_offset) == 40, "DLTensor.byte_offset");
_Static_assert(sizeof(xbuf_dl_tensor) == 48, "DLTensor");
_Static_assert(offsetof(xbuf_dl_managed_tensor, manager_ctx) == 48, "DLManagedTensor");
_Static_assert(offsetof(xbuf_dl_managed_tensor, deleter) == 56, "DLManagedTensor");
_Static_assert(sizeof(xbuf_dl_managed_tensor) == 64, "DLManagedTensor");
_Static_assert(offsetof(xbuf_dl_managed_tensor_versioned, manager_ctx) == 8,
               "DLManagedTensorVersioned.manager_ctx");
_Static_assert(offsetof(xbuf_dl_managed_tensor_versioned, deleter) == 16,
               "DLManagedTensorVersioned.deleter");
_Static_assert(offsetof(xbuf_dl_managed_tensor_versioned, flags) == 24,
               "DLManagedTensorVersioned.flags");
_Static_assert(offsetof(xbuf_dl_managed_tensor_versioned, dl_tensor) == 32,
               "DLManagedTensorVersioned.dl_tensor");
_Static_assert(sizeof(xbuf_dl_managed_tensor_versioned) == 80, "DLManagedTensorVersioned");
#endif

/* Shapes and strides pass between int64_t and ptrdiff_t; the checks below
 * rely on ptrdiff_t being no wider. */
_Static_assert(PTRDIFF_MAX <= INT64_MAX, "ptrdiff_t wider than int64_t");

/* DLPack's recommended alignment for data, used for the copies xbuf makes. */
#define DATA_ALIGN 256

/* "long double is double": then g and Zg are float64 / complex128. */
#define LONG_DOUBLE_IS_DOUBLE (LDBL_MANT_DIG == DBL_MANT_DIG && LDBL_MAX_EXP == DBL_MAX_EXP)

/* ---- formats <-> dtypes ------------------------------------------------- */

/* codes[0..3]: the format code for 1, 2, 4 and 8 bytes ('\0': none). */
static char sized_code(const char *codes, ptrdiff_t bytes)
{
    switch (bytes) {
    case 1: return codes[0];
    case 2: return codes[1];
    case 4: return codes[2];
    case 8: return codes[3];
    default: return 0;
    }
}

/* The format code of a dtype of `bytes` bytes per item; 0 when the
 * dtype has none. */
static char dtype_code(uint8_t code, ptrdiff_t bytes)
{
    switch (code) {
    case XBUF_DL_INT: return sized_code("bhiq", bytes);
    case XBUF_DL_UINT: return sized_code("BHIQ", bytes);
    case XBUF_DL_FLOAT: return sized_code("\0efd", bytes);
    case XBUF_DL_COMPLEX: return bytes % 2 == 0 ? sized_code("\0efd", bytes / 2) : 0;
    case XBUF_DL_BOOL: return bytes == 1 ? '?' : 0;
    default: return 0;
    }
}

static const char *dtype_name(uint8_t code)
{
    static const char *const names[] = {"int", "uint", "float", "opaque handle", "bfloat",
                                        "complex", "bool"};
    if (code < sizeof names / sizeof names[0])
        return names[code];
    return code <= XBUF_DL_FLOAT4_E2M1FN ? "float8/6/4" : "unknown";
}

/*
 * The PEP 3118 format (NUL-terminated, at most 4 bytes) of a DLPack dtype,
 * with the native byte order explicit wherever one applies, so that the
 * view says exactly what the producer meant.
 */
static int dtype_format(xbuf_dl_dtype dtype, char format[5], xbuf_error *err)
{
    RETURN_ERROR_IF(dtype.lanes != 1, err, XBUF_EUNSUPPORTED,
                    "DLPack dtype with %u lanes: vector types have no PEP 3118 format",
                    (unsigned)dtype.lanes);
    RETURN_ERROR_IF(dtype.bits == 0 || dtype.bits % 8 != 0, err, XBUF_EUNSUPPORTED,
                    "DLPack dtype of %u bits: only whole bytes are supported",
                    (unsigned)dtype.bits);
    char code = dtype_code(dtype.code, dtype.bits / 8);
    RETURN_ERROR_IF(code == 0, err, XBUF_EUNSUPPORTED,
                    "DLPack dtype %s (code %u) of %u bits has no PEP 3118 format",
                    dtype_name(dtype.code), (unsigned)dtype.code, (unsigned)dtype.bits);
    char *p = format;
    if (dtype.bits > 8)
        *p++ = XBUF_NATIVE_ORDER;
    if (dtype.code == XBUF_DL_COMPLEX)
        *p++ = 'Z';
    *p++ = code;
    *p = '\0';
    return XBUF_OK;
}

/* Bit fields parse as a struct holding the run of them. */
static bool is_bit_run(const xbuf_type *t)
{
    for (ptrdiff_t i = 0; i < t->nfields; i++)
        if (t->fields[i].type->kind != XBUF_KIND_BITS)
            return false;
    return t->kind == XBUF_KIND_STRUCT && t->nfields > 0;
}

/* What a parsed item type is, for messages about types DLPack lacks. */
static const char *kind_refusal(const xbuf_type *t)
{
    if (is_bit_run(t))
        return "bit fields have no DLPack dtype";
    switch (t->kind) {
    case XBUF_KIND_STRUCT: return "records have no DLPack dtype";
    case XBUF_KIND_ARRAY: return "sub-array items have no DLPack dtype";
    case XBUF_KIND_CHAR:
        return "chars ('c') are one-byte strings, which have no DLPack dtype "
               "(cast the view to 'B' to export its bytes)";
    case XBUF_KIND_BYTES:
    case XBUF_KIND_PASCAL:
    case XBUF_KIND_UCS2:
    case XBUF_KIND_UCS4: return "strings have no DLPack dtype";
    case XBUF_KIND_BITS: return "bit fields have no DLPack dtype";
    case XBUF_KIND_OBJECT: return "objects have no DLPack dtype";
    case XBUF_KIND_VOIDP:
    case XBUF_KIND_POINTER:
    case XBUF_KIND_FUNCTION: return "pointers have no DLPack dtype";
    case XBUF_KIND_VOID: return "opaque bytes ('x') have no DLPack dtype";
    default: return "this item type has no DLPack dtype";
    }
}

/* The dtype of one item of `t`; *swap when its byte order is not the
 * host's (which only a copy can fix). */
static int dtype_of_type(const xbuf_type *t, xbuf_dl_dtype *dtype, bool *swap, xbuf_error *err)
{
    static const uint8_t codes[] = {
        [XBUF_KIND_INT] = XBUF_DL_INT,     [XBUF_KIND_UINT] = XBUF_DL_UINT,
        [XBUF_KIND_BOOL] = XBUF_DL_BOOL,   [XBUF_KIND_FLOAT] = XBUF_DL_FLOAT,
        [XBUF_KIND_COMPLEX] = XBUF_DL_COMPLEX,
    };
    bool numeric = t->kind == XBUF_KIND_INT || t->kind == XBUF_KIND_UINT ||
                   t->kind == XBUF_KIND_BOOL || t->kind == XBUF_KIND_FLOAT ||
                   t->kind == XBUF_KIND_COMPLEX;
    RETURN_ERROR_IF(!numeric, err, XBUF_EUNSUPPORTED, "cannot export to DLPack: %s",
                    kind_refusal(t));
    /* Long double is x87 extended (or binary128) on most hosts: calling it
     * kDLFloat 128 would make consumers read it as something it is not. */
    RETURN_ERROR_IF(t->code == 'g' && !LONG_DOUBLE_IS_DOUBLE, err, XBUF_EUNSUPPORTED,
                    "cannot export to DLPack: long double ('%sg') is wider than double "
                    "here and has no DLPack dtype",
                    t->kind == XBUF_KIND_COMPLEX ? "Z" : "");
    *dtype = (xbuf_dl_dtype){codes[t->kind], (uint8_t)(t->itemsize * 8), 1};
    *swap = t->byteorder != XBUF_NO_ORDER && t->byteorder != XBUF_NATIVE_ORDER;
    return XBUF_OK;
}

/* The dtype of a view's items, as its format reads them. */
static int dtype_of_view(const xbuf_view *v, xbuf_dl_dtype *dtype, bool *swap, xbuf_error *err)
{
    xbuf_format *format;
    RETURN_IF_FAILED(xbuf_view_format(v, &format, err));
    const xbuf_type *t = xbuf_format_type(format);
    int rc = dtype_of_type(t, dtype, swap, err);
    if (rc == XBUF_OK && t->itemsize != v->itemsize)
        rc = xbuf_error_set(err, XBUF_EUNSUPPORTED,
                            "cannot export to DLPack: the itemsize %td differs from the "
                            "size %td of the format '%.40s'",
                            v->itemsize, t->itemsize, v->format ? v->format : "B");
    xbuf_format_release(format);
    return rc;
}

/* ---- export ------------------------------------------------------------- */

typedef struct export_block {
    union {
        xbuf_dl_managed_tensor_versioned versioned;
        xbuf_dl_managed_tensor legacy;
    } tensor;       /* first: the deleter's argument is the block */
    size_t size;    /* of this allocation, for the sized free */
    xbuf_view view; /* the export held; zeroed when the tensor owns a copy */
    int64_t dims[]; /* shape[ndim], strides[ndim]; then room for a copy */
} export_block;

/* What an export builds before it knows which struct it fills. */
typedef struct export_result {
    export_block *block;
    xbuf_dl_tensor tensor;
    bool copied, readonly;
} export_result;

static void export_block_free(export_block *b)
{
    xbuf_release(&b->view);
    xbuf_free(b, b->size);
}

static void delete_versioned(xbuf_dl_managed_tensor_versioned *t)
{
    if (t != NULL)
        export_block_free((export_block *)(void *)t);
}

static void delete_legacy(xbuf_dl_managed_tensor *t)
{
    if (t != NULL)
        export_block_free((export_block *)(void *)t);
}

static bool has_items(const xbuf_view *v)
{
    for (int i = 0; i < v->ndim; i++)
        if (v->shape[i] == 0)
            return false;
    return true;
}

/* Strides and alignment of a direct view: whether DLPack cannot step
 * through its items in whole, aligned elements (the reason in `why`). */
static bool layout_obstacle(const xbuf_view *v, xbuf_dl_dtype dtype, char *why, size_t size)
{
    if (!has_items(v))
        return false; /* nothing is ever addressed */
    for (int i = 0; i < v->ndim; i++) {
        if (v->shape[i] > 1 && v->strides[i] % v->itemsize != 0) {
            snprintf(why, size,
                     "the stride %td of dimension %d is not a multiple of the itemsize %td",
                     v->strides[i], i, v->itemsize);
            return true;
        }
    }
    /* Strides are multiples of the itemsize now, so buf decides alone. */
    uintptr_t align = dtype.code == XBUF_DL_COMPLEX ? dtype.bits / 16u : dtype.bits / 8u;
    if ((uintptr_t)v->buf % align != 0) {
        snprintf(why, size, "the items are not aligned to %u bytes", (unsigned)align);
        return true;
    }
    return false;
}

/* Why the tensor cannot describe `v`'s memory as it is, written into
 * `why`; false when it can. */
static bool zero_copy_obstacle(const xbuf_view *v, xbuf_dl_dtype dtype, bool swap, bool legacy,
                               char *why, size_t size)
{
    if (swap) {
        snprintf(why, size, "the format '%.40s' is not in native byte order",
                 v->format != NULL ? v->format : "B");
        return true;
    }
    if (xbuf_first_indirect(v) >= 0) {
        snprintf(why, size, "the view has suboffsets (an indirect, PIL-style layout)");
        return true;
    }
    if (layout_obstacle(v, dtype, why, size))
        return true;
    if (legacy && v->readonly) {
        snprintf(why, size, "the view is read-only and a legacy (unversioned) DLPack tensor "
                            "cannot say so; ask for a versioned one");
        return true;
    }
    return false;
}

/* C-contiguous strides in elements.  Only a view without items can have
 * extents whose products overflow (in elements or in bytes, which is what
 * an importer computes); its strides are never used, so 0. */
static void c_strides(int ndim, const ptrdiff_t *shape, ptrdiff_t itemsize, int64_t *strides)
{
    int64_t step = 1, bytes;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = step;
        if (__builtin_mul_overflow(step, (int64_t)shape[i], &step) ||
            __builtin_mul_overflow(step, (int64_t)itemsize, &bytes))
            step = 0;
    }
}

/* The element strides of a view that passed zero_copy_obstacle: its own
 * where they are used, C-contiguous ones where they are not. */
static void element_strides(const xbuf_view *v, int64_t *strides)
{
    c_strides(v->ndim, v->shape, v->itemsize, strides);
    if (!has_items(v))
        return;
    for (int i = 0; i < v->ndim; i++)
        if (v->shape[i] > 1)
            strides[i] = v->strides[i] / v->itemsize;
}

/* Copy the items of `v` into `data`, C-contiguous and in native order. */
static int copy_items(void *data, const xbuf_view *v, xbuf_dl_dtype dtype, bool swap,
                      xbuf_error *err)
{
    if (!swap)
        return xbuf_copy_to_contiguous(data, v->len, v, 'C', err);
    char format[5];
    RETURN_IF_FAILED(dtype_format(dtype, format, err));
    xbuf_view dst = {0};
    dst.buf = data;
    dst.len = v->len;
    dst.itemsize = v->itemsize;
    dst.ndim = v->ndim;
    dst.format = format;
    dst.shape = v->shape;
    return xbuf_copy_convert(&dst, v, XBUF_OVERFLOW_ERROR, err);
}

/* The block for a tensor of `ndim` dimensions, with room for `copy` bytes
 * of items at DATA_ALIGN (copy < 0: no copy). */
static int export_block_new(int ndim, ptrdiff_t copy, export_block **out, xbuf_error *err)
{
    size_t size = sizeof(export_block) + 2 * (size_t)ndim * sizeof(int64_t);
    if (copy >= 0)
        size += (size_t)copy + DATA_ALIGN - 1;
    export_block *b = xbuf_malloc(size);
    RETURN_ERROR_IF(b == NULL, err, XBUF_ENOMEM, "cannot allocate a DLPack tensor");
    memset(b, 0, sizeof *b);
    b->size = size;
    *out = b;
    return XBUF_OK;
}

/* Where a copy goes: past the arrays, at the next DATA_ALIGN boundary
 * (export_block_new left DATA_ALIGN - 1 bytes for the step). */
static void *copy_area(export_block *b, int ndim)
{
    char *p = (char *)(b->dims + 2 * ndim);
    return p + (DATA_ALIGN - (uintptr_t)p % DATA_ALIGN) % DATA_ALIGN;
}

/* Build the tensor for the export `v` (which it moves into the block
 * unless it copies).  `v` has shape and strides: an mview's exports do. */
static int export_view(xbuf_view *v, xbuf_dlpack_copy copy, bool legacy, export_result *r,
                       xbuf_error *err)
{
    int ndim = v->ndim; /* v is zeroed when the block takes it */
    xbuf_dl_dtype dtype;
    bool swap = false;
    RETURN_IF_FAILED(dtype_of_view(v, &dtype, &swap, err));
    char why[160];
    bool obstacle = zero_copy_obstacle(v, dtype, swap, legacy, why, sizeof why);
    RETURN_ERROR_IF(obstacle && copy == XBUF_DLPACK_COPY_NEVER, err, XBUF_EUNSUPPORTED,
                    "cannot export to DLPack without a copy: %s", why);
    r->copied = obstacle || copy == XBUF_DLPACK_COPY_ALWAYS;
    export_block *b = NULL;
    RETURN_IF_FAILED(export_block_new(ndim, r->copied ? v->len : -1, &b, err));
    int64_t *shape = b->dims, *strides = b->dims + ndim;
    for (int i = 0; i < ndim; i++)
        shape[i] = v->shape[i];
    void *data = v->buf;
    if (r->copied) {
        data = copy_area(b, ndim);
        c_strides(ndim, v->shape, v->itemsize, strides);
        int rc = copy_items(data, v, dtype, swap, err);
        if (rc < 0) {
            xbuf_free(b, b->size);
            return rc;
        }
    } else {
        element_strides(v, strides);
        xbuf_view_move(v, &b->view);
    }
    r->block = b;
    r->readonly = !r->copied && b->view.readonly;
    r->tensor = (xbuf_dl_tensor){data, {XBUF_DL_CPU, 0}, ndim, dtype,
                                 ndim > 0 ? shape : NULL, ndim > 0 ? strides : NULL, 0};
    return XBUF_OK;
}

static int export_common(xbuf_mview *m, xbuf_dlpack_copy copy, bool legacy, export_result *r,
                         xbuf_error *err)
{
    RETURN_ERROR_IF(m == NULL, err, XBUF_EINVAL, "view object is NULL");
    RETURN_ERROR_IF(copy != XBUF_DLPACK_COPY_NEVER && copy != XBUF_DLPACK_COPY_IF_NEEDED &&
                        copy != XBUF_DLPACK_COPY_ALWAYS,
                    err, XBUF_EINVAL, "unknown DLPack copy policy %d", (int)copy);
    xbuf_view v;
    RETURN_IF_FAILED(xbuf_get(xbuf_mview_exporter(m), &v, XBUF_FULL_RO, err));
    int rc = export_view(&v, copy, legacy, r, err);
    xbuf_release(&v); /* harmless when the block took it */
    return rc;
}

int xbuf_dlpack_export(xbuf_mview *m, xbuf_dlpack_copy copy,
                       xbuf_dl_managed_tensor_versioned **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    export_result r;
    RETURN_IF_FAILED(export_common(m, copy, false, &r, err));
    xbuf_dl_managed_tensor_versioned *t = &r.block->tensor.versioned;
    t->version = (xbuf_dlpack_version){XBUF_DLPACK_MAJOR, XBUF_DLPACK_MINOR};
    t->manager_ctx = r.block;
    t->deleter = delete_versioned;
    t->flags = (r.readonly ? XBUF_DL_FLAG_READ_ONLY : 0) |
               (r.copied ? XBUF_DL_FLAG_IS_COPIED : 0);
    t->dl_tensor = r.tensor;
    *out = t;
    return XBUF_OK;
}

int xbuf_dlpack_export_legacy(xbuf_mview *m, xbuf_dlpack_copy copy,
                              xbuf_dl_managed_tensor **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    export_result r;
    RETURN_IF_FAILED(export_common(m, copy, true, &r, err));
    xbuf_dl_managed_tensor *t = &r.block->tensor.legacy;
    t->dl_tensor = r.tensor;
    t->manager_ctx = r.block;
    t->deleter = delete_legacy;
    *out = t;
    return XBUF_OK;
}

/* ---- import ------------------------------------------------------------- */

typedef struct import_block {
    size_t size; /* of this allocation, for the sized free */
    xbuf_dl_managed_tensor_versioned *versioned; /* exactly one of the two is set */
    xbuf_dl_managed_tensor *legacy;
    char format[5];
    ptrdiff_t dims[]; /* shape[ndim], strides[ndim] in bytes */
} import_block;

/* The view's release hook: the family's last member has let go. */
static void import_release(xbuf_view *view)
{
    import_block *b = view->internal;
    xbuf_dl_managed_tensor_versioned *versioned = b->versioned;
    xbuf_dl_managed_tensor *legacy = b->legacy;
    xbuf_free(b, b->size);
    if (versioned != NULL && versioned->deleter != NULL)
        versioned->deleter(versioned);
    if (legacy != NULL && legacy->deleter != NULL)
        legacy->deleter(legacy);
}

/* What a tensor's metadata comes to, once checked. */
typedef struct import_layout {
    char format[5];
    ptrdiff_t itemsize, len;
    char *buf;
} import_layout;

static const char *device_name(int32_t type)
{
    static const char *const names[] = {
        [XBUF_DL_CUDA] = "CUDA",           [XBUF_DL_CUDA_HOST] = "CUDA host",
        [XBUF_DL_OPENCL] = "OpenCL",       [XBUF_DL_VULKAN] = "Vulkan",
        [XBUF_DL_METAL] = "Metal",         [XBUF_DL_VPI] = "VPI",
        [XBUF_DL_ROCM] = "ROCm",           [XBUF_DL_ROCM_HOST] = "ROCm host",
        [XBUF_DL_EXT_DEV] = "extension",   [XBUF_DL_CUDA_MANAGED] = "CUDA managed",
        [XBUF_DL_ONEAPI] = "oneAPI",       [XBUF_DL_WEBGPU] = "WebGPU",
        [XBUF_DL_HEXAGON] = "Hexagon",     [XBUF_DL_MAIA] = "MAIA",
    };
    if (type >= 0 && type < (int32_t)(sizeof names / sizeof names[0]) && names[type] != NULL)
        return names[type];
    return "unknown";
}

static int check_header(const xbuf_dl_tensor *dl, xbuf_error *err)
{
    RETURN_ERROR_IF(dl->device.device_type != XBUF_DL_CPU, err, XBUF_EUNSUPPORTED,
                    "cannot import a DLPack tensor on a %s device (type %d, id %d): only "
                    "CPU memory can be viewed",
                    device_name(dl->device.device_type), (int)dl->device.device_type,
                    (int)dl->device.device_id);
    RETURN_ERROR_IF(dl->ndim < 0, err, XBUF_EINVAL, "DLPack tensor with ndim %d",
                    (int)dl->ndim);
    RETURN_ERROR_IF(dl->ndim > XBUF_MAX_NDIM, err, XBUF_EUNSUPPORTED,
                    "DLPack tensor with %d dimensions: views have at most %d",
                    (int)dl->ndim, XBUF_MAX_NDIM);
    RETURN_ERROR_IF(dl->ndim > 0 && dl->shape == NULL, err, XBUF_EINVAL,
                    "DLPack tensor with %d dimensions and no shape", (int)dl->ndim);
    return XBUF_OK;
}

/* Extents in range, and the number of bytes their items take. */
static int check_shape(const xbuf_dl_tensor *dl, ptrdiff_t itemsize, ptrdiff_t *len,
                       xbuf_error *err)
{
    ptrdiff_t n = itemsize;
    bool empty = false;
    for (int i = 0; i < dl->ndim; i++) {
        int64_t extent = dl->shape[i];
        RETURN_ERROR_IF(extent < 0, err, XBUF_EINVAL,
                        "DLPack tensor with extent %lld in dimension %d", (long long)extent, i);
        RETURN_ERROR_IF(extent > PTRDIFF_MAX, err, XBUF_EOVERFLOW,
                        "DLPack tensor with extent %lld: it does not fit in ptrdiff_t",
                        (long long)extent);
        empty |= extent == 0;
    }
    /* Without items the other extents' product may be anything (as views). */
    for (int i = 0; i < dl->ndim && !empty; i++)
        RETURN_ERROR_IF(xbuf_mul_overflow(n, (ptrdiff_t)dl->shape[i], &n), err, XBUF_EOVERFLOW,
                        "DLPack tensor too large: its size overflows");
    *len = empty ? 0 : n;
    return XBUF_OK;
}

/* The byte stride of dimension i (C-contiguous when strides is NULL). */
static int byte_stride(const xbuf_dl_tensor *dl, int i, ptrdiff_t itemsize, ptrdiff_t *out,
                       xbuf_error *err)
{
    if (dl->strides == NULL) {
        /* Products of extents can overflow only in a tensor without items
         * (check_shape covered the others), where no stride is used. */
        ptrdiff_t s = itemsize;
        for (int k = dl->ndim - 1; k > i; k--)
            if (xbuf_mul_overflow(s, (ptrdiff_t)dl->shape[k], &s))
                s = 0;
        *out = s;
        return XBUF_OK;
    }
    int64_t s = dl->strides[i];
    RETURN_ERROR_IF(s < PTRDIFF_MIN || s > PTRDIFF_MAX ||
                        xbuf_mul_overflow((ptrdiff_t)s, itemsize, out),
                    err, XBUF_EOVERFLOW,
                    "DLPack stride %lld of dimension %d overflows in bytes", (long long)s, i);
    return XBUF_OK;
}

/* The address of the first item, checking that every item's address is
 * representable: [base + lo, base + hi) must not wrap around. */
static int check_span(const xbuf_dl_tensor *dl, ptrdiff_t itemsize, char **buf,
                      xbuf_error *err)
{
    RETURN_ERROR_IF(dl->data == NULL, err, XBUF_EINVAL,
                    "DLPack tensor with items but NULL data");
    RETURN_ERROR_IF(dl->byte_offset > (uint64_t)PTRDIFF_MAX, err, XBUF_EOVERFLOW,
                    "DLPack byte_offset %llu overflows", (unsigned long long)dl->byte_offset);
    ptrdiff_t lo = 0, hi = itemsize;
    for (int i = 0; i < dl->ndim; i++) {
        ptrdiff_t stride, span;
        RETURN_IF_FAILED(byte_stride(dl, i, itemsize, &stride, err));
        RETURN_ERROR_IF(xbuf_mul_overflow(stride, (ptrdiff_t)dl->shape[i] - 1, &span) ||
                            xbuf_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi),
                        err, XBUF_EOVERFLOW, "DLPack tensor's memory span overflows");
    }
    RETURN_ERROR_IF(xbuf_sub_overflow(hi, lo, &(ptrdiff_t){0}), err, XBUF_EOVERFLOW,
                    "DLPack tensor's memory span overflows");
    uintptr_t base = (uintptr_t)dl->data;
    uintptr_t first = base + (uintptr_t)dl->byte_offset;
    RETURN_ERROR_IF(first < base || first < 0 - (uintptr_t)lo ||
                        UINTPTR_MAX - first < (uintptr_t)hi,
                    err, XBUF_EOVERFLOW,
                    "DLPack tensor's items lie outside the address space");
    *buf = (char *)dl->data + dl->byte_offset;
    return XBUF_OK;
}

/* Everything about a tensor a view needs, checked; nothing allocated. */
static int check_tensor(const xbuf_dl_tensor *dl, import_layout *l, xbuf_error *err)
{
    RETURN_IF_FAILED(check_header(dl, err));
    RETURN_IF_FAILED(dtype_format(dl->dtype, l->format, err));
    l->itemsize = dl->dtype.bits / 8;
    RETURN_IF_FAILED(check_shape(dl, l->itemsize, &l->len, err));
    l->buf = NULL; /* no items: the data pointer is never read */
    if (l->len > 0)
        RETURN_IF_FAILED(check_span(dl, l->itemsize, &l->buf, err));
    else
        for (int i = 0; i < dl->ndim; i++) {
            ptrdiff_t ignored; /* unused, but a stride must still be a number */
            RETURN_IF_FAILED(byte_stride(dl, i, l->itemsize, &ignored, err));
        }
    return XBUF_OK;
}

/* Build the view of a checked tensor over `b`'s arrays. */
static void import_view(xbuf_view *v, const xbuf_dl_tensor *dl, const import_layout *l,
                        import_block *b, bool readonly)
{
    int ndim = dl->ndim;
    for (int i = 0; i < ndim; i++) {
        b->dims[i] = (ptrdiff_t)dl->shape[i];
        (void)byte_stride(dl, i, l->itemsize, &b->dims[ndim + i], NULL); /* checked */
    }
    memcpy(b->format, l->format, sizeof b->format);
    *v = (xbuf_view){0};
    v->buf = l->buf;
    v->len = l->len;
    v->itemsize = l->itemsize;
    v->readonly = readonly;
    v->ndim = ndim;
    v->format = b->format;
    v->shape = ndim > 0 ? b->dims : NULL;
    v->strides = ndim > 0 ? b->dims + ndim : NULL;
    v->internal = b;
    v->release = import_release;
}

/* Exactly one of versioned and legacy is the tensor `dl` belongs to. */
static int import_common(const xbuf_dl_tensor *dl, bool readonly,
                         xbuf_dl_managed_tensor_versioned *versioned,
                         xbuf_dl_managed_tensor *legacy, xbuf_mview **out, xbuf_error *err)
{
    import_layout l;
    RETURN_IF_FAILED(check_tensor(dl, &l, err));
    size_t size = sizeof(import_block) + 2 * (size_t)dl->ndim * sizeof(ptrdiff_t);
    import_block *b = xbuf_malloc(size);
    RETURN_ERROR_IF(b == NULL, err, XBUF_ENOMEM, "cannot allocate a DLPack import");
    b->size = size;
    b->versioned = versioned;
    b->legacy = legacy;
    xbuf_view v;
    import_view(&v, dl, &l, b, readonly);
    v.obj = versioned != NULL ? (void *)versioned : (void *)legacy;
    int rc = xbuf_mview_from_view(&v, out, err);
    if (rc < 0)
        xbuf_free(b, size); /* not xbuf_release: the tensor is still the caller's */
    return rc;
}

int xbuf_dlpack_import(xbuf_dl_managed_tensor_versioned *t, xbuf_mview **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(t == NULL, err, XBUF_EINVAL, "DLPack tensor is NULL");
    RETURN_ERROR_IF(t->version.major != XBUF_DLPACK_MAJOR, err, XBUF_EUNSUPPORTED,
                    "DLPack version %u.%u: xbuf supports %d.x", (unsigned)t->version.major,
                    (unsigned)t->version.minor, XBUF_DLPACK_MAJOR);
    return import_common(&t->dl_tensor, (t->flags & XBUF_DL_FLAG_READ_ONLY) != 0, t, NULL, out,
                         err);
}

int xbuf_dlpack_import_legacy(xbuf_dl_managed_tensor *t, xbuf_mview **out, xbuf_error *err)
{
    RETURN_ERROR_IF(out == NULL, err, XBUF_EINVAL, "out is NULL");
    *out = NULL;
    RETURN_ERROR_IF(t == NULL, err, XBUF_EINVAL, "DLPack tensor is NULL");
    return import_common(&t->dl_tensor, false, NULL, t, out, err);
}
