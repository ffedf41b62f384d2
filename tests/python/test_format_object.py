"""xbuf.Format (python/src/format_object.c): a parsed PEP 3118 format as a
Python object, against oracles nobody on the team wrote.

Sections:
  1. construction     Format(str); TypeError for anything else; malformed
                      text is a ValueError naming the byte position
  2. attributes       itemsize alignment byteorder kind count shape fields base
  3. struct           random struct formats: itemsize == struct.calcsize,
                      every item's offset where struct puts it
  4. NumPy            random structured dtypes, through NumPy's own PEP 3118
                      export: itemsize, every member's offset (dt.fields),
                      kinds, sub-array shapes
  5. ctypes           random Structures written as '@' T{...}: ctypes.sizeof,
                      alignment and Structure.<field>.offset at every depth
  6. text and identity str/repr/==/hash/pickle; layout_compatible; field()

Values (unpack/pack) are in test_values.py.
"""

import ctypes
import gc
import pickle
import re
import struct
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, note, settings
from hypothesis import strategies as st

import xbuf
from oracle_helpers import NP_NAMES, np_structs  # noqa: E402

try:  # NumPy 2
    from numpy._core._internal import _dtype_from_pep3118 as numpy_parse
except ImportError:  # NumPy 1.x
    from numpy.core._internal import _dtype_from_pep3118 as numpy_parse

F = xbuf.Format
NATIVE = "<" if sys.byteorder == "little" else ">"
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
POSITION = re.compile(r"at position (\d+)")


# =============================================================================
# 1. construction
# =============================================================================

@pytest.mark.parametrize("arg", [b"i", 3, None, 1.5, ["i"], bytearray(b"i")])
def test_non_str_is_a_type_error(arg):
    with pytest.raises(TypeError, match="must be str"):
        F(arg)


def test_keyword_and_format_argument():
    assert F(fmt="i") == F("i")
    f = F("T{i:a:}")
    assert F(f) is f  # immutable: a Format of a Format is itself


@pytest.mark.parametrize("text, position, expected", [
    ("", 0, "empty format"),
    ("   ", 3, "empty format"),
    ("T{i", 3, "expected '}'"),
    ("ii}", 2, "unbalanced '}'"),
    ("i:a", 1, "never closed"),
    ("i::", 2, "empty field name"),
    ("T{i:a:h:a:}", 8, "duplicate field name 'a'"),
    ("iy", 1, None),
    ("i\0", 1, "NUL"),
    ("(2,", 3, None),
    ("()i", 1, None),
])
def test_malformed_formats_name_the_position(text, position, expected):
    with pytest.raises(ValueError) as info:
        F(text)
    message = str(info.value)
    m = POSITION.search(message)
    assert m, message
    assert int(m.group(1)) == position, message
    if expected is not None:
        assert expected in message


@settings(max_examples=300, suppress_health_check=SLOW)
@given(st.text(alphabet="@=<>!^xcbB?hHiIlLqQnNefdgspPuwOZT{}()&X-:,0123456789 ab",
               max_size=20))
def test_random_text_parses_or_names_a_position_inside_it(text):
    try:
        f = F(text)
    except (ValueError, OverflowError) as exc:
        m = POSITION.search(str(exc))
        assert m, str(exc)
        assert 0 <= int(m.group(1)) <= len(text.encode())
    else:
        assert F(str(f)) == f
        assert f.itemsize == xbuf.calcsize(text)


def test_huge_count_is_an_overflow_error():
    with pytest.raises(OverflowError, match="position"):
        F("99999999999999999999999i")


# =============================================================================
# 2. attributes
# =============================================================================

P = struct.calcsize("P")
LD = ctypes.sizeof(ctypes.c_longdouble)

# (format, kind, itemsize, alignment, byteorder, count, shape)
ATTRIBUTES = [
    ("<i", "int", 4, 1, "<", 1, ()),
    (">H", "uint", 2, 1, ">", 1, ()),
    ("@q", "int", 8, 8, NATIVE, 1, ()),
    ("?", "bool", 1, 1, "|", 1, ()),
    ("b", "int", 1, 1, "|", 1, ()),
    ("<e", "float", 2, 1, "<", 1, ()),
    ("!d", "float", 8, 1, ">", 1, ()),
    ("g", "float", LD, ctypes.alignment(ctypes.c_longdouble), NATIVE, 1, ()),
    ("<Zd", "complex", 16, 1, "<", 1, ()),
    ("c", "char", 1, 1, "|", 1, ()),
    ("5s", "bytes", 5, 1, "|", 5, ()),
    ("7p", "pascal", 7, 1, "|", 7, ()),
    ("<3u", "ucs2", 6, 1, "<", 3, ()),
    (">2w", "ucs4", 8, 1, ">", 2, ()),
    ("O", "object", P, P, NATIVE, 1, ()),
    ("P", "voidp", P, P, NATIVE, 1, ()),
    ("&i", "pointer", P, P, NATIVE, 1, ()),
    ("X{i->d}", "function", P, P, NATIVE, 1, ()),
    ("(2,3)<h", "array", 12, 1, "|", 1, (2, 3)),
    ("3i", "array", 12, 4, "|", 1, (3,)),
    ("0i", "array", 0, 4, "|", 1, (0,)),
    ("T{b:a:i:b:}", "struct", 8, 4, "|", 1, ()),
    ("<bi", "struct", 5, 1, "|", 1, ()),
]


