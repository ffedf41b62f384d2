"""Hostile exporters written in Python (issue #8).

Users point xbuf at exporters they did not write.  Whatever those do, xbuf
must give a clear error (an exception of the type memoryview would raise,
with a message that names the problem), not crash, and lose nothing: every
export it takes is given back, and the exporter's reference count is what
it was.

The hostile exporters:
  * Lying buffers.  ``PyMemoryView_FromBuffer`` (through ctypes) wraps any
    ``Py_buffer`` we build in a memoryview without checking it, so a
    memoryview can carry a shape that disagrees with ``len``, a zero or
    negative itemsize, strides whose span overflows, or any format -- served
    to xbuf directly, through PEP 688 ``__buffer__``, and through
    ``xbuf.Exporter(..., flags=REDIRECT)``.  Each lying memoryview must come
    back with no export held (``release()`` refuses while one is).
  * PEP 688 classes whose ``__buffer__`` raises, returns something that is
    not a memoryview, returns a released or lying one, recurses, or changes
    its format between calls; whose ``__release_buffer__`` raises (reported
    through ``sys.unraisablehook``, the view still released) or is missing.
  * ``xbuf.Exporter`` in GETBUF_FAIL and REDIRECT modes.
  * Objects resized while a View of them is held (bytearray, array,
    xbuf.Exporter.push): BufferError from the exporter.
  * Views released twice and used after release (ValueError).
  * More than 64 dimensions: a memoryview's ``ndim`` poked to 65 through
    ctypes after creation (memoryview refuses to build one), and casts,
    Exporters and indices of 65 dimensions.
  * Counts near PTRDIFF_MAX: formats (``'9223372036854775807s'``), casts
    with huge shapes and slices with huge bounds, against struct and
    memoryview as oracles.

docs/robustness.md holds the table: case -> error observed -> test.
"""

import array
import builtins
import contextlib
import ctypes
import gc
import struct
import sys
import weakref

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import xbuf

PMAX = sys.maxsize
PMIN = -sys.maxsize - 1

# ---- building lying memoryviews ---------------------------------------------


class Py_buffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_void_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]


_from_buffer = ctypes.pythonapi.PyMemoryView_FromBuffer
_from_buffer.restype = ctypes.py_object
_from_buffer.argtypes = [ctypes.POINTER(Py_buffer)]


class Lie:
    """A memoryview over `size` bytes of ctypes memory, with whatever
    metadata we say: CPython copies shape and strides but keeps pointing at
    our format text (so a test can scribble over it later)."""

    def __init__(self, *, len=24, itemsize=4, ndim=2, shape=(2, 3), strides=(12, 4),
                 format=b"i", readonly=True, size=24):
        self.memory = (ctypes.c_ubyte * max(size, 1))(*range(1, size + 1))
        n = max(ndim, builtins.len(shape), 1)  # `len` is the Py_buffer field here
        self.shape = (ctypes.c_ssize_t * n)(*shape)
        self.strides = (ctypes.c_ssize_t * n)(*strides)
        self.format = ctypes.create_string_buffer(format) if format is not None else None
        info = Py_buffer(buf=ctypes.addressof(self.memory), obj=None, len=len,
                         itemsize=itemsize, readonly=int(readonly), ndim=ndim,
                         format=ctypes.addressof(self.format) if self.format else None,
                         shape=ctypes.addressof(self.shape),
                         strides=ctypes.addressof(self.strides), suboffsets=None, internal=None)
        self.mv = _from_buffer(ctypes.byref(info))

    def assert_no_export_held(self):
        """memoryview.release() refuses while an export is held."""
        self.mv.release()


class Buffer:
    """A PEP 688 exporter: __buffer__ is `make(flags)`; counts its calls."""

    def __init__(self, make, release=None):
        self.make = make
        self.release = release
        self.gets = 0
        self.releases = 0
        self.released = []  # weak references to the views given back

    def __buffer__(self, flags):
        self.gets += 1
        return self.make(flags)

    def __release_buffer__(self, view):
        self.releases += 1
        self.released.append(weakref.ref(view))
        if self.release is not None:
            self.release(view)
        else:
            view.release()


@contextlib.contextmanager
def balanced(*objects):
    """The reference counts of `objects` are the same after the block."""
    gc.collect()
    before = [sys.getrefcount(o) for o in objects]
    yield
    gc.collect()
    after = [sys.getrefcount(o) for o in objects]
    assert after == before, f"reference counts {before} -> {after}: something leaked"


@pytest.fixture
def unraisable(monkeypatch):
    """What sys.unraisablehook saw, as (type, message, object) -- the
    exception itself is not kept (its traceback would keep frames alive)."""
    seen = []

    def hook(info):
        seen.append((info.exc_type, str(info.exc_value), info.object))

    monkeypatch.setattr(sys, "unraisablehook", hook)
    return seen


# ---- lying Py_buffers: refused with BufferError, nothing held ----------------

