"""One buffer, exported once by a C library, read by NumPy, PyTorch and
pyarrow without a copy.

The C library is examples/samples.c: a growable buffer of 16-bit audio
samples that knows nothing of Python and refuses to grow while views of it
are held.  examples/samples_module.c hands it to Python (the buffer
protocol's two slots, on top of the library's own exporter).  xbuf.View
does the rest:

    NumPy     numpy.asarray(view)      the buffer protocol
    PyTorch   torch.from_dlpack(view)  DLPack
    pyarrow   pyarrow.array(view)      the Arrow C data interface

Run by `make demo` (build/examples must be on PYTHONPATH for the module).
"""
import sys

import numpy
import pyarrow
import torch

import xbuf
import xbuf_example_samples


def address(obj):
    """Where the first sample lives, as each package reports it."""
    if isinstance(obj, numpy.ndarray):
        return obj.ctypes.data
    if isinstance(obj, torch.Tensor):
        return obj.data_ptr()
    if isinstance(obj, pyarrow.Array):
        return obj.buffers()[1].address
    return obj.__array_interface__["data"][0]


def main():
    samples = xbuf_example_samples.Samples()
    samples.append([round(1000 * (i % 50 - 25) / 25) for i in range(1000)])
    view = xbuf.View(samples)
    print(f"C exporter: {len(view)} samples, format {view.format!r}, "
          f"at {address(view):#x}")

    consumers = {
        "numpy.asarray(view)": numpy.asarray(view),
        "torch.from_dlpack(view)": torch.from_dlpack(view),
        "pyarrow.array(view)": pyarrow.array(view),
    }
    for name, obj in consumers.items():
        same = address(obj) == address(view)
        print(f"  {name:<26} {type(obj).__name__:<11} "
              f"at {address(obj):#x}  {'same memory, no copy' if same else 'A COPY'}")
        if not same:
            sys.exit(f"{name} copied the samples")
    del obj

    # A write through one is seen by all: it is one piece of memory.
    consumers["torch.from_dlpack(view)"][0] = 1234
    seen = [int(consumers["numpy.asarray(view)"][0]),
            consumers["pyarrow.array(view)"][0].as_py(), view[0]]
    print(f"  torch writes sample 0 = 1234; NumPy, pyarrow and the View read {seen}")

    # The library's rule holds across all of them: no growing while views live.
    try:
        samples.append([0])
        sys.exit("the buffer grew under its views")
    except BufferError as e:
        print(f"  samples.append() while they hold it ({samples.exports} export of the C "
              f"buffer, shared by the View and all three): BufferError: {e}")
    consumers.clear()
    view.release()
    samples.append([0])
    print(f"  after every consumer let go: append() works, {len(xbuf.View(samples))} samples")


if __name__ == "__main__":
    main()
