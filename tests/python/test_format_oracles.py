"""Layer 2 (the PEP 3118 format language, include/xbuf/format.h, src/format*.c)
against oracles nobody on the team wrote: CPython's struct.calcsize, NumPy's
own PEP 3118 export (memoryview(ndarray).format) and its parser
(numpy._core._internal._dtype_from_pep3118), and ctypes (sizeof, field
offsets, memoryview(Structure()).format).

Sections:
  0. the ctypes binding: xbuf_type / xbuf_field / xbuf_leaf have the C layout
  1. struct.calcsize      random struct formats; the 'struct' rows of formats.tsv
  2. NumPy                random structured dtypes: export -> xbuf == dtype;
                          xbuf == NumPy's parser, except the documented
                          differences (top-level padding; a T{...} whose
                          mode switches inside it)
  3. ctypes               random Structures: the exported '<' format is
                          packed (cpython #76961); the same fields under '@'
                          give ctypes.sizeof and ctypes' offsets
  4. round trip           print(parse(f)) parses to an equal type, printing
                          is idempotent (applied to every generated format,
                          and to random formats of the whole language)
  5. layout compatibility "3i" vs "iii", names stripped: compatible, not equal
  6. bad input            random text and bytes never crash; errors carry a
                          code, a position within the input and a message

Where an oracle disagrees with xbuf on purpose, a test says so and why.
"""

import ctypes
import os
import re
import struct
import sys
from ctypes import sizeof
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, note, settings
from hypothesis import strategies as st

import xbuf_ctypes as X
from oracle_helpers import NP_NAMES, np_structs  # noqa: E402
from numpy_layout import np_leaf_list

try:  # NumPy 2
    from numpy._core._internal import _dtype_from_pep3118 as numpy_parse
except ImportError:  # NumPy 1.x
    from numpy.core._internal import _dtype_from_pep3118 as numpy_parse

# The shared layout vectors live beside the repository (../shared, as the C
# tests find them); XBUF_FORMAT_VECTORS may point elsewhere.
VECTORS = Path(os.environ.get("XBUF_FORMAT_VECTORS",
                              X.REPO_ROOT.parent / "shared" / "vectors" / "formats.tsv"))

NATIVE = b"<" if sys.byteorder == "little" else b">"
POINTER_SIZE = sizeof(ctypes.c_void_p)

# The vectors are for x86-64 Linux (int 4, long 8, double 8, long double 16);
# figures that depend on the platform are only compared where they apply.
LP64_X86_LIKE = (struct.calcsize("l") == 8 and POINTER_SIZE == 8
                 and sizeof(ctypes.c_longdouble) == 16 and sys.byteorder == "little")

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


def parse(text) -> X.Format:
    return X.parse_format(text)