@pytest.mark.parametrize("text, kind, itemsize, alignment, byteorder, count, shape", ATTRIBUTES)
def test_attributes(text, kind, itemsize, alignment, byteorder, count, shape):
    f = F(text)
    assert (f.kind, f.itemsize, f.alignment, f.byteorder, f.count, f.shape) == (
        kind, itemsize, alignment, byteorder, count, shape)
    assert f.itemsize == xbuf.calcsize(text)
    assert (f.base is None) == (kind != "array")
    assert (f.fields == ()) == (kind != "struct")


def test_every_kind_is_reachable():
    kinds = {row[1] for row in ATTRIBUTES} | {F("T{3t:a:5t:b:}").fields[0][2].kind,
                                               F("4x:v:").fields[0][2].kind}
    assert kinds == {"int", "uint", "bool", "float", "complex", "char", "bytes", "pascal",
                     "ucs2", "ucs4", "bits", "object", "voidp", "pointer", "function",
                     "void", "struct", "array"}


def test_fields_name_unnamed_members_by_position():
    f = F("T{b:a:xi@d:z:}")
    assert [(n, o) for n, o, _ in f.fields] == [("a", 0), ("f1", 4), ("z", 8)]
    assert [sub for _, _, sub in f.fields] == [F("b"), F("i"), F("d")]


def test_padding_is_not_a_field_but_named_padding_is():
    assert [n for n, _, _ in F("<bxxh").fields] == ["f0", "f1"]
    f = F("<b4x:pad:h")
    assert [(n, o) for n, o, _ in f.fields] == [("f0", 0), ("pad", 1), ("f2", 5)]
    assert f.field("pad").kind == "void" and f.field("pad").itemsize == 4


def test_bit_fields():
    f = F("T{3t:a:5t:b:H:c:}")
    a, b = f.field("a"), f.field("b")
    assert (a.kind, a.count, b.kind, b.count) == ("bits", 3, "bits", 5)
    assert [(n, o) for n, o, _ in f.fields] == [("a", 0), ("b", 0), ("c", 2)]


def test_array_base_and_nesting():
    f = F("(2,3)T{h:x:(4)b:y:}")
    assert f.shape == (2, 3) and f.itemsize == 2 * 3 * 6
    assert f.base == F("T{h:x:(4)b:y:}")
    assert f.base.field("y").shape == (4,)
    assert f.base.field("y").base == F("b")


def test_sub_formats_keep_the_tree_alive():
    sub = F("T{i:a:T{d:x:}:s:}").field("s").field("x")
    gc.collect()
    assert sub == F("d") and str(sub) == "@d"


# =============================================================================
# 3. struct
# =============================================================================

STRUCT_PREFIXES = ["", "@", "=", "<", ">", "!"]
STRUCT_CODES = "xcbB?hHiIlLqQefdsp"
NATIVE_ONLY = "nNP"
CODE_KIND = {"c": "char", "b": "int", "B": "uint", "?": "bool", "h": "int", "H": "uint",
             "i": "int", "I": "uint", "l": "int", "L": "uint", "q": "int", "Q": "uint",
             "n": "int", "N": "uint", "e": "float", "f": "float", "d": "float",
             "s": "bytes", "p": "pascal", "P": "voidp"}


@st.composite
def struct_formats(draw):
    """(prefix, [(count or None, code)]): a format the struct module takes."""
    prefix = draw(st.sampled_from(STRUCT_PREFIXES))
    codes = STRUCT_CODES + (NATIVE_ONLY if prefix in ("", "@") else "")
    items = draw(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 6)),
                                    st.sampled_from(codes)), min_size=1, max_size=7))
    return prefix, items


def item_text(n, code):
    return ("" if n is None else str(n)) + code


