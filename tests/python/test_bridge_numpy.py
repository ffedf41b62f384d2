"""View.__array_interface__ against NumPy (issue #7).

NumPy prefers the buffer protocol to __array_interface__ for objects that
have both, so numpy.asarray(view) alone would not exercise the interface.
It is tested three ways here:
  * directly: view.__array_interface__ against NumPy's own
    arr.__array_interface__ for random arrays (every scalar kind, foreign
    byte orders, records nested and aligned, strided, negative steps,
    transposed, read-only): shape, strides, typestr, data address and
    read-only flag, descr;
  * through a holder, class H: __array_interface__ = ..., which NumPy can
    only read through the interface: numpy.asarray(H(...)) is the same
    memory (address, strides), the same item layout, the same values;
  * numpy.asarray(view) (the buffer protocol) gives what
    numpy.asarray(memoryview(arr)) gives, zero-copy.

Behaviours documented here (asserted):
  * PIL-style views have no __array_interface__: the attribute raises
    AttributeError saying why (so hasattr() is False), and numpy.asarray(view) raises
    NumPy's own BufferError about suboffsets; view.tolist() still works.
  * The array interface has no release hook: an array made through it holds
    no export, so view.release() succeeds under it.  The holder has to keep
    the memory alive (NumPy keeps the holder as the array's base).  An array
    made by numpy.asarray(view) holds an export and blocks release().
  * NumPy's PEP 3118 format cannot say that a nested record is longer than
    its fields (trailing padding inside a record); such records read back
    through either route with the same leaves at the same offsets, but the
    nested padding appears at the outer level.  Where NumPy cannot parse its
    own format (itemsize != the format's size), numpy.asarray(view) fails
    exactly as numpy.asarray(memoryview(arr)) does, and the holder route
    works.
  * Padding in "descr" is ('', '|V<n>'), as NumPy writes it; NumPy names
    such fields 'f<i>' when it reads a descr.
"""

import array
import ctypes
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xbuf
from numpy_layout import np_leaf_list

V = xbuf.View
LITTLE = sys.byteorder == "little"

SOME = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


class H:
    """An object NumPy can read only through its __array_interface__."""

    def __init__(self, interface, keep=None):
        self.__array_interface__ = interface
        self.keep = keep


def address(obj):
    return obj.__array_interface__["data"][0]


def used_strides(shape, strides):
    return tuple(s if n > 1 else None for n, s in zip(shape, strides))


def c_strides(shape, itemsize):
    out, step = [], itemsize
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


def effective_strides(interface, itemsize):
    """An interface's strides, None meaning C-contiguous."""
    strides = interface.get("strides")
    return tuple(strides) if strides is not None else c_strides(interface["shape"], itemsize)


def leaves(dt):
    """(path, offset, dtype) of every leaf but padding (unnamed void fields)."""
    return [(p, o, d) for p, o, d in np_leaf_list(dt)
            if not (d.kind == "V" and d.names is None and d.subdtype is None)]


def flat_dtype(arr):
    """The dtype after sub-array items became dimensions (NumPy does that
    with a sub-array dtype, and so does the interface)."""
    return arr.dtype.base if arr.dtype.subdtype is not None else arr.dtype


# ---- random arrays -------------------------------------------------------------------------

SCALARS = ["i1", "u1", "<i2", ">i2", "<u4", ">i4", "<i8", ">u8", "<f2", ">f2", "<f4", ">f8",
           "g", "?", "<c8", ">c16", "S1", "S3", "<U2", ">U1"]
LEAVES = ["i1", "u1", "<i2", ">u2", "<i4", ">i8", "<f4", ">f8", "?", "<c8", "S2", "<U1"]


@st.composite
def record_dtypes(draw, depth=0):
    fields = []
    for i in range(draw(st.integers(1, 4))):
        name = f"{'abcd'[depth]}{i}"
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            sub = draw(record_dtypes(depth=depth + 1))
        else:
            sub = np.dtype(draw(st.sampled_from(LEAVES)))
        shape = draw(st.sampled_from([(), (), (), (2,), (2, 3)]))
        fields.append((name, sub, shape) if shape else (name, sub))
    return np.dtype(fields, align=draw(st.booleans()))


