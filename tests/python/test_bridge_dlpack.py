"""DLPack against the real consumers and producers (issue #7): NumPy and PyTorch.

Both directions, on random arrays (hypothesis):
  * View -> numpy.from_dlpack / torch.from_dlpack: the same address (zero
    copies), shape, strides where the extent is > 1, values, read-only;
  * numpy arrays / torch tensors -> xbuf.from_dlpack: the same;
  * capsules: "dltensor" / "dltensor_versioned" by max_version, renamed
    "used_..." by the consumer, an unconsumed capsule gives its export back;
  * lifetimes: a View cannot be released while a consumer holds its memory
    (BufferError), and can after the consumer is gone; an imported tensor's
    deleter runs exactly once, when the last view derived from it lets go.
    Exact counts come from a DLPack producer and consumer written here with
    ctypes (the structs are DLPack 1.x's, declared below);
  * what DLPack cannot express (foreign byte order, PIL-style, strides that
    are not a multiple of the itemsize, unaligned items, read-only legacy
    tensors) is refused with copy=False and copied with copy=None/True;
    what no copy can fix (records, strings, long double...) is refused.

Behaviours documented here (asserted, not bugs of xbuf):
  * PyTorch ignores DLPack's READ_ONLY flag: torch.from_dlpack(readonly
    view) gives a writable tensor on the same memory (torch has no
    read-only tensors).
  * PyTorch aborts the process on negative strides (docs/dlpack.md), so it
    only ever sees them here through copy=True.
  * NumPy scalars (numpy.float64(1)) have no __dlpack__; 0-d arrays do.
"""

import ctypes
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xbuf

V = xbuf.View
LITTLE = sys.byteorder == "little"
NATIVE = "<" if LITTLE else ">"

SOME = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])

# ---- DLPack's ABI, for a producer and a consumer written in Python -----------------

DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                ("deleter", DELETER), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]


READ_ONLY, IS_COPIED = 1, 2
KDL_CPU, KDL_CUDA = 1, 2
KDL_INT, KDL_UINT, KDL_FLOAT, KDL_BFLOAT, KDL_COMPLEX, KDL_BOOL = 0, 1, 2, 4, 5, 6

# Capsule names live as long as the module: a renamed capsule keeps our pointer.
VERSIONED, LEGACY = b"dltensor_versioned", b"dltensor"
USED_VERSIONED, USED_LEGACY = b"used_dltensor_versioned", b"used_dltensor"

_api = ctypes.pythonapi
capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", _api))
_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _api))
_set_name = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_SetName", _api))
_new_capsule = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.c_void_p)(("PyCapsule_New", _api))


def address(obj):
    """Where item 0 lies: View, ndarray or anything with __array_interface__."""
    return obj.__array_interface__["data"][0]


def used_strides(shape, strides):
    return tuple(s if n > 1 else None for n, s in zip(shape, strides))


def dl_code(dt):
    return {"i": KDL_INT, "u": KDL_UINT, "f": KDL_FLOAT, "c": KDL_COMPLEX, "b": KDL_BOOL}[dt.kind]


def imported_format(dt):
    """The format xbuf gives an imported tensor of NumPy dtype `dt` (docs/dlpack.md)."""
    if dt.itemsize == 1:
        return {"i": "b", "u": "B", "b": "?"}[dt.kind]
    code = {"i": "hiqq", "u": "HIQQ"}
    if dt.kind in code:
        return NATIVE + code[dt.kind][{2: 0, 4: 1, 8: 2}[dt.itemsize]]
    return NATIVE + {"f2": "e", "f4": "f", "f8": "d", "c8": "Zf", "c16": "Zd"}[
        dt.kind + str(dt.itemsize)]


# -- a producer: tensors over NumPy memory, counting its deleter's calls --

_LIVE = {}          # tensor address -> (producer, ctypes objects kept alive)
_DOUBLE_DELETES = []


def _on_delete(tensor):
    entry = _LIVE.pop(tensor, None)
    if entry is None:
        _DOUBLE_DELETES.append(tensor)
    else:
        entry[0].deleted += 1


_DELETER = DELETER(_on_delete)


