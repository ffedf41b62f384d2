"""xbuf.Exporter (python/src/exporter_object.c), the reference exporter,
against oracles nobody on the team wrote:

  - CPython's memoryview, as a consumer: what it reads (tolist, shape,
    strides, suboffsets, contiguity, readonly) and where its writes land;
  - NumPy: ``numpy.ndarray(shape, dtype, buffer, offset, strides)`` over the
    same bytes is the expected array for random layouts (any shape, strides
    of either sign or zero, offsets, 0-d, zero-size); ``numpy.asarray`` of an
    Exporter must equal it and share its memory;
  - CPython's ``_testbuffer.ndarray`` (the exporter CPython tests itself
    with): for every valid combination of request flags, PyObject_GetBuffer
    (called through ctypes) on both exporters, laid out alike, must succeed
    or fail alike and fill the same Py_buffer fields and bytes;
  - ``struct`` for the packed values and for writes.

Then what only the Exporter does: export counting (push/pop refused while a
view is held), GETBUF_FAIL, READONLY, FORTRAN, PIL rows, re-export
(REDIRECT), and every argument error.
"""

import ctypes
import gc
import itertools
import math
import struct
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xbuf
from xbuf import Exporter

PTR = ctypes.sizeof(ctypes.c_void_p)

# ---- a consumer that asks with any flags: PyObject_GetBuffer via ctypes ----


# xbuf_ctypes binds ctypes.pythonapi's buffer functions to its PyBuffer; one
# shared binding, since ctypes.pythonapi's function objects are process-wide.
from xbuf_ctypes import PyBuffer, pythonapi  # noqa: E402

_get_buffer = pythonapi.PyObject_GetBuffer
_release_buffer = pythonapi.PyBuffer_Release
_is_contiguous = pythonapi.PyBuffer_IsContiguous
_to_contiguous = pythonapi.PyBuffer_ToContiguous
_to_contiguous.argtypes = [ctypes.c_void_p, ctypes.POINTER(PyBuffer), ctypes.c_ssize_t,
                           ctypes.c_char]
_to_contiguous.restype = ctypes.c_int

# CPython's values (include/xbuf/protocol.h promises the same numbers).
SIMPLE, WRITABLE, FORMAT, ND = 0, 0x1, 0x4, 0x8
STRIDES = 0x10 | ND
C_CONTIGUOUS, F_CONTIGUOUS, ANY_CONTIGUOUS = 0x20 | STRIDES, 0x40 | STRIDES, 0x80 | STRIDES
INDIRECT = 0x100 | STRIDES
FULL_RO = INDIRECT | FORMAT


def valid_requests():
    """Every request whose bits come with the bits they imply."""
    bits = [0x1, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100]
    for n in range(len(bits) + 1):
        for combo in itertools.combinations(bits, n):
            flags = sum(combo)
            if flags & 0x10 and not flags & 0x8:
                continue
            if flags & 0x1E0 and not flags & 0x10:
                continue
            yield flags


REQUESTS = list(valid_requests())


def _array(pointer, n):
    return None if not pointer else [pointer[i] for i in range(n)]


def describe(b):
    """The fields of a Py_buffer a consumer may rely on, and its items' bytes."""
    data = ctypes.create_string_buffer(max(b.len, 1))
    assert _to_contiguous(data, ctypes.byref(b), b.len, b"C") == 0
    ndim = b.ndim
    return {
        "len": b.len, "itemsize": b.itemsize, "readonly": bool(b.readonly), "ndim": ndim,
        "format": b.format, "shape": _array(b.shape, ndim), "strides": _array(b.strides, ndim),
        "suboffsets": _array(b.suboffsets, ndim), "bytes": data.raw[:b.len],
    }


@contextmanager
def held(obj, flags):
    """A buffer of obj taken with exactly `flags`, released on exit."""
    b = PyBuffer()
    _get_buffer(obj, ctypes.byref(b), flags)  # raises the exporter's exception
    try:
        yield b
    finally:
        _release_buffer(ctypes.byref(b))