def round_up(n: int, a: int) -> int:
    return -(-n // a) * a


def top_level_offsets(fmt: X.Format) -> list[int]:
    """Offsets of the items of a top-level list: a brace-less STRUCT root
    lists them as fields; any other root is the single item itself."""
    t = fmt.type
    if t.kind == X.XBUF_KIND_STRUCT and not t.braces:
        return [f.offset for f in X.type_fields(fmt)]
    return [0]


def leaf_count(p, cap=20000) -> int:
    """How many leaves xbuf_type_walk would visit (to keep walks small)."""
    t = p.contents
    if t.kind == X.XBUF_KIND_STRUCT:
        n = 0
        for f in X.type_fields(p):
            n += leaf_count(f.type, cap)
            if n > cap:
                return n
        return n
    if t.kind == X.XBUF_KIND_ARRAY:
        elements = 1
        for e in X.type_shape(p):
            elements *= e
        if elements == 0:
            return 0
        inner = leaf_count(t.base, cap)
        return min(elements * inner, cap + 1) if inner else 0
    return 1


def is_empty_list(f: X.Format) -> bool:
    """A top-level list of zero-size padding only ("0x"): no members, no bytes."""
    t = f.type
    return (t.kind == X.XBUF_KIND_STRUCT and not t.braces and t.nfields == 0
            and t.itemsize == 0)


def assert_round_trip(text) -> str:
    """Section 4, applied to every format the tests generate: the canonical
    text parses to an equal type (xbuf_type_equal) of the same itemsize and
    alignment, and printing that again gives the same text.  Returns it."""
    f = parse(text)
    printed = X.type_print(f)
    g = parse(printed)
    assert X.type_equal(f, g), (text, printed, X.type_tree(f), X.type_tree(g))
    assert X.type_equal(g, f)
    assert X.type_layout_compatible(f, g)
    assert g.itemsize == f.itemsize and g.type.alignment == f.type.alignment
    again = X.type_print(g)
    assert again == printed, (text, printed, again)
    # Canonical text: every byte order explicit, never '=' or '!' (format.h);
    # names excluded, since a name may hold any character but ':'.
    unnamed = re.sub(r":[^:]*:", "", printed)
    assert "=" not in unnamed and "!" not in unnamed, printed
    # The first item's byte order comes first, after its shape if it has one
    # ("(3)@i": NumPy reads the shape before the byte order, and only so).
    assert re.sub(r"^\([0-9,]*\)", "", printed)[:1] in ("@", "^", "<", ">"), printed
    return printed


# =============================================================================
# 0. the binding
# =============================================================================

# offsetof / sizeof of format.h's structs as gcc lays them out on x86-64 and
# every other LP64 ABI (all members naturally aligned, no packing pragmas):
# printed by a C program compiled against include/xbuf/format.h.
C_LAYOUT_LP64 = {
    "XbufField": (32, {"name": 0, "offset": 8, "type": 16, "aligned": 24}),
    "XbufType": (88, {"kind": 0, "code": 4, "byteorder": 5, "native_size": 6, "braces": 7,
                      "itemsize": 8, "alignment": 16, "count": 24, "bit_offset": 32,
                      "nfields": 40, "fields": 48, "ndim": 56, "shape": 64, "base": 72,
                      "target": 80}),
    "XbufLeaf": (32, {"type": 0, "offset": 8, "path": 16, "depth": 24}),
}


@pytest.mark.skipif(POINTER_SIZE != 8 or sizeof(ctypes.c_long) != 8,
                    reason="the recorded C layout is the LP64 one")
@pytest.mark.parametrize("name", sorted(C_LAYOUT_LP64))
def test_binding_structs_have_the_c_layout(name):
    cls = getattr(X, name)
    size, offsets = C_LAYOUT_LP64[name]
    assert sizeof(cls) == size
    assert [f[0] for f in cls._fields_] == list(offsets)  # same members, same order
    for member, offset in offsets.items():
        assert getattr(cls, member).offset == offset, member
    assert sizeof(X.c_xbuf_kind) == 4


def test_binding_reads_every_member_of_a_parsed_tree(xb):
    f = parse("T{b:a:xxxi:b:3b:c:xi:d:}")
    t = f.type
    assert (t.kind, t.code, t.byteorder, t.braces) == (X.XBUF_KIND_STRUCT, b"T", b"|", True)
    assert (t.itemsize, t.alignment, t.count, t.nfields, t.ndim) == (16, 4, 1, 4, 0)
    assert not t.shape and not t.base and not t.target
    fields = X.type_fields(f)
    assert [(fl.name, fl.offset, fl.aligned) for fl in fields] == [
        (b"a", 0, False), (b"b", 4, True), (b"c", 8, False), (b"d", 12, True)]
    b = fields[1].type.contents
    assert (b.kind, b.code, b.byteorder, b.native_size, b.itemsize, b.alignment) == (
        X.XBUF_KIND_INT, b"i", NATIVE, True, 4, 4)
    c = fields[2].type.contents
    assert (c.kind, c.code, c.ndim, X.type_shape(fields[2].type), c.itemsize) == (
        X.XBUF_KIND_ARRAY, b"(", 1, (3,), 3)
    assert c.base.contents.kind == X.XBUF_KIND_INT and c.base.contents.itemsize == 1

    # standard sizes, strings, bits, pointers, functions, complex
    g = parse("<10sH3t:x:6t:y:&>dX{ii->Zd}")
    kinds = [(fl.name, fl.offset, X.KIND_NAMES[fl.type.contents.kind]) for fl in
             X.type_fields(g)]
    assert kinds == [(None, 0, "BYTES"), (None, 10, "UINT"), (b"x", 12, "BITS"),
                     (b"y", 12, "BITS"), (None, 14, "POINTER"), (None, 14 + POINTER_SIZE,
                                                                 "FUNCTION")]
    s, h, bx, by, ptr, fn = (fl.type.contents for fl in X.type_fields(g))
    assert (s.count, s.itemsize, s.byteorder, s.native_size) == (10, 10, b"|", False)
    assert (h.itemsize, h.byteorder) == (2, b"<")
    assert (bx.count, bx.bit_offset, by.count, by.bit_offset) == (3, 0, 6, 3)
    assert by.itemsize == 2  # bits 3..8 span two bytes
    assert ptr.target.contents.code == b"d" and ptr.target.contents.byteorder == b">"
    assert fn.nfields == 2 and fn.target.contents.kind == X.XBUF_KIND_COMPLEX
    assert fn.target.contents.code == b"d" and fn.target.contents.itemsize == 16
    assert g.itemsize == 14 + 2 * POINTER_SIZE  # 9 bits take two bytes


def test_binding_walk_field_and_errors(xb):
    f = parse("T{i:a:T{h:x:(2)b:y:}:b:}")
    rc, leaves = X.type_walk(f)
    assert rc == 0
    assert [(lf.path, lf.offset, lf.depth) for lf in leaves] == [
        ("a", 0, 0), ("b.x", 4, 1), ("b.y[0]", 6, 1), ("b.y[1]", 7, 1)]
    rc, leaves = X.type_walk(f, stop_after=2)
    assert rc == 7 and len(leaves) == 2  # the visitor's non-zero return stops the walk
    rc, field, offset, _ = X.type_field(f, "b.y")
    assert (rc, field.name, field.offset, offset) == (0, b"y", 2, 6)
    rc, field, offset, err = X.type_field(f, "b.z")
    assert rc == X.XBUF_ERANGE == err.code and "z" in err.text()
    rc, field, offset, err = X.type_field(f, "a.q")
    assert rc == X.XBUF_ETYPE == err.code and err.text()
    rc, field, offset, err = X.type_field(parse("i"), "a")
    assert rc == X.XBUF_ETYPE
    rc, handle, err = X.format_parse("T{i")
    assert rc == X.XBUF_EFORMAT == err.code and handle is None  # *out is set to NULL
    assert err.position == 3 and err.text()
    assert X.format_size("@hd") == (0, 16, 8)
    assert X.format_size("=hd") == (0, 10, 1)
    rc, _, _ = X.format_size("Q{")
    assert rc == X.XBUF_EFORMAT
    # printing into a buffer too small: ERANGE, a NUL-terminated prefix and
    # the length needed
    text = X.type_print(f)
    assert text == "@T{i:a:T{h:x:(2)b:y:}:b:}"
    buf = ctypes.create_string_buffer(b"\xff" * 8)
    need = ctypes.c_size_t(0)
    err = X.XbufError()
    rc = xb.xbuf_type_print(f.root, buf, 8, ctypes.byref(need), ctypes.byref(err))
    assert rc == X.XBUF_ERANGE == err.code and err.text()
    assert (buf.value, need.value) == (text[:7].encode(), len(text))
    rc = xb.xbuf_type_print(f.root, None, 4, None, ctypes.byref(err))
    assert rc == X.XBUF_EINVAL


# =============================================================================
# 1. struct.calcsize
# =============================================================================

STRUCT_PREFIXES = ["", "@", "=", "<", ">", "!"]
STRUCT_CODES = "xcbB?hHiIlLqQefdsp"
NATIVE_ONLY_CODES = "nNP"
WHITESPACE = ["", "", "", " ", "  ", "\t", "\n", " \r\n "]

CODE_KIND = {
    "c": X.XBUF_KIND_CHAR, "b": X.XBUF_KIND_INT, "B": X.XBUF_KIND_UINT,
    "?": X.XBUF_KIND_BOOL, "h": X.XBUF_KIND_INT, "H": X.XBUF_KIND_UINT,
    "i": X.XBUF_KIND_INT, "I": X.XBUF_KIND_UINT, "l": X.XBUF_KIND_INT,
    "L": X.XBUF_KIND_UINT, "q": X.XBUF_KIND_INT, "Q": X.XBUF_KIND_UINT,
    "n": X.XBUF_KIND_INT, "N": X.XBUF_KIND_UINT, "e": X.XBUF_KIND_FLOAT,
    "f": X.XBUF_KIND_FLOAT, "d": X.XBUF_KIND_FLOAT, "s": X.XBUF_KIND_BYTES,
    "p": X.XBUF_KIND_PASCAL, "P": X.XBUF_KIND_VOIDP,
}
LENGTH_CODES = "sp"  # the count is a length, not a repeat


class StructFormat:
    """A struct-module format: one optional prefix, then (count, code) items."""

    def __init__(self, prefix: str, items, seps):
        self.prefix = prefix
        self.items = items  # [(count or None, code)]
        self.text = prefix + "".join(
            sep + ("" if n is None else str(n)) + code for sep, (n, code) in zip(seps, items))
        self.text += seps[-1] if len(seps) > len(items) else ""

    def item_text(self, i: int) -> str:
        n, code = self.items[i]
        return ("" if n is None else str(n)) + code

    def compact(self) -> str:
        return self.prefix + "".join(self.item_text(i) for i in range(len(self.items)))

    def order(self) -> bytes:
        return {"<": b"<", ">": b">", "!": b">"}.get(self.prefix, NATIVE)

    def __repr__(self):
        return f"StructFormat({self.text!r})"


@st.composite
def struct_formats(draw, codes=None, whitespace=True, max_items=8, max_count=12):
    prefix = draw(st.sampled_from(STRUCT_PREFIXES))
    if codes is None:
        codes = STRUCT_CODES + (NATIVE_ONLY_CODES if prefix in ("", "@") else "")
    items = draw(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, max_count)),
                                    st.sampled_from(codes)), min_size=1, max_size=max_items))
    if whitespace:
        seps = [""] + [draw(st.sampled_from(WHITESPACE)) for _ in items[1:]]
        seps.append(draw(st.sampled_from(WHITESPACE)))
    else:
        seps = [""] * len(items)
    return StructFormat(prefix, items, seps)


def check_struct_format(sf: StructFormat):
    text = sf.text
    size = struct.calcsize(text)
    f = parse(text)
    assert f.itemsize == size, (text, f.itemsize, size, X.type_tree(f))
    rc, xsize, xalign = X.format_size(text)
    assert (rc, xsize, xalign) == (0, size, f.type.alignment)

    # Offsets: struct places item k where calcsize(prefix + items[:k] + '0' + code)
    # ends -- a zero-count item is still aligned (struct's '0l' idiom).
    expected = []
    for k, (_, code) in enumerate(sf.items):
        if code == "x":
            continue  # padding is not a field
        before = sf.prefix + "".join(sf.item_text(i) for i in range(k))
        offset = struct.calcsize(before + "0" + code)
        expected.append((k, offset, code))
    got = top_level_offsets(f)
    assert got == [o for _, o, _ in expected], (text, got, expected)

    # Each item's node: size from struct, kind from its code, byte order
    # from the prefix (none for single bytes and strings).
    nodes = ([fl.type for fl in X.type_fields(f)]
             if f.type.kind == X.XBUF_KIND_STRUCT and not f.type.braces else [f.root])
    assert len(nodes) == len(expected)
    for node, (k, _, code) in zip(nodes, expected):
        n, _ = sf.items[k]
        t = node.contents
        assert t.itemsize == struct.calcsize(sf.prefix + sf.item_text(k)), (text, k)
        leaf = t
        if n is not None and n != 1 and code not in LENGTH_CODES:
            assert t.kind == X.XBUF_KIND_ARRAY and X.type_shape(node) == (n,)
            leaf = t.base.contents
        else:
            assert t.kind != X.XBUF_KIND_ARRAY
        assert leaf.kind == CODE_KIND[code] and leaf.code == code.encode()
        if code in LENGTH_CODES:
            assert leaf.count == (1 if n is None else n)
        unit = struct.calcsize(sf.prefix + code)
        has_order = code not in "cbB?sp" and unit > 1
        assert leaf.byteorder == (sf.order() if has_order else b"|"), (text, k)
    return f


