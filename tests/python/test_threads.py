"""Threads: many Python threads making, slicing, reading and releasing Views
of one exporter at once (issue #8).

The GIL serialises the bytecode, but not everything: the switch interval
is cut to a microsecond so that threads interleave inside every sequence of
calls, export counts are changed from all of them, and DLPack deleters are
called through ctypes -- which drops the GIL -- so that xbuf's release hook
(PyGILState_Ensure in python/src/source.c) runs on threads that do not hold
it.  Every test ends with the exporter's export count at zero: the
Exporter says `exports == 0`, a bytearray can be resized again, a NumPy
array has no reference left but ours.
"""
import ctypes
import queue
import random
import sys
import threading
import traceback

import numpy as np
import pytest

import xbuf

THREADS = 8
ROUNDS = 200
JOIN_SECONDS = 120


@pytest.fixture(autouse=True)
def switch_often():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(body, n=THREADS):
    """Run body(i) on n threads started together; re-raise the first error
    with the thread's own traceback."""
    barrier = threading.Barrier(n)
    errors = []

    def main(i):
        try:
            barrier.wait()
            body(i)
        except BaseException:  # noqa: BLE001 -- reported below, with its traceback
            errors.append(f"thread {i}:\n{traceback.format_exc()}")
            barrier.abort()

    threads = [threading.Thread(target=main, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    stuck = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not stuck, f"threads {stuck} still running after {JOIN_SECONDS} s"
    assert not errors, "\n".join(errors)


def random_slice(rng, n):
    step = rng.choice([1, 1, 2, 3, -1, -2, 7])
    start = rng.choice([None, rng.randrange(-n - 2, n + 2)])
    stop = rng.choice([None, rng.randrange(-n - 2, n + 2)])
    return slice(start, stop, step)


def release_all(views, rng):
    """Release in a random order, some by `with`, some by release(), some by
    dropping the last reference."""
    rng.shuffle(views)
    while views:
        v = views.pop()
        how = rng.randrange(3)
        if how == 0:
            v.release()
        elif how == 1:
            with v:
                pass
        del v


# ---- a derived View is its own ----------------------------------------------


@pytest.mark.parametrize("key", [slice(None), slice(0, None), slice(None, None, 1),
                                 (slice(None), slice(None))])
def test_a_whole_slice_is_released_on_its_own(key):
    """What threads rely on when they hand slices to each other: releasing
    one View never releases another, as with memoryview -- also for a key
    that selects everything."""
    arr = np.arange(12, dtype="i").reshape(3, 4)
    key = key if isinstance(key, tuple) else (key,)
    m = memoryview(arr)
    ms = m[key[0]]  # memoryview slices one dimension
    m.release()
    assert ms.tolist() == arr.tolist()
    v = xbuf.View(arr)
    s = v[key]
    v.release()
    assert s.tolist() == arr.tolist(), "releasing a View released a slice of it"
    s.release()
    w = xbuf.View(arr)
    t = w[key]
    t.release()
    assert w.tolist() == arr.tolist(), "releasing a slice released its View"


# ---- one NumPy array ---------------------------------------------------------


def test_views_of_one_numpy_array():
    arr = np.arange(48 * 40, dtype="<i4").reshape(48, 40)
    baseline = sys.getrefcount(arr)

    def body(i):
        rng = random.Random(i)
        for _ in range(ROUNDS):
            v = xbuf.View(arr)
            held = [v]
            key = (random_slice(rng, 48), random_slice(rng, 40))
            s = v[key]
            held.append(s)
            assert s.tolist() == arr[key].tolist()
            assert s.tobytes() == arr[key].tobytes()
            assert s == memoryview(np.ascontiguousarray(arr[key]))
            t = s.T
            held.append(t)
            assert t.tolist() == arr[key].T.tolist()
            row, col = rng.randrange(48), rng.randrange(40)
            assert v[row].tolist() == arr[row].tolist()
            assert v[row, col] == arr[row, col]
            assert np.array_equal(np.asarray(s), arr[key])
            if rng.randrange(4) == 0:
                held.append(v.cast("B").cast("i", [48, 40]))
                assert held[-1] == v
            release_all(held, rng)

    run_threads(body)
    assert sys.getrefcount(arr) == baseline, "a View still holds the array"
    arr.resize((40, 48), refcheck=True)  # NumPy refuses while anything refers to it


def test_numpy_array_consumed_back_by_numpy_on_other_threads():
    """np.asarray / np.from_dlpack of Views, dropped on other threads."""
    arr = np.arange(1000, dtype="<f8")
    baseline = sys.getrefcount(arr)
    box = queue.SimpleQueue()

    def body(i):
        rng = random.Random(100 + i)
        for _ in range(ROUNDS):
            v = xbuf.View(arr)[random_slice(rng, 1000)]
            a = np.from_dlpack(v) if rng.randrange(2) else np.asarray(v)
            assert a.tolist() == v.tolist()
            box.put(a)  # someone else drops it
            del v, a
            for _ in range(rng.randrange(3)):
                try:
                    box.get_nowait()
                except queue.Empty:
                    break

    run_threads(body)
    while not box.empty():
        box.get_nowait()
    assert sys.getrefcount(arr) == baseline, "a View or a consumer still holds the array"


# ---- one bytearray, resized while Views come and go ---------------------------------


def pattern(i):
    return (i * 37 + 11) & 0xFF


def test_bytearray_resize_refused_while_views_are_held():
    ba = bytearray(pattern(i) for i in range(256))
    counts = {"appended": 0, "refused": 0}
    stop = threading.Event()

    def appender():
        while not stop.is_set():
            try:
                ba.append(pattern(len(ba)))
                counts["appended"] += 1
            except BufferError:
                counts["refused"] += 1

    def reader(i):
        rng = random.Random(200 + i)
        for _ in range(ROUNDS):
            v = xbuf.View(ba)
            n = len(v)
            assert n >= 256 and len(ba) == n, "the bytearray moved under a View"
            sl = random_slice(rng, n)
            s = v[sl]
            assert s.tolist() == [pattern(j) for j in range(n)][sl]
            assert s.tobytes() == bytes(ba)[sl]
            with pytest.raises(BufferError):
                ba.append(0)  # held here, so refused whatever the others do
            with pytest.raises(BufferError):
                ba.extend(b"xyz")
            assert s == bytes(ba)[sl]
            release_all([v, s], rng)

    worker = threading.Thread(target=appender, daemon=True)
    worker.start()
    try:
        run_threads(reader, THREADS - 1)
    finally:
        stop.set()
        worker.join(JOIN_SECONDS)
    assert bytes(ba) == bytes(pattern(i) for i in range(len(ba)))
    assert counts["refused"] > 0 or counts["appended"] > 0
    ba.append(pattern(len(ba)))  # every export is gone
    ba.extend(b"more")
    del ba[-4:]


# ---- xbuf.Exporter --------------------------------------------------------------


def test_exporter_push_refused_while_views_are_held():
    ex = xbuf.Exporter(list(range(64)), format="i")
    counts = {"pushed": 0, "refused": 0}
    stop = threading.Event()

    def pusher():
        while not stop.is_set():
            try:
                ex.push(ex.nbytes // 4)
                counts["pushed"] += 1
            except BufferError as e:
                assert "view" in str(e)
                counts["refused"] += 1

    def reader(i):
        rng = random.Random(300 + i)
        for _ in range(ROUNDS):
            v = xbuf.View(ex)
            n = len(v)
            assert ex.exports >= 1
            sl = random_slice(rng, n)
            s = v[sl]
            assert s.tolist() == list(range(n))[sl]
            with pytest.raises(BufferError):
                ex.push(0)
            with pytest.raises(BufferError):
                ex.pop()
            c = v.cast("B")
            assert c.tobytes() == ex.tobytes()
            release_all([v, s, c], rng)

    worker = threading.Thread(target=pusher, daemon=True)
    worker.start()
    try:
        run_threads(reader, THREADS - 1)
    finally:
        stop.set()
        worker.join(JOIN_SECONDS)
    assert ex.exports == 0
    assert ex.tolist() == list(range(len(ex.tolist())))
    ex.push(len(ex.tolist()))
    assert ex.pop() == len(ex.tolist())


def test_one_view_family_shared_by_threads():
    """One View of a PIL-style Exporter, sliced and indexed by every thread;
    the results change hands and are dropped by other threads, and the
    View itself is released by the main thread while they run."""
    shape = (4, 6, 5)
    ex = xbuf.Exporter(list(range(120)), shape=shape, format="h", flags=xbuf.Exporter.PIL)
    expect = np.arange(120, dtype="h").reshape(shape)
    root = xbuf.View(ex)
    assert ex.exports == 1
    box = queue.SimpleQueue()
    started = threading.Barrier(THREADS + 1)

    def body(i):
        rng = random.Random(400 + i)
        mine = root[:]  # a View of the family that outlives root.release()
        started.wait()
        for _ in range(ROUNDS):
            key = (random_slice(rng, 4), rng.randrange(6), random_slice(rng, 5))
            s, e = mine[key], expect[key]
            assert s.tolist() == e.tolist()
            if rng.randrange(2):
                s, e = s[::-1], e[::-1]
                assert s.tolist() == e.tolist()
            assert s.tobytes() == e.tobytes()
            box.put(s)
            del s
            for _ in range(rng.randrange(3)):
                try:
                    other = box.get_nowait()
                except queue.Empty:
                    break
                assert other.obj is ex
                if rng.randrange(2):
                    other.release()
                del other
        mine.release()

    def main_thread_part():
        started.wait()
        root.release()  # the family lives on in the threads' views

    t = threading.Thread(target=main_thread_part)
    t.start()
    run_threads(body)
    t.join(JOIN_SECONDS)
    while not box.empty():
        box.get_nowait()
    assert ex.exports == 0


# ---- DLPack deleters on threads that do not hold the GIL ------------------------


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


# CFUNCTYPE, not PYFUNCTYPE: ctypes releases the GIL around the call, so the
# deleter runs as a C consumer's thread would run it.
DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                ("deleter", DELETER), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


_api = ctypes.pythonapi
_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", _api))
_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _api))
_set_name = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_SetName", _api))
USED = {b"dltensor": b"used_dltensor", b"dltensor_versioned": b"used_dltensor_versioned"}


def consume(capsule):
    """Take the tensor out of a capsule as a DLPack consumer does; returns
    the tensor struct (the caller must call its deleter)."""
    name = _capsule_name(capsule)
    at = _get_pointer(capsule, name)
    assert _set_name(capsule, USED[name]) == 0
    kind = DLManagedTensorVersioned if name == b"dltensor_versioned" else DLManagedTensor
    return kind.from_address(at), at


@pytest.mark.parametrize("source", ["numpy", "bytearray", "exporter"])
def test_dlpack_deleters_run_on_threads_without_the_gil(source):
    if source == "numpy":
        obj = np.arange(512, dtype="<i8")
    elif source == "bytearray":
        obj = bytearray(range(256)) * 2
    else:
        obj = xbuf.Exporter(list(range(512)), format="q")
    baseline = sys.getrefcount(obj)
    box = queue.SimpleQueue()

    def body(i):
        rng = random.Random(500 + i)
        for r in range(ROUNDS):
            v = xbuf.View(obj)[random_slice(rng, 512)]
            kwargs = {"max_version": (1, 0)} if r % 2 else {}
            tensor, at = consume(v.__dlpack__(**kwargs))
            dl = tensor.dl_tensor
            assert dl.ndim == 1 and dl.shape[0] == len(v)
            with pytest.raises(BufferError):
                v.release()  # the consumer holds it
            # the View may go first: the tensor keeps the memory alive
            if rng.randrange(2):
                del v
            box.put((tensor, at))
            for _ in range(rng.randrange(3)):
                try:
                    t, a = box.get_nowait()
                except queue.Empty:
                    break
                t.deleter(a)  # without the GIL, maybe the last reference

    run_threads(body)
    while not box.empty():
        t, a = box.get_nowait()
        t.deleter(a)
    if source == "exporter":
        assert obj.exports == 0
    elif source == "bytearray":
        obj.append(1)
    assert sys.getrefcount(obj) == baseline, "a tensor still holds the object"
