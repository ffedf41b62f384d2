"""The Arrow C data interface against pyarrow (issue #7), both directions.

  * View -> pyarrow (pyarrow.array(view), to_arrow(...) read with
    pyarrow.Array._import_from_c_capsule): fixed-width primitives, N-d views
    as nested fixed-size lists or arrow.fixed_shape_tensor, records as
    fixed-size binary (zero-copy) or as a struct of arrays (a copy); zero
    copies proven by the values buffer's address; the view cannot be
    released while pyarrow holds its memory (even a moved child of it);
    what Arrow cannot hold is refused with ValueError, or copied where
    to_arrow(copy=True) allows it.
  * pyarrow -> xbuf.from_arrow: primitive, fixed-size-list and
    fixed_shape_tensor arrays become read-only views of the same memory;
    nulls, offsets (arr.slice(1)), dictionaries, variable-length and
    bit-packed types are refused with ValueError saying why.
  * Release: an Arrow producer written here with ctypes counts its release
    callbacks: the array's runs exactly once, when the last derived view
    lets go; a refused array is left to its producer; the schema is only
    read.  pyarrow's memory pool shows the same end to end.

Behaviours documented here (asserted):
  * pyarrow.array(view) reads __arrow_c_array__ and so follows the default
    options: N-d views become nested fixed_size_list, records
    fixed_size_binary.
  * Imported views are read-only (the spec asks consumers not to write).
  * A schema capsule alone (__arrow_c_schema__) holds no export.
  * fixed_shape_tensor "permutation": xbuf follows the spec's text (logical
    dimension i is physical dimension permutation[i]).  pyarrow 26 agrees
    for permutations that are their own inverse; for 3-cycles its
    from_numpy_ndarray / to_numpy_ndarray do not round-trip even between
    themselves, so those are checked against the spec, not pyarrow.
  * Releases happen by reference counting alone: no gc.collect() is needed
    for a consumer's release to give the export back.
"""

import ctypes
import gc
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import xbuf
from numpy_layout import np_leaf_sizes

V = xbuf.View
LITTLE = sys.byteorder == "little"
FOREIGN = ">" if LITTLE else "<"

SOME = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])


def address(obj):
    return obj.__array_interface__["data"][0]


def imported(pair):
    return pa.Array._import_from_c_capsule(*pair)


def used_strides(shape, strides):
    """Strides that matter: those of extents > 1."""
    return tuple(s if n > 1 else None for n, s in zip(shape, strides))


def is_held(view):
    try:
        view.release()
    except BufferError:
        return True
    return False


def innermost(arr):
    """The values array under any number of fixed-size-list levels."""
    if isinstance(arr, pa.ExtensionArray):
        arr = arr.storage
    while pa.types.is_fixed_size_list(arr.type):
        arr = arr.values
    return arr


# NumPy dtype -> the Arrow type xbuf exports it as (docs/arrow.md)
ARROW_TYPES = {"i1": pa.int8(), "u1": pa.uint8(), "i2": pa.int16(), "u2": pa.uint16(),
               "i4": pa.int32(), "u4": pa.uint32(), "i8": pa.int64(), "u8": pa.uint64(),
               "f2": pa.float16(), "f4": pa.float32(), "f8": pa.float64()}
DTYPES = list(ARROW_TYPES)


def fill(arr, rng):
    dt = arr.dtype
    if dt.kind == "b":
        values = rng.integers(0, 2, arr.shape).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        values = rng.integers(info.min, info.max, arr.shape, endpoint=True,
                              dtype=dt.newbyteorder("="))
    elif dt.kind == "S":
        values = np.array([bytes(rng.integers(1, 128, dt.itemsize, dtype=np.uint8))
                           for _ in range(arr.size)], dt).reshape(arr.shape)
    else:
        values = rng.integers(-1000, 1000, arr.shape) / 8  # exact in float16
    arr[...] = np.asarray(values).astype(dt)


