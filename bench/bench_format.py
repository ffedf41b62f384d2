"""Format parsing: xbuf beside NumPy's and struct's parsers, in one run.

    python bench/bench_format.py PATH/TO/bench-format

Runs the C benchmark (bench/bench_format.c) with --tsv for xbuf's figures
and the list of formats, then times, in this process and on the very same
strings:

  numpy   numpy._core._internal._dtype_from_pep3118 (numpy.core._internal on
          NumPy 1.x): NumPy's PEP 3118 parser, what np.asarray(memoryview)
          runs on a buffer's format.  It caches nothing.
  struct  struct.Struct(fmt).size: constructing a Struct parses the format
          every time (the module-level functions cache, Struct() does not).
          Only for formats struct accepts.

Each figure is the best of several repeats, in ns per parse.  The NumPy and
struct figures include one Python call (tens of ns); that is what a Python
consumer pays.  Ratios above 1 mean xbuf is faster.  A benchmark, not a
test: it prints figures and never fails on timing; a parser that refuses a
format shows "-".
"""

import importlib
import struct
import subprocess
import sys
import timeit

REPEATS = 7
RUN_SECONDS = 0.02  # one repeat lasts about this long


def numpy_parser():
    """NumPy's PEP 3118 parser and NumPy's version, or (None, reason)."""
    try:
        import numpy
    except ImportError as exc:  # a benchmark degrades, it does not fail
        return None, "numpy not installed (%s)" % exc
    for module in ("numpy._core._internal", "numpy.core._internal"):
        try:
            parser = importlib.import_module(module)._dtype_from_pep3118
        except (ImportError, AttributeError):
            continue
        return parser, "numpy %s (%s._dtype_from_pep3118)" % (numpy.__version__, module)
    return None, "numpy %s has no _dtype_from_pep3118" % numpy.__version__


def xbuf_rows(binary):
    """(label, format, chars, ns, ns_per_char) rows from bench-format --tsv."""
    out = subprocess.run([binary, "--tsv"], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    rows = []
    for line in lines[1:]:  # the first line names the columns
        label, fmt, chars, ns, per_char = line.split("\t")
        rows.append((label, fmt, int(chars), float(ns), float(per_char)))
    return rows


def best_ns(call):
    """Best ns per call of `call()` over REPEATS runs of about RUN_SECONDS."""
    timer = timeit.Timer(call)
    number, elapsed = timer.autorange()  # at least 0.2 s in total
    number = max(1, int(number * RUN_SECONDS / max(elapsed, 1e-9)))
    return min(timer.repeat(REPEATS, number)) / number * 1e9


def time_numpy(parser, fmt):
    if parser is None:
        return None
    try:
        parser(fmt)
    except Exception:  # NumPy refuses pointers, function pointers, ...
        return None
    return best_ns(lambda: parser(fmt))


def time_struct(fmt):
    try:
        struct.Struct(fmt)
    except struct.error:  # T{}, &, X{}, names, sub-arrays: not struct's language
        return None
    return best_ns(lambda: struct.Struct(fmt).size)


def cell(value, spec):
    return "-" if value is None else format(value, spec)


def ratio(other, mine):
    return None if other is None or mine <= 0 else other / mine


def main(argv):
    if len(argv) != 2:
        print("usage: bench_format.py PATH/TO/bench-format", file=sys.stderr)
        return 2
    rows = xbuf_rows(argv[1])
    parser, numpy_note = numpy_parser()
    print("format parsing, ns per parse (best of %d); xbuf: xbuf_format_parse + release;"
          % REPEATS)
    print("%s; struct: Python %s struct.Struct(fmt).size"
          % (numpy_note, sys.version.split()[0]))
    header = ("format", "chars", "xbuf ns", "ns/char", "numpy ns", "struct ns",
              "numpy/xbuf", "struct/xbuf")
    print("%-32s %6s %9s %8s %9s %9s %10s %11s" % header)
    for label, fmt, chars, ns, per_char in rows:
        shown = fmt if len(fmt) <= 32 else "[%s]" % label[:30]
        numpy_ns = time_numpy(parser, fmt)
        struct_ns = time_struct(fmt)
        print("%-32s %6d %9.1f %8.2f %9s %9s %10s %11s" % (
            shown, chars, ns, per_char, cell(numpy_ns, ".1f"), cell(struct_ns, ".1f"),
            cell(ratio(numpy_ns, ns), ".1f"), cell(ratio(struct_ns, ns), ".1f")))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