class Producer:
    """A DLPack producer written with ctypes.  Every field can be set, to
    make tensors NumPy and PyTorch never make; `deleted` counts the calls
    of the deleter, and `reclaim()` is what an unconsumed capsule's
    destructor does (it calls the deleter of a capsule nobody took)."""

    def __init__(self, arr, *, versioned=True, flags=0, device=(KDL_CPU, 0), dtype=None,
                 strides="numpy", byte_offset=0, version=(1, 1), keywords=True,
                 honour_copy=False):
        self.arr = arr
        self.versioned, self.flags, self.device, self.version = versioned, flags, device, version
        self.dtype = dtype or (dl_code(arr.dtype), arr.itemsize * 8, 1)
        self.strides, self.byte_offset = strides, byte_offset
        self.keywords, self.honour_copy = keywords, honour_copy
        self.deleted = 0
        self.requests = []
        self.capsules = []
        self.copies = []

    def __dlpack__(self, **kwargs):
        self.requests.append(kwargs)
        if kwargs and not self.keywords:
            raise TypeError("__dlpack__() takes no keyword arguments")  # an old producer
        arr, flags = self.arr, self.flags
        if self.honour_copy and kwargs.get("copy") is True:
            arr = np.array(arr, copy=True)
            self.copies.append(arr)
            flags |= IS_COPIED
        return self._capsule(arr, flags)

    def _capsule(self, arr, flags):
        ndim = arr.ndim
        shape = (ctypes.c_int64 * max(ndim, 1))(*arr.shape)
        strides = None
        if self.strides == "numpy":
            strides = (ctypes.c_int64 * max(ndim, 1))(*[s // arr.itemsize for s in arr.strides])
        tensor = DLTensor(data=address(arr) - self.byte_offset,
                          device=DLDevice(*self.device), ndim=ndim,
                          dtype=DLDataType(*self.dtype), shape=shape,
                          strides=strides, byte_offset=self.byte_offset)
        if self.versioned:
            managed = DLManagedTensorVersioned(version=DLPackVersion(*self.version),
                                               deleter=_DELETER, flags=flags, dl_tensor=tensor)
        else:
            managed = DLManagedTensor(dl_tensor=tensor, deleter=_DELETER)
        at = ctypes.addressof(managed)
        _LIVE[at] = (self, managed, shape, strides, arr)
        capsule = _new_capsule(at, VERSIONED if self.versioned else LEGACY, None)
        self.capsules.append(capsule)
        return capsule

    def reclaim(self):
        for capsule in self.capsules:
            name = capsule_name(capsule)
            if name in (VERSIONED, LEGACY):
                managed = (DLManagedTensorVersioned if name == VERSIONED else DLManagedTensor)
                at = _get_pointer(capsule, name)
                managed.from_address(at).deleter(at)
        self.capsules.clear()


class Hold:
    """An object whose __dlpack__ hands out a capsule made beforehand."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule


@pytest.fixture(autouse=True)
def no_double_deletes():
    yield
    assert not _DOUBLE_DELETES, "a DLPack deleter ran twice"


# -- a consumer: reads the tensor a View exports, and calls its deleter --

def take(capsule):
    """Consume a capsule as a DLPack consumer does: the struct, renamed
    "used_...".  Returns (struct, address); the caller calls the deleter."""
    name = capsule_name(capsule)
    at = _get_pointer(capsule, name)
    assert _set_name(capsule, USED_VERSIONED if name == VERSIONED else USED_LEGACY) == 0
    kind = DLManagedTensorVersioned if name == VERSIONED else DLManagedTensor
    return kind.from_address(at), at


def tensor_layout(t):
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = tuple(t.strides[i] for i in range(t.ndim)) if t.strides else None
    return shape, strides


def is_held(view):
    """Whether a consumer holds the view's memory: release() says so."""
    try:
        view.release()
    except BufferError:
        return True
    return False


# ---- random arrays -------------------------------------------------------------------

DTYPES = ["i1", "u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8",
          "<c8", "<c16", "?"]
if not LITTLE:
    DTYPES = [d.replace("<", ">") for d in DTYPES]
TORCH_DTYPES = [d for d in DTYPES if not d.endswith(("u2", "u4", "u8"))]


def fill(arr, rng):
    dt = arr.dtype
    if dt.kind == "b":
        values = rng.integers(0, 2, arr.shape).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        values = rng.integers(info.min, info.max, arr.shape, endpoint=True,
                              dtype=dt.newbyteorder("="))
    elif dt.kind == "c":
        values = rng.standard_normal(arr.shape) + 1j * rng.standard_normal(arr.shape)
    else:
        values = rng.standard_normal(arr.shape) * 100
    arr[...] = np.asarray(values).astype(dt)


@st.composite
def arrays(draw, dtypes=DTYPES, max_ndim=4, negative=True, writable=None):
    """Random strided arrays: steps of either sign, transposes, 0-d to 4-d."""
    dt = np.dtype(draw(st.sampled_from(dtypes)))
    ndim = draw(st.integers(0, max_ndim))
    shape = draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim))
    steps = [draw(st.sampled_from([1, 1, 2, 3, -1, -2] if negative else [1, 1, 2, 3]))
             for _ in shape]
    base = np.zeros([max(1, n * abs(s)) for n, s in zip(shape, steps)], dt)
    fill(base, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    key = tuple(slice(None, n * s, s) if s > 0 else slice(None, None, s)
                for n, s in zip(shape, steps))
    arr = base[key][tuple(slice(0, n) for n in shape)] if ndim else base
    if ndim > 1 and draw(st.booleans()):
        arr = arr.transpose(draw(st.permutations(range(ndim))))
    if writable is None:
        writable = draw(st.booleans())
    arr.flags.writeable = writable
    return arr


def assert_same_memory(result_address, result_shape, result_strides, arr, what):
    assert tuple(result_shape) == arr.shape, what
    if arr.size:
        assert result_address == address(arr), f"{what}: a copy was made"
        assert used_strides(arr.shape, result_strides) == used_strides(arr.shape, arr.strides), \
            (what, result_strides, arr.strides)


# ---- View -> NumPy -----------------------------------------------------------------------

@SOME
@given(arrays())
def test_numpy_from_dlpack_of_views(arr):
    v = V(arr)
    n = np.from_dlpack(v)
    assert_same_memory(address(n), n.shape, n.strides, arr, "numpy.from_dlpack(View)")
    assert n.dtype == arr.dtype
    np.testing.assert_array_equal(n, arr)
    assert n.flags.writeable == (not v.readonly)
    assert is_held(v)  # n holds an export of v
    del n
    assert not is_held(v)


def test_numpy_writes_through_the_shared_memory():
    arr = np.zeros((3, 4), "<i4")
    n = np.from_dlpack(V(arr)[::2, ::-1])
    n[...] = 7
    assert arr.tolist() == [[7] * 4, [0] * 4, [7] * 4]


@pytest.mark.parametrize("copy", [None, False, True])
def test_numpy_readonly_views(copy):
    arr = np.arange(6.0).reshape(2, 3)
    arr.flags.writeable = False
    n = np.from_dlpack(V(arr).T, copy=copy)
    np.testing.assert_array_equal(n, arr.T)
    if copy:
        assert address(n) != address(arr) and n.flags.writeable  # the copy is the consumer's
    else:
        assert address(n) == address(arr) and not n.flags.writeable


def test_numpy_from_dlpack_copy_true_is_independent():
    arr = np.arange(12, dtype="<i8").reshape(3, 4)
    v = V(arr)[:, 1::2]
    n = np.from_dlpack(v, copy=True)
    assert address(n) != address(v) and n.flags.c_contiguous
    assert n.tolist() == arr[:, 1::2].tolist()
    v.release()  # a copy holds no export
    arr[...] = 0
    assert n.tolist() == [[1, 3], [5, 7], [9, 11]]


# ---- View -> PyTorch ---------------------------------------------------------------------

def torch_dtype(dt):
    return torch.from_numpy(np.zeros(1, dt)).dtype


@SOME
@given(arrays(dtypes=TORCH_DTYPES, negative=False, writable=True))
def test_torch_from_dlpack_of_views(arr):
    v = V(arr)
    t = torch.from_dlpack(v)
    assert t.dtype == torch_dtype(arr.dtype)
    assert_same_memory(t.data_ptr(), t.shape, [s * arr.itemsize for s in t.stride()], arr,
                       "torch.from_dlpack(View)")
    assert t.tolist() == arr.tolist()
    assert is_held(v)
    del t
    assert not is_held(v)


def test_torch_writes_through_the_shared_memory():
    arr = np.zeros((2, 3), "<f4")
    t = torch.from_dlpack(V(arr).T)
    t[1] = 5.0
    assert arr.tolist() == [[0, 5, 0], [0, 5, 0]]


def test_torch_ignores_read_only():
    """xbuf flags a read-only view READ_ONLY; PyTorch, which has no read-only
    tensors, still shares the memory (a documented PyTorch behaviour)."""
    arr = np.arange(4.0)
    arr.flags.writeable = False
    v = V(arr)
    managed, at = take(v.__dlpack__(max_version=(1, 0)))
    assert managed.flags & READ_ONLY
    managed.deleter(at)
    t = torch.from_dlpack(v)
    assert t.data_ptr() == address(arr)


@pytest.mark.parametrize("flip", [(slice(None, None, -1),), (slice(None), slice(None, None, -2))])
def test_torch_gets_negative_strides_only_as_a_copy(flip):
    """torch.from_dlpack aborts on negative strides: copy=True is the way."""
    arr = np.arange(20, dtype="<i4").reshape(4, 5)
    v = V(arr)[flip]
    assert any(s < 0 for s in v.strides)
    t = torch.from_dlpack(v, copy=True)
    assert t.tolist() == arr[flip].tolist()
    assert t.data_ptr() != address(v) and t.is_contiguous()
    v.release()  # the copy holds no export
    t2 = torch.from_dlpack(V(arr)[flip].__dlpack__(max_version=(1, 0), copy=True))
    assert t2.tolist() == arr[flip].tolist()


def test_torch_consumes_capsules():
    v = V(np.arange(6, dtype="<i8").reshape(2, 3))
    for max_version, used in [((1, 0), USED_VERSIONED), (None, USED_LEGACY)]:
        capsule = v.__dlpack__(max_version=max_version)
        t = torch.from_dlpack(capsule)
        assert capsule_name(capsule) == used
        assert t.data_ptr() == address(v)
        del t, capsule
    assert not is_held(v)


# ---- NumPy -> View -------------------------------------------------------------------------

@SOME
@given(arrays())
def test_from_dlpack_of_numpy_arrays(arr):
    before = sys.getrefcount(arr)
    w = xbuf.from_dlpack(arr)
    assert w.format == imported_format(arr.dtype) and w.itemsize == arr.itemsize
    assert_same_memory(address(w), w.shape, w.strides, arr, "xbuf.from_dlpack(ndarray)")
    assert w.tolist() == arr.tolist()
    assert w.readonly == (not arr.flags.writeable)
    assert sys.getrefcount(arr) == before + 2  # w.obj, and NumPy's tensor
    w.release()
    assert sys.getrefcount(arr) == before + 1  # the deleter ran, once
    del w
    assert sys.getrefcount(arr) == before


def test_from_dlpack_of_numpy_keeps_the_array_until_the_last_derived_view():
    arr = np.arange(24.0).reshape(2, 3, 4)
    before = sys.getrefcount(arr)
    w = xbuf.from_dlpack(Hold(arr.__dlpack__(max_version=(1, 0))))  # w.obj is the holder
    assert sys.getrefcount(arr) == before + 1
    derived = [w[1], w.T, w[:, ::2, 1:], w[0].T[::-1]]
    del w
    assert sys.getrefcount(arr) == before + 1
    derived[1].release()
    del derived[1:]
    assert sys.getrefcount(arr) == before + 1
    assert derived[0].tolist() == arr[1].tolist()
    derived.clear()
    assert sys.getrefcount(arr) == before


def test_from_dlpack_of_numpy_writes_through():
    arr = np.zeros((3, 3), "<i2")
    w = xbuf.from_dlpack(arr[::-1, 1:])
    w[0, 0] = 9
    assert arr[2, 1] == 9


@pytest.mark.parametrize("copy", [None, False, True])
def test_from_dlpack_of_numpy_copy(copy):
    arr = np.arange(6, dtype="<i4").reshape(2, 3)[:, ::2]
    arr.flags.writeable = False
    w = xbuf.from_dlpack(arr, copy=copy)
    assert w.tolist() == arr.tolist()
    if copy:
        assert address(w) != address(arr) and not w.readonly
    else:
        assert address(w) == address(arr) and w.readonly


def test_from_dlpack_refuses_what_numpy_refuses_to_export():
    with pytest.raises(BufferError):  # NumPy: non-native byte order
        xbuf.from_dlpack(np.arange(3, dtype=">i4" if LITTLE else "<i4"))


# ---- PyTorch -> View -----------------------------------------------------------------------

@st.composite
def tensors(draw):
    """torch.randn / from_numpy tensors, permuted and sliced with positive steps."""
    if draw(st.booleans()):
        arr = draw(arrays(dtypes=TORCH_DTYPES, negative=False, writable=True))
        return torch.from_numpy(arr)
    ndim = draw(st.integers(1, 4))
    shape = draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.complex64]))
    t = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(
        draw(st.integers(0, 2**31))))
    t = t.permute(*draw(st.permutations(range(ndim))))
    key = tuple(slice(draw(st.integers(0, 1)), None, draw(st.integers(1, 2))) for _ in shape)
    return t[key]