@st.composite
def c_arrays(draw, dtypes=DTYPES, max_ndim=3):
    dt = np.dtype(draw(st.sampled_from(dtypes)))
    ndim = draw(st.integers(0, max_ndim))
    shape = draw(st.lists(st.integers(0 if ndim == 1 else 1, 5), min_size=ndim, max_size=ndim))
    arr = np.zeros(shape, dt)
    fill(arr, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    arr.flags.writeable = draw(st.booleans())
    return arr


def expected_type(arr):
    t = ARROW_TYPES[arr.dtype.str[1:]]
    for n in reversed(arr.shape[1:]):
        t = pa.list_(t, n)
    return t


# ---- View -> pyarrow ---------------------------------------------------------------------

@SOME
@given(c_arrays())
def test_pyarrow_array_of_views(arr):
    v = V(arr)
    a = pa.array(v)
    assert a.type == expected_type(arr)
    assert len(a) == (len(arr) if arr.ndim else 1)  # a 0-d view is an array of one
    values = innermost(a)
    assert values.null_count == 0 and values.offset == 0
    if arr.size:
        assert values.buffers()[1].address == address(arr), "a copy was made"
    np.testing.assert_array_equal(values.to_numpy(zero_copy_only=True), arr.reshape(-1))
    assert a.to_pylist() == (arr.tolist() if arr.ndim else [arr.tolist()])
    assert is_held(v)
    del a, values
    assert not is_held(v)


@SOME
@given(c_arrays(max_ndim=4).filter(lambda a: a.ndim >= 2))
def test_to_arrow_tensor(arr):
    v = V(arr)
    t = imported(xbuf.to_arrow(v, nd="tensor"))
    assert isinstance(t, pa.FixedShapeTensorArray)
    assert t.type.shape == list(arr.shape[1:]) and t.type.value_type == \
        ARROW_TYPES[arr.dtype.str[1:]]
    assert t.type.permutation is None or t.type.permutation == list(range(arr.ndim - 1))
    np.testing.assert_array_equal(t.to_numpy_ndarray(), arr)
    assert innermost(t).buffers()[1].address == address(arr)
    assert is_held(v)
    del t
    assert not is_held(v)


def test_one_dimensional_tensor_is_a_plain_array():
    arr = np.arange(4, dtype="i4")
    assert imported(xbuf.to_arrow(V(arr), nd="tensor")).type == pa.int32()


def test_sub_array_items_are_dimensions():
    arr = np.arange(24, dtype="i4")
    v = V(arr).cast("B").cast("(2,3)i")
    assert v.shape == (4,)
    a = pa.array(v)
    assert a.type == pa.list_(pa.list_(pa.int32(), 3), 2)
    assert a.to_pylist() == arr.reshape(4, 2, 3).tolist()
    t = imported(xbuf.to_arrow(v, nd="tensor"))
    assert t.type.shape == [2, 3]
    np.testing.assert_array_equal(t.to_numpy_ndarray(), arr.reshape(4, 2, 3))


def test_moved_child_keeps_the_export():
    """The export lives in the values node: a child that outlives its parent
    still holds the view."""
    v = V(np.arange(24, dtype="<i2").reshape(2, 3, 4))
    a = pa.array(v)
    values = a.values.values
    assert values.buffers()[1].address == address(v)
    del a
    assert is_held(v)
    assert values.to_pylist() == list(range(24))
    del values
    assert not is_held(v)


def test_schema_alone_holds_no_export():
    v = V(np.zeros((2, 3), "f8"))
    schema = v.__arrow_c_schema__()
    assert not is_held(v)
    assert pa.DataType._import_from_c_capsule(schema) == pa.list_(pa.float64(), 3)


def test_unconsumed_capsules_give_the_export_back():
    v = V(np.zeros(3, "u2"))
    pairs = [v.__arrow_c_array__(), xbuf.to_arrow(v, nd="tensor")]
    with pytest.raises(BufferError, match="2 views"):
        v.release()
    pairs.clear()
    assert not is_held(v)


def test_requested_schema_is_ignored():
    v = V(np.arange(3, dtype="i4"))
    a = pa.array(v, type=pa.int32())
    assert a.buffers()[1].address == address(v)


def test_readonly_and_writable_views_export_alike():
    arr = np.arange(5, dtype="f4")
    ro = V(arr).toreadonly()
    assert pa.array(ro).buffers()[1].address == pa.array(V(arr)).buffers()[1].address


@pytest.mark.parametrize("fmt,arrow_type", [
    ("b", pa.int8()), ("B", pa.uint8()), ("h", pa.int16()), ("H", pa.uint16()),
    ("i", pa.int32()), ("I", pa.uint32()), ("<l", pa.int32()), ("q", pa.int64()),
    ("Q", pa.uint64()), ("n", pa.int64() if ctypes.sizeof(ctypes.c_ssize_t) == 8 else pa.int32()),
    ("l", pa.int64() if ctypes.sizeof(ctypes.c_long) == 8 else pa.int32()),
    ("e", pa.float16()), ("f", pa.float32()), ("d", pa.float64()),
    ("c", pa.binary(1)), ("5s", pa.binary(5)), ("3x:pad:", pa.binary(3)),
    ("T{i:a:h:b:}", pa.binary(8))])
def test_exported_types(fmt, arrow_type):
    v = V(bytearray(xbuf.calcsize(fmt) * 3)).cast(fmt)
    a = pa.array(v)
    assert a.type == arrow_type and len(a) == 3
    assert pa.DataType._import_from_c_capsule(v.__arrow_c_schema__()) == arrow_type


# -- records --

LEAVES = ["i1", "u1", "<i2", ">u2", "<i4", ">i4", "<u8", ">i8", "<f2", ">f4", "<f8", "?",
          "S1", "S3"]


@st.composite
def record_dtypes(draw, depth=0):
    fields = []
    for i in range(draw(st.integers(1, 4))):
        if depth < 1 and draw(st.integers(0, 4)) == 0:
            sub = draw(record_dtypes(depth=depth + 1))
        else:
            sub = np.dtype(draw(st.sampled_from(LEAVES)))
        shape = draw(st.sampled_from([(), (), (), (2,), (2, 3)]))
        name = f"{'xyzw'[depth]}{i}"
        fields.append((name, sub, shape) if shape else (name, sub))
    return np.dtype(fields, align=draw(st.booleans()))


@st.composite
def record_arrays(draw):
    dt = draw(record_dtypes())
    arr = np.zeros(draw(st.integers(0, 5)), dt)
    assume(numpy_format_says_its_layout(arr))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fill_record(arr, rng)
    return arr


def format_leaves(fmt, path="", offset=0):
    """[(path, offset, itemsize)] of every leaf of a format, as np_leaf_sizes."""
    if fmt.kind == "struct":
        out = []
        for name, at, sub in fmt.fields:
            out += format_leaves(sub, f"{path}.{name}" if path else name, offset + at)
        return out
    if fmt.kind == "array":
        out = []
        for k, index in enumerate(np.ndindex(*fmt.shape)):
            out += format_leaves(fmt.base, path + "".join(f"[{i}]" for i in index),
                                 offset + k * fmt.base.itemsize)
        return out
    return [(path, offset, fmt.itemsize)]


def numpy_format_says_its_layout(arr):
    """Whether NumPy's PEP 3118 format for `arr` places every leaf where the
    dtype does.  It does not for nested records with trailing padding (the
    format cannot say it) and for some packed dtypes that NumPy calls aligned
    (test_view_numpy.py, numpy_export_consistent); View reads the format, so
    those arrays are left out."""
    fmt = memoryview(arr).format
    return (xbuf.calcsize(fmt) <= arr.itemsize and
            format_leaves(xbuf.Format(fmt)) == np_leaf_sizes(arr.dtype))


def fill_record(arr, rng):
    if arr.dtype.names:
        for name in arr.dtype.names:
            fill_record(arr[name], rng)
    else:
        fill(arr, rng)


def arrow_value(x):
    """A NumPy record's value as pyarrow's to_pylist() gives it."""
    if isinstance(x, np.void) and x.dtype.names:
        return {name: arrow_value(x[name]) for name in x.dtype.names}
    if isinstance(x, np.ndarray):
        return [arrow_value(e) for e in x]
    if isinstance(x, np.bytes_):
        return bytes(x)
    return x.item()


def arrow_field_type(dt):
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        t = arrow_field_type(base)
        for n in reversed(shape):
            t = pa.list_(t, n)
        return t
    if dt.names:
        return pa.struct([(name, arrow_field_type(dt.fields[name][0])) for name in dt.names])
    if dt.kind == "b":
        return pa.bool_()
    if dt.kind == "S":
        return pa.binary(dt.itemsize)
    return ARROW_TYPES[dt.str[1:]]


@SOME
@given(record_arrays())
def test_records_as_fixed_size_binary(arr):
    v = V(arr)
    a = pa.array(v)
    assert a.type == pa.binary(arr.itemsize)  # padding included, no copy
    assert a.to_pylist() == [arr[i:i + 1].tobytes() for i in range(len(arr))]
    if arr.size:
        assert a.buffers()[1].address == address(arr)
    assert is_held(v)


@SOME
@given(record_arrays())
def test_records_as_struct_of_arrays(arr):
    v = V(arr)
    s = imported(xbuf.to_arrow(v, records="struct"))
    assert s.type == arrow_field_type(arr.dtype)
    assert s.to_pylist() == [arrow_value(r) for r in arr]
    assert not is_held(v)  # every field is a copy


def test_struct_of_arrays_with_tensor_fields():
    dt = np.dtype([("a", "<i4"), ("m", ">f8", (2, 2))])
    arr = np.zeros(2, dt)
    arr["m"] = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    s = imported(xbuf.to_arrow(V(arr), records="struct", nd="tensor"))
    m = s.field("m")
    assert isinstance(m, pa.FixedShapeTensorArray) and m.type.shape == [2, 2]
    np.testing.assert_array_equal(m.to_numpy_ndarray(), arr["m"])


# -- what Arrow cannot hold --

@SOME
@given(st.sampled_from(DTYPES), st.integers(2, 5), st.integers(2, 5), st.data())
def test_strided_views_need_copy(dtype, rows, cols, data):
    arr = np.zeros((rows, cols), dtype)
    fill(arr, np.random.default_rng(0))
    how = data.draw(st.sampled_from([lambda v: v.T, lambda v: v[::-1], lambda v: v[:, ::2],
                                     lambda v: v[:, 1:]]))
    v = how(V(arr))
    with pytest.raises(ValueError, match="C-contiguous"):
        pa.array(v)
    with pytest.raises(ValueError, match="C-contiguous"):
        xbuf.to_arrow(v)
    expected = v.tolist()
    a = imported(xbuf.to_arrow(v, copy=True))
    assert a.to_pylist() == expected
    assert innermost(a).buffers()[1].address != address(v)
    assert not is_held(v)  # the gathered copy holds no export


def test_foreign_byte_order_needs_copy():
    arr = np.arange(-3, 3, dtype=FOREIGN + "i4")
    v = V(arr)
    with pytest.raises(ValueError, match="byte order"):
        pa.array(v)
    a = imported(xbuf.to_arrow(v, copy=True))
    assert a.type == pa.int32() and a.to_pylist() == arr.tolist()
    assert not is_held(v)


def test_bools_need_copy():
    arr = np.array([[True, False, True], [False, False, True]])
    v = V(arr)
    with pytest.raises(ValueError, match="bit"):
        pa.array(v)
    a = imported(xbuf.to_arrow(v, copy=True))
    assert a.type == pa.list_(pa.bool_(), 3) and a.to_pylist() == arr.tolist()


def test_pil_views_are_refused_even_with_copy():
    v = V(xbuf.Exporter(list(range(12)), shape=[3, 4], format="i", flags=xbuf.Exporter.PIL))
    for copy in (False, True):
        with pytest.raises(ValueError, match="suboffsets"):
            xbuf.to_arrow(v, copy=copy)
    with pytest.raises(ValueError, match="suboffsets"):
        pa.array(v)
    assert not is_held(v)


@pytest.mark.parametrize("fmt,reason", [
    ("g", "long double"), ("Zd", "complex"), ("Zf", "complex"), ("P", "pointer"),
    ("T{i:a:g:b:}", "long double"), ("T{i:a:Zd:z:}", "complex")])
def test_types_arrow_lacks(fmt, reason):
    v = V(bytearray(xbuf.calcsize(fmt) * 2)).cast(fmt)
    if fmt.startswith("T"):  # a record is its bytes, unless split into fields
        assert pa.array(v).type == pa.binary(v.itemsize)
        with pytest.raises(ValueError, match=reason):
            xbuf.to_arrow(v, records="struct")
        return
    for copy in (False, True):
        with pytest.raises(ValueError, match=reason):
            xbuf.to_arrow(v, copy=copy)
    with pytest.raises(ValueError, match=reason):
        v.__arrow_c_schema__()
    assert not is_held(v)


def test_to_arrow_argument_errors():
    v = V(bytearray(4))
    with pytest.raises(ValueError, match="nd"):
        xbuf.to_arrow(v, nd="matrix")
    with pytest.raises(ValueError, match="records"):
        xbuf.to_arrow(v, records="rows")
    with pytest.raises(TypeError):
        xbuf.to_arrow(bytearray(4))
    with pytest.raises(TypeError):
        xbuf.to_arrow(v, "tensor")  # options are keywords
    v.release()
    with pytest.raises(ValueError):
        xbuf.to_arrow(v)
    with pytest.raises(ValueError):
        v.__arrow_c_array__()


# ---- pyarrow -> View ---------------------------------------------------------------------

PRIMITIVES = [(pa.int8(), "b"), (pa.uint8(), "B"), (pa.int16(), "h"), (pa.uint16(), "H"),
              (pa.int32(), "i"), (pa.uint32(), "I"), (pa.int64(), "q"), (pa.uint64(), "Q"),
              (pa.float32(), "f"), (pa.float64(), "d")]


@st.composite
def primitive_arrays(draw):
    arrow_type, fmt = draw(st.sampled_from(PRIMITIVES))
    n = draw(st.integers(0, 20))
    if pa.types.is_integer(arrow_type):
        info = np.iinfo(arrow_type.to_pandas_dtype())
        values = draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n))
    else:
        width = 32 if arrow_type == pa.float32() else 64
        values = draw(st.lists(st.floats(width=width, allow_nan=False), min_size=n, max_size=n))
    return pa.array(values, type=arrow_type), fmt


