"""Layer 4 (the view object, include/xbuf/mview.h, src/mview.c) against
oracles nobody on the team wrote: NumPy's own views (basic indexing,
transpose, reshape, ``ndarray.view``, structured-array fields, and NumPy's
PEP 3118 parser), CPython's ``slice.indices`` / ``PySlice_Unpack`` +
``PySlice_AdjustIndices``, and CPython's memoryview as an exporter.

Sections:
  1. xbuf_slice_resolve   random (start, stop, step, extent) vs slice.indices
                          and CPython's PySlice_AdjustIndices; its errors
  2. derivation chains    a random NumPy array (1..5 dims, item sizes 1/2/4/8,
                          sometimes strided / transposed / read-only; its real
                          buffer format, or "<n>s" when it has none) wrapped
                          by xbuf_mview_from_view (sometimes with NULL
                          strides, shape or format), then a random chain of
                          slice / index / permute / transpose / cast (and
                          field, once a cast made records), each step
                          mirrored on the NumPy array and compared: ndim,
                          shape, itemsize, len, format, readonly, strides
                          (where a stride is ever used), buf, EVERY item
                          address through xbuf_iter (C order), the items'
                          bytes, and xbuf_mview_pointer at a random index.
                          Invalid arguments get the documented XBUF_E* code,
                          *out == NULL, and the family keeps working.  At the
                          end: every member re-checked; every well-formed
                          request to xbuf_mview_exporter answered as
                          memoryview answers it; an mview of an mview;
                          release (EBUSY while exported, ERELEASED after, the
                          others unaffected); unref of everything.
     casts                the same, on arrays built for each cast rule:
                          C-contiguous, F-contiguous only, packed last
                          dimension, anything strided
  3. fields               random structured dtypes (a nested struct, a
                          sub-array field; packed / aligned / with gaps):
                          xbuf_mview_field by name and dotted path vs
                          arr['name'] / arr['s']['x'] (or NumPy's parser
                          where NumPy's export disagrees with its own dtype),
                          on sliced / transposed views too, then a field of
                          the field and a short chain
  4. malformed input      xbuf_mview_from_view refuses a malformed view and
                          leaves it untouched

Where NumPy and xbuf legitimately differ, the comparison says so and why.
"""

import ctypes
from ctypes import byref, c_int, c_void_p

import numpy as np
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

import xbuf_ctypes as X
from numpy_layout import np_leaf_sizes

try:  # NumPy 2
    from numpy._core._internal import _dtype_from_pep3118 as numpy_parse
except ImportError:  # NumPy 1.x
    from numpy.core._internal import _dtype_from_pep3118 as numpy_parse

XF = X.parse_defines(X.PROTOCOL_H, "XBUF_")
FULL_RO = XF["FULL_RO"]
P = ctypes.POINTER(X.c_ptrdiff_t)
PMAX = X.PTRDIFF_MAX
PMIN = X.PTRDIFF_MIN

# Item sizes 1, 2, 4, 8; native and non-native byte orders; M8 has no
# buffer format (memoryview refuses it), so its view gets "<n>s".
DTYPES = ["u1", "i1", "?", "S1", "<i2", ">u2", "<f2", "<f4", ">i4", "<u4", "<f8", ">i8",
          "<c8", "M8[s]"]

# Cast targets: (xbuf format, NumPy dtype of the same size).
CAST_TARGETS = [(b"B", "u1"), (b"b", "i1"), (b"h", "i2"), (b"<H", "<u2"), (b">i", ">i4"),
                (b"I", "u4"), (b"q", "i8"), (b"d", "f8"), (b"2s", "S2"), (b"3s", "S3"),
                (b"T{<h:a:B:b:}", [("a", "<i2"), ("b", "u1")]),
                (b"T{<h:a:T{B:x:>i:y:}:s:(2)B:v:}",
                 [("a", "<i2"), ("s", [("x", "u1"), ("y", ">i4")]), ("v", "u1", (2,))])]
BAD_FORMATS = [b"T{", b"(2", b"!", b"i:", b"{", b"3"]


# ---- helpers ---------------------------------------------------------------


def lib():
    return X.load()


def derive(fn, *args):
    """Call a derivation: (rc, out pointer value or None, XbufError)."""
    out = c_void_p(0xDEAD)  # must come back NULL on failure
    err = X.XbufError()
    rc = fn(*args, byref(out), byref(err))
    return rc, out.value, err


def expect_fail(code, fn, *args):
    rc, out, err = derive(fn, *args)
    assert rc == code, f"{fn.__name__}: expected {code}, got {rc} ({err.text()!r})"
    assert out is None, f"{fn.__name__} failed but left *out = {out:#x}"
    assert err.code == code, (err.code, code)
    assert err.text(), f"{fn.__name__} failed with {code} and no message"


def numpy_format(arr) -> bytes:
    """The array's real buffer format when memoryview accepts it, else "<n>s"."""
    try:
        return memoryview(arr).format.encode()
    except (ValueError, TypeError, BufferError):
        return b"%ds" % arr.itemsize


def data_of(arr) -> int:
    return arr.__array_interface__["data"][0]


def expected_addresses(arr) -> np.ndarray:
    """The address of every item of `arr`, in C order, from its strides."""
    offsets = np.zeros(1, dtype=np.int64)
    for extent, stride in zip(arr.shape, arr.strides):
        offsets = (offsets[:, None] + np.arange(extent, dtype=np.int64) * stride).ravel()
    return data_of(arr) + offsets


def ptr_args(values):
    values = list(values)
    return (X.c_ptrdiff_t * max(len(values), 1))(*values)


class Node:
    """One mview and the NumPy array it must equal."""

    def __init__(self, m: int, arr: np.ndarray, fmt: bytes, how: str):
        self.m = m
        self.arr = arr
        self.fmt = fmt
        self.how = how

    def __repr__(self):
        return f"<{self.how}: shape {self.arr.shape} strides {self.arr.strides}>"