@SOME
@given(tensors())
def test_from_dlpack_of_torch_tensors(t):
    before = sys.getrefcount(t)
    w = xbuf.from_dlpack(t)
    itemsize = t.element_size()
    assert w.itemsize == itemsize
    assert tuple(w.shape) == tuple(t.shape)
    if t.numel():
        assert address(w) == t.data_ptr()
        assert used_strides(w.shape, w.strides) == used_strides(
            t.shape, [s * itemsize for s in t.stride()])
    assert w.tolist() == t.tolist()
    assert not w.readonly
    w.release()
    assert sys.getrefcount(t) == before + 1  # only w.obj: the deleter ran
    del w
    assert sys.getrefcount(t) == before


def test_from_dlpack_of_torch_shares_memory_both_ways():
    t = torch.zeros(4, 5, dtype=torch.int32)
    w = xbuf.from_dlpack(t.T[1:, ::2])
    w[0, 1] = 3
    assert t[2, 1].item() == 3
    t[2, 3] = 8
    assert w[2, 1] == 8


def test_from_dlpack_of_torch_keeps_the_tensor_until_the_last_derived_view():
    t = torch.arange(12.0).reshape(3, 4)
    before = sys.getrefcount(t)
    w = xbuf.from_dlpack(Hold(t.__dlpack__(max_version=(1, 0))))
    assert sys.getrefcount(t) == before + 1  # PyTorch's tensor keeps t
    s = w[1:].T
    del w
    assert sys.getrefcount(t) == before + 1
    assert s.tolist() == t[1:].T.tolist()
    s.release()
    assert sys.getrefcount(t) == before