@SOME
@given(primitive_arrays())
def test_from_arrow_primitives(case):
    a, fmt = case
    w = xbuf.from_arrow(a)
    assert w.format == fmt and w.shape == (len(a),) and w.readonly
    assert w.itemsize == a.type.bit_width // 8
    if len(a):
        assert address(w) == a.buffers()[1].address, "a copy was made"
    assert w.tolist() == a.to_pylist()
    with pytest.raises(TypeError):
        if len(a):
            w[0] = 0
        else:
            raise TypeError


def test_from_arrow_float16_and_fixed_size_binary():
    h = pa.array(np.array([0.5, -2, 65504], "f2"))
    w = xbuf.from_arrow(h)
    assert w.format == "e" and w.tolist() == [0.5, -2.0, 65504.0]
    b = pa.array([b"abc", b"xyz"], type=pa.binary(3))
    w = xbuf.from_arrow(b)
    assert w.format == "3s" and w.tolist() == [b"abc", b"xyz"]
    assert address(w) == b.buffers()[1].address


@st.composite
def list_arrays(draw):
    """Fixed-size lists nested 1-3 deep over random numpy values."""
    arrow_type, fmt = draw(st.sampled_from(PRIMITIVES))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    n = draw(st.integers(0, 4))
    shape = [n] + sizes
    arr = np.zeros(shape, arrow_type.to_pandas_dtype())
    fill(arr, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    a = pa.array(arr.reshape(-1))
    for size in reversed(sizes):
        a = pa.FixedSizeListArray.from_arrays(a, size)
    return a, arr, fmt


@SOME
@given(list_arrays())
def test_from_arrow_fixed_size_lists(case):
    a, arr, fmt = case
    w = xbuf.from_arrow(a)
    assert w.shape == arr.shape and w.format == fmt and w.readonly
    if arr.size:
        assert used_strides(w.shape, w.strides) == used_strides(w.shape, arr.strides)
        assert address(w) == innermost(a).buffers()[1].address
    assert w.tolist() == arr.tolist()


@st.composite
def tensor_arrays(draw):
    """fixed_shape_tensor arrays made from storage, with any permutation."""
    arrow_type, fmt = draw(st.sampled_from(PRIMITIVES))
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    perm = draw(st.none() | st.permutations(range(len(shape))))
    n = draw(st.integers(0, 3))
    flat = np.zeros(n * int(np.prod(shape)), arrow_type.to_pandas_dtype())
    fill(flat, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    storage = pa.FixedSizeListArray.from_arrays(pa.array(flat), int(np.prod(shape)))
    t = pa.ExtensionArray.from_storage(
        pa.fixed_shape_tensor(arrow_type, shape, permutation=perm), storage)
    # the spec: "the i-th dimension of the logical view corresponds to the
    # dimension with number permutation[i] of the physical tensor"
    logical = flat.reshape([n] + shape)
    if perm is not None:
        logical = logical.transpose([0] + [1 + p for p in perm])
    return t, logical, fmt


@SOME
@given(tensor_arrays())
def test_from_arrow_fixed_shape_tensors(case):
    t, logical, fmt = case
    w = xbuf.from_arrow(t)
    assert w.shape == logical.shape and w.format == fmt and w.readonly
    if logical.size:
        assert used_strides(w.shape, w.strides) == used_strides(w.shape, logical.strides)
        assert address(w) == address(logical)  # the storage's own memory
    assert w.tolist() == logical.tolist()


@pytest.mark.parametrize("axes", [None, (0, 2, 1), (0, 1, 3, 2), (0, 3, 2, 1)])
def test_from_arrow_pyarrow_tensors(axes):
    """pyarrow's own FixedShapeTensorArray.from_numpy_ndarray and
    to_numpy_ndarray agree with xbuf where pyarrow round-trips: C order and
    permutations that are their own inverse.  (pyarrow 26 does not round-trip
    3-cycles like (0, 2, 3, 1) itself; xbuf follows the spec's text there,
    test_from_arrow_fixed_shape_tensors.)"""
    shape = (2, 3, 4) if axes is None or len(axes) == 3 else (2, 3, 4, 5)
    base = np.arange(int(np.prod(shape)), dtype="<i4").reshape(shape)
    arr = base if axes is None else np.ascontiguousarray(base).transpose(axes)
    t = pa.FixedShapeTensorArray.from_numpy_ndarray(arr)
    expected = t.to_numpy_ndarray()
    assert expected.tolist() == arr.tolist()
    w = xbuf.from_arrow(t)
    assert w.shape == arr.shape and w.strides == expected.strides == arr.strides
    assert address(w) == address(arr) and w.tolist() == arr.tolist()


def test_from_arrow_child_longer_than_needed():
    """A fixed-size list sliced from the front keeps offset 0 and its whole
    child: the rest of the child is ignored."""
    fsl = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(12, dtype="i2")), 3)
    part = fsl.slice(0, 2)
    w = xbuf.from_arrow(part)
    assert w.shape == (2, 3) and w.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert address(w) == fsl.values.buffers()[1].address


