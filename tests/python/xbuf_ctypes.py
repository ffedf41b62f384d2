"""A small ctypes binding to libxbuf, for testing the C library from Python.

Until the extension module exists, the Python suite drives the C library
through this module.  It declares:

  * ``XbufView`` and ``XbufError`` with exactly the C layout of ``xbuf_view``
    and ``xbuf_error`` (include/xbuf/protocol.h, include/xbuf/base.h);
  * ``PyBuffer``, CPython's ``Py_buffer`` (Include/pybuffer.h), so tests can
    ask CPython itself for a buffer through ``ctypes.pythonapi``;
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
