"""XBUF_* request flags against CPython's PyBUF_* (the oracle).

DESIGN.md: request flags have the same names (XBUF_ prefix) and the same
numeric values as CPython's PyBUF_*, so the Python glue passes them through
unchanged.  The xbuf values are read from include/xbuf/protocol.h by
evaluating its #defines; CPython's from inspect.BufferFlags (3.12+) and from
the installed Include/pybuffer.h (the only source on 3.11, and the only one
for PyBUF_MAX_NDIM).  xbuf_flags_check is then held to the request grammar
those values imply.
"""

import ctypes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xbuf_ctypes as X

XBUF = X.parse_defines(X.PROTOCOL_H, "XBUF_")
CPY = X.cpython_constants() or {}
HEADER = X.cpython_header_constants()
RUNTIME = X.cpython_bufferflags()


def test_protocol_h_defines_every_flag():
    missing = [n for n in X.CONSTANT_NAMES if n not in XBUF]
    assert missing == [], f"protocol.h lacks (or defines unparsably) XBUF_{missing}"


def memoryview_max_ndim():
    """The largest ndim memoryview.cast accepts: PyBUF_MAX_NDIM at run time."""
    m = memoryview(b"x")
    n = 1
    while n < 1024:
        try:
            m.cast("B", [1] * (n + 1))
        except ValueError:
            return n
        n += 1
    raise AssertionError("memoryview.cast accepted 1024 dimensions")


def cpython_sources():
    """Every available CPython oracle, as (description, {NAME: value})."""
    sources = []
    if HEADER is not None:
        sources.append((str(X.python_pybuffer_h()), HEADER))
    if RUNTIME is not None:
        sources.append(("inspect.BufferFlags", RUNTIME))
    sources.append(("memoryview.cast limit", {"MAX_NDIM": memoryview_max_ndim()}))
    return sources


@pytest.mark.parametrize("name", X.CONSTANT_NAMES)
def test_value_equals_cpython(name):
    """Compared with every CPython source that defines the name: the header,
    inspect.BufferFlags (3.12+) and, for MAX_NDIM, memoryview's own limit."""
    checked = []
    for where, values in cpython_sources():
        if name in values:
            assert XBUF[name] == values[name], (
                f"XBUF_{name} = {XBUF[name]:#x}, but PyBUF_{name} = {values[name]:#x} "
                f"according to {where}")
            checked.append(where)
    assert checked, (f"no CPython oracle defines PyBUF_{name}: inspect.BufferFlags needs "
                     f"Python 3.12+ and {X.python_pybuffer_h()} does not exist")


def test_max_ndim_equals_memoryview_limit():
    """PyBUF_MAX_NDIM observed at run time: memoryview.cast accepts exactly
    that many dimensions and no more."""
    m = memoryview(b"x")
    ok = m.cast("B", [1] * XBUF["MAX_NDIM"])
    assert ok.ndim == XBUF["MAX_NDIM"]
    with pytest.raises(ValueError, match=str(XBUF["MAX_NDIM"])):
        m.cast("B", [1] * (XBUF["MAX_NDIM"] + 1))


def test_flags_all_is_the_union_of_cpython_request_flags(cpython_constants):
    union = 0
    for name in X.FLAG_NAMES:
        union |= cpython_constants[name]
    assert XBUF["FLAGS_ALL"] == union == 0x1FD


def test_composites_are_the_documented_unions():
    """The composite flags spelled out, so that a typo in protocol.h shows up
    with a readable diff even if the oracle were unavailable."""
    assert XBUF["STRIDES"] == XBUF["ND"] | 0x10
    assert XBUF["CONTIG"] == XBUF["ND"] | XBUF["WRITABLE"]
    assert XBUF["STRIDED_RO"] == XBUF["STRIDES"]
    assert XBUF["RECORDS"] == XBUF["STRIDES"] | XBUF["WRITABLE"] | XBUF["FORMAT"]
    assert XBUF["FULL"] == XBUF["INDIRECT"] | XBUF["WRITABLE"] | XBUF["FORMAT"]
    assert XBUF["FULL_RO"] == XBUF["INDIRECT"] | XBUF["FORMAT"]