LIES = {
    # name: (Lie arguments, message)
    "len_short": (dict(len=20), "product(shape) * itemsize is 24"),
    "len_long": (dict(len=4096), "gave len 4096"),
    "itemsize_zero": (dict(itemsize=0), "itemsize 0"),
    "itemsize_negative": (dict(itemsize=-4), "itemsize -4"),
    "itemsize_min": (dict(itemsize=PMIN), f"itemsize {PMIN}"),
    "extent_negative": (dict(shape=(2, -3), len=0), "negative extent"),
    "shape_product_overflows": (dict(shape=(PMAX, 2), len=0), "size overflows"),
    "huge_len": (dict(len=PMAX), f"gave len {PMAX}"),
    "stride_max": (dict(strides=(PMAX, 4)), "byte span overflows"),
    "stride_min": (dict(strides=(PMIN, 4)), "byte span overflows"),
    "span_between_ends": (dict(strides=(PMAX // 2 + 1, -(PMAX // 2))), "byte span overflows"),
    "zero_d_several_items": (dict(ndim=0, shape=(), strides=()), "0-d view whose len 24"),
    "empty_format": (dict(format=b""), "empty format"),
}


@pytest.mark.parametrize("name", LIES)
def test_lying_buffer_is_refused(name):
    kwargs, message = LIES[name]
    lie = Lie(**kwargs)
    with balanced(lie.mv):
        with pytest.raises(BufferError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("*", r"\*")):
            xbuf.View(lie.mv)
    lie.assert_no_export_held()


@pytest.mark.parametrize("name", LIES)
def test_lying_buffer_through_pep688_is_refused_and_given_back(name):
    kwargs, message = LIES[name]
    lie = Lie(**kwargs)
    obj = Buffer(lambda flags: lie.mv, release=lambda view: None)
    with balanced(obj, lie.mv):
        with pytest.raises(BufferError) as info:
            xbuf.View(obj)
        assert message in str(info.value)
        del info
    assert (obj.gets, obj.releases) == (1, 1), "__release_buffer__ must run once"
    lie.assert_no_export_held()


@pytest.mark.parametrize("name", LIES)
def test_lying_buffer_redirected_by_an_exporter_is_refused(name):
    kwargs, message = LIES[name]
    lie = Lie(**kwargs)
    with balanced(lie.mv):
        with pytest.raises(BufferError) as info:
            xbuf.Exporter(lie.mv, flags=xbuf.Exporter.REDIRECT)
        assert message in str(info.value)
        del info
    lie.assert_no_export_held()


@pytest.mark.parametrize("name", ["len_short", "itemsize_negative", "stride_max", "empty_format"])
def test_lying_buffer_is_a_problem_for_check(name):
    kwargs, message = LIES[name]
    lie = Lie(**kwargs)
    with balanced(lie.mv):
        problems = xbuf.check(lie.mv)
    assert any(message in p for p in problems), problems
    lie.assert_no_export_held()


@st.composite
def lies(draw):
    """An honest C-contiguous layout over 48 bytes, then one lie."""
    itemsize = draw(st.sampled_from([1, 2, 4, 8]))
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    count = 1
    for n in shape:
        count *= n
    assume(count * itemsize <= 48)
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.insert(0, step)
        step *= n
    layout = dict(len=count * itemsize, itemsize=itemsize, ndim=len(shape), shape=shape,
                  strides=strides, format={1: b"B", 2: b"h", 4: b"i", 8: b"q"}[itemsize],
                  size=48)
    lie = draw(st.sampled_from(["len", "itemsize", "extent", "stride", "ndim"]))
    if lie == "len":
        layout["len"] = draw(st.integers(PMIN, PMAX).filter(lambda n: n != count * itemsize))
    elif lie == "itemsize":
        layout["itemsize"] = draw(st.integers(PMIN, 0))
    elif lie == "extent":
        i = draw(st.integers(0, len(shape) - 1))
        shape[i] = draw(st.integers(PMIN, -1))
        layout["len"] = 0
    elif lie == "stride":
        i = draw(st.integers(0, len(shape) - 1))
        assume(shape[i] > 1)
        strides[i] = draw(st.sampled_from([PMAX, PMIN]))  # the span overflows
    else:  # more dimensions than the shape the len describes
        layout["ndim"] = 0
        assume(count > 1)
    return layout, lie


@given(lies())
def test_random_lies_are_refused_and_given_back(case):
    layout, lie = case
    made = Lie(**layout)
    obj = Buffer(lambda flags: made.mv, release=lambda view: None)
    with balanced(made.mv, obj):
        with pytest.raises(BufferError, match="exporter gave"):
            xbuf.View(made.mv)
        with pytest.raises(BufferError, match="exporter gave"):
            xbuf.View(obj)
    assert obj.releases == obj.gets == 1
    made.assert_no_export_held()


# ---- formats that do not fit the items: accepted, refused on use --------------


def test_format_count_near_ptrdiff_max_is_refused_when_read():
    lie = Lie(len=6, itemsize=1, ndim=1, shape=(6,), strides=(1,),
              format=b"9223372036854775807s", size=6)
    with balanced(lie.mv):
        v = xbuf.View(lie.mv)  # the check reads no format: views work on the itemsize
        assert v.format == "9223372036854775807s"
        assert v.tobytes() == bytes(range(1, 7))
        assert v.cast("B").tolist() == list(range(1, 7))
        message = ("format '9223372036854775807s' describes 9223372036854775807 bytes per item, "
                   "but the exporter's items are 1 bytes")
        with pytest.raises(BufferError, match=message):
            v.tolist()
        with pytest.raises(BufferError, match=message):
            v[0]
        with pytest.raises(BufferError, match=message):
            list(v)
        with pytest.raises(BufferError, match=message):  # the exporter's fault, as for tolist
            v == xbuf.View(bytes(6))  # noqa: B015
        v.release()
        del v  # a View keeps its object referenced, released or not
    lie.assert_no_export_held()


@pytest.mark.parametrize("fmt, exc, message", [
    (b"99999999999999999999s", OverflowError, "count does not fit in ptrdiff_t"),
    (b"(4611686018427387904)h", OverflowError, "sub-array size does not fit in ptrdiff_t"),
    (b"(3037000500,3037000500)B", OverflowError, "sub-array size does not fit in ptrdiff_t"),
    (b"T{9223372036854775807s:a:q:b:}", OverflowError, "item size does not fit in ptrdiff_t"),
    (b"9223372036854775807t", OverflowError, "bit field run does not fit in ptrdiff_t"),
    (b"q", BufferError, "describes 8 bytes per item, but the exporter's items are 1 bytes"),
    (b"i{", ValueError, "position 1"),
    (b"T{" * 200 + b"i" + b"}" * 200, ValueError, "nest"),
])
def test_formats_the_items_cannot_hold_are_refused_when_read(fmt, exc, message):
    lie = Lie(len=6, itemsize=1, ndim=1, shape=(6,), strides=(1,), format=fmt, size=6)
    with balanced(lie.mv):
        v = xbuf.View(lie.mv)
        assert v.tobytes() == bytes(range(1, 7))
        with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
            v.tolist()
        with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
            v[0]
        del v
    lie.assert_no_export_held()


# ---- PIL-style tables with a NULL row pointer ------------------------------------


class NullRowTable:
    """A lying PIL-style buffer: 3 rows of 4 bytes, row 1's pointer NULL."""

    def __init__(self):
        self.rows = [(ctypes.c_ubyte * 4)(1, 2, 3, 4), None, (ctypes.c_ubyte * 4)(9, 10, 11, 12)]
        self.table = (ctypes.c_void_p * 3)(*[ctypes.addressof(r) if r else None
                                             for r in self.rows])
        self.shape = (ctypes.c_ssize_t * 2)(3, 4)
        self.strides = (ctypes.c_ssize_t * 2)(ctypes.sizeof(ctypes.c_void_p), 1)
        self.suboffsets = (ctypes.c_ssize_t * 2)(0, -1)
        self.format = ctypes.create_string_buffer(b"B")
        info = Py_buffer(buf=ctypes.addressof(self.table), obj=None, len=12, itemsize=1,
                         readonly=1, ndim=2, format=ctypes.addressof(self.format),
                         shape=ctypes.addressof(self.shape),
                         strides=ctypes.addressof(self.strides),
                         suboffsets=ctypes.addressof(self.suboffsets), internal=None)
        self.mv = _from_buffer(ctypes.byref(info))


def test_null_row_pointer_is_refused_when_the_view_is_made():
    """memoryview takes such a table and crashes when a copy follows the
    NULL pointer; xbuf walks the pointer tables once (a load per row) when
    it makes a view object, or copies or compares a raw view, and refuses a
    NULL one before reading an item."""
    t = NullRowTable()
    with balanced(t.mv):
        with pytest.raises(BufferError, match="indirect view holds a NULL pointer at index 1"):
            xbuf.View(t.mv)
        with pytest.raises(BufferError, match="NULL pointer"):
            xbuf.View(bytearray(12)).cast("B", (3, 4)) == t.mv
        with pytest.raises(BufferError, match="NULL pointer"):
            xbuf.View(bytearray(12)).cast("B", (3, 4))[...] = t.mv
    t.mv.release()


# ---- no byte outside: items flush against a PROT_NONE page (in a subprocess) ------


def _guarded_battery(fmt):
    """Run in a child process: a lying writable buffer of six 1-byte items
    ends exactly at a PROT_NONE page (another one before it), with format
    `fmt`; every read and write a View offers is tried.  A byte touched
    outside kills the child; otherwise it prints op -> exception name."""
    import json
    import mmap
    page = mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    region = mmap.mmap(-1, 3 * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(region))
    assert libc.mprotect(base, page, 0) == 0 and libc.mprotect(base + 2 * page, page, 0) == 0
    size = 6
    address = base + 2 * page - size
    ctypes.memmove(address, bytes(range(1, size + 1)), size)
    shape = (ctypes.c_ssize_t * 1)(size)
    strides = (ctypes.c_ssize_t * 1)(1)
    text = ctypes.create_string_buffer(fmt.encode())
    info = Py_buffer(buf=address, obj=None, len=size, itemsize=1, readonly=0, ndim=1,
                     format=ctypes.addressof(text), shape=ctypes.addressof(shape),
                     strides=ctypes.addressof(strides), suboffsets=None, internal=None)
    v = xbuf.View(_from_buffer(ctypes.byref(info)))
    other = xbuf.View(bytearray(48)).cast("q")
    ops = {
        "tolist": lambda: v.tolist(), "last": lambda: v[-1], "iter": lambda: list(v),
        "reversed": lambda: list(reversed(v)), "eq": lambda: v == other,
        "set_last": lambda: v.__setitem__(5, 1), "set_all": lambda: v.__setitem__(slice(None), 1),
        "set_record": lambda: v.__setitem__(5, (1, 2)),
        "set_from_view": lambda: v.__setitem__(slice(None), other),
        "tobytes": lambda: v.tobytes(), "hex": lambda: v.hex(), "bytes": lambda: bytes(v),
        "reversed_tobytes": lambda: v[::-1].tobytes(), "cast": lambda: v.cast("B").tolist(),
        "field": lambda: v.field("b").tolist(), "array_interface": lambda: v.__array_interface__,
        "dlpack": lambda: v.__dlpack__(), "arrow": lambda: v.__arrow_c_array__(),
    }
    seen = {}
    for name, op in ops.items():
        try:
            op()
            seen[name] = "ok"
        except Exception as exc:  # noqa: BLE001 -- the type is what is reported
            seen[name] = type(exc).__name__
    print(json.dumps(seen))


_BATTERY = """
import sys
sys.path.insert(0, {here!r})
import test_hostile
test_hostile._guarded_battery({fmt!r})
"""

# What each format gives: the formats that do not fit 1-byte items refuse
# every value read and write with BufferError; byte copies work.
_READS = ["tolist", "last", "iter", "reversed", "eq", "set_last", "set_all", "set_record"]


@pytest.mark.parametrize("fmt", ["q", "T{b:a:q:b:}", "9223372036854775807s", "Zd", "(2)h", "ii",
                                 "B", "c", "?"])
def test_no_byte_outside_the_items_is_touched(fmt):
    import json
    import os
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(xbuf.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_parent, env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", _BATTERY.format(here=here, fmt=fmt)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, (f"format {fmt!r}: the child died (exit {result.returncode}): "
                                    f"a byte outside the items was touched? {result.stderr[-500:]}")
    seen = json.loads(result.stdout)
    for name in ["tobytes", "hex", "reversed_tobytes", "cast"]:
        assert seen[name] == "ok", (fmt, name, seen[name])
    fits = fmt in ("B", "c", "?")
    # bytes(v) asks for the format (PyBUF_FULL_RO), and a View does not pass
    # on a format that reads past its items (H8): the copies above do not.
    assert seen["bytes"] == ("ok" if fits else "BufferError"), (fmt, seen["bytes"])
    for name in _READS:
        if not fits:
            assert seen[name] == "BufferError", (fmt, name, seen[name])
    assert seen["set_from_view"] in ("ok", "ValueError"), seen
    if not fits:
        for name in ["array_interface", "dlpack"]:
            assert seen[name] in ("BufferError", "OverflowError"), (fmt, name, seen[name])
        assert seen["arrow"] in ("ValueError", "OverflowError"), seen


# ---- a format that changes ------------------------------------------------------


def test_format_changing_between_calls_each_view_keeps_its_own():
    data = bytearray(b"\x01\x00\x00\x00\x00\x00\x80\x3f")
    formats = ["i", "f", "B", "H"]
    obj = Buffer(lambda flags: memoryview(data).cast(formats[(obj.gets - 1) % len(formats)]))
    with balanced(obj, data):
        views = [xbuf.View(obj) for _ in formats]
        assert [v.format for v in views] == formats
        assert views[0].tolist() == [1, 1065353216]
        assert views[1].tolist() == [pytest.approx(1.4e-45), 1.0]
        assert views[2].tolist() == list(data)
        assert views[3].tolist() == [1, 0, 0, 16256]
        assert views[0] != views[1]
        assert xbuf.View(views[1]).format == "f"
        for v in views:
            v.release()
        del views, v
    assert obj.gets == obj.releases == len(formats)


def test_format_text_scribbled_after_the_view_is_taken():
    lie = Lie(len=24, format=b"i")
    v = xbuf.View(lie.mv)
    before = v.tolist()
    ctypes.memmove(lie.format, b"d\0", 2)  # the exporter rewrites its format text
    assert lie.mv.format == "d", "memoryview keeps pointing at the exporter's text"
    assert v.format == "i", "an xbuf.View owns a copy"
    assert v.tolist() == before
    assert v[1:].format == "i"
    v.release()
    lie.assert_no_export_held()


# ---- __buffer__ that misbehaves -------------------------------------------------


@pytest.mark.parametrize("exc", [BufferError("no views today"), ValueError("not contiguous"),
                                 KeyError("flags"), RuntimeError("broken")],
                         ids=lambda e: type(e).__name__)
def test_buffer_method_that_raises_propagates_its_exception(exc):
    def make(flags):
        raise type(exc)(*exc.args)  # a fresh one: a raised exception keeps its frames

    obj = Buffer(make)
    with balanced(obj):
        with pytest.raises(type(exc), match=str(exc).strip("'")):
            xbuf.View(obj)
    assert (obj.gets, obj.releases) == (1, 0)


def test_buffer_method_keyboard_interrupt_propagates():
    def make(flags):
        raise KeyboardInterrupt

    obj = Buffer(make)
    with balanced(obj):
        with pytest.raises(KeyboardInterrupt):
            xbuf.View(obj)


@pytest.mark.parametrize("returned", [b"bytes", None, bytearray(4), 42,
                                      xbuf.View(b"a view, not a memoryview")],
                         ids=["bytes", "None", "bytearray", "int", "View"])
def test_buffer_method_returning_no_memoryview(returned):
    obj = Buffer(lambda flags: returned)
    with balanced(obj, *([returned] if returned is not None else [])):
        with pytest.raises(TypeError, match="__buffer__ returned non-memoryview object '"
                           + type(returned).__qualname__.replace("View", "xbuf.View")):
            xbuf.View(obj)
    assert obj.releases == 0, "nothing was exported, so nothing is released"


def test_buffer_method_returning_a_released_memoryview():
    m = memoryview(bytearray(4))
    m.release()
    obj = Buffer(lambda flags: m, release=lambda view: None)
    with balanced(obj, m):
        with pytest.raises(ValueError, match="released"):
            xbuf.View(obj)
    assert (obj.gets, obj.releases) == (1, 1)


def test_buffer_method_with_a_wrong_signature():
    class NoFlags:
        def __buffer__(self):
            return memoryview(b"x")

        def __release_buffer__(self, view):
            pass

    obj = NoFlags()
    with balanced(obj):
        with pytest.raises(TypeError, match="positional argument"):
            xbuf.View(obj)


def test_buffer_method_that_is_not_callable():
    class NotCallable:
        __buffer__ = None

    with pytest.raises(TypeError, match="not callable"):
        xbuf.View(NotCallable())


def test_buffer_method_that_recurses_into_view():
    obj = Buffer(lambda flags: memoryview(xbuf.View(obj)))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        with balanced(obj):
            with pytest.raises(RecursionError, match="maximum recursion depth"):
                xbuf.View(obj)
    finally:
        sys.setrecursionlimit(limit)
    assert obj.releases == 0


# ---- __release_buffer__ that misbehaves ------------------------------------------


def test_release_that_raises_is_unraisable_and_the_view_is_released(unraisable):
    data = bytearray(8)

    def release(view):
        view.release()
        raise RuntimeError("release failed")

    obj = Buffer(lambda flags: memoryview(data), release=release)
    with balanced(obj, data):
        v = xbuf.View(obj)
        s = v[2:]
        v.release()
        assert unraisable == [], "the slice still holds the export"
        del s
        assert obj.releases == 1
        assert [(t, m) for t, m, _ in unraisable] == [(RuntimeError, "release failed")]
        assert unraisable[0][2] is obj
        unraisable.clear()
        with pytest.raises(ValueError, match="released"):
            v.tolist()
        del v
        data.append(1)  # nothing holds the bytearray any more


def test_release_that_raises_without_releasing_its_memoryview(unraisable):
    data = bytearray(8)

    def release(view):
        raise RuntimeError("forgot to release")

    obj = Buffer(lambda flags: memoryview(data), release=release)
    with balanced(obj, data):
        with xbuf.View(obj) as v:
            assert v.nbytes == 8
        del v
        assert [t for t, _, _ in unraisable] == [RuntimeError]
        unraisable.clear()
        assert all(r() is None for r in obj.released), "the memoryview was not freed"
        data.append(1)


def test_release_that_raises_while_the_get_fails(unraisable):
    lie = Lie(len=20)

    def release(view):
        raise RuntimeError("release failed too")

    obj = Buffer(lambda flags: lie.mv, release=release)
    with balanced(obj, lie.mv):
        with pytest.raises(BufferError, match="product"):
            xbuf.View(obj)
        assert [(t, m) for t, m, _ in unraisable] == [(RuntimeError, "release failed too")]
        unraisable.clear()
    lie.assert_no_export_held()


def test_missing_release_method_is_unraisable(unraisable):
    data = bytearray(8)

    class NoRelease:
        def __buffer__(self, flags):
            return memoryview(data)

    obj = NoRelease()
    with balanced(obj, data):
        xbuf.View(obj).release()
        assert [t for t, _, _ in unraisable] == [AttributeError]
        unraisable.clear()
        data.append(1)


def test_release_that_takes_another_view_of_itself(unraisable):
    data = bytearray(8)
    inner = []

    def release(view):
        view.release()
        if not inner:
            inner.append(None)  # first: the inner View's own release comes back here
            inner[0] = xbuf.View(obj).tolist()

    obj = Buffer(lambda flags: memoryview(data), release=release)
    with balanced(obj, data):
        xbuf.View(obj).release()
        assert inner == [[0] * 8]
        assert obj.gets == obj.releases == 2
        assert unraisable == []
        data.append(1)


# ---- xbuf.Exporter's hostile modes ----------------------------------------------


def test_exporter_getbuf_fail():
    e = xbuf.Exporter([1, 2, 3], format="<i", flags=xbuf.Exporter.GETBUF_FAIL)
    with balanced(e):
        with pytest.raises(BufferError, match=r"getbuffer fails on request \(GETBUF_FAIL\)"):
            xbuf.View(e)
        with pytest.raises(BufferError, match="GETBUF_FAIL"):
            memoryview(e)
        problems, answered, refused = xbuf.check(e, summary=True)
    assert (problems, answered) == ([], 0)
    e.push(4)  # no export was left behind


def test_exporter_redirecting_a_pep688_object_that_raises():
    def make(flags):
        raise ValueError("not today")

    obj = Buffer(make)
    with balanced(obj):
        with pytest.raises(ValueError, match="not today"):
            xbuf.Exporter(obj, flags=xbuf.Exporter.REDIRECT)


def test_exporter_redirecting_a_format_that_does_not_fit():
    lie = Lie(len=6, itemsize=1, ndim=1, shape=(6,), strides=(1,),
              format=b"9223372036854775807s", size=6)
    with balanced(lie.mv):
        e = xbuf.Exporter(lie.mv, flags=xbuf.Exporter.REDIRECT)
        with pytest.raises(BufferError, match="describes 9223372036854775807 bytes per item"):
            xbuf.View(e).tolist()
        assert xbuf.View(e).tobytes() == bytes(range(1, 7))
        with pytest.raises(BufferError, match="describes"):  # bytes() asks for the format
            bytes(xbuf.View(e))
        del e
    lie.assert_no_export_held()


def test_exporter_redirecting_a_view_that_is_released_later():
    data = bytearray(8)
    v = xbuf.View(data)
    e = xbuf.Exporter(v, flags=xbuf.Exporter.REDIRECT)
    with pytest.raises(BufferError, match="cannot release: 1 view"):
        v.release()
    del e
    v.release()
    data.append(1)


# ---- resizing while exported -----------------------------------------------------


def test_bytearray_resized_while_a_view_is_held():
    data = bytearray(range(8))
    with balanced(data):
        v = xbuf.View(data)
        s = v[::2].T
        with pytest.raises(BufferError, match="Existing exports of data: object cannot be re-sized"):
            data.append(1)
        with pytest.raises(BufferError, match="cannot be re-sized"):
            data[2:] = b""
        v.release()
        with pytest.raises(BufferError, match="cannot be re-sized"):
            data.extend(b"xx")  # the slice still holds the one export
        assert s.tolist() == [0, 2, 4, 6]
        del s, v
        data.append(8)
    assert len(data) == 9


def test_array_resized_while_a_view_is_held():
    a = array.array("i", [1, 2, 3])
    v = xbuf.View(a)
    with pytest.raises(BufferError, match="cannot resize an array that is exporting buffers"):
        a.append(4)
    v.release()
    a.append(4)


def test_exporter_push_while_a_view_is_held():
    e = xbuf.Exporter([1, 2, 3], format="<i")
    v = xbuf.View(e)
    w = v[1:]
    with pytest.raises(BufferError, match="cannot resize: 1 view is held"):
        e.push(4)
    m = memoryview(e)
    with pytest.raises(BufferError, match="cannot resize: 2 views are held"):
        e.pop()
    m.release()
    v.release()
    with pytest.raises(BufferError, match="cannot resize: 1 view is held"):
        e.push(4)
    del w
    e.push(4)
    assert xbuf.View(e).tolist() == [1, 2, 3, 4]


def test_pep688_exporter_over_a_bytearray_resized_while_viewed():
    data = bytearray(4)
    obj = Buffer(lambda flags: memoryview(data))
    with balanced(obj, data):
        v = xbuf.View(obj)
        with pytest.raises(BufferError, match="cannot be re-sized"):
            data.append(1)
        v.release()
        del v
        data.append(1)


def test_exporter_releasing_the_memoryview_it_handed_out():
    data = bytearray(8)
    kept = memoryview(data)
    obj = Buffer(lambda flags: kept, release=lambda view: None)
    with balanced(obj, data):
        v = xbuf.View(obj)
        with pytest.raises(BufferError, match="memoryview has 1 exported buffer"):
            kept.release()  # the exporter tries to take its memory back
        assert v.tolist() == [0] * 8
        v.release()
        del v
    kept.release()
    data.append(1)


def test_mmap_closed_while_a_view_is_held():
    import mmap
    m = mmap.mmap(-1, 16)
    v = xbuf.View(m)
    with pytest.raises(BufferError, match="cannot close exported pointers exist"):
        m.close()
    assert v[::4].tolist() == [0] * 4
    v.release()
    m.close()


def test_release_that_raises_from_the_garbage_collector(unraisable):
    data = bytearray(8)

    def release(view):
        view.release()
        raise RuntimeError("release failed in gc")

    obj = Buffer(lambda flags: memoryview(data), release=release)
    with balanced(obj, data):
        holder = [xbuf.View(obj)]
        holder.append(holder)  # a cycle: only the collector frees the View
        del holder
        gc.collect()
        assert [(t, m) for t, m, _ in unraisable] == [(RuntimeError, "release failed in gc")]
        unraisable.clear()
        data.append(1)


# ---- released twice, used after release --------------------------------------------

AFTER_RELEASE = {
    "tolist": lambda v: v.tolist(),
    "tobytes": lambda v: v.tobytes(),
    "hex": lambda v: v.hex(),
    "cast": lambda v: v.cast("B"),
    "getitem": lambda v: v[0],
    "slice": lambda v: v[1:],
    "setitem": lambda v: v.__setitem__(0, 1),
    "len": len,
    "iter": list,
    "reversed": lambda v: list(reversed(v)),
    "contains": lambda v: 0 in v,
    "nbytes": lambda v: v.nbytes,
    "shape": lambda v: v.shape,
    "strides": lambda v: v.strides,
    "format": lambda v: v.format,
    "obj": lambda v: v.obj,
    "c_contiguous": lambda v: v.c_contiguous,
    "memoryview": memoryview,
    "bytes": bytes,
    "View": xbuf.View,
    "field": lambda v: v.field("a"),
    "transpose": lambda v: v.transpose(),
    "T": lambda v: v.T,
    "toreadonly": lambda v: v.toreadonly(),
    "with": lambda v: v.__enter__(),
    "hash": hash,
    "dlpack": lambda v: v.__dlpack__(),
    "arrow": lambda v: v.__arrow_c_array__(),
}


@pytest.mark.parametrize("op", AFTER_RELEASE)
def test_use_after_release_is_a_value_error(op):
    data = bytearray(8)
    v = xbuf.View(data)
    v.release()
    v.release()  # twice: harmless
    with balanced(data):
        with pytest.raises(ValueError, match="released"):
            AFTER_RELEASE[op](v)
    data.append(1)


def test_released_view_still_compares_and_prints():
    v = xbuf.View(b"abc")
    v.release()
    assert v == v
    assert v != xbuf.View(b"abc")
    assert repr(v).startswith("<released xbuf.View")
    v.__exit__(None, None, None)  # release again: harmless


def test_release_while_exported_is_a_buffer_error():
    v = xbuf.View(bytearray(8))
    m = memoryview(v)
    with pytest.raises(BufferError, match="cannot release: 1 view exported from this view is held"):
        v.release()
    assert v.tolist() == [0] * 8
    m.release()
    v.release()


def test_with_block_then_use():
    data = bytearray(4)
    with xbuf.View(data) as v:
        assert v.nbytes == 4
    with pytest.raises(ValueError, match="released"):
        v.tolist()
    data.append(1)


# ---- more than 64 dimensions -------------------------------------------------------


def _memoryview_buffer_offset(mv, address):
    """The offset of the Py_buffer inside a memoryview object, found by its
    fields (buf, len, itemsize, ndim), or None when the layout is not the one
    expected (then the tests that poke it skip)."""
    base = id(mv)
    for offset in range(16, 160, 8):
        if (ctypes.c_void_p.from_address(base + offset).value == address
                and ctypes.c_ssize_t.from_address(base + offset + 16).value == mv.nbytes
                and ctypes.c_ssize_t.from_address(base + offset + 24).value == mv.itemsize
                and ctypes.c_int.from_address(base + offset + 36).value == mv.ndim):
            return offset
    return None


@contextlib.contextmanager
def memoryview_claiming_ndim(ndim):
    """memoryview refuses to be built with more than 64 dimensions; this one
    is built 1-d, and its ndim field is overwritten while the block runs."""
    data = (ctypes.c_ubyte * 8)()
    mv = memoryview(data).cast("B")
    offset = _memoryview_buffer_offset(mv, ctypes.addressof(data))
    if offset is None:
        pytest.skip("this CPython's memoryview layout is not the one the ndim poke expects")
    field = ctypes.c_int.from_address(id(mv) + offset + 36)
    field.value = ndim
    try:
        yield mv
    finally:
        field.value = 1
        mv.release()  # fails if an export was left behind


@pytest.mark.parametrize("ndim", [65, 1000, 2**31 - 1])
def test_buffer_claiming_more_than_64_dimensions_is_refused(ndim):
    with memoryview_claiming_ndim(ndim) as mv:
        with balanced(mv):
            with pytest.raises(BufferError, match=f"exporter gave ndim {ndim}, outside 0..64"):
                xbuf.View(mv)
            obj = Buffer(lambda flags: mv, release=lambda view: None)
            with pytest.raises(BufferError, match=f"ndim {ndim}"):
                xbuf.View(obj)
            assert obj.releases == 1
            problems = xbuf.check(mv)
            assert any(f"ndim {ndim}" in p for p in problems), problems


def test_65_dimensions_elsewhere():
    with pytest.raises(ValueError, match="at most 64 dimensions"):
        xbuf.Exporter([0], shape=(1,) * 65)
    v = xbuf.View(bytearray(8))
    with pytest.raises(ValueError, match="number of dimensions must not exceed 64"):
        v.cast("B", (1,) * 64 + (8,))
    assert v.cast("B", (1,) * 63 + (8,)).ndim == 64
    with pytest.raises(TypeError, match="65-element tuple"):
        v[(0,) * 65]
    e = xbuf.Exporter([([1, 2],)], shape=(1,) * 64, format="T{(2)B:a:}")
    with pytest.raises(NotImplementedError, match="deeper than 64"):
        xbuf.View(e).field("a")


# ---- counts near PTRDIFF_MAX -----------------------------------------------------


@pytest.mark.parametrize("fmt, size", [
    ("9223372036854775807s", PMAX), ("9223372036854775807x", PMAX),
    ("9223372036854775806sB", PMAX), ("4611686018427387903h", PMAX - 1),
    ("(9223372036854775807)B", PMAX), ("9223372036854775807T{}", 0),
])
def test_format_sizes_up_to_ptrdiff_max(fmt, size):
    f = xbuf.Format(fmt)
    assert f.itemsize == size == xbuf.calcsize(fmt)
    if "T" not in fmt and "(" not in fmt:
        assert struct.calcsize(fmt) == size
    if fmt.endswith("7s"):
        with pytest.raises(OverflowError, match="byte string is too large"):
            f.pack(b"ab")
    if size:
        with pytest.raises(ValueError, match=f"unpack requires a buffer of {size} bytes"):
            f.unpack(b"ab")


@pytest.mark.parametrize("fmt, message", [
    ("99999999999999999999s", "count does not fit in ptrdiff_t"),
    ("9223372036854775808s", "count does not fit in ptrdiff_t"),
    ("9223372036854775807sB", "item size does not fit in ptrdiff_t"),
    ("9223372036854775800s8x", "item size does not fit in ptrdiff_t"),
    ("@9223372036854775800sq", "item size does not fit in ptrdiff_t"),
    ("4611686018427387904i", "sub-array size does not fit in ptrdiff_t"),
    ("(3037000500,3037000500)B", "sub-array size does not fit in ptrdiff_t"),
    ("9223372036854775807w", "string length does not fit in ptrdiff_t"),
    ("9223372036854775807t", "bit field run does not fit in ptrdiff_t"),
])
def test_format_sizes_beyond_ptrdiff_max(fmt, message):
    with pytest.raises(OverflowError, match=message):
        xbuf.Format(fmt)
    with pytest.raises(OverflowError, match=message):
        xbuf.calcsize(fmt)
    v = xbuf.View(bytearray(8))
    with pytest.raises(OverflowError, match=message):
        v.cast(fmt)


CODES = "xcbB?hHiIlLqQnNefdspP"


@given(st.sampled_from(CODES),
       st.one_of(st.integers(0, 2**66), st.integers(PMAX // 16 - 2, PMAX // 16 + 2),
                 st.integers(PMAX // 8 - 2, PMAX // 8 + 2), st.integers(PMAX // 4 - 2, PMAX // 4 + 2),
                 st.integers(PMAX // 2 - 2, PMAX // 2 + 2), st.integers(PMAX - 2, PMAX + 2)),
       st.sampled_from(["", "<", ">", "@", "="]), st.sampled_from(["", "B", "q", "3x"]))
def test_huge_counts_agree_with_struct(code, count, order, tail):
    assume(code not in "nNP" or order in "@")  # struct: native only; xbuf: always native size
    fmt = f"{order}{count}{code}{tail}"
    try:
        expected = struct.calcsize(fmt)
    except struct.error:
        expected = None
    try:
        got = xbuf.Format(fmt).itemsize
    except OverflowError as exc:
        assert "does not fit in ptrdiff_t" in str(exc)
        got = None
    assert got == expected, f"{fmt!r}: struct {expected}, xbuf {got}"


@given(st.lists(st.one_of(st.integers(-2**70, 2**70), st.sampled_from([0, 1, -1, PMAX, PMIN,
                                                                       PMAX + 1, 2**64])),
                min_size=1, max_size=4),
       st.sampled_from([(16, "B"), (16, "h"), (24, "q")]))
def test_casts_with_huge_shapes_fail_like_memoryview(shape, case):
    size, fmt = case
    want = _outcome(lambda: memoryview(bytearray(size)).cast(fmt, shape).tolist())
    got = _outcome(lambda: xbuf.View(bytearray(size)).cast(fmt, shape).tolist())
    assert got[0] == want[0], f"cast({fmt!r}, {shape}): memoryview {want}, xbuf {got}"
    if want[0] is list:
        assert got == want


def test_cast_shape_overflow_counts_the_itemsize_like_memoryview():
    # product(shape) fits, product(shape) * itemsize does not: memoryview's
    # check includes the itemsize (ValueError); the library's is a TypeError
    with pytest.raises(ValueError, match="product\\(shape\\) > SSIZE_MAX"):
        memoryview(bytearray(24)).cast("q", [2**60])
    with pytest.raises(ValueError, match="product\\(shape\\) > SSIZE_MAX"):
        xbuf.View(bytearray(24)).cast("q", [2**60])


def _outcome(fn):
    try:
        return (list, fn())
    except Exception as exc:  # noqa: BLE001 -- the type is the point
        return (type(exc), str(exc))


BOUNDS = st.one_of(st.none(), st.integers(-2**70, 2**70),
                   st.sampled_from([PMAX, PMIN, PMAX + 1, PMIN - 1, 2**64, -2**64]))


@given(BOUNDS, BOUNDS, BOUNDS, st.integers(0, 20))
def test_slices_with_huge_bounds_agree_with_memoryview(start, stop, step, n):
    data = bytes(range(n))
    key = slice(start, stop, step)
    want = _outcome(lambda: memoryview(data)[key].tolist())
    got = _outcome(lambda: xbuf.View(data)[key].tolist())
    assert got[0] == want[0], f"[{key}]: memoryview {want}, xbuf {got}"
    if want[0] is list:
        assert got == want


@given(st.one_of(st.integers(-2**70, 2**70), st.sampled_from([PMAX, PMIN, PMAX + 1, PMIN - 1])))
def test_indices_with_huge_values_agree_with_memoryview(index):
    data = bytes(range(10))
    want = _outcome(lambda: [memoryview(data)[index]])
    got = _outcome(lambda: [xbuf.View(data)[index]])
    assert got[0] == want[0], f"[{index}]: memoryview {want}, xbuf {got}"
    if want[0] is list:
        assert got == want


def test_huge_slices_of_an_n_d_view():
    v = xbuf.View(bytearray(range(24))).cast("B", (2, 3, 4))
    assert v[PMAX:, PMIN:PMAX:PMAX, ::-PMAX].shape == (0, 1, 1)
    assert v[::PMIN, ::PMAX, PMIN:].tolist() == [[[12, 13, 14, 15]]]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        v[::0]
    with pytest.raises(IndexError, match="index 9223372036854775807 is out of range"):
        v[0, PMAX]
    with pytest.raises(IndexError, match="index -9223372036854775808 is out of range"):
        v[PMIN, 0]