def struct_text(prefix, items):
    return prefix + " ".join(item_text(n, c) for n, c in items)


@settings(max_examples=300, suppress_health_check=SLOW)
@given(struct_formats())
@example(("", [(None, "b"), (0, "l")]))        # struct's '0l' alignment idiom
@example(("@", [(None, "i"), (None, "x")]))    # no trailing padding
@example(("=", [(3, "s"), (0, "p"), (2, "x")]))
def test_struct_itemsize_and_offsets(sf):
    prefix, items = sf
    text = struct_text(prefix, items)
    note(text)
    f = F(text)
    assert f.itemsize == struct.calcsize(text) == xbuf.calcsize(text)
    # struct places item k where calcsize(prefix + items[:k] + '0' + code) ends
    expected = []
    for k, (n, code) in enumerate(items):
        if code == "x":
            continue
        before = prefix + "".join(item_text(*it) for it in items[:k])
        expected.append((struct.calcsize(before + "0" + code), n, code))
    nodes = [(o, sub) for _, o, sub in f.fields] if f.kind == "struct" else [(0, f)]
    assert [o for o, _ in nodes] == [o for o, _, _ in expected]
    for (_, sub), (_, n, code) in zip(nodes, expected):
        assert sub.itemsize == struct.calcsize(prefix + item_text(n, code))
        leaf = sub
        if n not in (None, 1) and code not in "sp":
            assert sub.kind == "array" and sub.shape == (n,)
            leaf = sub.base
        assert leaf.kind == CODE_KIND[code]
        unit = struct.calcsize(prefix + code)
        order = {"<": "<", ">": ">", "!": ">"}.get(prefix, NATIVE)
        assert leaf.byteorder == (order if code not in "cbB?sp" and unit > 1 else "|")
    assert F(str(f)) == f


# =============================================================================
# 4. NumPy
# =============================================================================

NP_KIND = {"i": "int", "u": "uint", "b": "bool", "f": "float", "c": "complex", "S": "bytes",
           "U": "ucs4", "V": "void"}


def numpy_export(dt):
    return memoryview(np.zeros(1, dt)).format


def np_layout(dt, path=""):
    """Every node's itemsize and every member's offset, at every depth
    (through sub-arrays too, even empty ones)."""
    out = [(path, "size", dt.itemsize)]
    if dt.subdtype is not None:
        out += np_layout(dt.subdtype[0], path + "[]")
    elif dt.names is not None:
        for name in dt.names:
            sub, at = dt.fields[name][:2]
            out.append((f"{path}.{name}", "offset", at))
            out += np_layout(sub, f"{path}.{name}")
    return out


def numpy_export_is_consistent(dt, fmt):
    """NumPy's exporter sometimes writes a format that describes another
    layout than the dtype's (trailing padding of nested aligned records, a
    '<g' inside an aligned record; see test_format_oracles.py).  Only exports
    NumPy's own parser reads back to the dtype's layout, node by node, are an
    oracle for xbuf's offsets."""
    try:
        back = numpy_parse(fmt)
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
        return False
    return np_layout(back) == np_layout(dt)


def check_members(f, dt, path=""):
    """Every member at dt.fields' offset, recursively, through .fields and
    .field(path) alike."""
    assert f.kind == "struct" and f.itemsize == dt.itemsize, (path, f, dt)
    assert [n for n, _, _ in f.fields] == list(dt.names)
    for (name, offset, sub), np_name in zip(f.fields, dt.names):
        d, at = dt.fields[np_name][:2]
        p = f"{path}.{name}" if path else name
        assert offset == at, (p, offset, at)
        assert sub.itemsize == d.itemsize, p
        assert sub == f.field(name)
        if d.subdtype is not None:
            base, shape = d.subdtype
            assert sub.kind == "array" and sub.shape == shape
            sub, d = sub.base, base
        if d.names is not None:
            check_members(sub, d, p)
        else:
            assert sub.kind == NP_KIND[d.kind], (p, sub, d)


@settings(max_examples=150, suppress_health_check=SLOW + [HealthCheck.filter_too_much])
@given(np_structs())
@example(np.dtype([("a", "i1"), ("b", "<f8")], align=True))
@example(np.dtype([("a", "(2,3)i2"), ("b", ">U3"), ("c", "S5"), ("d", "V4"), ("e", "g"),
                   ("f", "G"), ("g", "?")]))
@example(np.dtype([("a", "i1"), ("p", np.dtype([("x", "i1"), ("y", "i4")]))], align=True))
def test_numpy_structured_dtypes(dt):
    fmt = numpy_export(dt)
    note(fmt)
    assume(numpy_export_is_consistent(dt, fmt))
    f = F(fmt)
    check_members(f, dt)
    assert F(str(f)) == f


