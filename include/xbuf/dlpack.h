/*
 * xbuf/dlpack.h -- layer 5: views to and from DLPack managed tensors.
 *
 * DLPack (https://dmlc.github.io/dlpack/) is the tensor exchange format of
 * the array API standard: NumPy, PyTorch, JAX, CuPy and TVM all produce and
 * consume it.  This header carries its own copy of DLPack 1.x's structs,
 * written from the specification with xbuf_ names, so that it never clashes
 * with a real dlpack.h included beside it.  They are layout-compatible with
 * dlpack.h's (src/dlpack.c checks every size and offset at compile time):
 * cast pointers freely between xbuf_dl_managed_tensor_versioned and
 * DLManagedTensorVersioned, xbuf_dl_managed_tensor and DLManagedTensor.
 *
 * Ownership, in both directions, is DLPack's: whoever holds a managed
 * tensor calls its deleter exactly once when done, and the producer keeps
 * the memory alive until then.
 *
 *   Export (view -> tensor).  The tensor holds one export of the mview (so
 *   the mview cannot be released, xbuf_mview_release fails with XBUF_EBUSY,
 *   and xbuf_mview_exports counts it) until its deleter runs.  The mview
 *   itself may be unref'd meanwhile: the export keeps what it needs alive.
 *   When a copy was made, the tensor owns the copy and holds no export.
 *
 *   Import (tensor -> mview).  On success the mview owns the tensor: the
 *   producer's deleter is called exactly once, when the last mview derived
 *   from the imported one has let go of the export (released or unref'd).
 *   On failure the caller still owns the tensor and must call its deleter
 *   itself -- xbuf never calls it on a failed import.
 *
 * Mapping between PEP 3118 formats and DLPack dtypes (docs/dlpack.md has
 * the table): b h i l q n -> kDLInt; B H I L Q N -> kDLUInt; ? -> kDLBool
 * (8 bits); e f d -> kDLFloat 16/32/64; Ze Zf Zd -> kDLComplex 32/64/128;
 * g and Zg only where long double is double.  Imported tensors get formats
 * with an explicit native byte order ("<i", "<d", "<Zf"; "b", "B", "?" for
 * one-byte types).
 *
 * Threads.  A deleter may be called from any thread.  Exports and imports
 * of one mview may run concurrently (see mview.h).
 */
#ifndef XBUF_DLPACK_H
#define XBUF_DLPACK_H

#include <stdint.h>

#include "base.h"
#include "mview.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- DLPack's ABI, with xbuf_ names ------------------------------------ */

/* The DLPack version xbuf implements and writes into exported tensors.
 * Imports accept any 1.x (minor versions keep the ABI). */
#define XBUF_DLPACK_MAJOR 1
#define XBUF_DLPACK_MINOR 1

typedef struct xbuf_dlpack_version {
    uint32_t major;
    uint32_t minor;
} xbuf_dlpack_version;

/* DLDeviceType values.  Only XBUF_DL_CPU memory can be imported. */
enum {
    XBUF_DL_CPU = 1,
    XBUF_DL_CUDA = 2,
    XBUF_DL_CUDA_HOST = 3,
    XBUF_DL_OPENCL = 4,
    XBUF_DL_VULKAN = 7,
    XBUF_DL_METAL = 8,
    XBUF_DL_VPI = 9,
    XBUF_DL_ROCM = 10,
    XBUF_DL_ROCM_HOST = 11,
    XBUF_DL_EXT_DEV = 12,
    XBUF_DL_CUDA_MANAGED = 13,
    XBUF_DL_ONEAPI = 14,
    XBUF_DL_WEBGPU = 15,
    XBUF_DL_HEXAGON = 16,
    XBUF_DL_MAIA = 17
};

/* DLDevice.  (dlpack.h declares device_type as an enum, which is an int
 * on every ABI DLPack supports.) */
typedef struct xbuf_dl_device {
    int32_t device_type;
    int32_t device_id;
} xbuf_dl_device;

