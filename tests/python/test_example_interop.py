"""examples/interop.py, run as `make demo` runs it: one C buffer reaches
NumPy, PyTorch and pyarrow at the same address, and the C library's rule
(no growing while views are held) holds across all of them."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_interop_example_shares_one_buffer():
    build = Path(os.environ.get("XBUF_BUILD", ROOT / "build"))
    env = dict(os.environ, PYTHONPATH=str(build / "examples"))
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "interop.py")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.count("same memory, no copy") == 3, out
    assert "read [1234, 1234, 1234]" in out
    assert "BufferError: cannot resize" in out
    assert "append() works, 1001 samples" in out
