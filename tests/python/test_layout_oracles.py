"""xbuf's layout utilities (protocol.h, src/layout.c) against oracles nobody
on the team wrote: NumPy, CPython's memoryview, and CPython's own buffer C
API (PyBuffer_IsContiguous, PyBuffer_GetPointer, PyBuffer_FillContiguousStrides,
PyObject_GetBuffer -> PyBuffer_FillInfo) called through ctypes.pythonapi.

Sections:
  0. the ctypes binding: xbuf_view / xbuf_error have the C layout
  1. contiguity           xbuf_view_is_contiguous, xbuf_is_contiguous
  2. contiguous strides   xbuf_strides_fill
  3. item addresses       xbuf_view_pointer
  4. byte ranges          xbuf_extent, xbuf_view_extent
  5. byte views           xbuf_fill_info vs PyBuffer_FillInfo

Where an oracle disagrees with xbuf on purpose, a test says so and why.
"""

import ctypes
from ctypes import byref, c_void_p

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

import xbuf_ctypes as X

try:  # NumPy 2
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy 1.x
    from numpy import byte_bounds

PY = X.pythonapi
XF = X.parse_defines(X.PROTOCOL_H, "XBUF_")  # xbuf's flag values (== PyBUF_*, test_flags.py)
FULL_RO = XF["FULL_RO"]
P = ctypes.POINTER(X.c_ptrdiff_t)
ORDERS = "CFA"
SENTINEL = -0x5EE5EE


def _numpy_max_ndim():
    for n in (64, 32):
        try:
            np.empty((1,) * n)
            return n
        except ValueError:
            pass
    raise AssertionError("NumPy accepts neither 64 nor 32 dimensions")


NUMPY_MAX_NDIM = _numpy_max_ndim()

# Item sizes 1, 2, 4, 8, 16, with native and non-native byte orders.
DTYPES = {
    1: ["u1", "i1", "?"],
    2: ["<i2", ">u2", "<f2"],
    4: ["<f4", ">i4"],
    8: ["<f8", ">i8", "<c8"],
    16: ["<c16", "S16"],
}


def data_ptr(arr) -> int:
    return arr.__array_interface__["data"][0]


def new_error():
    err = X.XbufError()
    X.load().xbuf_error_clear(byref(err))
    return err


# ---- strategies ------------------------------------------------------------


@st.composite
def dtypes(draw):
    itemsize = draw(st.sampled_from(sorted(DTYPES)))
    return np.dtype(draw(st.sampled_from(DTYPES[itemsize])))


@st.composite
def index_slices(draw, n, nonempty):
    """A slice of range(n): any slice (steps of both signs), or when
    `nonempty` one that selects at least one element."""
    if not nonempty:
        return draw(st.slices(n))
    step = draw(st.sampled_from([1, 1, 2, 3, -1, -2, -3]))
    start = draw(st.integers(0, n - 1))
    avail = (n - 1 - start) // step + 1 if step > 0 else start // -step + 1
    count = draw(st.integers(1, avail))
    stop = start + count * step
    return slice(start, None if stop < 0 else stop, step)


@st.composite
def sliced_arrays(draw, min_dims=1, max_dims=6, nonempty=False):
    """(root, view): a fresh C- or F-ordered array and a view of it made by
    slicing (steps of both signs), transposing, inserting new axes (extent 1,
    stride 0) and broadcasting extent-1 dimensions (stride 0)."""
    dtype = draw(dtypes())
    ndim = draw(st.integers(min_dims, max_dims))
    lo = 1 if nonempty else 0
    shape = draw(st.lists(st.integers(lo, 5), min_size=ndim, max_size=ndim))
    root = np.zeros(shape, dtype, order=draw(st.sampled_from("CF")))
    arr = root
    if ndim and draw(st.booleans()):
        arr = arr[tuple(draw(index_slices(n, nonempty)) for n in arr.shape)]
    if arr.ndim > 1 and draw(st.booleans()):
        arr = arr.transpose(draw(st.permutations(range(arr.ndim))))
    extra = draw(st.sampled_from(["none", "none", "newaxis", "broadcast"]))
    if extra == "newaxis" and arr.ndim < max_dims:
        pos = draw(st.integers(0, arr.ndim))
        arr = arr[(slice(None),) * pos + (np.newaxis,)]
    elif extra == "broadcast":
        new_shape = [draw(st.integers(lo, 3)) if n == 1 else n for n in arr.shape]
        if arr.ndim < max_dims and draw(st.booleans()):
            new_shape.insert(0, draw(st.integers(lo, 3)))
        arr = np.broadcast_to(arr, new_shape)
    return root, arr


def packed_strides(shape, itemsize, order):
    strides, step = [0] * len(shape), itemsize
    dims = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    for i in dims:
        strides[i] = step
        step *= shape[i]
    return strides


def python_extent(shape, strides, itemsize):
    """[lo, hi) in bytes relative to the first item, by brute arithmetic."""
    if any(n == 0 for n in shape):
        return 0, 0
    lo = sum(s * (n - 1) for n, s in zip(shape, strides) if s < 0)
    hi = itemsize + sum(s * (n - 1) for n, s in zip(shape, strides) if s > 0)
    return lo, hi


@st.composite
def strided_arrays(draw, min_dims=0, max_dims=6, nonempty=False):
    """(root, view): a view with arbitrary strides (numpy's as_strided) inside
    a root buffer sized to hold it.  Each stride is the packed C or F one, or
    random (any sign, zero, not a multiple of the itemsize, overlapping)."""
    dtype = draw(dtypes())
    it = dtype.itemsize
    ndim = draw(st.integers(min_dims, max_dims))
    lo = 1 if nonempty else 0
    shape = draw(st.lists(st.integers(lo, 4), min_size=ndim, max_size=ndim))
    strides = packed_strides(shape, it, draw(st.sampled_from("CF")))
    for i in range(ndim):
        kind = draw(st.sampled_from(["packed", "packed", "items", "bytes"]))
        if kind == "items":
            strides[i] = draw(st.integers(-6, 6)) * it
        elif kind == "bytes":
            strides[i] = draw(st.integers(-40, 40))
    elo, ehi = python_extent(shape, strides, it)
    root = np.zeros(max(ehi - elo, it), np.uint8)
    first = root[-elo:-elo + it].view(dtype)
    arr = as_strided(first, shape=shape, strides=strides, writeable=False)
    return root, arr