/* DLDataTypeCode values. */
enum {
    XBUF_DL_INT = 0,
    XBUF_DL_UINT = 1,
    XBUF_DL_FLOAT = 2,
    XBUF_DL_OPAQUE_HANDLE = 3,
    XBUF_DL_BFLOAT = 4,
    XBUF_DL_COMPLEX = 5,
    XBUF_DL_BOOL = 6,
    /* DLPack 1.1's narrow floats: none has a PEP 3118 code */
    XBUF_DL_FLOAT8_E3M4 = 7,
    XBUF_DL_FLOAT8_E4M3 = 8,
    XBUF_DL_FLOAT8_E4M3B11FNUZ = 9,
    XBUF_DL_FLOAT8_E4M3FN = 10,
    XBUF_DL_FLOAT8_E4M3FNUZ = 11,
    XBUF_DL_FLOAT8_E5M2 = 12,
    XBUF_DL_FLOAT8_E5M2FNUZ = 13,
    XBUF_DL_FLOAT8_E8M0FNU = 14,
    XBUF_DL_FLOAT6_E2M3FN = 15,
    XBUF_DL_FLOAT6_E3M2FN = 16,
    XBUF_DL_FLOAT4_E2M1FN = 17
};

/* DLDataType: `bits` per lane (complex: both parts together), `lanes`
 * elements per item (1 unless a vector type). */
typedef struct xbuf_dl_dtype {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
} xbuf_dl_dtype;

/* DLTensor.  The item at index (i0, ..., in-1) lies at
 *     (char *)data + byte_offset + sum(ik * strides[k]) * bits / 8.
 * shape may be NULL when ndim is 0; strides are in elements, of any sign,
 * and NULL means C-contiguous (allowed before DLPack 1.2; xbuf never
 * writes NULL strides for ndim > 0, and accepts them). */
typedef struct xbuf_dl_tensor {
    void *data;
    xbuf_dl_device device;
    int32_t ndim;
    xbuf_dl_dtype dtype;
    int64_t *shape;
    int64_t *strides;
    uint64_t byte_offset;
} xbuf_dl_tensor;

/* DLManagedTensor: the legacy (pre-1.0, unversioned) form, which has no
 * flags and so cannot say that a tensor is read-only. */
typedef struct xbuf_dl_managed_tensor {
    xbuf_dl_tensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct xbuf_dl_managed_tensor *self);
} xbuf_dl_managed_tensor;

/* DLPACK_FLAG_BITMASK_* */
#define XBUF_DL_FLAG_READ_ONLY ((uint64_t)1 << 0)
#define XBUF_DL_FLAG_IS_COPIED ((uint64_t)1 << 1)
#define XBUF_DL_FLAG_IS_SUBBYTE_TYPE_PADDED ((uint64_t)1 << 2)

/* DLManagedTensorVersioned (DLPack >= 1.0). */
typedef struct xbuf_dl_managed_tensor_versioned {
    xbuf_dlpack_version version;
    void *manager_ctx;
    void (*deleter)(struct xbuf_dl_managed_tensor_versioned *self);
    uint64_t flags;
    xbuf_dl_tensor dl_tensor;
} xbuf_dl_managed_tensor_versioned;

/* ---- export: an mview as a managed tensor ------------------------------- */

/* When an export may copy: the array API's __dlpack__(copy=...). */
typedef enum xbuf_dlpack_copy {
    XBUF_DLPACK_COPY_NEVER = 0,     /* copy=False: zero-copy or refuse */
    XBUF_DLPACK_COPY_IF_NEEDED = 1, /* copy=None: copy only what DLPack cannot describe */
    XBUF_DLPACK_COPY_ALWAYS = 2     /* copy=True: always a fresh copy */
} xbuf_dlpack_copy;