@settings(max_examples=400, suppress_health_check=SLOW)
@given(struct_formats())
@example(StructFormat("", [(None, "b"), (None, "i")], ["", ""]))
@example(StructFormat("@", [(None, "i"), (None, "x")], ["", ""]))       # no trailing padding
@example(StructFormat("", [(None, "b"), (0, "l")], ["", ""]))          # the '0l' idiom
@example(StructFormat("=", [(None, "b"), (0, "q"), (5, "s")], ["", " ", "\n"]))
@example(StructFormat("", [(0, "s"), (0, "p"), (1, "p"), (0, "x")], ["", "", "", ""]))
@example(StructFormat("@", [(3, "?"), (None, "e"), (None, "P"), (2, "n")], ["", "", "", ""]))
def test_struct_formats_match_calcsize(xb, sf):
    note(sf.text)
    check_struct_format(sf)
    assert_round_trip(sf.text)


def read_vectors():
    if not VECTORS.is_file():
        return []  # test_vectors_cover_struct_rows fails and says why
    rows = []
    for line in VECTORS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fmt, size, offsets, source = line.split("\t")
        fields = {}
        for item in offsets.split():
            name, at = item.rsplit("@", 1)
            fields[name] = int(at)
        rows.append((fmt, int(size), fields, source))
    return rows


VECTOR_ROWS = read_vectors()


def sources(row) -> set[str]:
    """The oracles a row names: the words before any parenthesised comment
    ("struct, numpy", "struct (numpy says 8: ...)") -- not words inside it."""
    return set(re.split(r"[,\s]+", row[3].split("(")[0].strip())) - {""}


STRUCT_ROWS = [r for r in VECTOR_ROWS if "struct" in sources(r)]


def vector_field_offsets(f: X.Format) -> dict[str, int]:
    """{name or f<i>: offset} of the root's members, as the vectors write them."""
    t = f.type
    if t.kind != X.XBUF_KIND_STRUCT:
        return {}
    return {(fl.name.decode() if fl.name else f"f{i}"): fl.offset
            for i, fl in enumerate(X.type_fields(f))}


def test_vectors_cover_struct_rows():
    assert VECTORS.is_file(), (f"{VECTORS} not found: set XBUF_FORMAT_VECTORS to the "
                               f"shared formats.tsv")
    assert len(VECTOR_ROWS) >= 40 and len(STRUCT_ROWS) >= 15


@pytest.mark.parametrize("row", STRUCT_ROWS, ids=[r[0] for r in STRUCT_ROWS])
def test_vector_struct_rows(xb, row):
    fmt, size, fields, _ = row
    f = parse(fmt)
    assert f.itemsize == struct.calcsize(fmt)
    if LP64_X86_LIKE:
        assert struct.calcsize(fmt) == size  # the vector's own figure
        assert f.itemsize == size
        if len(fields) > 1 or f.type.kind == X.XBUF_KIND_STRUCT:
            assert vector_field_offsets(f) == fields
    assert_round_trip(fmt)


NUMPY_ROWS = [r for r in VECTOR_ROWS if "numpy" in r[3]]


@pytest.mark.parametrize("row", NUMPY_ROWS, ids=[r[0] for r in NUMPY_ROWS])
def test_vector_numpy_rows(xb, row):
    """The rows that cite NumPy: NumPy's parser gives the vector's itemsize,
    or the figure the row says NumPy gives where xbuf follows struct."""
    fmt, size, fields, source = row
    if not LP64_X86_LIKE:
        return  # the figures are x86-64 Linux ones
    says = re.search(r"numpy says (\d+)", source)
    back = numpy_parse(fmt)
    assert back.itemsize == (int(says.group(1)) if says else size), (fmt, back.itemsize)
    assert parse(fmt).itemsize == size
    if fields and back.names is not None and "numpy" in sources(row):
        assert {n: back.fields[n][1] for n in back.names} == fields, fmt


@pytest.mark.parametrize("row", VECTOR_ROWS, ids=[r[0] for r in VECTOR_ROWS])
def test_vector_rows_layout(xb, row):
    """Every row (struct, numpy and the rest): xbuf's itemsize and member
    offsets are the vector's, on the platform the vectors describe; the
    canonical text round-trips everywhere."""
    fmt, size, fields, _ = row
    f = parse(fmt)
    if LP64_X86_LIKE:
        assert f.itemsize == size, (fmt, f.itemsize, size)
        if fields:
            assert vector_field_offsets(f) == fields, fmt
    assert_round_trip(fmt)


# =============================================================================
# 2. NumPy
# =============================================================================



def numpy_export(dt: np.dtype) -> str:
    """NumPy's own PEP 3118 description of one item of `dt`."""
    arr = np.zeros(3, dt)
    m = memoryview(arr)
    assert m.itemsize == dt.itemsize
    return m.format


def np_struct_paths(dt: np.dtype, path="", offset=0):
    """[(dotted path, offset, dtype)] of every struct member, at every depth
    of struct nesting (not through sub-arrays)."""
    out = []
    if dt.names is None:
        return out
    for name in dt.names:
        sub, at = dt.fields[name][:2]
        p = f"{path}.{name}" if path else name
        out.append((p, offset + at, sub))
        if sub.subdtype is None:
            out += np_struct_paths(sub, p, offset + at)
    return out


NP_KIND = {"i": X.XBUF_KIND_INT, "u": X.XBUF_KIND_UINT, "b": X.XBUF_KIND_BOOL,
           "f": X.XBUF_KIND_FLOAT, "c": X.XBUF_KIND_COMPLEX, "S": X.XBUF_KIND_BYTES,
           "U": X.XBUF_KIND_UCS4, "V": X.XBUF_KIND_VOID}


def np_byteorder(dt: np.dtype) -> bytes:
    return {"=": NATIVE, "|": b"|", "<": b"<", ">": b">"}[dt.byteorder]