def any_arrays(min_dims=0, nonempty=False):
    return st.one_of(sliced_arrays(min_dims=min_dims, nonempty=nonempty),
                     strided_arrays(min_dims=min_dims, nonempty=nonempty))


# ---- 0. the binding --------------------------------------------------------


def test_library_loads_and_reports_its_version():
    """Not through the `xb` fixture, so that a missing library shows up as a
    FAILED test with the message (tests using the fixture report it as a
    setup error)."""
    try:
        lib = X.load()
    except (X.LibraryNotFound, OSError) as exc:
        pytest.fail(str(exc), pytrace=False)
    v = X.parse_defines(X.REPO_ROOT / "include" / "xbuf" / "base.h", "XBUF_VERSION_")
    assert lib.xbuf_version() == b"%d.%d.%d" % (v["MAJOR"], v["MINOR"], v["PATCH"])


def test_error_struct_layout(xb):
    """code at offset 0, position after it, message after that: clear() writes
    code = 0, position = -1 and message[0] = 0 into a garbage-filled struct."""
    err = X.XbufError()
    ctypes.memset(byref(err), 0x55, ctypes.sizeof(err))
    xb.xbuf_error_clear(byref(err))
    raw = ctypes.string_at(ctypes.addressof(err) + X.XbufError.message.offset, 2)
    assert (err.code, err.position, raw) == (0, -1, b"\0\x55")  # only message[0] written
    assert X.XbufError.message.offset + X.XBUF_ERROR_MESSAGE_SIZE == ctypes.sizeof(err)
    assert xb.xbuf_flags_check(0x2, byref(err)) == X.XBUF_EINVAL
    assert err.code == X.XBUF_EINVAL and "unknown" in err.text()


def test_view_struct_layout_through_fill_info_and_move(xb):
    """fill_info points shape at the view's own len and strides at its own
    itemsize (as CPython does) and memsets exactly sizeof(xbuf_view) bytes;
    move re-points them.  Wrong offsets or size in the binding show here."""
    size = ctypes.sizeof(X.XbufView)
    raw = (ctypes.c_ubyte * (size + 16))(*([0xAB] * (size + 16)))
    view = X.XbufView.from_buffer(raw)
    data = ctypes.create_string_buffer(b"abcdefg", 7)
    rc = xb.xbuf_fill_info(byref(view), 1234, ctypes.addressof(data), 7, 1,
                           FULL_RO, None)
    assert rc == 0
    assert bytes(raw[size:]) == b"\xab" * 16, "xbuf wrote past sizeof(XbufView)"
    base = ctypes.addressof(view)
    assert view.buf == ctypes.addressof(data) and view.obj == 1234
    assert (view.len, view.itemsize, view.readonly, view.ndim) == (7, 1, 1, 1)
    assert view.format == b"B"
    assert X.ptr_value(view.shape) == base + X.XbufView.len.offset
    assert X.ptr_value(view.strides) == base + X.XbufView.itemsize.offset
    assert not view.suboffsets and view.internal is None and not view.release
    dst = X.XbufView()
    xb.xbuf_view_move(byref(view), byref(dst))
    assert X.ptr_value(dst.shape) == ctypes.addressof(dst) + X.XbufView.len.offset
    assert X.ptr_value(dst.strides) == ctypes.addressof(dst) + X.XbufView.itemsize.offset
    assert bytes(raw[:size]) == b"\0" * size  # the source is zeroed


def test_view_struct_release_and_suboffsets_offsets(xb):
    """The release hook is called once with the view's address, then exactly
    the view is zeroed; suboffsets is where xbuf_view_check looks for it."""
    calls = []
    hook = X.XBUF_RELEASE_FN(lambda p: calls.append(ctypes.addressof(p.contents)))
    arr = np.zeros((2, 3), "<i4")
    meta = X.view_of_array(arr, fmt=b"i")
    meta.view.internal = 99
    full_ro, strided_ro = FULL_RO, XF["STRIDED_RO"]
    assert xb.xbuf_view_check(meta.ref, full_ro, None) == 0
    subs = X.ssize_array([-1, -1])
    meta.view.suboffsets = ctypes.cast(subs, P)
    assert xb.xbuf_view_check(meta.ref, strided_ro, None) == X.XBUF_EEXPORTER
    assert xb.xbuf_view_check(meta.ref, full_ro, None) == 0
    meta.view.release = hook
    xb.xbuf_release(meta.ref)
    assert calls == [ctypes.addressof(meta.view)]
    assert bytes(ctypes.string_at(ctypes.addressof(meta.view), ctypes.sizeof(X.XbufView))) \
        == b"\0" * ctypes.sizeof(X.XbufView)
    xb.xbuf_release(meta.ref)
    assert len(calls) == 1


def test_py_buffer_binding_matches_cpython():
    """The ctypes Py_buffer reads what CPython wrote: a memoryview of a 2-d
    array reports the same shape, strides and format."""
    arr = np.zeros((3, 4), ">i2")[:, ::2]
    with X.cpython_buffer(arr, FULL_RO) as pb:
        assert pb.buf == data_ptr(arr) and pb.obj == id(arr)
        assert (pb.len, pb.itemsize, pb.ndim, pb.format) == (12, 2, 2, b">h")
        assert X.read_array(pb.shape, 2) == [3, 2]
        assert X.read_array(pb.strides, 2) == [8, 4]
        assert not pb.suboffsets


# ---- 1. contiguity ---------------------------------------------------------


def xbuf_contiguity(xb, meta):
    return {o: bool(xb.xbuf_view_is_contiguous(meta.ref, o.encode())) for o in ORDERS}


def xbuf_bare_contiguity(xb, meta, ndim, itemsize):
    strides = meta.strides_arr
    return {o: bool(xb.xbuf_is_contiguous(ndim, meta.shape_arr, strides, itemsize, o.encode()))
            for o in ORDERS}