def request(obj, flags):
    """('ok', fields) or the exception type the request raised."""
    try:
        with held(obj, flags) as b:
            return ("ok", describe(b))
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc)


# ---- layouts ----------------------------------------------------------------

FORMATS = ["b", "B", "h", "H", "i", "I", "q", "Q"]  # native: memoryview reads them too


def c_strides(shape, itemsize):
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.insert(0, step)
        step *= n
    return tuple(strides)


def f_strides(shape, itemsize):
    strides, step = [], itemsize
    for n in shape:
        strides.append(step)
        step *= n
    return tuple(strides)


def reach(shape, strides, itemsize):
    """[lo, hi): the bytes around item 0 that the items occupy."""
    if 0 in shape:
        return 0, 0
    lo = sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
    hi = sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0) + itemsize
    return lo, hi


@st.composite
def layouts(draw, min_ndim=0):
    """(format, shape, strides, offset, raw memory) with the items inside it."""
    fmt = draw(st.sampled_from(FORMATS))
    itemsize = struct.calcsize(fmt)
    ndim = draw(st.integers(min_ndim, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    kind = draw(st.sampled_from(["C", "F", "multiples", "bytes"]))
    if kind == "C":
        strides = c_strides(shape, itemsize)
    elif kind == "F":
        strides = f_strides(shape, itemsize)
    elif kind == "multiples":
        strides = tuple(itemsize * s for s in draw(st.lists(st.integers(-6, 6), min_size=ndim,
                                                             max_size=ndim)))
    else:  # any byte step, unaligned too
        strides = tuple(draw(st.lists(st.integers(-40, 40), min_size=ndim, max_size=ndim)))
    lo, hi = reach(shape, strides, itemsize)
    offset = -lo + draw(st.integers(0, 3))
    size = offset + hi + draw(st.integers(0, 3))
    raw = draw(st.binary(min_size=size, max_size=size))
    return fmt, shape, strides, offset, raw


def expected_array(fmt, shape, strides, offset, raw):
    return np.ndarray(shape, dtype=np.dtype(fmt), buffer=bytearray(raw), offset=offset,
                      strides=strides)


def item_bytes(fmt, value):
    return struct.pack(fmt, value)


# ---- basics -------------------------------------------------------------------


def test_memoryview_reads_packed_values():
    e = Exporter([1, 2, 3], format="i")
    m = memoryview(e)
    assert m.tolist() == [1, 2, 3]
    assert (m.format, m.itemsize, m.shape, m.strides, m.readonly) == ("i", 4, (3,), (4,), False)
    assert m == memoryview(struct.pack("3i", 1, 2, 3)).cast("i")
    assert e.tolist() == [1, 2, 3]
    assert (e.shape, e.strides, e.suboffsets, e.format, e.itemsize, e.ndim, e.nbytes) == (
        (3,), (4,), (), "i", 4, 1, 12)
    assert (e.readonly, e.offset, e.obj, e.flags) == (False, 0, None, 0)
    assert e.memory == struct.pack("3i", 1, 2, 3)
    assert e.c_contiguous and e.f_contiguous and e.contiguous


def test_defaults_and_bytes_items():
    e = Exporter(b"\x01\x02\x03\x04")
    assert (e.format, e.shape, e.strides, e.tolist()) == ("B", (4,), (1,), [1, 2, 3, 4])
    e = Exporter(bytearray(struct.pack("<2h", -2, 7)), format="<h")
    assert e.tolist() == [-2, 7]
    assert np.asarray(e).tolist() == [-2, 7]
    # a strided source is copied in C order
    src = np.arange(12, dtype=np.int16).reshape(3, 4)[::-1, ::2]
    e = Exporter(src, format="h", shape=src.shape)
    assert e.tolist() == src.tolist()
    assert e.memory == src.tobytes()


def test_values_of_every_kind_round_trip():
    items = [(1, 2.5, b"ab"), (-3, -0.5, b"z\x00")]
    e = Exporter(items, format="i d 2s")
    assert e.tolist() == items
    assert e.memory == b"".join(struct.pack("i d 2s", *t) for t in items)
    assert Exporter([True, False], format="?").tolist() == [True, False]
    assert Exporter([1.5, -2.0], format=">e").tolist() == [1.5, -2.0]
    assert Exporter([3 + 4j], format="Zd").tolist() == [3 + 4j]
    assert Exporter([None, None], format="O").tolist() == [None, None]  # NULL pointers


def test_values_are_packed_in_memory_order_under_any_layout():
    e = Exporter(list(range(6)), format="h", shape=(2, 3), strides=(2, 4))
    assert e.memory == struct.pack("6h", *range(6))
    assert e.tolist() == memoryview(e).tolist() == [[0, 2, 4], [1, 3, 5]]


def test_zero_dimensional():
    e = Exporter([7, 8], shape=(), format="q", offset=8)
    assert (e.shape, e.strides, e.ndim, e.nbytes) == ((), (), 0, 8)
    m = memoryview(e)
    assert (m.tolist(), m.shape, m.strides, m.ndim) == (8, (), (), 0)
    assert e.tolist() == 8
    a = np.asarray(e)
    assert a.shape == () and a == 8
    m[()] = -1
    assert e.memory == struct.pack("2q", 7, -1)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 2, 5), (2, 0, 3)])
