"""Values of items (python/src/values.c, through xbuf.Format.unpack/pack)
against oracles nobody on the team wrote.

Sections:
  1. struct       random struct formats under every prefix: pack gives
                  struct.pack's bytes; unpack of random bytes gives
                  struct.unpack's values (nested as xbuf nests them)
  2. memoryview   item assignment of every native single-code format: the
                  same bytes, the same exception type (TypeError vs
                  ValueError) for the same objects
  3. NumPy        random structured records: unpack == arr[0].item();
                  pack(unpack(b)) reads back equal in NumPy
  4. ctypes       Structures filled by ctypes, read through '@' T{...}
  5. the PEP 3118 codes struct lacks, and xbuf's own decisions (each test
                  says where xbuf differs from struct / memoryview and why)
  6. errors       messages, structure errors, propagation of user exceptions

All-or-nothing writes into existing memory are the View's business
(test_view_*); Format.pack always starts from zero bytes.
"""

import ctypes
import math
import pickle
import struct
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, note, settings
from hypothesis import strategies as st

import xbuf
from oracle_helpers import np_structs, same  # noqa: E402
from numpy_layout import np_leaf_list

F = xbuf.Format
NATIVE = "<" if sys.byteorder == "little" else ">"
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


# =============================================================================
# 1. struct
# =============================================================================

STRUCT_PREFIXES = ["", "@", "=", "<", ">", "!"]
STRUCT_CODES = "xcbB?hHiIlLqQefdsp"
NATIVE_ONLY = "nNP"


@st.composite
def struct_formats(draw):
    prefix = draw(st.sampled_from(STRUCT_PREFIXES))
    codes = STRUCT_CODES + (NATIVE_ONLY if prefix in ("", "@") else "")
    items = draw(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 4)),
                                    st.sampled_from(codes)), min_size=1, max_size=6))
    return prefix, items


def text_of(prefix, items):
    return prefix + "".join(("" if n is None else str(n)) + c for n, c in items)


def scalar(draw, prefix, code):
    """One value struct and xbuf both take for `code`, that both store the
    same way (floats in range, strings that fit)."""
    size = struct.calcsize(prefix + code)
    if code in "bhilqn":
        return draw(st.integers(-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1))
    if code in "BHILQNP":
        return draw(st.integers(0, (1 << (8 * size)) - 1))
    if code == "?":
        return draw(st.one_of(st.booleans(), st.integers(), st.lists(st.none(), max_size=2)))
    if code == "c":
        return draw(st.binary(min_size=1, max_size=1))
    if code == "e":
        return draw(st.floats(-65504, 65504) | st.sampled_from([math.inf, -math.inf, math.nan]))
    if code == "f":
        return draw(st.floats(width=32))
    return draw(st.floats())  # 'd'


@st.composite
def struct_cases(draw):
    """(text, struct args, xbuf value)."""
    prefix, items = draw(struct_formats())
    # struct.pack('0p', ...) writes a length byte into the next item's place
    # (and struct.unpack('0p', b'') fails): no oracle there.
    assume(not any(c == "p" and n == 0 for n, c in items))
    text = text_of(prefix, items)
    args, fields = [], []
    for n, code in items:
        if code == "x":
            continue
        if code in "sp":
            room = (1 if n is None else n) - (code == "p")
            v = draw(st.binary(max_size=max(room, 0)))
            args.append(v)
            fields.append(v)
        elif n in (None, 1):
            v = scalar(draw, prefix, code)
            args.append(v)
            fields.append(v)
        else:
            vs = [scalar(draw, prefix, code) for _ in range(n)]
            args += vs
            fields.append(vs)
    # A list of several items is a record; of one item ("xc", "3sx"), that
    # item's value -- as a single item is in struct, without the tuple.
    value = tuple(fields) if len(fields) != 1 else fields[0]
    return text, args, value


def flatten(value, f, top=True):
    """xbuf's nested value as struct's flat tuple.  (struct's formats are
    top-level item lists: one of a single member reads as that member.)"""
    if top and f.kind == "struct" and len(f.fields) == 1:
        return flatten(value, f.fields[0][2], top=False)
    if f.kind == "struct":
        out = []
        for v, (_, _, sub) in zip(value, f.fields):
            out += flatten(v, sub, top=False)
        return out
    if f.kind == "array":
        return [x for v in value for x in flatten(v, f.base, top=False)]
    return [value]


def canonical(code, v):
    """What struct.unpack returns for a value packed with `code`."""
    return bool(v) if code == "?" else v