def fill(arr, rng):
    dt = arr.dtype
    if dt.names:
        for name in dt.names:
            fill(arr[name], rng)
        return
    if dt.subdtype is not None:
        raise AssertionError("sub-array fields are extra dimensions of arr[name]")
    n = arr.size
    if dt.kind == "b":
        values = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        values = rng.integers(info.min, info.max, n, endpoint=True, dtype=dt.newbyteorder("="))
    elif dt.kind == "c":
        values = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    elif dt.kind == "S":
        values = [bytes(rng.integers(1, 128, dt.itemsize, dtype=np.uint8)) for _ in range(n)]
    elif dt.kind == "U":
        values = ["".join(chr(c) for c in rng.integers(0x21, 0x2000, dt.itemsize // 4))
                  for _ in range(n)]
    else:
        values = rng.standard_normal(n) * 100
    arr[...] = np.asarray(values).astype(dt).reshape(arr.shape)


@st.composite
def arrays(draw, dtypes=st.sampled_from(SCALARS).map(np.dtype), max_ndim=4):
    """Random arrays: steps of either sign, transposes, read-only or not."""
    dt = draw(dtypes)
    ndim = draw(st.integers(0, max_ndim))
    shape = draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim))
    steps = [draw(st.sampled_from([1, 1, 2, 3, -1, -2])) for _ in shape]
    base = np.zeros([max(1, n * abs(s)) for n, s in zip(shape, steps)], dt)
    fill(base, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    key = tuple(slice(None, n * s, s) if s > 0 else slice(None, None, s)
                for n, s in zip(shape, steps))
    arr = base[key][tuple(slice(0, n) for n in shape)] if ndim else base
    if ndim > 1 and draw(st.booleans()):
        arr = arr.transpose(draw(st.permutations(range(ndim))))
    arr.flags.writeable = draw(st.booleans())
    return arr


def all_arrays():
    return arrays() | arrays(dtypes=record_dtypes(), max_ndim=2)


def assert_interface_is(interface, arr, what):
    """`interface` describes exactly the memory and items of `arr`."""
    own = arr.__array_interface__
    assert interface["version"] == 3, what
    assert tuple(interface["shape"]) == arr.shape, what
    assert interface["typestr"] == own["typestr"], (what, interface["typestr"], own["typestr"])
    assert interface["data"][1] == (not arr.flags.writeable), what
    if arr.size:
        assert interface["data"][0] == own["data"][0], what
        assert used_strides(arr.shape, effective_strides(interface, arr.itemsize)) == \
            used_strides(arr.shape, effective_strides(own, arr.itemsize)), what
    if arr.dtype.names is None:
        assert interface["descr"] == own["descr"], what


def assert_holder_array_is(b, arr, what):
    """numpy.asarray(H(interface)) is arr's memory with arr's items."""
    assert b.shape == arr.shape and b.itemsize == arr.itemsize, what
    assert leaves(b.dtype) == leaves(arr.dtype), (what, b.dtype, arr.dtype)
    assert b.flags.writeable == arr.flags.writeable, what
    if arr.size:
        assert address(b) == address(arr), what
        assert used_strides(b.shape, b.strides) == used_strides(arr.shape, arr.strides), what
    if arr.dtype.names is None:
        np.testing.assert_array_equal(b, arr)
    else:
        for path, _, _ in leaves(arr.dtype):
            if "[" not in path:
                x, y = b, arr
                for part in path.split("."):
                    x, y = x[part], y[part]
                np.testing.assert_array_equal(x, y)


def numpy_mislabels(arr):
    """NumPy exports some packed records (arrays of 0 or 1 items, and some
    sub-arrays of records) with an aligned format that is longer than the
    item (test_view_numpy.py, numpy_export_consistent).  View refuses them
    when fields stick out of the item, and B2 (below) shows what happens
    when only padding does; the random tests leave them out."""
    return arr.dtype.names is not None and \
        xbuf.calcsize(memoryview(arr).format) > arr.itemsize


def numpy_reads_its_own_format(arr):
    """Whether NumPy's buffer import reads arr's PEP 3118 export back with
    the same leaves (it does not for some records: module docstring)."""
    try:
        back = np.asarray(memoryview(arr))
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        return False
    return leaves(back.dtype) == leaves(arr.dtype)


# ---- the interface against NumPy's own ------------------------------------------------------

@SOME
@given(all_arrays())
def test_interface_matches_numpys_own(arr):
    if numpy_mislabels(arr):
        return
    v = V(arr)
    if not numpy_reads_its_own_format(arr) and arr.dtype.names is not None:
        # The view reads NumPy's format; where that format misplaces fields,
        # only the bytes and the itemsize are sure to agree.
        interface = v.__array_interface__
        assert interface["typestr"] == arr.__array_interface__["typestr"]
        return
    assert_interface_is(v.__array_interface__, arr, "View")
    b = np.asarray(H(v.__array_interface__, keep=v))
    assert_holder_array_is(b, arr, "H(view.__array_interface__)")


@SOME
@given(all_arrays())
def test_numpy_asarray_of_views(arr):
    """numpy.asarray(view) reads the buffer protocol: the same as reading a
    memoryview of the array, with no copy."""
    if numpy_mislabels(arr):
        return
    v = V(arr)
    try:
        expected = np.asarray(memoryview(arr))
    except Exception as exc:  # noqa: BLE001 -- NumPy cannot parse its own format
        with pytest.raises(type(exc)):
            np.asarray(v)
        b = np.asarray(H(v.__array_interface__, keep=v))  # the interface still works
        assert b.itemsize == arr.itemsize and b.shape == arr.shape
        return
    n = np.asarray(v)
    assert n.dtype == expected.dtype and n.shape == expected.shape
    assert n.flags.writeable == expected.flags.writeable == arr.flags.writeable
    if arr.size:
        assert address(n) == address(arr), "a copy was made"
        assert used_strides(n.shape, n.strides) == used_strides(arr.shape, arr.strides)
    if arr.dtype.names is None:
        np.testing.assert_array_equal(n, arr)


@SOME
@given(arrays(max_ndim=3).filter(lambda a: a.ndim >= 1), st.data())
def test_interface_follows_slices_and_transposes(arr, data):
    v = V(arr)
    key = tuple(data.draw(st.sampled_from([slice(None), slice(None, None, -1), slice(1, None, 2),
                                           slice(None, 2)])) for _ in range(arr.ndim))
    perm = data.draw(st.permutations(range(arr.ndim)))
    assert_interface_is(v[key].transpose(*perm).__array_interface__,
                        arr[key].transpose(perm), "v[key].transpose(perm)")


def test_c_contiguous_record_example():
    dt = np.dtype([("a", "<i2"), ("b", ">f8"), ("c", "S3"), ("d", "<u4", (2,))], align=True)
    arr = np.zeros(3, dt)
    arr["a"], arr["b"], arr["c"], arr["d"] = [1, 2, 3], [0.5, 1.5, 2.5], [b"x", b"yy", b"zzz"], 7
    ai = V(arr).__array_interface__
    own = arr.__array_interface__
    assert ai["descr"] == own["descr"] == [
        ("a", "<i2"), ("", "|V6"), ("b", ">f8"), ("c", "|S3"), ("", "|V1"), ("d", "<u4", (2,)),
        ("", "|V4")]
    assert ai["typestr"] == "|V32" and ai["shape"] == (3,) and ai["strides"] == (32,)
    b = np.asarray(H(ai))
    assert b.dtype.names == ("a", "f1", "b", "c", "f4", "d", "f6")  # NumPy names the padding
    for name in dt.names:
        np.testing.assert_array_equal(b[name], arr[name])


def test_field_views_and_sub_arrays():
    dt = np.dtype([("a", "<i2"), ("m", ">f4", (2, 3)), ("r", [("x", "u1"), ("y", "<i4")])])
    arr = np.zeros(4, dt)
    fill(arr, np.random.default_rng(7))
    v = V(arr)
    assert_interface_is(v.field("m").__array_interface__, arr["m"], "field m (sub-array)")
    assert_interface_is(v.field("r.y").__array_interface__, arr["r"]["y"], "field r.y")
    assert_interface_is(v[::-2].field("a").__array_interface__, arr[::-2]["a"], "a of v[::-2]")
    r = v.field("r").__array_interface__
    assert r["typestr"] == "|V5" and r["descr"] == [("x", "|u1"), ("y", "<i4")]
    assert np.asarray(H(r)).tolist() == arr["r"].tolist()


def test_sub_array_items_become_dimensions():
    arr = np.arange(24, dtype="<i4")
    v = V(arr).cast("B").cast("(2,3)i")
    ai = v.__array_interface__
    assert ai["shape"] == (4, 2, 3) and ai["strides"] == (24, 12, 4) and ai["typestr"] == "<i4"
    assert np.asarray(H(ai)).tolist() == arr.reshape(4, 2, 3).tolist()
    w = V(arr).cast("B").cast("(3)h")  # (a cast of 'B' to any format)
    assert w.__array_interface__["shape"] == (16, 3)


def test_zero_dim_and_empty_views():
    z = V(np.array(2.5))
    assert z.__array_interface__["shape"] == () and np.asarray(H(z.__array_interface__)) == 2.5
    e = np.zeros((0, 3), "<f8")
    ai = V(e).__array_interface__
    assert ai["shape"] == (0, 3) and np.asarray(H(ai)).shape == (0, 3)


# ---- exporters that are not NumPy -----------------------------------------------------------

def _exporters():
    class Point(ctypes.Structure):  # itemsize 8, format 5 bytes: cpython #76961
        _fields_ = [("a", ctypes.c_int), ("b", ctypes.c_char)]

    points = (Point * 3)()
    for i, p in enumerate(points):
        p.a, p.b = i * 10, bytes([65 + i])
    return [
        ("Exporter FORTRAN", xbuf.Exporter(list(range(12)), shape=[3, 4], format="h",
                                           flags=xbuf.Exporter.FORTRAN)),
        ("Exporter strides/offset", xbuf.Exporter(list(range(12)), shape=[3, 2],
                                                  strides=[-8, 2], offset=16, format="<h")),
        ("Exporter readonly", xbuf.Exporter([1.5, 2.5], format=">d",
                                            flags=xbuf.Exporter.READONLY)),
        ("array.array", array.array("q", range(5))),
        ("bytes", b"abcdef"),
        ("ctypes int[2][3]", (ctypes.c_int * 3 * 2)(*[(ctypes.c_int * 3)(*range(3))] * 2)),
        ("ctypes struct array", points),
    ]


@pytest.mark.parametrize("case", range(len(_exporters())),
                         ids=[name for name, _ in _exporters()])
def test_other_exporters(case):
    """The interface of a View of any exporter against NumPy's reading of
    the same exporter through the buffer protocol."""
    what, obj = _exporters()[case]
    v = V(obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's about ctypes' itemsize
        expected = np.asarray(memoryview(obj))
    b = np.asarray(H(v.__array_interface__, keep=v))
    assert b.shape == expected.shape and b.itemsize == expected.itemsize, what
    assert leaves(b.dtype) == leaves(expected.dtype), (what, b.dtype, expected.dtype)
    assert address(b) == address(expected), what
    assert used_strides(b.shape, b.strides) == used_strides(expected.shape, expected.strides)
    assert b.flags.writeable == expected.flags.writeable, what
    if b.dtype.names is None:
        assert b.tolist() == expected.tolist(), what
    else:  # (the holder's array has the padding as a field)
        assert b[list(expected.dtype.names)].tolist() == expected.tolist(), what


def test_ctypes_padding_is_described():
    what, points = _exporters()[-1]
    ai = V(points).__array_interface__
    assert ai["typestr"] == "|V8"  # the exporter's itemsize, not the format's 5 bytes
    assert ai["descr"] == [("a", "<i4" if LITTLE else ">i4"), ("b", "|S1"), ("", "|V3")]
    b = np.asarray(H(ai))
    assert b["a"].tolist() == [0, 10, 20] and b["b"].tolist() == [b"A", b"B", b"C"]


# ---- refusals ------------------------------------------------------------------------------

def pil_view():
    e = xbuf.Exporter(list(range(12)), shape=[3, 4], format="i", flags=xbuf.Exporter.PIL)
    return V(e)


def test_pil_views_are_refused():
    v = pil_view()
    with pytest.raises(AttributeError, match="PIL-style"):
        v.__array_interface__
    assert not hasattr(v, "__array_interface__")
    with pytest.raises(BufferError, match="suboffsets"):
        np.asarray(v)  # NumPy's own refusal, from the buffer protocol
    assert np.array(v.tolist()).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert np.asarray(V(bytearray(v.tobytes())).cast("i", [3, 4])).tolist() == v.tolist()


@pytest.mark.parametrize("fmt,reason", [
    ("Ze", "complex numbers of half floats"), ("u", "UCS-2"), ("3p", "Pascal"),
    ("T{3t:a:5t:b:}", "bit fields")])
def test_types_numpy_lacks(fmt, reason):
    v = V(bytearray(xbuf.calcsize(fmt) * 2)).cast(fmt)
    with pytest.raises(TypeError, match=reason):
        v.__array_interface__


def test_released_view():
    v = V(bytearray(8))
    v.release()
    with pytest.raises(ValueError, match="released"):
        v.__array_interface__


# ---- lifetimes -----------------------------------------------------------------------------

def test_asarray_holds_an_export():
    arr = np.arange(6.0)
    v = V(arr)[::2]
    n = np.asarray(v)
    with pytest.raises(BufferError):
        v.release()
    del n
    v.release()


def test_interface_holds_no_export():
    """The array interface has no release hook: NumPy keeps the holder."""
    arr = np.arange(6.0)
    v = V(arr)
    h = H(v.__array_interface__, keep=v)
    b = np.asarray(h)
    assert b.base is h
    v.release()  # not refused: nothing counts the interface's users
    assert b.tolist() == arr.tolist()  # (arr, not v, owns the memory here)


def test_views_and_numpy_share_writes():
    arr = np.zeros((3, 4), "<i4")
    v = V(arr)[1:, ::-2]
    b = np.asarray(H(v.__array_interface__, keep=v))
    b[...] = 5
    assert arr.tolist() == [[0, 0, 0, 0], [0, 5, 0, 5], [0, 5, 0, 5]]
    n = np.asarray(v)
    n[0, 0] = 9
    assert arr[1, 3] == 9


# ---- found while testing (reported in /tmp/bridge-bugs.md) ---------------------------------

def test_cast_to_object_pointers_is_refused():
    """B1: View.cast('O') turns any bytes into PyObject pointers; tolist()
    and numpy.asarray(view) (typestr '|O') then dereference them and crash
    the interpreter.  memoryview refuses the cast ("destination format must
    be a native single character format").  The crash is shown in a child
    process; the assertion is on the cast itself."""
    code = textwrap.dedent("""
        import xbuf
        try:
            v = xbuf.View(bytearray(b"\\x41" * 8)).cast("O")
        except (ValueError, TypeError):
            raise SystemExit(0)
        v.tolist()
    """)
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    with pytest.raises((ValueError, TypeError)):
        V(bytearray(8)).cast("O")
    assert child.returncode == 0, f"the child process died ({child.returncode})"


def test_descr_fits_in_the_item():
    """B2: NumPy exports a packed 1-item array of dtype
    [('a0', [('b0', '<i2'), ('b1', 'i1')])] (itemsize 3) with the aligned
    format 'T{T{h:b0:b:b1:}:a0:}' (4 bytes under '@').  View accepts it (only
    padding sticks out) and says typestr '|V3' -- but its descr describes the
    nested record with its padding, 4 bytes, so NumPy builds a 4-byte dtype
    at stride 3 and reads one byte past the end of the memory."""
    dt = np.dtype([("a0", [("b0", "<i2"), ("b1", "i1")])])
    arr = np.zeros(1, dt)
    ai = V(arr).__array_interface__
    assert ai["typestr"] == "|V3"
    b = np.asarray(H(ai))
    assert b.itemsize == 3 and b.nbytes == arr.nbytes, (ai["descr"], b.dtype)


def test_object_arrays_keep_their_pointers():
    """A View of NumPy's own object array describes it as NumPy does ('|O');
    the objects are NumPy's, alive while the array is."""
    arr = np.array([1, "x", None], dtype=object)
    v = V(arr)
    assert v.__array_interface__["typestr"] == "|O"
    assert np.asarray(H(v.__array_interface__, keep=(v, arr))).tolist() == [1, "x", None]