def np_count(dt: np.dtype) -> int:
    return {"S": dt.itemsize, "V": dt.itemsize, "U": dt.itemsize // 4}.get(dt.kind, 1)


def export_is_consistent(dt: np.dtype, fmt: str) -> bool:
    """Whether NumPy's own parser reads its export back to the dtype's
    layout: the same itemsize, the same leaves at the same offsets, and
    every struct member (at every depth) at the same offset with the same
    itemsize.  The last fails when NumPy writes a nested aligned record's
    trailing padding as 'x' after its '}' ('T{=h:a:b:b:}:a:x'): the bytes
    are placed right, but the member's type is not the dtype's."""
    try:
        back = numpy_parse(fmt)
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
        return False
    if back.itemsize != dt.itemsize:
        return False

    def layout(d):
        return ([(p, o, t.itemsize) for p, o, t in np_leaf_list(d)],
                [(p, o, t.itemsize) for p, o, t in np_struct_paths(d)])

    return layout(dt) == layout(back)


def struct_switches_alignment(fmt: str) -> bool:
    """Whether some T{...} of `fmt` starts under '@' and ends under another
    mode, or the reverse (a mode character inside it, still in force at its
    '}').  Such a struct's alignment and padding are decided by the mode in
    force after its '}' (NumPy's reading, docs/format.md).  A scanner for
    NumPy's exports: names skipped, no X{} or &."""
    mode, stack, i = "@", [], 0
    while i < len(fmt):
        c = fmt[i]
        if c == ":":
            i = fmt.index(":", i + 1) + 1
            continue
        if c in "@=<>!^":
            mode = c
        elif c == "{":
            stack.append(mode)
        elif c == "}":
            if (stack.pop() == "@") != (mode == "@"):
                return True
        i += 1
    return False


def numpy_reads_leaves_back(dt: np.dtype, fmt: str) -> bool:
    """Whether NumPy's own parser finds every leaf of its export where the
    dtype has it (path, offset, size) -- itemsizes aside."""
    try:
        back = numpy_parse(fmt)
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
        return False
    return ([(p, o, t.itemsize) for p, o, t in np_leaf_list(dt)]
            == [(p, o, t.itemsize) for p, o, t in np_leaf_list(back)])


def check_xbuf_against_dtype(fmt: str, dt: np.dtype, full: bool = True):
    """xbuf's reading of `fmt` against the dtype NumPy exported it from:
    every leaf (always), and with `full` the itemsize and every struct
    member's offset and type (only where the export describes them)."""
    f = parse(fmt)
    if full:
        assert f.itemsize == dt.itemsize, (fmt, f.itemsize, dt.itemsize, X.type_tree(f))
    # every leaf, in order, at NumPy's offset, with NumPy's kind, size, order, length
    rc, leaves = X.type_walk(f)
    assert rc == 0
    expected = np_leaf_list(dt)
    assert [(lf.path, lf.offset) for lf in leaves] == [(p, o) for p, o, _ in expected], fmt
    for lf, (path, _, d) in zip(leaves, expected):
        assert (lf.kind, lf.itemsize, lf.byteorder, lf.count) == (
            NP_KIND[d.kind], d.itemsize, np_byteorder(d), np_count(d)), (fmt, path, d)
        assert lf.depth == path.count(".")
    if not full:
        return f
    # every member at every struct depth, through xbuf_type_field
    for path, offset, d in np_struct_paths(dt):
        rc, field, at, err = X.type_field(f, path)
        assert rc == 0, (fmt, path, err.text())
        assert at == offset, (fmt, path, at, offset)
        t = field.type.contents
        assert t.itemsize == d.itemsize, (fmt, path)
        if d.subdtype is not None:
            assert t.kind == X.XBUF_KIND_ARRAY
            assert X.type_shape(field.type) == d.subdtype[1]
        elif d.names is not None:
            assert t.kind == X.XBUF_KIND_STRUCT and t.braces
            assert [fl.name.decode() for fl in X.type_fields(field.type)] == list(d.names)
    return f


@settings(max_examples=250, suppress_health_check=SLOW + [HealthCheck.filter_too_much])
@given(np_structs())
@example(np.dtype([("a", "i1"), ("b", "<f8")], align=True))
@example(np.dtype([("a", "i1"), ("b", [("c", "i2"), ("d", "f8")])], align=True))
@example(np.dtype([("a", "(2,3)i2"), ("b", ">U3"), ("c", "S5"), ("d", "V4"), ("e", "g"),
                   ("f", "G"), ("g", "?")]))
@example(np.dtype([("a", "i1"), ("b", ">i4"), ("c", "l"), ("d", "<l")], align=True))
@example(np.dtype([("a", "i1"), ("p", np.dtype([("x", "i1"), ("y", "i4")]))], align=True))
@example(np.dtype([("a", "i1"), ("p", np.dtype([("x", "i1"), ("y", "i4")], align=True))]))
@example(np.dtype([("a", "i1"), ("b", [("x", "i4"), ("y", "i1")], (2,))], align=True))
@example(np.dtype([("a", "i1"), ("s", np.dtype([("x", "i2"), ("y", ">i2")])), ("c", "i2")],
                  align=True))
@example(np.dtype([("s", np.dtype([("a", "i4"), ("b", ">i2")]), (3,))], align=True))
# known bug (test_aligned_record_followed_by_a_field_matches_numpy)
@example(np.dtype([("s", np.dtype([("a", "i4"), ("b", ">i2")], align=True)), ("c", "i4")],
                  align=True))
# known bug (test_packed_record_inside_an_aligned_record_matches_numpy)
@example(np.dtype([("s", np.dtype([("a", "i4"), ("b", ">i2"), ("c", "i1")])), ("b", "i1")],
                  align=True))
def test_numpy_export_matches_dtype(xb, dt):
    fmt = numpy_export(dt)
    note(fmt)
    # Skip exports NumPy itself cannot read back to this dtype's leaves: for
    # some dtypes (e.g. a field after a sub-array of aligned structs) NumPy's
    # exporter writes padding that does not match its own offsets, so the
    # format describes a different layout.  Such examples are checked
    # against NumPy's parser in the next test.
    assume(numpy_reads_leaves_back(dt, fmt))
    # Where NumPy's parser also gets the itemsize and every member's type
    # right, so must xbuf.  Otherwise (trailing padding the format cannot
    # describe: an aligned record whose last member is not native leaves
    # '>' in force at its '}', so no padding is implied, and NumPy writes
    # the padding as 'x' after the '}' when another member follows) only
    # the leaves are compared.
    full = export_is_consistent(dt, fmt)
    check_xbuf_against_dtype(fmt, dt, full=full)
    assert_round_trip(fmt)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(np_structs())
@example(np.dtype([("a", "i1"), ("b", [("x", "i4"), ("y", "i1")], (2,)), ("c", "i1")],
                  align=True))
def test_numpy_export_matches_numpy_parser(xb, dt):
    """Every export, consistent or not: xbuf reads a T{...} exactly as NumPy's
    parser does (same itemsize, same leaves at the same offsets), including
    structs whose mode switches inside them.  A T{} root has no top-level
    list, so the padding difference of the top-level tests below does not
    arise."""
    fmt = numpy_export(dt)
    note(fmt)
    back = numpy_parse(fmt)
    f = parse(fmt)
    assert f.itemsize == back.itemsize, (fmt, f.itemsize, back.itemsize)
    rc, leaves = X.type_walk(f)
    assert rc == 0
    assert [(lf.path, lf.offset, lf.itemsize) for lf in leaves] == [
        (p, o, d.itemsize) for p, o, d in np_leaf_list(back)], fmt
    assert_round_trip(fmt)


def test_inconsistent_numpy_export_is_read_as_numpy_reads_it(xb):
    """The kind of export the dtype test skips.  For this aligned dtype
    NumPy's exporter counts each sub-array element as the 5 bytes it writes
    ('T{i:x:b:y:}') and pads from 14 to 'c' at 20 with six 'x'; readers give
    each element its aligned 8 bytes, so the format says 'c' at 26 and
    itemsize 28 where the dtype says 20 and 24.  xbuf reads the text as
    written, like NumPy's parser."""
    dt = np.dtype([("a", "i1"), ("b", [("x", "i4"), ("y", "i1")], (2,)), ("c", "i1")],
                  align=True)
    assert dt.itemsize == 24 and dt.fields["c"][1] == 20
    fmt = "T{b:a:xxx(2)T{i:x:b:y:}:b:xxxxxxb:c:}"
    assert numpy_parse(fmt).itemsize == 28
    f = parse(fmt)
    assert f.itemsize == 28
    assert X.type_field(f, "c")[2] == 26 == numpy_parse(fmt).fields["c"][1]
    assert not export_is_consistent(dt, fmt)


def test_packed_record_inside_an_aligned_record_matches_numpy(xb):
    """A NumPy array whose export NumPy reads back exactly (itemsize 8,
    field 'b' at 7): an aligned record holding a *packed* record that
    starts with a native int and goes on with a big-endian short.  NumPy
    writes 'T{T{i:a:>h:b:b:c:}:s:b:b:}'.  The inner struct closes under
    '>', so (NumPy's reading, docs/format.md) it is placed unaligned and
    not padded: 'b' lands at 7 in an 8-byte item, as in NumPy."""
    dt = np.dtype([("s", np.dtype([("a", "i4"), ("b", ">i2"), ("c", "i1")])), ("b", "i1")],
                  align=True)
    fmt = numpy_export(dt)
    assert dt.itemsize == 8 and dt.fields["b"][1] == 7
    assert export_is_consistent(dt, fmt)  # NumPy's parser: 8 bytes, 'b' at 7
    assert struct_switches_alignment(fmt)
    check_xbuf_against_dtype(fmt, dt)


@pytest.mark.parametrize("fields, expected_export", [
    ([("s", "R"), ("c", "i1")], "T{T{i:a:>h:b:}:s:xxb:c:}"),
    ([("s", "R"), ("c", "i4")], "T{T{i:a:>h:b:}:s:xx@i:c:}"),
])
def test_aligned_record_followed_by_a_field_matches_numpy(xb, fields, expected_export):
    """An aligned record R = (i4, >i2) -- 8 bytes, the case docs/format.md
    gives for xbuf's rule -- followed by another member.  NumPy's exporter
    writes R as 'T{i:a:>h:b:}' and then R's two bytes of trailing padding
    explicitly ('xx') before the next member.  NumPy's parser reads the
    next member at the dtype's offset (8, or 16 after two Rs); xbuf adds
    R's rounded footprint *and* the explicit padding, and puts 'c' at 10,
    12 and 20 instead of 8, 8 and 16.  (For two Rs NumPy's parser misplaces
    s[1] instead -- the documented case, which xbuf gets right.)"""
    R = np.dtype([("a", "i4"), ("b", ">i2")], align=True)
    dt = np.dtype([(f[0], R, *f[2:]) if f[1] == "R" else f for f in fields], align=True)
    fmt = numpy_export(dt)
    assert fmt == expected_export
    c = dt.fields["c"][1]
    assert numpy_parse(fmt).fields["c"][1] == c  # NumPy finds 'c' where it is
    f = parse(fmt)
    rc, leaves = X.type_walk(f)
    assert rc == 0
    got = {lf.path: lf.offset for lf in leaves}
    assert got == {p: o for p, o, _ in np_leaf_list(dt)}, (fmt, got, c)


@pytest.mark.parametrize("fmt, size, offsets", [
    ("3T{i=b}", 15, None),
    ("T{d:a:=b:c:}", 9, {"a": 0, "c": 8}),
    ("T{(3)T{i:a:>h:b:}:x:}", 18, {"x[2].a": 12, "x[2].b": 16}),
    ("T{(2)T{i:a:>h:b:}:s:xxxxb:c:}", 17, {"s[1].a": 6, "c": 16}),
])
def test_struct_that_switches_mode_agrees_with_numpys_parser(xb, fmt, size, offsets):
    """docs/format.md: whether an item is placed aligned, and whether a
    struct is padded, depends on the mode in force after it -- for T{...}
    the mode at its closing brace -- as NumPy's parser reads it.  NumPy's
    exports of aligned records whose last member switches the byte order
    ('T{i:a:>h:b:}', really 8 bytes) cannot say that the record is padded;
    xbuf reads them as NumPy's own parser does, and the export is then not
    consistent with the dtype (the property tests skip such exports)."""
    assert struct_switches_alignment(fmt)
    f = parse(fmt)
    assert f.itemsize == size == numpy_parse(fmt).itemsize
    if offsets:
        rc, leaves = X.type_walk(f)
        assert rc == 0
        got = {lf.path: lf.offset for lf in leaves}
        assert {k: got[k] for k in offsets} == offsets, got
    assert_round_trip(fmt)
    if fmt == "T{(3)T{i:a:>h:b:}:x:}":
        inner = np.dtype([("a", "i4"), ("b", ">i2")], align=True)
        dt = np.dtype([("x", inner, (3,))], align=True)
        assert numpy_export(dt) == fmt and dt.itemsize == 24
        assert not export_is_consistent(dt, fmt)  # NumPy cannot read its own export


NUMPY_STRUCT_CODES = "xcbB?hHiIlLqQefds"  # struct codes NumPy's parser knows


@settings(max_examples=300, suppress_health_check=SLOW)
@given(struct_formats(codes=NUMPY_STRUCT_CODES, whitespace=False))
@example(StructFormat("", [(None, "i"), (None, "x")], [""]))
@example(StructFormat("@", [(None, "i"), (7, "x")], [""]))
@example(StructFormat("=", [(None, "i"), (7, "x")], [""]))
@example(StructFormat("", [(None, "b"), (0, "l")], [""]))
def test_top_level_lists_vs_numpy_parser(xb, sf):
    """The documented difference (DESIGN.md, Layout rules; formats.tsv rows
    'ix', 'ixx', 'i7x'): NumPy's parser pads a top-level item list to its
    alignment when '@' is in force at the end, as if it were a T{...};
    struct.calcsize, and xbuf, do not.  Everything else agrees: the items'
    offsets are the same, and under '= < > !' so is the itemsize."""
    text = sf.compact()
    note(text)
    back = numpy_parse(text)
    f = parse(text)
    assert f.itemsize == struct.calcsize(text)
    if sf.prefix in ("", "@"):
        assert back.itemsize == round_up(f.itemsize, f.type.alignment), (text, back.itemsize)
    else:
        assert back.itemsize == f.itemsize, text
    rc, leaves = X.type_walk(f)
    assert rc == 0
    # NumPy reads 'c' as S1 and unwraps a lone item like xbuf; compare places.
    assert [(lf.path, lf.offset, lf.itemsize) for lf in leaves] == [
        (p, o, d.itemsize) for p, o, d in np_leaf_list(back)], text


@pytest.mark.parametrize("fmt, struct_size, numpy_size", [
    ("ix", 5, 8), ("ixx", 6, 8), ("i7x", 11, 12), ("@hx", 3, 4), ("dxb", 10, 16),
    ("bi", 8, 8), ("=ix", 5, 5), ("^i7x", None, 11), ("T{ix}", None, 8),
])
def test_top_level_padding_differs_from_numpy_on_purpose(xb, fmt, struct_size, numpy_size):
    """xbuf follows struct.calcsize for a top-level item list: no padding
    after the last item, so that every format struct accepts has struct's
    size.  NumPy's parser adds the padding a C struct would get.  Inside
    T{...} both pad, so there xbuf and NumPy agree."""
    f = parse(fmt)
    assert numpy_parse(fmt).itemsize == numpy_size
    if struct_size is not None:
        assert struct.calcsize(fmt) == struct_size
        assert f.itemsize == struct_size
        assert (f.itemsize == numpy_size) == (struct_size == numpy_size)
    else:  # not a struct format: xbuf agrees with NumPy
        assert f.itemsize == numpy_size
    rows = {r[0]: r for r in VECTOR_ROWS}
    if fmt in rows:
        size, source = rows[fmt][1], rows[fmt][3]
        assert size == f.itemsize
        m = re.search(r"numpy says (\d+)", source)
        if m:
            assert int(m.group(1)) == numpy_size


# =============================================================================
# 3. ctypes
# =============================================================================

# (ctypes type, its code under '@' -- native sizes, built by hand)
CT_LEAVES = [
    (ctypes.c_int8, "b"), (ctypes.c_uint8, "B"), (ctypes.c_int16, "h"), (ctypes.c_uint16, "H"),
    (ctypes.c_int32, "i"), (ctypes.c_uint32, "I"), (ctypes.c_int64, "q"),
    (ctypes.c_uint64, "Q"), (ctypes.c_short, "h"), (ctypes.c_int, "i"), (ctypes.c_long, "l"),
    (ctypes.c_ulong, "L"), (ctypes.c_longlong, "q"), (ctypes.c_ulonglong, "Q"),
    (ctypes.c_float, "f"), (ctypes.c_double, "d"), (ctypes.c_char, "c"),
    (ctypes.c_bool, "?"), (ctypes.c_longdouble, "g"), (ctypes.c_void_p, "P"),
    (ctypes.c_size_t, "N"), (ctypes.c_ssize_t, "n"),
]
# BigEndianStructure refuses bool, long double and pointers.
CT_SWAPPABLE = [(t, c) for t, c in CT_LEAVES
                if t not in (ctypes.c_bool, ctypes.c_longdouble, ctypes.c_void_p)]
# c_wchar is left out: ctypes exports it as 'u' (UCS-2) with 4 bytes on Linux.


class CtStruct:
    """A generated ctypes Structure with its description: `members` is
    [(name, node)], node = ('leaf', ctype, code) | ('struct', CtStruct) |
    ('array', dims, node)."""

    counter = 0

    def __init__(self, members, big: bool):
        CtStruct.counter += 1
        self.members = members
        self.big = big
        base = ctypes.BigEndianStructure if big else ctypes.Structure
        self.cls = type(f"S{CtStruct.counter}", (base,),
                        {"_fields_": [(n, self.ctype(nd, False)) for n, nd in members]})
        self.packed = type(f"P{CtStruct.counter}", (base,),
                           {"_pack_": 1,
                            "_fields_": [(n, self.ctype(nd, True)) for n, nd in members]})

    @staticmethod
    def ctype(node, packed):
        if node[0] == "leaf":
            return node[1]
        if node[0] == "struct":
            return node[1].packed if packed else node[1].cls
        t = CtStruct.ctype(node[2], packed)
        for d in reversed(node[1]):
            t = t * d
        return t

    def aligned_format(self, mode="@") -> str:
        """The same member list written by hand under '@': native codes,
        every member at its C alignment."""
        parts = []
        for name, node in self.members:
            shape = ""
            if node[0] == "array":
                shape = "(" + ",".join(map(str, node[1])) + ")"
                node = node[2]
            body = mode + node[2] if node[0] == "leaf" else node[1].aligned_format(mode)
            parts.append(f"{shape}{body}:{name}:")
        return "T{" + "".join(parts) + "}"

    def offsets(self, packed: bool, path="", base=0):
        """[(dotted path, offset, ctype)] for every member at every depth of
        struct nesting, from ctypes' own field descriptors."""
        cls = self.packed if packed else self.cls
        out = []
        for name, node in self.members:
            at = base + getattr(cls, name).offset
            p = f"{path}.{name}" if path else name
            out.append((p, at, self.ctype(node, packed)))
            if node[0] == "struct":
                out += node[1].offsets(packed, p, at)
        return out

    def leaves(self, packed: bool, path="", base=0):
        """[(walk path, offset, size)] of every leaf, from ctypes' offsets."""
        cls = self.packed if packed else self.cls
        out = []
        for name, node in self.members:
            at = base + getattr(cls, name).offset
            p = f"{path}.{name}" if path else name
            out += self._node_leaves(node, packed, p, at)
        return out

    def _node_leaves(self, node, packed, path, at):
        if node[0] == "leaf":
            return [(path, at, sizeof(node[1]))]
        if node[0] == "struct":
            return node[1].leaves(packed, path, at)
        dims, elem = node[1], node[2]
        size = sizeof(self.ctype(elem, packed))
        out = []
        for k, index in enumerate(np.ndindex(*dims)):
            out += self._node_leaves(elem, packed, path + "".join(f"[{i}]" for i in index),
                                     at + k * size)
        return out

    def packed_size(self) -> int:
        """The packed layout, computed by hand: the members' sizes summed."""
        total = 0
        for _, node in self.members:
            total += self._node_packed_size(node)
        return total

    def _node_packed_size(self, node) -> int:
        if node[0] == "leaf":
            return sizeof(node[1])
        if node[0] == "struct":
            return node[1].packed_size()
        n = 1
        for d in node[1]:
            n *= d
        return n * self._node_packed_size(node[2])

    def __repr__(self):
        return f"CtStruct({self.aligned_format()!r}, big={self.big})"


@st.composite
def ct_structs(draw, depth=0, big=None, min_members=1):
    if big is None:
        big = draw(st.booleans())
    leaves = CT_SWAPPABLE if big else CT_LEAVES
    names = draw(st.lists(st.sampled_from(NP_NAMES), min_size=min_members, max_size=5,
                          unique=True))
    members = []
    for name in names:
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            node = ("struct", draw(ct_structs(depth + 1, big, min_members=0)))
        else:
            t, code = draw(st.sampled_from(leaves))
            node = ("leaf", t, code)
        if draw(st.integers(0, 3)) == 0:
            dims = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
            node = ("array", dims, node)
        members.append((name, node))
    return CtStruct(members, big)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(ct_structs())
def test_ctypes_export_is_packed(xb, s):
    """ctypes exports '<' (or '>') before every member: standard byte order,
    no alignment -- a packed layout -- while the memory holds the aligned C
    layout and the view's itemsize is ctypes.sizeof (cpython #76961).
    xbuf reads the format as written: its itemsize and offsets are those
    of the packed layout (the same Structure with _pack_ = 1), which differ
    from memoryview's itemsize whenever the C layout has padding."""
    m = memoryview(s.cls())
    fmt = m.format
    note(fmt)
    assert m.itemsize == sizeof(s.cls)  # the exporter's itemsize: the aligned one
    f = parse(fmt)
    assert f.itemsize == s.packed_size() == sizeof(s.packed), (fmt, f.itemsize)
    assert (f.itemsize == m.itemsize) == (sizeof(s.packed) == sizeof(s.cls))
    for path, offset, ct in s.offsets(packed=True):
        rc, field, at, err = X.type_field(f, path)
        assert rc == 0, (fmt, path, err.text())
        assert at == offset, (fmt, path, at, offset)
        assert field.type.contents.itemsize == sizeof(ct)
    if leaf_count(f.root) <= 5000:
        rc, leaves = X.type_walk(f)
        assert rc == 0
        assert [(lf.path, lf.offset, lf.itemsize) for lf in leaves] == s.leaves(packed=True)
        order = b">" if s.big else b"<"
        assert all(lf.byteorder in (order, b"|") for lf in leaves)
    assert_round_trip(fmt)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(ct_structs())
@example(CtStruct([("a", ("leaf", ctypes.c_int, "i")), ("b", ("leaf", ctypes.c_double, "d"))],
                  False))
def test_ctypes_fields_under_native_alignment_give_sizeof(xb, s):
    """The same member list written under '@' ("T{@i:a:@d:b:}", built here
    from the Structure's description, not from ctypes' text) is the C
    layout: itemsize == ctypes.sizeof, every member at ctypes' offset
    (Structure.<field>.offset, nested structs included).  For a
    BigEndianStructure only the layout is compared: '@' means native order,
    and no PEP 3118 mode says "aligned, big-endian"."""
    aligned = s.aligned_format()
    note(aligned)
    f = parse(aligned)
    assert f.itemsize == sizeof(s.cls), (aligned, f.itemsize, sizeof(s.cls))
    assert f.type.alignment == ctypes.alignment(s.cls)
    for path, offset, ct in s.offsets(packed=False):
        rc, field, at, err = X.type_field(f, path)
        assert rc == 0, (aligned, path, err.text())
        assert at == offset, (aligned, path, at, offset)
        assert field.type.contents.itemsize == sizeof(ct), (aligned, path)
    if leaf_count(f.root) <= 5000:
        rc, leaves = X.type_walk(f)
        assert rc == 0
        assert [(lf.path, lf.offset, lf.itemsize) for lf in leaves] == s.leaves(packed=False)
    # ctypes' own text with its '<' / '>' turned into '@' describes the same
    # bytes (its codes differ: 'q' for c_long, where the hand-built text says 'l').
    exported = memoryview(s.cls()).format
    g = parse(re.sub(r"[<>]", "@", exported))
    assert g.itemsize == sizeof(s.cls)
    assert X.type_layout_compatible(f, g), (aligned, exported)
    assert_round_trip(aligned)


# =============================================================================
# 4. round trip, over every generator at once
# =============================================================================


ALL_LEAF_CODES = list("xcbB?hHiIlLqQnNefdgspPuwO") + ["Ze", "Zf", "Zd", "Zg"]


@st.composite
def pep3118_items(draw, depth=0, value=False):
    """One item of the whole PEP 3118 language: modes anywhere, sub-array
    shapes, counts, every code, bit fields, pointers, structs, function
    pointers, names.  A `value` (what '&' points to, a function's result)
    is never padding or a bit field, and has no name."""
    out = draw(st.sampled_from(["", "", "", "@", "^", "=", "<", ">", "!", " "]))
    kinds = ["leaf"] * 6 + ([] if value else ["bits"])
    kinds += ["struct", "pointer", "function"] if depth < 3 else []
    kind = draw(st.sampled_from(kinds))
    if kind == "bits":
        out += f"{draw(st.integers(0, 12))}t"
    else:
        if draw(st.integers(0, 4)) == 0:
            out += "(" + ",".join(str(draw(st.integers(0, 3)))
                                  for _ in range(draw(st.integers(1, 3)))) + ")"
        out += draw(st.sampled_from(["", "", "", "@", "<", "^"]))
        if draw(st.integers(0, 3)) == 0:
            out += str(draw(st.integers(0, 4)))
        if kind == "leaf":
            out += draw(st.sampled_from(ALL_LEAF_CODES[1:] if value else ALL_LEAF_CODES))
        elif kind == "struct":
            out += "T{" + draw(pep3118_lists(depth + 1)) + "}"
        elif kind == "pointer":
            out += "&" + draw(pep3118_items(depth + 1, value=True))
        else:
            out += "X{" + draw(pep3118_lists(depth + 1, min_size=0))
            if draw(st.booleans()):
                out += "->" + draw(pep3118_items(depth + 1, value=True))
            out += "}"
    if not value and draw(st.integers(0, 2)) == 0:
        out += ":" + draw(st.sampled_from(NP_NAMES + ["with space", "f\u00e9", "}{"])) + ":"
    return out


@st.composite
def pep3118_lists(draw, depth=0, min_size=1):
    items = draw(st.lists(pep3118_items(depth), min_size=min_size, max_size=4))
    # field names must be unique within one struct: drop repeated ones
    seen, out = set(), []
    for item in items:
        m = re.search(r":([^:]*):$", item)
        if m and m.group(1) in seen:
            item = item[:m.start()]
        elif m:
            seen.add(m.group(1))
        out.append(item)
    return "".join(out)


@st.composite
def any_generated_format(draw):
    which = draw(st.integers(0, 4))
    if which == 4:
        return draw(pep3118_lists())
    if which == 0:
        return draw(struct_formats()).text
    if which == 1:
        return numpy_export(draw(np_structs()))
    if which == 2:
        s = draw(ct_structs())
        return draw(st.sampled_from([memoryview(s.cls()).format, s.aligned_format(),
                                     s.aligned_format("^"), s.aligned_format("=")]))
    pair = draw(compat_pairs())
    return draw(st.sampled_from([pair.original, pair.expanded]))


@settings(max_examples=300, suppress_health_check=SLOW)
@given(any_generated_format())
@example("x3T{xi}")
@example("^x3T{xi}")
@example("T{b:a:xxxi:b:3b:c:xi:d:}")
@example("@T{^i}xi")
@example("T{b:a:=i:b:b:c:b:d:b:e:T{b:f0:xxxi:f1:}:sub:}")
@example("3t:a:5t:b:B")
@example("&T{i:a:}X{Zd&i->d}:cb:")
@example("=T{@i}")
def test_round_trip(xb, text):
    note(text)
    printed = assert_round_trip(text)
    f, g = parse(text), parse(printed)
    rc, fs, _ = X.format_size(printed)
    assert rc == 0 and fs == f.itemsize == g.itemsize


@pytest.mark.parametrize("text", ["0x", "@0x", "^0x", "<0x0x", "0x 0x"])
def test_print_of_an_empty_item_list_parses(xb, text):
    """struct accepts "0x" (calcsize 0) and so does xbuf: a top-level list
    with no members and itemsize 0.  Its canonical text must parse back to
    an equal type (format.h, xbuf_type_print)."""
    if not text.startswith("^"):  # '^' is PEP 3118's, not struct's
        assert struct.calcsize(text) == 0
    f = parse(text)
    assert is_empty_list(f)
    printed = X.type_print(f)
    rc, g, err = X.format_parse(printed)
    assert rc == 0, (text, printed, err.text())
    assert X.type_equal(f, g) and g.itemsize == 0


# =============================================================================
# 5. layout compatibility vs equality
# =============================================================================

# repeatable leaf codes (not s p u w: there the count is a length)
COMPAT_CODES = list("bBhHiIlLqQefd?c") + ["Zf", "Zd"]
# a code of the same size (in every mode) and alignment but another kind
OTHER_KIND = {"b": "B", "B": "b", "?": "b", "c": "B", "h": "H", "H": "e", "e": "h",
              "i": "I", "I": "f", "f": "i", "l": "L", "L": "l", "q": "d", "Q": "d", "d": "Q"}


class CompatPair:
    def __init__(self, original, expanded, structural, names, mutable):
        self.original = original
        self.expanded = expanded
        self.structural = structural  # an expansion changed the tree
        self.names = names            # a name was stripped
        self.mutable = mutable        # indexes (in `expanded`) of leaf codes OTHER_KIND maps

    def __repr__(self):
        return f"CompatPair({self.original!r}, {self.expanded!r})"


@st.composite
def compat_items(draw, depth, out):
    """Items as (original text, expanded text); `out` collects flags."""
    orig, exp = [], []
    used = set()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["leaf"] * 4 + ["pad"] + (["struct"] if depth < 2 else [])))
        count = draw(st.sampled_from([None, None, None, 1, 2, 3]))
        shape = draw(st.sampled_from([None] * 4 + [(2,), (1,), (2, 2), (3, 1)]))
        if kind == "pad":
            n = draw(st.integers(1, 4))
            orig.append(f"{n}x")
            exp.append("x" * n)
            continue
        if kind == "leaf":
            code = draw(st.sampled_from(COMPAT_CODES))
            o_body = e_body = code
        else:
            o_body, e_body = draw(compat_items(depth + 1, out))
            o_body, e_body = "T{" + o_body + "}", "T{" + e_body + "}"
        reps = (count or 1)
        prefix = ""
        if shape is not None:
            prefix = "(" + ",".join(map(str, shape)) + ")"
            for s in shape:
                reps *= s
            out["structural"] = True
        if count not in (None, 1):
            out["structural"] = True
        o = prefix + ("" if count is None else str(count)) + o_body
        name = None
        if draw(st.booleans()):
            name = draw(st.sampled_from(NP_NAMES))
            if name not in used:
                used.add(name)
                o += f":{name}:"
                out["names"] = True
        orig.append(o)
        exp.extend([e_body] * reps)
    return "".join(orig), " ".join(exp)