@settings(max_examples=300, suppress_health_check=SLOW)
@given(struct_cases())
@example(("@bi", [-1, 7], (-1, 7)))
@example(("<3s2p", [b"ab", b"x"], (b"ab", b"x")))
@example(("=0i", [], []))
@example(("!e", [65504.0], 65504.0))
def test_pack_matches_struct(case):
    text, args, value = case
    note(text)
    f = F(text)
    packed = struct.pack(text, *args)
    assert f.pack(value) == packed
    got = f.unpack(packed)
    back = struct.unpack(text, packed)
    assert same(tuple(flatten(got, f)), back)


@settings(max_examples=300, suppress_health_check=SLOW)
@given(struct_formats(), st.randoms(use_true_random=False))
def test_unpack_of_random_bytes_matches_struct(sf, rnd):
    prefix, items = sf
    assume(not any(c == "p" and n == 0 for n, c in items))  # see struct_cases
    text = text_of(prefix, items)
    data = rnd.randbytes(struct.calcsize(text))
    f = F(text)
    assert same(tuple(flatten(f.unpack(data), f)), struct.unpack(text, data)), text


def test_zero_length_pascal_strings():
    """struct.unpack('0p', b'') fails (SystemError on 3.11) and
    struct.pack('0px', b'') writes b'\xff' into the pad byte; in xbuf '0p'
    is empty and holds only b''."""
    assert F("0p").unpack(b"") == b""
    assert F("0px").pack(b"") == b"\0"  # one member: its value, not a 1-tuple
    with pytest.raises(ValueError):
        F("0p").pack(b"a")


# =============================================================================
# 2. memoryview item assignment
# =============================================================================

MV_CODES = "bBhHiIlLqQnNfd?cP"


class Index:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Floaty:
    def __float__(self):
        return 2.5


class Raises:
    def __index__(self):
        raise RuntimeError("boom")

    def __float__(self):
        raise RuntimeError("boom")

    def __bool__(self):
        raise RuntimeError("boom")


OBJECTS = st.one_of(
    st.integers(-(1 << 70), 1 << 70), st.floats(), st.booleans(), st.none(),
    st.binary(max_size=2), st.text(max_size=2), st.integers(-300, 300).map(Index),
    st.just(Floaty()), st.complex_numbers(max_magnitude=10), st.just([1]), st.just(()),
    st.sampled_from([2 ** 64, -(2 ** 63) - 1, 2 ** 63, 1e300, -1e300, math.inf]),
)


def memoryview_store(code, value):
    """(bytes, None) or (None, exception type) for m[0] = value."""
    m = memoryview(bytearray(struct.calcsize(code))).cast(code)
    try:
        m[0] = value
    except (TypeError, ValueError) as exc:
        return None, type(exc)
    return m.tobytes(), None


def xbuf_store(code, value):
    try:
        return F(code).pack(value), None
    except (TypeError, ValueError) as exc:
        return None, type(exc)


@settings(max_examples=600, suppress_health_check=SLOW)
@given(st.sampled_from(MV_CODES), OBJECTS)
def test_item_assignment_matches_memoryview(code, value):
    expected = memoryview_store(code, value)
    got = xbuf_store(code, value)
    assert got == expected, (code, value)
    if got[0] is not None:
        assert same(F(code).unpack(got[0]), memoryview(got[0]).cast(code)[0])


def test_user_exceptions_propagate_as_in_memoryview():
    for code in "iBd?":
        with pytest.raises(RuntimeError, match="boom"):
            F(code).pack(Raises())
        m = memoryview(bytearray(struct.calcsize(code))).cast(code)
        with pytest.raises(RuntimeError, match="boom"):
            m[0] = Raises()


def test_float_too_large_for_f_is_infinity_as_in_memoryview():
    """struct.pack('f', 1e300) raises OverflowError; memoryview stores inf.
    xbuf follows memoryview (item assignment is its main use)."""
    assert F("<f").unpack(F("<f").pack(1e300)) == math.inf
    assert F(">f").unpack(F(">f").pack(-1e300)) == -math.inf
    assert F("Zf").unpack(F("Zf").pack(complex(1e300, 1))) == complex(math.inf, 1)


