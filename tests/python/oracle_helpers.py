"""What the oracle tests share: hypothesis strategies for NumPy record
dtypes (NumPy is the oracle for records), and exact comparison of values."""
import math

import numpy as np
from hypothesis import strategies as st

NP_ORDERED = "hHiIlLqQefdFD"    # take a byte order of their own
NP_NATIVE_ONLY = "gG"           # NumPy refuses to export these non-native
NP_PLAIN = "bB?"
NP_NAMES = ["a", "b", "c", "x", "y", "z", "val", "f0", "f1", "rgb", "n_2"]
NP_SHAPES = [None] * 5 + [(2,), (3,), (1,), (0,), (2, 3), (2, 1, 2)]


@st.composite
def np_leaves(draw):
    """A NumPy scalar dtype: any byte order, strings of 1 to 5 units."""
    code = draw(st.sampled_from(NP_ORDERED + NP_NATIVE_ONLY + NP_PLAIN + "SUV"))
    order = ""
    if code in NP_ORDERED or code == "U":
        order = draw(st.sampled_from("<>="))
    if code in "SUV":
        code += str(draw(st.integers(1, 5)))
    return np.dtype(order + code)


@st.composite
def np_structs(draw, depth=0):
    """A NumPy record dtype, aligned or packed, nested up to two levels,
    with sub-array members."""
    names = draw(st.lists(st.sampled_from(NP_NAMES), min_size=1, max_size=4, unique=True))
    fields = []
    for name in names:
        nested = depth < 2 and draw(st.integers(0, 3)) == 0
        base = draw(np_structs(depth + 1)) if nested else draw(np_leaves())
        shape = draw(st.sampled_from(NP_SHAPES))
        fields.append((name, base) if shape is None else (name, base, shape))
    return np.dtype(fields, align=draw(st.booleans()))


def same(a, b):
    """Equal values of the same types, containers element by element; NaN
    equals NaN (also inside complex), and -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