def test_from_dlpack_of_torch_copy_true():
    t = torch.arange(6, dtype=torch.int64).reshape(2, 3)
    w = xbuf.from_dlpack(t, copy=True)
    assert address(w) != t.data_ptr() and w.tolist() == t.tolist()
    t.zero_()
    assert w.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_from_dlpack_refuses_bfloat16():
    t = torch.zeros(3, dtype=torch.bfloat16)
    with pytest.raises(BufferError, match="bfloat"):
        xbuf.from_dlpack(t)


def test_round_trip_through_torch_and_numpy():
    arr = np.arange(30, dtype="<f8").reshape(5, 6)[1::2, ::3]
    w = xbuf.from_dlpack(torch.from_dlpack(np.from_dlpack(V(arr))))
    assert address(w) == address(arr) and w.strides == arr.strides
    assert w.tolist() == arr.tolist()


# ---- capsules ------------------------------------------------------------------------------

@pytest.mark.parametrize("max_version,name", [(None, LEGACY), ((0, 8), LEGACY),
                                              ((1, 0), VERSIONED), ((1, 1), VERSIONED),
                                              ((2, 5), VERSIONED)])
def test_capsule_names(max_version, name):
    v = V(np.arange(4, dtype="<i4"))
    capsule = v.__dlpack__(max_version=max_version)
    assert capsule_name(capsule) == name
    w = xbuf.from_dlpack(Hold(capsule))
    assert capsule_name(capsule) == b"used_" + name
    assert address(w) == address(v)
    with pytest.raises(TypeError, match="unconsumed"):
        xbuf.from_dlpack(Hold(capsule))  # a used capsule cannot be taken twice