def test_float_too_large_for_e_is_a_value_error():
    """struct raises OverflowError, memoryview has no 'e' at all: xbuf
    raises ValueError (out of range), and rounds as struct does below it."""
    for text in ("e", "<e", ">e"):
        with pytest.raises(ValueError, match="invalid value"):
            F(text).pack(65520.0)
        assert F(text).pack(65519.0) == struct.pack(text, 65519.0)
    with pytest.raises(ValueError):
        F("Ze").pack(complex(1, 1e10))
    assert F("e").unpack(F("e").pack(math.inf)) == math.inf


# =============================================================================
# 3. NumPy structured records
# =============================================================================



def np_layout(dt, path=""):
    out = [(path, "size", dt.itemsize)]
    if dt.subdtype is not None:
        out += np_layout(dt.subdtype[0], path + "[]")
    elif dt.names is not None:
        for name in dt.names:
            sub, at = dt.fields[name][:2]
            out.append((f"{path}.{name}", "offset", at))
            out += np_layout(sub, f"{path}.{name}")
    return out


def consistent_export(dt):
    """NumPy's PEP 3118 export of dt, when NumPy's own parser reads it back
    to the dtype's layout (it does not always: see test_format_object.py)."""
    try:  # NumPy 2
        from numpy._core._internal import _dtype_from_pep3118 as numpy_parse
    except ImportError:  # NumPy 1.x
        from numpy.core._internal import _dtype_from_pep3118 as numpy_parse
    fmt = memoryview(np.zeros(1, dt)).format
    try:
        return fmt if np_layout(numpy_parse(fmt)) == np_layout(dt) else None
    except (ValueError, NotImplementedError, RuntimeError, TypeError):
        return None


