"""A restricted unpickler for dataset files (docs/design.md §6: no file the program reads runs
code).

A pickle can name any importable callable and have it called while loading (``__reduce__``), so
``pickle.load`` on a downloaded file runs whatever the file says. Dataset pickles (CIFAR batches,
``mnist.pkl.gz``) only need NumPy arrays, dtypes and scalars inside plain containers, which the
pickle opcodes build without globals except for these few; every other global is refused:

==========================================  ===============================================
global                                       why a dataset pickle names it
==========================================  ===============================================
``numpy.ndarray``, ``numpy.dtype``           the array and its element type
``numpy[._]core.multiarray._reconstruct``    allocates the array that ``__setstate__`` fills
``numpy[._]core.multiarray.scalar``          a NumPy scalar (e.g. ``np.float32(1.5)``)
``numpy[._]core.numeric._frombuffer``        an array under pickle protocol 5
``_codecs.encode`` (latin1 only)             ``bytes`` under protocols 0-2 (Python 3 writers)
``builtins.bytes`` (no arguments)            ``b""`` under protocols 0-2
==========================================  ===============================================

``numpy.core`` is the module name NumPy 1 writes (Python 2's pickles included), ``numpy._core``
the one NumPy 2 writes; both resolve to the installed NumPy's functions.
"""

from __future__ import annotations

import _compat_pickle
import os
import pickle
from typing import IO, Any

import numpy as np

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # NumPy 1
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global outside the allow-list; ``name`` is ``module.qualname``."""

    def __init__(self, name: str, detail: str = ""):
        super().__init__(
            f"refused to unpickle global {name}{detail}: dataset pickles may hold only NumPy "
            "arrays, dtypes and scalars in plain containers (any other global could run code)"
        )
        self.name = name


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it for bytes; only the latin1 codec is run."""
    if not isinstance(text, str) or not isinstance(encoding, str) \
            or encoding.replace("-", "").lower() != "latin1":
        raise RefusedGlobal("_codecs.encode", f" with encoding {encoding!r} (only latin1, how "
                            "pickle writes bytes, is admitted)")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    """``bytes()`` as protocols 0-2 write ``b""``; with arguments it is refused."""
    if args:
        raise RefusedGlobal("builtins.bytes", " with arguments")
    return b""


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _multiarray._reconstruct
       for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): _multiarray.scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _numeric._frombuffer
       for core in ("core", "_core")},
    ("_codecs", "encode"): _latin1_encode,
    ("builtins", "bytes"): _empty_bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` admits only the globals in the module docstring."""

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (__builtin__, copy_reg, ...) as the default find_class maps them
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None


def load_pickle(file: IO[bytes], path: str | os.PathLike, *, encoding: str = "ASCII",
                what: str = "pickle") -> Any:
    """Unpickle ``file`` with `RestrictedUnpickler`; ``path`` and ``what`` name it in errors.

    ``encoding`` decodes Python 2 ``str`` objects ("latin1" for NumPy data, "bytes" to keep them
    as bytes). A refused global is a ValueError naming the file and the global; any other
    failure is a ValueError saying the file is not a readable ``what``.
    """
    try:
        return RestrictedUnpickler(file, encoding=encoding).load()
    except RefusedGlobal as exc:
        raise ValueError(f"{path}: {exc}") from None
    except Exception as exc:  # truncated or corrupt: any failure means "not this format"
        raise ValueError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from exc
