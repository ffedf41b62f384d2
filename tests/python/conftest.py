"""Shared fixtures for the ctypes-based Python tests of libxbuf.

The library is located by xbuf_ctypes.library_path(): $XBUF_LIB if set,
else build/src/libxbuf.so under the repository root.  A missing library is a
test failure with a message saying how to build it -- never a skip, so a CI
job that forgot to build cannot pass vacuously.
"""

import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xbuf_ctypes as X  # noqa: E402

settings.register_profile("xbuf", deadline=None, print_blob=True)
settings.load_profile("xbuf")


@pytest.fixture(scope="session")
def xb():
    """The loaded libxbuf (ctypes.CDLL with signatures declared)."""
    try:
        return X.load()
    except (X.LibraryNotFound, OSError) as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def cpython_constants():
    """The oracle: CPython's PyBUF_* values, by name without the prefix.

    inspect.BufferFlags where it exists, completed (MAX_NDIM) by the installed
    pybuffer.h; on 3.11 the header alone.  Fails when neither is available.
    """
    merged = X.cpython_constants()
    if merged is None:
        pytest.fail(f"no oracle for CPython's PyBUF_* values: inspect.BufferFlags needs "
                    f"Python 3.12+ and {X.python_pybuffer_h()} does not exist (install the "
                    f"Python development headers)", pytrace=False)
    return merged