def cpython_contiguity(meta):
    pb = X.py_buffer_from_meta(meta)
    return {o: bool(PY.PyBuffer_IsContiguous(byref(pb), o.encode())) for o in ORDERS}


def numpy_contiguity(arr):
    c, f = bool(arr.flags.c_contiguous), bool(arr.flags.f_contiguous)
    return {"C": c, "F": f, "A": c or f}


def _ex(arr):
    return (None, arr)


@settings(max_examples=500)
@given(any_arrays())
@example(_ex(np.zeros((3, 1, 4))[:, :, ::2]))            # not contiguous
@example(_ex(np.zeros((4, 6))[::4, 1:2]))                 # (1, 1): any strides
@example(_ex(np.zeros((3, 4))[:, 1:2]))                  # column: stride 32 on extent 3
@example(_ex(np.zeros((5, 4), "u1")[2:2, ::-3]))          # empty, odd strides
@example(_ex(np.zeros((3, 4))[::-1]))                    # negative step
@example(_ex(np.zeros((3, 4)).T))                        # F only
@example(_ex(np.broadcast_to(np.zeros(3), (4, 3))))      # zero stride
@example(_ex(np.zeros((4,))[np.newaxis, :, np.newaxis]))  # stride-0 extent-1 dims
@example(_ex(np.zeros(())))                              # 0-d
def test_contiguity_matches_numpy_and_pybuffer_iscontiguous(xb, pair):
    """xbuf_view_is_contiguous / xbuf_is_contiguous on NumPy's own shape and
    strides agree with arr.flags, and with CPython's PyBuffer_IsContiguous
    on the same metadata (NumPy and CPython both use the relaxed rules:
    extent-1 dimensions may have any stride, empty arrays are contiguous)."""
    _, arr = pair
    meta = X.view_of_array(arr)
    expected = numpy_contiguity(arr)
    assert xbuf_contiguity(xb, meta) == expected
    assert xbuf_bare_contiguity(xb, meta, arr.ndim, arr.itemsize) == expected
    assert cpython_contiguity(meta) == expected


@settings(max_examples=300)
@given(any_arrays())
def test_contiguity_matches_memoryview(xb, pair):
    """memoryview(arr) as a second oracle: xbuf on the shape and strides the
    memoryview holds gives its c_contiguous / f_contiguous / contiguous."""
    _, arr = pair
    try:
        mv = memoryview(arr)
    except (ValueError, TypeError, BufferError, NotImplementedError):
        assume(False)
    with mv:
        meta = X.ViewMeta(buf=data_ptr(arr), shape=mv.shape, strides=mv.strides,
                          itemsize=mv.itemsize, fmt=mv.format.encode())
        expected = {"C": mv.c_contiguous, "F": mv.f_contiguous, "A": mv.contiguous}
        assert xbuf_contiguity(xb, meta) == expected
        assert cpython_contiguity(meta) == expected


@settings(max_examples=300)
@given(any_arrays())
def test_contiguity_with_null_strides(xb, pair):
    """NULL strides mean C-contiguous: then C and A hold, and F holds exactly
    when NumPy's C-ordered copy is also F-contiguous (at most one extent > 1,
    or no items) -- CPython's _IsFortranContiguous rule for NULL strides."""
    _, arr = pair
    packed = arr.copy(order="C")
    meta = X.view_of_array(packed, use_strides=False)
    expected = numpy_contiguity(packed)
    assert expected["C"]
    assert cpython_contiguity(meta) == expected
    assert xbuf_bare_contiguity(xb, meta, packed.ndim, packed.itemsize) == expected
    assert xbuf_contiguity(xb, meta) == expected, (
        "xbuf_view_is_contiguous on a view with NULL strides (see the bug note in "
        "test_view_is_contiguous_on_fill_info_views)")


@settings(max_examples=200)
@given(any_arrays())
def test_contiguity_with_null_format(xb, pair):
    """format == NULL means "B" and is valid for any request without FORMAT;
    contiguity does not depend on the format at all."""
    _, arr = pair
    meta = X.view_of_array(arr, null_format=True)
    assert xbuf_contiguity(xb, meta) == numpy_contiguity(arr), (
        "xbuf_view_is_contiguous on a view with a NULL format (see the bug note in "
        "test_view_is_contiguous_on_fill_info_views)")


def test_view_is_contiguous_on_fill_info_views(xb):
    """Every view xbuf_fill_info makes is a 1-d byte view, contiguous in every
    order (protocol.h says so), and CPython's PyBuffer_IsContiguous agrees on
    the view bytearray exports for the same request.

    Regression test.  xbuf_view_is_contiguous once validated the view with
    xbuf_view_check(view, XBUF_FULL_RO), i.e. as the answer to a request
    for strides, shape and format, so every well-formed view with NULL
    strides (C-contiguous by definition), NULL shape (1-d) or NULL format
    ("B") was reported as not contiguous -- e.g. the view xbuf_fill_info
    itself returns for XBUF_SIMPLE.  It now checks the view against the
    request its own fields answer.
    """
    data = ctypes.create_string_buffer(12)
    wrong = []
    for flags in REQUESTS:
        view = X.XbufView()
        assert xb.xbuf_fill_info(byref(view), None, ctypes.addressof(data), 12, 0, flags,
                                 None) == 0
        got = {o: bool(xb.xbuf_view_is_contiguous(byref(view), o.encode())) for o in ORDERS}
        with X.cpython_buffer(bytearray(12), flags) as pb:
            cpy = {o: bool(PY.PyBuffer_IsContiguous(byref(pb), o.encode())) for o in ORDERS}
        assert cpy == {"C": True, "F": True, "A": True}
        if got != cpy:
            wrong.append(hex(flags))
    assert wrong == [], (f"xbuf_view_is_contiguous says a fill_info view is not contiguous "
                         f"for requests {wrong}")


