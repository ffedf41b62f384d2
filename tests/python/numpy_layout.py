"""NumPy's view of a record layout, in the terms xbuf's leaf walker uses."""
import numpy as np


def np_leaf_list(dt: np.dtype, path="", offset=0):
    """[(path, offset, dtype)] of every leaf of one item, paths written as
    xbuf_type_walk writes them ("b[1].x")."""
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        out = []
        for k, index in enumerate(np.ndindex(*shape)):
            out += np_leaf_list(base, path + "".join(f"[{i}]" for i in index),
                                offset + k * base.itemsize)
        return out
    if dt.names is not None:
        out = []
        for name in dt.names:
            sub, at = dt.fields[name][:2]
            out += np_leaf_list(sub, f"{path}.{name}" if path else name, offset + at)
        return out
    return [(path, offset, dt)]


def np_leaf_sizes(dt: np.dtype):
    """[(path, offset, itemsize)] of every leaf of one item."""
    return [(p, o, d.itemsize) for p, o, d in np_leaf_list(dt)]