def test_zero_size(shape):
    e = Exporter([], format="i", shape=shape)
    m = memoryview(e)
    assert (m.shape, m.nbytes, e.nbytes, e.memory) == (shape, 0, 0, b"")
    expected = np.zeros(shape, dtype="i").tolist()
    assert m.tolist() == e.tolist() == np.asarray(e).tolist() == expected
    assert m.c_contiguous and m.f_contiguous
    assert e.tobytes() == b""


def test_negative_strides_and_offset():
    e = Exporter(list(range(12)), format="i", shape=(3, 2), strides=(-16, -4), offset=44)
    assert memoryview(e).tolist() == [[11, 10], [7, 6], [3, 2]]
    assert not e.contiguous
    with memoryview(e) as m:
        m[0, 1] = 100  # item (0, 1) lies at 44 - 4 = byte 40, value index 10
    assert struct.unpack("12i", e.memory)[10] == 100


@settings(max_examples=250)
@given(layouts())
def test_random_layouts_against_numpy_and_memoryview(layout):
    fmt, shape, strides, offset, raw = layout
    expected = expected_array(*layout)
    e = Exporter(raw, format=fmt, shape=shape, strides=strides, offset=offset)
    assert (e.shape, e.strides, e.offset, e.memory) == (shape, strides, offset, raw)
    assert e.nbytes == expected.nbytes and e.ndim == expected.ndim
    assert e.tolist() == expected.tolist()
    with memoryview(e) as m:
        assert m.tolist() == expected.tolist()
        assert (m.shape, m.strides, m.suboffsets, m.readonly) == (shape, strides, (), False)
        if not (m.ndim == 1 and m.nbytes == 0):
            # memoryview's 1-d shortcut calls an empty view with stride != itemsize
            # discontiguous; PyBuffer_IsContiguous and NumPy do not
            assert (m.c_contiguous, m.f_contiguous, m.contiguous) == (
                e.c_contiguous, e.f_contiguous, e.contiguous)
        assert e.exports == 1
    assert e.exports == 0
    with held(e, FULL_RO) as b:
        assert (e.c_contiguous, e.f_contiguous, e.contiguous) == tuple(
            bool(_is_contiguous(ctypes.byref(b), order)) for order in (b"C", b"F", b"A"))
    assert (e.c_contiguous, e.f_contiguous) == (expected.flags.c_contiguous,
                                                expected.flags.f_contiguous)
    for order in "CFA":
        assert e.tobytes(order) == expected.tobytes(order)
    a = np.asarray(e)
    assert a.dtype == expected.dtype and a.strides == strides
    assert np.array_equal(a, expected)
    assert e.exports == 1
    if a.size:  # shares memory: a write through NumPy lands where the strides say
        index = tuple(n - 1 for n in shape)
        a[index] = 5
        at = offset + sum(i * s for i, s in zip(index, strides))
        size = a.itemsize
        assert e.memory[at:at + size] == item_bytes(fmt, 5)
    del a
    assert e.exports == 0