@settings(max_examples=200)
@given(n=st.integers(0, 12), sl=st.data(), fmt=st.sampled_from("BhiqdQ"))
def test_one_dim_memoryview_slices(xb, n, sl, fmt):
    """1-d memoryview slices, independent of NumPy: xbuf agrees with
    PyBuffer_IsContiguous on the Py_buffer CPython exports, and with the
    memoryview's own flags whenever the slice has items (see the next test
    for the empty case)."""
    itemsize = memoryview(b"").cast("B").cast(fmt).itemsize
    base = memoryview(bytearray(n * itemsize)).cast(fmt)
    m = base[sl.draw(st.slices(n))]
    with X.cpython_buffer(m, FULL_RO) as pb:
        meta = X.meta_from_pybuffer(pb)
        got = xbuf_contiguity(xb, meta)
        assert got == {o: bool(PY.PyBuffer_IsContiguous(byref(pb), o.encode()))
                       for o in ORDERS}
    if len(m):
        assert got == {"C": m.c_contiguous, "F": m.f_contiguous, "A": m.contiguous}
    else:
        assert got == {"C": True, "F": True, "A": True}


def test_empty_one_dim_memoryview_flags_differ_from_pybuffer_iscontiguous(xb):
    """A genuine rule difference inside CPython, documented.

    memoryview computes its flags for 1-d views with a shortcut
    (MV_CONTIGUOUS_NDIM1 in Objects/memoryobject.c: shape[0] == 1 or
    strides[0] == itemsize) which does not treat an empty view as
    contiguous.  CPython's C API (PyBuffer_IsContiguous: len == 0 ->
    contiguous) and NumPy (every empty array is C and F contiguous) do.
    xbuf follows PyBuffer_IsContiguous and NumPy, as protocol.h states ("A
    view with no items is contiguous in every order"): it is the function
    C consumers call, and it agrees for every ndim, not only for 1-d views.
    If a future CPython changes memoryview's shortcut, the last assertion
    fails and this docstring should be updated.
    """
    m = memoryview(bytearray(10))[5:5:2]
    assert (m.shape, m.strides, m.nbytes) == ((0,), (2,), 0)
    with X.cpython_buffer(m, FULL_RO) as pb:
        meta = X.meta_from_pybuffer(pb)
        assert xbuf_contiguity(xb, meta) == {"C": True, "F": True, "A": True}
        assert all(PY.PyBuffer_IsContiguous(byref(pb), o.encode()) for o in ORDERS)
    a = np.zeros(10, np.uint8)[5:5:2]
    assert a.flags.c_contiguous and a.flags.f_contiguous
    assert (m.c_contiguous, m.f_contiguous, m.contiguous) == (False, False, False)


def test_all_negative_suboffsets_are_ignored_unlike_cpython(xb):
    """A documented deviation from CPython, for the lead to be aware of.

    protocol.h: "suboffsets that are all negative describe no indirection
    and are ignored" -- PEP 3118 says a negative suboffset means no
    de-referencing.  CPython's PyBuffer_IsContiguous instead returns 0 for
    any view with a non-NULL suboffsets array.  NumPy never exports
    suboffsets, so no NumPy array tells the two rules apart.
    """
    arr = np.zeros((2, 3), "<i4")
    meta = X.view_of_array(arr, fmt=b"i")
    subs = X.ssize_array([-1, -1])
    meta.view.suboffsets = ctypes.cast(subs, P)
    assert xbuf_contiguity(xb, meta) == {"C": True, "F": False, "A": True}
    assert cpython_contiguity(meta) == {"C": False, "F": False, "A": False}
    subs[1] = 0  # real indirection: never contiguous, in both
    assert xbuf_contiguity(xb, meta) == {"C": False, "F": False, "A": False}
    assert cpython_contiguity(meta) == {"C": False, "F": False, "A": False}


def test_contiguity_rejects_bad_order_and_bad_metadata(xb):
    arr = np.zeros((2, 3))
    meta = X.view_of_array(arr)
    for order in (b"c", b"f", b"a", b"K", b"\0"):
        assert not xb.xbuf_view_is_contiguous(meta.ref, order)
        assert not xb.xbuf_is_contiguous(2, meta.shape_arr, meta.strides_arr, 8, order)
    assert not xb.xbuf_view_is_contiguous(None, b"C")
    assert not xb.xbuf_is_contiguous(2, meta.shape_arr, meta.strides_arr, 0, b"C")
    assert not xb.xbuf_is_contiguous(65, X.ssize_array([1] * 65), None, 1, b"C")
    assert not xb.xbuf_is_contiguous(2, X.ssize_array([2, -3]), None, 1, b"C")
    meta.view.len = 40  # product(shape) * itemsize is 48
    assert not xb.xbuf_view_is_contiguous(meta.ref, b"C")


# ---- 2. xbuf_strides_fill ----------------------------------------------------


def strides_fill(xb, shape, itemsize, order, ndim=None, shape_arr=None):
    n = len(shape) if ndim is None else ndim
    if shape_arr is None:
        shape_arr = X.ssize_array(shape)
    out = (X.c_ptrdiff_t * (max(n, 0) + 1))(*([SENTINEL] * (max(n, 0) + 1)))
    err = new_error()
    rc = xb.xbuf_strides_fill(n, shape_arr, itemsize, order, out, byref(err))
    return rc, list(out), err


@st.composite
def numpy_shapes(draw, max_dims=NUMPY_MAX_NDIM, zeros=0):
    """Shapes of up to NumPy's maximum ndim whose arrays stay small: mostly
    extent 1, a few extents 2..4, at most one up to 100, and `zeros` zeros."""
    ndim = draw(st.integers(max(zeros, 0), max_dims))
    shape = [1] * ndim
    if ndim:
        for pos in draw(st.lists(st.integers(0, ndim - 1), max_size=6)):
            shape[pos] = draw(st.integers(2, 4))
        if draw(st.booleans()):
            shape[draw(st.integers(0, ndim - 1))] = draw(st.integers(2, 100))
        for _ in range(zeros):
            shape[draw(st.integers(0, ndim - 1))] = 0
    return tuple(shape)