def test_from_arrow_extension_storage():
    u = pa.array([bytes(range(16))], type=pa.uuid())
    w = xbuf.from_arrow(u)
    assert w.format == "16s" and w.tolist() == [bytes(range(16))]


@pytest.mark.parametrize("make,reason", [
    (lambda: pa.array([1, None, 3]), "null"),
    (lambda: pa.array([1.5, None]), "null"),
    (lambda: pa.array([1, 2, 3]).slice(1), "offset"),
    (lambda: pa.FixedSizeListArray.from_arrays(pa.array(range(6)), 2).slice(1), "offset"),
    (lambda: pa.array(["a", "b", "a"]).dictionary_encode(), "dictionar"),
    (lambda: pa.array([1, 2, 1]).dictionary_encode(), "dictionar"),
    (lambda: pa.array([True, False]), "bit"),
    (lambda: pa.array(["x", "yz"]), "variable-length"),
    (lambda: pa.array([b"x"]), "variable-length"),
    (lambda: pa.array([[1], [2, 3]]), "variable-length"),
    (lambda: pa.array([{"a": 1}]), "struct"),
    (lambda: pa.array([1, 2], pa.timestamp("s")), "temporal"),
    (lambda: pa.array([1, 2], pa.date32()), "temporal"),
    (lambda: pa.array([1], pa.decimal128(5, 2)), "decimal"),
    (lambda: pa.array([None, None]), "null"),
    (lambda: pa.record_batch([pa.array([1, 2])], names=["x"]), "struct"),
])
def test_from_arrow_refusals(make, reason):
    a = make()
    gc.collect()  # (garbage of earlier tests must not be freed in between)
    before = pa.total_allocated_bytes()
    with pytest.raises(ValueError, match=reason):
        xbuf.from_arrow(a)
    assert pa.total_allocated_bytes() == before  # the capsules released what they held
    assert a.validate(full=True) is None  # the array is untouched


