"""The copy and compare engines beside NumPy and memoryview, in one process.

Run by `make bench` with the venv's Python.  Until the Python extension
exists, xbuf is called through ctypes (tests/python/xbuf_ctypes.py): each
call pays a few microseconds of ctypes overhead, which the figures include
and which does not matter at these sizes.  Each figure is the best of
several runs.  Targets from the copy issue:

  transpose of a 4096 x 4096 float64 array into C order: 3x faster than
      numpy.ascontiguousarray(a.T) and 5x faster than memoryview(a.T).tobytes()
  equality of two 1M-element 'd' views: 3x faster than memoryview ==,
      and of 'd' against 'f': 50x faster

A benchmark, not a test: it prints figures and never fails on timing.
"""
import ctypes
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import xbuf_ctypes as X  # noqa: E402

REPEATS = 5


def best(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def library():
    lib = X.load()
    view = ctypes.POINTER(X.XbufView)
    error = ctypes.POINTER(X.XbufError)
    lib.xbuf_copy.argtypes = [view, view, error]
    lib.xbuf_copy.restype = ctypes.c_int
    lib.xbuf_equal.argtypes = [view, view, ctypes.POINTER(ctypes.c_bool), error]
    lib.xbuf_equal.restype = ctypes.c_int
    return lib


def xbuf_view(arr, fmt):
    return X.view_of_array(arr, fmt=fmt)


def report(what, xbuf_s, other_name, other_s, target):
    ratio = other_s / xbuf_s
    verdict = "ok" if ratio >= target else "MISSED"
    print(f"  {what:<34} xbuf {xbuf_s * 1e3:8.2f} ms   {other_name:<34} "
          f"{other_s * 1e3:8.2f} ms   {ratio:6.1f}x  (target {target}x) {verdict}")


def bench_transpose(lib, n=4096):
    a = np.random.default_rng(1).random((n, n))
    src = xbuf_view(a.T, b"d")
    err = X.XbufError()

    def with_xbuf():
        out = np.empty((n, n))
        dst = xbuf_view(out, b"d")
        rc = lib.xbuf_copy(dst.ref, src.ref, ctypes.byref(err))
        assert rc == 0, err.text()
        return out

    assert np.array_equal(with_xbuf(), np.ascontiguousarray(a.T))
    t_xbuf = best(with_xbuf)
    report("transpose 4096x4096 float64", t_xbuf, "numpy.ascontiguousarray(a.T)",
           best(lambda: np.ascontiguousarray(a.T)), 3)
    report("", t_xbuf, "memoryview(a.T).tobytes()", best(lambda: memoryview(a.T).tobytes(), 3), 5)


def bench_equal(lib, n=1_000_000):
    rng = np.random.default_rng(2)
    x = rng.random(n)
    y = x.copy()
    f = x.astype(np.float32)
    g = f.astype(np.float64)  # the same values as f, as doubles
    err = X.XbufError()
    answer = ctypes.c_bool()

    def equal(a, fa, b, fb):
        va, vb = xbuf_view(a, fa), xbuf_view(b, fb)

        def run():
            rc = lib.xbuf_equal(va.ref, vb.ref, ctypes.byref(answer), ctypes.byref(err))
            assert rc == 0, err.text()
            return answer.value
        return run

    same_d = equal(x, b"d", y, b"d")
    assert same_d() == (memoryview(x) == memoryview(y))
    report("equality 'd' == 'd', 1M items", best(same_d), "memoryview ==",
           best(lambda: memoryview(x) == memoryview(y), 3), 3)
    mixed = equal(g, b"d", f, b"f")
    assert mixed() == (memoryview(g) == memoryview(f))
    report("equality 'd' == 'f', 1M items", best(mixed), "memoryview ==",
           best(lambda: memoryview(g) == memoryview(f), 3), 50)


def main():
    lib = library()
    print(f"xbuf {lib.xbuf_version().decode()} from Python (ctypes), NumPy {np.__version__}, "
          f"best of {REPEATS}")
    bench_transpose(lib)
    bench_equal(lib)


if __name__ == "__main__":
    main()