@st.composite
def compat_pairs(draw):
    mode = draw(st.sampled_from(["", "@", "=", "<", ">", "^"]))
    flags = {"structural": False, "names": False}
    o, e = draw(compat_items(0, flags))
    expanded = mode + e
    mutable = [m.start() for m in re.finditer(r"(?<![Z0-9])[bB?chHeiIflLqQd](?![0-9])",
                                              expanded)]
    return CompatPair(mode + o, expanded, flags["structural"], flags["names"], mutable)


@settings(max_examples=300, suppress_health_check=SLOW)
@given(compat_pairs(), st.data())
@example(CompatPair("3i", "iii", True, False, [0, 1, 2]), None)
@example(CompatPair("T{i:a:d:b:}", "T{i d}", False, True, [2, 4]), None)
@example(CompatPair("2T{bi}", "T{bi} T{bi}", True, False, [2, 3, 8, 9]), None)
@example(CompatPair("(2,3)h", "h h h h h h", True, False, [0, 2, 4, 6, 8, 10]), None)
@example(CompatPair("i:a:", "i", False, True, [0]), None)           # struct vs leaf
@example(CompatPair("T{(1)d}", "T{d}", True, False, [2]), None)
def test_expanded_counts_and_stripped_names_are_compatible_not_equal(xb, pair, data):
    """Repeat counts and sub-array shapes written out item by item, names
    dropped: the bytes are the same, so the types are layout-compatible
    (format.h: "names and grouping ignored"); where that changed the tree
    they are not equal.  Changing one leaf to another kind of the same size
    makes them incompatible."""
    note(repr(pair))
    a, b = parse(pair.original), parse(pair.expanded)
    assert a.itemsize == b.itemsize
    assert X.type_layout_compatible(a, b), (pair, X.type_tree(a), X.type_tree(b))
    assert X.type_layout_compatible(b, a)
    if pair.structural or pair.names:
        assert not X.type_equal(a, b), pair
    else:
        assert X.type_equal(a, b), pair
    assert_round_trip(pair.original)
    assert_round_trip(pair.expanded)
    if data is not None and pair.mutable:
        i = data.draw(st.sampled_from(pair.mutable))
        text = pair.expanded
        mutated = text[:i] + OTHER_KIND[text[i]] + text[i + 1:]
        c = parse(mutated)
        assert c.itemsize == b.itemsize, (text, mutated)
        assert not X.type_layout_compatible(b, c), (text, mutated)
        assert not X.type_layout_compatible(a, c), (pair.original, mutated)