def test_from_arrow_fixed_size_list_with_null_child():
    child = pa.array([1, None, 3, 4])
    with pytest.raises(ValueError, match="null"):
        xbuf.from_arrow(pa.FixedSizeListArray.from_arrays(child, 2))


def test_from_arrow_not_an_array():
    for obj in (np.arange(3), pa.chunked_array([[1, 2]]), [1, 2]):
        with pytest.raises(TypeError, match="__arrow_c_array__"):
            xbuf.from_arrow(obj)


class Capsules:
    """An object that hands out capsules made beforehand (so that the
    capsules, not a pyarrow array, are what keeps the memory)."""

    def __init__(self, pair):
        self.pair = pair

    def __arrow_c_array__(self, requested_schema=None):
        return self.pair


def test_from_arrow_keeps_pyarrow_memory_until_the_last_derived_view():
    gc.collect()  # (garbage of earlier tests must not be freed in between)
    base = pa.total_allocated_bytes()
    a = pa.array(list(range(1000)), pa.int64())  # in pyarrow's memory pool
    holder = Capsules(pa.FixedSizeListArray.from_arrays(a, 10).__arrow_c_array__())
    del a
    assert pa.total_allocated_bytes() - base >= 8000
    w = xbuf.from_arrow(holder)
    assert w.shape == (100, 10) and w.format == "q"
    derived = [w[5:], w.T, w[3], V(w)]
    del w
    assert derived[2].tolist() == list(range(30, 40))
    derived[0].release()
    del derived[1:3]
    assert pa.total_allocated_bytes() - base >= 8000
    derived.clear()
    # the capsules still live in `holder`: only xbuf's release can have freed it
    assert pa.total_allocated_bytes() - base < 8000
    del holder
    assert pa.total_allocated_bytes() == base


