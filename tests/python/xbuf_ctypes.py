"""A small ctypes binding to libxbuf, for testing the C library from Python.

Until the extension module exists, the Python suite drives the C library
through this module.  It declares:

  * ``XbufView`` and ``XbufError`` with exactly the C layout of ``xbuf_view``
    and ``xbuf_error`` (include/xbuf/protocol.h, include/xbuf/base.h);
  * ``PyBuffer``, CPython's ``Py_buffer`` (Include/pybuffer.h), so tests can
    ask CPython itself for a buffer through ``ctypes.pythonapi``;
  * ``XbufType``, ``XbufField`` and ``XbufLeaf`` with exactly the C layout of
    ``xbuf_type``, ``xbuf_field`` and ``xbuf_leaf`` (include/xbuf/format.h),
    ``XBUF_LEAF_VISITOR`` for ``xbuf_type_walk``, and ``Format`` /
    ``parse_format`` / ``type_print`` / ``type_walk`` / ``type_field`` helpers
    around the layer-2 calls;
  * argtypes/restype for every libxbuf function the tests call;
  * small parsers for ``#define NAME value`` headers (protocol.h and
    CPython's pybuffer.h), used as the flag-value oracle.

The library is found through the environment variable ``XBUF_LIB`` when it is
set, else at ``build/src/libxbuf.so`` under the repository root.  When neither
exists, ``load()`` raises ``LibraryNotFound`` with a message saying how to
build it; conftest.py turns that into a test *failure*, never a skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import os
import re
import sysconfig
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int,
    c_size_t,
    c_ssize_t,
    c_void_p,
)
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIB = REPO_ROOT / "build" / "src" / "libxbuf.so"
PROTOCOL_H = REPO_ROOT / "include" / "xbuf" / "protocol.h"

# ptrdiff_t is the same width and signedness as ssize_t on every platform
# xbuf targets (LP64 and LLP64 alike); the assertion guards the assumption.
c_ptrdiff_t = c_ssize_t
assert ctypes.sizeof(c_ptrdiff_t) == ctypes.sizeof(c_void_p)

PTRDIFF_MAX = 2 ** (8 * ctypes.sizeof(c_ptrdiff_t) - 1) - 1
PTRDIFF_MIN = -PTRDIFF_MAX - 1

# ---- error codes (include/xbuf/base.h) --------------------------------

XBUF_OK = 0
XBUF_EINVAL = -1
XBUF_ENOMEM = -2
XBUF_EREQUEST = -3
XBUF_EEXPORTER = -4
XBUF_EBUSY = -5
XBUF_EFORMAT = -6
XBUF_EOVERFLOW = -7
XBUF_ERANGE = -8
XBUF_ERELEASED = -9
XBUF_EUNSUPPORTED = -10
XBUF_ETYPE = -11
XBUF_EREADONLY = -12

XBUF_ERROR_MESSAGE_SIZE = 256

# ---- structs ------------------------------------------------------------


class XbufError(Structure):
    """``xbuf_error``: int code; ptrdiff_t position; char message[256]."""

    _fields_ = [
        ("code", c_int),
        ("position", c_ptrdiff_t),
        ("message", c_char * XBUF_ERROR_MESSAGE_SIZE),
    ]

    def text(self) -> str:
        return self.message.decode("utf-8", "replace")


class XbufView(Structure):
    """``xbuf_view``, field for field (see protocol.h)."""


XBUF_RELEASE_FN = CFUNCTYPE(None, POINTER(XbufView))

XbufView._fields_ = [
    ("buf", c_void_p),
    ("obj", c_void_p),
    ("len", c_ptrdiff_t),
    ("itemsize", c_ptrdiff_t),
    ("readonly", c_int),
    ("ndim", c_int),
    ("format", c_char_p),
    ("shape", POINTER(c_ptrdiff_t)),
    ("strides", POINTER(c_ptrdiff_t)),
    ("suboffsets", POINTER(c_ptrdiff_t)),
    ("internal", c_void_p),
    ("release", XBUF_RELEASE_FN),
]


class PyBuffer(Structure):
    """CPython's ``Py_buffer`` (Include/pybuffer.h, unchanged since 3.3)."""

    _fields_ = [
        ("buf", c_void_p),
        ("obj", c_void_p),  # a borrowed PyObject*; never dereferenced here
        ("len", c_ssize_t),
        ("itemsize", c_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", c_char_p),
        ("shape", POINTER(c_ssize_t)),
        ("strides", POINTER(c_ssize_t)),
        ("suboffsets", POINTER(c_ssize_t)),
        ("internal", c_void_p),
    ]


def ptr_value(p) -> int | None:
    """The address held by a ctypes pointer, or None for NULL."""
    v = ctypes.cast(p, c_void_p).value
    return v


def read_array(p, n: int) -> list[int] | None:
    """n entries of a ctypes POINTER(c_ssize_t), or None when it is NULL."""
    if not p:
        return None
    return [p[i] for i in range(n)]


def ssize_array(values) -> ctypes.Array:
    values = list(values)
    return (c_ptrdiff_t * max(len(values), 1))(*values)


class ViewMeta:
    """An ``XbufView`` plus the ctypes arrays and bytes it points at.

    ``xbuf_view`` does not own its shape/strides/format; this object keeps
    them alive for as long as the view is used.
    """

    def __init__(self, *, buf: int, shape, strides, itemsize: int, readonly=False,
                 fmt: bytes | None = None, suboffsets=None, shape_null=False):
        shape = list(shape)
        self.shape_arr = ssize_array(shape)
        self.strides_arr = None if strides is None else ssize_array(strides)
        self.sub_arr = None if suboffsets is None else ssize_array(suboffsets)
        self.fmt = fmt
        n = 1
        for s in shape:
            n *= s
        v = XbufView()
        v.buf = buf
        v.obj = None
        v.len = n * itemsize
        v.itemsize = itemsize
        v.readonly = 1 if readonly else 0
        v.ndim = len(shape)
        v.format = fmt
        if not shape_null and shape:
            v.shape = ctypes.cast(self.shape_arr, POINTER(c_ptrdiff_t))
        if self.strides_arr is not None and shape:
            v.strides = ctypes.cast(self.strides_arr, POINTER(c_ptrdiff_t))
        if self.sub_arr is not None and shape:
            v.suboffsets = ctypes.cast(self.sub_arr, POINTER(c_ptrdiff_t))
        self.view = v

    @property
    def ref(self):
        return ctypes.byref(self.view)


def view_of_array(arr, *, use_strides=True, fmt: bytes | None = None,
                  null_format=False) -> ViewMeta:
    """An xbuf view of a NumPy array's memory, from its array interface.
    The format is `fmt`, else "<itemsize>s" (layer 1 never reads it), or
    NULL with null_format=True ("B" by the protocol)."""
    ai = arr.__array_interface__
    data, ro = ai["data"]
    if fmt is None and not null_format:
        fmt = b"%ds" % arr.itemsize
    return ViewMeta(
        buf=data,
        shape=arr.shape,
        strides=arr.strides if use_strides else None,
        itemsize=arr.itemsize,
        readonly=ro,
        fmt=fmt,
    )


# ---- layer 2: the format language (include/xbuf/format.h) ---------------

XBUF_FORMAT_MAX_DEPTH = 64

# enum xbuf_kind (an int-sized C enum).
XBUF_KIND_INT = 1
XBUF_KIND_UINT = 2
XBUF_KIND_BOOL = 3
XBUF_KIND_FLOAT = 4
XBUF_KIND_COMPLEX = 5
XBUF_KIND_CHAR = 6
XBUF_KIND_BYTES = 7
XBUF_KIND_PASCAL = 8
XBUF_KIND_UCS2 = 9
XBUF_KIND_UCS4 = 10
XBUF_KIND_BITS = 11
XBUF_KIND_OBJECT = 12
XBUF_KIND_VOIDP = 13
XBUF_KIND_POINTER = 14
XBUF_KIND_FUNCTION = 15
XBUF_KIND_VOID = 16
XBUF_KIND_STRUCT = 17
XBUF_KIND_ARRAY = 18

KIND_NAMES = {v: k[len("XBUF_KIND_"):] for k, v in dict(globals()).items()
              if k.startswith("XBUF_KIND_")}

# Leaf byte orders (xbuf_type.byteorder).
XBUF_LITTLE = b"<"
XBUF_BIG = b">"
XBUF_NO_ORDER = b"|"

c_xbuf_kind = c_int  # a C enum whose values all fit in int: int-sized


class XbufType(Structure):
    """``xbuf_type``, field for field (format.h).  Read-only; lives as long
    as the ``xbuf_format`` it came from."""


class XbufField(Structure):
    """``xbuf_field``: const char *name; ptrdiff_t offset;
    const xbuf_type *type; bool aligned."""

    _fields_ = [
        ("name", c_char_p),
        ("offset", c_ptrdiff_t),
        ("type", POINTER(XbufType)),
        ("aligned", c_bool),
    ]


XbufType._fields_ = [
    ("kind", c_xbuf_kind),
    ("code", c_char),
    ("byteorder", c_char),
    ("native_size", c_bool),
    ("braces", c_bool),
    ("itemsize", c_ptrdiff_t),
    ("alignment", c_ptrdiff_t),
    ("count", c_ptrdiff_t),
    ("bit_offset", c_int),
    ("nfields", c_ptrdiff_t),
    ("fields", POINTER(XbufField)),
    ("ndim", c_int),
    ("shape", POINTER(c_ptrdiff_t)),
    ("base", POINTER(XbufType)),
    ("target", POINTER(XbufType)),
]


class XbufLeaf(Structure):
    """``xbuf_leaf``: what xbuf_type_walk reports for one leaf."""

    _fields_ = [
        ("type", POINTER(XbufType)),
        ("offset", c_ptrdiff_t),
        ("path", c_char_p),
        ("depth", c_int),
    ]


XBUF_LEAF_VISITOR = CFUNCTYPE(c_int, POINTER(XbufLeaf), c_void_p)


# ---- layer 4: the view object (include/xbuf/mview.h) --------------------

XBUF_MAX_NDIM = 64

# An omitted start or stop of an xbuf_slice (#define XBUF_SLICE_NONE PTRDIFF_MIN).
XBUF_SLICE_NONE = PTRDIFF_MIN


class XbufSlice(Structure):
    """``xbuf_slice``: ptrdiff_t start, stop, step."""

    _fields_ = [
        ("start", c_ptrdiff_t),
        ("stop", c_ptrdiff_t),
        ("step", c_ptrdiff_t),
    ]

    @classmethod
    def of(cls, s: slice) -> "XbufSlice":
        """The xbuf_slice of a Python slice (None -> XBUF_SLICE_NONE; a None
        step is 1)."""
        return cls(XBUF_SLICE_NONE if s.start is None else s.start,
                   XBUF_SLICE_NONE if s.stop is None else s.stop,
                   1 if s.step is None else s.step)


class XbufIter(Structure):
    """``xbuf_iter``: const xbuf_view *view; ptrdiff_t index[XBUF_MAX_NDIM];
    ptrdiff_t remaining."""

    _fields_ = [
        ("view", POINTER(XbufView)),
        ("index", c_ptrdiff_t * XBUF_MAX_NDIM),
        ("remaining", c_ptrdiff_t),
    ]


def view_layout(v: XbufView) -> dict:
    """A plain-Python copy of a view's layout (for comparisons/messages)."""
    n = v.ndim
    return {
        "buf": v.buf or 0,
        "len": v.len,
        "itemsize": v.itemsize,
        "readonly": v.readonly,
        "ndim": n,
        "format": v.format,
        "shape": tuple(read_array(v.shape, n) or ()),
        "strides": tuple(read_array(v.strides, n) or ()),
        "suboffsets": read_array(v.suboffsets, n),
    }


def mview_layout(m) -> dict | None:
    """view_layout of xbuf_mview_view(m), or None when that is NULL."""
    p = load().xbuf_mview_view(m)
    return view_layout(p.contents) if p else None


def mview_items(m) -> list[int]:
    """Every item address of an mview, in C order, from xbuf_iter."""
    lib = load()
    it = XbufIter()
    rc = lib.xbuf_iter_init(ctypes.byref(it), m, None)
    if rc != XBUF_OK:
        raise RuntimeError(f"xbuf_iter_init -> {rc}")
    out = []
    item = c_void_p()
    while lib.xbuf_iter_next(ctypes.byref(it), ctypes.byref(item)):
        out.append(item.value or 0)
    return out


# ---- loading the library ------------------------------------------------


class LibraryNotFound(RuntimeError):
    pass


def library_path() -> Path:
    env = os.environ.get("XBUF_LIB")
    if env:
        p = Path(env)
        if not p.is_file():
            raise LibraryNotFound(
                f"XBUF_LIB is set to {env!r}, but no such file exists. Point XBUF_LIB at a "
                f"built libxbuf.so, or unset it to use {DEFAULT_LIB}.")
        return p
    if DEFAULT_LIB.is_file():
        return DEFAULT_LIB
    raise LibraryNotFound(
        f"libxbuf.so not found: XBUF_LIB is not set and {DEFAULT_LIB} does not exist. "
        f"Build it with `meson setup build && ninja -C build` in {REPO_ROOT}, or set "
        f"XBUF_LIB to the path of a built libxbuf.so.")


_P = POINTER(c_ptrdiff_t)
_V = POINTER(XbufView)
_E = POINTER(XbufError)
_T = POINTER(XbufType)

_SIGNATURES = {
    "xbuf_version": ([], c_char_p),
    "xbuf_strerror": ([c_int], c_char_p),
    "xbuf_error_clear": ([_E], None),
    "xbuf_flags_check": ([c_int, _E], c_int),
    "xbuf_view_check": ([_V, c_int, _E], c_int),
    "xbuf_release": ([_V], None),
    "xbuf_view_move": ([_V, _V], None),
    "xbuf_fill_info": ([_V, c_void_p, c_void_p, c_ptrdiff_t, c_int, c_int, _E], c_int),
    "xbuf_view_is_contiguous": ([_V, c_char], c_bool),
    "xbuf_is_contiguous": ([c_int, _P, _P, c_ptrdiff_t, c_char], c_bool),
    "xbuf_strides_fill": ([c_int, _P, c_ptrdiff_t, c_char, _P, _E], c_int),
    "xbuf_view_pointer": ([_V, _P, POINTER(c_void_p), _E], c_int),
    "xbuf_extent": ([c_int, _P, _P, c_ptrdiff_t, _P, _P, _E], c_int),
    "xbuf_view_extent": ([_V, _P, _P, _E], c_int),
    # layer 2 (format.h); an xbuf_format * is opaque: c_void_p
    "xbuf_format_parse": ([c_char_p, POINTER(c_void_p), _E], c_int),
    "xbuf_format_parse_n": ([c_char_p, c_size_t, POINTER(c_void_p), _E], c_int),
    "xbuf_format_retain": ([c_void_p], c_void_p),
    "xbuf_format_release": ([c_void_p], None),
    "xbuf_format_type": ([c_void_p], _T),
    "xbuf_format_size": ([c_char_p, _P, _P, _E], c_int),
    "xbuf_type_print": ([_T, POINTER(c_char), c_size_t, POINTER(c_size_t), _E], c_int),
    "xbuf_type_equal": ([_T, _T], c_bool),
    "xbuf_type_layout_compatible": ([_T, _T], c_bool),
    "xbuf_type_field": ([_T, c_char_p, POINTER(POINTER(XbufField)), _P, _E], c_int),
    "xbuf_type_walk": ([_T, XBUF_LEAF_VISITOR, c_void_p, _E], c_int),
    # consumer call of protocol.h; an xbuf_exporter * is c_void_p
    "xbuf_get": ([c_void_p, _V, c_int, _E], c_int),
    # layer 4 (mview.h); an xbuf_mview * is opaque: c_void_p
    "xbuf_mview_from_exporter": ([c_void_p, c_int, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_from_view": ([_V, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_retain": ([c_void_p], c_void_p),
    "xbuf_mview_unref": ([c_void_p], None),
    "xbuf_mview_release": ([c_void_p, _E], c_int),
    "xbuf_mview_is_released": ([c_void_p], c_bool),
    "xbuf_mview_view": ([c_void_p], _V),
    "xbuf_slice_resolve": ([POINTER(XbufSlice), c_ptrdiff_t, _P, _P, _P, _E], c_int),
    "xbuf_mview_slice": ([c_void_p, POINTER(XbufSlice), c_int, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_index": ([c_void_p, c_int, c_ptrdiff_t, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_pointer": ([c_void_p, _P, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_permute": ([c_void_p, POINTER(c_int), POINTER(c_void_p), _E], c_int),
    "xbuf_mview_transpose": ([c_void_p, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_field": ([c_void_p, c_char_p, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_cast": ([c_void_p, c_char_p, c_int, _P, POINTER(c_void_p), _E], c_int),
    "xbuf_mview_exporter": ([c_void_p], c_void_p),
    "xbuf_mview_exports": ([c_void_p], c_ptrdiff_t),
    "xbuf_iter_init": ([POINTER(XbufIter), c_void_p, _E], c_int),
    "xbuf_iter_next": ([POINTER(XbufIter), POINTER(c_void_p)], c_bool),
}

_lib = None


def load() -> ctypes.CDLL:
    """The loaded library with its signatures declared (cached)."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(str(library_path()))
        for name, (argtypes, restype) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes = argtypes
            fn.restype = restype
        _lib = lib
    return _lib


# ---- layer 2 helpers ---------------------------------------------------------


def _as_bytes(text) -> bytes:
    # surrogateescape: text from type_print (decoded that way) maps back to
    # the exact bytes the library printed, names in any encoding included.
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)


class FormatError(ValueError):
    """xbuf_format_parse failed: .code, .position, .message, .text."""

    def __init__(self, text: bytes, code: int, position: int, message: str):
        super().__init__(f"xbuf_format_parse({text!r}) -> {code} at {position}: {message}")
        self.text = text
        self.code = code
        self.position = position
        self.message = message


class Format:
    """A parsed ``xbuf_format``, holding one reference until close() (or
    garbage collection).  ``.root`` is the POINTER(XbufType) of its root
    node; every node reached from it lives as long as this object."""

    def __init__(self, handle: int, text: bytes):
        self.handle = handle
        self.text = text
        self.root = load().xbuf_format_type(handle)

    @property
    def type(self) -> XbufType:
        return self.root.contents

    @property
    def itemsize(self) -> int:
        return self.root.contents.itemsize

    def close(self) -> None:
        if self.handle:
            load().xbuf_format_release(self.handle)
            self.handle = None
            self.root = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


def format_parse(text, *, n: bool = False):
    """xbuf_format_parse (or xbuf_format_parse_n with n=True) of `text`
    (str or bytes).  Returns (rc, Format or None, XbufError)."""
    lib = load()
    data = _as_bytes(text)
    err = XbufError()
    lib.xbuf_error_clear(ctypes.byref(err))
    out = c_void_p(0xDEAD)  # must come back NULL on failure
    if n:
        rc = lib.xbuf_format_parse_n(data, len(data), ctypes.byref(out), ctypes.byref(err))
    else:
        rc = lib.xbuf_format_parse(data, ctypes.byref(out), ctypes.byref(err))
    if rc != XBUF_OK:
        return rc, out.value, err
    return rc, Format(out.value, data), err


def parse_format(text) -> Format:
    """The parsed format, or FormatError."""
    rc, fmt, err = format_parse(text)
    if rc != XBUF_OK:
        raise FormatError(_as_bytes(text), rc, err.position, err.text())
    return fmt


def format_size(text) -> tuple[int, int, int]:
    """xbuf_format_size: (rc, itemsize, alignment)."""
    size = c_ptrdiff_t(-1)
    align = c_ptrdiff_t(-1)
    rc = load().xbuf_format_size(_as_bytes(text), ctypes.byref(size), ctypes.byref(align), None)
    return rc, size.value, align.value


def _type_ptr(t):
    if isinstance(t, Format):
        return t.root
    if isinstance(t, XbufType):
        return ctypes.pointer(t)
    return t


def type_print(t) -> str:
    """The canonical text of a type (Format, XbufType or POINTER(XbufType)).
    Asks for the length first, then prints into a buffer of exactly that
    size plus the NUL.  Raises FormatError when the printer refuses."""
    lib = load()
    p = _type_ptr(t)
    err = XbufError()
    length = c_size_t(0)
    rc = lib.xbuf_type_print(p, None, 0, ctypes.byref(length), ctypes.byref(err))
    if rc not in (XBUF_OK, XBUF_ERANGE):
        raise FormatError(b"<print>", rc, err.position, err.text())
    buf = ctypes.create_string_buffer(length.value + 1)
    again = c_size_t(0)
    rc = lib.xbuf_type_print(p, buf, len(buf), ctypes.byref(again), ctypes.byref(err))
    if rc != XBUF_OK:
        raise FormatError(b"<print>", rc, err.position, err.text())
    assert again.value == length.value == len(buf.value), (again.value, length.value, buf.value)
    return buf.value.decode("utf-8", "surrogateescape")


def type_equal(a, b) -> bool:
    return bool(load().xbuf_type_equal(_type_ptr(a), _type_ptr(b)))


def type_layout_compatible(a, b) -> bool:
    return bool(load().xbuf_type_layout_compatible(_type_ptr(a), _type_ptr(b)))


def type_field(t, path):
    """xbuf_type_field: (rc, XbufField or None, offset, XbufError)."""
    lib = load()
    err = XbufError()
    lib.xbuf_error_clear(ctypes.byref(err))
    field = POINTER(XbufField)()
    offset = c_ptrdiff_t(-1)
    rc = lib.xbuf_type_field(_type_ptr(t), _as_bytes(path), ctypes.byref(field),
                             ctypes.byref(offset), ctypes.byref(err))
    if rc != XBUF_OK:
        return rc, None, None, err
    return rc, field.contents, offset.value, err


class WalkedLeaf:
    """A copy of one xbuf_leaf (the path is only valid during the callback)."""

    __slots__ = ("path", "offset", "depth", "kind", "code", "byteorder", "itemsize", "count",
                 "bit_offset")

    def __init__(self, leaf: XbufLeaf):
        t = leaf.type.contents
        self.path = leaf.path.decode("utf-8", "surrogateescape")
        self.offset = leaf.offset
        self.depth = leaf.depth
        self.kind = t.kind
        self.code = t.code
        self.byteorder = t.byteorder
        self.itemsize = t.itemsize
        self.count = t.count
        self.bit_offset = t.bit_offset

    def __repr__(self):
        return (f"WalkedLeaf({self.path!r}@{self.offset} {KIND_NAMES.get(self.kind)} "
                f"{self.code!r}{self.byteorder!r} size={self.itemsize} count={self.count})")


def type_walk(t, stop_after: int | None = None):
    """xbuf_type_walk: (rc, [WalkedLeaf, ...]).  With stop_after=k the
    visitor returns 7 after the k-th leaf (so rc should then be 7)."""
    lib = load()
    leaves: list[WalkedLeaf] = []

    def visit(leaf_p, _context):
        leaves.append(WalkedLeaf(leaf_p.contents))
        return 7 if stop_after is not None and len(leaves) >= stop_after else 0

    callback = XBUF_LEAF_VISITOR(visit)
    err = XbufError()
    rc = lib.xbuf_type_walk(_type_ptr(t), callback, None, ctypes.byref(err))
    return rc, leaves


def type_fields(t) -> list[XbufField]:
    """The fields of a STRUCT or FUNCTION node, as a list."""
    t = _type_ptr(t).contents
    return [t.fields[i] for i in range(t.nfields)]


def type_shape(t) -> tuple[int, ...]:
    t = _type_ptr(t).contents
    return tuple(t.shape[i] for i in range(t.ndim))


def type_tree(t):
    """A plain-Python description of a type tree, for messages and for
    comparisons: nested tuples / dicts of the public fields."""
    p = _type_ptr(t)
    if not p:
        return None
    n = p.contents
    d = {"kind": KIND_NAMES.get(n.kind, n.kind), "code": n.code, "order": n.byteorder,
         "itemsize": n.itemsize, "alignment": n.alignment}
    if n.count != 1:
        d["count"] = n.count
    if n.kind == XBUF_KIND_BITS:
        d["bit_offset"] = n.bit_offset
    if n.kind in (XBUF_KIND_STRUCT, XBUF_KIND_FUNCTION):
        d["braces"] = n.braces
        d["fields"] = [(f.name and f.name.decode("utf-8", "surrogateescape"), f.offset,
                        f.aligned, type_tree(f.type)) for f in type_fields(p)]
    if n.kind == XBUF_KIND_ARRAY:
        d["shape"] = type_shape(p)
        d["base"] = type_tree(n.base)
    if n.kind in (XBUF_KIND_POINTER, XBUF_KIND_FUNCTION) and n.target:
        d["target"] = type_tree(n.target)
    return d


# ---- CPython's own buffer functions, through ctypes.pythonapi -----------

_py = ctypes.pythonapi
_py.PyObject_GetBuffer.argtypes = [ctypes.py_object, POINTER(PyBuffer), c_int]
_py.PyObject_GetBuffer.restype = c_int
_py.PyBuffer_Release.argtypes = [POINTER(PyBuffer)]
_py.PyBuffer_Release.restype = None
_py.PyBuffer_IsContiguous.argtypes = [POINTER(PyBuffer), c_char]
_py.PyBuffer_IsContiguous.restype = c_int
_py.PyBuffer_GetPointer.argtypes = [POINTER(PyBuffer), POINTER(c_ssize_t)]
_py.PyBuffer_GetPointer.restype = c_void_p
_py.PyBuffer_FillContiguousStrides.argtypes = [c_int, POINTER(c_ssize_t), POINTER(c_ssize_t),
                                               c_int, c_char]
_py.PyBuffer_FillContiguousStrides.restype = None
pythonapi = _py


@contextlib.contextmanager
def cpython_buffer(obj, flags: int):
    """Ask CPython itself for a buffer: PyObject_GetBuffer(obj, &view, flags)
    into a ctypes Py_buffer, released with PyBuffer_Release on exit.  A
    refusal raises what the exporter raised (ctypes.pythonapi checks the
    error indicator), e.g. BufferError for a writable request on bytes."""
    pb = PyBuffer()
    _py.PyObject_GetBuffer(obj, ctypes.byref(pb), flags)
    try:
        yield pb
    finally:
        _py.PyBuffer_Release(ctypes.byref(pb))


def meta_from_pybuffer(pb: PyBuffer) -> ViewMeta:
    """An xbuf view with a copy of a Py_buffer's metadata (same buf)."""
    n = pb.ndim
    shape = read_array(pb.shape, n)
    if shape is None:  # only for ndim <= 1: len / itemsize items
        shape = [pb.len // pb.itemsize] * n
    return ViewMeta(buf=pb.buf or 0, shape=shape, strides=read_array(pb.strides, n),
                    itemsize=pb.itemsize, readonly=bool(pb.readonly), fmt=pb.format,
                    suboffsets=read_array(pb.suboffsets, n))


def py_fill_contiguous_strides(shape, itemsize: int, order: str) -> list[int]:
    """CPython's PyBuffer_FillContiguousStrides for `shape`."""
    shape_arr = ssize_array(shape)
    out = (c_ssize_t * max(len(shape), 1))()
    _py.PyBuffer_FillContiguousStrides(len(shape), shape_arr, out, itemsize, order.encode())
    return list(out[: len(shape)])


def py_buffer_from_meta(meta: ViewMeta) -> PyBuffer:
    """A Py_buffer carrying the same metadata as an xbuf view (it points at
    the ViewMeta's arrays, so keep `meta` alive while it is used)."""
    v = meta.view
    pb = PyBuffer()
    pb.buf = v.buf
    pb.obj = None
    pb.len = v.len
    pb.itemsize = v.itemsize
    pb.readonly = v.readonly
    pb.ndim = v.ndim
    pb.format = v.format
    pb.shape = ctypes.cast(v.shape, POINTER(c_ssize_t))
    pb.strides = ctypes.cast(v.strides, POINTER(c_ssize_t))
    pb.suboffsets = ctypes.cast(v.suboffsets, POINTER(c_ssize_t))
    return pb


# ---- #define parsing ----------------------------------------------------

_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)(?!\()\s+(.*?)\s*$")
_EXPR_OK = re.compile(r"^[\sA-Za-z_0-9|()]*$")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_defines(path: os.PathLike | str, prefix: str) -> dict[str, int]:
    """Evaluate every object-like ``#define <prefix>NAME expr`` in a header
    whose expression is built from integer literals, ``|``, parentheses and
    other such names.  Returns {NAME-without-prefix: value}."""
    text = _strip_comments(Path(path).read_text())
    raw: dict[str, str] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line)
        if m and m.group(1).startswith(prefix) and _EXPR_OK.match(m.group(2)):
            raw[m.group(1)] = m.group(2)
    values: dict[str, int] = {}

    def evaluate(name: str, depth: int = 0) -> int:
        if name in values:
            return values[name]
        if depth > 32:
            raise ValueError(f"recursive #define {name}")
        expr = raw[name]

        def sub(m):
            tok = m.group(0)
            if tok in raw:
                return str(evaluate(tok, depth + 1))
            return tok

        expr = re.sub(r"[A-Za-z_]\w*", sub, expr)
        if not re.fullmatch(r"[\s0-9a-fA-FxX|()]*", expr):
            raise ValueError(f"cannot evaluate #define {name} {raw[name]}")
        values[name] = int(eval(expr, {"__builtins__": {}}))  # digits, |, () only
        return values[name]

    for name in list(raw):
        try:
            evaluate(name)
        except (KeyError, ValueError, SyntaxError):
            pass
    return {k[len(prefix):]: v for k, v in values.items()}


def python_pybuffer_h() -> Path:
    return Path(sysconfig.get_paths()["include"]) / "pybuffer.h"


# ---- the CPython oracle for request flags ----------------------------------

# The request flags and constants whose values must equal CPython's.
FLAG_NAMES = [
    "SIMPLE", "WRITABLE", "FORMAT", "ND", "STRIDES", "C_CONTIGUOUS", "F_CONTIGUOUS",
    "ANY_CONTIGUOUS", "INDIRECT", "CONTIG", "CONTIG_RO", "STRIDED", "STRIDED_RO",
    "RECORDS", "RECORDS_RO", "FULL", "FULL_RO",
]
CONSTANT_NAMES = FLAG_NAMES + ["MAX_NDIM"]

# The flags that each add one bit of their own to the flags they imply.
PRIMITIVE_FLAGS = ["WRITABLE", "FORMAT", "ND", "STRIDES", "C_CONTIGUOUS", "F_CONTIGUOUS",
                   "ANY_CONTIGUOUS", "INDIRECT"]


def cpython_header_constants():
    """{NAME: value} from CPython's installed Include/pybuffer.h, or None."""
    path = python_pybuffer_h()
    if not path.is_file():
        return None
    return parse_defines(path, "PyBUF_")


def cpython_bufferflags():
    """{NAME: value} from inspect.BufferFlags (Python 3.12+), or None."""
    flags = getattr(inspect, "BufferFlags", None)
    if flags is None:
        return None
    return {m.name: int(m.value) for m in flags}


def cpython_constants():
    """CPython's PyBUF_* values by name without the prefix: inspect.BufferFlags
    where it exists (3.12+), completed by the installed pybuffer.h (which is
    the only source on 3.11, and the only one for MAX_NDIM).  None when
    neither is available."""
    header = cpython_header_constants()
    runtime = cpython_bufferflags()
    if header is None and runtime is None:
        return None
    merged = dict(header or {})
    merged.update(runtime or {})
    return merged


def request_is_valid(flags: int, constants: dict) -> bool:
    """Whether `flags` is a well-formed request, by CPython's flag values:
    only bits some PyBUF_ request flag uses, and each flag's own bit only
    together with everything that flag stands for (e.g. the C_CONTIGUOUS bit
    only with STRIDES, hence ND)."""
    all_bits = 0
    for name in FLAG_NAMES:
        all_bits |= constants[name]
    if flags & ~all_bits:
        return False
    for name in PRIMITIVE_FLAGS:
        value = constants[name]
        own_bit = 1 << (value.bit_length() - 1)
        if flags & own_bit and flags & value != value:
            return False
    return True


def valid_requests(constants: dict) -> list[int]:
    """Every well-formed request: all subsets of the request bits that
    request_is_valid accepts."""
    bits = [1 << (constants[n].bit_length() - 1) for n in PRIMITIVE_FLAGS]
    out = []
    for mask in range(1 << len(bits)):
        flags = 0
        for i, b in enumerate(bits):
            if mask >> i & 1:
                flags |= b
        if request_is_valid(flags, constants):
            out.append(flags)
    return sorted(out)


__all__ = [name for name in dir() if not name.startswith("_")]
