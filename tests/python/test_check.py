"""xbuf.check (python/src/check.c over src/conformance.c) and
``python -m xbuf check``.

Conforming exporters must give no problem: bytes, bytearray, every
array.array typecode, mmap, memoryview (sliced, cast, 0-d), and NumPy arrays
in every layout -- C, F, strided, reversed, broadcast, transposed, 0-d,
zero-size, read-only, non-native byte order, structured -- including random
views drawn by hypothesis.

Known inconsistencies must be reported, with expectations computed from an
oracle other than the checker:
  * ctypes (cpython #76961): a format that does not describe the itemsize
    (the expected size of a '<'-only struct is the sum of ctypes.sizeof of
    its fields, since '<' means no padding), and STRIDES requests answered
    without strides (PEP 3118: "the strides cannot be NULL"), for every
    ctypes array;
  * NumPy (numpy/numpy#7797): structured dtypes with trailing padding given
    by an explicit itemsize export a format without that padding.

Hostile exporters (PEP 688 classes) must be caught: other memory on each
call, a lying format, a shape that depends on the request, exceptions other
than BufferError, a __buffer__ that returns no memoryview, leaked
references.  Then the command line: output and exit status.
"""

import array
import ctypes
import mmap
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xbuf

REQUESTS = 72  # every valid combination of request flags
PREFIX = re.compile(r"^request [A-Z_|0-9x]+: ")


def details(problems):
    """The problems without their "request NAME: " prefix."""
    return [PREFIX.sub("", p) for p in problems]


def assert_conforms(obj):
    problems, answered, refused = xbuf.check(obj, summary=True)
    assert problems == [], f"{type(obj).__name__}: {problems}"
    assert answered + refused == REQUESTS
    assert answered > 0, "nothing was answered: nothing was checked"
    return answered, refused


# ---- the API --------------------------------------------------------------