def test_round_trip_keeps_the_address():
    arr = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    for nd in ("list", "tensor"):
        v = V(arr)
        w = xbuf.from_arrow(Capsules(xbuf.to_arrow(v, nd=nd)))
        assert address(w) == address(arr) and w.shape == arr.shape and w.strides == arr.strides
        assert w.tolist() == arr.tolist() and w.readonly and w.format == "f"
        assert is_held(v)
        del w
        assert not is_held(v)
    rec = np.zeros(3, [("a", "<i4"), ("b", "S2")])
    w = xbuf.from_arrow(pa.array(V(rec)))
    assert w.format == "6s" and address(w) == address(rec)


def test_imported_view_exports_on_to_numpy_and_dlpack():
    a = pa.array(np.arange(6, dtype="i4"))
    w = xbuf.from_arrow(a)
    n = np.from_dlpack(w)
    assert n.ctypes.data == a.buffers()[1].address and not n.flags.writeable
    m = np.asarray(w)
    assert m.ctypes.data == a.buffers()[1].address and not m.flags.writeable


# ---- release counts: an Arrow producer written with ctypes ---------------------------------

RELEASE_SCHEMA = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
RELEASE_ARRAY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p), ("name", ctypes.c_char_p), ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
    ("dictionary", ctypes.POINTER(ArrowSchema)), ("release", RELEASE_SCHEMA),
    ("private_data", ctypes.c_void_p)]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)), ("release", RELEASE_ARRAY),
    ("private_data", ctypes.c_void_p)]