@settings(max_examples=250)
@given(shape=numpy_shapes(), dtype=dtypes(), order=st.sampled_from("CF"))
@example(shape=(1,) * NUMPY_MAX_NDIM, dtype=np.dtype("c16"), order="F")
@example(shape=(2,) * 10 + (1,) * (NUMPY_MAX_NDIM - 10), dtype=np.dtype("<i2"), order="C")
@example(shape=(), dtype=np.dtype("u1"), order="C")
def test_strides_fill_matches_numpy_empty(xb, shape, dtype, order):
    rc, out, err = strides_fill(xb, shape, dtype.itemsize, order.encode())
    assert rc == 0, err.text()
    assert tuple(out[:-1]) == np.empty(shape, dtype, order=order).strides
    assert out[:-1] == X.py_fill_contiguous_strides(shape, dtype.itemsize, order)
    assert out[-1] == SENTINEL, "xbuf_strides_fill wrote past strides[ndim-1]"


@settings(max_examples=150)
@given(shape=st.integers(1, 3).flatmap(lambda z: numpy_shapes(zeros=z)), dtype=dtypes(),
       order=st.sampled_from("CF"))
@example(shape=(5, 0, 3), dtype=np.dtype("f8"), order="C")
def test_strides_fill_with_zero_extent_follows_cpython(xb, shape, dtype, order):
    """A rule difference with NumPy, documented.

    For shapes with a zero extent NumPy's own `.strides` are not the C/F
    product rule and differ between versions (NumPy 1.x skips zero extents:
    (5, 0, 3) f8 C -> (24, 24, 8); NumPy 2.x gives (0, 0, 0)).  xbuf
    follows CPython's PyBuffer_FillContiguousStrides (multiply by every
    extent: (0, 24, 8)), which is also what NumPy itself exports through
    the buffer protocol (memoryview(arr).strides).  All of them describe the
    same empty array, and xbuf calls every one of them contiguous.
    """
    it = dtype.itemsize
    rc, out, err = strides_fill(xb, shape, it, order.encode())
    assert rc == 0, err.text()
    strides = out[:-1]
    assert strides == X.py_fill_contiguous_strides(shape, it, order)
    assert out[-1] == SENTINEL
    arr = np.empty(shape, dtype, order=order)
    if order == "C":  # NumPy exports empty arrays with C strides either way
        with memoryview(arr) as mv:
            assert list(mv.strides) == strides
    n = len(shape)
    for o in "CFA":
        assert xb.xbuf_is_contiguous(n, X.ssize_array(shape), X.ssize_array(arr.strides), it,
                                     o.encode())


def strides_overflow_oracle(shape, itemsize, order):
    """CPython's strides in exact arithmetic, and whether xbuf must refuse
    them: some stride, or the total size, exceeds PTRDIFF_MAX."""
    strides, step = [0] * len(shape), itemsize
    dims = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    too_big = False
    for i in dims:
        strides[i] = step
        too_big |= step > X.PTRDIFF_MAX
        step *= shape[i]
    return strides, too_big or step > X.PTRDIFF_MAX


@settings(max_examples=300)
@given(shape=st.lists(st.one_of(st.integers(0, 4), st.integers(1, 2 ** 40),
                                st.integers(2 ** 40, 2 ** 62)), min_size=1, max_size=6),
       itemsize=st.sampled_from([1, 2, 8, 16]), order=st.sampled_from("CF"))
@example(shape=[2 ** 62], itemsize=2, order="C")
@example(shape=[2 ** 62 - 1], itemsize=2, order="C")
@example(shape=[2 ** 63 - 1], itemsize=1, order="F")
@example(shape=[0, 2 ** 62, 4], itemsize=8, order="C")  # stride[0] = 2**67
@example(shape=[0, 2 ** 62, 4], itemsize=8, order="F")  # (8, 0, 0): fine
def test_strides_fill_overflow(xb, shape, itemsize, order):
    expected, overflow = strides_overflow_oracle(shape, itemsize, order)
    rc, out, err = strides_fill(xb, shape, itemsize, order.encode())
    if overflow:
        assert rc == X.XBUF_EOVERFLOW, (rc, out)
        assert err.code == X.XBUF_EOVERFLOW and err.text()
        assert out == [SENTINEL] * len(out), "strides written on failure"
        if 0 not in shape:  # NumPy refuses the same shapes, before allocating
            with pytest.raises(ValueError):
                np.empty(shape, np.dtype(("V", itemsize)) if itemsize > 1 else "u1")
    else:
        assert rc == 0, err.text()
        assert out[:-1] == expected
        if 0 not in shape:
            assert out[:-1] == X.py_fill_contiguous_strides(shape, itemsize, order)


@settings(max_examples=100)
@given(shape=st.lists(st.integers(-5, 5), min_size=1, max_size=8).filter(
    lambda s: min(s) < 0), order=st.sampled_from("CF"))
def test_strides_fill_rejects_negative_extents(xb, shape, order):
    rc, out, err = strides_fill(xb, shape, 8, order.encode())
    assert rc == X.XBUF_EINVAL and err.code == X.XBUF_EINVAL
    assert "negative" in err.text()
    assert out == [SENTINEL] * len(out)
    with pytest.raises(ValueError, match="negative"):  # NumPy refuses them too
        np.empty(shape, order=order)


@pytest.mark.parametrize("order", [b"A", b"K", b"c", b"f", b"\0", b"X"])
def test_strides_fill_rejects_bad_order(xb, order):
    """Only 'C' and 'F' (CPython's PyBuffer_FillContiguousStrides silently
    treats anything but 'F' as 'C'; xbuf refuses instead)."""
    rc, out, err = strides_fill(xb, [2, 3], 4, order)
    assert rc == X.XBUF_EINVAL and err.code == X.XBUF_EINVAL and err.text()
    assert out == [SENTINEL] * 3


@pytest.mark.parametrize("itemsize", [0, -1, -8, X.PTRDIFF_MIN])
def test_strides_fill_rejects_bad_itemsize(xb, itemsize):
    rc, out, err = strides_fill(xb, [2, 3], itemsize, b"C")
    assert rc == X.XBUF_EINVAL and err.code == X.XBUF_EINVAL and "itemsize" in err.text()
    assert out == [SENTINEL] * 3