def test_returns_a_list_and_a_summary_on_request():
    assert xbuf.check(bytearray(4)) == []
    problems, answered, refused = xbuf.check(bytearray(4), summary=True)
    assert (problems, answered, refused) == ([], REQUESTS, 0)
    assert xbuf.check(b"abc", summary=True) == ([], REQUESTS // 2, REQUESTS // 2)


@pytest.mark.parametrize("obj", [1, "text", None, [1, 2], object()])
def test_objects_without_a_buffer_are_a_type_error(obj):
    with pytest.raises(TypeError, match="bytes-like object is required"):
        xbuf.check(obj)


def test_arguments():
    with pytest.raises(TypeError):
        xbuf.check()
    with pytest.raises(TypeError):
        xbuf.check(b"", True)  # summary is keyword-only


# ---- conforming builtins -----------------------------------------------------


@pytest.mark.parametrize("obj", [b"", b"abc", bytearray(), bytearray(b"xyz")],
                         ids=["bytes0", "bytes", "bytearray0", "bytearray"])
def test_bytes_and_bytearray(obj):
    assert_conforms(obj)


@pytest.mark.parametrize("typecode", array.typecodes)
def test_every_array_typecode(typecode):
    values = "abc" if typecode == "u" else [1, 0, 1]
    assert_conforms(array.array(typecode, values))
    assert_conforms(array.array(typecode))


def test_mmap_writable_and_read_only(tmp_path):
    with mmap.mmap(-1, 64) as m:
        assert assert_conforms(m) == (REQUESTS, 0)
    path = tmp_path / "data"
    path.write_bytes(b"0123456789")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert assert_conforms(m) == (REQUESTS // 2, REQUESTS // 2)


@pytest.mark.parametrize("make", [
    lambda: memoryview(b"abcd"),
    lambda: memoryview(bytearray(24)),
    lambda: memoryview(bytearray(24))[::3],
    lambda: memoryview(bytearray(24))[5:1:-2],
    lambda: memoryview(bytearray(24)).cast("i", (2, 3)),
    lambda: memoryview(bytearray(24)).cast("d").cast("B").cast("h", (3, 2, 2)),
    lambda: memoryview(bytearray(8)).cast("q", ()),
    lambda: memoryview(np.zeros((0, 4), dtype=np.int32)),
    lambda: memoryview(np.zeros((4, 6))[::2, ::-3]),
    lambda: memoryview(np.zeros((3, 4), order="F")),
], ids=["bytes", "bytearray", "step", "reversed", "cast-2d", "cast-3d", "0-d", "empty-2d",
        "numpy-strided", "numpy-F"])
def test_memoryviews(make):
    assert_conforms(make())


# ---- NumPy, every layout -----------------------------------------------------

BASE = np.arange(120, dtype=np.int32).reshape(4, 5, 6)

LAYOUTS = {
    "C": lambda: np.zeros((3, 4)),
    "F": lambda: np.zeros((3, 4), order="F"),
    "1-d": lambda: np.arange(7, dtype=np.int16),
    "strided": lambda: BASE[::2, 1::2, ::3],
    "rows": lambda: BASE[:, 2],
    "reversed": lambda: np.arange(10)[::-1],
    "reversed-2d": lambda: BASE[::-1, :, ::-2],
    "transposed": lambda: BASE.transpose(2, 0, 1),
    "broadcast": lambda: np.broadcast_to(np.arange(3.0), (4, 3)),
    "0-d": lambda: np.array(2.5),
    "0-d-view": lambda: BASE[1, 2, 3, ...],
    "zero-size": lambda: np.zeros((0, 3)),
    "zero-size-strided": lambda: BASE[:, :0:2, ::-1],
    "extent-1": lambda: BASE[1:2, :, 3:4],
    "read-only": lambda: np.frombuffer(b"abcdefgh", dtype=np.uint8),
    "read-only-2d": lambda: np.frombuffer(bytes(48), dtype=np.float64).reshape(2, 3),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_numpy_layouts(name):
    assert_conforms(LAYOUTS[name]())


def test_numpy_read_only_flag():
    a = np.zeros((2, 3))
    a.flags.writeable = False
    assert assert_conforms(a)[0] == REQUESTS // 2 - 16  # no WRITABLE, no F order


DTYPES = [
    "?", "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "e", "f", "d", "g", "F", "D", "G",
    ">i4", "<i4", ">f8", ">c16", "S7", "U3", ">U2", "V5", "O", "M8[s]", "m8[ms]",
    [("a", "u1"), ("b", "<i4")],
    np.dtype([("a", "u1"), ("b", "<i4")], align=True),
    [("a", [("x", "<i2"), ("y", ">f8")]), ("b", "S3")],
    [("m", "<f4", (2, 3)), ("n", ">u2")],
    [(("a title", "a"), "<i4"), ("b", "?")],
    np.dtype({"names": ["a", "b"], "formats": ["u1", "<i4"], "offsets": [0, 4]}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=[str(d) for d in DTYPES])
def test_numpy_dtypes(dtype):
    a = np.zeros((2, 3), dtype=dtype)
    assert_conforms(a)
    assert_conforms(a[:, ::-2])


@st.composite
def numpy_views(draw):
    dtype = draw(st.sampled_from(["u1", "<i2", ">i4", "f8", "c8", "?", "S3",
                                  [("a", "u1"), ("b", ">f4")]]))
    shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4))
    a = np.zeros(shape, dtype=dtype, order=draw(st.sampled_from("CF")))
    key = tuple(slice(draw(st.none() | st.integers(-6, 6)), draw(st.none() | st.integers(-6, 6)),
                      draw(st.sampled_from([1, 2, 3, -1, -2])))
                for _ in shape)
    view = a[key + (Ellipsis,)]  # an array, also for 0-d
    view = view.transpose(draw(st.permutations(range(view.ndim))))
    if draw(st.booleans()):
        view.flags.writeable = False
    return view


@given(numpy_views())
def test_random_numpy_views_conform(view):
    problems = xbuf.check(view)
    assert problems == [], (view.shape, view.strides, view.dtype, problems)


def test_numpy_trailing_padding_is_reported():
    """numpy/numpy#7797: an explicit itemsize's trailing padding is missing
    from the format.  The oracle for the format's size: the last field's
    offset plus its size, rounded up to its alignment (native '@' layout)."""
    dt = np.dtype({"names": ["a", "b"], "formats": ["u1", "<i4"], "offsets": [0, 4],
                   "itemsize": 12})
    fmt = memoryview(np.zeros(1, dtype=dt)).format
    described = 4 + np.dtype("<i4").itemsize  # b at 4, no padding after an aligned int
    problems = xbuf.check(np.zeros(3, dtype=dt))
    if described == dt.itemsize:  # a NumPy that writes the padding conforms
        assert problems == []
    else:
        assert problems == [f"request FULL_RO: format '{fmt}' describes {described} bytes per "
                            f"item but itemsize is {dt.itemsize}"]


# ---- ctypes: cpython #76961 and the missing strides ---------------------------


class Mixed(ctypes.Structure):
    _fields_ = [("a", ctypes.c_byte), ("b", ctypes.c_int)]


class MixedBE(ctypes.BigEndianStructure):
    _fields_ = [("a", ctypes.c_byte), ("b", ctypes.c_int), ("c", ctypes.c_short)]


class Doubles(ctypes.Structure):
    _fields_ = [("a", ctypes.c_double), ("b", ctypes.c_double)]


def unpadded_size(cls):
    """The size of the struct with no padding: what a '<'/'>' format holds."""
    return sum(ctypes.sizeof(t) for _, t in cls._fields_)


@pytest.mark.parametrize("cls", [Mixed, MixedBE])
def test_ctypes_struct_format_disagrees_with_its_itemsize(cls):
    obj = cls()
    fmt = memoryview(obj).format
    assert xbuf.check(obj) == [
        f"request FULL_RO: format '{fmt}' describes {unpadded_size(cls)} bytes per item but "
        f"itemsize is {ctypes.sizeof(cls)}"]


def test_ctypes_array_answers_strides_requests_without_strides():
    obj = (ctypes.c_int * 3)()
    assert memoryview(obj).format == "<i"  # a format that is right: the one problem is strides
    assert xbuf.check(obj) == [
        "request FULL_RO: request asked for STRIDES but the exporter gave no strides"]


def test_ctypes_array_of_mixed_structs_has_both_problems():
    obj = (Mixed * 2)()
    found = details(xbuf.check(obj))
    assert "request asked for STRIDES but the exporter gave no strides" in found
    assert (f"format '{memoryview(obj).format}' describes {unpadded_size(Mixed)} bytes per "
            f"item but itemsize is {ctypes.sizeof(Mixed)}") in found
    assert len(found) == 2


@pytest.mark.parametrize("make", [ctypes.c_int, ctypes.c_double, ctypes.c_longlong,
                                  ctypes.c_bool, Doubles,
                                  lambda: ctypes.pointer(ctypes.c_int())],
                         ids=["int", "double", "longlong", "bool", "doubles", "pointer"])
def test_ctypes_scalars_with_honest_formats_conform(make):
    assert_conforms(make())


# ---- hostile exporters (PEP 688) ---------------------------------------------


class Buffer:
    """A PEP 688 exporter whose __buffer__ is the given function of flags."""

    def __init__(self, make):
        self.make = make

    def __buffer__(self, flags):
        return self.make(flags)

    def __release_buffer__(self, view):
        view.release()


def test_pep688_honest_exporter_conforms():
    data = np.zeros((3, 4))
    assert_conforms(Buffer(lambda flags: memoryview(data)))


def test_other_memory_on_every_call():
    problems = xbuf.check(Buffer(lambda flags: memoryview(bytearray(8))))
    assert "request FULL: buf differs from the buf of the answer to FULL_RO" in problems


def test_other_memory_when_writable_is_asked():
    data = np.zeros(6)
    obj = Buffer(lambda flags: memoryview(data.copy() if flags & 1 else data))
    assert details(xbuf.check(obj)) == ["buf differs from the buf of the answer to FULL_RO"]


def test_lying_format_through_a_memoryview():
    struct = Mixed()
    problems = xbuf.check(Buffer(lambda flags: memoryview(struct)))
    assert (f"request FULL_RO: format '{memoryview(struct).format}' describes "
            f"{unpadded_size(Mixed)} bytes per item but itemsize is 8") in problems


def test_shape_that_depends_on_the_request():
    data = np.zeros((3, 4))
    strides = 0x10 | 0x08
    obj = Buffer(lambda flags: memoryview(data if flags & strides == strides
                                          else data.reshape(-1)))
    assert "request ND: shape (12,) differs from the shape (3, 4) of the answer to FULL_RO" \
        in xbuf.check(obj)


def test_buffer_error_is_a_refusal():
    data = bytearray(8)

    def make(flags):
        if flags & 0x04:  # FORMAT
            raise BufferError("no formats here")
        return memoryview(data)

    problems, answered, refused = xbuf.check(Buffer(make), summary=True)
    assert problems == []
    assert (answered, refused) == (REQUESTS // 2, REQUESTS // 2)


def test_value_error_is_a_refusal_as_numpy_raises_it():
    data = bytearray(8)

    def make(flags):
        if flags & 0x04:
            raise ValueError("ndarray is not C-contiguous")
        return memoryview(data)

    assert xbuf.check(Buffer(make)) == []


def test_other_exceptions_are_problems():
    data = bytearray(8)

    def make(flags):
        if flags & 0x04:
            raise TypeError("flags confuse me")
        return memoryview(data)

    assert xbuf.check(Buffer(make)) == [
        "request FULL_RO: raised TypeError instead of BufferError: flags confuse me"]


def test_buggy_buffer_method():
    class Broken:
        def __buffer__(self, flags):
            return memoryview(self.missing)

        def __release_buffer__(self, view):
            pass

    problems = xbuf.check(Broken())
    assert len(problems) == 1
    assert problems[0].startswith("request FULL_RO: raised AttributeError instead of "
                                  "BufferError:")


def test_buffer_method_returning_no_memoryview():
    problems = xbuf.check(Buffer(lambda flags: b"not a view"))
    assert len(problems) == 1
    assert problems[0].startswith("request FULL_RO: raised TypeError instead of BufferError")
    assert "memoryview" in problems[0]


def test_keyboard_interrupt_stops_the_check():
    def make(flags):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        xbuf.check(Buffer(make))


def test_leaked_references_are_reported():
    kept = []
    data = bytearray(8)

    class Leaky(Buffer):
        def __buffer__(self, flags):
            kept.append(self)  # a reference per export, never given back
            return memoryview(data)

    obj = Leaky(None)
    problems = xbuf.check(obj)
    assert problems == [f"releases unbalanced: {len(kept)} references to the object leaked"]
    assert len(kept) == REQUESTS


def test_balanced_exporters_leave_reference_counts_alone():
    obj = np.zeros((2, 3))
    before = sys.getrefcount(obj)
    assert xbuf.check(obj) == []
    assert sys.getrefcount(obj) == before


# ---- the command line -----------------------------------------------------------


def run_cli(*args):
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(xbuf.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_parent, env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "xbuf", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_cli_conforming_object():
    result = run_cli("check", "builtins:bytearray(8)")
    assert (result.returncode, result.stdout) == (0, "conforms: 72 requests answered, 0 refused\n")


def test_cli_numpy_expression():
    result = run_cli("check", "numpy:zeros((3, 4))[::2]")
    assert result.returncode == 0, result.stderr
    answered, refused = xbuf.check(np.zeros((3, 4))[::2], summary=True)[1:]
    assert result.stdout == f"conforms: {answered} requests answered, {refused} refused\n"


def test_cli_problems_one_line_each():
    result = run_cli("check", "ctypes:(type('S', (Structure,), {'_fields_': "
                              "[('a', c_byte), ('b', c_int)]}) * 2)()")
    assert result.returncode == 1, result.stderr
    expected = xbuf.check((Mixed * 2)())
    assert result.stdout.splitlines() == expected


@pytest.mark.parametrize("args, message", [
    (["check", "no-colon"], "expected 'module:expression'"),
    (["check", "no_such_module_xyz:1"], "cannot import 'no_such_module_xyz'"),
    (["check", "builtins:1/0"], "ZeroDivisionError"),
    (["check", "builtins:42"], "bytes-like object is required, not 'int'"),
    (["check"], "required"),
    ([], "required"),
    (["format", "i{"], "format 'i{'"),
])
def test_cli_usage_errors_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_cli_format():
    result = run_cli("format", "T{<i:x:(2,2)d:y:}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "T{<i:x:(2,2)d:y:}"
    assert lines[1] == "  canonical @T{<i:x:(2,2)d:y:}"
    assert lines[2] == "  kind struct, itemsize 36, alignment 1"
    assert [line.split()[:2] for line in lines[3:]] == [["0", "x:"], ["4", "y:"]]


# ---- xbuf.Exporter, the reference exporter, in every mode ------------------------------

E = xbuf.Exporter
EXPORTERS = {
    "c-order": lambda: E(list(range(12)), shape=(3, 4), format="<i"),
    "read-only": lambda: E(list(range(12)), shape=(3, 4), format="<i", flags=E.READONLY),
    "fortran": lambda: E(list(range(12)), shape=(3, 4), format="<i", flags=E.FORTRAN),
    "pil": lambda: E(list(range(24)), shape=(2, 3, 4), format="<h", flags=E.PIL),
    "0-d": lambda: E([5.0], shape=(), format="d"),
    "zero-size": lambda: E([], shape=(0, 3)),
    "negative strides": lambda: E(list(range(6)), shape=(3,), strides=(-2,), offset=4),
    "records": lambda: E([(1, 2.0), (3, 4.0)], format="T{<i:a:<d:b:}"),
    "redirect": lambda: E(bytearray(8), flags=E.REDIRECT),
    "redirect strided": lambda: E(np.arange(12.0).reshape(3, 4)[:, ::2], flags=E.REDIRECT),
    "getbuf fail": lambda: E(list(range(4)), flags=E.GETBUF_FAIL),
}


@pytest.mark.parametrize("name", EXPORTERS)
def test_reference_exporter_conforms_in_every_mode(name):
    exporter = EXPORTERS[name]()
    problems, answered, refused = xbuf.check(exporter, summary=True)
    assert problems == []
    assert answered + refused == 72
    assert exporter.exports == 0, "every view the check took was given back"
    if name == "getbuf fail":
        assert answered == 0
    else:
        assert answered > 0