def sane_record(dt, rnd):
    """Random bytes for one record, except where NumPy cannot take any bits:
    UCS-4 units are made code points (NumPy fails on others) and long
    doubles are made real numbers (random x87 bits may be invalid
    encodings the two sides could legitimately read differently)."""
    data = bytearray(rnd.randbytes(dt.itemsize))
    for _, offset, d in np_leaf_list(dt):
        if d.kind == "U":
            units = [rnd.randrange(0x110000) for _ in range(d.itemsize // 4)]
            data[offset:offset + d.itemsize] = np.array(units, d.byteorder + "u4").tobytes()
        elif d.char in "gG":
            parts = [rnd.uniform(-1e300, 1e300) for _ in range(2 if d.char == "G" else 1)]
            v = complex(*parts) if d.char == "G" else parts[0]
            data[offset:offset + d.itemsize] = np.array(v, d).tobytes()
    return bytes(data)


def matches_numpy(dt, xv, nv):
    """xbuf's value against NumPy's .item() for dtype dt.  NumPy strips the
    trailing NULs of 'S' and 'U' values; xbuf keeps every unit (it cannot
    know that the NULs are not data), so those are compared stripped."""
    if isinstance(nv, np.ndarray):
        nv = nv.tolist()
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        if len(shape) > 1:
            sub = np.dtype((base, shape[1:]))
        else:
            sub = base
        return (isinstance(xv, list) and len(xv) == len(nv) == shape[0]
                and all(matches_numpy(sub, a, b) for a, b in zip(xv, nv)))
    if dt.names is not None:
        return (isinstance(xv, tuple) and len(xv) == len(dt.names) == len(nv)
                and all(matches_numpy(dt.fields[n][0], a, b)
                        for n, a, b in zip(dt.names, xv, nv)))
    if dt.kind == "S":
        return xv.rstrip(b"\0") == nv
    if dt.kind == "U":
        return xv.rstrip("\0") == nv
    if dt.char == "g":
        return same(xv, float(nv))
    if dt.char == "G":
        return same(xv, complex(nv))
    return same(xv, nv)


def numpy_item(data, dt):
    """NumPy's value of the record held in `data`."""
    if dt.itemsize == 0:  # frombuffer refuses empty records
        return np.zeros(1, dt)[0].item()
    return np.frombuffer(data, dt)[0].item()


@settings(max_examples=200, suppress_health_check=SLOW + [HealthCheck.filter_too_much])
@given(np_structs(), st.randoms(use_true_random=False))
@example(np.dtype([("a", "i1"), ("b", ">f8"), ("c", "S4"), ("d", "<U2")], align=True),
         __import__("random").Random(1))
def test_unpack_matches_numpy_item(dt, rnd):
    fmt = consistent_export(dt)
    assume(fmt is not None)
    note(fmt)
    f = F(fmt)
    data = sane_record(dt, rnd)
    value = f.unpack(data)
    assert matches_numpy(dt, value, numpy_item(data, dt)), (value,)
    # pack writes what NumPy reads back as the same record (padding zero,
    # bools normalised, NaN payloads aside)
    again = f.pack(value)
    assert matches_numpy(dt, value, numpy_item(again, dt))
    assert same(f.unpack(again), value)


def test_numpy_strips_trailing_nuls_and_xbuf_keeps_them():
    dt = np.dtype([("s", "S4"), ("u", "U3")])
    a = np.zeros(1, dt)
    a[0] = (b"ab", "x")
    f = F(memoryview(a).format)
    assert a[0].item() == (b"ab", "x")
    assert f.unpack(a.tobytes()) == (b"ab\0\0", "x\0\0")


# =============================================================================
# 4. ctypes
# =============================================================================

CT_SCALARS = [
    (ctypes.c_int8, "b", st.integers(-128, 127)), (ctypes.c_uint16, "H", st.integers(0, 65535)),
    (ctypes.c_int32, "i", st.integers(-(2 ** 31), 2 ** 31 - 1)),
    (ctypes.c_int64, "q", st.integers(-(2 ** 63), 2 ** 63 - 1)),
    (ctypes.c_uint64, "Q", st.integers(0, 2 ** 64 - 1)),
    (ctypes.c_double, "d", st.floats(allow_nan=False)),
    (ctypes.c_float, "f", st.floats(width=32, allow_nan=False)),
    (ctypes.c_bool, "?", st.booleans()), (ctypes.c_char, "c", st.binary(min_size=1, max_size=1)),
    (ctypes.c_longdouble, "g", st.floats(allow_nan=False)),
    (ctypes.c_void_p, "P", st.integers(1, 2 ** 48)),
]


@st.composite
def ct_records(draw):
    """(Structure instance, '@' T{...} text, the values set)."""
    picks = draw(st.lists(st.sampled_from(range(len(CT_SCALARS))), min_size=1, max_size=6))
    fields, parts, values = [], [], []
    for k, i in enumerate(picks):
        ctype, code, strategy = CT_SCALARS[i]
        if code != "c" and draw(st.booleans()):  # c_char arrays read as bytes
            n = draw(st.integers(1, 3))
            fields.append((f"m{k}", ctype * n))
            parts.append(f"({n})@{code}:m{k}:")
            values.append([draw(strategy) for _ in range(n)])
        else:
            fields.append((f"m{k}", ctype))
            parts.append(f"@{code}:m{k}:")
            values.append(draw(strategy))
    cls = type("R", (ctypes.Structure,), {"_fields_": fields})
    obj = cls()
    for (name, _), v in zip(fields, values):
        if isinstance(v, list):
            getattr(obj, name)[:] = v
        else:
            setattr(obj, name, v)
    return obj, "T{" + "".join(parts) + "}", tuple(values)


@settings(max_examples=200, suppress_health_check=SLOW)
@given(ct_records())
def test_ctypes_structure_values(record):
    obj, text, values = record
    note(text)
    f = F(text)
    assert f.itemsize == ctypes.sizeof(obj)
    assert same(f.unpack(bytes(obj)), values)
    # and back: pack gives what ctypes holds, padding aside
    back = type(obj).from_buffer_copy(f.pack(values))
    for (name, _), v in zip(obj._fields_, values):
        got = getattr(back, name)
        assert same(list(got) if isinstance(v, list) else got, v)


# =============================================================================
# 5. PEP 3118 codes struct lacks, and xbuf's decisions
# =============================================================================

@pytest.mark.parametrize("text, value", [
    ("<Zd", 1.5 - 2j), (">Zf", complex(0.5, -4)), ("Zg", complex(1, 2)), ("<Ze", 1 + 1j),
    ("g", 0.1), ("<3u", "ab\0"), (">2w", "\U0010FFFF\0"), ("<u", "\uffff"),
    ("(2,2)>h", [[1, -2], [3, -4]]), ("(0)i", []), ("(2,0)i", [[], []]),
    ("T{}", ()), ("T{i:a:(2)T{h:x:c:y:}:b:}", (1, [(2, b"a"), (3, b"b")])),
    ("<b4x:pad:h", (1, b"abcd", 2)), ("T{3t:a:5t:b:H:c:}", (5, 31, 7)),
    ("3x7t100t", (100, 2 ** 100 - 1)), ("X{i->d}", 4096), ("&i", 0), ("P", 2 ** 40),
])
def test_round_trips_of_the_whole_language(text, value):
    f = F(text)
    assert same(f.unpack(f.pack(value)), value)
    assert len(f.pack(value)) == f.itemsize


def test_complex_accepts_real_numbers():
    assert F("Zd").unpack(F("Zd").pack(3)) == 3 + 0j
    assert F("Zd").unpack(F("Zd").pack(2.5)) == 2.5 + 0j
    with pytest.raises(TypeError):
        F("Zd").pack("1")


def test_complex_byte_orders():
    assert F("<Zd").pack(1 + 2j) == struct.pack("<dd", 1, 2)
    assert F(">Zf").pack(1 + 2j) == struct.pack(">ff", 1, 2)


def test_long_double_unpacks_to_a_rounded_float():
    """A Python float is a double: 'g' values are rounded to the nearest."""
    data = np.array(np.longdouble(1) / 3, np.longdouble).tobytes()
    assert F("g").unpack(data) == float(np.longdouble(1) / 3) == 1 / 3


def test_ucs_strings():
    assert F("<3u").pack("ab") == "ab\0".encode("utf-16-le")
    assert F(">2w").pack("é") == "é\0".encode("utf-32-be")
    assert F("<2u").unpack("\ud800x".encode("utf-16-le", "surrogatepass")) == "\ud800x"
    with pytest.raises(ValueError, match="does not fit in UCS-2"):
        F("2u").pack("a\U0001F600")
    with pytest.raises(ValueError, match="code points do not fit"):
        F("2w").pack("abc")
    with pytest.raises(TypeError):
        F("2w").pack(b"ab")
    with pytest.raises(ValueError, match="not a code point"):
        F("<w").unpack(struct.pack("<I", 0x110000))


def test_bytes_fields_are_nul_padded_and_never_truncated():
    """struct.pack('3s', b'abcd') silently keeps b'abc'; xbuf refuses to
    lose data."""
    assert F("5s").pack(b"ab") == b"ab\0\0\0"
    assert F("5s").pack(bytearray(b"abcde")) == b"abcde"
    assert F("5s").pack(memoryview(b"xy")) == b"xy\0\0\0"
    with pytest.raises(ValueError, match="4 bytes do not fit in 3"):
        F("3s").pack(b"abcd")
    with pytest.raises(TypeError, match="bytes-like"):
        F("3s").pack("abc")


def test_pascal_strings_as_struct():
    for n, v in [(1, b""), (4, b"abc"), (300, b"x" * 299), (10, b"")]:
        assert F(f"{n}p").pack(v) == struct.pack(f"{n}p", v)
        assert F(f"{n}p").unpack(struct.pack(f"{n}p", v)) == struct.unpack(f"{n}p",
                                                                           struct.pack(f"{n}p", v))[0]
    with pytest.raises(ValueError):
        F("4p").pack(b"abcd")  # struct truncates to b"abc"
    # a length byte beyond the room is clamped, as struct does
    assert F("3p").unpack(b"\x09ab") == struct.unpack("3p", b"\x09ab")[0] == b"ab"


def test_chars():
    with pytest.raises(TypeError):  # struct and memoryview want bytes, not bytearray
        F("c").pack(bytearray(b"z"))
    with pytest.raises(ValueError):
        F("c").pack(b"")
    with pytest.raises(TypeError):
        F("c").pack(65)


def test_bit_fields_share_bytes():
    f = F("T{3t:a:5t:b:}")
    assert f.pack((5, 17)) == bytes([5 | 17 << 3])
    assert f.unpack(bytes([0xFF])) == (7, 31)
    with pytest.raises(ValueError):
        f.pack((8, 0))
    with pytest.raises(ValueError):
        f.pack((-1, 0))
    with pytest.raises(TypeError):
        f.pack((1.0, 0))


@given(st.integers(65, 200), st.integers(0, 7), st.data())
def test_wide_bit_fields(width, skip, data):
    """Wider than the codec's 64 bits: read in slices, as an int."""
    f = F(f"{skip}t{width}t")  # '0t' is an empty field, still a field
    value = data.draw(st.integers(0, 2 ** width - 1))
    packed = f.pack((0, value))
    assert len(packed) == (skip + width + 7) // 8
    assert int.from_bytes(packed, "little") == value << skip
    assert f.unpack(packed) == (0, value)
    with pytest.raises(ValueError):
        f.pack((0, 2 ** width))


def test_pointers_are_addresses_as_memoryview_stores_them():
    """memoryview (PyLong_AsVoidPtr) stores 'P' = -1 as 2**64-1, and so does
    xbuf; the value unpacks as the unsigned address."""
    assert F("P").unpack(F("P").pack(-1)) == 2 ** (8 * struct.calcsize("P")) - 1
    with pytest.raises(ValueError):
        F("P").pack(-2 ** 63 - 1)
    with pytest.raises(ValueError):
        F("&d").pack(2 ** 64)
    with pytest.raises(TypeError):  # an address is an int, as memoryview wants it
        F("P").pack(Index(8))
    assert F("X{i->d}").unpack(F("X{i->d}").pack(2 ** 63)) == 2 ** 63


def test_objects_unpack_to_the_object_and_cannot_be_packed():
    """'O' holds a PyObject *: reading one gives the object (a new
    reference), None for NULL -- from an exporter that holds objects (a
    NumPy object array), never from bytes, where an address is no reference
    and arbitrary bytes would crash.  Writing one from Python would take no
    reference, so it is refused -- except writing back the object already
    there, which changes nothing."""
    import numpy as np
    target = object()
    objects = np.array([target, None], dtype=object)
    view = xbuf.View(objects)
    assert view[0] is target and view[1] is None
    with pytest.raises(TypeError, match="cannot read Python objects"):
        F("O").unpack(struct.pack("P", id(target)))
    with pytest.raises(TypeError, match="reference counting"):
        F("O").pack(target)
    assert F("O").pack(None) == bytes(struct.calcsize("P"))  # NULL stays NULL
    assert F("T{i:n:O:o:}").pack((1, None))[:4] == struct.pack("i", 1)
    refs = sys.getrefcount(target)
    values = [view[0] for _ in range(10)]
    assert sys.getrefcount(target) == refs + 10
    del values
    assert sys.getrefcount(target) == refs


def test_bool_takes_any_truth_value():
    assert F("?").pack([]) == b"\0" and F("?").pack("x") == b"\1"
    assert F("?").unpack(b"\x02") is True
    with pytest.raises(RuntimeError):
        F("?").pack(Raises())


def test_named_void_fields_are_bytes():
    f = F("<b3x:v:")
    assert f.pack((1, b"ab")) == b"\x01ab\0"
    assert f.unpack(b"\x01xyz") == (1, b"xyz")


def test_formats_survive_pickle_with_their_values():
    f = F("T{<i:a:(2)>h:b:}")
    g = pickle.loads(pickle.dumps(f))
    assert g.pack((1, [2, 3])) == f.pack((1, [2, 3]))


# =============================================================================
# 6. errors
# =============================================================================

@pytest.mark.parametrize("text, value, exc, message", [
    ("B", -1, ValueError, "Format.pack: invalid value for format '@B'"),
    ("B", 1.0, TypeError, "Format.pack: invalid type for format '@B'"),
    ("<q", 2 ** 63, ValueError, "Format.pack: invalid value for format '<q'"),
    ("T{ii}", (1,), ValueError,
     "Format.pack: invalid value for format '@T{ii}': expected a sequence of 2 values, got 1"),
    ("T{ii}", 5, TypeError, "expected a sequence of 2 values, not 'int'"),
    ("(2)i", "ab", TypeError, "not 'str'"),
    ("(2,2)i", [[1, 2], [3]], ValueError, "expected a sequence of 2 values, got 1"),
    ("(2,2)i", [[1, 2], 3], TypeError, "expected a sequence of 2 values, not 'int'"),
    ("T{i:a:T{h:b:}:s:}", (1, (2, 3)), ValueError, "got 2"),
    ("T{i:a:T{h:b:}:s:}", (1, ("x",)), TypeError, "invalid type"),
])
def test_error_types_and_messages(text, value, exc, message):
    with pytest.raises(exc) as info:
        F(text).pack(value)
    assert message in str(info.value)


def test_scalar_messages_are_memoryviews():
    for code, value in [("B", -1), ("i", "x"), ("c", b"ab"), ("d", "x")]:
        try:
            memoryview(bytearray(8)).cast(code)[0] = value
        except (TypeError, ValueError) as exc:
            expected = str(exc).replace("memoryview", "Format.pack").replace(
                f"'{code}'", f"'@{code}'")
        with pytest.raises((TypeError, ValueError)) as info:
            F(code).pack(value)
        assert str(info.value) == expected


def test_sequences_accept_any_sequence_but_not_iterators():
    f = F("(3)B")
    assert f.pack(range(3)) == b"\0\1\2"
    assert f.pack(b"abc") == b"abc"  # bytes are a sequence of ints
    with pytest.raises(TypeError):
        f.pack(iter([1, 2, 3]))
