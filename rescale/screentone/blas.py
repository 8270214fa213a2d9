"""numpy's BLAS kept on one thread for a block of code (OpenBLAS, as numpy's wheels ship it).

The tile spectra's sums are one small matrix product per batch (:func:`rescale.screentone.tiles.
tile_features`: 512 x 2112 by 2112 x 14). OpenBLAS splits it over its own threads, and each of
them then spins a while (its thread timeout) waiting for the next call: on the cores this
package's own threads need. On the 2-core development machine that was 0.35-0.5 CPU s of a manga
page's 2.7-2.9 s of analysis. OpenBLAS splits a product by rows and columns, never along the sums,
so one thread gives the same bits.

OpenBLAS's thread count is the process's (its ``openblas_set_num_threads_local`` sets it too, in a
pthreads build): while any block of :func:`one_blas_thread` runs, every BLAS call of the process
runs on one thread; the count is restored when the last block ends. Without OpenBLAS (another
BLAS, or none found) it changes nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
from pathlib import Path

import numpy as np

__all__ = ["blas_threads", "one_blas_thread"]

# The getter and setter of each OpenBLAS build numpy ships or links (symbols as they are exported).
_NAMES = [
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
]


@functools.lru_cache(maxsize=1)
def _openblas() -> tuple | None:
    """``(get, set)`` of the OpenBLAS numpy loaded (its wheels' ``numpy.libs`` or ``numpy/.dylibs``),
    or ``None``."""
    root = Path(np.__file__).resolve().parent
    for lib in sorted([*root.parent.glob("numpy.libs/*openblas*"), *root.glob(".dylibs/*openblas*")]):
        try:
            handle = ctypes.CDLL(str(lib))  # the library already loaded: the same handle
        except OSError:
            continue
        for get_name, set_name in _NAMES:
            if hasattr(handle, get_name) and hasattr(handle, set_name):
                get, put = getattr(handle, get_name), getattr(handle, set_name)
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return None


def blas_threads() -> int | None:
    """The threads numpy's OpenBLAS runs a call on now (``None`` without OpenBLAS)."""
    lib = _openblas()
    return None if lib is None else int(lib[0]())


_lock = threading.Lock()
_open = 0  # blocks running now, in any thread
_before: int | None = None  # the count to restore when the last one ends


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with numpy's OpenBLAS on one thread (see the module's docstring); blocks may
    nest and run in several threads at once.

    Example:
        >>> with one_blas_thread():
        ...     blas_threads() in (1, None)
        True
    """
    global _open, _before
    lib = _openblas()
    if lib is None:
        yield
        return
    with _lock:
        if _open == 0:
            _before = int(lib[0]())
            if _before != 1:
                lib[1](1)
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0 and _before != 1:
                lib[1](_before)
