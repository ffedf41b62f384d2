"""xbuf.View beside memoryview and NumPy, in one process.

Run by `make bench` with the venv's Python, against the checkout's build.
Every figure is the best of several runs, and every line is a ratio of two
figures measured here, one after the other.  Targets (issues #4 and #6):

  View(a.T).tobytes() of a 4096 x 4096 float64 array: 3x faster than
      numpy.ascontiguousarray(a.T) and 5x faster than memoryview(a.T).tobytes()
  == of two 1M-element 'd' views: 3x faster than memoryview ==;
      'd' against 'f': 50x faster
  tolist(): at least as fast as memoryview.tolist() (native formats), and
      as NumPy's tolist() for records
  View(b) of a small bytes object: at most 1.5x the cost of memoryview(b)

A benchmark, not a test: it prints figures and never fails on timing.
"""
import timeit

import numpy as np

import xbuf

REPEATS = 7


def best(fn, number=1, repeats=REPEATS):
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number


def report(what, xbuf_s, other_name, other_s, target, higher_is_better=True):
    ratio = other_s / xbuf_s
    if higher_is_better:
        verdict = "ok" if ratio >= target else "MISSED"
        goal = f"target >= {target}x"
    else:  # a cost ratio: xbuf may take at most `target` times the other's time
        ratio = xbuf_s / other_s
        verdict = "ok" if ratio <= target else "MISSED"
        goal = f"target <= {target}x its cost"
    print(f"  {what:<36} xbuf {xbuf_s * 1e3:9.4f} ms  {other_name:<30} "
          f"{other_s * 1e3:9.4f} ms  {ratio:6.2f}x  ({goal}) {verdict}")


def bench_transpose(n=4096):
    a = np.random.default_rng(1).random((n, n))
    t = a.T
    assert xbuf.View(t).tobytes() == np.ascontiguousarray(t).tobytes()
    x = best(lambda: xbuf.View(t).tobytes(), repeats=5)
    report("View(a.T).tobytes() 4096^2 d", x, "numpy.ascontiguousarray(a.T)",
           best(lambda: np.ascontiguousarray(t), repeats=5), 3)
    report("", x, "memoryview(a.T).tobytes()", best(lambda: memoryview(t).tobytes(), repeats=3),
           5)


def bench_equal(n=1_000_000):
    rng = np.random.default_rng(2)
    d = rng.random(n)
    d2 = d.copy()
    f = d.astype(np.float32).astype(np.float64)
    f32 = f.astype(np.float32)
    f64 = f.copy()
    vd, vd2 = xbuf.View(d), xbuf.View(d2)
    md, md2 = memoryview(d), memoryview(d2)
    assert (vd == vd2) and (md == md2)
    report("== 1M 'd' vs 'd'", best(lambda: vd == vd2, number=5), "memoryview ==",
           best(lambda: md == md2, number=2), 3)
    vf, vf64 = xbuf.View(f32), xbuf.View(f64)
    mf, mf64 = memoryview(f32), memoryview(f64)
    assert (vf64 == vf) and (mf64 == mf)
    report("== 1M 'd' vs 'f'", best(lambda: vf64 == vf, number=5), "memoryview ==",
           best(lambda: mf64 == mf, number=2), 50)


def bench_tolist(n=200_000):
    for dtype in ("i4", "d", "B"):
        a = np.arange(n).astype(dtype)
        v, m = xbuf.View(a), memoryview(a)
        assert v.tolist() == m.tolist()
        report(f"tolist() {n} '{m.format}'", best(v.tolist, repeats=5), "memoryview.tolist()",
               best(m.tolist, repeats=5), 1)
    rec = np.zeros(n // 4, dtype=[("a", "<i4"), ("b", "<f8"), ("c", "u1")])
    rec["a"] = np.arange(len(rec))
    rec["b"] = rec["a"] / 3
    v = xbuf.View(rec)
    assert v.tolist() == rec.tolist()
    report(f"tolist() {len(rec)} records", best(v.tolist, repeats=5), "numpy tolist()",
           best(rec.tolist, repeats=5), 1)


def bench_create():
    small = b"x" * 16
    x = best(lambda: xbuf.View(small), number=200_000)
    m = best(lambda: memoryview(small), number=200_000)
    report("View(b) of 16 bytes", x, "memoryview(b)", m, 1.5, higher_is_better=False)
    print(f"  {'':<36} View {x * 1e9:.1f} ns, memoryview {m * 1e9:.1f} ns per object")


def main():
    print(f"xbuf {xbuf.__version__} (extension), NumPy {np.__version__}; best of several runs")
    bench_create()
    bench_tolist()
    bench_equal()
    bench_transpose()


if __name__ == "__main__":
    main()