_api = ctypes.pythonapi
_new_capsule = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.c_void_p)(("PyCapsule_New", _api))
SCHEMA_NAME, ARRAY_NAME = b"arrow_schema", b"arrow_array"

_NODES = {}  # private_data key -> (producer, which node)
_TWICE = []


def _release(kind, at):
    node = kind.from_address(at)
    entry = _NODES.pop(node.private_data, None)
    if entry is None:
        _TWICE.append((kind.__name__, at))
        return
    for i in range(node.n_children):
        child = node.children[i].contents
        if child.release:
            child.release(ctypes.addressof(child))
    producer, what = entry
    producer.released[what] = producer.released.get(what, 0) + 1
    node.release = type(node.release)()  # NULL: released


_RELEASE_SCHEMA = RELEASE_SCHEMA(lambda at: _release(ArrowSchema, at))
_RELEASE_ARRAY = RELEASE_ARRAY(lambda at: _release(ArrowArray, at))


@pytest.fixture(autouse=True)
def nothing_released_twice():
    yield
    assert not _TWICE, f"released twice: {_TWICE}"


class ArrowProducer:
    """Primitive or fixed-size-list arrays over NumPy memory, each field
    settable; `released` counts the release callbacks by node, and
    reclaim() does what the capsules' destructors do."""

    _keys = iter(range(1, 1 << 62))

    def __init__(self, values, fmt, *, list_size=None, null_count=0, offset=0,
                 validity=None):
        self.values, self.fmt, self.list_size = values, fmt, list_size
        self.null_count, self.offset, self.validity = null_count, offset, validity
        self.released = {}
        self.keep = []
        self.schema = self.array = None

    def _key(self, what):
        key = next(self._keys)
        _NODES[key] = (self, what)
        return key

    def _schema(self, fmt, children, what):
        kids = (ctypes.POINTER(ArrowSchema) * max(len(children), 1))(
            *[ctypes.pointer(c) for c in children])
        s = ArrowSchema(format=fmt, name=b"", flags=2, n_children=len(children),
                        children=kids if children else None, release=_RELEASE_SCHEMA,
                        private_data=self._key(what))
        self.keep += [kids, s]
        return s

    def _array(self, length, buffers, children, what, null_count=0, offset=0):
        bufs = (ctypes.c_void_p * len(buffers))(*buffers)
        kids = (ctypes.POINTER(ArrowArray) * max(len(children), 1))(
            *[ctypes.pointer(c) for c in children])
        a = ArrowArray(length=length, null_count=null_count, offset=offset,
                       n_buffers=len(buffers), n_children=len(children), buffers=bufs,
                       children=kids if children else None, release=_RELEASE_ARRAY,
                       private_data=self._key(what))
        self.keep += [bufs, kids, a]
        return a

    def __arrow_c_array__(self, requested_schema=None):
        validity = None if self.validity is None else self.validity.ctypes.data
        data = self.values.ctypes.data
        n = len(self.values)
        if self.list_size is None:
            self.schema = self._schema(self.fmt, [], "schema")
            self.array = self._array(n, [validity, data], [], "array", self.null_count,
                                     self.offset)
        else:
            child_schema = self._schema(self.fmt, [], "child schema")
            child = self._array(n, [None, data], [], "child array")
            self.schema = self._schema(b"+w:%d" % self.list_size, [child_schema], "schema")
            self.array = self._array(n // self.list_size, [validity], [child], "array",
                                     self.null_count, self.offset)
        return (_new_capsule(ctypes.addressof(self.schema), SCHEMA_NAME, None),
                _new_capsule(ctypes.addressof(self.array), ARRAY_NAME, None))

    def reclaim(self):
        for node in (self.schema, self.array):
            if node is not None and node.release:
                node.release(ctypes.addressof(node))