def test_numpy_leaf_byte_orders():
    f = F(numpy_export(np.dtype([("a", ">i4"), ("b", "<f8"), ("c", "=u2"), ("d", "S3")])))
    assert [sub.byteorder for _, _, sub in f.fields] == [">", "<", NATIVE, "|"]


# =============================================================================
# 5. ctypes
# =============================================================================

CT_LEAVES = [
    (ctypes.c_int8, "b"), (ctypes.c_uint8, "B"), (ctypes.c_int16, "h"), (ctypes.c_uint16, "H"),
    (ctypes.c_int32, "i"), (ctypes.c_uint32, "I"), (ctypes.c_int64, "q"),
    (ctypes.c_uint64, "Q"), (ctypes.c_long, "l"), (ctypes.c_ulong, "L"),
    (ctypes.c_float, "f"), (ctypes.c_double, "d"), (ctypes.c_char, "c"),
    (ctypes.c_bool, "?"), (ctypes.c_longdouble, "g"), (ctypes.c_void_p, "P"),
    (ctypes.c_size_t, "N"), (ctypes.c_ssize_t, "n"),
]


class CtStruct:
    """A generated ctypes Structure and the '@' T{...} format written from
    its member list (not from ctypes' own text, which is packed: #76961).
    members: [(name, node)], node = ('leaf', ctype, code) | ('struct',
    CtStruct) | ('array', dims, node)."""

    counter = 0

    def __init__(self, members):
        CtStruct.counter += 1
        self.members = members
        self.cls = type(f"S{CtStruct.counter}", (ctypes.Structure,),
                        {"_fields_": [(n, self.ctype(nd)) for n, nd in members]})

    @staticmethod
    def ctype(node):
        if node[0] == "leaf":
            return node[1]
        if node[0] == "struct":
            return node[1].cls
        t = CtStruct.ctype(node[2])
        for d in reversed(node[1]):
            t = t * d
        return t

    @staticmethod
    def node_format(node):
        if node[0] == "leaf":
            return "@" + node[2]
        if node[0] == "struct":
            return node[1].format()
        return "(" + ",".join(map(str, node[1])) + ")" + CtStruct.node_format(node[2])

    def format(self):
        return "T{" + "".join(f"{self.node_format(nd)}:{n}:" for n, nd in self.members) + "}"

    def offsets(self, path="", base=0):
        """[(dotted path, offset, ctype)] from ctypes' field descriptors."""
        out = []
        for name, node in self.members:
            at = base + getattr(self.cls, name).offset
            p = f"{path}.{name}" if path else name
            out.append((p, at, self.ctype(node)))
            if node[0] == "struct":
                out += node[1].offsets(p, at)
        return out

    def __repr__(self):
        return f"CtStruct({self.format()!r})"


@st.composite
def ct_structs(draw, depth=0):
    names = draw(st.lists(st.sampled_from(NP_NAMES), min_size=1, max_size=5, unique=True))
    members = []
    for name in names:
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            node = ("struct", draw(ct_structs(depth + 1)))
        else:
            t, code = draw(st.sampled_from(CT_LEAVES))
            node = ("leaf", t, code)
        if draw(st.integers(0, 3)) == 0:
            node = ("array", tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))),
                    node)
        members.append((name, node))
    return CtStruct(members)


def field_offset(f, path):
    """The offset of a dotted path, summed from .fields at each step."""
    at = 0
    for step in path.split("."):
        (offset, f), = [(o, sub) for n, o, sub in f.fields if n == step]
        at += offset
    return at


@settings(max_examples=150, suppress_health_check=SLOW)
@given(ct_structs())
def test_ctypes_structures_under_native_alignment(s):
    text = s.format()
    note(text)
    f = F(text)
    assert f.itemsize == ctypes.sizeof(s.cls)
    assert f.alignment == ctypes.alignment(s.cls)
    for path, offset, ct in s.offsets():
        assert field_offset(f, path) == offset, path
        assert f.field(path).itemsize == ctypes.sizeof(ct), path


def test_ctypes_exports_are_read_as_written():
    """ctypes' own export writes '<' before every member (a packed layout,
    cpython #76961): xbuf takes it at its word, so its itemsize is the packed
    one while memoryview reports the aligned ctypes.sizeof."""
    class S(ctypes.Structure):
        _fields_ = [("a", ctypes.c_int8), ("b", ctypes.c_int32)]
    m = memoryview(S())
    f = F(m.format)
    assert (f.itemsize, m.itemsize) == (5, 8)
    assert [(n, o) for n, o, _ in f.fields] == [("a", 0), ("b", 1)]