def check_node(node: Node, *, pointer_index=None):
    """Compare an mview with its NumPy mirror, item address by item address."""
    arr = node.arr
    lay = X.mview_layout(node.m)
    assert lay is not None, f"{node}: xbuf_mview_view is NULL on a live mview"
    where = f"{node.how}: xbuf {lay} vs numpy shape {arr.shape} strides {arr.strides}"
    assert lay["ndim"] == arr.ndim, where
    assert lay["shape"] == arr.shape, where
    assert lay["itemsize"] == arr.itemsize, where
    assert lay["len"] == arr.size * arr.itemsize, where
    assert lay["format"] == node.fmt, where
    assert lay["suboffsets"] is None, where
    assert lay["readonly"] == (0 if arr.flags.writeable else 1), where
    # A stride is used only to step between two items: for an extent of 1
    # NumPy multiplies it by the slice step anyway (xbuf keeps it when the
    # product would not fit), and for an array with no items no stride is
    # ever used (NumPy's reshape of an empty array counts 0 extents as 1,
    # xbuf_strides_fill does not).
    for d, (extent, xs, ns) in enumerate(zip(arr.shape, lay["strides"], arr.strides)):
        if extent > 1 and arr.size > 0:
            assert xs == ns, f"stride {d}: xbuf {xs} numpy {ns}; {where}"
    if arr.size > 0:
        assert lay["buf"] == data_of(arr), f"buf {lay['buf']:#x} vs {data_of(arr):#x}; {where}"
    got = X.mview_items(node.m)
    want = expected_addresses(arr) if arr.size > 0 else np.zeros(0, dtype=np.int64)
    assert len(got) == arr.size, f"xbuf_iter gave {len(got)} items, numpy has {arr.size}; {where}"
    assert got == [int(a) for a in want], f"item addresses differ; {where}"
    # The bytes at those addresses are the array's (C order).
    # (Through a same-size void view: a structured array's tobytes() need
    # not copy its padding bytes.)
    raw = b"".join(ctypes.string_at(a, arr.itemsize) for a in got)
    assert raw == arr.view(np.dtype(("V", arr.itemsize))).tobytes(), where
    if pointer_index is not None:
        idx, expect = pointer_index
        out = c_void_p(0xDEAD)
        err = X.XbufError()
        rc = lib().xbuf_mview_pointer(node.m, ptr_args(idx), byref(out), byref(err))
        if expect is None:
            assert rc == X.XBUF_ERANGE, (rc, err.text(), idx, where)
        else:
            assert rc == X.XBUF_OK, (rc, err.text(), idx, where)
            assert out.value == expect, (idx, out.value, expect, where)


def draw_pointer_index(data, arr):
    """A random index tuple (negative too) and the address NumPy gives it,
    or an out-of-range one and None."""
    if arr.ndim == 0:
        return (), data_of(arr)
    if arr.size == 0 or data.draw(st.integers(0, 5), label="pointer out of range") == 0:
        d = data.draw(st.integers(0, arr.ndim - 1), label="bad pointer dim")
        idx = [0 if e == 0 else data.draw(st.integers(-e, e - 1)) for e in arr.shape]
        e = arr.shape[d]
        idx[d] = data.draw(st.sampled_from([e, -e - 1, e + 7, PMAX, PMIN]), label="bad index")
        return tuple(idx), None
    idx = tuple(data.draw(st.integers(-e, e - 1), label="pointer index") for e in arr.shape)
    pos = [i % e for i, e in zip(idx, arr.shape)]
    return idx, data_of(arr) + sum(i * s for i, s in zip(pos, arr.strides))


def make_root(arr, fmt: bytes, data=None) -> Node:
    """xbuf_mview_from_view over a fresh view of `arr` (the view is moved).
    With `data`, sometimes a view that leaves out what the protocol lets it
    imply: NULL strides (C-contiguous), NULL shape and strides (1-d), or a
    NULL format (then the mview's format is "B")."""
    how = "full"
    if data is not None:
        options = ["full", "full", "NULL format"]
        if arr.flags.c_contiguous:
            options.append("NULL strides")
            if arr.ndim == 1:
                options.append("NULL shape")
        how = data.draw(st.sampled_from(options), label="root view")
        event(f"root view: {how}")
    if how == "NULL format":
        meta = X.view_of_array(arr, null_format=True)
        fmt = b"B"
    elif how == "NULL strides":
        meta = X.view_of_array(arr, fmt=fmt, use_strides=False)
    elif how == "NULL shape":
        ai = arr.__array_interface__
        meta = X.ViewMeta(buf=ai["data"][0], shape=arr.shape, strides=None,
                          itemsize=arr.itemsize, readonly=ai["data"][1], fmt=fmt,
                          shape_null=True)
    else:
        meta = X.view_of_array(arr, fmt=fmt)
    out = c_void_p(0xDEAD)
    err = X.XbufError()
    rc = lib().xbuf_mview_from_view(meta.ref, byref(out), byref(err))
    assert rc == X.XBUF_OK, (rc, err.text(), arr.shape, arr.strides, fmt, how)
    assert out.value
    # Moved out: the caller's struct is left zeroed.
    assert bytes(meta.view) == bytes(ctypes.sizeof(X.XbufView)), "view not zeroed after move"
    return Node(out.value, arr, fmt, f"root {fmt!r} ({how})")


# ---- strategies ------------------------------------------------------------------

bounds = st.one_of(st.none(), st.integers(-7, 7),
                   st.sampled_from([PMAX, -PMAX, PMIN + 1, 2**40, -2**40]))
steps = st.one_of(st.sampled_from([1, 2, 3, 4, -1, -2, -3, -4]),
                  st.sampled_from([PMAX, -PMAX, PMIN]))
slices = st.builds(slice, bounds, bounds, steps)