@pytest.mark.parametrize("a, b", [
    ("T{i}", "i"), ("i:a:", "i"), ("(1)i", "i"), ("T{T{d}}", "d"), ("(1)T{i}", "i"),
    ("T{h:x:}", "=h"), ("T{i}", "T{T{i}}"),
])
def test_grouping_is_ignored_even_around_a_single_leaf(xb, a, b):
    """format.h: layout-compatible means the same itemsize and the same
    leaves at the same offsets, "names and grouping ignored".  A struct or a
    one-element array holding one int has exactly the bytes of that int, and
    "T{i}" is compatible with "T{T{i}}", so it must be with "i" as well
    (otherwise compatibility is not transitive)."""
    fa, fb = parse(a), parse(b)
    assert fa.itemsize == fb.itemsize
    assert X.type_layout_compatible(fa, fb), (a, b)
    assert X.type_layout_compatible(fb, fa), (b, a)


@pytest.mark.parametrize("a, b", [
    ("<i", ">i"), ("i", "I"), ("i", "f"), ("q", "d"), ("bi", "ib"), ("3s", "sss"),
    ("2s", "3s"), ("T{i}", "T{f}"), ("Zf", "ff"), ("=l", "@l"), ("3t5t", "4t4t"),
])
def test_different_bytes_are_not_compatible(xb, a, b):
    fa, fb = parse(a), parse(b)
    assert not X.type_layout_compatible(fa, fb), (a, b)
    assert not X.type_equal(fa, fb)