def test_strides_fill_ndim_limits(xb):
    assert strides_fill(xb, [1] * 64, 1, b"C")[0] == 0
    rc, out, err = strides_fill(xb, [1] * 65, 1, b"C")
    assert rc == X.XBUF_EINVAL and "ndim" in err.text() and out == [SENTINEL] * 66
    assert strides_fill(xb, [], 1, b"C", ndim=-1)[0] == X.XBUF_EINVAL
    # ndim 0: shape and strides may be NULL
    assert xb.xbuf_strides_fill(0, None, 8, b"F", None, None) == 0
    assert xb.xbuf_strides_fill(2, None, 8, b"C", X.ssize_array([0, 0]), None) == X.XBUF_EINVAL
    assert xb.xbuf_strides_fill(2, X.ssize_array([2, 2]), 8, b"C", None, None) == X.XBUF_EINVAL


# ---- 3. xbuf_view_pointer ----------------------------------------------------


def view_pointer(xb, meta, idx):
    out = c_void_p(0xDEAD)
    err = new_error()
    rc = xb.xbuf_view_pointer(meta.ref, X.ssize_array(idx), byref(out), byref(err))
    return rc, out.value, err


@settings(max_examples=400)
@given(pair=any_arrays(nonempty=True), data=st.data())
def test_view_pointer_matches_numpy(xb, pair, data):
    _, arr = pair
    idx = tuple(data.draw(st.integers(0, n - 1)) for n in arr.shape)
    meta = X.view_of_array(arr)
    rc, got, err = view_pointer(xb, meta, idx)
    assert rc == 0, err.text()
    expected = data_ptr(arr[idx + (Ellipsis,)])  # NumPy's 0-d view of the item
    assert got == expected
    assert expected == data_ptr(arr) + sum(i * s for i, s in zip(idx, arr.strides))
    pb = X.py_buffer_from_meta(meta)
    assert PY.PyBuffer_GetPointer(byref(pb), X.ssize_array(idx)) == expected


@settings(max_examples=150)
@given(shape=st.lists(st.integers(1, 5), max_size=5), dtype=dtypes(), data=st.data())
def test_view_pointer_with_null_strides(xb, shape, dtype, data):
    """NULL strides mean C-contiguous; NULL shape (1-d only) means len/itemsize."""
    arr = np.zeros(shape, dtype)
    idx = tuple(data.draw(st.integers(0, n - 1)) for n in arr.shape)
    meta = X.view_of_array(arr, use_strides=False)
    rc, got, err = view_pointer(xb, meta, idx)
    assert rc == 0, err.text()
    assert got == data_ptr(arr[idx + (Ellipsis,)])
    if arr.ndim == 1:
        bare = X.ViewMeta(buf=data_ptr(arr), shape=arr.shape, strides=None,
                          itemsize=arr.itemsize, shape_null=True)
        assert not bare.view.shape
        rc, got_bare, err = view_pointer(xb, bare, idx)
        assert rc == 0, err.text()
        assert got_bare == got
        rc, _, err = view_pointer(xb, bare, (arr.shape[0],))
        assert rc == X.XBUF_ERANGE


@settings(max_examples=250)
@given(pair=any_arrays(min_dims=1, nonempty=True), data=st.data())
def test_view_pointer_out_of_range(xb, pair, data):
    """Indices outside 0..n-1 give XBUF_ERANGE and leave *out alone.  NumPy
    raises IndexError for the same indices except -n..-1, which it wraps and
    xbuf does not (protocol.h: negative indices are not wrapped)."""
    _, arr = pair
    idx = [data.draw(st.integers(0, n - 1)) for n in arr.shape]
    dim = data.draw(st.integers(0, arr.ndim - 1))
    n = arr.shape[dim]
    bad = data.draw(st.one_of(st.integers(n, n + 5), st.integers(-3 * n - 3, -1),
                              st.sampled_from([X.PTRDIFF_MIN, X.PTRDIFF_MAX])))
    idx[dim] = bad
    meta = X.view_of_array(arr)
    rc, got, err = view_pointer(xb, meta, idx)
    assert rc == X.XBUF_ERANGE, (idx, arr.shape)
    assert got == 0xDEAD, "*out written on failure"
    assert err.code == X.XBUF_ERANGE and f"dimension {dim}" in err.text()
    if bad >= n or bad < -n:
        with pytest.raises(IndexError):
            arr[tuple(idx)]


def test_view_pointer_zero_dim_and_bad_arguments(xb):
    arr = np.zeros((), "<f8")
    meta = X.view_of_array(arr)
    out = c_void_p()
    assert xb.xbuf_view_pointer(meta.ref, None, byref(out), None) == 0
    assert out.value == data_ptr(arr)
    two = X.view_of_array(np.zeros((2, 2)))
    assert xb.xbuf_view_pointer(two.ref, None, byref(out), None) == X.XBUF_EINVAL
    assert xb.xbuf_view_pointer(None, X.ssize_array([0]), byref(out), None) == X.XBUF_EINVAL
    assert xb.xbuf_view_pointer(two.ref, X.ssize_array([0, 0]), None, None) == X.XBUF_EINVAL
    two.view.shape = None
    assert xb.xbuf_view_pointer(two.ref, X.ssize_array([0, 0]), byref(out),
                                None) == X.XBUF_EINVAL


class Indirect:
    """A PIL-style 2-d image: `h` rows allocated separately, a table of row
    pointers at view->buf, suboffsets (pad, -1).  `row_step` is +-1 (the
    table read forwards or backwards) and the column stride may be negative."""

    def __init__(self, h, w, itemsize, pad, row_step, col_step):
        self.rows = [ctypes.create_string_buffer(pad + w * itemsize + 8) for _ in range(h)]
        self.table = (c_void_p * h)(*[ctypes.addressof(r) for r in self.rows])
        ps = ctypes.sizeof(c_void_p)
        buf = ctypes.addressof(self.table) + (0 if row_step > 0 else (h - 1) * ps)
        col_stride = itemsize * col_step
        self.first_col = 0 if col_step > 0 else (w - 1) * itemsize
        self.meta = X.ViewMeta(buf=buf, shape=[h, w], strides=[row_step * ps, col_stride],
                               itemsize=itemsize, suboffsets=[pad + self.first_col, -1])
        self.h, self.w, self.pad, self.row_step, self.col_stride = h, w, pad, row_step, col_stride

    def address(self, i, j):
        row = i if self.row_step > 0 else self.h - 1 - i
        return (ctypes.addressof(self.rows[row]) + self.pad + self.first_col
                + j * self.col_stride)


