"""xbuf: the extended buffer protocol (PEP 3118) for Python.

``xbuf.View`` is a drop-in superset of ``memoryview``: everything memoryview
does, plus N-d slicing, every PEP 3118 format (records, non-native byte
orders, strings, complex numbers), field views, transposes and casts of
strided views.  ``xbuf.Format`` parses and describes formats,
``xbuf.Exporter`` is a reference exporter for tests, and ``xbuf.check``
tells whether any object exports its buffer by the rules.

All algorithms live in the C library libxbuf; this package is glue.
"""

from ._xbuf import (Exporter, Format, View, calcsize, check, from_arrow, from_dlpack,
                    library_version, to_arrow)

__all__ = ["View", "Format", "Exporter", "calcsize", "check", "from_dlpack", "from_arrow",
           "to_arrow", "library_version"]
__version__ = library_version
