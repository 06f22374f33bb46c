"""Reader for SVHN's cropped digits (Netzer et al. 2011, format 2): ``train_32x32.mat`` and
``test_32x32.mat``, MATLAB files read with `scipy.io.loadmat` (no code runs on loading).

Each holds ``X``, uint8 ``[32, 32, 3, N]`` (row, column, RGB channel, image), and ``y``, ``[N, 1]``
labels 1..10 where 10 is the digit 0. Images come back channel-first, ``[N, 3, 32, 32]``, the
layout of CIFAR, and labels as digits 0..9. The optional ``extra_32x32.mat`` is not read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SVHN_FILES: tuple[str, ...] = ("train_32x32.mat", "test_32x32.mat")
IMAGE_SHAPE: tuple[int, int, int] = (3, 32, 32)
NUM_CLASSES = 10


def read_svhn_mat(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One ``.mat`` file -> (uint8 ``[N, 3, 32, 32]``, int64 digits ``[N]``), layout checked."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path, variable_names=("X", "y"))
    except Exception as exc:  # scipy raises several types for a file that is not MATLAB v5
        raise ValueError(
            f"{path}: not a readable SVHN .mat file ({type(exc).__name__}: {exc})"
        ) from exc
    for key in ("X", "y"):
        if key not in mat:
            raise ValueError(f"{path}: no variable {key!r}; an SVHN file holds X and y")
    x, y = mat["X"], np.asarray(mat["y"])
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise ValueError(
            f"{path}: X must be uint8 of shape [32, 32, 3, N], got {x.dtype} {list(x.shape)}"
        )
    n = x.shape[3]
    if y.size != n or y.ndim > 2 or not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{path}: y must hold {n} labels, one per image, got {y.dtype} "
                         f"{list(y.shape)}")
    labels = y.reshape(n).astype(np.int64)
    if n and (labels.min() < 1 or labels.max() > NUM_CLASSES):
        bad = labels[(labels < 1) | (labels > NUM_CLASSES)][0]
        raise ValueError(f"{path}: label {bad} out of range; accepted 1..10 (10 is the digit 0)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels % NUM_CLASSES


def svhn_dir(directory: str | os.PathLike) -> Path | None:
    """``directory`` if it holds both ``train_32x32.mat`` and ``test_32x32.mat``."""
    directory = Path(directory)
    return directory if all((directory / n).is_file() for n in SVHN_FILES) else None


def read_svhn(
    directory: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the train and test files: (train_x, train_y, test_x, test_y)."""
    found = svhn_dir(directory)
    if found is None:
        raise FileNotFoundError(f"{directory}: needs {', '.join(SVHN_FILES)}")
    (train_x, train_y), (test_x, test_y) = (read_svhn_mat(found / n) for n in SVHN_FILES)
    return train_x, train_y, test_x, test_y