def test_array_released_once_by_the_last_derived_view():
    values = np.arange(12, dtype="<i4")
    p = ArrowProducer(values, b"i", list_size=4)
    w = xbuf.from_arrow(p)
    assert w.shape == (3, 4) and address(w) == values.ctypes.data
    assert not p.array.release  # moved into the view
    assert p.schema.release  # only read: still the producer's
    assert p.released == {}
    derived = [w.T, w[1:], w[2][::-1]]
    del w
    derived[0].release()
    del derived[:2]
    assert p.released == {}
    assert derived[0].tolist() == [11, 10, 9, 8]
    derived.clear()
    assert p.released == {"array": 1, "child array": 1}
    p.reclaim()
    assert p.released == {"array": 1, "child array": 1, "schema": 1, "child schema": 1}


def test_array_released_at_once_by_release():
    p = ArrowProducer(np.arange(3, dtype="<f8"), b"g")
    w = xbuf.from_arrow(p)
    assert w.format == "d" and w.tolist() == [0.0, 1.0, 2.0]
    w.release()
    assert p.released == {"array": 1}
    w.release()
    del w
    assert p.released == {"array": 1}
    p.reclaim()


@pytest.mark.parametrize("kwargs,reason", [
    ({"null_count": 1, "validity": np.array([0b101], "u1")}, "null"),
    ({"null_count": -1, "validity": np.array([0b101], "u1")}, "null"),
    ({"offset": 1}, "offset"),
    ({"list_size": 2, "offset": 1}, "offset"),
    ({"list_size": 2, "null_count": 1, "validity": np.array([0b10], "u1")}, "null"),
])
def test_refused_arrays_stay_the_producers(kwargs, reason):
    p = ArrowProducer(np.arange(4, dtype="<i2"), b"s", **kwargs)
    with pytest.raises(ValueError, match=reason):
        xbuf.from_arrow(p)
    assert p.array.release and p.released == {}  # untouched, not moved
    p.reclaim()
    assert p.released["array"] == 1 and p.released["schema"] == 1


@pytest.mark.parametrize("null_count,validity", [
    (-1, None), (-1, np.array([0b111], "u1")), (0, np.array([0], "u1"))])
def test_no_nulls_accepted(null_count, validity):
    """-1 means "count the bitmap"; with no bitmap, or a full one, there are
    no nulls.  A bitmap with null_count 0 is not looked at."""
    p = ArrowProducer(np.arange(3, dtype="<i2"), b"s", null_count=null_count, validity=validity)
    w = xbuf.from_arrow(p)
    assert w.tolist() == [0, 1, 2]
    del w
    assert p.released == {"array": 1}
    p.reclaim()