# =============================================================================
# 6. bad input
# =============================================================================

FORMATISH = "@=<>!^xcbB?hHiIlLqQnNefdgspPuwtOZ&XT{}():0123456789 ,-"
PARSE_ERRORS = {X.XBUF_EFORMAT, X.XBUF_EOVERFLOW}


def check_parse_outcome(data: bytes, n: bool):
    """Parse `data`; either a sane tree or a documented error with a position
    inside the input and a message."""
    rc, result, err = X.format_parse(data, n=n)
    end = len(data) if n else data.find(b"\0") if b"\0" in data else len(data)
    if rc != X.XBUF_OK:
        assert rc in PARSE_ERRORS, (data, rc, err.text())
        assert err.code == rc
        assert result is None  # *out is NULL on failure
        assert 0 <= err.position <= end, (data, err.position, end)
        assert err.text(), data
        rc2, size, _ = X.format_size(data) if not n else (rc, 0, 0)
        assert rc2 == rc
        return None
    f = result
    t = f.type
    assert t.itemsize >= 0 and t.alignment >= 1
    assert t.alignment & (t.alignment - 1) == 0
    if not n:
        assert X.format_size(data)[:2] == (0, t.itemsize)
    if leaf_count(f.root) <= 2000:
        rc, leaves = X.type_walk(f)
        assert rc == 0
        for lf in leaves:
            assert 0 <= lf.offset and lf.offset + lf.itemsize <= t.itemsize, (data, lf)
    if len(X.type_print(f)) < 4000:
        assert_round_trip(X.type_print(f))
    return f