/*
 * Export the items of `m` as a DLPack 1.x managed tensor in *out.
 *
 * Without a copy the tensor describes the view's own memory: data is the
 * view's buf (the item at index 0,...,0), byte_offset 0, shape as the
 * view's, strides the view's byte strides divided by the itemsize (never
 * NULL for ndim > 0; dimensions of extent 0 or 1, and all of them in a view
 * without items, get C-contiguous strides, since theirs are never used),
 * device CPU 0, READ_ONLY set when the view is read-only.  The tensor then
 * holds one export of `m` until its deleter runs.
 *
 * What DLPack cannot describe without a copy:
 *   - a non-native byte order ("<i" on a big-endian host, ">d" here);
 *   - a stride (of a dimension with more than one item) that is not a
 *     multiple of the itemsize;
 *   - items not aligned to their size (complex: to the size of one part),
 *     which DLPack consumers are entitled to assume;
 *   - suboffsets (PIL-style indirect layouts).
 * With XBUF_DLPACK_COPY_NEVER these fail with XBUF_EUNSUPPORTED and a
 * message naming the reason.  Otherwise -- and always with
 * XBUF_DLPACK_COPY_ALWAYS -- the items are copied, converted to native
 * byte order, into a new C-contiguous buffer (256-byte aligned, as DLPack
 * recommends) that the tensor owns; IS_COPIED is set, READ_ONLY is not
 * (the copy is the consumer's), and the tensor holds no export of `m`.
 *
 * What DLPack cannot describe at all fails with XBUF_EUNSUPPORTED whatever
 * `copy` says: records (T{...}, several items), sub-arrays ("3i"), chars
 * ('c': a one-byte string; cast the view to 'B' to export its bytes),
 * strings (s p u w), bit fields (t), objects (O), pointers (P & X), named
 * padding (x), long double (g, Zg) where it is wider than double, and an
 * itemsize that differs from the format's size.
 *
 * The deleter releases the export (or frees the copy) and frees the tensor
 * with everything it points to.  It is NULL-safe and may run on any thread.
 * Call it exactly once.
 *
 * Errors (*out is NULL, nothing is held or leaked): XBUF_EINVAL for NULL
 * m or out, or an unknown `copy`; XBUF_ERELEASED for a released mview;
 * XBUF_EUNSUPPORTED as above; XBUF_EFORMAT for an unparseable format;
 * XBUF_ENOMEM.
 */
XBUF_API int xbuf_dlpack_export(xbuf_mview *m, xbuf_dlpack_copy copy,
                                xbuf_dl_managed_tensor_versioned **out, xbuf_error *err);

/*
 * The same as the legacy, unversioned DLManagedTensor, for consumers that
 * predate DLPack 1.0 (__dlpack__ without max_version).  It has no flags:
 * it cannot say "read-only", so a read-only view is one more thing it
 * cannot describe without a copy (XBUF_EUNSUPPORTED with
 * XBUF_DLPACK_COPY_NEVER, else exported from a writable copy) -- as NumPy 2
 * refuses to export read-only arrays to legacy consumers.  Nor can it say
 * IS_COPIED.  Errors as xbuf_dlpack_export.
 */
XBUF_API int xbuf_dlpack_export_legacy(xbuf_mview *m, xbuf_dlpack_copy copy,
                                       xbuf_dl_managed_tensor **out, xbuf_error *err);

/* ---- import: a managed tensor as an mview ------------------------------- */

/*
 * Wrap the managed tensor `t` in a new mview (*out, one reference).
 *
 * The view: buf = data + byte_offset; shape as the tensor's; strides in
 * bytes (NULL strides: C-contiguous); itemsize bits / 8; the format of the
 * dtype (see the mapping above); read-only when the READ_ONLY flag is set
 * (IS_COPIED and unknown flags are ignored).  The whole family of mviews
 * derived from it shares one export (its obj is `t`), whose release calls
 * t->deleter(t) exactly once (a NULL deleter is allowed and then nothing
 * is called).
 *
 * Refused, with the caller still owning `t` (its deleter not called):
 *   XBUF_EINVAL        NULL t or out; ndim < 0; NULL shape with ndim > 0; a
 *                      negative extent; NULL data with items to address;
 *   XBUF_EUNSUPPORTED  a major version other than 1; a device other than
 *                      CPU (CUDA_HOST, ROCM_HOST and CUDA_MANAGED too: the
 *                      producer may have asynchronous work queued on them
 *                      that xbuf cannot wait for); ndim > XBUF_MAX_NDIM;
 *                      lanes other than 1; bits not a positive multiple of
 *                      8; a dtype with no PEP 3118 format (bfloat16, opaque
 *                      handles, float8/6/4, unknown codes, sizes other than
 *                      those in the table);
 *   XBUF_EOVERFLOW     an extent, a byte stride, the size, byte_offset or
 *                      the address range that does not fit in ptrdiff_t or
 *                      the address space;
 *   XBUF_ENOMEM.
 */
XBUF_API int xbuf_dlpack_import(xbuf_dl_managed_tensor_versioned *t, xbuf_mview **out,
                                xbuf_error *err);

/* The same for a legacy tensor: no version to check, no flags (the view is
 * writable).  Errors and ownership as xbuf_dlpack_import. */
XBUF_API int xbuf_dlpack_import_legacy(xbuf_dl_managed_tensor *t, xbuf_mview **out,
                                       xbuf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* XBUF_DLPACK_H */