@settings(max_examples=150)
@given(h=st.integers(1, 6), w=st.integers(1, 6), itemsize=st.sampled_from([1, 2, 4, 8, 16]),
       pad=st.integers(0, 16), row_step=st.sampled_from([1, -1]),
       col_step=st.sampled_from([1, -1]), data=st.data())
def test_view_pointer_follows_suboffsets_like_pybuffer_getpointer(xb, h, w, itemsize, pad,
                                                                  row_step, col_step, data):
    img = Indirect(h, w, itemsize, pad, row_step, col_step)
    i, j = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    rc, got, err = view_pointer(xb, img.meta, (i, j))
    assert rc == 0, err.text()
    pb = X.py_buffer_from_meta(img.meta)
    assert got == PY.PyBuffer_GetPointer(byref(pb), X.ssize_array([i, j])) == img.address(i, j)
    # an indirect view is never contiguous, in xbuf and in CPython
    assert xbuf_contiguity(xb, img.meta) == cpython_contiguity(img.meta) == \
        {"C": False, "F": False, "A": False}
    # its directly addressed range is the table of row pointers
    lo, hi = ctypes.c_ssize_t(), ctypes.c_ssize_t()
    assert xb.xbuf_view_extent(img.meta.ref, byref(lo), byref(hi), None) == 0
    ps = ctypes.sizeof(c_void_p)
    assert (img.meta.view.buf + lo.value, img.meta.view.buf + hi.value) == (
        ctypes.addressof(img.table), ctypes.addressof(img.table) + h * ps)


def test_view_pointer_null_row_is_an_exporter_error(xb):
    img = Indirect(2, 3, 4, 0, 1, 1)
    img.table[1] = None
    rc, got, err = view_pointer(xb, img.meta, (1, 0))
    assert rc == X.XBUF_EEXPORTER and got == 0xDEAD and "NULL" in err.text()


# ---- 4. xbuf_extent / xbuf_view_extent ---------------------------------------


def extent(xb, shape, strides, itemsize, ndim=None):
    lo, hi = X.c_ptrdiff_t(SENTINEL), X.c_ptrdiff_t(SENTINEL)
    err = new_error()
    strides_arr = None if strides is None else X.ssize_array(strides)
    n = len(shape) if ndim is None else ndim
    rc = xb.xbuf_extent(n, X.ssize_array(shape), strides_arr, itemsize, byref(lo), byref(hi),
                        byref(err))
    return rc, lo.value, hi.value, err


def item_offsets(arr):
    """Byte offset of every item from the first one, by brute force."""
    off = np.zeros(arr.shape, dtype=np.int64)
    for d, (n, s) in enumerate(zip(arr.shape, arr.strides)):
        shape = [1] * arr.ndim
        shape[d] = n
        off = off + (np.arange(n, dtype=np.int64) * s).reshape(shape)
    return off


@settings(max_examples=400)
@given(any_arrays())
@example((np.zeros((4, 5)), np.zeros((4, 5))[1:1, ::-2]))
def test_extent_matches_numpy_byte_bounds(xb, pair):
    root, arr = pair
    rc, lo, hi, err = extent(xb, arr.shape, arr.strides, arr.itemsize)
    assert rc == 0, err.text()
    data = data_ptr(arr)
    assert (data + lo, data + hi) == tuple(byte_bounds(arr))
    if arr.size == 0:
        assert (lo, hi) == (0, 0)
    else:
        assert lo <= 0 < hi
        if root is not None:  # inside the memory the view was made from
            root_lo = data_ptr(root)
            assert root_lo <= data + lo and data + hi <= root_lo + root.nbytes
        off = item_offsets(arr)  # tight: the lowest item starts at lo, the highest ends at hi
        assert (int(off.min()), int(off.max()) + arr.itemsize) == (lo, hi)
    meta = X.view_of_array(arr)
    vlo, vhi = X.c_ptrdiff_t(), X.c_ptrdiff_t()
    assert xb.xbuf_view_extent(meta.ref, byref(vlo), byref(vhi), None) == 0
    assert (vlo.value, vhi.value) == (lo, hi)


@settings(max_examples=150)
@given(shape=st.lists(st.integers(0, 5), max_size=6), dtype=dtypes())
def test_extent_with_null_strides_is_the_packed_size(xb, shape, dtype):
    arr = np.zeros(shape, dtype)
    rc, lo, hi, err = extent(xb, shape, None, dtype.itemsize)
    assert rc == 0, err.text()
    assert (lo, hi) == (0, arr.nbytes)
    assert (data_ptr(arr) + lo, data_ptr(arr) + hi) == tuple(byte_bounds(arr))


@settings(max_examples=300)
@given(data=st.data(), ndim=st.integers(1, 4), itemsize=st.sampled_from([1, 8, 16]))
@example(data=None, ndim=0, itemsize=1)
def test_extent_overflow(xb, data, ndim, itemsize):
    """Exact arithmetic as the oracle: a non-empty range whose length
    hi - lo exceeds PTRDIFF_MAX is XBUF_EOVERFLOW; anything else is exact."""
    if data is None:
        shape, strides = [], []
    else:
        big = st.one_of(st.integers(0, 3), st.integers(2 ** 30, 2 ** 62))
        shape = data.draw(st.lists(big, min_size=ndim, max_size=ndim))
        strides = data.draw(st.lists(st.one_of(st.integers(-16, 16),
                                               st.integers(-(2 ** 63), 2 ** 63 - 1)),
                                     min_size=ndim, max_size=ndim))
    lo_x, hi_x = python_extent(shape, strides, itemsize)
    rc, lo, hi, err = extent(xb, shape, strides, itemsize)
    if hi_x - lo_x > X.PTRDIFF_MAX:
        assert rc == X.XBUF_EOVERFLOW, (shape, strides)
        assert err.code == X.XBUF_EOVERFLOW and err.text()
    else:
        assert rc == 0, err.text()
        assert (lo, hi) == (lo_x, hi_x)


