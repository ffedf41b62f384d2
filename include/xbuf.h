/*
 * xbuf.h -- the extended buffer protocol (PEP 3118) as a C11 library.
 *
 * Include this one header.  It is grouped by layer; each part is the manual
 * for its functions (ownership, NULL, errors):
 *
 *   xbuf/base.h      version, errors, the allocator
 *   xbuf/protocol.h  layer 1: views, request flags, exporters, export
 *                    accounting, layout utilities
 *   xbuf/format.h    layer 2: the PEP 3118 format language -- parser,
 *                    layout, printer, comparison, leaf walker, scalar codec
 *   xbuf/copy.h      layer 3: copying, converting and comparing the items
 *                    of views (strided, indirect, overlapping)
 *   xbuf/mview.h     layer 4: the view object -- slicing, indexing, fields,
 *                    casts, permutations, re-export and release
 *   xbuf/conformance.h  the conformance checker for any exporter
 *   xbuf/dlpack.h    layer 5: views to and from DLPack managed tensors
 *   xbuf/arrow.h     layer 5: views to and from the Arrow C data interface
 *   xbuf/numpy.h     layer 5: formats as NumPy's array interface describes them
 */
#ifndef XBUF_H
#define XBUF_H

#include "xbuf/base.h"
#include "xbuf/protocol.h"
#include "xbuf/format.h"
#include "xbuf/copy.h"
#include "xbuf/mview.h"
#include "xbuf/conformance.h"
#include "xbuf/dlpack.h"
#include "xbuf/arrow.h"
#include "xbuf/numpy.h"

#endif /* XBUF_H */