@settings(max_examples=150)
@given(layouts(min_ndim=1))
def test_random_pil_layouts(layout):
    """PIL: every row copied into a block of its own, served with suboffsets;
    memoryview follows them."""
    fmt, shape, strides, offset, raw = layout
    expected = expected_array(*layout)
    e = Exporter(raw, format=fmt, shape=shape, strides=strides, offset=offset, flags=Exporter.PIL)
    sub_lo, sub_hi = reach(shape[1:], strides[1:], e.itemsize)
    step = -PTR if strides[0] < 0 else PTR
    assert e.shape == shape
    assert e.strides == (step,) + strides[1:]
    assert e.suboffsets == (-sub_lo,) + (-1,) * (len(shape) - 1)
    rows = e.memory
    assert len(rows) == shape[0]
    for i, row in enumerate(rows):
        start = offset + i * strides[0] + sub_lo
        assert row == raw[start:start + sub_hi - sub_lo]
    with memoryview(e) as m:
        assert m.tolist() == e.tolist() == expected.tolist()
        assert (m.shape, m.strides, m.suboffsets) == (e.shape, e.strides, e.suboffsets)
        assert not m.c_contiguous and not m.f_contiguous and not e.contiguous
        for order in "CF":
            assert m.tobytes(order) == e.tobytes(order) == expected.tobytes(order)
        if expected.size and not m.readonly:
            index = tuple(n - 1 for n in shape)
            m[index] = 5
            at = -sub_lo + sum(i * s for i, s in zip(index[1:], strides[1:]))
            assert e.memory[index[0]][at:at + e.itemsize] == item_bytes(fmt, 5)


@given(st.lists(st.integers(0, 4), min_size=0, max_size=4), st.sampled_from(FORMATS))
def test_fortran_order(shape, fmt):
    n = math.prod(shape)
    values = [i % 100 for i in range(n)]  # within every format's range
    e = Exporter(values, format=fmt, shape=shape, flags=Exporter.FORTRAN)
    itemsize = struct.calcsize(fmt)
    assert e.strides == f_strides(shape, itemsize)
    expected = np.array(values, dtype=fmt).reshape(shape, order="F")
    assert memoryview(e).tolist() == e.tolist() == expected.tolist()
    assert memoryview(e).f_contiguous and e.f_contiguous
    assert np.asarray(e).flags.f_contiguous or n == 0
    assert e.tobytes("F") == bytes(e.memory)


# ---- requests, against CPython's own test exporter ------------------------------

# (items, keyword arguments, _testbuffer flags besides ND_WRITABLE, our flags)
REQUEST_LAYOUTS = {
    "1-d bytes": (list(range(6)), dict(format="B", shape=[6]), 0, 0),
    "2-d C": (list(range(6)), dict(format="h", shape=[2, 3]), 0, 0),
    "2-d Fortran": (list(range(6)), dict(format="h", shape=[2, 3]), "ND_FORTRAN", "FORTRAN"),
    "2-d strided": (list(range(12)), dict(format="h", shape=[2, 3], strides=[-12, 4],
                                          offset=12), 0, 0),
    "extent 1": (list(range(3)), dict(format="h", shape=[3, 1], strides=[2, 40]), 0, 0),
    "3-d PIL": (list(range(12)), dict(format="B", shape=[2, 2, 3], strides=[-6, 3, -1],
                                      offset=8), "ND_PIL", "PIL"),
    "1-d PIL": (list(range(4)), dict(format="i", shape=[4]), "ND_PIL", "PIL"),
    "0-d": ([5], dict(format="i", shape=[]), 0, 0),
    "zero-size": ([1, 2], dict(format="h", shape=[2, 0]), 0, 0),
    "read-only": (list(range(6)), dict(format="h", shape=[2, 3]), "READONLY", "READONLY"),
}