@st.composite
def arrays(draw, dtypes=st.sampled_from(DTYPES)):
    """A random array; sometimes a strided and/or transposed view of a
    bigger base (returned too, to keep the memory alive)."""
    dtype = np.dtype(draw(dtypes))
    ndim = draw(st.integers(1, 5), label="ndim")
    top = {1: 7, 2: 5, 3: 4, 4: 3, 5: 3}[ndim]
    shape = tuple(draw(st.lists(st.integers(0, top), min_size=ndim, max_size=ndim)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    strided = draw(st.booleans(), label="strided base")
    base_shape = tuple(2 * e + 1 for e in shape) if strided else shape
    base = np.empty(base_shape, dtype=dtype)
    raw = base.view(np.uint8) if base.ndim and base.size else None
    if raw is not None:
        raw[...] = rng.integers(0, 256, size=raw.shape, dtype=np.uint8)
    arr = base
    if strided:
        arr = base[tuple(draw(slices, label="base slice") for _ in range(ndim))]
    if draw(st.booleans(), label="permuted base"):
        arr = arr.transpose(draw(st.permutations(range(ndim))))
    if draw(st.integers(0, 4), label="read-only") == 0:
        arr = arr.view()
        arr.flags.writeable = False
    return base, arr


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def draw_shape_of(data, n: int):
    """A random shape (0..4 dims) with n items."""
    if n == 1 and data.draw(st.integers(0, 3)) == 0:
        return ()
    k = data.draw(st.integers(1, 4), label="cast ndim")
    if n == 0:
        dims = [data.draw(st.integers(0, 3)) for _ in range(k)]
        dims[data.draw(st.integers(0, k - 1))] = 0
        return tuple(dims)
    dims, rem = [], n
    for _ in range(k - 1):
        d = data.draw(st.sampled_from(divisors(rem)))
        dims.append(d)
        rem //= d
    dims.append(rem)
    return tuple(data.draw(st.permutations(dims)))


# ---- the operations, each mirrored on NumPy ---------------------------------------


def op_slice(data, node):
    arr = node.arr
    count = data.draw(st.integers(0, arr.ndim), label="slice count")
    sl = [data.draw(slices, label=f"slice {i}") for i in range(count)]
    note(f"slice {sl}")
    xs = (X.XbufSlice * max(count, 1))(*[X.XbufSlice.of(s) for s in sl])
    rc, out, err = derive(lib().xbuf_mview_slice, node.m, xs, count)
    assert rc == X.XBUF_OK, (rc, err.text(), sl, node)
    return Node(out, arr[tuple(sl)], node.fmt, f"{node.how} [{sl}]")


def op_index(data, node):
    arr = node.arr
    dims = [d for d in range(arr.ndim) if arr.shape[d] > 0]
    if not dims:
        return None
    d = data.draw(st.sampled_from(dims), label="index dim")
    e = arr.shape[d]
    i = data.draw(st.integers(-e, e - 1), label="index")
    note(f"index dim {d} at {i}")
    rc, out, err = derive(lib().xbuf_mview_index, node.m, d, i)
    assert rc == X.XBUF_OK, (rc, err.text(), d, i, node)
    mirror = arr[(slice(None),) * d + (i, Ellipsis)]
    return Node(out, mirror, node.fmt, f"{node.how} index({d},{i})")


def op_permute(data, node):
    arr = node.arr
    axes = list(data.draw(st.permutations(range(arr.ndim)), label="axes"))
    note(f"permute {axes}")
    rc, out, err = derive(lib().xbuf_mview_permute, node.m,
                          (c_int * max(arr.ndim, 1))(*axes))
    assert rc == X.XBUF_OK, (rc, err.text(), axes, node)
    return Node(out, arr.transpose(axes), node.fmt, f"{node.how} permute{axes}")


def op_transpose(data, node):
    note("transpose")
    rc, out, err = derive(lib().xbuf_mview_transpose, node.m)
    assert rc == X.XBUF_OK, (rc, err.text(), node)
    return Node(out, node.arr.T, node.fmt, f"{node.how} .T")


def contiguous_cast_oracle(arr, dtype, shape):
    """NumPy's view of a contiguous array's bytes as `dtype` in `shape`:
    C order for a C-contiguous array, else F order (of the memory order)."""
    if arr.flags.c_contiguous:
        flat = arr.reshape(-1)
        out = flat.view(np.uint8).view(dtype).reshape(shape)
    else:
        flat = arr.T.reshape(-1)  # F-contiguous: memory order is arr.T's C order
        out = flat.view(np.uint8).view(dtype).reshape(shape, order="F")
    if arr.size > 0 and out.size > 0:  # the oracle must be a view of the same memory
        assert data_of(out) == data_of(arr) and np.shares_memory(out, arr)
    return out


def op_cast(data, node):
    arr = node.arr
    fmt, dt = data.draw(st.sampled_from(CAST_TARGETS), label="cast target")
    dtype = np.dtype(dt)
    size = dtype.itemsize
    lay = X.mview_layout(node.m)
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        nbytes = arr.size * arr.itemsize
        if nbytes % size:
            event("cast: refused (bytes not a multiple)")
            note(f"cast {fmt!r}: {nbytes} bytes not a multiple of {size}")
            expect_fail(X.XBUF_ETYPE, lib().xbuf_mview_cast, node.m, fmt, 0, None)
            shape = data.draw(st.lists(st.integers(0, 4), max_size=3).map(tuple))
            expect_fail(X.XBUF_ETYPE, lib().xbuf_mview_cast, node.m, fmt, len(shape),
                        ptr_args(shape))
            return None
        n = nbytes // size
        if data.draw(st.booleans(), label="cast NULL shape"):
            shape, args = (n,), (0, None)
        else:
            shape = draw_shape_of(data, n)
            args = (len(shape), ptr_args(shape))
        note(f"cast {fmt!r} {shape} ({'C' if arr.flags.c_contiguous else 'F'})")
        event(f"cast: {'C' if arr.flags.c_contiguous else 'F only'}-contiguous, "
              f"{'NULL shape' if args[1] is None else f'{len(shape)}-d shape'}")
        rc, out, err = derive(lib().xbuf_mview_cast, node.m, fmt, *args)
        assert rc == X.XBUF_OK, (rc, err.text(), fmt, shape, node)
        mirror = contiguous_cast_oracle(arr, dtype, shape)
        return Node(out, mirror, fmt, f"{node.how} cast({fmt!r},{shape})")
    # Neither C- nor F-contiguous: only the last dimension can be re-cut,
    # when packed: stride == itemsize, or (NumPy's rule too, and xbuf's
    # since 8a50a22) an extent of 1, whose stride is never used.
    packed = arr.shape[-1] <= 1 or lay["strides"][-1] == arr.itemsize
    last_bytes = arr.shape[-1] * arr.itemsize
    note(f"cast {fmt!r} of a non-contiguous view (packed last dim: {packed})")
    shape = (arr.size * arr.itemsize // size,) if arr.size * arr.itemsize % size == 0 else (1,)
    expect_fail(X.XBUF_ETYPE, lib().xbuf_mview_cast, node.m, fmt, len(shape), ptr_args(shape))
    if not packed or last_bytes % size:
        event(f"cast: refused ({'not packed' if not packed else 'size'})")
        expect_fail(X.XBUF_ETYPE, lib().xbuf_mview_cast, node.m, fmt, 0, None)
        return None
    event("cast: last dimension re-cut")
    rc, out, err = derive(lib().xbuf_mview_cast, node.m, fmt, 0, None)
    assert rc == X.XBUF_OK, (rc, err.text(), fmt, node)
    # NumPy re-cuts the last axis too (ndarray.view), but to a smaller item
    # only when the new size divides the old one: go through bytes.
    mirror = arr.view(np.uint8).view(dtype)
    assert mirror.shape == arr.shape[:-1] + (last_bytes // size,)
    return Node(out, mirror, fmt, f"{node.how} cast({fmt!r})")


def op_invalid(data, node, every=False):
    """One invalid argument (or, with every=True, each kind in turn): the
    documented code, *out NULL, nothing changed."""
    arr = node.arr
    n = arr.ndim
    choices = ["slice step 0", "slice count", "index dim", "permute", "bad format",
               "no bytes"]
    if n > 0:
        choices.append("index range")
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        choices += ["cast size", "cast negative", "cast ndim"]
    for what in (choices if every else [data.draw(st.sampled_from(choices), label="invalid")]):
        event(f"invalid: {what}")
        note(f"invalid: {what}")
        invalid_argument(data, node, what)


def invalid_argument(data, node, what):
    arr = node.arr
    L = lib()
    n = arr.ndim
    if what == "slice step 0":
        if n == 0:  # a 0-d view cannot be sliced at all
            expect_fail(X.XBUF_EINVAL, L.xbuf_mview_slice, node.m, X.XbufSlice(0, 1, 1), 1)
            expect_fail(X.XBUF_EINVAL, L.xbuf_mview_slice, node.m, X.XbufSlice(0, 1, 1), 0)
            return
        count = data.draw(st.integers(1, n))
        sl = [X.XbufSlice.of(data.draw(slices)) for _ in range(count)]
        sl[data.draw(st.integers(0, count - 1))].step = 0
        expect_fail(X.XBUF_EINVAL, L.xbuf_mview_slice, node.m, (X.XbufSlice * count)(*sl),
                    count)
    elif what == "slice count":
        count = data.draw(st.sampled_from([n + 1, n + 3, -1]))
        sl = (X.XbufSlice * (n + 3))(*[X.XbufSlice(X.XBUF_SLICE_NONE, X.XBUF_SLICE_NONE, 1)
                                       for _ in range(n + 3)])
        expect_fail(X.XBUF_EINVAL, L.xbuf_mview_slice, node.m, sl, count)
    elif what == "index dim":
        d = data.draw(st.sampled_from([-1, n, n + 5, -100]))
        expect_fail(X.XBUF_EINVAL, L.xbuf_mview_index, node.m, d, 0)
    elif what == "index range":
        d = data.draw(st.integers(0, n - 1))
        e = arr.shape[d]
        i = data.draw(st.sampled_from([e, -e - 1, e + 3, PMAX, PMIN, -PMAX]))
        expect_fail(X.XBUF_ERANGE, L.xbuf_mview_index, node.m, d, i)
    elif what == "permute":
        if n == 0:
            # The only permutation of nothing is the empty one: it succeeds.
            rc, out, err = derive(L.xbuf_mview_permute, node.m, (c_int * 1)(7))
            assert rc == X.XBUF_OK, (rc, err.text())
            check_node(Node(out, arr, node.fmt, node.how + " permute()"))
            L.xbuf_mview_unref(out)
            return
        axes = list(data.draw(st.permutations(range(n))))
        k = data.draw(st.integers(0, n - 1))
        bad = [-1, n, n + 9] + ([axes[(k + 1) % n]] if n > 1 else [])
        axes[k] = data.draw(st.sampled_from(bad))
        expect_fail(X.XBUF_EINVAL, L.xbuf_mview_permute, node.m, (c_int * n)(*axes))
    elif what == "bad format":
        fmt = data.draw(st.sampled_from(BAD_FORMATS))
        rc, _, _ = X.format_size(fmt)
        assert rc == X.XBUF_EFORMAT, (fmt, rc)  # the format layer's verdict
        expect_fail(X.XBUF_EFORMAT, L.xbuf_mview_cast, node.m, fmt, 0, None)
    elif what == "no bytes":
        expect_fail(X.XBUF_ETYPE, L.xbuf_mview_cast, node.m, b"0s", 0, None)
    elif what == "cast size":
        size = arr.size * arr.itemsize
        expect_fail(X.XBUF_ETYPE, L.xbuf_mview_cast, node.m, b"B", 1, ptr_args([size + 1]))
        if size != 1:  # a 0-d shape holds one item
            expect_fail(X.XBUF_ETYPE, L.xbuf_mview_cast, node.m, b"B", 0, ptr_args([]))
    elif what == "cast negative":
        size = arr.size * arr.itemsize
        expect_fail(X.XBUF_EINVAL, L.xbuf_mview_cast, node.m, b"B", 2, ptr_args([-1, -size]))
    elif what == "cast ndim":
        bad = data.draw(st.sampled_from([-1, X.XBUF_MAX_NDIM + 1]))
        expect_fail(X.XBUF_EINVAL, L.xbuf_mview_cast, node.m, b"B", bad,
                    ptr_args([1] * (X.XBUF_MAX_NDIM + 1)))


OPS = ["slice"] * 3 + ["index"] * 2 + ["permute"] * 2 + ["transpose"] + ["cast"] * 3 + \
    ["invalid"] * 2


def random_step(data, node):
    """One random operation on `node`: the new Node, or None (no new mview)."""
    op = data.draw(st.sampled_from(OPS), label="op")
    if op in ("slice", "index") and node.arr.ndim == 0:
        op = "invalid"
    if node.arr.dtype.names and data.draw(st.booleans(), label="take a field"):
        op = "field"  # the items are records (a cast made them)
    if op == "field":
        event("op: field")
        name = data.draw(st.sampled_from(node.arr.dtype.names), label="field")
        note(f"field {name!r}")
        rc, out, err = derive(lib().xbuf_mview_field, node.m, name.encode())
        assert rc == X.XBUF_OK, (rc, err.text(), name, node)
        mirror = node.arr[name]
        fmt = X.mview_layout(out)["format"]
        rc, walked = X.type_walk(X.parse_format(fmt))
        assert [(w.path, w.offset, w.itemsize) for w in walked] == np_leaf_sizes(mirror.dtype)
        return Node(out, mirror, fmt, f"{node.how} .{name}")
    event(f"op: {op}")
    if op == "slice":
        return op_slice(data, node)
    if op == "index":
        return op_index(data, node)
    if op == "permute":
        return op_permute(data, node)
    if op == "transpose":
        return op_transpose(data, node)
    if op == "cast":
        return op_cast(data, node)
    op_invalid(data, node)
    return None


REQUESTS = X.valid_requests(XF)


def cpython_layout(pb) -> dict:
    n = pb.ndim
    return {"buf": pb.buf or 0, "len": pb.len, "itemsize": pb.itemsize,
            "readonly": pb.readonly, "ndim": n, "format": pb.format is not None,
            "shape": X.read_array(pb.shape, n), "strides": X.read_array(pb.strides, n),
            "suboffsets": X.read_array(pb.suboffsets, n)}


def check_requests(node):
    """xbuf_mview_exporter answers every well-formed request as CPython's
    memoryview over the NumPy mirror does (memory_getbuf): the same
    refusals, and the same fields left out of an answer."""
    L = lib()
    arr = node.arr
    try:
        mv = memoryview(arr)
    except (ValueError, TypeError, BufferError):  # no buffer format: same layout as void
        mv = memoryview(arr.view(np.dtype(("V", arr.itemsize))))
    exporter = L.xbuf_mview_exporter(node.m)
    for flags in REQUESTS:
        try:
            with X.cpython_buffer(mv, flags) as pb:
                want = cpython_layout(pb)
        except BufferError:
            want = None
        view = X.XbufView()
        err = X.XbufError()
        rc = L.xbuf_get(exporter, byref(view), flags, byref(err))
        if want is None:
            assert rc == X.XBUF_EREQUEST, (hex(flags), rc, err.text(), node)
            assert L.xbuf_mview_exports(node.m) == 0
            continue
        assert rc == X.XBUF_OK, (hex(flags), rc, err.text(), node)
        try:
            assert L.xbuf_mview_exports(node.m) == 1
            got = X.view_layout(view)
            where = (hex(flags), got, want, node)
            for key in ("len", "itemsize", "readonly", "ndim"):
                assert got[key] == want[key], where
            assert (got["format"] is not None) == want["format"], where
            assert bool(view.shape) == (want["shape"] is not None), where
            if want["shape"] is not None:
                assert list(got["shape"]) == want["shape"], where
            assert bool(view.strides) == (want["strides"] is not None), where
            if want["strides"] is not None and arr.size > 0:
                for e, a, b in zip(arr.shape, got["strides"], want["strides"]):
                    assert e <= 1 or a == b, where
            assert got["suboffsets"] is None and want["suboffsets"] is None, where
            if arr.size > 0:
                assert got["buf"] == want["buf"], where
        finally:
            L.xbuf_release(byref(view))
        assert L.xbuf_mview_exports(node.m) == 0


def check_family_end(data, family):
    """Every member re-checked; re-export, release and unref."""
    L = lib()
    for node in family:
        check_node(node)
    check_requests(data.draw(st.sampled_from(family), label="re-exported member"))
    # Re-export one member: the export matches its layout and counts.
    node = data.draw(st.sampled_from(family), label="exported member")
    exporter = L.xbuf_mview_exporter(node.m)
    assert exporter
    view = X.XbufView()
    err = X.XbufError()
    rc = L.xbuf_get(exporter, byref(view), FULL_RO, byref(err))
    assert rc == X.XBUF_OK, (rc, err.text())
    assert L.xbuf_mview_exports(node.m) == 1
    exported = X.view_layout(view)
    assert exported == X.mview_layout(node.m), (exported, X.mview_layout(node.m))
    err = X.XbufError()
    assert L.xbuf_mview_release(node.m, byref(err)) == X.XBUF_EBUSY
    assert err.code == X.XBUF_EBUSY and err.text()
    assert not L.xbuf_mview_is_released(node.m)
    check_node(node)
    # Drop our reference while the export is held: the export keeps it alive.
    L.xbuf_mview_retain(node.m)
    L.xbuf_mview_unref(node.m)
    L.xbuf_release(byref(view))
    assert L.xbuf_mview_exports(node.m) == 0
    # An mview of an mview (xbuf_mview_from_exporter on the member's
    # exporter): a new family holding one export of the member.
    out = c_void_p(0xDEAD)
    err = X.XbufError()
    rc = L.xbuf_mview_from_exporter(exporter, FULL_RO, byref(out), byref(err))
    assert rc == X.XBUF_OK, (rc, err.text())
    assert L.xbuf_mview_exports(node.m) == 1
    child = Node(out.value, node.arr, node.fmt, node.how + " (re-wrapped)")
    check_node(child)
    rc, grand, err = derive(L.xbuf_mview_transpose, child.m)
    assert rc == X.XBUF_OK
    check_node(Node(grand, node.arr.T, node.fmt, child.how + " .T"))
    assert L.xbuf_mview_exports(node.m) == 1  # one export for the whole family
    assert L.xbuf_mview_release(node.m, None) == X.XBUF_EBUSY
    L.xbuf_mview_unref(child.m)
    assert L.xbuf_mview_exports(node.m) == 1  # the transposed child still holds it
    L.xbuf_mview_unref(grand)
    assert L.xbuf_mview_exports(node.m) == 0
    # Release one member: it refuses everything after, the others work.
    victim = data.draw(st.sampled_from(family), label="released member")
    assert L.xbuf_mview_release(victim.m, None) == X.XBUF_OK
    assert L.xbuf_mview_release(victim.m, None) == X.XBUF_OK  # twice: harmless
    assert L.xbuf_mview_is_released(victim.m)
    assert not L.xbuf_mview_view(victim.m)
    R = X.XBUF_ERELEASED
    expect_fail(R, L.xbuf_mview_slice, victim.m, X.XbufSlice(0, 1, 1), 0)
    expect_fail(R, L.xbuf_mview_index, victim.m, 0, 0)
    expect_fail(R, L.xbuf_mview_transpose, victim.m)
    expect_fail(R, L.xbuf_mview_permute, victim.m, (c_int * X.XBUF_MAX_NDIM)())
    expect_fail(R, L.xbuf_mview_cast, victim.m, b"B", 0, None)
    expect_fail(R, L.xbuf_mview_field, victim.m, b"a")
    it = X.XbufIter()
    assert L.xbuf_iter_init(byref(it), victim.m, None) == R
    out = c_void_p(0xDEAD)
    assert L.xbuf_mview_pointer(victim.m, ptr_args([0] * X.XBUF_MAX_NDIM), byref(out),
                                None) == R
    view = X.XbufView()
    assert L.xbuf_get(L.xbuf_mview_exporter(victim.m), byref(view), FULL_RO, None) == R
    for other in family:
        if other is not victim:
            check_node(other)
    for other in family:
        L.xbuf_mview_unref(other.m)


# ---- 1. xbuf_slice_resolve vs CPython ------------------------------------------------

_py = X.pythonapi
_py.PySlice_Unpack.argtypes = [ctypes.py_object, P, P, P]
_py.PySlice_Unpack.restype = c_int
_py.PySlice_AdjustIndices.argtypes = [X.c_ptrdiff_t, P, P, X.c_ptrdiff_t]
_py.PySlice_AdjustIndices.restype = X.c_ptrdiff_t

# Explicit start/stop values: any ptrdiff_t but PTRDIFF_MIN, which is
# XBUF_SLICE_NONE (xbuf's "omitted"; Python spells that None).
explicit = st.one_of(st.integers(-12, 12), st.integers(PMIN + 1, PMAX),
                     st.sampled_from([PMIN + 1, -PMAX, PMAX, PMAX - 1]))
resolve_bounds = st.one_of(st.none(), explicit)
resolve_steps = st.one_of(st.sampled_from([1, 2, 3, 5, -1, -2, -3, -5]),
                          st.integers(1, PMAX), st.integers(PMIN, -1),
                          st.sampled_from([PMIN, PMIN + 1, PMAX]))
extents = st.one_of(st.integers(0, 12), st.integers(0, PMAX), st.sampled_from([PMAX, PMAX - 1]))


@settings(max_examples=1500)
@given(start=resolve_bounds, stop=resolve_bounds, step=resolve_steps, extent=extents)
def test_slice_resolve_matches_python(xb, start, stop, step, extent):
    s = slice(start, stop, step)
    xs = X.XbufSlice.of(s)
    a, b, n = X.c_ptrdiff_t(-5), X.c_ptrdiff_t(-5), X.c_ptrdiff_t(-5)
    err = X.XbufError()
    rc = xb.xbuf_slice_resolve(byref(xs), extent, byref(a), byref(b), byref(n), byref(err))
    assert rc == X.XBUF_OK, err.text()
    pstart, pstop, pstep = s.indices(extent)
    assert (a.value, b.value) == (pstart, pstop)
    assert n.value == len(range(pstart, pstop, pstep))
    # CPython's own C functions, which the header names as the model.
    cs, ce, cst = X.c_ptrdiff_t(), X.c_ptrdiff_t(), X.c_ptrdiff_t()
    assert _py.PySlice_Unpack(s, byref(cs), byref(ce), byref(cst)) == 0
    length = _py.PySlice_AdjustIndices(extent, byref(cs), byref(ce), cst.value)
    assert (a.value, b.value, n.value) == (cs.value, ce.value, length)


def test_slice_resolve_errors(xb):
    a, b, n = X.c_ptrdiff_t(), X.c_ptrdiff_t(), X.c_ptrdiff_t()
    err = X.XbufError()
    zero = X.XbufSlice(0, 5, 0)
    assert xb.xbuf_slice_resolve(byref(zero), 10, byref(a), byref(b), byref(n),
                                 byref(err)) == X.XBUF_EINVAL
    assert err.code == X.XBUF_EINVAL and err.text()
    ok = X.XbufSlice(0, 5, 1)
    assert xb.xbuf_slice_resolve(None, 10, byref(a), byref(b), byref(n), None) == X.XBUF_EINVAL
    for outs in [(None, byref(b), byref(n)), (byref(a), None, byref(n)),
                 (byref(a), byref(b), None)]:
        assert xb.xbuf_slice_resolve(byref(ok), 10, *outs, None) == X.XBUF_EINVAL
    assert xb.xbuf_slice_resolve(byref(ok), -1, byref(a), byref(b), byref(n),
                                 None) == X.XBUF_EINVAL


# ---- 2. derivation chains vs NumPy -------------------------------------------------------


@settings(max_examples=500)
@given(pair=arrays(), data=st.data())
def test_derivation_chains_match_numpy(xb, pair, data):
    base, arr = pair
    fmt = numpy_format(arr)
    note(f"array {arr.dtype} shape {arr.shape} strides {arr.strides} format {fmt!r}")
    root = make_root(arr, fmt, data)
    family = [root]
    try:
        check_node(root, pointer_index=draw_pointer_index(data, arr))
        node = root
        for _ in range(data.draw(st.integers(1, 6), label="chain length")):
            new = random_step(data, node)
            if new is None:
                check_node(node)  # a refused derivation changed nothing
                continue
            family.append(new)
            check_node(new, pointer_index=draw_pointer_index(data, new.arr))
            if data.draw(st.integers(0, 3), label="every invalid argument") == 0:
                op_invalid(data, new, every=True)
                check_node(new)
            # Sometimes branch from an earlier member instead of the newest.
            node = data.draw(st.sampled_from(family), label="next from") \
                if data.draw(st.integers(0, 4), label="branch") == 0 else new
        check_family_end(data, family)
    except BaseException:
        for n in family:  # keep the process healthy for the next example
            xb.xbuf_mview_unref(n.m)
        raise


@st.composite
def cast_arrays(draw):
    """Arrays for the cast rules: C-contiguous, F-contiguous only, a packed
    last dimension in a non-contiguous view, or anything strided."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(1, 4), label="ndim")
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    kind = draw(st.sampled_from(["C", "F", "packed last", "strided"]), label="layout")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    if kind == "C":
        base = np.empty(shape, dtype=dtype)
        arr = base
    elif kind == "F":
        base = np.empty(shape[::-1], dtype=dtype)
        arr = base.T
    elif kind == "packed last":
        # Every dimension but the last strided, the last one packed.
        base = np.empty(tuple(2 * e + 1 for e in shape[:-1]) + (shape[-1] + 2,), dtype=dtype)
        arr = base[tuple(slice(None, None, 2) for _ in shape[:-1]) + (slice(1, 1 + shape[-1]),)]
    else:
        base = np.empty(tuple(2 * e + 1 for e in shape), dtype=dtype)
        arr = base[tuple(draw(slices) for _ in shape)]
        arr = arr.transpose(draw(st.permutations(range(ndim))))
    if base.size:
        raw = base.reshape(-1).view(np.uint8)
        raw[...] = rng.integers(0, 256, size=raw.shape, dtype=np.uint8)
    return base, arr


@settings(max_examples=300)
@given(pair=cast_arrays(), data=st.data())
def test_casts_match_numpy(xb, pair, data):
    """Each cast rule of mview.h against NumPy (reshape of the bytes in C or
    F order; ndarray.view re-cutting the last axis), then a few more casts
    and derivations on the result."""
    base, arr = pair
    fmt = numpy_format(arr)
    note(f"array {arr.dtype} shape {arr.shape} strides {arr.strides} "
         f"C {arr.flags.c_contiguous} F {arr.flags.f_contiguous}")
    root = make_root(arr, fmt, data)
    family = [root]
    try:
        check_node(root)
        node = root
        for _ in range(data.draw(st.integers(1, 4), label="casts")):
            new = op_cast(data, node) if data.draw(st.integers(0, 2)) else \
                random_step(data, node)
            if new is None:
                check_node(node)
                continue
            family.append(new)
            check_node(new, pointer_index=draw_pointer_index(data, new.arr))
            node = new
        check_family_end(data, family)
    except BaseException:
        for n in family:
            xb.xbuf_mview_unref(n.m)
        raise


# ---- 3. fields vs NumPy structured arrays ------------------------------------------------

SCALARS = ["u1", "i1", "<i2", ">u2", "<f2", "<f4", ">i4", "<u4", "<f8", ">i8", "<c8", "S3"]
names = st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True)


@st.composite
def sub_arrays(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    return (draw(st.sampled_from(SCALARS)), shape)


def layout_dtype(draw, entries, align):
    """A dtype of (name, type) entries: numpy's packed or aligned layout, or
    explicit offsets with random gaps and trailing bytes."""
    how = draw(st.sampled_from(["packed", "aligned", "gaps"]), label="struct layout")
    if how != "gaps":
        return np.dtype([(nm, *((t,) if not isinstance(t, tuple) else t))
                         for nm, t in entries], align=(how == "aligned") and align)
    offsets, pos = [], 0
    formats = []
    for _, t in entries:
        dt = np.dtype(t) if not isinstance(t, tuple) else np.dtype(t)
        pos += draw(st.integers(0, 3))
        offsets.append(pos)
        formats.append(dt)
        pos += dt.itemsize
    return np.dtype({"names": [nm for nm, _ in entries], "formats": formats,
                     "offsets": offsets, "itemsize": pos + draw(st.integers(0, 3))})


@st.composite
def struct_dtypes(draw):
    """2..4 fields: one nested struct (which may hold a sub-array), one
    sub-array field, the rest scalars; returns (dtype, field paths)."""
    nf = draw(st.integers(2, 4), label="nfields")
    top = draw(st.lists(names, min_size=nf, max_size=nf, unique=True), label="names")
    kinds = list(draw(st.permutations(["nested", "sub"] + ["scalar"] * (nf - 2))))
    entries, paths = [], []
    for nm, kind in zip(top, kinds):
        if kind == "scalar":
            entries.append((nm, draw(st.sampled_from(SCALARS))))
            paths.append((nm,))
        elif kind == "sub":
            entries.append((nm, draw(sub_arrays())))
            paths.append((nm,))
        else:
            k = draw(st.integers(1, 3))
            inner_names = draw(st.lists(names, min_size=k, max_size=k, unique=True))
            inner = []
            for j, inm in enumerate(inner_names):
                t = draw(sub_arrays()) if j == 0 and draw(st.booleans()) else \
                    draw(st.sampled_from(SCALARS))
                inner.append((inm, t))
                paths.append((nm, inm))
            entries.append((nm, layout_dtype(draw, inner, True)))
            paths.append((nm,))
    return layout_dtype(draw, entries, True), paths


def canonical(fmt) -> str:
    return X.type_print(X.parse_format(fmt))


def np_leaf_dtypes(dt: np.dtype):
    if dt.subdtype is not None:
        return np_leaf_dtypes(dt.subdtype[0])
    if dt.names is not None:
        return [t for name in dt.names for t in np_leaf_dtypes(dt.fields[name][0])]
    return [dt]


def dtype_at(dt: np.dtype, path):
    """(offset, dtype) of a field path in a structured dtype."""
    offset = 0
    for part in path:
        dt, at = dt.fields[part][:2]
        offset += at
    return offset, dt


def same_place(a, b) -> bool:
    """Two (offset, dtype) pairs that describe the same bytes the same way."""
    (oa, da), (ob, db) = a, b
    return (oa == ob and da.itemsize == db.itemsize and np_leaf_sizes(da) == np_leaf_sizes(db)
            and np_leaf_dtypes(da) == np_leaf_dtypes(db))


def field_oracle(arr, path, parsed):
    """The NumPy view a field path must equal, or None when the field does
    not fit in the items (then xbuf must refuse with XBUF_ETYPE).

    Where NumPy's parser reads NumPy's export of the dtype back to the same
    layout for this path, the oracle is plain NumPy indexing: arr['s']['x'].
    NumPy's exporter is not always consistent with its own parser (it
    writes a nested record at an unaligned offset without '=' when its
    members happen to be aligned in absolute terms, and drops a nested
    record's trailing padding); test_format_oracles.py shows that xbuf reads
    a T{...} exactly as NumPy's parser does.  There the oracle is NumPy's
    reading of the text: a field of that dtype at that offset of each item,
    through a same-size structured view of the array."""
    real = dtype_at(arr.dtype, path)
    back = dtype_at(parsed, path)
    if same_place(real, back):
        mirror = arr
        for part in path:
            mirror = mirror[part]
        return mirror, "numpy indexing"
    offset, dt = back
    if offset + dt.itemsize > arr.itemsize:
        return None, "parser: beyond the item"
    view = np.dtype({"names": ["f"], "formats": [dt], "offsets": [offset],
                     "itemsize": arr.itemsize})
    return arr.view(view)["f"], "numpy parser"


@settings(max_examples=200)
@given(spec=struct_dtypes(), data=st.data())
def test_fields_match_numpy(xb, spec, data):
    dtype, paths = spec
    ndim = data.draw(st.integers(1, 3), label="ndim")
    shape = tuple(data.draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim)))
    strided = data.draw(st.booleans(), label="strided")
    base = np.zeros(tuple(2 * e + 1 for e in shape) if strided else shape, dtype=dtype)
    raw = base.view(np.uint8)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    raw[...] = rng.integers(0, 256, size=raw.shape, dtype=np.uint8)
    arr = base[tuple(data.draw(slices) for _ in range(ndim))] if strided else base
    fmt = memoryview(arr).format.encode()  # NumPy's own export of the dtype
    parsed = numpy_parse(fmt.decode())  # and NumPy's own reading of it
    note(f"dtype {dtype} ({dtype.itemsize} bytes), format {fmt!r}, shape {arr.shape} "
         f"strides {arr.strides}")
    root = make_root(arr, fmt)
    family = [root]
    try:
        check_node(root)
        # Sometimes derive first, so fields are taken of a sliced / permuted view.
        node = root
        if data.draw(st.booleans(), label="pre-step"):
            op = data.draw(st.sampled_from([op_slice, op_permute, op_transpose]))
            node = op(data, node)
            family.append(node)
            check_node(node)
        for path in data.draw(st.permutations(paths), label="paths"):
            text = ".".join(path).encode()
            mirror, how = field_oracle(node.arr, path, parsed)
            event(f"field oracle: {how}")
            note(f"field {text!r} ({how})")
            if mirror is None:
                expect_fail(X.XBUF_ETYPE, xb.xbuf_mview_field, node.m, text)
                continue
            rc, out, err = derive(xb.xbuf_mview_field, node.m, text)
            assert rc == X.XBUF_OK, (rc, err.text(), text, fmt)
            lay = X.mview_layout(out)
            field_fmt = lay["format"]
            # The field's format is printed canonically and describes the
            # element type NumPy has for it: same leaves, offsets, sizes.
            assert field_fmt == canonical(field_fmt).encode(), field_fmt
            element = mirror.dtype
            rc, walked = X.type_walk(X.parse_format(field_fmt))
            assert rc == 0
            assert [(w.path, w.offset, w.itemsize) for w in walked] == np_leaf_sizes(element), \
                (field_fmt, element)
            assert X.format_size(field_fmt)[1] == element.itemsize, (field_fmt, element)
            fnode = Node(out, mirror, field_fmt, f"{node.how} .{text.decode()}")
            family.append(fnode)
            check_node(fnode, pointer_index=draw_pointer_index(data, mirror))
            # A short chain on the field view (its trailing sub-array dims too).
            cur = fnode
            for _ in range(data.draw(st.integers(0, 2), label="after-field chain")):
                new = random_step(data, cur)
                if new is None:
                    check_node(cur)
                    continue
                family.append(new)
                check_node(new)
                cur = new
            if mirror.dtype.names is None:
                # Items that are not records have no fields.
                expect_fail(X.XBUF_ETYPE, xb.xbuf_mview_field, out, path[-1].encode())
            else:
                # A field of the field view (its format is the record's,
                # printed canonically; the leaves above say it has NumPy's
                # layout, so plain indexing is the oracle).
                sub = data.draw(st.sampled_from(mirror.dtype.names), label="sub-field")
                rc, out2, err = derive(xb.xbuf_mview_field, out, sub.encode())
                assert rc == X.XBUF_OK, (rc, err.text(), sub, field_fmt)
                sub_mirror = mirror[sub]
                sub_fmt = X.mview_layout(out2)["format"]
                rc, walked = X.type_walk(X.parse_format(sub_fmt))
                assert [(w.path, w.offset, w.itemsize) for w in walked] == \
                    np_leaf_sizes(sub_mirror.dtype), (sub_fmt, sub_mirror.dtype)
                snode = Node(out2, sub_mirror, sub_fmt, f"{fnode.how} .{sub}")
                family.append(snode)
                check_node(snode)
        # Errors: no such field (top level and nested), a path through a
        # scalar (format.h: ETYPE when a step of the path is not a struct).
        expect_fail(X.XBUF_ERANGE, xb.xbuf_mview_field, node.m, b"NoSuchField")
        nested = next(p for p in paths if len(p) == 2)
        expect_fail(X.XBUF_ERANGE, xb.xbuf_mview_field, node.m,
                    (nested[0] + ".NoSuchField").encode())
        scalar = next((p for p in paths if len(p) == 1
                       and node.arr[p[0]].dtype.names is None), None)
        if scalar is not None:
            expect_fail(X.XBUF_ETYPE, xb.xbuf_mview_field, node.m, (scalar[0] + ".x").encode())
        expect_fail(X.XBUF_EINVAL, xb.xbuf_mview_field, node.m, None)
        for n in family:
            check_node(n)
        check_family_end(data, family)
    except BaseException:
        for n in family:
            xb.xbuf_mview_unref(n.m)
        raise


def test_field_of_unparseable_format_is_eformat(xb):
    arr = np.zeros((2, 3), dtype="u1")
    root = make_root(arr, b"T{B:a:")  # malformed, but from_view does not parse it
    try:
        expect_fail(X.XBUF_EFORMAT, xb.xbuf_mview_field, root.m, b"a")
        check_node(root)
    finally:
        xb.xbuf_mview_unref(root.m)


# ---- 4. malformed views ----------------------------------------------------------------


def test_from_view_refuses_malformed_view_untouched(xb):
    arr = np.zeros((3, 4), dtype="<i4")
    for mutate in [lambda v: setattr(v, "itemsize", 0),
                   lambda v: setattr(v, "len", 7),
                   lambda v: setattr(v, "ndim", X.XBUF_MAX_NDIM + 1),
                   lambda v: setattr(v, "format", b"")]:
        meta = X.view_of_array(arr, fmt=b"i")
        mutate(meta.view)
        before = bytes(meta.view)
        out = c_void_p(0xDEAD)
        err = X.XbufError()
        rc = xb.xbuf_mview_from_view(meta.ref, byref(out), byref(err))
        assert rc == X.XBUF_EINVAL, (rc, err.text())
        assert err.code == X.XBUF_EINVAL and err.text()
        assert out.value is None
        assert bytes(meta.view) == before
    meta = X.view_of_array(arr, fmt=b"i")
    meta.shape_arr[0] = -3
    before = bytes(meta.view)
    out = c_void_p(0xDEAD)
    assert xb.xbuf_mview_from_view(meta.ref, byref(out), None) == X.XBUF_EINVAL
    assert out.value is None and bytes(meta.view) == before
    assert xb.xbuf_mview_from_view(None, byref(out), None) == X.XBUF_EINVAL
    assert xb.xbuf_mview_from_view(meta.ref, None, None) == X.XBUF_EINVAL