# ---- xbuf_flags_check ------------------------------------------------------


def flags_check(xb, flags):
    err = X.XbufError()
    xb.xbuf_error_clear(ctypes.byref(err))
    rc = xb.xbuf_flags_check(flags, ctypes.byref(err))
    return rc, err


@pytest.mark.parametrize("name", X.FLAG_NAMES)
def test_flags_check_accepts_every_standard_flag(xb, name, cpython_constants):
    rc, err = flags_check(xb, cpython_constants[name])
    assert rc == X.XBUF_OK, err.text()
    # A successful call leaves *err untouched.
    assert (err.code, err.position, err.text()) == (0, -1, "")


def test_flags_check_accepts_exactly_the_well_formed_requests(xb, cpython_constants):
    """Exhaustive over the low 12 bits: accepted iff well formed by CPython's
    flag values (no unknown bit; each flag's own bit with all it implies)."""
    for flags in range(1 << 12):
        rc, err = flags_check(xb, flags)
        if X.request_is_valid(flags, cpython_constants):
            assert rc == X.XBUF_OK, (hex(flags), err.text())
        else:
            assert rc == X.XBUF_EINVAL, hex(flags)
            assert err.code == X.XBUF_EINVAL and err.text(), hex(flags)


def test_valid_request_list_is_the_expected_size(cpython_constants):
    """72 = 4 (WRITABLE x FORMAT) * 18 (nothing; ND; STRIDES with any subset of
    C/F/ANY/INDIRECT).  Guards the grammar the other tests derive from."""
    valid = X.valid_requests(cpython_constants)
    assert len(valid) == 72
    for name in X.FLAG_NAMES:
        assert cpython_constants[name] in valid, name


UNKNOWN_BITS = [b for b in range(32) if not (1 << b) & XBUF["FLAGS_ALL"]]


def test_unknown_bits_are_those_cpython_never_uses():
    assert UNKNOWN_BITS == [1] + list(range(9, 32))


@pytest.mark.parametrize("bit", UNKNOWN_BITS)
def test_flags_check_rejects_unknown_bits(xb, bit, cpython_constants):
    flag = ctypes.c_int(1 << bit).value  # bit 31 is INT_MIN
    for base in (cpython_constants["SIMPLE"], cpython_constants["FULL"],
                 cpython_constants["C_CONTIGUOUS"]):
        rc, err = flags_check(xb, base | flag)
        assert rc == X.XBUF_EINVAL, hex(base | flag)
        assert "unknown" in err.text(), err.text()


def test_read_write_are_not_request_flags(xb, cpython_constants):
    """PyBUF_READ/PyBUF_WRITE are PyMemoryView_FromMemory arguments, not
    requests: READ (0x100) is INDIRECT's bit without STRIDES, WRITE (0x200)
    an unknown bit.  Both must be refused."""
    assert flags_check(xb, cpython_constants["READ"])[0] == X.XBUF_EINVAL
    assert flags_check(xb, cpython_constants["WRITE"])[0] == X.XBUF_EINVAL


@settings(max_examples=300)
@given(st.integers(-(2 ** 31), 2 ** 31 - 1))
def test_flags_check_random_ints(xb, cpython_constants, flags):
    rc, _ = flags_check(xb, flags)
    valid = X.request_is_valid(flags & 0xFFFFFFFF, cpython_constants)
    expected = X.XBUF_OK if valid else X.XBUF_EINVAL
    assert rc == expected, hex(flags)


def test_flags_check_null_error_is_safe(xb):
    assert xb.xbuf_flags_check(0x20, None) == X.XBUF_EINVAL
    assert xb.xbuf_flags_check(XBUF["FULL"], None) == X.XBUF_OK