def both_exporters(testbuffer, name):
    items, kwargs, theirs, ours = REQUEST_LAYOUTS[name]
    nd_flags = 0 if theirs == "READONLY" else testbuffer.ND_WRITABLE
    if theirs and theirs != "READONLY":
        nd_flags |= getattr(testbuffer, theirs)
    reference = testbuffer.ndarray(items, flags=nd_flags, **kwargs)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    mine = Exporter(items, flags=getattr(Exporter, ours) if ours else 0, **kwargs)
    return reference, mine


@pytest.fixture(scope="module")
def testbuffer():
    return pytest.importorskip("_testbuffer")


@pytest.mark.parametrize("name", sorted(REQUEST_LAYOUTS))
def test_every_request_answered_as_testbuffer_answers(testbuffer, name):
    reference, mine = both_exporters(testbuffer, name)
    assert memoryview(reference).tolist() == memoryview(mine).tolist()
    served = 0
    for flags in REQUESTS:
        # PIL row pointers differ between the two; the bytes they lead to may not
        want, got = request(reference, flags), request(mine, flags)
        assert got == want, f"request 0x{flags:x}"
        served += got != BufferError
        assert mine.exports == 0
    assert served > 0


def test_refusals_are_buffer_errors_with_reasons():
    e = Exporter(list(range(6)), format="h", shape=(2, 3), flags=Exporter.FORTRAN)
    with pytest.raises(BufferError, match="not C-contiguous"):
        held(e, C_CONTIGUOUS).__enter__()
    with pytest.raises(BufferError, match="STRIDES"):
        held(e, ND).__enter__()
    with pytest.raises(BufferError, match="without a shape"):
        held(Exporter([1, 2], format="h"), FORMAT).__enter__()
    p = Exporter(list(range(6)), shape=(2, 3), flags=Exporter.PIL)
    with pytest.raises(BufferError, match="suboffsets"):
        held(p, STRIDES | FORMAT).__enter__()
    r = Exporter([1], flags=Exporter.READONLY)
    with pytest.raises(BufferError, match="read-only"):
        held(r, WRITABLE).__enter__()
    with pytest.raises(ValueError, match="unknown bits"):
        held(r, 0x4000).__enter__()
    assert e.exports == p.exports == r.exports == 0


def test_simple_request_serves_bytes_of_items():
    e = Exporter([1, 2, 3], format="i")
    with held(e, SIMPLE) as b:
        d = describe(b)
    assert (d["format"], d["shape"], d["strides"], d["len"]) == (None, None, None, 12)
    assert d["bytes"] == struct.pack("3i", 1, 2, 3)
    assert bytes(e) == struct.pack("3i", 1, 2, 3)


# ---- export counting, push and pop ------------------------------------------------


def test_exports_counted_per_buffer():
    e = Exporter([1, 2, 3], format="i")
    views = [memoryview(e) for _ in range(3)]
    assert e.exports == 3
    derived = views[0][1:]  # shares views[0]'s buffer
    assert e.exports == 3
    a = np.asarray(e)
    assert e.exports == 4
    for v in views:
        v.release()
    assert e.exports == 2  # the buffer under `derived`, and a's
    del derived
    assert e.exports == 1
    del a
    assert e.exports == 0