@settings(max_examples=1500, suppress_health_check=SLOW)
@given(st.text(alphabet=st.one_of(st.sampled_from(FORMATISH), st.characters()), max_size=40))
@example("T{" * 70 + "}" * 70)                 # deeper than XBUF_FORMAT_MAX_DEPTH
@example("99999999999999999999i")              # count overflow
@example("(9999999999,9999999999)d")           # size overflow
@example("T{i:a:i:a:}")                        # duplicate name
@example("i:unterminated")
@example("(2,)i")
@example("()i")
@example("Zi")
@example("X{i-}")
@example("&3t")
@example("(2)3t")
@example("T{}:e:")
@example("4x:pad: 0x  ")
def test_random_text_never_crashes(xb, text):
    data = text.encode("utf-8", "surrogatepass")
    note(repr(data))
    check_parse_outcome(data, n=False)
    check_parse_outcome(data, n=True)


@settings(max_examples=700, suppress_health_check=SLOW)
@given(st.binary(max_size=40))
@example(b"i\0i")
@example(b"\0")
@example(b"T{i:\xff\xfe:}")
@example(b"")
def test_random_bytes_never_crash(xb, data):
    check_parse_outcome(data, n=True)
    check_parse_outcome(data, n=False)
    if b"\0" in data:
        rc, result, err = X.format_parse(data, n=True)
        if rc != X.XBUF_OK:
            return
        pytest.fail(f"parse_n accepted an embedded NUL: {data!r}")


@settings(max_examples=300, suppress_health_check=SLOW)
@given(any_generated_format(), st.data())
def test_truncated_and_corrupted_formats(xb, text, data):
    """Every prefix and a random one-byte change of a valid format: a clean
    result or a clean error, never a crash."""
    raw = text.encode()
    cut = data.draw(st.integers(0, len(raw)))
    check_parse_outcome(raw[:cut], n=True)
    if raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        c = data.draw(st.sampled_from(FORMATISH.encode()))
        check_parse_outcome(raw[:i] + bytes([c]) + raw[i + 1:], n=True)


def test_error_positions_point_at_the_problem(xb):
    cases = {
        "T{i": 3,          # the end, where '}' was expected
        "i}": 1,           # the stray brace
        "Q{": 1,           # not a code
        "3": 1,            # a count with no code after it
        "ii:name": 2,      # the ':' that opens the unclosed name
        "T{i:a:i:a:}": 8,  # the second 'a'
        "T{" * 70: 128,    # the 'T' of the 65th level
        "Zi": 1,           # the code after 'Z'
        "(2,)i": 3,        # where the second extent should be
        "i i k": 4,
        "i::": 2,          # the empty name
        "&3t": 1,          # the bit field a pointer may not point to
    }
    cases = {text: (X.XBUF_EFORMAT, at) for text, at in cases.items()}
    cases["b(9999999999,9999999999)d"] = (X.XBUF_EOVERFLOW, 1)  # the item too large
    cases["i99999999999999999999b"] = (X.XBUF_EOVERFLOW, 19)  # the digit that overflows
    for text, (code, position) in cases.items():
        rc, _, err = X.format_parse(text)
        assert rc == code == err.code, (text, rc, err.text())
        assert err.position == position, (text, err.position, err.text())
        assert err.text()
    for text in ("", "   "):
        rc, _, err = X.format_parse(text)
        assert rc == X.XBUF_EFORMAT and err.position == len(text) and err.text()