def test_unconsumed_capsule_gives_the_export_back():
    v = V(np.arange(4, dtype="<i4"))
    capsules = [v.__dlpack__(), v.__dlpack__(max_version=(1, 0))]
    with pytest.raises(BufferError, match="2 views"):
        v.release()
    capsules.pop()
    assert is_held(v)
    capsules.pop()
    assert not is_held(v)


def test_dlpack_device():
    v = V(bytearray(4))
    assert v.__dlpack_device__() == (KDL_CPU, 0)
    assert v.__dlpack__(dl_device=(KDL_CPU, 0)) is not None


@pytest.mark.parametrize("kwargs,error", [
    ({"stream": 1}, BufferError), ({"dl_device": (KDL_CUDA, 0)}, BufferError),
    ({"dl_device": (KDL_CPU, 1)}, BufferError), ({"copy": "yes"}, TypeError),
    ({"max_version": 1}, TypeError), ({"max_version": ("a", 0)}, TypeError)])
def test_dlpack_argument_errors(kwargs, error):
    v = V(bytearray(4))
    with pytest.raises(error):
        v.__dlpack__(**kwargs)
    assert not is_held(v)


def test_dlpack_keywords_only():
    with pytest.raises(TypeError):
        V(bytearray(4)).__dlpack__(None)


def test_released_view():
    v = V(bytearray(4))
    v.release()
    with pytest.raises(ValueError):
        v.__dlpack__()
    with pytest.raises(ValueError):
        v.__dlpack_device__()


# ---- the exported tensor, field by field (a ctypes consumer) -------------------------------

@pytest.mark.parametrize("fmt,code,bits", [
    ("b", KDL_INT, 8), ("B", KDL_UINT, 8), ("h", KDL_INT, 16), ("<H", KDL_UINT, 16),
    ("=i", KDL_INT, 32), ("<l", KDL_INT, 32), ("q", KDL_INT, 64), ("@Q", KDL_UINT, 64),
    ("n", KDL_INT, 8 * ctypes.sizeof(ctypes.c_ssize_t)), ("?", KDL_BOOL, 8),
    ("e", KDL_FLOAT, 16), ("f", KDL_FLOAT, 32), ("d", KDL_FLOAT, 64),
    ("Ze", KDL_COMPLEX, 32), ("Zf", KDL_COMPLEX, 64), ("Zd", KDL_COMPLEX, 128)])