def test_push_and_pop_refused_while_views_are_held():
    e = Exporter([1, 2, 3], format="i")
    m = memoryview(e)
    with pytest.raises(BufferError, match="1 view is held"):
        e.push(4)
    m2 = memoryview(e)
    with pytest.raises(BufferError, match="2 views are held"):
        e.pop()
    assert e.tolist() == [1, 2, 3] and e.memory == struct.pack("3i", 1, 2, 3)
    m.release()
    m2.release()
    e.push(4)
    e.push(5)
    assert e.tolist() == memoryview(e).tolist() == [1, 2, 3, 4, 5]
    assert (e.shape, e.nbytes, e.memory) == ((5,), 20, struct.pack("5i", 1, 2, 3, 4, 5))
    assert e.pop() == 5
    assert e.tolist() == [1, 2, 3, 4] and e.shape == (4,)


def test_push_pop_empty_and_back():
    e = Exporter([], format="d")
    with pytest.raises(IndexError, match="empty"):
        e.pop()
    e.push(1.5)
    assert memoryview(e).tolist() == [1.5]
    assert e.pop() == 1.5
    assert (e.shape, e.memory, memoryview(e).tolist()) == ((0,), b"", [])


def test_push_with_a_bad_value_changes_nothing():
    e = Exporter([1, 2], format="B")
    with pytest.raises(ValueError, match="invalid value"):
        e.push(256)
    with pytest.raises(TypeError, match="invalid type"):
        e.push("x")
    assert e.tolist() == [1, 2] and e.exports == 0
    e.push(3)
    assert e.tolist() == [1, 2, 3]


def test_no_view_can_be_taken_while_resizing():
    """A value whose __index__ asks for a view during push: the view is
    refused (the resize is in progress) and push fails cleanly."""
    e = Exporter([1], format="i")

    class Sneaky:
        def __index__(self):
            memoryview(e)
            return 2

    with pytest.raises(BufferError, match="resiz"):
        e.push(Sneaky())
    assert e.tolist() == [1] and e.exports == 0
    e.push(2)
    assert e.tolist() == [1, 2]


@pytest.mark.parametrize("kwargs", [
    dict(shape=(2, 2)),
    dict(shape=(2,), strides=(8,)),
    dict(shape=(3,), offset=4),
    dict(shape=(3,)),  # items stop short of the end of the memory
    dict(flags=Exporter.PIL),
])
def test_push_and_pop_need_items_filling_the_memory(kwargs):
    e = Exporter(list(range(4)), format="i", **kwargs)
    before = e.tolist()
    with pytest.raises(ValueError, match="1-d"):
        e.push(1)
    with pytest.raises(ValueError, match="1-d"):
        e.pop()
    assert e.tolist() == before


# ---- flags ------------------------------------------------------------------------------


def test_getbuf_fail():
    e = Exporter([1, 2], format="h", flags=Exporter.GETBUF_FAIL)
    for consumer in (memoryview, bytes, bytearray):
        with pytest.raises(BufferError, match="GETBUF_FAIL"):
            consumer(e)
    with pytest.raises(BufferError):
        Exporter(e, flags=Exporter.REDIRECT)
    assert e.exports == 0
    assert e.tolist() == [1, 2]  # the exporter itself still works
    e.push(3)
    assert e.tolist() == [1, 2, 3]


def test_readonly():
    e = Exporter([1, 2, 3], format="B", flags=Exporter.READONLY)
    m = memoryview(e)
    assert m.readonly and e.readonly
    with pytest.raises(TypeError):
        m[0] = 9
    with pytest.raises(BufferError, match="read-only"):
        held(e, WRITABLE).__enter__()
    with pytest.raises(TypeError, match="read-write"):
        struct.pack_into("B", e, 0, 9)  # asks for WRITABLE; getargs rewords the refusal
    assert not np.asarray(e).flags.writeable
    assert e.memory == b"\x01\x02\x03"


def test_writes_land_in_the_memory():
    e = Exporter([1, 2, 3], format="h")
    struct.pack_into("h", e, 2, -7)  # a SIMPLE | WRITABLE request
    assert struct.unpack("3h", e.memory) == (1, -7, 3)
    e = Exporter([1, 2, 3, 4], format="h", shape=(2,), strides=(-4,), offset=6)
    with pytest.raises(TypeError):
        struct.pack_into("h", e, 0, -7)  # not C-contiguous: refused
    with memoryview(e) as m:
        m[0] = -7  # item 0 is the last value
        m[1] = 9
    assert struct.unpack("4h", e.memory) == (1, 9, 3, -7)