def test_extent_bad_arguments(xb):
    assert extent(xb, [2, -1], [8, 8], 8)[0] == X.XBUF_EINVAL
    assert extent(xb, [2], [8], 0)[0] == X.XBUF_EINVAL
    assert extent(xb, [1] * 65, None, 1)[0] == X.XBUF_EINVAL
    rc, lo, hi, _ = extent(xb, [], None, 8)
    assert (rc, lo, hi) == (0, 0, 8)  # 0-d: one item
    lo = X.c_ptrdiff_t()
    assert xb.xbuf_extent(1, X.ssize_array([2]), None, 1, byref(lo), None, None) == \
        X.XBUF_EINVAL
    assert xb.xbuf_view_extent(None, byref(lo), byref(lo), None) == X.XBUF_EINVAL


# ---- 5. xbuf_fill_info vs PyBuffer_FillInfo ----------------------------------

CONSTANTS = X.cpython_constants()
REQUESTS = X.valid_requests(CONSTANTS) if CONSTANTS else []
WRITABLE = CONSTANTS["WRITABLE"] if CONSTANTS else 1


def snapshot(v, struct):
    """The fields a consumer sees, with shape/strides as values and as
    'points into the view itself' (CPython's and xbuf's shared trick)."""
    base = ctypes.addressof(v)
    n = v.ndim
    return {
        "buf": v.buf, "len": v.len, "itemsize": v.itemsize, "readonly": v.readonly,
        "ndim": n, "format": v.format,
        "shape": X.read_array(v.shape, n),
        "strides": X.read_array(v.strides, n),
        "shape_is_own_len": X.ptr_value(v.shape) == base + struct.len.offset,
        "strides_is_own_itemsize": X.ptr_value(v.strides) == base + struct.itemsize.offset,
        "suboffsets": X.ptr_value(v.suboffsets), "internal": v.internal,
    }


def cpython_fill_info(obj, flags):
    """What CPython's bytes/bytearray exporters (PyBuffer_FillInfo) give."""
    try:
        with X.cpython_buffer(obj, flags) as pb:
            return snapshot(pb, X.PyBuffer)
    except BufferError:
        return None


def test_every_request_is_covered():
    assert CONSTANTS is not None, "no CPython flag oracle (see test_flags.py)"
    assert len(REQUESTS) == 72


@pytest.mark.parametrize("flags", REQUESTS, ids=hex)
@pytest.mark.parametrize("make", [
    lambda: bytearray(b"hello, world"), lambda: bytearray(), lambda: bytearray(b"x"),
    lambda: b"immutable bytes", lambda: b"",
], ids=["bytearray", "bytearray0", "bytearray1", "bytes", "bytes0"])
def test_fill_info_matches_pybuffer_fillinfo(xb, flags, make):
    obj = make()
    readonly = isinstance(obj, bytes)
    expected = cpython_fill_info(obj, flags)
    # The memory CPython hands out, so that buf is compared too.
    with X.cpython_buffer(obj, 0) as pb:
        buf = pb.buf
    view = X.XbufView()
    ctypes.memset(byref(view), 0x5A, ctypes.sizeof(view))
    err = new_error()
    rc = xb.xbuf_fill_info(byref(view), id(obj), buf, len(obj), int(readonly), flags,
                           byref(err))
    if expected is None:  # CPython refused: a writable request on bytes
        assert readonly and flags & WRITABLE
        assert rc == X.XBUF_EREQUEST and err.code == X.XBUF_EREQUEST and err.text()
        assert bytes(view) == b"\0" * ctypes.sizeof(view), "view not left zeroed"
        return
    assert rc == 0, err.text()
    assert view.obj == id(obj)
    assert snapshot(view, X.XbufView) == expected


def test_fill_info_holds_a_real_export():
    """Sanity of the oracle: while CPython's view is held the bytearray
    refuses to resize (its export count is what we observed)."""
    b = bytearray(b"abc")
    with X.cpython_buffer(b, CONSTANTS["FULL"]):
        with pytest.raises(BufferError):
            b.append(1)
    b.append(1)


# (PyBUF_READ 0x100 and PyBUF_WRITE 0x200 alone are left out: CPython 3.12+
# refuses them with SystemError; test_flags.py covers xbuf's refusal.)
@pytest.mark.parametrize("flags", [0x10, 0x20, 0x28, 0x40, 0x80, 0x108, 0x2, 0x400], ids=hex)
def test_fill_info_refuses_malformed_requests_cpython_serves(xb, flags):
    """A deliberate difference: CPython's PyBuffer_FillInfo never validates
    the flags (bytearray serves e.g. the C_CONTIGUOUS bit without STRIDES);
    xbuf_fill_info refuses any request xbuf_flags_check refuses."""
    obj = bytearray(b"abc")
    assert cpython_fill_info(obj, flags) is not None
    view = X.XbufView()
    err = new_error()
    data = (ctypes.c_char * 3).from_buffer(obj)
    rc = xb.xbuf_fill_info(byref(view), None, ctypes.addressof(data), 3, 0, flags, byref(err))
    del data
    assert rc == X.XBUF_EINVAL and err.code == X.XBUF_EINVAL
    assert bytes(view) == b"\0" * ctypes.sizeof(view)


def test_fill_info_bad_arguments(xb):
    view = X.XbufView()
    data = ctypes.create_string_buffer(4)
    assert xb.xbuf_fill_info(None, None, data, 4, 0, 0, None) == X.XBUF_EINVAL
    assert xb.xbuf_fill_info(byref(view), None, data, -1, 0, 0, None) == X.XBUF_EINVAL
    assert xb.xbuf_fill_info(byref(view), None, None, 4, 0, 0, None) == X.XBUF_EINVAL
    assert xb.xbuf_fill_info(byref(view), None, None, 0, 0, 0, None) == 0
    assert view.buf is None and view.len == 0 and view.ndim == 1