def test_exported_dtypes(fmt, code, bits):
    v = V(bytearray(6 * bits // 8)).cast(fmt)
    managed, at = take(v.__dlpack__(max_version=(1, 0)))
    t = managed.dl_tensor
    assert (t.dtype.code, t.dtype.bits, t.dtype.lanes) == (code, bits, 1)
    managed.deleter(at)


@SOME
@given(arrays(), st.booleans())
def test_exported_tensor_fields(arr, versioned):
    v = V(arr)
    if not versioned and v.readonly:
        with pytest.raises(BufferError, match="read-only"):
            v.__dlpack__(copy=False)  # DLManagedTensor cannot say read-only
        return
    capsule = v.__dlpack__(max_version=(1, 1) if versioned else None, copy=False)
    managed, at = take(capsule)
    if versioned:
        assert (managed.version.major, managed.version.minor) == (1, 1)
        assert managed.flags == (READ_ONLY if v.readonly else 0)
    t = managed.dl_tensor
    assert (t.device.device_type, t.device.device_id) == (KDL_CPU, 0)
    assert (t.dtype.code, t.dtype.bits, t.dtype.lanes) == (dl_code(arr.dtype), 8 * arr.itemsize, 1)
    assert t.ndim == arr.ndim and t.byte_offset == 0
    shape, strides = tensor_layout(t)
    assert shape == arr.shape
    if arr.ndim:
        assert strides is not None  # DLPack 1.2: never NULL
    if arr.ndim and arr.size:  # (a view without items gets C-contiguous strides)
        assert used_strides(shape, [s * arr.itemsize for s in strides]) == \
            used_strides(arr.shape, arr.strides)
        # extent-1 dimensions get C-contiguous strides
        for i, n in enumerate(shape):
            if n == 1 and arr.size:
                assert strides[i] == int(np.prod(shape[i + 1:])), (i, strides)
    if arr.size:
        assert t.data == address(arr)
    assert is_held(v)
    managed.deleter(at)  # the consumer is done: once
    assert not is_held(v)


def test_exported_view_can_be_dropped_while_the_tensor_lives():
    arr = np.arange(5, dtype="<i4")
    v = V(arr)[::-1]
    managed, at = take(v.__dlpack__(max_version=(1, 0)))
    del v
    t = managed.dl_tensor
    values = [ctypes.c_int32.from_address(t.data + 4 * t.strides[0] * i).value for i in range(5)]
    assert values == [4, 3, 2, 1, 0]
    managed.deleter(at)


@pytest.mark.parametrize("readonly", [False, True])
def test_exported_copy(readonly):
    arr = np.arange(24, dtype="<i2").reshape(4, 6)
    arr.flags.writeable = not readonly
    v = V(arr)[::-1, 1::2]
    managed, at = take(v.__dlpack__(max_version=(1, 0), copy=True))
    assert managed.flags == IS_COPIED  # never READ_ONLY: the copy is the consumer's
    t = managed.dl_tensor
    assert t.data % 256 == 0 and t.data != address(v)
    assert tensor_layout(t) == ((4, 3), (3, 1))
    assert not is_held(v)  # released: the copy holds no export
    data = np.ctypeslib.as_array((ctypes.c_int16 * 12).from_address(t.data))
    assert data.reshape(4, 3).tolist() == arr[::-1, 1::2].tolist()
    managed.deleter(at)


# ---- what DLPack cannot express ------------------------------------------------------------

FOREIGN = ">" if LITTLE else "<"


def pil_view():
    e = xbuf.Exporter(list(range(12)), shape=[3, 4], format="i", flags=xbuf.Exporter.PIL)
    return V(e)


def cases_only_a_copy_fixes():
    packed = np.zeros(4, [("a", "u1"), ("b", "<i4")])
    packed["b"] = [1, -2, 3, -4]
    unaligned = V(bytearray(17))[1:].cast("<d" if LITTLE else ">d")
    return [
        ("byte order", V(np.arange(6, dtype=FOREIGN + "i4")), "native byte order"),
        ("PIL", pil_view(), "suboffsets"),
        ("stride", V(packed).field("b"), "multiple of the itemsize"),
        ("unaligned", unaligned, "align"),
    ]


@pytest.mark.parametrize("case", range(4))
def test_refused_without_copy_copied_with_one(case):
    what, v, reason = cases_only_a_copy_fixes()[case]
    expected = v.tolist()
    for max_version in (None, (1, 0)):
        with pytest.raises(BufferError, match=reason):
            v.__dlpack__(max_version=max_version, copy=False)
    with pytest.raises(BufferError, match=reason):
        np.from_dlpack(v, copy=False)
    with pytest.raises(BufferError, match=reason):
        torch.from_dlpack(v, copy=False)
    assert not is_held(v), what
    v = cases_only_a_copy_fixes()[case][1]
    for copy in (None, True):
        n = np.from_dlpack(v, copy=copy)
        assert n.tolist() == expected, (what, copy)
        assert n.dtype.isnative and n.flags.c_contiguous and n.flags.writeable
        if what != "PIL":  # (a PIL view has no single address)
            assert address(n) != address(v)
        t = torch.from_dlpack(v, copy=copy)
        assert t.tolist() == expected
        managed, at = take(v.__dlpack__(max_version=(1, 0), copy=copy))
        assert managed.flags == IS_COPIED
        managed.deleter(at)
    assert not is_held(v), f"{what}: copies hold no export"


def test_big_endian_copy_none_converts():
    arr = np.arange(6, dtype=FOREIGN + "f8").reshape(2, 3)
    v = V(arr)
    n = np.from_dlpack(v)  # copy=None: a copy, in native order
    assert address(n) != address(arr)
    assert n.dtype == np.dtype("f8") and n.tolist() == arr.tolist()
    managed, at = take(v.__dlpack__(max_version=(1, 0)))
    assert managed.flags & IS_COPIED
    managed.deleter(at)


def test_pil_view_copied_for_numpy():
    v = pil_view()
    n = np.from_dlpack(v, copy=True)
    assert n.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_readonly_legacy_needs_a_copy():
    arr = np.arange(3.0)
    arr.flags.writeable = False
    v = V(arr)
    with pytest.raises(BufferError, match="read-only"):
        v.__dlpack__(copy=False)
    managed, at = take(v.__dlpack__())  # copy=None: DLManagedTensor gets a copy
    assert managed.dl_tensor.data != address(arr)
    managed.deleter(at)
    managed, at = take(v.__dlpack__(max_version=(1, 0), copy=False))  # versioned says it
    assert managed.flags == READ_ONLY and managed.dl_tensor.data == address(arr)
    managed.deleter(at)


@pytest.mark.parametrize("fmt,reason", [
    ("c", "one-byte strings"), ("3s", "strings"), ("T{i:a:h:b:}", "records"),
    ("(2)i", "sub-array"), ("P", "pointers"),
    pytest.param("g", "long double", marks=pytest.mark.skipif(
        ctypes.sizeof(ctypes.c_longdouble) == 8, reason="long double is double here"))])
def test_no_copy_can_export(fmt, reason):
    v = V(bytearray(xbuf.calcsize(fmt) * 2)).cast(fmt)
    for copy in (False, None, True):
        with pytest.raises(BufferError, match=reason):
            v.__dlpack__(max_version=(1, 0), copy=copy)
        with pytest.raises(BufferError, match=reason):
            np.from_dlpack(v, copy=copy)
    assert not is_held(v)


# ---- from_dlpack: producers written with ctypes --------------------------------------------

def test_deleter_runs_once_when_the_last_derived_view_goes():
    arr = np.arange(24, dtype="<i4").reshape(2, 3, 4)
    p = Producer(arr)
    w = xbuf.from_dlpack(p)
    assert capsule_name(p.capsules[0]) == USED_VERSIONED
    assert p.requests == [{"max_version": (1, 1), "copy": None}]
    derived = [w[1], w.T, w[:, ::2, 1:], w[0][::-1], V(w)]
    del w
    assert p.deleted == 0
    derived[0].release()
    derived[1:3] = []
    assert p.deleted == 0
    assert derived[1].tolist() == arr[0][::-1].tolist()
    derived.clear()
    assert p.deleted == 1


@SOME
@given(arrays(), st.booleans(), st.integers(0, 3), st.data())
def test_from_dlpack_of_any_layout(arr, versioned, offset_items, data):
    """Tensors NumPy would not make: negative strides with a byte_offset,
    legacy or versioned, READ_ONLY from the flag alone."""
    flags = data.draw(st.sampled_from([0, READ_ONLY])) if versioned else 0
    byte_offset = offset_items * arr.itemsize if arr.size else 0
    p = Producer(arr, versioned=versioned, flags=flags, byte_offset=byte_offset)
    w = xbuf.from_dlpack(p)
    assert w.format == imported_format(arr.dtype)
    assert_same_memory(address(w), w.shape, w.strides, arr, "Producer")
    assert w.tolist() == arr.tolist()
    assert w.readonly == bool(flags & READ_ONLY)
    del w
    assert p.deleted == 1


def test_release_runs_the_deleter_at_once():
    p = Producer(np.arange(4.0))
    w = xbuf.from_dlpack(p)
    w.release()
    assert p.deleted == 1
    w.release()  # harmless
    del w
    assert p.deleted == 1


def test_release_is_refused_while_a_derived_view_exports():
    p = Producer(np.arange(4.0))
    w = xbuf.from_dlpack(p)
    m = memoryview(w)
    with pytest.raises(BufferError):
        w.release()
    m.release()
    w.release()
    assert p.deleted == 1


@pytest.mark.parametrize("flags,versioned,readonly", [
    (0, True, False), (READ_ONLY, True, True), (IS_COPIED, True, False),
    (READ_ONLY | IS_COPIED | (1 << 40), True, True), (0, False, False)])
def test_read_only_flag(flags, versioned, readonly):
    arr = np.zeros(3, "<i8")
    p = Producer(arr, flags=flags, versioned=versioned)
    w = xbuf.from_dlpack(p)
    assert w.readonly == readonly
    assert capsule_name(p.capsules[0]) == (USED_VERSIONED if versioned else USED_LEGACY)
    if not readonly:
        w[1] = 5
        assert arr[1] == 5
    else:
        with pytest.raises(TypeError):
            w[1] = 5
    del w
    assert p.deleted == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_imported_formats(dtype):
    arr = np.zeros(3, dtype)
    fill(arr, np.random.default_rng(1))
    w = xbuf.from_dlpack(Producer(arr))
    assert w.format == imported_format(arr.dtype)
    assert w.tolist() == arr.tolist()


def test_byte_offset_and_null_strides():
    arr = np.arange(12, dtype="<i2").reshape(3, 4)
    p = Producer(arr[1:], byte_offset=8, strides=None)
    w = xbuf.from_dlpack(p)
    assert address(w) == address(arr[1:])
    assert w.strides == (8, 2) and w.tolist() == arr[1:].tolist()


def test_zero_d_tensor():
    arr = np.array(2.5)
    w = xbuf.from_dlpack(Producer(arr, strides=None))
    assert w.ndim == 0 and w.shape == () and w.tolist() == 2.5


@pytest.mark.parametrize("kwargs,reason", [
    ({"device": (KDL_CUDA, 1)}, "CUDA"),
    ({"device": (3, 0)}, "CPU"),
    ({"version": (2, 0)}, "version"),
    ({"dtype": (KDL_FLOAT, 32, 2)}, "lanes"),
    ({"dtype": (KDL_BFLOAT, 16, 1)}, "bfloat"),
    ({"dtype": (KDL_INT, 12, 1)}, "bits"),
    ({"dtype": (KDL_FLOAT, 8, 1)}, "no PEP 3118 format"),
    ({"dtype": (42, 32, 1)}, "no PEP 3118 format"),
])
def test_refused_tensors_stay_the_producers(kwargs, reason):
    p = Producer(np.zeros(4, "<f4"), **kwargs)
    with pytest.raises(BufferError, match=reason):
        xbuf.from_dlpack(p)
    assert capsule_name(p.capsules[0]) == VERSIONED  # not consumed
    assert p.deleted == 0  # xbuf never calls the deleter of a tensor it refused
    p.reclaim()  # the capsule's destructor does this
    assert p.deleted == 1


def test_legacy_producer_without_keywords():
    arr = np.arange(6, dtype="<u2").reshape(2, 3)
    p = Producer(arr, versioned=False, keywords=False)
    w = xbuf.from_dlpack(p)
    assert p.requests == [{"max_version": (1, 1), "copy": None}, {}]
    assert address(w) == address(arr) and not w.readonly
    assert capsule_name(p.capsules[-1]) == USED_LEGACY
    del w
    assert p.deleted == 1
    # copy=True with a producer that cannot copy: xbuf copies
    w = xbuf.from_dlpack(p, copy=True)
    assert p.deleted == 2  # the producer's tensor went as soon as the copy was made
    assert address(w) != address(arr) and w.tolist() == arr.tolist() and not w.readonly


def test_copy_true_with_a_producer_that_ignores_it():
    arr = np.arange(4, dtype="<i4")
    p = Producer(arr, flags=READ_ONLY)
    w = xbuf.from_dlpack(p, copy=True)
    assert p.requests[0]["copy"] is True
    assert p.deleted == 1
    assert address(w) != address(arr) and w.tolist() == [0, 1, 2, 3] and not w.readonly


def test_copy_true_with_a_producer_that_copies():
    arr = np.arange(4, dtype="<i4")
    p = Producer(arr, honour_copy=True)
    w = xbuf.from_dlpack(p, copy=True)
    assert address(w) == address(p.copies[0])  # no second copy
    assert w.tolist() == [0, 1, 2, 3]


def test_from_dlpack_argument_errors():
    arr = np.arange(3.0)
    with pytest.raises(TypeError, match="__dlpack__"):
        xbuf.from_dlpack([1, 2, 3])
    with pytest.raises(TypeError, match="__dlpack__"):
        xbuf.from_dlpack(object())
    with pytest.raises(TypeError, match="__dlpack__"):
        xbuf.from_dlpack(np.float64(1.0))  # NumPy scalars have none; 0-d arrays do
    assert xbuf.from_dlpack(np.array(1.0)).tolist() == 1.0
    with pytest.raises(BufferError):
        xbuf.from_dlpack(arr, device=(KDL_CUDA, 0))
    with pytest.raises(TypeError):
        xbuf.from_dlpack(arr, copy="yes")
    assert address(xbuf.from_dlpack(arr, device=(KDL_CPU, 0))) == address(arr)


def test_producer_returning_no_capsule():
    class Liar:
        def __dlpack__(self, **kwargs):
            return b"not a capsule"

    with pytest.raises(TypeError, match="capsule"):
        xbuf.from_dlpack(Liar())


def test_producer_errors_propagate():
    class Broken:
        def __dlpack__(self, **kwargs):
            raise BufferError("cannot export")

    with pytest.raises(BufferError, match="cannot export"):
        xbuf.from_dlpack(Broken())


def test_round_trip_keeps_the_address():
    arr = np.arange(12, dtype="<f4").reshape(3, 4)
    v = V(arr)[::-1, ::2]
    w = xbuf.from_dlpack(v)
    assert address(w) == address(v) and w.strides == v.strides
    assert w.tolist() == v.tolist() and w.format == NATIVE + "f"
    assert is_held(v)
    del w
    assert not is_held(v)