# =============================================================================
# 6. text and identity
# =============================================================================

SPELLINGS = [  # (a, b): different text, equal types
    ("<i", "<i"), ("3i", "(3)i"), ("1i", "i"), (" i ", "i"), ("!h", ">h"),
    ("=q", NATIVE + "q"), ("T{i:a:}", "T{ i:a: }"), ("@i", "i"),
]


@pytest.mark.parametrize("a, b", SPELLINGS)
def test_equal_spellings(a, b):
    fa, fb = F(a), F(b)
    assert fa == fb and not (fa != fb)
    assert hash(fa) == hash(fb) and str(fa) == str(fb)
    assert len({fa, fb}) == 1


@pytest.mark.parametrize("a, b", [("i", "I"), ("<i", ">i"), ("T{i:a:}", "T{i:b:}"),
                                  ("3i", "iii"), ("2s", "s"), ("@i", "^i")])
def test_unequal_formats(a, b):
    assert F(a) != F(b) and not (F(a) == F(b))


def test_comparison_with_other_types():
    assert F("i") != "i" and not (F("i") == "i")
    with pytest.raises(TypeError):
        F("i") < F("i")  # noqa: B015


@settings(max_examples=200, suppress_health_check=SLOW)
@given(st.one_of(struct_formats().map(lambda sf: struct_text(*sf)),
                 np_structs().map(numpy_export), ct_structs().map(CtStruct.format)))
def test_str_repr_hash_pickle_round_trip(text):
    f = F(text)
    canonical = str(f)
    assert F(canonical) == f and str(F(canonical)) == canonical  # idempotent
    assert repr(f) == f"Format({canonical!r})"
    assert eval(repr(f), {"Format": F}) == f
    assert hash(f) == hash(canonical) == hash(F(canonical))
    back = pickle.loads(pickle.dumps(f))
    assert back == f and type(back) is F


def test_canonical_text_makes_every_order_explicit():
    assert str(F("i")) == "@i"
    assert str(F("=h")) == NATIVE + "h"
    assert str(F("!Q")) == ">Q"
    assert repr(F("T{i:a:}")) == "Format('@T{i:a:}')"


def test_sub_formats_pickle():
    sub = F("T{<i:a:(2)>h:b:}").field("b")
    assert pickle.loads(pickle.dumps(sub)) == sub == F(">(2)h")


@pytest.mark.parametrize("a, b, compatible", [
    ("3i", "iii", True), ("T{i:a:i:b:}", "2i", True), ("<i", "<i:x:", True),
    ("<i", ">i", False), ("i", "I", False), ("<bi", "@bi", False), ("4s", "4B", False),
    ("T{T{h:a:}:s:h:b:}", "(2)h", True),
])
def test_layout_compatible(a, b, compatible):
    assert F(a).layout_compatible(F(b)) is compatible
    assert F(a).layout_compatible(b) is compatible  # a str is parsed
    assert F(b).layout_compatible(F(a)) is compatible


def test_layout_compatible_argument_errors():
    with pytest.raises(TypeError):
        F("i").layout_compatible(4)
    with pytest.raises(ValueError, match="position"):
        F("i").layout_compatible("T{")


def test_field_paths_and_errors():
    f = F("T{i:a:T{d:x:(2)T{h:z:}:y:}:s:}")
    assert f.field("a") == F("i")
    assert f.field("s.x") == F("d")
    assert f.field("s.y").shape == (2,)
    with pytest.raises(KeyError, match="zz"):
        f.field("zz")
    with pytest.raises(KeyError, match="q"):
        f.field("s.q")
    with pytest.raises(TypeError, match="not in a struct"):
        f.field("a.b")
    with pytest.raises(TypeError, match="not in a struct"):
        F("i").field("a")
    with pytest.raises(TypeError, match="must be str"):
        f.field(0)


def test_unpack_and_pack_sizes():
    f = F("<hi")
    assert f.unpack(f.pack((1, 2))) == (1, 2)
    assert f.pack((0, 0)) == bytes(6)
    with pytest.raises(ValueError, match="unpack requires a buffer of 6 bytes"):
        f.unpack(bytes(5))
    with pytest.raises(TypeError):
        f.unpack("abcdef")
    assert f.unpack(memoryview(bytearray(f.pack((3, 4))))) == (3, 4)


def test_format_is_immutable():
    f = F("i")
    with pytest.raises(AttributeError):
        f.itemsize = 3
    with pytest.raises((AttributeError, TypeError)):
        f.extra = 1