def test_pil_rows_are_separate_blocks():
    e = Exporter(list(range(6)), format="B", shape=(3, 2), flags=Exporter.PIL)
    assert e.memory == (b"\x00\x01", b"\x02\x03", b"\x04\x05")
    assert (e.strides, e.suboffsets) == ((PTR, 1), (0, -1))
    with memoryview(e) as m:
        m[2, 0] = 40
    assert e.memory[2] == b"\x28\x05"
    assert e.tolist() == [[0, 1], [2, 3], [40, 5]]
    # rows that shared memory (stride 0) become copies
    e = Exporter([1, 2], format="B", shape=(2, 2), strides=(0, 1), flags=Exporter.PIL)
    memoryview(e)[0, 0] = 7
    assert e.tolist() == [[7, 2], [1, 2]]


# ---- re-export ------------------------------------------------------------------


def test_redirect_serves_the_other_objects_memory():
    ba = bytearray(b"abcdef")
    e = Exporter(ba, flags=Exporter.REDIRECT)
    assert e.obj is ba and e.memory is None and e.offset is None
    with pytest.raises(BufferError):
        ba.append(1)  # the re-export holds a view of ba
    memoryview(e)[0] = ord("z")
    assert ba == bytearray(b"zbcdef")
    del e
    gc.collect()
    ba.append(1)


def test_redirect_of_strided_numpy():
    a = np.arange(24, dtype=np.int32).reshape(4, 6)[::-1, 1::2]
    e = Exporter(a, flags=Exporter.REDIRECT)
    assert (e.shape, e.strides, e.format, e.itemsize) == (a.shape, a.strides, "i", 4)
    assert e.tolist() == memoryview(e).tolist() == a.tolist()
    b = np.asarray(e)
    assert np.shares_memory(a, b) and np.array_equal(a, b)
    b[0, 0] = -1
    assert a[0, 0] == -1


def test_redirect_reads_objects_the_owner_keeps():
    a = np.array([1, "a", None], dtype=object)
    e = Exporter(a, flags=Exporter.REDIRECT)
    assert (e.format, e.tolist()) == ("O", [1, "a", None])


def test_redirect_of_an_exporter_holds_one_export():
    inner = Exporter(list(range(6)), format="B", shape=(2, 3), flags=Exporter.PIL)
    outer = Exporter(inner, flags=Exporter.REDIRECT | Exporter.READONLY)
    assert inner.exports == 1
    m = memoryview(outer)
    assert m.readonly and not inner.readonly
    assert (m.suboffsets, m.tolist()) == (inner.suboffsets, inner.tolist())
    assert outer.exports == 1 and inner.exports == 1
    with pytest.raises(BufferError, match="read-only"):
        held(outer, WRITABLE | FULL_RO).__enter__()
    m.release()
    flat = Exporter([1, 2], format="B")
    outer2 = Exporter(flat, flags=Exporter.REDIRECT)
    with pytest.raises(BufferError, match="1 view is held"):
        flat.push(3)
    del outer, outer2
    gc.collect()
    assert inner.exports == 0
    flat.push(3)
    assert flat.tolist() == [1, 2, 3]


# ---- bad arguments --------------------------------------------------------------

BAD_ARGUMENTS = [
    ((5,), {}, TypeError, "list or tuple of values, or a bytes-like object"),
    (("abc",), {}, TypeError, "not 'str'"),
    (([1],), dict(format=5), TypeError, "format must be str"),
    (([1],), dict(format="i{"), ValueError, ""),
    (([1],), dict(format="0i"), ValueError, "no bytes"),
    (([1],), dict(format="i\0"), ValueError, ""),
    (([1, 2],), dict(shape="ab"), TypeError, "shape must be a tuple or list"),
    (([1, 2],), dict(shape=(1.5,)), TypeError, ""),
    (([1, 2],), dict(shape=(-1,)), ValueError, "extents must be >= 0"),
    (([1],), dict(shape=(1,) * 65), ValueError, "at most 64"),
    (([1, 2],), dict(shape=(2,), strides=(1, 1)), ValueError, "2 strides for 1 dimensions"),
    (([1, 2],), dict(shape=(2,), strides=3), TypeError, "strides must be"),
    (([1, 2],), dict(shape=(2,), strides=(2,)), ValueError, "reach bytes 0..3"),
    (([1, 2],), dict(shape=(2,), strides=(-1,)), ValueError, "reach bytes -1..1"),
    (([1, 2],), dict(offset=-1), ValueError, "offset -1 is outside"),
    (([1, 2],), dict(offset=3), ValueError, "offset 3 is outside"),
    (([1, 2],), dict(shape=(3,)), ValueError, "which has 2 bytes"),
    (([],), dict(shape=()), ValueError, "which has 0 bytes"),
    ((b"abc",), dict(format="h"), ValueError, "not a whole number of 2-byte items"),
    ((bytes(8),), dict(format="O"), TypeError, "object pointers"),
    ((bytes(16),), dict(format="T{i:a:O:b:}"), TypeError, "object pointers"),
    (([1],), dict(format="O"), TypeError, "cannot be written"),
    (([1],), dict(flags=0x100), ValueError, "unknown flags"),
    (([1, 2],), dict(shape=(2,), strides=(1,), flags=Exporter.FORTRAN), ValueError,
     "give no strides"),
    (([1],), dict(shape=(), flags=Exporter.PIL), ValueError, "at least one dimension"),
    (([1],), dict(flags=Exporter.REDIRECT), TypeError, "object with a buffer, not 'list'"),
    ((b"ab",), dict(format="B", flags=Exporter.REDIRECT), TypeError, "give no shape"),
    ((b"ab",), dict(offset=1, flags=Exporter.REDIRECT), TypeError, "give no shape"),
    ((b"ab",), dict(flags=Exporter.REDIRECT | Exporter.PIL), ValueError, "PIL or FORTRAN"),
    (([1],), dict(shape=(2 ** 62, 2 ** 62), strides=(0, 0)), OverflowError, "more bytes"),
    (([1],), dict(shape=(2 ** 64,)), OverflowError, ""),
    (([256],), {}, ValueError, "invalid value for format 'B'"),
    ((["x"],), dict(format="i"), TypeError, "invalid type for format 'i'"),
    (([1], (2, 3)), {}, TypeError, ""),  # shape is keyword-only
    ((), {}, TypeError, ""),
]


@pytest.mark.parametrize("args, kwargs, exc, message", BAD_ARGUMENTS)
def test_bad_arguments(args, kwargs, exc, message):
    with pytest.raises(exc, match=message or None):
        Exporter(*args, **kwargs)


def test_tobytes_order_argument():
    e = Exporter(list(range(6)), format="B", shape=(2, 3))
    assert e.tobytes() == e.tobytes(None) == e.tobytes(order="C") == bytes(range(6))
    assert e.tobytes("F") == bytes([0, 3, 1, 4, 2, 5])
    for bad in ("X", "CF", ""):
        with pytest.raises(ValueError):
            e.tobytes(bad)


def test_values_list_changed_while_packing_is_safe():
    values = [1, 2, 3]

    class Shrinker:
        def __index__(self):
            values.clear()
            return 9

    values.append(Shrinker())
    e = Exporter(values, format="i")
    assert e.tolist() == [1, 2, 3, 9]


def test_module_exports_the_type():
    assert xbuf.Exporter is Exporter
    assert {Exporter.READONLY, Exporter.FORTRAN, Exporter.PIL, Exporter.GETBUF_FAIL,
            Exporter.REDIRECT} == {1, 2, 4, 8, 16}
    assert "Exporter" in repr(Exporter([1]))
